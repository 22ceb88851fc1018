/*
 * db.h - PostgreSQL through libpq: one connection per worker, named
 * statements prepared once per connection (and again after each reconnect),
 * LISTEN for revocations and merges. Each db_* function is one unit of work
 * (one transaction where it changes more than one row) that fills a
 * caller's struct.
 *
 * All functions return OK, ERR_DB_UNAVAILABLE when the database cannot be
 * reached or fails (logged once, here), or the specific errors named.
 */
#ifndef WXAUTH_DB_H
#define WXAUTH_DB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common.h"
#include "tok.h"

struct db;

/* Called for each notification, and for each row when (re)loading.
 * kind is 's' (session sid ended) or 'm' (user a merged into user b). */
typedef void (*db_event_fn)(void *arg, char kind, const char *a, const char *b);

/* db_new: a handle for conninfo; connects lazily. on_event receives
 * notifications and reloads; reload_window is how far back (seconds) to
 * reload after a (re)connect: the access token TTL. */
struct db *db_new(const char *conninfo, db_event_fn on_event, void *arg,
    long reload_window);
void db_free(struct db *db);

/* db_poll: connect if needed (then LISTEN and reload), and drain pending
 * notifications without blocking. Called before each request. */
enum err db_poll(struct db *db);

/* db_ping: a round trip (for /readyz). */
enum err db_ping(struct db *db) WARN_UNUSED;

/* What a login, a refresh or a session check knows of who is behind it. */
struct db_ident {
	char user_id[UUID_STR];
	char unionid[UNIONID_MAX + 1];  /* the user's, may be empty */
	long long account_id;
	char appid[APPID_MAX + 1];
	char openid[OPENID_MAX + 1];
	char session_id[UUID_STR];
	bool created;                   /* the user was created by this login */
	char merged_from[UUID_STR];     /* a user this login merged away, or empty */
};

struct db_login {
	const char *appid;
	const char *openid;
	const char *unionid;            /* NULL or empty when WeChat gave none */
	const unsigned char *sealed_key;        /* session_key sealed by box_seal */
	size_t sealed_len;
	const unsigned char *code_hash; /* TOK_HASHBYTES, for idempotent login */
	const unsigned char *refresh_hash;      /* TOK_HASHBYTES */
	long refresh_ttl;
	const char *ip;
	const char *user_agent;
	const char *request_id;
};

/*
 * db_code_lock / db_code_unlock: serialise logins that carry the same code
 * (an advisory lock on its hash), across workers and hosts; lock waits at
 * most wait_ms. After lock, *account_id is the account a login with this
 * code made within the last 60 s, or 0. unlock must follow every OK lock.
 */
enum err db_code_lock(struct db *db, const unsigned char *code_hash,
    long wait_ms, long long *account_id) WARN_UNUSED;
void db_code_unlock(struct db *db, const unsigned char *code_hash);

/*
 * db_login: create or update the account (appid, openid) and its user, link
 * by unionid, record the code, and open a session, in one transaction.
 * Fills out (session_id included).
 */
enum err db_login(struct db *db, const struct db_login *in,
    struct db_ident *out) WARN_UNUSED;

/*
 * db_login_again: open a new session on an existing account, for a code
 * already exchanged (idempotent login). Fills out.
 */
enum err db_login_again(struct db *db, long long account_id,
    const struct db_login *in, struct db_ident *out) WARN_UNUSED;

/*
 * db_refresh: rotate the refresh token whose hash is old_hash to new_hash.
 * Returns OK (out filled), ERR_INVALID_TOKEN (unknown), ERR_TOKEN_EXPIRED,
 * ERR_SESSION_REVOKED (revoked, or old_hash was already rotated: then the
 * session is revoked here and now, and every worker told).
 */
enum err db_refresh(struct db *db, const unsigned char *old_hash,
    const unsigned char *new_hash, long refresh_ttl, const char *request_id,
    struct db_ident *out) WARN_UNUSED;

/*
 * db_logout: end session sid, or with all every session of user_id; tell
 * every worker. *count is how many sessions ended.
 */
enum err db_logout(struct db *db, const char *sid, const char *user_id,
    bool all, const char *request_id, long *count) WARN_UNUSED;


#endif
