"""The prefork pool: a killed worker is replaced, and the new one is a full worker."""

import os
import signal
import time

from lib import (check_session_identity, check_token_answer, expect_accepted_everywhere,
                 expect_refused_everywhere, wait_until)


def _kill_one_and_wait(env):
    """SIGKILLs one worker; returns (old pids, new pids) once the pool is whole again."""
    before = env.worker_pids()
    assert len(before) == env.workers, "expected %d workers, found %s" % (env.workers, before)
    victim = before[0]
    os.kill(victim, signal.SIGKILL)

    def replaced():
        now = env.worker_pids()
        return now if len(now) == env.workers and victim not in now else None
    after = wait_until(replaced, timeout=10, interval=0.1,
                       msg="worker %d was not replaced (pool back to %d)" % (victim, env.workers))
    new = set(after) - set(before)
    assert len(new) == 1, "exactly one new worker expected: %s -> %s" % (before, after)
    assert set(before) - {victim} <= set(after), "other workers changed: %s -> %s" % (before, after)
    return before, after


def test_pool_has_the_configured_workers(env):
    pids = env.worker_pids()
    assert env.workers > 0, "the env should say how many workers run"
    assert len(pids) == env.workers, "expected %d workers under serve, found %s" % (env.workers, pids)


def test_killed_worker_is_replaced(env):
    j = check_token_answer(env.login_ok("mp1", env.person("kill")))
    _kill_one_and_wait(env)
    # The kill is over and the pool is whole: from here every request succeeds.
    for i in range(50):
        r = env.session(j["access_token"])
        try:
            check_session_identity(r, user_id=j["user"]["id"])
        except AssertionError as e:
            raise AssertionError("request %d of 50 after the replacement: %s" % (i + 1, e)) from None
    expect_accepted_everywhere(env, j["access_token"], user_id=j["user"]["id"])
    check_token_answer(env.login_ok("mp1", env.person("afterkill")))


def test_new_worker_knows_earlier_logouts(env):
    # A worker started after a logout must refuse that session too: it loads
    # the revocations on start instead of trusting only future notifications.
    out = check_token_answer(env.login_ok("mp1", env.person("gone")))
    stay = check_token_answer(env.login_ok("mp1", env.person("stay")))
    r = env.logout(out["access_token"])
    assert r.status == 200, "logout: %s" % r.describe()
    t0 = time.monotonic()
    expect_refused_everywhere(env, out["access_token"], t0)
    _kill_one_and_wait(env)
    expect_refused_everywhere(env, out["access_token"], time.monotonic(), within=0.0)
    expect_accepted_everywhere(env, stay["access_token"], user_id=stay["user"]["id"])


def test_serve_process_survives(env):
    pid = env.serve_pid()
    os.kill(pid, 0)  # raises if the serve process is gone
    r = env.req("GET", "/readyz")
    assert r.status == 200, "readyz: %s" % r.describe()


def _client_backends(env):
    return [row[0] for row in env.sql(
        "SELECT pid FROM pg_stat_activity WHERE datname = current_database() "
        "AND pid <> pg_backend_pid() AND backend_type = 'client backend'")]


def test_workers_whose_connection_was_ended_come_back_and_learn_later_logouts(env):
    # Fail closed: a worker whose session the server ended (an administrator,
    # an idle timeout, a proxy restart) while PostgreSQL stays up must not go
    # on answering from the view it had while others log out. It reconnects
    # while idle, with no request to drive it, and reloads what it missed.
    out = check_token_answer(env.login_ok("mp1", env.person("cut")))
    stay = check_token_answer(env.login_ok("mp1", env.person("uncut")))
    expect_accepted_everywhere(env, out["access_token"], user_id=out["user"]["id"])
    workers = env.workers + len(env.gate_pids())
    old = _client_backends(env)
    assert len(old) >= workers, "expected a connection per worker: %s" % old
    env.sql("SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
            "WHERE pid = ANY(string_to_array(%s, ',')::int[])", ",".join(old))
    wait_until(lambda: len(set(_client_backends(env)) - set(old)) >= workers, timeout=5,
               interval=0.1, msg="the workers did not reconnect by themselves within 5 s")
    r = env.logout(out["access_token"])
    assert r.status == 200, "logout: %s" % r.describe()
    expect_refused_everywhere(env, out["access_token"], time.monotonic())
    expect_accepted_everywhere(env, stay["access_token"], user_id=stay["user"]["id"])


def test_workers_run_under_the_configured_scheduling(env):
    """worker_scheduling (default batch): every worker of both pools runs
    under SCHED_BATCH; serve itself keeps the policy it was started with."""
    want = env.conf_value("worker_scheduling", "batch")
    policy = os.SCHED_BATCH if want == "batch" else os.SCHED_OTHER
    pids = env.worker_pids() + env.gate_pids()
    assert pids, "no workers found"
    seen = {p: os.sched_getscheduler(p) for p in pids}
    assert all(v == policy for v in seen.values()), \
        "worker_scheduling = %s, but the workers' policies are %s" % (want, seen)
    assert os.sched_getscheduler(env.serve_pid()) == os.SCHED_OTHER, "serve's policy changed"
