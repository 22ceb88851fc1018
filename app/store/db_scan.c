/*
 * db_scan.c - the PC scan login's requests (scan_logins, db/010_scan.sql):
 * made by a PC page, scanned, confirmed or cancelled by a person in the
 * mini-program, a confirmation opening the PC's session in the same
 * transaction, and the PC's ticket handed out once. Every state change is
 * one conditional UPDATE, so two phones, a phone and the clock, or two
 * workers settle it in the row, never in memory.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libpq-fe.h>
#include <sodium.h>

#include "db.h"
#include "dbi.h"

enum scan_stmt {
	SC_NEW,
	SC_GET,
	SC_SCANNED,
	SC_REFUSED,
	SC_CANCEL,
	SC_CONFIRM_LOCK,
	SC_CONFIRMED,
	SC_TICKET,
	SC__MAX
};

/* The live account of (appid $2, openid $3), its user neither deleted nor
 * merged away. */
#define SCAN_ACCOUNT \
	"SELECT a.id, a.user_id FROM accounts a JOIN users u ON u.id = a.user_id" \
	" WHERE a.appid = $2 AND a.openid = $3 AND u.deleted_at IS NULL" \
	" AND u.merged_into IS NULL"

const struct db_stmt db_scan_stmts[] = {
	[SC_NEW] = {"scan_new",
	    "INSERT INTO scan_logins (id_hash, appid, bind_hash, expires_at)"
	    " VALUES ($1, $2, $3, now() + make_interval(secs => $4))"},
	/* What a PC page's poll shows: an unfinished request past its time is
	 * expired, whatever a late phone does. */
	[SC_GET] = {"scan_get",
	    "SELECT CASE WHEN status IN ('pending', 'scanned') AND expires_at <= now()"
	    " THEN 'expired' ELSE status END, encode(bind_hash, 'hex'), appid, refused,"
	    " ticket_at IS NOT NULL,"
	    " greatest(0, floor(extract(epoch FROM expires_at - now())))::bigint"
	    " FROM scan_logins WHERE id_hash = $1"},
	[SC_SCANNED] = {"scan_scanned",
	    "WITH a AS (" SCAN_ACCOUNT ")"
	    " UPDATE scan_logins s SET status = 'scanned', user_id = a.user_id,"
	    " account_id = a.id, scanned_at = now() FROM a"
	    " WHERE s.id_hash = $1 AND s.appid = $2 AND s.expires_at > now()"
	    " AND (s.status = 'pending' OR (s.status = 'scanned' AND s.account_id = a.id))"
	    " RETURNING 1"},
	/* Why a scan, a confirm or a cancel changed nothing: taken by someone
	 * else (counted, for the PC page to show), or over. */
	[SC_REFUSED] = {"scan_refused",
	    "WITH a AS (" SCAN_ACCOUNT ")"
	    " UPDATE scan_logins s SET refused = refused + CASE WHEN s.status = 'scanned'"
	    " AND s.expires_at > now() AND s.account_id IS DISTINCT FROM (SELECT id FROM a)"
	    " THEN 1 ELSE 0 END WHERE s.id_hash = $1 AND s.appid = $2"
	    " RETURNING s.status = 'scanned' AND s.expires_at > now()"
	    " AND s.account_id IS DISTINCT FROM (SELECT id FROM a)"},
	[SC_CANCEL] = {"scan_cancel",
	    "WITH a AS (" SCAN_ACCOUNT ")"
	    " UPDATE scan_logins s SET status = 'cancelled', decided_at = now() FROM a"
	    " WHERE s.id_hash = $1 AND s.appid = $2 AND s.expires_at > now()"
	    " AND (s.status = 'pending' OR (s.status = 'scanned' AND s.account_id = a.id))"
	    " RETURNING 1"},
	/* The request, scanned by this person's live account, still in time:
	 * locked, with what the new session's answer names. */
	[SC_CONFIRM_LOCK] = {"scan_confirm_lock",
	    "SELECT s.account_id, s.user_id, a.openid, coalesce(u.unionid, '')"
	    " FROM scan_logins s JOIN accounts a ON a.id = s.account_id"
	    " JOIN users u ON u.id = a.user_id"
	    " WHERE s.id_hash = $1 AND s.appid = $2 AND a.openid = $3"
	    " AND s.status = 'scanned' AND s.expires_at > now()"
	    " AND u.deleted_at IS NULL AND u.merged_into IS NULL"
	    " FOR UPDATE OF s FOR KEY SHARE OF u"},
	[SC_CONFIRMED] = {"scan_confirmed",
	    "UPDATE scan_logins SET status = 'confirmed', decided_at = now(), code_hash = $2"
	    " WHERE id_hash = $1"},
	/* Once: the PC's ticket, pointing at the session's stored answer,
	 * bound to the PC's cookie. */
	[SC_TICKET] = {"scan_ticket",
	    "WITH s AS (UPDATE scan_logins SET ticket_at = now() WHERE id_hash = $1"
	    " AND status = 'confirmed' AND ticket_at IS NULL RETURNING code_hash, bind_hash)"
	    " INSERT INTO oauth_tickets (hash, code_hash, bind_hash)"
	    " SELECT $2, code_hash, bind_hash FROM s RETURNING 1"},
	[SC__MAX] = {NULL, NULL}
};

static enum err
run(struct db *db, enum scan_stmt s, const struct db_params *p, PGresult **out)
{
	return db_exec(db, &db_scan_stmts[s], p, out);
}

enum err
db_scan_new(struct db *db, const unsigned char *id_hash, const unsigned char *bind_hash,
    const char *appid, long ttl)
{
	struct db_params p = {0};
	PGresult *res = NULL;
	enum err rc;

	if ((rc = db_connect(db)) != OK)
		return rc;
	db_p_bin(&p, id_hash, TOK_HASHBYTES);
	db_p_text(&p, appid);
	db_p_bin(&p, bind_hash, TOK_HASHBYTES);
	db_p_int(&p, ttl);
	rc = run(db, SC_NEW, &p, &res);
	PQclear(res);
	return rc;
}

enum err
db_scan_get(struct db *db, const unsigned char *id_hash, struct db_scan *out)
{
	struct db_params p = {0};
	PGresult *res = NULL;
	const char *hex;
	size_t n = 0;
	enum err rc;

	memset(out, 0, sizeof(*out));
	if ((rc = db_connect(db)) != OK)
		return rc;
	db_p_bin(&p, id_hash, TOK_HASHBYTES);
	if ((rc = run(db, SC_GET, &p, &res)) != OK)
		goto out;
	if (PQntuples(res) != 1) {
		rc = ERR_NOT_FOUND;
		goto out;
	}
	db_copy(out->status, sizeof(out->status), PQgetvalue(res, 0, 0));
	hex = PQgetvalue(res, 0, 1);
	if (sodium_hex2bin(out->bind_hash, TOK_HASHBYTES, hex, strlen(hex), NULL, &n,
	    NULL) != 0 || n != TOK_HASHBYTES) {
		rc = ERR_INTERNAL;
		goto out;
	}
	db_copy(out->appid, sizeof(out->appid), PQgetvalue(res, 0, 2));
	out->refused = strtol(PQgetvalue(res, 0, 3), NULL, 10);
	out->ticket_given = PQgetvalue(res, 0, 4)[0] == 't';
	out->expires_in = strtol(PQgetvalue(res, 0, 5), NULL, 10);
out:
	PQclear(res);
	return rc;
}

/* refused: why a change by (appid, openid) found no row to change. */
static enum err
refused(struct db *db, const unsigned char *id_hash, const char *appid, const char *openid)
{
	struct db_params p = {0};
	PGresult *res = NULL;
	enum err rc;

	db_p_bin(&p, id_hash, TOK_HASHBYTES);
	db_p_text(&p, appid);
	db_p_text(&p, openid);
	if ((rc = run(db, SC_REFUSED, &p, &res)) != OK)
		goto out;
	rc = PQntuples(res) != 1 ? ERR_NOT_FOUND :
	    PQgetvalue(res, 0, 0)[0] == 't' ? ERR_SCAN_TAKEN : ERR_SCAN_OVER;
out:
	PQclear(res);
	return rc;
}

/* change: SC_SCANNED or SC_CANCEL by (appid, openid), or why not. */
static enum err
change(struct db *db, enum scan_stmt s, const unsigned char *id_hash, const char *appid,
    const char *openid)
{
	struct db_params p = {0};
	PGresult *res = NULL;
	enum err rc;

	if ((rc = db_connect(db)) != OK)
		return rc;
	db_p_bin(&p, id_hash, TOK_HASHBYTES);
	db_p_text(&p, appid);
	db_p_text(&p, openid);
	if ((rc = run(db, s, &p, &res)) == OK && PQntuples(res) != 1)
		rc = refused(db, id_hash, appid, openid);
	PQclear(res);
	return rc;
}

enum err
db_scan_scanned(struct db *db, const unsigned char *id_hash, const char *appid,
    const char *openid)
{
	return change(db, SC_SCANNED, id_hash, appid, openid);
}

enum err
db_scan_cancel(struct db *db, const unsigned char *id_hash, const char *appid,
    const char *openid)
{
	return change(db, SC_CANCEL, id_hash, appid, openid);
}

struct confirm_ctx {
	const unsigned char *id_hash;
	const struct db_login *in;
	struct db_ident *out;
	bool refused;
};

static enum err
confirm_txn(struct db *db, void *arg)
{
	struct confirm_ctx *x = arg;
	struct db_params p = {0};
	PGresult *res = NULL;
	enum err rc;

	memset(x->out, 0, sizeof(*x->out));
	x->refused = false;
	db_p_bin(&p, x->id_hash, TOK_HASHBYTES);
	db_p_text(&p, x->in->appid);
	db_p_text(&p, x->in->openid);
	if ((rc = run(db, SC_CONFIRM_LOCK, &p, &res)) != OK)
		goto out;
	if (PQntuples(res) != 1) {
		x->refused = true;
		rc = ERR_SCAN_OVER;
		goto out;
	}
	x->out->account_id = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
	db_copy(x->out->user_id, sizeof(x->out->user_id), PQgetvalue(res, 0, 1));
	db_copy(x->out->openid, sizeof(x->out->openid), PQgetvalue(res, 0, 2));
	db_copy(x->out->unionid, sizeof(x->out->unionid), PQgetvalue(res, 0, 3));
	db_copy(x->out->appid, sizeof(x->out->appid), x->in->appid);
	PQclear(res);
	res = NULL;
	if ((rc = db_session_open_for(db, x->in, x->out)) != OK)
		goto out;
	memset(&p, 0, sizeof(p));
	db_p_bin(&p, x->id_hash, TOK_HASHBYTES);
	db_p_bin(&p, x->in->code_hash, TOK_HASHBYTES);
	rc = run(db, SC_CONFIRMED, &p, &res);
out:
	PQclear(res);
	return rc;
}

enum err
db_scan_confirm(struct db *db, const unsigned char *id_hash, const struct db_login *in,
    struct db_ident *out)
{
	struct confirm_ctx x = {id_hash, in, out, false};
	enum err rc;

	rc = db_txn(db, confirm_txn, &x);
	/* Refused: say why, outside the rolled-back transaction. */
	if (rc == ERR_SCAN_OVER && x.refused)
		rc = refused(db, id_hash, in->appid, in->openid);
	return rc;
}

enum err
db_scan_ticket(struct db *db, const unsigned char *id_hash, const unsigned char *ticket_hash)
{
	struct db_params p = {0};
	PGresult *res = NULL;
	enum err rc;

	if ((rc = db_connect(db)) != OK)
		return rc;
	db_p_bin(&p, id_hash, TOK_HASHBYTES);
	db_p_bin(&p, ticket_hash, TOK_HASHBYTES);
	if ((rc = run(db, SC_TICKET, &p, &res)) == OK && PQntuples(res) != 1)
		rc = ERR_SCAN_OVER;
	PQclear(res);
	return rc;
}
