/*
 * keys.c - the keys: PASERK k4.local and k4.lid, a key set in guarded
 * memory (tok_keys_new), the key file (tok_keys_load: its checks, its
 * lines) and a new key's line for `wxauth keygen`.
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
	if (outlen < PASERK_LIDLEN + CODEC_B64URL_LEN(PASERK_LIDBYTES))
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
	if (codec_b64url(out + PASERK_LIDLEN, outlen - PASERK_LIDLEN, d, sizeof d) != 0)
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

/*
 * key_line: the key on line lineno of path (p, trimmed) becomes key n of
 * raw: at most TOK_KEYS_MAX, a PASERK k4.local of 32 bytes, none twice
 * (keyline: the lines of keys 0..n-1). Returns 0, or -1 with errbuf set.
 */
static int
key_line(const char *path, unsigned long lineno, const char *p, unsigned char *raw,
    size_t n, const unsigned long *keyline, char *errbuf, size_t errlen)
{
	size_t j;

	if (n == TOK_KEYS_MAX) {
		seterr(errbuf, errlen, "%s:%lu: too many keys (at most %d)",
		    path, lineno, TOK_KEYS_MAX);
		return -1;
	}
	if (strncmp(p, PASERK_LOCAL, PASERK_LOCALLEN) != 0) {
		seterr(errbuf, errlen, "%s:%lu: not a PASERK k4.local key", path, lineno);
		return -1;
	}
	if (tok_paserk_local_parse(raw + n * TOK_KEYBYTES, p) != 0) {
		seterr(errbuf, errlen, "%s:%lu: key is not %d base64url "
		    "characters of %d bytes", path, lineno, PASERK_KEYCHARS, TOK_KEYBYTES);
		return -1;
	}
	for (j = 0; j < n; j++) {
		if (sodium_memcmp(raw + j * TOK_KEYBYTES, raw + n * TOK_KEYBYTES,
		    TOK_KEYBYTES) == 0) {
			seterr(errbuf, errlen, "%s:%lu: same key as line %lu",
			    path, lineno, keyline[j]);
			return -1;
		}
	}
	return 0;
}

struct tok_keys *
tok_keys_load(const char *path, char *errbuf, size_t errlen)
{
	unsigned char raw[TOK_KEYS_MAX * TOK_KEYBYTES];
	unsigned long keyline[TOK_KEYS_MAX];
	char line[KEYLINE_MAX];
	struct tok_keys *ks = NULL;
	unsigned long lineno = 0;
	size_t n = 0, len;
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

		if (key_line(path, lineno, p, raw, n, keyline, errbuf, errlen) == -1)
			goto out;
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
