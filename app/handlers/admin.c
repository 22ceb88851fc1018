/*
 * admin.c - the admin API: what an order service needs to follow merges,
 * and what an operator needs to find and cut off a user. The gate has
 * checked the admin key and the query parameters (the tables below).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "admin.h"
#include "db.h"

#define FEED_LIMIT_MAX 1000
#define FEED_LIMIT_DEFAULT 100

enum { FEED_AFTER, FEED_LIMIT };
const struct field admin_merges_fields[] = {
	[FEED_AFTER] = {"after", FT_INT, 0, 0, 999999999999999999LL},
	[FEED_LIMIT] = {"limit", FT_INT, 0, 1, FEED_LIMIT_MAX},
	FIELDS_END
};

enum { FIND_ID, FIND_APPID, FIND_OPENID, FIND_UNIONID };
const struct field admin_users_fields[] = {
	[FIND_ID] = {"id", FT_STRING, FF_UUID, 36, 36},
	[FIND_APPID] = {"appid", FT_STRING, FF_TOKEN, 1, APPID_MAX},
	[FIND_OPENID] = {"openid", FT_STRING, FF_TOKEN, 1, OPENID_MAX},
	[FIND_UNIONID] = {"unionid", FT_STRING, FF_TOKEN, 1, UNIONID_MAX},
	FIELDS_END
};

/* The user of /v1/admin/users/{id}/revoke: "no such user" unless an id. */
const struct field admin_user_param = {"user", FT_STRING, FF_UUID, 36, 36};


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

/* feed: one page of a feed ({name: [...], "next_after"}) from get. */
static enum err
feed(struct svc *s, struct req *r, const char *name,
    enum err (*get)(struct db *, long long, long, char **))
{
	struct json_object *o = NULL, *list;
	long long after = r->in[FEED_AFTER].set ? r->in[FEED_AFTER].n : 0;
	long limit = r->in[FEED_LIMIT].set ? (long)r->in[FEED_LIMIT].n : FEED_LIMIT_DEFAULT;
	char *text = NULL;
	size_t n;
	enum err rc;

	if ((rc = get(s->db, after, limit, &text)) != OK)
		goto out;
	rc = ERR_INTERNAL;
	if ((list = json_tokener_parse(text)) == NULL || (o = json_object_new_object()) == NULL) {
		json_object_put(list);
		goto out;
	}
	json_object_object_add(o, name, list);
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

enum err
admin_merges(struct svc *s, struct req *r, const struct tok_claims *who)
{
	(void)who;
	return feed(s, r, "merges", db_merges_feed);
}

enum err
admin_events(struct svc *s, struct req *r, const struct tok_claims *who)
{
	(void)who;
	return feed(s, r, "events", db_events_feed);
}

enum err
admin_users(struct svc *s, struct req *r, const struct tok_claims *who)
{
	const struct fval *in = r->in;
	char *text = NULL;
	enum err rc;

	(void)who;
	if (in[FIND_ID].set + in[FIND_APPID].set + in[FIND_UNIONID].set != 1 ||
	    in[FIND_APPID].set != in[FIND_OPENID].set)
		return http_fail(r, ERR_INVALID_REQUEST,
		    "give exactly one of id (a user id), appid and openid, or unionid");
	if (in[FIND_ID].set)
		rc = db_user_lookup(s->db, DB_USER_BY_ID, in[FIND_ID].s, NULL, &text);
	else if (in[FIND_APPID].set)
		rc = db_user_lookup(s->db, DB_USER_BY_ACCOUNT, in[FIND_APPID].s,
		    in[FIND_OPENID].s, &text);
	else
		rc = db_user_lookup(s->db, DB_USER_BY_UNIONID, in[FIND_UNIONID].s, NULL, &text);
	if (rc == ERR_NOT_FOUND)
		rc = http_fail(r, ERR_NOT_FOUND, "no such user");
	else if (rc == OK)
		rc = send_json_text(r, text);
	free(text);
	return rc;
}

enum err
admin_delete(struct svc *s, struct req *r, const struct tok_claims *who)
{
	struct db_delete in;
	struct json_object *o;
	enum err rc;

	(void)who;
	memset(&in, 0, sizeof(in));
	in.user_id = r->param;
	in.request_id = r->id;
	if ((rc = db_delete_user(s->db, &in)) == ERR_NOT_FOUND)
		return http_fail(r, rc, "no such live user (merged users are deleted by "
		    "the id they live on as)");
	if (rc != OK)
		return rc;
	snprintf(r->user, sizeof(r->user), "%.36s", r->param);
	if ((o = json_object_new_object()) == NULL)
		return ERR_INTERNAL;
	json_object_object_add(o, "deleted", json_object_new_string(r->param));
	http_send_json(r, 200, o);
	json_object_put(o);
	return OK;
}

enum err
admin_revoke(struct svc *s, struct req *r, const struct tok_claims *who)
{
	struct json_object *o;
	long count = 0;
	enum err rc;

	(void)who;
	if ((rc = db_admin_revoke(s->db, r->param, r->id, &count)) != OK)
		return rc;
	/* The gate checked an id: 36 characters fit. */
	snprintf(r->user, sizeof(r->user), "%.36s", r->param);
	if ((o = json_object_new_object()) == NULL)
		return ERR_INTERNAL;
	json_object_object_add(o, "revoked", json_object_new_int64(count));
	http_send_json(r, 200, o);
	json_object_put(o);
	return OK;
}

static enum err
disable(struct svc *s, struct req *r, bool on)
{
	char body[64];
	long count = 0;
	enum err rc;
	int n;

	if ((rc = db_admin_disable(s->db, r->param, on, r->id, &count)) == ERR_NOT_FOUND)
		return http_fail(r, rc, "no such user (or deleted, or merged into another)");
	if (rc != OK)
		return rc;
	snprintf(r->user, sizeof(r->user), "%.36s", r->param);
	n = snprintf(body, sizeof(body), "{\"disabled\":%s,\"revoked\":%ld}",
	    on ? "true" : "false", count);
	http_send_json_text(r, 200, body, (size_t)n);
	return OK;
}

enum err
admin_disable(struct svc *s, struct req *r, const struct tok_claims *who)
{
	(void)who;
	return disable(s, r, true);
}

enum err
admin_enable(struct svc *s, struct req *r, const struct tok_claims *who)
{
	(void)who;
	return disable(s, r, false);
}
