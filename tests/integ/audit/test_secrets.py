"""Runs last (file name): no secret the suite handled ever reached a log."""

import os
import time

import lib
from lib import check_token_answer, read_text, wait_until

# Shorter values could match by chance (e.g. a 3-letter code inside a word).
MIN_LEN = 8


def _log_files(env):
    files = []
    if env.log_file:
        files.append(os.path.abspath(env.log_file))
    if env.dir and os.path.isdir(env.dir):
        for root, dirs, names in os.walk(env.dir):
            for n in names:
                # Every log: ours (rotated ones too), nginx's, PostgreSQL's,
                # the mock's, and what serve printed on stderr.
                if n.endswith(".log") or n.endswith(".stderr") or ".log." in n:
                    p = os.path.abspath(os.path.join(root, n))
                    if p not in files:
                        files.append(p)
    return files


def _secrets(env):
    out = []
    for a in env.apps:
        out.append(("secret of %s" % a.get("name"), a.get("secret")))
    out.append(("admin key", env.admin_key))
    with lib._secrets_lock:
        out.extend(lib.SECRETS)
    return [(k, v) for k, v in out if isinstance(v, str) and len(v) >= MIN_LEN]


def test_request_logged_with_its_request_id(env):
    assert env.log_file and os.path.exists(env.log_file), "no log file at %r" % env.log_file
    r = env.login("mp1", env.person("logline"))
    check_token_answer(r)
    rid = r.headers.get("X-Request-Id")
    wait_until(lambda: rid in read_text(env.log_file), timeout=3,
               msg="the request id %s of a login is not in %s" % (rid, env.log_file))


def test_no_secret_in_any_log(env):
    time.sleep(0.3)  # the last lines of the previous tests
    files = _log_files(env)
    assert env.log_file and os.path.abspath(env.log_file) in files, "log_file %r" % env.log_file
    assert read_text(env.log_file).strip(), "%s is empty: nothing to check" % env.log_file
    secrets = _secrets(env)
    assert len(secrets) > len(env.apps) + 1, \
        "the registry holds no code or token: did the other tests run? (%d values)" % len(secrets)
    kinds = {k for k, _ in secrets}
    for kind in ("code", "refresh_token", "access_token", "session_key", "phone",
                 "state", "ticket", "web_bind"):
        assert kind in kinds, "no %s in the registry: the check would not cover them" % kind
    hits = []
    for path in files:
        text = read_text(path)
        for kind, value in secrets:
            if value in text:
                hits.append("%s: a %s (%s...)" % (path, kind, value[:6]))
    # One line per hit, deduplicated, bounded, never the whole secret.
    hits = sorted(set(hits))
    assert not hits, "secrets found in logs (%d):\n%s" % (len(hits), "\n".join(hits[:40]))
