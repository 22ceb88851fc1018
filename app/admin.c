/*
 * admin.c - the admin API: what an order service needs to follow merges,
 * and what an operator needs to find and cut off a user.
 */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>
#include <sodium.h>

#include "admin.h"
#include "db.h"
#include "log.h"
#include "metrics.h"
#include "worker.h"

#define FEED_LIMIT_MAX 1000
#define FEED_LIMIT_DEFAULT 100

enum err
admin_check(struct worker *w, struct req *r)
{
	const char *key = http_bearer(r), *want = w->conf->admin_key;
	unsigned char a[crypto_generichash_BYTES], b[crypto_generichash_BYTES];
	enum metrics_admin why;
	enum err rc;

	if (key == NULL) {
		rc = ERR_INVALID_TOKEN;
	} else if (want[0] == '\0') {
		rc = ERR_FORBIDDEN;
	} else {
		/* Hash both sides so the comparison is constant-time whatever
		 * the lengths. */
		crypto_generichash(a, sizeof(a), (const unsigned char *)key, strlen(key), NULL, 0);
		crypto_generichash(b, sizeof(b), (const unsigned char *)want, strlen(want), NULL, 0);
		rc = sodium_memcmp(a, b, sizeof(a)) == 0 ? OK : ERR_FORBIDDEN;
		sodium_memzero(b, sizeof(b));
	}
	if (rc != OK) {
		why = key == NULL ? MA_NO_KEY : want[0] == '\0' ? MA_DISABLED : MA_WRONG_KEY;
		log_warnx("admin: %s refused (%s)", r->path, metrics_admin_reason(why));
		metrics_admin_denied(why);
		db_admin_denied(w->db, r->remote_addr, metrics_admin_reason(why), r->id);
	}
	return rc;
}

/* send_json_text: parse JSON the database built and send it. */
static enum err
send_json_text(struct req *r, const char *text)
{
	struct json_object *o = json_tokener_parse(text);

	if (o == NULL)
		return ERR_INTERNAL;
	http_send_json(r, 200, o);
	json_object_put(o);
	return OK;
}

/* query_num: an optional non-negative number from the query string. */
static int
query_num(const struct req *r, const char *name, long long dflt, long long max,
    long long *out)
{
	char buf[24], *end;
	int found = http_query(r, name, buf, sizeof(buf));

	*out = dflt;
	if (found == 0)
		return 0;
	if (found < 0 || buf[0] < '0' || buf[0] > '9')
		return -1;
	/* A number that overflows is refused, never clamped. */
	errno = 0;
	*out = strtoll(buf, &end, 10);
	return *end == '\0' && errno == 0 && *out <= max ? 0 : -1;
}

enum err
admin_merges(struct worker *w, struct req *r, const struct tok_claims *who)
{
	struct json_object *o = NULL, *list;
	long long after, limit;
	char *text = NULL;
	size_t n;
	enum err rc;

	(void)who;
	if (query_num(r, "after", 0, 0x7fffffffffffffffLL, &after) == -1 ||
	    query_num(r, "limit", FEED_LIMIT_DEFAULT, FEED_LIMIT_MAX, &limit) == -1 ||
	    limit == 0) {
		http_send_error(r, ERR_INVALID_REQUEST,
		    "after must be a merge id and limit a number from 1 to 1000");
		return OK;
	}
	if ((rc = db_merges_feed(w->db, after, (long)limit, &text)) != OK)
		goto out;
	rc = ERR_INTERNAL;
	if ((list = json_tokener_parse(text)) == NULL || (o = json_object_new_object()) == NULL) {
		json_object_put(list);
		goto out;
	}
	json_object_object_add(o, "merges", list);
	/* The cursor to ask with next: the last id seen, or the same one. */
	n = json_object_array_length(list);
	json_object_object_add(o, "next_after", n > 0 ? json_object_get(json_object_object_get(
	    json_object_array_get_idx(list, n - 1), "id")) : json_object_new_int64(after));
	http_send_json(r, 200, o);
	rc = OK;
out:
	json_object_put(o);
	free(text);
	return rc;
}

static int
uuid_ok(const char *s)
{
	size_t i;

	if (strlen(s) != 36)
		return 0;
	for (i = 0; i < 36; i++) {
		if (i == 8 || i == 13 || i == 18 || i == 23) {
			if (s[i] != '-')
				return 0;
		} else if (!isxdigit((unsigned char)s[i])) {
			return 0;
		}
	}
	return 1;
}

enum err
admin_users(struct worker *w, struct req *r, const struct tok_claims *who)
{
	char id[64], appid[APPID_MAX + 1], openid[OPENID_MAX + 1], unionid[UNIONID_MAX + 1];
	int has_id, has_app, has_open, has_uni;
	char *text = NULL;
	enum err rc;

	(void)who;
	has_id = http_query(r, "id", id, sizeof(id));
	has_app = http_query(r, "appid", appid, sizeof(appid));
	has_open = http_query(r, "openid", openid, sizeof(openid));
	has_uni = http_query(r, "unionid", unionid, sizeof(unionid));
	if (has_id < 0 || has_app < 0 || has_open < 0 || has_uni < 0 ||
	    has_id + (has_app && has_open) + has_uni != 1 || has_app != has_open ||
	    (has_id && !uuid_ok(id))) {
		http_send_error(r, ERR_INVALID_REQUEST,
		    "give exactly one of id (a user id), appid and openid, or unionid");
		return OK;
	}
	if (has_id)
		rc = db_user_lookup(w->db, DB_USER_BY_ID, id, NULL, &text);
	else if (has_app)
		rc = db_user_lookup(w->db, DB_USER_BY_ACCOUNT, appid, openid, &text);
	else
		rc = db_user_lookup(w->db, DB_USER_BY_UNIONID, unionid, NULL, &text);
	if (rc == ERR_NOT_FOUND)
		http_send_error(r, ERR_NOT_FOUND, "no such user");
	else if (rc == OK)
		rc = send_json_text(r, text);
	free(text);
	return rc == ERR_NOT_FOUND ? OK : rc;
}

enum err
admin_revoke(struct worker *w, struct req *r, const struct tok_claims *who)
{
	struct json_object *o;
	long count = 0;
	enum err rc;

	(void)who;
	if (!uuid_ok(r->param)) {
		http_send_error(r, ERR_NOT_FOUND, "no such user");
		return OK;
	}
	if ((rc = db_admin_revoke(w->db, r->param, r->id, &count)) != OK)
		return rc;
	/* uuid_ok checked: 36 characters fit. */
	snprintf(r->user, sizeof(r->user), "%.36s", r->param);
	if ((o = json_object_new_object()) == NULL)
		return ERR_INTERNAL;
	json_object_object_add(o, "revoked", json_object_new_int64(count));
	http_send_json(r, 200, o);
	json_object_put(o);
	return OK;
}
