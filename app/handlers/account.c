/*
 * account.c - what a person can do with their own account besides logging
 * in: see and end their sessions, unlink an app account, delete it all.
 * The gate has checked the token and the path segment.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "account.h"
#include "db.h"

const struct field account_session_param = {"session", FT_STRING, FF_UUID, 36, 36};
const struct field account_appid_param = {"account", FT_STRING, FF_TOKEN, 1, APPID_MAX};

/* send_one: {"name": value} (value owned by the call). */
static enum err
send_one(struct req *r, const char *name, struct json_object *value)
{
	struct json_object *o = json_object_new_object();

	if (o == NULL || value == NULL) {
		json_object_put(o);
		json_object_put(value);
		return ERR_INTERNAL;
	}
	json_object_object_add(o, name, value);
	http_send_json(r, 200, o);
	json_object_put(o);
	return OK;
}

enum err
account_sessions(struct svc *s, struct req *r, const struct tok_claims *who)
{
	char *text = NULL;
	enum err rc;

	if ((rc = db_sessions_list(s->db, who->sub, who->sid, &text)) == OK)
		rc = send_one(r, "sessions", json_tokener_parse(text));
	free(text);
	return rc;
}

enum err
account_session_end(struct svc *s, struct req *r, const struct tok_claims *who)
{
	enum err rc;

	/* Someone else's session, or one already over: nothing to see. */
	if ((rc = db_session_end(s->db, who->sub, r->param, r->id)) == ERR_NOT_FOUND)
		return http_fail(r, rc, "no such session");
	if (rc != OK)
		return rc;
	return send_one(r, "revoked", json_object_new_int(1));
}

enum err
account_unlink(struct svc *s, struct req *r, const struct tok_claims *who)
{
	struct json_object *a;
	enum err rc;

	rc = db_unlink(s->db, who->sub, r->param, r->id);
	if (rc == ERR_NOT_FOUND)
		return http_fail(r, rc, "this user has no account of that app");
	if (rc != OK)
		return rc;
	if ((a = json_object_new_object()) == NULL)
		return ERR_INTERNAL;
	json_object_object_add(a, "appid", json_object_new_string(r->param));
	return send_one(r, "unlinked", a);
}

enum err
account_delete(struct svc *s, struct req *r, const struct tok_claims *who)
{
	struct db_delete in;
	enum err rc;

	memset(&in, 0, sizeof(in));
	in.user_id = who->sub;
	in.session_id = who->sid;
	in.max_login_age = s->conf->delete_login_max_age;
	in.request_id = r->id;
	/* Gone already (a second deletion racing the first): the token is over. */
	if ((rc = db_delete_user(s->db, &in)) == ERR_NOT_FOUND)
		rc = ERR_SESSION_REVOKED;
	if (rc != OK)
		return rc;
	return send_one(r, "deleted", json_object_new_string(who->sub));
}
