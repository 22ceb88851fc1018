"""What a login code and a refresh token can each do, and for how long
(issue 8): a code opens one session, a retry gets that very answer, a used
code proves nothing; a refresh retried within the grace gets the same pair."""

import time

from lib import (check_session_identity, check_token_answer, expect_error, expect_ok,
                 expect_unchanged, parallel)


def _window(env, name):
    return float(env.conf_value(name, "5"))


def _link(env, token, app, code):
    return env.req("POST", "/v1/link", {"appid": env.appid(app), "code": code}, token=token)


def test_a_retried_code_gets_the_very_first_answer(env):
    p = env.person("retry")
    r1 = env.login("mp1", p)
    j1 = check_token_answer(r1)
    r2 = env.login("mp1", p, code=r1.code)
    j2 = check_token_answer(r2)
    assert j2 == j1, "a retry must get the first answer itself: %s / %s" % (j1, j2)
    sid = check_session_identity(env.session(j1["access_token"]))["session_id"]
    rows = env.sql("SELECT count(*) FROM sessions s JOIN accounts a ON a.id = s.account_id"
                   " WHERE a.openid = %s", j1["account"]["openid"])
    assert rows[0][0] == "1", "one code, one session: %s sessions" % rows[0][0]
    assert env.code_calls(r1.code) == 1, "the code reached WeChat %d times" % env.code_calls(r1.code)
    # After the window the code is spent: invalid_code, nothing stored, no call.
    time.sleep(_window(env, "login_replay_window") + 1.2)
    before = env.snapshot()
    r3 = env.login("mp1", p, code=r1.code)
    expect_error(r3, 401, "invalid_code")
    expect_unchanged(before, env.snapshot(), "a spent code")
    assert env.code_calls(r1.code) == 1
    check_session_identity(env.session(j1["access_token"]), user_id=j1["user"]["id"])
    assert sid


def test_concurrent_retries_of_a_code_get_one_answer(env):
    p = env.person("dbltap")
    code = "%s.slow600.n%d" % (p, time.monotonic_ns())
    rs = parallel(lambda i: env.login("mp1", p, code=code), 6)
    js = [check_token_answer(r) for r in rs]
    assert all(j == js[0] for j in js), "one code, one answer: %s" % [j["access_token"][-8:] for j in js]
    assert env.code_calls(code) == 1


def test_link_refuses_a_used_code(env):
    victim = env.person("victim")
    attacker = env.person("attacker")
    v = env.login("mp2", victim, directives=("nouid",))
    check_token_answer(v)
    a = check_token_answer(env.login_ok("mp1", attacker, directives=("nouid",)))
    calls = env.wx_calls()
    before = env.snapshot()
    # The victim's used code, in the attacker's link: refused, nothing moves.
    r = _link(env, a["access_token"], "mp2", v.code)
    expect_error(r, 401, "invalid_code")
    expect_unchanged(before, env.snapshot(), "link with a used code")
    assert env.wx_calls() == calls, "a used code must not reach WeChat"
    # Also the caller's own used code.
    own = env.login("mp2", attacker, directives=("nouid",))
    check_token_answer(own)
    before = env.snapshot()
    expect_error(_link(env, a["access_token"], "mp2", own.code), 401, "invalid_code")
    expect_unchanged(before, env.snapshot(), "link with one's own used code")


def test_login_refuses_a_code_a_link_used(env):
    p = env.person("linked")
    a = check_token_answer(env.login_ok("mp1", p, directives=("nouid",)))
    code = "%s.nouid.n%d" % (p, time.monotonic_ns())
    expect_ok(_link(env, a["access_token"], "mp2", code), "link")
    before = env.snapshot()
    expect_error(env.login("mp2", p, code=code), 401, "invalid_code")
    expect_unchanged(before, env.snapshot(), "login with a code a link used")


def test_concurrent_refreshes_get_one_working_pair(env):
    j0 = check_token_answer(env.login_ok("mp1", env.person("flaky")))
    rs = parallel(lambda i: env.refresh(j0["refresh_token"]), 20)
    bad = [r for r in rs if r.status != 200]
    assert not bad, "%d of 20 concurrent refreshes refused: %s" % (len(bad), bad[0].describe())
    js = [check_token_answer(r, login=False) for r in rs]
    assert all(j == js[0] for j in js), "every retry must get the same pair"
    # The pair works: the access token checks, the refresh token rotates.
    check_session_identity(env.session(js[0]["access_token"]), user_id=j0["user"]["id"])
    j2 = check_token_answer(env.refresh(js[0]["refresh_token"]), login=False)
    check_session_identity(env.session(j2["access_token"]), user_id=j0["user"]["id"])


def test_a_stale_retry_within_the_grace_changes_nothing(env):
    j0 = check_token_answer(env.login_ok("mp1", env.person("stale")))
    j1 = check_token_answer(env.refresh(j0["refresh_token"]), login=False)
    j2 = check_token_answer(env.refresh(j1["refresh_token"]), login=False)
    # j0's retry would hand out j1's refresh token, which is spent: refused,
    # and the session goes on.
    before = env.snapshot()
    expect_error(env.refresh(j0["refresh_token"]), 401, "invalid_token")
    expect_unchanged(before, env.snapshot(), "a stale retry")
    check_session_identity(env.session(j2["access_token"]), user_id=j0["user"]["id"])
    check_token_answer(env.refresh(j2["refresh_token"]), login=False)


def test_a_retry_after_logout_is_refused(env):
    j0 = check_token_answer(env.login_ok("mp1", env.person("rlo2")))
    check_token_answer(env.refresh(j0["refresh_token"]), login=False)
    expect_ok(env.logout(j0["access_token"], {"all": True}), "logout all")
    expect_error(env.refresh(j0["refresh_token"]), 401, "session_revoked")


def test_token_of_a_removed_app_is_refused(env):
    j = check_token_answer(env.login_ok("mp1", env.person("gone")))
    s = check_session_identity(env.session(j["access_token"]))
    tok = env.mint(env.claims(s, app="wx9999999999999999"))
    expect_error(env.session(tok), 401, "invalid_token")
