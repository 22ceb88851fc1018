/*
 * revoke.h - each worker's in-memory view of what ended or moved since
 * tokens were issued: revoked session ids, and merged users (from -> into).
 *
 * Filled from the database at start and after every reconnect, then kept
 * current from what view_log says changed, read when a notification hints
 * at a change, so that checking a token needs no database round trip. Entries are kept until every access token that could
 * name them has expired, then pruned.
 */
#ifndef WXAUTH_REVOKE_H
#define WXAUTH_REVOKE_H

#include <stdbool.h>
#include <stdint.h>

#include "common.h"

/* Entries each of the two tables holds at most: a session ended, or a
 * user merged, within the last access-token lifetime. Past it the view
 * cannot be whole and the worker refuses tokens until it reloads. About
 * 20 MiB a worker when both are full. */
#define REVOKE_MAX (1 << 17)

struct revoke;

struct revoke *revoke_new(void);
void revoke_free(struct revoke *rv);
/* revoke_clear: forget everything (before a reload). */
void revoke_clear(struct revoke *rv);

/* revoke_add_session: session sid has ended; remember it until `until`
 * (unix seconds). Returns 0, or -1 when out of memory or full (REVOKE_MAX). */
int revoke_add_session(struct revoke *rv, const char *sid, int64_t until) WARN_UNUSED;
bool revoke_has_session(const struct revoke *rv, const char *sid);

/* revoke_add_merge: user from now lives on as user into, whose unionid is
 * unionid (may be empty). Returns 0 or -1. */
int revoke_add_merge(struct revoke *rv, const char *from, const char *into,
    const char *unionid, int64_t until) WARN_UNUSED;
/* revoke_drop_merge: the merge of from was undone. */
void revoke_drop_merge(struct revoke *rv, const char *from);
/* revoke_resolve: the user that uid lives on as (uid itself when it was
 * never merged), following chains of merges; *unionid (when non-NULL) is
 * set to the survivor's unionid as of the merge, or NULL when uid was never
 * merged or the unionid is unknown. */
const char *revoke_resolve(const struct revoke *rv, const char *uid,
    const char **unionid);

/* revoke_prune: drop entries whose `until` is before now. */
void revoke_prune(struct revoke *rv, int64_t now);
/* revoke_hash: FNV-1a of a key (the view's tables and handover.c's). */
uint64_t revoke_hash(const char *s);

/* revoke_count: how many entries are held (for metrics and tests). */
size_t revoke_count(const struct revoke *rv);

#endif
