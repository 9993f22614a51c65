# SPDX-License-Identifier: MIT
# bash completion (completion/crosspost.bash) offers every command of
# `crosspost --help` and every option each `crosspost COMMAND --help` and
# `crosspostd --help` prints, so that it cannot fall behind them; and the
# values it knows: log levels and targets, limits, scenario files, the
# names of live windows for `post --to`.
set -eu
. "$(dirname "$0")/../helpers/cli-lib.sh"
plain_tier_only

top=$(pwd)
# complete WORD...: what bash offers for the command line WORD... (the last
# word is the one being completed), one per line.
cat >"$T/complete.bash" <<'BASH'
set -u
source "$COMPLETION"
function_of() { complete -p "$1" | sed -n 's/.* -F \([^ ]*\) .*/\1/p'; }
CROSSPOST_FN=$(function_of crosspost)
CROSSPOSTD_FN=$(function_of crosspostd)
[ -n "$CROSSPOST_FN" ] && [ -n "$CROSSPOSTD_FN" ] || { echo "not registered" >&2; exit 3; }
COMP_WORDS=("$@")
COMP_CWORD=$(($# - 1))
COMP_LINE="$*"
COMP_POINT=${#COMP_LINE}
COMPREPLY=()
case $1 in
*crosspostd) fn=$CROSSPOSTD_FN ;;
*) fn=$CROSSPOST_FN ;;
esac
"$fn" "$1" "${COMP_WORDS[COMP_CWORD]}" "${COMP_WORDS[COMP_CWORD-1]}"
printf '%s\n' "${COMPREPLY[@]}"
BASH
complete() { COMPLETION="$top/completion/crosspost.bash" bash "$T/complete.bash" "$@"; }

# The long options a --help text names, but those quoted in `...` (which
# name another command's).
options_of() { sed 's/`[^`]*`//g' | grep -o -- '--[a-z][a-z0-9-]*' | sort -u; }

# expect_offers WHAT OFFERED WORD...: each WORD is in OFFERED.
expect_offers() {
	what=$1 offered=$2
	shift 2
	missing=""
	for w in "$@"; do
		printf '%s\n' "$offered" | grep -qxF -- "$w" || missing="$missing $w"
	done
	[ -z "$missing" ] && pass "$what ($#)" || fail "$what: missing$missing (offered: $(echo $offered))"
}

complete crosspost x >/dev/null && pass "both functions are registered with complete" ||
	fail "crosspost.bash does not register its functions"

commands=$("$CROSSPOST" --help | sed -n '/^Commands:/,/^$/s/^  \([a-z][a-z-]*\) .*/\1/p')
[ -n "$commands" ] && pass "crosspost --help lists commands: $(echo $commands)" || fail "no commands in crosspost --help"
# shellcheck disable=SC2086
expect_offers "crosspost TAB offers every command" "$(complete crosspost '')" $commands help
# shellcheck disable=SC2046
expect_offers "crosspost -TAB offers the top-level options" "$(complete crosspost -)" \
	$("$CROSSPOST" --help | options_of | grep -vx -- '--socket')

for c in $commands; do
	if ! help=$("$CROSSPOST" "$c" --help 2>/dev/null); then
		# `crosspost version` takes no options, not even --help.
		expect_eq "crosspost $c -TAB offers nothing: it takes no options" "$(complete crosspost "$c" -)" ""
		continue
	fi
	opts=$(printf '%s\n' "$help" | options_of)
	# shellcheck disable=SC2086
	expect_offers "crosspost $c -TAB offers every option of its --help" "$(complete crosspost "$c" -)" $opts
done

# shellcheck disable=SC2046
expect_offers "crosspostd -TAB offers every option of its --help" "$(complete crosspostd -)" \
	$("$CROSSPOSTD" --help | options_of)
expect_offers "crosspost gateway --log-level TAB" "$(complete crosspost gateway --log-level '')" error warning info debug
expect_offers "crosspostd --log-level TAB" "$(complete crosspostd --log-level '')" error warning info debug
expect_offers "crosspostd --log-target TAB" "$(complete crosspostd --log-target '')" stderr syslog journal
expect_offers "crosspostd --log-target=TAB" "$(complete crosspostd --log-target = '')" stderr syslog journal
# shellcheck disable=SC2046
expect_offers "crosspostd --limit TAB offers every limit of --print-limits" \
	"$(complete "$CROSSPOSTD" --limit '')" $("$CROSSPOSTD" --print-limits | sed -n 's/^\([a-z-]*\) = .*/\1=/p')

mkdir -p "$T/files/dir"
: >"$T/files/a.scenario"
: >"$T/files/notes.txt"
got=$(cd "$T/files" && complete crosspost run '')
expect_offers "crosspost run TAB offers scenario files and folders" "$got" a.scenario dir
case "$got" in *notes.txt*) fail "crosspost run offers a file that is not a scenario" ;; *) pass "and no other files" ;; esac
expect_offers "crosspost post -f TAB offers any file" "$(cd "$T/files" && complete crosspost post u -f '')" \
	a.scenario notes.txt dir
expect_offers "crosspost post --timeout TAB offers durations" "$(complete crosspost post u --timeout '')" 1s 10s
expect_offers "crosspost post --target-origin TAB" "$(complete crosspost post u --target-origin '')" '\*' /

# --to: the names of the broker's live windows.
start_broker
listen_bg "$T/listen.out" https://b.example --name inbox-b
expect_offers "crosspost post --to TAB offers live window names" \
	"$(complete "$CROSSPOST" post https://a.example --to in)" inbox-b
expect_offers "... from the broker that --socket names" \
	"$(CROSSPOST_SOCKET=/nonexistent complete "$CROSSPOST" post --socket "$CROSSPOST_SOCKET" u --to '')" inbox-b
finish
