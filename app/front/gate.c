/*
 * gate.c - the front door: every check a route's table entry asks for,
 * before its handler runs.
 */
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <sodium.h>

#include "db.h"
#include "gate.h"
#include "log.h"
#include "metrics.h"
#include "ended.h"

enum err
gate_bearer(struct svc *s, struct req *r, struct tok_claims *c)
{
	const char *token = http_bearer(r), *uid, *uni;
	enum err rc;

	if (token == NULL || strlen(token) >= TOK_MAX)
		return ERR_INVALID_TOKEN;
	rc = tok_open(s->keys, token, s->conf->issuer, (int64_t)time(NULL), c);
	if (rc != OK)
		return rc;
	/* A token of an app no longer configured opens nothing. */
	if (conf_app_find(s->conf, c->app) == NULL)
		return ERR_INVALID_TOKEN;
	/* Fail closed: without a whole view of what ended, no token is good. */
	if (!s->view_ok)
		return ERR_DB_UNAVAILABLE;
	if (ended_has_session(s->rev, c->sid))
		return ERR_SESSION_REVOKED;
	/* A token of a merged user speaks for the survivor. */
	uid = ended_resolve(s->rev, c->sub, &uni);
	if (uid != c->sub)
		snprintf(c->sub, sizeof(c->sub), "%s", uid);
	if (uni != NULL)
		snprintf(c->uni, sizeof(c->uni), "%s", uni);
	snprintf(r->appid, sizeof(r->appid), "%s", c->app);
	snprintf(r->user, sizeof(r->user), "%s", c->sub);
	return OK;
}

enum err
gate_admin(struct svc *s, struct req *r)
{
	const char *key = http_bearer(r), *want = s->conf->admin_key;
	enum metrics_admin why;
	enum err rc;

	if (key == NULL) {
		rc = ERR_INVALID_TOKEN;
	} else if (want[0] == '\0') {
		rc = ERR_FORBIDDEN;
	} else {
		rc = tok_secret_equal(key, want) ? OK : ERR_FORBIDDEN;
	}
	if (rc != OK) {
		why = key == NULL ? MA_NO_KEY : want[0] == '\0' ? MA_DISABLED : MA_WRONG_KEY;
		log_warnx("admin: %s refused (%s)", r->path, metrics_admin_reason(why));
		metrics_admin_denied(why);
		db_admin_denied(s->db, r->remote_addr, metrics_admin_reason(why), r->id);
	}
	return rc;
}

static int
is_json_type(const char *ct)
{
	size_t n = strlen("application/json");

	return strncasecmp(ct, "application/json", n) == 0 &&
	    (ct[n] == '\0' || ct[n] == ';' || ct[n] == ' ');
}

/* body: size, content type, JSON, then the route's fields. */
static enum err
body(struct svc *s, struct req *r, const struct route_def *d)
{
	enum err rc;

	if ((rc = http_read_body(r, (d->flags & RF_UPLOAD) &&
	    s->conf->max_body < HTTP_UPLOAD_MAX ? HTTP_UPLOAD_MAX : s->conf->max_body)) != OK)
		return rc;
	if (r->body_len > 0 && !is_json_type(r->content_type))
		return ERR_UNSUPPORTED_MEDIA_TYPE;
	if ((rc = http_parse_json(r, (d->flags & RF_BODY_OPTIONAL) != 0)) != OK) {
		if (rc == ERR_INVALID_REQUEST && r->bad_field[0] != '\0')
			return http_fail(r, rc, "field '%s' is not valid Unicode "
			    "(an escaped lone surrogate)", r->bad_field);
		if (rc == ERR_INVALID_REQUEST)
			return http_fail(r, rc, "a string is not valid Unicode "
			    "(an escaped lone surrogate)");
		if (r->body_len == 0)
			return http_fail(r, rc, "a JSON object body is required");
		/* Invalid UTF-8 in a field that must be text or a token: say
		 * which field, as for any other bad field. */
		if (r->json != NULL && form_check(r->json, d->fields, r->in, r->why,
		    sizeof(r->why)) != OK)
			return ERR_INVALID_REQUEST;
		return rc;
	}
	return form_check(r->json, d->fields, r->in, r->why, sizeof(r->why));
}

enum err
gate_pass(struct svc *s, struct req *r, enum route *rt, struct tok_claims *who)
{
	const struct route_def *d;
	enum err rc;

	/* An Authorizer request asks about another resource: its method and
	 * path are that resource's, never one of ours. */
	if (r->authorizer)
		*rt = R_AUTHORIZER;
	else if ((rc = route_find(r->method, r->path, rt, r->param, sizeof(r->param))) != OK)
		return rc;
	d = &routes[*rt];
	r->route_name = d->name;
	/* The gate pool answers the token check and nothing that may wait. */
	if (s->role == SVC_GATE && !(d->flags & RF_GATE))
		return ERR_NOT_FOUND;
	if ((d->flags & RF_BEARER) && (rc = gate_bearer(s, r, who)) != OK)
		return rc;
	if ((d->flags & RF_ADMIN) && (rc = gate_admin(s, r)) != OK)
		return rc;
	/* A path segment that cannot name anything names nothing. */
	if (d->param != NULL && !form_value(r->param, d->param))
		return http_fail(r, ERR_NOT_FOUND, "no such %s", d->param->name);
	if (d->flags & RF_QUERY)
		return form_query(r->query, d->fields, r->in, r->qbuf, sizeof(r->qbuf),
		    r->why, sizeof(r->why));
	if (d->flags & RF_BODY)
		return body(s, r, d);
	return OK;
}
