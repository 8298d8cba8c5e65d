# clusterchat build. `make` builds everything into build/, `make test` runs all
# suites (a normal and an ASan+UBSan build) and ends with "N passed, N failed".

CC      ?= cc
BUILD   ?= build
PKGS    := libevent hiredis libsodium jansson
CLIPKGS := libcurl jansson

WARN    := -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes -Wmissing-prototypes -Wvla
CFLAGS  ?= -O2 -g
CFLAGS  += -std=c11 -D_GNU_SOURCE $(WARN) -Iinclude -Isrc $(SANFLAGS)
LDFLAGS += $(SANFLAGS)

ifeq ($(SAN),1)
SANFLAGS := -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
endif

SRV_CFLAGS := $(shell pkg-config --cflags $(PKGS))
SRV_LIBS   := $(shell pkg-config --libs $(PKGS)) -lpthread
CLI_CFLAGS := $(shell pkg-config --cflags $(CLIPKGS))
CLI_LIBS   := $(shell pkg-config --libs $(CLIPKGS))
TEST_LIBS  := $(shell pkg-config --libs cmocka)
EV_CFLAGS  := $(shell pkg-config --cflags libevent)
EV_LIBS    := $(shell pkg-config --libs libevent)

SRV_SRCS  := $(filter-out src/main.c,$(wildcard src/*.c))
SRV_OBJS  := $(SRV_SRCS:%.c=$(BUILD)/%.o)
LIB_SRCS  := $(wildcard lib/*.c)
LIB_OBJS  := $(LIB_SRCS:%.c=$(BUILD)/%.o)
UNIT_SRCS := $(wildcard tests/unit/test_*.c)
UNIT_BINS := $(UNIT_SRCS:%.c=$(BUILD)/%)
# Integration, cluster and stack tests: each test_*.c is one binary, linked
# with the other .c files of its folder and the shared testlib.
E2E_DIRS  := tests/integration tests/cluster tests/stack
E2E_SRCS  := $(foreach d,$(E2E_DIRS),$(wildcard $(d)/test_*.c))
E2E_BINS  := $(E2E_SRCS:%.c=$(BUILD)/%)
# Shared by every such binary: the helpers in tests/integration (testlib, sse_client).
TESTLIB_SRCS := $(filter-out $(wildcard tests/integration/test_*.c),$(wildcard tests/integration/*.c))
TESTLIB   := $(TESTLIB_SRCS:%.c=$(BUILD)/%.o)
# $(call helpers_of,DIR/): the objects of DIR's own non-test sources.
helpers_of = $(patsubst %.c,$(BUILD)/%.o,$(filter-out $(wildcard $(1)test_*.c) $(TESTLIB_SRCS),$(wildcard $(1)*.c)))

.PHONY: all test unit run stop bench clean deps format
all: $(BUILD)/chatd $(BUILD)/chat $(BUILD)/libchatclient.a $(UNIT_BINS) $(E2E_BINS) $(BUILD)/sse_load $(BUILD)/floor

$(BUILD)/src/%.o: src/%.c $(wildcard src/*.h) | $(BUILD)/src
	$(CC) $(CFLAGS) $(SRV_CFLAGS) -c $< -o $@

$(BUILD)/libchatd.a: $(SRV_OBJS)
	ar rcs $@ $^

$(BUILD)/chatd: $(BUILD)/src/main.o $(BUILD)/libchatd.a
	$(CC) $(LDFLAGS) -o $@ $^ $(SRV_LIBS)

$(BUILD)/lib/%.o: lib/%.c include/chatclient.h $(wildcard lib/*.h) | $(BUILD)/lib
	$(CC) $(CFLAGS) $(CLI_CFLAGS) -c $< -o $@

$(BUILD)/libchatclient.a: $(LIB_OBJS)
	rm -f $@
	ar rcs $@ $^

$(BUILD)/chat: cli/chat.c $(BUILD)/libchatclient.a | $(BUILD)
	$(CC) $(CFLAGS) $(CLI_CFLAGS) $(LDFLAGS) -o $@ $^ $(CLI_LIBS)

# The SSE load generator of make bench and the stack tests: libevent only.
$(BUILD)/sse_load: bench/sse_load.c | $(BUILD)
	$(CC) $(CFLAGS) $(EV_CFLAGS) $(LDFLAGS) -o $@ $< $(EV_LIBS)

# The fan-out floor of make bench: chatd's encoder and SSE framing, no Redis.
$(BUILD)/floor: bench/floor.c $(BUILD)/libchatd.a | $(BUILD)
	$(CC) $(CFLAGS) $(SRV_CFLAGS) $(LDFLAGS) -o $@ $^ $(SRV_LIBS)

$(BUILD)/tests/unit/%: tests/unit/%.c $(BUILD)/libchatd.a | $(BUILD)/tests/unit
	$(CC) $(CFLAGS) $(SRV_CFLAGS) $(LDFLAGS) -o $@ $^ $(SRV_LIBS) $(TEST_LIBS)

$(BUILD)/tests/%.o: tests/%.c $(wildcard tests/*/*.h)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -Itests/integration -Itests/cluster $(CLI_CFLAGS) $(SRV_CFLAGS) -c $< -o $@

.SECONDEXPANSION:
$(E2E_BINS): $(BUILD)/%: $(BUILD)/%.o $$(call helpers_of,$$(dir $$*)) $(TESTLIB) $(BUILD)/libchatclient.a $(BUILD)/libchatd.a
	$(CC) $(LDFLAGS) -o $@ $^ $(CLI_LIBS) $(SRV_LIBS) $(TEST_LIBS) -lpthread

$(BUILD) $(BUILD)/src $(BUILD)/lib $(BUILD)/tests/unit:
	mkdir -p $@

# Runs every suite; the last line is the summary for all of them.
test:
	@tests/run-all.sh

unit: all
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
# ratios: bench/results/<date>.json and .md, plots in docs/img/ (docs/BENCHMARKS.md).
# BENCH_QUICK=1 for a quick run, BENCH_SCENARIOS="send fanout ..." to choose.
bench: all
	@bench/bench.sh

format:
	clang-format -i src/*.[ch] lib/*.[ch] cli/*.c include/*.h tests/unit/*.c tests/integration/*.[ch] bench/*.c

clean:
	rm -rf build
