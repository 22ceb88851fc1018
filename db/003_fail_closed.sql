-- wxauth schema: fail closed (issue 8).

-- A login code is a credential once: its row stays (the pruning keeps it
-- 10 minutes, longer than WeChat's 5-minute code life), and what the login
-- answered is kept with it, sealed under the data key, so that a client
-- retrying a lost answer within login_replay_window gets that very answer
-- (the same session and tokens) and anything later gets invalid_code.
-- A code /v1/link used has no answer: it is never honoured again.
ALTER TABLE login_codes ADD COLUMN answer bytea;

-- A refresh token presented again within refresh_reuse_grace gets the
-- answer its first presentation got (sealed), while the refresh token that
-- answer carries (next_hash) is still the session's current one.
ALTER TABLE refresh_used ADD COLUMN next_hash bytea;
ALTER TABLE refresh_used ADD COLUMN answer bytea;

-- Refused admin attempts: one audit row per source address per minute,
-- carrying the count, so that a loop of wrong keys cannot fill the table.
ALTER TABLE audit_log ADD COLUMN dedup text;
CREATE UNIQUE INDEX audit_log_dedup ON audit_log (dedup) WHERE dedup IS NOT NULL;
CREATE INDEX refresh_used_answer ON refresh_used (used_at) WHERE answer IS NOT NULL;
