-- 016_login_lean.sql (issue 28): what PostgreSQL runs for a login, with
-- less of its own machinery around each statement.
--
-- A profile of the durable login row (perf, README "Performance") put a
-- third of PostgreSQL's CPU in PL/pgSQL and the executor's start and end
-- around small statements: wxauth_attach called three more functions
-- (each a query over a function scan, then its own query), answered with
-- one more query, and a new person's account fired a trigger whose
-- function ran one more query to learn that its user was new. The same
-- statements now run once each, with the same snapshots and locks:
--  * wxauth_attach runs what wxauth_account_lock, wxauth_account_seen and
--    wxauth_unionid_holder run (those stay, for the callers that run them
--    alone), and answers with its output columns (RETURN NEXT), no query;
--  * a new user's first account tells no cache about itself, as before,
--    without calling the trigger's function: wxauth_attach names the user
--    it made in a setting of the transaction (wxauth.made_user), and the
--    trigger's WHEN leaves that user's accounts out. Any other writer
--    (psql included) leaves the setting empty and fires the trigger as
--    before, which still checks the user row itself;
--  * the three foreign keys a login's own rows checked (sessions' user and
--    account, a login code's account) are gone: each was a query, a row
--    lock and its WAL record per login, and in alternating runs of the
--    bench PostgreSQL spent a tenth less CPU a login without them. They
--    guarded against nothing that can happen: users and accounts are never
--    deleted (a deletion blanks them in place, db_account.c), and those rows are
--    written only by the transaction that found or made that user and
--    account, or moves them to a live user (a merge). The identity's own
--    keys stay (an account's user, a merge's users);
--    test_login.py::test_every_session_and_code_names_its_user_and_account
--    checks the rest over everything the tests wrote.

CREATE OR REPLACE FUNCTION wxauth_attach(app text, oid text, uni text, sealed bytea,
    signup_closed boolean, want uuid)
RETURNS TABLE (o_account bigint, o_user uuid, o_unionid text, o_found boolean,
    o_created boolean, o_closed boolean)
LANGUAGE plpgsql VOLATILE AS $$
DECLARE
	made text;
BEGIN
	o_found := false;
	o_created := false;
	o_closed := false;
	-- wxauth_account_lock's statement.
	SELECT a.id, a.user_id, coalesce(u.unionid, '') INTO o_account, o_user, o_unionid
	    FROM accounts a JOIN users u ON u.id = a.user_id
	    WHERE a.appid = app AND a.openid = oid AND u.deleted_at IS NULL
	    FOR UPDATE OF a FOR NO KEY UPDATE OF u;
	IF FOUND THEN
		-- Its cache hint goes after the COMMIT (db.c, db_hint_after):
		-- named before the change, whose trigger's WHEN reads it.
		made := set_config('wxauth.hint_after', o_user::text, true);
		-- wxauth_account_seen's statement.
		UPDATE accounts SET session_key = coalesce(sealed, session_key),
		    session_key_at = CASE WHEN sealed IS NULL THEN session_key_at ELSE now() END,
		    last_login = now(), unionid = coalesce(uni, unionid) WHERE id = o_account;
		o_found := true;
		RETURN NEXT;
		RETURN;
	END IF;
	IF want IS NOT NULL THEN
		SELECT u.id, coalesce(u.unionid, '') INTO o_user, o_unionid FROM users u WHERE u.id = want;
		IF NOT FOUND THEN
			RETURN;
		END IF;
	ELSIF uni IS NOT NULL THEN
		-- wxauth_unionid_holder's statement.
		SELECT id INTO o_user FROM users WHERE unionid = uni AND merged_into IS NULL
		    AND deleted_at IS NULL FOR NO KEY UPDATE;
		o_unionid := uni;
	END IF;
	IF o_user IS NULL THEN
		IF signup_closed THEN
			o_account := NULL;
			o_unionid := NULL;
			o_closed := true;
			RETURN NEXT;
			RETURN;
		END IF;
		INSERT INTO users (unionid) VALUES (uni) RETURNING id INTO o_user;
		made := set_config('wxauth.made_user', o_user::text, true);
		o_unionid := coalesce(uni, '');
		o_created := true;
	END IF;
	INSERT INTO accounts (appid, openid, user_id, unionid, session_key, session_key_at)
	    VALUES (app, oid, o_user, uni, sealed, CASE WHEN sealed IS NULL THEN NULL ELSE now() END)
	    RETURNING id INTO o_account;
	RETURN NEXT;
END
$$;

DROP TRIGGER accounts_profile_insert ON accounts;
CREATE TRIGGER accounts_profile_insert AFTER INSERT ON accounts FOR EACH ROW
	WHEN (NEW.user_id::text IS DISTINCT FROM current_setting('wxauth.made_user', true))
	EXECUTE FUNCTION wxauth_profile_notify();

ALTER TABLE sessions DROP CONSTRAINT sessions_user_id_fkey;
ALTER TABLE sessions DROP CONSTRAINT sessions_account_id_fkey;
ALTER TABLE login_codes DROP CONSTRAINT login_codes_account_id_fkey;

-- A returning person's login changes the account's last login (and its
-- session_key): userinfo shows it, so every worker that cached the user's
-- answer must hear of it. Its trigger sent that hint inside the
-- transaction, and a NOTIFY holds PostgreSQL's lock on the notification
-- queue from before the COMMIT to after its WAL flush: every returning
-- login's commit waited for the last one's flush (Lock:object, a third of
-- the busy backends' time in the bench's returning-login row) and no two
-- shared a flush. wxauth_attach names the user in wxauth.hint_after, the
-- trigger leaves that user's accounts out (unless one moves to another
-- user), and the worker sends the same hint after the COMMIT, in the
-- same round trip, as a statement of its own (db.c, db_hint_after):
-- a transaction that writes nothing but its NOTIFY does not wait for a
-- flush. The hint comes after the change is visible, as before; if the
-- connection goes first, every worker that cached anything forgets it
-- when it reconnects, as before.
DROP TRIGGER accounts_profile_update ON accounts;
CREATE TRIGGER accounts_profile_update AFTER UPDATE ON accounts FOR EACH ROW
	WHEN ((OLD.appid, OLD.openid, OLD.user_id, OLD.unionid, OLD.first_login, OLD.last_login)
	    IS DISTINCT FROM (NEW.appid, NEW.openid, NEW.user_id, NEW.unionid, NEW.first_login,
	    NEW.last_login)
	    AND (OLD.user_id IS DISTINCT FROM NEW.user_id
	    OR NEW.user_id::text IS DISTINCT FROM current_setting('wxauth.hint_after', true)))
	EXECUTE FUNCTION wxauth_profile_notify();
