# SPDX-License-Identifier: MIT
# Browser pages as windows, in a real headless Chromium (docs/gateway.md):
# pages of two origins, http://a.test:PORT and http://b.test:PORT (Chromium
# maps every host to 127.0.0.1, where `crosspost gateway --serve` serves
# tests/gateway/pages), exchange messages with native `crosspost listen` /
# `crosspost post` windows and with each other through the broker.  The
# pages report each check to a native window ("ok ..." / "fail ...");
# this script checks those reports, and what the native windows received:
# the stamped origins, the targetOrigin drops, the values' tagged JSON.
# Runs where /usr/bin/chromium exists (scripts/install-browser-deps.sh
# installs it); says it skipped otherwise.  Everything listens on
# 127.0.0.1, every wait has a deadline, everything started is stopped.
set -eu
. "$(dirname "$0")/../helpers/cli-lib.sh"

CHROMIUM=${CROSSPOST_CHROMIUM:-/usr/bin/chromium}
if [ ! -x "$CHROMIUM" ]; then
	pass "skipped: no $CHROMIUM (sh scripts/install-browser-deps.sh installs it)"
	finish
	exit 0
fi

CHROME_PID=""
# Chromium runs in a process group of its own (setsid; `timeout` keeps it):
# SIGKILL to the group stops every Chromium process at once (dash's kill
# takes "-PGID" but not "--").  Its profile is thrown away, so there is
# nothing its orderly shutdown would save.
stop_chromium() {
	[ -n "$CHROME_PID" ] || return 0
	kill -KILL "-$CHROME_PID" 2>/dev/null || true
	wait "$CHROME_PID" 2>/dev/null || true
	CHROME_PID=""
}
trap 'stop_chromium; cleanup' EXIT INT TERM

# wait_for FILE PATTERN SECONDS: until a line of FILE matches (grep -E).
wait_for() {
	i=0
	until grep -qE "$2" "$1" 2>/dev/null; do
		i=$((i + 1))
		[ $i -lt $(($3 * 10)) ] || return 1
		sleep 0.1
	done
}

show_console() {
	echo "--- Chromium console (last lines) ---"
	grep -a 'CONSOLE' "$T/chromium.err" | tail -n 20 || true
	echo "--- gateway log ---"
	tail -n 20 "$T/gateway.err" || true
	echo "--- results ---"
	cat "$T/results.out" || true
}

start_broker
TOKEN=gw-test-$$-token
rm -f "$T/gw-ready"; mkfifo "$T/gw-ready"
"$CROSSPOST" gateway --listen 127.0.0.1:0 --serve tests/gateway/pages --token "$TOKEN" \
	--allow-origin 'http://a.test:*' --allow-origin 'http://b.test:*' --log-level debug \
	--ready-fd 3 2>"$T/gateway.err" 3>"$T/gw-ready" &
GATEWAY_PID=$!
BG_PIDS="$BG_PIDS $GATEWAY_PID"
read -r _ url <"$T/gw-ready" || true
PORT=$(echo "$url" | sed -n 's|^http://127.0.0.1:\([0-9]*\)/$|\1|p')
[ -n "$PORT" ] && pass "the gateway listens on 127.0.0.1:$PORT" || { fail "no ready line from the gateway: [$url]"; cat "$T/gateway.err"; finish; }
A="http://a.test:$PORT" B="http://b.test:$PORT"

listen_bg "$T/results.out" http://results.test/ --name results --timeout 120s
listen_bg "$T/native.out" http://native.test/ --name native --timeout 120s

# A fresh profile; no network but 127.0.0.1; its own process group, so
# that stopping it stops every Chromium process.
setsid timeout 150 "$CHROMIUM" --headless --no-sandbox --disable-gpu --disable-quic --no-first-run \
	--disable-background-networking --disable-component-update --disable-sync \
	--user-data-dir="$T/chromium-profile" --host-resolver-rules="MAP * 127.0.0.1" \
	--enable-logging=stderr --v=0 \
	"$A/a.html?token=$TOKEN" >"$T/chromium.out" 2>"$T/chromium.err" &
CHROME_PID=$!

if wait_for "$T/results.out" '"data":"(ready|done) a' 60 && wait_for "$T/results.out" '"data":"(ready|done) b' 30 &&
	! grep -q '"data":"done' "$T/results.out"; then
	pass "both pages opened their windows"
else
	fail "the pages did not say ready"
	show_console
	finish
fi

# Native -> page a: the catalogue, a message whose targetOrigin is b's
# (dropped), and a last one.  `crosspost post` syncs with the broker, so
# they arrive in this order.
tab=$(printf '\t')
while IFS="$tab" read -r name json; do
	capture "$CROSSPOST" post http://native.test/x --name nat --to a --target-origin "$A" "$json"
	[ "$RC" -eq 0 ] || fail "posting $name to page a: $ERR"
done <tests/gateway/pages/values.tsv
capture "$CROSSPOST" post http://native.test/x --name nat --to a --target-origin "$B" '"must-not-arrive"'
expect_contains "the CLI warns that a's origin is not the targetOrigin" "$ERR" "will be dropped"
capture "$CROSSPOST" post http://native.test/x --name nat --to a --target-origin "$A" '"end-of-native"'

if wait_for "$T/results.out" '"data":"done a ' 90 && wait_for "$T/results.out" '"data":"done b ' 30; then
	pass "both pages finished"
else
	fail "the pages did not finish"
	show_console
fi

# What the pages reported.
fails=$(grep -c '"data":"fail ' "$T/results.out" || true)
expect_eq "no page reported a failed check" "$fails" "0"
[ "$fails" -eq 0 ] || grep '"data":"fail ' "$T/results.out" | sed 's/^/    /'
for page in a b; do
	said=$(sed -n "s/.*\"data\":\"done $page \\([0-9]*\\)\".*/\\1/p" "$T/results.out")
	oks=$(grep -c "\"data\":\"ok $page: " "$T/results.out" || true)
	expect_eq "page $page: the checks that passed all reached the native window" "$oks" "${said:-none}"
	origin=$A
	[ $page = b ] && origin=$B
	expect_eq "page $page: every report carries the page's origin, stamped by the broker" \
		"$(grep -c "\"data\":\"[a-z]* $page[ :].*\"origin\":\"$origin\",\"source\":{\"id\":[0-9]*,\"name\":\"$page\"}}" "$T/results.out" || true)" \
		"$(grep -c "\"data\":\"[a-z]* $page[ :]" "$T/results.out" || true)"
done
checks=$(grep -c '"data":"ok ' "$T/results.out" || true)
[ "$checks" -ge 100 ] && pass "$checks checks passed in the pages" || fail "only $checks checks passed in the pages"

# What the native window received from the pages: a's values, in order,
# as the canonical tagged JSON of values.tsv, stamped with a's origin.
grep "\"origin\":\"$A\"" "$T/native.out" >"$T/from-a" || true
i=0
while IFS="$tab" read -r name json; do
	i=$((i + 1))
	expect_eq "a -> native: $name" "$(sed -n "${i}p" "$T/from-a")" \
		"{\"type\":\"message\",\"data\":$json,\"origin\":\"$A\",\"source\":{\"id\":$(sed -n 's/.*"source":{"id":\([0-9]*\),"name":"a"}}$/\1/p' "$T/from-a" | head -n 1),\"name\":\"a\"}}"
done <tests/gateway/pages/values.tsv
expect_eq "a -> native: the message with another targetOrigin was dropped" \
	"$(grep -c must-not-reach-native "$T/native.out" || true)" "0"
expect_eq "b -> native: stamped with b's origin" "$(grep -c "\"data\":{\"from\":\"b\"},\"origin\":\"$B\",\"source\":{\"id\":[0-9]*,\"name\":\"b\"}" "$T/native.out" || true)" "1"
expect_eq "the native window got the pages' messages only" "$(wc -l <"$T/native.out")" "$((i + 1))"

# The gateway logged the two refusals, and stops cleanly with its workers.
expect_contains "the gateway logged the refused origin" "$(cat "$T/gateway.err")" "(Origin http://c.test:$PORT): the origin is not one the gateway allows"
expect_contains "the gateway logged the wrong token" "$(cat "$T/gateway.err")" "the token in the WebSocket URL is missing or wrong"
stop_chromium
kill "$GATEWAY_PID"
wait "$GATEWAY_PID" && rc=0 || rc=$?
expect_eq "the gateway exits 0 on SIGTERM" "$rc" "0"
workers=$(ps -eo pid,args | grep -c "[c]rosspost-gateway --worker .*$PORT" || true)
expect_eq "no worker outlives the gateway" "$workers" "0"
finish
