# SPDX-License-Identifier: MIT
# fuzz.mk - builds and runs the libFuzzer harnesses (every fuzz/fuzz_*.c) with clang.
#
# From the repository root (`make fuzz` runs the second line):
#   make -f fuzz/fuzz.mk                     build build-fuzz/fuzz_NAME for each fuzz/fuzz_NAME.c
#   make -f fuzz/fuzz.mk run                 build, then run each for FUZZ_SECONDS (default 30) in
#                                            turn; stops with an error at the first finding
#   make -f fuzz/fuzz.mk run FUZZ_SEED_DIR=d also read seed inputs from d
#   make -f fuzz/fuzz.mk coverage FUZZER=fuzz_broker COVERAGE_SOURCES=broker
#                                            line and branch coverage of a harness's corpus
#   make -f fuzz/fuzz.mk clean
# Each harness links an archive of common/, proto/, value/, client/, the
# broker's core (broker/ but main.c) and the protoc-c output, built with
# ASan, UBSan and libFuzzer's coverage.  See docs/fuzzing.md.

FUZZ_BUILD   ?= build-fuzz
CLANG        ?= clang
FUZZ_SECONDS ?= 30
FUZZ_SEED_DIR ?=
# A unit that runs longer than this is a bug (inputs must parse in bounded time).
FUZZ_TIMEOUT ?= 10

# The main Makefile's PKGS and BROKER_PKGS: fuzz_broker links the broker.
PKGS     := libevent libprotobuf-c jansson libidn2 libpsl
SAN      := -fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer
# -Werror stays with the main (gcc) build: clang's different warnings must
# not stop fuzzing of code that build already holds to -Werror.
CFLAGS_FUZZ := -std=c11 -D_GNU_SOURCE -g -O1 $(SAN) -fsanitize=fuzzer-no-link \
	       -Wall -Wextra -Wno-unused-parameter \
	       -I$(FUZZ_BUILD)/gen -I. -Icommon -Iproto -Ivalue -Iclient \
	       $(shell pkg-config --cflags $(PKGS))
LIBS_FUZZ := $(shell pkg-config --libs $(PKGS)) -lm

PROTOS   := $(wildcard proto/*.proto)
GEN_C    := $(patsubst proto/%.proto,$(FUZZ_BUILD)/gen/proto/%.pb-c.c,$(PROTOS))
GEN_OBJ  := $(patsubst %.c,%.o,$(GEN_C))
GEN_STAMP := $(FUZZ_BUILD)/gen/.stamp
LIB_SRC  := $(wildcard common/*.c) $(wildcard proto/*.c) $(wildcard value/*.c) $(wildcard client/*.c) \
	    $(filter-out broker/main.c,$(wildcard broker/*.c))
LIB_OBJ  := $(patsubst %.c,$(FUZZ_BUILD)/obj/%.o,$(LIB_SRC))
# An archive, so each harness pulls in only the objects it uses.
LIB_A    := $(FUZZ_BUILD)/libfuzzdeps.a
FUZZERS  := $(patsubst fuzz/%.c,$(FUZZ_BUILD)/%,$(wildcard fuzz/fuzz_*.c))
FUZZ_OBJ := $(patsubst %.c,$(FUZZ_BUILD)/obj/%.o,$(wildcard fuzz/fuzz_*.c))

.PHONY: all run coverage clean
# Keep the harness objects make would otherwise delete as intermediates.
.SECONDARY: $(FUZZ_OBJ) $(patsubst %.c,$(FUZZ_BUILD)/cov/obj/%.o,$(wildcard fuzz/fuzz_*.c))
.DEFAULT_GOAL := all

all: $(FUZZERS)

# protoc-c writes build-fuzz/gen/proto/NAME.pb-c.[ch] for proto/NAME.proto.
$(GEN_STAMP): $(PROTOS)
	@mkdir -p $(FUZZ_BUILD)/gen
	$(if $(PROTOS),protoc-c --c_out=$(FUZZ_BUILD)/gen $(PROTOS))
	@touch $@

$(GEN_C): $(GEN_STAMP)

# Generated code is not ours to warn about.
$(GEN_OBJ): %.o: %.c
	$(CLANG) $(CFLAGS_FUZZ) -w -c $< -o $@

$(FUZZ_BUILD)/obj/%.o: %.c | $(GEN_STAMP)
	@mkdir -p $(dir $@)
	$(CLANG) $(CFLAGS_FUZZ) -MMD -MP -c $< -o $@

$(LIB_A): $(LIB_OBJ) $(GEN_OBJ)
	rm -f $@ && ar rcs $@ $^

$(FUZZ_BUILD)/fuzz_%: $(FUZZ_BUILD)/obj/fuzz/fuzz_%.o $(LIB_A)
	$(CLANG) $(SAN) -fsanitize=fuzzer -o $@ $^ $(LIBS_FUZZ)

# Each harness keeps its corpus in build-fuzz/corpus/NAME (grown across
# runs), also reads the seeds kept in the tree (fuzz/corpus/NAME, when
# there is one; libFuzzer only adds to the first folder), and writes
# crashing inputs to build-fuzz/artifacts/.
run: $(FUZZERS)
	@mkdir -p $(FUZZ_BUILD)/artifacts
	@set -e; for f in $(FUZZERS); do \
		name=$$(basename $$f); \
		mkdir -p $(FUZZ_BUILD)/corpus/$$name; \
		seeds=; [ -d fuzz/corpus/$$name ] && seeds=fuzz/corpus/$$name; \
		echo "== $$name for $(FUZZ_SECONDS)s"; \
		$$f -max_total_time=$(FUZZ_SECONDS) -timeout=$(FUZZ_TIMEOUT) -print_final_stats=1 \
			-artifact_prefix=$(FUZZ_BUILD)/artifacts/$$name- \
			$(FUZZ_BUILD)/corpus/$$name $$seeds $(FUZZ_SEED_DIR) || { \
			echo "fuzz: $$name found a problem; the input is in $(FUZZ_BUILD)/artifacts/ (docs/fuzzing.md)" >&2; \
			exit 1; }; \
	done

# Source coverage of what a harness's corpus (build-fuzz/corpus/NAME and
# fuzz/corpus/NAME) reaches: the same sources built with clang's
# -fprofile-instr-generate and no sanitizer, each input run once.
FUZZER ?= fuzz_broker
COVERAGE_SOURCES ?=
COV_BUILD := $(FUZZ_BUILD)/cov
CFLAGS_COV := -std=c11 -D_GNU_SOURCE -g -O1 -fprofile-instr-generate -fcoverage-mapping \
	      -fsanitize=fuzzer-no-link -w -I$(FUZZ_BUILD)/gen -I. -Icommon -Iproto -Ivalue -Iclient \
	      $(shell pkg-config --cflags $(PKGS))
COV_LIB_OBJ := $(patsubst %.c,$(COV_BUILD)/obj/%.o,$(LIB_SRC) $(GEN_C))

$(COV_BUILD)/obj/%.o: %.c | $(GEN_STAMP)
	@mkdir -p $(dir $@)
	$(CLANG) $(CFLAGS_COV) -c $< -o $@

$(COV_BUILD)/libcovdeps.a: $(COV_LIB_OBJ)
	rm -f $@ && ar rcs $@ $^

$(COV_BUILD)/fuzz_%: $(COV_BUILD)/obj/fuzz/fuzz_%.o $(COV_BUILD)/libcovdeps.a
	$(CLANG) -fprofile-instr-generate -fsanitize=fuzzer -o $@ $^ $(LIBS_FUZZ)

coverage: $(COV_BUILD)/$(FUZZER)
	@mkdir -p $(FUZZ_BUILD)/corpus/$(FUZZER)
	rm -f $(COV_BUILD)/$(FUZZER).profraw
	LLVM_PROFILE_FILE=$(COV_BUILD)/$(FUZZER).profraw $(COV_BUILD)/$(FUZZER) -runs=0 \
		$(FUZZ_BUILD)/corpus/$(FUZZER) $(wildcard fuzz/corpus/$(FUZZER)) 2>&1 | grep -E 'INITED|DONE' || true
	llvm-profdata merge -sparse -o $(COV_BUILD)/$(FUZZER).profdata $(COV_BUILD)/$(FUZZER).profraw
	llvm-cov report $(COV_BUILD)/$(FUZZER) -instr-profile=$(COV_BUILD)/$(FUZZER).profdata $(COVERAGE_SOURCES)
	@echo "line by line: llvm-cov show $(COV_BUILD)/$(FUZZER) -instr-profile=$(COV_BUILD)/$(FUZZER).profdata FILE"

clean:
	rm -rf $(FUZZ_BUILD)

-include $(shell find $(FUZZ_BUILD)/obj -name '*.d' 2>/dev/null)
