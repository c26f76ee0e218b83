# SPDX-License-Identifier: ISC
# libFuzzer harnesses for the protocol parser, the config parser, the
# client's reply parsers and dazai mcp's framing and dispatch.
# Included by the top-level Makefile (B, ALL_CFLAGS, ALL_LDFLAGS, PKG_LIBS,
# HDRS and apt_install come from there).
#
#   make fuzz                   each harness for FUZZ_SECONDS (60) seconds
#   make fuzz FUZZ_SECONDS=600  longer
#   make fuzz-ci                each for FUZZ_CI_SECONDS (30): what CI runs
#
# Each run starts from a scratch copy of tests/fuzz/corpus/NAME under
# $(B)/fuzz/run/NAME (new corpus entries and crash reproducers land there,
# never in the repository) and fails on any crash, leak, timeout or
# sanitizer report.

FUZZ_CC		?= clang
FUZZ_SECONDS	?= 60
FUZZ_CI_SECONDS	?= 30
FUZZ_DIR	= $(B)/fuzz
# _FORTIFY_SOURCE off: its checked variants hide overflows from ASan.
FUZZ_CFLAGS	= $(ALL_CFLAGS) -U_FORTIFY_SOURCE \
	-fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all \
	-fno-omit-frame-pointer
FUZZ_LDFLAGS	= $(ALL_LDFLAGS) -fsanitize=fuzzer,address,undefined
FUZZERS		= $(FUZZ_DIR)/fuzz_proto $(FUZZ_DIR)/fuzz_config \
	$(FUZZ_DIR)/fuzz_client $(FUZZ_DIR)/fuzz_mcp

.PHONY: fuzz fuzz-ci fuzz-deps fuzz-build fuzz-run

# clang, and libFuzzer's runtime: a separate package on Debian 12
# (libclang-rt-14-dev), part of libclang-common-N-dev elsewhere.
fuzz-deps: deps
	$(call apt_install,clang)
	@mkdir -p $(FUZZ_DIR)
	@probe() { printf '%s\n' '#include <stddef.h>' \
	    'int LLVMFuzzerTestOneInput(const char *, size_t);' \
	    'int LLVMFuzzerTestOneInput(const char *d, size_t n)' \
	    '{ (void)d; (void)n; return 0; }' > $(FUZZ_DIR)/probe.c && \
	    $(FUZZ_CC) -fsanitize=fuzzer,address,undefined \
	    -o $(FUZZ_DIR)/probe $(FUZZ_DIR)/probe.c >/dev/null 2>&1; }; \
	if ! probe; then \
		sudo=""; [ "$$(id -u)" = 0 ] || sudo=sudo; \
		v=$$($(FUZZ_CC) -dumpversion | cut -d. -f1); \
		for p in libclang-rt-dev libclang-rt-$$v-dev; do \
			apt-cache show $$p >/dev/null 2>&1 || continue; \
			echo "installing: $$p"; \
			DEBIAN_FRONTEND=noninteractive $$sudo apt-get \
			    install -y -qq --no-install-recommends $$p \
			    >/dev/null && break; \
		done; \
		probe || { echo "fuzz: $(FUZZ_CC) cannot link" \
		    "-fsanitize=fuzzer (libFuzzer runtime missing)" >&2; \
		    exit 1; }; \
	fi; \
	rm -f $(FUZZ_DIR)/probe $(FUZZ_DIR)/probe.c

$(FUZZ_DIR)/fuzz_proto: tests/fuzz/fuzz_proto.c src/proto.c src/parse.c \
    $(HDRS)
	@mkdir -p $(@D)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -o $@ tests/fuzz/fuzz_proto.c src/proto.c \
	    src/parse.c $(FUZZ_LDFLAGS) -lm

$(FUZZ_DIR)/fuzz_config: tests/fuzz/fuzz_config.c src/config.c src/log.c \
    src/parse.c $(HDRS)
	@mkdir -p $(@D)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -o $@ tests/fuzz/fuzz_config.c \
	    src/config.c src/log.c src/parse.c $(FUZZ_LDFLAGS) $(PKG_LIBS) -lm

$(FUZZ_DIR)/fuzz_client: tests/fuzz/fuzz_client.c src/client.c \
    src/parse.c src/proto.c src/log.c src/secbuf.c src/sockpath.c $(HDRS)
	@mkdir -p $(@D)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -o $@ tests/fuzz/fuzz_client.c \
	    src/client.c src/parse.c src/proto.c src/log.c src/secbuf.c \
	    src/sockpath.c $(FUZZ_LDFLAGS) $(PKG_LIBS) -lm

$(FUZZ_DIR)/fuzz_mcp: tests/fuzz/fuzz_mcp.c src/mcp.c src/client.c \
    src/parse.c src/proto.c src/log.c src/secbuf.c src/sockpath.c $(HDRS)
	@mkdir -p $(@D)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -o $@ tests/fuzz/fuzz_mcp.c src/mcp.c \
	    src/client.c src/parse.c src/proto.c src/log.c src/secbuf.c \
	    src/sockpath.c $(FUZZ_LDFLAGS) \
	    $(PKG_LIBS) $(JSON_LIBS)

fuzz-build: $(FUZZERS)

fuzz-run: $(FUZZERS)
	sh tests/fuzz/run.sh $(FUZZ_DIR)/fuzz_proto tests/fuzz/corpus/proto \
	    $(FUZZ_DIR)/run/proto $(FUZZ_SECONDS) tests/fuzz/proto.dict
	sh tests/fuzz/run.sh $(FUZZ_DIR)/fuzz_config tests/fuzz/corpus/config \
	    $(FUZZ_DIR)/run/config $(FUZZ_SECONDS) tests/fuzz/config.dict
	sh tests/fuzz/run.sh $(FUZZ_DIR)/fuzz_client tests/fuzz/corpus/client \
	    $(FUZZ_DIR)/run/client $(FUZZ_SECONDS) tests/fuzz/client.dict
	sh tests/fuzz/run.sh $(FUZZ_DIR)/fuzz_mcp tests/fuzz/corpus/mcp \
	    $(FUZZ_DIR)/run/mcp $(FUZZ_SECONDS) tests/fuzz/mcp.dict

fuzz: fuzz-deps
	$(MAKE) fuzz-run FUZZ_SECONDS=$(FUZZ_SECONDS)

fuzz-ci: fuzz-deps
	$(MAKE) fuzz-run FUZZ_SECONDS=$(FUZZ_CI_SECONDS)
