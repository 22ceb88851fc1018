/*
 * db.c - PostgreSQL through libpq: the connection, statement preparation and
 * execution, transactions with retry, LISTEN and the revocation reload.
 * The units of work live in db_*.c, each with its own statement table.
 *
 * One connection per worker. Every statement is named, listed once in a
 * table, and prepared right after each (re)connect; execution is only ever
 * PQexecPrepared. BEGIN, COMMIT, ROLLBACK and LISTEN are the only plain
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
#include "dbi.h"
#include "log.h"
#include "metrics.h"

#define TXN_TRIES 5
#define RECONNECT_EVERY 1       /* seconds between reconnect attempts */

enum core_stmt {
	C_PING,
	C_LOCK_TIMEOUT,
	C_LOAD_REVOKED,
	C_LOAD_MERGES,
	C_AUDIT,
	C__MAX
};

static const struct db_stmt core_stmts[] = {
	[C_PING] = {"ping", "SELECT 1"},
	[C_LOCK_TIMEOUT] = {"lock_timeout", "SELECT set_config('lock_timeout', $1, false)"},
	[C_LOAD_REVOKED] = {"load_revoked",
	    "SELECT id::text FROM sessions"
	    " WHERE revoked_at > now() - make_interval(secs => $1)"},
	[C_LOAD_MERGES] = {"load_merges",
	    "SELECT from_user::text, into_user::text, coalesce(unionid, '') FROM merges"
	    " WHERE undone_at IS NULL AND at > now() - make_interval(secs => $1)"
	    " ORDER BY id"},
	[C_AUDIT] = {"audit",
	    "INSERT INTO audit_log (event, user_id, account_id, session_id,"
	    " request_id, ip, detail) VALUES ($1, $2, $3, $4, $5, $6,"
	    " coalesce($7, '{}')::jsonb)"},
	[C__MAX] = {NULL, NULL}
};

/* Every statement table, prepared on each (re)connect. */
static const struct db_stmt *const tables[] = {
	core_stmts,
	db_session_stmts,
	db_merge_stmts,
	db_profile_stmts,
	db_admin_stmts,
};

struct db {
	PGconn *conn;
	char *conninfo;
	db_event_fn on_event;
	void *arg;
	long reload_window;
	long lock_wait_ms;
	time_t last_attempt;
};

void
db_p_text(struct db_params *p, const char *s)
{
	p->v[p->n] = (s != NULL && *s != '\0') ? s : NULL;
	p->len[p->n] = 0;
	p->fmt[p->n] = 0;
	p->n++;
}

void
db_p_bin(struct db_params *p, const unsigned char *b, size_t n)
{
	p->v[p->n] = (const char *)b;
	p->len[p->n] = (int)n;
	p->fmt[p->n] = 1;
	p->n++;
}

void
db_p_int(struct db_params *p, long long x)
{
	snprintf(p->num[p->n], sizeof(p->num[p->n]), "%lld", x);
	db_p_text(p, p->num[p->n]);
}

void
db_copy(char *dst, size_t dstlen, const char *src)
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
classify(struct db *db, PGresult *res, const char *name)
{
	const char *state = res != NULL ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;

	if (state != NULL && (strcmp(state, "23505") == 0 ||
	    strcmp(state, "40001") == 0 || strcmp(state, "40P01") == 0)) {
		metrics_db_error(MDB_RETRY);
		return ERR_RETRY;
	}
	if (state != NULL && strcmp(state, "55P03") == 0) {
		metrics_db_error(MDB_LOCK_TIMEOUT);
		return ERR_UPSTREAM_TIMEOUT;    /* lock_timeout while waiting */
	}
	if (PQstatus(db->conn) != CONNECTION_OK || state == NULL ||
	    strncmp(state, "08", 2) == 0 || strncmp(state, "57", 2) == 0) {
		log_warnx("db: %s: connection lost: %s", name,
		    PQerrorMessage(db->conn));
		metrics_db_error(MDB_LOST);
		disconnect(db);
		return ERR_DB_UNAVAILABLE;
	}
	log_warnx("db: %s failed: SQLSTATE %s: %s", name, state,
	    res != NULL ? PQresultErrorMessage(res) : "");
	metrics_db_error(MDB_QUERY);
	return ERR_INTERNAL;
}

enum err
db_exec(struct db *db, const struct db_stmt *s, const struct db_params *p, PGresult **out)
{
	PGresult *res;
	ExecStatusType st;
	enum err rc;

	*out = NULL;
	if (db->conn == NULL)
		return ERR_DB_UNAVAILABLE;
	res = PQexecPrepared(db->conn, s->name, p != NULL ? p->n : 0,
	    p != NULL ? p->v : NULL, p != NULL ? p->len : NULL,
	    p != NULL ? p->fmt : NULL, 0);
	st = res != NULL ? PQresultStatus(res) : PGRES_FATAL_ERROR;
	if (st == PGRES_TUPLES_OK || st == PGRES_COMMAND_OK) {
		*out = res;
		return OK;
	}
	rc = classify(db, res, s->name);
	PQclear(res);
	return rc;
}

enum err
db_exec_row(struct db *db, const struct db_stmt *s, const struct db_params *p, PGresult **out)
{
	enum err rc = db_exec(db, s, p, out);

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
		rc = classify(db, res, sql);
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
	struct db_params p = {0};
	int i;

	db->on_event(db->arg, 'r', NULL, NULL, NULL);
	db_p_int(&p, db->reload_window + 60);
	if (db_exec(db, &core_stmts[C_LOAD_REVOKED], &p, &res) == OK)
		for (i = 0; i < PQntuples(res); i++)
			db->on_event(db->arg, 's', PQgetvalue(res, i, 0), NULL, NULL);
	PQclear(res);
	res = NULL;
	if (db_exec(db, &core_stmts[C_LOAD_MERGES], &p, &res) == OK)
		for (i = 0; i < PQntuples(res); i++)
			db->on_event(db->arg, 'm', PQgetvalue(res, i, 0),
			    PQgetvalue(res, i, 1), PQgetvalue(res, i, 2));
	PQclear(res);
}

enum err
db_connect(struct db *db)
{
	const struct db_stmt *s;
	struct db_params p = {0};
	PGresult *res;
	char ms[32];
	time_t now = time(NULL);
	size_t t;

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
		metrics_db_error(MDB_CONNECT);
		disconnect(db);
		return ERR_DB_UNAVAILABLE;
	}
	for (t = 0; t < sizeof(tables) / sizeof(tables[0]); t++) {
		for (s = tables[t]; s->name != NULL; s++) {
			res = PQprepare(db->conn, s->name, s->sql, 0, NULL);
			if (res == NULL || PQresultStatus(res) != PGRES_COMMAND_OK) {
				log_warnx("db: cannot prepare %s: %s", s->name,
				    PQerrorMessage(db->conn));
				metrics_db_error(MDB_CONNECT);
				PQclear(res);
				disconnect(db);
				return ERR_DB_UNAVAILABLE;
			}
			PQclear(res);
		}
	}
	if (db->lock_wait_ms > 0) {
		snprintf(ms, sizeof(ms), "%ldms", db->lock_wait_ms);
		db_p_text(&p, ms);
		if (db_exec(db, &core_stmts[C_LOCK_TIMEOUT], &p, &res) != OK)
			return ERR_DB_UNAVAILABLE;
		PQclear(res);
	}
	/* A command-line tool (no on_event) neither listens nor loads. */
	if (db->on_event == NULL)
		return OK;
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
db_new(const char *conninfo, db_event_fn on_event, void *arg, long reload_window,
    long lock_wait_ms)
{
	struct db *db = calloc(1, sizeof(*db));

	if (db == NULL || (db->conninfo = strdup(conninfo)) == NULL) {
		free(db);
		return NULL;
	}
	db->on_event = on_event;
	db->arg = arg;
	db->reload_window = reload_window;
	db->lock_wait_ms = lock_wait_ms;
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

/* "from:into:unionid" is a merge; "-from:into" its undo. */
static void
merge_event(struct db *db, char *payload)
{
	char *into, *uni;
	int undo = payload[0] == '-';

	if (undo)
		payload++;
	if ((into = strchr(payload, ':')) == NULL)
		return;
	*into++ = '\0';
	if ((uni = strchr(into, ':')) != NULL)
		*uni++ = '\0';
	db->on_event(db->arg, undo ? 'u' : 'm', payload, into, uni != NULL ? uni : "");
}

enum err
db_poll(struct db *db)
{
	PGnotify *n;
	enum err rc;

	if ((rc = db_connect(db)) != OK)
		return rc;
	if (PQconsumeInput(db->conn) == 0) {
		log_warnx("db: connection lost: %s", PQerrorMessage(db->conn));
		metrics_db_error(MDB_LOST);
		disconnect(db);
		return db_connect(db);
	}
	while ((n = PQnotifies(db->conn)) != NULL) {
		if (strcmp(n->relname, "wxauth_revoke") == 0) {
			db->on_event(db->arg, 's', n->extra, NULL, NULL);
		} else if (strcmp(n->relname, "wxauth_merge") == 0) {
			merge_event(db, n->extra);
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

	if ((rc = db_connect(db)) != OK)
		return rc;
	rc = db_exec(db, &core_stmts[C_PING], NULL, &res);
	PQclear(res);
	return rc;
}

enum err
db_txn(struct db *db, enum err (*fn)(struct db *, void *), void *arg)
{
	enum err rc = ERR_DB_UNAVAILABLE;
	int i;

	for (i = 0; i < TXN_TRIES; i++) {
		if ((rc = db_connect(db)) != OK)
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

enum err
db_audit(struct db *db, const char *event, const char *user_id, long long account_id,
    const char *session_id, const char *request_id, const char *ip,
    const char *detail)
{
	struct db_params p = {0};
	PGresult *res = NULL;
	enum err rc;

	db_p_text(&p, event);
	db_p_text(&p, user_id);
	if (account_id > 0)
		db_p_int(&p, account_id);
	else
		db_p_text(&p, NULL);
	db_p_text(&p, session_id);
	db_p_text(&p, request_id);
	db_p_text(&p, ip);
	db_p_text(&p, detail);
	rc = db_exec(db, &core_stmts[C_AUDIT], &p, &res);
	PQclear(res);
	return rc;
}
