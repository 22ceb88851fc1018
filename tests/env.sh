#!/bin/sh
# tests/env.sh - a complete private wxauth environment in one folder:
# PostgreSQL cluster (unix socket only), the WeChat mock, `wxauth serve`
# and nginx in front of it.
#
#   sh tests/env.sh start DIR     (DIR relative to the repo root, or absolute)
#   sh tests/env.sh stop DIR
#
# `make run` uses DIR=run, the tests a scratch folder. Environment:
#   WXAUTH_BIN        wxauth binary (default build/wxauth)
#   WXAUTH_PORT       nginx port on 127.0.0.1 (default 8080 for run, else 18080)
#   WXAUTH_MOCK_PORT  WeChat mock port (default WXAUTH_PORT+1)
#   WXAUTH_PG_PORT    PostgreSQL port, used for its socket name only (default WXAUTH_PORT+2)
#   WXAUTH_WORKERS    wxauth workers (default 4)
#   WXAUTH_WORKER_SCHEDULING  batch or normal: worker_scheduling in the
#                     config (default: left out, so wxauth's default)
#   WXAUTH_START_TIMEOUT  seconds to wait for each service (default 15)
#   WXAUTH_LAUNCH     serve (default): the workers are `wxauth serve`'s pool;
#                     spawn-fcgi: WXAUTH_WORKERS workers started by
#                     deploy/spawn-fcgi.sh (pids in DIR/spawn-fcgi.pid)
#   WXAUTH_WECHAT_BASE_URL  WeChat's base URL in the config (default: the mock)
#   WXAUTH_NGINX_FCGI       the servers of nginx's upstream wxauth, space
#                     separated (default: each host's unix:.../wxauth.sock)
#   WXAUTH_NGINX_GATE       the servers of nginx's upstream wxauth_gate (the
#                     token check; default: each host's unix:.../gate.sock,
#                     or WXAUTH_NGINX_FCGI's when that is given)
#   WXAUTH_NGINX_KEEPALIVE  N: idle connections nginx keeps to the workers
#                     (upstream keepalive; pair it with fastcgi_keep_conn on)
#   WXAUTH_HOSTS      N (default 1): N wxauth hosts on the one PostgreSQL, each
#                     its own config, serve, sockets, metrics and log (host 1
#                     in DIR, host H in DIR/hostH), all in nginx's upstream;
#                     with N > 1 each host also gets an nginx of its own on
#                     port WXAUTH_PORT+2+H (DIR/hostH/nginx), listed in env.json
#   WXAUTH_PG_STANDBY=1  a streaming standby (pg_basebackup -R, in DIR/pg2,
#                     socket DIR/sock2) that the primary waits for on each
#                     commit (synchronous_standby_names, synchronous_commit
#                     on); wxauth gets both in a multi-host conninfo with
#                     target_session_attrs=read-write
#   WXAUTH_GATE_TCP=PORT  the gate pool on 127.0.0.1:PORT, not a Unix socket
#                     (mod_authnz_fcgi, tests/deploy/orders_apache.sh)
#   WXAUTH_NGINX_CONFD      folder whose http-*.conf and server-*.conf files
#                     nginx includes (default DIR/nginx/conf.d, empty)
#   WXAUTH_SKIP_APP=1 (for working on this script) skip keygen, migrate and
#                     serve: PostgreSQL, the mock and nginx only.
#
# start writes DIR/env.json and DIR/env.sh describing everything it started.
# Each start begins from an empty database with fresh keys and secrets.
set -eu

ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"

die() {
	echo "env.sh: $*" >&2
	exit 1
}

usage() {
	echo "usage: sh tests/env.sh start|stop DIR" >&2
	exit 2
}

[ $# -eq 2 ] || usage
CMD=$1
case $2 in
/*) DIR=$2 ;;
*) DIR=$ROOT/$2 ;;
esac
# Normalise trailing slashes; refuse names that the config and conninfo
# syntax would need quoting for.
while :; do
	case $DIR in
	?*/) DIR=${DIR%/} ;;
	*) break ;;
	esac
done
case $DIR in
*[!A-Za-z0-9_./+-]*) die "folder name must be plain (letters, digits, _ . / + -): $DIR" ;;
/) die "refusing to use / as the environment folder" ;;
esac
[ "$DIR" != "$ROOT" ] || die "refusing to use the repository root as the environment folder"

IS_ROOT=0
[ "$(id -u)" != 0 ] || IS_ROOT=1

# PostgreSQL server binaries: the newest /usr/lib/postgresql/*/bin, or PG_BIN.
find_pg_bin() {
	if [ -n "${PG_BIN:-}" ]; then
		echo "$PG_BIN"
		return
	fi
	best=
	for d in /usr/lib/postgresql/*/bin; do
		[ -x "$d/pg_ctl" ] || continue
		best=$(printf '%s\n%s\n' "$best" "$d" | sed '/^$/d' | sort -V | tail -n 1)
	done
	if [ -z "$best" ] && command -v pg_ctl >/dev/null 2>&1; then
		best=$(dirname "$(command -v pg_ctl)")
	fi
	echo "$best"
}

# Run a command as the postgres user when we are root (the server refuses
# to run as root), from DIR so that the cwd is readable by that user.
as_pg() {
	if [ "$IS_ROOT" = 1 ]; then
		(cd "$DIR" && setpriv --reuid=postgres --regid=postgres --init-groups "$@")
	else
		(cd "$DIR" && "$@")
	fi
}

# alive PID PATTERN: PID runs and its command line contains PATTERN (so a
# reused pid of some other program is never signalled).
alive() {
	running "$1" || return 1
	[ -d "/proc/$1" ] || return 0
	{ tr '\0' ' ' <"/proc/$1/cmdline"; } 2>/dev/null | grep -Eq -- "$2"
}

# running PID: PID exists and is not a zombie (for processes this script has
# just started, whose command line may not have been exec'd yet).
running() {
	[ -n "$1" ] || return 1
	kill -0 "$1" 2>/dev/null || return 1
	[ -r "/proc/$1/stat" ] || return 0
	st=$({ sed -n 's/^.*) \([A-Za-z]\).*$/\1/p' "/proc/$1/stat"; } 2>/dev/null || true)
	[ "$st" != Z ] && [ -n "$st" ]
}

read_pid() {
	if [ -f "$1" ]; then
		sed -n '1{s/[^0-9]//g;p;}' "$1" 2>/dev/null || true
	fi
}

children() {
	ps -o pid= --ppid "$1" 2>/dev/null | tr -d ' ' || true
}

# stop_pid NAME PID PATTERN [SIGNAL]: signal, wait up to 10 s, then SIGKILL
# the process and whatever children it had.
stop_pid() {
	name=$1 pid=$2 pat=$3 sig=${4:-TERM}
	alive "$pid" "$pat" || return 0
	kids=$(children "$pid")
	kill "-$sig" "$pid" 2>/dev/null || true
	i=0
	while alive "$pid" "$pat" && [ $i -lt 100 ]; do
		sleep 0.1
		i=$((i + 1))
	done
	if alive "$pid" "$pat"; then
		echo "env.sh: $name (pid $pid) did not stop in 10 s, killing it" >&2
		kill -KILL "$pid" 2>/dev/null || true
		sleep 0.2
	fi
	for k in $kids; do
		if kill -0 "$k" 2>/dev/null; then
			kill -KILL "$k" 2>/dev/null || true
		fi
	done
	return 0
}

# stop_serve HOSTDIR: the serve of one host, by its pid file or ours.
stop_serve() {
	pid=$(read_pid "$1/wxauth.pid")
	alive "$pid" "wxauth|serve" || pid=$(read_pid "$1/serve.pid")
	stop_pid "wxauth serve" "$pid" "wxauth|serve" TERM
	rm -f "$1/wxauth.sock" "$1/gate.sock" "$1/wxauth.pid" "$1/serve.pid"
}

# stop_cluster DATADIR: a PostgreSQL cluster of ours, if it runs.
stop_cluster() {
	[ -f "$1/postmaster.pid" ] || return 0
	pgbin=$(find_pg_bin)
	pmpid=$(read_pid "$1/postmaster.pid")
	alive "$pmpid" postgres || return 0
	if [ -n "$pgbin" ]; then
		as_pg "$pgbin/pg_ctl" stop -D "$1" -m fast -w -t 10 >/dev/null 2>&1 || true
	fi
	stop_pid postgres "$pmpid" postgres QUIT
}

stop_env() {
	[ -d "$DIR" ] || return 0
	# nginx first (no new requests), then wxauth, the mock, PostgreSQL.
	stop_pid nginx "$(read_pid "$DIR/nginx/nginx.pid")" nginx TERM
	for h in "$DIR"/host*; do
		[ -d "$h" ] || continue
		stop_pid nginx "$(read_pid "$h/nginx/nginx.pid")" nginx TERM
		[ "$h" = "$DIR/host1" ] || stop_serve "$h"
	done
	stop_serve "$DIR"
	# Workers started by spawn-fcgi have no master: each one is stopped.
	if [ -f "$DIR/spawn-fcgi.pid" ]; then
		for pid in $(tr -c '0-9\n' '\n' <"$DIR/spawn-fcgi.pid"); do
			stop_pid "wxauth worker" "$pid" "wxauth.* worker" TERM
		done
	fi
	stop_pid "wechat mock" "$(read_pid "$DIR/mock.pid")" wxmock TERM
	stop_cluster "$DIR/pg"
	stop_cluster "$DIR/pg2"
	rm -f "$DIR/mock.pid" "$DIR/spawn-fcgi.pid"
	return 0
}

# start_serve HOSTDIR: `wxauth serve -c HOSTDIR/wxauth.conf`, in the
# foreground of its own session, until its socket is there.
start_serve() {
	setsid "$BIN" serve -c "$1/wxauth.conf" </dev/null >"$1/wxauth.stderr" 2>&1 &
	serve_pid=$!
	echo "$serve_pid" >"$1/serve.pid"
	deadline=$(($(date +%s) + TIMEOUT))
	while [ ! -S "$1/wxauth.sock" ]; do
		running "$serve_pid" ||
			fail_start "wxauth serve exited before it opened $1/wxauth.sock" "$1/wxauth.stderr" "$1/wxauth.log"
		[ "$(date +%s)" -lt "$deadline" ] ||
			fail_start "wxauth serve did not open $1/wxauth.sock in $TIMEOUT s" "$1/wxauth.stderr" "$1/wxauth.log"
		sleep 0.1
	done
}

# start_nginx NGINXDIR PORT "FCGI SERVERS" "GATE SERVERS": tests/nginx.conf.in
# rendered into NGINXDIR, its upstreams in NGINXDIR/upstreams.conf; started,
# and waited for until /healthz answers 200 (nginx answering at all, under
# WXAUTH_SKIP_APP).
start_nginx() {
	nd=$1 nport=$2
	mkdir -p "$nd" "$CONFD"
	{
		echo "# written by tests/env.sh"
		for up in "wxauth:$3" "wxauth_gate:$4"; do
			echo "upstream ${up%%:*} {"
			for srv in ${up#*:}; do
				echo "    server $srv;"
			done
			[ -z "${WXAUTH_NGINX_KEEPALIVE:-}" ] || echo "    keepalive $WXAUTH_NGINX_KEEPALIVE;"
			echo "}"
		done
	} >"$nd/upstreams.conf"
	sed -e "s|@PREFIX@|$nd|g" \
		-e "s|@LISTEN@|127.0.0.1:$nport|g" \
		-e "s|@SNIPPETS@|$ROOT/deploy/nginx|g" \
		-e "s|@CONFD@|$CONFD|g" \
		-e "s|@DOWNSTREAM@|127.0.0.1:$MOCK_PORT|g" \
		-e "s|@USER@|$(id -un)|g" \
		"$ROOT/tests/nginx.conf.in" >"$nd/nginx.conf"
	if grep -n '@[A-Z]*@' "$nd/nginx.conf" >&2; then
		fail_start "tests/nginx.conf.in has placeholders env.sh does not fill"
	fi
	"$NGINX" -t -q -c "$nd/nginx.conf" -p "$nd/" </dev/null >"$nd/startup.log" 2>&1 ||
		fail_start "nginx rejects $nd/nginx.conf" "$nd/startup.log"
	"$NGINX" -c "$nd/nginx.conf" -p "$nd/" </dev/null >>"$nd/startup.log" 2>&1 ||
		fail_start "nginx did not start (port $nport in use?)" "$nd/startup.log" "$nd/error.log"
	deadline=$(($(date +%s) + TIMEOUT))
	while :; do
		if [ "$SKIP_APP" = 1 ]; then
			code=$(http_code "http://127.0.0.1:$nport/demo/")
			case $code in
			[1-5][0-9][0-9]) break ;;
			esac
			what="nginx did not answer GET /demo/ in $TIMEOUT s"
		else
			code=$(http_code "http://127.0.0.1:$nport/healthz")
			[ "$code" != 200 ] || break
			what="GET /healthz through nginx on $nport did not answer 200 in $TIMEOUT s (last status: ${code:-none})"
		fi
		[ "$(date +%s)" -lt "$deadline" ] ||
			fail_start "$what" "$nd/startup.log" "$nd/error.log" "$DIR/wxauth.stderr" "$DIR/wxauth.log"
		sleep 0.1
	done
}

# host_dir H: where host H keeps its config, sockets, pid files and log.
host_dir() {
	if [ "$1" = 1 ]; then echo "$DIR"; else echo "$DIR/host$1"; fi
}

# tail_log FILE: the end of a log, for failure messages.
tail_log() {
	if [ -s "$1" ]; then
		echo "---- last lines of $1:" >&2
		tail -n 25 "$1" >&2
		echo "----" >&2
	fi
}

fail_start() {
	echo "env.sh: $1" >&2
	shift
	for f in "$@"; do tail_log "$f"; done
	echo "env.sh: stopping what was started" >&2
	stop_env
	exit 1
}

hex() {
	od -An -tx1 -N"$1" /dev/urandom | tr -d ' \n'
}

http_code() {
	curl -s -o /dev/null -w '%{http_code}' --max-time 2 "$1" 2>/dev/null || true
}

# start_standby: DIR/pg2, a streaming copy of DIR/pg that the primary
# waits for on every commit: a login acknowledged is on both.
start_standby() {
	mkdir -p "$DIR/pg2" "$DIR/sock2"
	chmod 700 "$DIR/pg2"
	: >"$DIR/pg2.log"
	[ "$IS_ROOT" != 1 ] || chown postgres:postgres "$DIR/pg2" "$DIR/sock2" "$DIR/pg2.log"
	as_pg "$PG_BIN_DIR/pg_basebackup" -D "$DIR/pg2" -R -X stream -c fast \
		-h "$DIR/sock" -p "$PG_PORT" -U postgres >"$DIR/basebackup.log" 2>&1 ||
		fail_start "pg_basebackup failed" "$DIR/basebackup.log" "$DIR/pg.log"
	cat >>"$DIR/pg2/postgresql.conf" <<EOF

# tests/env.sh: the standby
unix_socket_directories = '$DIR/sock2'
cluster_name = 'standby'
EOF
	as_pg "$PG_BIN_DIR/pg_ctl" start -D "$DIR/pg2" -l "$DIR/pg2.log" -w -t "$TIMEOUT" </dev/null >/dev/null 2>&1 ||
		fail_start "the standby did not start" "$DIR/pg2.log"
	cat >>"$DIR/pg/postgresql.conf" <<EOF

# tests/env.sh: commit only once the standby has it
synchronous_standby_names = 'standby'
synchronous_commit = on
EOF
	as_pg "$PG_BIN_DIR/pg_ctl" reload -D "$DIR/pg" >/dev/null 2>&1 ||
		fail_start "could not reload the primary" "$DIR/pg.log"
	deadline=$(($(date +%s) + TIMEOUT))
	while :; do
		st=$("$PG_BIN_DIR/psql" -X -q -A -t -h "$DIR/sock" -p "$PG_PORT" -U postgres -d postgres \
			-c "SELECT sync_state FROM pg_stat_replication WHERE application_name = 'standby'" 2>/dev/null || true)
		[ "$st" != sync ] || break
		[ "$(date +%s)" -lt "$deadline" ] ||
			fail_start "the standby is not a synchronous one after $TIMEOUT s (state: ${st:-none})" "$DIR/pg2.log" "$DIR/pg.log"
		sleep 0.1
	done
}

start_env() {
	BIN=${WXAUTH_BIN:-build/wxauth}
	case $BIN in
	/*) ;;
	*) BIN=$ROOT/$BIN ;;
	esac
	if [ "$DIR" = "$ROOT/run" ]; then
		PORT=${WXAUTH_PORT:-8080}
	else
		PORT=${WXAUTH_PORT:-18080}
	fi
	MOCK_PORT=${WXAUTH_MOCK_PORT:-$((PORT + 1))}
	PG_PORT=${WXAUTH_PG_PORT:-$((PORT + 2))}
	WORKERS=${WXAUTH_WORKERS:-4}
	LAUNCH=${WXAUTH_LAUNCH:-serve}
	WECHAT_URL=${WXAUTH_WECHAT_BASE_URL:-http://127.0.0.1:$MOCK_PORT}
	HOSTS=${WXAUTH_HOSTS:-1}
	STANDBY=${WXAUTH_PG_STANDBY:-0}
	case $HOSTS in
	[1-9]) ;;
	*) die "WXAUTH_HOSTS must be 1 to 9, not $HOSTS" ;;
	esac
	[ "$HOSTS" = 1 ] || [ "$LAUNCH" = serve ] || die "WXAUTH_HOSTS > 1 needs WXAUTH_LAUNCH=serve"
	NGINX_FCGI=${WXAUTH_NGINX_FCGI:-}
	NGINX_GATE=
	h=1
	while [ "$h" -le "$HOSTS" ]; do
		[ -n "${WXAUTH_NGINX_FCGI:-}" ] || NGINX_FCGI="$NGINX_FCGI unix:$(host_dir $h)/wxauth.sock"
		NGINX_GATE="$NGINX_GATE unix:$(host_dir $h)/gate.sock"
		h=$((h + 1))
	done
	# The gate pool's socket: serve's own; spawn-fcgi runs no gate pool, so
	# the token check goes to the one socket there.
	if [ "$LAUNCH" != serve ] || [ -n "${WXAUTH_NGINX_FCGI:-}" ]; then
		NGINX_GATE=$NGINX_FCGI
	fi
	[ -z "${WXAUTH_NGINX_GATE:-}" ] || NGINX_GATE=$WXAUTH_NGINX_GATE
	# WXAUTH_GATE_TCP=PORT: the gate pool on 127.0.0.1:PORT instead (what
	# mod_authnz_fcgi needs: it speaks TCP only). One host.
	GATE_TCP=${WXAUTH_GATE_TCP:-}
	if [ -n "$GATE_TCP" ]; then
		[ "$HOSTS" = 1 ] || die "WXAUTH_GATE_TCP needs WXAUTH_HOSTS=1"
		NGINX_GATE=127.0.0.1:$GATE_TCP
	fi
	CONFD=${WXAUTH_NGINX_CONFD:-$DIR/nginx/conf.d}
	TIMEOUT=${WXAUTH_START_TIMEOUT:-15}
	SKIP_APP=${WXAUTH_SKIP_APP:-0}
	MOCK_SCRIPT=$ROOT/tests/mock/wxmock.py
	PY=/usr/bin/python3

	PG_BIN_DIR=$(find_pg_bin)
	if [ -z "$PG_BIN_DIR" ] || [ ! -x "$PG_BIN_DIR/initdb" ]; then
		die "PostgreSQL server binaries not found (/usr/lib/postgresql/*/bin); run make deps"
	fi
	NGINX=$(command -v nginx 2>/dev/null || true)
	[ -n "$NGINX" ] || [ ! -x /usr/sbin/nginx ] || NGINX=/usr/sbin/nginx
	[ -n "$NGINX" ] || die "nginx not found; run make deps"
	command -v curl >/dev/null 2>&1 || die "curl not found; run make deps"
	[ -x "$PY" ] || die "$PY not found"
	[ -f "$MOCK_SCRIPT" ] || die "WeChat mock $MOCK_SCRIPT not found"
	if [ "$SKIP_APP" != 1 ]; then
		[ -x "$BIN" ] || die "wxauth binary $BIN not found: build it first (make)"
	fi
	# The longest unix socket path must fit in sun_path (108 bytes).
	[ ${#DIR} -le 80 ] || die "folder path too long for unix sockets (max 80 characters): $DIR"

	# A previous environment in DIR: stop it and drop its state.
	stop_env
	mkdir -p "$DIR"
	chmod 755 "$DIR"
	rm -rf "$DIR/pg" "$DIR/sock" "$DIR/pg2" "$DIR/sock2" "$DIR"/host[1-9] \
		"$DIR/secrets" "$DIR/nginx" "$DIR/keys" "$DIR/data.key" \
		"$DIR/apps.json" "$DIR/wxauth.conf" "$DIR/env.json" "$DIR/env.sh" \
		"$DIR/pg.log" "$DIR/mock.log" "$DIR/wxauth.log" "$DIR/wxauth.stderr" \
		"$DIR/keygen.log" "$DIR/migrate.log" "$DIR/initdb.log" "$DIR/createdb.log" "$DIR/integ.out"

	# (b) PostgreSQL: private cluster, trust auth, unix socket in DIR/sock.
	mkdir -p "$DIR/pg" "$DIR/sock"
	: >"$DIR/pg.log"
	chmod 700 "$DIR/pg"
	if [ "$IS_ROOT" = 1 ]; then
		chown postgres:postgres "$DIR/pg" "$DIR/sock" "$DIR/pg.log"
		setpriv --reuid=postgres --regid=postgres --init-groups test -x "$DIR/." ||
			die "user postgres cannot reach $DIR: make every parent folder world-searchable (chmod o+x)"
	fi
	as_pg "$PG_BIN_DIR/initdb" -D "$DIR/pg" -A trust -U postgres -E UTF8 --locale=C --no-sync \
		>"$DIR/initdb.log" 2>&1 || fail_start "initdb failed" "$DIR/initdb.log"
	cat >>"$DIR/pg/postgresql.conf" <<EOF

# tests/env.sh: private test cluster, unix socket only
listen_addresses = ''
port = $PG_PORT
unix_socket_directories = '$DIR/sock'
max_connections = 200
fsync = off
synchronous_commit = off
full_page_writes = off
EOF
	as_pg "$PG_BIN_DIR/pg_ctl" start -D "$DIR/pg" -l "$DIR/pg.log" -w -t "$TIMEOUT" </dev/null >/dev/null 2>&1 ||
		fail_start "PostgreSQL did not start" "$DIR/pg.log"
	"$PG_BIN_DIR/psql" -X -q -h "$DIR/sock" -p "$PG_PORT" -U postgres -d postgres \
		-c 'CREATE DATABASE wxauth' >/dev/null 2>"$DIR/createdb.log" ||
		fail_start "could not create database wxauth" "$DIR/createdb.log" "$DIR/pg.log"
	DATABASE="host=$DIR/sock port=$PG_PORT dbname=wxauth user=postgres"
	if [ "$STANDBY" = 1 ]; then
		start_standby
		DATABASE="host=$DIR/sock,$DIR/sock2 port=$PG_PORT,$PG_PORT dbname=wxauth user=postgres target_session_attrs=read-write"
	fi

	# (c) apps and secrets
	mkdir -p "$DIR/secrets"
	chmod 700 "$DIR/secrets"
	APPS="mp1:wx1111111111111111:miniprogram
mp2:wx2222222222222222:miniprogram
oa:wx3333333333333333:official_account
web:wx4444444444444444:website
app:wx5555555555555555:mobile
demo:wx4f4bc4dec97d474b:miniprogram"
	apps_json="["
	sep=""
	old_umask=$(umask)
	umask 077
	for line in $APPS; do
		name=${line%%:*}
		rest=${line#*:}
		appid=${rest%%:*}
		type=${rest#*:}
		secret=$(hex 16)
		printf '%s' "$secret" >"$DIR/secrets/$name"
		apps_json="$apps_json$sep{\"name\": \"$name\", \"appid\": \"$appid\", \"secret\": \"$secret\", \"type\": \"$type\"}"
		sep=", "
	done
	apps_json="$apps_json]"
	ADMIN_KEY=$(hex 32)
	printf '%s' "$ADMIN_KEY" >"$DIR/secrets/admin"
	printf '%s\n' "$apps_json" >"$DIR/apps.json"
	umask "$old_umask"
	chmod 600 "$DIR"/secrets/* "$DIR/apps.json"

	# (d) keys
	if [ "$SKIP_APP" != 1 ]; then
		"$BIN" keygen "$DIR/keys" >"$DIR/keygen.log" 2>&1 ||
			fail_start "wxauth keygen $DIR/keys failed" "$DIR/keygen.log"
		# A v4.public signing key too, announced (it signs nothing while
		# token_format = local): v4.public tokens are tested in this env.
		"$BIN" keygen --public --announce "$DIR/keys" >>"$DIR/keygen.log" 2>&1 ||
			fail_start "wxauth keygen --public --announce $DIR/keys failed" "$DIR/keygen.log"
		"$BIN" keygen "$DIR/data.key" >>"$DIR/keygen.log" 2>&1 ||
			fail_start "wxauth keygen $DIR/data.key failed" "$DIR/keygen.log"
	fi

	# (e) configuration
	{
		echo "# written by tests/env.sh; regenerated on every start"
		echo "listen = $DIR/wxauth.sock"
		echo "workers = $WORKERS"
		[ -z "${WXAUTH_WORKER_SCHEDULING:-}" ] ||
			echo "worker_scheduling = $WXAUTH_WORKER_SCHEDULING"
		echo "database = \"$DATABASE\""
		echo "key_file = $DIR/keys"
		echo "data_key_file = $DIR/data.key"
		echo "admin_key_file = $DIR/secrets/admin"
		echo "issuer = wxauth-test"
		echo "wechat_base_url = $WECHAT_URL"
		# The web login: WeChat's authorize pages are the mock's, and the
		# browser reaches us at nginx's address.
		echo "wechat_open_url = http://127.0.0.1:$MOCK_PORT"
		echo "public_url = http://127.0.0.1:$PORT"
		# The PC scan login's confirmation page of the mini-programs.
		echo "scan_page = pages/scan/scan"
		echo "wechat_timeout_ms = 3000"
		echo "wechat_connect_timeout_ms = 1000"
		# Short replay windows, so that the tests can wait them out.
		echo "login_replay_window = 2"
		echo "refresh_reuse_grace = 2"
		# Workers do not prune on their own here (test_pool.py turns it on
		# for its test); `wxauth prune` is tested by itself.
		echo "prune_interval = 0"
		if [ -n "$GATE_TCP" ]; then
			echo "gate_listen = 127.0.0.1:$GATE_TCP"
		else
			echo "gate_listen = $DIR/gate.sock"
		fi
		echo "gate_workers = 2"
		# WeChat's official open-data vector (tests/vectors) carries a 2016
		# watermark: 20 years lets it decrypt end to end; "too old" is tested
		# with blobs older than that.
		echo "watermark_max_age = 630720000"
		echo "log_file = $DIR/wxauth.log"
		echo "pid_file = $DIR/wxauth.pid"
		for line in $APPS; do
			name=${line%%:*}
			rest=${line#*:}
			echo ""
			echo "[app $name]"
			echo "appid = ${rest%%:*}"
			echo "type = ${rest#*:}"
			echo "secret_file = $DIR/secrets/$name"
			case ${rest#*:} in
			official_account|website)
				echo "redirect_uris = http://127.0.0.1:$PORT/echo/after-login https://shop.example/after?x=1" ;;
			esac
		done
	} >"$DIR/wxauth.conf"
	chmod 600 "$DIR/wxauth.conf"

	# (f) the WeChat mock (also the sample downstream API under /echo/)
	setsid "$PY" "$MOCK_SCRIPT" --port "$MOCK_PORT" --apps "$DIR/apps.json" \
		</dev/null >"$DIR/mock.log" 2>&1 &
	echo $! >"$DIR/mock.pid"
	mock_pid=$!
	deadline=$(($(date +%s) + TIMEOUT))
	while :; do
		if grep -q "wxmock listening on" "$DIR/mock.log" 2>/dev/null ||
			[ "$(http_code "http://127.0.0.1:$MOCK_PORT/_mock/stats")" = 200 ]; then
			break
		fi
		running "$mock_pid" || fail_start "the WeChat mock exited (port $MOCK_PORT in use?)" "$DIR/mock.log"
		[ "$(date +%s)" -lt "$deadline" ] || fail_start "the WeChat mock did not come up in $TIMEOUT s" "$DIR/mock.log"
		sleep 0.1
	done

	if [ "$SKIP_APP" != 1 ]; then
		# (g) schema
		"$BIN" migrate -c "$DIR/wxauth.conf" -d "$ROOT/db" >"$DIR/migrate.log" 2>&1 ||
			fail_start "wxauth migrate failed" "$DIR/migrate.log" "$DIR/pg.log"

		case $LAUNCH in
		serve)
			# (h) wxauth serve of each host: host H's config is host 1's
			# with its own sockets, log and pid file.
			h=1
			while [ "$h" -le "$HOSTS" ]; do
				hd=$(host_dir "$h")
				if [ "$h" != 1 ]; then
					mkdir -p "$hd"
					sed -e "s|^listen = .*|listen = $hd/wxauth.sock|" \
						-e "s|^gate_listen = .*|gate_listen = $hd/gate.sock|" \
						-e "s|^log_file = .*|log_file = $hd/wxauth.log|" \
						-e "s|^pid_file = .*|pid_file = $hd/wxauth.pid|" \
						"$DIR/wxauth.conf" >"$hd/wxauth.conf"
					chmod 600 "$hd/wxauth.conf"
				fi
				start_serve "$hd"
				h=$((h + 1))
			done
			;;
		spawn-fcgi)
			# (h) the same workers without a master: the recipe in deploy/,
			# as the user running the tests (root may not give itself -u).
			command -v spawn-fcgi >/dev/null 2>&1 || die "spawn-fcgi not found; run make deps"
			WXAUTH_SOCKET=$DIR/wxauth.sock WXAUTH_USER= WXAUTH_GROUP= \
				WXAUTH_WORKERS=$WORKERS WXAUTH_CONFIG=$DIR/wxauth.conf \
				WXAUTH_BIN=$BIN WXAUTH_PID_FILE=$DIR/spawn-fcgi.pid \
				sh "$ROOT/deploy/spawn-fcgi.sh" </dev/null >"$DIR/wxauth.stderr" 2>&1 ||
				fail_start "spawn-fcgi failed" "$DIR/wxauth.stderr" "$DIR/wxauth.log"
			[ -S "$DIR/wxauth.sock" ] || fail_start "spawn-fcgi made no socket" "$DIR/wxauth.stderr"
			;;
		*)
			die "WXAUTH_LAUNCH must be serve or spawn-fcgi, not $LAUNCH"
			;;
		esac
	fi

	# (i) nginx: in front of every host; with several, one more per host
	start_nginx "$DIR/nginx" "$PORT" "$NGINX_FCGI" "$NGINX_GATE"
	HOSTS_JSON=
	if [ "$HOSTS" -gt 1 ]; then
		h=1
		while [ "$h" -le "$HOSTS" ]; do
			hd=$(host_dir "$h")
			mkdir -p "$DIR/host$h"
			start_nginx "$DIR/host$h/nginx" "$((PORT + 2 + h))" "unix:$hd/wxauth.sock" "unix:$hd/gate.sock"
			HOSTS_JSON="$HOSTS_JSON host$h:$((PORT + 2 + h)):$hd"
			h=$((h + 1))
		done
	fi

	# (j) what the tests need to know
	case $BIN in
	*/build-asan/*) TOKMINT=$ROOT/build-asan/tests/tokmint ;;
	*) TOKMINT=$ROOT/build/tests/tokmint ;;
	esac
	ENV_DIR=$DIR ENV_PORT=$PORT ENV_MOCK_PORT=$MOCK_PORT ENV_PG_PORT=$PG_PORT \
		ENV_PSQL=$PG_BIN_DIR/psql ENV_BIN=$BIN ENV_WORKERS=$WORKERS \
		ENV_ADMIN_KEY=$ADMIN_KEY ENV_TOKMINT=$TOKMINT ENV_APPS=$apps_json \
		ENV_LAUNCH=$LAUNCH ENV_HOSTS=$HOSTS_JSON ENV_STANDBY=$STANDBY \
		ENV_PG_BIN=$PG_BIN_DIR \
		"$PY" - <<'EOF' || fail_start "could not write env.json"
import json, os, shlex
e = os.environ
d = e["ENV_DIR"]
env = {
    "dir": d,
    "base_url": "http://127.0.0.1:%s" % e["ENV_PORT"],
    "mock_url": "http://127.0.0.1:%s" % e["ENV_MOCK_PORT"],
    "pg": {"host": d + "/sock", "port": int(e["ENV_PG_PORT"]),
           "user": "postgres", "dbname": "wxauth"},
    "psql": e["ENV_PSQL"],
    "conf": d + "/wxauth.conf",
    "key_file": d + "/keys",
    "data_key_file": d + "/data.key",
    "wxauth_bin": e["ENV_BIN"],
    "serve_pid_file": d + "/wxauth.pid",
    "launch": e["ENV_LAUNCH"],
    "spawn_pid_file": d + "/spawn-fcgi.pid",
    "log_file": d + "/wxauth.log",
    "fcgi_socket": d + "/wxauth.sock",
    "gate_socket": d + "/gate.sock",
    "workers": int(e["ENV_WORKERS"]),
    "admin_key": e["ENV_ADMIN_KEY"],
    "apps": json.loads(e["ENV_APPS"]),
    "tokmint": e["ENV_TOKMINT"],
    "pg_bin": e["ENV_PG_BIN"],
    "pg_data": d + "/pg",
}
if e["ENV_STANDBY"] == "1":
    env["pg_standby"] = {"host": d + "/sock2", "data": d + "/pg2"}
hosts = []
for h in e["ENV_HOSTS"].split():
    name, port, hd = h.split(":", 2)
    hosts.append({"name": name, "base_url": "http://127.0.0.1:%s" % port,
                  "dir": hd, "conf": hd + "/wxauth.conf", "log_file": hd + "/wxauth.log",
                  "serve_pid_file": hd + "/wxauth.pid", "fcgi_socket": hd + "/wxauth.sock",
                  "gate_socket": hd + "/gate.sock"})
if hosts:
    env["hosts"] = hosts
old = os.umask(0o077)
with open(d + "/env.json", "w") as f:
    json.dump(env, f, indent=2)
    f.write("\n")
q = shlex.quote
lines = [
    "# written by tests/env.sh; source it: . %s/env.sh" % d,
    "WXAUTH_DIR=" + q(d),
    "WXAUTH_BASE_URL=" + q(env["base_url"]),
    "WXAUTH_MOCK_URL=" + q(env["mock_url"]),
    "PGHOST=" + q(env["pg"]["host"]),
    "PGPORT=%d" % env["pg"]["port"],
    "PGUSER=postgres",
    "PGDATABASE=wxauth",
    "WXAUTH_PSQL=" + q(env["psql"]),
    "WXAUTH_CONF=" + q(env["conf"]),
    "WXAUTH_KEY_FILE=" + q(env["key_file"]),
    "WXAUTH_DATA_KEY_FILE=" + q(env["data_key_file"]),
    "WXAUTH_BIN=" + q(env["wxauth_bin"]),
    "WXAUTH_SERVE_PID_FILE=" + q(env["serve_pid_file"]),
    "WXAUTH_LOG_FILE=" + q(env["log_file"]),
    "WXAUTH_FCGI_SOCKET=" + q(env["fcgi_socket"]),
    "WXAUTH_WORKERS=%d" % env["workers"],
    "WXAUTH_ADMIN_KEY=" + q(env["admin_key"]),
    "WXAUTH_TOKMINT=" + q(env["tokmint"]),
]
for a in env["apps"]:
    n = a["name"].upper()
    lines.append("WXAUTH_APP_%s_APPID=%s" % (n, q(a["appid"])))
    lines.append("WXAUTH_APP_%s_SECRET=%s" % (n, q(a["secret"])))
    lines.append("WXAUTH_APP_%s_TYPE=%s" % (n, q(a["type"])))
lines.append("export WXAUTH_DIR WXAUTH_BASE_URL WXAUTH_MOCK_URL PGHOST PGPORT PGUSER PGDATABASE")
with open(d + "/env.sh", "w") as f:
    f.write("\n".join(lines) + "\n")
os.umask(old)
EOF

	# (k) how to use it
	if [ "$DIR" = "$ROOT/run" ]; then
		URL=http://127.0.0.1:$PORT
		cat <<EOF

wxauth is running at $URL (WeChat mock at http://127.0.0.1:$MOCK_PORT, files in run/)

  # log in as "alice" (a mock code is NAME.ANYTHING, each usable once: alice.2 next time)
  curl -s -X POST $URL/v1/login -H 'Content-Type: application/json' \\
       -d '{"appid":"wx1111111111111111","code":"alice.1"}'
  # copy "access_token" from the answer:
  TOKEN=v4.local.....
  curl -s $URL/v1/session -H "Authorization: Bearer \$TOKEN"
  curl -s $URL/demo/hello -H "Authorization: Bearer \$TOKEN"   # an API behind auth_request
  curl -s -X POST $URL/v1/logout -H "Authorization: Bearer \$TOKEN"

  logs: run/wxauth.log run/wxauth.stderr run/nginx/error.log run/nginx/access.log run/mock.log
  database: $PG_BIN_DIR/psql -h $DIR/sock -p $PG_PORT -U postgres wxauth
  make stop   stops everything (the next make run starts from an empty database)
EOF
	fi
	return 0
}

case $CMD in
start) start_env ;;
stop) stop_env ;;
*) usage ;;
esac
