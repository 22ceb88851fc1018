/*
 * route.h - the routes: an enum and a parallel const table saying, for each,
 * its method and path, what the gate checks (token or admin key, body
 * fields or query parameters, the path segment) and which handler runs.
 * A new endpoint is one enum value and one table row here.
 */
#ifndef WXAUTH_ROUTE_H
#define WXAUTH_ROUTE_H

#include "common.h"
#include "form.h"
#include "http.h"
#include "svc.h"

enum route {
	R_LOGIN,        /* POST /v1/login: code -> session */
	R_REFRESH,      /* POST /v1/token/refresh: rotate the refresh token */
	R_LOGOUT,       /* POST /v1/logout: end this session or all */
	R_SESSION,      /* GET /v1/session: who is this token (auth_request) */
	R_SESSION_HEAD, /* HEAD /v1/session: the same, headers only */
	R_USERINFO,     /* GET /v1/userinfo: the profile and linked accounts */
	R_USERINFO_PATCH, /* PATCH /v1/userinfo: nickname, avatar_url */
	R_USERINFO_DECRYPT, /* POST /v1/userinfo/decrypt: legacy encrypted profile */
	R_PHONE,        /* POST /v1/phone: phone number by code or encrypted data */
	R_LINK,         /* POST /v1/link: another app account joins this user */
	R_MERGES,       /* GET /v1/merges: the merge feed (admin) */
	R_ADMIN_USERS,  /* GET /v1/admin/users: look a user up (admin) */
	R_ADMIN_REVOKE, /* POST /v1/admin/users/{id}/revoke: end a user's sessions (admin) */
	R_SESSIONS,     /* GET /v1/sessions: the user's live sessions (devices) */
	R_SESSION_END,  /* DELETE /v1/sessions/{id}: end one of them */
	R_UNLINK,       /* DELETE /v1/accounts/{appid}: unlink an app account */
	R_ACCOUNT_DELETE, /* DELETE /v1/account: delete the account (fresh login) */
	R_EVENTS,       /* GET /v1/events: the events feed (admin) */
	R_ADMIN_DELETE, /* POST /v1/admin/users/{id}/delete: delete a user (admin) */
	R_OAUTH_AUTHORIZE, /* GET /v1/oauth/authorize: the web login, to WeChat */
	R_OAUTH_CALLBACK, /* GET /v1/oauth/callback: back from WeChat, a ticket */
	R_HEALTHZ,      /* GET /healthz: the process answers */
	R_READYZ,       /* GET /readyz: the database answers too */
	R_METRICS,      /* GET /metrics: Prometheus text format */
	R_AUTHORIZER,   /* FCGI_ROLE=AUTHORIZER, any method and path: the token
	                 * check of /v1/session for Apache (mod_authnz_fcgi,
	                 * mod_fcgid), answered in Variable- headers */
	R_KEYS,         /* GET /v1/keys: the v4.public keys, for verifiers */
	R_REVOKED,      /* GET /v1/revoked: sessions ended lately, for verifiers */
	R_AVATAR,       /* POST /v1/avatar: upload the user's avatar */
	R_AVATAR_GET,   /* GET /v1/avatars/{id}: an uploaded avatar, no token */
	R_SCAN_NEW,     /* POST /v1/scan: a PC page's login request */
	R_SCAN_STATUS,  /* GET /v1/scan/{id}: its status, the ticket once */
	R_SCAN_CODE,    /* GET /v1/scan/{id}/code: its mini-program code */
	R_SCAN_SCANNED, /* POST /v1/scan/{id}/scanned: the person scanned it */
	R_SCAN_CONFIRM, /* POST /v1/scan/{id}/confirm: ... and logs the PC in */
	R_SCAN_CANCEL,  /* POST /v1/scan/{id}/cancel: ... or does not */
	R_ADMIN_DISABLE, /* POST /v1/admin/users/{id}/disable: sessions end, no login (admin) */
	R_ADMIN_ENABLE, /* POST /v1/admin/users/{id}/enable: login again (admin) */
	R_CONSOLE_SIGNIN,  /* POST /v1/console/session: an operator signs in */
	R_CONSOLE_ME,      /* GET /v1/console/session: who is signed in */
	R_CONSOLE_SIGNOUT, /* DELETE /v1/console/session */
	R_CONSOLE_FIND,    /* GET /v1/console/users: find users */
	R_CONSOLE_USER,    /* GET /v1/console/users/{id}: a user's whole picture */
	R_CONSOLE_REVOKE,  /* POST /v1/console/users/{id}/revoke: end their sessions */
	R_CONSOLE_DISABLE, /* POST /v1/console/users/{id}/disable */
	R_CONSOLE_ENABLE,  /* POST /v1/console/users/{id}/enable */
	R_CONSOLE_DELETE,  /* POST /v1/console/users/{id}/delete: typed confirmation */
	R_CONSOLE_UNLINK,  /* POST /v1/console/users/{id}/unlink: one app account */
	R_CONSOLE_UNDO,    /* POST /v1/console/merges/{id}/undo: undo a merge */
	R_CONSOLE_AUDIT,   /* GET /v1/console/audit: the audit log, filtered */
	R_CONSOLE_HEALTH,  /* GET /v1/console/health: how the service is */
	R_CONSOLE_MERGES,  /* GET /v1/console/merges: the merges, newest first */
	R__MAX
};

enum route_flag {
	RF_BEARER = 1 << 0,     /* needs a valid access token */
	RF_BODY = 1 << 1,       /* takes a JSON object body */
	RF_BODY_OPTIONAL = 1 << 2, /* ... which may be left out */
	RF_ADMIN = 1 << 3,      /* needs the admin key */
	RF_GATE = 1 << 4,       /* served by the gate pool too (never waits) */
	RF_QUERY = 1 << 5,      /* fields come from the query string */
	RF_UPLOAD = 1 << 6      /* its body may be up to HTTP_UPLOAD_MAX, not max_body */
};

struct route_def {
	enum method method;
	const char *path;               /* a '*' segment matches one path segment */
	const char *name;               /* for logs and metrics */
	unsigned flags;
	const struct field *fields;     /* RF_BODY or RF_QUERY: into req.in[] */
	const struct field *param;      /* what the '*' segment must be; NULL: any */
	svc_fn fn;                      /* the handler (svc.h) */
};

extern const struct route_def routes[R__MAX];

/*
 * route_find: the route for method and path. Returns OK with *out set and
 * the segment a '*' matched copied into param (plen bytes, "" when none),
 * ERR_METHOD_NOT_ALLOWED when the path exists with other methods, or
 * ERR_NOT_FOUND.
 */
/* route_names: the routes' names, by route number (for base/metrics). */
const char *const *route_names(void);

enum err route_find(enum method m, const char *path, enum route *out,
    char *param, size_t plen) WARN_UNUSED;

#endif
