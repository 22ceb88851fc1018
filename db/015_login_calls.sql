-- 015_login_calls.sql (issue 28): a login in fewer round trips.
--
-- A login was ten round trips between a worker and PostgreSQL, each a
-- switch and a few system calls on both sides: the code's lock, its
-- look-up, BEGIN, the account's look-up, the unionid holder's, the new
-- user, the new account, the session, COMMIT, the unlock. The worker now
-- pipelines BEGIN with the first statement and the unlock with COMMIT
-- (db.c), and the two functions below do in one call what took two and
-- four. The session's statement goes with COMMIT, so it refuses a
-- disabled user with an error (wxauth_disabled), not with no row. Each statement in them runs as it did when sent alone: a VOLATILE
-- PL/pgSQL function takes a new snapshot for each statement (READ
-- COMMITTED), so a statement that waited on a lock sees what committed
-- while it waited (test_account.py::test_deletion_racing_a_login). They
-- are PL/pgSQL, not SQL: PostgreSQL 15 plans a SQL function's statements
-- again at each call (one it cannot inline: these lock rows), and keeps a
-- PL/pgSQL function's plans for the session.

-- wxauth_code_take: the lock on a login code (key, from its hash), then
-- the row of the code stored under the first of hashes (hex) found, if
-- any: its age in seconds, its sealed answer (hex), whether it came from
-- a URL, and which hash (1 = the current one). The lock is the session's:
-- the caller lets it go (pg_advisory_unlock), also when this fails.
CREATE FUNCTION wxauth_code_take(k bigint, hashes text[])
RETURNS TABLE (o_age bigint, o_answer text, o_web boolean, o_which integer)
LANGUAGE plpgsql VOLATILE AS $$
BEGIN
	PERFORM pg_advisory_lock(k);
	FOR i IN 1 .. coalesce(array_length(hashes, 1), 0) LOOP
		RETURN QUERY SELECT floor(extract(epoch FROM clock_timestamp() - c.created_at))::bigint,
		    coalesce(encode(c.answer, 'hex'), ''), c.web, i
		    FROM login_codes c WHERE c.code_hash = decode(hashes[i], 'hex');
		IF FOUND THEN
			RETURN;
		END IF;
	END LOOP;
END
$$;

-- wxauth_account_lock: the account (app, openid) of a live user, locked
-- with its user, so that a deletion of the user either waits for this
-- transaction (and then erases what it made) or comes first (and the
-- account is not found: a deleted one's openid is gone).
CREATE FUNCTION wxauth_account_lock(app text, oid text)
RETURNS TABLE (o_account bigint, o_user uuid, o_unionid text)
LANGUAGE plpgsql VOLATILE AS $$
BEGIN
	RETURN QUERY SELECT a.id, a.user_id, coalesce(u.unionid, '') FROM accounts a
	    JOIN users u ON u.id = a.user_id
	    WHERE a.appid = app AND a.openid = oid AND u.deleted_at IS NULL
	    FOR UPDATE OF a FOR NO KEY UPDATE OF u;
END
$$;

-- wxauth_account_seen: the account was just proven: a new session_key
-- (when WeChat gave one), a unionid (when it said one).
CREATE FUNCTION wxauth_account_seen(acc bigint, sealed bytea, uni text)
RETURNS void LANGUAGE plpgsql VOLATILE AS $$
BEGIN
	UPDATE accounts SET session_key = coalesce(sealed, session_key),
	    session_key_at = CASE WHEN sealed IS NULL THEN session_key_at ELSE now() END,
	    last_login = now(), unionid = coalesce(uni, unionid) WHERE id = acc;
END
$$;

-- wxauth_unionid_holder: the live user holding a unionid, locked, so that
-- a new account never joins a user whose deletion commits first.
CREATE FUNCTION wxauth_unionid_holder(uni text) RETURNS SETOF uuid
LANGUAGE plpgsql VOLATILE AS $$
BEGIN
	RETURN QUERY SELECT id FROM users WHERE unionid = uni AND merged_into IS NULL
	    AND deleted_at IS NULL FOR NO KEY UPDATE;
END
$$;

-- wxauth_attach: the account (app, openid) made to exist and belong to a
-- user, as a login (want NULL) or a link to want finds it:
--  * an account that exists (wxauth_account_lock) takes the new
--    session_key and unionid; found is true. A link whose user differs
--    merges the two users after this call;
--  * a new account goes to want (a link; no row when want is no user),
--    else to the live user holding the unionid (locked), else to a new
--    user (created), which an app with closed signups refuses (closed,
--    and nothing written).
-- A concurrent first login of the same person makes the same unionid: the
-- unique index fails this call, and the transaction runs again.
CREATE FUNCTION wxauth_attach(app text, oid text, uni text, sealed bytea,
    signup_closed boolean, want uuid)
RETURNS TABLE (o_account bigint, o_user uuid, o_unionid text, o_found boolean,
    o_created boolean, o_closed boolean)
LANGUAGE plpgsql VOLATILE AS $$
DECLARE
	acc bigint;
	uid uuid;
	holds text;
	made boolean := false;
BEGIN
	SELECT l.o_account, l.o_user, l.o_unionid INTO acc, uid, holds
	    FROM wxauth_account_lock(app, oid) l;
	IF FOUND THEN
		PERFORM wxauth_account_seen(acc, sealed, uni);
		RETURN QUERY SELECT acc, uid, holds, true, false, false;
		RETURN;
	END IF;
	IF want IS NOT NULL THEN
		SELECT u.id, coalesce(u.unionid, '') INTO uid, holds FROM users u WHERE u.id = want;
		IF NOT FOUND THEN
			RETURN;
		END IF;
	ELSIF uni IS NOT NULL THEN
		SELECT h INTO uid FROM wxauth_unionid_holder(uni) h;
		holds := uni;
	END IF;
	IF uid IS NULL THEN
		IF signup_closed THEN
			RETURN QUERY SELECT NULL::bigint, NULL::uuid, NULL::text, false, false, true;
			RETURN;
		END IF;
		INSERT INTO users (unionid) VALUES (uni) RETURNING id INTO uid;
		holds := coalesce(uni, '');
		made := true;
	END IF;
	INSERT INTO accounts (appid, openid, user_id, unionid, session_key, session_key_at)
	    VALUES (app, oid, uid, uni, sealed, CASE WHEN sealed IS NULL THEN NULL ELSE now() END)
	    RETURNING id INTO acc;
	RETURN QUERY SELECT acc, uid, holds, false, made, false;
END
$$;

-- wxauth_disabled: raised, not answered, by a statement that finds its
-- user disabled, so that the COMMIT sent with it (db.c, db_exec_last)
-- commits nothing. SQLSTATE WXA01 (DB_STATE_DISABLED, dbi.h).
CREATE FUNCTION wxauth_disabled() RETURNS uuid
LANGUAGE plpgsql VOLATILE AS $$
BEGIN
	RAISE EXCEPTION 'the user is disabled' USING ERRCODE = 'WXA01';
END
$$;
