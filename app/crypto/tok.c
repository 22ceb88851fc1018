/*
 * tok.c - wxauth's tokens: an access token's claims sealed or signed
 * (tok_seal) and opened and checked (tok_open, with its two claim readers),
 * and refresh tokens. PASETO itself is paseto.c, the keys keys.c and
 * subkeys.c, the cache of verified v4.public tokens verified.c, the times
 * when.c; tok.h declares them all but atrest.c.
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
#define V4P_HEADER "v4.public."
#define V4P_HEADERLEN (sizeof V4P_HEADER - 1)
#define KID_PREFIX "{\"kid\":\""
#define KID_SUFFIX "\"}"
#define FOOTER_MAX 128          /* our footer is 61 bytes */
#define FOOTER_STR (sizeof KID_PREFIX - 1 + TOK_LID_STR + sizeof KID_SUFFIX)
#define TIME_STR 32             /* "YYYY-MM-DDTHH:MM:SS+00:00" + NUL, rounded up */

int
tok_refresh_new(char *out, size_t outlen, unsigned char hash[TOK_HASHBYTES])
{
	unsigned char raw[TOK_REFRESH_BYTES];
	int rc = -1;

	assert(out != NULL && hash != NULL);
	if (outlen > 0)
		out[0] = '\0';
	if (outlen < TOK_REFRESH_STR)
		goto out;
	randombytes_buf(raw, sizeof raw);
	if (codec_b64url(out, outlen, raw, sizeof raw) != 0)
		goto out;
	if (crypto_generichash(hash, TOK_HASHBYTES, raw, sizeof raw, NULL, 0) != 0)
		goto out;
	rc = 0;
out:
	if (rc != 0 && outlen > 0)
		out[0] = '\0';
	sodium_memzero(raw, sizeof raw);
	return rc;
}

int
tok_refresh_hash(const char *token, unsigned char hash[TOK_HASHBYTES])
{
	unsigned char raw[TOK_REFRESH_BYTES];
	size_t rawlen = 0;
	int rc = -1;

	assert(hash != NULL);
	sodium_memzero(hash, TOK_HASHBYTES);
	if (token == NULL)
		goto out;
	/* Exactly 43 characters; libsodium then refuses any non-zero spare bits. */
	if (strnlen(token, TOK_REFRESH_STR) != TOK_REFRESH_STR - 1)
		goto out;
	if (codec_unb64url(raw, sizeof raw, &rawlen, token, TOK_REFRESH_STR - 1) != 0 ||
	    rawlen != TOK_REFRESH_BYTES)
		goto out;
	if (crypto_generichash(hash, TOK_HASHBYTES, raw, sizeof raw, NULL, 0) != 0)
		goto out;
	rc = 0;
out:
	sodium_memzero(raw, sizeof raw);
	return rc;
}

/* Both the seal and the open side refuse claims tok_open would not read. */
static int
str_ok(const char *s, size_t size, int required)
{
	size_t len = strnlen(s, size);

	return len < size && (!required || len > 0);
}

static int
claims_ok(const struct tok_claims *c)
{
	return str_ok(c->iss, sizeof c->iss, 1) && str_ok(c->sub, sizeof c->sub, 1) &&
	    str_ok(c->sid, sizeof c->sid, 1) && str_ok(c->app, sizeof c->app, 1) &&
	    str_ok(c->oid, sizeof c->oid, 1) && str_ok(c->uni, sizeof c->uni, 0);
}

static int
add_str(struct json_object *o, const char *name, const char *v)
{
	struct json_object *s;

	if ((s = json_object_new_string(v)) == NULL)
		return -1;
	if (json_object_object_add(o, name, s) != 0) {
		json_object_put(s);
		return -1;
	}
	return 0;
}

int
tok_seal(const struct tok_keys *ks, const struct tok_claims *c,
    char *out, size_t outlen)
{
	struct json_object *o = NULL;
	char iat[TIME_STR], exp[TIME_STR], footer[FOOTER_STR];
	const char *payload;
	size_t plen = 0;
	int n, rc = -1;

	assert(ks != NULL && c != NULL && out != NULL);
	assert(ks->sign_public ? ks->ns > 0 : ks->n > 0);
	if (outlen > 0)
		out[0] = '\0';
	if (!claims_ok(c))
		goto out;
	if (tok_time_fmt(iat, sizeof iat, c->iat) != 0 ||
	    tok_time_fmt(exp, sizeof exp, c->exp) != 0)
		goto out;

	/* json-c keeps insertion order; escaping is json-c's job, not ours. */
	if ((o = json_object_new_object()) == NULL)
		goto out;
	if (add_str(o, "iss", c->iss) != 0 || add_str(o, "sub", c->sub) != 0 ||
	    add_str(o, "sid", c->sid) != 0 || add_str(o, "app", c->app) != 0 ||
	    add_str(o, "oid", c->oid) != 0 ||
	    (c->uni[0] != '\0' && add_str(o, "uni", c->uni) != 0) ||
	    add_str(o, "iat", iat) != 0 || add_str(o, "exp", exp) != 0)
		goto out;
	payload = json_object_to_json_string_length(o,
	    JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE, &plen);
	if (payload == NULL)
		goto out;

	/* The kid (k4.lid or k4.pid) is base64url: no JSON escaping needed. */
	n = snprintf(footer, sizeof footer, KID_PREFIX "%s" KID_SUFFIX,
	    ks->sign_public ? ks->s[0].pid : ks->k[0].lid);
	if (n < 0 || (size_t)n >= sizeof footer)
		goto out;
	if (ks->sign_public ?
	    tok_v4_sign(out, outlen, ks->s[0].sk, (const unsigned char *)payload, plen,
	    (const unsigned char *)footer, (size_t)n, NULL, 0) != 0 :
	    tok_v4_encrypt(out, outlen, ks->k[0].key, (const unsigned char *)payload,
	    plen, (const unsigned char *)footer, (size_t)n, NULL, 0, NULL) != 0)
		goto out;
	rc = 0;
out:
	json_object_put(o);
	return rc;
}

/*
 * footer_kid: the kid of a footer that is exactly {"kid":"<id>"}, and its
 * length; NULL for any other footer. Key ids are public, so plain compares
 * pick the key; the tag or signature check that follows is what counts.
 */
static const char *
footer_kid(const unsigned char *f, size_t flen, size_t *len)
{
	const size_t pre = sizeof KID_PREFIX - 1, suf = sizeof KID_SUFFIX - 1;

	if (flen < pre + suf || memcmp(f, KID_PREFIX, pre) != 0 ||
	    memcmp(f + flen - suf, KID_SUFFIX, suf) != 0)
		return NULL;
	*len = flen - pre - suf;
	return (const char *)f + pre;
}

static bool
is_kid(const char *id, const char *kid, size_t len)
{
	return strlen(id) == len && memcmp(id, kid, len) == 0;
}

/* A claim that must be a JSON string fitting dst (NUL-free). */
static int
claim_str(struct json_object *o, const char *name, char *dst, size_t dstlen,
    int required)
{
	struct json_object *v = NULL;
	const char *s;
	int len;

	dst[0] = '\0';
	if (!json_object_object_get_ex(o, name, &v))
		return required ? -1 : 0;
	if (!json_object_is_type(v, json_type_string))
		return -1;
	s = json_object_get_string(v);
	len = json_object_get_string_len(v);
	if (s == NULL || len < 0 || (size_t)len >= dstlen || (required && len == 0))
		return -1;
	/* "\u0000" would cut the string short everywhere it is used later. */
	if (memchr(s, '\0', (size_t)len) != NULL)
		return -1;
	memcpy(dst, s, (size_t)len);
	dst[len] = '\0';
	return 0;
}

static int
claim_time(struct json_object *o, const char *name, int64_t *t)
{
	char s[TIME_STR * 2];

	if (claim_str(o, name, s, sizeof s, 1) != 0)
		return -1;
	return tok_time_parse(s, t);
}

/*
 * flat_str: at p (just after an opening quote), a string of printable
 * ASCII without escapes up to its closing quote; returns its length and
 * sets *next past the quote, or -1 for anything else.
 */
static long
flat_str(const char *p, const char *end, const char **next)
{
	const char *q;

	for (q = p; q < end && *q != '"'; q++)
		if (*q < 0x20 || *q > 0x7e || *q == '\\')
			return -1;
	if (q >= end)
		return -1;
	*next = q + 1;
	return q - p;
}

/*
 * claims_flat: the claims as tok_seal writes them, read without json-c
 * (whose parse was a tenth of a token check): one object of string members,
 * no whitespace, no escapes, printable ASCII, no claim twice, every claim
 * tok_open needs present and fitting. Returns 1 with c filled, or 0 for
 * anything else, which json-c then reads: this is a fast path that never
 * refuses, so a token sealed by another PASETO library is judged the same.
 */
int
tok_claims_flat(const char *pt, size_t len, struct tok_claims *c)
{
	char iat[TIME_STR * 2], exp[TIME_STR * 2];
	struct {
		const char *name;
		char *dst;
		size_t max;
		int required;
	} want[] = {
		{"iss", c->iss, sizeof c->iss, 1}, {"sub", c->sub, sizeof c->sub, 1},
		{"sid", c->sid, sizeof c->sid, 1}, {"app", c->app, sizeof c->app, 1},
		{"oid", c->oid, sizeof c->oid, 1}, {"uni", c->uni, sizeof c->uni, 0},
		{"iat", iat, sizeof iat, 1}, {"exp", exp, sizeof exp, 1},
	};
	enum { NWANT = sizeof want / sizeof want[0] };
	const char *p = pt, *end = pt + len, *key, *val;
	long klen, vlen;
	unsigned seen = 0;
	size_t i;

	if (len < 2 || *p++ != '{')
		return 0;
	for (;;) {
		if (p >= end || *p++ != '"')
			return 0;
		key = p;
		if ((klen = flat_str(p, end, &p)) < 0 || p + 1 >= end || *p++ != ':' ||
		    *p++ != '"')
			return 0;
		val = p;
		if ((vlen = flat_str(p, end, &p)) < 0 || p >= end)
			return 0;
		for (i = 0; i < NWANT; i++) {
			if ((size_t)klen != strlen(want[i].name) ||
			    memcmp(key, want[i].name, (size_t)klen) != 0)
				continue;
			if ((seen & 1u << i) || (size_t)vlen >= want[i].max ||
			    (want[i].required && vlen == 0))
				return 0;
			seen |= 1u << i;
			memcpy(want[i].dst, val, (size_t)vlen);
			want[i].dst[vlen] = '\0';
		}
		if (*p == '}')
			break;
		if (*p++ != ',')
			return 0;
	}
	if (p + 1 != end)
		return 0;
	for (i = 0; i < NWANT; i++)
		if (want[i].required && !(seen & 1u << i))
			return 0;
	return tok_time_parse(iat, &c->iat) == 0 && tok_time_parse(exp, &c->exp) == 0;
}

int
tok_claims_json(const char *pt, size_t len, struct tok_claims *c)
{
	struct json_tokener *jt;
	struct json_object *o = NULL;
	int rc = -1;

	memset(c, 0, sizeof *c);
	if (len > INT_MAX || (jt = json_tokener_new()) == NULL)
		return -2;
	o = json_tokener_parse_ex(jt, pt, (int)len);
	if (o != NULL && json_tokener_get_error(jt) == json_tokener_success &&
	    json_tokener_get_parse_end(jt) == len && json_object_is_type(o, json_type_object) &&
	    claim_str(o, "iss", c->iss, sizeof c->iss, 1) == 0 &&
	    claim_str(o, "sub", c->sub, sizeof c->sub, 1) == 0 &&
	    claim_str(o, "sid", c->sid, sizeof c->sid, 1) == 0 &&
	    claim_str(o, "app", c->app, sizeof c->app, 1) == 0 &&
	    claim_str(o, "oid", c->oid, sizeof c->oid, 1) == 0 &&
	    claim_str(o, "uni", c->uni, sizeof c->uni, 0) == 0 &&
	    claim_time(o, "iat", &c->iat) == 0 &&
	    claim_time(o, "exp", &c->exp) == 0)
		rc = 0;
	json_object_put(o);
	json_tokener_free(jt);
	return rc;
}

/* checked: what an authentic token's claims c are worth at now. */
static enum err
checked(const struct tok_claims *c, const char *iss, int64_t now)
{
	if (iss != NULL && strcmp(c->iss, iss) != 0)
		return ERR_INVALID_TOKEN;
	return c->exp <= now ? ERR_TOKEN_EXPIRED : OK;
}

/*
 * authentic: the plaintext (v4.local, decrypted) or message (v4.public,
 * verified) of token under the key its footer names, into pt. 0, or -1 for
 * anything but an authentic token of one of ks's keys.
 */
static int
authentic(const struct tok_keys *ks, const char *token, size_t tlen, bool pub,
    unsigned char *pt, size_t ptmax, size_t *ptlen)
{
	unsigned char f[FOOTER_MAX];
	size_t hl = pub ? V4P_HEADERLEN : V4_HEADERLEN, flen = 0, kidlen = 0, i;
	const char *dot, *kid;

	/* Our tokens always carry {"kid":…}; without it we cannot pick a key. */
	if ((dot = memchr(token + hl, '.', tlen - hl)) == NULL ||
	    codec_unb64url(f, sizeof f, &flen, dot + 1, (size_t)(token + tlen - dot - 1)) != 0 ||
	    (kid = footer_kid(f, flen, &kidlen)) == NULL)
		return -1;
	if (pub) {
		for (i = 0; i < ks->ns; i++)
			if (is_kid(ks->s[i].pid, kid, kidlen))
				return tok_v4_verify(pt, ptmax, ptlen, ks->s[i].pk, token, f,
				    flen, NULL, 0);
	} else {
		for (i = 0; i < ks->n; i++)
			if (is_kid(ks->k[i].lid, kid, kidlen))
				return tok_v4_decrypt(pt, ptmax, ptlen, ks->k[i].key, token, f,
				    flen, NULL, 0);
	}
	return -1;
}

enum err
tok_open(const struct tok_keys *ks, const char *token, const char *iss,
    int64_t now, struct tok_claims *c)
{
	unsigned char pt[TOK_MAX];
	size_t tlen, ptlen = 0;
	enum err rc = ERR_INVALID_TOKEN;
	bool pub;
	int j;

	assert(ks != NULL && c != NULL);
	memset(c, 0, sizeof *c);
	if (token == NULL)
		goto out;
	tlen = strnlen(token, TOK_MAX + 1);
	if (tlen > TOK_MAX)
		goto out;
	/* Another version or purpose (v3.local, v2.public) ends here. */
	pub = tlen >= V4P_HEADERLEN && memcmp(token, V4P_HEADER, V4P_HEADERLEN) == 0;
	if (!pub && (tlen < V4_HEADERLEN || memcmp(token, V4_HEADER, V4_HEADERLEN) != 0))
		goto out;
	/* A v4.public token verified before: its claims, not another Ed25519
	 * verification (verified.c); the checks below still run. */
	if (pub && tok_cache_get(ks->cache, token, tlen, c)) {
		rc = checked(c, iss, now);
		goto out;
	}
	if (authentic(ks, token, tlen, pub, pt, sizeof pt, &ptlen) != 0)
		goto out;

	/* From here the token is authentic; the claims are still checked. */
	if (memchr(pt, '\0', ptlen) != NULL)
		goto out;
	if (!tok_claims_flat((const char *)pt, ptlen, c) &&
	    (j = tok_claims_json((const char *)pt, ptlen, c)) != 0) {
		rc = j == -2 ? ERR_INTERNAL : ERR_INVALID_TOKEN;
		goto out;
	}
	rc = checked(c, iss, now);
	if (pub && rc == OK)
		tok_cache_put(ks->cache, token, tlen, c);
out:
	/* Claims are only for an authentic token of ours; expired counts. */
	if (rc != OK && rc != ERR_TOKEN_EXPIRED)
		memset(c, 0, sizeof *c);
	/* Only what the decryption wrote: the claims and their NUL. */
	sodium_memzero(pt, ptlen < sizeof pt ? ptlen + 1 : sizeof pt);
	return rc;
}
