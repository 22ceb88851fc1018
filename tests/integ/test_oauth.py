"""The web login of official accounts and websites, through nginx: authorize
(302 to WeChat's page, a state bound to a sealed cookie), WeChat's page (the
mock's), the callback (302 back with a one-time ticket, never a token), and
POST /v1/login {"ticket"}; every refusal; and the mobile app's login."""

import urllib.parse

from lib import (check_token_answer, expect_error, expect_ok, expect_token_error,
                 expect_unchanged, expected_openid, expected_unionid, remember)

def _allowed(env):
    return "%s/echo/after-login" % env.base_url


def _authorize(env, app="oa", redirect=None, scope=None, expect=302):
    q = {"appid": env.appid(app), "redirect": redirect or _allowed(env)}
    if scope:
        q["scope"] = scope
    r = env.req("GET", "/v1/oauth/authorize?" + urllib.parse.urlencode(q))
    if expect != 302:
        return r
    assert r.status == 302, r.describe()
    loc = r.headers.get("Location")
    cookies = [c for c in r.headers.get_all("Set-Cookie") if c.startswith("wxauth_oauth=")]
    assert loc and len(cookies) == 1, r.describe()
    attrs = [a.strip() for a in cookies[0].split(";")]
    for want in ("HttpOnly", "Secure", "SameSite=Lax", "Path=/v1/oauth/callback"):
        assert want in attrs, (want, cookies[0])
    # The binding: only this browser will be able to trade the ticket.
    binds = [c for c in r.headers.get_all("Set-Cookie") if c.startswith("wxauth_bind=")]
    assert len(binds) == 1, r.describe()
    battrs = [a.strip() for a in binds[0].split(";")]
    for want in ("HttpOnly", "Secure", "SameSite=Lax", "Path=/v1/login"):
        assert want in battrs, (want, binds[0])
    cookie = Browser(attrs[0][len("wxauth_oauth="):])
    cookie.bind = remember("web_bind", battrs[0][len("wxauth_bind="):])
    remember("state", urllib.parse.parse_qs(urllib.parse.urlsplit(loc).query)["state"][0])
    assert len(cookie.bind) == 43, binds[0]
    return loc, cookie


class Browser(str):
    """A browser's wxauth_oauth cookie, with its wxauth_bind beside it."""
    bind = None


def _trade(env, ticket, bind="same"):
    """POST /v1/login {"ticket"} from the browser that began (bind "same"),
    another one's (a string), or one without the cookie (None)."""
    if bind == "same":
        bind = ticket.bind
    hdrs = {"Cookie": "wxauth_bind=" + bind} if bind is not None else {}
    return env.req("POST", "/v1/login", {"ticket": str(ticket)}, headers=hdrs)


def _wechat(env, loc, person, deny=False):
    """The browser at WeChat's page (the mock's): back to our callback."""
    u = urllib.parse.urlsplit(loc)
    assert u.fragment == "wechat_redirect", loc
    env.mock("/_mock/authorize", {"person": person, "deny": deny})
    r = env._exchange(env._mock, "GET", u.path + "?" + u.query, None, {}, None, 30)
    assert r.status == 302, r.describe()
    back = urllib.parse.urlsplit(r.headers.get("Location"))
    assert back.path == "/v1/oauth/callback", back
    for v in urllib.parse.parse_qs(back.query).get("code", []):
        remember("code", v)
    return back.path + "?" + back.query


def _callback(env, path, cookie):
    hdrs = {"Cookie": "wxauth_oauth=" + cookie} if cookie is not None else {}
    return env.req("GET", path, headers=hdrs)


def _landing(env, r):
    """The 302 of a callback to the allowed page: its query parameters."""
    assert r.status == 302, r.describe()
    loc = r.headers.get("Location")
    assert loc.startswith(_allowed(env) + "?"), loc
    assert "v4.local." not in loc, "a token in a URL: %s" % loc
    return urllib.parse.parse_qs(urllib.parse.urlsplit(loc).query)


def _web_login(env, app, person, scope=None):
    loc, cookie = _authorize(env, app, scope=scope)
    back = _wechat(env, loc, person)
    r = _callback(env, back, cookie)
    q = _landing(env, r)
    assert set(q) == {"ticket"}, q
    ticket = Browser(remember("ticket", q["ticket"][0]))
    ticket.bind = cookie.bind
    return ticket, r


def test_official_account_web_login_end_to_end(env):
    p = env.person("weboa")
    loc, _ = _authorize(env, "oa", scope="snsapi_userinfo")
    u = urllib.parse.urlsplit(loc)
    assert u.path == "/connect/oauth2/authorize", loc
    names = [kv.split("=")[0] for kv in u.query.split("&")]
    assert names == ["appid", "redirect_uri", "response_type", "scope", "state"], names
    q = urllib.parse.parse_qs(u.query)
    assert q["redirect_uri"] == ["%s/v1/oauth/callback" % env.base_url]
    assert q["scope"] == ["snsapi_userinfo"] and len(q["state"][0]) == 32
    ticket, r = _web_login(env, "oa", p, scope="snsapi_userinfo")
    # The callback clears the cookie.
    assert any(c.startswith("wxauth_oauth=;") and "Max-Age=0" in c
               for c in r.headers.get_all("Set-Cookie")), r.describe()
    j = check_token_answer(_trade(env, ticket),
                           appid=env.appid("oa"))
    assert j["account"]["openid"] == expected_openid(env.appid("oa"), p)
    assert j["user"]["unionid"] == expected_unionid(p)
    expect_ok(env.session(j["access_token"]), "the web login's token")
    # A ticket is traded once.
    before = env.snapshot()
    e = expect_error(_trade(env, ticket), 401, "invalid_code")
    assert "ticket" in e["message"]
    expect_unchanged(before, env.snapshot(), "a used ticket")


def test_website_web_login_end_to_end(env):
    p = env.person("webqr")
    loc, _ = _authorize(env, "web")
    u = urllib.parse.urlsplit(loc)
    assert u.path == "/connect/qrconnect", loc
    assert urllib.parse.parse_qs(u.query)["scope"] == ["snsapi_login"]
    ticket, _ = _web_login(env, "web", p)
    j = check_token_answer(_trade(env, ticket),
                           appid=env.appid("web"))
    assert j["account"]["openid"] == expected_openid(env.appid("web"), p)


def test_mobile_app_logs_in_with_its_sdk_code(env):
    p = env.person("mob")
    j = env.signed_in("app", p)
    assert j["account"]["appid"] == env.appid("app")
    assert j["account"]["openid"] == expected_openid(env.appid("app"), p)
    assert j["user"]["unionid"] == expected_unionid(p)
    # ... and is the same person as in the official account, by the unionid.
    k = env.signed_in("oa", p)
    assert k["user"]["id"] == j["user"]["id"]
    # It has no web login.
    expect_error(_authorize(env, "app", expect=400), 400, "invalid_request")


def test_authorize_refusals_change_nothing(env):
    before = env.snapshot()
    base = "/v1/oauth/authorize?"
    for q, status, name in (
            ({"appid": env.appid("oa"), "redirect": "https://evil.example/after"}, 400,
             "invalid_request"),
            ({"appid": env.appid("oa"), "redirect": _allowed(env) + "/more"}, 400,
             "invalid_request"),
            ({"appid": env.appid("mp1"), "redirect": _allowed(env)}, 400, "invalid_request"),
            ({"appid": "wx0000000000000000", "redirect": _allowed(env)}, 400, "unknown_app"),
            ({"appid": env.appid("oa"), "redirect": _allowed(env), "scope": "snsapi_login"}, 400,
             "invalid_request"),
            ({"appid": env.appid("web"), "redirect": _allowed(env), "scope": "snsapi_base"}, 400,
             "invalid_request"),
            ({"appid": env.appid("oa")}, 400, "invalid_request"),
            ({"redirect": _allowed(env)}, 400, "invalid_request")):
        r = env.req("GET", base + urllib.parse.urlencode(q))
        expect_error(r, status, name)
        assert not r.headers.get_all("Set-Cookie"), r.describe()
    expect_error(env.req("POST", base, {}), 405, "method_not_allowed")
    expect_unchanged(before, env.snapshot(), "refused authorizes")


def test_callback_refusals(env):
    p = env.person("webbad")
    loc, cookie = _authorize(env, "oa")
    back = _wechat(env, loc, p)
    _, other = _authorize(env, "oa")              # another browser's cookie
    before = env.snapshot()
    tampered = cookie[:-2] + ("AA" if cookie[-2:] != "AA" else "BB")
    for ck in (None, other, tampered, "x"):
        expect_error(_callback(env, back, ck), 400, "invalid_state")
    path = urllib.parse.urlsplit(back).path
    expect_error(_callback(env, path + "?code=abc", cookie), 400, "invalid_state")
    state = urllib.parse.parse_qs(urllib.parse.urlsplit(back).query)["state"][0]
    expect_error(_callback(env, "%s?code=abc&state=%s0" % (path, state), cookie), 400,
                 "invalid_state")
    expect_unchanged(before, env.snapshot(), "refused callbacks")
    # The right one works, once: the same state again is refused.
    _landing(env, _callback(env, back, cookie))
    before = env.snapshot()
    expect_error(_callback(env, back, cookie), 400, "invalid_state")
    expect_unchanged(before, env.snapshot(), "a replayed state")


def test_consent_refused_and_snapshot_visitor_go_back_with_an_error(env):
    loc, cookie = _authorize(env, "oa", scope="snsapi_userinfo")
    back = _wechat(env, loc, env.person("webno"), deny=True)
    before = env.snapshot()
    q = _landing(env, _callback(env, back, cookie))
    assert q == {"error": ["access_denied"]}, q
    expect_unchanged(before, env.snapshot(), "a refused consent")
    loc, cookie = _authorize(env, "oa")
    back = _wechat(env, loc, env.person("websnap") + ".snap")
    q = _landing(env, _callback(env, back, cookie))
    assert q == {"error": ["forbidden"]}, q


def test_ticket_expires(env):
    ticket, _ = _web_login(env, "oa", env.person("webexp"))
    env.sql("UPDATE oauth_tickets SET created_at = now() - interval '2 minutes'"
            " WHERE used_at IS NULL")
    expect_error(_trade(env, ticket), 401, "invalid_code")
    for body in ({"ticket": "short"}, {"ticket": ticket, "code": "x.n1"}, {}):
        r = env.req("POST", "/v1/login", body)
        assert r.status in (400, 401), r.describe()
        expect_error(r, r.status, ("invalid_request", "invalid_code"))
    expect_token_error(env.session("v4.local." + ticket), ("invalid_token",))



# -- what travelled in a URL is never a credential (issue 22) ---------------

def _code_of(back):
    return urllib.parse.parse_qs(urllib.parse.urlsplit(back).query)["code"][0]


def test_callback_code_is_never_a_credential(env):
    """The code WeChat put in the callback URL (an access log, a proxy, a
    Referer hold it): POST /v1/login and /v1/link refuse it, within the
    replay window and after, and it never reaches WeChat a second time."""
    p = env.person("webcode")
    loc, cookie = _authorize(env, "oa")
    back = _wechat(env, loc, p)
    code = _code_of(back)
    ticket = Browser(_landing(env, _callback(env, back, cookie))["ticket"][0])
    ticket.bind = cookie.bind
    other = env.signed_in("mp1", env.person("webcodeother"))
    before = env.snapshot()
    for body in ({"appid": env.appid("oa"), "code": code}, {"code": code, "appid": env.appid("oa")}):
        e = expect_error(env.req("POST", "/v1/login", body), 401, "invalid_code")
        assert "access_token" not in e
    expect_error(env.req("POST", "/v1/link", {"appid": env.appid("oa"), "code": code},
                         token=other["access_token"]), 401, "invalid_code")
    expect_unchanged(before, env.snapshot(), "a code from a callback URL, replayed")
    assert env.code_calls(code) == 1, env.code_calls(code)
    # The browser that began still gets its session.
    j = check_token_answer(_trade(env, ticket), appid=env.appid("oa"))
    assert j["account"]["openid"] == expected_openid(env.appid("oa"), p)


def test_callback_refuses_a_code_seen_before(env):
    """A code already exchanged (by the victim's own callback, or by a POST)
    injected into another browser's callback with that browser's own state
    gives it no ticket."""
    victim = env.person("webinj")
    loc, cookie = _authorize(env, "oa")
    back = _wechat(env, loc, victim)
    _landing(env, _callback(env, back, cookie))
    code = _code_of(back)
    loc2, attacker = _authorize(env, "oa")
    state2 = urllib.parse.parse_qs(urllib.parse.urlsplit(loc2).query)["state"][0]
    q = _landing(env, _callback(env, "/v1/oauth/callback?code=%s&state=%s" % (code, state2),
                                attacker))
    assert q == {"error": ["invalid_code"]}, q
    # A code POSTed to /v1/login first (an official account's page may do
    # that) is no ticket either.
    r = env.login("oa", env.person("webinj2"))
    assert r.status == 200, r.describe()
    loc3, third = _authorize(env, "oa")
    state3 = urllib.parse.parse_qs(urllib.parse.urlsplit(loc3).query)["state"][0]
    q = _landing(env, _callback(env, "/v1/oauth/callback?code=%s&state=%s" % (r.code, state3),
                                third))
    assert q == {"error": ["invalid_code"]}, q
    assert env.code_calls(code) == 1 and env.code_calls(r.code) == 1


def test_ticket_is_worth_nothing_to_another_browser(env):
    """Login CSRF and a ticket read from a log: traded without the binding
    cookie of the browser that began, or with another browser's, it is
    refused and used up."""
    for other in (None, "x" * 43, "other-browser"):
        ticket, _ = _web_login(env, "oa", env.person("webbind"))
        if other == "other-browser":
            _, mine = _authorize(env, "oa")        # the victim's own browser
            other = mine.bind
        e = expect_error(_trade(env, ticket, bind=other), 401, "invalid_code")
        assert "browser" in e["message"], e
        # Burned: the right browser is refused afterwards too.
        expect_error(_trade(env, ticket), 401, "invalid_code")
