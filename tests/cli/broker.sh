# SPDX-License-Identifier: MIT
# crosspostd as a user runs it: socket file rules, one broker per socket,
# stale sockets, signals, arguments.
set -eu
. "$(dirname "$0")/../helpers/cli-lib.sh"

sock="$T/run/nested/broker.sock"
start_broker "$sock"
expect_eq "socket mode 0600" "$(stat -c %a "$sock")" "600"
expect_eq "socket folder mode 0700" "$(stat -c %a "$T/run/nested")" "700"

capture "$CROSSPOSTD" --foreground --socket "$sock"
expect_eq "second broker on a live socket exits 1" "$RC" "1"
expect_contains "second broker says why" "$ERR" "a broker is already running on $sock"

kill -TERM "$BROKER_PID"; wait "$BROKER_PID" && rc=0 || rc=$?
expect_eq "SIGTERM stops the broker cleanly" "$rc" "0"
[ ! -e "$sock" ] && pass "SIGTERM removes the socket" || fail "socket left behind after SIGTERM"

start_broker "$sock"
kill -KILL "$BROKER_PID"; wait "$BROKER_PID" 2>/dev/null || true
[ -S "$sock" ] && pass "SIGKILL leaves a stale socket" || fail "no stale socket to test with"
start_broker "$sock"
expect_contains "a stale socket is replaced" "$(cat "$T/broker.log")" "replacing stale socket $sock"
kill -INT "$BROKER_PID"; wait "$BROKER_PID" && rc=0 || rc=$?
expect_eq "SIGINT stops the broker cleanly" "$rc" "0"
[ ! -e "$sock" ] && pass "SIGINT removes the socket" || fail "socket left behind after SIGINT"

# Without --foreground the broker detaches once it listens.
capture "$CROSSPOSTD" --socket "$T/daemon.sock"
expect_eq "detaching broker returns 0" "$RC" "0"
capture "$CROSSPOST" list --socket "$T/daemon.sock"
expect_eq "detached broker answers at once" "$RC" "0"
pid=$(pgrep -f "crosspostd --socket $T/daemon.sock" || true)
[ -n "$pid" ] && kill -TERM $pid
i=0; while [ -e "$T/daemon.sock" ] && [ $i -lt 500 ]; do i=$((i + 1)); sleep 0.01; done
[ ! -e "$T/daemon.sock" ] && pass "detached broker stops on SIGTERM" || fail "detached broker still there"

# Default socket path: $CROSSPOST_SOCKET, then $XDG_RUNTIME_DIR.
(
	unset CROSSPOST_SOCKET
	export XDG_RUNTIME_DIR="$T/xdg"
	mkdir -p "$XDG_RUNTIME_DIR"
	"$CROSSPOSTD" --foreground 2>/dev/null &
	p=$!
	i=0; until "$CROSSPOST" list >/dev/null 2>&1 || [ $i -ge 1000 ]; do i=$((i + 1)); sleep 0.01; done
	[ -S "$XDG_RUNTIME_DIR/crosspost/broker.sock" ] && echo "ok: XDG_RUNTIME_DIR default" || echo "FAIL: XDG_RUNTIME_DIR default"
	kill $p; wait $p || true
) | tee "$T/xdg.out"
grep -q FAIL "$T/xdg.out" && FAILURES=$((FAILURES + 1))

# --pidfile and --log-file, detached: both are there when crosspostd returns.
capture "$CROSSPOSTD" --socket "$T/p.sock" --pidfile "$T/p.pid" --log-file "$T/p.log" --log-level debug
expect_eq "detaching with --pidfile returns 0" "$RC" "0"
pid=$(cat "$T/p.pid" 2>/dev/null || true)
kill -0 "$pid" 2>/dev/null && pass "the pidfile names the live broker" || fail "pidfile [$pid] names no live process"
capture "$CROSSPOST" list --socket "$T/p.sock"
expect_eq "the detached broker answers" "$RC" "0"
expect_contains "--log-file gets the log, with the same pid" "$(cat "$T/p.log")" "listening on $T/p.sock (pid $pid)"
capture "$CROSSPOSTD" --socket "$T/p.sock" --pidfile "$T/p.pid"
expect_eq "a second broker on the socket exits 1" "$RC" "1"
expect_eq "and leaves the first one's pidfile alone" "$(cat "$T/p.pid")" "$pid"
kill -TERM "$pid" 2>/dev/null || fail "cannot signal the broker named by the pidfile"
i=0; while [ -e "$T/p.pid" ] && [ $i -lt 500 ]; do i=$((i + 1)); sleep 0.01; done
[ ! -e "$T/p.pid" ] && pass "SIGTERM removes the pidfile" || fail "pidfile left behind"
[ ! -e "$T/p.sock" ] && pass "and the socket" || fail "socket left behind"
expect_contains "the log file says it stopped" "$(cat "$T/p.log")" "received SIGTERM, stopping"
# In the foreground, the pidfile is the process's own pid.
"$CROSSPOSTD" --foreground --socket "$T/f.sock" --pidfile "$T/f.pid" 2>>"$T/broker.log" &
BROKER_PID=$!
BG_PIDS="$BG_PIDS $BROKER_PID"
wait_for_broker "$T/f.sock"
expect_eq "foreground pidfile" "$(cat "$T/f.pid")" "$BROKER_PID"
kill -INT "$BROKER_PID"; wait "$BROKER_PID" && rc=0 || rc=$?
expect_eq "foreground broker with --pidfile stops cleanly" "$rc:$([ -e "$T/f.pid" ] && echo left || echo removed)" "0:removed"
capture "$CROSSPOSTD" --help
expect_contains "--help says where a detached broker's log goes" "$OUT" "A detached broker keeps the stderr it was"
expect_contains "--help documents --log-file" "$OUT" "--log-file FILE"

# --socket naming a file that is not a socket: refused, the file kept.
echo "my notes" >"$T/notes.txt"
capture timeout 10 "$CROSSPOSTD" --foreground --socket "$T/notes.txt"
expect_eq "a regular file as --socket: crosspostd exits 1" "$RC" "1"
expect_contains "a regular file as --socket: explained" "$ERR" "$T/notes.txt exists and is not a socket: not replacing it"
expect_eq "the file is kept" "$(cat "$T/notes.txt")" "my notes"

capture "$CROSSPOSTD" --no-such-option
expect_eq "unknown option exits 2" "$RC" "2"
capture "$CROSSPOSTD" --log-level loud
expect_eq "bad log level exits 2" "$RC" "2"
expect_contains "bad log level explained" "$ERR" "unknown log level 'loud'"
capture "$CROSSPOSTD" --help
expect_eq "--help exits 0" "$RC" "0"
expect_contains "--help documents --socket" "$OUT" "--socket PATH"
finish
