/*
 * login.c - the login engine the session handlers share (handlers/auth.c,
 * handlers/oauth.c): a code proven with WeChat (proof, in a guarded
 * buffer), its account and session in the store, the answer sealed and
 * kept with the code (the idempotent stored answer), a web login's ticket
 * traded by its browser, a link, a refresh with rotation and its grace.
 * It answers through the request (http.h); it is no handler, and calls none.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <json-c/json.h>
#include <sodium.h>

#include "atrest.h"
#include "db.h"
#include "log.h"
#include "login.h"
#include "wx.h"

#define SEALED_MAX (WX_SESSION_KEY_STR + ATREST_OVERHEAD)

static void
set_str(struct json_object *o, const char *k, const char *v)
{
	json_object_object_add(o, k, v != NULL && *v != '\0' ?
	    json_object_new_string(v) : NULL);
}

/*
 * add_ident: "user": {"id", "unionid"} and "account": {"appid", "openid"}
 * into o, the shape every answer about a person shares. Returns the user
 * object (owned by o), for callers that add to it.
 */
static struct json_object *
add_ident(struct json_object *o, const char *user_id, const char *unionid,
    const char *appid, const char *openid)
{
	struct json_object *u = json_object_new_object(), *a = json_object_new_object();

	set_str(u, "id", user_id);
	set_str(u, "unionid", unionid);
	json_object_object_add(o, "user", u);
	set_str(a, "appid", appid);
	set_str(a, "openid", openid);
	json_object_object_add(o, "account", a);
	return u;
}

/* add_merged_from: "merged_from": the user a merge made go away, if any. */
static void
add_merged_from(struct json_object *o, const struct db_ident *id)
{
	struct json_object *m = json_object_new_array();

	if (id->merged_from[0] != '\0')
		json_object_array_add(m, json_object_new_string(id->merged_from));
	json_object_object_add(o, "merged_from", m);
}

/*
 * tokens_answer: the login (or refresh) answer for id's session: a fresh
 * access token and the refresh token the caller made. Returns the object
 * (the caller puts it), or NULL.
 */
static struct json_object *
tokens_answer(const struct svc *s, const struct db_ident *id, const char *refresh)
{
	struct tok_claims c;
	struct json_object *o = NULL, *u;
	char token[TOK_MAX];
	int64_t now = (int64_t)time(NULL);

	memset(&c, 0, sizeof(c));
	snprintf(c.iss, sizeof(c.iss), "%s", s->conf->issuer);
	snprintf(c.sub, sizeof(c.sub), "%s", id->user_id);
	snprintf(c.sid, sizeof(c.sid), "%s", id->session_id);
	snprintf(c.app, sizeof(c.app), "%s", id->appid);
	snprintf(c.oid, sizeof(c.oid), "%s", id->openid);
	snprintf(c.uni, sizeof(c.uni), "%s", id->unionid);
	c.iat = now;
	c.exp = now + s->conf->access_ttl;
	if (tok_seal(s->keys, &c, token, sizeof(token)) == -1 ||
	    (o = json_object_new_object()) == NULL)
		goto out;
	json_object_object_add(o, "access_token", json_object_new_string(token));
	json_object_object_add(o, "token_type", json_object_new_string("Bearer"));
	json_object_object_add(o, "expires_in", json_object_new_int64(s->conf->access_ttl));
	json_object_object_add(o, "refresh_token", json_object_new_string(refresh));
	json_object_object_add(o, "refresh_expires_in",
	    json_object_new_int64(s->conf->refresh_ttl));
	u = add_ident(o, id->user_id, id->unionid, id->appid, id->openid);
	json_object_object_add(u, "created", json_object_new_boolean(id->created));
	add_merged_from(o, id);
out:
	sodium_memzero(token, sizeof(token));
	sodium_memzero(&c, sizeof(c));
	return o;
}

/*
 * A login or refresh answer is made inside its transaction and stored with
 * it, sealed under the data key and bound to the credential that earned it
 * ("login/" or "refresh/" and the credential's hash), so that a retry of
 * the same credential gets the same answer (same session, same tokens) and
 * nothing else ever does.
 */
struct sealer {
	const struct svc *s;
	const char *refresh;            /* the new refresh token */
	char ad[16 + TOK_HASHBYTES * 2 + 1];
	struct json_object *answer;     /* what was sealed, to send after commit */
};

static void
sealer_init(struct sealer *sl, const struct svc *s, const char *refresh,
    const char *kind, const unsigned char hash[TOK_HASHBYTES])
{
	size_t n;

	memset(sl, 0, sizeof(*sl));
	sl->s = s;
	sl->refresh = refresh;
	n = (size_t)snprintf(sl->ad, sizeof(sl->ad), "%s/", kind);
	sodium_bin2hex(sl->ad + n, sizeof(sl->ad) - n, hash, TOK_HASHBYTES);
}

static enum err
seal_answer(void *arg, const struct db_ident *id, struct db_stored *out)
{
	struct sealer *sl = arg;
	const char *text;
	size_t len;

	/* A transaction run again makes the answer again. */
	json_object_put(sl->answer);
	if ((sl->answer = tokens_answer(sl->s, id, sl->refresh)) == NULL ||
	    (text = json_object_to_json_string_length(sl->answer,
	    JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE, &len)) == NULL ||
	    atrest_seal(out->b, sizeof(out->b), &out->len, sl->s->data_keys,
	    (const unsigned char *)text, len, sl->ad) == -1)
		return ERR_INTERNAL;
	return OK;
}

/* send_stored: open a stored answer and send it as it was. */
static enum err
send_stored(struct svc *s, struct req *r, const struct db_stored *st,
    const struct sealer *sl)
{
	struct json_object *o = NULL, *u, *id;
	char *text = NULL;
	size_t len = 0;
	enum err rc = ERR_INTERNAL;

	if (st->len <= ATREST_OVERHEAD || (text = sodium_malloc(st->len)) == NULL)
		goto out;
	if (atrest_open((unsigned char *)text, st->len, &len, s->data_keys, st->b,
	    st->len, sl->ad) == -1) {
		/* Sealed under a data key no longer listed: refuse, never guess. */
		log_warnx("a stored answer does not open (data key removed?)");
		rc = ERR_INVALID_CODE;
		goto out;
	}
	text[len] = '\0';
	if ((o = json_tokener_parse(text)) == NULL)
		goto out;
	if (json_object_object_get_ex(o, "user", &u) &&
	    json_object_object_get_ex(u, "id", &id))
		snprintf(r->user, sizeof(r->user), "%s", json_object_get_string(id));
	http_send_json(r, 200, o);
	rc = OK;
out:
	json_object_put(o);
	if (text != NULL)
		sodium_memzero(text, st->len);
	sodium_free(text);
	return rc;
}

/* What WeChat says about a code, whatever the app's type. Wiped after use. */
struct proof {
	struct wx_session s;            /* mini-program */
	struct wx_oauth oa;             /* official account, website, mobile */
	struct wx_profile pr;           /* sns/userinfo, with snsapi_userinfo */
	struct db_profile stored;       /* what of it the store keeps */
	unsigned char sealed[SEALED_MAX];
};

/*
 * proof_get / proof_put: the worker's one guarded buffer for a proof
 * (sodium_malloc: guard pages, locked, never swapped), made at its first
 * login and kept for the worker's life: a sodium_malloc per request cost
 * ten system calls and a TLB shootdown. A worker serves one request at a
 * time; proof_put wipes the buffer when the request is done with it.
 */
static struct proof *proof_buf;

/* stored_profile: what of WeChat's userinfo the store keeps. */
static const struct db_profile *
stored_profile(const struct wx_profile *w, struct db_profile *out)
{
	memcpy(out->nickname, w->nickname, sizeof(out->nickname));
	memcpy(out->avatar_url, w->avatar_url, sizeof(out->avatar_url));
	out->gender = w->gender;
	memcpy(out->country, w->country, sizeof(out->country));
	memcpy(out->province, w->province, sizeof(out->province));
	memcpy(out->city, w->city, sizeof(out->city));
	memcpy(out->language, w->language, sizeof(out->language));
	return out;
}

static struct proof *
proof_get(void)
{
	if (proof_buf == NULL)
		proof_buf = sodium_malloc(sizeof(*proof_buf));
	return proof_buf;
}

static void
proof_put(struct proof *p)
{
	if (p != NULL)
		sodium_memzero(p, sizeof(*p));
}

/*
 * prove: ask WeChat who the code belongs to and fill in's account fields
 * (pointing into p). A mini-program's session_key is sealed at once; an
 * OAuth grant with snsapi_userinfo also brings the profile. An OAuth
 * "snapshot" visitor is refused: it is not a person's account.
 */
static enum err
prove(struct svc *s, const struct conf_app *app,
    const char *code, struct proof *p, struct db_login *in)
{
	char ad[APPID_MAX + OPENID_MAX + 2];
	size_t sealed_len = 0;
	enum err rc = ERR_INTERNAL;

	switch (app->type) {
	case APP_MINIPROGRAM:
		if ((rc = wx_code2session(s->wx, app, code, &p->s)) != OK)
			return rc;
		snprintf(ad, sizeof(ad), "%s/%s", app->appid, p->s.openid);
		if (atrest_seal(p->sealed, sizeof(p->sealed), &sealed_len, s->data_keys,
		    (const unsigned char *)p->s.session_key, strlen(p->s.session_key), ad) == -1)
			return ERR_INTERNAL;
		in->openid = p->s.openid;
		in->unionid = p->s.unionid;
		in->sealed_key = p->sealed;
		in->sealed_len = sealed_len;
		return OK;
	case APP_OFFICIAL_ACCOUNT:
	case APP_WEBSITE:
	case APP_MOBILE:
		if ((rc = wx_oauth_exchange(s->wx, app, code, &p->oa)) != OK)
			return rc;
		if (p->oa.snapshot)
			return ERR_SNAPSHOT_USER;
		if (strstr(p->oa.scope, "snsapi_userinfo") != NULL) {
			/* The profile is a bonus: without it the login still
			 * stands on the openid. */
			if (wx_oauth_userinfo(s->wx, &p->oa, &p->pr) == OK) {
				in->profile = stored_profile(&p->pr, &p->stored);
				if (p->oa.unionid[0] == '\0')
					snprintf(p->oa.unionid, sizeof(p->oa.unionid), "%s", p->pr.unionid);
			} else {
				log_warnx("login: sns/userinfo failed; going on without the profile");
			}
		}
		sodium_memzero(p->oa.access_token, sizeof(p->oa.access_token));
		in->openid = p->oa.openid;
		in->unionid = p->oa.unionid;
		return OK;
	}
	return rc;
}

/*
 * login_input: what every code-carrying request shares: the app and the
 * code's hashes (keyed, tok.h, so the table of seen codes reveals nothing;
 * scoped by the appid, so two apps' codes never collide). Returns the app
 * or NULL.
 */
static const struct conf_app *
login_input(struct svc *s, struct req *r, const char *appid, const char *code,
    struct db_login *in, struct tok_hashes *hash)
{
	const struct conf_app *app;

	if ((app = conf_app_find(s->conf, appid)) == NULL)
		return NULL;
	snprintf(r->appid, sizeof(r->appid), "%s", app->appid);
	tok_hash(s->hash_keys, TOK_H_LOGIN_CODE, app->appid, code, hash);
	memset(in, 0, sizeof(*in));
	in->appid = app->appid;
	in->code_hash = hash->h[0];
	in->refresh_ttl = s->conf->refresh_ttl;
	in->ip = r->remote_addr;
	in->user_agent = r->user_agent;
	in->request_id = r->id;
	in->signup_closed = app->signup_closed != 0;
	return app;
}

/*
 * send_fresh: the answer a transaction just committed (sealer.answer) goes
 * out; the user id goes to the log line.
 */
static enum err
send_fresh(struct req *r, const struct db_ident *id, struct sealer *sl)
{
	if (sl->answer == NULL)
		return ERR_INTERNAL;
	snprintf(r->user, sizeof(r->user), "%s", id->user_id);
	http_send_json(r, 200, sl->answer);
	return OK;
}

/*
 * code_login: the login of code in appid. One code goes to WeChat once, and
 * opens one session: a second request with the same code waits on the lock
 * while the first is in flight, then gets the very answer the first
 * produced, if it comes within login_replay_window (a client retrying a
 * lost answer); later, or after a link used the code, it gets invalid_code.
 * A code WeChat refused leaves nothing stored, and asking again gets the
 * same refusal. With send the answer goes out; without (the web login's
 * callback) it is only stored with the code's row, whose hash lands in
 * code_hash, for a ticket to fetch.
 */
enum err
login_code(struct svc *s, struct req *r, const char *appid, const char *code, bool send,
    unsigned char code_hash[TOK_HASHBYTES])
{
	const struct conf_app *app;
	unsigned char rhash[TOK_HASHBYTES];
	struct tok_hashes hash;
	char refresh[TOK_REFRESH_STR];
	struct proof *p = NULL;
	struct db_code *seen = NULL;
	struct db_login in;
	struct db_ident id;
	struct db_answer ans;
	struct sealer sl;
	enum err rc = ERR_INTERNAL;

	memset(&sl, 0, sizeof(sl));
	if ((app = login_input(s, r, appid, code, &in, &hash)) == NULL)
		return appid == NULL && s->conf->napps > 1 ? http_fail(r, ERR_UNKNOWN_APP,
		    "%zu apps are configured: send field 'appid'", s->conf->napps) :
		    ERR_UNKNOWN_APP;
	if (tok_refresh_new(refresh, sizeof(refresh), rhash) == -1 ||
	    (p = proof_get()) == NULL ||
	    (seen = malloc(sizeof(*seen))) == NULL)
		goto out;
	memcpy(code_hash, hash.h[0], TOK_HASHBYTES);
	sealer_init(&sl, s, refresh, "login", hash.h[0]);
	ans.seal = seal_answer;
	ans.arg = &sl;
	in.refresh_hash = rhash;
	in.web = !send;
	in.answer = &ans;
	if ((rc = db_code_lock(s->db, &hash, seen)) != OK)
		goto out;
	/* The stored answer is for a client repeating its own POST: never for
	 * a code that travelled in a URL (the callback's), and the callback
	 * itself takes no code seen before. */
	if (seen->seen) {
		rc = ERR_INVALID_CODE;
		if (send && !seen->web && seen->answer.len > 0 &&
		    seen->age <= s->conf->login_replay_window)
			rc = send_stored(s, r, &seen->answer, &sl);
	} else if ((rc = prove(s, app, code, p, &in)) == OK &&
	    (rc = db_login(s->db, &in, &id)) == OK) {
		rc = send ? send_fresh(r, &id, &sl) : OK;
		if (!send)
			snprintf(r->user, sizeof(r->user), "%s", id.user_id);
	}
	db_code_unlock(s->db);
out:
	json_object_put(sl.answer);
	proof_put(p);
	free(seen);
	sodium_memzero(refresh, sizeof(refresh));
	return rc;
}

void
login_bind_hashes(const struct svc *s, const char *b, struct tok_hashes *out)
{
	tok_hash(s->hash_keys, TOK_H_WEB_BIND, "", b, out);
}

/*
 * ticket_login: a web login's ticket (one use, OAUTH_TICKET_TTL seconds)
 * traded for the answer its callback stored, by the browser that started
 * that login only: its binding cookie must hash to what the ticket keeps
 * (compared in constant time). A ticket presented without it is used up
 * all the same: one seen in a log or sent in a link is worth nothing.
 */
enum err
login_ticket(struct svc *s, struct req *r, const char *ticket)
{
	unsigned char th[TOK_HASHBYTES], code_hash[TOK_HASHBYTES], want[TOK_HASHBYTES];
	struct tok_hashes have, have_scan;
	char bind[OAUTH_BIND_STR];
	struct db_stored *st;
	struct sealer sl;
	enum err rc;

	if (tok_refresh_hash(ticket, th) == -1)
		return http_fail(r, ERR_INVALID_CODE, "the ticket is invalid, expired or used");
	if ((st = malloc(sizeof(*st))) == NULL)
		return ERR_INTERNAL;
	have.n = have_scan.n = 0;
	if (http_cookie(r, OAUTH_BIND_COOKIE, bind, sizeof(bind)) == 1 &&
	    strlen(bind) == OAUTH_BIND_STR - 1)
		login_bind_hashes(s, bind, &have);
	/* A PC scan login's ticket is bound to its own cookie. */
	if (http_cookie(r, SCAN_BIND_COOKIE, bind, sizeof(bind)) == 1 &&
	    strlen(bind) == OAUTH_BIND_STR - 1)
		login_bind_hashes(s, bind, &have_scan);
	rc = db_ticket_take(s->db, th, OAUTH_TICKET_TTL, code_hash, want, st);
	if (rc == ERR_NOT_FOUND)
		rc = http_fail(r, ERR_INVALID_CODE, "the ticket is invalid, expired or used");
	if (rc == OK && !tok_hash_is(&have, want) && !tok_hash_is(&have_scan, want))
		rc = http_fail(r, ERR_INVALID_CODE, "the ticket belongs to the browser that "
		    "started the login (its wxauth_bind cookie); it is used up now");
	if (rc == OK) {
		(void)http_header(r, "Set-Cookie", OAUTH_BIND_COOKIE "=; Path=/v1/login; "
		    "Max-Age=0; HttpOnly; Secure; SameSite=Lax");
		sealer_init(&sl, s, NULL, "login", code_hash);
		rc = send_stored(s, r, st, &sl);
	}
	sodium_memzero(bind, sizeof(bind));
	free(st);
	return rc;
}

enum err
login_scan_confirm(struct svc *s, struct req *r, const unsigned char *id_hash,
    const unsigned char *code_hash, const struct tok_claims *who)
{
	unsigned char rhash[TOK_HASHBYTES];
	char refresh[TOK_REFRESH_STR];
	struct db_answer ans;
	struct db_login in;
	struct db_ident id;
	struct sealer sl;
	enum err rc = ERR_INTERNAL;

	memset(&in, 0, sizeof(in));
	memset(&sl, 0, sizeof(sl));
	if (tok_refresh_new(refresh, sizeof(refresh), rhash) == -1)
		goto out;
	/* The answer is sealed as a web login's: the ticket fetches it by
	 * code_hash, and nothing else ever opens it. */
	sealer_init(&sl, s, refresh, "login", code_hash);
	ans.seal = seal_answer;
	ans.arg = &sl;
	in.appid = who->app;
	in.openid = who->oid;
	in.code_hash = code_hash;
	in.refresh_hash = rhash;
	in.refresh_ttl = s->conf->refresh_ttl;
	in.answer = &ans;
	in.ip = r->remote_addr;
	in.user_agent = r->user_agent;
	in.request_id = r->id;
	in.web = true;
	in.via = "scan";
	if ((rc = db_scan_confirm(s->db, id_hash, &in, &id)) == OK) {
		snprintf(r->user, sizeof(r->user), "%s", id.user_id);
		http_send_json_text(r, 200, "{\"status\":\"confirmed\"}",
		    strlen("{\"status\":\"confirmed\"}"));
	}
out:
	json_object_put(sl.answer);
	sodium_memzero(refresh, sizeof(refresh));
	return rc;
}

enum err
login_link(struct svc *s, struct req *r, const char *appid, const char *code,
    const char *user_id)
{
	const struct conf_app *app;
	struct tok_hashes hash;
	struct json_object *o = NULL;
	struct proof *p = NULL;
	struct db_code *seen = NULL;
	struct db_login in;
	struct db_ident id;
	bool already = false;
	enum err rc = ERR_INTERNAL;

	if ((app = login_input(s, r, appid, code, &in, &hash)) == NULL)
		return ERR_UNKNOWN_APP;
	if ((p = proof_get()) == NULL || (seen = malloc(sizeof(*seen))) == NULL)
		goto out;
	if ((rc = db_code_lock(s->db, &hash, seen)) != OK)
		goto out;
	/* A code seen before proves nothing: whoever saw it used (a log, a
	 * shared phone) could otherwise pull its owner into their own user. */
	if (seen->seen)
		rc = ERR_INVALID_CODE;
	else if ((rc = prove(s, app, code, p, &in)) == OK)
		rc = db_link(s->db, user_id, &in, &id, &already);
	db_code_unlock(s->db);
	if (rc != OK)
		goto out;
	rc = ERR_INTERNAL;
	if ((o = json_object_new_object()) == NULL)
		goto out;
	add_ident(o, id.user_id, id.unionid, id.appid, id.openid);
	json_object_object_add(o, "linked", json_object_new_boolean(!already));
	add_merged_from(o, &id);
	snprintf(r->user, sizeof(r->user), "%s", id.user_id);
	http_send_json(r, 200, o);
	rc = OK;
out:
	json_object_put(o);
	proof_put(p);
	free(seen);
	return rc;
}

enum err
login_refresh(struct svc *s, struct req *r, const char *refresh_token)
{
	unsigned char old[TOK_HASHBYTES], rhash[TOK_HASHBYTES];
	char refresh[TOK_REFRESH_STR];
	struct db_stored *stored = NULL;
	struct db_refresh in;
	struct db_ident id;
	struct db_answer ans;
	struct sealer sl;
	enum err rc = ERR_INTERNAL;

	memset(&sl, 0, sizeof(sl));
	if (tok_refresh_hash(refresh_token, old) == -1)
		return ERR_INVALID_TOKEN;
	if (tok_refresh_new(refresh, sizeof(refresh), rhash) == -1 ||
	    (stored = malloc(sizeof(*stored))) == NULL)
		goto out;
	sealer_init(&sl, s, refresh, "refresh", old);
	ans.seal = seal_answer;
	ans.arg = &sl;
	memset(&in, 0, sizeof(in));
	in.old_hash = old;
	in.new_hash = rhash;
	in.ttl = s->conf->refresh_ttl;
	in.grace = s->conf->refresh_reuse_grace;
	in.request_id = r->id;
	in.answer = &ans;
	in.stored = stored;
	rc = db_refresh(s->db, &in, &id);
	if (rc == ERR_SESSION_REVOKED && id.session_id[0] != '\0')
		log_info("refresh refused: session %s is revoked", id.session_id);
	if (rc != OK)
		goto out;
	snprintf(r->appid, sizeof(r->appid), "%s", id.appid);
	/* A retry within the grace: the answer the first presentation got. */
	rc = in.replayed ? send_stored(s, r, stored, &sl) : send_fresh(r, &id, &sl);
out:
	json_object_put(sl.answer);
	free(stored);
	sodium_memzero(refresh, sizeof(refresh));
	return rc;
}
