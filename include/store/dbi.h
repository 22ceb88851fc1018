/*
 * dbi.h - the database layer's internals, shared by db.c (connection,
 * execution, transactions) and the db_*.c files holding units of work.
 * Nothing outside app/db*.c includes it.
 */
#ifndef WXAUTH_DBI_H
#define WXAUTH_DBI_H

#include <stddef.h>
#include <libpq-fe.h>

#include "common.h"
#include "db.h"

/* A named statement; each db_*.c has a table of them ending in {NULL, NULL}. */
struct db_stmt {
	const char *name;
	const char *sql;
};

/*
 * DB_TIME: a timestamptz column as the one format times leave the service
 * in: RFC 3339, UTC, whole seconds, "Z" (2026-12-02T18:53:59Z); NULL stays
 * NULL.
 */
#define DB_TIME(t) "to_char(" t " AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"')"

/*
 * DB_MERGE_LOCK: the CTE "lk" the statement that records a merge takes
 * first: a transaction-scoped advisory lock, so that merge ids are handed
 * out in commit order and GET /v1/merges, paged by merge id, never skips
 * one. That statement comes last in db_merge, so the lock covers the rest
 * of the transaction and no more; an undo hands out no id and takes none. Events need no lock: the feed's reader gives them their
 * positions (db/014_event_order.sql). An event's NOTIFY, wxauth_event, is
 * a hint with no payload.
 */
#define DB_MERGE_LOCK "lk AS (SELECT pg_advisory_xact_lock(20261202011))"

/*
 * DB_REVOKED_EVENT(user, reason): after a CTE "r" of the sessions just
 * revoked (RETURNING id), the CTEs that write their sessions_revoked
 * event (none when r is empty), and the select list that tells every
 * worker: the count of sessions revoked, then the event's NOTIFY.
 */
#define DB_REVOKED_EVENT(user, reason) \
	", one AS (SELECT 1 FROM r LIMIT 1)," \
	" e AS (INSERT INTO events (type, user_id, detail) SELECT 'sessions_revoked', " user "," \
	" jsonb_build_object('reason', " reason ", 'sessions'," \
	" (SELECT jsonb_agg(id ORDER BY id) FROM r)) FROM one RETURNING id)" \
	" SELECT (SELECT count(*) FROM r)," \
	" (SELECT count(pg_notify('wxauth_event', '')) FROM e)"

/*
 * The profile's columns, named once. DB_PROFILE(X) lists those a person's
 * WeChat data fills, in the order answers show them; DB_PHONE(X) the phone
 * number's three, which move together, keyed on phone. The statements that
 * erase (deletion), fill and record (merge), empty again (unmerge) or
 * answer (userinfo) the profile are built from these lists, so a column
 * added here is erased, merged and shown everywhere at once. Each piece
 * ends with a comma.
 */
#define DB_PROFILE(X) X(nickname) X(avatar_url) X(gender) X(country) X(province) \
	X(city) X(language)
#define DB_PHONE(X) X(phone) X(pure_phone) X(country_code)

/* c = NULL: erased. */
#define DB_ERASE_(c) " " #c " = NULL,"
#define DB_PROFILE_ERASE DB_PROFILE(DB_ERASE_) DB_PHONE(DB_ERASE_)
/* The name of a column of s (survivor) that l (loser) fills, or NULL. */
#define DB_FILLS_(c) " CASE WHEN s." #c " IS NULL AND l." #c " IS NOT NULL THEN '" #c "' END,"
/* s's column, filled from l where empty; the phone as one. */
#define DB_FILL_(c) " " #c " = coalesce(s." #c ", l." #c "),"
#define DB_PHONE_FILL_(c) " " #c " = CASE WHEN s.phone IS NULL THEN l." #c " ELSE s." #c " END,"
/* s's column emptied again if the merge filled it (named in f.n) and it
 * still holds what l gave; the phone as one. */
#define DB_UNFILL_(c) " " #c " = CASE WHEN '" #c "' = ANY(f.n) AND s." #c \
	" IS NOT DISTINCT FROM l." #c " THEN NULL ELSE s." #c " END,"
#define DB_PHONE_UNFILL_(c) " " #c " = CASE WHEN 'phone' = ANY(f.n) AND s.phone" \
	" IS NOT DISTINCT FROM l.phone THEN NULL ELSE s." #c " END,"
/* 'c', u.c in an answer's json_build_object. */
#define DB_SHOW_(c) " '" #c "', u." #c ","

/* DB_ACCOUNTS_OF(ids): a JSON array of {appid, openid} of the accounts
 * whose id is in the set ids (a SELECT of ids). */
#define DB_ACCOUNTS_OF(ids) \
	"(SELECT coalesce(jsonb_agg(jsonb_build_object('appid', x.appid, 'openid', x.openid)" \
	" ORDER BY x.id), '[]') FROM accounts x WHERE x.id IN (" ids "))"

/*
 * DB_LIVE_USER: the start of a statement whose CTE r follows user $1's
 * merges; the row with r.next IS NULL is the live user it lives on as.
 */
#define DB_LIVE_USER \
	"WITH RECURSIVE r (id, next, depth) AS (" \
	" SELECT id, merged_into, 0 FROM users WHERE id = $1" \
	" UNION ALL SELECT u.id, u.merged_into, r.depth + 1 FROM users u" \
	" JOIN r ON u.id = r.next WHERE r.depth < 32)"

/* db_session_open_for: inside a transaction, open a session for out's
 * account and user (open_session of db_session.c: the row, the code with
 * the sealed answer, the audit row). For another aggregate's login. */
enum err db_session_open_for(struct db *db, const struct db_login *in, struct db_ident *out);

extern const struct db_stmt db_session_stmts[];
extern const struct db_stmt db_merge_stmts[];
extern const struct db_stmt db_profile_stmts[];
extern const struct db_stmt db_admin_stmts[];
extern const struct db_stmt db_account_stmts[];
extern const struct db_stmt db_wxtoken_stmts[];
extern const struct db_stmt db_weblogin_stmts[];
extern const struct db_stmt db_scan_stmts[];
extern const struct db_stmt db_console_stmts[];

#define DB_PARAMS_MAX 16

/* Parameters of one statement: text, or binary for bytea. */
struct db_params {
	const char *v[DB_PARAMS_MAX];
	int len[DB_PARAMS_MAX];
	int fmt[DB_PARAMS_MAX];
	int n;
	char num[DB_PARAMS_MAX][24];    /* storage for numbers rendered as text */
};

/* Append a parameter: text (NULL or "" is SQL NULL), bytes, a number. */
void db_p_text(struct db_params *p, const char *s);
void db_p_bin(struct db_params *p, const unsigned char *b, size_t n);
void db_p_int(struct db_params *p, long long x);

/* db_copy: bounded copy of a result value (NULL copies as ""). */
void db_copy(char *dst, size_t dstlen, const char *src);

/*
 * db_exec: run statement s; on OK *out holds the result (caller PQclears).
 * Returns ERR_RETRY for unique violations, serialisation failures and
 * deadlocks, ERR_DB_BUSY when lock_timeout expired,
 * ERR_DB_UNAVAILABLE when the connection is lost, ERR_INTERNAL otherwise.
 * db_exec_row also requires exactly one row (else ERR_NOT_FOUND).
 */
enum err db_exec(struct db *db, const struct db_stmt *s, const struct db_params *p,
    PGresult **out) WARN_UNUSED;
enum err db_exec_row(struct db *db, const struct db_stmt *s, const struct db_params *p,
    PGresult **out) WARN_UNUSED;

/* db_exec_text: connect if need be, run s (exactly one row) and copy its
 * first value into *text (malloc'd, the caller frees it). */
enum err db_exec_text(struct db *db, const struct db_stmt *s, const struct db_params *p,
    char **text) WARN_UNUSED;

/*
 * db_txn: run fn in a transaction, again on ERR_RETRY, at most a few
 * times. fn must leave nothing behind in the caller's state that a second
 * run would not overwrite.
 */
enum err db_txn(struct db *db, enum err (*fn)(struct db *, void *), void *arg) WARN_UNUSED;

/*
 * db_hold / db_release: the connection holds a session-level advisory
 * lock, key; db_release lets it go (nothing when it is not held, or went
 * with a lost connection). db_txn_release is db_txn that, when the
 * transaction commits, lets it go with the COMMIT, in the same round trip.
 */
void db_hold(struct db *db, long long key);

/*
 * db_exec_last: in a transaction, its last statement, sent with its COMMIT
 * (and the release, with db_txn_release): one round trip for both. The
 * statement must fail, not answer, for anything that is to roll the
 * transaction back: what it answers is committed. Outside one, db_exec.
 */
enum err db_exec_last(struct db *db, const struct db_stmt *s, const struct db_params *p,
    PGresult **out) WARN_UNUSED;

/*
 * db_hint_after: in a transaction, the userinfo cache's hint for user_id
 * (wxauth_profile) goes out after its COMMIT, in the same round trip, as a
 * statement of its own: a NOTIFY inside the transaction holds PostgreSQL's
 * lock on the notification queue through the commit's WAL flush, and so
 * queues every such commit behind the last one. Only for changes whose
 * trigger leaves the hint to the caller (wxauth.hint_after, db/016).
 */
void db_hint_after(struct db *db, const char *user_id);

/* The SQLSTATE a statement raises for a user who is disabled. */
#define DB_STATE_DISABLED "WXA01"
void db_release(struct db *db);
enum err db_txn_release(struct db *db, enum err (*fn)(struct db *, void *), void *arg,
    bool release) WARN_UNUSED;

/* db_audit: one audit_log row (detail: JSON text or NULL). */
enum err db_audit(struct db *db, const char *event, const char *user_id,
    long long account_id, const char *session_id, const char *request_id,
    const char *ip, const char *detail);

/*
 * db_merge: join users a and b inside the caller's transaction (see
 * db_merge.c). survivor and loser receive the two ids (UUID_STR bytes).
 */
enum err db_merge(struct db *db, const char *a, const char *b, const char *reason,
    const char *request_id, char *survivor, char *loser) WARN_UNUSED;

/*
 * db_link_unionid_tx: inside the caller's transaction, account_id's owner
 * learned its unionid after login (decrypted open data): record it on the
 * account and link the user exactly as login does (take it, merge with its
 * holder, or ERR_UNIONID_CONFLICT). out describes the account and its
 * (surviving) user; out->merged_from names a user merged away.
 */
enum err db_link_unionid_tx(struct db *db, long long account_id,
    const char *unionid, const char *request_id, struct db_ident *out) WARN_UNUSED;

/* db_conflict_audit: log and audit a refused merge, after its transaction
 * rolled back. */
void db_conflict_audit(struct db *db, const struct db_ident *id,
    const char *request_id, const char *ip);

#endif
