#!/bin/sh
# tests/deploy/install.sh - `make install` honours PREFIX and DESTDIR: the
# binary (built in a folder of its own with that PREFIX), the migrations, the
# sample config, the recipes, the systemd unit; the installed binary accepts a
# config made from the installed sample (check-config), and its `migrate`
# finds the installed migrations without -d; systemd-analyze accepts the unit.
set -u
NAME=install
. "$(dirname "$0")/lib/common.sh"

P=$SCRATCH/prefix              # PREFIX, installed into for real
STAGE=$SCRATCH/stage           # DESTDIR of a second, staged install
B=$SCRATCH/build
MAKE="make --no-print-directory OUT=$B PREFIX=$P"

if $MAKE install >"$SCRATCH/make-install.log" 2>&1; then
	ok "make install PREFIX=$P"
else
	tail -n 30 "$SCRATCH/make-install.log"
	bad "make install PREFIX=$P"
	finish
fi
# The same build, staged under DESTDIR: nothing may land outside it.
if $MAKE install DESTDIR="$STAGE" >"$SCRATCH/make-stage.log" 2>&1; then
	ok "make install DESTDIR=$STAGE"
else
	tail -n 30 "$SCRATCH/make-stage.log"
	bad "make install DESTDIR=$STAGE"
fi

for root in "" "$STAGE"; do
	where=${root:-PREFIX}
	[ -z "$root" ] || where=DESTDIR
	check "$where: bin/wxauth is executable" [ -x "$root$P/bin/wxauth" ]
	check "$where: the migrations are in share/wxauth/db" \
		sh -c "ls '$root$P/share/wxauth/db/'*.sql >/dev/null 2>&1 && \
			[ \$(ls '$root$P/share/wxauth/db/' | wc -l) -eq \$(ls db/*.sql | wc -l) ]"
	check "$where: share/wxauth/wxauth.conf.sample" [ -f "$root$P/share/wxauth/wxauth.conf.sample" ]
	check "$where: the recipes in share/wxauth/deploy" \
		[ -f "$root$P/share/wxauth/deploy/nginx/wxauth.conf" -a -f "$root$P/share/wxauth/deploy/nginx/wxauth-site.conf" -a -f "$root$P/share/wxauth/deploy/apache-wxauth.conf" \
		-a -x "$root$P/share/wxauth/deploy/spawn-fcgi.sh" \
		-a -f "$root$P/share/wxauth/deploy/wxauth.logrotate" \
		-a -f "$root$P/share/wxauth/deploy/monitoring/wxauth-alerts.yml" \
		-a -f "$root$P/share/wxauth/deploy/monitoring/wxauth-dashboard.json" \
		-a -f "$root$P/share/wxauth/deploy/shared-hosting/htaccess" \
		-a -x "$root$P/share/wxauth/deploy/shared-hosting/wxauth.fcgi" ]
	check "$where: the unit runs the installed binary" \
		grep -q "^ExecStart=$P/bin/wxauth serve -c /etc/wxauth/wxauth.conf\$" "$root$P/lib/systemd/system/wxauth.service"
	check "$where: sysusers.d/wxauth.conf" [ -f "$root$P/lib/sysusers.d/wxauth.conf" ]
done
staged_only() {
	# Everything of the staged install is below DESTDIR: the tree under
	# STAGE mirrors the one under PREFIX, file for file.
	a=$(cd "$P" && find . -type f | sort)
	b=$(cd "$STAGE$P" && find . -type f | sort)
	[ "$a" = "$b" ] && [ -z "$(find "$STAGE" -type f | grep -v "^$STAGE$P/")" ]
}
check "DESTDIR holds exactly the PREFIX tree" staged_only

W=$P/bin/wxauth
check "the installed binary's default migrations folder is PREFIX/share/wxauth/db" \
	sh -c "'$W' migrate --help | grep -q 'default DIR $P/share/wxauth/db'"

# The installed sample as shipped (its relative key files next to it):
# valid, with no app yet. Then with its four example apps uncommented, the
# secrets of env-style apps from the environment.
ETC=$SCRATCH/etc
mkdir -p "$ETC"
cp "$P/share/wxauth/wxauth.conf.sample" "$ETC/wxauth.conf"
"$W" keygen "$ETC/token.keys" >/dev/null && "$W" keygen "$ETC/data.key" >/dev/null
if out=$("$W" check-config -c "$ETC/wxauth.conf" 2>&1) && echo "$out" | grep -q ': ok: 0 apps'; then
	echo "$out" | sed 's/^/  /'
	ok "installed check-config accepts the installed sample as shipped"
else
	echo "$out" | sed 's/^/  /'
	bad "installed check-config accepts the installed sample as shipped"
fi
sed -i -e 's/^#\(\[app \|appid = \|type = \|secret_env = \|secret_file = \)/\1/' "$ETC/wxauth.conf"
printf '%s' "news-secret-0123456789abcdef" >"$ETC/news.secret"
chmod 600 "$ETC/news.secret"
export WXAUTH_SHOP_SECRET=shop-secret-0123456789 WXAUTH_WEB_SECRET=web-secret-0123456789 \
	WXAUTH_IOS_SECRET=ios-secret-0123456789
if out=$("$W" check-config -c "$ETC/wxauth.conf" 2>&1) && echo "$out" | grep -q ': ok: 4 apps'; then
	echo "  $out"
	ok "installed check-config accepts the sample's four example apps"
else
	echo "  $out"
	bad "installed check-config accepts the sample's four example apps"
fi
cp "$ETC/wxauth.conf" "$ETC/broken.conf"
echo "workers = none" >>"$ETC/broken.conf"
check "installed check-config names a bad line" \
	sh -c "'$W' check-config -c '$ETC/broken.conf' 2>&1 | grep -q 'broken.conf:[0-9]*:'"

# migrate without -d, into a fresh database of a private PostgreSQL.
DIR=$SCRATCH/env
if env_start "$DIR" WXAUTH_SKIP_APP=1; then
	. "$DIR/env.sh"
	"$WXAUTH_PSQL" -X -q -c 'CREATE DATABASE wxauth_installed' postgres >/dev/null
	sed -e "s|^database = .*|database = \"host=$PGHOST port=$PGPORT dbname=wxauth_installed user=postgres\"|" \
		"$ETC/wxauth.conf" >"$ETC/migrate.conf"
	if "$W" migrate -c "$ETC/migrate.conf" >"$SCRATCH/migrate.log" 2>&1; then
		ok "installed migrate, without -d, applies the installed migrations"
	else
		cat "$SCRATCH/migrate.log"
		bad "installed migrate, without -d, applies the installed migrations"
	fi
	n=$("$WXAUTH_PSQL" -X -q -A -t -c "SELECT count(*) FROM information_schema.tables
		WHERE table_schema = 'public' AND table_name IN ('users', 'accounts', 'sessions', 'merges')" \
		wxauth_installed 2>/dev/null)
	check "the schema is there" [ "$n" = 4 ]
fi

# systemd (make deps installs it) brings systemd-analyze; without it the
# check fails rather than passing unseen. It also runs `man` for the
# unit's Documentation=, which must find the installed pages.
check "the man pages wxauth(8) and wxauth.conf(5) are installed" \
	sh -c "MANPATH='$P/share/man' man -w wxauth.conf.5 && MANPATH='$P/share/man' man -w 8 wxauth"
out=$(MANPATH="$P/share/man" systemd-analyze verify "$P/lib/systemd/system/wxauth.service" 2>&1)
if [ $? -eq 0 ] && [ -z "$out" ]; then
	ok "systemd-analyze verify: no complaint about the unit"
else
	echo "$out"
	bad "systemd-analyze verify: no complaint about the unit"
fi
unit_has() {
	for want in "User=wxauth" "EnvironmentFile=-/etc/default/wxauth" "ProtectSystem=strict" "NoNewPrivileges=yes" "PrivateTmp=yes" \
		"RuntimeDirectory=wxauth" "ReadWritePaths=/var/log/wxauth" "Restart=on-failure" \
		'ExecReload=/bin/kill -HUP $MAINPID'; do
		grep -qxF "$want" "$P/lib/systemd/system/wxauth.service" || { echo "  missing: $want"; return 1; }
	done
}
check "the unit has a dedicated user, a sandbox and reload = SIGHUP" unit_has
finish
