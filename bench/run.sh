#!/bin/sh
# SPDX-License-Identifier: MIT
# Runs every benchmark built in BUILD/bench and prints its figures.
set -eu
BUILD=${1:-build}
export CROSSPOST="$BUILD/crosspost" CROSSPOSTD="$BUILD/crosspostd"
for b in "$BUILD"/bench/bench_*; do
	[ -x "$b" ] || continue
	echo "== $(basename "$b")"
	"$b"
done
