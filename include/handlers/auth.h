/*
 * auth.h - the session handlers: login, link, refresh, logout, and the
 * token check's answer (the check itself is the gate's, gate.h).
 */
#ifndef WXAUTH_AUTH_H
#define WXAUTH_AUTH_H

#include "svc.h"


extern const struct field auth_login_fields[];
extern const struct field auth_refresh_fields[];
extern const struct field auth_logout_fields[];
extern const struct field auth_link_fields[];

enum err auth_login(struct svc *s, struct req *r, const struct tok_claims *who);
enum err auth_refresh(struct svc *s, struct req *r, const struct tok_claims *who);
enum err auth_logout(struct svc *s, struct req *r, const struct tok_claims *who);
enum err auth_session(struct svc *s, struct req *r, const struct tok_claims *who);
/* auth_authorizer: the same check for a FastCGI Authorizer request: 200
 * with the identity in Variable-WXAUTH_* headers (the web server makes
 * them the protected request's environment, WXAUTH_USER and so on) and no
 * body; a refusal is the same error answer as the check's. */
enum err auth_authorizer(struct svc *s, struct req *r, const struct tok_claims *who);
enum err auth_link(struct svc *s, struct req *r, const struct tok_claims *who);

#endif
