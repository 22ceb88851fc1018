#!/bin/sh
# tests/deploy/apache.sh - a real Apache 2.4 (Debian's apache2, event MPM)
# in front of `wxauth serve`, through deploy/apache-wxauth.conf as shipped,
# on a private port with a private configuration: the smoke suite (the
# Bearer header must reach wxauth), /metrics, the request id in Apache's log,
# the static pages and the console in Chromium (tests/browser/console_page.py).
#
# Apache starts as root and serves as www-data (it refuses to serve as root),
# so the socket gets group www-data, as in production.
set -u
NAME=apache
. "$(dirname "$0")/lib/common.sh"

APACHE=$(command -v apache2 2>/dev/null || echo /usr/sbin/apache2)
MODS=/usr/lib/apache2/modules
if [ ! -x "$APACHE" ] || [ ! -f "$MODS/mod_proxy_fcgi.so" ]; then
	bad "apache2 with mod_proxy_fcgi is not installed (make deps)"
	finish
fi
if ! getent passwd www-data >/dev/null; then
	bad "no www-data user for Apache's children"
	finish
fi

DIR=$SCRATCH/env
A=$SCRATCH/apache
env_start "$DIR" WXAUTH_WORKERS=2 || finish
chgrp www-data "$DIR/wxauth.sock" "$DIR/gate.sock"

APORT=$(free_port)
mkdir -p "$A/run" "$A/logs"
# The static pages, as installed (share/wxauth/scan, share/wxauth/console).
STATIC=$SCRATCH/static
mkdir -p "$STATIC/scan" "$STATIC/console"
cp deploy/scan/* "$STATIC/scan/"
cp deploy/console/* "$STATIC/console/"
chmod -R a+rX "$STATIC"
cat >"$A/httpd.conf" <<EOF
# written by tests/deploy/apache.sh
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
LoadModule proxy_module $MODS/mod_proxy.so
LoadModule proxy_fcgi_module $MODS/mod_proxy_fcgi.so
LoadModule setenvif_module $MODS/mod_setenvif.so
LoadModule headers_module $MODS/mod_headers.so
LoadModule reqtimeout_module $MODS/mod_reqtimeout.so
LoadModule alias_module $MODS/mod_alias.so
LoadModule dir_module $MODS/mod_dir.so
LoadModule mime_module $MODS/mod_mime.so
TypesConfig /etc/mime.types
StartServers 1
ServerLimit 2
ThreadsPerChild 16
Define APACHE_LOG_DIR $A/logs
Define WXAUTH_SOCKET $DIR/wxauth.sock
Define WXAUTH_GATE_SOCKET $DIR/gate.sock
Define WXAUTH_PORT $APORT
Define WXAUTH_STATIC $STATIC
Include $ROOT/deploy/apache-wxauth.conf
EOF

stop_apache() { apache_stop "$A/httpd.conf"; }

if ! "$APACHE" -t -f "$A/httpd.conf" >"$A/logs/configtest.log" 2>&1; then
	cat "$A/logs/configtest.log"
	bad "apache2 -t rejects deploy/apache-wxauth.conf"
	finish
fi
ok "apache2 -t accepts deploy/apache-wxauth.conf"
CLEANUP=stop_apache
if ! "$APACHE" -f "$A/httpd.conf" -k start >"$A/logs/start.log" 2>&1; then
	cat "$A/logs/start.log" "$A/logs/error.log" 2>/dev/null
	bad "apache2 did not start"
	finish
fi
up() {
	[ "$(curl -s -o /dev/null -w '%{http_code}' --max-time 2 "http://127.0.0.1:$APORT/healthz")" = 200 ]
}
if wait_for 15 up; then
	ok "GET /healthz through Apache"
else
	tail -n 20 "$A/logs/error.log" 2>/dev/null
	bad "GET /healthz through Apache did not answer 200"
	finish
fi

smoke "$DIR/env.json" --base-url "http://127.0.0.1:$APORT" --scope pool

# Slow bodies (a byte a second) on every main worker and more: the token
# check through Apache goes on, fast, and mod_reqtimeout cuts them off.
if "$PY" "$ROOT/tests/deploy/slow_bodies.py" "$DIR/env.json" "http://127.0.0.1:$APORT"; then
	ok "8 slow bodies through Apache leave the token check alone"
else
	bad "slow bodies through Apache slowed or failed the token check"
fi

# The static pages, with their policy; the console API answers 401 without
# a console session (from loopback: the allow-list lets it through).
page_ok() {
	h=$(curl -s -D - -o /dev/null "http://127.0.0.1:$APORT$1" | tr -d '\r')
	echo "$h" | grep -q "^HTTP/1.1 200" &&
		echo "$h" | grep -qi "^Content-Security-Policy: default-src 'none'; script-src 'self'" &&
		echo "$h" | grep -qi "^Content-Type: $2"
}
check "Apache serves the PC page with its policy" page_ok /pc/ text/html
check "Apache serves the console with its policy" page_ok /console/console.js "\(application\|text\)/javascript"
check "the console API through Apache wants a console session" \
	sh -c "[ \$(curl -s -o /dev/null -w '%{http_code}' http://127.0.0.1:$APORT/v1/console/session) = 401 ]"

# The console in Chromium through Apache, as browser.sh runs it through
# nginx: sign-in by scanning, search, ending sessions, disable, audit, undo.
if [ -x /usr/bin/chromium ] && [ -x /usr/bin/chromedriver ] &&
	"$PY" -c 'import selenium' 2>/dev/null; then
	out=$SCRATCH/browser.out
	timeout 300 "$PY" tests/browser/console_page.py "$DIR/env.json" \
		"http://127.0.0.1:$APORT/console/" "${WXAUTH_SCREENS:-$ROOT/build/screens}/apache" \
		>"$out" 2>&1
	sed "s/^/  /" "$out"
	add_counts "$out" "the console in Chromium through Apache"
else
	bad "chromium, chromium-driver and python3-selenium are not installed (make deps)"
fi

rid=$(curl -s -D - -o /dev/null "http://127.0.0.1:$APORT/healthz" | tr -d '\r' |
	sed -n 's/^[Xx]-[Rr]equest-[Ii]d: //p')
in_log() {
	grep -q "rid=$rid" "$A/logs/wxauth-access.log" 2>/dev/null &&
		grep -q "request_id=$rid " "$DIR/wxauth.log"
}
check "the request id is in Apache's and wxauth's logs" wait_for 3 in_log
# Errors Apache logged (a refused socket, a proxy failure) are shown, for
# whoever reads a failure above.
if grep -Eq ':(error|crit|alert|emerg)\]' "$A/logs/error.log" 2>/dev/null; then
	echo "---- Apache's error log:"
	grep -E ':(error|crit|alert|emerg)\]' "$A/logs/error.log" | tail -n 20
fi
finish
