#!/usr/bin/python3
"""wxmock: a mock of WeChat's server API (api.weixin.qq.com) for wxauth's tests.

Run with Debian's Python, standard library only:

    /usr/bin/python3 tests/mock/wxmock.py --port PORT [--host 127.0.0.1] [--apps APPS.json]

It answers the way WeChat documents (see shared/WECHAT.md): every WeChat answer
is `text/plain` with a JSON body, a success carries no `errcode` (except
checksession and getuserphonenumber, whose success is errcode 0), an error is
{"errcode": N, "errmsg": "..., rid: ..."}.

People are scripted through the codes themselves. A code is segments separated
by '.': the first is the person's name ([A-Za-z0-9_-]+), the others are
directives or a nonce (anything that is not a directive is ignored, so
"alice.n1" and "alice.n2" are two codes of the same person):

    nouid     no unionid in the answer
    e<N>      answer errcode N instead (e40029, e-1, ...), every time
    estr<N>   same, errcode as a JSON string ("40029")
    once-1    errcode -1 the first time the code is seen, then succeed
    slow<MS>  sleep MS milliseconds first, then answer normally
    html      HTTP 502 with an HTML page (Content-Type text/html)
    trunc     a truncated JSON body with a matching Content-Length
    empty     200 with an empty body
    base      (OAuth) scope snsapi_base: no unionid, sns/userinfo gives 48001
    snap      (OAuth) is_snapshotuser: 1
    extra     unknown extra fields in the success answer
    ccnum     (phone) countryCode as the number 86 instead of "86"

Identities are derived (see the *_for functions); codes are one-use per appid.
The test control API lives under /_mock/ (stats, reset, script, fail,
expire_token, authorize) and a downstream sample for nginx auth_request under
/echo. The browser's side of the web login is here too: WeChat's authorize
pages (/connect/oauth2/authorize, /connect/qrconnect) check the parameters in
WeChat's order and send the browser back with a code of the person that
POST /_mock/authorize {"person", "deny"?} named, once.

The log is one line per request on stderr: method, path without its query
string, and status. Query strings carry secrets, codes and tokens, so they are
never logged; neither are bodies.
"""

import argparse
import base64
import hashlib
import hmac
import json
import re
import secrets
import signal
import sys
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

TOKEN_TTL = 7200          # seconds, server access_token and sns access_token
TOKEN_GRACE = 300         # an old stable_token stays valid 5 minutes after force_refresh
MAX_BODY = 1 << 20        # request bodies larger than this are refused
MAX_SLOW_MS = 120000      # upper bound of the slow<MS> directive

# Counter names of /_mock/stats and the API names /_mock/fail takes.
APIS = ("jscode2session", "oauth2_access_token", "userinfo", "stable_token",
        "token", "getuserphonenumber", "checksession", "getwxacodeunlimit")

# WeChat path -> API name.
PATHS = {
    "/sns/jscode2session": "jscode2session",
    "/sns/oauth2/access_token": "oauth2_access_token",
    "/sns/userinfo": "userinfo",
    "/cgi-bin/stable_token": "stable_token",
    "/cgi-bin/token": "token",
    "/wxa/business/getuserphonenumber": "getuserphonenumber",
    "/wxa/checksession": "checksession",
    "/wxa/getwxacodeunlimit": "getwxacodeunlimit",
}

# Other spellings /_mock/fail accepts for an API name.
API_ALIASES = {p.lstrip("/"): a for p, a in PATHS.items()}
API_ALIASES.update({"oauth2": "oauth2_access_token", "sns_userinfo": "userinfo",
                    "phone": "getuserphonenumber"})

# errcode -> errmsg, as WeChat spells them (WeChat appends ", rid: ..." too).
ERRMSG = {
    -1: "system error",
    0: "ok",
    40001: "invalid credential, access_token is invalid or not latest",
    40002: "invalid grant_type",
    40003: "invalid openid",
    40013: "invalid appid",
    40014: "invalid access_token",
    40029: "invalid code",
    40066: "invalid url",
    40097: "invalid args",
    40125: "invalid appsecret",
    40163: "code been used",
    40164: "invalid ip, not in whitelist",
    40226: "high risk user, login blocked",
    40243: "AppSecret frozen",
    41001: "access_token missing",
    41002: "appid missing",
    41004: "appsecret missing",
    41008: "missing code",
    41009: "missing openid",
    42001: "access_token expired",
    42003: "code expired",
    43001: "require GET method",
    43002: "require POST method",
    45009: "reach max api daily quota limit",
    45011: "api minute-quota reach limit  mustslower  retry next minute",
    47001: "data format error",
    48001: "api unauthorized",
    40129: "invalid scene",
    40169: "invalid length for scene, or the data is not json string",
    41030: "invalid page hint: page not exist or not published",
    61004: "access clientip is not registered",
    87009: "invalid signature",
}

PERSON_RE = re.compile(r"[A-Za-z0-9_-]+")
FLAGS = frozenset(("nouid", "once-1", "html", "trunc", "empty", "base", "snap",
                   "extra", "ccnum"))
ERR_RE = re.compile(r"e(-?[0-9]+)")
ESTR_RE = re.compile(r"estr(-?[0-9]+)")
SLOW_RE = re.compile(r"slow([0-9]+)")

HTML_502 = (b"<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n"
            b"<center><h1>502 Bad Gateway</h1></center>\r\n<hr><center>nginx</center>\r\n"
            b"</body>\r\n</html>\r\n")

# What `trunc` answers: the start of a success body, cut short.
TRUNC = {
    "jscode2session": b'{"openid":"o',
    "oauth2_access_token": b'{"access_token":"',
    "getuserphonenumber": b'{"errcode":0,"errmsg":"ok","phone_info":{"phoneNu',
}

EXTRA = {"wxmock_extra": {"nested": [1, "two", None], "n": 1.5},
         "x_unknown_flag": True}

# App types allowed to call each API when --apps gives a type.
APP_TYPES = {
    "jscode2session": ("miniprogram",),
    "oauth2_access_token": ("official_account", "website", "mobile"),
    "getuserphonenumber": ("miniprogram",),
    "checksession": ("miniprogram",),
    "getwxacodeunlimit": ("miniprogram",),
}


def _b64u(data):
    return base64.urlsafe_b64encode(data).decode("ascii")


def openid_for(appid, person):
    """One openid per (app, person)."""
    return "o" + _b64u(hashlib.sha256(("openid|%s|%s" % (appid, person)).encode()).digest())[:27]


def unionid_for(person):
    """One unionid per person, the same for every app."""
    return "o6_" + _b64u(hashlib.sha256(("unionid|%s" % person).encode()).digest())[:25]


def session_key_for(appid, code):
    """A fresh 16-byte session_key per (app, code), as standard base64."""
    raw = hashlib.sha256(("sk|%s|%s" % (appid, code)).encode()).digest()[:16]
    return base64.b64encode(raw).decode("ascii")


def phone_for(person):
    """A Chinese mobile number derived from the person: 138 + 8 digits."""
    n = int.from_bytes(hashlib.sha256(("phone|%s" % person).encode()).digest()[:8], "big")
    return "138%08d" % (n % 100000000)


def checksession_signature(session_key):
    """hmac_sha256(key = session_key base64 text, message = ""), lower-case hex."""
    return hmac.new(session_key.encode(), b"", hashlib.sha256).hexdigest()


class Code:
    """A parsed code: person name, flags, forced error and delay."""

    def __init__(self, raw):
        segs = raw.split(".")
        self.raw = raw
        self.person = segs[0]
        self.valid = bool(PERSON_RE.fullmatch(self.person))
        self.flags = set()
        self.err = None          # int, or str for estr<N>
        self.slow_ms = 0
        for s in segs[1:]:
            m = None
            if s in FLAGS:
                self.flags.add(s)
            elif (m := ESTR_RE.fullmatch(s)):
                self.err = m.group(1)
            elif (m := ERR_RE.fullmatch(s)):
                self.err = int(m.group(1))
            elif (m := SLOW_RE.fullmatch(s)):
                self.slow_ms = min(int(m.group(1)), MAX_SLOW_MS)
            # Anything else is a nonce.

    def has(self, flag):
        return flag in self.flags


class Response:
    def __init__(self, status, ctype, body):
        self.status = status
        self.ctype = ctype
        self.body = body


def _png_chunk(kind, data):
    import zlib
    return (len(data).to_bytes(4, "big") + kind + data +
            (zlib.crc32(kind + data) & 0xffffffff).to_bytes(4, "big"))


def code_png(text):
    """A small real PNG (a 1x1 pixel) with one tEXt chunk per item of text."""
    import zlib
    out = b"\x89PNG\r\n\x1a\n" + _png_chunk(b"IHDR", (1).to_bytes(4, "big") * 2 +
                                               bytes([8, 0, 0, 0, 0]))
    for k, v in text.items():
        out += _png_chunk(b"tEXt", k.encode() + b"\x00" + v.encode())
    return out + _png_chunk(b"IDAT", zlib.compress(b"\x00\x00")) + _png_chunk(b"IEND", b"")


def wx(obj, status=200):
    """A WeChat answer: text/plain with a JSON body."""
    return Response(status, "text/plain",
                    json.dumps(obj, ensure_ascii=False, separators=(",", ":")).encode())


def wx_err(errcode, hint=None):
    try:
        key = int(errcode)
    except (TypeError, ValueError):
        key = None
    msg = ERRMSG.get(key, "error")
    if hint:
        msg += ", hint: [%s]" % hint
    if key != 0:
        msg += ", rid: %s-%s" % (secrets.token_hex(4), secrets.token_hex(6))
    return wx({"errcode": errcode, "errmsg": msg})


def ctl(obj, status=200):
    """A test control answer: application/json."""
    return Response(status, "application/json", json.dumps(obj).encode())


def transport_failure(code, api):
    """The html / trunc / empty directives, or None."""
    if code.has("html"):
        return Response(502, "text/html", HTML_502)
    if code.has("trunc"):
        return Response(200, "text/plain", TRUNC.get(api, b'{"errcode":'))
    if code.has("empty"):
        return Response(200, "text/plain", b"")
    return None


class Mock:
    """All the mock's state. Every method that touches it holds self.lock."""

    def __init__(self, apps=None):
        self.apps = None
        if apps is not None:
            self.apps = {a["appid"]: a for a in apps}
        self.lock = threading.Lock()
        self.reset()

    def reset(self):
        with self.lock:
            self.calls = {a: 0 for a in APIS}
            self.codes = {}
            self.force_refreshes = 0
            self.used = set()           # (kind, appid, code) that succeeded
            self.once_fired = set()     # (kind, appid, code) that gave once-1's -1
            self.scripts = {}           # code -> {"openid"?, "unionid"?, "session_key"?}
            self.fails = {}             # api -> [errcode, times left]
            self.app_tokens = {}        # appid -> current server token
            self.tokens = {}            # server token -> {appid, expires, grace_until, revoked}
            self.sns_tokens = {}        # sns token -> {appid, openid, scope, person, unionid, extra, expires}
            self.session_keys = {}      # (appid, openid) -> latest session_key
            self.authorize = None       # {"person", "deny"}: who the next authorize page is

    # -- bookkeeping ------------------------------------------------------

    def count(self, api, code=None):
        with self.lock:
            self.calls[api] += 1
            if isinstance(code, str) and code:
                self.codes[code] = self.codes.get(code, 0) + 1

    def injected(self, api):
        """The errcode /_mock/fail scheduled for this call, or None."""
        with self.lock:
            f = self.fails.get(api)
            if not f:
                return None
            f[1] -= 1
            if f[1] <= 0:
                del self.fails[api]
            return f[0]

    def stats(self):
        with self.lock:
            return {"calls": dict(self.calls), "codes": dict(self.codes),
                    "force_refresh": self.force_refreshes}

    # -- apps and secrets -------------------------------------------------

    def check_app(self, api, appid, secret):
        """The error answer for a bad appid/secret, or None."""
        if not appid:
            return wx_err(41002)
        app = None
        if self.apps is not None:
            app = self.apps.get(appid)
            if app is None:
                return wx_err(40013)
        if not secret:
            return wx_err(41004)
        if app is not None:
            if not hmac.compare_digest(str(app.get("secret", "")).encode(), secret.encode()):
                return wx_err(40125)
            allowed = APP_TYPES.get(api)
            if allowed and app.get("type") and app["type"] not in allowed:
                return wx_err(40013, "app type %s cannot call %s" % (app["type"], api))
        return None

    def app_type_allows(self, api, appid):
        if self.apps is None:
            return True
        app = self.apps.get(appid) or {}
        allowed = APP_TYPES.get(api)
        return not (allowed and app.get("type") and app["type"] not in allowed)

    # -- codes -------------------------------------------------------------

    def gate(self, kind, api, appid, raw):
        """Sleep, fail or consume a code. Returns (Response or None, Code, script).

        A code is consumed (and its script popped) only when this returns no
        Response: the caller then answers success."""
        code = Code(raw)
        if code.slow_ms:
            time.sleep(code.slow_ms / 1000.0)
        r = transport_failure(code, api)
        if r is not None:
            return r, code, None
        if code.err is not None:
            return wx_err(code.err), code, None
        key = (kind, appid, raw)
        with self.lock:
            script = self.scripts.get(raw) if kind == "login" else None
            if script is None and not code.valid:
                return wx_err(40029), code, None
            if key in self.used:
                return wx_err(40163), code, None
            if code.has("once-1") and key not in self.once_fired:
                self.once_fired.add(key)
                return wx_err(-1), code, None
            self.used.add(key)
            if script is not None:
                del self.scripts[raw]
        return None, code, script

    # -- server access tokens ---------------------------------------------

    def stable_token(self, appid, force):
        now = time.time()
        with self.lock:
            cur = self.app_tokens.get(appid)
            info = self.tokens.get(cur) if cur else None
            if force:
                self.force_refreshes += 1
            if info is None or info["revoked"] or now >= info["expires"] or force:
                if info is not None and not info["revoked"] and now < info["expires"]:
                    info["grace_until"] = min(info["expires"], now + TOKEN_GRACE)
                cur = "%d_%s" % (len(self.tokens) + 1, secrets.token_urlsafe(96))
                info = {"appid": appid, "expires": now + TOKEN_TTL,
                        "grace_until": None, "revoked": False}
                self.tokens[cur] = info
                self.app_tokens[appid] = cur
            return cur, max(1, int(info["expires"] - now))

    def token_app(self, token):
        """(appid, None) for a valid server token, else (None, errcode)."""
        now = time.time()
        with self.lock:
            info = self.tokens.get(token)
            if info is None or info["revoked"]:
                return None, 40001
            if now >= info["expires"]:
                return None, 42001
            if info["grace_until"] is not None and now >= info["grace_until"]:
                return None, 40001
            return info["appid"], None

    def expire_token(self, appid):
        with self.lock:
            cur = self.app_tokens.pop(appid, None)
            if cur is None:
                return False
            self.tokens[cur]["revoked"] = True
            return True


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "wxmock"
    # Headers and body leave in one write (handle_one_request flushes), and
    # without Nagle, so that a reused keep-alive connection sees no 40 ms stall.
    wbufsize = 1 << 16
    disable_nagle_algorithm = True
    timeout = 300

    # -- plumbing ---------------------------------------------------------

    def version_string(self):
        return self.server_version

    def log_request(self, code="-", size="-"):
        # Path only: query strings carry secrets, codes and tokens.
        path = getattr(self, "path", None) or "-"
        path = path.split("?", 1)[0]
        line = "wxmock %s %s %s\n" % (getattr(self, "command", None) or "-",
                                      path, getattr(code, "value", code))
        srv = self.server
        with srv.log_lock:
            srv.log.write(line)
            srv.log.flush()

    def log_error(self, format, *args):
        # The default would print the raw request line (query string included);
        # log_request still writes the line with the status.
        pass

    def read_body(self):
        """The request body as bytes, or None when it is too large or broken."""
        te = (self.headers.get("Transfer-Encoding") or "").lower()
        if "chunked" in te:
            chunks, total = [], 0
            while True:
                line = self.rfile.readline(1024)
                if not line:
                    return None
                try:
                    n = int(line.split(b";", 1)[0].strip(), 16)
                except ValueError:
                    return None
                if n == 0:
                    while self.rfile.readline(1024) not in (b"\r\n", b"\n", b""):
                        pass
                    break
                total += n
                if total > MAX_BODY:
                    return None
                chunks.append(self.rfile.read(n))
                self.rfile.readline(1024)
            return b"".join(chunks)
        try:
            n = int(self.headers.get("Content-Length") or 0)
        except ValueError:
            return None
        if n < 0 or n > MAX_BODY:
            return None
        return self.rfile.read(n) if n else b""

    def send(self, r):
        self.send_response(r.status)
        self.send_header("Content-Type", r.ctype)
        self.send_header("Content-Length", str(len(r.body)))
        if getattr(r, "location", None):
            self.send_header("Location", r.location)
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(r.body)

    def handle_any(self):
        url = urllib.parse.urlsplit(self.path)
        self.q = {k: v[0] for k, v in urllib.parse.parse_qs(url.query, keep_blank_values=True).items()}
        body = self.read_body()
        if body is None:
            self.close_connection = True
            self.send(ctl({"error": "body too large or malformed"}, 413))
            return
        self.body = body
        path = url.path
        try:
            if path in PATHS:
                r = getattr(self, "api_" + PATHS[path])()
            elif path in ("/connect/oauth2/authorize", "/connect/qrconnect"):
                r = self.authorize_page(path)
            elif path == "/echo" or path.startswith("/echo/"):
                r = self.echo(url)
            elif path.startswith("/_mock/"):
                r = self.control(path[len("/_mock/"):])
            else:
                r = Response(404, "text/plain",
                             json.dumps({"errcode": 40066, "errmsg": ERRMSG[40066]}).encode())
        except Exception as e:  # a bug in the mock: say so, keep serving
            r = Response(500, "text/plain", ("wxmock internal error: %s" % type(e).__name__).encode())
        self.send(r)

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = handle_any

    @property
    def mock(self):
        return self.server.mock

    def json_body(self):
        """The body as a JSON object, or None."""
        try:
            obj = json.loads(self.body.decode("utf-8"))
        except (UnicodeDecodeError, ValueError):
            return None
        return obj if isinstance(obj, dict) else None

    def require(self, method, api):
        """Count the call; the answer for a wrong method or an injected failure, or None."""
        if self.command != method:
            return wx_err(43001 if method == "GET" else 43002)
        injected = self.mock.injected(api)
        if injected is not None:
            return wx_err(injected, "wxmock injected")
        return None

    # -- WeChat ------------------------------------------------------------

    def authorize_page(self, path):
        """open.weixin.qq.com's authorize (official account) and qrconnect
        (website) pages, as the browser meets them: the parameters in
        WeChat's order, then a 302 back to redirect_uri with a code of the
        person /_mock/authorize named and the state (no code: refused)."""
        m = self.mock
        url = urllib.parse.urlsplit(self.path)
        names = [kv.split("=", 1)[0] for kv in url.query.split("&") if kv]
        if names != ["appid", "redirect_uri", "response_type", "scope", "state"]:
            return Response(400, "text/plain", b"parameters out of WeChat's order")
        q = self.q
        want = "website" if path.endswith("qrconnect") else "official_account"
        app = (m.apps or {}).get(q["appid"]) if m.apps is not None else {"type": want}
        if app is None or app.get("type", want) != want:
            return Response(400, "text/plain", b"unknown appid for this page")
        scopes = ("snsapi_login",) if want == "website" else ("snsapi_base", "snsapi_userinfo")
        if q["response_type"] != "code" or q["scope"] not in scopes:
            return Response(400, "text/plain", b"bad response_type or scope")
        if not re.fullmatch(r"[A-Za-z0-9]{0,128}", q["state"]):
            return Response(400, "text/plain", b"bad state")
        with m.lock:
            who, m.authorize = m.authorize, None
        if who is None:
            return Response(400, "text/plain", b"no person scripted (POST /_mock/authorize)")
        back = q["redirect_uri"]
        sep = "&" if "?" in back else "?"
        if who.get("deny"):
            loc = "%s%sstate=%s" % (back, sep, q["state"])
        else:
            code = "%s.n%s" % (who["person"], secrets.token_hex(6))
            loc = "%s%scode=%s&state=%s" % (back, sep, code, q["state"])
        r = Response(302, "text/plain", b"")
        r.location = loc
        return r

    def api_jscode2session(self):
        m, q = self.mock, self.q
        code = q.get("js_code")
        m.count("jscode2session", code)
        r = self.require("GET", "jscode2session")
        if r:
            return r
        appid = q.get("appid", "")
        r = m.check_app("jscode2session", appid, q.get("secret", ""))
        if r:
            return r
        if q.get("grant_type") != "authorization_code":
            return wx_err(40002)
        if not code:
            return wx_err(41008)
        r, c, script = m.gate("login", "jscode2session", appid, code)
        if r:
            return r
        script = script or {}
        openid = script.get("openid") or openid_for(appid, c.person)
        unionid = script["unionid"] if "unionid" in script else (
            None if c.has("nouid") else unionid_for(c.person))
        sk = script.get("session_key") or session_key_for(appid, code)
        with m.lock:
            m.session_keys[(appid, openid)] = sk
        out = {"session_key": sk, "openid": openid}
        if unionid:
            out["unionid"] = unionid
        if c.has("extra"):
            out.update(EXTRA)
        return wx(out)

    def api_oauth2_access_token(self):
        m, q = self.mock, self.q
        code = q.get("code")
        m.count("oauth2_access_token", code)
        r = self.require("GET", "oauth2_access_token")
        if r:
            return r
        appid = q.get("appid", "")
        r = m.check_app("oauth2_access_token", appid, q.get("secret", ""))
        if r:
            return r
        if q.get("grant_type") != "authorization_code":
            return wx_err(40002)
        if not code:
            return wx_err(41008)
        r, c, script = m.gate("login", "oauth2_access_token", appid, code)
        if r:
            return r
        script = script or {}
        base = c.has("base")
        openid = script.get("openid") or openid_for(appid, c.person)
        if base:
            unionid = None
        elif "unionid" in script:
            unionid = script["unionid"]
        else:
            unionid = None if c.has("nouid") else unionid_for(c.person)
        scope = "snsapi_base" if base else "snsapi_userinfo"
        tok = "sns_" + secrets.token_urlsafe(64)
        with m.lock:
            m.sns_tokens[tok] = {"appid": appid, "openid": openid, "scope": scope,
                                 "person": c.person, "unionid": unionid,
                                 "extra": c.has("extra"), "expires": time.time() + TOKEN_TTL}
        out = {"access_token": tok, "expires_in": TOKEN_TTL,
               "refresh_token": "snsr_" + secrets.token_urlsafe(64),
               "openid": openid, "scope": scope}
        if unionid:
            out["unionid"] = unionid
        if c.has("snap"):
            out["is_snapshotuser"] = 1
        if c.has("extra"):
            out.update(EXTRA)
        return wx(out)

    def api_userinfo(self):
        m, q = self.mock, self.q
        m.count("userinfo")
        r = self.require("GET", "userinfo")
        if r:
            return r
        tok = q.get("access_token")
        if not tok:
            return wx_err(41001)
        with m.lock:
            info = m.sns_tokens.get(tok)
            info = dict(info) if info else None
        if info is None:
            return wx_err(40001)
        if time.time() >= info["expires"]:
            return wx_err(42001)
        if not q.get("openid"):
            return wx_err(41009)
        if q["openid"] != info["openid"]:
            return wx_err(40003)
        if info["scope"] != "snsapi_userinfo":
            return wx_err(48001)
        p = info["person"]
        out = {"openid": info["openid"], "nickname": p, "sex": 0, "language": "",
               "city": "", "province": "", "country": "",
               "headimgurl": "https://thirdwx.qlogo.cn/mmopen/%s/132" % p,
               "privilege": []}
        if info["unionid"]:
            out["unionid"] = info["unionid"]
        if info["extra"]:
            out.update(EXTRA)
        return wx(out)

    def api_stable_token(self):
        m = self.mock
        m.count("stable_token")
        r = self.require("POST", "stable_token")
        if r:
            return r
        req = self.json_body()
        if req is None:
            return wx_err(47001)
        if req.get("grant_type") != "client_credential":
            return wx_err(40002)
        appid, secret = req.get("appid"), req.get("secret")
        if not isinstance(appid, str) or not isinstance(secret, str):
            return wx_err(41002 if not isinstance(appid, str) else 41004)
        r = m.check_app("stable_token", appid, secret)
        if r:
            return r
        force = req.get("force_refresh", False)
        if not isinstance(force, bool):
            return wx_err(47001)
        tok, ttl = m.stable_token(appid, force)
        return wx({"access_token": tok, "expires_in": ttl})

    def api_token(self):
        # Each call of /cgi-bin/token invalidates the previous token: wxauth must
        # never use it. It is counted so that a test can assert it never was.
        self.mock.count("token")
        return wx_err(48001, "wxmock: /cgi-bin/token must not be used, use /cgi-bin/stable_token")

    def server_token(self, api):
        """(appid, None) for the request's access_token, else (None, Response)."""
        tok = self.q.get("access_token")
        if not tok:
            return None, wx_err(41001)
        appid, err = self.mock.token_app(tok)
        if err:
            return None, wx_err(err)
        if not self.mock.app_type_allows(api, appid):
            return None, wx_err(48001)
        return appid, None

    def api_getuserphonenumber(self):
        m = self.mock
        req = self.json_body()
        code = req.get("code") if req else None
        m.count("getuserphonenumber", code)
        r = self.require("POST", "getuserphonenumber")
        if r:
            return r
        appid, r = self.server_token("getuserphonenumber")
        if r:
            return r
        if req is None:
            return wx_err(47001)
        if not isinstance(code, str) or not code:
            return wx_err(40029, "missing code")
        r, c, _ = m.gate("phone", "getuserphonenumber", appid, code)
        if r:
            return r
        pure = phone_for(c.person)
        info = {"phoneNumber": "+86 " + pure, "purePhoneNumber": pure,
                "countryCode": 86 if c.has("ccnum") else "86",
                "watermark": {"timestamp": int(time.time()), "appid": appid}}
        out = {"errcode": 0, "errmsg": "ok", "phone_info": info}
        if c.has("extra"):
            out.update(EXTRA)
            info.update(EXTRA)
        return wx(out)

    def api_checksession(self):
        m, q = self.mock, self.q
        m.count("checksession")
        r = self.require("GET", "checksession")
        if r:
            return r
        appid, r = self.server_token("checksession")
        if r:
            return r
        openid, sig = q.get("openid"), q.get("signature")
        if not openid or not sig or q.get("sig_method") != "hmac_sha256":
            return wx_err(40097)
        with m.lock:
            sk = m.session_keys.get((appid, openid))
        if sk is None:
            return wx_err(87009)
        # Case-sensitive on purpose: WeChat wants lower-case hex.
        if not hmac.compare_digest(checksession_signature(sk).encode(), sig.encode()):
            return wx_err(87009)
        return wx({"errcode": 0, "errmsg": "ok"})

    def api_getwxacodeunlimit(self):
        """wxa/getwxacodeunlimit: the code image itself (a real PNG whose tEXt
        chunks carry the scene, page, env_version and appid, so that a test
        reads it back as a phone would), or a JSON errcode."""
        m = self.mock
        m.count("getwxacodeunlimit")
        r = self.require("POST", "getwxacodeunlimit")
        if r:
            return r
        appid, r = self.server_token("getwxacodeunlimit")
        if r:
            return r
        req = self.json_body()
        if req is None:
            return wx_err(47001)
        scene = req.get("scene")
        if not isinstance(scene, str) or not 1 <= len(scene) <= 32:
            return wx_err(40169)
        if not re.fullmatch(r"[0-9A-Za-z!#$&'()*+,/:;=?@\-._~]+", scene):
            return wx_err(40129)
        page = req.get("page", "")
        env = req.get("env_version", "release")
        if env not in ("release", "trial", "develop"):
            return wx_err(40097)
        if not isinstance(page, str) or page.startswith("/") or "?" in page:
            return wx_err(41030)
        return Response(200, "image/png", code_png({"scene": scene, "page": page,
                                                     "env_version": env, "appid": appid}))

    # -- downstream sample -------------------------------------------------

    def echo(self, url):
        hdrs = {k: v for k, v in self.headers.items() if k.lower().startswith("x-auth-")}
        # peer: the client's address and port, which names the TCP
        # connection a request came on (nginx's kept ones, test_nginx.py).
        return ctl({"path": url.path, "query": url.query, "method": self.command,
                    "headers": hdrs, "peer": "%s:%s" % self.client_address[:2]})

    # -- test control ------------------------------------------------------

    def control(self, name):
        m = self.mock
        if name == "stats" and self.command == "GET":
            return ctl(m.stats())
        if self.command != "POST":
            return ctl({"error": "not found"}, 404)
        req = self.json_body() if self.body else {}
        if req is None:
            return ctl({"error": "body must be a JSON object"}, 400)
        if name == "reset":
            m.reset()
            return ctl({"ok": True})
        if name == "authorize":
            person = req.get("person")
            if not isinstance(person, str) or not person:
                return ctl({"error": "person required"}, 400)
            with m.lock:
                m.authorize = {"person": person, "deny": bool(req.get("deny"))}
            return ctl({"ok": True})
        if name == "script":
            code = req.get("code")
            if not isinstance(code, str) or not code:
                return ctl({"error": "code required"}, 400)
            s = {k: req[k] for k in ("openid", "unionid", "session_key") if k in req}
            for k, v in s.items():
                if not (v is None or isinstance(v, str)) or (k != "unionid" and v is None):
                    return ctl({"error": "%s must be a string" % k}, 400)
            with m.lock:
                m.scripts[code] = s
            return ctl({"ok": True})
        if name == "fail":
            api = API_ALIASES.get(req.get("api"), req.get("api"))
            errcode, times = req.get("errcode"), req.get("times", 1)
            if api not in APIS:
                return ctl({"error": "api must be one of %s" % ", ".join(APIS)}, 400)
            if isinstance(errcode, bool) or not isinstance(errcode, (int, str)):
                return ctl({"error": "errcode must be a number or a string"}, 400)
            if isinstance(times, bool) or not isinstance(times, int):
                return ctl({"error": "times must be an integer"}, 400)
            with m.lock:
                if times > 0:
                    m.fails[api] = [errcode, times]
                else:
                    m.fails.pop(api, None)
            return ctl({"ok": True})
        if name == "expire_token":
            appid = req.get("appid")
            if not isinstance(appid, str):
                return ctl({"error": "appid required"}, 400)
            return ctl({"ok": True, "expired": m.expire_token(appid)})
        return ctl({"error": "not found"}, 404)


class Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 256


def load_apps(path):
    with open(path, encoding="utf-8") as f:
        apps = json.load(f)
    if isinstance(apps, dict):
        apps = apps.get("apps", [])
    if not isinstance(apps, list):
        raise ValueError("%s: expected a list of apps" % path)
    for i, a in enumerate(apps):
        if not isinstance(a, dict) or not isinstance(a.get("appid"), str) \
                or not isinstance(a.get("secret"), str):
            raise ValueError("%s: app %d needs string appid and secret" % (path, i))
        t = a.get("type")
        if t is not None and t not in ("miniprogram", "official_account", "website", "mobile"):
            raise ValueError("%s: app %d: unknown type %r" % (path, i, t))
    return apps


def make_server(host="127.0.0.1", port=0, apps=None, log=None):
    """A bound, not yet serving server; its .mock is the state."""
    srv = Server((host, port), Handler)
    srv.mock = Mock(apps)
    srv.log = log if log is not None else sys.stderr
    srv.log_lock = threading.Lock()
    return srv


def main(argv=None):
    ap = argparse.ArgumentParser(description="mock of WeChat's server API for wxauth tests")
    ap.add_argument("--port", type=int, required=True, help="0 picks a free port")
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--apps", help="JSON list of {appid, secret, type}")
    args = ap.parse_args(argv)
    try:
        apps = load_apps(args.apps) if args.apps else None
    except (OSError, ValueError) as e:
        print("wxmock: %s" % e, file=sys.stderr)
        return 2
    srv = make_server(args.host, args.port, apps)

    def stop(signum, frame):
        raise SystemExit(0)
    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)

    host, port = srv.server_address[:2]
    print("wxmock listening on %s:%d" % (host, port), flush=True)
    try:
        srv.serve_forever()
    finally:
        srv.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
