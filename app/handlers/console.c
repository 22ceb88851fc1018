/*
 * console.c - the operators' console API (README, "The console"). An
 * operator signs in with their own wxauth session (the console page gets
 * one through the PC scan login) and gets a console session: a cookie
 * (HttpOnly, SameSite=Strict, scoped to /v1/console/) and a CSRF token that
 * every state-changing call sends back in X-CSRF-Token. The role comes from
 * the config on every request: an operator removed from it is out at once.
 * Every action is audited under the operator's user id.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "codec.h"
#include "console.h"
#include <json-c/json.h>

#include "db.h"
#include "metrics.h"

#define CONSOLE_COOKIE "wxauth_console"
#define CONSOLE_TTL 1800                /* seconds: a console session's life */
#define SECRET_BYTES 32
#define SECRET_STR 44
#define FIND_LIMIT 20

enum { FIND_Q, FIND_BY, FIND_PAGE };
const struct field console_find_fields[] = {
	[FIND_Q] = {"q", FT_STRING, FF_REQUIRED | FF_TEXT, 1, 256},
	[FIND_BY] = {"by", FT_STRING, FF_TOKEN, 1, 16},
	[FIND_PAGE] = {"page", FT_INT, 0, 0, 1000},
	FIELDS_END
};
const struct field console_user_param = {"user", FT_STRING, FF_UUID, 36, 36};
const struct field console_merge_param = {"merge", FT_STRING, FF_TOKEN, 1, 18};

enum { DEL_CONFIRM };
const struct field console_delete_fields[] = {
	[DEL_CONFIRM] = {"confirm", FT_STRING, FF_REQUIRED | FF_TOKEN, 1, 64},
	FIELDS_END
};
enum { UNLINK_APPID };
const struct field console_unlink_fields[] = {
	[UNLINK_APPID] = {"appid", FT_STRING, FF_REQUIRED | FF_TOKEN, 1, APPID_MAX},
	FIELDS_END
};
enum { MERGES_BEFORE };
const struct field console_merges_fields[] = {
	[MERGES_BEFORE] = {"before", FT_INT, 0, 0, 999999999999999999LL},
	FIELDS_END
};
enum { LOG_USER, LOG_OPERATOR, LOG_EVENT, LOG_BEFORE };
const struct field console_log_fields[] = {
	[LOG_USER] = {"user", FT_STRING, FF_UUID, 36, 36},
	[LOG_OPERATOR] = {"operator", FT_STRING, FF_UUID, 36, 36},
	[LOG_EVENT] = {"event", FT_STRING, FF_TOKEN, 1, 64},
	[LOG_BEFORE] = {"before", FT_INT, 0, 0, 999999999999999999LL},
	FIELDS_END
};

struct operator {
	char id[UUID_STR];
	char role[16];
};

static void
secret_hash(const struct svc *s, const char *scope, const char *v,
    unsigned char out[TOK_HASHBYTES])
{
	struct tok_hashes h;

	tok_hash(s->hash_keys, TOK_H_CONSOLE, scope, v, &h);
	memcpy(out, h.h[0], TOK_HASHBYTES);
}

/*
 * who: the operator of this request's console session. act: the call
 * changes something: an operator (not a viewer), and the CSRF token. 401
 * without a live session, 403 for a viewer, a wrong token, or someone the
 * config no longer names.
 */
static enum err
who(struct svc *s, struct req *r, bool act, struct operator *op)
{
	unsigned char idh[TOK_HASHBYTES], want[TOK_HASHBYTES], got[TOK_HASHBYTES];
	char secret[SECRET_STR];
	const char *role, *csrf;
	enum err rc;

	memset(op, 0, sizeof(*op));
	if (http_cookie(r, CONSOLE_COOKIE, secret, sizeof(secret)) != 1 ||
	    strlen(secret) != SECRET_STR - 1)
		return http_fail(r, ERR_INVALID_TOKEN, "sign in to the console first");
	secret_hash(s, "cookie", secret, idh);
	sodium_memzero(secret, sizeof(secret));
	rc = db_console_get(s->db, idh, op->id, sizeof(op->id), op->role, sizeof(op->role), want);
	if (rc == ERR_NOT_FOUND)
		return http_fail(r, ERR_INVALID_TOKEN, "the console session is over: sign in again");
	if (rc != OK)
		return rc;
	if ((role = conf_console_role(s->conf, op->id)) == NULL)
		return http_fail(r, ERR_FORBIDDEN, "not an operator of this console (any more)");
	snprintf(op->role, sizeof(op->role), "%s", role);
	snprintf(r->user, sizeof(r->user), "%s", op->id);
	if (!act)
		return OK;
	if (strcmp(op->role, "operator") != 0)
		return http_fail(r, ERR_FORBIDDEN, "a viewer can look, not act");
	if ((csrf = http_param(r, "HTTP_X_CSRF_TOKEN")) == NULL || strlen(csrf) != SECRET_STR - 1)
		return http_fail(r, ERR_FORBIDDEN, "the X-CSRF-Token header is missing");
	secret_hash(s, "csrf", csrf, got);
	if (sodium_memcmp(got, want, TOK_HASHBYTES) != 0)
		return http_fail(r, ERR_FORBIDDEN, "the X-CSRF-Token header is not this session's");
	return OK;
}

enum err
console_signin(struct svc *s, struct req *r, const struct tok_claims *tok)
{
	unsigned char raw[SECRET_BYTES], idh[TOK_HASHBYTES], ch[TOK_HASHBYTES];
	char secret[SECRET_STR], csrf[SECRET_STR], hdr[192], body[256];
	struct db_console in;
	const char *role = conf_console_role(s->conf, tok->sub);
	enum err rc = ERR_INTERNAL;
	int n;

	if (role == NULL)
		return http_fail(r, ERR_FORBIDDEN, "not an operator of this console");
	randombytes_buf(raw, sizeof(raw));
	if (codec_b64url(secret, sizeof(secret), raw, sizeof(raw)) != 0)
		goto out;
	randombytes_buf(raw, sizeof(raw));
	if (codec_b64url(csrf, sizeof(csrf), raw, sizeof(raw)) != 0)
		goto out;
	secret_hash(s, "cookie", secret, idh);
	secret_hash(s, "csrf", csrf, ch);
	memset(&in, 0, sizeof(in));
	in.id_hash = idh;
	in.csrf_hash = ch;
	in.user_id = tok->sub;
	in.session_id = tok->sid;
	in.role = role;
	in.ttl = CONSOLE_TTL;
	in.ip = r->remote_addr;
	in.user_agent = r->user_agent;
	in.request_id = r->id;
	if ((rc = db_console_open(s->db, &in)) != OK)
		goto out;
	rc = ERR_INTERNAL;
	n = snprintf(hdr, sizeof(hdr), CONSOLE_COOKIE "=%s; Path=/v1/console/; Max-Age=%d; "
	    "HttpOnly; SameSite=Strict%s", secret, CONSOLE_TTL,
	    strncmp(s->conf->public_url, "http://", 7) == 0 ? "" : "; Secure");
	if (n < 0 || (size_t)n >= sizeof(hdr) || http_header(r, "Set-Cookie", hdr) == -1)
		goto out;
	/* The CSRF token goes to the page only: never a cookie, never a URL. */
	n = snprintf(body, sizeof(body), "{\"user_id\":\"%s\",\"role\":\"%s\",\"csrf\":\"%s\","
	    "\"expires_in\":%d}", tok->sub, role, csrf, CONSOLE_TTL);
	if (n > 0 && (size_t)n < sizeof(body)) {
		http_send_json_text(r, 200, body, (size_t)n);
		rc = OK;
	}
out:
	sodium_memzero(raw, sizeof(raw));
	sodium_memzero(secret, sizeof(secret));
	sodium_memzero(csrf, sizeof(csrf));
	sodium_memzero(body, sizeof(body));
	return rc;
}

enum err
console_signout(struct svc *s, struct req *r, const struct tok_claims *tok)
{
	unsigned char idh[TOK_HASHBYTES];
	char secret[SECRET_STR];
	struct operator op;
	enum err rc;

	(void)tok;
	if ((rc = who(s, r, false, &op)) != OK)
		return rc;
	if (http_cookie(r, CONSOLE_COOKIE, secret, sizeof(secret)) == 1)
		secret_hash(s, "cookie", secret, idh);
	sodium_memzero(secret, sizeof(secret));
	if ((rc = db_console_end(s->db, idh)) != OK)
		return rc;
	(void)http_header(r, "Set-Cookie", CONSOLE_COOKIE "=; Path=/v1/console/; Max-Age=0; "
	    "HttpOnly; SameSite=Strict");
	http_send_json_text(r, 200, "{\"signed_out\":true}", strlen("{\"signed_out\":true}"));
	return OK;
}

enum err
console_me(struct svc *s, struct req *r, const struct tok_claims *tok)
{
	struct operator op;
	char body[96];
	enum err rc;
	int n;

	(void)tok;
	if ((rc = who(s, r, false, &op)) != OK)
		return rc;
	n = snprintf(body, sizeof(body), "{\"user_id\":\"%s\",\"role\":\"%s\"}", op.id, op.role);
	http_send_json_text(r, 200, body, (size_t)n);
	return OK;
}

static void
send_text(struct req *r, char *text)
{
	http_send_json_text(r, 200, text, strlen(text));
	free(text);
}

enum err
console_find(struct svc *s, struct req *r, const struct tok_claims *tok)
{
	static const struct { const char *name; enum db_find by; } keys[] = {
		{"id", DB_FIND_ID}, {"openid", DB_FIND_OPENID}, {"unionid", DB_FIND_UNIONID},
		{"phone", DB_FIND_PHONE}, {"nickname", DB_FIND_NICKNAME},
	};
	const char *by = r->in[FIND_BY].set ? r->in[FIND_BY].s : "nickname";
	struct operator op;
	char *text = NULL;
	enum err rc;
	size_t i;

	(void)tok;
	if ((rc = who(s, r, false, &op)) != OK)
		return rc;
	for (i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
		if (strcmp(keys[i].name, by) == 0)
			break;
	if (i == sizeof(keys) / sizeof(keys[0]))
		return http_fail(r, ERR_INVALID_REQUEST, "parameter 'by' must be id, openid, "
		    "unionid, phone or nickname");
	if ((rc = db_console_find(s->db, keys[i].by, r->in[FIND_Q].s, FIND_LIMIT,
	    (r->in[FIND_PAGE].set ? r->in[FIND_PAGE].n : 0) * FIND_LIMIT, &text)) != OK)
		return rc;
	send_text(r, text);
	return OK;
}

enum err
console_user(struct svc *s, struct req *r, const struct tok_claims *tok)
{
	struct operator op;
	char *text = NULL;
	enum err rc;

	(void)tok;
	if ((rc = who(s, r, false, &op)) != OK)
		return rc;
	if ((rc = db_console_user(s->db, r->param, &text)) == ERR_NOT_FOUND)
		return http_fail(r, rc, "no such user");
	if (rc != OK)
		return rc;
	send_text(r, text);
	return OK;
}

/* act: one of an operator's actions on user r->param, audited. */
static enum err
act(struct svc *s, struct req *r, const char *action)
{
	struct operator op;
	char body[96];
	long count = 0;
	enum err rc;
	int n;

	if ((rc = who(s, r, true, &op)) != OK)
		return rc;
	if (strcmp(action, "revoke") == 0)
		rc = db_admin_revoke(s->db, r->param, r->id, &count);
	else
		rc = db_admin_disable(s->db, r->param, strcmp(action, "disable") == 0, r->id,
		    &count);
	if (rc == ERR_NOT_FOUND)
		return http_fail(r, rc, "no such user (or deleted, or merged into another)");
	if (rc == OK)
		rc = db_console_audit(s->db, op.id, action, r->param, NULL, r->id);
	if (rc != OK)
		return rc;
	n = snprintf(body, sizeof(body), "{\"done\":\"%s\",\"revoked\":%ld}", action, count);
	http_send_json_text(r, 200, body, (size_t)n);
	return OK;
}

enum err
console_disable(struct svc *s, struct req *r, const struct tok_claims *tok)
{
	(void)tok;
	return act(s, r, "disable");
}

enum err
console_enable(struct svc *s, struct req *r, const struct tok_claims *tok)
{
	(void)tok;
	return act(s, r, "enable");
}

enum err
console_revoke(struct svc *s, struct req *r, const struct tok_claims *tok)
{
	(void)tok;
	return act(s, r, "revoke");
}

/* done: {"done": action} and the audit row naming the operator. */
static enum err
done(struct svc *s, struct req *r, const struct operator *op, const char *action,
    const char *user_id, const char *target)
{
	char body[64];
	enum err rc;
	int n;

	if ((rc = db_console_audit(s->db, op->id, action, user_id, target, r->id)) != OK)
		return rc;
	n = snprintf(body, sizeof(body), "{\"done\":\"%s\"}", action);
	http_send_json_text(r, 200, body, (size_t)n);
	return OK;
}

enum err
console_delete(struct svc *s, struct req *r, const struct tok_claims *tok)
{
	struct operator op;
	struct db_delete in;
	enum err rc;

	(void)tok;
	if ((rc = who(s, r, true, &op)) != OK)
		return rc;
	/* Typed confirmation: the page asks for the user id itself. */
	if (strcmp(r->in[DEL_CONFIRM].s, r->param) != 0)
		return http_fail(r, ERR_INVALID_REQUEST, "field 'confirm' must be the user id");
	memset(&in, 0, sizeof(in));
	in.user_id = r->param;
	in.request_id = r->id;
	if ((rc = db_delete_user(s->db, &in)) == ERR_NOT_FOUND)
		return http_fail(r, rc, "no such live user");
	if (rc != OK)
		return rc;
	return done(s, r, &op, "delete", r->param, NULL);
}

enum err
console_unlink(struct svc *s, struct req *r, const struct tok_claims *tok)
{
	const char *appid = r->in[UNLINK_APPID].s;
	struct operator op;
	enum err rc;

	(void)tok;
	if ((rc = who(s, r, true, &op)) != OK)
		return rc;
	if ((rc = db_unlink(s->db, r->param, appid, r->id)) == ERR_NOT_FOUND)
		return http_fail(r, rc, "the user has no account in that app");
	if (rc != OK)
		return rc;
	return done(s, r, &op, "unlink", r->param, appid);
}

enum err
console_undo(struct svc *s, struct req *r, const struct tok_claims *tok)
{
	struct operator op;
	char why[256], *end = NULL;
	long long id;
	enum err rc;

	(void)tok;
	if ((rc = who(s, r, true, &op)) != OK)
		return rc;
	id = strtoll(r->param, &end, 10);
	if (end == r->param || *end != '\0' || id <= 0)
		return http_fail(r, ERR_NOT_FOUND, "no such merge");
	why[0] = '\0';
	rc = db_unmerge(s->db, id, why, sizeof(why));
	if (rc == ERR_NOT_FOUND || rc == ERR_FORBIDDEN)
		return http_fail(r, rc == ERR_NOT_FOUND ? rc : ERR_INVALID_REQUEST, "%s",
		    why[0] ? why : "no such merge");
	if (rc != OK)
		return rc;
	return done(s, r, &op, "undo_merge", NULL, r->param);
}

enum err
console_log(struct svc *s, struct req *r, const struct tok_claims *tok)
{
	const struct fval *in = r->in;
	struct operator op;
	char *text = NULL;
	enum err rc;

	(void)tok;
	if ((rc = who(s, r, false, &op)) != OK)
		return rc;
	if ((rc = db_console_log(s->db, in[LOG_USER].set ? in[LOG_USER].s : NULL,
	    in[LOG_OPERATOR].set ? in[LOG_OPERATOR].s : NULL,
	    in[LOG_EVENT].set ? in[LOG_EVENT].s : NULL,
	    in[LOG_BEFORE].set ? in[LOG_BEFORE].n : 0, &text)) != OK)
		return rc;
	send_text(r, text);
	return OK;
}

enum err
console_health(struct svc *s, struct req *r, const struct tok_claims *tok)
{
	struct metrics_wx_count wx[64];
	struct json_object *o = NULL, *db = NULL, *pools, *p, *calls, *c;
	int alive, conf, galive, gconf;
	struct operator op;
	char *text = NULL;
	size_t n, i;
	enum err rc;

	(void)tok;
	if ((rc = who(s, r, false, &op)) != OK)
		return rc;
	rc = ERR_INTERNAL;
	if ((o = json_object_new_object()) == NULL)
		goto out;
	/* The database: this very request read it, or it is down. */
	if (db_console_health(s->db, &text) == OK && (db = json_tokener_parse(text)) != NULL) {
		json_object_object_add(o, "database", json_object_new_string("ok"));
		json_object_object_add(o, "tokens", json_object_get(
		    json_object_object_get(db, "tokens")));
		json_object_object_add(o, "phone_codes_today", json_object_get(
		    json_object_object_get(db, "phone_codes_today")));
	} else {
		json_object_object_add(o, "database", json_object_new_string("unavailable"));
	}
	metrics_pools(&alive, &conf, &galive, &gconf);
	pools = json_object_new_object();
	p = json_object_new_object();
	json_object_object_add(p, "alive", json_object_new_int(alive));
	json_object_object_add(p, "configured", json_object_new_int(conf));
	json_object_object_add(pools, "main", p);
	p = json_object_new_object();
	json_object_object_add(p, "alive", json_object_new_int(galive));
	json_object_object_add(p, "configured", json_object_new_int(gconf));
	json_object_object_add(pools, "gate", p);
	json_object_object_add(o, "pools", pools);
	calls = json_object_new_array();
	n = metrics_wechat_counts(wx, sizeof(wx) / sizeof(wx[0]));
	for (i = 0; i < n; i++) {
		c = json_object_new_object();
		json_object_object_add(c, "api", json_object_new_string(wx[i].api));
		json_object_object_add(c, "errcode", wx[i].errcode == METRICS_WX_TIMEOUT ?
		    json_object_new_string("timeout") : wx[i].errcode == METRICS_WX_UNAVAILABLE ?
		    json_object_new_string("unavailable") : json_object_new_int64(wx[i].errcode));
		json_object_object_add(c, "calls", json_object_new_int64((int64_t)wx[i].calls));
		json_object_array_add(calls, c);
	}
	json_object_object_add(o, "wechat_calls", calls);
	http_send_json(r, 200, o);
	rc = OK;
out:
	json_object_put(o);
	json_object_put(db);
	free(text);
	return rc;
}

enum err
console_merges(struct svc *s, struct req *r, const struct tok_claims *tok)
{
	struct operator op;
	char *text = NULL;
	enum err rc;

	(void)tok;
	if ((rc = who(s, r, false, &op)) != OK)
		return rc;
	if ((rc = db_console_merges(s->db, r->in[MERGES_BEFORE].set ? r->in[MERGES_BEFORE].n : 0,
	    &text)) != OK)
		return rc;
	send_text(r, text);
	return OK;
}
