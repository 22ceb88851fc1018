#!/bin/sh
# tests/deploy/server.sh - README "Install on a server", run as written, on
# this machine as a VPS would: the .deb of `make deb` (lintian first),
# installed with apt; a PostgreSQL cluster made by postgresql-common's
# pg_createcluster with Debian's defaults (peer authentication, port 5432);
# Debian's nginx with its /etc/nginx; then the package purged and the
# machine put back as it was.
#
# The block between README's <!-- server-install --> markers is extracted
# and run step by step in one `sh -e`; a failing command fails the test.
# Stood in for, because CI cannot reach them: systemctl (no systemd as PID
# 1: `enable --now wxauth` runs the installed unit's ExecStartPre and
# ExecStart as its User and Group with its EnvironmentFile and a clean
# environment, in its RuntimeDirectory and LogsDirectory; `reload nginx`
# signals or starts Debian's nginx), certbot (a self-signed certificate at
# certbot's paths, trusted through CURL_CA_BUNDLE), WeChat (the mock, put in
# as wechat_base_url after step 3), the DNS name (an /etc/hosts line), and
# CODE (a mock code).
#
# It needs root, and refuses to run on a machine where wxauth is installed,
# /etc/wxauth exists, or something listens on 80, 443 or 5432.
set -u
NAME=server
. "$(dirname "$0")/lib/common.sh"

DOMAIN=shop.example
APPID=wx0123456789abcdef
SECRET=0123456789abcdef0123456789abcdef
CLUSTER=wxauthci
UNIT=/lib/systemd/system/wxauth.service
LE=/etc/letsencrypt/live/$DOMAIN
MOCK_PORT=$((PORT + 1))
W=$SCRATCH/server
rm -rf "$W"
mkdir -p "$W"
chmod 755 "$W"

listening() {
	ss -Hltn "sport = :$1" | grep -q .
}

# ---- What must hold before anything is touched.
if [ "$(id -u)" != 0 ]; then
	bad "runs as root (it installs a package)"
	finish
fi
for p in 80 443 5432; do
	if listening "$p"; then
		bad "port $p is free (something listens: not a machine to install on)"
		finish
	fi
done
if dpkg -s wxauth >/dev/null 2>&1 || [ -e /etc/wxauth ] || [ -e "$LE" ]; then
	bad "no wxauth installed, no /etc/wxauth, no $LE"
	finish
fi

# ---- Put back what the test changed, whatever happened.
HOSTS_SAVED=$W/hosts
cp /etc/hosts "$HOSTS_SAVED"
DEFAULT_SITE=0
[ -L /etc/nginx/sites-enabled/default ] && DEFAULT_SITE=1
PGVER=$(ls /usr/lib/postgresql | sort -V | tail -n 1)
server_cleanup() {
	[ -f "$W/cleaned" ] && return 0
	: >"$W/cleaned"
	unit_stop
	# Debian's nginx, started by the reload stand-in: its master by the pid
	# file (not `nginx -s quit`, which reads a config whose snippets a purge
	# may have taken away), or by name when the pid file is already gone.
	if [ -s /run/nginx.pid ]; then
		kill -QUIT "$(cat /run/nginx.pid)" 2>/dev/null || true
		wait_for 10 sh -c '! [ -s /run/nginx.pid ]' || true
	fi
	pkill -QUIT -f '^nginx: master process nginx$' 2>/dev/null || true
	rm -f /etc/nginx/sites-enabled/wxauth
	if [ "$DEFAULT_SITE" = 1 ] && [ ! -e /etc/nginx/sites-enabled/default ]; then
		ln -s /etc/nginx/sites-available/default /etc/nginx/sites-enabled/default
	fi
	if dpkg -s wxauth >/dev/null 2>&1 || dpkg -l wxauth 2>/dev/null | grep -q '^rc'; then
		DEBIAN_FRONTEND=noninteractive apt-get purge -y -qq wxauth >/dev/null 2>&1 || true
	fi
	rm -rf /etc/wxauth /var/log/wxauth /run/wxauth "$LE" "/etc/letsencrypt/archive/$DOMAIN"
	cat "$HOSTS_SAVED" >/etc/hosts
	pg_dropcluster --stop "$PGVER" "$CLUSTER" >/dev/null 2>&1 || true
	[ -z "${MOCK_PID:-}" ] || kill "$MOCK_PID" 2>/dev/null || true
}
CLEANUP=server_cleanup
trap 'rc=$?; server_cleanup; (exit $rc); on_exit' EXIT

# The unit as systemd would start and stop it (see the header).
unit_value() {
	sed -n "s/^$1=//p" "$UNIT" | head -n 1
}
unit_env() {
	f=$(unit_value EnvironmentFile)
	f=${f#-}
	[ -f "$f" ] && grep -E '^[A-Za-z_][A-Za-z0-9_]*=' "$f"
	return 0
}
# unit_groups USER GROUP: the supplementary groups systemd gives the unit,
# in its own way: initgroups(User, Group) (Group, and every group that
# lists User as a member in /etc/group; not User's primary group unless it
# is Group), then SupplementaryGroups=.
unit_groups() {
	gs=$2
	for grp in $(getent group | awk -F: -v u="$1" \
	    '{ n = split($4, m, ","); for (i = 1; i <= n; i++) if (m[i] == u) print $1 }'); do
		gs="$gs,$grp"
	done
	for grp in $(unit_value SupplementaryGroups); do
		gs="$gs,$grp"
	done
	echo "$gs"
}
# unit_exec CMD...: becomes CMD as the unit's user, with the unit's
# credentials set as systemd sets them (unit_groups), never
# setpriv --init-groups, which would add the user's primary group and hide
# a unit that cannot read its config (in a subshell of its own when
# backgrounded, so that its pid is serve's); unit_run waits for it.
unit_exec() {
	u=$(unit_value User)
	g=$(unit_value Group)
	# shellcheck disable=SC2046 # VAR=value words of the EnvironmentFile
	exec setpriv --reuid="$u" --regid="$g" --groups="$(unit_groups "$u" "$g")" env -i \
		PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
		HOME=/nonexistent USER="$u" LOGNAME="$u" $(unit_env) "$@"
}
unit_run() {
	(unit_exec "$@")
}
unit_start() {
	u=$(unit_value User)
	g=$(unit_value Group)
	rt=/run/$(unit_value RuntimeDirectory)
	install -d -o "$u" -g "$g" -m "$(unit_value RuntimeDirectoryMode)" "$rt"
	install -d -o "$u" -g "$g" -m 0755 "/var/log/$(unit_value LogsDirectory)"
	# shellcheck disable=SC2046 # the command lines of the unit
	unit_run $(unit_value ExecStartPre) || return 1
	# shellcheck disable=SC2046
	unit_exec $(unit_value ExecStart) >"$W/serve.log" 2>&1 &
	echo $! >"$W/serve.pid"
	wait_for 15 sh -c "[ -S $rt/wxauth.sock ] && [ -S $rt/gate.sock ]" || {
		cat "$W/serve.log" >&2
		return 1
	}
}
unit_stop() {
	pid=$(cat "$W/serve.pid" 2>/dev/null || true)
	[ -n "$pid" ] || return 0
	kill -TERM "$pid" 2>/dev/null || true
	wait_for 45 sh -c "! kill -0 $pid 2>/dev/null" || kill -KILL "$pid" 2>/dev/null || true
	rm -f "$W/serve.pid"
}

# ---- The package, and what lintian says of it.
if make --no-print-directory -s deb >"$W/deb.log" 2>&1; then
	DEB=$(tail -n 1 "$W/deb.log")
	ok "make deb: $DEB"
else
	cat "$W/deb.log"
	bad "make deb"
	finish
fi
check "README installs the .deb make deb builds" \
	grep -qF "apt-get install -y ./$DEB" README.md
lintian "$DEB" >"$W/lintian.out" 2>&1
grep -v 'running with root privileges' "$W/lintian.out" | sed 's/^/  lintian: /'
echo "  lintian: $(grep -c '^E:' "$W/lintian.out") errors, $(grep -c '^W:' "$W/lintian.out") warnings"
check "lintian: no error" sh -c "! grep -q '^E:' '$W/lintian.out'"
check "lintian: no warning" sh -c "! grep -q '^W:' '$W/lintian.out'"
check "the package lists /etc/wxauth/wxauth.conf as a conffile" \
	sh -c "dpkg-deb -I '$DEB' conffiles | grep -qx /etc/wxauth/wxauth.conf"
dpkg-deb -c "$DEB" >"$W/contents"
man_pages() {
	for m in man8/wxauth.8.gz man5/wxauth.conf.5.gz; do
		grep -q "/usr/share/man/$m\$" "$W/contents" || return 1
	done
}
check "the package has the man pages wxauth(8) and wxauth.conf(5)" man_pages

# ---- A stock cluster, the mock, the name.
if pg_createcluster "$PGVER" "$CLUSTER" -p 5432 --start >"$W/cluster.log" 2>&1; then
	ok "pg_createcluster $PGVER $CLUSTER (Debian's defaults: peer authentication)"
else
	cat "$W/cluster.log"
	bad "pg_createcluster"
	finish
fi
printf '[{"appid": "%s", "secret": "%s", "type": "miniprogram"}]\n' "$APPID" "$SECRET" >"$W/apps.json"
"$PY" tests/mock/wxmock.py --port "$MOCK_PORT" --apps "$W/apps.json" >"$W/mock.log" 2>&1 &
MOCK_PID=$!
wait_for 10 listening "$MOCK_PORT" || { bad "the mock listens"; finish; }
echo "127.0.0.1 $DOMAIN" >>/etc/hosts

# ---- README's block, step by step, with the stand-ins of the header.
BLOCK=$W/readme-block.sh
sed -n '/^<!-- server-install -->$/,/^<!-- \/server-install -->$/p' README.md |
	sed -e '1,/^```sh$/d' -e '/^```$/,$d' >"$BLOCK"
check "README has the server-install block" test -s "$BLOCK"
{
	cat <<EOF
set -ex
cd '$ROOT'
systemctl() {
	case "\$*" in
	"enable --now wxauth") unit_start ;;
	"reload nginx")
		if [ -s /run/nginx.pid ] && kill -0 "\$(cat /run/nginx.pid)" 2>/dev/null; then
			nginx -s reload
		else
			nginx
		fi ;;
	*) echo "systemctl stand-in: '\$*' is not known" >&2; return 1 ;;
	esac
}
certbot() {
	name=\$(echo "\$*" | sed -n 's/.*-d \([^ ]*\).*/\1/p')
	mkdir -p /etc/letsencrypt/live/\$name
	openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=\$name" \
		-addext "subjectAltName=DNS:\$name" \
		-keyout /etc/letsencrypt/live/\$name/privkey.pem \
		-out /etc/letsencrypt/live/\$name/fullchain.pem 2>/dev/null
}
CURL_CA_BUNDLE=$LE/fullchain.pem
export CURL_CA_BUNDLE DEBIAN_FRONTEND=noninteractive
CODE=alice.server1
EOF
	awk -v mock="$MOCK_PORT" '
	/^# [0-9]+\./ {
		if (step == 3)
			print "sed -i \"1i wechat_base_url = http://127.0.0.1:" mock "\" /etc/wxauth/wxauth.conf"
		step = $2 + 0
		print "echo \"== README step " step "\" >&2"
	}
	{ print }
	END { print "echo \"$TOKEN\" >'"$W"'/token" }' "$BLOCK"
} >"$W/run.sh"
# The stand-ins need these functions and variables of ours.
export W UNIT
# Not in an `if`: that would switch the block's `set -e` off.
(. "$W/run.sh") >"$W/run.out" 2>&1
if [ $? -eq 0 ]; then
	ok "README's server-install block ran to its end"
else
	sed 's/^/  | /' "$W/run.out" | tail -n 60
	bad "README's server-install block ran to its end"
	finish
fi
grep '^== README step' "$W/run.out" | sed 's/^/  /'
TOKEN=$(cat "$W/token")
CURL_CA_BUNDLE=$LE/fullchain.pem
export CURL_CA_BUNDLE
check "step 6: the login gave an access token" test -n "$TOKEN"
check "step 6: /v1/session through the site named the user" \
	grep -q '"openid":"' "$W/run.out"

# ---- What the steps left, looked at from outside.
keys_ok() {
	for k in token.keys data.key; do
		[ "$(stat -c '%a %U' "/etc/wxauth/$k")" = "600 wxauth" ] || return 1
	done
}
check "the keys made on install: 0600, owned by wxauth" keys_ok
out=$(systemd-analyze verify "$UNIT" 2>&1)
if [ $? -eq 0 ] && [ -z "$out" ]; then
	ok "systemd-analyze verify: no complaint about the installed unit"
else
	echo "$out"
	bad "systemd-analyze verify: no complaint about the installed unit"
fi
check "the unit is enabled (multi-user.target wants it)" \
	test -L /etc/systemd/system/multi-user.target.wants/wxauth.service
check "serve and its workers run as wxauth" sh -c \
	"[ \"\$(ps -o user= -p \$(cat '$W/serve.pid'))\" = wxauth ] && \
	[ \"\$(ps -o user= --ppid \$(cat '$W/serve.pid') | sort -u)\" = wxauth ]"
check "the socket is nginx's (group www-data, 0660)" \
	sh -c '[ "$(stat -c "%a %G" /run/wxauth/wxauth.sock)" = "660 www-data" ]'
code() {
	curl -s -o /dev/null -w '%{http_code}' "$@"
}
check "http:// redirects to https://" sh -c "curl -s -o /dev/null -w '%{redirect_url}' \
	http://$DOMAIN/v1/session | grep -qx 'https://$DOMAIN/v1/session'"
check "/metrics from loopback through the site" sh -c \
	"curl -fsS https://$DOMAIN/metrics | grep -q '^wxauth_build_info{version=\"'"
check "logout through the site" [ "$(code -X POST https://$DOMAIN/v1/logout -H "Authorization: Bearer $TOKEN")" = 200 ]
check "the token is refused after it" [ "$(code https://$DOMAIN/v1/session -H "Authorization: Bearer $TOKEN")" = 401 ]

# A reinstall keeps the keys and the edited config.
sums=$(sha256sum /etc/wxauth/token.keys /etc/wxauth/data.key /etc/wxauth/wxauth.conf)
if apt-get install -y -qq --reinstall "./$DEB" >"$W/reinstall.log" 2>&1; then
	ok "apt-get install --reinstall"
else
	cat "$W/reinstall.log"
	bad "apt-get install --reinstall"
fi
check "a reinstall overwrites neither the keys nor the edited config" \
	sh -c "[ \"\$(sha256sum /etc/wxauth/token.keys /etc/wxauth/data.key /etc/wxauth/wxauth.conf)\" = '$sums' ]"

# ---- Purge: as `systemctl stop` then `apt-get purge` would.
unit_stop
if apt-get purge -y -qq wxauth >"$W/purge.log" 2>&1; then
	ok "apt-get purge wxauth"
else
	cat "$W/purge.log"
	bad "apt-get purge wxauth"
fi
check "purged: no binary, no conffile, no key, no nginx snippet" sh -c \
	"! [ -e /usr/bin/wxauth ] && ! [ -e /etc/wxauth/wxauth.conf ] && ! [ -e /etc/wxauth/token.keys ] && \
	! [ -e /etc/wxauth/data.key ] && ! [ -e /etc/nginx/snippets/wxauth.conf ] && ! dpkg -l wxauth 2>/dev/null | grep -q '^[ir]'"
finish
