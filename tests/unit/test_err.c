/* The one error table: every value complete, header policy in its columns. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <string.h>
#include <cmocka.h>

#include "common.h"

static void
test_every_row(void **state)
{
	const char *n, *www;
	int e, st;

	(void)state;
	for (e = 0; e < ERR__MAX; e++) {
		st = err_status((enum err)e);
		n = err_name((enum err)e);
		www = err_www_authenticate((enum err)e);
		print_message("%d %d %s\n", e, st, n);
		assert_true(st >= 200 && st <= 599);
		assert_true(n != NULL && n[0] != '\0' && strspn(n, "abcdefghijklmnopqrstuvwxyz_") ==
		    strlen(n));
		assert_true(err_message((enum err)e) != NULL && err_message((enum err)e)[0] != '\0');
		assert_non_null(err_strerror((enum err)e));
		/* Every 401 says how to authenticate, and only a 401 does. */
		if (st == 401)
			assert_string_equal(www, "Bearer error=\"invalid_token\"");
		else
			assert_null(www);
		/* Every 503 and 429 says when to come back. */
		if (st == 503 || st == 429)
			assert_true(err_retry_after((enum err)e) > 0);
		else
			assert_int_equal(err_retry_after((enum err)e), 0);
		if (e == OK)
			assert_int_equal(st, 200);
		else
			assert_true(st >= 400);
	}
}

static void
test_what_clients_see(void **state)
{
	(void)state;
	/* Internal signals never reach a client as themselves. */
	assert_int_equal(err_status(ERR_RETRY), 500);
	assert_string_equal(err_name(ERR_WX_TOKEN_INVALID), "internal");
	/* Out of range is a bug: internal, never a crash. */
	assert_int_equal(err_status((enum err)ERR__MAX), 500);
	assert_string_equal(err_name((enum err)-1), "internal");
	assert_null(err_www_authenticate((enum err)ERR__MAX));
	/* The fixes this table carries. */
	assert_int_equal(err_status(ERR_INVALID_CODE), 401);
	assert_non_null(err_www_authenticate(ERR_INVALID_CODE));
	assert_int_equal(err_status(ERR_DB_BUSY), 503);
	assert_null(strstr(err_message(ERR_DB_BUSY), "WeChat"));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_every_row),
		cmocka_unit_test(test_what_clients_see),
	};

	return cmocka_run_group_tests_name("err", tests, NULL, NULL);
}
