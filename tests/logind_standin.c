/* SPDX-License-Identifier: ISC */
/*
 * A stand-in for logind's Manager, for the sleep tests: logind cannot run
 * in these test machines (it needs systemd as PID 1), so this program
 * takes its name, org.freedesktop.login1, on the bus DBUS_SYSTEM_BUS_ADDRESS
 * names (a private dbus-daemon the test started) and does the two things
 * dazaid uses, as logind does them:
 *
 *   Inhibit(ssss what, who, why, mode) -> h: the lock lasts while the
 *	returned descriptor's other end is open; a delay lock for anything
 *	but "sleep" or "shutdown" is refused with logind's error.
 *   PrepareForSleep(b): emitted when told "sleep" (true) or "wake" (false)
 *	on standard input.
 *
 * It reports on standard output, one line each: "ready" once the name is
 * owned; "inhibit what=W who=W why=W mode=M n=N" per lock granted;
 * "released n=N" when lock N's holder closes it; "emitted true|false".
 * "refuse" on standard input makes the next Inhibit fail.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <systemd/sd-bus.h>

#define LOCKS_MAX 16

static int  lock_fd[LOCKS_MAX]; /* the read ends we keep */
static int  lock_n[LOCKS_MAX];
static int  locks;
static bool refuse_next;

static int
inhibit(sd_bus_message *m, void *arg, sd_bus_error *err)
{
	const char *what, *who, *why, *mode;
	int	    p[2], r, i;

	(void)arg;
	if ((r = sd_bus_message_read(m, "ssss", &what, &who, &why, &mode)) < 0)
		return r;
	if (refuse_next) {
		refuse_next = false;
		return sd_bus_error_set(err,
		    "org.freedesktop.DBus.Error."
		    "AccessDenied",
		    "Permission denied");
	}
	if (strcmp(mode, "delay") == 0 && strcmp(what, "sleep") != 0 &&
	    strcmp(what, "shutdown") != 0)
		return sd_bus_error_set(err,
		    "org.freedesktop.DBus.Error."
		    "InvalidArgs",
		    "Delay inhibitors only supported for "
		    "shutdown and sleep");
	for (i = 0; i < LOCKS_MAX && lock_fd[i] >= 0; i++)
		;
	if (i == LOCKS_MAX || pipe2(p, O_CLOEXEC) != 0)
		return sd_bus_error_set_errno(err, EMFILE);
	lock_fd[i] = p[0];
	lock_n[i] = ++locks;
	printf("inhibit what=%s who=%s why=%s mode=%s n=%d\n", what, who, why,
	    mode, locks);
	fflush(stdout);
	r = sd_bus_reply_method_return(m, "h", p[1]);
	close(p[1]); /* the reply took a copy */
	return r;
}

static const sd_bus_vtable manager_vtable[] = { SD_BUS_VTABLE_START(0),
	SD_BUS_METHOD("Inhibit", "ssss", "h", inhibit,
	    SD_BUS_VTABLE_UNPRIVILEGED),
	SD_BUS_SIGNAL("PrepareForSleep", "b", 0), SD_BUS_VTABLE_END };

int
main(void)
{
	struct pollfd pfd[2 + LOCKS_MAX];
	sd_bus	     *bus = NULL;
	char	      line[64];
	size_t	      len = 0;
	ssize_t	      n;
	int	      i, k, r, slot[2 + LOCKS_MAX];

	for (i = 0; i < LOCKS_MAX; i++)
		lock_fd[i] = -1;
	if ((r = sd_bus_open_system(&bus)) < 0 ||
	    (r = sd_bus_add_object_vtable(bus, NULL, "/org/freedesktop/login1",
		 "org.freedesktop.login1.Manager", manager_vtable, NULL)) < 0 ||
	    (r = sd_bus_request_name(bus, "org.freedesktop.login1", 0)) < 0) {
		fprintf(stderr, "logind stand-in: %s\n", strerror(-r));
		return 1;
	}
	printf("ready\n");
	fflush(stdout);
	for (;;) {
		while ((r = sd_bus_process(bus, NULL)) > 0)
			;
		if (r < 0) {
			fprintf(stderr, "logind stand-in: %s\n", strerror(-r));
			return 1;
		}
		k = 0;
		pfd[k].fd = sd_bus_get_fd(bus);
		pfd[k].events = (short)sd_bus_get_events(bus);
		slot[k++] = -1;
		pfd[k].fd = STDIN_FILENO;
		pfd[k].events = POLLIN;
		slot[k++] = -1;
		for (i = 0; i < LOCKS_MAX; i++)
			if (lock_fd[i] >= 0) {
				pfd[k].fd = lock_fd[i];
				pfd[k].events = POLLIN;
				slot[k++] = i;
			}
		if (poll(pfd, (nfds_t)k, 1000) < 0 && errno != EINTR)
			return 1;
		for (i = 2; i < k; i++)
			if (pfd[i].revents != 0) {
				printf("released n=%d\n", lock_n[slot[i]]);
				fflush(stdout);
				close(lock_fd[slot[i]]);
				lock_fd[slot[i]] = -1;
			}
		if (!(pfd[1].revents & (POLLIN | POLLHUP)))
			continue;
		n = read(STDIN_FILENO, line + len, sizeof line - 1 - len);
		if (n <= 0)
			return 0; /* the test is done with us */
		len += (size_t)n;
		line[len] = '\0';
		while (strchr(line, '\n') != NULL) {
			char *nl = strchr(line, '\n');
			int   before;

			*nl = '\0';
			before = strcmp(line, "sleep") == 0;
			if (strcmp(line, "refuse") == 0)
				refuse_next = true;
			else if (before || strcmp(line, "wake") == 0) {
				r = sd_bus_emit_signal(bus,
				    "/org/freedesktop/login1",
				    "org.freedesktop.login1.Manager",
				    "PrepareForSleep", "b", before);
				printf("emitted %s%s\n",
				    before ? "true" : "false",
				    r < 0 ? " (failed)" : "");
				fflush(stdout);
			}
			len -= (size_t)(nl + 1 - line);
			memmove(line, nl + 1, len + 1);
		}
	}
}
