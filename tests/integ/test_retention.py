"""Retention: `wxauth prune` deletes sessions over for retain_sessions_days,
audit rows and events past their days, in batches, and nothing younger."""

import subprocess

from lib import expect_ok, expect_token_error


def _prune(env):
    p = subprocess.run([env.wxauth_bin, "prune", "-c", env.conf], capture_output=True,
                       text=True, timeout=120)
    assert p.returncode == 0, (p.returncode, p.stderr)
    assert p.stdout.startswith("pruned: "), p.stdout
    return p.stdout


def _count(env, q, *args):
    return int(env.sql(q, *args)[0][0])


def test_prune_deletes_only_what_is_past_its_retention(env):
    keep = env.signed_in("mp1", env.person("keep"))
    old = env.signed_in("mp1", env.person("old"))
    revoked = env.signed_in("mp1", env.person("oldrev"))
    expect_ok(env.logout(revoked["access_token"]), "logout")
    uid_old, uid_rev = old["user"]["id"], revoked["user"]["id"]
    # 31 days over (retain_sessions_days = 30, and an hour).
    env.sql("UPDATE sessions SET created_at = now() - interval '62 days',"
            " expires_at = now() - interval '31 days 2 hours' WHERE user_id = %s", uid_old)
    env.sql("UPDATE sessions SET revoked_at = now() - interval '31 days 2 hours'"
            " WHERE user_id = %s", uid_rev)
    env.sql("UPDATE audit_log SET at = now() - interval '181 days' WHERE user_id = %s", uid_old)
    env.sql("INSERT INTO events (type, user_id, at) VALUES"
            " ('sessions_revoked', %s, now() - interval '91 days'),"
            " ('sessions_revoked', %s, now() - interval '89 days')", uid_old, uid_old)
    assert _count(env, "SELECT count(*) FROM audit_log WHERE user_id = %s", uid_old) > 0
    # The change log of the revocation views: a day and an hour.
    rev_sid = env.sql("SELECT id FROM sessions WHERE user_id = %s", uid_rev)[0][0]
    env.sql("INSERT INTO view_log (kind, a, at) VALUES ('s', %s, now() - interval '25 hours'),"
            " ('s', %s, now() - interval '23 hours')", rev_sid, rev_sid)
    out = _prune(env)
    assert "pruned: 0 sessions" not in out and ", 0 events" not in out, out
    assert _count(env, "SELECT count(*) FROM sessions WHERE user_id IN (%s, %s)",
                  uid_old, uid_rev) == 0
    assert _count(env, "SELECT count(*) FROM audit_log WHERE user_id = %s", uid_old) == 0
    assert _count(env, "SELECT count(*) FROM events WHERE user_id = %s", uid_old) == 1
    assert _count(env, "SELECT count(*) FROM view_log WHERE a = %s AND at < now() - interval"
                  " '1 day'", rev_sid) == 0
    assert _count(env, "SELECT count(*) FROM view_log WHERE a = %s", rev_sid) >= 1
    # What is younger stays, and works.
    assert _count(env, "SELECT count(*) FROM sessions WHERE user_id = %s",
                  keep["user"]["id"]) == 1
    expect_ok(env.session(keep["access_token"]), "a session inside its retention")
    expect_ok(env.refresh(keep["refresh_token"]), "its refresh")
    # The revoked one is still refused (its token never outlives the record).
    expect_token_error(env.session(revoked["access_token"]),
                       ("session_revoked", "token_expired", "invalid_token"))
    # Nothing more to do: a second run deletes nothing.
    assert _prune(env).strip() == "pruned: 0 sessions, 0 audit rows, 0 events"


def test_prune_deletes_spent_codes_states_and_tickets_and_nothing_younger(env):
    """The short-lived rows go in the same batch, by the one prune rule (no
    login prunes as a side effect): codes after 10 minutes, stored answers of
    used refresh tokens after 10 minutes, open-data hashes after
    watermark_max_age; younger ones stay and still refuse a replay."""
    old = env.login_ok("mp1", env.person("codeold"))
    new = env.login_ok("mp1", env.person("codenew"))
    h_old = env.sql("SELECT encode(code_hash, 'hex') FROM login_codes l JOIN accounts a"
                    " ON a.id = l.account_id WHERE a.user_id = %s",
                    old.json["user"]["id"])[0][0]
    env.sql("UPDATE login_codes SET created_at = now() - interval '11 minutes'"
            " WHERE code_hash = decode(%s, 'hex')", h_old)
    env.sql("INSERT INTO open_data_seen (hash, seen_at) VALUES"
            " ('\\x01'::bytea, now() - interval '25 years'), ('\\x02'::bytea, now())")
    _prune(env)
    assert _count(env, "SELECT count(*) FROM login_codes WHERE code_hash ="
                  " decode(%s, 'hex')", h_old) == 0
    assert _count(env, "SELECT count(*) FROM open_data_seen WHERE hash = '\\x01'::bytea") == 0
    assert _count(env, "SELECT count(*) FROM open_data_seen WHERE hash = '\\x02'::bytea") == 1
    # The younger code is kept, and its replay is still refused.
    r = env.login("mp1", new.person, code=new.code)
    assert r.status != 200 or r.json["user"]["id"] == new.json["user"]["id"], r.describe()
    assert _count(env, "SELECT count(*) FROM login_codes l JOIN accounts a ON"
                  " a.id = l.account_id WHERE a.user_id = %s", new.json["user"]["id"]) == 1
    env.sql("DELETE FROM open_data_seen WHERE hash = '\\x02'::bytea")
