/*
 * wxdata.c - WeChat's legacy open data: AES-128-CBC and SHA-1 from OpenSSL's
 * libcrypto (libsodium has neither), HMAC-SHA-256 and constant-time
 * comparisons from libsodium.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#include <sodium.h>

#include "codec.h"
#include "wxdata.h"

#define JSON_DEPTH 16

int
wxdata_decrypt(unsigned char *out, size_t outmax, size_t *outlen,
    const unsigned char key[WXDATA_KEYBYTES], const unsigned char iv[WXDATA_IVBYTES],
    const unsigned char *in, size_t n)
{
	EVP_CIPHER_CTX *ctx = NULL;
	unsigned char pad, bad = 0;
	size_t i;
	int len = 0, fin = 0, rc = -1;

	*outlen = 0;
	if (n == 0 || n % WXDATA_BLOCK != 0 || n > (size_t)0x7fffffff - WXDATA_BLOCK ||
	    outmax < n + 1)
		goto out;
	if ((ctx = EVP_CIPHER_CTX_new()) == NULL ||
	    EVP_DecryptInit_ex(ctx, EVP_aes_128_cbc(), NULL, key, iv) != 1)
		goto out;
	/* Padding is checked below, strictly and in one place: OpenSSL's own
	 * check is switched off so that every failure looks the same. */
	EVP_CIPHER_CTX_set_padding(ctx, 0);
	if (EVP_DecryptUpdate(ctx, out, &len, in, (int)n) != 1 ||
	    EVP_DecryptFinal_ex(ctx, out + len, &fin) != 1 ||
	    (size_t)len + (size_t)fin != n)
		goto out;
	/* PKCS#7: the last byte p is 1..16 and the last p bytes equal p. The
	 * loop looks at the last 16 bytes whatever p is, so that the time it
	 * takes does not depend on the padding. */
	pad = out[n - 1];
	bad |= (unsigned char)(pad == 0);
	bad |= (unsigned char)(pad > WXDATA_BLOCK);
	for (i = 0; i < WXDATA_BLOCK; i++) {
		unsigned char in_pad = (unsigned char)(i < pad);

		bad |= (unsigned char)(in_pad & (out[n - 1 - i] != pad));
	}
	if (bad)
		goto out;
	*outlen = n - pad;
	out[*outlen] = '\0';
	rc = 0;
out:
	if (rc != 0 && outmax > 0)
		sodium_memzero(out, outmax < n + 1 ? outmax : n + 1);
	EVP_CIPHER_CTX_free(ctx);
	return rc;
}

int
wxdata_signature_check(const char *raw, size_t rawlen, const char *session_key,
    const char *sig)
{
	EVP_MD_CTX *ctx = NULL;
	unsigned char md[EVP_MAX_MD_SIZE];
	char want[WXDATA_SHA1_HEX], got[WXDATA_SHA1_HEX];
	unsigned int mdlen = 0;
	size_t i;
	int rc = -1;

	if (strlen(sig) != WXDATA_SHA1_HEX - 1)
		goto out;
	for (i = 0; i < WXDATA_SHA1_HEX - 1; i++)
		got[i] = (char)tolower((unsigned char)sig[i]);
	got[i] = '\0';
	if ((ctx = EVP_MD_CTX_new()) == NULL ||
	    EVP_DigestInit_ex(ctx, EVP_sha1(), NULL) != 1 ||
	    EVP_DigestUpdate(ctx, raw, rawlen) != 1 ||
	    EVP_DigestUpdate(ctx, session_key, strlen(session_key)) != 1 ||
	    EVP_DigestFinal_ex(ctx, md, &mdlen) != 1 || mdlen != 20)
		goto out;
	codec_hex(want, md, mdlen);
	if (sodium_memcmp(want, got, WXDATA_SHA1_HEX - 1) == 0)
		rc = 0;
out:
	EVP_MD_CTX_free(ctx);
	sodium_memzero(md, sizeof(md));
	return rc;
}

void
wxdata_hmac_hex(char out[WXDATA_HMAC_HEX], const char *key,
    const unsigned char *msg, size_t n)
{
	crypto_auth_hmacsha256_state st;
	unsigned char mac[crypto_auth_hmacsha256_BYTES];

	crypto_auth_hmacsha256_init(&st, (const unsigned char *)key, strlen(key));
	crypto_auth_hmacsha256_update(&st, msg, n);
	crypto_auth_hmacsha256_final(&st, mac);
	codec_hex(out, mac, sizeof(mac));
	sodium_memzero(&st, sizeof(st));
	sodium_memzero(mac, sizeof(mac));
}

enum err
wxdata_blob_decode(struct wxdata_blob *b, const char *enc, const char *iv,
    char *why, size_t whylen)
{
	size_t elen = strlen(enc), ivlen = 0;

	memset(b, 0, sizeof(*b));
	if (elen == 0 || elen > WXDATA_ENC_MAX) {
		snprintf(why, whylen, "field 'encryptedData' has a wrong length");
		return ERR_INVALID_REQUEST;
	}
	if ((b->data = malloc(elen)) == NULL)
		return ERR_INTERNAL;
	/* Strict base64: a '+' that a form encoding turned into a space is
	 * refused here, not decrypted into garbage. */
	if (codec_unb64(b->data, elen, &b->len, enc, elen) == -1 || b->len == 0 ||
	    b->len % WXDATA_BLOCK != 0) {
		snprintf(why, whylen, "field 'encryptedData' must be standard base64 "
		    "of whole 16-byte blocks (send JSON, not a form: '+' must stay '+')");
		wxdata_blob_cleanup(b);
		return ERR_INVALID_REQUEST;
	}
	if (codec_unb64(b->iv, sizeof(b->iv), &ivlen, iv, strlen(iv)) == -1 ||
	    ivlen != WXDATA_IVBYTES) {
		snprintf(why, whylen, "field 'iv' must be standard base64 of 16 bytes");
		wxdata_blob_cleanup(b);
		return ERR_INVALID_REQUEST;
	}
	return OK;
}

void
wxdata_blob_cleanup(struct wxdata_blob *b)
{
	if (b->data != NULL) {
		sodium_memzero(b->data, b->len);
		free(b->data);
	}
	memset(b, 0, sizeof(*b));
}

/* parse: the plaintext as exactly one JSON object of valid UTF-8. */
static struct json_object *
parse(const unsigned char *p, size_t n)
{
	struct json_tokener *tok = NULL;
	struct json_object *o = NULL;
	size_t off;

	if (n == 0 || n > (size_t)0x7fffffff || memchr(p, '\0', n) != NULL)
		return NULL;
	if ((tok = json_tokener_new_ex(JSON_DEPTH)) == NULL)
		return NULL;
	json_tokener_set_flags(tok, JSON_TOKENER_STRICT | JSON_TOKENER_VALIDATE_UTF8);
	o = json_tokener_parse_ex(tok, (const char *)p, (int)n);
	if (o == NULL || json_tokener_get_error(tok) != json_tokener_success)
		goto fail;
	for (off = json_tokener_get_parse_end(tok); off < n; off++)
		if (!isspace(p[off]))
			goto fail;
	if (!json_object_is_type(o, json_type_object))
		goto fail;
	json_tokener_free(tok);
	return o;
fail:
	json_object_put(o);
	json_tokener_free(tok);
	return NULL;
}

/* watermark: OK, or ERR_WATERMARK_MISMATCH with why. */
static enum err
watermark(struct json_object *o, const char *appid, int64_t now, long max_age,
    char *why, size_t whylen)
{
	struct json_object *wm, *v;
	int64_t ts;

	if (!json_object_object_get_ex(o, "watermark", &wm) ||
	    !json_object_is_type(wm, json_type_object)) {
		snprintf(why, whylen, "the decrypted data has no watermark");
		return ERR_WATERMARK_MISMATCH;
	}
	if (!json_object_object_get_ex(wm, "appid", &v) ||
	    !json_object_is_type(v, json_type_string) ||
	    strcmp(json_object_get_string(v), appid) != 0) {
		snprintf(why, whylen, "the data was issued for another app");
		return ERR_WATERMARK_MISMATCH;
	}
	if (!json_object_object_get_ex(wm, "timestamp", &v) ||
	    !json_object_is_type(v, json_type_int)) {
		snprintf(why, whylen, "the watermark has no timestamp");
		return ERR_WATERMARK_MISMATCH;
	}
	ts = json_object_get_int64(v);
	if (ts < now - max_age) {
		snprintf(why, whylen, "the data is too old: its watermark is more "
		    "than %ld seconds old", max_age);
		return ERR_WATERMARK_MISMATCH;
	}
	if (ts > now + WXDATA_SKEW) {
		snprintf(why, whylen, "the watermark's timestamp is in the future");
		return ERR_WATERMARK_MISMATCH;
	}
	return OK;
}

enum err
wxdata_open(const struct wxdata_blob *b, const char *session_key,
    const char *appid, int64_t now, long max_age, struct json_object **out,
    char *why, size_t whylen)
{
	unsigned char key[WXDATA_KEYBYTES + 8], *plain = NULL;
	struct json_object *o = NULL;
	size_t keylen = 0, plainlen = 0;
	enum err rc = ERR_SESSION_KEY_STALE;

	*out = NULL;
	if (codec_unb64(key, sizeof(key), &keylen, session_key, strlen(session_key)) == -1 ||
	    keylen != WXDATA_KEYBYTES)
		goto out;
	if ((plain = malloc(b->len + 1)) == NULL) {
		rc = ERR_INTERNAL;
		goto out;
	}
	/* A wrong key passes the padding check about once in 256 tries, so
	 * the JSON and its watermark are what really tell. */
	if (wxdata_decrypt(plain, b->len + 1, &plainlen, key, b->iv, b->data, b->len) == -1 ||
	    (o = parse(plain, plainlen)) == NULL)
		goto out;
	if ((rc = watermark(o, appid, now, max_age, why, whylen)) != OK)
		goto out;
	*out = o;
	o = NULL;
	rc = OK;
out:
	json_object_put(o);
	sodium_memzero(key, sizeof(key));
	if (plain != NULL) {
		sodium_memzero(plain, b->len + 1);
		free(plain);
	}
	return rc;
}

/* copy_chars: s into dst when it has minlen..dstlen-1 characters, all of
 * them in allowed. */
static int
copy_chars(char *dst, size_t dstlen, const char *s, size_t minlen, const char *allowed)
{
	size_t n = strlen(s);

	if (n < minlen || n >= dstlen || strspn(s, allowed) != n)
		return -1;
	memcpy(dst, s, n + 1);
	return 0;
}

int
wxdata_phone_parse(struct json_object *o, struct wxdata_phone *out)
{
	struct json_object *v;
	char num[24];

	memset(out, 0, sizeof(*out));
	if (!json_object_object_get_ex(o, "phoneNumber", &v) ||
	    !json_object_is_type(v, json_type_string) ||
	    copy_chars(out->phone_number, sizeof(out->phone_number),
	    json_object_get_string(v), 3, "+0123456789 -") == -1)
		goto fail;
	if (!json_object_object_get_ex(o, "purePhoneNumber", &v) ||
	    !json_object_is_type(v, json_type_string) ||
	    copy_chars(out->pure_phone_number, 21, json_object_get_string(v), 3,
	    "0123456789") == -1)
		goto fail;
	/* countryCode comes as "86" or as 86. */
	if (!json_object_object_get_ex(o, "countryCode", &v))
		goto fail;
	if (json_object_is_type(v, json_type_int)) {
		if (json_object_get_int64(v) < 1 || json_object_get_int64(v) > 9999)
			goto fail;
		snprintf(num, sizeof(num), "%lld", (long long)json_object_get_int64(v));
	} else if (json_object_is_type(v, json_type_string)) {
		snprintf(num, sizeof(num), "%s", json_object_get_string(v));
	} else {
		goto fail;
	}
	if (copy_chars(out->country_code, 5, num, 1, "0123456789") == -1)
		goto fail;
	return 0;
fail:
	sodium_memzero(out, sizeof(*out));
	return -1;
}
