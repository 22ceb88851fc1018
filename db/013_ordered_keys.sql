-- 013_ordered_keys.sql (issue 28): the keys of new rows in time order.
--
-- A random UUID key sends every insert to a random page of its index, and
-- on a durable server the first change of each page after a checkpoint
-- writes the whole page to the WAL: with a year of users, a login's insert
-- into users' primary key and into every index on a user_id (accounts,
-- sessions, audit_log) was a full page each. A UUIDv7 (RFC 9562: the time
-- in milliseconds, then 74 random bits) puts a new user where the last one
-- went, on a page already written since the checkpoint. Sessions' ids are
-- UUIDv7 already (made by the workers, db_session.c).
--
-- What this shows: a user id now tells when the user was created, to the
-- millisecond (what its row's created_at says). Its last twelve
-- bits, which wxauth_bucket reads, stay random.

CREATE FUNCTION wxauth_uuid7() RETURNS uuid
LANGUAGE sql VOLATILE PARALLEL SAFE AS $$
	SELECT encode(set_bit(set_bit(overlay(uuid_send(gen_random_uuid())
	    PLACING substring(int8send(floor(extract(epoch FROM clock_timestamp()) * 1000)::bigint)
	    FROM 3) FROM 1 FOR 6), 52, 1), 53, 1), 'hex')::uuid
$$;

ALTER TABLE users ALTER COLUMN id SET DEFAULT wxauth_uuid7();
ALTER TABLE avatars ALTER COLUMN id SET DEFAULT wxauth_uuid7();

-- One index on a session's user, not two: GET /v1/sessions reads a user's
-- sessions through sessions_user and leaves the ended ones out (a user has
-- the sessions of the retention period, a handful), and every login wrote
-- an entry into both.
DROP INDEX IF EXISTS sessions_user_live;
