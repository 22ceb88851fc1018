-- 009_avatars.sql (issue 25): avatars uploaded from a mini-program.
--
-- Since 2022 <button open-type="chooseAvatar"> gives a mini-program a
-- temporary local file, never a URL. POST /v1/avatar takes the file itself
-- (PNG, JPEG or WebP, at most 256 KiB), keeps it here, and points the
-- user's avatar_url at GET /v1/avatars/{id}, which serves it to anyone with
-- the URL (as WeChat's own avatar URLs are), cacheable for ever: a new
-- upload is a new id. One avatar a user: the previous one goes with the
-- upload that replaces it; a deletion erases it with the rest.
CREATE TABLE avatars (
	id            uuid PRIMARY KEY DEFAULT gen_random_uuid(),
	user_id       uuid NOT NULL REFERENCES users (id),
	content_type  text NOT NULL
	              CHECK (content_type IN ('image/png', 'image/jpeg', 'image/webp')),
	data          bytea NOT NULL CHECK (octet_length(data) BETWEEN 1 AND 262144),
	created_at    timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX avatars_user ON avatars (user_id);
