/* SPDX-License-Identifier: ISC */
/*
 * The event loop and the glue: the listener, the connections (conn), the
 * timers, the signals and the registered processes. Callbacks dispatch;
 * proto decides what a line means, conn moves its bytes, policy decides
 * what an event does.
 */
#include <sys/mman.h>
#include <sys/socket.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <signal.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <ev.h>

#include "dazai/conn.h"
#include "dazai/control.h"
#include "dazai/daemon.h"
#include "dazai/log.h"
#include "dazai/procs.h"
#include "dazai/proto.h"
#include "dazai/sandbox.h"
#include "dazai/sockpath.h"
#include "dazai/vault.h"

#define container_of(p, type, member) \
	((type *)(void *)((char *)(p) - offsetof(type, member)))

/*
 * What the handlers that act inside a signal need, set before any secret
 * exists: whether the final SIGKILL is real, and the socket to remove.
 */
static volatile sig_atomic_t hard_armed;
static char hard_socket[SOCKPATH_MAX + 1];
static volatile int hard_dirfd = -1;	/* the socket's directory, once held */
/* The socket's name in it: the one buffer every unlinkat passes (the
 * seccomp filter compares this address), a read-only page of its own
 * once daemon_set_socket_dir has filled it (else hard_name_buf). */
static char hard_name_buf[SOCKPATH_MAX + 1];
static const char *volatile hard_name = hard_name_buf;

/* How the socket is removed at exit and on the hard paths. */
enum hard_unlink {
	HARD_UNLINK_PATH,	/* unconfined: unlink(2) by path */
	HARD_UNLINK_OWN,	/* confined: unlinkat(dirfd, hard_name, 0) */
	HARD_UNLINK_LEAVE,	/* confined, removal not granted: leave it */
};
static volatile sig_atomic_t hard_unlink = HARD_UNLINK_PATH;
static const char *hard_leave_why;	/* why it is left */

/* Write a constant message from a handler (async-signal-safe). */
#define HARD_SAY(msg)	log_raw((msg), sizeof (msg) - 1)

/*
 * The part of every hard path that must happen before the process ends:
 * zero the secret (secmem_emergency_wipe: mprotect and memset), then
 * remove the socket (unlink; once confined, unlinkat through its
 * directory with the one name buffer, or not at all where the sandbox
 * grants no removal: the next start replaces a dead socket). Returns 0,
 * or -1 if the wipe failed (said). Async-signal-safe.
 */
static int
daemon_hard_wipe(void)
{
	int	 rc = 0;

	if (secmem_emergency_wipe() != 0) {
		HARD_SAY("dazaid: WIPE FAILED: the secret memory could not be "
		    "made writable\n");
		rc = -1;
	}
	if (hard_socket[0] == '\0')
		return rc;
	switch (hard_unlink) {
	case HARD_UNLINK_OWN:
		unlinkat(hard_dirfd, hard_name, 0);
		break;
	case HARD_UNLINK_LEAVE:
		HARD_SAY("dazaid: socket left for the next start to "
		    "replace\n");
		break;
	default:
		unlink(hard_socket);
		break;
	}
	return rc;
}

/*
 * Under --verbose, say when the keys were zeroed (CLOCK_MONOTONIC): the
 * moment the secret became unrecoverable. Formatted with log_format_ull
 * and written with log_raw only, so that a signal handler may call it.
 */
static void
daemon_log_zeroed(const char *who)
{
	static const char	 tail[] = " (CLOCK_MONOTONIC)\n";
	struct timespec		 ts;
	char			 line[128];
	size_t			 off = 0;

	if (!log_verbose())
		return;
	secmem_keys_zeroed_at(&ts);
#define DAEMON_PUT(s, l) do {						\
	if (off + (l) < sizeof line) {					\
		memcpy(line + off, (s), (l));				\
		off += (l);						\
	}								\
} while (0)
	DAEMON_PUT("dazaid: ", 8);
	DAEMON_PUT(who, strlen(who));
	DAEMON_PUT("prekey zeroed at ", 17);
	off += log_format_ull(line + off, sizeof line - off,
	    (unsigned long long)ts.tv_sec, 0);
	DAEMON_PUT(".", 1);
	off += log_format_ull(line + off, sizeof line - off,
	    (unsigned long long)ts.tv_nsec, 9);
	DAEMON_PUT(tail, sizeof tail - 1);
#undef DAEMON_PUT
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
daemon_hard_sequence(const char *who)
{
	int	 shielded;

	shielded = secmem_emergency_shield();
	procs_emergency(hard_armed);
	if (daemon_hard_wipe() != 0 || shielded != 0)
		return -1;
	if (who != NULL)
		daemon_log_zeroed(who);
	return 0;
}

/* SIGUSR2: hard panic inside the handler, then death (or exit 0). */
static void
daemon_hard_panic(int sig)
{
	(void)sig;
	daemon_hard_sequence("SIGUSR2: ");
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
daemon_hard_emergency(void)
{
	return daemon_hard_sequence("SIGSYS: ");
}

/* Is the final SIGKILL real now (--arm, or ARM since)? Async-signal-safe. */
bool
daemon_hard_armed(void)
{
	return hard_armed != 0;
}

/*
 * Every other signal whose default action ends the process: wipe, kill
 * the registered processes (armed) or name them (dry-run), then die of
 * the same signal with its default action (SA_RESETHAND restored
 * it; SA_NODEFER lets raise deliver it now). Async-signal-safe as above.
 */
static void
daemon_fatal_signal(int sig)
{
	daemon_hard_sequence(NULL);
	raise(sig);
}

/*
 * fatal() and fatalx() end the process through this hook: the kill
 * sequence first (the secret zeroed, registered processes killed when
 * armed, the socket removed), whatever the error was.
 */
static void
daemon_fatal_exit(int status)
{
	daemon_hard_sequence(NULL);
	exit(status);
}

/*
 * Install the dispositions that act inside a handler, ignore SIGPIPE and
 * make fatal() wipe. Called before any secret byte exists. SIGUSR1,
 * SIGTERM, SIGINT and SIGHUP go through the loop (daemon_init).
 */
void
daemon_install_hard_signals(bool armed)
{
	static const int	 fatal_sigs[] = { SIGSEGV, SIGBUS, SIGILL,
				    SIGFPE, SIGABRT, SIGQUIT, SIGALRM, SIGSYS,
				    SIGTRAP, SIGXCPU, SIGXFSZ, SIGVTALRM,
				    SIGPROF, SIGPWR, SIGSTKFLT, SIGIO };
	struct sigaction	 sa;
	size_t			 i;
	int			 sig;

	hard_armed = armed;
	log_set_exit_hook(daemon_fatal_exit);
	memset(&sa, 0, sizeof sa);
	sigfillset(&sa.sa_mask);
	sa.sa_handler = daemon_hard_panic;
	if (sigaction(SIGUSR2, &sa, NULL) != 0)
		fatal(1, "sigaction SIGUSR2");

	memset(&sa, 0, sizeof sa);
	sigemptyset(&sa.sa_mask);
	sa.sa_handler = daemon_fatal_signal;
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

/* Name the socket the hard paths remove (before it is created). */
void
daemon_set_hard_socket(const char *path)
{
	size_t	 n = strlen(path);

	if (n >= sizeof hard_socket)
		n = 0;
	memcpy(hard_socket, path, n);
	hard_socket[n] = '\0';
}

/* Seconds on the monotonic clock: every deadline is measured on it. */
static double
daemon_mono(void)
{
	struct timespec	 ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Policy action: overwrite the secret; say so only if it was done. */
static void
daemon_do_wipe(void *arg)
{
	struct daemon	*d = arg;

	vault_panic_wipe(&d->vault);
}

/*
 * Log what triggered the event being fed to the policy, once: after the
 * keys are zeroed when it fires at once, so that no log line (a write that
 * a terminal could hold) comes before the secret is unrecoverable.
 */
static void
daemon_say_trigger(struct daemon *d)
{
	if (d->trigger != NULL)
		log_info("%s", d->trigger);
	d->trigger = NULL;
}

/*
 * Policy action, first of the kill sequence: zero the prekey and key, so
 * the secret is unrecoverable whatever its size before anything else
 * (killing, wiping the whole buffer) takes time.
 */
static void
daemon_do_unrecoverable(void *arg)
{
	struct daemon	*d = arg;
	int		 failed = secmem_emergency_shield();

	if (failed != 0)
		log_warnx("WIPE FAILED: the prekey could not be made writable");
	else
		daemon_log_zeroed("");
	daemon_say_trigger(d);
}

/* Stop watching the pidfds whose registration has ended. */
static void
daemon_sync_procs(struct daemon *d)
{
	int	 i;

	for (i = 0; i < PROCS_MAX; i++)
		if (procs_fd(i) < 0 && ev_is_active(&d->proc_w[i]))
			ev_io_stop(d->loop, &d->proc_w[i]);
}

/*
 * SIGKILL the registered processes (armed: their registrations end) or
 * name them (dry-run).
 */
static void
daemon_kill_procs(struct daemon *d, bool armed)
{
	int	 i;

	if (armed)
		for (i = 0; i < PROCS_MAX; i++)
			ev_io_stop(d->loop, &d->proc_w[i]);
	procs_kill_all(armed);
	daemon_sync_procs(d);
}

/* Policy action, armed: SIGKILL every registered process. */
static void
daemon_do_kill_procs(void *arg)
{
	daemon_kill_procs(arg, true);
}

/* Policy action, dry-run: name the registered processes. */
static void
daemon_do_would_kill_procs(void *arg)
{
	daemon_kill_procs(arg, false);
}

/* Policy action, armed: die now. */
static void
daemon_do_kill(void *arg)
{
	(void)arg;
	kill(getpid(), SIGKILL);
	_exit(137);
}

/* Policy action, dry-run: say what armed would do. */
static void
daemon_do_would_kill(void *arg)
{
	(void)arg;
	log_info("WOULD SIGKILL (dry-run: exiting 0 instead)");
}

/*
 * Format a monotonic deadline as the wall-clock time it falls on, for log
 * lines only.
 */
static void
daemon_clock(double mono, char *buf, size_t len)
{
	time_t		 s = time(NULL) + (time_t)(mono - daemon_mono() + 0.5);
	struct tm	 tm;

	if (localtime_r(&s, &tm) == NULL ||
	    strftime(buf, len, "%H:%M:%S", &tm) == 0)
		snprintf(buf, len, "%lld", (long long)s);
}

/* Carry out what the policy asked for. */
static void
daemon_apply(struct daemon *d, const struct policy_out *out, const char *why)
{
	char	 when[32];

	if (out->aborted) {
		ev_timer_stop(d->loop, &d->grace_w);
		log_info("pending panic aborted (%s); now %s", why,
		    policy_state_name(d->policy.state));
	}
	if (out->escalated)
		log_info("panic requested during the grace window: only CANCEL "
		    "ends it now, a reconnecting heartbeat does not");
	if (out->started) {
		daemon_clock(out->deadline, when, sizeof when);
		log_info("panic (%s): grace window of %gs, wipe at %s unless "
		    "cancelled", why, d->grace, when);
	}
	if (out->arm_timer) {
		double left = out->deadline - daemon_mono();

		ev_timer_stop(d->loop, &d->grace_w);
		ev_timer_set(&d->grace_w, left > 0 ? left : 0, 0);
		ev_timer_start(d->loop, &d->grace_w);
	}
	if (out->fired) {
		d->stopping = true;
		ev_break(d->loop, EVBREAK_ALL);
	}
}

/*
 * Feed the policy an event from src (a heartbeat's id, 0 for any other
 * source) and carry out the answer. A loss or a panic request is logged
 * once the policy has acted: after the keys are zeroed if it fired.
 */
static struct policy_out
daemon_event(struct daemon *d, enum policy_event ev, unsigned long src,
    const char *why)
{
	struct policy_out out;

	d->trigger = ev == POLICY_EV_LOST || ev == POLICY_EV_PANIC ? why :
	    NULL;
	out = policy_step(&d->policy, ev, src, daemon_mono());
	daemon_say_trigger(d);
	daemon_apply(d, &out, why);
	return out;
}

/* A registered process exited: its registration ends. */
static void
daemon_proc_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	int	 slot = (int)(intptr_t)w->data;

	(void)revents;
	ev_io_stop(loop, w);
	log_info("registered pid %d exited; registration ended",
	    (int)procs_pid(slot));
	procs_remove(slot);
}

/*
 * A heartbeat leaves the table (QUIT, or its connection closed). Only
 * the set's becoming empty is a policy event: the loss of the last one
 * is a panic, the loss of one among others a log line.
 */
static void
daemon_session_end(struct daemon *d, int slot, bool lost, const char *why)
{
	struct session	 gone;
	int		 n;

	switch (session_end(&d->sessions, slot, lost, &gone)) {
	case SESSION_OTHERS_LEFT:
		n = d->sessions.n;
		log_info("heartbeat %s (pid %d); %d session%s remain%s",
		    lost ? "lost" : "stood down (QUIT)", gone.hello_pid, n,
		    n == 1 ? "" : "s", n == 1 ? "s" : "");
		break;
	case SESSION_LAST_LOST:
		daemon_event(d, POLICY_EV_LOST, gone.id, why);
		break;
	case SESSION_LAST_QUIT:
		daemon_event(d, POLICY_EV_QUIT, gone.id, "QUIT");
		log_info("heartbeat stood down (QUIT); secret kept, waiting "
		    "for the next heartbeat");
		break;
	}
}

/* How many connections of that kind are open. */
static int
daemon_count(const struct daemon *d, enum proto_kind kind)
{
	int	 i, n = 0;

	for (i = 0; i < DAEMON_CONNS_MAX; i++)
		if (d->conns[i] != NULL && d->conns[i]->kind == kind)
			n++;
	return n;
}

/* A command from a connection (conn_ops.command): the verbs' table. */
static bool
daemon_command(void *arg, struct conn *c, const struct proto_cmd *cmd)
{
	struct daemon	*d = arg;

	return control_command(&d->control, c, cmd);
}

/* Feed the policy an event (control_ops.event). */
static struct policy_out
daemon_ctl_event(void *arg, enum policy_event ev, unsigned long src,
    const char *why)
{
	return daemon_event(arg, ev, src, why);
}

/* A heartbeat left by QUIT (control_ops.session_end). */
static void
daemon_ctl_session_end(void *arg, int slot, bool lost, const char *why)
{
	daemon_session_end(arg, slot, lost, why);
}

/* ARM (control_ops.arm): false if armed already. */
static bool
daemon_arm(void *arg)
{
	struct daemon	*d = arg;

	if (!policy_arm(&d->policy))
		return false;
	d->armed = true;
	hard_armed = 1;
	return true;
}

/* Is the daemon armed (control_ops.armed)? */
static bool
daemon_armed(void *arg)
{
	struct daemon	*d = arg;

	return d->armed;
}

/* The daemon's part of STATUS (control_ops.status). */
static void
daemon_status(void *arg, struct proto_status *st)
{
	struct daemon	*d = arg;
	double		 now = daemon_mono();

	st->armed = d->armed;
	st->grace = d->grace;
	if (d->policy.state == POLICY_FIRED)
		st->state = "fired";
	else if (policy_pending(&d->policy))
		st->state = "grace";
	else if (vault_empty(&d->vault))
		st->state = "empty";
	else if (policy_guarding(&d->policy))
		st->state = "guarding";
	else
		st->state = "waiting";
	st->deadline = policy_pending(&d->policy) ?
	    d->policy.deadline - now : -1;
	if (st->deadline < -0.5)
		st->deadline = -1;
	else if (st->deadline < 0)
		st->deadline = 0;
}

/* Watch a new registration's pidfd for its exit (control_ops.watch). */
static void
daemon_watch(void *arg, int slot)
{
	struct daemon	*d = arg;

	if (ev_is_active(&d->proc_w[slot]))
		return;
	ev_io_init(&d->proc_w[slot], daemon_proc_cb, procs_fd(slot),
	    EV_READ);
	d->proc_w[slot].data = (void *)(intptr_t)slot;
	ev_io_start(d->loop, &d->proc_w[slot]);
}

/* Stop watching a registration that UNREGISTER ended. */
static void
daemon_unwatch(void *arg, int slot)
{
	struct daemon	*d = arg;

	ev_io_stop(d->loop, &d->proc_w[slot]);
}

/* How many control connections are open (control_ops.controls). */
static int
daemon_controls(void *arg)
{
	return daemon_count(arg, PROTO_KIND_CONTROL);
}

/* A connection finished or gave up a LOAD (conn_ops.loaded). */
static void
daemon_loaded(void *arg, struct conn *c, bool ok, const char *why)
{
	struct daemon	*d = arg;

	vault_loaded(&d->vault, c, ok, why);
}

/* A GET ended (conn_ops.sent). */
static void
daemon_sent(void *arg, struct conn *c, bool ok)
{
	struct daemon	*d = arg;

	vault_sent(&d->vault, c, ok);
}

/* Cut off every LOAD or GET under way (vault_ops.cancel_streams). */
static void
daemon_cancel_streams(void *arg, const char *why)
{
	struct daemon	*d = arg;
	struct conn	*c;
	int		 i;

	for (i = 0; i < DAEMON_CONNS_MAX; i++)
		if ((c = d->conns[i]) != NULL && conn_streaming(c))
			conn_cancel(c, why);
}

/* A WIPE's kills (vault_ops.kill_procs): armed, or named in dry-run. */
static void
daemon_wipe_kills(void *arg)
{
	struct daemon	*d = arg;

	daemon_kill_procs(d, d->armed);
}

/* A connection is gone (conn_ops.closed). */
static void
daemon_closed(void *arg, struct conn *c, bool lost, const char *why)
{
	struct daemon	*d = arg;
	int		 i;

	for (i = 0; i < DAEMON_CONNS_MAX; i++)
		if (d->conns[i] == c)
			d->conns[i] = NULL;
	if ((i = session_of(&d->sessions, c)) >= 0)
		daemon_session_end(d, i, lost, why);
}

/* Send BUSY to a connection we cannot take and close it. */
static void
daemon_refuse_busy(int fd)
{
	ssize_t	 n;

	n = send(fd, PROTO_BUSY, strlen(PROTO_BUSY),
	    MSG_NOSIGNAL | MSG_DONTWAIT);
	(void)n;
	close(fd);
}

/* A new connection: checked, then its first verb decides its kind. */
static void
daemon_accept_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	struct daemon	*d = container_of(w, struct daemon, accept_w);
	struct conn	*c;
	uid_t		 uid;
	pid_t		 pid;
	int		 fd, i;

	(void)revents;
	fd = accept4(d->listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
	if (fd < 0) {
		if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS ||
		    errno == ENOMEM) {
			log_warn("accept (backing off %gs)",
			    DAEMON_ACCEPT_BACKOFF);
			ev_io_stop(loop, &d->accept_w);
			/* A stopped timer keeps what was left of it: set the
			 * full back-off again each time. */
			ev_timer_set(&d->backoff_w, DAEMON_ACCEPT_BACKOFF, 0);
			ev_timer_start(loop, &d->backoff_w);
		}
		return;
	}
	if (!sockpath_peer_allowed(fd, &uid, &pid)) {
		log_warnx("refused connection from uid %d (pid %d): only "
		    "uid %u and root may connect", (int)uid, (int)pid,
		    (unsigned)getuid());
		close(fd);
		return;
	}
	for (i = 0; i < DAEMON_CONNS_MAX; i++)
		if (d->conns[i] == NULL)
			break;
	if (i == DAEMON_CONNS_MAX ||
	    daemon_count(d, PROTO_KIND_NEW) >= DAEMON_NEW_MAX) {
		log_debug("connection from pid %d: %d connections have not "
		    "said a verb yet: BUSY", (int)pid, daemon_count(d,
		    PROTO_KIND_NEW));
		daemon_refuse_busy(fd);
		return;
	}
	if ((c = conn_new(loop, fd, (int)pid, &d->conn_ops)) == NULL) {
		log_warn("calloc");
		close(fd);
		return;
	}
	d->conns[i] = c;
	log_debug("connection from pid %d", (int)pid);
}

/* Resume accepting after a descriptor shortage. */
static void
daemon_backoff_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct daemon	*d = container_of(w, struct daemon, backoff_w);

	(void)revents;
	ev_io_start(loop, &d->accept_w);
}

/* The grace window ended (or the timer fired early: the policy knows). */
static void
daemon_grace_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct daemon	*d = container_of(w, struct daemon, grace_w);

	(void)loop;
	(void)revents;
	daemon_event(d, POLICY_EV_TIMER, 0, "grace window ended");
}

/* SIGUSR1: graceful panic. */
static void
daemon_sigusr1_cb(struct ev_loop *loop, ev_signal *w, int revents)
{
	struct daemon	*d = container_of(w, struct daemon, sigusr1_w);

	(void)loop;
	(void)revents;
	daemon_event(d, POLICY_EV_PANIC, 0, "SIGUSR1: panic requested");
}

/* SIGTERM, SIGINT: clean shutdown. */
static void
daemon_shutdown_cb(struct ev_loop *loop, ev_signal *w, int revents)
{
	struct daemon	*d = w->signum == SIGTERM ?
			    container_of(w, struct daemon, sigterm_w) :
			    container_of(w, struct daemon, sigint_w);

	(void)revents;
	log_info("%s: clean shutdown", w->signum == SIGTERM ? "SIGTERM" :
	    "SIGINT");
	d->stopping = true;
	ev_break(loop, EVBREAK_ALL);
}

/* SIGHUP: note it, do nothing else. */
static void
daemon_sighup_cb(struct ev_loop *loop, ev_signal *w, int revents)
{
	(void)loop;
	(void)w;
	(void)revents;
	log_info("SIGHUP ignored (still guarding)");
}

/*
 * Create the loop and start the signal watchers, before any secret exists
 * (libev installs their handlers now; a signal that arrives before the loop
 * runs is handled as soon as it does).
 */
int
daemon_init(struct daemon *d, bool armed, double grace, double ping_timeout)
{
	struct policy_ops	 ops = { daemon_do_unrecoverable,
				    daemon_do_wipe, daemon_do_kill_procs,
				    daemon_do_would_kill_procs, daemon_do_kill,
				    daemon_do_would_kill, d };
	struct vault_ops	 vops = { daemon_cancel_streams,
				    daemon_wipe_kills, d };
	struct control_ops	 cops = { daemon_ctl_event,
				    daemon_ctl_session_end, daemon_arm,
				    daemon_armed, daemon_status, daemon_watch,
				    daemon_unwatch, daemon_controls, d };

	memset(d, 0, sizeof *d);
	d->armed = armed;
	d->grace = grace;
	d->ping_timeout = ping_timeout;
	d->listen_fd = -1;
	d->socket_dirfd = -1;
	session_init(&d->sessions, 1);
	if ((d->loop = ev_default_loop(EVFLAG_AUTO)) == NULL)
		return -1;
	policy_init(&d->policy, armed, grace, &ops);
	ev_signal_init(&d->sigusr1_w, daemon_sigusr1_cb, SIGUSR1);
	ev_signal_init(&d->sigterm_w, daemon_shutdown_cb, SIGTERM);
	ev_signal_init(&d->sigint_w, daemon_shutdown_cb, SIGINT);
	ev_signal_init(&d->sighup_w, daemon_sighup_cb, SIGHUP);
	ev_signal_start(d->loop, &d->sigusr1_w);
	ev_signal_start(d->loop, &d->sigterm_w);
	ev_signal_start(d->loop, &d->sigint_w);
	ev_signal_start(d->loop, &d->sighup_w);
	ev_init(&d->grace_w, daemon_grace_cb);
	vault_init(&d->vault, d->loop, &vops);
	control_init(&d->control, &d->vault, &d->sessions, ping_timeout,
	    &cops);
	d->conn_ops.command = daemon_command;
	d->conn_ops.closed = daemon_closed;
	d->conn_ops.loaded = daemon_loaded;
	d->conn_ops.sent = daemon_sent;

	d->conn_ops.arg = d;
	ev_timer_init(&d->backoff_w, daemon_backoff_cb,
	    DAEMON_ACCEPT_BACKOFF, 0);
	return 0;
}

/* What LOAD and GET may do, and the secret's lifetimes. */
void
daemon_set_limits(struct daemon *d, const struct daemon_limits *lim)
{
	session_init(&d->sessions, lim->sessions);
	vault_set_limits(&d->vault, lim->secret_max, lim->allow_get,
	    lim->max_lifetime, lim->idle_timeout, lim->max_reads);
}

/* Hand the loaded secret to the daemon, for the wipe action. */
void
daemon_set_secret(struct daemon *d, struct secmem *sm)
{
	vault_set_secret(&d->vault, sm);
}

/*
 * Start with the secret vs names (vault_load_startup): done follows when
 * it is read under the loop.
 */
enum vault_start_end
daemon_load_secret(struct daemon *d, const struct vault_start *vs,
    vault_source_done *done, void *arg)
{
	return vault_load_startup(&d->vault, vs, done, arg);
}

/*
 * After the loop: was the start-up secret still being read (a shutdown
 * or a panic came first)? Then what was read is wiped now, and said.
 */
void
daemon_read_stop(struct daemon *d)
{
	vault_source_stop(&d->vault);
}

/* The listening socket (path): closed and removed by daemon_finish. */
void
daemon_set_listener(struct daemon *d, int listen_fd, const char *path)
{
	d->listen_fd = listen_fd;
	d->socket_path = path;
}

/* Start serving on the listener: the secret is in place. */
void
daemon_serve(struct daemon *d)
{
	vault_start(&d->vault);
	ev_io_init(&d->accept_w, daemon_accept_cb, d->listen_fd, EV_READ);
	ev_io_start(d->loop, &d->accept_w);
}

/* Has a clean shutdown or a completed dry-run panic been asked for? */
bool
daemon_stopping(const struct daemon *d)
{
	return d->stopping;
}

/* Leave the loop (start-up failed under it). */
void
daemon_stop(struct daemon *d)
{
	d->stopping = true;
	ev_break(d->loop, EVBREAK_ALL);
}

/*
 * The one loop: until a clean shutdown, a completed dry-run panic or a
 * start-up failure under it. Returns 0, or -1 if the loop failed.
 */
int
daemon_run(struct daemon *d)
{
	if (!d->stopping)
		ev_run(d->loop, 0);
	return 0;
}

/*
 * Keep the socket's directory (an O_PATH descriptor) and its name (in
 * hard_name) for removing the socket at exit and on the hard paths:
 * once confined, the daemon may name no path, only unlinkat(2) relative
 * to this directory with that one buffer, and only if the sandbox grants
 * it (daemon_socket_removal). Called just before confinement: from
 * here until told otherwise the socket is left.
 */
void
daemon_set_socket_dir(struct daemon *d, int dirfd)
{
	const char	*slash = strrchr(hard_socket, '/');
	const char	*base = slash != NULL ? slash + 1 : hard_socket;
	size_t		 pg = (size_t)sysconf(_SC_PAGESIZE);
	char		*p;

	d->socket_dirfd = dirfd;
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
daemon_socket_name(void)
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
daemon_socket_removal(bool unconfined, bool granted, const char *why)
{
	hard_leave_why = why;
	if (unconfined)
		hard_unlink = HARD_UNLINK_PATH;
	else
		hard_unlink = granted ? HARD_UNLINK_OWN : HARD_UNLINK_LEAVE;
}

/*
 * Remove the socket file, through its directory with hard_name once
 * confined. Returns 0 once removed, 1 if it is left (said), or -1 with
 * errno.
 */
static int
daemon_unlink_socket(struct daemon *d)
{
	if (d->socket_dirfd < 0 || hard_unlink == HARD_UNLINK_PATH)
		return unlink(d->socket_path);
	if (hard_unlink == HARD_UNLINK_OWN)
		return unlinkat(hard_dirfd, hard_name, 0);
	log_info("%s: left for the next start to replace (confined, the "
	    "daemon may not remove it: %s)", d->socket_path, hard_leave_why);
	return 1;
}

/* Wipe and free the secret, close and remove the socket. */
void
daemon_finish(struct daemon *d)
{
	int	 i, left = 0;

	for (i = 0; i < DAEMON_CONNS_MAX; i++)
		if (d->conns[i] != NULL)
			conn_close(d->conns[i], false, NULL);
	vault_finish(&d->vault);
	if (d->listen_fd >= 0) {
		close(d->listen_fd);
		d->listen_fd = -1;
		if (d->socket_path != NULL &&
		    (left = daemon_unlink_socket(d)) < 0)
			log_warn("%s: unlink", d->socket_path);
	}
	/* d->socket_dirfd stays open: a hard path may still use it. */
	log_info("exiting: secret memory zeroed and unmapped, socket %s",
	    left == 1 ? "left" : "removed");
}
