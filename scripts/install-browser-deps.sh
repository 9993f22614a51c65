#!/bin/sh
# SPDX-License-Identifier: MIT
# Installs Chromium (the Debian package `chromium`), which the browser tests
# use when it is there (tests/cli/gateway_browser.sh; docs/gateway.md,
# "Tests").  It is kept out of scripts/install-deps.sh on purpose: it is
# several hundred megabytes that building crosspost does not need, so
# `make` and `make check` do not pull it in; .ci/run calls this script
# first, and a developer runs it once.  Does nothing when it is installed.
set -eu
PKGS="chromium"
missing=""
for p in $PKGS; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing="$missing $p"
done
[ -z "$missing" ] && exit 0
echo "crosspost: installing Debian packages for the browser tests:$missing" >&2
if [ "$(id -u)" -ne 0 ]; then
	SUDO=sudo
else
	SUDO=
fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
# shellcheck disable=SC2086
$SUDO apt-get install -y -qq --no-install-recommends $missing >/dev/null
