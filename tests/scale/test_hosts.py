"""Several hosts (issue 13): two wxauth deployments, as two machines would
run them -- each its own `serve`, config, sockets, shared-memory metrics and
log -- behind one nginx upstream, on one PostgreSQL (tests/env.sh with
WXAUTH_HOSTS=2). The guarantees that break first with a second host, tested
through the front nginx and directly against each host (each host has an
nginx of its own in front of its sockets only).

Run by tests/run.sh:
    /usr/bin/python3 tests/integ/run.py ENV_JSON --dir tests/scale --timeout 120
"""

import threading
import time

import lib
import opendata as od
from lib import (check_session_identity, check_token_answer, expect_ok, expect_token_error,
                 expected_openid, expected_unionid, parallel)


def hosts(env):
    """lib.Env of each host, talking to that host's own nginx."""
    out = []
    for h in env.cfg.get("hosts") or []:
        cfg = dict(env.cfg)
        cfg.update({k: h[k] for k in ("base_url", "conf", "log_file", "serve_pid_file",
                                      "fcgi_socket", "dir")})
        out.append(lib.Env(cfg))
    assert len(out) == 2, "this folder needs WXAUTH_HOSTS=2 (env.json has %d hosts)" % len(out)
    return out


def _pid_of(r):
    return r.headers.get("X-Wxauth-Pid") or r.headers.get("X-Worker-Pid")


def _burst(host, fn, n=None):
    return parallel(lambda i: fn(), n or 8 * max(host.workers, 1))


def test_hosts_are_two_pools(env):
    a, b = hosts(env)
    assert a.serve_pid() != b.serve_pid(), "one serve for both hosts"
    assert set(a.worker_pids()).isdisjoint(b.worker_pids())
    assert len(a.worker_pids()) == env.workers and len(b.worker_pids()) == env.workers
    # The front nginx sends requests to both.
    lg = {h: h.log_file for h in (a, b)}
    sizes = {h: len(lib.read_text(p)) for h, p in lg.items()}
    for r in parallel(lambda i: env.req("GET", "/healthz"), 40):
        assert r.status == 200
    grown = [h for h, p in lg.items() if len(lib.read_text(p)) > sizes[h]]
    assert len(grown) == 2, "40 requests through the front reached %d of 2 hosts" % len(grown)


def test_logout_on_one_host_is_refused_by_every_worker_of_the_other(env):
    a, b = hosts(env)
    j = check_token_answer(a.login_ok("mp1", env.person("xlogout")))
    tok = j["access_token"]
    for r in _burst(b, lambda: b.session(tok)):
        check_session_identity(r, user_id=j["user"]["id"])
    for r in _burst(b, lambda: b.req("GET", "/v1/userinfo", token=tok)):
        expect_ok(r, "userinfo on host B before the logout")
    expect_ok(a.logout(tok), "logout on host A")
    t0 = time.monotonic()
    # Every gate worker (the token check) and every main worker (a Bearer
    # route) of host B, within a second.
    lib.expect_refused_everywhere(b, tok, t0)
    for r in _burst(b, lambda: b.req("GET", "/v1/userinfo", token=tok)):
        expect_token_error(r, ("session_revoked",))
    # And through the front, whichever host answers.
    for r in _burst(env, lambda: env.session(tok)):
        expect_token_error(r, ("session_revoked",))


def test_same_code_on_both_hosts_at_once_is_one_wechat_call(env):
    a, b = hosts(env)
    for round_ in range(3):
        person = env.person("xcode")
        code = "%s.%s" % (person, lib.nonce())
        gate = threading.Barrier(2)
        out = {}

        def go(host, key):
            gate.wait()
            out[key] = host.login("mp1", person, code=code)
        ts = [threading.Thread(target=go, args=(h, k)) for h, k in ((a, "a"), (b, "b"))]
        for t in ts:
            t.start()
        for t in ts:
            t.join(30)
        ja, jb = check_token_answer(out["a"]), check_token_answer(out["b"])
        assert env.code_calls(code) == 1, "round %d: the code reached WeChat %d times" % (
            round_, env.code_calls(code))
        assert ja == jb, "round %d: two hosts gave two answers:\n%r\n%r" % (round_, ja, jb)
        openid = expected_openid(env.appid("mp1"), person)
        n = env.sql("SELECT count(*) FROM accounts WHERE openid = %s", openid)
        assert n == [["1"]], "round %d: accounts for the openid: %r" % (round_, n)


def test_one_stable_token_call_for_40_requests_across_hosts(env):
    a, b = hosts(env)
    j = env.signed_in("mp2", prefix="xtok")
    tok, person, appid = j["access_token"], j.person, env.appid("mp2")
    # Every worker of both hosts holds a token the mock knows; then WeChat
    # expires it: every worker of both hosts is refused (40001) at once.
    for h in (a, b):
        od.warm(h, tok)
    assert env.mock("/_mock/expire_token", {"appid": appid}).get("expired") is True
    s0 = od.stats(env)
    rs = parallel(lambda i: od.phone(a if i % 2 else b, tok,
                                     {"code": "%s.%s" % (person, lib.nonce())}), 40)
    for r in rs:
        expect_ok(r, "one of 40 phone requests across two hosts")
    d = od.delta(s0, od.stats(env))
    assert d.get("stable_token") == 1, \
        "40 requests on two hosts after the token expired: %r stable_token calls" % (d,)
    assert set(od.pids_of(a, rs)) & set(a.worker_pids()) and \
        set(od.pids_of(b, rs)) & set(b.worker_pids()), "both hosts should have served"


def test_first_logins_of_one_person_from_two_apps_on_two_hosts_are_one_user(env):
    a, b = hosts(env)
    for round_ in range(3):
        p = env.person("xrace")
        rs = parallel(lambda i: (a, b)[i % 2].login(("mp1", "mp2")[(i // 2) % 2], p), 40)
        for r in rs:
            check_token_answer(r)
        # The answers may name the loser of a merge that happened meanwhile;
        # the database and every token after it name one user.
        n = env.sql("SELECT count(*) FROM users WHERE unionid = %s AND merged_into IS NULL",
                    expected_unionid(p))
        assert n == [["1"]], "round %d: live users of one person: %r" % (round_, n)
        owners = env.sql("SELECT count(DISTINCT user_id) FROM accounts WHERE openid IN (%s, %s)",
                         expected_openid(env.appid("mp1"), p), expected_openid(env.appid("mp2"), p))
        assert owners == [["1"]], "round %d: the two accounts belong to %r users" % (round_, owners)
        survivor = env.sql("SELECT id FROM users WHERE unionid = %s", expected_unionid(p))[0][0]
        t0 = time.monotonic()
        for r in rs[:6]:
            tok = r.json["access_token"]
            lib.wait_until(lambda: b.session(tok).json.get("user", {}).get("id") == survivor,
                           timeout=max(0.1, t0 + 1.0 - time.monotonic()) + 0.5)
            for h in (a, b):
                check_session_identity(h.session(tok), user_id=survivor)


def test_merge_on_one_host_is_seen_on_the_other_within_a_second(env):
    a, b = hosts(env)
    p = env.person("xmerge")
    first = check_token_answer(b.login_ok("mp1", p, directives=("nouid",)))
    check_token_answer(b.login_ok("mp2", p))
    for r in _burst(b, lambda: b.session(first["access_token"])):
        check_session_identity(r, user_id=first["user"]["id"])
    j = check_token_answer(a.login_ok("mp1", p))
    assert j["merged_from"], "the third login should have merged: %r" % j
    survivor = j["user"]["id"]
    t0 = time.monotonic()

    def moved():
        r = b.session(first["access_token"])
        return r.status == 200 and r.json["user"]["id"] == survivor
    assert lib.wait_until(moved, timeout=1.0, interval=0.05), \
        "host B still names the old user 1 s after the merge on host A"
    rest = t0 + 1.0 - time.monotonic()
    if rest > 0:
        time.sleep(rest)
    for r in _burst(b, lambda: b.session(first["access_token"])):
        check_session_identity(r, user_id=survivor, unionid=expected_unionid(p))


def test_profile_written_on_one_host_is_read_on_the_other_within_a_second(env):
    # Host B's workers cache the answer; a PATCH on host A reaches them by
    # NOTIFY only (the shared generation is per host).
    a, b = hosts(env)
    j = check_token_answer(a.login_ok("mp1", env.person("xprof")))
    t = j["access_token"]
    for r in _burst(b, lambda: b.req("GET", "/v1/userinfo", token=t)):
        assert expect_ok(r)["user"]["nickname"] is None, r.describe()
    r = a.req("PATCH", "/v1/userinfo", {"nickname": "host-a"}, token=t)
    assert expect_ok(r)["user"]["nickname"] == "host-a", r.describe()
    t0 = time.monotonic()

    def seen():
        return all(expect_ok(r)["user"]["nickname"] == "host-a"
                   for r in _burst(b, lambda: b.req("GET", "/v1/userinfo", token=t)))
    assert lib.wait_until(seen, timeout=1.0, interval=0.05), \
        "host B still answers the old profile 1 s after the PATCH on host A"
    print("profile seen on the other host after %.3f s" % (time.monotonic() - t0))


def test_returning_login_on_one_host_is_read_on_the_other_within_a_second(env):
    # A returning login's hint goes after its COMMIT, as a statement of its
    # own (db/016_login_lean.sql, db_hint_after), not from the trigger:
    # host B's cached answer shows the new last_login all the same.
    a, b = hosts(env)
    p = env.person("xagain")
    t = check_token_answer(a.login_ok("mp1", p))["access_token"]
    before = {expect_ok(r)["accounts"][0]["last_login"]
              for r in _burst(b, lambda: b.req("GET", "/v1/userinfo", token=t))}
    assert len(before) == 1, before
    time.sleep(1.1)                      # the answer's times are to the second
    check_token_answer(a.login_ok("mp1", p))
    t0 = time.monotonic()

    def seen():
        return all(expect_ok(r)["accounts"][0]["last_login"] not in before
                   for r in _burst(b, lambda: b.req("GET", "/v1/userinfo", token=t)))
    assert lib.wait_until(seen, timeout=1.0, interval=0.05), \
        "host B still answers the old last_login 1 s after a login on host A"
    print("last_login seen on the other host after %.3f s" % (time.monotonic() - t0))


def test_each_hosts_metrics_are_its_own(env):
    import test_metrics as tm
    a, b = hosts(env)
    tok = check_token_answer(a.login_ok("mp1", env.person("xmetrics")))["access_token"]
    ma0, mb0 = tm.scrape(a), tm.scrape(b)
    for _ in range(7):
        assert a.session(tok).status == 200
    ma1, mb1 = tm.scrape(a), tm.scrape(b)
    for m in (ma1, mb1):
        assert m.value("wxauth_workers_alive") == env.workers
        assert m.value("wxauth_gate_workers_alive") == 2
        assert m.value("wxauth_metrics_scope", scope="pool") == 1

    def d(m1, m0):
        return m1.value("wxauth_requests_total", route="session", status=200) - \
            m0.value("wxauth_requests_total", route="session", status=200)
    assert d(ma1, ma0) == 7 and d(mb1, mb0) == 0, \
        "7 checks on host A: A counted %s, B %s" % (d(ma1, ma0), d(mb1, mb0))
