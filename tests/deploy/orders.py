#!/usr/bin/python3
"""The sample order API (deploy/orders/) behind wxauth, through a real front:
nginx + php-fpm (auth_request), Apache + mod_authnz_fcgi + php-fpm, or a
shared host's Apache + mod_fcgid + php-cgi (the FastCGI Authorizer role).

    /usr/bin/python3 tests/deploy/orders.py ENV_JSON --front-url URL \\
        --www DIR --db ORDERS_DB --runs RUNS_FILE [--pg-stop] [--down]

--front-url is where the front serves wxauth (/v1/...) and the API
(/api/orders). What is checked, on every front: a login through the front,
an order created and listed under the right openid and user id; no token, a
tampered, an expired and a logged-out token are refused 401 and the PHP
script never runs (it counts its runs in RUNS_FILE); identity headers a
client sends are ignored; a merge and a deletion arrive through the events
feed (deploy/orders/follow.php) and are applied once. --pg-stop: with
PostgreSQL stopped a valid token still passes and a logged-out one still
does not. --not-whole STATUS (run after wxauth restarted with PostgreSQL
down): the API answers STATUS, never 200, and the script never runs.
--down (run after wxauth was stopped): the same, with a 5xx. Prints
"N passed, N failed".
"""

import argparse
import os
import sqlite3
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "integ"))
sys.dont_write_bytecode = True

import lib  # noqa: E402
from lib import check_token_answer, iso, wait_until  # noqa: E402
from run import run_one  # noqa: E402

S = {}


def runs():
    try:
        return os.path.getsize(S["runs"])
    except FileNotFoundError:
        return 0


def rows():
    if not os.path.exists(S["db"]):
        return []
    with sqlite3.connect(S["db"], timeout=10) as c:
        return c.execute("SELECT id, appid, openid, user_id, item, qty FROM orders"
                         " ORDER BY id").fetchall()


def api(token, method="GET", body=None, headers=None):
    return S["front"].req(method, S["path"], body, headers=headers, token=token)


def follow():
    """One pass of follow.php, as cron runs it; returns its output."""
    e = dict(os.environ, WXAUTH_URL=S["env"].base_url, ORDERS_DB=S["db"],
             WXAUTH_ADMIN_KEY_FILE=S["keyfile"])
    cmd = ["php", os.path.join(S["www"], "follow.php")]
    # As the owner of the orders' folder, the user the API runs as (cron's
    # line in README runs it as that user too): SQLite's side files stay its.
    st = os.stat(os.path.dirname(S["db"]))
    if os.geteuid() == 0 and st.st_uid != 0:
        cmd = ["setpriv", "--reuid=%d" % st.st_uid, "--regid=%d" % st.st_gid,
               "--clear-groups"] + cmd
    p = subprocess.run(cmd, env=e, cwd="/", capture_output=True, text=True, timeout=60)
    assert p.returncode == 0, (p.returncode, p.stdout, p.stderr)
    return p.stdout


def check_order_lands_under_the_buyer(env):
    front = S["front"]
    j = check_token_answer(front.login_ok("mp1", env.person("buyer")))
    r = api(j["access_token"], "POST", {"item": "tea", "qty": 2})
    assert r.status == 201, r.describe()
    o = r.json["order"]
    assert (o["appid"], o["openid"], o["user_id"]) == \
        (env.appid("mp1"), j["account"]["openid"], j["user"]["id"]), o
    r = api(j["access_token"])
    assert r.status == 200, r.describe()
    assert [x["id"] for x in r.json["orders"]] == [o["id"]], r.json
    assert r.json["openid"] == j["account"]["openid"], r.json
    assert rows()[-1][1:4] == (env.appid("mp1"), j["account"]["openid"], j["user"]["id"])
    S["buyer"] = j


def check_refusals_never_run_the_script(env):
    j = check_token_answer(S["front"].login_ok("mp1", env.person("refused")))
    gone = check_token_answer(S["front"].login_ok("mp1", env.person("gone")))
    assert env.logout(gone["access_token"]).status == 200
    wait_until(lambda: env.session(gone["access_token"]).status == 401, timeout=2,
               msg="the logged-out token still passes the gate")
    ident = env.session(j["access_token"]).json
    t = j["access_token"]
    cases = [("no token", None),
             ("tampered", t[:-2] + ("A" if t[-2] != "A" else "B") + t[-1]),
             ("expired", env.mint(env.claims(ident, exp=iso(time.time() - 10)))),
             ("logged out", gone["access_token"])]
    n, before = runs(), rows()
    for what, tok in cases:
        for method, body in (("GET", None), ("POST", {"item": "x", "qty": 1})):
            r = api(tok, method, body)
            assert r.status == 401, "%s %s: %s" % (what, method, r.describe())
    assert runs() == n, "the script ran %d times for refused requests" % (runs() - n)
    assert rows() == before, "a refused request changed the orders"
    # The good token runs it: the counter can move.
    assert api(t).status == 200 and runs() == n + 1


def check_a_client_cannot_smuggle_an_identity(env):
    j = S["buyer"]
    forged = {"X-Auth-Openid": "attacker", "X-Auth-User": "00000000-0000-0000-0000-000000000000",
              "X-Auth-Appid": "wxattacker", "Wxauth-Openid": "attacker",
              "Variable-WXAUTH_OPENID": "attacker", "Remote-User": "attacker"}
    r = api(j["access_token"], "POST", {"item": "smuggled", "qty": 1}, headers=forged)
    assert r.status == 201, r.describe()
    o = r.json["order"]
    assert (o["openid"], o["user_id"], o["appid"]) == \
        (j["account"]["openid"], j["user"]["id"], env.appid("mp1")), o
    # And without a token, the forged identity gets nothing.
    n = runs()
    assert api(None, "GET", headers=forged).status == 401 and runs() == n


def check_merge_and_deletion_arrive_through_the_feed(env):
    front, p = S["front"], env.person("merged")
    follow()
    oa = check_token_answer(front.login_ok("oa", p, directives=("base",)))
    mp = check_token_answer(front.login_ok("mp1", p))
    assert mp["user"]["id"] != oa["user"]["id"]
    r = api(mp["access_token"], "POST", {"item": "before the merge", "qty": 1})
    assert r.status == 201 and r.json["order"]["user_id"] == mp["user"]["id"], r.describe()
    again = check_token_answer(front.login_ok("oa", p))
    survivor = oa["user"]["id"]
    assert again["user"]["id"] == survivor and again["merged_from"] == [mp["user"]["id"]]
    assert "applied" in follow()
    moved = [x for x in rows() if x[4] == "before the merge" and x[2] == mp["account"]["openid"]]
    assert [x[3] for x in moved] == [survivor], moved
    # The old mini-program token speaks for the survivor, who sees the order.
    r = api(mp["access_token"])
    assert r.status == 200 and r.json["user_id"] == survivor, r.describe()
    assert [x["item"] for x in r.json["orders"]] == ["before the merge"], r.json
    # Applied once: a second pass applies nothing, and changes nothing.
    before = rows()
    assert follow() == "" and rows() == before
    # A deletion erases the buyer's orders.
    r = env.req("POST", "/v1/admin/users/%s/delete" % survivor, {}, token=env.admin_key)
    assert r.status == 200, r.describe()
    assert "applied" in follow()
    assert not [x for x in rows() if x[3] == survivor or x[2] == mp["account"]["openid"]], rows()
    assert follow() == ""


def _pg_ctl(env, *args):
    pg_ctl = os.path.join(os.path.dirname(env.psql), "pg_ctl")
    cmd = [pg_ctl, "-D", os.path.join(env.dir, "pg"), "-l", os.path.join(env.dir, "pg.log"),
           "-w", "-t", "30"] + list(args)
    if os.geteuid() == 0:
        cmd = ["setpriv", "--reuid=postgres", "--regid=postgres", "--init-groups"] + cmd
    p = subprocess.run(cmd, cwd="/", capture_output=True, text=True, timeout=60)
    assert p.returncode == 0, (args, p.stdout, p.stderr)


def check_postgresql_stopped(env):
    j = check_token_answer(S["front"].login_ok("mp1", env.person("pgstop")))
    gone = check_token_answer(S["front"].login_ok("mp1", env.person("pggone")))
    assert env.logout(gone["access_token"]).status == 200
    wait_until(lambda: env.session(gone["access_token"]).status == 401, timeout=2,
               msg="the logged-out token still passes the gate")
    _pg_ctl(env, "stop", "-m", "fast")
    try:
        for _ in range(5):
            r = api(j["access_token"])
            assert r.status == 200 and r.json["openid"] == j["account"]["openid"], r.describe()
            n = runs()
            assert api(gone["access_token"]).status == 401 and runs() == n
    finally:
        _pg_ctl(env, "start")


def check_wxauth_down(env):
    j = S.get("buyer") or {"access_token": "v4.local.x"}
    n, before = runs(), rows()
    for method, body in (("GET", None), ("POST", {"item": "x", "qty": 1})):
        r = api(j["access_token"], method, body)
        assert r.status in (500, 502, 503), r.describe()
    assert runs() == n, "the script ran while wxauth could not answer"
    assert rows() == before


def check_wxauth_cannot_be_sure(env):
    """The workers' view of ended sessions is not whole (PostgreSQL down when
    they started): a good token is not let through, and the script never
    runs; the answer is the front's rendering of wxauth's 503."""
    ident = {"user": {"id": "01900000-0000-7000-8000-0000000000a1"},
             "session_id": "01900000-0000-7000-8000-0000000000a2",
             "account": {"appid": env.appid("mp1"), "openid": "o-not-whole"}}
    tok = env.mint(env.claims(ident))
    n, before = runs(), rows()
    for method, body in (("GET", None), ("POST", {"item": "x", "qty": 1})):
        r = api(tok, method, body)
        assert r.status == S["not_whole"], r.describe()
    assert runs() == n, "the script ran while wxauth could not be sure"
    assert rows() == before


def main(argv=None):
    ap = argparse.ArgumentParser()
    ap.add_argument("env_json")
    ap.add_argument("--front-url", required=True)
    ap.add_argument("--db", required=True)
    ap.add_argument("--runs", required=True)
    ap.add_argument("--www", required=True, help="the folder deploy/orders was copied to")
    ap.add_argument("--name", default="orders")
    ap.add_argument("--api-path", default="/api/orders")
    ap.add_argument("--pg-stop", action="store_true")
    ap.add_argument("--down", action="store_true")
    ap.add_argument("--not-whole", type=int, metavar="STATUS",
                    help="wxauth's view is not whole: the front answers STATUS")
    a = ap.parse_args(argv)
    env = lib.Env.load(a.env_json)
    S.update(env=env, db=a.db, runs=a.runs, www=a.www, path=a.api_path, front=lib.Env(dict(env.cfg, base_url=a.front_url)))
    S["keyfile"] = os.path.join(os.path.dirname(a.db), "admin.key")
    with open(S["keyfile"], "w", encoding="ascii") as f:
        f.write(env.admin_key + "\n")
    os.chmod(S["keyfile"], 0o600)
    st = os.stat(os.path.dirname(a.db))
    if os.geteuid() == 0:
        os.chown(S["keyfile"], st.st_uid, st.st_gid)
    S["not_whole"] = a.not_whole
    if a.down:
        checks = [check_wxauth_down]
    elif a.not_whole:
        checks = [check_wxauth_cannot_be_sure]
    else:
        checks = [check_order_lands_under_the_buyer, check_refusals_never_run_the_script,
                  check_a_client_cannot_smuggle_an_identity,
                  check_merge_and_deletion_arrive_through_the_feed]
        if a.pg_stop:
            checks.append(check_postgresql_stopped)
    passed = failed = 0
    for fn in checks:
        name = fn.__name__[len("check_"):]
        ok, msg, tb, dt = run_one(fn, env, 90)
        if ok:
            passed += 1
            print("ok   %s::%s (%.2fs)" % (a.name, name, dt), flush=True)
        else:
            failed += 1
            print("FAIL %s::%s: %s" % (a.name, name, msg), flush=True)
            if tb:
                print("\n".join("     " + l for l in tb.rstrip().splitlines()), flush=True)
    print("%d passed, %d failed" % (passed, failed), flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
