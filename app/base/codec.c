/*
 * codec.c - base64 in its two alphabets and hex. Encoding is libsodium's;
 * decoding is our own constant-time loop (libsodium's sodium_base642bin,
 * character by character with its ignore set, was the largest single cost
 * of a token check: 9 % of the gate workers' time).
 *
 * Strictness is the point: no spaces or line breaks, every character given
 * is consumed, padding exactly where it belongs, non-zero trailing bits
 * refused, so every byte string has exactly one accepted encoding in each
 * alphabet.
 */
/* The decoders' loops are written to be vectorised, which -O2's cost model
 * (GCC 12) declines: 4 times faster with it. */
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC optimize("tree-vectorize", "vect-cost-model=dynamic")
#endif
#include <assert.h>
#include <stdint.h>

#include <sodium.h>

#include "codec.h"

/* Above this, the encoded length computations could overflow size_t. */
#define CODEC_INMAX (SIZE_MAX / 4 - 4)

static int
encode(char *out, size_t outlen, const unsigned char *in, size_t n, int variant)
{
	int rc = -1;

	assert(out != NULL);
	assert(in != NULL || n == 0);
	if (n > CODEC_INMAX)
		goto out;
	/* sodium_bin2base64 aborts on a short buffer; check before calling. */
	if (outlen < sodium_base64_ENCODED_LEN(n, variant))
		goto out;
	/* libsodium reads nothing when n is 0, but wants a pointer. */
	sodium_bin2base64(out, outlen, in != NULL ? in : (const unsigned char *)"",
	    n, variant);
	rc = 0;
out:
	return rc;
}

/*
 * sixbit: the value of character c in the alphabet whose last two
 * characters are c62 and c63, or -1; without a branch or a table lookup on
 * c (the arithmetic of Sc00bz's constant-time base64: a range test is
 * ((lo - 1 - x) & (x - hi - 1)) >> 8, all ones inside [lo, hi] and zero
 * outside, for x in 0..255). Bytes >= 0x80 and NUL are -1. Inlined with
 * constant c62 and c63, so that the loop below vectorises.
 */
static inline __attribute__((always_inline)) int
sixbit(unsigned char c, int c62, int c63)
{
	int x = c, r = -1;

	r += (((64 - x) & (x - 91)) >> 8) & (x - 64);           /* A-Z: 0..25 */
	r += (((96 - x) & (x - 123)) >> 8) & (x - 70);          /* a-z: 26..51 */
	r += (((47 - x) & (x - 58)) >> 8) & (x + 5);            /* 0-9: 52..61 */
	r += (((c62 - 1 - x) & (x - c62 - 1)) >> 8) & 63;
	r += (((c63 - 1 - x) & (x - c63 - 1)) >> 8) & 64;
	return r;
}

/* CHUNK: characters classified at a time (a multiple of four). SIX: a
 * classified character's six bits, unsigned. */
#define CHUNK 256
#define SIX(x) ((unsigned)(x) & 0x3fu)

/*
 * decode: exactly len characters of in, in the alphabet of c62 and c63,
 * padded ('=' up to a multiple of four) or not. The time taken depends on
 * len and on where the padding starts (the decoded length, which the
 * length already tells), never on the characters: every character is
 * classified, and one accumulated sign bit says whether any was outside
 * the alphabet. Spare bits of the last group must be zero, so each byte
 * string has one accepted encoding.
 */
static inline __attribute__((always_inline)) int
decode(unsigned char *out, size_t outmax, size_t *outlen, const char *in,
    size_t len, int c62, int c63, int padded)
{
	const unsigned char *s = (const unsigned char *)in;
	signed char v[CHUNK];
	size_t need, done, n, i = 0, o = 0;
	int bad = 0, tail;

	assert(out != NULL && outlen != NULL);
	*outlen = 0;
	if (in == NULL)
		return -1;
	if (padded) {
		if (len % 4 != 0)
			return -1;
		/* The padding's place is the decoded length: public. */
		if (len > 0 && s[len - 1] == '=')
			len -= s[len - 2] == '=' ? 2 : 1;
	}
	tail = (int)(len % 4);
	if (tail == 1)
		return -1;
	need = len / 4 * 3 + (tail == 0 ? 0 : (size_t)tail - 1);
	if (need > outmax)
		return -1;
	for (done = 0; done < len; done += n, s += n) {
		n = len - done < CHUNK ? len - done : CHUNK;
		for (i = 0; i < n; i++)
			v[i] = (signed char)sixbit(s[i], c62, c63);
		for (i = 0; i < n; i++)
			bad |= v[i];
		for (i = 0; i + 4 <= n; i += 4) {
			out[o++] = (unsigned char)(SIX(v[i]) << 2 | SIX(v[i + 1]) >> 4);
			out[o++] = (unsigned char)(SIX(v[i + 1]) << 4 | SIX(v[i + 2]) >> 2);
			out[o++] = (unsigned char)(SIX(v[i + 2]) << 6 | SIX(v[i + 3]));
		}
	}
	/* The last 2 or 3 characters (n - i of them, in the last chunk). */
	if (tail >= 2) {
		out[o++] = (unsigned char)(SIX(v[i]) << 2 | SIX(v[i + 1]) >> 4);
		if (tail == 3) {
			out[o++] = (unsigned char)(SIX(v[i + 1]) << 4 | SIX(v[i + 2]) >> 2);
			bad |= -(v[i + 2] & 3);         /* spare bits set: negative */
		} else {
			bad |= -(v[i + 1] & 15);
		}
	}
	if (bad < 0) {
		sodium_memzero(out, o);
		return -1;
	}
	*outlen = o;
	return 0;
}

int
codec_b64url(char *out, size_t outlen, const unsigned char *in, size_t n)
{
	return encode(out, outlen, in, n, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
}

int
codec_b64(char *out, size_t outlen, const unsigned char *in, size_t n)
{
	return encode(out, outlen, in, n, sodium_base64_VARIANT_ORIGINAL);
}

int
codec_unb64url(unsigned char *out, size_t outmax, size_t *outlen, const char *in,
    size_t len)
{
	return decode(out, outmax, outlen, in, len, '-', '_', 0);
}

int
codec_unb64(unsigned char *out, size_t outmax, size_t *outlen, const char *in,
    size_t len)
{
	return decode(out, outmax, outlen, in, len, '+', '/', 1);
}

int
codec_hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

void
codec_hex(char *out, const unsigned char *in, size_t n)
{
	assert(out != NULL && (in != NULL || n == 0));
	assert(n < SIZE_MAX / 2);
	sodium_bin2hex(out, n * 2 + 1, in != NULL ? in : (const unsigned char *)"", n);
}
