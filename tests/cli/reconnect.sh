# SPDX-License-Identifier: MIT
# crosspost listen --reconnect survives a broker restart (SIGKILL, then a new
# broker on the same socket): it says so on stderr, registers its window
# again under the same name, and keeps printing.  Without --reconnect, a
# lost broker ends listen (exit 1), as it always did.
set -eu
. "$(dirname "$0")/../helpers/cli-lib.sh"

restart_broker() {
	kill -9 "$BROKER_PID"
	wait "$BROKER_PID" 2>/dev/null || true
	start_broker
}

start_broker
listen_bg "$T/r.out" https://b.example/inbox --name survivor --reconnect --count 2 --timeout 30s --format '%o %d'
capture "$CROSSPOST" post https://a.example --to survivor --target-origin https://b.example '"before"'
expect_eq "a post before the restart" "$RC" "0"
wait_for_line "$T/r.out" '"before"'
kill -9 "$BROKER_PID"
wait "$BROKER_PID" 2>/dev/null || true
wait_for_line "$T/r.out.err" "crosspost listen: lost the broker ("
expect_contains "the loss is said on stderr" "$(cat "$T/r.out.err")" "); reconnecting"
start_broker
wait_for_line "$T/r.out.err" "crosspost listen: reconnected: window "
expect_contains "registered again, same origin" "$(cat "$T/r.out.err")" \
	"crosspost listen: reconnected: window 1 https://b.example"
capture "$CROSSPOST" list --json
expect_contains "back under the same name and URL" "$OUT" \
	'"id":1,"name":"survivor","origin":"https://b.example","url":"https://b.example/inbox"'
capture "$CROSSPOST" post https://a.example --to survivor --target-origin https://b.example '"after"'
expect_eq "a post after the restart" "$RC" "0"
wait "$LISTEN_PID" && rc=0 || rc=$?
expect_eq "listen --reconnect exits 0 after its count" "$rc" "0"
expect_eq "both messages printed" "$(paste -sd'|' "$T/r.out")" 'https://a.example "before"|https://a.example "after"'

# Twice in a row, and with the listener frozen while the broker is away.
listen_bg "$T/t.out" https://b.example --name twice --reconnect --count 1 --timeout 30s
restart_broker
wait_for_line "$T/t.out.err" "reconnected: window"
kill -STOP "$LISTEN_PID"
restart_broker
kill -CONT "$LISTEN_PID"
i=0
until [ "$(grep -c 'reconnected: window' "$T/t.out.err")" -ge 2 ]; do
	i=$((i + 1)); [ $i -lt 1000 ] || { fail "no second reconnection within 10 s"; break; }
	sleep 0.01
done
capture "$CROSSPOST" post https://a.example --to twice --target-origin '*' '"third broker"'
wait "$LISTEN_PID" && rc=0 || rc=$?
expect_eq "after two restarts, still listening" "$rc:$(cat "$T/t.out")" \
	'0:{"type":"message","data":"third broker","origin":"https://a.example","source":{"id":2,"name":null}}'

# The name was taken at the new broker before the listener came back: it
# cannot register again, and says so (exit 1).  SIGSTOP orders the race.
listen_bg "$T/n.out" https://b.example --name contested --reconnect --timeout 30s
CONTESTED_PID=$LISTEN_PID
kill -STOP "$CONTESTED_PID"
restart_broker
listen_bg "$T/squatter.out" https://squatter.example --name contested --timeout 30s
SQUATTER_PID=$LISTEN_PID
kill -CONT "$CONTESTED_PID"
wait "$CONTESTED_PID" && rc=0 || rc=$?
expect_eq "a name taken meanwhile ends listen --reconnect with 1" "$rc" "1"
expect_contains "and it says why" "$(cat "$T/n.out.err")" \
	"crosspost listen: cannot register the window again: ConstraintError"
kill "$SQUATTER_PID" 2>/dev/null || true

# Without --reconnect: the broker's end is listen's end.
listen_bg "$T/plain.out" https://b.example --name plain --timeout 30s
kill -9 "$BROKER_PID"
wait "$BROKER_PID" 2>/dev/null || true
wait "$LISTEN_PID" && rc=0 || rc=$?
expect_eq "without --reconnect, a lost broker exits 1" "$rc" "1"
expect_contains "with a NetworkError" "$(cat "$T/plain.out.err")" "crosspost listen: NetworkError: "
finish
