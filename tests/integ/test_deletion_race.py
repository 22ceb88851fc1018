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


def _invariants(env, what):
    """Nothing lives on a deleted user."""
    bad = env.sql(
        "SELECT 'session ' || s.id FROM sessions s JOIN users u ON u.id = s.user_id"
        " WHERE u.deleted_at IS NOT NULL AND s.revoked_at IS NULL"
        " UNION ALL SELECT 'account ' || a.id FROM accounts a JOIN users u ON u.id = a.user_id"
        " WHERE u.deleted_at IS NOT NULL AND (a.openid NOT LIKE 'deleted:%%'"
        " OR a.unionid IS NOT NULL OR a.session_key IS NOT NULL)"
        " UNION ALL SELECT 'unionid ' || u.id FROM users u"
        " WHERE u.deleted_at IS NOT NULL AND (u.unionid IS NOT NULL OR u.nickname IS NOT NULL)"
        " UNION ALL SELECT 'merged into deleted ' || l.id FROM users l JOIN users u"
        " ON u.id = l.merged_into WHERE u.deleted_at IS NOT NULL AND l.unionid IS NOT NULL")
    assert bad == [], "%s: alive on a deleted user: %s" % (what, bad)


def _slow(env, table, when):
    """A trigger that holds every transaction writing a row of table that
    matches `when` (SQL over NEW) for SLEEP seconds, after the write."""
    name = "race_slow_%s" % table
    env.sql("CREATE OR REPLACE FUNCTION race_slow() RETURNS trigger LANGUAGE plpgsql AS"
            " $$BEGIN PERFORM pg_sleep(%s); RETURN NULL; END$$" % SLEEP)
    env.sql("DROP TRIGGER IF EXISTS %s ON %s" % (name, table))
    env.sql("CREATE TRIGGER %s AFTER INSERT ON %s FOR EACH ROW WHEN (%s)"
            " EXECUTE FUNCTION race_slow()" % (name, table, when))
    return lambda: env.sql("DROP TRIGGER IF EXISTS %s ON %s" % (name, table))


def _race(env, first, second, delay=0.25):
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


def _delete(env, token):
    return lambda: env.req("DELETE", "/v1/account", token=token)


def _after(env, victim, person, app, r):
    """After a race between a deletion of victim and r (a login-like answer):
    whatever r got is refused if it landed on the deleted user, and the
    person's next login is a live new user."""
    if r.status == 200 and r.json["user"]["id"] == victim:
        t = env.session(r.json["access_token"])
        assert t.status == 401, "a session on the deleted user works: %s" % t.describe()
        u = env.req("GET", "/v1/userinfo", token=r.json["access_token"])
        assert u.status == 401, "the deleted user's profile answers: %s" % u.describe()
    again = env.login(app, person)
    assert again.status == 200, again.describe()
    assert again.json["user"]["id"] != victim, "the next login landed on the deleted user"
    expect_ok(env.session(again.json["access_token"]), "the next login")


def test_login_in_another_app_racing_a_deletion(env):
    """The case of the attack round: same unionid, the person's first login
    in another app, held right after its account is written."""
    p = env.person("drace")
    a = env.signed_in("mp1", p)
    undo = _slow(env, "accounts", "NEW.openid = '%s'" % expected_openid(env.appid("mp2"), p))
    try:
        rl, rd = _race(env, lambda: env.login("mp2", p), _delete(env, a["access_token"]))
    finally:
        undo()
    assert rd.status == 200, rd.describe()
    assert rl.status in (200, 401, 503), rl.describe()
    _invariants(env, "login in another app, widened")
    _after(env, a["user"]["id"], p, "mp2", rl)


def test_returning_login_racing_a_deletion(env):
    p = env.person("drret")
    a = env.signed_in("mp1", p)
    undo = _slow(env, "sessions", "NEW.user_id = '%s'" % a["user"]["id"])
    try:
        rl, rd = _race(env, lambda: env.login("mp1", p), _delete(env, a["access_token"]))
    finally:
        undo()
    assert rd.status == 200, rd.describe()
    _invariants(env, "returning login, widened")
    _after(env, a["user"]["id"], p, "mp1", rl)


def test_link_racing_a_deletion(env):
    """The deleted user links an account of another app (no unionid, so only
    the link joins them) while it is deleted."""
    p = env.person("drlink")
    a = env.signed_in("mp1", p, directives=("nouid",))
    code = "%s.nouid.lnk%d" % (env.person("drlinkb"), int(time.time() * 1000) % 100000)
    undo = _slow(env, "accounts", "NEW.user_id = '%s'" % a["user"]["id"])
    try:
        rl, rd = _race(env, lambda: env.req("POST", "/v1/link",
                                            {"appid": env.appid("mp2"), "code": code},
                                            token=a["access_token"]),
                       _delete(env, a["access_token"]))
    finally:
        undo()
    assert rd.status == 200, rd.describe()
    assert rl.status in (200, 401, 503), rl.describe()
    _invariants(env, "link, widened")


def test_refresh_racing_a_deletion(env):
    p = env.person("drref")
    a = env.signed_in("mp1", p)
    sid = env.sid_of(a["access_token"])
    undo = _slow(env, "refresh_used", "NEW.session_id = '%s'" % sid)
    try:
        rr, rd = _race(env, lambda: env.refresh(a["refresh_token"]),
                       _delete(env, a["access_token"]))
    finally:
        undo()
    assert rd.status == 200, rd.describe()
    _invariants(env, "refresh, widened")
    if rr.status == 200:
        t = env.session(rr.json["access_token"])
        assert t.status == 401, "a refreshed session of the deleted user works: %s" % t.describe()
    # The stored answer of that refresh is gone with the rest.
    left = env.sql("SELECT count(*) FROM refresh_used WHERE session_id = %s AND answer IS NOT NULL",
                   sid)
    assert left == [["0"]], left


def test_unionid_merge_racing_a_deletion(env):
    """Another user of the same person (no unionid yet) learns the unionid the
    deleted user held, and would merge with it."""
    p = env.person("drmerge")
    held = env.signed_in("oa", p)                           # holds the unionid
    other = env.signed_in("mp1", p, directives=("nouid",))  # the same person, no unionid
    undo = _slow(env, "sessions", "NEW.user_id IN ('%s', '%s')" % (other["user"]["id"],
                                                                  held["user"]["id"]))
    try:
        rl, rd = _race(env, lambda: env.login("mp1", p), _delete(env, held["access_token"]))
    finally:
        undo()
    assert rd.status == 200, rd.describe()
    _invariants(env, "unionid merge, widened")
    if rl.status == 200:
        assert rl.json["user"]["id"] != held["user"]["id"] or \
            env.session(rl.json["access_token"]).status == 401


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
        _invariants(env, "natural race %d" % i)
        _after(env, a["user"]["id"], p, "mp2", rs[1])


def test_code_replayed_after_deletion_never_reaches_wechat_again(env):
    p = env.person("drcode")
    r = env.login_ok("mp1", p)
    expect_ok(env.req("DELETE", "/v1/account", token=r.json["access_token"]), "delete")
    assert env.code_calls(r.code) == 1
    again = env.login("mp1", p, code=r.code)
    assert again.status == 401 and again.json["error"] == "invalid_code", again.describe()
    assert env.code_calls(r.code) == 1, "the code went to WeChat a second time"
