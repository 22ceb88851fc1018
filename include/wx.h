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

/* wx_new: a client for c's base URL and timeouts (c must outlive it). */
struct wx *wx_new(const struct conf *c);
void wx_free(struct wx *w);

/*
 * wx_errcode: the one mapping from a WeChat errcode to our error.
 * 0 is OK; codes WECHAT.md lists map as it says; unknown codes are
 * ERR_UPSTREAM_UNAVAILABLE.
 */
enum err wx_errcode(long errcode);

/*
 * wx_code2session: exchange a mini-program login code (sns/jscode2session).
 * Retries once, after a short pause, when WeChat answers -1 (busy).
 * Returns OK with out filled, or the mapped error. out->session_key is
 * validated as base64 of 16 bytes.
 */
enum err wx_code2session(struct wx *w, const struct conf_app *app,
    const char *code, struct wx_session *out) WARN_UNUSED;

#endif
