/*
 * verify.c - what services on other machines need to verify v4.public
 * tokens themselves, without any credential: the public keys
 * (GET /v1/keys) and the sessions ended lately (GET /v1/revoked).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "db.h"
#include "verify.h"

/* How long a verifier may keep the key list: a key announced (keygen
 * --announce) signs only after this long (README, "Key rotation"). */
#define KEYS_MAX_AGE 300

enum { REV_AFTER };

const struct field verify_revoked_fields[] = {
	[REV_AFTER] = {"after", FT_INT, 0, 0, 9223372036854775807LL},
	FIELDS_END
};

enum err
verify_keys(struct svc *s, struct req *r, const struct tok_claims *who)
{
	char buf[TOK_KEYS_MAX * (TOK_LID_STR + TOK_PASERK_PUBLIC_STR + 64) + 64];
	char pub[TOK_PASERK_PUBLIC_STR];
	size_t i, at;
	int n;

	(void)who;
	/* Ids and keys are base64url: nothing to escape. */
	at = (size_t)snprintf(buf, sizeof(buf), "{\"keys\":[");
	/* With v4.local nothing is published: no token needs a public key. */
	for (i = 0; s->keys->sign_public && i < s->keys->ns; i++) {
		if (tok_paserk_public(pub, sizeof(pub), s->keys->s[i].pk, TOK_PUBLICBYTES) != 0)
			return ERR_INTERNAL;
		n = snprintf(buf + at, sizeof(buf) - at, "%s{\"kid\":\"%s\",\"paserk\":\"%s\","
		    "\"signing\":%s}", i > 0 ? "," : "", s->keys->s[i].pid, pub,
		    i == 0 ? "true" : "false");
		if (n < 0 || (size_t)n >= sizeof(buf) - at)
			return ERR_INTERNAL;
		at += (size_t)n;
	}
	n = snprintf(buf + at, sizeof(buf) - at, "],\"token_format\":\"%s\"}",
	    s->keys->sign_public ? "public" : "local");
	if (n < 0 || (size_t)n >= sizeof(buf) - at)
		return ERR_INTERNAL;
	http_send_public(r, buf, at + (size_t)n, KEYS_MAX_AGE);
	return OK;
}

enum err
verify_revoked(struct svc *s, struct req *r, const struct tok_claims *who)
{
	const struct fval *in = r->in;
	char *text = NULL;
	enum err rc;

	(void)who;
	rc = db_revoked_feed(s->db, s->conf->access_ttl, in[REV_AFTER].set ? in[REV_AFTER].n : -1,
	    &text);
	if (rc == OK)
		http_send_json_text(r, 200, text, strlen(text));
	free(text);
	return rc;
}
