"""Plans that do not depend on ANALYZE (issue 10): the hot path reads
every table by an index, whatever the planner knows of its size. A
prepared statement planned on a small or empty table (a new deployment)
would otherwise scan it sequentially, and keep doing so as it grows.

Checked from PostgreSQL's own counters (pg_stat_user_tables), after an
ANALYZE of the tables while they are small (what autovacuum does on a new
deployment: the planner then knows them for a page or two, where a
sequential scan is the cheaper plan, and every cached plan is made again):
logins of new and returning people from two apps, token checks, userinfo,
refreshes and logouts add index scans and no sequential scan to the tables
they read. PostgreSQL 15 publishes a backend's counts when it has been idle
for up to 10 s: the test waits that long before each reading.
"""

import time

from lib import check_token_answer, expect_ok

# The tables the hot path reads (inserts alone count no scan).
HOT = ("accounts", "login_codes", "merges", "refresh_used", "sessions", "users")
FLUSH_S = 11


def _scans(env):
    rows = env.sql("SELECT relname, seq_scan, coalesce(idx_scan, 0) FROM pg_stat_user_tables")
    return {r[0]: (int(r[1]), int(r[2])) for r in rows}


def test_the_hot_path_scans_no_table_sequentially(env):
    for t in HOT:
        env.sql("ANALYZE %s" % t)
    time.sleep(FLUSH_S)         # what earlier tests did is counted before
    before = _scans(env)
    people = [env.person("plan") for _ in range(6)]
    answers = []
    for rnd in range(2):        # new people, then the same people again
        for p in people:
            for app in ("mp1", "mp2"):
                answers.append(check_token_answer(env.login_ok(app, p)))
    for j in answers[:8]:
        expect_ok(env.session(j["access_token"]), "session")
        expect_ok(env.req("GET", "/v1/userinfo", token=j["access_token"]), "userinfo")
    for j in answers[8:12]:
        expect_ok(env.refresh(j["refresh_token"]), "refresh")
    for j in answers[12:16]:
        expect_ok(env.logout(j["access_token"]), "logout")
    time.sleep(FLUSH_S)
    after = _scans(env)

    seq = {t: after[t][0] - before.get(t, (0, 0))[0] for t in HOT if t in after}
    idx = {t: after[t][1] - before.get(t, (0, 0))[1] for t in HOT if t in after}
    assert set(HOT) <= set(after), "tables missing from pg_stat_user_tables: %r" % sorted(after)
    # The counters moved at all (else the test would pass on nothing).
    for t in ("accounts", "login_codes", "sessions", "users"):
        assert seq[t] + idx[t] > 0, "no scan of %s counted: %r %r" % (t, seq, idx)
    assert not [t for t in seq if seq[t] > 0], \
        "sequential scans on the hot path: %r (index scans: %r)" % (seq, idx)
