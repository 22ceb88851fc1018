"""POST /v1/login: accounts, users, unionid links, idempotent codes, session_key secrecy."""

import base64
import os
import time

from lib import (check_session_identity, check_token_answer, expect_error,
                 expect_ok, expect_unchanged, expected_openid, expected_unionid, nonce, parallel,
                 read_text, remember, session_key_forms)


def test_login_new_person(env):
    p = env.person("alice")
    appid = env.appid("mp1")
    r = env.login("mp1", p)
    j = check_token_answer(r, appid=appid, openid=expected_openid(appid, p))
    assert j["user"]["created"] is True, "a new person should have user.created true: %s" % r.describe()
    assert j["user"]["unionid"] == expected_unionid(p), \
        "unionid %r, expected the mock's %r" % (j["user"]["unionid"], expected_unionid(p))
    assert j["merged_from"] == [], "merged_from should be []: %s" % r.describe()
    assert env.code_calls(r.code) == 1, "the code should reach WeChat once: %s" % env.stats()
    # The access token it hands out works.
    check_session_identity(env.session(j["access_token"]), user_id=j["user"]["id"],
                           appid=appid, openid=j["account"]["openid"],
                           unionid=j["user"]["unionid"], check_unionid=True)


def test_login_new_users_ids_are_in_time_order(env):
    """A new user's id is a UUIDv7 (db/013_ordered_keys.sql): its first 48
    bits are the time it was made, so a year of users does not scatter
    every login's inserts over the indexes on user ids (issue 28)."""
    ids = []
    for name in ("v7a", "v7b", "v7c"):
        t0 = time.time()
        j = check_token_answer(env.login("mp1", env.person(name)))
        t1 = time.time()
        u = j["user"]["id"].replace("-", "")
        assert u[12] == "7" and u[16] in "89ab", "user id %s is not a UUIDv7" % j["user"]["id"]
        ms = int(u[:12], 16)
        assert t0 * 1000 - 2000 <= ms <= t1 * 1000 + 2000, \
            "user id %s says %d ms, made between %d and %d" % (u, ms, t0 * 1000, t1 * 1000)
        ids.append(u)
        time.sleep(0.002)
    assert ids == sorted(ids), "ids made one after another should sort in that order: %s" % ids


def test_login_same_person_again(env):
    p = env.person("bob")
    first = check_token_answer(env.login("mp1", p))
    r = env.login("mp1", p)
    again = check_token_answer(r)
    assert again["user"]["id"] == first["user"]["id"], \
        "same person, new code: same user expected, got %s vs %s" % (first["user"]["id"], again["user"]["id"])
    assert again["user"]["created"] is False, "second login should have created false: %s" % r.describe()
    assert again["account"] == first["account"], \
        "same account expected: %s vs %s" % (first["account"], again["account"])
    assert again["access_token"] != first["access_token"], "a new login should get a new access token"
    assert again["refresh_token"] != first["refresh_token"], "a new login should get a new refresh token"


def test_login_without_unionid(env):
    p = env.person("carol")
    r = env.login("mp1", p, directives=("nouid",))
    j = check_token_answer(r, openid=expected_openid(env.appid("mp1"), p))
    assert j["user"]["unionid"] is None, "nouid: unionid should be null: %s" % r.describe()
    assert j["user"]["created"] is True, "new person: created true: %s" % r.describe()
    s = check_session_identity(env.session(j["access_token"]), user_id=j["user"]["id"],
                               unionid=None, check_unionid=True)
    assert s["user"]["unionid"] is None, "session unionid should be null: %s" % s


def test_login_links_miniprograms_by_unionid(env):
    p = env.person("dave")
    a1, a2 = env.appid("mp1"), env.appid("mp2")
    j1 = check_token_answer(env.login("mp1", p), appid=a1, openid=expected_openid(a1, p))
    r2 = env.login("mp2", p)
    j2 = check_token_answer(r2, appid=a2, openid=expected_openid(a2, p))
    assert j1["user"]["id"] == j2["user"]["id"], \
        "same unionid in mp1 and mp2 should be one user: %s vs %s" % (j1["user"], j2["user"])
    assert j1["account"]["openid"] != j2["account"]["openid"], "two apps, two openids expected"
    assert j2["user"]["created"] is False, "the user already existed: %s" % r2.describe()
    assert j2["user"]["unionid"] == expected_unionid(p), "unionid: %s" % r2.describe()
    assert j2["merged_from"] == [], "a link to an existing user is not a merge: %s" % r2.describe()
    # Each session carries its own account, the same user.
    check_session_identity(env.session(j1["access_token"]), user_id=j1["user"]["id"],
                           appid=a1, openid=j1["account"]["openid"])
    check_session_identity(env.session(j2["access_token"]), user_id=j1["user"]["id"],
                           appid=a2, openid=j2["account"]["openid"])


def test_login_unionid_appearing_later_joins_its_user(env):
    # WECHAT.md: a unionid can be absent at first and appear later for the same
    # account; the account then joins the user that already holds the unionid.
    p = env.person("erin")
    a1 = env.appid("mp1")
    holder = check_token_answer(env.login("mp2", p))
    bare = check_token_answer(env.login("mp1", p, directives=("nouid",)))
    assert bare["user"]["unionid"] is None, "nouid login: %s" % bare
    later_r = env.login("mp1", p)
    later = check_token_answer(later_r, appid=a1, openid=expected_openid(a1, p))
    assert later["user"]["id"] == holder["user"]["id"], \
        "the mp1 account should join the user holding the unionid %s, got %s" % (
            holder["user"]["id"], later_r.describe())
    assert later["user"]["unionid"] == expected_unionid(p), later_r.describe()
    assert later["merged_from"] in ([], [bare["user"]["id"]]), \
        "merged_from should be [] or the bare user: %s" % later_r.describe()


def test_login_appid_left_out_with_many_apps(env):
    assert len(env.apps) > 1, "the test env should configure several apps"
    before, calls = env.snapshot(), env.wx_calls()
    r = env.login(None, env.person("frank"))
    j = expect_error(r, 400, "unknown_app")
    assert "%d apps are configured" % len(env.apps) in j["message"] and "appid" in j["message"], j
    assert env.wx_calls() == calls, "WeChat must not be called: %s" % env.stats()
    expect_unchanged(before, env.snapshot(), "login without appid")


def test_login_unknown_appid(env):
    before, calls = env.snapshot(), env.wx_calls()
    for appid in ("wx0000000000000000", "", "WX1111111111111111"):
        r = env.req("POST", "/v1/login", {"appid": appid, "code": "gina." + nonce()})
        if appid == "":
            # An empty appid is either not configured or not a valid value.
            expect_error(r, 400, ("unknown_app", "invalid_request"))
        else:
            expect_error(r, 400, "unknown_app")
    assert env.wx_calls() == calls, "WeChat must not be called: %s" % env.stats()
    expect_unchanged(before, env.snapshot(), "login with an unknown appid")


def test_login_every_miniprogram_app(env):
    p = env.person("hank")
    for name in ("mp1", "mp2", "demo"):
        appid = env.appid(name)
        check_token_answer(env.login(name, p), appid=appid, openid=expected_openid(appid, p))


def test_login_json_with_charset(env):
    p = env.person("ivan")
    r = env.login("mp1", p, headers={"Content-Type": "application/json; charset=utf-8"})
    check_token_answer(r)


def test_login_code_of_128_characters(env):
    p = env.person("judy")
    base = p + ".n"
    code = base + "a" * (128 - len(base))
    assert len(code) == 128
    check_token_answer(env.login("mp1", p, code=code))


def test_login_same_code_concurrently_goes_to_wechat_once(env):
    p = env.person("kate")
    code = "%s.slow700.%s" % (p, nonce())
    rs = parallel(lambda i: env.login("mp1", p, code=code), 2)
    js = [check_token_answer(r) for r in rs]
    assert js[0]["user"]["id"] == js[1]["user"]["id"], "same code, same user: %s / %s" % (js[0], js[1])
    assert js[0]["account"] == js[1]["account"], "same code, same account: %s / %s" % (js[0], js[1])
    assert env.code_calls(code) == 1, \
        "the code must reach WeChat once, mock saw it %d times" % env.code_calls(code)


def test_login_same_code_again_within_60s(env):
    p = env.person("liam")
    r1 = env.login("mp1", p)
    j1 = check_token_answer(r1)
    time.sleep(0.2)
    r2 = env.login("mp1", p, code=r1.code)
    j2 = check_token_answer(r2)
    assert j2["user"]["id"] == j1["user"]["id"] and j2["account"] == j1["account"], \
        "a retried code should give the same user and account: %s / %s" % (r1.describe(), r2.describe())
    assert env.code_calls(r1.code) == 1, \
        "a retried code must not reach WeChat again (40163): mock saw it %d times" % env.code_calls(r1.code)


def _idle_advisory_locks(env):
    """Advisory locks held by sessions that are doing nothing: a lock a
    request left behind (a transaction's own go with it)."""
    return int(env.sql("SELECT count(*) FROM pg_locks l JOIN pg_stat_activity a"
                       " ON a.pid = l.pid WHERE l.locktype = 'advisory' AND l.granted"
                       " AND a.state = 'idle'")[0][0])


def test_no_login_leaves_its_code_locked(env):
    """The lock on a login's code (held across the call to WeChat) goes
    with the login's COMMIT, in its round trip (db.c), or after any
    refusal: after logins that succeed, are replayed, are refused by
    WeChat, link, and are refused by the store (a disabled user), no
    worker holds one."""
    assert _idle_advisory_locks(env) == 0, "a lock was left before this test"
    p = env.person("lock")
    first = env.login_ok("mp1", p)
    j = check_token_answer(env.login("mp1", p, code=first.code))
    assert j["user"]["id"] == first.json["user"]["id"], "the replay is the stored answer"
    expect_error(env.login("mp1", env.person("lock"), directives=("e40029",)), 401, "invalid_code")
    link = lambda code: env.req("POST", "/v1/link", {"appid": env.appid("mp2"), "code": code},
                                token=first.json["access_token"])
    code = "%s.nouid.%s" % (env.person("lock"), nonce())
    expect_ok(link(code), "a link")
    expect_error(link(code), 401, "invalid_code")
    off = env.person("lock")
    uid = env.login_ok("mp1", off).json["user"]["id"]
    expect_ok(env.req("POST", "/v1/admin/users/%s/disable" % uid, {}, token=env.admin_key),
              "disable")
    expect_error(env.login("mp1", off), 403, "user_disabled")
    time.sleep(0.2)
    assert _idle_advisory_locks(env) == 0, "a login left its code locked"


def test_every_session_and_code_names_its_user_and_account(env):
    """db/016_login_lean.sql dropped the foreign keys of sessions and login
    codes (a query and a row lock a login each): what they guarded is
    checked here, over every row the tests before this one wrote, and a
    new person's login, a returning one and a second app's of its own."""
    p = env.person("fkcheck")
    first = check_token_answer(env.login("mp1", p))
    check_token_answer(env.login("mp1", p))
    check_token_answer(env.login("mp2", p))
    mine = env.sql("SELECT count(*) FROM sessions WHERE user_id = %s", first["user"]["id"])
    assert mine == [["3"]], "this test's three sessions: %r" % (mine,)
    bad = env.sql(
        "SELECT 'session ' || s.id FROM sessions s LEFT JOIN users u ON u.id = s.user_id"
        " LEFT JOIN accounts a ON a.id = s.account_id"
        " WHERE u.id IS NULL OR a.id IS NULL"
        " UNION ALL SELECT 'code of account ' || c.account_id FROM login_codes c"
        " WHERE NOT EXISTS (SELECT 1 FROM accounts a WHERE a.id = c.account_id)")
    assert bad == [], "rows naming no user or account: %r" % (bad,)


def test_login_never_reveals_session_key(env):
    p = env.person("mona")
    code = "%s.%s" % (p, nonce())
    sk = base64.b64encode(os.urandom(16)).decode()
    remember("session_key", sk)
    env.mock_script(code, session_key=sk)
    r = env.login("mp1", p, code=code)
    j = check_token_answer(r)
    forms = session_key_forms(sk)
    rs = [r, env.session(j["access_token"]), env.refresh(j["refresh_token"])]
    for resp in rs:
        blob = resp.text + "\n" + "\n".join("%s: %s" % kv for kv in resp.headers.items())
        for f in forms:
            assert f not in blob, "the session_key (%s...) is in the answer to %s %s" % (
                f[:6], resp.method, resp.path)
    time.sleep(0.3)  # let the worker write its log line
    log = read_text(env.log_file)
    for f in forms:
        assert f not in log, "the session_key (%s...) is in %s" % (f[:6], env.log_file)
    assert code not in log, "the login code is in %s" % env.log_file


def test_database_keeps_no_clear_session_key_or_refresh_token(env):
    p = env.person("nina")
    code = "%s.%s" % (p, nonce())
    sk = base64.b64encode(os.urandom(16)).decode()
    remember("session_key", sk)
    env.mock_script(code, session_key=sk)
    j = check_token_answer(env.login("mp1", p, code=code))
    rt = j["refresh_token"]
    raw_rt = base64.urlsafe_b64decode(rt + "=")
    dump = env.dump()
    assert j["account"]["openid"] in dump, "the dump should hold the new account (sanity check)"
    for f in session_key_forms(sk):
        assert f not in dump, "the session_key is stored in clear (%s...)" % f[:6]
    for f in (rt, raw_rt.hex(), base64.b64encode(raw_rt).decode().rstrip("=")):
        assert f not in dump, "the refresh token is stored in clear (%s...)" % f[:6]
