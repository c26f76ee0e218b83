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

#include "dazai/btimer.h"
#include "dazai/conn.h"
#include "dazai/container.h"
#include "dazai/control.h"
#include "dazai/daemon.h"
#include "dazai/emergency.h"
#include "dazai/log.h"
#include "dazai/sandbox.h"
#include "dazai/vault.h"

/* Policy action: overwrite the secret; say so only if it was done. */
static void
daemon_do_wipe(void *arg)
{
	struct daemon *d = arg;

	vault_panic_wipe(&d->vault);
}

/* Log the event's trigger once (a panic's: after the keys are zeroed). */
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
	struct daemon *d = arg;
	int	       failed = secmem_emergency_shield();

	if (failed != 0)
		log_warnx("WIPE FAILED: the prekey could not be made writable");
	else
		emergency_log_zeroed("");
	daemon_say_trigger(d);
}

/* Policy action: SIGKILL the registered processes (dry-run: name them). */
static void
daemon_do_kill_procs(void *arg, bool armed)
{
	struct daemon *d = arg;

	control_kill_procs(&d->control, armed);
}

/*
 * Tell the warden the panic is done here (the secret unrecoverable, the
 * registered processes killed): its actions run now.
 */
static void
daemon_tell_warden(struct daemon *d)
{
	if (d->warden != NULL &&
	    warden_panic(d->warden,
		d->reason[0] != '\0' ? d->reason : "panic") != 0 &&
	    !d->warden->down)
		log_warn("warden: cannot tell it of the panic");
}

/*
 * Policy action, last: the warden's actions, then death (armed) or the
 * word of it (dry-run, which then exits 0).
 */
static void
daemon_do_kill(void *arg, bool armed)
{
	daemon_tell_warden(arg);
	if (!armed) {
		log_info("WOULD SIGKILL (dry-run: exiting 0 instead)");
		return;
	}
	kill(getpid(), SIGKILL);
	_exit(137);
}

/* Carry out what the policy asked for. */
static void
daemon_apply(struct daemon *d, const struct policy_out *out, const char *why)
{
	char when[32];

	if (out->aborted) {
		btimer_stop(&d->grace_w, d->loop);
		log_info("pending panic aborted (%s); now %s", why,
		    policy_state_name(d->policy.state));
	}
	if (out->escalated)
		log_info("panic requested during the grace window: only CANCEL "
			 "ends it now, a reconnecting heartbeat does not");
	if (out->started) {
		log_clock(out->deadline - btimer_now(), when, sizeof when);
		log_info("panic (%s): grace window of %gs, wipe at %s unless "
			 "cancelled",
		    why, d->policy.grace, when);
	}
	if (out->arm_timer) {
		btimer_stop(&d->grace_w, d->loop);
		btimer_start(&d->grace_w, d->loop,
		    out->deadline - btimer_now());
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
	struct daemon	 *d = arg;
	struct policy_out out;

	d->trigger = ev == POLICY_EV_LOST || ev == POLICY_EV_PANIC ||
		ev == POLICY_EV_SLEEP ?
	    why :
	    NULL;
	/* The trigger a panic starts with is its reason (DAZAI_REASON). */
	if (d->trigger != NULL && !policy_pending(&d->policy))
		snprintf(d->reason, sizeof d->reason, "%s", why);
	out = policy_step(&d->policy, ev, src, btimer_now());
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
	struct daemon *d = arg;
	struct session gone;
	int	       n;

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

/* A command from a connection (conn_ops.command): the verbs' table. */
static bool
daemon_command(void *arg, struct conn *c, const struct proto_cmd *cmd)
{
	struct daemon *d = arg;

	return control_command(&d->control, c, cmd);
}

/* ARM (control_ops.arm): false if armed already. */
static bool
daemon_arm(void *arg)
{
	struct daemon *d = arg;

	if (!policy_arm(&d->policy))
		return false;
	emergency_arm();
	if (d->warden != NULL && warden_arm(d->warden) != 0)
		log_warn("warden: cannot arm it");
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
	struct daemon *d = arg;

	st->armed = emergency_armed();
	st->grace = d->policy.grace;
	st->state = policy_status_state(&d->policy, vault_empty(&d->vault));
	st->deadline = policy_deadline_left(&d->policy, btimer_now());
	st->warden = d->warden != NULL ? warden_status_name(d->warden) : "off";
	st->actions = d->warden != NULL ? warden_actions(d->warden) : 0;
	st->sleep = d->warden != NULL ? warden_sleep_name(d->warden) : "keep";
}

/* A WIPE or an expiry (vault_ops.wiped): the warden's on_wipe actions. */
static void
daemon_wiped(void *arg, const char *why)
{
	struct daemon *d = arg;

	if (d->warden != NULL && !d->warden->down &&
	    warden_wipe(d->warden, why) != 0)
		log_warn("warden: cannot tell it of the wipe");
}

/*
 * The warden spoke, or died. Its death is a lost guard: nothing would run
 * the actions or kill the registered processes after ours, so a graceful
 * panic follows (fail closed).
 */
static void
daemon_warden_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	struct daemon	 *d = container_of(w, struct daemon, warden_w);
	struct warden_msg msg;
	int		  r;

	(void)revents;
	while ((r = warden_read(d->warden, &msg)) == WARDEN_READ_MSG)
		if (msg.type == WARDEN_MSG_SLEEPING && !d->stopping)
			control_sleep(&d->control, (int)msg.status);
	if (r != WARDEN_READ_DOWN)
		return;
	ev_io_stop(loop, w);
	log_warnx("the warden died (pid %d): no one would run the panic "
		  "actions or kill the registered processes after dazaid",
	    (int)d->warden->pid);
	daemon_event(d, POLICY_EV_PANIC, 0,
	    "the warden died: panic (fail "
	    "closed)");
}

/*
 * The warden, started by main: told of every panic, WIPE, expiry, ARM
 * and registration, asked to rehearse, watched for its death.
 */
void
daemon_set_warden(struct daemon *d, struct warden *w)
{
	d->warden = w;
	d->control.warden = w;
	if (warden_fd(w) < 0)
		return;
	ev_io_init(&d->warden_w, daemon_warden_cb, warden_fd(w), EV_READ);
	ev_io_start(d->loop, &d->warden_w);
}

/* A connection finished or gave up a LOAD (conn_ops.loaded). */
static void
daemon_loaded(void *arg, struct conn *c, bool ok, const char *why)
{
	struct daemon *d = arg;

	vault_loaded(&d->vault, c, ok, why);
}

/* A GET ended (conn_ops.sent). */
static void
daemon_sent(void *arg, struct conn *c, bool ok)
{
	struct daemon *d = arg;

	vault_sent(&d->vault, c, ok);
}

/*
 * Cut off every LOAD or GET of sm (NULL: of any secret) under way
 * (vault_ops.cancel_streams).
 */
static void
daemon_cancel_streams(void *arg, const struct secmem *sm, const char *why)
{
	struct daemon *d = arg;

	conn_set_cancel(&d->conns, sm, why);
}

/* A WIPE's kills (vault_ops.kill_procs): armed, or named in dry-run. */
static void
daemon_wipe_kills(void *arg)
{
	struct daemon *d = arg;

	control_kill_procs(&d->control, emergency_armed());
}

/* A connection is gone (conn_ops.closed). */
static void
daemon_closed(void *arg, struct conn *c, bool lost, const char *why)
{
	struct daemon *d = arg;
	int	       i;

	conn_set_remove(&d->conns, c);
	if ((i = session_of(&d->sessions, c)) >= 0)
		daemon_session_end(d, i, lost, why);
}

/* A new connection: checked, then its first verb decides its kind. */
static void
daemon_accept_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	struct daemon *d = container_of(w, struct daemon, accept_w);
	struct conn   *c;
	uid_t	       uid;
	pid_t	       pid;
	int	       fd;

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
			  "uid %u and root may connect",
		    (int)uid, (int)pid, (unsigned)getuid());
		close(fd);
		return;
	}
	if (conn_set_full(&d->conns) ||
	    conn_set_count(&d->conns, PROTO_KIND_NEW) >= DAEMON_NEW_MAX) {
		log_debug("connection from pid %d: %d connections have not "
			  "said a verb yet: BUSY",
		    (int)pid, conn_set_count(&d->conns, PROTO_KIND_NEW));
		conn_refuse(fd, PROTO_BUSY);
		return;
	}
	if ((c = conn_new(loop, fd, (int)pid, sandbox_active(),
		 &d->conn_ops)) == NULL) {
		log_warn("calloc");
		close(fd);
		return;
	}
	conn_set_add(&d->conns, c);
	/* Confined, only the unconfined warden can name who it is: told
	 * now, while the client still waits for its first reply. */
	if (sandbox_active() && d->warden != NULL)
		warden_name_peer(d->warden, pid);
	log_debug("connection from pid %d", (int)pid);
}

/* Resume accepting after a descriptor shortage. */
static void
daemon_backoff_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct daemon *d = container_of(w, struct daemon, backoff_w);

	(void)revents;
	ev_io_start(loop, &d->accept_w);
}

/* The grace window ended (or the timer fired early: the policy knows). */
static void
daemon_grace_cb(struct btimer *t)
{
	struct daemon *d = container_of(t, struct daemon, grace_w);

	daemon_event(d, POLICY_EV_TIMER, 0, "grace window ended");
}

/*
 * The signals that go through the loop: SIGUSR1 a graceful panic,
 * SIGTERM and SIGINT a clean shutdown, SIGHUP noted and ignored.
 */
static void
daemon_signal_cb(struct ev_loop *loop, ev_signal *w, int revents)
{
	struct daemon *d = w->data;

	(void)revents;
	switch (w->signum) {
	case SIGUSR1:
		daemon_event(d, POLICY_EV_PANIC, 0, "SIGUSR1: panic requested");
		break;
	case SIGHUP:
		log_info("SIGHUP ignored (still guarding)");
		break;
	default:
		log_info("%s: clean shutdown",
		    w->signum == SIGTERM ? "SIGTERM" : "SIGINT");
		d->stopping = true;
		ev_break(loop, EVBREAK_ALL);
	}
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
	struct policy_ops  ops = { daemon_do_unrecoverable, daemon_do_wipe,
		 daemon_do_kill_procs, daemon_do_kill, d };
	struct vault_ops   vops = { daemon_cancel_streams, daemon_wipe_kills,
		  daemon_wiped, d };
	static const int   sigs[DAEMON_NSIGNALS] = { SIGUSR1, SIGTERM, SIGINT,
		  SIGHUP };
	int		   i;
	struct control_ops cops = { daemon_event, daemon_session_end,
		daemon_arm, daemon_armed, daemon_status, d };

	memset(d, 0, sizeof *d);
	d->listen_fd = -1;
	session_init(&d->sessions, 1);
	if ((d->loop = ev_default_loop(EVFLAG_AUTO)) == NULL)
		return -1;
	policy_init(&d->policy, emergency_armed(), grace, &ops);
	for (i = 0; i < DAEMON_NSIGNALS; i++) {
		ev_signal_init(&d->signal_w[i], daemon_signal_cb, sigs[i]);
		d->signal_w[i].data = d;
		ev_signal_start(d->loop, &d->signal_w[i]);
	}
	if (btimer_init(&d->grace_w, daemon_grace_cb) != 0 ||
	    vault_init(&d->vault, d->loop, &vops) != 0)
		return -1;
	control_init(&d->control, d->loop, &d->vault, &d->sessions, &d->conns,
	    ping_timeout, &cops);
	d->conn_ops.command = daemon_command;
	d->conn_ops.closed = daemon_closed;
	d->conn_ops.loaded = daemon_loaded;
	d->conn_ops.sent = daemon_sent;
	d->conn_ops.arg = d;
	ev_timer_init(&d->backoff_w, daemon_backoff_cb, DAEMON_ACCEPT_BACKOFF,
	    0);
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

/*
 * The secure buffer (the daemon's from now on) and the start-up secret vs
 * names (vault_load_startup): done follows when it is read under the loop.
 */
enum vault_start_end
daemon_load_secret(struct daemon *d, struct secmem *sm,
    const struct vault_start *vs, vault_source_done *done, void *arg)
{
	vault_set_secret(&d->vault, sm);
	return vault_load_startup(&d->vault, vs, done, arg);
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
	/* A start-up secret still arriving then: what was read is wiped. */
	vault_source_stop(&d->vault);
	return 0;
}

/*
 * Wipe and free the secret, close the socket and remove it with the hard
 * paths' own removal (emergency_remove_socket).
 */
void
daemon_finish(struct daemon *d)
{
	const char *why = NULL;
	int	    left = 0;

	conn_set_close(&d->conns);
	btimer_close(&d->grace_w, d->loop);
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
	/* A clean shutdown, unless a dry-run panic told the warden its own. */
	if (d->warden != NULL && d->policy.state != POLICY_FIRED)
		warden_shutdown(d->warden);
	/* The socket's directory stays open: a hard path may still use it. */
	log_info("exiting: secret memory zeroed and unmapped, socket %s",
	    left == 1 ? "left" : "removed");
}
