"""WeChat's answers mapped to wxauth's errors, through POST /v1/login.

Each failure must leave the database unchanged and never echo the code."""

import time

from lib import check_token_answer, expect_error, expect_unchanged


def _failing_login(env, directive, status, name):
    """Logs in with one directive; the error answer must be (status, name), nothing stored."""
    before = env.snapshot()
    r = env.login("mp1", env.person("wx"), directives=(directive,))
    j = expect_error(r, status, name)
    assert r.code not in r.text, "the error answer echoes the code: %s" % r.describe()
    expect_unchanged(before, env.snapshot(), "a login failing with %s" % directive)
    return r, j


def test_wx_40029_invalid_code(env):
    r, _ = _failing_login(env, "e40029", 401, "invalid_code")
    assert env.code_calls(r.code) == 1, "40029 is final, no retry: mock saw %d" % env.code_calls(r.code)


def test_wx_40163_code_used(env):
    _failing_login(env, "e40163", 401, "invalid_code")


def test_wx_42003_code_expired(env):
    _failing_login(env, "e42003", 401, "invalid_code")


def test_wx_errcode_as_string(env):
    _failing_login(env, "estr40029", 401, "invalid_code")


def test_wx_40226_risky_user(env):
    _failing_login(env, "e40226", 403, "risky_user")


def test_wx_45011_rate_limited(env):
    r, _ = _failing_login(env, "e45011", 429, "upstream_rate_limited")
    ra = r.headers.get("Retry-After")
    assert ra is not None and ra.strip().isdigit() and int(ra) > 0, \
        "429 upstream_rate_limited needs a Retry-After in seconds: %s %s" % (ra, r.describe())


def test_wx_minus1_retried_once_then_502(env):
    r, _ = _failing_login(env, "e-1", 502, "upstream_unavailable")
    n = env.code_calls(r.code)
    assert n == 2, "-1 should be retried exactly once: the mock saw the code %d times" % n


def test_wx_minus1_once_then_success(env):
    p = env.person("wxonce")
    r = env.login("mp1", p, directives=("once-1",))
    check_token_answer(r)
    n = env.code_calls(r.code)
    assert n == 2, "once-1: one failure plus one retry expected, the mock saw %d calls" % n


def test_wx_html_page(env):
    _failing_login(env, "html", 502, "upstream_unavailable")


def test_wx_truncated_json(env):
    _failing_login(env, "trunc", 502, "upstream_unavailable")


def test_wx_empty_body(env):
    _failing_login(env, "empty", 502, "upstream_unavailable")


def test_wx_slow_beyond_timeout(env):
    t0 = time.monotonic()
    _failing_login(env, "slow5000", 504, "upstream_timeout")
    dt = time.monotonic() - t0
    assert dt < 4.9, "upstream_timeout should come at wechat_timeout_ms (3 s), took %.1fs" % dt


def test_wx_extra_fields_ignored(env):
    p = env.person("wxextra")
    check_token_answer(env.login("mp1", p, directives=("extra",)))


def test_wx_error_then_service_still_answers(env):
    # After the failures, the same worker pool logs people in normally.
    for d in ("e-1", "html", "trunc"):
        env.login("mp1", env.person("wx"), directives=(d,))
    check_token_answer(env.login("mp1", env.person("wxafter")))
