# SPDX-License-Identifier: MIT
# crosspost monitor and crosspost stats, as a user watches a broker: every
# message routed, delivered or dropped with the reason; counters in total
# and per window.
set -eu
. "$(dirname "$0")/../helpers/cli-lib.sh"

start_broker
listen_bg "$T/b.out" https://b.example/inbox --name b --count 2 --timeout 20s
# The monitor reports readiness on stderr; wait for it before posting.
"$CROSSPOST" monitor --json --data --count 8 >"$T/mon.out" 2>"$T/mon.err" &
MON=$!
BG_PIDS="$BG_PIDS $MON"
i=0; until grep -q "watching" "$T/mon.err" 2>/dev/null || [ $i -ge 500 ]; do i=$((i + 1)); sleep 0.01; done
capture "$CROSSPOST" stats --json
expect_contains "stats counts the monitor watching" "$OUT" '"monitors":1,"monitor_events_lost":0'
capture "$CROSSPOST" post https://a.example --name a --to b --target-origin https://b.example '{"n":1}'
expect_eq "a delivered post exits 0" "$RC" "0"
capture "$CROSSPOST" post https://a.example --name a2 --to b --target-origin https://evil.example '"dropped"'
expect_eq "a dropped post exits 0 (the web's silent drop)" "$RC" "0"
capture "$CROSSPOST" post https://c.example --name c --to b --target-origin '*' '"second"'
wait "$MON" && rc=0 || rc=$?
expect_eq "monitor exits 0 after --count events" "$rc" "0"
out=$(cat "$T/mon.out")
expect_contains "the delivered message, with its data" "$out" '"kind":"message"'
expect_contains "its stamped origin and target" "$out" '"from":{"id":2,"name":"a","origin":"https://a.example"},"to":{"id":1,"name":"b","origin":"https://b.example"},"targetOrigin":"https://b.example"'
expect_contains "its data" "$out" '"data":{"n":1}'
expect_contains "the dropped one, with both origins" "$out" "\"kind\":\"dropped\""
expect_contains "the reason names both origins" "$out" "targetOrigin 'https://evil.example' does not match the target's origin 'https://b.example'"
expect_contains "windows opening are shown" "$out" '"kind":"opened"'
wait "$LISTEN_PID" || true

capture "$CROSSPOST" stats --json
expect_eq "stats exits 0" "$RC" "0"
expect_contains "stats counts the delivered" "$OUT" '"delivered":2'
expect_contains "stats counts the mismatch" "$OUT" '"dropped_origin_mismatch":1'
capture "$CROSSPOST" stats
expect_contains "the table names the counters" "$OUT" "dropped         1 targetOrigin mismatch"

# Per window: a window that stays, posting and dropping.
listen_bg "$T/d.out" https://d.example/ --name d --count 1 --timeout 20s
capture "$CROSSPOST" post https://e.example --name e --to d --target-origin https://d.example '"for d"'
wait "$LISTEN_PID" || true
capture "$CROSSPOST" monitor --window nobody
expect_eq "monitoring a window that does not exist exits 1" "$RC" "1"
expect_contains "and says so" "$ERR" "NotFoundError"
capture "$CROSSPOST" monitor extra
expect_eq "monitor: an extra argument is a usage error" "$RC" "2"
capture "$CROSSPOST" stats --socket ''
expect_eq "stats: an empty --socket is a usage error" "$RC" "2"
finish
