#!/usr/bin/python3
"""The smoke suite of the deploy tests: what a deployment must do, end to end,
through whatever front server it has (nginx, Apache).

    /usr/bin/python3 tests/deploy/smoke.py ENV_JSON [--base-url URL] [--scope pool|worker]

ENV_JSON is what tests/env.sh wrote; --base-url replaces its nginx URL (to go
through Apache instead). Prints one line per check and, last,
"N passed, N failed"; exit status 1 if any failed.
"""

import argparse
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
INTEG = os.path.join(os.path.dirname(HERE), "integ")
sys.path.insert(0, INTEG)
sys.dont_write_bytecode = True

import lib  # noqa: E402
from lib import (check_session_identity, check_token_answer, expect_ok,  # noqa: E402
                 expect_token_error, wait_until)
from run import run_one  # noqa: E402
import test_metrics  # noqa: E402

STATE = {}


def check_health(env):
    expect_ok(env.req("GET", "/healthz"), "GET /healthz")
    expect_ok(env.req("GET", "/readyz"), "GET /readyz")


def check_login(env):
    r = env.login_ok("mp1", env.person("smoke"))
    j = check_token_answer(r, appid=env.appid("mp1"))
    STATE["login"] = j


def check_session(env):
    j = STATE["login"]
    # The Bearer header must reach wxauth: a 200 with the identity proves it.
    r = env.session(j["access_token"])
    check_session_identity(r, user_id=j["user"]["id"], appid=env.appid("mp1"),
                           openid=j["account"]["openid"])
    expect_token_error(env.session("v4.local.not-a-token"), ("invalid_token",))
    expect_token_error(env.req("GET", "/v1/session"), ("invalid_token",))


def check_userinfo(env):
    j = STATE["login"]
    r = env.req("GET", "/v1/userinfo", token=j["access_token"])
    if r.status == 404 and isinstance(r.json, dict) and r.json.get("error") == "not_found":
        print("     (GET /v1/userinfo is not served by this build: skipped)")
        return
    expect_ok(r, "GET /v1/userinfo")
    assert j["user"]["id"] in r.text, "userinfo does not name the user: %s" % r.describe()


def check_refresh(env):
    j = STATE["login"]
    r = env.refresh(j["refresh_token"])
    n = check_token_answer(r, login=False)
    assert n["refresh_token"] != j["refresh_token"]
    STATE["login"] = dict(j, access_token=n["access_token"], refresh_token=n["refresh_token"])


def check_logout(env):
    j = STATE["login"]
    r = env.logout(j["access_token"])
    assert r.status == 200 and r.json == {"revoked": 1}, "logout: %s" % r.describe()

    def refused():
        x = env.session(j["access_token"])
        return x if x.status == 401 else None
    x = wait_until(refused, timeout=2, msg="the token still works after logout")
    expect_token_error(x, ("session_revoked",))


def check_metrics(env, scope):
    r = env.req("GET", "/metrics")
    assert r.status == 200, "GET /metrics: %s" % r.describe()
    e = test_metrics.parse(r.text)
    assert e.value("wxauth_metrics_scope", scope=scope) == 1, \
        "metrics scope should be %s" % scope
    assert sum(v for _, v in e.series("wxauth_requests_total")) > 0


def main(argv=None):
    ap = argparse.ArgumentParser()
    ap.add_argument("env_json")
    ap.add_argument("--base-url")
    ap.add_argument("--scope", default="pool")
    ap.add_argument("--no-metrics", action="store_true",
                    help="the front server keeps /metrics off the web (shared hosting)")
    args = ap.parse_args(argv)
    env = lib.Env.load(args.env_json)
    if args.base_url:
        cfg = dict(env.cfg, base_url=args.base_url)
        env = lib.Env(cfg)
    checks = [check_health, check_login, check_session, check_userinfo, check_refresh,
              check_logout, lambda e: check_metrics(e, args.scope)]
    names = ["health", "login", "session", "userinfo", "refresh", "logout", "metrics"]
    if args.no_metrics:
        checks, names = checks[:-1], names[:-1]
    passed = failed = 0
    for name, fn in zip(names, checks):
        ok, msg, tb, dt = run_one(fn, env, 60)
        if ok:
            passed += 1
            print("ok   smoke::%s (%.2fs)" % (name, dt), flush=True)
        else:
            failed += 1
            print("FAIL smoke::%s: %s" % (name, msg), flush=True)
            if tb:
                print("\n".join("     " + l for l in tb.rstrip().splitlines()), flush=True)
            if name == "login":
                break       # nothing after it can work
    print("%d passed, %d failed" % (passed, failed), flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
