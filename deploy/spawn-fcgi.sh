#!/bin/sh
# deploy/spawn-fcgi.sh - wxauth workers started by spawn-fcgi instead of
# `wxauth serve`: the socket, its mode, the user and group, the number of
# workers. As root, with the defaults, it runs
#
#   spawn-fcgi -s /run/wxauth/wxauth.sock -M 0660 -u wxauth -g www-data \
#       -F 4 -P /run/wxauth/spawn-fcgi.pid -- /usr/local/bin/wxauth worker -c /etc/wxauth/wxauth.conf
#
# The socket is owned by wxauth:www-data with mode 0660, so nginx (or Apache)
# running as www-data can connect and nobody else can. Each worker is a
# plain `wxauth worker` on the socket spawn-fcgi hands it as fd 0.
#
# Unlike `wxauth serve`, spawn-fcgi forks the workers and leaves: nothing
# restarts a worker that dies, SIGHUP does nothing (restart them to reload),
# and /metrics counts only the worker that answers the scrape. Stop them with
#   kill $(cat /run/wxauth/spawn-fcgi.pid)
# (SIGTERM: each one finishes its request first; SIGUSR1 reopens its log).
#
# Settings, from the environment:
#   WXAUTH_SOCKET    socket path            (/run/wxauth/wxauth.sock)
#   WXAUTH_SOCKET_MODE                      (0660)
#   WXAUTH_USER      user the workers run as; empty: do not change (wxauth)
#   WXAUTH_GROUP     group of the workers and the socket; empty: the user's (www-data)
#   WXAUTH_WORKERS   number of workers      (4)
#   WXAUTH_CONFIG    configuration file     (/etc/wxauth/wxauth.conf)
#   WXAUTH_BIN       the wxauth binary      (/usr/local/bin/wxauth)
#   WXAUTH_PID_FILE  the workers' pids, one per line (/run/wxauth/spawn-fcgi.pid)
#   WXAUTH_GATE      1: start gate workers instead (`wxauth worker --gate`,
#                    the token check only), on their own socket and pid file:
#                    run this script twice, once with WXAUTH_GATE=1
#                    WXAUTH_SOCKET=/run/wxauth/gate.sock
#                    WXAUTH_PID_FILE=/run/wxauth/spawn-fcgi-gate.pid, and send
#                    nginx's /v1/session and auth_request there.
set -eu

SOCKET=${WXAUTH_SOCKET-/run/wxauth/wxauth.sock}
MODE=${WXAUTH_SOCKET_MODE-0660}
USER_NAME=${WXAUTH_USER-wxauth}
GROUP_NAME=${WXAUTH_GROUP-www-data}
WORKERS=${WXAUTH_WORKERS-4}
CONFIG=${WXAUTH_CONFIG-/etc/wxauth/wxauth.conf}
BIN=${WXAUTH_BIN-/usr/local/bin/wxauth}
PID_FILE=${WXAUTH_PID_FILE-/run/wxauth/spawn-fcgi.pid}

set -- -s "$SOCKET" -M "$MODE" -F "$WORKERS" -P "$PID_FILE"
if [ -n "$USER_NAME" ]; then
	set -- "$@" -u "$USER_NAME"
fi
if [ -n "$GROUP_NAME" ]; then
	set -- "$@" -g "$GROUP_NAME"
fi
mkdir -p "$(dirname "$SOCKET")" "$(dirname "$PID_FILE")"
if [ "${WXAUTH_GATE-0}" = 1 ]; then
	exec spawn-fcgi "$@" -- "$BIN" worker -c "$CONFIG" --gate
fi
exec spawn-fcgi "$@" -- "$BIN" worker -c "$CONFIG"
