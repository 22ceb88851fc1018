/*
 * box.c - sealing at rest with libsodium's XChaCha20-Poly1305 (IETF AEAD),
 * under a key of its own derived from each data key (BLAKE2b keyed by the
 * data key, label "wxauth data box"), never under the data key itself,
 * which also roots the hash subkeys (subkeys.c). What was sealed under a
 * raw data key before (session_keys at rest) still opens: box_open tries
 * the derived keys, then the raw ones.
 */
#include <string.h>

#include <sodium.h>

#include "box.h"

#define BOX_LABEL "wxauth data box"

/* box_key: the box's key of data key k. */
static void
box_key(unsigned char out[crypto_aead_xchacha20poly1305_ietf_KEYBYTES],
    const unsigned char k[TOK_KEYBYTES])
{
	crypto_generichash(out, crypto_aead_xchacha20poly1305_ietf_KEYBYTES,
	    (const unsigned char *)BOX_LABEL, sizeof BOX_LABEL - 1, k, TOK_KEYBYTES);
}

int
box_seal(unsigned char *out, size_t outmax, size_t *outlen,
    const struct tok_keys *ks, const unsigned char *msg, size_t n, const char *ad)
{
	unsigned char k[crypto_aead_xchacha20poly1305_ietf_KEYBYTES];
	unsigned long long clen = 0;
	int rc = -1;

	if (ks == NULL || ks->n == 0 || outmax < BOX_OVERHEAD ||
	    n > outmax - BOX_OVERHEAD)
		return -1;
	box_key(k, ks->k[0].key);
	randombytes_buf(out, BOX_NONCEBYTES);
	if (crypto_aead_xchacha20poly1305_ietf_encrypt(out + BOX_NONCEBYTES,
	    &clen, msg, n, (const unsigned char *)ad, strlen(ad), NULL, out, k) == 0) {
		*outlen = BOX_NONCEBYTES + (size_t)clen;
		rc = 0;
	}
	sodium_memzero(k, sizeof(k));
	return rc;
}

int
box_open(unsigned char *out, size_t outmax, size_t *outlen,
    const struct tok_keys *ks, const unsigned char *in, size_t n, const char *ad)
{
	unsigned char k[crypto_aead_xchacha20poly1305_ietf_KEYBYTES];
	unsigned long long mlen = 0;
	size_t i;
	int rc = -1;

	if (ks == NULL || n < BOX_OVERHEAD || outmax < n - BOX_OVERHEAD)
		return -1;
	/* The derived keys, then (i >= ks->n) the raw ones of before. */
	for (i = 0; i < 2 * ks->n && rc != 0; i++) {
		if (i < ks->n)
			box_key(k, ks->k[i].key);
		else
			memcpy(k, ks->k[i - ks->n].key, sizeof(k));
		if (crypto_aead_xchacha20poly1305_ietf_decrypt(out, &mlen, NULL,
		    in + BOX_NONCEBYTES, n - BOX_NONCEBYTES,
		    (const unsigned char *)ad, strlen(ad), in, k) == 0) {
			*outlen = (size_t)mlen;
			rc = 0;
		}
	}
	sodium_memzero(k, sizeof(k));
	return rc;
}
