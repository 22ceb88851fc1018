/*
 * db_profile.c - the units of work of profiles and open data: reading and
 * setting a user's profile, the session_key a decrypt needs, the replay
 * record of accepted encryptedData, storing decrypted profiles and phone
 * numbers.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libpq-fe.h>
#include <sodium.h>

#include "db.h"
#include "dbi.h"
#include "log.h"


enum profile_stmt {
	P_USER_JSON,
	P_USER_JSON_MERGED,
	P_USER_SET,
	P_ACC_LOCK,
	P_USER_SET_DATA,
	P_USER_SET_PHONE,
	P_SEEN_GET,
	P_SEEN_ADD,
	P_AVATAR_SET,
	P_AVATAR_GET,
	P__MAX
};

const struct db_stmt db_profile_stmts[] = {
	/* The whole answer of /v1/userinfo, built where the rows are: the user
	 * u and its accounts, each with its app's type from $2 (an object
	 * appid -> type; null for an app no longer configured). The token check
	 * has already followed the merges it knows, so the user is nearly
	 * always live: P_USER_JSON reads it by id; only when it is not does
	 * P_USER_JSON_MERGED follow users.merged_into. */
#define PROFILE_ANSWER \
	" SELECT json_build_object('user', json_build_object('id', u.id," \
	" 'unionid', u.unionid," DB_PROFILE(DB_SHOW_) " 'phone_number', u.phone," \
	" 'pure_phone_number', u.pure_phone, 'country_code', u.country_code," \
	" 'created_at', " DB_TIME("u.created_at") ", 'updated_at', " DB_TIME("u.updated_at") ")," \
	" 'accounts', (SELECT coalesce(json_agg(json_build_object('appid', a.appid," \
	" 'openid', a.openid, 'unionid', a.unionid," \
	" 'first_login', " DB_TIME("a.first_login") ", 'last_login', " DB_TIME("a.last_login") "," \
	" 'type', $2::jsonb ->> a.appid) ORDER BY a.id), '[]'::json)" \
	" FROM accounts a WHERE a.user_id = u.id))::text"
	[P_USER_JSON] = {"profile_user_json", PROFILE_ANSWER
	    " FROM users u WHERE u.id = $1 AND u.merged_into IS NULL"},
	[P_USER_JSON_MERGED] = {"profile_user_json_merged", DB_LIVE_USER PROFILE_ANSWER
	    " FROM r JOIN users u ON u.id = r.id WHERE r.next IS NULL"},
	[P_USER_SET] = {"profile_user_set", DB_LIVE_USER
	    " UPDATE users u SET nickname = coalesce($2, u.nickname),"
	    " avatar_url = coalesce($3, u.avatar_url), updated_at = now()"
	    " FROM r WHERE u.id = r.id AND r.next IS NULL AND u.deleted_at IS NULL RETURNING u.id"},
	/* The account and its user, both locked, the user alive: a deletion
	 * waits for this transaction, or this one finds nothing after it. */
	[P_ACC_LOCK] = {"profile_acc_lock",
	    "SELECT a.user_id, coalesce(u.unionid, ''), a.appid, a.openid"
	    " FROM accounts a JOIN users u ON u.id = a.user_id"
	    " WHERE a.id = $1 AND u.deleted_at IS NULL FOR UPDATE OF a FOR NO KEY UPDATE OF u"},
	/* What the person sent, decrypted, replaces what was stored. */
	[P_USER_SET_DATA] = {"profile_user_set_data",
	    "UPDATE users SET nickname = coalesce($2, nickname),"
	    " avatar_url = coalesce($3, avatar_url), gender = coalesce($4::smallint, gender),"
	    " country = coalesce($5, country), province = coalesce($6, province),"
	    " city = coalesce($7, city), language = coalesce($8, language),"
	    " updated_at = now() WHERE id = $1"},
	[P_USER_SET_PHONE] = {"profile_user_set_phone",
	    "UPDATE users SET phone = $2, pure_phone = $3, country_code = $4,"
	    " updated_at = now() WHERE id = $1"},
	[P_SEEN_GET] = {"profile_seen_get",
	    "SELECT 1 FROM open_data_seen WHERE hash = $1"},
	/* The primary key decides between two concurrent copies of a blob. */
	[P_SEEN_ADD] = {"profile_seen_add",
	    "INSERT INTO open_data_seen (hash) VALUES ($1) ON CONFLICT DO NOTHING RETURNING 1"},
	/* The live user's avatar replaced in one statement: the old one goes,
	 * the new one is stored, avatar_url ($4 + its id) points at it. */
	[P_AVATAR_SET] = {"profile_avatar_set", DB_LIVE_USER ","
	    " lu AS (SELECT x.id FROM users x JOIN r ON x.id = r.id"
	    " WHERE r.next IS NULL AND x.deleted_at IS NULL FOR NO KEY UPDATE OF x),"
	    " d AS (DELETE FROM avatars WHERE user_id IN (SELECT id FROM lu)),"
	    " i AS (INSERT INTO avatars (user_id, content_type, data)"
	    " SELECT id, $2, $3 FROM lu RETURNING id)"
	    " UPDATE users SET avatar_url = $4 || (SELECT id FROM i)::text, updated_at = now()"
	    " WHERE id IN (SELECT id FROM lu) RETURNING id"},
	[P_AVATAR_GET] = {"profile_avatar_get",
	    "SELECT content_type, encode(data, 'hex') FROM avatars WHERE id = $1"},
	[P__MAX] = {NULL, NULL}
};

static enum err
run(struct db *db, enum profile_stmt s, const struct db_params *p, PGresult **out)
{
	return db_exec(db, &db_profile_stmts[s], p, out);
}

static enum err
run_row(struct db *db, enum profile_stmt s, const struct db_params *p, PGresult **out)
{
	return db_exec_row(db, &db_profile_stmts[s], p, out);
}

/* strcopy: a malloc'd copy of s, or NULL. */
static char *
strcopy(const char *s)
{
	size_t n = strlen(s) + 1;
	char *d = malloc(n);

	if (d != NULL)
		memcpy(d, s, n);
	return d;
}

/* ---- profile ---- */

enum err
db_profile_get(struct db *db, const char *user_id, const char *types, char **answer,
    bool *merged)
{
	struct db_params p = {0};
	PGresult *res = NULL;
	enum err rc;

	*answer = NULL;
	if (merged != NULL)
		*merged = false;
	if ((rc = db_connect(db)) != OK)
		return rc;
	db_p_text(&p, user_id);
	db_p_text(&p, types);
	if ((rc = run(db, P_USER_JSON, &p, &res)) != OK)
		goto out;
	if (PQntuples(res) != 1) {
		PQclear(res);
		res = NULL;
		if ((rc = run_row(db, P_USER_JSON_MERGED, &p, &res)) != OK)
			goto out;
		if (merged != NULL)
			*merged = true;
	}
	if ((*answer = strcopy(PQgetvalue(res, 0, 0))) == NULL)
		rc = ERR_INTERNAL;
out:
	PQclear(res);
	return rc;
}

enum err
db_profile_set(struct db *db, const char *user_id, const char *nickname,
    const char *avatar_url)
{
	struct db_params p = {0};
	PGresult *res = NULL;
	enum err rc;

	if ((rc = db_connect(db)) != OK)
		return rc;
	db_p_text(&p, user_id);
	db_p_text(&p, nickname);
	db_p_text(&p, avatar_url);
	/* Nothing to set: the user was deleted while this request ran. */
	if ((rc = run_row(db, P_USER_SET, &p, &res)) == ERR_NOT_FOUND)
		rc = ERR_SESSION_REVOKED;
	PQclear(res);
	return rc;
}

enum err
db_open_data_seen(struct db *db, const struct tok_hashes *hash, bool *seen)
{
	struct db_params p;
	PGresult *res = NULL;
	enum err rc;
	size_t i;

	*seen = false;
	if ((rc = db_connect(db)) != OK)
		return rc;
	/* One look-up a listed data key: one, or two while rotating. */
	for (i = 0; i < hash->n && !*seen && rc == OK; i++) {
		memset(&p, 0, sizeof(p));
		db_p_bin(&p, hash->h[i], TOK_HASHBYTES);
		if ((rc = run(db, P_SEEN_GET, &p, &res)) == OK)
			*seen = PQntuples(res) > 0;
		PQclear(res);
		res = NULL;
	}
	return rc;
}

/*
 * acc_lock: lock account_id's row for the rest of the transaction (its user
 * cannot move away in a merge meanwhile) and fill out with who it is.
 */
static enum err
acc_lock(struct db *db, long long account_id, struct db_ident *out)
{
	struct db_params p = {0};
	PGresult *res = NULL;
	enum err rc;

	memset(out, 0, sizeof(*out));
	out->account_id = account_id;
	db_p_int(&p, account_id);
	if ((rc = run_row(db, P_ACC_LOCK, &p, &res)) != OK) {
		if (rc == ERR_NOT_FOUND)
			rc = ERR_SESSION_REVOKED;       /* deleted meanwhile */
		goto out;
	}
	db_copy(out->user_id, sizeof(out->user_id), PQgetvalue(res, 0, 0));
	db_copy(out->unionid, sizeof(out->unionid), PQgetvalue(res, 0, 1));
	db_copy(out->appid, sizeof(out->appid), PQgetvalue(res, 0, 2));
	db_copy(out->openid, sizeof(out->openid), PQgetvalue(res, 0, 3));
out:
	PQclear(res);
	return rc;
}

/* ---- storing open data ---- */

struct store_ctx {
	const struct db_open_data *in;
	struct db_ident *out;
	struct db_ident linked;
};

static enum err
store_txn(struct db *db, void *arg)
{
	struct store_ctx *x = arg;
	const struct db_open_data *in = x->in;
	struct db_params p = {0};
	PGresult *res = NULL;
	enum err rc;

	/* The unionid links first, by login's rules, in this same
	 * transaction: a conflict or a replay leaves nothing behind. */
	memset(&x->linked, 0, sizeof(x->linked));
	if (in->unionid != NULL && *in->unionid != '\0' &&
	    (rc = db_link_unionid_tx(db, in->account_id, in->unionid,
	    in->request_id, &x->linked)) != OK)
		goto out;
	if ((rc = acc_lock(db, in->account_id, x->out)) != OK)
		goto out;
	db_copy(x->out->merged_from, sizeof(x->out->merged_from), x->linked.merged_from);
	if (in->hash != NULL) {
		db_p_bin(&p, in->hash, TOK_HASHBYTES);
		if ((rc = run(db, P_SEEN_ADD, &p, &res)) != OK)
			goto out;
		if (PQntuples(res) == 0) {
			rc = ERR_INVALID_REQUEST;       /* a replay: roll back */
			goto out;
		}
		PQclear(res);
		res = NULL;
	}
	if (in->nickname != NULL || in->avatar_url != NULL || in->gender >= 0 ||
	    in->country != NULL || in->province != NULL || in->city != NULL ||
	    in->language != NULL) {
		memset(&p, 0, sizeof(p));
		db_p_text(&p, x->out->user_id);
		db_p_text(&p, in->nickname);
		db_p_text(&p, in->avatar_url);
		if (in->gender >= 0)
			db_p_int(&p, in->gender);
		else
			db_p_text(&p, NULL);
		db_p_text(&p, in->country);
		db_p_text(&p, in->province);
		db_p_text(&p, in->city);
		db_p_text(&p, in->language);
		if ((rc = run(db, P_USER_SET_DATA, &p, &res)) != OK)
			goto out;
		PQclear(res);
		res = NULL;
	}
	if (in->phone != NULL) {
		memset(&p, 0, sizeof(p));
		db_p_text(&p, x->out->user_id);
		db_p_text(&p, in->phone);
		db_p_text(&p, in->pure_phone);
		db_p_text(&p, in->country_code);
		if ((rc = run(db, P_USER_SET_PHONE, &p, &res)) != OK)
			goto out;
		/* By a phone code: a call WeChat bills, counted for the console. */
		if (in->hash == NULL)
			rc = db_audit(db, "phone_code", x->out->user_id, in->account_id, NULL,
			    in->request_id, NULL, NULL);
	}
out:
	PQclear(res);
	return rc;
}

enum err
db_open_data_store(struct db *db, const struct db_open_data *in, struct db_ident *out)
{
	struct store_ctx x;
	enum err rc;

	memset(&x, 0, sizeof(x));
	x.in = in;
	x.out = out;
	rc = db_txn(db, store_txn, &x);
	if (rc == ERR_UNIONID_CONFLICT)
		db_conflict_audit(db, &x.linked, in->request_id, NULL);
	return rc;
}

enum err
db_avatar_set(struct db *db, const char *user_id, const char *content_type,
    const unsigned char *data, size_t len, const char *url_prefix)
{
	struct db_params p = {0};
	PGresult *res = NULL;
	enum err rc;

	if ((rc = db_connect(db)) != OK)
		return rc;
	db_p_text(&p, user_id);
	db_p_text(&p, content_type);
	db_p_bin(&p, data, len);
	db_p_text(&p, url_prefix);
	/* Nothing to set: the user was deleted while this request ran. */
	if ((rc = run_row(db, P_AVATAR_SET, &p, &res)) == ERR_NOT_FOUND)
		rc = ERR_SESSION_REVOKED;
	PQclear(res);
	return rc;
}

enum err
db_avatar_get(struct db *db, const char *id, char *content_type, size_t ctlen,
    unsigned char **data, size_t *len)
{
	struct db_params p = {0};
	PGresult *res = NULL;
	const char *hex;
	size_t n;
	enum err rc;

	*data = NULL;
	*len = 0;
	if ((rc = db_connect(db)) != OK)
		return rc;
	db_p_text(&p, id);
	if ((rc = run_row(db, P_AVATAR_GET, &p, &res)) != OK)
		goto out;
	db_copy(content_type, ctlen, PQgetvalue(res, 0, 0));
	hex = PQgetvalue(res, 0, 1);
	n = (size_t)PQgetlength(res, 0, 1) / 2;
	if ((*data = malloc(n > 0 ? n : 1)) == NULL ||
	    sodium_hex2bin(*data, n, hex, 2 * n, NULL, len, NULL) != 0) {
		rc = ERR_INTERNAL;
		goto out;
	}
out:
	PQclear(res);
	return rc;
}
