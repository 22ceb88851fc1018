/*
 * verify.h - GET /v1/keys (the v4.public keys, PASERK k4.public with their
 * k4.pid) and GET /v1/revoked (sessions ended within access_ttl, by id, with
 * a cursor): for services that verify tokens themselves. No credential.
 */
#ifndef WXAUTH_VERIFY_H
#define WXAUTH_VERIFY_H

#include "form.h"
#include "svc.h"

extern const struct field verify_revoked_fields[];

enum err verify_keys(struct svc *s, struct req *r, const struct tok_claims *who);
enum err verify_revoked(struct svc *s, struct req *r, const struct tok_claims *who);

#endif
