# SPDX-License-Identifier: MIT
# `make install` into a DESTDIR gives binaries, both libraries, the header and
# a crosspost.pc that a program builds against, statically and shared; the
# man pages, the systemd user units (which systemd-analyze accepts), bash
# completion, and the Python package where the system python3 finds it.
# `make uninstall` with the same variables removes every file install put
# there, and under a DESTDIR the folders too.
set -eu
. "$(dirname "$0")/../helpers/cli-lib.sh"
plain_tier_only

build=$(dirname "$CROSSPOST")
root="$T/root"
san=""
case "$build" in *asan*) san="-fsanitize=address,undefined" ;; esac
make -s --no-print-directory install BUILD="$build" SANITIZE="$([ -n "$san" ] && echo 1 || echo 0)" \
	PREFIX=/usr/local DESTDIR="$root" >"$T/install.log" 2>&1 || { cat "$T/install.log"; fail "make install"; }
for f in bin/crosspost bin/crosspostd bin/crosspost-gateway lib/libcrosspost.a lib/libcrosspost.so.0 lib/libcrosspost.so \
	include/crosspost.h lib/pkgconfig/crosspost.pc lib/systemd/user/crosspost.socket \
	lib/systemd/user/crosspost.service share/bash-completion/completions/crosspost \
	share/bash-completion/completions/crosspostd share/man/man1/crosspost.1 share/man/man3/libcrosspost.3 \
	share/man/man5/crosspost-scenario.5 share/man/man5/crosspost.conf.5 share/man/man8/crosspostd.8; do
	[ -e "$root/usr/local/$f" ] && pass "installs $f" || fail "missing $f"
done
for page in man/*.scd; do
	name=$(basename "$page" .scd)
	[ -f "$root/usr/local/share/man/man${name##*.}/$name" ] && pass "installs the page $name" ||
		fail "make install leaves out the page $name"
done
# `crosspost gateway` runs the crosspost-gateway installed beside it.
expect_eq "the installed crosspost runs the installed gateway" \
	"$(PATH=/usr/bin:/bin "$root/usr/local/bin/crosspost" gateway --version 2>&1)" \
	"crosspost-gateway $("$CROSSPOST" --version | sed 's/^crosspost //')"
units="$root/usr/local/lib/systemd/user"
expect_eq "crosspost.service runs the installed crosspostd" \
	"$(grep '^ExecStart=' "$units/crosspost.service")" "ExecStart=/usr/local/bin/crosspostd --foreground --log-target journal"
# systemd-analyze checks that ExecStart's program exists: point it at the
# DESTDIR's for the check.
mkdir -p "$T/units"
cp "$units/crosspost.socket" "$T/units/"
sed "s|=/usr/local/bin/|=$root/usr/local/bin/|" "$units/crosspost.service" >"$T/units/crosspost.service"
capture systemd-analyze verify --man=no "$T/units/crosspost.socket" "$T/units/crosspost.service"
expect_eq "systemd-analyze verify accepts the units" "$RC:$OUT$ERR" "0:"
cat >"$T/app.c" <<'APP'
#include <crosspost.h>
#include <stdio.h>
#include <stdlib.h>
int main(void)
{
	cp_value *v = NULL;
	char *text;

	if (cp_value_from_json("{\"a\":[1,true]}", 14, NULL, &v) != 0)
		return 1;
	text = cp_value_to_json(v);
	printf("%s %s\n", text, cp_error_name(CP_ERR_SYNTAX));
	free(text);
	cp_value_free(v);
	return 0;
}
APP
export PKG_CONFIG_SYSROOT_DIR="$root" PKG_CONFIG_PATH="$root/usr/local/lib/pkgconfig"
# shellcheck disable=SC2046
cc $san "$T/app.c" -o "$T/app" $(pkg-config --cflags --libs crosspost) || fail "build against the shared library"
expect_eq "a program runs against libcrosspost.so" \
	"$(LD_LIBRARY_PATH="$root/usr/local/lib" "$T/app")" '{"a":[1,true]} SyntaxError'
# shellcheck disable=SC2046
# The archive, with its dependencies as shared libraries (`--static` would
# also want libidn2's own private archives).
cc $san "$T/app.c" -o "$T/app-static" $(pkg-config --cflags crosspost) "$root/usr/local/lib/libcrosspost.a" \
	$(pkg-config --libs libevent libprotobuf-c jansson libidn2) -lm || fail "build against the static library"
expect_eq "a program runs against libcrosspost.a" "$("$T/app-static")" '{"a":[1,true]} SyntaxError'
# The Python package, where the system python3 looks for /usr/local's
# packages, with the path of the library it was installed with.
pyver=$(/usr/bin/python3 -c 'import sys; print("%d.%d" % sys.version_info[:2])')
site=/usr/local/lib/python$pyver/dist-packages
for f in __init__.py _lib.py client.py errors.py values.py _install.py; do
	[ -e "$root$site/crosspost/$f" ] && pass "installs $site/crosspost/$f" || fail "missing $site/crosspost/$f"
done
expect_eq "the package's folder is on the system python3's path" \
	"$(/usr/bin/python3 -c "import sys; print('$site' in sys.path)")" "True"
expect_contains "_install.py names the installed library" "$(cat "$root$site/crosspost/_install.py")" \
	'LIBRARY = "/usr/local/lib/libcrosspost.so.0"'
py_env="PYTHONPATH=$root$site PYTHONDONTWRITEBYTECODE=1 CROSSPOST_LIBRARY=$root/usr/local/lib/libcrosspost.so.0"
[ -n "$san" ] && py_env="$py_env LD_PRELOAD=$(cc -print-file-name=libasan.so) ASAN_OPTIONS=detect_leaks=0"
# shellcheck disable=SC2086
capture env $py_env /usr/bin/python3 -c 'import crosspost; print(crosspost.__file__, crosspost.library_path); print(crosspost.to_tagged_json({"a": [1, True]}), crosspost.DataCloneError.name)'
expect_eq "the installed package runs" "$RC" "0"
[ "$RC" -eq 0 ] || echo "$ERR"
expect_eq "the installed package loads the installed library" "$OUT" \
	"$root$site/crosspost/__init__.py $root/usr/local/lib/libcrosspost.so.0
{\"a\":[1,true]} DataCloneError"
exported=$(nm -D --defined-only "$root/usr/local/lib/libcrosspost.so.0" | awk '$2 == "T" {print $3}' | grep -v '^cp_' || true)
expect_eq "the shared library exports only cp_ symbols" "$exported" ""

make -s --no-print-directory uninstall BUILD="$build" PREFIX=/usr/local DESTDIR="$root" >"$T/uninstall.log" 2>&1 ||
	{ cat "$T/uninstall.log"; fail "make uninstall"; }
expect_eq "make uninstall removes every file make install put there" "$(find "$root" ! -type d)" ""
expect_eq "and, under a DESTDIR, the folders it made" "$(find "$root" -mindepth 1)" ""
finish
