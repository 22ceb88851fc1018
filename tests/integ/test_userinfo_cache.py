"""The workers' cache of GET /v1/userinfo (issue 10, app/view/profview.c).

Each main-pool worker keeps the answers it gave; triggers on users and
accounts NOTIFY every change, and the worker that made one bumps the host's
shared generation before it answers. What a client must never see: an
answer older than a change it has been told of (a PATCH's 200, a login's
200), on any worker; or older than a change made by anyone else once the
notification is out (within a second here).
"""

import time

from lib import expect_ok, parallel

WIDE = 24        # requests fired at once: more than the pool's workers
ROUNDS = 8


def _userinfo(env, token):
    return expect_ok(env.req("GET", "/v1/userinfo", token=token))


def _everywhere(env, token):
    """Answers of WIDE simultaneous reads: every worker answers some."""
    return parallel(lambda i: _userinfo(env, token), WIDE)


def _cache_counts(env):
    r = env.req("GET", "/metrics")
    assert r.status == 200, r.describe()
    got = {}
    for line in r.text.splitlines():
        if line.startswith("wxauth_userinfo_cache_total{"):
            got[line.split('"')[1]] = float(line.split()[-1])
    return got.get("hit", 0), got.get("miss", 0)


def test_repeated_reads_come_from_the_cache(env):
    a = env.signed_in("mp1")
    _userinfo(env, a["access_token"])
    hit0, miss0 = _cache_counts(env)
    for _ in range(3):
        _everywhere(env, a["access_token"])
    hit1, miss1 = _cache_counts(env)
    # 72 reads of one unchanged profile: at most one miss per worker.
    assert hit1 - hit0 >= 3 * WIDE - env.workers, (hit0, hit1, miss0, miss1)
    assert miss1 - miss0 <= env.workers, (miss0, miss1)


def test_a_patch_is_seen_by_every_worker_at_once(env):
    a = env.signed_in("mp1")
    t = a["access_token"]
    for k in range(ROUNDS):
        _everywhere(env, t)             # every worker has the old answer
        name = "n%d-%d" % (k, time.monotonic_ns() % 100000)
        r = env.req("PATCH", "/v1/userinfo", {"nickname": name}, token=t)
        assert expect_ok(r)["user"]["nickname"] == name, r.describe()
        seen = [j["user"]["nickname"] for j in _everywhere(env, t)]
        assert seen == [name] * WIDE, "round %d: after the PATCH's 200: %r" % (k, seen)


def test_a_new_app_account_is_seen_at_once(env):
    a = env.signed_in("mp1")
    t = a["access_token"]
    _everywhere(env, t)
    env.signed_in("mp2", a.person)      # the same person, a second app
    seen = [len(j["accounts"]) for j in _everywhere(env, t)]
    assert seen == [2] * WIDE, "after the second app's login: %r" % (seen,)


def test_a_returning_login_updates_last_login(env):
    a = env.signed_in("mp1")
    t = a["access_token"]
    before = _everywhere(env, t)[0]["accounts"][0]["last_login"]
    time.sleep(1.1)                      # the answer's times are to the second
    env.signed_in("mp1", a.person)
    seen = {j["accounts"][0]["last_login"] for j in _everywhere(env, t)}
    assert len(seen) == 1 and before not in seen, (before, seen)


def test_a_change_made_in_psql_is_seen_within_a_second(env):
    a = env.signed_in("mp1")
    t = a["access_token"]
    _everywhere(env, t)
    env.sql("UPDATE users SET city = 'Chengdu' WHERE id = %s", a["user"]["id"])
    env.wait_until(lambda: all(j["user"]["city"] == "Chengdu" for j in _everywhere(env, t)),
                   timeout=1.0, interval=0.05,
                   msg="a change made outside wxauth is never seen")


def test_an_account_added_in_psql_is_seen_within_a_second(env):
    # A login that makes a user names it in the transaction (db/016), and
    # its accounts tell no cache; any other writer's account insert does.
    a = env.signed_in("mp1")
    t = a["access_token"]
    _everywhere(env, t)
    env.sql("INSERT INTO accounts (appid, openid, user_id) VALUES (%s, %s, %s)",
            env.appid("mp2"), "o_psql_" + a["user"]["id"].replace("-", ""), a["user"]["id"])
    env.wait_until(lambda: all(len(j["accounts"]) == 2 for j in _everywhere(env, t)),
                   timeout=1.0, interval=0.05,
                   msg="an account added outside wxauth is never seen")


def test_workers_that_lost_their_connection_forget_what_they_cached(env):
    # While a worker has no connection it hears no NOTIFY; what changed
    # then must not be answered from what it kept.
    a = env.signed_in("mp1")
    t = a["access_token"]
    _everywhere(env, t)
    pids = [row[0] for row in env.sql(
        "SELECT pid FROM pg_stat_activity WHERE datname = current_database() "
        "AND pid <> pg_backend_pid() AND backend_type = 'client backend'")]
    assert pids, "no wxauth connections to end"
    env.sql("SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
            "WHERE pid = ANY(string_to_array(%s, ',')::int[])", ",".join(pids))
    # The change is made once those connections are gone (a change made
    # while one is still dying is the instant every connection loss has).
    env.wait_until(lambda: not env.sql(
        "SELECT 1 FROM pg_stat_activity WHERE pid = ANY(string_to_array(%s, ',')::int[])",
        ",".join(pids)), timeout=10, msg="terminated backends are still there")
    env.sql("UPDATE users SET province = 'Sichuan' WHERE id = %s", a["user"]["id"])

    def fresh():
        answers = parallel(lambda i: env.req("GET", "/v1/userinfo", token=t), WIDE)
        ok = [r.json["user"]["province"] for r in answers if r.status == 200]
        assert all(p == "Sichuan" for p in ok), "stale after a reconnect: %r" % (ok,)
        return len(ok) == WIDE

    env.wait_until(fresh, timeout=10, interval=0.2, msg="userinfo does not come back")
