/*
 * route.c - the route table and its lookup.
 */
#include <string.h>

#include "auth.h"
#include "health.h"
#include "route.h"

const struct route_def routes[R__MAX] = {
	[R_LOGIN] = {M_POST, "/v1/login", "login", RF_BODY, auth_login_fields, auth_login},
	[R_REFRESH] = {M_POST, "/v1/token/refresh", "refresh", RF_BODY,
	    auth_refresh_fields, auth_refresh},
	[R_LOGOUT] = {M_POST, "/v1/logout", "logout", RF_BEARER | RF_BODY |
	    RF_BODY_OPTIONAL, auth_logout_fields, auth_logout},
	[R_SESSION] = {M_GET, "/v1/session", "session", RF_BEARER, NULL, auth_session},
	[R_SESSION_HEAD] = {M_HEAD, "/v1/session", "session", RF_BEARER, NULL, auth_session},
	[R_HEALTHZ] = {M_GET, "/healthz", "healthz", 0, NULL, health_live},
	[R_READYZ] = {M_GET, "/readyz", "readyz", 0, NULL, health_ready},
};

enum err
route_find(enum method m, const char *path, enum route *out)
{
	enum err rc = ERR_NOT_FOUND;
	int i;

	for (i = 0; i < R__MAX; i++) {
		if (strcmp(routes[i].path, path) != 0)
			continue;
		if (routes[i].method == m) {
			*out = (enum route)i;
			return OK;
		}
		rc = ERR_METHOD_NOT_ALLOWED;
	}
	return rc;
}
