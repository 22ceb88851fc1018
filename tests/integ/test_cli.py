"""The operations commands: migrate (twice), check-config, keygen."""

import os
import subprocess
import tempfile

from lib import expect_unchanged


def _run(env, *args, extra_env=None):
    e = dict(os.environ)
    e.update(extra_env or {})
    return subprocess.run([env.wxauth_bin] + list(args), capture_output=True, text=True,
                          timeout=30, env=e)


def test_migrate_twice_changes_nothing(env):
    before = env.snapshot()
    r = _run(env, "migrate", "-c", env.conf, "-d", "db")
    assert r.returncode == 0, "second migrate failed: %s %s" % (r.stdout, r.stderr)
    assert "0 applied" in r.stdout, "second migrate applied something: %r" % r.stdout
    rows = env.sql("SELECT count(*) FROM schema_migrations")
    assert int(rows[0][0]) == len([f for f in os.listdir("db") if f.endswith(".sql")])
    expect_unchanged(before, env.snapshot(), "a second migrate")


def test_check_config_ok(env):
    r = _run(env, "check-config", "-c", env.conf)
    assert r.returncode == 0, r.stderr
    assert "ok" in r.stdout and "%d apps" % len(env.apps) in r.stdout, r.stdout


def test_check_config_names_the_bad_line(env):
    with open(env.conf, encoding="utf-8") as f:
        lines = f.read().splitlines()
    with tempfile.TemporaryDirectory() as d:
        bad = os.path.join(d, "bad.conf")
        # Line 3 becomes a typo of a real setting.
        lines.insert(2, "worker = 4")
        with open(bad, "w", encoding="utf-8") as f:
            f.write("\n".join(lines) + "\n")
        r = _run(env, "check-config", "-c", bad)
        assert r.returncode != 0, "a bad config passed: %s" % r.stdout
        assert r.stderr.startswith(bad + ":3: "), "expected '%s:3: ...', got %r" % (bad, r.stderr)
        assert "worker" in r.stderr
        # serve refuses it too, before binding anything.
        r = _run(env, "serve", "-c", bad)
        assert r.returncode != 0 and ":3: " in r.stderr, r.stderr
        # WXAUTH_CONFIG is read when -c is absent.
        r = _run(env, "check-config", extra_env={"WXAUTH_CONFIG": bad})
        assert r.returncode != 0 and r.stderr.startswith(bad + ":3: "), r.stderr


def test_check_config_refuses_a_bad_key_file(env):
    with tempfile.TemporaryDirectory() as d:
        keys = os.path.join(d, "keys")
        with open(keys, "w") as f:
            f.write("k4.local.not-a-key\n")
        os.chmod(keys, 0o600)
        conf = os.path.join(d, "wxauth.conf")
        with open(env.conf, encoding="utf-8") as f:
            text = f.read().replace("key_file = %s\n" % env.key_file, "key_file = %s\n" % keys, 1)
        with open(conf, "w", encoding="utf-8") as f:
            f.write(text)
        r = _run(env, "check-config", "-c", conf)
        assert r.returncode != 0 and r.stderr.startswith(keys + ":1: "), r.stderr
        # The config line that names it, too.
        n = [i for i, l in enumerate(text.splitlines(), 1) if l.startswith("key_file = ")][0]
        assert ("%s:%d: key_file = %s" % (conf, n, keys)) in r.stderr, r.stderr
        # A missing one: and how to make it.
        os.rename(keys, keys + ".gone")
        r = _run(env, "check-config", "-c", conf)
        assert r.returncode != 0 and "(run: wxauth keygen %s)" % keys in r.stderr, r.stderr
        os.rename(keys + ".gone", keys)
        # A good key file every user can read is refused too.
        with open(env.key_file, encoding="ascii") as f, open(keys, "w") as g:
            g.write(f.read())
        os.chmod(keys, 0o644)
        r = _run(env, "check-config", "-c", conf)
        assert r.returncode != 0 and "readable by every user" in r.stderr and \
            "chmod 600 " + keys in r.stderr, r.stderr
        os.chmod(keys, 0o600)
        r = _run(env, "check-config", "-c", conf)
        assert r.returncode == 0, r.stderr


def test_keygen(env):
    with tempfile.TemporaryDirectory() as d:
        path = os.path.join(d, "keys")
        r = _run(env, "keygen", path)
        assert r.returncode == 0, r.stderr
        assert os.stat(path).st_mode & 0o777 == 0o600
        first = [l for l in open(path).read().splitlines() if l.startswith("k4.local.")]
        assert len(first) == 1 and len(first[0]) == len("k4.local.") + 43, first
        # Never overwritten...
        r = _run(env, "keygen", path)
        assert r.returncode != 0 and "exists" in r.stderr
        # ... but rotated: a new first key, the old one kept.
        r = _run(env, "keygen", "--rotate", path)
        assert r.returncode == 0, r.stderr
        keys = [l for l in open(path).read().splitlines() if l.startswith("k4.local.")]
        assert len(keys) == 2 and keys[1] == first[0] and keys[0] != first[0], keys
        # Key material never reaches the terminal.
        assert "k4.local." not in r.stdout + r.stderr


def test_keygen_in_a_folder_others_can_write(env):
    """A file or a link planted where keygen used to write its temporary
    file (KEY.tmp) receives nothing, and no temporary file is left."""
    with tempfile.TemporaryDirectory() as d:
        os.chmod(d, 0o1777)
        for plant in ("link", "file"):
            path = os.path.join(d, "keys-" + plant)
            bait = os.path.join(d, "bait-" + plant)
            open(bait, "w").close()
            os.chmod(bait, 0o666)
            if plant == "link":
                os.symlink(bait, path + ".tmp")
            else:
                os.link(bait, path + ".tmp")
            for args in (("keygen", path), ("keygen", "--rotate", path)):
                r = _run(env, *args)
                assert r.returncode == 0, (args, r.stderr)
                assert open(bait).read() == "", "%s: the key went into a planted %s" % (
                    args, plant)
                st = os.lstat(path)
                assert st.st_mode & 0o777 == 0o600 and not os.path.islink(path), oct(st.st_mode)
            left = sorted(n for n in os.listdir(d) if n.startswith("keys-%s." % plant))
            assert left == ["keys-%s.tmp" % plant], left


def test_help_version_and_usage_errors(env):
    """--help, -h and COMMAND --help print to stdout and exit 0; --version;
    a usage error is one line on stderr and exit 2."""
    for args in (["--help"], ["-h"], ["help"]):
        r = _run(env, *args)
        assert r.returncode == 0 and r.stderr == "", (args, r.returncode, r.stderr)
        for cmd in ("serve", "worker", "migrate", "keygen", "check-config", "unmerge", "prune"):
            assert "wxauth %s " % cmd in r.stdout, (cmd, r.stdout)
    for cmd in ("serve", "keygen", "prune", "unmerge"):
        r = _run(env, cmd, "--help")
        assert r.returncode == 0 and r.stderr == "", (cmd, r.stderr)
        # That command only.
        assert "\n  wxauth %s " % cmd in r.stdout and r.stdout.count("\n  wxauth ") == 1, \
            r.stdout
    r = _run(env, "--version")
    assert r.returncode == 0 and r.stdout.startswith("wxauth ") and len(r.stdout.split()) == 2, \
        r.stdout
    for args, says in ((["bogus"], "unknown command 'bogus'"), ([], "no command"),
                       (["serve", "-x"], "unknown option '-x'"),
                       (["keygen"], "FILE is missing"), (["unmerge"], "ID is missing"),
                       (["check-config", "extra"], "unexpected argument 'extra'"),
                       (["serve", "--rotate"], "unknown option '--rotate'")):
        r = _run(env, *args)
        assert r.returncode == 2, (args, r.returncode)
        assert r.stdout == "" and r.stderr.count("\n") == 1 and says in r.stderr, \
            (args, r.stderr)


def test_serve_startup_errors_reach_the_terminal(env):
    """With log_file set, a serve that cannot start still says why on
    stderr, at the error level (and in the log file)."""
    import re
    import tempfile
    text = open(env.conf, encoding="utf-8").read()
    with tempfile.TemporaryDirectory() as d:
        log = os.path.join(d, "wxauth.log")
        base = re.sub(r"(?m)^log_file = .*$", "log_file = " + log, text)
        base = re.sub(r"(?m)^pid_file = .*$", "pid_file = " + os.path.join(d, "pid"), base)
        for change, says in (
                ((r"(?m)^listen = .*$", "listen = " + os.path.join(d, "no/such/dir/s.sock")),
                 "listen: "),
                ((r"(?m)^key_file = .*$", "key_file = " + os.path.join(d, "missing.keys")),
                 "run: wxauth keygen " + os.path.join(d, "missing.keys"))):
            conf = os.path.join(d, "wxauth.conf")
            with open(conf, "w", encoding="utf-8") as f:
                f.write(re.sub(change[0], change[1], base))
            os.chmod(conf, 0o600)
            r = _run(env, "serve", "-c", conf)
            assert r.returncode == 1, (r.returncode, r.stderr)
            assert "level=error" in r.stderr and says in r.stderr, r.stderr
            assert says in open(log, encoding="utf-8").read()


def test_check_config_connect(env):
    """--connect logs in to the database and checks its migrations; a wrong
    database or a missing migration is one line on stderr and exit 1."""
    import shutil
    db_dir = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "db")
    r = _run(env, "check-config", "-c", env.conf, "--connect", "-d", db_dir)
    assert r.returncode == 0 and "migrations up to date" in r.stdout, (r.stdout, r.stderr)
    with tempfile.TemporaryDirectory() as d:
        more = os.path.join(d, "db")
        shutil.copytree(db_dir, more)
        with open(os.path.join(more, "999_future.sql"), "w") as f:
            f.write("SELECT 1;\n")
        r = _run(env, "check-config", "-c", env.conf, "--connect", "-d", more)
        assert r.returncode == 1 and "1 migration of" in r.stderr and \
            "run: wxauth migrate" in r.stderr, r.stderr
        conf = os.path.join(d, "wxauth.conf")
        with open(env.conf, encoding="utf-8") as f, open(conf, "w", encoding="utf-8") as g:
            g.write(f.read().replace("dbname=wxauth", "dbname=wxauth_nosuch", 1))
        os.chmod(conf, 0o600)
        r = _run(env, "check-config", "-c", conf, "--connect", "-d", db_dir)
        assert r.returncode == 1 and r.stderr.startswith("database: cannot connect: ") and \
            r.stderr.count("\n") == 1, r.stderr
