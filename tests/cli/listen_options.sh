# SPDX-License-Identifier: MIT
# crosspost listen --origin (only events of these origins) and --format (a
# line format of the user's, besides the JSON default).
set -eu
. "$(dirname "$0")/../helpers/cli-lib.sh"

start_broker

# --origin, repeatable: other origins are neither printed nor counted.  An
# argument is a URL whose origin is used, as targetOrigin is.
listen_bg "$T/o.out" https://b.example --name filtered --count 3 --timeout 20s \
	--origin https://a.example --origin 'HTTPS://C.example:8443/any/path' --origin null --format '%o %d'
for sender in https://a.example/page https://evil.example https://c.example:8443 https://c.example \
	https://a.example:444 file:///tmp/x; do
	"$CROSSPOST" post "$sender" --to filtered --target-origin '*' "\"from $sender\"" 2>/dev/null ||
		fail "post from $sender"
done
wait "$LISTEN_PID" && rc=0 || rc=$?
expect_eq "listen --origin exits 0 after 3 matching events" "$rc" "0"
expect_eq "only the listed origins are printed" "$(paste -sd'|' "$T/o.out")" \
	'https://a.example "from https://a.example/page"|https://c.example:8443 "from https://c.example:8443"|null "from file:///tmp/x"'
capture "$CROSSPOST" listen https://b.example --origin 'not an origin' --timeout 100ms
expect_eq "a bad --origin exits 2" "$RC" "2"
expect_contains "a bad --origin explained" "$ERR" \
	"crosspost listen: --origin needs an origin such as https://a.example or null, not 'not an origin'"

# --format: every directive.  %s is the source's name when it has one,
# else its id; %D a string's text as it is.
listen_bg "$T/f.out" https://b.example --name formatted --count 3 --timeout 20s \
	--format '%t|%o|%s|%i|%n|%d|%D|100%%|%%s'
capture "$CROSSPOST" post https://a.example --name named --to formatted --target-origin '*' '"a string"'
named_id=$(sed -n 's/^[^|]*|[^|]*|named|\([0-9]*\)|.*/\1/p' "$T/f.out")
capture "$CROSSPOST" post https://a.example --to formatted --target-origin '*' '{"n":[1,"x"]}'
capture "$CROSSPOST" post https://a.example --to formatted --target-origin '*' '{"$bigint":"12"}'
wait "$LISTEN_PID" && rc=0 || rc=$?
expect_eq "listen --format exits 0" "$rc" "0"
expect_eq "a named source, a string" "$(sed -n 1p "$T/f.out")" \
	"message|https://a.example|named|$named_id|named|\"a string\"|a string|100%|%s"
unnamed_id=$(sed -n 2p "$T/f.out" | cut -d'|' -f4)
expect_eq "an unnamed source, an object" "$(sed -n 2p "$T/f.out")" \
	"message|https://a.example|$unnamed_id|$unnamed_id|null|{\"n\":[1,\"x\"]}|{\"n\":[1,\"x\"]}|100%|%s"
expect_contains "tagged JSON for other types" "$(sed -n 3p "$T/f.out")" '|{"$bigint":"12"}|{"$bigint":"12"}|'
# Escapes, as mosquitto_sub has them: a record over two lines.
listen_bg "$T/e.out" https://b.example --name escaped --count 1 --timeout 20s --format 'origin:\t%o\ndata:\t%d \\ok'
capture "$CROSSPOST" post https://a.example --to escaped --target-origin '*' '[1]'
wait "$LISTEN_PID" || true
expect_eq "newline, tab and backslash escapes in --format" "$(cat "$T/e.out")" "$(printf 'origin:\thttps://a.example\ndata:\t[1] \\ok')"
capture "$CROSSPOST" listen https://b.example --format '%o\x' --timeout 100ms
expect_eq "an unknown escape exits 2" "$RC:$ERR" \
	"2:crosspost listen: --format has an unknown escape '\\x' (known: \\n \\t \\\\)"
# JSON stays the default.
listen_bg "$T/j.out" https://b.example --name json --count 1 --timeout 20s
capture "$CROSSPOST" post https://a.example --to json --target-origin '*' '1'
wait "$LISTEN_PID" || true
expect_contains "JSON by default" "$(cat "$T/j.out")" '{"type":"message","data":1,"origin":"https://a.example"'
capture "$CROSSPOST" listen https://b.example --format '%o %x' --timeout 100ms
expect_eq "an unknown directive exits 2" "$RC:$ERR" \
	"2:crosspost listen: --format has an unknown directive '%x' (known: %t %o %s %i %n %d %D %%)"
capture "$CROSSPOST" listen https://b.example --format 'at 100%' --timeout 100ms
expect_eq "a lone % exits 2" "$RC:$ERR" \
	"2:crosspost listen: --format ends with a lone '%' (write %% for a percent sign)"
finish
