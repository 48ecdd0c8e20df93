# SPDX-License-Identifier: MIT
# The meter gateway: one GNU Makefile. Objects go under build/.
#
#   make                 build build/gatewayd, build/gwctl, build/metersim
#   make check           install what is missing, build, run every test
#   make check SANITIZE=1  the same tests on an ASan + UBSan build (build/san;
#                        clang when installed, else cc)
#   make check SANITIZE=thread  the threaded tests (poll workers, reload,
#                        upload) on a ThreadSanitizer build (build/tsan, clang)
#   make demo            simulated meters -> gateway -> PostgreSQL, two days
#   make bench           benchmarks (ratios against a baseline in one run;
#                        BENCH=PATTERN runs some, docs/benchmarks.md)
#   make fuzz            libFuzzer on the IEC 62056-21 parser, the batch
#                        decoder, the journal reader, the INI reader, the CSV
#                        meter list and meter profiles, FUZZ_TIME s each
#   make install         programs, man pages, profiles, schema, systemd unit,
#                        sysusers.d and tmpfiles.d entries (PREFIX, DESTDIR)
#   make dist            a source tarball with a VERSION file
#   make deb             the Debian packages gatewayd and gatewayd-tools in
#                        build/deb/ (packaging/mkdeb.sh, docs/deployment.md)
#   make CROSS=arm64     a cross build (or armhf) into build/arm64, against a
#                        sysroot made by tools/sysroot.sh (docs/cross-build.md)
#   make check-cross CROSS=arm64  its unit tests under qemu-user

# SANITIZE=1: AddressSanitizer and UBSan, every finding fatal. With clang
# (the default when installed, as CC is not set) UBSan also checks
# implicit integer truncation (a value that does not fit the narrower type
# it is stored into without a cast), which gcc cannot; clang's other
# integer checks (unsigned overflow, sign change, unsigned shift) are left
# off: they report the deliberate wrap of hashes, CRCs and zigzag codes.
SANITIZE ?=
# RELEASE=1 (what make deb builds with, in $(BUILD)/release): Debian's
# build flags from dpkg-buildflags with every hardening feature
# (DEB_BUILD_MAINT_OPTIONS=hardening=+all) for the target architecture:
# -fstack-protector-strong, -D_FORTIFY_SOURCE=2, -Wl,-z,relro,-z,now, PIE
# (the Debian compilers' default). `make` and `make check` keep their own.
RELEASE ?=
ifeq ($(RELEASE),1)
DEB_FLAGS_ENV := DEB_BUILD_MAINT_OPTIONS=hardening=+all \
	DEB_HOST_ARCH=$(or $(CROSS),$(shell dpkg --print-architecture))
ifeq ($(origin CFLAGS),undefined)
CFLAGS := $(shell $(DEB_FLAGS_ENV) dpkg-buildflags --get CFLAGS) \
	$(shell $(DEB_FLAGS_ENV) dpkg-buildflags --get CPPFLAGS)
endif
LDFLAGS += $(shell $(DEB_FLAGS_ENV) dpkg-buildflags --get LDFLAGS)
# and what Debian 13's dpkg-buildflags adds ("stackclash", and "branch" on
# arm64: return addresses signed, a no-op on cores before ARMv8.3), which
# Debian 12's does not know yet. Not -fcf-protection on amd64: Debian 12's
# C start files carry no IBT/SHSTK note, so the linked program would not
# have it either (hardening-check's "Control flow integrity: no").
RELEASE_EXTRA_amd64 := -fstack-clash-protection
RELEASE_EXTRA_arm64 := -fstack-clash-protection -mbranch-protection=standard
RELEASE_EXTRA_armhf := -fstack-clash-protection
CFLAGS += $(RELEASE_EXTRA_$(or $(CROSS),$(shell dpkg --print-architecture)))
endif
# CROSS=arm64 or armhf: the Debian cross compiler and pkg-config reading the
# .pc files of a sysroot (tools/sysroot.sh ARCH makes build/sysroot-ARCH).
# CC, PKG_CONFIG and SYSROOT given on the command line win.
CROSS ?=
ifneq ($(CROSS),)
CROSS_TRIPLET_arm64 := aarch64-linux-gnu
CROSS_TRIPLET_armhf := arm-linux-gnueabihf
CROSS_TRIPLET := $(CROSS_TRIPLET_$(CROSS))
ifeq ($(CROSS_TRIPLET),)
$(error CROSS=$(CROSS): arm64 or armhf)
endif
BUILD ?= build/$(CROSS)
SYSROOT ?= $(CURDIR)/build/sysroot-$(CROSS)
ifeq ($(origin CC),default)
CC := $(CROSS_TRIPLET)-gcc
endif
AR := $(CROSS_TRIPLET)-ar
PKG_CONFIG ?= PKG_CONFIG_SYSROOT_DIR=$(SYSROOT) \
	PKG_CONFIG_LIBDIR=$(SYSROOT)/usr/lib/$(CROSS_TRIPLET)/pkgconfig:$(SYSROOT)/usr/share/pkgconfig \
	pkg-config
CFLAGS ?= -O2 -g
CFLAGS += --sysroot=$(SYSROOT)
LDFLAGS += --sysroot=$(SYSROOT)
endif
PKG_CONFIG ?= pkg-config
ifeq ($(SANITIZE),1)
BUILD ?= build/san
ifeq ($(origin CC),default)
ifneq ($(shell command -v clang 2>/dev/null),)
CC := clang
endif
endif
ifneq ($(findstring clang,$(CC)),)
SANFLAGS := -fsanitize=address,undefined,implicit-integer-truncation \
	-fno-omit-frame-pointer -fno-sanitize-recover=all
# The sanitizer runtime as a shared library: linked in statically it calls
# clock_gettime before libfaketime (which the clock tests preload) has set
# itself up, and the two deadlock at start (libfaketime issue 365).
SANLINK := -shared-libsan -Wl,-rpath,$(shell $(CC) -print-runtime-dir)
else
SANFLAGS := -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
endif
else ifeq ($(SANITIZE),thread)
# SANITIZE=thread: ThreadSanitizer (clang), its own build directory. Every
# report is written under $(BUILD)/tsan-report.* and fails the check
# (tests/tsan.sh): the daemon's threads (poll workers, the main loop, the
# uploader) share their state only through locks and atomics.
BUILD ?= build/tsan
ifeq ($(origin CC),default)
CC := clang
endif
SANFLAGS := -fsanitize=thread -fno-omit-frame-pointer
else
BUILD ?= build
SANFLAGS :=
endif

CC ?= cc
# The compiler and sanitizers the objects in $(BUILD) were built with,
# rewritten (so objects are rebuilt) only when they change: cc to clang for
# SANITIZE=1; in a release build (RELEASE=1, make deb) its flags too. Only
# a build of objects looks at it, not e.g. fuzz-build.
CC_STAMP := $(BUILD)/.cc
PKGS := libmodbus libserialport libpq zlib
PKG_CFLAGS := $(shell $(PKG_CONFIG) --cflags $(PKGS) 2>/dev/null)
PKG_LIBS := $(shell $(PKG_CONFIG) --libs $(PKGS) 2>/dev/null)
CMOCKA_LIBS := $(shell $(PKG_CONFIG) --libs cmocka 2>/dev/null)

WARN := -Wall -Wextra -Wshadow -Wstrict-prototypes -Wmissing-prototypes -Wformat=2
ifneq ($(CI),)
WARN += -Werror
endif
CFLAGS ?= -O2 -g
CFLAGS += -std=c11 -D_GNU_SOURCE $(WARN) $(SANFLAGS) $(PKG_CFLAGS) -MMD -MP -Igateway/common -Idrivers -Igateway
# 64-bit time_t and off_t on 32-bit targets (armhf: glibc >= 2.34), so that
# times after 2038-01-19 and files over 2 GiB work there; nothing changes
# on 64-bit targets. The libraries the gateway links (libmodbus,
# libserialport, libpq, zlib, cmocka) pass no time_t or off_t across
# their interfaces (zlib maps its offsets to the 64-bit calls itself).
CFLAGS += -D_FILE_OFFSET_BITS=64 -D_TIME_BITS=64
LDFLAGS += $(SANFLAGS) $(SANLINK)
LDLIBS += $(PKG_LIBS) -lpthread -lm

LIB_SRC := $(filter-out gateway/main.c,$(wildcard gateway/*.c)) $(wildcard gateway/common/*.c) \
	$(wildcard drivers/*.c)
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

.DEFAULT_GOAL := all
# The version: `git describe` in a git checkout, the VERSION file of a
# source tarball (make dist), else 0.0.0-unknown. Only version.o is rebuilt
# when it changes ($(BUILD)/.version). DEB_VERSION is the Debian form
# (packaging/debversion.sh): v1.2.0-14-g3fa2c1d -> 1.2.0+14.g3fa2c1d.
GW_VERSION := $(shell if [ -e .git ] && git describe --tags --always --dirty 2>/dev/null; then :; \
	elif [ -s VERSION ]; then head -n1 VERSION; else echo 0.0.0-unknown; fi)
VERSION_STAMP := $(BUILD)/.version
$(VERSION_STAMP): FORCE
	@mkdir -p $(dir $@)
	@if [ "$$(cat $@ 2>/dev/null)" != '$(GW_VERSION)' ]; then echo '$(GW_VERSION)' >$@; fi
$(BUILD)/gateway/common/version.o: $(VERSION_STAMP)
$(BUILD)/gateway/common/version.o: CFLAGS += -DGW_VERSION='"$(GW_VERSION)"'
.PHONY: print-version
print-version:
	@echo '$(GW_VERSION)'

# Man pages from their scdoc sources in man/ (Debian package scdoc). Without
# scdoc, `make` says so once and builds the programs without them; `make
# install` and `make deb` then stop with that message.
SCDOC ?= scdoc
MAN_SRC := $(wildcard man/*.scd)
MAN_OUT := $(MAN_SRC:man/%.scd=$(BUILD)/man/%)
HAVE_SCDOC := $(shell command -v $(SCDOC) 2>/dev/null)
$(BUILD)/man/%: man/%.scd
	@mkdir -p $(dir $@)
	$(SCDOC) <$< >$@.tmp && mv $@.tmp $@
.PHONY: man man-missing
ifneq ($(HAVE_SCDOC),)
man: $(MAN_OUT)
else
man: man-missing
endif
man-missing:
	@echo "make: scdoc not found: man pages not built (apt-get install scdoc, or make deps)" >&2

.PHONY: all tests check soak demo bench deps clean fuzz fuzz-build install FORCE \
	install-man deb dist check-cross
all: $(PROGS) man
tests: $(PROGS) $(UNIT_BIN) $(IT_BIN) $(BENCH_BIN)

$(CC_STAMP): FORCE
	@mkdir -p $(dir $@)
	@if [ "$$(cat $@ 2>/dev/null)" != '$(CC) $(SANFLAGS) $(SANLINK)$(if $(RELEASE), $(CFLAGS) $(LDFLAGS))' ]; then \
		echo '$(CC) $(SANFLAGS) $(SANLINK)$(if $(RELEASE), $(CFLAGS) $(LDFLAGS))' >$@; fi
FORCE:

$(BUILD)/%.o: %.c $(CC_STAMP)
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

# portald, the customer portal's read-only service (portal/, docs/portal.md):
# its own objects and libraries (libmicrohttpd, libpq, libcrypto), so that
# gatewayd's link line stays as it is. It shares only the INI reader, the
# log and the version with the gateway. Not built with CROSS: it runs on
# the utility's servers, not on a concentrator.
PORTAL_PKGS := libmicrohttpd libpq libcrypto
PORTAL_CFLAGS := $(shell $(PKG_CONFIG) --cflags $(PORTAL_PKGS) 2>/dev/null)
PORTAL_LIBS := $(shell $(PKG_CONFIG) --libs $(PORTAL_PKGS) 2>/dev/null)
PORTAL_SRC := $(wildcard portal/*.c)
PORTAL_OBJ := $(filter-out $(BUILD)/portal/main.o,$(PORTAL_SRC:%.c=$(BUILD)/%.o))
PORTAL_COMMON := $(BUILD)/gateway/common/ini.o $(BUILD)/gateway/common/util.o \
	$(BUILD)/gateway/common/version.o
$(BUILD)/portal/%.o: CFLAGS += $(PORTAL_CFLAGS) -Iportal
$(BUILD)/tests/unit/portal/%.o: CFLAGS += $(PORTAL_CFLAGS) -Iportal
$(BUILD)/portald: $(BUILD)/portal/main.o $(PORTAL_OBJ) $(PORTAL_COMMON)
	$(CC) $(LDFLAGS) -o $@ $^ $(PORTAL_LIBS) -lpthread
$(BUILD)/tests/test_portal: $(BUILD)/tests/unit/portal/test_portal.o $(PORTAL_OBJ) $(PORTAL_COMMON)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ $(CMOCKA_LIBS) $(PORTAL_LIBS) -lpthread
$(BUILD)/tests/test_portal_page: $(BUILD)/tests/unit/portal/test_portal_page.o $(PORTAL_OBJ) $(PORTAL_COMMON)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ $(CMOCKA_LIBS) $(PORTAL_LIBS) -lpthread
$(BUILD)/tests/test_portal_jwt: $(BUILD)/tests/unit/portal/test_portal_jwt.o $(PORTAL_OBJ) $(PORTAL_COMMON)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ $(CMOCKA_LIBS) $(PORTAL_LIBS) -lpthread
$(BUILD)/tests/test_portal_render: $(BUILD)/tests/unit/portal/test_portal_render.o $(PORTAL_OBJ) $(PORTAL_COMMON)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ $(CMOCKA_LIBS) $(PORTAL_LIBS) -lpthread
ifeq ($(CROSS),)
all: $(BUILD)/portald
tests: $(BUILD)/tests/test_portal_render
tests: $(BUILD)/portald $(BUILD)/tests/test_portal
tests: $(BUILD)/tests/test_portal_page
tests: $(BUILD)/tests/test_portal_jwt
install: install-portal
endif
.PHONY: install-portal
# portald, its systemd unit, the sysusers.d entry of its user, an example
# portal.ini and docs/portal.md; the customer notices' hourly run
# (gatewayd-notices.service and .timer) and docs/notices.md
# (packaging/mkdeb.sh puts them in the package gatewayd-portal).
install-portal: $(BUILD)/portald
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)/lib/systemd/system \
		$(DESTDIR)$(PREFIX)/lib/sysusers.d $(DESTDIR)$(PREFIX)/share/doc/gatewayd-portal/examples
	install -m 755 $(BUILD)/portald $(DESTDIR)$(PREFIX)/bin/
	sed 's|@PREFIX@|$(PREFIX)|g' tools/portald.service >$(DESTDIR)/lib/systemd/system/portald.service
	sed 's|@PREFIX@|$(PREFIX)|g' tools/gatewayd-notices.service \
		>$(DESTDIR)/lib/systemd/system/gatewayd-notices.service
	install -m 644 tools/gatewayd-notices.timer $(DESTDIR)/lib/systemd/system/
	install -m 644 docs/notices.md $(DESTDIR)$(PREFIX)/share/doc/gatewayd-portal/notices.md
	install -m 644 portal/portald.sysusers $(DESTDIR)$(PREFIX)/lib/sysusers.d/portald.conf
	install -m 644 portal/portal.ini $(DESTDIR)$(PREFIX)/share/doc/gatewayd-portal/examples/portal.ini
	install -m 644 docs/portal.md $(DESTDIR)$(PREFIX)/share/doc/gatewayd-portal/portal.md

# Installs missing Debian packages (only if something is missing).
deps:
	@tools/deps.sh

check: deps
	@$(MAKE) --no-print-directory tests
ifeq ($(SANITIZE),thread)
	@GW_BUILD=$(BUILD) tests/tsan.sh
else
	@GW_BUILD=$(BUILD) tests/run.sh
endif

# The crash tests (crash.sh kills gatewayd, upload_crash.sh the uploader),
# many more times (GW_CRASH_KILLS, default 500 here; make check: 20 and
# 30), and the conservation property test over many more cases
# (GW_PROPERTY_CASES, default 200000 here, make check 500;
# GW_PROPERTY_SEED picks another set), and its cases with the points
# spilled to files (GW_PROPERTY_SPILL_CASES, default 20000 here, make
# check 100). 500 kills of gatewayd take about 15 minutes: longer than
# tests/run.sh's default limit of 600 s.
soak: deps
	@$(MAKE) --no-print-directory tests
	@GW_BUILD=$(BUILD) GW_TEST_TIMEOUT=$${GW_TEST_TIMEOUT:-7200} GW_CRASH_KILLS=$${GW_CRASH_KILLS:-500} tests/run.sh crash
	@GW_BUILD=$(BUILD) GW_TEST_TIMEOUT=$${GW_TEST_TIMEOUT:-7200} GW_PROPERTY_CASES=$${GW_PROPERTY_CASES:-200000} \
		GW_PROPERTY_SPILL_CASES=$${GW_PROPERTY_SPILL_CASES:-20000} tests/run.sh conservation

demo: deps
	@$(MAKE) --no-print-directory all
	@GW_BUILD=$(BUILD) tools/demo.sh

bench: deps
	@$(MAKE) --no-print-directory all $(BENCH_BIN)
	@GW_BUILD=$(BUILD) tests/bench/run.sh $(BENCH)

# libFuzzer targets (clang; tools/deps.sh installs it): the IEC 62056-21
# parser, the batch file decoder, the INI reader, the CSV meter list and
# meter profiles. Their own flags: a fuzzer build is always ASan + UBSan.
FUZZ_CC ?= clang
FUZZ_TIME ?= 300
FUZZ_FLAGS := -std=c11 -D_GNU_SOURCE -g -O1 -fno-omit-frame-pointer \
	-fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined \
	-Igateway/common -Idrivers -Igateway
FUZZ_SRC := tests/fuzz/fuzz_iec.c drivers/iec_parse.c drivers/iec_readings.c gateway/common/reading.c gateway/common/util.c
FUZZ_BIN := $(BUILD)/fuzz/fuzz_iec
# The library once more, built with the fuzzers' flags: the batch and
# journal targets link it as an archive, so that the linker takes what
# they need and their source lists are not kept by hand as files split.
FUZZ_LIB := $(BUILD)/fuzz/libgw.a
FUZZ_LIB_OBJ := $(LIB_SRC:%.c=$(BUILD)/fuzz/obj/%.o)
$(BUILD)/fuzz/obj/%.o: %.c
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_FLAGS) $(PKG_CFLAGS) -MMD -MP -c -o $@ $<
$(FUZZ_LIB): $(FUZZ_LIB_OBJ)
	@rm -f $@
	$(AR) rcs $@ $^
FUZZ_LIB_LIBS := $(FUZZ_LIB) $(PKG_LIBS) -lpthread -lm
FUZZ_BATCH_SRC := tests/fuzz/fuzz_batch.c
FUZZ_BATCH_BIN := $(BUILD)/fuzz/fuzz_batch
$(FUZZ_BIN): $(FUZZ_SRC) drivers/iec_parse.h gateway/common/reading.h gateway/common/gw.h gateway/common/event.h
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_FLAGS) -o $@ $(FUZZ_SRC)
$(FUZZ_BATCH_BIN): $(FUZZ_BATCH_SRC) $(FUZZ_LIB)
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_FLAGS) -o $@ $(FUZZ_BATCH_SRC) $(FUZZ_LIB_LIBS)
# the journal segment reader (what start-up replays after a power loss)
FUZZ_JOURNAL_SRC := tests/fuzz/fuzz_journal.c
FUZZ_JOURNAL_BIN := $(BUILD)/fuzz/fuzz_journal
$(FUZZ_JOURNAL_BIN): $(FUZZ_JOURNAL_SRC) $(FUZZ_LIB)
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_FLAGS) -o $@ $(FUZZ_JOURNAL_SRC) $(FUZZ_LIB_LIBS)
# The INI reader, the CSV meter list (through gw_config_load) and meter
# profiles (loading and decoding). Their messages about bad input go to
# stderr, which -close_fd_mask=2 discards (libFuzzer's and the sanitizers'
# reports still show); each has a dictionary of its keywords.
FUZZ_INI_SRC := tests/fuzz/fuzz_ini.c gateway/common/ini.c gateway/common/util.c
FUZZ_INI_BIN := $(BUILD)/fuzz/fuzz_ini
FUZZ_PROFILE_SRC := tests/fuzz/fuzz_profile.c drivers/profile.c drivers/profile_codec.c gateway/common/ini.c \
	gateway/common/reading.c gateway/common/util.c
FUZZ_PROFILE_BIN := $(BUILD)/fuzz/fuzz_profile
FUZZ_METERS_SRC := tests/fuzz/fuzz_meters.c gateway/config.c gateway/config_bus.c gateway/dbtls.c \
	$(wildcard gateway/common/*.c) $(wildcard drivers/*.c)
FUZZ_METERS_BIN := $(BUILD)/fuzz/fuzz_meters
$(FUZZ_INI_BIN): $(FUZZ_INI_SRC) $(wildcard gateway/*.h gateway/common/*.h drivers/*.h)
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_FLAGS) -o $@ $(FUZZ_INI_SRC)
$(FUZZ_PROFILE_BIN): $(FUZZ_PROFILE_SRC) $(wildcard gateway/*.h gateway/common/*.h drivers/*.h)
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_FLAGS) -o $@ $(FUZZ_PROFILE_SRC) -lm
$(FUZZ_METERS_BIN): $(FUZZ_METERS_SRC) $(wildcard gateway/*.h gateway/common/*.h drivers/*.h)
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_FLAGS) $(PKG_CFLAGS) -o $@ $(FUZZ_METERS_SRC) $(PKG_LIBS) -lm
fuzz-build: $(FUZZ_BIN) $(FUZZ_BATCH_BIN) $(FUZZ_JOURNAL_BIN) $(FUZZ_INI_BIN) \
	$(FUZZ_PROFILE_BIN) $(FUZZ_METERS_BIN)
FUZZ_TEXT := -max_total_time=$(FUZZ_TIME) -max_len=4096 -timeout=10 -close_fd_mask=2
fuzz: deps
	@$(MAKE) --no-print-directory fuzz-build
	@mkdir -p $(BUILD)/fuzz/corpus $(BUILD)/fuzz/batch-corpus $(BUILD)/fuzz/ini-corpus \
		$(BUILD)/fuzz/profile-corpus $(BUILD)/fuzz/meters-corpus $(BUILD)/fuzz/tmp
	$(FUZZ_BIN) -max_total_time=$(FUZZ_TIME) -max_len=4096 -timeout=10 \
		$(BUILD)/fuzz/corpus tests/unit/files/iec62056-21
	tools/fuzz_seeds.py tests/golden $(BUILD)/fuzz/batch-seeds
	$(FUZZ_BATCH_BIN) -max_total_time=$(FUZZ_TIME) -max_len=65536 -timeout=10 \
		-rss_limit_mb=2048 $(BUILD)/fuzz/batch-corpus $(BUILD)/fuzz/batch-seeds
	@mkdir -p $(BUILD)/fuzz/journal-corpus
	tests/fuzz/journal_seeds.py tests/golden $(BUILD)/fuzz/journal-seeds
	$(FUZZ_JOURNAL_BIN) -max_total_time=$(FUZZ_TIME) -max_len=65536 -timeout=10 \
		-rss_limit_mb=2048 $(BUILD)/fuzz/journal-corpus $(BUILD)/fuzz/journal-seeds
	$(FUZZ_INI_BIN) $(FUZZ_TEXT) -dict=tests/fuzz/ini.dict $(BUILD)/fuzz/ini-corpus \
		tests/fuzz/seeds/ini profiles
	$(FUZZ_PROFILE_BIN) $(FUZZ_TEXT) -dict=tests/fuzz/profile.dict \
		$(BUILD)/fuzz/profile-corpus profiles tests/unit/files/profiles
	TMPDIR=$(abspath $(BUILD)/fuzz/tmp) $(FUZZ_METERS_BIN) $(FUZZ_TEXT) \
		-dict=tests/fuzz/meters.dict $(BUILD)/fuzz/meters-corpus tests/fuzz/seeds/meters

# make install [PREFIX=/usr/local] [DESTDIR=...]: binaries, man pages,
# profiles, schema, the systemd units, sysusers.d and tmpfiles.d entries
# and the example configuration (docs/deployment.md).
PREFIX ?= /usr/local
install: all
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/share/gatewayd/profiles \
		$(DESTDIR)$(PREFIX)/share/gatewayd/schema $(DESTDIR)/lib/systemd/system
	install -m 755 $(BUILD)/gatewayd $(BUILD)/gwctl $(DESTDIR)$(PREFIX)/bin/
	install -m 644 profiles/*.prof $(DESTDIR)$(PREFIX)/share/gatewayd/profiles/
	install -m 644 schema/*.sql $(DESTDIR)$(PREFIX)/share/gatewayd/schema/
	sed 's|@PREFIX@|$(PREFIX)|g' tools/gatewayd.service \
		>$(DESTDIR)/lib/systemd/system/gatewayd.service
	sed 's|@PREFIX@|$(PREFIX)|g' tools/gatewayd-maintain.service \
		>$(DESTDIR)/lib/systemd/system/gatewayd-maintain.service
	install -m 644 tools/gatewayd-maintain.timer $(DESTDIR)/lib/systemd/system/
	install -m 755 $(BUILD)/metersim $(DESTDIR)$(PREFIX)/bin/
	install -d $(DESTDIR)$(PREFIX)/lib/sysusers.d $(DESTDIR)$(PREFIX)/lib/tmpfiles.d \
		$(DESTDIR)$(PREFIX)/share/doc/gatewayd/examples
	install -m 644 packaging/gatewayd.sysusers $(DESTDIR)$(PREFIX)/lib/sysusers.d/gatewayd.conf
	install -m 644 packaging/gatewayd.tmpfiles $(DESTDIR)$(PREFIX)/lib/tmpfiles.d/gatewayd.conf
	sed 's|@PREFIX@|$(PREFIX)|g' packaging/gateway.ini \
		>$(DESTDIR)$(PREFIX)/share/doc/gatewayd/examples/gateway.ini
	install -m 644 packaging/meters.csv $(DESTDIR)$(PREFIX)/share/doc/gatewayd/examples/
	@$(MAKE) --no-print-directory install-man

# The man pages need scdoc (make deps installs it).
install-man: man
	@if [ -z '$(HAVE_SCDOC)' ]; then echo "make install: scdoc is missing, no man pages" >&2; exit 1; fi
	for m in $(notdir $(MAN_OUT)); do s=$${m##*.}; \
		install -d $(DESTDIR)$(PREFIX)/share/man/man$$s && \
		install -m 644 $(BUILD)/man/$$m $(DESTDIR)$(PREFIX)/share/man/man$$s/ || exit 1; done

# Debian packages (packaging/mkdeb.sh): build/deb/gatewayd_VERSION_ARCH.deb
# and gatewayd-tools_VERSION_ARCH.deb (build/ARCH/deb for CROSS=ARCH).
# A package holds release programs, built with Debian's hardening flags
# (RELEASE=1) in their own directory, $(BUILD)/release, so that the
# development build beside it keeps its flags and is not rebuilt. A
# sanitizer build's would depend on the sanitizer runtime (and the
# compiler's library path), so it is refused.
deb:
	@if [ -n '$(SANITIZE)' ]; then echo "make deb: packages are built without SANITIZE (got SANITIZE=$(SANITIZE))" >&2; exit 1; fi
	@$(MAKE) --no-print-directory BUILD=$(BUILD)/release RELEASE=1 CROSS='$(CROSS)' all
	@BUILD=$(BUILD)/release DEB_OUT=$(BUILD)/deb GW_VERSION='$(GW_VERSION)' MAKE='$(MAKE)' CROSS='$(CROSS)' \
		packaging/mkdeb.sh

# make check-cross CROSS=arm64|armhf: the unit tests, cross-built, run one
# by one under qemu-user with the sysroot's libraries (tools/sysroot.sh
# ARCH; apt-get install qemu-user), then the packages of make deb
# CROSS=ARCH (tests/cross/deb.sh). Integration scripts are not run. The
# conservation property test runs GW_PROPERTY_CASES (here 200) cases: qemu
# is some 20 times slower than the host.
QEMU_arm64 := qemu-aarch64
QEMU_armhf := qemu-arm
check-cross:
	@if [ -z '$(CROSS)' ]; then echo "make check-cross CROSS=arm64 (or armhf)" >&2; exit 2; fi
	@$(MAKE) --no-print-directory CROSS=$(CROSS) $(PROGS) $(UNIT_BIN)
	@CMOCKA_MESSAGE_OUTPUT=TAP QEMU_LD_PREFIX=$(SYSROOT) GW_PROPERTY_CASES=$${GW_PROPERTY_CASES:-200} \
		tools/qemu_tests.sh $(QEMU_$(CROSS)) $(UNIT_BIN); unit=$$?; \
	echo "# the $(CROSS) packages (tests/cross/deb.sh)"; \
	tests/cross/deb.sh $(CROSS) >$(BUILD)/deb-check.out 2>&1; deb=$$?; \
	grep -E '^(ok|not ok|#)' $(BUILD)/deb-check.out; \
	echo "$$(grep -c '^ok' $(BUILD)/deb-check.out) passed, $$(grep -c '^not ok' $(BUILD)/deb-check.out) failed"; \
	[ $$unit -eq 0 ] && [ $$deb -eq 0 ]

# A source tarball of the last commit (uncommitted changes are not in it,
# nor in its name) that knows its version without .git (VERSION).
DIST_VERSION = $(shell git describe --tags --always 2>/dev/null || echo '$(GW_VERSION)')
dist:
	@mkdir -p $(BUILD)/dist/gatewayd-$(DIST_VERSION)
	git archive --prefix=gatewayd-$(DIST_VERSION)/ -o $(BUILD)/gatewayd-$(DIST_VERSION).tar HEAD
	echo '$(DIST_VERSION)' >$(BUILD)/dist/gatewayd-$(DIST_VERSION)/VERSION
	tar -rf $(BUILD)/gatewayd-$(DIST_VERSION).tar -C $(BUILD)/dist gatewayd-$(DIST_VERSION)/VERSION
	gzip -9nf $(BUILD)/gatewayd-$(DIST_VERSION).tar

clean:
	rm -rf build

-include $(shell find $(BUILD) -name '*.d' -type f 2>/dev/null)
