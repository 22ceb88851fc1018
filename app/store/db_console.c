/*
 * db_console.c - the operators' console (db/012_console.sql): its sessions
 * and what its screens read (a search, a user's whole picture). What it
 * changes goes through the admin functions (db_admin.c), and each action
 * leaves an audit row naming the operator (db_console_audit).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libpq-fe.h>
#include <sodium.h>

#include "db.h"
#include "dbi.h"

enum console_stmt {
	CO_OPEN,
	CO_GET,
	CO_END,
	CO_FIND_ID,
	CO_FIND_OPENID,
	CO_FIND_UNIONID,
	CO_FIND_PHONE,
	CO_FIND_NICKNAME,
	CO_USER,
	CO_AUDIT,
	CO_HEALTH,
	CO_MERGES,
	CO__MAX
};

/* One row of a search's answer, for users u. */
#define CO_ROW \
	"SELECT coalesce(json_agg(json_build_object('id', u.id, 'nickname', u.nickname," \
	" 'unionid', u.unionid, 'pure_phone_number', u.pure_phone," \
	" 'merged_into', u.merged_into, 'deleted', u.deleted_at IS NOT NULL," \
	" 'disabled', u.disabled_at IS NOT NULL) ORDER BY u.created_at, u.id), '[]')::text" \
	" FROM (SELECT * FROM users u WHERE "
#define CO_PAGE " ORDER BY u.created_at, u.id LIMIT $2 OFFSET $3) u"

const struct db_stmt db_console_stmts[] = {
	[CO_OPEN] = {"console_open",
	    "WITH m AS (UPDATE sessions SET via = 'console' WHERE id = $9 AND user_id = $2"
	    " AND revoked_at IS NULL RETURNING id),"
	    " s AS (INSERT INTO console_sessions (id_hash, user_id, session_id, role, csrf_hash,"
	    " expires_at, ip, user_agent) SELECT $1, $2, m.id, $3, $4,"
	    " now() + make_interval(secs => $5), $6, $7 FROM m RETURNING user_id)"
	    " INSERT INTO audit_log (event, user_id, session_id, request_id, ip, detail)"
	    " SELECT 'console_signin', user_id, $9, $8, $6, jsonb_build_object('role', $3::text)"
	    " FROM s RETURNING 1"},
	/* Live only while the operator's own session is. */
	[CO_GET] = {"console_get",
	    "SELECT c.user_id::text, c.role, encode(c.csrf_hash, 'hex') FROM console_sessions c"
	    " JOIN sessions s ON s.id = c.session_id WHERE c.id_hash = $1"
	    " AND c.revoked_at IS NULL AND c.expires_at > now() AND s.revoked_at IS NULL"
	    " AND s.expires_at > now()"},
	[CO_END] = {"console_end",
	    "UPDATE console_sessions SET revoked_at = now() WHERE id_hash = $1"
	    " AND revoked_at IS NULL"},
	[CO_FIND_ID] = {"console_find_id", CO_ROW "u.id::text = $1" CO_PAGE},
	[CO_FIND_OPENID] = {"console_find_openid", CO_ROW
	    "u.id IN (SELECT user_id FROM accounts WHERE openid = $1)" CO_PAGE},
	[CO_FIND_UNIONID] = {"console_find_unionid", CO_ROW "u.unionid = $1" CO_PAGE},
	[CO_FIND_PHONE] = {"console_find_phone", CO_ROW
	    "u.pure_phone = $1 AND u.pure_phone IS NOT NULL" CO_PAGE},
	/* A prefix: LIKE with its wildcards escaped, on text_pattern_ops. */
	[CO_FIND_NICKNAME] = {"console_find_nickname", CO_ROW
	    "u.nickname IS NOT NULL AND u.nickname LIKE replace(replace(replace($1, '\\', '\\\\'),"
	    " '%', '\\%'), '_', '\\_') || '%'" CO_PAGE},
	/* A user's whole picture: the profile, accounts, live sessions,
	 * merges either way, and the last audit rows. */
	[CO_USER] = {"console_user",
	    "SELECT json_build_object('user', json_build_object('id', u.id, 'unionid', u.unionid,"
	    " 'nickname', u.nickname, 'avatar_url', u.avatar_url,"
	    " 'pure_phone_number', u.pure_phone, 'merged_into', u.merged_into,"
	    " 'created_at', " DB_TIME("u.created_at") ", 'disabled_at', " DB_TIME("u.disabled_at") ","
	    " 'deleted_at', " DB_TIME("u.deleted_at") "),"
	    " 'accounts', (SELECT coalesce(json_agg(json_build_object('appid', a.appid,"
	    " 'openid', a.openid, 'last_login', " DB_TIME("a.last_login") ") ORDER BY a.id), '[]')"
	    " FROM accounts a WHERE a.user_id = u.id),"
	    " 'sessions', (SELECT coalesce(json_agg(json_build_object('id', s.id, 'appid', a.appid,"
	    " 'via', coalesce(s.via, 'login'), 'ip', s.ip, 'user_agent', s.user_agent,"
	    " 'created_at', " DB_TIME("s.created_at") ", 'expires_at', " DB_TIME("s.expires_at") ")"
	    " ORDER BY s.created_at DESC), '[]') FROM sessions s JOIN accounts a ON a.id = s.account_id"
	    " WHERE s.user_id = u.id AND s.revoked_at IS NULL AND s.expires_at > now()),"
	    " 'merges', (SELECT coalesce(json_agg(json_build_object('id', m.id, 'from_user', m.from_user,"
	    " 'into_user', m.into_user, 'reason', m.reason, 'at', " DB_TIME("m.at") ","
	    " 'undone', m.undone_at IS NOT NULL) ORDER BY m.id DESC), '[]') FROM merges m"
	    " WHERE m.from_user = u.id OR m.into_user = u.id),"
	    " 'audit', (SELECT coalesce(json_agg(json_build_object('event', l.event,"
	    " 'at', " DB_TIME("l.at") ", 'detail', l.detail) ORDER BY l.id DESC), '[]')"
	    " FROM (SELECT * FROM audit_log WHERE user_id = u.id ORDER BY id DESC LIMIT 50) l)"
	    ")::text FROM users u WHERE u.id::text = $1"},
	/* The audit log, newest first, filtered by what is given: user,
	 * operator (of console actions), event, and before an id (paging). */
	[CO_AUDIT] = {"console_audit",
	    "SELECT coalesce(json_agg(json_build_object('id', l.id, 'at', " DB_TIME("l.at") ","
	    " 'event', l.event, 'user_id', l.user_id, 'request_id', l.request_id,"
	    " 'detail', l.detail) ORDER BY l.id DESC), '[]')::text FROM (SELECT * FROM audit_log"
	    " WHERE ($1::uuid IS NULL OR user_id = $1::uuid)"
	    " AND ($2::text IS NULL OR detail->>'operator' = $2)"
	    " AND ($3::text IS NULL OR event = $3) AND ($4::bigint = 0 OR id < $4)"
	    " ORDER BY id DESC LIMIT 50) l"},
	/* Each app's server token (its age), and the phone codes exchanged
	 * today (WeChat bills them). */
	[CO_HEALTH] = {"console_health",
	    "SELECT json_build_object('tokens', (SELECT coalesce(json_agg(json_build_object("
	    "'appid', appid, 'fetched_at', " DB_TIME("fetched_at") ", 'expires_at', "
	    DB_TIME("expires_at") ", 'age_seconds', floor(extract(epoch FROM now() - fetched_at)))"
	    " ORDER BY appid), '[]') FROM wechat_tokens),"
	    " 'phone_codes_today', (SELECT count(*) FROM audit_log WHERE event = 'phone_code'"
	    " AND at >= date_trunc('day', now())))::text"},
	/* The merges, newest first, 50 a page before an id (0: the newest). */
	[CO_MERGES] = {"console_merges",
	    "SELECT coalesce(json_agg(json_build_object('id', id, 'from_user', from_user,"
	    " 'into_user', into_user, 'reason', reason, 'at', " DB_TIME("at") ","
	    " 'undone', undone_at IS NOT NULL) ORDER BY id DESC), '[]')::text FROM (SELECT *"
	    " FROM merges WHERE $1::bigint = 0 OR id < $1 ORDER BY id DESC LIMIT 50) m"},
	[CO__MAX] = {NULL, NULL}
};

static enum err
run(struct db *db, enum console_stmt s, const struct db_params *p, PGresult **out)
{
	return db_exec(db, &db_console_stmts[s], p, out);
}

enum err
db_console_open(struct db *db, const struct db_console *in)
{
	struct db_params p = {0};
	PGresult *res = NULL;
	enum err rc;

	if ((rc = db_connect(db)) != OK)
		return rc;
	db_p_bin(&p, in->id_hash, TOK_HASHBYTES);
	db_p_text(&p, in->user_id);
	db_p_text(&p, in->role);
	db_p_bin(&p, in->csrf_hash, TOK_HASHBYTES);
	db_p_int(&p, in->ttl);
	db_p_text(&p, in->ip);
	db_p_text(&p, in->user_agent);
	db_p_text(&p, in->request_id);
	db_p_text(&p, in->session_id);
	/* No row: the session the operator came with has ended meanwhile. */
	if ((rc = run(db, CO_OPEN, &p, &res)) == OK && PQntuples(res) != 1)
		rc = ERR_SESSION_REVOKED;
	PQclear(res);
	return rc;
}

enum err
db_console_get(struct db *db, const unsigned char *id_hash, char *user_id, size_t ulen,
    char *role, size_t rlen, unsigned char csrf_hash[TOK_HASHBYTES])
{
	struct db_params p = {0};
	PGresult *res = NULL;
	const char *hex;
	size_t n = 0;
	enum err rc;

	if ((rc = db_connect(db)) != OK)
		return rc;
	db_p_bin(&p, id_hash, TOK_HASHBYTES);
	if ((rc = run(db, CO_GET, &p, &res)) != OK)
		goto out;
	if (PQntuples(res) != 1) {
		rc = ERR_NOT_FOUND;
		goto out;
	}
	db_copy(user_id, ulen, PQgetvalue(res, 0, 0));
	db_copy(role, rlen, PQgetvalue(res, 0, 1));
	hex = PQgetvalue(res, 0, 2);
	if (sodium_hex2bin(csrf_hash, TOK_HASHBYTES, hex, strlen(hex), NULL, &n, NULL) != 0 ||
	    n != TOK_HASHBYTES)
		rc = ERR_INTERNAL;
out:
	PQclear(res);
	return rc;
}

enum err
db_console_end(struct db *db, const unsigned char *id_hash)
{
	struct db_params p = {0};
	PGresult *res = NULL;
	enum err rc;

	if ((rc = db_connect(db)) != OK)
		return rc;
	db_p_bin(&p, id_hash, TOK_HASHBYTES);
	rc = run(db, CO_END, &p, &res);
	PQclear(res);
	return rc;
}

enum err
db_console_find(struct db *db, enum db_find by, const char *q, long limit, long offset,
    char **json)
{
	static const enum console_stmt stmt[] = {
		[DB_FIND_ID] = CO_FIND_ID, [DB_FIND_OPENID] = CO_FIND_OPENID,
		[DB_FIND_UNIONID] = CO_FIND_UNIONID, [DB_FIND_PHONE] = CO_FIND_PHONE,
		[DB_FIND_NICKNAME] = CO_FIND_NICKNAME,
	};
	struct db_params p = {0};

	db_p_text(&p, q);
	db_p_int(&p, limit);
	db_p_int(&p, offset);
	return db_exec_text(db, &db_console_stmts[stmt[by]], &p, json);
}

enum err
db_console_user(struct db *db, const char *user_id, char **json)
{
	struct db_params p = {0};

	db_p_text(&p, user_id);
	return db_exec_text(db, &db_console_stmts[CO_USER], &p, json);
}

enum err
db_console_audit(struct db *db, const char *operator_id, const char *action,
    const char *user_id, const char *target, const char *request_id)
{
	char detail[192];
	enum err rc;

	if ((rc = db_connect(db)) != OK)
		return rc;
	/* Ids, an action name and an app id: nothing to escape. */
	snprintf(detail, sizeof(detail), "{\"operator\":\"%.36s\",\"action\":\"%.32s\"%s%.40s%s}",
	    operator_id, action, target ? ",\"target\":\"" : "", target ? target : "",
	    target ? "\"" : "");
	return db_audit(db, "console_action", user_id, 0, NULL, request_id, NULL, detail);
}

enum err
db_console_log(struct db *db, const char *user_id, const char *operator_id,
    const char *event, long long before, char **json)
{
	struct db_params p = {0};

	db_p_text(&p, user_id);
	db_p_text(&p, operator_id);
	db_p_text(&p, event);
	db_p_int(&p, before);
	return db_exec_text(db, &db_console_stmts[CO_AUDIT], &p, json);
}

enum err
db_console_health(struct db *db, char **json)
{
	struct db_params p = {0};

	return db_exec_text(db, &db_console_stmts[CO_HEALTH], &p, json);
}

enum err
db_console_merges(struct db *db, long long before, char **json)
{
	struct db_params p = {0};

	db_p_int(&p, before);
	return db_exec_text(db, &db_console_stmts[CO_MERGES], &p, json);
}
