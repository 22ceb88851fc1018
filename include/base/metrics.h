/*
 * metrics.h - counters for GET /metrics (Prometheus text format 0.0.4).
 *
 * Under `wxauth serve` the counters live in one shared anonymous mapping
 * that the master creates before the first fork: one slot per worker, so
 * that a scrape answered by any worker sums the whole pool, and a worker
 * that is replaced leaves its counts behind for its successor. Every update
 * is an atomic add, because during a reload an old and a new worker write
 * the same slot for a moment. Under spawn-fcgi there is no master: each
 * worker counts in private memory and a scrape sees that worker only.
 *
 * The recording functions never fail and never block: before metrics_init
 * or metrics_attach they count into private memory of their own.
 */
#ifndef WXAUTH_METRICS_H
#define WXAUTH_METRICS_H

#include <stdbool.h>
#include <stddef.h>

#include <limits.h>

#include "common.h"

/* The answer's content type. */
#define METRICS_CONTENT_TYPE "text/plain; version=0.0.4; charset=utf-8"
/* Rows of request counters a slot holds: the routes, and "unmatched". */
#define METRICS_ROUTES_MAX 64

/* metrics_routes: the routes' names, index = the route number that
 * metrics_request is given (at most METRICS_ROUTES_MAX); names must live
 * as long as the process. Before it, every request counts as unmatched. */
void metrics_routes(const char *const *names, size_t n);


/* Why the master replaced a worker (wxauth_worker_restarts_total). */
enum metrics_restart {
	MR_CRASHED,     /* exited with an error or was killed */
	MR_RECYCLED,    /* exited after max_requests */
	MR_RELOADED,    /* replaced by SIGHUP */
	MR__MAX
};

/* What went wrong with PostgreSQL (wxauth_db_errors_total). */
enum metrics_db {
	MDB_CONNECT,    /* could not connect or prepare */
	MDB_LOST,       /* the connection broke during a statement */
	MDB_QUERY,      /* a statement failed: a bug in our SQL */
	MDB_RETRY,      /* serialisation failure, deadlock or unique race: retried */
	MDB_LOCK_TIMEOUT, /* lock_timeout while waiting for a row or a lock */
	MDB_TIMEOUT,    /* no answer in time (statement_timeout, or a frozen server) */
	MDB__MAX
};

/* Why an admin request was refused (wxauth_admin_denied_total). */
enum metrics_admin {
	MA_NO_KEY,      /* no bearer at all */
	MA_WRONG_KEY,   /* not the admin key */
	MA_DISABLED,    /* no admin key configured */
	MA__MAX
};

/* metrics_admin_denied: one refused admin request. */
void metrics_admin_denied(enum metrics_admin why);
/* metrics_userinfo_cache: a profile answered from the cache (hit) or not. */
void metrics_userinfo_cache(bool hit);
/* metrics_admin_reason: "no_key", "wrong_key", "disabled". */
const char *metrics_admin_reason(enum metrics_admin why);

/*
 * metrics_init: the shared counters for a pool of up to nslots workers
 * (master, before forking). Returns 0, or -1 with the reason logged.
 */
int metrics_init(int nslots) WARN_UNUSED;

/*
 * metrics_attach: the slot this worker process writes to (0..nslots-1), or
 * -1 under spawn-fcgi (private counters, one worker).
 */
void metrics_attach(int slot);

/* metrics_request: one answered request; route is a route number (see
 * metrics_routes), or any other value when no route matched; seconds from
 * arrival to answer. */
void metrics_request(int route, int status, double seconds);

/*
 * metrics_wechat_call: one call of WeChat's api (a short name such as
 * "jscode2session") that ended in rc with WeChat's errcode (0 when none),
 * after seconds. Counted by errcode when WeChat answered one, else by what
 * happened ("timeout", "unavailable"); timed by api.
 */
void metrics_wechat_call(const char *api, enum err rc, long errcode, double seconds);

/* metrics_db_query: one statement's round trip to PostgreSQL, in seconds. */
void metrics_db_query(double seconds);

/* metrics_token_refresh: one app access_token fetched from WeChat. */
void metrics_token_refresh(void);

/* metrics_merge: two users merged, for reason ("unionid", "link"). */
void metrics_merge(const char *reason);

/* metrics_db_error: one database failure of this kind. */
void metrics_db_error(enum metrics_db kind);

/* metrics_workers (master): workers running and configured. */
void metrics_workers(int alive, int configured);

/* metrics_gate_workers (master): gate pool workers running and configured. */
void metrics_gate_workers(int alive, int configured);

/* metrics_restart (master): one worker replaced, for this reason. */
void metrics_restart(enum metrics_restart why);

/*
 * metrics_render: the whole exposition, in a malloc'd NUL-terminated string
 * that the caller frees; *len gets its length. NULL when out of memory.
 */
char *metrics_render(size_t *len);

/* For the console's health screen: the pools' workers (alive, configured),
 * and WeChat's calls by API and errcode since the pool started (errcode
 * METRICS_WX_TIMEOUT or METRICS_WX_UNAVAILABLE when none came back). */
#define METRICS_WX_TIMEOUT (LONG_MIN + 1)
#define METRICS_WX_UNAVAILABLE (LONG_MIN + 2)
struct metrics_wx_count {
	char api[32];
	long errcode;
	unsigned long long calls;
};
void metrics_pools(int *alive, int *configured, int *gate_alive, int *gate_configured);
size_t metrics_wechat_counts(struct metrics_wx_count *out, size_t max);

#endif
