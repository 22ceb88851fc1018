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
 *
 * A transaction runs in libpq's pipeline mode, to save round trips, not to
 * overlap statements: its BEGIN goes out with its first statement, and its
 * COMMIT with the release of the advisory lock the request holds, if it
 * asked (db_txn_release). Every statement is still sent alone and its
 * answer read before the next is sent (a flush request, no sync), so each
 * sees what committed before it started, as it would one by one.
 */
#include <assert.h>
#include <errno.h>
#include <inttypes.h>
#include <poll.h>
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
/* Between the starts of two connection attempts: none after a working
 * connection, then 100 ms, doubling with each failed attempt up to a
 * second (a standby promoted in a quarter of a second is found soon, a
 * server down for long is tried once a second). */
#define RECONNECT_FIRST_MS 100
#define RECONNECT_MAX_MS 1000
#define ANSWER_SLACK_MS 1000    /* past statement_timeout, for the server to say so */
#define SETUP_MAX 128           /* statements sent when a connection opens */
/* How long a worker told "something changed" waits to read what: past it,
 * the view is not known to be whole and tokens are refused until a reload. */
#define VIEW_FETCH_MS 500
#define CURSOR_MAX 24           /* an xid8 as text */

enum core_stmt {
	C_PING,
	C_SET,
	C_VIEW_CURSOR,
	C_LOAD_REVOKED,
	C_LOAD_MERGES,
	C_VIEW_SINCE,
	C_AUDIT,
	C_UNLOCK,
	C_HINT,
	C__MAX
};

static const struct db_stmt core_stmts[] = {
	[C_PING] = {"ping", "SELECT 1"},
	[C_SET] = {"set", "SELECT set_config($1, $2, false)"},
	/* Every transaction older than this has ended: what it wrote to
	 * view_log is visible now (db/008_hints.sql). */
	[C_VIEW_CURSOR] = {"view_cursor",
	    "SELECT pg_snapshot_xmin(pg_current_snapshot())::text"},
	[C_LOAD_REVOKED] = {"load_revoked",
	    "SELECT id::text FROM sessions"
	    " WHERE revoked_at > now() - make_interval(secs => $1)"},
	[C_LOAD_MERGES] = {"load_merges",
	    "SELECT from_user::text, into_user::text, coalesce(unionid, '') FROM merges"
	    " WHERE undone_at IS NULL AND at > now() - make_interval(secs => $1)"
	    " ORDER BY id"},
	/* What changed since the cursor $1, and the next cursor: one row with
	 * NULLs when nothing did. A transaction still running at the last
	 * read is read again (applying a change twice changes nothing). */
	[C_VIEW_SINCE] = {"view_since",
	    "SELECT (SELECT pg_snapshot_xmin(pg_current_snapshot()))::text,"
	    " l.kind, l.a::text, coalesce(l.b::text, ''), coalesce(l.unionid, '')"
	    " FROM (SELECT 1) one LEFT JOIN view_log l ON l.xid >= $1::xid8"
	    " AND l.at > now() - make_interval(secs => $2) ORDER BY l.id"},
	[C_AUDIT] = {"audit",
	    "INSERT INTO audit_log (event, user_id, account_id, session_id,"
	    " request_id, ip, detail) VALUES ($1, $2, $3, $4, $5, $6,"
	    " coalesce($7, '{}')::jsonb)"},
	[C_UNLOCK] = {"unlock", "SELECT pg_advisory_unlock($1::bigint)"},
	/* A profile hint of its own, out of the transaction (db_hint_after). */
	[C_HINT] = {"hint", "SELECT pg_notify('wxauth_profile', wxauth_bucket($1::uuid))"},
	[C__MAX] = {NULL, NULL}
};

/* Every statement table, prepared on each (re)connect. */
static const struct db_stmt *const tables[] = {
	core_stmts,
	db_session_stmts,
	db_merge_stmts,
	db_profile_stmts,
	db_admin_stmts,
	db_account_stmts,
	db_wxtoken_stmts,
	db_weblogin_stmts,
	db_scan_stmts,
	db_console_stmts,
};

/*
 * A connection goes DOWN -> CONNECTING (PQconnectPoll) -> SETUP (one
 * pipeline: settings, every PREPARE, LISTEN and the reload, sent at once and
 * read as the answers come) -> READY. Nothing in it ever blocks without a
 * deadline: a frozen server costs a request its deadline, never more, and
 * db_poll, which the token check calls, never waits at all.
 */
enum db_state { ST_DOWN, ST_CONNECTING, ST_SETUP, ST_READY };

/* What each statement of the setup pipeline answers. */
enum setup_kind { SK_PLAIN, SK_CURSOR, SK_REVOKED, SK_MERGES };

struct db {
	PGconn *conn;
	enum db_state state;
	struct db_opts o;
	char *conninfo;
	int64_t attempt_ms;             /* monotonic start of the last attempt */
	int64_t gap_ms;                 /* before the next may start (0 after a working one) */
	short want;                     /* POLLIN or POLLOUT, for PQconnectPoll */
	enum setup_kind kinds[SETUP_MAX];
	int nsetup, setup_at;           /* statements sent, answered */
	PGresult *revoked;              /* load_revoked's rows, until the merges come */
	bool closing;                   /* the server said FATAL: lost at the next look */
	bool hinted;                    /* a hint came: read view_log before the next answer */
	char cursor[CURSOR_MAX];        /* view_log is read from this transaction id on */
	unsigned long attempts;         /* connection attempts started so far */
	bool piped;                     /* in a transaction, in pipeline mode */
	bool synced;                    /* its COMMIT and sync sent (db_exec_last) */
	bool releasing;                 /* the held lock goes with its COMMIT */
	int unread;                     /* answers sent for and not read: BEGIN's */
	bool held;                      /* a session-level advisory lock (db_hold) */
	long long held_key;
	char hint_user[UUID_STR];       /* "": no hint after the COMMIT (db_hint_after) */
};

static int64_t
mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* errmsg: libpq's message on one line: its newlines (it ends with one, and
 * a multi-host attempt lists one line per host) folded into "; ". */
static const char *
errmsg(const PGconn *conn)
{
	static char buf[512];
	const char *m = conn != NULL ? PQerrorMessage(conn) : "out of memory";
	size_t i, o = 0;

	for (i = 0; m[i] != '\0' && o + 3 < sizeof(buf); i++) {
		if (m[i] == '\n' || m[i] == '\r') {
			if (m[i + 1] != '\0' && o > 0 && buf[o - 1] != ' ') {
				buf[o++] = ';';
				buf[o++] = ' ';
			}
			continue;
		}
		buf[o++] = m[i];
	}
	while (o > 0 && (buf[o - 1] == ' ' || buf[o - 1] == ';'))
		o--;
	buf[o] = '\0';
	return buf;
}

void
db_p_text(struct db_params *p, const char *s)
{
	assert(p->n < DB_PARAMS_MAX);
	p->v[p->n] = (s != NULL && *s != '\0') ? s : NULL;
	p->len[p->n] = 0;
	p->fmt[p->n] = 0;
	p->n++;
}

void
db_p_bin(struct db_params *p, const unsigned char *b, size_t n)
{
	assert(p->n < DB_PARAMS_MAX);
	p->v[p->n] = (const char *)b;
	p->len[p->n] = (int)n;
	p->fmt[p->n] = 1;
	p->n++;
}

void
db_p_int(struct db_params *p, long long x)
{
	assert(p->n < DB_PARAMS_MAX);
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
	db->state = ST_DOWN;
	/* Told that something changed, never told what: not whole. */
	if (db->hinted && db->o.on_event != NULL)
		db->o.on_event(db->o.arg, DB_EV_UNSURE, NULL, NULL, NULL);
	db->hinted = false;
	db->closing = false;
	/* What the connection held or had under way went with it. */
	db->piped = db->synced = false;
	db->unread = 0;
	db->held = false;
	PQclear(db->revoked);
	db->revoked = NULL;
}

/*
 * on_notice: an error the server sends while the connection is idle is its
 * last word (FATAL: a backend terminated by an administrator, a shutdown).
 * libpq hands it here as a notice and sees the close only at a later read;
 * from here the connection counts as lost, so that nothing a worker learnt
 * through it (its userinfo cache) is trusted one request longer.
 */
static void
on_notice(void *arg, const PGresult *res)
{
	struct db *db = arg;
	const char *sev = PQresultErrorField(res, PG_DIAG_SEVERITY_NONLOCALIZED);

	if (sev != NULL && (strcmp(sev, "FATAL") == 0 || strcmp(sev, "PANIC") == 0))
		db->closing = true;
}

/* give_up: a connection attempt failed; logged once, here. */
static enum err
give_up(struct db *db, const char *what)
{
	log_warnx("db: cannot connect: %s: %s", what, errmsg(db->conn));
	metrics_db_error(MDB_CONNECT);
	disconnect(db);
	if (db->gap_ms == 0)
		db->gap_ms = RECONNECT_FIRST_MS;
	else if ((db->gap_ms *= 2) > RECONNECT_MAX_MS)
		db->gap_ms = RECONNECT_MAX_MS;
	return ERR_DB_UNAVAILABLE;
}

/* lost: the connection broke (or stopped answering) during a statement. */
static enum err
lost(struct db *db, const char *name, enum metrics_db kind)
{
	if (kind == MDB_TIMEOUT)
		log_warnx("db: %s: no answer in %ld ms: dropping the connection", name,
		    db->o.statement_timeout_ms + ANSWER_SLACK_MS);
	else
		log_warnx("db: %s: connection lost: %s", name, errmsg(db->conn));
	metrics_db_error(kind);
	disconnect(db);
	return ERR_DB_UNAVAILABLE;
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
	/* A refusal raised by a statement (db/015_login_calls.sql). */
	if (state != NULL && strcmp(state, DB_STATE_DISABLED) == 0)
		return ERR_USER_DISABLED;
	if (state != NULL && strcmp(state, "55P03") == 0) {
		metrics_db_error(MDB_LOCK_TIMEOUT);
		return ERR_DB_BUSY;     /* lock_timeout while waiting */
	}
	if (state != NULL && strcmp(state, "57014") == 0) {
		/* statement_timeout: the server answers, too slowly. */
		log_warnx("db: %s: statement_timeout", name);
		metrics_db_error(MDB_TIMEOUT);
		return ERR_DB_UNAVAILABLE;
	}
	if (PQstatus(db->conn) != CONNECTION_OK || state == NULL ||
	    strncmp(state, "08", 2) == 0 || strncmp(state, "57", 2) == 0)
		return lost(db, name, MDB_LOST);
	log_warnx("db: %s failed: SQLSTATE %s: %s", name, state,
	    res != NULL ? PQresultErrorMessage(res) : "");
	metrics_db_error(MDB_QUERY);
	return ERR_INTERNAL;
}

/* await_socket: poll the connection's socket for ev, at most ms. Returns
 * 1 ready, 0 not yet, -1 broken. */
static int
await_socket(struct db *db, short ev, int64_t ms)
{
	struct pollfd pfd;
	int n;

	pfd.fd = PQsocket(db->conn);
	pfd.events = ev;
	if (pfd.fd < 0)
		return -1;
	n = poll(&pfd, 1, ms > 0 ? (int)(ms > 60000 ? 60000 : ms) : 0);
	if (n == -1)
		return errno == EINTR ? 0 : -1;
	return n > 0;
}

/* bucket: a profile hint's payload, a number from 0 to 4095, or -1. */
static int
bucket(const char *s)
{
	int b = 0, i;

	for (i = 0; s[i] >= '0' && s[i] <= '9' && i < 4; i++)
		b = b * 10 + (s[i] - '0');
	return i > 0 && s[i] == '\0' && b < 4096 ? b : -1;
}

/*
 * notified: take in each notification libpq has read. Called by db_poll,
 * and after every answer: our own notifications come with the COMMIT's
 * (PostgreSQL sends them before ReadyForQuery). Any role that may connect
 * may NOTIFY, so a notification is only ever a hint (db/008_hints.sql):
 * wxauth_view says "read view_log" (db_poll does, before the next
 * answer); wxauth_profile names a bucket of users whose cached answers are
 * dropped, which is all a forged one can make happen.
 */
static void
notified(struct db *db)
{
	PGnotify *n;
	int mine;

	if (db->o.on_event == NULL || db->conn == NULL)
		return;
	while ((n = PQnotifies(db->conn)) != NULL) {
		mine = n->be_pid == PQbackendPID(db->conn);
		if (strcmp(n->relname, "wxauth_view") == 0)
			db->hinted = true;
		else if (strcmp(n->relname, "wxauth_profile") == 0 && bucket(n->extra) >= 0)
			db->o.on_event(db->o.arg, DB_EV_PROFILE, n->extra,
			    mine ? "mine" : NULL, NULL);
		PQfreemem(n);
	}
}

/*
 * answer: the answer to what was just sent, within statement_timeout and a
 * second: a server that does not answer by then (frozen, a stuck disk, a
 * network gone quiet) costs the connection, not the worker. *out is the
 * last result (NULL when none); the caller PQclears it.
 */
static enum err
answer_within(struct db *db, const char *name, PGresult **out, int64_t ms)
{
	int64_t until = mono_ms() + ms;
	PGresult *res, *last = NULL;
	int n;

	*out = NULL;
	for (;;) {
		while (PQisBusy(db->conn)) {
			if ((n = await_socket(db, POLLIN, until - mono_ms())) == -1 ||
			    (n == 1 && PQconsumeInput(db->conn) == 0)) {
				PQclear(last);
				return lost(db, name, MDB_LOST);
			}
			if (n == 0 && mono_ms() >= until) {
				PQclear(last);
				return lost(db, name, MDB_TIMEOUT);
			}
		}
		if ((res = PQgetResult(db->conn)) == NULL)
			break;
		PQclear(last);
		last = res;
	}
	*out = last;
	notified(db);
	return OK;
}

static enum err
answer(struct db *db, const char *name, PGresult **out)
{
	return answer_within(db, name, out, db->o.statement_timeout_ms + ANSWER_SLACK_MS);
}

/* await: answer, timed for wxauth_db_query_duration_seconds. */
static enum err
await(struct db *db, const char *name, PGresult **out)
{
	struct timespec t0, t1;
	enum err rc;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	rc = answer(db, name, out);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	metrics_db_query((double)(t1.tv_sec - t0.tv_sec) + (t1.tv_nsec - t0.tv_nsec) / 1e9);
	return rc;
}

/* outcome: a statement's answer: OK with *out, or what its failure means. */
static enum err
outcome(struct db *db, const char *name, PGresult *res, PGresult **out)
{
	ExecStatusType st = res != NULL ? PQresultStatus(res) : PGRES_FATAL_ERROR;
	enum err rc;

	if (st == PGRES_TUPLES_OK || st == PGRES_COMMAND_OK) {
		*out = res;
		return OK;
	}
	rc = classify(db, res, name);
	PQclear(res);
	return rc;
}

/* caught_up: in a transaction, read the answers sent for before the
 * statement just sent (BEGIN's). */
static enum err
caught_up(struct db *db)
{
	PGresult *res = NULL, *ok = NULL;
	enum err rc = OK;

	for (; db->piped && db->unread > 0 && rc == OK; db->unread--) {
		if ((rc = answer(db, "BEGIN", &res)) == OK &&
		    (rc = outcome(db, "BEGIN", res, &ok)) == OK)
			PQclear(ok);
	}
	return rc;
}

/* send: s with p, queued (and, outside pipeline mode, sent). */
static int
send(struct db *db, const struct db_stmt *s, const struct db_params *p)
{
	return PQsendQueryPrepared(db->conn, s->name, p != NULL ? p->n : 0,
	    p != NULL ? p->v : NULL, p != NULL ? p->len : NULL,
	    p != NULL ? p->fmt : NULL, 0);
}

enum err
db_exec(struct db *db, const struct db_stmt *s, const struct db_params *p, PGresult **out)
{
	PGresult *res = NULL;
	enum err rc;

	*out = NULL;
	if (db->state != ST_READY)
		return ERR_DB_UNAVAILABLE;
	if (db->synced) {
		log_warnx("db: %s after the last statement of a transaction", s->name);
		return ERR_INTERNAL;
	}
	if (send(db, s, p) == 0)
		return lost(db, s->name, MDB_LOST);
	/* In a transaction: out now, answered without a sync. */
	if (db->piped && (PQsendFlushRequest(db->conn) == 0 || PQflush(db->conn) != 0))
		return lost(db, s->name, MDB_LOST);
	if ((rc = caught_up(db)) != OK || (rc = await(db, s->name, &res)) != OK)
		return rc;
	return outcome(db, s->name, res, out);
}

enum err
db_exec_text(struct db *db, const struct db_stmt *s, const struct db_params *p, char **text)
{
	PGresult *res = NULL;
	enum err rc;

	*text = NULL;
	if ((rc = db_connect(db)) != OK)
		return rc;
	if ((rc = db_exec_row(db, s, p, &res)) == OK &&
	    (*text = strdup(PQgetvalue(res, 0, 0))) == NULL)
		rc = ERR_INTERNAL;
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
	PGresult *res = NULL;
	enum err rc;

	if (db->state != ST_READY)
		return ERR_DB_UNAVAILABLE;
	if (PQsendQuery(db->conn, sql) == 0)
		return lost(db, sql, MDB_LOST);
	if ((rc = await(db, sql, &res)) != OK)
		return rc;
	if (res == NULL || PQresultStatus(res) != PGRES_COMMAND_OK) {
		rc = classify(db, res, sql);
		if (rc == ERR_INTERNAL)
			log_warnx("db: %s failed", sql);
	}
	PQclear(res);
	return rc;
}

/* ---- opening a connection ---- */

static int
send_setup(struct db *db, enum setup_kind k, int ok)
{
	if (!ok || db->nsetup >= SETUP_MAX)
		return -1;
	db->kinds[db->nsetup++] = k;
	return 0;
}

static int
send_set(struct db *db, const char *name, const char *value)
{
	const char *vals[2] = {name, value};

	return send_setup(db, SK_PLAIN, PQsendQueryPrepared(db->conn,
	    core_stmts[C_SET].name, 2, vals, NULL, NULL, 0));
}

static int
send_set_ms(struct db *db, const char *name, long ms)
{
	char v[32];

	snprintf(v, sizeof(v), "%ldms", ms);
	return send_set(db, name, v);
}

static int
send_load(struct db *db, enum core_stmt s, enum setup_kind k)
{
	char win[24];
	const char *vals[1] = {win};

	snprintf(win, sizeof(win), "%ld", db->o.reload_window + 60);
	return send_setup(db, k, PQsendQueryPrepared(db->conn, core_stmts[s].name,
	    1, vals, NULL, NULL, 0));
}

/*
 * start_setup: the connection is open: send, in one pipeline, every
 * PREPARE, the timeouts, and (for a worker) LISTEN before the reload, so
 * that nothing falls between the two. The answers are read by setup_step.
 */
static enum err
start_setup(struct db *db)
{
	const struct db_stmt *s;
	size_t t;
	long lock_ms = db->o.lock_wait_ms;

	db->nsetup = db->setup_at = 0;
	if (PQsetnonblocking(db->conn, 1) != 0 || PQenterPipelineMode(db->conn) != 1)
		return give_up(db, "pipeline mode");
	for (t = 0; t < sizeof(tables) / sizeof(tables[0]); t++)
		for (s = tables[t]; s->name != NULL; s++)
			if (send_setup(db, SK_PLAIN, PQsendPrepare(db->conn, s->name,
			    s->sql, 0, NULL)) == -1)
				return give_up(db, "prepare");
	/* A lock wait gives up before the statement that waits would (by a
	 * tenth), so that its answer is "busy", not "db_unavailable". */
	if (lock_ms <= 0 || lock_ms > db->o.statement_timeout_ms / 10 * 9)
		lock_ms = db->o.statement_timeout_ms / 10 * 9;
	/* Every statement of ours is meant for an index. A prepared statement
	 * is planned once, maybe while its table is empty (a new deployment),
	 * and a generic plan made then is a sequential scan that stays as the
	 * table grows; with seq scans priced out, a plan made on an empty table
	 * is the index scan, whatever ANALYZE has or has not seen. The price of
	 * the scans left (of tables without a fitting index, all small) would
	 * set off JIT compilation, hundreds of milliseconds for statements that
	 * run in one: JIT is off. */
	if (send_set_ms(db, "statement_timeout", db->o.statement_timeout_ms) == -1 ||
	    send_set_ms(db, "lock_timeout", lock_ms) == -1 ||
	    send_set(db, "enable_seqscan", "off") == -1 ||
	    send_set(db, "jit", "off") == -1)
		return give_up(db, "settings");
	/* A command-line tool (no on_event) neither listens nor loads. */
	if (db->o.on_event != NULL &&
	    (send_setup(db, SK_PLAIN, PQsendQueryParams(db->conn, "LISTEN wxauth_view",
	    0, NULL, NULL, NULL, NULL, 0)) == -1 ||
	    send_setup(db, SK_CURSOR, PQsendQueryPrepared(db->conn,
	    core_stmts[C_VIEW_CURSOR].name, 0, NULL, NULL, NULL, 0)) == -1 ||
	    (db->o.profiles && send_setup(db, SK_PLAIN, PQsendQueryParams(db->conn,
	    "LISTEN wxauth_profile", 0, NULL, NULL, NULL, NULL, 0)) == -1) ||
	    send_load(db, C_LOAD_REVOKED, SK_REVOKED) == -1 ||
	    send_load(db, C_LOAD_MERGES, SK_MERGES) == -1))
		return give_up(db, "listen");
	if (PQpipelineSync(db->conn) != 1)
		return give_up(db, "pipeline");
	db->state = ST_SETUP;
	return OK;
}

/* reloaded: the revocation view from scratch, from the two loads. */
static void
reloaded(struct db *db, PGresult *merges)
{
	db_event_fn ev = db->o.on_event;
	void *arg = db->o.arg;
	int i;

	ev(arg, DB_EV_RELOAD, NULL, NULL, NULL);
	for (i = 0; i < PQntuples(db->revoked); i++)
		ev(arg, DB_EV_SESSION, PQgetvalue(db->revoked, i, 0), NULL, NULL);
	for (i = 0; i < PQntuples(merges); i++)
		ev(arg, DB_EV_MERGE, PQgetvalue(merges, i, 0), PQgetvalue(merges, i, 1),
		    PQgetvalue(merges, i, 2));
	ev(arg, DB_EV_LOADED, NULL, NULL, NULL);
	PQclear(db->revoked);
	db->revoked = NULL;
}

/* setup_step: read what has come of the setup pipeline, without waiting.
 * Returns OK once all of it is answered, ERR_RETRY while some is due, or
 * ERR_DB_UNAVAILABLE (given up). */
static enum err
setup_step(struct db *db)
{
	PGresult *res;
	ExecStatusType st;
	int f;

	if ((f = PQflush(db->conn)) == -1 || PQconsumeInput(db->conn) == 0)
		return give_up(db, "setup");
	/* Wait to write as well while some of the pipeline is still unsent. */
	db->want = f == 1 ? (POLLIN | POLLOUT) : POLLIN;
	while (!PQisBusy(db->conn)) {
		if ((res = PQgetResult(db->conn)) == NULL) {
			/* The end of one statement's answer. */
			if (db->setup_at < db->nsetup)
				db->setup_at++;
			continue;
		}
		st = PQresultStatus(res);
		if (st == PGRES_PIPELINE_SYNC) {
			PQclear(res);
			if (PQexitPipelineMode(db->conn) != 1 ||
			    PQsetnonblocking(db->conn, 0) != 0)
				return give_up(db, "pipeline mode");
			db->state = ST_READY;
			db->gap_ms = 0;
			/* What committed between the loads and LISTEN taking
			 * effect is read from the cursor taken before both. */
			db->hinted = db->o.on_event != NULL;
			log_info("db: connected");
			/* What came after LISTEN, read with the setup's answers. */
			notified(db);
			return OK;
		}
		if ((st != PGRES_TUPLES_OK && st != PGRES_COMMAND_OK) ||
		    db->setup_at >= db->nsetup) {
			log_warnx("db: setup statement %d failed: %s", db->setup_at,
			    PQresultErrorMessage(res));
			PQclear(res);
			return give_up(db, "setup");
		}
		switch (db->kinds[db->setup_at]) {
		case SK_PLAIN:
			PQclear(res);
			break;
		case SK_CURSOR:
			db_copy(db->cursor, sizeof(db->cursor), PQntuples(res) == 1 ?
			    PQgetvalue(res, 0, 0) : "");
			PQclear(res);
			break;
		case SK_REVOKED:
			PQclear(db->revoked);
			db->revoked = res;
			break;
		case SK_MERGES:
			if (db->revoked == NULL) {
				PQclear(res);
				return give_up(db, "setup order");
			}
			reloaded(db, res);
			PQclear(res);
			break;
		}
	}
	return ERR_RETRY;
}

/* start: a new connection attempt, if the gap since the last has passed. */
static enum err
start(struct db *db)
{
	const char *kw[] = {"connect_timeout", "dbname", NULL};
	const char *val[] = {NULL, db->conninfo, NULL};
	char secs[24];
	int64_t now = mono_ms();

	if (now - db->attempt_ms < db->gap_ms)
		return ERR_DB_UNAVAILABLE;
	db->attempt_ms = now;
	/* libpq ignores connect_timeout under PQconnectPoll (the deadline is
	 * ours, in advance); it is set for what it prints in messages. The
	 * operator's own conninfo comes after it and wins. */
	snprintf(secs, sizeof(secs), "%ld", (db->o.connect_timeout_ms + 999) / 1000);
	val[0] = secs;
	db->attempts++;
	db->conn = PQconnectStartParams(kw, val, 1);
	if (db->conn == NULL || PQstatus(db->conn) == CONNECTION_BAD)
		return give_up(db, "start");
	if (db->o.on_event != NULL)
		PQsetNoticeReceiver(db->conn, on_notice, db);
	db->state = ST_CONNECTING;
	db->want = POLLOUT;
	return OK;
}

/* step: one advance of the connection without waiting: OK when READY,
 * ERR_RETRY when in progress, ERR_DB_UNAVAILABLE when given up. */
static enum err
step(struct db *db)
{
	switch (db->state) {
	case ST_READY:
		return OK;
	case ST_DOWN:
		return start(db) == OK ? ERR_RETRY : ERR_DB_UNAVAILABLE;
	case ST_CONNECTING:
		switch (PQconnectPoll(db->conn)) {
		case PGRES_POLLING_READING:
			db->want = POLLIN;
			return ERR_RETRY;
		case PGRES_POLLING_WRITING:
			db->want = POLLOUT;
			return ERR_RETRY;
		case PGRES_POLLING_OK:
			if (start_setup(db) != OK)
				return ERR_DB_UNAVAILABLE;
			return setup_step(db);
		case PGRES_POLLING_FAILED:
		default:
			return give_up(db, "connect");
		}
	case ST_SETUP:
		return setup_step(db);
	}
	assert(!"bad connection state");
	return ERR_INTERNAL;
}

/*
 * advance: drive the connection towards READY for at most wait_ms (0: only
 * what needs no waiting). An attempt older than connect_timeout is given
 * up. Returns OK when READY, else ERR_DB_UNAVAILABLE.
 */
static enum err
advance(struct db *db, int64_t wait_ms)
{
	int64_t now = mono_ms(), until = now + wait_ms, left;
	enum err rc;

	for (;;) {
		if ((rc = step(db)) != ERR_RETRY)
			return rc == OK ? OK : ERR_DB_UNAVAILABLE;
		now = mono_ms();
		if (now - db->attempt_ms >= db->o.connect_timeout_ms)
			return give_up(db, db->state == ST_SETUP ? "no answer to the setup" :
			    "timed out");
		left = until < db->attempt_ms + db->o.connect_timeout_ms ?
		    until - now : db->attempt_ms + db->o.connect_timeout_ms - now;
		if (left <= 0)
			return ERR_DB_UNAVAILABLE;
		if (await_socket(db, db->want, left) == -1)
			return give_up(db, "socket");
	}
}

enum err
db_connect(struct db *db)
{
	if (db->state == ST_READY && PQstatus(db->conn) == CONNECTION_OK)
		return OK;
	if (db->state == ST_READY)
		disconnect(db);
	return advance(db, db->o.connect_timeout_ms);
}

struct db *
db_new(const struct db_opts *o)
{
	struct db *db = calloc(1, sizeof(*db));

	if (db == NULL || (db->conninfo = strdup(o->conninfo)) == NULL) {
		free(db);
		return NULL;
	}
	db->o = *o;
	db->o.conninfo = db->conninfo;
	db->attempt_ms = INT64_MIN / 2;
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

/* drain: read what a working connection has, hand its notifications
 * over, and notice when it is lost (db_poll's first half). */
static void
drain(struct db *db)
{
	if (db->state == ST_READY) {
		/* libpq parses what it read in PQnotifies: a FATAL notice is
		 * seen (on_notice) only after notified(). */
		if (PQconsumeInput(db->conn) == 0) {
			(void)lost(db, "poll", MDB_LOST);
		} else {
			notified(db);
			if (db->closing)
				(void)lost(db, "poll (the server ended the session)", MDB_LOST);
		}
	}
}

/*
 * fetch: a hint came: read what changed since the cursor from view_log and
 * hand it to on_event, within VIEW_FETCH_MS. A read that fails or does not
 * answer in time leaves the view not known to be whole (DB_EV_UNSURE): the
 * worker refuses tokens until a reconnect reloads it.
 */
static void
fetch(struct db *db)
{
	const char *vals[2];
	char win[24];
	PGresult *res = NULL;
	enum err rc;
	int i, rows;
	const char *k;

	db->hinted = false;
	snprintf(win, sizeof(win), "%ld", db->o.reload_window + 60);
	vals[0] = db->cursor;
	vals[1] = win;
	if (PQsendQueryPrepared(db->conn, core_stmts[C_VIEW_SINCE].name, 2, vals,
	    NULL, NULL, 0) == 0) {
		rc = lost(db, "view_since", MDB_LOST);
	} else if ((rc = answer_within(db, "view_since", &res, VIEW_FETCH_MS)) == OK &&
	    (res == NULL || PQresultStatus(res) != PGRES_TUPLES_OK)) {
		rc = classify(db, res, "view_since");
		if (rc == OK || rc == ERR_RETRY || rc == ERR_DB_BUSY)
			rc = ERR_INTERNAL;
	}
	if (rc != OK) {
		PQclear(res);
		db->o.on_event(db->o.arg, DB_EV_UNSURE, NULL, NULL, NULL);
		return;
	}
	rows = PQntuples(res);
	for (i = 0; i < rows; i++) {
		if (PQgetisnull(res, i, 1))
			continue;
		k = PQgetvalue(res, i, 1);
		if (k[0] == 's')
			db->o.on_event(db->o.arg, DB_EV_SESSION, PQgetvalue(res, i, 2), NULL, NULL);
		else if (k[0] == 'm')
			db->o.on_event(db->o.arg, DB_EV_MERGE, PQgetvalue(res, i, 2),
			    PQgetvalue(res, i, 3), PQgetvalue(res, i, 4));
		else if (k[0] == 'u')
			db->o.on_event(db->o.arg, DB_EV_UNMERGE, PQgetvalue(res, i, 2), NULL, NULL);
	}
	if (rows > 0)
		db_copy(db->cursor, sizeof(db->cursor), PQgetvalue(res, 0, 0));
	PQclear(res);
}

enum err
db_poll(struct db *db)
{
	/* Notifications: drain takes them in, and setup_step those that
	 * came with a new connection's setup. */
	drain(db);
	if (advance(db, 0) != OK)
		return ERR_DB_UNAVAILABLE;
	if (db->hinted && db->o.on_event != NULL)
		fetch(db);
	return db->state == ST_READY ? OK : ERR_DB_UNAVAILABLE;
}

bool
db_hinted(const struct db *db)
{
	return db->hinted;
}

bool
db_ready(const struct db *db)
{
	return db->state == ST_READY;
}

int
db_wants(const struct db *db, short *events, int64_t *wait_ms, unsigned long *which)
{
	int64_t left;

	*which = db->attempts;
	*events = 0;
	*wait_ms = -1;
	switch (db->state) {
	case ST_READY:
		*events = POLLIN;
		return PQsocket(db->conn);
	case ST_CONNECTING:
	case ST_SETUP:
		*events = db->want;
		left = db->attempt_ms + db->o.connect_timeout_ms - mono_ms();
		*wait_ms = left > 0 ? left : 0;
		return PQsocket(db->conn);
	case ST_DOWN:
		/* A worker (it listens) tries again when the gap is over;
		 * a tool connects when it needs to. */
		if (db->o.on_event != NULL) {
			left = db->attempt_ms + db->gap_ms - mono_ms();
			*wait_ms = left > 0 ? left : 0;
		}
		return -1;
	}
	return -1;
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

/* to_sync: read and drop every answer up to the pipeline's sync, then
 * leave pipeline mode. */
static enum err
to_sync(struct db *db)
{
	int64_t until = mono_ms() + db->o.statement_timeout_ms + ANSWER_SLACK_MS;
	PGresult *res;
	ExecStatusType st = PGRES_EMPTY_QUERY;
	int n, ends = 0;

	while (st != PGRES_PIPELINE_SYNC) {
		while (PQisBusy(db->conn)) {
			if ((n = await_socket(db, POLLIN, until - mono_ms())) == -1 ||
			    (n == 1 && PQconsumeInput(db->conn) == 0))
				return lost(db, "sync", MDB_LOST);
			if (n == 0 && mono_ms() >= until)
				return lost(db, "sync", MDB_TIMEOUT);
		}
		/* Each statement's answer ends in a NULL: a few, never many. */
		if ((res = PQgetResult(db->conn)) == NULL) {
			if (++ends > SETUP_MAX)
				return lost(db, "sync", MDB_LOST);
			continue;
		}
		st = PQresultStatus(res);
		PQclear(res);
	}
	db->unread = 0;
	db->piped = db->synced = false;
	notified(db);
	if (PQexitPipelineMode(db->conn) != 1)
		return lost(db, "pipeline mode", MDB_LOST);
	return OK;
}

/* txn_begin: pipeline mode, and BEGIN, sent with the first statement. */
static enum err
txn_begin(struct db *db)
{
	if (db->state != ST_READY)
		return ERR_DB_UNAVAILABLE;
	if (PQenterPipelineMode(db->conn) != 1 ||
	    PQsendQueryParams(db->conn, "BEGIN", 0, NULL, NULL, NULL, NULL, 0) == 0)
		return lost(db, "BEGIN", MDB_LOST);
	db->piped = true;
	db->synced = false;
	db->unread = 1;
	db->hint_user[0] = '\0';
	return OK;
}

/* send_commit: COMMIT, the release of the advisory lock held when the
 * transaction asked for it, the profile hint it asked for, and the sync,
 * queued to go out together. */
static enum err
send_commit(struct db *db)
{
	struct db_params p = {0}, h = {0};

	db_p_int(&p, db->held_key);
	db_p_text(&h, db->hint_user);
	if (PQsendQueryParams(db->conn, "COMMIT", 0, NULL, NULL, NULL, NULL, 0) == 0 ||
	    (db->releasing && send(db, &core_stmts[C_UNLOCK], &p) == 0) ||
	    (db->hint_user[0] != '\0' && send(db, &core_stmts[C_HINT], &h) == 0) ||
	    PQpipelineSync(db->conn) == 0)
		return lost(db, "COMMIT", MDB_LOST);
	db->synced = true;
	return OK;
}

/* txn_commit: COMMIT (sent now, or with the last statement), and the
 * release, in one round trip. A lock not released here stays held
 * (db_release). */
static enum err
txn_commit(struct db *db)
{
	PGresult *res = NULL, *ok = NULL;
	enum err rc;

	if (!db->synced && (rc = send_commit(db)) != OK)
		return rc;
	if ((rc = caught_up(db)) != OK || (rc = await(db, "COMMIT", &res)) != OK ||
	    (rc = outcome(db, "COMMIT", res, &ok)) != OK)
		goto out;
	PQclear(ok);
	ok = NULL;
	if (db->releasing && answer(db, "unlock", &res) == OK &&
	    outcome(db, "unlock", res, &ok) == OK)
		db->held = false;
	PQclear(ok);
	ok = NULL;
	/* A hint lost here is lost with the connection, which every worker
	 * that cached anything then forgets (DB_EV_RELOAD). */
	if (db->hint_user[0] != '\0' && db->state == ST_READY && answer(db, "hint", &res) == OK)
		(void)outcome(db, "hint", res, &ok);
out:
	PQclear(ok);
	if (db->state == ST_READY && db->piped && to_sync(db) != OK)
		rc = ERR_DB_UNAVAILABLE;
	return rc;
}

/* txn_abort: the answers up to a sync, then ROLLBACK. After a last
 * statement that failed, the COMMIT sent with it did nothing. */
static void
txn_abort(struct db *db)
{
	if (db->state != ST_READY)
		return;
	if (db->piped && ((!db->synced && PQpipelineSync(db->conn) == 0) || to_sync(db) != OK))
		return;
	(void)command(db, "ROLLBACK");
}

enum err
db_exec_last(struct db *db, const struct db_stmt *s, const struct db_params *p,
    PGresult **out)
{
	PGresult *res = NULL;
	enum err rc;

	*out = NULL;
	if (!db->piped)
		return db_exec(db, s, p, out);
	if (db->state != ST_READY)
		return ERR_DB_UNAVAILABLE;
	if (send(db, s, p) == 0)
		return lost(db, s->name, MDB_LOST);
	if ((rc = send_commit(db)) != OK || (rc = caught_up(db)) != OK ||
	    (rc = await(db, s->name, &res)) != OK)
		return rc;
	return outcome(db, s->name, res, out);
}

void
db_hint_after(struct db *db, const char *user_id)
{
	db_copy(db->hint_user, sizeof(db->hint_user), user_id);
}

enum err
db_txn_release(struct db *db, enum err (*fn)(struct db *, void *), void *arg,
    bool release)
{
	enum err rc = ERR_DB_UNAVAILABLE;
	int i;

	for (i = 0; i < TXN_TRIES; i++) {
		if ((rc = db_connect(db)) != OK || (rc = txn_begin(db)) != OK)
			return rc;
		db->releasing = release && db->held;
		rc = fn(db, arg);
		if (rc == OK)
			rc = txn_commit(db);
		else
			txn_abort(db);
		if (rc != ERR_RETRY)
			return rc;
	}
	log_warnx("db: transaction failed %d times in a row", TXN_TRIES);
	return ERR_DB_UNAVAILABLE;
}

enum err
db_txn(struct db *db, enum err (*fn)(struct db *, void *), void *arg)
{
	return db_txn_release(db, fn, arg, false);
}

void
db_hold(struct db *db, long long key)
{
	db->held = true;
	db->held_key = key;
}

void
db_release(struct db *db)
{
	struct db_params p = {0};
	PGresult *res = NULL;

	/* A lost connection released it by itself. */
	if (!db->held || db->state != ST_READY)
		return;
	db_p_int(&p, db->held_key);
	if (db_exec(db, &core_stmts[C_UNLOCK], &p, &res) == OK)
		db->held = false;
	PQclear(res);
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
