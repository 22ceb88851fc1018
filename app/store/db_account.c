/*
 * db_account.c - an account's life: the session_key a decrypt needs,
 * unlinking one app account, deleting a user. Every change and its event
 * row commit together.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libpq-fe.h>
#include <sodium.h>

#include "db.h"
#include "dbi.h"
#include "log.h"

enum account_stmt {
	AC_USER_LOCK,
	AC_UNLINK_ACCOUNTS,
	AC_UNLINK,
	AC_SESSION_FRESH,
	AC_DELETE,
	AC_ACC_KEY,
	AC__MAX
};

const struct db_stmt db_account_stmts[] = {
	/* The live user, locked: a merge or a deletion of it waits, or is waited for. */
	[AC_USER_LOCK] = {"account_user_lock",
	    "SELECT id FROM users WHERE id = $1 AND merged_into IS NULL AND deleted_at IS NULL"
	    " FOR UPDATE"},
	[AC_UNLINK_ACCOUNTS] = {"account_unlink_accounts",
	    "SELECT count(*), max(id) FILTER (WHERE appid = $2) FROM accounts WHERE user_id = $1"},
	/* The account moves to a user of its own (id only); its sessions end,
	 * its session_key goes; the event says where it went. */
	[AC_UNLINK] = {"account_unlink",
	    "WITH n AS (INSERT INTO users DEFAULT VALUES RETURNING id),"
	    " a AS (UPDATE accounts SET user_id = (SELECT id FROM n), session_key = NULL,"
	    " session_key_at = NULL WHERE id = $2 RETURNING id, appid, openid),"
	    " r AS (UPDATE sessions SET revoked_at = now(), revoke_reason = 'unlinked'"
	    " WHERE account_id = $2 AND revoked_at IS NULL RETURNING id),"
	    " e AS (INSERT INTO events (type, user_id, detail) SELECT 'account_unlinked', $1,"
	    " jsonb_build_object('user_id', $1::uuid, 'appid', a.appid, 'openid', a.openid,"
	    " 'new_user', n.id, 'sessions', (SELECT coalesce(jsonb_agg(id ORDER BY id), '[]')"
	    " FROM r)) FROM a, n RETURNING id),"
	    " au AS (INSERT INTO audit_log (event, user_id, account_id, request_id, detail)"
	    " SELECT 'account_unlinked', $1, $2, $3, jsonb_build_object('new_user', n.id) FROM n)"
	    " SELECT (SELECT count(*) FROM r),"
	    " (SELECT count(pg_notify('wxauth_event', '')) FROM e)"},
	/* The proof deletion asks of a user: the session was opened (a login,
	 * not a refresh) within the last $3 seconds. */
	[AC_SESSION_FRESH] = {"account_session_fresh",
	    "SELECT created_at > now() - make_interval(secs => $3) FROM sessions"
	    " WHERE id = $2 AND user_id = $1 AND revoked_at IS NULL"},
	/*
	 * Deletion, in one statement: the user and every tombstone merged into
	 * it lose their personal data; their accounts lose openid, unionid and
	 * session_key (the openid becomes "deleted:<id>", so the same person
	 * logging in again is a new account and a new user); every session
	 * ends and forgets its address and user agent; the stored answers of
	 * logins and refreshes (sealed tokens) go, but not the fact that a code
	 * was used (it never goes to WeChat again); audit rows forget addresses;
	 * uploaded avatars go.
	 * What stays: ids, times, the tombstone's deleted_at.
	 */
	[AC_DELETE] = {"account_delete",
	    "WITH RECURSIVE t (id) AS (SELECT $1::uuid UNION"
	    " SELECT u.id FROM users u JOIN t ON u.merged_into = t.id),"
	    " old AS (SELECT id, appid, openid FROM accounts WHERE user_id IN (SELECT id FROM t)),"
	    " u AS (UPDATE users SET unionid = NULL," DB_PROFILE_ERASE " updated_at = now(),"
	    " deleted_at = CASE WHEN id = $1 THEN now() ELSE deleted_at END"
	    " WHERE id IN (SELECT id FROM t)),"
	    " a AS (UPDATE accounts SET openid = 'deleted:' || id, unionid = NULL,"
	    " session_key = NULL, session_key_at = NULL WHERE id IN (SELECT id FROM old)),"
	    " c AS (UPDATE login_codes SET answer = NULL WHERE account_id IN (SELECT id FROM old)"
	    " AND answer IS NOT NULL),"
	    " r AS (UPDATE sessions SET revoked_at = coalesce(revoked_at, now()),"
	    " revoke_reason = coalesce(revoke_reason, 'deleted'), ip = NULL, user_agent = NULL"
	    " WHERE user_id IN (SELECT id FROM t) RETURNING id, revoke_reason = 'deleted'"
	    " AS now_ended),"
	    " ru AS (UPDATE refresh_used SET answer = NULL"
	    " WHERE session_id IN (SELECT id FROM r) AND answer IS NOT NULL),"
	    " al AS (UPDATE audit_log SET ip = NULL WHERE user_id IN (SELECT id FROM t)"
	    " AND ip IS NOT NULL),"
	    " av AS (DELETE FROM avatars WHERE user_id IN (SELECT id FROM t)),"
	    " e AS (INSERT INTO events (type, user_id, detail) SELECT 'user_deleted', $1,"
	    " jsonb_build_object('user_id', $1::uuid, 'by', $2::text, 'accounts',"
	    " (SELECT coalesce(jsonb_agg(jsonb_build_object('appid', appid, 'openid', openid)"
	    " ORDER BY id), '[]') FROM old)) RETURNING id),"
	    " ad AS (INSERT INTO audit_log (event, user_id, request_id, detail)"
	    " VALUES ('user_deleted', $1, $3, jsonb_build_object('by', $2::text)))"
	    " SELECT (SELECT count(*) FROM r WHERE now_ended),"
	    " (SELECT count(pg_notify('wxauth_event', '')) FROM e)"},
	[AC_ACC_KEY] = {"profile_acc_key",
	    "SELECT id, coalesce(encode(session_key, 'hex'), '') FROM accounts"
	    " WHERE appid = $1 AND openid = $2"},
	[AC__MAX] = {NULL, NULL}
};

static enum err
run(struct db *db, enum account_stmt s, const struct db_params *p, PGresult **out)
{
	return db_exec(db, &db_account_stmts[s], p, out);
}

static enum err
run_row(struct db *db, enum account_stmt s, const struct db_params *p, PGresult **out)
{
	return db_exec_row(db, &db_account_stmts[s], p, out);
}

/* lock_user: the live user user_id, locked for this transaction;
 * ERR_NOT_FOUND when it was merged away, deleted, or never was. */
static enum err
lock_user(struct db *db, const char *user_id)
{
	struct db_params p = {0};
	PGresult *res = NULL;
	enum err rc;

	db_p_text(&p, user_id);
	if ((rc = run(db, AC_USER_LOCK, &p, &res)) == OK && PQntuples(res) != 1)
		rc = ERR_NOT_FOUND;
	PQclear(res);
	return rc;
}

/* ---- unlink ---- */

struct unlink_ctx {
	const char *user_id, *appid, *request_id;
};

static enum err
unlink_txn(struct db *db, void *arg)
{
	struct unlink_ctx *x = arg;
	struct db_params p = {0};
	PGresult *res = NULL;
	long long account_id;
	enum err rc;

	if ((rc = lock_user(db, x->user_id)) != OK)
		return rc;
	db_p_text(&p, x->user_id);
	db_p_text(&p, x->appid);
	if ((rc = db_exec_row(db, &db_account_stmts[AC_UNLINK_ACCOUNTS], &p, &res)) != OK)
		goto out;
	if (PQgetisnull(res, 0, 1)) {
		rc = ERR_NOT_FOUND;
		goto out;
	}
	/* The last way in stays: without it the user could never log in. */
	if (strcmp(PQgetvalue(res, 0, 0), "1") == 0) {
		rc = ERR_LAST_ACCOUNT;
		goto out;
	}
	account_id = strtoll(PQgetvalue(res, 0, 1), NULL, 10);
	PQclear(res);
	res = NULL;
	memset(&p, 0, sizeof(p));
	db_p_text(&p, x->user_id);
	db_p_int(&p, account_id);
	db_p_text(&p, x->request_id);
	rc = db_exec_row(db, &db_account_stmts[AC_UNLINK], &p, &res);
out:
	PQclear(res);
	return rc;
}

enum err
db_unlink(struct db *db, const char *user_id, const char *appid, const char *request_id)
{
	struct unlink_ctx x = {user_id, appid, request_id};

	return db_txn(db, unlink_txn, &x);
}

/* ---- deletion ---- */

struct delete_ctx {
	const struct db_delete *in;
};

static enum err
delete_txn(struct db *db, void *arg)
{
	const struct db_delete *in = ((struct delete_ctx *)arg)->in;
	struct db_params p = {0};
	PGresult *res = NULL;
	enum err rc;

	if ((rc = lock_user(db, in->user_id)) != OK)
		return rc;
	if (in->session_id != NULL) {
		db_p_text(&p, in->user_id);
		db_p_text(&p, in->session_id);
		db_p_int(&p, in->max_login_age);
		if ((rc = run(db, AC_SESSION_FRESH, &p, &res)) != OK)
			goto out;
		if (PQntuples(res) != 1) {
			rc = ERR_SESSION_REVOKED;
			goto out;
		}
		if (strcmp(PQgetvalue(res, 0, 0), "t") != 0) {
			rc = ERR_FRESH_LOGIN_REQUIRED;
			goto out;
		}
		PQclear(res);
		res = NULL;
		memset(&p, 0, sizeof(p));
	}
	db_p_text(&p, in->user_id);
	db_p_text(&p, in->session_id != NULL ? "user" : "admin");
	db_p_text(&p, in->request_id);
	rc = db_exec_row(db, &db_account_stmts[AC_DELETE], &p, &res);
out:
	PQclear(res);
	return rc;
}

enum err
db_delete_user(struct db *db, const struct db_delete *in)
{
	struct delete_ctx x = {in};
	enum err rc;

	if ((rc = db_txn(db, delete_txn, &x)) == OK)
		log_info("user %s deleted (%s)", in->user_id,
		    in->session_id != NULL ? "by the user" : "by an admin");
	return rc;
}


enum err
db_account_key(struct db *db, const char *appid, const char *openid,
    long long *account_id, unsigned char *sealed, size_t max, size_t *sealed_len)
{
	struct db_params p = {0};
	PGresult *res = NULL;
	const char *hex;
	enum err rc;

	*account_id = 0;
	*sealed_len = 0;
	if ((rc = db_connect(db)) != OK)
		return rc;
	db_p_text(&p, appid);
	db_p_text(&p, openid);
	if ((rc = run_row(db, AC_ACC_KEY, &p, &res)) != OK)
		goto out;
	*account_id = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
	hex = PQgetvalue(res, 0, 1);
	if (sodium_hex2bin(sealed, max, hex, strlen(hex), NULL, sealed_len, NULL) != 0) {
		log_warnx("db: account %lld: sealed session_key does not fit", *account_id);
		*sealed_len = 0;
	}
out:
	PQclear(res);
	return rc;
}
