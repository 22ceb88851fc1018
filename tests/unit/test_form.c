/* The gate's declarative checks: body fields, query parameters, path segments. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <json-c/json.h>

#include "form.h"

enum { F_CODE, F_NAME, F_ALL, F_CC };
static const struct field fields[] = {
	[F_CODE] = {"code", FT_STRING, FF_REQUIRED | FF_TOKEN, 1, 8},
	[F_NAME] = {"name", FT_STRING, FF_TEXT, 1, 64},
	[F_ALL] = {"all", FT_BOOL, 0, 0, 0},
	[F_CC] = {"cc", FT_INT, FF_NUMSTR, 1, 999},
	FIELDS_END
};

static enum err
check(const char *json, char *why, size_t len)
{
	struct json_object *o = json_tokener_parse(json);
	struct fval v[FORM_MAX];
	enum err rc = form_check(o, fields, v, why, len);

	json_object_put(o);
	return rc;
}

/* Values land at their table entry, typed. */
static void
test_values(void **state)
{
	struct json_object *o = json_tokener_parse(
	    "{\"cc\":\"86\",\"code\":\"abc\",\"all\":true}");
	struct fval v[FORM_MAX];
	char why[128] = "";

	(void)state;
	assert_int_equal(form_check(o, fields, v, why, sizeof(why)), OK);
	assert_true(v[F_CODE].set);
	assert_string_equal(v[F_CODE].s, "abc");
	assert_false(v[F_NAME].set);
	assert_null(v[F_NAME].s);
	assert_true(v[F_ALL].set && v[F_ALL].b);
	assert_true(v[F_CC].set);
	assert_int_equal(v[F_CC].n, 86);
	json_object_put(o);
}

enum { Q_ID, Q_AFTER, Q_LIMIT, Q_NAME };
static const struct field qfields[] = {
	[Q_ID] = {"id", FT_STRING, FF_UUID, 36, 36},
	[Q_AFTER] = {"after", FT_INT, 0, 0, 999999999999999999LL},
	[Q_LIMIT] = {"limit", FT_INT, FF_REQUIRED, 1, 1000},
	[Q_NAME] = {"name", FT_STRING, FF_TEXT, 1, 16},
	FIELDS_END
};

static enum err
query(const char *q, struct fval v[FORM_MAX], char *why, size_t len)
{
	static char buf[128];

	return form_query(q, qfields, v, buf, sizeof(buf), why, len);
}

/* A value that fills the buffer exactly, then an empty one: the empty one
 * does not fit either (its NUL), and nothing is written past the buffer
 * (the buffer ends where its allocation ends, for ASan). */
static void
test_query_buffer_exactly_full(void **state)
{
	static const struct field f2[] = {
		{"appid", FT_STRING, 0, 0, 64},
		{"scope", FT_STRING, 0, 0, 64},
		FIELDS_END
	};
	struct fval v[FORM_MAX];
	char why[128];
	char *buf = malloc(2);

	(void)state;
	assert_non_null(buf);
	assert_int_equal(form_query("appid=b&scope=", f2, v, buf, 2, why, sizeof(why)),
	    ERR_INVALID_REQUEST);
	assert_string_equal(why, "parameter 'scope' is malformed or too long");
	assert_int_equal(form_query("appid=b", f2, v, buf, 2, why, sizeof(why)), OK);
	assert_string_equal(v[0].s, "b");
	assert_int_equal(form_query("scope=", f2, v, buf, 0, why, sizeof(why)),
	    ERR_INVALID_REQUEST);
	free(buf);
}

static void
test_query(void **state)
{
	static const struct {
		const char *q, *why;
	} bad[] = {
		{"", "parameter 'limit' is required"},
		{"limit=0", "parameter 'limit' is out of range"},
		{"limit=1001", "parameter 'limit' is out of range"},
		{"limit=-1", "parameter 'limit' must be a number"},
		{"limit=", "parameter 'limit' must be a number"},
		{"limit=1&after=99999999999999999999", "parameter 'after' must be a number"},
		{"limit=1&limit=2", "parameter 'limit' is given twice"},
		{"limit=1&id=nope", "parameter 'id' has a wrong length"},
		{"limit=1&id=0123456789abcdef0123456789abcdef0123", "parameter 'id' must be an id (8-4-4-4-12 hex digits)"},
		{"limit=1&name=%0a", "parameter 'name' is malformed or too long"},
		{"limit=1&name=%zz", "parameter 'name' is malformed or too long"},
		{"limit=1&name=%E5", "parameter 'name' must be valid UTF-8 without control characters"},
	};
	struct fval v[FORM_MAX];
	char why[128];
	size_t i;

	(void)state;
	assert_int_equal(query("limit=5&after=7&x=1&id=01234567-89ab-cdef-0123-456789abcdef"
	    "&name=%E5%BE%AE+x", v, why, sizeof(why)), OK);
	assert_int_equal(v[Q_LIMIT].n, 5);
	assert_int_equal(v[Q_AFTER].n, 7);
	assert_string_equal(v[Q_ID].s, "01234567-89ab-cdef-0123-456789abcdef");
	assert_string_equal(v[Q_NAME].s, "\xe5\xbe\xae x");
	assert_int_equal(query("limit=1", v, why, sizeof(why)), OK);
	assert_false(v[Q_AFTER].set);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		why[0] = '\0';
		print_message("%s\n", bad[i].q);
		assert_int_equal(query(bad[i].q, v, why, sizeof(why)), ERR_INVALID_REQUEST);
		assert_string_equal(why, bad[i].why);
	}
	/* A path segment: the same checks. */
	assert_true(form_value("01234567-89ab-cdef-0123-456789abcdef", &qfields[Q_ID]));
	assert_false(form_value("01234567-89ab-cdef-0123-456789abcdeg", &qfields[Q_ID]));
	assert_false(form_value("", &qfields[Q_ID]));
}

static void
test_good(void **state)
{
	char why[128] = "";

	(void)state;
	assert_int_equal(check("{\"code\":\"abc\"}", why, sizeof(why)), OK);
	assert_int_equal(check("{\"code\":\"abc\",\"name\":\"\\u5fae\\u4fe1\",\"all\":true,\"cc\":86}",
	    why, sizeof(why)), OK);
	assert_int_equal(check("{\"code\":\"abc\",\"cc\":\"86\"}", why, sizeof(why)), OK);
	assert_int_equal(check("{\"code\":\"abc\",\"extra\":[1,2]}", why, sizeof(why)), OK);
}

static void
test_bad(void **state)
{
	static const struct {
		const char *json, *why;
	} cases[] = {
		{"{}", "field 'code' is required"},
		{"{\"code\":null}", "field 'code' is required"},
		{"{\"code\":5}", "field 'code' must be a string"},
		{"{\"code\":\"\"}", "field 'code' must not be empty"},
		{"{\"code\":\"123456789\"}", "field 'code' has a wrong length"},
		{"{\"code\":\"a b\"}", "field 'code' has characters that are not allowed"},
		{"{\"code\":\"a\\u0001\"}", "field 'code' has characters that are not allowed"},
		{"{\"code\":\"a\\u0000b\"}", "field 'code' must not contain NUL"},
		{"{\"code\":\"a\",\"name\":\"a\\nb\"}", "field 'name' must be valid UTF-8 without control characters"},
		{"{\"code\":\"a\",\"all\":\"yes\"}", "field 'all' must be true or false"},
		{"{\"code\":\"a\",\"cc\":1000}", "field 'cc' is out of range"},
		{"{\"code\":\"a\",\"cc\":\"8x\"}", "field 'cc' must be an integer"},
		{"{\"code\":\"a\",\"cc\":8.5}", "field 'cc' must be an integer"},
	};
	char why[128];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		why[0] = '\0';
		print_message("%s\n", cases[i].json);
		assert_int_equal(check(cases[i].json, why, sizeof(why)), ERR_INVALID_REQUEST);
		assert_string_equal(why, cases[i].why);
	}
	{
		struct fval v[FORM_MAX];

		assert_int_equal(form_check(NULL, fields, v, why, sizeof(why)),
		    ERR_INVALID_REQUEST);
	}
}

static void
test_utf8(void **state)
{
	(void)state;
	assert_true(form_text_ok("abc", 3, 1, 3));
	assert_false(form_text_ok("abcd", 4, 1, 3));
	assert_true(form_text_ok("\xe5\xbe\xae\xe4\xbf\xa1", 6, 2, 2));
	assert_false(form_text_ok("\xe5\xbe", 2, 0, 10));          /* truncated */
	assert_false(form_text_ok("\xff", 1, 0, 10));
	assert_false(form_text_ok("\xed\xa0\x80", 3, 0, 10));      /* surrogate */
	assert_false(form_text_ok("\xc0\xaf", 2, 0, 10));          /* overlong '/' */
	assert_false(form_text_ok("\xe0\x80\xaf", 3, 0, 10));      /* overlong '/' */
	assert_false(form_text_ok("\xf0\x82\x82\xac", 4, 0, 10));  /* overlong U+20AC */
	assert_false(form_text_ok("\xf4\x90\x80\x80", 4, 0, 10));  /* above U+10FFFF */
	assert_true(form_text_ok("\xf0\x9f\x98\x80", 4, 1, 1));    /* U+1F600 */
	assert_false(form_text_ok("\xc2\x85", 2, 0, 10));          /* C1 control */
	assert_false(form_text_ok("a\tb", 3, 0, 10));
	assert_false(form_text_ok("", 0, 1, 10));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_good),
		cmocka_unit_test(test_bad),
		cmocka_unit_test(test_values),
		cmocka_unit_test(test_query),
		cmocka_unit_test(test_query_buffer_exactly_full),
		cmocka_unit_test(test_utf8),
	};

	return cmocka_run_group_tests_name("form", tests, NULL, NULL);
}
