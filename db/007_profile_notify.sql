-- 007_profile_notify.sql (issue 10): every change to what GET /v1/userinfo
-- shows NOTIFYs wxauth_profile with the user's id, so that each worker can
-- keep the answers it has given (app/pcache.c) and drop one when it changes.
-- Triggers rather than a NOTIFY in each statement: every writer is covered,
-- the ones still to come and psql included.
--
-- A new account of a user made in the same transaction (a new person's
-- first login) notifies nothing: nobody can have read that user yet. Every
-- UPDATE of users sets updated_at, so a user row this transaction changed
-- has been notified by its first change.

CREATE FUNCTION wxauth_profile_notify() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
	IF TG_TABLE_NAME = 'users' THEN
		PERFORM pg_notify('wxauth_profile', OLD.id::text);
		RETURN NULL;
	END IF;
	IF TG_OP = 'INSERT' THEN
		-- The user's row written by this transaction: made by it (nobody
		-- can have read it), or changed by it (users_profile_update has
		-- told already).
		IF NOT EXISTS (SELECT 1 FROM users
		    WHERE id = NEW.user_id AND xmin = pg_current_xact_id()::xid) THEN
			PERFORM pg_notify('wxauth_profile', NEW.user_id::text);
		END IF;
		RETURN NULL;
	END IF;
	PERFORM pg_notify('wxauth_profile', OLD.user_id::text);
	IF TG_OP = 'UPDATE' AND NEW.user_id <> OLD.user_id THEN
		PERFORM pg_notify('wxauth_profile', NEW.user_id::text);
	END IF;
	RETURN NULL;
END
$$;

CREATE TRIGGER users_profile_update AFTER UPDATE ON users FOR EACH ROW
	WHEN (OLD.* IS DISTINCT FROM NEW.*)
	EXECUTE FUNCTION wxauth_profile_notify();
CREATE TRIGGER users_profile_delete AFTER DELETE ON users FOR EACH ROW
	EXECUTE FUNCTION wxauth_profile_notify();
CREATE TRIGGER accounts_profile_insert AFTER INSERT ON accounts FOR EACH ROW
	EXECUTE FUNCTION wxauth_profile_notify();
-- The columns the answer shows (not session_key).
CREATE TRIGGER accounts_profile_update AFTER UPDATE ON accounts FOR EACH ROW
	WHEN ((OLD.appid, OLD.openid, OLD.user_id, OLD.unionid, OLD.first_login, OLD.last_login)
	    IS DISTINCT FROM (NEW.appid, NEW.openid, NEW.user_id, NEW.unionid, NEW.first_login,
	    NEW.last_login))
	EXECUTE FUNCTION wxauth_profile_notify();
CREATE TRIGGER accounts_profile_delete AFTER DELETE ON accounts FOR EACH ROW
	EXECUTE FUNCTION wxauth_profile_notify();
