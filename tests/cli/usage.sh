# SPDX-License-Identifier: MIT
# Arguments as a user types them, with no broker running: empty --socket,
# $CROSSPOST_SOCKET, durations, extra arguments, paths that are not
# sockets, error lines printed once, and --version.
set -eu
. "$(dirname "$0")/../helpers/cli-lib.sh"

build=$(dirname "$CROSSPOST")

# An empty --socket would be an abstract socket named by NUL bytes.  The
# broker would listen there for ever: `timeout` keeps a regression from
# hanging the suite.
capture timeout 10 "$CROSSPOSTD" --foreground --socket ''
expect_eq "crosspostd --socket '' exits 2" "$RC" "2"
expect_contains "crosspostd --socket '' explained" "$ERR" "crosspostd: --socket needs a path, not an empty string"
for cmd in "listen https://a.example" "post https://a.example --to b 1" "list" \
	"run examples/demo.scenario" "origin https://a.example"; do
	name=${cmd%% *} rest=${cmd#"$name"}
	# shellcheck disable=SC2086
	capture timeout 10 "$CROSSPOST" $name --socket '' $rest
	expect_eq "$name --socket '' exits 2" "$RC" "2"
	expect_contains "$name --socket '' explained" "$ERR" "crosspost $name: --socket needs a path, not an empty string"
done

# An empty $CROSSPOST_SOCKET counts as unset, as the usage texts say.
capture env CROSSPOST_SOCKET= XDG_RUNTIME_DIR="$T/xdg" "$CROSSPOST" list
expect_contains "empty CROSSPOST_SOCKET falls back to XDG_RUNTIME_DIR" "$ERR" "no broker at $T/xdg/crosspost/broker.sock"
capture "$CROSSPOST" --help
expect_contains "crosspost --help: an empty CROSSPOST_SOCKET is unset" "$OUT" "an empty variable counts as unset"
capture "$CROSSPOSTD" --help
expect_contains "crosspostd --help: an empty CROSSPOST_SOCKET is unset" "$OUT" '$CROSSPOST_SOCKET if set and'

# A duration needs its unit, as in scenario files.
capture "$CROSSPOST" listen https://a.example --timeout 1500
expect_eq "--timeout without a unit exits 2" "$RC" "2"
expect_contains "--timeout without a unit explained" "$ERR" \
	"crosspost listen: --timeout needs a unit: 1500ms or 1500s, not '1500'"
capture "$CROSSPOST" listen https://a.example --timeout 2h
expect_eq "--timeout with an unknown unit exits 2" "$RC" "2"
expect_contains "--timeout with an unknown unit explained" "$ERR" "needs a duration like 250ms, 2s or 1m, not '2h'"

# Extra arguments are named.
capture "$CROSSPOST" post https://a.example --to b '1' extra
expect_eq "post with an extra argument exits 2" "$RC" "2"
expect_contains "post names the extra argument" "$ERR" "crosspost post: unexpected argument 'extra'"
capture "$CROSSPOST" listen https://a.example more
expect_eq "listen with an extra argument exits 2" "$RC" "2"
expect_contains "listen names the extra argument" "$ERR" "crosspost listen: unexpected argument 'more'"

# A --socket that exists but is not a socket.
echo "not a socket" >"$T/file"
capture "$CROSSPOST" list --socket "$T/file"
expect_eq "a regular file as --socket exits 1" "$RC" "1"
expect_eq "a regular file is not a socket" "$ERR" "crosspost list: NetworkError: $T/file is not a socket"
mkdir "$T/folder"
capture "$CROSSPOST" post https://a.example --to b 1 --socket "$T/folder"
expect_eq "a folder is not a socket" "$ERR" "crosspost post: NetworkError: $T/folder is not a socket"

# `run --socket` with no broker says so once.
capture "$CROSSPOST" run --socket "$T/nope.sock" examples/demo.scenario
expect_eq "run --socket without a broker exits 2" "$RC" "2"
expect_eq "run says 'no broker' once" "$ERR" \
	"crosspost run: NetworkError: no broker at $T/nope.sock: No such file or directory (start one with \`crosspostd\`)"

# One version, written in client/crosspost.h, everywhere.
version=$(sed -n 's/^#define CP_VERSION_[A-Z]* \([0-9]*\)$/\1/p' client/crosspost.h | paste -sd.)
expect_contains "the header has a version" "$version" "."
capture "$CROSSPOST" --version
expect_eq "crosspost --version" "$OUT" "crosspost $version"
capture "$CROSSPOST" version
expect_eq "crosspost version" "$OUT" "crosspost $version"
capture "$CROSSPOSTD" --version
expect_eq "crosspostd --version" "$OUT" "crosspostd $version"
san=""
case "$build" in *asan*) san="-fsanitize=address,undefined" ;; esac
cat >"$T/version.c" <<'C'
#include <stdio.h>
#include "crosspost.h"
int main(void) { printf("%s\n", cp_version()); return 0; }
C
# shellcheck disable=SC2046,SC2086
if cc $san -Iclient "$T/version.c" -o "$T/version" "$build/libcrosspost.a" \
	$(pkg-config --libs libevent libprotobuf-c jansson libidn2) -lm 2>"$T/cc.err"; then
	expect_eq "cp_version() is the header's version" "$("$T/version")" "$version"
else
	cat "$T/cc.err"; fail "cannot build a program calling cp_version()"
fi
finish
