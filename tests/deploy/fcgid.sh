#!/bin/sh
# tests/deploy/fcgid.sh - shared hosting, as README's "Shared hosting" has it:
# a real Apache with mod_fcgid and AllowOverride, deploy/shared-hosting's
# .htaccess and wxauth.fcgi in a home folder's public_html, the processes
# mod_fcgid starts running as an unprivileged user (www-data), PostgreSQL
# reached over TCP with a password from a file, the log in the home folder.
# Then the smoke suite through it, and a logout honoured by a process
# mod_fcgid starts after it.
set -u
NAME=fcgid
. "$(dirname "$0")/lib/common.sh"

APACHE=$(command -v apache2 2>/dev/null || echo /usr/sbin/apache2)
MODS=/usr/lib/apache2/modules
if [ ! -x "$APACHE" ] || [ ! -f "$MODS/mod_fcgid.so" ]; then
	bad "apache2 with mod_fcgid is not installed (make deps)"
	finish
fi
if [ "$(id -u)" != 0 ] || ! getent passwd www-data >/dev/null; then
	bad "this test runs as root, with a www-data user for Apache's children"
	finish
fi

DIR=$SCRATCH/env
env_start "$DIR" WXAUTH_WORKERS=1 || finish
json() { "$PY" -c 'import json,sys; d=json.load(open(sys.argv[1])); print(eval(sys.argv[2]))' "$DIR/env.json" "$1"; }
PGBIN=$(dirname "$(json 'd["psql"]')")
PGPORT=$(json 'd["pg"]["port"]')
as_pg() { (cd / && setpriv --reuid=postgres --regid=postgres --init-groups "$@"); }
psql_pg() { "$PGBIN/psql" -X -q -v ON_ERROR_STOP=1 -h "$DIR/sock" -p "$PGPORT" -U postgres "$@"; }

# The hosted database: TCP on 127.0.0.1, a role with a password (scram),
# as a hosting panel gives it.
PW=$("$PY" -c 'import secrets; print(secrets.token_hex(16))')
psql_pg -d wxauth -c "CREATE ROLE hoster LOGIN PASSWORD '$PW'" \
	-c "GRANT ALL ON ALL TABLES IN SCHEMA public TO hoster" \
	-c "GRANT ALL ON ALL SEQUENCES IN SCHEMA public TO hoster" >/dev/null || { bad "role hoster"; finish; }
hba=$DIR/pg/pg_hba.conf
{ echo "host wxauth hoster 127.0.0.1/32 scram-sha-256"; cat "$hba"; } >"$hba.new" && mv "$hba.new" "$hba"
chown postgres:postgres "$hba"
echo "listen_addresses = '127.0.0.1'" >>"$DIR/pg/postgresql.conf"
if ! as_pg "$PGBIN/pg_ctl" restart -D "$DIR/pg" -m fast -w -t 30 -l "$DIR/pg.log" >/dev/null 2>&1; then
	bad "PostgreSQL did not restart with TCP"
	finish
fi

# The account's home: public_html with the two files, wxauth/ beside it;
# the sample order API in public_html/api, its data in orders/.
H=$SCRATCH/home
W=$H/wxauth
PHPCGI=$(command -v php-cgi || echo /usr/bin/php-cgi)
mkdir -p "$H/public_html" "$W/bin" "$H/public_html/api" "$H/orders"
cp deploy/orders/orders.php deploy/orders/store.php "$H/public_html/api/"
cp deploy/orders/follow.php deploy/orders/store.php "$H/orders/"
sed -e "s|/home/shop/public_html/wxauth.fcgi|$H/public_html/wxauth.fcgi|" \
	-e "s|/home/shop/orders/|$H/orders/|" deploy/shared-hosting/htaccess-api \
	>"$H/public_html/api/.htaccess"
cp deploy/shared-hosting/htaccess "$H/public_html/.htaccess"
cp deploy/shared-hosting/wxauth.fcgi "$H/public_html/wxauth.fcgi"
cp "$BIN" "$W/bin/wxauth"
cp -r "$ROOT/db" "$W/db"
cp "$DIR/keys" "$W/token.keys"
cp "$DIR/data.key" "$W/data.key"
cp -r "$DIR/secrets" "$W/secrets"
printf '127.0.0.1:%s:wxauth:hoster:%s\n' "$PGPORT" "$PW" >"$W/pgpass"
sed -e "s|^database = .*|database = \"host=127.0.0.1 port=$PGPORT dbname=wxauth user=hoster passfile=$W/pgpass\"|" \
	-e "s|^listen = .*|listen = $W/unused.sock|" \
	-e "s|^key_file = .*|key_file = $W/token.keys|" \
	-e "s|^data_key_file = .*|data_key_file = $W/data.key|" \
	-e "s|^log_file = .*|log_file = $W/wxauth.log|" \
	-e "/^pid_file = /d" -e "/^gate_listen = /d" \
	-e "s|^admin_key_file = .*|admin_key_file = $W/secrets/admin|" \
	-e "s|^secret_file = $DIR/secrets/|secret_file = $W/secrets/|" \
	"$DIR/wxauth.conf" >"$W/wxauth.conf"
chown -R www-data:www-data "$H"
chmod 700 "$W" "$W/secrets"
chmod 600 "$W/wxauth.conf" "$W/token.keys" "$W/data.key" "$W/pgpass" "$W/secrets"/*
chmod 755 "$H" "$H/public_html"
check "the hosted config passes check-config --connect (as www-data)" \
	setpriv --reuid=www-data --regid=www-data --init-groups \
	"$W/bin/wxauth" check-config -c "$W/wxauth.conf" --connect -d "$W/db"

A=$SCRATCH/apache
APORT=$(free_port)
mkdir -p "$A/run" "$A/logs" "$A/fcgid"
chown www-data "$A/fcgid"
cat >"$A/httpd.conf" <<CONF
# written by tests/deploy/fcgid.sh: what a shared host's Apache has
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
LoadModule mime_module $MODS/mod_mime.so
LoadModule rewrite_module $MODS/mod_rewrite.so
LoadModule fcgid_module $MODS/mod_fcgid.so
LoadModule env_module $MODS/mod_env.so
TypesConfig /etc/mime.types
FcgidIPCDir $A/fcgid
FcgidProcessTableFile $A/run/fcgid_shm
FcgidMaxProcessesPerClass 3
FcgidIOTimeout 30
DocumentRoot "$H/public_html"
<Directory "$H/public_html">
	AllowOverride FileInfo Options AuthConfig
	Require all granted
</Directory>
# The host's PHP: php-cgi through mod_fcgid, as shared hosts run it.
<Directory "$H/public_html/api">
	Options +ExecCGI
	AddHandler fcgid-script .php
	FcgidWrapper $PHPCGI .php
	SetEnv ORDERS_RUNS_FILE $H/orders/runs
</Directory>
CONF

stop_apache() {
	apache_stop "$A/httpd.conf"
	pkill -KILL -f "^$W/bin/wxauth worker" 2>/dev/null || true
}
if ! "$APACHE" -t -f "$A/httpd.conf" >"$A/logs/configtest.log" 2>&1; then
	cat "$A/logs/configtest.log"
	bad "apache2 -t rejects the shared host's config"
	finish
fi
CLEANUP=stop_apache
if ! "$APACHE" -f "$A/httpd.conf" -k start >"$A/logs/start.log" 2>&1; then
	cat "$A/logs/start.log" "$A/logs/error.log" 2>/dev/null
	bad "apache2 did not start"
	finish
fi
BASE=http://127.0.0.1:$APORT
up() { [ "$(curl -s -o /dev/null -w '%{http_code}' --max-time 5 "$BASE/healthz")" = 200 ]; }
if wait_for 20 up; then
	ok "GET /healthz through mod_fcgid"
else
	tail -n 20 "$A/logs/error.log" "$W/wxauth.log" 2>/dev/null
	bad "GET /healthz through mod_fcgid did not answer 200"
	finish
fi

smoke "$DIR/env.json" --base-url "$BASE" --scope worker --no-metrics

owners_ok() {
	pids=$(pgrep -f "^$W/bin/wxauth worker") || { echo "     no worker process"; return 1; }
	for p in $pids; do
		u=$(ps -o user= -p "$p" | tr -d ' ')
		[ "$u" = www-data ] || { echo "     pid $p runs as '$u'"; return 1; }
	done
	return 0
}
check "the workers mod_fcgid started run as www-data" owners_ok
check "their log is in the home folder" grep -q "msg=request " "$W/wxauth.log"
forbidden() { [ "$(curl -s -o /dev/null -w '%{http_code}' "$BASE$1")" = 403 ]; }
check "the .htaccess keeps /metrics and the admin API off the web" \
	sh -c "$(command -v curl) -s -o /dev/null -w '%{http_code}' $BASE/metrics | grep -q 403 &&
	$(command -v curl) -s -o /dev/null -w '%{http_code}' $BASE/v1/events | grep -q 403"

# A logout, then every worker gone: the process mod_fcgid starts for the
# next request refuses the token too (it loads the revocation view).
APPID=$(json 'd["apps"][0]["appid"]')
TOKEN=$(curl -s -X POST "$BASE/v1/login" -H 'Content-Type: application/json' \
	-d "{\"appid\":\"$APPID\",\"code\":\"fcgid.n$$\"}" | "$PY" -c 'import json,sys; print(json.load(sys.stdin).get("access_token",""))')
status() { curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $TOKEN" "$BASE/v1/session"; }
check "a login through mod_fcgid" [ "$(status)" = 200 ]
curl -s -o /dev/null -X POST -H "Authorization: Bearer $TOKEN" "$BASE/v1/logout"
before=$(pgrep -f "^$W/bin/wxauth worker" | tr '\n' ' ')
pkill -TERM -f "^$W/bin/wxauth worker" 2>/dev/null || true
gone() { ! pgrep -f "^$W/bin/wxauth worker" >/dev/null; }
wait_for 10 gone || pkill -KILL -f "^$W/bin/wxauth worker" 2>/dev/null || true
refused() { [ "$(status)" = 401 ]; }
check "a process started after the logout refuses its token" wait_for 10 refused
new_only() {
	now=$(pgrep -f "^$W/bin/wxauth worker") || return 1
	for p in $now; do
		case " $before " in *" $p "*) return 1 ;; esac
	done
	return 0
}
check "... and it is a new process (before: $before)" new_only
# The sample order API behind wxauth.fcgi as a FastCGI Authorizer
# (FcgidAccessChecker in its .htaccess), PHP as php-cgi.
ORD="--www $H/orders --db $H/orders/orders.sqlite --runs $H/orders/runs --name orders/fcgid"
out=$SCRATCH/orders.out
"$PY" tests/deploy/orders.py "$DIR/env.json" --front-url "$BASE" --api-path /api/orders.php \
	$ORD >"$out" 2>&1
sed "s/^/  /" "$out"
add_counts "$out" "orders through mod_fcgid"
# PostgreSQL down and every wxauth.fcgi process stopped: those mod_fcgid
# starts next have no whole view of ended sessions and refuse every token
# with 503, which mod_fcgid answers 401; PHP never runs.
if pg_ctl_env "$DIR" stop -m fast; then
	pkill -TERM -f "^$W/bin/wxauth worker" 2>/dev/null || true
	wait_for 10 gone || pkill -KILL -f "^$W/bin/wxauth worker" 2>/dev/null || true
	"$PY" tests/deploy/orders.py "$DIR/env.json" --front-url "$BASE" --api-path /api/orders.php \
		$ORD --not-whole 401 >"$out" 2>&1
	sed "s/^/  /" "$out"
	add_counts "$out" "orders through mod_fcgid, wxauth not sure"
	pg_ctl_env "$DIR" start || bad "PostgreSQL did not start again"
else
	bad "could not stop PostgreSQL"
fi
# wxauth that cannot start (its binary gone, every process stopped): the
# API is refused, never run.
mv "$W/bin/wxauth" "$W/bin/wxauth.away"
pkill -TERM -f "^$W/bin/wxauth worker" 2>/dev/null || true
wait_for 10 gone || pkill -KILL -f "^$W/bin/wxauth worker" 2>/dev/null || true
"$PY" tests/deploy/orders.py "$DIR/env.json" --front-url "$BASE" --api-path /api/orders.php \
	$ORD --down >"$out" 2>&1
sed "s/^/  /" "$out"
add_counts "$out" "orders through mod_fcgid, wxauth gone"
mv "$W/bin/wxauth.away" "$W/bin/wxauth"

if grep -Eq ':(error|crit|alert|emerg)\]' "$A/logs/error.log" 2>/dev/null; then
	echo "---- Apache's error log:"
	grep -E ':(error|crit|alert|emerg)\]' "$A/logs/error.log" | tail -n 20
fi
finish
