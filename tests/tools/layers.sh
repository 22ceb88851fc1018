#!/bin/sh
# tests/tools/layers.sh - the rule of README "Layout", checked: a file of
# app/LAYER/ or include/LAYER/ includes only headers of its own layer or of
# a lower one, and a handler (app/handlers/NAME.c) includes no other
# handler's header: handlers are leaves. One line per include that breaks
# the rule; the last line is "N passed, N failed" (a file a check).
set -u
cd "$(dirname "$0")/../.." || exit 1

# The layers, lowest first.
LAYERS="base crypto http view store wechat login handlers front server"

rank() {
	r=1
	for l in $LAYERS; do
		[ "$l" = "$1" ] && { echo "$r"; return; }
		r=$((r + 1))
	done
	echo 0
}

# layer_of HEADER: the layer folder of include/*/HEADER, or "" when none.
layer_of() {
	for d in include/*/; do
		[ -f "$d$1" ] && { basename "$d"; return; }
	done
	echo ""
}

passed=0
failed=0
for f in app/*/*.c include/*/*.h; do
	[ -f "$f" ] || continue
	own=$(basename "$(dirname "$f")")
	own_rank=$(rank "$own")
	bad=""
	if [ "$own_rank" = 0 ]; then
		bad="$bad
  $f: in no layer (folders: $LAYERS)"
	fi
	for h in $(sed -n 's/^#include "\([^"]*\)".*/\1/p' "$f"); do
		l=$(layer_of "$h")
		if [ -z "$l" ]; then
			bad="$bad
  $f: includes \"$h\", which is in no layer of include/"
			continue
		fi
		if [ "$(rank "$l")" -gt "$own_rank" ]; then
			bad="$bad
  $f: includes $l/$h, a layer above $own"
		fi
		# Handlers are leaves: only their own header and svc.h.
		if [ "$own" = handlers ] && [ "$l" = handlers ] &&
		    [ "$h" != "$(basename "$f" .c).h" ] && [ "$h" != "$(basename "$f")" ]; then
			bad="$bad
  $f: includes handlers/$h: a handler calls no other handler"
		fi
	done
	if [ -n "$bad" ]; then
		echo "FAIL layers::$f$bad"
		failed=$((failed + 1))
	else
		passed=$((passed + 1))
	fi
done
[ "$passed" -gt 0 ] || failed=$((failed + 1))
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
