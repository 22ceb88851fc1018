/*
 * log.c - one line per event, to stderr or an append-only file.
 *
 * Each line is written with a single write(2) so that lines from several
 * workers sharing one file never interleave.
 */
#include <errno.h>
#include <pthread.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "log.h"

/* my_pid: getpid() once per process (glibc no longer caches it: one
 * system call a line otherwise); a forked child's first line asks again. */
static pid_t pid_of;
static int atfork_set;

static void
forgot_pid(void)
{
	pid_of = 0;
}

static pid_t
my_pid(void)
{
	if (pid_of == 0) {
		if (!atfork_set && pthread_atfork(NULL, NULL, forgot_pid) == 0)
			atfork_set = 1;
		if (!atfork_set)
			return getpid();        /* a child would not forget it */
		pid_of = getpid();
	}
	return pid_of;
}

#define LINE_MAX_LEN 2048

static int fd = STDERR_FILENO;
static char path[1024];
static char rid[64];
static int json;                /* LOG_JSON, else logfmt */

int
log_open(const char *p)
{
	int nfd;

	if (p == NULL || *p == '\0') {
		path[0] = '\0';
		if (fd != STDERR_FILENO)
			close(fd);
		fd = STDERR_FILENO;
		return 0;
	}
	if (strlen(p) >= sizeof(path)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	nfd = open(p, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
	if (nfd == -1)
		return -1;
	if (fd != STDERR_FILENO)
		close(fd);
	fd = nfd;
	if (p != path)
		memcpy(path, p, strlen(p) + 1);
	return 0;
}

void
log_reopen(void)
{
	char p[sizeof(path)];

	if (path[0] == '\0')
		return;
	memcpy(p, path, sizeof(p));
	if (log_open(p) == -1)
		log_warn("cannot reopen log file %s", p);
}

void
log_set_rid(const char *r)
{
	if (r == NULL) {
		rid[0] = '\0';
		return;
	}
	snprintf(rid, sizeof(rid), "%s", r);
}

/* out: a bounded line under construction. */
struct out {
	char b[LINE_MAX_LEN];
	size_t n;
};

/* put_mem: n bytes, as many as there is room for (the line ends in a
 * newline). The lines of a request are on every request's path: no printf
 * where a copy will do. */
static void
put_mem(struct out *o, const char *s, size_t n)
{
	size_t room = sizeof(o->b) - 2 - o->n;

	if (o->n >= sizeof(o->b) - 2)
		return;
	if (n > room)
		n = room;
	memcpy(o->b + o->n, s, n);
	o->n += n;
}

/* put_char: one byte, when there is room (the line ends in a newline). */
static void
put_char(struct out *o, char c)
{
	if (o->n < sizeof(o->b) - 2)
		o->b[o->n++] = c;
}

/* put_num: a decimal integer. */
static void
put_num(struct out *o, long v)
{
	char d[24];
	size_t i = sizeof(d);
	unsigned long u = v < 0 ? 0UL - (unsigned long)v : (unsigned long)v;

	do {
		d[--i] = (char)('0' + u % 10);
		u /= 10;
	} while (u != 0 && i > 1);
	if (v < 0)
		d[--i] = '-';
	put_mem(o, d + i, sizeof(d) - i);
}

/* put_text: s as a logfmt value (quoted when it must be) or a JSON string;
 * control characters become spaces: one event, one line, always. */
static void
put_text(struct out *o, const char *s)
{
	int quote = json || *s == '\0' || strpbrk(s, " =\"\\") != NULL;
	const unsigned char *p;

	if (quote)
		put_char(o, '"');
	for (p = (const unsigned char *)s; *p != '\0'; p++) {
		if (*p == '"' || *p == '\\') {
			put_char(o, '\\');
			put_char(o, (char)*p);
		} else {
			put_char(o, *p < 0x20 || *p == 0x7f ? ' ' : (char)*p);
		}
	}
	if (quote)
		put_char(o, '"');
}

/* put_key: the separator and a key, in the format in use. */
static void
put_key(struct out *o, const char *key)
{
	if (json) {
		if (o->n > 1)
			put_char(o, ',');
		put_char(o, '"');
		put_mem(o, key, strlen(key));
		put_mem(o, "\":", 2);
	} else {
		if (o->n > 0)
			put_char(o, ' ');
		put_mem(o, key, strlen(key));
		put_char(o, '=');
	}
}

/*
 * emit: one event, one line, one write(2): time, level, pid, request_id
 * (when a request is being served), msg, then the caller's fields (fields:
 * pairs of key and value, NULL-terminated; numbers pass as text and are
 * written unquoted in JSON when num).
 */
static void
emit(const char *level, const char *msg, const char *const *fields, int num)
{
	static char when[96];
	static time_t when_sec;
	struct out o;
	struct timeval tv;
	struct tm tm;
	char stamp[sizeof(when) + 8];
	size_t n;
	int ms;

	o.n = 0;
	gettimeofday(&tv, NULL);
	/* The date and time to the second, formatted once a second. */
	if (tv.tv_sec != when_sec || when[0] == '\0') {
		gmtime_r(&tv.tv_sec, &tm);
		snprintf(when, sizeof(when), "%04d-%02d-%02dT%02d:%02d:%02d.",
		    tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
		    tm.tm_min, tm.tm_sec);
		when_sec = tv.tv_sec;
	}
	ms = (int)(tv.tv_usec / 1000);
	n = strlen(when);
	memcpy(stamp, when, n);
	stamp[n++] = (char)('0' + ms / 100);
	stamp[n++] = (char)('0' + ms / 10 % 10);
	stamp[n++] = (char)('0' + ms % 10);
	stamp[n++] = 'Z';
	stamp[n] = '\0';
	if (json)
		put_char(&o, '{');
	put_key(&o, "time");
	put_text(&o, stamp);
	put_key(&o, "level");
	put_text(&o, level);
	put_key(&o, "pid");
	put_num(&o, (long)my_pid());
	if (rid[0] != '\0') {
		put_key(&o, "request_id");
		put_text(&o, rid);
	}
	put_key(&o, "msg");
	put_text(&o, msg);
	for (; fields != NULL && fields[0] != NULL; fields += 2) {
		put_key(&o, fields[0]);
		if (num && json && fields[1][0] != '\0' && strspn(fields[1], "0123456789.") ==
		    strlen(fields[1]))
			put_mem(&o, fields[1], strlen(fields[1]));
		else
			put_text(&o, fields[1]);
	}
	if (json)
		put_char(&o, '}');
	if (o.n > sizeof(o.b) - 2)
		o.n = sizeof(o.b) - 2;
	o.b[o.n++] = '\n';
	/* A short write to a log is not worth failing a request over. An
	 * error also reaches stderr (the terminal, the journal) when the log
	 * is a file: a service that cannot start says why where it was started. */
	if (write(fd, o.b, o.n) < 0)
		return;
	if (strcmp(level, "error") == 0 && fd != STDERR_FILENO &&
	    write(STDERR_FILENO, o.b, o.n) < 0)
		return;
}

/* emitf: a printf-style message, with strerror(errnum) when non-zero. */
static void
emitf(const char *level, const char *fmt, va_list ap, int errnum)
{
	char msg[LINE_MAX_LEN];
	int n = vsnprintf(msg, sizeof(msg), fmt, ap);

	if (n < 0)
		msg[0] = '\0';
	else if (errnum != 0 && (size_t)n < sizeof(msg))
		snprintf(msg + n, sizeof(msg) - (size_t)n, ": %s", strerror(errnum));
	emit(level, msg, NULL, 0);
}

void
log_set_format(enum log_format f)
{
	json = f == LOG_JSON;
}

void
log_info(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	emitf("info", fmt, ap, 0);
	va_end(ap);
}

void
log_warnx(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	emitf("warn", fmt, ap, 0);
	va_end(ap);
}

void
log_warn(const char *fmt, ...)
{
	va_list ap;
	int saved = errno;

	va_start(ap, fmt);
	emitf("warn", fmt, ap, saved);
	va_end(ap);
	errno = saved;
}

void
log_errx(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	emitf("error", fmt, ap, 0);
	va_end(ap);
}

void
log_err(const char *fmt, ...)
{
	va_list ap;
	int saved = errno;

	va_start(ap, fmt);
	emitf("error", fmt, ap, saved);
	va_end(ap);
	errno = saved;
}

void
log_request(const char *method, const char *route, int status, double ms,
    const char *appid, const char *user)
{
	char st[8], dur[24];
	const char *fields[] = {"method", method, "route", route, "status", st,
	    "duration_ms", dur, "appid", appid && *appid ? appid : "-",
	    "user", user && *user ? user : "-", NULL};
	long c = ms > 0 && ms < 1e12 ? (long)(ms * 100 + 0.5) : 0;

	snprintf(st, sizeof(st), "%d", status);
	/* ms to two decimals, without printf's floating point. */
	snprintf(dur, sizeof(dur), "%ld.%02ld", c / 100, c % 100);
	emit("info", "request", fields, 1);
}
