/*
 * health.h - /healthz (the worker answers) and /readyz (and so does the
 * database).
 */
#ifndef WXAUTH_HEALTH_H
#define WXAUTH_HEALTH_H

#include "svc.h"


enum err health_live(struct svc *s, struct req *r, const struct tok_claims *who);
enum err health_ready(struct svc *s, struct req *r, const struct tok_claims *who);

#endif
