"""Self-test of the WeChat mock, standard library only.

    /usr/bin/python3 -m unittest tests/mock/test_wxmock.py -v
"""

import base64
import hashlib
import hmac
import http.client
import io
import json
import os
import subprocess
import sys
import threading
import time
import unittest
import urllib.parse

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import wxmock  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
VECTORS = os.path.join(os.path.dirname(HERE), "vectors", "wechat-open-data.json")

MP = "wxminiprogram0001"
MP2 = "wxminiprogram0002"
OA = "wxofficialacct001"
WEB = "wxwebsitelogin001"
DEMO = "wx4f4bc4dec97d474b"
APPS = [
    {"appid": MP, "secret": "mp-secret-1", "type": "miniprogram"},
    {"appid": MP2, "secret": "mp-secret-2", "type": "miniprogram"},
    {"appid": OA, "secret": "oa-secret", "type": "official_account"},
    {"appid": WEB, "secret": "web-secret", "type": "website"},
    {"appid": DEMO, "secret": "demo-secret", "type": "miniprogram"},
]
SECRET = {a["appid"]: a["secret"] for a in APPS}


class Client:
    """One keep-alive connection, like wxauth's reused curl handle."""

    def __init__(self, port):
        self.port = port
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)

    def close(self):
        self.conn.close()

    def raw(self, method, path, body=None, headers=None):
        hdrs = dict(headers or {})
        if body is not None and not isinstance(body, bytes):
            body = json.dumps(body).encode()
            hdrs.setdefault("Content-Type", "application/json")
        self.conn.request(method, path, body=body, headers=hdrs)
        resp = self.conn.getresponse()
        data = resp.read()
        return resp, data

    def call(self, method, path, body=None, headers=None):
        resp, data = self.raw(method, path, body, headers)
        return resp.status, resp.getheader("Content-Type"), json.loads(data) if data else None

    def get(self, path, **params):
        return self.call("GET", path + "?" + urllib.parse.urlencode(params))


class MockTest(unittest.TestCase):
    apps = APPS

    @classmethod
    def setUpClass(cls):
        cls.log = io.StringIO()
        cls.srv = wxmock.make_server("127.0.0.1", 0, cls.apps, log=cls.log)
        cls.port = cls.srv.server_address[1]
        cls.thread = threading.Thread(target=cls.srv.serve_forever, daemon=True)
        cls.thread.start()

    @classmethod
    def tearDownClass(cls):
        cls.srv.shutdown()
        cls.srv.server_close()

    def setUp(self):
        self.c = Client(self.port)
        st, _, _ = self.c.call("POST", "/_mock/reset")
        self.assertEqual(st, 200)

    def tearDown(self):
        self.c.close()

    # -- helpers ----------------------------------------------------------

    def login(self, code, appid=MP, secret=None, **extra):
        params = {"appid": appid, "secret": secret if secret is not None else SECRET.get(appid, "x"),
                  "js_code": code, "grant_type": "authorization_code"}
        params.update(extra)
        return self.c.get("/sns/jscode2session", **params)

    def oauth(self, code, appid=OA):
        return self.c.get("/sns/oauth2/access_token", appid=appid, secret=SECRET[appid],
                          code=code, grant_type="authorization_code")

    def stable(self, appid=MP, force=None, secret=None):
        body = {"grant_type": "client_credential", "appid": appid,
                "secret": secret if secret is not None else SECRET[appid]}
        if force is not None:
            body["force_refresh"] = force
        return self.c.call("POST", "/cgi-bin/stable_token", body)

    def token(self, appid=MP):
        st, _, b = self.stable(appid)
        self.assertEqual(st, 200)
        return b["access_token"]

    def phone(self, code, tok):
        return self.c.call("POST", "/wxa/business/getuserphonenumber?access_token=" +
                           urllib.parse.quote(tok), {"code": code})

    def checksession(self, tok, openid, sig, method="hmac_sha256"):
        return self.c.get("/wxa/checksession", access_token=tok, openid=openid,
                          signature=sig, sig_method=method)

    def stats(self):
        return self.c.call("GET", "/_mock/stats")[2]

    def wxacode(self, tok, scene, **extra):
        """POST wxa/getwxacodeunlimit: (status, content type, raw body)."""
        body = dict({"scene": scene, "page": "pages/scan/scan"}, **extra)
        resp, data = self.c.raw("POST", "/wxa/getwxacodeunlimit?access_token=" +
                                urllib.parse.quote(tok), body)
        return resp.status, resp.getheader("Content-Type"), data

    def assertWxErr(self, answer, errcode):
        st, ctype, body = answer
        self.assertEqual(st, 200)
        self.assertEqual(ctype, "text/plain")
        self.assertEqual(body["errcode"], errcode, body)
        self.assertIsInstance(body["errmsg"], str)

    def assertWxOk(self, answer):
        st, ctype, body = answer
        self.assertEqual(st, 200, body)
        self.assertEqual(ctype, "text/plain")
        self.assertNotIn("errcode", body, body)
        return body


class TestIdentities(unittest.TestCase):
    def test_formulas(self):
        h = lambda s: base64.urlsafe_b64encode(hashlib.sha256(s.encode()).digest()).decode()
        self.assertEqual(wxmock.openid_for("wxA", "alice"), "o" + h("openid|wxA|alice")[:27])
        self.assertEqual(wxmock.unionid_for("alice"), "o6_" + h("unionid|alice")[:25])
        self.assertEqual(len(wxmock.openid_for("wxA", "alice")), 28)
        self.assertEqual(len(wxmock.unionid_for("alice")), 28)
        sk = wxmock.session_key_for("wxA", "alice.n1")
        self.assertEqual(base64.b64decode(sk),
                         hashlib.sha256(b"sk|wxA|alice.n1").digest()[:16])
        self.assertEqual(len(sk), 24)

    def test_checksession_vector(self):
        with open(VECTORS) as f:
            vec = json.load(f)
        for v in vec["hmac"]:
            got = hmac.new(v["key"].encode(), v["message"].encode(), hashlib.sha256).hexdigest()
            self.assertEqual(got, v["hmac_sha256"], v["name"])
        demo = [v for v in vec["hmac"] if v["message"] == ""][0]
        self.assertEqual(demo["key"], "tiihtNczf5v6AKRyjwEUhQ==")
        self.assertEqual(wxmock.checksession_signature(demo["key"]), demo["hmac_sha256"])
        self.assertTrue(demo["hmac_sha256"].startswith("7154f9f8"))

    def test_code_parse(self):
        c = wxmock.Code("bob.e-1.slow20.nouid.nonce7")
        self.assertEqual((c.person, c.err, c.slow_ms, c.valid), ("bob", -1, 20, True))
        self.assertTrue(c.has("nouid"))
        self.assertEqual(wxmock.Code("bob.estr40029").err, "40029")
        self.assertIsNone(wxmock.Code("bob.empty.extra").err)
        self.assertFalse(wxmock.Code("bad name").valid)
        self.assertFalse(wxmock.Code("").valid)


class TestJscode2session(MockTest):
    def test_success(self):
        b = self.assertWxOk(self.login("alice.n1"))
        self.assertEqual(b["openid"], wxmock.openid_for(MP, "alice"))
        self.assertEqual(b["unionid"], wxmock.unionid_for("alice"))
        self.assertEqual(b["session_key"], wxmock.session_key_for(MP, "alice.n1"))
        self.assertEqual(len(base64.b64decode(b["session_key"])), 16)
        self.assertEqual(set(b), {"openid", "session_key", "unionid"})

    def test_same_person_other_app_and_nonce(self):
        a = self.assertWxOk(self.login("alice.n1"))
        b = self.assertWxOk(self.login("alice.n2"))
        c = self.assertWxOk(self.login("alice.n1", appid=MP2))
        self.assertEqual(a["openid"], b["openid"])
        self.assertNotEqual(a["session_key"], b["session_key"])
        self.assertNotEqual(a["openid"], c["openid"])
        self.assertEqual(a["unionid"], c["unionid"])
        d = self.assertWxOk(self.login("bob"))
        self.assertNotEqual(a["unionid"], d["unionid"])

    def test_one_use_per_appid(self):
        self.assertWxOk(self.login("alice.x"))
        self.assertWxErr(self.login("alice.x"), 40163)
        self.assertWxErr(self.login("alice.x"), 40163)
        self.assertWxOk(self.login("alice.x", appid=MP2))

    def test_nouid(self):
        b = self.assertWxOk(self.login("carol.nouid"))
        self.assertNotIn("unionid", b)
        self.assertEqual(b["openid"], wxmock.openid_for(MP, "carol"))

    def test_errors(self):
        for n in (40029, 40163, 45011, 40226, -1, 40001, 42003):
            self.assertWxErr(self.login("dave.e%d" % n), n)
            self.assertWxErr(self.login("dave.e%d" % n), n)  # always, never consumed
        self.assertWxErr(self.login("dave.estr40029"), "40029")
        self.assertWxErr(self.login("dave.estr-1"), "-1")

    def test_invalid_person(self):
        self.assertWxErr(self.login("al ice"), 40029)
        self.assertWxErr(self.login(".e1"), 1)

    def test_once(self):
        self.assertWxErr(self.login("erin.once-1"), -1)
        self.assertWxOk(self.login("erin.once-1"))
        self.assertWxErr(self.login("erin.once-1"), 40163)

    def test_slow(self):
        t = time.monotonic()
        self.assertWxOk(self.login("fred.slow300"))
        self.assertGreaterEqual(time.monotonic() - t, 0.29)

    def test_html(self):
        resp, data = self.c.raw("GET", "/sns/jscode2session?" + urllib.parse.urlencode(
            {"appid": MP, "secret": SECRET[MP], "js_code": "gina.html", "grant_type": "authorization_code"}))
        self.assertEqual(resp.status, 502)
        self.assertEqual(resp.getheader("Content-Type"), "text/html")
        self.assertIn(b"<html>", data)
        self.assertEqual(int(resp.getheader("Content-Length")), len(data))
        # Not consumed, still the same answer.
        resp, data = self.c.raw("GET", "/sns/jscode2session?" + urllib.parse.urlencode(
            {"appid": MP, "secret": SECRET[MP], "js_code": "gina.html", "grant_type": "authorization_code"}))
        self.assertEqual(resp.status, 502)

    def test_trunc_and_empty(self):
        q = {"appid": MP, "secret": SECRET[MP], "grant_type": "authorization_code"}
        resp, data = self.c.raw("GET", "/sns/jscode2session?" + urllib.parse.urlencode(dict(q, js_code="hal.trunc")))
        self.assertEqual(resp.status, 200)
        self.assertEqual(data, b'{"openid":"o')
        self.assertEqual(int(resp.getheader("Content-Length")), len(data))
        self.assertRaises(ValueError, json.loads, data)
        resp, data = self.c.raw("GET", "/sns/jscode2session?" + urllib.parse.urlencode(dict(q, js_code="hal.empty")))
        self.assertEqual((resp.status, data, resp.getheader("Content-Length")), (200, b"", "0"))
        # The same connection still works after both.
        self.assertWxOk(self.login("hal"))

    def test_extra(self):
        b = self.assertWxOk(self.login("ivan.extra"))
        self.assertIn("wxmock_extra", b)
        self.assertEqual(b["openid"], wxmock.openid_for(MP, "ivan"))

    def test_missing_params(self):
        self.assertWxErr(self.c.get("/sns/jscode2session", secret="s", js_code="a",
                                    grant_type="authorization_code"), 41002)
        self.assertWxErr(self.c.get("/sns/jscode2session", appid=MP, js_code="a",
                                    grant_type="authorization_code"), 41004)
        self.assertWxErr(self.c.get("/sns/jscode2session", appid=MP, secret=SECRET[MP],
                                    grant_type="authorization_code"), 41008)
        self.assertWxErr(self.c.get("/sns/jscode2session", appid=MP, secret=SECRET[MP],
                                    js_code="a"), 40002)
        self.assertWxErr(self.c.get("/sns/jscode2session", appid=MP, secret=SECRET[MP],
                                    js_code="a", grant_type="client_credential"), 40002)

    def test_apps(self):
        self.assertWxErr(self.login("a", appid="wxunknown", secret="x"), 40013)
        self.assertWxErr(self.login("a", secret="wrong"), 40125)
        # An official account cannot log in through jscode2session.
        self.assertWxErr(self.login("a", appid=OA), 40013)
        self.assertWxOk(self.login("a"))

    def test_post_refused(self):
        self.assertWxErr(self.c.call("POST", "/sns/jscode2session?appid=%s" % MP, b""), 43001)

    def test_script(self):
        st, ctype, b = self.c.call("POST", "/_mock/script", {
            "code": "demo.1", "openid": "oGZUI0egBJY1zhBYw2KhdUfwVJJE",
            "unionid": None, "session_key": "tiihtNczf5v6AKRyjwEUhQ=="})
        self.assertEqual((st, ctype, b), (200, "application/json", {"ok": True}))
        b = self.assertWxOk(self.login("demo.1", appid=DEMO))
        self.assertEqual(b, {"openid": "oGZUI0egBJY1zhBYw2KhdUfwVJJE",
                             "session_key": "tiihtNczf5v6AKRyjwEUhQ=="})
        self.assertWxErr(self.login("demo.1", appid=DEMO), 40163)
        # Only the next exchange: another app gets derived values.
        b = self.assertWxOk(self.login("demo.1", appid=MP))
        self.assertEqual(b["openid"], wxmock.openid_for(MP, "demo"))
        # Partial script: unionid given, openid derived; scripts bypass the grammar.
        self.c.call("POST", "/_mock/script", {"code": "0a3bXk+real/code", "unionid": "o6_scripted"})
        b = self.assertWxOk(self.login("0a3bXk+real/code"))
        self.assertEqual(b["unionid"], "o6_scripted")
        self.assertEqual(b["openid"], wxmock.openid_for(MP, "0a3bXk+real/code"))
        self.assertEqual(self.c.call("POST", "/_mock/script", {"openid": "x"})[0], 400)


class TestOAuth(MockTest):
    def test_userinfo_scope(self):
        b = self.assertWxOk(self.oauth("alice.o1"))
        self.assertEqual(b["openid"], wxmock.openid_for(OA, "alice"))
        self.assertEqual(b["unionid"], wxmock.unionid_for("alice"))
        self.assertEqual(b["scope"], "snsapi_userinfo")
        self.assertEqual(b["expires_in"], 7200)
        self.assertTrue(b["access_token"] and b["refresh_token"])
        self.assertNotIn("is_snapshotuser", b)
        u = self.assertWxOk(self.c.get("/sns/userinfo", access_token=b["access_token"],
                                       openid=b["openid"], lang="zh_CN"))
        self.assertEqual(u["openid"], b["openid"])
        self.assertEqual(u["nickname"], "alice")
        self.assertEqual(u["sex"], 0)
        self.assertEqual(u["headimgurl"], "https://thirdwx.qlogo.cn/mmopen/alice/132")
        self.assertEqual(u["privilege"], [])
        self.assertEqual(u["unionid"], wxmock.unionid_for("alice"))
        for k in ("province", "city", "country"):
            self.assertIn(k, u)
        # The unionid is the person's, across app types.
        m = self.assertWxOk(self.login("alice.m1"))
        self.assertEqual(m["unionid"], u["unionid"])
        # A website app works too.
        w = self.assertWxOk(self.oauth("alice.w1", appid=WEB))
        self.assertEqual(w["unionid"], u["unionid"])

    def test_base_scope(self):
        b = self.assertWxOk(self.oauth("bob.base"))
        self.assertEqual(b["scope"], "snsapi_base")
        self.assertNotIn("unionid", b)
        self.assertWxErr(self.c.get("/sns/userinfo", access_token=b["access_token"],
                                    openid=b["openid"], lang="zh_CN"), 48001)

    def test_snap_nouid_extra(self):
        b = self.assertWxOk(self.oauth("cy.snap"))
        self.assertEqual(b["is_snapshotuser"], 1)
        b = self.assertWxOk(self.oauth("cy.nouid.extra"))
        self.assertNotIn("unionid", b)
        self.assertIn("wxmock_extra", b)
        u = self.assertWxOk(self.c.get("/sns/userinfo", access_token=b["access_token"],
                                       openid=b["openid"], lang="zh_CN"))
        self.assertNotIn("unionid", u)
        self.assertIn("wxmock_extra", u)

    def test_userinfo_errors(self):
        self.assertWxErr(self.c.get("/sns/userinfo", access_token="nope", openid="o", lang="zh_CN"), 40001)
        self.assertWxErr(self.c.get("/sns/userinfo", openid="o"), 41001)
        b = self.assertWxOk(self.oauth("dan"))
        self.assertWxErr(self.c.get("/sns/userinfo", access_token=b["access_token"],
                                    openid="oOther", lang="zh_CN"), 40003)

    def test_code_rules(self):
        self.assertWxOk(self.oauth("eve.1"))
        self.assertWxErr(self.oauth("eve.1"), 40163)
        self.assertWxErr(self.oauth("eve.e42003"), 42003)
        self.assertWxErr(self.oauth("eve.once-1"), -1)
        self.assertWxOk(self.oauth("eve.once-1"))
        resp, data = self.c.raw("GET", "/sns/oauth2/access_token?" + urllib.parse.urlencode(
            {"appid": OA, "secret": SECRET[OA], "code": "eve.trunc", "grant_type": "authorization_code"}))
        self.assertRaises(ValueError, json.loads, data)
        # A mini-program cannot use the OAuth endpoint; a wrong secret is refused.
        self.assertWxErr(self.c.get("/sns/oauth2/access_token", appid=MP, secret=SECRET[MP],
                                    code="eve.2", grant_type="authorization_code"), 40013)
        self.assertWxErr(self.c.get("/sns/oauth2/access_token", appid=OA, secret="bad",
                                    code="eve.2", grant_type="authorization_code"), 40125)
        self.assertWxErr(self.c.get("/sns/oauth2/access_token", appid=OA, secret=SECRET[OA],
                                    grant_type="authorization_code"), 41008)

    def test_script(self):
        self.c.call("POST", "/_mock/script", {"code": "fay.s", "openid": "oScripted", "unionid": None})
        b = self.assertWxOk(self.oauth("fay.s"))
        self.assertEqual(b["openid"], "oScripted")
        self.assertNotIn("unionid", b)


class TestStableToken(MockTest):
    def test_same_token_until_forced(self):
        st, ctype, a = self.stable()
        self.assertEqual((st, ctype), (200, "text/plain"))
        self.assertNotIn("errcode", a)
        self.assertTrue(0 < a["expires_in"] <= 7200)
        _, _, b = self.stable(force=False)
        self.assertEqual(a["access_token"], b["access_token"])
        _, _, other = self.stable(appid=MP2)
        self.assertNotEqual(a["access_token"], other["access_token"])
        _, _, c = self.stable(force=True)
        self.assertNotEqual(a["access_token"], c["access_token"])
        # The old token stays valid for its grace period; the new one works too.
        self.assertEqual(self.phone("p.2", a["access_token"])[2]["errcode"], 0)
        self.assertEqual(self.phone("p.3", c["access_token"])[2]["errcode"], 0)
        _, _, d = self.stable()
        self.assertEqual(d["access_token"], c["access_token"])
        self.assertEqual(self.stats()["force_refresh"], 1)

    def test_grace_ends(self):
        old = self.token()
        _, _, new = self.stable(force=True)
        with self.srv.mock.lock:
            self.srv.mock.tokens[old]["grace_until"] = time.time() - 1
        self.assertWxErr(self.phone("p.1", old), 40001)
        self.assertEqual(self.phone("p.2", new["access_token"])[2]["errcode"], 0)

    def test_expire_token(self):
        old = self.token()
        st, ctype, b = self.c.call("POST", "/_mock/expire_token", {"appid": MP})
        self.assertEqual((st, ctype, b), (200, "application/json", {"ok": True, "expired": True}))
        self.assertWxErr(self.phone("p.1", old), 40001)
        self.assertWxErr(self.checksession(old, "o", "00"), 40001)
        new = self.token()
        self.assertNotEqual(old, new)
        self.assertEqual(self.phone("p.1", new)[2]["errcode"], 0)

    def test_natural_expiry(self):
        tok = self.token()
        with self.srv.mock.lock:
            self.srv.mock.tokens[tok]["expires"] = time.time() - 1
        self.assertWxErr(self.phone("p.1", tok), 42001)
        self.assertNotEqual(self.token(), tok)

    def test_errors(self):
        self.assertWxErr(self.stable(secret="bad"), 40125)
        self.assertWxErr(self.stable(appid="wxnope", secret="x"), 40013)
        self.assertWxErr(self.c.call("POST", "/cgi-bin/stable_token", b"appid=x&secret=y"), 47001)
        self.assertWxErr(self.c.call("POST", "/cgi-bin/stable_token",
                                     {"grant_type": "authorization_code", "appid": MP,
                                      "secret": SECRET[MP]}), 40002)
        self.assertWxErr(self.c.call("POST", "/cgi-bin/stable_token",
                                     {"grant_type": "client_credential", "secret": "x"}), 41002)
        self.assertWxErr(self.c.call("POST", "/cgi-bin/stable_token",
                                     {"grant_type": "client_credential", "appid": MP}), 41004)
        self.assertWxErr(self.c.call("GET", "/cgi-bin/stable_token"), 43002)
        self.assertEqual(self.stats()["calls"]["stable_token"], 7)

    def test_cgi_bin_token_forbidden(self):
        self.assertEqual(self.stats()["calls"]["token"], 0)
        st, ctype, b = self.c.get("/cgi-bin/token", grant_type="client_credential",
                                  appid=MP, secret=SECRET[MP])
        self.assertEqual((st, ctype), (200, "text/plain"))
        self.assertNotIn("access_token", b)
        self.assertNotEqual(b["errcode"], 0)
        self.assertIn("stable_token", b["errmsg"])
        self.assertEqual(self.stats()["calls"]["token"], 1)

    def test_injected_40001(self):
        self.c.call("POST", "/_mock/fail", {"api": "getuserphonenumber", "errcode": 40001, "times": 1})
        tok = self.token()
        self.assertWxErr(self.phone("r.1", tok), 40001)
        # The retry (after a refresh) succeeds; the code was not consumed by the failure.
        self.assertEqual(self.phone("r.1", tok)[2]["errcode"], 0)


class TestPhone(MockTest):
    def test_success(self):
        tok = self.token()
        st, ctype, b = self.phone("alice.ph1", tok)
        self.assertEqual((st, ctype), (200, "text/plain"))
        self.assertEqual((b["errcode"], b["errmsg"]), (0, "ok"))
        pi = b["phone_info"]
        pure = wxmock.phone_for("alice")
        self.assertRegex(pure, r"^138[0-9]{8}$")
        self.assertEqual(pi["purePhoneNumber"], pure)
        self.assertEqual(pi["phoneNumber"], "+86 " + pure)
        self.assertEqual(pi["countryCode"], "86")
        self.assertEqual(pi["watermark"]["appid"], MP)
        self.assertLessEqual(abs(pi["watermark"]["timestamp"] - time.time()), 5)
        self.assertWxErr(self.phone("alice.ph1", tok), 40163)
        self.assertEqual(self.phone("alice.ph2", tok)[2]["phone_info"]["purePhoneNumber"], pure)
        self.assertNotEqual(self.phone("bob.ph", tok)[2]["phone_info"]["purePhoneNumber"], pure)

    def test_login_and_phone_codes_are_separate(self):
        self.assertWxOk(self.login("alice"))
        self.assertEqual(self.phone("alice", self.token())[2]["errcode"], 0)

    def test_directives(self):
        tok = self.token()
        self.assertEqual(self.phone("c.ccnum", tok)[2]["phone_info"]["countryCode"], 86)
        self.assertWxErr(self.phone("c.e40029", tok), 40029)
        self.assertWxErr(self.phone("c.estr45011", tok), "45011")
        self.assertWxErr(self.phone("c.once-1", tok), -1)
        self.assertEqual(self.phone("c.once-1", tok)[2]["errcode"], 0)
        b = self.phone("c.extra", tok)[2]
        self.assertIn("wxmock_extra", b)
        self.assertIn("wxmock_extra", b["phone_info"])
        path = "/wxa/business/getuserphonenumber?access_token=" + urllib.parse.quote(tok)
        resp, data = self.c.raw("POST", path, {"code": "c.html"})
        self.assertEqual((resp.status, resp.getheader("Content-Type")), (502, "text/html"))
        resp, data = self.c.raw("POST", path, {"code": "c.trunc"})
        self.assertRaises(ValueError, json.loads, data)
        resp, data = self.c.raw("POST", path, {"code": "c.empty"})
        self.assertEqual((resp.status, data), (200, b""))

    def test_errors(self):
        self.assertWxErr(self.phone("a", "bogus"), 40001)
        self.assertWxErr(self.c.call("POST", "/wxa/business/getuserphonenumber", {"code": "a"}), 41001)
        tok = self.token()
        path = "/wxa/business/getuserphonenumber?access_token=" + urllib.parse.quote(tok)
        self.assertWxErr(self.c.call("POST", path, b"not json"), 47001)
        self.assertWxErr(self.c.call("POST", path, {}), 40029)
        self.assertWxErr(self.c.call("GET", path), 43002)
        # An official account's token may not call the mini-program API.
        self.assertWxErr(self.phone("a", self.token(OA)), 48001)


class TestCheckSession(MockTest):
    def test_demo_vector(self):
        with open(VECTORS) as f:
            v = [h for h in json.load(f)["hmac"] if h["message"] == ""][0]
        self.c.call("POST", "/_mock/script", {"code": "demo", "openid": "oGZUI0egBJY1zhBYw2KhdUfwVJJE",
                                              "session_key": v["key"]})
        b = self.assertWxOk(self.login("demo", appid=DEMO))
        self.assertEqual(b["session_key"], "tiihtNczf5v6AKRyjwEUhQ==")
        tok = self.token(DEMO)
        st, ctype, r = self.checksession(tok, b["openid"], v["hmac_sha256"])
        self.assertEqual((st, ctype, r), (200, "text/plain", {"errcode": 0, "errmsg": "ok"}))
        self.assertTrue(v["hmac_sha256"].startswith("7154f9f8"))
        self.assertWxErr(self.checksession(tok, b["openid"], v["hmac_sha256"].upper()), 87009)
        # Signing the decoded bytes instead of the base64 text is the classic bug.
        wrong = hmac.new(base64.b64decode(v["key"]), b"", hashlib.sha256).hexdigest()
        self.assertWxErr(self.checksession(tok, b["openid"], wrong), 87009)

    def test_latest_key_only(self):
        tok = self.token()
        a = self.assertWxOk(self.login("kim.1"))
        sig_a = wxmock.checksession_signature(a["session_key"])
        self.assertEqual(self.checksession(tok, a["openid"], sig_a)[2]["errcode"], 0)
        b = self.assertWxOk(self.login("kim.2"))
        self.assertEqual(a["openid"], b["openid"])
        self.assertWxErr(self.checksession(tok, a["openid"], sig_a), 87009)
        sig_b = hmac.new(b["session_key"].encode(), b"", hashlib.sha256).hexdigest()
        self.assertEqual(self.checksession(tok, b["openid"], sig_b)[2]["errcode"], 0)
        # The key is per app: MP2's token does not know MP's openid.
        self.assertWxErr(self.checksession(self.token(MP2), b["openid"], sig_b), 87009)

    def test_errors(self):
        tok = self.token()
        self.assertWxErr(self.checksession("bogus", "o", "00"), 40001)
        self.assertWxErr(self.checksession(tok, "ounknown", "00"), 87009)
        a = self.assertWxOk(self.login("lee"))
        sig = wxmock.checksession_signature(a["session_key"])
        self.assertWxErr(self.checksession(tok, a["openid"], sig, method="md5"), 40097)
        self.assertWxErr(self.c.get("/wxa/checksession", openid="o", signature="s",
                                    sig_method="hmac_sha256"), 41001)
        self.c.call("POST", "/_mock/fail", {"api": "checksession", "errcode": -1, "times": 1})
        self.assertWxErr(self.checksession(tok, a["openid"], sig), -1)
        self.assertEqual(self.checksession(tok, a["openid"], sig)[2]["errcode"], 0)


class TestControl(MockTest):
    def test_stats_count_everything(self):
        self.login("a.1")
        self.login("a.1")
        self.login("a.e40029")
        self.login("a.1", secret="bad")
        self.oauth("b.1")
        self.c.get("/sns/userinfo", access_token="x", openid="y")
        tok = self.token()
        self.phone("c.1", tok)
        self.checksession(tok, "o", "s")
        self.wxacode(tok, "abc")
        self.c.get("/cgi-bin/token")
        self.c.get("/echo/x")
        st, ctype, s = self.c.call("GET", "/_mock/stats")
        self.assertEqual((st, ctype), (200, "application/json"))
        self.assertEqual(s["calls"], {"jscode2session": 4, "oauth2_access_token": 1, "userinfo": 1,
                                      "stable_token": 1, "token": 1, "getuserphonenumber": 1,
                                      "checksession": 1, "getwxacodeunlimit": 1})
        self.assertEqual(s["codes"], {"a.1": 3, "a.e40029": 1, "b.1": 1, "c.1": 1})

    def test_reset(self):
        self.assertWxOk(self.login("a.1"))
        old = self.token()
        self.c.call("POST", "/_mock/script", {"code": "z", "openid": "oZ"})
        self.c.call("POST", "/_mock/fail", {"api": "jscode2session", "errcode": -1, "times": 5})
        self.assertEqual(self.c.call("POST", "/_mock/reset")[2], {"ok": True})
        s = self.stats()
        self.assertEqual(set(s["calls"].values()), {0})
        self.assertEqual(s["codes"], {})
        self.assertWxOk(self.login("a.1"))                    # used codes forgotten, no failure
        self.assertEqual(self.assertWxOk(self.login("z"))["openid"], wxmock.openid_for(MP, "z"))
        self.assertWxErr(self.phone("p", old), 40001)        # issued tokens forgotten

    def test_fail(self):
        st, _, b = self.c.call("POST", "/_mock/fail", {"api": "stable_token", "errcode": 40001, "times": 2})
        self.assertEqual((st, b), (200, {"ok": True}))
        self.assertWxErr(self.stable(), 40001)
        self.assertWxErr(self.stable(), 40001)
        self.assertWxOk(self.stable())
        self.c.call("POST", "/_mock/fail", {"api": "jscode2session", "errcode": 45011})
        self.assertWxErr(self.login("a"), 45011)
        self.assertWxOk(self.login("a"))                      # not consumed by the failure
        self.c.call("POST", "/_mock/fail", {"api": "oauth2_access_token", "errcode": "40029", "times": 1})
        self.assertWxErr(self.oauth("b"), "40029")
        self.c.call("POST", "/_mock/fail", {"api": "userinfo", "errcode": -1, "times": 1})
        t = self.assertWxOk(self.oauth("b"))
        self.assertWxErr(self.c.get("/sns/userinfo", access_token=t["access_token"], openid=t["openid"]), -1)
        self.assertWxOk(self.c.get("/sns/userinfo", access_token=t["access_token"], openid=t["openid"]))
        self.assertEqual(self.c.call("POST", "/_mock/fail", {"api": "nope", "errcode": 1})[0], 400)

    def test_unknown(self):
        st, ctype, b = self.c.call("GET", "/cgi-bin/nothing")
        self.assertEqual(st, 404)
        self.assertEqual(self.c.call("GET", "/_mock/nothing")[0], 404)
        self.assertEqual(self.c.call("POST", "/_mock/script", b"{bad")[0], 400)


class TestEcho(MockTest):
    def test_echo(self):
        for method, path in (("GET", "/echo"), ("GET", "/echo/orders/1?x=1"), ("POST", "/echo/cart")):
            st, ctype, b = self.c.call(method, path, b"{}" if method == "POST" else None,
                                       {"X-Auth-User": "u1", "X-Auth-Openid": "oX",
                                        "X-Auth-Unionid": "", "Authorization": "Bearer t"})
            self.assertEqual((st, ctype), (200, "application/json"))
            self.assertEqual(b["method"], method)
            self.assertEqual(b["path"], path.split("?")[0])
            self.assertEqual(b["headers"], {"X-Auth-User": "u1", "X-Auth-Openid": "oX",
                                            "X-Auth-Unionid": ""})


class TestConcurrency(MockTest):
    def test_many_clients(self):
        n_threads, per = 16, 25
        errors = []
        tokens = set()
        lock = threading.Lock()

        def worker(i):
            c = Client(self.port)
            try:
                for j in range(per):
                    st, ct, b = c.get("/sns/jscode2session", appid=MP, secret=SECRET[MP],
                                      js_code="p%d.n%d" % (i, j), grant_type="authorization_code")
                    if st != 200 or "openid" not in b or b["openid"] != wxmock.openid_for(MP, "p%d" % i):
                        errors.append(b)
                    st, ct, b = c.call("POST", "/cgi-bin/stable_token", {
                        "grant_type": "client_credential", "appid": MP, "secret": SECRET[MP]})
                    with lock:
                        tokens.add(b.get("access_token"))
            except Exception as e:  # noqa: BLE001
                errors.append(repr(e))
            finally:
                c.close()

        ts = [threading.Thread(target=worker, args=(i,)) for i in range(n_threads)]
        for t in ts:
            t.start()
        for t in ts:
            t.join()
        self.assertEqual(errors, [])
        self.assertEqual(len(tokens), 1)          # one shared token for every caller
        s = self.stats()
        self.assertEqual(s["calls"]["jscode2session"], n_threads * per)
        self.assertEqual(s["calls"]["stable_token"], n_threads * per)
        self.assertEqual(len(s["codes"]), n_threads * per)

    def test_same_code_races(self):
        results = []
        barrier = threading.Barrier(12)

        def worker():
            c = Client(self.port)
            barrier.wait()
            results.append(c.get("/sns/jscode2session", appid=MP, secret=SECRET[MP],
                                 js_code="race.1", grant_type="authorization_code")[2])
            c.close()

        ts = [threading.Thread(target=worker) for _ in range(12)]
        for t in ts:
            t.start()
        for t in ts:
            t.join()
        ok = [r for r in results if "openid" in r]
        used = [r for r in results if r.get("errcode") == 40163]
        self.assertEqual((len(ok), len(used)), (1, 11))
        self.assertEqual(self.stats()["codes"]["race.1"], 12)

    def test_slow_does_not_block_others(self):
        done = []
        slow = Client(self.port)
        self.addCleanup(slow.close)
        t = threading.Thread(target=lambda: done.append(
            slow.get("/sns/jscode2session", appid=MP, secret=SECRET[MP],
                     js_code="sleepy.slow1500", grant_type="authorization_code")))
        t.start()
        time.sleep(0.1)
        start = time.monotonic()
        self.assertWxOk(self.login("quick"))
        self.assertLess(time.monotonic() - start, 1.0)
        t.join()
        self.assertEqual(done[0][0], 200)


class TestKeepAlive(MockTest):
    def test_one_connection(self):
        self.c.get("/sns/jscode2session")             # make sure it is connected
        sock = self.c.conn.sock
        self.assertIsNotNone(sock)
        resp, data = self.c.raw("GET", "/sns/jscode2session?appid=" + MP)
        self.assertIsNone(resp.getheader("Connection"))
        self.assertEqual(resp.version, 11)
        for i in range(20):
            self.assertWxOk(self.login("k.%d" % i))
            self.assertIs(self.c.conn.sock, sock)


class TestAuthorizePages(MockTest):
    def page(self, path, query):
        resp, _ = self.c.raw("GET", path + "?" + query)
        return resp.status, resp.getheader("Location")

    def q(self, appid=OA, scope="snsapi_base", state="abc123",
          back="https://shop.example/cb?x=1"):
        return "appid=%s&redirect_uri=%s&response_type=code&scope=%s&state=%s" % (
            appid, urllib.parse.quote(back, safe=""), scope, state)

    def test_back_with_a_code_of_the_scripted_person(self):
        self.assertEqual(self.c.call("POST", "/_mock/authorize", {"person": "ann"})[0], 200)
        st, loc = self.page("/connect/oauth2/authorize", self.q())
        self.assertEqual(st, 302)
        u = urllib.parse.urlsplit(loc)
        got = urllib.parse.parse_qs(u.query)
        self.assertEqual(loc.split("?")[0], "https://shop.example/cb")
        self.assertEqual(got["x"], ["1"])
        self.assertEqual(got["state"], ["abc123"])
        self.assertTrue(got["code"][0].startswith("ann.n"))
        # The code works at sns/oauth2/access_token, once.
        b = self.assertWxOk(self.oauth(got["code"][0]))
        self.assertEqual(b["openid"], wxmock.openid_for(OA, "ann"))
        # Scripted once: the next visit has nobody.
        self.assertEqual(self.page("/connect/oauth2/authorize", self.q())[0], 400)

    def test_refusal_order_and_types(self):
        self.c.call("POST", "/_mock/authorize", {"person": "bob", "deny": True})
        st, loc = self.page("/connect/qrconnect", self.q(WEB, "snsapi_login"))
        self.assertEqual(st, 302)
        self.assertNotIn("code=", loc)
        self.assertIn("state=abc123", loc)
        for path, query in (
                ("/connect/oauth2/authorize", "redirect_uri=x&appid=%s&response_type=code"
                 "&scope=snsapi_base&state=s" % OA),             # out of order
                ("/connect/qrconnect", self.q(OA, "snsapi_login")),  # not a website
                ("/connect/oauth2/authorize", self.q(OA, "snsapi_login")),
                ("/connect/oauth2/authorize", self.q(state="a-b"))):
            self.c.call("POST", "/_mock/authorize", {"person": "bob"})
            self.assertEqual(self.page(path, query)[0], 400, (path, query))


class TestNoApps(MockTest):
    apps = None

    def test_anything_goes(self):
        b = self.assertWxOk(self.c.get("/sns/jscode2session", appid="wxany", secret="whatever",
                                       js_code="amy", grant_type="authorization_code"))
        self.assertEqual(b["openid"], wxmock.openid_for("wxany", "amy"))
        self.assertWxOk(self.c.get("/sns/oauth2/access_token", appid="wxany", secret="s",
                                   code="amy.2", grant_type="authorization_code"))
        st, _, t = self.c.call("POST", "/cgi-bin/stable_token", {
            "grant_type": "client_credential", "appid": "wxany", "secret": "s", "force_refresh": False})
        self.assertEqual(self.phone("amy", t["access_token"])[2]["phone_info"]["watermark"]["appid"], "wxany")
        self.assertWxErr(self.c.get("/sns/jscode2session", appid="wxany", js_code="amy",
                                    grant_type="authorization_code"), 41004)


class TestLog(MockTest):
    def test_no_secrets(self):
        self.log.seek(0)
        self.log.truncate()
        self.login("secretperson.n1")
        tok = self.token()
        self.phone("phoneperson.n1", tok)
        self.checksession(tok, "oOpenid", "deadbeef")
        self.c.call("POST", "/_mock/script", {"code": "scriptcode", "session_key": "tiihtNczf5v6AKRyjwEUhQ=="})
        lines = self.log.getvalue().splitlines()
        self.assertIn("wxmock GET /sns/jscode2session 200", lines)
        self.assertIn("wxmock POST /cgi-bin/stable_token 200", lines)
        self.assertIn("wxmock POST /wxa/business/getuserphonenumber 200", lines)
        text = self.log.getvalue()
        for s in ("secretperson", "phoneperson", SECRET[MP], tok, "oOpenid", "deadbeef",
                  "scriptcode", "tiih", "?"):
            self.assertNotIn(s, text)
        # reset (setUp) + 4 WeChat calls + script: one line each
        self.assertEqual(len(lines), 5)


class TestCommandLine(unittest.TestCase):
    def run_mock(self, *args):
        p = subprocess.Popen(["/usr/bin/python3", os.path.join(HERE, "wxmock.py"), *args],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        self.addCleanup(p.stderr.close)
        self.addCleanup(p.stdout.close)
        self.addCleanup(p.wait, 10)
        self.addCleanup(lambda: p.poll() is None and p.terminate())
        return p

    def test_listen_and_apps(self):
        import tempfile
        with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as f:
            json.dump(APPS, f)
        self.addCleanup(os.unlink, f.name)
        p = self.run_mock("--port", "0", "--host", "127.0.0.1", "--apps", f.name)
        line = p.stdout.readline().strip()
        self.assertRegex(line, r"^wxmock listening on 127\.0\.0\.1:[0-9]+$")
        port = int(line.rsplit(":", 1)[1])
        c = Client(port)
        st, ctype, b = c.get("/sns/jscode2session", appid=MP, secret="wrong", js_code="zed",
                             grant_type="authorization_code")
        self.assertEqual(b["errcode"], 40125)
        st, ctype, b = c.get("/sns/jscode2session", appid=MP, secret=SECRET[MP], js_code="zed",
                             grant_type="authorization_code")
        self.assertEqual(b["openid"], wxmock.openid_for(MP, "zed"))
        c.close()
        p.terminate()
        self.assertEqual(p.wait(10), 0)
        err = p.stderr.read()
        self.assertEqual(err.splitlines(), ["wxmock GET /sns/jscode2session 200"] * 2)
        self.assertNotIn(SECRET[MP], err)

    def test_bad_apps_file(self):
        p = self.run_mock("--port", "0", "--apps", "/nonexistent/apps.json")
        self.assertEqual(p.wait(10), 2)
        self.assertIn("wxmock:", p.stderr.read())


if __name__ == "__main__":
    unittest.main()


class TestWxacode(MockTest):
    """wxa/getwxacodeunlimit: a real PNG carrying its scene, or WeChat's errors."""

    def test_image_carries_the_scene(self):
        st, ctype, data = self.wxacode(self.token(), "AbC-_0~x")
        self.assertEqual((st, ctype), (200, "image/png"))
        self.assertEqual(data[:8], b"\x89PNG\r\n\x1a\n")
        self.assertIn(b"sceneAbC-_0~x", data.replace(b"\x00", b""))

    def test_errors(self):
        tok = self.token()
        for scene, errcode in (("", 40169), ("x" * 33, 40169), ("a%b", 40129), ("a b", 40129)):
            st, _, data = self.wxacode(tok, scene)
            self.assertEqual(json.loads(data)["errcode"], errcode, scene)
        st, _, data = self.wxacode(tok, "ok", page="/pages/x")
        self.assertEqual(json.loads(data)["errcode"], 41030)
        st, _, data = self.wxacode("not-a-token", "ok")
        self.assertIn(json.loads(data)["errcode"], (40001, 40014, 42001))
