/*
 * scan.c - log in on a PC by scanning a mini-program code (README, "Log in
 * on a PC"): the PC page's request, its code image and its status, and the
 * mini-program's scan, confirmation and cancel. The request's id is the
 * code's scene and is no credential: the PC's status and ticket need the
 * browser's wxauth_scan cookie, the mini-program's steps a person's token.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "codec.h"
#include "db.h"
#include "login.h"
#include "scan.h"
#include "wx.h"
#include "wxtoken.h"

#define SCAN_ID_BYTES 16                /* the scene: 22 base64url characters */
#define SCAN_ID_STR 23
#define SCAN_BIND_BYTES 32

enum { NEW_APPID };
const struct field scan_new_fields[] = {
	[NEW_APPID] = {"appid", FT_STRING, FF_REQUIRED | FF_TOKEN, 1, APPID_MAX},
	FIELDS_END
};
const struct field scan_param = {"scan", FT_STRING, FF_TOKEN, SCAN_ID_STR - 1,
	SCAN_ID_STR - 1};

/* id_hashes: the request id's hash (its row) and its code's (its session's
 * stored answer), under the first data key. */
static void
id_hashes(const struct svc *s, const char *id, unsigned char idh[TOK_HASHBYTES],
    unsigned char codeh[TOK_HASHBYTES])
{
	struct tok_hashes h;

	tok_hash(s->hash_keys, TOK_H_SCAN, "id", id, &h);
	memcpy(idh, h.h[0], TOK_HASHBYTES);
	if (codeh != NULL) {
		tok_hash(s->hash_keys, TOK_H_SCAN, "code", id, &h);
		memcpy(codeh, h.h[0], TOK_HASHBYTES);
	}
}

/* browser: the request of this browser (its wxauth_scan cookie), or
 * ERR_NOT_FOUND: without the cookie a request is nobody's business. */
static enum err
browser(struct svc *s, struct req *r, unsigned char idh[TOK_HASHBYTES], struct db_scan *st)
{
	struct tok_hashes have;
	char bind[OAUTH_BIND_STR];
	enum err rc;

	have.n = 0;
	if (http_cookie(r, SCAN_BIND_COOKIE, bind, sizeof(bind)) == 1 &&
	    strlen(bind) == OAUTH_BIND_STR - 1)
		login_bind_hashes(s, bind, &have);
	sodium_memzero(bind, sizeof(bind));
	id_hashes(s, r->param, idh, NULL);
	if ((rc = db_scan_get(s->db, idh, st)) == OK && !tok_hash_is(&have, st->bind_hash))
		rc = ERR_NOT_FOUND;
	return rc == ERR_NOT_FOUND ? http_fail(r, rc, "no such login request in this browser") :
	    rc;
}

enum err
scan_new(struct svc *s, struct req *r, const struct tok_claims *who)
{
	const struct conf_app *app = conf_app_find(s->conf, r->in[NEW_APPID].s);
	unsigned char raw[SCAN_BIND_BYTES], idh[TOK_HASHBYTES];
	char id[SCAN_ID_STR], bind[OAUTH_BIND_STR], hdr[256], body[256];
	struct tok_hashes bh;
	enum err rc = ERR_INTERNAL;
	int n;

	(void)who;
	if (s->conf->scan_page[0] == '\0')
		return http_fail(r, ERR_FORBIDDEN, "the PC scan login is not set up (scan_page)");
	if (app == NULL || app->type != APP_MINIPROGRAM)
		return http_fail(r, ERR_UNKNOWN_APP, "field 'appid' must name a configured "
		    "mini-program");
	/* One secret a browser: a second request of the same browser keeps the
	 * cookie, so that its first tab can still finish. */
	if (http_cookie(r, SCAN_BIND_COOKIE, bind, sizeof(bind)) != 1 ||
	    strlen(bind) != OAUTH_BIND_STR - 1) {
		randombytes_buf(raw, sizeof(raw));
		if (codec_b64url(bind, sizeof(bind), raw, sizeof(raw)) != 0)
			goto out;
	}
	randombytes_buf(raw, SCAN_ID_BYTES);
	if (codec_b64url(id, sizeof(id), raw, SCAN_ID_BYTES) != 0)
		goto out;
	id_hashes(s, id, idh, NULL);
	login_bind_hashes(s, bind, &bh);
	if ((rc = db_scan_new(s->db, idh, bh.h[0], app->appid, s->conf->scan_ttl)) != OK)
		goto out;
	rc = ERR_INTERNAL;
	/* Secure unless this service is reached over plain http on purpose. */
	n = snprintf(hdr, sizeof(hdr), SCAN_BIND_COOKIE "=%s; Path=/v1/; Max-Age=%ld; "
	    "HttpOnly; SameSite=Strict%s", bind, s->conf->scan_ttl + OAUTH_TICKET_TTL,
	    strncmp(s->conf->public_url, "http://", 7) == 0 ? "" : "; Secure");
	if (n < 0 || (size_t)n >= sizeof(hdr) || http_header(r, "Set-Cookie", hdr) == -1)
		goto out;
	n = snprintf(body, sizeof(body), "{\"id\":\"%s\",\"code_url\":\"/v1/scan/%s/code\","
	    "\"expires_in\":%ld,\"poll_interval\":1}", id, id, s->conf->scan_ttl);
	if (n < 0 || (size_t)n >= sizeof(body))
		goto out;
	http_send_json_text(r, 200, body, (size_t)n);
	rc = OK;
out:
	sodium_memzero(bind, sizeof(bind));
	sodium_memzero(raw, sizeof(raw));
	return rc;
}

enum err
scan_status(struct svc *s, struct req *r, const struct tok_claims *who)
{
	unsigned char idh[TOK_HASHBYTES], th[TOK_HASHBYTES];
	char ticket[TOK_REFRESH_STR], body[256];
	struct db_scan st;
	enum err rc;
	int n;

	(void)who;
	ticket[0] = '\0';
	if ((rc = browser(s, r, idh, &st)) != OK)
		return rc;
	/* Confirmed: this poll, the first after it, carries the ticket. */
	if (strcmp(st.status, "confirmed") == 0 && !st.ticket_given) {
		if (tok_refresh_new(ticket, sizeof(ticket), th) == -1)
			return ERR_INTERNAL;
		if ((rc = db_scan_ticket(s->db, idh, th)) == ERR_SCAN_OVER)
			ticket[0] = '\0';
		else if (rc != OK)
			goto out;
	}
	n = snprintf(body, sizeof(body), "{\"status\":\"%s\",\"expires_in\":%ld,"
	    "\"refused\":%ld%s%s%s}", st.status, st.expires_in, st.refused,
	    ticket[0] ? ",\"ticket\":\"" : "", ticket, ticket[0] ? "\"" : "");
	rc = ERR_INTERNAL;
	if (n > 0 && (size_t)n < sizeof(body)) {
		http_send_json_text(r, 200, body, (size_t)n);
		rc = OK;
	}
out:
	sodium_memzero(ticket, sizeof(ticket));
	sodium_memzero(body, sizeof(body));
	return rc;
}

struct code_arg {
	const struct conf *conf;
	const char *scene;
	unsigned char *img;
	size_t len;
	const char *ctype;
};

static enum err
code_of(struct wx *wx, const char *access_token, void *arg)
{
	struct code_arg *a = arg;

	free(a->img);
	a->img = NULL;
	return wx_wxacode(wx, access_token, a->scene, a->conf->scan_page,
	    a->conf->scan_env_version, &a->img, &a->len, &a->ctype);
}

enum err
scan_code(struct svc *s, struct req *r, const struct tok_claims *who)
{
	unsigned char idh[TOK_HASHBYTES];
	struct code_arg a = {s->conf, r->param, NULL, 0, NULL};
	const struct conf_app *app;
	struct db_scan st;
	enum err rc;

	(void)who;
	if ((rc = browser(s, r, idh, &st)) != OK)
		return rc;
	if (strcmp(st.status, "pending") != 0)
		return ERR_SCAN_OVER;
	if ((app = conf_app_find(s->conf, st.appid)) == NULL)
		return ERR_UNKNOWN_APP;
	if ((rc = wxtoken_call(s->wxtok, app, code_of, &a)) == OK)
		http_send_private_body(r, a.ctype, (const char *)a.img, a.len, st.expires_in);
	free(a.img);
	return rc;
}

/* mine: the request named in the path, for the token's mini-program. */
static void
mine(struct svc *s, struct req *r, unsigned char idh[TOK_HASHBYTES],
    unsigned char codeh[TOK_HASHBYTES])
{
	id_hashes(s, r->param, idh, codeh);
}

static enum err
answered(struct req *r, enum err rc, const char *status)
{
	char body[64];
	int n;

	if (rc == ERR_NOT_FOUND)
		return http_fail(r, rc, "no such login request for this mini-program");
	if (rc != OK)
		return rc;
	n = snprintf(body, sizeof(body), "{\"status\":\"%s\"}", status);
	http_send_json_text(r, 200, body, (size_t)n);
	return OK;
}

enum err
scan_scanned(struct svc *s, struct req *r, const struct tok_claims *who)
{
	unsigned char idh[TOK_HASHBYTES];

	mine(s, r, idh, NULL);
	return answered(r, db_scan_scanned(s->db, idh, who->app, who->oid), "scanned");
}

enum err
scan_cancel(struct svc *s, struct req *r, const struct tok_claims *who)
{
	unsigned char idh[TOK_HASHBYTES];

	mine(s, r, idh, NULL);
	return answered(r, db_scan_cancel(s->db, idh, who->app, who->oid), "cancelled");
}

enum err
scan_confirm(struct svc *s, struct req *r, const struct tok_claims *who)
{
	unsigned char idh[TOK_HASHBYTES], codeh[TOK_HASHBYTES];
	enum err rc;

	mine(s, r, idh, codeh);
	rc = login_scan_confirm(s, r, idh, codeh, who);
	return rc == ERR_NOT_FOUND ? http_fail(r, rc, "no such login request for this "
	    "mini-program") : rc;
}
