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
expect_contains "timeout explained" "$ERR" "timed out"
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
capture "$CROSSPOST" list --socket "$T/nothing-here.sock"
expect_eq "--socket is honoured" "$RC" "1"
expect_contains "--socket path in the message" "$ERR" "$T/nothing-here.sock"
finish
