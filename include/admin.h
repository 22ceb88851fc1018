/*
 * admin.h - the admin API (the merge feed, user look-up, revoking a user)
 * and its key check, which the front door runs for RF_ADMIN routes.
 */
#ifndef WXAUTH_ADMIN_H
#define WXAUTH_ADMIN_H

#include "common.h"
#include "http.h"
#include "tok.h"

struct worker;

/*
 * admin_check: the request carries "Authorization: Bearer <admin_key>".
 * Returns OK; ERR_INVALID_TOKEN when no bearer came; ERR_FORBIDDEN when it
 * is not the key, or no admin key is configured. Refusals are audited.
 */
enum err admin_check(struct worker *w, struct req *r) WARN_UNUSED;

enum err admin_merges(struct worker *w, struct req *r, const struct tok_claims *who);
enum err admin_users(struct worker *w, struct req *r, const struct tok_claims *who);
enum err admin_revoke(struct worker *w, struct req *r, const struct tok_claims *who);

#endif
