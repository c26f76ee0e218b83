/* SPDX-License-Identifier: ISC */
/*
 * The panic controller, driven with an injected clock and fake wipe and
 * kill actions that only count.
 */
#include "dazai/policy.h"
#include "helpers.h"

struct counts {
	int	 wipes;
	int	 kills;
	int	 would;
	int	 order;		/* 1 if a wipe came before every kill */
};

static void
fake_wipe(void *arg)
{
	struct counts	*c = arg;

	c->wipes++;
}

static void
fake_kill(void *arg)
{
	struct counts	*c = arg;

	c->order = c->wipes > 0;
	c->kills++;
}

static void
fake_would(void *arg)
{
	struct counts	*c = arg;

	c->order = c->wipes > 0;
	c->would++;
}

/* A controller wired to counters. */
static void
setup(struct policy *p, struct counts *c, bool armed, double grace)
{
	struct policy_ops ops = { fake_wipe, fake_kill, fake_would, c };

	*c = (struct counts){ 0, 0, 0, 0 };
	policy_init(p, armed, grace, &ops);
}

START_TEST(dry_run_never_kills)
{
	struct policy		 p;
	struct counts		 c;
	struct policy_out	 o;

	setup(&p, &c, false, 0);
	policy_step(&p, POLICY_EV_HELLO, 0);
	o = policy_step(&p, POLICY_EV_LOST, 1);
	ck_assert(o.fired);
	ck_assert_int_eq(c.wipes, 1);
	ck_assert_int_eq(c.kills, 0);
	ck_assert_int_eq(c.would, 1);
	ck_assert_int_eq(c.order, 1);
	ck_assert_int_eq(p.state, POLICY_FIRED);
}
END_TEST

START_TEST(armed_kills_at_once_without_grace)
{
	struct policy		 p;
	struct counts		 c;
	struct policy_out	 o;

	setup(&p, &c, true, 0);
	policy_step(&p, POLICY_EV_HELLO, 0);
	o = policy_step(&p, POLICY_EV_LOST, 1);
	ck_assert(o.fired);
	ck_assert_int_eq(c.wipes, 1);
	ck_assert_int_eq(c.kills, 1);
	ck_assert_int_eq(c.would, 0);
	ck_assert_int_eq(c.order, 1);
}
END_TEST

START_TEST(armed_kills_only_after_deadline)
{
	struct policy		 p;
	struct counts		 c;
	struct policy_out	 o;

	setup(&p, &c, true, 5);
	policy_step(&p, POLICY_EV_HELLO, 100);
	o = policy_step(&p, POLICY_EV_LOST, 100);
	ck_assert(o.started);
	ck_assert(o.arm_timer);
	ck_assert(!o.fired);
	ck_assert(o.deadline == 105);
	ck_assert(policy_pending(&p));
	/* A timer that fires early re-arms; nothing dies. */
	o = policy_step(&p, POLICY_EV_TIMER, 104.999);
	ck_assert(!o.fired);
	ck_assert(o.arm_timer);
	ck_assert_int_eq(c.wipes + c.kills, 0);
	o = policy_step(&p, POLICY_EV_TIMER, 105);
	ck_assert(o.fired);
	ck_assert_int_eq(c.wipes, 1);
	ck_assert_int_eq(c.kills, 1);
}
END_TEST

START_TEST(dry_run_walks_grace_too)
{
	struct policy		 p;
	struct counts		 c;
	struct policy_out	 o;

	setup(&p, &c, false, 2);
	policy_step(&p, POLICY_EV_HELLO, 0);
	o = policy_step(&p, POLICY_EV_LOST, 10);
	ck_assert(o.started);
	ck_assert_int_eq(c.wipes, 0);
	o = policy_step(&p, POLICY_EV_TIMER, 12);
	ck_assert(o.fired);
	ck_assert_int_eq(c.wipes, 1);
	ck_assert_int_eq(c.would, 1);
	ck_assert_int_eq(c.kills, 0);
}
END_TEST

START_TEST(cancel_aborts)
{
	struct policy		 p;
	struct counts		 c;
	struct policy_out	 o;

	setup(&p, &c, true, 5);
	policy_step(&p, POLICY_EV_HELLO, 0);
	o = policy_step(&p, POLICY_EV_PANIC, 1);
	ck_assert(o.started);
	ck_assert_int_eq(p.state, POLICY_GRACE_SIG_HB);
	o = policy_step(&p, POLICY_EV_CANCEL, 2);
	ck_assert(o.aborted);
	ck_assert_int_eq(o.reply, POLICY_REPLY_CANCELLED);
	ck_assert_int_eq(p.state, POLICY_GUARDING);
	o = policy_step(&p, POLICY_EV_TIMER, 100);
	ck_assert(!o.fired);
	ck_assert_int_eq(c.wipes + c.kills, 0);
	o = policy_step(&p, POLICY_EV_CANCEL, 101);
	ck_assert_int_eq(o.reply, POLICY_REPLY_NO_PENDING);
}
END_TEST

START_TEST(reconnect_aborts_loss)
{
	struct policy		 p;
	struct counts		 c;
	struct policy_out	 o;

	setup(&p, &c, true, 5);
	policy_step(&p, POLICY_EV_HELLO, 0);
	policy_step(&p, POLICY_EV_LOST, 1);
	ck_assert_int_eq(p.state, POLICY_GRACE_LOST);
	o = policy_step(&p, POLICY_EV_HELLO, 2);
	ck_assert(o.aborted);
	ck_assert_int_eq(p.state, POLICY_GUARDING);
	/* The same connection's CANCEL reports the cancellation. */
	o = policy_step(&p, POLICY_EV_CANCEL, 3);
	ck_assert_int_eq(o.reply, POLICY_REPLY_CANCELLED);
	o = policy_step(&p, POLICY_EV_CANCEL, 3);
	ck_assert_int_eq(o.reply, POLICY_REPLY_NO_PENDING);
	o = policy_step(&p, POLICY_EV_TIMER, 10);
	ck_assert(!o.fired);
	ck_assert_int_eq(c.kills, 0);
}
END_TEST

START_TEST(reconnect_does_not_abort_sigusr1)
{
	struct policy		 p;
	struct counts		 c;
	struct policy_out	 o;

	setup(&p, &c, true, 5);
	o = policy_step(&p, POLICY_EV_PANIC, 0);
	ck_assert(o.started);
	ck_assert_int_eq(p.state, POLICY_GRACE_SIG);
	o = policy_step(&p, POLICY_EV_HELLO, 1);
	ck_assert(!o.aborted);
	ck_assert_int_eq(p.state, POLICY_GRACE_SIG_HB);
	/* Losing that heartbeat neither aborts nor restarts the window. */
	o = policy_step(&p, POLICY_EV_LOST, 2);
	ck_assert(!o.started);
	ck_assert(o.deadline == 5);
	o = policy_step(&p, POLICY_EV_TIMER, 5);
	ck_assert(o.fired);
	ck_assert_int_eq(c.kills, 1);
}
END_TEST

START_TEST(fires_once)
{
	struct policy		 p;
	struct counts		 c;
	struct policy_out	 o;
	int			 ev;

	setup(&p, &c, true, 0);
	policy_step(&p, POLICY_EV_HELLO, 0);
	policy_step(&p, POLICY_EV_LOST, 0);
	for (ev = 0; ev < POLICY_NEVENTS; ev++) {
		o = policy_step(&p, (enum policy_event)ev, 50);
		ck_assert(!o.fired);
		ck_assert(!o.started);
	}
	policy_step(&p, POLICY_EV_PANIC, 60);
	ck_assert_int_eq(c.wipes, 1);
	ck_assert_int_eq(c.kills, 1);
}
END_TEST

START_TEST(second_trigger_keeps_deadline)
{
	struct policy		 p;
	struct counts		 c;
	struct policy_out	 o;

	setup(&p, &c, false, 10);
	policy_step(&p, POLICY_EV_HELLO, 0);
	policy_step(&p, POLICY_EV_LOST, 0);
	o = policy_step(&p, POLICY_EV_PANIC, 5);
	ck_assert(!o.started);
	ck_assert(p.deadline == 10);
}
END_TEST

START_TEST(quit_stands_down)
{
	struct policy		 p;
	struct counts		 c;
	struct policy_out	 o;

	setup(&p, &c, true, 0);
	policy_step(&p, POLICY_EV_HELLO, 0);
	o = policy_step(&p, POLICY_EV_QUIT, 1);
	ck_assert(!o.fired);
	ck_assert_int_eq(p.state, POLICY_WAITING);
	/* With no heartbeat, nothing can be lost. */
	o = policy_step(&p, POLICY_EV_LOST, 2);
	ck_assert(!o.fired);
	ck_assert_int_eq(c.wipes, 0);
	/* But a signal still panics. */
	o = policy_step(&p, POLICY_EV_PANIC, 3);
	ck_assert(o.fired);
	ck_assert_int_eq(c.kills, 1);
}
END_TEST

START_TEST(nothing_before_first_heartbeat)
{
	struct policy		 p;
	struct counts		 c;
	struct policy_out	 o;

	setup(&p, &c, true, 0);
	o = policy_step(&p, POLICY_EV_LOST, 0);
	ck_assert(!o.fired);
	o = policy_step(&p, POLICY_EV_TIMER, 0);
	ck_assert(!o.fired);
	o = policy_step(&p, POLICY_EV_CANCEL, 0);
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
	struct policy		 p;
	struct counts		 c;
	struct policy_out	 o;

	setup(&p, &c, true, 10);
	policy_step(&p, POLICY_EV_HELLO, 0);
	o = policy_step(&p, POLICY_EV_LOST, 1);
	ck_assert(o.started);
	ck_assert_double_eq(o.deadline, 11);
	o = policy_step(&p, POLICY_EV_PANIC, 2);
	ck_assert(o.escalated);
	ck_assert(!o.started);
	ck_assert_double_eq(o.deadline, 11);
	o = policy_step(&p, POLICY_EV_HELLO, 3);
	ck_assert(!o.aborted);
	ck_assert(policy_pending(&p));
	o = policy_step(&p, POLICY_EV_TIMER, 11);
	ck_assert(o.fired);
	ck_assert_int_eq(c.kills, 1);

	/* CANCEL still ends it. */
	setup(&p, &c, true, 10);
	policy_step(&p, POLICY_EV_HELLO, 0);
	policy_step(&p, POLICY_EV_LOST, 1);
	policy_step(&p, POLICY_EV_PANIC, 2);
	o = policy_step(&p, POLICY_EV_CANCEL, 3);
	ck_assert(o.aborted);
	ck_assert_int_eq(o.reply, POLICY_REPLY_CANCELLED);
	ck_assert(!policy_pending(&p));
	ck_assert_int_eq(c.wipes, 0);
}
END_TEST

Suite *
policy_suite(void)
{
	Suite	*s = suite_create("policy");
	TCase	*tc = tcase_create("policy");

	tcase_add_test(tc, dry_run_never_kills);
	tcase_add_test(tc, panic_in_loss_window_escalates);
	tcase_add_test(tc, armed_kills_at_once_without_grace);
	tcase_add_test(tc, armed_kills_only_after_deadline);
	tcase_add_test(tc, dry_run_walks_grace_too);
	tcase_add_test(tc, cancel_aborts);
	tcase_add_test(tc, reconnect_aborts_loss);
	tcase_add_test(tc, reconnect_does_not_abort_sigusr1);
	tcase_add_test(tc, fires_once);
	tcase_add_test(tc, second_trigger_keeps_deadline);
	tcase_add_test(tc, quit_stands_down);
	tcase_add_test(tc, nothing_before_first_heartbeat);
	suite_add_tcase(s, tc);
	return s;
}
