-- 006_fewer_writes.sql (issue 10): what each login writes, and what a
-- reconnect reads.
--
-- No statement looks accounts up by unionid (users hold it, and
-- users_unionid_live finds them): the index only cost every login a write.
DROP INDEX IF EXISTS accounts_unionid;

-- Each worker's (re)connect reloads the merges of the last access_ttl:
-- by time, not by reading every merge ever made.
CREATE INDEX merges_recent ON merges (at) WHERE undone_at IS NULL;
