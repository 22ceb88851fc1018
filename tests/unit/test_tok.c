/*
 * test_tok.c - PASETO v4.local, PASERK k4.local / k4.lid, access tokens, the
 * key file, refresh tokens and ISO 8601 times.
 *
 * Known answers come from the official vectors in $WXAUTH_VECTORS (default
 * tests/vectors, copies of ../shared/vectors, relative to the repository root):
 * paseto-v4.json, paserk-k4.lid.json, paserk-k4.local.json.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <json-c/json.h>
#include <sodium.h>

#include "codec.h"
#include "helpers.h"
#include "tok.h"

#define NOW 1640995260                  /* 2022-01-01T00:01:00Z */
#define T2022 1640995200                /* 2022-01-01T00:00:00Z */
#define ISS "https://auth.example"
#define SUB "0b5e3a5c-7f7e-4b8e-9a55-3c0a4a0b1c2d"
#define SID "9d2c1f4e-2b1a-4c3d-8e7f-6a5b4c3d2e1f"
#define APP "wx1234567890abcdef"
#define OID "o6_bmjrPTlm6_2sgVt7hMZOPfL2M"
#define UNI "oTGNH1ZyQm3ncS7Y4hE1MCmxWxRA"

/* The key of the official vectors, 0x70..0x8f, and two more. */
static unsigned char key_a[TOK_KEYBYTES];
static unsigned char key_b[TOK_KEYBYTES];
static unsigned char key_c[TOK_KEYBYTES];

static char tmpdir[256];

/* ---------------------------------------------------------------- helpers */

static void
copy(char *dst, size_t size, const char *src)
{
	size_t len = strlen(src);

	assert_true(len < size);
	memcpy(dst, src, len + 1);
}

static void
append(char *dst, size_t size, const char *src)
{
	size_t len = strlen(dst);

	assert_true(len < size);
	copy(dst + len, size - len, src);
}

static void
claims_fill(struct tok_claims *c, int64_t iat, int64_t exp)
{
	memset(c, 0, sizeof *c);
	copy(c->iss, sizeof c->iss, ISS);
	copy(c->sub, sizeof c->sub, SUB);
	copy(c->sid, sizeof c->sid, SID);
	copy(c->app, sizeof c->app, APP);
	copy(c->oid, sizeof c->oid, OID);
	copy(c->uni, sizeof c->uni, UNI);
	c->iat = iat;
	c->exp = exp;
}

static void
claims_equal(const struct tok_claims *a, const struct tok_claims *b)
{
	assert_string_equal(a->iss, b->iss);
	assert_string_equal(a->sub, b->sub);
	assert_string_equal(a->sid, b->sid);
	assert_string_equal(a->app, b->app);
	assert_string_equal(a->oid, b->oid);
	assert_string_equal(a->uni, b->uni);
	assert_int_equal(a->iat, b->iat);
	assert_int_equal(a->exp, b->exp);
}

static int
all_zero(const void *p, size_t n)
{
	const unsigned char *b = p;
	size_t i;

	for (i = 0; i < n; i++)
		if (b[i] != 0)
			return 0;
	return 1;
}

static struct tok_keys *
keys_of(const unsigned char *k1, const unsigned char *k2)
{
	unsigned char raw[2 * TOK_KEYBYTES];
	struct tok_keys *ks;

	memcpy(raw, k1, TOK_KEYBYTES);
	if (k2 != NULL)
		memcpy(raw + TOK_KEYBYTES, k2, TOK_KEYBYTES);
	ks = tok_keys_new(raw, k2 != NULL ? 2 : 1);
	assert_non_null(ks);
	return ks;
}

/* A token for exactly payload (len bytes) under key with footer as given. */
static void
mint_raw(char *out, size_t outlen, const unsigned char *key, const char *payload,
    size_t len, const char *footer)
{
	assert_int_equal(tok_v4_encrypt(out, outlen, key,
	    (const unsigned char *)payload, len, (const unsigned char *)footer,
	    strlen(footer), NULL, 0, NULL), 0);
}

/* A token for payload under key i of ks with our footer {"kid":"<lid>"}. */
static void
mint(char *out, size_t outlen, const struct tok_keys *ks, size_t i,
    const char *payload)
{
	char footer[128];
	int n;

	n = snprintf(footer, sizeof footer, "{\"kid\":\"%s\"}", ks->k[i].lid);
	assert_true(n > 0 && (size_t)n < sizeof footer);
	mint_raw(out, outlen, ks->k[i].key, payload, strlen(payload), footer);
}

/* The claims of every payload test; one field replaced by raw JSON text, or
 * left out when value is NULL. "uni" is not in the base set and is added. */
static void
payload_with(char *out, size_t outlen, const char *name, const char *value)
{
	static const struct {
		const char *name;
		const char *value;
	} base[] = {
		{"iss", "\"" ISS "\""},
		{"sub", "\"" SUB "\""},
		{"sid", "\"" SID "\""},
		{"app", "\"" APP "\""},
		{"oid", "\"" OID "\""},
		{"iat", "\"2022-01-01T00:00:00+00:00\""},
		{"exp", "\"2022-01-01T02:00:00+00:00\""},
	};
	size_t i, pos = 0;
	int n, found = 0, first = 1;

	out[0] = '\0';
	n = snprintf(out, outlen, "{");
	assert_true(n > 0 && (size_t)n < outlen);
	pos = (size_t)n;
	for (i = 0; i < sizeof base / sizeof base[0]; i++) {
		const char *v = base[i].value;

		if (name != NULL && strcmp(name, base[i].name) == 0) {
			found = 1;
			if (value == NULL)
				continue;
			v = value;
		}
		n = snprintf(out + pos, outlen - pos, "%s\"%s\":%s",
		    first ? "" : ",", base[i].name, v);
		assert_true(n > 0 && (size_t)n < outlen - pos);
		pos += (size_t)n;
		first = 0;
	}
	if (name != NULL && !found && value != NULL) {
		n = snprintf(out + pos, outlen - pos, ",\"%s\":%s", name, value);
		assert_true(n > 0 && (size_t)n < outlen - pos);
		pos += (size_t)n;
	}
	n = snprintf(out + pos, outlen - pos, "}");
	assert_true(n > 0 && (size_t)n < outlen - pos);
}

/* A JSON string of len copies of ch. */
static void
json_run(char *out, size_t outlen, char ch, size_t len)
{
	assert_true(len + 3 <= outlen);
	out[0] = '"';
	memset(out + 1, ch, len);
	out[len + 1] = '"';
	out[len + 2] = '\0';
}

static void
write_file(const char *path, const char *content, size_t len)
{
	FILE *f = fopen(path, "w");

	assert_non_null(f);
	assert_int_equal(fwrite(content, 1, len, f), len);
	assert_int_equal(fclose(f), 0);
	/* Key files must not be readable by everyone (tok_keys_load). */
	assert_int_equal(chmod(path, 0600), 0);
}

static void
tmp_path(char *out, size_t outlen, const char *name)
{
	int n = snprintf(out, outlen, "%s/%s", tmpdir, name);

	assert_true(n > 0 && (size_t)n < outlen);
}

/* ------------------------------------------------------ official vectors */

/*
 * Every vector of paseto-v4.json that involves a local (symmetric) key:
 * 4-E-* must encrypt (with the given nonce) to the exact token and decrypt
 * to the exact payload; 4-F-* must fail to decrypt. The 4-S-* vectors are
 * v4.public (Ed25519): signed with the secret key they must come out as the
 * exact token (Ed25519 is deterministic), and verify to the exact payload
 * (public_vector). 4-F-1 is a v4.local token given with only a public key
 * (a key-type failure, see below). 4-F-2 is a v4.public token with a local
 * key: refused by the header check.
 */
static void
public_vector(struct json_object *t, const char *name, const char *token,
    const char *footer, const char *implicit)
{
	const char *payload = jstr(t, "payload"), *hsk = jstr(t, "secret-key");
	const char *hpk = jstr(t, "public-key"), *hseed = jstr(t, "secret-key-seed");
	unsigned char sk[TOK_SECRETBYTES], pk[TOK_PUBLICBYTES], seed[32], m[1024];
	unsigned char spk[TOK_PUBLICBYTES], ssk[TOK_SECRETBYTES];
	size_t flen = strlen(footer), ilen = strlen(implicit), plen, mlen = 0;
	char out[1024], bad[1024];

	assert_non_null(payload);
	assert_non_null(hsk);
	assert_non_null(hpk);
	assert_non_null(hseed);
	plen = strlen(payload);
	assert_int_equal(unhex(sk, sizeof sk, hsk), TOK_SECRETBYTES);
	assert_int_equal(unhex(pk, sizeof pk, hpk), TOK_PUBLICBYTES);
	assert_int_equal(unhex(seed, sizeof seed, hseed), 32);
	/* The seed makes the very key pair (the key file stores seed || pk). */
	assert_int_equal(crypto_sign_seed_keypair(spk, ssk, seed), 0);
	assert_memory_equal(ssk, sk, TOK_SECRETBYTES);
	assert_memory_equal(spk, pk, TOK_PUBLICBYTES);

	assert_int_equal(tok_v4_sign(out, sizeof out, sk, (const unsigned char *)payload, plen,
	    (const unsigned char *)footer, flen, (const unsigned char *)implicit, ilen), 0);
	if (strcmp(out, token) != 0)
		fail_msg("%s: signed %s", name, out);
	assert_int_equal(tok_v4_sign(out, strlen(token), sk, (const unsigned char *)payload,
	    plen, (const unsigned char *)footer, flen, (const unsigned char *)implicit,
	    ilen), -1);
	assert_int_equal(tok_v4_verify(m, sizeof m, &mlen, pk, token,
	    (const unsigned char *)footer, flen, (const unsigned char *)implicit, ilen), 0);
	assert_int_equal(mlen, plen);
	assert_string_equal((char *)m, payload);
	assert_int_equal(tok_v4_verify(m, sizeof m, &mlen, pk, token, NULL, 0,
	    (const unsigned char *)implicit, ilen), 0);
	assert_int_equal(tok_v4_verify(m, plen, &mlen, pk, token, NULL, 0,
	    (const unsigned char *)implicit, ilen), -1);
	/* Another implicit assertion, another footer, another key, one
	 * character of the token changed: refused, nothing written. */
	assert_int_equal(tok_v4_verify(m, sizeof m, &mlen, pk, token, NULL, 0,
	    (const unsigned char *)"x", 1), -1);
	assert_int_equal(mlen, 0);
	assert_int_equal(tok_v4_verify(m, sizeof m, &mlen, pk, token,
	    (const unsigned char *)"x", 1, (const unsigned char *)implicit, ilen), -1);
	spk[0] ^= 1;
	assert_int_equal(tok_v4_verify(m, sizeof m, &mlen, spk, token, NULL, 0,
	    (const unsigned char *)implicit, ilen), -1);
	snprintf(bad, sizeof bad, "%s", token);
	bad[12] = bad[12] == 'A' ? 'B' : 'A';
	assert_int_equal(tok_v4_verify(m, sizeof m, &mlen, pk, bad, NULL, 0,
	    (const unsigned char *)implicit, ilen), -1);
	/* Not a v4.local token, whatever the bytes. */
	memcpy(bad, "v4.local.", 9);
	memmove(bad + 9, token + 10, strlen(token + 10) + 1);
	assert_int_equal(tok_v4_verify(m, sizeof m, &mlen, pk, bad, NULL, 0,
	    (const unsigned char *)implicit, ilen), -1);
}

static void
test_paseto_v4_vectors(void **state)
{
	struct json_object *root, *tests;
	size_t i, count, ran_e = 0, ran_f = 0, ran_s = 0;

	(void)state;
	root = load_vectors("paseto-v4.json");
	assert_true(json_object_object_get_ex(root, "tests", &tests));
	count = json_object_array_length(tests);
	assert_true(count > 0);

	for (i = 0; i < count; i++) {
		struct json_object *t = json_object_array_get_idx(tests, i);
		const char *name = jstr(t, "name"), *token = jstr(t, "token");
		const char *hexkey = jstr(t, "key"), *hexnonce = jstr(t, "nonce");
		const char *payload = jstr(t, "payload"), *footer = jstr(t, "footer");
		const char *implicit = jstr(t, "implicit-assertion");
		unsigned char key[TOK_KEYBYTES], nonce[TOK_NONCEBYTES];
		unsigned char pt[1024], *wrong = NULL;
		char out[1024];
		size_t ptlen = 0, flen, ilen, plen, wlen;

		assert_non_null(name);
		assert_non_null(token);
		assert_non_null(footer);
		assert_non_null(implicit);
		flen = strlen(footer);
		ilen = strlen(implicit);

		if (!jbool(t, "expect-fail")) {
			if (strncmp(token, "v4.public.", 10) == 0) {
				assert_null(hexkey);
				assert_int_equal(strncmp(name, "4-S-", 4), 0);
				public_vector(t, name, token, footer, implicit);
				ran_s++;
				continue;
			}
			assert_int_equal(strncmp(name, "4-E-", 4), 0);
			assert_non_null(hexkey);
			assert_non_null(hexnonce);
			assert_non_null(payload);
			plen = strlen(payload);
			assert_int_equal(unhex(key, sizeof key, hexkey), TOK_KEYBYTES);
			assert_int_equal(unhex(nonce, sizeof nonce, hexnonce),
			    TOK_NONCEBYTES);

			/* Encrypt: the exact token, and not one byte less room. */
			assert_int_equal(tok_v4_encrypt(out, sizeof out, key,
			    (const unsigned char *)payload, plen,
			    (const unsigned char *)footer, flen,
			    (const unsigned char *)implicit, ilen, nonce), 0);
			if (strcmp(out, token) != 0)
				fail_msg("%s: got %s", name, out);
			assert_int_equal(tok_v4_encrypt(out, strlen(token), key,
			    (const unsigned char *)payload, plen,
			    (const unsigned char *)footer, flen,
			    (const unsigned char *)implicit, ilen, nonce), -1);
			assert_int_equal(tok_v4_encrypt(out, strlen(token) + 1, key,
			    (const unsigned char *)payload, plen,
			    (const unsigned char *)footer, flen,
			    (const unsigned char *)implicit, ilen, nonce), 0);
			assert_string_equal(out, token);

			/* Decrypt, with the expected footer and without one. */
			assert_int_equal(tok_v4_decrypt(pt, sizeof pt, &ptlen, key,
			    token, (const unsigned char *)footer, flen,
			    (const unsigned char *)implicit, ilen), 0);
			assert_int_equal(ptlen, plen);
			assert_memory_equal(pt, payload, plen);
			assert_int_equal(pt[plen], 0);
			assert_int_equal(tok_v4_decrypt(pt, sizeof pt, &ptlen, key,
			    token, NULL, 0, (const unsigned char *)implicit, ilen), 0);
			assert_string_equal((char *)pt, payload);
			/* Exactly room for the payload and its NUL. */
			assert_int_equal(tok_v4_decrypt(pt, plen, &ptlen, key, token,
			    NULL, 0, (const unsigned char *)implicit, ilen), -1);
			assert_int_equal(tok_v4_decrypt(pt, plen + 1, &ptlen, key,
			    token, NULL, 0, (const unsigned char *)implicit, ilen), 0);

			/* Another footer, another implicit assertion, another key. */
			wlen = (flen > ilen ? flen : ilen) + 1;
			wrong = malloc(wlen);
			assert_non_null(wrong);
			memcpy(wrong, footer, flen);
			wrong[flen] = 'x';
			assert_int_equal(tok_v4_decrypt(pt, sizeof pt, &ptlen, key,
			    token, wrong, flen + 1,
			    (const unsigned char *)implicit, ilen), -1);
			if (flen > 0)
				assert_int_equal(tok_v4_decrypt(pt, sizeof pt, &ptlen,
				    key, token, (const unsigned char *)"", 0,
				    (const unsigned char *)implicit, ilen), -1);
			memcpy(wrong, implicit, ilen);
			wrong[ilen] = 'x';
			assert_int_equal(tok_v4_decrypt(pt, sizeof pt, &ptlen, key,
			    token, NULL, 0, wrong, ilen + 1), -1);
			free(wrong);
			key[TOK_KEYBYTES - 1] ^= 1;
			assert_int_equal(tok_v4_decrypt(pt, sizeof pt, &ptlen, key,
			    token, NULL, 0, (const unsigned char *)implicit, ilen), -1);
			assert_int_equal(ptlen, 0);
			ran_e++;
		} else if (hexkey == NULL) {
			/*
			 * 4-F-1: a v4.local token to be refused because the
			 * only key offered is a v4.public one. The failure is
			 * one of key type, not of cryptography (the token was
			 * made with the public key's bytes as a local key, and
			 * those bytes do open it). A key enters wxauth only as
			 * PASERK k4.local, so that boundary must refuse the
			 * public key in its k4.public form.
			 */
			char paserk[128];

			assert_int_equal(strcmp(name, "4-F-1"), 0);
			assert_non_null(hexkey = jstr(t, "public-key"));
			assert_int_equal(unhex(key, sizeof key, hexkey), TOK_KEYBYTES);
			memcpy(paserk, "k4.public.", 10);
			assert_int_equal(codec_b64url(paserk + 10, sizeof paserk - 10,
			    key, sizeof key), 0);
			assert_int_equal(tok_paserk_local_parse(key, paserk), -1);
			assert_int_equal(tok_v4_decrypt(pt, sizeof pt, &ptlen, key,
			    token, (const unsigned char *)footer, flen,
			    (const unsigned char *)implicit, ilen), 0);
			/* And as the public key it is, it verifies nothing. */
			assert_int_equal(tok_v4_verify(pt, sizeof pt, &ptlen, key,
			    token, (const unsigned char *)footer, flen,
			    (const unsigned char *)implicit, ilen), -1);
			ran_f++;
		} else {
			assert_int_equal(strncmp(name, "4-F-", 4), 0);
			assert_null(payload);
			assert_int_equal(unhex(key, sizeof key, hexkey), TOK_KEYBYTES);
			ptlen = 42;
			if (tok_v4_decrypt(pt, sizeof pt, &ptlen, key, token,
			    (const unsigned char *)footer, flen,
			    (const unsigned char *)implicit, ilen) != -1)
				fail_msg("%s: decrypted", name);
			assert_int_equal(ptlen, 0);
			assert_int_equal(tok_v4_decrypt(pt, sizeof pt, &ptlen, key,
			    token, NULL, 0, (const unsigned char *)implicit, ilen), -1);
			ran_f++;
		}
	}
	print_message("paseto-v4.json: %zu 4-E, %zu 4-S and %zu 4-F vectors run\n",
	    ran_e, ran_s, ran_f);
	assert_int_equal(ran_e + ran_f + ran_s, count);
	assert_true(ran_e >= 9 && ran_s >= 3 && ran_f >= 5);
	json_object_put(root);
}

static void
test_paserk_lid_vectors(void **state)
{
	struct json_object *root, *tests;
	size_t i, count, ran = 0;

	(void)state;
	root = load_vectors("paserk-k4.lid.json");
	assert_true(json_object_object_get_ex(root, "tests", &tests));
	count = json_object_array_length(tests);
	for (i = 0; i < count; i++) {
		struct json_object *t = json_object_array_get_idx(tests, i);
		const char *name = jstr(t, "name"), *paserk = jstr(t, "paserk");
		unsigned char key[TOK_KEYBYTES + 8];
		char lid[TOK_LID_STR], local[TOK_PASERK_LOCAL_STR + 8], path[512];
		char err[256];
		size_t klen = unhex(key, sizeof key, jstr(t, "key"));

		if (!jbool(t, "expect-fail")) {
			assert_int_equal(klen, TOK_KEYBYTES);
			assert_int_equal(tok_lid(lid, sizeof lid, key), 0);
			if (strcmp(lid, paserk) != 0)
				fail_msg("%s: got %s", name, lid);
			/* 51 characters: the room it needs, exactly. */
			assert_int_equal(strlen(lid), 51);
			assert_int_equal(tok_lid(lid, 51, key), -1);
			assert_int_equal(tok_lid(lid, 52, key), 0);
			assert_string_equal(lid, paserk);
		} else {
			/*
			 * k4.lid-fail-1: a 31-byte key. tok_lid takes exactly
			 * 32 bytes by type; the only ways a key enters wxauth
			 * are tok_paserk_local_parse and the key file, and both
			 * must refuse it, so no lid of it can ever be made.
			 */
			assert_null(paserk);
			assert_int_not_equal(klen, TOK_KEYBYTES);
			memcpy(local, "k4.local.", 9);
			assert_int_equal(codec_b64url(local + 9, sizeof local - 9, key,
			    klen), 0);
			assert_int_equal(tok_paserk_local_parse(key, local), -1);
			tmp_path(path, sizeof path, "short.keys");
			write_file(path, local, strlen(local));
			assert_null(tok_keys_load(path, err, sizeof err));
			assert_non_null(strstr(err, ":1: "));
			assert_int_equal(unlink(path), 0);
		}
		ran++;
	}
	assert_int_equal(ran, count);
	assert_true(ran >= 4);
	json_object_put(root);
}

static void
test_paserk_local_vectors(void **state)
{
	struct json_object *root, *tests;
	size_t i, count, ran = 0;

	(void)state;
	root = load_vectors("paserk-k4.local.json");
	assert_true(json_object_object_get_ex(root, "tests", &tests));
	count = json_object_array_length(tests);
	for (i = 0; i < count; i++) {
		struct json_object *t = json_object_array_get_idx(tests, i);
		const char *name = jstr(t, "name"), *paserk = jstr(t, "paserk");
		unsigned char key[TOK_KEYBYTES], back[TOK_KEYBYTES];
		char local[TOK_PASERK_LOCAL_STR];

		assert_non_null(paserk);
		if (!jbool(t, "expect-fail")) {
			assert_int_equal(unhex(key, sizeof key, jstr(t, "key")),
			    TOK_KEYBYTES);
			assert_int_equal(tok_paserk_local(local, sizeof local, key), 0);
			if (strcmp(local, paserk) != 0)
				fail_msg("%s: got %s", name, local);
			assert_int_equal(tok_paserk_local(local, sizeof local - 1,
			    key), -1);
			assert_int_equal(tok_paserk_local_parse(back, paserk), 0);
			assert_memory_equal(back, key, TOK_KEYBYTES);
		} else {
			assert_null(jstr(t, "key"));
			memset(back, 0xa5, sizeof back);
			if (tok_paserk_local_parse(back, paserk) != -1)
				fail_msg("%s: accepted", name);
			/* Untouched on failure. */
			assert_int_equal(back[0], 0xa5);
		}
		ran++;
	}
	assert_int_equal(ran, count);
	assert_true(ran >= 5);
	json_object_put(root);
}

static void
test_paserk_parse_strict(void **state)
{
	static const char *bad[] = {
		"",
		"k4.local.",
		"k4.local.cHFyc3R1dnd4eXp7fH1-f4CBgoOEhYaHiImKi4yNjo8=",
		"k4.local.cHFyc3R1dnd4eXp7fH1-f4CBgoOEhYaHiImKi4yNjo8 ",
		" k4.local.cHFyc3R1dnd4eXp7fH1-f4CBgoOEhYaHiImKi4yNjo8",
		"k4.local.cHFyc3R1dnd4eXp7fH1+f4CBgoOEhYaHiImKi4yNjo8",
		"k4.local.cHFyc3R1dnd4eXp7fH1-f4CBgoOEhYaHiImKi4yNjo9",
		"k4.local.cHFyc3R1dnd4eXp7fH1-f4CBgoOEhYaHiImKi4yNjo8A",
		"K4.LOCAL.cHFyc3R1dnd4eXp7fH1-f4CBgoOEhYaHiImKi4yNjo8",
		"k4.public.cHFyc3R1dnd4eXp7fH1-f4CBgoOEhYaHiImKi4yNjo8",
		"k4.secret.cHFyc3R1dnd4eXp7fH1-f4CBgoOEhYaHiImKi4yNjo8",
		"k4.lid.cHFyc3R1dnd4eXp7fH1-f4CBgoOEhYaHiImKi4yNjo8ab",
	};
	unsigned char key[TOK_KEYBYTES];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof bad / sizeof bad[0]; i++)
		if (tok_paserk_local_parse(key, bad[i]) != -1)
			fail_msg("accepted \"%s\"", bad[i]);
	assert_int_equal(tok_paserk_local_parse(key, NULL), -1);
	assert_int_equal(tok_paserk_local_parse(key,
	    "k4.local.cHFyc3R1dnd4eXp7fH1-f4CBgoOEhYaHiImKi4yNjo8"), 0);
	assert_memory_equal(key, key_a, TOK_KEYBYTES);
}

/*
 * PASERK k4.public, k4.secret and k4.pid: each good vector serialises to
 * the exact string and parses back; each failing one (a key of the wrong
 * length: "short keys", "the wrong version") does not serialise. A secret
 * key whose halves do not belong together does not parse.
 */
static void
paserk_public_vectors(const char *file, int secret)
{
	struct json_object *root, *tests;
	size_t i, count, ran = 0;

	root = load_vectors(file);
	assert_true(json_object_object_get_ex(root, "tests", &tests));
	count = json_object_array_length(tests);
	for (i = 0; i < count; i++) {
		struct json_object *t = json_object_array_get_idx(tests, i);
		const char *name = jstr(t, "name"), *hkey = jstr(t, "key");
		const char *paserk = jstr(t, "paserk");
		unsigned char key[128], back[TOK_SECRETBYTES];
		char out[256];
		size_t klen;

		assert_non_null(name);
		assert_non_null(hkey);
		klen = unhex(key, sizeof key, hkey);
		if (jbool(t, "expect-fail")) {
			assert_null(paserk);
			if ((secret ? tok_paserk_secret(out, sizeof out, key, klen) :
			    tok_paserk_public(out, sizeof out, key, klen)) != -1)
				fail_msg("%s: serialised a key of %zu bytes", name, klen);
			assert_string_equal(out, "");
		} else {
			assert_non_null(paserk);
			assert_int_equal(secret ? tok_paserk_secret(out, sizeof out, key, klen) :
			    tok_paserk_public(out, sizeof out, key, klen), 0);
			if (strcmp(out, paserk) != 0)
				fail_msg("%s: got %s", name, out);
			if (secret) {
				assert_int_equal(tok_paserk_secret_parse(back, paserk), 0);
				assert_memory_equal(back, key, TOK_SECRETBYTES);
				/* Another public half: refused. */
				key[40] ^= 1;
				assert_int_equal(tok_paserk_secret(out, sizeof out, key, klen), 0);
				assert_int_equal(tok_paserk_secret_parse(back, out), -1);
				assert_int_equal(tok_paserk_public_parse(back, paserk), -1);
			} else {
				assert_int_equal(tok_paserk_public_parse(back, paserk), 0);
				assert_memory_equal(back, key, TOK_PUBLICBYTES);
				assert_int_equal(tok_paserk_secret_parse(back, paserk), -1);
				assert_int_equal(tok_paserk_local_parse(back, paserk), -1);
			}
		}
		ran++;
	}
	print_message("%s: %zu vectors run\n", file, ran);
	assert_int_equal(ran, count);
	assert_true(ran >= 4);
	json_object_put(root);
}

static void
test_paserk_public_vectors(void **state)
{
	(void)state;
	paserk_public_vectors("paserk-k4.public.json", 0);
}

static void
test_paserk_secret_vectors(void **state)
{
	(void)state;
	paserk_public_vectors("paserk-k4.secret.json", 1);
}

static void
test_paserk_pid_vectors(void **state)
{
	struct json_object *root, *tests;
	size_t i, count, ran = 0;

	(void)state;
	root = load_vectors("paserk-k4.pid.json");
	assert_true(json_object_object_get_ex(root, "tests", &tests));
	count = json_object_array_length(tests);
	for (i = 0; i < count; i++) {
		struct json_object *t = json_object_array_get_idx(tests, i);
		const char *name = jstr(t, "name"), *paserk = jstr(t, "paserk");
		unsigned char key[128];
		char pid[TOK_LID_STR];
		size_t klen = unhex(key, sizeof key, jstr(t, "key"));

		if (jbool(t, "expect-fail")) {
			assert_null(paserk);
			if (tok_pid(pid, sizeof pid, key, klen) != -1)
				fail_msg("%s: an id for a key of %zu bytes", name, klen);
		} else {
			assert_int_equal(tok_pid(pid, sizeof pid, key, klen), 0);
			if (strcmp(pid, paserk) != 0)
				fail_msg("%s: got %s", name, pid);
		}
		ran++;
	}
	assert_int_equal(ran, count);
	assert_true(ran >= 4);
	json_object_put(root);
}

/* ---------------------------------------------------------- access tokens */

static void
test_seal_open(void **state)
{
	struct tok_keys *ks = keys_of(key_a, NULL);
	struct tok_claims c, got;
	unsigned char pt[TOK_MAX], f[128];
	char tok[TOK_MAX], tok2[TOK_MAX], expect[1024], footer[128];
	const char *dot;
	size_t ptlen, flen;
	int n;

	(void)state;
	claims_fill(&c, T2022, T2022 + 7200);
	assert_int_equal(tok_seal(ks, &c, tok, sizeof tok), 0);
	assert_int_equal(strncmp(tok, "v4.local.", 9), 0);
	assert_int_equal(tok_open(ks, tok, ISS, NOW, &got), OK);
	claims_equal(&got, &c);
	assert_int_equal(tok_open(ks, tok, NULL, NOW, &got), OK);
	claims_equal(&got, &c);

	/* The exact claims and footer any PASETO library would see. */
	assert_int_equal(tok_v4_decrypt(pt, sizeof pt, &ptlen, key_a, tok, NULL, 0,
	    NULL, 0), 0);
	n = snprintf(expect, sizeof expect, "{\"iss\":\"%s\",\"sub\":\"%s\","
	    "\"sid\":\"%s\",\"app\":\"%s\",\"oid\":\"%s\",\"uni\":\"%s\","
	    "\"iat\":\"2022-01-01T00:00:00+00:00\","
	    "\"exp\":\"2022-01-01T02:00:00+00:00\"}", ISS, SUB, SID, APP, OID, UNI);
	assert_true(n > 0 && (size_t)n < sizeof expect);
	assert_string_equal((char *)pt, expect);
	dot = strrchr(tok, '.');
	assert_non_null(dot);
	assert_int_equal(codec_unb64url(f, sizeof f - 1, &flen, dot + 1,
	    strlen(dot + 1)), 0);
	f[flen] = '\0';
	n = snprintf(footer, sizeof footer, "{\"kid\":\"%s\"}", ks->k[0].lid);
	assert_true(n > 0 && (size_t)n < sizeof footer);
	assert_string_equal((char *)f, footer);
	assert_int_equal(strncmp(ks->k[0].lid, "k4.lid.", 7), 0);

	/* A fresh nonce each time. */
	assert_int_equal(tok_seal(ks, &c, tok2, sizeof tok2), 0);
	assert_string_not_equal(tok, tok2);
	assert_int_equal(tok_open(ks, tok2, ISS, NOW, &got), OK);

	/* No unionid: no "uni" claim at all. */
	c.uni[0] = '\0';
	assert_int_equal(tok_seal(ks, &c, tok, sizeof tok), 0);
	assert_int_equal(tok_v4_decrypt(pt, sizeof pt, &ptlen, key_a, tok, NULL, 0,
	    NULL, 0), 0);
	assert_null(strstr((char *)pt, "uni"));
	assert_int_equal(tok_open(ks, tok, ISS, NOW, &got), OK);
	claims_equal(&got, &c);

	/* Escaping is json-c's: quotes, backslashes, controls, UTF-8, slashes. */
	copy(c.iss, sizeof c.iss, "https://a.example/\"q\"\\\n\t\xc3\xa9\xe5\xbe\xae");
	copy(c.oid, sizeof c.oid, "o/\"\\\x01");
	assert_int_equal(tok_seal(ks, &c, tok, sizeof tok), 0);
	assert_int_equal(tok_open(ks, tok, c.iss, NOW, &got), OK);
	claims_equal(&got, &c);

	/* Fields at their largest. */
	memset(c.iss, 'i', sizeof c.iss - 1);
	c.iss[sizeof c.iss - 1] = '\0';
	memset(c.oid, 'o', sizeof c.oid - 1);
	c.oid[sizeof c.oid - 1] = '\0';
	memset(c.uni, 'u', sizeof c.uni - 1);
	c.uni[sizeof c.uni - 1] = '\0';
	memset(c.app, 'a', sizeof c.app - 1);
	c.app[sizeof c.app - 1] = '\0';
	assert_int_equal(tok_seal(ks, &c, tok, sizeof tok), 0);
	assert_int_equal(tok_open(ks, tok, NULL, NOW, &got), OK);
	claims_equal(&got, &c);
	tok_keys_free(ks);
}

/*
 * token_format = public: tok_seal signs v4.public with the first signing
 * key, footer {"kid":"k4.pid.…"}; tok_open verifies it with the key its kid
 * names, a token of a key no longer listed fails, and the cache of verified
 * tokens changes no answer: a changed token, an expired one, another issuer
 * are refused after the good one was cached too.
 */
static void
test_seal_open_public(void **state)
{
	unsigned char seeds[64], m[TOK_MAX];
	struct tok_keys *ks, *other, *both;
	struct tok_claims c, got;
	char tok[TOK_MAX], bad[TOK_MAX], footer[128];
	size_t mlen = 0;
	int i, n;

	(void)state;
	for (i = 0; i < 64; i++)
		seeds[i] = (unsigned char)(i * 7 + 1);
	ks = tok_keys_make(key_a, 1, seeds, 1);
	other = tok_keys_make(NULL, 0, seeds + 32, 1);
	both = tok_keys_make(NULL, 0, seeds, 2);
	assert_non_null(ks);
	assert_non_null(other);
	assert_non_null(both);
	ks->sign_public = true;
	claims_fill(&c, T2022, T2022 + 7200);
	assert_int_equal(tok_seal(ks, &c, tok, sizeof tok), 0);
	assert_int_equal(strncmp(tok, "v4.public.", 10), 0);
	/* What any verifier reads: the claims in clear, the footer's kid. */
	n = snprintf(footer, sizeof footer, "{\"kid\":\"%s\"}", ks->s[0].pid);
	assert_true(n > 0 && (size_t)n < sizeof footer);
	assert_int_equal(tok_v4_verify(m, sizeof m, &mlen, ks->s[0].pk, tok,
	    (const unsigned char *)footer, (size_t)n, NULL, 0), 0);
	assert_non_null(strstr((char *)m, OID));
	for (i = 0; i < 3; i++) {       /* the second and third come from the cache */
		assert_int_equal(tok_open(ks, tok, ISS, NOW, &got), OK);
		claims_equal(&got, &c);
	}
	assert_int_equal(tok_open(ks, tok, "another-issuer", NOW, &got), ERR_INVALID_TOKEN);
	assert_int_equal(tok_open(ks, tok, ISS, T2022 + 7200, &got), ERR_TOKEN_EXPIRED);
	assert_int_equal(tok_open(ks, tok, ISS, NOW, &got), OK);
	/* One character changed anywhere: refused. */
	for (i = 10; i < (int)strlen(tok); i += 7) {
		snprintf(bad, sizeof bad, "%s", tok);
		bad[i] = bad[i] == 'A' ? 'B' : 'A';
		if (tok_open(ks, bad, ISS, NOW, &got) == OK)
			fail_msg("a token changed at %d was accepted", i);
	}
	/* Another key set: the kid is unknown. Both keys listed: verified. */
	assert_int_equal(tok_open(other, tok, ISS, NOW, &got), ERR_INVALID_TOKEN);
	assert_int_equal(tok_open(both, tok, ISS, NOW, &got), OK);
	/* v4.local tokens of the same set still open, whatever it signs. */
	ks->sign_public = false;
	assert_int_equal(tok_seal(ks, &c, tok, sizeof tok), 0);
	assert_int_equal(strncmp(tok, "v4.local.", 9), 0);
	assert_int_equal(tok_open(ks, tok, ISS, NOW, &got), OK);
	tok_keys_free(ks);
	tok_keys_free(other);
	tok_keys_free(both);
}

static void
test_seal_refuses(void **state)
{
	struct tok_keys *ks = keys_of(key_a, NULL);
	struct tok_claims c;
	char tok[TOK_MAX];
	size_t len;

	(void)state;
	claims_fill(&c, T2022, T2022 + 7200);
	assert_int_equal(tok_seal(ks, &c, tok, sizeof tok), 0);
	len = strlen(tok);
	/* Exactly the room the token takes. */
	assert_int_equal(tok_seal(ks, &c, tok, len), -1);
	assert_string_equal(tok, "");
	assert_int_equal(tok_seal(ks, &c, tok, len + 1), 0);
	assert_int_equal(tok_seal(ks, &c, tok, 0), -1);

	/* Claims tok_open would refuse are never sealed. */
	c.sub[0] = '\0';
	assert_int_equal(tok_seal(ks, &c, tok, sizeof tok), -1);
	claims_fill(&c, T2022, T2022 + 7200);
	memset(c.app, 'a', sizeof c.app);       /* not terminated */
	assert_int_equal(tok_seal(ks, &c, tok, sizeof tok), -1);
	claims_fill(&c, T2022, INT64_MAX);
	assert_int_equal(tok_seal(ks, &c, tok, sizeof tok), -1);
	claims_fill(&c, -INT64_MAX, T2022);
	assert_int_equal(tok_seal(ks, &c, tok, sizeof tok), -1);
	tok_keys_free(ks);
}

static void
test_expired(void **state)
{
	struct tok_keys *ks = keys_of(key_a, NULL);
	struct tok_claims c, got;
	char tok[TOK_MAX];

	(void)state;
	claims_fill(&c, T2022, T2022 + 7200);
	assert_int_equal(tok_seal(ks, &c, tok, sizeof tok), 0);
	assert_int_equal(tok_open(ks, tok, ISS, T2022 + 7199, &got), OK);
	/* exp <= now: expired at exactly exp. The claims are still given. */
	assert_int_equal(tok_open(ks, tok, ISS, T2022 + 7200, &got), ERR_TOKEN_EXPIRED);
	claims_equal(&got, &c);
	assert_int_equal(tok_open(ks, tok, ISS, INT64_MAX, &got), ERR_TOKEN_EXPIRED);
	/* An expired token of another issuer is not ours: invalid first. */
	assert_int_equal(tok_open(ks, tok, "other", T2022 + 7200, &got),
	    ERR_INVALID_TOKEN);
	assert_true(all_zero(&got, sizeof got));
	tok_keys_free(ks);
}

/* Every single-character change anywhere in the token is refused. */
static void
test_tampered(void **state)
{
	struct tok_keys *ks = keys_of(key_a, NULL);
	struct tok_claims c, got;
	char tok[TOK_MAX], bad[TOK_MAX];
	size_t i, len;

	(void)state;
	claims_fill(&c, T2022, T2022 + 7200);
	assert_int_equal(tok_seal(ks, &c, tok, sizeof tok), 0);
	len = strlen(tok);
	for (i = 0; i < len; i++) {
		memcpy(bad, tok, len + 1);
		bad[i] = bad[i] == 'A' ? 'B' : 'A';
		if (tok_open(ks, bad, ISS, NOW, &got) != ERR_INVALID_TOKEN)
			fail_msg("position %zu accepted", i);
		assert_true(all_zero(&got, sizeof got));
		/* And a bit flip that leaves the alphabet. */
		memcpy(bad, tok, len + 1);
		bad[i] = (char)(bad[i] ^ 0x80);
		assert_int_equal(tok_open(ks, bad, ISS, NOW, &got), ERR_INVALID_TOKEN);
	}
	/* Every truncation, down to nothing. */
	for (i = 0; i < len; i++) {
		memcpy(bad, tok, i);
		bad[i] = '\0';
		if (tok_open(ks, bad, ISS, NOW, &got) != ERR_INVALID_TOKEN)
			fail_msg("truncation to %zu accepted", i);
	}
	/* Anything appended. */
	memcpy(bad, tok, len);
	memcpy(bad + len, "A", 2);
	assert_int_equal(tok_open(ks, bad, ISS, NOW, &got), ERR_INVALID_TOKEN);
	memcpy(bad + len, "=", 2);
	assert_int_equal(tok_open(ks, bad, ISS, NOW, &got), ERR_INVALID_TOKEN);
	memcpy(bad + len, ".", 2);
	assert_int_equal(tok_open(ks, bad, ISS, NOW, &got), ERR_INVALID_TOKEN);
	memcpy(bad + len, " ", 2);
	assert_int_equal(tok_open(ks, bad, ISS, NOW, &got), ERR_INVALID_TOKEN);
	memcpy(bad + len, "\n", 2);
	assert_int_equal(tok_open(ks, bad, ISS, NOW, &got), ERR_INVALID_TOKEN);
	assert_int_equal(tok_open(ks, NULL, ISS, NOW, &got), ERR_INVALID_TOKEN);
	assert_int_equal(tok_open(ks, "", ISS, NOW, &got), ERR_INVALID_TOKEN);
	tok_keys_free(ks);
}

static void
test_key_rotation(void **state)
{
	struct tok_keys *ab = keys_of(key_a, key_b), *b = keys_of(key_b, NULL);
	struct tok_keys *a = keys_of(key_a, NULL), *c2 = keys_of(key_c, NULL);
	struct tok_claims c, got;
	char tok[TOK_MAX];

	(void)state;
	claims_fill(&c, T2022, T2022 + 7200);
	assert_string_equal(ab->k[0].lid, a->k[0].lid);
	assert_string_equal(ab->k[1].lid, b->k[0].lid);
	assert_string_not_equal(a->k[0].lid, b->k[0].lid);

	/* The first key seals. */
	assert_int_equal(tok_seal(ab, &c, tok, sizeof tok), 0);
	assert_int_equal(tok_open(a, tok, ISS, NOW, &got), OK);
	assert_int_equal(tok_open(b, tok, ISS, NOW, &got), ERR_INVALID_TOKEN);
	assert_int_equal(tok_open(ab, tok, ISS, NOW, &got), OK);

	/* Every key opens: a token of the second key. */
	assert_int_equal(tok_seal(b, &c, tok, sizeof tok), 0);
	assert_int_equal(tok_open(ab, tok, ISS, NOW, &got), OK);
	claims_equal(&got, &c);
	assert_int_equal(tok_open(a, tok, ISS, NOW, &got), ERR_INVALID_TOKEN);

	/* A key not in the set. */
	assert_int_equal(tok_seal(c2, &c, tok, sizeof tok), 0);
	assert_int_equal(tok_open(ab, tok, ISS, NOW, &got), ERR_INVALID_TOKEN);
	assert_true(all_zero(&got, sizeof got));

	tok_keys_free(ab);
	tok_keys_free(a);
	tok_keys_free(b);
	tok_keys_free(c2);
}

static void
test_issuer(void **state)
{
	struct tok_keys *ks = keys_of(key_a, NULL);
	struct tok_claims c, got;
	char tok[TOK_MAX];

	(void)state;
	claims_fill(&c, T2022, T2022 + 7200);
	assert_int_equal(tok_seal(ks, &c, tok, sizeof tok), 0);
	assert_int_equal(tok_open(ks, tok, "https://other.example", NOW, &got),
	    ERR_INVALID_TOKEN);
	assert_true(all_zero(&got, sizeof got));
	assert_int_equal(tok_open(ks, tok, ISS "/", NOW, &got), ERR_INVALID_TOKEN);
	assert_int_equal(tok_open(ks, tok, "https://auth.exampl", NOW, &got),
	    ERR_INVALID_TOKEN);
	assert_int_equal(tok_open(ks, tok, "", NOW, &got), ERR_INVALID_TOKEN);
	assert_int_equal(tok_open(ks, tok, ISS, NOW, &got), OK);
	tok_keys_free(ks);
}

/* Other versions and purposes, and the official vectors that show them. */
static void
test_other_versions(void **state)
{
	static const char *headers[] = {
		"v4.public.", "v3.local.", "v2.local.", "v1.local.", "V4.LOCAL.",
		"v4.locaL.", "v4.local", "v4local.", "v4..", "k4.local.", "",
	};
	struct tok_keys *ks = keys_of(key_a, NULL);
	struct json_object *root, *tests;
	struct tok_claims c, got;
	char tok[TOK_MAX], bad[TOK_MAX + 16];
	size_t i, count;
	int n;

	(void)state;
	claims_fill(&c, T2022, T2022 + 7200);
	assert_int_equal(tok_seal(ks, &c, tok, sizeof tok), 0);
	for (i = 0; i < sizeof headers / sizeof headers[0]; i++) {
		n = snprintf(bad, sizeof bad, "%s%s", headers[i], tok + 9);
		assert_true(n > 0 && (size_t)n < sizeof bad);
		if (tok_open(ks, bad, ISS, NOW, &got) != ERR_INVALID_TOKEN)
			fail_msg("header \"%s\" accepted", headers[i]);
	}

	/* Every token of the official vectors, v4.public and v3 included:
	 * none carries our kid, so none opens, whatever the key set. */
	root = load_vectors("paseto-v4.json");
	assert_true(json_object_object_get_ex(root, "tests", &tests));
	count = json_object_array_length(tests);
	for (i = 0; i < count; i++) {
		struct json_object *t = json_object_array_get_idx(tests, i);

		assert_int_equal(tok_open(ks, jstr(t, "token"), NULL, NOW, &got),
		    ERR_INVALID_TOKEN);
	}
	json_object_put(root);
	tok_keys_free(ks);
}

static void
test_footers(void **state)
{
	struct tok_keys *ks = keys_of(key_a, NULL), *other = keys_of(key_b, NULL);
	struct tok_claims got;
	char payload[1024], footer[256], tok[TOK_MAX], bad[TOK_MAX];
	const char *lid = ks->k[0].lid;
	char *dot;
	int n;

	(void)state;
	payload_with(payload, sizeof payload, NULL, NULL);
	mint(tok, sizeof tok, ks, 0, payload);
	assert_int_equal(tok_open(ks, tok, ISS, NOW, &got), OK);

	/* No footer at all, and a dot with nothing after it. */
	mint_raw(tok, sizeof tok, key_a, payload, strlen(payload), "");
	assert_null(strchr(tok + 9, '.'));
	assert_int_equal(tok_open(ks, tok, ISS, NOW, &got), ERR_INVALID_TOKEN);
	n = snprintf(bad, sizeof bad, "%s.", tok);
	assert_true(n > 0 && (size_t)n < sizeof bad);
	assert_int_equal(tok_open(ks, bad, ISS, NOW, &got), ERR_INVALID_TOKEN);

	/* JSON with the right kid, but not our exact shape. */
	n = snprintf(footer, sizeof footer, "{\"kid\": \"%s\"}", lid);
	assert_true(n > 0 && (size_t)n < sizeof footer);
	mint_raw(tok, sizeof tok, key_a, payload, strlen(payload), footer);
	assert_int_equal(tok_open(ks, tok, ISS, NOW, &got), ERR_INVALID_TOKEN);
	n = snprintf(footer, sizeof footer, "{\"kid\":\"%s\",\"wpk\":\"x\"}", lid);
	assert_true(n > 0 && (size_t)n < sizeof footer);
	mint_raw(tok, sizeof tok, key_a, payload, strlen(payload), footer);
	assert_int_equal(tok_open(ks, tok, ISS, NOW, &got), ERR_INVALID_TOKEN);
	n = snprintf(footer, sizeof footer, "{\"kid\":\"%sx\"}", lid);
	assert_true(n > 0 && (size_t)n < sizeof footer);
	mint_raw(tok, sizeof tok, key_a, payload, strlen(payload), footer);
	assert_int_equal(tok_open(ks, tok, ISS, NOW, &got), ERR_INVALID_TOKEN);
	n = snprintf(footer, sizeof footer, "{\"kid\":\"%.50s\"}", lid);
	assert_true(n > 0 && (size_t)n < sizeof footer);
	mint_raw(tok, sizeof tok, key_a, payload, strlen(payload), footer);
	assert_int_equal(tok_open(ks, tok, ISS, NOW, &got), ERR_INVALID_TOKEN);
	mint_raw(tok, sizeof tok, key_a, payload, strlen(payload), "{\"kid\":\"\"}");
	assert_int_equal(tok_open(ks, tok, ISS, NOW, &got), ERR_INVALID_TOKEN);
	mint_raw(tok, sizeof tok, key_a, payload, strlen(payload), lid);
	assert_int_equal(tok_open(ks, tok, ISS, NOW, &got), ERR_INVALID_TOKEN);

	/* Our kid on a token made with another key: a forgery. */
	n = snprintf(footer, sizeof footer, "{\"kid\":\"%s\"}", lid);
	assert_true(n > 0 && (size_t)n < sizeof footer);
	mint_raw(tok, sizeof tok, key_b, payload, strlen(payload), footer);
	assert_int_equal(tok_open(ks, tok, ISS, NOW, &got), ERR_INVALID_TOKEN);
	/* And a kid swapped onto a genuine token: the footer is authenticated. */
	mint(tok, sizeof tok, other, 0, payload);
	mint(bad, sizeof bad, ks, 0, payload);
	dot = strrchr(tok, '.');
	assert_non_null(dot);
	*dot = '\0';
	n = snprintf(footer, sizeof footer, "%s", strrchr(bad, '.'));
	assert_true(n > 0 && (size_t)n < sizeof footer);
	n = snprintf(bad, sizeof bad, "%s%s", tok, footer);
	assert_true(n > 0 && (size_t)n < sizeof bad);
	assert_int_equal(tok_open(ks, bad, ISS, NOW, &got), ERR_INVALID_TOKEN);

	/* '=' padding on either part. */
	mint(tok, sizeof tok, ks, 0, payload);
	dot = strrchr(tok, '.');
	n = snprintf(bad, sizeof bad, "%.*s=.%s", (int)(dot - tok), tok, dot + 1);
	assert_true(n > 0 && (size_t)n < sizeof bad);
	assert_int_equal(tok_open(ks, bad, ISS, NOW, &got), ERR_INVALID_TOKEN);
	n = snprintf(bad, sizeof bad, "%s=", tok);
	assert_true(n > 0 && (size_t)n < sizeof bad);
	assert_int_equal(tok_open(ks, bad, ISS, NOW, &got), ERR_INVALID_TOKEN);
	n = snprintf(bad, sizeof bad, "%s==", tok);
	assert_true(n > 0 && (size_t)n < sizeof bad);
	assert_int_equal(tok_open(ks, bad, ISS, NOW, &got), ERR_INVALID_TOKEN);
	/* Two footers. */
	n = snprintf(bad, sizeof bad, "%s%s", tok, dot);
	assert_true(n > 0 && (size_t)n < sizeof bad);
	assert_int_equal(tok_open(ks, bad, ISS, NOW, &got), ERR_INVALID_TOKEN);
	assert_int_equal(tok_open(ks, tok, ISS, NOW, &got), OK);

	tok_keys_free(ks);
	tok_keys_free(other);
}

static void
test_length_limit(void **state)
{
	struct tok_keys *ks = keys_of(key_a, NULL);
	struct tok_claims got;
	char pad[3200], payload[4096], *tok, *big;
	size_t size = 2 * TOK_MAX;

	(void)state;
	tok = malloc(size);
	big = malloc(size);
	assert_non_null(tok);
	assert_non_null(big);

	/* A payload that makes a token just under TOK_MAX opens ... */
	json_run(pad, sizeof pad, 'p', 2500);
	payload_with(payload, sizeof payload, "pad", pad);
	mint(tok, size, ks, 0, payload);
	assert_true(strlen(tok) <= TOK_MAX);
	assert_int_equal(tok_open(ks, tok, ISS, NOW, &got), OK);
	/* ... and one over it does not, authentic as it is. */
	json_run(pad, sizeof pad, 'p', 3000);
	payload_with(payload, sizeof payload, "pad", pad);
	mint(tok, size, ks, 0, payload);
	assert_true(strlen(tok) > TOK_MAX);
	assert_int_equal(tok_open(ks, tok, ISS, NOW, &got), ERR_INVALID_TOKEN);

	/* Long garbage with the right header. */
	memcpy(big, "v4.local.", 9);
	memset(big + 9, 'A', size - 10);
	big[size - 1] = '\0';
	assert_int_equal(tok_open(ks, big, ISS, NOW, &got), ERR_INVALID_TOKEN);
	big[TOK_MAX] = '\0';
	assert_int_equal(tok_open(ks, big, ISS, NOW, &got), ERR_INVALID_TOKEN);
	free(tok);
	free(big);
	tok_keys_free(ks);
}

/* Authentic tokens (minted with our key and kid) whose claims are bad. */
static void
test_claims(void **state)
{
	static const struct {
		const char *name;       /* the claim to replace */
		const char *value;      /* raw JSON, NULL to leave it out */
		enum err rc;
	} cases[] = {
		{NULL, NULL, OK},
		{"uni", "\"" UNI "\"", OK},
		{"uni", "\"\"", OK},
		{"jti", "\"extra claims are ignored\"", OK},
		{"exp", "\"2022-01-01T02:00:00Z\"", OK},
		{"exp", "\"2022-01-01T02:00:00.999999Z\"", OK},
		{"exp", "\"2022-01-01T10:00:00+08:00\"", OK},
		{"exp", "\"2022-01-01T00:01:01+00:00\"", OK},
		{"exp", "\"2022-01-01T00:01:00+00:00\"", ERR_TOKEN_EXPIRED},
		{"exp", "\"2022-01-01T08:01:00+08:00\"", ERR_TOKEN_EXPIRED},
		{"exp", "\"2021-12-31T19:01:00-05:00\"", ERR_TOKEN_EXPIRED},
		{"exp", "\"1970-01-01T00:00:00Z\"", ERR_TOKEN_EXPIRED},
		{"iss", NULL, ERR_INVALID_TOKEN},
		{"sub", NULL, ERR_INVALID_TOKEN},
		{"sid", NULL, ERR_INVALID_TOKEN},
		{"app", NULL, ERR_INVALID_TOKEN},
		{"oid", NULL, ERR_INVALID_TOKEN},
		{"iat", NULL, ERR_INVALID_TOKEN},
		{"exp", NULL, ERR_INVALID_TOKEN},
		{"sub", "\"\"", ERR_INVALID_TOKEN},
		{"oid", "\"\"", ERR_INVALID_TOKEN},
		{"sub", "42", ERR_INVALID_TOKEN},
		{"sub", "null", ERR_INVALID_TOKEN},
		{"sub", "[\"" SUB "\"]", ERR_INVALID_TOKEN},
		{"sub", "{\"id\":\"" SUB "\"}", ERR_INVALID_TOKEN},
		{"sub", "true", ERR_INVALID_TOKEN},
		{"sub", "\"0b5e3a5c-7f7e-4b8e-9a55-3c0a4a0b1c2d0\"", ERR_INVALID_TOKEN},
		{"sub", "\"a\\u0000b\"", ERR_INVALID_TOKEN},
		{"uni", "42", ERR_INVALID_TOKEN},
		{"uni", "null", ERR_INVALID_TOKEN},
		{"iat", "1640995200", ERR_INVALID_TOKEN},
		{"exp", "1640995200", ERR_INVALID_TOKEN},
		{"exp", "\"tomorrow\"", ERR_INVALID_TOKEN},
		{"exp", "\"\"", ERR_INVALID_TOKEN},
		{"exp", "\"2022-13-01T00:00:00Z\"", ERR_INVALID_TOKEN},
		{"exp", "\"2022-01-01T02:00:00\"", ERR_INVALID_TOKEN},
		{"exp", "\"2022-01-01 02:00:00Z\"", ERR_INVALID_TOKEN},
		{"exp", "\"2122-01-01T02:00:00+00:00 \"", ERR_INVALID_TOKEN},
		{"iat", "\"2022-02-30T00:00:00Z\"", ERR_INVALID_TOKEN},
	};
	struct tok_keys *ks = keys_of(key_a, NULL);
	struct tok_claims got;
	char payload[4096], tok[TOK_MAX + 1024], big[512];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		enum err rc;

		payload_with(payload, sizeof payload, cases[i].name, cases[i].value);
		mint(tok, sizeof tok, ks, 0, payload);
		rc = tok_open(ks, tok, ISS, NOW, &got);
		if (rc != cases[i].rc)
			fail_msg("%s: got %d, want %d", payload, rc, cases[i].rc);
		if (rc == OK) {
			assert_string_equal(got.sub, SUB);
			assert_int_equal(got.iat, T2022);
		}
	}

	/* Fields at their limit and one past it. */
	json_run(big, sizeof big, 'i', sizeof got.iss - 1);
	payload_with(payload, sizeof payload, "iss", big);
	mint(tok, sizeof tok, ks, 0, payload);
	assert_int_equal(tok_open(ks, tok, NULL, NOW, &got), OK);
	assert_int_equal(strlen(got.iss), sizeof got.iss - 1);
	json_run(big, sizeof big, 'i', sizeof got.iss);
	payload_with(payload, sizeof payload, "iss", big);
	mint(tok, sizeof tok, ks, 0, payload);
	assert_int_equal(tok_open(ks, tok, NULL, NOW, &got), ERR_INVALID_TOKEN);
	json_run(big, sizeof big, 'o', OPENID_MAX);
	payload_with(payload, sizeof payload, "oid", big);
	mint(tok, sizeof tok, ks, 0, payload);
	assert_int_equal(tok_open(ks, tok, ISS, NOW, &got), OK);
	json_run(big, sizeof big, 'o', OPENID_MAX + 1);
	payload_with(payload, sizeof payload, "oid", big);
	mint(tok, sizeof tok, ks, 0, payload);
	assert_int_equal(tok_open(ks, tok, ISS, NOW, &got), ERR_INVALID_TOKEN);
	json_run(big, sizeof big, 'a', APPID_MAX + 1);
	payload_with(payload, sizeof payload, "app", big);
	mint(tok, sizeof tok, ks, 0, payload);
	assert_int_equal(tok_open(ks, tok, ISS, NOW, &got), ERR_INVALID_TOKEN);
	json_run(big, sizeof big, 'u', UNIONID_MAX + 1);
	payload_with(payload, sizeof payload, "uni", big);
	mint(tok, sizeof tok, ks, 0, payload);
	assert_int_equal(tok_open(ks, tok, ISS, NOW, &got), ERR_INVALID_TOKEN);
	json_run(big, sizeof big, 's', UUID_STR);
	payload_with(payload, sizeof payload, "sid", big);
	mint(tok, sizeof tok, ks, 0, payload);
	assert_int_equal(tok_open(ks, tok, ISS, NOW, &got), ERR_INVALID_TOKEN);

	/* Not a JSON object, or not only one. */
	{
		static const char *notobj[] = {
			"", "not json", "[]", "\"str\"", "42", "null", "{",
			"{\"iss\":", "{}", "{\"iss\":\"" ISS "\"}",
		};

		for (i = 0; i < sizeof notobj / sizeof notobj[0]; i++) {
			mint(tok, sizeof tok, ks, 0, notobj[i]);
			assert_int_equal(tok_open(ks, tok, NULL, NOW, &got),
			    ERR_INVALID_TOKEN);
		}
	}
	/* Whitespace around the value is JSON; a second value is not. */
	payload_with(payload, sizeof payload, NULL, NULL);
	append(payload, sizeof payload, " \n");
	mint(tok, sizeof tok, ks, 0, payload);
	assert_int_equal(tok_open(ks, tok, ISS, NOW, &got), OK);
	payload_with(payload, sizeof payload, NULL, NULL);
	append(payload, sizeof payload, "{}");
	mint(tok, sizeof tok, ks, 0, payload);
	assert_int_equal(tok_open(ks, tok, ISS, NOW, &got), ERR_INVALID_TOKEN);
	/* A NUL byte inside the plaintext. */
	{
		char foot[128];
		size_t len;
		int n;

		payload_with(payload, sizeof payload, NULL, NULL);
		len = strlen(payload);
		memcpy(payload + len, "\0{}", 3);
		n = snprintf(foot, sizeof foot, "{\"kid\":\"%s\"}", ks->k[0].lid);
		assert_true(n > 0 && (size_t)n < sizeof foot);
		mint_raw(tok, sizeof tok, key_a, payload, len + 3, foot);
		assert_int_equal(tok_open(ks, tok, ISS, NOW, &got), ERR_INVALID_TOKEN);
		mint_raw(tok, sizeof tok, key_a, payload, len, foot);
		assert_int_equal(tok_open(ks, tok, ISS, NOW, &got), OK);
	}
	/* Deep nesting is json-c's problem, bounded by its depth limit. */
	{
		char deep[2100];

		memset(deep, '[', 1000);
		memset(deep + 1000, ']', 1000);
		deep[2000] = '\0';
		payload_with(payload, sizeof payload, "x", deep);
		mint(tok, sizeof tok, ks, 0, payload);
		assert_int_equal(tok_open(ks, tok, ISS, NOW, &got), ERR_INVALID_TOKEN);
	}
	tok_keys_free(ks);
}

/*
 * test_claims_read_as_json: tok_open reads the claims tok_seal writes
 * without json-c; whatever else a PASETO library may write must still be
 * read as JSON reads it: a claim twice (the last wins, as in json-c),
 * escapes, whitespace, UTF-8.
 */
static void
test_claims_read_as_json(void **state)
{
	static const struct {
		const char *from, *to;  /* text of the base payload replaced */
		const char *sub, *iss, *oid;
	} cases[] = {
		{"}", ",\"sub\":\"0b5e3a5c-0000-4b8e-9a55-3c0a4a0b1c2d\"}",
		    "0b5e3a5c-0000-4b8e-9a55-3c0a4a0b1c2d", ISS, OID},
		{"\"iss\":\"" ISS "\"", "\"iss\":\"https:\\/\\/a.example\\u002f\"",
		    SUB, "https://a.example/", OID},
		{"{", "{ ", SUB, ISS, OID},
		{",\"sid\"", " , \"sid\" ", SUB, ISS, OID},
		{"\"oid\":\"" OID "\"", "\"oid\":\"\xc3\xa9t\xc3\xa9\"", SUB, ISS,
		    "\xc3\xa9t\xc3\xa9"},
		{"}", ",\"x\":1,\"x\":[],\"y\":{\"z\":null}}", SUB, ISS, OID},
	};
	struct tok_keys *ks = keys_of(key_a, NULL);
	struct tok_claims got;
	char base[4096], payload[4096], tok[TOK_MAX + 1024];
	const char *at;
	size_t i, k;

	(void)state;
	payload_with(base, sizeof base, NULL, NULL);
	for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		at = strstr(base, cases[i].from);
		assert_non_null(at);
		k = (size_t)(at - base);
		assert_true(snprintf(payload, sizeof payload, "%.*s%s%s", (int)k, base,
		    cases[i].to, at + strlen(cases[i].from)) < (int)sizeof payload);
		mint(tok, sizeof tok, ks, 0, payload);
		if (tok_open(ks, tok, NULL, NOW, &got) != OK)
			fail_msg("%s: not opened", payload);
		assert_string_equal(got.sub, cases[i].sub);
		assert_string_equal(got.iss, cases[i].iss);
		assert_string_equal(got.oid, cases[i].oid);
		assert_string_equal(got.sid, SID);
		assert_int_equal(got.exp, T2022 + 7200);
	}
	tok_keys_free(ks);
}

/* Random strings and random mutations never crash and never open. */
static void
test_fuzzish(void **state)
{
	static const char alphabet[] =
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.=+/ ";
	struct tok_keys *ks = keys_of(key_a, key_b);
	struct tok_claims c, got;
	char tok[TOK_MAX], bad[TOK_MAX + 64];
	unsigned char pt[TOK_MAX];
	size_t ptlen, len, i, j, n;

	(void)state;
	claims_fill(&c, T2022, T2022 + 7200);
	assert_int_equal(tok_seal(ks, &c, tok, sizeof tok), 0);
	len = strlen(tok);

	for (i = 0; i < 3000; i++) {
		/* Random bytes, random base64ish text, both after our header. */
		n = randombytes_uniform(600);
		for (j = 0; j < n; j++) {
			if (i % 2 == 0)
				bad[j] = (char)(1 + randombytes_uniform(255));
			else
				bad[j] = alphabet[randombytes_uniform(sizeof alphabet - 1)];
		}
		bad[n] = '\0';
		if (i % 3 == 0 && n > 9)
			memcpy(bad, "v4.local.", 9);
		assert_int_equal(tok_open(ks, bad, ISS, NOW, &got), ERR_INVALID_TOKEN);
		assert_int_equal(tok_v4_decrypt(pt, sizeof pt, &ptlen, key_a, bad,
		    NULL, 0, NULL, 0), -1);

		/* A few random edits of a genuine token. */
		memcpy(bad, tok, len + 1);
		n = 1 + randombytes_uniform(4);
		for (j = 0; j < n; j++) {
			size_t pos = randombytes_uniform((uint32_t)len);

			switch (randombytes_uniform(3)) {
			case 0:         /* replace */
				bad[pos] = alphabet[randombytes_uniform(sizeof alphabet - 1)];
				break;
			case 1:         /* delete */
				memmove(bad + pos, bad + pos + 1, strlen(bad + pos));
				break;
			default:        /* insert */
				memmove(bad + pos + 1, bad + pos, strlen(bad + pos) + 1);
				bad[pos] = alphabet[randombytes_uniform(sizeof alphabet - 1)];
				break;
			}
			len = strlen(tok);
			if (strlen(bad) < 2)
				break;
		}
		if (strcmp(bad, tok) != 0)
			assert_int_equal(tok_open(ks, bad, ISS, NOW, &got),
			    ERR_INVALID_TOKEN);
	}
	tok_keys_free(ks);
}

/* ----------------------------------------------------------- key files */

static void
test_keys_new(void **state)
{
	unsigned char raw[(TOK_KEYS_MAX + 1) * TOK_KEYBYTES];
	struct tok_keys *ks;
	size_t i;

	(void)state;
	tok_keys_free(NULL);
	randombytes_buf(raw, sizeof raw);
	assert_null(tok_keys_new(raw, 0));
	assert_null(tok_keys_new(NULL, 1));
	assert_null(tok_keys_new(raw, TOK_KEYS_MAX + 1));
	ks = tok_keys_new(raw, TOK_KEYS_MAX);
	assert_non_null(ks);
	assert_int_equal(ks->n, TOK_KEYS_MAX);
	for (i = 0; i < ks->n; i++) {
		char lid[TOK_LID_STR];

		assert_memory_equal(ks->k[i].key, raw + i * TOK_KEYBYTES, TOK_KEYBYTES);
		assert_int_equal(tok_lid(lid, sizeof lid, ks->k[i].key), 0);
		assert_string_equal(ks->k[i].lid, lid);
	}
	tok_keys_free(ks);
}

static void
test_keys_load_good(void **state)
{
	char a[TOK_PASERK_LOCAL_STR], b[TOK_PASERK_LOCAL_STR], c[TOK_PASERK_LOCAL_STR];
	char content[1024], path[512], err[256];
	struct tok_keys *ks;
	int n;

	(void)state;
	assert_int_equal(tok_paserk_local(a, sizeof a, key_a), 0);
	assert_int_equal(tok_paserk_local(b, sizeof b, key_b), 0);
	assert_int_equal(tok_paserk_local(c, sizeof c, key_c), 0);
	/* Comments, blank lines, CRLF, indentation, no final newline. */
	n = snprintf(content, sizeof content,
	    "# wxauth token keys: the first seals, all open\n"
	    "\n"
	    "   \t\n"
	    "%s\r\n"
	    "\t%s   \n"
	    "  # retired next month\n"
	    "%s", a, b, c);
	assert_true(n > 0 && (size_t)n < sizeof content);
	tmp_path(path, sizeof path, "good.keys");
	write_file(path, content, (size_t)n);

	copy(err, sizeof err, "untouched");
	ks = tok_keys_load(path, err, sizeof err);
	assert_non_null(ks);
	assert_string_equal(err, "");
	assert_int_equal(ks->n, 3);
	assert_memory_equal(ks->k[0].key, key_a, TOK_KEYBYTES);
	assert_memory_equal(ks->k[1].key, key_b, TOK_KEYBYTES);
	assert_memory_equal(ks->k[2].key, key_c, TOK_KEYBYTES);
	/* The lid of the vectors' key 0x70..0x8f (k4.lid-2). */
	assert_string_equal(ks->k[0].lid,
	    "k4.lid.iVtYQDjr5gEijCSjJC3fQaJm7nCeQSeaty0Jixy8dbsk");
	tok_keys_free(ks);

	/* errbuf may be left out. */
	ks = tok_keys_load(path, NULL, 0);
	assert_non_null(ks);
	tok_keys_free(ks);
	/* Readable by every user: refused, saying how to fix it. */
	assert_int_equal(chmod(path, 0644), 0);
	assert_null(tok_keys_load(path, err, sizeof err));
	assert_non_null(strstr(err, "chmod 600"));
	assert_int_equal(chmod(path, 0640), 0);
	ks = tok_keys_load(path, err, sizeof err);
	assert_non_null(ks);
	tok_keys_free(ks);
	assert_int_equal(unlink(path), 0);
}

static void
expect_bad_file(const char *content, size_t len, const char *where,
    const char *what)
{
	char path[512], err[512], want[600];
	int n;

	tmp_path(path, sizeof path, "bad.keys");
	write_file(path, content, len);
	copy(err, sizeof err, "untouched");
	assert_null(tok_keys_load(path, err, sizeof err));
	n = snprintf(want, sizeof want, "%s%s", path, where);
	assert_true(n > 0 && (size_t)n < sizeof want);
	if (strncmp(err, want, strlen(want)) != 0 || strstr(err, what) == NULL)
		fail_msg("got \"%s\", want \"%s...%s\"", err, want, what);
	/* Never a key, or part of one, in a message. */
	assert_null(strstr(err, "k4.local.c"));
	assert_null(strstr(err, "cHFyc3R1"));
	/* A small errbuf is truncated, not overrun; none at all is fine. */
	assert_null(tok_keys_load(path, err, 8));
	assert_int_equal(strlen(err), 7);
	assert_null(tok_keys_load(path, NULL, 0));
	assert_int_equal(unlink(path), 0);
}

static void
test_keys_load_bad(void **state)
{
	char a[TOK_PASERK_LOCAL_STR], b[TOK_PASERK_LOCAL_STR];
	char content[8192], path[512], err[512];
	size_t pos = 0, i;
	int n;

	(void)state;
	assert_int_equal(tok_paserk_local(a, sizeof a, key_a), 0);
	assert_int_equal(tok_paserk_local(b, sizeof b, key_b), 0);

	n = snprintf(content, sizeof content, "# keys\n\n%s\nk4.local.short\n%s\n",
	    a, b);
	expect_bad_file(content, (size_t)n, ":4: ", "base64url");
	n = snprintf(content, sizeof content, "%s\nk3.local.%s\n", a, a + 9);
	expect_bad_file(content, (size_t)n, ":2: ", "not a PASERK k4.local or k4.secret key");
	/* A public key verifies, and signs nothing: never a line of this file. */
	n = snprintf(content, sizeof content, "k4.public.%s\n", a + 9);
	expect_bad_file(content, (size_t)n, ":1: ", "not a PASERK k4.local or k4.secret key");
	/* A secret key whose public half is not its own. */
	n = snprintf(content, sizeof content, "k4.secret.%s%s\n", a + 9, b + 9);
	expect_bad_file(content, (size_t)n, ":1: ", "an Ed25519 seed and its public key");
	n = snprintf(content, sizeof content, "%s=\n", a);
	expect_bad_file(content, (size_t)n, ":1: ", "base64url");
	n = snprintf(content, sizeof content, "%s # main key\n", a);
	expect_bad_file(content, (size_t)n, ":1: ", "base64url");
	n = snprintf(content, sizeof content, "%sAAAA\n", a);   /* 35 bytes */
	expect_bad_file(content, (size_t)n, ":1: ", "base64url");
	n = snprintf(content, sizeof content, "%.51s\n", a);    /* 42 chars */
	expect_bad_file(content, (size_t)n, ":1: ", "base64url");
	n = snprintf(content, sizeof content, "\n\n%s\n%s\n%s\n", a, b, a);
	expect_bad_file(content, (size_t)n, ":5: ", "same key as line 3");
	/* NUL inside a line. */
	n = snprintf(content, sizeof content, "%s\n%s\n", b, a);
	content[strlen(b) + 20] = '\0';
	expect_bad_file(content, (size_t)n, ":2: ", "line too long");
	/* An overlong comment is still an overlong line. */
	content[0] = '#';
	memset(content + 1, 'x', 3000);
	content[3001] = '\n';
	expect_bad_file(content, 3002, ":1: ", "line too long");

	/* One more than TOK_KEYS_MAX keys: the error names the surplus line. */
	for (i = 0; i <= TOK_KEYS_MAX; i++) {
		unsigned char k[TOK_KEYBYTES];
		char line[TOK_PASERK_LOCAL_STR];

		randombytes_buf(k, sizeof k);
		assert_int_equal(tok_paserk_local(line, sizeof line, k), 0);
		n = snprintf(content + pos, sizeof content - pos, "%s\n", line);
		assert_true(n > 0 && (size_t)n < sizeof content - pos);
		pos += (size_t)n;
	}
	expect_bad_file(content, pos, ":17: ", "too many keys");

	/* No key: empty, blank, comments only. */
	expect_bad_file("", 0, ": ", "no key");
	expect_bad_file("\n\n  \n", 4, ": ", "no key");
	expect_bad_file("# k4.local.x\n#\n", 15, ": ", "no key");

	/* Missing file, and a directory. */
	tmp_path(path, sizeof path, "missing.keys");
	assert_null(tok_keys_load(path, err, sizeof err));
	assert_int_equal(strncmp(err, path, strlen(path)), 0);
	assert_non_null(strstr(err, "No such file"));
	assert_null(tok_keys_load(tmpdir, err, sizeof err));
	assert_int_equal(strncmp(err, tmpdir, strlen(tmpdir)), 0);
}

static void
test_keygen_line(void **state)
{
	char l1[TOK_PASERK_LOCAL_STR], l2[TOK_PASERK_LOCAL_STR];
	unsigned char k[TOK_KEYBYTES];

	(void)state;
	assert_int_equal(tok_keygen_line(l1, sizeof l1), 0);
	assert_int_equal(tok_keygen_line(l2, sizeof l2), 0);
	assert_int_equal(strlen(l1), 52);
	assert_int_equal(strncmp(l1, "k4.local.", 9), 0);
	assert_string_not_equal(l1, l2);
	assert_int_equal(tok_paserk_local_parse(k, l1), 0);
	assert_int_equal(tok_keygen_line(l1, sizeof l1 - 1), -1);
}

/* ------------------------------------------------------- refresh tokens */

static void
test_refresh(void **state)
{
	unsigned char h1[TOK_HASHBYTES], h2[TOK_HASHBYTES], raw[TOK_REFRESH_BYTES];
	unsigned char expect[TOK_HASHBYTES];
	char r1[TOK_REFRESH_STR], r2[TOK_REFRESH_STR], small[TOK_REFRESH_STR - 1];
	size_t n;

	(void)state;
	assert_int_equal(tok_refresh_new(r1, sizeof r1, h1), 0);
	assert_int_equal(strlen(r1), 43);
	assert_int_equal(tok_refresh_hash(r1, h2), 0);
	assert_memory_equal(h1, h2, TOK_HASHBYTES);
	/* The hash is BLAKE2b-256 of the 32 raw bytes, not of the text. */
	assert_int_equal(codec_unb64url(raw, sizeof raw, &n, r1, 43), 0);
	assert_int_equal(n, TOK_REFRESH_BYTES);
	assert_int_equal(crypto_generichash(expect, sizeof expect, raw, sizeof raw,
	    NULL, 0), 0);
	assert_memory_equal(h1, expect, TOK_HASHBYTES);

	assert_int_equal(tok_refresh_new(r2, sizeof r2, h2), 0);
	assert_string_not_equal(r1, r2);
	assert_memory_not_equal(h1, h2, TOK_HASHBYTES);
	assert_int_equal(tok_refresh_new(small, sizeof small, h2), -1);

	/* A known answer: 32 zero bytes. */
	memset(raw, 0, sizeof raw);
	assert_int_equal(crypto_generichash(expect, sizeof expect, raw, sizeof raw,
	    NULL, 0), 0);
	assert_int_equal(tok_refresh_hash(
	    "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", h2), 0);
	assert_memory_equal(h2, expect, TOK_HASHBYTES);
}

static void
test_refresh_bad(void **state)
{
	static const char *bad[] = {
		"",
		"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",           /* 42 */
		"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",         /* 44 */
		"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=",         /* padded */
		"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=",          /* 43 with = */
		"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAB",          /* spare bits */
		"AAAAAAAAAAAAAAAAAAAA+AAAAAAAAAAAAAAAAAAAAAA",          /* std alphabet */
		"AAAAAAAAAAAAAAAAAAAA/AAAAAAAAAAAAAAAAAAAAAA",
		"AAAAAAAAAAAAAAAAAAAA AAAAAAAAAAAAAAAAAAAAAA",
		"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\n",
		" AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
		"AAAAAAAAAAAAAAAAAAAA\303\251AAAAAAAAAAAAAAAAAAAAA",
		"v4.local.AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
	};
	unsigned char h[TOK_HASHBYTES];
	char longer[200];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		memset(h, 0xa5, sizeof h);
		if (tok_refresh_hash(bad[i], h) != -1)
			fail_msg("accepted \"%s\"", bad[i]);
		assert_true(all_zero(h, sizeof h));
	}
	assert_int_equal(tok_refresh_hash(NULL, h), -1);
	memset(longer, 'A', sizeof longer - 1);
	longer[sizeof longer - 1] = '\0';
	assert_int_equal(tok_refresh_hash(longer, h), -1);
}

/* ------------------------------------------------------------------ time */

static void
test_time_fmt(void **state)
{
	static const struct {
		int64_t t;
		const char *s;
	} known[] = {
		{0, "1970-01-01T00:00:00+00:00"},
		{-1, "1969-12-31T23:59:59+00:00"},
		{T2022, "2022-01-01T00:00:00+00:00"},
		{1709210096, "2024-02-29T12:34:56+00:00"},
		{951782400, "2000-02-29T00:00:00+00:00"},
		{4107542399, "2100-02-28T23:59:59+00:00"},
		{4107542400, "2100-03-01T00:00:00+00:00"},
		{253402300799, "9999-12-31T23:59:59+00:00"},
		{-62167219200, "0000-01-01T00:00:00+00:00"},
	};
	char out[64], want[64];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof known / sizeof known[0]; i++) {
		int64_t back;

		assert_int_equal(tok_time_fmt(out, sizeof out, known[i].t), 0);
		assert_string_equal(out, known[i].s);
		assert_int_equal(tok_time_parse(out, &back), 0);
		assert_int_equal(back, known[i].t);
	}
	assert_int_equal(tok_time_fmt(out, sizeof out, 253402300800), -1);
	assert_string_equal(out, "");
	assert_int_equal(tok_time_fmt(out, sizeof out, -62167219201), -1);
	assert_int_equal(tok_time_fmt(out, sizeof out, INT64_MAX), -1);
	assert_int_equal(tok_time_fmt(out, sizeof out, INT64_MIN), -1);
	assert_int_equal(tok_time_fmt(out, 25, T2022), -1);
	assert_int_equal(tok_time_fmt(out, 26, T2022), 0);

	/* Against the C library, over the whole range we issue. */
	for (i = 0; i < 20000; i++) {
		int64_t t = (int64_t)(((uint64_t)randombytes_random() << 32 |
		    randombytes_random()) % 253402300800ULL), back;
		time_t tt = (time_t)t;
		struct tm tm;

		assert_non_null(gmtime_r(&tt, &tm));
		assert_true(strftime(want, sizeof want, "%Y-%m-%dT%H:%M:%S+00:00",
		    &tm) > 0);
		assert_int_equal(tok_time_fmt(out, sizeof out, t), 0);
		assert_string_equal(out, want);
		assert_int_equal(tok_time_parse(out, &back), 0);
		assert_int_equal(back, t);
	}
}

static void
test_time_parse(void **state)
{
	static const struct {
		const char *s;
		int64_t t;
	} good[] = {
		{"2022-01-01T00:00:00+00:00", T2022},
		{"2022-01-01T00:00:00Z", T2022},
		{"2022-01-01T00:00:00-00:00", T2022},
		{"2022-01-01T08:00:00+08:00", T2022},
		{"2021-12-31T18:30:00-05:30", T2022},
		{"2022-01-01T00:00:00.5Z", T2022},
		{"2022-01-01T00:00:00.999999999+00:00", T2022},
		{"2022-01-01T00:00:59Z", T2022 + 59},
		{"2024-02-29T00:00:00Z", 1709164800},
		{"2000-02-29T00:00:00Z", 951782400},
		{"2022-01-01T00:00:00+23:59", T2022 - 86340},
	};
	static const char *bad[] = {
		"", "2022", "2022-01-01", "2022-01-01T00:00:00",
		"2022-01-01T00:00:00+00", "2022-01-01T00:00:00+0000",
		"2022-01-01 00:00:00Z", "2022-01-01t00:00:00Z", "2022-01-01T00:00:00z",
		"2022-1-01T00:00:00Z", "22-01-01T00:00:00Z", "+2022-01-01T00:00:00Z",
		"2022-00-01T00:00:00Z", "2022-13-01T00:00:00Z", "2022-01-00T00:00:00Z",
		"2022-01-32T00:00:00Z", "2022-02-29T00:00:00Z", "2100-02-29T00:00:00Z",
		"2022-04-31T00:00:00Z", "2022-01-01T24:00:00Z", "2022-01-01T00:60:00Z",
		"2022-01-01T00:00:60Z", "2022-01-01T00:00:00.Z",
		"2022-01-01T00:00:00.5", "2022-01-01T00:00:00ZZ",
		"2022-01-01T00:00:00Z ", " 2022-01-01T00:00:00Z",
		"2022-01-01T00:00:00+24:00", "2022-01-01T00:00:00+00:60",
		"2022-01-01T00:00:00+00:00:00", "2022-01-01T00:00:00 +00:00",
		"2022-01-01T00:00:0Z", "2022-01-01T0:00:00Z", "2022-01-01T00:00:00,5Z",
		"２０22-01-01T00:00:00Z", "2022-01-01T00:00:00\n",
	};
	size_t i;
	int64_t t;

	(void)state;
	for (i = 0; i < sizeof good / sizeof good[0]; i++) {
		if (tok_time_parse(good[i].s, &t) != 0)
			fail_msg("refused %s", good[i].s);
		assert_int_equal(t, good[i].t);
	}
	for (i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		t = 42;
		if (tok_time_parse(bad[i], &t) != -1)
			fail_msg("accepted \"%s\"", bad[i]);
		assert_int_equal(t, 0);
	}
	assert_int_equal(tok_time_parse(NULL, &t), -1);
}

/* ------------------------------------------------------------------ main */

static int
setup(void **state)
{
	int n;
	const char *base = getenv("TMPDIR");

	(void)state;
	n = snprintf(tmpdir, sizeof tmpdir, "%s/test_tok.XXXXXX",
	    base != NULL && base[0] != '\0' ? base : "/tmp");
	if (n < 0 || (size_t)n >= sizeof tmpdir || mkdtemp(tmpdir) == NULL)
		return -1;
	return 0;
}

static int
teardown(void **state)
{
	(void)state;
	return rmdir(tmpdir);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_paseto_v4_vectors),
		cmocka_unit_test(test_paserk_lid_vectors),
		cmocka_unit_test(test_paserk_local_vectors),
		cmocka_unit_test(test_paserk_parse_strict),
		cmocka_unit_test(test_paserk_public_vectors),
		cmocka_unit_test(test_paserk_secret_vectors),
		cmocka_unit_test(test_paserk_pid_vectors),
		cmocka_unit_test(test_seal_open_public),
		cmocka_unit_test(test_seal_open),
		cmocka_unit_test(test_seal_refuses),
		cmocka_unit_test(test_expired),
		cmocka_unit_test(test_tampered),
		cmocka_unit_test(test_key_rotation),
		cmocka_unit_test(test_issuer),
		cmocka_unit_test(test_other_versions),
		cmocka_unit_test(test_footers),
		cmocka_unit_test(test_length_limit),
		cmocka_unit_test(test_claims),
		cmocka_unit_test(test_claims_read_as_json),
		cmocka_unit_test(test_fuzzish),
		cmocka_unit_test(test_keys_new),
		cmocka_unit_test(test_keys_load_good),
		cmocka_unit_test(test_keys_load_bad),
		cmocka_unit_test(test_keygen_line),
		cmocka_unit_test(test_refresh),
		cmocka_unit_test(test_refresh_bad),
		cmocka_unit_test(test_time_fmt),
		cmocka_unit_test(test_time_parse),
	};
	size_t i;

	if (sodium_init() < 0)
		return 1;
	for (i = 0; i < TOK_KEYBYTES; i++)
		key_a[i] = (unsigned char)(0x70 + i);
	randombytes_buf(key_b, sizeof key_b);
	randombytes_buf(key_c, sizeof key_c);
	return cmocka_run_group_tests(tests, setup, teardown);
}
