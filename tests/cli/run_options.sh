# SPDX-License-Identifier: MIT
# `crosspost run`'s options, against private brokers: the closing summary
# line, --filter (a named block, or the statements up to one test point),
# --timeout for a whole file, --junit FILE, and --verbose's reason for a
# message the broker dropped.
set -eu
. "$(dirname "$0")/../helpers/cli-lib.sh"

S=$T/blocks.scenario
cat >"$S" <<'SCN'
window a https://a.example
window b https://b.example
## delivered
a post b "one" target=*
b expect message "one"
## dropped
a post b "two" target=https://wrong.example
b expect message "two" within=200ms
## slow
sleep 5s
b expect nothing
SCN

capture "$CROSSPOST" run --filter delivered "$S"
expect_eq "--filter BLOCK exits 0" "$RC" "0"
expect_contains "--filter BLOCK runs the block" "$OUT" "ok 1 - $S:5 b expect message"
expect_contains "the plan counts the block's points only" "$OUT" "1..1"
expect_contains "the closing summary line" "$OUT" "# 1 passed, 0 failed"

capture "$CROSSPOST" run --filter ":8 b expect message" --verbose "$S"
expect_eq "--filter POINT: that point fails, exit 1" "$RC" "1"
expect_contains "--filter POINT reports that point" "$OUT" "not ok 1 - $S:8 b expect message"
case "$OUT" in *"- $S:5"*) fail "--filter POINT reports other points" ;; *) pass "--filter POINT reports no other point" ;; esac
expect_contains "--verbose: the broker's reason, both origins" "$OUT" \
	"broker_dropped: [\"window 1 (https://a.example) -> window 2: targetOrigin 'https://wrong.example' does not match the target's origin 'https://b.example'\"]"
expect_contains "the summary counts the failure" "$OUT" "# 0 passed, 1 failed"

capture "$CROSSPOST" run --filter "no such thing" "$S"
expect_eq "--filter matching nothing exits 2" "$RC" "2"
expect_contains "--filter matching nothing says so" "$ERR" "--filter no such thing: no block of that name"

# 3 s: enough for the first blocks on a loaded machine under ASan, less
# than the last block's 5 s.
capture "$CROSSPOST" run --timeout 3s --junit "$T/junit.xml" "$S"
expect_eq "--timeout: a file that runs longer fails, exit 1" "$RC" "1"
expect_contains "--timeout: a failed point names the limit" "$OUT" "the file ran longer than --timeout 3000ms"
expect_contains "--timeout: the summary" "$OUT" "# 1 passed, 2 failed"
[ -s "$T/junit.xml" ] && pass "--junit writes the file" || fail "--junit wrote nothing"
xml=$(cat "$T/junit.xml")
expect_contains "--junit: totals" "$xml" '<testsuites name="crosspost run" tests="3" failures="2" errors="0">'
expect_contains "--junit: a passed point" "$xml" "<testcase classname=\"$S\" name=\"$S:5 b expect message\"/>"
expect_contains "--junit: a failure carries its diagnostics" "$xml" "<failure message=\"$S:8 b expect message\">"
if command -v python3 >/dev/null 2>&1; then
	python3 -c 'import sys, xml.dom.minidom; xml.dom.minidom.parse(sys.argv[1])' "$T/junit.xml" &&
		pass "--junit writes well-formed XML" || fail "--junit's XML does not parse"
fi

cat >"$T/cross.scenario" <<'SCN'
window a https://a.example
## one
window b https://b.example
## two
a post b 1 target=*
SCN
capture "$CROSSPOST" run --filter two "$T/cross.scenario"
expect_eq "--filter: a block naming another block's window exits 2" "$RC" "2"
expect_contains "and says which" "$ERR" "--filter two: 'b' is declared in block 'one' (line 3), which does not run"

capture "$CROSSPOST" run --timeout 2 "$S"
expect_eq "--timeout needs a unit" "$RC" "2"
capture "$CROSSPOST" run --filter "" "$S"
expect_eq "--filter needs a pattern" "$RC" "2"
finish
