#!/bin/sh
# SPDX-License-Identifier: MIT
# Two builds of crosspost against each other on one workload, alternating,
# as docs/performance.md's "What changed" measured each lever:
#
#   sh bench/ab.sh BUILD_A BUILD_B 'oneway 65536 20000' [ROUNDS]
#
# BUILD_A and BUILD_B are build folders (each with crosspostd and
# bench/xp_crosspost, as `make bench-build` leaves them; copy one aside
# before rebuilding).  Each round runs the workload once with A and once
# with B; each run prints the workload's result line and the CPU time of
# the whole process tree per message (user + system, /usr/bin/time).  The
# medians come last.  Alternating spreads the noise of a shared machine
# over both sides; compare the medians, not single runs.
set -eu
[ $# -ge 3 ] || { echo "usage: $0 BUILD_A BUILD_B 'WORKLOAD ARGS' [ROUNDS]" >&2; exit 2; }
A=$1 B=$2 WORK=$3 ROUNDS=${4:-5}
for b in "$A" "$B"; do
	[ -x "$b/bench/xp_crosspost" ] && [ -x "$b/crosspostd" ] ||
		{ echo "$0: $b has no bench/xp_crosspost and crosspostd (make bench-build)" >&2; exit 2; }
done
[ -x /usr/bin/time ] || { echo "$0: needs /usr/bin/time (Debian package: time)" >&2; exit 2; }
OUT=$(mktemp -d /tmp/cp-ab.XXXXXX)
trap 'rm -rf "$OUT"' EXIT
# The message count the CPU time is divided by: the last argument, plus
# the tenth the one-way workload sends before it starts timing.
set -- $WORK
for last; do :; done
case $1 in oneway) MSGS=$((last + last / 10)) ;; *) MSGS=$last ;; esac

i=1
while [ "$i" -le "$ROUNDS" ]; do
	for side in A B; do
		eval b=\$$side
		# shellcheck disable=SC2086
		/usr/bin/time -f "%U %S" -o "$OUT/time" "$b/bench/xp_crosspost" crosspost $WORK > "$OUT/run" 2>&1 ||
			{ cat "$OUT/run" >&2; exit 1; }
		r=$(grep '^result' "$OUT/run" | sed 's/^result //')
		cpu=$(awk -v n="$MSGS" '{ printf "%.2f", ($1 + $2) * 1e6 / n }' "$OUT/time")
		echo "$side round $i: $r tree_cpu_us_per_msg=$cpu"
		echo "$r tree_cpu_us_per_msg=$cpu" >> "$OUT/$side"
	done
	i=$((i + 1))
done
for side in A B; do
	# The median of each key=value field over the rounds.
	awk -v side="$side" '
		{ for (f = 1; f <= NF; f++) { split($f, kv, "="); v[kv[1], NR] = kv[2]; keys[kv[1]] = 1 } }
		END {
			line = side " median:"
			for (k in keys) {
				n = 0
				for (r = 1; r <= NR; r++) a[++n] = v[k, r] + 0
				for (x = 1; x <= n; x++) for (y = x + 1; y <= n; y++) if (a[y] < a[x]) { t = a[x]; a[x] = a[y]; a[y] = t }
				m = n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
				line = line " " k "=" m
			}
			print line
		}' "$OUT/$side"
done
