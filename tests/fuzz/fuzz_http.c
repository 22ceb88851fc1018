/* fuzz_http: a request's CGI parameters (method, URI, query, cookies,
 * Authorization, request id, address) as nginx would pass them, parsed by
 * http_req_init; then the bearer token and every cookie name ours reads. */
#include <fcgiapp.h>

#include "fuzz.h"
#include "http.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const names[] = {"REQUEST_METHOD=", "REQUEST_URI=",
	    "QUERY_STRING=", "HTTP_COOKIE=", "HTTP_AUTHORIZATION=", "HTTP_X_REQUEST_ID=",
	    "REMOTE_ADDR=", "CONTENT_TYPE=", "CONTENT_LENGTH=", "HTTP_USER_AGENT="};
	enum { N = sizeof(names) / sizeof(names[0]) };
	char *env[N + 1], out[128];
	FCGX_Request f;
	struct req r;
	size_t i, at = 0, end, n;

	/* The input, cut at '\n', is the values in that order. */
	for (i = 0; i < N; i++) {
		for (end = at; end < size && data[end] != '\n'; end++)
			;
		n = strlen(names[i]);
		if ((env[i] = malloc(n + (end - at) + 1)) == NULL)
			abort();
		memcpy(env[i], names[i], n);
		memcpy(env[i] + n, data + at, end - at);
		env[i][n + end - at] = '\0';
		at = end < size ? end + 1 : size;
	}
	env[N] = NULL;
	memset(&f, 0, sizeof(f));
	f.envp = env;
	http_req_init(&r, &f);
	(void)http_bearer(&r);
	for (i = 0; i < 3; i++) {
		static const char *const cookies[] = {"wxauth_oauth", "wxauth_bind", "x"};
		if (http_cookie(&r, cookies[i], out, sizeof(out)) == 1)
			FUZZ_CHECK(strlen(out) < sizeof(out));
	}
	FUZZ_CHECK(strlen(r.path) < sizeof(r.path));
	http_req_cleanup(&r);
	for (i = 0; i < N; i++)
		free(env[i]);
	return 0;
}
