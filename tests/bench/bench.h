/* SPDX-License-Identifier: ISC */
#ifndef DAZAI_BENCH_H
#define DAZAI_BENCH_H

#include <sys/types.h>

#include <stdbool.h>
#include <stddef.h>

/*
 * The benchmark driver's shared pieces: child processes started with a
 * readiness pipe, a line client for the heartbeat protocol, /proc readers,
 * sample statistics and the in-process wipe measurement.
 */

#define BENCH_READY_FD 3 /* descriptor number the children get */

/* A child started by bench_spawn. */
struct bproc {
	pid_t  pid;	 /* 0 once reaped */
	int    status;	 /* waitpid status once reaped */
	double ready_us; /* fork to the readiness newline */
};

/* Sorted samples and the statistics taken from them. */
struct bstats {
	double *v;
	size_t	n;
	size_t	cap;
};

double bench_now_us(void);
void   bench_die(const char *, ...)
    __attribute__((format(printf, 1, 2), noreturn));
int  bench_spawn(struct bproc *, const char *const *, int, int, double);
int  bench_reap(struct bproc *, double);
void bench_kill(struct bproc *);
int  bench_connect(const char *);
int  bench_hello(const char *);
int  bench_request(int, const char *, char *, size_t);
int  bench_readline(int, char *, size_t);
void bench_settle(pid_t);
long bench_status_field(pid_t, const char *);
long bench_stat_ticks(pid_t);

void   stats_init(struct bstats *, size_t);
void   stats_add(struct bstats *, double);
void   stats_sort(struct bstats *);
double stats_pct(const struct bstats *, double);
void   stats_free(struct bstats *);

/* One wipe measurement of a secure buffer (times in milliseconds). */
struct wipe_result {
	bool   ok;	  /* the buffer could be allocated */
	bool   secretmem; /* memfd_secret backing took effect */
	bool   locked;	  /* mlock (or secretmem) took effect */
	size_t bytes;	  /* bytes wiped per pass */
	double wipe_ms;	  /* secmem_wipe, median */
	double memset_ms; /* memset, writable warm pages, median */
	double bzero_ms;  /* explicit_bzero, likewise, median */
	double cold_ms;	  /* memset just after reopening, median */
	double emerg_ms;  /* secmem_emergency_wipe, median */
};

void wipe_measure(size_t, bool, int, struct wipe_result *);

#endif
