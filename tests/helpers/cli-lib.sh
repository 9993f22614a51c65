# SPDX-License-Identifier: MIT
# Sourced by tests/cli/*.sh: a private broker, assertions, cleanup.
# Uses $CROSSPOST and $CROSSPOSTD (set by tests/run.sh).
: "${CROSSPOST:=build/crosspost}" "${CROSSPOSTD:=build/crosspostd}"
T=$(mktemp -d "${TMPDIR:-/tmp}/cpcli.XXXXXX")
export CROSSPOST_SOCKET="$T/broker.sock"
FAILURES=0
BG_PIDS=""
cleanup() {
	for p in $BG_PIDS; do kill "$p" 2>/dev/null || true; done
	wait 2>/dev/null || true
	rm -rf "$T"
}
trap cleanup EXIT INT TERM

fail() { echo "FAIL: $*"; FAILURES=$((FAILURES + 1)); }
pass() { echo "ok: $*"; }
# For a test of what does not depend on how the programs were compiled
# (documents, packaging, completion against --help): `make check` runs it
# in the plain tier only, and the ASan tier says so and stops.
plain_tier_only() {
	if grep -q __asan_init "$CROSSPOST" 2>/dev/null; then
		pass "skipped: $CROSSPOST is the ASan build; this checks nothing the build changes (the plain tier runs it)"
		exit 0
	fi
}
# expect_eq WHAT GOT WANT
expect_eq() { if [ "$2" = "$3" ]; then pass "$1"; else fail "$1: got [$2], want [$3]"; fi; }
# expect_contains WHAT TEXT NEEDLE
expect_contains() { case "$2" in *"$3"*) pass "$1" ;; *) fail "$1: [$2] lacks [$3]" ;; esac; }

# Runs a command, capturing stdout, stderr and status in OUT, ERR, RC.
capture() {
	set +e
	"$@" >"$T/out" 2>"$T/err"
	RC=$?
	set -e
	OUT=$(cat "$T/out")
	ERR=$(cat "$T/err")
}

# Polls (readiness, not a fixed delay) until the broker answers; 10 s cap.
wait_for_broker() {
	i=0
	until "$CROSSPOST" list --socket "${1:-$CROSSPOST_SOCKET}" >/dev/null 2>&1; do
		i=$((i + 1))
		[ $i -lt 1000 ] || { fail "broker did not start"; return 1; }
		sleep 0.01
	done
}

start_broker() {
	"$CROSSPOSTD" --foreground --log-level debug --socket "${1:-$CROSSPOST_SOCKET}" 2>>"$T/broker.log" &
	BROKER_PID=$!
	BG_PIDS="$BG_PIDS $BROKER_PID"
	wait_for_broker "${1:-$CROSSPOST_SOCKET}"
}

# Starts `crosspost listen` in the background and waits for its ready line
# on --ready-fd.  listen_bg OUTFILE ARGS...
listen_bg() {
	out=$1; shift
	rm -f "$T/ready"; mkfifo "$T/ready"
	"$CROSSPOST" listen "$@" --ready-fd 3 >"$out" 2>"$out.err" 3>"$T/ready" &
	LISTEN_PID=$!
	BG_PIDS="$BG_PIDS $LISTEN_PID"
	read -r _ <"$T/ready" || true
}

# Polls (readiness, not a fixed delay) until FILE has a line containing
# TEXT; 10 s cap.  wait_for_line FILE TEXT
wait_for_line() {
	i=0
	until grep -qF -- "$2" "$1" 2>/dev/null; do
		i=$((i + 1))
		[ $i -lt 1000 ] || { fail "no line [$2] in $1 within 10 s"; return 1; }
		sleep 0.01
	done
}

finish() {
	if [ "$FAILURES" -ne 0 ]; then echo "$FAILURES failure(s)"; exit 1; fi
	echo "all passed"
}
