# SPDX-License-Identifier: MIT
# `crosspost gateway`'s command line: what it refuses before it listens
# (exit 2, with the reason), and that a gateway whose port is taken says so
# (exit 1).  What a gateway does once listening: tests/check_gateway.c and
# tests/cli/gateway_browser.sh.
set -eu
. "$(dirname "$0")/../helpers/cli-lib.sh"

# refused WHAT EXPECTED-TEXT ARGS...: exit 2 and the text on stderr.
refused() {
	what=$1 text=$2
	shift 2
	capture "$CROSSPOST" gateway "$@"
	expect_eq "$what: exit 2" "$RC" "2"
	expect_contains "$what: says why" "$ERR" "$text"
}

A="--allow-origin http://a.test"
# shellcheck disable=SC2086
{
	refused "no --listen" "--listen [ADDRESS:]PORT is required" $A
	refused "no --allow-origin" "give at least one --allow-origin" --listen 127.0.0.1:0
	refused "a name for an address" "names are not looked up" --listen localhost:8700 $A
	refused "a port out of range" "the port must be a number from 0 to 65535" --listen 127.0.0.1:65536 $A
	refused "an IPv6 address without \"]:\"" "an IPv6 address is written [ADDRESS]:PORT" --listen '[::1]8700' $A
	refused "a remote address" "is not a loopback address" --listen 0.0.0.0:8700 $A
	refused "--allow-remote without a token" "--allow-remote needs --token" --listen 0.0.0.0:8700 --allow-remote $A
	refused "an origin pattern with a path" "--allow-origin 'http://a.test/x'" --listen 127.0.0.1:0 \
		--allow-origin http://a.test/x
	refused "a token with a space" "a token is 1 to 256 characters" --listen 127.0.0.1:0 $A --token 'a b'
	refused "an empty token file" "a token is 1 to 256 characters" --listen 127.0.0.1:0 $A --token-file /dev/null
	refused "a missing token file" "--token-file $T/none" --listen 127.0.0.1:0 $A --token-file "$T/none"
	refused "--max-pages 0" "--max-pages needs a number from 1" --listen 127.0.0.1:0 $A --max-pages 0
	refused "--max-message-size over 64MiB" "--max-message-size needs a size from 1B to 64MiB" \
		--listen 127.0.0.1:0 $A --max-message-size 65MiB
	refused "--queue-high without a unit it knows" "--queue-high needs a size" --listen 127.0.0.1:0 $A \
		--queue-high 8MB
	refused "an empty --socket" "--socket needs a path" --listen 127.0.0.1:0 $A --socket ''
	refused "an unknown option" "Usage: crosspost gateway" --listen 127.0.0.1:0 $A --frobnicate
	refused "an argument" "unexpected argument 'extra'" --listen 127.0.0.1:0 $A extra
}

capture "$CROSSPOST" gateway --help
expect_eq "--help: exit 0" "$RC" "0"
expect_contains "--help prints the usage" "$OUT" "Usage: crosspost gateway --listen"

# A port in use: the gateway says it cannot listen, and exits 1.
start_broker
mkfifo "$T/ready"
"$CROSSPOST" gateway --listen 127.0.0.1:0 --allow-origin http://a.test --ready-fd 3 \
	2>"$T/first.err" 3>"$T/ready" &
first=$!
BG_PIDS="$BG_PIDS $first"
read -r _ url <"$T/ready" || true
port=$(echo "$url" | sed -n 's|^http://127.0.0.1:\([0-9]*\)/$|\1|p')
[ -n "$port" ] && pass "a gateway listens on 127.0.0.1:$port" || fail "no ready line: [$url]"
capture "$CROSSPOST" gateway --listen "127.0.0.1:$port" --allow-origin http://a.test
expect_eq "a second gateway on that port exits 1" "$RC" "1"
expect_contains "and says it cannot listen" "$ERR" "cannot listen on 127.0.0.1:$port"
kill "$first"
wait "$first" && rc=0 || rc=$?
expect_eq "SIGTERM stops the gateway with status 0" "$rc" "0"
finish
