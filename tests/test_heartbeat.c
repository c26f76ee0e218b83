/* SPDX-License-Identifier: ISC */
/* dazai-heartbeat against the real daemon. */
#include <sys/wait.h>

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "helpers.h"

static const char *const DRY[] = { NULL };
static const char *const DRY_GRACE[] = { "--grace", "30", NULL };

/* Start the client on d's socket, watching pid (0: its parent). */
static pid_t
client(struct dz *d, pid_t watch, const char *logname)
{
	char		 pidarg[16], log[160];
	const char	*argv[10];
	int		 n = 0;

	argv[n++] = dz_bin("dazai-heartbeat");
	argv[n++] = "--socket";
	argv[n++] = d->sock;
	argv[n++] = "--interval";
	argv[n++] = "0.2";
	if (watch > 0) {
		snprintf(pidarg, sizeof pidarg, "%d", (int)watch);
		argv[n++] = "--watch-pid";
		argv[n++] = pidarg;
	}
	argv[n] = NULL;
	snprintf(log, sizeof log, "%s/%s", d->dir, logname);
	return dz_spawn(argv, log, -1);
}

/* Wait for pid and return its exit status (-1 if it did not exit). */
static int
exit_code(pid_t pid, double timeout)
{
	int	 st;

	if (dz_waitpid(pid, &st, timeout) != 0) {
		kill(pid, SIGKILL);
		dz_waitpid(pid, &st, 5);
		return -1;
	}
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

START_TEST(holds_then_sigterm_panics)
{
	struct dz	 d;
	pid_t		 c;
	int		 fd;

	ck_assert_int_eq(dz_start(&d, DRY), 0);
	c = client(&d, 0, "hb.log");
	ck_assert(dz_log_wait(&d, "heartbeat connected", 5));
	fd = dz_connect(d.sock);
	ck_assert(dz_send(fd, "HELLO 1\n"));
	dz_expect(fd, "BUSY");
	close(fd);
	usleep(500000);		/* a few PINGs go by */
	ck_assert(dz_alive(&d));
	kill(c, SIGTERM);
	ck_assert_int_eq(exit_code(c, 5), 0);
	ck_assert_int_eq(dz_wait(&d, 10), 0);
	ck_assert(WIFEXITED(d.status) && WEXITSTATUS(d.status) == 0);
	ck_assert(dz_log_has(&d, "WOULD SIGKILL"));
	dz_stop(&d);
}
END_TEST

START_TEST(sigusr1_stands_down)
{
	struct dz	 d;
	pid_t		 c;
	int		 fd;

	ck_assert_int_eq(dz_start(&d, DRY), 0);
	c = client(&d, 0, "hb.log");
	ck_assert(dz_log_wait(&d, "heartbeat connected", 5));
	kill(c, SIGUSR1);
	ck_assert_int_eq(exit_code(c, 5), 0);
	ck_assert(dz_log_wait(&d, "stood down", 5));
	/* No panic; the slot is free for the next heartbeat. */
	fd = dz_hello(d.sock);
	ck_assert(dz_alive(&d));
	ck_assert(!dz_log_has(&d, "secret wiped"));
	close(fd);
	ck_assert_int_eq(dz_wait(&d, 10), 0);
	dz_stop(&d);
}
END_TEST

START_TEST(watched_death_panics)
{
	struct dz	 d;
	pid_t		 victim, c;
	int		 st;

	ck_assert_int_eq(dz_start(&d, DRY), 0);
	victim = fork();
	ck_assert_int_ge(victim, 0);
	if (victim == 0) {
		pause();
		_exit(0);
	}
	c = client(&d, victim, "hb.log");
	ck_assert(dz_log_wait(&d, "heartbeat connected", 5));
	usleep(300000);
	ck_assert(dz_alive(&d));
	kill(victim, SIGKILL);
	ck_assert_int_eq(dz_waitpid(victim, &st, 5), 0);
	ck_assert_int_eq(exit_code(c, 5), 0);
	ck_assert_int_eq(dz_wait(&d, 10), 0);
	ck_assert(WIFEXITED(d.status) && WEXITSTATUS(d.status) == 0);
	ck_assert(dz_log_has(&d, "WOULD SIGKILL"));
	dz_stop(&d);
}
END_TEST

START_TEST(busy_exit_3)
{
	struct dz	 d;
	pid_t		 c;
	int		 hb;

	ck_assert_int_eq(dz_start(&d, DRY), 0);
	hb = dz_hello(d.sock);
	c = client(&d, 0, "hb.log");
	ck_assert_int_eq(exit_code(c, 10), 3);
	ck_assert(dz_send(hb, "PING\n"));
	dz_expect(hb, "PONG");
	close(hb);
	ck_assert_int_eq(dz_wait(&d, 10), 0);
	dz_stop(&d);
}
END_TEST

START_TEST(no_daemon_exit_4)
{
	char		 dir[64], sock[128], out[1024];
	const char	*argv[] = { dz_bin("dazai-heartbeat"), "--socket", sock,
			    NULL };

	dz_tmpdir(dir, sizeof dir);
	snprintf(sock, sizeof sock, "%s/none.sock", dir);
	ck_assert_int_eq(dz_run(argv, out, sizeof out, 10), 4 << 8);
	ck_assert_msg(strstr(out, "no daemon at") != NULL, "%s", out);
}
END_TEST

START_TEST(daemon_lost_exit_1)
{
	struct dz	 d;
	pid_t		 c;

	ck_assert_int_eq(dz_start(&d, DRY), 0);
	c = client(&d, 0, "hb.log");
	ck_assert(dz_log_wait(&d, "heartbeat connected", 5));
	kill(d.pid, SIGTERM);
	ck_assert_int_eq(dz_wait(&d, 10), 0);
	ck_assert_int_eq(exit_code(c, 10), 1);
	dz_stop(&d);
}
END_TEST

START_TEST(cancel_option)
{
	struct dz	 d;
	char		 out[1024];
	const char	*argv[] = { dz_bin("dazai-heartbeat"), "--socket", NULL,
			    "--cancel", NULL };
	int		 fd;

	ck_assert_int_eq(dz_start(&d, DRY_GRACE), 0);
	argv[2] = d.sock;
	/* Nothing pending: the reply says so, still exit 0. */
	ck_assert_int_eq(dz_run(argv, out, sizeof out, 10), 0);
	ck_assert_msg(strstr(out, "ERR no pending panic") != NULL, "%s", out);
	ck_assert_msg(strstr(out, "WARNING") == NULL, "%s", out);
	/* Heartbeat lost: a grace window runs; --cancel ends it. */
	fd = dz_hello(d.sock);
	close(fd);
	ck_assert(dz_log_wait(&d, "grace window of 30s", 5));
	ck_assert_int_eq(dz_run(argv, out, sizeof out, 10), 0);
	ck_assert_msg(strstr(out, "CANCELLED") != NULL, "%s", out);
	/* Loudly: the daemon is left holding the secret unguarded. */
	ck_assert_msg(strstr(out, "dazai-heartbeat: WARNING: panic cancelled, "
	    "and no heartbeat is connected: the daemon at ") != NULL &&
	    strstr(out, "still holds the secret and nothing ends it when "
	    "your session ends") != NULL, "%s", out);
	ck_assert(dz_log_wait(&d, "pending panic aborted", 5));
	/* SIGUSR1 with no heartbeat: --cancel ends that window too. */
	kill(d.pid, SIGUSR1);
	ck_assert(dz_log_wait(&d, "SIGUSR1", 5));
	ck_assert_int_eq(dz_run(argv, out, sizeof out, 10), 0);
	ck_assert_msg(strstr(out, "CANCELLED") != NULL, "%s", out);
	ck_assert(dz_alive(&d));
	ck_assert(!dz_log_has(&d, "secret wiped"));
	dz_stop(&d);
}
END_TEST

START_TEST(cancel_sigusr1_window_while_guarded)
{
	struct dz	 d;
	char		 out[1024];
	const char	*argv[] = { dz_bin("dazai-heartbeat"), "--socket", NULL,
			    "--cancel", NULL };
	pid_t		 c;

	ck_assert_int_eq(dz_start(&d, DRY_GRACE), 0);
	argv[2] = d.sock;
	c = client(&d, 0, "hb.log");
	ck_assert(dz_log_wait(&d, "heartbeat connected", 5));
	kill(d.pid, SIGUSR1);
	ck_assert(dz_log_wait(&d, "grace window of 30s", 5));
	/* The slot is held: --cancel gets BUSY. */
	ck_assert_int_eq(dz_run(argv, out, sizeof out, 10), 3 << 8);
	/* The documented way: stand the client down, then cancel. */
	kill(c, SIGUSR1);
	ck_assert_int_eq(exit_code(c, 5), 0);
	ck_assert(dz_log_wait(&d, "stood down", 5));
	ck_assert_int_eq(dz_run(argv, out, sizeof out, 10), 0);
	ck_assert_msg(strstr(out, "CANCELLED") != NULL, "%s", out);
	ck_assert(dz_alive(&d));
	ck_assert(!dz_log_has(&d, "secret wiped"));
	dz_stop(&d);
}
END_TEST

START_TEST(usage_errors)
{
	static const char *const bad[][3] = {
		{ "--bogus", NULL, NULL },
		{ "--interval", "0", NULL },
		{ "--interval", "-1", NULL },
		{ "--interval", "abc", NULL },
		{ "--watch-pid", "x", NULL },
		{ "--watch-pid", "0", NULL },
		{ "extra", NULL, NULL },
		{ "--interval", NULL, NULL },
	};
	char		 out[1024];
	const char	*argv[4];
	size_t		 i;

	for (i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		argv[0] = dz_bin("dazai-heartbeat");
		argv[1] = bad[i][0];
		argv[2] = bad[i][1];
		argv[3] = NULL;
		ck_assert_msg(dz_run(argv, out, sizeof out, 10) == 2 << 8,
		    "%s %s: %s", bad[i][0], bad[i][1] ? bad[i][1] : "", out);
		ck_assert_msg(strncmp(out, "dazai-heartbeat: ", 17) == 0 &&
		    strchr(out, '\n') == out + strlen(out) - 1,
		    "not one line: %s", out);
	}
}
END_TEST

Suite *
heartbeat_suite(void)
{
	Suite	*s = suite_create("heartbeat");
	TCase	*tc = tcase_create("heartbeat");

	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, holds_then_sigterm_panics);
	tcase_add_test(tc, sigusr1_stands_down);
	tcase_add_test(tc, watched_death_panics);
	tcase_add_test(tc, busy_exit_3);
	tcase_add_test(tc, no_daemon_exit_4);
	tcase_add_test(tc, daemon_lost_exit_1);
	tcase_add_test(tc, cancel_option);
	tcase_add_test(tc, cancel_sigusr1_window_while_guarded);
	tcase_add_test(tc, usage_errors);
	suite_add_tcase(s, tc);
	return s;
}
