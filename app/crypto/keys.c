/*
 * keys.c - the keys: PASERK k4.local, k4.lid, k4.public, k4.secret and
 * k4.pid, a key set in guarded memory (tok_keys_make), the key file
 * (tok_keys_load: its checks, its lines) and a new key's line for `wxauth
 * keygen`.
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

#define PASERK_LOCAL "k4.local."
#define PASERK_LOCALLEN (sizeof PASERK_LOCAL - 1)
#define PASERK_KEYCHARS 43      /* base64url of 32 bytes, unpadded */
#define PASERK_LID "k4.lid."
#define PASERK_LIDLEN (sizeof PASERK_LID - 1)
#define PASERK_LIDBYTES 33      /* BLAKE2b-264 */
#define PASERK_PUBLIC "k4.public."
#define PASERK_PUBLICLEN (sizeof PASERK_PUBLIC - 1)
#define PASERK_SECRET "k4.secret."
#define PASERK_SECRETLEN (sizeof PASERK_SECRET - 1)
#define PASERK_SECRETCHARS 86   /* base64url of 64 bytes, unpadded */
#define PASERK_PID "k4.pid."
#define PASERK_PIDLEN (sizeof PASERK_PID - 1)
#define KEYLINE_MAX 1024        /* longest key file line, comments included */

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
	if (codec_b64url(out + PASERK_LOCALLEN, outlen - PASERK_LOCALLEN, key,
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
	if (codec_unb64url(raw, sizeof raw, &rawlen, s + PASERK_LOCALLEN,
	    PASERK_KEYCHARS) != 0 || rawlen != TOK_KEYBYTES)
		goto out;
	memcpy(key, raw, TOK_KEYBYTES);
	rc = 0;
out:
	sodium_memzero(raw, sizeof raw);
	return rc;
}

/* paserk_id: PASERK id "hdr" + base64url(BLAKE2b-264(hdr || paserk)), the
 * rule of k4.lid and k4.pid alike (unkeyed). */
static int
paserk_id(char *out, size_t outlen, const char *hdr, const char *paserk)
{
	crypto_generichash_state st;
	unsigned char d[PASERK_LIDBYTES];
	size_t hl = strlen(hdr);
	int rc = -1;

	if (outlen < hl + CODEC_B64URL_LEN(PASERK_LIDBYTES))
		goto out;
	if (crypto_generichash_init(&st, NULL, 0, sizeof d) != 0 ||
	    crypto_generichash_update(&st, (const unsigned char *)hdr, hl) != 0 ||
	    crypto_generichash_update(&st, (const unsigned char *)paserk,
	    strlen(paserk)) != 0 ||
	    crypto_generichash_final(&st, d, sizeof d) != 0)
		goto out;
	memcpy(out, hdr, hl);
	if (codec_b64url(out + hl, outlen - hl, d, sizeof d) != 0)
		goto out;
	rc = 0;
out:
	sodium_memzero(&st, sizeof st);
	return rc;
}

int
tok_lid(char *out, size_t outlen, const unsigned char key[TOK_KEYBYTES])
{
	char local[TOK_PASERK_LOCAL_STR];
	int rc = -1;

	assert(out != NULL && key != NULL);
	if (outlen > 0)
		out[0] = '\0';
	if (tok_paserk_local(local, sizeof local, key) != 0 ||
	    paserk_id(out, outlen, PASERK_LID, local) != 0)
		goto out;
	rc = 0;
out:
	if (rc != 0 && outlen > 0)
		out[0] = '\0';
	/* local is the key in another alphabet; the hash state is wiped. */
	sodium_memzero(local, sizeof local);
	return rc;
}

/* paserk: hdr + base64url(key of exactly want bytes). */
static int
paserk(char *out, size_t outlen, const char *hdr, const unsigned char *key, size_t len,
    size_t want)
{
	size_t hl = strlen(hdr);

	if (outlen > 0)
		out[0] = '\0';
	if (key == NULL || len != want || outlen < hl + CODEC_B64URL_LEN(want))
		return -1;
	memcpy(out, hdr, hl);
	if (codec_b64url(out + hl, outlen - hl, key, len) != 0) {
		out[0] = '\0';
		return -1;
	}
	return 0;
}

int
tok_paserk_public(char *out, size_t outlen, const unsigned char *pk, size_t pklen)
{
	return paserk(out, outlen, PASERK_PUBLIC, pk, pklen, TOK_PUBLICBYTES);
}

int
tok_paserk_secret(char *out, size_t outlen, const unsigned char *sk, size_t sklen)
{
	return paserk(out, outlen, PASERK_SECRET, sk, sklen, TOK_SECRETBYTES);
}

int
tok_pid(char *out, size_t outlen, const unsigned char *pk, size_t pklen)
{
	char pub[TOK_PASERK_PUBLIC_STR];

	if (outlen > 0)
		out[0] = '\0';
	if (tok_paserk_public(pub, sizeof pub, pk, pklen) != 0 ||
	    paserk_id(out, outlen, PASERK_PID, pub) != 0) {
		if (outlen > 0)
			out[0] = '\0';
		return -1;
	}
	return 0;
}

/* paserk_parse: exactly hdr + chars base64url characters of want bytes. */
static int
paserk_parse(unsigned char *key, const char *s, const char *hdr, size_t chars, size_t want)
{
	unsigned char raw[TOK_SECRETBYTES];
	size_t hl = strlen(hdr), rawlen = 0;
	int rc = -1;

	if (s == NULL || strnlen(s, hl + chars + 1) != hl + chars ||
	    memcmp(s, hdr, hl) != 0)
		goto out;
	if (codec_unb64url(raw, sizeof raw, &rawlen, s + hl, chars) != 0 || rawlen != want)
		goto out;
	memcpy(key, raw, want);
	rc = 0;
out:
	sodium_memzero(raw, sizeof raw);
	return rc;
}

int
tok_paserk_public_parse(unsigned char pk[TOK_PUBLICBYTES], const char *s)
{
	return paserk_parse(pk, s, PASERK_PUBLIC, PASERK_KEYCHARS, TOK_PUBLICBYTES);
}

int
tok_paserk_secret_parse(unsigned char sk[TOK_SECRETBYTES], const char *s)
{
	unsigned char raw[TOK_SECRETBYTES], pk[TOK_PUBLICBYTES], again[TOK_SECRETBYTES];
	int rc = -1;

	if (paserk_parse(raw, s, PASERK_SECRET, PASERK_SECRETCHARS, TOK_SECRETBYTES) != 0)
		goto out;
	/* The second half must be the public key of the first. */
	if (crypto_sign_seed_keypair(pk, again, raw) != 0 ||
	    sodium_memcmp(pk, raw + 32, TOK_PUBLICBYTES) != 0)
		goto out;
	memcpy(sk, raw, TOK_SECRETBYTES);
	rc = 0;
out:
	sodium_memzero(raw, sizeof raw);
	sodium_memzero(again, sizeof again);
	return rc;
}

struct tok_keys *
tok_keys_make(const unsigned char *raw, size_t n, const unsigned char *seeds, size_t ns)
{
	struct tok_keys *ks = NULL, *ret = NULL;
	size_t i;

	if ((raw == NULL && n > 0) || (seeds == NULL && ns > 0) || n + ns == 0 ||
	    n > TOK_KEYS_MAX || ns > TOK_KEYS_MAX)
		goto out;
	/* sodium_malloc needs an initialised library; this is idempotent. */
	if (sodium_init() < 0)
		goto out;
	if ((ks = calloc(1, sizeof *ks)) == NULL)
		goto out;
	if ((n > 0 && (ks->k = sodium_allocarray(n, sizeof *ks->k)) == NULL) ||
	    (ns > 0 && (ks->s = sodium_allocarray(ns, sizeof *ks->s)) == NULL))
		goto out;
	ks->n = n;
	ks->ns = ns;
	for (i = 0; i < n; i++) {
		memcpy(ks->k[i].key, raw + i * TOK_KEYBYTES, TOK_KEYBYTES);
		if (tok_lid(ks->k[i].lid, sizeof ks->k[i].lid, ks->k[i].key) != 0)
			goto out;
	}
	for (i = 0; i < ns; i++) {
		if (crypto_sign_seed_keypair(ks->s[i].pk, ks->s[i].sk, seeds + i * 32) != 0 ||
		    tok_pid(ks->s[i].pid, sizeof ks->s[i].pid, ks->s[i].pk,
		    TOK_PUBLICBYTES) != 0)
			goto out;
	}
	if (ns > 0 && (ks->cache = tok_cache_new()) == NULL)
		goto out;
	/* Nothing writes keys after loading; a stray write now faults. */
	if ((n > 0 && sodium_mprotect_readonly(ks->k) != 0) ||
	    (ns > 0 && sodium_mprotect_readonly(ks->s) != 0))
		goto out;
	ret = ks;
	ks = NULL;
out:
	tok_keys_free(ks);
	return ret;
}

struct tok_keys *
tok_keys_new(const unsigned char *raw, size_t n)
{
	if (raw == NULL || n == 0)
		return NULL;
	return tok_keys_make(raw, n, NULL, 0);
}

void
tok_keys_free(struct tok_keys *ks)
{
	if (ks == NULL)
		return;
	/* sodium_free makes the pages writable again and wipes them. */
	if (ks->k != NULL)
		sodium_free(ks->k);
	if (ks->s != NULL)
		sodium_free(ks->s);
	tok_cache_free(ks->cache);
	free(ks);
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

/* What a key file holds so far: its local keys and its signing keys' seeds,
 * with the line each came from. */
struct keyfile {
	unsigned char raw[TOK_KEYS_MAX * TOK_KEYBYTES];
	unsigned char seeds[TOK_KEYS_MAX * 32];
	unsigned long line[TOK_KEYS_MAX], sline[TOK_KEYS_MAX];
	size_t n, ns;
};

/* add_key: key (len bytes) as the next of keys (count *n, lines at lines),
 * unless there are too many or it came before. 0, or -1 with errbuf set. */
static int
add_key(const char *path, unsigned long lineno, const unsigned char *key, size_t len,
    unsigned char *keys, unsigned long *lines, size_t *n, char *errbuf, size_t errlen)
{
	size_t j;

	if (*n == TOK_KEYS_MAX) {
		seterr(errbuf, errlen, "%s:%lu: too many keys (at most %d)",
		    path, lineno, TOK_KEYS_MAX);
		return -1;
	}
	for (j = 0; j < *n; j++) {
		if (sodium_memcmp(keys + j * len, key, len) == 0) {
			seterr(errbuf, errlen, "%s:%lu: same key as line %lu",
			    path, lineno, lines[j]);
			return -1;
		}
	}
	memcpy(keys + *n * len, key, len);
	lines[(*n)++] = lineno;
	return 0;
}

/*
 * key_line: the key on line lineno of path (p, trimmed): a PASERK k4.local
 * of 32 bytes or k4.secret of 64, at most TOK_KEYS_MAX of each, none twice.
 * Returns 0, or -1 with errbuf set.
 */
static int
key_line(const char *path, unsigned long lineno, const char *p, struct keyfile *kf,
    char *errbuf, size_t errlen)
{
	unsigned char key[TOK_SECRETBYTES];
	int rc = -1;

	if (strncmp(p, PASERK_LOCAL, PASERK_LOCALLEN) == 0) {
		if (tok_paserk_local_parse(key, p) != 0) {
			seterr(errbuf, errlen, "%s:%lu: key is not %d base64url "
			    "characters of %d bytes", path, lineno, PASERK_KEYCHARS,
			    TOK_KEYBYTES);
			goto out;
		}
		rc = add_key(path, lineno, key, TOK_KEYBYTES, kf->raw, kf->line, &kf->n,
		    errbuf, errlen);
	} else if (strncmp(p, PASERK_SECRET, PASERK_SECRETLEN) == 0) {
		if (tok_paserk_secret_parse(key, p) != 0) {
			seterr(errbuf, errlen, "%s:%lu: key is not %d base64url characters "
			    "of an Ed25519 seed and its public key", path, lineno,
			    PASERK_SECRETCHARS);
			goto out;
		}
		rc = add_key(path, lineno, key, 32, kf->seeds, kf->sline, &kf->ns,
		    errbuf, errlen);
	} else {
		seterr(errbuf, errlen, "%s:%lu: not a PASERK k4.local or k4.secret key",
		    path, lineno);
	}
out:
	sodium_memzero(key, sizeof key);
	return rc;
}

struct tok_keys *
tok_keys_load(const char *path, char *errbuf, size_t errlen)
{
	struct keyfile *kf = NULL;
	char line[KEYLINE_MAX];
	struct tok_keys *ks = NULL;
	unsigned long lineno = 0;
	size_t len;
	FILE *f = NULL;
	struct stat st;
	char *p;

	assert(path != NULL);
	seterr(errbuf, errlen, "%s", "");
	if ((kf = sodium_malloc(sizeof *kf)) == NULL) {
		seterr(errbuf, errlen, "%s: out of memory", path);
		goto out;
	}
	kf->n = kf->ns = 0;
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
		if (key_line(path, lineno, p, kf, errbuf, errlen) == -1)
			goto out;
	}
	if (ferror(f)) {
		seterr(errbuf, errlen, "%s:%lu: %s", path, lineno + 1, strerror(errno));
		goto out;
	}
	if (kf->n + kf->ns == 0) {
		seterr(errbuf, errlen, "%s: no key in the file", path);
		goto out;
	}
	if ((ks = tok_keys_make(kf->raw, kf->n, kf->seeds, kf->ns)) == NULL)
		seterr(errbuf, errlen, "%s: out of memory", path);
out:
	if (kf != NULL)
		sodium_free(kf);
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
tok_keygen_secret_line(char *out, size_t outlen)
{
	unsigned char pk[TOK_PUBLICBYTES], sk[TOK_SECRETBYTES];
	int rc;

	assert(out != NULL);
	crypto_sign_keypair(pk, sk);
	rc = tok_paserk_secret(out, outlen, sk, sizeof sk);
	sodium_memzero(sk, sizeof sk);
	return rc;
}

static const char *
keys_lack(const struct tok_keys *ks, bool public)
{
	if (public && ks->ns == 0)
		return "no k4.secret key: token_format = public signs with one "
		    "(wxauth keygen --public --rotate FILE adds one)";
	if (!public && ks->n == 0)
		return "no k4.local key";
	return NULL;
}

struct tok_keys *
tok_keys_open(const char *path, bool public, char *errbuf, size_t errlen)
{
	struct tok_keys *ks = tok_keys_load(path, errbuf, errlen);
	const char *lack;

	if (ks != NULL && (lack = keys_lack(ks, public)) != NULL) {
		seterr(errbuf, errlen, "%s: %s", path, lack);
		tok_keys_free(ks);
		return NULL;
	}
	if (ks != NULL)
		ks->sign_public = public;
	return ks;
}
