/*
 * ended.h - each worker's in-memory view of what ended or moved since
 * tokens were issued: revoked session ids, and merged users (from -> into).
 *
 * Filled from the database at start and after every reconnect, then kept
 * current from what view_log says changed, read when a notification hints
 * at a change, so that checking a token needs no database round trip. Entries are kept until every access token that could
 * name them has expired, then pruned.
 */
#ifndef WXAUTH_ENDED_H
#define WXAUTH_ENDED_H

#include <stdbool.h>
#include <stdint.h>

#include "common.h"

/* Entries each of the two tables holds at most: a session ended, or a
 * user merged, within the last access-token lifetime. Past it the view
 * cannot be whole and the worker refuses tokens until it reloads. About
 * 20 MiB a worker when both are full. */
#define ENDED_MAX (1 << 17)

struct ended;

struct ended *ended_new(void);
void ended_free(struct ended *rv);
/* ended_clear: forget everything (before a reload). */
void ended_clear(struct ended *rv);

/* ended_add_session: session sid has ended; remember it until `until`
 * (unix seconds). Returns 0, or -1 when out of memory or full (ENDED_MAX). */
int ended_add_session(struct ended *rv, const char *sid, int64_t until) WARN_UNUSED;
bool ended_has_session(const struct ended *rv, const char *sid);

/* ended_add_merge: user from now lives on as user into, whose unionid is
 * unionid (may be empty). Returns 0 or -1. */
int ended_add_merge(struct ended *rv, const char *from, const char *into,
    const char *unionid, int64_t until) WARN_UNUSED;
/* ended_drop_merge: the merge of from was undone. */
void ended_drop_merge(struct ended *rv, const char *from);
/* ended_resolve: the user that uid lives on as (uid itself when it was
 * never merged), following chains of merges; *unionid (when non-NULL) is
 * set to the survivor's unionid as of the merge, or NULL when uid was never
 * merged or the unionid is unknown. */
const char *ended_resolve(const struct ended *rv, const char *uid,
    const char **unionid);

/* ended_prune: drop entries whose `until` is before now. */
void ended_prune(struct ended *rv, int64_t now);
/* ended_hash: FNV-1a of a key (the view's tables and poolview.c's). */
uint64_t ended_hash(const char *s);

/* ended_count: how many entries are held (for metrics and tests). */
size_t ended_count(const struct ended *rv);

#endif
