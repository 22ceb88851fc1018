"""Helpers of the profile, phone and app-token tests (issue 3), stdlib only.

WeChat's legacy open data is AES-128-CBC with PKCS#7: the tests make their own
blobs with the openssl command line (Python's standard library has no AES),
and use the official vectors from tests/vectors as they are.
"""

import base64
import hashlib
import json
import os
import re
import subprocess
import time
import urllib.parse

import lib

HERE = os.path.dirname(os.path.abspath(__file__))
VECTORS = json.load(open(os.path.join(HERE, "..", "vectors", "wechat-open-data.json"),
                         encoding="utf-8"))

OFFICIAL = VECTORS["decrypt"][0]                 # the demo app's userinfo blob
OFFICIAL_OPENID = json.loads(OFFICIAL["plaintext"])["openId"]
OFFICIAL_UNIONID = json.loads(OFFICIAL["plaintext"])["unionId"]
SIGNATURE = VECTORS["signature"][0]

LINE_RE = re.compile(r" pid=(\d+) request_id=([0-9A-Za-z_-]+) msg=request ")


def fail_vector(name):
    return [v for v in VECTORS["decrypt_fail"] if v["name"] == name][0]


def new_session_key():
    """A random session_key as WeChat gives it (base64 of 16 bytes), registered
    as a secret so that audit/test_secrets.py checks no log holds it."""
    sk = base64.b64encode(os.urandom(16)).decode("ascii")
    for form in lib.session_key_forms(sk):
        lib.remember("session_key", form)
    return sk


def remember_phone(answer):
    """Register the phone numbers of a /v1/phone answer (never to be logged)."""
    for k in ("phone_number", "pure_phone_number"):
        lib.remember("phone number", (answer or {}).get(k))


def seal(session_key, data):
    """(encryptedData, iv) of data (dict: JSON; str/bytes: as is) under session_key."""
    if isinstance(data, dict):
        data = json.dumps(data, ensure_ascii=False, separators=(",", ":"))
    if isinstance(data, str):
        data = data.encode("utf-8")
    key = base64.b64decode(session_key)
    iv = os.urandom(16)
    p = subprocess.run(["openssl", "enc", "-aes-128-cbc", "-K", key.hex(), "-iv", iv.hex()],
                       input=data, stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=30)
    assert p.returncode == 0, "openssl enc failed: %s" % p.stderr.decode(errors="replace")
    return base64.b64encode(p.stdout).decode("ascii"), base64.b64encode(iv).decode("ascii")


def profile_blob(session_key, appid, openid=None, ts=None, **fields):
    """A userinfo blob as WeChat makes them, with a watermark for appid at ts
    (default now): {"encryptedData", "iv"}."""
    data = {"nickName": "Nick", "gender": 2, "language": "en", "city": "Shenzhen",
            "province": "Guangdong", "country": "CN",
            "avatarUrl": "https://thirdwx.qlogo.cn/mmopen/vi_32/abc/132"}
    if openid is not None:
        data["openId"] = openid
    data.update(fields)
    data = {k: v for k, v in data.items() if v is not None}
    data["watermark"] = {"timestamp": int(time.time()) if ts is None else ts, "appid": appid}
    enc, iv = seal(session_key, data)
    return {"encryptedData": enc, "iv": iv}


def phone_blob(session_key, appid, pure, country_code="86", ts=None):
    """A getPhoneNumber blob: {"encryptedData", "iv"}."""
    data = {"phoneNumber": "+86 " + pure, "purePhoneNumber": pure,
            "countryCode": country_code,
            "watermark": {"timestamp": int(time.time()) if ts is None else ts, "appid": appid}}
    enc, iv = seal(session_key, data)
    return {"encryptedData": enc, "iv": iv}


def login_with_key(env, app, session_key, openid=None, unionid=None, person=None):
    """Log in to app with a code the mock answers with this session_key (and
    openid, and unionid: None means none). Returns the login JSON."""
    person = person or env.person("od")
    code = "%s.%s" % (person, lib.nonce())
    fields = {"session_key": session_key, "unionid": unionid}
    if openid is not None:
        fields["openid"] = openid
    env.mock_script(code, **fields)
    r = env.login(app, person, code=code)
    assert r.status == 200, "scripted login in %s: %s" % (app, r.describe())
    return r.json


def wx_login_elsewhere(env, app, person):
    """The person calls wx.login again and the code goes to WeChat without
    wxauth seeing it (another backend, a lost request): WeChat's session_key
    changes, the one wxauth stored is stale. Returns the new session_key."""
    a = env.app(app)
    code = "%s.%s" % (person, lib.nonce())
    lib.remember("code", code)
    q = urllib.parse.urlencode({"appid": a["appid"], "secret": a["secret"], "js_code": code,
                                "grant_type": "authorization_code"})
    r = env._exchange(env._mock, "GET", "/sns/jscode2session?" + q)
    assert r.status == 200 and r.json and r.json.get("session_key"), \
        "direct jscode2session at the mock: %s" % r.describe()
    for form in lib.session_key_forms(r.json["session_key"]):
        lib.remember("session_key", form)
    return r.json["session_key"]


def decrypt(env, token, body, **kw):
    return env.req("POST", "/v1/userinfo/decrypt", body, token=token, **kw)


def phone(env, token, body, **kw):
    r = env.req("POST", "/v1/phone", body, token=token, **kw)
    if r.status == 200:
        remember_phone(r.json)
    return r


def userinfo(env, token):
    r = env.req("GET", "/v1/userinfo", token=token)
    j = lib.expect_ok(r, "GET /v1/userinfo")
    remember_phone((j or {}).get("user"))
    return j


def pids_of(env, responses):
    """The worker pids that served these responses, from wxauth's log."""
    rids = {r.headers.get("X-Request-Id") for r in responses}
    pids = set()

    def found():
        pids.clear()
        for line in lib.read_text(env.log_file).splitlines():
            m = LINE_RE.search(line)
            if m and m.group(2) in rids:
                pids.add(int(m.group(1)))
        return len(pids) > 0
    lib.wait_until(found, timeout=3)
    return set(pids)


def warm(env, token, rounds=8):
    """Bring every worker to the current access token of the token's app.

    The mock forgets its tokens when it is reset before each test, while each
    worker and the database remember theirs: the first uses after a reset are
    refused (40001) and refreshed, which writes wechat_tokens. So that what a
    test measures next is not that, bursts of phone requests larger than the
    pool run until one is answered 200 throughout, by every worker."""
    want = set(env.worker_pids())
    person = env.person("warm")
    for _ in range(rounds):
        rs = lib.parallel(lambda i: phone(env, token, {"code": "%s.%s" % (person, lib.nonce())}),
                          8 * max(len(want), 1))
        if all(r.status == 200 for r in rs) and want <= pids_of(env, rs):
            return
    raise AssertionError("the workers did not settle on one access token in %d bursts" % rounds)


def stats(env):
    s = env.stats()
    c = dict(s.get("calls") or {})
    c["force_refresh"] = s.get("force_refresh", 0)
    return c


def delta(before, after):
    return {k: after.get(k, 0) - before.get(k, 0) for k in after
            if after.get(k, 0) != before.get(k, 0)}


def remember_app_tokens(env):
    """The app access tokens stored now are secrets too."""
    for row in env.sql("SELECT access_token FROM wechat_tokens"):
        lib.remember("app access token", row[0])


def mock_phone(person):
    """The purePhoneNumber the mock derives for a person (see wxmock.phone_for)."""
    n = int.from_bytes(hashlib.sha256(("phone|%s" % person).encode()).digest()[:8], "big")
    return "138%08d" % (n % 100000000)


def mock_session_key(appid, code):
    """The session_key the mock hands out for (appid, code) (see wxmock.session_key_for)."""
    raw = hashlib.sha256(("sk|%s|%s" % (appid, code)).encode()).digest()[:16]
    sk = base64.b64encode(raw).decode("ascii")
    for form in lib.session_key_forms(sk):
        lib.remember("session_key", form)
    return sk
