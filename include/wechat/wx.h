/*
 * wx.h - the WeChat server API over libcurl: one reused handle per worker
 * (keep-alive), connect and total timeouts from the config, TLS verified,
 * every answer parsed as JSON whatever its content type, and WeChat's
 * errcode mapped to our errors in exactly one place (wx_errcode).
 *
 * Nothing here logs a code, a secret, a token or a session_key: URLs carry
 * secrets, so they are never logged either.
 */
#ifndef WXAUTH_WX_H
#define WXAUTH_WX_H

#include "common.h"
#include "conf.h"

struct wx;

#define WX_SESSION_KEY_STR 64   /* base64 of 16 bytes is 24 characters */

struct wx_session {
	char openid[OPENID_MAX + 1];
	char unionid[UNIONID_MAX + 1];          /* empty when WeChat gave none */
	char session_key[WX_SESSION_KEY_STR];   /* base64 text; wipe after use */
};

/* What an OAuth code (official account, website, mobile app) yields. */
struct wx_oauth {
	char openid[OPENID_MAX + 1];
	char unionid[UNIONID_MAX + 1];  /* empty with snsapi_base or no Open Platform */
	char scope[64];                 /* "snsapi_base", "snsapi_userinfo", … */
	char access_token[512];         /* the user's sns token: wipe after use */
	int snapshot;                   /* is_snapshotuser: a virtual visitor */
};

/* A WeChat profile (sns/userinfo), user-visible data, never verified. */
struct wx_profile {
	char nickname[256];
	char avatar_url[1024];
	int gender;                     /* 0 unknown, 1 male, 2 female; -1 absent */
	char country[64];
	char province[64];
	char city[64];
	char language[16];
	char unionid[UNIONID_MAX + 1];
};

/* wx_new: a client for c's base URL and timeouts (c must outlive it). */
struct wx *wx_new(const struct conf *c);
void wx_free(struct wx *w);

/*
 * wx_errcode: the one mapping from a WeChat errcode to our error.
 * 0 is OK; codes WECHAT.md lists map as it says; unknown codes are
 * ERR_UPSTREAM_UNAVAILABLE.
 */
enum err wx_errcode(long errcode);

struct json_object;

/*
 * wx_answer: what an answer of WeChat's says, from its text (NUL-terminated)
 * and HTTP status: OK with *out the JSON object (the caller puts it), or
 * the error of its errcode (*errcode: 0 when absent, -1000 when not a
 * number), or ERR_UPSTREAM_UNAVAILABLE (not a JSON object, or not 200).
 */
enum err wx_answer(const char *text, long status, long *errcode,
    struct json_object **out) WARN_UNUSED;

/*
 * wx_code2session: exchange a mini-program login code (sns/jscode2session).
 * Retries once, after a short pause, when WeChat answers -1 (busy).
 * Returns OK with out filled, or the mapped error. out->session_key is
 * validated as base64 of 16 bytes.
 */
enum err wx_code2session(struct wx *w, const struct conf_app *app,
    const char *code, struct wx_session *out) WARN_UNUSED;

/*
 * wx_oauth_exchange: exchange an OAuth code (sns/oauth2/access_token) of an
 * official account, website or mobile app. Returns OK with out filled (the
 * caller wipes out->access_token), or the mapped error.
 */
enum err wx_oauth_exchange(struct wx *w, const struct conf_app *app,
    const char *code, struct wx_oauth *out) WARN_UNUSED;

/*
 * wx_oauth_userinfo: the profile behind an snsapi_userinfo grant
 * (sns/userinfo). Returns OK with out filled, or the mapped error.
 */
enum err wx_oauth_userinfo(struct wx *w, const struct wx_oauth *o,
    struct wx_profile *out) WARN_UNUSED;

/* ---- the app access token, phone numbers, checksession ---- */

#define WX_TOKEN_MAX 512        /* WeChat: keep at least 512 bytes for an access_token */

struct wxdata_phone;

/*
 * wx_stable_token: the app's server access token from cgi-bin/stable_token
 * (never cgi-bin/token, which would invalidate every other worker's token).
 * force asks for a new token (WeChat allows it 20 times a day, 30 s apart).
 * Returns OK with the token in token (wipe after use) and its lifetime in
 * *expires_in seconds, or the mapped error.
 */
enum err wx_stable_token(struct wx *w, const struct conf_app *app, int force,
    char *token, size_t tokenlen, long *expires_in) WARN_UNUSED;

/*
 * wx_phone_number: exchange a phone code (wxa/business/getuserphonenumber)
 * with the app's access_token. Retries once when WeChat answers -1 (busy).
 * Returns OK with out filled, ERR_WX_TOKEN_INVALID (40001, 40014, 42001:
 * the caller refreshes the token and asks once more), ERR_WATERMARK_MISMATCH
 * when the answer is stamped for another app, or the mapped error.
 */
enum err wx_phone_number(struct wx *w, const struct conf_app *app,
    const char *access_token, const char *code, struct wxdata_phone *out) WARN_UNUSED;

/*
 * wx_checksession: is the session_key whose HMAC is signature (hex of
 * hmac_sha256(key = session_key text, message = "")) still the current one
 * of openid (wxa/checksession)? Returns OK, ERR_SESSION_KEY_STALE (87009),
 * ERR_WX_TOKEN_INVALID, or the mapped error.
 */
enum err wx_checksession(struct wx *w, const char *access_token, const char *openid,
    const char *signature) WARN_UNUSED;

/*
 * wx_wxacode: a mini-program code image for scene (wxa/getwxacodeunlimit)
 * opening page of the env_version build (release, trial, develop; a
 * release's page is checked to exist). OK with *img (malloc'd, *len bytes,
 * *ctype "image/png" or "image/jpeg"); ERR_WX_TOKEN_INVALID; 41030 (no
 * such page in that version) is ERR_UPSTREAM_UNAVAILABLE, logged for the
 * operator; 40129/40169 (a scene WeChat refuses) ERR_INTERNAL; a JSON
 * answer is never taken for an image.
 */
enum err wx_wxacode(struct wx *w, const char *access_token, const char *scene,
    const char *page, const char *env_version, unsigned char **img, size_t *len,
    const char **ctype) WARN_UNUSED;

#endif
