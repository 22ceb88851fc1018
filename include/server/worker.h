/*
 * worker.h - one worker process: what lives for the worker (config, keys,
 * the database connection, the curl handle, the revocation view) and its
 * accept loop, one request at a time.
 */
#ifndef WXAUTH_WORKER_H
#define WXAUTH_WORKER_H

#include <signal.h>
#include <time.h>
#include <stdbool.h>

#include "common.h"
#include "conf.h"
#include "svc.h"

/* A worker: the context its handlers see (svc.h, whose role says the
 * pool) and what only the worker loop needs. */
struct worker {
	struct svc s;
	int slot;                       /* metrics slot under serve, -1 standalone */
	bool load_fits;                 /* every entry of this reload fitted the pool view (poolview.h) */
	bool must_exit;                 /* leave after this request (view broken) */
	unsigned long served;
	time_t pruned_at;               /* the last prune batch (prune_interval) */
	int watched;                    /* the database socket in the epoll set, or -1 */
	unsigned long watched_conn;     /* of which connection attempt (db_wants) */
	bool watched_ready;             /* registered as a working connection */
	bool local;                     /* the FastCGI socket is a Unix one */
};

/*
 * worker_init / worker_cleanup: build and release what lives for the
 * worker. worker_init returns 0, or -1 with the reason logged.
 */
int worker_init(struct worker *w, const struct conf *c, int slot,
    enum svc_role role) WARN_UNUSED;
void worker_cleanup(struct worker *w);

/*
 * worker_run: accept and serve requests on the FastCGI socket fd until
 * SIGTERM/SIGINT (the request in flight finishes first) or max_requests.
 * slot is the worker's metrics slot under serve, -1 under spawn-fcgi. Once
 * ready to take requests it writes one byte to ready_fd and closes it
 * (-1: nobody waits). Returns the process exit status: 0 after a stop or
 * max_requests, 1 when it could not start or accept.
 */
int worker_run(const struct conf *c, int fd, int slot, int ready_fd,
    enum svc_role role);

/* worker_stopping: set by SIGTERM/SIGINT in a worker. */
extern volatile sig_atomic_t worker_stop;

#endif
