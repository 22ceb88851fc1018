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

/* How long a web login's ticket can be traded at POST /v1/login, seconds. */
#define OAUTH_TICKET_TTL 60
/* The web login's binding: a random value set at authorize in this cookie
 * (HttpOnly, scoped to POST /v1/login), whose hash the ticket keeps; only
 * the browser holding it can trade the ticket. */
#define OAUTH_BIND_COOKIE "wxauth_bind"
#define OAUTH_BIND_STR 44               /* 32 bytes, base64url, and a NUL */

/* auth_bind_hash: the hash a ticket keeps of binding value b. */
void auth_bind_hash(const char *b, unsigned char out[TOK_HASHBYTES]);

/*
 * auth_code_login: the login of an OAuth code of appid, exactly as POST
 * /v1/login does it, but with the answer only stored (with the code's row,
 * whose hash lands in code_hash) instead of sent: the web login's callback
 * hands the page a ticket to it. Returns OK or the login's error.
 */
enum err auth_code_login(struct svc *s, struct req *r, const char *appid,
    const char *code, unsigned char code_hash[TOK_HASHBYTES]) WARN_UNUSED;

enum err auth_login(struct svc *s, struct req *r, const struct tok_claims *who);
enum err auth_refresh(struct svc *s, struct req *r, const struct tok_claims *who);
enum err auth_logout(struct svc *s, struct req *r, const struct tok_claims *who);
enum err auth_session(struct svc *s, struct req *r, const struct tok_claims *who);
enum err auth_link(struct svc *s, struct req *r, const struct tok_claims *who);

#endif
