/*
 * paseto.c - PASETO v4 (tok.h): v4.local (tok_v4_encrypt, tok_v4_decrypt:
 * PAE, the BLAKE2b-derived keys, XChaCha20 and the BLAKE2b-256 tag) and
 * v4.public (tok_v4_sign, tok_v4_verify: Ed25519 over PAE), over libsodium,
 * to the byte of the specification (Version4.md); the official vectors run
 * in tests/unit/test_tok.c. Every derived key is wiped on every path.
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

#define V4_HEADER "v4.local."
#define V4_HEADERLEN (sizeof V4_HEADER - 1)
#define V4_EK_INFO "paseto-encryption-key"
#define V4_AK_INFO "paseto-auth-key-for-aead"
#define V4_EKBYTES 32           /* XChaCha20 key */
#define V4_N2BYTES 24           /* XChaCha20 nonce */
#define V4_AKBYTES 32           /* BLAKE2b key of the tag */
#define V4_PAE_PIECES 5         /* h, n, c, f, i */
#define V4P_HEADER "v4.public."
#define V4P_HEADERLEN (sizeof V4P_HEADER - 1)
#define V4P_SIGBYTES crypto_sign_BYTES

/* PAE's LE64: little-endian, top bit cleared as the specification says. */
static void
le64(unsigned char out[8], uint64_t n)
{
	size_t i;

	n &= (uint64_t)INT64_MAX;
	for (i = 0; i < 8; i++) {
		out[i] = (unsigned char)(n & 0xff);
		n >>= 8;
	}
}

/* One PAE piece, LE64(len) || p, fed to a running BLAKE2b. */
static int
pae_piece(crypto_generichash_state *st, const unsigned char *p, size_t len)
{
	unsigned char l[8];

	le64(l, len);
	if (crypto_generichash_update(st, l, sizeof l) != 0)
		return -1;
	return crypto_generichash_update(st, p != NULL ? p : (const unsigned char *)"", len);
}

/*
 * v4_keys: Ek || n2 = BLAKE2b-448(key = k, "paseto-encryption-key" || n) and
 * Ak = BLAKE2b-256(key = k, "paseto-auth-key-for-aead" || n). The caller
 * wipes ek, n2 and ak.
 */
static int
v4_keys(unsigned char ek[V4_EKBYTES], unsigned char n2[V4_N2BYTES],
    unsigned char ak[V4_AKBYTES], const unsigned char key[TOK_KEYBYTES],
    const unsigned char nonce[TOK_NONCEBYTES])
{
	unsigned char msg[sizeof V4_AK_INFO - 1 + TOK_NONCEBYTES];
	unsigned char tmp[V4_EKBYTES + V4_N2BYTES];
	const size_t eklen = sizeof V4_EK_INFO - 1, aklen = sizeof V4_AK_INFO - 1;
	int rc = -1;

	memcpy(msg, V4_EK_INFO, eklen);
	memcpy(msg + eklen, nonce, TOK_NONCEBYTES);
	if (crypto_generichash(tmp, sizeof tmp, msg, eklen + TOK_NONCEBYTES,
	    key, TOK_KEYBYTES) != 0)
		goto out;
	memcpy(ek, tmp, V4_EKBYTES);
	memcpy(n2, tmp + V4_EKBYTES, V4_N2BYTES);

	memcpy(msg, V4_AK_INFO, aklen);
	memcpy(msg + aklen, nonce, TOK_NONCEBYTES);
	if (crypto_generichash(ak, V4_AKBYTES, msg, aklen + TOK_NONCEBYTES,
	    key, TOK_KEYBYTES) != 0)
		goto out;
	rc = 0;
out:
	sodium_memzero(tmp, sizeof tmp);
	return rc;
}

/* v4_tag: t = BLAKE2b-256(key = Ak, PAE(h, n, c, f, i)), streamed. */
static int
v4_tag(unsigned char tag[TOK_MACBYTES], const unsigned char ak[V4_AKBYTES],
    const unsigned char *nonce, const unsigned char *c, size_t clen,
    const unsigned char *f, size_t flen, const unsigned char *i, size_t ilen)
{
	crypto_generichash_state st;
	unsigned char count[8];
	int rc = -1;

	le64(count, V4_PAE_PIECES);
	if (crypto_generichash_init(&st, ak, V4_AKBYTES, TOK_MACBYTES) != 0 ||
	    crypto_generichash_update(&st, count, sizeof count) != 0 ||
	    pae_piece(&st, (const unsigned char *)V4_HEADER, V4_HEADERLEN) != 0 ||
	    pae_piece(&st, nonce, TOK_NONCEBYTES) != 0 ||
	    pae_piece(&st, c, clen) != 0 ||
	    pae_piece(&st, f, flen) != 0 ||
	    pae_piece(&st, i, ilen) != 0 ||
	    crypto_generichash_final(&st, tag, TOK_MACBYTES) != 0)
		goto out;
	rc = 0;
out:
	/* The state holds Ak. */
	sodium_memzero(&st, sizeof st);
	return rc;
}

/* assemble: h || b64(body) [|| "." || b64(footer)] into out, NUL-ended.
 * 0, or -1 when it does not fit. */
static int
assemble(char *out, size_t outlen, const char *h, size_t hlen, const unsigned char *body,
    size_t bodylen, const unsigned char *footer, size_t footerlen)
{
	size_t pos = hlen;

	if (outlen <= hlen)
		return -1;
	memcpy(out, h, hlen);
	if (codec_b64url(out + pos, outlen - pos, body, bodylen) != 0)
		return -1;
	pos += strlen(out + pos);
	if (footerlen > 0) {
		/* '.' and at least the NUL. */
		if (outlen - pos < 2)
			return -1;
		out[pos++] = '.';
		if (codec_b64url(out + pos, outlen - pos, footer, footerlen) != 0)
			return -1;
	}
	return 0;
}

int
tok_v4_encrypt(char *out, size_t outlen, const unsigned char key[TOK_KEYBYTES],
    const unsigned char *msg, size_t msglen, const unsigned char *footer, size_t footerlen,
    const unsigned char *implicit, size_t implicitlen,
    const unsigned char *nonce)
{
	unsigned char n[TOK_NONCEBYTES], ek[V4_EKBYTES], n2[V4_N2BYTES], ak[V4_AKBYTES];
	unsigned char *body = NULL;
	size_t bodylen;
	int rc = -1;

	assert(out != NULL && key != NULL);
	assert(msg != NULL || msglen == 0);
	assert(footer != NULL || footerlen == 0);
	assert(implicit != NULL || implicitlen == 0);
	if (outlen > 0)
		out[0] = '\0';
	/* Far above anything real; keeps every length below from overflowing. */
	if (msglen > SIZE_MAX / 8 || footerlen > SIZE_MAX / 8)
		goto out;
	if (outlen < V4_HEADERLEN + CODEC_B64URL_LEN(TOK_NONCEBYTES + msglen + TOK_MACBYTES))
		goto out;

	bodylen = TOK_NONCEBYTES + msglen + TOK_MACBYTES;
	if ((body = malloc(bodylen)) == NULL)
		goto out;
	if (nonce != NULL)
		memcpy(n, nonce, TOK_NONCEBYTES);
	else
		randombytes_buf(n, sizeof n);
	if (v4_keys(ek, n2, ak, key, n) != 0)
		goto out;

	/* body = n || c || t */
	memcpy(body, n, TOK_NONCEBYTES);
	if (crypto_stream_xchacha20_xor(body + TOK_NONCEBYTES,
	    msg != NULL ? msg : (const unsigned char *)"", msglen, n2, ek) != 0)
		goto out;
	if (v4_tag(body + TOK_NONCEBYTES + msglen, ak, n, body + TOK_NONCEBYTES,
	    msglen, footer, footerlen, implicit, implicitlen) != 0)
		goto out;

	if (assemble(out, outlen, V4_HEADER, V4_HEADERLEN, body, bodylen, footer,
	    footerlen) != 0)
		goto out;
	rc = 0;
out:
	if (rc != 0 && outlen > 0)
		out[0] = '\0';
	sodium_memzero(ek, sizeof ek);
	sodium_memzero(n2, sizeof n2);
	sodium_memzero(ak, sizeof ak);
	free(body);
	return rc;
}

/*
 * parts: token = h || b64(body) [|| "." || b64(f)]: checks h, finds the
 * body's text (*b64, *b64len) and decodes the footer into *f (malloc'd,
 * the caller frees it; NULL and 0 when there is none), then checks it
 * against footer when that is non-NULL (in constant time, as the
 * specification asks). 0, or -1: another header, "h.x." with an empty
 * footer (we never write one and do not read it), bad base64url, another
 * footer, or out of memory.
 */
static int
parts(const char *token, const char *h, size_t hlen, const char **b64, size_t *b64len,
    unsigned char **f, size_t *flen, const unsigned char *footer, size_t footerlen)
{
	const char *dot, *ftxt;
	size_t tlen, ftxtlen;

	*f = NULL;
	*flen = 0;
	if (token == NULL)
		return -1;
	tlen = strlen(token);
	if (tlen < hlen || memcmp(token, h, hlen) != 0)
		return -1;
	*b64 = token + hlen;
	*b64len = tlen - hlen;
	if ((dot = memchr(*b64, '.', *b64len)) != NULL) {
		*b64len = (size_t)(dot - *b64);
		ftxt = dot + 1;
		ftxtlen = (size_t)(token + tlen - ftxt);
		/* Decoding never yields more bytes than characters. */
		if (ftxtlen == 0 || (*f = malloc(ftxtlen)) == NULL ||
		    codec_unb64url(*f, ftxtlen, flen, ftxt, ftxtlen) != 0)
			return -1;
	}
	if (footer != NULL && (*flen != footerlen ||
	    (*flen > 0 && sodium_memcmp(*f, footer, *flen) != 0)))
		return -1;
	return 0;
}

int
tok_v4_decrypt(unsigned char *out, size_t outmax, size_t *outlen,
    const unsigned char key[TOK_KEYBYTES], const char *token,
    const unsigned char *footer, size_t footerlen,
    const unsigned char *implicit, size_t implicitlen)
{
	unsigned char ek[V4_EKBYTES], n2[V4_N2BYTES], ak[V4_AKBYTES], tag[TOK_MACBYTES];
	unsigned char *body = NULL, *f = NULL;
	const char *b64;
	size_t b64len, bodylen = 0, flen = 0, clen;
	int rc = -1;

	assert(out != NULL && outlen != NULL && key != NULL);
	assert(footer != NULL || footerlen == 0);
	assert(implicit != NULL || implicitlen == 0);
	*outlen = 0;
	if (outmax > 0)
		out[0] = '\0';
	/* h || b64(n || c || t) [|| "." || b64(f)] */
	if (parts(token, V4_HEADER, V4_HEADERLEN, &b64, &b64len, &f, &flen, footer,
	    footerlen) != 0)
		goto out;

	if ((body = malloc(b64len > 0 ? b64len : 1)) == NULL)
		goto out;
	if (codec_unb64url(body, b64len, &bodylen, b64, b64len) != 0)
		goto out;
	if (bodylen < TOK_NONCEBYTES + TOK_MACBYTES)
		goto out;
	clen = bodylen - TOK_NONCEBYTES - TOK_MACBYTES;
	if (clen >= outmax)
		goto out;

	/* Authenticate first: nothing is decrypted under a forged tag. */
	if (v4_keys(ek, n2, ak, key, body) != 0)
		goto out;
	if (v4_tag(tag, ak, body, body + TOK_NONCEBYTES, clen, f, flen,
	    implicit, implicitlen) != 0)
		goto out;
	if (crypto_verify_32(tag, body + TOK_NONCEBYTES + clen) != 0)
		goto out;
	if (crypto_stream_xchacha20_xor(out, body + TOK_NONCEBYTES, clen, n2, ek) != 0)
		goto out;
	out[clen] = '\0';
	*outlen = clen;
	rc = 0;
out:
	sodium_memzero(ek, sizeof ek);
	sodium_memzero(n2, sizeof n2);
	sodium_memzero(ak, sizeof ak);
	sodium_memzero(tag, sizeof tag);
	free(body);
	free(f);
	return rc;
}

/*
 * pae: PAE(h, m, f, i) of v4.public into a buffer of its own (Ed25519 signs
 * the whole message, not a stream). NULL when out of memory or absurdly
 * long; the caller frees it.
 */
static unsigned char *
pae(size_t *len, const unsigned char *m, size_t mlen, const unsigned char *f, size_t flen,
    const unsigned char *i, size_t ilen)
{
	const unsigned char *piece[4] = {(const unsigned char *)V4P_HEADER, m, f, i};
	size_t plen[4] = {V4P_HEADERLEN, mlen, flen, ilen}, at = 8, n = 8 + 4 * 8, k;
	unsigned char *out;

	for (k = 0; k < 4; k++) {
		if (plen[k] > SIZE_MAX / 8)
			return NULL;
		n += plen[k];
	}
	if ((out = malloc(n)) == NULL)
		return NULL;
	le64(out, 4);
	for (k = 0; k < 4; k++) {
		le64(out + at, plen[k]);
		at += 8;
		if (plen[k] > 0)
			memcpy(out + at, piece[k], plen[k]);
		at += plen[k];
	}
	*len = n;
	return out;
}

int
tok_v4_sign(char *out, size_t outlen, const unsigned char sk[TOK_SECRETBYTES],
    const unsigned char *msg, size_t msglen, const unsigned char *footer, size_t footerlen,
    const unsigned char *implicit, size_t implicitlen)
{
	unsigned char *m2 = NULL, *body = NULL;
	size_t m2len = 0;
	int rc = -1;

	assert(out != NULL && sk != NULL);
	assert(msg != NULL || msglen == 0);
	assert(footer != NULL || footerlen == 0);
	assert(implicit != NULL || implicitlen == 0);
	if (outlen > 0)
		out[0] = '\0';
	if (msglen > SIZE_MAX / 8 || footerlen > SIZE_MAX / 8)
		goto out;
	if (outlen < V4P_HEADERLEN + CODEC_B64URL_LEN(msglen + V4P_SIGBYTES))
		goto out;
	if ((m2 = pae(&m2len, msg, msglen, footer, footerlen, implicit, implicitlen)) == NULL ||
	    (body = malloc(msglen + V4P_SIGBYTES)) == NULL)
		goto out;
	/* body = m || sig, sig = Ed25519(sk, PAE(h, m, f, i)) */
	if (msglen > 0)
		memcpy(body, msg, msglen);
	if (crypto_sign_detached(body + msglen, NULL, m2, m2len, sk) != 0)
		goto out;
	if (assemble(out, outlen, V4P_HEADER, V4P_HEADERLEN, body, msglen + V4P_SIGBYTES,
	    footer, footerlen) != 0)
		goto out;
	rc = 0;
out:
	if (rc != 0 && outlen > 0)
		out[0] = '\0';
	free(m2);
	free(body);
	return rc;
}

int
tok_v4_verify(unsigned char *out, size_t outmax, size_t *outlen,
    const unsigned char pk[TOK_PUBLICBYTES], const char *token,
    const unsigned char *footer, size_t footerlen,
    const unsigned char *implicit, size_t implicitlen)
{
	unsigned char *body = NULL, *f = NULL, *m2 = NULL;
	const char *b64;
	size_t b64len, bodylen = 0, flen = 0, mlen, m2len = 0;
	int rc = -1;

	assert(out != NULL && outlen != NULL && pk != NULL);
	assert(footer != NULL || footerlen == 0);
	assert(implicit != NULL || implicitlen == 0);
	*outlen = 0;
	if (outmax > 0)
		out[0] = '\0';
	/* h || b64(m || sig) [|| "." || b64(f)] */
	if (parts(token, V4P_HEADER, V4P_HEADERLEN, &b64, &b64len, &f, &flen, footer,
	    footerlen) != 0)
		goto out;
	if ((body = malloc(b64len > 0 ? b64len : 1)) == NULL ||
	    codec_unb64url(body, b64len, &bodylen, b64, b64len) != 0 ||
	    bodylen < V4P_SIGBYTES)
		goto out;
	mlen = bodylen - V4P_SIGBYTES;
	if (mlen >= outmax)
		goto out;
	if ((m2 = pae(&m2len, body, mlen, f, flen, implicit, implicitlen)) == NULL)
		goto out;
	if (crypto_sign_verify_detached(body + mlen, m2, m2len, pk) != 0)
		goto out;
	memcpy(out, body, mlen);
	out[mlen] = '\0';
	*outlen = mlen;
	rc = 0;
out:
	free(body);
	free(f);
	free(m2);
	return rc;
}
