/*
 * log.h - one line per event to stderr or a file (reopened on SIGUSR1).
 *
 * Lines are logfmt (the default) or JSON (log_format = json), keys in this
 * order: time (RFC 3339 UTC, milliseconds), level (info, warn, error), pid,
 * request_id (while a request is served), msg; a request's line adds
 * method, route, status, duration_ms, appid, user:
 *   time=2026-11-21T09:27:28.123Z level=info pid=7 request_id=ab12 msg=request
 *   method=GET route=session status=200 duration_ms=0.31 appid=wx1 user=UUID
 * Control characters (libpq's newlines) become spaces: one event, one line.
 * Never pass a code, a key, a token, a session_key or a secret.
 */
#ifndef WXAUTH_LOG_H
#define WXAUTH_LOG_H

#include <stdarg.h>

enum log_format { LOG_LOGFMT, LOG_JSON };

/* log_set_format: logfmt (default) or JSON lines, from now on. */
void log_set_format(enum log_format f);

/* log_open: log to path (append), or stderr when path is NULL or empty.
 * Returns 0, or -1 with errno set. Safe to call again to reopen. */
int log_open(const char *path);
/* log_reopen: reopen the current file (after logrotate moved it). */
void log_reopen(void);
/* log_set_rid: the request id that following lines carry (NULL: none). */
void log_set_rid(const char *rid);

/* log_info / log_warnx: a message; log_warn: a message and strerror(errno). */
void log_info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_warnx(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* log_errx / log_err: what stops the service (it cannot start); written to
 * the log and, when the log is a file, to stderr as well. */
void log_errx(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_err(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* log_request: the one line per request. */
void log_request(const char *method, const char *route, int status, double ms,
    const char *appid, const char *user);

#endif
