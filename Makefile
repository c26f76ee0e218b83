# SPDX-License-Identifier: ISC
# dazai: build, check, install, demo. `make check` is the test command.

PREFIX	?= /usr/local
BINDIR	?= $(PREFIX)/bin
MANDIR	?= $(PREFIX)/share/man
DATADIR	?= $(PREFIX)/share
UNITDIR	?= $(PREFIX)/lib/systemd/user
DOCDIR	?= $(DATADIR)/doc/dazai
DESTDIR	?=

VERSION	= 0.1.0
CC	?= cc
B	?= build

CFLAGS	?= -O2 -g
WERROR	?= -Werror
HARDEN_CFLAGS = -fPIE -fstack-protector-strong -fstack-clash-protection \
	-fcf-protection -D_FORTIFY_SOURCE=2
HARDEN_LDFLAGS = -pie -Wl,-z,relro -Wl,-z,now -Wl,-z,noexecstack
PKGS	= libsodium inih libseccomp
PKG_CFLAGS = $(shell pkg-config --cflags $(PKGS) jansson 2>/dev/null)
PKG_LIBS = $(shell pkg-config --libs $(PKGS) 2>/dev/null || echo -lsodium -linih -lseccomp)
# The clients link only what they use: no inih, and dazai no libseccomp.
HEARTBEAT_LIBS = $(shell pkg-config --libs libsodium libseccomp 2>/dev/null || \
	echo -lsodium -lseccomp)
CLIENT_LIBS = $(shell pkg-config --libs libsodium 2>/dev/null || echo -lsodium)
# JSON, for dazai mcp only: no other binary links it; inih reads its
# [tool] sections.
JSON_LIBS = $(shell pkg-config --libs jansson inih 2>/dev/null || \
	echo -ljansson -linih)
# sd-bus, for the warden's logind link (on_sleep): only dazaid links it.
BUS_LIBS = $(shell pkg-config --libs libsystemd 2>/dev/null || echo -lsystemd)
CHECK_CFLAGS = $(shell pkg-config --cflags check 2>/dev/null)
CHECK_LIBS = $(shell pkg-config --libs check 2>/dev/null || echo -lcheck -lsubunit -lm -lrt -lpthread)
# Debian's libev-dev ships no pkg-config file.
EV_LIBS	= $(shell pkg-config --libs libev 2>/dev/null || echo -lev)

ALL_CFLAGS = -std=gnu11 -D_GNU_SOURCE -Wall -Wextra $(WERROR) -Wformat=2 -Wshadow \
	-Wstrict-prototypes -Wmissing-prototypes -Wvla \
	$(HARDEN_CFLAGS) -Iinclude -DDAZAI_VERSION='"$(VERSION)"' \
	$(PKG_CFLAGS) $(CFLAGS) $(EXTRA_CFLAGS)
ALL_LDFLAGS = $(HARDEN_LDFLAGS) $(LDFLAGS) $(EXTRA_LDFLAGS)

# What dazaid links (no client code), and the clients' own objects.
DAEMON_SRCS = src/log.c src/parse.c src/proto.c src/policy.c src/config.c \
	src/sockpath.c src/secmem.c src/procs.c src/conn.c src/session.c \
	src/vault.c src/control.c src/emergency.c src/daemon.c \
	src/sandbox.c src/warden.c src/logind.c src/btimer.c
CLIENT_SRCS = src/client.c src/secbuf.c src/handover.c
MCP_SRCS = src/mcp.c src/mcpserver.c src/mcptool.c
LIB_SRCS = $(DAEMON_SRCS) $(CLIENT_SRCS) $(MCP_SRCS)
DAEMON_OBJS = $(DAEMON_SRCS:src/%.c=$(B)/obj/%.o)
LIB_OBJS = $(LIB_SRCS:src/%.c=$(B)/obj/%.o)
TEST_SRCS = $(wildcard tests/test_*.c) tests/helpers.c tests/memscan.c \
	tests/term.c tests/run_tests.c
TEST_OBJS = $(TEST_SRCS:tests/%.c=$(B)/obj/tests/%.o)
HDRS	= $(wildcard include/dazai/*.h) $(wildcard tests/*.h)

# Packages: build dependencies, and what the tests drive for real.
BUILD_PKGS = libev-dev libsodium-dev libinih-dev libseccomp-dev check \
	libjansson-dev libsystemd-dev pkg-config
TEST_PKGS = zsh mandoc shellcheck gdb valgrind binutils systemd libfaketime \
	openssh-server openssh-client tmux keyutils dbus-daemon
# Node and npm for the MCP SDK's client, from the distribution only when
# the machine has none (a node from elsewhere ships its own npm).
NODE_PKGS = $(shell command -v node >/dev/null 2>&1 && \
	command -v npm >/dev/null 2>&1 || echo nodejs npm)
# clang-format for format-check, from the distribution when there is none
# (.clang-format is written for version 14, Debian 12's).
FORMAT_PKGS = $(shell command -v clang-format >/dev/null 2>&1 || \
	echo clang-format)

.PHONY: all deps test-deps check test demo clean install uninstall sanitize \
	mcp-sdk format-check format

all: $(B)/dazaid $(B)/dazai-heartbeat $(B)/dazai

$(B)/obj/%.o: src/%.c $(HDRS)
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) -c -o $@ $<

$(B)/obj/tests/%.o: tests/%.c $(HDRS)
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) $(CHECK_CFLAGS) -c -o $@ $<

$(B)/dazaid: $(B)/obj/dazaid.o $(DAEMON_OBJS)
	$(CC) $(ALL_LDFLAGS) -o $@ $^ $(EV_LIBS) $(PKG_LIBS) $(BUS_LIBS)

$(B)/dazai-heartbeat: $(B)/obj/heartbeat.o $(B)/obj/log.o \
    $(B)/obj/parse.o $(B)/obj/proto.o $(B)/obj/sockpath.o \
    $(B)/obj/sandbox.o $(B)/obj/client.o $(B)/obj/secbuf.o
	$(CC) $(ALL_LDFLAGS) -o $@ $^ $(HEARTBEAT_LIBS)

$(B)/dazai: $(B)/obj/dazai.o $(B)/obj/exec.o $(B)/obj/handover.o \
    $(B)/obj/client.o $(B)/obj/secbuf.o $(B)/obj/log.o $(B)/obj/parse.o \
    $(B)/obj/sockpath.o $(B)/obj/proto.o $(B)/obj/mcp.o \
    $(B)/obj/mcpserver.o $(B)/obj/mcptool.o
	$(CC) $(ALL_LDFLAGS) -o $@ $^ $(CLIENT_LIBS) $(JSON_LIBS) -lm

$(B)/run_tests: $(TEST_OBJS) $(LIB_OBJS) $(B)/novdso.so $(B)/logind-standin
	$(CC) $(ALL_LDFLAGS) -o $@ $(TEST_OBJS) $(LIB_OBJS) $(CHECK_LIBS) \
	    $(EV_LIBS) $(PKG_LIBS) $(JSON_LIBS) $(BUS_LIBS)

# The sleep tests' stand-in for logind's Manager (logind cannot run here).
$(B)/logind-standin: tests/logind_standin.c
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) $(ALL_LDFLAGS) -o $@ $< $(BUS_LIBS)

# A test shim (LD_PRELOAD): the clock calls as system calls, no vDSO.
$(B)/novdso.so: tests/novdso.c
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) -fPIC -shared -Wl,-z,relro -Wl,-z,now -o $@ $<

# The official MCP SDK's client, pinned by tests/mcp/package-lock.json,
# installed with npm ci into $(B)/mcp beside the script that drives it.
MCP_SDK	= $(B)/mcp/node_modules/@modelcontextprotocol/sdk/package.json

$(MCP_SDK): tests/mcp/package.json tests/mcp/package-lock.json
	@mkdir -p $(B)/mcp
	cp tests/mcp/package.json tests/mcp/package-lock.json $(B)/mcp/
	cd $(B)/mcp && npm ci --no-audit --no-fund --ignore-scripts \
	    --loglevel=error
	touch $@

$(B)/mcp/sdk_client.mjs: tests/mcp/sdk_client.mjs $(MCP_SDK)
	cp tests/mcp/sdk_client.mjs $@

mcp-sdk: $(B)/mcp/sdk_client.mjs

# Install what is missing (apt-get, through sudo unless root).
define apt_install
	@missing=""; for p in $(1); do \
		dpkg-query -W -f='$${Status}' $$p 2>/dev/null | \
		    grep -q "ok installed" || missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
		echo "installing:$$missing"; \
		sudo=""; [ "$$(id -u)" = 0 ] || sudo=sudo; \
		$$sudo apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive $$sudo apt-get install -y -qq \
		    --no-install-recommends $$missing >/dev/null || exit 1; \
	fi
endef

deps:
	$(call apt_install,$(BUILD_PKGS))

test-deps: deps
	$(call apt_install,$(TEST_PKGS) $(NODE_PKGS) $(FORMAT_PKGS))

check: test-deps format-check
	$(MAKE) all $(B)/run_tests mcp-sdk
	DAZAI_BUILD=$(B) ./$(B)/run_tests

# style(9)'s mechanical rules on every C file, and clang-format 14 with
# .clang-format changing nothing (see tests/format-check.sh).
format-check:
	sh tests/format-check.sh

# Rewrite every C file the project owns with clang-format 14.
format:
	sh tests/format-check.sh --format

test: all $(B)/run_tests mcp-sdk
	DAZAI_BUILD=$(B) ./$(B)/run_tests

sanitize: test-deps
	$(call apt_install,clang)
	$(MAKE) B=build-san CC=clang \
	    EXTRA_CFLAGS="-fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all -DDAZAI_SANITIZER" \
	    EXTRA_LDFLAGS="-fsanitize=address,undefined" test

demo: deps
	$(MAKE) all
	sh tests/demo.sh $(B)

INSTALL_DIRS = $(BINDIR) $(MANDIR)/man1 $(MANDIR)/man5 $(DATADIR)/dazai \
	$(UNITDIR) $(DOCDIR)
# install records the directories it had to create, so that uninstall
# removes those (once empty) and no other.
DIRS_FILE = $(DATADIR)/dazai/installed-dirs

install: all
	@new=""; for d in $(INSTALL_DIRS); do \
		p="$(DESTDIR)$$d"; \
		while [ ! -d "$$p" ] && [ "$$p" != / ] && [ -n "$$p" ]; do \
			new="$$new $${p#"$(DESTDIR)"}"; p=$$(dirname "$$p"); \
		done; \
	done; \
	install -d $(addprefix $(DESTDIR),$(INSTALL_DIRS)) && \
	if [ ! -f "$(DESTDIR)$(DIRS_FILE)" ]; then \
		printf '%s\n' $$new > "$(DESTDIR)$(DIRS_FILE)"; \
	fi
	install -m 755 $(B)/dazaid $(B)/dazai-heartbeat $(B)/dazai \
	    $(DESTDIR)$(BINDIR)
	install -m 644 man/dazaid.1 man/dazai-heartbeat.1 man/dazai.1 \
	    $(DESTDIR)$(MANDIR)/man1
	install -m 644 man/dazai.conf.5 $(DESTDIR)$(MANDIR)/man5
	sed -e 's|/usr/local/bin/dazai-heartbeat|$(BINDIR)/dazai-heartbeat|g' \
	    -e 's|/usr/local/share/dazai/|$(DATADIR)/dazai/|g' \
	    shell/shellrc.sh > $(DESTDIR)$(DATADIR)/dazai/shellrc.sh
	chmod 644 $(DESTDIR)$(DATADIR)/dazai/shellrc.sh
	sed -e 's|@BINDIR@|$(BINDIR)|g' -e 's|@MANDIR@|$(MANDIR)|g' \
	    shell/dazaid.service > $(DESTDIR)$(UNITDIR)/dazaid.service
	chmod 644 $(DESTDIR)$(UNITDIR)/dazaid.service
	install -m 644 dazai.conf.example $(DESTDIR)$(DOCDIR)

uninstall:
	rm -f $(DESTDIR)$(BINDIR)/dazaid $(DESTDIR)$(BINDIR)/dazai-heartbeat \
	    $(DESTDIR)$(BINDIR)/dazai \
	    $(DESTDIR)$(MANDIR)/man1/dazaid.1 $(DESTDIR)$(MANDIR)/man1/dazai.1 \
	    $(DESTDIR)$(MANDIR)/man1/dazai-heartbeat.1 \
	    $(DESTDIR)$(MANDIR)/man5/dazai.conf.5 \
	    $(DESTDIR)$(DATADIR)/dazai/shellrc.sh \
	    $(DESTDIR)$(UNITDIR)/dazaid.service \
	    $(DESTDIR)$(DOCDIR)/dazai.conf.example
	@if [ -f "$(DESTDIR)$(DIRS_FILE)" ]; then \
		dirs=$$(sort -ru "$(DESTDIR)$(DIRS_FILE)"); \
		rm -f "$(DESTDIR)$(DIRS_FILE)"; \
		for d in $$dirs; do \
			rmdir "$(DESTDIR)$$d" 2>/dev/null || :; \
		done; \
	fi

clean:
	rm -rf build build-san

# Fuzzing and benchmarks live beside their sources.
-include tests/fuzz/fuzz.mk
-include tests/bench/bench.mk
