# SPDX-License-Identifier: MIT
# crosspost build.  `make demo` and `make check` are the front door (README).
#
# Layout (one-way layering):  common/ -> proto/ -> broker/ (core, then main.c)
#                                              \-> value/ -> client/ (libcrosspost)
#                                                             -> runner/, cli/ (crosspost)
# BUILD selects the output folder; SANITIZE=1 builds with ASan + UBSan.

BUILD    ?= build
SANITIZE ?= 0
PREFIX   ?= /usr/local
DESTDIR  ?=
CC       ?= cc

PKGS := libevent libprotobuf-c jansson libidn2
DEPS_STAMP := $(BUILD)/.deps-installed

WARN     := -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes -Wno-unused-parameter
BASE_CFLAGS := -std=c11 -D_GNU_SOURCE -g -O2 -fPIC \
               -I. -Icommon -Iproto -Ivalue -Iclient -Irunner -Icli -Itests/helpers -Ibench -I$(BUILD)/gen -MMD -MP
ifeq ($(SANITIZE),1)
BASE_CFLAGS += -O1 -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
SAN_LDFLAGS := -fsanitize=address,undefined
endif
PKG_CFLAGS = $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS   = $(shell pkg-config --libs $(PKGS) 2>/dev/null)
CHECK_LIBS = $(shell pkg-config --libs check 2>/dev/null)
CFLAGS_ALL = $(BASE_CFLAGS) $(PKG_CFLAGS) $(CFLAGS)
LDFLAGS_ALL = $(SAN_LDFLAGS) $(LDFLAGS)

PROTOS    := $(wildcard proto/*.proto)
GEN_C     := $(patsubst proto/%.proto,$(BUILD)/gen/proto/%.pb-c.c,$(PROTOS))
GEN_H     := $(GEN_C:.c=.h)
GEN_OBJ   := $(GEN_C:.c=.o)

COMMON_SRC := $(wildcard common/*.c) $(wildcard proto/*.c)
BROKER_SRC := $(filter-out broker/main.c,$(wildcard broker/*.c))
LIB_SRC    := $(wildcard value/*.c) $(wildcard client/*.c)
CLI_SRC    := $(wildcard runner/*.c) $(wildcard cli/*.c)
TEST_SRC   := $(wildcard tests/check_*.c)
TEST_HELPER_SRC := $(wildcard tests/helpers/*.c)
BENCH_SRC  := $(wildcard bench/bench_*.c)
BENCH_HELPER_SRC := $(filter-out $(BENCH_SRC),$(wildcard bench/*.c))

obj = $(patsubst %.c,$(BUILD)/obj/%.o,$(1))
COMMON_OBJ := $(call obj,$(COMMON_SRC)) $(GEN_OBJ)
BROKER_OBJ := $(call obj,$(BROKER_SRC))
LIB_OBJ    := $(call obj,$(LIB_SRC))
CLI_OBJ    := $(call obj,$(CLI_SRC))
# The CLI's modules without main(): unit tests link them too.
CLI_MODULE_OBJ := $(filter-out $(BUILD)/obj/cli/main.o,$(CLI_OBJ))
TEST_HELPER_OBJ := $(call obj,$(TEST_HELPER_SRC))
BENCH_HELPER_OBJ := $(call obj,$(BENCH_HELPER_SRC))

CROSSPOSTD := $(BUILD)/crosspostd
CROSSPOST  := $(BUILD)/crosspost
LIBA       := $(BUILD)/libcrosspost.a
LIBSO      := $(BUILD)/libcrosspost.so
TESTS      := $(patsubst tests/%.c,$(BUILD)/tests/%,$(TEST_SRC))
BENCHES    := $(patsubst bench/%.c,$(BUILD)/bench/%,$(BENCH_SRC))

.PHONY: all deps check test demo bench fuzz install clean
# Generated sources are kept (make would delete them as intermediates).
.SECONDARY: $(GEN_C) $(GEN_H)
.DEFAULT_GOAL := all

all: deps
	@$(MAKE) --no-print-directory build-all

.PHONY: build-all
build-all: $(CROSSPOSTD) $(CROSSPOST) $(LIBA) $(LIBSO) $(TESTS)

deps:
	@sh scripts/install-deps.sh

# --- generated protobuf-c code (compiled without -Werror: not our code) ---
$(BUILD)/gen/proto/%.pb-c.c $(BUILD)/gen/proto/%.pb-c.h: proto/%.proto
	@mkdir -p $(BUILD)/gen
	protoc-c --c_out=$(BUILD)/gen $<

$(GEN_OBJ): %.o: %.c
	$(CC) $(filter-out -Werror,$(CFLAGS_ALL)) -c $< -o $@

$(BUILD)/obj/%.o: %.c | $(GEN_H)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_ALL) $(WARN) -c $< -o $@

# --- products ---
$(LIBA): $(LIB_OBJ) $(COMMON_OBJ)
	rm -f $@ && ar rcs $@ $^

$(LIBSO): $(LIB_OBJ) $(COMMON_OBJ) client/libcrosspost.map
	$(CC) -shared -Wl,-soname,libcrosspost.so.0 -Wl,--version-script=client/libcrosspost.map -o $@ $(filter %.o,$^) $(LDFLAGS_ALL) $(PKG_LIBS) -lm

$(CROSSPOSTD): $(BUILD)/obj/broker/main.o $(BROKER_OBJ) $(COMMON_OBJ)
	$(CC) -o $@ $^ $(LDFLAGS_ALL) $(PKG_LIBS)

$(CROSSPOST): $(CLI_OBJ) $(LIB_OBJ) $(COMMON_OBJ)
	$(CC) -o $@ $^ $(LDFLAGS_ALL) $(PKG_LIBS) -lm

$(BUILD)/tests/%: $(BUILD)/obj/tests/%.o $(TEST_HELPER_OBJ) $(BROKER_OBJ) $(CLI_MODULE_OBJ) $(LIB_OBJ) $(COMMON_OBJ)
	@mkdir -p $(dir $@)
	$(CC) -o $@ $^ $(LDFLAGS_ALL) $(PKG_LIBS) $(CHECK_LIBS) -lm

$(BUILD)/bench/%: $(BUILD)/obj/bench/%.o $(BENCH_HELPER_OBJ) $(LIB_OBJ) $(COMMON_OBJ)
	@mkdir -p $(dir $@)
	$(CC) -o $@ $^ $(LDFLAGS_ALL) $(PKG_LIBS) -lm

# --- the front door ---
# The suite runs twice: as built, then under AddressSanitizer + UBSan.
check: deps
	@$(MAKE) --no-print-directory build-all
	@sh tests/run.sh $(BUILD)
	@$(MAKE) --no-print-directory BUILD=build-asan SANITIZE=1 build-all
	@sh tests/run.sh build-asan

# Runs the suite against one build without the sanitizer pass.
test: all
	@sh tests/run.sh $(BUILD)

demo: deps
	@$(MAKE) --no-print-directory build-all
	@sh scripts/demo.sh $(BUILD)

bench: deps
	@$(MAKE) --no-print-directory build-all $(BENCHES)
	@sh bench/run.sh $(BUILD)

# libFuzzer targets (clang): build-fuzz/fuzz_*; see docs/fuzzing.md.
fuzz: deps
	@$(MAKE) --no-print-directory -f fuzz/fuzz.mk

install: all
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/lib $(DESTDIR)$(PREFIX)/include \
		$(DESTDIR)$(PREFIX)/lib/pkgconfig
	install -m 0755 $(CROSSPOSTD) $(CROSSPOST) $(DESTDIR)$(PREFIX)/bin/
	install -m 0644 $(LIBA) $(DESTDIR)$(PREFIX)/lib/
	install -m 0755 $(LIBSO) $(DESTDIR)$(PREFIX)/lib/libcrosspost.so.0
	ln -sf libcrosspost.so.0 $(DESTDIR)$(PREFIX)/lib/libcrosspost.so
	install -m 0644 client/crosspost.h $(DESTDIR)$(PREFIX)/include/
	sed -e 's|@PREFIX@|$(PREFIX)|g' crosspost.pc.in > $(DESTDIR)$(PREFIX)/lib/pkgconfig/crosspost.pc

clean:
	rm -rf build build-asan build-fuzz

-include $(shell find $(BUILD)/obj -name '*.d' 2>/dev/null)
