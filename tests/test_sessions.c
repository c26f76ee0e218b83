/* SPDX-License-Identifier: ISC */
/*
 * Several heartbeats (--sessions N): up to N at once, the loss of one
 * among others only logged, the loss of the last a panic, run against
 * the real daemon.
 */
#include <sys/prctl.h>
#include <sys/wait.h>

#include <pty.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "helpers.h"

/* One request on a fresh control connection; the reply in buf. */
static char *
control(const struct dz *d, const char *req, char *buf, size_t len)
{
	int   fd = dz_connect(d->sock);
	char *r;

	ck_assert_int_ge(fd, 0);
	ck_assert(dz_send(fd, req));
	r = dz_readline(fd, buf, len, 5);
	ck_assert_msg(r != NULL, "no reply to %s", req);
	close(fd);
	return r;
}

/* The value of one STATUS field, as an integer (-1 if absent). */
static long
status_field(const struct dz *d, const char *key)
{
	char	    buf[512], want[64];
	const char *p;

	control(d, "STATUS\n", buf, sizeof buf);
	snprintf(want, sizeof want, " %s=", key);
	if ((p = strstr(buf, want)) == NULL)
		return -1;
	return strtol(p + strlen(want), NULL, 10);
}

/* Connect and say HELLO with a given pid; the first reply in buf. */
static int
hello_as(const struct dz *d, int pid, char *buf, size_t len)
{
	char line[64];
	int  fd = dz_connect(d->sock);

	ck_assert_int_ge(fd, 0);
	snprintf(line, sizeof line, "HELLO %d\n", pid);
	ck_assert(dz_send(fd, line));
	ck_assert_msg(dz_readline(fd, buf, len, 5) != NULL,
	    "no reply to "
	    "HELLO %d",
	    pid);
	return fd;
}

/*
 * Up to N heartbeats; the N+1th gets BUSY; QUIT of one is quiet; the loss
 * of one among others is logged, not a panic; the loss of the last is.
 */
START_TEST(sessions_up_to_n)
{
	static const char *const args[] = { "--sessions", "3", NULL };
	struct dz		 d;
	char			 buf[256];
	int			 hb[3], extra, i;

	ck_assert_int_eq(dz_start(&d, args), 0);
	for (i = 0; i < 3; i++) {
		hb[i] = hello_as(&d, 1000 + i, buf, sizeof buf);
		ck_assert_str_eq(buf, "WELCOME");
	}
	extra = hello_as(&d, 2000, buf, sizeof buf);
	ck_assert_str_eq(buf, "BUSY");
	ck_assert(dz_eof(extra, 5));
	close(extra);
	ck_assert_int_eq(status_field(&d, "sessions"), 3);
	/* Each session described, in order. */
	control(&d, "SESSION 1\n", buf, sizeof buf);
	ck_assert_msg(strncmp(buf,
			  "SESSION index=1 hello_pid=1001 "
			  "peer_pid=",
			  31) == 0,
	    "%s", buf);
	ck_assert_msg(strstr(buf, " since=") && strstr(buf, " idle="), "%s",
	    buf);
	control(&d, "SESSION 3\n", buf, sizeof buf);
	ck_assert_str_eq(buf, "ERR no such session");

	/* QUIT of one: quiet. */
	ck_assert(dz_send(hb[0], "QUIT\n"));
	dz_expect(hb[0], "BYE");
	close(hb[0]);
	ck_assert(dz_log_wait(&d,
	    "heartbeat stood down (QUIT) (pid 1000); "
	    "2 sessions remain",
	    5));
	/* The loss of one among others: logged, not a panic. */
	close(hb[1]);
	ck_assert(dz_log_wait(&d,
	    "heartbeat lost (pid 1001); 1 session "
	    "remains",
	    5));
	ck_assert(dz_alive(&d));
	ck_assert_int_eq(status_field(&d, "sessions"), 1);
	ck_assert_int_gt(status_field(&d, "secret_bytes"), 0);
	ck_assert(!dz_log_has(&d, "WOULD SIGKILL"));
	/* A place freed: a newcomer is welcome again. */
	extra = hello_as(&d, 3000, buf, sizeof buf);
	ck_assert_str_eq(buf, "WELCOME");
	close(extra);
	ck_assert(dz_log_wait(&d,
	    "heartbeat lost (pid 3000); 1 session "
	    "remains",
	    5));
	/* The loss of the last one: the panic. */
	close(hb[2]);
	ck_assert_int_eq(dz_wait(&d, 10), 0);
	ck_assert(WIFEXITED(d.status) && WEXITSTATUS(d.status) == 0);
	ck_assert_int_eq(dz_log_count(&d, "WOULD SIGKILL (dry-run"), 1);
}
END_TEST

/* The last one gone by QUIT is no loss: the daemon waits, secret kept. */
START_TEST(sessions_all_quit)
{
	static const char *const args[] = { "--sessions", "2", "--arm", NULL };
	struct dz		 d;
	char			 buf[256];
	int			 a, b;

	ck_assert_int_eq(dz_start(&d, args), 0);
	a = hello_as(&d, 1, buf, sizeof buf);
	b = hello_as(&d, 2, buf, sizeof buf);
	ck_assert(dz_send(a, "QUIT\n"));
	dz_expect(a, "BYE");
	ck_assert(dz_send(b, "QUIT\n"));
	dz_expect(b, "BYE");
	close(a);
	close(b);
	ck_assert(dz_log_wait(&d, "waiting for the next heartbeat", 5));
	usleep(200000);
	ck_assert(dz_alive(&d));
	ck_assert_int_eq(status_field(&d, "sessions"), 0);
	dz_stop(&d);
}
END_TEST

/*
 * The loss of the last opens the grace window; a HELLO aborts it. CANCEL
 * works from any heartbeat.
 */
START_TEST(sessions_grace_and_cancel)
{
	static const char *const args[] = { "--sessions", "4", "--grace", "30",
		"--arm", NULL };
	struct dz		 d;
	char			 buf[256];
	int			 a, b;

	ck_assert_int_eq(dz_start(&d, args), 0);
	a = hello_as(&d, 1, buf, sizeof buf);
	close(a);
	ck_assert(dz_log_wait(&d, "grace window of 30s", 5));
	a = hello_as(&d, 2, buf, sizeof buf);
	ck_assert_str_eq(buf, "WELCOME");
	ck_assert(dz_log_wait(&d, "pending panic aborted", 5));
	b = hello_as(&d, 3, buf, sizeof buf);
	kill(d.pid, SIGUSR1);
	ck_assert(dz_log_wait(&d, "SIGUSR1", 5));
	ck_assert(dz_send(b, "CANCEL\n"));
	dz_expect(b, "CANCELLED");
	ck_assert_int_eq(status_field(&d, "sessions"), 2);
	ck_assert(dz_alive(&d));
	close(a);
	ck_assert(dz_log_wait(&d, "1 session remains", 5));
	close(b);
	ck_assert(dz_log_wait(&d, "grace window of 30s", 5));
	ck_assert(dz_alive(&d));
	dz_stop(&d);
}
END_TEST

/*
 * Each heartbeat has its own ping deadline: a silent one among talkers is
 * lost alone; the last one's silence is the panic.
 */
START_TEST(sessions_ping_each)
{
	static const char *const args[] = { "--sessions", "2", "--ping-timeout",
		"1", NULL };
	struct dz		 d;
	char			 buf[256];
	int			 talker, silent, i;

	ck_assert_int_eq(dz_start(&d, args), 0);
	talker = hello_as(&d, 1, buf, sizeof buf);
	silent = hello_as(&d, 2, buf, sizeof buf);
	for (i = 0; i < 8; i++) {
		usleep(300000);
		ck_assert(dz_send(talker, "PING\n"));
		dz_expect(talker, "PONG");
	}
	ck_assert(dz_log_has(&d,
	    "heartbeat lost (pid 2); 1 session "
	    "remains"));
	ck_assert(dz_alive(&d));
	/* Now the last one falls silent too. */
	ck_assert_int_eq(dz_wait(&d, 10), 0);
	ck_assert(WIFEXITED(d.status) && WEXITSTATUS(d.status) == 0);
	ck_assert(dz_log_has(&d, "no line within the ping timeout"));
	close(talker);
	close(silent);
}
END_TEST

/*
 * 64 heartbeats that vanish at the same instant make one panic, not 64;
 * a flood of HELLOs beyond N is turned away and changes nothing.
 */
START_TEST(sessions_mass_vanish)
{
	static const char *const args[] = { "--sessions", "64", NULL };
	struct dz		 d;
	char			 buf[256];
	int			 hb[64], extra[32], i;

	ck_assert_int_eq(dz_start(&d, args), 0);
	for (i = 0; i < 64; i++) {
		hb[i] = hello_as(&d, 100 + i, buf, sizeof buf);
		ck_assert_msg(strcmp(buf, "WELCOME") == 0, "heartbeat %d: %s",
		    i, buf);
	}
	for (i = 0; i < 32; i++) {
		extra[i] = hello_as(&d, 500 + i, buf, sizeof buf);
		ck_assert_str_eq(buf, "BUSY");
	}
	for (i = 0; i < 32; i++)
		close(extra[i]);
	ck_assert_int_eq(status_field(&d, "sessions"), 64);
	for (i = 0; i < 64; i++)
		close(hb[i]);
	ck_assert_int_eq(dz_wait(&d, 10), 0);
	ck_assert(WIFEXITED(d.status) && WEXITSTATUS(d.status) == 0);
	ck_assert_int_eq(dz_log_count(&d, "WOULD SIGKILL (dry-run"), 1);
	ck_assert_int_eq(dz_log_count(&d, "secret wiped ("), 1);
	ck_assert_int_eq(dz_log_count(&d, "sessions remain"), 62);
	ck_assert_int_eq(dz_log_count(&d, "1 session remains"), 1);
}
END_TEST

/* --sessions outside 1 to 64 is a usage error naming the limit. */
START_TEST(sessions_bad_values)
{
	static const char *const bad[] = { "0", "65", "-1", "lots", "", "1.5",
		NULL };
	const char *argv[] = { dz_bin("dazaid"), "--sessions", NULL,
		"--check-config", NULL };
	char	    out[1024];
	int	    i, st;

	for (i = 0; bad[i] != NULL; i++) {
		argv[2] = bad[i];
		st = dz_run(argv, out, sizeof out, 10);
		ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 2,
		    "--sessions '%s': status 0x%x: %s", bad[i], st, out);
		ck_assert_msg(strstr(out, "between 1 and 64") != NULL,
		    "--sessions '%s': %s", bad[i], out);
	}
	argv[2] = "64";
	st = dz_run(argv, out, sizeof out, 10);
	ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 0, "%s", out);
	ck_assert_msg(strstr(out, "sessions = 64") != NULL, "%s", out);
}
END_TEST

/* dazai status lists each heartbeat, for a person and in JSON. */
START_TEST(sessions_dazai_status)
{
	static const char *const args[] = { "--sessions", "4", NULL };
	const char *argv[] = { dz_bin("dazai"), "--socket", NULL, "status",
		NULL, NULL };
	struct dz   d;
	char	    buf[256], out[8192];
	int	    a, b, st;

	ck_assert_int_eq(dz_start(&d, args), 0);
	argv[2] = d.sock;
	a = hello_as(&d, 4242, buf, sizeof buf);
	b = hello_as(&d, 4343, buf, sizeof buf);
	st = dz_run(argv, out, sizeof out, 10);
	ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 0, "%s", out);
	ck_assert_msg(strstr(out, "sessions      2\n") != NULL, "%s", out);
	ck_assert_msg(strstr(out, "heartbeat     pid 4242 (peer pid ") !=
		    NULL &&
		strstr(out, "heartbeat     pid 4343 (peer pid ") != NULL,
	    "%s", out);
	/* Each names the shell it watches (its peer's parent: here the
	 * runner) and that shell's terminal, if any. */
	snprintf(buf, sizeof buf, "), shell pid %d on ", (int)getppid());
	ck_assert_msg(strstr(out, buf) != NULL, "%s", out);
	argv[4] = "--json";
	st = dz_run(argv, out, sizeof out, 10);
	ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 0, "%s", out);
	ck_assert_msg(strstr(out, "\"sessions\":2,") != NULL &&
		strstr(out,
		    ",\"heartbeats\":[{\"index\":0,\"hello_pid\":4242,"
		    "\"peer_pid\":") != NULL &&
		strstr(out,
		    "{\"index\":1,"
		    "\"hello_pid\":4343,") != NULL &&
		strstr(out, "}]}\n") != NULL,
	    "%s", out);
	snprintf(buf, sizeof buf, ",\"shell_pid\":%d,\"tty\":", (int)getppid());
	ck_assert_msg(strstr(out, buf) != NULL, "%s", out);
	close(a);
	close(b);
	dz_stop(&d);
}
END_TEST

/*
 * A real dazai-heartbeat started by a stand-in shell on a pseudo-terminal:
 * dazai status shows that shell's pid and its terminal, so a user can
 * tell which window is which.
 */
START_TEST(sessions_status_names_the_tty)
{
	static const char *const args[] = { "--sessions", "2", NULL };
	const char *argv[] = { dz_bin("dazai"), "--socket", NULL, "status",
		NULL };
	char	    tty[64], out[8192], want[128];
	struct dz   d;
	pid_t	    shell, hb;
	int	    master, slave, st;

	ck_assert_int_eq(dz_start(&d, args), 0);
	argv[2] = d.sock;
	ck_assert_int_eq(openpty(&master, &slave, tty, NULL, NULL), 0);
	shell = fork();
	ck_assert_int_ge(shell, 0);
	if (shell == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		dup2(slave, STDIN_FILENO);
		close(master);
		if ((hb = fork()) == 0) {
			execl(dz_bin("dazai-heartbeat"), "dazai-heartbeat",
			    "--socket", d.sock, (char *)NULL);
			_exit(127);
		}
		waitpid(hb, &st, 0);
		_exit(0);
	}
	close(slave);
	ck_assert(dz_log_wait(&d, "heartbeat connected", 10));
	st = dz_run(argv, out, sizeof out, 10);
	ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 0, "%s", out);
	snprintf(want, sizeof want, ", shell pid %d on %s,", (int)shell, tty);
	ck_assert_msg(strstr(out, want) != NULL, "want '%s' in %s", want, out);
	dz_stop(&d);
	kill(shell, SIGKILL);
	dz_waitpid(shell, &st, 5);
	close(master);
}
END_TEST

Suite *
sessions_suite(void)
{
	Suite *s = suite_create("sessions");
	TCase *tc = tcase_create("sessions");

	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, sessions_up_to_n);
	tcase_add_test(tc, sessions_all_quit);
	tcase_add_test(tc, sessions_grace_and_cancel);
	tcase_add_test(tc, sessions_ping_each);
	tcase_add_test(tc, sessions_mass_vanish);
	tcase_add_test(tc, sessions_bad_values);
	tcase_add_test(tc, sessions_dazai_status);
	tcase_add_test(tc, sessions_status_names_the_tty);
	suite_add_tcase(s, tc);
	return s;
}
