/*
 * profile.c - the user's own data: the profile and its linked accounts;
 * the nickname and avatar a person types in (user-supplied, validated
 * here); the legacy encrypted open data, checked every way WeChat allows
 * (checksession, rawData signature, padding, JSON, watermark, replay)
 * before anything is stored; and phone numbers, from a phone code
 * exchanged with the app's access token or from encrypted data.
 *
 * Phone numbers, session_keys and decrypted data never reach a log line.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <json-c/json.h>
#include <sodium.h>

#include "atrest.h"
#include "codec.h"
#include "db.h"
#include "image.h"
#include "log.h"
#include "metrics.h"
#include "profview.h"
#include "profile.h"
#include "wx.h"
#include "wxdata.h"
#include "wxtoken.h"

#define NICKNAME_MAX 64         /* code points */
#define PLACE_MAX 64            /* code points of country, province, city */
#define LANGUAGE_MAX 16
#define AVATAR_URL_MAX 1024     /* bytes */
#define RAWDATA_MAX 8192
#define IV_MAX 64
#define PHONE_CODE_MAX 128
#define SEALED_MAX (WX_SESSION_KEY_STR + ATREST_OVERHEAD)
/* An avatar never changes under its URL (a new one is a new id). */
#define AVATAR_MAX_AGE 31536000

enum { PATCH_NICKNAME, PATCH_AVATAR_URL };
const struct field profile_patch_fields[] = {
	/* At most 4 bytes a code point; form_text_ok counts them below. */
	[PATCH_NICKNAME] = {"nickname", FT_STRING, FF_TEXT, 1, NICKNAME_MAX * 4},
	[PATCH_AVATAR_URL] = {"avatar_url", FT_STRING, FF_TOKEN, 1, AVATAR_URL_MAX},
	FIELDS_END
};

/* encryptedData and iv are checked as base64 by wxdata_blob_decode, whose
 * message says what a '+' turned into a space means. */
enum { DEC_DATA, DEC_IV, DEC_RAW, DEC_SIGNATURE };
const struct field profile_decrypt_fields[] = {
	[DEC_DATA] = {"encryptedData", FT_STRING, FF_REQUIRED, 1, WXDATA_ENC_MAX},
	[DEC_IV] = {"iv", FT_STRING, FF_REQUIRED, 1, IV_MAX},
	[DEC_RAW] = {"rawData", FT_STRING, 0, 1, RAWDATA_MAX},
	[DEC_SIGNATURE] = {"signature", FT_STRING, FF_TOKEN, 1, IV_MAX},
	FIELDS_END
};

enum { PHONE_CODE, PHONE_DATA, PHONE_IV };
const struct field profile_phone_fields[] = {
	[PHONE_CODE] = {"code", FT_STRING, FF_TOKEN, 1, PHONE_CODE_MAX},
	[PHONE_DATA] = {"encryptedData", FT_STRING, 0, 1, WXDATA_ENC_MAX},
	[PHONE_IV] = {"iv", FT_STRING, 0, 1, IV_MAX},
	FIELDS_END
};

/* An avatar: at most DB_AVATAR_MAX bytes, as padded standard base64 (what
 * wx.getFileSystemManager().readFile gives with encoding "base64"). */
#define AVATAR_B64_MAX ((DB_AVATAR_MAX + 2) / 3 * 4)
enum { AVATAR_IMAGE };
const struct field profile_avatar_fields[] = {
	/* Longer than an avatar may be, so that the handler says 413, not "length". */
	[AVATAR_IMAGE] = {"image", FT_STRING, FF_REQUIRED | FF_TOKEN, 1, HTTP_UPLOAD_MAX},
	FIELDS_END
};
const struct field profile_avatar_param = {"avatar", FT_STRING, FF_UUID, 36, 36};

/* live: a store or look-up that found no user or account means the token
 * names one that is gone (deleted, or merged away and pruned). */
static enum err
live(enum err rc)
{
	return rc == ERR_NOT_FOUND ? ERR_INVALID_TOKEN : rc;
}

/* ---- the profile ---- */

/*
 * app_types: {"APPID": "TYPE", ...} of the configured apps, the text the
 * profile statement reads each account's type from (the configuration's,
 * not the database's). Made once per configuration; NULL when out of
 * memory.
 */
static const char *
app_types(const struct conf *c)
{
	static const struct conf *made_for;
	static char *text;
	struct json_object *o;
	const char *t;
	size_t i;

	if (made_for == c && text != NULL)
		return text;
	free(text);
	text = NULL;
	made_for = NULL;
	if ((o = json_object_new_object()) == NULL)
		return NULL;
	for (i = 0; i < c->napps; i++)
		json_object_object_add(o, c->apps[i].appid,
		    json_object_new_string(conf_app_type_name(c->apps[i].type)));
	if ((t = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN)) != NULL &&
	    (text = strdup(t)) != NULL)
		made_for = c;
	json_object_put(o);
	return text;
}

/*
 * respond_profile: {"user": {...}, "accounts": [{..., "type"}]} of the live
 * user user_id is or was merged into, as PostgreSQL builds it.
 */
static enum err
respond_profile(struct svc *s, struct req *r, const char *user_id)
{
	const char *types = app_types(s->conf), *hit;
	int64_t now = (int64_t)time(NULL);
	char *answer = NULL;
	bool merged = false;
	uint32_t gen;
	size_t len;
	enum err rc;

	if (types == NULL)
		return ERR_INTERNAL;
	/* From the cache only while connected: a change made while this
	 * worker had no connection was never notified to it (profview.h). */
	if (db_ready(s->db) && (hit = profview_get(s->pc, user_id, now, &len)) != NULL) {
		metrics_userinfo_cache(true);
		http_send_json_text(r, 200, hit, len);
		return OK;
	}
	gen = profview_gen(user_id);
	if ((rc = live(db_profile_get(s->db, user_id, types, &answer, &merged))) == OK) {
		len = strlen(answer);
		metrics_userinfo_cache(false);
		/* Another user's answer (user_id was merged away) would not be
		 * dropped when that user changes: not kept. */
		if (!merged)
			profview_put(s->pc, user_id, gen, answer, len, now);
		http_send_json_text(r, 200, answer, len);
	}
	free(answer);
	return rc;
}

enum err
profile_get(struct svc *s, struct req *r, const struct tok_claims *who)
{
	return respond_profile(s, r, who->sub);
}

/*
 * avatar_ok: url is https://HOST[/...] with HOST one of the configured
 * avatar hosts, exactly: no credentials, no port, no characters a browser
 * might read another way. (Printable ASCII without spaces is FF_TOKEN's.)
 */
static int
avatar_ok(const struct conf *c, const char *url)
{
	const char *host;
	size_t n, i;

	if (strncasecmp(url, "https://", 8) != 0 || strpbrk(url, "\"<>\\^`{|}") != NULL)
		return 0;
	host = url + 8;
	n = strcspn(host, "/?#");
	if (n == 0 || memchr(host, '@', n) != NULL || memchr(host, ':', n) != NULL)
		return 0;
	for (i = 0; i < c->navatar_hosts; i++)
		if (strlen(c->avatar_hosts[i]) == n &&
		    strncasecmp(host, c->avatar_hosts[i], n) == 0)
			return 1;
	return 0;
}

enum err
profile_patch(struct svc *s, struct req *r, const struct tok_claims *who)
{
	const char *nick = r->in[PATCH_NICKNAME].s, *url = r->in[PATCH_AVATAR_URL].s;
	enum err rc;

	if (nick == NULL && url == NULL)
		return http_fail(r, ERR_INVALID_REQUEST,
		    "field 'nickname' or field 'avatar_url' is required");
	if (nick != NULL && !form_text_ok(nick, strlen(nick), 1, NICKNAME_MAX))
		return http_fail(r, ERR_INVALID_REQUEST,
		    "field 'nickname' must be 1 to 64 characters of text");
	if (url != NULL && !avatar_ok(s->conf, url))
		return http_fail(r, ERR_INVALID_REQUEST,
		    "field 'avatar_url' must be an https URL on an allowed avatar host");
	if ((rc = live(db_profile_set(s->db, who->sub, nick, url))) != OK)
		return rc;
	return respond_profile(s, r, who->sub);
}

/* ---- open data ---- */

struct checksession_arg {
	const char *openid;
	const char *signature;
};

static enum err
checksession(struct wx *wx, const char *access_token, void *arg)
{
	const struct checksession_arg *a = arg;

	return wx_checksession(wx, access_token, a->openid, a->signature);
}

/* mini_app: the token's app, which must be a mini-program (the only kind
 * with session_keys and phone codes). */
static enum err
mini_app(struct svc *s, const struct tok_claims *who, const struct conf_app **app,
    char *why, size_t whylen)
{
	if ((*app = conf_app_find(s->conf, who->app)) == NULL)
		return ERR_UNKNOWN_APP;
	if ((*app)->type != APP_MINIPROGRAM) {
		snprintf(why, whylen, "this needs a token from a mini-program login");
		return ERR_INVALID_REQUEST;
	}
	return OK;
}

/*
 * open_data: every check of a legacy blob, cheapest and most telling
 * first: the blob's base64, the account's stored session_key, replay,
 * checksession (so a stale key is reported as such, not as a padding
 * error or a signature mismatch), the rawData signature when given, then
 * decryption, JSON and watermark. On OK *data is the decrypted object
 * (the caller puts it), *account_id the token's account and hash the
 * blob's keyed hashes (tok.h: under every listed data key, so that a
 * rotation does not reopen replays). Errors with a message fill why.
 */
static enum err
open_data(struct svc *s, const struct tok_claims *who, const char *enc,
    const char *iv, const char *raw, const char *sig, struct json_object **data,
    long long *account_id, struct tok_hashes *hash, char *why, size_t whylen)
{
	const struct conf_app *app;
	struct wxdata_blob b;
	struct checksession_arg cs;
	unsigned char sealed[SEALED_MAX];
	char sk[WX_SESSION_KEY_STR], hmac[WXDATA_HMAC_HEX], ad[APPID_MAX + OPENID_MAX + 2];
	size_t sealed_len = 0, sklen = 0;
	bool seen = false;
	enum err rc;

	*data = NULL;
	memset(&b, 0, sizeof(b));
	sk[0] = '\0';
	if ((rc = mini_app(s, who, &app, why, whylen)) != OK ||
	    (rc = wxdata_blob_decode(&b, enc, iv, why, whylen)) != OK)
		goto out;
	rc = db_account_key(s->db, who->app, who->oid, account_id, sealed, sizeof(sealed),
	    &sealed_len);
	if (rc == ERR_NOT_FOUND || (rc == OK && sealed_len == 0))
		rc = ERR_SESSION_KEY_STALE;
	if (rc != OK)
		goto out;
	/* Sealed bound to this very account, as login sealed it. */
	snprintf(ad, sizeof(ad), "%s/%s", who->app, who->oid);
	if (atrest_open((unsigned char *)sk, sizeof(sk) - 1, &sklen, s->data_keys, sealed,
	    sealed_len, ad) == -1) {
		log_warnx("account %lld: the stored session_key does not open "
		    "(was the data key replaced?)", *account_id);
		rc = ERR_SESSION_KEY_STALE;
		goto out;
	}
	sk[sklen] = '\0';
	tok_hash(s->hash_keys, TOK_H_OPEN_DATA, app->appid, enc, hash);
	if ((rc = db_open_data_seen(s->db, hash, &seen)) != OK)
		goto out;
	if (seen) {
		snprintf(why, whylen, "this encryptedData was already used");
		rc = ERR_INVALID_REQUEST;
		goto out;
	}
	if (app->secret[0] != '\0') {
		wxdata_hmac_hex(hmac, sk, (const unsigned char *)"", 0);
		cs.openid = who->oid;
		cs.signature = hmac;
		rc = wxtoken_call(s->wxtok, app, checksession, &cs);
		if (rc == ERR_SESSION_KEY_STALE)
			goto out;
		/* WeChat could not be asked: decrypting still tells. */
		if (rc != OK)
			log_info("checksession unavailable (%s): decrypting anyway", err_name(rc));
	}
	if (raw != NULL && wxdata_signature_check(raw, strlen(raw), sk, sig) == -1) {
		rc = ERR_SIGNATURE_MISMATCH;
		goto out;
	}
	rc = wxdata_open(&b, sk, app->appid, (int64_t)time(NULL),
	    s->conf->watermark_max_age, data, why, whylen);
out:
	sodium_memzero(sk, sizeof(sk));
	sodium_memzero(hmac, sizeof(hmac));
	sodium_memzero(sealed, sizeof(sealed));
	wxdata_blob_cleanup(&b);
	return rc;
}

/* text_of: the string member name of o when it is text of 1..max code
 * points (ASCII-only and without spaces when token), else NULL. WeChat's
 * values are user data: an odd one is dropped, not an error. */
static const char *
text_of(struct json_object *o, const char *name, size_t max, int token)
{
	struct json_object *v;
	const char *s;
	size_t i, n;

	if (!json_object_object_get_ex(o, name, &v) || !json_object_is_type(v, json_type_string))
		return NULL;
	s = json_object_get_string(v);
	n = strlen(s);
	if (!form_text_ok(s, n, 1, max))
		return NULL;
	for (i = 0; token && i < n; i++)
		if ((unsigned char)s[i] <= 0x20 || (unsigned char)s[i] >= 0x7f)
			return NULL;
	return s;
}

/* refused: rc with why as its message, when there is one. */
static enum err
refused(struct req *r, enum err rc, const char *why)
{
	if (why[0] != '\0' && (rc == ERR_INVALID_REQUEST || rc == ERR_WATERMARK_MISMATCH ||
	    rc == ERR_INVALID_CODE))
		return http_fail(r, rc, "%s", why);
	return rc;
}

enum err
profile_decrypt(struct svc *s, struct req *r, const struct tok_claims *who)
{
	const char *enc = r->in[DEC_DATA].s, *iv = r->in[DEC_IV].s;
	const char *raw = r->in[DEC_RAW].s, *sig = r->in[DEC_SIGNATURE].s;
	const char *oid;
	struct tok_hashes hash;
	struct json_object *data = NULL, *v;
	struct db_open_data in;
	struct db_ident id;
	char why[192] = "";
	long long gender = -1;
	enum err rc;

	if ((raw == NULL) != (sig == NULL))
		return http_fail(r, ERR_INVALID_REQUEST,
		    "fields 'rawData' and 'signature' come together");
	memset(&in, 0, sizeof(in));
	rc = open_data(s, who, enc, iv, raw, sig, &data, &in.account_id, &hash, why,
	    sizeof(why));
	if (rc != OK)
		goto out;
	/* Data for another person of this app has no business here. */
	oid = text_of(data, "openId", OPENID_MAX, 1);
	if (json_object_object_get_ex(data, "openId", &v) &&
	    (oid == NULL || strcmp(oid, who->oid) != 0)) {
		snprintf(why, sizeof(why), "the data was issued for another user");
		rc = ERR_WATERMARK_MISMATCH;
		goto out;
	}
	if (json_object_object_get_ex(data, "gender", &v) &&
	    json_object_is_type(v, json_type_int))
		gender = json_object_get_int64(v);
	in.hash = hash.h[0];
	in.nickname = text_of(data, "nickName", NICKNAME_MAX, 0);
	in.avatar_url = text_of(data, "avatarUrl", AVATAR_URL_MAX, 1);
	in.gender = gender >= 0 && gender <= 2 ? (int)gender : -1;
	in.country = text_of(data, "country", PLACE_MAX, 0);
	in.province = text_of(data, "province", PLACE_MAX, 0);
	in.city = text_of(data, "city", PLACE_MAX, 0);
	in.language = text_of(data, "language", LANGUAGE_MAX, 1);
	in.unionid = text_of(data, "unionId", UNIONID_MAX, 1);
	in.request_id = r->id;
	rc = live(db_open_data_store(s->db, &in, &id));
	if (rc == ERR_INVALID_REQUEST)
		snprintf(why, sizeof(why), "this encryptedData was already used");
	if (rc == OK)
		rc = respond_profile(s, r, id.user_id);
out:
	json_object_put(data);
	sodium_memzero(&in, sizeof(in));
	return refused(r, rc, why);
}

/* ---- phone numbers ---- */

struct phone_arg {
	const struct conf_app *app;
	const char *code;
	struct wxdata_phone *out;
};

static enum err
phone_by_code(struct wx *wx, const char *access_token, void *arg)
{
	const struct phone_arg *a = arg;

	return wx_phone_number(wx, a->app, access_token, a->code, a->out);
}

/*
 * phone_of_code: the number behind a getPhoneNumber code, from WeChat. The
 * account first: a phone code works once, so it is not spent on a request
 * that could not store the number.
 */
static enum err
phone_of_code(struct svc *s, const struct tok_claims *who, const char *code,
    struct db_open_data *in, struct wxdata_phone *ph, char *why, size_t whylen)
{
	const struct conf_app *app;
	unsigned char sealed[SEALED_MAX];
	size_t sealed_len = 0;
	struct phone_arg pa;
	enum err rc;

	if ((rc = mini_app(s, who, &app, why, whylen)) != OK)
		return rc;
	rc = live(db_account_key(s->db, who->app, who->oid, &in->account_id, sealed,
	    sizeof(sealed), &sealed_len));
	sodium_memzero(sealed, sizeof(sealed));
	if (rc != OK)
		return rc;
	pa.app = app;
	pa.code = code;
	pa.out = ph;
	rc = wxtoken_call(s->wxtok, app, phone_by_code, &pa);
	if (rc == ERR_INVALID_CODE)
		snprintf(why, whylen, "the phone code is invalid or was already used");
	return rc;
}

/* phone_of_blob: the number in a legacy encryptedData blob, opened and
 * checked as any open data; its hash makes it usable once. */
static enum err
phone_of_blob(struct svc *s, const struct tok_claims *who, const char *enc,
    const char *iv, struct db_open_data *in, struct tok_hashes *hash,
    struct wxdata_phone *ph, char *why, size_t whylen)
{
	struct json_object *data = NULL;
	enum err rc;

	rc = open_data(s, who, enc, iv, NULL, NULL, &data, &in->account_id, hash,
	    why, whylen);
	if (rc == OK && wxdata_phone_parse(data, ph) == -1) {
		snprintf(why, whylen, "the decrypted data holds no phone number");
		rc = ERR_INVALID_REQUEST;
	}
	if (rc == OK)
		in->hash = hash->h[0];
	json_object_put(data);
	return rc;
}

enum err
profile_phone(struct svc *s, struct req *r, const struct tok_claims *who)
{
	const char *code = r->in[PHONE_CODE].s;
	const char *enc = r->in[PHONE_DATA].s, *iv = r->in[PHONE_IV].s;
	struct tok_hashes hash;
	struct json_object *o = NULL;
	struct wxdata_phone ph;
	struct db_open_data in;
	struct db_ident id;
	char why[192] = "";
	enum err rc;

	memset(&ph, 0, sizeof(ph));
	memset(&in, 0, sizeof(in));
	if (code != NULL && (enc != NULL || iv != NULL))
		return http_fail(r, ERR_INVALID_REQUEST,
		    "send field 'code', or fields 'encryptedData' and 'iv', not both");
	if (code == NULL && (enc == NULL || iv == NULL))
		return http_fail(r, ERR_INVALID_REQUEST,
		    "field 'code' is required (or fields 'encryptedData' and 'iv')");
	rc = code != NULL ? phone_of_code(s, who, code, &in, &ph, why, sizeof(why)) :
	    phone_of_blob(s, who, enc, iv, &in, &hash, &ph, why, sizeof(why));
	if (rc != OK)
		goto out;
	in.gender = -1;
	in.phone = ph.phone_number;
	in.pure_phone = ph.pure_phone_number;
	in.country_code = ph.country_code;
	in.request_id = r->id;
	rc = live(db_open_data_store(s->db, &in, &id));
	if (rc == ERR_INVALID_REQUEST)
		snprintf(why, sizeof(why), "this encryptedData was already used");
	if (rc != OK)
		goto out;
	rc = ERR_INTERNAL;
	if ((o = json_object_new_object()) == NULL)
		goto out;
	json_object_object_add(o, "phone_number", json_object_new_string(ph.phone_number));
	json_object_object_add(o, "pure_phone_number",
	    json_object_new_string(ph.pure_phone_number));
	json_object_object_add(o, "country_code", json_object_new_string(ph.country_code));
	http_send_json(r, 200, o);
	rc = OK;
out:
	json_object_put(o);
	sodium_memzero(&ph, sizeof(ph));
	sodium_memzero(&in, sizeof(in));
	return refused(r, rc, why);
}

/* ---- avatars ---- */

enum err
profile_avatar(struct svc *s, struct req *r, const struct tok_claims *who)
{
	const char *b64 = r->in[AVATAR_IMAGE].s, *type;
	unsigned char *img = NULL;
	char prefix[CONF_STR_MAX + 32];
	size_t len = 0, n = strlen(b64);
	enum err rc;

	if (s->conf->public_url[0] == '\0')
		return http_fail(r, ERR_FORBIDDEN, "avatar uploads need public_url in the config "
		    "(the address the avatar is served at)");
	/* Decoded, it can only be shorter: refused before a byte is copied. */
	if (n > AVATAR_B64_MAX)
		return http_fail(r, ERR_BODY_TOO_LARGE, "an avatar is at most %d bytes",
		    DB_AVATAR_MAX);
	if ((img = malloc(n)) == NULL)
		return ERR_INTERNAL;
	if (codec_unb64(img, n, &len, b64, n) != 0 || len == 0) {
		rc = http_fail(r, ERR_INVALID_REQUEST, "field 'image' must be the image "
		    "in standard base64");
	} else if (len > DB_AVATAR_MAX) {
		rc = http_fail(r, ERR_BODY_TOO_LARGE, "an avatar is at most %d bytes",
		    DB_AVATAR_MAX);
	} else if ((type = image_type(img, len)) == NULL) {
		rc = http_fail(r, ERR_UNSUPPORTED_MEDIA_TYPE, "an avatar is a PNG, JPEG "
		    "or WebP image");
	} else {
		snprintf(prefix, sizeof(prefix), "%s/v1/avatars/", s->conf->public_url);
		rc = live(db_avatar_set(s->db, who->sub, type, img, len, prefix));
		if (rc == OK)
			rc = respond_profile(s, r, who->sub);
	}
	free(img);
	return rc;
}

enum err
profile_avatar_get(struct svc *s, struct req *r, const struct tok_claims *who)
{
	unsigned char *img = NULL;
	char type[32];
	size_t len = 0;
	enum err rc;

	(void)who;
	if ((rc = db_avatar_get(s->db, r->param, type, sizeof(type), &img, &len)) == OK)
		http_send_public_body(r, type, (const char *)img, len, AVATAR_MAX_AGE);
	free(img);
	return rc == ERR_NOT_FOUND ? http_fail(r, rc, "no such avatar") : rc;
}
