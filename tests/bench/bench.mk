# SPDX-License-Identifier: ISC
# Benchmarks: `make bench` builds tests/bench/ and prints one table.
# Figures are reported, never asserted; `make check` does not run them.

BENCH_DIR	= $(B)/bench
BENCH_SRCS	= tests/bench/bench.c tests/bench/proc.c tests/bench/stats.c \
	tests/bench/wipe.c
BENCH_OBJS	= $(BENCH_SRCS:tests/bench/%.c=$(BENCH_DIR)/obj/%.o)
BENCH_BINS	= $(BENCH_DIR)/bench $(BENCH_DIR)/floor

.PHONY: bench bench-build

$(BENCH_DIR)/obj/%.o: tests/bench/%.c tests/bench/bench.h $(HDRS)
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) -c -o $@ $<

# The driver links the project's secure buffer to time its wipe.
$(BENCH_DIR)/bench: $(BENCH_OBJS) $(B)/obj/secmem.o $(B)/obj/log.o
	$(CC) $(ALL_LDFLAGS) -o $@ $^ $(PKG_LIBS) -lm

# The floor is libc only, as small as a dead-man's switch can be.
$(BENCH_DIR)/floor: $(BENCH_DIR)/obj/floor.o
	$(CC) $(ALL_LDFLAGS) -o $@ $^

bench-build: all $(BENCH_BINS)

# ssh-agent is the memory reference and keyctl the reference for
# `dazai get`: install openssh-client and keyutils if missing.
bench: deps
	$(MAKE) bench-build
	@command -v ssh-agent >/dev/null 2>&1 || { \
		sudo=""; [ "$$(id -u)" = 0 ] || sudo=sudo; \
		echo "installing: openssh-client (for ssh-agent)"; \
		DEBIAN_FRONTEND=noninteractive $$sudo apt-get install -y -qq \
		    --no-install-recommends openssh-client >/dev/null 2>&1 || \
		{ $$sudo apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive $$sudo apt-get install -y -qq \
		    --no-install-recommends openssh-client >/dev/null 2>&1; }; \
	} || echo "ssh-agent unavailable: its row will read n/a"
	@command -v keyctl >/dev/null 2>&1 || { \
		sudo=""; [ "$$(id -u)" = 0 ] || sudo=sudo; \
		echo "installing: keyutils (for keyctl)"; \
		DEBIAN_FRONTEND=noninteractive $$sudo apt-get install -y -qq \
		    --no-install-recommends keyutils >/dev/null 2>&1 || \
		{ $$sudo apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive $$sudo apt-get install -y -qq \
		    --no-install-recommends keyutils >/dev/null 2>&1; }; \
	} || echo "keyctl unavailable: the dazai get row has no reference"
	./$(BENCH_DIR)/bench $(B)
