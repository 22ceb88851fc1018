-- 008_hints.sql (issue 22): a notification is a hint, never a fact.
--
-- Any role that may connect to the database may NOTIFY any channel and
-- LISTEN to any channel; no table privilege is needed. So no payload says
-- what changed: a worker told "something changed" reads what changed from
-- view_log through its own connection, from a cursor it keeps, and a forged
-- NOTIFY costs it one indexed read and changes nothing.
--
-- view_log is written by triggers on the tables themselves, so every writer
-- is covered (wxauth, `wxauth unmerge`, an operator's psql). Its cursor is a
-- transaction id, not a row id: rows are read again from the oldest
-- transaction that was still running at the last read (pg_snapshot_xmin),
-- so a row committed out of order is never skipped; applying a row twice
-- changes nothing. Rows older than the longest access-token lifetime (a
-- day) name nothing a live token could carry, and are pruned.

CREATE TABLE view_log (
	id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	xid           xid8 NOT NULL DEFAULT pg_current_xact_id(),
	at            timestamptz NOT NULL DEFAULT now(),
	-- s: session a ended; m: user a merged into b (b's unionid);
	-- u: that merge of a was undone
	kind          "char" NOT NULL CHECK (kind IN ('s', 'm', 'u')),
	a             uuid NOT NULL,
	b             uuid,
	unionid       text
);
CREATE INDEX view_log_xid ON view_log (xid);
CREATE INDEX view_log_at ON view_log (at);

CREATE FUNCTION wxauth_view_change() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
	IF TG_TABLE_NAME = 'sessions' THEN
		INSERT INTO view_log (kind, a) VALUES ('s', NEW.id);
	ELSIF TG_OP = 'INSERT' THEN
		INSERT INTO view_log (kind, a, b, unionid)
		VALUES ('m', NEW.from_user, NEW.into_user, NEW.unionid);
	ELSE
		INSERT INTO view_log (kind, a, b) VALUES ('u', NEW.from_user, NEW.into_user);
	END IF;
	PERFORM pg_notify('wxauth_view', '');
	RETURN NULL;
END
$$;

CREATE TRIGGER sessions_view AFTER UPDATE OF revoked_at ON sessions FOR EACH ROW
	WHEN (OLD.revoked_at IS NULL AND NEW.revoked_at IS NOT NULL)
	EXECUTE FUNCTION wxauth_view_change();
CREATE TRIGGER merges_view_insert AFTER INSERT ON merges FOR EACH ROW
	EXECUTE FUNCTION wxauth_view_change();
CREATE TRIGGER merges_view_undo AFTER UPDATE OF undone_at ON merges FOR EACH ROW
	WHEN (OLD.undone_at IS NULL AND NEW.undone_at IS NOT NULL)
	EXECUTE FUNCTION wxauth_view_change();

-- The userinfo cache's hint names a bucket of users, not a user: the last
-- three hex digits of the id (random in every UUID version we make), 0 to
-- 4095. A worker drops what it cached for that bucket; a LISTENer learns
-- twelve random bits, which name nobody.
CREATE FUNCTION wxauth_bucket(u uuid) RETURNS text
LANGUAGE sql IMMUTABLE AS $$ SELECT (('x' || right(u::text, 3))::bit(12)::int)::text $$;

CREATE OR REPLACE FUNCTION wxauth_profile_notify() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
	IF TG_TABLE_NAME = 'users' THEN
		PERFORM pg_notify('wxauth_profile', wxauth_bucket(OLD.id));
		RETURN NULL;
	END IF;
	IF TG_OP = 'INSERT' THEN
		IF NOT EXISTS (SELECT 1 FROM users
		    WHERE id = NEW.user_id AND xmin = pg_current_xact_id()::xid) THEN
			PERFORM pg_notify('wxauth_profile', wxauth_bucket(NEW.user_id));
		END IF;
		RETURN NULL;
	END IF;
	PERFORM pg_notify('wxauth_profile', wxauth_bucket(OLD.user_id));
	IF TG_OP = 'UPDATE' AND NEW.user_id <> OLD.user_id THEN
		PERFORM pg_notify('wxauth_profile', wxauth_bucket(NEW.user_id));
	END IF;
	RETURN NULL;
END
$$;

-- A web login's code is exchanged by the callback, in a URL: it is never a
-- credential anywhere else (POST /v1/login, /v1/link refuse it).
ALTER TABLE login_codes ADD COLUMN web boolean NOT NULL DEFAULT false;

-- A ticket is worth something only to the browser that started its web
-- login: the hash of the binding cookie set at authorize.
ALTER TABLE oauth_tickets ADD COLUMN bind_hash bytea;
