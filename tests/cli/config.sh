# SPDX-License-Identifier: MIT
# crosspostd --config FILE (docs/security.md "Policy"): every error names
# FILE:LINE and refuses the file (exit 2); [limits] under --limit; the
# example file in docs/ is valid, so it cannot rot.
set -eu
. "$(dirname "$0")/../helpers/cli-lib.sh"

# expect_bad TEXT WHAT LINE MESSAGE: a file of TEXT (printf format) is
# refused with exit 2 and "FILE:LINE: ...MESSAGE".
expect_bad() {
	printf "$1" >"$T/bad.conf"
	capture "$CROSSPOSTD" --config "$T/bad.conf" --check-config
	expect_eq "$2: exit 2" "$RC" "2"
	expect_contains "$2: FILE:LINE" "$ERR" "crosspostd: $T/bad.conf:$3: "
	expect_contains "$2: why" "$ERR" "$4"
}

expect_bad '[uid 1000]\nregister = https://a.example\nfrobnicate = yes\n' "an unknown key" 3 "unknown key 'frobnicate' in [uid 1000]"
expect_bad '# policy\n\n[people]\n' "an unknown section" 3 "unknown section [people]"
expect_bad 'connect = yes\n' "a key before any section" 1 "connect = ... before any [section]"
expect_bad '[everyone]\nconnect = maybe\n' "yes or no" 2 "connect takes yes or no, not 'maybe'"
expect_bad '[everyone]\nregister = https://a.example\nregister = https://b.example\n' "a key given twice" 3 "register is given twice in this section"
expect_bad '[uid 7]\n[uid 7]\n' "a section given twice" 2 "[uid 7]: the section [uid 7] at $T/bad.conf:1 already applies to uid 7; one section per user"
expect_bad '[uid 0]\n[user root]\n' "a user and a uid section for one uid" 2 "already applies to uid 0"
expect_bad '[user no-such-user-here]\n' "an unknown user" 1 "no user named 'no-such-user-here' on this system"
expect_bad '[group no-such-group-here]\n' "an unknown group" 1 "no group named 'no-such-group-here'"
expect_bad '[uid alice]\n' "a uid that is not a number" 1 "[uid N] needs a number, not 'alice'"
expect_bad '[everyone]\nregister = https://a.example/path\n' "a pattern with a path" 2 "an origin has no path"
expect_bad '[everyone]\nregister = https://a.*.example\n' "a * in the middle" 2 "a * may only be the first label"
expect_bad '[everyone]\nregister = file://server\n' "a scheme with opaque origins" 2 "write null to match opaque origins"
expect_bad '[everyone]\nregister = https://*.10.0.0.1\n' "a wildcard over an IP" 2 "*. needs a domain"
expect_bad '[everyone]\nregister = https://a.example,\n' "an empty list item" 2 "an empty item in the list"
expect_bad '[everyone]\nregister =\n' "no value" 2 "register has no value"
expect_bad '[limits]\nqueue-high = lots\n' "a limit that does not parse" 2 "queue-high = lots: not a size"
expect_bad '[limits]\nmax-everything = 1\n' "an unknown limit" 2 "no such limit"
expect_bad '[socket]\nmode = 0644\n' "a socket mode that lets others read only" 2 "a socket's mode is 0600 (the broker's uid alone), 0660"
expect_bad '[socket]\nmode = 0700\n' "a socket mode with execute bits" 2 "a socket's mode is 0600 (the broker's uid alone), 0660"
expect_bad '[socket]\npath = /x\n' "an unknown socket key" 2 "unknown key 'path' in [socket]"
expect_bad '[everyone\n' "an unclosed section" 1 "a section header ends with ]"

capture "$CROSSPOSTD" --config "$T/none.conf" --check-config
expect_eq "a missing file: exit 2" "$RC" "2"
expect_contains "a missing file: named" "$ERR" "cannot read the config file $T/none.conf"
# A bad file never starts a broker, even with a socket to listen on.
printf '[everyone]\nconnect = perhaps\n' >"$T/bad.conf"
capture timeout 10 "$CROSSPOSTD" --foreground --socket "$T/b.sock" --config "$T/bad.conf"
expect_eq "a broker with a bad config exits 2" "$RC:$([ -e "$T/b.sock" ] && echo socket || echo none)" "2:none"

# [limits] in the file; --limit over it.
printf '[limits]\nmax-connections-per-uid = 10\nhandshake-timeout = 2s\n' >"$T/limits.conf"
capture "$CROSSPOSTD" --config "$T/limits.conf" --print-limits
expect_contains "[limits] sets a limit" "$OUT" "max-connections-per-uid = 10"
expect_contains "and another" "$OUT" "handshake-timeout = 2000ms"
capture "$CROSSPOSTD" --config "$T/limits.conf" --limit max-connections-per-uid=20 --print-limits
expect_contains "--limit overrides the file" "$OUT" "max-connections-per-uid = 20"
expect_contains "and keeps the file's others" "$OUT" "handshake-timeout = 2000ms"
printf '[limits]\nqueue-low = 9MiB\n' >"$T/misfit.conf"
capture "$CROSSPOSTD" --config "$T/misfit.conf" --print-limits
expect_eq "limits that do not fit together: exit 2" "$RC" "2"
expect_contains "and why" "$ERR" "queue-low must be below queue-high"

# The documented example is a valid file.
capture "$CROSSPOSTD" --config docs/crosspost.conf.example --check-config
expect_eq "docs/crosspost.conf.example is valid" "$RC" "0"
expect_contains "and has policy sections" "$OUT" "docs/crosspost.conf.example: ok:"
capture "$CROSSPOSTD" --check-config
expect_eq "--check-config needs --config" "$RC" "2"

# SIGHUP without --config changes nothing and says so.
start_broker
kill -HUP "$BROKER_PID"
i=0; until grep -q "no --config file to reload" "$T/broker.log" || [ $i -ge 1000 ]; do i=$((i + 1)); sleep 0.01; done
expect_contains "SIGHUP without --config is logged" "$(cat "$T/broker.log")" "there is no --config file to reload"
capture "$CROSSPOST" list
expect_eq "and the broker goes on" "$RC" "0"
kill "$BROKER_PID"; wait "$BROKER_PID" || true
finish
