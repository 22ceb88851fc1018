"""wxauth acts only on what it has verified itself (issue 22): a role that may
do nothing but connect to the database forges notifications and listens to
them; the tests check what a user of the gate sees."""

import subprocess
import time

from lib import (burst_session, check_session_identity, expect_ok, expect_unchanged,
                 parallel, wait_until)

INTRUDER = "wxauth_intruder"


def _forge(env, statements):
    env.sql_as(INTRUDER, ";\n".join(statements))


def test_intruder_role_has_no_grant(env):
    """The intruder can connect and NOTIFY, and read nothing: the premise of
    the attacks below (it fails if the role could read a table)."""
    _forge(env, ["NOTIFY wxauth_view"])
    cmd, penv = env.psql_as(INTRUDER)
    p = subprocess.run(cmd, input="SELECT count(*) FROM sessions;\n", env=penv,
                       capture_output=True, text=True, timeout=30)
    assert p.returncode != 0 and "permission denied" in p.stderr, (p.returncode, p.stderr)


def test_forged_notifications_change_no_identity_and_end_no_session(env):
    attacker = env.signed_in("mp1", env.person("atk"))
    victim = env.signed_in("mp1", env.person("vic"))
    vtok, atok = victim["access_token"], attacker["access_token"]
    expect_ok(env.req("PATCH", "/v1/userinfo", {"nickname": "victim-private"}, token=vtok),
              "victim's nickname")
    a, v = attacker["user"]["id"], victim["user"]["id"]
    vsid = env.sid_of(vtok)
    # Every payload the old channels took as a fact, and the new channels
    # with payloads of their own.
    _forge(env, [
        "NOTIFY wxauth_merge, '%s:%s:'" % (a, v),
        "NOTIFY wxauth_revoke, '%s'" % vsid,
        "NOTIFY wxauth_profile, '%s'" % v,
        "NOTIFY wxauth_view, '%s:%s'" % (a, v),
        "NOTIFY wxauth_view, 'm %s %s'" % (a, v),
        "NOTIFY wxauth_profile, '4095'",
        "NOTIFY wxauth_profile, '99999999999999999999'",
    ])
    time.sleep(1.2)     # every worker has read its notifications by now
    for r in burst_session(env, atok):
        check_session_identity(r, user_id=a, openid=attacker["account"]["openid"])
    for r in burst_session(env, vtok):
        check_session_identity(r, user_id=v, openid=victim["account"]["openid"])
    u = expect_ok(env.req("GET", "/v1/userinfo", token=atok), "attacker's userinfo")
    assert u["user"]["id"] == a and u["user"]["nickname"] != "victim-private", u
    # What an order API behind auth_request receives.
    r = env.req("GET", "/demo/orders", token=atok)
    assert r.status == 200, r.describe()
    h = {k.lower(): v for k, v in r.json["headers"].items()}
    assert h.get("x-auth-user") == a, h


def test_a_real_change_still_reaches_every_worker_within_a_second(env):
    """The hint is enough: a logout made by wxauth is refused everywhere."""
    from lib import expect_refused_everywhere
    s = env.signed_in("mp1", env.person("hint"))
    expect_ok(env.req("GET", "/v1/session", token=s["access_token"]))
    t0 = time.monotonic()
    expect_ok(env.logout(s["access_token"]), "logout")
    expect_refused_everywhere(env, s["access_token"], t0)


def test_a_change_made_in_sql_is_seen_too(env):
    """A session ended by an operator's psql (no NOTIFY of its own): the
    trigger's hint and view_log carry it to every worker."""
    from lib import expect_refused_everywhere
    s = env.signed_in("mp1", env.person("psqlrev"))
    t0 = time.monotonic()
    env.sql("UPDATE sessions SET revoked_at = now(), revoke_reason = 'admin' WHERE id = %s",
            env.sid_of(s["access_token"]))
    expect_refused_everywhere(env, s["access_token"], t0)


def test_a_listener_learns_no_id(env):
    """LISTEN on every channel while sessions end, users merge and profiles
    change: no payload holds a session id, a user id or a unionid."""
    cmd, penv = env.psql_as(INTRUDER)
    env.sql_as(INTRUDER, "SELECT 1")
    script = ("LISTEN wxauth_view; LISTEN wxauth_profile; LISTEN wxauth_revoke;"
              " LISTEN wxauth_merge; LISTEN wxauth_event;\n"
              "SELECT pg_sleep(3);\nSELECT 1;\n")
    p = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, env=penv, text=True)
    p.stdin.write(script)
    p.stdin.flush()
    time.sleep(0.5)
    person = env.person("lsn")
    mp = env.signed_in("mp1", person, directives=("nouid",))
    expect_ok(env.req("PATCH", "/v1/userinfo", {"nickname": "heard"}, token=mp["access_token"]))
    oa = env.signed_in("oa", person)                 # merges by unionid
    sids = {env.sid_of(mp["access_token"]), env.sid_of(oa["access_token"])}
    expect_ok(env.logout(oa["access_token"], {"all": True}), "logout all")
    out, err = p.communicate(timeout=30)
    assert p.returncode == 0, err
    heard = [line for line in out.splitlines() if "Asynchronous notification" in line]
    assert heard, "the listener heard nothing: %r" % out
    secrets = {mp["user"]["id"], oa["user"]["id"]} | sids
    if oa["user"].get("unionid"):
        secrets.add(oa["user"]["unionid"])
    for line in heard:
        for s in secrets:
            assert s not in line, "a listener learnt %r: %s" % (s, line)


def test_forged_hint_flood_costs_no_availability(env):
    """A flood of forged hints: every check still answers 200 for a good
    token (each hint costs one indexed read, never a refusal)."""
    s = env.signed_in("mp1", env.person("flood"))
    cmd, penv = env.psql_as(INTRUDER)
    env.sql_as(INTRUDER, "SELECT 1")
    flood = "".join("NOTIFY wxauth_view, '%d';\n" % i for i in range(2000))
    p = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL,
                         stderr=subprocess.PIPE, env=penv, text=True)
    p.stdin.write(flood)
    p.stdin.close()
    deadline = time.monotonic() + 3
    n = 0
    while time.monotonic() < deadline and n < 200:
        check_session_identity(env.session(s["access_token"]), user_id=s["user"]["id"])
        n += 1
    assert p.wait(timeout=30) == 0, p.stderr.read()
    assert wait_until(lambda: env.session(s["access_token"]).status == 200, timeout=2)


def test_admin_routes_answer_only_allowed_addresses(env):
    """With the right admin key, from an address the recipe does not allow
    (127.0.0.2: loopback, but not in its allow list), every admin route,
    the events feed and /metrics are refused by nginx; from 127.0.0.1 they
    answer."""
    s = env.signed_in("mp1", env.person("allow"))
    uid = s["user"]["id"]
    routes = [("GET", "/v1/admin/users?id=" + uid), ("GET", "/v1/events?limit=1"),
              ("GET", "/v1/merges?limit=1"), ("GET", "/metrics"),
              ("POST", "/v1/admin/users/%s/revoke" % uid)]
    before = env.snapshot()
    for method, path in routes:
        r = env.req(method, path, token=env.admin_key, source="127.0.0.2")
        assert r.status == 403, (path, r.describe())
    expect_unchanged(before, env.snapshot(), "admin calls from an address not allowed")
    expect_ok(env.session(s["access_token"]), "not revoked")
    for method, path in routes[:4]:
        expect_ok(env.req(method, path, token=env.admin_key), path)


def test_unlink_racing_a_login_of_that_account(env):
    """DELETE /v1/accounts/{appid} while the same account logs in: the login
    either came first (its session ends with the unlink) or lands on the
    account's new user; never a live session of that account on the old
    user."""
    for i in range(3):
        p = env.person("unrace%d" % i)
        a = env.signed_in("mp1", p)
        env.signed_in("mp2", p)                         # the same user, by unionid
        calls = [lambda: env.req("DELETE", "/v1/accounts/" + env.appid("mp2"),
                                 token=a["access_token"]),
                 lambda: env.login("mp2", p)]
        ru, rl = parallel(lambda k: calls[k](), 2)
        assert ru.status == 200, ru.describe()
        assert rl.status == 200, rl.describe()
        bad = env.sql("SELECT s.id FROM sessions s JOIN accounts x ON x.id = s.account_id"
                      " WHERE x.appid = %s AND x.openid = %s AND s.revoked_at IS NULL"
                      " AND s.user_id <> x.user_id", env.appid("mp2"),
                      rl.json["account"]["openid"])
        assert bad == [], "a live session of the unlinked account on its old user: %s" % bad
        # A token of that login that still works speaks for the account's
        # user now (its own, or the holder of its unionid, README "Unlink").
        r = env.session(rl.json["access_token"])
        if r.status == 200:
            now = env.sql("SELECT user_id FROM accounts WHERE appid = %s AND openid = %s",
                          env.appid("mp2"), rl.json["account"]["openid"])
            assert [[r.json["user"]["id"]]] == now, (r.describe(), now)
