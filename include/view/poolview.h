/*
 * poolview.h - the revocation view `serve` keeps for the workers it starts,
 * in memory shared by the whole pool, so that a worker started while
 * PostgreSQL is unreachable (a crash restart, a max_requests recycle, a
 * reload during an outage) still knows every session that ended and every
 * merge, instead of trusting tokens blindly.
 *
 * Every worker whose own view is whole puts each event it learns (a reload's
 * rows, each notification) here as well; the copy is whole once a worker
 * has put a complete reload into it, and stops being whole when an entry
 * does not fit or a worker died holding its lock. A worker that cannot load
 * from the database takes this copy only when it is whole; otherwise it
 * answers 503 for tokens (fail closed). Under spawn-fcgi or mod_fcgid there
 * is no `serve`, no copy, and the 503 rule alone.
 */
#ifndef WXAUTH_POOLVIEW_H
#define WXAUTH_POOLVIEW_H

#include <stdbool.h>
#include <stdint.h>

#include "common.h"

struct ended;

/* poolview_init (serve, before the first fork): the shared mapping.
 * Returns 0, or -1 with the reason logged (workers then load or refuse). */
int poolview_init(void) WARN_UNUSED;

/* poolview_put_session, poolview_put_merge, poolview_drop_merge: record an
 * event until `until` (unix seconds). They return 0, or -1 when the entry
 * did not fit (the copy is then no longer whole). No-ops without a mapping. */
int poolview_put_session(const char *sid, int64_t until);
int poolview_put_merge(const char *from, const char *into, const char *unionid,
    int64_t until);
void poolview_drop_merge(const char *from);

/* poolview_mark: a worker finished putting a complete reload; whole says
 * whether every entry of it fitted. */
void poolview_mark(bool whole);

/* poolview_copy: put every live entry of a whole copy into rv. Returns 0,
 * or -1 when there is no copy, it is not whole, or rv is out of memory. */
int poolview_copy(struct ended *rv, int64_t now) WARN_UNUSED;

#endif
