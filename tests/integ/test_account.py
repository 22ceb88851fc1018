"""An account's life after login: sessions (devices), unlinking an app
account, deletion by the user (with a fresh login) and by an admin, and the
events feed that tells downstream services, through nginx."""

import subprocess
import time

from lib import (expect_error, expect_ok, expect_refused_everywhere, expect_token_error,
                 expect_unchanged, expect_utc, expected_openid, expected_unionid, parallel)


def _admin(env, method, path, key=None):
    return env.req(method, path, token=env.admin_key if key is None else key)


def _events(env, after=0, limit=1000):
    return expect_ok(_admin(env, "GET", "/v1/events?after=%d&limit=%d" % (after, limit)),
                     "events")


def _last_event_id(env):
    """The feed's last position now: a read first gives every event
    committed so far its position (db/014_event_order.sql)."""
    after = int(env.sql("SELECT coalesce(max(seq), 0) FROM events")[0][0])
    while True:
        j = _events(env, after, 1000)
        if not j["events"]:
            return after
        after = j["next_after"]


def _new_events(env, after):
    """Every event after id `after`, through the feed's paging (limit 2)."""
    seen = []
    while True:
        j = _events(env, after, 2)
        if not j["events"]:
            assert j["next_after"] == after
            return seen
        for e in j["events"]:
            assert e["id"] > after, (e, after)
            expect_utc(e["at"], "event at")
            assert e["type"] in ("merged", "unmerged", "user_deleted", "account_unlinked",
                                 "sessions_revoked"), e
            after = e["id"]
        assert j["next_after"] == after
        seen += j["events"]


def _two_app_user(env, prefix):
    """A person with accounts in mp1 and mp2 (joined by /v1/link, no unionid)."""
    p = env.person(prefix)
    a = env.signed_in("mp1", p, directives=("nouid",))
    code = "%s.nouid.n%d" % (p, time.monotonic_ns())
    expect_ok(env.req("POST", "/v1/link", {"appid": env.appid("mp2"), "code": code},
                      token=a["access_token"]), "link")
    return p, a


# -- sessions -------------------------------------------------------------

def test_sessions_list_and_end_one(env):
    p = env.person("dev")
    a = env.signed_in("mp1", p)
    b = env.signed_in("mp1", p)
    r = env.req("GET", "/v1/sessions", token=a["access_token"])
    got = expect_ok(r, "sessions")["sessions"]
    ids = {s["id"]: s for s in got}
    sid_a, sid_b = env.sid_of(a["access_token"]), env.sid_of(b["access_token"])
    assert set(ids) == {sid_a, sid_b}, got
    assert ids[sid_a]["current"] is True and ids[sid_b]["current"] is False
    for s in got:
        assert set(s) == {"id", "appid", "created_at", "refreshed_at", "expires_at", "ip",
                          "user_agent", "via", "current"}, s
        assert s["via"] == "login", s
        assert s["appid"] == env.appid("mp1")
        for k in ("created_at", "refreshed_at", "expires_at"):
            expect_utc(s[k], "session " + k)
    # Never a token or a hash.
    assert a["refresh_token"] not in r.text and b["access_token"] not in r.text
    # End b from a: b is refused by every worker, a goes on.
    t0 = time.monotonic()
    j = expect_ok(env.req("DELETE", "/v1/sessions/" + sid_b, token=a["access_token"]), "end")
    assert j == {"revoked": 1}, j
    expect_refused_everywhere(env, b["access_token"], t0)
    expect_ok(env.session(a["access_token"]), "the other session")
    got = expect_ok(env.req("GET", "/v1/sessions", token=a["access_token"]))["sessions"]
    assert [s["id"] for s in got] == [sid_a]
    # Its refresh token is over too.
    expect_token_error(env.refresh(b["refresh_token"]), ("session_revoked",))


def test_session_end_refusals_change_nothing(env):
    a = env.signed_in("mp1", env.person("deva"))
    other = env.signed_in("mp1", env.person("devb"))
    sid_other = env.sid_of(other["access_token"])
    before = env.snapshot()
    # Another user's session, one that does not exist, a malformed id.
    for sid in (sid_other, "00000000-0000-0000-0000-000000000000", "nope", "x" * 300):
        expect_error(env.req("DELETE", "/v1/sessions/" + sid, token=a["access_token"]),
                     404, "not_found")
    expect_token_error(env.req("DELETE", "/v1/sessions/" + sid_other), ("invalid_token",))
    expect_token_error(env.req("GET", "/v1/sessions", token="v4.local.nope"), ("invalid_token",))
    expect_error(env.req("PUT", "/v1/sessions/" + sid_other, token=a["access_token"]),
                 405, "method_not_allowed")
    expect_error(env.req("POST", "/v1/sessions", {}, token=a["access_token"]),
                 405, "method_not_allowed")
    expect_unchanged(before, env.snapshot(), "refused session ends")
    expect_ok(env.session(other["access_token"]), "the other user's session")


# -- unlink ---------------------------------------------------------------

def test_unlink_an_app_account(env):
    p, a = _two_app_user(env, "unl")
    b = env.signed_in("mp2", p, directives=("nouid",))      # a session of the mp2 account
    assert b["user"]["id"] == a["user"]["id"]
    sid_b = env.sid_of(b["access_token"])
    mark = _last_event_id(env)
    t0 = time.monotonic()
    j = expect_ok(env.req("DELETE", "/v1/accounts/" + env.appid("mp2"),
                          token=a["access_token"]), "unlink")
    assert j == {"unlinked": {"appid": env.appid("mp2")}}, j
    expect_refused_everywhere(env, b["access_token"], t0)
    accounts = expect_ok(env.req("GET", "/v1/userinfo", token=a["access_token"]))["accounts"]
    assert [x["appid"] for x in accounts] == [env.appid("mp1")], accounts
    ev = [e for e in _new_events(env, mark) if e["type"] == "account_unlinked"]
    assert len(ev) == 1, ev
    e = ev[0]
    assert e["user_id"] == a["user"]["id"] and e["appid"] == env.appid("mp2")
    assert e["openid"] == expected_openid(env.appid("mp2"), p)
    assert e["new_user"] != a["user"]["id"]
    assert sid_b in e["sessions"]
    # Logging in again, the account is a user of its own.
    c = env.signed_in("mp2", p, directives=("nouid",))
    assert c["user"]["id"] == e["new_user"], (c["user"], e)
    # The last account stays.
    before = env.snapshot()
    e2 = expect_error(env.req("DELETE", "/v1/accounts/" + env.appid("mp1"),
                              token=a["access_token"]), 409, "last_account")
    assert "only account" in e2["message"]
    for appid in ("wx_not_an_app", env.appid("mp2"), "a%20b", "x" * 40):
        expect_error(env.req("DELETE", "/v1/accounts/" + appid, token=a["access_token"]),
                     404, "not_found")
    expect_token_error(env.req("DELETE", "/v1/accounts/" + env.appid("mp1")),
                       ("invalid_token",))
    expect_unchanged(before, env.snapshot(), "refused unlinks")


def test_unlink_racing_a_merge(env):
    """Unlink of mp2 while the same person's oa login merges by unionid:
    whatever the order, every account belongs to exactly one live user."""
    for i in range(3):
        p = env.person("unlrace%d" % i)
        a = env.signed_in("mp1", p)                      # with the unionid
        env.signed_in("mp2", p)                          # joins by unionid
        rs = parallel(lambda k: env.req("DELETE", "/v1/accounts/" + env.appid("mp2"),
                                        token=a["access_token"]) if k == 0
                      else env.login("oa", p), 2)
        assert rs[0].status in (200, 409), rs[0].describe()
        assert rs[1].status == 200, rs[1].describe()
        rows = env.sql("SELECT a.appid, u.merged_into IS NULL, u.deleted_at IS NULL"
                       " FROM accounts a JOIN users u ON u.id = a.user_id"
                       " WHERE a.openid IN (%s, %s, %s)",
                       expected_openid(env.appid("mp1"), p), expected_openid(env.appid("mp2"), p),
                       expected_openid(env.appid("oa"), p))
        assert len(rows) == 3 and all(r[1] == "t" and r[2] == "t" for r in rows), rows


# -- deletion ---------------------------------------------------------------

def test_delete_my_account(env):
    p, a = _two_app_user(env, "del")
    uid = a["user"]["id"]
    expect_ok(env.req("PATCH", "/v1/userinfo", {"nickname": "Gone soon"},
                      token=a["access_token"]), "nickname")
    other = env.signed_in("mp2", p, directives=("nouid",))
    mark = _last_event_id(env)
    t0 = time.monotonic()
    j = expect_ok(env.req("DELETE", "/v1/account", token=a["access_token"]), "delete")
    assert j == {"deleted": uid}, j
    for tok in (a["access_token"], other["access_token"]):
        expect_refused_everywhere(env, tok, t0)
    expect_token_error(env.refresh(a["refresh_token"]), ("session_revoked", "invalid_token"))
    # An id-only tombstone: no personal data, no openid, no session_key.
    row = env.sql("SELECT deleted_at IS NOT NULL, unionid, nickname, avatar_url, phone"
                  " FROM users WHERE id = %s", uid)
    assert row == [["t", "", "", "", ""]], row
    accs = env.sql("SELECT openid, unionid, session_key IS NULL FROM accounts"
                   " WHERE user_id = %s", uid)
    assert len(accs) == 2 and all(x[0].startswith("deleted:") and x[1] == "" and x[2] == "t"
                                  for x in accs), accs
    assert env.sql("SELECT count(*) FROM sessions WHERE user_id = %s AND"
                   " (revoked_at IS NULL OR ip IS NOT NULL)", uid) == [["0"]]
    audit = env.sql("SELECT detail::text, ip FROM audit_log WHERE user_id = %s AND"
                    " event = 'user_deleted'", uid)
    assert audit == [['{"by": "user"}', ""]], audit
    ev = [e for e in _new_events(env, mark) if e["type"] == "user_deleted"]
    assert len(ev) == 1 and ev[0]["user_id"] == uid and ev[0]["by"] == "user", ev
    assert sorted(x["appid"] for x in ev[0]["accounts"]) == sorted(
        [env.appid("mp1"), env.appid("mp2")])
    assert {x["openid"] for x in ev[0]["accounts"]} == {
        expected_openid(env.appid("mp1"), p), expected_openid(env.appid("mp2"), p)}
    # The admin look-up finds nothing by the old account.
    expect_error(_admin(env, "GET", "/v1/admin/users?appid=%s&openid=%s" % (
        env.appid("mp1"), expected_openid(env.appid("mp1"), p))), 404, "not_found")
    # The same person logging in again is a new user.
    n = env.signed_in("mp1", p)
    assert n["user"]["id"] != uid and n["user"]["created"] is True, n["user"]
    assert n["user"]["unionid"] == expected_unionid(p)


def test_delete_needs_a_fresh_login(env):
    a = env.signed_in("mp1", env.person("delold"))
    sid = env.sid_of(a["access_token"])
    env.sql("UPDATE sessions SET created_at = now() - interval '10 minutes' WHERE id = %s", sid)
    before = env.snapshot()
    e = expect_error(env.req("DELETE", "/v1/account", token=a["access_token"]), 403,
                     "fresh_login_required")
    assert "wx.login" in e["message"]
    # A refresh does not make the session fresh.
    r = expect_ok(env.refresh(a["refresh_token"]), "refresh")
    before = env.snapshot()
    expect_error(env.req("DELETE", "/v1/account", token=r["access_token"]), 403,
                 "fresh_login_required")
    expect_token_error(env.req("DELETE", "/v1/account"), ("invalid_token",))
    expect_error(env.req("GET", "/v1/account", token=r["access_token"]), 405,
                 "method_not_allowed")
    expect_unchanged(before, env.snapshot(), "refused deletions")
    expect_ok(env.session(r["access_token"]), "still logged in")


def test_two_deletions_at_once(env):
    a = env.signed_in("mp1", env.person("deltwo"))
    rs = parallel(lambda i: env.req("DELETE", "/v1/account", token=a["access_token"]), 4)
    ok = [r for r in rs if r.status == 200]
    assert len(ok) == 1, [r.describe() for r in rs]
    for r in rs:
        if r.status != 200:
            expect_token_error(r, ("session_revoked",))
    assert env.sql("SELECT count(*) FROM events WHERE type = 'user_deleted' AND user_id = %s",
                   a["user"]["id"]) == [["1"]]


def test_deletion_racing_a_login(env):
    """A login of the same person while the account is deleted: it either
    ends with the deletion or becomes a new user, never a half-deleted one."""
    for i in range(3):
        p = env.person("delrace%d" % i)
        a = env.signed_in("mp1", p)
        rs = parallel(lambda k: env.req("DELETE", "/v1/account", token=a["access_token"])
                      if k == 0 else env.login("mp1", p), 2)
        t0 = time.monotonic()
        assert rs[0].status == 200, rs[0].describe()
        assert rs[1].status == 200, rs[1].describe()
        live = env.sql("SELECT u.id FROM accounts x JOIN users u ON u.id = x.user_id"
                       " WHERE x.appid = %s AND x.openid = %s AND u.deleted_at IS NULL",
                       env.appid("mp1"), expected_openid(env.appid("mp1"), p))
        if rs[1].json["user"]["id"] == a["user"]["id"]:
            # The login came first: its session ended with the deletion.
            assert live == [], live
            # Every worker learns of it from a hint, within the second the
            # contract gives (as every revocation test checks).
            expect_refused_everywhere(env, rs[1].json["access_token"], t0)
        else:
            assert live == [[rs[1].json["user"]["id"]]], live
            expect_ok(env.session(rs[1].json["access_token"]), "the new user")


def test_admin_delete(env):
    p = env.person("adel")
    a = env.signed_in("mp1", p)
    uid = a["user"]["id"]
    before = env.snapshot()
    expect_token_error(env.req("POST", "/v1/admin/users/%s/delete" % uid), ("invalid_token",))
    expect_error(_admin(env, "POST", "/v1/admin/users/%s/delete" % uid,
                        key="not-the-key-" + "x" * 20), 403, "forbidden")
    expect_error(_admin(env, "POST", "/v1/admin/users/%s/delete" % uid,
                        key=a["access_token"]), 403, "forbidden")
    assert env.sql("SELECT deleted_at IS NULL FROM users WHERE id = %s", uid) == [["t"]]
    for bad in ("nope", "00000000-0000-0000-0000-000000000000"):
        expect_error(_admin(env, "POST", "/v1/admin/users/%s/delete" % bad), 404, "not_found")
    expect_error(_admin(env, "GET", "/v1/admin/users/%s/delete" % uid), 405,
                 "method_not_allowed")
    del before   # refused admin attempts add audit rows (one a minute), by design
    t0 = time.monotonic()
    j = expect_ok(_admin(env, "POST", "/v1/admin/users/%s/delete" % uid), "admin delete")
    assert j == {"deleted": uid}
    expect_refused_everywhere(env, a["access_token"], t0)
    expect_error(_admin(env, "POST", "/v1/admin/users/%s/delete" % uid), 404, "not_found")
    j = expect_ok(_admin(env, "GET", "/v1/admin/users?id=" + uid), "look-up of the tombstone")
    assert j["user"]["nickname"] is None and j["accounts"][0]["openid"].startswith("deleted:")


def test_unmerge_of_a_deleted_user_is_refused(env):
    p = env.person("delum")
    a = env.signed_in("mp1", p, directives=("nouid",))
    env.signed_in("oa", p)                                  # merges by unionid
    a2 = env.signed_in("mp1", p)
    merge = env.sql("SELECT m.id FROM merges m WHERE m.into_user = %s OR m.from_user = %s",
                    a["user"]["id"], a["user"]["id"])
    assert merge, "no merge happened"
    expect_ok(env.req("DELETE", "/v1/account", token=a2["access_token"]), "delete")
    p2 = subprocess.run([env.wxauth_bin, "unmerge", "-c", env.conf, merge[0][0]],
                        capture_output=True, text=True, timeout=30)
    assert p2.returncode != 0 and "deleted" in p2.stderr, (p2.returncode, p2.stderr)


# -- the feed ---------------------------------------------------------------

def test_events_feed_pages_and_needs_the_admin_key(env):
    mark = _last_event_id(env)
    a = env.signed_in("mp1", env.person("evt"))
    expect_ok(env.req("POST", "/v1/logout", {"all": True}, token=a["access_token"]), "logout")
    ev = [e for e in _new_events(env, mark) if e["user_id"] == a["user"]["id"]]
    assert [e["type"] for e in ev] == ["sessions_revoked"], ev
    assert ev[0]["reason"] == "logout_all" and len(ev[0]["sessions"]) == 1
    # The merge feed answers as before, beside it.
    expect_ok(_admin(env, "GET", "/v1/merges?limit=1"), "merges")
    for q in ("after=x", "limit=0", "limit=1001", "after=-1"):
        expect_error(_admin(env, "GET", "/v1/events?" + q), 400, "invalid_request")
    expect_token_error(env.req("GET", "/v1/events"), ("invalid_token",))
    expect_error(_admin(env, "GET", "/v1/events", key="wrong-" + "k" * 30), 403, "forbidden")
    expect_error(_admin(env, "POST", "/v1/events"), 405, "method_not_allowed")


def test_an_event_that_commits_late_is_not_skipped(env):
    """Event writers take no lock (issue 28): an event whose transaction
    began first but commits after a later one's is still read by a reader
    paging with after= the last position it applied, after that one."""
    a = env.signed_in("mp1", env.person("evlate1"))
    mark = _last_event_id(env)
    cmd, penv = env._psql()
    slow = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, env=penv, universal_newlines=True)
    try:
        # A writer that takes its event id first and commits last.
        slow.stdin.write("BEGIN;\nINSERT INTO events (type, user_id, detail) VALUES"
                         " ('sessions_revoked', '%s', '{\"reason\": \"late\"}');\n"
                         "SELECT 'held';\n" % a["user"]["id"])
        slow.stdin.flush()
        env.wait_until(lambda: env.sql("SELECT count(*) FROM pg_stat_activity WHERE"
                                       " state = 'idle in transaction'"
                                       " AND query LIKE 'SELECT ''held''%%'")[0][0] == "1",
                       timeout=10, msg="the slow writer did not start")
        b = env.signed_in("mp1", env.person("evlate2"))
        expect_ok(env.req("POST", "/v1/logout", {"all": True}, token=b["access_token"]),
                  "logout all, while the slow writer holds its event")
        first = [e for e in _new_events(env, mark)
                 if e["user_id"] in (a["user"]["id"], b["user"]["id"])]
        assert [e["user_id"] for e in first] == [b["user"]["id"]], first
        after = first[-1]["id"]
        slow.stdin.write("COMMIT;\n")
        slow.stdin.close()
        slow.wait(timeout=20)
    finally:
        if slow.poll() is None:
            slow.kill()
    late = [e for e in _new_events(env, after)
            if e["user_id"] in (a["user"]["id"], b["user"]["id"])]
    assert [(e["user_id"], e.get("reason")) for e in late] == [(a["user"]["id"], "late")], late
    assert int(env.sql("SELECT id FROM events WHERE user_id = %s", a["user"]["id"])[0][0]) < \
        int(env.sql("SELECT id FROM events WHERE user_id = %s", b["user"]["id"])[0][0])


def test_events_are_notified_as_a_hint(env):
    """NOTIFY wxauth_event, with no payload, at commit: read the feed."""
    cmd, penv = env._psql()
    listener = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT, env=penv, universal_newlines=True)
    try:
        listener.stdin.write("LISTEN wxauth_event;\nSELECT pg_sleep(4);\nSELECT 1;\n")
        listener.stdin.flush()
        env.wait_until(lambda: env.sql("SELECT count(*) FROM pg_stat_activity WHERE "
                                       "query LIKE 'SELECT pg_sleep(4)%%'")[0][0] == "1",
                       timeout=10, msg="the listener did not start")
        a = env.signed_in("mp1", env.person("evnotify"))
        expect_ok(env.req("POST", "/v1/logout", {"all": True}, token=a["access_token"]),
                  "logout all")
        ids = env.sql("SELECT id FROM events WHERE user_id = %s", a["user"]["id"])
        assert len(ids) == 1, ids
        out = listener.communicate(timeout=20)[0]
    finally:
        if listener.poll() is None:
            listener.kill()
    assert 'notification "wxauth_event" received' in out, out
    assert "with payload" not in out, out
