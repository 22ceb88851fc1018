#!/bin/sh
# tests/unit.sh - run cmocka test binaries and sum their results.
#
#   sh tests/unit.sh build/tests/test_a build/tests/test_b ...
#
# Shows each binary's output, then ends with "unit: N passed, N failed".
# Counts come from cmocka's "[  PASSED  ] N test(s)." and
# "[  FAILED  ] N test(s)," lines; a binary that is missing, crashes, hangs
# (WXAUTH_UNIT_TIMEOUT seconds, default 300) or prints no summary counts as
# one failure. Exit 1 if anything failed.
set -u

TIMEOUT=${WXAUTH_UNIT_TIMEOUT:-300}
passed=0
failed=0
out=$(mktemp "${TMPDIR:-/tmp}/wxauth-unit.XXXXXX") || exit 1
trap 'rm -f "$out"' EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# Plain text on stdout/stderr, whatever the caller's environment says.
unset CMOCKA_XML_FILE
CMOCKA_MESSAGE_OUTPUT=stdout
export CMOCKA_MESSAGE_OUTPUT

if [ $# -eq 0 ]; then
	echo "unit: no test binaries given"
	echo "unit: 0 passed, 1 failed"
	exit 1
fi

for bin in "$@"; do
	name=$(basename "$bin")
	echo "== $name"
	if [ ! -x "$bin" ]; then
		echo "unit: $bin: not found or not executable (did the build fail?)"
		failed=$((failed + 1))
		continue
	fi
	case $bin in
	*/*) cmd=$bin ;;
	*) cmd=./$bin ;;
	esac
	timeout --foreground -k 5 "$TIMEOUT" "$cmd" >"$out" 2>&1 </dev/null
	rc=$?
	cat "$out"
	# cmocka prints one summary per group: add them up.
	p=$(sed -n 's/^\[  PASSED  \] \([0-9][0-9]*\) test(s)\..*$/\1/p' "$out" | awk '{s += $1} END {print s + 0}')
	f=$(sed -n 's/^\[  FAILED  \] \([0-9][0-9]*\) test(s),.*$/\1/p' "$out" | awk '{s += $1} END {print s + 0}')
	seen=$(grep -c -e '^\[  PASSED  \] [0-9][0-9]* test(s)\.' -e '^\[  FAILED  \] [0-9][0-9]* test(s),' "$out")
	if [ "$rc" = 124 ] || [ "$rc" = 137 ]; then
		echo "unit: $name: timed out after $TIMEOUT s"
		f=$((f + 1))
	elif [ "$seen" -eq 0 ]; then
		echo "unit: $name: no cmocka summary (exit status $rc): counted as 1 failed"
		f=$((f + 1))
	elif [ "$rc" != 0 ] && [ "$f" -eq 0 ]; then
		# e.g. a crash or a sanitizer report after the last test
		echo "unit: $name: exit status $rc although no test failed: counted as 1 failed"
		f=$((f + 1))
	fi
	passed=$((passed + p))
	failed=$((failed + f))
done

echo "unit: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
