"""GET /v1/session and POST /v1/logout: identity, revocation on every worker."""

import time

from lib import (check_session_identity, check_token_answer, expect_accepted_everywhere,
                 expect_error, expect_refused_everywhere, expect_token_error)


def _revoked(r):
    j = r.json
    assert r.status == 200 and isinstance(j, dict), "logout: expected 200, got %s" % r.describe()
    n = j.get("revoked")
    assert isinstance(n, int) and not isinstance(n, bool), \
        "logout answer should be {\"revoked\": N}: %s" % r.describe()
    return n


def test_session_identity_and_headers(env):
    j = env.signed_in(prefix="ses")
    r = env.session(j["access_token"])
    s = check_session_identity(r, user_id=j["user"]["id"], appid=j["account"]["appid"],
                               openid=j["account"]["openid"], unionid=j["user"]["unionid"],
                               check_unionid=True)
    assert s["user"]["unionid"], "this person has a unionid: %s" % r.describe()


def test_session_without_unionid_has_empty_header(env):
    j = env.signed_in(directives=("nouid",), prefix="ses")
    check_session_identity(env.session(j["access_token"]), user_id=j["user"]["id"],
                           unionid=None, check_unionid=True)


def test_session_missing_authorization(env):
    expect_token_error(env.req("GET", "/v1/session"), "invalid_token")


def test_logout_without_body_revokes_on_every_worker(env):
    j = env.signed_in(prefix="ses")
    tok = j["access_token"]
    expect_accepted_everywhere(env, tok, user_id=j["user"]["id"])
    r = env.logout(tok)
    t0 = time.monotonic()
    assert _revoked(r) == 1, "logout of one session: revoked should be 1: %s" % r.describe()
    expect_refused_everywhere(env, tok, t0)


def test_logout_with_empty_object(env):
    j = env.signed_in(prefix="ses")
    tok = j["access_token"]
    r = env.logout(tok, {})
    t0 = time.monotonic()
    assert _revoked(r) == 1, "revoked should be 1: %s" % r.describe()
    expect_refused_everywhere(env, tok, t0)


def test_logout_ends_only_this_session(env):
    p = env.person("one")
    a = env.signed_in(person=p)
    b = env.signed_in(person=p)
    r = env.logout(a["access_token"], {"all": False})
    t0 = time.monotonic()
    assert _revoked(r) == 1, "revoked should be 1: %s" % r.describe()
    expect_refused_everywhere(env, a["access_token"], t0)
    expect_accepted_everywhere(env, b["access_token"], user_id=b["user"]["id"])
    check_token_answer(env.refresh(b["refresh_token"]), login=False)


def test_logout_all_sessions_of_the_user(env):
    p = env.person("all")
    a = env.signed_in(person=p)
    b = env.signed_in(person=p)
    c = env.signed_in("mp2", p)          # same user through the unionid
    assert a["user"]["id"] == b["user"]["id"] == c["user"]["id"], "one user expected: %s %s %s" % (
        a["user"], b["user"], c["user"])
    stranger = env.signed_in(prefix="ses")
    r = env.logout(a["access_token"], {"all": True})
    t0 = time.monotonic()
    n = _revoked(r)
    assert n >= 3, "all: true should end the 3 sessions of the user, revoked %d: %s" % (n, r.describe())
    for tok in (a["access_token"], b["access_token"], c["access_token"]):
        expect_refused_everywhere(env, tok, t0)
    for rt in (a["refresh_token"], b["refresh_token"], c["refresh_token"]):
        expect_error(env.refresh(rt), 401, "session_revoked")
    expect_accepted_everywhere(env, stranger["access_token"], user_id=stranger["user"]["id"])
    check_token_answer(env.refresh(stranger["refresh_token"]), login=False)


def test_refresh_of_logged_out_session(env):
    j = env.signed_in(prefix="ses")
    _revoked(env.logout(j["access_token"]))
    expect_error(env.refresh(j["refresh_token"]), 401, "session_revoked")


def test_logout_twice(env):
    j = env.signed_in(prefix="ses")
    r = env.logout(j["access_token"])
    t0 = time.monotonic()
    _revoked(r)
    expect_refused_everywhere(env, j["access_token"], t0)
    before = env.snapshot()
    expect_token_error(env.logout(j["access_token"]), "session_revoked")
    expect_token_error(env.logout(j["access_token"], {"all": True}), "session_revoked")
    assert env.snapshot() == before, "a refused logout changed stored data"


def test_logout_of_refreshed_session(env):
    # Logout with the access token of a rotated session ends the whole session:
    # the old access token and the newest refresh token stop working too.
    j0 = env.signed_in(prefix="ses")
    j1 = check_token_answer(env.refresh(j0["refresh_token"]), login=False)
    r = env.logout(j1["access_token"])
    t0 = time.monotonic()
    _revoked(r)
    expect_refused_everywhere(env, j1["access_token"], t0)
    expect_refused_everywhere(env, j0["access_token"], t0)
    expect_error(env.refresh(j1["refresh_token"]), 401, "session_revoked")
