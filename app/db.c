/*
 * db.c - PostgreSQL through libpq.
 *
 * One connection per worker. Every statement is named, listed once in
 * stmts[], and prepared right after each (re)connect; execution is only
 * ever PQexecPrepared. BEGIN, COMMIT and ROLLBACK are the only plain
 * commands. Unique violations, serialisation failures and deadlocks make a
 * transaction run again, a bounded number of times.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <libpq-fe.h>

#include "db.h"
#include "log.h"

#define TXN_TRIES 5
#define RECONNECT_EVERY 1       /* seconds between reconnect attempts */

enum stmt {
	S_PING,
	S_LOCK_TIMEOUT,
	S_CODE_LOCK,
	S_CODE_UNLOCK,
	S_CODE_GET,
	S_CODE_OK,
	S_CODE_PRUNE,
	S_ACC_GET,
	S_ACC_UPDATE,
	S_ACC_NEW,
	S_ACC_IDENT,
	S_USER_BY_UNIONID,
	S_USER_NEW,
	S_USER_SET_UNIONID,
	S_SESSION_NEW,
	S_REFRESH_GET,
	S_REFRESH_ROTATE,
	S_REFRESH_USED_ADD,
	S_REFRESH_USED_GET,
	S_REVOKE_SESSION,
	S_REVOKE_USER,
	S_LOAD_REVOKED,
	S_LOAD_MERGES,
	S_AUDIT,
	S_MERGE_LOCK,
	S_MERGE_FIELDS,
	S_MERGE_TOMBSTONE,
	S_MERGE_UNIONID,
	S_MERGE_RECORD,
	S__MAX
};

static const struct {
	const char *name;
	const char *sql;
} stmts[S__MAX] = {
	[S_PING] = {"ping", "SELECT 1"},
	[S_LOCK_TIMEOUT] = {"lock_timeout",
	    "SELECT set_config('lock_timeout', $1, false)"},
	/* Two logins with one code wait for each other here. */
	[S_CODE_LOCK] = {"code_lock", "SELECT pg_advisory_lock($1::bigint)"},
	[S_CODE_UNLOCK] = {"code_unlock", "SELECT pg_advisory_unlock($1::bigint)"},
	[S_CODE_GET] = {"code_get",
	    "SELECT account_id FROM login_codes"
	    " WHERE code_hash = $1 AND created_at > now() - interval '60 seconds'"},
	[S_CODE_OK] = {"code_ok",
	    "INSERT INTO login_codes (code_hash, appid, account_id) VALUES ($1, $2, $3)"
	    " ON CONFLICT (code_hash) DO UPDATE SET account_id = EXCLUDED.account_id,"
	    " created_at = now()"},
	[S_CODE_PRUNE] = {"code_prune",
	    "DELETE FROM login_codes WHERE created_at < now() - interval '10 minutes'"},
	[S_ACC_GET] = {"acc_get",
	    "SELECT a.id, a.user_id, coalesce(u.unionid, '') FROM accounts a"
	    " JOIN users u ON u.id = a.user_id"
	    " WHERE a.appid = $1 AND a.openid = $2 FOR UPDATE OF a"},
	[S_ACC_UPDATE] = {"acc_update",
	    "UPDATE accounts SET session_key = $2, session_key_at = now(),"
	    " last_login = now(), unionid = coalesce($3, unionid) WHERE id = $1"},
	[S_ACC_NEW] = {"acc_new",
	    "INSERT INTO accounts (appid, openid, user_id, unionid, session_key,"
	    " session_key_at) VALUES ($1, $2, $3, $4, $5, now()) RETURNING id"},
	[S_ACC_IDENT] = {"acc_ident",
	    "SELECT a.id, a.user_id, coalesce(u.unionid, ''), a.appid, a.openid"
	    " FROM accounts a JOIN users u ON u.id = a.user_id WHERE a.id = $1"},
	[S_USER_BY_UNIONID] = {"user_by_unionid",
	    "SELECT id FROM users WHERE unionid = $1 AND merged_into IS NULL"},
	[S_USER_NEW] = {"user_new",
	    "INSERT INTO users (unionid) VALUES ($1) RETURNING id"},
	[S_USER_SET_UNIONID] = {"user_set_unionid",
	    "UPDATE users SET unionid = $2, updated_at = now()"
	    " WHERE id = $1 AND unionid IS NULL"},
	[S_SESSION_NEW] = {"session_new",
	    "INSERT INTO sessions (user_id, account_id, refresh_hash, expires_at, ip,"
	    " user_agent) VALUES ($1, $2, $3, now() + make_interval(secs => $4), $5,"
	    " $6) RETURNING id"},
	[S_REFRESH_GET] = {"refresh_get",
	    "SELECT s.id, s.user_id, s.account_id, s.revoked_at IS NOT NULL,"
	    " s.expires_at <= now(), a.appid, a.openid, coalesce(u.unionid, '')"
	    " FROM sessions s JOIN accounts a ON a.id = s.account_id"
	    " JOIN users u ON u.id = s.user_id"
	    " WHERE s.refresh_hash = $1 FOR UPDATE OF s"},
	[S_REFRESH_ROTATE] = {"refresh_rotate",
	    "UPDATE sessions SET refresh_hash = $2, refreshed_at = now(),"
	    " expires_at = now() + make_interval(secs => $3) WHERE id = $1"},
	[S_REFRESH_USED_ADD] = {"refresh_used_add",
	    "INSERT INTO refresh_used (hash, session_id) VALUES ($1, $2)"},
	[S_REFRESH_USED_GET] = {"refresh_used_get",
	    "SELECT s.id, s.user_id FROM refresh_used r"
	    " JOIN sessions s ON s.id = r.session_id WHERE r.hash = $1"},
	/* Ending sessions and telling every worker is one statement, so that
	 * the notifications go out exactly when the change commits. */
	[S_REVOKE_SESSION] = {"revoke_session",
	    "WITH r AS (UPDATE sessions SET revoked_at = now(), revoke_reason = $2"
	    " WHERE id = $1 AND revoked_at IS NULL RETURNING id)"
	    " SELECT count(pg_notify('wxauth_revoke', id::text)) FROM r"},
	[S_REVOKE_USER] = {"revoke_user",
	    "WITH r AS (UPDATE sessions SET revoked_at = now(), revoke_reason = $2"
	    " WHERE user_id = $1 AND revoked_at IS NULL RETURNING id)"
	    " SELECT count(pg_notify('wxauth_revoke', id::text)) FROM r"},
	[S_LOAD_REVOKED] = {"load_revoked",
	    "SELECT id::text FROM sessions"
	    " WHERE revoked_at > now() - make_interval(secs => $1)"},
	[S_LOAD_MERGES] = {"load_merges",
	    "SELECT from_user::text, into_user::text FROM merges"
	    " WHERE undone_at IS NULL AND at > now() - make_interval(secs => $1)"
	    " ORDER BY id"},
	/* Both users locked in one order (by id), so two merges of the same
	 * pair in opposite directions queue instead of deadlocking. */
	[S_MERGE_LOCK] = {"merge_lock",
	    "SELECT id::text, coalesce(unionid, ''), merged_into IS NOT NULL,"
	    " extract(epoch FROM created_at)::float8 FROM users WHERE id IN ($1, $2)"
	    " ORDER BY id FOR UPDATE"},
	/* Fill the survivor's empty profile fields from the loser; return the
	 * names of the fields filled, for the merges row (and undo). */
	[S_MERGE_FIELDS] = {"merge_fields",
	    "WITH f AS (SELECT array_remove(ARRAY["
	    " CASE WHEN s.nickname IS NULL AND l.nickname IS NOT NULL THEN 'nickname' END,"
	    " CASE WHEN s.avatar_url IS NULL AND l.avatar_url IS NOT NULL THEN 'avatar_url' END,"
	    " CASE WHEN s.gender IS NULL AND l.gender IS NOT NULL THEN 'gender' END,"
	    " CASE WHEN s.country IS NULL AND l.country IS NOT NULL THEN 'country' END,"
	    " CASE WHEN s.province IS NULL AND l.province IS NOT NULL THEN 'province' END,"
	    " CASE WHEN s.city IS NULL AND l.city IS NOT NULL THEN 'city' END,"
	    " CASE WHEN s.language IS NULL AND l.language IS NOT NULL THEN 'language' END,"
	    " CASE WHEN s.phone IS NULL AND l.phone IS NOT NULL THEN 'phone' END], NULL) AS names"
	    " FROM users s, users l WHERE s.id = $2 AND l.id = $1),"
	    " u AS (UPDATE users s SET nickname = coalesce(s.nickname, l.nickname),"
	    " avatar_url = coalesce(s.avatar_url, l.avatar_url),"
	    " gender = coalesce(s.gender, l.gender), country = coalesce(s.country, l.country),"
	    " province = coalesce(s.province, l.province), city = coalesce(s.city, l.city),"
	    " language = coalesce(s.language, l.language),"
	    " phone = CASE WHEN s.phone IS NULL THEN l.phone ELSE s.phone END,"
	    " pure_phone = CASE WHEN s.phone IS NULL THEN l.pure_phone ELSE s.pure_phone END,"
	    " country_code = CASE WHEN s.phone IS NULL THEN l.country_code ELSE s.country_code END,"
	    " updated_at = now() FROM users l WHERE s.id = $2 AND l.id = $1 RETURNING s.id)"
	    " SELECT to_json(names) FROM f, u"},
	[S_MERGE_TOMBSTONE] = {"merge_tombstone",
	    "UPDATE users SET merged_into = $2, updated_at = now() WHERE id = $1"},
	[S_MERGE_UNIONID] = {"merge_unionid",
	    "UPDATE users SET unionid = $2, updated_at = now()"
	    " WHERE id = $1 AND unionid IS NULL"},
	/* Move accounts and sessions and record exactly which, in one
	 * statement: the merges row is what undo replays backwards. */
	[S_MERGE_RECORD] = {"merge_record",
	    "WITH a AS (UPDATE accounts SET user_id = $2 WHERE user_id = $1 RETURNING id),"
	    " s AS (UPDATE sessions SET user_id = $2 WHERE user_id = $1 RETURNING id),"
	    " m AS (INSERT INTO merges (from_user, into_user, reason, unionid, moved)"
	    " VALUES ($1, $2, $3, $4, jsonb_build_object("
	    " 'accounts', (SELECT coalesce(jsonb_agg(id ORDER BY id), '[]') FROM a),"
	    " 'sessions', (SELECT coalesce(jsonb_agg(id ORDER BY id), '[]') FROM s),"
	    " 'fields', $5::jsonb, 'unionid', $6::boolean)) RETURNING id)"
	    " SELECT id, pg_notify('wxauth_merge', $1 || ':' || $2) FROM m"},
	[S_AUDIT] = {"audit",
	    "INSERT INTO audit_log (event, user_id, account_id, session_id,"
	    " request_id, ip, detail) VALUES ($1, $2, $3, $4, $5, $6,"
	    " coalesce($7, '{}')::jsonb)"},
};

struct db {
	PGconn *conn;
	char *conninfo;
	db_event_fn on_event;
	void *arg;
	long reload_window;
	time_t last_attempt;
	unsigned long logins;   /* to prune login_codes now and then */
};

/* Parameters of one statement: text, or binary for bytea. */
struct params {
	const char *v[8];
	int len[8];
	int fmt[8];
	int n;
	char num[8][24];        /* storage for numbers rendered as text */
};

static void
p_text(struct params *p, const char *s)
{
	p->v[p->n] = (s != NULL && *s != '\0') ? s : NULL;
	p->len[p->n] = 0;
	p->fmt[p->n] = 0;
	p->n++;
}

static void
p_bin(struct params *p, const unsigned char *b, size_t n)
{
	p->v[p->n] = (const char *)b;
	p->len[p->n] = (int)n;
	p->fmt[p->n] = 1;
	p->n++;
}

static void
p_int(struct params *p, long long x)
{
	snprintf(p->num[p->n], sizeof(p->num[p->n]), "%lld", x);
	p_text(p, p->num[p->n]);
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

static void
copy(char *dst, size_t dstlen, const char *src)
{
	snprintf(dst, dstlen, "%s", src != NULL ? src : "");
}

static void
disconnect(struct db *db)
{
	if (db->conn != NULL)
		PQfinish(db->conn);
	db->conn = NULL;
}

/*
 * classify: what a failed result means. Unique violations, serialisation
 * failures and deadlocks are worth running the transaction again; a lost
 * connection is ERR_DB_UNAVAILABLE; anything else is a bug in our SQL.
 */
static enum err
classify(struct db *db, PGresult *res, enum stmt s)
{
	const char *state = res != NULL ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;

	if (state != NULL && (strcmp(state, "23505") == 0 ||
	    strcmp(state, "40001") == 0 || strcmp(state, "40P01") == 0))
		return ERR_RETRY;
	if (state != NULL && strcmp(state, "55P03") == 0)
		return ERR_UPSTREAM_TIMEOUT;    /* lock_timeout while waiting */
	if (PQstatus(db->conn) != CONNECTION_OK || state == NULL ||
	    strncmp(state, "08", 2) == 0 || strncmp(state, "57", 2) == 0) {
		log_warnx("db: %s: connection lost: %s", stmts[s].name,
		    PQerrorMessage(db->conn));
		disconnect(db);
		return ERR_DB_UNAVAILABLE;
	}
	log_warnx("db: %s failed: SQLSTATE %s: %s", stmts[s].name, state,
	    res != NULL ? PQresultErrorMessage(res) : "");
	return ERR_INTERNAL;
}

/* exec: run statement s; *out holds the result on OK (caller PQclears). */
static enum err
exec(struct db *db, enum stmt s, const struct params *p, PGresult **out)
{
	PGresult *res;
	ExecStatusType st;
	enum err rc;

	*out = NULL;
	if (db->conn == NULL)
		return ERR_DB_UNAVAILABLE;
	res = PQexecPrepared(db->conn, stmts[s].name, p != NULL ? p->n : 0,
	    p != NULL ? p->v : NULL, p != NULL ? p->len : NULL,
	    p != NULL ? p->fmt : NULL, 0);
	st = res != NULL ? PQresultStatus(res) : PGRES_FATAL_ERROR;
	if (st == PGRES_TUPLES_OK || st == PGRES_COMMAND_OK) {
		*out = res;
		return OK;
	}
	rc = classify(db, res, s);
	PQclear(res);
	return rc;
}

/* exec_one: run s and require exactly one row in *out. */
static enum err
exec_row(struct db *db, enum stmt s, const struct params *p, PGresult **out)
{
	enum err rc = exec(db, s, p, out);

	if (rc == OK && PQntuples(*out) != 1) {
		PQclear(*out);
		*out = NULL;
		return ERR_NOT_FOUND;
	}
	return rc;
}

static enum err
command(struct db *db, const char *sql)
{
	PGresult *res;
	enum err rc = OK;

	if (db->conn == NULL)
		return ERR_DB_UNAVAILABLE;
	res = PQexec(db->conn, sql);
	if (res == NULL || PQresultStatus(res) != PGRES_COMMAND_OK) {
		rc = classify(db, res, S_PING);
		if (rc == ERR_INTERNAL)
			log_warnx("db: %s failed", sql);
	}
	PQclear(res);
	return rc;
}

static void
reload(struct db *db)
{
	PGresult *res = NULL;
	struct params p = {0};
	int i;

	db->on_event(db->arg, 'r', NULL, NULL);
	p_int(&p, db->reload_window + 60);
	if (exec(db, S_LOAD_REVOKED, &p, &res) == OK)
		for (i = 0; i < PQntuples(res); i++)
			db->on_event(db->arg, 's', PQgetvalue(res, i, 0), NULL);
	PQclear(res);
	res = NULL;
	if (exec(db, S_LOAD_MERGES, &p, &res) == OK)
		for (i = 0; i < PQntuples(res); i++)
			db->on_event(db->arg, 'm', PQgetvalue(res, i, 0),
			    PQgetvalue(res, i, 1));
	PQclear(res);
}

static enum err
connect_db(struct db *db)
{
	PGresult *res;
	time_t now = time(NULL);
	int i;

	if (db->conn != NULL && PQstatus(db->conn) == CONNECTION_OK)
		return OK;
	disconnect(db);
	if (now - db->last_attempt < RECONNECT_EVERY)
		return ERR_DB_UNAVAILABLE;
	db->last_attempt = now;
	db->conn = PQconnectdb(db->conninfo);
	if (db->conn == NULL || PQstatus(db->conn) != CONNECTION_OK) {
		log_warnx("db: cannot connect: %s", db->conn != NULL ?
		    PQerrorMessage(db->conn) : "out of memory");
		disconnect(db);
		return ERR_DB_UNAVAILABLE;
	}
	for (i = 0; i < S__MAX; i++) {
		res = PQprepare(db->conn, stmts[i].name, stmts[i].sql, 0, NULL);
		if (res == NULL || PQresultStatus(res) != PGRES_COMMAND_OK) {
			log_warnx("db: cannot prepare %s: %s", stmts[i].name,
			    PQerrorMessage(db->conn));
			PQclear(res);
			disconnect(db);
			return ERR_DB_UNAVAILABLE;
		}
		PQclear(res);
	}
	/* LISTEN before loading, so that nothing falls between the two. */
	if (command(db, "LISTEN wxauth_revoke") != OK ||
	    command(db, "LISTEN wxauth_merge") != OK)
		return ERR_DB_UNAVAILABLE;
	reload(db);
	if (db->conn == NULL)
		return ERR_DB_UNAVAILABLE;
	log_info("db: connected");
	return OK;
}

struct db *
db_new(const char *conninfo, db_event_fn on_event, void *arg, long reload_window)
{
	struct db *db = calloc(1, sizeof(*db));

	if (db == NULL || (db->conninfo = strdup(conninfo)) == NULL) {
		free(db);
		return NULL;
	}
	db->on_event = on_event;
	db->arg = arg;
	db->reload_window = reload_window;
	return db;
}

void
db_free(struct db *db)
{
	if (db == NULL)
		return;
	disconnect(db);
	free(db->conninfo);
	free(db);
}

enum err
db_poll(struct db *db)
{
	PGnotify *n;
	char *sep;
	enum err rc;

	if ((rc = connect_db(db)) != OK)
		return rc;
	if (PQconsumeInput(db->conn) == 0) {
		log_warnx("db: connection lost: %s", PQerrorMessage(db->conn));
		disconnect(db);
		return connect_db(db);
	}
	while ((n = PQnotifies(db->conn)) != NULL) {
		if (strcmp(n->relname, "wxauth_revoke") == 0) {
			db->on_event(db->arg, 's', n->extra, NULL);
		} else if (strcmp(n->relname, "wxauth_merge") == 0 &&
		    (sep = strchr(n->extra, ':')) != NULL) {
			*sep = '\0';
			db->on_event(db->arg, 'm', n->extra, sep + 1);
		}
		PQfreemem(n);
	}
	return OK;
}

enum err
db_ping(struct db *db)
{
	PGresult *res = NULL;
	enum err rc;

	if ((rc = connect_db(db)) != OK)
		return rc;
	rc = exec(db, S_PING, NULL, &res);
	PQclear(res);
	return rc;
}

/*
 * txn: run fn in a transaction, again on ERR_RETRY, at most TXN_TRIES
 * times. fn must leave nothing behind in the caller's state that a second
 * run would not overwrite.
 */
static enum err
txn(struct db *db, enum err (*fn)(struct db *, void *), void *arg)
{
	enum err rc = ERR_DB_UNAVAILABLE;
	int i;

	for (i = 0; i < TXN_TRIES; i++) {
		if ((rc = connect_db(db)) != OK)
			return rc;
		if ((rc = command(db, "BEGIN")) != OK)
			return rc;
		rc = fn(db, arg);
		if (rc == OK)
			rc = command(db, "COMMIT");
		else if (db->conn != NULL)
			(void)command(db, "ROLLBACK");
		if (rc != ERR_RETRY)
			return rc;
	}
	log_warnx("db: transaction failed %d times in a row", TXN_TRIES);
	return ERR_DB_UNAVAILABLE;
}

static enum err
audit(struct db *db, const char *event, const char *user_id, long long account_id,
    const char *session_id, const char *request_id, const char *ip,
    const char *detail)
{
	struct params p = {0};
	PGresult *res = NULL;
	enum err rc;

	p_text(&p, event);
	p_text(&p, user_id);
	if (account_id > 0)
		p_int(&p, account_id);
	else
		p_text(&p, NULL);
	p_text(&p, session_id);
	p_text(&p, request_id);
	p_text(&p, ip);
	p_text(&p, detail);
	rc = exec(db, S_AUDIT, &p, &res);
	PQclear(res);
	return rc;
}

/* ---- idempotent login ---- */

enum err
db_code_lock(struct db *db, const unsigned char *code_hash, long wait_ms,
    long long *account_id)
{
	struct params p = {0};
	PGresult *res = NULL;
	char ms[32];
	enum err rc;

	*account_id = 0;
	if ((rc = connect_db(db)) != OK)
		return rc;
	snprintf(ms, sizeof(ms), "%ldms", wait_ms);
	p_text(&p, ms);
	if ((rc = exec(db, S_LOCK_TIMEOUT, &p, &res)) != OK)
		goto out;
	PQclear(res);
	res = NULL;
	memset(&p, 0, sizeof(p));
	p_int(&p, code_key(code_hash));
	if ((rc = exec(db, S_CODE_LOCK, &p, &res)) != OK)
		goto out;
	PQclear(res);
	res = NULL;
	memset(&p, 0, sizeof(p));
	p_bin(&p, code_hash, TOK_HASHBYTES);
	if ((rc = exec(db, S_CODE_GET, &p, &res)) != OK) {
		db_code_unlock(db, code_hash);
		goto out;
	}
	if (PQntuples(res) == 1)
		*account_id = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
out:
	PQclear(res);
	return rc;
}

void
db_code_unlock(struct db *db, const unsigned char *code_hash)
{
	struct params p = {0};
	PGresult *res = NULL;

	/* A lost connection releases the lock by itself. */
	p_int(&p, code_key(code_hash));
	if (exec(db, S_CODE_UNLOCK, &p, &res) == OK)
		PQclear(res);
}

/* ---- login ---- */

struct login_ctx {
	const struct db_login *in;
	long long account_id;           /* db_login_again: the account */
	struct db_ident *out;
};

/* open_session: the session row and the audit row of a login. */
static enum err
open_session(struct db *db, struct login_ctx *x, const char *event)
{
	struct params p = {0};
	PGresult *res = NULL;
	enum err rc;

	p_text(&p, x->out->user_id);
	p_int(&p, x->out->account_id);
	p_bin(&p, x->in->refresh_hash, TOK_HASHBYTES);
	p_int(&p, x->in->refresh_ttl);
	p_text(&p, x->in->ip);
	p_text(&p, x->in->user_agent);
	if ((rc = exec_row(db, S_SESSION_NEW, &p, &res)) != OK)
		goto out;
	copy(x->out->session_id, sizeof(x->out->session_id), PQgetvalue(res, 0, 0));
	memset(&p, 0, sizeof(p));
	p_bin(&p, x->in->code_hash, TOK_HASHBYTES);
	p_text(&p, x->in->appid);
	p_int(&p, x->out->account_id);
	PQclear(res);
	res = NULL;
	if ((rc = exec(db, S_CODE_OK, &p, &res)) != OK)
		goto out;
	rc = audit(db, event, x->out->user_id, x->out->account_id,
	    x->out->session_id, x->in->request_id, x->in->ip,
	    x->out->created ? "{\"created\":true}" : NULL);
out:
	PQclear(res);
	return rc;
}

/*
 * merge: join users a and b, inside the caller's transaction. The older
 * user survives; every account and session of the other moves to it, the
 * survivor's empty profile fields are filled from the loser, the loser
 * stays as a tombstone, and a merges row records exactly what moved (for
 * the feed and for undo). Every worker is told through NOTIFY wxauth_merge.
 * *survivor and *loser receive the two ids. Returns OK, ERR_UNIONID_CONFLICT
 * (two different unionids: never merged), ERR_RETRY when one of them was
 * merged meanwhile, or a database error.
 */
static enum err
merge(struct db *db, const char *a, const char *b, const char *reason,
    const char *request_id, char *survivor, char *loser)
{
	struct params p = {0};
	PGresult *res = NULL;
	char uni[2][UNIONID_MAX + 1], fields[512], merge_id[32], detail[256];
	const char *keep_uni;
	int older, n;
	enum err rc;

	p_text(&p, a);
	p_text(&p, b);
	if ((rc = exec(db, S_MERGE_LOCK, &p, &res)) != OK)
		goto out;
	if (PQntuples(res) != 2 || strcmp(PQgetvalue(res, 0, 2), "t") == 0 ||
	    strcmp(PQgetvalue(res, 1, 2), "t") == 0) {
		rc = ERR_RETRY;         /* merged by someone else meanwhile */
		goto out;
	}
	copy(uni[0], sizeof(uni[0]), PQgetvalue(res, 0, 1));
	copy(uni[1], sizeof(uni[1]), PQgetvalue(res, 1, 1));
	if (uni[0][0] != '\0' && uni[1][0] != '\0' && strcmp(uni[0], uni[1]) != 0) {
		rc = ERR_UNIONID_CONFLICT;
		goto out;
	}
	/* The older user survives: ids downstream have known it longest. */
	older = strtod(PQgetvalue(res, 0, 3), NULL) <= strtod(PQgetvalue(res, 1, 3), NULL) ? 0 : 1;
	copy(survivor, UUID_STR, PQgetvalue(res, older, 0));
	copy(loser, UUID_STR, PQgetvalue(res, !older, 0));
	keep_uni = uni[older][0] != '\0' ? uni[older] : uni[!older];
	PQclear(res);
	res = NULL;

	memset(&p, 0, sizeof(p));
	p_text(&p, loser);
	p_text(&p, survivor);
	if ((rc = exec_row(db, S_MERGE_FIELDS, &p, &res)) != OK)
		goto out;
	copy(fields, sizeof(fields), PQgetvalue(res, 0, 0));
	PQclear(res);
	res = NULL;
	memset(&p, 0, sizeof(p));
	p_text(&p, loser);
	p_text(&p, survivor);
	p_text(&p, reason);
	p_text(&p, keep_uni);
	p_text(&p, fields);
	p_text(&p, uni[older][0] == '\0' && uni[!older][0] != '\0' ? "true" : "false");
	if ((rc = exec_row(db, S_MERGE_RECORD, &p, &res)) != OK)
		goto out;
	copy(merge_id, sizeof(merge_id), PQgetvalue(res, 0, 0));
	PQclear(res);
	res = NULL;
	/* Tombstone first: the unique index then lets the survivor take the
	 * loser's unionid. */
	memset(&p, 0, sizeof(p));
	p_text(&p, loser);
	p_text(&p, survivor);
	if ((rc = exec(db, S_MERGE_TOMBSTONE, &p, &res)) != OK)
		goto out;
	PQclear(res);
	res = NULL;
	if (uni[older][0] == '\0' && uni[!older][0] != '\0') {
		memset(&p, 0, sizeof(p));
		p_text(&p, survivor);
		p_text(&p, uni[!older]);
		if ((rc = exec(db, S_MERGE_UNIONID, &p, &res)) != OK)
			goto out;
		PQclear(res);
		res = NULL;
	}
	n = snprintf(detail, sizeof(detail), "{\"merge\":%s,\"from\":\"%s\",\"reason\":\"%s\"}",
	    merge_id, loser, reason);
	rc = audit(db, "merge", survivor, 0, NULL, request_id, NULL,
	    n > 0 && (size_t)n < sizeof(detail) ? detail : NULL);
out:
	PQclear(res);
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
	struct params p = {0};
	PGresult *res = NULL;
	char other[UUID_STR], survivor[UUID_STR], loser[UUID_STR];
	enum err rc = OK;

	if (unionid == NULL || *unionid == '\0')
		return OK;
	if (id->unionid[0] != '\0') {
		return strcmp(id->unionid, unionid) == 0 ? OK : ERR_UNIONID_CONFLICT;
	}
	p_text(&p, unionid);
	if ((rc = exec(db, S_USER_BY_UNIONID, &p, &res)) != OK)
		goto out;
	if (PQntuples(res) == 0) {
		memset(&p, 0, sizeof(p));
		p_text(&p, id->user_id);
		p_text(&p, unionid);
		PQclear(res);
		res = NULL;
		if ((rc = exec(db, S_USER_SET_UNIONID, &p, &res)) != OK)
			goto out;
	} else {
		copy(other, sizeof(other), PQgetvalue(res, 0, 0));
		if ((rc = merge(db, id->user_id, other, "unionid", request_id,
		    survivor, loser)) != OK)
			goto out;
		copy(id->user_id, sizeof(id->user_id), survivor);
		copy(id->merged_from, sizeof(id->merged_from), loser);
	}
	copy(id->unionid, sizeof(id->unionid), unionid);
out:
	PQclear(res);
	return rc;
}

static enum err
login_txn(struct db *db, void *arg)
{
	struct login_ctx *x = arg;
	const struct db_login *in = x->in;
	struct db_ident *out = x->out;
	struct params p = {0};
	PGresult *res = NULL;
	enum err rc;

	memset(out, 0, sizeof(*out));
	copy(out->appid, sizeof(out->appid), in->appid);
	copy(out->openid, sizeof(out->openid), in->openid);

	p_text(&p, in->appid);
	p_text(&p, in->openid);
	if ((rc = exec(db, S_ACC_GET, &p, &res)) != OK)
		goto out;
	if (PQntuples(res) == 1) {
		/* A returning account: new session_key, maybe a new unionid. */
		out->account_id = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
		copy(out->user_id, sizeof(out->user_id), PQgetvalue(res, 0, 1));
		copy(out->unionid, sizeof(out->unionid), PQgetvalue(res, 0, 2));
		memset(&p, 0, sizeof(p));
		p_int(&p, out->account_id);
		p_bin(&p, in->sealed_key, in->sealed_len);
		p_text(&p, in->unionid);
		PQclear(res);
		res = NULL;
		if ((rc = exec(db, S_ACC_UPDATE, &p, &res)) != OK)
			goto out;
		if ((rc = link_unionid(db, out, in->unionid, in->request_id)) != OK)
			goto out;
	} else {
		/* A new account joins the user holding its unionid, if any. */
		PQclear(res);
		res = NULL;
		if (in->unionid != NULL && *in->unionid != '\0') {
			memset(&p, 0, sizeof(p));
			p_text(&p, in->unionid);
			if ((rc = exec(db, S_USER_BY_UNIONID, &p, &res)) != OK)
				goto out;
			if (PQntuples(res) == 1)
				copy(out->user_id, sizeof(out->user_id), PQgetvalue(res, 0, 0));
			PQclear(res);
			res = NULL;
		}
		if (out->user_id[0] == '\0') {
			/* A concurrent login of the same person may create the
			 * same unionid: the unique index turns that into a retry,
			 * which then finds the other user. */
			memset(&p, 0, sizeof(p));
			p_text(&p, in->unionid);
			if ((rc = exec_row(db, S_USER_NEW, &p, &res)) != OK)
				goto out;
			copy(out->user_id, sizeof(out->user_id), PQgetvalue(res, 0, 0));
			out->created = true;
			PQclear(res);
			res = NULL;
		}
		copy(out->unionid, sizeof(out->unionid), in->unionid);
		memset(&p, 0, sizeof(p));
		p_text(&p, in->appid);
		p_text(&p, in->openid);
		p_text(&p, out->user_id);
		p_text(&p, in->unionid);
		p_bin(&p, in->sealed_key, in->sealed_len);
		if ((rc = exec_row(db, S_ACC_NEW, &p, &res)) != OK)
			goto out;
		out->account_id = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
	}
	rc = open_session(db, x, "login");
out:
	PQclear(res);
	return rc;
}

enum err
db_login(struct db *db, const struct db_login *in, struct db_ident *out)
{
	struct login_ctx x = {in, 0, out};
	struct params p = {0};
	PGresult *res = NULL;
	enum err rc;

	rc = txn(db, login_txn, &x);
	if (rc == ERR_UNIONID_CONFLICT) {
		/* The login rolled back; the refusal is still recorded. */
		log_warnx("db: unionid conflict: account %s/%s of user %s not merged",
		    in->appid, in->openid, out->user_id);
		(void)audit(db, "unionid_conflict", out->user_id, out->account_id,
		    NULL, in->request_id, in->ip, NULL);
	}
	if (rc == OK && ++db->logins % 256 == 0 &&
	    exec(db, S_CODE_PRUNE, &p, &res) == OK)
		PQclear(res);
	return rc;
}

static enum err
login_again_txn(struct db *db, void *arg)
{
	struct login_ctx *x = arg;
	struct params p = {0};
	PGresult *res = NULL;
	enum err rc;

	memset(x->out, 0, sizeof(*x->out));
	p_int(&p, x->account_id);
	if ((rc = exec_row(db, S_ACC_IDENT, &p, &res)) != OK)
		goto out;
	x->out->account_id = x->account_id;
	copy(x->out->user_id, sizeof(x->out->user_id), PQgetvalue(res, 0, 1));
	copy(x->out->unionid, sizeof(x->out->unionid), PQgetvalue(res, 0, 2));
	copy(x->out->appid, sizeof(x->out->appid), PQgetvalue(res, 0, 3));
	copy(x->out->openid, sizeof(x->out->openid), PQgetvalue(res, 0, 4));
	rc = open_session(db, x, "login_repeat");
out:
	PQclear(res);
	return rc;
}

enum err
db_login_again(struct db *db, long long account_id, const struct db_login *in,
    struct db_ident *out)
{
	struct login_ctx x = {in, account_id, out};

	return txn(db, login_again_txn, &x);
}

/* ---- refresh ---- */

struct refresh_ctx {
	const unsigned char *old_hash, *new_hash;
	long ttl;
	const char *request_id;
	struct db_ident *out;
	enum err verdict;       /* what the client is told, once committed */
};

static enum err
revoke_one(struct db *db, const char *sid, const char *reason, long *count)
{
	struct params p = {0};
	PGresult *res = NULL;
	enum err rc;

	p_text(&p, sid);
	p_text(&p, reason);
	if ((rc = exec_row(db, S_REVOKE_SESSION, &p, &res)) == OK && count != NULL)
		*count = strtol(PQgetvalue(res, 0, 0), NULL, 10);
	PQclear(res);
	return rc;
}

static enum err
refresh_txn(struct db *db, void *arg)
{
	struct refresh_ctx *x = arg;
	struct db_ident *out = x->out;
	struct params p = {0};
	PGresult *res = NULL;
	char sid[UUID_STR], uid[UUID_STR];
	enum err rc;

	memset(out, 0, sizeof(*out));
	x->verdict = OK;
	p_bin(&p, x->old_hash, TOK_HASHBYTES);
	if ((rc = exec(db, S_REFRESH_GET, &p, &res)) != OK)
		goto out;
	if (PQntuples(res) == 0) {
		/* Not current. An already rotated token used again means it
		 * leaked, or a client raced itself: end the session either
		 * way, so a thief holding either token is locked out. */
		PQclear(res);
		res = NULL;
		if ((rc = exec(db, S_REFRESH_USED_GET, &p, &res)) != OK)
			goto out;
		if (PQntuples(res) == 0) {
			x->verdict = ERR_INVALID_TOKEN;
			goto out;
		}
		copy(sid, sizeof(sid), PQgetvalue(res, 0, 0));
		copy(uid, sizeof(uid), PQgetvalue(res, 0, 1));
		if ((rc = revoke_one(db, sid, "refresh_reuse", NULL)) != OK)
			goto out;
		rc = audit(db, "refresh_reuse", uid, 0, sid, x->request_id, NULL, NULL);
		x->verdict = ERR_SESSION_REVOKED;
		goto out;
	}
	copy(out->session_id, sizeof(out->session_id), PQgetvalue(res, 0, 0));
	copy(out->user_id, sizeof(out->user_id), PQgetvalue(res, 0, 1));
	out->account_id = strtoll(PQgetvalue(res, 0, 2), NULL, 10);
	copy(out->appid, sizeof(out->appid), PQgetvalue(res, 0, 5));
	copy(out->openid, sizeof(out->openid), PQgetvalue(res, 0, 6));
	copy(out->unionid, sizeof(out->unionid), PQgetvalue(res, 0, 7));
	if (strcmp(PQgetvalue(res, 0, 3), "t") == 0) {
		x->verdict = ERR_SESSION_REVOKED;
		goto out;
	}
	if (strcmp(PQgetvalue(res, 0, 4), "t") == 0) {
		x->verdict = ERR_TOKEN_EXPIRED;
		goto out;
	}
	memset(&p, 0, sizeof(p));
	p_text(&p, out->session_id);
	p_bin(&p, x->new_hash, TOK_HASHBYTES);
	p_int(&p, x->ttl);
	PQclear(res);
	res = NULL;
	if ((rc = exec(db, S_REFRESH_ROTATE, &p, &res)) != OK)
		goto out;
	memset(&p, 0, sizeof(p));
	p_bin(&p, x->old_hash, TOK_HASHBYTES);
	p_text(&p, out->session_id);
	PQclear(res);
	res = NULL;
	rc = exec(db, S_REFRESH_USED_ADD, &p, &res);
out:
	PQclear(res);
	return rc;
}

enum err
db_refresh(struct db *db, const unsigned char *old_hash,
    const unsigned char *new_hash, long refresh_ttl, const char *request_id,
    struct db_ident *out)
{
	struct refresh_ctx x = {old_hash, new_hash, refresh_ttl, request_id, out, OK};
	enum err rc;

	/* The revocation that reuse detection makes must commit even though
	 * the request is refused, so the verdict travels beside rc. */
	if ((rc = txn(db, refresh_txn, &x)) != OK)
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
	struct params p = {0};
	PGresult *res = NULL;
	enum err rc;

	x->count = 0;
	if (x->all) {
		p_text(&p, x->user_id);
		p_text(&p, "logout_all");
		if ((rc = exec_row(db, S_REVOKE_USER, &p, &res)) != OK)
			goto out;
		x->count = strtol(PQgetvalue(res, 0, 0), NULL, 10);
	} else if ((rc = revoke_one(db, x->sid, "logout", &x->count)) != OK) {
		goto out;
	}
	rc = audit(db, x->all ? "logout_all" : "logout", x->user_id, 0, x->sid,
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

	rc = txn(db, logout_txn, &x);
	*count = x.count;
	return rc;
}
