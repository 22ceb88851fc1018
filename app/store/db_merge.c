/*
 * db_merge.c - joining two users who are one person.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libpq-fe.h>

#include "db.h"
#include "dbi.h"
#include "log.h"
#include "metrics.h"

enum merge_stmt {
	M_MERGE_LOCK,
	M_MERGE_FIELDS,
	M_MERGE_TOMBSTONE,
	M_MERGE_UNIONID,
	M_MERGE_RECORD,
	M_UNMERGE_GET,
	M_UNMERGE_ACCOUNTS,
	M_UNMERGE_SESSIONS,
	M_UNMERGE_FIELDS,
	M_UNMERGE_UNIONID,
	M_UNMERGE_REVIVE,
	M_UNMERGE_RECORD,
	M__MAX
};

const struct db_stmt db_merge_stmts[] = {
	/* Both users locked in one order (by id), so two merges of the same
	 * pair in opposite directions queue instead of deadlocking. */
	[M_MERGE_LOCK] = {"merge_lock",
	    "SELECT id::text, coalesce(unionid, ''), merged_into IS NOT NULL,"
	    " extract(epoch FROM created_at)::float8 FROM users WHERE id IN ($1, $2)"
	    " ORDER BY id FOR UPDATE"},
	/* Fill the survivor's empty profile fields from the loser; return the
	 * names of the fields filled, for the merges row (and undo). */
	[M_MERGE_FIELDS] = {"merge_fields",
	    "WITH f AS (SELECT array_remove(ARRAY[" DB_PROFILE(DB_FILLS_)
	    " CASE WHEN s.phone IS NULL AND l.phone IS NOT NULL THEN 'phone' END], NULL) AS names"
	    " FROM users s, users l WHERE s.id = $2 AND l.id = $1),"
	    " u AS (UPDATE users s SET" DB_PROFILE(DB_FILL_) DB_PHONE(DB_PHONE_FILL_)
	    " updated_at = now() FROM users l WHERE s.id = $2 AND l.id = $1 RETURNING s.id)"
	    " SELECT to_json(names) FROM f, u"},
	[M_MERGE_TOMBSTONE] = {"merge_tombstone",
	    "UPDATE users SET merged_into = $2, updated_at = now() WHERE id = $1"},
	[M_MERGE_UNIONID] = {"merge_unionid",
	    "UPDATE users SET unionid = $2, updated_at = now()"
	    " WHERE id = $1 AND unionid IS NULL"},
	/* Move accounts and sessions and record exactly which, in one
	 * statement: the merges row is what undo replays backwards. It comes
	 * last in a merge, with the merge's audit row: its lock is held from
	 * here to the COMMIT. */
	[M_MERGE_RECORD] = {"merge_record",
	    "WITH " DB_MERGE_LOCK ","
	    " a AS (UPDATE accounts SET user_id = $2 WHERE user_id = $1"
	    " RETURNING id, appid, openid),"
	    " s AS (UPDATE sessions SET user_id = $2 WHERE user_id = $1 RETURNING id),"
	    /* The merge id after the lock: ids in commit order. */
	    " m AS (INSERT INTO merges (from_user, into_user, reason, unionid, moved)"
	    " SELECT $1, $2, $3, $4, jsonb_build_object("
	    " 'accounts', (SELECT coalesce(jsonb_agg(id ORDER BY id), '[]') FROM a),"
	    " 'sessions', (SELECT coalesce(jsonb_agg(id ORDER BY id), '[]') FROM s),"
	    " 'fields', $5::jsonb, 'unionid', $6::boolean) FROM lk RETURNING id),"
	    " e AS (INSERT INTO events (type, user_id, detail) SELECT 'merged', $2,"
	    " jsonb_build_object('merge_id', m.id, 'from_user', $1::uuid, 'into_user', $2::uuid,"
	    " 'reason', $3::text, 'accounts', (SELECT coalesce(jsonb_agg(jsonb_build_object("
	    " 'appid', appid, 'openid', openid) ORDER BY id), '[]') FROM a)) FROM m RETURNING id),"
	    " au AS (INSERT INTO audit_log (event, user_id, request_id, detail)"
	    " SELECT 'merge', $2, $7, jsonb_build_object('merge', m.id, 'from', $1::uuid,"
	    " 'reason', $3::text) FROM m)"
	    " SELECT m.id,"
	    " pg_notify('wxauth_event', '') FROM m, e"},
	/* What undo needs to know, and whether anything moved since: the
	 * loser still points at the survivor, the survivor is still live, and
	 * every account the merge moved still belongs to the survivor. */
	[M_UNMERGE_GET] = {"unmerge_get",
	    "SELECT m.from_user, m.into_user, m.undone_at IS NOT NULL,"
	    " l.merged_into IS NOT DISTINCT FROM m.into_user, s.merged_into IS NULL,"
	    " (SELECT count(*) FROM accounts a WHERE a.id IN (SELECT"
	    "  jsonb_array_elements_text(m.moved->'accounts')::bigint) AND a.user_id <> m.into_user),"
	    " coalesce((m.moved->>'unionid')::boolean, false),"
	    " l.deleted_at IS NOT NULL OR s.deleted_at IS NOT NULL"
	    " FROM merges m JOIN users l ON l.id = m.from_user JOIN users s ON s.id = m.into_user"
	    " WHERE m.id = $1 FOR UPDATE OF m, l, s"},
	[M_UNMERGE_ACCOUNTS] = {"unmerge_accounts",
	    "UPDATE accounts SET user_id = $2 WHERE user_id = $3 AND id IN (SELECT"
	    " jsonb_array_elements_text(moved->'accounts')::bigint FROM merges WHERE id = $1)"},
	[M_UNMERGE_SESSIONS] = {"unmerge_sessions",
	    "UPDATE sessions SET user_id = $2 WHERE user_id = $3 AND id IN (SELECT"
	    " jsonb_array_elements_text(moved->'sessions')::uuid FROM merges WHERE id = $1)"},
	/* A field the merge filled is emptied again, unless it changed since. */
	[M_UNMERGE_FIELDS] = {"unmerge_fields",
	    "WITH f AS (SELECT ARRAY(SELECT jsonb_array_elements_text(moved->'fields'))"
	    " AS n FROM merges WHERE id = $1)"
	    " UPDATE users s SET" DB_PROFILE(DB_UNFILL_) DB_PHONE(DB_PHONE_UNFILL_)
	    " updated_at = now() FROM users l, f WHERE s.id = $3 AND l.id = $2"},
	[M_UNMERGE_UNIONID] = {"unmerge_unionid",
	    "UPDATE users SET unionid = NULL, updated_at = now() WHERE id = $1"},
	[M_UNMERGE_REVIVE] = {"unmerge_revive",
	    "UPDATE users SET merged_into = NULL, updated_at = now() WHERE id = $1"},
	[M_UNMERGE_RECORD] = {"unmerge_record",
	    "WITH m AS (UPDATE merges SET undone_at = now() WHERE id = $1"
	    " RETURNING id, from_user, into_user, moved),"
	    " e AS (INSERT INTO events (type, user_id, detail) SELECT 'unmerged', m.into_user,"
	    " jsonb_build_object('merge_id', m.id, 'from_user', m.from_user,"
	    " 'into_user', m.into_user, 'accounts', " DB_ACCOUNTS_OF(
	    "SELECT jsonb_array_elements_text(m.moved->'accounts')::bigint") ")"
	    " FROM m RETURNING id)"
	    " SELECT m.id,"
	    " pg_notify('wxauth_event', '') FROM m, e"},
	[M__MAX] = {NULL, NULL}
};

/* exec_only: run s, whose answer nothing needs. */
static enum err
exec_only(struct db *db, enum merge_stmt s, const struct db_params *p)
{
	PGresult *res = NULL;
	enum err rc = db_exec(db, &db_merge_stmts[s], p, &res);

	PQclear(res);
	return rc;
}

/*
 * choose: users a and b, locked (by id, so two merges of the pair queue),
 * both live and not of two different unionids; the older survives (ids
 * downstream have known it longest). Their ids into survivor and loser,
 * their unionids into uni_s and uni_l ("" when none). ERR_RETRY when one
 * was merged by someone else meanwhile, ERR_UNIONID_CONFLICT.
 */
static enum err
choose(struct db *db, const char *a, const char *b, char *survivor, char *loser,
    char uni_s[UNIONID_MAX + 1], char uni_l[UNIONID_MAX + 1])
{
	struct db_params p = {0};
	PGresult *res = NULL;
	enum err rc;
	int older;

	db_p_text(&p, a);
	db_p_text(&p, b);
	if ((rc = db_exec(db, &db_merge_stmts[M_MERGE_LOCK], &p, &res)) != OK)
		goto out;
	rc = ERR_RETRY;
	if (PQntuples(res) != 2 || strcmp(PQgetvalue(res, 0, 2), "t") == 0 ||
	    strcmp(PQgetvalue(res, 1, 2), "t") == 0)
		goto out;
	older = strtod(PQgetvalue(res, 0, 3), NULL) <= strtod(PQgetvalue(res, 1, 3), NULL) ? 0 : 1;
	db_copy(survivor, UUID_STR, PQgetvalue(res, older, 0));
	db_copy(loser, UUID_STR, PQgetvalue(res, !older, 0));
	db_copy(uni_s, UNIONID_MAX + 1, PQgetvalue(res, older, 1));
	db_copy(uni_l, UNIONID_MAX + 1, PQgetvalue(res, !older, 1));
	rc = uni_s[0] != '\0' && uni_l[0] != '\0' && strcmp(uni_s, uni_l) != 0 ?
	    ERR_UNIONID_CONFLICT : OK;
out:
	PQclear(res);
	return rc;
}

/*
 * merge: join users a and b, inside the caller's transaction. The older
 * user survives; every account and session of the other moves to it, the
 * survivor's empty profile fields are filled from the loser, the loser
 * stays as a tombstone, and a merges row records exactly what moved (for
 * the feed and for undo). Every worker learns of it from view_log (db/008),
 * which a trigger on merges writes and NOTIFY wxauth_view hints at.
 * *survivor and *loser receive the two ids. Returns OK, ERR_UNIONID_CONFLICT
 * (two different unionids: never merged), ERR_RETRY when one of them was
 * merged meanwhile, or a database error.
 */
enum err
db_merge(struct db *db, const char *a, const char *b, const char *reason,
    const char *request_id, char *survivor, char *loser)
{
	struct db_params p = {0};
	PGresult *res = NULL;
	char uni_s[UNIONID_MAX + 1], uni_l[UNIONID_MAX + 1];
	char fields[512];
	bool takes_unionid;
	enum err rc;

	if ((rc = choose(db, a, b, survivor, loser, uni_s, uni_l)) != OK)
		return rc;
	takes_unionid = uni_s[0] == '\0' && uni_l[0] != '\0';
	db_p_text(&p, loser);
	db_p_text(&p, survivor);
	if ((rc = db_exec_row(db, &db_merge_stmts[M_MERGE_FIELDS], &p, &res)) != OK)
		goto out;
	db_copy(fields, sizeof(fields), PQgetvalue(res, 0, 0));
	PQclear(res);
	res = NULL;
	/* Tombstone first: the unique index then lets the survivor take the
	 * loser's unionid. */
	memset(&p, 0, sizeof(p));
	db_p_text(&p, loser);
	db_p_text(&p, survivor);
	if ((rc = exec_only(db, M_MERGE_TOMBSTONE, &p)) != OK)
		goto out;
	memset(&p, 0, sizeof(p));
	db_p_text(&p, survivor);
	db_p_text(&p, uni_l);
	if (takes_unionid && (rc = exec_only(db, M_MERGE_UNIONID, &p)) != OK)
		goto out;
	/* The record last: the merges' lock, which it takes, is held by as
	 * little as can be (DB_MERGE_LOCK). */
	memset(&p, 0, sizeof(p));
	db_p_text(&p, loser);
	db_p_text(&p, survivor);
	db_p_text(&p, reason);
	db_p_text(&p, takes_unionid ? uni_l : uni_s);
	db_p_text(&p, fields);
	db_p_text(&p, takes_unionid ? "true" : "false");
	db_p_text(&p, request_id);
	if ((rc = db_exec_row(db, &db_merge_stmts[M_MERGE_RECORD], &p, &res)) == OK)
		metrics_merge(reason);
out:
	PQclear(res);
	return rc;
}

/* ---- undo ---- */

struct unmerge_ctx {
	long long id;
	char *why;
	size_t whylen;
};


/*
 * unmerge_check: merge x->id may be undone: it exists, is not undone, the
 * loser still points at the survivor, the survivor is live, every account
 * it moved is still the survivor's, and neither user was deleted. Its two
 * users into loser and survivor, whether the unionid moved. Otherwise
 * ERR_NOT_FOUND or ERR_FORBIDDEN, with x->why saying why.
 */
static enum err
unmerge_check(struct db *db, struct unmerge_ctx *x, char *loser, char *survivor,
    bool *unionid_moved)
{
	struct db_params p = {0};
	PGresult *res = NULL;
	enum err rc;

	db_p_int(&p, x->id);
	if ((rc = db_exec(db, &db_merge_stmts[M_UNMERGE_GET], &p, &res)) != OK)
		goto out;
	if (PQntuples(res) != 1) {
		snprintf(x->why, x->whylen, "no merge %lld", x->id);
		rc = ERR_NOT_FOUND;
		goto out;
	}
	db_copy(loser, UUID_STR, PQgetvalue(res, 0, 0));
	db_copy(survivor, UUID_STR, PQgetvalue(res, 0, 1));
	*unionid_moved = strcmp(PQgetvalue(res, 0, 6), "t") == 0;
	rc = ERR_FORBIDDEN;
	if (strcmp(PQgetvalue(res, 0, 2), "t") == 0)
		snprintf(x->why, x->whylen, "merge %lld was undone already", x->id);
	else if (strcmp(PQgetvalue(res, 0, 3), "t") != 0)
		snprintf(x->why, x->whylen, "user %s no longer points at %s", loser, survivor);
	else if (strcmp(PQgetvalue(res, 0, 4), "t") != 0)
		snprintf(x->why, x->whylen, "user %s was merged into another user since: "
		    "undo that merge first", survivor);
	else if (strcmp(PQgetvalue(res, 0, 5), "0") != 0)
		snprintf(x->why, x->whylen, "%s account(s) this merge moved belong to "
		    "another user now", PQgetvalue(res, 0, 5));
	/* A deleted person's data is gone: there is nothing to give back. */
	else if (strcmp(PQgetvalue(res, 0, 7), "t") == 0)
		snprintf(x->why, x->whylen, "merge %lld involves a deleted user", x->id);
	else
		rc = OK;
out:
	PQclear(res);
	return rc;
}

static enum err
unmerge_txn(struct db *db, void *arg)
{
	struct unmerge_ctx *x = arg;
	struct db_params p = {0}, one = {0};
	char loser[UUID_STR], survivor[UUID_STR], detail[160];
	bool unionid_moved = false;
	enum err rc;
	int n;

	if ((rc = unmerge_check(db, x, loser, survivor, &unionid_moved)) != OK)
		return rc;
	db_p_int(&p, x->id);
	db_p_text(&p, loser);
	db_p_text(&p, survivor);
	if ((rc = exec_only(db, M_UNMERGE_ACCOUNTS, &p)) != OK ||
	    (rc = exec_only(db, M_UNMERGE_SESSIONS, &p)) != OK ||
	    (rc = exec_only(db, M_UNMERGE_FIELDS, &p)) != OK)
		return rc;
	/* The survivor gives the unionid back before the loser lives again:
	 * one live user per unionid. */
	db_p_text(&one, survivor);
	if (unionid_moved && (rc = exec_only(db, M_UNMERGE_UNIONID, &one)) != OK)
		return rc;
	memset(&one, 0, sizeof(one));
	db_p_text(&one, loser);
	if ((rc = exec_only(db, M_UNMERGE_REVIVE, &one)) != OK)
		return rc;
	memset(&one, 0, sizeof(one));
	db_p_int(&one, x->id);
	if ((rc = exec_only(db, M_UNMERGE_RECORD, &one)) != OK)
		return rc;
	n = snprintf(detail, sizeof(detail), "{\"merge\":%lld,\"restored\":\"%s\"}",
	    x->id, loser);
	rc = db_audit(db, "unmerge", survivor, 0, NULL, NULL, NULL,
	    n > 0 && (size_t)n < sizeof(detail) ? detail : NULL);
	snprintf(x->why, x->whylen, "merge %lld undone: user %s restored beside %s",
	    x->id, loser, survivor);
	return rc;
}

enum err
db_unmerge(struct db *db, long long id, char *why, size_t whylen)
{
	struct unmerge_ctx x = {id, why, whylen};

	why[0] = '\0';
	return db_txn(db, unmerge_txn, &x);
}
