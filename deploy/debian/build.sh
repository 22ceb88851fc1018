#!/bin/sh
# deploy/debian/build.sh VERSION OUT - the Debian package, built by `make deb`
# into OUT (default build/deb) without touching the top of the tree:
#   OUT/obj     the binary, built with PREFIX=/usr and dpkg-buildflags
#               (hardening: fortify, stack protector, relro, now)
#   OUT/root    the package's tree (make install DESTDIR=..., its man pages
#               compressed, then /etc, docs and DEBIAN/ from deploy/debian/)
#   OUT/../wxauth_VERSION_ARCH.deb
# Needs dpkg-dev (dpkg-buildflags, dpkg-shlibdeps); `make deps` has it.
set -eu

VERSION=$1
OUT=${2:-build/deb}
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
cd "$ROOT"
ARCH=$(dpkg --print-architecture)
DEB=$(dirname "$OUT")/wxauth_${VERSION}_$ARCH.deb
R=$OUT/root

rm -rf "$R" "$OUT/src"
mkdir -p "$R" "$OUT/src/debian"
make --no-print-directory -s OUT="$OUT/obj" PREFIX=/usr UNITDIR=/lib/systemd/system \
	VERSION="$VERSION" \
	CFLAGS="$(dpkg-buildflags --get CFLAGS) $(dpkg-buildflags --get CPPFLAGS)" \
	LDFLAGS="$(dpkg-buildflags --get LDFLAGS)" \
	install DESTDIR="$ROOT/$R"
strip --strip-unneeded --remove-section=.comment --remove-section=.note "$R/usr/bin/wxauth"

# /etc: the conffiles.
install -d -m 0755 "$R/etc/wxauth" "$R/etc/default" "$R/etc/logrotate.d" \
	"$R/etc/nginx/snippets" "$R/etc/nginx/sites-available"
install -m 0644 deploy/wxauth.conf.sample "$R/etc/wxauth/wxauth.conf"
install -m 0600 "$HERE/default" "$R/etc/default/wxauth"
install -m 0644 deploy/wxauth.logrotate "$R/etc/logrotate.d/wxauth"
install -m 0644 deploy/nginx/wxauth.conf deploy/nginx/wxauth-http.conf \
	deploy/nginx/wxauth-auth.conf deploy/nginx/wxauth-php.conf "$R/etc/nginx/snippets/"
install -m 0644 deploy/nginx/wxauth-site.conf "$R/etc/nginx/sites-available/wxauth"

# tmpfiles, man pages, docs.
install -d -m 0755 "$R/usr/lib/tmpfiles.d" "$R/usr/share/doc/wxauth"
install -m 0644 "$HERE/tmpfiles" "$R/usr/lib/tmpfiles.d/wxauth.conf"
gzip -9nf "$R/usr/share/man/man8/wxauth.8" "$R/usr/share/man/man5/wxauth.conf.5"
install -m 0644 "$HERE/copyright" "$R/usr/share/doc/wxauth/copyright"
install -d -m 0755 "$R/usr/share/lintian/overrides"
install -m 0644 "$HERE/lintian-overrides" "$R/usr/share/lintian/overrides/wxauth"
sed "s/@VERSION@/$VERSION/g" "$HERE/changelog" | gzip -9n >"$R/usr/share/doc/wxauth/changelog.gz"
gzip -9n <README.md >"$R/usr/share/doc/wxauth/README.md.gz"
chmod 0644 "$R/usr/share/doc/wxauth/"*.gz "$R/usr/share/man/man"*/*.gz

# DEBIAN/: the shared libraries the binary links, as dpkg-shlibdeps finds
# them (it wants a debian/control to sit in).
printf 'Source: wxauth\n\nPackage: wxauth\nArchitecture: any\n' >"$OUT/src/debian/control"
depends=$(cd "$OUT/src" && dpkg-shlibdeps -O -e "$ROOT/$R/usr/bin/wxauth" 2>/dev/null |
	sed -n 's/^shlibs:Depends=//p')
[ -n "$depends" ] || { echo "build.sh: dpkg-shlibdeps found no dependencies" >&2; exit 1; }
install -d -m 0755 "$R/DEBIAN"
size=$(du -k -s --exclude=DEBIAN "$R" | cut -f1)
sed -e "s/@VERSION@/$VERSION/" -e "s/@ARCH@/$ARCH/" -e "s/@SIZE@/$size/" \
	-e "s/@DEPENDS@/$depends/" "$HERE/control" >"$R/DEBIAN/control"
install -m 0644 "$HERE/conffiles" "$R/DEBIAN/conffiles"
install -m 0755 "$HERE/postinst" "$HERE/prerm" "$HERE/postrm" "$R/DEBIAN/"
(cd "$R" && find . -path ./DEBIAN -prune -o -type f -print | sed 's|^\./||' | LC_ALL=C sort |
	xargs md5sum) >"$R/DEBIAN/md5sums"
chmod 0644 "$R/DEBIAN/md5sums"
dpkg-deb --root-owner-group -Zxz --build "$R" "$DEB" >/dev/null
echo "$DEB"
