/*
 * account.h - the user's own account life: the sessions (devices) list and
 * ending one, unlinking one app account, deleting the account (注销).
 */
#ifndef WXAUTH_ACCOUNT_H
#define WXAUTH_ACCOUNT_H

#include "svc.h"

extern const struct field account_session_param;   /* {id} of /v1/sessions/{id} */
extern const struct field account_appid_param;     /* {appid} of /v1/accounts/{appid} */

/* GET /v1/sessions: {"sessions": [...]} of the token's user. */
enum err account_sessions(struct svc *s, struct req *r, const struct tok_claims *who);
/* DELETE /v1/sessions/{id}: {"revoked": 1}; 404 for anyone else's. */
enum err account_session_end(struct svc *s, struct req *r, const struct tok_claims *who);
/* DELETE /v1/accounts/{appid}: {"unlinked": {"appid", "openid"}}. */
enum err account_unlink(struct svc *s, struct req *r, const struct tok_claims *who);
/* DELETE /v1/account: {"deleted": USER_ID}, with a fresh login's token. */
enum err account_delete(struct svc *s, struct req *r, const struct tok_claims *who);

#endif
