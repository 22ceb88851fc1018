/*
 * tokmint - forge access tokens for the integration tests.
 *
 *   tokmint KEYFILE PAYLOAD_JSON
 *   tokmint --raw-key HEX64 PAYLOAD_JSON
 *
 * Prints (with a newline) a PASETO v4.local token whose payload is exactly
 * the bytes of PAYLOAD_JSON, which is deliberately not checked, so tests can
 * make expired tokens, tokens with missing or malformed claims, and so on.
 * The footer is {"kid":"<k4.lid>"} of the first key of KEYFILE (the server's
 * own key file format), or of the key given as 64 hex digits (for tokens
 * under a key the server does not have). Exits 0, 1 on any error, 2 on bad
 * usage, with a message on stderr.
 *
 * Test tooling only: it is never installed. Built from tests/tools/tokmint.c
 * with app/crypto/tok.c and app/base/codec.c.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "codec.h"
#include "tok.h"

#define FOOTER_STR 128

static void
usage(void)
{
	fprintf(stderr, "usage: tokmint KEYFILE PAYLOAD_JSON\n"
	    "       tokmint --public KEYFILE PAYLOAD_JSON   (v4.public, the first k4.secret)\n"
	    "       tokmint --raw-key HEX64 PAYLOAD_JSON\n");
}

/* keys_hex: a one-key set from exactly 64 hex digits, or NULL. */
static struct tok_keys *
keys_hex(const char *hex)
{
	unsigned char key[TOK_KEYBYTES];
	struct tok_keys *ks = NULL;
	const char *end = NULL;
	size_t len = 0;

	if (strlen(hex) != 2 * TOK_KEYBYTES)
		goto out;
	if (sodium_hex2bin(key, sizeof key, hex, strlen(hex), NULL, &len,
	    &end) != 0 || len != TOK_KEYBYTES || end != hex + strlen(hex))
		goto out;
	ks = tok_keys_new(key, 1);
out:
	sodium_memzero(key, sizeof key);
	return ks;
}

int
main(int argc, char *argv[])
{
	struct tok_keys *ks = NULL;
	char err[512], footer[FOOTER_STR], *tok = NULL;
	const char *payload;
	size_t plen, toklen;
	int n, rc = 1, pub = 0;

	if (argc == 4 && strcmp(argv[1], "--raw-key") == 0) {
		if (sodium_init() < 0) {
			fprintf(stderr, "tokmint: sodium_init failed\n");
			goto out;
		}
		if ((ks = keys_hex(argv[2])) == NULL) {
			fprintf(stderr, "tokmint: --raw-key wants 64 hex digits "
			    "(32 bytes)\n");
			goto out;
		}
	} else if ((argc == 3 && argv[1][0] != '-') ||
	    (argc == 4 && strcmp(argv[1], "--public") == 0)) {
		pub = argc == 4;
		if (sodium_init() < 0) {
			fprintf(stderr, "tokmint: sodium_init failed\n");
			goto out;
		}
		if ((ks = tok_keys_open(argv[argc - 2], pub, err, sizeof err)) == NULL) {
			fprintf(stderr, "tokmint: %s\n", err);
			goto out;
		}
	} else {
		usage();
		rc = 2;
		goto out;
	}
	payload = argv[argc - 1];
	plen = strlen(payload);

	n = snprintf(footer, sizeof footer, "{\"kid\":\"%s\"}",
	    pub ? ks->s[0].pid : ks->k[0].lid);
	if (n < 0 || (size_t)n >= sizeof footer) {
		fprintf(stderr, "tokmint: footer too long\n");
		goto out;
	}
	/* "v4.local." + b64(n || c || t) + "." + b64(footer) + NUL. */
	if (plen > SIZE_MAX / 2 - 128) {
		fprintf(stderr, "tokmint: payload too long\n");
		goto out;
	}
	toklen = 10 + CODEC_B64URL_LEN(TOK_NONCEBYTES + plen + TOK_MACBYTES) + 1 +
	    CODEC_B64URL_LEN((size_t)n);
	if ((tok = malloc(toklen)) == NULL) {
		fprintf(stderr, "tokmint: out of memory\n");
		goto out;
	}
	if (pub ? tok_v4_sign(tok, toklen, ks->s[0].sk, (const unsigned char *)payload,
	    plen, (const unsigned char *)footer, (size_t)n, NULL, 0) != 0 :
	    tok_v4_encrypt(tok, toklen, ks->k[0].key, (const unsigned char *)payload,
	    plen, (const unsigned char *)footer, (size_t)n, NULL, 0, NULL) != 0) {
		fprintf(stderr, "tokmint: cannot encrypt\n");
		goto out;
	}
	if (printf("%s\n", tok) < 0 || fflush(stdout) != 0) {
		fprintf(stderr, "tokmint: cannot write the token\n");
		goto out;
	}
	rc = 0;
out:
	free(tok);
	tok_keys_free(ks);
	return rc;
}
