#!/usr/bin/python3
"""Runs wxauth's integration tests against a running environment.

    /usr/bin/python3 tests/integ/run.py ENV_JSON [-k SUBSTRING] [--timeout SECONDS]

Runs three phases against one environment, each the test_*.py files of a
folder: tests/integ itself (tests that need nothing of one another), then
audit/ (checks of what every test before it left behind: the logs hold no
secret), then shutdown/ (serve is stopped). No test depends on the order of
file names. For each file, each function named test_* runs (in definition
order) with one argument, the lib.Env built from ENV_JSON; one line per test:

    ok   test_login.py::test_login_new_person (0.12s)
    FAIL test_login.py::test_login_new_person: message
         (traceback, indented)

then, as the last line, "N passed, N failed". Exit status 1 if any failed.
Before each test the WeChat mock is reset. A test that runs longer than the
timeout (60 s) is reported failed and the run goes on without it.
"""

import argparse
import importlib.util
import inspect
import os
import sys
import threading
import time
import traceback

HERE = os.path.dirname(os.path.abspath(__file__))
# The phases, in order: (label prefix, folder).
PHASES = (("", HERE), ("audit/", os.path.join(HERE, "audit")),
          ("shutdown/", os.path.join(HERE, "shutdown")))
sys.path.insert(0, HERE)
sys.dont_write_bytecode = True  # leave no __pycache__ in the source tree

import lib  # noqa: E402  (after the sys.path change, on purpose)


def load_modules(folder=HERE):
    """[(file name, module or None, import traceback or None)] in file order."""
    out = []
    for name in sorted(os.listdir(folder)):
        if not (name.startswith("test_") and name.endswith(".py")):
            continue
        modname = name[:-3]
        try:
            spec = importlib.util.spec_from_file_location(modname, os.path.join(folder, name))
            mod = importlib.util.module_from_spec(spec)
            sys.modules[modname] = mod
            spec.loader.exec_module(mod)
            out.append((name, mod, None))
        except Exception:
            out.append((name, None, traceback.format_exc()))
    return out


def tests_of(mod):
    """The module's own test_* functions in definition order."""
    fns = [f for n, f in vars(mod).items()
           if n.startswith("test_") and inspect.isfunction(f) and f.__module__ == mod.__name__]
    return sorted(fns, key=lambda f: f.__code__.co_firstlineno)


def run_one(fn, env, timeout):
    """(ok, message, traceback text, seconds)."""
    box = {}

    def target():
        try:
            env.mock_reset()
        except BaseException as e:  # noqa: B902 - report everything, never die
            box["err"] = ("mock reset failed: %s: %s" % (type(e).__name__, e),
                          traceback.format_exc())
            return
        try:
            fn(env)
            box["ok"] = True
        except AssertionError as e:
            box["err"] = (str(e) or "assertion failed", traceback.format_exc())
        except BaseException as e:  # noqa: B902
            box["err"] = ("%s: %s" % (type(e).__name__, e), traceback.format_exc())

    t0 = time.monotonic()
    th = threading.Thread(target=target, name=fn.__name__, daemon=True)
    th.start()
    th.join(timeout)
    dt = time.monotonic() - t0
    if th.is_alive():
        return False, "timed out after %.0fs (left running in the background)" % timeout, "", dt
    if box.get("ok"):
        return True, "", "", dt
    msg, tb = box.get("err", ("test ended without a result", ""))
    return False, msg, tb, dt


def indent(text, pfx="     "):
    return "\n".join(pfx + line for line in text.rstrip().splitlines())


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("env_json")
    ap.add_argument("-k", dest="substring", default=None,
                    help="run only tests whose 'file::name' contains this")
    ap.add_argument("--timeout", type=float, default=60.0, help="per-test timeout, seconds")
    ap.add_argument("--dir", default=None,
                    help="one folder of test_*.py files instead of the three phases")
    args = ap.parse_args(argv)

    env = lib.Env.load(args.env_json)
    passed = failed = 0
    phases = PHASES if args.dir is None else (("", os.path.abspath(args.dir)),)
    modules = [(pfx + fname, mod, err) for pfx, folder in phases
               for fname, mod, err in load_modules(folder)]
    for fname, mod, err in modules:
        if mod is None:
            label = "%s::<import>" % fname
            if args.substring and args.substring not in label and args.substring not in fname:
                continue
            failed += 1
            print("FAIL %s: import failed" % label, flush=True)
            print(indent(err), flush=True)
            continue
        for fn in tests_of(mod):
            label = "%s::%s" % (fname, fn.__name__)
            if args.substring and args.substring not in label:
                continue
            ok, msg, tb, dt = run_one(fn, env, args.timeout)
            if ok:
                passed += 1
                print("ok   %s (%.2fs)" % (label, dt), flush=True)
            else:
                failed += 1
                first, _, more = msg.partition("\n")
                print("FAIL %s: %s" % (label, first), flush=True)
                if more:
                    print(indent(more), flush=True)
                if tb:
                    print(indent(tb), flush=True)
    print("%d passed, %d failed" % (passed, failed), flush=True)
    # A timed-out test may still hold threads (or a thread pool that the
    # interpreter would join at exit): leave without waiting for them.
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(1 if failed else 0)


if __name__ == "__main__":
    main()
