#!/bin/sh
# SPDX-License-Identifier: MIT
# Runs every test tier against one build folder and prints one closing line,
# "N passed, N failed":
#   1. unit and integration suites (check):   BUILD/tests/check_*
#   2. CLI tests (shell, real processes):      tests/cli/*.sh
#   3. scenario files through `crosspost run`: tests/scenarios/*.scenario
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

record() { # name status
	if [ "$2" -eq 0 ]; then
		passed=$((passed + 1)); echo "PASS $1"
	else
		failed=$((failed + 1)); failures="$failures $1"; echo "FAIL $1 (exit $2)"
	fi
}

echo "== $BUILD: unit and integration suites"
for t in "$BUILD"/tests/check_*; do
	[ -x "$t" ] || continue
	name=$(basename "$t")
	(cd "$top" && "$t") > "$tmp/$name.log" 2>&1
	st=$?
	grep -E '^[0-9]+%: Checks|passed, .* failed' "$tmp/$name.log" | sed "s/^/  $name: /"
	[ $st -ne 0 ] && sed 's/^/    /' "$tmp/$name.log" | tail -n 40
	record "$name" $st
done

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

[ -n "$failures" ] && echo "failed:$failures"
echo "$passed passed, $failed failed"
# For the summary line of `make check` (tests/summary.sh).
echo "$passed $failed" >"$BUILD/test-results"
[ "$failed" -eq 0 ]
