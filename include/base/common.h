/*
 * common.h - what every module shares: the error enum and a few sizes.
 *
 * The mapping from an error to an HTTP status, an error name and a default
 * message lives in one table in app/err.c; nothing else decides statuses.
 */
#ifndef WXAUTH_COMMON_H
#define WXAUTH_COMMON_H

#include <stddef.h>

#define WARN_UNUSED __attribute__((warn_unused_result))

enum err {
	OK = 0,
	/* Client errors: the request is refused and nothing is changed. */
	ERR_INVALID_REQUEST,        /* a field is missing, has the wrong type or is out of bounds */
	ERR_INVALID_JSON,           /* the body is not JSON, or not a JSON object */
	ERR_UNKNOWN_APP,            /* appid not configured, or left out with several apps */
	ERR_UNSUPPORTED_MEDIA_TYPE, /* body sent with a content type other than JSON */
	ERR_BODY_TOO_LARGE,         /* body above max_body */
	ERR_METHOD_NOT_ALLOWED,     /* route exists, not with this method */
	ERR_NOT_FOUND,              /* no such route */
	ERR_INVALID_CODE,           /* WeChat refused the login code (40029, 40163, 42003) */
	ERR_RISKY_USER,             /* WeChat blocked the login (40226) */
	ERR_UPSTREAM_RATE_LIMITED,  /* WeChat quota reached (45011, 45009) */
	ERR_UPSTREAM_UNAVAILABLE,   /* WeChat busy, unreachable, misconfigured or answered garbage */
	ERR_UPSTREAM_TIMEOUT,       /* WeChat did not answer in time */
	ERR_INVALID_TOKEN,          /* token missing, malformed, forged, or for another key */
	ERR_TOKEN_EXPIRED,          /* token authentic but past its exp */
	ERR_SESSION_REVOKED,        /* session ended by logout, reuse detection or an admin */
	ERR_SESSION_KEY_STALE,      /* stored session_key no longer decrypts: call wx.login again */
	ERR_SIGNATURE_MISMATCH,     /* rawData signature does not match */
	ERR_WATERMARK_MISMATCH,     /* decrypted data is for another app or too old */
	ERR_UNIONID_CONFLICT,       /* two users with different unionids would be merged */
	ERR_FORBIDDEN,              /* authenticated but not allowed */
	ERR_FRESH_LOGIN_REQUIRED,   /* deletion needs a session opened minutes ago */
	ERR_LAST_ACCOUNT,           /* unlinking the user's only account */
	ERR_INVALID_STATE,          /* web login: no cookie, or not this state, expired, used */
	ERR_SCAN_TAKEN,             /* PC scan login: another person scanned this code first */
	ERR_SCAN_OVER,              /* PC scan login: expired, cancelled or confirmed already */
	ERR_USER_DISABLED,          /* the shop's staff disabled this user */
	ERR_SIGNUP_CLOSED,          /* the app takes no new people (signup = closed) */
	ERR_SNAPSHOT_USER,          /* an official account's snapshot visitor: "forbidden" */
	ERR_RATE_LIMITED,           /* our own rate limit */
	ERR_DB_UNAVAILABLE,         /* PostgreSQL unreachable or failing, or no whole revocation view */
	ERR_DB_BUSY,                /* a database lock was not granted within lock_timeout */
	ERR_BUSY,                   /* waited in the queue past queue_timeout_ms: refused at once */
	ERR_INTERNAL,               /* a bug or out of memory */
	/* Internal signals, never sent to a client as such. */
	ERR_WX_TOKEN_INVALID,       /* WeChat says the app access_token is invalid (40001, 40014, 42001) */
	ERR_RETRY,                  /* serialization failure or deadlock: run the transaction again */
	ERR__MAX
};

/* err_status, err_name, err_message: the HTTP status, the snake_case name and
 * the default English message of e, from the one table. Internal signals map
 * to 500 internal. Strings are static. */
int err_status(enum err e);
const char *err_name(enum err e);
const char *err_message(enum err e);
/* err_www_authenticate: the WWW-Authenticate value e carries (every 401
 * has one), or NULL. err_retry_after: its Retry-After seconds, or 0. */
const char *err_www_authenticate(enum err e);
int err_retry_after(enum err e);
/* err_strerror: for log lines, including the internal signals. */
const char *err_strerror(enum err e);

#define APPID_MAX 32          /* wx + 16 hex today; room to spare */
#define OPENID_MAX 64
#define UNIONID_MAX 64
#define UUID_STR 37           /* 36 characters and NUL */
#define REQID_STR 33          /* 32 hex characters and NUL */

#endif
