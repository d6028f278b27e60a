#!/usr/bin/env bash
# run.sh [--build DIR] [--gate PCT]: the whole test suite on one build.
#   unit tests (cmocka, TAP), integration tests (bats against the real stack
#   built in DIR), then line coverage over common/ and cgi-bin/ with a gate.
# Ends with "N passed, N failed"; exits non-zero on any failure or a
# coverage figure under the gate.
set -uo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root" || exit 1
build=build/cov
gate=80
while [ $# -gt 0 ]; do
	case $1 in
	--build) build=$2; shift 2 ;;
	--gate) gate=$2; shift 2 ;;
	*) echo "usage: run.sh [--build DIR] [--gate PCT]" >&2; exit 2 ;;
	esac
done

passed=0
failed=0
failures=()
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT

# count_tap NAME FILE: add a TAP stream's results to the totals.
count_tap() {
	local p f
	# cmocka and bats print a skipped test as "... # SKIP": not a failure.
	p=$(grep -cE '^ok ' "$2")
	f=$(grep -E '^not ok ' "$2" | grep -cv '# SKIP')
	passed=$((passed + p))
	failed=$((failed + f))
	if [ "$f" -gt 0 ]; then
		failures+=("$1")
		grep -E '^not ok |^#' "$2" | head -40
	fi
}

coverage=0
if ls "$build"/common/*.gcno >/dev/null 2>&1; then
	coverage=1
	find "$build" -name '*.gcda' -delete
fi

echo "== unit tests"
for t in "$build"/tests/unit/test_*; do
	[ -x "$t" ] || continue
	name=$(basename "$t")
	CMOCKA_MESSAGE_OUTPUT=TAP "$t" > "$out/$name.tap" 2>"$out/$name.err"
	rc=$?
	printf '%-22s %3d ok, %d not ok\n' "$name" "$(grep -cE '^ok ' "$out/$name.tap")" \
		"$(grep -cE '^not ok ' "$out/$name.tap")"
	count_tap "$name" "$out/$name.tap"
	if [ $rc -ne 0 ] && ! grep -qE '^not ok ' "$out/$name.tap"; then
		echo "$name exited $rc without a failing test:"; tail -20 "$out/$name.err"
		failed=$((failed + 1)); failures+=("$name (exit $rc)")
	fi
done

echo "== integration tests"
BIN_DIR="$root/$build/cgi-bin" bats --tap tests/integration > "$out/bats.tap" 2>&1
rc=$?
grep -E '^(ok|not ok) ' "$out/bats.tap" | sed 's/^/  /'
count_tap bats "$out/bats.tap"
if [ $rc -ne 0 ] && ! grep -qE '^not ok ' "$out/bats.tap"; then
	echo "bats exited $rc:"; tail -20 "$out/bats.tap"
	failed=$((failed + 1)); failures+=("bats (exit $rc)")
fi

if [ $coverage -eq 1 ]; then
	echo "== coverage (lines, common/ and cgi-bin/)"
	mkdir -p coverage
	lcov --quiet --capture --directory "$build" --base-directory "$root" \
		--output-file coverage/all.info >/dev/null 2>"$out/lcov.err" &&
	lcov --quiet --extract coverage/all.info "$root/common/*" "$root/cgi-bin/*" \
		--output-file coverage/lcov.info >/dev/null 2>>"$out/lcov.err"
	lcov --list coverage/lcov.info 2>/dev/null | sed -n '1,40p'
	pct=$(lcov --summary coverage/lcov.info 2>&1 | sed -n 's/.*lines\.*: \([0-9.]*\)%.*/\1/p')
	if [ -z "$pct" ]; then
		echo "coverage: no figure"; cat "$out/lcov.err"
		failed=$((failed + 1)); failures+=("coverage")
	elif awk -v p="$pct" -v g="$gate" 'BEGIN { exit !(p + 0 < g + 0) }'; then
		echo "coverage: ${pct}% of lines is under the ${gate}% gate"
		failed=$((failed + 1)); failures+=("coverage gate")
	else
		echo "coverage: ${pct}% of lines (gate ${gate}%); report in coverage/lcov.info"
	fi
fi

[ ${#failures[@]} -eq 0 ] || echo "failed: ${failures[*]}"
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
