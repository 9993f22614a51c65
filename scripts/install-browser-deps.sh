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
exec sh "$(dirname "$0")/apt-install.sh" "crosspost (browser tests)" $PKGS
