#!/usr/bin/python3
"""The operators' console (deploy/console/) in headless Chromium, through
nginx (tests/deploy/browser.sh) or Apache (tests/deploy/apache.sh): an
operator signs in by scanning the code (this script plays the
phone), finds a customer by phone and by nickname (a nickname that is an
XSS attempt, shown as text and never run), ends the customer's sessions
(their token is then refused at /v1/session), disables and enables them.
A screenshot of every screen is kept in SCREENS.

    /usr/bin/python3 tests/browser/console_page.py ENV_JSON PAGE_URL SCREENS
"""

import base64
import os
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "integ"))
sys.path.insert(0, HERE)
sys.dont_write_bytecode = True

import lib  # noqa: E402
from lib import expect_error  # noqa: E402
from run import run_one  # noqa: E402
from scan_page import browser, shot, S  # noqa: E402
from test_pool import _conf_text, _reload, _set, _write_conf  # noqa: E402
from test_scan import png_text  # noqa: E402

from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.support.ui import Select, WebDriverWait  # noqa: E402

# A nickname is what a person typed (64 characters at most): markup, an
# event handler, a right-to-left override and a zero-width space.
XSS = '<img src=x onerror=window.__xss=1>小明<svg onload=__xss=2>\u202e\u200b'


def screen(d, want, timeout=15):
    WebDriverWait(d, timeout, 0.2).until(
        lambda x: x.find_element(By.TAG_NAME, "body").get_attribute("data-screen") == want,
        "the console never showed %s" % want)


def status(d, elem, want, timeout=10):
    WebDriverWait(d, timeout, 0.2).until(lambda x: want in x.find_element(By.ID, elem).text,
                                         "%s never said %r (%r)" % (
                                             elem, want, d.find_element(By.ID, elem).text))


def check_console(env):
    d = S["d"]
    op, customer = env.signed_in("mp1"), env.signed_in("mp1")
    cid = customer["user"]["id"]
    assert env.req("PATCH", "/v1/userinfo", {"nickname": XSS},
                   token=customer["access_token"]).status == 200
    phone = "1390000" + str(int(cid[-4:], 16) % 10000).zfill(4)
    env.sql("UPDATE users SET pure_phone = %s WHERE id = %s", phone, cid)
    orig = _conf_text(env)
    _write_conf(env, _set(orig, "console_operators", op["user"]["id"]))
    _reload(env)
    try:
        d.get(S["url"])
        screen(d, "signin")
        WebDriverWait(d, 15, 0.2).until(lambda x: x.execute_script(
            "const i = document.getElementById('code'); return i.complete && i.naturalWidth > 0"))
        shot(d, "console-1-signin")
        b64 = d.execute_async_script(
            "const done = arguments[0];"
            "fetch(document.getElementById('code').src, {credentials: 'same-origin'})"
            ".then(r => r.arrayBuffer()).then(b => { let s = '';"
            " new Uint8Array(b).forEach(c => s += String.fromCharCode(c)); done(btoa(s)); })")
        sid = png_text(base64.b64decode(b64))["scene"]
        for step in ("scanned", "confirm"):
            r = env.req("POST", "/v1/scan/%s/%s" % (sid, step), None, token=op["access_token"])
            assert r.status == 200, r.describe()
        screen(d, "find")
        assert op["user"]["id"] in d.find_element(By.ID, "me").text
        # By phone.
        Select(d.find_element(By.ID, "by")).select_by_value("phone")
        d.find_element(By.ID, "q").send_keys(phone)
        d.find_element(By.CSS_SELECTOR, "#find-form button").click()
        status(d, "find-state", "1 found")
        shot(d, "console-2-found-by-phone")
        # By nickname: the XSS attempt is text.
        Select(d.find_element(By.ID, "by")).select_by_value("nickname")
        q = d.find_element(By.ID, "q")
        q.clear()
        q.send_keys("<img src=x")
        d.find_element(By.CSS_SELECTOR, "#find-form button").click()
        status(d, "find-state", "found")
        cells = d.find_elements(By.CSS_SELECTOR, "#results tbody td")
        assert any(c.text.startswith('<img src=x onerror=window.__xss=1>小明<svg') for c in cells), \
            [c.text for c in cells]
        assert not d.find_elements(By.CSS_SELECTOR, "#results img, #results svg")
        assert d.execute_script("return window.__xss") is None
        shot(d, "console-3-found-by-nickname")
        # The user: one live session; end it, the token is refused.
        for row in d.find_elements(By.CSS_SELECTOR, "#results tbody tr"):
            if cid in row.text:
                row.click()
                break
        screen(d, "user")
        WebDriverWait(d, 10, 0.2).until(lambda x: len(x.find_elements(
            By.CSS_SELECTOR, "#sessions tbody tr")) == 1 and cid in x.find_element(
            By.ID, "user-facts").text)
        assert d.find_element(By.ID, "user-title").text.startswith("<img")
        assert d.execute_script("return window.__xss") is None
        shot(d, "console-4-user")
        t0 = time.monotonic()
        d.find_element(By.ID, "act-revoke").click()
        status(d, "user-state", "Done: revoke, 1 sessions ended")
        # Every worker learns it from the hint, within the second a logout takes.
        lib.expect_refused_everywhere(env, customer["access_token"], t0)
        d.find_element(By.ID, "act-disable").click()
        status(d, "user-state", "Done: disable")
        expect_error(env.login("mp1", customer.person), 403, "user_disabled")
        shot(d, "console-5-disabled")
        d.find_element(By.ID, "act-enable").click()
        status(d, "user-state", "Done: enable")
        assert env.login("mp1", customer.person).status == 200
        rows = env.sql("SELECT detail->>'action' FROM audit_log WHERE user_id = %s"
                       " AND event = 'console_action' AND detail->>'operator' = %s ORDER BY id",
                       cid, op["user"]["id"])
        assert rows == [["revoke"], ["disable"], ["enable"]], rows
        # A merge, undone from the user's screen.
        p = env.person("cundo")
        oa = env.login_ok("oa", p, directives=("base",)).json
        mp = env.login_ok("mp1", p).json
        assert env.login_ok("oa", p).json["merged_from"] == [mp["user"]["id"]]
        d.find_element(By.ID, "back").click()
        screen(d, "find")
        Select(d.find_element(By.ID, "by")).select_by_value("id")
        q = d.find_element(By.ID, "q")
        q.clear()
        q.send_keys(oa["user"]["id"])
        d.find_element(By.CSS_SELECTOR, "#find-form button").click()
        status(d, "find-state", "1 found")
        d.find_element(By.CSS_SELECTOR, "#results tbody tr").click()
        screen(d, "user")
        WebDriverWait(d, 10, 0.2).until(lambda x: any(
            b.text == "Undo" for b in x.find_elements(By.CSS_SELECTOR, "#merges button")))
        shot(d, "console-7-a-merge")
        [b for b in d.find_elements(By.CSS_SELECTOR, "#merges button") if b.text == "Undo"][0].click()
        status(d, "user-state", "the merge is undone")
        assert env.sql("SELECT user_id FROM accounts WHERE appid = %s AND openid = %s",
                       env.appid("mp1"), mp["account"]["openid"]) == [[mp["user"]["id"]]]
        assert "(undone)" in d.find_element(By.ID, "merges").text
        # The audit log, by this operator.
        d.find_element(By.ID, "nav-audit").click()
        screen(d, "log")
        d.find_element(By.ID, "log-operator").send_keys(op["user"]["id"])
        d.find_element(By.CSS_SELECTOR, "#log-form button").click()
        status(d, "log-state", "4 rows")
        assert "undo_merge" in d.find_element(By.ID, "log-rows").text
        shot(d, "console-8-audit")
        # The merges feed: that merge, undone.
        d.find_element(By.ID, "nav-merges").click()
        screen(d, "merges-all")
        status(d, "merges-state", "merges")
        assert "(undone)" in d.find_element(By.ID, "merges-rows").text
        shot(d, "console-10-merges")
        # Health: both pools, the database, WeChat's calls.
        d.find_element(By.ID, "nav-health").click()
        screen(d, "health")
        WebDriverWait(d, 10, 0.2).until(lambda x: "workers" in x.find_element(
            By.ID, "health-facts").text)
        facts = d.find_element(By.ID, "health-facts").text
        assert "ok" in facts and "%d of %d workers" % (env.workers, env.workers) in facts, facts
        assert "jscode2session" in d.find_element(By.ID, "health-calls").text
        assert " %" in d.find_element(By.ID, "health-rates").text
        shot(d, "console-9-health")
        # At a phone's width.
        d.set_window_size(390, 800)
        shot(d, "console-6-phone-width")
        d.set_window_size(1000, 800)
    finally:
        _write_conf(env, orig)
        _reload(env)


def main(argv):
    env_json, url, screens = argv[1:4]
    os.makedirs(screens, exist_ok=True)
    env = lib.Env.load(env_json)
    S.update(url=url, screens=screens)
    try:
        S["d"] = browser()
    except Exception as e:  # noqa: BLE001
        print("FAIL console::start: %s" % e)
        print("0 passed, 1 failed")
        return 1
    S["d"].set_window_size(1000, 800)
    passed = failed = 0
    try:
        ok, msg, tb, dt = run_one(check_console, env, 180)
        if ok:
            passed += 1
            print("ok   console::sign_in_find_end_disable_enable (%.2fs)" % dt, flush=True)
        else:
            failed += 1
            print("FAIL console::sign_in_find_end_disable_enable: %s" % msg, flush=True)
            if tb:
                print("\n".join("     " + l for l in tb.rstrip().splitlines()), flush=True)
        logs = [l for l in S["d"].get_log("browser") if l["level"] == "SEVERE"
                and "favicon" not in l["message"] and "/v1/" not in l["message"]]
        if logs:
            failed += 1
            print("FAIL console::no_console_errors: %s" % logs)
        else:
            passed += 1
            print("ok   console::no_console_errors")
    finally:
        S["d"].quit()
    print("%d passed, %d failed" % (passed, failed), flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
