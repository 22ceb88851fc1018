/*
 * subkeys.c - the keys derived from the data key, one per purpose (tok.h:
 * tok_hashkeys_new, tok_hash): a stored hash of a login code or of open
 * data is keyed, so the tables reveal nothing of what was hashed.
 */
#include <assert.h>
#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <json-c/json.h>
#include <sodium.h>

#include "codec.h"
#include "tok.h"


/* ---- keyed hashes ---- */

/* The context labels: changing one changes every stored hash. */
static const char *const hash_labels[TOK_H__MAX] = {
	[TOK_H_LOGIN_CODE] = "wxauth login code",
	[TOK_H_OPEN_DATA] = "wxauth open data",
	[TOK_H_OAUTH_STATE] = "wxauth oauth state",
	[TOK_H_WEB_BIND] = "wxauth web-login binding",
	[TOK_H_SCAN] = "wxauth scan login",
	[TOK_H_CONSOLE] = "wxauth console",
};

struct tok_hashkeys {
	size_t n;
	unsigned char (*k)[TOK_H__MAX][TOK_KEYBYTES];   /* sodium_malloc'd, n entries */
};

struct tok_hashkeys *
tok_hashkeys_new(const struct tok_keys *data)
{
	struct tok_hashkeys *hk;
	size_t i;
	int p;

	if ((hk = calloc(1, sizeof(*hk))) == NULL)
		return NULL;
	if ((hk->k = sodium_malloc(data->n * sizeof(*hk->k))) == NULL)
		goto fail;
	hk->n = data->n;
	for (i = 0; i < data->n; i++)
		for (p = 0; p < TOK_H__MAX; p++)
			if (crypto_generichash(hk->k[i][p], TOK_KEYBYTES,
			    (const unsigned char *)hash_labels[p], strlen(hash_labels[p]),
			    data->k[i].key, TOK_KEYBYTES) != 0)
				goto fail;
	if (sodium_mprotect_readonly(hk->k) != 0)
		goto fail;
	return hk;
fail:
	tok_hashkeys_free(hk);
	return NULL;
}

void
tok_hashkeys_free(struct tok_hashkeys *hk)
{
	if (hk == NULL)
		return;
	if (hk->k != NULL)
		sodium_free(hk->k);
	free(hk);
}

void
tok_hash(const struct tok_hashkeys *hk, enum tok_hash_purpose purpose,
    const char *scope, const char *value, struct tok_hashes *out)
{
	crypto_generichash_state st;
	size_t i;

	assert(purpose >= 0 && purpose < TOK_H__MAX && hk->n <= TOK_KEYS_MAX);
	for (i = 0; i < hk->n; i++) {
		crypto_generichash_init(&st, hk->k[i][purpose], TOK_KEYBYTES, TOK_HASHBYTES);
		crypto_generichash_update(&st, (const unsigned char *)scope, strlen(scope) + 1);
		crypto_generichash_update(&st, (const unsigned char *)value, strlen(value));
		crypto_generichash_final(&st, out->h[i], TOK_HASHBYTES);
	}
	out->n = hk->n;
	sodium_memzero(&st, sizeof(st));
}

bool
tok_hash_is(const struct tok_hashes *hs, const unsigned char h[TOK_HASHBYTES])
{
	size_t i;
	int same = 0;

	for (i = 0; i < hs->n; i++)
		same |= sodium_memcmp(hs->h[i], h, TOK_HASHBYTES) == 0;
	return same != 0;
}

bool
tok_secret_equal(const char *a, const char *b)
{
	static unsigned char key[crypto_generichash_KEYBYTES];
	static int keyed;
	unsigned char ha[crypto_generichash_BYTES], hb[crypto_generichash_BYTES];
	bool same;

	if (!keyed) {
		randombytes_buf(key, sizeof(key));
		keyed = 1;
	}
	crypto_generichash(ha, sizeof(ha), (const unsigned char *)a, strlen(a), key, sizeof(key));
	crypto_generichash(hb, sizeof(hb), (const unsigned char *)b, strlen(b), key, sizeof(key));
	same = sodium_memcmp(ha, hb, sizeof(ha)) == 0;
	sodium_memzero(ha, sizeof(ha));
	sodium_memzero(hb, sizeof(hb));
	return same;
}
