#!/bin/sh
# SPDX-License-Identifier: MIT
# origin.sh - `crosspost origin`: printed origins, failure output and exit codes.
# Runs "$CROSSPOST" (set by tests/run.sh); exits non-zero if any case fails.
set -u
: "${CROSSPOST:?CROSSPOST must name the crosspost binary}"
tmp=$(mktemp -d "${TMPDIR:-/tmp}/origin-cli.XXXXXX") || exit 1
trap 'rm -rf "$tmp"' EXIT INT TERM
failed=0

# expect NAME STATUS STDOUT STDERR-SUBSTRING -- ARGS...
# STDERR-SUBSTRING "" means stderr must be empty.
expect() {
	name=$1 want_status=$2 want_out=$3 want_err=$4
	shift 5
	"$CROSSPOST" origin "$@" > "$tmp/out" 2> "$tmp/err"
	status=$?
	out=$(cat "$tmp/out")
	ok=1
	[ "$status" -eq "$want_status" ] || ok=0
	if [ -n "$want_out" ]; then [ "$out" = "$want_out" ] || ok=0; fi
	if [ -n "$want_err" ]; then
		grep -qF -- "$want_err" "$tmp/err" || ok=0
	else
		[ ! -s "$tmp/err" ] || ok=0
	fi
	if [ $ok -eq 1 ]; then
		echo "ok - $name"
	else
		echo "not ok - $name: exit $status (want $want_status), stdout '$out' (want '$want_out')"
		sed 's/^/#   stderr: /' "$tmp/err"
		failed=$((failed + 1))
	fi
}

expect "default port elided" 0 "https://example.com" "" -- "https://example.com:443/path?q#f"
expect "other port kept" 0 "http://example.com:8080" "" -- "HTTP://Example.COM:8080"
expect "IDN in punycode" 0 "https://xn--e1afmkfd.xn--p1ai" "" -- "https://пример.рф/"
expect "IDN in Unicode" 0 "https://пример.рф" "" -- --unicode "https://xn--e1afmkfd.xn--p1ai/"
expect "IPv4 shorthand" 0 "http://127.0.0.1" "" -- "http://0x7f.1/"
expect "IPv6 compressed" 0 "http://[1:0:0:2::3]" "" -- "http://[1:0:0:2:0:0:0:3]/"
expect "relative to base" 0 "https://a.example:8443" "" -- --base "https://a.example:8443/dir/" "../x"
expect "file is opaque" 0 "null" "" -- "file:///etc/hosts"
expect "blob takes inner origin" 0 "https://example.com" "" -- "blob:https://example.com/uuid"
expect "options after input" 0 "https://b.example" "" -- "/x" --base "https://b.example/"
expect "input after --" 0 "null" "" -- -- "data:,-x"
expect "port out of range" 1 "failure" "crosspost origin: " -- "http://example.com:65536/"
expect "reason names the error" 1 "failure" "port-out-of-range" -- "http://example.com:65536/"
expect "forbidden host code point" 1 "failure" "crosspost origin: " -- "http://exa mple.com/"
expect "no scheme, no base" 1 "failure" "missing-scheme-non-relative-URL" -- "example.com"
expect "empty input" 1 "failure" "crosspost origin: " -- ""
expect "bad base" 1 "failure" "invalid base URL" -- --base "nope" "x"
expect "no input" 2 "" "Usage: crosspost origin" --
expect "two inputs" 2 "" "Usage: crosspost origin" -- "http://a" "http://b"
expect "unknown option" 2 "" "Usage: crosspost origin" -- --bogus "http://a"
expect "missing --base value" 2 "" "Usage: crosspost origin" -- "http://a" --base

"$CROSSPOST" origin --help > "$tmp/out" 2> "$tmp/err"
status=$?
if [ "$status" -eq 0 ] && grep -q "^Usage: crosspost origin" "$tmp/out" && [ ! -s "$tmp/err" ]; then
	echo "ok - --help"
else
	echo "not ok - --help: exit $status"
	failed=$((failed + 1))
fi

[ "$failed" -eq 0 ] || echo "$failed failed"
[ "$failed" -eq 0 ]
