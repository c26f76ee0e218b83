/* SPDX-License-Identifier: ISC */
/*
 * The event loop and the glue: the listener, the connections (conn), the
 * timers, the signals and the registered processes. Callbacks dispatch;
 * proto decides what a line means, conn moves its bytes, policy decides
 * what an event does.
 */
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
#include "dazai/daemon.h"
#include "dazai/emergency.h"
#include "dazai/log.h"
#include "dazai/procs.h"
#include "dazai/proto.h"
#include "dazai/sandbox.h"
#include "dazai/sockpath.h"
#include "dazai/vault.h"

#define container_of(p, type, member) \
	((type *)(void *)((char *)(p) - offsetof(type, member)))

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
		emergency_log_zeroed("");
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
		d->exit_status = 0;
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

/*
 * Name a peer for the log: its pid and executable (readlink of
 * /proc/PID/exe; a process that is not dumpable hides it, then its
 * command name stands in). Confined, no file may be opened (the
 * allowlist has no open call; Landlock would refuse it), so there is no
 * command name; and Landlock refuses /proc/PID/exe of a process outside
 * its domain (EACCES, as for ptrace): with Landlock in effect the
 * executable is unknown.
 */
static void
daemon_peer(int pid, char *buf, size_t size)
{
	char	 path[64], exe[PATH_MAX], comm[32];
	ssize_t	 n;
	int	 fd;

	snprintf(path, sizeof path, "/proc/%d/exe", pid);
	if ((n = readlink(path, exe, sizeof exe - 1)) > 0) {
		exe[n] = '\0';
		snprintf(buf, size, "pid %d (%s)", pid, exe);
		return;
	}
	if (sandbox_active()) {
		snprintf(buf, size, "pid %d (executable unknown: confined, "
		    "%s)", pid, strerror(errno));
		return;
	}
	snprintf(path, sizeof path, "/proc/%d/comm", pid);
	n = -1;
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) >= 0) {
		n = read(fd, comm, sizeof comm - 1);
		close(fd);
	}
	if (n > 0) {
		comm[n] = '\0';
		comm[strcspn(comm, "\n")] = '\0';
		snprintf(buf, size, "pid %d (%s, executable not readable)",
		    pid, comm);
	} else
		snprintf(buf, size, "pid %d (executable unknown)", pid);
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

/* Fill in and send the STATUS line. */
static bool
daemon_status(struct daemon *d, struct conn *c)
{
	struct proto_status	 st;
	char			 prot[160], line[PROTO_REPLY_MAX];
	double			 now = daemon_mono();

	memset(&st, 0, sizeof st);
	st.armed = emergency_armed();
	st.grace = d->grace;
	st.registered = procs_count();
	if (d->policy.state == POLICY_FIRED)
		st.state = "fired";
	else if (policy_pending(&d->policy))
		st.state = "grace";
	else if (vault_empty(&d->vault))
		st.state = "empty";
	else if (policy_guarding(&d->policy))
		st.state = "guarding";
	else
		st.state = "waiting";
	st.sessions = d->sessions.n;
	vault_status(&d->vault, &st, prot, sizeof prot);
	st.deadline = policy_pending(&d->policy) ?
	    d->policy.deadline - now : -1;
	if (st.deadline < -0.5)
		st.deadline = -1;
	else if (st.deadline < 0)
		st.deadline = 0;
	st.sandbox = sandbox_layers();
	if (proto_format_status(line, sizeof line, &st) < 0)
		return conn_error(c, "internal error");
	return conn_send(c, line);
}

/* REGISTER pid=N: killed first on an armed panic. */
static bool
daemon_register(struct daemon *d, struct conn *c, int pid)
{
	char	 who[PATH_MAX + 64];
	int	 slot;

	daemon_peer(c->peer_pid, who, sizeof who);
	switch (pid > 0 ? procs_register(pid, &slot) : PROCS_INVALID) {
	case PROCS_INVALID:
		log_info("REGISTER pid=%d from %s: invalid pid", pid, who);
		return conn_send(c, PROTO_INVALID_PID);
	case PROCS_FULL:
		log_info("REGISTER pid=%d from %s: BUSY (%d registered)", pid,
		    who, PROCS_MAX);
		return conn_send(c, PROTO_BUSY);
	case PROCS_OK:
		break;
	}
	if (!ev_is_active(&d->proc_w[slot])) {
		ev_io_init(&d->proc_w[slot], daemon_proc_cb, procs_fd(slot),
		    EV_READ);
		d->proc_w[slot].data = (void *)(intptr_t)slot;
		ev_io_start(d->loop, &d->proc_w[slot]);
	}
	log_info("REGISTER pid=%d from %s: registered (%s)", pid, who,
	    emergency_armed() ? "SIGKILLed on a panic" :
	    "dry-run: named on a panic");
	return conn_send(c, PROTO_OK);
}

/* UNREGISTER pid=N. */
static bool
daemon_unregister(struct daemon *d, struct conn *c, int pid)
{
	int	 i;

	if (pid <= 0)
		return conn_send(c, PROTO_INVALID_PID);
	for (i = 0; i < PROCS_MAX; i++)
		if (procs_pid(i) == pid && procs_fd(i) >= 0) {
			ev_io_stop(d->loop, &d->proc_w[i]);
			procs_remove(i);
			log_info("UNREGISTER pid=%d from pid %d", pid,
			    c->peer_pid);
		}
	return conn_send(c, PROTO_OK);
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

/* HELLO: a heartbeat, unless every session is held (BUSY). */
static bool
daemon_hello(struct daemon *d, struct conn *c, int pid)
{
	const struct session	*hb;
	int			 n;

	if (session_full(&d->sessions)) {
		n = d->sessions.n;
		log_debug("HELLO %d from pid %d while %d heartbeat%s held: "
		    "BUSY", pid, c->peer_pid, n, n == 1 ? " is" : "s are");
		return conn_finish(c, PROTO_BUSY);
	}
	if (!conn_welcome(c, d->ping_timeout))
		return false;
	d->nnew--;
	hb = session_add(&d->sessions, c, pid, (long long)time(NULL));
	n = d->sessions.n;
	if (d->sessions.max > 1)
		log_info("heartbeat connected: HELLO %d (peer pid %d); %d of "
		    "%d sessions", pid, c->peer_pid, n, d->sessions.max);
	else
		log_info("heartbeat connected: HELLO %d (peer pid %d)", pid,
		    c->peer_pid);
	if (n == 1)
		daemon_event(d, POLICY_EV_HELLO, hb->id,
		    "heartbeat reconnected");
	return true;
}

/* SESSION <i>: the i-th live heartbeat, in slot order. */
static bool
daemon_session(struct daemon *d, struct conn *c, int index)
{
	const struct session	*hb = session_nth(&d->sessions, index);
	struct proto_session	 ps;
	char			 line[PROTO_REPLY_MAX];

	if (hb == NULL)
		return conn_error(c, "no such session");
	ps.index = index;
	ps.hello_pid = hb->hello_pid;
	ps.peer_pid = hb->c->peer_pid;
	ps.since = hb->since;
	ps.idle = daemon_mono() - hb->c->last_line;
	if (proto_format_session(line, sizeof line, &ps) < 0)
		return conn_error(c, "internal error");
	return conn_send(c, line);
}

/* A command from a connection (conn_ops.command). */
static bool
daemon_command(void *arg, struct conn *c, const struct proto_cmd *cmd)
{
	struct daemon		*d = arg;
	struct policy_out	 out;
	char			 who[PATH_MAX + 64], why[PATH_MAX + 96];
	int			 slot;

	if (cmd->verb == PROTO_HELLO)
		return daemon_hello(d, c, cmd->pid);
	if (c->kind == PROTO_KIND_NEW) {
		if (d->ncontrol >= DAEMON_CONTROL_MAX) {
			log_info("connection from pid %d: %d control "
			    "connections open: BUSY", c->peer_pid,
			    DAEMON_CONTROL_MAX);
			return conn_finish(c, PROTO_BUSY);
		}
		conn_control(c);
		d->nnew--;
		d->ncontrol++;
	}
	switch (cmd->verb) {
	case PROTO_HELLO:
		break;
	case PROTO_PING:
		return conn_send(c, PROTO_PONG);
	case PROTO_CANCEL:
		slot = session_of(&d->sessions, c);
		out = daemon_event(d, POLICY_EV_CANCEL, slot >= 0 ?
		    d->sessions.slot[slot].id : 0, "CANCEL");
		if (out.reply == POLICY_REPLY_CANCELLED)
			return conn_send(c, PROTO_CANCELLED);
		return conn_error(c, "no pending panic");
	case PROTO_QUIT:
		if ((slot = session_of(&d->sessions, c)) >= 0)
			daemon_session_end(d, slot, false, NULL);
		return conn_finish(c, PROTO_BYE);
	case PROTO_SESSION:
		return daemon_session(d, c, (int)cmd->len);
	case PROTO_STATUS:
		return daemon_status(d, c);
	case PROTO_REGISTER:
		return daemon_register(d, c, cmd->pid);
	case PROTO_UNREGISTER:
		return daemon_unregister(d, c, cmd->pid);
	case PROTO_ARM:
		daemon_peer(c->peer_pid, who, sizeof who);
		if (!policy_arm(&d->policy)) {
			log_info("ARM from %s: already armed", who);
			return conn_send(c, PROTO_ALREADY_ARMED);
		}
		emergency_arm();
		log_info("ARM from %s: ARMED from now on (the final SIGKILL "
		    "is real)", who);
		return conn_send(c, PROTO_OK);
	case PROTO_LOAD:
		daemon_peer(c->peer_pid, who, sizeof who);
		return vault_load(&d->vault, c, cmd->len, who);
	case PROTO_GET:
		daemon_peer(c->peer_pid, who, sizeof who);
		return vault_get(&d->vault, c, who);
	case PROTO_WIPE:
		daemon_peer(c->peer_pid, who, sizeof who);
		snprintf(why, sizeof why, "WIPE from %s; staying up", who);
		if (vault_wipe(&d->vault, why, true) != 0)
			return conn_error(c, "wipe failed");
		return conn_send(c, PROTO_OK);
	case PROTO_PANIC:
		daemon_peer(c->peer_pid, who, sizeof who);
		snprintf(why, sizeof why, "PANIC from %s: panic requested",
		    who);
		if (!conn_send(c, PROTO_OK))
			return false;
		daemon_event(d, POLICY_EV_PANIC, 0, why);
		return true;
	}
	return conn_error(c, "unknown command");
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

	daemon_kill_procs(d, emergency_armed());
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
	if (c->kind == PROTO_KIND_NEW)
		d->nnew--;
	else if (c->kind == PROTO_KIND_CONTROL)
		d->ncontrol--;
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
	if (d->nnew >= DAEMON_NEW_MAX || i == DAEMON_CONNS_MAX) {
		log_debug("connection from pid %d: %d connections have not "
		    "said a verb yet: BUSY", (int)pid, d->nnew);
		daemon_refuse_busy(fd);
		return;
	}
	if ((c = conn_new(loop, fd, (int)pid, &d->conn_ops)) == NULL) {
		log_warn("calloc");
		close(fd);
		return;
	}
	d->conns[i] = c;
	d->nnew++;
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
	d->exit_status = 0;
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
 * runs is handled as soon as it does). Armed or dry-run is emergency's
 * (emergency_install comes first).
 */
int
daemon_init(struct daemon *d, double grace, double ping_timeout)
{
	struct policy_ops	 ops = { daemon_do_unrecoverable,
				    daemon_do_wipe, daemon_do_kill_procs,
				    daemon_do_would_kill_procs, daemon_do_kill,
				    daemon_do_would_kill, d };
	struct vault_ops	 vops = { daemon_cancel_streams,
				    daemon_wipe_kills, d };

	memset(d, 0, sizeof *d);
	d->grace = grace;
	d->ping_timeout = ping_timeout;
	d->listen_fd = -1;
	d->exit_status = 1;
	session_init(&d->sessions, 1);
	if ((d->loop = ev_default_loop(EVFLAG_AUTO)) == NULL)
		return -1;
	policy_init(&d->policy, emergency_armed(), grace, &ops);
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

/* A watcher that notes that its descriptor became readable. */
struct readable {
	ev_io	 w;
	bool	 ready;
};

static void
daemon_readable_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	struct readable	*r = container_of(w, struct readable, w);

	(void)revents;
	r->ready = true;
	ev_io_stop(loop, w);
}

/*
 * Run the loop (signals and timers only: nobody is accepted yet) until fd
 * is readable; false if a signal stopped the daemon first. While the
 * secret is being read from a pipe, SIGTERM, SIGINT and the panic signals
 * act at once instead of waiting for the writer. arg is the daemon.
 */
bool
daemon_wait_readable(void *arg, int fd)
{
	struct daemon	*d = arg;
	struct readable	 r;

	r.ready = false;
	ev_io_init(&r.w, daemon_readable_cb, fd, EV_READ);
	ev_io_start(d->loop, &r.w);
	while (!r.ready && !d->stopping)
		ev_run(d->loop, EVRUN_ONCE);
	ev_io_stop(d->loop, &r.w);
	return r.ready && !d->stopping;
}

/* Serve until a clean shutdown or a completed dry-run panic. */
int
daemon_run(struct daemon *d, int listen_fd, const char *path)
{
	d->listen_fd = listen_fd;
	d->socket_path = path;
	if (d->stopping)
		return d->exit_status;
	vault_start(&d->vault);
	ev_io_init(&d->accept_w, daemon_accept_cb, listen_fd, EV_READ);
	ev_io_start(d->loop, &d->accept_w);
	ev_run(d->loop, 0);
	return d->exit_status;
}

/*
 * Wipe and free the secret, close the socket and remove it with the hard
 * paths' own removal (emergency_remove_socket).
 */
void
daemon_finish(struct daemon *d)
{
	const char	*why = NULL;
	int		 i, left = 0;

	for (i = 0; i < DAEMON_CONNS_MAX; i++)
		if (d->conns[i] != NULL)
			conn_close(d->conns[i], false, NULL);
	vault_finish(&d->vault);
	if (d->listen_fd >= 0) {
		close(d->listen_fd);
		d->listen_fd = -1;
		if (d->socket_path != NULL &&
		    (left = emergency_remove_socket(&why)) < 0)
			log_warn("%s: unlink", d->socket_path);
		else if (left == 1)
			log_info("%s: left for the next start to replace "
			    "(confined, the daemon may not remove it: %s)",
			    d->socket_path, why);
	}
	/* The socket's directory stays open: a hard path may still use it. */
	log_info("exiting: secret memory zeroed and unmapped, socket %s",
	    left == 1 ? "left" : "removed");
}
