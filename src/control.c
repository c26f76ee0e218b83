/* SPDX-License-Identifier: ISC */
/*
 * The verbs: one row per verb in control_verbs[], one handler each. A
 * handler answers on its connection and returns false once that
 * connection has been closed.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <ev.h>

#include "dazai/config.h"
#include "dazai/conn.h"
#include "dazai/control.h"
#include "dazai/log.h"
#include "dazai/policy.h"
#include "dazai/procs.h"
#include "dazai/proto.h"
#include "dazai/sandbox.h"
#include "dazai/session.h"
#include "dazai/vault.h"
#include "dazai/warden.h"

/* Set up the verbs' view of the daemon, on loop. */
void
control_init(struct control *ctl, struct ev_loop *loop, struct vault *v,
    struct sessions *s, struct conn_set *conns, double ping_timeout,
    const struct control_ops *ops)
{
	ctl->conns = conns;
	memset(ctl->proc_w, 0, sizeof ctl->proc_w);
	ctl->loop = loop;
	ctl->vault = v;
	ctl->sessions = s;
	ctl->ping_timeout = ping_timeout;
	ctl->ops = *ops;
}

/* A registration ended: the warden lets go of that process. */
static void
control_unregistered(struct control *ctl, int pid)
{
	if (ctl->warden != NULL && !ctl->warden->down)
		warden_unregister(ctl->warden, pid);
}

/* A registered process exited: its registration ends. */
static void
control_proc_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	int		slot = (int)(intptr_t)w->data;
	struct control *ctl = (struct control *)(void *)((char *)(w - slot) -
	    offsetof(struct control, proc_w));

	(void)revents;
	ev_io_stop(loop, w);
	log_info("registered pid %d exited; registration ended",
	    (int)procs_pid(slot));
	control_unregistered(ctl, (int)procs_pid(slot));
	procs_remove(slot);
}

/*
 * SIGKILL the registered processes (armed: their registrations end) or
 * name them (dry-run), and stop watching the pidfds that closed.
 */
void
control_kill_procs(struct control *ctl, bool armed)
{
	int i;

	if (armed)
		for (i = 0; i < PROCS_MAX; i++) {
			ev_io_stop(ctl->loop, &ctl->proc_w[i]);
			if (procs_fd(i) >= 0)
				control_unregistered(ctl, (int)procs_pid(i));
		}
	procs_kill_all(armed);
	for (i = 0; i < PROCS_MAX; i++)
		if (procs_fd(i) < 0 && ev_is_active(&ctl->proc_w[i]))
			ev_io_stop(ctl->loop, &ctl->proc_w[i]);
}

/* HELLO <pid>: a heartbeat, unless every session is held (BUSY). */
static bool
control_hello(struct control *ctl, struct conn *c, const struct proto_cmd *cmd)
{
	const struct session *hb;
	int		      n;

	if (session_full(ctl->sessions)) {
		n = ctl->sessions->n;
		log_debug("HELLO %d from pid %d while %d heartbeat%s held: "
			  "BUSY",
		    cmd->pid, c->peer_pid, n, n == 1 ? " is" : "s are");
		return conn_finish(c, PROTO_BUSY);
	}
	if (!conn_welcome(c, ctl->ping_timeout))
		return false;
	hb = session_add(ctl->sessions, c, cmd->pid, (long long)time(NULL));
	n = ctl->sessions->n;
	if (ctl->sessions->max > 1)
		log_info("heartbeat connected: HELLO %d (peer pid %d); %d of "
			 "%d sessions",
		    cmd->pid, c->peer_pid, n, ctl->sessions->max);
	else
		log_info("heartbeat connected: HELLO %d (peer pid %d)",
		    cmd->pid, c->peer_pid);
	if (n == 1)
		ctl->ops.event(ctl->ops.arg, POLICY_EV_HELLO, hb->id,
		    "heartbeat reconnected");
	return true;
}

/* PING: PONG, on either kind of connection. */
static bool
control_ping(struct control *ctl, struct conn *c, const struct proto_cmd *cmd)
{
	(void)ctl;
	(void)cmd;
	return conn_send(c, PROTO_PONG);
}

/* CANCEL: abort a pending panic (a heartbeat's verb). */
static bool
control_cancel(struct control *ctl, struct conn *c, const struct proto_cmd *cmd)
{
	struct policy_out out;
	int		  slot = session_of(ctl->sessions, c);

	(void)cmd;
	out = ctl->ops.event(ctl->ops.arg, POLICY_EV_CANCEL,
	    slot >= 0 ? ctl->sessions->slot[slot].id : 0, "CANCEL");
	if (out.reply == POLICY_REPLY_CANCELLED)
		return conn_send(c, PROTO_CANCELLED);
	return conn_error(c, "no pending panic");
}

/* QUIT: a heartbeat stands down; any connection gets BYE and closes. */
static bool
control_quit(struct control *ctl, struct conn *c, const struct proto_cmd *cmd)
{
	int slot = session_of(ctl->sessions, c);

	(void)cmd;
	if (slot >= 0)
		ctl->ops.session_end(ctl->ops.arg, slot, false, NULL);
	return conn_finish(c, PROTO_BYE);
}

/* SESSION <i>: the i-th live heartbeat, in slot order. */
static bool
control_session(struct control *ctl, struct conn *c,
    const struct proto_cmd *cmd)
{
	const struct session *hb = session_nth(ctl->sessions, (int)cmd->len);
	struct proto_session  ps;
	char		      line[PROTO_REPLY_MAX];

	if (hb == NULL)
		return conn_error(c, "no such session");
	ps.index = (int)cmd->len;
	ps.hello_pid = hb->hello_pid;
	ps.peer_pid = hb->c->peer_pid;
	ps.since = hb->since;
	ps.idle = log_now() - hb->c->last_line;
	if (proto_format_session(line, sizeof line, &ps) < 0)
		return conn_error(c, "internal error");
	return conn_send(c, line);
}

/* STATUS: the daemon's fields, the vault's, the sandbox's. */
static bool
control_status(struct control *ctl, struct conn *c, const struct proto_cmd *cmd)
{
	struct proto_status st;
	char		    prot[160], line[PROTO_REPLY_MAX];

	(void)cmd;
	memset(&st, 0, sizeof st);
	ctl->ops.status(ctl->ops.arg, &st);
	st.registered = procs_count();
	st.sessions = ctl->sessions->n;
	vault_status(ctl->vault, &st, prot, sizeof prot);
	st.sandbox = sandbox_layers();
	if (proto_format_status(line, sizeof line, &st) < 0)
		return conn_error(c, "internal error");
	return conn_send(c, line);
}

/* REGISTER pid=N: killed first on an armed panic. */
static bool
control_register(struct control *ctl, struct conn *c,
    const struct proto_cmd *cmd)
{
	int pid = cmd->pid, slot;

	switch (pid > 0 ? procs_register(pid, &slot) : PROCS_INVALID) {
	case PROCS_INVALID:
		log_info("REGISTER pid=%d from %s: invalid pid", pid,
		    conn_who(c));
		return conn_send(c, PROTO_INVALID_PID);
	case PROCS_FULL:
		log_info("REGISTER pid=%d from %s: BUSY (%d registered)", pid,
		    conn_who(c), PROCS_MAX);
		return conn_send(c, PROTO_BUSY);
	case PROCS_OK:
		break;
	}
	if (!ev_is_active(&ctl->proc_w[slot])) {
		ev_io_init(&ctl->proc_w[slot], control_proc_cb, procs_fd(slot),
		    EV_READ);
		ctl->proc_w[slot].data = (void *)(intptr_t)slot;
		ev_io_start(ctl->loop, &ctl->proc_w[slot]);
	}
	if (ctl->warden != NULL)
		warden_hand_over(ctl->warden, pid, procs_fd(slot));
	log_info("REGISTER pid=%d from %s: registered (%s)", pid, conn_who(c),
	    ctl->ops.armed(ctl->ops.arg) ? "SIGKILLed on a panic" :
					   "dry-run: named on a panic");
	return conn_send(c, PROTO_OK);
}

/* UNREGISTER pid=N. */
static bool
control_unregister(struct control *ctl, struct conn *c,
    const struct proto_cmd *cmd)
{
	int i;

	if (cmd->pid <= 0)
		return conn_send(c, PROTO_INVALID_PID);
	for (i = 0; i < PROCS_MAX; i++)
		if (procs_pid(i) == cmd->pid && procs_fd(i) >= 0) {
			ev_io_stop(ctl->loop, &ctl->proc_w[i]);
			control_unregistered(ctl, cmd->pid);
			procs_remove(i);
			log_info("UNREGISTER pid=%d from pid %d", cmd->pid,
			    c->peer_pid);
		}
	return conn_send(c, PROTO_OK);
}

/* ARM: dry-run becomes armed from now on, never the reverse. */
static bool
control_arm(struct control *ctl, struct conn *c, const struct proto_cmd *cmd)
{
	(void)cmd;
	if (!ctl->ops.arm(ctl->ops.arg)) {
		log_info("ARM from %s: already armed", conn_who(c));
		return conn_send(c, PROTO_ALREADY_ARMED);
	}
	log_info("ARM from %s: ARMED from now on (the final SIGKILL is real)",
	    conn_who(c));
	return conn_send(c, PROTO_OK);
}

/* LOAD <n> [name]: the vault's. */
static bool
control_load(struct control *ctl, struct conn *c, const struct proto_cmd *cmd)
{
	return vault_load(ctl->vault, c, cmd->len, cmd->name, conn_who(c));
}

/* GET [name]: the vault's. */
static bool
control_get(struct control *ctl, struct conn *c, const struct proto_cmd *cmd)
{
	return vault_get(ctl->vault, c, cmd->name, conn_who(c));
}

/*
 * WIPE [name]: wipe that secret (every one without a name), kill the
 * registered processes, stay up.
 */
static bool
control_wipe(struct control *ctl, struct conn *c, const struct proto_cmd *cmd)
{
	char why[CONN_WHO_MAX + PROTO_NAME_MAX + 40];
	int  rc;

	if (cmd->named) {
		snprintf(why, sizeof why, "WIPE %s from %s; staying up",
		    cmd->name, conn_who(c));
		rc = vault_wipe_name(ctl->vault, cmd->name, why, true);
	} else {
		snprintf(why, sizeof why, "WIPE from %s; staying up",
		    conn_who(c));
		rc = vault_wipe(ctl->vault, why, true);
	}
	if (rc != 0)
		return conn_error(c, "wipe failed");
	return conn_send(c, PROTO_OK);
}

/* ENTRY <i>: the i-th held secret, in load order (never a byte of it). */
static bool
control_entry(struct control *ctl, struct conn *c, const struct proto_cmd *cmd)
{
	struct proto_entry pe;
	char		   line[PROTO_REPLY_MAX];

	if (!vault_entry(ctl->vault, (int)cmd->len, &pe))
		return conn_error(c, "no such entry");
	if (proto_format_entry(line, sizeof line, &pe) < 0)
		return conn_error(c, "internal error");
	return conn_send(c, line);
}

/* PANIC: a graceful panic, exactly as SIGUSR1 (answered first). */
static bool
control_panic(struct control *ctl, struct conn *c, const struct proto_cmd *cmd)
{
	char why[CONN_WHO_MAX + 32];

	(void)cmd;
	snprintf(why, sizeof why, "PANIC from %s: panic requested",
	    conn_who(c));
	if (!conn_send(c, PROTO_OK))
		return false;
	ctl->ops.event(ctl->ops.arg, POLICY_EV_PANIC, 0, why);
	return true;
}

/* ACTION <i>: one configured action, for dazai actions. */
static bool
control_action(struct control *ctl, struct conn *c, const struct proto_cmd *cmd)
{
	struct proto_action a;
	char		    line[PROTO_REPLY_MAX];

	a.index = (int)cmd->len;
	if (ctl->warden == NULL ||
	    !warden_action(ctl->warden, a.index, &a.on, &a.command))
		return conn_error(c, "no such action");
	if (proto_format_action(line, sizeof line, &a) < 0)
		return conn_error(c, "internal error");
	return conn_send(c, line);
}

/*
 * The warden's SLEEPING: the machine is about to sleep, and the warden
 * holds logind's delay lock until it is answered. on_sleep = wipe: every
 * secret wiped as WIPE does (the registered processes killed, the on_wipe
 * actions run), then SLEPT; panic: a panic at once, whose own word to the
 * warden (or the daemon's end) is the answer.
 */
void
control_sleep(struct control *ctl, int mode)
{
	static const char wipe_why[] = "the machine is going to sleep "
				       "(on_sleep = wipe); staying up";
	static const char panic_why[] = "the machine is going to sleep "
					"(on_sleep = panic)";
	int		  rc;

	if (mode == CONFIG_SLEEP_PANIC) {
		ctl->ops.event(ctl->ops.arg, POLICY_EV_SLEEP, 0, panic_why);
		return;
	}
	if (mode != CONFIG_SLEEP_WIPE || ctl->warden == NULL)
		return;
	if ((rc = vault_wipe(ctl->vault, wipe_why, true)) != 0)
		log_warnx("WIPE FAILED before sleep");
	if (warden_slept(ctl->warden, rc) != 0)
		log_warn("warden: cannot answer its sleep notice");
}

/* REHEARSE: the warden runs every action now; RESULT says how each ended. */
static bool
control_rehearse(struct control *ctl, struct conn *c,
    const struct proto_cmd *cmd)
{
	const char *why;

	(void)cmd;
	if ((why = ctl->warden == NULL ?
		    "no warden" :
		    warden_start_rehearsal(ctl->warden)) != NULL) {
		log_info("REHEARSE from %s refused: %s", conn_who(c), why);
		return conn_error(c, why);
	}
	log_info("REHEARSE from %s: the warden runs every action now",
	    conn_who(c));
	return conn_send(c, PROTO_OK);
}

/* RESULT <i>: how the i-th rehearsed action ended, or that it is to come. */
static bool
control_result(struct control *ctl, struct conn *c, const struct proto_cmd *cmd)
{
	struct proto_result r;
	char		    line[PROTO_REPLY_MAX];

	r.index = (int)cmd->len;
	if (ctl->warden == NULL ||
	    !warden_result(ctl->warden, r.index, &r.done, &r.status,
		&r.timed_out, &r.stderr_line))
		return conn_error(c, "no such action");
	if (proto_format_result(line, sizeof line, &r) < 0)
		return conn_error(c, "internal error");
	return conn_send(c, line);
}

/* Every verb and what does it. */
/* clang-format off */
static const struct control_verb {
	enum proto_verb	 verb;
	bool		(*handler)(struct control *, struct conn *,
			    const struct proto_cmd *);
} control_verbs[] = {
	{ PROTO_HELLO,		control_hello },
	{ PROTO_PING,		control_ping },
	{ PROTO_CANCEL,		control_cancel },
	{ PROTO_QUIT,		control_quit },
	{ PROTO_STATUS,		control_status },
	{ PROTO_REGISTER,	control_register },
	{ PROTO_UNREGISTER,	control_unregister },
	{ PROTO_ARM,		control_arm },
	{ PROTO_LOAD,		control_load },
	{ PROTO_GET,		control_get },
	{ PROTO_WIPE,		control_wipe },
	{ PROTO_PANIC,		control_panic },
	{ PROTO_SESSION,	control_session },
	{ PROTO_ACTION,		control_action },
	{ PROTO_REHEARSE,	control_rehearse },
	{ PROTO_RESULT,		control_result },
	{ PROTO_ENTRY,		control_entry },
};
/* clang-format on */

/*
 * A command that parsed and that proto_admit allowed on c's kind
 * (conn_ops.command). The first verb other than HELLO makes a new
 * connection a control connection, if one of CONTROL_MAX is free.
 */
bool
control_command(struct control *ctl, struct conn *c,
    const struct proto_cmd *cmd)
{
	size_t i;

	if (c->kind == PROTO_KIND_NEW && cmd->verb != PROTO_HELLO) {
		if (conn_set_count(ctl->conns, PROTO_KIND_CONTROL) >=
		    CONTROL_MAX) {
			log_info("connection from pid %d: %d control "
				 "connections open: BUSY",
			    c->peer_pid, CONTROL_MAX);
			return conn_finish(c, PROTO_BUSY);
		}
		conn_control(c);
	}
	for (i = 0; i < sizeof control_verbs / sizeof control_verbs[0]; i++)
		if (control_verbs[i].verb == cmd->verb)
			return control_verbs[i].handler(ctl, c, cmd);
	return conn_error(c, "unknown command");
}
