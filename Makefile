# clusterchat build. `make` builds everything into build/, `make test` runs all
# suites (a normal and an ASan+UBSan build) and ends with "N passed, N failed";
# `make check` is the fast loop (build, unit and integration tests).

CC      ?= cc
BUILD   ?= build
PKGS    := libevent hiredis libsodium jansson cjose libcrypto nettle libcurl
# WebSocket framing: Debian's libwslay-dev ships no pkg-config file.
WSLAY_LIBS := -lwslay
CLIPKGS := libcurl jansson

WARN    := -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes -Wmissing-prototypes -Wvla
CFLAGS  ?= -O2 -g
CFLAGS  += -std=c11 -D_GNU_SOURCE $(WARN) -Iinclude -Isrc $(SANFLAGS)
LDFLAGS += $(SANFLAGS)
# The compiler writes each output's header dependencies beside it ($@.d).
DEPFLAGS = -MMD -MP -MF $@.d

ifeq ($(SAN),1)
SANFLAGS := -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
endif

# The libraries' flags come from pkg-config, asked only when this make
# builds something: `make run` installs missing packages first (deps) and
# builds in a second make, so a fresh machine sees no pkg-config errors.
# A build without the packages stops with one line that names them.
NO_BUILD_GOALS := deps run stop clean format
ifneq ($(filter-out $(NO_BUILD_GOALS),$(or $(MAKECMDGOALS),all)),)
PKG_MISSING := $(shell for p in $(sort $(PKGS) $(CLIPKGS) cmocka); do \
                 pkg-config --exists $$p 2>/dev/null || echo $$p; done)
ifneq ($(PKG_MISSING),)
$(error pkg-config finds no $(PKG_MISSING); `make deps` installs the packages)
endif
ifeq ($(wildcard /usr/include/wslay/wslay.h),)
$(error wslay/wslay.h is missing; `make deps` installs libwslay-dev)
endif
SRV_CFLAGS := $(shell pkg-config --cflags $(PKGS))
SRV_LIBS   := $(shell pkg-config --libs $(PKGS)) $(WSLAY_LIBS) -lhttp_parser -lpthread
CLI_CFLAGS := $(shell pkg-config --cflags $(CLIPKGS))
CLI_LIBS   := $(shell pkg-config --libs $(CLIPKGS)) $(WSLAY_LIBS)
CTL_LIBS   := $(shell pkg-config --libs $(CLIPKGS) hiredis libsodium)
TEST_LIBS  := $(shell pkg-config --libs cmocka)
EV_CFLAGS  := $(shell pkg-config --cflags libevent)
EV_LIBS    := $(shell pkg-config --libs libevent)
endif

SRV_SRCS  := $(filter-out src/main.c,$(wildcard src/*.c))
SRV_OBJS  := $(SRV_SRCS:%.c=$(BUILD)/%.o)
LIB_SRCS  := $(wildcard lib/*.c)
LIB_OBJS  := $(LIB_SRCS:%.c=$(BUILD)/%.o)
UNIT_SRCS := $(wildcard tests/unit/test_*.c)
UNIT_BINS := $(UNIT_SRCS:%.c=$(BUILD)/%)
# Integration, cluster and stack tests: each test_*.c is one binary, linked
# with the other .c files of its folder and the shared test library.
E2E_DIRS  := tests/integration tests/cluster tests/stack tests/topology
E2E_SRCS  := $(foreach d,$(E2E_DIRS),$(wildcard $(d)/test_*.c))
E2E_BINS  := $(E2E_SRCS:%.c=$(BUILD)/%)
# Shared by every such binary: the test library in tests/lib (testlib,
# sse_client, sessionlib).
TESTLIB_SRCS := $(wildcard tests/lib/*.c)
TESTLIB   := $(TESTLIB_SRCS:%.c=$(BUILD)/%.o)
# $(call helpers_of,DIR/): the objects of DIR's own non-test sources.
helpers_of = $(patsubst %.c,$(BUILD)/%.o,$(filter-out $(wildcard $(1)test_*.c),$(wildcard $(1)*.c)))

.PHONY: all test check unit run stop bench clean deps format
.PHONY: fuzz fuzz-build fuzz-harnesses fuzz-replay lint
all: $(BUILD)/chatd $(BUILD)/chat $(BUILD)/chatctl $(BUILD)/libchatclient.a $(UNIT_BINS) $(E2E_BINS) $(BUILD)/sse_load $(BUILD)/floor $(BUILD)/presence_load

$(BUILD)/src/%.o: src/%.c | $(BUILD)/src
	$(CC) $(CFLAGS) $(DEPFLAGS) $(SRV_CFLAGS) -c $< -o $@

$(BUILD)/libchatd.a: $(SRV_OBJS)
	ar rcs $@ $^

$(BUILD)/chatd: $(BUILD)/src/main.o $(BUILD)/libchatd.a
	$(CC) $(LDFLAGS) -o $@ $^ $(SRV_LIBS)

$(BUILD)/lib/%.o: lib/%.c | $(BUILD)/lib
	$(CC) $(CFLAGS) $(DEPFLAGS) $(CLI_CFLAGS) -c $< -o $@

$(BUILD)/libchatclient.a: $(LIB_OBJS)
	rm -f $@
	ar rcs $@ $^

$(BUILD)/chat: cli/chat.c $(BUILD)/libchatclient.a | $(BUILD)
	$(CC) $(CFLAGS) $(DEPFLAGS) $(CLI_CFLAGS) $(LDFLAGS) -o $@ $(filter-out %.h,$^) $(CLI_LIBS)

# chatctl: the server API's tool (libcurl), and its key commands on Redis
# (hiredis), with the server's pure key and key-name code.
CTL_SRCS := cli/chatctl.c cli/chatctl_keys.c src/apikey.c src/store_keys.c
$(BUILD)/chatctl: $(CTL_SRCS) | $(BUILD)
	$(CC) $(CFLAGS) $(DEPFLAGS) -Icli $(CLI_CFLAGS) $(SRV_CFLAGS) $(LDFLAGS) -o $@ $(filter-out %.h,$^) \
		$(CTL_LIBS)

# The SSE load generator of make bench and the stack tests: libevent only.
$(BUILD)/sse_load: bench/sse_load.c | $(BUILD)
	$(CC) $(CFLAGS) $(DEPFLAGS) $(EV_CFLAGS) $(LDFLAGS) -o $@ $< $(EV_LIBS)

# The fan-out floor of make bench: chatd's encoder and SSE framing, no Redis.
$(BUILD)/floor: bench/floor.c $(BUILD)/libchatd.a | $(BUILD)
	$(CC) $(CFLAGS) $(DEPFLAGS) $(SRV_CFLAGS) $(LDFLAGS) -o $@ $(filter-out %.h,$^) $(SRV_LIBS)

# The presence scenario's load of make bench: raw streams (tests/lib's pool).
$(BUILD)/presence_load: bench/presence_load.c tests/lib/stream_pool.c | $(BUILD)
	$(CC) $(CFLAGS) $(DEPFLAGS) -Itests/lib $(LDFLAGS) -o $@ $(filter-out %.h,$^) -lsodium

$(BUILD)/tests/unit/%: tests/unit/%.c $(BUILD)/libchatd.a | $(BUILD)/tests/unit
	$(CC) $(CFLAGS) $(DEPFLAGS) $(SRV_CFLAGS) $(LDFLAGS) -o $@ $(filter-out %.h,$^) $(SRV_LIBS) $(TEST_LIBS)

$(BUILD)/tests/%.o: tests/%.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(DEPFLAGS) -Itests/lib -Itests/cluster $(CLI_CFLAGS) $(SRV_CFLAGS) -c $< -o $@

.SECONDEXPANSION:
$(E2E_BINS): $(BUILD)/%: $(BUILD)/%.o $$(call helpers_of,$$(dir $$*)) $(TESTLIB) $(BUILD)/libchatclient.a $(BUILD)/libchatd.a
	$(CC) $(LDFLAGS) -o $@ $^ $(CLI_LIBS) $(SRV_LIBS) $(TEST_LIBS) -lpthread

$(BUILD) $(BUILD)/src $(BUILD)/lib $(BUILD)/tests/unit:
	mkdir -p $@

# ---- fuzzing: libFuzzer harnesses (fuzz/fuzz_*.c) built with clang under
# ASan+UBSan into build/fuzz/, against the server's and the client library's
# objects compiled with the same flags. `make fuzz` runs each for
# FUZZ_SECONDS (two at a time) on fuzz/corpus/<name>/ with fuzz/dict/<name>.dict;
# a crash input lands in fuzz/regressions/<name>/ (see fuzz/README.md).
FUZZ_BUILD    := build/fuzz
FUZZ_SECONDS  ?= 60
FUZZ_SANFLAGS := -fsanitize=fuzzer-no-link,address,undefined -fno-omit-frame-pointer \
                 -fno-sanitize-recover=undefined
FUZZ_NAMES    := $(patsubst fuzz/fuzz_%.c,%,$(wildcard fuzz/fuzz_*.c))

fuzz: fuzz-build
	@FUZZ_SECONDS=$(FUZZ_SECONDS) fuzz/run.sh fuzz $(FUZZ_BUILD)

# Every committed corpus and regression input through its harness once.
fuzz-replay: fuzz-build
	@fuzz/run.sh replay $(FUZZ_BUILD)

fuzz-build:
	@$(MAKE) --no-print-directory CC=clang BUILD=$(FUZZ_BUILD) SANFLAGS="$(FUZZ_SANFLAGS)" \
		fuzz-harnesses

fuzz-harnesses: $(FUZZ_NAMES:%=$(BUILD)/fuzz_%)

$(BUILD)/fuzz_%: fuzz/fuzz_%.c $(BUILD)/libchatd.a $(BUILD)/libchatclient.a
	$(CC) $(CFLAGS) $(DEPFLAGS) -Ilib $(SRV_CFLAGS) $(CLI_CFLAGS) -fsanitize=fuzzer $(LDFLAGS) -o $@ $< \
		$(BUILD)/libchatd.a $(BUILD)/libchatclient.a $(SRV_LIBS) $(CLI_LIBS)

# Static analysis of src/ lib/ cli/: cppcheck (suppressions in
# .cppcheck-suppressions) and clang-tidy (checks in .clang-tidy), two files
# at a time; any finding fails.
LINT_SRCS  := $(wildcard src/*.c lib/*.c cli/*.c)
LINT_FLAGS := -std=c11 -D_GNU_SOURCE -Iinclude -Isrc -Ilib $(SRV_CFLAGS) $(CLI_CFLAGS)
lint:
	cppcheck --std=c11 --enable=warning,style,performance,portability --error-exitcode=1 \
		--inline-suppr --suppressions-list=.cppcheck-suppressions --quiet -D_GNU_SOURCE \
		-Iinclude -Isrc -Ilib src lib cli
	@printf '%s\n' $(LINT_SRCS) | xargs -P 2 -I{} bash -c 'set -o pipefail; \
		clang-tidy --quiet "$$0" -- $(LINT_FLAGS) 2>&1 | { grep -v "warnings generated" || true; }' {}

# Runs every suite; the last line is the summary for all of them.
test:
	@tests/run-all.sh

# The fast loop: the gcc build, the unit and the integration tests, ending
# with the same summary line as make test (which CI runs).
check:
	@tests/run-all.sh check

unit: $(UNIT_BINS)
	@tests/run-unit.sh $(BUILD)

# Installs missing Debian packages (apt-get as root, else prints the command).
deps:
	@scripts/deps.sh

# Runs the whole system in the foreground: a local Redis Cluster, three chatd
# and HAProxy on :8182 (scripts/stack); CHAT_SMALL=1: one redis-server and one
# chatd on :8182. Ctrl-C stops everything.
run: deps
	@$(MAKE) --no-print-directory all
	@scripts/run.sh

# Stops what `make run` started (either mode), also from another terminal.
stop:
	@scripts/run.sh stop

# Benchmarks against Redis itself, nginx + nchan and a fan-out floor, as
# ratios: bench/runs/<date>.json and .md and plots, outside git (docs/BENCHMARKS.md).
# BENCH_QUICK=1 for a quick run, BENCH_SCENARIOS="send fanout ..." to choose.
bench: all
	@bench/bench.sh

# Every C file of the project, rewritten in the style of .clang-format.
FORMAT_SRCS := $(wildcard src/*.[ch] lib/*.[ch] cli/*.c include/*.h bench/*.c fuzz/*.[ch] \
                 $(addsuffix /*.[ch],tests/unit tests/lib $(E2E_DIRS)))
format:
	clang-format -i $(FORMAT_SRCS)

clean:
	rm -rf build

# The header dependencies of everything built so far (see DEPFLAGS).
-include $(wildcard $(BUILD)/*.d $(BUILD)/src/*.d $(BUILD)/lib/*.d $(BUILD)/tests/*/*.d)
