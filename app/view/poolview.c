/*
 * poolview.c - the pool's shared copy of the revocation view (poolview.h).
 *
 * Two fixed tables in one anonymous shared mapping, guarded by one robust,
 * process-shared mutex: a worker SIGKILLed while holding it leaves the lock
 * to the next taker, who marks the copy as not whole (an entry may be half
 * written) until the next complete reload. Entries go to a slot within
 * PROBE of their hash: the same key already there is updated, else the
 * first free or expired slot is taken; no free slot there means the copy
 * can no longer be whole. Nothing here is on the token check's path: it is
 * written when events come and read when a worker starts.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>

#include "poolview.h"
#include "log.h"
#include "ended.h"

#define SESSIONS (1 << 16)      /* revoked sessions within one access TTL */
#define MERGES (1 << 13)        /* merges within one access TTL */
#define PROBE 64

struct hv_session {
	int64_t until;          /* 0: free */
	char sid[UUID_STR];
};

struct hv_merge {
	int64_t until;
	char from[UUID_STR];
	char into[UUID_STR];
	char uni[UNIONID_MAX + 1];
};

struct hv {
	pthread_mutex_t lock;
	bool whole;
	struct hv_session s[SESSIONS];
	struct hv_merge m[MERGES];
};

static struct hv *hv;

int
poolview_init(void)
{
	pthread_mutexattr_t a;
	void *p;

	p = mmap(NULL, sizeof(struct hv), PROT_READ | PROT_WRITE,
	    MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED) {
		log_warn("poolview: cannot map shared memory");
		return -1;
	}
	hv = p;
	if (pthread_mutexattr_init(&a) != 0 ||
	    pthread_mutexattr_setpshared(&a, PTHREAD_PROCESS_SHARED) != 0 ||
	    pthread_mutexattr_setrobust(&a, PTHREAD_MUTEX_ROBUST) != 0 ||
	    pthread_mutex_init(&hv->lock, &a) != 0) {
		log_warnx("poolview: cannot set up the shared lock");
		munmap(p, sizeof(struct hv));
		hv = NULL;
		return -1;
	}
	pthread_mutexattr_destroy(&a);
	return 0;
}

static int
lock(void)
{
	int rc = pthread_mutex_lock(&hv->lock);

	if (rc == EOWNERDEAD) {
		/* Its holder died mid-write: whatever it wrote is suspect. */
		pthread_mutex_consistent(&hv->lock);
		hv->whole = false;
		return 0;
	}
	return rc == 0 ? 0 : -1;
}

static void
unlock(void)
{
	pthread_mutex_unlock(&hv->lock);
}

static int64_t
now_s(void)
{
	return (int64_t)time(NULL);
}

int
poolview_put_session(const char *sid, int64_t until)
{
	struct hv_session *e, *free_slot = NULL;
	int64_t now = now_s();
	size_t i, h;
	int rc = -1;

	if (hv == NULL)
		return 0;
	if (strlen(sid) >= UUID_STR || lock() == -1)
		return 0;       /* not a UUID: nothing a token carries */
	h = ended_hash(sid);
	for (i = 0; i < PROBE; i++) {
		e = &hv->s[(h + i) & (SESSIONS - 1)];
		if (e->until >= now && strcmp(e->sid, sid) == 0) {
			if (until > e->until)
				e->until = until;
			rc = 0;
			goto out;
		}
		if (free_slot == NULL && e->until < now)
			free_slot = e;
	}
	if (free_slot != NULL) {
		memcpy(free_slot->sid, sid, strlen(sid) + 1);
		free_slot->until = until;
		rc = 0;
	} else {
		hv->whole = false;
	}
out:
	unlock();
	return rc;
}

/* merge_slot: the live entry for from, or (want_free) a free one. */
static struct hv_merge *
merge_slot(const char *from, int64_t now, bool want_free)
{
	struct hv_merge *e, *free_slot = NULL;
	size_t i, h = ended_hash(from);

	for (i = 0; i < PROBE; i++) {
		e = &hv->m[(h + i) & (MERGES - 1)];
		if (e->until >= now && strcmp(e->from, from) == 0)
			return e;
		if (free_slot == NULL && e->until < now)
			free_slot = e;
	}
	return want_free ? free_slot : NULL;
}

int
poolview_put_merge(const char *from, const char *into, const char *unionid,
    int64_t until)
{
	struct hv_merge *e;
	int rc = -1;

	if (hv == NULL)
		return 0;
	if (strlen(from) >= UUID_STR || strlen(into) >= UUID_STR ||
	    strlen(unionid) > UNIONID_MAX || lock() == -1)
		return 0;
	if ((e = merge_slot(from, now_s(), true)) != NULL) {
		memcpy(e->from, from, strlen(from) + 1);
		memcpy(e->into, into, strlen(into) + 1);
		memcpy(e->uni, unionid, strlen(unionid) + 1);
		if (until > e->until)
			e->until = until;
		rc = 0;
	} else {
		hv->whole = false;
	}
	unlock();
	return rc;
}

void
poolview_drop_merge(const char *from)
{
	struct hv_merge *e;

	if (hv == NULL || strlen(from) >= UUID_STR || lock() == -1)
		return;
	if ((e = merge_slot(from, now_s(), false)) != NULL)
		e->until = 0;
	unlock();
}

void
poolview_mark(bool whole)
{
	if (hv == NULL || lock() == -1)
		return;
	hv->whole = whole;
	unlock();
}

int
poolview_copy(struct ended *rv, int64_t now)
{
	size_t i;
	int rc = -1;

	if (hv == NULL || lock() == -1)
		return -1;
	if (!hv->whole)
		goto out;
	for (i = 0; i < SESSIONS; i++)
		if (hv->s[i].until >= now &&
		    ended_add_session(rv, hv->s[i].sid, hv->s[i].until) == -1)
			goto out;
	for (i = 0; i < MERGES; i++)
		if (hv->m[i].until >= now && ended_add_merge(rv, hv->m[i].from,
		    hv->m[i].into, hv->m[i].uni, hv->m[i].until) == -1)
			goto out;
	rc = 0;
out:
	unlock();
	return rc;
}
