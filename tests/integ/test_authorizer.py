"""The FastCGI Authorizer role (app/handlers/auth.c, auth_authorizer), spoken
straight to the workers' sockets as mod_authnz_fcgi and mod_fcgid speak it:
FCGI_BEGIN_REQUEST with role 2, the protected request's parameters (its own
method and path, never ours), no input stream at all. The answer is the
token check of /v1/session: 200 with the identity in Variable- headers and
nothing else, or the check's own error answer. The Apache recipes that use
it are tested in tests/deploy/apache.sh and tests/deploy/fcgid.sh."""

import time

import fcgi
from fcgi import AUTHORIZER
from lib import iso
from test_metrics import scrape

VARS = ("Variable-WXAUTH_USER", "Variable-WXAUTH_APPID", "Variable-WXAUTH_OPENID",
        "Variable-WXAUTH_UNIONID", "Variable-WXAUTH_SESSION", "Variable-REMOTE_USER")


def _authorize(sock, token=None, method="POST", path="/api/orders", **headers):
    if token is not None:
        headers["HTTP_AUTHORIZATION"] = "Bearer " + token
    return fcgi.exchange(sock, fcgi.params(method, path, **headers), role=AUTHORIZER)


def _sockets(env):
    return [s for s in (env.fcgi_socket, getattr(env, "gate_socket", None)) if s]


def test_a_good_token_is_granted_with_its_identity_in_variables(env):
    j = env.signed_in("mp1")
    who = env.session(j["access_token"]).json
    for sock in _sockets(env):
        # Any method and path: they are the protected resource's.
        for method, path in (("POST", "/api/orders"), ("GET", "/shop/orders.php?x=1"),
                             ("DELETE", "/v1/login")):
            st, hdrs, body = _authorize(sock, j["access_token"], method, path)
            assert st == 200, (sock, method, path, st, hdrs, body)
            got = dict(hdrs)
            assert got.get("Variable-WXAUTH_USER") == who["user"]["id"], got
            assert got.get("Variable-WXAUTH_APPID") == who["account"]["appid"], got
            assert got.get("Variable-WXAUTH_OPENID") == who["account"]["openid"], got
            assert got.get("Variable-WXAUTH_UNIONID") == who["user"]["unionid"], got
            assert got.get("Variable-WXAUTH_SESSION") == who["session_id"], got
            assert got.get("Variable-REMOTE_USER") == who["user"]["id"], got
            # Nothing but the variables: Apache would add any other header of
            # a granting answer to the protected resource's own.
            assert sorted(n for n, _ in hdrs) == sorted(VARS), hdrs
            assert body == b"", body


def test_refusals_are_the_checks_own_answers(env):
    j = env.signed_in("mp1")
    gone = env.signed_in("mp1")
    assert env.logout(gone["access_token"]).status == 200
    ident = env.session(j["access_token"]).json
    expired = env.mint(env.claims(ident, exp=iso(time.time() - 10)))
    t = j["access_token"]
    tampered = t[:-2] + ("A" if t[-2] != "A" else "B") + t[-1]
    before = env.snapshot()
    for sock in _sockets(env):
        for token, errors in ((None, ("invalid_token",)),
                              (tampered, ("invalid_token",)),
                              (expired, ("token_expired", "invalid_token")),
                              (gone["access_token"], ("session_revoked",))):
            st, hdrs, body = _authorize(sock, token)
            assert st == 401, (sock, token and token[:20], st, hdrs, body)
            names = [n.lower() for n, _ in hdrs]
            assert "www-authenticate" in names, hdrs
            assert not any(n.startswith("variable-") for n in names), hdrs
            assert any(e.encode() in body for e in errors), body
    assert env.snapshot() == before, "a refused Authorizer request changed what is stored"


def test_a_client_cannot_smuggle_an_identity(env):
    """Headers a client sends that look like the answer's are its own
    request's (HTTP_*), never the variables of the grant."""
    j = env.signed_in("mp1")
    who = env.session(j["access_token"]).json
    forged = {"HTTP_VARIABLE_WXAUTH_USER": "00000000-0000-0000-0000-000000000000",
              "HTTP_X_AUTH_OPENID": "attacker", "HTTP_WXAUTH_OPENID": "attacker",
              "WXAUTH_OPENID": "attacker", "REMOTE_USER": "attacker"}
    st, hdrs, _ = _authorize(env.fcgi_socket, j["access_token"], **forged)
    got = dict(hdrs)
    assert st == 200 and got["Variable-WXAUTH_OPENID"] == who["account"]["openid"], hdrs
    assert got["Variable-WXAUTH_USER"] == who["user"]["id"], hdrs
    st, hdrs, _ = _authorize(env.fcgi_socket, None, **forged)
    assert st == 401 and not any(n.lower().startswith("variable-") for n, _ in hdrs), hdrs


def test_a_responder_request_is_not_an_authorizer_one(env):
    """The role comes from the protocol: a Responder request for a path that
    is not ours is a 404, whatever it says about roles in its parameters."""
    j = env.signed_in("mp1")
    st, hdrs, body = fcgi.exchange(env.fcgi_socket, fcgi.params(
        "GET", "/api/orders", HTTP_AUTHORIZATION="Bearer " + j["access_token"],
        FCGI_ROLE="AUTHORIZER", FCGI_APACHE_ROLE="AUTHORIZER"))
    assert st == 404 and b"not_found" in body, (st, body)


def test_authorizer_requests_are_counted_under_their_own_route(env):
    j = env.signed_in("mp1")
    a = scrape(env)
    for _ in range(3):
        assert _authorize(env.fcgi_socket, j["access_token"])[0] == 200
    assert _authorize(env.fcgi_socket, "v4.local.nonsense")[0] == 401
    b = scrape(env)

    def d(name, **labels):
        return b.value(name, **labels) - a.value(name, **labels)
    assert d("wxauth_requests_total", route="authorizer", status=200) == 3
    assert d("wxauth_requests_total", route="authorizer", status=401) == 1
    assert d("wxauth_requests_total", route="session", status=200) == 0
