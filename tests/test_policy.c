/* SPDX-License-Identifier: ISC */
/*
 * The panic controller, driven with an injected clock and fake wipe and
 * kill actions that only count.
 */
#include <string.h>

#include "dazai/policy.h"
#include "helpers.h"

struct counts {
	int  wipes;
	int  kills;
	int  would;
	int  order;   /* 1 if a wipe came before every kill */
	char seq[16]; /* U unrecoverable, P procs killed, p named,
				   W wipe, K, k */
};

/* Note one action in the sequence. */
static void
note(struct counts *c, char a)
{
	size_t n = strlen(c->seq);

	if (n + 1 < sizeof c->seq) {
		c->seq[n] = a;
		c->seq[n + 1] = '\0';
	}
}

static void
fake_kill_procs(void *arg, bool armed)
{
	note(arg, armed ? 'P' : 'p');
}

static void
fake_unrecoverable(void *arg)
{
	note(arg, 'U');
}

static void
fake_wipe(void *arg)
{
	struct counts *c = arg;

	c->wipes++;
	note(c, 'W');
}

static void
fake_kill(void *arg, bool armed)
{
	struct counts *c = arg;

	c->order = c->wipes > 0;
	if (armed)
		c->kills++;
	else
		c->would++;
	note(c, armed ? 'K' : 'k');
}

/* A controller wired to counters. */
static void
setup(struct policy *p, struct counts *c, bool armed, double grace)
{
	struct policy_ops ops = { fake_unrecoverable, fake_wipe,
		fake_kill_procs, fake_kill, c };

	memset(c, 0, sizeof *c);
	policy_init(p, armed, grace, &ops);
}

START_TEST(dry_run_never_kills)
{
	struct policy	  p;
	struct counts	  c;
	struct policy_out o;

	setup(&p, &c, false, 0);
	policy_step(&p, POLICY_EV_HELLO, 0, 0);
	o = policy_step(&p, POLICY_EV_LOST, 0, 1);
	ck_assert(o.fired);
	ck_assert_int_eq(c.wipes, 1);
	ck_assert_int_eq(c.kills, 0);
	ck_assert_int_eq(c.would, 1);
	ck_assert_int_eq(c.order, 1);
	/* Same path as armed: registered processes only named. */
	ck_assert_str_eq(c.seq, "UpWk");
	ck_assert_int_eq(p.state, POLICY_FIRED);
}
END_TEST

START_TEST(armed_kills_at_once_without_grace)
{
	struct policy	  p;
	struct counts	  c;
	struct policy_out o;

	setup(&p, &c, true, 0);
	policy_step(&p, POLICY_EV_HELLO, 0, 0);
	o = policy_step(&p, POLICY_EV_LOST, 0, 1);
	ck_assert(o.fired);
	ck_assert_int_eq(c.wipes, 1);
	ck_assert_int_eq(c.kills, 1);
	ck_assert_int_eq(c.would, 0);
	/* The kill sequence: unrecoverable, registered killed, self. */
	ck_assert_str_eq(c.seq, "UPWK");
	ck_assert_int_eq(c.order, 1);
}
END_TEST

START_TEST(armed_kills_only_after_deadline)
{
	struct policy	  p;
	struct counts	  c;
	struct policy_out o;

	setup(&p, &c, true, 5);
	policy_step(&p, POLICY_EV_HELLO, 0, 100);
	o = policy_step(&p, POLICY_EV_LOST, 0, 100);
	ck_assert(o.started);
	ck_assert(o.arm_timer);
	ck_assert(!o.fired);
	ck_assert(o.deadline == 105);
	ck_assert(policy_pending(&p));
	/* A timer that fires early re-arms; nothing dies. */
	o = policy_step(&p, POLICY_EV_TIMER, 0, 104.999);
	ck_assert(!o.fired);
	ck_assert(o.arm_timer);
	ck_assert_int_eq(c.wipes + c.kills, 0);
	o = policy_step(&p, POLICY_EV_TIMER, 0, 105);
	ck_assert(o.fired);
	ck_assert_int_eq(c.wipes, 1);
	ck_assert_int_eq(c.kills, 1);
}
END_TEST

START_TEST(dry_run_walks_grace_too)
{
	struct policy	  p;
	struct counts	  c;
	struct policy_out o;

	setup(&p, &c, false, 2);
	policy_step(&p, POLICY_EV_HELLO, 0, 0);
	o = policy_step(&p, POLICY_EV_LOST, 0, 10);
	ck_assert(o.started);
	ck_assert_int_eq(c.wipes, 0);
	o = policy_step(&p, POLICY_EV_TIMER, 0, 12);
	ck_assert(o.fired);
	ck_assert_int_eq(c.wipes, 1);
	ck_assert_int_eq(c.would, 1);
	ck_assert_int_eq(c.kills, 0);
}
END_TEST

START_TEST(cancel_aborts)
{
	struct policy	  p;
	struct counts	  c;
	struct policy_out o;

	setup(&p, &c, true, 5);
	policy_step(&p, POLICY_EV_HELLO, 0, 0);
	o = policy_step(&p, POLICY_EV_PANIC, 0, 1);
	ck_assert(o.started);
	ck_assert_int_eq(p.state, POLICY_GRACE_SIG_HB);
	o = policy_step(&p, POLICY_EV_CANCEL, 0, 2);
	ck_assert(o.aborted);
	ck_assert_int_eq(o.reply, POLICY_REPLY_CANCELLED);
	ck_assert_int_eq(p.state, POLICY_GUARDING);
	o = policy_step(&p, POLICY_EV_TIMER, 0, 100);
	ck_assert(!o.fired);
	ck_assert_int_eq(c.wipes + c.kills, 0);
	o = policy_step(&p, POLICY_EV_CANCEL, 0, 101);
	ck_assert_int_eq(o.reply, POLICY_REPLY_NO_PENDING);
}
END_TEST

START_TEST(reconnect_aborts_loss)
{
	struct policy	  p;
	struct counts	  c;
	struct policy_out o;

	setup(&p, &c, true, 5);
	policy_step(&p, POLICY_EV_HELLO, 0, 0);
	policy_step(&p, POLICY_EV_LOST, 0, 1);
	ck_assert_int_eq(p.state, POLICY_GRACE_LOST);
	o = policy_step(&p, POLICY_EV_HELLO, 7, 2);
	ck_assert(o.aborted);
	ck_assert_int_eq(p.state, POLICY_RESUMED);
	ck_assert(policy_guarding(&p));
	/* Another heartbeat's (or a control connection's) CANCEL cancelled
	 * nothing; the aborting connection's own still reports it. */
	o = policy_step(&p, POLICY_EV_CANCEL, 8, 3);
	ck_assert_int_eq(o.reply, POLICY_REPLY_NO_PENDING);
	o = policy_step(&p, POLICY_EV_CANCEL, 0, 3);
	ck_assert_int_eq(o.reply, POLICY_REPLY_NO_PENDING);
	o = policy_step(&p, POLICY_EV_CANCEL, 7, 3);
	ck_assert_int_eq(o.reply, POLICY_REPLY_CANCELLED);
	ck_assert_int_eq(p.state, POLICY_GUARDING);
	o = policy_step(&p, POLICY_EV_CANCEL, 7, 3);
	ck_assert_int_eq(o.reply, POLICY_REPLY_NO_PENDING);
	o = policy_step(&p, POLICY_EV_TIMER, 0, 10);
	ck_assert(!o.fired);
	ck_assert_int_eq(c.kills, 0);
}
END_TEST

/* STATUS's state and deadline follow the controller and the secret. */
START_TEST(status_state_and_deadline)
{
	struct policy p;
	struct counts c;

	setup(&p, &c, false, 5);
	ck_assert_str_eq(policy_status_state(&p, true), "empty");
	ck_assert_str_eq(policy_status_state(&p, false), "waiting");
	ck_assert(policy_deadline_left(&p, 0) == -1);
	policy_step(&p, POLICY_EV_HELLO, 1, 0);
	ck_assert_str_eq(policy_status_state(&p, false), "guarding");
	ck_assert_str_eq(policy_status_state(&p, true), "empty");
	policy_step(&p, POLICY_EV_LOST, 1, 10);
	ck_assert_str_eq(policy_status_state(&p, false), "grace");
	ck_assert_str_eq(policy_status_state(&p, true), "grace");
	ck_assert(policy_deadline_left(&p, 11) == 4);
	ck_assert(policy_deadline_left(&p, 15.2) == 0);
	ck_assert(policy_deadline_left(&p, 16) == -1);
	policy_step(&p, POLICY_EV_HELLO, 2, 12);
	ck_assert_str_eq(policy_status_state(&p, false), "guarding");
	ck_assert(policy_deadline_left(&p, 12) == -1);
	policy_step(&p, POLICY_EV_PANIC, 0, 13);
	policy_step(&p, POLICY_EV_TIMER, 0, 18);
	ck_assert_str_eq(policy_status_state(&p, false), "fired");
	ck_assert_str_eq(policy_status_state(&p, true), "fired");
}
END_TEST

START_TEST(reconnect_does_not_abort_sigusr1)
{
	struct policy	  p;
	struct counts	  c;
	struct policy_out o;

	setup(&p, &c, true, 5);
	o = policy_step(&p, POLICY_EV_PANIC, 0, 0);
	ck_assert(o.started);
	ck_assert_int_eq(p.state, POLICY_GRACE_SIG);
	o = policy_step(&p, POLICY_EV_HELLO, 0, 1);
	ck_assert(!o.aborted);
	ck_assert_int_eq(p.state, POLICY_GRACE_SIG_HB);
	/* Losing that heartbeat neither aborts nor restarts the window. */
	o = policy_step(&p, POLICY_EV_LOST, 0, 2);
	ck_assert(!o.started);
	ck_assert(o.deadline == 5);
	o = policy_step(&p, POLICY_EV_TIMER, 0, 5);
	ck_assert(o.fired);
	ck_assert_int_eq(c.kills, 1);
}
END_TEST

START_TEST(fires_once)
{
	struct policy	  p;
	struct counts	  c;
	struct policy_out o;
	int		  ev;

	setup(&p, &c, true, 0);
	policy_step(&p, POLICY_EV_HELLO, 0, 0);
	policy_step(&p, POLICY_EV_LOST, 0, 0);
	for (ev = 0; ev < POLICY_NEVENTS; ev++) {
		o = policy_step(&p, (enum policy_event)ev, 0, 50);
		ck_assert(!o.fired);
		ck_assert(!o.started);
	}
	policy_step(&p, POLICY_EV_PANIC, 0, 60);
	ck_assert_int_eq(c.wipes, 1);
	ck_assert_int_eq(c.kills, 1);
}
END_TEST

START_TEST(second_trigger_keeps_deadline)
{
	struct policy	  p;
	struct counts	  c;
	struct policy_out o;

	setup(&p, &c, false, 10);
	policy_step(&p, POLICY_EV_HELLO, 0, 0);
	policy_step(&p, POLICY_EV_LOST, 0, 0);
	o = policy_step(&p, POLICY_EV_PANIC, 0, 5);
	ck_assert(!o.started);
	ck_assert(p.deadline == 10);
}
END_TEST

START_TEST(quit_stands_down)
{
	struct policy	  p;
	struct counts	  c;
	struct policy_out o;

	setup(&p, &c, true, 0);
	policy_step(&p, POLICY_EV_HELLO, 0, 0);
	o = policy_step(&p, POLICY_EV_QUIT, 0, 1);
	ck_assert(!o.fired);
	ck_assert_int_eq(p.state, POLICY_WAITING);
	/* With no heartbeat, nothing can be lost. */
	o = policy_step(&p, POLICY_EV_LOST, 0, 2);
	ck_assert(!o.fired);
	ck_assert_int_eq(c.wipes, 0);
	/* But a signal still panics. */
	o = policy_step(&p, POLICY_EV_PANIC, 0, 3);
	ck_assert(o.fired);
	ck_assert_int_eq(c.kills, 1);
}
END_TEST

START_TEST(nothing_before_first_heartbeat)
{
	struct policy	  p;
	struct counts	  c;
	struct policy_out o;

	setup(&p, &c, true, 0);
	o = policy_step(&p, POLICY_EV_LOST, 0, 0);
	ck_assert(!o.fired);
	o = policy_step(&p, POLICY_EV_TIMER, 0, 0);
	ck_assert(!o.fired);
	o = policy_step(&p, POLICY_EV_CANCEL, 0, 0);
	ck_assert_int_eq(o.reply, POLICY_REPLY_NO_PENDING);
	ck_assert_int_eq(c.wipes + c.kills, 0);
	ck_assert_str_eq(policy_state_name(p.state), "waiting");
}
END_TEST

/*
 * A panic request during a window a loss opened keeps its deadline but
 * makes it one that only CANCEL ends: a reconnect no longer aborts it.
 */
START_TEST(panic_in_loss_window_escalates)
{
	struct policy	  p;
	struct counts	  c;
	struct policy_out o;

	setup(&p, &c, true, 10);
	policy_step(&p, POLICY_EV_HELLO, 0, 0);
	o = policy_step(&p, POLICY_EV_LOST, 0, 1);
	ck_assert(o.started);
	ck_assert_double_eq(o.deadline, 11);
	o = policy_step(&p, POLICY_EV_PANIC, 0, 2);
	ck_assert(o.escalated);
	ck_assert(!o.started);
	ck_assert_double_eq(o.deadline, 11);
	o = policy_step(&p, POLICY_EV_HELLO, 0, 3);
	ck_assert(!o.aborted);
	ck_assert(policy_pending(&p));
	o = policy_step(&p, POLICY_EV_TIMER, 0, 11);
	ck_assert(o.fired);
	ck_assert_int_eq(c.kills, 1);

	/* CANCEL still ends it. */
	setup(&p, &c, true, 10);
	policy_step(&p, POLICY_EV_HELLO, 0, 0);
	policy_step(&p, POLICY_EV_LOST, 0, 1);
	policy_step(&p, POLICY_EV_PANIC, 0, 2);
	o = policy_step(&p, POLICY_EV_CANCEL, 0, 3);
	ck_assert(o.aborted);
	ck_assert_int_eq(o.reply, POLICY_REPLY_CANCELLED);
	ck_assert(!policy_pending(&p));
	ck_assert_int_eq(c.wipes, 0);
}
END_TEST

/* ARM: dry-run becomes armed, never the reverse; the path is the same. */
START_TEST(arm_once)
{
	struct policy p;
	struct counts c;

	setup(&p, &c, false, 0);
	ck_assert(policy_arm(&p));
	ck_assert(!policy_arm(&p));
	ck_assert(p.armed);
	policy_step(&p, POLICY_EV_PANIC, 0, 1);
	ck_assert_str_eq(c.seq, "UPWK");
}
END_TEST

/*
 * on_sleep = panic: the machine is about to suspend, so the panic fires
 * at once from every state, a grace window's included (none could run
 * out while the machine sleeps), and armed or not only the last step
 * differs.
 */
START_TEST(sleep_fires_at_once)
{
	struct policy	  p;
	struct counts	  c;
	struct policy_out o;

	setup(&p, &c, true, 30);
	o = policy_step(&p, POLICY_EV_SLEEP, 0, 5);
	ck_assert(o.fired);
	ck_assert_str_eq(c.seq, "UPWK");
	setup(&p, &c, false, 30);
	policy_step(&p, POLICY_EV_HELLO, 0, 0);
	o = policy_step(&p, POLICY_EV_LOST, 0, 1);
	ck_assert(o.started && !o.fired);
	o = policy_step(&p, POLICY_EV_SLEEP, 0, 2);
	ck_assert(o.fired);
	ck_assert_int_eq(c.wipes, 1);
	ck_assert_int_eq(c.kills, 0);
	ck_assert_int_eq(c.would, 1);
	o = policy_step(&p, POLICY_EV_SLEEP, 0, 3);
	ck_assert(!o.fired);
	ck_assert_int_eq(c.wipes, 1);
}
END_TEST

/*
 * Suspended time counts: the clock passed in is CLOCK_BOOTTIME, which a
 * suspend advances while CLOCK_MONOTONIC stands still. Here a night's
 * suspend: the monotonic clock moved 2 s, the boot clock 8 hours. The
 * lifetimes and the grace window, fed the boot clock, are due at once.
 */
START_TEST(suspended_time_counts)
{
	const double	   boot0 = 1000, night = 8 * 3600;
	const double	   mono0 = 400, mono1 = mono0 + 2;
	struct policy_life l;
	struct policy	   p;
	struct counts	   c;
	struct policy_out  o;

	policy_life_init(&l, 3600, 0, 0);
	policy_life_loaded(&l, true, boot0);
	/* What a monotonic clock would have said: not yet. */
	ck_assert_ptr_null(policy_life_expired(&l, boot0 + (mono1 - mono0)));
	ck_assert_str_eq(policy_life_expired(&l, boot0 + night),
	    "max_lifetime reached");
	policy_life_init(&l, 0, 600, 0);
	policy_life_loaded(&l, true, boot0);
	ck_assert_ptr_nonnull(policy_life_expired(&l, boot0 + night));
	ck_assert(policy_life_left(&l, boot0 + night) == 0);
	/* A grace window opened just before the lid closed. */
	setup(&p, &c, true, 60);
	policy_step(&p, POLICY_EV_HELLO, 0, boot0);
	o = policy_step(&p, POLICY_EV_LOST, 0, boot0 + 1);
	ck_assert(o.started);
	o = policy_step(&p, POLICY_EV_TIMER, 0, boot0 + night);
	ck_assert(o.fired);
	ck_assert(policy_deadline_left(&p, boot0 + night) <= 0);
}
END_TEST

/* Lifetimes: pure, the time passed in. */
START_TEST(life_max_lifetime)
{
	struct policy_life l;

	policy_life_init(&l, 10, 0, 0);
	ck_assert_ptr_null(policy_life_expired(&l, 1000));
	ck_assert(policy_life_left(&l, 1000) < 0);
	policy_life_loaded(&l, true, 100);
	ck_assert_ptr_null(policy_life_expired(&l, 109.9));
	ck_assert(policy_life_left(&l, 104) > 5.9 &&
	    policy_life_left(&l, 104) < 6.1);
	/* Reads do not extend a lifetime. */
	policy_life_read(&l, 109);
	ck_assert_str_eq(policy_life_expired(&l, 110), "max_lifetime reached");
	ck_assert(policy_life_left(&l, 111) == 0);
	policy_life_wiped(&l);
	ck_assert_ptr_null(policy_life_expired(&l, 200));
}
END_TEST

START_TEST(life_idle_timeout)
{
	struct policy_life l;

	policy_life_init(&l, 0, 5, 0);
	policy_life_loaded(&l, true, 0);
	ck_assert_ptr_null(policy_life_expired(&l, 4));
	policy_life_read(&l, 4); /* a GET refreshes it */
	ck_assert_ptr_null(policy_life_expired(&l, 8.9));
	ck_assert(policy_life_left(&l, 8) > 0.9 &&
	    policy_life_left(&l, 8) < 1.1);
	ck_assert_str_eq(policy_life_expired(&l, 9), "idle_timeout reached");
	/* A new load starts afresh. */
	policy_life_loaded(&l, true, 20);
	ck_assert_ptr_null(policy_life_expired(&l, 24));
}
END_TEST

START_TEST(life_nearest_limit)
{
	struct policy_life l;

	policy_life_init(&l, 100, 10, 0);
	policy_life_loaded(&l, true, 0);
	ck_assert(policy_life_left(&l, 0) == 10);
	policy_life_read(&l, 95);
	/* idle would end at 105, lifetime at 100 */
	ck_assert(policy_life_left(&l, 95) == 5);
	ck_assert_str_eq(policy_life_expired(&l, 100), "max_lifetime reached");
}
END_TEST

START_TEST(life_max_reads)
{
	struct policy_life l;

	policy_life_init(&l, 0, 0, 2);
	policy_life_loaded(&l, true, 0);
	ck_assert(policy_life_left(&l, 0) < 0); /* no time limit */
	policy_life_read(&l, 1);
	ck_assert_ptr_null(policy_life_expired(&l, 1));
	policy_life_read(&l, 2);
	ck_assert_str_eq(policy_life_expired(&l, 2), "max_reads reached");
	policy_life_loaded(&l, true, 3);
	ck_assert_int_eq(l.reads, 0);
	ck_assert_ptr_null(policy_life_expired(&l, 3));
	/* Off: nothing ever expires. */
	policy_life_init(&l, 0, 0, 0);
	policy_life_loaded(&l, true, 0);
	policy_life_read(&l, 1e6);
	ck_assert_ptr_null(policy_life_expired(&l, 1e9));
}
END_TEST

Suite *
policy_suite(void)
{
	Suite *s = suite_create("policy");
	TCase *tc = tcase_create("policy");

	tcase_add_test(tc, dry_run_never_kills);
	tcase_add_test(tc, panic_in_loss_window_escalates);
	tcase_add_test(tc, armed_kills_at_once_without_grace);
	tcase_add_test(tc, armed_kills_only_after_deadline);
	tcase_add_test(tc, dry_run_walks_grace_too);
	tcase_add_test(tc, cancel_aborts);
	tcase_add_test(tc, reconnect_aborts_loss);
	tcase_add_test(tc, reconnect_does_not_abort_sigusr1);
	tcase_add_test(tc, status_state_and_deadline);
	tcase_add_test(tc, fires_once);
	tcase_add_test(tc, second_trigger_keeps_deadline);
	tcase_add_test(tc, quit_stands_down);
	tcase_add_test(tc, nothing_before_first_heartbeat);
	tcase_add_test(tc, arm_once);
	tcase_add_test(tc, sleep_fires_at_once);
	tcase_add_test(tc, suspended_time_counts);
	tcase_add_test(tc, life_max_lifetime);
	tcase_add_test(tc, life_idle_timeout);
	tcase_add_test(tc, life_nearest_limit);
	tcase_add_test(tc, life_max_reads);
	suite_add_tcase(s, tc);
	return s;
}
