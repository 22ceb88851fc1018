-- 011_disable.sql (issue 27): a user disabled by the shop's staff: every
-- session ends at once (revoke_reason 'disabled', through the revocation
-- view every worker and host already keeps), logins and refreshes answer
-- 403 user_disabled, nothing is deleted; enabling restores login.
ALTER TABLE users ADD COLUMN disabled_at timestamptz;
