/*
 * db_admin.c - what downstream services and operators ask: the merge feed,
 * user look-ups that follow merges, revoking a user's sessions, and audit
 * rows for refusals.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libpq-fe.h>

#include "db.h"
#include "dbi.h"
#include "log.h"

enum admin_stmt {
	A_FEED,
	A_FIND_ID,
	A_FIND_ACCOUNT,
	A_FIND_UNIONID,
	A_USER_JSON,
	A_REVOKE_USER,
	A_DENIED,
	A_PRUNE,
	A_EVENT_SEQ_LOCK,
	A_EVENT_SEQ_GIVE,
	A_EVENTS,
	A_DISABLE,
	A_DISABLE_REVOKE,
	A_ENABLE,
	A__MAX
};

const struct db_stmt db_admin_stmts[] = {
	/* Stable paging: ids only grow, so ?after=LAST never skips a row. */
	[A_FEED] = {"admin_feed",
	    "SELECT coalesce(json_agg(json_build_object('id', id, 'from_user', from_user,"
	    " 'into_user', into_user, 'reason', reason, 'unionid', unionid, 'at', " DB_TIME("at")
	    ", 'undone_at', " DB_TIME("undone_at") ") ORDER BY id), '[]') FROM (SELECT * FROM merges"
	    " WHERE id > $1 ORDER BY id LIMIT $2) m"},
	[A_FIND_ID] = {"admin_find_id", "SELECT id FROM users WHERE id = $1"},
	[A_FIND_ACCOUNT] = {"admin_find_account",
	    "SELECT user_id FROM accounts WHERE appid = $1 AND openid = $2"},
	/* A live holder first; else the tombstone that held it. */
	[A_FIND_UNIONID] = {"admin_find_unionid",
	    "SELECT id FROM users WHERE unionid = $1"
	    " ORDER BY merged_into IS NULL DESC, created_at LIMIT 1"},
	/* Follows merges to the live user, then describes it. */
	[A_USER_JSON] = {"admin_user_json",
	    DB_LIVE_USER
	    " SELECT json_build_object('user', json_build_object('id', u.id,"
	    " 'unionid', u.unionid, 'nickname', u.nickname, 'avatar_url', u.avatar_url,"
	    " 'created_at', " DB_TIME("u.created_at") ", 'updated_at', " DB_TIME("u.updated_at") ","
	    " 'disabled_at', " DB_TIME("u.disabled_at") "),"
	    " 'accounts', coalesce((SELECT json_agg(json_build_object('appid', a.appid,"
	    " 'openid', a.openid, 'unionid', a.unionid, 'first_login', " DB_TIME("a.first_login")
	    ", 'last_login', " DB_TIME("a.last_login") ") ORDER BY a.id) FROM accounts a"
	    " WHERE a.user_id = u.id), '[]'),"
	    " 'active_sessions', (SELECT count(*) FROM sessions s WHERE s.user_id = u.id"
	    " AND s.revoked_at IS NULL AND s.expires_at > now()),"
	    " 'resolved_from', CASE WHEN u.id = $1 THEN NULL ELSE $1 END)"
	    " FROM r JOIN users u ON u.id = r.id WHERE r.next IS NULL"},
	[A_REVOKE_USER] = {"admin_revoke_user",
	    "WITH r AS (UPDATE sessions SET revoked_at = now(), revoke_reason = 'admin'"
	    " WHERE user_id = $1 AND revoked_at IS NULL RETURNING id)"
	    DB_REVOKED_EVENT("$1::uuid", "'admin'")},
	/* One row per source address and minute, counting the refusals: a loop
	 * of wrong keys cannot grow the table faster than a row a minute. */
	[A_DENIED] = {"admin_denied",
	    "INSERT INTO audit_log (event, request_id, ip, detail, dedup)"
	    " VALUES ('admin_denied', $1, $2, jsonb_build_object('count', 1, 'reason', $3::text),"
	    " 'admin_denied/' || coalesce($2, '') || '/' ||"
	    " floor(extract(epoch FROM now()) / 60)::bigint)"
	    " ON CONFLICT (dedup) WHERE dedup IS NOT NULL DO UPDATE SET detail ="
	    " jsonb_set(audit_log.detail, '{count}',"
	    " to_jsonb(coalesce((audit_log.detail->>'count')::bigint, 1) + 1))"},
	/* One batch of each: what is over, older than its retention. A session
	 * goes an hour after its days, so that no token it issued outlives its
	 * revocation record (access_ttl is at most a day); its used refresh
	 * records go with it (ON DELETE CASCADE). */
	[A_PRUNE] = {"admin_prune",
	    "WITH s AS (DELETE FROM sessions WHERE id IN (SELECT id FROM sessions"
	    " WHERE expires_at < now() - make_interval(days => $1) - interval '1 hour'"
	    " OR revoked_at < now() - make_interval(days => $1) - interval '1 hour'"
	    " LIMIT $4) RETURNING 1),"
	    " a AS (DELETE FROM audit_log WHERE id IN (SELECT id FROM audit_log"
	    " WHERE at < now() - make_interval(days => $2) ORDER BY id LIMIT $4) RETURNING 1),"
	    " e AS (DELETE FROM events WHERE id IN (SELECT id FROM events"
	    " WHERE at < now() - make_interval(days => $3) ORDER BY id LIMIT $4) RETURNING 1),"
	    /* view_log names nothing a token can carry after a day (access_ttl's most). */
	    " v AS (DELETE FROM view_log WHERE id IN (SELECT id FROM view_log"
	    " WHERE at < now() - interval '1 day 1 hour' ORDER BY id LIMIT $4)),"
	    /* The short-lived rows: login codes are kept past WeChat's 5 minutes,
	     * so that a used one is always refused; states and tickets live 5
	     * minutes; the sealed answers of used refresh tokens go once no grace
	     * needs them; a blob's hash goes once no watermark that old passes. */
	    " c AS (DELETE FROM login_codes WHERE code_hash IN (SELECT code_hash FROM login_codes"
	    " WHERE created_at < now() - interval '10 minutes' LIMIT $4) RETURNING 1),"
	    " os AS (DELETE FROM oauth_states WHERE hash IN (SELECT hash FROM oauth_states"
	    " WHERE used_at < now() - interval '10 minutes' LIMIT $4) RETURNING 1),"
	    " ot AS (DELETE FROM oauth_tickets WHERE hash IN (SELECT hash FROM oauth_tickets"
	    " WHERE created_at < now() - interval '10 minutes' LIMIT $4) RETURNING 1),"
	    " sl AS (DELETE FROM scan_logins WHERE id_hash IN (SELECT id_hash FROM scan_logins"
	    " WHERE expires_at < now() - interval '10 minutes' LIMIT $4) RETURNING 1),"
	    " ds AS (DELETE FROM open_data_seen WHERE hash IN (SELECT hash FROM open_data_seen"
	    " WHERE seen_at < now() - make_interval(secs => $5) LIMIT $4) RETURNING 1),"
	    " ru AS (UPDATE refresh_used SET answer = NULL WHERE hash IN (SELECT hash"
	    " FROM refresh_used WHERE answer IS NOT NULL"
	    " AND used_at < now() - interval '10 minutes' LIMIT $4) RETURNING 1)"
	    " SELECT (SELECT count(*) FROM s), (SELECT count(*) FROM a), (SELECT count(*) FROM e),"
	    " (SELECT count(*) FROM c) + (SELECT count(*) FROM os) + (SELECT count(*) FROM ot)"
	    " + (SELECT count(*) FROM ds) + (SELECT count(*) FROM ru) + (SELECT count(*) FROM sl)"},
	/* The feed's reader gives the committed events that have none their
	 * positions, in id order, after the last one given (db/014_event_order.sql):
	 * readers wait for each other on event_seq's row, and the statement
	 * after the wait sees every event committed before it. At most 10,000
	 * at a time; the rest at the next read. */
	[A_EVENT_SEQ_LOCK] = {"event_seq_lock", "SELECT last FROM event_seq FOR UPDATE"},
	[A_EVENT_SEQ_GIVE] = {"event_seq_give",
	    "WITH n AS (SELECT id, row_number() OVER (ORDER BY id) AS k FROM"
	    " (SELECT id FROM events WHERE seq IS NULL ORDER BY id LIMIT 10000) u),"
	    " c AS (UPDATE event_seq SET last = last + (SELECT count(*) FROM n)"
	    " RETURNING last - (SELECT count(*) FROM n) AS base)"
	    " UPDATE events e SET seq = c.base + n.k FROM n, c WHERE e.id = n.id"},
	[A_EVENTS] = {"account_events",
	    "SELECT coalesce(jsonb_agg(jsonb_build_object('id', seq, 'type', type,"
	    " 'at', " DB_TIME("at") ", 'user_id', user_id) || detail ORDER BY seq), '[]')::text"
	    " FROM (SELECT * FROM events WHERE seq > $1 ORDER BY seq LIMIT $2) e"},
	/* Disabled: the live user (not deleted, not merged away) marked, the
	 * first time's moment kept. */
	[A_DISABLE] = {"admin_disable",
	    "UPDATE users SET disabled_at = coalesce(disabled_at, now()), updated_at = now()"
	    " WHERE id = $1 AND deleted_at IS NULL AND merged_into IS NULL RETURNING 1"},
	/* ... and every session of it, and of the users merged into it, ended
	 * at once: the workers' revocation views refuse their tokens. */
	[A_DISABLE_REVOKE] = {"admin_disable_revoke",
	    "WITH RECURSIVE t (id) AS (SELECT $1::uuid UNION"
	    " SELECT u.id FROM users u JOIN t ON u.merged_into = t.id),"
	    " r AS (UPDATE sessions SET revoked_at = now(), revoke_reason = 'disabled'"
	    " WHERE user_id IN (SELECT id FROM t) AND revoked_at IS NULL RETURNING id)"
	    DB_REVOKED_EVENT("$1::uuid", "'disabled'")},
	[A_ENABLE] = {"admin_enable",
	    "UPDATE users SET disabled_at = NULL, updated_at = now()"
	    " WHERE id = $1 AND deleted_at IS NULL AND merged_into IS NULL RETURNING 1"},
	[A__MAX] = {NULL, NULL}
};

static enum err
run(struct db *db, enum admin_stmt s, const struct db_params *p, PGresult **out)
{
	return db_exec(db, &db_admin_stmts[s], p, out);
}

enum err
db_merges_feed(struct db *db, long long after, long limit, char **json)
{
	struct db_params p = {0};

	db_p_int(&p, after);
	db_p_int(&p, limit);
	return db_exec_text(db, &db_admin_stmts[A_FEED], &p, json);
}

enum err
db_user_lookup(struct db *db, enum db_user_by by, const char *a, const char *b,
    char **json)
{
	struct db_params p = {0};
	PGresult *res = NULL;
	char id[UUID_STR];
	enum admin_stmt find;
	enum err rc;

	*json = NULL;
	if ((rc = db_connect(db)) != OK)
		return rc;
	switch (by) {
	case DB_USER_BY_ID:
		find = A_FIND_ID;
		db_p_text(&p, a);
		break;
	case DB_USER_BY_ACCOUNT:
		find = A_FIND_ACCOUNT;
		db_p_text(&p, a);
		db_p_text(&p, b);
		break;
	case DB_USER_BY_UNIONID:
		find = A_FIND_UNIONID;
		db_p_text(&p, a);
		break;
	default:
		return ERR_INTERNAL;
	}
	if ((rc = run(db, find, &p, &res)) != OK)
		goto out;
	if (PQntuples(res) == 0) {
		rc = ERR_NOT_FOUND;
		goto out;
	}
	db_copy(id, sizeof(id), PQgetvalue(res, 0, 0));
	memset(&p, 0, sizeof(p));
	db_p_text(&p, id);
	rc = db_exec_text(db, &db_admin_stmts[A_USER_JSON], &p, json);
out:
	PQclear(res);
	return rc;
}

struct revoke_ctx {
	const char *user_id, *request_id;
	long count;
};

static enum err
revoke_txn(struct db *db, void *arg)
{
	struct revoke_ctx *x = arg;
	struct db_params p = {0};
	PGresult *res = NULL;
	enum err rc;

	db_p_text(&p, x->user_id);
	if ((rc = db_exec_row(db, &db_admin_stmts[A_REVOKE_USER], &p, &res)) != OK)
		goto out;
	x->count = strtol(PQgetvalue(res, 0, 0), NULL, 10);
	rc = db_audit(db, "admin_revoke", x->user_id, 0, NULL, x->request_id, NULL, NULL);
out:
	PQclear(res);
	return rc;
}

enum err
db_admin_revoke(struct db *db, const char *user_id, const char *request_id,
    long *count)
{
	struct revoke_ctx x = {user_id, request_id, 0};
	enum err rc;

	rc = db_txn(db, revoke_txn, &x);
	*count = x.count;
	return rc;
}

void
db_admin_denied(struct db *db, const char *ip, const char *reason,
    const char *request_id)
{
	struct db_params p = {0};
	PGresult *res = NULL;

	if (db_connect(db) != OK)
		return;
	db_p_text(&p, request_id);
	db_p_text(&p, ip);
	db_p_text(&p, reason);
	if (db_exec(db, &db_admin_stmts[A_DENIED], &p, &res) == OK)
		PQclear(res);
}

enum err
db_prune(struct db *db, const struct db_retention *keep, long batch, struct db_pruned *out)
{
	struct db_params p = {0};
	PGresult *res = NULL;
	enum err rc;

	memset(out, 0, sizeof(*out));
	if ((rc = db_connect(db)) != OK)
		return rc;
	db_p_int(&p, keep->sessions_days);
	db_p_int(&p, keep->audit_days);
	db_p_int(&p, keep->events_days);
	db_p_int(&p, batch);
	db_p_int(&p, keep->seen_secs);
	if ((rc = db_exec_row(db, &db_admin_stmts[A_PRUNE], &p, &res)) == OK) {
		out->sessions = strtol(PQgetvalue(res, 0, 0), NULL, 10);
		out->audit = strtol(PQgetvalue(res, 0, 1), NULL, 10);
		out->events = strtol(PQgetvalue(res, 0, 2), NULL, 10);
		out->spent = strtol(PQgetvalue(res, 0, 3), NULL, 10);
	}
	PQclear(res);
	return rc;
}

struct events_ctx {
	long long after;
	long limit;
	char **json;
};

static enum err
events_txn(struct db *db, void *arg)
{
	struct events_ctx *x = arg;
	struct db_params p = {0};
	PGresult *res = NULL;
	enum err rc;

	/* Run again after a retry: the last attempt's page goes. */
	free(*x->json);
	*x->json = NULL;
	if ((rc = run(db, A_EVENT_SEQ_LOCK, &p, &res)) != OK)
		goto out;
	PQclear(res);
	res = NULL;
	if ((rc = run(db, A_EVENT_SEQ_GIVE, &p, &res)) != OK)
		goto out;
	db_p_int(&p, x->after);
	db_p_int(&p, x->limit);
	rc = db_exec_text(db, &db_admin_stmts[A_EVENTS], &p, x->json);
out:
	PQclear(res);
	return rc;
}

enum err
db_events_feed(struct db *db, long long after, long limit, char **json)
{
	struct events_ctx x = {after, limit, json};
	enum err rc;

	*json = NULL;
	if ((rc = db_txn(db, events_txn, &x)) != OK) {
		free(*json);
		*json = NULL;
	}
	return rc;
}

struct disable_ctx {
	const char *user_id, *request_id;
	bool disable;
	long count;
};

static enum err
disable_txn(struct db *db, void *arg)
{
	struct disable_ctx *x = arg;
	struct db_params p = {0};
	PGresult *res = NULL;
	enum err rc;

	x->count = 0;
	db_p_text(&p, x->user_id);
	if ((rc = db_exec_row(db, &db_admin_stmts[x->disable ? A_DISABLE : A_ENABLE], &p,
	    &res)) != OK)
		goto out;
	if (x->disable) {
		PQclear(res);
		res = NULL;
		if ((rc = db_exec_row(db, &db_admin_stmts[A_DISABLE_REVOKE], &p, &res)) != OK)
			goto out;
		x->count = strtol(PQgetvalue(res, 0, 0), NULL, 10);
	}
	rc = db_audit(db, x->disable ? "user_disabled" : "user_enabled", x->user_id, 0, NULL,
	    x->request_id, NULL, NULL);
out:
	PQclear(res);
	return rc;
}

enum err
db_admin_disable(struct db *db, const char *user_id, bool disable, const char *request_id,
    long *count)
{
	struct disable_ctx x = {user_id, request_id, disable, 0};
	enum err rc;

	rc = db_txn(db, disable_txn, &x);
	*count = x.count;
	return rc;
}
