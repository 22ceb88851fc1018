/*
 * health.c - liveness and readiness.
 */
#include <json-c/json.h>

#include "db.h"
#include "health.h"

static enum err
status(struct req *r, const char *s)
{
	struct json_object *o = json_object_new_object();

	if (o == NULL)
		return ERR_INTERNAL;
	json_object_object_add(o, "status", json_object_new_string(s));
	http_send_json(r, 200, o);
	json_object_put(o);
	return OK;
}

enum err
health_live(struct svc *s, struct req *r, const struct tok_claims *who)
{
	(void)s;
	(void)who;
	return status(r, "ok");
}

enum err
health_ready(struct svc *s, struct req *r, const struct tok_claims *who)
{
	enum err rc;

	(void)who;
	if ((rc = db_ping(s->db)) != OK)
		return ERR_DB_UNAVAILABLE;
	return status(r, "ready");
}
