# SPDX-License-Identifier: MIT
# The man pages (man/*.scd, built by scdoc into BUILD/man) render without
# a warning, and cannot fall behind what they document:
#   libcrosspost(3)       names every cp_* function client/crosspost.h declares,
#                         and its prototypes compile against the header;
#   crosspost(1)          every command of `crosspost --help`, and in each
#                         command's section every option of its --help;
#   crosspostd(8)         every option of `crosspostd --help`;
#   crosspost.conf(5)     every limit of --print-limits and every section and
#                         key broker/config.c accepts; its example is valid;
#   crosspost-scenario(5) every statement and option of docs/scenarios.md's
#                         tables, and its examples run and pass.
set -eu
. "$(dirname "$0")/../helpers/cli-lib.sh"
plain_tier_only

build=$(dirname "$CROSSPOST")
man="$build/man"

# The page as plain text, one long line per paragraph (no hyphenation, no
# wrapping), as a reader sees it.
text_of() { groff -man -Tascii -P-cbou -rLL=4000n -rHY=0 "$1" 2>/dev/null; }
# The text of one (sub)section: from the line that is its heading to the next.
section_of() { text_of "$1" | awk -v h="$2" '$0 == h {on = 1; next} on && /^(   )?[A-Za-z]/ {exit} on'; }

for src in man/*.scd; do
	page="$man/$(basename "$src" .scd)"
	if [ ! -f "$page" ]; then fail "$page is not built (make man; scdoc missing?)"; continue; fi
	warnings=$(groff -man -Tutf8 -ww -z "$page" 2>&1)
	expect_eq "$(basename "$page") renders without warnings" "$warnings" ""
	name=$(basename "$page")
	expect_contains "$name has NAME, SYNOPSIS and SEE ALSO" \
		"$(text_of "$page" | grep -E '^(NAME|SYNOPSIS|SEE ALSO)$' | tr '\n' ' ')" "NAME SYNOPSIS SEE ALSO"
done

# --- libcrosspost(3): every function of the public header ------------------
page="$man/libcrosspost.3"
text=$(text_of "$page")
functions=$(cc -E -P -Iclient client/crosspost.h | tr '\n' ' ' | grep -o 'cp_[a-z0-9_]*[ ]*(' | tr -d ' (' | sort -u)
count=$(printf '%s\n' "$functions" | wc -l)
[ "$count" -gt 100 ] && pass "crosspost.h declares $count cp_* functions" || fail "only $count functions found in crosspost.h"
missing=""
for f in $functions; do
	printf '%s\n' "$text" | grep -qw -- "$f" || missing="$missing $f"
done
expect_eq "libcrosspost(3) names every function of crosspost.h" "$missing" ""
# Each prototype block redeclares its functions after the header: a
# prototype that drifted from the header is a conflicting declaration.
# (scdoc reads \\ as one backslash in code blocks too.)
sed 's/\\\\/\\/g' man/libcrosspost.3.scd |
	awk '/^```$/ {n++; next} n % 2 == 1 {print > (dir "/block" (n + 1) / 2 ".c")}' dir="$T"
{
	echo '#include <crosspost.h>'
	echo '#include <event2/event.h>'
	for b in "$T"/block*.c; do
		case "$(head -n 1 "$b")" in
		'#include'*) ;;                                   # the SYNOPSIS
		'cp_client *c;'*) echo 'void example(void) {'; cat "$b"; echo '}' ;;
		*) cat "$b" ;;
		esac
	done
} >"$T/prototypes.c"
if cc -std=c11 -Wall -Werror -Iclient -fsyntax-only "$T/prototypes.c" 2>"$T/cc.err"; then
	pass "libcrosspost(3)'s prototypes and example compile against crosspost.h"
else
	fail "libcrosspost(3)'s code does not match crosspost.h: $(head -n 5 "$T/cc.err")"
fi

# --- crosspost(1): every command, and each command's options ----------------
page="$man/crosspost.1"
commands=$("$CROSSPOST" --help | sed -n '/^Commands:/,/^$/s/^  \([a-z][a-z-]*\) .*/\1/p')
options_of() { sed 's/`[^`]*`//g' | grep -o -- '--[a-z][a-z0-9-]*' | sort -u; }
for c in $commands; do
	section=$(section_of "$page" "   $c")
	if [ -z "$section" ]; then fail "crosspost(1) has no section for the command $c"; continue; fi
	pass "crosspost(1) has a section for $c"
	help=$("$CROSSPOST" "$c" --help 2>/dev/null) || continue
	missing=""
	for o in $(printf '%s\n' "$help" | options_of); do
		printf '%s\n' "$section" | grep -q -- "$o" || missing="$missing $o"
	done
	expect_eq "crosspost(1), $c: every option of crosspost $c --help" "$missing" ""
done
missing=""
for o in $("$CROSSPOST" --help | options_of); do
	text_of "$page" | grep -q -- "$o" || missing="$missing $o"
done
expect_eq "crosspost(1): the options of crosspost --help" "$missing" ""

# --- crosspostd(8) ---------------------------------------------------------
page="$man/crosspostd.8"
section=$(section_of "$page" "OPTIONS")
missing=""
for o in $("$CROSSPOSTD" --help | options_of); do
	printf '%s\n' "$section" | grep -q -- "$o" || missing="$missing $o"
done
expect_eq "crosspostd(8): OPTIONS has every option of crosspostd --help" "$missing" ""
for s in "SOCKET ACTIVATION" SIGNALS FILES "EXIT STATUS" EXAMPLES; do
	[ -n "$(section_of "$page" "$s")" ] && pass "crosspostd(8) has $s" || fail "crosspostd(8) has no $s"
done

# --- crosspost.conf(5) -------------------------------------------------------
page="$man/crosspost.conf.5"
text=$(text_of "$page")
missing=""
for k in $("$CROSSPOSTD" --print-limits | sed -n 's/^\([a-z-]*\) = .*/\1/p'); do
	printf '%s\n' "$text" | grep -q -- "$k" || missing="$missing $k"
done
expect_eq "crosspost.conf(5) has every limit of --print-limits" "$missing" ""
# The messages that list them, with C's adjacent string literals joined.
config_c=$(tr '\n\t' '  ' <broker/config.c | sed 's/"  *"//g')
keys=$(printf '%s\n' "$config_c" | grep -o '(keys: [^)]*)' | sed 's/(keys: //; s/)//' | tr -d ',')
sections=$(printf '%s\n' "$config_c" | grep -o '(sections: [^)]*)' | grep -o '\[[a-z]*' | tr -d '[')
[ -n "$keys" ] && [ -n "$sections" ] && pass "broker/config.c lists its keys and sections" ||
	fail "cannot read the keys or sections from broker/config.c"
missing=""
for k in $keys; do printf '%s\n' "$text" | grep -q -- "$k =" || missing="$missing $k"; done
for s in $sections; do printf '%s\n' "$text" | grep -q -- "\[$s" || missing="$missing [$s]"; done
expect_eq "crosspost.conf(5) has every section and key of broker/config.c" "$missing" ""
awk '/^# EXAMPLE/ {on = 1} on && /^```$/ {n++; next} on && n == 1' man/crosspost.conf.5.scd >"$T/example.conf"
capture "$CROSSPOSTD" --config "$T/example.conf" --check-config
expect_eq "crosspost.conf(5)'s example is a valid file" "$RC:$OUT" "0:$T/example.conf: ok: 4 policy sections"

# --- crosspost-scenario(5) ---------------------------------------------------
page="$man/crosspost-scenario.5"
text=$(text_of "$page")
missing=""
awk '/^\| statement \| meaning \| can fail \|/ {t = 1; next} t && /^$/ {t = 0} t' docs/scenarios.md |
	sed -n 's/^| \(\*\*(addition)\*\* \)\{0,1\}`\([^`]*\)`.*/\2/p' | sed 's/\\|/|/g' >"$T/statements"
[ "$(wc -l <"$T/statements")" -ge 15 ] && pass "docs/scenarios.md lists $(wc -l <"$T/statements") statements" ||
	fail "cannot read the statements of docs/scenarios.md"
while IFS= read -r st; do
	printf '%s\n' "$text" | grep -qF -- "$st" || missing="$missing [$st]"
done <"$T/statements"
expect_eq "crosspost-scenario(5) has every statement of docs/scenarios.md, as written there" "$missing" ""
options=$(awk '/^\| option \| statements \|/ {t = 1; next} t && /^$/ {t = 0} t' docs/scenarios.md |
	sed -n 's/^| `\([a-z-]*\)[=`].*/\1/p' | sort -u)
[ "$(printf '%s\n' "$options" | wc -w)" -ge 10 ] && pass "docs/scenarios.md lists $(echo $options | wc -w) options" ||
	fail "cannot read the options of docs/scenarios.md"
missing=""
for o in $options; do
	printf '%s\n' "$text" | grep -qE -- "(^| |\[)$o(=| )" || missing="$missing $o"
done
expect_eq "crosspost-scenario(5) has every option of docs/scenarios.md" "$missing" ""
awk '/^```$/ {n++; next} n % 2 == 1 {print > (dir "/example" (n + 1) / 2 ".scenario")}' dir="$T" \
	man/crosspost-scenario.5.scd
for f in "$T"/example*.scenario; do
	capture "$CROSSPOST" run "$f"
	expect_eq "crosspost-scenario(5): $(basename "$f") runs and passes" "$RC" "0"
	[ "$RC" -eq 0 ] || cat "$T/out" "$T/err"
done
finish
