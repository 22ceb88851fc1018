/*
 * gate.h - the front door every request passes before a handler runs:
 * the route, the pool's rule (the gate pool answers RF_GATE routes only),
 * the bearer token or the admin key, the body's size, type and JSON, and
 * the route's declarative checks of body fields, query parameters and
 * path segment (form.h). Nothing here waits on WeChat; the token check
 * never waits on the database either.
 */
#ifndef WXAUTH_GATE_H
#define WXAUTH_GATE_H

#include "route.h"
#include "svc.h"

/*
 * gate_pass: run every check of the request's route. Returns OK with *rt
 * and, on RF_BEARER routes, *who filled in; else the error to send, with
 * r->why set when the table's message would not say which field is wrong.
 */
enum err gate_pass(struct svc *s, struct req *r, enum route *rt,
    struct tok_claims *who) WARN_UNUSED;

/*
 * gate_bearer: check the request's access token without a database round
 * trip: authentic, not expired, its app configured, the revocation view
 * whole, its session not revoked; who->sub becomes the surviving user
 * when that user was merged. Returns OK, ERR_INVALID_TOKEN,
 * ERR_TOKEN_EXPIRED, ERR_SESSION_REVOKED or ERR_DB_UNAVAILABLE.
 */
enum err gate_bearer(struct svc *s, struct req *r, struct tok_claims *who) WARN_UNUSED;

/*
 * gate_admin: the request carries "Authorization: Bearer <admin_key>".
 * Returns OK; ERR_INVALID_TOKEN when no bearer came; ERR_FORBIDDEN when it
 * is not the key, or no admin key is configured. Refusals are counted and
 * audited.
 */
enum err gate_admin(struct svc *s, struct req *r) WARN_UNUSED;

#endif
