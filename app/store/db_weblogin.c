/*
 * db_weblogin.c - the web login's rows: a state honoured once
 * (oauth_states, by hash), and a ticket (oauth_tickets, by hash) that
 * points at its login's stored answer and keeps the hash of the binding
 * cookie of the browser that began; traded once, within seconds.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libpq-fe.h>
#include <sodium.h>

#include "db.h"
#include "dbi.h"

enum weblogin_stmt {
	WL_STATE_USE,
	WL_TICKET_PUT,
	WL_TICKET_TAKE,
	WL__MAX
};

const struct db_stmt db_weblogin_stmts[] = {
	[WL_STATE_USE] = {"oauth_state_use",
	    "INSERT INTO oauth_states (hash) VALUES ($1) ON CONFLICT DO NOTHING RETURNING 1"},
	[WL_TICKET_PUT] = {"oauth_ticket_put",
	    "INSERT INTO oauth_tickets (hash, code_hash, bind_hash) VALUES ($1, $2, $3)"},
	/* Once, within $2 seconds: the ticket's login answer. */
	[WL_TICKET_TAKE] = {"oauth_ticket_take",
	    "WITH t AS (UPDATE oauth_tickets SET used_at = now() WHERE hash = $1"
	    " AND used_at IS NULL AND created_at > now() - make_interval(secs => $2)"
	    " RETURNING code_hash, bind_hash)"
	    " SELECT encode(t.code_hash, 'hex'), coalesce(encode(c.answer, 'hex'), ''),"
	    " coalesce(encode(t.bind_hash, 'hex'), '')"
	    " FROM t JOIN login_codes c ON c.code_hash = t.code_hash"},
	[WL__MAX] = {NULL, NULL}
};

static enum err
run(struct db *db, enum weblogin_stmt s, const struct db_params *p, PGresult **out)
{
	return db_exec(db, &db_weblogin_stmts[s], p, out);
}

enum err
db_oauth_state_use(struct db *db, const unsigned char *hash, bool *fresh)
{
	struct db_params p = {0};
	PGresult *res = NULL;
	enum err rc;

	*fresh = false;
	if ((rc = db_connect(db)) != OK)
		return rc;
	db_p_bin(&p, hash, TOK_HASHBYTES);
	if ((rc = run(db, WL_STATE_USE, &p, &res)) == OK)
		*fresh = PQntuples(res) == 1;
	PQclear(res);
	return rc;
}

enum err
db_ticket_put(struct db *db, const unsigned char *ticket_hash, const unsigned char *code_hash,
    const unsigned char *bind_hash)
{
	struct db_params p = {0};
	PGresult *res = NULL;
	enum err rc;

	if ((rc = db_connect(db)) != OK)
		return rc;
	db_p_bin(&p, ticket_hash, TOK_HASHBYTES);
	db_p_bin(&p, code_hash, TOK_HASHBYTES);
	db_p_bin(&p, bind_hash, TOK_HASHBYTES);
	rc = run(db, WL_TICKET_PUT, &p, &res);
	PQclear(res);
	return rc;
}

enum err
db_ticket_take(struct db *db, const unsigned char *ticket_hash, long max_age,
    unsigned char code_hash[TOK_HASHBYTES], unsigned char bind_hash[TOK_HASHBYTES],
    struct db_stored *answer)
{
	struct db_params p = {0};
	PGresult *res = NULL;
	const char *hex;
	size_t n = 0;
	enum err rc;

	answer->len = 0;
	if ((rc = db_connect(db)) != OK)
		return rc;
	db_p_bin(&p, ticket_hash, TOK_HASHBYTES);
	db_p_int(&p, max_age);
	if ((rc = run(db, WL_TICKET_TAKE, &p, &res)) != OK)
		goto out;
	rc = ERR_NOT_FOUND;
	if (PQntuples(res) != 1)
		goto out;
	hex = PQgetvalue(res, 0, 0);
	if (sodium_hex2bin(code_hash, TOK_HASHBYTES, hex, strlen(hex), NULL, &n, NULL) != 0 ||
	    n != TOK_HASHBYTES)
		goto out;
	hex = PQgetvalue(res, 0, 1);
	if (sodium_hex2bin(answer->b, sizeof(answer->b), hex, strlen(hex), NULL,
	    &answer->len, NULL) != 0 || answer->len == 0)
		goto out;
	/* A ticket made before its binding existed binds to nothing: all
	 * zeros, which no cookie hashes to. */
	memset(bind_hash, 0, TOK_HASHBYTES);
	hex = PQgetvalue(res, 0, 2);
	if (*hex != '\0' && (sodium_hex2bin(bind_hash, TOK_HASHBYTES, hex, strlen(hex), NULL,
	    &n, NULL) != 0 || n != TOK_HASHBYTES))
		goto out;
	rc = OK;
out:
	PQclear(res);
	return rc;
}
