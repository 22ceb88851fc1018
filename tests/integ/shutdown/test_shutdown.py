"""Runs last: SIGTERM stops the pool gracefully, the request in flight first."""

import os
import signal
import threading
import time


def test_sigterm_lets_the_request_in_flight_finish(env):
    pid = env.serve_pid()
    workers = env.worker_pids()
    result = {}

    def slow_login():
        # The mock holds this answer for 1.5 s: the worker is mid-request
        # when SIGTERM arrives.
        result["r"] = env.login("mp1", env.person("stop"), directives=("slow1500",))

    t = threading.Thread(target=slow_login)
    t.start()
    time.sleep(0.5)
    os.kill(pid, signal.SIGTERM)
    t.join(20)
    r = result.get("r")
    assert r is not None and r.status == 200, "in-flight login: %s" % (r and r.describe())

    def gone(p):
        try:
            os.kill(p, 0)
            return False
        except ProcessLookupError:
            return True

    env.wait_until(lambda: gone(pid) and all(gone(w) for w in workers), timeout=10,
                   msg="serve or its workers still running 10 s after SIGTERM")
    assert not os.path.exists(env.fcgi_socket), "socket left behind"
