#!/bin/sh
# tests/bench/run.sh - `make bench`: wrk through one nginx, one run, the same
# wrk settings for every row:
#
#   (a) nginx      nginx's own `return 200`
#   (b) hello      tests/bench/hello.c, a libfcgi responder answering a fixed
#                  JSON, as many workers as wxauth, behind the same nginx:
#                  the FastCGI transport's ceiling
#   (c) session    GET /v1/session with a valid token
#   (c') session_public  the same with a v4.public token of that session
#                  (signed by the environment's k4.secret key with
#                  tests/tools/tokmint: Ed25519 once, then the workers'
#                  cache of verified tokens)
#   (g) gate       GET /bench/gate, an order API (nginx's static answer,
#                  proxied over kept connections as README recommends)
#                  behind auth_request with a valid token: the gate pool,
#                  with WXAUTH_BENCH_GATE_CONNECTIONS (4) connections: its
#                  latency, not its ceiling
#   (g') gate_during_login  (g) while a second wrk runs (d) beside it with
#                  the login row's connections: the token check under a
#                  login load that takes every CPU
#                  (for both, a line after the tables gives the token
#                  check's own time inside each request: nginx's time for
#                  the auth subrequest, from an access log of /bench/gate)
#   (d) login      POST /v1/login, a new code per request, against a static
#                  jscode2session served by the same nginx (never the
#                  bottleneck), with PostgreSQL durable as users run it
#                  (its defaults: fsync, synchronous_commit and
#                  full_page_writes on, wal_compression off), from a
#                  checkpoint; then what one login wrote: WAL bytes,
#                  records and full-page images (pg_stat_wal), commits,
#                  rows, index entries and row locks (pg_waldump --stats)
#   (d') login_fast  the same with fsync, synchronous_commit and
#                  full_page_writes off (the test environment's settings)
#   (d'') login_returning  (d) by one of the preloaded people at random
#                  (a new code each time): the account found and updated,
#                  not made, as most of a shop's logins are (with
#                  preloaded users only)
#   (e) userinfo   GET /v1/userinfo with a valid token ("n/a" without it):
#                  one person's profile again and again, as a client that
#                  reads it on every screen does (the workers' cache)
#   (f) userinfo_many  the same with the tokens of 2,000 people in turn
#                  (logged in first): most reads miss the cache and go to
#                  PostgreSQL
#
# then a table (requests/s, p50, p99, errors, ratio to (b)), the CPU time a
# request costs wxauth, PostgreSQL, nginx and hello (from /proc: what bounds
# a row, and the rate the machine's CPUs would allow) and the context
# switches it costs wxauth's and PostgreSQL's processes (about two for
# each round trip between a worker and its backend), each worker's
# resident memory after the run, and the targets met or not.
#
# Data sizes: the rows run on a database preloaded with the first size of
# WXAUTH_BENCH_USERS (default "10000 1000000"; "0" for none) of users with
# an account and a live session each, one user in 50 with a merged user
# behind it (INSERT ... SELECT from generate_series, 100,000 rows a
# statement, then VACUUM ANALYZE); then the preload grows to each further size and
# hello, login and userinfo_many run again, and a second table compares them
# (hello, which never reads the data, as the control: what the machine
# alone did to a rate meanwhile).
#
# Environment: WXAUTH_BENCH_DURATION (10s), WXAUTH_BENCH_CONNECTIONS (32),
# WXAUTH_BENCH_GATE_CONNECTIONS (4),
# WXAUTH_BENCH_THREADS (1), WXAUTH_WORKERS (4), WXAUTH_BENCH_KEEP_CONN
# (off, as deploy/nginx/wxauth.conf ships; on: each nginx worker process keeps
# connections to the workers open, fastcgi_keep_conn on; WXAUTH_BENCH_KEEPALIVE sets how many,
# default WORKERS), WXAUTH_BENCH_ROWS (which rows, e.g.
# "hello session"; default all), WXAUTH_BENCH_ROUNDS (1: run the rows that
# many times over, in turn, and keep each row's best round: on a shared
# machine the others' load only ever lowers a figure), WXAUTH_PORT (nginx's port; default a free
# one), WXAUTH_WORKER_SCHEDULING (batch, wxauth's default, or normal: the
# workers' worker_scheduling), WXAUTH_BENCH_SAME_PERSON=1 (every login is the same person instead
# of a new one), WXAUTH_KEEP_SCRATCH=1 keeps the scratch folder.
set -u

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
cd "$ROOT" || exit 1
PY=/usr/bin/python3
DUR=${WXAUTH_BENCH_DURATION:-10s}
CONNS=${WXAUTH_BENCH_CONNECTIONS:-32}
THREADS=${WXAUTH_BENCH_THREADS:-1}
WORKERS=${WXAUTH_WORKERS:-4}
KEEP=${WXAUTH_BENCH_KEEP_CONN:-off}
# Idle connections each nginx worker process keeps per upstream (keep-alive
# only): more in total than there are FastCGI workers pins them all.
KEEPALIVE=${WXAUTH_BENCH_KEEPALIVE:-$WORKERS}
ROWS=${WXAUTH_BENCH_ROWS:-nginx hello session session_public gate login login_fast login_returning gate_during_login logout_all link_merge userinfo userinfo_many}
ROUNDS=${WXAUTH_BENCH_ROUNDS:-1}
SIZES=${WXAUTH_BENCH_USERS:-10000 1000000}
BIN=$ROOT/build/wxauth
HELLO=$ROOT/build/tests/bench_fcgi
WRK_ARGS="-t$THREADS -c$CONNS -d$DUR --latency"
# The gate rows measure an order API's latency, not the gate's ceiling:
# a few connections, alone and beside the login row's full load.
GATE_CONNS=${WXAUTH_BENCH_GATE_CONNECTIONS:-4}

die() {
	echo "bench: $*" >&2
	exit 1
}

for t in wrk spawn-fcgi curl; do
	command -v "$t" >/dev/null 2>&1 || die "$t not found: run make deps"
done
[ -x "$BIN" ] && [ -x "$HELLO" ] || die "build first: make all build/tests/bench_fcgi"

free_port() {
	"$PY" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# A port pair for nginx and the (unused) mock, like tests/run.sh.
if [ -z "${WXAUTH_PORT:-}" ]; then
	WXAUTH_PORT=$("$PY" - <<'EOF'
import random, socket
start = random.randrange(300)
for i in range(300):
    base = 30000 + 20 * ((start + i) % 300)
    ok = True
    for p in (base, base + 1):
        s = socket.socket()
        try:
            s.bind(("127.0.0.1", p))
        except OSError:
            ok = False
        finally:
            s.close()
    if ok:
        print(base)
        break
EOF
	)
fi
PORT=$WXAUTH_PORT
STATIC=$(free_port)
URL=http://127.0.0.1:$PORT

SCRATCH=$(mktemp -d /tmp/wxauth-bench.XXXXXX) || die "no scratch folder"
chmod 755 "$SCRATCH"
DIR=$SCRATCH/env
CONFD=$SCRATCH/confd
HELLO_SOCK=$SCRATCH/hello.sock
HELLO_PIDS=$SCRATCH/hello.pid

cleanup() {
	sh tests/env.sh stop "$DIR" >/dev/null 2>&1 || true
	if [ -f "$HELLO_PIDS" ]; then
		for p in $(tr -c '0-9\n' '\n' <"$HELLO_PIDS"); do
			kill "$p" 2>/dev/null || true
		done
	fi
	if [ "${WXAUTH_KEEP_SCRATCH:-0}" = 1 ]; then
		echo "bench: scratch folder kept: $SCRATCH"
	else
		rm -rf "$SCRATCH"
	fi
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# Who logs in: a new person per login (default), or with
# WXAUTH_BENCH_SAME_PERSON=1 one person over and over (every login then
# updates the same account and user rows).
if [ "${WXAUTH_BENCH_SAME_PERSON:-0}" = 1 ]; then
	WHO=obench0000000000000000000000
else
	WHO='o$request_id'
fi

# nginx additions: the static WeChat, the two reference locations and, with
# keep-alive, the upstreams that keep connections to the workers.
mkdir -p "$CONFD"
{
	echo "# tests/bench/run.sh: a static jscode2session, as WeChat sends it (text/plain)."
	echo "# Every login gets an openid of its own (nginx's \$request_id): each is a"
	echo "# new person, so no two logins wait on the same rows."
	echo "# A code PERSONxN (letters and digits) names PERSON, with no unionid: the"
	echo "# link row's codes, each a new code of a person who has logged in before."
	echo "map \$arg_js_code \$bench_answer {"
	echo "    \"~^(?<p>[a-z0-9]+)x[0-9]+\$\" '{\"session_key\":\"c2Vzc2lvbmtleTEyMzQ1Ng==\",\"openid\":\"o\$p\"}';"
	echo "    default '{\"session_key\":\"c2Vzc2lvbmtleTEyMzQ1Ng==\",\"openid\":\"$WHO\",\"unionid\":\"u$WHO\"}';"
	echo "}"
	echo "server {"
	echo "    listen 127.0.0.1:$STATIC;"
	echo "    access_log off;"
	echo "    location = /sns/jscode2session {"
	echo "        default_type text/plain;"
	echo "        return 200 \$bench_answer;"
	echo "    }"
	echo "    # The order API behind the gate, for the gate rows."
	echo "    location = /bench/ok {"
	echo "        default_type application/json;"
	echo "        return 200 '{\"ok\":true}';"
	echo "    }"
	echo "    location / { return 404; }"
	echo "}"
	# Its upstream keeps idle connections, as README recommends for an API
	# behind proxy_pass. Until 2026-12-07 each request of the gate rows
	# opened a TCP connection to it: nginx then spent 220-250 us a request
	# instead of 130 (README, Performance), and 4 connections of (g) alone
	# took the CPUs (p99 4-5 ms).
	echo "upstream bench_orders { server 127.0.0.1:$STATIC; keepalive 8; }"
	# The token check's own time in each gate request (/bench/gate's log).
	echo "log_format bench_check '\$bench_check_time';"
	if [ "$KEEP" = on ]; then
		echo "upstream hello_bench { server unix:$HELLO_SOCK; keepalive $KEEPALIVE; }"
	fi
} >"$CONFD/http-bench.conf"
# wxauth's upstreams keep connections too with keep-alive (env.sh writes
# them). The token check (GET /v1/session and auth_request) goes to the
# gate pool, as deployed: until 2026-12-07 it went to the main pool, so
# (g') measured token checks queued behind the logins for the same
# workers, which is what the gate pool is there to prevent.
FCGI=unix:$DIR/wxauth.sock
if [ "$KEEP" = on ]; then
	WXAUTH_NGINX_KEEPALIVE=$KEEPALIVE
	export WXAUTH_NGINX_KEEPALIVE
	HELLO_PASS=hello_bench
else
	HELLO_PASS=unix:$HELLO_SOCK
fi
{
	echo "# tests/bench/run.sh: the reference rows."
	[ "$KEEP" != on ] || echo "fastcgi_keep_conn on;"
	echo "location = /bench/nginx {"
	echo "    default_type application/json;"
	echo "    return 200 '{\"status\":\"ok\"}\n';"
	echo "}"
	echo "location = /bench/hello {"
	echo "    fastcgi_pass $HELLO_PASS;"
	echo "}"
	echo "# An order API behind auth_request (the gate pool), as users deploy it."
	echo "location = /bench/gate {"
	echo "    include $ROOT/deploy/nginx/wxauth-auth.conf;"
	echo "    # The token check's own time inside each request (the auth"
	echo "    # subrequest's upstream time, ms resolution), for the gate rows."
	echo "    auth_request_set \$bench_check_time \$upstream_response_time;"
	echo "    access_log $SCRATCH/gate.times bench_check;"
	echo "    proxy_pass http://bench_orders/bench/ok;"
	echo "}"
} >"$CONFD/server-bench.conf"

echo "bench: starting PostgreSQL, nginx on $URL and wxauth serve ($WORKERS workers) in $SCRATCH"
WXAUTH_PORT=$PORT WXAUTH_WORKERS=$WORKERS WXAUTH_BIN=$BIN \
	WXAUTH_WECHAT_BASE_URL=http://127.0.0.1:$STATIC WXAUTH_NGINX_CONFD=$CONFD \
	WXAUTH_NGINX_FCGI=$FCGI WXAUTH_NGINX_GATE=unix:$DIR/gate.sock \
	sh tests/env.sh start "$DIR" >"$SCRATCH/env.log" 2>&1 ||
	{ cat "$SCRATCH/env.log"; die "the environment did not start"; }
spawn-fcgi -s "$HELLO_SOCK" -M 0660 -F "$WORKERS" -P "$HELLO_PIDS" -- "$HELLO" >/dev/null ||
	die "spawn-fcgi could not start $HELLO"

# A session for the authenticated rows.
TOKEN=$(curl -s "$URL/v1/login" -H 'Content-Type: application/json' \
	-d "{\"appid\":\"wx1111111111111111\",\"code\":\"bench.setup.$$.$(date +%s)\"}" |
	"$PY" -c 'import json, sys; print(json.load(sys.stdin)["access_token"])') ||
	die "the login for a token failed (see $DIR/wxauth.log)"
[ "$(curl -s -o /dev/null -w '%{http_code}' "$URL/bench/hello")" = 200 ] || die "the hello responder does not answer"
# The same session as a v4.public token (what token_format = public issues).
PUBLIC_TOKEN=$(curl -s -H "Authorization: Bearer $TOKEN" "$URL/v1/session" | "$PY" -c '
import json, sys, time
s = json.load(sys.stdin)
iso = lambda t: time.strftime("%Y-%m-%dT%H:%M:%S+00:00", time.gmtime(t))
print(json.dumps({"iss": sys.argv[1], "sub": s["user"]["id"], "sid": s["session_id"],
                  "app": s["account"]["appid"], "oid": s["account"]["openid"],
                  "iat": iso(time.time() - 60), "exp": iso(time.time() + 7000)}))' \
	"$(sed -n 's/^issuer = //p' "$DIR/wxauth.conf")" |
	xargs -0 build/tests/tokmint --public "$DIR/keys") ||
	die "tokmint could not sign a v4.public token"
[ "$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $PUBLIC_TOKEN" "$URL/v1/session")" = 200 ] ||
	die "the v4.public token is refused"
userinfo=$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $TOKEN" "$URL/v1/userinfo")
# Tokens of MANY people, for the row that reads a different profile each
# time (each worker's cache holds 512: most of these reads miss it).
MANY=2000
TOKENS=$SCRATCH/tokens
"$PY" - "$URL" "$MANY" "$TOKENS" <<'EOF' || die "the logins for the tokens failed"
import concurrent.futures, json, os, sys, urllib.request
url, n, out = sys.argv[1], int(sys.argv[2]), sys.argv[3]
tag = os.urandom(4).hex()
def login(i):
    body = json.dumps({"appid": "wx1111111111111111", "code": "bench.many.%s.%d" % (tag, i)})
    rq = urllib.request.Request(url + "/v1/login", body.encode(),
                                {"Content-Type": "application/json"})
    return json.load(urllib.request.urlopen(rq, timeout=30))["access_token"]
with concurrent.futures.ThreadPoolExecutor(16) as ex:
    tokens = list(ex.map(login, range(n)))
with open(out, "w") as f:
    f.write("\n".join(tokens) + "\n")
EOF

# For the rows that write events (a logout of every session, a link that
# merges two users): EVENT_N sessions of new people, each ended once
# (logout_all), and EVENT_N pairs of people, each with a session of mp1
# and an account of mp2 on a user of its own, and a new code of that mp2
# account for the link that merges the two (link_merge). No unionid: two
# users with different unionids never merge.
EVENT_N=${WXAUTH_BENCH_EVENT_TOKENS:-8000}
EVENT_DUR=${WXAUTH_BENCH_EVENT_DURATION:-4s}
LOGOUTS=$SCRATCH/logouts
LINKS=$SCRATCH/links
case " $ROWS " in
*" logout_all "* | *" link_merge "*)
	echo "bench: $EVENT_N sessions for logout_all and $EVENT_N pairs of users for link_merge"
	"$PY" - "$URL" "$EVENT_N" "$LOGOUTS" "$LINKS" <<'EOF' || die "the logins for the event rows failed"
import concurrent.futures, json, os, sys, urllib.request
url, n, logouts, links = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
tag = os.urandom(4).hex()
def login(appid, code):
    body = json.dumps({"appid": appid, "code": code})
    rq = urllib.request.Request(url + "/v1/login", body.encode(),
                                {"Content-Type": "application/json"})
    return json.load(urllib.request.urlopen(rq, timeout=30))["access_token"]
def one(i):
    out = login("wx1111111111111111", "bench.out.%s.%d" % (tag, i))
    a = login("wx1111111111111111", "la%s%dx1" % (tag, i))
    login("wx2222222222222222", "lb%s%dx1" % (tag, i))
    return out, "%s lb%s%dx2" % (a, tag, i)
with concurrent.futures.ThreadPoolExecutor(16) as ex:
    got = list(ex.map(one, range(n)))
with open(logouts, "w") as f:
    f.write("\n".join(g[0] for g in got) + "\n")
with open(links, "w") as f:
    f.write("\n".join(g[1] for g in got) + "\n")
EOF
	;;
esac

# The environment's PostgreSQL (env.sh writes where it is).
. "$DIR/env.sh"
sql() {
	"$WXAUTH_PSQL" -X -q -A -t -v ON_ERROR_STOP=1 "$@"
}
# preload N: users pre1..preN (each with an account of mp1, unionid, and a
# session; every 50th with a merged user behind it), batch by batch, from
# the number already there; then ANALYZE, as a loader would.
preload() {
	have=$(sql -c "SELECT count(*) FROM users WHERE unionid LIKE 'upre%'")
	t0=$(date +%s)
	while [ "$have" -lt "$1" ]; do
		to=$((have + 100000))
		[ "$to" -le "$1" ] || to=$1
		sql -v a="$((have + 1))" -v b="$to" >/dev/null <<'SQL' || die "preload failed"
-- Data of the past, as a loader writes it: no trigger fires (a merge of 40
-- days ago is no news to the workers' view, whose window is a day).
SET session_replication_role = replica;
WITH u AS (
	INSERT INTO users (unionid, nickname, created_at)
	SELECT 'upre' || g, 'pre' || g, now() - interval '60 days'
	FROM generate_series(:a, :b) g RETURNING id, unionid),
a AS (
	INSERT INTO accounts (appid, openid, user_id, unionid, first_login, last_login)
	SELECT 'wx1111111111111111', 'opre' || substr(unionid, 5), id, unionid,
		now() - interval '60 days', now() - interval '1 day'
	FROM u RETURNING id, user_id)
INSERT INTO sessions (user_id, account_id, refresh_hash, expires_at, created_at)
SELECT user_id, id, sha256(convert_to('pre' || id, 'UTF8')),
	now() + interval '29 days', now() - interval '1 day'
FROM a;
WITH s AS (
	SELECT id FROM users
	WHERE unionid IN (SELECT 'upre' || g FROM generate_series(:a, :b) g WHERE g % 50 = 0)),
l AS (
	INSERT INTO users (merged_into, created_at)
	SELECT id, now() - interval '61 days' FROM s RETURNING id, merged_into)
INSERT INTO merges (from_user, into_user, reason, at)
SELECT id, merged_into, 'unionid', now() - interval '40 days' FROM l;
SQL
		have=$to
	done
	# VACUUM as well: left to autovacuum, the new rows' first vacuum runs
	# during the next rows and slows every program on the machine.
	sql -c "VACUUM (ANALYZE)" >/dev/null || die "VACUUM ANALYZE failed"
	echo "bench: preloaded $1 users in $(($(date +%s) - t0)) s"
}

RESULTS=$SCRATCH/results
: >"$RESULTS"
# cpu: the CPU time (user + system, clock ticks) used so far by wxauth's
# serve and workers, PostgreSQL's processes, nginx's and the hello
# workers, as "wxauth=N postgres=N nginx=N hello=N". Taken before and after
# each row, it gives what a request costs each of them, and what bounds a
# row. (The machine's other load moves it too, through caches and clock
# speed, but less than it moves requests/s.)
ticks() {
	for p in "$@"; do
		[ -r "/proc/$p/stat" ] && sed 's/.*) //' "/proc/$p/stat" 2>/dev/null
	done | awk '{ t += $12 + $13 } END { print t + 0 }'
}
family() {
	[ -n "$1" ] && echo "$1" && ps -o pid= --ppid "$1"
}
# switches: the context switches (voluntary and not) of those processes so
# far: what each round trip between a worker and PostgreSQL costs both
# sides, counted (unlike CPU time, the machine's other load moves it little).
switches() {
	for p in "$@"; do
		cat "/proc/$p/status" 2>/dev/null
	done | awk '/ctxt_switches/ { t += $2 } END { print t + 0 }'
}
cpu() {
	echo "wxauth=$(ticks $(family "$(cat "$DIR/wxauth.pid")"))" \
		"swwxauth=$(switches $(family "$(cat "$DIR/wxauth.pid")"))" \
		"swpostgres=$(switches $(family "$(head -n 1 "$DIR/pg/postmaster.pid")"))" \
		"postgres=$(ticks $(family "$(head -n 1 "$DIR/pg/postmaster.pid")"))" \
		"nginx=$(ticks $(family "$(cat "$DIR/nginx/nginx.pid")"))" \
		"hello=$(ticks $(tr -c '0-9\n' ' ' <"$HELLO_PIDS"))"
}
# cache: the userinfo answers the workers' caches gave and did not give so
# far (wxauth_userinfo_cache_total), as "hit=N miss=N".
cache() {
	curl -s "$URL/metrics" | awk -F'[" ]' '/^wxauth_userinfo_cache_total/ { v[$2] = $NF }
	    END { printf "hit=%d miss=%d\n", v["hit"], v["miss"] }'
}
# PostgreSQL's durability. on: its defaults, as users run it (fsync,
# synchronous_commit and full_page_writes on, wal_compression off); off:
# the test settings env.sh starts with (no flush waited for, no full-page
# images), for the preload and the login_fast row.
durability() {
	for g in fsync synchronous_commit full_page_writes; do
		sql -c "ALTER SYSTEM SET $g = $1" || return 1
	done
	sql -c "ALTER SYSTEM SET wal_compression = off" -c "SELECT pg_reload_conf()" >/dev/null || return 1
	# Each backend reads the new settings at its next command.
	sleep 1
	echo "bench: PostgreSQL durability $1 ($(sql -c "SELECT string_agg(name || '=' || setting, ' ' ORDER BY name)
	    FROM pg_settings WHERE name IN ('fsync', 'synchronous_commit', 'full_page_writes', 'wal_compression')"))"
}
# wal: what PostgreSQL has written so far: "lsn=L wal_records=N wal_fpi=N
# wal_bytes=N commits=N". pg_stat_wal and pg_stat_database hold what each
# backend reports when it goes idle, at most 10 s late: the caller waits.
wal() {
	sql -F ' ' -c "SELECT 'lsn=' || pg_current_wal_insert_lsn(), 'wal_records=' || wal_records,
	    'wal_fpi=' || wal_fpi, 'wal_bytes=' || wal_bytes, 'wal_sync=' || wal_sync,
	    'commits=' || (SELECT xact_commit FROM pg_stat_database WHERE datname = current_database())
	    FROM pg_stat_wal"
}
# waldump NAME LSN0 LSN1: what the WAL between the two holds, by record
# type (pg_waldump --stats=record), for the table of what a login writes.
waldump() {
	"$(dirname "$WXAUTH_PSQL")/pg_waldump" --stats=record -p "$DIR/pg/pg_wal" -s "$2" -e "$3" \
	    >"$SCRATCH/$1.waldump" 2>&1 || { cat "$SCRATCH/$1.waldump"; echo "bench: pg_waldump failed" >&2; }
}
# row NAME MODE PATH: one wrk run; its BENCH line goes to RESULTS. Login
# rows start on a checkpoint (the first change of each page after it
# writes the whole page: the WAL of a login then counts them as it would
# early in each checkpoint_timeout of a real server) and also record
# the WAL and the commits of the row.
row() {
	case " $ROWS " in
	*" ${1%@*} "*) ;;
	*) return 0 ;;
	esac
	case $1 in
	login* | logout_all* | link_merge*)
		sql -c CHECKPOINT >/dev/null
		sleep 11
		wal0="$(wal) events=$(sql -c "SELECT count(*) FROM events")"
		;;
	*) wal0= ;;
	esac
	before=$(cpu)
	cache0=$(cache)
	arg=$TOKEN
	[ "$2" != many ] || arg=$TOKENS
	[ "${1%@*}" != session_public ] || arg=$PUBLIC_TOKEN
	[ "$2" != logout_all ] || arg=$LOGOUTS
	[ "$2" != link ] || arg=$LINKS
	[ "$2" != login_again ] || arg=$FIRST
	# The gate while logins run beside it (as many connections).
	if [ "${1%@*}" = gate_during_login ]; then
		# shellcheck disable=SC2086
		wrk $WRK_ARGS -s tests/bench/wrk.lua "$URL/v1/login" -- login >"$SCRATCH/$1.login.wrk" 2>&1 &
		sleep 0.5
	fi
	args=$WRK_ARGS
	case ${1%@*} in
	gate*) args="-t1 -c$GATE_CONNS -d$DUR --latency" ;;
	logout_all* | link_merge*) args="-t1 -c$CONNS -d$EVENT_DUR --latency" ;;
	esac
	echo "bench: $1: wrk $args $URL$3 ($2)"
	# What PostgreSQL's busy backends wait for, ten times a second (one
	# psql, \watch), for the rows that write.
	sampler=
	if [ -n "$wal0" ]; then
		printf '%s\n' "SELECT 'WAIT ' || coalesce(wait_event_type || ':' || wait_event, 'CPU')
		    FROM pg_stat_activity WHERE datname = current_database()
		    AND state = 'active' AND pid <> pg_backend_pid();" '\watch 0.1' |
		    "$WXAUTH_PSQL" -X -q -A -t >"$SCRATCH/$1.waits" 2>/dev/null &
		sampler=$!
	fi
	checks0=$(cat "$SCRATCH/gate.times" 2>/dev/null | wc -l)
	# shellcheck disable=SC2086
	wrk $args -s tests/bench/wrk.lua "$URL$3" -- "$2" "$arg" >"$SCRATCH/$1.wrk" 2>&1
	[ -z "$sampler" ] || kill "$sampler" 2>/dev/null
	wait
	case ${1%@*} in
	gate*) tail -n +$((checks0 + 1)) "$SCRATCH/gate.times" >"$SCRATCH/$1.checks" 2>/dev/null ;;
	esac
	line=$(grep '^BENCH ' "$SCRATCH/$1.wrk")
	if [ -z "$line" ]; then
		cat "$SCRATCH/$1.wrk"
		line="BENCH failed"
	else
		line="$line $(echo "$before" | sed 's/\([a-z]*\)=/cpu0_\1=/g') $(cpu)"
		line="$line $(echo "$cache0" | sed 's/\([a-z]*\)=/cache0_\1=/g') $(cache)"
		if [ -n "$wal0" ]; then
			sleep 11
			wal1="$(wal) events=$(sql -c "SELECT count(*) FROM events") tokens=$EVENT_N"
			line="$line $(echo "$wal0" | sed 's/\([a-z_]*\)=/w0_\1=/g') $wal1"
			waldump "$1" "$(echo "$wal0" | sed 's/^lsn=\([^ ]*\).*/\1/')" \
			    "$(echo "$wal1" | sed 's/^lsn=\([^ ]*\).*/\1/')"
		fi
	fi
	echo "$1 $line" >>"$RESULTS"
	sleep 1
}
set -- $SIZES
FIRST=${1:-0}
[ "$FIRST" = 0 ] || preload "$FIRST"
durability on || die "could not set PostgreSQL's durability"
round=0
while [ "$round" -lt "$ROUNDS" ]; do
	round=$((round + 1))
	[ "$ROUNDS" = 1 ] || echo "bench: round $round of $ROUNDS"
	row nginx get /bench/nginx
	row hello get /bench/hello
	row session auth /v1/session
	row session_public auth /v1/session
	row gate auth /bench/gate
	row login login /v1/login
	case " $ROWS " in
	*" login_fast "*)
		durability off || die "could not set PostgreSQL's durability"
		row login_fast login /v1/login
		durability on || die "could not set PostgreSQL's durability"
		;;
	esac
	[ "$FIRST" = 0 ] || row login_returning login_again /v1/login
	row gate_during_login auth /bench/gate
	if [ "$userinfo" = 200 ]; then
		row userinfo auth /v1/userinfo
		row userinfo_many many /v1/userinfo
	elif [ "$round" = 1 ]; then
		echo "userinfo n/a" >>"$RESULTS"
	fi
done

# The further sizes: login and userinfo again, on more data.
shift
for n in "$@"; do
	durability off || die "could not set PostgreSQL's durability"
	preload "$n"
	durability on || die "could not set PostgreSQL's durability"
	round=0
	while [ "$round" -lt "$ROUNDS" ]; do
		round=$((round + 1))
		row "hello@$n" get /bench/hello
		row "login@$n" login /v1/login
		[ "$userinfo" != 200 ] || row "userinfo_many@$n" many /v1/userinfo
	done
done

# Resident memory of each worker, after the run, and how much of it is
# memory shared by the whole pool (the metrics table a /metrics scrape
# reads, the handover copy, the userinfo generations): "KB SHARED_KB".
rss() {
	awk '/^VmRSS:/ { r = $2 } /^RssShmem:/ { s = $2 } END { print r, s + 0 }' \
	    "/proc/$1/status" 2>/dev/null
}
memory() {
	: >"$1"
	serve=$(cat "$DIR/wxauth.pid")
	for p in $(ps -o pid= --ppid "$serve"); do
		echo "wxauth $p $(rss "$p")" >>"$1"
	done
	for p in $(tr -c '0-9\n' '\n' <"$HELLO_PIDS"); do
		[ -n "$p" ] && echo "hello $p $(rss "$p")" >>"$1"
	done
}
MEM=$SCRATCH/mem
memory "$MEM"

# The rows that write events, last, on the largest data: each ends
# sessions or merges users, which every worker then holds in its view
# for a day (the longest access-token lifetime): memory again after them.
row logout_all logout_all /v1/logout
row link_merge link /v1/link
MEM2=$SCRATCH/mem2
memory "$MEM2"

echo
echo "wrk $WRK_ARGS$([ "$ROUNDS" = 1 ] || echo ", best of $ROUNDS rounds"), through nginx $(nginx -v 2>&1 | sed 's/.*\///'), $WORKERS workers" \
	"(worker_scheduling ${WXAUTH_WORKER_SCHEDULING:-batch})," \
	"fastcgi_keep_conn $KEEP$([ "$KEEP" != on ] || echo " (keepalive $KEEPALIVE)"), $(nproc) CPUs," \
	"$FIRST users preloaded"
"$PY" - "$RESULTS" "$MEM" "$FIRST" "$(getconf CLK_TCK)" "$(nproc)" "$SCRATCH" "$MEM2" <<'EOF'
import os, sys

rows = {}
all_errors = 0          # over every round, not only the best ones
for line in open(sys.argv[1]):
    name, rest = line.split(" ", 1)
    f = dict(kv.split("=", 1) for kv in rest.split()[1:] if "=" in kv) or None
    if f:
        all_errors += int(f["non2xx"]) + int(f["socket"])
    elif rest.strip() != "n/a":
        all_errors += 1     # a run that printed no result
    # With several rounds, each row's best one.
    old = rows.get(name)
    if name not in rows or (f and (not old or float(f["rps"]) > float(old["rps"]))):
        rows[name] = f
labels = [("nginx", "(a) nginx return 200"), ("hello", "(b) libfcgi hello"),
          ("session", "(c) GET /v1/session"),
          ("session_public", "(c') GET /v1/session, v4.public token"),
          ("gate", "(g) an API behind auth_request (the gate pool)"),
          ("gate_during_login", "(g') (g) while (d) runs beside it"),
          ("login", "(d) POST /v1/login, PostgreSQL durable"),
          ("login_fast", "(d') POST /v1/login, fsync, synchronous_commit, full_page_writes off"),
          ("login_returning", "(d'') POST /v1/login of a returning person, durable"),
          ("logout_all", "(h) POST /v1/logout {all: true}, each a session of its own (last, on the largest data)"),
          ("link_merge", "(i) POST /v1/link that merges two users (last, on the largest data)"),
          ("userinfo", "(e) GET /v1/userinfo"),
          ("userinfo_many", "(f) GET /v1/userinfo, 2,000 people in turn")]
# The targets of issues 10 and 28: a ratio to (b) (None: none) and a p99,
# per row.
targets = {"session": (0.9, 5), "login": (0.16, 30), "userinfo": (0.6, 10),
           "gate_during_login": (None, 5)}
base = float(rows["hello"]["rps"]) if rows.get("hello") else None
misses = []


def mark(ok):
    return "met" if ok else "MISS"


print("| row | requests/s | p50 | p99 | errors | ratio to (b) | target |")
print("|---|---:|---:|---:|---:|---:|---|")
for key, label in labels:
    f = rows.get(key)
    if key not in rows:
        continue
    if not f:
        print("| %s | n/a | | | | | |" % label)
        continue
    rps = float(f["rps"])
    p99 = int(f["p99_us"]) / 1000
    errors = int(f["non2xx"]) + int(f["socket"])
    r = rps / base if base else None
    goal = ""
    if key in targets and r is not None:
        want, p99max = targets[key]
        ok = (want is None or r >= want) and p99 < p99max
        goal = "%s: %sp99 < %d ms" % (mark(ok), "" if want is None else ">= %.2f, " % want, p99max)
        if not ok:
            misses.append(key)
    print("| %s | %.0f | %.2f ms | %.2f ms | %d | %s | %s |" % (
        label, rps, int(f["p50_us"]) / 1000, p99, errors,
        "%.2f" % r if r is not None else "-", goal))
print()

# What a request costs each program, in CPU time (from /proc, before and
# after the row; a row's best round with several).
tck, ncpu = int(sys.argv[4]), int(sys.argv[5])
progs = ("wxauth", "postgres", "nginx", "hello")
print("| row | CPU per request: wxauth | PostgreSQL | nginx | hello | total | %d CPUs / total |"
      " context switches per request: wxauth | PostgreSQL |" % ncpu)
print("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
for key in [k for k, _ in labels] + sorted(k for k in rows if "@" in k):
    f = rows.get(key)
    if not f or "cpu0_wxauth" not in f or key == "nginx":
        continue
    n = int(f["requests"])
    us = [(int(f[q]) - int(f["cpu0_" + q])) * 1e6 / tck / n for q in progs]
    total = sum(us)
    sw = ["%.1f" % ((int(f[q]) - int(f["cpu0_" + q])) / n) if q in f else "-"
          for q in ("swwxauth", "swpostgres")]
    print("| %s | %s | %.0f us | %.0f/s | %s |" % (
        key, " | ".join("%.0f us" % u for u in us), total, ncpu * 1e6 / total if total else 0,
        " | ".join(sw)))
print()

# What one login writes (issue 28): from pg_stat_wal and pg_stat_database
# (before and after the row) and from pg_waldump --stats=record over the
# row's WAL (rows, index entries, row locks and commits are its records).
def waldump(key):
    kinds = {}
    try:
        lines = open(sys.argv[6] + "/" + key + ".waldump").read().splitlines()
    except OSError:
        return kinds
    for l in lines:
        p = l.split()
        # Type N (%) size (%) full-page size (%) combined size (%)
        nums = [int(x) for x in p[1:] if x.isdigit()]
        if p and "/" in p[0] and len(nums) == 4:
            kinds[p[0]] = tuple(nums)
    return kinds


ROWS_W = ("Heap/INSERT", "Heap/INSERT+INIT", "Heap/UPDATE", "Heap/UPDATE+INIT",
          "Heap/HOT_UPDATE", "Heap/HOT_UPDATE+INIT", "Heap/DELETE", "Heap2/MULTI_INSERT",
          "Heap2/MULTI_INSERT+INIT")
INDEX_W = ("Btree/INSERT_LEAF", "Btree/INSERT_POST")
walrows = [k for k in [k for k, _ in labels] + sorted(k for k in rows if "@" in k)
           if rows.get(k) and "w0_wal_bytes" in rows[k]]
if walrows:
    print("| row, per request | WAL bytes | WAL records | full-page images | their bytes"
          " | commits (with WAL) | WAL flushes | transactions | rows written | index entries"
          " | row locks | events |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for key in walrows:
        f = rows[key]
        n = int(f["requests"])
        d = lambda q: (int(f[q]) - int(f["w0_" + q])) / n
        k = waldump(key)
        cnt = lambda names: sum(k[x][0] for x in names if x in k) / n
        fpib = sum(v[2] for v in k.values()) / n
        print("| %s | %.0f | %.1f | %.2f | %.0f | %.2f | %.2f | %.2f | %.2f | %.2f | %.2f | %.2f |" % (
            key, d("wal_bytes"), d("wal_records"), d("wal_fpi"), fpib,
            cnt(("Transaction/COMMIT",)), d("wal_sync"), d("commits"), cnt(ROWS_W), cnt(INDEX_W),
            cnt(("Heap/LOCK",)), d("events")))
    print()
    for key in ("logout_all", "link_merge"):
        f = rows.get(key)
        if f and int(f["requests"]) > int(f["tokens"]):
            print("%s: %s requests, %s sessions prepared: the rest were refused (raise"
                  " WXAUTH_BENCH_EVENT_TOKENS or lower WXAUTH_BENCH_EVENT_DURATION)" % (
                      key, f["requests"], f["tokens"]))
    # What the busy backends waited for (CPU: nothing, they ran).
    for key in walrows:
        try:
            w = [l.split(" ", 1)[1].strip() for l in open(sys.argv[6] + "/" + key + ".waits")
                 if l.startswith("WAIT ")]
        except OSError:
            continue
        if w:
            c = {}
            for x in w:
                c[x] = c.get(x, 0) + 1
            print("%s, PostgreSQL's busy backends (%d samples, every 0.1 s): %s" % (
                key, len(w), ", ".join("%s %.0f %%" % (k, 100.0 * v / len(w))
                                       for k, v in sorted(c.items(), key=lambda kv: -kv[1])[:6])))
    print()
    # Where the durable row's WAL goes, by record type.
    for key in walrows:
        k = waldump(key)
        if not k or key in ("login_fast", "logout_all", "link_merge"):
            continue
        n = int(rows[key]["requests"])
        total = sum(v[3] for v in k.values()) or 1
        top = sorted(k.items(), key=lambda kv: -kv[1][3])[:8]
        print("%s, WAL per login by record type: %s" % (key, ", ".join(
            "%s %.2f x %.0f B (full pages %.0f B)" % (t, v[0] / n, v[3] / max(v[0], 1), v[2] / n)
            for t, v in top)))
    print()

# The token check's own share of the gate rows' latency: nginx's time
# for the auth subrequest (connect, the gate pool, its answer).
for key in ("gate", "gate_during_login"):
    try:
        t = sorted(float(l.split(",")[-1]) * 1000 for l in
                   open(sys.argv[6] + "/" + key + ".checks") if l.strip()[:1].isdigit())
    except OSError:
        continue
    if t:
        q = lambda p: t[min(len(t) - 1, int(len(t) * p))]
        ms = lambda v: "< 1 ms" if v < 1 else "%.0f ms" % v
        print("%s, the token check inside each request (nginx's auth subrequest,"
              " %d requests, ms resolution): p50 %s, p99 %s, max %s" % (
                  key, len(t), ms(q(0.5)), ms(q(0.99)), ms(t[-1])))
if any(os.path.exists(sys.argv[6] + "/" + k + ".checks") for k in ("gate", "gate_during_login")):
    print()

# Data growth: login and userinfo at each further size against the first.
first = sys.argv[3]
sizes = sorted({int(k.split("@")[1]) for k in rows if "@" in k})
if sizes:
    print("| row | %s users | %s | ratio | target |" % (
        "{:,}".format(int(first)), " | ".join("%s users" % "{:,}".format(n) for n in sizes)))
    print("|---|---:|" + "---:|" * len(sizes) + "---:|---|")
    # hello is the control: what the machine alone does to a rate meanwhile.
    for key in ("hello", "login", "userinfo_many"):
        f0 = rows.get(key)
        fs = [rows.get("%s@%d" % (key, n)) for n in sizes]
        if not f0 or not all(fs):
            continue
        r = float(fs[-1]["rps"]) / float(f0["rps"])
        goal = ""
        if key != "hello":
            goal = "%s: >= 0.85" % mark(r >= 0.85)
            if r < 0.85:
                misses.append(key + " growth")
        print("| %s | %.0f | %s | %.2f | %s |" % (
            key, float(f0["rps"]), " | ".join("%.0f" % float(f["rps"]) for f in fs), r, goal))
    print()
# The workers' userinfo cache: what share of each row's reads it answered.
for key in sorted(k for k in rows if k.startswith("userinfo")):
    f = rows.get(key)
    if f and "cache0_hit" in f:
        hit = int(f["hit"]) - int(f["cache0_hit"])
        miss = int(f["miss"]) - int(f["cache0_miss"])
        if hit + miss:
            print("%s: %d of %d answers from the workers' cache (%.0f %%), %d from PostgreSQL" % (
                key, hit, hit + miss, 100.0 * hit / (hit + miss), miss))
print()
mem = [l.split() for l in open(sys.argv[2]) if len(l.split()) == 4]
for kind in ("wxauth", "hello"):
    kb = [(int(m[2]), int(m[3])) for m in mem if m[0] == kind]
    if kb:
        print("%s workers, resident memory after the main rows: %s (MiB; in brackets the part"
              " shared by the whole pool)" % (
            kind, ", ".join("%.1f (%.1f)" % (k / 1024, sh / 1024) for k, sh in kb)))
mem2 = [l.split() for l in open(sys.argv[7]) if len(l.split()) == 4]
kb2 = [(int(m[2]), int(m[3])) for m in mem2 if m[0] == "wxauth"]
if kb2 and any(k in rows for k in ("logout_all", "link_merge")):
    print("wxauth workers after the rows that end sessions and merge users (their view"
          " holds them for a day): %s" % ", ".join("%.1f (%.1f)" % (k / 1024, sh / 1024) for k, sh in kb2))
print()
print("targets:")
print("  %-4s no errors (%d)" % (mark(all_errors == 0), all_errors))
kb = [int(m[2]) for m in mem if m[0] == "wxauth"]
if kb:
    print("  %-4s each wxauth worker < 8 MiB resident (largest %.1f MiB)" % (
        mark(max(kb) < 8 * 1024), max(kb) / 1024))
# v4.public against v4.local, the same session, the same run (issue 24).
fl, fp = rows.get("session"), rows.get("session_public")
if fl and fp:
    r = float(fp["rps"]) / float(fl["rps"])
    print("  %-4s v4.public session row >= 0.85 of the v4.local one (%.2f)" % (mark(r >= 0.85), r))
    if r < 0.85:
        misses.append("session_public")
print("  rows: %s" % ("all met" if not misses else "MISS " + ", ".join(misses)))
EOF
