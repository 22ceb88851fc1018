#!/bin/sh
# tests/deploy/orders_apache.sh - the sample order API (deploy/orders/) behind
# a real Apache 2.4 with mod_authnz_fcgi: wxauth answers as a FastCGI
# Authorizer from its gate pool on loopback TCP, the API runs under php-fpm
# through mod_proxy_fcgi, with deploy/apache-wxauth.conf and
# deploy/apache-wxauth-api.conf as shipped. tests/deploy/orders.py checks it;
# then wxauth is stopped and the API must refuse, never run.
set -u
NAME=orders_apache
. "$(dirname "$0")/lib/common.sh"

APACHE=$(command -v apache2 2>/dev/null || echo /usr/sbin/apache2)
MODS=/usr/lib/apache2/modules
if [ ! -x "$APACHE" ] || [ ! -f "$MODS/mod_authnz_fcgi.so" ] || ! ls /usr/sbin/php-fpm* >/dev/null 2>&1; then
	bad "apache2 with mod_authnz_fcgi and php-fpm are not installed (make deps)"
	finish
fi
GATE=$(free_port)
DIR=$SCRATCH/env
env_start "$DIR" WXAUTH_WORKERS=2 WXAUTH_GATE_TCP="$GATE" || finish
chgrp www-data "$DIR/wxauth.sock"
json() { "$PY" -c 'import json,sys; d=json.load(open(sys.argv[1])); print(eval(sys.argv[2]))' "$DIR/env.json" "$1"; }

P=$SCRATCH/php
A=$SCRATCH/apache
stop_all() {
	apache_stop "$A/httpd.conf"
	orders_fpm_stop "$P"
}
CLEANUP=stop_all
orders_fpm "$P" www-data || { bad "php-fpm did not start"; finish; }

APORT=$(free_port)
mkdir -p "$A/run" "$A/logs"
cat >"$A/httpd.conf" <<CONF
# written by tests/deploy/orders_apache.sh
ServerRoot "$A"
DefaultRuntimeDir "$A/run"
PidFile "$A/run/httpd.pid"
ErrorLog "$A/logs/error.log"
LogLevel warn
ServerName localhost
Listen 127.0.0.1:$APORT
User www-data
Group www-data
LoadModule mpm_event_module $MODS/mod_mpm_event.so
LoadModule authz_core_module $MODS/mod_authz_core.so
LoadModule authz_host_module $MODS/mod_authz_host.so
LoadModule authz_user_module $MODS/mod_authz_user.so
LoadModule authn_core_module $MODS/mod_authn_core.so
LoadModule authnz_fcgi_module $MODS/mod_authnz_fcgi.so
LoadModule alias_module $MODS/mod_alias.so
LoadModule dir_module $MODS/mod_dir.so
LoadModule env_module $MODS/mod_env.so
LoadModule proxy_module $MODS/mod_proxy.so
LoadModule proxy_fcgi_module $MODS/mod_proxy_fcgi.so
LoadModule setenvif_module $MODS/mod_setenvif.so
LoadModule headers_module $MODS/mod_headers.so
StartServers 1
ServerLimit 2
ThreadsPerChild 16
Define APACHE_LOG_DIR $A/logs
Define WXAUTH_SOCKET $DIR/wxauth.sock
Define WXAUTH_GATE_SOCKET $DIR/wxauth.sock
Define WXAUTH_PORT $APORT
Define WXAUTH_AUTHORIZER fcgi://127.0.0.1:$GATE/
Define ORDERS_FPM unix:$FPM_SOCK|fcgi://localhost
Define ORDERS_DIR $WWW
Define ORDERS_DB $DATA/orders.sqlite
Include $ROOT/deploy/apache-wxauth.conf
Include $ROOT/deploy/apache-wxauth-api.conf
<Location "/api/orders">
    SetEnv ORDERS_RUNS_FILE $DATA/runs
</Location>
CONF
if ! "$APACHE" -t -f "$A/httpd.conf" >"$A/logs/configtest.log" 2>&1; then
	cat "$A/logs/configtest.log"
	bad "apache2 -t rejects deploy/apache-wxauth-api.conf"
	finish
fi
ok "apache2 -t accepts deploy/apache-wxauth-api.conf"
if ! "$APACHE" -f "$A/httpd.conf" -k start >"$A/logs/start.log" 2>&1; then
	cat "$A/logs/start.log" "$A/logs/error.log" 2>/dev/null
	bad "apache2 did not start"
	finish
fi
up() { [ "$(curl -s -o /dev/null -w '%{http_code}' --max-time 2 "http://127.0.0.1:$APORT/healthz")" = 200 ]; }
wait_for 15 up || { tail -n 20 "$A/logs/error.log"; bad "Apache did not answer"; finish; }

ORD="--www $WWW --db $DATA/orders.sqlite --runs $DATA/runs --name orders/apache"
out=$SCRATCH/orders.out
"$PY" tests/deploy/orders.py "$DIR/env.json" --front-url "http://127.0.0.1:$APORT" $ORD \
	--pg-stop >"$out" 2>&1
sed "s/^/  /" "$out"
add_counts "$out" "orders through Apache"

# wxauth restarted while PostgreSQL is down: its workers refuse every token
# with 503 (they cannot know which sessions ended); mod_authnz_fcgi hands
# that answer to the client, and PHP never runs.
gate_up() { [ "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$APORT/api/orders")" = 401 ]; }
if pg_ctl_env "$DIR" stop -m fast && serve_restart "$DIR" && wait_for 15 gate_up; then
	"$PY" tests/deploy/orders.py "$DIR/env.json" --front-url "http://127.0.0.1:$APORT" $ORD \
		--not-whole 503 >"$out" 2>&1
	sed "s/^/  /" "$out"
	add_counts "$out" "orders through Apache, wxauth not sure"
else
	bad "could not stop PostgreSQL and restart wxauth"
fi
pg_ctl_env "$DIR" start || bad "PostgreSQL did not start again"

kill "$(cat "$(json 'd["serve_pid_file"]')")" 2>/dev/null
gone() { ! kill -0 "$(cat "$(json 'd["serve_pid_file"]')" 2>/dev/null)" 2>/dev/null; }
wait_for 15 gone || bad "wxauth serve did not stop"
"$PY" tests/deploy/orders.py "$DIR/env.json" --front-url "http://127.0.0.1:$APORT" $ORD \
	--down >"$out" 2>&1
sed "s/^/  /" "$out"
add_counts "$out" "orders through Apache, wxauth down"
if grep -Eq ':(error|crit|alert|emerg)\]' "$A/logs/error.log" 2>/dev/null; then
	echo "---- Apache's error log:"
	grep -E ':(error|crit|alert|emerg)\]' "$A/logs/error.log" | tail -n 20
fi
finish
