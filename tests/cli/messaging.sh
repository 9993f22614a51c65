# SPDX-License-Identifier: MIT
# crosspost listen / post / list, as a user sees them.
set -eu
. "$(dirname "$0")/../helpers/cli-lib.sh"

capture "$CROSSPOST" list
expect_eq "no broker: list exits 1" "$RC" "1"
expect_contains "no broker: clear message" "$ERR" "NetworkError: no broker at $CROSSPOST_SOCKET"

start_broker
listen_bg "$T/b.out" https://b.example/inbox --name b --count 2 --timeout 20s
capture "$CROSSPOST" list
expect_contains "list shows the listener" "$OUT" "https://b.example"
capture "$CROSSPOST" list --json
expect_contains "list --json" "$OUT" "\"name\":\"b\",\"origin\":\"https://b.example\""

capture "$CROSSPOST" post https://a.example:8080/x --name a --to b --target-origin https://b.example '{"a":1,"list":[true,null,"s"]}'
expect_eq "post exits 0" "$RC" "0"
capture "$CROSSPOST" post https://a.example --to b --target-origin https://other.example '"dropped"'
expect_eq "mismatched targetOrigin still exits 0 (sender not told)" "$RC" "0"
capture "$CROSSPOST" post https://c.example --name c --to b --target-origin '*' '"second"'
wait "$LISTEN_PID" && rc=0 || rc=$?
expect_eq "listen exits 0 after --count events" "$rc" "0"
expect_eq "first event line" "$(sed -n 1p "$T/b.out")" \
	'{"type":"message","data":{"a":1,"list":[true,null,"s"]},"origin":"https://a.example:8080","source":{"id":2,"name":"a"}}'
expect_contains "second event is the * one, not the dropped one" "$(sed -n 2p "$T/b.out")" '"data":"second","origin":"https://c.example"'
expect_contains "ready line on stderr" "$(cat "$T/b.out.err")" "crosspost listen: ready: window 1 https://b.example"

capture "$CROSSPOST" post https://a.example --to nobody '"x"'
expect_eq "unknown name exits 1" "$RC" "1"
expect_contains "unknown name is NotFoundError" "$ERR" "NotFoundError: no window named 'nobody'"
capture "$CROSSPOST" post https://a.example --to-id 4242 --target-origin '*' '"x"'
expect_eq "never-existing id exits 1" "$RC" "1"
expect_contains "never-existing id is NotFoundError" "$ERR" "NotFoundError: window 4242 does not exist"

listen_bg "$T/c.out" https://c.example --name c2 --count 1 --timeout 20s
capture "$CROSSPOST" post https://a.example --to c2 --target-origin 'not a url' '"x"'
expect_eq "invalid targetOrigin exits 1" "$RC" "1"
expect_contains "invalid targetOrigin is SyntaxError" "$ERR" "SyntaxError: invalid targetOrigin 'not a url'"
capture "$CROSSPOST" post https://a.example --to c2 --target-origin / '{"unterminated":'
expect_eq "bad JSON exits 2" "$RC" "2"
expect_contains "bad JSON explained" "$ERR" "DATA is not valid JSON"
capture "$CROSSPOST" post 'no scheme' --to c2 '"x"'
expect_eq "bad sender URL exits 1" "$RC" "1"
expect_contains "bad sender URL is SyntaxError" "$ERR" "SyntaxError"
capture "$CROSSPOST" post https://a.example --to c2
expect_eq "missing DATA exits 2" "$RC" "2"
capture "$CROSSPOST" post https://a.example '"x"'
expect_eq "missing --to exits 2" "$RC" "2"
capture "$CROSSPOST" listen https://x.example --name c2 --count 1
expect_eq "taken name exits 1" "$RC" "1"
expect_contains "taken name is ConstraintError" "$ERR" "ConstraintError"
capture "$CROSSPOST" post https://c.example/y --to c2 '"same origin, default targetOrigin /"'
wait "$LISTEN_PID" && rc=0 || rc=$?
expect_eq "c2 got the same-origin post" "$rc" "0"
expect_contains "default targetOrigin is /" "$(cat "$T/c.out")" '"data":"same origin, default targetOrigin /"'

capture "$CROSSPOST" listen https://x.example --count 1 --timeout 200ms
expect_eq "listen --timeout expiring exits 1" "$RC" "1"
expect_contains "timeout explained" "$ERR" "crosspost listen: timed out: 0 of 1 event arrived"
# Without --count, the timeout is how listening ends.
capture "$CROSSPOST" listen https://x.example --timeout 200ms
expect_eq "listen --timeout without --count exits 0" "$RC" "0"
expect_eq "listen --timeout without --count: stderr is the ready line" "$(grep -vc '^crosspost listen: ready: window ' "$T/err" || true)" "0"
expect_eq "listen --timeout without --count: nothing on stdout" "$OUT" ""
listen_bg "$T/three.out" https://three.example --name three --count 3 --timeout 3s
capture "$CROSSPOST" post https://three.example --to three '"one of three"'
wait "$LISTEN_PID" && rc=0 || rc=$?
expect_eq "listen --count 3 with one event exits 1 at the timeout" "$rc" "1"
expect_contains "listen says how many of N arrived" "$(cat "$T/three.out.err")" "crosspost listen: timed out: 1 of 3 events arrived"
expect_contains "the event that came is printed" "$(cat "$T/three.out")" '"data":"one of three"'
capture "$CROSSPOST" listen https://x.example --count zero
expect_eq "bad --count exits 2" "$RC" "2"
capture "$CROSSPOST" listen https://x.example --timeout soon
expect_eq "bad --timeout exits 2" "$RC" "2"
capture "$CROSSPOST" listen
expect_eq "listen without URL exits 2" "$RC" "2"
capture "$CROSSPOST" frobnicate
expect_eq "unknown command exits 2" "$RC" "2"
for cmd in listen post list run origin; do
	capture "$CROSSPOST" $cmd --help
	expect_eq "$cmd --help exits 0" "$RC" "0"
	expect_contains "$cmd --help prints usage" "$OUT" "Usage: crosspost $cmd"
done
capture "$CROSSPOST" --help
expect_eq "crosspost --help exits 0" "$RC" "0"
# Size limits: RangeError, naming the limit and its value.
long=$(printf '%9000s' '' | tr ' ' a)
capture "$CROSSPOST" listen "https://a.example/$long" --timeout 100ms
expect_eq "URL over CP_URL_MAX exits 1" "$RC" "1"
expect_eq "URL over CP_URL_MAX explained" "$ERR" \
	"crosspost listen: RangeError: the URL is 9018 bytes; the limit is 8192 bytes (CP_URL_MAX)"
capture "$CROSSPOST" listen "https://a.example/$(printf '%8174s' '' | tr ' ' a)" --timeout 100ms
expect_eq "a URL of exactly CP_URL_MAX bytes is fine" "$RC" "0"
capture "$CROSSPOST" listen https://a.example --name "$(printf '%1025s' '' | tr ' ' n)" --timeout 100ms
expect_eq "name over CP_NAME_MAX exits 1" "$RC" "1"
expect_contains "name over CP_NAME_MAX explained" "$ERR" \
	"RangeError: the window name is 1025 bytes; the limit is 1024 bytes (CP_NAME_MAX)"
capture "$CROSSPOST" post https://a.example --to "$(printf '%70000s' '' | tr ' ' n)" '1'
expect_contains "post --to over CP_NAME_MAX is a RangeError" "$ERR" \
	"crosspost post: RangeError: the window name is 70000 bytes; the limit is 1024 bytes (CP_NAME_MAX)"
capture "$CROSSPOST" post https://a.example --to-id 1 --target-origin "https://b.example/$long" '1'
expect_eq "targetOrigin over CP_TARGET_ORIGIN_MAX exits 1" "$RC" "1"
expect_eq "targetOrigin over CP_TARGET_ORIGIN_MAX explained" "$ERR" \
	"crosspost post: RangeError: the targetOrigin is 9018 bytes; the limit is 8192 bytes (CP_TARGET_ORIGIN_MAX)"

# post warns when the target's origin shows the message will be dropped.
listen_bg "$T/w.out" https://w.example/inbox --name w --count 3 --timeout 20s
wid=$(sed -n 's/^crosspost listen: ready: window \([0-9]*\) .*/\1/p' "$T/w.out.err")
capture "$CROSSPOST" post https://a.example --to w '"default /"'
expect_eq "default / to another origin still exits 0" "$RC" "0"
expect_eq "default / to another origin warns" "$ERR" \
	'crosspost post: warning: the default targetOrigin "/" is https://a.example, but window w is https://w.example: the message will be dropped (pass --target-origin)'
capture "$CROSSPOST" post https://a.example --to-id "$wid" --target-origin https://evil.example '"explicit"'
expect_eq "explicit mismatch exits 0" "$RC" "0"
expect_eq "explicit mismatch warns, by id" "$ERR" \
	"crosspost post: warning: targetOrigin 'https://evil.example' does not match window $wid's origin https://w.example: the message will be dropped"
capture "$CROSSPOST" post file:///tmp/x --to w '"opaque"'
expect_contains "an opaque sender's default / warns" "$ERR" \
	"the default targetOrigin \"/\" is this window's own opaque origin, which window w does not have"
for t in '*' https://w.example/any/path; do
	capture "$CROSSPOST" post https://a.example --to w --target-origin "$t" '"quiet"'
	expect_eq "no warning for a matching targetOrigin $t" "$RC:$ERR" "0:"
done
capture "$CROSSPOST" post https://w.example/other --to w '"same origin, last"'
expect_eq "no warning for default / to the same origin" "$RC:$ERR" "0:"
wait "$LISTEN_PID" && rc=0 || rc=$?
expect_eq "w got the three matching messages only" "$rc:$(grep -c '"data":"quiet"' "$T/w.out")" "0:2"
expect_contains "the same-origin one last" "$(sed -n 3p "$T/w.out")" '"data":"same origin, last","origin":"https://w.example"'
# The broker's debug line names targetOrigin and the target's origin, each labelled.
expect_contains "broker log: drop explained" "$(cat "$T/broker.log")" \
	"(https://a.example) -> window $wid: targetOrigin 'https://evil.example' does not match the target's origin 'https://w.example'"

# list: columns as wide as their content.
listen_bg "$T/n.out" https://names.example --name a-window-name-longer-than-sixteen --count 1 --timeout 20s
capture "$CROSSPOST" list
expect_contains "list shows the long name" "$OUT" "a-window-name-longer-than-sixteen"
expect_eq "list columns stay aligned" "$(printf '%s\n' "$OUT" | awk '
	NR == 1 { o = index($0, "ORIGIN"); p = index($0, "PID"); u = index($0, "URL"); next }
	substr($0, o, 4) != "http" || substr($0, p - 1, 1) != " " || substr($0, u, 4) != "http" { bad = 1 }
	END { print bad ? "misaligned" : "aligned" }')" "aligned"
kill "$LISTEN_PID" 2>/dev/null || true

capture "$CROSSPOST" list --socket "$T/nothing-here.sock"
expect_eq "--socket is honoured" "$RC" "1"
expect_contains "--socket path in the message" "$ERR" "$T/nothing-here.sock"
finish
