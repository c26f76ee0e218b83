/* SPDX-License-Identifier: ISC */
/* The secure buffer, in this process and in forked children. */
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/wait.h>

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sodium.h>

#include "dazai/daemon.h"
#include "dazai/log.h"
#include "dazai/secmem.h"
#include "helpers.h"

/* The VmFlags line of the mapping that holds addr, from smaps. */
static int
vmflags_of(const void *addr, char *out, size_t len)
{
	FILE		*fp = fopen("/proc/self/smaps", "r");
	char		 line[512];
	unsigned long	 lo, hi, a = (unsigned long)addr;
	int		 inside = 0;

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
	char	 want[8];

	snprintf(want, sizeof want, " %s", f);
	return strstr(flags, want) != NULL;
}

/* Run fn in a child; return its wait status. */
static int
in_child(void (*fn)(struct secmem *), struct secmem *sm)
{
	pid_t	 pid = fork();
	int	 status;

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
	volatile unsigned char *p = sm->data;

	(void)p[0];
}

static void
touch_guard_below(struct secmem *sm)
{
	volatile unsigned char *p = sm->data;

	(void)p[-1];
}

static void
touch_guard_above(struct secmem *sm)
{
	volatile unsigned char *p = sm->data;

	(void)p[sm->cap];
}

/* Exit 0 if the child sees only zeros, 1 if it sees the secret. */
static void
child_reads(struct secmem *sm)
{
	size_t	 i;

	if (secmem_open(sm, false) != 0)
		_exit(3);
	for (i = 0; i < sm->cap; i++)
		if (sm->data[i] != 0)
			_exit(1);
	_exit(0);
}

START_TEST(anonymous_buffer)
{
	struct secmem	 sm;
	char		 flags[256];
	size_t		 i;
	int		 status;

	ck_assert_int_eq(secmem_alloc(&sm, 100, false), 0);
	ck_assert_uint_eq(sm.cap % (size_t)sysconf(_SC_PAGESIZE), 0);
	ck_assert(sm.prot & SECMEM_GUARDS);
	ck_assert(sm.prot & SECMEM_DONTDUMP);
	ck_assert(sm.prot & SECMEM_WIPEONFORK);
	ck_assert(sm.prot & SECMEM_NOACCESS);
	ck_assert(!(sm.prot & SECMEM_SECRETMEM));
	ck_assert_int_eq(vmflags_of(sm.data, flags, sizeof flags), 0);
	ck_assert_msg(has_flag(flags, "dd"), "VmFlags:%s", flags);
	ck_assert_msg(has_flag(flags, "wf"), "VmFlags:%s", flags);
	if (dz_is_root()) {
		ck_assert(sm.prot & SECMEM_LOCKED);
		ck_assert_msg(has_flag(flags, "lo"), "VmFlags:%s", flags);
	} else
		dz_skip("secmem lock assertion needs root "
		    "(RLIMIT_MEMLOCK)");

	ck_assert_int_eq(secmem_fill_random(&sm, 100), 0);
	ck_assert_uint_eq(sm.len, 100);
	/* The idle buffer and both guard pages fault. */
	status = in_child(touch_idle, &sm);
	ck_assert(WIFSIGNALED(status) && WTERMSIG(status) == SIGSEGV);
	status = in_child(touch_guard_below, &sm);
	ck_assert(WIFSIGNALED(status) && WTERMSIG(status) == SIGSEGV);
	status = in_child(touch_guard_above, &sm);
	ck_assert(WIFSIGNALED(status) && WTERMSIG(status) == SIGSEGV);
	/* A forked child sees zeros (MADV_WIPEONFORK). */
	status = in_child(child_reads, &sm);
	ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0,
	    "child saw the secret (status %d)", status);

	secmem_wipe(&sm);
	ck_assert_int_eq(secmem_open(&sm, false), 0);
	for (i = 0; i < sm.cap; i++)
		ck_assert_int_eq(sm.data[i], 0);
	secmem_close(&sm);
	secmem_free(&sm);
	ck_assert_ptr_null(sm.map);
}
END_TEST

START_TEST(secretmem_buffer)
{
	struct secmem	 sm;
	char		 flags[256];
	int		 status;

	if (!secmem_secretmem_available()) {
		dz_skip_na("memfd_secret(2) not offered by this kernel");
		return;
	}
	ck_assert_int_eq(secmem_alloc(&sm, 64, true), 0);
	ck_assert(sm.prot & SECMEM_SECRETMEM);
	ck_assert(sm.prot & SECMEM_DONTFORK);
	ck_assert(sm.prot & SECMEM_LOCKED);
	ck_assert_int_eq(vmflags_of(sm.data, flags, sizeof flags), 0);
	ck_assert_msg(has_flag(flags, "lo") && has_flag(flags, "dd") &&
	    has_flag(flags, "dc"), "VmFlags:%s", flags);
	ck_assert_int_eq(secmem_fill_random(&sm, 64), 0);
	/* A forked child has no mapping there at all. */
	status = in_child(child_reads, &sm);
	ck_assert_msg(WIFSIGNALED(status) ||
	    (WIFEXITED(status) && WEXITSTATUS(status) == 3),
	    "child could read the secretmem pages (status %d)", status);
	secmem_free(&sm);
}
END_TEST

START_TEST(read_fd_grows)
{
	struct secmem	 sm;
	const char	*why;
	unsigned char	 buf[10000];
	int		 p[2];
	size_t		 i;

	for (i = 0; i < sizeof buf; i++)
		buf[i] = (unsigned char)(i * 7 + 1);
	ck_assert_int_eq(pipe(p), 0);
	ck_assert(write(p[1], buf, sizeof buf) == (ssize_t)sizeof buf);
	close(p[1]);
	ck_assert_int_eq(secmem_alloc(&sm, 4096, false), 0);
	ck_assert_int_eq(secmem_read_fd(&sm, p[0], 1 << 20, &why, NULL,
	    NULL), 0);
	close(p[0]);
	ck_assert_uint_eq(sm.len, sizeof buf);
	ck_assert_uint_ge(sm.cap, sizeof buf);
	ck_assert_int_eq(secmem_open(&sm, false), 0);
	ck_assert(memcmp(sm.data, buf, sizeof buf) == 0);
	secmem_close(&sm);
	secmem_free(&sm);
}
END_TEST

START_TEST(read_fd_bad)
{
	struct secmem	 sm;
	const char	*why;
	int		 p[2];

	ck_assert_int_eq(pipe(p), 0);
	close(p[1]);
	ck_assert_int_eq(secmem_alloc(&sm, 16, false), 0);
	ck_assert_int_eq(secmem_read_fd(&sm, p[0], 100, &why, NULL, NULL),
	    -1);
	ck_assert_str_eq(why, "empty");
	close(p[0]);

	ck_assert_int_eq(pipe(p), 0);
	ck_assert(write(p[1], "0123456789A", 11) == 11);
	close(p[1]);
	ck_assert_int_eq(secmem_read_fd(&sm, p[0], 10, &why, NULL, NULL),
	    -1);
	ck_assert_str_eq(why, "larger than the maximum");
	ck_assert_uint_eq(sm.len, 0);
	close(p[0]);
	secmem_free(&sm);
}
END_TEST

/* A wait hook that lets the first calls through, then stops loading. */
static bool
stop_after(void *arg, int fd)
{
	int	*left = arg;

	(void)fd;
	return (*left)-- > 0;
}

START_TEST(read_fd_interrupted)
{
	struct secmem	 sm;
	const char	*why;
	size_t		 i;
	int		 p[2], left = 1;

	/* A writer that keeps the pipe open: EOF never comes. */
	ck_assert_int_eq(pipe(p), 0);
	ck_assert(write(p[1], "partial secret", 14) == 14);
	ck_assert_int_eq(secmem_alloc(&sm, 16, false), 0);
	ck_assert_int_eq(secmem_read_fd(&sm, p[0], 100, &why, stop_after,
	    &left), -1);
	ck_assert_str_eq(why, "interrupted");
	/* What had been read is gone. */
	ck_assert_uint_eq(sm.len, 0);
	ck_assert_int_eq(secmem_open(&sm, false), 0);
	for (i = 0; i < sm.cap; i++)
		ck_assert_uint_eq(sm.data[i], 0);
	secmem_close(&sm);
	secmem_free(&sm);
	close(p[0]);
	close(p[1]);
}
END_TEST

START_TEST(describe)
{
	char	 buf[128];

	secmem_describe(SECMEM_LOCKED | SECMEM_DONTDUMP | SECMEM_SECRETMEM,
	    buf, sizeof buf);
	ck_assert_str_eq(buf, "locked dontdump secretmem");
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
	struct secmem	 sm;

	ck_assert_int_eq(secmem_alloc(&sm, 4096, false), 0);
	ck_assert_int_eq(secmem_fill_random(&sm, 32), 0);
	ck_assert_int_eq(munmap(sm.data, sm.cap), 0);
	ck_assert_int_eq(secmem_wipe(&sm), -1);
	secmem_free(&sm);
	ck_assert_int_eq(secmem_alloc(&sm, 4096, false), 0);
	ck_assert_int_eq(secmem_fill_random(&sm, 32), 0);
	ck_assert_int_eq(secmem_wipe(&sm), 0);
	secmem_free(&sm);
}
END_TEST

static struct secmem	*exit_sm;
static int		 exit_fd = -1;

/* At exit, after the fatal hook ran: is the buffer all zeros? */
static void
report_zero(void)
{
	char	 c = 'N';

	if (secmem_open(exit_sm, false) == 0 &&
	    sodium_is_zero(exit_sm->data, exit_sm->cap))
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
	int	 p[2], st;
	pid_t	 pid;
	char	 c = '?';

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
		daemon_install_hard_signals(false);
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
	Suite	*s = suite_create("secmem");
	TCase	*tc = tcase_create("secmem");

	tcase_add_test(tc, anonymous_buffer);
	tcase_add_test(tc, secretmem_buffer);
	tcase_add_test(tc, read_fd_grows);
	tcase_add_test(tc, read_fd_bad);
	tcase_add_test(tc, read_fd_interrupted);
	tcase_add_test(tc, describe);
	tcase_add_test(tc, wipe_failure_reported);
	tcase_add_test(tc, fatal_wipes);
	suite_add_tcase(s, tc);
	return s;
}
