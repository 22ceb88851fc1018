#!/bin/sh
# tests/fuzz/run.sh SECONDS - every libFuzzer target of build-fuzz/ for
# SECONDS each: first its seed corpus (tests/fuzz/corpus/NAME, every
# finding so far among them) is replayed, then new inputs are tried. The
# inputs it finds go to a scratch folder (WXAUTH_FUZZ_WORK, or a new one
# under /tmp, kept for a look), never into the repository. A
# crash, a sanitizer report or a failed check is one failure; the input
# that caused it is shown (hex) and kept in the scratch folder.
# The last line is "N passed, N failed".
set -u
cd "$(dirname "$0")/../.." || exit 1
secs=${1:-10}
work=${WXAUTH_FUZZ_WORK:-}
if [ -z "$work" ]; then
	work=$(mktemp -d /tmp/wxauth-fuzz.XXXXXX) || exit 1
fi
mkdir -p "$work" || exit 1
passed=0
failed=0
for t in build-fuzz/fuzz_*; do
	case $t in *.d) continue ;; esac
	[ -x "$t" ] || continue
	name=${t#build-fuzz/fuzz_}
	mkdir -p "$work/$name/new" "$work/$name/art"
	if timeout --foreground -k 10 $((secs + 60)) "$t" -max_total_time="$secs" \
	    -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
	    -artifact_prefix="$work/$name/art/" "$work/$name/new" \
	    "tests/fuzz/corpus/$name" >"$work/$name.log" 2>&1; then
		runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$work/$name.log")
		echo "ok   fuzz::$name (${runs:-?} inputs in ${secs}s)"
		passed=$((passed + 1))
	else
		echo "FAIL fuzz::$name"
		grep -E 'ERROR|check failed|SUMMARY|runtime error' "$work/$name.log" | head -n 5 | sed 's/^/     /'
		for a in "$work/$name/art/"*; do
			[ -f "$a" ] || continue
			echo "     input $a:"
			od -An -c "$a" | head -n 8 | sed 's/^/     /'
		done
		failed=$((failed + 1))
	fi
done
[ "$passed" -gt 0 ] || [ "$failed" -gt 0 ] || { echo "run.sh: no fuzz targets in build-fuzz/"; failed=1; }
echo "(inputs and logs: $work)"
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
