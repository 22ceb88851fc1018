/* Metrics: what the recording functions count shows up in the exposition,
 * with label values escaped, routes of one name folded, histogram buckets
 * cumulative, and the scope of a worker without a pool. Also the shared
 * mapping: counts made by a child process are seen by its parent. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cmocka.h>

#include "metrics.h"
#include "route.h"

static char *
render(void)
{
	size_t len = 0;
	char *text = metrics_render(&len);

	assert_non_null(text);
	assert_int_equal(strlen(text), len);
	assert_true(len > 0 && text[len - 1] == '\n');
	return text;
}

static void
assert_has(const char *text, const char *line)
{
	if (strstr(text, line) == NULL)
		fail_msg("missing from the exposition: %s", line);
}

static void
test_worker_scope_counts_and_escapes(void **state)
{
	char *text;

	(void)state;
	metrics_attach(-1);
	metrics_request(R_SESSION, 200, 0.0003);
	metrics_request(R_SESSION_HEAD, 200, 0.002);
	metrics_request(R__MAX, 404, 0.0001);
	metrics_request(R_LOGIN, 299, 20.0);
	metrics_wechat_call("we\"ird\\api\nx", OK, 0, 0.03);
	metrics_wechat_call("jscode2session", ERR_UPSTREAM_TIMEOUT, 0, 3.0);
	metrics_wechat_call("jscode2session", ERR_UPSTREAM_UNAVAILABLE, 0, 0.004);
	metrics_wechat_call("jscode2session", ERR_INVALID_CODE, 40029, 0.02);
	metrics_wechat_call("jscode2session", ERR_INVALID_CODE, 40029, 0.02);
	metrics_db_query(0.0004);
	metrics_db_query(0.007);
	metrics_merge("unionid");
	metrics_merge("something else");
	metrics_db_error(MDB_LOST);
	metrics_token_refresh();
	text = render();
	assert_has(text, "# TYPE wxauth_requests_total counter\n");
	assert_has(text, "wxauth_requests_total{route=\"session\",status=\"200\"} 2\n");
	assert_has(text, "wxauth_requests_total{route=\"unmatched\",status=\"404\"} 1\n");
	assert_has(text, "wxauth_requests_total{route=\"login\",status=\"other\"} 1\n");
	assert_has(text, "wxauth_request_duration_seconds_bucket{route=\"session\",le=\"0.0005\"} 1\n");
	assert_has(text, "wxauth_request_duration_seconds_bucket{route=\"session\",le=\"0.0025\"} 2\n");
	assert_has(text, "wxauth_request_duration_seconds_bucket{route=\"session\",le=\"+Inf\"} 2\n");
	assert_has(text, "wxauth_request_duration_seconds_count{route=\"session\"} 2\n");
	assert_has(text, "wxauth_request_duration_seconds_bucket{route=\"login\",le=\"10\"} 0\n");
	assert_has(text, "wxauth_request_duration_seconds_bucket{route=\"login\",le=\"+Inf\"} 1\n");
	assert_has(text, "wxauth_wechat_calls_total{api=\"we\\\"ird\\\\api\\nx\",errcode=\"0\"} 1\n");
	assert_has(text, "wxauth_wechat_calls_total{api=\"jscode2session\",errcode=\"timeout\"} 1\n");
	assert_has(text, "wxauth_wechat_calls_total{api=\"jscode2session\",errcode=\"unavailable\"} 1\n");
	assert_has(text, "wxauth_wechat_calls_total{api=\"jscode2session\",errcode=\"40029\"} 2\n");
	/* One latency histogram per api, whatever the outcome of each call. */
	assert_has(text, "# TYPE wxauth_wechat_call_duration_seconds histogram\n");
	assert_has(text, "wxauth_wechat_call_duration_seconds_bucket{api=\"jscode2session\",le=\"0.005\"} 1\n");
	assert_has(text, "wxauth_wechat_call_duration_seconds_bucket{api=\"jscode2session\",le=\"0.025\"} 3\n");
	assert_has(text, "wxauth_wechat_call_duration_seconds_bucket{api=\"jscode2session\",le=\"2.5\"} 3\n");
	assert_has(text, "wxauth_wechat_call_duration_seconds_bucket{api=\"jscode2session\",le=\"5\"} 4\n");
	assert_has(text, "wxauth_wechat_call_duration_seconds_count{api=\"jscode2session\"} 4\n");
	assert_has(text, "wxauth_wechat_call_duration_seconds_sum{api=\"jscode2session\"} 3.044000000\n");
	assert_has(text, "wxauth_wechat_call_duration_seconds_count{api=\"we\\\"ird\\\\api\\nx\"} 1\n");
	assert_has(text, "# TYPE wxauth_db_query_duration_seconds histogram\n");
	assert_has(text, "wxauth_db_query_duration_seconds_bucket{le=\"0.0005\"} 1\n");
	assert_has(text, "wxauth_db_query_duration_seconds_bucket{le=\"0.005\"} 1\n");
	assert_has(text, "wxauth_db_query_duration_seconds_bucket{le=\"0.01\"} 2\n");
	assert_has(text, "wxauth_db_query_duration_seconds_count 2\n");
	assert_has(text, "wxauth_merges_total{reason=\"unionid\"} 1\n");
	assert_has(text, "wxauth_merges_total{reason=\"other\"} 1\n");
	assert_has(text, "wxauth_db_errors_total{kind=\"connection_lost\"} 1\n");
	assert_has(text, "wxauth_wechat_token_refreshes_total 1\n");
	assert_has(text, "wxauth_workers_alive 1\n");
	assert_has(text, "wxauth_metrics_scope{scope=\"worker\"} 1\n");
	free(text);
}

static void
test_pool_scope_sums_the_slots(void **state)
{
	char *text;
	pid_t pid;
	int status = -1;

	(void)state;
	assert_int_equal(metrics_init(4), 0);
	metrics_workers(2, 2);
	metrics_attach(0);
	metrics_request(R_HEALTHZ, 200, 0.001);
	pid = fork();
	assert_true(pid != -1);
	if (pid == 0) {
		metrics_attach(1);
		metrics_request(R_HEALTHZ, 200, 0.001);
		metrics_request(R_HEALTHZ, 200, 0.001);
		metrics_wechat_call("stable_token", OK, 0, 0.01);
		metrics_db_query(0.001);
		_exit(0);
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	metrics_restart(MR_RECYCLED);
	text = render();
	assert_has(text, "wxauth_requests_total{route=\"healthz\",status=\"200\"} 3\n");
	assert_has(text, "wxauth_wechat_calls_total{api=\"stable_token\",errcode=\"0\"} 1\n");
	assert_has(text, "wxauth_wechat_call_duration_seconds_count{api=\"stable_token\"} 1\n");
	assert_has(text, "wxauth_db_query_duration_seconds_count 1\n");
	assert_has(text, "wxauth_worker_restarts_total{reason=\"recycled\"} 1\n");
	assert_has(text, "wxauth_workers_alive 2\n");
	assert_has(text, "wxauth_metrics_scope{scope=\"pool\"} 1\n");
	free(text);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_worker_scope_counts_and_escapes),
		cmocka_unit_test(test_pool_scope_sums_the_slots),
	};

	/* As every worker does: the front hands the route names to metrics. */
	metrics_routes(route_names(), R__MAX);
	return cmocka_run_group_tests_name("metrics", tests, NULL, NULL);
}
