/*
 * http.c - FastCGI request parameters, bodies and JSON responses.
 */
#include <assert.h>
#include <ctype.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <fastcgi.h>
#include <sodium.h>

#include "codec.h"
#include "http.h"
#include "jstrict.h"

#define JSON_DEPTH 16

static const struct {
	const char *name;
	enum method m;
} methods[] = {
	{"GET", M_GET}, {"HEAD", M_HEAD}, {"POST", M_POST}, {"PUT", M_PUT},
	{"PATCH", M_PATCH}, {"DELETE", M_DELETE}, {"OPTIONS", M_OPTIONS},
};

static const char *
param(FCGX_Request *f, const char *name)
{
	const char *v = FCGX_GetParam(name, f->envp);

	return v != NULL ? v : "";
}

/* A request id from the client or nginx is kept only when it is short and
 * plain, so it is safe in headers and logs. */
static int
rid_ok(const char *s)
{
	size_t n = strlen(s);

	if (n < 8 || n > 64)
		return 0;
	for (; *s != '\0'; s++)
		if (!isalnum((unsigned char)*s) && *s != '-' && *s != '_')
			return 0;
	return 1;
}

/*
 * queued_ms: how long ago the front server took the request, from its
 * X-Request-Start header: "t=" and seconds with a fraction (nginx's $msec)
 * or whole microseconds (Apache's %t) or milliseconds. 0 when absent,
 * malformed or in the future.
 */
static double
queued_ms(const char *v)
{
	struct timespec now;
	double t = 0, scale = 1;
	int frac = 0, digits = 0;

	if (strncmp(v, "t=", 2) == 0)
		v += 2;
	for (; *v != '\0' && digits < 20; v++) {
		if (*v == '.' && !frac) {
			frac = 1;
		} else if (*v >= '0' && *v <= '9') {
			digits++;
			if (frac)
				t += (*v - '0') * (scale /= 10);
			else
				t = t * 10 + (*v - '0');
		} else {
			return 0;
		}
	}
	if (digits == 0 || *v != '\0')
		return 0;
	if (!frac && t > 1e14)
		t /= 1e6;       /* microseconds */
	else if (!frac && t > 1e11)
		t /= 1e3;       /* milliseconds */
	clock_gettime(CLOCK_REALTIME, &now);
	t = ((double)now.tv_sec + (double)now.tv_nsec / 1e9 - t) * 1e3;
	return t > 0 ? t : 0;
}

void
http_req_init(struct req *r, FCGX_Request *f)
{
	const char *uri, *q, *rid;
	size_t n, i;
	unsigned char raw[16];

	memset(r, 0, sizeof(*r));
	clock_gettime(CLOCK_MONOTONIC, &r->start);
	r->fcgi = f;
	/* The role is the protocol's (FCGI_BEGIN_REQUEST), not a parameter. */
	r->authorizer = f->role == FCGI_AUTHORIZER;
	r->method_str = param(f, "REQUEST_METHOD");
	r->method = M_OTHER;
	for (i = 0; i < sizeof(methods) / sizeof(methods[0]); i++)
		if (strcmp(r->method_str, methods[i].name) == 0)
			r->method = methods[i].m;

	uri = param(f, "REQUEST_URI");
	if (*uri == '\0')
		uri = param(f, "SCRIPT_NAME");
	q = strchr(uri, '?');
	n = q != NULL ? (size_t)(q - uri) : strlen(uri);
	if (n < sizeof(r->path)) {
		memcpy(r->path, uri, n);
		r->path[n] = '\0';
	}
	r->query = param(f, "QUERY_STRING");
	r->content_type = param(f, "CONTENT_TYPE");
	r->authorization = FCGX_GetParam("HTTP_AUTHORIZATION", f->envp);
	r->cookie = param(f, "HTTP_COOKIE");
	r->remote_addr = param(f, "REMOTE_ADDR");
	r->user_agent = param(f, "HTTP_USER_AGENT");

	r->queued_ms = queued_ms(param(f, "HTTP_X_REQUEST_START"));
	rid = param(f, "HTTP_X_REQUEST_ID");
	if (rid_ok(rid)) {
		snprintf(r->id, sizeof(r->id), "%s", rid);
	} else {
		randombytes_buf(raw, sizeof(raw));
		codec_hex(r->id, raw, sizeof(raw));
	}
	r->route_name = "-";
}

void
http_req_cleanup(struct req *r)
{
	json_object_put(r->json);
	free(r->body);
	memset(r, 0, sizeof(*r));
}

enum err
http_read_body(struct req *r, long max)
{
	const char *cl = param(r->fcgi, "CONTENT_LENGTH");
	char *end = NULL;
	long long want = 0;
	size_t cap, len = 0;
	int n;

	if (*cl != '\0') {
		want = strtoll(cl, &end, 10);
		if (*end != '\0' || want < 0)
			return ERR_INVALID_REQUEST;
		if (want > max)
			return ERR_BODY_TOO_LARGE;
	}
	if (want == 0) {
		r->body_read = true;
		return OK;
	}
	cap = (size_t)want;
	if ((r->body = malloc(cap + 1)) == NULL)
		return ERR_INTERNAL;
	while (len < cap) {
		n = FCGX_GetStr(r->body + len, (int)(cap - len), r->fcgi->in);
		if (n <= 0)
			break;
		len += (size_t)n;
	}
	r->body[len] = '\0';
	r->body_len = len;
	r->body_read = len == cap;
	return OK;
}

bool
http_input_done(struct req *r)
{
	const char *cl = param(r->fcgi, "CONTENT_LENGTH");

	/* An Authorizer is sent no input stream at all (mod_authnz_fcgi sends
	 * not even its end): reading it would wait for what never comes. */
	if (r->authorizer)
		return false;
	if (!r->body_read && *cl != '\0' && strcmp(cl, "0") != 0)
		return false;
	return FCGX_GetChar(r->fcgi->in) == EOF && FCGX_GetError(r->fcgi->in) == 0;
}

/* finite_only: no NaN or infinity anywhere in o (json-c's strict mode
 * still takes NaN, Infinity and -Infinity, which RFC 8259 does not). */
static int
finite_only(struct json_object *o, int depth)
{
	struct json_object_iterator it, end;
	size_t i, n;
	double d;

	if (depth > JSON_DEPTH)
		return 0;
	switch (json_object_get_type(o)) {
	case json_type_double:
		d = json_object_get_double(o);
		return !isnan(d) && !isinf(d);
	case json_type_array:
		n = json_object_array_length(o);
		for (i = 0; i < n; i++)
			if (!finite_only(json_object_array_get_idx(o, i), depth + 1))
				return 0;
		return 1;
	case json_type_object:
		it = json_object_iter_begin(o);
		end = json_object_iter_end(o);
		for (; !json_object_iter_equal(&it, &end); json_object_iter_next(&it))
			if (!finite_only(json_object_iter_peek_value(&it), depth + 1))
				return 0;
		return 1;
	default:
		return 1;
	}
}

enum err
http_parse_json(struct req *r, int allow_empty)
{
	struct json_tokener *tok = NULL;
	struct json_object *o = NULL;
	enum err rc = ERR_INVALID_JSON;
	enum jstrict js;
	size_t off;
	int bad_utf8;

	if (r->body_len == 0) {
		if (allow_empty)
			rc = OK;
		goto out;
	}
	/* json-c takes an int length. */
	if (r->body_len > (size_t)0x7fffffff)
		goto out;
	/* RFC 8259 first, whatever json-c lets through (jstrict.h). */
	if ((js = jstrict_check(r->body, r->body_len, r->bad_field,
	    sizeof(r->bad_field))) == JS_SYNTAX)
		goto out;
	if ((tok = json_tokener_new_ex(JSON_DEPTH)) == NULL) {
		rc = ERR_INTERNAL;
		goto out;
	}
	/* Invalid UTF-8 inside a string: still refused, but parsed without
	 * json-c's check, so that the front door can name the field when it
	 * is one that must be text. */
	bad_utf8 = js == JS_UTF8;
	json_tokener_set_flags(tok, JSON_TOKENER_STRICT |
	    (bad_utf8 ? 0 : JSON_TOKENER_VALIDATE_UTF8));
	o = json_tokener_parse_ex(tok, r->body, (int)r->body_len);
	if (o == NULL || json_tokener_get_error(tok) != json_tokener_success)
		goto out;
	/* Only white space may follow the value. */
	for (off = json_tokener_get_parse_end(tok); off < r->body_len; off++)
		if (!isspace((unsigned char)r->body[off]))
			goto out;
	if (!json_object_is_type(o, json_type_object) || !finite_only(o, 0))
		goto out;
	if (js == JS_SURROGATE) {
		rc = ERR_INVALID_REQUEST;
		goto out;
	}
	r->json = o;
	o = NULL;
	rc = bad_utf8 ? ERR_INVALID_JSON : OK;
out:
	json_object_put(o);
	if (tok != NULL)
		json_tokener_free(tok);
	return rc;
}

int
http_header(struct req *r, const char *name, const char *value)
{
	size_t nl = strlen(name), vl = strlen(value), n = nl + vl + 4;
	char *at = r->hdrs + r->hdrs_len;

	if (strpbrk(value, "\r\n") != NULL || strpbrk(name, "\r\n: ") != NULL)
		return -1;
	/* name ": " value CRLF, and the NUL. */
	if (n >= sizeof(r->hdrs) - r->hdrs_len)
		return -1;
	memcpy(at, name, nl);
	memcpy(at + nl, ": ", 2);
	memcpy(at + nl + 2, value, vl);
	memcpy(at + nl + 2 + vl, "\r\n", 3);
	r->hdrs_len += n;
	return 0;
}

static const char *
reason(int status)
{
	switch (status) {
	case 200: return "OK";
	case 302: return "Found";
	case 400: return "Bad Request";
	case 401: return "Unauthorized";
	case 403: return "Forbidden";
	case 404: return "Not Found";
	case 405: return "Method Not Allowed";
	case 409: return "Conflict";
	case 413: return "Payload Too Large";
	case 415: return "Unsupported Media Type";
	case 422: return "Unprocessable Entity";
	case 429: return "Too Many Requests";
	case 500: return "Internal Server Error";
	case 502: return "Bad Gateway";
	case 503: return "Service Unavailable";
	case 504: return "Gateway Timeout";
	default: return "Unknown";
	}
}

/* respond: the status line, our headers, then body and an optional final
 * newline (JSON answers end with one). */
static void
respond_cc(struct req *r, int status, const char *ctype, const char *cache,
    const char *body, size_t len, int newline)
{
	char head[HTTP_HDRS_MAX + 512];
	int n;

	/* One answer a request: a second is a bug in the caller. */
	assert(r->status == 0);
	r->status = status;
	/* libfcgi's own printf knows no %zu: format here, write raw. */
	n = snprintf(head, sizeof(head),
	    "Status: %d %s\r\n"
	    "Content-Type: %s\r\n"
	    "Cache-Control: %s\r\n"
	    "X-Request-Id: %s\r\n"
	    "Content-Length: %zu\r\n"
	    "%s\r\n", status, reason(status), ctype, cache, r->id,
	    len + (newline ? 1 : 0), r->hdrs);
	if (n < 0 || (size_t)n >= sizeof(head) || len > (size_t)0x7fffffff)
		return;
	FCGX_PutStr(head, n, r->fcgi->out);
	if (r->method != M_HEAD) {
		FCGX_PutStr(body, (int)len, r->fcgi->out);
		if (newline)
			FCGX_PutChar('\n', r->fcgi->out);
	}
}

static void
respond(struct req *r, int status, const char *ctype, const char *body,
    size_t len, int newline)
{
	respond_cc(r, status, ctype, "no-store", body, len, newline);
}

void
http_send_public(struct req *r, const char *text, size_t len, int max_age)
{
	char cc[64];

	snprintf(cc, sizeof(cc), "public, max-age=%d", max_age);
	respond_cc(r, 200, "application/json", cc, text, len, 1);
}

/* send_cached: a 200 body of ctype that caches may keep: scope "public,"
 * (anyone; for ever, with immutable) or "private," (this browser). */
static void
send_cached(struct req *r, const char *scope, const char *ctype, const char *body,
    size_t len, long max_age, const char *extra)
{
	char cc[64];

	snprintf(cc, sizeof(cc), "%s max-age=%ld%s", scope, max_age, extra);
	(void)http_header(r, "X-Content-Type-Options", "nosniff");
	respond_cc(r, 200, ctype, cc, body, len, 0);
}

void
http_send_public_body(struct req *r, const char *ctype, const char *body, size_t len,
    int max_age)
{
	send_cached(r, "public,", ctype, body, len, max_age, ", immutable");
}

void
http_send_private_body(struct req *r, const char *ctype, const char *body, size_t len,
    long max_age)
{
	send_cached(r, "private,", ctype, body, len, max_age, "");
}

void
http_send_json(struct req *r, int status, struct json_object *body)
{
	const char *text = NULL;
	size_t len = 0;

	if (body != NULL)
		text = json_object_to_json_string_length(body,
		    JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE, &len);
	if (text == NULL) {
		text = "{}";
		len = 2;
	}
	respond(r, status, "application/json", text, len, 1);
}

void
http_send_json_text(struct req *r, int status, const char *text, size_t len)
{
	respond(r, status, "application/json", text, len, 1);
}

void
http_send_body(struct req *r, int status, const char *ctype, const char *body,
    size_t len)
{
	respond(r, status, ctype, body, len, 0);
}

void
http_send_granted(struct req *r)
{
	char head[HTTP_HDRS_MAX + 64];
	int n;

	assert(r->status == 0);
	r->status = 200;
	/* Only the Variable- headers: whatever else an Authorizer's 200 says,
	 * Apache adds to the protected resource's own answer. */
	n = snprintf(head, sizeof(head), "Status: 200 OK\r\n%s\r\n", r->hdrs);
	if (n > 0 && (size_t)n < sizeof(head))
		FCGX_PutStr(head, n, r->fcgi->out);
}

void
http_send_error(struct req *r, enum err e)
{
	struct json_object *o = json_object_new_object();
	const char *www = err_www_authenticate(e);
	char secs[16];

	if (www != NULL)
		(void)http_header(r, "WWW-Authenticate", www);
	if (err_retry_after(e) > 0) {
		snprintf(secs, sizeof(secs), "%d", err_retry_after(e));
		(void)http_header(r, "Retry-After", secs);
	}
	if (o != NULL) {
		json_object_object_add(o, "error", json_object_new_string(err_name(e)));
		json_object_object_add(o, "message", json_object_new_string(
		    r->why[0] != '\0' ? r->why : err_message(e)));
		json_object_object_add(o, "request_id", json_object_new_string(r->id));
	}
	http_send_json(r, err_status(e), o);
	json_object_put(o);
}

enum err
http_fail(struct req *r, enum err e, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(r->why, sizeof(r->why), fmt, ap);
	va_end(ap);
	return e;
}

const char *
http_bearer(const struct req *r)
{
	const char *a = r->authorization, *t;

	if (a == NULL || strncasecmp(a, "Bearer ", 7) != 0)
		return NULL;
	for (t = a + 7; *t == ' '; t++)
		;
	return *t != '\0' ? t : NULL;
}

int
http_cookie(const struct req *r, const char *name, char *out, size_t outlen)
{
	const char *c = r->cookie, *end;
	size_t nlen = strlen(name), vlen;

	while (*c != '\0') {
		while (*c == ' ' || *c == ';')
			c++;
		end = c + strcspn(c, ";");
		if ((size_t)(end - c) > nlen && strncmp(c, name, nlen) == 0 && c[nlen] == '=') {
			vlen = (size_t)(end - c) - nlen - 1;
			if (vlen >= outlen)
				return -1;
			memcpy(out, c + nlen + 1, vlen);
			out[vlen] = '\0';
			return 1;
		}
		c = end;
	}
	return 0;
}

double
http_queued_ms(const struct req *r)
{
	return r->queued_ms;
}

double
http_elapsed_ms(const struct req *r)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return (double)(now.tv_sec - r->start.tv_sec) * 1e3 +
	    (double)(now.tv_nsec - r->start.tv_nsec) / 1e6;
}

const char *
http_param(const struct req *r, const char *name)
{
	return FCGX_GetParam(name, r->fcgi->envp);
}
