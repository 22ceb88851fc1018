/*
 * wx.c - WeChat's server API over one reused libcurl handle.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <curl/curl.h>
#include <json-c/json.h>
#include <sodium.h>

#include "codec.h"
#include "log.h"
#include "metrics.h"
#include "wx.h"
#include "wxdata.h"

#define WX_BODY_MAX (64 * 1024)         /* no WeChat answer we use is larger */
#define WX_URL_MAX 2048
#define WX_BUSY_PAUSE_MS 200

struct wx {
	CURL *curl;
	const struct conf *conf;
	char errbuf[CURL_ERROR_SIZE];
	long errcode;           /* of the last answer, 0 when none */
};

#define WX_IMAGE_MAX (1024 * 1024)      /* a mini-program code image */

struct buf {
	size_t len, max;
	int overflow;
	char data[];                    /* max bytes and a NUL */
};

/* The one table: WeChat errcode -> our error (WECHAT.md, Error codes). */
static const struct {
	long code;
	enum err e;
	int loud;       /* an operator must act: log it as a warning */
} errcodes[] = {
	{0, OK, 0},
	{40029, ERR_INVALID_CODE, 0},   /* invalid code */
	{40163, ERR_INVALID_CODE, 0},   /* code already used */
	{42003, ERR_INVALID_CODE, 0},   /* oauth code expired */
	{40226, ERR_RISKY_USER, 0},     /* high-risk user */
	{45011, ERR_UPSTREAM_RATE_LIMITED, 0},  /* minute quota */
	{45009, ERR_UPSTREAM_RATE_LIMITED, 1},  /* daily quota */
	{-1, ERR_UPSTREAM_UNAVAILABLE, 0},      /* system busy */
	{40001, ERR_WX_TOKEN_INVALID, 0},       /* access token invalid */
	{40014, ERR_WX_TOKEN_INVALID, 0},       /* access token not latest */
	{42001, ERR_WX_TOKEN_INVALID, 0},       /* access token expired */
	{40013, ERR_UPSTREAM_UNAVAILABLE, 1},   /* invalid appid */
	{40125, ERR_UPSTREAM_UNAVAILABLE, 1},   /* invalid secret */
	{41002, ERR_UPSTREAM_UNAVAILABLE, 1},   /* appid missing */
	{41004, ERR_UPSTREAM_UNAVAILABLE, 1},   /* secret missing */
	{40164, ERR_UPSTREAM_UNAVAILABLE, 1},   /* IP not whitelisted */
	{61004, ERR_UPSTREAM_UNAVAILABLE, 1},   /* IP not whitelisted */
	{40243, ERR_UPSTREAM_UNAVAILABLE, 1},   /* secret frozen */
	{87009, ERR_SESSION_KEY_STALE, 0},      /* session_key not current */
	{48001, ERR_UPSTREAM_UNAVAILABLE, 1},   /* API not authorised */
};

enum err
wx_errcode(long code)
{
	size_t i;

	for (i = 0; i < sizeof(errcodes) / sizeof(errcodes[0]); i++) {
		if (errcodes[i].code != code)
			continue;
		if (errcodes[i].loud)
			log_warnx("wechat: errcode %ld: check the app's appid, secret, "
			    "IP whitelist and quota", code);
		return errcodes[i].e;
	}
	log_warnx("wechat: unexpected errcode %ld", code);
	return ERR_UPSTREAM_UNAVAILABLE;
}

static size_t
on_data(char *p, size_t size, size_t n, void *arg)
{
	struct buf *b = arg;
	size_t len = size * n;

	if (len > b->max - b->len) {
		b->overflow = 1;
		return 0;       /* makes curl fail with CURLE_WRITE_ERROR */
	}
	memcpy(b->data + b->len, p, len);
	b->len += len;
	b->data[b->len] = '\0';
	return len;
}

struct wx *
wx_new(const struct conf *c)
{
	struct wx *w = calloc(1, sizeof(*w));

	if (w == NULL)
		return NULL;
	if ((w->curl = curl_easy_init()) == NULL) {
		free(w);
		return NULL;
	}
	w->conf = c;
	return w;
}

void
wx_free(struct wx *w)
{
	if (w == NULL)
		return;
	curl_easy_cleanup(w->curl);
	free(w);
}

/* num_field: an integer member of o, also when WeChat sends it as a
 * string of digits; absent when it is missing, bad when it is something
 * else. */
static long
num_field(struct json_object *o, const char *name, long absent, long bad)
{
	struct json_object *v;
	const char *s;
	char *end;
	long n;

	if (!json_object_object_get_ex(o, name, &v) || v == NULL)
		return absent;
	if (json_object_is_type(v, json_type_int))
		return (long)json_object_get_int64(v);
	if (json_object_is_type(v, json_type_string)) {
		s = json_object_get_string(v);
		n = strtol(s, &end, 10);
		if (*s != '\0' && *end == '\0')
			return n;
	}
	return bad;
}

/* errcode: absent is success; one that is not a number (-1000) is an
 * errcode we do not know: treated as unavailable. */
static long
get_errcode(struct json_object *o)
{
	return num_field(o, "errcode", 0, -1000);
}

enum err
wx_answer(const char *text, long status, long *errcode, struct json_object **out)
{
	struct json_object *o;
	enum err rc;

	*out = NULL;
	*errcode = 0;
	/* Never branch on the content type: WeChat sends JSON as text/plain. */
	o = json_tokener_parse(text);
	if (o == NULL || !json_object_is_type(o, json_type_object)) {
		json_object_put(o);
		return ERR_UPSTREAM_UNAVAILABLE;
	}
	*errcode = get_errcode(o);
	if ((rc = wx_errcode(*errcode)) == OK && status != 200)
		rc = ERR_UPSTREAM_UNAVAILABLE;
	if (rc != OK) {
		json_object_put(o);
		return rc;
	}
	*out = o;
	return OK;
}

/*
 * exchange: GET url (or POST body as JSON when body is non-NULL); the
 * answer (at most max bytes) into *out, malloc'd (the caller wipes and frees
 * it with buf_free), and its HTTP status. OK, or a transport error
 * (ERR_UPSTREAM_TIMEOUT, ERR_UPSTREAM_UNAVAILABLE), logged. api names the
 * call in logs; took_us is how long it took.
 */
static enum err
exchange(struct wx *w, const char *api, const char *url, const char *body, size_t max,
    struct buf **out, long *status, curl_off_t *took_us)
{
	struct buf *b;
	struct curl_slist *hdrs = NULL;
	enum err rc = ERR_UPSTREAM_UNAVAILABLE;
	CURLcode cc;

	*status = 0;
	/* Not zeroed: on_data writes what it keeps, buf_free wipes that. */
	if ((b = malloc(sizeof(*b) + max + 1)) == NULL) {
		*out = NULL;
		return ERR_INTERNAL;
	}
	b->len = 0;
	b->max = max;
	b->overflow = 0;
	b->data[0] = '\0';
	*out = b;
	curl_easy_reset(w->curl);
	w->errbuf[0] = '\0';
	curl_easy_setopt(w->curl, CURLOPT_URL, url);
	curl_easy_setopt(w->curl, CURLOPT_ERRORBUFFER, w->errbuf);
	curl_easy_setopt(w->curl, CURLOPT_WRITEFUNCTION, on_data);
	curl_easy_setopt(w->curl, CURLOPT_WRITEDATA, b);
	curl_easy_setopt(w->curl, CURLOPT_CONNECTTIMEOUT_MS, w->conf->wechat_connect_timeout_ms);
	curl_easy_setopt(w->curl, CURLOPT_TIMEOUT_MS, w->conf->wechat_timeout_ms);
	curl_easy_setopt(w->curl, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(w->curl, CURLOPT_SSL_VERIFYPEER, 1L);
	curl_easy_setopt(w->curl, CURLOPT_SSL_VERIFYHOST, 2L);
	curl_easy_setopt(w->curl, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(w->curl, CURLOPT_FOLLOWLOCATION, 0L);
	curl_easy_setopt(w->curl, CURLOPT_USERAGENT, "wxauth/1");
	if (w->conf->wechat_ca_file[0] != '\0')
		curl_easy_setopt(w->curl, CURLOPT_CAINFO, w->conf->wechat_ca_file);
	if (body != NULL) {
		hdrs = curl_slist_append(hdrs, "Content-Type: application/json");
		curl_easy_setopt(w->curl, CURLOPT_HTTPHEADER, hdrs);
		curl_easy_setopt(w->curl, CURLOPT_POSTFIELDS, body);
	}
	cc = curl_easy_perform(w->curl);
	curl_easy_getinfo(w->curl, CURLINFO_TOTAL_TIME_T, took_us);
	if (cc == CURLE_OK) {
		curl_easy_getinfo(w->curl, CURLINFO_RESPONSE_CODE, status);
		rc = OK;
	} else if (cc == CURLE_OPERATION_TIMEDOUT) {
		log_warnx("wechat: %s: timed out", api);
		rc = ERR_UPSTREAM_TIMEOUT;
	} else {
		log_warnx("wechat: %s: %s", api, b->overflow ? "answer too large" :
		    w->errbuf[0] ? w->errbuf : curl_easy_strerror(cc));
	}
	curl_slist_free_all(hdrs);
	return rc;
}

static void
buf_free(struct buf *b)
{
	if (b != NULL) {
		/* What came (its secrets) and its NUL, not the whole capacity. */
		sodium_memzero(b->data, b->len + 1);
		sodium_memzero(b, sizeof(*b));
		free(b);
	}
}

/*
 * call: exchange, then the answer as a JSON object into *out (caller puts
 * it) with its errcode mapped.
 */
static enum err
call(struct wx *w, const char *api, const char *url, const char *body,
    struct json_object **out)
{
	struct buf *b = NULL;
	curl_off_t took_us = 0;
	long status = 0;
	enum err rc;

	*out = NULL;
	w->errcode = 0;
	if ((rc = exchange(w, api, url, body, WX_BODY_MAX, &b, &status, &took_us)) == OK &&
	    (rc = wx_answer(b->data, status, &w->errcode, out)) == ERR_UPSTREAM_UNAVAILABLE &&
	    w->errcode == 0)
		log_warnx("wechat: %s: HTTP %ld, %zu bytes: not a JSON object, or not 200",
		    api, status, b->len);
	metrics_wechat_call(api, rc, w->errcode, (double)took_us / 1e6);
	buf_free(b);
	return rc;
}

/* field: copy string field name of o into dst; -1 when absent, not a
 * string, empty when required, or too long. */
static int
field(struct json_object *o, const char *name, char *dst, size_t dstlen, int required)
{
	struct json_object *v;
	const char *s;
	size_t n;

	dst[0] = '\0';
	if (!json_object_object_get_ex(o, name, &v) || v == NULL ||
	    !json_object_is_type(v, json_type_string))
		return required ? -1 : 0;
	s = json_object_get_string(v);
	n = strlen(s);
	if (n >= dstlen || (required && n == 0))
		return -1;
	memcpy(dst, s, n + 1);
	return 0;
}

static int
url_add(char *url, size_t len, size_t *off, CURL *c, const char *name, const char *value)
{
	char *esc = curl_easy_escape(c, value, 0);
	int n;

	if (esc == NULL)
		return -1;
	n = snprintf(url + *off, len - *off, "%s%s=%s", *off > 0 &&
	    strchr(url, '?') != NULL ? "&" : "?", name, esc);
	curl_free(esc);
	if (n < 0 || (size_t)n >= len - *off)
		return -1;
	*off += (size_t)n;
	return 0;
}

static void
pause_ms(long ms)
{
	struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};

	nanosleep(&ts, NULL);
}

/*
 * url_make: base URL + path + "?" + the escaped name=value pairs of kv (a
 * NULL-terminated list of names and values). Returns 0, or -1 when it does
 * not fit. The URL may carry a secret: never log it, wipe it after use.
 */
static int
url_make(struct wx *w, char *url, size_t len, const char *path,
    const char *const *kv)
{
	size_t off;
	int n;

	n = snprintf(url, len, "%s%s", w->conf->wechat_base_url, path);
	if (n < 0 || (size_t)n >= len)
		return -1;
	off = (size_t)n;
	for (; kv[0] != NULL; kv += 2)
		if (url_add(url, len, &off, w->curl, kv[0], kv[1]) == -1)
			return -1;
	return 0;
}

/*
 * call_busy: call() for an exchange of something the person gave once (a
 * login code, a phone code). WeChat's -1 is "system busy": the code was
 * not consumed, so one retry after a pause is safe (WECHAT.md). Nothing
 * else is retried, nowhere else.
 */
static enum err
call_busy(struct wx *w, const char *api, const char *url, const char *body,
    struct json_object **o)
{
	enum err rc = call(w, api, url, body, o);

	if (rc == ERR_UPSTREAM_UNAVAILABLE && w->errcode == -1) {
		pause_ms(WX_BUSY_PAUSE_MS);
		rc = call(w, api, url, body, o);
	}
	return rc;
}

enum err
wx_code2session(struct wx *w, const struct conf_app *app, const char *code,
    struct wx_session *out)
{
	const char *const kv[] = {"appid", app->appid, "secret", app->secret,
	    "js_code", code, "grant_type", "authorization_code", NULL};
	char url[WX_URL_MAX];
	unsigned char raw[32];
	size_t rawlen = 0;
	struct json_object *o = NULL;
	enum err rc = ERR_INTERNAL;

	memset(out, 0, sizeof(*out));
	if (url_make(w, url, sizeof(url), "/sns/jscode2session", kv) == -1)
		goto out;
	if ((rc = call_busy(w, "jscode2session", url, NULL, &o)) != OK)
		goto out;
	rc = ERR_UPSTREAM_UNAVAILABLE;
	if (field(o, "openid", out->openid, sizeof(out->openid), 1) == -1 ||
	    field(o, "unionid", out->unionid, sizeof(out->unionid), 0) == -1 ||
	    field(o, "session_key", out->session_key, sizeof(out->session_key), 1) == -1) {
		log_warnx("wechat: jscode2session: answer lacks openid or session_key");
		goto out;
	}
	if (codec_unb64(raw, sizeof(raw), &rawlen, out->session_key,
	    strlen(out->session_key)) == -1 || rawlen != 16) {
		log_warnx("wechat: jscode2session: session_key is not 16 bytes of base64");
		goto out;
	}
	rc = OK;
out:
	sodium_memzero(url, sizeof(url));
	sodium_memzero(raw, sizeof(raw));
	json_object_put(o);
	if (rc != OK)
		sodium_memzero(out, sizeof(*out));
	return rc;
}

enum err
wx_oauth_exchange(struct wx *w, const struct conf_app *app, const char *code,
    struct wx_oauth *out)
{
	const char *const kv[] = {"appid", app->appid, "secret", app->secret,
	    "code", code, "grant_type", "authorization_code", NULL};
	char url[WX_URL_MAX];
	struct json_object *o = NULL;
	enum err rc = ERR_INTERNAL;

	memset(out, 0, sizeof(*out));
	if (url_make(w, url, sizeof(url), "/sns/oauth2/access_token", kv) == -1)
		goto out;
	if ((rc = call_busy(w, "oauth2_access_token", url, NULL, &o)) != OK)
		goto out;
	rc = ERR_UPSTREAM_UNAVAILABLE;
	if (field(o, "openid", out->openid, sizeof(out->openid), 1) == -1 ||
	    field(o, "unionid", out->unionid, sizeof(out->unionid), 0) == -1 ||
	    field(o, "scope", out->scope, sizeof(out->scope), 0) == -1 ||
	    field(o, "access_token", out->access_token, sizeof(out->access_token), 1) == -1) {
		log_warnx("wechat: oauth2/access_token: answer lacks openid or access_token");
		goto out;
	}
	out->snapshot = num_field(o, "is_snapshotuser", 0, 0) == 1;
	rc = OK;
out:
	sodium_memzero(url, sizeof(url));
	json_object_put(o);
	if (rc != OK)
		sodium_memzero(out, sizeof(*out));
	return rc;
}

enum err
wx_oauth_userinfo(struct wx *w, const struct wx_oauth *oa, struct wx_profile *out)
{
	const char *const kv[] = {"access_token", oa->access_token,
	    "openid", oa->openid, "lang", "zh_CN", NULL};
	char url[WX_URL_MAX], openid[OPENID_MAX + 1];
	struct json_object *o = NULL;
	enum err rc = ERR_INTERNAL;

	memset(out, 0, sizeof(*out));
	out->gender = -1;
	if (url_make(w, url, sizeof(url), "/sns/userinfo", kv) == -1)
		goto out;
	if ((rc = call(w, "userinfo", url, NULL, &o)) != OK)
		goto out;
	rc = ERR_UPSTREAM_UNAVAILABLE;
	/* Profile fields are user data of any length: too long is dropped,
	 * not an error; only the openid must be there and match. */
	if (field(o, "openid", openid, sizeof(openid), 1) == -1 ||
	    strcmp(openid, oa->openid) != 0) {
		log_warnx("wechat: userinfo: answer is for another openid");
		goto out;
	}
	(void)field(o, "nickname", out->nickname, sizeof(out->nickname), 0);
	(void)field(o, "headimgurl", out->avatar_url, sizeof(out->avatar_url), 0);
	(void)field(o, "country", out->country, sizeof(out->country), 0);
	(void)field(o, "province", out->province, sizeof(out->province), 0);
	(void)field(o, "city", out->city, sizeof(out->city), 0);
	(void)field(o, "language", out->language, sizeof(out->language), 0);
	(void)field(o, "unionid", out->unionid, sizeof(out->unionid), 0);
	out->gender = (int)num_field(o, "sex", -1, -1);
	if (out->gender < 0 || out->gender > 2)
		out->gender = -1;
	rc = OK;
out:
	sodium_memzero(url, sizeof(url));
	json_object_put(o);
	return rc;
}

/* ---- the app access token, phone numbers, checksession ---- */

/* wipe_json: wipe the text json-c holds for the string member name of o
 * (a secret about to be freed). */
static void
wipe_json(struct json_object *o, const char *name)
{
	struct json_object *v;

	if (o != NULL && json_object_object_get_ex(o, name, &v) &&
	    json_object_is_type(v, json_type_string))
		sodium_memzero((char *)json_object_get_string(v),
		    (size_t)json_object_get_string_len(v));
}

enum err
wx_stable_token(struct wx *w, const struct conf_app *app, int force,
    char *token, size_t tokenlen, long *expires_in)
{
	const char *const none[] = {NULL};
	char url[WX_URL_MAX];
	struct json_object *req = NULL, *o = NULL, *v;
	const char *body = NULL;
	enum err rc = ERR_INTERNAL;

	token[0] = '\0';
	*expires_in = 0;
	/* stable_token only: cgi-bin/token would invalidate the token every
	 * other worker and host is using. */
	if (url_make(w, url, sizeof(url), "/cgi-bin/stable_token", none) == -1 ||
	    (req = json_object_new_object()) == NULL)
		goto out;
	json_object_object_add(req, "grant_type", json_object_new_string("client_credential"));
	json_object_object_add(req, "appid", json_object_new_string(app->appid));
	json_object_object_add(req, "secret", json_object_new_string(app->secret));
	json_object_object_add(req, "force_refresh", json_object_new_boolean(force != 0));
	if ((body = json_object_to_json_string_ext(req, JSON_C_TO_STRING_PLAIN)) == NULL)
		goto out;
	if ((rc = call(w, "stable_token", url, body, &o)) != OK)
		goto out;
	rc = ERR_UPSTREAM_UNAVAILABLE;
	if (field(o, "access_token", token, tokenlen, 1) == -1 ||
	    !json_object_object_get_ex(o, "expires_in", &v) ||
	    !json_object_is_type(v, json_type_int) ||
	    json_object_get_int64(v) < 1 || json_object_get_int64(v) > 86400) {
		log_warnx("wechat: stable_token: answer lacks access_token or expires_in");
		goto out;
	}
	*expires_in = (long)json_object_get_int64(v);
	rc = OK;
out:
	if (body != NULL)
		sodium_memzero((char *)body, strlen(body));
	wipe_json(req, "secret");
	wipe_json(o, "access_token");
	json_object_put(req);
	json_object_put(o);
	if (rc != OK)
		sodium_memzero(token, tokenlen);
	return rc;
}

enum err
wx_phone_number(struct wx *w, const struct conf_app *app, const char *access_token,
    const char *code, struct wxdata_phone *out)
{
	const char *const kv[] = {"access_token", access_token, NULL};
	char url[WX_URL_MAX];
	struct json_object *req = NULL, *o = NULL, *info, *wm, *v;
	const char *body;
	enum err rc = ERR_INTERNAL;

	memset(out, 0, sizeof(*out));
	if (url_make(w, url, sizeof(url), "/wxa/business/getuserphonenumber", kv) == -1 ||
	    (req = json_object_new_object()) == NULL)
		goto out;
	json_object_object_add(req, "code", json_object_new_string(code));
	if ((body = json_object_to_json_string_ext(req, JSON_C_TO_STRING_PLAIN)) == NULL)
		goto out;
	if ((rc = call_busy(w, "getuserphonenumber", url, body, &o)) != OK)
		goto out;
	rc = ERR_UPSTREAM_UNAVAILABLE;
	if (!json_object_object_get_ex(o, "phone_info", &info) ||
	    !json_object_is_type(info, json_type_object) ||
	    wxdata_phone_parse(info, out) == -1) {
		log_warnx("wechat: getuserphonenumber: answer lacks a well-formed phone_info");
		goto out;
	}
	/* WeChat stamps the answer with the app it is for. */
	if (json_object_object_get_ex(info, "watermark", &wm) &&
	    json_object_object_get_ex(wm, "appid", &v) &&
	    (!json_object_is_type(v, json_type_string) ||
	    strcmp(json_object_get_string(v), app->appid) != 0)) {
		log_warnx("wechat: getuserphonenumber: answer is for another app");
		rc = ERR_WATERMARK_MISMATCH;
		goto out;
	}
	rc = OK;
out:
	sodium_memzero(url, sizeof(url));
	json_object_put(req);
	json_object_put(o);
	if (rc != OK)
		sodium_memzero(out, sizeof(*out));
	return rc;
}

enum err
wx_checksession(struct wx *w, const char *access_token, const char *openid,
    const char *signature)
{
	const char *const kv[] = {"access_token", access_token, "openid", openid,
	    "signature", signature, "sig_method", "hmac_sha256", NULL};
	char url[WX_URL_MAX];
	struct json_object *o = NULL;
	enum err rc = ERR_INTERNAL;

	if (url_make(w, url, sizeof(url), "/wxa/checksession", kv) == -1)
		goto out;
	rc = call(w, "checksession", url, NULL, &o);
out:
	sodium_memzero(url, sizeof(url));
	json_object_put(o);
	return rc;
}

/* is_image: PNG or JPEG by its first bytes (what getwxacodeunlimit sends). */
static int
is_image(const unsigned char *b, size_t n)
{
	return (n >= 8 && memcmp(b, "\x89PNG\r\n\x1a\n", 8) == 0) ||
	    (n >= 3 && b[0] == 0xff && b[1] == 0xd8 && b[2] == 0xff);
}

enum err
wx_wxacode(struct wx *w, const char *access_token, const char *scene, const char *page,
    const char *env_version, unsigned char **img, size_t *len, const char **ctype)
{
	const char *const kv[] = {"access_token", access_token, NULL};
	char url[WX_URL_MAX];
	struct json_object *req = NULL, *o = NULL;
	struct buf *b = NULL;
	curl_off_t took_us = 0;
	const char *body;
	long status = 0;
	enum err rc = ERR_INTERNAL;

	*img = NULL;
	*len = 0;
	w->errcode = 0;
	if (url_make(w, url, sizeof(url), "/wxa/getwxacodeunlimit", kv) == -1 ||
	    (req = json_object_new_object()) == NULL)
		goto out;
	json_object_object_add(req, "scene", json_object_new_string(scene));
	json_object_object_add(req, "page", json_object_new_string(page));
	/* A page of a trial or development build is not checked against the
	 * released version (WeChat would answer 41030). */
	json_object_object_add(req, "check_path",
	    json_object_new_boolean(strcmp(env_version, "release") == 0));
	json_object_object_add(req, "env_version", json_object_new_string(env_version));
	if ((body = json_object_to_json_string_ext(req, JSON_C_TO_STRING_PLAIN)) == NULL)
		goto out;
	if ((rc = exchange(w, "getwxacodeunlimit", url, body, WX_IMAGE_MAX, &b, &status,
	    &took_us)) != OK)
		goto out;
	/* Success is the image itself, failure a JSON errcode: branch on what
	 * the body is, never on its content type (WECHAT.md). */
	if (status == 200 && is_image((const unsigned char *)b->data, b->len)) {
		if ((*img = malloc(b->len)) == NULL) {
			rc = ERR_INTERNAL;
			goto out;
		}
		memcpy(*img, b->data, b->len);
		*len = b->len;
		*ctype = b->data[0] == '\x89' ? "image/png" : "image/jpeg";
		rc = OK;
	} else if ((rc = wx_answer(b->data, status, &w->errcode, &o)) == OK) {
		rc = ERR_UPSTREAM_UNAVAILABLE;  /* JSON without an error is no image */
	}
	if (w->errcode == 40129 || w->errcode == 40169) {
		log_warnx("wechat: getwxacodeunlimit: scene refused (%ld): a bug of ours",
		    w->errcode);
		rc = ERR_INTERNAL;
	} else if (w->errcode == 41030) {
		log_warnx("wechat: getwxacodeunlimit: page %s is not a page of the %s version "
		    "(41030): set scan_page and scan_env_version", page, env_version);
		rc = ERR_UPSTREAM_UNAVAILABLE;
	} else if (rc == ERR_UPSTREAM_UNAVAILABLE && w->errcode == 0) {
		log_warnx("wechat: getwxacodeunlimit: HTTP %ld, %zu bytes: neither an image "
		    "nor an error", status, b->len);
	}
out:
	metrics_wechat_call("getwxacodeunlimit", rc, w->errcode, (double)took_us / 1e6);
	sodium_memzero(url, sizeof(url));
	json_object_put(req);
	json_object_put(o);
	buf_free(b);
	return rc;
}
