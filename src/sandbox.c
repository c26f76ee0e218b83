/* SPDX-License-Identifier: ISC */
/*
 * Confinement after start-up. Once the socket listens and the secret is
 * loaded, the process can do nothing but its job: no_new_privs (no
 * set-uid or file-capability gain through execve), Landlock (no file may
 * be opened, created or removed, bar the socket's removal at exit where
 * that can be held to the socket; no TCP from ABI 4), and a seccomp
 * allowlist. Any other system call traps
 * (SECCOMP_RET_TRAP) into a SIGSYS handler that wipes the secret before
 * the process dies: the kernel's kill action would end it at once and
 * leave the secret in freed pages.
 */
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/syscall.h>

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <linux/landlock.h>
#include <seccomp.h>

#include "dazai/log.h"
#include "dazai/sandbox.h"

#ifndef SYS_SECCOMP
#define SYS_SECCOMP 1 /* si_code of a seccomp trap */
#endif

/* Landlock rights newer than the oldest headers we build with. */
#ifndef LANDLOCK_ACCESS_FS_REFER
#define LANDLOCK_ACCESS_FS_REFER (1ULL << 13) /* ABI 2 */
#endif
#ifndef LANDLOCK_ACCESS_FS_TRUNCATE
#define LANDLOCK_ACCESS_FS_TRUNCATE (1ULL << 14) /* ABI 3 */
#endif
#ifndef LANDLOCK_ACCESS_FS_IOCTL_DEV
#define LANDLOCK_ACCESS_FS_IOCTL_DEV (1ULL << 15) /* ABI 5 */
#endif
#ifndef LANDLOCK_ACCESS_NET_BIND_TCP
#define LANDLOCK_ACCESS_NET_BIND_TCP	(1ULL << 0) /* ABI 4 */
#define LANDLOCK_ACCESS_NET_CONNECT_TCP (1ULL << 1)
#endif

/* struct landlock_ruleset_attr as of ABI 4 (old headers stop at fs). */
struct sandbox_ll_attr {
	uint64_t handled_access_fs;
	uint64_t handled_access_net;
};

#define D  SANDBOX_DAZAID
#define H  SANDBOX_HEARTBEAT
#define DH (SANDBOX_DAZAID | SANDBOX_HEARTBEAT)
/* Conditions on a call's arguments. */
enum sandbox_cond {
	ANY,	     /* any arguments */
	UNLINK_OWN,  /* unlinkat(socket's directory, its name buffer, 0) */
	A1_FIONREAD, /* ioctl(fd, FIONREAD, ...) only */
	A2_NOEXEC,   /* mmap, mprotect: never PROT_EXEC */
};

/*
 * THE ALLOWLIST: every system call a confined process may make, for which
 * program, and why. Anything else traps into sandbox_sigsys. Calls that
 * do not exist on an architecture (epoll_wait, poll on arm64) are
 * skipped there; their replacements are listed beside them.
 */
static const struct sandbox_call {
	const char	 *name;
	int		  nr;
	unsigned	  progs;
	enum sandbox_cond cond;
	const char	 *why;
} sandbox_allow[] = {
#define C(call, progs, cond, why) \
	{ \
#call, SCMP_SYS(call), progs, cond, why \
	}
	C(epoll_wait, D, ANY, "libev: wait for the next event"),
	C(epoll_pwait, D, ANY, "libev: the same where epoll_wait is absent"),
	C(epoll_ctl, D, ANY, "libev: watch and unwatch client sockets"),
	C(poll, DH, ANY, "a client before BUSY; pidfd exited?; heartbeat"),
	C(ppoll, DH, ANY, "poll(3) where the poll call is absent"),
	C(restart_syscall, DH, ANY, "resume a wait interrupted by a stop"),
	C(read, DH, ANY, "request lines; libev's wake-up eventfd; signalfd"),
	C(write, DH, ANY, "log lines; libev's wake-up; --ready-fd"),
	C(sendto, DH, ANY, "replies and PINGs (send); systemd READY=1"),
	C(sendmsg, D, ANY, "REGISTER: a pidfd for the warden (SCM_RIGHTS)"),
	C(wait4, D, ANY, "libev's SIGCHLD handler reaps a dead warden"),
	C(accept4, D, ANY, "take the next connection"),
	C(getsockopt, D, ANY, "SO_PEERCRED: who is connecting"),
	C(ioctl, D, A1_FIONREAD, "how much a stalled client sent"),
	C(timerfd_settime, D, ANY,
	    "lifetimes, grace: timers on CLOCK_BOOTTIME"),
	C(close, DH, ANY, "close clients, pidfds, the ready descriptor"),
	C(clock_gettime, DH, ANY, "timers, where the vDSO falls back"),
	C(gettimeofday, D, ANY, "libev's ev_time, where the vDSO falls back"),
	C(time, D, ANY, "time(3): HELLO's stamp, where the vDSO is absent"),
	C(getuid, D, ANY, "name our uid when refusing a peer"),
	C(getpid, DH, ANY, "kill(getpid(), SIGKILL) after a panic"),
	C(getppid, H, ANY, "is the watched parent still ours"),
	C(gettid, D, ANY, "raise(3): re-raise a fatal signal"),
	C(tgkill, D, ANY, "raise(3): re-raise a fatal signal"),
	C(kill, DH, ANY, "SIGKILL self (armed); is the watched pid alive"),
	C(rt_sigprocmask, D, ANY, "libev and raise(3) mask signals briefly"),
	C(rt_sigreturn, D, ANY, "return from libev's signal handlers"),
	C(brk, D, ANY, "malloc: client objects"),
	C(mmap, D, A2_NOEXEC, "malloc; LOAD: grow the buffer in place"),
	C(munmap, D, ANY, "free; unmap the secure buffer at exit"),
	C(madvise, D, ANY, "free; LOAD: growth is DONTDUMP, WIPEONFORK"),
	C(mprotect, D, A2_NOEXEC, "open and close the secure buffer; wipe"),
	C(munlock, D, ANY, "unlock the secure buffer before unmapping it"),
	C(unlinkat, D, UNLINK_OWN, "remove our socket: clean exit, hard paths"),
	C(pidfd_open, D, ANY, "REGISTER: hold the process as a pidfd"),
	C(pidfd_send_signal, D, ANY,
	    "REGISTER's check; SIGKILL registered ones"),
	C(mlock, D, ANY, "LOAD: lock growth (memfd_secret locks its own)"),
	C(memfd_secret, D, ANY,
	    "LOAD NAME: a new secret's own secretmem region"),
	C(ftruncate, D, ANY, "LOAD NAME: size that region, once"),
	C(getrandom, D, ANY, "LOAD: a fresh prekey and nonce (libsodium)"),
	C(readlink, D, ANY, "log a peer's executable (/proc/PID/exe)"),
	C(readlinkat, D, ANY, "readlink(2) where the readlink call is absent"),
	C(exit_group, DH, ANY, "exit"),
#undef C
};
#define NALLOW (sizeof sandbox_allow / sizeof sandbox_allow[0])

/* System call names by number, filled before confinement. */
#define SANDBOX_NR_MAX 512
#define SANDBOX_NAME   24
static char	sandbox_names[SANDBOX_NR_MAX][SANDBOX_NAME];
static uint32_t sandbox_arch;

/* What the SIGSYS handler needs, set before the filter is loaded. */
static const char *volatile sandbox_prefix = "dazai";
static int (*volatile sandbox_wipe_fn)(void);
static bool (*volatile sandbox_armed_fn)(void);

/* The layers that took effect in this process (sandbox_layers). */
static unsigned sandbox_taken;

/* Append s to buf (async-signal-safe). */
static size_t
sandbox_cat(char *buf, size_t n, size_t len, const char *s)
{
	while (*s != '\0' && n + 1 < len)
		buf[n++] = *s++;
	buf[n] = '\0';
	return n;
}

/* Append a decimal number to buf (async-signal-safe). */
static size_t
sandbox_catnum(char *buf, size_t n, size_t len, long v)
{
	unsigned long u = v < 0 ? -(unsigned long)v : (unsigned long)v;

	if (v < 0)
		n = sandbox_cat(buf, n, len, "-");
	n += log_format_ull(buf + n, len - n - 1, u, 0);
	buf[n] = '\0';
	return n;
}

/*
 * SIGSYS. A seccomp trap: the owner's emergency path first (the daemon's
 * makes the secret unrecoverable, kills the registered processes, wipes
 * the buffer and removes the socket), then one line naming the refused
 * call, then SIGKILL (armed, asked at the moment of the trap: ARM may
 * have come since) or exit 0 after WOULD SIGKILL (dry-run), as SIGUSR2
 * does. Any other SIGSYS (kill -SYS): the same path, then die of it with
 * the default action (SA_RESETHAND restored it). Only async-signal-safe
 * calls: mprotect and memset (the wipe), pidfd_send_signal, unlinkat,
 * write or send (log_raw), kill, getpid, raise, _exit; the name comes
 * from a table filled beforehand.
 */
static void
sandbox_sigsys(int sig, siginfo_t *si, void *uctx)
{
	int (*wipe)(void) = sandbox_wipe_fn;
	bool (*armed_fn)(void) = sandbox_armed_fn;
	char	    line[256];
	const char *name = "unknown";
	size_t	    n = 0;
	int	    nr, wiped = -1;
	bool	    armed;

	(void)uctx;
	if (wipe != NULL)
		wiped = wipe();
	if (si == NULL || si->si_code != SYS_SECCOMP) {
		raise(sig);
		_exit(128 + sig);
	}
	nr = si->si_syscall;
	if (si->si_arch != sandbox_arch)
		name = "foreign architecture";
	else if (nr >= 0 && nr < SANDBOX_NR_MAX && sandbox_names[nr][0] != '\0')
		name = sandbox_names[nr];
	n = sandbox_cat(line, n, sizeof line, sandbox_prefix);
	n = sandbox_cat(line, n, sizeof line,
	    ": seccomp: refused system call ");
	n = sandbox_catnum(line, n, sizeof line, nr);
	n = sandbox_cat(line, n, sizeof line, " (");
	n = sandbox_cat(line, n, sizeof line, name);
	n = sandbox_cat(line, n, sizeof line, "); ");
	if (wipe != NULL)
		n = sandbox_cat(line, n, sizeof line,
		    wiped == 0 ? "secret wiped; " : "WIPE FAILED; ");
	armed = armed_fn == NULL || armed_fn();
	n = sandbox_cat(line, n, sizeof line,
	    armed ? "SIGKILL\n" :
		    "WOULD SIGKILL (dry-run: exiting 0 instead)\n");
	log_raw(line, n);
	if (armed) {
		kill(getpid(), SIGKILL);
		_exit(137);
	}
	_exit(0);
}

/*
 * Defaults: nothing took effect yet. armed() says whether a violation
 * ends by SIGKILL (NULL: always); wipe() is the emergency path the SIGSYS
 * handler runs first (NULL: none); unlink_dirfd the socket's directory
 * and unlink_name the one buffer holding the socket's name in it, which
 * every removal of the socket must pass (NULL: no removal is granted).
 */
void
sandbox_init(struct sandbox *sb, enum sandbox_prog prog, const char *name,
    bool (*armed)(void), int (*wipe)(void), int unlink_dirfd,
    const char *unlink_name)
{
	memset(sb, 0, sizeof *sb);
	sb->prog = prog;
	sb->name = name;
	sb->armed = armed;
	sb->wipe = wipe;
	sb->unlink_dirfd = unlink_dirfd;
	sb->unlink_name = unlink_dirfd >= 0 ? unlink_name : NULL;
}

/* Add a note to why: what did not take effect, and the kernel's reason. */
static void
sandbox_note(struct sandbox *sb, const char *what, int err)
{
	size_t n = strlen(sb->why);

	snprintf(sb->why + n, sizeof sb->why - n, "%s%s: %s", n > 0 ? "; " : "",
	    what, strerror(err));
}

/* Every filesystem right the kernel's Landlock ABI knows. */
static uint64_t
sandbox_ll_fs(int abi)
{
	uint64_t fs = (LANDLOCK_ACCESS_FS_MAKE_SYM << 1) - 1;

	if (abi >= 2)
		fs |= LANDLOCK_ACCESS_FS_REFER;
	if (abi >= 3)
		fs |= LANDLOCK_ACCESS_FS_TRUNCATE;
	if (abi >= 5)
		fs |= LANDLOCK_ACCESS_FS_IOCTL_DEV;
	return fs;
}

/*
 * Landlock: handle every filesystem right and grant none, but removing a
 * file beneath the socket's directory when a name to remove is given
 * (our socket at exit); from ABI 4, handle TCP bind and connect and
 * grant neither. Returns 0, or -1 with errno (ENOSYS, EOPNOTSUPP: the
 * kernel has no Landlock).
 */
static int
sandbox_landlock(struct sandbox *sb)
{
	struct sandbox_ll_attr		  attr;
	struct landlock_path_beneath_attr pb;
	long				  abi;
	int				  fd, saved;

	abi = syscall(SYS_landlock_create_ruleset, NULL, 0,
	    LANDLOCK_CREATE_RULESET_VERSION);
	if (abi < 1)
		return -1;
	sb->landlock_abi = (int)abi;
	memset(&attr, 0, sizeof attr);
	attr.handled_access_fs = sandbox_ll_fs((int)abi);
	if (abi >= 4)
		attr.handled_access_net = LANDLOCK_ACCESS_NET_BIND_TCP |
		    LANDLOCK_ACCESS_NET_CONNECT_TCP;
	fd = (int)syscall(SYS_landlock_create_ruleset, &attr,
	    abi >= 4 ? sizeof attr : sizeof attr.handled_access_fs, 0);
	if (fd < 0)
		return -1;
	if (sb->unlink_name != NULL) {
		memset(&pb, 0, sizeof pb);
		pb.allowed_access = LANDLOCK_ACCESS_FS_REMOVE_FILE;
		pb.parent_fd = sb->unlink_dirfd;
		if (syscall(SYS_landlock_add_rule, fd,
			LANDLOCK_RULE_PATH_BENEATH, &pb, 0) != 0)
			goto fail;
	}
	if (syscall(SYS_landlock_restrict_self, fd, 0) != 0)
		goto fail;
	close(fd);
	return 0;
fail:
	saved = errno;
	close(fd);
	errno = saved;
	return -1;
}

/* Fill the name table the SIGSYS handler reads. */
static void
sandbox_fill_names(void)
{
	char *s;
	int   nr;

	sandbox_arch = seccomp_arch_native();
	for (nr = 0; nr < SANDBOX_NR_MAX; nr++) {
		s = seccomp_syscall_resolve_num_arch(SCMP_ARCH_NATIVE, nr);
		if (s == NULL)
			continue;
		snprintf(sandbox_names[nr], SANDBOX_NAME, "%s", s);
		free(s);
	}
}

/* Build and load the allowlist; returns 0 or a negative errno. */
static int
sandbox_seccomp(struct sandbox *sb, const char **failed)
{
	const struct sandbox_call *c;
	scmp_filter_ctx		   ctx;
	size_t			   i;
	int			   rc = 0;

	*failed = "seccomp_init";
	if ((ctx = seccomp_init(SCMP_ACT_TRAP)) == NULL)
		return -ENOMEM;
	/* Errors say what the kernel said, not ECANCELED (best effort). */
	(void)seccomp_attr_set(ctx, SCMP_FLTATR_API_SYSRAWRC, 1);
	/* A call through another ABI (int 0x80) traps too, not kills. */
	if ((rc = seccomp_attr_set(ctx, SCMP_FLTATR_ACT_BADARCH,
		 SCMP_ACT_TRAP)) != 0)
		goto out;
	for (i = 0; i < NALLOW; i++) {
		c = &sandbox_allow[i];
		if (!(c->progs & sb->prog))
			continue;
		*failed = c->name;
		if (c->nr < 0 && seccomp_syscall_resolve_name(c->name) < 0)
			continue; /* not on this architecture */
		switch (c->cond) {
		case ANY:
			rc = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, c->nr, 0);
			break;
		case UNLINK_OWN:
			/* Only where Landlock holds the call beneath the
			 * socket's directory: the filter compares the name's
			 * address, not its bytes (sandbox_confine). */
			if (!sb->unlink_ok)
				continue;
			rc = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, c->nr, 3,
			    SCMP_A0_32(SCMP_CMP_EQ, (uint32_t)sb->unlink_dirfd,
				0),
			    SCMP_A1_64(SCMP_CMP_EQ,
				(uint64_t)(uintptr_t)sb->unlink_name, 0),
			    SCMP_A2_32(SCMP_CMP_EQ, 0, 0));
			break;
		case A1_FIONREAD:
			rc = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, c->nr, 1,
			    SCMP_A1_32(SCMP_CMP_EQ, FIONREAD, 0));
			break;
		case A2_NOEXEC:
			rc = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, c->nr, 1,
			    SCMP_A2_32(SCMP_CMP_MASKED_EQ, PROT_EXEC, 0));
			break;
		}
		if (rc != 0)
			goto out;
	}
	*failed = "seccomp_load";
	rc = seccomp_load(ctx);
out:
	seccomp_release(ctx);
	return rc;
}

/*
 * Confine the calling process: no_new_privs, Landlock where the kernel
 * offers it, the seccomp allowlist. Landlock missing or refused is noted
 * in sb->why and is not an error (the allowlist still holds); a failure
 * of no_new_privs, of the SIGSYS handler or of seccomp is: -1 with a
 * message in err. The caller decides what becomes of the secret then.
 */
int
sandbox_confine(struct sandbox *sb, char *err, size_t errlen)
{
	struct sigaction sa;
	const char	*failed;
	int		 rc;

#ifdef DAZAI_SANITIZER
	/*
	 * make sanitize defines DAZAI_SANITIZER: LeakSanitizer checks for
	 * leaks at exit from a thread that ptraces the process and reads
	 * /proc/self, which neither the allowlist nor Landlock allow.
	 */
	snprintf(sb->why, sizeof sb->why,
	    "this is a sanitizer build, whose "
	    "leak check at exit needs ptrace and /proc");
	return 0;
#endif
	/* Log lines format the time with localtime_r: read the zone file
	 * now, while files may still be opened. */
	tzset();
	sandbox_fill_names();
	sandbox_prefix = sb->name;
	sandbox_wipe_fn = sb->wipe;
	sandbox_armed_fn = sb->armed;

	/* As for the other fatal signals: SA_RESETHAND restores the default
	 * action and SA_NODEFER lets the handler's raise deliver it now. */
	memset(&sa, 0, sizeof sa);
	sigemptyset(&sa.sa_mask);
	sa.sa_sigaction = sandbox_sigsys;
	sa.sa_flags = SA_SIGINFO | SA_RESETHAND | SA_NODEFER;
	if (sigaction(SIGSYS, &sa, NULL) != 0) {
		snprintf(err, errlen, "sigaction SIGSYS: %s", strerror(errno));
		return -1;
	}

	/* No privilege can be gained from here on (and Landlock needs it). */
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) {
		snprintf(err, errlen, "prctl(PR_SET_NO_NEW_PRIVS): %s",
		    strerror(errno));
		return -1;
	}
	sb->layers |= SANDBOX_NNP;

	if (sandbox_landlock(sb) == 0) {
		sb->layers |= SANDBOX_LANDLOCK;
		/*
		 * The socket's removal: unlinkat with the socket's directory,
		 * the address of the one buffer naming the socket, and no
		 * flags (no AT_REMOVEDIR), and Landlock's REMOVE_FILE beneath
		 * that directory only. seccomp sees the name's address, not
		 * its bytes, so without Landlock a rewritten name ("../x",
		 * "/x") would reach any file of ours: no removal at all then.
		 */
		sb->unlink_ok = sb->unlink_name != NULL;
	} else if (errno == ENOSYS || errno == EOPNOTSUPP)
		sandbox_note(sb, "landlock not offered by this kernel", errno);
	else
		sandbox_note(sb, "landlock refused", errno);

	if ((rc = sandbox_seccomp(sb, &failed)) != 0) {
		snprintf(err, errlen, "seccomp: %s: %s", failed, strerror(-rc));
		return -1;
	}
	sb->layers |= SANDBOX_SECCOMP;
	sandbox_taken = sb->layers;
	return 0;
}

/* Is this process under the seccomp allowlist? */
bool
sandbox_active(void)
{
	return (sandbox_taken & SANDBOX_SECCOMP) != 0;
}

/* Name a set of layers: "seccomp,landlock", "seccomp", "landlock", "off". */
static const char *
sandbox_layer_name(unsigned layers)
{
	if ((layers & SANDBOX_SECCOMP) && (layers & SANDBOX_LANDLOCK))
		return "seccomp,landlock";
	if (layers & SANDBOX_SECCOMP)
		return "seccomp";
	if (layers & SANDBOX_LANDLOCK)
		return "landlock";
	return "off";
}

/*
 * The layers in effect in this process as one word, for STATUS:
 * "seccomp,landlock", "seccomp" or "off".
 */
const char *
sandbox_layers(void)
{
	return sandbox_layer_name(sandbox_taken);
}

/*
 * What took effect, for --verbose and STATUS: "seccomp,landlock",
 * "seccomp (landlock: not offered by this kernel ...)" or "off".
 */
const char *
sandbox_describe(const struct sandbox *sb, char *buf, size_t len)
{
	const char *layers = sandbox_layer_name(sb->layers);

	if (sb->why[0] != '\0')
		snprintf(buf, len, "%s (%s)", layers, sb->why);
	else
		snprintf(buf, len, "%s", layers);
	return buf;
}
