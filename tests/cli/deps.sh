# SPDX-License-Identifier: MIT
# scripts/install-deps.sh installs everything the build links and the
# tests run: every pkg-config module the Makefile (and crosspost.pc) names
# comes from a package the script lists, every library `pkg-config
# --static --libs` names resolves to a file (its -dev package is there),
# and so does every tool that building the man pages and the tests need.
set -eu
. "$(dirname "$0")/../helpers/cli-lib.sh"
plain_tier_only

listed=$(sed -n 's/^PKGS="\(.*\)"$/\1/p' scripts/install-deps.sh)
[ -n "$listed" ] && pass "install-deps.sh lists its packages" || fail "cannot read PKGS from install-deps.sh"
modules=$(sed -n 's/^PKGS *:= *//p' Makefile)
broker_modules=$(sed -n 's/^BROKER_PKGS *:= *//p' Makefile)
[ -n "$broker_modules" ] && pass "the Makefile names the broker's own modules ($broker_modules)" ||
	fail "cannot read BROKER_PKGS from the Makefile"
pc_modules=$(sed -n 's/^Requires.private: *//p' crosspost.pc.in)
expect_eq "crosspost.pc requires what the Makefile builds libcrosspost with" "$pc_modules" "$modules"
daemon_modules=$(sed -n 's/^DAEMON_PKGS *:= *//p' Makefile)
[ -n "$daemon_modules" ] && pass "the Makefile names crosspostd's own modules: $daemon_modules" ||
	fail "cannot read DAEMON_PKGS from the Makefile"
gateway_modules=$(sed -n 's/^GATEWAY_PKGS *:= *//p' Makefile)
[ -n "$gateway_modules" ] && pass "the Makefile names the gateway's own modules ($gateway_modules)" ||
	fail "cannot read GATEWAY_PKGS from the Makefile"
for m in $modules $broker_modules $daemon_modules $gateway_modules check; do
	pc="$(pkg-config --variable=pcfiledir "$m" 2>/dev/null)/$m.pc"
	if [ ! -f "$pc" ]; then fail "pkg-config module $m is not installed"; continue; fi
	owner=$(dpkg -S "$pc" 2>/dev/null | head -n 1 | cut -d: -f1)
	case " $listed " in
	*" $owner "*) pass "module $m comes from $owner, which install-deps.sh installs" ;;
	*) fail "module $m comes from package '$owner', which install-deps.sh does not list" ;;
	esac
done
# The tools: scdoc builds the man pages, groff renders them in
# tests/cli/manpages.sh, systemd-socket-activate starts crosspostd in
# tests/check_service.c and tests/cli/systemd.sh, rsvg-convert renders the
# diagrams of tests/cli/diagram.sh and /usr/bin/python3 checks them (named
# by path: a python3 earlier in PATH may be no package's).
for tool in scdoc groff systemd-socket-activate rsvg-convert /usr/bin/python3; do
	path=$(command -v "$tool" || true)
	if [ -z "$path" ]; then fail "$tool is not installed"; continue; fi
	# The package of the file or of the link to it (python3 -> python3.11:
	# python3-minimal owns the link, which the listed python3 installs).
	owner=$(dpkg -S "$(readlink -f "$path")" 2>/dev/null | head -n 1 | cut -d: -f1)
	link_owner=$(dpkg -S "$path" 2>/dev/null | head -n 1 | cut -d: -f1)
	[ -n "$owner" ] || owner=$link_owner
	case " $listed " in
	*" $owner "* | *" $link_owner "*) pass "$tool comes from $owner, which install-deps.sh installs" ;;
	*" ${link_owner%-minimal} "*) pass "$tool comes from $link_owner, which ${link_owner%-minimal} (listed) installs" ;;
	*) fail "$tool comes from package '$owner', which install-deps.sh does not list" ;;
	esac
done
# shellcheck disable=SC2046
for lib in $(pkg-config --static --libs $modules $broker_modules $daemon_modules $gateway_modules | tr ' ' '\n' | sed -n 's/^-l//p'); do
	found=""
	for ext in so a; do
		f=$(cc -print-file-name="lib$lib.$ext")
		[ "$f" != "lib$lib.$ext" ] && [ -e "$f" ] && found=$f && break
	done
	[ -n "$found" ] && pass "pkg-config --static names -l$lib: $found" || fail "pkg-config --static names -l$lib, but no lib$lib.so or .a is installed"
done
finish
