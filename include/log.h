/*
 * log.h - one line per event to stderr or a file (reopened on SIGUSR1).
 *
 * Lines: "2026-11-21T09:27:28.123Z LEVEL pid=N rid=REQUESTID message",
 * LEVEL info, warn or error.
 * Never pass a code, a key, a token, a session_key or a secret.
 */
#ifndef WXAUTH_LOG_H
#define WXAUTH_LOG_H

#include <stdarg.h>

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
