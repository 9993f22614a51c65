# SPDX-License-Identifier: MIT
# `crosspost list --tree`: the forest of windows with their origins, frames
# under their parents in insertion order, openers named; and --tree --json.
# The windows are made by a scenario run against the broker (--socket),
# which waits at its end while the listing is taken.
set -eu
. "$(dirname "$0")/../helpers/cli-lib.sh"
start_broker

cat >"$T/tree.scenario" <<'SCN'
window shop https://shop.example/cart name=shop
frame banner https://ads.example/b in=shop name=banner
frame deep https://ads.example/deep in=banner
frame inner https://shop.example/inner in=shop
open pay https://pay.example/checkout by=shop
sleep 30s
SCN
"$CROSSPOST" run --socket "$CROSSPOST_SOCKET" "$T/tree.scenario" >"$T/run.out" 2>&1 &
RUN_PID=$!
BG_PIDS="$BG_PIDS $RUN_PID"

# Readiness: the last window of the scenario is listed, and every window
# has been claimed by its process (none is "(pending)" any more).
ready() {
	tree=$("$CROSSPOST" list --tree 2>/dev/null) || return 1
	printf '%s\n' "$tree" | grep -q "opener" && ! printf '%s\n' "$tree" | grep -q "pending"
}
i=0
until ready; do
	i=$((i + 1))
	[ $i -lt 1000 ] || { fail "the scenario's windows did not appear"; finish; }
	sleep 0.01
done
capture "$CROSSPOST" list --tree
expect_eq "list --tree exits 0" "$RC" "0"
expect_eq "list --tree draws the forest" "$(printf '%s\n' "$OUT" | sed 's/pid [0-9]*/pid N/')" \
'1 shop https://shop.example https://shop.example/cart  pid N
|- 2 banner https://ads.example https://ads.example/b  pid N
|  `- 3 - https://ads.example https://ads.example/deep  pid N
`- 4 - https://shop.example https://shop.example/inner  pid N
5 - https://pay.example https://pay.example/checkout  pid N  opener 1'

capture "$CROSSPOST" list --tree --json
expect_eq "list --tree --json exits 0" "$RC" "0"
json=$(printf '%s\n' "$OUT" | sed 's/"pid":[0-9]*/"pid":N/g')
expect_contains "list --tree --json nests frames" "$json" \
	'"id":2,"name":"banner","origin":"https://ads.example","url":"https://ads.example/b","pid":N,"parent":1,"opener":null,"pending":false,"frames":[{"id":3,'
expect_contains "list --tree --json names the opener" "$json" '"id":5,"name":null,"origin":"https://pay.example","url":"https://pay.example/checkout","pid":N,"parent":null,"opener":1'

capture "$CROSSPOST" list --json
expect_contains "list --json gives parent and opener" "$(printf '%s\n' "$OUT" | sed 's/"pid":[0-9]*/"pid":N/g')" \
	'{"id":3,"name":null,"origin":"https://ads.example","url":"https://ads.example/deep","pid":N,"parent":2,"opener":null,"pending":false}'
kill "$RUN_PID" 2>/dev/null || true
finish
