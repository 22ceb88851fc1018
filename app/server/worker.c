/*
 * worker.c - one worker: build what lives for the worker, then accept and
 * serve one request at a time until told to stop.
 */
#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <fcgiapp.h>
#include <sodium.h>

#include "db.h"
#include "gate.h"
#include "poolview.h"
#include "http.h"
#include "log.h"
#include "metrics.h"
#include "profview.h"
#include "ended.h"
#include "route.h"
#include "worker.h"
#include "wx.h"
#include "wxtoken.h"

/* LISTEN_TAG: the listening socket's mark in the epoll set (the database
 * socket's is its descriptor). */
#define LISTEN_TAG -2

volatile sig_atomic_t worker_stop;
static volatile sig_atomic_t reopen_log;

static void
on_stop(int sig)
{
	(void)sig;
	worker_stop = 1;
}

static void
on_usr1(int sig)
{
	(void)sig;
	reopen_log = 1;
}

/*
 * on_event: notifications and reloads feed the revocation view, and the
 * pool's shared copy of it (poolview.h). A view that cannot hold what it is
 * told is no longer whole: the worker refuses tokens and leaves after this
 * request, so that its successor loads afresh.
 */
static void
on_event(void *arg, enum db_event ev, const char *a, const char *b, const char *c)
{
	struct worker *w = arg;
	int64_t until = (int64_t)time(NULL) + w->s.conf->access_ttl + 60;

	switch (ev) {
	case DB_EV_RELOAD:
		ended_clear(w->s.rev);
		/* A new connection: changes made while there was none were
		 * never notified. */
		profview_clear(w->s.pc);
		w->load_fits = true;
		return;
	case DB_EV_PROFILE:
		profview_changed(w->s.pc, (unsigned)strtoul(a, NULL, 10), b != NULL);
		return;
	case DB_EV_SESSION:
		if (ended_add_session(w->s.rev, a, until) == -1)
			goto oom;
		if (poolview_put_session(a, until) == -1)
			w->load_fits = false;
		return;
	case DB_EV_MERGE:
		if (ended_add_merge(w->s.rev, a, b, c, until) == -1)
			goto oom;
		if (poolview_put_merge(a, b, c, until) == -1)
			w->load_fits = false;
		return;
	case DB_EV_UNMERGE:
		ended_drop_merge(w->s.rev, a);
		poolview_drop_merge(a);
		return;
	case DB_EV_LOADED:
		if (!w->s.view_ok)
			log_info("worker: revocation view loaded");
		w->s.view_ok = true;
		poolview_mark(w->load_fits);
		return;
	case DB_EV_UNSURE:
		log_warnx("worker: told of a change that could not be read; refusing "
		    "tokens until the revocation view is reloaded");
		w->s.view_ok = false;
		poolview_mark(false);
		return;
	}
	assert(!"unknown database event");
	return;
oom:
	log_warnx("worker: the revocation view cannot hold what it is told (memory, or "
	    "its bound); refusing tokens and recycling");
	w->s.view_ok = false;
	w->must_exit = true;
}

/*
 * worker_lock_wait: how long a login waits for another login with the same
 * code (a database lock): as long as that one may take talking to WeChat,
 * with its one retry, and a second to spare.
 */
static long
worker_lock_wait(const struct conf *c)
{
	return c->wechat_timeout_ms * 2 + c->wechat_connect_timeout_ms + 1000;
}

int
worker_init(struct worker *w, const struct conf *c, int slot, enum svc_role role)
{
	struct db_opts o;
	char err[512];

	memset(w, 0, sizeof(*w));
	w->s.conf = c;
	w->slot = slot;
	w->s.role = role;
	memset(&o, 0, sizeof(o));
	o.conninfo = c->database;
	o.on_event = on_event;
	o.arg = w;
	/* Only the main pool answers /v1/userinfo. */
	o.profiles = role == SVC_MAIN;
	o.reload_window = c->access_ttl;
	o.lock_wait_ms = worker_lock_wait(c);
	o.connect_timeout_ms = c->db_connect_timeout_ms;
	o.statement_timeout_ms = c->db_statement_timeout_ms;
	if ((w->s.keys = tok_keys_open(c->key_file, c->token_public, err,
	    sizeof(err))) == NULL ||
	    (w->s.data_keys = tok_keys_open(c->data_key_file, false, err,
	    sizeof(err))) == NULL) {
		log_warnx("%s", err);
		goto fail;
	}
	/* Every subkey, derived once (tok.h). */
	if ((w->s.hash_keys = tok_hashkeys_new(w->s.data_keys)) == NULL ||
	    (w->s.rev = ended_new()) == NULL ||
	    (w->s.db = db_new(&o)) == NULL ||
	    (w->s.wx = wx_new(c)) == NULL ||
	    (w->s.wxtok = wxtoken_new(c, w->s.db, w->s.wx)) == NULL) {
		log_warnx("worker: out of memory");
		goto fail;
	}
	/* NULL without serve's shared memory: nothing is cached (profview.h). */
	if (role == SVC_MAIN)
		w->s.pc = profview_new();
	return 0;
fail:
	worker_cleanup(w);
	return -1;
}

void
worker_cleanup(struct worker *w)
{
	profview_free(w->s.pc);
	wxtoken_free(w->s.wxtok);
	wx_free(w->s.wx);
	db_free(w->s.db);
	ended_free(w->s.rev);
	tok_hashkeys_free(w->s.hash_keys);
	tok_keys_free(w->s.data_keys);
	tok_keys_free(w->s.keys);
	memset(w, 0, sizeof(*w));
}

/*
 * serve_one: one request. unread: the database socket may have something
 * (a notification) to read, or there is no connection to advance: db_poll
 * runs; otherwise the epoll that found the request has just seen the
 * socket quiet, and the system call is saved. Returns whether all of the
 * request's input was read (http_input_done).
 */
static bool
serve_one(struct worker *w, FCGX_Request *f, bool unread)
{
	struct req r;
	struct tok_claims who;
	enum route rt = R__MAX;
	enum err rc;
	double ms;
	bool done;

	http_req_init(&r, f);
	log_set_rid(r.id);
	/* Drain revocations and merges before answering anything; this never
	 * waits, whatever the database does. */
	if (unread || !db_ready(w->s.db) || db_hinted(w->s.db))
		(void)db_poll(w->s.db);
	if ((w->served & 1023) == 0)
		ended_prune(w->s.rev, (int64_t)time(NULL));
	memset(&who, 0, sizeof(who));
	/* A request that waited in the socket's queue longer than
	 * queue_timeout_ms is refused at once: its client is about to give up,
	 * and serving it would only make the queue behind it longer. */
	if (w->s.conf->queue_timeout_ms > 0 &&
	    http_queued_ms(&r) > (double)w->s.conf->queue_timeout_ms) {
		rc = ERR_BUSY;
		r.route_name = "queue_timeout";
	} else {
		rc = gate_pass(&w->s, &r, &rt, &who);
	}
	if (rc == OK)
		rc = routes[rt].fn(&w->s, &r, (routes[rt].flags & RF_BEARER) ? &who : NULL);
	/* The one door errors leave by. */
	if (rc != OK)
		http_send_error(&r, rc);
	ms = http_elapsed_ms(&r);
	log_request(r.method_str, r.route_name, r.status, ms, r.appid, r.user);
	metrics_request((int)rt, r.status, ms / 1e3);
	log_set_rid(NULL);
	sodium_memzero(&who, sizeof(who));
	done = http_input_done(&r);
	http_req_cleanup(&r);
	return done;
}

/*
 * finish: the response is out; end the request. libfcgi closes a
 * connection by shutting down its side and then waiting for the client to
 * close, so that data the client may still send does not make TCP reset
 * the connection and lose the answer: a wait for nginx's next turn and
 * three system calls per request. On a Unix socket, with the whole request
 * read, nothing can be reset or lost, and the connection is simply closed
 * (FCGX_Detach: close it without that wait). A connection nginx keeps
 * (fastcgi_keep_conn) stays open either way.
 */
static void
finish(struct worker *w, FCGX_Request *f, bool input_done)
{
	if (w->local && input_done && !f->keepConnection)
		(void)FCGX_Detach(f);
	FCGX_Finish_r(f);
}

/* PRUNE_BATCH: rows of each table one prune batch deletes at most. */
#define PRUNE_BATCH 500

/*
 * prune_now: every prune_interval seconds, after a response has gone out,
 * a main-pool worker whose connection is up deletes one small batch of
 * what is past its retention (db_prune): the tables stop growing without a
 * cron job, and no request waits for it. The gate pool never does.
 */
static void
prune_now(struct worker *w)
{
	const struct conf *c = w->s.conf;
	struct db_retention keep = {c->retain_sessions_days, c->retain_audit_days,
	    c->retain_events_days, c->watermark_max_age + 60};
	struct db_pruned n;
	time_t now = time(NULL);

	if (w->s.role != SVC_MAIN || c->prune_interval <= 0 ||
	    now - w->pruned_at < c->prune_interval || !db_ready(w->s.db))
		return;
	w->pruned_at = now;
	if (db_prune(w->s.db, &keep, PRUNE_BATCH, &n) == OK &&
	    n.sessions + n.audit + n.events > 0)
		log_info("worker: pruned %ld sessions, %ld audit rows, %ld events",
		    n.sessions, n.audit, n.events);
}

/*
 * signals: SIGTERM, SIGINT and SIGUSR1 stay blocked except while the worker
 * waits for its next request (wait_next), so that they never interrupt a
 * request: libfcgi fails a request whose read() or write() returns EINTR,
 * and drops a connection it has just accepted when the readiness check it
 * makes on it is interrupted. *open receives the mask to wait with.
 */
static void
signals(sigset_t *open)
{
	struct sigaction sa;
	sigset_t quiet;

	memset(&sa, 0, sizeof(sa));
	sigemptyset(&sa.sa_mask);
	sa.sa_handler = on_stop;
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	sa.sa_handler = on_usr1;
	sigaction(SIGUSR1, &sa, NULL);
	sa.sa_handler = SIG_IGN;
	sigaction(SIGPIPE, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	sigemptyset(&quiet);
	sigaddset(&quiet, SIGTERM);
	sigaddset(&quiet, SIGINT);
	sigaddset(&quiet, SIGUSR1);
	sigprocmask(SIG_SETMASK, &quiet, NULL);
	sigemptyset(open);
}

/*
 * wait_next: wait, with the signals of open let in, until the listening
 * socket has a connection or the connection nginx keeps open
 * (fastcgi_keep_conn) has the next request. Returns 1 when there is
 * something to accept or read, 0 when a signal came, -1 on an error.
 * The listening socket is non-blocking, so a connection another worker
 * took first makes FCGX_Accept_r fail with EAGAIN instead of blocking
 * with the signals shut out; EPOLLEXCLUSIVE wakes one idle worker per
 * connection instead of all of them.
 */
static int
wait_next(int ep, const FCGX_Request *f, const sigset_t *open, int timeout,
    bool *db_in)
{
	struct epoll_event ev[2];
	struct pollfd pfd;
	int n, i, conn = 0;

	/* ipcFd is libfcgi's own field: read, never written. */
	if (f->ipcFd >= 0) {
		pfd.fd = f->ipcFd;
		pfd.events = POLLIN;
		*db_in = true;          /* not watched here: always look */
		n = ppoll(&pfd, 1, NULL, open);
		if (n > 0)
			return 1;
		return n == 0 || errno == EINTR ? 0 : -1;
	}
	*db_in = false;
	n = epoll_pwait(ep, ev, 2, timeout, open);
	if (n < 0)
		return errno == EINTR ? 0 : -1;
	/* Timed out: the database's deadline or back-off is due. */
	if (n == 0)
		*db_in = true;
	for (i = 0; i < n; i++) {
		if (ev[i].data.fd == LISTEN_TAG)
			conn = 1;
		else
			*db_in = true;
	}
	return conn;
}

/* CONNECTING_MS: how often an idle worker looks at a connection attempt
 * at least (libpq may move a multi-host attempt to a new socket). */
#define CONNECTING_MS 50

/*
 * watch_db: put the database socket in the epoll set for what the
 * connection waits for (db_wants), and return how long wait_next may wait:
 * a worker keeps its connection, and so its revocation view, alive while
 * idle. A connection kept is registered once; an attempt in progress is
 * registered afresh each time round.
 */
static int
watch_db(struct worker *w, int ep)
{
	struct epoll_event ev;
	unsigned long which;
	int64_t wait_ms;
	short want;
	bool ready = db_ready(w->s.db);
	int fd = db_wants(w->s.db, &want, &wait_ms, &which), timeout;

	timeout = wait_ms < 0 ? -1 : wait_ms > INT_MAX ? INT_MAX : (int)wait_ms;
	if (!ready && fd >= 0 && (timeout < 0 || timeout > CONNECTING_MS))
		timeout = CONNECTING_MS;
	if (ready && w->watched_ready && fd == w->watched && which == w->watched_conn)
		return timeout;
	/* The old socket is still open only while its attempt is current. */
	if (w->watched >= 0 && which == w->watched_conn)
		(void)epoll_ctl(ep, EPOLL_CTL_DEL, w->watched, NULL);
	w->watched = -1;
	if (fd < 0)
		return timeout;
	memset(&ev, 0, sizeof(ev));
	ev.events = ((want & POLLIN) ? EPOLLIN : 0) | ((want & POLLOUT) ? EPOLLOUT : 0);
	ev.data.fd = fd;
	if (epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev) == 0) {
		w->watched = fd;
		w->watched_conn = which;
		w->watched_ready = ready;
	}
	return timeout;
}

/*
 * scheduling: under load a worker is always ready to run, and with the
 * normal policy each new connection's wake-up preempts whatever runs,
 * nginx too, in the middle of its work. SCHED_BATCH (worker_scheduling =
 * batch, the default) lets a woken worker wait for the running task's
 * turn to end instead: fewer switches, and nginx, which every request also
 * needs, keeps its CPU (README, Performance). An idle CPU still takes the
 * worker at once. Any process may choose it; none needs a privilege.
 * With normal, the worker keeps the policy it was started with.
 */
static void
scheduling(const struct conf *c)
{
	struct sched_param sp;

	memset(&sp, 0, sizeof(sp));
	if (c->sched_batch && sched_setscheduler(0, SCHED_BATCH, &sp) == -1)
		log_warn("worker: cannot switch to SCHED_BATCH (worker_scheduling)");
}

/* unix_socket: whether fd is a Unix-domain socket. */
static bool
unix_socket(int fd)
{
	struct sockaddr_storage sa;
	socklen_t len = sizeof(sa);

	return getsockname(fd, (struct sockaddr *)&sa, &len) == 0 && sa.ss_family == AF_UNIX;
}

/* listen_setup: the listening socket made non-blocking and watched. Not a
 * socket (`wxauth worker` started by hand on a terminal) is refused before
 * its flags are touched. */
static int
listen_setup(int fd)
{
	struct epoll_event ev;
	struct stat st;
	int ep, fl;

	if (fstat(fd, &st) == -1 || !S_ISSOCK(st.st_mode)) {
		errno = ENOTSOCK;
		return -1;
	}
	if ((fl = fcntl(fd, F_GETFL)) == -1 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) == -1 ||
	    (ep = epoll_create1(EPOLL_CLOEXEC)) == -1)
		return -1;
	memset(&ev, 0, sizeof(ev));
	ev.data.fd = LISTEN_TAG;
	ev.events = EPOLLIN | EPOLLEXCLUSIVE;
	if (epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev) == -1) {
		ev.events = EPOLLIN;    /* kernels before 4.5 */
		if (epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev) == -1) {
			close(ep);
			return -1;
		}
	}
	return ep;
}

/*
 * first_view: the revocation view a new worker starts with: loaded from the
 * database when it answers within db_connect_timeout_ms, else handed over
 * by serve; without either, token checks answer 503 until the database is
 * back (fail closed).
 */
static void
first_view(struct worker *w)
{
	if (db_connect(w->s.db) == OK && w->s.view_ok)
		return;
	if (poolview_copy(w->s.rev, (int64_t)time(NULL)) == 0) {
		w->s.view_ok = true;
		log_info("worker: no database; revocation view handed over by serve");
		return;
	}
	ended_clear(w->s.rev);
	log_warnx("worker: no database and no revocation view: token checks answer "
	    "503 until the database answers");
}

/*
 * start_up: a worker of role on the FastCGI socket fd: its process name,
 * libfcgi, the epoll that waits for requests (returned), its metrics slot,
 * its connections and clients (worker_init), its scheduling policy and its
 * first revocation view. -1 when it cannot serve.
 */
static int
start_up(struct worker *w, FCGX_Request *f, const struct conf *c, int fd, int slot,
    enum svc_role role)
{
	int ep;

	/* The process name says the pool (ps, and the tests, tell them apart). */
	(void)prctl(PR_SET_NAME, role == SVC_GATE ? "wxauth-gate" : "wxauth-worker");
	if (FCGX_Init() != 0 || FCGX_InitRequest(f, fd, 0) != 0) {
		log_warnx("worker: cannot initialise FastCGI");
		return -1;
	}
	if ((ep = listen_setup(fd)) == -1) {
		log_warn("worker: fd %d is not a usable FastCGI socket (start workers "
		    "with `wxauth serve` or spawn-fcgi)", fd);
		return -1;
	}
	metrics_attach(slot);
	metrics_routes(route_names(), R__MAX);
	if (worker_init(w, c, slot, role) == -1) {
		close(ep);
		return -1;
	}
	w->watched = -1;
	w->local = unix_socket(fd);
	scheduling(c);
	first_view(w);
	return ep;
}

int
worker_run(const struct conf *c, int fd, int slot, int ready_fd,
    enum svc_role role)
{
	struct worker w;
	FCGX_Request f;
	sigset_t open;
	bool db_in;
	int ep = -1, n, timeout, status = 1;

	signals(&open);
	if ((ep = start_up(&w, &f, c, fd, slot, role)) == -1)
		return 1;
	/* Tell serve this worker takes requests now (a reload waits for it). */
	if (ready_fd != -1) {
		if (write(ready_fd, "r", 1) != 1)
			log_warn("worker: cannot report readiness");
		close(ready_fd);
	}
	for (;;) {
		if (reopen_log) {
			reopen_log = 0;
			log_reopen();
		}
		if (worker_stop || w.must_exit)
			break;
		if (c->max_requests > 0 && w.served >= (unsigned long)c->max_requests) {
			log_info("worker: %lu requests served (max_requests): recycling", w.served);
			break;
		}
		/* A hint that came with an answer (this worker's own
		 * change) is read now, not when the next request comes. */
		if (db_hinted(w.s.db))
			(void)db_poll(w.s.db);
		timeout = watch_db(&w, ep);
		if ((n = wait_next(ep, &f, &open, timeout, &db_in)) == -1) {
			log_warn("worker: waiting for a request");
			goto out;
		}
		if (n == 0) {
			/* Only the database: a notification, an attempt's
			 * next step, or the time for one. */
			if (db_in)
				(void)db_poll(w.s.db);
			continue;
		}
		if (FCGX_Accept_r(&f) < 0) {
			if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
				continue;
			log_warn("worker: accept failed");
			goto out;
		}
		finish(&w, &f, serve_one(&w, &f, db_in));
		w.served++;
		prune_now(&w);
	}
	status = 0;
out:
	FCGX_Free(&f, 1);
	close(ep);
	worker_cleanup(&w);
	return status;
}
