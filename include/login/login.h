/*
 * login.h - the login engine the session handlers share (handlers/auth.c,
 * handlers/oauth.c). Each call answers the request itself on success (or
 * leaves the answer to its caller, where said) and returns OK, or returns
 * the error the dispatcher sends.
 */
#ifndef WXAUTH_LOGIN_H
#define WXAUTH_LOGIN_H

#include <stdbool.h>

#include "svc.h"

/* How long a web login's ticket can be traded at POST /v1/login, seconds. */
#define OAUTH_TICKET_TTL 60
/* The web login's binding: a random value set at authorize in this cookie
 * (HttpOnly, scoped to POST /v1/login), whose hash the ticket keeps; only
 * the browser holding it can trade the ticket. */
#define OAUTH_BIND_COOKIE "wxauth_bind"
#define OAUTH_BIND_STR 44               /* 32 bytes, base64url, and a NUL */

/* The PC scan login's binding: a random value set by POST /v1/scan in this
 * cookie (HttpOnly, scoped to /v1/), which its status polls and its ticket
 * need. */
#define SCAN_BIND_COOKIE "wxauth_scan"

/* login_bind_hashes: the hashes of binding value b under every data key;
 * a ticket keeps the first. */
void login_bind_hashes(const struct svc *s, const char *b, struct tok_hashes *out);

/*
 * login_code: POST /v1/login with a code of appid (NULL: the only app).
 * With send false (the web login's callback) the answer is only stored,
 * with the code's row whose hash lands in code_hash, and the code is marked
 * as one that came in a URL: it is never a credential again.
 */
enum err login_code(struct svc *s, struct req *r, const char *appid, const char *code,
    bool send, unsigned char code_hash[TOK_HASHBYTES]) WARN_UNUSED;

/*
 * login_scan_confirm: the PC scan login request whose id hashes to id_hash
 * (code_hash: the hash its session's answer is kept under) confirmed by
 * who's account: a session for it opened in the same transaction, its
 * answer stored for the PC's ticket. Answers {"status":"confirmed"}.
 */
enum err login_scan_confirm(struct svc *s, struct req *r, const unsigned char *id_hash,
    const unsigned char *code_hash, const struct tok_claims *who) WARN_UNUSED;

/* login_ticket: a web login's (or a PC scan login's) ticket traded, by the
 * browser that began. */
enum err login_ticket(struct svc *s, struct req *r, const char *ticket) WARN_UNUSED;

/* login_link: the account that code proves in appid joins user_id. */
enum err login_link(struct svc *s, struct req *r, const char *appid, const char *code,
    const char *user_id) WARN_UNUSED;

/* login_refresh: a refresh token rotated (or its grace's stored answer). */
enum err login_refresh(struct svc *s, struct req *r, const char *refresh_token) WARN_UNUSED;

#endif
