# auth-svc: FastCGI endpoints over one static library.
#   make run    deps, build, dev keys if none, migrate, serve (foreground)
#   make test   deps, strict build, unit + integration tests, coverage gate
# MODE=release (default) | cov (coverage) | asan (ASan + UBSan); output in build/$(MODE).

MODE     ?= release
BUILD    ?= build/$(MODE)
CC       ?= cc
PREFIX   ?= /usr/local
DESTDIR  ?=
COVERAGE_GATE ?= 80

COMMON    := err b64url config valid netaddr json log jwt password ownfile pidfile epoch \
             db db_sqlite db_pg store batch tokens \
             metrics prefork \
             http app
ENDPOINTS := register login refresh me logout logout_all sessions jwks \
             healthz readyz metrics
UNIT_SRCS := $(wildcard tests/unit/test_*.c)

WARN := -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes \
        -Wmissing-prototypes -Wpointer-arith -Wformat=2 -Wvla
CFLAGS_release := -O2 -g -D_FORTIFY_SOURCE=2 -fstack-protector-strong \
                  -fPIE -DNDEBUG
CFLAGS_cov     := -O0 -g --coverage
CFLAGS_asan    := -O1 -g -fsanitize=address,undefined \
                  -fno-sanitize-recover=all -fno-omit-frame-pointer
LDFLAGS_release := -pie -Wl,-z,relro,-z,now
LDFLAGS_cov     := --coverage
LDFLAGS_asan    := -fsanitize=address,undefined

CPPFLAGS += -std=gnu11 -D_GNU_SOURCE -Icommon -I/usr/include/json-c \
            -I/usr/include/postgresql
CFLAGS   += $(WARN) $(CFLAGS_$(MODE))
LDFLAGS  += $(LDFLAGS_$(MODE))
LDLIBS   := -lfcgi -ljson-c -lsqlite3 -lpq -lcrypto -lcrypt

LIB      := $(BUILD)/libauthcommon.a
LIB_OBJS := $(COMMON:%=$(BUILD)/common/%.o)
BINS     := $(ENDPOINTS:%=$(BUILD)/cgi-bin/%) $(BUILD)/sbin/supervise
TESTS    := $(UNIT_SRCS:tests/unit/%.c=$(BUILD)/tests/unit/%)

.PHONY: all deps run start stop migrate keys test test-quick unit-build fuzz-build lint \
        bench bench-build bench-scale soak \
        install clean
.DEFAULT_GOAL := all

all: $(BINS)

# V=1 shows the full commands.
Q := $(if $(V),,@)

$(BUILD)/common/%.o: common/%.c common/*.h | $(BUILD)/common
	@$(if $(Q),echo "  CC      $@")
	$(Q)$(CC) $(CPPFLAGS) $(CFLAGS) -c -o $@ $<

$(LIB): $(LIB_OBJS)
	@$(if $(Q),echo "  AR      $@")
	$(Q)rm -f $@ && ar rcs $@ $^

$(BUILD)/cgi-bin/%: cgi-bin/%.c $(LIB) | $(BUILD)/cgi-bin
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) $(CPPFLAGS) $(CFLAGS) $(LDFLAGS) -o $@ $< $(LIB) $(LDLIBS)

# The supervisor: starts and restarts every endpoint master and the front.
$(BUILD)/sbin/%: sbin/%.c $(LIB) | $(BUILD)/sbin
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) $(CPPFLAGS) $(CFLAGS) $(LDFLAGS) -o $@ $< $(LIB) $(LDLIBS)

# readyz knows the newest migration of the schema it was built with.
SCHEMA_VERSION := $(lastword $(sort $(patsubst schema/%,%,$(wildcard schema/[0-9][0-9][0-9]_*.sql))))
$(BUILD)/cgi-bin/readyz: CPPFLAGS += -DAUTH_SCHEMA_VERSION='"$(firstword $(subst _, ,$(SCHEMA_VERSION)))"'
$(BUILD)/cgi-bin/readyz: $(wildcard schema/*.sql)

$(BUILD)/tests/unit/test_%: tests/unit/test_%.c tests/unit/*.h $(LIB) | $(BUILD)/tests/unit
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) $(CPPFLAGS) -Itests/unit $(CFLAGS) $(LDFLAGS) -o $@ $< $(LIB) \
	    $(LDLIBS) -lcmocka

$(BUILD)/common $(BUILD)/cgi-bin $(BUILD)/sbin $(BUILD)/tests/unit:
	mkdir -p $@

deps:
	@scripts/deps.sh

run: deps all
	BIN_DIR=$(BUILD)/cgi-bin scripts/start.sh

start: all
	BIN_DIR=$(BUILD)/cgi-bin scripts/start.sh --background

stop:
	scripts/stop.sh

migrate:
	scripts/migrate.sh

keys:
	scripts/gen-keys.sh

unit-build: $(TESTS)

# The whole suite: unit + integration on the coverage build (with the
# gate), again on the ASan/UBSan build, the fuzzers for FUZZ_SECONDS each,
# valgrind on the unit tests. tests/run.sh prints "N passed, N failed".
FUZZ_SECONDS ?= 30
test: deps
	$(MAKE) lint
	$(MAKE) MODE=cov all unit-build
	$(MAKE) MODE=asan all unit-build
	$(MAKE) fuzz-build bench-build
	tests/run.sh --build build/cov --gate $(COVERAGE_GATE) --pg --asan build/asan \
	    --fuzz $(FUZZ_SECONDS) --valgrind

# Unit + integration + coverage only: the quick loop while developing.
test-quick: deps
	$(MAKE) MODE=cov all unit-build
	tests/run.sh --build build/cov --gate $(COVERAGE_GATE)

# libFuzzer targets (clang): the request body path and JWT verification,
# over the library built with the same sanitizers.
FUZZ_CFLAGS := -g -O1 -fsanitize=fuzzer,address,undefined \
               -fno-sanitize-recover=all
FUZZ_TARGETS := body jwt
fuzz-build: $(FUZZ_TARGETS:%=build/fuzz/fuzz_%)

build/fuzz/common/%.o: common/%.c common/*.h
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  CLANG   $@")
	$(Q)clang $(CPPFLAGS) $(WARN) -g -O1 -fsanitize=fuzzer-no-link,address,undefined \
	    -fno-sanitize-recover=all -c -o $@ $<

build/fuzz/fuzz_%: tests/fuzz/fuzz_%.c $(COMMON:%=build/fuzz/common/%.o)
	@$(if $(Q),echo "  CLANG   $@")
	$(Q)clang $(CPPFLAGS) $(WARN) $(FUZZ_CFLAGS) -o $@ $^ $(LDLIBS)

# The benchmark's own programs: the transport ceiling (a bare FastCGI
# responder) and the password-hash rate. Built with the same warnings as
# the service; make test builds them too, so a broken one fails CI.
BENCH_BUILD := build/bench
bench-build: $(BENCH_BUILD)/hello $(BENCH_BUILD)/hashrate

$(BENCH_BUILD)/hello: bench/hello.c | $(BENCH_BUILD)
	$(Q)$(CC) $(CPPFLAGS) $(WARN) -O2 -o $@ $< -lfcgi

$(BENCH_BUILD)/hashrate: bench/hashrate.c $(LIB) | $(BENCH_BUILD)
	$(Q)$(CC) $(CPPFLAGS) $(WARN) -O2 -o $@ $< $(LIB) $(LDLIBS)

$(BENCH_BUILD):
	mkdir -p $@

# Benchmarks of the running stack (not part of make test or CI).
bench: deps
	bench/run.sh

bench-scale: deps
	bench/run.sh --scale

# A long mixed load (SOAK_SECONDS, default 600): memory and descriptors per
# process kind at start, middle and end, and every error answer.
SOAK_SECONDS ?= 600
soak: deps
	DURATION=$(SOAK_SECONDS) bench/soak.sh

# Static analysis of the code we write; both must stay silent.
lint:
	cppcheck --enable=warning,style,performance,portability --std=c11 \
	    --quiet --inline-suppr --error-exitcode=1 -Icommon \
	    --suppress=missingIncludeSystem common/ cgi-bin/ sbin/
	clang-tidy --quiet common/*.c cgi-bin/*.c sbin/*.c -- $(CPPFLAGS) \
	    -DAUTH_SCHEMA_VERSION='"$(firstword $(subst _, ,$(SCHEMA_VERSION)))"'
	shellcheck -x scripts/*.sh bench/*.sh tests/run.sh tests/pg.sh tests/integration/helper.bash .ci/run

install: all
	install -d $(DESTDIR)$(PREFIX)/libexec/auth-svc $(DESTDIR)$(PREFIX)/share/auth-svc/schema
	install -m 0755 $(BINS) $(DESTDIR)$(PREFIX)/libexec/auth-svc/
	install -d $(DESTDIR)$(PREFIX)/share/auth-svc/schema/postgresql
	install -m 0644 schema/*.sql $(DESTDIR)$(PREFIX)/share/auth-svc/schema/
	install -m 0644 schema/postgresql/*.sql $(DESTDIR)$(PREFIX)/share/auth-svc/schema/postgresql/
	install -m 0755 scripts/*.sh $(DESTDIR)$(PREFIX)/share/auth-svc/
	install -m 0644 lighttpd.conf nginx.conf $(DESTDIR)$(PREFIX)/share/auth-svc/

clean:
	rm -rf build coverage
