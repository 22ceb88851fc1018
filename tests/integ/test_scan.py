"""Log in on a PC by scanning a mini-program code (issue 26), through nginx:
a PC page's request (POST /v1/scan) and its cookie, the code image from
getwxacodeunlimit (the mock's PNG carries the scene, as a phone reads it),
the mini-program's scan, confirmation and cancel with a person's token, the
PC's status polls, its one ticket traded at POST /v1/login by that browser
only, and every refusal."""

import struct
import threading
import time
import zlib

from lib import (check_token_answer, expect_error, expect_refused_everywhere,
                 expect_token_error, remember)


class PC:
    """A browser on a PC: its own wxauth_scan cookie."""

    def __init__(self, env):
        self.env, self.cookie = env, None

    def req(self, method, path, body=None):
        h = {"Cookie": "wxauth_scan=" + self.cookie} if self.cookie else {}
        r = self.env.req(method, path, body, headers=h)
        for c in r.headers.get_all("Set-Cookie") or []:
            if c.startswith("wxauth_scan="):
                self.cookie = remember("scan_bind", c.split(";")[0][len("wxauth_scan="):])
                self.attrs = [a.strip() for a in c.split(";")[1:]]
        return r

    def start(self, app="mp1"):
        r = self.req("POST", "/v1/scan", {"appid": self.env.appid(app)})
        assert r.status == 200, r.describe()
        self.id = r.json["id"]
        return r.json

    def status(self, sid=None):
        return self.req("GET", "/v1/scan/%s" % (sid or self.id))

    def code(self):
        return self.req("GET", "/v1/scan/%s/code" % self.id)


def png_text(data):
    """The tEXt items of a PNG, as a phone's scanner would read the code."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n", data[:16]
    at, out = 8, {}
    while at < len(data):
        n = struct.unpack(">I", data[at:at + 4])[0]
        kind, body = data[at + 4:at + 8], data[at + 8:at + 8 + n]
        assert struct.unpack(">I", data[at + 8 + n:at + 12 + n])[0] == zlib.crc32(kind + body)
        if kind == b"tEXt":
            k, v = body.split(b"\x00", 1)
            out[k.decode()] = v.decode()
        at += 12 + n
    return out


def phone(env, j, sid, step):
    return env.req("POST", "/v1/scan/%s/%s" % (sid, step), None, token=j["access_token"])


def test_the_whole_flow(env):
    pc = PC(env)
    a = pc.start()
    assert a["code_url"] == "/v1/scan/%s/code" % a["id"] and 0 < a["expires_in"] <= 120
    assert "HttpOnly" in pc.attrs and "Path=/v1/" in pc.attrs and "SameSite=Strict" in pc.attrs
    assert pc.status().json["status"] == "pending"
    img = pc.code()
    assert img.status == 200 and img.headers["Content-Type"] == "image/png", img.describe()
    assert img.headers["Cache-Control"].startswith("private, max-age=")
    seen = png_text(img.body)
    assert seen["scene"] == pc.id and seen["page"] == "pages/scan/scan", seen
    assert seen["env_version"] == "release" and seen["appid"] == env.appid("mp1")
    # The phone: the person logged in to the mini-program, the page opened
    # with query.scene.
    j = env.signed_in("mp1")
    r = phone(env, j, seen["scene"], "scanned")
    assert r.status == 200 and r.json == {"status": "scanned"}, r.describe()
    assert pc.status().json["status"] == "scanned"
    # Scanning again is harmless; the code is no longer handed out.
    assert phone(env, j, pc.id, "scanned").status == 200
    expect_error(pc.code(), 409, "scan_over")
    r = phone(env, j, pc.id, "confirm")
    assert r.status == 200 and r.json == {"status": "confirmed"}, r.describe()
    st = pc.status().json
    assert st["status"] == "confirmed" and len(st["ticket"]) == 43, st
    remember("ticket", st["ticket"])
    # The ticket comes once.
    assert "ticket" not in pc.status().json
    # The PC's session: the confirming person's user and account.
    got = check_token_answer(pc.req("POST", "/v1/login", {"ticket": st["ticket"]}))
    assert got["user"]["id"] == j["user"]["id"] and got["account"]["openid"] == j["account"]["openid"]
    assert got["access_token"] != j["access_token"]
    who = env.session(got["access_token"]).json
    assert who["session_id"] != env.sid_of(j["access_token"])
    # Its own row in the sessions list, said to be a PC's; audited as a login.
    rows = env.req("GET", "/v1/sessions", token=j["access_token"]).json
    vias = {s["id"]: s["via"] for s in rows["sessions"]} if isinstance(rows, dict) else \
        {s["id"]: s["via"] for s in rows}
    assert vias[who["session_id"]] == "scan" and vias[env.sid_of(j["access_token"])] == "login"
    assert env.sql("SELECT detail->>'via' FROM audit_log WHERE session_id = %s AND event = 'login'",
                   who["session_id"]) == [["scan"]]
    # The ticket again: used.
    expect_error(pc.req("POST", "/v1/login", {"ticket": st["ticket"]}), 401, "invalid_code")
    # Revocable like any other.
    t0 = time.monotonic()
    assert env.logout(got["access_token"]).status == 200
    expect_refused_everywhere(env, got["access_token"], t0)
    assert env.session(j["access_token"]).status == 200


def test_only_the_browser_that_started_trades_the_ticket(env):
    pc, thief = PC(env), PC(env)
    pc.start()
    thief.start()       # a cookie of its own
    j = env.signed_in("mp1")
    assert phone(env, j, pc.id, "scanned").status == 200
    assert phone(env, j, pc.id, "confirm").status == 200
    # Another browser, or none, learns nothing of the request and gets no ticket.
    expect_error(thief.status(pc.id), 404, "not_found")
    expect_error(env.req("GET", "/v1/scan/%s" % pc.id), 404, "not_found")
    expect_error(thief.req("GET", "/v1/scan/%s/code" % pc.id), 404, "not_found")
    ticket = pc.status().json["ticket"]
    remember("ticket", ticket)
    # Seen by someone else (a log, the screen), it is refused and used up.
    expect_error(thief.req("POST", "/v1/login", {"ticket": ticket}), 401, "invalid_code")
    expect_error(pc.req("POST", "/v1/login", {"ticket": ticket}), 401, "invalid_code")


def test_a_second_person_is_refused_and_the_pc_sees_it(env):
    pc = PC(env)
    pc.start()
    a, b = env.signed_in("mp1"), env.signed_in("mp1")
    assert phone(env, a, pc.id, "scanned").status == 200
    before = env.snapshot()
    for step in ("scanned", "confirm", "cancel"):
        expect_error(phone(env, b, pc.id, step), 409, "scan_taken")
    assert pc.status().json["refused"] == 3
    assert {k: v for k, v in env.snapshot().items() if k != "scan_logins"} == \
        {k: v for k, v in before.items() if k != "scan_logins"}
    # The first person still decides.
    assert phone(env, a, pc.id, "confirm").status == 200


def test_cancel_and_expiry_are_final(env):
    pc = PC(env)
    pc.start()
    j = env.signed_in("mp1")
    assert phone(env, j, pc.id, "scanned").status == 200
    assert phone(env, j, pc.id, "cancel").json == {"status": "cancelled"}
    assert pc.status().json["status"] == "cancelled"
    for step in ("scanned", "confirm", "cancel"):
        expect_error(phone(env, j, pc.id, step), 409, "scan_over")
    # Expired (aged in SQL): no scan, no confirm, no code.
    pc2 = PC(env)
    pc2.start()
    assert phone(env, j, pc2.id, "scanned").status == 200
    env.sql("UPDATE scan_logins SET expires_at = now() - interval '1 second'"
            " WHERE status = 'scanned' AND scanned_at > now() - interval '1 minute'"
            " AND user_id = %s", j["user"]["id"])
    assert pc2.status().json["status"] == "expired"
    expect_error(phone(env, j, pc2.id, "confirm"), 409, "scan_over")
    expect_error(pc2.code(), 409, "scan_over")
    assert "ticket" not in pc2.status().json


def test_a_confirm_racing_the_expiry_is_all_or_nothing(env):
    """The expiry comes while confirmations are on their way: each ends with
    a session and a ticket, or with scan_over and nothing."""
    for _ in range(5):
        pc = PC(env)
        pc.start()
        j = env.signed_in("mp1")
        assert phone(env, j, pc.id, "scanned").status == 200
        out = []
        t = threading.Thread(target=lambda: out.append(phone(env, j, pc.id, "confirm")))
        t.start()
        env.sql("UPDATE scan_logins SET expires_at = now() WHERE status IN ('scanned', 'pending')"
                " AND user_id = %s", j["user"]["id"])
        t.join(30)
        r = out[0]
        st = pc.status().json
        n = int(env.sql("SELECT count(*) FROM sessions WHERE user_id = %s AND via = 'scan'",
                        j["user"]["id"])[0][0])
        if r.status == 200:
            assert st["status"] == "confirmed" and "ticket" in st and n == 1, (st, n)
        else:
            expect_error(r, 409, "scan_over")
            assert st["status"] == "expired" and n == 0, (st, n)


def test_two_pcs_and_two_phones_at_once(env):
    pcs = [PC(env), PC(env)]
    people = [env.signed_in("mp1"), env.signed_in("mp1")]
    for pc in pcs:
        pc.start()
    for pc, j in zip(pcs, people):
        assert phone(env, j, pc.id, "scanned").status == 200
    for pc, j in zip(reversed(pcs), reversed(people)):
        assert phone(env, j, pc.id, "confirm").status == 200
    for pc, j in zip(pcs, people):
        t = pc.status().json["ticket"]
        remember("ticket", t)
        got = check_token_answer(pc.req("POST", "/v1/login", {"ticket": t}))
        assert got["user"]["id"] == j["user"]["id"]


def test_who_cannot_confirm(env):
    pc = PC(env)
    pc.start()
    j = env.signed_in("mp1")
    assert phone(env, j, pc.id, "scanned").status == 200
    # Logged out: the token is refused before anything.
    assert env.logout(j["access_token"]).status == 200
    expect_token_error(phone(env, j, pc.id, "confirm"), ("session_revoked",))
    # Another app's person (an official account's token) finds no such request.
    o = env.signed_in("oa")
    expect_error(phone(env, o, pc.id, "scanned"), 404, "not_found")
    # A deleted person.
    pc2 = PC(env)
    pc2.start()
    d = env.signed_in("mp1")
    assert phone(env, d, pc2.id, "scanned").status == 200
    assert env.req("POST", "/v1/admin/users/%s/delete" % d["user"]["id"], {},
                   token=env.admin_key).status == 200
    assert phone(env, d, pc2.id, "confirm").status == 401
    assert pc2.status().json["status"] == "scanned"
    expect_token_error(phone(env, j, "A" * 22, "scanned"), ("session_revoked",))


def test_bad_requests(env):
    pc = PC(env)
    before = env.snapshot()
    expect_error(pc.req("POST", "/v1/scan", {}), 400, "invalid_request")
    expect_error(pc.req("POST", "/v1/scan", {"appid": env.appid("oa")}), 400, "unknown_app")
    expect_error(pc.req("POST", "/v1/scan", {"appid": "wxnotconfigured000"}), 400, "unknown_app")
    expect_error(pc.req("GET", "/v1/scan/short"), 404, "not_found")
    expect_error(pc.req("GET", "/v1/scan/%s" % ("A" * 22)), 404, "not_found")
    j = env.signed_in("mp1")
    before = env.snapshot()
    expect_error(phone(env, j, "A" * 22, "scanned"), 404, "not_found")
    expect_token_error(env.req("POST", "/v1/scan/%s/confirm" % ("A" * 22), None),
                       ("invalid_token",))
    assert env.snapshot() == before


def test_wechat_errors_of_the_code(env):
    pc = PC(env)
    pc.start()
    s0 = env.stats()["calls"]
    for code, status, name in ((41030, 502, "upstream_unavailable"),
                               (40129, 500, "internal"),
                               (45009, 429, "upstream_rate_limited")):
        env.mock("/_mock/fail", {"api": "getwxacodeunlimit", "errcode": code, "times": 1})
        expect_error(pc.code(), status, name)
    # 40001: the app's token refreshed once, the call made once more.
    env.mock("/_mock/fail", {"api": "getwxacodeunlimit", "errcode": 40001, "times": 1})
    r = pc.code()
    assert r.status == 200 and png_text(r.body)["scene"] == pc.id, r.describe()
    calls = env.stats()["calls"]["getwxacodeunlimit"] - s0["getwxacodeunlimit"]
    assert calls == 5, calls
