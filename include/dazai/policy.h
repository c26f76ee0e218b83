/* SPDX-License-Identifier: ISC */
#ifndef DAZAI_POLICY_H
#define DAZAI_POLICY_H

#include <stdbool.h>

/*
 * The panic controller: a pure state machine. Time comes in as an argument;
 * wiping and killing are injected, so tests drive the whole decision path
 * without dying. Dry-run and armed differ only in the last action.
 */

enum policy_state {
	POLICY_WAITING,	     /* no heartbeat yet, or it stood down */
	POLICY_GUARDING,     /* a heartbeat is connected */
	POLICY_RESUMED,	     /* guarding: its HELLO aborted a loss window */
	POLICY_GRACE_LOST,   /* heartbeat lost, grace window running */
	POLICY_GRACE_SIG,    /* SIGUSR1, grace running, no heartbeat */
	POLICY_GRACE_SIG_HB, /* SIGUSR1, grace running, heartbeat on */
	POLICY_FIRED,	     /* wiped; killed or about to exit */
	POLICY_NSTATES
};

enum policy_event {
	POLICY_EV_HELLO,  /* a connection became the heartbeat */
	POLICY_EV_QUIT,	  /* the heartbeat stood down */
	POLICY_EV_LOST,	  /* the heartbeat closed or missed a ping */
	POLICY_EV_PANIC,  /* SIGUSR1 */
	POLICY_EV_CANCEL, /* CANCEL from the heartbeat */
	POLICY_EV_TIMER,  /* the grace timer expired */
	POLICY_EV_SLEEP,  /* the machine sleeps now (on_sleep = panic) */
	POLICY_NEVENTS
};

enum policy_reply {
	POLICY_REPLY_NONE,
	POLICY_REPLY_CANCELLED,
	POLICY_REPLY_NO_PENDING,
};

struct policy_ops {
	void (*unrecoverable)(void *); /* zero the key: the secret is gone */
	void (*wipe)(void *);	       /* overwrite the secret */
	/* armed: SIGKILL the registered processes; dry-run: name them */
	void (*kill_procs)(void *, bool);
	/* armed: SIGKILL self; dry-run: say WOULD SIGKILL */
	void (*kill)(void *, bool);
	void *arg;
};

struct policy_out {
	enum policy_reply reply;   /* answer to CANCEL */
	bool		  started; /* a grace window started */
	bool		  aborted; /* a grace window was aborted */
	bool   escalated; /* a panic request: only CANCEL ends it now */
	bool   arm_timer; /* (re)arm the grace timer for deadline */
	bool   fired;	  /* wiped and killed (or dry-run done) */
	double deadline;  /* when the grace window ends */
};

struct policy {
	enum policy_state state;
	bool		  armed; /* emergency's, handed down */
	double		  grace;
	double		  deadline;
	unsigned long	  aborter; /* RESUMED: whose HELLO aborted */
	struct policy_ops ops;
};

/*
 * Lifetimes of a loaded secret (0 = off for each): seconds since the
 * load, seconds since the last LOAD or GET, and GETs. Pure: the times are
 * seconds on CLOCK_BOOTTIME (btimer_now), passed in, so suspended time
 * counts.
 */
struct policy_life {
	double	      max_lifetime;
	double	      idle_timeout;
	unsigned long max_reads;
	bool	      held; /* a secret is loaded */
	double	      loaded_at;
	double	      used_at; /* last LOAD or GET */
	unsigned long reads;
};

void policy_life_init(struct policy_life *, double, double, unsigned long);
void policy_life_loaded(struct policy_life *, bool, double);
void policy_life_read(struct policy_life *, double);
void policy_life_wiped(struct policy_life *);
const char *policy_life_expired(const struct policy_life *, double);
double	    policy_life_left(const struct policy_life *, double);

void policy_init(struct policy *, bool, double, const struct policy_ops *);
struct policy_out policy_step(struct policy *, enum policy_event, unsigned long,
    double);
bool		  policy_guarding(const struct policy *);
bool		  policy_pending(const struct policy *);
const char	 *policy_status_state(const struct policy *, bool);
double		  policy_deadline_left(const struct policy *, double);
bool		  policy_arm(struct policy *);
const char	 *policy_state_name(enum policy_state);

#endif
