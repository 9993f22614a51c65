# SPDX-License-Identifier: MIT
# crosspost build.  `make demo` and `make check` are the front door (README).
#
# Layout (one-way layering):  common/ -> proto/ -> broker/ (core, then main.c)
#                                              \-> value/ -> client/ (libcrosspost)
#                                                             -> runner/, cli/ (crosspost)
#                                                             -> gateway/ (crosspost-gateway)
# BUILD selects the output folder; SANITIZE=1 builds with ASan + UBSan.

BUILD    ?= build
SANITIZE ?= 0
# V=1 shows whole command lines; by default one short line per file.
V        ?= 0
JOBS     ?= $(shell nproc 2>/dev/null || echo 2)
PREFIX   ?= /usr/local
DESTDIR  ?=
# The Python package (python/crosspost) is installed where the system
# python3 finds it: /usr/lib/python3/dist-packages for PREFIX=/usr (Debian's
# own), else PREFIX/lib/python3.X/dist-packages (for /usr/local, on Debian's
# sys.path; another PREFIX needs PYTHONPATH).  Set PYTHON_SITE to override.
PYTHON      ?= /usr/bin/python3
PYTHON_SITE ?= $(if $(filter /usr,$(PREFIX)),$(PREFIX)/lib/python3/dist-packages,$(PREFIX)/lib/python$(shell $(PYTHON) -c 'import sys; print("%d.%d" % sys.version_info[:2])' 2>/dev/null || echo 3)/dist-packages)
CC       ?= cc

PKGS := libevent libprotobuf-c jansson libidn2
# The broker alone also needs the Public Suffix List (BroadcastChannel's
# partition by site: broker/site.c); libcrosspost does not link it.
BROKER_PKGS := libpsl
# crosspostd alone links these too (socket activation, sd_notify, the journal).
DAEMON_PKGS := libsystemd
# The gateway alone also needs libwebsockets (browser pages as windows:
# gateway/, docs/gateway.md); nothing else links it.
GATEWAY_PKGS := libwebsockets
# The version is written once, in the public header.
VERSION := $(shell sed -n 's/^\#define CP_VERSION_[A-Z]* \([0-9]*\)$$/\1/p' client/crosspost.h | paste -sd.)

ifeq ($(V),1)
Q :=
say = @true
else
Q := @
say = @printf '  %-5s %s\n' '$(1)' '$(2)'
endif

WARN     := -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes -Wno-unused-parameter
BASE_CFLAGS := -std=c11 -D_GNU_SOURCE -g -O2 -fPIC -DCP_BUILD_VERSION='"$(VERSION)"' \
               -I. -Icommon -Iproto -Ivalue -Iclient -Irunner -Icli -Itests/helpers -Ibench -I$(BUILD)/gen -MMD -MP
ifeq ($(SANITIZE),1)
BASE_CFLAGS += -O1 -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
SAN_LDFLAGS := -fsanitize=address,undefined
endif
PKG_CFLAGS = $(shell pkg-config --cflags $(PKGS) $(BROKER_PKGS) $(DAEMON_PKGS) 2>/dev/null)
PKG_LIBS   = $(shell pkg-config --libs $(PKGS) 2>/dev/null)
BROKER_LIBS = $(shell pkg-config --libs $(BROKER_PKGS) 2>/dev/null)
DAEMON_LIBS = $(shell pkg-config --libs $(DAEMON_PKGS) 2>/dev/null)
CHECK_LIBS = $(shell pkg-config --libs check 2>/dev/null)
GATEWAY_CFLAGS = $(shell pkg-config --cflags $(GATEWAY_PKGS) 2>/dev/null)
GATEWAY_LIBS   = $(shell pkg-config --libs $(GATEWAY_PKGS) 2>/dev/null)
CFLAGS_ALL = $(BASE_CFLAGS) $(PKG_CFLAGS) $(CFLAGS)
LDFLAGS_ALL = $(SAN_LDFLAGS) $(LDFLAGS)

PROTOS    := $(wildcard proto/*.proto)
GEN_C     := $(patsubst proto/%.proto,$(BUILD)/gen/proto/%.pb-c.c,$(PROTOS))
GEN_H     := $(GEN_C:.c=.h)
GEN_OBJ   := $(GEN_C:.c=.o)

COMMON_SRC := $(wildcard common/*.c) $(wildcard proto/*.c)
# main.c and its glue to systemd are crosspostd's alone; the rest of
# broker/ is the core, which the tests link too.
DAEMON_SRC := broker/main.c broker/service.c broker/log_target.c
BROKER_SRC := $(filter-out $(DAEMON_SRC),$(wildcard broker/*.c))
LIB_SRC    := $(wildcard value/*.c) $(wildcard client/*.c)
CLI_SRC    := $(wildcard runner/*.c) $(wildcard cli/*.c)
GATEWAY_SRC := $(wildcard gateway/*.c)
EXAMPLE_SRC := $(wildcard examples/*.c)
TEST_SRC   := $(wildcard tests/check_*.c)
TEST_HELPER_SRC := $(wildcard tests/helpers/*.c)
BENCH_SRC  := $(wildcard bench/bench_*.c)
BENCH_HELPER_SRC := bench/broker_fixture.c

obj = $(patsubst %.c,$(BUILD)/obj/%.o,$(1))
COMMON_OBJ := $(call obj,$(COMMON_SRC)) $(GEN_OBJ)
DAEMON_OBJ := $(call obj,$(DAEMON_SRC))
BROKER_OBJ := $(call obj,$(BROKER_SRC))
LIB_OBJ    := $(call obj,$(LIB_SRC))
# The scenario runner's scripts for Chromium (runner/browser/*.js) and
# crosspost.js, whose tagged JSON they use, embedded as byte arrays.
RUNNER_JS_OBJ := $(BUILD)/gen/runner/browser_agent_js.o $(BUILD)/gen/runner/browser_controller_js.o \
		 $(BUILD)/gen/gateway/crosspost_js.o
CLI_OBJ    := $(call obj,$(CLI_SRC)) $(RUNNER_JS_OBJ)
# crosspost.js, embedded into the gateway as a byte array.
GATEWAY_JS_OBJ := $(BUILD)/gen/gateway/crosspost_js.o
GATEWAY_OBJ := $(call obj,$(GATEWAY_SRC)) $(GATEWAY_JS_OBJ)
# The CLI's modules without main(): unit tests link them too.
CLI_MODULE_OBJ := $(filter-out $(BUILD)/obj/cli/main.o,$(CLI_OBJ))
TEST_HELPER_OBJ := $(call obj,$(TEST_HELPER_SRC))
BENCH_HELPER_OBJ := $(call obj,$(BENCH_HELPER_SRC))

CROSSPOSTD := $(BUILD)/crosspostd
CROSSPOST  := $(BUILD)/crosspost
GATEWAY    := $(BUILD)/crosspost-gateway
LIBA       := $(BUILD)/libcrosspost.a
LIBSO      := $(BUILD)/libcrosspost.so
TESTS      := $(patsubst tests/%.c,$(BUILD)/tests/%,$(TEST_SRC))
EXAMPLES   := $(patsubst examples/%.c,$(BUILD)/examples/%,$(EXAMPLE_SRC))
BENCHES    := $(patsubst bench/%.c,$(BUILD)/bench/%,$(BENCH_SRC))
# The table of `make bench` (docs/performance.md): bench/table runs every
# xp_* program (one per family of transports, over bench/workload.c).  The
# peers' programs are built only when their library is installed; the
# table says "n/a" for a program that is missing.
HAVE_SDBUS := $(shell pkg-config --exists libsystemd 2>/dev/null && echo 1)
HAVE_ZMQ   := $(shell pkg-config --exists libzmq 2>/dev/null && echo 1)
XP_WORKLOAD_OBJ := $(call obj,bench/workload.c)
BENCH_TABLE := $(BUILD)/bench/table $(BUILD)/bench/relay_epoll $(BUILD)/bench/xp_crosspost \
               $(BUILD)/bench/xp_frames
ifeq ($(HAVE_SDBUS),1)
BENCH_TABLE += $(BUILD)/bench/xp_sdbus
endif
ifeq ($(HAVE_ZMQ),1)
BENCH_TABLE += $(BUILD)/bench/xp_zmq
endif

.PHONY: all deps check test demo bench bench-all bench-build bench-profile fuzz install uninstall man clean
# Intermediates (generated sources, objects of tests and examples) are kept.
.SECONDARY:
.DEFAULT_GOAL := all

all: deps
	@$(MAKE) --no-print-directory -j$(JOBS) build-all

# Man pages (man/*.scd, scdoc) are part of the build when scdoc is there;
# `make man` insists on it.
MAN_SRC   := $(wildcard man/*.scd)
MAN_PAGES := $(patsubst man/%.scd,$(BUILD)/man/%,$(MAN_SRC))
HAVE_SCDOC := $(shell command -v scdoc 2>/dev/null)

.PHONY: build-all build-products
build-products: $(CROSSPOSTD) $(CROSSPOST) $(GATEWAY) $(LIBA) $(LIBSO)
build-all: build-products $(TESTS) $(EXAMPLES) $(if $(HAVE_SCDOC),$(MAN_PAGES))

deps:
	@sh scripts/install-deps.sh

# --- generated protobuf-c code (compiled without -Werror: not our code) ---
$(BUILD)/gen/proto/%.pb-c.c $(BUILD)/gen/proto/%.pb-c.h: proto/%.proto
	@mkdir -p $(BUILD)/gen
	$(call say,PROTO,$<)
	$(Q)protoc-c --c_out=$(BUILD)/gen $<

$(GEN_OBJ): %.o: %.c
	$(call say,CC,$<)
	$(Q)$(CC) $(filter-out -Werror,$(CFLAGS_ALL)) -c $< -o $@

$(BUILD)/obj/%.o: %.c | $(GEN_H)
	@mkdir -p $(dir $@)
	$(call say,CC,$<)
	$(Q)$(CC) $(CFLAGS_ALL) $(WARN) -c $< -o $@

# The gateway's sources see libwebsockets' headers; nothing else does.
$(call obj,$(GATEWAY_SRC)) $(BUILD)/obj/tests/check_gateway.o: CFLAGS_ALL += $(GATEWAY_CFLAGS)

$(BUILD)/gen/gateway/crosspost_js.c: gateway/crosspost.js
	@mkdir -p $(dir $@)
	$(call say,GEN,$@)
	$(Q){ echo '/* Generated from gateway/crosspost.js by the Makefile. */'; \
	  echo '#include <stddef.h>'; \
	  echo 'const unsigned char gw_crosspost_js[] = {'; \
	  od -An -v -tx1 <$< | sed -e 's/\([0-9a-f][0-9a-f]\)/0x\1,/g'; \
	  echo '};'; \
	  echo 'const size_t gw_crosspost_js_len = sizeof(gw_crosspost_js);'; } >$@.tmp && mv $@.tmp $@

$(BUILD)/gen/runner/browser_%_js.c: runner/browser/%.js
	@mkdir -p $(dir $@)
	$(call say,GEN,$@)
	$(Q){ echo '/* Generated from $< by the Makefile. */'; \
	  echo '#include <stddef.h>'; \
	  echo 'const unsigned char browser_$*_js[] = {'; \
	  od -An -v -tx1 <$< | sed -e 's/\([0-9a-f][0-9a-f]\)/0x\1,/g'; \
	  echo '};'; \
	  echo 'const size_t browser_$*_js_len = sizeof(browser_$*_js);'; } >$@.tmp && mv $@.tmp $@

$(sort $(GATEWAY_JS_OBJ) $(RUNNER_JS_OBJ)): %.o: %.c
	$(call say,CC,$<)
	$(Q)$(CC) $(CFLAGS_ALL) $(WARN) -c $< -o $@

# --- products ---
$(LIBA): $(LIB_OBJ) $(COMMON_OBJ)
	$(call say,AR,$@)
	$(Q)rm -f $@ && ar rcs $@ $^

$(LIBSO): $(LIB_OBJ) $(COMMON_OBJ) client/libcrosspost.map
	$(call say,LD,$@)
	$(Q)$(CC) -shared -Wl,-soname,libcrosspost.so.0 -Wl,--version-script=client/libcrosspost.map -o $@ $(filter %.o,$^) $(LDFLAGS_ALL) $(PKG_LIBS) -lm

$(CROSSPOSTD): $(DAEMON_OBJ) $(BROKER_OBJ) $(COMMON_OBJ)
	$(call say,LD,$@)
	$(Q)$(CC) -o $@ $^ $(LDFLAGS_ALL) $(PKG_LIBS) $(BROKER_LIBS) $(DAEMON_LIBS)

$(CROSSPOST): $(CLI_OBJ) $(LIB_OBJ) $(COMMON_OBJ)
	$(call say,LD,$@)
	$(Q)$(CC) -o $@ $^ $(LDFLAGS_ALL) $(PKG_LIBS) -lm

$(GATEWAY): $(GATEWAY_OBJ) $(LIB_OBJ) $(COMMON_OBJ)
	$(call say,LD,$@)
	$(Q)$(CC) -o $@ $^ $(LDFLAGS_ALL) $(PKG_LIBS) $(GATEWAY_LIBS) -lm

# check_gateway speaks WebSocket to the gateway with libwebsockets' client.
$(BUILD)/tests/check_gateway: EXTRA_TEST_LIBS = $(GATEWAY_LIBS)
$(BUILD)/tests/%: $(BUILD)/obj/tests/%.o $(TEST_HELPER_OBJ) $(BROKER_OBJ) $(CLI_MODULE_OBJ) $(LIB_OBJ) $(COMMON_OBJ)
	@mkdir -p $(dir $@)
	$(call say,LD,$@)
	$(Q)$(CC) -o $@ $^ $(LDFLAGS_ALL) $(PKG_LIBS) $(BROKER_LIBS) $(EXTRA_TEST_LIBS) $(CHECK_LIBS) -lm

# Examples use the public header only, as a program of the user's would.
$(BUILD)/examples/%: $(BUILD)/obj/examples/%.o $(LIB_OBJ) $(COMMON_OBJ)
	@mkdir -p $(dir $@)
	$(call say,LD,$@)
	$(Q)$(CC) -o $@ $^ $(LDFLAGS_ALL) $(PKG_LIBS) -lm

$(BUILD)/bench/bench_%: $(BUILD)/obj/bench/bench_%.o $(BENCH_HELPER_OBJ) $(LIB_OBJ) $(COMMON_OBJ)
	@mkdir -p $(dir $@)
	$(call say,LD,$@)
	$(Q)$(CC) -o $@ $^ $(LDFLAGS_ALL) $(PKG_LIBS) -lm

# The table's programs; each peer's links its own client library only.
$(BUILD)/bench/table $(BUILD)/bench/relay_epoll: $(BUILD)/bench/%: $(BUILD)/obj/bench/%.o
	@mkdir -p $(dir $@)
	$(call say,LD,$@)
	$(Q)$(CC) -o $@ $^ $(LDFLAGS_ALL)

$(BUILD)/bench/xp_crosspost: $(BUILD)/obj/bench/xp_crosspost.o $(XP_WORKLOAD_OBJ) $(LIB_OBJ) $(COMMON_OBJ)
	@mkdir -p $(dir $@)
	$(call say,LD,$@)
	$(Q)$(CC) -o $@ $^ $(LDFLAGS_ALL) $(PKG_LIBS) -lm

$(BUILD)/bench/xp_frames: $(BUILD)/obj/bench/xp_frames.o $(XP_WORKLOAD_OBJ)
	@mkdir -p $(dir $@)
	$(call say,LD,$@)
	$(Q)$(CC) -o $@ $^ $(LDFLAGS_ALL)

$(BUILD)/bench/xp_sdbus: $(BUILD)/obj/bench/xp_sdbus.o $(XP_WORKLOAD_OBJ)
	@mkdir -p $(dir $@)
	$(call say,LD,$@)
	$(Q)$(CC) -o $@ $^ $(LDFLAGS_ALL) $(shell pkg-config --libs libsystemd 2>/dev/null)

$(BUILD)/bench/xp_zmq: $(BUILD)/obj/bench/xp_zmq.o $(XP_WORKLOAD_OBJ)
	@mkdir -p $(dir $@)
	$(call say,LD,$@)
	$(Q)$(CC) -o $@ $^ $(LDFLAGS_ALL) $(shell pkg-config --libs libzmq 2>/dev/null)

# --- man pages: man/NAME.SECTION.scd -> $(BUILD)/man/NAME.SECTION ---
# @VERSION@ becomes the version; the date in the page is the last commit
# that changed its source (SOURCE_DATE_EPOCH), so a rebuild is identical.
man: $(MAN_PAGES)

$(BUILD)/man/%: man/%.scd client/crosspost.h
	@command -v scdoc >/dev/null || { echo "scdoc is not installed (make deps installs it)" >&2; exit 1; }
	@mkdir -p $(dir $@)
	$(call say,SCDOC,$<)
	$(Q)d=$$(git log -1 --format=%ct -- $< 2>/dev/null); \
		sed 's/@VERSION@/$(VERSION)/g' $< | SOURCE_DATE_EPOCH=$${d:-$$(date +%s)} scdoc >$@.tmp && mv $@.tmp $@

# --- the front door ---
# The suite runs twice: as built, then under AddressSanitizer + UBSan; both
# passes always run, and the last line sums them up.
# The sanitizer build runs while the plain tier tests (which mostly wait on
# sockets and timers), and its output is shown once it is done.  The ASan
# tier stalls check_flow's receiver for 10 s instead of 30: memory errors
# show as well; the 30 s bound of the hostile-clients issue is the plain
# tier's.
check: deps
	@$(MAKE) --no-print-directory -j$(JOBS) build-all
	@mkdir -p build-asan && rm -f build-asan/test-results; \
	$(MAKE) --no-print-directory -j$(JOBS) BUILD=build-asan SANITIZE=1 build-all >build-asan/build.log 2>&1 & asan=$$!; \
	sh tests/run.sh $(BUILD) || true; \
	if wait $$asan; then \
		cat build-asan/build.log; CROSSPOST_STALL_SECONDS=10 sh tests/run.sh build-asan || true; \
	else \
		cat build-asan/build.log; echo "check: the ASan + UBSan build failed" >&2; \
	fi
	@sh tests/summary.sh plain=$(BUILD) asan+ubsan=build-asan

# Runs the suite against one build without the sanitizer pass.
test: all
	@sh tests/run.sh $(BUILD)

demo: deps
	@$(MAKE) --no-print-directory -j$(JOBS) build-all
	@sh scripts/demo.sh $(BUILD)

# `make bench` prints one table: crosspost against the peers a user would
# pick instead (docs/performance.md).  BENCH_QUICK=1: fewer repetitions and
# messages, for iterating.  `make bench-all` adds the codec and transfer
# benchmarks after the table.
BENCH_QUICK ?= 0
bench: deps
	@sh bench/install-peers.sh
	@$(MAKE) --no-print-directory -j$(JOBS) bench-build
	@BENCH_QUICK=$(BENCH_QUICK) sh bench/run.sh $(BUILD)

bench-all: deps
	@sh bench/install-peers.sh
	@$(MAKE) --no-print-directory -j$(JOBS) bench-build
	@BENCH_QUICK=$(BENCH_QUICK) sh bench/run.sh $(BUILD) all

bench-build: build-products $(BENCH_TABLE) $(BENCHES)

# Where crosspostd's time goes on the 64 B one-way run, against the relay
# (perf stat, strace -c, perf record when it works, callgrind).
bench-profile: deps
	@sh bench/install-peers.sh
	@$(MAKE) --no-print-directory -j$(JOBS) bench-build
	@sh bench/profile.sh $(BUILD)

# libFuzzer targets (clang): builds build-fuzz/fuzz_*, then runs each for
# FUZZ_SECONDS (default 30) in turn and stops at the first crash, leak,
# timeout or broken property; see docs/fuzzing.md.
fuzz: deps
	@$(MAKE) --no-print-directory -j$(JOBS) -f fuzz/fuzz.mk run

# Installs what a user runs and links, the man pages, the systemd user
# units, bash completion and the Python package: nothing else needs to
# build for it.  Every
# file installed is in INSTALLED (relative to PREFIX), which `make
# uninstall` removes again.  In a live PREFIX the folders stay, as
# automake's uninstall leaves them (they may hold other packages' files);
# under a DESTDIR, a staging root, the folders left empty go too, up to
# DESTDIR itself.
BINDIR    := $(PREFIX)/bin
UNITDIR   := lib/systemd/user
COMPDIR   := share/bash-completion/completions
man_dir    = share/man/man$(subst .,,$(suffix $(1)))
INSTALLED := bin/crosspostd bin/crosspost bin/crosspost-gateway lib/libcrosspost.a lib/libcrosspost.so.0 lib/libcrosspost.so \
	     include/crosspost.h lib/pkgconfig/crosspost.pc \
	     $(UNITDIR)/crosspost.socket $(UNITDIR)/crosspost.service \
	     $(COMPDIR)/crosspost $(COMPDIR)/crosspostd \
	     $(foreach m,$(MAN_PAGES),$(call man_dir,$(m))/$(notdir $(m)))
DEST := $(DESTDIR)$(PREFIX)
# The Python package goes to PYTHON_SITE, which need not be under PREFIX.
PY_SOURCES   := $(filter-out python/crosspost/_install.py,$(wildcard python/crosspost/*.py))
PY_INSTALLED := $(addprefix $(DESTDIR)$(PYTHON_SITE)/crosspost/,$(notdir $(PY_SOURCES)) _install.py)

install: deps
	@$(MAKE) --no-print-directory -j$(JOBS) build-products man
	$(Q)install -d $(DEST)/bin $(DEST)/lib $(DEST)/include $(DEST)/lib/pkgconfig $(DEST)/$(UNITDIR) $(DEST)/$(COMPDIR) \
		$(foreach m,$(sort $(foreach p,$(MAN_PAGES),$(call man_dir,$(p)))),$(DEST)/$(m))
	$(Q)install -m 0755 $(CROSSPOSTD) $(CROSSPOST) $(GATEWAY) $(DEST)/bin/
	$(Q)install -m 0644 $(LIBA) $(DEST)/lib/
	$(Q)install -m 0755 $(LIBSO) $(DEST)/lib/libcrosspost.so.0
	$(Q)ln -sf libcrosspost.so.0 $(DEST)/lib/libcrosspost.so
	$(Q)install -m 0644 client/crosspost.h $(DEST)/include/
	$(Q)sed -e 's|@PREFIX@|$(PREFIX)|g' -e 's|@VERSION@|$(VERSION)|g' crosspost.pc.in > $(DEST)/lib/pkgconfig/crosspost.pc
	$(Q)install -m 0644 systemd/crosspost.socket $(DEST)/$(UNITDIR)/
	$(Q)sed -e 's|@BINDIR@|$(BINDIR)|g' systemd/crosspost.service.in > $(DEST)/$(UNITDIR)/crosspost.service
	$(Q)install -m 0644 completion/crosspost.bash $(DEST)/$(COMPDIR)/crosspost
	$(Q)install -m 0644 completion/crosspost.bash $(DEST)/$(COMPDIR)/crosspostd
	$(Q)$(foreach m,$(MAN_PAGES),install -m 0644 $(m) $(DEST)/$(call man_dir,$(m))/ &&) true
	$(Q)install -d $(DESTDIR)$(PYTHON_SITE)/crosspost
	$(Q)install -m 0644 $(PY_SOURCES) $(DESTDIR)$(PYTHON_SITE)/crosspost/
	$(Q)printf '# SPDX-License-Identifier: MIT\n# Written by make install: the library installed with this package.\nLIBRARY = "%s"\n' \
		'$(PREFIX)/lib/libcrosspost.so.0' > $(DESTDIR)$(PYTHON_SITE)/crosspost/_install.py

uninstall:
	$(Q)rm -f $(addprefix $(DEST)/,$(INSTALLED)) $(PY_INSTALLED)
	$(Q)rm -rf $(DESTDIR)$(PYTHON_SITE)/crosspost/__pycache__
	$(Q)rmdir $(DESTDIR)$(PYTHON_SITE)/crosspost 2>/dev/null || true
ifneq ($(DESTDIR),)
	$(Q)for d in $(sort $(dir $(addprefix $(DEST)/,$(INSTALLED)) $(DESTDIR)$(PYTHON_SITE)/crosspost)); do \
		d=$${d%/}; \
		while [ "$$d" != "$(patsubst %/,%,$(DESTDIR))" ] && [ -n "$$d" ] && rmdir "$$d" 2>/dev/null; do \
			d=$${d%/*}; \
		done; \
	done
endif

clean:
	rm -rf build build-asan build-fuzz

-include $(shell find $(BUILD)/obj -name '*.d' 2>/dev/null)
