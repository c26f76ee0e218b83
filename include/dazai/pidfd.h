/* SPDX-License-Identifier: ISC */
#ifndef DAZAI_PIDFD_H
#define DAZAI_PIDFD_H

#include <sys/syscall.h>
#include <sys/types.h>

#include <signal.h>
#include <unistd.h>

/*
 * The two pidfd system calls, for the daemon, the warden and the
 * clients, as raw calls (Debian 12's libc has no wrapper for the second)
 * with the numbers of every architecture where headers lack them.
 * Async-signal-safe: a system call each.
 */

#ifndef SYS_pidfd_open
#define SYS_pidfd_open 434
#endif
#ifndef SYS_pidfd_send_signal
#define SYS_pidfd_send_signal 424
#endif

/* A pidfd for pid (close-on-exec, as the kernel makes it), or -1. */
static inline int
sys_pidfd_open(pid_t pid)
{
	return (int)syscall(SYS_pidfd_open, pid, 0);
}

/* Send sig through a pidfd: 0, or -1 with errno. */
static inline int
sys_pidfd_send_signal(int fd, int sig)
{
	return (int)syscall(SYS_pidfd_send_signal, fd, sig, NULL, 0);
}

#endif
