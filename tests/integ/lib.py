"""Helpers of wxauth's integration tests (Debian's /usr/bin/python3, stdlib only).

run.py builds one Env from the JSON file that tests/env.sh writes and hands it
to every test function. Everything a test needs to speak to the running
system goes through it: HTTP through nginx (req, login, session, ...), the
WeChat mock's control API (mock, stats), the database (sql, snapshot, dump)
and the processes (worker_pids).

SECRETS is the registry of every secret value the suite has handled (codes,
refresh and access tokens, session keys); audit/test_secrets.py greps the logs
for all of them at the end of the run.
"""

import base64
import concurrent.futures
import hashlib
import http.client
import json
import os
import re
import subprocess
import threading
import time
import urllib.parse

# Default timeout of one HTTP exchange, in seconds. wxauth's WeChat timeout in
# the test config is 3 s, so nothing legitimate takes longer than this.
HTTP_TIMEOUT = 20.0

# The issuer of the test config (tokmint does not add one: tests choose).
DEFAULT_ISSUER = "wxauth-test"

UUID_RE = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
REFRESH_RE = re.compile(r"^[A-Za-z0-9_-]{43}$")

# (kind, value) of every secret the suite has seen; appended to by login(),
# refresh() and the tests themselves (remember()).
SECRETS = []
_secrets_lock = threading.Lock()


def remember(kind, value):
    """Add a secret value to the registry that audit/test_secrets.py greps for."""
    if isinstance(value, str) and value:
        with _secrets_lock:
            SECRETS.append((kind, value))
    return value


def nonce(n=8):
    """A random nonce for codes: 'n' + hex, which the mock never reads as a directive."""
    return "n" + os.urandom(n).hex()


def b64u(data):
    return base64.urlsafe_b64encode(data).decode("ascii")


def expected_openid(appid, person):
    """The openid the mock derives for (appid, person)."""
    return "o" + b64u(hashlib.sha256(("openid|%s|%s" % (appid, person)).encode()).digest())[:27]


def expected_unionid(person):
    """The unionid the mock derives for a person."""
    return "o6_" + b64u(hashlib.sha256(("unionid|%s" % person).encode()).digest())[:25]


def mock_session_key(appid, code):
    """The session_key the mock hands out for (appid, code), standard base64."""
    raw = hashlib.sha256(("sk|%s|%s" % (appid, code)).encode()).digest()[:16]
    return base64.b64encode(raw).decode("ascii")


def mock_phone(person):
    """The phone number (purePhoneNumber) the mock derives for a person."""
    n = int.from_bytes(hashlib.sha256(("phone|%s" % person).encode()).digest()[:8], "big")
    return "138%08d" % (n % 100000000)


def iso(ts):
    """A unix time as ISO 8601 with an explicit UTC offset, as PASETO registers exp/iat."""
    return time.strftime("%Y-%m-%dT%H:%M:%S+00:00", time.gmtime(ts))


class Headers:
    """Case-insensitive response headers."""

    def __init__(self, pairs):
        self._items = list(pairs)
        self._map = {}
        for k, v in self._items:
            self._map.setdefault(k.lower(), []).append(v)

    def get(self, name, default=None):
        v = self._map.get(name.lower())
        return v[0] if v else default

    def get_all(self, name):
        return list(self._map.get(name.lower(), []))

    def __getitem__(self, name):
        v = self._map.get(name.lower())
        if not v:
            raise KeyError(name)
        return v[0]

    def __contains__(self, name):
        return name.lower() in self._map

    def items(self):
        return list(self._items)

    def __repr__(self):
        return "Headers(%r)" % (self._items,)


class Response:
    """One HTTP answer: status, headers (case-insensitive), body bytes, json (or None)."""

    def __init__(self, method, path, status, headers, body):
        self.method = method
        self.path = path
        self.status = status
        self.headers = headers
        self.body = body
        self.json = None
        try:
            self.json = json.loads(body.decode("utf-8")) if body else None
        except (UnicodeDecodeError, ValueError):
            self.json = None
        self.code = None      # set by login()
        self.person = None    # set by login()

    @property
    def text(self):
        return self.body.decode("utf-8", "replace")

    def __repr__(self):
        body = self.text
        if len(body) > 600:
            body = body[:600] + "...(%d bytes)" % len(self.body)
        rid = self.headers.get("X-Request-Id")
        return "<%s %s -> %s %s rid=%s>" % (self.method, self.path, self.status, body, rid)

    # Used in assertion messages: "status, body".
    def describe(self):
        return repr(self)


class Login(dict):
    """A login answer (the JSON) that knows who logged in (.person)."""
    person = None


class Env:
    """The test environment described by ENV_JSON, plus helpers."""

    def __init__(self, cfg):
        self.cfg = cfg
        self.dir = cfg.get("dir")
        self.base_url = cfg["base_url"].rstrip("/")
        self.mock_url = cfg["mock_url"].rstrip("/")
        self.pg = cfg.get("pg") or {}
        self.psql = cfg.get("psql") or "psql"
        self.conf = cfg.get("conf")
        self.key_file = cfg.get("key_file")
        self.wxauth_bin = cfg.get("wxauth_bin")
        self.serve_pid_file = cfg.get("serve_pid_file")
        self.log_file = cfg.get("log_file")
        self.fcgi_socket = cfg.get("fcgi_socket")
        self.gate_socket = cfg.get("gate_socket")
        self.workers = int(cfg.get("workers") or 0)
        self.admin_key = cfg.get("admin_key")
        self.apps = cfg.get("apps") or []
        self.tokmint = cfg.get("tokmint")
        self.issuer = cfg.get("issuer") or DEFAULT_ISSUER
        self._base = urllib.parse.urlsplit(self.base_url)
        self._mock = urllib.parse.urlsplit(self.mock_url)

    @classmethod
    def load(cls, path):
        with open(path, encoding="utf-8") as f:
            return cls(json.load(f))

    def conf_value(self, name, default=None):
        """A global setting of the running config file, as text."""
        with open(self.conf, encoding="utf-8") as f:
            for line in f:
                if line.startswith("["):
                    break
                k, sep, v = line.partition("=")
                if sep and k.strip() == name:
                    return v.strip().strip('"')
        return default

    # -- apps ---------------------------------------------------------------

    @staticmethod
    def wait_until(fn, timeout=5.0, interval=0.05, msg=None):
        """Same as the module's wait_until()."""
        return wait_until(fn, timeout, interval, msg)

    def app(self, name):
        """The app dict by name ('mp1', 'mp2', 'oa', 'web', 'demo')."""
        for a in self.apps:
            if a.get("name") == name:
                return a
        raise KeyError("no app named %r in the env (have %s)"
                       % (name, [a.get("name") for a in self.apps]))

    def appid(self, name):
        return self.app(name)["appid"]

    @staticmethod
    def person(prefix="p"):
        """A person name nobody used before (the database outlives one run)."""
        return prefix + os.urandom(5).hex()

    # -- HTTP ---------------------------------------------------------------

    @staticmethod
    def _exchange(split, method, path, body=None, headers=None, source=None,
                  timeout=HTTP_TIMEOUT):
        host = split.hostname
        port = split.port or (443 if split.scheme == "https" else 80)
        kw = {"timeout": timeout}
        if source:
            kw["source_address"] = (source, 0)
        if split.scheme == "https":
            import ssl
            kw["context"] = ssl._create_unverified_context()
            conn = http.client.HTTPSConnection(host, port, **kw)
        else:
            conn = http.client.HTTPConnection(host, port, **kw)
        full = (split.path or "").rstrip("/") + path
        hdrs = dict(headers or {})
        hdrs.setdefault("Connection", "close")
        try:
            sent_error = None
            try:
                conn.request(method, full, body=body, headers=hdrs)
            except (BrokenPipeError, ConnectionResetError) as e:
                # The server may answer (413) and close before it read all of
                # a large body: its answer can still be waiting in our buffer.
                sent_error = e
            try:
                r = conn.getresponse()
                data = r.read()
            except (ConnectionError, http.client.HTTPException) as e:
                if sent_error is not None:
                    raise ConnectionError("%s %s: connection broken while sending the body (%s), "
                                          "no answer could be read (%s)"
                                          % (method, path, sent_error, e)) from e
                raise
            return Response(method, path, r.status, Headers(r.getheaders()), data)
        finally:
            conn.close()

    def req(self, method, path, body=None, headers=None, token=None, source=None,
            timeout=HTTP_TIMEOUT):
        """One request through nginx on a fresh connection.

        body: dict/list -> JSON (Content-Type application/json unless headers
        set one), bytes/str -> sent as is (Content-Type application/json unless
        headers set one), None -> no body and no Content-Type unless headers set
        one. A header set to None in headers is not sent. token adds
        'Authorization: Bearer TOKEN'. source is a local address to connect
        from (e.g. '127.0.0.2')."""
        hdrs = {}
        if body is not None:
            hdrs["Content-Type"] = "application/json"
            if isinstance(body, (dict, list)):
                body = json.dumps(body).encode("utf-8")
            elif isinstance(body, str):
                body = body.encode("utf-8")
        if token is not None:
            hdrs["Authorization"] = "Bearer " + token
        for k, v in (headers or {}).items():
            for existing in list(hdrs):
                if existing.lower() == k.lower():
                    del hdrs[existing]
            if v is not None:
                hdrs[k] = v
        return self._exchange(self._base, method, path, body, hdrs, source, timeout)

    def login(self, app="mp1", person="alice", code=None, directives=(), body=None,
              **kw):
        """POST /v1/login with a unique code: person[.directive...].nonce.

        app=None leaves appid out. body, when given, replaces the JSON body
        (code still registered). Returns the Response with .code and .person set;
        a 200's tokens go to the SECRETS registry."""
        if code is None:
            code = ".".join([person] + list(directives) + [nonce()])
        remember("code", code)
        # What the mock derives from this code and person: the session_key
        # it hands out and the phone number it would give.
        if app is not None and any(a.get("name") == app for a in self.apps):
            for sk in session_key_forms(mock_session_key(self.appid(app), code)):
                remember("session_key", sk)
        remember("phone", mock_phone(person))
        if body is None:
            body = {"code": code}
            if app is not None:
                body["appid"] = self.appid(app)
        r = self.req("POST", "/v1/login", body, **kw)
        r.code, r.person = code, person
        self._remember_tokens(r)
        return r

    def login_ok(self, app="mp1", person="alice", **kw):
        """login() that must answer 200; returns the Response."""
        r = self.login(app, person, **kw)
        assert r.status == 200 and isinstance(r.json, dict), \
            "login of %s in %s: expected 200, got %s" % (person, app, r.describe())
        return r

    def signed_in(self, app="mp1", person=None, directives=(), prefix="p", **kw):
        """The one checked login of the tests: log person (a fresh one
        named prefix... when None) in to app, check the answer's every
        field (check_token_answer) and return its JSON, a dict whose
        .person is the person."""
        person = person or self.person(prefix)
        j = Login(check_token_answer(self.login_ok(app, person, directives=directives, **kw),
                                     appid=self.appid(app) if app else None))
        j.person = person
        return j

    def refresh(self, refresh_token, **kw):
        """POST /v1/token/refresh; new tokens go to the SECRETS registry."""
        r = self.req("POST", "/v1/token/refresh", {"refresh_token": refresh_token}, **kw)
        self._remember_tokens(r)
        return r

    def session(self, token, **kw):
        """GET /v1/session with Bearer token."""
        return self.req("GET", "/v1/session", token=token, **kw)

    def logout(self, token, body=None, **kw):
        """POST /v1/logout with Bearer token and an optional JSON body."""
        return self.req("POST", "/v1/logout", body, token=token, **kw)

    @staticmethod
    def _remember_tokens(r):
        if r.status == 200 and isinstance(r.json, dict):
            remember("refresh_token", r.json.get("refresh_token"))
            remember("access_token", r.json.get("access_token"))

    # -- the WeChat mock ----------------------------------------------------

    def mock(self, path, body=None, method=None):
        """The mock's control API. GET without body, POST with one (or method=)."""
        method = method or ("GET" if body is None else "POST")
        data = None
        hdrs = {}
        if body is not None:
            data = json.dumps(body).encode("utf-8")
            hdrs["Content-Type"] = "application/json"
        r = self._exchange(self._mock, method, path, data, hdrs, None, HTTP_TIMEOUT)
        assert r.status == 200, "mock %s %s: %s" % (method, path, r.describe())
        return r.json

    def mock_reset(self):
        return self.mock("/_mock/reset", method="POST")

    def mock_script(self, code, **fields):
        """POST /_mock/script: fixes openid / unionid / session_key for one code."""
        body = {"code": code}
        body.update(fields)
        return self.mock("/_mock/script", body)

    def stats(self):
        """GET /_mock/stats -> {"calls": {...}, "codes": {...}}."""
        return self.mock("/_mock/stats")

    def wx_calls(self, api="jscode2session"):
        return int((self.stats().get("calls") or {}).get(api, 0))

    def code_calls(self, code):
        return int((self.stats().get("codes") or {}).get(code, 0))

    # -- PostgreSQL ---------------------------------------------------------

    def _psql(self):
        cmd = [self.psql, "-X", "-q", "-A", "-t", "-F", "\t", "-v", "ON_ERROR_STOP=1"]
        penv = dict(os.environ)
        for key, var in (("host", "PGHOST"), ("port", "PGPORT"), ("user", "PGUSER"),
                         ("dbname", "PGDATABASE"), ("password", "PGPASSWORD")):
            if self.pg.get(key) not in (None, ""):
                penv[var] = str(self.pg[key])
        return cmd, penv

    def sql(self, query, *params):
        """Run one query with psql, returning rows as lists of strings.

        Each %s in query is replaced by a psql variable :'pN' holding the
        corresponding param (quoted by psql as a literal, never by us)."""
        cmd, penv = self._psql()
        parts = query.split("%s")
        assert len(parts) - 1 == len(params), \
            "sql(): %d placeholders, %d params" % (len(parts) - 1, len(params))
        text = parts[0]
        for i, p in enumerate(params, 1):
            cmd += ["-v", "p%d=%s" % (i, "" if p is None else str(p))]
            text += ":'p%d'" % i + parts[i]
        return self._run_psql(cmd, penv, text)

    def sql_as(self, role, query):
        """Run query with psql as role (created with LOGIN and no grant at
        all when missing: what any role that may connect can do)."""
        self.sql("SELECT 1 FROM pg_roles WHERE rolname = %s", role) or \
            self.sql("CREATE ROLE " + role + " LOGIN")
        cmd, penv = self._psql()
        penv["PGUSER"] = role
        return self._run_psql(cmd, penv, query)

    def psql_as(self, role):
        """(argv, environment) of a psql as role, for a caller's Popen."""
        cmd, penv = self._psql()
        penv["PGUSER"] = role
        return cmd, penv

    def _run_psql(self, cmd, penv, text):
        # The script goes on stdin: psql interpolates variables there, not in -c.
        p = subprocess.run(cmd, input=text.rstrip().rstrip(";") + ";\n", env=penv,
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           universal_newlines=True, timeout=30)
        assert p.returncode == 0, "psql failed (%d): %s\nquery: %s" % (
            p.returncode, p.stderr.strip(), text[:500])
        return [line.split("\t") for line in p.stdout.splitlines() if line != ""]

    def _each_table(self, select_fmt):
        """Run select_fmt (a format() string taking %L name, %I schema, %I table)
        over every base table of schema public, with \\gexec."""
        cmd, penv = self._psql()
        script = ("SELECT format(%s, table_name, table_schema, table_name) "
                  "FROM information_schema.tables "
                  "WHERE table_schema = 'public' AND table_type = 'BASE TABLE' "
                  "ORDER BY table_name \\gexec\n" % _sql_literal(select_fmt))
        p = subprocess.run(cmd, input=script, env=penv, stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, universal_newlines=True, timeout=30)
        assert p.returncode == 0, "psql failed (%d): %s" % (p.returncode, p.stderr.strip())
        return p.stdout

    def snapshot(self):
        """{table: "md5 rows"} over every table of schema public (any schema shape).

        Rows are hashed as their text form ordered by that text, so equal
        snapshots mean nothing stored was added, removed or changed."""
        out = self._each_table(
            "SELECT %L, md5(coalesce(string_agg(t::text, E'\\n' ORDER BY t::text), '')), "
            "count(*) FROM %I.%I t")
        snap = {}
        for line in out.splitlines():
            parts = line.split("\t")
            if len(parts) == 3:
                snap[parts[0]] = "%s rows=%s" % (parts[1], parts[2])
        assert snap, "snapshot(): no tables found in schema public (not migrated?)"
        return snap

    def dump(self):
        """The text of every row of every table in schema public, one string."""
        return self._each_table("SELECT %L || ': ' || t::text FROM %I.%I t")

    # -- processes ----------------------------------------------------------

    def serve_pid(self):
        with open(self.serve_pid_file, encoding="ascii") as f:
            return int(f.read().split()[0])

    def _children(self):
        """(pid, process name) of each child of the `wxauth serve` process."""
        pid = self.serve_pid()
        p = subprocess.run(["ps", "-o", "pid=,comm=", "--ppid", str(pid)],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           universal_newlines=True, timeout=10)
        # ps exits 1 when there is no child: that is an empty list, not an error.
        out = []
        for line in p.stdout.splitlines():
            parts = line.split()
            if parts and parts[0].isdigit():
                out.append((int(parts[0]), parts[1] if len(parts) > 1 else ""))
        return out

    def worker_pids(self):
        """Sorted pids of the main pool's workers (children of `wxauth serve`
        that are not gate workers)."""
        return sorted(p for p, name in self._children() if name != "wxauth-gate")

    def gate_pids(self):
        """Sorted pids of the gate pool's workers (the token check)."""
        return sorted(p for p, name in self._children() if name == "wxauth-gate")

    # -- tokens -------------------------------------------------------------

    def mint(self, payload, raw_key_hex=None):
        """A v4.local token for exactly payload, from tokmint (key file or raw key)."""
        data = json.dumps(payload, separators=(",", ":"))
        if raw_key_hex:
            cmd = [self.tokmint, "--raw-key", raw_key_hex, data]
        else:
            cmd = [self.tokmint, self.key_file, data]
        p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           universal_newlines=True, timeout=30)
        assert p.returncode == 0, "tokmint failed (%d): %s" % (p.returncode, p.stderr.strip())
        tok = p.stdout.strip()
        assert tok.startswith("v4.local."), "tokmint printed %r" % tok[:80]
        return tok

    def sid_of(self, token):
        """The session id of a live access token (from /v1/session)."""
        r = self.session(token)
        assert r.status == 200, "sid_of: %s" % r.describe()
        return r.json["session_id"]

    def claims(self, session_json, **over):
        """A valid claim set for the identity of a /v1/session answer, 1 h ahead."""
        now = time.time()
        c = {"iss": self.issuer,
             "sub": session_json["user"]["id"],
             "sid": session_json["session_id"],
             "app": session_json["account"]["appid"],
             "oid": session_json["account"]["openid"],
             "iat": iso(now - 60),
             "exp": iso(now + 3600)}
        c.update(over)
        return c


def _sql_literal(s):
    return "'" + s.replace("'", "''") + "'"


# -- waiting and concurrency ------------------------------------------------


class Background:
    """Load from threads while a fault lasts: each function of `steps` runs
    in a thread of its own, called as step(k) with k = 0, 1, 2, ... until
    the with-block ends or `seconds` pass. The fault, load and pool tests
    each keep what they need of the answers (in the steps)."""

    def __init__(self, steps, seconds=120):
        self._steps, self._seconds = steps, seconds
        self.stopping = threading.Event()
        self._threads = [threading.Thread(target=self._loop, args=(s,), daemon=True)
                         for s in steps]

    def _loop(self, step):
        deadline = time.monotonic() + self._seconds
        k = 0
        while not self.stopping.is_set() and time.monotonic() < deadline:
            step(k)
            k += 1

    def __enter__(self):
        for t in self._threads:
            t.start()
        return self

    def __exit__(self, *exc):
        self.stopping.set()
        for t in self._threads:
            t.join(30)

def wait_until(fn, timeout=5.0, interval=0.05, msg=None):
    """Call fn until it returns something truthy or timeout seconds passed.

    Returns the last value. With msg, a timeout raises AssertionError(msg + last value)."""
    deadline = time.monotonic() + timeout
    while True:
        v = fn()
        if v:
            return v
        if time.monotonic() >= deadline:
            if msg is not None:
                raise AssertionError("%s (after %.1fs; last: %r)" % (msg, timeout, v))
            return v
        time.sleep(interval)


def parallel(fn, n, max_workers=None):
    """Run fn(i) for i in range(n) in threads released together; results in order.

    Exceptions in fn are re-raised (the first, after all finished)."""
    max_workers = max_workers or n
    barrier = threading.Barrier(min(n, max_workers))

    def run(i):
        if i < max_workers:
            try:
                barrier.wait(timeout=10)
            except threading.BrokenBarrierError:
                pass
        return fn(i)

    with concurrent.futures.ThreadPoolExecutor(max_workers=max_workers) as ex:
        futs = [ex.submit(run, i) for i in range(n)]
        return [f.result() for f in futs]


# -- assertions --------------------------------------------------------------

def expect_error(r, status, names, field=None):
    """r is an error answer with this status, an error name among names (a str
    or a tuple), the JSON envelope and a request id equal to the header."""
    if isinstance(names, str):
        names = (names,)
    assert r.status == status, "expected %d %s, got %s" % (status, "/".join(names), r.describe())
    rid = r.headers.get("X-Request-Id")
    assert rid, "no X-Request-Id header: %s" % r.describe()
    j = r.json
    assert isinstance(j, dict), "error body is not a JSON object: %s" % r.describe()
    assert j.get("error") in names, "expected error %s, got %s" % ("/".join(names), r.describe())
    assert isinstance(j.get("message"), str) and j["message"], \
        "error without a message: %s" % r.describe()
    assert j.get("request_id") == rid, \
        "request_id %r in the body differs from X-Request-Id %r" % (j.get("request_id"), rid)
    if field is not None:
        assert field in j["message"], \
            "the message should name the field %r: %s" % (field, r.describe())
    # The header policy of the error table (app/base/err.c), on every error.
    if r.status == 401:
        assert r.headers.get("WWW-Authenticate") == 'Bearer error="invalid_token"', \
            "a 401 without WWW-Authenticate: %s" % r.describe()
    if r.status == 503 or j.get("error") in ("rate_limited", "upstream_rate_limited"):
        ra = r.headers.get("Retry-After") or ""
        assert ra.isdigit() and int(ra) > 0, "a %d %s without Retry-After: %s" % (
            r.status, j.get("error"), r.describe())
    return j


UTC_TIME = re.compile(r"\A\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ\Z")


def expect_utc(value, what, nullable=False):
    """value is a time in the service's one format: RFC 3339, UTC, 'Z'."""
    if nullable and value is None:
        return
    assert isinstance(value, str) and UTC_TIME.match(value), \
        "%s: %r is not RFC 3339 UTC with Z (2026-12-02T18:53:59Z)" % (what, value)


def expect_token_error(r, names):
    """A 401 for a token: the envelope and WWW-Authenticate: Bearer error="invalid_token"."""
    j = expect_error(r, 401, names)
    www = r.headers.get("WWW-Authenticate") or ""
    assert www.startswith("Bearer") and 'error="invalid_token"' in www, \
        "401 without WWW-Authenticate: Bearer error=\"invalid_token\" (got %r): %s" % (www, r.describe())
    return j


def expect_ok(r, what=""):
    assert r.status == 200, "%sexpected 200, got %s" % (what + ": " if what else "", r.describe())
    assert r.headers.get("X-Request-Id"), "no X-Request-Id header: %s" % r.describe()
    return r.json


def expect_unchanged(before, after, what):
    """Two snapshot() results are equal; the message names the tables that differ."""
    if before == after:
        return
    changed = sorted(t for t in set(before) | set(after) if before.get(t) != after.get(t))
    details = ", ".join("%s: %s -> %s" % (t, before.get(t), after.get(t)) for t in changed)
    raise AssertionError("%s changed stored data: %s" % (what, details))


def check_session_identity(r, user_id=None, appid=None, openid=None, unionid=None,
                           check_unionid=False):
    """A 200 /v1/session answer: body shape, and headers equal to the body."""
    j = expect_ok(r, "GET /v1/session")
    assert isinstance(j, dict), "session body not JSON: %s" % r.describe()
    for k in ("user", "account", "session_id", "expires_in"):
        assert k in j, "session answer lacks %r: %s" % (k, r.describe())
    u, a = j["user"], j["account"]
    assert isinstance(u, dict) and isinstance(a, dict), "bad session shape: %s" % r.describe()
    assert isinstance(j["session_id"], str) and j["session_id"], "bad session_id: %s" % r.describe()
    assert isinstance(j["expires_in"], int) and 0 < j["expires_in"] <= 7200, \
        "expires_in should be 1..7200: %s" % r.describe()
    if user_id is not None:
        assert u.get("id") == user_id, "user id %r, expected %r" % (u.get("id"), user_id)
    if appid is not None:
        assert a.get("appid") == appid, "appid %r, expected %r" % (a.get("appid"), appid)
    if openid is not None:
        assert a.get("openid") == openid, "openid %r, expected %r" % (a.get("openid"), openid)
    if check_unionid:
        assert u.get("unionid") == unionid, "unionid %r, expected %r" % (u.get("unionid"), unionid)
    h = r.headers
    assert h.get("X-Auth-User") == u.get("id"), \
        "X-Auth-User %r != user id %r" % (h.get("X-Auth-User"), u.get("id"))
    assert h.get("X-Auth-Appid") == a.get("appid"), \
        "X-Auth-Appid %r != %r" % (h.get("X-Auth-Appid"), a.get("appid"))
    assert h.get("X-Auth-Openid") == a.get("openid"), \
        "X-Auth-Openid %r != %r" % (h.get("X-Auth-Openid"), a.get("openid"))
    if u.get("unionid"):
        assert h.get("X-Auth-Unionid") == u["unionid"], \
            "X-Auth-Unionid %r != %r" % (h.get("X-Auth-Unionid"), u["unionid"])
    else:
        assert h.get("X-Auth-Unionid", "") == "", \
            "X-Auth-Unionid should be empty or absent, got %r" % h.get("X-Auth-Unionid")
    return j


def check_token_answer(r, appid=None, openid=None, login=True, fmt="local"):
    """The shape of a login (login=True) or refresh answer, its access token
    a v4.local one (fmt "public": v4.public); returns the JSON."""
    what = "login" if login else "refresh"
    j = expect_ok(r, what)
    assert isinstance(j, dict), "%s body not JSON: %s" % (what, r.describe())
    at = j.get("access_token")
    assert isinstance(at, str) and at.startswith("v4.%s." % fmt), \
        "access_token should be v4.%s.*: %s" % (fmt, r.describe())
    assert j.get("token_type") == "Bearer", "token_type: %s" % r.describe()
    assert j.get("expires_in") == 7200, "expires_in should be 7200: %s" % r.describe()
    rt = j.get("refresh_token")
    assert isinstance(rt, str) and REFRESH_RE.match(rt), \
        "refresh_token should be 43 base64url characters: %s" % r.describe()
    assert j.get("refresh_expires_in") == 2592000, "refresh_expires_in: %s" % r.describe()
    u, a = j.get("user"), j.get("account")
    assert isinstance(u, dict) and isinstance(u.get("id"), str) and UUID_RE.match(u["id"]), \
        "user.id should be a uuid: %s" % r.describe()
    assert "unionid" in u and (u["unionid"] is None or isinstance(u["unionid"], str)), \
        "user.unionid should be a string or null: %s" % r.describe()
    if login:
        assert isinstance(u.get("created"), bool), "user.created should be a bool: %s" % r.describe()
        assert isinstance(j.get("merged_from"), list), "merged_from should be a list: %s" % r.describe()
    assert isinstance(a, dict) and isinstance(a.get("appid"), str) and isinstance(a.get("openid"), str), \
        "account {appid, openid}: %s" % r.describe()
    if appid is not None:
        assert a["appid"] == appid, "account.appid %r, expected %r" % (a["appid"], appid)
    if openid is not None:
        assert a["openid"] == openid, "account.openid %r, expected %r" % (a["openid"], openid)
    return j


def burst_session(env, token, n=None):
    """n (default 4 x workers) parallel GET /v1/session; the Responses."""
    n = n or max(8, 4 * max(env.workers, 1))
    return parallel(lambda i: env.session(token), n)


def expect_refused_everywhere(env, token, t0, names=("session_revoked",), within=1.0):
    """After an event at monotonic time t0 (a logout, a reuse), the token is refused
    by one worker within `within` seconds, and at t0 + within by every worker
    (bursts of 4 x workers parallel requests, each must be a token 401)."""
    def refused():
        r = env.session(token)
        return r if r.status == 401 else None
    first = wait_until(refused, timeout=max(0.0, t0 + within - time.monotonic()), interval=0.05)
    assert first, "token still accepted %.1fs after it was revoked" % within
    expect_token_error(first, names)
    rest = t0 + within - time.monotonic()
    if rest > 0:
        time.sleep(rest)
    for _ in range(2):
        for r in burst_session(env, token):
            expect_token_error(r, names)


def expect_accepted_everywhere(env, token, **ident):
    """4 x workers parallel GET /v1/session all 200 with the same identity."""
    for r in burst_session(env, token):
        check_session_identity(r, **ident)


def read_text(path):
    try:
        with open(path, "rb") as f:
            return f.read().decode("utf-8", "replace")
    except FileNotFoundError:
        return ""


def session_key_forms(sk_b64):
    """The ways a session_key could show up: base64, url-safe base64, hex."""
    raw = base64.b64decode(sk_b64)
    return {sk_b64, base64.urlsafe_b64encode(raw).decode(), raw.hex(), raw.hex().upper()}
