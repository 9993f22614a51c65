# SPDX-License-Identifier: MIT
# The socket's folder must be crosspostd's alone (docs/security.md "Socket
# folder"): a folder others can write to, a symlink, someone else's folder,
# or a folder above it that others can change is refused with exit 1 and a
# message naming the folder and the problem.  A shared socket ([socket]
# mode) lets group and others search the folder, never write to it.
set -eu
. "$(dirname "$0")/../helpers/cli-lib.sh"

# expect_refused WHAT FOLDER PROBLEM [crosspostd args...]
expect_refused() {
	what=$1 folder=$2 problem=$3
	shift 3
	capture timeout 10 "$CROSSPOSTD" --foreground "$@"
	expect_eq "$what: crosspostd exits 1" "$RC" "1"
	expect_contains "$what: the message names the folder" "$ERR" "$folder"
	expect_contains "$what: the message says what is wrong" "$ERR" "$problem"
}

# Starts a broker on SOCKET with ARGS, expects it to listen, stops it.
expect_listens() {
	what=$1 sock=$2
	shift 2
	"$CROSSPOSTD" --foreground --socket "$sock" "$@" 2>>"$T/broker.log" &
	p=$!
	BG_PIDS="$BG_PIDS $p"
	i=0; until [ -S "$sock" ] || [ $i -ge 1000 ] || ! kill -0 $p 2>/dev/null; do i=$((i + 1)); sleep 0.01; done
	if [ -S "$sock" ]; then pass "$what"; else fail "$what: $(tail -n 3 "$T/broker.log")"; fi
	kill $p 2>/dev/null || true
	wait $p 2>/dev/null || true
}

mkdir -m 0777 "$T/open"
expect_refused "a 0777 folder" "$T/open" "mode 0777" --socket "$T/open/broker.sock"
expect_contains "a 0777 folder: the fix is said" "$ERR" "chmod 700 $T/open"
[ ! -e "$T/open/broker.sock" ] && pass "no socket is made in it" || fail "a socket was made in a 0777 folder"

mkdir -m 0755 "$T/readable"
expect_refused "a 0755 folder, socket not shared" "$T/readable" "mode 0755: it must be 0700" --socket "$T/readable/broker.sock"

mkdir -m 0700 "$T/real"
ln -s "$T/real" "$T/link"
expect_refused "a symlinked folder" "$T/link" "is a symbolic link" --socket "$T/link/broker.sock"

# The default path's folder, squatted: the same check (no --socket).
mkdir -m 0777 "$T/squat"
(
	unset XDG_RUNTIME_DIR
	export CROSSPOST_SOCKET="$T/squat/broker.sock"
	capture timeout 10 "$CROSSPOSTD" --foreground
	expect_eq "the default path's folder is checked too" "$RC:$(echo "$ERR" | grep -c "$T/squat has mode 0777")" "1:1"
	finish >/dev/null
) || FAILURES=$((FAILURES + 1))

# A folder above the socket's that others may write to (not sticky).
mkdir -m 0777 "$T/loose"
chmod 0777 "$T/loose"
expect_refused "a writable folder above" "$T/loose" "above the socket's, has mode 0777" \
	--socket "$T/loose/mine/broker.sock"
[ ! -e "$T/loose/mine" ] || fail "the folder under a writable one was created anyway"
# Sticky and world-writable above (as /tmp) is fine.
mkdir -m 1777 "$T/sticky"
chmod 1777 "$T/sticky"
expect_listens "a sticky folder above (as /tmp) is fine" "$T/sticky/mine/broker.sock"
expect_eq "the folder it made is 0700" "$(stat -c %a "$T/sticky/mine")" "700"

# Folders it creates are 0700 whatever the umask.
(umask 0277 && expect_listens "created under umask 0277" "$T/umask/a/b/broker.sock" && finish >/dev/null) ||
	FAILURES=$((FAILURES + 1))
expect_eq "each folder created is 0700" "$(stat -c %a "$T/umask/a") $(stat -c %a "$T/umask/a/b")" "700 700"

# A shared socket: the folder may be searched by others, never written.
printf '[socket]\nmode = 0666\n' >"$T/shared.conf"
mkdir -m 0711 "$T/shared"
expect_listens "a 0711 folder with [socket] mode = 0666" "$T/shared/broker.sock" --config "$T/shared.conf"
mkdir -m 0755 "$T/shared2"
"$CROSSPOSTD" --foreground --socket "$T/shared2/broker.sock" --config "$T/shared.conf" 2>>"$T/broker.log" &
p=$!
BG_PIDS="$BG_PIDS $p"
wait_for_broker "$T/shared2/broker.sock"
expect_eq "the shared socket's mode" "$(stat -c %a "$T/shared2/broker.sock")" "666"
kill $p; wait $p || true
mkdir -m 0775 "$T/shared3"
expect_refused "a group-writable folder, even shared" "$T/shared3" "never write to it" \
	--socket "$T/shared3/broker.sock" --config "$T/shared.conf"
expect_listens "a folder it creates for a shared socket" "$T/made/broker.sock" --config "$T/shared.conf"
expect_eq "is 0711 (others may reach the socket, not list)" "$(stat -c %a "$T/made")" "711"
printf '[socket]\nmode = 0660\n' >"$T/group.conf"
expect_listens "a folder it creates for a group socket" "$T/made-g/broker.sock" --config "$T/group.conf"
expect_eq "is 0710" "$(stat -c %a "$T/made-g")" "710"
mkdir -m 0755 "$T/run-dir"
expect_listens "a 0755 folder (as systemd makes /run folders) for a group socket" "$T/run-dir/broker.sock" \
	--config "$T/group.conf"

if [ "$(id -u)" = 0 ]; then
	mkdir -m 0700 "$T/theirs"
	chown 65534:65534 "$T/theirs"
	expect_refused "a folder owned by uid 65534" "$T/theirs" "is owned by uid 65534, not by uid 0" \
		--socket "$T/theirs/broker.sock"
	mkdir -m 0755 "$T/above-theirs"
	chown 65534:65534 "$T/above-theirs"
	expect_refused "a folder above owned by uid 65534" "$T/above-theirs" "is owned by uid 65534" \
		--socket "$T/above-theirs/mine/broker.sock"
	printf '[socket]\nmode = 0660\ngroup = nogroup\n' >"$T/nogroup.conf"
	mkdir -m 0710 "$T/grp"
	"$CROSSPOSTD" --foreground --socket "$T/grp/broker.sock" --config "$T/nogroup.conf" 2>>"$T/broker.log" &
	p=$!
	BG_PIDS="$BG_PIDS $p"
	wait_for_broker "$T/grp/broker.sock"
	expect_eq "[socket] group and mode" "$(stat -c '%a %G' "$T/grp/broker.sock")" "660 nogroup"
	kill $p; wait $p || true
else
	echo "skip: folders owned by uid 65534 and [socket] group need root (chown)"
fi
finish
