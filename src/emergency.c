/* SPDX-License-Identifier: ISC */
/*
 * Everything that runs inside a signal handler: SIGUSR2 (the hard panic),
 * the fatal signals, the fatal() exit hook and the seccomp filter's SIGSYS
 * callback all run the kill sequence here, with only async-signal-safe
 * calls. Here too is the process's one fact of "armed" and its one view
 * of the socket, with the one function that removes it, which the clean
 * exit uses as well. Set before any secret exists; below the daemon, it
 * knows nothing of the loop.
 */
#include <sys/mman.h>

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "dazai/emergency.h"
#include "dazai/log.h"
#include "dazai/procs.h"
#include "dazai/secmem.h"
#include "dazai/sockpath.h"

/*
 * What the handlers that act inside a signal need, set before any secret
 * exists: whether the final SIGKILL is real, and the socket to remove.
 */
static volatile sig_atomic_t hard_armed;
static void (*volatile hard_notice)(const char *); /* the warden's */
static char	    hard_socket[SOCKPATH_MAX + 1];
static volatile int hard_dirfd = -1; /* the socket's directory, once held */
/* The socket's name in it: the one buffer every unlinkat passes (the
 * seccomp filter compares this address), a read-only page of its own
 * once emergency_set_socket_dir has filled it (else hard_name_buf). */
static char hard_name_buf[SOCKPATH_MAX + 1];
static const char *volatile hard_name = hard_name_buf;

/* How the socket is removed at exit and on the hard paths. */
enum hard_unlink {
	HARD_UNLINK_PATH,  /* unconfined: unlink(2) by path */
	HARD_UNLINK_OWN,   /* confined: unlinkat(dirfd, hard_name, 0) */
	HARD_UNLINK_LEAVE, /* confined, removal not granted: leave it */
};
static volatile sig_atomic_t hard_unlink = HARD_UNLINK_PATH;
static const char	    *hard_leave_why; /* why it is left */

/* Write a constant message from a handler (async-signal-safe). */
#define HARD_SAY(msg) log_raw((msg), sizeof(msg) - 1)

/*
 * The part of every hard path that must happen before the process ends:
 * zero the secret (mprotect and memset: the buffers only once every
 * shield is zero, so the logged moment stays the shields' first zeroing;
 * shields and buffers if a shield was refused), then remove the socket
 * (emergency_remove_socket; where the sandbox grants no removal it is
 * left, said: the next start replaces a dead socket). Returns 0, or -1 if
 * the wipe failed (said). Async-signal-safe.
 */
static int
hard_wipe(bool shields_zero)
{
	int rc = 0;

	if ((shields_zero ? secmem_emergency_wipe_buffers() :
			    secmem_emergency_wipe()) != 0) {
		HARD_SAY("dazaid: WIPE FAILED: the secret memory could not be "
			 "made writable\n");
		rc = -1;
	}
	if (emergency_remove_socket(NULL) == 1)
		HARD_SAY("dazaid: socket left for the next start to "
			 "replace\n");
	return rc;
}

/*
 * Under --verbose, say when the keys were zeroed (CLOCK_MONOTONIC): the
 * moment the secret became unrecoverable; who prefixes it ("SIGUSR2: ",
 * or "" from the loop's panic). Formatted with log_format_ull
 * and written with log_raw only, so that a signal handler may call it.
 */
void
emergency_log_zeroed(const char *who)
{
	static const char tail[] = " (CLOCK_MONOTONIC)\n";
	struct timespec	  ts;
	char		  line[128];
	size_t		  off = 0;

	if (!log_verbose())
		return;
	secmem_keys_zeroed_at(&ts);
#define HARD_PUT(s, l) \
	do { \
		if (off + (l) < sizeof line) { \
			memcpy(line + off, (s), (l)); \
			off += (l); \
		} \
	} while (0)
	HARD_PUT("dazaid: ", 8);
	HARD_PUT(who, strlen(who));
	HARD_PUT("prekey zeroed at ", 17);
	off += log_format_ull(line + off, sizeof line - off,
	    (unsigned long long)ts.tv_sec, 0);
	HARD_PUT(".", 1);
	off += log_format_ull(line + off, sizeof line - off,
	    (unsigned long long)ts.tv_nsec, 9);
	HARD_PUT(tail, sizeof tail - 1);
#undef HARD_PUT
	log_raw(line, off);
}

/*
 * The kill sequence inside a signal handler, in the order of a panic: the
 * secret made unrecoverable (every shield zeroed), the registered
 * processes killed through their pidfds (dry-run: named), the buffer
 * zeroed and the socket removed; who (NULL: say nothing) prefixes the
 * --verbose line with the moment the keys were zeroed. Returns 0, or -1
 * if some memory could not be zeroed (said). Only async-signal-safe
 * calls: mprotect, memset and clock_gettime (secmem), pidfd_send_signal,
 * unlink or unlinkat, write or send (log_raw, which never blocks).
 */
static int
hard_sequence(const char *who, const char *why)
{
	int shielded, wiped;

	shielded = secmem_emergency_shield();
	procs_emergency(hard_armed);
	wiped = hard_wipe(shielded == 0);
	if (hard_notice != NULL)
		hard_notice(why);
	if (wiped != 0 || shielded != 0)
		return -1;
	if (who != NULL)
		emergency_log_zeroed(who);
	return 0;
}

/*
 * Who hears of a hard path once its wipe and kills are done (the
 * warden's panic notice): an async-signal-safe function taking a
 * constant reason. Set before any secret exists.
 */
void
emergency_set_notice(void (*fn)(const char *))
{
	hard_notice = fn;
}

/* SIGUSR2: hard panic inside the handler, then death (or exit 0). */
static void
hard_panic(int sig)
{
	(void)sig;
	hard_sequence("SIGUSR2: ", "SIGUSR2: hard panic");
	if (hard_armed) {
		kill(getpid(), SIGKILL);
		_exit(137);
	}
	HARD_SAY("dazaid: SIGUSR2: secret wiped; WOULD SIGKILL (dry-run)\n");
	_exit(0);
}

/*
 * The seccomp filter's SIGSYS handler (sandbox_sigsys) runs the kill
 * sequence through this before it names the refused call and dies.
 */
int
emergency_sigsys(void)
{
	return hard_sequence("SIGSYS: ", "seccomp trap: a refused system call");
}

/* Is the final SIGKILL real now (--arm, or ARM since)? Async-signal-safe. */
bool
emergency_armed(void)
{
	return hard_armed != 0;
}

/* ARM: the final SIGKILL is real from now on (never the reverse). */
void
emergency_arm(void)
{
	hard_armed = 1;
}

/*
 * Every other signal whose default action ends the process: wipe, kill
 * the registered processes (armed) or name them (dry-run), then die of
 * the same signal with its default action (SA_RESETHAND restored
 * it; SA_NODEFER lets raise deliver it now). Async-signal-safe as above.
 */
static void
hard_fatal_signal(int sig)
{
	hard_sequence(NULL, "fatal signal");
	raise(sig);
}

/*
 * fatal() and fatalx() end the process through this hook: the kill
 * sequence first (the secret zeroed, registered processes killed when
 * armed, the socket removed), whatever the error was.
 */
static void
hard_fatal_exit(int status)
{
	hard_sequence(NULL, "fatal error");
	exit(status);
}

/*
 * Install the dispositions that act inside a handler, ignore SIGPIPE and
 * make fatal() wipe; armed (--arm) is the start-up value of the one
 * "armed". Called before any secret byte exists. SIGUSR1, SIGTERM,
 * SIGINT and SIGHUP go through the loop (daemon_init).
 */
void
emergency_install(bool armed)
{
	static const int fatal_sigs[] = { SIGSEGV, SIGBUS, SIGILL, SIGFPE,
		SIGABRT, SIGQUIT, SIGALRM, SIGSYS, SIGTRAP, SIGXCPU, SIGXFSZ,
		SIGVTALRM, SIGPROF, SIGPWR, SIGSTKFLT, SIGIO };
	struct sigaction sa;
	size_t		 i;
	int		 sig;

	hard_armed = armed;
	log_set_exit_hook(hard_fatal_exit);
	memset(&sa, 0, sizeof sa);
	sigfillset(&sa.sa_mask);
	sa.sa_handler = hard_panic;
	if (sigaction(SIGUSR2, &sa, NULL) != 0)
		fatal(1, "sigaction SIGUSR2");

	memset(&sa, 0, sizeof sa);
	sigemptyset(&sa.sa_mask);
	sa.sa_handler = hard_fatal_signal;
	sa.sa_flags = SA_RESETHAND | SA_NODEFER;
	for (i = 0; i < sizeof fatal_sigs / sizeof fatal_sigs[0]; i++)
		if (sigaction(fatal_sigs[i], &sa, NULL) != 0)
			fatal(1, "sigaction %d", fatal_sigs[i]);
	/* The real-time signals also terminate by default. One that the
	 * runtime keeps for itself (EINVAL: valgrind holds SIGRTMAX) is
	 * not ours to catch. */
	for (sig = SIGRTMIN; sig <= SIGRTMAX; sig++)
		if (sigaction(sig, &sa, NULL) != 0 && errno != EINVAL)
			fatal(1, "sigaction %d", sig);

	/* A keystroke (^Z) or a terminal setting (stty tostop, a log line
	 * from the background) must not stop a switch before it wipes:
	 * job-control stops are ignored (SIGSTOP cannot be). */
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = SIG_IGN;
	if (sigaction(SIGPIPE, &sa, NULL) != 0 ||
	    sigaction(SIGTSTP, &sa, NULL) != 0 ||
	    sigaction(SIGTTIN, &sa, NULL) != 0 ||
	    sigaction(SIGTTOU, &sa, NULL) != 0)
		fatal(1, "sigaction");
}

/* Name the socket the hard paths and the clean exit remove. */
void
emergency_set_socket(const char *path)
{
	size_t n = strlen(path);

	if (n >= sizeof hard_socket)
		n = 0;
	memcpy(hard_socket, path, n);
	hard_socket[n] = '\0';
}

/*
 * Keep the socket's directory (an O_PATH descriptor) and its name (in
 * hard_name) for removing the socket at exit and on the hard paths:
 * once confined, the daemon may name no path, only unlinkat(2) relative
 * to this directory with that one buffer, and only if the sandbox grants
 * it (emergency_socket_removal). Called just before confinement: from
 * here until told otherwise the socket is left.
 */
void
emergency_set_socket_dir(int dirfd)
{
	const char *slash = strrchr(hard_socket, '/');
	const char *base = slash != NULL ? slash + 1 : hard_socket;
	size_t	    pg = (size_t)sysconf(_SC_PAGESIZE);
	char	   *p;

	snprintf(hard_name_buf, sizeof hard_name_buf, "%s", base);
	/* A page of its own, read-only: a stray or hostile write to the
	 * name faults rather than redirect the removal (a daemon that can
	 * make system calls at will can still mprotect it: see dazaid(1)). */
	p = mmap(NULL, pg, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
	    -1, 0);
	if (p != MAP_FAILED) {
		snprintf(p, pg, "%s", base);
		if (mprotect(p, pg, PROT_READ) == 0)
			hard_name = p;
		else
			munmap(p, pg);
	}
	hard_dirfd = dirfd;
	hard_leave_why = "confinement did not finish";
	hard_unlink = HARD_UNLINK_LEAVE;
}

/* The buffer naming the socket in its directory, for the sandbox. */
const char *
emergency_socket_name(void)
{
	return hard_name;
}

/*
 * After confinement: granted, the socket is removed with unlinkat(2)
 * through its directory and hard_name; else it is left at exit (why says
 * why, for the log line) for the next start to replace. unconfined: the
 * sandbox took no effect (a sanitizer build), unlink(2) by path.
 */
void
emergency_socket_removal(bool unconfined, bool granted, const char *why)
{
	hard_leave_why = why;
	if (unconfined)
		hard_unlink = HARD_UNLINK_PATH;
	else
		hard_unlink = granted ? HARD_UNLINK_OWN : HARD_UNLINK_LEAVE;
}

/*
 * Remove the socket: unlink(2) by path unconfined; once confined,
 * unlinkat(2) through its directory with the one name buffer, or not at
 * all where the sandbox grants no removal. The one removal, for the hard
 * paths and the clean exit alike. Returns 0 once removed (or if no socket
 * was named), 1 if it is left (*why, unless NULL, says why), or -1 with
 * errno. Async-signal-safe: unlink, unlinkat.
 */
int
emergency_remove_socket(const char **why)
{
	if (hard_socket[0] == '\0')
		return 0;
	switch (hard_unlink) {
	case HARD_UNLINK_OWN:
		return unlinkat(hard_dirfd, hard_name, 0);
	case HARD_UNLINK_LEAVE:
		if (why != NULL)
			*why = hard_leave_why;
		return 1;
	default:
		return unlink(hard_socket);
	}
}
