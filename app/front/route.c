/*
 * route.c - the route table and its lookup.
 */
#include <string.h>

#include "account.h"
#include "admin.h"
#include "auth.h"
#include "console.h"
#include "health.h"
#include "oauth.h"
#include "metrics.h"
#include "profile.h"
#include "route.h"
#include "scan.h"
#include "scrape.h"
#include "verify.h"

_Static_assert(R__MAX <= METRICS_ROUTES_MAX, "metrics has a row for every route");

const struct route_def routes[R__MAX] = {
	[R_LOGIN] = {M_POST, "/v1/login", "login", RF_BODY, auth_login_fields, NULL,
	    auth_login},
	[R_REFRESH] = {M_POST, "/v1/token/refresh", "refresh", RF_BODY,
	    auth_refresh_fields, NULL, auth_refresh},
	[R_LOGOUT] = {M_POST, "/v1/logout", "logout", RF_BEARER | RF_BODY |
	    RF_BODY_OPTIONAL, auth_logout_fields, NULL, auth_logout},
	[R_SESSION] = {M_GET, "/v1/session", "session", RF_BEARER | RF_GATE, NULL, NULL,
	    auth_session},
	[R_SESSION_HEAD] = {M_HEAD, "/v1/session", "session", RF_BEARER | RF_GATE, NULL,
	    NULL, auth_session},
	[R_USERINFO] = {M_GET, "/v1/userinfo", "userinfo", RF_BEARER, NULL, NULL,
	    profile_get},
	[R_USERINFO_PATCH] = {M_PATCH, "/v1/userinfo", "userinfo_update",
	    RF_BEARER | RF_BODY, profile_patch_fields, NULL, profile_patch},
	[R_USERINFO_DECRYPT] = {M_POST, "/v1/userinfo/decrypt", "userinfo_decrypt",
	    RF_BEARER | RF_BODY, profile_decrypt_fields, NULL, profile_decrypt},
	[R_PHONE] = {M_POST, "/v1/phone", "phone", RF_BEARER | RF_BODY,
	    profile_phone_fields, NULL, profile_phone},
	[R_LINK] = {M_POST, "/v1/link", "link", RF_BEARER | RF_BODY, auth_link_fields,
	    NULL, auth_link},
	[R_MERGES] = {M_GET, "/v1/merges", "merges", RF_ADMIN | RF_QUERY,
	    admin_merges_fields, NULL, admin_merges},
	[R_ADMIN_USERS] = {M_GET, "/v1/admin/users", "admin_users", RF_ADMIN | RF_QUERY,
	    admin_users_fields, NULL, admin_users},
	[R_ADMIN_REVOKE] = {M_POST, "/v1/admin/users/*/revoke", "admin_revoke", RF_ADMIN,
	    NULL, &admin_user_param, admin_revoke},
	[R_SESSIONS] = {M_GET, "/v1/sessions", "sessions", RF_BEARER, NULL, NULL,
	    account_sessions},
	[R_SESSION_END] = {M_DELETE, "/v1/sessions/*", "session_end", RF_BEARER, NULL,
	    &account_session_param, account_session_end},
	[R_UNLINK] = {M_DELETE, "/v1/accounts/*", "unlink", RF_BEARER, NULL,
	    &account_appid_param, account_unlink},
	[R_ACCOUNT_DELETE] = {M_DELETE, "/v1/account", "account_delete", RF_BEARER, NULL,
	    NULL, account_delete},
	[R_EVENTS] = {M_GET, "/v1/events", "events", RF_ADMIN | RF_QUERY,
	    admin_merges_fields, NULL, admin_events},
	[R_ADMIN_DELETE] = {M_POST, "/v1/admin/users/*/delete", "admin_delete", RF_ADMIN,
	    NULL, &admin_user_param, admin_delete},
	[R_OAUTH_AUTHORIZE] = {M_GET, "/v1/oauth/authorize", "oauth_authorize", RF_QUERY,
	    oauth_authorize_fields, NULL, oauth_authorize},
	[R_OAUTH_CALLBACK] = {M_GET, "/v1/oauth/callback", "oauth_callback", RF_QUERY,
	    oauth_callback_fields, NULL, oauth_callback},
	[R_HEALTHZ] = {M_GET, "/healthz", "healthz", RF_GATE, NULL, NULL, health_live},
	[R_READYZ] = {M_GET, "/readyz", "readyz", 0, NULL, NULL, health_ready},
	[R_METRICS] = {M_GET, "/metrics", "metrics", RF_GATE, NULL, NULL, scrape_serve},
	/* No path: only an Authorizer request reaches it (gate_pass). */
	[R_AUTHORIZER] = {M_OTHER, NULL, "authorizer", RF_BEARER | RF_GATE, NULL, NULL,
	    auth_authorizer},
	[R_KEYS] = {M_GET, "/v1/keys", "keys", RF_GATE, NULL, NULL, verify_keys},
	[R_REVOKED] = {M_GET, "/v1/revoked", "revoked", RF_QUERY, verify_revoked_fields, NULL,
	    verify_revoked},
	[R_AVATAR] = {M_POST, "/v1/avatar", "avatar", RF_BEARER | RF_BODY | RF_UPLOAD,
	    profile_avatar_fields, NULL, profile_avatar},
	[R_AVATAR_GET] = {M_GET, "/v1/avatars/*", "avatar_get", 0, NULL, &profile_avatar_param,
	    profile_avatar_get},
	[R_SCAN_NEW] = {M_POST, "/v1/scan", "scan_new", RF_BODY, scan_new_fields, NULL,
	    scan_new},
	[R_SCAN_STATUS] = {M_GET, "/v1/scan/*", "scan_status", 0, NULL, &scan_param,
	    scan_status},
	[R_SCAN_CODE] = {M_GET, "/v1/scan/*/code", "scan_code", 0, NULL, &scan_param,
	    scan_code},
	[R_SCAN_SCANNED] = {M_POST, "/v1/scan/*/scanned", "scan_scanned", RF_BEARER, NULL,
	    &scan_param, scan_scanned},
	[R_SCAN_CONFIRM] = {M_POST, "/v1/scan/*/confirm", "scan_confirm", RF_BEARER, NULL,
	    &scan_param, scan_confirm},
	[R_SCAN_CANCEL] = {M_POST, "/v1/scan/*/cancel", "scan_cancel", RF_BEARER, NULL,
	    &scan_param, scan_cancel},
	[R_ADMIN_DISABLE] = {M_POST, "/v1/admin/users/*/disable", "admin_disable", RF_ADMIN,
	    NULL, &admin_user_param, admin_disable},
	[R_ADMIN_ENABLE] = {M_POST, "/v1/admin/users/*/enable", "admin_enable", RF_ADMIN,
	    NULL, &admin_user_param, admin_enable},
	/* The console checks its own cookie and CSRF token (console.c). */
	[R_CONSOLE_SIGNIN] = {M_POST, "/v1/console/session", "console_signin", RF_BEARER, NULL,
	    NULL, console_signin},
	[R_CONSOLE_ME] = {M_GET, "/v1/console/session", "console_me", 0, NULL, NULL, console_me},
	[R_CONSOLE_SIGNOUT] = {M_DELETE, "/v1/console/session", "console_signout", 0, NULL, NULL,
	    console_signout},
	[R_CONSOLE_FIND] = {M_GET, "/v1/console/users", "console_find", RF_QUERY,
	    console_find_fields, NULL, console_find},
	[R_CONSOLE_USER] = {M_GET, "/v1/console/users/*", "console_user", 0, NULL,
	    &console_user_param, console_user},
	[R_CONSOLE_REVOKE] = {M_POST, "/v1/console/users/*/revoke", "console_revoke", 0, NULL,
	    &console_user_param, console_revoke},
	[R_CONSOLE_DISABLE] = {M_POST, "/v1/console/users/*/disable", "console_disable", 0, NULL,
	    &console_user_param, console_disable},
	[R_CONSOLE_ENABLE] = {M_POST, "/v1/console/users/*/enable", "console_enable", 0, NULL,
	    &console_user_param, console_enable},
	[R_CONSOLE_DELETE] = {M_POST, "/v1/console/users/*/delete", "console_delete", RF_BODY,
	    console_delete_fields, &console_user_param, console_delete},
	[R_CONSOLE_UNLINK] = {M_POST, "/v1/console/users/*/unlink", "console_unlink", RF_BODY,
	    console_unlink_fields, &console_user_param, console_unlink},
	[R_CONSOLE_UNDO] = {M_POST, "/v1/console/merges/*/undo", "console_undo", 0, NULL,
	    &console_merge_param, console_undo},
	[R_CONSOLE_AUDIT] = {M_GET, "/v1/console/audit", "console_audit", RF_QUERY,
	    console_log_fields, NULL, console_log},
	[R_CONSOLE_HEALTH] = {M_GET, "/v1/console/health", "console_health", 0, NULL, NULL,
	    console_health},
	[R_CONSOLE_MERGES] = {M_GET, "/v1/console/merges", "console_merges", RF_QUERY,
	    console_merges_fields, NULL, console_merges},
};

/*
 * match: path against pattern, segment by segment; a "*" segment matches
 * one non-empty segment, copied into param.
 */
static int
match(const char *pattern, const char *path, char *param, size_t plen)
{
	size_t n;

	while (*pattern != '\0' && *path != '\0') {
		if (pattern[0] == '*' && (pattern[1] == '/' || pattern[1] == '\0')) {
			n = strcspn(path, "/");
			if (n == 0 || n >= plen)
				return 0;
			memcpy(param, path, n);
			param[n] = '\0';
			path += n;
			pattern++;
			continue;
		}
		if (*pattern++ != *path++)
			return 0;
	}
	return *pattern == '\0' && *path == '\0';
}

enum err
route_find(enum method m, const char *path, enum route *out, char *param,
    size_t plen)
{
	enum err rc = ERR_NOT_FOUND;
	int i;

	for (i = 0; i < R__MAX; i++) {
		param[0] = '\0';
		if (routes[i].path == NULL || !match(routes[i].path, path, param, plen))
			continue;
		if (routes[i].method == m) {
			*out = (enum route)i;
			return OK;
		}
		rc = ERR_METHOD_NOT_ALLOWED;
	}
	param[0] = '\0';
	return rc;
}

const char *const *
route_names(void)
{
	static const char *names[R__MAX];
	size_t i;

	for (i = 0; i < R__MAX; i++)
		names[i] = routes[i].name;
	return names;
}
