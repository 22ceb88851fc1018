/*
 * tok.c - PASETO v4.local access tokens, PASERK k4.local / k4.lid, the key
 * file and refresh tokens, all over libsodium.
 *
 * The construction follows the PASETO specification, Version4.md, to the
 * byte; the known-answer tests in tests/unit/test_tok.c run the official
 * vectors. Every derived key and every copy of a key on the stack is wiped on
 * every path, failures included.
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

#include "enc.h"
#include "tok.h"

#define V4_HEADER "v4.local."
#define V4_HEADERLEN (sizeof V4_HEADER - 1)
#define V4_EK_INFO "paseto-encryption-key"
#define V4_AK_INFO "paseto-auth-key-for-aead"
#define V4_EKBYTES 32           /* XChaCha20 key */
#define V4_N2BYTES 24           /* XChaCha20 nonce */
#define V4_AKBYTES 32           /* BLAKE2b key of the tag */
#define V4_PAE_PIECES 5         /* h, n, c, f, i */

#define PASERK_LOCAL "k4.local."
#define PASERK_LOCALLEN (sizeof PASERK_LOCAL - 1)
#define PASERK_KEYCHARS 43      /* base64url of 32 bytes, unpadded */
#define PASERK_LID "k4.lid."
#define PASERK_LIDLEN (sizeof PASERK_LID - 1)
#define PASERK_LIDBYTES 33      /* BLAKE2b-264 */

#define KID_PREFIX "{\"kid\":\""
#define KID_SUFFIX "\"}"
#define FOOTER_MAX 128          /* our footer is 61 bytes */
#define FOOTER_STR (sizeof KID_PREFIX - 1 + TOK_LID_STR + sizeof KID_SUFFIX)

#define TIME_STR 32             /* "YYYY-MM-DDTHH:MM:SS+00:00" + NUL, rounded up */
#define TIME_MIN (-INT64_C(62167219200))  /* 0000-01-01T00:00:00Z */
#define TIME_MAX INT64_C(253402300799)     /* 9999-12-31T23:59:59Z */
#define DAY 86400

#define KEYLINE_MAX 1024        /* longest key file line, comments included */

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

int
tok_v4_encrypt(char *out, size_t outlen, const unsigned char key[TOK_KEYBYTES],
    const unsigned char *msg, size_t msglen, const unsigned char *footer, size_t footerlen,
    const unsigned char *implicit, size_t implicitlen,
    const unsigned char *nonce)
{
	unsigned char n[TOK_NONCEBYTES], ek[V4_EKBYTES], n2[V4_N2BYTES], ak[V4_AKBYTES];
	unsigned char *body = NULL;
	size_t bodylen, pos;
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
	if (outlen < V4_HEADERLEN + ENC_B64URL_LEN(TOK_NONCEBYTES + msglen + TOK_MACBYTES))
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

	memcpy(out, V4_HEADER, V4_HEADERLEN);
	pos = V4_HEADERLEN;
	if (enc_b64url(out + pos, outlen - pos, body, bodylen) != 0)
		goto out;
	pos += strlen(out + pos);
	if (footerlen > 0) {
		/* '.' and at least the NUL. */
		if (outlen - pos < 2)
			goto out;
		out[pos++] = '.';
		if (enc_b64url(out + pos, outlen - pos, footer, footerlen) != 0)
			goto out;
	}
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

int
tok_v4_decrypt(unsigned char *out, size_t outmax, size_t *outlen,
    const unsigned char key[TOK_KEYBYTES], const char *token,
    const unsigned char *footer, size_t footerlen,
    const unsigned char *implicit, size_t implicitlen)
{
	unsigned char ek[V4_EKBYTES], n2[V4_N2BYTES], ak[V4_AKBYTES], tag[TOK_MACBYTES];
	unsigned char *body = NULL, *f = NULL;
	const char *b64, *dot, *ftxt = NULL;
	size_t tlen, b64len, ftxtlen = 0, bodylen = 0, flen = 0, clen;
	int rc = -1;

	assert(out != NULL && outlen != NULL && key != NULL);
	assert(footer != NULL || footerlen == 0);
	assert(implicit != NULL || implicitlen == 0);
	*outlen = 0;
	if (outmax > 0)
		out[0] = '\0';
	if (token == NULL)
		goto out;
	tlen = strlen(token);
	if (tlen < V4_HEADERLEN || memcmp(token, V4_HEADER, V4_HEADERLEN) != 0)
		goto out;

	/* h || b64(n || c || t) [|| "." || b64(f)]: a dot means a footer. */
	b64 = token + V4_HEADERLEN;
	b64len = tlen - V4_HEADERLEN;
	if ((dot = memchr(b64, '.', b64len)) != NULL) {
		b64len = (size_t)(dot - b64);
		ftxt = dot + 1;
		ftxtlen = (size_t)(token + tlen - ftxt);
		/* We never write "v4.local.x." and do not read it. */
		if (ftxtlen == 0)
			goto out;
		/* Decoding never yields more bytes than characters. */
		if ((f = malloc(ftxtlen)) == NULL)
			goto out;
		if (enc_unb64url(f, ftxtlen, &flen, ftxt, ftxtlen) != 0)
			goto out;
	}
	/* The specification asks for a constant-time footer comparison. */
	if (footer != NULL) {
		if (flen != footerlen)
			goto out;
		if (flen > 0 && sodium_memcmp(f, footer, flen) != 0)
			goto out;
	}

	if ((body = malloc(b64len > 0 ? b64len : 1)) == NULL)
		goto out;
	if (enc_unb64url(body, b64len, &bodylen, b64, b64len) != 0)
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

int
tok_paserk_local(char *out, size_t outlen, const unsigned char key[TOK_KEYBYTES])
{
	int rc = -1;

	assert(out != NULL && key != NULL);
	if (outlen > 0)
		out[0] = '\0';
	if (outlen < TOK_PASERK_LOCAL_STR)
		goto out;
	memcpy(out, PASERK_LOCAL, PASERK_LOCALLEN);
	if (enc_b64url(out + PASERK_LOCALLEN, outlen - PASERK_LOCALLEN, key,
	    TOK_KEYBYTES) != 0)
		goto out;
	rc = 0;
out:
	if (rc != 0 && outlen > 0)
		out[0] = '\0';
	return rc;
}

int
tok_paserk_local_parse(unsigned char key[TOK_KEYBYTES], const char *s)
{
	unsigned char raw[TOK_KEYBYTES];
	size_t len, rawlen = 0;
	int rc = -1;

	assert(key != NULL);
	if (s == NULL)
		goto out;
	len = strnlen(s, PASERK_LOCALLEN + PASERK_KEYCHARS + 1);
	if (len != PASERK_LOCALLEN + PASERK_KEYCHARS)
		goto out;
	if (memcmp(s, PASERK_LOCAL, PASERK_LOCALLEN) != 0)
		goto out;
	if (enc_unb64url(raw, sizeof raw, &rawlen, s + PASERK_LOCALLEN,
	    PASERK_KEYCHARS) != 0 || rawlen != TOK_KEYBYTES)
		goto out;
	memcpy(key, raw, TOK_KEYBYTES);
	rc = 0;
out:
	sodium_memzero(raw, sizeof raw);
	return rc;
}

int
tok_lid(char *out, size_t outlen, const unsigned char key[TOK_KEYBYTES])
{
	crypto_generichash_state st;
	char local[TOK_PASERK_LOCAL_STR];
	unsigned char d[PASERK_LIDBYTES];
	int rc = -1;

	assert(out != NULL && key != NULL);
	if (outlen > 0)
		out[0] = '\0';
	if (outlen < PASERK_LIDLEN + ENC_B64URL_LEN(PASERK_LIDBYTES))
		goto out;
	if (tok_paserk_local(local, sizeof local, key) != 0)
		goto out;
	/* d = BLAKE2b-264("k4.lid." || "k4.local." || base64url(key)), unkeyed. */
	if (crypto_generichash_init(&st, NULL, 0, sizeof d) != 0 ||
	    crypto_generichash_update(&st, (const unsigned char *)PASERK_LID,
	    PASERK_LIDLEN) != 0 ||
	    crypto_generichash_update(&st, (const unsigned char *)local,
	    strlen(local)) != 0 ||
	    crypto_generichash_final(&st, d, sizeof d) != 0)
		goto out;
	memcpy(out, PASERK_LID, PASERK_LIDLEN);
	if (enc_b64url(out + PASERK_LIDLEN, outlen - PASERK_LIDLEN, d, sizeof d) != 0)
		goto out;
	rc = 0;
out:
	if (rc != 0 && outlen > 0)
		out[0] = '\0';
	/* local is the key in another alphabet; the state has hashed it. */
	sodium_memzero(local, sizeof local);
	sodium_memzero(&st, sizeof st);
	return rc;
}

struct tok_keys *
tok_keys_new(const unsigned char *raw, size_t n)
{
	struct tok_keys *ks = NULL, *ret = NULL;
	size_t i;

	if (raw == NULL || n == 0 || n > TOK_KEYS_MAX)
		goto out;
	/* sodium_malloc needs an initialised library; this is idempotent. */
	if (sodium_init() < 0)
		goto out;
	if ((ks = calloc(1, sizeof *ks)) == NULL)
		goto out;
	if ((ks->k = sodium_allocarray(n, sizeof *ks->k)) == NULL)
		goto out;
	ks->n = n;
	for (i = 0; i < n; i++) {
		memcpy(ks->k[i].key, raw + i * TOK_KEYBYTES, TOK_KEYBYTES);
		if (tok_lid(ks->k[i].lid, sizeof ks->k[i].lid, ks->k[i].key) != 0)
			goto out;
	}
	/* Nothing writes keys after loading; a stray write now faults. */
	if (sodium_mprotect_readonly(ks->k) != 0)
		goto out;
	ret = ks;
	ks = NULL;
out:
	tok_keys_free(ks);
	return ret;
}

void
tok_keys_free(struct tok_keys *ks)
{
	if (ks == NULL)
		return;
	/* sodium_free makes the pages writable again and wipes them. */
	if (ks->k != NULL)
		sodium_free(ks->k);
	free(ks);
}

/* ---- keyed hashes ---- */

/* The context labels: changing one changes every stored hash. */
static const char *const hash_labels[TOK_H__MAX] = {
	[TOK_H_LOGIN_CODE] = "wxauth login code",
	[TOK_H_OPEN_DATA] = "wxauth open data",
};

struct tok_hashkeys {
	size_t n;
	unsigned char (*k)[TOK_H__MAX][TOK_KEYBYTES];   /* sodium_malloc'd, n entries */
};

struct tok_hashkeys *
tok_hashkeys_new(const struct tok_keys *data)
{
	struct tok_hashkeys *hk;
	size_t i;
	int p;

	if ((hk = calloc(1, sizeof(*hk))) == NULL)
		return NULL;
	if ((hk->k = sodium_malloc(data->n * sizeof(*hk->k))) == NULL)
		goto fail;
	hk->n = data->n;
	for (i = 0; i < data->n; i++)
		for (p = 0; p < TOK_H__MAX; p++)
			if (crypto_generichash(hk->k[i][p], TOK_KEYBYTES,
			    (const unsigned char *)hash_labels[p], strlen(hash_labels[p]),
			    data->k[i].key, TOK_KEYBYTES) != 0)
				goto fail;
	if (sodium_mprotect_readonly(hk->k) != 0)
		goto fail;
	return hk;
fail:
	tok_hashkeys_free(hk);
	return NULL;
}

void
tok_hashkeys_free(struct tok_hashkeys *hk)
{
	if (hk == NULL)
		return;
	if (hk->k != NULL)
		sodium_free(hk->k);
	free(hk);
}

void
tok_hash(const struct tok_hashkeys *hk, enum tok_hash_purpose purpose,
    const char *scope, const char *value, struct tok_hashes *out)
{
	crypto_generichash_state st;
	size_t i;

	assert(purpose >= 0 && purpose < TOK_H__MAX && hk->n <= TOK_KEYS_MAX);
	for (i = 0; i < hk->n; i++) {
		crypto_generichash_init(&st, hk->k[i][purpose], TOK_KEYBYTES, TOK_HASHBYTES);
		crypto_generichash_update(&st, (const unsigned char *)scope, strlen(scope) + 1);
		crypto_generichash_update(&st, (const unsigned char *)value, strlen(value));
		crypto_generichash_final(&st, out->h[i], TOK_HASHBYTES);
	}
	out->n = hk->n;
	sodium_memzero(&st, sizeof(st));
}

static void
seterr(char *errbuf, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void
seterr(char *errbuf, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (errbuf == NULL || errlen == 0)
		return;
	va_start(ap, fmt);
	/* A truncated message is still the best we have. */
	if (vsnprintf(errbuf, errlen, fmt, ap) < 0)
		errbuf[0] = '\0';
	va_end(ap);
}

struct tok_keys *
tok_keys_load(const char *path, char *errbuf, size_t errlen)
{
	unsigned char raw[TOK_KEYS_MAX * TOK_KEYBYTES];
	unsigned long keyline[TOK_KEYS_MAX];
	char line[KEYLINE_MAX];
	struct tok_keys *ks = NULL;
	unsigned long lineno = 0;
	size_t n = 0, len, j;
	FILE *f = NULL;
	struct stat st;
	char *p;

	assert(path != NULL);
	seterr(errbuf, errlen, "%s", "");
	if ((f = fopen(path, "re")) == NULL) {
		seterr(errbuf, errlen, "%s: %s", path, strerror(errno));
		goto out;
	}
	/* Keys every local user could read are no secret: refused. */
	if (fstat(fileno(f), &st) == 0 && (st.st_mode & S_IROTH)) {
		seterr(errbuf, errlen, "%s: readable by every user (run: chmod 600 %s)",
		    path, path);
		goto out;
	}
	/* No stdio buffer: it would keep a copy of the keys we cannot wipe. */
	setvbuf(f, NULL, _IONBF, 0);

	while (fgets(line, sizeof line, f) != NULL) {
		lineno++;
		len = strlen(line);
		if (len > 0 && line[len - 1] == '\n')
			line[--len] = '\0';
		else if (!feof(f)) {
			/* Either longer than the buffer or cut by a NUL byte. */
			seterr(errbuf, errlen, "%s:%lu: line too long or not text",
			    path, lineno);
			goto out;
		}
		while (len > 0 && (line[len - 1] == '\r' || line[len - 1] == ' ' ||
		    line[len - 1] == '\t'))
			line[--len] = '\0';
		for (p = line; *p == ' ' || *p == '\t'; p++)
			;
		if (*p == '\0' || *p == '#')
			continue;

		if (n == TOK_KEYS_MAX) {
			seterr(errbuf, errlen, "%s:%lu: too many keys (at most %d)",
			    path, lineno, TOK_KEYS_MAX);
			goto out;
		}
		if (strncmp(p, PASERK_LOCAL, PASERK_LOCALLEN) != 0) {
			seterr(errbuf, errlen, "%s:%lu: not a PASERK k4.local key",
			    path, lineno);
			goto out;
		}
		if (tok_paserk_local_parse(raw + n * TOK_KEYBYTES, p) != 0) {
			seterr(errbuf, errlen, "%s:%lu: key is not %d base64url "
			    "characters of %d bytes", path, lineno, PASERK_KEYCHARS,
			    TOK_KEYBYTES);
			goto out;
		}
		for (j = 0; j < n; j++) {
			if (sodium_memcmp(raw + j * TOK_KEYBYTES,
			    raw + n * TOK_KEYBYTES, TOK_KEYBYTES) == 0) {
				seterr(errbuf, errlen, "%s:%lu: same key as line %lu",
				    path, lineno, keyline[j]);
				goto out;
			}
		}
		keyline[n++] = lineno;
	}
	if (ferror(f)) {
		seterr(errbuf, errlen, "%s:%lu: %s", path, lineno + 1, strerror(errno));
		goto out;
	}
	if (n == 0) {
		seterr(errbuf, errlen, "%s: no key in the file", path);
		goto out;
	}
	if ((ks = tok_keys_new(raw, n)) == NULL)
		seterr(errbuf, errlen, "%s: out of memory", path);
out:
	sodium_memzero(raw, sizeof raw);
	sodium_memzero(line, sizeof line);
	if (f != NULL)
		fclose(f);
	return ks;
}

int
tok_keygen_line(char *out, size_t outlen)
{
	unsigned char key[TOK_KEYBYTES];
	int rc;

	assert(out != NULL);
	randombytes_buf(key, sizeof key);
	rc = tok_paserk_local(out, outlen, key);
	sodium_memzero(key, sizeof key);
	return rc;
}

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
	if (enc_b64url(out, outlen, raw, sizeof raw) != 0)
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
	if (enc_unb64url(raw, sizeof raw, &rawlen, token, TOK_REFRESH_STR - 1) != 0 ||
	    rawlen != TOK_REFRESH_BYTES)
		goto out;
	if (crypto_generichash(hash, TOK_HASHBYTES, raw, sizeof raw, NULL, 0) != 0)
		goto out;
	rc = 0;
out:
	sodium_memzero(raw, sizeof raw);
	return rc;
}

/* Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant). */
static int64_t
days_from_civil(int64_t y, unsigned m, unsigned d)
{
	int64_t era;
	unsigned yoe, doy, doe;

	y -= m <= 2;
	era = (y >= 0 ? y : y - 399) / 400;
	yoe = (unsigned)(y - era * 400);
	doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + (int64_t)doe - 719468;
}

/* The inverse of days_from_civil. */
static void
civil_from_days(int64_t z, int64_t *y, unsigned *m, unsigned *d)
{
	int64_t era;
	unsigned doe, yoe, doy, mp;

	z += 719468;
	era = (z >= 0 ? z : z - 146096) / 146097;
	doe = (unsigned)(z - era * 146097);
	yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	mp = (5 * doy + 2) / 153;
	*d = doy - (153 * mp + 2) / 5 + 1;
	*m = mp < 10 ? mp + 3 : mp - 9;
	*y = (int64_t)yoe + era * 400 + (*m <= 2);
}

int
tok_time_fmt(char *out, size_t outlen, int64_t t)
{
	int64_t days, secs, y;
	unsigned m, d;
	int n, rc = -1;

	assert(out != NULL);
	if (outlen > 0)
		out[0] = '\0';
	if (t < TIME_MIN || t > TIME_MAX)
		goto out;
	/* Floor division, so that times before 1970 land on the right day. */
	days = t / DAY;
	secs = t % DAY;
	if (secs < 0) {
		secs += DAY;
		days--;
	}
	civil_from_days(days, &y, &m, &d);
	n = snprintf(out, outlen, "%04d-%02u-%02uT%02d:%02d:%02d+00:00", (int)y,
	    m, d, (int)(secs / 3600), (int)(secs / 60 % 60), (int)(secs % 60));
	if (n < 0 || (size_t)n >= outlen)
		goto out;
	rc = 0;
out:
	if (rc != 0 && outlen > 0)
		out[0] = '\0';
	return rc;
}

/* n decimal digits at s, ASCII only (not isdigit: no locale surprises). */
static int
digits(const char *s, int n, int *v)
{
	int i;

	*v = 0;
	for (i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		*v = *v * 10 + (s[i] - '0');
	}
	return 0;
}

static int
leap(int y)
{
	return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

int
tok_time_parse(const char *s, int64_t *t)
{
	static const int mdays[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
	int y, mo, d, h, mi, sec, oh = 0, om = 0, sign = 1, rc = -1;
	const char *p;

	assert(t != NULL);
	*t = 0;
	if (s == NULL)
		goto out;
	/* YYYY-MM-DDTHH:MM:SS; digits() stops at a NUL, so no overread. */
	if (digits(s, 4, &y) != 0 || s[4] != '-' ||
	    digits(s + 5, 2, &mo) != 0 || s[7] != '-' ||
	    digits(s + 8, 2, &d) != 0 || s[10] != 'T' ||
	    digits(s + 11, 2, &h) != 0 || s[13] != ':' ||
	    digits(s + 14, 2, &mi) != 0 || s[16] != ':' ||
	    digits(s + 17, 2, &sec) != 0)
		goto out;
	if (mo < 1 || mo > 12 || d < 1 ||
	    d > mdays[mo - 1] + (mo == 2 && leap(y)) ||
	    h > 23 || mi > 59 || sec > 59)
		goto out;
	p = s + 19;
	/* Fractions of a second are accepted and dropped (floor). */
	if (*p == '.') {
		p++;
		if (*p < '0' || *p > '9')
			goto out;
		while (*p >= '0' && *p <= '9')
			p++;
	}
	if (*p == 'Z') {
		p++;
	} else if (*p == '+' || *p == '-') {
		sign = *p == '-' ? -1 : 1;
		if (digits(p + 1, 2, &oh) != 0 || p[3] != ':' ||
		    digits(p + 4, 2, &om) != 0 || oh > 23 || om > 59)
			goto out;
		p += 6;
	} else {
		goto out;
	}
	if (*p != '\0')
		goto out;
	*t = days_from_civil(y, (unsigned)mo, (unsigned)d) * DAY +
	    h * 3600 + mi * 60 + sec - sign * (oh * 3600 + om * 60);
	rc = 0;
out:
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

	assert(ks != NULL && ks->n > 0 && c != NULL && out != NULL);
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

	/* The lid is base64url, so it needs no JSON escaping. */
	n = snprintf(footer, sizeof footer, KID_PREFIX "%s" KID_SUFFIX, ks->k[0].lid);
	if (n < 0 || (size_t)n >= sizeof footer)
		goto out;
	if (tok_v4_encrypt(out, outlen, ks->k[0].key, (const unsigned char *)payload,
	    plen, (const unsigned char *)footer, (size_t)n, NULL, 0, NULL) != 0)
		goto out;
	rc = 0;
out:
	json_object_put(o);
	return rc;
}

/*
 * key_by_footer: the key whose lid is the kid of a footer that is exactly
 * {"kid":"<lid>"}. Key ids are public, so a plain memcmp is fine here; the
 * tag check that follows is the constant-time one.
 */
static const struct tok_key *
key_by_footer(const struct tok_keys *ks, const unsigned char *f, size_t flen)
{
	const size_t pre = sizeof KID_PREFIX - 1, suf = sizeof KID_SUFFIX - 1;
	size_t i, lidlen;

	if (flen < pre + suf || memcmp(f, KID_PREFIX, pre) != 0 ||
	    memcmp(f + flen - suf, KID_SUFFIX, suf) != 0)
		return NULL;
	lidlen = flen - pre - suf;
	for (i = 0; i < ks->n; i++) {
		if (strlen(ks->k[i].lid) == lidlen &&
		    memcmp(ks->k[i].lid, f + pre, lidlen) == 0)
			return &ks->k[i];
	}
	return NULL;
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

enum err
tok_open(const struct tok_keys *ks, const char *token, const char *iss,
    int64_t now, struct tok_claims *c)
{
	unsigned char f[FOOTER_MAX], pt[TOK_MAX];
	const struct tok_key *k;
	const char *dot, *ftxt;
	int j;
	size_t tlen, flen = 0, ptlen = 0;
	enum err rc = ERR_INVALID_TOKEN;

	assert(ks != NULL && c != NULL);
	memset(c, 0, sizeof *c);
	if (token == NULL)
		goto out;
	tlen = strnlen(token, TOK_MAX + 1);
	if (tlen > TOK_MAX)
		goto out;
	/* Another version or purpose (v3.local, v4.public) ends here. */
	if (tlen < V4_HEADERLEN || memcmp(token, V4_HEADER, V4_HEADERLEN) != 0)
		goto out;
	/* Our tokens always carry {"kid":…}; without it we cannot pick a key. */
	if ((dot = memchr(token + V4_HEADERLEN, '.', tlen - V4_HEADERLEN)) == NULL)
		goto out;
	ftxt = dot + 1;
	if (enc_unb64url(f, sizeof f, &flen, ftxt, (size_t)(token + tlen - ftxt)) != 0)
		goto out;
	if ((k = key_by_footer(ks, f, flen)) == NULL)
		goto out;
	if (tok_v4_decrypt(pt, sizeof pt, &ptlen, k->key, token, f, flen, NULL, 0) != 0)
		goto out;

	/* From here the token is authentic; the claims are still checked. */
	if (memchr(pt, '\0', ptlen) != NULL)
		goto out;
	if (!tok_claims_flat((const char *)pt, ptlen, c) &&
	    (j = tok_claims_json((const char *)pt, ptlen, c)) != 0) {
		rc = j == -2 ? ERR_INTERNAL : ERR_INVALID_TOKEN;
		goto out;
	}
	if (iss != NULL && strcmp(c->iss, iss) != 0)
		goto out;
	if (c->exp <= now) {
		rc = ERR_TOKEN_EXPIRED;
		goto out;
	}
	rc = OK;
out:
	/* Claims are only for an authentic token of ours; expired counts. */
	if (rc != OK && rc != ERR_TOKEN_EXPIRED)
		memset(c, 0, sizeof *c);
	/* Only what the decryption wrote: the claims and their NUL. */
	sodium_memzero(pt, ptlen < sizeof pt ? ptlen + 1 : sizeof pt);
	return rc;
}
