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

SRV_SRCS  := $(filter-out src/main.c,$(wildcard src/*.c))
SRV_OBJS  := $(SRV_SRCS:%.c=$(BUILD)/%.o)
UNIT_SRCS := $(wildcard tests/unit/test_*.c)
UNIT_BINS := $(UNIT_SRCS:%.c=$(BUILD)/%)
INT_SRCS  := $(wildcard tests/integration/test_*.c)
INT_BINS  := $(INT_SRCS:%.c=$(BUILD)/%)
INT_HELPERS := $(filter-out $(INT_SRCS),$(wildcard tests/integration/*.c))
INT_HELPER_OBJS := $(INT_HELPERS:%.c=$(BUILD)/%.o)
CLU_SRCS  := $(wildcard tests/cluster/test_*.c)
CLU_BINS  := $(CLU_SRCS:%.c=$(BUILD)/%)
CLU_HELPERS := $(filter-out $(CLU_SRCS),$(wildcard tests/cluster/*.c))
CLU_HELPER_OBJS := $(CLU_HELPERS:%.c=$(BUILD)/%.o)

.PHONY: all test unit run stop bench clean deps format
all: $(BUILD)/chatd $(BUILD)/chat $(BUILD)/libchatclient.a $(UNIT_BINS) $(INT_BINS) $(CLU_BINS)

$(BUILD)/src/%.o: src/%.c $(wildcard src/*.h) | $(BUILD)/src
	$(CC) $(CFLAGS) $(SRV_CFLAGS) -c $< -o $@

$(BUILD)/libchatd.a: $(SRV_OBJS)
	ar rcs $@ $^

$(BUILD)/chatd: $(BUILD)/src/main.o $(BUILD)/libchatd.a
	$(CC) $(LDFLAGS) -o $@ $^ $(SRV_LIBS)

$(BUILD)/lib/%.o: lib/%.c include/chatclient.h | $(BUILD)/lib
	$(CC) $(CFLAGS) $(CLI_CFLAGS) -c $< -o $@

$(BUILD)/libchatclient.a: $(BUILD)/lib/chatclient.o
	ar rcs $@ $^

$(BUILD)/chat: cli/chat.c $(BUILD)/libchatclient.a | $(BUILD)
	$(CC) $(CFLAGS) $(CLI_CFLAGS) $(LDFLAGS) -o $@ $^ $(CLI_LIBS)

$(BUILD)/tests/unit/%: tests/unit/%.c $(BUILD)/libchatd.a | $(BUILD)/tests/unit
	$(CC) $(CFLAGS) $(SRV_CFLAGS) $(LDFLAGS) -o $@ $^ $(SRV_LIBS) $(TEST_LIBS)

$(BUILD)/tests/integration/%.o: tests/integration/%.c $(wildcard tests/integration/*.h) | $(BUILD)/tests/integration
	$(CC) $(CFLAGS) $(CLI_CFLAGS) -c $< -o $@

$(BUILD)/tests/integration/test_%: $(BUILD)/tests/integration/test_%.o $(INT_HELPER_OBJS) $(BUILD)/libchatclient.a
	$(CC) $(LDFLAGS) -o $@ $^ $(CLI_LIBS) $(TEST_LIBS) -lpthread

$(BUILD)/tests/cluster/%.o: tests/cluster/%.c $(wildcard tests/cluster/*.h) tests/integration/testlib.h | $(BUILD)/tests/cluster
	$(CC) $(CFLAGS) -Itests/integration $(CLI_CFLAGS) -c $< -o $@

$(BUILD)/tests/cluster/test_%: $(BUILD)/tests/cluster/test_%.o $(CLU_HELPER_OBJS) $(BUILD)/tests/integration/testlib.o $(BUILD)/libchatclient.a
	$(CC) $(LDFLAGS) -o $@ $^ $(CLI_LIBS) $(TEST_LIBS) -lpthread

$(BUILD) $(BUILD)/src $(BUILD)/lib $(BUILD)/tests/unit $(BUILD)/tests/integration $(BUILD)/tests/cluster:
	mkdir -p $@

# Runs every suite; the last line is the summary for all of them.
test:
	@tests/run-all.sh

unit: all
	@tests/run-unit.sh $(BUILD)

# Installs missing Debian packages (apt-get as root, else prints the command).
deps:
	@scripts/deps.sh

# Runs redis-server and chatd on :8182 in the foreground; Ctrl-C stops both.
run: deps
	@$(MAKE) --no-print-directory all
	@scripts/run.sh

bench: all
	@bench/run.sh

format:
	clang-format -i src/*.[ch] lib/*.c cli/*.c include/*.h tests/unit/*.c tests/integration/*.[ch]

clean:
	rm -rf build
