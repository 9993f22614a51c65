# SPDX-License-Identifier: MIT
# The C programs in examples/, run in pairs as real processes against a
# private broker, as the README's "Examples" section shows them; and the
# README's C snippet, compiled and linked as a program.
# Synchronisation: cp_client_wait_for_window() in the programs, and exits;
# the one timeout waited for (the refused request) is the behaviour tested.
set -eu
. "$(dirname "$0")/../helpers/cli-lib.sh"
top=$(cd "$(dirname "$0")/../.." && pwd)
BUILD_DIR=$(cd "$(dirname "$CROSSPOST")" && pwd)
EX=$BUILD_DIR/examples
# Broker-assigned ids vary with start order; the lines are compared without them.
no_ids() { sed 's/window [0-9][0-9]*/window N/; s/port [0-9][0-9]*/port N/'; }

for p in sender receiver request_server request_client channel_host channel_worker popup_opener popup; do
	[ -x "$EX/$p" ] || { fail "$EX/$p is not built"; finish; }
	grep -q '^/\* SPDX-License-Identifier: MIT \*/$' "$top/examples/$p.c" && pass "$p.c has its SPDX line" ||
		fail "$p.c lacks its SPDX line"
	capture "$EX/$p"
	expect_eq "no broker: $p exits 1" "$RC" "1"
	expect_contains "no broker: $p says so" "$ERR" "$p: cannot connect to the broker: NetworkError: no broker at $CROSSPOST_SOCKET"
done
capture "$EX/receiver" zero
expect_eq "receiver: bad COUNT exits 2" "$RC" "2"
capture "$EX/request_client" -t
expect_eq "request_client: option without value exits 2" "$RC" "2"

start_broker

# (a) sender and receiver.  The sender starts first and waits for "inbox".
"$EX/sender" 3 >"$T/sender.out" 2>"$T/sender.err" &
SENDER_PID=$!
BG_PIDS="$BG_PIDS $SENDER_PID"
capture "$EX/receiver" 3 20
expect_eq "receiver exits 0 after 3 messages" "$RC" "0"
wait "$SENDER_PID" && rc=0 || rc=$?
expect_eq "sender exits 0" "$rc" "0"
expect_eq "receiver prints data, origin and source; the c.example-only message is dropped" \
	"$(printf '%s\n' "$OUT" | no_ids)" \
	'data={"seq":1,"text":"hello from a.example"} origin=https://a.example source=window N "outbox"
data={"seq":2,"text":"hello from a.example"} origin=https://a.example source=window N "outbox"
data={"seq":3,"text":"hello from a.example"} origin=https://a.example source=window N "outbox"'
expect_contains "receiver: ready line" "$(printf '%s\n' "$ERR" | no_ids)" 'receiver: ready: window N "inbox" at https://b.example'
expect_contains "sender waited for inbox" "$(cat "$T/sender.err")" 'sender: waiting for a window named "inbox"'
expect_contains "sender reports" "$(no_ids <"$T/sender.err")" 'sender: posted 3 message(s) to window N "inbox"'

# The other order: the receiver first, the sender finds its window at once.
"$EX/receiver" 1 20 >"$T/receiver.out" 2>"$T/receiver.err" &
RECEIVER_PID=$!
BG_PIDS="$BG_PIDS $RECEIVER_PID"
capture "$EX/sender" 1
expect_eq "sender after receiver exits 0" "$RC" "0"
wait "$RECEIVER_PID" && rc=0 || rc=$?
expect_eq "receiver before sender exits 0" "$rc" "0"
expect_contains "receiver before sender got it" "$(cat "$T/receiver.out")" '{"seq":1,"text":"hello from a.example"}'

# (b) request and reply through event.source and event.origin.
"$EX/request_server" 2 >"$T/server.out" 2>"$T/server.err" &
SERVER_PID=$!
BG_PIDS="$BG_PIDS $SERVER_PID"
capture "$EX/request_client" 2 3
expect_eq "request_client exits 0" "$RC" "0"
expect_eq "request_client prints the answer" "$OUT" "2 + 3 = 5"
capture "$EX/request_client" -u https://evil.example/ -t 300 4 4
expect_eq "a client of another origin gets no reply" "$RC" "1"
expect_contains "and says so" "$ERR" "request_client: no reply from calc within 300 ms"
capture "$EX/request_client" -t 10000 40 2
expect_eq "second request_client exits 0" "$RC" "0"
expect_eq "second answer" "$OUT" "40 + 2 = 42"
wait "$SERVER_PID" && rc=0 || rc=$?
expect_eq "request_server exits 0 after 2 answers" "$rc" "0"
expect_eq "request_server answered the allowed origin, refused the other" "$(cat "$T/server.out")" \
	'answered request 1 from https://app.example: add(2, 3) = 5
refused a request from https://evil.example (not on the allow-list)
answered request 1 from https://app.example: add(40, 2) = 42'

# (c) a MessageChannel port handed from one process to another.
"$EX/channel_worker" >"$T/worker.out" 2>"$T/worker.err" &
WORKER_PID=$!
BG_PIDS="$BG_PIDS $WORKER_PID"
capture "$EX/channel_host"
expect_eq "channel_host exits 0" "$RC" "0"
wait "$WORKER_PID" && rc=0 || rc=$?
expect_eq "channel_worker exits 0" "$rc" "0"
expect_eq "host's side of the conversation" "$(printf '%s\n' "$OUT" | no_ids)" \
	'host: gave port N to the worker
host: 1 squared is 1
host: 2 squared is 4
host: 3 squared is 9
host: the worker said bye'
expect_eq "worker's side of the conversation" "$(no_ids <"$T/worker.out")" \
	'worker: got port N from https://host.example with a private line
worker: squaring 1
worker: squaring 2
worker: squaring 3
worker: bye'

# (d) the web's popup handshake: popup_opener opens a window, starts
# popup as its process with the claim token, posts to it with a
# targetOrigin once it says it is ready, reads its answer through
# event.source, and closes it.
capture "$EX/popup_opener"
expect_eq "popup_opener exits 0 (and so did the popup it started)" "$RC" "0"
expect_eq "the popup handshake" "$(printf '%s\n' "$OUT" | no_ids)" \
	'shop: opened window N at https://pay.example/checkout
shop: the popup is ready
shop: the popup answered {"token":"t-42","paid":true}
shop: closed the popup'
capture "$EX/popup"
expect_eq "popup without a claim token exits 1" "$RC" "1"
expect_contains "popup says why" "$ERR" "popup: cannot claim the window: NotFoundError: no claim token"

# The README's C snippet ("Using it") is a program once given includes, a
# main() and the target id; examples/sender.c is its complete version, so it
# makes every call the snippet makes.
awk '/^```c$/ { inside = 1; next } /^```$/ { if (inside) exit } inside' "$top/README.md" >"$T/snippet.body"
if [ ! -s "$T/snippet.body" ]; then
	fail "README.md has no \`\`\`c block"
else
	{
		printf '#include <stdint.h>\n#include <crosspost.h>\n\nint main(void)\n{\n\tuint64_t target_id = 1;\n\n'
		cat "$T/snippet.body"
		printf '\treturn 0;\n}\n'
	} >"$T/snippet.c"
	san=""
	nm "$BUILD_DIR/libcrosspost.a" 2>/dev/null | grep -q ' U __asan_' && san="-fsanitize=address,undefined"
	capture ${CC:-cc} -std=c11 -Wall -Wextra -Werror $san -I"$top/client" "$T/snippet.c" -o "$T/snippet" \
		"$BUILD_DIR/libcrosspost.a" $(pkg-config --libs libevent libprotobuf-c jansson libidn2) -lm
	expect_eq "README snippet compiles and links as a program" "$RC" "0"
	[ "$RC" -eq 0 ] || echo "$ERR"
	for f in $(grep -o 'cp_[a-z_]*(' "$T/snippet.body" | sort -u); do
		grep -q "$f" "$top/examples/sender.c" && pass "sender.c calls $f)" || fail "sender.c does not call $f) as the README snippet does"
	done
fi
finish
