#!/bin/sh
# tests/deploy/browser.sh - the PC scan login's page (deploy/scan/) and the
# operators' console (deploy/console/) served by nginx as README's recipes
# have them, in headless Chromium, with a test playing the phone
# (tests/browser/scan_page.py, tests/browser/console_page.py). The screenshots of every
# state are kept in build/screens/ (WXAUTH_SCREENS moves them).
set -u
NAME=browser
. "$(dirname "$0")/lib/common.sh"

if [ ! -x /usr/bin/chromium ] || [ ! -x /usr/bin/chromedriver ] ||
	! "$PY" -c 'import selenium' 2>/dev/null; then
	bad "chromium, chromium-driver and python3-selenium are not installed (make deps)"
	finish
fi
DIR=$SCRATCH/env
env_start "$DIR" WXAUTH_WORKERS=2 || finish
json() { "$PY" -c 'import json,sys; d=json.load(open(sys.argv[1])); print(eval(sys.argv[2]))' "$DIR/env.json" "$1"; }
BASE=$(json 'd["base_url"]')
WWW=$SCRATCH/www/scan
CON=$SCRATCH/www/console
mkdir -p "$WWW" "$CON"
cp deploy/scan/* "$WWW/"
cp deploy/console/* "$CON/"
chmod -R a+rX "$SCRATCH/www"
ND=$DIR/nginx
cat >"$ND/conf.d/server-pc.conf" <<CONF
# README "Log in on a PC": the page, beside wxauth's /v1/.
location /pc/ {
    alias $WWW/;
    include /etc/nginx/mime.types;
    add_header Content-Security-Policy "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'" always;
    add_header X-Content-Type-Options nosniff always;
}
# README "The console": the pages, behind the admin allow-list.
location /console/ {
    allow 127.0.0.1;
    deny all;
    alias $CON/;
    include /etc/nginx/mime.types;
    add_header Content-Security-Policy "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'" always;
    add_header X-Content-Type-Options nosniff always;
}
CONF
if nginx -t -q -c "$ND/nginx.conf" -p "$ND/" 2>"$SCRATCH/nginx-t.log" &&
	nginx -s reload -c "$ND/nginx.conf" -p "$ND/" 2>>"$SCRATCH/nginx-t.log"; then
	ok "nginx serves the page (deploy/scan) beside /v1/"
else
	cat "$SCRATCH/nginx-t.log"
	bad "nginx rejects the page's location"
	finish
fi
sleep 1
SCREENS=${WXAUTH_SCREENS:-$ROOT/build/screens}
out=$SCRATCH/browser.out
timeout 300 "$PY" tests/browser/scan_page.py "$DIR/env.json" "$BASE/pc/" "$SCREENS" >"$out" 2>&1
sed "s/^/  /" "$out"
add_counts "$out" "the scan page in Chromium"
timeout 300 "$PY" tests/browser/console_page.py "$DIR/env.json" "$BASE/console/" "$SCREENS" \
	>"$out" 2>&1
sed "s/^/  /" "$out"
add_counts "$out" "the console in Chromium"
finish
