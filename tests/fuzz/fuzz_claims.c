/* fuzz_claims: the token's two claim readers (tok.h) agree: whatever the
 * fast one reads, json-c's reads the same; and the whole of tok_open over
 * that plaintext, sealed under a known key with a good footer, never does
 * worse than refuse. */
#include <sodium.h>

#include "fuzz.h"
#include "tok.h"

static int
same(const struct tok_claims *a, const struct tok_claims *b)
{
	return strcmp(a->iss, b->iss) == 0 && strcmp(a->sub, b->sub) == 0 &&
	    strcmp(a->sid, b->sid) == 0 && strcmp(a->app, b->app) == 0 &&
	    strcmp(a->oid, b->oid) == 0 && strcmp(a->uni, b->uni) == 0 &&
	    a->iat == b->iat && a->exp == b->exp;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct tok_keys *ks;
	static unsigned char key[TOK_KEYBYTES];
	static char footer[128];
	struct tok_claims fast, slow, opened;
	char *tok, lid[64];
	size_t toklen;
	enum err rc;

	if (ks == NULL) {
		memset(key, 7, sizeof(key));
		if (sodium_init() < 0 || (ks = tok_keys_new(key, 1)) == NULL ||
		    tok_lid(lid, sizeof(lid), key) != 0)
			abort();
		snprintf(footer, sizeof(footer), "{\"kid\":\"%s\"}", lid);
	}
	if (size > 4096)
		return 0;
	memset(&fast, 0, sizeof(fast));
	if (tok_claims_flat((const char *)data, size, &fast)) {
		FUZZ_CHECK(tok_claims_json((const char *)data, size, &slow) == 0);
		FUZZ_CHECK(same(&fast, &slow));
	}
	toklen = size * 2 + 512;
	if ((tok = malloc(toklen)) == NULL)
		abort();
	if (tok_v4_encrypt(tok, toklen, key, data, size, (const unsigned char *)footer,
	    strlen(footer), NULL, 0, NULL) == 0) {
		rc = tok_open(ks, tok, NULL, 0, &opened);
		FUZZ_CHECK(rc == OK || rc == ERR_INVALID_TOKEN || rc == ERR_TOKEN_EXPIRED);
		if (rc == OK)
			FUZZ_CHECK(tok_claims_json((const char *)data, size, &slow) == 0 ||
			    tok_claims_flat((const char *)data, size, &slow));
	}
	free(tok);
	return 0;
}
