# SPDX-License-Identifier: MIT
# crosspostd as systemd starts it (crosspostd(8), "Socket activation"):
# systemd-socket-activate listens, the first `crosspost list` starts
# crosspostd, which serves it and a post/listen pair on the socket it was
# passed, gives the socket its own mode, and leaves it in place when it
# stops.  Accept=yes is refused; LISTEN_FDS meant for another process is
# ignored.  --log-target: syslog and the journal, each line with its
# priority (in a mount namespace with a receiver of our own at /dev/log or
# /run/systemd/journal/socket, when unshare(1) is allowed).
# tests/check_service.c checks readiness (NOTIFY_SOCKET) and every kind
# of descriptor crosspostd refuses.
set -eu
. "$(dirname "$0")/../helpers/cli-lib.sh"

# wait_for_text FILE TEXT: polls (bounded, 10 s) until FILE holds TEXT.
wait_for_text() {
	i=0
	until grep -qF -- "$2" "$1" 2>/dev/null; do
		i=$((i + 1))
		[ $i -lt 1000 ] || { fail "no [$2] in $1: [$(cat "$1" 2>/dev/null)]"; return 1; }
		sleep 0.01
	done
}

# --- the first connection starts crosspostd -----------------------------
mkdir -m 0700 "$T/sa"
sock="$T/sa/broker.sock"
systemd-socket-activate -l "$sock" "$CROSSPOSTD" --foreground --log-level debug 2>"$T/sa.log" &
SA=$!
BG_PIDS="$BG_PIDS $SA"
wait_for_text "$T/sa.log" "Listening on $sock"
# It makes the socket with a mode of its own (0644 here); crosspostd then
# gives it 0600, as to a socket it makes.
mode=$(stat -c %a "$sock")
[ "$mode" != 600 ] && pass "systemd-socket-activate made the socket, mode $mode" ||
	fail "the socket is 0600 already: the mode check below proves nothing"
expect_eq "crosspostd does not run before a client connects" "$(cat /proc/$SA/comm)" "systemd-socket-"
capture "$CROSSPOST" list --socket "$sock"
expect_eq "the first crosspost list is served" "$RC:$OUT" "0:ID  NAME  ORIGIN  PID  URL"
expect_eq "by crosspostd, which systemd-socket-activate became" "$(cat /proc/$SA/comm)" "crosspostd"
expect_contains "crosspostd says the socket was passed" "$(cat "$T/sa.log")" \
	"listening on $sock (pid $SA), passed by systemd"
expect_eq "crosspostd gives the passed socket its mode" "$(stat -c %a "$sock")" "600"
listen_bg "$T/listen.out" https://b.example --name b --count 1 --socket "$sock"
capture "$CROSSPOST" post https://a.example --to b --target-origin https://b.example --socket "$sock" '{"hi":1}'
expect_eq "post through the activated broker" "$RC" "0"
wait "$LISTEN_PID" && rc=0 || rc=$?
expect_eq "listen gets it" "$rc:$(cat "$T/listen.out")" \
	'0:{"type":"message","data":{"hi":1},"origin":"https://a.example","source":{"id":2,"name":null}}'
kill -TERM "$SA"; wait "$SA" && rc=0 || rc=$?
expect_eq "SIGTERM stops crosspostd cleanly" "$rc" "0"
[ -S "$sock" ] && pass "the socket stays: it is systemd's" || fail "crosspostd removed the socket systemd made"

# --- Accept=yes: a connection, not a listening socket --------------------
systemd-socket-activate --accept -l "$T/sa/accept.sock" "$CROSSPOSTD" --foreground 2>"$T/accept.log" &
SA=$!
BG_PIDS="$BG_PIDS $SA"
wait_for_text "$T/accept.log" "Listening on $T/sa/accept.sock"
capture "$CROSSPOST" list --socket "$T/sa/accept.sock"
expect_eq "a client of an Accept=yes socket is not served" "$RC" "1"
wait_for_text "$T/accept.log" "crosspostd[error]: the socket systemd passed is not listening" &&
	pass "crosspostd refuses a connection passed as its socket, naming Accept=yes"
kill "$SA"; wait "$SA" 2>/dev/null || true

# --- LISTEN_FDS for another pid is not crosspostd's ----------------------
export LISTEN_PID=1 LISTEN_FDS=1
start_broker "$T/own/broker.sock"
unset LISTEN_PID LISTEN_FDS
expect_eq "with LISTEN_PID of another process, crosspostd makes its own socket" \
	"$(grep -c "^crosspostd\[info\]: listening on $T/own/broker.sock (pid $BROKER_PID)\$" "$T/broker.log")" "1"
kill -TERM "$BROKER_PID"; wait "$BROKER_PID" || true
[ ! -e "$T/own/broker.sock" ] && pass "and removes it when it stops" || fail "its own socket left behind"

# --- --log-target ---------------------------------------------------------
capture "$CROSSPOSTD" --foreground --log-target console --socket "$T/x/broker.sock"
expect_eq "an unknown --log-target exits 2" "$RC:$ERR" \
	"2:crosspostd: unknown log target 'console' (stderr, syslog, journal)"
capture "$CROSSPOSTD" --foreground --log-target journal --log-file "$T/log" --socket "$T/x/broker.sock"
expect_eq "--log-file with --log-target journal exits 2" "$RC:$ERR" \
	"2:crosspostd: --log-file is the log's file: it goes with --log-target stderr only"
if [ ! -e /run/systemd/journal/socket ]; then
	capture "$CROSSPOSTD" --foreground --log-target journal --socket "$T/x/broker.sock"
	expect_eq "--log-target journal with no journal exits 1" "$RC" "1"
	expect_contains "and says why" "$ERR" "--log-target journal: /run/systemd/journal/socket is not there"
fi
if [ ! -e /dev/log ]; then
	capture "$CROSSPOSTD" --foreground --log-target syslog --socket "$T/x/broker.sock"
	expect_eq "--log-target syslog with no /dev/log exits 1" "$RC" "1"
	expect_contains "and says why" "$ERR" "--log-target syslog: /dev/log is not there"
fi
[ ! -e "$T/x" ] && pass "a refused --log-target makes no socket" || fail "a socket folder was made"

# In a mount namespace, a receiver of our own stands in for journald (at
# /run/systemd/journal/socket, under a tmpfs /run) or for syslog (at
# /dev/log, under a tmpfs /dev that keeps /dev/null).  The receiver is
# systemd-socket-activate --datagram running cat on the socket.
cat >"$T/ns.sh" <<'NS'
set -eu
target=$1 at=$2
mount --make-rprivate /
if [ "$target" = journal ]; then
	mount -t tmpfs tmpfs /run
	mkdir -p /run/systemd/journal
else
	touch "$T/null"
	mount --bind /dev/null "$T/null"
	mount -t tmpfs tmpfs /dev
	touch /dev/null
	mount --bind "$T/null" /dev/null
fi
systemd-socket-activate --datagram -l "$at" sh -c 'exec cat <&3' >"$T/$target.out" 2>"$T/$target.sa" &
rcv=$!
i=0; until grep -q "Listening on" "$T/$target.sa" || [ $i -ge 1000 ]; do i=$((i + 1)); sleep 0.01; done
"$CROSSPOSTD" --foreground --log-level debug --log-target "$target" --socket "$T/$target/broker.sock" \
	2>"$T/$target.err" &
b=$!
i=0; until "$CROSSPOST" list --socket "$T/$target/broker.sock" >/dev/null 2>&1 || [ $i -ge 1000 ]; do
	i=$((i + 1)); sleep 0.01
done
kill -TERM $b; wait $b || echo "crosspostd exited $?" >>"$T/$target.err"
i=0; until grep -q "stopped: " "$T/$target.out" || [ $i -ge 1000 ]; do i=$((i + 1)); sleep 0.01; done
kill $rcv; wait $rcv 2>/dev/null || true
NS
if unshare -m true 2>/dev/null; then
	T="$T" CROSSPOSTD="$CROSSPOSTD" CROSSPOST="$CROSSPOST" timeout 30 unshare -m sh "$T/ns.sh" journal \
		/run/systemd/journal/socket || fail "the journal namespace script failed"
	# One entry per line logged: MESSAGE=, then PRIORITY=, ...
	entry=$(grep -A3 -F "MESSAGE=listening on $T/journal/broker.sock" "$T/journal.out" | tr '\n' ' ')
	expect_contains "the journal gets the info line at priority 6" "$entry" "PRIORITY=6 "
	expect_contains "with crosspostd as its identifier" "$entry" "SYSLOG_IDENTIFIER=crosspostd "
	entry=$(grep -A1 "^MESSAGE=connection 1 (pid [0-9]*, uid [0-9]*): accepted" "$T/journal.out" | tr '\n' ' ')
	expect_contains "a debug line at priority 7" "$entry" "PRIORITY=7 "
	expect_contains "the journal gets every line to the end" "$(cat "$T/journal.out")" "MESSAGE=stopped: "
	expect_eq "and stderr gets none of them" "$(grep -c 'listening on\|stopped' "$T/journal.err" || true)" "0"

	T="$T" CROSSPOSTD="$CROSSPOSTD" CROSSPOST="$CROSSPOST" timeout 30 unshare -m sh "$T/ns.sh" syslog /dev/log ||
		fail "the syslog namespace script failed"
	# <facility daemon (3) * 8 + priority>, then the time, crosspostd[PID]:
	out=$(tr '\0' '\n' <"$T/syslog.out")
	expect_contains "syslog gets the info line as daemon.info (<30>)" \
		"$(echo "$out" | grep -F "listening on $T/syslog/broker.sock" || true)" "<30>"
	expect_contains "tagged crosspostd[PID]" "$(echo "$out" | grep -F "listening on" || true)" "crosspostd["
	expect_contains "a debug line as daemon.debug (<31>)" "$(echo "$out" | grep -F "accepted" || true)" "<31>"
	expect_eq "and stderr gets none of them" "$(grep -c 'listening on\|stopped' "$T/syslog.err" || true)" "0"
else
	echo "skip: unshare -m is not allowed here: syslog and journal lines are not captured"
fi
finish
