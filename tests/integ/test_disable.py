"""A user disabled by the shop's staff (POST /v1/admin/users/{id}/disable,
/enable; issue 27): every session ends at once, on every worker; logins
and refreshes answer 403 user_disabled and store nothing; nothing is
deleted; enabling restores login. And an app's sign-up policy
(signup = closed): a new person is refused, a known one is not."""

from lib import check_token_answer, expect_error, expect_token_error, wait_until
from test_pool import _conf_text, _reload, _write_conf


def _admin(env, user_id, what):
    return env.req("POST", "/v1/admin/users/%s/%s" % (user_id, what), {}, token=env.admin_key)


def test_disable_ends_every_session_and_refuses_login_and_refresh(env):
    p = env.person("dis")
    a = check_token_answer(env.login_ok("mp1", p))
    b = check_token_answer(env.login_ok("mp1", p))
    uid = a["user"]["id"]
    r = _admin(env, uid, "disable")
    assert r.status == 200 and r.json == {"disabled": True, "revoked": 2}, r.describe()
    # At once, on the gate and the main pool (every worker: the same view).
    for tok in (a["access_token"], b["access_token"]):
        wait_until(lambda: env.session(tok).status == 401, timeout=1.5,
                   msg="a disabled user's token still passes")
        for _ in range(env.workers * 2):
            expect_token_error(env.session(tok), ("session_revoked",))
            expect_token_error(env.req("GET", "/v1/userinfo", token=tok), ("session_revoked",))
    before = env.snapshot()
    expect_error(env.refresh(a["refresh_token"]), 403, "user_disabled")
    expect_error(env.login("mp1", p), 403, "user_disabled")
    after = env.snapshot()
    # Nothing stored but the code used (it never goes to WeChat again).
    assert {k: v for k, v in after.items() if k != "login_codes"} == \
        {k: v for k, v in before.items() if k != "login_codes"}
    # Nothing deleted; the admin look-up says so.
    u = env.req("GET", "/v1/admin/users?id=" + uid, token=env.admin_key).json
    assert u["user"]["id"] == uid and u["user"]["disabled_at"], u
    assert env.sql("SELECT event FROM audit_log WHERE user_id = %s AND event = 'user_disabled'",
                   uid) == [["user_disabled"]]
    # Twice is harmless; then enabled: login again, a new session.
    assert _admin(env, uid, "disable").json == {"disabled": True, "revoked": 0}
    assert _admin(env, uid, "enable").json == {"disabled": False, "revoked": 0}
    again = check_token_answer(env.login_ok("mp1", p))
    assert again["user"]["id"] == uid and env.session(again["access_token"]).status == 200
    # The old tokens stay refused: enabling restores login, not old sessions.
    expect_token_error(env.session(a["access_token"]), ("session_revoked",))


def test_disable_refusals(env):
    before = env.snapshot()
    expect_error(_admin(env, "00000000-0000-4000-8000-000000000000", "disable"), 404, "not_found")
    expect_error(_admin(env, "not-a-uuid", "disable"), 404, "not_found")
    assert env.snapshot() == before
    # Without the admin key: refused (and, as every admin refusal, counted).
    r = env.req("POST", "/v1/admin/users/00000000-0000-4000-8000-000000000000/disable", {})
    assert r.status in (401, 403), r.describe()


def test_signup_closed_refuses_only_new_people(env):
    known = env.person("known")
    check_token_answer(env.login_ok("mp1", known))
    orig = _conf_text(env)
    try:
        text = orig.replace("[app mp1]\n", "[app mp1]\nsignup = closed\n", 1) \
            .replace("[app mp2]\n", "[app mp2]\nsignup = closed\n", 1)
        assert text.count("signup = closed") == 2
        _write_conf(env, text)
        _reload(env)
        before = env.snapshot()
        expect_error(env.login("mp1", env.person("newcomer")), 403, "signup_closed")
        assert {k: v for k, v in env.snapshot().items() if k != "login_codes"} == \
            {k: v for k, v in before.items() if k != "login_codes"}
        # A person the shop knows logs in.
        check_token_answer(env.login_ok("mp1", known))
        # So does a known person's first login in another closed app (their
        # unionid names the user the shop knows).
        check_token_answer(env.login_ok("mp2", known))
    finally:
        _write_conf(env, orig)
        _reload(env)
    check_token_answer(env.login_ok("mp1", env.person("newcomer")))
