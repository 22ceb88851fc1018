/*
 * test_profview.c - the userinfo cache: what it keeps, when it stops using
 * it (a change seen by this worker, a change another worker of the host
 * made, age), and that without serve's shared memory it keeps nothing.
 * Two caches in one process stand for two workers of one pool.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <string.h>

#include <cmocka.h>

#include "profview.h"

#define U1 "0b5e3a5c-7f7e-4b8e-9a55-3c0a4a0b1c2d"
#define U2 "9d2c1f4e-2b1a-4c3d-8e7f-6a5b4c3d2e1f"
#define NOW 1800000000

static void
put(struct profview *pc, const char *u, const char *text, int64_t now)
{
	profview_put(pc, u, profview_gen(u), text, strlen(text), now);
}

static void
test_nothing_without_shared_memory(void **state)
{
	size_t len;

	(void)state;
	/* Before profview_shared_init (spawn-fcgi, mod_fcgid): no cache, and
	 * every call takes the NULL. */
	assert_null(profview_new());
	profview_put(NULL, U1, 0, "x", 1, NOW);
	assert_null(profview_get(NULL, U1, NOW, &len));
	profview_changed(NULL, profview_bucket(U1), 1);
	profview_clear(NULL);
	profview_free(NULL);
}

static void
test_keeps_and_forgets(void **state)
{
	struct profview *a, *b;
	const char *t;
	size_t len = 0;
	uint32_t g;
	char big[PROFVIEW_MAX_TEXT + 2];

	(void)state;
	assert_int_equal(profview_shared_init(), 0);
	a = profview_new();
	b = profview_new();
	assert_non_null(a);
	assert_non_null(b);

	assert_null(profview_get(a, U1, NOW, &len));
	put(a, U1, "{\"one\":1}", NOW);
	t = profview_get(a, U1, NOW + 1, &len);
	assert_non_null(t);
	assert_int_equal(len, 9);
	assert_string_equal(t, "{\"one\":1}");
	assert_null(profview_get(a, U2, NOW, &len));     /* another user */
	assert_null(profview_get(b, U1, NOW, &len));     /* another worker */

	/* Too old, or from the future (the clock went back). */
	assert_null(profview_get(a, U1, NOW + PROFVIEW_TTL, &len));
	put(a, U1, "{}", NOW);
	assert_null(profview_get(a, U1, NOW - 1, &len));

	/* A notification this worker hears drops its copy, nobody else's. */
	put(a, U1, "{}", NOW);
	put(b, U1, "{}", NOW);
	profview_changed(a, profview_bucket(U1), 0);
	assert_null(profview_get(a, U1, NOW, &len));
	assert_non_null(profview_get(b, U1, NOW, &len));

	/* A change worker a made: worker b's copy is stale at once, before b
	 * hears of it. */
	put(a, U1, "{}", NOW);
	profview_changed(a, profview_bucket(U1), 1);
	assert_null(profview_get(b, U1, NOW, &len));
	/* An answer read before that change but stored after it: never used. */
	g = profview_gen(U2);
	profview_changed(a, profview_bucket(U2), 1);
	profview_put(b, U2, g, "{\"old\":1}", 9, NOW);
	assert_null(profview_get(b, U2, NOW, &len));
	put(b, U2, "{\"new\":1}", NOW);
	assert_string_equal(profview_get(b, U2, NOW, &len), "{\"new\":1}");

	/* The bucket is the id's last three hex digits, as db/008 computes
	 * it; a hint for another bucket, or none that could be one, drops
	 * nothing. */
	assert_int_equal(profview_bucket(U1), 0xc2d);
	assert_int_equal(profview_bucket(U2), 0xe1f);
	put(a, U1, "{}", NOW);
	profview_changed(a, 0xc2d ^ 1, 0);
	profview_changed(a, 4096, 1);
	profview_changed(a, 99999, 1);
	assert_non_null(profview_get(a, U1, NOW, &len));

	/* Too large to keep; everything gone after a clear. */
	memset(big, 'x', sizeof big - 1);
	big[sizeof big - 1] = '\0';
	put(a, U2, big, NOW);
	assert_null(profview_get(a, U2, NOW, &len));
	put(a, U1, "{}", NOW);
	profview_clear(a);
	assert_null(profview_get(a, U1, NOW, &len));
	profview_free(a);
	profview_free(b);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_nothing_without_shared_memory),
		cmocka_unit_test(test_keeps_and_forgets),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
