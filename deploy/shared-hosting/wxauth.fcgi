#!/bin/sh
# deploy/shared-hosting/wxauth.fcgi - the program mod_fcgid starts (see the
# htaccess next to it): one `wxauth worker` on the socket mod_fcgid hands
# over on standard input. mod_fcgid starts as many as traffic needs and
# stops idle ones; each loads the revocation view from the database when it
# starts, so a logout is honoured by processes started later too.
#
# The layout, under the account's home:
#   public_html/.htaccess, public_html/wxauth.fcgi   (this file, mode 0755)
#   wxauth/bin/wxauth                                the binary
#   wxauth/wxauth.conf, wxauth/*.keys, wxauth/pgpass (mode 0600)
#   wxauth/wxauth.log                                the log
# WXAUTH_HOME moves the wxauth folder (default: ../wxauth from this file).
here=$(cd "$(dirname "$0")" && pwd) || exit 1
home=$(cd "${WXAUTH_HOME:-$here/../wxauth}" && pwd) || exit 1
cd "$home" || exit 1
exec "$home/bin/wxauth" worker -c "$home/wxauth.conf"
