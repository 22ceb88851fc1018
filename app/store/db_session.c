/*
 * db_session.c - the units of work of logging in and of a session's life:
 * the idempotent-login lock, creating or updating accounts and users
 * (linking them by unionid), opening, refreshing and ending sessions.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <libpq-fe.h>
#include <sodium.h>

#include "db.h"
#include "dbi.h"
#include "log.h"

enum session_stmt {
	S_CODE_TAKE,
	S_LINK_DONE,
	S_ATTACH,
	S_ACC_GET,
	S_ACC_UPDATE,
	S_ACC_IDENT,
	S_USER_BY_UNIONID,
	S_USER_SET_UNIONID,
	S_USER_UNIONID,
	S_USER_LOCK,
	S_USER_LIVE,
	S_USER_PROFILE_FILL,
	S_SESSION_OPEN,
	S_REFRESH_GET,
	S_REFRESH_ROTATE,
	S_REFRESH_USED_ADD,
	S_REFRESH_USED_GET,
	S_REVOKE_SESSION,
	S_REVOKE_REUSED,
	S_REVOKE_USER,
	S_SESSIONS,
	S_SESSION_END,
	S_REVOKED_ALL,
	S_REVOKED_SINCE,
	S__MAX
};

const struct db_stmt db_session_stmts[] = {
	/* Two logins with one code wait for each other here, then read what
	 * the first stored (db/015_login_calls.sql). */
	[S_CODE_TAKE] = {"code_take",
	    "SELECT o_age, o_answer, o_web, o_which FROM wxauth_code_take($1::bigint, $2::text[])"},
	/* A link's code, spent, and its audit row: its last statement, sent
	 * with COMMIT (db_exec_last). */
	[S_LINK_DONE] = {"link_done",
	    "WITH c AS (INSERT INTO login_codes (code_hash, appid, account_id) VALUES ($1, $2, $3))"
	    " INSERT INTO audit_log (event, user_id, account_id, request_id, ip, detail)"
	    " VALUES ('link', $4, $3, $5, $6, coalesce($7, '{}')::jsonb)"},
	/* The account of a login or link, found (locked) or made, with its
	 * user (db/015_login_calls.sql). */
	[S_ATTACH] = {"attach",
	    "SELECT o_account, o_user, o_unionid, o_found, o_created, o_closed"
	    " FROM wxauth_attach($1, $2, $3, $4::bytea, $5::boolean, $6::uuid)"},
	[S_ACC_GET] = {"acc_get", "SELECT * FROM wxauth_account_lock($1, $2)"},
	[S_ACC_UPDATE] = {"acc_update", "SELECT wxauth_account_seen($1, $2::bytea, $3)"},
	[S_ACC_IDENT] = {"acc_ident",
	    "SELECT a.id, a.user_id, coalesce(u.unionid, ''), a.appid, a.openid"
	    " FROM accounts a JOIN users u ON u.id = a.user_id WHERE a.id = $1"},
	[S_USER_BY_UNIONID] = {"user_by_unionid", "SELECT * FROM wxauth_unionid_holder($1)"},
	[S_USER_SET_UNIONID] = {"user_set_unionid",
	    "UPDATE users SET unionid = $2, updated_at = now()"
	    " WHERE id = $1 AND unionid IS NULL"},
	[S_USER_UNIONID] = {"user_unionid",
	    "SELECT coalesce(unionid, '') FROM users WHERE id = $1"},
	/* The user a link joins an account to, locked: deleted (refused) or
	 * merged since the token was read (the transaction runs again). */
	[S_USER_LOCK] = {"user_lock",
	    "SELECT deleted_at IS NOT NULL, merged_into IS NOT NULL FROM users"
	    " WHERE id = $1 FOR NO KEY UPDATE"},
	/* The live user a (possibly merged) user id now lives on as. */
	[S_USER_LIVE] = {"user_live",
	    DB_LIVE_USER
	    " SELECT id, (SELECT coalesce(unionid, '') FROM users WHERE users.id = r.id)"
	    " FROM r WHERE next IS NULL"},
	/* WeChat's profile fills what is empty; what the user set stays. */
	[S_USER_PROFILE_FILL] = {"user_profile_fill",
	    "UPDATE users SET nickname = coalesce(nickname, $2),"
	    " avatar_url = coalesce(avatar_url, $3), gender = coalesce(gender, $4::smallint),"
	    " country = coalesce(country, $5), province = coalesce(province, $6),"
	    " city = coalesce(city, $7), language = coalesce(language, $8),"
	    " updated_at = now() WHERE id = $1"},
	/* A session, the code that opened it with the sealed answer, and its
	 * audit row, in one statement: one round trip on the login path. The
	 * session id is made by the caller, so that the answer (whose token
	 * names it) is sealed before the row is written. */
	[S_SESSION_OPEN] = {"session_open",
	    "WITH s AS (INSERT INTO sessions (id, user_id, account_id, refresh_hash,"
	    " expires_at, ip, user_agent, via) SELECT $12::uuid, $1, $2, $3,"
	    " now() + make_interval(secs => $4), $5, $6, $15"
	    /* A disabled user gets no session: an error (db/015), and the
	     * login fails. */
	    " WHERE NOT EXISTS (SELECT 1 FROM users WHERE id = $1 AND disabled_at IS NOT NULL)"
	    " RETURNING id),"
	    " c AS (INSERT INTO login_codes (code_hash, appid, account_id, answer, web)"
	    " VALUES ($7, $8, $2, $13, $14)),"
	    " a AS (INSERT INTO audit_log (event, user_id, account_id, session_id,"
	    " request_id, ip, detail) SELECT $9, $1, $2, s.id, $10, $5,"
	    " coalesce($11, '{}')::jsonb FROM s)"
	    " SELECT id FROM s UNION ALL"
	    " SELECT wxauth_disabled() WHERE NOT EXISTS (SELECT 1 FROM s)"},
	[S_REFRESH_GET] = {"refresh_get",
	    "SELECT s.id, s.user_id, s.account_id, s.revoked_at IS NOT NULL,"
	    " s.expires_at <= now(), a.appid, a.openid, coalesce(u.unionid, ''),"
	    " u.disabled_at IS NOT NULL OR EXISTS (SELECT 1 FROM users m"
	    " WHERE m.id = u.merged_into AND m.disabled_at IS NOT NULL)"
	    " FROM sessions s JOIN accounts a ON a.id = s.account_id"
	    " JOIN users u ON u.id = s.user_id"
	    " WHERE s.refresh_hash = $1 FOR UPDATE OF s FOR KEY SHARE OF u"},
	[S_REFRESH_ROTATE] = {"refresh_rotate",
	    "UPDATE sessions SET refresh_hash = $2, refreshed_at = now(),"
	    " expires_at = now() + make_interval(secs => $3) WHERE id = $1"},
	[S_REFRESH_USED_ADD] = {"refresh_used_add",
	    "INSERT INTO refresh_used (hash, session_id, next_hash, answer)"
	    " VALUES ($1, $2, $3, $4)"},
	/* A used hash: its session, whether it is a retry within the grace
	 * (seconds $2) of an answer that still carries the current refresh
	 * token of a live session, and that answer. */
	[S_REFRESH_USED_GET] = {"refresh_used_get",
	    "SELECT s.id, s.user_id,"
	    " r.used_at > now() - make_interval(secs => $2) AND r.answer IS NOT NULL,"
	    " s.refresh_hash = r.next_hash AND s.revoked_at IS NULL AND s.expires_at > now(),"
	    " s.revoked_at IS NOT NULL, coalesce(encode(r.answer, 'hex'), '')"
	    " FROM refresh_used r JOIN sessions s ON s.id = r.session_id"
	    " WHERE r.hash = $1 FOR UPDATE OF s"},
	/* Ending sessions and telling every worker is one statement, so that
	 * the notifications go out exactly when the change commits. */
	[S_REVOKE_SESSION] = {"revoke_session",
	    "WITH r AS (UPDATE sessions SET revoked_at = now(), revoke_reason = $2"
	    " WHERE id = $1 AND revoked_at IS NULL RETURNING id)"
	    " SELECT count(*) FROM r"},
	/* Reuse detection ends a session and says so in the feed. */
	[S_REVOKE_REUSED] = {"revoke_reused",
	    "WITH r AS (UPDATE sessions SET revoked_at = now(), revoke_reason = 'refresh_reuse'"
	    " WHERE id = $1 AND revoked_at IS NULL RETURNING id)"
	    DB_REVOKED_EVENT("$2::uuid", "'refresh_reuse'")},
	[S_REVOKE_USER] = {"revoke_user",
	    "WITH r AS (UPDATE sessions SET revoked_at = now(), revoke_reason = $2"
	    " WHERE user_id = $1 AND revoked_at IS NULL RETURNING id)"
	    DB_REVOKED_EVENT("$1::uuid", "$2::text")},
	/* Live sessions only, never a token or a hash. */
	[S_SESSIONS] = {"account_sessions",
	    "SELECT coalesce(json_agg(json_build_object('id', s.id, 'appid', a.appid,"
	    " 'created_at', " DB_TIME("s.created_at") ", 'refreshed_at', "
	    DB_TIME("s.refreshed_at") ", 'expires_at', " DB_TIME("s.expires_at") ","
	    " 'ip', s.ip, 'user_agent', s.user_agent, 'via', coalesce(s.via, 'login'),"
	    " 'current', s.id = $2::uuid)"
	    " ORDER BY s.created_at DESC, s.id), '[]')::text"
	    " FROM sessions s JOIN accounts a ON a.id = s.account_id"
	    " WHERE s.user_id = $1 AND s.revoked_at IS NULL AND s.expires_at > now()"},
	/* One of the user's own live sessions; another's answers nothing. */
	[S_SESSION_END] = {"account_session_end",
	    "WITH r AS (UPDATE sessions SET revoked_at = now(), revoke_reason = 'ended'"
	    " WHERE id = $2 AND user_id = $1 AND revoked_at IS NULL AND expires_at > now()"
	    " RETURNING id)"
	    DB_REVOKED_EVENT("$1::uuid", "'ended'")},
	/* For verifiers elsewhere: the sessions ended within the last $1
	 * seconds (access_ttl), by id only, and the cursor to ask from next:
	 * every transaction older than it has ended (as the workers' own reads
	 * of view_log, db/008_hints.sql), so nothing committed late is missed. */
	[S_REVOKED_ALL] = {"revoked_all",
	    "SELECT json_build_object('revoked', coalesce(json_agg(id::text), '[]'::json),"
	    " 'next', (SELECT pg_snapshot_xmin(pg_current_snapshot()))::text)::text"
	    " FROM (SELECT id FROM sessions WHERE revoked_at > now() - make_interval(secs => $1)"
	    " LIMIT " DB_REVOKED_MAX_S ") r"},
	[S_REVOKED_SINCE] = {"revoked_since",
	    "SELECT json_build_object('revoked', coalesce(json_agg(a::text), '[]'::json),"
	    " 'next', (SELECT pg_snapshot_xmin(pg_current_snapshot()))::text)::text"
	    " FROM (SELECT DISTINCT a FROM view_log WHERE kind = 's' AND xid >= $2::text::xid8"
	    " AND at > now() - make_interval(secs => $1) LIMIT " DB_REVOKED_MAX_S ") r"},
	[S__MAX] = {NULL, NULL}
};

static enum err
run(struct db *db, enum session_stmt s, const struct db_params *p, PGresult **out)
{
	return db_exec(db, &db_session_stmts[s], p, out);
}

static enum err
run_row(struct db *db, enum session_stmt s, const struct db_params *p, PGresult **out)
{
	return db_exec_row(db, &db_session_stmts[s], p, out);
}

static long long
code_key(const unsigned char *hash)
{
	uint64_t k = 0;
	int i;

	for (i = 0; i < 8; i++)
		k = (k << 8) | hash[i];
	return (long long)k;
}

/* ---- idempotent login ---- */

enum err
db_code_lock(struct db *db, const struct tok_hashes *code, struct db_code *out)
{
	struct db_params p = {0};
	PGresult *res = NULL;
	char hashes[3 + TOK_KEYS_MAX * (TOK_HASHBYTES * 2 + 1)];
	const char *hex;
	size_t i, n = 0;
	enum err rc;

	memset(out, 0, sizeof(*out));
	if ((rc = db_connect(db)) != OK)
		return rc;
	/* The hashes as a text[] of hex: {h0,h1,...}. */
	hashes[n++] = '{';
	for (i = 0; i < code->n && i < TOK_KEYS_MAX; i++) {
		if (i > 0)
			hashes[n++] = ',';
		sodium_bin2hex(hashes + n, sizeof(hashes) - n, code->h[i], TOK_HASHBYTES);
		n += TOK_HASHBYTES * 2;
	}
	hashes[n++] = '}';
	hashes[n] = '\0';
	db_p_int(&p, code_key(code->h[0]));
	db_p_text(&p, hashes);
	/* The lock is held once asked for, also when the answer is lost. */
	db_hold(db, code_key(code->h[0]));
	if ((rc = run(db, S_CODE_TAKE, &p, &res)) == OK && PQntuples(res) == 1) {
		out->seen = true;
		out->age = strtol(PQgetvalue(res, 0, 0), NULL, 10);
		out->web = strcmp(PQgetvalue(res, 0, 2), "t") == 0;
		hex = PQgetvalue(res, 0, 1);
		/* Stored under a data key that is no longer first: seen, and
		 * its answer (sealed for that hash) is not replayed. */
		if (strcmp(PQgetvalue(res, 0, 3), "1") != 0 ||
		    sodium_hex2bin(out->answer.b, sizeof(out->answer.b), hex, strlen(hex),
		    NULL, &out->answer.len, NULL) != 0)
			out->answer.len = 0;
	}
	PQclear(res);
	if (rc != OK)
		db_release(db);
	return rc;
}

void
db_code_unlock(struct db *db)
{
	db_release(db);
}

/* ---- login ---- */

struct login_ctx {
	const struct db_login *in;
	struct db_ident *out;
};

/* new_session_id: a UUIDv7 (RFC 9562): the time in milliseconds, then
 * random bits, so that sessions made together sit together in the index. */
static void
new_session_id(char out[UUID_STR])
{
	unsigned char u[16];
	uint64_t ms = (uint64_t)time(NULL) * 1000;
	struct timespec ts;
	int i;

	if (clock_gettime(CLOCK_REALTIME, &ts) == 0)
		ms = (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
	randombytes_buf(u, sizeof(u));
	for (i = 0; i < 6; i++)
		u[i] = (unsigned char)(ms >> (40 - 8 * i));
	u[6] = (unsigned char)(0x70 | (u[6] & 0x0f));
	u[8] = (unsigned char)(0x80 | (u[8] & 0x3f));
	snprintf(out, UUID_STR, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-"
	    "%02x%02x%02x%02x%02x%02x", u[0], u[1], u[2], u[3], u[4], u[5], u[6],
	    u[7], u[8], u[9], u[10], u[11], u[12], u[13], u[14], u[15]);
}

/* open_session: the session row, the code with the sealed answer, and the
 * audit row of a login; with last, the transaction's last statement. */
static enum err
open_session(struct db *db, struct login_ctx *x, const char *event, bool last)
{
	struct db_params p = {0};
	struct db_stored *answer = NULL;
	PGresult *res = NULL;
	enum err rc = ERR_INTERNAL;

	new_session_id(x->out->session_id);
	if ((answer = malloc(sizeof(*answer))) == NULL)
		goto out;
	if ((rc = x->in->answer->seal(x->in->answer->arg, x->out, answer)) != OK)
		goto out;
	db_p_text(&p, x->out->user_id);
	db_p_int(&p, x->out->account_id);
	db_p_bin(&p, x->in->refresh_hash, TOK_HASHBYTES);
	db_p_int(&p, x->in->refresh_ttl);
	db_p_text(&p, x->in->ip);
	db_p_text(&p, x->in->user_agent);
	db_p_bin(&p, x->in->code_hash, TOK_HASHBYTES);
	db_p_text(&p, x->in->appid);
	db_p_text(&p, event);
	db_p_text(&p, x->in->request_id);
	db_p_text(&p, x->in->via != NULL ? "{\"via\":\"scan\"}" :
	    x->out->created ? "{\"created\":true}" : NULL);
	db_p_text(&p, x->out->session_id);
	db_p_bin(&p, answer->b, answer->len);
	db_p_text(&p, x->in->web ? "true" : "false");
	db_p_text(&p, x->in->via);
	if (last)
		rc = db_exec_last(db, &db_session_stmts[S_SESSION_OPEN], &p, &res);
	else
		rc = run(db, S_SESSION_OPEN, &p, &res);
	if (rc == OK && PQntuples(res) != 1)
		rc = ERR_USER_DISABLED;
out:
	PQclear(res);
	free(answer);
	return rc;
}

/*
 * link_unionid: the account's user learns a unionid it did not have. When
 * no live user holds it, the user takes it; when another user holds it, the
 * two are one person and merge. A user whose unionid differs is a conflict.
 */
static enum err
link_unionid(struct db *db, struct db_ident *id, const char *unionid,
    const char *request_id)
{
	struct db_params p = {0};
	PGresult *res = NULL;
	char other[UUID_STR], survivor[UUID_STR], loser[UUID_STR];
	enum err rc = OK;

	if (unionid == NULL || *unionid == '\0')
		return OK;
	if (id->unionid[0] != '\0') {
		return strcmp(id->unionid, unionid) == 0 ? OK : ERR_UNIONID_CONFLICT;
	}
	db_p_text(&p, unionid);
	if ((rc = run(db, S_USER_BY_UNIONID, &p, &res)) != OK)
		goto out;
	if (PQntuples(res) == 0) {
		memset(&p, 0, sizeof(p));
		db_p_text(&p, id->user_id);
		db_p_text(&p, unionid);
		PQclear(res);
		res = NULL;
		if ((rc = run(db, S_USER_SET_UNIONID, &p, &res)) != OK)
			goto out;
	} else {
		db_copy(other, sizeof(other), PQgetvalue(res, 0, 0));
		if ((rc = db_merge(db, id->user_id, other, "unionid", request_id,
		    survivor, loser)) != OK)
			goto out;
		db_copy(id->user_id, sizeof(id->user_id), survivor);
		db_copy(id->merged_from, sizeof(id->merged_from), loser);
	}
	db_copy(id->unionid, sizeof(id->unionid), unionid);
out:
	PQclear(res);
	return rc;
}

static enum err
fill_profile(struct db *db, const char *user_id, const struct db_profile *pr)
{
	struct db_params p = {0};
	PGresult *res = NULL;
	enum err rc;

	db_p_text(&p, user_id);
	db_p_text(&p, pr->nickname);
	db_p_text(&p, pr->avatar_url);
	if (pr->gender >= 0)
		db_p_int(&p, pr->gender);
	else
		db_p_text(&p, NULL);
	db_p_text(&p, pr->country);
	db_p_text(&p, pr->province);
	db_p_text(&p, pr->city);
	db_p_text(&p, pr->language);
	rc = run(db, S_USER_PROFILE_FILL, &p, &res);
	PQclear(res);
	return rc;
}

/* user_unionid: the unionid user_id holds now (after a merge, say). */
static enum err
user_unionid(struct db *db, struct db_ident *id)
{
	struct db_params p = {0};
	PGresult *res = NULL;
	enum err rc;

	db_p_text(&p, id->user_id);
	if ((rc = run_row(db, S_USER_UNIONID, &p, &res)) == OK)
		db_copy(id->unionid, sizeof(id->unionid), PQgetvalue(res, 0, 0));
	PQclear(res);
	return rc;
}

/*
 * attach: make the account in `in` exist and belong to the right user
 * (wxauth_attach, db/015_login_calls.sql); a link (want_user) to another
 * user than the account's merges the two. Then link the unionid
 * (link_unionid) and let WeChat's profile fill empty fields. *already
 * tells a link that the account was want_user's before.
 */
static enum err
attach(struct db *db, const struct db_login *in, const char *want_user,
    struct db_ident *out, bool *already)
{
	struct db_params p = {0};
	PGresult *res = NULL;
	char survivor[UUID_STR], loser[UUID_STR];
	bool found;
	enum err rc;

	memset(out, 0, sizeof(*out));
	*already = false;
	db_copy(out->appid, sizeof(out->appid), in->appid);
	db_copy(out->openid, sizeof(out->openid), in->openid);
	db_p_text(&p, in->appid);
	db_p_text(&p, in->openid);
	db_p_text(&p, in->unionid);
	db_p_bin(&p, in->sealed_key, in->sealed_len);
	db_p_text(&p, in->signup_closed ? "true" : "false");
	db_p_text(&p, want_user);
	if ((rc = run_row(db, S_ATTACH, &p, &res)) != OK)
		goto out;
	if (strcmp(PQgetvalue(res, 0, 5), "t") == 0) {
		rc = ERR_SIGNUP_CLOSED;
		goto out;
	}
	out->account_id = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
	db_copy(out->user_id, sizeof(out->user_id), PQgetvalue(res, 0, 1));
	db_copy(out->unionid, sizeof(out->unionid), PQgetvalue(res, 0, 2));
	found = strcmp(PQgetvalue(res, 0, 3), "t") == 0;
	out->created = strcmp(PQgetvalue(res, 0, 4), "t") == 0;
	/* A returning account's change (its last login) is hinted after the
	 * COMMIT, not by its trigger (db/016_login_lean.sql). */
	if (found)
		db_hint_after(db, out->user_id);
	if (found && want_user != NULL && strcmp(out->user_id, want_user) != 0) {
		if ((rc = db_merge(db, out->user_id, want_user, "link",
		    in->request_id, survivor, loser)) != OK)
			goto out;
		db_copy(out->user_id, sizeof(out->user_id), survivor);
		db_copy(out->merged_from, sizeof(out->merged_from), loser);
		if ((rc = user_unionid(db, out)) != OK)
			goto out;
	} else if (found && want_user != NULL) {
		*already = true;
	}
	if ((rc = link_unionid(db, out, in->unionid, in->request_id)) == OK &&
	    in->profile != NULL)
		rc = fill_profile(db, out->user_id, in->profile);
out:
	PQclear(res);
	return rc;
}

static enum err
login_txn(struct db *db, void *arg)
{
	struct login_ctx *x = arg;
	bool already;
	enum err rc;

	if ((rc = attach(db, x->in, NULL, x->out, &already)) != OK)
		return rc;
	return open_session(db, x, "login", true);
}

enum err
db_login(struct db *db, const struct db_login *in, struct db_ident *out)
{
	struct login_ctx x = {in, out};
	enum err rc;

	/* The code's lock goes with the COMMIT (db_code_lock). */
	rc = db_txn_release(db, login_txn, &x, true);
	/* The transaction rolled back; the refusal is still recorded. */
	if (rc == ERR_UNIONID_CONFLICT)
		db_conflict_audit(db, out, in->request_id, in->ip);
	return rc;
}

/* load_ident: who account_id is: its user, that user's unionid, the app. */
static enum err
load_ident(struct db *db, long long account_id, struct db_ident *out)
{
	struct db_params p = {0};
	PGresult *res = NULL;
	enum err rc;

	memset(out, 0, sizeof(*out));
	db_p_int(&p, account_id);
	if ((rc = run_row(db, S_ACC_IDENT, &p, &res)) == OK) {
		out->account_id = account_id;
		db_copy(out->user_id, sizeof(out->user_id), PQgetvalue(res, 0, 1));
		db_copy(out->unionid, sizeof(out->unionid), PQgetvalue(res, 0, 2));
		db_copy(out->appid, sizeof(out->appid), PQgetvalue(res, 0, 3));
		db_copy(out->openid, sizeof(out->openid), PQgetvalue(res, 0, 4));
	}
	PQclear(res);
	return rc;
}

/* ---- link ---- */

struct link_ctx {
	const struct db_login *in;
	const char *user_id;
	struct db_ident *out;
	bool already;
};

static enum err
link_txn(struct db *db, void *arg)
{
	struct link_ctx *x = arg;
	struct db_params p = {0};
	PGresult *res = NULL;
	char live[UUID_STR];
	enum err rc;

	/* The token may name a user merged since: link to the survivor. */
	db_p_text(&p, x->user_id);
	if ((rc = run_row(db, S_USER_LIVE, &p, &res)) != OK)
		goto out;
	db_copy(live, sizeof(live), PQgetvalue(res, 0, 0));
	PQclear(res);
	res = NULL;
	memset(&p, 0, sizeof(p));
	db_p_text(&p, live);
	if ((rc = run_row(db, S_USER_LOCK, &p, &res)) != OK)
		goto out;
	if (strcmp(PQgetvalue(res, 0, 0), "t") == 0) {
		rc = ERR_SESSION_REVOKED;       /* deleted: its sessions ended */
		goto out;
	}
	if (strcmp(PQgetvalue(res, 0, 1), "t") == 0) {
		rc = ERR_RETRY;                 /* merged since: follow it */
		goto out;
	}
	PQclear(res);
	res = NULL;
	if ((rc = attach(db, x->in, live, x->out, &x->already)) != OK)
		goto out;
	memset(&p, 0, sizeof(p));
	db_p_bin(&p, x->in->code_hash, TOK_HASHBYTES);
	db_p_text(&p, x->in->appid);
	db_p_int(&p, x->out->account_id);
	db_p_text(&p, x->out->user_id);
	db_p_text(&p, x->in->request_id);
	db_p_text(&p, x->in->ip);
	db_p_text(&p, x->already ? "{\"already\":true}" : NULL);
	rc = db_exec_last(db, &db_session_stmts[S_LINK_DONE], &p, &res);
out:
	PQclear(res);
	return rc;
}

enum err
db_link(struct db *db, const char *user_id, const struct db_login *in,
    struct db_ident *out, bool *already)
{
	struct link_ctx x = {in, user_id, out, false};
	enum err rc;

	rc = db_txn_release(db, link_txn, &x, true);
	/* The transaction rolled back; the refusal is still recorded. */
	if (rc == ERR_UNIONID_CONFLICT)
		db_conflict_audit(db, out, in->request_id, in->ip);
	*already = x.already;
	return rc;
}

/* ---- a unionid learned after login (decrypted open data) ---- */

enum err
db_link_unionid_tx(struct db *db, long long account_id, const char *unionid,
    const char *request_id, struct db_ident *out)
{
	struct db_params p = {0};
	PGresult *res = NULL;
	enum err rc;

	if ((rc = load_ident(db, account_id, out)) != OK)
		goto out;
	/* Lock the account as a login would, and record its unionid. */
	db_p_text(&p, out->appid);
	db_p_text(&p, out->openid);
	if ((rc = run_row(db, S_ACC_GET, &p, &res)) != OK)
		goto out;
	PQclear(res);
	res = NULL;
	memset(&p, 0, sizeof(p));
	db_p_int(&p, account_id);
	db_p_bin(&p, NULL, 0);
	db_p_text(&p, unionid);
	if ((rc = run(db, S_ACC_UPDATE, &p, &res)) != OK)
		goto out;
	rc = link_unionid(db, out, unionid, request_id);
out:
	PQclear(res);
	return rc;
}

void
db_conflict_audit(struct db *db, const struct db_ident *id, const char *request_id,
    const char *ip)
{
	log_warnx("db: unionid conflict: account %s/%s of user %s not merged",
	    id->appid, id->openid, id->user_id);
	(void)db_audit(db, "unionid_conflict", id->user_id, id->account_id,
	    NULL, request_id, ip, NULL);
}

/* ---- refresh ---- */

struct refresh_ctx {
	struct db_refresh *in;
	struct db_ident *out;
	enum err verdict;       /* what the client is told, once committed */
};

static enum err
revoke_one(struct db *db, const char *sid, const char *reason, long *count)
{
	struct db_params p = {0};
	PGresult *res = NULL;
	enum err rc;

	db_p_text(&p, sid);
	db_p_text(&p, reason);
	if ((rc = run_row(db, S_REVOKE_SESSION, &p, &res)) == OK && count != NULL)
		*count = strtol(PQgetvalue(res, 0, 0), NULL, 10);
	PQclear(res);
	return rc;
}

/*
 * used_again: old_hash is not current. A retry within the grace whose
 * answer still carries the current refresh token gets that answer; a retry
 * within the grace whose answer is stale is refused and changes nothing
 * (the client already moved on); anything else is reuse: it leaked, so the
 * session ends and a thief holding either token is locked out.
 */
static enum err
used_again(struct db *db, struct refresh_ctx *x)
{
	struct db_refresh *in = x->in;
	struct db_params p = {0};
	PGresult *res = NULL;
	char sid[UUID_STR], uid[UUID_STR];
	const char *hex;
	enum err rc;

	db_p_bin(&p, in->old_hash, TOK_HASHBYTES);
	db_p_int(&p, in->grace);
	if ((rc = run(db, S_REFRESH_USED_GET, &p, &res)) != OK)
		goto out;
	if (PQntuples(res) == 0) {
		x->verdict = ERR_INVALID_TOKEN;
		goto out;
	}
	db_copy(sid, sizeof(sid), PQgetvalue(res, 0, 0));
	db_copy(uid, sizeof(uid), PQgetvalue(res, 0, 1));
	if (strcmp(PQgetvalue(res, 0, 2), "t") == 0) {
		hex = PQgetvalue(res, 0, 5);
		if (strcmp(PQgetvalue(res, 0, 4), "t") == 0) {
			x->verdict = ERR_SESSION_REVOKED;
		} else if (strcmp(PQgetvalue(res, 0, 3), "t") != 0) {
			x->verdict = ERR_INVALID_TOKEN;
		} else if (sodium_hex2bin(in->stored->b, sizeof(in->stored->b), hex,
		    strlen(hex), NULL, &in->stored->len, NULL) == 0) {
			in->replayed = true;
			db_copy(x->out->session_id, sizeof(x->out->session_id), sid);
			db_copy(x->out->user_id, sizeof(x->out->user_id), uid);
		} else {
			x->verdict = ERR_INVALID_TOKEN;
		}
		goto out;
	}
	PQclear(res);
	res = NULL;
	memset(&p, 0, sizeof(p));
	db_p_text(&p, sid);
	db_p_text(&p, uid);
	if ((rc = run_row(db, S_REVOKE_REUSED, &p, &res)) != OK)
		goto out;
	rc = db_audit(db, "refresh_reuse", uid, 0, sid, in->request_id, NULL, NULL);
	x->verdict = ERR_SESSION_REVOKED;
out:
	PQclear(res);
	return rc;
}

static enum err
refresh_txn(struct db *db, void *arg)
{
	struct refresh_ctx *x = arg;
	struct db_refresh *in = x->in;
	struct db_ident *out = x->out;
	struct db_params p = {0};
	PGresult *res = NULL;
	enum err rc;

	memset(out, 0, sizeof(*out));
	x->verdict = OK;
	in->replayed = false;
	in->stored->len = 0;
	db_p_bin(&p, in->old_hash, TOK_HASHBYTES);
	if ((rc = run(db, S_REFRESH_GET, &p, &res)) != OK)
		goto out;
	if (PQntuples(res) == 0) {
		rc = used_again(db, x);
		goto out;
	}
	db_copy(out->session_id, sizeof(out->session_id), PQgetvalue(res, 0, 0));
	db_copy(out->user_id, sizeof(out->user_id), PQgetvalue(res, 0, 1));
	out->account_id = strtoll(PQgetvalue(res, 0, 2), NULL, 10);
	db_copy(out->appid, sizeof(out->appid), PQgetvalue(res, 0, 5));
	db_copy(out->openid, sizeof(out->openid), PQgetvalue(res, 0, 6));
	db_copy(out->unionid, sizeof(out->unionid), PQgetvalue(res, 0, 7));
	if (strcmp(PQgetvalue(res, 0, 8), "t") == 0) {
		x->verdict = ERR_USER_DISABLED;
		goto out;
	}
	if (strcmp(PQgetvalue(res, 0, 3), "t") == 0) {
		x->verdict = ERR_SESSION_REVOKED;
		goto out;
	}
	if (strcmp(PQgetvalue(res, 0, 4), "t") == 0) {
		x->verdict = ERR_TOKEN_EXPIRED;
		goto out;
	}
	memset(&p, 0, sizeof(p));
	db_p_text(&p, out->session_id);
	db_p_bin(&p, in->new_hash, TOK_HASHBYTES);
	db_p_int(&p, in->ttl);
	PQclear(res);
	res = NULL;
	if ((rc = run(db, S_REFRESH_ROTATE, &p, &res)) != OK)
		goto out;
	PQclear(res);
	res = NULL;
	if ((rc = in->answer->seal(in->answer->arg, out, in->stored)) != OK)
		goto out;
	memset(&p, 0, sizeof(p));
	db_p_bin(&p, in->old_hash, TOK_HASHBYTES);
	db_p_text(&p, out->session_id);
	db_p_bin(&p, in->new_hash, TOK_HASHBYTES);
	db_p_bin(&p, in->stored->b, in->stored->len);
	rc = run(db, S_REFRESH_USED_ADD, &p, &res);
out:
	PQclear(res);
	return rc;
}

enum err
db_refresh(struct db *db, struct db_refresh *in, struct db_ident *out)
{
	struct refresh_ctx x = {in, out, OK};
	enum err rc;

	/* The revocation that reuse detection makes must commit even though
	 * the request is refused, so the verdict travels beside rc. */
	if ((rc = db_txn(db, refresh_txn, &x)) != OK)
		return rc;
	return x.verdict;
}

/* ---- logout ---- */

struct logout_ctx {
	const char *sid, *user_id, *request_id;
	bool all;
	long count;
};

static enum err
logout_txn(struct db *db, void *arg)
{
	struct logout_ctx *x = arg;
	struct db_params p = {0};
	PGresult *res = NULL;
	enum err rc;

	x->count = 0;
	if (x->all) {
		db_p_text(&p, x->user_id);
		db_p_text(&p, "logout_all");
		if ((rc = run_row(db, S_REVOKE_USER, &p, &res)) != OK)
			goto out;
		x->count = strtol(PQgetvalue(res, 0, 0), NULL, 10);
	} else if ((rc = revoke_one(db, x->sid, "logout", &x->count)) != OK) {
		goto out;
	}
	rc = db_audit(db, x->all ? "logout_all" : "logout", x->user_id, 0, x->sid,
	    x->request_id, NULL, NULL);
out:
	PQclear(res);
	return rc;
}

enum err
db_logout(struct db *db, const char *sid, const char *user_id, bool all,
    const char *request_id, long *count)
{
	struct logout_ctx x = {sid, user_id, request_id, all, 0};
	enum err rc;

	rc = db_txn(db, logout_txn, &x);
	*count = x.count;
	return rc;
}

enum err
db_sessions_list(struct db *db, const char *user_id, const char *current, char **json)
{
	struct db_params p = {0};

	db_p_text(&p, user_id);
	db_p_text(&p, current);
	return db_exec_text(db, &db_session_stmts[S_SESSIONS], &p, json);
}

struct end_ctx {
	const char *user_id, *sid, *request_id;
};

static enum err
end_txn(struct db *db, void *arg)
{
	struct end_ctx *x = arg;
	struct db_params p = {0};
	PGresult *res = NULL;
	enum err rc;

	db_p_text(&p, x->user_id);
	db_p_text(&p, x->sid);
	if ((rc = db_exec_row(db, &db_session_stmts[S_SESSION_END], &p, &res)) != OK)
		goto out;
	if (strcmp(PQgetvalue(res, 0, 0), "0") == 0) {
		rc = ERR_NOT_FOUND;
		goto out;
	}
	rc = db_audit(db, "session_ended", x->user_id, 0, x->sid, x->request_id, NULL, NULL);
out:
	PQclear(res);
	return rc;
}

enum err
db_session_end(struct db *db, const char *user_id, const char *sid,
    const char *request_id)
{
	struct end_ctx x = {user_id, sid, request_id};

	return db_txn(db, end_txn, &x);
}

enum err
db_revoked_feed(struct db *db, long secs, long long after, char **json)
{
	struct db_params p = {0};
	char cursor[24];

	db_p_int(&p, secs);
	if (after < 0)
		return db_exec_text(db, &db_session_stmts[S_REVOKED_ALL], &p, json);
	snprintf(cursor, sizeof(cursor), "%lld", after);
	db_p_text(&p, cursor);
	return db_exec_text(db, &db_session_stmts[S_REVOKED_SINCE], &p, json);
}

enum err
db_session_open_for(struct db *db, const struct db_login *in, struct db_ident *out)
{
	struct login_ctx x = {in, out};

	return open_session(db, &x, "login", false);
}
