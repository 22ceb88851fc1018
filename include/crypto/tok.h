/*
 * tok.h - wxauth's own tokens: PASETO v4.local (XChaCha20 + BLAKE2b) or
 * v4.public (Ed25519) access tokens over libsodium, PASERK keys and key ids,
 * the key file, and refresh tokens (random, stored only as a hash).
 *
 * Key file: one key per line, as PASERK "k4.local.<base64url 32 bytes>"
 * (v4.local) or "k4.secret.<base64url 64 bytes>" (v4.public's signing key),
 * '#' comments and blank lines ignored. Of each kind the first key seals or
 * signs; every key opens or verifies. Keys live in sodium_malloc'd memory
 * and are wiped by tok_keys_free.
 */
#ifndef WXAUTH_TOK_H
#define WXAUTH_TOK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "common.h"

#define TOK_KEYBYTES 32
#define TOK_NONCEBYTES 32
#define TOK_MACBYTES 32
#define TOK_KEYS_MAX 16
#define TOK_LID_STR 64          /* "k4.lid." + 44 characters + NUL, rounded up */
#define TOK_MAX 4096            /* longest token we issue or accept */
#define TOK_REFRESH_BYTES 32
#define TOK_REFRESH_STR 44       /* 43 base64url characters + NUL */
#define TOK_HASHBYTES 32
#define TOK_PASERK_LOCAL_STR 53  /* "k4.local." + 43 characters + NUL */
#define TOK_PUBLICBYTES 32       /* Ed25519 public key */
#define TOK_SECRETBYTES 64       /* Ed25519 secret key: seed || public key */
#define TOK_PASERK_PUBLIC_STR 54 /* "k4.public." + 43 characters + NUL */
#define TOK_PASERK_SECRET_STR 97 /* "k4.secret." + 86 characters + NUL */

struct tok_key {
	unsigned char key[TOK_KEYBYTES];
	char lid[TOK_LID_STR];          /* PASERK k4.lid of key */
};

/* A v4.public signing key and what verifiers are told of it. */
struct tok_skey {
	unsigned char sk[TOK_SECRETBYTES];
	unsigned char pk[TOK_PUBLICBYTES];
	char pid[TOK_LID_STR];          /* PASERK k4.pid of pk: the footer's kid */
};

struct tok_cache;

struct tok_keys {
	struct tok_key *k;              /* sodium_malloc'd array of n keys */
	size_t n;
	struct tok_skey *s;             /* sodium_malloc'd array of ns signing keys */
	size_t ns;
	bool sign_public;               /* tok_seal signs v4.public with s[0] */
	struct tok_cache *cache;        /* v4.public tokens already verified (tok.c) */
};

/*
 * tok_keys_load: read a key file (at most TOK_KEYS_MAX keys). Returns the
 * keys, owned by the caller until tok_keys_free, or NULL with errbuf set to
 * "path:line: what is wrong" for a bad, duplicate or surplus key line or an
 * overlong line, "path: no key in the file" when there is none, and
 * "path: strerror" when the file cannot be opened. Messages never contain
 * key material. A file every user may read is refused ("path: readable by
 * every user"); group access is the deployment's choice.
 * Key pages are read-only once loaded.
 */
struct tok_keys *tok_keys_load(const char *path, char *errbuf, size_t errlen);
/*
 * tok_keys_open: tok_keys_load, then the set must serve its use: public
 * (token_format = public: tokens are signed, v4.public) needs a k4.secret
 * key, otherwise (v4.local tokens, or the data key file) a k4.local key.
 * NULL with errbuf set as tok_keys_load does, or to "path: no … key".
 */
struct tok_keys *tok_keys_open(const char *path, bool public, char *errbuf, size_t errlen);
/* tok_keys_new: keys from raw bytes (n keys of 32 bytes, 1 <= n <=
 * TOK_KEYS_MAX), for tests and tools. NULL when n is out of range or out of
 * memory. */
struct tok_keys *tok_keys_new(const unsigned char *raw, size_t n);
/* tok_keys_make: n local keys of 32 bytes and ns signing keys made from
 * their 32-byte Ed25519 seeds (either count may be 0, not both). */
struct tok_keys *tok_keys_make(const unsigned char *raw, size_t n,
    const unsigned char *seeds, size_t ns);
/* tok_keys_free: wipe and free; NULL does nothing. */
void tok_keys_free(struct tok_keys *ks);

/* tok_keygen_line: a fresh random key as a "k4.local.…" line (no newline)
 * into out (at least TOK_PASERK_LOCAL_STR bytes). Returns 0, or -1. */
int tok_keygen_line(char *out, size_t outlen) WARN_UNUSED;
/* tok_keygen_secret_line: the same for a signing key, "k4.secret.…" (out at
 * least TOK_PASERK_SECRET_STR bytes). */
int tok_keygen_secret_line(char *out, size_t outlen) WARN_UNUSED;

/*
 * PASERK for v4.public: tok_paserk_public ("k4.public.", 32 bytes),
 * tok_paserk_secret ("k4.secret.", 64 bytes), tok_pid ("k4.pid." of a
 * public key). Keys of any other length are refused (-1), as the official
 * vectors demand. tok_paserk_public_parse / tok_paserk_secret_parse read
 * exactly one key of their type; a secret key's second half must be the
 * public key of its first (its seed). 0, or -1 with nothing written.
 */
int tok_paserk_public(char *out, size_t outlen, const unsigned char *pk, size_t pklen)
    WARN_UNUSED;
int tok_paserk_secret(char *out, size_t outlen, const unsigned char *sk, size_t sklen)
    WARN_UNUSED;
int tok_pid(char *out, size_t outlen, const unsigned char *pk, size_t pklen) WARN_UNUSED;
int tok_paserk_public_parse(unsigned char pk[TOK_PUBLICBYTES], const char *s) WARN_UNUSED;
int tok_paserk_secret_parse(unsigned char sk[TOK_SECRETBYTES], const char *s) WARN_UNUSED;

/*
 * tok_lid: PASERK k4.lid of a 32-byte key into out ("k4.lid.…", 51
 * characters; TOK_LID_STR is enough).
 * tok_paserk_local: PASERK k4.local serialisation of a key (out at least
 * TOK_PASERK_LOCAL_STR bytes).
 * Return 0, or -1 when out is too small.
 */
int tok_lid(char *out, size_t outlen, const unsigned char key[TOK_KEYBYTES]) WARN_UNUSED;
int tok_paserk_local(char *out, size_t outlen, const unsigned char key[TOK_KEYBYTES]) WARN_UNUSED;
/*
 * tok_paserk_local_parse: the key of a PASERK "k4.local.…" string (NUL
 * terminated, nothing around it). Returns 0, or -1 for another version or
 * type, or anything but 43 base64url characters of exactly 32 bytes; key is
 * untouched on failure.
 */
int tok_paserk_local_parse(unsigned char key[TOK_KEYBYTES], const char *s) WARN_UNUSED;

/*
 * tok_v4_encrypt / tok_v4_decrypt: PASETO v4.local over raw payload and
 * footer bytes, as the specification defines them (PAE, BLAKE2b-derived
 * keys, XChaCha20, BLAKE2b-256 tag). nonce is 32 bytes, or NULL for random
 * (tests pass the vectors' nonces). implicit may be NULL/0.
 *
 * tok_v4_encrypt writes a NUL-terminated token into out; -1 if out is small
 * or out of memory. An empty footer adds no ".footer" part.
 * tok_v4_decrypt checks the header, the footer (must equal footer exactly,
 * in constant time, when footer is non-NULL, so footer = "" with length 0
 * demands a token without one; ignored when NULL) and the tag in constant
 * time before decrypting anything, then writes the plaintext into out
 * (outmax must exceed its length: NUL-terminated; *outlen excludes the NUL).
 * Returns 0, or -1 for any malformed, forged or wrong-key token, a trailing
 * "." with no footer, or out of memory.
 */
int tok_v4_encrypt(char *out, size_t outlen, const unsigned char key[TOK_KEYBYTES],
    const unsigned char *msg, size_t msglen, const unsigned char *footer, size_t footerlen,
    const unsigned char *implicit, size_t implicitlen,
    const unsigned char *nonce) WARN_UNUSED;
int tok_v4_decrypt(unsigned char *out, size_t outmax, size_t *outlen,
    const unsigned char key[TOK_KEYBYTES], const char *token,
    const unsigned char *footer, size_t footerlen,
    const unsigned char *implicit, size_t implicitlen) WARN_UNUSED;

/*
 * tok_v4_sign / tok_v4_verify: PASETO v4.public (Ed25519 over PAE(h, m, f,
 * i)). sk is libsodium's 64-byte secret key (seed || public key), pk the
 * 32-byte public key. The same contracts as tok_v4_encrypt and
 * tok_v4_decrypt: a footer of length 0 adds no ".footer"; a non-NULL footer
 * must match exactly; the message is written NUL-terminated once the
 * signature holds. Ed25519 is deterministic: the vectors' tokens come out
 * byte for byte.
 */
int tok_v4_sign(char *out, size_t outlen, const unsigned char sk[TOK_SECRETBYTES],
    const unsigned char *msg, size_t msglen, const unsigned char *footer, size_t footerlen,
    const unsigned char *implicit, size_t implicitlen) WARN_UNUSED;
int tok_v4_verify(unsigned char *out, size_t outmax, size_t *outlen,
    const unsigned char pk[TOK_PUBLICBYTES], const char *token,
    const unsigned char *footer, size_t footerlen,
    const unsigned char *implicit, size_t implicitlen) WARN_UNUSED;

/* The claims wxauth puts in an access token. */
struct tok_claims {
	char iss[256];
	char sub[UUID_STR];             /* user id */
	char sid[UUID_STR];             /* session id */
	char app[APPID_MAX + 1];
	char oid[OPENID_MAX + 1];       /* openid */
	char uni[UNIONID_MAX + 1];      /* unionid at issue time, may be empty */
	int64_t iat;                    /* unix seconds */
	int64_t exp;                    /* unix seconds */
};

/*
 * tok_seal: an access token for c under the first key, footer
 * {"kid":"<lid>"}, claims {"iss","sub","sid","app","oid","uni","iat","exp"}
 * with "uni" left out when empty and times as "YYYY-MM-DDTHH:MM:SS+00:00".
 * Returns 0, or -1 (out too small, out of memory, or claims that tok_open
 * would refuse: an empty iss/sub/sid/app/oid, a string not terminated
 * within its field, a time outside years 0000-9999).
 */
int tok_seal(const struct tok_keys *ks, const struct tok_claims *c,
    char *out, size_t outlen) WARN_UNUSED;

/*
 * tok_open: parse and check an access token, v4.local or v4.public, at time
 * now. Picks the key by the footer's kid (so a token of a removed key
 * fails), checks the tag or the signature (or finds the token among those
 * verified before, tok_cache_get), then parses claims. Returns OK, ERR_INVALID_TOKEN (malformed, other version or
 * purpose, unknown kid, forged, bad claims, other issuer when iss is
 * non-NULL), ERR_TOKEN_EXPIRED (authentic, exp <= now) or ERR_INTERNAL (out
 * of memory). c is filled on OK and ERR_TOKEN_EXPIRED, zeroed otherwise.
 * Footer must be exactly {"kid":"k4.lid.…"} ({"kid":"k4.pid.…"}); claims iss, sub, sid, app, oid,
 * iat, exp are required non-empty strings that fit c, uni is optional;
 * other claims are ignored. Never aborts on any token text.
 */
enum err tok_open(const struct tok_keys *ks, const char *token, const char *iss,
    int64_t now, struct tok_claims *c) WARN_UNUSED;

/*
 * tok_cache_*: the v4.public tokens this process has verified (verified.c),
 * one cache per key set (tok_keys_make makes it when there are signing
 * keys). get copies the claims of a token put before and returns true, or
 * returns false; neither fails. tok_open uses it; nothing else needs to.
 */
struct tok_cache *tok_cache_new(void);
void tok_cache_free(struct tok_cache *tc);
bool tok_cache_get(struct tok_cache *tc, const char *token, size_t len,
    struct tok_claims *c);
void tok_cache_put(struct tok_cache *tc, const char *token, size_t len,
    const struct tok_claims *c);


/*
 * The two readers of a token's claims (tok_open's, exposed for the unit and
 * fuzz tests): tok_claims_flat, the fast one, reads only the form tok_seal
 * writes (1: read; 0: not that form, never a refusal); tok_claims_json
 * reads any JSON object (0: read; -1: not claims tok_open takes; -2: out
 * of memory). Whatever the first reads, the second reads the same.
 * tok_claims_flat writes only the claims it reads: c must come zeroed.
 */
int tok_claims_flat(const char *pt, size_t len, struct tok_claims *c);
int tok_claims_json(const char *pt, size_t len, struct tok_claims *c);

/*
 * tok_refresh_new: 32 random bytes as base64url into out (at least
 * TOK_REFRESH_STR bytes) and their hash into hash. Returns 0 or -1.
 * tok_refresh_hash: the hash of a presented refresh token (BLAKE2b-256 of the
 * decoded bytes). Returns 0, or -1 when the token is not 43 base64url
 * characters of 32 bytes.
 */
int tok_refresh_new(char *out, size_t outlen, unsigned char hash[TOK_HASHBYTES]) WARN_UNUSED;
int tok_refresh_hash(const char *token, unsigned char hash[TOK_HASHBYTES]) WARN_UNUSED;

/*
 * Keyed hashes that stand for a credential in a table (login codes, open
 * data blobs), so that the table says nothing to whoever reads it and every
 * worker and host computes the same hash. Every subkey is derived here,
 * once, at worker start: BLAKE2b keyed with each data key over a stable
 * context label ("wxauth login code", "wxauth open data"). Derived for
 * every listed data key, not only the first: rotating the data key (a new
 * first line) must not reopen replays, so a credential is "seen" when its
 * hash under any listed key is stored (TOK_HASH_KEYS_MAX hashes to look
 * up). Only removing a data key forgets what was hashed under it.
 */
enum tok_hash_purpose {
	TOK_H_LOGIN_CODE,       /* login_codes: a code used */
	TOK_H_OPEN_DATA,        /* open_data_seen: a blob accepted */
	TOK_H_OAUTH_STATE,      /* oauth_states: a web login's state honoured */
	TOK_H_WEB_BIND,         /* oauth_tickets: a browser's binding cookie */
	TOK_H_SCAN,             /* scan_logins: a PC login request's id */
	TOK_H_CONSOLE,          /* console_sessions: the cookie and the CSRF token */
	TOK_H__MAX
};

struct tok_hashkeys;

/* tok_hashkeys_new: the subkeys of every key of data. NULL when out of
 * memory. tok_hashkeys_free: wipe and free; NULL does nothing. */
struct tok_hashkeys *tok_hashkeys_new(const struct tok_keys *data);
void tok_hashkeys_free(struct tok_hashkeys *hk);

/* One value's hashes, one per listed data key: h[0] (the first key's) is
 * the one new rows are stored under. */
struct tok_hashes {
	size_t n;
	unsigned char h[TOK_KEYS_MAX][TOK_HASHBYTES];
};

/*
 * tok_hash: the keyed hashes for purpose of (scope, NUL, value) under every
 * data key into out. scope (an appid) keeps two apps' values apart.
 */
void tok_hash(const struct tok_hashkeys *hk, enum tok_hash_purpose purpose,
    const char *scope, const char *value, struct tok_hashes *out);

/* tok_hash_is: h equals one of hs's hashes (compared in constant time,
 * each of them): a value hashed before a data key rotation still matches. */
bool tok_hash_is(const struct tok_hashes *hs, const unsigned char h[TOK_HASHBYTES]);

/* tok_secret_equal: two secrets are equal, compared in constant time
 * whatever their lengths (both hashed under a key of this process first). */
bool tok_secret_equal(const char *a, const char *b);

/*
 * ISO 8601 / RFC 3339 time from and to unix seconds.
 * tok_time_fmt writes "2022-01-01T00:00:00+00:00" (UTC) for years 0000-9999;
 * -1 when out of that range or out is too small (26 bytes are enough).
 * tok_time_parse reads "YYYY-MM-DDTHH:MM:SS", optional ".fraction" (dropped),
 * then "Z" or "+HH:MM" / "-HH:MM", nothing else (upper-case T and Z, no leap
 * second 60). Returns 0, or -1 with *t = 0.
 */
int tok_time_fmt(char *out, size_t outlen, int64_t t) WARN_UNUSED;
int tok_time_parse(const char *s, int64_t *t) WARN_UNUSED;

#endif
