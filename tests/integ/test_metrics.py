"""GET /metrics: Prometheus text format 0.0.4, checked by its rules, and
counters that move by exactly what the test did, summed over every worker."""

import json
import math
import os
import re
import subprocess

import lib
from lib import check_token_answer, parallel

NAME_RE = re.compile(r"^[a-zA-Z_:][a-zA-Z0-9_:]*$")
LABEL_RE = re.compile(r"^[a-zA-Z_][a-zA-Z0-9_]*$")
TYPES = ("counter", "gauge", "histogram", "summary", "untyped")


class Exposition:
    """A parsed exposition: families {name: {"type", "help", "samples"}} where
    samples are (sample name, {labels}, value) in order."""

    def __init__(self):
        self.families = {}

    def family_of(self, sample):
        """The family a sample name belongs to (histogram suffixes folded)."""
        for suffix in ("_bucket", "_sum", "_count"):
            base = sample[:-len(suffix)]
            if sample.endswith(suffix) and self.families.get(base, {}).get("type") in (
                    "histogram", "summary"):
                return base
        return sample

    def value(self, name, **labels):
        """The value of one series, 0 when absent."""
        fam = self.families.get(self.family_of(name))
        for n, l, v in (fam or {}).get("samples", []):
            if n == name and l == {k: str(x) for k, x in labels.items()}:
                return v
        return 0.0

    def series(self, name):
        fam = self.families.get(self.family_of(name)) or {}
        return [(l, v) for n, l, v in fam.get("samples", []) if n == name]


def _parse_labels(s, where):
    """'a="x",b="y\\"z"' -> dict, by the escaping rules (\\\\, \\", \\n only)."""
    labels, i = {}, 0
    while i < len(s):
        m = re.match(r"([a-zA-Z_][a-zA-Z0-9_]*)=\"", s[i:])
        assert m, "%s: bad label at %r" % (where, s[i:])
        name = m.group(1)
        assert name not in labels, "%s: label %s twice" % (where, name)
        assert not name.startswith("__"), "%s: reserved label name %s" % (where, name)
        i += m.end()
        val = []
        while True:
            assert i < len(s), "%s: unterminated label value" % where
            c = s[i]
            if c == "\\":
                assert i + 1 < len(s), "%s: lone backslash" % where
                nxt = s[i + 1]
                assert nxt in '\\"n', "%s: bad escape \\%s in a label value" % (where, nxt)
                val.append({"\\": "\\", '"': '"', "n": "\n"}[nxt])
                i += 2
            elif c == '"':
                i += 1
                break
            else:
                assert c != "\n", "%s: raw newline in a label value" % where
                val.append(c)
                i += 1
        labels[name] = "".join(val)
        if i < len(s):
            assert s[i] == ",", "%s: expected ',' between labels at %r" % (where, s[i:])
            i += 1
    return labels


def _split_sample(line, where):
    """'name{labels} value [ts]' -> (name, labels text or '', rest)."""
    m = re.match(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)", line)
    assert m, "%s: no metric name" % where
    name, rest = m.group(1), line[m.end():]
    ltext = ""
    if rest.startswith("{"):
        # Find the closing brace outside quoted values.
        i, inq = 1, False
        while i < len(rest):
            c = rest[i]
            if inq and c == "\\":
                i += 2
                continue
            if c == '"':
                inq = not inq
            elif c == "}" and not inq:
                break
            i += 1
        assert i < len(rest), "%s: unterminated label set" % where
        ltext, rest = rest[1:i], rest[i + 1:]
    return name, ltext, rest


def parse(text):
    """Parse and check an exposition by the text format's rules; returns an
    Exposition or raises AssertionError naming the line."""
    assert text.endswith("\n"), "the exposition must end with a newline"
    expo = Exposition()
    fams = expo.families
    done = set()            # families whose samples are over (no interleaving)
    current = None
    seen = set()
    for no, line in enumerate(text.split("\n")[:-1], 1):
        where = "line %d %r" % (no, line[:120])
        if line == "":
            continue
        if line.startswith("#"):
            parts = line.split(None, 3)
            if len(parts) >= 3 and parts[1] in ("HELP", "TYPE"):
                name = parts[2]
                assert NAME_RE.match(name), "%s: bad metric name" % where
                f = fams.setdefault(name, {"type": None, "help": None, "samples": []})
                assert not f["samples"], "%s: %s after the family's samples" % (where, parts[1])
                if parts[1] == "TYPE":
                    assert f["type"] is None, "%s: second TYPE" % where
                    assert len(parts) == 4 and parts[3] in TYPES, "%s: bad type" % where
                    f["type"] = parts[3]
                else:
                    assert f["help"] is None, "%s: second HELP" % where
                    doc = parts[3] if len(parts) == 4 else ""
                    # In HELP only \\ and \n are escapes.
                    assert re.fullmatch(r"([^\\]|\\[\\n])*", doc), "%s: bad escape in HELP" % where
                    f["help"] = doc
            continue
        name, ltext, rest = _split_sample(line, where)
        labels = _parse_labels(ltext, where)
        for k in labels:
            assert LABEL_RE.match(k), "%s: bad label name %s" % (where, k)
        vals = rest.split()
        assert len(vals) in (1, 2) and rest.startswith(" "), "%s: expected ' value [timestamp]'" % where
        v = vals[0]
        assert re.match(r"^([+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?|[+-]Inf|NaN)$", v), \
            "%s: bad value %r" % (where, v)
        value = float(v)
        fam = expo.family_of(name)
        f = fams.setdefault(fam, {"type": None, "help": None, "samples": []})
        assert f["type"] is not None, "%s: sample before its TYPE line" % where
        if current != fam:
            assert fam not in done, "%s: samples of %s are not contiguous" % (where, fam)
            if current is not None:
                done.add(current)
            current = fam
        key = (name, tuple(sorted(labels.items())))
        assert key not in seen, "%s: duplicate series" % where
        seen.add(key)
        if f["type"] == "histogram":
            assert name != fam, "%s: a histogram sample needs _bucket, _sum or _count" % where
            if name.endswith("_bucket"):
                assert "le" in labels, "%s: bucket without le" % where
        else:
            assert name == fam, "%s: sample name differs from its family" % where
        if f["type"] == "counter":
            assert name.endswith("_total"), "%s: a counter's name must end in _total" % where
            assert value >= 0 and not math.isnan(value), "%s: negative counter" % where
        f["samples"].append((name, labels, value))
    for fam, f in fams.items():
        if f["type"] == "histogram":
            _check_histogram(fam, f["samples"])
    return expo


def _check_histogram(fam, samples):
    groups = {}
    for name, labels, value in samples:
        rest = tuple(sorted((k, v) for k, v in labels.items() if k != "le"))
        g = groups.setdefault(rest, {"buckets": [], "sum": None, "count": None})
        if name == fam + "_bucket":
            g["buckets"].append((float(labels["le"]), labels["le"], value))
        elif name == fam + "_sum":
            g["sum"] = value
        elif name == fam + "_count":
            g["count"] = value
    for rest, g in groups.items():
        what = "%s%s" % (fam, dict(rest))
        les = [b[0] for b in g["buckets"]]
        assert les == sorted(les) and len(set(les)) == len(les), "%s: le not increasing: %s" % (what, les)
        assert les and math.isinf(les[-1]) and g["buckets"][-1][1] == "+Inf", "%s: no +Inf bucket" % what
        counts = [b[2] for b in g["buckets"]]
        assert counts == sorted(counts), "%s: buckets not cumulative: %s" % (what, counts)
        assert g["count"] is not None and g["sum"] is not None, "%s: _count or _sum missing" % what
        assert counts[-1] == g["count"], "%s: +Inf bucket %s != _count %s" % (what, counts[-1], g["count"])
        assert g["sum"] >= 0


def scrape(env):
    r = env.req("GET", "/metrics")
    assert r.status == 200, "GET /metrics: %s" % r.describe()
    ct = r.headers.get("Content-Type", "")
    assert ct.startswith("text/plain") and "version=0.0.4" in ct, "Content-Type %r" % ct
    return parse(r.text)


# -- tests ---------------------------------------------------------------------

def test_parser_follows_the_text_format_rules(env):
    # The parser itself, on a hand-made exposition with every escape.
    good = ('# HELP a_total Help with a \\\\ backslash and a \\n newline.\n'
            '# TYPE a_total counter\n'
            'a_total{x="q\\"uote",y="back\\\\slash",z="new\\nline"} 3\n'
            '# TYPE h histogram\n'
            'h_bucket{le="0.5"} 1\nh_bucket{le="+Inf"} 2\nh_sum 0.7\nh_count 2\n')
    e = parse(good)
    assert e.value("a_total", x='q"uote', y="back\\slash", z="new\nline") == 3
    bad = [
        '# TYPE a counter\na 1\n',                                   # counter without _total
        'a_total 1\n',                                               # no TYPE
        '# TYPE a_total counter\na_total{x="\\t"} 1\n',              # bad escape
        '# TYPE h histogram\nh_bucket{le="+Inf"} 2\nh_sum 1\nh_count 3\n',  # +Inf != count
        '# TYPE h histogram\nh_bucket{le="1"} 1\nh_bucket{le="0.5"} 1\n'
        'h_bucket{le="+Inf"} 1\nh_sum 1\nh_count 1\n',               # le order
        '# TYPE a_total counter\na_total 1\n# TYPE b gauge\nb 1\na_total{x="1"} 1\n',  # interleaved
        '# TYPE 1a gauge\n1a 1\n',                                   # bad name
        '# HELP a_total tab \\t\n# TYPE a_total counter\na_total 1\n',  # bad HELP escape
        '# TYPE a_total counter\na_total 1\na_total 2\n',             # duplicate series
    ]
    for text in bad:
        try:
            parse(text)
        except AssertionError:
            continue
        raise AssertionError("the parser accepted %r" % text)


def test_metrics_parse_and_have_every_family(env):
    e = scrape(env)
    want = {
        "wxauth_requests_total": "counter",
        "wxauth_request_duration_seconds": "histogram",
        "wxauth_wechat_calls_total": "counter",
        "wxauth_wechat_token_refreshes_total": "counter",
        "wxauth_merges_total": "counter",
        "wxauth_db_errors_total": "counter",
        "wxauth_workers_alive": "gauge",
        "wxauth_workers_configured": "gauge",
        "wxauth_worker_restarts_total": "counter",
    }
    for name, typ in want.items():
        f = e.families.get(name)
        assert f and f["type"] == typ and f["help"], "family %s (%s) missing or without HELP" % (name, typ)
    assert e.value("wxauth_workers_alive") == env.workers
    assert e.value("wxauth_workers_configured") == env.workers
    assert e.value("wxauth_metrics_scope", scope="pool") == 1
    # The build: the version `wxauth --version` prints.
    v = subprocess.run([env.wxauth_bin, "--version"], capture_output=True, text=True,
                       timeout=30).stdout.split()[1]
    assert e.families.get("wxauth_build_info", {}).get("type") == "gauge", list(e.families)
    assert re.search(r'^wxauth_build_info\{version="%s",libpq="\d+",libsodium="[0-9.]+",'
                     r'libcurl="[0-9.]+"\} 1$' % re.escape(v),
                     env.req("GET", "/metrics").text, re.M), v


def test_counters_move_by_what_was_done(env):
    tok = check_token_answer(env.login_ok("mp1", env.person("metrics")))["access_token"]
    a = scrape(env)
    for _ in range(3):
        assert env.session(tok).status == 200
    for _ in range(2):
        assert env.session("v4.local.nonsense").status == 401
    check_token_answer(env.login_ok("mp1", env.person("metrics2")))
    assert env.login("mp1", env.person("refused"), directives=("e40029",)).status == 401
    assert env.req("GET", "/v1/no-such-route").status == 404
    b = scrape(env)

    def d(name, **labels):
        return b.value(name, **labels) - a.value(name, **labels)
    assert d("wxauth_requests_total", route="session", status=200) == 3
    assert d("wxauth_requests_total", route="session", status=401) == 2
    assert d("wxauth_requests_total", route="login", status=200) == 1
    assert d("wxauth_requests_total", route="login", status=401) == 1
    assert d("wxauth_requests_total", route="unmatched", status=404) == 1
    # The first scrape was answered before it counted itself; the second not yet.
    assert d("wxauth_requests_total", route="metrics", status=200) == 1
    assert d("wxauth_request_duration_seconds_count", route="session") == 5
    assert d("wxauth_request_duration_seconds_count", route="login") == 2
    assert d("wxauth_request_duration_seconds_sum", route="session") > 0
    assert d("wxauth_wechat_calls_total", api="jscode2session", errcode=0) == 1
    assert d("wxauth_wechat_calls_total", api="jscode2session", errcode=40029) == 1
    # A histogram's count is the sum of its route's requests by status.
    for labels, count in b.series("wxauth_request_duration_seconds_count"):
        total = sum(v for l, v in b.series("wxauth_requests_total") if l["route"] == labels["route"])
        assert total == count, "route %s: %s requests but a count of %s" % (labels["route"], total, count)


def test_counts_are_summed_over_every_worker(env):
    tok = check_token_answer(env.login_ok("mp1", env.person("sum")))["access_token"]
    n = 8 * env.workers
    a = scrape(env)
    rs = parallel(lambda i: env.session(tok), n)
    assert all(r.status == 200 for r in rs)
    b = scrape(env)
    got = b.value("wxauth_requests_total", route="session", status=200) - \
        a.value("wxauth_requests_total", route="session", status=200)
    assert got == n, "%d parallel requests, the pool's counter moved by %d" % (n, got)


def _rss_shmem_kb(pid):
    with open("/proc/%d/status" % pid, encoding="ascii") as f:
        for line in f:
            if line.startswith("RssShmem:"):
                return int(line.split()[1])
    return 0


def test_a_scrape_reads_only_the_slots_of_workers_that_ran(env):
    """Summing the pool's counters touches the slots of workers that ran,
    not the whole table (the gate pool's slots sit after all the main
    pool's possible ones): a worker that answered scrapes stays small."""
    workers = env.worker_pids() + env.gate_pids()
    for _ in range(4 * len(workers)):
        scrape(env)
    # Reading every slot of the table makes about 2 MiB more resident in
    # the workers that answered scrapes than in the others. (The other
    # shared memory, the revocation view's copy, is written by all alike.)
    seen = {p: _rss_shmem_kb(p) for p in workers}
    assert max(seen.values()) - min(seen.values()) < 1024, \
        "shared memory resident per worker (kB): %s" % seen


def test_merges_and_token_refreshes_are_counted(env):
    # A merge by unionid: the person's mp1 account first comes without a
    # unionid (a user of its own), mp2 brings the unionid (another user);
    # the next mp1 login carries it too, and the two users become one.
    person = env.person("mmerge")
    check_token_answer(env.login_ok("mp1", person, directives=("nouid",)))
    check_token_answer(env.login_ok("mp2", person))
    a = scrape(env)
    j = check_token_answer(env.login_ok("mp1", person))
    assert j["merged_from"], "the third login should have merged two users: %r" % j
    b = scrape(env)
    assert b.value("wxauth_merges_total", reason="unionid") - \
        a.value("wxauth_merges_total", reason="unionid") == 1

    # An app access_token refresh: the phone number needs one; once WeChat
    # has expired it, the next call fetches exactly one new token.
    j = check_token_answer(env.login_ok("demo", env.person("mtoken")))
    tok, appid = j["access_token"], env.appid("demo")

    def phone():
        code = lib.remember("code", "%s.%s" % (env.person("ph"), lib.nonce()))
        return env.req("POST", "/v1/phone", {"code": code}, token=tok)
    r = phone()
    if r.status == 404:
        return      # this build has no /v1/phone: merges only
    assert r.status == 200, "phone: %s" % r.describe()
    a = scrape(env)
    assert env.mock("/_mock/expire_token", {"appid": appid}).get("expired") is True
    assert phone().status == 200
    b = scrape(env)

    def d(name, **labels):
        return b.value(name, **labels) - a.value(name, **labels)
    assert d("wxauth_wechat_token_refreshes_total") == 1
    assert d("wxauth_wechat_calls_total", api="stable_token", errcode=0) == 1
    assert d("wxauth_wechat_calls_total", api="getuserphonenumber", errcode=40001) == 1
    assert d("wxauth_wechat_calls_total", api="getuserphonenumber", errcode=0) == 1


def test_wechat_and_database_latency_histograms(env):
    # A login whose jscode2session the mock answers after 300 ms lands in
    # the WeChat histogram above 0.25 s; its statements land in the
    # database histogram, each far below that.
    a = scrape(env)
    check_token_answer(env.login_ok("mp1", env.person("mslow"), directives=("slow300",)))
    b = scrape(env)

    def d(name, **labels):
        return b.value(name, **labels) - a.value(name, **labels)
    api = "jscode2session"
    assert d("wxauth_wechat_call_duration_seconds_count", api=api) == 1
    assert d("wxauth_wechat_call_duration_seconds_bucket", api=api, le="0.25") == 0
    assert d("wxauth_wechat_call_duration_seconds_bucket", api=api, le="0.5") == 1
    assert 0.3 <= d("wxauth_wechat_call_duration_seconds_sum", api=api) < 5
    n = d("wxauth_db_query_duration_seconds_count")
    assert n >= 2, "a login's statements: %s" % n
    assert d("wxauth_db_query_duration_seconds_bucket", le="0.25") == n
    assert 0 < d("wxauth_db_query_duration_seconds_sum") < 0.3 * n


def test_promtool_accepts_a_real_scrape(env):
    # Prometheus's own linter on what a scrape through nginx returns.
    text = env.req("GET", "/metrics").text
    p = subprocess.run(["promtool", "check", "metrics"], input=text, capture_output=True,
                       text=True, timeout=60)
    assert p.returncode == 0 and not p.stdout.strip() and not p.stderr.strip(), \
        "promtool check metrics: rc %d: %s%s" % (p.returncode, p.stdout, p.stderr)
    assert "wxauth_wechat_call_duration_seconds_bucket" in text
    assert "wxauth_db_query_duration_seconds_bucket" in text


ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")
MONITORING = os.path.join(ROOT, "deploy", "monitoring")
RULES = os.path.join(MONITORING, "wxauth-alerts.yml")
DASHBOARD = os.path.join(MONITORING, "wxauth-dashboard.json")


def _promtool(*args, cwd=None):
    p = subprocess.run(["promtool"] + list(args), capture_output=True, text=True,
                       timeout=120, cwd=cwd)
    assert p.returncode == 0, "promtool %s: rc %d: %s%s" % (
        " ".join(args), p.returncode, p.stdout, p.stderr)
    return p.stdout


def _metric_names(expr):
    """The wxauth_* series an expression reads (up{} aside)."""
    return set(re.findall(r"\bwxauth_[a-z_]+", expr))


def _known(e, name):
    """name is a family of the scrape, or a histogram's _bucket/_sum/_count."""
    if name in e.families:
        return True
    for suffix in ("_bucket", "_sum", "_count"):
        base = name[:-len(suffix)]
        if name.endswith(suffix) and e.families.get(base, {}).get("type") == "histogram":
            return True
    return False


def test_alert_rules_check_and_fire_as_their_tests_say(env):
    out = _promtool("check", "rules", RULES)
    assert "SUCCESS" in out, out
    # Each alert against series that should and should not fire it.
    out = _promtool("test", "rules", "alerts_test.yml",
                    cwd=os.path.join(ROOT, "tests", "monitoring"))
    assert "SUCCESS" in out, out
    # Every series a rule reads is one wxauth exposes.
    e = scrape(env)
    exprs = re.findall(r"^\s+expr: (\|\n(?:\s{10}.*\n)+|.*)$", open(RULES).read(), re.M)
    assert len(exprs) >= 5, exprs
    names = set().union(*(_metric_names(x) for x in exprs))
    assert names, exprs
    unknown = sorted(n for n in names if not _known(e, n))
    assert not unknown, "the alert rules read series /metrics lacks: %s" % unknown
    # The alerts the issue asks for are there.
    alerts = re.findall(r"^\s+- alert: (\w+)$", open(RULES).read(), re.M)
    for a in ("WxauthWeChatErrors", "WxauthLoginErrors", "WxauthDatabaseUnavailable",
              "WxauthWorkerCrashes", "WxauthGateSlow"):
        assert a in alerts, (a, alerts)


def test_dashboard_reads_only_what_wxauth_exposes(env):
    d = json.load(open(DASHBOARD))
    assert d["title"] and d["uid"] and d["schemaVersion"] >= 30
    panels = [p for p in d["panels"] if p["type"] != "row"]
    assert len(panels) >= 8
    ids = [p["id"] for p in d["panels"]]
    assert len(ids) == len(set(ids)), "panel ids repeat: %s" % ids
    e = scrape(env)
    seen = set()
    for p in panels:
        assert p["datasource"]["uid"] == "${datasource}", p["title"]
        assert p["targets"], p["title"]
        for t in p["targets"]:
            names = _metric_names(t["expr"])
            assert names, "%s: %s reads no wxauth series" % (p["title"], t["expr"])
            unknown = sorted(n for n in names if not _known(e, n))
            assert not unknown, "panel %r reads series /metrics lacks: %s" % (p["title"], unknown)
            seen |= names
    # Every family of the exposition has a panel.
    for fam in e.families:
        assert any(n == fam or n.startswith(fam + "_") for n in seen) or fam == "wxauth_metrics_scope", \
            "no panel shows %s" % fam
