/* The revocation view: an open-addressing set of sessions and a map of merges. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "ended.h"

static void
sid_of(char *out, size_t n, int i)
{
	snprintf(out, n, "00000000-0000-0000-0000-%012d", i);
}

/* Insert, find, prune by until; the rebuild that prune makes keeps every
 * entry still live reachable, whatever probe chain it was on. */
static void
test_sessions(void **state)
{
	struct ended *rv = ended_new();
	char sid[64];
	int i;

	(void)state;
	assert_non_null(rv);
	assert_false(ended_has_session(rv, "a"));
	for (i = 0; i < 1000; i++) {
		sid_of(sid, sizeof(sid), i);
		assert_int_equal(ended_add_session(rv, sid, i % 2 ? 100 : 300), 0);
	}
	assert_int_equal(ended_count(rv), 1000);
	/* Adding again keeps one entry and the later until. */
	sid_of(sid, sizeof(sid), 1);
	assert_int_equal(ended_add_session(rv, sid, 400), 0);
	assert_int_equal(ended_count(rv), 1000);
	ended_prune(rv, 200);
	assert_int_equal(ended_count(rv), 501);
	for (i = 0; i < 1000; i++) {
		sid_of(sid, sizeof(sid), i);
		assert_int_equal(ended_has_session(rv, sid), i % 2 == 0 || i == 1);
	}
	/* A prune with nothing expired changes nothing. */
	ended_prune(rv, 0);
	assert_int_equal(ended_count(rv), 501);
	ended_prune(rv, 1000);
	assert_int_equal(ended_count(rv), 0);
	ended_free(rv);
	ended_free(NULL);
}

/* Growth: the table doubles at half load, through many rebuilds, and
 * never loses an entry; a key that is not a UUID is never stored. */
static void
test_growth_and_bad_keys(void **state)
{
	struct ended *rv = ended_new();
	char sid[64], longkey[128];
	int i, n = 70000;

	(void)state;
	for (i = 0; i < n; i++) {
		sid_of(sid, sizeof(sid), i);
		assert_int_equal(ended_add_session(rv, sid, 100), 0);
	}
	assert_int_equal(ended_count(rv), (size_t)n);
	for (i = 0; i < n; i++) {
		sid_of(sid, sizeof(sid), i);
		assert_true(ended_has_session(rv, sid));
	}
	sid_of(sid, sizeof(sid), n);
	assert_false(ended_has_session(rv, sid));
	memset(longkey, 'a', sizeof(longkey) - 1);
	longkey[sizeof(longkey) - 1] = '\0';
	assert_int_equal(ended_add_session(rv, longkey, 100), 0);
	assert_false(ended_has_session(rv, longkey));
	assert_int_equal(ended_count(rv), (size_t)n);
	ended_clear(rv);
	assert_int_equal(ended_count(rv), 0);
	sid_of(sid, sizeof(sid), 0);
	assert_false(ended_has_session(rv, sid));
	/* Usable again after a clear. */
	assert_int_equal(ended_add_session(rv, sid, 100), 0);
	assert_true(ended_has_session(rv, sid));
	ended_free(rv);
}

/* Merges: chains resolve to the survivor with its unionid; an undone merge
 * stops resolving at once and goes at the next prune; cycles end. */
static void
test_merges(void **state)
{
	struct ended *rv = ended_new();
	const char *uni = NULL;

	(void)state;
	assert_string_equal(ended_resolve(rv, "u1", &uni), "u1");
	assert_null(uni);
	assert_int_equal(ended_add_merge(rv, "u1", "u2", "", 300), 0);
	assert_int_equal(ended_add_merge(rv, "u2", "u3", "o6_x", 300), 0);
	assert_string_equal(ended_resolve(rv, "u1", &uni), "u3");
	assert_string_equal(uni, "o6_x");
	ended_drop_merge(rv, "u2");
	assert_string_equal(ended_resolve(rv, "u2", NULL), "u2");
	assert_string_equal(ended_resolve(rv, "u1", &uni), "u2");
	assert_null(uni);
	ended_drop_merge(rv, "nobody");
	assert_int_equal(ended_count(rv), 2);
	ended_prune(rv, 100);
	assert_int_equal(ended_count(rv), 1);
	assert_string_equal(ended_resolve(rv, "u1", NULL), "u2");
	/* A cycle (a bug elsewhere) must not hang the hot path. */
	assert_int_equal(ended_add_merge(rv, "u2", "u1", "", 300), 0);
	assert_non_null(ended_resolve(rv, "u1", NULL));
	ended_free(rv);
}

/* The hash poolview.c shares: FNV-1a 64, known values. */
static void
test_hash(void **state)
{
	(void)state;
	assert_true(ended_hash("") == 0xcbf29ce484222325ULL);
	assert_true(ended_hash("a") == 0xaf63dc4c8601ec8cULL);
	assert_true(ended_hash("foobar") == 0x85944171f73967e8ULL);
}

/* The view holds at most ENDED_MAX entries of each kind: one more is
 * refused (the worker then refuses tokens and reloads), never a silent
 * loss; an entry already held is still updated. */
static void
test_bounded(void **state)
{
	struct ended *rv = ended_new();
	char sid[UUID_STR];
	size_t i;

	(void)state;
	assert_non_null(rv);
	for (i = 0; i < ENDED_MAX; i++) {
		snprintf(sid, sizeof(sid), "00000000-0000-7000-8000-%012zx", i);
		assert_int_equal(ended_add_session(rv, sid, 100), 0);
	}
	assert_int_equal(ended_add_session(rv, "ffffffff-0000-7000-8000-000000000000", 100), -1);
	assert_int_equal(ended_add_session(rv, "00000000-0000-7000-8000-000000000001", 200), 0);
	assert_true(ended_has_session(rv, "00000000-0000-7000-8000-000000000001"));
	assert_false(ended_has_session(rv, "ffffffff-0000-7000-8000-000000000000"));
	/* The merges are bounded apart from the sessions. */
	assert_int_equal(ended_add_merge(rv, "a", "b", "", 100), 0);
	ended_free(rv);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_bounded),
		cmocka_unit_test(test_sessions),
		cmocka_unit_test(test_growth_and_bad_keys),
		cmocka_unit_test(test_merges),
		cmocka_unit_test(test_hash),
	};

	return cmocka_run_group_tests_name("ended", tests, NULL, NULL);
}
