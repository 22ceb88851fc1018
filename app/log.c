/*
 * log.c - one line per event, to stderr or an append-only file.
 *
 * Each line is written with a single write(2) so that lines from several
 * workers sharing one file never interleave.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "log.h"

#define LINE_MAX_LEN 2048

static int fd = STDERR_FILENO;
static char path[1024];
static char rid[64];

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

static void
emit(const char *level, const char *fmt, va_list ap, int errnum)
{
	char line[LINE_MAX_LEN];
	struct timeval tv;
	struct tm tm;
	size_t len;
	int n;

	gettimeofday(&tv, NULL);
	gmtime_r(&tv.tv_sec, &tm);
	n = snprintf(line, sizeof(line), "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ %s pid=%ld",
	    tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min,
	    tm.tm_sec, (long)(tv.tv_usec / 1000), level, (long)getpid());
	if (n < 0)
		return;
	len = (size_t)n;
	if (rid[0] != '\0' && len < sizeof(line)) {
		n = snprintf(line + len, sizeof(line) - len, " rid=%s", rid);
		if (n > 0)
			len += (size_t)n;
	}
	if (len < sizeof(line) - 1) {
		line[len++] = ' ';
		n = vsnprintf(line + len, sizeof(line) - len, fmt, ap);
		if (n > 0)
			len += (size_t)n;
	}
	if (errnum != 0 && len < sizeof(line)) {
		n = snprintf(line + len, sizeof(line) - len, ": %s", strerror(errnum));
		if (n > 0)
			len += (size_t)n;
	}
	if (len > sizeof(line) - 2)
		len = sizeof(line) - 2;
	line[len++] = '\n';
	/* A short write to a log is not worth failing a request over. An
	 * error also reaches stderr (the terminal, the journal) when the log
	 * is a file: a service that cannot start says why where it was started. */
	if (write(fd, line, len) < 0)
		return;
	if (strcmp(level, "error") == 0 && fd != STDERR_FILENO &&
	    write(STDERR_FILENO, line, len) < 0)
		return;
}

void
log_errx(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	emit("error", fmt, ap, 0);
	va_end(ap);
}

void
log_err(const char *fmt, ...)
{
	va_list ap;
	int saved = errno;

	va_start(ap, fmt);
	emit("error", fmt, ap, saved);
	va_end(ap);
	errno = saved;
}

void
log_info(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	emit("info", fmt, ap, 0);
	va_end(ap);
}

void
log_warnx(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	emit("warn", fmt, ap, 0);
	va_end(ap);
}

void
log_warn(const char *fmt, ...)
{
	va_list ap;
	int saved = errno;

	va_start(ap, fmt);
	emit("warn", fmt, ap, saved);
	va_end(ap);
	errno = saved;
}

void
log_request(const char *method, const char *route, int status, double ms,
    const char *appid, const char *user)
{
	log_info("request method=%s route=%s status=%d ms=%.2f appid=%s user=%s",
	    method, route, status, ms, appid && *appid ? appid : "-",
	    user && *user ? user : "-");
}
