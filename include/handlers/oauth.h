/*
 * oauth.h - the web login of official accounts and websites: send the
 * browser to WeChat's authorize page with a state bound to a cookie, take
 * it back, exchange the code, and hand the page a one-time ticket (never a
 * token in a URL) that POST /v1/login {"ticket"} trades for the tokens.
 */
#ifndef WXAUTH_OAUTH_H
#define WXAUTH_OAUTH_H

#include "svc.h"

extern const struct field oauth_authorize_fields[];  /* ?appid=&redirect=&scope= */
extern const struct field oauth_callback_fields[];   /* ?code=&state= */

/* GET /v1/oauth/authorize: 302 to WeChat, Set-Cookie wxauth_oauth. */
enum err oauth_authorize(struct svc *s, struct req *r, const struct tok_claims *who);
/* GET /v1/oauth/callback: 302 to the allowed redirect with ?ticket= (or
 * ?error=); 400 invalid_state without a matching cookie. */
enum err oauth_callback(struct svc *s, struct req *r, const struct tok_claims *who);

#endif
