/*
 * pool.c - the master process of `wxauth serve`.
 *
 * The master handles signals synchronously (blocked, then sigtimedwait),
 * so none of its bookkeeping runs inside a signal handler. Workers are
 * forked, not exec'd: each inherits the listening socket, a copy of the
 * config and the shared metrics mapping, and installs its own handlers
 * (worker.c). Each worker has a slot (0..workers-1): its metrics slot, and
 * the unit of replacement, back-off and reload.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <netdb.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "conf.h"
#include "poolview.h"
#include "profview.h"
#include "log.h"
#include "metrics.h"
#include "pool.h"
#include "tok.h"
#include "worker.h"

#define WORKERS_MAX 256         /* main pool slots: 0..WORKERS_MAX-1 */
#define GATE_MAX 64             /* gate pool slots: WORKERS_MAX.. */
#define SLOTS (WORKERS_MAX + GATE_MAX)
#define STOP_GRACE 30           /* seconds a graceful stop waits for workers */
#define QUICK_DEATH 5           /* a worker dying sooner than this is crashing */
#define BACKOFF_MAX 30          /* seconds between restarts of a crashing worker */
#define READY_WAIT 10           /* seconds a reload waits for each new worker */

struct slot {
	pid_t pid;              /* 0: not running */
	time_t started;
	time_t restart_at;      /* when pid is 0: when to start it again */
	int crashes;            /* quick deaths in a row */
};

/*
 * Two pools, one slot table: slots 0..WORKERS_MAX-1 serve everything on
 * `listen`; slots from WORKERS_MAX serve only the token check on
 * `gate_listen` (worker.h), so that a slow WeChat or a stuck database,
 * which can hold every worker of the main pool, never holds the gate. A
 * slot's index is also its metrics slot.
 */
static struct slot slots[SLOTS];
static pid_t retiring[SLOTS * 2];       /* old workers finishing after a reload */
static struct conf *conf;
static int listen_fd = -1;
static int gate_fd = -1;

static bool
is_gate(int i)
{
	return i >= WORKERS_MAX;
}

/* configured: slot i should run under the current config. */
static bool
configured(int i)
{
	if (is_gate(i))
		return gate_fd != -1 && i - WORKERS_MAX < conf->gate_workers;
	return i < conf->workers;
}


static int
unix_listen(const char *path, int backlog, int mode)
{
	struct sockaddr_un sun;
	struct stat st;
	int fd = -1, probe = -1;

	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	if (strlen(path) >= sizeof(sun.sun_path)) {
		log_errx("listen: socket path too long: %s", path);
		goto fail;
	}
	memcpy(sun.sun_path, path, strlen(path) + 1);
	if (lstat(path, &st) == 0) {
		if (!S_ISSOCK(st.st_mode)) {
			log_errx("listen: %s exists and is not a socket", path);
			goto fail;
		}
		/* A socket that still answers belongs to a running pool. */
		probe = socket(AF_UNIX, SOCK_STREAM, 0);
		if (probe != -1 && connect(probe, (struct sockaddr *)&sun, sizeof(sun)) == 0) {
			log_errx("listen: %s is in use by another process", path);
			goto fail;
		}
		unlink(path);
	}
	if ((fd = socket(AF_UNIX, SOCK_STREAM, 0)) == -1 ||
	    bind(fd, (struct sockaddr *)&sun, sizeof(sun)) == -1 ||
	    chmod(path, (mode_t)mode) == -1 || listen(fd, backlog) == -1) {
		log_err("listen: %s", path);
		goto fail;
	}
	if (probe != -1)
		close(probe);
	return fd;
fail:
	if (probe != -1)
		close(probe);
	if (fd != -1)
		close(fd);
	return -1;
}

static int
tcp_listen(const char *addr, int backlog)
{
	struct addrinfo hints, *res = NULL, *ai;
	char host[256];
	const char *colon = strrchr(addr, ':');
	size_t hl;
	int fd = -1, one = 1, rc;

	if (colon == NULL || (hl = (size_t)(colon - addr)) >= sizeof(host)) {
		log_errx("listen: bad address %s", addr);
		return -1;
	}
	memcpy(host, addr, hl);
	host[hl] = '\0';
	/* [::1]:9000 */
	if (hl >= 2 && host[0] == '[' && host[hl - 1] == ']') {
		memmove(host, host + 1, hl - 2);
		host[hl - 2] = '\0';
	}
	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_PASSIVE;
	if ((rc = getaddrinfo(host[0] ? host : NULL, colon + 1, &hints, &res)) != 0) {
		log_errx("listen: %s: %s", addr, gai_strerror(rc));
		return -1;
	}
	for (ai = res; ai != NULL; ai = ai->ai_next) {
		if ((fd = socket(ai->ai_family, ai->ai_socktype, ai->ai_protocol)) == -1)
			continue;
		setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
		if (bind(fd, ai->ai_addr, ai->ai_addrlen) == 0 && listen(fd, backlog) == 0)
			break;
		close(fd);
		fd = -1;
	}
	if (fd == -1)
		log_err("listen: %s", addr);
	freeaddrinfo(res);
	return fd;
}

int
pool_listen(const char *addr, int backlog, int mode)
{
	return addr[0] == '/' ? unix_listen(addr, backlog, mode) : tcp_listen(addr, backlog);
}

/* gauges: the pool's size, for /metrics. */
static void
gauges(void)
{
	size_t i;
	int n = 0;

	for (i = 0; i < WORKERS_MAX; i++)
		n += slots[i].pid != 0;
	metrics_workers(n, conf->workers);
	for (n = 0; i < SLOTS; i++)
		n += slots[i].pid != 0;
	metrics_gate_workers(n, gate_fd != -1 ? conf->gate_workers : 0);
}

/*
 * spawn: fork the worker of slot i. With want_ready, returns the read end
 * of a pipe on which the worker writes one byte once it takes requests
 * (the caller closes it); otherwise, or when fork fails, -1.
 */
static int
spawn(int i, int want_ready)
{
	int p[2] = {-1, -1};
	pid_t pid;

	if (want_ready && pipe2(p, O_CLOEXEC) == -1) {
		log_warn("pool: pipe");
		p[0] = p[1] = -1;
	}
	if ((pid = fork()) == -1) {
		log_warn("pool: fork");
		slots[i].restart_at = time(NULL) + 1;
		if (p[0] != -1) {
			close(p[0]);
			close(p[1]);
		}
		return -1;
	}
	if (pid == 0) {
		if (p[0] != -1)
			close(p[0]);
		/* Each worker holds only its own pool's socket. */
		if (is_gate(i)) {
			close(listen_fd);
			_exit(worker_run(conf, gate_fd, i, p[1], SVC_GATE));
		}
		if (gate_fd != -1)
			close(gate_fd);
		_exit(worker_run(conf, listen_fd, i, p[1], SVC_MAIN));
	}
	if (p[1] != -1)
		close(p[1]);
	slots[i].pid = pid;
	slots[i].started = time(NULL);
	log_info("pool: %sworker %d started, pid %ld", is_gate(i) ? "gate " : "",
	    is_gate(i) ? i - WORKERS_MAX : i, (long)pid);
	gauges();
	return p[0];
}

/*
 * wait_ready: wait up to READY_WAIT seconds for the byte a new worker
 * writes when it is ready, and close fd. Returns 1 when ready, 0 when it
 * took too long (it may still come up), -1 when it exited first.
 */
static int
wait_ready(int fd)
{
	struct pollfd pfd;
	time_t left, until = time(NULL) + READY_WAIT;
	char b;
	int n, rc = 0;

	pfd.fd = fd;
	pfd.events = POLLIN;
	for (;;) {
		left = until - time(NULL);
		n = poll(&pfd, 1, left > 0 ? (int)left * 1000 : 0);
		if (n == -1 && errno == EINTR && left > 0)
			continue;
		break;
	}
	if (n == 1)
		rc = read(fd, &b, 1) == 1 ? 1 : -1;
	close(fd);
	return rc;
}

static void
retire(pid_t pid)
{
	size_t i;

	for (i = 0; i < sizeof(retiring) / sizeof(retiring[0]); i++) {
		if (retiring[i] == 0) {
			retiring[i] = pid;
			kill(pid, SIGTERM);
			return;
		}
	}
	kill(pid, SIGKILL);     /* no room to track it: end it now */
}

static int
running(void)
{
	size_t i;
	int n = 0;

	for (i = 0; i < SLOTS; i++)
		n += slots[i].pid != 0;
	for (i = 0; i < sizeof(retiring) / sizeof(retiring[0]); i++)
		n += retiring[i] != 0;
	return n;
}

static void
signal_all(int sig)
{
	size_t i;

	for (i = 0; i < SLOTS; i++)
		if (slots[i].pid != 0)
			kill(slots[i].pid, sig);
	for (i = 0; i < sizeof(retiring) / sizeof(retiring[0]); i++)
		if (retiring[i] != 0)
			kill(retiring[i], sig);
}

/* reap: collect dead workers; schedule the restart of those that should
 * run, with back-off for a worker that keeps dying young. */
static void
reap(int stopping)
{
	pid_t pid;
	size_t i;
	int status, delay;
	time_t now = time(NULL);

	while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
		for (i = 0; i < sizeof(retiring) / sizeof(retiring[0]); i++)
			if (retiring[i] == pid)
				retiring[i] = 0;
		for (i = 0; i < SLOTS; i++) {
			if (slots[i].pid != pid)
				continue;
			slots[i].pid = 0;
			if (stopping)
				break;
			if (WIFEXITED(status) && WEXITSTATUS(status) == 0) {
				/* Recycled after max_requests: replace at once. */
				log_info("pool: worker %zu (pid %ld) recycled; replacing it",
				    i, (long)pid);
				metrics_restart(MR_RECYCLED);
				slots[i].crashes = 0;
				slots[i].restart_at = now;
				break;
			}
			metrics_restart(MR_CRASHED);
			if (now - slots[i].started < QUICK_DEATH)
				slots[i].crashes++;
			else
				slots[i].crashes = 0;
			/* 0 for a worker that ran a while, then 2, 4, 8, 16, 30 s. */
			delay = slots[i].crashes == 0 ? 0 : 1 << (slots[i].crashes < 5 ? slots[i].crashes : 5);
			if (delay > BACKOFF_MAX)
				delay = BACKOFF_MAX;
			slots[i].restart_at = now + delay;
			if (WIFSIGNALED(status))
				log_warnx("pool: worker %zu (pid %ld) killed by signal %d; restarting in %d s",
				    i, (long)pid, WTERMSIG(status), delay);
			else
				log_warnx("pool: worker %zu (pid %ld) exited with status %d; restarting in %d s",
				    i, (long)pid, WEXITSTATUS(status), delay);
			break;
		}
	}
	if (!stopping)
		gauges();
}

static void
start_due(void)
{
	time_t now = time(NULL);
	int i;

	for (i = 0; i < SLOTS; i++)
		if (configured(i) && slots[i].pid == 0 && slots[i].restart_at <= now)
			(void)spawn(i, 0);
}

/* keys_ok: both key files load; what is wrong is logged as an error at
 * start (fatal), a warning on reload (the old pool stays). */
static int
keys_ok(const struct conf *c, int fatal)
{
	void (*say)(const char *, ...) = fatal ? log_errx : log_warnx;
	struct tok_keys *k = NULL;
	char err[512];
	int ok = 1;

	if ((k = tok_keys_open(c->key_file, c->token_public, err, sizeof(err))) == NULL) {
		say("%s (run: wxauth keygen %s)", err, c->key_file);
		ok = 0;
	}
	tok_keys_free(k);
	if ((k = tok_keys_open(c->data_key_file, false, err, sizeof(err))) == NULL) {
		say("%s (run: wxauth keygen %s)", err, c->data_key_file);
		ok = 0;
	}
	tok_keys_free(k);
	return ok;
}

/*
 * reload: a new config and keys, then the workers replaced one by one: the
 * new worker of a slot first, and only once it takes requests is the old
 * one told to finish its request and leave, so the pool never has fewer
 * workers accepting than before. A new worker that dies before it is ready
 * leaves the old ones in place (the reload is logged as incomplete).
 */
static void
reload(const char *path)
{
	struct conf *nc = NULL;
	char err[1024];
	pid_t old;
	int i, fd, st, old_workers = conf->workers, replaced = 0;

	if ((nc = calloc(1, sizeof(*nc))) == NULL)
		goto fail;
	if (conf_load(nc, path, err, sizeof(err)) == -1) {
		log_warnx("reload refused: %s", err);
		goto fail;
	}
	if (!keys_ok(nc, 0)) {
		log_warnx("reload refused: keys do not load");
		goto fail;
	}
	if (strcmp(nc->listen, conf->listen) != 0 ||
	    strcmp(nc->gate_listen, conf->gate_listen) != 0)
		log_warnx("reload: listen and gate_listen change only on restart");
	snprintf(nc->listen, sizeof(nc->listen), "%s", conf->listen);
	snprintf(nc->gate_listen, sizeof(nc->gate_listen), "%s", conf->gate_listen);
	log_set_format(nc->log_json ? LOG_JSON : LOG_LOGFMT);
	if (log_open(nc->log_file) == -1)
		log_warn("reload: cannot open log file %s", nc->log_file);
	conf_cleanup(conf);
	free(conf);
	conf = nc;
	nc = NULL;
	for (i = 0; i < SLOTS; i++) {
		old = slots[i].pid;
		slots[i].pid = 0;
		slots[i].crashes = 0;
		slots[i].restart_at = 0;
		if (!configured(i)) {
			if (old != 0)
				retire(old);
			continue;
		}
		fd = spawn(i, 1);
		if (slots[i].pid == 0)
			st = -1;        /* fork failed */
		else
			st = fd == -1 ? 0 : wait_ready(fd);
		if (st == -1) {
			log_warnx("pool: reload incomplete: the new worker %d did not start; "
			    "the old workers stay", i);
			if (old != 0)
				slots[i].pid = old;
			break;
		}
		if (st == 0)
			log_warnx("pool: reload: worker %d not ready after %d s; going on", i, READY_WAIT);
		if (old != 0) {
			retire(old);
			metrics_restart(MR_RELOADED);
			replaced++;
		}
	}
	gauges();
	log_info("pool: reloaded %s: %d workers (was %d), %d replaced", path,
	    conf->workers, old_workers, replaced);
	return;
fail:
	if (nc != NULL) {
		conf_cleanup(nc);
		free(nc);
	}
}

/*
 * stop: end every worker. With grace, SIGTERM (each finishes its request)
 * and SIGKILL for those still there after grace seconds or when SIGQUIT
 * comes meanwhile; without, SIGKILL at once.
 */
static void
stop(int grace)
{
	sigset_t set;
	struct timespec ts = {1, 0};
	time_t until = time(NULL) + grace;
	int sig;

	signal_all(grace > 0 ? SIGTERM : SIGKILL);
	sigemptyset(&set);
	sigaddset(&set, SIGCHLD);
	sigaddset(&set, SIGQUIT);
	while (grace > 0 && running() > 0 && time(NULL) < until) {
		sig = sigtimedwait(&set, NULL, &ts);
		reap(1);
		if (sig == SIGQUIT) {
			log_info("pool: SIGQUIT while stopping: stopping now");
			break;
		}
	}
	if (running() > 0) {
		if (grace > 0 && time(NULL) >= until)
			log_warnx("pool: %d workers did not stop in %d s; killing them",
			    running(), grace);
		signal_all(SIGKILL);
		while (running() > 0 && waitpid(-1, NULL, 0) > 0)
			reap(1);
		memset(slots, 0, sizeof(slots));
		memset(retiring, 0, sizeof(retiring));
	}
	metrics_workers(0, conf->workers);
}

static int
write_pid(const char *path)
{
	char buf[32];
	int fd, n;

	if (path[0] == '\0')
		return 0;
	n = snprintf(buf, sizeof(buf), "%ld\n", (long)getpid());
	if ((fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644)) == -1 ||
	    write(fd, buf, (size_t)n) != n) {
		log_err("pid file %s", path);
		if (fd != -1)
			close(fd);
		return -1;
	}
	close(fd);
	return 0;
}

/* shared_memory: before the first fork, so that every worker inherits
 * the mappings: the metrics slots, the revocation view's copy, the
 * userinfo cache's generations. Each one missing costs a feature, not the
 * pool. */
static void
shared_memory(void)
{
	if (metrics_init(SLOTS) == -1)
		log_warnx("pool: /metrics will count each worker on its own");
	if (poolview_init() == -1)
		log_warnx("pool: a worker started while the database is down will refuse tokens");
	if (profview_shared_init() == -1)
		log_warnx("pool: /v1/userinfo will read the database every time");
}

/* block_signals: the ones supervise takes wait in the mask until
 * sigtimedwait takes them; a write to a closed socket is no signal. */
static void
block_signals(sigset_t *set)
{
	sigemptyset(set);
	sigaddset(set, SIGCHLD);
	sigaddset(set, SIGTERM);
	sigaddset(set, SIGINT);
	sigaddset(set, SIGQUIT);
	sigaddset(set, SIGHUP);
	sigaddset(set, SIGUSR1);
	sigprocmask(SIG_BLOCK, set, NULL);
	signal(SIGPIPE, SIG_IGN);
}

/* supervise: start what is due, reap, reload, reopen logs, until told to
 * stop (SIGTERM, SIGINT: gracefully; SIGQUIT: at once). */
static void
supervise(const char *path, const sigset_t *set)
{
	struct timespec tick = {1, 0};
	siginfo_t si;
	int sig;

	for (;;) {
		start_due();
		sig = sigtimedwait(set, &si, &tick);
		if (sig == SIGCHLD) {
			reap(0);
		} else if (sig == SIGTERM || sig == SIGINT) {
			log_info("pool: stopping (signal %d)", sig);
			stop(STOP_GRACE);
			return;
		} else if (sig == SIGQUIT) {
			log_info("pool: stopping now (SIGQUIT)");
			stop(0);
			return;
		} else if (sig == SIGHUP) {
			reload(path);
		} else if (sig == SIGUSR1) {
			log_reopen();
			signal_all(SIGUSR1);
		}
	}
}

int
pool_serve(const char *path)
{
	sigset_t set;
	char err[1024], sock[CONF_PATH_MAX], gsock[CONF_PATH_MAX] = "", pidfile[CONF_PATH_MAX];
	int status = 1;

	if ((conf = calloc(1, sizeof(*conf))) == NULL)
		return 1;
	if (conf_load(conf, path, err, sizeof(err)) == -1) {
		fprintf(stderr, "%s\n", err);
		goto out;
	}
	log_set_format(conf->log_json ? LOG_JSON : LOG_LOGFMT);
	if (log_open(conf->log_file) == -1) {
		fprintf(stderr, "cannot open log file %s\n", conf->log_file);
		goto out;
	}
	if (!keys_ok(conf, 1))
		goto out;
	shared_memory();
	block_signals(&set);
	if ((listen_fd = pool_listen(conf->listen, conf->listen_backlog, conf->listen_mode)) == -1)
		goto out;
	snprintf(sock, sizeof(sock), "%s", conf->listen);
	if (conf->gate_listen[0] != '\0' && (gate_fd = pool_listen(conf->gate_listen,
	    conf->listen_backlog, conf->listen_mode)) == -1)
		goto out;
	snprintf(gsock, sizeof(gsock), "%s", conf->gate_listen);
	snprintf(pidfile, sizeof(pidfile), "%s", conf->pid_file);
	if (write_pid(pidfile) == -1)
		goto out;
	log_info("pool: listening on %s with %d workers", conf->listen, conf->workers);
	if (gate_fd != -1)
		log_info("pool: gate listening on %s with %d workers", conf->gate_listen,
		    conf->gate_workers);
	supervise(path, &set);
	status = 0;
	if (sock[0] == '/')
		unlink(sock);
	if (gsock[0] == '/')
		unlink(gsock);
	if (pidfile[0] != '\0')
		unlink(pidfile);
	log_info("pool: stopped");
out:
	if (listen_fd != -1)
		close(listen_fd);
	if (gate_fd != -1)
		close(gate_fd);
	conf_cleanup(conf);
	free(conf);
	return status;
}
