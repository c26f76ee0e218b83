/* SPDX-License-Identifier: ISC */
/*
 * The event loop and the glue: the listener and its back-off, the
 * connections (conn) and what they report, the signal watchers, the grace
 * timer and the policy's actions. Callbacks dispatch: proto decides what
 * a line means, control what a verb does, vault what happens to the
 * secret, session who guards it, policy what an event does.
 */
#include <sys/socket.h>

#include <errno.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <ev.h>

#include "dazai/conn.h"
#include "dazai/control.h"
#include "dazai/daemon.h"
#include "dazai/emergency.h"
#include "dazai/log.h"
#include "dazai/sandbox.h"
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

/* Policy action, armed: SIGKILL every registered process. */
static void
daemon_do_kill_procs(void *arg)
{
	struct daemon	*d = arg;

	control_kill_procs(&d->control, true);
}

/* Policy action, dry-run: name the registered processes. */
static void
daemon_do_would_kill_procs(void *arg)
{
	struct daemon	*d = arg;

	control_kill_procs(&d->control, false);
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
daemon_event(void *arg, enum policy_event ev, unsigned long src,
    const char *why)
{
	struct daemon		*d = arg;
	struct policy_out	 out;

	d->trigger = ev == POLICY_EV_LOST || ev == POLICY_EV_PANIC ? why :
	    NULL;
	out = policy_step(&d->policy, ev, src, daemon_mono());
	daemon_say_trigger(d);
	daemon_apply(d, &out, why);
	return out;
}

/*
 * A heartbeat leaves the table (QUIT, or its connection closed). Only
 * the set's becoming empty is a policy event: the loss of the last one
 * is a panic, the loss of one among others a log line.
 */
static void
daemon_session_end(void *arg, int slot, bool lost, const char *why)
{
	struct daemon	*d = arg;
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

/* ARM (control_ops.arm): false if armed already. */
static bool
daemon_arm(void *arg)
{
	struct daemon	*d = arg;

	if (!policy_arm(&d->policy))
		return false;
	emergency_arm();
	return true;
}

/* Is the daemon armed (control_ops.armed)? */
static bool
daemon_armed(void *arg)
{
	(void)arg;
	return emergency_armed();
}

/* The daemon's part of STATUS (control_ops.status). */
static void
daemon_status(void *arg, struct proto_status *st)
{
	struct daemon	*d = arg;

	st->armed = emergency_armed();
	st->grace = d->grace;
	st->state = policy_status_state(&d->policy, vault_empty(&d->vault));
	st->deadline = policy_deadline_left(&d->policy, daemon_mono());
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

/*
 * Cut off every LOAD or GET of sm (NULL: of any secret) under way
 * (vault_ops.cancel_streams).
 */
static void
daemon_cancel_streams(void *arg, const struct secmem *sm, const char *why)
{
	struct daemon	*d = arg;
	struct conn	*c;
	int		 i;

	for (i = 0; i < DAEMON_CONNS_MAX; i++)
		if ((c = d->conns[i]) != NULL && conn_streaming_of(c, sm))
			conn_cancel(c, why);
}

/* A WIPE's kills (vault_ops.kill_procs): armed, or named in dry-run. */
static void
daemon_wipe_kills(void *arg)
{
	struct daemon	*d = arg;

	control_kill_procs(&d->control, emergency_armed());
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
		conn_refuse(fd, PROTO_BUSY);
		return;
	}
	if ((c = conn_new(loop, fd, (int)pid, sandbox_active(),
	    &d->conn_ops)) == NULL) {
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
	struct control_ops	 cops = { daemon_event,
				    daemon_session_end, daemon_arm,
				    daemon_armed, daemon_status,
				    daemon_controls, d };

	memset(d, 0, sizeof *d);
	d->grace = grace;
	d->ping_timeout = ping_timeout;
	d->listen_fd = -1;
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
	control_init(&d->control, d->loop, &d->vault, &d->sessions,
	    ping_timeout, &cops);
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
	vault_set_secrets_max(&d->vault, lim->secrets_max);
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
