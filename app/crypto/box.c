/*
 * box.c - sealing at rest with libsodium's XChaCha20-Poly1305 (IETF AEAD).
 */
#include <string.h>

#include <sodium.h>

#include "box.h"

int
box_seal(unsigned char *out, size_t outmax, size_t *outlen,
    const struct tok_keys *ks, const unsigned char *msg, size_t n, const char *ad)
{
	unsigned long long clen = 0;

	if (ks == NULL || ks->n == 0 || outmax < BOX_OVERHEAD ||
	    n > outmax - BOX_OVERHEAD)
		return -1;
	randombytes_buf(out, BOX_NONCEBYTES);
	if (crypto_aead_xchacha20poly1305_ietf_encrypt(out + BOX_NONCEBYTES,
	    &clen, msg, n, (const unsigned char *)ad, strlen(ad), NULL, out,
	    ks->k[0].key) != 0)
		return -1;
	*outlen = BOX_NONCEBYTES + (size_t)clen;
	return 0;
}

int
box_open(unsigned char *out, size_t outmax, size_t *outlen,
    const struct tok_keys *ks, const unsigned char *in, size_t n, const char *ad)
{
	unsigned long long mlen = 0;
	size_t i;

	if (ks == NULL || n < BOX_OVERHEAD || outmax < n - BOX_OVERHEAD)
		return -1;
	for (i = 0; i < ks->n; i++) {
		if (crypto_aead_xchacha20poly1305_ietf_decrypt(out, &mlen, NULL,
		    in + BOX_NONCEBYTES, n - BOX_NONCEBYTES,
		    (const unsigned char *)ad, strlen(ad), in, ks->k[i].key) == 0) {
			*outlen = (size_t)mlen;
			return 0;
		}
	}
	return -1;
}
