/* SPDX-License-Identifier: ISC */
/* The secure buffer, in this process and in forked children. */
#include <sys/mman.h>
#include <sys/random.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>

#include "dazai/emergency.h"
#include "dazai/log.h"
#include "dazai/secmem.h"
#include "helpers.h"

/* The VmFlags line of the mapping that holds addr, from smaps. */
static int
vmflags_of(const void *addr, char *out, size_t len)
{
	FILE	     *fp = fopen("/proc/self/smaps", "r");
	char	      line[512];
	unsigned long lo, hi, a = (unsigned long)addr;
	int	      inside = 0;

	if (fp == NULL)
		return -1;
	while (fgets(line, sizeof line, fp) != NULL) {
		if (sscanf(line, "%lx-%lx ", &lo, &hi) == 2)
			inside = a >= lo && a < hi;
		else if (inside && strncmp(line, "VmFlags:", 8) == 0) {
			snprintf(out, len, "%.250s", line + 8);
			fclose(fp);
			return 0;
		}
	}
	fclose(fp);
	return -1;
}

/* Does the VmFlags text hold the two-letter flag? */
static int
has_flag(const char *flags, const char *f)
{
	char want[8];

	snprintf(want, sizeof want, " %s", f);
	return strstr(flags, want) != NULL;
}

/* Run fn in a child; return its wait status. */
static int
in_child(void (*fn)(struct secmem *), struct secmem *sm)
{
	pid_t pid = fork();
	int   status;

	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		signal(SIGSEGV, SIG_DFL);
		fn(sm);
		_exit(0);
	}
	ck_assert_int_eq(dz_waitpid(pid, &status, 10.0), 0);
	return status;
}

static void
touch_idle(struct secmem *sm)
{
	volatile unsigned char *p = sm->buf.data;

	(void)p[0];
}

static void
touch_guard_below(struct secmem *sm)
{
	volatile unsigned char *p = sm->buf.data;

	(void)p[-1];
}

static void
touch_guard_above(struct secmem *sm)
{
	volatile unsigned char *p = sm->buf.data;

	(void)p[sm->buf.cap];
}

static void
touch_shield(struct secmem *sm)
{
	volatile unsigned char *p = sm->shield.data;

	(void)p[0];
}

static void
touch_shield_below(struct secmem *sm)
{
	volatile unsigned char *p = sm->shield.data;

	(void)p[-1];
}

static void
touch_shield_above(struct secmem *sm)
{
	volatile unsigned char *p = sm->shield.data;

	(void)p[sm->shield.cap];
}

/* Exit 0 if the child sees only zeros, 1 if it sees the secret. */
static void
child_reads(struct secmem *sm)
{
	size_t i;

	if (secmem_open(sm, false) != 0)
		_exit(3);
	for (i = 0; i < sm->buf.cap; i++)
		if (sm->buf.data[i] != 0)
			_exit(1);
	_exit(0);
}

START_TEST(anonymous_buffer)
{
	struct secmem sm;
	char	      flags[256];
	size_t	      i;
	int	      status;

	ck_assert_int_eq(secmem_alloc(&sm, 100, false), 0);
	ck_assert_uint_eq(sm.buf.cap % (size_t)sysconf(_SC_PAGESIZE), 0);
	ck_assert(sm.prot & SECMEM_GUARDS);
	ck_assert(sm.prot & SECMEM_DONTDUMP);
	ck_assert(sm.prot & SECMEM_WIPEONFORK);
	ck_assert(sm.prot & SECMEM_NOACCESS);
	ck_assert(!(sm.prot & SECMEM_SECRETMEM));
	ck_assert(sm.prot & SECMEM_SHIELDED);
	ck_assert_ptr_nonnull(sm.shield.data);
	ck_assert_uint_ge(sm.shield.cap,
	    SECMEM_PREKEY_LEN + 2 * (size_t)sysconf(_SC_PAGESIZE));
	ck_assert_int_eq(vmflags_of(sm.buf.data, flags, sizeof flags), 0);
	ck_assert_msg(has_flag(flags, "dd"), "VmFlags:%s", flags);
	ck_assert_msg(has_flag(flags, "wf"), "VmFlags:%s", flags);
	if (dz_is_root()) {
		ck_assert(sm.prot & SECMEM_LOCKED);
		ck_assert_msg(has_flag(flags, "lo"), "VmFlags:%s", flags);
	} else
		dz_skip("secmem lock assertion needs root "
			"(RLIMIT_MEMLOCK)");
	/* The shield is a mapping of its own with the same protections. */
	ck_assert_int_eq(vmflags_of(sm.shield.data, flags, sizeof flags), 0);
	ck_assert_msg(has_flag(flags, "dd") && has_flag(flags, "wf"),
	    "shield VmFlags:%s", flags);
	if (dz_is_root())
		ck_assert_msg(has_flag(flags, "lo"), "shield VmFlags:%s",
		    flags);

	ck_assert_int_eq(secmem_fill_random(&sm, 100), 0);
	ck_assert_uint_eq(sm.len, 100);
	/* The idle buffer and both guard pages fault. */
	status = in_child(touch_idle, &sm);
	ck_assert(WIFSIGNALED(status) && WTERMSIG(status) == SIGSEGV);
	status = in_child(touch_guard_below, &sm);
	ck_assert(WIFSIGNALED(status) && WTERMSIG(status) == SIGSEGV);
	status = in_child(touch_guard_above, &sm);
	ck_assert(WIFSIGNALED(status) && WTERMSIG(status) == SIGSEGV);
	status = in_child(touch_shield, &sm);
	ck_assert(WIFSIGNALED(status) && WTERMSIG(status) == SIGSEGV);
	status = in_child(touch_shield_below, &sm);
	ck_assert(WIFSIGNALED(status) && WTERMSIG(status) == SIGSEGV);
	status = in_child(touch_shield_above, &sm);
	ck_assert(WIFSIGNALED(status) && WTERMSIG(status) == SIGSEGV);
	/* A forked child sees zeros (MADV_WIPEONFORK). */
	status = in_child(child_reads, &sm);
	ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0,
	    "child saw the secret (status %d)", status);

	secmem_wipe(&sm);
	ck_assert_int_eq(secmem_open(&sm, false), 0);
	for (i = 0; i < sm.buf.cap; i++)
		ck_assert_int_eq(sm.buf.data[i], 0);
	secmem_close(&sm);
	secmem_free(&sm);
	ck_assert_ptr_null(sm.buf.map);
	ck_assert_ptr_null(sm.shield.map);
}
END_TEST

START_TEST(secretmem_buffer)
{
	struct secmem sm;
	char	      flags[256];
	int	      status;

	if (!secmem_secretmem_available()) {
		dz_skip_na("memfd_secret(2) not offered by this kernel");
		return;
	}
	ck_assert_int_eq(secmem_alloc(&sm, 64, true), 0);
	ck_assert(sm.prot & SECMEM_SECRETMEM);
	ck_assert(sm.prot & SECMEM_DONTFORK);
	ck_assert(sm.prot & SECMEM_LOCKED);
	ck_assert_int_eq(vmflags_of(sm.buf.data, flags, sizeof flags), 0);
	ck_assert_msg(has_flag(flags, "lo") && has_flag(flags, "dd") &&
		has_flag(flags, "dc"),
	    "VmFlags:%s", flags);
	ck_assert_int_eq(secmem_fill_random(&sm, 64), 0);
	/* A forked child has no mapping there at all. */
	status = in_child(child_reads, &sm);
	ck_assert_msg(WIFSIGNALED(status) ||
		(WIFEXITED(status) && WEXITSTATUS(status) == 3),
	    "child could read the secretmem pages (status %d)", status);
	secmem_free(&sm);
}
END_TEST

/* A pattern in which a misplaced or missing byte shows. */
static void
pattern(unsigned char *b, size_t n, unsigned seed)
{
	size_t i;

	for (i = 0; i < n; i++)
		b[i] = (unsigned char)((i * 131 + seed) ^ (i >> 8));
}

/* A child that writes b to fd in pieces of odd sizes, then exits. */
static pid_t
feeder(int fd, const unsigned char *b, size_t n)
{
	static const size_t piece[] = { 1, 63, 4099, 17, 65536, 5 };
	size_t		    off = 0, k = 0, want;
	ssize_t		    w;
	pid_t		    pid = fork();

	ck_assert_int_ge(pid, 0);
	if (pid != 0)
		return pid;
	while (off < n) {
		want = piece[k++ % (sizeof piece / sizeof piece[0])];
		if (want > n - off)
			want = n - off;
		if ((w = write(fd, b + off, want)) <= 0)
			_exit(1);
		off += (size_t)w;
	}
	_exit(0);
}

/* Load b through a pipe with the streaming calls, as the daemon does. */
static void
load_pipe(struct secmem *sm, const unsigned char *b, size_t n)
{
	ssize_t r;
	pid_t	pid;
	int	p[2], st;

	ck_assert_int_eq(pipe(p), 0);
	pid = feeder(p[1], b, n);
	close(p[1]);
	ck_assert_int_eq(secmem_load_begin(sm), 0);
	while ((r = secmem_load_read(sm, p[0], SIZE_MAX)) > 0)
		;
	ck_assert_msg(r == 0, "load_read: %s", strerror(errno));
	ck_assert_int_eq(secmem_load_commit(sm), 0);
	close(p[0]);
	ck_assert_int_eq(dz_waitpid(pid, &st, 30), 0);
	ck_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	ck_assert_uint_eq(sm->len, n);
}

/* Move what is waiting on a non-blocking descriptor into out. */
static void
drain(int fd, unsigned char *out, size_t cap, size_t *got)
{
	ssize_t r;

	while (*got < cap && (r = read(fd, out + *got, cap - *got)) > 0)
		*got += (size_t)r;
}

/*
 * Read the held secret back through a non-blocking socket pair with a
 * small send buffer, so that writes are partial and hit EAGAIN; each call
 * resumes at the offset the last one reached. Returns a heap copy.
 */
static unsigned char *
get_back(struct secmem *sm, int *eagains)
{
	unsigned char *out = malloc(sm->len + 1);
	size_t	       off = 0, got = 0;
	ssize_t	       n;
	int	       s[2], sz = 4096;

	ck_assert_ptr_nonnull(out);
	*eagains = 0;
	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, s), 0);
	ck_assert_int_eq(setsockopt(s[0], SOL_SOCKET, SO_SNDBUF, &sz,
			     sizeof sz),
	    0);
	ck_assert_int_eq(fcntl(s[0], F_SETFL, O_NONBLOCK), 0);
	ck_assert_int_eq(fcntl(s[1], F_SETFL, O_NONBLOCK), 0);
	while (off < sm->len) {
		n = secmem_write_fd(sm, s[0], off);
		if (n > 0)
			off += (size_t)n;
		else {
			ck_assert_msg(n < 0 && errno == EAGAIN,
			    "write_fd at %zu: %zd %s", off, n, strerror(errno));
			(*eagains)++;
			/* The reader catches up only when the writer
			 * must wait: partial writes and EAGAIN both. */
			drain(s[1], out, sm->len + 1, &got);
		}
	}
	ck_assert_int_eq(secmem_write_fd(sm, s[0], off), 0);
	close(s[0]);
	drain(s[1], out, sm->len + 1, &got);
	close(s[1]);
	ck_assert_uint_eq(got, sm->len);
	return out;
}

/* Are all the usable bytes of a region zero? */
static bool
region_zero(struct secmem_region *r)
{
	size_t i;
	bool   zero = true;

	ck_assert_int_eq(mprotect(r->data, r->cap, PROT_READ), 0);
	for (i = 0; i < r->cap && zero; i++)
		zero = r->data[i] == 0;
	ck_assert_int_eq(mprotect(r->data, r->cap, PROT_NONE), 0);
	return zero;
}

/* Does the ciphertext buffer contain needle? */
static bool
buffer_has(struct secmem *sm, const void *needle, size_t n)
{
	bool found;

	ck_assert_int_eq(secmem_open(sm, false), 0);
	found = memmem(sm->buf.data, sm->buf.cap, needle, n) != NULL;
	secmem_close(sm);
	return found;
}

START_TEST(roundtrip_sizes)
{
	static const size_t sizes[] = { 1, 31, 63, 64, 65, 4095, 4096, 4097,
		100003 };
	const size_t	    max = (1 << 20) + 3; /* no page multiple */
	struct secmem	    sm;
	unsigned char	   *b = malloc(max), *out, *data;
	size_t		    i, n;
	int		    eagains;

	ck_assert_ptr_nonnull(b);
	ck_assert_int_eq(secmem_alloc(&sm, max, false), 0);
	data = sm.buf.data;
	for (i = 0; i <= sizeof sizes / sizeof sizes[0]; i++) {
		/* ...and last, exactly the maximum. */
		n = i < sizeof sizes / sizeof sizes[0] ? sizes[i] : max;
		pattern(b, n, (unsigned)i);
		load_pipe(&sm, b, n);
		ck_assert_int_eq(sm.state, SECMEM_HELD);
		/* Grown in place, never copied: the same pages. */
		ck_assert_ptr_eq(sm.buf.data, data);
		ck_assert_uint_ge(sm.buf.cap, n);
		ck_assert_uint_le(sm.buf.cap, sm.buf.max);
		if (n >= 32)
			ck_assert_msg(!buffer_has(&sm, b, 32),
			    "plaintext in the buffer (%zu bytes)", n);
		out = get_back(&sm, &eagains);
		ck_assert_msg(memcmp(out, b, n) == 0, "%zu bytes differ", n);
		if (n == max)
			ck_assert_int_gt(eagains, 0); /* resumed */
		free(out);
	}
	/* Every mapped page lies within the reservation. */
	ck_assert_uint_le(sm.buf.cap, sm.buf.max);
	secmem_free(&sm);
	free(b);
}
END_TEST

START_TEST(load_resumes_and_limits)
{
	struct secmem sm;
	unsigned char b[6000], extra[16], *out;
	const size_t  want = 5000; /* a LOAD of 5000 bytes */
	size_t	      done = 0;
	ssize_t	      n;
	int	      p[2], eagains, calls = 0;

	pattern(b, sizeof b, 7);
	ck_assert_int_eq(pipe(p), 0);
	ck_assert_int_eq(fcntl(p[0], F_SETFL, O_NONBLOCK), 0);
	ck_assert_int_eq(secmem_alloc(&sm, 1 << 16, false), 0);
	ck_assert_int_eq(secmem_load_begin(&sm), 0);
	/* Nothing there yet: EAGAIN, and the load goes on. */
	ck_assert_int_eq(secmem_load_read(&sm, p[0], want - done), -1);
	ck_assert_int_eq(errno, EAGAIN);
	ck_assert_int_eq(sm.state, SECMEM_LOADING);
	/* The bytes arrive in three bursts, the last one too long. */
	ck_assert(write(p[1], b, 1000) == 1000);
	while ((n = secmem_load_read(&sm, p[0], want - done)) > 0) {
		done += (size_t)n;
		calls++;
	}
	ck_assert(n == -1 && errno == EAGAIN);
	ck_assert_uint_eq(done, 1000);
	ck_assert(write(p[1], b + 1000, 3000) == 3000);
	while ((n = secmem_load_read(&sm, p[0], want - done)) > 0)
		done += (size_t)n;
	ck_assert(n == -1 && errno == EAGAIN);
	ck_assert(write(p[1], b + 4000, 2000) == 2000);
	while (done < want &&
	    (n = secmem_load_read(&sm, p[0], want - done)) > 0)
		done += (size_t)n;
	ck_assert_uint_eq(done, want);
	ck_assert_uint_eq(sm.done, want);
	/* A limit of 0 reads nothing. */
	ck_assert_int_eq(secmem_load_read(&sm, p[0], 0), 0);
	ck_assert_int_eq(secmem_load_commit(&sm), 0);
	ck_assert_uint_eq(sm.len, want);
	/* What followed the 5000 bytes is still in the pipe. */
	ck_assert(read(p[0], extra, sizeof extra) == sizeof extra);
	ck_assert(memcmp(extra, b + want, sizeof extra) == 0);
	out = get_back(&sm, &eagains);
	ck_assert(memcmp(out, b, want) == 0);
	free(out);
	secmem_free(&sm);
	close(p[0]);
	close(p[1]);
}
END_TEST

START_TEST(too_large_or_empty)
{
	struct secmem sm;
	unsigned char b[101];
	const char   *why;
	ssize_t	      n;
	int	      p[2];

	pattern(b, sizeof b, 3);
	ck_assert_int_eq(secmem_alloc(&sm, 100, false), 0);
	/* One byte over: EFBIG, and nothing is left. */
	ck_assert_int_eq(pipe(p), 0);
	ck_assert(write(p[1], b, 101) == 101);
	close(p[1]);
	ck_assert_int_eq(secmem_load_begin(&sm), 0);
	while ((n = secmem_load_read(&sm, p[0], SIZE_MAX)) > 0)
		;
	ck_assert(n == -1 && errno == EFBIG);
	ck_assert_int_eq(sm.state, SECMEM_EMPTY);
	ck_assert_uint_eq(sm.done, 0);
	ck_assert(region_zero(&sm.buf) && region_zero(&sm.shield));
	close(p[0]);
	/* Exactly the maximum: held. */
	load_pipe(&sm, b, 100);
	/* read_fd's own maximum, below the buffer's. */
	ck_assert_int_eq(pipe(p), 0);
	ck_assert(write(p[1], "0123456789A", 11) == 11);
	close(p[1]);
	ck_assert_int_eq(secmem_read_fd(&sm, p[0], 10, &why, NULL, NULL), -1);
	ck_assert_str_eq(why, "larger than the maximum");
	ck_assert_uint_eq(sm.len, 0);
	ck_assert(region_zero(&sm.buf));
	close(p[0]);
	/* Empty. */
	ck_assert_int_eq(pipe(p), 0);
	close(p[1]);
	ck_assert_int_eq(secmem_read_fd(&sm, p[0], 100, &why, NULL, NULL), -1);
	ck_assert_str_eq(why, "empty");
	ck_assert_int_eq(sm.state, SECMEM_EMPTY);
	close(p[0]);
	secmem_free(&sm);
}
END_TEST

/* A wait hook that lets the first calls through, then stops loading. */
static bool
stop_after(void *arg, int fd)
{
	int *left = arg;

	(void)fd;
	return (*left)-- > 0;
}

START_TEST(interrupted_load)
{
	struct secmem sm;
	unsigned char b[5000];
	const char   *why;
	int	      p[2], left = 1;

	pattern(b, sizeof b, 9);
	/* A writer that keeps the pipe open: EOF never comes. */
	ck_assert_int_eq(pipe(p), 0);
	ck_assert_int_eq(secmem_alloc(&sm, 1 << 16, false), 0);
	load_pipe(&sm, b, 300); /* a secret held before */
	ck_assert(write(p[1], b, sizeof b) == sizeof b);
	ck_assert_int_eq(secmem_load_begin(&sm), 0);
	ck_assert_int_gt(secmem_load_read(&sm, p[0], SIZE_MAX), 0);
	ck_assert_uint_gt(sm.done, 0);
	/* Aborted mid-way: no half secret, no key, no plaintext. */
	secmem_load_abort(&sm);
	ck_assert_int_eq(sm.state, SECMEM_EMPTY);
	ck_assert_uint_eq(sm.len, 0);
	ck_assert_uint_eq(sm.done, 0);
	ck_assert(region_zero(&sm.buf));
	ck_assert(region_zero(&sm.shield));
	ck_assert_int_eq(secmem_write_fd(&sm, p[1], 0), -1);
	ck_assert_int_eq(errno, EINVAL);
	ck_assert_int_eq(secmem_load_commit(&sm), -1);
	ck_assert_int_eq(errno, ECANCELED);

	/* A wipe (a panic) in the middle of a load cancels it. */
	ck_assert_int_eq(secmem_load_begin(&sm), 0);
	ck_assert_int_gt(secmem_load_read(&sm, p[0], 100), 0);
	ck_assert_int_eq(secmem_wipe(&sm), 0);
	ck_assert_int_eq(secmem_load_read(&sm, p[0], 100), -1);
	ck_assert_int_eq(errno, ECANCELED);
	ck_assert_int_eq(secmem_load_commit(&sm), -1);
	ck_assert_uint_eq(sm.len, 0);

	/* The whole-file loader, stopped by its wait hook. */
	ck_assert_int_eq(secmem_read_fd(&sm, p[0], 1 << 16, &why, stop_after,
			     &left),
	    -1);
	ck_assert_str_eq(why, "interrupted");
	ck_assert_uint_eq(sm.len, 0);
	ck_assert(region_zero(&sm.buf));
	ck_assert(region_zero(&sm.shield));
	secmem_free(&sm);
	close(p[0]);
	close(p[1]);
}
END_TEST

START_TEST(useless_without_prekey)
{
	struct secmem sm;
	unsigned char marker[32], first[32], *out;
	int	      eagains;

	ck_assert_int_eq(getrandom(marker, sizeof marker, 0), 32);
	ck_assert_int_eq(secmem_alloc(&sm, 4096, false), 0);
	load_pipe(&sm, marker, sizeof marker);
	/* The buffer holds ciphertext: not the marker, not zeros. */
	ck_assert(!buffer_has(&sm, marker, sizeof marker));
	ck_assert(!region_zero(&sm.buf));
	ck_assert(!region_zero(&sm.shield)); /* the prekey */
	out = get_back(&sm, &eagains);
	ck_assert(memcmp(out, marker, sizeof marker) == 0);
	free(out);
	/* A fresh nonce and prekey per load: the same secret encrypts
	 * differently. */
	ck_assert_int_eq(secmem_open(&sm, false), 0);
	memcpy(first, sm.buf.data, sizeof first);
	secmem_close(&sm);
	load_pipe(&sm, marker, sizeof marker);
	ck_assert(!buffer_has(&sm, first, sizeof first));

	/* Zero the prekey, keep the buffer: the marker is gone for good. */
	ck_assert_int_eq(mprotect(sm.shield.data, sm.shield.cap,
			     PROT_READ | PROT_WRITE),
	    0);
	memset(sm.shield.data, 0, SECMEM_PREKEY_LEN);
	ck_assert_int_eq(mprotect(sm.shield.data, sm.shield.cap, PROT_NONE), 0);
	ck_assert(!region_zero(&sm.buf));
	out = get_back(&sm, &eagains);
	ck_assert_msg(memcmp(out, marker, sizeof marker) != 0,
	    "decrypted without the prekey");
	ck_assert(memmem(out, sizeof marker, marker, 4) == NULL);
	free(out);
	secmem_free(&sm);
}
END_TEST

START_TEST(wipe_keys_first)
{
	struct secmem	sm;
	struct timespec t0, t1, t2;
	unsigned char	b[20000];

	pattern(b, sizeof b, 5);
	ck_assert_int_eq(secmem_alloc(&sm, sizeof b, false), 0);
	load_pipe(&sm, b, sizeof b);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	/* The signal handlers' path. */
	secmem_emergency_wipe();
	secmem_keys_zeroed_at(&t1);
	ck_assert(t1.tv_sec > t0.tv_sec ||
	    (t1.tv_sec == t0.tv_sec && t1.tv_nsec >= t0.tv_nsec));
	ck_assert(region_zero(&sm.shield));
	ck_assert(region_zero(&sm.buf));
	/* The graceful path. */
	load_pipe(&sm, b, sizeof b);
	ck_assert(!region_zero(&sm.shield) && !region_zero(&sm.buf));
	ck_assert_int_eq(secmem_wipe(&sm), 0);
	secmem_keys_zeroed_at(&t2);
	ck_assert(t2.tv_sec > t1.tv_sec ||
	    (t2.tv_sec == t1.tv_sec && t2.tv_nsec > t1.tv_nsec));
	ck_assert(region_zero(&sm.shield));
	ck_assert(region_zero(&sm.buf));
	ck_assert_int_eq(sm.state, SECMEM_EMPTY);
	/* A rehearsal secret, and a wipe by free. */
	ck_assert_int_eq(secmem_fill_random(&sm, 5000), 0);
	ck_assert_uint_eq(sm.len, 5000);
	ck_assert(!region_zero(&sm.buf));
	secmem_free(&sm);
}
END_TEST

/*
 * Three buffers under one shield: each round-trips, interleaved with
 * the others' loads; the prekey is drawn once and stays while any of
 * them holds a secret; wiping one leaves the others readable; zeroing
 * the one prekey (secmem_unshield) makes all three unrecoverable with
 * their ciphertext still in place; the last wipe zeroes the prekey.
 */
START_TEST(one_shield_three_buffers)
{
	struct secmem root, a, b, *all[3] = { &root, &a, &b };
	unsigned char s[3][5000], pre[32], *out;
	int	      eagains, i;

	ck_assert_int_eq(secmem_alloc(&root, 8192, false), 0);
	ck_assert_int_eq(secmem_alloc_under(&a, &root, 8192), 0);
	ck_assert_int_eq(secmem_alloc_under(&b, &root, 8192), 0);
	secmem_set_label(&root, "default");
	secmem_set_label(&a, "a");
	secmem_set_label(&b, "b");
	for (i = 0; i < 3; i++)
		pattern(s[i], sizeof s[i], 7); /* the same bytes thrice */
	load_pipe(&root, s[0], sizeof s[0]);
	ck_assert_int_eq(mprotect(root.shield.data, 32, PROT_READ), 0);
	memcpy(pre, root.shield.data, sizeof pre);
	ck_assert_int_eq(mprotect(root.shield.data, 32, PROT_NONE), 0);
	load_pipe(&a, s[1], sizeof s[1]);
	load_pipe(&b, s[2], sizeof s[2]);
	ck_assert_int_eq(mprotect(root.shield.data, 32, PROT_READ), 0);
	ck_assert(memcmp(pre, root.shield.data, sizeof pre) == 0);
	ck_assert_int_eq(mprotect(root.shield.data, 32, PROT_NONE), 0);
	for (i = 0; i < 3; i++) {
		out = get_back(all[i], &eagains);
		ck_assert(memcmp(out, s[i], sizeof s[i]) == 0);
		free(out);
	}
	/* Each its own key: the same bytes encrypt differently. */
	ck_assert_int_eq(secmem_open(&a, false), 0);
	memcpy(pre, a.buf.data, sizeof pre);
	secmem_close(&a);
	ck_assert(!buffer_has(&b, pre, sizeof pre));
	ck_assert(!buffer_has(&root, pre, sizeof pre));
	/* Wiping one: its buffer zero, the prekey and the others kept. */
	ck_assert_int_eq(secmem_wipe(&a), 0);
	ck_assert(region_zero(&a.buf));
	ck_assert(!region_zero(&root.shield));
	out = get_back(&b, &eagains);
	ck_assert(memcmp(out, s[2], sizeof s[2]) == 0);
	free(out);
	/* Reloaded: a fresh nonce under the same prekey. */
	load_pipe(&a, s[1], sizeof s[1]);
	out = get_back(&a, &eagains);
	ck_assert(memcmp(out, s[1], sizeof s[1]) == 0);
	free(out);
	/* The one prekey zeroed: nothing decrypts, ciphertext intact. */
	ck_assert_int_eq(secmem_unshield(&root), 0);
	ck_assert(region_zero(&root.shield));
	for (i = 0; i < 3; i++) {
		ck_assert(!region_zero(&all[i]->buf));
		out = get_back(all[i], &eagains);
		ck_assert(memmem(out, sizeof s[i], s[i], 8) == NULL);
		free(out);
	}
	ck_assert_int_eq(secmem_wipe(&a), 0);
	ck_assert_int_eq(secmem_wipe(&b), 0);
	/* The last one out zeroes the prekey of a new load too. */
	load_pipe(&b, s[2], sizeof s[2]);
	ck_assert(!region_zero(&root.shield));
	ck_assert_int_eq(secmem_wipe(&root), 0);
	ck_assert(!region_zero(&root.shield)); /* b still holds */
	ck_assert_int_eq(secmem_wipe(&b), 0);
	ck_assert(region_zero(&root.shield));
	/* The emergency path: every shield, then every buffer. */
	load_pipe(&root, s[0], sizeof s[0]);
	load_pipe(&a, s[1], sizeof s[1]);
	ck_assert_int_eq(secmem_emergency_wipe(), 0);
	ck_assert(region_zero(&root.shield));
	for (i = 0; i < 3; i++)
		ck_assert(region_zero(&all[i]->buf));
	secmem_free(&a);
	secmem_free(&root); /* b goes with its root */
	ck_assert_ptr_null(b.buf.map);
}
END_TEST

#define LIMIT_8M  (8UL << 20)
#define SECRET_4M (4UL << 20)
#define NOBODY	  65534

/*
 * In a child under an 8 MiB RLIMIT_MEMLOCK that binds (not root): load a
 * 4 MiB secret from a pipe. Exit 0 if every protection held and it reads
 * back whole, else a code saying what failed.
 */
static void
child_memlock(bool secretmem)
{
	struct rlimit  rl = { LIMIT_8M, LIMIT_8M };
	struct secmem  sm;
	const char    *why;
	unsigned char *b = malloc(SECRET_4M), *out;
	char	       flags[256];
	pid_t	       pid;
	int	       p[2], st, eagains;

	if (b == NULL || setrlimit(RLIMIT_MEMLOCK, &rl) != 0)
		_exit(10);
	if (geteuid() == 0 &&
	    (setgroups(0, NULL) != 0 || setgid(NOBODY) != 0 ||
		setuid(NOBODY) != 0))
		_exit(11);
	pattern(b, SECRET_4M, 11);
	if (secmem_alloc(&sm, SECRET_4M, secretmem) != 0 || pipe(p) != 0)
		_exit(12);
	pid = feeder(p[1], b, SECRET_4M);
	close(p[1]);
	if (secmem_read_fd(&sm, p[0], SECRET_4M, &why, NULL, NULL) != 0)
		_exit(13);
	if (waitpid(pid, &st, 0) != pid || sm.len != SECRET_4M)
		_exit(14);
	if (!(sm.prot & SECMEM_LOCKED))
		_exit(20);
	if (secretmem && !(sm.prot & SECMEM_SECRETMEM))
		_exit(21);
	if (sm.lost != 0)
		_exit(22);
	/* The kernel's word, first and last page: locked. */
	if (vmflags_of(sm.buf.data, flags, sizeof flags) != 0 ||
	    !has_flag(flags, "lo"))
		_exit(23);
	if (vmflags_of(sm.buf.data + SECRET_4M - 1, flags, sizeof flags) != 0 ||
	    !has_flag(flags, "lo"))
		_exit(24);
	if (vmflags_of(sm.shield.data, flags, sizeof flags) != 0 ||
	    !has_flag(flags, "lo"))
		_exit(25);
	out = get_back(&sm, &eagains);
	if (memcmp(out, b, SECRET_4M) != 0)
		_exit(26);
	_exit(0);
}

/* Run child_memlock and judge its exit. */
static void
memlock_case(bool secretmem)
{
	static const char *what[] = {
		[10] = "setrlimit",
		[11] = "becoming nobody",
		[12] = "alloc",
		[13] = "read_fd",
		[14] = "length",
		[20] = "not locked",
		[21] = "secretmem dropped",
		[22] = "a protection was lost",
		[23] = "first page not locked (VmFlags)",
		[24] = "last page not locked (VmFlags)",
		[25] = "shield not locked (VmFlags)",
		[26] = "read back differs",
	};
	pid_t pid = fork();
	int   st, code;

	ck_assert_int_ge(pid, 0);
	if (pid == 0)
		child_memlock(secretmem);
	ck_assert_int_eq(dz_waitpid(pid, &st, 60), 0);
	ck_assert_msg(WIFEXITED(st), "child died: status %d", st);
	code = WEXITSTATUS(st);
	ck_assert_msg(code == 0,
	    "4 MiB under an 8 MiB memlock limit (%s): "
	    "%s (%d)",
	    secretmem ? "secretmem" : "anonymous",
	    code < (int)(sizeof what / sizeof what[0]) && what[code] ?
		what[code] :
		"?",
	    code);
}

START_TEST(memlock_4mib_pipe)
{
	struct rlimit rl;

	ck_assert_int_eq(getrlimit(RLIMIT_MEMLOCK, &rl), 0);
	if (!dz_is_root() && rl.rlim_max != RLIM_INFINITY &&
	    rl.rlim_max < LIMIT_8M) {
		dz_skip("memlock_4mib_pipe: the hard RLIMIT_MEMLOCK (%llu) "
			"is below 8 MiB",
		    (unsigned long long)rl.rlim_max);
		return;
	}
	memlock_case(false);
	if (secmem_secretmem_available())
		memlock_case(true);
	else
		dz_skip_na("memlock_4mib_pipe (secretmem): memfd_secret(2) "
			   "not offered by this kernel");
}
END_TEST

START_TEST(describe)
{
	char buf[128];

	secmem_describe(SECMEM_LOCKED | SECMEM_DONTDUMP | SECMEM_SECRETMEM, buf,
	    sizeof buf);
	ck_assert_str_eq(buf, "locked dontdump secretmem");
	secmem_describe(SECMEM_LOCKED | SECMEM_SHIELDED, buf, sizeof buf);
	ck_assert_str_eq(buf, "locked shielded");
	secmem_describe(0, buf, sizeof buf);
	ck_assert_str_eq(buf, "");
}
END_TEST

/*
 * A wipe that cannot be carried out (the pages cannot be made writable:
 * here they are gone from under it) says so, so that nobody logs "wiped".
 */
START_TEST(wipe_failure_reported)
{
	struct secmem sm;

	ck_assert_int_eq(secmem_alloc(&sm, 4096, false), 0);
	ck_assert_int_eq(secmem_fill_random(&sm, 32), 0);
	ck_assert_int_eq(munmap(sm.buf.data, sm.buf.cap), 0);
	ck_assert_int_eq(secmem_wipe(&sm), -1);
	secmem_free(&sm);
	ck_assert_int_eq(secmem_alloc(&sm, 4096, false), 0);
	ck_assert_int_eq(secmem_fill_random(&sm, 32), 0);
	ck_assert_int_eq(secmem_wipe(&sm), 0);
	secmem_free(&sm);
}
END_TEST

static struct secmem *exit_sm;
static int	      exit_fd = -1;

/* At exit, after the fatal hook ran: are the buffer and shield zeros? */
static void
report_zero(void)
{
	char c = 'N';

	if (secmem_open(exit_sm, false) == 0 &&
	    sodium_is_zero(exit_sm->buf.data, exit_sm->buf.cap) &&
	    mprotect(exit_sm->shield.data, exit_sm->shield.cap, PROT_READ) ==
		0 &&
	    sodium_is_zero(exit_sm->shield.data, exit_sm->shield.cap))
		c = 'Z';
	if (write(exit_fd, &c, 1) != 1)
		_exit(3);
}

/*
 * fatal() after the secret is loaded wipes it before the process ends:
 * the daemon's hard-signal set-up makes the log module's exit hook wipe.
 * Proven in-process: an atexit handler, which runs inside exit() after
 * the hook, reads the buffer and reports what it holds.
 */
START_TEST(fatal_wipes)
{
	static struct secmem sm;
	int		     p[2], st;
	pid_t		     pid;
	char		     c = '?';

	ck_assert_int_eq(pipe(p), 0);
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		close(p[0]);
		if (secmem_alloc(&sm, 4096, false) != 0 ||
		    secmem_fill_random(&sm, 4096) != 0)
			_exit(2);
		exit_sm = &sm;
		exit_fd = p[1];
		atexit(report_zero);
		emergency_install(false);
		fatalx(1, "test: a fatal error with the secret loaded");
	}
	close(p[1]);
	ck_assert_int_eq(read(p[0], &c, 1), 1);
	close(p[0]);
	ck_assert_int_eq(dz_waitpid(pid, &st, 10), 0);
	ck_assert(WIFEXITED(st) && WEXITSTATUS(st) == 1);
	ck_assert_msg(c == 'Z', "the secret survived fatal()");
}
END_TEST

Suite *
secmem_suite(void)
{
	Suite *s = suite_create("secmem");
	TCase *tc = tcase_create("secmem");

	tcase_add_test(tc, anonymous_buffer);
	tcase_add_test(tc, secretmem_buffer);
	tcase_add_test(tc, roundtrip_sizes);
	tcase_add_test(tc, load_resumes_and_limits);
	tcase_add_test(tc, too_large_or_empty);
	tcase_add_test(tc, interrupted_load);
	tcase_add_test(tc, useless_without_prekey);
	tcase_add_test(tc, wipe_keys_first);
	tcase_add_test(tc, one_shield_three_buffers);
	tcase_add_test(tc, memlock_4mib_pipe);
	tcase_add_test(tc, describe);
	tcase_add_test(tc, wipe_failure_reported);
	tcase_add_test(tc, fatal_wipes);
	suite_add_tcase(s, tc);
	return s;
}
