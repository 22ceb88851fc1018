/*
 * auth.h - the session handlers: login, refresh, logout, session, and the
 * bearer check the front door runs for RF_BEARER routes.
 */
#ifndef WXAUTH_AUTH_H
#define WXAUTH_AUTH_H

#include "common.h"
#include "form.h"
#include "http.h"
#include "tok.h"

struct worker;

extern const struct field auth_login_fields[];
extern const struct field auth_refresh_fields[];
extern const struct field auth_logout_fields[];
extern const struct field auth_link_fields[];

/*
 * auth_bearer: check the request's access token without a database round
 * trip: authentic, not expired, session not revoked; claims->sub is
 * replaced by the surviving user when that user was merged. Returns OK,
 * ERR_INVALID_TOKEN, ERR_TOKEN_EXPIRED or ERR_SESSION_REVOKED.
 */
enum err auth_bearer(struct worker *w, struct req *r, struct tok_claims *claims) WARN_UNUSED;

enum err auth_login(struct worker *w, struct req *r, const struct tok_claims *who);
enum err auth_refresh(struct worker *w, struct req *r, const struct tok_claims *who);
enum err auth_logout(struct worker *w, struct req *r, const struct tok_claims *who);
enum err auth_session(struct worker *w, struct req *r, const struct tok_claims *who);
enum err auth_link(struct worker *w, struct req *r, const struct tok_claims *who);

#endif
