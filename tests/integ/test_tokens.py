"""Access tokens (PASETO v4.local) and refresh tokens: rotation, reuse detection, forgeries."""

import base64
import os
import time

from lib import (check_session_identity, check_token_answer, expect_error,
                 expect_refused_everywhere, expect_token_error, expect_unchanged,
                 iso)


def _fake_refresh_token():
    return base64.urlsafe_b64encode(os.urandom(32)).decode().rstrip("=")


# -- refresh -----------------------------------------------------------------

def test_refresh_rotates(env):
    j0 = env.signed_in(prefix="tok")
    r = env.refresh(j0["refresh_token"])
    j1 = check_token_answer(r, appid=j0["account"]["appid"], openid=j0["account"]["openid"], login=False)
    assert j1["user"]["id"] == j0["user"]["id"], "refresh changed the user: %s" % r.describe()
    assert j1["refresh_token"] != j0["refresh_token"], "refresh must rotate the refresh token"
    assert j1["access_token"] != j0["access_token"], "refresh must issue a new access token"
    check_session_identity(env.session(j1["access_token"]), user_id=j0["user"]["id"],
                           appid=j0["account"]["appid"], openid=j0["account"]["openid"])
    # The rotated token rotates again.
    j2 = check_token_answer(env.refresh(j1["refresh_token"]), login=False)
    assert j2["refresh_token"] not in (j0["refresh_token"], j1["refresh_token"])


def test_refresh_reuse_revokes_the_session(env):
    p = env.person("reuse")
    j0 = check_token_answer(env.login_ok("mp1", p))
    # Another session of the same person, and another person's: both survive.
    sibling = check_token_answer(env.login_ok("mp1", p))
    other = check_token_answer(env.login_ok("mp1", env.person("reuseother")))
    j1 = check_token_answer(env.refresh(j0["refresh_token"]), login=False)
    # Past the grace in which a retry gets the same answer, reuse is theft.
    time.sleep(float(env.conf_value("refresh_reuse_grace", "5")) + 0.5)
    t0 = time.monotonic()
    r = env.refresh(j0["refresh_token"])
    expect_error(r, 401, "session_revoked")
    r = env.refresh(j1["refresh_token"])
    expect_error(r, 401, "session_revoked")
    for tok in (j1["access_token"], j0["access_token"]):
        expect_refused_everywhere(env, tok, t0)
    check_session_identity(env.session(sibling["access_token"]), user_id=j0["user"]["id"])
    check_session_identity(env.session(other["access_token"]), user_id=other["user"]["id"])
    check_token_answer(env.refresh(sibling["refresh_token"]), login=False)


def test_refresh_unknown_token(env):
    before = env.snapshot()
    r = env.refresh(_fake_refresh_token())
    expect_error(r, 401, "invalid_token")
    expect_unchanged(before, env.snapshot(), "refresh with an unknown token")


def test_refresh_garbage(env):
    before = env.snapshot()
    for bad in (42, None, True, {"x": 1}, ["a"]):
        r = env.req("POST", "/v1/token/refresh", {"refresh_token": bad})
        expect_error(r, 400, "invalid_request", field="refresh_token")
    r = env.req("POST", "/v1/token/refresh", {})
    expect_error(r, 400, "invalid_request", field="refresh_token")
    for bad in ("", "!!!!", "a" * 10240, "x\u0001y", _fake_refresh_token()[:20], "é" * 43):
        r = env.req("POST", "/v1/token/refresh", {"refresh_token": bad})
        if r.status == 400:
            expect_error(r, 400, "invalid_request")
        else:
            expect_error(r, 401, "invalid_token")
    expect_unchanged(before, env.snapshot(), "refresh with garbage")


def test_refresh_after_logout(env):
    j = env.signed_in(prefix="rlo")
    r = env.logout(j["access_token"])
    assert r.status == 200, "logout: %s" % r.describe()
    expect_error(env.refresh(j["refresh_token"]), 401, "session_revoked")


# -- access tokens on /v1/session and /v1/logout ---------------------------------

def _forgeries(env, j):
    """[(label, Authorization header value or None, accepted error names)]."""
    tok = j["access_token"]
    s = env.session(tok)
    ident = check_session_identity(s)
    head, payload_footer = tok[:len("v4.local.")], tok[len("v4.local."):]
    payload = payload_footer.split(".")[0]
    mid = len(head) + len(payload) // 2
    flipped = tok[:mid] + ("A" if tok[mid] != "A" else "B") + tok[mid + 1:]
    now = time.time()
    expired = env.mint(env.claims(ident, iat=iso(1577836800 - 3600),
                                  exp="2020-01-01T00:00:00+00:00"))
    wrong_iss = env.mint(env.claims(ident, iss="someone-else"))
    other_key = env.mint(env.claims(ident), raw_key_hex=os.urandom(32).hex())
    no_exp_claims = env.claims(ident)
    del no_exp_claims["exp"]
    invalid = ("invalid_token",)
    return [
        ("no Authorization", None, invalid),
        ("Bearer with nothing", "Bearer", invalid),
        ("Bearer and a space", "Bearer ", invalid),
        ("Basic", "Basic " + base64.b64encode(b"user:pass").decode(), invalid),
        ("truncated", "Bearer " + tok[:len(tok) // 2], invalid),
        ("one character changed", "Bearer " + flipped, invalid),
        ("v3.local", "Bearer v3.local." + payload_footer, invalid),
        ("v4.public", "Bearer v4.public." + payload_footer, invalid),
        ("garbage", "Bearer not-a-token", invalid),
        ("other key", "Bearer " + other_key, invalid),
        ("other issuer", "Bearer " + wrong_iss, invalid),
        ("no exp", "Bearer " + env.mint(no_exp_claims), ("invalid_token", "token_expired")),
        ("expired", "Bearer " + expired, ("token_expired",)),
        ("exp 10 s ago", "Bearer " + env.mint(env.claims(ident, exp=iso(now - 10))),
         ("token_expired",)),
    ]


def test_minted_token_is_accepted(env):
    # Positive control for the forgeries below: tokmint with the service's key
    # and issuer makes a token wxauth accepts, so a refusal is about the flaw.
    j = env.signed_in(prefix="mint")
    ident = check_session_identity(env.session(j["access_token"]))
    tok = env.mint(env.claims(ident))
    check_session_identity(env.session(tok), user_id=ident["user"]["id"],
                           appid=ident["account"]["appid"], openid=ident["account"]["openid"])


def test_session_refuses_forged_tokens(env):
    j = env.signed_in(prefix="forge")
    for label, auth, names in _forgeries(env, j):
        r = env.req("GET", "/v1/session", headers={"Authorization": auth})
        try:
            expect_token_error(r, names)
        except AssertionError as e:
            raise AssertionError("GET /v1/session with %s: %s" % (label, e)) from None
    check_session_identity(env.session(j["access_token"]))


def test_logout_refuses_forged_tokens(env):
    j = env.signed_in(prefix="forgelo")
    cases = _forgeries(env, j)
    before = env.snapshot()
    for label, auth, names in cases:
        for body in (None, {}, {"all": True}):
            r = env.req("POST", "/v1/logout", body, headers={"Authorization": auth})
            try:
                expect_token_error(r, names)
            except AssertionError as e:
                raise AssertionError("POST /v1/logout %s with %s: %s" % (body, label, e)) from None
    expect_unchanged(before, env.snapshot(), "logout with forged tokens")
    check_session_identity(env.session(j["access_token"]))


def test_token_of_one_app_shows_its_own_account(env):
    p = env.person("two")
    j1 = check_token_answer(env.login_ok("mp1", p))
    j2 = check_token_answer(env.login_ok("mp2", p))
    s1 = check_session_identity(env.session(j1["access_token"]))
    s2 = check_session_identity(env.session(j2["access_token"]))
    assert s1["account"]["appid"] == env.appid("mp1") and s2["account"]["appid"] == env.appid("mp2"), \
        "each token carries its own app: %s / %s" % (s1, s2)
    assert s1["session_id"] != s2["session_id"], "two logins, two sessions"
