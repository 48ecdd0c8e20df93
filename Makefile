# SPDX-License-Identifier: MIT
# The meter gateway: one GNU Makefile. Objects go under build/.
#
#   make                 build build/gatewayd, build/gwctl, build/metersim
#   make check           install what is missing, build, run every test
#   make check SANITIZE=1  the same tests on an ASan + UBSan build (build/san)
#   make demo            simulated meters -> gateway -> PostgreSQL, two days
#   make bench           benchmarks (ratios against a baseline in one run)
#   make fuzz            libFuzzer on the IEC 62056-21 parser and the batch
#                        decoder, FUZZ_TIME s each

SANITIZE ?=
ifeq ($(SANITIZE),1)
BUILD ?= build/san
SANFLAGS := -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
else
BUILD ?= build
SANFLAGS :=
endif

CC ?= cc
PKGS := libmodbus libserialport libpq zlib
PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS := $(shell pkg-config --libs $(PKGS) 2>/dev/null)
CMOCKA_LIBS := $(shell pkg-config --libs cmocka 2>/dev/null)

WARN := -Wall -Wextra -Wshadow -Wstrict-prototypes -Wmissing-prototypes -Wformat=2
ifneq ($(CI),)
WARN += -Werror
endif
CFLAGS ?= -O2 -g
CFLAGS += -std=c11 -D_GNU_SOURCE $(WARN) $(SANFLAGS) $(PKG_CFLAGS) -MMD -MP -Igateway -Idrivers
LDFLAGS += $(SANFLAGS)
LDLIBS += $(PKG_LIBS) -lpthread -lm

LIB_SRC := $(filter-out gateway/main.c,$(wildcard gateway/*.c)) $(wildcard drivers/*.c)
LIB_OBJ := $(LIB_SRC:%.c=$(BUILD)/%.o)
GWCTL_SRC := $(wildcard tools/gwctl*.c)
METERSIM_SRC := $(wildcard tools/metersim*.c)
UNIT_SRC := $(wildcard tests/unit/test_*.c)
UNIT_BIN := $(UNIT_SRC:tests/unit/%.c=$(BUILD)/tests/%)
# C programs that integration scripts run (they need a server or a simulator)
IT_SRC := $(wildcard tests/integration/it_*.c)
IT_BIN := $(IT_SRC:tests/integration/%.c=$(BUILD)/tests/%)

PROGS := $(BUILD)/gatewayd $(BUILD)/gwctl $(BUILD)/metersim
# benchmark programs that tests/bench/*.sh run (make bench)
BENCH_SRC := $(wildcard tests/bench/*.c)
BENCH_BIN := $(BENCH_SRC:tests/bench/%.c=$(BUILD)/bench/%)

.PHONY: all tests check soak demo bench deps clean fuzz fuzz-build install
all: $(PROGS)
tests: $(PROGS) $(UNIT_BIN) $(IT_BIN) $(BENCH_BIN)

$(BUILD)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -c -o $@ $<

$(BUILD)/libgw.a: $(LIB_OBJ)
	@rm -f $@
	$(AR) rcs $@ $^

$(BUILD)/gatewayd: $(BUILD)/gateway/main.o $(BUILD)/libgw.a
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(BUILD)/gwctl: $(GWCTL_SRC:%.c=$(BUILD)/%.o) $(BUILD)/libgw.a
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(BUILD)/metersim: $(METERSIM_SRC:%.c=$(BUILD)/%.o) $(BUILD)/libgw.a
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(BUILD)/tests/%: $(BUILD)/tests/unit/%.o $(BUILD)/libgw.a
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ $(CMOCKA_LIBS) $(LDLIBS)

$(BUILD)/tests/it_%: $(BUILD)/tests/integration/it_%.o $(BUILD)/libgw.a
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ $(CMOCKA_LIBS) $(LDLIBS)

$(BUILD)/bench/%: $(BUILD)/tests/bench/%.o $(BUILD)/libgw.a
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

# Installs missing Debian packages (only if something is missing).
deps:
	@tools/deps.sh

check: deps
	@$(MAKE) --no-print-directory tests
	@GW_BUILD=$(BUILD) tests/run.sh

# The crash test, many more times (GW_CRASH_KILLS, default 500 here), and
# the conservation property test over many more cases (GW_PROPERTY_CASES,
# default 200000 here; GW_PROPERTY_SEED picks another set).
soak: deps
	@$(MAKE) --no-print-directory tests
	@GW_BUILD=$(BUILD) GW_CRASH_KILLS=$${GW_CRASH_KILLS:-500} tests/run.sh crash
	@GW_BUILD=$(BUILD) GW_TEST_TIMEOUT=$${GW_TEST_TIMEOUT:-7200} GW_PROPERTY_CASES=$${GW_PROPERTY_CASES:-200000} tests/run.sh conservation

demo: deps
	@$(MAKE) --no-print-directory all
	@GW_BUILD=$(BUILD) tools/demo.sh

bench: deps
	@$(MAKE) --no-print-directory all $(BENCH_BIN)
	@GW_BUILD=$(BUILD) tests/bench/run.sh

# libFuzzer targets (clang; tools/deps.sh installs it): the IEC 62056-21
# parser and the batch file decoder. Their own flags: a fuzzer build is
# always ASan + UBSan.
FUZZ_CC ?= clang
FUZZ_TIME ?= 300
FUZZ_FLAGS := -std=c11 -D_GNU_SOURCE -g -O1 -fno-omit-frame-pointer \
	-fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined \
	-Igateway -Idrivers
FUZZ_SRC := tests/fuzz/fuzz_iec.c drivers/iec_parse.c gateway/reading.c gateway/util.c
FUZZ_BIN := $(BUILD)/fuzz/fuzz_iec
FUZZ_BATCH_SRC := tests/fuzz/fuzz_batch.c gateway/spool.c gateway/batch.c \
	gateway/tz.c gateway/reading.c gateway/util.c gateway/drops.c
FUZZ_BATCH_BIN := $(BUILD)/fuzz/fuzz_batch
$(FUZZ_BIN): $(FUZZ_SRC) drivers/iec_parse.h gateway/reading.h gateway/gw.h gateway/batch.h
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_FLAGS) -o $@ $(FUZZ_SRC)
$(FUZZ_BATCH_BIN): $(FUZZ_BATCH_SRC) gateway/spool.h gateway/batch.h gateway/tz.h gateway/reading.h gateway/gw.h
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_FLAGS) -o $@ $(FUZZ_BATCH_SRC) -lz
fuzz-build: $(FUZZ_BIN) $(FUZZ_BATCH_BIN)
fuzz: deps
	@$(MAKE) --no-print-directory fuzz-build
	@mkdir -p $(BUILD)/fuzz/corpus $(BUILD)/fuzz/batch-corpus
	$(FUZZ_BIN) -max_total_time=$(FUZZ_TIME) -max_len=4096 -timeout=10 \
		$(BUILD)/fuzz/corpus tests/unit/files/iec62056-21
	tools/fuzz_seeds.py tests/golden $(BUILD)/fuzz/batch-seeds
	$(FUZZ_BATCH_BIN) -max_total_time=$(FUZZ_TIME) -max_len=65536 -timeout=10 \
		-rss_limit_mb=2048 $(BUILD)/fuzz/batch-corpus $(BUILD)/fuzz/batch-seeds

# make install [PREFIX=/usr/local] [DESTDIR=...]: binaries, profiles, schema
# and the systemd unit (docs/deployment.md).
PREFIX ?= /usr/local
install: all
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/share/gatewayd/profiles \
		$(DESTDIR)$(PREFIX)/share/gatewayd/schema $(DESTDIR)/lib/systemd/system
	install -m 755 $(BUILD)/gatewayd $(BUILD)/gwctl $(DESTDIR)$(PREFIX)/bin/
	install -m 644 profiles/*.prof $(DESTDIR)$(PREFIX)/share/gatewayd/profiles/
	install -m 644 schema/*.sql $(DESTDIR)$(PREFIX)/share/gatewayd/schema/
	sed 's|@PREFIX@|$(PREFIX)|g' tools/gatewayd.service \
		>$(DESTDIR)/lib/systemd/system/gatewayd.service

clean:
	rm -rf build

-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)
