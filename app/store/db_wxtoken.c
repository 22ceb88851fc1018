/*
 * db_wxtoken.c - each app's server access_token in wechat_tokens, shared
 * by every worker and host: read it, refresh it under an advisory lock
 * (one worker at a time), store only a newer one, expire the one that
 * failed.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libpq-fe.h>
#include <sodium.h>

#include "db.h"
#include "dbi.h"
#include "log.h"

/* The advisory lock space of app token refreshes: the two-int form, so it
 * never meets the one-bigint locks of login codes. */
#define WXTOKEN_LOCK_CLASS 0x7778   /* "wx" */

enum wxtoken_stmt {
	W_GET,
	W_TRYLOCK,
	W_UNLOCK,
	W_PUT,
	W_EXPIRE,
	W__MAX
};

const struct db_stmt db_wxtoken_stmts[] = {
	/* Times relative to the database's clock, so hosts whose clocks
	 * differ still agree on how long a token has left. */
	[W_GET] = {"wxtoken_get",
	    "SELECT access_token, floor(extract(epoch FROM expires_at - now()))::bigint,"
	    " floor(extract(epoch FROM now() - fetched_at))::bigint,"
	    " coalesce(floor(extract(epoch FROM now() - forced_at))::bigint, -1)"
	    " FROM wechat_tokens WHERE appid = $1"},
	[W_TRYLOCK] = {"wxtoken_trylock",
	    "SELECT pg_try_advisory_lock($1::int, $2::int)"},
	[W_UNLOCK] = {"wxtoken_unlock",
	    "SELECT pg_advisory_unlock($1::int, $2::int)"},
	/* Newer only: an older token never overwrites a newer one. */
	[W_PUT] = {"wxtoken_put",
	    "INSERT INTO wechat_tokens AS t (appid, access_token, expires_at, fetched_at,"
	    " forced_at) VALUES ($1, $2, now() + make_interval(secs => $3), now(),"
	    " CASE WHEN $4::boolean THEN now() END)"
	    " ON CONFLICT (appid) DO UPDATE SET access_token = EXCLUDED.access_token,"
	    " expires_at = EXCLUDED.expires_at, fetched_at = EXCLUDED.fetched_at,"
	    " forced_at = coalesce(EXCLUDED.forced_at, t.forced_at)"
	    " WHERE t.expires_at < EXCLUDED.expires_at RETURNING 1"},
	/* Only if it is still the token that failed: one statement, so a
	 * newer token stored meanwhile by another worker is never expired. */
	[W_EXPIRE] = {"wxtoken_expire",
	    "UPDATE wechat_tokens SET expires_at = least(expires_at, now())"
	    " WHERE appid = $1 AND access_token = $2"},
	[W__MAX] = {NULL, NULL}
};

static enum err
run(struct db *db, enum wxtoken_stmt s, const struct db_params *p, PGresult **out)
{
	return db_exec(db, &db_wxtoken_stmts[s], p, out);
}

static enum err
run_row(struct db *db, enum wxtoken_stmt s, const struct db_params *p, PGresult **out)
{
	return db_exec_row(db, &db_wxtoken_stmts[s], p, out);
}

/* lock_key: the second half of appid's advisory lock key. */
static int
lock_key(const char *appid)
{
	unsigned char h[8];
	crypto_generichash_state st;

	crypto_generichash_init(&st, NULL, 0, sizeof(h));
	crypto_generichash_update(&st, (const unsigned char *)"wxauth app token", 16);
	crypto_generichash_update(&st, (const unsigned char *)appid, strlen(appid));
	crypto_generichash_final(&st, h, sizeof(h));
	return (int)(((unsigned)h[0] << 23) | ((unsigned)h[1] << 15) |
	    ((unsigned)h[2] << 7) | (h[3] >> 1));       /* 31 bits: never negative */
}

enum err
db_wxtoken_get(struct db *db, const char *appid, struct db_wxtoken *out)
{
	struct db_params p = {0};
	PGresult *res = NULL;
	enum err rc;

	memset(out, 0, sizeof(*out));
	out->forced_age = -1;
	if ((rc = db_connect(db)) != OK)
		return rc;
	db_p_text(&p, appid);
	if ((rc = run_row(db, W_GET, &p, &res)) != OK)
		goto out;
	if (strlen(PQgetvalue(res, 0, 0)) >= sizeof(out->token)) {
		rc = ERR_NOT_FOUND;
		goto out;
	}
	db_copy(out->token, sizeof(out->token), PQgetvalue(res, 0, 0));
	out->left = strtol(PQgetvalue(res, 0, 1), NULL, 10);
	out->age = strtol(PQgetvalue(res, 0, 2), NULL, 10);
	out->forced_age = strtol(PQgetvalue(res, 0, 3), NULL, 10);
out:
	PQclear(res);
	return rc;
}

enum err
db_wxtoken_trylock(struct db *db, const char *appid, bool *locked)
{
	struct db_params p = {0};
	PGresult *res = NULL;
	enum err rc;

	*locked = false;
	if ((rc = db_connect(db)) != OK)
		return rc;
	db_p_int(&p, WXTOKEN_LOCK_CLASS);
	db_p_int(&p, lock_key(appid));
	if ((rc = run_row(db, W_TRYLOCK, &p, &res)) == OK)
		*locked = strcmp(PQgetvalue(res, 0, 0), "t") == 0;
	PQclear(res);
	return rc;
}

void
db_wxtoken_unlock(struct db *db, const char *appid)
{
	struct db_params p = {0};
	PGresult *res = NULL;

	/* A lost connection releases the lock by itself. */
	db_p_int(&p, WXTOKEN_LOCK_CLASS);
	db_p_int(&p, lock_key(appid));
	if (run(db, W_UNLOCK, &p, &res) == OK)
		PQclear(res);
}

enum err
db_wxtoken_put(struct db *db, const char *appid, const char *token, long expires_in,
    bool forced, bool *stored)
{
	struct db_params p = {0};
	PGresult *res = NULL;
	enum err rc;

	*stored = false;
	if ((rc = db_connect(db)) != OK)
		return rc;
	db_p_text(&p, appid);
	db_p_text(&p, token);
	db_p_int(&p, expires_in);
	db_p_text(&p, forced ? "true" : "false");
	if ((rc = run(db, W_PUT, &p, &res)) == OK)
		*stored = PQntuples(res) > 0;
	PQclear(res);
	return rc;
}

enum err
db_wxtoken_expire(struct db *db, const char *appid, const char *token)
{
	struct db_params p = {0};
	PGresult *res = NULL;
	enum err rc;

	if ((rc = db_connect(db)) != OK)
		return rc;
	db_p_text(&p, appid);
	db_p_text(&p, token);
	rc = run(db, W_EXPIRE, &p, &res);
	PQclear(res);
	return rc;
}
