#!/bin/sh
# SPDX-License-Identifier: MIT
# Installs the peers `make bench` measures crosspost against: dbus-broker and
# dbus-daemon (with sd-bus, libsystemd-dev, for their clients) and ZeroMQ,
# and time(1) for bench/ab.sh.
# Does nothing when they are all present.  A failure is not fatal: the
# table says "n/a" for a peer that is missing, with the reason.
set -u
PKGS="dbus-broker dbus libsystemd-dev libzmq3-dev time"
sh "$(dirname "$0")/../scripts/apt-install.sh" bench $PKGS ||
	echo "bench: could not install the peers ($PKGS); the table shows n/a for what needs them" >&2
exit 0
