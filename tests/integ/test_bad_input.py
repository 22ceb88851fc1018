"""Bad input on every body-taking route: always its 4xx in the JSON envelope,
never a crash, never a WeChat call, never a change to what is stored."""

import json

from lib import (check_session_identity, check_token_answer, expect_accepted_everywhere,
                 expect_error, expect_unchanged, nonce)

KB = 1024
MIB = 1024 * 1024

JSON = {"Content-Type": "application/json"}


def _padded(n, field="code"):
    """A JSON object of about n bytes (one long string field)."""
    return json.dumps({field: "x" * n}).encode()


def _check(env, method, path, status, names, body=None, headers=None, token=None, field=None):
    """One bad request: its error, its envelope, nothing stored changed, WeChat not called."""
    before, calls = env.snapshot(), env.stats()["calls"]
    r = env.req(method, path, body, headers=headers, token=token)
    label = "%s %s %s" % (method, path, _label(body, headers))
    try:
        expect_error(r, status, names, field=field)
    except AssertionError as e:
        raise AssertionError("%s: %s" % (label, e)) from None
    expect_unchanged(before, env.snapshot(), label)
    after = env.stats()["calls"]
    assert after == calls, "%s: WeChat was called: %s -> %s" % (label, calls, after)
    return r


def _label(body, headers):
    if body is None:
        b = "(no body)"
    elif isinstance(body, (bytes, str)) and len(body) > 60:
        b = "(%d bytes)" % len(body)
    else:
        b = repr(body)
    ct = (headers or {}).get("Content-Type")
    return b + (" as %s" % ct if ct else "")


def _common(env, path, token=None, fields=(), base=None):
    """The cases every JSON route shares. fields: [(field, wrong value)], each
    sent alone in an otherwise valid body (base)."""
    c = lambda *a, **k: _check(env, "POST", path, *a, token=token, **k)  # noqa: E731
    c(400, "invalid_json", body=b'{"code": "abc"', headers=JSON)
    c(400, "invalid_json", body=b'{"code": }', headers=JSON)
    c(400, "invalid_json", body=b"\xff\xfe{}", headers=JSON)
    c(400, "invalid_json", body=b"[1, 2]", headers=JSON)
    c(400, "invalid_json", body=b'"just a string"', headers=JSON)
    c(400, "invalid_json", body=b"42", headers=JSON)
    for field, value in fields:
        body = dict(base or {})
        body[field] = value
        c(400, "invalid_request", body=body, field=field)
    c(413, "body_too_large", body=_padded(100 * KB), headers=JSON)
    c(413, "body_too_large", body=_padded(MIB), headers=JSON)
    valid = {"appid": env.appid("mp1"), "code": "bad." + nonce(), "refresh_token": "x" * 43}
    c(415, "unsupported_media_type", body=json.dumps(valid), headers={"Content-Type": "text/plain"})
    c(415, "unsupported_media_type", body="appid=%s&code=bad.%s" % (env.appid("mp1"), nonce()),
      headers={"Content-Type": "application/x-www-form-urlencoded"})
    _check(env, "GET", path, 405, "method_not_allowed", token=token)


def _workers_same(env, before):
    after = env.worker_pids()
    assert after == before, "worker pids changed (a worker died?): %s -> %s" % (before, after)


def test_login_bad_input(env):
    pids = env.worker_pids()
    path = "/v1/login"
    mp1 = env.appid("mp1")
    c = lambda *a, **k: _check(env, "POST", path, *a, **k)  # noqa: E731
    c(400, ("invalid_json", "invalid_request"), headers=JSON)          # no body at all
    _common(env, path, fields=[("code", 12345), ("code", True), ("code", {"a": "b"})],
            base={"appid": mp1})
    c(400, "invalid_request", body={"appid": {"x": 1}, "code": "bad." + nonce()}, field="appid")
    c(400, "invalid_request", body={"appid": 7, "code": "bad." + nonce()}, field="appid")
    c(400, "invalid_request", body={"appid": mp1, "code": None}, field="code")
    c(400, "invalid_request", body={"appid": mp1, "code": ["a"]}, field="code")
    c(400, "invalid_request", body={"appid": mp1}, field="code")
    c(400, "invalid_request", body={"appid": mp1, "code": ""}, field="code")
    c(400, "invalid_request", body={"appid": mp1, "code": "bad.n" + "a" * 124}, field="code")  # 129
    c(400, "invalid_request", body={"appid": mp1, "code": "x" * (10 * KB)}, field="code")
    c(400, "invalid_request", body={"appid": mp1, "code": "bad\u0001." + nonce()}, field="code")
    c(400, "invalid_request", body={"appid": mp1, "code": "bad\n." + nonce()}, field="code")
    c(400, "invalid_request", body={"appid": mp1, "code": "bad\u007f." + nonce()}, field="code")
    c(400, "invalid_request", body={"appid": mp1, "code": "bad\u00e9." + nonce()}, field="code")
    c(400, "invalid_request", body={"appid": mp1, "code": "bad." + nonce() + "\u0000"}, field="code")
    _check(env, "PUT", path, 405, "method_not_allowed", body={"appid": mp1, "code": "bad." + nonce()})
    _check(env, "DELETE", path, 405, "method_not_allowed")
    _workers_same(env, pids)


def test_refresh_bad_input(env):
    pids = env.worker_pids()
    path = "/v1/token/refresh"
    c = lambda *a, **k: _check(env, "POST", path, *a, **k)  # noqa: E731
    c(400, ("invalid_json", "invalid_request"), headers=JSON)
    _common(env, path, fields=[("refresh_token", 12345), ("refresh_token", {"a": 1}),
                               ("refresh_token", None)])
    c(400, "invalid_request", body={}, field="refresh_token")
    c(400, "invalid_request", body={"token": "x" * 43}, field="refresh_token")
    _workers_same(env, pids)


def test_logout_bad_input(env):
    # With a valid token, so that what is refused is the body, and so that a
    # request wrongly accepted would show as a revoked session in the snapshot.
    pids = env.worker_pids()
    j = check_token_answer(env.login_ok("mp1", env.person("badlo")))
    tok = j["access_token"]
    path = "/v1/logout"
    c = lambda *a, **k: _check(env, "POST", path, *a, token=tok, **k)  # noqa: E731
    _common(env, path, token=tok, fields=[("all", "yes"), ("all", 1), ("all", [True])])
    c(400, "invalid_request", body={"all": {"x": True}}, field="all")
    check_session_identity(env.session(tok), user_id=j["user"]["id"])
    _workers_same(env, pids)


def test_unknown_routes_and_methods(env):
    pids = env.worker_pids()
    for path in ("/v1/does-not-exist", "/v1/login/extra", "/v1/sessionz", "/v1/"):
        _check(env, "GET", path, 404, "not_found")
    _check(env, "POST", "/v1/nope", 404, "not_found", body={"code": "x"})
    _check(env, "DELETE", "/v1/session", 405, "method_not_allowed")
    _check(env, "POST", "/v1/session", 405, "method_not_allowed", body={})
    _check(env, "GET", "/v1/login", 405, "method_not_allowed")
    _check(env, "GET", "/v1/token/refresh", 405, "method_not_allowed")
    _check(env, "GET", "/v1/logout", 405, "method_not_allowed")
    _workers_same(env, pids)


def test_authorization_edge_cases(env):
    pids = env.worker_pids()
    j = check_token_answer(env.login_ok("mp1", env.person("authedge")))
    tok = j["access_token"]
    cases = [None, "Bearer", "Bearer ", "bearer", "Basic dXNlcjpwYXNz", "Token " + tok,
             "Bearer " + tok[:-5], "Bearer " + tok + "x", "Bearer " + tok + " " + tok,
             "Bearer " + "v4.local." + "A" * 4000, "Bearer \u00e9", "Bearer v4.local.",
             "Bearer v4.local..", "Bearer ....."]
    for auth in cases:
        for method, path, body in (("GET", "/v1/session", None), ("POST", "/v1/logout", None),
                                   ("POST", "/v1/logout", {"all": True})):
            hdrs = {"Authorization": auth}
            r = _check(env, method, path, 401, "invalid_token", body=body, headers=hdrs)
            www = r.headers.get("WWW-Authenticate") or ""
            assert www.startswith("Bearer") and 'error="invalid_token"' in www, \
                "%s %s with Authorization %r: WWW-Authenticate %r" % (method, path, auth, www)
    # None of it ended the session.
    check_session_identity(env.session(tok), user_id=j["user"]["id"])
    _workers_same(env, pids)


def test_workers_alive_after_bad_input(env):
    pids = env.worker_pids()
    assert len(pids) == env.workers, "expected %d workers, found %s" % (env.workers, pids)
    # Every worker still answers: a burst wider than the pool.
    j = check_token_answer(env.login_ok("mp1", env.person("alive")))
    expect_accepted_everywhere(env, j["access_token"], user_id=j["user"]["id"])
    r = env.req("GET", "/healthz")
    assert r.status == 200, "healthz: %s" % r.describe()
    _workers_same(env, pids)


def test_json_that_rfc_8259_forbids(env):
    # json-c's strict mode takes NaN and the infinities: refused all the same,
    # anywhere in the body, before WeChat is asked.
    code = "nan.%s" % nonce()
    for bad in ('{"code":"%s","x":NaN}', '{"code":"%s","x":Infinity}',
                '{"code":"%s","x":-Infinity}', '{"code":"%s","x":[1,{"y":NaN}]}',
                '{"code":"%s","x":1e999}',
                # ... and single-quoted strings, and comments.
                "{'code':'%s'}", '{"code":"%s","x":\'y\'}', '{"code":"%s" /* c */}'):
        _check(env, "POST", "/v1/login", 400, "invalid_json", body=(bad % code).encode(),
               headers=JSON)
    # An escape of a lone surrogate is not text: refused, naming the field,
    # never stored as U+FFFD.
    for bad, field in (('{"code":"a\\udc00b"}', "code"), ('{"code":"a\\ud800"}', "code"),
                       ('{"code":"a\\ud800\\u0041"}', "code"),
                       ('{"code":"%s","x":"\\udfff"}' % code, "x")):
        _check(env, "POST", "/v1/login", 400, "invalid_request", body=bad.encode(),
               headers=JSON, field=field)
    # A well-formed pair is text.
    r = env.req("POST", "/v1/login", b'{"code":"\\ud83d\\ude00"}', headers=JSON)
    assert r.status in (400, 401) and r.json["error"] != "invalid_json", r.describe()
