/*
 * profview.h - each main-pool worker's cache of /v1/userinfo answers, so
 * that reading a profile costs no database round trip when it has not
 * changed. What a user's answer shows lives in `users` and `accounts`;
 * triggers on both (db/007, db/008) NOTIFY wxauth_profile with the user's
 * bucket (profview_bucket: twelve random bits of the id, never the id) on
 * every change, whoever makes it, and each worker drops what it holds of
 * that bucket when the notification comes. A forged one drops a copy, and
 * can do nothing else.
 *
 * A client that writes and then reads at once may be sent to another
 * worker before that worker has read the notification. So that a read
 * right after a write sees it on the same host, `serve` keeps one
 * generation number per bucket of users in memory shared by the pool: the
 * worker that made a change bumps its bucket when its own notification
 * comes back, which PostgreSQL sends before the COMMIT's answer (so before
 * any response goes out), and an answer cached under an older generation
 * is not used. Across hosts, the notification alone: a read on host B
 * right after a write on A sees it once B's worker has read the NOTIFY
 * (README "Scale out"). Under spawn-fcgi or mod_fcgid there is no shared
 * memory and nothing is cached.
 *
 * An entry lives at most PROFVIEW_TTL seconds whatever happens, and the
 * whole cache is dropped when the connection is lost (notifications may
 * have been missed) and while it is down nothing is served from it.
 */
#ifndef WXAUTH_PROFVIEW_H
#define WXAUTH_PROFVIEW_H

#include <stddef.h>
#include <stdint.h>

#include "common.h"

#define PROFVIEW_TTL 60
#define PROFVIEW_MAX_TEXT 4096    /* larger answers are not cached */

struct profview;

/* profview_shared_init (serve, before the first fork): the generations.
 * Returns 0, or -1 (the workers then cache nothing). */
int profview_shared_init(void) WARN_UNUSED;

/* profview_new: a worker's cache; NULL when there is no shared memory (no
 * serve) or no memory: every call below takes NULL and does nothing. */
struct profview *profview_new(void);
void profview_free(struct profview *pc);

/* profview_gen: the generation of user_id's bucket, to be read before the
 * database is and passed to profview_put. */
uint32_t profview_gen(const char *user_id);

/* profview_get: the answer cached for user_id, if its generation is current
 * and it is younger than PROFVIEW_TTL; *len its length. NULL: not cached. */
const char *profview_get(struct profview *pc, const char *user_id, int64_t now,
    size_t *len);

/* profview_put: keep text (len bytes) as user_id's answer, read from the
 * database after gen was taken. */
void profview_put(struct profview *pc, const char *user_id, uint32_t gen,
    const char *text, size_t len, int64_t now);

/* profview_bucket: user_id's bucket, 0 to 4095: its last three hex digits,
 * as db/008's wxauth_bucket() computes it. */
unsigned profview_bucket(const char *user_id);

/* profview_changed: an answer of bucket's users changed. mine: this
 * worker's own database session made the change (the host's generation
 * of the bucket is bumped too). */
void profview_changed(struct profview *pc, unsigned bucket, int mine);

/* profview_clear: forget everything (the connection was lost). */
void profview_clear(struct profview *pc);

#endif
