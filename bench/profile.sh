#!/bin/sh
# SPDX-License-Identifier: MIT
# Where the broker's time goes on the 64 B one-way run of `make bench`
# (docs/performance.md, "Where the time goes"): crosspostd against the
# epoll relay, per message.
#
#   sh bench/profile.sh [BUILD] [MESSAGES] [SIZE]   (make bench-profile: 100000 x 64 B)
#
# 1. perf stat -e task-clock,context-switches on the server process;
# 2. strace -c -f: syscalls per message;
# 3. perf record -g (software clock: this VM has no hardware counters),
#    when perf can sample here;
# 4. valgrind --tool=callgrind on a smaller run: instructions per message,
#    the top functions, and calls to malloc and memcpy per message.
# Each tool runs on its own run of `xp_* TRANSPORT oneway 64 N`; the run
# sends N + N/10 messages (the receiver times the last N).
set -eu
BUILD=${1:-build}
N=${2:-100000}
SIZE=${3:-64}
B="$BUILD/bench"
OUT=$(mktemp -d /tmp/cp-profile.XXXXXX)
TOTAL=$((N + N / 10))

# Waits for the server process of the xp run $1 ($2: its command name).
server_of() {
	i=0
	while [ $i -lt 500 ]; do
		p=$(pgrep -P "$1" -x "$2" || true)
		[ -n "$p" ] && { echo "$p"; return 0; }
		sleep 0.01
		i=$((i + 1))
	done
	return 1
}

# run_attached TOOL TRANSPORT PROGRAM SERVER_NAME N: TOOL is a command
# attached to the server's pid (appended as the last argument).
run_attached() {
	tool=$1 program=$2 transport=$3 name=$4 n=$5
	"$B/$program" "$transport" oneway "$SIZE" "$n" > "$OUT/run.out" 2>&1 &
	xp=$!
	pid=$(server_of $xp "$name")
	# shellcheck disable=SC2086
	$tool "$pid" &
	t=$!
	wait $xp
	kill -INT $t 2>/dev/null || true
	wait $t 2>/dev/null || true
	cat "$OUT/run.out"
}

for target in "xp_crosspost crosspost crosspostd" "xp_frames relay relay_epoll"; do
	set -- $target
	program=$1 transport=$2 name=$3
	echo "== $transport: perf stat (task-clock, context switches) over $TOTAL messages"
	run_attached "perf stat -e task-clock,context-switches,cpu-migrations -o $OUT/$transport.stat -p" \
		"$program" "$transport" "$name" "$N" > /dev/null
	awk -v n=$TOTAL '/task-clock/ { gsub(",", "", $1); printf "  task-clock %.0f ms = %.2f us/msg\n", $1, $1 * 1000 / n }
		/context-switches/ { gsub(",", "", $1); printf "  context switches %d = %.3f /msg\n", $1, $1 / n }' "$OUT/$transport.stat"
	echo "== $transport: strace -c -f, syscalls per message"
	run_attached "strace -c -f -o $OUT/$transport.strace -p" "$program" "$transport" "$name" "$N" > /dev/null
	# "% time  seconds  usecs/call  calls  [errors]  syscall": calls is the 4th.
	awk -v n=$TOTAL '/^ *[0-9.]+ +[0-9.]+ +[0-9]+ +[0-9]+/ && $4 / n >= 0.001 {
		printf "  %-16s %9d calls  %.3f /msg\n", $NF, $4, $4 / n }' "$OUT/$transport.strace"
done

if perf record -e cpu-clock -g -o "$OUT/probe.data" true > /dev/null 2>&1; then
	echo "== crosspost: perf record -g -e cpu-clock on crosspostd (top entries, self time)"
	run_attached "perf record -e cpu-clock -g -o $OUT/crosspostd.data -p" xp_crosspost crosspost crosspostd "$N" \
		> /dev/null 2>&1
	perf report -i "$OUT/crosspostd.data" --stdio --no-children --percent-limit 2 -g none 2>/dev/null |
		grep -E '^ +[0-9]' | head -25
else
	echo "== perf record does not work here: skipped"
fi

# Callgrind: crosspostd run under valgrind through a wrapper, on a tenth
# of the messages (it runs some 50 times slower).
CN=$((N / 10))
CTOTAL=$((CN + CN / 10))
cat > "$OUT/crosspostd-callgrind" <<EOF
#!/bin/sh
exec valgrind --tool=callgrind --callgrind-out-file=$OUT/callgrind.out $(cd "$BUILD" && pwd)/crosspostd "\$@"
EOF
chmod +x "$OUT/crosspostd-callgrind"
echo "== crosspost: callgrind on crosspostd, $CTOTAL messages"
CROSSPOSTD="$OUT/crosspostd-callgrind" "$B/xp_crosspost" crosspost oneway "$SIZE" "$CN" 2> "$OUT/callgrind.log" || true
# SIGTERM ends the broker cleanly; valgrind writes the profile on exit.
i=0
while [ ! -s "$OUT/callgrind.out" ] && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
if [ -s "$OUT/callgrind.out" ]; then
	callgrind_annotate --inclusive=no "$OUT/callgrind.out" 2>/dev/null > "$OUT/callgrind.txt"
	awk -v n=$CTOTAL '/PROGRAM TOTALS/ { gsub(",", "", $1); printf "  %.0f instructions per message (whole broker run)\n", $1 / n }' \
		"$OUT/callgrind.txt"
	echo "  top functions (instructions per message, self):"
	awk -v n=$CTOTAL '/^ *[0-9,]+ .*[:(]/ && !/PROGRAM/ { v = $1; gsub(",", "", v); $1 = ""; if (k++ < 20) printf "  %8.0f %s\n", v / n, $0 }' \
		"$OUT/callgrind.txt"
	echo "  calls per message (from the profile's call counts):"
	# Function names are compressed: "fn=(7) name" once, then "(7)".
	awk -v n=$CTOTAL '
		/^c?fn=\(/ { id = $1; sub(/^c?fn=/, "", id); name = $0; sub(/^c?fn=\([0-9]+\) ?/, "", name)
			if (name != "") names[id] = name; if ($0 ~ /^cfn=/) callee = names[id] }
		/^calls=/ { split($0, a, /[= ]/); calls[callee] += a[2] }
		END { for (f in calls) if (f ~ /^(malloc|free|realloc|calloc|memcpy|__memcpy_avx_unaligned_erms|memmove|__memmove_avx_unaligned_erms|recvmsg|sendmsg|epoll_wait|protobuf_c_message_pack|protobuf_c_message_unpack)$/)
			printf "  %-36s %.2f\n", f, calls[f] / n }' "$OUT/callgrind.out" | sort
	echo "  (full reports in $OUT)"
else
	echo "  callgrind produced no profile (see $OUT/callgrind.log)"
fi
echo "files: $OUT"
