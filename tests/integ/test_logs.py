"""Logs: one structured line per request, carrying the request id the client
got in X-Request-Id; the log file is reopened on SIGUSR1 (logrotate), also
under load without failing a request."""

import os
import re
import signal
import threading
import time

from lib import UUID_RE, check_token_answer, parallel, read_text, wait_until

LINE_RE = re.compile(
    r"^time=(?P<time>\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z) level=(?P<level>info|warn)"
    r" pid=(?P<pid>\d+) request_id=(?P<rid>[A-Za-z0-9_-]{8,64}) msg=request"
    r" method=(?P<method>[A-Z]+) route=(?P<route>[a-z_-]+) status=(?P<status>\d{3})"
    r" duration_ms=(?P<ms>\d+\.\d\d) appid=(?P<appid>\S+) user=(?P<user>\S+)$")


def _request_line(env, rid, timeout=3):
    """The parsed request line of the request with this id."""
    def find():
        for line in read_text(env.log_file).splitlines():
            if ("request_id=%s " % rid) in line and " msg=request " in line:
                return line
        return None
    line = wait_until(find, timeout=timeout, msg="no request line with request_id=%s in %s"
                      % (rid, env.log_file))
    m = LINE_RE.match(line)
    assert m, "request line not in the documented shape: %r" % line
    return m.groupdict()


def test_one_structured_line_per_request(env):
    r = env.login("mp1", env.person("logs"))
    j = check_token_answer(r)
    rid = r.headers["X-Request-Id"]
    f = _request_line(env, rid)
    assert f["route"] == "login" and f["status"] == "200" and f["method"] == "POST", f
    assert f["appid"] == env.appid("mp1"), f
    assert f["user"] == j["user"]["id"] and UUID_RE.match(f["user"]), f
    assert float(f["ms"]) >= 0
    assert read_text(env.log_file).count("request_id=%s msg=request " % rid) == 1, \
        "more than one request line for one request"

    s = env.session(j["access_token"])
    f = _request_line(env, s.headers["X-Request-Id"])
    assert (f["route"], f["status"], f["user"]) == ("session", "200", j["user"]["id"]), f

    bad = env.req("GET", "/v1/no-such-route")
    assert bad.status == 404
    f = _request_line(env, bad.headers["X-Request-Id"])
    assert (f["route"], f["status"], f["appid"], f["user"]) == ("-", "404", "-", "-"), f


def test_request_id_in_the_log_is_the_one_returned(env):
    # nginx gives each request its $request_id (a client's own X-Request-Id
    # is replaced by it); wxauth echoes it and logs it; its error body too.
    r = env.req("GET", "/v1/session", token="v4.local.garbage",
                headers={"X-Request-Id": "client-chosen-id-0001"})
    assert r.status == 401
    rid = r.headers["X-Request-Id"]
    assert re.match(r"^[0-9a-f]{32}$", rid), "X-Request-Id %r is not nginx's $request_id" % rid
    assert r.json["request_id"] == rid
    f = _request_line(env, rid)
    assert f["status"] == "401" and f["route"] == "session", f
    assert "client-chosen-id-0001" not in read_text(env.log_file)


def _rotate(env, name):
    """Move the log away as logrotate does and send SIGUSR1 to serve. The
    moved file keeps a .log name, so that the secrets check reads it too."""
    moved = os.path.join(os.path.dirname(env.log_file), name)
    os.rename(env.log_file, moved)
    os.kill(env.serve_pid(), signal.SIGUSR1)
    wait_until(lambda: os.path.exists(env.log_file), timeout=3,
               msg="serve did not reopen %s on SIGUSR1" % env.log_file)
    return moved


def test_sigusr1_reopens_the_log_file(env):
    before = env.login("mp1", env.person("prerotate"))
    check_token_answer(before)
    moved = _rotate(env, "wxauth-rotated-1.log")
    time.sleep(0.2)     # idle workers reopen as soon as the signal comes
    # Enough requests in parallel to reach every worker.
    rs = parallel(lambda i: env.req("GET", "/healthz"), 4 * env.workers)
    assert all(r.status == 200 for r in rs)
    new = read_text(env.log_file)
    old = read_text(moved)
    for r in rs:
        rid = r.headers["X-Request-Id"]
        assert "request_id=%s " % rid in new, "a request after SIGUSR1 was not logged in the new file"
        assert "request_id=%s " % rid not in old, "a request after SIGUSR1 went to the moved file"
    assert "request_id=%s " % before.headers["X-Request-Id"] in old
    pids = {int(m) for m in re.findall(r" pid=(\d+) request_id=", new)}
    assert pids <= set(env.worker_pids()) and len(pids) >= 1


def test_sigusr1_storm_under_load_fails_no_request(env):
    # A signal must never interrupt a request half-way (libfcgi fails a read
    # or write that returns EINTR): hundreds of SIGUSR1 while requests flow.
    tok = check_token_answer(env.login_ok("mp1", env.person("storm")))["access_token"]
    bad, done, stop = [], [0], threading.Event()
    lock = threading.Lock()

    def load(i):
        k = 0
        while not stop.is_set():
            k += 1
            try:
                r = env.login("mp1", "storm%d" % i) if k % 5 == 0 else env.session(tok)
                ok = r.status == 200
            except Exception as e:  # noqa: B902
                ok, r = False, repr(e)
            with lock:
                done[0] += 1
                if not ok:
                    bad.append(r)
    threads = [threading.Thread(target=load, args=(i,), daemon=True) for i in range(4)]
    for t in threads:
        t.start()
    pid = env.serve_pid()
    t0 = time.monotonic()
    sent = 0
    while time.monotonic() - t0 < 2.0:
        os.kill(pid, signal.SIGUSR1)
        sent += 1
        time.sleep(0.002)
    stop.set()
    for t in threads:
        t.join(30)
    assert done[0] > 100, "only %d requests made" % done[0]
    assert not bad, "%d of %d requests failed under %d SIGUSR1: %s" % (
        len(bad), done[0], sent, bad[:3])
