/* SPDX-License-Identifier: ISC */
#ifndef DAZAI_LOGIND_H
#define DAZAI_LOGIND_H

#include <stdbool.h>
#include <stddef.h>

/*
 * The warden's link to logind on the system bus (libsystemd's sd-bus;
 * DBUS_SYSTEM_BUS_ADDRESS is honoured): it watches the Manager's
 * PrepareForSleep signal and holds a delay inhibitor lock
 * (Inhibit("sleep", "dazai", why, "delay")), so the machine waits for the
 * before-sleep work, for logind's InhibitDelayMaxSec at most. Only the
 * warden uses it: it is unconfined and holds no secret, and the daemon
 * needs no system call for the bus.
 *
 *	logind_open	connect, watch PrepareForSleep, take the lock; 0, or
 *			-1 with why (no bus, no logind, a refusal) in why
 *	logind_fd, logind_events, logind_timeout_ms
 *			what to poll(2) for, and for how long at most
 *	logind_process	handle what the bus sent: LOGIND_BEFORE (the machine
 *			is about to sleep), LOGIND_AFTER (it woke), or
 *			LOGIND_NONE; LOGIND_LOST if the bus went away
 *	logind_inhibit	take the lock again (after LOGIND_AFTER); 0 or -1
 *	logind_release	let the machine sleep: close the lock's descriptor
 *	logind_close	all of it
 *
 * The method calls wait LOGIND_CALL_MS at most.
 */

#define LOGIND_CALL_MS 2000

enum logind_event { LOGIND_NONE, LOGIND_BEFORE, LOGIND_AFTER, LOGIND_LOST };

struct logind;

int		  logind_open(struct logind **, const char *, char *, size_t);
int		  logind_fd(const struct logind *);
short		  logind_events(const struct logind *);
int		  logind_timeout_ms(const struct logind *);
enum logind_event logind_process(struct logind *);
int		  logind_inhibit(struct logind *, char *, size_t);
bool		  logind_locked(const struct logind *);
void		  logind_release(struct logind *);
void		  logind_close(struct logind *);

#endif
