/*
 * verified.c - each worker's cache of the v4.public tokens it has verified
 * (tok.h: tok_cache_*), so that the gate checks a token it has seen with a
 * keyed hash instead of an Ed25519 verification (tens of microseconds).
 *
 * What it holds is what tok_open would read again: the claims of an
 * authentic token. It never lets a token live longer: tok_open checks the
 * issuer and the expiry of every hit, and the gate checks revocations and
 * merges after tok_open, on every request, hit or not. It belongs to one
 * key set: keys reloaded are a new set and a new, empty cache. A slot is
 * found by a BLAKE2b-128 of the whole token under a random key of this
 * process, so nobody can make two tokens share a slot's hash on purpose;
 * two tokens in one slot simply take turns.
 */
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "tok.h"

#define CACHE_SLOTS 1024        /* a power of two */
#define CACHE_HASHBYTES 16

struct slot {
	unsigned char h[CACHE_HASHBYTES];
	bool used;
	struct tok_claims c;
};

struct tok_cache {
	unsigned char key[crypto_generichash_KEYBYTES];
	struct slot slot[CACHE_SLOTS];
};

struct tok_cache *
tok_cache_new(void)
{
	struct tok_cache *tc;

	if (sodium_init() < 0 || (tc = calloc(1, sizeof(*tc))) == NULL)
		return NULL;
	randombytes_buf(tc->key, sizeof(tc->key));
	return tc;
}

void
tok_cache_free(struct tok_cache *tc)
{
	if (tc == NULL)
		return;
	sodium_memzero(tc, sizeof(*tc));
	free(tc);
}

/* find: the slot of token, and its hash into h. */
static struct slot *
find(struct tok_cache *tc, const char *token, size_t len, unsigned char h[CACHE_HASHBYTES])
{
	uint32_t i;

	if (crypto_generichash(h, CACHE_HASHBYTES, (const unsigned char *)token, len,
	    tc->key, sizeof(tc->key)) != 0)
		return NULL;
	memcpy(&i, h, sizeof(i));
	return &tc->slot[i & (CACHE_SLOTS - 1)];
}

bool
tok_cache_get(struct tok_cache *tc, const char *token, size_t len, struct tok_claims *c)
{
	unsigned char h[CACHE_HASHBYTES];
	struct slot *s;

	if (tc == NULL || (s = find(tc, token, len, h)) == NULL || !s->used ||
	    memcmp(s->h, h, sizeof(h)) != 0)
		return false;
	*c = s->c;
	return true;
}

void
tok_cache_put(struct tok_cache *tc, const char *token, size_t len, const struct tok_claims *c)
{
	unsigned char h[CACHE_HASHBYTES];
	struct slot *s;

	if (tc == NULL || (s = find(tc, token, len, h)) == NULL)
		return;
	memcpy(s->h, h, sizeof(h));
	s->c = *c;
	s->used = true;
}
