/*
 * WeChat's open data: every entry of the official vectors in
 * $WXAUTH_VECTORS/wechat-open-data.json (default tests/vectors, relative to
 * the repository root) for decrypt, decrypt_fail, signature and hmac, then
 * PKCS#7 edge cases, the watermark's age, the phone fields and base64.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <json-c/json.h>
#include <openssl/evp.h>
#include <sodium.h>

#include "codec.h"
#include "helpers.h"
#include "wxdata.h"

#define DEMO_APPID "wx4f4bc4dec97d474b"
#define DEMO_TS 1477314187      /* the official vector's watermark timestamp */
#define DAY 86400L

/* ---------------------------------------------------------------- helpers */

static struct json_object *vectors;

static int
setup(void **state)
{
	char path[1024];
	int n;

	(void)state;
	n = snprintf(path, sizeof path, "%s/wechat-open-data.json", vectors_dir());
	if (n < 0 || (size_t)n >= sizeof path)
		return -1;
	if ((vectors = json_object_from_file(path)) == NULL) {
		fprintf(stderr, "cannot read %s (set WXAUTH_VECTORS): %s\n", path,
		    json_util_get_last_err());
		return -1;
	}
	return 0;
}

static int
teardown(void **state)
{
	(void)state;
	json_object_put(vectors);
	return 0;
}

/* The array of vectors named group; at least one entry. */
static struct json_object *
group(const char *name)
{
	struct json_object *a = NULL;

	assert_true(json_object_object_get_ex(vectors, name, &a));
	assert_true(json_object_is_type(a, json_type_array));
	assert_true(json_object_array_length(a) > 0);
	return a;
}

/* AES-128-CBC without padding: the tests add whatever padding they want. */
static size_t
encrypt_raw(unsigned char *out, const unsigned char key[16], const unsigned char iv[16],
    const unsigned char *in, size_t n)
{
	EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
	int len = 0, fin = 0;

	assert_non_null(ctx);
	assert_int_equal(n % 16, 0);
	assert_int_equal(EVP_EncryptInit_ex(ctx, EVP_aes_128_cbc(), NULL, key, iv), 1);
	EVP_CIPHER_CTX_set_padding(ctx, 0);
	assert_int_equal(EVP_EncryptUpdate(ctx, out, &len, in, (int)n), 1);
	assert_int_equal(EVP_EncryptFinal_ex(ctx, out + len, &fin), 1);
	EVP_CIPHER_CTX_free(ctx);
	return (size_t)(len + fin);
}

/* seal: msg with correct PKCS#7 into base64 (enc) under key_b64 and iv_b64. */
static void
seal(char *enc, size_t enclen, const char *key_b64, const char *iv_b64, const char *msg)
{
	unsigned char key[16], iv[16], buf[4096], ct[4096];
	size_t n = strlen(msg), pad = 16 - n % 16, klen = 0, ivlen = 0, i;

	assert_int_equal(codec_unb64(key, sizeof(key), &klen, key_b64, strlen(key_b64)), 0);
	assert_int_equal(codec_unb64(iv, sizeof(iv), &ivlen, iv_b64, strlen(iv_b64)), 0);
	assert_true(n + pad <= sizeof(buf));
	memcpy(buf, msg, n);
	for (i = 0; i < pad; i++)
		buf[n + i] = (unsigned char)pad;
	n = encrypt_raw(ct, key, iv, buf, n + pad);
	assert_int_equal(codec_b64(enc, enclen, ct, n), 0);
}

/* open_with: decode and open, returning the error (and the object on OK). */
static enum err
open_with(const char *enc, const char *iv, const char *key, const char *appid,
    int64_t now, long max_age, struct json_object **out, char *why, size_t whylen)
{
	struct wxdata_blob b;
	enum err rc;

	*out = NULL;
	why[0] = '\0';
	if ((rc = wxdata_blob_decode(&b, enc, iv, why, whylen)) != OK)
		return rc;
	rc = wxdata_open(&b, key, appid, now, max_age, out, why, whylen);
	wxdata_blob_cleanup(&b);
	return rc;
}

/* ---------------------------------------------------------------- vectors */

static void
test_vectors_decrypt(void **state)
{
	struct json_object *a = group("decrypt"), *v, *o, *x;
	unsigned char key[16], plain[4096];
	struct wxdata_blob b;
	char why[160];
	size_t i, klen, plen;

	(void)state;
	for (i = 0; i < json_object_array_length(a); i++) {
		v = json_object_array_get_idx(a, i);
		print_message("decrypt %s\n", jstr(v, "name"));
		/* The plaintext, byte for byte. */
		assert_int_equal(wxdata_blob_decode(&b, jstr(v, "encryptedData"),
		    jstr(v, "iv"), why, sizeof(why)), OK);
		assert_int_equal(codec_unb64(key, sizeof(key), &klen, jstr(v, "session_key"),
		    strlen(jstr(v, "session_key"))), 0);
		assert_int_equal(klen, 16);
		assert_int_equal(wxdata_decrypt(plain, sizeof(plain), &plen, key, b.iv,
		    b.data, b.len), 0);
		assert_int_equal(plen, strlen(jstr(v, "plaintext")));
		assert_memory_equal(plain, jstr(v, "plaintext"), plen);
		wxdata_blob_cleanup(&b);
		/* The whole check, at the watermark's time and a day later. */
		assert_int_equal(open_with(jstr(v, "encryptedData"), jstr(v, "iv"),
		    jstr(v, "session_key"), jstr(v, "appid"), DEMO_TS + 10, DAY, &o,
		    why, sizeof(why)), OK);
		assert_true(json_object_object_get_ex(o, "nickName", &x));
		assert_string_equal(json_object_get_string(x), "Band");
		assert_true(json_object_object_get_ex(o, "unionId", &x));
		assert_string_equal(json_object_get_string(x), "ocMvos6NjeKLIBqg5Mr9QjxrP1FA");
		json_object_put(o);
		assert_int_equal(open_with(jstr(v, "encryptedData"), jstr(v, "iv"),
		    jstr(v, "session_key"), jstr(v, "appid"), DEMO_TS + DAY, DAY, &o,
		    why, sizeof(why)), OK);
		json_object_put(o);
	}
}

static void
test_vectors_decrypt_fail(void **state)
{
	struct json_object *a = group("decrypt_fail"), *v, *o;
	const char *expect, *appid;
	char why[160];
	size_t i;
	enum err want = OK, rc;

	(void)state;
	for (i = 0; i < json_object_array_length(a); i++) {
		v = json_object_array_get_idx(a, i);
		expect = jstr(v, "expect");
		print_message("decrypt_fail %s: %s\n", jstr(v, "name"), expect);
		if (strncmp(expect, "invalid_request", 15) == 0)
			want = ERR_INVALID_REQUEST;
		else if (strncmp(expect, "watermark_mismatch", 18) == 0)
			want = ERR_WATERMARK_MISMATCH;
		else if (strstr(expect, "session_key_stale") != NULL)
			want = ERR_SESSION_KEY_STALE;
		else
			fail_msg("unknown expectation %s", expect);
		/* Checked as the app the vector names would see it (the demo
		 * app when it names none), at the time of the demo's watermark. */
		appid = jstr(v, "appid") != NULL ? jstr(v, "appid") : DEMO_APPID;
		rc = open_with(jstr(v, "encryptedData"), jstr(v, "iv"),
		    jstr(v, "session_key"), appid, DEMO_TS + 10, DAY, &o, why, sizeof(why));
		assert_null(o);
		assert_int_equal(rc, want);
		if (want == ERR_INVALID_REQUEST)
			assert_non_null(strstr(why, "encryptedData"));
		if (want == ERR_WATERMARK_MISMATCH)
			assert_non_null(strstr(why, "another app"));
	}
}

static void
test_vectors_signature(void **state)
{
	struct json_object *a = group("signature"), *v;
	const char *raw, *sk, *sig;
	char bad[WXDATA_SHA1_HEX], upper[WXDATA_SHA1_HEX], *raw2;
	size_t i, j;

	(void)state;
	for (i = 0; i < json_object_array_length(a); i++) {
		v = json_object_array_get_idx(a, i);
		raw = jstr(v, "rawData");
		sk = jstr(v, "session_key");
		sig = jstr(v, "signature");
		print_message("signature %s\n", jstr(v, "name"));
		assert_int_equal(strlen(sig), 40);
		assert_int_equal(wxdata_signature_check(raw, strlen(raw), sk, sig), 0);
		/* Upper-case hex is the same signature. */
		for (j = 0; j <= 40; j++)
			upper[j] = (char)(sig[j] >= 'a' && sig[j] <= 'f' ? sig[j] - 32 : sig[j]);
		assert_int_equal(wxdata_signature_check(raw, strlen(raw), sk, upper), 0);
		/* One flipped hex digit, a short or long signature, another key,
		 * one byte less of rawData: all refused. */
		memcpy(bad, sig, sizeof(bad));
		bad[17] = bad[17] == '0' ? '1' : '0';
		assert_int_equal(wxdata_signature_check(raw, strlen(raw), sk, bad), -1);
		bad[17] = sig[17];
		bad[39] = '\0';
		assert_int_equal(wxdata_signature_check(raw, strlen(raw), sk, bad), -1);
		assert_int_equal(wxdata_signature_check(raw, strlen(raw), sk, ""), -1);
		assert_int_equal(wxdata_signature_check(raw, strlen(raw),
		    "tiihtNczf5v6AKRyjwEUhQ==", sig), -1);
		assert_int_equal(wxdata_signature_check(raw, strlen(raw) - 1, sk, sig), -1);
		assert_non_null(raw2 = malloc(strlen(raw) + 2));
		snprintf(raw2, strlen(raw) + 2, "%s ", raw);
		assert_int_equal(wxdata_signature_check(raw2, strlen(raw2), sk, sig), -1);
		free(raw2);
	}
}

static void
test_vectors_hmac(void **state)
{
	struct json_object *a = group("hmac"), *v;
	const char *msg;
	char hex[WXDATA_HMAC_HEX];
	size_t i;

	(void)state;
	for (i = 0; i < json_object_array_length(a); i++) {
		v = json_object_array_get_idx(a, i);
		msg = jstr(v, "message");
		print_message("hmac %s\n", jstr(v, "name"));
		wxdata_hmac_hex(hex, jstr(v, "key"), (const unsigned char *)msg, strlen(msg));
		assert_string_equal(hex, jstr(v, "hmac_sha256"));
	}
}

/* ---------------------------------------------------------------- PKCS#7 */

static const unsigned char K[16] = "0123456789abcdef";
static const unsigned char IV[16] = "fedcba9876543210";

/* decrypt_blocks: encrypt n bytes of blocks as they are, then decrypt. */
static int
decrypt_blocks(const unsigned char *blocks, size_t n, size_t *outlen, unsigned char *plain)
{
	unsigned char ct[256];

	assert_true(n <= sizeof(ct));
	encrypt_raw(ct, K, IV, blocks, n);
	return wxdata_decrypt(plain, 257, outlen, K, IV, ct, n);
}

static void
test_pkcs7(void **state)
{
	unsigned char blk[64], plain[257], ct[64];
	size_t len = 99, p;

	(void)state;
	/* Every legal pad length 1..16 in one block. */
	for (p = 1; p <= 16; p++) {
		memset(blk, 'x', 16);
		memset(blk + 16 - p, (int)p, p);
		assert_int_equal(decrypt_blocks(blk, 16, &len, plain), 0);
		assert_int_equal(len, 16 - p);
		assert_int_equal(plain[len], '\0');
	}
	/* A whole block of padding after a full block: 16 bytes of text. */
	memset(blk, 'y', 16);
	memset(blk + 16, 16, 16);
	assert_int_equal(decrypt_blocks(blk, 32, &len, plain), 0);
	assert_int_equal(len, 16);
	assert_memory_equal(plain, blk, 16);
	/* Pad byte 0, and 17 (> block size). */
	memset(blk, 'x', 16);
	blk[15] = 0;
	assert_int_equal(decrypt_blocks(blk, 16, &len, plain), -1);
	assert_int_equal(len, 0);
	blk[15] = 17;
	assert_int_equal(decrypt_blocks(blk, 16, &len, plain), -1);
	/* 0x11..0xff in a two-block message (pad longer than a block). */
	memset(blk, 0x20, 32);
	assert_int_equal(decrypt_blocks(blk, 32, &len, plain), -1);
	memset(blk, 0xff, 32);
	assert_int_equal(decrypt_blocks(blk, 32, &len, plain), -1);
	/* Inconsistent padding: ... 03 02, ... 02 03 03, a 16 with a 15. */
	memset(blk, 'x', 16);
	blk[13] = 3;
	blk[14] = 3;
	blk[15] = 3;
	assert_int_equal(decrypt_blocks(blk, 16, &len, plain), 0);
	assert_int_equal(len, 13);
	blk[15] = 2;
	assert_int_equal(decrypt_blocks(blk, 16, &len, plain), -1);
	blk[13] = 2;
	blk[15] = 3;
	assert_int_equal(decrypt_blocks(blk, 16, &len, plain), -1);
	memset(blk, 16, 16);
	blk[0] = 15;
	assert_int_equal(decrypt_blocks(blk, 16, &len, plain), -1);
	/* Lengths: empty, not whole blocks, too small an output buffer. */
	memset(blk, 16, 16);
	encrypt_raw(ct, K, IV, blk, 16);
	assert_int_equal(wxdata_decrypt(plain, sizeof(plain), &len, K, IV, ct, 0), -1);
	assert_int_equal(wxdata_decrypt(plain, sizeof(plain), &len, K, IV, ct, 15), -1);
	assert_int_equal(wxdata_decrypt(plain, 16, &len, K, IV, ct, 16), -1);
	assert_int_equal(wxdata_decrypt(plain, 17, &len, K, IV, ct, 16), 0);
	assert_int_equal(len, 0);
	/* Another key almost always breaks the padding; when it does not,
	 * wxdata_open still refuses the garbage as not JSON (below). */
}

/* ---------------------------------------------------------------- open */

#define SK "tiihtNczf5v6AKRyjwEUhQ=="
#define IVB "r7BXXKkLb8qrSNn05n0qiA=="

static void
test_open_watermark_age(void **state)
{
	char enc[2048], msg[512], why[160];
	struct json_object *o;
	const int64_t now = 1763700000;

	(void)state;
	snprintf(msg, sizeof(msg), "{\"nickName\":\"n\",\"watermark\":{\"appid\":\"%s\","
	    "\"timestamp\":%lld}}", DEMO_APPID, (long long)(now - DAY));
	seal(enc, sizeof(enc), SK, IVB, msg);
	/* Exactly max_age old is fine; one second more is too old. */
	assert_int_equal(open_with(enc, IVB, SK, DEMO_APPID, now, DAY, &o, why, sizeof(why)), OK);
	json_object_put(o);
	assert_int_equal(open_with(enc, IVB, SK, DEMO_APPID, now + 1, DAY, &o, why,
	    sizeof(why)), ERR_WATERMARK_MISMATCH);
	assert_null(o);
	assert_non_null(strstr(why, "too old"));
	/* The official vector is from 2016: refused with the default age now. */
	assert_int_equal(open_with(json_object_get_string(json_object_object_get(
	    json_object_array_get_idx(group("decrypt"), 0), "encryptedData")), IVB, SK,
	    DEMO_APPID, now, DAY, &o, why, sizeof(why)), ERR_WATERMARK_MISMATCH);
	assert_non_null(strstr(why, "too old"));
	/* From the future, beyond the allowed skew. */
	snprintf(msg, sizeof(msg), "{\"watermark\":{\"appid\":\"%s\",\"timestamp\":%lld}}",
	    DEMO_APPID, (long long)(now + WXDATA_SKEW + 1));
	seal(enc, sizeof(enc), SK, IVB, msg);
	assert_int_equal(open_with(enc, IVB, SK, DEMO_APPID, now, DAY, &o, why,
	    sizeof(why)), ERR_WATERMARK_MISMATCH);
	assert_non_null(strstr(why, "future"));
	assert_int_equal(open_with(enc, IVB, SK, DEMO_APPID, now + 1, DAY, &o, why,
	    sizeof(why)), OK);
	json_object_put(o);
}

static void
test_open_shapes(void **state)
{
	static const struct {
		const char *msg;
		enum err want;
	} cases[] = {
		{"[1,2,3]", ERR_SESSION_KEY_STALE},             /* not an object */
		{"{\"a\":1} x", ERR_SESSION_KEY_STALE},         /* trailing garbage */
		{"{\"a\":1", ERR_SESSION_KEY_STALE},            /* cut short */
		{"{\"a\":\"\xff\"}", ERR_SESSION_KEY_STALE},    /* not UTF-8 */
		{"{\"a\":1}", ERR_WATERMARK_MISMATCH},          /* no watermark */
		{"{\"watermark\":\"x\"}", ERR_WATERMARK_MISMATCH},
		{"{\"watermark\":{\"appid\":\"" DEMO_APPID "\"}}", ERR_WATERMARK_MISMATCH},
		{"{\"watermark\":{\"appid\":\"" DEMO_APPID "\",\"timestamp\":\"1\"}}",
		    ERR_WATERMARK_MISMATCH},
		{"{\"watermark\":{\"appid\":\"wx0\",\"timestamp\":1763700000}}",
		    ERR_WATERMARK_MISMATCH},
		{"{\"watermark\":{\"timestamp\":1763700000,\"appid\":\"" DEMO_APPID "\"}}  ", OK},
	};
	char enc[2048], why[160];
	struct json_object *o;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		print_message("shape %zu\n", i);
		seal(enc, sizeof(enc), SK, IVB, cases[i].msg);
		assert_int_equal(open_with(enc, IVB, SK, DEMO_APPID, 1763700000, DAY, &o,
		    why, sizeof(why)), cases[i].want);
		json_object_put(o);
	}
	/* A session_key that is not base64 of 16 bytes is a stale key. */
	seal(enc, sizeof(enc), SK, IVB, cases[9].msg);
	assert_int_equal(open_with(enc, IVB, "tiihtNczf5v6AKRyjwEU", DEMO_APPID,
	    1763700000, DAY, &o, why, sizeof(why)), ERR_SESSION_KEY_STALE);
	assert_int_equal(open_with(enc, IVB, "", DEMO_APPID, 1763700000, DAY, &o, why,
	    sizeof(why)), ERR_SESSION_KEY_STALE);
}

static void
test_blob_decode(void **state)
{
	struct wxdata_blob b;
	char why[160];

	(void)state;
	assert_int_equal(wxdata_blob_decode(&b, "", IVB, why, sizeof(why)), ERR_INVALID_REQUEST);
	assert_non_null(strstr(why, "encryptedData"));
	wxdata_blob_cleanup(&b);
	/* 15 bytes, 17 bytes: not whole blocks. */
	assert_int_equal(wxdata_blob_decode(&b, "AAAAAAAAAAAAAAAAAAAA", IVB, why,
	    sizeof(why)), ERR_INVALID_REQUEST);
	assert_int_equal(wxdata_blob_decode(&b, "AAAAAAAAAAAAAAAAAAAAAAA=", IVB, why,
	    sizeof(why)), ERR_INVALID_REQUEST);
	/* Spaces, url-safe alphabet, missing padding. */
	assert_int_equal(wxdata_blob_decode(&b, "AAAAAAAAAAAAAAAAAAAAAA ==", IVB, why,
	    sizeof(why)), ERR_INVALID_REQUEST);
	assert_int_equal(wxdata_blob_decode(&b, "AAAAAAAAAAAAAAAAAAAAA_==", IVB, why,
	    sizeof(why)), ERR_INVALID_REQUEST);
	assert_int_equal(wxdata_blob_decode(&b, "AAAAAAAAAAAAAAAAAAAAAA", IVB, why,
	    sizeof(why)), ERR_INVALID_REQUEST);
	/* One block is fine; the iv must be 16 bytes of strict base64. */
	assert_int_equal(wxdata_blob_decode(&b, "AAAAAAAAAAAAAAAAAAAAAA==", IVB, why,
	    sizeof(why)), OK);
	assert_int_equal(b.len, 16);
	wxdata_blob_cleanup(&b);
	assert_int_equal(wxdata_blob_decode(&b, "AAAAAAAAAAAAAAAAAAAAAA==",
	    "r7BXXKkLb8qrSNn05n0q", why, sizeof(why)), ERR_INVALID_REQUEST);
	assert_non_null(strstr(why, "'iv'"));
	assert_int_equal(wxdata_blob_decode(&b, "AAAAAAAAAAAAAAAAAAAAAA==",
	    "r7BXXKkLb8qrSNn05n0qiA", why, sizeof(why)), ERR_INVALID_REQUEST);
	assert_int_equal(wxdata_blob_decode(&b, "AAAAAAAAAAAAAAAAAAAAAA==",
	    "r7BXXKkLb8qrSNn05n0qiAAA", why, sizeof(why)), ERR_INVALID_REQUEST);
	wxdata_blob_cleanup(&b);
}

/* ---------------------------------------------------------------- phone */

static int
phone(const char *json, struct wxdata_phone *p)
{
	struct json_object *o = json_tokener_parse(json);
	int rc;

	assert_non_null(o);
	rc = wxdata_phone_parse(o, p);
	json_object_put(o);
	return rc;
}

static void
test_phone(void **state)
{
	struct wxdata_phone p;

	(void)state;
	assert_int_equal(phone("{\"phoneNumber\":\"+86 13800138000\",\"purePhoneNumber\":"
	    "\"13800138000\",\"countryCode\":\"86\"}", &p), 0);
	assert_string_equal(p.phone_number, "+86 13800138000");
	assert_string_equal(p.pure_phone_number, "13800138000");
	assert_string_equal(p.country_code, "86");
	assert_int_equal(phone("{\"phoneNumber\":\"13800138000\",\"purePhoneNumber\":"
	    "\"13800138000\",\"countryCode\":86}", &p), 0);
	assert_string_equal(p.country_code, "86");
	assert_int_equal(phone("{\"phoneNumber\":\"+1 555-0100\",\"purePhoneNumber\":"
	    "\"5550100\",\"countryCode\":1}", &p), 0);
	assert_string_equal(p.country_code, "1");
	/* Missing or malformed fields. */
	assert_int_equal(phone("{\"purePhoneNumber\":\"13800138000\",\"countryCode\":86}", &p), -1);
	assert_int_equal(phone("{\"phoneNumber\":\"13800138000\",\"countryCode\":86}", &p), -1);
	assert_int_equal(phone("{\"phoneNumber\":\"13800138000\",\"purePhoneNumber\":"
	    "\"13800138000\"}", &p), -1);
	assert_int_equal(phone("{\"phoneNumber\":\"138<b>\",\"purePhoneNumber\":"
	    "\"13800138000\",\"countryCode\":86}", &p), -1);
	assert_int_equal(phone("{\"phoneNumber\":\"13800138000\",\"purePhoneNumber\":"
	    "\"+8613800138000\",\"countryCode\":86}", &p), -1);
	assert_int_equal(phone("{\"phoneNumber\":\"13800138000\",\"purePhoneNumber\":"
	    "\"13800138000\",\"countryCode\":\"8a\"}", &p), -1);
	assert_int_equal(phone("{\"phoneNumber\":\"13800138000\",\"purePhoneNumber\":"
	    "\"13800138000\",\"countryCode\":0}", &p), -1);
	assert_int_equal(phone("{\"phoneNumber\":\"13800138000\",\"purePhoneNumber\":"
	    "\"13800138000\",\"countryCode\":12345}", &p), -1);
	assert_int_equal(phone("{\"phoneNumber\":\"13800138000\",\"purePhoneNumber\":"
	    "\"13800138000\",\"countryCode\":86.5}", &p), -1);
	assert_int_equal(phone("{\"phoneNumber\":\"13800138000\",\"purePhoneNumber\":"
	    "\"123456789012345678901\",\"countryCode\":86}", &p), -1);
	assert_string_equal(p.phone_number, "");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_vectors_decrypt),
		cmocka_unit_test(test_vectors_decrypt_fail),
		cmocka_unit_test(test_vectors_signature),
		cmocka_unit_test(test_vectors_hmac),
		cmocka_unit_test(test_pkcs7),
		cmocka_unit_test(test_open_watermark_age),
		cmocka_unit_test(test_open_shapes),
		cmocka_unit_test(test_blob_decode),
		cmocka_unit_test(test_phone),
	};

	if (sodium_init() < 0)
		return 1;
	return cmocka_run_group_tests_name("wxdata", tests, setup, teardown);
}
