/*
 * admin.h - the admin API: the merge feed, user look-up, revoking a user.
 * The gate checks the admin key (gate.h) and the parameters (the tables
 * here) first.
 */
#ifndef WXAUTH_ADMIN_H
#define WXAUTH_ADMIN_H

#include "svc.h"

extern const struct field admin_merges_fields[];   /* ?after=&limit= */
extern const struct field admin_users_fields[];    /* ?id= | ?appid=&openid= | ?unionid= */
extern const struct field admin_user_param;        /* the {id} of .../users/{id}/... */

enum err admin_merges(struct svc *s, struct req *r, const struct tok_claims *who);
enum err admin_users(struct svc *s, struct req *r, const struct tok_claims *who);
enum err admin_events(struct svc *s, struct req *r, const struct tok_claims *who);
enum err admin_delete(struct svc *s, struct req *r, const struct tok_claims *who);
enum err admin_revoke(struct svc *s, struct req *r, const struct tok_claims *who);
/* POST /v1/admin/users/{id}/disable, /enable: {"disabled", "revoked"}. */
enum err admin_disable(struct svc *s, struct req *r, const struct tok_claims *who);
enum err admin_enable(struct svc *s, struct req *r, const struct tok_claims *who);

#endif
