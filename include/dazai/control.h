/* SPDX-License-Identifier: ISC */
#ifndef DAZAI_CONTROL_H
#define DAZAI_CONTROL_H

#include <stdbool.h>
#include <stddef.h>

#include <ev.h>

#include "dazai/conn.h"
#include "dazai/policy.h"
#include "dazai/procs.h"
#include "dazai/proto.h"
#include "dazai/session.h"
#include "dazai/vault.h"
#include "dazai/warden.h"

/*
 * The verbs, heartbeat and control alike, as one table of handlers. Which
 * verb a connection of each kind may send is proto_admit's (the one
 * place); what a verb does is here; what it asks of the policy and the
 * daemon's state goes through struct control_ops. Registrations and the
 * rehearsal of the panic actions are told to the warden (control.warden,
 * set by the daemon once it is started), and control_sleep carries out
 * the warden's before-sleep request (on_sleep) as WIPE or PANIC would.
 */

#define CONTROL_MAX 16 /* control connections at once */

struct control_ops {
	/* Feed the policy an event from src (a heartbeat's id, or 0). */
	struct policy_out (*event)(void *, enum policy_event, unsigned long,
	    const char *);
	/* A heartbeat in that slot left (QUIT: not lost). */
	void (*session_end)(void *, int, bool, const char *);
	/* ARM: false if armed already. */
	bool (*arm)(void *);
	/* Is the daemon armed? */
	bool (*armed)(void *);
	/* STATUS: the daemon's own fields (armed, grace, state, deadline). */
	void (*status)(void *, struct proto_status *);
	void *arg;
};

struct control {
	struct ev_loop	  *loop;
	ev_io		   proc_w[PROCS_MAX]; /* registered pidfds */
	struct vault	  *vault;
	struct sessions	  *sessions;
	struct conn_set	  *conns;	 /* every open connection */
	struct warden	  *warden;	 /* NULL: none */
	double		   ping_timeout; /* for each new heartbeat */
	struct control_ops ops;
};

void control_init(struct control *, struct ev_loop *, struct vault *,
    struct sessions *, struct conn_set *, double, const struct control_ops *);
void control_kill_procs(struct control *, bool);
void control_sleep(struct control *, int);
bool control_command(struct control *, struct conn *, const struct proto_cmd *);

#endif
