#!/bin/sh
# SPDX-License-Identifier: MIT
# Installs the Debian packages crosspost builds and tests with; does nothing
# when they are all present, so `make` stays fast on a prepared machine.
set -eu
# Keep in step with the Makefile's PKGS, BROKER_PKGS, DAEMON_PKGS and
# GATEWAY_PKGS (tests/cli/deps.sh checks that every pkg-config module they
# name, every library `pkg-config --static` links, and every tool the tests
# run comes from a package listed here).  libsystemd-dev: crosspostd's
# socket activation, readiness and journal logging; systemd:
# systemd-socket-activate for the tests; scdoc: the man pages; groff-base:
# rendering them in the tests;
# librsvg2-bin: rsvg-convert renders `crosspost run --diagram`'s SVG in the
# tests, and python3 (its xml.etree) checks that SVG, and is the Python
# package's interpreter (tests/python run with /usr/bin/python3, standard
# library only); libwebsockets-dev: crosspost-gateway.  Chromium, for the
# browser tests, is scripts/install-browser-deps.sh's (large, and optional).
PKGS="build-essential pkg-config libevent-dev libprotobuf-c-dev protobuf-c-compiler check libjansson-dev libidn2-dev libunistring-dev clang libclang-rt-14-dev libsystemd-dev systemd scdoc groff-base libpsl-dev publicsuffix librsvg2-bin python3 libwebsockets-dev"
exec sh "$(dirname "$0")/apt-install.sh" crosspost $PKGS
