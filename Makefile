# auth-svc: FastCGI endpoints over one static library.
#   make run    deps, build, dev keys if none, migrate, serve (foreground)
#   make test   deps, strict build, unit + integration tests, coverage gate
# MODE=release (default) | cov (coverage + ASan + UBSan, what make test
# runs) | asan (ASan + UBSan alone); output in build/$(MODE).

MODE     ?= release
BUILD    ?= build/$(MODE)
CC       ?= cc
PREFIX   ?= /usr/local
DESTDIR  ?=
COVERAGE_GATE ?= 90

COMMON    := err b64url config valid netaddr json log jwt password ownfile pidfile epoch \
             db db_sqlite db_pg store store_accounts store_mfa batch tokens mail totp keyfile seal \
             metrics prefork \
             http app
ENDPOINTS := register login refresh me verify logout logout_all sessions account mfa jwks \
             discovery healthz readyz metrics
UNIT_SRCS := $(wildcard tests/unit/test_*.c)

WARN := -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes \
        -Wmissing-prototypes -Wpointer-arith -Wformat=2 -Wvla
CFLAGS_release := -O2 -g -D_FORTIFY_SOURCE=2 -fstack-protector-strong \
                  -fPIE -DNDEBUG
# The test build: coverage and the sanitizers at once, so that one pass of
# the suite per engine serves both (make test).
SANITIZE       := -fsanitize=address,undefined -fno-sanitize-recover=all \
                  -fno-omit-frame-pointer
CFLAGS_cov     := -O0 -g --coverage $(SANITIZE)
CFLAGS_asan    := -O1 -g -fsanitize=address,undefined \
                  -fno-sanitize-recover=all -fno-omit-frame-pointer
LDFLAGS_release := -pie -Wl,-z,relro,-z,now
LDFLAGS_cov     := --coverage -fsanitize=address,undefined
LDFLAGS_asan    := -fsanitize=address,undefined

CPPFLAGS += -std=gnu11 -D_GNU_SOURCE -Icommon -I/usr/include/json-c \
            -I/usr/include/postgresql
CFLAGS   += $(WARN) $(CFLAGS_$(MODE))
LDFLAGS  += $(LDFLAGS_$(MODE))
LDLIBS   := -lfcgi -ljson-c -lsqlite3 -lpq -lcrypto -lcrypt

LIB      := $(BUILD)/libauthcommon.a
LIB_OBJS := $(COMMON:%=$(BUILD)/common/%.o)
BINS     := $(ENDPOINTS:%=$(BUILD)/cgi-bin/%) $(BUILD)/sbin/supervise \
            $(BUILD)/sbin/mailer
# The operator's command (sbin/authctl.c): built beside supervise, not an
# endpoint (nothing of it goes to libexec).
TOOLS    := $(BUILD)/sbin/authctl
TESTS    := $(UNIT_SRCS:tests/unit/%.c=$(BUILD)/tests/unit/%)

.PHONY: all deps run start stop migrate keys test test-quick unit-build fuzz-build lint \
        bench bench-build bench-scale bench-pg soak \
        install uninstall clean
.DEFAULT_GOAL := all

all: $(BINS) $(TOOLS)

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

# The supervisor: starts and restarts every endpoint master and the front;
# authctl, the operator's command.
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
	@[ "$$(id -u)" -ne 0 ] || echo "make run: a development server running as root; in production the systemd units run auth-svc as its own unprivileged user (docs/production.md)" >&2
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

# The whole suite: unit + integration on the coverage build, which also
# carries ASan and UBSan (any report fails), on SQLite behind lighttpd and
# on PostgreSQL behind nginx; the coverage gate over both; the fuzzers for
# FUZZ_SECONDS each; valgrind on the unit tests of the release build
# (valgrind cannot run a sanitized binary). tests/run.sh prints
# "N passed, N failed".
FUZZ_SECONDS ?= 30
JOBS := $(shell nproc 2>/dev/null || echo 2)
test: deps
	$(MAKE) lint
	$(MAKE) -j$(JOBS) MODE=cov all unit-build
	$(MAKE) -j$(JOBS) fuzz-build bench-build unit-build
	tests/run.sh --build build/cov --gate $(COVERAGE_GATE) --pg --sanitizers \
	    --fuzz $(FUZZ_SECONDS) --valgrind build/release

# Unit + integration + coverage only: the quick loop while developing.
test-quick: deps
	$(MAKE) MODE=cov all unit-build
	tests/run.sh --build build/cov --gate $(COVERAGE_GATE) --sanitizers

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

# The same on a throwaway PostgreSQL server (bench/run.sh --pg).
bench-pg: deps
	bench/run.sh --pg

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
	printf '%s\n' common/*.c cgi-bin/*.c sbin/*.c | \
	    TIDY_FLAGS='$(CPPFLAGS) -DAUTH_SCHEMA_VERSION="$(firstword $(subst _, ,$(SCHEMA_VERSION)))"' \
	    xargs -P$(JOBS) -n4 sh -c 'clang-tidy --quiet "$$@" -- $$TIDY_FLAGS' clang-tidy
	shellcheck -x scripts/*.sh bench/*.sh tests/run.sh tests/pg.sh tests/integration/helper.bash .ci/run
	@# A bats line "! cmd" never fails its test (errexit ignores negated
	@# commands): negative checks use refute (tests/integration/helper.bash).
	@if grep -nE '(^|;|\<do|\<then|\<else)[[:space:]]*! ' tests/integration/*.bats | grep -vF '||'; then \
	    echo 'lint: a bare "! cmd" cannot fail a bats test; use refute' >&2; exit 1; fi

# make install: the layout of a distribution package under PREFIX, which
# runs without the source tree (scripts/lib.sh finds the rest from where
# it is). Programs: every endpoint and the supervisor in
# PREFIX/libexec/auth-svc (from $(BUILD): make MODE=cov install installs
# the coverage build, without rebuilding what is up to date); commands:
# PREFIX/sbin/auth-svc-<script>; schema, example configuration:
# PREFIX/share/auth-svc; systemd units, the sysusers.d entry. make
# uninstall removes exactly those files and the directories install
# created (listed in PREFIX/share/auth-svc/.installed-dirs).
LIBEXECDIR  = $(PREFIX)/libexec/auth-svc
SBINDIR     = $(PREFIX)/sbin
SHAREDIR    = $(PREFIX)/share/auth-svc
UNITDIR    ?= $(PREFIX)/lib/systemd/system
SYSUSERSDIR ?= $(PREFIX)/lib/sysusers.d
SCRIPTS     := migrate gen-keys rotate-keys purge reopen-logs sqlite-to-pg start stop
# Installed flat in SHAREDIR; add a file here and it is installed.
SHARE_FILES := lighttpd.conf nginx.conf .env.example docs/logrotate.conf systemd/auth-svc.env
SCHEMA_FILES := $(sort $(shell find schema -name '*.sql'))
UNITS       := $(wildcard systemd/*.socket systemd/*.service systemd/*.target)
INST_DIRS    = $(LIBEXECDIR) $(SBINDIR) $(SHAREDIR) \
               $(sort $(patsubst %/,%,$(dir $(SCHEMA_FILES:%=$(SHAREDIR)/%)))) \
               $(UNITDIR) $(SYSUSERSDIR)
INST_FILES   = $(addprefix $(LIBEXECDIR)/,$(notdir $(BINS)) lib.sh) \
               $(SCRIPTS:%=$(SBINDIR)/auth-svc-%) $(SBINDIR)/auth-svc-authctl \
               $(addprefix $(SHAREDIR)/,$(notdir $(SHARE_FILES)) $(SCHEMA_FILES)) \
               $(addprefix $(UNITDIR)/,$(notdir $(UNITS))) \
               $(SYSUSERSDIR)/auth-svc.conf

install: all
	@set -e; d="$(DESTDIR)"; list="$$d$(SHAREDIR)/.installed-dirs"; new=""; \
	for dir in $(INST_DIRS); do \
		p=$$dir; \
		while [ ! -e "$$d$$p" ]; do new="$$new $$p"; p=$$(dirname "$$p"); done; \
		install -d -m 0755 "$$d$$dir"; \
	done; \
	for p in $$new; do echo "$$p"; done | cat - "$$list" 2>/dev/null | \
		sort -u > "$$list.tmp"; mv "$$list.tmp" "$$list"; chmod 0644 "$$list"
	install -m 0755 $(BINS) $(DESTDIR)$(LIBEXECDIR)/
	install -m 0644 scripts/lib.sh $(DESTDIR)$(LIBEXECDIR)/
	install -m 0755 $(TOOLS) $(DESTDIR)$(SBINDIR)/auth-svc-authctl
	@set -e; for s in $(SCRIPTS); do \
		echo "install -m 0755 scripts/$$s.sh $(DESTDIR)$(SBINDIR)/auth-svc-$$s"; \
		install -m 0755 scripts/$$s.sh $(DESTDIR)$(SBINDIR)/auth-svc-$$s; \
	done
	install -m 0644 $(SHARE_FILES) $(DESTDIR)$(SHAREDIR)/
	@set -e; for f in $(SCHEMA_FILES); do \
		install -m 0644 $$f $(DESTDIR)$(SHAREDIR)/$$f; \
	done
	@set -e; for u in $(UNITS); do \
		out=$(DESTDIR)$(UNITDIR)/$${u##*/}; \
		sed -e 's|@LIBEXECDIR@|$(LIBEXECDIR)|g' -e 's|@SBINDIR@|$(SBINDIR)|g' $$u > $$out; \
		chmod 0644 $$out; \
	done
	install -m 0644 systemd/auth-svc.sysusers $(DESTDIR)$(SYSUSERSDIR)/auth-svc.conf

uninstall:
	rm -f $(addprefix $(DESTDIR),$(INST_FILES))
	@set -e; d="$(DESTDIR)"; list="$$d$(SHAREDIR)/.installed-dirs"; \
	[ -f "$$list" ] || exit 0; dirs=$$(sort -r "$$list"); rm -f "$$list"; \
	for p in $$dirs; do \
		case $$p in /*) ;; *) continue ;; esac; \
		[ ! -d "$$d$$p" ] || rmdir --ignore-fail-on-non-empty "$$d$$p"; \
	done

clean:
	rm -rf build coverage
