#!/bin/sh
# SPDX-License-Identifier: MIT
# Runs every test tier against one build folder and prints one closing line,
# "N passed, N failed":
#   1. unit and integration suites (check):   BUILD/tests/check_*
#   2. CLI tests (shell, real processes):      tests/cli/*.sh
#   3. scenario files through `crosspost run`: tests/scenarios/*.scenario
#   4. the Python package (python/) with the system python3, unittest:
#      tests/python/test_*.py, one test each
# Expected-failure scenarios (tests/scenarios/fail/*.scenario) must exit 1.
set -u
BUILD=${1:-build}
top=$(cd "$(dirname "$0")/.." && pwd)
BUILD=$(cd "$top/$BUILD" 2>/dev/null && pwd || echo "$BUILD")
rm -f "$BUILD/test-results"
export CROSSPOST="$BUILD/crosspost" CROSSPOSTD="$BUILD/crosspostd"
export CROSSPOST_CONFORMANCE_DIR="${CROSSPOST_CONFORMANCE_DIR:-$top/tests/data}"
export CK_DEFAULT_TIMEOUT="${CK_DEFAULT_TIMEOUT:-60}"
# Tests start private brokers on sockets under their own temp folders; keep
# the user's own broker out of reach.
unset CROSSPOST_SOCKET
tmp=$(mktemp -d "${TMPDIR:-/tmp}/crosspost-test.XXXXXX")
trap 'rm -rf "$tmp"' EXIT INT TERM
export TMPDIR="$tmp"
passed=0
failed=0
failures=""

# Seconds since the previous record (or the start): each test's own time,
# kept in BUILD/test-times so that a slow test is easy to find.
last=$(date +%s.%N)
: >"$BUILD/test-times"
record() { # name status [seconds, when the test timed itself]
	now=$(date +%s.%N)
	awk -v name="$1" -v now="$now" -v last="$last" -v own="${3:-}" \
		'BEGIN { printf "%s %.2f\n", name, own != "" ? own : now - last }' >>"$BUILD/test-times"
	last=$now
	if [ "$2" -eq 0 ]; then
		passed=$((passed + 1)); echo "PASS $1"
	else
		failed=$((failed + 1)); failures="$failures $1"; echo "FAIL $1 (exit $2)"
	fi
}

echo "== $BUILD: unit and integration suites"
# Two suites at a time: each starts its own brokers on private sockets, and
# most of their time is spent waiting on sockets and timers, so a pair
# takes little longer than its longer suite on two cores.  Their output is
# shown in order once the pair is done.
run_suite() { # path: BUILD/tests/check_NAME
	start=$(date +%s.%N)
	(cd "$top" && "$1") >"$tmp/$(basename "$1").log" 2>&1
	echo $? >"$tmp/$(basename "$1").status"
	awk -v start="$start" -v end="$(date +%s.%N)" 'BEGIN { printf "%.2f\n", end - start }' \
		>"$tmp/$(basename "$1").time"
}
report_suite() { # path
	name=$(basename "$1")
	st=$(cat "$tmp/$name.status")
	grep -E '^[0-9]+%: Checks|passed, .* failed' "$tmp/$name.log" | sed "s|^|  $name: |"
	[ "$st" -ne 0 ] && sed 's/^/    /' "$tmp/$name.log" | tail -n 40
	record "$name" "$st" "$(cat "$tmp/$name.time")"
}
first=""
for t in "$BUILD"/tests/check_*; do
	[ -x "$t" ] || continue
	if [ -z "$first" ]; then first=$t; continue; fi
	run_suite "$first" &
	run_suite "$t"
	wait
	report_suite "$first"
	report_suite "$t"
	first=""
done
if [ -n "$first" ]; then
	run_suite "$first"
	report_suite "$first"
fi

echo "== $BUILD: CLI tests"
for t in "$top"/tests/cli/*.sh; do
	[ -f "$t" ] || continue
	name=cli/$(basename "$t")
	(cd "$top" && sh "$t") > "$tmp/cli.log" 2>&1
	st=$?
	[ $st -ne 0 ] && sed 's/^/    /' "$tmp/cli.log" | tail -n 40
	record "$name" $st
done

echo "== $BUILD: scenarios"
for t in "$top"/tests/scenarios/*.scenario "$top"/examples/*.scenario; do
	[ -f "$t" ] || continue
	name=scenarios/$(basename "$t")
	(cd "$top" && "$CROSSPOST" run "$t") > "$tmp/scn.log" 2>&1
	st=$?
	[ $st -ne 0 ] && sed 's/^/    /' "$tmp/scn.log" | tail -n 40
	record "$name" $st
done
for t in "$top"/tests/scenarios/fail/*.scenario; do
	[ -f "$t" ] || continue
	name=scenarios/fail/$(basename "$t")
	want=$(sed -n 's/^# expect-exit: *\([0-9]*\).*/\1/p' "$t" | head -n 1)
	(cd "$top" && "$CROSSPOST" run "$t") > "$tmp/scn.log" 2>&1
	st=$?
	if [ "$st" -eq "${want:-1}" ]; then record "$name" 0; else sed 's/^/    /' "$tmp/scn.log" | tail -n 40; record "$name" 1; fi
done

# The Python tier loads BUILD/libcrosspost.so into /usr/bin/python3 (Debian's:
# the package uses the standard library only).  An ASan build of the library
# needs the ASan runtime loaded first, so python3 runs with it preloaded;
# leak detection is off for python3 itself (the interpreter keeps memory
# until exit), not for the C programs the tests start.
echo "== $BUILD: Python package"
PYTHON=/usr/bin/python3
py_preload=""
if nm -D "$BUILD/libcrosspost.so" 2>/dev/null | grep -q ' U __asan_'; then
	py_preload=$(${CC:-cc} -print-file-name=libasan.so)
	case "$py_preload" in /*) ;; *) py_preload="" ;; esac
	[ -n "$py_preload" ] || echo "  (no libasan.so to preload: the Python tier cannot load an ASan build)"
fi
for t in "$top"/tests/python/test_*.py; do
	[ -f "$t" ] || continue
	name=python/$(basename "$t")
	if [ ! -x "$PYTHON" ]; then record "$name" 1; echo "    $PYTHON is missing (scripts/install-deps.sh installs python3)"; continue; fi
	if [ -n "$py_preload" ]; then
		(cd "$top" && LD_PRELOAD="$py_preload" ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0" \
			CROSSPOST_LIBRARY="$BUILD/libcrosspost.so" PYTHONPATH="$top/python" PYTHONDONTWRITEBYTECODE=1 \
			"$PYTHON" "$t") > "$tmp/py.log" 2>&1
	else
		(cd "$top" && CROSSPOST_LIBRARY="$BUILD/libcrosspost.so" PYTHONPATH="$top/python" PYTHONDONTWRITEBYTECODE=1 \
			"$PYTHON" "$t") > "$tmp/py.log" 2>&1
	fi
	st=$?
	grep -E '^Ran [0-9]+ tests? in' "$tmp/py.log" | sed "s|^|  $name: |"
	[ $st -ne 0 ] && sed 's/^/    /' "$tmp/py.log" | tail -n 60
	record "$name" $st
done

echo "slowest: $(sort -k2 -rn "$BUILD/test-times" | head -n 5 | awk '{printf "%s%s %.0fs", sep, $1, $2; sep = ", "}')"
[ -n "$failures" ] && echo "failed:$failures"
echo "$passed passed, $failed failed"
# For the summary line of `make check` (tests/summary.sh).
echo "$passed $failed" >"$BUILD/test-results"
[ "$failed" -eq 0 ]
