/*
 * wxdata.h - WeChat's legacy open data: the encryptedData blobs
 * (AES-128-CBC with strict PKCS#7, OpenSSL's libcrypto), the rawData
 * signature (SHA-1, libcrypto) and the session_key HMAC that checksession
 * wants (HMAC-SHA-256, libsodium).
 *
 * Every check that involves a secret compares in constant time, and every
 * buffer that held a key or a plaintext is wiped before it is released.
 * Nothing here logs.
 */
#ifndef WXAUTH_WXDATA_H
#define WXAUTH_WXDATA_H

#include <stddef.h>
#include <stdint.h>

#include <json-c/json.h>

#include "common.h"

#define WXDATA_KEYBYTES 16      /* AES-128: the decoded session_key */
#define WXDATA_IVBYTES 16
#define WXDATA_BLOCK 16
#define WXDATA_SHA1_HEX 41      /* 40 hex characters and NUL */
#define WXDATA_HMAC_HEX 65      /* 64 hex characters and NUL */
#define WXDATA_ENC_MAX 8192     /* longest encryptedData accepted, in base64 characters */
#define WXDATA_SKEW 300         /* seconds a watermark may lie in the future (clocks differ) */
#define WXDATA_PHONE_MAX 32

/*
 * wxdata_decrypt: AES-128-CBC decryption of n bytes of in (a positive
 * multiple of 16) under key and iv, then strict PKCS#7: the last byte p is
 * 1..16 and the last p bytes all equal p. Writes the plaintext without its
 * padding into out (outmax must be at least n + 1; the plaintext is NUL
 * terminated for convenience) and its length into *outlen. Returns 0, or -1
 * for a bad length, a padding failure or an OpenSSL failure; on -1 out is
 * wiped and *outlen is 0.
 */
int wxdata_decrypt(unsigned char *out, size_t outmax, size_t *outlen,
    const unsigned char key[WXDATA_KEYBYTES], const unsigned char iv[WXDATA_IVBYTES],
    const unsigned char *in, size_t n) WARN_UNUSED;

/*
 * wxdata_signature_check: sig is sha1(raw || session_key) in hex (40
 * characters; upper-case hex is accepted too), compared in constant time.
 * raw is rawlen bytes, exactly as the client sent them; session_key is the
 * base64 TEXT WeChat gave. Returns 0 when it matches, else -1.
 */
int wxdata_signature_check(const char *raw, size_t rawlen, const char *session_key,
    const char *sig) WARN_UNUSED;

/*
 * wxdata_hmac_hex: HMAC-SHA-256 of n bytes of msg under key (a NUL
 * terminated string used as the key bytes: checksession's key is the
 * session_key's base64 text, not its decoded bytes), as lower-case hex into
 * out.
 */
void wxdata_hmac_hex(char out[WXDATA_HMAC_HEX], const char *key,
    const unsigned char *msg, size_t n);

/* An encryptedData blob and its iv, decoded from base64. */
struct wxdata_blob {
	unsigned char *data;    /* malloc'd, len bytes */
	size_t len;
	unsigned char iv[WXDATA_IVBYTES];
};

/*
 * wxdata_blob_decode: decode encryptedData and iv (strict standard base64:
 * a '+' turned into a space is refused). Returns OK with b filled (release
 * with wxdata_blob_cleanup), ERR_INVALID_REQUEST with why naming the field
 * (data empty, not a multiple of 16 bytes or too long; iv not 16 bytes), or
 * ERR_INTERNAL. b is always safe to clean up.
 */
enum err wxdata_blob_decode(struct wxdata_blob *b, const char *enc, const char *iv,
    char *why, size_t whylen) WARN_UNUSED;
void wxdata_blob_cleanup(struct wxdata_blob *b);

/*
 * wxdata_open: decrypt b under session_key (base64 of 16 bytes), parse the
 * plaintext as one JSON object and check its watermark: appid must equal
 * appid, timestamp must be no older than max_age seconds before now (nor
 * more than WXDATA_SKEW after it). Returns OK with *out the object (the
 * caller puts it), ERR_SESSION_KEY_STALE (key not 16 bytes, padding, not a
 * JSON object: all what a stale key looks like), or ERR_WATERMARK_MISMATCH
 * with why saying what (no watermark, another app, too old).
 */
enum err wxdata_open(const struct wxdata_blob *b, const char *session_key,
    const char *appid, int64_t now, long max_age, struct json_object **out,
    char *why, size_t whylen) WARN_UNUSED;

/* A phone number, from getuserphonenumber's phone_info or a decrypted blob. */
struct wxdata_phone {
	char phone_number[WXDATA_PHONE_MAX];    /* as WeChat spells it, "+86 138..." or "138..." */
	char pure_phone_number[WXDATA_PHONE_MAX]; /* digits only */
	char country_code[8];                   /* digits only, "86" */
};

/*
 * wxdata_phone_parse: the phone fields of o (phoneNumber, purePhoneNumber,
 * countryCode as a string or a number). Returns 0, or -1 when one is
 * missing or malformed (phoneNumber of '+', digits, spaces and '-';
 * purePhoneNumber of 3..20 digits; countryCode of 1..4 digits).
 */
int wxdata_phone_parse(struct json_object *o, struct wxdata_phone *out) WARN_UNUSED;

#endif
