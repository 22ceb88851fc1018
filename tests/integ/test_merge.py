"""One person, one user: OAuth login, linking by unionid, merges, /v1/link,
the merge feed, admin look-ups and revokes, unmerge, and races."""

import subprocess
import time

from lib import (check_session_identity, check_token_answer, expect_error, expect_ok, expect_utc,
                 expect_refused_everywhere, expect_token_error, expect_unchanged,
                 expected_openid, expected_unionid, parallel, wait_until)


def _admin(env, method, path, body=None, key=None):
    return env.req(method, path, body, token=env.admin_key if key is None else key)


def _user_of(env, appid, openid):
    rows = env.sql("SELECT user_id FROM accounts WHERE appid = %s AND openid = %s",
                   appid, openid)
    return rows[0][0] if rows else None


def _link(env, token, app, person, directives=()):
    code = ".".join([person] + list(directives) + ["n%d" % time.monotonic_ns()])
    return env.req("POST", "/v1/link", {"appid": env.appid(app), "code": code}, token=token)


def _accepted_as(env, token, user_id, unionid=None):
    """Every worker answers /v1/session for token with user_id, within 1 s."""
    def ok():
        rs = parallel(lambda i: env.session(token), 4 * env.workers)
        return all(r.status == 200 and r.json["user"]["id"] == user_id for r in rs) and rs
    rs = wait_until(ok, timeout=1.0, msg="old token not answered with the survivor on every worker")
    for r in rs:
        check_session_identity(r, user_id=user_id, unionid=unionid, check_unionid=unionid is not None)


def test_miniprogram_then_official_account_is_one_user(env):
    p = env.person("mpoa")
    a = check_token_answer(env.login_ok("mp1", p))
    b = check_token_answer(env.login_ok("oa", p))
    assert b["user"]["id"] == a["user"]["id"], "OA login made another user: %s / %s" % (a, b)
    assert b["user"]["created"] is False
    assert b["account"]["openid"] == expected_openid(env.appid("oa"), p)
    assert b["user"]["unionid"] == expected_unionid(p)
    rows = env.sql("SELECT appid FROM accounts WHERE user_id = %s ORDER BY appid", a["user"]["id"])
    assert [r[0] for r in rows] == sorted([env.appid("mp1"), env.appid("oa")]), rows
    # snsapi_userinfo filled the empty profile.
    rows = env.sql("SELECT nickname, avatar_url FROM users WHERE id = %s", a["user"]["id"])
    assert rows[0][0] == p and rows[0][1].startswith("https://"), rows


def test_website_and_mobile_apps_log_in(env):
    p = env.person("web")
    a = check_token_answer(env.login_ok("web", p))
    assert a["account"]["appid"] == env.appid("web")
    assert a["user"]["unionid"] == expected_unionid(p)


def test_snapshot_visitor_is_refused_and_creates_nothing(env):
    before = env.snapshot()
    r = env.login("oa", env.person("snap"), directives=("snap",))
    j = expect_error(r, 403, "forbidden")
    assert "snapshot" in j["message"], j
    expect_unchanged(before, env.snapshot(), "a snapshot visitor's login")


def test_unionid_known_later_merges_into_one_user(env):
    p = env.person("later")
    # 1. The official account with snsapi_base: no unionid yet.
    oa = check_token_answer(env.login_ok("oa", p, directives=("base",)))
    assert oa["user"]["unionid"] is None
    # 2. The mini-program knows the unionid: for now another user holds it.
    mp = check_token_answer(env.login_ok("mp1", p))
    assert mp["user"]["id"] != oa["user"]["id"]
    # 3. The OA login with snsapi_userinfo reveals the unionid: one person.
    again = check_token_answer(env.login_ok("oa", p))
    survivor = oa["user"]["id"]           # the older user survives
    assert again["user"]["id"] == survivor, again
    assert again["merged_from"] == [mp["user"]["id"]], again
    assert again["user"]["unionid"] == expected_unionid(p)
    # Both accounts kept, both on the survivor; the loser is a tombstone.
    assert _user_of(env, env.appid("mp1"), expected_openid(env.appid("mp1"), p)) == survivor
    assert _user_of(env, env.appid("oa"), expected_openid(env.appid("oa"), p)) == survivor
    rows = env.sql("SELECT merged_into FROM users WHERE id = %s", mp["user"]["id"])
    assert rows[0][0] == survivor, rows
    m = env.sql("SELECT reason, unionid FROM merges WHERE from_user = %s AND into_user = %s",
                mp["user"]["id"], survivor)
    assert m == [["unionid", expected_unionid(p)]], m
    # The mini-program's old token now speaks for the survivor, on every
    # worker, with the unionid; the OA's first token too.
    _accepted_as(env, mp["access_token"], survivor, expected_unionid(p))
    _accepted_as(env, oa["access_token"], survivor)
    # Refreshing the moved session gives tokens for the survivor.
    r = check_token_answer(env.refresh(mp["refresh_token"]), login=False)
    assert r["user"]["id"] == survivor


def test_link_another_app_account(env):
    p = env.person("link")
    a = check_token_answer(env.login_ok("mp1", p, directives=("nouid",)))
    # An account never seen joins the current user.
    r = _link(env, a["access_token"], "mp2", p, ("nouid",))
    j = expect_ok(r, "link")
    assert j["user"]["id"] == a["user"]["id"] and j["linked"] is True and j["merged_from"] == [], j
    assert j["account"]["openid"] == expected_openid(env.appid("mp2"), p)
    # Linking it again is a no-op 200 that changes no account.
    before = env.sql("SELECT id, user_id FROM accounts ORDER BY id")
    j = expect_ok(_link(env, a["access_token"], "mp2", p, ("nouid",)), "link again")
    assert j["linked"] is False and j["merged_from"] == [], j
    assert env.sql("SELECT id, user_id FROM accounts ORDER BY id") == before


def test_link_merges_two_users(env):
    p = env.person("lm")
    a = check_token_answer(env.login_ok("mp1", p, directives=("nouid",)))
    b = check_token_answer(env.login_ok("mp2", p, directives=("nouid",)))
    assert a["user"]["id"] != b["user"]["id"]
    j = expect_ok(_link(env, b["access_token"], "mp1", p, ("nouid",)), "link")
    assert j["user"]["id"] == a["user"]["id"], "the older user must survive: %s" % j
    assert j["merged_from"] == [b["user"]["id"]], j
    rows = env.sql("SELECT reason FROM merges WHERE from_user = %s", b["user"]["id"])
    assert rows == [["link"]], rows
    _accepted_as(env, b["access_token"], a["user"]["id"])
    ev = env.sql("SELECT count(*) FROM audit_log WHERE event = 'link' AND user_id = %s",
                 a["user"]["id"])
    assert int(ev[0][0]) >= 1


def test_link_of_another_person_is_a_conflict(env):
    alice, bob = env.person("ca"), env.person("cb")
    a = check_token_answer(env.login_ok("mp1", alice))
    before = env.snapshot()
    r = _link(env, a["access_token"], "mp2", bob)
    expect_error(r, 409, "unionid_conflict")
    after = env.snapshot()
    del before["audit_log"], after["audit_log"]
    expect_unchanged(before, after, "a refused link")
    rows = env.sql("SELECT count(*) FROM audit_log WHERE event = 'unionid_conflict'"
                   " AND user_id = %s", a["user"]["id"])
    assert int(rows[0][0]) == 1, rows


def test_link_needs_a_token_and_fields(env):
    before = env.snapshot()
    expect_token_error(env.req("POST", "/v1/link", {"appid": env.appid("mp2"), "code": "x.n1"}),
                       "invalid_token")
    a = check_token_answer(env.login_ok("mp1", env.person("lf")))
    before = env.snapshot()
    for body, field in (({"code": "x.n1"}, "appid"), ({"appid": env.appid("mp2")}, "code"),
                        ({"appid": 5, "code": "x"}, "appid")):
        expect_error(env.req("POST", "/v1/link", body, token=a["access_token"]), 400,
                     "invalid_request", field=field)
    expect_error(env.req("POST", "/v1/link", {"appid": "wxnope", "code": "x.n2"},
                         token=a["access_token"]), 400, "unknown_app")
    expect_unchanged(before, env.snapshot(), "refused links")


def test_merge_feed_pages_and_needs_the_admin_key(env):
    # Two merges of our own, then page through the feed to find them.
    mine = []
    for i in range(2):
        p = env.person("feed")
        a = check_token_answer(env.login_ok("mp1", p, directives=("nouid",)))
        b = check_token_answer(env.login_ok("mp2", p, directives=("nouid",)))
        expect_ok(_link(env, a["access_token"], "mp2", p, ("nouid",)), "link")
        mine.append(b["user"]["id"])
    seen, after, pages = [], 0, 0
    while True:
        j = expect_ok(_admin(env, "GET", "/v1/merges?after=%d&limit=2" % after), "feed")
        assert len(j["merges"]) <= 2
        if not j["merges"]:
            assert j["next_after"] == after
            break
        ids = [m["id"] for m in j["merges"]]
        assert ids == sorted(ids) and ids[0] > after, ids
        assert j["next_after"] == ids[-1]
        seen += j["merges"]
        after = j["next_after"]
        pages += 1
        assert pages < 1000
    got = {m["from_user"]: m for m in seen}
    for loser in mine:
        assert loser in got and got[loser]["reason"] == "link", loser
    for m in seen:
        assert set(m) >= {"id", "from_user", "into_user", "reason", "unionid", "at", "undone_at"}
        expect_utc(m["at"], "merge feed 'at'")
        expect_utc(m["undone_at"], "merge feed 'undone_at'", nullable=True)
    # Bad paging parameters.
    # A number that overflows is refused, never clamped (20 and 25 digits).
    for q in ("after=x", "limit=0", "limit=1001", "after=-1", "after=" + "9" * 20,
              "after=" + "9" * 25, "limit=" + "9" * 20):
        expect_error(_admin(env, "GET", "/v1/merges?" + q), 400, "invalid_request")
    # No key, a wrong key: refused and counted in the audit log, in one row
    # per address and minute (a loop of wrong keys cannot fill the table).
    count = ("SELECT count(*), coalesce(sum((detail->>'count')::bigint), 0) FROM audit_log"
             " WHERE event = 'admin_denied'")
    rows0, n0 = (int(x) for x in env.sql(count)[0])
    expect_token_error(env.req("GET", "/v1/merges"), "invalid_token")
    for _ in range(10):
        expect_error(_admin(env, "GET", "/v1/merges", key="not-the-key-" + "x" * 20), 403,
                     "forbidden")
    rows1, n1 = (int(x) for x in env.sql(count)[0])
    assert n1 == n0 + 11, (n0, n1)
    # One row, or two when the minute turned meanwhile.
    assert rows1 - rows0 <= 2, "%d audit rows for 11 refusals from one address" % (rows1 - rows0)
    # A user's access token is not the admin key.
    a = check_token_answer(env.login_ok("mp1", env.person("notadmin")))
    expect_error(_admin(env, "GET", "/v1/merges", key=a["access_token"]), 403, "forbidden")


def test_admin_user_lookup_follows_merges(env):
    p = env.person("adm")
    a = check_token_answer(env.login_ok("mp1", p, directives=("nouid",)))
    b = check_token_answer(env.login_ok("mp2", p))
    expect_ok(_link(env, a["access_token"], "mp2", p), "link")
    survivor, loser = a["user"]["id"], b["user"]["id"]
    j = expect_ok(_admin(env, "GET", "/v1/admin/users?id=" + loser), "by merged id")
    assert j["user"]["id"] == survivor and j["resolved_from"] == loser, j
    assert len(j["accounts"]) == 2
    j = expect_ok(_admin(env, "GET", "/v1/admin/users?id=" + survivor), "by id")
    assert j["user"]["id"] == survivor and j["resolved_from"] is None, j
    for k in ("created_at", "updated_at"):
        expect_utc(j["user"][k], "admin user " + k)
    for acc in j["accounts"]:
        for k in ("first_login", "last_login"):
            expect_utc(acc[k], "admin account " + k)
    j = expect_ok(_admin(env, "GET", "/v1/admin/users?appid=%s&openid=%s" % (
        env.appid("mp2"), expected_openid(env.appid("mp2"), p))), "by account")
    assert j["user"]["id"] == survivor
    j = expect_ok(_admin(env, "GET", "/v1/admin/users?unionid=" + expected_unionid(p)), "by unionid")
    assert j["user"]["id"] == survivor and j["user"]["unionid"] == expected_unionid(p)
    expect_error(_admin(env, "GET", "/v1/admin/users?id=00000000-0000-0000-0000-000000000000"),
                 404, "not_found")
    for q in ("", "id=nope", "appid=wx1", "id=%s&unionid=x" % survivor, "unionid=%01"):
        expect_error(_admin(env, "GET", "/v1/admin/users?" + q), 400, "invalid_request")


def test_admin_revoke_ends_every_session(env):
    p = env.person("arv")
    a = check_token_answer(env.login_ok("mp1", p))
    b = check_token_answer(env.login_ok("mp2", p))
    other = check_token_answer(env.login_ok("mp1", env.person("bystander")))
    r = _admin(env, "POST", "/v1/admin/users/%s/revoke" % a["user"]["id"])
    t0 = time.monotonic()
    assert expect_ok(r, "revoke")["revoked"] == 2
    expect_refused_everywhere(env, a["access_token"], t0)
    expect_refused_everywhere(env, b["access_token"], t0)
    check_session_identity(env.session(other["access_token"]), user_id=other["user"]["id"])
    rows = env.sql("SELECT count(*) FROM audit_log WHERE event = 'admin_revoke' AND user_id = %s",
                   a["user"]["id"])
    assert int(rows[0][0]) == 1
    expect_error(_admin(env, "POST", "/v1/admin/users/nope/revoke"), 404, "not_found")
    expect_error(_admin(env, "GET", "/v1/admin/users/%s/revoke" % a["user"]["id"]), 405,
                 "method_not_allowed")


def _unmerge(env, merge_id):
    return subprocess.run([env.wxauth_bin, "unmerge", "-c", env.conf, str(merge_id)],
                          capture_output=True, text=True, timeout=30)


def test_unmerge_restores_exactly_what_moved(env):
    p = env.person("undo")
    a = check_token_answer(env.login_ok("mp1", p, directives=("nouid",)))
    b = check_token_answer(env.login_ok("oa", p))      # with unionid and a profile
    survivor, loser = a["user"]["id"], b["user"]["id"]
    q_acc = "SELECT id, user_id FROM accounts WHERE user_id IN (%s, %s) ORDER BY id"
    q_ses = "SELECT id, user_id FROM sessions WHERE user_id IN (%s, %s) ORDER BY id"
    q_usr = ("SELECT id, unionid, nickname, avatar_url, merged_into FROM users"
             " WHERE id IN (%s, %s) ORDER BY id")
    before = [env.sql(q, survivor, loser) for q in (q_acc, q_ses, q_usr)]
    j = expect_ok(_link(env, a["access_token"], "oa", p), "link")
    assert j["user"]["id"] == survivor and j["merged_from"] == [loser], j
    # The survivor took the loser's unionid and filled its profile.
    rows = env.sql("SELECT unionid, nickname FROM users WHERE id = %s", survivor)
    assert rows == [[expected_unionid(p), p]], rows
    mid = env.sql("SELECT id FROM merges WHERE from_user = %s AND undone_at IS NULL", loser)[0][0]
    # Undo through the operator's command.
    r = _unmerge(env, mid)
    assert r.returncode == 0, r.stderr
    after = [env.sql(q, survivor, loser) for q in (q_acc, q_ses, q_usr)]
    assert after == before, "unmerge did not restore: %s != %s" % (after, before)
    rows = env.sql("SELECT undone_at IS NOT NULL FROM merges WHERE id = %s", mid)
    assert rows == [["t"]]
    assert int(env.sql("SELECT count(*) FROM audit_log WHERE event = 'unmerge'"
                       " AND user_id = %s", survivor)[0][0]) == 1
    # Every worker forgets the merge: the loser's token is the loser again.
    _accepted_as(env, b["access_token"], loser)
    # Twice is refused, and so is an unknown merge.
    r = _unmerge(env, mid)
    assert r.returncode != 0 and "undone already" in r.stderr, r.stderr
    r = _unmerge(env, 999999999)
    assert r.returncode != 0 and "no merge" in r.stderr, r.stderr
    r = _unmerge(env, "x1")
    assert r.returncode != 0


def test_unmerge_refuses_when_something_moved_since(env):
    p = env.person("undo2")
    a = check_token_answer(env.login_ok("mp1", p, directives=("nouid",)))
    b = check_token_answer(env.login_ok("mp2", p, directives=("nouid",)))
    c = check_token_answer(env.login_ok("web", p, directives=("nouid",)))
    expect_ok(_link(env, a["access_token"], "mp2", p, ("nouid",)), "link 1")   # b into a
    first = env.sql("SELECT id FROM merges WHERE from_user = %s", b["user"]["id"])[0][0]
    expect_ok(_link(env, c["access_token"], "mp1", p, ("nouid",)), "link 2")   # c into a
    # Move the account merge 1 moved away again by hand, as an operator might.
    acc = env.sql("SELECT id FROM accounts WHERE appid = %s AND openid = %s",
                  env.appid("mp2"), expected_openid(env.appid("mp2"), p))[0][0]
    env.sql("UPDATE accounts SET user_id = %s WHERE id = %s", c["user"]["id"], acc)
    before = env.snapshot()
    r = _unmerge(env, first)
    assert r.returncode != 0 and "belong to another user" in r.stderr, r.stderr
    expect_unchanged(before, env.snapshot(), "a refused unmerge")


def test_concurrent_first_logins_from_two_apps_make_one_user(env):
    p = env.person("race")
    rs = parallel(lambda i: env.login("mp1" if i % 2 else "mp2", p), 50)
    for r in rs:
        check_token_answer(r)
    users = {r.json["user"]["id"] for r in rs}
    assert len(users) == 1, "50 concurrent logins of one person made %d users" % len(users)
    rows = env.sql("SELECT count(*) FROM accounts WHERE user_id = %s", users.pop())
    assert int(rows[0][0]) == 2, rows
    assert int(env.sql("SELECT count(*) FROM users WHERE unionid = %s AND merged_into IS NULL",
                       expected_unionid(p))[0][0]) == 1


def test_merge_storm_loses_nothing(env):
    people = [env.person("storm") for _ in range(20)]
    tok = {}
    for p in people:
        tok[p] = (check_token_answer(env.login_ok("mp1", p, directives=("nouid",))),
                  check_token_answer(env.login_ok("mp2", p, directives=("nouid",))))
    n_acc = int(env.sql("SELECT count(*) FROM accounts")[0][0])

    # Every person links both ways at once: mp1's user takes the mp2 account
    # while mp2's user takes the mp1 account.
    def one(i):
        p = people[i // 2]
        a, b = tok[p]
        # 40 links at once on a few workers (slower still under the
        # sanitizers) may wait in the queue past queue_timeout_ms: the
        # answer is 503 busy, and a client retries, as README says.
        for _ in range(5):
            if i % 2:
                r = _link(env, a["access_token"], "mp2", p, ("nouid",))
            else:
                r = _link(env, b["access_token"], "mp1", p, ("nouid",))
            if not (r.status == 503 and (r.json or {}).get("error") == "busy"):
                return r
            time.sleep(int(r.headers.get("Retry-After") or 1))
        return r
    rs = parallel(one, 2 * len(people))
    for r in rs:
        expect_ok(r, "link in the storm")
    assert int(env.sql("SELECT count(*) FROM accounts")[0][0]) == n_acc, "accounts lost"
    for p in people:
        u1 = _user_of(env, env.appid("mp1"), expected_openid(env.appid("mp1"), p))
        u2 = _user_of(env, env.appid("mp2"), expected_openid(env.appid("mp2"), p))
        assert u1 == u2, "person %s still has two users" % p
        live = env.sql("SELECT merged_into IS NULL FROM users WHERE id = %s", u1)
        assert live == [["t"]], "accounts point at a tombstone"
        n = env.sql("SELECT count(*) FROM merges WHERE into_user = %s", u1)
        assert int(n[0][0]) == 1, "person %s merged %s times" % (p, n)
    # No live user holds two unionids, and no unionid has two live users.
    dup = env.sql("SELECT unionid FROM users WHERE unionid IS NOT NULL AND merged_into IS NULL"
                  " GROUP BY unionid HAVING count(*) > 1")
    assert dup == [], dup
