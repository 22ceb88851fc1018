"""What nginx adds: health endpoints, request ids, auth_request for a downstream
API (/demo/ -> the mock's /echo), per-address rate limiting of logins."""

import concurrent.futures

from lib import (check_session_identity, check_token_answer, expect_token_error, parallel,
                 wait_until)


def test_healthz(env):
    r = env.req("GET", "/healthz")
    assert r.status == 200, "healthz: %s" % r.describe()
    assert r.headers.get("X-Request-Id"), "no X-Request-Id: %s" % r.describe()


def test_readyz(env):
    r = env.req("GET", "/readyz")
    assert r.status == 200, "readyz (database reachable): %s" % r.describe()
    assert r.headers.get("X-Request-Id"), "no X-Request-Id: %s" % r.describe()


def test_request_ids_are_unique(env):
    rs = parallel(lambda i: env.req("GET", "/healthz"), 16)
    ids = [r.headers.get("X-Request-Id") for r in rs]
    assert all(ids), "every answer needs an X-Request-Id: %s" % ids
    assert len(set(ids)) == len(ids), "request ids repeat: %s" % ids


def _echo_auth(r):
    """The X-Auth-* headers the downstream received, by lower-case name."""
    assert r.status == 200, "GET /demo/orders: expected 200 from the echo service, got %s" % r.describe()
    j = r.json
    assert isinstance(j, dict) and isinstance(j.get("headers"), dict), "echo answer: %s" % r.describe()
    return {k.lower(): v for k, v in j["headers"].items()}


def test_auth_request_passes_identity(env):
    j = check_token_answer(env.login_ok("mp1", env.person("demo")))
    ident = check_session_identity(env.session(j["access_token"]))
    r = env.req("GET", "/demo/orders", token=j["access_token"])
    h = _echo_auth(r)
    assert h.get("x-auth-user") == ident["user"]["id"], "X-Auth-User: %s vs %s" % (h, ident)
    assert h.get("x-auth-appid") == ident["account"]["appid"], "X-Auth-Appid: %s vs %s" % (h, ident)
    assert h.get("x-auth-openid") == ident["account"]["openid"], "X-Auth-Openid: %s vs %s" % (h, ident)
    assert h.get("x-auth-unionid") == ident["user"]["unionid"], "X-Auth-Unionid: %s vs %s" % (h, ident)


def test_auth_request_without_unionid(env):
    j = check_token_answer(env.login_ok("mp1", env.person("demonu"), directives=("nouid",)))
    h = _echo_auth(env.req("GET", "/demo/orders", token=j["access_token"]))
    assert h.get("x-auth-user") == j["user"]["id"], "X-Auth-User: %s" % h
    assert h.get("x-auth-unionid", "") == "", "X-Auth-Unionid should be empty or absent: %s" % h


def test_auth_request_refuses_without_token(env):
    r = env.req("GET", "/demo/orders")
    assert r.status == 401, "no token: expected 401, got %s" % r.describe()


def test_auth_request_forged_headers(env):
    j = check_token_answer(env.login_ok("mp1", env.person("forger")))
    victim = check_token_answer(env.login_ok("mp1", env.person("victim")))
    forged = {"X-Auth-User": victim["user"]["id"], "X-Auth-Openid": victim["account"]["openid"],
              "X-Auth-Appid": victim["account"]["appid"], "X-Auth-Unionid": "o6_forged"}
    r = env.req("GET", "/demo/orders", headers=forged)
    assert r.status == 401, "forged X-Auth-* without a token: expected 401, got %s" % r.describe()
    bad = dict(forged, Authorization="Bearer v4.local.forged")
    r = env.req("GET", "/demo/orders", headers=bad)
    assert r.status == 401, "forged X-Auth-* with a bad token: expected 401, got %s" % r.describe()
    r = env.req("GET", "/demo/orders", headers=forged, token=j["access_token"])
    h = _echo_auth(r)
    assert h.get("x-auth-user") == j["user"]["id"], \
        "the forged X-Auth-User must be replaced by the real one: %s" % h
    assert h.get("x-auth-openid") == j["account"]["openid"], "X-Auth-Openid replaced: %s" % h
    assert h.get("x-auth-unionid") == j["user"]["unionid"], "X-Auth-Unionid replaced: %s" % h


def test_auth_request_over_kept_connections_names_each_caller(env):
    """The API's upstream keeps its connections (README: an API behind
    proxy_pass): two people, a caller without a token and one with forged
    headers, in turn, one at a time. Each answer that reaches the API names
    its own caller, none of them the one before on the same connection, and
    the connections were in fact reused."""
    a = check_token_answer(env.login_ok("mp1", env.person("kepta")))
    b = check_token_answer(env.login_ok("mp2", env.person("keptb")))
    forged = {"X-Auth-User": a["user"]["id"], "X-Auth-Openid": a["account"]["openid"]}
    peers = []
    for i in range(12):
        who = (a, b)[i % 2]
        r = env.req("GET", "/demo/orders", token=who["access_token"],
                    headers=forged if who is b else None)
        h = _echo_auth(r)
        assert h.get("x-auth-user") == who["user"]["id"], \
            "request %d: X-Auth-User %s, expected %s" % (i, h, who["user"]["id"])
        assert h.get("x-auth-appid") == who["account"]["appid"], "request %d: %s" % (i, h)
        assert h.get("x-auth-openid") == who["account"]["openid"], "request %d: %s" % (i, h)
        peers.append(r.json.get("peer"))
        r = env.req("GET", "/demo/orders", headers=forged)
        assert r.status == 401, "request %d without a token: expected 401, got %s" % (
            i, r.describe())
    assert all(peers), "the echo names no connection: %s" % peers
    assert len(set(peers)) < len(peers), \
        "12 requests one at a time came on 12 connections: none kept (%s)" % peers


def test_auth_request_after_logout(env):
    j = check_token_answer(env.login_ok("mp1", env.person("demolo")))
    _echo_auth(env.req("GET", "/demo/orders", token=j["access_token"]))
    r = env.logout(j["access_token"])
    assert r.status == 200, "logout: %s" % r.describe()
    # Within one second every worker refuses it: a burst larger than the
    # pool, all 401, through auth_request and directly.
    burst = 2 * env.workers
    wait_until(lambda: all(env.req("GET", "/demo/orders", token=j["access_token"]).status == 401
                           for _ in range(burst)),
               timeout=1.0, msg="/demo/orders still served 1 s after logout")
    for _ in range(burst):
        expect_token_error(env.session(j["access_token"]), "session_revoked")


def test_login_rate_limit_per_address(env):
    # From 127.0.0.1 a handful of logins in a row are never throttled...
    for i in range(5):
        r = env.login("mp1", env.person("rl"))
        assert r.status == 200, "login %d from 127.0.0.1 was refused: %s" % (i, r.describe())
    # ... while 60 as fast as possible from 127.0.0.2 are.
    with concurrent.futures.ThreadPoolExecutor(max_workers=12) as ex:
        rs = list(ex.map(lambda i: env.login("mp1", env.person("rl2"), source="127.0.0.2"),
                         range(60)))
    limited = [r for r in rs if r.status == 429]
    assert limited, "60 fast logins from 127.0.0.2: none was rate limited (statuses %s)" % sorted(
        {r.status for r in rs})
    for r in limited:
        assert isinstance(r.json, dict) and r.json.get("error") == "rate_limited", \
            "429 should be JSON {\"error\": \"rate_limited\"}: %s" % r.describe()
    others = {r.status for r in rs if r.status != 429}
    assert others <= {200}, "logins not rate limited should succeed: %s" % [
        r.describe() for r in rs if r.status not in (200, 429)][:3]
    # 127.0.0.1 is still served.
    r = env.login("mp1", env.person("rl"))
    assert r.status == 200, "127.0.0.1 after 127.0.0.2 was throttled: %s" % r.describe()
