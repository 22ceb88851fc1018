/*
 * auth.c - from a login code to a session, and the session's life: refresh
 * with rotation and reuse detection, logout, and the token check that
 * nginx's auth_request calls for every downstream request.
 */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <json-c/json.h>
#include <sodium.h>

#include "auth.h"
#include "db.h"
#include "jsonw.h"
#include "login.h"
#include "ended.h"

#define CODE_MAX 128

/* Login and link carry the same two fields, at the same entries; a login
 * may carry a web login's ticket instead of a code. */
enum { CODE_APPID, CODE_CODE, CODE_TICKET };
const struct field auth_login_fields[] = {
	[CODE_APPID] = {"appid", FT_STRING, FF_TOKEN, 1, APPID_MAX},
	[CODE_CODE] = {"code", FT_STRING, FF_TOKEN, 1, CODE_MAX},
	[CODE_TICKET] = {"ticket", FT_STRING, FF_TOKEN, 1, 64},
	FIELDS_END
};

const struct field auth_link_fields[] = {
	[CODE_APPID] = {"appid", FT_STRING, FF_REQUIRED | FF_TOKEN, 1, APPID_MAX},
	[CODE_CODE] = {"code", FT_STRING, FF_REQUIRED | FF_TOKEN, 1, CODE_MAX},
	FIELDS_END
};

enum { REFRESH_TOKEN };
const struct field auth_refresh_fields[] = {
	[REFRESH_TOKEN] = {"refresh_token", FT_STRING, FF_REQUIRED | FF_TOKEN, 1, 256},
	FIELDS_END
};

enum { LOGOUT_ALL };
const struct field auth_logout_fields[] = {
	[LOGOUT_ALL] = {"all", FT_BOOL, 0, 0, 0},
	FIELDS_END
};

enum err
auth_login(struct svc *s, struct req *r, const struct tok_claims *who)
{
	unsigned char code_hash[TOK_HASHBYTES];

	(void)who;
	if (r->in[CODE_CODE].set == r->in[CODE_TICKET].set)
		return http_fail(r, ERR_INVALID_REQUEST,
		    "field 'code' is required (or field 'ticket', not both)");
	if (r->in[CODE_TICKET].set)
		return login_ticket(s, r, r->in[CODE_TICKET].s);
	return login_code(s, r, r->in[CODE_APPID].s, r->in[CODE_CODE].s, true, code_hash);
}

enum err
auth_link(struct svc *s, struct req *r, const struct tok_claims *who)
{
	return login_link(s, r, r->in[CODE_APPID].s, r->in[CODE_CODE].s, who->sub);
}

enum err
auth_refresh(struct svc *s, struct req *r, const struct tok_claims *who)
{
	(void)who;
	return login_refresh(s, r, r->in[REFRESH_TOKEN].s);
}

enum err
auth_logout(struct svc *s, struct req *r, const struct tok_claims *who)
{
	struct json_object *o;
	long count = 0;
	enum err rc;

	rc = db_logout(s->db, who->sid, who->sub, r->in[LOGOUT_ALL].set && r->in[LOGOUT_ALL].b,
	    r->id, &count);
	if (rc != OK)
		return rc;
	/* This worker knows at once; the others from view_log, when the
	 * trigger's hint (NOTIFY wxauth_view) reaches them. */
	if (ended_add_session(s->rev, who->sid, who->exp + 60) == -1)
		return ERR_INTERNAL;
	if ((o = json_object_new_object()) == NULL)
		return ERR_INTERNAL;
	json_object_object_add(o, "revoked", json_object_new_int64(count));
	http_send_json(r, 200, o);
	json_object_put(o);
	return OK;
}

enum err
auth_session(struct svc *s, struct req *r, const struct tok_claims *who)
{
	char buf[1024];
	struct jsonw w;
	int64_t left = who->exp - (int64_t)time(NULL);
	long n;

	(void)s;
	/* For nginx auth_request: the identity as headers, as well as JSON. */
	http_header(r, "X-Auth-User", who->sub);
	http_header(r, "X-Auth-Appid", who->app);
	http_header(r, "X-Auth-Openid", who->oid);
	http_header(r, "X-Auth-Unionid", who->uni);
	/* The shape of add_ident's, written straight (the check's hot path). */
	jsonw_init(&w, buf, sizeof(buf));
	jsonw_open(&w, NULL, 0);
	jsonw_open(&w, "user", 0);
	jsonw_str(&w, "id", who->sub);
	jsonw_str(&w, "unionid", who->uni);
	jsonw_close(&w);
	jsonw_open(&w, "account", 0);
	jsonw_str(&w, "appid", who->app);
	jsonw_str(&w, "openid", who->oid);
	jsonw_close(&w);
	jsonw_str(&w, "session_id", who->sid);
	jsonw_int(&w, "expires_in", left > 0 ? left : 0);
	jsonw_close(&w);
	if ((n = jsonw_end(&w)) < 0)
		return ERR_INTERNAL;
	http_send_json_text(r, 200, buf, (size_t)n);
	return OK;
}

enum err
auth_authorizer(struct svc *s, struct req *r, const struct tok_claims *who)
{
	(void)s;
	/* Every variable is set, empty or not, so that none can come from
	 * anywhere else; REMOTE_USER names the user in the server's own log. */
	if (http_header(r, "Variable-WXAUTH_USER", who->sub) == -1 ||
	    http_header(r, "Variable-WXAUTH_APPID", who->app) == -1 ||
	    http_header(r, "Variable-WXAUTH_OPENID", who->oid) == -1 ||
	    http_header(r, "Variable-WXAUTH_UNIONID", who->uni) == -1 ||
	    http_header(r, "Variable-WXAUTH_SESSION", who->sid) == -1 ||
	    http_header(r, "Variable-REMOTE_USER", who->sub) == -1)
		return ERR_INTERNAL;
	http_send_granted(r);
	return OK;
}
