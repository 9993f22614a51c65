#!/bin/sh
# SPDX-License-Identifier: MIT
# `make demo`: a private broker, three window processes exchanging messages
# through the CLI, then the same story as a scenario file run by
# `crosspost run`.  Everything started here is stopped on exit.
set -eu
BUILD=${1:-build}
CROSSPOST="$BUILD/crosspost"
CROSSPOSTD="$BUILD/crosspostd"
dir=$(mktemp -d "${TMPDIR:-/tmp}/crosspost-demo.XXXXXX")
export CROSSPOST_SOCKET="$dir/broker.sock"
pids=""
cleanup() {
	for p in $pids; do kill "$p" 2>/dev/null || true; done
	wait 2>/dev/null || true
	rm -rf "$dir"
}
trap cleanup EXIT INT TERM

say() { printf '\n\033[1m%s\033[0m\n' "$*"; }

# Prints its arguments as one command line a shell reads back as the same
# words: a word of safe characters as it is, any other in single quotes,
# each ' inside it written '\'' (pure sh: newlines survive too).
shell_quote() {
	sep=""
	for arg in "$@"; do
		case "$arg" in
		"" | *[!A-Za-z0-9_@%+=:,./-]*)
			quoted="" rest="$arg"
			while :; do
				case "$rest" in
				*"'"*) quoted="$quoted${rest%%"'"*}'\\''"; rest=${rest#*"'"} ;;
				*) quoted="$quoted$rest"; break ;;
				esac
			done
			printf "%s'%s'" "$sep" "$quoted" ;;
		*)
			printf '%s%s' "$sep" "$arg" ;;
		esac
		sep=" "
	done
	printf '\n'
}

say "1. Start a private broker on $CROSSPOST_SOCKET"
"$CROSSPOSTD" --foreground --log-level debug 2>"$dir/broker.log" &
pids="$pids $!"
# Wait until it answers (readiness, not a fixed delay).
i=0
until "$CROSSPOST" list >/dev/null 2>&1; do
	i=$((i + 1)); [ $i -lt 500 ] || { echo "broker did not start"; cat "$dir/broker.log"; exit 1; }
	sleep 0.01
done
# Everything the broker routes, live, as another terminal would show it:
# crosspost monitor (its lines are printed in step 4).
"$CROSSPOST" monitor --data >"$dir/monitor.out" 2>"$dir/monitor.err" &
pids="$pids $!"
i=0
until grep -q watching "$dir/monitor.err" 2>/dev/null; do
	i=$((i + 1)); [ $i -lt 500 ] || { echo "the monitor did not start"; cat "$dir/monitor.err"; exit 1; }
	sleep 0.01
done

# A listener reports readiness on a FIFO: nothing is posted before it is registered.
listen() { # alias url name count
	mkfifo "$dir/$1.ready"
	"$CROSSPOST" listen "$2" --name "$3" --count "$4" --timeout 10s --ready-fd 3 \
		>"$dir/$1.out" 2>"$dir/$1.err" 3>"$dir/$1.ready" &
	pids="$pids $!"
	read -r _ <"$dir/$1.ready"
}

say "2. Two window processes listen: b at https://b.example, c at http://c.example:8080"
listen b "https://b.example/inbox" b 2
listen c "http://c.example:8080/app" c 2
printf '$ '; shell_quote crosspost list
"$CROSSPOST" list

say "3. A third process, window a at https://a.example:8443, posts:"
run() { printf '$ '; shell_quote crosspost "$@"; "$CROSSPOST" "$@" && echo "  -> exit 0" || echo "  -> exit $?"; }
run post https://a.example:8443/page --name a --to b --target-origin https://b.example '{"greeting":"hello b","n":1}'
run post https://a.example:8443/page --name a --to b --target-origin https://evil.example '{"secret":"must not arrive"}'
echo "  (the broker drops it without telling the sender, as a browser does; the CLI warns"
echo "   because it can see that b's origin does not match)"
run post https://a.example:8443/page --name a --to c --target-origin '*' '["to c", true, null, 2.5]'
run post https://a.example:8443/page --name a --to c --target-origin 'not a url' '"never sent"'
echo "  (an invalid targetOrigin is a SyntaxError, before anything is sent)"
run post http://c.example:8080/other --name c2 --to c --target-origin / '{"from":"c2, same origin as c"}'
run post https://b.example/other --name b2 --to b --target-origin / '"b2 says hi to b"'

wait_for() { # alias
	i=0
	while [ "$(wc -l <"$dir/$1.out")" -lt 2 ]; do
		i=$((i + 1)); [ $i -lt 1000 ] || break
		sleep 0.01
	done
}
wait_for b
wait_for c
say "4. What each window received (origin and source stamped by the broker):"
echo "window b (https://b.example):"
sed 's/^/  /' "$dir/b.out"
echo "window c (http://c.example:8080):"
sed 's/^/  /' "$dir/c.out"
echo "what the broker routed, as \`crosspost monitor --data\` showed it live (run it in another"
echo "terminal against any broker; --json for one object per line):"
sed 's/^/  /' "$dir/monitor.out"

if [ -f examples/demo.scenario ]; then
	say "5. The same story as a scenario: crosspost run examples/demo.scenario"
	"$CROSSPOST" run --verbose examples/demo.scenario
fi
say "Done: everything started by the demo has been stopped."
