#!/bin/sh
# tests/deploy/spawn_fcgi.sh - wxauth workers started by spawn-fcgi
# (deploy/spawn-fcgi.sh) instead of `wxauth serve`, behind the same nginx:
# the smoke suite (login, session, userinfo, refresh, logout, metrics), the
# socket's mode, and a graceful stop of masterless workers.
set -u
NAME=spawn_fcgi
. "$(dirname "$0")/lib/common.sh"

DIR=$SCRATCH/env
WORKERS=3
env_start "$DIR" WXAUTH_LAUNCH=spawn-fcgi WXAUTH_WORKERS=$WORKERS || finish

pids=$(tr -c '0-9\n' '\n' <"$DIR/spawn-fcgi.pid" | sed '/^$/d')
n=0
for p in $pids; do
	n=$((n + 1))
done
check "spawn-fcgi started $WORKERS workers" [ "$n" -eq "$WORKERS" ]
all_workers() {
	for p in $pids; do
		tr '\0' ' ' <"/proc/$p/cmdline" 2>/dev/null | grep -q " worker -c $DIR/wxauth.conf" || return 1
	done
	return 0
}
check "each is a 'wxauth worker' on the inherited socket" all_workers
check "the socket has mode 0660" [ "$(stat -c %a "$DIR/wxauth.sock")" = 660 ]

# Each worker counts for itself: the scope says so.
smoke "$DIR/env.json" --scope worker

# A token, before the outage below.
BASE=$("$PY" -c 'import json,sys; print(json.load(open(sys.argv[1]))["base_url"])' "$DIR/env.json")
APPID=$("$PY" -c 'import json,sys; print(json.load(open(sys.argv[1]))["apps"][0]["appid"])' "$DIR/env.json")
TOKEN=$(curl -s -X POST "$BASE/v1/login" -H 'Content-Type: application/json' \
	-d "{\"appid\":\"$APPID\",\"code\":\"sfcgi.n$$\"}" |
	"$PY" -c 'import json,sys; print(json.load(sys.stdin).get("access_token",""))')
check "a login through the spawn-fcgi workers" [ -n "$TOKEN" ]

# SIGTERM to every worker: each finishes and leaves (no master to wait for).
for p in $pids; do
	kill -TERM "$p" 2>/dev/null || true
done
none_left() {
	for p in $pids; do
		kill -0 "$p" 2>/dev/null && return 1
	done
	return 0
}
check "SIGTERM stops every worker within 5 s" wait_for 5 none_left

# Fail closed without a master: a worker spawned while PostgreSQL is down
# has no revocation view and nobody to hand it one, so it answers 503 for
# every token, never 200; once the database is back, it loads and answers.
PGBIN=$(dirname "$("$PY" -c 'import json,sys; print(json.load(open(sys.argv[1]))["psql"])' "$DIR/env.json")")
as_pg() {
	if [ "$(id -u)" = 0 ]; then
		(cd / && setpriv --reuid=postgres --regid=postgres --init-groups "$@")
	else
		"$@"
	fi
}
as_pg "$PGBIN/pg_ctl" stop -D "$DIR/pg" -m fast -w >/dev/null 2>&1
WXAUTH_SOCKET=$DIR/wxauth.sock WXAUTH_USER= WXAUTH_GROUP= WXAUTH_WORKERS=1 \
	WXAUTH_CONFIG=$DIR/wxauth.conf WXAUTH_BIN=$BIN \
	WXAUTH_PID_FILE=$DIR/spawn-fcgi.pid sh "$ROOT/deploy/spawn-fcgi.sh" >/dev/null 2>&1
pids=$(tr -c '0-9\n' '\n' <"$DIR/spawn-fcgi.pid" | sed '/^$/d')
status() {
	curl -s -o /dev/null -w '%{http_code}' --max-time 10 "$BASE/v1/session" \
		-H "Authorization: Bearer $TOKEN"
}
check "a worker spawned during an outage answers 503 for a valid token" [ "$(status)" = 503 ]
as_pg "$PGBIN/pg_ctl" start -D "$DIR/pg" -l "$DIR/pg.log" -w >/dev/null 2>&1
answers_200() {
	[ "$(status)" = 200 ]
}
check "the same worker answers 200 once PostgreSQL is back" wait_for 10 answers_200
for p in $pids; do
	kill -TERM "$p" 2>/dev/null || true
done
finish
