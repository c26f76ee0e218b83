/* SPDX-License-Identifier: ISC */
#ifndef DAZAI_BTIMER_H
#define DAZAI_BTIMER_H

#include <stdbool.h>

#include <ev.h>

/*
 * A one-shot timer on CLOCK_BOOTTIME in the event loop: a timerfd read by
 * an ev_io. libev's timers run on CLOCK_MONOTONIC, which stops while the
 * machine is suspended; this one counts suspended time, so a limit that
 * fell due during a suspend fires at resume (as ssh-agent -t). For the
 * secrets' lifetimes and the grace window; ping deadlines stay on libev's
 * timers, since PINGs stop while the whole machine sleeps.
 *
 * btimer_init creates the timerfd (before confinement: timerfd_create is
 * not on the allowlist, timerfd_settime is). cb runs once per expiry, in
 * the loop. btimer_now is the clock the deadlines are kept on.
 */
struct btimer {
	ev_io io;
	int   fd;
	void (*cb)(struct btimer *);
};

int    btimer_init(struct btimer *, void (*)(struct btimer *));
void   btimer_start(struct btimer *, struct ev_loop *, double);
void   btimer_stop(struct btimer *, struct ev_loop *);
bool   btimer_active(const struct btimer *);
void   btimer_close(struct btimer *, struct ev_loop *);
double btimer_now(void);

#endif
