/* SPDX-License-Identifier: ISC */
/*
 * on_sleep: the real dazaid and its warden on a real dbus-daemon (a
 * private bus, named by DBUS_SYSTEM_BUS_ADDRESS, which sd-bus honours)
 * with build/logind-standin playing logind's Manager. That stand-in is
 * the one thing here that is not the real component: logind cannot run in
 * these test machines (it needs systemd as PID 1), and no machine can be
 * suspended from a test. It answers Inhibit with a pipe's end, as logind
 * does, says when that lock is let go, and emits PrepareForSleep when
 * told. What the suspended machine's clocks do is covered by the pure
 * tests (policy: suspended_time_counts; daemon: boot_clock_timer).
 */
#include <sys/prctl.h>
#include <sys/random.h>
#include <sys/stat.h>
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
#include "memscan.h"

/* A private bus, and the stand-in on it. */
struct bus {
	char   dir[64];
	char   path[128]; /* the bus's socket */
	char   addr[160]; /* unix:path=... */
	pid_t  dbus;
	pid_t  logind;	  /* the stand-in, 0 if none */
	int    to;	  /* its standard input */
	int    from;	  /* its standard output */
	char   out[8192]; /* what it has said */
	size_t len;
};

/* Is dbus-daemon here? CI installs it: its absence is a required skip. */
static bool
have_dbus(const char *test)
{
	char path[256];

	if (dz_which("dbus-daemon", path, sizeof path))
		return true;
	dz_skip("%s: dbus-daemon is not installed", test);
	return false;
}

/* Start the stand-in with pipes on its standard input and output. */
static void
standin_start(struct bus *b)
{
	int in[2], out[2];

	ck_assert_int_eq(pipe2(in, O_CLOEXEC), 0);
	ck_assert_int_eq(pipe2(out, O_CLOEXEC), 0);
	b->logind = fork();
	ck_assert_int_ge(b->logind, 0);
	if (b->logind == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		dup2(in[0], STDIN_FILENO);
		dup2(out[1], STDOUT_FILENO);
		execl(dz_bin("logind-standin"), "logind-standin", (char *)NULL);
		_exit(127);
	}
	close(in[0]);
	close(out[1]);
	b->to = in[1];
	b->from = out[0];
	fcntl(b->from, F_SETFL, O_NONBLOCK);
}

/* Wait until the stand-in has said a line containing what. */
static bool
standin_wait(struct bus *b, const char *what, double timeout)
{
	struct pollfd pfd;
	double	      end = dz_now() + timeout;
	ssize_t	      n;

	for (;;) {
		b->out[b->len] = '\0';
		if (strstr(b->out, what) != NULL)
			return true;
		if (dz_now() >= end || b->len >= sizeof b->out - 1)
			return false;
		pfd.fd = b->from;
		pfd.events = POLLIN;
		(void)poll(&pfd, 1, 50);
		n = read(b->from, b->out + b->len, sizeof b->out - 1 - b->len);
		if (n > 0)
			b->len += (size_t)n;
	}
}

/* Tell the stand-in: "sleep", "wake" or "refuse". */
static void
standin_say(struct bus *b, const char *cmd)
{
	char line[32];

	snprintf(line, sizeof line, "%s\n", cmd);
	ck_assert(write(b->to, line, strlen(line)) == (ssize_t)strlen(line));
}

/*
 * A dbus-daemon on dir/bus (the session configuration: every name may be
 * owned, by the same uid), named to children by DBUS_SYSTEM_BUS_ADDRESS;
 * with the stand-in on it when logind is set.
 */
static void
bus_start(struct bus *b, bool logind)
{
	const char *argv[6];
	char	    listen[192], exe[256], log[128];
	double	    end;

	memset(b, 0, sizeof *b);
	b->to = b->from = -1;
	dz_tmpdir(b->dir, sizeof b->dir);
	snprintf(b->path, sizeof b->path, "%s/bus", b->dir);
	snprintf(b->addr, sizeof b->addr, "unix:path=%s", b->path);
	snprintf(listen, sizeof listen, "--address=%s", b->addr);
	ck_assert(dz_which("dbus-daemon", exe, sizeof exe));
	argv[0] = exe;
	argv[1] = "--session";
	argv[2] = "--nofork";
	argv[3] = "--nopidfile";
	argv[4] = listen;
	argv[5] = NULL;
	snprintf(log, sizeof log, "%s/dbus.log", b->dir);
	b->dbus = dz_spawn(argv, log, -1);
	for (end = dz_now() + 10; access(b->path, F_OK) != 0;) {
		ck_assert_msg(dz_now() < end, "dbus-daemon did not listen");
		usleep(10000);
	}
	ck_assert_int_eq(setenv("DBUS_SYSTEM_BUS_ADDRESS", b->addr, 1), 0);
	if (!logind)
		return;
	standin_start(b);
	ck_assert_msg(standin_wait(b, "ready\n", 10),
	    "the logind stand-in "
	    "did not start: %s",
	    b->out);
}

/* Stop what bus_start started, by pid. */
static void
bus_stop(struct bus *b)
{
	int st;

	if (b->logind > 0) {
		close(b->to);
		kill(b->logind, SIGKILL);
		dz_waitpid(b->logind, &st, 5);
		close(b->from);
	}
	if (b->dbus > 0) {
		kill(b->dbus, SIGKILL);
		dz_waitpid(b->dbus, &st, 5);
	}
	unsetenv("DBUS_SYSTEM_BUS_ADDRESS");
}

/* A config file in dir with text; its path in conf. */
static void
write_conf(const char *dir, char *conf, size_t conflen, const char *text)
{
	snprintf(conf, conflen, "%s/dazai.conf", dir);
	dz_write_file(conf, text, strlen(text));
}

/*
 * on_sleep = wipe, armed (so the action runs): the delay lock
 * (what=sleep, mode=delay) is taken at start; at PrepareForSleep(true)
 * every secret is wiped, the on_wipe action has run and the prekey and
 * the ciphertext are gone from the daemon's memory (a scan from outside)
 * by the time the lock is let go; the daemon stays up, and
 * PrepareForSleep(false) takes a new lock.
 */
START_TEST(sleep_wipe)
{
	struct memscan_shield sh;
	unsigned char	      secret[32];
	char	    dir[64], conf[128], marker[160], path[160], text[512];
	char	    logbuf[8192];
	const char *args[] = { "--arm", "--config", conf, "--secret-file", path,
		"--no-secretmem", "--verbose", NULL };
	struct bus  b;
	struct dz   d;
	bool	    scan;
	int	    fd;

	if (!have_dbus("sleep_wipe"))
		return;
	scan = dz_is_root() && !dz_is_asan_build(dz_bin("dazaid"));
	bus_start(&b, true);
	dz_tmpdir(dir, sizeof dir);
	snprintf(marker, sizeof marker, "%s/wiped", dir);
	snprintf(text, sizeof text,
	    "on_sleep = wipe\non_wipe = echo "
	    "\"$DAZAI_REASON\" > %s\n",
	    marker);
	write_conf(dir, conf, sizeof conf, text);
	snprintf(path, sizeof path, "%s/secret", dir);
	ck_assert_int_eq(getrandom(secret, sizeof secret, 0),
	    (ssize_t)sizeof secret);
	dz_write_file(path, secret, sizeof secret);
	ck_assert_int_eq(dz_start(&d, args), 0);
	ck_assert_msg(standin_wait(&b, "inhibit what=sleep who=dazai ", 10),
	    "no Inhibit: %s", b.out);
	ck_assert(standin_wait(&b, " mode=delay n=1\n", 1));
	ck_assert(dz_status_wait(&d, "sleep", "wipe", 5));
	if (scan) {
		ck_assert_int_eq(memscan_shield(d.pid, &sh), 0);
		ck_assert_int_ge(dz_mem_hits(d.pid, sh.prekey,
				     sizeof sh.prekey),
		    1);
		ck_assert_int_ge(dz_mem_hits(d.pid, sh.ct, sizeof sh.ct), 1);
	}
	standin_say(&b, "sleep");
	ck_assert_msg(standin_wait(&b, "released n=1\n", 10),
	    "the lock was "
	    "not let go: %s\nlog:\n%s",
	    b.out, dz_read_file(d.log, logbuf, sizeof logbuf));
	/* Everything below was true before the machine could sleep. */
	ck_assert_msg(access(marker, F_OK) == 0,
	    "on_wipe did not run first: "
	    "%s",
	    dz_read_file(d.log, logbuf, sizeof logbuf));
	fd = dz_ctl(&d);
	ck_assert_str_eq(dz_req(fd, "GET\n"), "ERR no secret");
	close(fd);
	ck_assert_str_eq(dz_field(dz_status(&d), "state"), "empty");
	if (scan) {
		ck_assert_int_eq(dz_mem_hits(d.pid, sh.prekey,
				     sizeof sh.prekey),
		    0);
		ck_assert_int_eq(dz_mem_hits(d.pid, sh.prekey_end,
				     sizeof sh.prekey_end),
		    0);
		ck_assert_int_eq(dz_mem_hits(d.pid, sh.ct, sizeof sh.ct), 0);
	} else
		dz_skip_na("sleep_wipe: the memory scan needs root and a "
			   "build without AddressSanitizer (the rest ran)");
	ck_assert(dz_log_has(&d, "(on_sleep = wipe); staying up"));
	ck_assert(dz_alive(&d));
	standin_say(&b, "wake");
	ck_assert_msg(standin_wait(&b, " mode=delay n=2\n", 10),
	    "no new "
	    "lock after wake: %s",
	    b.out);
	ck_assert(dz_status_wait(&d, "sleep", "wipe", 5));
	dz_stop(&d);
	bus_stop(&b);
}
END_TEST

/*
 * on_sleep = panic on an armed daemon with a heartbeat: at
 * PrepareForSleep(true) it dies by SIGKILL at once (its grace window is
 * not waited for), the on_panic action runs, and the lock goes last.
 */
START_TEST(sleep_panic_armed)
{
	char	    dir[64], conf[128], marker[160], text[512];
	const char *args[] = { "--arm", "--grace", "60", "--config", conf,
		"--verbose", NULL };
	struct bus  b;
	struct dz   d;
	int	    hb;

	if (!have_dbus("sleep_panic_armed"))
		return;
	bus_start(&b, true);
	dz_tmpdir(dir, sizeof dir);
	snprintf(marker, sizeof marker, "%s/panicked", dir);
	snprintf(text, sizeof text,
	    "on_sleep = panic\non_panic = echo "
	    "\"$DAZAI_REASON\" > %s\n",
	    marker);
	write_conf(dir, conf, sizeof conf, text);
	ck_assert_int_eq(dz_start(&d, args), 0);
	hb = dz_hello(d.sock);
	ck_assert_int_ge(hb, 0);
	ck_assert(standin_wait(&b, " mode=delay n=1\n", 10));
	ck_assert(dz_status_wait(&d, "sleep", "panic", 5));
	standin_say(&b, "sleep");
	ck_assert_int_eq(dz_wait(&d, 10), 0);
	ck_assert_msg(WIFSIGNALED(d.status) && WTERMSIG(d.status) == SIGKILL,
	    "status %#x", d.status);
	ck_assert_msg(standin_wait(&b, "released n=1\n", 10), "%s", b.out);
	ck_assert(access(marker, F_OK) == 0);
	ck_assert(dz_log_has(&d, "going to sleep (on_sleep = panic)"));
	close(hb);
	bus_stop(&b);
}
END_TEST

/* on_sleep = keep (the default): no lock asked for, the secret stays. */
START_TEST(sleep_keep)
{
	static const char secret[] = "kept through the night";
	char		  dir[64], path[128];
	const char	 *args[] = { "--secret-file", path, NULL };
	struct bus	  b;
	struct dz	  d;
	int		  fd;

	if (!have_dbus("sleep_keep"))
		return;
	bus_start(&b, true);
	dz_tmpdir(dir, sizeof dir);
	snprintf(path, sizeof path, "%s/secret", dir);
	dz_write_file(path, secret, strlen(secret));
	ck_assert_int_eq(dz_start(&d, args), 0);
	ck_assert_str_eq(dz_field(dz_status(&d), "sleep"), "keep");
	standin_say(&b, "sleep");
	ck_assert(standin_wait(&b, "emitted true\n", 5));
	usleep(300 * 1000);
	fd = dz_ctl(&d);
	ck_assert(dz_send(fd, "GET\n"));
	dz_get_expect(fd, secret, strlen(secret));
	close(fd);
	ck_assert_msg(strstr(b.out, "inhibit") == NULL, "%s", b.out);
	dz_stop(&d);
	bus_stop(&b);
}
END_TEST

/*
 * No system bus, or a bus without logind: dazaid starts and runs, says
 * once why on_sleep has no effect, and STATUS shows sleep=unavailable.
 */
START_TEST(sleep_unavailable)
{
	char	    dir[64], conf[128], path[160];
	const char *args[] = { "--config", conf, NULL };
	struct bus  b;
	struct dz   d;
	int	    round;

	if (!have_dbus("sleep_unavailable"))
		return;
	dz_tmpdir(dir, sizeof dir);
	write_conf(dir, conf, sizeof conf, "on_sleep = wipe\n");
	for (round = 0; round < 2; round++) {
		if (round == 0) {
			snprintf(path, sizeof path, "unix:path=%s/no-bus", dir);
			setenv("DBUS_SYSTEM_BUS_ADDRESS", path, 1);
		} else
			bus_start(&b, false);
		ck_assert_int_eq(dz_start(&d, args), 0);
		ck_assert(dz_log_wait(&d,
		    "on_sleep = wipe has no effect: ", 10));
		ck_assert_str_eq(dz_field(dz_status(&d), "sleep"),
		    "unavailable");
		ck_assert_int_eq(dz_log_count(&d, "has no effect"), 1);
		ck_assert(dz_alive(&d));
		dz_stop(&d);
		if (round == 1)
			bus_stop(&b);
	}
	unsetenv("DBUS_SYSTEM_BUS_ADDRESS");
}
END_TEST

/* A lock logind refuses after resume: sleep=unavailable, said so. */
START_TEST(sleep_lock_refused)
{
	char	    dir[64], conf[128];
	const char *args[] = { "--config", conf, NULL };
	struct bus  b;
	struct dz   d;

	if (!have_dbus("sleep_lock_refused"))
		return;
	bus_start(&b, true);
	dz_tmpdir(dir, sizeof dir);
	write_conf(dir, conf, sizeof conf, "on_sleep = wipe\n");
	ck_assert_int_eq(dz_start(&d, args), 0);
	ck_assert(standin_wait(&b, " mode=delay n=1\n", 10));
	standin_say(&b, "sleep");
	ck_assert(standin_wait(&b, "released n=1\n", 10));
	standin_say(&b, "refuse");
	standin_say(&b, "wake");
	ck_assert(dz_status_wait(&d, "sleep", "unavailable", 10));
	ck_assert(dz_log_has(&d, "sleep is not watched any more"));
	ck_assert(dz_alive(&d));
	dz_stop(&d);
	bus_stop(&b);
}
END_TEST

/* on_sleep = sometimes: exit 2, naming the key, its value and the line. */
START_TEST(sleep_bad_value)
{
	char	    dir[64], conf[128], want[256];
	const char *args[] = { "--config", conf, NULL };
	const char *check[] = { dz_bin("dazaid"), "--config", conf,
		"--check-config", NULL };
	char	    out[4096];
	struct dz   d;
	int	    st;

	dz_tmpdir(dir, sizeof dir);
	write_conf(dir, conf, sizeof conf,
	    "grace = 1\n\n"
	    "on_sleep = sometimes\n");
	ck_assert_int_eq(dz_start(&d, args), -1);
	ck_assert(WIFEXITED(d.status) && WEXITSTATUS(d.status) == 2);
	snprintf(want, sizeof want,
	    "%s:3: on_sleep: 'sometimes' is not one "
	    "of keep, wipe, panic",
	    conf);
	ck_assert_msg(dz_log_has(&d, want), "%s",
	    dz_read_file(d.log, out, sizeof out));
	write_conf(dir, conf, sizeof conf, "on_sleep = panic\n");
	st = dz_run(check, out, sizeof out, 10);
	ck_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	ck_assert_msg(strstr(out, "\non_sleep = panic\n") != NULL, "%s", out);
}
END_TEST

Suite *
sleep_suite(void)
{
	Suite *s = suite_create("sleep");
	TCase *tc = tcase_create("sleep");

	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, sleep_wipe);
	tcase_add_test(tc, sleep_panic_armed);
	tcase_add_test(tc, sleep_keep);
	tcase_add_test(tc, sleep_unavailable);
	tcase_add_test(tc, sleep_lock_refused);
	tcase_add_test(tc, sleep_bad_value);
	suite_add_tcase(s, tc);
	return s;
}
