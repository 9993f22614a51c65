#!/bin/sh
# SPDX-License-Identifier: MIT
# `make bench`: the table of crosspost against its peers (bench/table.c,
# docs/performance.md).  `run.sh BUILD all` (make bench-all) then runs the
# codec and transfer benchmarks too.  BENCH_QUICK=1: fewer rounds and
# messages.
set -eu
BUILD=${1:-build}
"$BUILD/bench/table" "$BUILD/bench"
[ "${2:-}" = all ] || exit 0
export CROSSPOST="$BUILD/crosspost" CROSSPOSTD="$BUILD/crosspostd"
for b in "$BUILD"/bench/bench_*; do
	[ -x "$b" ] || continue
	echo "== $(basename "$b")"
	"$b"
done
