#!/bin/sh
# tests/run.sh - every test, after `make test` has built build/ and build-asan/.
#
#   sh tests/run.sh [ARGS...]     ARGS go to the integration runner only
#                                 (e.g. -k PATTERN while developing)
#
# Stages, in order:
#   0. the layers: no include goes up (tests/tools/layers.sh); every
#      setting documented in the sample, the man page and README
#      (tests/tools/settings.py)
#   1. unit tests, release build (build/tests/test_*)
#   2. the WeChat mock's own tests (tests/mock/test_wxmock.py), if present
#   3. integration tests against a full environment (tests/env.sh) running
#      build/wxauth, then in environments of their own: the fault tests
#      (tests/fault), two hosts on one PostgreSQL (tests/scale), and a
#      PostgreSQL failover to a synchronous standby (tests/failover)
#   4. unit tests, sanitizer build (build-asan/tests/test_*), then every
#      libFuzzer target (build-fuzz/, tests/fuzz) for a few seconds
#   5. integration tests against build-asan/wxauth; every sanitizer report
#      file a process of that environment wrote counts as one failure
#   6. tests/deploy/*.sh, if any
# Everything runs in a scratch folder under /tmp that is removed at the end
# (WXAUTH_KEEP_SCRATCH=1 keeps it), and every environment started is stopped,
# on failure and on ^C too. The last line of the output is the total,
# "N passed, N failed"; the exit status is 1 if anything failed or a stage
# could not run (which counts as one failure).
#
# Environment: WXAUTH_PORT (nginx port of the test environments; default:
# a free pair between 18080 and 28080), WXAUTH_WORKERS, WXAUTH_INTEG_TIMEOUT
# (seconds per integration run, default 1800).
set -u

ROOT=$(cd "$(dirname "$0")/.." && pwd) || exit 1
cd "$ROOT" || exit 1
PY=/usr/bin/python3
INTEG_TIMEOUT=${WXAUTH_INTEG_TIMEOUT:-1800}
# Unbuffered output from the Python stages, so that it streams through tee.
PYTHONUNBUFFERED=1
export PYTHONUNBUFFERED

TOTAL_PASSED=0
TOTAL_FAILED=0
SUMMARY=""
STARTED=""
FINISHED=0
SCRATCH=""

cleanup() {
	for d in $STARTED; do
		sh tests/env.sh stop "$d" >/dev/null 2>&1 || true
	done
	STARTED=""
	if [ -n "$SCRATCH" ] && [ -d "$SCRATCH" ] && [ "${WXAUTH_KEEP_SCRATCH:-0}" != 1 ]; then
		rm -rf "$SCRATCH"
	fi
}

on_exit() {
	rc=$?
	cleanup
	if [ "$FINISHED" != 1 ]; then
		echo "run.sh: interrupted"
		echo "$TOTAL_PASSED passed, $((TOTAL_FAILED + 1)) failed"
		[ "$rc" != 0 ] || rc=1
	fi
	exit "$rc"
}
trap on_exit EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
trap 'exit 129' HUP

SCRATCH=$(mktemp -d /tmp/wxauth-test.XXXXXX) || {
	echo "run.sh: cannot create a scratch folder under /tmp"
	FINISHED=1
	echo "0 passed, 1 failed"
	exit 1
}
chmod 755 "$SCRATCH"

# add STAGE PASSED FAILED
add() {
	TOTAL_PASSED=$((TOTAL_PASSED + $2))
	TOTAL_FAILED=$((TOTAL_FAILED + $3))
	SUMMARY="$SUMMARY$(printf '  %-26s %s passed, %s failed' "$1:" "$2" "$3")
"
}

# stage_error STAGE MESSAGE: a stage that could not run counts as 1 failure.
stage_error() {
	echo "run.sh: $1: $2"
	add "$1" 0 1
}

banner() {
	echo
	echo "==================== $1"
}

# capture OUTFILE CMD...: run CMD, show its output and keep a copy in OUTFILE;
# the exit status is in $CAPTURE_RC.
capture() {
	outfile=$1
	shift
	rm -f "$outfile.rc"
	{
		"$@"
		echo $? >"$outfile.rc"
	} 2>&1 | tee "$outfile"
	CAPTURE_RC=$(cat "$outfile.rc" 2>/dev/null || echo 1)
}

# last_count FILE: the last "N passed, N failed" line of FILE (optionally
# after a "PREFIX: "), as "N N"; empty when there is none.
last_count() {
	sed -n 's/^\(.*: \)\{0,1\}\([0-9][0-9]*\) passed, \([0-9][0-9]*\) failed$/\2 \3/p' "$1" | tail -n 1
}

# add_counted STAGE FILE: add the counts a suite printed; no count line, or a
# failing exit status with no failure counted, is one failure.
add_counted() {
	counts=$(last_count "$2")
	if [ -z "$counts" ]; then
		stage_error "$1" "no \"N passed, N failed\" line in its output (exit status $CAPTURE_RC)"
		return
	fi
	# shellcheck disable=SC2086 # two numbers
	set -- "$1" $counts
	if [ "$CAPTURE_RC" = 124 ]; then
		echo "run.sh: $1: timed out"
		set -- "$1" "$2" $(($3 + 1))
	elif [ "$CAPTURE_RC" != 0 ] && [ "$3" -eq 0 ]; then
		echo "run.sh: $1: exit status $CAPTURE_RC although it counted no failure"
		set -- "$1" "$2" 1
	fi
	add "$1" "$2" "$3"
}

# unit_stage STAGE OUTDIR: the binaries for tests/unit/test_*.c in OUTDIR.
unit_stage() {
	bins=""
	for src in tests/unit/test_*.c; do
		[ -f "$src" ] || continue
		t=$(basename "$src" .c)
		bins="$bins $2/tests/$t"
	done
	if [ -z "$bins" ]; then
		stage_error "$1" "no unit tests (tests/unit/test_*.c)"
		return
	fi
	# shellcheck disable=SC2086
	capture "$SCRATCH/$(echo "$1" | tr -c 'a-z0-9\n' _).out" sh tests/unit.sh $bins
	add_counted "$1" "$SCRATCH/$(echo "$1" | tr -c 'a-z0-9\n' _).out"
}

# Free port pair for nginx and the mock, unless WXAUTH_PORT says.
if [ -z "${WXAUTH_PORT:-}" ]; then
	WXAUTH_PORT=$("$PY" - <<'EOF'
import random, socket
# A random start, so that runs side by side rarely race for the same ports.
start = random.randrange(500)
for i in range(500):
    base = 18080 + 20 * ((start + i) % 500)
    ok = True
    for p in (base, base + 1):
        s = socket.socket()
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(("127.0.0.1", p))
        except OSError:
            ok = False
        finally:
            s.close()
    if ok:
        print(base)
        break
EOF
	) || WXAUTH_PORT=""
	[ -n "$WXAUTH_PORT" ] || WXAUTH_PORT=18080
fi
export WXAUTH_PORT

# integ_stage STAGE ENVDIR BIN [ARGS...]: environment up, integration tests,
# environment down. Sanitizer options, if any, come from the caller's
# environment.
integ_stage() {
	stage=$1 envdir=$2 bin=$3
	shift 3
	if [ ! -f tests/integ/run.py ]; then
		stage_error "$stage" "tests/integ/run.py is missing"
		return
	fi
	STARTED="$STARTED $envdir"
	echo "run.sh: starting the environment in $envdir (wxauth: $bin, port $WXAUTH_PORT)"
	if ! WXAUTH_BIN=$bin sh tests/env.sh start "$envdir"; then
		stage_error "$stage" "the test environment did not start (see above)"
		sh tests/env.sh stop "$envdir" || true
		return
	fi
	capture "$envdir/integ.out" timeout --foreground -k 10 "$INTEG_TIMEOUT" "$PY" tests/integ/run.py "$envdir/env.json" "$@"
	before=$TOTAL_FAILED
	add_counted "$stage" "$envdir/integ.out"
	if [ "$TOTAL_FAILED" != "$before" ]; then
		for f in "$envdir/wxauth.stderr" "$envdir/wxauth.log" "$envdir/nginx/error.log" "$envdir/mock.log"; do
			if [ -s "$f" ]; then
				echo "---- last lines of $f"
				tail -n 30 "$f"
			fi
		done
		echo "----"
	fi
	echo "run.sh: stopping the environment in $envdir"
	sh tests/env.sh stop "$envdir" || true
}

# 0. the copies of the official vectors are the official vectors
if [ -d ../shared/vectors ]; then
	banner "vectors: tests/vectors against ../shared/vectors"
	np=0 nf=0
	for f in ../shared/vectors/*.json; do
		if cmp -s "$f" "tests/vectors/${f##*/}"; then
			np=$((np + 1))
		else
			echo "run.sh: tests/vectors/${f##*/} differs from $f"
			nf=$((nf + 1))
		fi
	done
	add "vectors" "$np" "$nf"
fi

# 1. unit tests, release
banner "layers: every include goes down (tests/tools/layers.sh)"
capture "$SCRATCH/layers.out" sh tests/tools/layers.sh
add_counted "layers" "$SCRATCH/layers.out"

banner "settings: the config table, the sample, the man page and README agree"
capture "$SCRATCH/settings.out" "$PY" tests/tools/settings.py
add_counted "settings" "$SCRATCH/settings.out"

banner "unit tests (build/)"
unit_stage "unit" build

# 2. the mock's own tests
if [ -f tests/mock/test_wxmock.py ]; then
	banner "WeChat mock self-test"
	out=$SCRATCH/mock.out
	capture "$out" timeout --foreground -k 10 600 "$PY" -m unittest tests/mock/test_wxmock.py
	ran=$(sed -n 's/^Ran \([0-9][0-9]*\) tests\{0,1\} in .*/\1/p' "$out" | tail -n 1)
	if [ -z "$ran" ]; then
		stage_error "mock" "no \"Ran N tests\" line (exit status $CAPTURE_RC)"
	else
		res=$(grep -E '^(OK|FAILED)( |$)' "$out" | tail -n 1)
		nf=0
		for k in failures errors "unexpected successes"; do
			v=$(printf '%s\n' "$res" | sed -n "s/.*$k=\([0-9][0-9]*\).*/\1/p")
			nf=$((nf + ${v:-0}))
		done
		if [ "$nf" -eq 0 ] && { [ "$CAPTURE_RC" != 0 ] || [ "${res%% *}" != OK ]; }; then
			echo "run.sh: mock: exit status $CAPTURE_RC, result \"$res\": counted as 1 failed"
			nf=1
		fi
		np=$((ran - nf))
		[ "$np" -ge 0 ] || np=0
		add "mock" "$np" "$nf"
	fi
fi

# 3. integration, release
banner "integration tests (build/wxauth)"
integ_stage "integration" "$SCRATCH/rel" "$ROOT/build/wxauth" "$@"

# 3b. fault tests: PostgreSQL stopped, restarted and frozen, WeChat hanging
# and down, workers killed, each in a fresh environment of their own
banner "fault tests (build/wxauth, tests/fault)"
integ_stage "fault" "$SCRATCH/fault" "$ROOT/build/wxauth" --dir tests/fault --timeout 120

# 3c. several hosts: two serves behind one nginx upstream, one PostgreSQL
banner "scale tests: two hosts, one PostgreSQL (build/wxauth, tests/scale)"
WXAUTH_HOSTS=2
export WXAUTH_HOSTS
integ_stage "scale" "$SCRATCH/scale" "$ROOT/build/wxauth" --dir tests/scale --timeout 120
unset WXAUTH_HOSTS

# 3d. PostgreSQL failover: a synchronous standby promoted under load
banner "failover tests: primary stopped, standby promoted (build/wxauth, tests/failover)"
WXAUTH_PG_STANDBY=1
export WXAUTH_PG_STANDBY
integ_stage "failover" "$SCRATCH/failover" "$ROOT/build/wxauth" --dir tests/failover --timeout 180
unset WXAUTH_PG_STANDBY

# 4. unit tests, sanitizers
banner "unit tests (build-asan/, ASan + UBSan)"
ASAN_OPTIONS=halt_on_error=1:detect_leaks=1:abort_on_error=0
UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
export ASAN_OPTIONS UBSAN_OPTIONS
unit_stage "unit-asan" build-asan

# 4b. every libFuzzer target (tests/fuzz) for a few seconds, its seed
# corpus (every finding so far) first; `make fuzz` runs them for longer.
banner "fuzz targets (build-fuzz/, libFuzzer + ASan + UBSan, ${WXAUTH_FUZZ_SECONDS:-8} s each)"
capture "$SCRATCH/fuzz.out" env WXAUTH_FUZZ_WORK="$SCRATCH/fuzz" sh tests/fuzz/run.sh "${WXAUTH_FUZZ_SECONDS:-8}"
add_counted "fuzz" "$SCRATCH/fuzz.out"

# 5. integration, sanitizers: reports go to files in the environment folder.
banner "integration tests (build-asan/wxauth, ASan + UBSan)"
ASAN_DIR=$SCRATCH/asan
mkdir -p "$ASAN_DIR"
chmod 755 "$ASAN_DIR"
ASAN_OPTIONS=log_path=$ASAN_DIR/asan:halt_on_error=1:detect_leaks=1
UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1:log_path=$ASAN_DIR/ubsan
integ_stage "integration-asan" "$ASAN_DIR" "$ROOT/build-asan/wxauth" "$@"
unset ASAN_OPTIONS UBSAN_OPTIONS
reports=0
for f in "$ASAN_DIR"/asan.* "$ASAN_DIR"/ubsan.*; do
	[ -f "$f" ] || continue
	reports=$((reports + 1))
	echo "---- sanitizer report $(basename "$f"):"
	cat "$f"
done
if [ "$reports" -gt 0 ]; then
	echo "----"
	echo "run.sh: $reports sanitizer report(s), each counted as a failure"
fi
add "sanitizer reports" 0 "$reports"

# 6. deployment tests, if any
for t in tests/deploy/*.sh; do
	[ -f "$t" ] || continue
	name=deploy/$(basename "$t" .sh)
	banner "$name"
	work=$SCRATCH/$(echo "$name" | tr -c 'A-Za-z0-9\n' _)
	mkdir -p "$work"
	chmod 755 "$work"
	shell="sh"
	case $(head -n 1 "$t") in
	'#!'*bash*) shell=bash ;;
	esac
	capture "$work.out" env WXAUTH_SCRATCH="$work" timeout --foreground -k 10 "$INTEG_TIMEOUT" "$shell" "$t"
	add_counted "$name" "$work.out"
done

cleanup
banner "summary"
printf '%s' "$SUMMARY"
if [ "${WXAUTH_KEEP_SCRATCH:-0}" = 1 ]; then
	echo "  (scratch folder kept: $SCRATCH)"
fi
FINISHED=1
echo "$TOTAL_PASSED passed, $TOTAL_FAILED failed"
[ "$TOTAL_FAILED" -eq 0 ]
