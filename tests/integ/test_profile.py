"""GET/PATCH /v1/userinfo and POST /v1/userinfo/decrypt (issue 3), through nginx.

The legacy blobs are WeChat's official vector (decrypted end to end on the
demo app, whose appid is the vector's) and blobs the tests seal themselves
with openssl under session_keys they script into the mock.
"""

import base64
import subprocess
import time

import lib
import opendata as od
from lib import check_token_answer, expect_error, expect_ok, expect_unchanged, parallel

AVATAR = "https://thirdwx.qlogo.cn/mmopen/vi_32/Q0j4TwGTfTK/132"
USER_KEYS = ("id", "unionid", "nickname", "avatar_url", "gender", "country", "province",
             "city", "language", "phone_number", "pure_phone_number", "country_code",
             "created_at")
YEAR = 365 * 86400


def _check_shape(j, user_id=None):
    assert isinstance(j, dict) and isinstance(j.get("user"), dict) and \
        isinstance(j.get("accounts"), list), "userinfo shape: %r" % (j,)
    u = j["user"]
    for k in USER_KEYS:
        assert k in u, "user lacks %r: %r" % (k, u)
    assert lib.UUID_RE.match(u["id"]), "user.id: %r" % (u,)
    assert time.strptime(u["created_at"], "%Y-%m-%dT%H:%M:%SZ"), u["created_at"]
    if user_id is not None:
        assert u["id"] == user_id, "user %s, expected %s" % (u["id"], user_id)
    for a in j["accounts"]:
        for k in ("appid", "openid", "type", "first_login", "last_login"):
            assert k in a, "account lacks %r: %r" % (k, a)
    return u


def _snapshot_after_warm(env, token):
    od.warm(env, token)
    return env.snapshot()


# -- GET /v1/userinfo ---------------------------------------------------------

def test_userinfo_of_a_new_user(env):
    j = env.signed_in(prefix="prof")
    info = od.userinfo(env, j["access_token"])
    u = _check_shape(info, j["user"]["id"])
    assert u["unionid"] == j["user"]["unionid"] and u["nickname"] is None and \
        u["phone_number"] is None, "a new user: %r" % (u,)
    assert info["accounts"] == [dict(info["accounts"][0], appid=env.appid("mp1"),
                                     openid=j["account"]["openid"], type="miniprogram")], \
        "one mini-program account: %r" % (info["accounts"],)


def test_userinfo_lists_every_linked_account(env):
    p = env.person("two")
    a = env.signed_in("mp1", p)
    b = env.signed_in("mp2", p)          # the same person: joined by the unionid
    assert a["user"]["id"] == b["user"]["id"]
    info = od.userinfo(env, b["access_token"])
    _check_shape(info, a["user"]["id"])
    got = sorted((x["appid"], x["openid"], x["type"]) for x in info["accounts"])
    want = sorted([(env.appid("mp1"), a["account"]["openid"], "miniprogram"),
                   (env.appid("mp2"), b["account"]["openid"], "miniprogram")])
    assert got == want, "accounts %r, expected %r" % (got, want)


def test_userinfo_needs_a_token(env):
    lib.expect_token_error(env.req("GET", "/v1/userinfo"), "invalid_token")
    lib.expect_token_error(env.req("GET", "/v1/userinfo", token="v4.local.nope"),
                           "invalid_token")
    j = env.signed_in(prefix="prof")
    r = env.req("DELETE", "/v1/userinfo", token=j["access_token"])
    expect_error(r, 405, "method_not_allowed")


# -- PATCH /v1/userinfo -------------------------------------------------------

def test_patch_nickname_and_avatar(env):
    j = env.signed_in(prefix="prof")
    tok = j["access_token"]
    r = env.req("PATCH", "/v1/userinfo", {"nickname": "微信用户 Ω😀", "avatar_url": AVATAR},
                token=tok)
    u = _check_shape(expect_ok(r, "PATCH"), j["user"]["id"])
    assert u["nickname"] == "微信用户 Ω😀" and u["avatar_url"] == AVATAR, "answer: %r" % (u,)
    # One field alone leaves the other; exactly 64 characters is fine.
    nick = "名" * 64
    u = _check_shape(expect_ok(env.req("PATCH", "/v1/userinfo", {"nickname": nick}, token=tok)))
    assert u["nickname"] == nick and u["avatar_url"] == AVATAR, "answer: %r" % (u,)
    other = "https://WX.qlogo.cn/mmhead/abc/0?x=1#y"
    u = _check_shape(expect_ok(env.req("PATCH", "/v1/userinfo", {"avatar_url": other},
                                       token=tok)))
    assert u["nickname"] == nick and u["avatar_url"] == other
    rows = env.sql("SELECT nickname, avatar_url FROM users WHERE id = %s", j["user"]["id"])
    assert rows == [[nick, other]], "stored: %r" % (rows,)
    assert od.userinfo(env, tok)["user"]["nickname"] == nick


def test_patch_validation(env):
    j = env.signed_in(prefix="prof")
    tok = j["access_token"]
    env.req("PATCH", "/v1/userinfo", {"nickname": "Keep", "avatar_url": AVATAR}, token=tok)
    before = env.snapshot()
    cases = [
        ({}, "nickname"),
        ({"nickname": None, "avatar_url": None}, "nickname"),
        ({"nickname": ""}, "nickname"),
        ({"nickname": "a" * 65}, "nickname"),
        ({"nickname": "名" * 65}, "nickname"),
        ({"nickname": "tab\there"}, "nickname"),
        ({"nickname": "bell\u0007"}, "nickname"),
        ({"nickname": "line\u2028sep"}, "nickname"),
        ({"nickname": 42}, "nickname"),
        ({"nickname": ["x"]}, "nickname"),
        ({"avatar_url": ""}, "avatar_url"),
        ({"avatar_url": "http://thirdwx.qlogo.cn/mmopen/x/132"}, "avatar_url"),
        ({"avatar_url": "javascript:alert(1)"}, "avatar_url"),
        ({"avatar_url": "https://evil.example.com/x.png"}, "avatar_url"),
        ({"avatar_url": "https://thirdwx.qlogo.cn.evil.example.com/x"}, "avatar_url"),
        ({"avatar_url": "https://user:pw@thirdwx.qlogo.cn/x"}, "avatar_url"),
        ({"avatar_url": "https://thirdwx.qlogo.cn@evil.example.com/x"}, "avatar_url"),
        ({"avatar_url": "https://thirdwx.qlogo.cn:8443/x"}, "avatar_url"),
        ({"avatar_url": "https://thirdwx.qlogo.cn\\@evil.example.com/x"}, "avatar_url"),
        ({"avatar_url": "https://thirdwx.qlogo.cn/a b"}, "avatar_url"),
        ({"avatar_url": "https://thirdwx.qlogo.cn/" + "a" * 1000}, "avatar_url"),
        ({"avatar_url": "https:///x"}, "avatar_url"),
        ({"avatar_url": "//thirdwx.qlogo.cn/x"}, "avatar_url"),
        ({"avatar_url": "https://thirdwx.qlogo.cn/头像"}, "avatar_url"),
        ({"nickname": "ok", "avatar_url": "ftp://thirdwx.qlogo.cn/x"}, "avatar_url"),
    ]
    for body, field in cases:
        r = env.req("PATCH", "/v1/userinfo", body, token=tok)
        expect_error(r, 400, "invalid_request", field=field)
    # Invalid UTF-8 sent as raw bytes, inside the nickname.
    for raw in (b'{"nickname":"\xff\xfe"}', b'{"nickname":"caf\xc3"}',
                b'{"nickname":"\xed\xa0\x80x"}', b'{"nickname":"\xc0\xafx"}'):
        r = env.req("PATCH", "/v1/userinfo", raw, token=tok)
        expect_error(r, 400, "invalid_request", field="nickname")
    # Not JSON at all; not JSON as a content type; no token.
    expect_error(env.req("PATCH", "/v1/userinfo", b"nickname=x", token=tok), 400, "invalid_json")
    expect_error(env.req("PATCH", "/v1/userinfo", b'{"nickname":"x"}', token=tok,
                         headers={"Content-Type": "application/x-www-form-urlencoded"}),
                 415, "unsupported_media_type")
    lib.expect_token_error(env.req("PATCH", "/v1/userinfo", {"nickname": "x"}), "invalid_token")
    expect_unchanged(before, env.snapshot(), "refused PATCH /v1/userinfo")
    u = od.userinfo(env, tok)["user"]
    assert u["nickname"] == "Keep" and u["avatar_url"] == AVATAR, "changed: %r" % (u,)


def test_patch_behind_a_held_row_lock_is_busy(env):
    """A lock another transaction holds longer than lock_timeout: 503 busy
    with Retry-After (not "WeChat did not answer"), nothing changed, and the
    same request succeeds once the lock is gone."""
    j = env.signed_in(prefix="prof")
    tok, uid = j["access_token"], j["user"]["id"]
    cmd, penv = env._psql()
    hold = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, env=penv, universal_newlines=True)
    try:
        hold.stdin.write("BEGIN;\nSELECT 1 FROM users WHERE id = '%s' FOR UPDATE;\n"
                         "SELECT pg_sleep(20);\nCOMMIT;\n" % uid)
        hold.stdin.flush()
        env.wait_until(lambda: env.sql("SELECT count(*) FROM pg_stat_activity WHERE "
                                       "query LIKE 'SELECT pg_sleep(20)%%'")[0][0] == "1",
                       timeout=10, msg="the lock holder did not start")
        before = env.snapshot()
        t0 = time.monotonic()
        r = env.req("PATCH", "/v1/userinfo", {"nickname": "Locked"}, token=tok)
        dt = time.monotonic() - t0
        e = expect_error(r, 503, "busy")
        assert r.headers.get("Retry-After") == "1", r.describe()
        assert "WeChat" not in e["message"], e
        assert dt < 15, "the lock wait took %.1f s" % dt
        expect_unchanged(before, env.snapshot(), "a PATCH refused behind a lock")
    finally:
        hold.kill()
        hold.wait(timeout=10)
    # The holder's backend ends with its client; then the PATCH goes through.
    env.wait_until(lambda: env.req("PATCH", "/v1/userinfo", {"nickname": "Unlocked"},
                                   token=tok).status == 200, timeout=20,
                   msg="PATCH still refused after the lock holder went away")
    assert env.sql("SELECT nickname FROM users WHERE id = %s", uid) == [["Unlocked"]]


def test_patch_touches_only_the_token_user(env):
    a = env.signed_in(prefix="prof")
    b = env.signed_in(prefix="prof")
    expect_ok(env.req("PATCH", "/v1/userinfo", {"nickname": "Alice"}, token=a["access_token"]))
    assert od.userinfo(env, b["access_token"])["user"]["nickname"] is None
    assert od.userinfo(env, a["access_token"])["user"]["nickname"] == "Alice"


# -- POST /v1/userinfo/decrypt: the official vector, end to end ----------------

def test_decrypt_official_vector_end_to_end(env):
    appid = env.appid("demo")
    assert appid == "wx4f4bc4dec97d474b", "the demo app must have the vector's appid"
    for form in lib.session_key_forms(od.OFFICIAL["session_key"]):
        lib.remember("session_key", form)
    j = od.login_with_key(env, "demo", od.OFFICIAL["session_key"], openid=od.OFFICIAL_OPENID)
    tok = j["access_token"]
    body = {"encryptedData": od.OFFICIAL["encryptedData"], "iv": od.OFFICIAL["iv"]}
    # The database outlives one run: the vector is accepted once per database.
    seen = env.sql("SELECT count(*) FROM accounts WHERE appid = %s AND openid = %s"
                   " AND unionid = %s", appid, od.OFFICIAL_OPENID, od.OFFICIAL_UNIONID)
    if seen == [["0"]]:
        r = od.decrypt(env, tok, body)
        u = _check_shape(expect_ok(r, "decrypt of the official vector"))
        want = {"nickname": "Band", "gender": 1, "language": "zh_CN", "city": "Guangzhou",
                "province": "Guangdong", "country": "CN", "unionid": od.OFFICIAL_UNIONID,
                "avatar_url": "http://wx.qlogo.cn/mmopen/vi_32/aSKcBBPpibyKNicHNTMM0qJVh8Kjgiak2AHWr8"
                              "MHM4WgMEm7GFhsf8OYrySdbvAMvTsw3mo8ibKicsnfN5pRjl1p8HQ/0"}
        got = {k: u[k] for k in want}
        assert got == want, "stored profile %r, expected %r" % (got, want)
        acc = [a for a in r.json["accounts"] if a["appid"] == appid]
        assert acc and acc[0]["openid"] == od.OFFICIAL_OPENID and \
            acc[0]["unionid"] == od.OFFICIAL_UNIONID, "account: %r" % (acc,)
    rows = env.sql("SELECT u.city, u.province, u.gender, u.unionid FROM users u"
                   " JOIN accounts a ON a.user_id = u.id WHERE a.appid = %s AND a.openid = %s",
                   appid, od.OFFICIAL_OPENID)
    assert rows == [["Guangzhou", "Guangdong", "1", od.OFFICIAL_UNIONID]], "stored: %r" % (rows,)
    # The same blob again: refused, nothing changes.
    before = env.snapshot()
    r = od.decrypt(env, tok, body)
    j = expect_error(r, 400, "invalid_request")
    assert "already" in j["message"], r.describe()
    expect_unchanged(before, env.snapshot(), "a replayed blob")
    s = env.stats()["calls"]
    assert s["token"] == 0, "cgi-bin/token must never be called: %r" % (s,)


def test_decrypt_wrong_key_is_session_key_stale(env):
    # The vector's blob is the demo's official one, which the demo app may
    # have accepted already (then it is a replay there): mp2 tries it.
    v = od.fail_vector("wrong-key")
    for form in lib.session_key_forms(v["session_key"]):
        lib.remember("session_key", form)
    j = od.login_with_key(env, "mp2", v["session_key"])
    tok = j["access_token"]
    before = _snapshot_after_warm(env, tok)
    r = od.decrypt(env, tok, {"encryptedData": v["encryptedData"], "iv": v["iv"]})
    expect_error(r, 409, "session_key_stale")
    # A blob of ours under another key, with a good watermark: the same.
    blob = od.profile_blob(od.new_session_key(), env.appid("mp2"))
    expect_error(od.decrypt(env, tok, blob), 409, "session_key_stale")
    # Garbage of the right shape (one block, two blocks).
    for n in (16, 32, 48):
        r = od.decrypt(env, tok, {"encryptedData": base64.b64encode(bytes(n)).decode(),
                                  "iv": od.OFFICIAL["iv"]})
        expect_error(r, 409, "session_key_stale")
    expect_unchanged(before, env.snapshot(), "decrypts under a wrong key")


def test_decrypt_other_app_is_watermark_mismatch(env):
    # mp1 logs in with the demo's session_key: the official blob decrypts, but
    # its watermark names the demo app.
    for form in lib.session_key_forms(od.OFFICIAL["session_key"]):
        lib.remember("session_key", form)
    j = od.login_with_key(env, "mp1", od.OFFICIAL["session_key"])
    tok = j["access_token"]
    before = _snapshot_after_warm(env, tok)
    r = od.decrypt(env, tok, {"encryptedData": od.OFFICIAL["encryptedData"],
                              "iv": od.OFFICIAL["iv"]})
    e = expect_error(r, 422, "watermark_mismatch")
    assert "another app" in e["message"], r.describe()
    expect_unchanged(before, env.snapshot(), "a blob of another app")


def test_decrypt_too_old_watermark(env):
    sk = od.new_session_key()
    j = od.login_with_key(env, "mp1", sk)
    tok = j["access_token"]
    before = _snapshot_after_warm(env, tok)
    # The test config accepts 20 years (for the 2016 vector); older is refused.
    old = od.profile_blob(sk, env.appid("mp1"), ts=int(time.time()) - 21 * YEAR)
    e = expect_error(od.decrypt(env, tok, old), 422, "watermark_mismatch")
    assert "too old" in e["message"], e
    future = od.profile_blob(sk, env.appid("mp1"), ts=int(time.time()) + 3600)
    e = expect_error(od.decrypt(env, tok, future), 422, "watermark_mismatch")
    assert "future" in e["message"], e
    no_wm = od.seal(sk, {"nickName": "x"})
    expect_error(od.decrypt(env, tok, {"encryptedData": no_wm[0], "iv": no_wm[1]}), 422,
                 "watermark_mismatch")
    expect_unchanged(before, env.snapshot(), "blobs with bad watermarks")
    # Recent enough is fine.
    ok = od.profile_blob(sk, env.appid("mp1"), ts=int(time.time()) - 19 * YEAR,
                         nickName="Old but fine")
    u = _check_shape(expect_ok(od.decrypt(env, tok, ok)))
    assert u["nickname"] == "Old but fine"


def test_decrypt_stores_the_profile_of_a_fresh_blob(env):
    sk = od.new_session_key()
    j = od.login_with_key(env, "mp2", sk)
    blob = od.profile_blob(sk, env.appid("mp2"), openid=j["account"]["openid"],
                           nickName="小明", gender=1, city="Chengdu", province="Sichuan",
                           country="CN", language="zh_CN")
    u = _check_shape(expect_ok(od.decrypt(env, j["access_token"], blob)), j["user"]["id"])
    want = {"nickname": "小明", "gender": 1, "city": "Chengdu", "province": "Sichuan",
            "country": "CN", "language": "zh_CN",
            "avatar_url": "https://thirdwx.qlogo.cn/mmopen/vi_32/abc/132"}
    assert {k: u[k] for k in want} == want, "stored: %r" % (u,)
    # A later PATCH (the fill-in components) wins over the old profile.
    u = _check_shape(expect_ok(env.req("PATCH", "/v1/userinfo", {"nickname": "Ming"},
                                       token=j["access_token"])))
    assert u["nickname"] == "Ming" and u["city"] == "Chengdu"


def test_decrypt_replay_is_refused(env):
    sk = od.new_session_key()
    j = od.login_with_key(env, "mp1", sk)
    tok = j["access_token"]
    blob = od.profile_blob(sk, env.appid("mp1"), nickName="Once")
    expect_ok(od.decrypt(env, tok, blob), "first decrypt")
    before = env.snapshot()
    for _ in range(2):
        e = expect_error(od.decrypt(env, tok, blob), 400, "invalid_request")
        assert "already" in e["message"]
    # The same data with another iv is the same encryptedData: refused too.
    expect_error(od.decrypt(env, tok, {"encryptedData": blob["encryptedData"],
                                       "iv": od.OFFICIAL["iv"]}), 400, "invalid_request")
    expect_unchanged(before, env.snapshot(), "replays")
    # Ten copies of a new blob at once: exactly one is accepted.
    blob = od.profile_blob(sk, env.appid("mp1"), nickName="Race")
    rs = parallel(lambda i: od.decrypt(env, tok, blob), 10)
    ok = [r for r in rs if r.status == 200]
    assert len(ok) == 1, "one of ten copies accepted, got %s" % [r.status for r in rs]
    for r in rs:
        if r.status != 200:
            expect_error(r, 400, "invalid_request")


def test_decrypt_signature_good_and_bad(env):
    v = od.SIGNATURE
    for form in lib.session_key_forms(v["session_key"]):
        lib.remember("session_key", form)
    j = od.login_with_key(env, "mp2", v["session_key"])
    tok = j["access_token"]
    appid = env.appid("mp2")
    # The official rawData and signature, with a blob under the same key.
    blob = od.profile_blob(v["session_key"], appid, nickName="Band")
    r = od.decrypt(env, tok, dict(blob, rawData=v["rawData"], signature=v["signature"]))
    u = _check_shape(expect_ok(r, "good signature"))
    assert u["nickname"] == "Band"
    before = env.snapshot()
    bad = v["signature"][:-1] + ("0" if v["signature"][-1] != "0" else "1")
    blob = od.profile_blob(v["session_key"], appid, nickName="Mallory")
    for raw, sig in ((v["rawData"], bad), (v["rawData"] + " ", v["signature"]),
                     (v["rawData"], v["signature"][:39]), (v["rawData"], "0" * 40)):
        r = od.decrypt(env, tok, dict(blob, rawData=raw, signature=sig))
        expect_error(r, 422, "signature_mismatch")
    # One without the other.
    expect_error(od.decrypt(env, tok, dict(blob, rawData=v["rawData"])), 400,
                 "invalid_request", field="signature")
    expect_error(od.decrypt(env, tok, dict(blob, signature=v["signature"])), 400,
                 "invalid_request", field="rawData")
    expect_unchanged(before, env.snapshot(), "bad signatures")
    # The refused blob was not used up.
    u = _check_shape(expect_ok(od.decrypt(env, tok, blob)))
    assert u["nickname"] == "Mallory"


def test_decrypt_plus_turned_into_space_is_invalid_request(env):
    v = od.fail_vector("plus-became-space")
    for form in lib.session_key_forms(v["session_key"]):
        lib.remember("session_key", form)
    j = od.login_with_key(env, "demo", v["session_key"])
    tok = j["access_token"]
    before = env.snapshot()
    expect_error(od.decrypt(env, tok, {"encryptedData": v["encryptedData"], "iv": v["iv"]}),
                 400, "invalid_request", field="encryptedData")
    expect_error(od.decrypt(env, tok, {"encryptedData": od.OFFICIAL["encryptedData"],
                                       "iv": "r7BXXKkLb8qrSNn05n0qiA== "}),
                 400, "invalid_request", field="iv")
    cases = [
        ({"iv": od.OFFICIAL["iv"]}, "encryptedData"),
        ({"encryptedData": od.OFFICIAL["encryptedData"]}, "iv"),
        ({"encryptedData": "", "iv": od.OFFICIAL["iv"]}, "encryptedData"),
        ({"encryptedData": 12, "iv": od.OFFICIAL["iv"]}, "encryptedData"),
        ({"encryptedData": "not base64!", "iv": od.OFFICIAL["iv"]}, "encryptedData"),
        ({"encryptedData": base64.b64encode(bytes(15)).decode(), "iv": od.OFFICIAL["iv"]},
         "encryptedData"),
        ({"encryptedData": base64.urlsafe_b64encode(bytes(range(200, 248))).decode(),
          "iv": od.OFFICIAL["iv"]}, "encryptedData"),
        ({"encryptedData": od.OFFICIAL["encryptedData"], "iv": "r7BXXKkLb8qrSNn05n0q"}, "iv"),
        ({"encryptedData": od.OFFICIAL["encryptedData"], "iv": "A" * 65}, "iv"),
        ({"encryptedData": "A" * 9000, "iv": od.OFFICIAL["iv"]}, "encryptedData"),
        ({"encryptedData": od.OFFICIAL["encryptedData"], "iv": od.OFFICIAL["iv"],
          "rawData": 5, "signature": "x"}, "rawData"),
    ]
    for body, field in cases:
        expect_error(od.decrypt(env, tok, body), 400, "invalid_request", field=field)
    expect_unchanged(before, env.snapshot(), "malformed decrypt requests")
    s = env.stats()["calls"]
    assert s["checksession"] == 0 and s["stable_token"] == 0, \
        "malformed input must be refused before WeChat is asked: %r" % (s,)


def test_decrypt_stale_key_reported_by_checksession(env):
    # The person called wx.login again and that code went to WeChat without
    # wxauth: the stored session_key is no longer WeChat's current one. The
    # blob (made under the stored key) would decrypt, but checksession says
    # 87009 first: session_key_stale, nothing decrypted, nothing stored.
    person = env.person("stale")
    sk = od.new_session_key()
    j = od.login_with_key(env, "mp1", sk, person=person)
    tok = j["access_token"]
    od.warm(env, tok)
    od.wx_login_elsewhere(env, "mp1", person)
    before = env.snapshot()
    s0 = od.stats(env)
    blob = od.profile_blob(sk, env.appid("mp1"), nickName="Stale")
    expect_error(od.decrypt(env, tok, blob), 409, "session_key_stale")
    d = od.delta(s0, od.stats(env))
    assert d.get("checksession") == 1, "checksession should be asked once: %r" % (d,)
    expect_unchanged(before, env.snapshot(), "a decrypt with a stale key")
    # The client logs in again (through wxauth): a blob under the new key is fine.
    r = env.login_ok("mp1", person)
    new_sk = od.mock_session_key(env.appid("mp1"), r.code)
    blob = od.profile_blob(new_sk, env.appid("mp1"), nickName="Fresh")
    u = _check_shape(expect_ok(od.decrypt(env, r.json["access_token"], blob)))
    assert u["nickname"] == "Fresh" and u["id"] == j["user"]["id"]


def test_decrypt_when_checksession_cannot_be_asked(env):
    sk = od.new_session_key()
    j = od.login_with_key(env, "mp2", sk)
    tok = j["access_token"]
    # WeChat busy, then slow beyond the timeout: decrypted anyway.
    env.mock("/_mock/fail", {"api": "checksession", "errcode": -1, "times": 5})
    u = _check_shape(expect_ok(od.decrypt(env, tok, od.profile_blob(
        sk, env.appid("mp2"), nickName="Busy"))))
    assert u["nickname"] == "Busy"
    # And an 87009 from checksession is believed.
    env.mock("/_mock/fail", {"api": "checksession", "errcode": 87009, "times": 1})
    before = env.snapshot()
    expect_error(od.decrypt(env, tok, od.profile_blob(sk, env.appid("mp2"))), 409,
                 "session_key_stale")
    expect_unchanged(before, env.snapshot(), "checksession 87009")


def test_decrypt_links_by_unionid(env):
    # Person X is known in mp2 with a unionid; in mp1 the login gave none, so
    # mp1's account made a user of its own. A blob with X's unionId joins them
    # as a login with that unionid would: one user, both accounts.
    p = env.person("link")
    b = env.signed_in("mp2", p)
    sk = od.new_session_key()
    a = od.login_with_key(env, "mp1", sk, person=p, openid=lib.expected_openid(env.appid("mp1"), p))
    assert a["user"]["id"] != b["user"]["id"], "two users before the link"
    blob = od.profile_blob(sk, env.appid("mp1"), unionId=lib.expected_unionid(p),
                           nickName="Linked")
    r = od.decrypt(env, a["access_token"], blob)
    info = expect_ok(r, "decrypt with a unionId")
    u = _check_shape(info, b["user"]["id"])         # the older user survives
    assert u["unionid"] == lib.expected_unionid(p) and u["nickname"] == "Linked", u
    assert sorted(x["appid"] for x in info["accounts"]) == \
        sorted([env.appid("mp1"), env.appid("mp2")]), info["accounts"]
    rows = env.sql("SELECT merged_into FROM users WHERE id = %s", a["user"]["id"])
    assert rows == [[b["user"]["id"]]], "mp1's user is a tombstone now: %r" % (rows,)
    # Both tokens now answer with the survivor.
    lib.wait_until(lambda: od.userinfo(env, a["access_token"])["user"]["id"] == b["user"]["id"],
                   timeout=3, msg="the merged token's userinfo")


def test_decrypt_conflicting_unionid_is_refused(env):
    sk = od.new_session_key()
    p = env.person("conf")
    j = od.login_with_key(env, "mp1", sk, person=p, unionid=lib.expected_unionid(p))
    tok = j["access_token"]
    od.warm(env, tok)
    before = env.snapshot()
    blob = od.profile_blob(sk, env.appid("mp1"), unionId=lib.expected_unionid(p + "x"),
                           nickName="Conflict")
    expect_error(od.decrypt(env, tok, blob), 409, "unionid_conflict")
    after = env.snapshot()
    # The refusal is audited; nothing else changes (the blob can come again).
    before.pop("audit_log", None)
    after.pop("audit_log", None)
    expect_unchanged(before, after, "a conflicting unionId")
    assert od.userinfo(env, tok)["user"]["nickname"] is None


def test_decrypt_data_of_another_user_is_refused(env):
    sk = od.new_session_key()
    j = od.login_with_key(env, "mp1", sk)
    tok = j["access_token"]
    before = _snapshot_after_warm(env, tok)
    blob = od.profile_blob(sk, env.appid("mp1"), openid="oSomebodyElse0000000000000000")
    e = expect_error(od.decrypt(env, tok, blob), 422, "watermark_mismatch")
    assert "another user" in e["message"]
    expect_unchanged(before, env.snapshot(), "data of another openid")
    blob = od.profile_blob(sk, env.appid("mp1"), openid=j["account"]["openid"])
    expect_ok(od.decrypt(env, tok, blob))
