/* Routing: every route is found by its method and path; other methods on a
 * known path are 405, unknown paths 404; the table is complete. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <string.h>
#include <cmocka.h>

#include "route.h"

static void
test_every_route_found(void **state)
{
	enum route rt;
	char param[64];
	int i;

	(void)state;
	for (i = 0; i < R__MAX; i++) {
		assert_non_null(routes[i].fn);
		assert_non_null(routes[i].name);
		/* The Authorizer's route has no path: nothing reaches it by one
		 * (gate_pass sends an Authorizer request there), and it is the
		 * only such route. */
		if (i == R_AUTHORIZER) {
			assert_null(routes[i].path);
			continue;
		}
		assert_non_null(routes[i].path);
		assert_int_equal(route_find(routes[i].method, routes[i].path, &rt, param, sizeof(param)), OK);
		assert_int_equal(rt, i);
		if (routes[i].flags & RF_BODY)
			assert_non_null(routes[i].fields);
	}
}

static void
test_known_paths(void **state)
{
	enum route rt;
	char param[64];

	(void)state;
	assert_int_equal(route_find(M_POST, "/v1/login", &rt, param, sizeof(param)), OK);
	assert_int_equal(rt, R_LOGIN);
	assert_int_equal(route_find(M_GET, "/v1/session", &rt, param, sizeof(param)), OK);
	assert_int_equal(rt, R_SESSION);
	assert_int_equal(route_find(M_POST, "/v1/token/refresh", &rt, param, sizeof(param)), OK);
	assert_int_equal(rt, R_REFRESH);
	assert_int_equal(route_find(M_POST, "/v1/logout", &rt, param, sizeof(param)), OK);
	assert_int_equal(rt, R_LOGOUT);
	assert_int_equal(route_find(M_GET, "/healthz", &rt, param, sizeof(param)), OK);
	assert_int_equal(rt, R_HEALTHZ);
}

static void
test_wrong_method(void **state)
{
	enum route rt;
	char param[64];

	(void)state;
	assert_int_equal(route_find(M_GET, "/v1/login", &rt, param, sizeof(param)), ERR_METHOD_NOT_ALLOWED);
	assert_int_equal(route_find(M_DELETE, "/v1/session", &rt, param, sizeof(param)), ERR_METHOD_NOT_ALLOWED);
	assert_int_equal(route_find(M_OTHER, "/healthz", &rt, param, sizeof(param)), ERR_METHOD_NOT_ALLOWED);
}

static void
test_unknown_path(void **state)
{
	enum route rt;
	char param[64];

	(void)state;
	assert_int_equal(route_find(M_GET, "/", &rt, param, sizeof(param)), ERR_NOT_FOUND);
	assert_int_equal(route_find(M_POST, "/v1/login/", &rt, param, sizeof(param)), ERR_NOT_FOUND);
	assert_int_equal(route_find(M_POST, "/V1/LOGIN", &rt, param, sizeof(param)), ERR_NOT_FOUND);
	assert_int_equal(route_find(M_GET, "/v1/session%00", &rt, param, sizeof(param)), ERR_NOT_FOUND);
	assert_int_equal(route_find(M_GET, "", &rt, param, sizeof(param)), ERR_NOT_FOUND);
}

static void
test_param_routes(void **state)
{
	enum route rt;
	char param[64];
	char small[4];

	(void)state;
	assert_int_equal(route_find(M_POST, "/v1/admin/users/abc-1/revoke", &rt,
	    param, sizeof(param)), OK);
	assert_int_equal(rt, R_ADMIN_REVOKE);
	assert_string_equal(param, "abc-1");
	assert_int_equal(route_find(M_GET, "/v1/admin/users/abc-1/revoke", &rt,
	    param, sizeof(param)), ERR_METHOD_NOT_ALLOWED);
	assert_int_equal(route_find(M_POST, "/v1/admin/users//revoke", &rt,
	    param, sizeof(param)), ERR_NOT_FOUND);
	assert_int_equal(route_find(M_POST, "/v1/admin/users/a/b/revoke", &rt,
	    param, sizeof(param)), ERR_NOT_FOUND);
	assert_int_equal(route_find(M_POST, "/v1/admin/users/abcdef/revoke", &rt,
	    small, sizeof(small)), ERR_NOT_FOUND);
	assert_int_equal(route_find(M_GET, "/v1/session", &rt, param, sizeof(param)), OK);
	assert_string_equal(param, "");
}

static void
test_bearer_routes(void **state)
{
	(void)state;
	assert_true(routes[R_SESSION].flags & RF_BEARER);
	assert_true(routes[R_LOGOUT].flags & RF_BEARER);
	assert_false(routes[R_LOGIN].flags & RF_BEARER);
	assert_false(routes[R_HEALTHZ].flags & RF_BEARER);
	assert_true(routes[R_LINK].flags & RF_BEARER);
	assert_true(routes[R_MERGES].flags & RF_ADMIN);
	assert_true(routes[R_ADMIN_USERS].flags & RF_ADMIN);
	assert_true(routes[R_ADMIN_REVOKE].flags & RF_ADMIN);
}

static void
test_error_table(void **state)
{
	int e;

	(void)state;
	for (e = 1; e < ERR__MAX; e++) {
		assert_true(err_status((enum err)e) >= 400);
		assert_non_null(err_name((enum err)e));
		assert_non_null(err_message((enum err)e));
	}
	assert_int_equal(err_status(ERR_INVALID_CODE), 401);
	assert_string_equal(err_name(ERR_INVALID_CODE), "invalid_code");
	assert_int_equal(err_status(ERR_RISKY_USER), 403);
	assert_int_equal(err_status(ERR_UPSTREAM_RATE_LIMITED), 429);
	assert_int_equal(err_status(ERR_UPSTREAM_UNAVAILABLE), 502);
	assert_int_equal(err_status(ERR_UPSTREAM_TIMEOUT), 504);
	assert_int_equal(err_status(ERR_SESSION_KEY_STALE), 409);
	assert_int_equal(err_status(ERR_BODY_TOO_LARGE), 413);
	assert_int_equal(err_status(ERR_UNSUPPORTED_MEDIA_TYPE), 415);
	assert_int_equal(err_status(ERR_DB_UNAVAILABLE), 503);
	/* Internal signals never leak their own names. */
	assert_string_equal(err_name(ERR_RETRY), "internal");
	assert_string_equal(err_name(ERR_WX_TOKEN_INVALID), "internal");
	assert_string_equal(err_name((enum err)999), "internal");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_every_route_found),
		cmocka_unit_test(test_known_paths),
		cmocka_unit_test(test_wrong_method),
		cmocka_unit_test(test_unknown_path),
		cmocka_unit_test(test_param_routes),
		cmocka_unit_test(test_bearer_routes),
		cmocka_unit_test(test_error_table),
	};

	return cmocka_run_group_tests_name("route", tests, NULL, NULL);
}
