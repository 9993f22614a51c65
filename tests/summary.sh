#!/bin/sh
# SPDX-License-Identifier: MIT
# The closing line of `make check`: both passes summed up, e.g.
#   check: 200 passed, 0 failed (plain 100/100, asan+ubsan 100/100)
# Arguments are LABEL=BUILD pairs; tests/run.sh left BUILD/test-results
# ("PASSED FAILED").  Exits 1 when a pass failed or did not run.
set -u
total_passed=0
total_failed=0
parts=""
status=0
for arg in "$@"; do
	label=${arg%%=*}
	build=${arg#*=}
	if [ -r "$build/test-results" ]; then
		read -r p f <"$build/test-results"
	else
		p=0; f=1
		echo "check: the $label pass did not run (no $build/test-results)" >&2
	fi
	total_passed=$((total_passed + p))
	total_failed=$((total_failed + f))
	[ "$f" -eq 0 ] || status=1
	parts="$parts${parts:+, }$label $p/$((p + f))"
done
echo "check: $total_passed passed, $total_failed failed ($parts)"
exit $status
