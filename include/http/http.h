/*
 * http.h - one FastCGI request: its parameters, its body, and its response.
 *
 * struct req lives for one request; http_req_init fills it from the
 * FastCGI parameters and http_req_cleanup releases it, once, at the bottom
 * of the worker loop. Responses are JSON; errors use the one envelope
 * {"error","message","request_id"}.
 */
#ifndef WXAUTH_HTTP_H
#define WXAUTH_HTTP_H

#include <stddef.h>
#include <time.h>
#include <fcgiapp.h>
#include <json-c/json.h>

#include "common.h"
#include "form.h"

enum method { M_GET, M_HEAD, M_POST, M_PUT, M_PATCH, M_DELETE, M_OPTIONS, M_OTHER };

#define HTTP_PATH_MAX 256
#define HTTP_HDRS_MAX 1024

struct req {
	FCGX_Request *fcgi;
	enum method method;
	const char *method_str;
	char path[HTTP_PATH_MAX];       /* REQUEST_URI before '?'; empty if too long */
	char param[64];                 /* the path segment a route's '*' matched */
	const char *query;              /* QUERY_STRING, never NULL */
	const char *content_type;       /* never NULL */
	const char *authorization;      /* HTTP_AUTHORIZATION, NULL if absent */
	const char *cookie;             /* HTTP_COOKIE, never NULL */
	const char *remote_addr;        /* never NULL */
	const char *user_agent;         /* never NULL */
	char id[REQID_STR + 32];        /* the request id, echoed in X-Request-Id */
	char *body;                     /* malloc'd, NUL-terminated, NULL if none */
	size_t body_len;
	bool body_read;                 /* the body declared was read in full */
	struct json_object *json;       /* the body parsed as an object, or NULL */
	char bad_field[64];             /* a field whose text is not valid Unicode */
	char why[192];                  /* the error's message, when not the table's */
	struct fval in[FORM_MAX];       /* the route's checked fields (form.h) */
	char qbuf[HTTP_PATH_MAX * 2];   /* their decoded query values */
	struct timespec start;
	double queued_ms;               /* waited before a worker took it (X-Request-Start) */
	bool authorizer;                /* FastCGI role Authorizer: method and path are
	                                 * the protected resource's, there is no body */
	/* the response under construction */
	char hdrs[HTTP_HDRS_MAX];
	size_t hdrs_len;
	int status;                     /* 0 until sent */
	/* for the request log line */
	const char *route_name;
	char appid[APPID_MAX + 1];
	char user[UUID_STR];
};

/* http_req_init: read f's parameters into r (r borrows them until
 * FCGX_Finish_r). Generates a request id unless a well-formed X-Request-Id
 * came with the request. */
void http_req_init(struct req *r, FCGX_Request *f);
/* http_req_cleanup: free what r owns; r can then be initialised again. */
void http_req_cleanup(struct req *r);

/*
 * http_read_body: read the body (at most max bytes) into r->body.
 * Returns OK, ERR_BODY_TOO_LARGE, or ERR_INTERNAL on a read failure.
 */
enum err http_read_body(struct req *r, long max) WARN_UNUSED;

/*
 * http_input_done: nothing of r's request is left to read: its body, if
 * one was declared, was read in full, and the end of its input has come
 * (read now if not yet: nginx and Apache send it with the request, right
 * after the body, which they buffer). Then the connection can be closed at
 * once, without waiting for the client to close it first: no data of its
 * is left to be thrown away.
 */
bool http_input_done(struct req *r);

/*
 * http_parse_json: parse r->body as one JSON object (strict, valid UTF-8,
 * depth-limited, nothing after it) into r->json. An empty body parses as
 * NULL and returns OK only when allow_empty. Returns OK or ERR_INVALID_JSON;
 * r->json is NULL after ERR_INVALID_JSON, except when the body is a JSON
 * object whose only fault is invalid UTF-8 inside strings: then r->json
 * holds it, unchecked, for the front door to name the field at fault.
 * NaN and infinities anywhere are ERR_INVALID_JSON; a \u escape of a lone
 * surrogate is ERR_INVALID_REQUEST with r->bad_field naming the top-level
 * field it is in ("" when none can be named).
 */
enum err http_parse_json(struct req *r, int allow_empty) WARN_UNUSED;

/*
 * http_header: add a response header. Values with CR or LF are refused.
 * Returns 0, or -1 when it does not fit or is refused.
 */
int http_header(struct req *r, const char *name, const char *value);

/* http_send_json: send status and body (which the caller still owns). A
 * request has one answer: sending a second is a programming error. */
void http_send_json(struct req *r, int status, struct json_object *body);

/* http_send_json_text: send status and text, JSON made elsewhere (by
 * PostgreSQL), as http_send_json would send it. The caller owns text. */
void http_send_json_text(struct req *r, int status, const char *text, size_t len);

/* http_send_public: a 200 JSON answer anyone may cache for max_age seconds
 * (Cache-Control: public), for what is the same for every caller;
 * http_send_public_body the same for a body of type ctype, which a browser
 * must not take for another (X-Content-Type-Options: nosniff). */
void http_send_public(struct req *r, const char *text, size_t len, int max_age);
void http_send_public_body(struct req *r, const char *ctype, const char *body, size_t len,
    int max_age);
/* http_send_private_body: the same for what only this browser may keep
 * (Cache-Control: private), for max_age seconds. */
void http_send_private_body(struct req *r, const char *ctype, const char *body, size_t len,
    long max_age);

/* The largest body of a route that takes uploads (RF_UPLOAD: an avatar
 * of 256 KiB as base64 in JSON), whatever max_body says. */
#define HTTP_UPLOAD_MAX (360 * 1024)
/* http_send_granted: an Authorizer's grant: status 200 and the headers set
 * with http_header (its Variable- ones), nothing else, no body. */
void http_send_granted(struct req *r);
/* http_send_body: send status and len bytes of body as ctype (for the few
 * answers that are not JSON, such as /metrics). The caller owns body. */
void http_send_body(struct req *r, int status, const char *ctype,
    const char *body, size_t len);

/*
 * http_send_error: send the error envelope for e, with r->why as the
 * message when set, and the headers the error table gives e. Only the
 * dispatcher calls it: handlers return the error.
 */
void http_send_error(struct req *r, enum err e);

/*
 * http_fail: set the message of the error the handler is about to return
 * (it must never hold a secret: field names only) and return e, so that a
 * handler says `return http_fail(r, ERR_X, "...")`.
 */
enum err http_fail(struct req *r, enum err e, const char *fmt, ...)
    __attribute__((format(printf, 3, 4))) WARN_UNUSED;

/* http_bearer: the token of an "Authorization: Bearer <token>" header, or
 * NULL. The pointer lives as long as the request. */
const char *http_bearer(const struct req *r);
/* http_param: the FastCGI parameter name (a header as HTTP_NAME), or NULL. */
const char *http_param(const struct req *r, const char *name);

/* http_cookie: the value of cookie name into out (outlen bytes). Returns 1
 * when found, 0 when absent, -1 when it does not fit. */
int http_cookie(const struct req *r, const char *name, char *out, size_t outlen);

/* http_queued_ms: milliseconds between the front server taking the request
 * (its X-Request-Start header) and http_req_init; 0 when unknown. */
double http_queued_ms(const struct req *r);

/* http_elapsed_ms: milliseconds since http_req_init. */
double http_elapsed_ms(const struct req *r);

#endif
