#!/bin/sh
# tests/deploy/pool.sh - how `wxauth serve` stops: SIGINT like SIGTERM
# (gracefully: the request in flight finishes), SIGQUIT at once (the request
# in flight is cut); either way no worker, socket or pid file is left.
# (SIGTERM, SIGHUP, SIGUSR1, recycling and back-off are in tests/integ.)
set -u
NAME=pool
. "$(dirname "$0")/lib/common.sh"

# stop_with SIGNAL DIRECTIVE: one slow login in flight, then SIGNAL to serve;
# prints "status seconds-until-serve-gone leftovers".
stop_with() {
	"$PY" - "$DIR/env.json" "$1" "$2" <<'EOF'
import os, signal, sys, threading, time
sys.path.insert(0, "tests/integ")
import lib
env = lib.Env.load(sys.argv[1])
sig, directive = getattr(signal, sys.argv[2]), sys.argv[3]
pid, workers = env.serve_pid(), env.worker_pids()
box = {}
def login():
    try:
        box["r"] = env.login("mp1", env.person("stop"), directives=(directive,))
    except Exception as e:
        box["e"] = e
t = threading.Thread(target=login)
t.start()
time.sleep(0.5)
t0 = time.monotonic()
os.kill(pid, sig)
def alive(p):
    try:
        os.kill(p, 0)
    except ProcessLookupError:
        return False
    with open("/proc/%d/stat" % p) as f:
        return f.read().rsplit(")", 1)[1].split()[0] != "Z"
gone = None
while time.monotonic() - t0 < 40:
    if not alive(pid) and not any(alive(w) for w in workers):
        gone = time.monotonic() - t0
        break
    time.sleep(0.02)
t.join(30)
r = box.get("r")
left = [p for p in (env.fcgi_socket, env.serve_pid_file) if os.path.exists(p)]
print("%s %s %s" % (r.status if r is not None else "none",
                    "%.2f" % gone if gone is not None else "never", ",".join(left) or "-"))
EOF
}

DIR=$SCRATCH/env
env_start "$DIR" WXAUTH_WORKERS=2 || finish
set -- $(stop_with SIGINT slow1500)
echo "  SIGINT: in-flight login answered $1, serve and workers gone after $2 s, left: $3"
check "SIGINT: the login in flight finishes (200)" [ "$1" = 200 ]
check "SIGINT: serve and its workers are gone" [ "$2" != never ]
check "SIGINT: no socket or pid file left" [ "$3" = - ]
check "SIGINT: logged as a graceful stop" grep -q "pool: stopping (signal 2)" "$DIR/wxauth.log"

env_start "$DIR" WXAUTH_WORKERS=2 || finish
set -- $(stop_with SIGQUIT slow8000)
echo "  SIGQUIT: in-flight login answered $1, serve and workers gone after $2 s, left: $3"
quick() {
	[ "$1" != never ] && awk -v s="$1" 'BEGIN { exit !(s < 2) }'
}
check "SIGQUIT: serve and its workers are gone at once (< 2 s)" quick "$2"
check "SIGQUIT: the login in flight is cut (502 from nginx)" [ "$1" = 502 ]
check "SIGQUIT: no socket or pid file left" [ "$3" = - ]
check "SIGQUIT: logged" grep -q "pool: stopping now (SIGQUIT)" "$DIR/wxauth.log"
finish
