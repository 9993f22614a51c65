# SPDX-License-Identifier: MIT
# Every scenario of tests/scenarios/ against a real browser: `crosspost run
# --compare chromium` runs each file natively and in headless Chromium (one
# Chromium for the whole set) and must report no difference that
# tests/scenarios/chromium.known does not list, each listed one pointing at
# a section of docs/differences.md that exists.  That the check can fail is
# checked too: without the list, a file with a known difference fails.
# And `--browser chromium` alone runs a file in Chromium with the same
# expectations.  The plain tier only: the ASan tier runs the same runner
# code natively in tests/scenarios, and a second Chromium pass would only
# add a minute.  Where Chromium is not installed it says it skipped
# (scripts/install-browser-deps.sh installs it).  Nothing listens anywhere: Chromium talks over a pipe, and every
# page is answered by the runner.
set -eu
. "$(dirname "$0")/../helpers/cli-lib.sh"

if ! command -v "${CROSSPOST_CHROMIUM:-chromium}" >/dev/null 2>&1; then
	pass "skipped: no Chromium (sh scripts/install-browser-deps.sh installs it)"
	finish
	exit 0
fi
if grep -q __asan_init "$CROSSPOST" 2>/dev/null; then
	pass "skipped: $CROSSPOST is the ASan build; the plain tier compares with Chromium"
	finish
	exit 0
fi

known=tests/scenarios/chromium.known
# Every section the list names is a heading of docs/differences.md (the
# anchor as GitHub makes it: lower case, punctuation dropped, spaces -).
anchors=$(sed -n 's/^#\{2,4\} //p' docs/differences.md | tr 'A-Z' 'a-z' | sed 's/[^a-z0-9 -]//g; s/ /-/g')
missing=""
for ref in $(sed -n 's/^[^#][^ ]* *docs\/differences.md#\([^ ]*\).*/\1/p' "$known"); do
	printf '%s\n' "$anchors" | grep -qxF -- "$ref" || missing="$missing $ref"
done
expect_eq "every difference chromium.known expects is explained in docs/differences.md" "$missing" ""
entries=$(grep -c '^[a-z_]*\.scenario:[0-9]' "$known")
[ "$entries" -ge 4 ] && pass "chromium.known lists $entries expected differences" || fail "chromium.known lists $entries"

capture "$CROSSPOST" run --compare chromium --known "$known" tests/scenarios/*.scenario
expect_eq "crosspost run --compare chromium tests/scenarios/*.scenario: exit 0" "$RC" 0
summary=$(printf '%s\n' "$OUT" | grep '^# compared with Chromium:' || true)
expect_contains "no unexplained difference ($summary)" "$summary" " 0 unexplained,"
printf '%s\n' "$OUT" | grep '^not ok' | head -n 20 | sed 's/^/    /'
same=$(printf '%s\n' "$summary" | sed -n 's/.*: \([0-9]*\) the same.*/\1/p')
[ "${same:-0}" -ge 300 ] && pass "$same points observed alike" || fail "only ${same:-0} points observed alike"
not_compared=""
for f in tests/scenarios/*.scenario; do
	printf '%s\n' "$OUT" | grep -q "^ok [0-9]* - $f:[0-9]* " || not_compared="$not_compared $f"
done
expect_eq "every file of tests/scenarios has points compared" "$not_compared" ""

# The same comparison without the list: a known difference fails it.
capture "$CROSSPOST" run --compare chromium tests/scenarios/ports_close.scenario
expect_eq "without --known, a closed port Chromium transfers is a difference: exit 1" "$RC" 1
expect_contains "and says which point" "$OUT" "ports_close.scenario:39 a expect error DataCloneError: crosspost and Chromium differ"
expect_contains "with both observations" "$OUT" 'chromium: {"error":null}'

# --browser alone: the expectations of basic.scenario hold in Chromium.
capture "$CROSSPOST" run --browser chromium tests/scenarios/basic.scenario
expect_eq "crosspost run --browser chromium basic.scenario: exit 0" "$RC" 0
expect_contains "all its points pass in Chromium" "$OUT" "# 10 passed, 0 failed"
# ... and what a browser cannot express is a skipped point with its reason.
capture "$CROSSPOST" run --browser chromium tests/scenarios/kill.scenario
expect_contains "kill is skipped in a browser, with why" "$OUT" "kill # SKIP in a browser: a page cannot be killed"
expect_eq "and the file does not fail" "$RC" 0

finish
