/*
 * health.h - /healthz (the worker answers) and /readyz (and so does the
 * database).
 */
#ifndef WXAUTH_HEALTH_H
#define WXAUTH_HEALTH_H

#include "common.h"
#include "http.h"
#include "tok.h"

struct worker;

enum err health_live(struct worker *w, struct req *r, const struct tok_claims *who);
enum err health_ready(struct worker *w, struct req *r, const struct tok_claims *who);

#endif
