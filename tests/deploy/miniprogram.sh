#!/bin/sh
# tests/deploy/miniprogram.sh - the mini-program client library
# (deploy/miniprogram) and its sample page, under `node --test`
# (tests/miniprogram/*.test.js), against a real environment: nginx, wxauth,
# PostgreSQL and the WeChat mock, with fake wx, uni and Taro objects.
set -u
NAME=miniprogram
. "$(dirname "$0")/lib/common.sh"

if ! command -v node >/dev/null; then
	bad "node is not installed (make deps)"
	finish
fi
DIR=$SCRATCH/env
env_start "$DIR" WXAUTH_WORKERS=2 || finish
out=$SCRATCH/node.out
WXAUTH_ENV_JSON=$DIR/env.json timeout 300 node --test --test-reporter=tap tests/miniprogram/ >"$out" 2>&1
rc=$?
grep -E '^(not )?ok [0-9]+ - |^# (storm|pass|fail)' "$out" | sed 's/^/  /'
np=$(sed -n 's/^# pass \([0-9]*\)$/\1/p' "$out" | tail -n 1)
nf=$(sed -n 's/^# fail \([0-9]*\)$/\1/p' "$out" | tail -n 1)
if [ -z "$np" ] || [ -z "$nf" ]; then
	cat "$out"
	bad "node --test printed no counts (exit $rc)"
else
	[ "$nf" = 0 ] || cat "$out"
	PASSED=$((PASSED + np))
	FAILED=$((FAILED + nf))
fi
finish
