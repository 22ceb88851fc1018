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

enum merge_stmt {
	M_MERGE_LOCK,
	M_MERGE_FIELDS,
	M_MERGE_TOMBSTONE,
	M_MERGE_UNIONID,
	M_MERGE_RECORD,
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
	[M_MERGE_TOMBSTONE] = {"merge_tombstone",
	    "UPDATE users SET merged_into = $2, updated_at = now() WHERE id = $1"},
	[M_MERGE_UNIONID] = {"merge_unionid",
	    "UPDATE users SET unionid = $2, updated_at = now()"
	    " WHERE id = $1 AND unionid IS NULL"},
	/* Move accounts and sessions and record exactly which, in one
	 * statement: the merges row is what undo replays backwards. */
	[M_MERGE_RECORD] = {"merge_record",
	    "WITH a AS (UPDATE accounts SET user_id = $2 WHERE user_id = $1 RETURNING id),"
	    " s AS (UPDATE sessions SET user_id = $2 WHERE user_id = $1 RETURNING id),"
	    " m AS (INSERT INTO merges (from_user, into_user, reason, unionid, moved)"
	    " VALUES ($1, $2, $3, $4, jsonb_build_object("
	    " 'accounts', (SELECT coalesce(jsonb_agg(id ORDER BY id), '[]') FROM a),"
	    " 'sessions', (SELECT coalesce(jsonb_agg(id ORDER BY id), '[]') FROM s),"
	    " 'fields', $5::jsonb, 'unionid', $6::boolean)) RETURNING id)"
	    " SELECT id, pg_notify('wxauth_merge', $1 || ':' || $2) FROM m"},
	[M__MAX] = {NULL, NULL}
};

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
enum err
db_merge(struct db *db, const char *a, const char *b, const char *reason,
    const char *request_id, char *survivor, char *loser)
{
	struct db_params p = {0};
	PGresult *res = NULL;
	char uni[2][UNIONID_MAX + 1], fields[512], merge_id[32], detail[256];
	const char *keep_uni;
	int older, n;
	enum err rc;

	db_p_text(&p, a);
	db_p_text(&p, b);
	if ((rc = db_exec(db, &db_merge_stmts[M_MERGE_LOCK], &p, &res)) != OK)
		goto out;
	if (PQntuples(res) != 2 || strcmp(PQgetvalue(res, 0, 2), "t") == 0 ||
	    strcmp(PQgetvalue(res, 1, 2), "t") == 0) {
		rc = ERR_RETRY;         /* merged by someone else meanwhile */
		goto out;
	}
	db_copy(uni[0], sizeof(uni[0]), PQgetvalue(res, 0, 1));
	db_copy(uni[1], sizeof(uni[1]), PQgetvalue(res, 1, 1));
	if (uni[0][0] != '\0' && uni[1][0] != '\0' && strcmp(uni[0], uni[1]) != 0) {
		rc = ERR_UNIONID_CONFLICT;
		goto out;
	}
	/* The older user survives: ids downstream have known it longest. */
	older = strtod(PQgetvalue(res, 0, 3), NULL) <= strtod(PQgetvalue(res, 1, 3), NULL) ? 0 : 1;
	db_copy(survivor, UUID_STR, PQgetvalue(res, older, 0));
	db_copy(loser, UUID_STR, PQgetvalue(res, !older, 0));
	keep_uni = uni[older][0] != '\0' ? uni[older] : uni[!older];
	PQclear(res);
	res = NULL;

	memset(&p, 0, sizeof(p));
	db_p_text(&p, loser);
	db_p_text(&p, survivor);
	if ((rc = db_exec_row(db, &db_merge_stmts[M_MERGE_FIELDS], &p, &res)) != OK)
		goto out;
	db_copy(fields, sizeof(fields), PQgetvalue(res, 0, 0));
	PQclear(res);
	res = NULL;
	memset(&p, 0, sizeof(p));
	db_p_text(&p, loser);
	db_p_text(&p, survivor);
	db_p_text(&p, reason);
	db_p_text(&p, keep_uni);
	db_p_text(&p, fields);
	db_p_text(&p, uni[older][0] == '\0' && uni[!older][0] != '\0' ? "true" : "false");
	if ((rc = db_exec_row(db, &db_merge_stmts[M_MERGE_RECORD], &p, &res)) != OK)
		goto out;
	db_copy(merge_id, sizeof(merge_id), PQgetvalue(res, 0, 0));
	PQclear(res);
	res = NULL;
	/* Tombstone first: the unique index then lets the survivor take the
	 * loser's unionid. */
	memset(&p, 0, sizeof(p));
	db_p_text(&p, loser);
	db_p_text(&p, survivor);
	if ((rc = db_exec(db, &db_merge_stmts[M_MERGE_TOMBSTONE], &p, &res)) != OK)
		goto out;
	PQclear(res);
	res = NULL;
	if (uni[older][0] == '\0' && uni[!older][0] != '\0') {
		memset(&p, 0, sizeof(p));
		db_p_text(&p, survivor);
		db_p_text(&p, uni[!older]);
		if ((rc = db_exec(db, &db_merge_stmts[M_MERGE_UNIONID], &p, &res)) != OK)
			goto out;
		PQclear(res);
		res = NULL;
	}
	n = snprintf(detail, sizeof(detail), "{\"merge\":%s,\"from\":\"%s\",\"reason\":\"%s\"}",
	    merge_id, loser, reason);
	rc = db_audit(db, "merge", survivor, 0, NULL, request_id, NULL,
	    n > 0 && (size_t)n < sizeof(detail) ? detail : NULL);
out:
	PQclear(res);
	return rc;
}
