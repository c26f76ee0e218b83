/* SPDX-License-Identifier: ISC */
/*
 * Registered processes, held as pidfds (pidfd_open(2),
 * pidfd_send_signal(2)): a pidfd names one process, not a number the
 * kernel recycles.
 */

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <string.h>
#include <unistd.h>

#include "dazai/log.h"
#include "dazai/pidfd.h"
#include "dazai/procs.h"

/*
 * The registrations: a pidfd (-1: free slot) and the pid it was opened
 * for (for logs). Read by the signal handlers with plain loads.
 */
static struct {
	volatile int   fd;
	volatile pid_t pid;
} procs_table[PROCS_MAX] = {
	[0 ... PROCS_MAX - 1] = { -1, 0 },
};

/* Send sig through a pidfd (0 on success). Async-signal-safe. */
static int
procs_signal(int fd, int sig)
{
	return sys_pidfd_send_signal(fd, sig);
}

/* Has the process behind a pidfd exited (the pidfd is readable)? */
static bool
procs_exited(int fd)
{
	struct pollfd pfd = { fd, POLLIN, 0 };

	return poll(&pfd, 1, 0) == 1;
}

/*
 * Register pid: a live process we may signal, other than ourselves.
 * Registering one already held is a success. *slot gets its index.
 */
enum procs_result
procs_register(pid_t pid, int *slot)
{
	int i, fd, free_slot = -1;

	if (pid <= 0 || pid == getpid())
		return PROCS_INVALID;
	for (i = 0; i < PROCS_MAX; i++) {
		if (procs_table[i].fd >= 0 && procs_table[i].pid == pid &&
		    !procs_exited(procs_table[i].fd)) {
			*slot = i;
			return PROCS_OK;
		}
		if (procs_table[i].fd < 0 && free_slot < 0)
			free_slot = i;
	}
	if ((fd = sys_pidfd_open(pid)) < 0)
		return PROCS_INVALID;
	/* A zombie has a pidfd but is dead; one we may not signal (signal
	 * 0 checks the permission) could never be killed. */
	if (procs_exited(fd) || procs_signal(fd, 0) != 0) {
		close(fd);
		return PROCS_INVALID;
	}
	if (free_slot < 0) {
		close(fd);
		return PROCS_FULL;
	}
	/* pidfds are close-on-exec from birth. */
	procs_table[free_slot].pid = pid;
	procs_table[free_slot].fd = fd;
	*slot = free_slot;
	return PROCS_OK;
}

/* Free a slot (its process exited, or it was unregistered). */
void
procs_remove(int slot)
{
	int fd;

	if (slot < 0 || slot >= PROCS_MAX || (fd = procs_table[slot].fd) < 0)
		return;
	procs_table[slot].fd = -1;
	procs_table[slot].pid = 0;
	close(fd);
}

/* How many are registered. */
int
procs_count(void)
{
	int i, n = 0;

	for (i = 0; i < PROCS_MAX; i++)
		if (procs_table[i].fd >= 0)
			n++;
	return n;
}

/* The pidfd of a slot (-1 if free), for the loop to watch. */
int
procs_fd(int slot)
{
	return slot >= 0 && slot < PROCS_MAX ? procs_table[slot].fd : -1;
}

/* The pid a slot was registered for (0 if free). */
pid_t
procs_pid(int slot)
{
	return slot >= 0 && slot < PROCS_MAX ? procs_table[slot].pid : 0;
}

/*
 * SIGKILL every registered process (armed), or only say that it would
 * (dry-run: "WOULD SIGKILL pid N", nothing is killed). Armed, the
 * registrations end. Returns how many were (or would be) killed.
 */
int
procs_kill_all(bool armed)
{
	int   i, fd, n = 0;
	pid_t pid;

	for (i = 0; i < PROCS_MAX; i++) {
		if ((fd = procs_table[i].fd) < 0)
			continue;
		pid = procs_table[i].pid;
		n++;
		if (!armed) {
			log_info("WOULD SIGKILL pid %d (registered; dry-run)",
			    (int)pid);
			continue;
		}
		if (procs_signal(fd, SIGKILL) == 0)
			log_info("SIGKILL pid %d (registered)", (int)pid);
		else if (errno == ESRCH)
			log_info("pid %d (registered) had already exited",
			    (int)pid);
		else
			log_warn("SIGKILL pid %d (registered)", (int)pid);
		procs_remove(i);
	}
	return n;
}

/*
 * From a signal handler: SIGKILL every registered process through its
 * pidfd (armed), or write "WOULD SIGKILL pid N" for each (dry-run).
 * Async-signal-safe: plain loads, pidfd_send_signal(2), write (log_raw).
 */
void
procs_emergency(bool armed)
{
	static const char would[] = "dazaid: WOULD SIGKILL pid ";
	char		  line[64];
	size_t		  off;
	int		  i, fd;

	for (i = 0; i < PROCS_MAX; i++) {
		if ((fd = procs_table[i].fd) < 0)
			continue;
		if (armed) {
			procs_signal(fd, SIGKILL);
			continue;
		}
		memcpy(line, would, sizeof would - 1);
		off = sizeof would - 1;
		off += log_format_ull(line + off, sizeof line - off - 23,
		    (unsigned long long)procs_table[i].pid, 0);
		memcpy(line + off, " (registered; dry-run)\n", 23);
		log_raw(line, off + 23);
	}
}
