/* One request's parsing: parameters, the request id, the queue age, the
 * body's JSON, response headers, the bearer token, the error's message. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <cmocka.h>

#include "http.h"

/* A FastCGI request with these parameters and no streams (nothing here
 * sends). */
static void
init(struct req *r, FCGX_Request *f, char **envp)
{
	memset(f, 0, sizeof(*f));
	f->envp = envp;
	http_req_init(r, f);
}

static void
test_params(void **state)
{
	char *env[] = {"REQUEST_METHOD=PATCH", "REQUEST_URI=/v1/userinfo?x=1",
	    "QUERY_STRING=x=1", "HTTP_AUTHORIZATION=Bearer  abc.def",
	    "HTTP_X_REQUEST_ID=req-0123456789", "REMOTE_ADDR=127.0.0.1", NULL};
	char *bad[] = {"REQUEST_METHOD=BREW", "HTTP_X_REQUEST_ID=bad id\r\nX: 1", NULL};
	FCGX_Request f;
	struct req r;

	(void)state;
	init(&r, &f, env);
	assert_int_equal(r.method, M_PATCH);
	assert_string_equal(r.path, "/v1/userinfo");
	assert_string_equal(r.query, "x=1");
	assert_string_equal(r.id, "req-0123456789");
	assert_string_equal(r.content_type, "");
	assert_string_equal(http_bearer(&r), "abc.def");
	assert_true(http_queued_ms(&r) == 0);
	http_req_cleanup(&r);
	/* An unknown method, a request id that could smuggle a header: a
	 * fresh id of 32 hex digits instead. */
	init(&r, &f, bad);
	assert_int_equal(r.method, M_OTHER);
	assert_int_equal(strlen(r.id), 32);
	assert_int_equal(strspn(r.id, "0123456789abcdef"), 32);
	assert_null(r.authorization);
	assert_null(http_bearer(&r));
	http_req_cleanup(&r);
}

static void
test_bearer(void **state)
{
	static const struct {
		const char *auth, *token;
	} cases[] = {
		{"Bearer t", "t"}, {"bearer t", "t"}, {"BEARER   t", "t"},
		{"Bearer ", NULL}, {"Bearer", NULL}, {"Basic dTpw", NULL}, {"Bearert", NULL},
	};
	struct req r;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		memset(&r, 0, sizeof(r));
		r.authorization = cases[i].auth;
		print_message("%s\n", cases[i].auth);
		if (cases[i].token == NULL)
			assert_null(http_bearer(&r));
		else
			assert_string_equal(http_bearer(&r), cases[i].token);
	}
}

static void
test_queue_age(void **state)
{
	char start[64], *env[] = {start, NULL};
	FCGX_Request f;
	struct req r;
	struct timespec now;

	(void)state;
	clock_gettime(CLOCK_REALTIME, &now);
	/* nginx's $msec, two seconds ago. */
	snprintf(start, sizeof(start), "HTTP_X_REQUEST_START=t=%lld.%03ld",
	    (long long)now.tv_sec - 2, now.tv_nsec / 1000000);
	init(&r, &f, env);
	assert_true(http_queued_ms(&r) > 1500 && http_queued_ms(&r) < 60000);
	/* Apache's %t: microseconds. */
	snprintf(start, sizeof(start), "HTTP_X_REQUEST_START=t=%lld",
	    ((long long)now.tv_sec - 3) * 1000000);
	init(&r, &f, env);
	assert_true(http_queued_ms(&r) > 2500 && http_queued_ms(&r) < 60000);
	/* Malformed or in the future: unknown. */
	snprintf(start, sizeof(start), "HTTP_X_REQUEST_START=t=12x");
	init(&r, &f, env);
	assert_true(http_queued_ms(&r) == 0);
	snprintf(start, sizeof(start), "HTTP_X_REQUEST_START=t=%lld.0",
	    (long long)now.tv_sec + 100);
	init(&r, &f, env);
	assert_true(http_queued_ms(&r) == 0);
}

static enum err
parse(const char *body, int allow_empty, struct req *r)
{
	memset(r, 0, sizeof(*r));
	r->body = strdup(body);
	r->body_len = strlen(body);
	return http_parse_json(r, allow_empty);
}

static void
test_json(void **state)
{
	static const struct {
		const char *body;
		enum err rc;
	} cases[] = {
		{"{\"a\":1}", OK}, {" {\"a\":\"\\u5fae\"} \n", OK},
		{"[1]", ERR_INVALID_JSON}, {"{\"a\":1} x", ERR_INVALID_JSON},
		{"{\"a\":1}{}", ERR_INVALID_JSON}, {"{'a':1}", ERR_INVALID_JSON},
		{"{\"a\":NaN}", ERR_INVALID_JSON}, {"{\"a\":[Infinity]}", ERR_INVALID_JSON},
		{"{\"a\":1,}", ERR_INVALID_JSON}, {"\"x\"", ERR_INVALID_JSON},
		{"{\"code\":\"\\ud800\"}", ERR_INVALID_REQUEST},
		{"{\"code\":\"\xff\"}", ERR_INVALID_JSON},
		/* What json-c's strict mode took (issue 22's fuzzing), in any
		 * member, known or not. */
		{"{\"\":00}", ERR_INVALID_JSON}, {"{\"x\":-01}", ERR_INVALID_JSON},
		{"{\"x\":1.}", ERR_INVALID_JSON}, {"{\"x\":-.5}", ERR_INVALID_JSON},
		{"{\"x\":.5}", ERR_INVALID_JSON}, {"{\"x\":1e}", ERR_INVALID_JSON},
		{"{\"x\":+1}", ERR_INVALID_JSON}, {"{\"\x0f\":{}}", ERR_INVALID_JSON},
		{"{\"x\":\"a\tb\"}", ERR_INVALID_JSON},
		{"{\"x\":\"\xc1\xb9\"}", ERR_INVALID_JSON},              /* overlong */
		{"{\"x\":\"\xe0\x80\xaf\"}", ERR_INVALID_JSON},          /* overlong */
		{"{\"x\":\"\xed\xa0\x80\"}", ERR_INVALID_JSON},          /* U+D800 */
		{"{\"x\":\"\xf4\x90\x80\x80\"}", ERR_INVALID_JSON},      /* > U+10FFFF */
		{"{\"x\":\"\xf0\x9f\x98\x80 \xe5\xbe\xae\"}", OK},     /* 4- and 3-byte */
		{"{\"x\":-0.5e+10,\"y\":[0,1E-2,true,false,null]}", OK},
		{"{\"x\":\"\\ud83d\\ude00\"}", OK},                     /* a pair */
		{"{\"x\":\"\\x\"}", ERR_INVALID_JSON}, {"{\"x\":tru}", ERR_INVALID_JSON},
	};
	struct req r;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		print_message("%s\n", cases[i].body);
		assert_int_equal(parse(cases[i].body, 0, &r), cases[i].rc);
		if (cases[i].rc == OK)
			assert_non_null(r.json);
		http_req_cleanup(&r);
	}
	/* The lone surrogate names its top-level field; deeper, none. */
	assert_int_equal(parse("{\"ok\":\"x\",\"nick\":\"a\\udc00\"}", 0, &r),
	    ERR_INVALID_REQUEST);
	assert_string_equal(r.bad_field, "nick");
	http_req_cleanup(&r);
	assert_int_equal(parse("{\"nick\":{\"in\":\"\\udc00\"}}", 0, &r),
	    ERR_INVALID_REQUEST);
	assert_string_equal(r.bad_field, "");
	http_req_cleanup(&r);
	/* Not blamed on the member before it (issue 22). */
	assert_int_equal(parse("{\"k\":\"\",\"\":\"\\udc00\"}", 0, &r), ERR_INVALID_REQUEST);
	assert_string_equal(r.bad_field, "");
	http_req_cleanup(&r);
	/* Invalid UTF-8: the object is kept for the gate to name the field. */
	assert_int_equal(parse("{\"code\":\"\xff\"}", 0, &r), ERR_INVALID_JSON);
	assert_non_null(r.json);
	http_req_cleanup(&r);
	/* An empty body: only where the route allows one. */
	assert_int_equal(parse("", 1, &r), OK);
	assert_null(r.json);
	http_req_cleanup(&r);
	assert_int_equal(parse("", 0, &r), ERR_INVALID_JSON);
	http_req_cleanup(&r);
}

static void
test_headers_and_fail(void **state)
{
	struct req r;
	char big[HTTP_HDRS_MAX];

	(void)state;
	memset(&r, 0, sizeof(r));
	assert_int_equal(http_header(&r, "X-Auth-User", "u1"), 0);
	assert_int_equal(http_header(&r, "X-Evil", "a\r\nSet-Cookie: x"), -1);
	assert_int_equal(http_header(&r, "X-Evil", "a\nb"), -1);
	assert_int_equal(http_header(&r, "X-Evil: 1\r\nY", "v"), -1);
	assert_int_equal(http_header(&r, "Bad Name", "v"), -1);
	assert_string_equal(r.hdrs, "X-Auth-User: u1\r\n");
	/* What does not fit is refused whole, never cut. */
	memset(big, 'v', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	assert_int_equal(http_header(&r, "X-Big", big), -1);
	assert_string_equal(r.hdrs, "X-Auth-User: u1\r\n");
	/* http_fail: the message for the door, the error back to the caller. */
	assert_int_equal(http_fail(&r, ERR_INVALID_REQUEST, "field '%s' is odd", "x"),
	    ERR_INVALID_REQUEST);
	assert_string_equal(r.why, "field 'x' is odd");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_params),
		cmocka_unit_test(test_bearer),
		cmocka_unit_test(test_queue_age),
		cmocka_unit_test(test_json),
		cmocka_unit_test(test_headers_and_fail),
	};

	return cmocka_run_group_tests_name("http", tests, NULL, NULL);
}
