/*
 * err.c - the one table from error to HTTP status, name and message.
 */
#include "common.h"

static const struct {
	int status;
	const char *name;
	const char *message;
} errs[ERR__MAX] = {
	[OK] = {200, "ok", "ok"},
	[ERR_INVALID_REQUEST] = {400, "invalid_request", "the request is missing a field or has a field of the wrong type"},
	[ERR_INVALID_JSON] = {400, "invalid_json", "the body is not a JSON object"},
	[ERR_UNKNOWN_APP] = {400, "unknown_app", "the appid is not configured"},
	[ERR_UNSUPPORTED_MEDIA_TYPE] = {415, "unsupported_media_type", "send the body as application/json"},
	[ERR_BODY_TOO_LARGE] = {413, "body_too_large", "the body is too large"},
	[ERR_METHOD_NOT_ALLOWED] = {405, "method_not_allowed", "this method is not allowed on this path"},
	[ERR_NOT_FOUND] = {404, "not_found", "no such path"},
	[ERR_INVALID_CODE] = {401, "invalid_code", "the login code is invalid or was already used"},
	[ERR_RISKY_USER] = {403, "risky_user", "WeChat blocked this login as high-risk"},
	[ERR_UPSTREAM_RATE_LIMITED] = {429, "upstream_rate_limited", "WeChat's rate limit was reached; retry later"},
	[ERR_UPSTREAM_UNAVAILABLE] = {502, "upstream_unavailable", "WeChat could not be reached or gave no usable answer"},
	[ERR_UPSTREAM_TIMEOUT] = {504, "upstream_timeout", "WeChat did not answer in time"},
	[ERR_INVALID_TOKEN] = {401, "invalid_token", "the token is missing or invalid"},
	[ERR_TOKEN_EXPIRED] = {401, "token_expired", "the token has expired"},
	[ERR_SESSION_REVOKED] = {401, "session_revoked", "the session has ended"},
	[ERR_SESSION_KEY_STALE] = {409, "session_key_stale", "the session key is stale: call wx.login again"},
	[ERR_SIGNATURE_MISMATCH] = {422, "signature_mismatch", "the signature does not match"},
	[ERR_WATERMARK_MISMATCH] = {422, "watermark_mismatch", "the data was issued for another app or is too old"},
	[ERR_UNIONID_CONFLICT] = {409, "unionid_conflict", "these accounts belong to different people"},
	[ERR_FORBIDDEN] = {403, "forbidden", "not allowed"},
	[ERR_SNAPSHOT_USER] = {403, "forbidden", "this is a snapshot visitor (is_snapshotuser): open the page in WeChat itself"},
	[ERR_RATE_LIMITED] = {429, "rate_limited", "too many requests"},
	[ERR_DB_UNAVAILABLE] = {503, "db_unavailable", "the database is unavailable"},
	[ERR_BUSY] = {503, "busy", "the service is busy; retry in a moment"},
	[ERR_INTERNAL] = {500, "internal", "internal error"},
	[ERR_WX_TOKEN_INVALID] = {500, "internal", "internal error"},
	[ERR_RETRY] = {500, "internal", "internal error"},
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
