"""The operators' console API (issue 27), through nginx: operators and
viewers named in the config sign in with their own session and get a
console cookie and a CSRF token; they find users by id, openid, unionid,
phone and nickname prefix, see a user's whole picture, and (operators only,
with the token) end sessions, disable and enable; every action is audited
under the operator; someone removed from the config is out at once."""

import json
import time

from lib import check_token_answer, expect_error, expect_refused_everywhere
from test_pool import _conf_text, _reload, _set, _write_conf


class Console:
    def __init__(self, env):
        self.env, self.cookie, self.csrf = env, None, None

    def req(self, method, path, body=None, csrf=True, token=None):
        h = {}
        if self.cookie:
            h["Cookie"] = "wxauth_console=" + self.cookie
        if csrf and self.csrf:
            h["X-CSRF-Token"] = self.csrf
        r = self.env.req(method, path, body, headers=h, token=token)
        for c in r.headers.get_all("Set-Cookie") or []:
            if c.startswith("wxauth_console="):
                self.cookie = c.split(";")[0][len("wxauth_console="):]
                self.attrs = [a.strip() for a in c.split(";")[1:]]
        return r

    def signin(self, j):
        r = self.req("POST", "/v1/console/session", None, token=j["access_token"])
        if r.status == 200:
            self.csrf = r.json["csrf"]
        return r


def _with_console(env, operators, viewers=()):
    orig = _conf_text(env)
    text = _set(orig, "console_operators", " ".join(operators) or '""')
    text = _set(text, "console_viewers", " ".join(viewers) or '""')
    _write_conf(env, text)
    _reload(env)
    return orig


def test_the_console(env):
    op, viewer, nobody = env.signed_in("mp1"), env.signed_in("mp1"), env.signed_in("mp1")
    customer = env.signed_in("mp1")
    cid = customer["user"]["id"]
    nick = "小明<img src=x onerror=alert(1)>" + cid[-4:]
    assert env.req("PATCH", "/v1/userinfo", {"nickname": nick},
                   token=customer["access_token"]).status == 200
    env.sql("UPDATE users SET pure_phone = %s WHERE id = %s", "139" + cid[-8:].translate(
        str.maketrans("abcdef", "123456")), cid)
    phone = env.sql("SELECT pure_phone FROM users WHERE id = %s", cid)[0][0]
    orig = _with_console(env, [op["user"]["id"]], [viewer["user"]["id"]])
    try:
        c = Console(env)
        # Not an operator: no console. No cookie: 401.
        expect_error(Console(env).signin(nobody), 403, "forbidden")
        expect_error(c.req("GET", "/v1/console/session"), 401, "invalid_token")
        r = c.signin(op)
        assert r.status == 200 and r.json["role"] == "operator", r.describe()
        assert len(r.json["csrf"]) == 43 and "HttpOnly" in c.attrs and "SameSite=Strict" in c.attrs
        assert "Path=/v1/console/" in c.attrs
        assert c.req("GET", "/v1/console/session").json == {"user_id": op["user"]["id"],
                                                            "role": "operator"}
        # Find the customer every way.
        for by, q in (("id", cid), ("openid", customer["account"]["openid"]),
                      ("phone", phone), ("nickname", "小明<img"), ("nickname", nick)):
            r = c.req("GET", "/v1/console/users?by=%s&q=%s" % (by, __import__(
                "urllib.parse").parse.quote(q)))
            assert r.status == 200 and [u["id"] for u in r.json] == [cid], (by, r.describe())
            assert r.json[0]["nickname"] == nick
        r = c.req("GET", "/v1/console/users?by=nickname&q=%25")
        assert r.status == 200 and cid not in json.dumps(r.json), "'%' is no wildcard"
        expect_error(c.req("GET", "/v1/console/users?by=email&q=x"), 400, "invalid_request")
        # The whole picture.
        u = c.req("GET", "/v1/console/users/" + cid).json
        assert u["user"]["nickname"] == nick and len(u["sessions"]) == 1, u
        assert u["accounts"][0]["openid"] == customer["account"]["openid"]
        # Acting needs the CSRF token.
        expect_error(c.req("POST", "/v1/console/users/%s/revoke" % cid, {}, csrf=False),
                     403, "forbidden")
        good = c.csrf
        c.csrf = "A" * 43
        expect_error(c.req("POST", "/v1/console/users/%s/revoke" % cid, {}), 403, "forbidden")
        c.csrf = good
        assert env.session(customer["access_token"]).status == 200
        t0 = time.monotonic()
        r = c.req("POST", "/v1/console/users/%s/revoke" % cid, {})
        assert r.status == 200 and r.json == {"done": "revoke", "revoked": 1}, r.describe()
        expect_refused_everywhere(env, customer["access_token"], t0)
        assert c.req("POST", "/v1/console/users/%s/disable" % cid, {}).json["done"] == "disable"
        expect_error(env.login("mp1", customer.person), 403, "user_disabled")
        assert c.req("GET", "/v1/console/users/" + cid).json["user"]["disabled_at"]
        assert c.req("POST", "/v1/console/users/%s/enable" % cid, {}).json["done"] == "enable"
        assert env.login("mp1", customer.person).status == 200
        rows = env.sql("SELECT detail->>'operator', detail->>'action' FROM audit_log"
                       " WHERE user_id = %s AND event = 'console_action' ORDER BY id", cid)
        assert rows == [[op["user"]["id"], a] for a in ("revoke", "disable", "enable")], rows
        # A viewer looks, and cannot act.
        v = Console(env)
        assert v.signin(viewer).json["role"] == "viewer"
        assert v.req("GET", "/v1/console/users/" + cid).status == 200
        expect_error(v.req("POST", "/v1/console/users/%s/disable" % cid, {}), 403, "forbidden")
        # Removed from the config: out at once (the next request).
        _write_conf(env, _set(_conf_text(env), "console_operators", '""'))
        _reload(env)
        expect_error(c.req("GET", "/v1/console/users/" + cid), 403, "forbidden")
        # The console lives on the viewer's own session, marked in their
        # sessions list; ending that session ends the console.
        vs = env.req("GET", "/v1/sessions", token=viewer["access_token"]).json
        vs = vs["sessions"] if isinstance(vs, dict) else vs
        assert [x["via"] for x in vs if x["current"]] == ["console"], vs
        v2 = Console(env)
        w = env.signed_in("mp1", viewer.person)
        assert v2.signin(w).status == 200
        assert env.logout(w["access_token"]).status == 200
        expect_error(v2.req("GET", "/v1/console/session"), 401, "invalid_token")
        # Signing out ends the cookie.
        assert v.req("DELETE", "/v1/console/session").status == 200
        expect_error(v.req("GET", "/v1/console/session"), 401, "invalid_token")
    finally:
        _write_conf(env, orig)
        _reload(env)


def test_console_undo_unlink_delete_and_the_audit_log(env):
    op = env.signed_in("mp1")
    orig = _with_console(env, [op["user"]["id"]])
    try:
        c = Console(env)
        assert c.signin(op).status == 200
        # A merge (the official account learns the unionid later), undone.
        p = env.person("undo")
        oa = check_token_answer(env.login_ok("oa", p, directives=("base",)))
        mp = check_token_answer(env.login_ok("mp1", p))
        again = check_token_answer(env.login_ok("oa", p))
        assert again["merged_from"] == [mp["user"]["id"]]
        u = c.req("GET", "/v1/console/users/" + oa["user"]["id"]).json
        m = [x for x in u["merges"] if x["from_user"] == mp["user"]["id"]][0]
        expect_error(c.req("POST", "/v1/console/merges/%s/undo" % m["id"], {}, csrf=False),
                     403, "forbidden")
        r = c.req("POST", "/v1/console/merges/%s/undo" % m["id"], {})
        assert r.status == 200 and r.json == {"done": "undo_merge"}, r.describe()
        assert env.sql("SELECT user_id FROM accounts WHERE appid = %s AND openid = %s",
                       env.appid("mp1"), mp["account"]["openid"]) == [[mp["user"]["id"]]]
        expect_error(c.req("POST", "/v1/console/merges/%s/undo" % m["id"], {}), 400,
                     "invalid_request")
        expect_error(c.req("POST", "/v1/console/merges/99999999/undo", {}), 404, "not_found")
        feed = c.req("GET", "/v1/console/merges").json
        assert [x for x in feed if x["id"] == m["id"]][0]["undone"] is True
        assert feed == sorted(feed, key=lambda x: -x["id"])
        # Unlink one app account of a user with two.
        two = env.person("two")
        a = check_token_answer(env.login_ok("mp1", two))
        check_token_answer(env.login_ok("mp2", two))
        r = c.req("POST", "/v1/console/users/%s/unlink" % a["user"]["id"],
                  {"appid": env.appid("mp2")})
        assert r.status == 200 and r.json == {"done": "unlink"}, r.describe()
        expect_error(c.req("POST", "/v1/console/users/%s/unlink" % a["user"]["id"],
                           {"appid": env.appid("mp1")}), 409, "last_account")
        # Delete, with the user id typed again.
        gone = env.signed_in("mp1")
        before = env.snapshot()
        expect_error(c.req("POST", "/v1/console/users/%s/delete" % gone["user"]["id"],
                           {"confirm": "yes"}), 400, "invalid_request")
        assert env.snapshot() == before
        t0 = time.monotonic()
        r = c.req("POST", "/v1/console/users/%s/delete" % gone["user"]["id"],
                  {"confirm": gone["user"]["id"]})
        assert r.status == 200 and r.json == {"done": "delete"}, r.describe()
        # Every worker learns it from the hint, within the second a logout
        # takes (a check in the same instant may beat the hint).
        expect_refused_everywhere(env, gone["access_token"], t0)
        # The audit log, by operator: what this operator did, newest first.
        log = c.req("GET", "/v1/console/audit?operator=" + op["user"]["id"]).json
        assert [(x["detail"]["action"], x["detail"].get("target")) for x in log][:3] == \
            [("delete", None), ("unlink", env.appid("mp2")), ("undo_merge", str(m["id"]))], log
        mine = c.req("GET", "/v1/console/audit?event=console_signin&user=" + op["user"]["id"]).json
        assert len(mine) >= 1 and mine[0]["event"] == "console_signin"
        page2 = c.req("GET", "/v1/console/audit?before=%d" % log[0]["id"]).json
        assert all(x["id"] < log[0]["id"] for x in page2)
        expect_error(c.req("GET", "/v1/console/audit?user=nope"), 400, "invalid_request")
    finally:
        _write_conf(env, orig)
        _reload(env)


def test_console_health(env):
    op = env.signed_in("mp1")
    j = env.signed_in(prefix="tel")
    r = env.req("POST", "/v1/phone", {"code": "%s.hc%d" % (j.person, id(j))},
                token=j["access_token"])
    assert r.status == 200, r.describe()
    orig = _with_console(env, [op["user"]["id"]])
    try:
        c = Console(env)
        expect_error(c.req("GET", "/v1/console/health"), 401, "invalid_token")
        assert c.signin(op).status == 200
        h = c.req("GET", "/v1/console/health").json
        assert h["database"] == "ok", h
        assert h["pools"]["main"] == {"alive": env.workers, "configured": env.workers}, h
        assert h["pools"]["gate"]["configured"] >= 1
        assert h["phone_codes_today"] >= 1
        assert any(t["appid"] == env.appid("mp1") and t["age_seconds"] >= 0 for t in h["tokens"])
        calls = {(x["api"], x["errcode"]): x["calls"] for x in h["wechat_calls"]}
        assert calls.get(("jscode2session", 0), 0) >= 1, calls
        assert env.sql("SELECT count(*) FROM audit_log WHERE event = 'phone_code'"
                       " AND user_id = %s", j["user"]["id"]) == [["1"]]
    finally:
        _write_conf(env, orig)
        _reload(env)
