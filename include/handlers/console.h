/*
 * console.h - the operators' console API (handlers/console.c), behind the
 * admin allow-list:
 *   POST   /v1/console/session          sign in (Bearer: an operator's own
 *                                       session): the console cookie and
 *                                       {"user_id","role","csrf","expires_in"}
 *   GET    /v1/console/session          who is signed in
 *   DELETE /v1/console/session          sign out
 *   GET    /v1/console/users?q=&by=&page=   find users (by id, openid,
 *                                       unionid, phone, nickname prefix)
 *   GET    /v1/console/users/{id}       a user's whole picture
 *   POST   /v1/console/users/{id}/revoke|disable|enable   (operators; the
 *                                       X-CSRF-Token header)
 *   POST   /v1/console/users/{id}/delete {"confirm": id}, /unlink {"appid"}
 *   GET    /v1/console/merges?before=     the merges, newest first
 *   POST   /v1/console/merges/{id}/undo
 *   GET    /v1/console/audit?user=&operator=&event=&before=
 *   GET    /v1/console/health               pools, database, WeChat calls,
 *                                       app tokens' age, phone codes today
 */
#ifndef WXAUTH_CONSOLE_H
#define WXAUTH_CONSOLE_H

#include "form.h"
#include "svc.h"

extern const struct field console_find_fields[];
extern const struct field console_user_param;
extern const struct field console_merge_param;
extern const struct field console_delete_fields[];
extern const struct field console_unlink_fields[];
extern const struct field console_log_fields[];
extern const struct field console_merges_fields[];

enum err console_signin(struct svc *s, struct req *r, const struct tok_claims *tok);
enum err console_signout(struct svc *s, struct req *r, const struct tok_claims *tok);
enum err console_me(struct svc *s, struct req *r, const struct tok_claims *tok);
enum err console_find(struct svc *s, struct req *r, const struct tok_claims *tok);
enum err console_user(struct svc *s, struct req *r, const struct tok_claims *tok);
enum err console_disable(struct svc *s, struct req *r, const struct tok_claims *tok);
enum err console_enable(struct svc *s, struct req *r, const struct tok_claims *tok);
enum err console_revoke(struct svc *s, struct req *r, const struct tok_claims *tok);
enum err console_delete(struct svc *s, struct req *r, const struct tok_claims *tok);
enum err console_unlink(struct svc *s, struct req *r, const struct tok_claims *tok);
enum err console_undo(struct svc *s, struct req *r, const struct tok_claims *tok);
enum err console_log(struct svc *s, struct req *r, const struct tok_claims *tok);
enum err console_health(struct svc *s, struct req *r, const struct tok_claims *tok);
enum err console_merges(struct svc *s, struct req *r, const struct tok_claims *tok);

#endif
