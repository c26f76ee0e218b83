/* SPDX-License-Identifier: ISC */
/* dazai-heartbeat against the real daemon. */
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
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
	char	    pidarg[16], log[160];
	const char *argv[10];
	int	    n = 0;

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
	int st;

	if (dz_waitpid(pid, &st, timeout) != 0) {
		kill(pid, SIGKILL);
		dz_waitpid(pid, &st, 5);
		return -1;
	}
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

START_TEST(holds_then_sigterm_panics)
{
	struct dz d;
	pid_t	  c;
	int	  fd;

	ck_assert_int_eq(dz_start(&d, DRY), 0);
	c = client(&d, 0, "hb.log");
	ck_assert(dz_log_wait(&d, "heartbeat connected", 5));
	fd = dz_connect(d.sock);
	ck_assert(dz_send(fd, "HELLO 1\n"));
	dz_expect(fd, "BUSY");
	close(fd);
	usleep(500000); /* a few PINGs go by */
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
	struct dz d;
	pid_t	  c;
	int	  fd;

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
	struct dz d;
	pid_t	  victim, c;
	int	  st;

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
	struct dz d;
	pid_t	  c;
	int	  hb;

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
	char	    dir[64], sock[128], out[1024];
	const char *argv[] = { dz_bin("dazai-heartbeat"), "--socket", sock,
		NULL };

	dz_tmpdir(dir, sizeof dir);
	snprintf(sock, sizeof sock, "%s/none.sock", dir);
	ck_assert_int_eq(dz_run(argv, out, sizeof out, 10), 4 << 8);
	ck_assert_msg(strstr(out, "no daemon at") != NULL, "%s", out);
}
END_TEST

START_TEST(daemon_lost_exit_1)
{
	struct dz d;
	pid_t	  c;

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
	struct dz   d;
	char	    out[1024];
	const char *argv[] = { dz_bin("dazai-heartbeat"), "--socket", NULL,
		"--cancel", NULL };
	int	    fd;

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
	ck_assert_msg(strstr(out,
			  "dazai-heartbeat: WARNING: panic cancelled, "
			  "and no heartbeat is connected: the daemon at ") !=
		    NULL &&
		strstr(out,
		    "still holds the secret and nothing ends it when "
		    "your session ends") != NULL,
	    "%s", out);
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
	struct dz   d;
	char	    out[1024];
	const char *argv[] = { dz_bin("dazai-heartbeat"), "--socket", NULL,
		"--cancel", NULL };
	pid_t	    c;

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

/* Listen on a socket of our own in a fresh private directory (path out). */
static int
fake_listener(char *path, size_t len)
{
	struct sockaddr_un sun;
	char		   dir[64];
	int		   fd;

	dz_tmpdir(dir, sizeof dir);
	memset(&sun, 0, sizeof sun);
	sun.sun_family = AF_UNIX;
	snprintf(sun.sun_path, sizeof sun.sun_path, "%s/fake.sock", dir);
	snprintf(path, len, "%s", sun.sun_path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(bind(fd, (struct sockaddr *)&sun, sizeof sun), 0);
	ck_assert_int_eq(listen(fd, 4), 0);
	return fd;
}

/* Accept one connection within timeout seconds. */
static int
fake_accept(int lfd, double timeout)
{
	struct pollfd pfd = { lfd, POLLIN, 0 };
	int	      fd;

	ck_assert_msg(poll(&pfd, 1, (int)(timeout * 1000)) == 1,
	    "the client did not connect");
	fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
	ck_assert_int_ge(fd, 0);
	return fd;
}

/* CPU seconds (user and system) pid has used so far, from /proc. */
static double
proc_cpu(pid_t pid)
{
	char	      path[64], buf[1024];
	const char   *p;
	unsigned long ut = 0, st = 0;
	int	      i;

	snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
	if ((p = strrchr(dz_read_file(path, buf, sizeof buf), ')')) == NULL)
		return -1;
	for (i = 0; i < 12 && p != NULL; i++) /* to field 14, utime */
		p = strchr(p + 1, ' ');
	if (p == NULL || sscanf(p + 1, "%lu %lu", &ut, &st) != 2)
		return -1;
	return (double)(ut + st) / (double)sysconf(_SC_CLK_TCK);
}

/*
 * Give pid up to timeout seconds to exit. Returns its exit status (-1 if
 * it was still running, and is then killed) and in *cpu the CPU seconds
 * it used: from its rusage once reaped, else from /proc before the kill.
 */
static int
reap_cpu(pid_t pid, double timeout, double *cpu)
{
	long long     end = dz_ms_now() + (long long)(timeout * 1000);
	struct rusage ru;
	int	      st;

	for (;;) {
		if (wait4(pid, &st, WNOHANG, &ru) == pid) {
			*cpu =
			    (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
			    (double)(ru.ru_utime.tv_usec +
				ru.ru_stime.tv_usec) /
				1e6;
			return WIFEXITED(st) ? WEXITSTATUS(st) :
					       128 + WTERMSIG(st);
		}
		if (dz_ms_now() >= end)
			break;
		usleep(10000);
	}
	*cpu = proc_cpu(pid);
	kill(pid, SIGKILL);
	dz_waitpid(pid, &st, 5);
	return -1;
}

/*
 * A listener that sends a line longer than the protocol allows (4 KiB, no
 * newline), instead of WELCOME or after it, and keeps the connection
 * open: the client gives up with one line naming the protocol error and
 * exit 1, using next to no CPU (it once spun on the full buffer).
 */
START_TEST(overlong_line_gives_up)
{
	char	    sock[128], log[160], junk[4096], line[128], text[1024];
	const char *argv[] = { dz_bin("dazai-heartbeat"), "--socket", sock,
		"--interval", "0.2", "--quiet", NULL };
	double	    cpu;
	pid_t	    c;
	int	    lfd, fd, welcome, code, lfile;
	ssize_t	    n;

	memset(junk, 'x', sizeof junk);
	for (welcome = 0; welcome < 2; welcome++) {
		lfd = fake_listener(sock, sizeof sock);
		snprintf(log, sizeof log, "%.*s/hb.log",
		    (int)(strrchr(sock, '/') - sock), sock);
		c = dz_spawn(argv, log, -1);
		fd = fake_accept(lfd, 5);
		ck_assert(dz_readline(fd, line, sizeof line, 5) != NULL);
		ck_assert_msg(strncmp(line, "HELLO ", 6) == 0, "%s", line);
		if (welcome)
			ck_assert(dz_send(fd, "WELCOME\n"));
		/* It may give up before it has read it all. */
		(void)send(fd, junk, sizeof junk, MSG_NOSIGNAL);
		code = reap_cpu(c, 3, &cpu);
		ck_assert_msg(cpu >= 0 && cpu < 0.3,
		    "%s WELCOME: the client "
		    "used %.2f s of CPU on an over-long line",
		    welcome ? "after" : "instead of", cpu);
		ck_assert_msg(code == 1, "%s WELCOME: exit status %d",
		    welcome ? "after" : "instead of", code);
		lfile = open(log, O_RDONLY);
		ck_assert_int_ge(lfile, 0);
		n = read(lfile, text, sizeof text - 1);
		close(lfile);
		text[n > 0 ? n : 0] = '\0';
		ck_assert_msg(strstr(text, "protocol error") != NULL &&
			strstr(text, "longer than 256 bytes") != NULL,
		    "%s", text);
		ck_assert_msg(strchr(text, '\n') == text + strlen(text) - 1,
		    "not one line: %s", text);
		close(fd);
		close(lfd);
	}
}
END_TEST

/*
 * A listener that takes HELLO and never answers: after its 10 s the
 * client says it got no answer (nothing closed the connection) and exits
 * 1; one that closes the connection is told apart.
 */
START_TEST(silent_listener)
{
	char	    sock[128], log[160], line[128], text[1024];
	const char *argv[] = { dz_bin("dazai-heartbeat"), "--socket", sock,
		"--quiet", NULL };
	double	    cpu;
	pid_t	    c;
	int	    lfd, fd, code, lfile, closes;
	ssize_t	    n;

	for (closes = 0; closes < 2; closes++) {
		lfd = fake_listener(sock, sizeof sock);
		snprintf(log, sizeof log, "%.*s/hb.log",
		    (int)(strrchr(sock, '/') - sock), sock);
		c = dz_spawn(argv, log, -1);
		fd = fake_accept(lfd, 5);
		ck_assert(dz_readline(fd, line, sizeof line, 5) != NULL);
		if (closes)
			close(fd);
		code = reap_cpu(c, 15, &cpu);
		ck_assert_msg(code == 1, "exit status %d", code);
		lfile = open(log, O_RDONLY);
		ck_assert_int_ge(lfile, 0);
		n = read(lfile, text, sizeof text - 1);
		close(lfile);
		text[n > 0 ? n : 0] = '\0';
		if (closes)
			ck_assert_msg(strstr(text,
					  "closed the connection "
					  "without WELCOME") != NULL,
			    "%s", text);
		else
			ck_assert_msg(strstr(text,
					  "no answer to HELLO within "
					  "10 s") != NULL &&
				strstr(text, "closed") == NULL,
			    "%s", text);
		if (!closes)
			close(fd);
		close(lfd);
	}
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
	char	    out[1024];
	const char *argv[4];
	size_t	    i;

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
	Suite *s = suite_create("heartbeat");
	TCase *tc = tcase_create("heartbeat");

	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, holds_then_sigterm_panics);
	tcase_add_test(tc, sigusr1_stands_down);
	tcase_add_test(tc, watched_death_panics);
	tcase_add_test(tc, busy_exit_3);
	tcase_add_test(tc, no_daemon_exit_4);
	tcase_add_test(tc, daemon_lost_exit_1);
	tcase_add_test(tc, cancel_option);
	tcase_add_test(tc, cancel_sigusr1_window_while_guarded);
	tcase_add_test(tc, overlong_line_gives_up);
	tcase_add_test(tc, silent_listener);
	tcase_add_test(tc, usage_errors);
	suite_add_tcase(s, tc);
	return s;
}
