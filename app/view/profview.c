/*
 * profview.c - the userinfo cache of profview.h: a direct-mapped table of
 * SLOTS answers per worker, and BUCKETS generation numbers shared by the
 * pool (one anonymous shared mapping, written with atomic increments).
 */
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "log.h"
#include "profview.h"

#define SLOTS 512
#define BUCKETS 4096

struct slot {
	char user[UUID_STR];    /* "" when free */
	uint32_t gen;
	int64_t at;
	size_t len;
	char *text;
};

struct profview {
	struct slot s[SLOTS];
};

static uint32_t *gens;          /* BUCKETS of them, shared; NULL: no cache */

int
profview_shared_init(void)
{
	void *p = mmap(NULL, BUCKETS * sizeof(uint32_t), PROT_READ | PROT_WRITE,
	    MAP_SHARED | MAP_ANONYMOUS, -1, 0);

	if (p == MAP_FAILED) {
		log_warn("profview: cannot map shared memory");
		return -1;
	}
	gens = p;
	return 0;
}

unsigned
profview_bucket(const char *user_id)
{
	size_t n = strlen(user_id), i;
	unsigned b = 0;
	int d;

	if (n < 3)
		return 0;
	for (i = n - 3; i < n; i++) {
		d = user_id[i];
		b = b * 16 + (unsigned)(d >= '0' && d <= '9' ? d - '0' :
		    d >= 'a' && d <= 'f' ? d - 'a' + 10 : d >= 'A' && d <= 'F' ? d - 'A' + 10 : 0);
	}
	return b % BUCKETS;
}

/* hash: where a user's answer and generation live: its bucket (SLOTS
 * divides BUCKETS, so that a bucket's hint names one slot). */
static uint32_t
hash(const char *s)
{
	return profview_bucket(s);
}

struct profview *
profview_new(void)
{
	if (gens == NULL)
		return NULL;
	return calloc(1, sizeof(struct profview));
}

static void
drop(struct slot *sl)
{
	free(sl->text);
	memset(sl, 0, sizeof(*sl));
}

void
profview_clear(struct profview *pc)
{
	size_t i;

	if (pc == NULL)
		return;
	for (i = 0; i < SLOTS; i++)
		drop(&pc->s[i]);
}

void
profview_free(struct profview *pc)
{
	profview_clear(pc);
	free(pc);
}

uint32_t
profview_gen(const char *user_id)
{
	if (gens == NULL)
		return 0;
	return __atomic_load_n(&gens[hash(user_id) % BUCKETS], __ATOMIC_ACQUIRE);
}

const char *
profview_get(struct profview *pc, const char *user_id, int64_t now, size_t *len)
{
	struct slot *sl;

	if (pc == NULL)
		return NULL;
	sl = &pc->s[hash(user_id) % SLOTS];
	if (sl->text == NULL || strcmp(sl->user, user_id) != 0)
		return NULL;
	if (sl->gen != profview_gen(user_id) || now - sl->at >= PROFVIEW_TTL || now < sl->at) {
		drop(sl);
		return NULL;
	}
	*len = sl->len;
	return sl->text;
}

void
profview_put(struct profview *pc, const char *user_id, uint32_t gen,
    const char *text, size_t len, int64_t now)
{
	struct slot *sl;
	char *copy;

	if (pc == NULL || len > PROFVIEW_MAX_TEXT || strlen(user_id) >= UUID_STR)
		return;
	if ((copy = malloc(len + 1)) == NULL)
		return;
	memcpy(copy, text, len);
	copy[len] = '\0';
	sl = &pc->s[hash(user_id) % SLOTS];
	drop(sl);
	memcpy(sl->user, user_id, strlen(user_id) + 1);
	sl->gen = gen;
	sl->at = now;
	sl->len = len;
	sl->text = copy;
}

void
profview_changed(struct profview *pc, unsigned bucket, int mine)
{
	struct slot *sl;

	if (pc == NULL || bucket >= BUCKETS)
		return;
	if (mine)
		__atomic_add_fetch(&gens[bucket], 1, __ATOMIC_RELEASE);
	sl = &pc->s[bucket % SLOTS];
	if (sl->text != NULL && profview_bucket(sl->user) == bucket)
		drop(sl);
}
