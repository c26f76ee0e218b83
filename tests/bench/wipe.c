/* SPDX-License-Identifier: ISC */
/*
 * Wipe throughput, measured in-process on the project's own secure buffer
 * (build/obj/secmem.o): secmem_wipe, the daemon's graceful wipe, against
 * memset and explicit_bzero on the very same pages while they are writable
 * (the floor), memset right after reopening the idle PROT_NONE buffer
 * (what the first touch of each page costs after mprotect), and
 * secmem_emergency_wipe, the signal-handler path of SIGUSR2 and the fatal
 * signals. The methods take turns so that drift hits all of them.
 */
#include <string.h>

#include <sodium.h>

#include "dazai/secmem.h"

#include "bench.h"

enum wipe_method {
	W_SECMEM, /* secmem_wipe on the idle (PROT_NONE) buffer */
	W_MEMSET, /* memset on writable, recently written pages */
	W_BZERO,  /* explicit_bzero, likewise */
	W_COLD,	  /* memset right after reopening the idle buffer */
	W_EMERG,  /* secmem_emergency_wipe on the idle buffer */
	W_NMETHODS
};

/* Keep the compiler from treating stores to p as dead. */
static inline void
wipe_barrier(void *p)
{
	__asm__ __volatile__("" : : "r"(p) : "memory");
}

/* Open the buffer for writing or die. */
static void
wipe_open(struct secmem *sm)
{
	if (secmem_open(sm, true) != 0)
		bench_die("mprotect: cannot open the secure buffer");
}

/* Fill the buffer with non-zero bytes so that a pass has work to do. */
static void
wipe_dirty(struct secmem *sm)
{
	memset(sm->buf.data, 0xa5, sm->buf.cap);
	wipe_barrier(sm->buf.data);
}

/*
 * Time one pass of method m, in milliseconds. Each starts from the state
 * it is meant to measure: the idle daemon's buffer is dirty and PROT_NONE;
 * the floor's pages are writable and were just written.
 */
static double
wipe_pass(struct secmem *sm, enum wipe_method m)
{
	double t0, t1;

	wipe_open(sm);
	wipe_dirty(sm);
	if (m == W_SECMEM || m == W_COLD || m == W_EMERG)
		secmem_close(sm);
	if (m == W_COLD)
		wipe_open(sm);
	t0 = bench_now_us();
	switch (m) {
	case W_SECMEM:
		secmem_wipe(sm);
		break;
	case W_MEMSET:
	case W_COLD:
		memset(sm->buf.data, 0, sm->buf.cap);
		wipe_barrier(sm->buf.data);
		break;
	case W_BZERO:
		explicit_bzero(sm->buf.data, sm->buf.cap);
		break;
	case W_EMERG:
		secmem_emergency_wipe();
		break;
	case W_NMETHODS:
		break;
	}
	t1 = bench_now_us();
	if (m == W_MEMSET || m == W_BZERO || m == W_COLD)
		secmem_close(sm);
	return (t1 - t0) / 1e3;
}

/*
 * Allocate a size-byte secure buffer (memfd_secret if secretmem and the
 * kernel allows), fill it with random bytes, then time reps passes of
 * each method, rotating their order. Medians go into r.
 */
void
wipe_measure(size_t size, bool secretmem, int reps, struct wipe_result *r)
{
	struct bstats s[W_NMETHODS];
	struct secmem sm;
	double	     *out[W_NMETHODS];
	int	      i, k, m;

	memset(r, 0, sizeof *r);
	if (sodium_init() < 0)
		bench_die("libsodium failed to initialise");
	if (secmem_alloc(&sm, size, secretmem) != 0)
		return;
	if (secmem_fill_random(&sm, size) != 0) {
		secmem_free(&sm);
		return;
	}
	r->ok = true;
	r->secretmem = (sm.prot & SECMEM_SECRETMEM) != 0;
	r->locked = (sm.prot & SECMEM_LOCKED) != 0;
	r->bytes = sm.buf.cap;
	out[W_SECMEM] = &r->wipe_ms;
	out[W_MEMSET] = &r->memset_ms;
	out[W_BZERO] = &r->bzero_ms;
	out[W_COLD] = &r->cold_ms;
	out[W_EMERG] = &r->emerg_ms;
	for (m = 0; m < W_NMETHODS; m++)
		stats_init(&s[m], (size_t)reps);
	/* One untimed pass of each, so that no method pays a first touch. */
	for (m = 0; m < W_NMETHODS; m++)
		(void)wipe_pass(&sm, m);
	for (i = 0; i < reps; i++)
		for (k = 0; k < W_NMETHODS; k++) {
			m = (i + k) % W_NMETHODS;
			stats_add(&s[m], wipe_pass(&sm, m));
		}
	for (m = 0; m < W_NMETHODS; m++) {
		stats_sort(&s[m]);
		*out[m] = stats_pct(&s[m], 50);
		stats_free(&s[m]);
	}
	secmem_free(&sm);
}
