/*
 * atrest.c - sealing at rest with libsodium's XChaCha20-Poly1305 (IETF AEAD),
 * under a key of its own derived from each data key (BLAKE2b keyed by the
 * data key, label "wxauth data box"), never under the data key itself,
 * which also roots the hash subkeys (subkeys.c). What was sealed under a
 * raw data key before (session_keys at rest) still opens: atrest_open tries
 * the derived keys, then the raw ones.
 */
#include <string.h>

#include <sodium.h>

#include "atrest.h"

#define ATREST_LABEL "wxauth data box"

/* atrest_key: the sealing key derived from data key k. */
static void
atrest_key(unsigned char out[crypto_aead_xchacha20poly1305_ietf_KEYBYTES],
    const unsigned char k[TOK_KEYBYTES])
{
	crypto_generichash(out, crypto_aead_xchacha20poly1305_ietf_KEYBYTES,
	    (const unsigned char *)ATREST_LABEL, sizeof ATREST_LABEL - 1, k, TOK_KEYBYTES);
}

int
atrest_seal(unsigned char *out, size_t outmax, size_t *outlen,
    const struct tok_keys *ks, const unsigned char *msg, size_t n, const char *ad)
{
	unsigned char k[crypto_aead_xchacha20poly1305_ietf_KEYBYTES];
	unsigned long long clen = 0;
	int rc = -1;

	if (ks == NULL || ks->n == 0 || outmax < ATREST_OVERHEAD ||
	    n > outmax - ATREST_OVERHEAD)
		return -1;
	atrest_key(k, ks->k[0].key);
	randombytes_buf(out, ATREST_NONCEBYTES);
	if (crypto_aead_xchacha20poly1305_ietf_encrypt(out + ATREST_NONCEBYTES,
	    &clen, msg, n, (const unsigned char *)ad, strlen(ad), NULL, out, k) == 0) {
		*outlen = ATREST_NONCEBYTES + (size_t)clen;
		rc = 0;
	}
	sodium_memzero(k, sizeof(k));
	return rc;
}

int
atrest_open(unsigned char *out, size_t outmax, size_t *outlen,
    const struct tok_keys *ks, const unsigned char *in, size_t n, const char *ad)
{
	unsigned char k[crypto_aead_xchacha20poly1305_ietf_KEYBYTES];
	unsigned long long mlen = 0;
	size_t i;
	int rc = -1;

	if (ks == NULL || n < ATREST_OVERHEAD || outmax < n - ATREST_OVERHEAD)
		return -1;
	/* The derived keys, then (i >= ks->n) the raw ones of before. */
	for (i = 0; i < 2 * ks->n && rc != 0; i++) {
		if (i < ks->n)
			atrest_key(k, ks->k[i].key);
		else
			memcpy(k, ks->k[i - ks->n].key, sizeof(k));
		if (crypto_aead_xchacha20poly1305_ietf_decrypt(out, &mlen, NULL,
		    in + ATREST_NONCEBYTES, n - ATREST_NONCEBYTES,
		    (const unsigned char *)ad, strlen(ad), in, k) == 0) {
			*outlen = (size_t)mlen;
			rc = 0;
		}
	}
	sodium_memzero(k, sizeof(k));
	return rc;
}
