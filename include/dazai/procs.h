/* SPDX-License-Identifier: ISC */
#ifndef DAZAI_PROCS_H
#define DAZAI_PROCS_H

#include <sys/types.h>

#include <stdbool.h>

/*
 * Registered processes: the ones an armed panic SIGKILLs before the
 * daemon dies. Each is held as a pidfd, so a pid the kernel has given to
 * another process since is never signalled. The table is static, like
 * the secure buffer's emergency table, so that a signal handler can kill
 * them with plain loads and system calls (async-signal-safe).
 */

#define PROCS_MAX 32

enum procs_result {
	PROCS_OK,
	PROCS_INVALID, /* not a live process we may signal */
	PROCS_FULL,    /* PROCS_MAX already */
};

enum procs_result procs_register(pid_t, int *);
void		  procs_remove(int);
int		  procs_count(void);
int		  procs_fd(int);
pid_t		  procs_pid(int);
int		  procs_kill_all(bool);
void		  procs_emergency(bool);

#endif
