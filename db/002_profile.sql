-- wxauth schema: profiles and open data (issue 3).

-- The same encryptedData is accepted once. One row per blob accepted: its
-- keyed BLAKE2b hash (keyed with a key derived from the data key, over the
-- appid and the blob), never the data itself. A row can go once the blob's
-- watermark would be refused as too old anyway (watermark_max_age).
CREATE TABLE open_data_seen (
	hash          bytea PRIMARY KEY,
	seen_at       timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX open_data_seen_at ON open_data_seen (seen_at);

-- When a worker last forced a new app access token (force_refresh): WeChat
-- allows that 20 times a day, 30 s apart, per app, so every worker and host
-- looks here before forcing another.
ALTER TABLE wechat_tokens ADD COLUMN forced_at timestamptz;
