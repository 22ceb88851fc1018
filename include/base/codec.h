/*
 * codec.h - base64 in its two alphabets, with constant-time decoders.
 * Strict: no spaces, no line breaks; decoders refuse anything else.
 */
#ifndef WXAUTH_CODEC_H
#define WXAUTH_CODEC_H

#include <stddef.h>
#include "common.h"

/* Encoded length (with NUL) of n bytes as unpadded base64url. */
#define CODEC_B64URL_LEN(n) ((((n) * 4) + 2) / 3 + 1)

/*
 * codec_b64url / codec_b64: encode n bytes into out (outlen bytes, NUL
 * terminated). codec_b64url writes unpadded base64url (PASETO, refresh tokens),
 * codec_b64 writes padded standard base64 (WeChat's alphabet). Return 0, or -1
 * when out is too small.
 */
int codec_b64url(char *out, size_t outlen, const unsigned char *in, size_t n) WARN_UNUSED;
int codec_b64(char *out, size_t outlen, const unsigned char *in, size_t n) WARN_UNUSED;

/*
 * codec_unb64url / codec_unb64: decode exactly len characters of in into out
 * (at most outmax bytes), setting *outlen (0 on failure). codec_unb64url takes
 * unpadded base64url only; codec_unb64 takes padded standard base64 only.
 * Return 0, or -1 on any character outside the alphabet (whitespace, NUL and
 * bytes >= 0x80 included), missing, extra or misplaced padding, non-zero
 * spare bits (so each byte string has one accepted encoding), trailing data
 * or too small a buffer. The empty string decodes to zero bytes.
 */
int codec_unb64url(unsigned char *out, size_t outmax, size_t *outlen,
    const char *in, size_t len) WARN_UNUSED;
int codec_unb64(unsigned char *out, size_t outmax, size_t *outlen,
    const char *in, size_t len) WARN_UNUSED;

/* codec_hexval: the value of hex digit c (either case), or -1. */
int codec_hexval(int c);

/* codec_hex: lower-case hex of n bytes into out (2n+1 bytes). */
void codec_hex(char *out, const unsigned char *in, size_t n);

#endif
