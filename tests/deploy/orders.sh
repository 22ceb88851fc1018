#!/bin/sh
# tests/deploy/orders.sh - the sample order API (deploy/orders/) behind
# nginx and php-fpm, as README's "Your own APIs" has it: Debian's php-fpm
# with a pool of its own (www-data), nginx's location with
# deploy/nginx/wxauth-php.conf, the orders' SQLite file outside the served
# folder. tests/deploy/orders.py checks it (identity, refusals that never
# run the script, smuggled headers, the events feed, PostgreSQL stopped);
# then wxauth is stopped and the API must refuse, never run.
set -u
NAME=orders
. "$(dirname "$0")/lib/common.sh"

if ! ls /usr/sbin/php-fpm* >/dev/null 2>&1 || ! command -v php >/dev/null; then
	bad "php-fpm and php-cli are not installed (make deps)"
	finish
fi
DIR=$SCRATCH/env
env_start "$DIR" WXAUTH_WORKERS=2 || finish
json() { "$PY" -c 'import json,sys; d=json.load(open(sys.argv[1])); print(eval(sys.argv[2]))' "$DIR/env.json" "$1"; }
BASE=$(json 'd["base_url"]')

# What a shop deploys: the API's files where www-data reads them, its data
# where only www-data writes, php-fpm with a pool of its own.
P=$SCRATCH/php
stop_fpm() { orders_fpm_stop "$P"; }
CLEANUP=stop_fpm
orders_fpm "$P" "$(id -un)" || { bad "php-fpm did not start"; finish; }
ok "php-fpm started with a pool of its own"

# The recipe of README "Your own APIs", nginx: the location, as written.
ND=$DIR/nginx
cat >"$ND/conf.d/server-orders.conf" <<CONF
location = /api/orders {
    include $ROOT/deploy/nginx/wxauth-php.conf;
    fastcgi_param SCRIPT_FILENAME $WWW/orders.php;
    fastcgi_param ORDERS_DB $DATA/orders.sqlite;
    fastcgi_param ORDERS_RUNS_FILE $DATA/runs;
    fastcgi_pass unix:$FPM_SOCK;
}
CONF
if nginx -t -q -c "$ND/nginx.conf" -p "$ND/" >"$P/nginx-t.log" 2>&1 &&
	nginx -s reload -c "$ND/nginx.conf" -p "$ND/" >>"$P/nginx-t.log" 2>&1; then
	ok "nginx takes the API's location with snippets/wxauth-php.conf"
else
	cat "$P/nginx-t.log"
	bad "nginx rejects the API's location"
	finish
fi
sleep 1

ORD="--www $WWW --db $DATA/orders.sqlite --runs $DATA/runs --name orders/nginx"
out=$SCRATCH/orders.out
"$PY" tests/deploy/orders.py "$DIR/env.json" --front-url "$BASE" $ORD --pg-stop >"$out" 2>&1
sed "s/^/  /" "$out"
add_counts "$out" "orders through nginx"

# wxauth restarted while PostgreSQL is down: its workers cannot know which
# sessions ended and refuse every token with 503, which nginx keeps (not
# the 500 auth_request makes of it by itself); the script never runs.
if pg_ctl_env "$DIR" stop -m fast && serve_restart "$DIR"; then
	"$PY" tests/deploy/orders.py "$DIR/env.json" --front-url "$BASE" $ORD --not-whole 503 \
		>"$out" 2>&1
	sed "s/^/  /" "$out"
	add_counts "$out" "orders through nginx, wxauth not sure"
else
	bad "could not stop PostgreSQL and restart wxauth"
fi
pg_ctl_env "$DIR" start || bad "PostgreSQL did not start again"

# wxauth gone (its processes stopped, the socket left behind): the API is
# refused by nginx, and the script never runs.
kill "$(cat "$(json 'd["serve_pid_file"]')")" 2>/dev/null
gone() { ! kill -0 "$(cat "$(json 'd["serve_pid_file"]')" 2>/dev/null)" 2>/dev/null; }
wait_for 15 gone || bad "wxauth serve did not stop"
"$PY" tests/deploy/orders.py "$DIR/env.json" --front-url "$BASE" $ORD --down >"$out" 2>&1
sed "s/^/  /" "$out"
add_counts "$out" "orders through nginx, wxauth down"
if [ -s "$P/php-errors.log" ]; then
	echo "---- PHP's error log:"
	tail -n 20 "$P/php-errors.log"
fi
finish
