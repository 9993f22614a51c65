#!/bin/sh
# SPDX-License-Identifier: MIT
# apt-install.sh WHO PACKAGE...: installs those of the Debian packages that
# are missing (with sudo when not root), saying so on stderr as WHO; does
# nothing when all are present.  Exits with apt-get's status.  Shared by
# scripts/install-deps.sh, scripts/install-browser-deps.sh and
# bench/install-peers.sh, which each say what they install and why.
set -eu
who=$1
shift
missing=""
for p in "$@"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing="$missing $p"
done
[ -z "$missing" ] && exit 0
echo "$who: installing Debian packages:$missing" >&2
SUDO=
[ "$(id -u)" -eq 0 ] || SUDO=sudo
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
# shellcheck disable=SC2086
$SUDO apt-get install -y -qq --no-install-recommends $missing >/dev/null
