#!/bin/sh
# SPDX-License-Identifier: MIT
# Installs the peers `make bench` measures crosspost against: dbus-broker and
# dbus-daemon (with sd-bus, libsystemd-dev, for their clients) and ZeroMQ.
# Does nothing when they are all present.  A failure is not fatal: the
# table says "n/a" for a peer that is missing, with the reason.
set -u
PKGS="dbus-broker dbus libsystemd-dev libzmq3-dev"
missing=""
for p in $PKGS; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing="$missing $p"
done
[ -z "$missing" ] && exit 0
echo "bench: installing Debian packages:$missing" >&2
if [ "$(id -u)" -ne 0 ]; then
	SUDO=sudo
else
	SUDO=
fi
export DEBIAN_FRONTEND=noninteractive
# shellcheck disable=SC2086
if ! { $SUDO apt-get update -qq && $SUDO apt-get install -y -qq --no-install-recommends $missing >/dev/null; }; then
	echo "bench: could not install$missing; the table shows n/a for what needs them" >&2
fi
exit 0
