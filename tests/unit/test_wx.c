/* WeChat errcode mapping: every code WECHAT.md lists maps as it says. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "log.h"
#include "wx.h"

static void
test_errcodes(void **state)
{
	static const struct {
		long code;
		enum err e;
	} want[] = {
		{0, OK},
		{40029, ERR_INVALID_CODE},
		{40163, ERR_INVALID_CODE},
		{42003, ERR_INVALID_CODE},
		{40226, ERR_RISKY_USER},
		{45011, ERR_UPSTREAM_RATE_LIMITED},
		{45009, ERR_UPSTREAM_RATE_LIMITED},
		{-1, ERR_UPSTREAM_UNAVAILABLE},
		{40001, ERR_WX_TOKEN_INVALID},
		{40014, ERR_WX_TOKEN_INVALID},
		{42001, ERR_WX_TOKEN_INVALID},
		{40013, ERR_UPSTREAM_UNAVAILABLE},
		{40125, ERR_UPSTREAM_UNAVAILABLE},
		{41002, ERR_UPSTREAM_UNAVAILABLE},
		{41004, ERR_UPSTREAM_UNAVAILABLE},
		{40164, ERR_UPSTREAM_UNAVAILABLE},
		{61004, ERR_UPSTREAM_UNAVAILABLE},
		{40243, ERR_UPSTREAM_UNAVAILABLE},
		{87009, ERR_SESSION_KEY_STALE},
		{48001, ERR_UPSTREAM_UNAVAILABLE},
		{12345, ERR_UPSTREAM_UNAVAILABLE},      /* unknown */
		{-1000, ERR_UPSTREAM_UNAVAILABLE},      /* not a number */
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
		print_message("errcode %ld\n", want[i].code);
		assert_int_equal(wx_errcode(want[i].code), want[i].e);
	}
}

static void
test_statuses(void **state)
{
	(void)state;
	assert_int_equal(err_status(wx_errcode(40029)), 401);
	assert_int_equal(err_status(wx_errcode(40226)), 403);
	assert_int_equal(err_status(wx_errcode(45011)), 429);
	assert_int_equal(err_status(wx_errcode(-1)), 502);
	assert_int_equal(err_status(wx_errcode(87009)), 409);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_errcodes),
		cmocka_unit_test(test_statuses),
	};

	/* wx_errcode logs loud codes; keep the test output readable. */
	(void)log_open("/dev/null");
	return cmocka_run_group_tests_name("wx", tests, NULL, NULL);
}
