"""A deleted user stays deleted under every race (issue 22): a login, link,
refresh or unionid merge that races DELETE /v1/account either completes
before it (and is erased with it) or starts after it (and makes a new
user); never a session, openid or unionid on a deleted user.

Each pairing runs with the window widened (a trigger holds the racing
request inside its transaction, right where it writes, while the deletion
starts) and naturally (both sent at once, a few times)."""

import threading
import time

from lib import expect_ok, expected_openid, parallel

SLEEP = 0.8     # how long the widened window holds the racing transaction


def _invariants(env, what, uid):
    """Nothing lives on the deleted user uid (or on a user merged into it)."""
    assert env.sql("SELECT deleted_at IS NOT NULL FROM users WHERE id = %s", uid) == [["t"]]
    bad = env.sql(
        "WITH t AS (SELECT id FROM users WHERE id = %s OR merged_into = %s)"
        " SELECT 'session ' || s.id FROM sessions s WHERE s.user_id IN (SELECT id FROM t)"
        " AND s.revoked_at IS NULL"
        " UNION ALL SELECT 'account ' || a.id FROM accounts a WHERE a.user_id IN"
        " (SELECT id FROM t) AND (a.openid NOT LIKE 'deleted:%%' OR a.unionid IS NOT NULL"
        " OR a.session_key IS NOT NULL)"
        " UNION ALL SELECT 'user ' || u.id FROM users u WHERE u.id IN (SELECT id FROM t)"
        " AND (u.unionid IS NOT NULL OR u.nickname IS NOT NULL)", uid, uid)
    assert bad == [], "%s: alive on a deleted user: %s" % (what, bad)


def _slow(env, table, when, moment="AFTER"):
    """A trigger that holds every transaction writing a row of table that
    matches `when` (SQL over NEW) for SLEEP seconds: BEFORE the write (a
    racer that has read but not yet written) or AFTER it (a deletion that
    has written everything but not committed)."""
    name = "race_slow_%s" % table
    env.sql("CREATE OR REPLACE FUNCTION race_slow() RETURNS trigger LANGUAGE plpgsql AS"
            " $$BEGIN PERFORM pg_sleep(%s); RETURN NEW; END$$" % SLEEP)
    env.sql("DROP TRIGGER IF EXISTS %s ON %s" % (name, table))
    env.sql("CREATE TRIGGER %s %s INSERT ON %s FOR EACH ROW WHEN (%s)"
            " EXECUTE FUNCTION race_slow()" % (name, moment, table, when))
    return lambda: env.sql("DROP TRIGGER IF EXISTS %s ON %s" % (name, table))


def _race(first, second, delay=0.25):
    """first() starts; after delay, second() starts; both answers."""
    out = {}

    def run(k, fn):
        out[k] = fn()
    t = threading.Thread(target=run, args=(0, first))
    t.start()
    time.sleep(delay)
    run(1, second)
    t.join(timeout=30)
    return out[0], out[1]


def _both_orders(env, victim_token, victim_id, racer, racer_slow):
    """The race twice: the deletion held open while racer() starts, then
    racer() held between its read and its write (racer_slow: the table and
    condition of that write) while the deletion starts. Yields the racer's
    answer and the deletion's."""
    delete = lambda: env.req("DELETE", "/v1/account", token=victim_token())  # noqa: E731
    for order in ("deletion first", "racer first"):
        if order == "deletion first":
            undo = _slow(env, "audit_log", "NEW.event = 'user_deleted' AND NEW.user_id = '%s'"
                         % victim_id(), "AFTER")
            try:
                rd, rr = _race(delete, racer)
            finally:
                undo()
        else:
            undo = _slow(env, racer_slow[0], racer_slow[1](), "BEFORE")
            try:
                rr, rd = _race(racer, delete)
            finally:
                undo()
        yield order, rr, rd


def _after(env, victim, person, app, r, what):
    """After a race between a deletion of victim and r (a login-like answer):
    whatever r got is refused if it landed on the deleted user, and the
    person's next login is a live new user."""
    if r.status == 200 and r.json["user"]["id"] == victim:
        t = env.session(r.json["access_token"])
        assert t.status == 401, "%s: a session on the deleted user works: %s" % (
            what, t.describe())
        u = env.req("GET", "/v1/userinfo", token=r.json["access_token"])
        assert u.status == 401, "%s: the deleted user's profile answers: %s" % (
            what, u.describe())
    again = env.login(app, person)
    assert again.status == 200, again.describe()
    assert again.json["user"]["id"] != victim, "%s: the next login landed on the deleted " \
        "user" % what
    expect_ok(env.session(again.json["access_token"]), "the next login")


class _Victim:
    """A fresh person signed in to app (fresh each round of a race)."""

    def __init__(self, env, prefix, app="mp1", directives=()):
        self.env, self.prefix, self.app, self.directives = env, prefix, app, directives
        self.n = 0
        self.next()

    def next(self):
        self.n += 1
        self.person = self.env.person("%s%d" % (self.prefix, self.n))
        self.a = self.env.signed_in(self.app, self.person, directives=self.directives)
        return self


def _rounds(env, v, racer, racer_slow, app_after, what):
    for order, rr, rd in _both_orders(env, lambda: v.a["access_token"],
                                      lambda: v.a["user"]["id"], racer, racer_slow):
        assert rd.status == 200, "%s, %s: %s" % (what, order, rd.describe())
        assert rr.status in (200, 401, 503), "%s, %s: %s" % (what, order, rr.describe())
        _invariants(env, "%s, %s" % (what, order), v.a["user"]["id"])
        if app_after:
            _after(env, v.a["user"]["id"], v.person, app_after, rr, "%s, %s" % (what, order))
        v.next()


def test_login_in_another_app_racing_a_deletion(env):
    """The case of the attack round: the same unionid, the person's first
    login in another app."""
    v = _Victim(env, "drace")
    _rounds(env, v, lambda: env.login("mp2", v.person),
            ("accounts", lambda: "NEW.openid = '%s'" % expected_openid(env.appid("mp2"),
                                                                       v.person)),
            "mp2", "login in another app")


def test_returning_login_racing_a_deletion(env):
    v = _Victim(env, "drret")
    _rounds(env, v, lambda: env.login("mp1", v.person),
            ("sessions", lambda: "NEW.user_id = '%s'" % v.a["user"]["id"]),
            "mp1", "returning login")


def test_link_racing_a_deletion(env):
    """The user being deleted links an account of another app (no unionid,
    so only the link joins them)."""
    v = _Victim(env, "drlink", directives=("nouid",))

    def link():
        code = "%s.nouid.%d" % (env.person("drlinkb"), time.monotonic_ns() % 10 ** 9)
        return env.req("POST", "/v1/link", {"appid": env.appid("mp2"), "code": code},
                       token=v.a["access_token"])
    _rounds(env, v, link, ("accounts", lambda: "NEW.user_id = '%s'" % v.a["user"]["id"]),
            None, "link")


def test_refresh_racing_a_deletion(env):
    v = _Victim(env, "drref")
    seen = []

    def refresh():
        seen.append(env.sid_of(v.a["access_token"]))
        r = env.refresh(v.a["refresh_token"])
        seen.append(r)
        return r
    for order, rr, rd in _both_orders(env, lambda: v.a["access_token"],
                                      lambda: v.a["user"]["id"], refresh,
                                      ("refresh_used", lambda: "true")):
        assert rd.status == 200, "%s: %s" % (order, rd.describe())
        _invariants(env, "refresh, " + order, v.a["user"]["id"])
        if rr.status == 200:
            t = env.session(rr.json["access_token"])
            assert t.status == 401, "refresh, %s: a refreshed session of the deleted user " \
                "works: %s" % (order, t.describe())
        # The stored answer of that refresh is gone with the rest.
        left = env.sql("SELECT count(*) FROM refresh_used WHERE session_id = %s"
                       " AND answer IS NOT NULL", seen[-2])
        assert left == [["0"]], "refresh, %s: its stored answer outlived the deletion" % order
        v.next()


def test_unionid_merge_racing_a_deletion(env):
    """Another user of the same person (no unionid yet) learns the unionid
    the user being deleted holds, and would merge with it."""
    v = _Victim(env, "drmerge", app="oa")
    others = {}

    def login():
        return env.login("mp1", v.person)

    def other_of():
        others[v.n] = env.signed_in("mp1", v.person, directives=("nouid",))
        return others[v.n]
    # The same person's second user, made before each round.
    orig_next = v.next

    def next_round():
        orig_next()
        other_of()
        return v
    v.next = next_round
    other_of()
    _rounds(env, v, login,
            ("sessions", lambda: "NEW.user_id IN ('%s', '%s')" % (
                others[v.n]["user"]["id"], v.a["user"]["id"])),
            None, "unionid merge")


def test_natural_races_of_every_pairing(env):
    """No widening: both at once, a few rounds of each pairing."""
    for i in range(4):
        p = env.person("drnat%d" % i)
        a = env.signed_in("mp1", p)
        calls = [lambda: env.req("DELETE", "/v1/account", token=a["access_token"]),
                 lambda: env.login("mp2", p), lambda: env.login("mp1", p),
                 lambda: env.refresh(a["refresh_token"])]
        rs = parallel(lambda k: calls[k](), len(calls))
        assert rs[0].status == 200, rs[0].describe()
        _invariants(env, "natural race %d" % i, a["user"]["id"])
        _after(env, a["user"]["id"], p, "mp2", rs[1], "natural race %d" % i)


def test_code_replayed_after_deletion_never_reaches_wechat_again(env):
    p = env.person("drcode")
    r = env.login_ok("mp1", p)
    expect_ok(env.req("DELETE", "/v1/account", token=r.json["access_token"]), "delete")
    assert env.code_calls(r.code) == 1
    again = env.login("mp1", p, code=r.code)
    assert again.status == 401 and again.json["error"] == "invalid_code", again.describe()
    assert env.code_calls(r.code) == 1, "the code went to WeChat a second time"
