/*
 * oauth.c - the web login (official accounts: connect/oauth2/authorize;
 * websites: connect/qrconnect).
 *
 * authorize: the app must be an official account or a website with
 * redirect_uris, redirect one of them exactly. A state of 32 hex digits
 * (WeChat takes [A-Za-z0-9], at most 128) goes to WeChat; the same state,
 * the app, the redirect and an expiry go into the wxauth_oauth cookie,
 * sealed under the data key (atrest.h), HttpOnly, Secure, SameSite=Lax,
 * scoped to the callback's path: the CSRF defence OAuth 2.0's security
 * BCP asks for, with nothing stored before the callback.
 *
 * authorize also sets the binding cookie (wxauth_bind, auth.h): a random
 * value, HttpOnly, scoped to POST /v1/login, also held in the sealed
 * cookie.
 *
 * callback: the cookie must open and hold this state, unexpired; the state
 * is honoured once (its hash stored); then the code is exchanged as a
 * login is (a code seen before is refused, and this one is never a
 * credential again), and the browser goes to the redirect with ?ticket=,
 * which POST /v1/login {"ticket"} trades, once and within seconds, for the
 * tokens, with the binding cookie of the browser that began. Without a cookie that holds the state, the answer is 400
 * invalid_state; with one, a failure (consent refused, a snapshot visitor,
 * WeChat refusing the code) goes to the redirect as ?error=NAME.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <json-c/json.h>
#include <sodium.h>

#include "atrest.h"
#include "db.h"
#include "codec.h"
#include "log.h"
#include "login.h"
#include "oauth.h"

#define COOKIE "wxauth_oauth"
#define COOKIE_AD "wxauth oauth state"
#define STATE_TTL 600           /* seconds from authorize to callback */
#define STATE_HEX 32
#define URL_MAX 1536
#define SEALED_MAX 640
#define COOKIE_MAX (SEALED_MAX * 4 / 3 + 4)

enum { AZ_APPID, AZ_REDIRECT, AZ_SCOPE };
const struct field oauth_authorize_fields[] = {
	[AZ_APPID] = {"appid", FT_STRING, FF_REQUIRED | FF_TOKEN, 1, APPID_MAX},
	[AZ_REDIRECT] = {"redirect", FT_STRING, FF_REQUIRED | FF_TOKEN, 1, CONF_STR_MAX - 1},
	[AZ_SCOPE] = {"scope", FT_STRING, FF_TOKEN, 1, 32},
	FIELDS_END
};

enum { CB_CODE, CB_STATE };
const struct field oauth_callback_fields[] = {
	[CB_CODE] = {"code", FT_STRING, FF_TOKEN, 1, 128},
	[CB_STATE] = {"state", FT_STRING, FF_TOKEN, 1, 128},
	FIELDS_END
};

/* url_escape: s %-encoded for a query value into out. -1 when it does not fit. */
static int
url_escape(char *out, size_t outlen, const char *s)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t o = 0;

	for (; *s != '\0'; s++) {
		unsigned char c = (unsigned char)*s;

		if (o + 4 > outlen)
			return -1;
		if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		    c == '-' || c == '_' || c == '.' || c == '~') {
			out[o++] = (char)c;
		} else {
			out[o++] = '%';
			out[o++] = hex[c >> 4];
			out[o++] = hex[c & 15];
		}
	}
	out[o] = '\0';
	return 0;
}

/* redirect: send the browser to url (302, with a JSON body for a client
 * that does not follow). */
static enum err
redirect(struct req *r, const char *url)
{
	struct json_object *o;

	if (http_header(r, "Location", url) == -1 || (o = json_object_new_object()) == NULL)
		return ERR_INTERNAL;
	json_object_object_add(o, "location", json_object_new_string(url));
	http_send_json(r, 302, o);
	json_object_put(o);
	return OK;
}

/* back_to: the app's redirect with one more query parameter name=value. */
static enum err
back_to(struct req *r, const char *target, const char *name, const char *value)
{
	char url[URL_MAX];
	int n;

	(void)http_header(r, "Set-Cookie", COOKIE "=; Path=/v1/oauth/callback; Max-Age=0; "
	    "HttpOnly; Secure; SameSite=Lax");
	n = snprintf(url, sizeof(url), "%s%c%s=%s", target,
	    strchr(target, '?') != NULL ? '&' : '?', name, value);
	if (n < 0 || (size_t)n >= sizeof(url))
		return ERR_INTERNAL;
	return redirect(r, url);
}

static bool
allowed(const struct conf_app *app, const char *target)
{
	size_t i;

	for (i = 0; i < app->nredirects; i++)
		if (strcmp(app->redirects[i], target) == 0)
			return true;
	return false;
}

/* the scope WeChat is asked for, or NULL when the app's type has no such. */
static const char *
scope_of(const struct conf_app *app, const char *asked)
{
	if (app->type == APP_WEBSITE)
		return asked == NULL || strcmp(asked, "snsapi_login") == 0 ? "snsapi_login" : NULL;
	if (asked == NULL || strcmp(asked, "snsapi_base") == 0)
		return "snsapi_base";
	return strcmp(asked, "snsapi_userinfo") == 0 ? "snsapi_userinfo" : NULL;
}

/* seal_cookie: {appid, redirect, state, binding, exp} sealed, base64url,
 * into out. */
static enum err
seal_cookie(struct svc *s, const char *appid, const char *target, const char *state,
    const char *bind, char *out, size_t outlen)
{
	struct json_object *o = json_object_new_object();
	unsigned char sealed[SEALED_MAX];
	const char *text;
	size_t len = 0, slen = 0;
	enum err rc = ERR_INTERNAL;

	if (o == NULL)
		return rc;
	json_object_object_add(o, "a", json_object_new_string(appid));
	json_object_object_add(o, "r", json_object_new_string(target));
	json_object_object_add(o, "s", json_object_new_string(state));
	json_object_object_add(o, "b", json_object_new_string(bind));
	json_object_object_add(o, "e", json_object_new_int64((int64_t)time(NULL) + STATE_TTL));
	if ((text = json_object_to_json_string_length(o, JSON_C_TO_STRING_PLAIN, &len)) != NULL &&
	    atrest_seal(sealed, sizeof(sealed), &slen, s->data_keys, (const unsigned char *)text,
	    len, COOKIE_AD) == 0 && codec_b64url(out, outlen, sealed, slen) == 0)
		rc = OK;
	json_object_put(o);
	return rc;
}

enum err
oauth_authorize(struct svc *s, struct req *r, const struct tok_claims *who)
{
	const struct conf_app *app;
	const char *target = r->in[AZ_REDIRECT].s, *scope;
	unsigned char raw[STATE_HEX / 2], braw[32];
	char state[STATE_HEX + 1], cookie[COOKIE_MAX], hdr[COOKIE_MAX + 128];
	char bind[OAUTH_BIND_STR];
	char cb[URL_MAX], cbq[URL_MAX], url[URL_MAX * 2];
	int n;

	(void)who;
	if (s->conf->public_url[0] == '\0')
		return http_fail(r, ERR_NOT_FOUND, "the web login is not configured (public_url)");
	if ((app = conf_app_find(s->conf, r->in[AZ_APPID].s)) == NULL)
		return ERR_UNKNOWN_APP;
	snprintf(r->appid, sizeof(r->appid), "%s", app->appid);
	if (app->type != APP_OFFICIAL_ACCOUNT && app->type != APP_WEBSITE)
		return http_fail(r, ERR_INVALID_REQUEST, "the web login is for official "
		    "accounts and websites; this app is a %s", conf_app_type_name(app->type));
	if (!allowed(app, target))
		return http_fail(r, ERR_INVALID_REQUEST,
		    "parameter 'redirect' is not one of this app's redirect_uris");
	if ((scope = scope_of(app, r->in[AZ_SCOPE].s)) == NULL)
		return http_fail(r, ERR_INVALID_REQUEST, app->type == APP_WEBSITE ?
		    "parameter 'scope' must be snsapi_login for a website" :
		    "parameter 'scope' must be snsapi_base or snsapi_userinfo");
	randombytes_buf(raw, sizeof(raw));
	codec_hex(state, raw, sizeof(raw));
	randombytes_buf(braw, sizeof(braw));
	if (codec_b64url(bind, sizeof(bind), braw, sizeof(braw)) != 0 ||
	    seal_cookie(s, app->appid, target, state, bind, cookie, sizeof(cookie)) != OK)
		return ERR_INTERNAL;
	n = snprintf(cb, sizeof(cb), "%s/v1/oauth/callback", s->conf->public_url);
	if (n < 0 || (size_t)n >= sizeof(cb) || url_escape(cbq, sizeof(cbq), cb) == -1)
		return ERR_INTERNAL;
	/* WeChat matches the parameters in this very order. */
	n = snprintf(url, sizeof(url), "%s/connect/%s?appid=%s&redirect_uri=%s"
	    "&response_type=code&scope=%s&state=%s#wechat_redirect", s->conf->wechat_open_url,
	    app->type == APP_WEBSITE ? "qrconnect" : "oauth2/authorize", app->appid, cbq,
	    scope, state);
	if (n < 0 || (size_t)n >= sizeof(url))
		return ERR_INTERNAL;
	n = snprintf(hdr, sizeof(hdr), COOKIE "=%s; Path=/v1/oauth/callback; Max-Age=%d; "
	    "HttpOnly; Secure; SameSite=Lax", cookie, STATE_TTL);
	if (n < 0 || (size_t)n >= sizeof(hdr) || http_header(r, "Set-Cookie", hdr) == -1)
		return ERR_INTERNAL;
	n = snprintf(hdr, sizeof(hdr), OAUTH_BIND_COOKIE "=%s; Path=/v1/login; Max-Age=%d; "
	    "HttpOnly; Secure; SameSite=Lax", bind, STATE_TTL + OAUTH_TICKET_TTL);
	sodium_memzero(bind, sizeof(bind));
	if (n < 0 || (size_t)n >= sizeof(hdr) || http_header(r, "Set-Cookie", hdr) == -1)
		return ERR_INTERNAL;
	return redirect(r, url);
}

/* The sealed cookie, opened. */
struct pending {
	char appid[APPID_MAX + 1];
	char target[CONF_STR_MAX];
	char state[STATE_HEX + 1];
	char bind[OAUTH_BIND_STR];
	int64_t exp;
};

static enum err
open_cookie(struct svc *s, struct req *r, struct pending *pd)
{
	char cookie[COOKIE_MAX];
	unsigned char sealed[SEALED_MAX], text[SEALED_MAX];
	struct json_object *o = NULL, *v;
	size_t slen = 0, tlen = 0;
	enum err rc = ERR_INVALID_STATE;

	memset(pd, 0, sizeof(*pd));
	if (http_cookie(r, COOKIE, cookie, sizeof(cookie)) != 1 ||
	    codec_unb64url(sealed, sizeof(sealed), &slen, cookie, strlen(cookie)) == -1 ||
	    atrest_open(text, sizeof(text) - 1, &tlen, s->data_keys, sealed, slen, COOKIE_AD) == -1)
		return http_fail(r, rc, "no web-login cookie of this browser, or not ours: "
		    "start again at /v1/oauth/authorize");
	text[tlen] = '\0';
	if ((o = json_tokener_parse((const char *)text)) == NULL)
		return rc;
	if (json_object_object_get_ex(o, "a", &v))
		snprintf(pd->appid, sizeof(pd->appid), "%s", json_object_get_string(v));
	if (json_object_object_get_ex(o, "r", &v))
		snprintf(pd->target, sizeof(pd->target), "%s", json_object_get_string(v));
	if (json_object_object_get_ex(o, "s", &v))
		snprintf(pd->state, sizeof(pd->state), "%s", json_object_get_string(v));
	if (json_object_object_get_ex(o, "b", &v))
		snprintf(pd->bind, sizeof(pd->bind), "%s", json_object_get_string(v));
	if (json_object_object_get_ex(o, "e", &v))
		pd->exp = json_object_get_int64(v);
	json_object_put(o);
	return OK;
}

enum err
oauth_callback(struct svc *s, struct req *r, const struct tok_claims *who)
{
	const char *state = r->in[CB_STATE].s, *code = r->in[CB_CODE].s;
	const struct conf_app *app;
	unsigned char code_hash[TOK_HASHBYTES], th[TOK_HASHBYTES];
	struct tok_hashes hs;
	char ticket[TOK_REFRESH_STR];
	struct pending pd;
	bool fresh = false;
	enum err rc;

	(void)who;
	if (state == NULL)
		return http_fail(r, ERR_INVALID_STATE, "parameter 'state' is required");
	if ((rc = open_cookie(s, r, &pd)) != OK)
		return rc;
	/* This browser's state, still in time, for an app still configured
	 * that still allows the target. */
	if (strlen(state) != strlen(pd.state) ||
	    sodium_memcmp(state, pd.state, strlen(pd.state)) != 0)
		return http_fail(r, ERR_INVALID_STATE, "the state is not this browser's");
	if (pd.exp < (int64_t)time(NULL))
		return http_fail(r, ERR_INVALID_STATE, "the web login took too long: "
		    "start again at /v1/oauth/authorize");
	if ((app = conf_app_find(s->conf, pd.appid)) == NULL || !allowed(app, pd.target))
		return http_fail(r, ERR_INVALID_STATE, "the app or its redirect is no longer "
		    "configured");
	snprintf(r->appid, sizeof(r->appid), "%s", app->appid);
	/* WeChat calls back without a code when the person said no. */
	if (code == NULL)
		return back_to(r, pd.target, "error", "access_denied");
	tok_hash(s->hash_keys, TOK_H_OAUTH_STATE, "", state, &hs);
	if ((rc = db_oauth_state_use(s->db, hs.h[0], &fresh)) != OK)
		return rc;
	if (!fresh)
		return http_fail(r, ERR_INVALID_STATE, "this state was used already");
	rc = login_code(s, r, app->appid, code, false, code_hash);
	if (rc == ERR_DB_UNAVAILABLE || rc == ERR_INTERNAL || rc == ERR_DB_BUSY)
		return rc;
	if (rc != OK)
		return back_to(r, pd.target, "error", err_name(rc));
	if (tok_refresh_new(ticket, sizeof(ticket), th) == -1)
		return ERR_INTERNAL;
	login_bind_hashes(s, pd.bind, &hs);
	if ((rc = db_ticket_put(s->db, th, code_hash, hs.h[0])) == OK)
		rc = back_to(r, pd.target, "ticket", ticket);
	sodium_memzero(ticket, sizeof(ticket));
	return rc;
}
