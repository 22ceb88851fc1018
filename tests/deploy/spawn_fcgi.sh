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
finish
