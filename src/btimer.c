/* SPDX-License-Identifier: ISC */
/*
 * One-shot timers on CLOCK_BOOTTIME: a timerfd under an ev_io (see
 * btimer.h for why the loop's own timers will not do).
 */
#include <sys/timerfd.h>

#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>
#include <unistd.h>

#include <ev.h>

#include "dazai/btimer.h"
#include "dazai/container.h"
#include "dazai/log.h"

/* The timerfd is readable: the time has come (or came while asleep). */
static void
btimer_io_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	struct btimer *t = container_of(w, struct btimer, io);
	uint64_t       n;

	(void)revents;
	if (read(t->fd, &n, sizeof n) != (ssize_t)sizeof n && errno == EAGAIN)
		return; /* stopped and started again meanwhile */
	ev_io_stop(loop, w);
	t->cb(t);
}

/* Create the timer, not started. Returns 0, or -1 with errno. */
int
btimer_init(struct btimer *t, void (*cb)(struct btimer *))
{
	t->cb = cb;
	t->fd = timerfd_create(CLOCK_BOOTTIME, TFD_NONBLOCK | TFD_CLOEXEC);
	if (t->fd < 0)
		return -1;
	ev_io_init(&t->io, btimer_io_cb, t->fd, EV_READ);
	return 0;
}

/* (Re)start the timer for secs from now (0 or less: at once). */
void
btimer_start(struct btimer *t, struct ev_loop *loop, double secs)
{
	struct itimerspec its = { { 0, 0 }, { 0, 0 } };

	if (t->fd < 0)
		return;
	if (secs > 0) {
		its.it_value.tv_sec = (time_t)secs;
		its.it_value.tv_nsec =
		    (long)((secs - (double)its.it_value.tv_sec) * 1e9);
	}
	/* A zero it_value would disarm the timer: 1 ns is "now". */
	if (its.it_value.tv_sec == 0 && its.it_value.tv_nsec == 0)
		its.it_value.tv_nsec = 1;
	if (timerfd_settime(t->fd, 0, &its, NULL) != 0) {
		log_warn("timerfd_settime");
		return;
	}
	ev_io_start(loop, &t->io);
}

/* Stop the timer; a pending expiry is dropped. */
void
btimer_stop(struct btimer *t, struct ev_loop *loop)
{
	struct itimerspec its = { { 0, 0 }, { 0, 0 } };

	/* Not watched: never started, stopped, or fired (and disarmed). */
	if (t->fd < 0 || !ev_is_active(&t->io))
		return;
	ev_io_stop(loop, &t->io);
	if (timerfd_settime(t->fd, 0, &its, NULL) != 0)
		log_warn("timerfd_settime");
}

/* Is the timer running? */
bool
btimer_active(const struct btimer *t)
{
	return ev_is_active(&t->io);
}

/* Stop the timer and close its descriptor. */
void
btimer_close(struct btimer *t, struct ev_loop *loop)
{
	if (t->fd < 0)
		return;
	ev_io_stop(loop, &t->io);
	close(t->fd);
	t->fd = -1;
}

/* Seconds on CLOCK_BOOTTIME, the clock of lifetimes and grace windows. */
double
btimer_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_BOOTTIME, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}
