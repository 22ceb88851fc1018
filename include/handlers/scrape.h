/*
 * scrape.h - GET /metrics: the pool's counters (base/metrics.h) in
 * Prometheus text format, for the addresses the front allows.
 */
#ifndef WXAUTH_SCRAPE_H
#define WXAUTH_SCRAPE_H

#include "svc.h"

enum err scrape_serve(struct svc *s, struct req *r, const struct tok_claims *who);

#endif
