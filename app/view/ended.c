/*
 * ended.c - an open-addressing hash set of session ids and a map of
 * merged user ids, both keyed by UUID text.
 */
#include <stdlib.h>
#include <string.h>

#include "ended.h"

#define MERGE_HOPS 16   /* a chain longer than this is a bug; stop following */

struct entry {
	char key[UUID_STR];
	char val[UUID_STR];     /* merges only: the survivor */
	char uni[UNIONID_MAX + 1];      /* merges only: its unionid */
	int64_t until;
	bool used;
};

struct table {
	struct entry *e;
	size_t cap;             /* a power of two, or 0 */
	size_t n;
};

struct ended {
	struct table sessions;
	struct table merges;
};

uint64_t
ended_hash(const char *s)
{
	uint64_t h = 14695981039346656037ULL;

	for (; *s != '\0'; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211ULL;
	return h;
}

static struct entry *
find(const struct table *t, const char *key)
{
	size_t i;

	if (t->cap == 0)
		return NULL;
	for (i = ended_hash(key) & (t->cap - 1); t->e[i].used; i = (i + 1) & (t->cap - 1))
		if (strcmp(t->e[i].key, key) == 0)
			return &t->e[i];
	return NULL;
}

/*
 * rebuild: move every entry still live at `now` into a fresh table of cap
 * slots. On allocation failure the old table stays whole: keeping an expired
 * entry is harmless, losing a live one would let a revoked token through.
 */
static int
rebuild(struct table *t, size_t cap, int64_t now)
{
	struct table nt = {NULL, cap, 0};
	size_t i, j;

	if ((nt.e = calloc(cap, sizeof(*nt.e))) == NULL)
		return -1;
	for (i = 0; i < t->cap; i++) {
		if (!t->e[i].used || t->e[i].until < now)
			continue;
		for (j = ended_hash(t->e[i].key) & (cap - 1); nt.e[j].used; j = (j + 1) & (cap - 1))
			;
		nt.e[j] = t->e[i];
		nt.n++;
	}
	free(t->e);
	*t = nt;
	return 0;
}

static int
put(struct table *t, const char *key, const char *val, const char *uni, int64_t until)
{
	struct entry *e;
	size_t i;

	if (strlen(key) >= UUID_STR || (val != NULL && strlen(val) >= UUID_STR) ||
	    (uni != NULL && strlen(uni) > UNIONID_MAX))
		return 0;       /* not a UUID: nothing a token could carry */
	if ((e = find(t, key)) == NULL) {
		/* Full: the caller refuses tokens and reloads (fail closed). */
		if (t->n >= ENDED_MAX)
			return -1;
		if ((t->n + 1) * 2 > t->cap && rebuild(t, t->cap ? t->cap * 2 : 64, INT64_MIN) == -1)
			return -1;
		for (i = ended_hash(key) & (t->cap - 1); t->e[i].used; i = (i + 1) & (t->cap - 1))
			;
		e = &t->e[i];
		memcpy(e->key, key, strlen(key) + 1);
		e->used = true;
		t->n++;
	}
	if (val != NULL)
		memcpy(e->val, val, strlen(val) + 1);
	if (uni != NULL)
		memcpy(e->uni, uni, strlen(uni) + 1);
	if (until > e->until)
		e->until = until;
	return 0;
}

static void
prune(struct table *t, int64_t now)
{
	size_t i, live = 0;

	for (i = 0; i < t->cap; i++)
		if (t->e[i].used && t->e[i].until >= now)
			live++;
	if (live != t->n)
		(void)rebuild(t, t->cap, now);
}

struct ended *
ended_new(void)
{
	return calloc(1, sizeof(struct ended));
}

void
ended_free(struct ended *rv)
{
	if (rv == NULL)
		return;
	free(rv->sessions.e);
	free(rv->merges.e);
	free(rv);
}

void
ended_clear(struct ended *rv)
{
	free(rv->sessions.e);
	free(rv->merges.e);
	memset(rv, 0, sizeof(*rv));
}

int
ended_add_session(struct ended *rv, const char *sid, int64_t until)
{
	return put(&rv->sessions, sid, NULL, NULL, until);
}

bool
ended_has_session(const struct ended *rv, const char *sid)
{
	return find(&rv->sessions, sid) != NULL;
}

int
ended_add_merge(struct ended *rv, const char *from, const char *into,
    const char *unionid, int64_t until)
{
	return put(&rv->merges, from, into, unionid, until);
}

void
ended_drop_merge(struct ended *rv, const char *from)
{
	struct entry *e = find(&rv->merges, from);

	/* Expired entries go at the next prune; until then an undone merge
	 * must not resolve, so its entry points back at itself. */
	if (e != NULL) {
		memcpy(e->val, e->key, sizeof(e->val));
		e->uni[0] = '\0';
		e->until = 0;
	}
}

const char *
ended_resolve(const struct ended *rv, const char *uid, const char **unionid)
{
	const struct entry *e;
	const char *uni = NULL;
	int hops;

	for (hops = 0; hops < MERGE_HOPS; hops++) {
		if ((e = find(&rv->merges, uid)) == NULL || strcmp(e->val, uid) == 0)
			break;
		uid = e->val;
		uni = e->uni[0] != '\0' ? e->uni : NULL;
	}
	if (unionid != NULL)
		*unionid = uni;
	return uid;
}

void
ended_prune(struct ended *rv, int64_t now)
{
	prune(&rv->sessions, now);
	prune(&rv->merges, now);
}

size_t
ended_count(const struct ended *rv)
{
	return rv->sessions.n + rv->merges.n;
}
