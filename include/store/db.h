/*
 * db.h - PostgreSQL through libpq: one connection per worker, named
 * statements prepared once per connection (and again after each reconnect),
 * hints of revocations and merges (LISTEN wxauth_view, then view_log). Each
 * db_* function is one unit of work (one transaction where it changes more
 * than one row) that fills a caller's struct.
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

/* What WeChat told of a person (OAuth userinfo), as a login stores it: it
 * fills the user's empty fields. gender: 0 unknown, 1, 2; -1 absent. */
struct db_profile {
	char nickname[256];
	char avatar_url[1024];
	int gender;
	char country[64];
	char province[64];
	char city[64];
	char language[16];
};

/* An app's server access_token as stored (WeChat: keep 512 bytes). */
#define DB_TOKEN_MAX 512

/* What the database tells a worker's revocation view. */
enum db_event {
	DB_EV_RELOAD,   /* forget everything: a full reload follows */
	DB_EV_SESSION,  /* session a ended */
	DB_EV_MERGE,    /* user a merged into user b, whose unionid is c */
	DB_EV_UNMERGE,  /* that merge of a was undone */
	DB_EV_LOADED,   /* the reload is complete: the view is whole again */
	DB_EV_UNSURE,   /* something changed and what could not be read: the
	                 * view is not whole until the next DB_EV_LOADED */
	DB_EV_PROFILE   /* the profiles of bucket a (0-4095, profview_bucket)
	                 * changed; b non-NULL when this connection made the change */
};

/* Called for each notification, and for each row when (re)loading. */
typedef void (*db_event_fn)(void *arg, enum db_event ev, const char *a,
    const char *b, const char *c);

struct db_opts {
	const char *conninfo;
	db_event_fn on_event;           /* NULL for command-line tools: no LISTEN */
	bool profiles;                  /* LISTEN wxauth_profile too (DB_EV_PROFILE) */
	void *arg;
	long reload_window;             /* seconds to reload after a (re)connect: access TTL */
	long lock_wait_ms;              /* lock_timeout (at most the statement timeout) */
	long connect_timeout_ms;        /* a connection attempt's deadline */
	long statement_timeout_ms;      /* statement_timeout; a statement's deadline is a second more */
};

/*
 * db_new: a handle for o->conninfo (copied); connects lazily. No call ever
 * waits on the database past a deadline: a connection attempt has
 * connect_timeout_ms, a statement statement_timeout_ms and a second, after
 * which the connection is dropped and the call answers ERR_DB_UNAVAILABLE.
 * Attempts start at most once a second.
 */
struct db *db_new(const struct db_opts *o);
void db_free(struct db *db);

/* db_poll: advances a connection attempt as far as it can go without
 * waiting, then drains pending notifications; after a hint (a notification
 * says something changed) it reads what changed, waiting at most half a
 * second. Called before each request. Returns OK when connected. */
enum err db_poll(struct db *db);

/* db_hinted: a hint came that db_poll has not acted on yet. */
bool db_hinted(const struct db *db);



/* db_connect: connect if needed (prepare, LISTEN, reload), waiting at most
 * connect_timeout_ms. Returns OK or ERR_DB_UNAVAILABLE. */
enum err db_connect(struct db *db) WARN_UNUSED;

/* db_ready: connected, with the setup (and a worker's reload) done. */
bool db_ready(const struct db *db);
/*
 * db_wants: what an idle worker waits for before it calls db_poll: the
 * socket (or -1) and the poll events it waits for (POLLIN while connected:
 * a notification; the attempt's own while connecting), *wait_ms before it
 * should call anyway (an attempt's deadline, or the gap before the next
 * attempt; -1: no need), and *which attempt the socket is of (a new one may
 * reuse the number). So a lost connection comes back while the worker is
 * idle, and its revocation view with it, rather than one step a request.
 */
int db_wants(const struct db *db, short *events, int64_t *wait_ms,
    unsigned long *which);

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

#define DB_ANSWER_MAX 4096      /* a sealed login or refresh answer */

/* An answer kept sealed (atrest_seal under the data key) for a retry. */
struct db_stored {
	unsigned char b[DB_ANSWER_MAX];
	size_t len;
};

/* How a login or refresh seals the answer it will send, inside its
 * transaction (id is complete: session_id set), so that the answer is
 * stored with the change it reports. Returns OK or an error that rolls the
 * transaction back. */
struct db_answer {
	enum err (*seal)(void *arg, const struct db_ident *id, struct db_stored *out);
	void *arg;
};

struct db_login {
	const char *appid;
	const char *openid;
	const char *unionid;            /* NULL or empty when WeChat gave none */
	const struct db_profile *profile;       /* OAuth userinfo, or NULL */
	const unsigned char *sealed_key;        /* session_key sealed by atrest_seal, or NULL */
	size_t sealed_len;
	const unsigned char *code_hash; /* TOK_HASHBYTES: the code, a credential once */
	const unsigned char *refresh_hash;      /* TOK_HASHBYTES */
	long refresh_ttl;
	const struct db_answer *answer; /* login: seals the answer kept with the code */
	const char *ip;
	const char *user_agent;
	const char *request_id;
	bool web;                       /* the code came in a URL (the web login's
	                                 * callback): never a credential again */
	const char *via;                /* NULL, or "scan": the session is a PC's */
	bool signup_closed;             /* refuse a new user (the app's signup = closed) */
};

/* What is known of a code when its lock is taken. */
struct db_code {
	bool seen;                      /* exchanged before, by a login or a link */
	bool web;                       /* by the web login's callback (from a URL) */
	long age;                       /* seconds since */
	struct db_stored answer;        /* the login's sealed answer (len 0: none, a link) */
};

/*
 * db_code_lock / db_code_unlock: serialise requests that carry the same
 * code (an advisory lock on its current hash, h[0]), across workers and
 * hosts; the lock waits at most the lock wait given to db_new. After lock,
 * *out says whether the code was exchanged before: stored under any of
 * its hashes (a code seen under a data key since rotated is seen, with no
 * answer to replay). unlock must follow every OK lock, unless the lock
 * went with the COMMIT of db_login or db_link (then it does nothing).
 */
enum err db_code_lock(struct db *db, const struct tok_hashes *code,
    struct db_code *out) WARN_UNUSED;
void db_code_unlock(struct db *db);

/*
 * db_login: create or update the account (appid, openid) and its user, link
 * by unionid, open a session and record the code with the sealed answer
 * (in->answer), in one transaction. Fills out (session_id included).
 */
enum err db_login(struct db *db, const struct db_login *in,
    struct db_ident *out) WARN_UNUSED;

/* What a refresh is asked to do and what it found. */
struct db_refresh {
	const unsigned char *old_hash, *new_hash;       /* TOK_HASHBYTES */
	long ttl;                       /* the rotated refresh token's life */
	long grace;                     /* refresh_reuse_grace, seconds */
	const char *request_id;
	const struct db_answer *answer; /* seals the answer kept for a retry */
	bool replayed;                  /* out: *stored is the first answer */
	struct db_stored *stored;
};

/*
 * db_refresh: rotate the refresh token whose hash is old_hash to new_hash,
 * storing the sealed answer beside the used hash. A hash rotated less than
 * grace seconds ago whose answer still carries the session's current
 * refresh token is a retry: replayed is set and *stored holds that answer.
 * Returns OK (out filled), ERR_INVALID_TOKEN (unknown, or a retry whose
 * answer is stale), ERR_TOKEN_EXPIRED, ERR_SESSION_REVOKED (revoked, or
 * old_hash reused after the grace: then the session is revoked here and
 * now, and every worker told).
 */
enum err db_refresh(struct db *db, struct db_refresh *in,
    struct db_ident *out) WARN_UNUSED;

/*
 * db_logout: end session sid, or with all every session of user_id; tell
 * every worker. *count is how many sessions ended.
 */
enum err db_logout(struct db *db, const char *sid, const char *user_id,
    bool all, const char *request_id, long *count) WARN_UNUSED;


/*
 * db_link: the account in `in` (an app account the person just proved with
 * that app's code) joins user_id, merging when it, or the user holding its
 * unionid, belongs to another user (reason "link"). out->created is false;
 * *already is set when the account was already this user's (nothing moved).
 * Returns OK, ERR_UNIONID_CONFLICT (audited), or a database error.
 */
enum err db_link(struct db *db, const char *user_id, const struct db_login *in,
    struct db_ident *out, bool *already) WARN_UNUSED;


/* ---- an account's life (db_account.c) ---- */

/* db_sessions_list: user_id's live sessions as a JSON array text in *json
 * (malloc'd): id, appid, times, ip, user_agent, and current (current's). */
enum err db_sessions_list(struct db *db, const char *user_id, const char *current,
    char **json) WARN_UNUSED;

/* db_session_end: end user_id's live session sid (NOTIFY, event, audit).
 * ERR_NOT_FOUND when sid is not a live session of user_id. */
enum err db_session_end(struct db *db, const char *user_id, const char *sid,
    const char *request_id) WARN_UNUSED;

/* db_unlink: user_id's account of appid moves to a new user of its own, its
 * sessions end (event account_unlinked). ERR_NOT_FOUND when the user has no
 * account of appid, ERR_LAST_ACCOUNT when it is the user's only one. */
enum err db_unlink(struct db *db, const char *user_id, const char *appid,
    const char *request_id) WARN_UNUSED;

/* What a deletion needs: session_id NULL for an admin; else the caller's
 * session, which must have been opened within max_login_age seconds. */
struct db_delete {
	const char *user_id;
	const char *session_id;
	long max_login_age;
	const char *request_id;
};

/* db_delete_user: erase user_id's personal data, end every session, keep
 * an id-only tombstone (event user_deleted). ERR_NOT_FOUND when there is no
 * such live user, ERR_FRESH_LOGIN_REQUIRED when the session is too old,
 * ERR_SESSION_REVOKED when it has ended. */
enum err db_delete_user(struct db *db, const struct db_delete *in) WARN_UNUSED;

/*
 * db_avatar_set: user_id's live user gets this image (content_type, len
 * bytes) as its one avatar, avatar_url = url_prefix + the new avatar's id;
 * the previous avatar goes. ERR_SESSION_REVOKED when the user is deleted.
 * db_avatar_get: avatar id's type and bytes (*data malloc'd, the caller
 * frees it); ERR_NOT_FOUND when there is none.
 */
#define DB_AVATAR_MAX 262144
enum err db_avatar_set(struct db *db, const char *user_id, const char *content_type,
    const unsigned char *data, size_t len, const char *url_prefix) WARN_UNUSED;
enum err db_avatar_get(struct db *db, const char *id, char *content_type, size_t ctlen,
    unsigned char **data, size_t *len) WARN_UNUSED;

/*
 * The PC scan login (db_scan.c). db_scan_new: a request of appid, living
 * ttl seconds, bound to the browser whose cookie hashes to bind_hash.
 * db_scan_get: what a poll shows (ERR_NOT_FOUND: no such request).
 * db_scan_scanned / db_scan_cancel: by the live account (appid, openid):
 * OK (a second scan by the same person too), ERR_SCAN_TAKEN (someone else
 * scanned it: counted in refused), ERR_SCAN_OVER (expired, cancelled,
 * confirmed), ERR_NOT_FOUND. db_scan_confirm: in one transaction, the
 * request (scanned by in->appid/openid, in time) confirmed and a session
 * opened for that account (in: refresh hash and ttl, code_hash under which
 * the sealed answer is kept, via "scan"), or the same refusals.
 * db_scan_ticket: the ticket (its hash) handed to the PC, once, after a
 * confirmation; ERR_SCAN_OVER otherwise.
 */
struct db_scan {
	char status[16];                /* pending scanned confirmed cancelled expired */
	unsigned char bind_hash[TOK_HASHBYTES];
	char appid[APPID_MAX + 1];
	long refused;                   /* scans by someone else, refused */
	bool ticket_given;
	long expires_in;                /* seconds left */
};
enum err db_scan_new(struct db *db, const unsigned char *id_hash,
    const unsigned char *bind_hash, const char *appid, long ttl) WARN_UNUSED;
enum err db_scan_get(struct db *db, const unsigned char *id_hash, struct db_scan *out)
    WARN_UNUSED;
enum err db_scan_scanned(struct db *db, const unsigned char *id_hash, const char *appid,
    const char *openid) WARN_UNUSED;
enum err db_scan_cancel(struct db *db, const unsigned char *id_hash, const char *appid,
    const char *openid) WARN_UNUSED;
enum err db_scan_confirm(struct db *db, const unsigned char *id_hash,
    const struct db_login *in, struct db_ident *out) WARN_UNUSED;
enum err db_scan_ticket(struct db *db, const unsigned char *id_hash,
    const unsigned char *ticket_hash) WARN_UNUSED;

/*
 * The operators' console (db_console.c). db_console_open: a console
 * session (its cookie's and CSRF token's hashes, the operator and role,
 * ttl seconds), audited as console_signin. db_console_get: a live one's
 * operator, role and CSRF hash (ERR_NOT_FOUND: none, ended or expired).
 * db_console_end: sign out. db_console_find: users by one key, a page of
 * them, as JSON. db_console_user: a user's whole picture as JSON
 * (ERR_NOT_FOUND: no such user). db_console_audit: an audit row naming the
 * operator who did action to user_id.
 */
struct db_console {
	const unsigned char *id_hash, *csrf_hash;
	const char *user_id, *session_id, *role, *ip, *user_agent, *request_id;
	long ttl;
};
enum db_find { DB_FIND_ID, DB_FIND_OPENID, DB_FIND_UNIONID, DB_FIND_PHONE, DB_FIND_NICKNAME };
enum err db_console_open(struct db *db, const struct db_console *in) WARN_UNUSED;
enum err db_console_get(struct db *db, const unsigned char *id_hash, char *user_id,
    size_t ulen, char *role, size_t rlen, unsigned char csrf_hash[TOK_HASHBYTES]) WARN_UNUSED;
enum err db_console_end(struct db *db, const unsigned char *id_hash) WARN_UNUSED;
enum err db_console_find(struct db *db, enum db_find by, const char *q, long limit,
    long offset, char **json) WARN_UNUSED;
enum err db_console_user(struct db *db, const char *user_id, char **json) WARN_UNUSED;
enum err db_console_audit(struct db *db, const char *operator_id, const char *action,
    const char *user_id, const char *target, const char *request_id) WARN_UNUSED;
/* db_console_log: 50 audit rows, newest first, of user_id / by operator_id
 * / of event where given (NULL: any), before id `before` (0: the newest). */
enum err db_console_log(struct db *db, const char *user_id, const char *operator_id,
    const char *event, long long before, char **json) WARN_UNUSED;
/* db_console_health: {"tokens":[{appid, fetched_at, expires_at,
 * age_seconds}], "phone_codes_today": N}. */
enum err db_console_health(struct db *db, char **json) WARN_UNUSED;
/* db_console_merges: 50 merges, newest first, before id `before` (0: the newest). */
enum err db_console_merges(struct db *db, long long before, char **json) WARN_UNUSED;

/*
 * db_revoked_feed: for verifiers elsewhere (GET /v1/revoked), the sessions
 * ended within the last secs seconds (after < 0), or those ended since the
 * cursor after, as {"revoked":["<session id>",...],"next":"<cursor>"}: at
 * most DB_REVOKED_MAX ids; a session may come twice, none is missed.
 */
#define DB_REVOKED_MAX 131072
#define DB_REVOKED_MAX_S "131072"
enum err db_revoked_feed(struct db *db, long secs, long long after, char **json) WARN_UNUSED;

/* db_events_feed: events at feed positions after `after`, oldest first, at
 * most limit, as a JSON array text in *json (malloc'd); the events that
 * committed since the last read get their positions first. */
enum err db_events_feed(struct db *db, long long after, long limit, char **json) WARN_UNUSED;

/* db_oauth_state_use: the web login's state (its hash) is honoured once:
 * *fresh when this is its first use. */
enum err db_oauth_state_use(struct db *db, const unsigned char *hash, bool *fresh) WARN_UNUSED;

/* db_ticket_put: a ticket (its hash) for the login of code_hash, whose
 * answer login_codes holds, bound to the browser whose binding cookie
 * hashes to bind_hash. db_ticket_take: the ticket is used up (whoever
 * presents it); its code hash, binding hash and that answer, once, within
 * max_age seconds; ERR_NOT_FOUND otherwise. */
enum err db_ticket_put(struct db *db, const unsigned char *ticket_hash,
    const unsigned char *code_hash, const unsigned char *bind_hash) WARN_UNUSED;
enum err db_ticket_take(struct db *db, const unsigned char *ticket_hash, long max_age,
    unsigned char code_hash[TOK_HASHBYTES], unsigned char bind_hash[TOK_HASHBYTES],
    struct db_stored *answer) WARN_UNUSED;

/* ---- downstream and admin (db_admin.c) ---- */

/*
 * db_merges_feed: merges with id > after, oldest first, at most limit, as a
 * JSON array text in *json (malloc'd; the caller frees it).
 */
enum err db_merges_feed(struct db *db, long long after, long limit, char **json) WARN_UNUSED;

enum db_user_by { DB_USER_BY_ID, DB_USER_BY_ACCOUNT, DB_USER_BY_UNIONID };

/*
 * db_user_lookup: the live user found by id (a), by account (a = appid,
 * b = openid) or by unionid (a), following merges to the survivor, as a JSON
 * object text in *json (malloc'd), with "resolved_from" naming the merged
 * id asked for when it was one. ERR_NOT_FOUND when there is none.
 */
enum err db_user_lookup(struct db *db, enum db_user_by by, const char *a,
    const char *b, char **json) WARN_UNUSED;

/* Retention (days), and what one prune batch deleted. */
struct db_retention {
	long sessions_days, audit_days, events_days;
	long seen_secs;         /* open-data hashes: the oldest watermark that passes */
};
struct db_pruned {
	long sessions, audit, events;
	long spent;             /* used codes, states, tickets, hashes, stored answers */
};

/* db_prune: delete at most batch rows of each table past its retention:
 * sessions over (expired or revoked), audit rows, events. */
enum err db_prune(struct db *db, const struct db_retention *keep, long batch,
    struct db_pruned *out) WARN_UNUSED;

/* db_admin_disable: disable (every session of the user and of the users
 * merged into it ended, *count of them; logins and refreshes refused) or
 * enable the live user user_id, audited. ERR_NOT_FOUND: no such live user. */
enum err db_admin_disable(struct db *db, const char *user_id, bool disable,
    const char *request_id, long *count) WARN_UNUSED;

/* db_admin_revoke: end every session of user_id (admin), audited. */
enum err db_admin_revoke(struct db *db, const char *user_id, const char *request_id,
    long *count) WARN_UNUSED;

/* db_admin_denied: count a refused admin request in the audit log: one row
 * per source address and minute, carrying the count and the last reason. */
void db_admin_denied(struct db *db, const char *ip, const char *reason,
    const char *request_id);

/*
 * db_unmerge: undo merge id: move back the accounts and sessions it moved,
 * clear the profile fields it filled (when unchanged since), give the loser
 * back its unionid and life, tell every worker, record it. Refuses, with
 * why filled, when the merge was undone already or something has moved
 * since. Returns OK, ERR_NOT_FOUND, ERR_FORBIDDEN (refused) or a db error.
 */
enum err db_unmerge(struct db *db, long long id, char *why, size_t whylen) WARN_UNUSED;

/* ---- profile, phone number, open data, app access token (db_profile.c) ---- */

/*
 * db_profile_get: the live user that user_id is or was merged into, as the
 * JSON text (malloc'd, the caller frees it) {"user": {id, unionid,
 * nickname, avatar_url, gender, country, province, city, language,
 * phone_number, pure_phone_number, country_code, created_at, updated_at},
 * "accounts": [{appid, openid, unionid, first_login, last_login, type}]},
 * where type is the value of appid in types (a JSON object, appid ->
 * type), null when it has none. ERR_NOT_FOUND when there is no such user.
 * *merged (may be NULL) is set when user_id was merged away: the answer is
 * another user's.
 */
enum err db_profile_get(struct db *db, const char *user_id, const char *types,
    char **answer, bool *merged) WARN_UNUSED;

/*
 * db_profile_set: set nickname and/or avatar_url (NULL leaves a field) of
 * the live user that user_id is or was merged into. ERR_NOT_FOUND when
 * there is no such user.
 */
enum err db_profile_set(struct db *db, const char *user_id, const char *nickname,
    const char *avatar_url) WARN_UNUSED;

/*
 * db_account_key: the account (appid, openid) and its session_key as
 * atrest_seal sealed it (into sealed, at most max bytes; *sealed_len 0 when
 * the account has none). ERR_NOT_FOUND when there is no such account.
 */
enum err db_account_key(struct db *db, const char *appid, const char *openid,
    long long *account_id, unsigned char *sealed, size_t max, size_t *sealed_len) WARN_UNUSED;

/* db_open_data_seen: *seen when the open data with these keyed hashes
 * was accepted before, under any listed data key. */
enum err db_open_data_seen(struct db *db, const struct tok_hashes *hash,
    bool *seen) WARN_UNUSED;

/* What an accepted piece of open data (or a phone code) changes. */
struct db_open_data {
	long long account_id;           /* whose token sent it */
	const unsigned char *hash;      /* keyed hash of the blob, or NULL (phone code) */
	/* Profile fields: NULL (or gender -1) leaves a field as it is. */
	const char *nickname, *avatar_url, *country, *province, *city, *language;
	int gender;
	const char *unionid;            /* links the account, when not NULL or empty */
	/* Phone: stored when phone is not NULL. */
	const char *phone, *pure_phone, *country_code;
	const char *request_id;
};

/*
 * db_open_data_store: in one transaction, link in->unionid when there is
 * one (login's rules: take it, merge with its holder, or refuse a
 * different one, audited), record in->hash (a replay is
 * ERR_INVALID_REQUEST and changes nothing) and store the profile or phone
 * fields on the account's user. Fills out (user_id: the account's
 * user, the survivor after a merge; merged_from). Returns OK,
 * ERR_INVALID_REQUEST (replay), ERR_NOT_FOUND (no such account),
 * ERR_UNIONID_CONFLICT or a database error.
 */
enum err db_open_data_store(struct db *db, const struct db_open_data *in,
    struct db_ident *out) WARN_UNUSED;

/* The app access token as wechat_tokens holds it. */
struct db_wxtoken {
	char token[DB_TOKEN_MAX];       /* wipe after use */
	long left;                      /* seconds until it expires, <= 0 when it has */
	long age;                       /* seconds since it was fetched */
	long forced_age;                /* seconds since a force_refresh, -1 never */
};

/* db_wxtoken_get: appid's stored token. ERR_NOT_FOUND when there is none. */
enum err db_wxtoken_get(struct db *db, const char *appid, struct db_wxtoken *out) WARN_UNUSED;

/*
 * db_wxtoken_trylock / db_wxtoken_unlock: the advisory lock (session level,
 * on a key derived from appid) that lets one worker of all hosts refresh
 * appid's token at a time. trylock never waits: *locked says whether it
 * was taken; unlock must follow every lock taken.
 */
enum err db_wxtoken_trylock(struct db *db, const char *appid, bool *locked) WARN_UNUSED;
void db_wxtoken_unlock(struct db *db, const char *appid);

/*
 * db_wxtoken_put: store token for appid, expiring expires_in seconds from
 * now, only if that is later than what is stored (an older token never
 * overwrites a newer one); forced records that it came from a
 * force_refresh. *stored says whether it was written.
 */
enum err db_wxtoken_put(struct db *db, const char *appid, const char *token,
    long expires_in, bool forced, bool *stored) WARN_UNUSED;

/*
 * db_wxtoken_expire: mark appid's stored token expired, in one statement,
 * only if it is still token (the one WeChat just refused): a newer token
 * another worker stored meanwhile is left alone.
 */
enum err db_wxtoken_expire(struct db *db, const char *appid, const char *token) WARN_UNUSED;

#endif
