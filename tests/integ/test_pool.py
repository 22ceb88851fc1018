"""The pool behaves like php-fpm's: reload on SIGHUP without a failed request,
key rotation, a changed worker count, recycling after max_requests, back-off
for a worker that cannot start, a refused reload, the pid file.

Every test leaves the environment as it found it: the same config, the same
number of workers (the key rotation stays, which the other tests do not mind:
tokmint seals with the first key, which the workers then hold).
"""

import base64
import hashlib
import json
import os
import re
import signal
import subprocess
import threading
import time

import lib
import opendata as od
from lib import (check_session_identity, check_token_answer, expect_accepted_everywhere,
                 expect_error, expect_ok, expect_unchanged, read_text, wait_until)


# -- helpers -------------------------------------------------------------------

def _conf_text(env):
    with open(env.conf, encoding="utf-8") as f:
        return f.read()


def _write_conf(env, text):
    tmp = env.conf + ".tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        f.write(text)
    os.chmod(tmp, 0o600)
    os.replace(tmp, env.conf)


def _set(text, name, value):
    """The config text with the global setting name = value (added if absent)."""
    line = "%s = %s" % (name, value)
    pat = re.compile(r"^%s\s*=.*$" % re.escape(name), re.M)
    if pat.search(text):
        return pat.sub(line, text, count=1)
    # Global settings come before the first [app] section.
    i = text.index("\n[app ")
    return text[:i] + "\n" + line + text[i:]


def _log(env):
    return read_text(env.log_file)


def _count(env, needle):
    return _log(env).count(needle)


def _reload(env, workers=None, timeout=30):
    """SIGHUP, then wait until serve logged the reload and the pool holds only
    new workers (workers of them). Returns (old pids, new pids)."""
    workers = workers or env.workers
    before = env.worker_pids()
    n = _count(env, "pool: reloaded ")
    os.kill(env.serve_pid(), signal.SIGHUP)
    wait_until(lambda: _count(env, "pool: reloaded ") > n, timeout=timeout, interval=0.05,
               msg="serve did not log the reload")

    def settled():
        now = env.worker_pids()
        return now if len(now) == workers and not set(now) & set(before) else None
    after = wait_until(settled, timeout=timeout, interval=0.05,
                       msg="the pool did not settle on %d new workers (before: %s)"
                       % (workers, before))
    return before, after


def _restarts(env, reason):
    """wxauth_worker_restarts_total{reason=...} from /metrics."""
    m = re.search(r'^wxauth_worker_restarts_total\{reason="%s"\} (\d+)$' % reason,
                  env.req("GET", "/metrics").text, re.M)
    assert m, "no restarts counter for %s in /metrics" % reason
    return int(m.group(1))


def _b64u_decode(s):
    return base64.urlsafe_b64decode(s + "=" * (-len(s) % 4))


def _kid(token):
    """The kid in a v4.local token's footer."""
    parts = token.split(".")
    assert len(parts) == 4, "token without a footer: %s..." % token[:20]
    return json.loads(_b64u_decode(parts[3]))["kid"]


def _lid(paserk):
    """PASERK k4.lid of a k4.local key: BLAKE2b-264 of "k4.lid." + the key's PASERK."""
    d = hashlib.blake2b(b"k4.lid." + paserk.encode(), digest_size=33).digest()
    return "k4.lid." + base64.urlsafe_b64encode(d).decode().rstrip("=")


def _keys(path):
    with open(path, encoding="ascii") as f:
        return [l.strip() for l in f if l.strip().startswith("k4.local.")]


class Load(lib.Background):
    """Threads that keep sending GET /v1/session (and every few a login) and
    record every answer that is not a 200."""

    def __init__(self, env, token, threads=4, login_every=5):
        self.env, self.token = env, token
        self.login_every = login_every
        self.lock = threading.Lock()
        self.bad = []
        self.done = 0
        super().__init__([lambda k, i=i: self.one(i, k + 1) for i in range(threads)])

    def one(self, i, k):
        try:
            if k % self.login_every == 0:
                r = self.env.login("mp1", "load%d" % i)
            else:
                r = self.env.session(self.token)
            ok = r.status == 200
            what = r
        except Exception as e:  # noqa: B902 - a broken connection is a failure too
            ok, what = False, "%s: %s" % (type(e).__name__, e)
        with self.lock:
            self.done += 1
            if not ok:
                self.bad.append(what)


# -- tests ---------------------------------------------------------------------

def test_pid_file_holds_the_serve_process(env):
    pid = env.serve_pid()
    with open("/proc/%d/cmdline" % pid, "rb") as f:
        cmd = f.read().split(b"\0")
    assert b"serve" in cmd, "pid file %s names %d, which runs %r" % (env.serve_pid_file, pid, cmd)
    for w in env.worker_pids():
        with open("/proc/%d/stat" % w) as f:
            ppid = int(f.read().rsplit(")", 1)[1].split()[1])
        assert ppid == pid, "worker %d has parent %d, not serve %d" % (w, ppid, pid)


def test_sighup_under_load_fails_no_request(env):
    j = check_token_answer(env.login_ok("mp1", env.person("hup")))
    with Load(env, j["access_token"]) as load:
        time.sleep(0.5)
        for _ in range(3):
            _reload(env)
            time.sleep(0.3)
        time.sleep(0.5)
    assert load.done >= 50, "the load loop made only %d requests" % load.done
    assert not load.bad, "%d of %d requests failed during 3 reloads, e.g. %s" % (
        len(load.bad), load.done, load.bad[:3])
    log = _log(env)
    assert "pool: reloaded " in log and "replaced" in log, "no reload line in the log"
    expect_accepted_everywhere(env, j["access_token"], user_id=j["user"]["id"])


def test_reload_replaces_workers_one_by_one(env):
    # Each old worker leaves only after its successor is ready: the log shows
    # "worker N started" for every slot before the reload line, in slot order.
    start = len(_log(env))
    before = _restarts(env, "reloaded")
    gate = len(env.gate_pids())
    _reload(env)
    assert _restarts(env, "reloaded") - before == env.workers + gate, \
        "restarts{reason=reloaded} should grow by the number of workers of both pools"
    tail = _log(env)[start:]
    started = [int(m) for m in re.findall(r"pool: worker (\d+) started", tail)]
    assert started[:env.workers] == list(range(env.workers)), \
        "workers not replaced slot by slot: %s" % started


def test_key_rotation_old_tokens_open_new_tokens_use_the_new_key(env):
    old_keys = _keys(env.key_file)
    a = check_token_answer(env.login_ok("mp1", env.person("rotA")))
    assert _kid(a["access_token"]) == _lid(old_keys[0]), \
        "the kid of a token is not the lid of the first key (test helper broken?)"
    p = subprocess.run([env.wxauth_bin, "keygen", "--rotate", env.key_file],
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       universal_newlines=True, timeout=30)
    assert p.returncode == 0, "keygen --rotate: %s" % p.stderr
    new_keys = _keys(env.key_file)
    assert len(new_keys) == len(old_keys) + 1 and new_keys[1:] == old_keys, \
        "keygen --rotate should put one new key first and keep the others"
    _reload(env)
    # The old token still opens, on every worker.
    expect_accepted_everywhere(env, a["access_token"], user_id=a["user"]["id"])
    b = check_token_answer(env.login_ok("mp1", env.person("rotB")))
    assert _kid(b["access_token"]) == _lid(new_keys[0]), \
        "a token issued after the reload is not sealed with the new first key"
    assert _kid(b["access_token"]) != _kid(a["access_token"])
    check_session_identity(env.session(b["access_token"]), user_id=b["user"]["id"])


def test_data_key_rotation_does_not_reopen_replays(env):
    """Open data accepted before a rotation of the data key is still "seen"
    after it: replay hashes are looked up under every listed data key."""
    path = env.cfg["data_key_file"]
    sk = od.new_session_key()
    j = od.login_with_key(env, "mp1", sk)
    tok = j["access_token"]
    blob = od.profile_blob(sk, env.appid("mp1"), nickName="BeforeRotation")
    expect_ok(od.decrypt(env, tok, blob), "decrypt before the rotation")
    old_keys = _keys(path)
    p = subprocess.run([env.wxauth_bin, "keygen", "--rotate", path],
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       universal_newlines=True, timeout=30)
    assert p.returncode == 0, "keygen --rotate: %s" % p.stderr
    assert _keys(path)[1:] == old_keys
    _reload(env)
    before = env.snapshot()
    for _ in range(env.workers):
        e = expect_error(od.decrypt(env, tok, blob), 400, "invalid_request")
        assert "already" in e["message"], e
    expect_unchanged(before, env.snapshot(), "a replay after the data key rotated")
    # The session_key sealed under the old key still opens; a new blob is
    # accepted once, now under the new key.
    fresh = od.profile_blob(sk, env.appid("mp1"), nickName="AfterRotation")
    expect_ok(od.decrypt(env, tok, fresh), "decrypt after the rotation")
    expect_error(od.decrypt(env, tok, fresh), 400, "invalid_request")


def test_changed_worker_count_takes_effect(env):
    orig = _conf_text(env)
    more = env.workers + 2
    try:
        _write_conf(env, _set(orig, "workers", more))
        _reload(env, workers=more)
        m = env.req("GET", "/metrics")
        assert m.status == 200 and re.search(r"^wxauth_workers_configured %d$" % more, m.text, re.M), \
            "metrics do not show %d configured workers:\n%s" % (more, m.text[-800:])
    finally:
        _write_conf(env, orig)
        _reload(env, workers=env.workers)
    assert len(env.worker_pids()) == env.workers


def test_refused_reload_keeps_the_pool(env):
    orig = _conf_text(env)
    before = env.worker_pids()
    n = _count(env, "reload refused")
    try:
        _write_conf(env, _set(orig, "workers", "many"))
        os.kill(env.serve_pid(), signal.SIGHUP)
        wait_until(lambda: _count(env, "reload refused") > n, timeout=10,
                   msg="a broken config was not refused on SIGHUP")
        assert env.worker_pids() == before, "workers changed although the reload was refused"
        assert env.req("GET", "/readyz").status == 200
    finally:
        _write_conf(env, orig)


def test_workers_prune_and_the_tables_stop_growing(env):
    """With prune_interval set, workers delete what is past its retention on
    their own, a batch at a time after a response: twenty sessions over for
    31 days are gone, and the table is back to its size before them."""
    orig = _conf_text(env)
    users = []
    try:
        _write_conf(env, _set(orig, "prune_interval", 1))
        _reload(env)
        base = int(env.sql("SELECT count(*) FROM sessions")[0][0])
        for i in range(20):
            users.append(env.signed_in("mp1", env.person("prn%d" % i))["user"]["id"])
        env.sql("UPDATE sessions SET expires_at = now() - interval '31 days 2 hours'"
                " WHERE user_id IN (SELECT u FROM unnest(string_to_array(%s, ',')::uuid[]) u)",
                ",".join(users))

        def pruned():
            env.req("GET", "/readyz")
            n = int(env.sql("SELECT count(*) FROM sessions")[0][0])
            return n <= base
        wait_until(pruned, timeout=20, interval=0.3,
                   msg="the workers did not prune the sessions past their retention")
        # The worker logs the batch after its commit: the count can drop
        # just before the line is written.
        wait_until(lambda: "worker: pruned " in _log(env), timeout=5, interval=0.1,
                   msg="the prune left no 'worker: pruned' line in the log")
    finally:
        _write_conf(env, orig)
        _reload(env)


def test_log_format_json(env):
    """log_format = json: every line a JSON object with the documented
    keys; a request's line carries its fields, the status as a number."""
    orig = _conf_text(env)
    try:
        _write_conf(env, _set(orig, "log_format", "json"))
        _reload(env)
        r = env.req("GET", "/healthz")
        rid = r.headers["X-Request-Id"]

        def line():
            for l in read_text(env.log_file).splitlines():
                if l.startswith("{") and ('"request_id":"%s"' % rid) in l:
                    return l
            return None
        got = json.loads(wait_until(line, timeout=3, msg="no JSON request line"))
        assert list(got)[:5] == ["time", "level", "pid", "request_id", "msg"], got
        assert got["msg"] == "request" and got["route"] == "healthz" and got["status"] == 200, got
        assert isinstance(got["duration_ms"], float) and got["level"] == "info", got
    finally:
        _write_conf(env, orig)
        _reload(env)
    # Every line since is logfmt again, and every JSON line parses.
    for l in read_text(env.log_file).splitlines():
        if l.startswith("{"):
            json.loads(l)


def test_recycle_after_max_requests(env):
    orig = _conf_text(env)
    j = check_token_answer(env.login_ok("mp1", env.person("recycle")))
    n = _count(env, "(max_requests): recycling")
    recycled = _restarts(env, "recycled")
    try:
        _write_conf(env, _set(orig, "max_requests", "5"))
        before, _ = _reload(env)
        first = env.worker_pids()
        bad = []
        # /healthz is the main pool's (the token check is the gate's).
        for i in range(20 * env.workers):
            r = env.req("GET", "/healthz")
            if r.status != 200:
                bad.append(r)
        assert not bad, "%d requests failed while workers recycled: %s" % (len(bad), bad[:3])
        wait_until(lambda: _count(env, "(max_requests): recycling") >= n + env.workers,
                   timeout=10, msg="workers did not log their recycling")
        assert "recycled; replacing it" in _log(env)
        assert _restarts(env, "recycled") - recycled >= env.workers, \
            "restarts{reason=recycled} did not count the recycling"
        assert set(env.worker_pids()) != set(first), "no worker was replaced"
    finally:
        _write_conf(env, orig)
        _reload(env)


def test_worker_that_cannot_start_is_restarted_with_back_off(env):
    # A worker started while the key file is missing exits at once (the keys
    # are loaded per worker): serve must wait longer and longer between
    # attempts, say so, and bring the worker back once the file is back.
    j = check_token_answer(env.login_ok("mp1", env.person("backoff")))
    hidden = env.key_file + ".hidden"
    start = len(_log(env))
    crashed = _restarts(env, "crashed")
    victim = env.worker_pids()[0]
    os.rename(env.key_file, hidden)
    try:
        os.kill(victim, signal.SIGKILL)

        # The kill itself is the first line (0 s for a worker that ran a
        # while, else already 2 s), then one per failed start.
        def delays():
            found = re.findall(r"; restarting in (\d+) s", _log(env)[start:])
            return [int(d) for d in found] if len(found) >= 3 else None
        d = wait_until(delays, timeout=25, interval=0.2,
                       msg="no three restart lines with back-off in the log")
        assert d[0] < d[1] < d[2], "restart delays do not grow: %s" % d
        assert "exited with status 1; restarting in" in _log(env)[start:], \
            "the failed starts are not logged"
        assert _restarts(env, "crashed") - crashed >= 3, "restarts{reason=crashed} did not move"
        # Meanwhile the other workers answer.
        for _ in range(10):
            check_session_identity(env.session(j["access_token"]), user_id=j["user"]["id"])
        m = env.req("GET", "/metrics").text
        assert re.search(r"^wxauth_workers_alive %d$" % (env.workers - 1), m, re.M), \
            "workers_alive should be %d while one is down" % (env.workers - 1)
    finally:
        os.rename(hidden, env.key_file)
    wait_until(lambda: len(env.worker_pids()) == env.workers and
               re.search(r"^wxauth_workers_alive %d$" % env.workers,
                         env.req("GET", "/metrics").text, re.M),
               timeout=40, interval=0.5, msg="the worker did not come back")
    expect_accepted_everywhere(env, j["access_token"], user_id=j["user"]["id"])
