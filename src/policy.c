/* SPDX-License-Identifier: ISC */
/*
 * The panic controller. Every decision is in the table below:
 * transitions[state][event] gives the next state and what to do.
 */
#include <stddef.h>

#include "dazai/policy.h"

enum policy_action {
	ACT_NONE,
	ACT_START,    /* start a graceful panic (grace window or fire) */
	ACT_ABORT,    /* abort the grace window */
	ACT_EXPIRE,   /* the grace timer went off: fire if it is time */
	ACT_CANCEL0,  /* CANCEL with nothing pending */
	ACT_ESCALATE, /* a panic request: only CANCEL ends the window */
	ACT_CLAIM,    /* CANCEL: the aborting heartbeat's own, or nothing */
	ACT_FIRE,     /* fire now, whatever the grace (on_sleep = panic) */
};

struct transition {
	enum policy_state  next;
	enum policy_action action;
};

#define T(s, a) \
	{ \
		POLICY_##s, ACT_##a \
	}

/*
 * Rows are states, columns events:
 *          HELLO            QUIT             LOST
 *          PANIC            CANCEL           TIMER
 *          SLEEP
 * A reconnect aborts only a window that a loss started; a SIGUSR1 window
 * ends only by CANCEL or by firing, and a SIGUSR1 during a loss window
 * turns it into one (same deadline). A reconnect that aborted a loss
 * window leaves RESUMED, guarding as GUARDING does, where a CANCEL from
 * the heartbeat whose HELLO aborted it (its source) is told CANCELLED and
 * one from any other source is told that nothing is pending. Events that
 * cannot happen in a state (QUIT with no heartbeat) leave it unchanged.
 * SLEEP (the machine is about to suspend, on_sleep = panic) fires at once
 * from every state: no grace window can outlast the suspend.
 */
static const struct transition transitions[POLICY_NSTATES][POLICY_NEVENTS] = {
	[POLICY_WAITING] = {
		T(GUARDING, NONE),	T(WAITING, NONE),
		T(WAITING, NONE),	T(GRACE_SIG, START),
		T(WAITING, CANCEL0),	T(WAITING, NONE),
		T(FIRED, FIRE),
	},
	[POLICY_GUARDING] = {
		T(GUARDING, NONE),	T(WAITING, NONE),
		T(GRACE_LOST, START),	T(GRACE_SIG_HB, START),
		T(GUARDING, CANCEL0),	T(GUARDING, NONE),
		T(FIRED, FIRE),
	},
	[POLICY_RESUMED] = {
		T(RESUMED, NONE),	T(WAITING, NONE),
		T(GRACE_LOST, START),	T(GRACE_SIG_HB, START),
		T(RESUMED, CLAIM),	T(RESUMED, NONE),
		T(FIRED, FIRE),
	},
	[POLICY_GRACE_LOST] = {
		T(RESUMED, ABORT),	T(GRACE_LOST, NONE),
		T(GRACE_LOST, NONE),	T(GRACE_SIG, ESCALATE),
		T(WAITING, ABORT),	T(GRACE_LOST, EXPIRE),
		T(FIRED, FIRE),
	},
	[POLICY_GRACE_SIG] = {
		T(GRACE_SIG_HB, NONE),	T(GRACE_SIG, NONE),
		T(GRACE_SIG, NONE),	T(GRACE_SIG, NONE),
		T(WAITING, ABORT),	T(GRACE_SIG, EXPIRE),
		T(FIRED, FIRE),
	},
	[POLICY_GRACE_SIG_HB] = {
		T(GRACE_SIG_HB, NONE),	T(GRACE_SIG, NONE),
		T(GRACE_SIG, NONE),	T(GRACE_SIG_HB, NONE),
		T(GUARDING, ABORT),	T(GRACE_SIG_HB, EXPIRE),
		T(FIRED, FIRE),
	},
	[POLICY_FIRED] = {
		T(FIRED, NONE),		T(FIRED, NONE),
		T(FIRED, NONE),		T(FIRED, NONE),
		T(FIRED, NONE),		T(FIRED, NONE),
		T(FIRED, NONE),
	},
};

#undef T

/* Set up a controller; grace is in seconds. */
void
policy_init(struct policy *p, bool armed, double grace,
    const struct policy_ops *ops)
{
	p->state = POLICY_WAITING;
	p->armed = armed;
	p->grace = grace;
	p->deadline = 0;
	p->aborter = 0;
	p->ops = *ops;
}

/*
 * The kill sequence, at most once: make the secret unrecoverable (the
 * wipe), kill the registered processes, then die (armed); dry-run names
 * instead of killing, and nothing else differs.
 */
static void
policy_fire(struct policy *p, struct policy_out *out)
{
	p->state = POLICY_FIRED;
	out->fired = true;
	p->ops.unrecoverable(p->ops.arg);
	p->ops.kill_procs(p->ops.arg, p->armed);
	p->ops.wipe(p->ops.arg);
	p->ops.kill(p->ops.arg, p->armed);
}

/* Make a dry-run controller armed from now on (never the reverse). */
bool
policy_arm(struct policy *p)
{
	if (p->armed)
		return false;
	p->armed = true;
	return true;
}

/*
 * Feed one event from src (the heartbeat that sent it; any number, only
 * compared) at time now; returns what the caller must do.
 */
struct policy_out
policy_step(struct policy *p, enum policy_event ev, unsigned long src,
    double now)
{
	struct policy_out out = { POLICY_REPLY_NONE, false, false, false, false,
		false, 0 };
	const struct transition *t;

	if ((unsigned)p->state >= POLICY_NSTATES ||
	    (unsigned)ev >= POLICY_NEVENTS)
		return out;
	t = &transitions[p->state][ev];
	if (p->state == POLICY_FIRED)
		return out;
	p->state = t->next;
	switch (t->action) {
	case ACT_NONE:
		break;
	case ACT_START:
		if (p->grace <= 0) {
			policy_fire(p, &out);
			break;
		}
		p->deadline = now + p->grace;
		out.started = true;
		out.arm_timer = true;
		break;
	case ACT_ABORT:
		out.aborted = true;
		if (ev == POLICY_EV_HELLO)
			p->aborter = src;
		else
			out.reply = POLICY_REPLY_CANCELLED;
		break;
	case ACT_EXPIRE:
		if (now >= p->deadline)
			policy_fire(p, &out);
		else
			out.arm_timer = true;
		break;
	case ACT_ESCALATE:
		out.escalated = true;
		break;
	case ACT_CANCEL0:
		out.reply = POLICY_REPLY_NO_PENDING;
		break;
	case ACT_FIRE:
		policy_fire(p, &out);
		break;
	case ACT_CLAIM:
		/* The HELLO of this very heartbeat already cancelled. */
		if (src == p->aborter) {
			out.reply = POLICY_REPLY_CANCELLED;
			p->state = POLICY_GUARDING;
		} else
			out.reply = POLICY_REPLY_NO_PENDING;
		break;
	}
	out.deadline = p->deadline;
	return out;
}

/* Is a heartbeat guarding the secret (no window running)? */
bool
policy_guarding(const struct policy *p)
{
	return p->state == POLICY_GUARDING || p->state == POLICY_RESUMED;
}

/* Is a grace window running? */
bool
policy_pending(const struct policy *p)
{
	return p->state == POLICY_GRACE_LOST || p->state == POLICY_GRACE_SIG ||
	    p->state == POLICY_GRACE_SIG_HB;
}

/*
 * STATUS's state: fired, grace, empty (nothing held), guarding (a
 * heartbeat is connected) or waiting.
 */
const char *
policy_status_state(const struct policy *p, bool empty)
{
	if (p->state == POLICY_FIRED)
		return "fired";
	if (policy_pending(p))
		return "grace";
	if (empty)
		return "empty";
	return policy_guarding(p) ? "guarding" : "waiting";
}

/* Seconds left in a grace window at now (0 once due), or -1 for none. */
double
policy_deadline_left(const struct policy *p, double now)
{
	double left;

	if (!policy_pending(p))
		return -1;
	left = p->deadline - now;
	if (left < -0.5)
		return -1;
	return left < 0 ? 0 : left;
}

/* Name a state for logs. */
const char *
policy_state_name(enum policy_state s)
{
	static const char *const names[POLICY_NSTATES] = {
		"waiting",
		"guarding",
		"guarding",
		"grace (heartbeat lost)",
		"grace (SIGUSR1)",
		"grace (SIGUSR1, heartbeat connected)",
		"fired",
	};

	if ((unsigned)s >= POLICY_NSTATES)
		return "?";
	return names[s];
}

/* Lifetime limits, in seconds (0: off), and a read limit (0: off). */
void
policy_life_init(struct policy_life *l, double max_lifetime,
    double idle_timeout, unsigned long max_reads)
{
	l->max_lifetime = max_lifetime;
	l->idle_timeout = idle_timeout;
	l->max_reads = max_reads;
	policy_life_wiped(l);
}

/* A secret was loaded at now (held: it is there; false: load failed). */
void
policy_life_loaded(struct policy_life *l, bool held, double now)
{
	l->held = held;
	l->loaded_at = now;
	l->used_at = now;
	l->reads = 0;
}

/* A GET was served at now. */
void
policy_life_read(struct policy_life *l, double now)
{
	l->used_at = now;
	l->reads++;
}

/* The secret is gone (wiped, expired, never loaded). */
void
policy_life_wiped(struct policy_life *l)
{
	l->held = false;
	l->loaded_at = 0;
	l->used_at = 0;
	l->reads = 0;
}

/*
 * Has the held secret expired at now? NULL if not, else why (for the
 * log). The read limit is reached once the Nth GET has been served.
 */
const char *
policy_life_expired(const struct policy_life *l, double now)
{
	if (!l->held)
		return NULL;
	if (l->max_reads > 0 && l->reads >= l->max_reads)
		return "max_reads reached";
	if (l->max_lifetime > 0 && now - l->loaded_at >= l->max_lifetime)
		return "max_lifetime reached";
	if (l->idle_timeout > 0 && now - l->used_at >= l->idle_timeout)
		return "idle_timeout reached";
	return NULL;
}

/* Seconds until the first time limit expires the secret; -1 if none. */
double
policy_life_left(const struct policy_life *l, double now)
{
	double left = 0, t;
	bool   any = false;

	if (!l->held)
		return -1;
	if (l->max_lifetime > 0) {
		left = l->loaded_at + l->max_lifetime - now;
		any = true;
	}
	if (l->idle_timeout > 0) {
		t = l->used_at + l->idle_timeout - now;
		if (!any || t < left)
			left = t;
		any = true;
	}
	if (!any)
		return -1;
	return left > 0 ? left : 0;
}
