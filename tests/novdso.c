/* SPDX-License-Identifier: ISC */
/*
 * LD_PRELOAD shim for the tests: time(), gettimeofday() and
 * clock_gettime() as the system calls themselves, as glibc makes them
 * where the vDSO is absent (valgrind, some sandboxes, vdso=0), so that
 * the seccomp allowlist is exercised on the fallback path.
 */
#include <sys/syscall.h>
#include <sys/time.h>

#include <time.h>
#include <unistd.h>

/* time(2) where the architecture has it, else clock_gettime(2). */
time_t
time(time_t *t)
{
	time_t now;
#ifdef SYS_time
	now = (time_t)syscall(SYS_time, NULL);
#else
	struct timespec ts;

	syscall(SYS_clock_gettime, CLOCK_REALTIME, &ts);
	now = ts.tv_sec;
#endif
	if (t != NULL)
		*t = now;
	return now;
}

/* gettimeofday(2), never the vDSO. */
int
gettimeofday(struct timeval *restrict tv, void *restrict tz)
{
	return (int)syscall(SYS_gettimeofday, tv, tz);
}

/* clock_gettime(2), never the vDSO. */
int
clock_gettime(clockid_t clk, struct timespec *ts)
{
	return (int)syscall(SYS_clock_gettime, clk, ts);
}
