/* SPDX-License-Identifier: ISC */
/*
 * logind's sleep signal and delay lock over sd-bus, for the warden (see
 * logind.h). Everything here runs in the warden's process.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <systemd/sd-bus.h>

#include "dazai/log.h"
#include "dazai/logind.h"

#define LOGIND_DEST  "org.freedesktop.login1"
#define LOGIND_PATH  "/org/freedesktop/login1"
#define LOGIND_IFACE "org.freedesktop.login1.Manager"

struct logind {
	sd_bus		 *bus;
	sd_bus_slot	 *slot;	   /* the PrepareForSleep match */
	int		  lock;	   /* the inhibitor's descriptor, or -1 */
	char		  why[96]; /* Inhibit's why */
	enum logind_event pending; /* what the match saw, not yet told */
};

/* PrepareForSleep(b): true before the machine sleeps, false after. */
static int
logind_signal_cb(sd_bus_message *m, void *arg, sd_bus_error *err)
{
	struct logind *l = arg;
	int	       before = 0, r;

	(void)err;
	if ((r = sd_bus_message_read(m, "b", &before)) < 0) {
		log_warnx("PrepareForSleep: %s", strerror(-r));
		return 0;
	}
	l->pending = before ? LOGIND_BEFORE : LOGIND_AFTER;
	return 0;
}

/* Describe an sd-bus failure: the bus error's message, or errno's. */
static void
logind_err(char *buf, size_t len, const char *what, const sd_bus_error *e,
    int r)
{
	snprintf(buf, len, "%s: %s", what,
	    e != NULL && e->message != NULL ? e->message : strerror(-r));
}

/* Take the delay lock unless it is held. */
int
logind_inhibit(struct logind *l, char *why, size_t len)
{
	sd_bus_error	e = SD_BUS_ERROR_NULL;
	sd_bus_message *reply = NULL;
	int		fd = -1, r;

	if (l->lock >= 0)
		return 0;
	r = sd_bus_call_method(l->bus, LOGIND_DEST, LOGIND_PATH, LOGIND_IFACE,
	    "Inhibit", &e, &reply, "ssss", "sleep", "dazai", l->why, "delay");
	if (r < 0) {
		logind_err(why, len, "logind's Inhibit", &e, r);
		sd_bus_error_free(&e);
		return -1;
	}
	if ((r = sd_bus_message_read(reply, "h", &fd)) < 0)
		logind_err(why, len, "logind's Inhibit reply", NULL, r);
	/* The reply owns fd: keep a copy of our own. */
	else if ((l->lock = fcntl(fd, F_DUPFD_CLOEXEC, 3)) < 0)
		logind_err(why, len, "the inhibitor lock", NULL, -errno);
	sd_bus_message_unref(reply);
	return l->lock >= 0 ? 0 : -1;
}

/* Connect, watch PrepareForSleep, take the lock. */
int
logind_open(struct logind **out, const char *what, char *why, size_t len)
{
	struct logind *l;
	int	       r;

	*out = NULL;
	if ((l = calloc(1, sizeof *l)) == NULL) {
		logind_err(why, len, "logind", NULL, -errno);
		return -1;
	}
	l->lock = -1;
	snprintf(l->why, sizeof l->why, "%s", what);
	if ((r = sd_bus_open_system(&l->bus)) < 0) {
		logind_err(why, len, "no system bus", NULL, r);
		goto fail;
	}
	sd_bus_set_method_call_timeout(l->bus, (uint64_t)LOGIND_CALL_MS * 1000);
	r = sd_bus_match_signal(l->bus, &l->slot, LOGIND_DEST, LOGIND_PATH,
	    LOGIND_IFACE, "PrepareForSleep", logind_signal_cb, l);
	if (r < 0) {
		logind_err(why, len, "the system bus refused a match", NULL, r);
		goto fail;
	}
	if (logind_inhibit(l, why, len) != 0)
		goto fail;
	*out = l;
	return 0;
fail:
	logind_close(l);
	return -1;
}

/* The bus's descriptor, for poll(2). */
int
logind_fd(const struct logind *l)
{
	int fd = sd_bus_get_fd(l->bus);

	return fd >= 0 ? fd : -1;
}

/* The poll(2) events the bus waits for. */
short
logind_events(const struct logind *l)
{
	int ev = sd_bus_get_events(l->bus);

	return ev > 0 ? (short)ev : POLLIN;
}

/* Milliseconds until the bus needs processing anyway, or -1. */
int
logind_timeout_ms(const struct logind *l)
{
	struct timespec ts;
	uint64_t	when, now;

	if (l->pending != LOGIND_NONE)
		return 0;
	if (sd_bus_get_timeout(l->bus, &when) < 0 || when == UINT64_MAX)
		return -1;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	now = (uint64_t)ts.tv_sec * 1000000 + (uint64_t)ts.tv_nsec / 1000;
	if (when <= now)
		return 0;
	return when - now > 60000000 ? 60000 : (int)((when - now + 999) / 1000);
}

/* Handle what came; tell one sleep event at a time. */
enum logind_event
logind_process(struct logind *l)
{
	enum logind_event ev;
	int		  r;

	while (l->pending == LOGIND_NONE) {
		if ((r = sd_bus_process(l->bus, NULL)) < 0) {
			log_warnx("the system bus: %s", strerror(-r));
			return LOGIND_LOST;
		}
		if (r == 0)
			break;
	}
	ev = l->pending;
	l->pending = LOGIND_NONE;
	return ev;
}

/* Is the delay lock held? */
bool
logind_locked(const struct logind *l)
{
	return l != NULL && l->lock >= 0;
}

/* Let the machine sleep. */
void
logind_release(struct logind *l)
{
	if (l != NULL && l->lock >= 0) {
		close(l->lock);
		l->lock = -1;
	}
}

/* Close it all. */
void
logind_close(struct logind *l)
{
	if (l == NULL)
		return;
	logind_release(l);
	sd_bus_slot_unref(l->slot);
	sd_bus_flush_close_unref(l->bus);
	free(l);
}
