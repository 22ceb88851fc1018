/*
 * test_jsonw.c - the JSON writer prints what json-c prints (PLAIN |
 * NOSLASHESCAPE) for the same document, escapes every string json-c would,
 * and fails rather than truncate.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <string.h>

#include <cmocka.h>
#include <json-c/json.h>
#include <sodium.h>

#include "jsonw.h"

static const char *
json_c_text(struct json_object *o)
{
	return json_object_to_json_string_ext(o,
	    JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE);
}

/* The same document both ways: a string field, an int, a nested object, an
 * array with a raw value and a null. */
static void
both(const char *s, int64_t v)
{
	struct json_object *o = json_object_new_object(), *u = json_object_new_object(),
	    *a = json_object_new_array();
	char buf[4096];
	struct jsonw w;

	json_object_object_add(u, "s", json_object_new_string(s));
	json_object_object_add(u, "empty", NULL);
	json_object_object_add(o, "user", u);
	json_object_object_add(o, "n", json_object_new_int64(v));
	json_object_array_add(a, json_object_new_string(s));
	json_object_array_add(a, json_object_new_int64(1));
	json_object_object_add(o, "list", a);

	jsonw_init(&w, buf, sizeof buf);
	jsonw_open(&w, NULL, 0);
	jsonw_open(&w, "user", 0);
	jsonw_str(&w, "s", s);
	jsonw_str(&w, "empty", "");
	jsonw_close(&w);
	jsonw_int(&w, "n", v);
	jsonw_open(&w, "list", 1);
	jsonw_str(&w, NULL, s);
	jsonw_raw(&w, NULL, "1", 1);
	jsonw_close(&w);
	jsonw_close(&w);
	assert_true(jsonw_end(&w) == (long)strlen(buf));
	assert_string_equal(buf, json_c_text(o));
	json_object_put(o);
}

static void
test_same_as_json_c(void **state)
{
	static const char *fixed[] = {
		"plain", "a/b", "quote\" and \\ backslash", "\b\f\n\r\t", "\x01\x1f\x7f",
		"\xe5\xbe\xae\xe4\xbf\xa1 \xf0\x9f\x98\x80", "https://a.example/x?y=1&z=<2>",
	};
	char s[64];
	size_t i, k, len;

	(void)state;
	for (i = 0; i < sizeof fixed / sizeof fixed[0]; i++)
		both(fixed[i], (int64_t)i - 3);
	both("x", INT64_MIN);
	both("x", INT64_MAX);
	/* Random bytes 1..255: every escape json-c makes, we make. */
	for (k = 0; k < 2000; k++) {
		len = randombytes_uniform(sizeof s - 1) + 1;
		for (i = 0; i < len; i++)
			s[i] = (char)(randombytes_uniform(255) + 1);
		s[len] = '\0';
		both(s, (int64_t)randombytes_random());
	}
}

static void
test_fails_rather_than_truncates(void **state)
{
	char buf[16];
	struct jsonw w;
	size_t cap;

	(void)state;
	for (cap = 0; cap <= sizeof buf; cap++) {
		jsonw_init(&w, buf, cap);
		jsonw_open(&w, NULL, 0);
		jsonw_str(&w, "k", "value");   /* {"k":"value"} is 13 bytes */
		jsonw_close(&w);
		if (cap >= 14) {
			assert_int_equal(jsonw_end(&w), 13);
			assert_string_equal(buf, "{\"k\":\"value\"}");
		} else {
			assert_int_equal(jsonw_end(&w), -1);
		}
	}
	/* Unclosed, over-closed, too deep. */
	jsonw_init(&w, buf, sizeof buf);
	jsonw_open(&w, NULL, 0);
	assert_int_equal(jsonw_end(&w), -1);
	jsonw_init(&w, buf, sizeof buf);
	jsonw_close(&w);
	assert_int_equal(jsonw_end(&w), -1);
	{
		char big[256];
		int d;

		jsonw_init(&w, big, sizeof big);
		for (d = 0; d < JSONW_DEPTH + 1; d++)
			jsonw_open(&w, NULL, 1);
		for (d = 0; d < JSONW_DEPTH + 1; d++)
			jsonw_close(&w);
		assert_int_equal(jsonw_end(&w), -1);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_same_as_json_c),
		cmocka_unit_test(test_fails_rather_than_truncates),
	};

	if (sodium_init() < 0)
		return 1;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
