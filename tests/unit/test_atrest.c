/* Data sealed at rest: bound to its row, opened under any listed key. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <string.h>
#include <cmocka.h>

#include <sodium.h>

#include "atrest.h"
#include "tok.h"

static unsigned char raw[2][TOK_KEYBYTES];

static int
setup(void **state)
{
	(void)state;
	if (sodium_init() < 0)
		return -1;
	randombytes_buf(raw, sizeof(raw));
	return 0;
}

static void
test_seal_open(void **state)
{
	struct tok_keys *a = tok_keys_new(raw[0], 1), *b = tok_keys_new(raw[1], 1);
	struct tok_keys *rotated;
	unsigned char both[2 * TOK_KEYBYTES], sealed[64 + ATREST_OVERHEAD], out[64];
	const char *msg = "session-key-0123456789==";
	size_t n = strlen(msg), len = 0, olen = 0;

	(void)state;
	/* Rotated: a new first key, the old one still listed. */
	memcpy(both, raw[1], TOK_KEYBYTES);
	memcpy(both + TOK_KEYBYTES, raw[0], TOK_KEYBYTES);
	rotated = tok_keys_new(both, 2);
	assert_non_null(a);
	assert_non_null(b);
	assert_non_null(rotated);
	assert_int_equal(atrest_seal(sealed, sizeof(sealed), &len, a, (const unsigned char *)msg, n,
	    "wx1/o1"), 0);
	assert_int_equal(len, n + ATREST_OVERHEAD);
	assert_int_equal(atrest_open(out, sizeof(out), &olen, a, sealed, len, "wx1/o1"), 0);
	assert_int_equal(olen, n);
	assert_memory_equal(out, msg, n);
	/* Another row, another key: nothing opens. */
	assert_int_equal(atrest_open(out, sizeof(out), &olen, a, sealed, len, "wx1/o2"), -1);
	assert_int_equal(atrest_open(out, sizeof(out), &olen, b, sealed, len, "wx1/o1"), -1);
	/* After a rotation the old seal still opens. */
	assert_int_equal(atrest_open(out, sizeof(out), &olen, rotated, sealed, len, "wx1/o1"), 0);
	/* Any flipped byte, or a cut, is refused. */
	sealed[len - 1] ^= 1;
	assert_int_equal(atrest_open(out, sizeof(out), &olen, a, sealed, len, "wx1/o1"), -1);
	sealed[len - 1] ^= 1;
	sealed[0] ^= 0x80;
	assert_int_equal(atrest_open(out, sizeof(out), &olen, a, sealed, len, "wx1/o1"), -1);
	sealed[0] ^= 0x80;
	assert_int_equal(atrest_open(out, sizeof(out), &olen, a, sealed, ATREST_OVERHEAD - 1, "wx1/o1"), -1);
	assert_int_equal(atrest_open(out, sizeof(out), &olen, a, sealed, len - 1, "wx1/o1"), -1);
	/* Too small a buffer, either way. */
	assert_int_equal(atrest_seal(sealed, n + ATREST_OVERHEAD - 1, &len, a,
	    (const unsigned char *)msg, n, "wx1/o1"), -1);
	assert_int_equal(atrest_seal(sealed, sizeof(sealed), &len, a, (const unsigned char *)msg, n,
	    "wx1/o1"), 0);
	assert_int_equal(atrest_open(out, n - 1, &olen, a, sealed, len, "wx1/o1"), -1);
	/* The new first key seals from now on: the old list cannot open it. */
	assert_int_equal(atrest_seal(sealed, sizeof(sealed), &len, rotated,
	    (const unsigned char *)msg, n, "wx1/o1"), 0);
	assert_int_equal(atrest_open(out, sizeof(out), &olen, a, sealed, len, "wx1/o1"), -1);
	assert_int_equal(atrest_open(out, sizeof(out), &olen, b, sealed, len, "wx1/o1"), 0);
	tok_keys_free(a);
	tok_keys_free(b);
	tok_keys_free(rotated);
}

/* Keyed hashes (tok.h): one per listed data key, stable across a rotation,
 * apart by purpose and by scope. */
static void
test_hashes(void **state)
{
	struct tok_keys *a = tok_keys_new(raw[0], 1), *rotated;
	struct tok_hashkeys *ha, *hr;
	struct tok_hashes x, y, z;
	unsigned char both[2 * TOK_KEYBYTES];

	(void)state;
	memcpy(both, raw[1], TOK_KEYBYTES);
	memcpy(both + TOK_KEYBYTES, raw[0], TOK_KEYBYTES);
	rotated = tok_keys_new(both, 2);
	assert_non_null(ha = tok_hashkeys_new(a));
	assert_non_null(hr = tok_hashkeys_new(rotated));
	tok_hash(ha, TOK_H_LOGIN_CODE, "wx1", "code", &x);
	assert_int_equal(x.n, 1);
	tok_hash(hr, TOK_H_LOGIN_CODE, "wx1", "code", &y);
	assert_int_equal(y.n, 2);
	/* What was stored before the rotation is still found after it. */
	assert_memory_equal(y.h[1], x.h[0], TOK_HASHBYTES);
	assert_memory_not_equal(y.h[0], x.h[0], TOK_HASHBYTES);
	tok_hash(ha, TOK_H_OPEN_DATA, "wx1", "code", &z);
	assert_memory_not_equal(z.h[0], x.h[0], TOK_HASHBYTES);
	tok_hash(ha, TOK_H_LOGIN_CODE, "wx2", "code", &z);
	assert_memory_not_equal(z.h[0], x.h[0], TOK_HASHBYTES);
	/* The scope ends at its NUL: ("wx1c", "ode") is not ("wx1", "code"). */
	tok_hash(ha, TOK_H_LOGIN_CODE, "wx1c", "ode", &z);
	assert_memory_not_equal(z.h[0], x.h[0], TOK_HASHBYTES);
	/* The derivation is the one stored hashes were made with: the subkey
	 * is BLAKE2b keyed by the data key over the label. */
	{
		unsigned char sub[32], want[TOK_HASHBYTES];
		crypto_generichash_state st;

		crypto_generichash(sub, 32, (const unsigned char *)"wxauth login code", 17,
		    raw[0], TOK_KEYBYTES);
		crypto_generichash_init(&st, sub, 32, TOK_HASHBYTES);
		crypto_generichash_update(&st, (const unsigned char *)"wx1", 4);
		crypto_generichash_update(&st, (const unsigned char *)"code", 4);
		crypto_generichash_final(&st, want, TOK_HASHBYTES);
		assert_memory_equal(want, x.h[0], TOK_HASHBYTES);
	}
	tok_hashkeys_free(ha);
	tok_hashkeys_free(hr);
	tok_hashkeys_free(NULL);
	tok_keys_free(a);
	tok_keys_free(rotated);
}

/* What atrest seals is under a key derived from the data key, not under the
 * data key itself (which roots the hash subkeys too); what was sealed under
 * the raw data key before still opens. */
static void
test_derived_key_and_the_old_form(void **state)
{
	unsigned char old[32], sealed[64], plain[32];
	unsigned long long n = 0;
	size_t len = 0;
	struct tok_keys *ks;

	(void)state;
	memset(old, 0x5a, sizeof(old));
	ks = tok_keys_new(old, 1);
	assert_non_null(ks);
	assert_int_equal(atrest_seal(sealed, sizeof(sealed), &len, ks,
	    (const unsigned char *)"0123456789abcdef", 16, "ad"), 0);
	assert_int_not_equal(crypto_aead_xchacha20poly1305_ietf_decrypt(plain, &n, NULL,
	    sealed + ATREST_NONCEBYTES, len - ATREST_NONCEBYTES, (const unsigned char *)"ad", 2,
	    sealed, old), 0);
	/* The old form: sealed under the old key. */
	randombytes_buf(sealed, ATREST_NONCEBYTES);
	assert_int_equal(crypto_aead_xchacha20poly1305_ietf_encrypt(sealed + ATREST_NONCEBYTES,
	    &n, (const unsigned char *)"fedcba9876543210", 16, (const unsigned char *)"ad", 2,
	    NULL, sealed, old), 0);
	assert_int_equal(atrest_open(plain, sizeof(plain), &len, ks, sealed,
	    ATREST_NONCEBYTES + (size_t)n, "ad"), 0);
	assert_int_equal(len, 16);
	assert_memory_equal(plain, "fedcba9876543210", 16);
	tok_keys_free(ks);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_seal_open),
		cmocka_unit_test(test_derived_key_and_the_old_form),
		cmocka_unit_test(test_hashes),
	};

	return cmocka_run_group_tests_name("atrest", tests, setup, NULL);
}
