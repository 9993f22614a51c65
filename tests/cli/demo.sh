# SPDX-License-Identifier: MIT
# `make demo` (scripts/demo.sh) runs to the end, and the commands it shows
# can be pasted into a shell: read back, each is the words that were run.
set -eu
. "$(dirname "$0")/../helpers/cli-lib.sh"

capture sh scripts/demo.sh "$(dirname "$CROSSPOST")"
expect_eq "the demo exits 0" "$RC" "0"
expect_contains "the demo runs to the end" "$OUT" "Done: everything started by the demo has been stopped."
printf '%s\n' "$OUT" >"$T/demo.out"

# words LINE: the words a shell reads from the shown command, one a line.
words() {
	(
		crosspost() { printf '<%s>\n' "$@"; }
		eval "${1#\$ }"
	)
}
line=$(grep -F -- '--to c --target-origin' "$T/demo.out" | head -n 1)
expect_eq "a shown command reads back as the words that ran" "$(words "$line")" "$(printf '<%s>\n' post \
	https://a.example:8443/page --name a --to c --target-origin '*' '["to c", true, null, 2.5]')"
line=$(grep -F -- "--target-origin https://b.example " "$T/demo.out" | head -n 1)
expect_eq "JSON with quotes reads back unchanged" "$(words "$line" | tail -n 1)" '<{"greeting":"hello b","n":1}>'
line=$(grep -F -- "'not a url'" "$T/demo.out" | head -n 1)
expect_eq "an argument with spaces stays one word" "$(words "$line" | sed -n 8p)" '<not a url>'
n=0
while IFS= read -r line; do
	case "$line" in '$ crosspost '*) n=$((n + 1)); words "$line" >/dev/null || fail "cannot read back: $line" ;; esac
done <"$T/demo.out"
[ "$n" -ge 6 ] && pass "$n commands shown" || fail "only $n commands shown"
expect_contains "the demo shows the broker's drop, labelled" "$OUT" \
	"targetOrigin 'https://evil.example' does not match the target's origin 'https://b.example'"
expect_contains "the demo shows what crosspost monitor saw: the delivery to b" "$OUT" \
	"message      window 3 'a' (https://a.example:8443) -> window 1 'b' (https://b.example) targetOrigin https://b.example"
expect_contains "... the drop, with its reason" "$OUT" \
	"dropped      window 4 'a' (https://a.example:8443) -> window 1 'b' (https://b.example) targetOrigin https://evil.example"
finish
