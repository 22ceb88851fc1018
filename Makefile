# wxauth - one plain Makefile. `make help` lists the targets.
.SUFFIXES:

VERSION ?= 1.2.0
PREFIX  ?= /usr/local
DESTDIR ?=
UNITDIR ?= $(PREFIX)/lib/systemd/system
MANDIR  ?= $(PREFIX)/share/man
CC      ?= cc
PKGS     = fcgi libcurl json-c libsodium libpq libcrypto
PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS   := $(shell pkg-config --libs $(PKGS) 2>/dev/null)

WARN    = -Wall -Wextra -Werror -Wmissing-prototypes -Wshadow -Wformat=2 -Wno-format-nonliteral
CFLAGS ?= -O2 -g
# The layers (README "Layout"), lowest first: app/LAYER/*.c, include/LAYER/*.h.
LAYERS   = base crypto http view store wechat login handlers front server
INCLUDES = $(LAYERS:%=-Iinclude/%)
ALL_CFLAGS = -std=c11 -D_GNU_SOURCE -DWXAUTH_DATADIR='"$(PREFIX)/share/wxauth"' -DWXAUTH_VERSION='"$(VERSION)"' $(WARN) $(CFLAGS) $(INCLUDES) $(PKG_CFLAGS) -MMD -MP
LDLIBS  = $(PKG_LIBS)

# BUILD=asan builds everything with AddressSanitizer and UBSan into build-asan/.
# OUT=DIR builds into another folder (the install test does, with its own PREFIX).
BUILD ?= release
ifeq ($(BUILD),asan)
OUT ?= build-asan
ALL_CFLAGS += -O1 -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
LDFLAGS += -fsanitize=address,undefined
else
OUT ?= build
endif

SRC      = $(wildcard $(LAYERS:%=app/%/*.c))
OBJ      = $(SRC:app/%.c=$(OUT)/app/%.o)
LIBOBJ   = $(filter-out $(OUT)/app/server/main.o,$(OBJ))
TESTSRC  = $(wildcard tests/unit/test_*.c)
TESTBIN  = $(TESTSRC:tests/unit/%.c=$(OUT)/tests/%)
TOOLS    = $(OUT)/tests/tokmint

# Debian packages the build, the tests and `make run` need.
DEB_PKGS = gcc make pkg-config libfcgi-dev libcurl4-openssl-dev libjson-c-dev \
	libsodium-dev libpq-dev libssl-dev libcmocka-dev nginx postgresql \
	spawn-fcgi apache2 libapache2-mod-fcgid wrk curl python3 ca-certificates procps util-linux \
	openssl systemd dpkg-dev lintian man-db prometheus clang libclang-rt-14-dev \
	php-fpm php-cgi php-cli php-sqlite3 chromium chromium-driver python3-selenium \
	fonts-wqy-microhei

.PHONY: all deps run stop test testbins fuzzbins fuzz unit bench install deb clean help FORCE

all: $(OUT)/wxauth

help:
	@echo "make          build $(OUT)/wxauth"
	@echo "make run      install what is missing, build, start PostgreSQL, the WeChat mock, nginx and wxauth on localhost"
	@echo "make stop     stop what make run started"
	@echo "make test     every test (unit, integration, sanitizers) in a scratch folder"
	@echo "make unit     the C unit tests only: no root, no services, seconds"
	@echo "make bench    wrk through nginx"
	@echo "make fuzz     every libFuzzer target for FUZZ_SECONDS (default 300) each"
	@echo "make install  PREFIX=$(PREFIX) DESTDIR=$(DESTDIR)"
	@echo "make deb      the Debian package build/wxauth_$(VERSION)_ARCH.deb"

# Installs missing Debian packages, once, as root (CI runs as root).
deps:
	@missing=""; for p in $(DEB_PKGS); do \
		dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
		echo "installing:$$missing"; \
		if [ "$$(id -u)" != 0 ]; then echo "run as root, or: sudo apt-get install -y$$missing" >&2; exit 1; fi; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing >/dev/null || exit 1; \
	fi
	@# The third-party PASETO verifier of the interop test, from its lockfile
	@# (the machine's Node.js and npm; Debian's when it has none).
	@if ! command -v npm >/dev/null; then \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nodejs npm >/dev/null || exit 1; \
	fi
	@[ -d tests/interop/node_modules/paseto ] || \
		npm ci --prefix tests/interop --no-audit --no-fund --loglevel=error >/dev/null

$(OUT)/wxauth: $(OBJ)
	$(CC) $(LDFLAGS) -o $@ $(OBJ) $(LDLIBS)

$(OUT)/app/%.o: app/%.c
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) -c -o $@ $<

# main.o bakes in PREFIX (the default migrations folder): rebuild it when
# PREFIX changes.
$(OUT)/prefix: FORCE
	@mkdir -p $(@D)
	@echo '$(PREFIX) $(VERSION)' | cmp -s - $@ || echo '$(PREFIX) $(VERSION)' >$@
$(OUT)/app/server/main.o: $(OUT)/prefix

$(OUT)/tests/%.o: tests/unit/%.c
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) -Wno-missing-prototypes -c -o $@ $<

$(OUT)/tests/test_%: $(OUT)/tests/test_%.o $(OUT)/tests/helpers.o $(LIBOBJ)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS) -lcmocka

$(OUT)/tests/tokmint: tests/tools/tokmint.c $(LIBOBJ)
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) -Wno-missing-prototypes $(LDFLAGS) -o $@ $^ $(LDLIBS)

testbins: $(TESTBIN) $(TOOLS)

# libFuzzer targets (tests/fuzz/fuzz_*.c): clang, ASan and UBSan, into
# build-fuzz/. `make test` runs each for a few seconds on its corpus
# (tests/fuzz/corpus/NAME); `make fuzz` for FUZZ_SECONDS each.
FUZZCC      = clang
FUZZOUT     = build-fuzz
FUZZ_SAN    = -fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer
FUZZ_CFLAGS = -std=c11 -D_GNU_SOURCE -DWXAUTH_DATADIR='"$(PREFIX)/share/wxauth"' \
	-DWXAUTH_VERSION='"$(VERSION)"' -Wall -Wextra -Werror -O1 -g $(FUZZ_SAN) \
	$(INCLUDES) $(PKG_CFLAGS) -MMD -MP
FUZZSRC     = $(wildcard tests/fuzz/fuzz_*.c)
FUZZBIN     = $(FUZZSRC:tests/fuzz/%.c=$(FUZZOUT)/%)
FUZZLIB     = $(filter-out $(FUZZOUT)/app/server/main.o,$(SRC:app/%.c=$(FUZZOUT)/app/%.o))
FUZZ_SECONDS ?= 300

$(FUZZOUT)/app/%.o: app/%.c
	@mkdir -p $(@D)
	$(FUZZCC) $(FUZZ_CFLAGS) -fsanitize=fuzzer-no-link -c -o $@ $<

$(FUZZOUT)/fuzz_%: tests/fuzz/fuzz_%.c $(FUZZLIB)
	@mkdir -p $(@D)
	$(FUZZCC) $(FUZZ_CFLAGS) -fsanitize=fuzzer -o $@ $< $(FUZZLIB) $(LDLIBS)

fuzzbins: $(FUZZBIN)

fuzz: deps
	@$(MAKE) --no-print-directory fuzzbins
	@sh tests/fuzz/run.sh $(FUZZ_SECONDS)

$(OUT)/tests/bench_fcgi: tests/bench/hello.c
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) $(LDFLAGS) -o $@ $< $(shell pkg-config --libs fcgi 2>/dev/null || echo -lfcgi)

unit: $(TESTBIN)
	@sh tests/unit.sh $(TESTBIN)

run: deps
	@$(MAKE) --no-print-directory all
	@sh tests/env.sh start run

stop:
	@sh tests/env.sh stop run

test: deps
	@$(MAKE) --no-print-directory all testbins
	@$(MAKE) --no-print-directory BUILD=asan all testbins
	@$(MAKE) --no-print-directory fuzzbins
	@sh tests/run.sh

bench: deps
	@$(MAKE) --no-print-directory all $(OUT)/tests/bench_fcgi $(OUT)/tests/tokmint
	@sh tests/bench/run.sh

# The binary, the migrations (the default of `wxauth migrate`), the sample
# config, the front-server recipes, the Prometheus alerts and Grafana
# dashboard, the systemd unit (binary path set to
# PREFIX) and its sysusers.d entry, the man pages. Nothing in /etc is touched.
install: all
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/share/wxauth/db \
		$(DESTDIR)$(PREFIX)/share/wxauth/deploy $(DESTDIR)$(UNITDIR) \
		$(DESTDIR)$(PREFIX)/lib/sysusers.d
	install -m 0755 $(OUT)/wxauth $(DESTDIR)$(PREFIX)/bin/wxauth
	install -m 0644 db/*.sql $(DESTDIR)$(PREFIX)/share/wxauth/db/
	install -m 0644 deploy/wxauth.conf.sample $(DESTDIR)$(PREFIX)/share/wxauth/wxauth.conf.sample
	install -m 0644 deploy/apache-wxauth.conf deploy/apache-wxauth-api.conf deploy/wxauth.service \
		deploy/wxauth.logrotate \
		$(DESTDIR)$(PREFIX)/share/wxauth/deploy/
	install -d $(DESTDIR)$(PREFIX)/share/wxauth/scan $(DESTDIR)$(PREFIX)/share/wxauth/deploy/orders
	install -m 0644 deploy/scan/* $(DESTDIR)$(PREFIX)/share/wxauth/scan/
	install -d $(DESTDIR)$(PREFIX)/share/wxauth/console
	install -m 0644 deploy/console/* $(DESTDIR)$(PREFIX)/share/wxauth/console/
	install -m 0644 deploy/orders/*.php $(DESTDIR)$(PREFIX)/share/wxauth/deploy/orders/
	install -d $(DESTDIR)$(PREFIX)/share/wxauth/deploy/nginx
	install -m 0644 deploy/nginx/*.conf $(DESTDIR)$(PREFIX)/share/wxauth/deploy/nginx/
	install -m 0755 deploy/spawn-fcgi.sh $(DESTDIR)$(PREFIX)/share/wxauth/deploy/
	install -d $(DESTDIR)$(PREFIX)/share/wxauth/deploy/monitoring
	install -m 0644 deploy/monitoring/wxauth-alerts.yml deploy/monitoring/wxauth-dashboard.json \
		$(DESTDIR)$(PREFIX)/share/wxauth/deploy/monitoring/
	install -d $(DESTDIR)$(PREFIX)/share/wxauth/deploy/shared-hosting
	install -m 0644 deploy/shared-hosting/htaccess deploy/shared-hosting/htaccess-api \
		$(DESTDIR)$(PREFIX)/share/wxauth/deploy/shared-hosting/
	install -m 0755 deploy/shared-hosting/wxauth.fcgi $(DESTDIR)$(PREFIX)/share/wxauth/deploy/shared-hosting/
	sed -e 's|/usr/local/bin/wxauth|$(PREFIX)/bin/wxauth|g' deploy/wxauth.service \
		>$(DESTDIR)$(UNITDIR)/wxauth.service
	chmod 0644 $(DESTDIR)$(UNITDIR)/wxauth.service
	install -m 0644 deploy/wxauth.sysusers $(DESTDIR)$(PREFIX)/lib/sysusers.d/wxauth.conf
	install -d $(DESTDIR)$(MANDIR)/man8 $(DESTDIR)$(MANDIR)/man5
	sed 's/@VERSION@/$(VERSION)/g' deploy/man/wxauth.8 >$(DESTDIR)$(MANDIR)/man8/wxauth.8
	sed 's/@VERSION@/$(VERSION)/g' deploy/man/wxauth.conf.5 >$(DESTDIR)$(MANDIR)/man5/wxauth.conf.5
	chmod 0644 $(DESTDIR)$(MANDIR)/man8/wxauth.8 $(DESTDIR)$(MANDIR)/man5/wxauth.conf.5

# The Debian package, build/wxauth_VERSION_ARCH.deb (deploy/debian/build.sh).
deb: deps
	@sh deploy/debian/build.sh $(VERSION) build/deb

clean:
	rm -rf build build-asan build-fuzz

-include $(OBJ:.o=.d) $(wildcard $(OUT)/tests/*.d) $(wildcard $(FUZZOUT)/app/*/*.d $(FUZZOUT)/*.d)
