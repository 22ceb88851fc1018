/*
 * enc.c - base64 in its two alphabets and hex, as strict wrappers over
 * libsodium's constant-time codecs.
 *
 * Strictness is the point: decoders get ignore = NULL (no spaces or line
 * breaks), must consume every character they are given, and libsodium itself
 * refuses non-zero trailing bits, so every byte string has exactly one
 * accepted encoding in each alphabet.
 */
#include <assert.h>
#include <stdint.h>

#include <sodium.h>

#include "enc.h"

/* Above this, the encoded length computations could overflow size_t. */
#define ENC_INMAX (SIZE_MAX / 4 - 4)

static int
encode(char *out, size_t outlen, const unsigned char *in, size_t n, int variant)
{
	int rc = -1;

	assert(out != NULL);
	assert(in != NULL || n == 0);
	if (n > ENC_INMAX)
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
 * ascii: 1 when no byte of s has its high bit set. libsodium 1.0.18 reads
 * the input through a (signed) char, and its constant-time classifiers
 * then take most bytes >= 0x80 for alphabet characters ("Zm9\xc3" decodes),
 * so those bytes are refused here, without a data-dependent branch.
 */
static int
ascii(const char *s, size_t len)
{
	unsigned char acc = 0;
	size_t i;

	for (i = 0; i < len; i++)
		acc |= (unsigned char)s[i];
	return (acc & 0x80) == 0;
}

static int
decode(unsigned char *out, size_t outmax, size_t *outlen, const char *in,
    size_t len, int variant)
{
	const char *end = NULL;
	size_t binlen = 0;
	int rc = -1;

	assert(out != NULL && outlen != NULL);
	*outlen = 0;
	if (in == NULL || !ascii(in, len))
		goto out;
	/*
	 * ignore = NULL: a space or a line break is an error, not skipped.
	 * libsodium stops at the first character outside the alphabet and
	 * reports where in end; anything left over is trailing garbage.
	 */
	if (sodium_base642bin(out, outmax, in, len, NULL, &binlen, &end,
	    variant) != 0)
		goto out;
	if (end != in + len)
		goto out;
	*outlen = binlen;
	rc = 0;
out:
	return rc;
}

int
enc_b64url(char *out, size_t outlen, const unsigned char *in, size_t n)
{
	return encode(out, outlen, in, n, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
}

int
enc_b64(char *out, size_t outlen, const unsigned char *in, size_t n)
{
	return encode(out, outlen, in, n, sodium_base64_VARIANT_ORIGINAL);
}

int
enc_unb64url(unsigned char *out, size_t outmax, size_t *outlen, const char *in,
    size_t len)
{
	return decode(out, outmax, outlen, in, len,
	    sodium_base64_VARIANT_URLSAFE_NO_PADDING);
}

int
enc_unb64(unsigned char *out, size_t outmax, size_t *outlen, const char *in,
    size_t len)
{
	return decode(out, outmax, outlen, in, len, sodium_base64_VARIANT_ORIGINAL);
}

int
enc_hexval(int c)
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
enc_hex(char *out, const unsigned char *in, size_t n)
{
	assert(out != NULL && (in != NULL || n == 0));
	assert(n < SIZE_MAX / 2);
	sodium_bin2hex(out, n * 2 + 1, in != NULL ? in : (const unsigned char *)"", n);
}
