/* fuzz_token: any text as an access token, v4.local or v4.public (tok_open:
 * header, footer, base64url, the tag or the signature), as a refresh token
 * (tok_refresh_hash) and as a PASERK key (tok_paserk_local_parse,
 * tok_paserk_public_parse, tok_paserk_secret_parse: a key read must
 * serialise back to the same text). Never more than a refusal. */
#include <sodium.h>

#include "fuzz.h"
#include "tok.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct tok_keys *ks;
	unsigned char key[TOK_KEYBYTES], h[TOK_HASHBYTES], seed[32], sk[TOK_SECRETBYTES];
	char back[128];
	struct tok_claims c;
	char *s;
	enum err rc;

	if (ks == NULL) {
		memset(key, 7, sizeof(key));
		memset(seed, 9, sizeof(seed));
		if (sodium_init() < 0 || (ks = tok_keys_make(key, 1, seed, 1)) == NULL)
			abort();
	}
	s = fuzz_str(data, size);
	rc = tok_open(ks, s, "wxauth", 1800000000, &c);
	FUZZ_CHECK(rc == ERR_INVALID_TOKEN || rc == ERR_TOKEN_EXPIRED || rc == OK);
	(void)tok_refresh_hash(s, h);
	if (tok_paserk_local_parse(key, s) == 0) {
		FUZZ_CHECK(tok_paserk_local(back, sizeof(back), key) == 0);
		FUZZ_CHECK(strcmp(back, s) == 0);
	}
	if (tok_paserk_public_parse(key, s) == 0) {
		FUZZ_CHECK(tok_paserk_public(back, sizeof(back), key, sizeof(key)) == 0);
		FUZZ_CHECK(strcmp(back, s) == 0);
	}
	if (tok_paserk_secret_parse(sk, s) == 0) {
		FUZZ_CHECK(tok_paserk_secret(back, sizeof(back), sk, sizeof(sk)) == 0);
		FUZZ_CHECK(strcmp(back, s) == 0);
	}
	free(s);
	return 0;
}
