#!/usr/bin/python3
"""tests/tools/settings.py - every setting of the config table
(app/base/conf.c: the globals and an [app]'s) is documented in the three
places a user reads: the sample config (deploy/wxauth.conf.sample, as
"name =" or "# name ="), the man page (deploy/man/wxauth.conf.5, in bold)
and README's Configuration section (as `name`); and none of the three names
a setting the table does not have. One check per setting and place; the
last line is "N passed, N failed"."""

import os
import re
import sys

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")


def read(path):
    with open(os.path.join(ROOT, path), encoding="utf-8") as f:
        return f.read()


def table():
    src = read("app/base/conf.c")
    names = []
    for block in ("globals[]", "app_settings[]"):
        body = src[src.index("static const struct setting " + block):]
        body = body[:body.index("\n};")]
        names += re.findall(r'^\t\{"([a-z_]+)", K_', body, re.M)
    return names


def places():
    readme = read("README.md")
    conf = readme[readme.index("\n## Configuration"):]
    conf = conf[:conf.index("\n## ", 1)]
    man = read("deploy/man/wxauth.conf.5").replace("\\-", "-")
    bold = set()
    for line in man.splitlines():
        if line.startswith((".B ", ".BR ", ".RB ", ".BI ")):
            bold.update(re.findall(r"[a-z][a-z_]+[a-z]", line))
    return {
        "deploy/wxauth.conf.sample": set(re.findall(r"^#?\s*([a-z_]+)\s*=",
                                                    read("deploy/wxauth.conf.sample"), re.M)),
        "deploy/man/wxauth.conf.5": bold,
        "README.md Configuration": set(re.findall(r"`([a-z_]+)`", conf)),
    }


def main():
    names = table()
    passed = failed = 0
    if len(names) < 30:
        print("FAIL settings::the table: only %d settings read from app/base/conf.c" % len(names))
        failed += 1
    for where, found in places().items():
        for n in names:
            if n in found:
                passed += 1
            else:
                print("FAIL settings::%s is not in %s" % (n, where))
                failed += 1
    # The sample names only real settings (its commented examples included).
    extra = sorted(places()["deploy/wxauth.conf.sample"] - set(names))
    if extra:
        print("FAIL settings::deploy/wxauth.conf.sample names settings the table lacks: %s"
              % ", ".join(extra))
        failed += 1
    else:
        passed += 1
    print("%d passed, %d failed" % (passed, failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
