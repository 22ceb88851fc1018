#!/usr/bin/python3
"""The PC scan login's page (deploy/scan/) in a real browser: headless
Chromium (Debian's chromium and chromium-driver, through python3-selenium)
opens it through nginx, while this script plays the phone over HTTP. A
screenshot of every state is kept in SCREENS (and printed).

    /usr/bin/python3 tests/browser/scan_page.py ENV_JSON PAGE_URL SCREENS

Prints one line per check and "N passed, N failed"."""

import base64
import os
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "integ"))
sys.dont_write_bytecode = True

import lib  # noqa: E402
from run import run_one  # noqa: E402
from test_scan import png_text  # noqa: E402

from selenium import webdriver  # noqa: E402
from selenium.webdriver.chrome.service import Service  # noqa: E402
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.support.ui import WebDriverWait  # noqa: E402

S = {}


def browser():
    o = webdriver.ChromeOptions()
    o.binary_location = "/usr/bin/chromium"
    for a in ("--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
              "--disable-background-networking", "--disable-component-update",
              "--disable-sync", "--disable-dev-shm-usage", "--window-size=800,700",
              "--user-data-dir=" + tempfile.mkdtemp(prefix="wxauth-chromium-")):
        o.add_argument(a)
    d = webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=o)
    d.set_page_load_timeout(30)
    return d


def shot(d, name):
    path = os.path.join(S["screens"], name + ".png")
    d.save_screenshot(path)
    print("     screenshot: %s" % path, flush=True)


def state(d, want, timeout=15):
    WebDriverWait(d, timeout, 0.2).until(
        lambda x: x.find_element(By.TAG_NAME, "body").get_attribute("data-state") == want,
        "the page never showed %s (it shows %s: %s)" % (
            want, d.find_element(By.TAG_NAME, "body").get_attribute("data-state"),
            d.find_element(By.ID, "state").text))


def scene_of_code(d):
    """What a phone reads from the code on the screen: the image the page
    shows, fetched as the page fetched it, its PNG text's scene."""
    WebDriverWait(d, 15, 0.2).until(lambda x: x.execute_script(
        "const i = document.getElementById('code'); return i.complete && i.naturalWidth > 0"))
    b64 = d.execute_async_script(
        "const done = arguments[0];"
        "fetch(document.getElementById('code').src, {credentials: 'same-origin'})"
        ".then(r => r.arrayBuffer()).then(b => {"
        " let s = ''; new Uint8Array(b).forEach(c => s += String.fromCharCode(c));"
        " done(btoa(s)); })")
    text = png_text(base64.b64decode(b64))
    assert text.get("page") == "pages/scan/scan", text
    return text["scene"]


def phone(env, j, sid, step):
    r = env.req("POST", "/v1/scan/%s/%s" % (sid, step), None, token=j["access_token"])
    assert r.status == 200, r.describe()


def check_login_end_to_end(env):
    d = S["d"]
    d.get(S["url"])
    state(d, "pending")
    shot(d, "1-pending")
    sid = scene_of_code(d)
    j = env.signed_in("mp1")
    phone(env, j, sid, "scanned")
    state(d, "scanned")
    shot(d, "2-scanned")
    # A second person scans: refused, and the page says so.
    other = env.signed_in("mp1")
    r = env.req("POST", "/v1/scan/%s/scanned" % sid, None, token=other["access_token"])
    assert r.status == 409 and r.json["error"] == "scan_taken", r.describe()
    WebDriverWait(d, 10, 0.2).until(lambda x: x.find_element(By.ID, "warn").is_displayed())
    shot(d, "3-scanned-someone-else-refused")
    phone(env, j, sid, "confirm")
    state(d, "done")
    shot(d, "4-logged-in")
    assert d.find_element(By.ID, "user").text == j["user"]["id"]
    assert j["account"]["openid"] in d.find_element(By.ID, "account").text
    # The session is the PC's own, and nothing of it is in the page's URL.
    assert "ticket" not in d.current_url and "v4." not in d.current_url
    n = env.sql("SELECT count(*) FROM sessions WHERE user_id = %s AND via = 'scan'"
                " AND revoked_at IS NULL", j["user"]["id"])
    assert n == [["1"]], n


def check_cancelled_and_expired(env):
    d = S["d"]
    d.get(S["url"])
    state(d, "pending")
    sid = scene_of_code(d)
    j = env.signed_in("mp1")
    phone(env, j, sid, "scanned")
    state(d, "scanned")
    phone(env, j, sid, "cancel")
    state(d, "cancelled")
    assert d.find_element(By.ID, "again").is_displayed()
    shot(d, "5-cancelled")
    # A new code, left to expire (aged in SQL).
    d.find_element(By.ID, "again").click()
    state(d, "pending")
    sid2 = scene_of_code(d)
    assert sid2 != sid
    env.sql("UPDATE scan_logins SET expires_at = now() WHERE status = 'pending'"
            " AND created_at > now() - interval '1 minute'")
    state(d, "expired")
    shot(d, "6-expired")


def check_policy_and_no_console_errors(env):
    d = S["d"]
    r = env.req("GET", "/pc/")
    assert r.status == 200 and "<script>" not in r.text, r.describe()
    csp = r.headers.get("Content-Security-Policy", "")
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp, csp
    logs = [l for l in d.get_log("browser") if l["level"] == "SEVERE"
            and "favicon" not in l["message"] and "/v1/scan/" not in l["message"]]
    assert not logs, logs


def main(argv):
    env_json, url, screens = argv[1:4]
    os.makedirs(screens, exist_ok=True)
    env = lib.Env.load(env_json)
    S.update(url=url, screens=screens)
    passed = failed = 0
    try:
        S["d"] = browser()
    except Exception as e:  # noqa: BLE001
        print("FAIL browser::start: %s" % e)
        print("0 passed, 1 failed")
        return 1
    try:
        for fn in (check_login_end_to_end, check_cancelled_and_expired,
                   check_policy_and_no_console_errors):
            name = fn.__name__[len("check_"):]
            ok, msg, tb, dt = run_one(fn, env, 120)
            if ok:
                passed += 1
                print("ok   browser::%s (%.2fs)" % (name, dt), flush=True)
            else:
                failed += 1
                print("FAIL browser::%s: %s" % (name, msg), flush=True)
                if tb:
                    print("\n".join("     " + l for l in tb.rstrip().splitlines()), flush=True)
    finally:
        S["d"].quit()
    print("%d passed, %d failed" % (passed, failed), flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
