"""Fault tests (issue 8): break the real things -- stop, restart and freeze
PostgreSQL, hang and kill the WeChat mock, SIGKILL workers -- and check what a
user of the gate (GET /v1/session through nginx) sees.

Run by tests/run.sh in an environment of its own:
    /usr/bin/python3 tests/integ/run.py ENV_JSON --dir tests/fault --timeout 120

Each test prints one "fault:" line with the token check's numbers during the
fault (requests, success rate, p50, p99), for the record. The thresholds are
wide (a stall is seconds, a healthy check milliseconds); speed itself is
`make bench`'s business. Every loop is bounded; every address is loopback.
"""

import os
import signal
import subprocess
import threading
import time

import lib
from lib import check_session_identity, check_token_answer, expect_error, wait_until

IS_ROOT = os.geteuid() == 0


# -- the real things ----------------------------------------------------------

def _as_pg(cmd):
    if IS_ROOT:
        cmd = ["setpriv", "--reuid=postgres", "--regid=postgres", "--init-groups"] + cmd
    return subprocess.run(cmd, cwd="/",
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                          universal_newlines=True, timeout=60)


def _pg_ctl(env, *args):
    pg_ctl = os.path.join(os.path.dirname(env.psql), "pg_ctl")
    p = _as_pg([pg_ctl, "-D", os.path.join(env.dir, "pg"), "-l",
                os.path.join(env.dir, "pg.log"), "-w", "-t", "30"] + list(args))
    assert p.returncode == 0, "pg_ctl %s failed: %s" % (" ".join(args), p.stdout)


def _pg_pids(env):
    """The postmaster and every backend and helper of it."""
    with open(os.path.join(env.dir, "pg", "postmaster.pid"), encoding="ascii") as f:
        pm = int(f.readline().strip())
    p = subprocess.run(["ps", "-o", "pid=", "--ppid", str(pm)], stdout=subprocess.PIPE,
                       universal_newlines=True, timeout=10)
    return [pm] + [int(x) for x in p.stdout.split()]


def _signal_all(pids, sig):
    for pid in pids:
        try:
            os.kill(pid, sig)
        except ProcessLookupError:
            pass


def _ready(env):
    return env.req("GET", "/readyz", timeout=5).status == 200


def _pool_whole(env, old):
    """Every slot of both pools runs again, none of the old pids."""
    def whole():
        main, gate = env.worker_pids(), env.gate_pids()
        return (len(main) == env.workers and
                len(gate) == int(env.conf_value("gate_workers", "0")) and
                not (set(main) | set(gate)) & set(old))
    wait_until(whole, timeout=20, msg="the pool did not come back whole")


# -- measuring the gate -------------------------------------------------------

class Gate(lib.Background):
    """GET /v1/session through nginx in a loop, in a thread, while a fault
    lasts: (seconds, status) of every request."""

    def __init__(self, env, token, clients=2):
        self.env, self.token, self.results = env, token, []
        super().__init__([self._one] * clients)

    def _one(self, k):
        t0 = time.monotonic()
        try:
            st = self.env.session(self.token, timeout=15).status
        except Exception:  # noqa: BLE001 - a failure is a result here
            st = 0
        self.results.append((time.monotonic() - t0, st))

    def report(self, name):
        lat = sorted(d for d, _ in self.results)
        ok = sum(1 for _, s in self.results if s == 200)
        n = len(lat)
        p50 = lat[n // 2] * 1e3 if n else float("nan")
        p99 = lat[min(n - 1, int(n * 0.99))] * 1e3 if n else float("nan")
        print("fault: %s: /v1/session n=%d ok=%.1f%% p50=%.1fms p99=%.1fms"
              % (name, n, 100.0 * ok / n if n else 0, p50, p99), flush=True)
        return n, ok, p99

    def check(self, name, p99_ms=500):
        n, ok, p99 = self.report(name)
        assert n >= 20, "%s: only %d token checks were answered" % (name, n)
        assert ok == n, "%s: %d of %d token checks failed: %s" % (
            name, n - ok, n, sorted({s for _, s in self.results if s != 200}))
        assert p99 < p99_ms, "%s: the token check's p99 was %.0f ms" % (name, p99)


def _person_token(env, prefix):
    return check_token_answer(env.login_ok("mp1", env.person(prefix)))


# -- the tests ----------------------------------------------------------------

def test_postgres_down_workers_killed_revocations_hold(env):
    """Fail closed: a token logged out before the outage stays refused by
    workers started during it (serve hands them the view); valid tokens keep
    working; readiness and logins say the database is down."""
    gone = _person_token(env, "gone")
    kept = _person_token(env, "kept")
    lib.expect_ok(env.logout(gone["access_token"]), "logout")
    lib.expect_refused_everywhere(env, gone["access_token"], time.monotonic())
    _pg_ctl(env, "stop", "-m", "fast")
    try:
        old = env.worker_pids() + env.gate_pids()
        _signal_all(old, signal.SIGKILL)
        _pool_whole(env, old)
        with Gate(env, kept["access_token"]) as g:
            rs = lib.parallel(lambda i: env.session(gone["access_token"]), 24)
            bad = [r for r in rs if r.status != 401]
            assert not bad, "a logged-out token was let through by a new worker: %s" % bad[0].describe()
            for r in rs:
                expect_error(r, 401, "session_revoked")
            # The same through auth_request, as an order API sees it.
            r = env.req("GET", "/demo/x", token=gone["access_token"])
            assert r.status == 401, r.describe()
            r = env.req("GET", "/demo/x", token=kept["access_token"])
            assert r.status == 200, r.describe()
            assert env.req("GET", "/readyz").status == 503
            t0 = time.monotonic()
            r = env.login("mp1", env.person("down"))
            expect_error(r, 503, "db_unavailable")
            assert r.headers.get("Retry-After"), r.describe()
            assert time.monotonic() - t0 < 5, "login took %.1f s to say 503" % (time.monotonic() - t0)
            time.sleep(1)
        g.check("postgres stopped, every worker SIGKILLed")
        assert "handed over by serve" in lib.read_text(env.log_file)
    finally:
        _pg_ctl(env, "start")
    wait_until(lambda: _ready(env), timeout=15, msg="not ready after PostgreSQL came back")
    check_token_answer(env.login_ok("mp1", env.person("back")))


def test_wechat_hanging_does_not_touch_the_gate(env):
    """4x as many logins as workers, each waiting on a WeChat that answers
    after the timeout: the token check goes on; each login gets its 504 or
    a fast 503, never the timeout times the queue depth."""
    tok = _person_token(env, "gatewx")["access_token"]
    timeout_s = float(env.conf_value("wechat_timeout_ms", "5000")) / 1000
    n = 4 * env.workers
    times = []

    def slow_login(i):
        t0 = time.monotonic()
        r = env.login("mp1", env.person("hang"), directives=("slow20000",), timeout=60)
        times.append(time.monotonic() - t0)
        return r

    with Gate(env, tok) as g:
        rs = lib.parallel(slow_login, n, max_workers=n)
    g.check("%d logins on a hanging WeChat" % n)
    for r in rs:
        expect_error(r, r.status, ("upstream_timeout", "busy"))
        assert r.status in (503, 504), r.describe()
    worst = max(times)
    print("fault: hanging WeChat: %d logins answered in at most %.1f s (wechat_timeout %.1f s)"
          % (n, worst, timeout_s), flush=True)
    assert worst < 2 * timeout_s + 3, "a login waited %.1f s: the queue multiplied the timeout" % worst


def test_postgres_frozen_does_not_touch_the_gate(env):
    """PostgreSQL stopped dead (SIGSTOP) for 10 s: the token check goes on;
    a login started meanwhile gets 503 within its statement deadline."""
    tok = _person_token(env, "gatepg")["access_token"]
    deadline = float(env.conf_value("db_statement_timeout_ms", "5000")) / 1000 + 1
    pids = _pg_pids(env)
    login = {}

    def frozen_login():
        t0 = time.monotonic()
        login["r"] = env.login("mp1", env.person("frozen"), timeout=60)
        login["t"] = time.monotonic() - t0

    with Gate(env, tok) as g:
        _signal_all(pids, signal.SIGSTOP)
        try:
            t = threading.Thread(target=frozen_login)
            t.start()
            time.sleep(10)
        finally:
            _signal_all(pids, signal.SIGCONT)
        t.join(30)
    g.check("postgres frozen 10 s")
    r = login["r"]
    assert r.status == 503, r.describe()
    print("fault: frozen PostgreSQL: a login got %d after %.1f s" % (r.status, login["t"]), flush=True)
    assert login["t"] < deadline + 3, "the login waited %.1f s on a frozen database" % login["t"]
    wait_until(lambda: env.login("mp1", env.person("thawed")).status == 200, timeout=15,
               interval=0.5, msg="no login after PostgreSQL thawed")


def test_postgres_restart_under_load_loses_no_acknowledged_login(env):
    """Every login that got 200 has its rows and its token validates; no
    login got a 500; no worker died."""
    tok = _person_token(env, "gaterestart")["access_token"]
    pids = env.worker_pids() + env.gate_pids()
    acked, statuses = [], []
    stop = threading.Event()

    def logins():
        until = time.monotonic() + 60
        while not stop.is_set() and time.monotonic() < until:
            r = env.login("mp1", env.person("rs"), timeout=30)
            statuses.append(r.status)
            if r.status == 200:
                acked.append(r.json)
            time.sleep(0.02)

    ths = [threading.Thread(target=logins) for _ in range(2)]
    with Gate(env, tok) as g:
        for t in ths:
            t.start()
        time.sleep(1.5)
        _pg_ctl(env, "restart", "-m", "fast")
        time.sleep(3)
        stop.set()
        for t in ths:
            t.join(60)
    g.check("postgres restarted under load")
    assert 500 not in statuses, "a login got 500 during the restart"
    assert set(statuses) <= {200, 503}, sorted(set(statuses))
    lost = 0
    for j in acked:
        rows = env.sql("SELECT count(*) FROM sessions WHERE refresh_hash IS NOT NULL"
                       " AND user_id = %s", j["user"]["id"])
        if rows[0][0] != "1":
            lost += 1
        check_session_identity(env.session(j["access_token"]), user_id=j["user"]["id"])
    print("fault: PostgreSQL restart: %d logins acknowledged, %d lost, %d answered 503"
          % (len(acked), lost, statuses.count(503)), flush=True)
    assert acked, "no login succeeded around the restart"
    assert lost == 0, "%d acknowledged logins lost" % lost
    assert set(env.worker_pids() + env.gate_pids()) == set(pids), "a worker died"


def test_wechat_down_login_502_in_time(env):
    """The mock killed: logins get 502 within their timeout; the gate is fine."""
    tok = _person_token(env, "wxdown")["access_token"]
    pid_file = os.path.join(env.dir, "mock.pid")
    with open(pid_file, encoding="ascii") as f:
        mock_pid = int(f.read().split()[0])
    os.kill(mock_pid, signal.SIGKILL)
    try:
        with Gate(env, tok) as g:
            t0 = time.monotonic()
            r = env.login("mp1", env.person("wxdown"))
            took = time.monotonic() - t0
            time.sleep(1)
        g.check("WeChat down")
        expect_error(r, 502, "upstream_unavailable")
        assert took < 5, "a login took %.1f s against a WeChat that refuses connections" % took
    finally:
        port = env._mock.port
        p = subprocess.Popen(["/usr/bin/python3", os.path.join(os.path.dirname(__file__), "..",
                              "mock", "wxmock.py"), "--port", str(port), "--apps",
                              os.path.join(env.dir, "apps.json")],
                             stdin=subprocess.DEVNULL, stdout=open(os.path.join(env.dir, "mock.log"), "a"),
                             stderr=subprocess.STDOUT, start_new_session=True)
        with open(pid_file, "w", encoding="ascii") as f:
            f.write("%d\n" % p.pid)
        wait_until(lambda: _mock_up(env), timeout=10, msg="the mock did not come back")


def _mock_up(env):
    try:
        env.stats()
        return True
    except Exception:  # noqa: BLE001
        return False


def test_main_worker_killed_under_load_fails_no_token_check(env):
    """SIGKILL of a main worker under a token-check load: nothing fails."""
    tok = _person_token(env, "killmain")["access_token"]
    with Gate(env, tok, clients=3) as g:
        time.sleep(0.5)
        victim = env.worker_pids()[0]
        os.kill(victim, signal.SIGKILL)
        time.sleep(2)
    g.check("a main worker SIGKILLed")
    wait_until(lambda: len(env.worker_pids()) == env.workers and victim not in env.worker_pids(),
               timeout=10, msg="the killed worker was not replaced")
