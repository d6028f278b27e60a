#!/usr/bin/env bash
# run.sh [--build DIR] [--gate PCT] [--pg] [--sanitizers] [--fuzz SECONDS]
#        [--valgrind DIR]
#   unit tests (cmocka, TAP) and integration tests (bats against the real
#   stack built in DIR, on SQLite behind lighttpd), line coverage over
#   common/, cgi-bin/ and sbin/ with a gate;
#   --pg: the integration suite again on PostgreSQL (a throwaway server
#   started here, tests/pg.sh), the PostgreSQL-only files included, behind
#   nginx instead of lighttpd (FRONT=nginx): one pass covers the other
#   engine and the other front; the files whose subject is neither (see
#   engine_free) run once;
#   --sanitizers: DIR is built with ASan and UBSan (make test's build/cov
#   is): every process of the run reports to one place, and any report
#   fails the run;
#   --fuzz: each libFuzzer target in build/fuzz for SECONDS from its corpus;
#   --valgrind: memcheck on every unit test of DIR (an unsanitized build).
# bats runs BATS_JOBS files at once (default 3: most of a test's time is
# spent waiting on processes it started, not on a core).
# Ends with "N passed, N failed"; exits non-zero on any failure or a
# coverage figure under the gate. Each section says when it started.
set -uo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root" || exit 1
build=build/cov
gate=80
sanitizers=0
fuzz=0
valgrind=""
pg=0
while [ $# -gt 0 ]; do
	case $1 in
	--build) build=$2; shift 2 ;;
	--gate) gate=$2; shift 2 ;;
	--sanitizers) sanitizers=1; shift ;;
	--fuzz) fuzz=$2; shift 2 ;;
	--valgrind) valgrind=$2; shift 2 ;;
	--pg) pg=1; shift ;;
	*) echo "usage: run.sh [--build DIR] [--gate PCT] [--pg] [--sanitizers] [--fuzz S] [--valgrind DIR]" >&2
	   exit 2 ;;
	esac
done

passed=0
failed=0
jobs=${BATS_JOBS:-3}
[[ $jobs =~ ^[1-9][0-9]?$ ]] || { echo "run.sh: BATS_JOBS must be 1 to 99" >&2; exit 2; }
# GNU parallel runs bats' jobs; without it, one file at a time.
command -v parallel >/dev/null || jobs=1

# section TITLE: a section header with the seconds since the run began.
section() { echo "== $1 (at ${SECONDS}s)"; }
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
		# Each failure with at most 15 lines of what it printed, so that a
		# long one does not hide the next.
		awk '/^not ok / { n = 0; print; next } /^#/ && n < 15 { n++; print }' "$2" |
			head -200
	fi
}

coverage=0
if ls "$build"/common/*.gcno >/dev/null 2>&1; then
	coverage=1
	find "$build" -name '*.gcda' -delete
fi

# check_pass NAME: count one passed check; check_fail NAME: one failed.
check_pass() { passed=$((passed + 1)); echo "  ok $1"; }
check_fail() { failed=$((failed + 1)); failures+=("$1"); echo "  not ok $1"; }

# unit_tests BUILD: every cmocka test binary of BUILD.
unit_tests() {
	local t name rc
	for t in "$1"/tests/unit/test_*; do
		if [ ! -x "$t" ] || [[ $t == *.gc* ]]; then continue; fi
		name=$(basename "$t")
		CMOCKA_MESSAGE_OUTPUT=TAP "$t" > "$out/$name.tap" 2>"$out/$name.err"
		rc=$?
		printf '  %-22s %3d ok, %d not ok\n' "$name" "$(grep -cE '^ok ' "$out/$name.tap")" \
			"$(grep -E '^not ok ' "$out/$name.tap" | grep -cv '# SKIP')"
		count_tap "$name" "$out/$name.tap"
		if [ $rc -ne 0 ] && ! grep -qE '^not ok ' "$out/$name.tap"; then
			echo "$name exited $rc without a failing test:"; tail -20 "$out/$name.err"
			check_fail "$name (exit $rc)"
		fi
	done
}

# marked_pids MARK: processes whose environment carries AUTH_TEST_RUN=MARK,
# i.e. everything the suite started, however deep.
marked_pids() {
	local f pid
	for f in /proc/[0-9]*/environ; do
		pid=${f#/proc/}
		pid=${pid%/environ}
		[ "$pid" = $$ ] && continue
		{ tr '\0' '\n' < "$f"; } 2>/dev/null | grep -qx "AUTH_TEST_RUN=$1" &&
			echo "$pid"
	done
}

# integration_tests BUILD FILE...: bats files against BUILD's binaries.
# Every stack a test starts must be stopped by the test: afterwards no
# process of the run may be left.
integration_tests() {
	local rc mark left build=$1
	shift
	mark=$$-$RANDOM$RANDOM
	# Files run side by side; the tests of one file one after another
	# (they share the file's setup).
	AUTH_TEST_RUN=$mark BIN_DIR="$root/$build/cgi-bin" \
		ASAN_OPTIONS="${ASAN_OPTIONS:-}${ASAN_OPTIONS:+:}detect_leaks=$leaks" bats --tap \
		--jobs "$jobs" --no-parallelize-within-files "$@" > "$out/bats.tap" 2>&1
	rc=$?
	grep -E '^(ok|not ok) ' "$out/bats.tap" | sed 's/^/  /'
	count_tap bats "$out/bats.tap"
	if [ $rc -ne 0 ] && ! grep -qE '^not ok ' "$out/bats.tap"; then
		echo "bats exited $rc:"; tail -20 "$out/bats.tap"
		check_fail "bats (exit $rc)"
	fi
	sleep 1    # a stop in progress (workers finishing) is not a leak
	left=$(marked_pids "$mark" | tr '\n' ' ')
	if [ -n "$left" ]; then
		ps -o pid,ppid,cmd -p "${left// /,}" 2>/dev/null | sed 's/^/  /'
		# shellcheck disable=SC2086 # one pid per word
		kill -KILL $left 2>/dev/null
		check_fail "processes left running by the integration tests: $left"
	else
		check_pass "no process left running by the integration tests"
	fi
}

# ASan's leak check at exit: on for the unit tests; off for the bats
# passes, where every stack is some 60 processes that each exit, and the
# check's stop-the-world scan cost 0.6-1 s of CPU per exit on a loaded
# 2-core VM (login --check-config: 1.09 s with it, 0.45 s without):
# nearly half the suite's time. valgrind checks the unit tests for leaks
# too, and bench/soak.sh watches every process kind's memory under load.
leaks=1
if [ $sanitizers -eq 1 ]; then
	# Every process of the run (tests, endpoints, masters) reports here.
	mkdir -p "$out/asan"
	export ASAN_OPTIONS="log_path=$out/asan/report:detect_leaks=1:abort_on_error=0"
	export UBSAN_OPTIONS="log_path=$out/asan/report:print_stacktrace=1:halt_on_error=1"
	leaks=0
fi

section "unit tests ($build)"
unit_tests "$build"
# The suite on SQLite; the PostgreSQL-only files run in the --pg pass.
sqlite_files=()
for f in tests/integration/*.bats; do
	case $f in */pg_*.bats) ;; *) sqlite_files+=("$f") ;; esac
done
section "integration tests ($build, SQLite, behind lighttpd)"
integration_tests "$build" "${sqlite_files[@]}"

# engine_free FILE: its subject is neither the database nor the front, so
# the SQLite pass is enough: token algorithms, key rotation, password
# hashes, the contract's documents, the FastCGI protocol on the sockets,
# the supervision of processes.
engine_free() {
	case $1 in
	*/hs256.bats|*/rotate.bats|*/yescrypt.bats|*/openapi.bats|*/fcgi_raw.bats|*/supervise.bats) return 0 ;;
	esac
	return 1
}

if [ "$pg" -eq 1 ]; then
	section "integration tests ($build, PostgreSQL, behind nginx)"
	# shellcheck source=tests/pg.sh
	. tests/pg.sh
	trap 'pg_stop; rm -rf "$out"' EXIT
	pg_files=()
	for f in tests/integration/*.bats; do
		engine_free "$f" || pg_files+=("$f")
	done
	if pg_start "$out/pg"; then
		AUTH_TEST_PG=1 AUTH_TEST_FRONT=nginx integration_tests "$build" "${pg_files[@]}"
		pg_stop
	else
		check_fail "a PostgreSQL server for the tests"
	fi
fi

if [ $sanitizers -eq 1 ]; then
	unset ASAN_OPTIONS UBSAN_OPTIONS
	# LeakSanitizer's "Unable to get registers from thread" alone is no
	# finding: its leak check at exit lost a race with a SIGKILL the crash
	# and supervision tests send to every process of a node.
	for r in "$out"/asan/report.*; do
		[ -e "$r" ] || continue
		if ! grep -qv 'Unable to get registers from thread' "$r"; then
			rm -f "$r"
		fi
	done
	if ls "$out"/asan/report.* >/dev/null 2>&1; then
		head -60 "$out"/asan/report.*
		check_fail "sanitizer reports ($(find "$out/asan" -name 'report.*' | wc -l))"
	else
		check_pass "no sanitizer report"
	fi
fi

if [ $coverage -eq 1 ]; then
	section "coverage (lines, common/, cgi-bin/ and sbin/)"
	mkdir -p coverage
	lcov --quiet --capture --directory "$build" --base-directory "$root" \
		--output-file coverage/all.info >/dev/null 2>"$out/lcov.err" &&
	lcov --quiet --extract coverage/all.info "$root/common/*" "$root/cgi-bin/*" "$root/sbin/*" \
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

if [ "$fuzz" -gt 0 ]; then
	section "fuzzing (${fuzz}s per target)"
	pids=()
	for f in build/fuzz/fuzz_*; do
		[ -x "$f" ] || continue
		name=${f##*/fuzz_}
		mkdir -p "$out/corpus-$name"
		# New inputs go to the scratch corpus; the committed seeds stay as they are.
		"$f" -max_total_time="$fuzz" -max_len=8192 -timeout=10 -rss_limit_mb=1024 \
			-artifact_prefix="$out/$name-" "$out/corpus-$name" "tests/fuzz/corpus/$name" \
			> "$out/fuzz-$name.log" 2>&1 &
		pids+=("$!:$name")
	done
	for p in "${pids[@]}"; do
		if wait "${p%%:*}"; then
			check_pass "fuzz_${p#*:} ($(grep -oE 'Done [0-9]+ runs' "$out/fuzz-${p#*:}.log"))"
		else
			tail -40 "$out/fuzz-${p#*:}.log"
			check_fail "fuzz_${p#*:}"
		fi
	done
fi

if [ -n "$valgrind" ]; then
	section "valgrind memcheck (unit tests of $valgrind)"
	# shellcheck disable=SC2016 # expanded by the inner sh, not here
	for t in "$valgrind"/tests/unit/test_*; do
		[ -x "$t" ] && [[ $t != *.gc* ]] && echo "$t"
	done | xargs -P "$(nproc)" -I{} sh -c 'CMOCKA_MESSAGE_OUTPUT=TAP valgrind -q \
		--error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite,indirect \
		--show-leak-kinds=definite,indirect "$1" > "$2/vg-$(basename "$1").log" 2>&1;
		echo "$? $(basename "$1")"' _ {} "$out" > "$out/valgrind.results"
	# Any failure counts, not only valgrind's own exit status: a report
	# in a forked child fails the test that ran it, and the binary exits
	# with its number of failed tests.
	while read -r rc name; do
		if [ "$rc" != 0 ]; then
			grep -E '^==|^not ok' "$out/vg-$name.log" | head -30
			check_fail "valgrind $name (exit $rc)"
		else
			check_pass "valgrind $name"
		fi
	done < "$out/valgrind.results"
fi

echo "== done in ${SECONDS}s"
[ ${#failures[@]} -eq 0 ] || echo "failed: ${failures[*]}"
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
