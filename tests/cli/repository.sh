# SPDX-License-Identifier: MIT
# The repository stands alone, and make check and the build say what they
# do in few words: nothing tracked points outside the repository, the
# summary line adds up both passes, and the build prints one short line per
# file unless V=1.
set -eu
. "$(dirname "$0")/../helpers/cli-lib.sh"

if git rev-parse --git-dir >/dev/null 2>&1; then
	# The folder beside the checkout that the project's reading material
	# lives in; spelled in two pieces so that this line does not match.
	beside='\.\./sha''red'
	outside=$(git grep -n -e "$beside" -- . || true)
	expect_eq "no tracked file points outside the repository" "$outside" ""
else
	pass "not a git checkout: the outside-references check needs git grep (skipped)"
fi
expect_eq "the installed header names nothing outside the repository" \
	"$(grep -c -e '\.\./' client/crosspost.h || true)" "0"
[ -s tests/data/urltestdata.json ] && pass "the URL test data is in the repository" || fail "tests/data/urltestdata.json is missing"

# The summary of make check: both passes, added up.
mkdir -p "$T/plain" "$T/asan"
echo "100 0" >"$T/plain/test-results"
echo "99 1" >"$T/asan/test-results"
capture sh tests/summary.sh plain="$T/plain" asan+ubsan="$T/asan"
expect_eq "summary line" "$OUT" "check: 199 passed, 1 failed (plain 100/100, asan+ubsan 99/100)"
expect_eq "a failed pass fails the summary" "$RC" "1"
rm "$T/asan/test-results"
capture sh tests/summary.sh plain="$T/plain" asan+ubsan="$T/asan"
expect_eq "a pass that did not run fails the summary" "$RC" "1"
expect_contains "and says so" "$ERR" "the asan+ubsan pass did not run"

# Quiet by default: one short line per file; V=1 shows the command.
capture make --no-print-directory BUILD="$T/quiet" "$T/quiet/obj/common/log.o"
expect_eq "quiet build exits 0" "$RC" "0"
expect_contains "quiet build names the file" "$OUT" "  CC    common/log.c"
case "$OUT" in *"-Wall"*) fail "quiet build printed a command line: $OUT" ;; *) pass "quiet build prints no command line" ;; esac
rm -f "$T/quiet/obj/common/log.o"
capture make --no-print-directory V=1 BUILD="$T/quiet" "$T/quiet/obj/common/log.o"
expect_contains "V=1 shows the command line" "$OUT" "-Wall"
finish
