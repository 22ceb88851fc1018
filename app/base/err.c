/*
 * err.c - the one table from error to HTTP status, name, message and the
 * headers the error carries. Nothing else decides any of these.
 */
#include "common.h"

/* Every 401 says how to authenticate (RFC 6750 section 3); README promises
 * this exact value on every 401. */
#define BEARER "Bearer error=\"invalid_token\""

static const struct {
	int status;
	const char *name;
	const char *message;
	const char *www_authenticate;   /* WWW-Authenticate value, or NULL */
	int retry_after;                /* Retry-After seconds, 0 for none */
} errs[ERR__MAX] = {
	[OK] = {200, "ok", "ok", NULL, 0},
	[ERR_INVALID_REQUEST] = {400, "invalid_request", "the request is missing a field or has a field of the wrong type", NULL, 0},
	[ERR_INVALID_JSON] = {400, "invalid_json", "the body is not a JSON object", NULL, 0},
	[ERR_UNKNOWN_APP] = {400, "unknown_app", "the appid is not configured", NULL, 0},
	[ERR_UNSUPPORTED_MEDIA_TYPE] = {415, "unsupported_media_type", "send the body as application/json", NULL, 0},
	[ERR_BODY_TOO_LARGE] = {413, "body_too_large", "the body is too large", NULL, 0},
	[ERR_METHOD_NOT_ALLOWED] = {405, "method_not_allowed", "this method is not allowed on this path", NULL, 0},
	[ERR_NOT_FOUND] = {404, "not_found", "no such path", NULL, 0},
	[ERR_INVALID_CODE] = {401, "invalid_code", "the login code is invalid or was already used", BEARER, 0},
	[ERR_RISKY_USER] = {403, "risky_user", "WeChat blocked this login as high-risk", NULL, 0},
	[ERR_UPSTREAM_RATE_LIMITED] = {429, "upstream_rate_limited", "WeChat's rate limit was reached; retry later", NULL, 60},
	[ERR_UPSTREAM_UNAVAILABLE] = {502, "upstream_unavailable", "WeChat could not be reached or gave no usable answer", NULL, 0},
	[ERR_UPSTREAM_TIMEOUT] = {504, "upstream_timeout", "WeChat did not answer in time", NULL, 0},
	[ERR_INVALID_TOKEN] = {401, "invalid_token", "the token is missing or invalid", BEARER, 0},
	[ERR_TOKEN_EXPIRED] = {401, "token_expired", "the token has expired", BEARER, 0},
	[ERR_SESSION_REVOKED] = {401, "session_revoked", "the session has ended", BEARER, 0},
	[ERR_SESSION_KEY_STALE] = {409, "session_key_stale", "the session key is stale: call wx.login again", NULL, 0},
	[ERR_SIGNATURE_MISMATCH] = {422, "signature_mismatch", "the signature does not match", NULL, 0},
	[ERR_WATERMARK_MISMATCH] = {422, "watermark_mismatch", "the data was issued for another app or is too old", NULL, 0},
	[ERR_UNIONID_CONFLICT] = {409, "unionid_conflict", "these accounts belong to different people", NULL, 0},
	[ERR_FORBIDDEN] = {403, "forbidden", "not allowed", NULL, 0},
	[ERR_FRESH_LOGIN_REQUIRED] = {403, "fresh_login_required", "log in again (wx.login, then POST /v1/login) and use that new token within a few minutes", NULL, 0},
	[ERR_LAST_ACCOUNT] = {409, "last_account", "this is the user's only account: it cannot be unlinked (delete the account instead)", NULL, 0},
	[ERR_INVALID_STATE] = {400, "invalid_state", "the web login's state is missing, not this browser's, expired or used", NULL, 0},
	[ERR_SCAN_TAKEN] = {409, "scan_taken", "someone else scanned this code first: the PC page shows a new one", NULL, 0},
	[ERR_USER_DISABLED] = {403, "user_disabled", "this user is disabled: ask the shop", NULL, 0},
	[ERR_SIGNUP_CLOSED] = {403, "signup_closed", "this app takes no new users", NULL, 0},
	[ERR_SCAN_OVER] = {409, "scan_over", "this login request is over (expired, cancelled or confirmed): start again on the PC", NULL, 0},
	[ERR_SNAPSHOT_USER] = {403, "forbidden", "this is a snapshot visitor (is_snapshotuser): open the page in WeChat itself", NULL, 0},
	[ERR_RATE_LIMITED] = {429, "rate_limited", "too many requests", NULL, 60},
	[ERR_DB_UNAVAILABLE] = {503, "db_unavailable", "the database is unavailable", NULL, 5},
	[ERR_DB_BUSY] = {503, "busy", "another request holds what this one needs; retry in a moment", NULL, 1},
	[ERR_BUSY] = {503, "busy", "the service is busy; retry in a moment", NULL, 1},
	[ERR_INTERNAL] = {500, "internal", "internal error", NULL, 0},
	[ERR_WX_TOKEN_INVALID] = {500, "internal", "internal error", NULL, 0},
	[ERR_RETRY] = {500, "internal", "internal error", NULL, 0},
};

static int
valid(enum err e)
{
	return (int)e >= 0 && e < ERR__MAX && errs[e].name != NULL;
}

int
err_status(enum err e)
{
	return valid(e) ? errs[e].status : 500;
}

const char *
err_name(enum err e)
{
	return valid(e) ? errs[e].name : "internal";
}

const char *
err_message(enum err e)
{
	return valid(e) ? errs[e].message : "internal error";
}

const char *
err_www_authenticate(enum err e)
{
	return valid(e) ? errs[e].www_authenticate : NULL;
}

int
err_retry_after(enum err e)
{
	return valid(e) ? errs[e].retry_after : 0;
}

const char *
err_strerror(enum err e)
{
	switch (e) {
	case ERR_WX_TOKEN_INVALID:
		return "WeChat access token invalid";
	case ERR_RETRY:
		return "transaction must be retried";
	default:
		return err_message(e);
	}
}
