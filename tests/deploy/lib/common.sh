# tests/deploy/lib/common.sh - sourced by the tests/deploy/*.sh scripts.
#
# Each script counts its checks with ok/bad/check, runs the smoke suite with
# smoke (whose counts are added), and ends with finish, which prints the
# "N passed, N failed" line tests/run.sh reads. Environments started with
# env_start are stopped on exit, whatever happens.
#
# From tests/run.sh: WXAUTH_SCRATCH (a folder for this script), WXAUTH_PORT
# (a free port pair; the integration environments are down by now).

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
cd "$ROOT" || exit 1
PY=/usr/bin/python3
PYTHONUNBUFFERED=1
PYTHONDONTWRITEBYTECODE=1
export PYTHONUNBUFFERED PYTHONDONTWRITEBYTECODE
PASSED=0
FAILED=0
ENVS=""
SCRATCH=${WXAUTH_SCRATCH:-}
if [ -z "$SCRATCH" ]; then
	SCRATCH=$(mktemp -d /tmp/wxauth-deploy.XXXXXX) || exit 1
	OWN_SCRATCH=1
else
	OWN_SCRATCH=0
fi
chmod 755 "$SCRATCH"
PORT=${WXAUTH_PORT:-18080}
BIN=${WXAUTH_BIN:-$ROOT/build/wxauth}

ok() {
	PASSED=$((PASSED + 1))
	echo "ok   $NAME::$1"
}

bad() {
	FAILED=$((FAILED + 1))
	echo "FAIL $NAME::$1"
}

# check DESCRIPTION CMD...: one check, passed when CMD succeeds.
check() {
	what=$1
	shift
	if "$@"; then ok "$what"; else bad "$what"; fi
}

# add_counts FILE: add the last "N passed, N failed" of FILE; none is a failure.
add_counts() {
	line=$(sed -n 's/^\([0-9][0-9]*\) passed, \([0-9][0-9]*\) failed$/\1 \2/p' "$1" | tail -n 1)
	if [ -z "$line" ]; then
		bad "$2 (no count line)"
		return
	fi
	PASSED=$((PASSED + ${line% *}))
	FAILED=$((FAILED + ${line#* }))
}

# smoke ENV_JSON [ARGS...]: the smoke suite, its counts added to ours.
smoke() {
	out=$SCRATCH/smoke.$$.out
	"$PY" tests/deploy/smoke.py "$@" >"$out" 2>&1
	sed "s/^/  /" "$out"
	add_counts "$out" smoke
}

# env_start DIR [VAR=VALUE...]: tests/env.sh start with those variables.
env_start() {
	d=$1
	shift
	ENVS="$ENVS $d"
	if ! env WXAUTH_PORT="$PORT" WXAUTH_BIN="$BIN" "$@" sh tests/env.sh start "$d"; then
		bad "environment in $d did not start"
		return 1
	fi
	return 0
}

# apache_stop CONF: stop the Apache started with -f CONF (its PidFile at
# $A/run/httpd.pid), waiting for it to go, killing it after 10 s.
apache_stop() {
	apid=$(cat "$A/run/httpd.pid" 2>/dev/null || true)
	"$APACHE" -f "$1" -k stop >/dev/null 2>&1 || true
	if [ -n "$apid" ]; then
		wait_for 10 sh -c "! kill -0 $apid 2>/dev/null" || kill -KILL "$apid" 2>/dev/null || true
	fi
}

# CLEANUP: a command each script may set, run first on exit.
CLEANUP=""

cleanup() {
	if [ -n "$CLEANUP" ]; then
		$CLEANUP || true
		CLEANUP=""
	fi
	for d in $ENVS; do
		sh tests/env.sh stop "$d" >/dev/null 2>&1 || true
	done
	ENVS=""
	if [ "$OWN_SCRATCH" = 1 ]; then
		rm -rf "$SCRATCH"
	fi
}

finish() {
	cleanup
	echo "$PASSED passed, $FAILED failed"
	[ "$FAILED" -eq 0 ]
	exit $?
}

on_exit() {
	rc=$?
	if [ -n "$ENVS" ]; then
		cleanup
		echo "$PASSED passed, $((FAILED + 1)) failed"
		[ "$rc" != 0 ] || rc=1
	fi
	exit "$rc"
}
trap on_exit EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# wait_for SECONDS CMD...: until CMD succeeds, polling every 0.1 s.
wait_for() {
	limit=$(($(date +%s) + $1))
	shift
	while ! "$@"; do
		[ "$(date +%s)" -lt "$limit" ] || return 1
		sleep 0.1
	done
	return 0
}

# free_port: a TCP port on 127.0.0.1 nobody listens on.
free_port() {
	"$PY" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# pg_ctl_env DIR ARGS...: pg_ctl of the environment in DIR, as postgres.
pg_ctl_env() {
	pd=$1
	shift
	pgbin=$(dirname "$("$PY" -c 'import json,sys; print(json.load(open(sys.argv[1]))["psql"])' "$pd/env.json")")
	(cd / && setpriv --reuid=postgres --regid=postgres --init-groups \
		"$pgbin/pg_ctl" -D "$pd/pg" -l "$pd/pg.log" -w -t 30 "$@") >/dev/null 2>&1
}

# serve_restart DIR: the environment's `wxauth serve` stopped and started
# again, as a crash restart of the service would (with PostgreSQL down, its
# new workers have no whole view of the sessions that ended).
serve_restart() {
	sd=$1
	spid=$(cat "$sd/wxauth.pid" 2>/dev/null)
	[ -n "$spid" ] && kill "$spid" 2>/dev/null
	wait_for 15 sh -c "! kill -0 ${spid:-0} 2>/dev/null" || return 1
	rm -f "$sd/wxauth.sock"
	setsid "$BIN" serve -c "$sd/wxauth.conf" </dev/null >>"$sd/wxauth.stderr" 2>&1 &
	echo $! >"$sd/serve.pid"
	wait_for 15 test -S "$sd/wxauth.sock"
}

# orders_fpm P OWNER: the sample order API (deploy/orders) as a shop deploys
# it, in P: its files in P/www/orders where www-data reads them (WWW), its
# data in P/data where only www-data writes (DATA), and Debian's php-fpm
# with one pool of its own (www-data) on P/php.sock, owned by OWNER (the
# front's user). Sets WWW, DATA, FPM_SOCK; stop it with orders_fpm_stop P.
orders_fpm() {
	fp=$1
	WWW=$fp/www/orders
	DATA=$fp/data
	FPM_SOCK=$fp/php.sock
	fpm=$(ls /usr/sbin/php-fpm* 2>/dev/null | head -n 1)
	[ -n "$fpm" ] || return 1
	mkdir -p "$WWW" "$DATA"
	cp deploy/orders/*.php "$WWW/"
	chmod 755 "$fp" "$fp/www" "$WWW"
	chmod 644 "$WWW"/*.php
	chown www-data:www-data "$DATA"
	chmod 700 "$DATA"
	cat >"$fp/php-fpm.conf" <<CONF
; written by tests/deploy: one pool, as /etc/php/*/fpm/pool.d/www.conf has it
[global]
pid = $fp/php-fpm.pid
error_log = $fp/php-fpm.log
daemonize = yes
[orders]
user = www-data
group = www-data
listen = $FPM_SOCK
listen.owner = $2
listen.mode = 0600
pm = static
pm.max_children = 2
clear_env = yes
catch_workers_output = yes
php_admin_value[error_log] = $fp/php-errors.log
CONF
	if ! "$fpm" --fpm-config "$fp/php-fpm.conf" >"$fp/start.log" 2>&1; then
		cat "$fp/start.log" "$fp/php-fpm.log" 2>/dev/null
		return 1
	fi
}

orders_fpm_stop() {
	[ -f "$1/php-fpm.pid" ] && kill "$(cat "$1/php-fpm.pid")" 2>/dev/null
	true
}
