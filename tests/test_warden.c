/* SPDX-License-Identifier: ISC */
/*
 * The warden, driven from the test process, which plays dazaid: real
 * processes, real actions through /bin/sh, real pidfds.
 */
#include <sys/prctl.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "dazai/warden.h"
#include "helpers.h"
#include "memscan.h"

#ifndef SYS_pidfd_open
#define SYS_pidfd_open 434
#endif

#define NOBODY 65534

/* A test's directory, the warden's log and its settings. */
struct wt {
	char		     dir[64];
	char		     log[128];
	char		     sock[128];
	struct warden	     w;
	struct warden_config cfg;
};

/* Fresh directory; the warden's settings with these lists. */
static void
wt_init(struct wt *t, const char *const *panic, int np, const char *const *wipe,
    int nw, double timeout, bool armed)
{
	memset(t, 0, sizeof *t);
	dz_tmpdir(t->dir, sizeof t->dir);
	snprintf(t->log, sizeof t->log, "%s/warden.log", t->dir);
	snprintf(t->sock, sizeof t->sock, "%s/dazai.sock", t->dir);
	t->cfg.on_panic = panic;
	t->cfg.n_panic = np;
	t->cfg.on_wipe = wipe;
	t->cfg.n_wipe = nw;
	t->cfg.timeout = timeout;
	t->cfg.socket = t->sock;
	t->cfg.armed = armed;
	t->cfg.verbose = true;
	ck_assert_int_eq(chdir(t->dir), 0);
}

/* Start the warden with its stderr on t->log. */
static void
wt_start(struct wt *t)
{
	int fd, saved;

	fd = open(t->log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
	ck_assert_int_ge(fd, 0);
	saved = dup(STDERR_FILENO);
	ck_assert_int_ge(saved, 0);
	ck_assert_int_ge(dup2(fd, STDERR_FILENO), 0);
	close(fd);
	fd = warden_start(&t->w, &t->cfg);
	dup2(saved, STDERR_FILENO);
	close(saved);
	ck_assert_msg(fd == 0, "warden_start: %s", strerror(errno));
	ck_assert_int_gt(t->w.pid, 0);
	ck_assert_str_eq(warden_status_name(&t->w), "up");
}

/* Wait for the warden to exit; its wait status. */
static int
wt_wait(struct wt *t, double timeout)
{
	int status = -1;

	ck_assert_msg(dz_waitpid(t->w.pid, &status, timeout) == 0,
	    "the warden did not exit within %gs", timeout);
	return status;
}

/* Kill the warden if it is still there (end of a test). */
static void
wt_kill(struct wt *t)
{
	int status;

	if (kill(t->w.pid, SIGKILL) == 0)
		dz_waitpid(t->w.pid, &status, 5);
}

/* The whole log (or a file), NUL-terminated, in a static buffer. */
static const char *
slurp(const char *path)
{
	static char buf[16384];
	ssize_t	    n = 0;
	int	    fd;

	buf[0] = '\0';
	if ((fd = open(path, O_RDONLY)) < 0)
		return buf;
	n = read(fd, buf, sizeof buf - 1);
	buf[n > 0 ? n : 0] = '\0';
	close(fd);
	return buf;
}

/* Whether path exists. */
static bool
exists(const char *path)
{
	return access(path, F_OK) == 0;
}

/* Wait until path exists. */
static bool
exists_wait(const char *path, double timeout)
{
	long long end = dz_ms_now() + (long long)(timeout * 1000);

	while (!exists(path)) {
		if (dz_ms_now() >= end)
			return false;
		usleep(5000);
	}
	return true;
}

/* Whether pid is gone or a zombie. */
static bool
dead(pid_t pid)
{
	char	path[64], buf[512], *p;
	ssize_t n;
	int	fd;

	snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
	if ((fd = open(path, O_RDONLY)) < 0)
		return true;
	n = read(fd, buf, sizeof buf - 1);
	close(fd);
	buf[n > 0 ? n : 0] = '\0';
	p = strrchr(buf, ')');
	return p == NULL || p[1] == '\0' || p[2] == 'Z' || p[2] == 'X';
}

/*
 * The on_panic commands run in order, with DAZAI_REASON and DAZAI_SOCKET,
 * one failing does not stop the next, each one's status and last stderr
 * line are logged; then the warden exits.
 */
START_TEST(actions_in_order)
{
	static const char *const panic[] = {
		"echo \"1 $DAZAI_REASON $DAZAI_SOCKET\" >> out",
		"echo 2 >> out; echo first >&2; echo oops >&2; exit 3",
		"echo \"3 $DAZAI_REASON\" >> out",
	};
	static const char *const wipe[] = { "echo wipe >> out" };
	struct wt		 t;
	char			 want[512];
	int			 st;

	wt_init(&t, panic, 3, wipe, 1, 5, true);
	wt_start(&t);
	ck_assert_int_eq(warden_panic(&t.w, "lost heartbeat"), 0);
	st = wt_wait(&t, 10);
	ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 0, "%#x", st);
	snprintf(want, sizeof want,
	    "1 lost heartbeat %s\n2\n3 lost "
	    "heartbeat\n",
	    t.sock);
	ck_assert_str_eq(slurp("out"), want);
	ck_assert_msg(strstr(slurp(t.log),
			  "dazaid: warden: panic (armed): "
			  "lost heartbeat\n") != NULL,
	    "%s", slurp(t.log));
	ck_assert_msg(strstr(slurp(t.log),
			  "exit 3: exited 3; last line of "
			  "stderr: oops\n") != NULL,
	    "%s", slurp(t.log));
	ck_assert_msg(strstr(slurp(t.log),
			  "echo \"3 $DAZAI_REASON\" >> out: "
			  "exited 0\n") != NULL,
	    "%s", slurp(t.log));
}
END_TEST

/*
 * An action that hangs, with a child in the background, is killed with
 * its whole process group at action_timeout; the next one still runs.
 */
START_TEST(hanging_action_killed)
{
	static const char *const panic[] = {
		"sleep 60 & echo $! > bg; sleep 60",
		"echo next > after",
	};
	struct wt t;
	long long t0, ms;
	pid_t	  bg;

	wt_init(&t, panic, 2, NULL, 0, 0.5, true);
	wt_start(&t);
	t0 = dz_ms_now();
	ck_assert_int_eq(warden_panic(&t.w, "test"), 0);
	wt_wait(&t, 10);
	ms = dz_ms_now() - t0;
	ck_assert_msg(ms >= 450 && ms < 5000, "%lld ms", ms);
	ck_assert_str_eq(slurp("after"), "next\n");
	bg = (pid_t)atoi(slurp("bg"));
	ck_assert_int_gt(bg, 0);
	ck_assert_msg(dead(bg),
	    "the background sleep %d outlived the "
	    "timeout",
	    (int)bg);
	ck_assert_msg(strstr(slurp(t.log),
			  "sleep 60: killed (with its "
			  "process group) after the 0.5s timeout\n") != NULL,
	    "%s", slurp(t.log));
}
END_TEST

/* Dry-run: WOULD RUN for each, in order, and nothing runs. */
START_TEST(dry_run_runs_nothing)
{
	static const char *const panic[] = { "touch marker1", "touch marker2" };
	struct wt		 t;
	const char		*log, *a, *b;

	wt_init(&t, panic, 2, NULL, 0, 5, false);
	wt_start(&t);
	ck_assert_int_eq(warden_panic(&t.w, "test"), 0);
	wt_wait(&t, 10);
	log = slurp(t.log);
	a = strstr(log, "dazaid: warden: WOULD RUN: touch marker1\n");
	b = strstr(log, "dazaid: warden: WOULD RUN: touch marker2\n");
	ck_assert_msg(a != NULL && b != NULL && a < b, "%s", log);
	ck_assert(!exists("marker1"));
	ck_assert(!exists("marker2"));
}
END_TEST

/*
 * The daemon's end without CLEAN (here: the test closes its end, as a
 * SIGKILLed dazaid's kernel would) is a panic: the registered sleeper,
 * handed over as a pidfd, dies of SIGKILL, then the actions run.
 */
START_TEST(eof_kills_registered)
{
	static const char *const panic[] = { "echo \"$DAZAI_REASON\" > "
					     "marker" };
	struct wt		 t;
	pid_t			 sleeper;
	int			 pidfd, st;

	wt_init(&t, panic, 1, NULL, 0, 5, true);
	sleeper = dz_sleeper(); /* before the warden: no fd of ours */
	wt_start(&t);
	pidfd = (int)syscall(SYS_pidfd_open, sleeper, 0);
	ck_assert_int_ge(pidfd, 0);
	ck_assert_int_eq(warden_register(&t.w, sleeper, pidfd), 0);
	close(pidfd);
	close(t.w.fd);
	t.w.fd = -1;
	ck_assert_msg(dz_waitpid(sleeper, &st, 5) == 0, "sleeper alive");
	ck_assert_msg(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL, "%#x", st);
	wt_wait(&t, 10);
	ck_assert_str_eq(slurp("marker"), "dazaid died\n");
	ck_assert_msg(strstr(slurp(t.log),
			  "the daemon ended without a clean "
			  "shutdown: panic (armed)") != NULL,
	    "%s", slurp(t.log));
}
END_TEST

/* Its dry-run twin: the sleeper lives, WOULD SIGKILL and WOULD RUN. */
START_TEST(eof_dry_run)
{
	static const char *const panic[] = { "touch marker" };
	struct wt		 t;
	char			 want[64];
	pid_t			 sleeper;
	int			 pidfd, st;

	wt_init(&t, panic, 1, NULL, 0, 5, false);
	sleeper = dz_sleeper();
	wt_start(&t);
	pidfd = (int)syscall(SYS_pidfd_open, sleeper, 0);
	ck_assert_int_ge(pidfd, 0);
	ck_assert_int_eq(warden_register(&t.w, sleeper, pidfd), 0);
	close(pidfd);
	close(t.w.fd);
	t.w.fd = -1;
	wt_wait(&t, 10);
	ck_assert(dz_child_running(sleeper, &st));
	snprintf(want, sizeof want, "WOULD SIGKILL pid %d\n", (int)sleeper);
	ck_assert_msg(strstr(slurp(t.log), want) != NULL, "%s", slurp(t.log));
	ck_assert(strstr(slurp(t.log), "WOULD RUN: touch marker\n") != NULL);
	ck_assert(!exists("marker"));
	kill(sleeper, SIGKILL);
	dz_waitpid(sleeper, &st, 5);
}
END_TEST

/* Clean shutdown runs nothing and kills nobody; the warden leaves. */
START_TEST(clean_runs_nothing)
{
	static const char *const panic[] = { "touch marker" };
	struct wt		 t;
	pid_t			 sleeper;
	int			 pidfd, st;

	wt_init(&t, panic, 1, NULL, 0, 5, true);
	sleeper = dz_sleeper();
	wt_start(&t);
	pidfd = (int)syscall(SYS_pidfd_open, sleeper, 0);
	ck_assert_int_eq(warden_register(&t.w, sleeper, pidfd), 0);
	close(pidfd);
	warden_shutdown(&t.w);
	ck_assert_int_eq(t.w.fd, -1);
	st = wt_wait(&t, 2);
	ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 0, "%#x", st);
	usleep(100000);
	ck_assert(!exists("marker"));
	ck_assert(dz_child_running(sleeper, &st));
	ck_assert_msg(strstr(slurp(t.log),
			  "clean shutdown: nothing to run\n") != NULL &&
		strstr(slurp(t.log), "running") == NULL &&
		strstr(slurp(t.log), "SIGKILL") == NULL,
	    "%s", slurp(t.log));
	kill(sleeper, SIGKILL);
	dz_waitpid(sleeper, &st, 5);
}
END_TEST

/*
 * SIGTERM, SIGINT, SIGHUP, SIGQUIT and SIGTSTP to the warden change
 * nothing: it stays, runs nothing, and a panic still works after.
 */
START_TEST(signals_change_nothing)
{
	static const int sigs[] = { SIGTERM, SIGINT, SIGHUP, SIGQUIT, SIGTSTP,
		SIGTTIN, SIGTTOU, SIGPIPE };
	static const char *const panic[] = { "touch marker" };
	struct wt		 t;
	size_t			 i;
	int			 st;

	wt_init(&t, panic, 1, NULL, 0, 5, true);
	wt_start(&t);
	usleep(50000);
	for (i = 0; i < sizeof sigs / sizeof sigs[0]; i++)
		ck_assert_int_eq(kill(t.w.pid, sigs[i]), 0);
	usleep(200000);
	ck_assert_msg(dz_child_running(t.w.pid, &st), "the warden died: %#x",
	    st);
	ck_assert(!dead(t.w.pid));
	ck_assert(!exists("marker"));
	ck_assert_int_eq(warden_panic(&t.w, "after the signals"), 0);
	wt_wait(&t, 10);
	ck_assert(exists("marker"));
}
END_TEST

/*
 * As a non-root uid, the warden's /proc/PID/mem and environ cannot be
 * opened by another process of that uid (non-dumpable), while those of
 * the dumpable process that started it can.
 */
START_TEST(not_dumpable)
{
	char	  path[64], buf[64];
	int	  p[2], st, fd;
	pid_t	  starter, warden, prober;
	struct wt t;

	if (!dz_is_root()) {
		dz_skip("not_dumpable: needs root to run both sides as "
			"uid %d",
		    NOBODY);
		return;
	}
	wt_init(&t, NULL, 0, NULL, 0, 5, false);
	ck_assert_int_eq(chmod(t.dir, 0777), 0);
	ck_assert_int_eq(pipe(p), 0);
	if ((starter = fork()) == 0) {
		close(p[0]);
		if (setresgid(NOBODY, NOBODY, NOBODY) != 0 ||
		    setresuid(NOBODY, NOBODY, NOBODY) != 0)
			_exit(1);
		/* The uid change made us undumpable: be dumpable again,
		 * so that only the warden's own prctl can hide it. */
		prctl(PR_SET_DUMPABLE, 1, 0, 0, 0);
		if ((fd = open("/dev/null", O_WRONLY)) < 0 ||
		    dup2(fd, STDERR_FILENO) < 0)
			_exit(4);
		if (warden_start(&t.w, &t.cfg) != 0)
			_exit(2);
		warden = t.w.pid;
		if (write(p[1], &warden, sizeof warden) != sizeof warden)
			_exit(3);
		pause();
		_exit(0);
	}
	close(p[1]);
	ck_assert_int_eq(read(p[0], &warden, sizeof warden),
	    (ssize_t)sizeof warden);
	close(p[0]);
	usleep(100000);
	if ((prober = fork()) == 0) {
		int bad = 0;

		if (setresgid(NOBODY, NOBODY, NOBODY) != 0 ||
		    setresuid(NOBODY, NOBODY, NOBODY) != 0)
			_exit(100);
		snprintf(path, sizeof path, "/proc/%d/mem", (int)warden);
		if ((fd = open(path, O_RDONLY)) >= 0)
			bad |= 1;
		snprintf(path, sizeof path, "/proc/%d/environ", (int)warden);
		if ((fd = open(path, O_RDONLY)) >= 0 &&
		    read(fd, buf, sizeof buf) > 0)
			bad |= 2;
		snprintf(path, sizeof path, "/proc/%d/mem", (int)starter);
		if ((fd = open(path, O_RDONLY)) < 0)
			bad |= 4;
		_exit(bad);
	}
	ck_assert_int_eq(dz_waitpid(prober, &st, 5), 0);
	kill(starter, SIGKILL);
	dz_waitpid(starter, NULL, 5);
	ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) != 100, "%#x", st);
	ck_assert_msg(!(WEXITSTATUS(st) & 4),
	    "control: the dumpable "
	    "starter's mem did not open either");
	ck_assert_msg(!(WEXITSTATUS(st) & 1),
	    "the warden's /proc/PID/mem "
	    "opened for its own uid");
	ck_assert_msg(!(WEXITSTATUS(st) & 2),
	    "the warden's environ was "
	    "readable for its own uid");
	kill(warden, SIGKILL);
}
END_TEST

/*
 * A rehearsal runs every action now, dry-run or not, and reports each
 * one's status back; the warden stays.
 */
START_TEST(rehearsal_reports)
{
	static const char *const panic[] = { "echo \"$DAZAI_REASON\" > r1",
		"echo bad >&2; exit 4" };
	static const char *const wipe[] = { "touch r3" };
	struct warden_msg	 m[4];
	struct wt		 t;
	long long		 end;
	int			 n = 0, r, st;

	wt_init(&t, panic, 2, wipe, 1, 5, false);
	wt_start(&t);
	ck_assert_int_eq(warden_rehearse(&t.w), 0);
	end = dz_ms_now() + 10000;
	while (n < 4 && dz_ms_now() < end) {
		r = warden_read(&t.w, &m[n]);
		ck_assert_int_ne(r, WARDEN_READ_DOWN);
		if (r == WARDEN_READ_MSG)
			n++;
		else
			usleep(5000);
	}
	ck_assert_int_eq(n, 4);
	ck_assert_int_eq(m[0].type, WARDEN_MSG_RESULT);
	ck_assert_int_eq(m[0].pid, 0);
	ck_assert(WIFEXITED(m[0].status) && WEXITSTATUS(m[0].status) == 0);
	ck_assert_int_eq(m[1].pid, 1);
	ck_assert(WIFEXITED(m[1].status) && WEXITSTATUS(m[1].status) == 4);
	ck_assert_str_eq(m[1].text, "bad");
	ck_assert_int_eq(m[2].pid, 2);
	ck_assert_int_eq(m[3].type, WARDEN_MSG_DONE);
	ck_assert_int_eq(m[3].pid, 3);
	ck_assert_str_eq(slurp("r1"), "rehearsal\n");
	ck_assert(exists("r3"));
	ck_assert(dz_child_running(t.w.pid, &st));
	warden_shutdown(&t.w);
	wt_wait(&t, 2);
}
END_TEST

/* WIPE runs on_wipe (armed), not on_panic, and the warden stays. */
START_TEST(wipe_runs_on_wipe)
{
	static const char *const panic[] = { "touch panicked" };
	static const char *const wipe[] = { "echo \"$DAZAI_REASON\" > wiped" };
	struct wt		 t;
	int			 st;

	wt_init(&t, panic, 1, wipe, 1, 5, false);
	wt_start(&t);
	ck_assert_int_eq(warden_wipe(&t.w, "dry"), 0);
	usleep(200000);
	ck_assert(!exists("wiped"));
	ck_assert(strstr(slurp(t.log), "WOULD RUN: echo") != NULL);
	ck_assert_int_eq(warden_arm(&t.w), 0);
	ck_assert_int_eq(warden_wipe(&t.w, "WIPE"), 0);
	ck_assert(exists_wait("wiped", 5));
	usleep(50000);
	ck_assert_str_eq(slurp("wiped"), "WIPE\n");
	ck_assert(dz_child_running(t.w.pid, &st));
	ck_assert(!exists("panicked"));
	wt_kill(&t);
}
END_TEST

/* The hard paths' notice from a signal handler reaches the warden. */
static void
panic_handler(int sig)
{
	(void)sig;
	warden_panic_signal("SIGUSR2");
}

START_TEST(panic_from_signal_handler)
{
	static const char *const panic[] = { "echo \"$DAZAI_REASON\" > "
					     "marker" };
	struct wt		 t;

	wt_init(&t, panic, 1, NULL, 0, 5, true);
	wt_start(&t);
	signal(SIGUSR2, panic_handler);
	raise(SIGUSR2);
	wt_wait(&t, 10);
	ck_assert_str_eq(slurp("marker"), "SIGUSR2\n");
}
END_TEST

/* A process's CPU time so far (utime + stime), in clock ticks. */
static long
cpu_ticks(pid_t pid)
{
	char	      path[64], buf[1024], *p;
	unsigned long ut = 0, st = 0;
	ssize_t	      n;
	int	      fd;

	snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
	ck_assert_int_ge(fd = open(path, O_RDONLY), 0);
	n = read(fd, buf, sizeof buf - 1);
	close(fd);
	buf[n > 0 ? n : 0] = '\0';
	ck_assert_ptr_nonnull(p = strrchr(buf, ')'));
	ck_assert_int_eq(sscanf(p + 2,
			     "%*c %*d %*d %*d %*d %*d %*u %*u %*u "
			     "%*u %*u %lu %lu",
			     &ut, &st),
	    2);
	return (long)(ut + st);
}

/* Once its records are read, the warden waits without spinning. */
START_TEST(idle_after_records)
{
	struct wt t;
	pid_t	  sleeper;
	long	  before, used;
	int	  pidfd, st;

	wt_init(&t, NULL, 0, NULL, 0, 5, false);
	sleeper = dz_sleeper();
	wt_start(&t);
	pidfd = (int)syscall(SYS_pidfd_open, sleeper, 0);
	ck_assert_int_eq(warden_register(&t.w, sleeper, pidfd), 0);
	close(pidfd);
	ck_assert_int_eq(warden_arm(&t.w), 0);
	usleep(100000);
	ck_assert_msg(strstr(slurp(t.log),
			  "armed: kills and actions are "
			  "real") != NULL,
	    "%s", slurp(t.log));
	before = cpu_ticks(t.w.pid);
	usleep(500000);
	used = cpu_ticks(t.w.pid) - before;
	ck_assert_msg(used <= 5, "the idle warden used %ld ticks in 0.5 s",
	    used);
	wt_kill(&t);
	kill(sleeper, SIGKILL);
	dz_waitpid(sleeper, &st, 5);
}
END_TEST

/* The daemon learns the warden died: warden_read says DOWN. */
START_TEST(warden_death_seen)
{
	struct warden_msg m;
	struct wt	  t;
	long long	  end;
	int		  r = WARDEN_READ_NONE;

	wt_init(&t, NULL, 0, NULL, 0, 5, true);
	wt_start(&t);
	ck_assert_int_eq(warden_read(&t.w, &m), WARDEN_READ_NONE);
	ck_assert_int_eq(kill(t.w.pid, SIGKILL), 0);
	end = dz_ms_now() + 5000;
	while (r != WARDEN_READ_DOWN && dz_ms_now() < end) {
		r = warden_read(&t.w, &m);
		usleep(5000);
	}
	ck_assert_int_eq(r, WARDEN_READ_DOWN);
	ck_assert_str_eq(warden_status_name(&t.w), "down");
	ck_assert_int_eq(warden_fd(&t.w), -1);
	ck_assert_int_eq(warden_panic(&t.w, "x"), -1);
	wt_wait(&t, 5);
}
END_TEST

/* A config file naming one on_panic action that writes dir/marker. */
static void
action_conf(char *dir, size_t dirlen, char *conf, size_t conflen, char *marker,
    size_t markerlen)
{
	char text[512];

	dz_tmpdir(dir, dirlen);
	snprintf(conf, conflen, "%s/dazai.conf", dir);
	snprintf(marker, markerlen, "%s/marker", dir);
	snprintf(text, sizeof text,
	    "on_panic = echo \"$DAZAI_REASON "
	    "$DAZAI_SOCKET\" > %s\naction_timeout = 5\n",
	    marker);
	dz_write_file(conf, text, strlen(text));
}

/* The warden's pid, from a --verbose daemon's log. */
static pid_t
warden_pid_of(const struct dz *d)
{
	const char *p;

	ck_assert(dz_log_wait(d, "dazaid: warden: started (pid ", 5));
	p = strstr(slurp(d->log), "dazaid: warden: started (pid ");
	ck_assert_ptr_nonnull(p);
	return (pid_t)atoi(p + strlen("dazaid: warden: started (pid "));
}

/*
 * kill -9 of an armed dazaid: no handler runs in it, but its warden sees
 * the socketpair end without a clean shutdown and runs the action.
 */
START_TEST(dazaid_kill9_runs_actions)
{
	char	    dir[64], conf[128], marker[128], want[256];
	const char *args[] = { "--arm", "--verbose", "--config", conf, NULL };
	struct dz   d;
	pid_t	    wpid;

	action_conf(dir, sizeof dir, conf, sizeof conf, marker, sizeof marker);
	ck_assert_int_eq(dz_start(&d, args), 0);
	wpid = warden_pid_of(&d);
	ck_assert(!dead(wpid));
	ck_assert(!exists(marker));
	ck_assert_int_eq(kill(d.pid, SIGKILL), 0);
	dz_wait(&d, 5);
	ck_assert_msg(exists_wait(marker, 5), "no marker; log:\n%s",
	    slurp(d.log));
	usleep(50000);
	snprintf(want, sizeof want, "dazaid died %s\n", d.sock);
	ck_assert_str_eq(slurp(marker), want);
	ck_assert(dz_log_has(&d,
	    "dazaid: warden: the daemon ended without "
	    "a clean shutdown: panic (armed)"));
}
END_TEST

/* SIGTERM: a clean shutdown; the warden runs nothing and is gone too. */
START_TEST(dazaid_sigterm_runs_nothing)
{
	char	    dir[64], conf[128], marker[128];
	const char *args[] = { "--arm", "--verbose", "--config", conf, NULL };
	struct dz   d;
	pid_t	    wpid;

	action_conf(dir, sizeof dir, conf, sizeof conf, marker, sizeof marker);
	ck_assert_int_eq(dz_start(&d, args), 0);
	wpid = warden_pid_of(&d);
	ck_assert_int_eq(kill(d.pid, SIGTERM), 0);
	ck_assert_int_eq(dz_wait(&d, 5), 0);
	ck_assert(WIFEXITED(d.status) && WEXITSTATUS(d.status) == 0);
	ck_assert_msg(dead(wpid), "the warden outlived a clean shutdown");
	usleep(200000);
	ck_assert(!exists(marker));
	ck_assert_msg(!dz_log_has(&d, "warden: running") &&
		!dz_log_has(&d, "WOULD RUN"),
	    "%s", slurp(d.log));
}
END_TEST

/* A dry-run panic (SIGUSR1): the warden says WOULD RUN, runs nothing. */
START_TEST(dazaid_dry_run_panic)
{
	char	    dir[64], conf[128], marker[128], want[256];
	const char *args[] = { "--config", conf, NULL };
	struct dz   d;

	action_conf(dir, sizeof dir, conf, sizeof conf, marker, sizeof marker);
	ck_assert_int_eq(dz_start(&d, args), 0);
	ck_assert_int_eq(kill(d.pid, SIGUSR1), 0);
	ck_assert_int_eq(dz_wait(&d, 5), 0);
	ck_assert(WIFEXITED(d.status) && WEXITSTATUS(d.status) == 0);
	snprintf(want, sizeof want,
	    "dazaid: warden: WOULD RUN: echo "
	    "\"$DAZAI_REASON $DAZAI_SOCKET\" > %s",
	    marker);
	ck_assert_msg(dz_log_wait(&d, want, 5), "%s", slurp(d.log));
	ck_assert(!exists(marker));
}
END_TEST

/* A config naming on_panic and on_wipe actions that write dir/panic, wipe. */
static void
both_conf(char *dir, size_t dirlen, char *conf, size_t conflen, char *panic,
    size_t panlen, char *wipe, size_t wipelen)
{
	char text[768];

	dz_tmpdir(dir, dirlen);
	snprintf(conf, conflen, "%s/dazai.conf", dir);
	snprintf(panic, panlen, "%s/panic", dir);
	snprintf(wipe, wipelen, "%s/wipe", dir);
	snprintf(text, sizeof text,
	    "on_panic = echo \"$DAZAI_REASON\" >> %s\n"
	    "on_wipe = echo \"$DAZAI_REASON\" >> %s\naction_timeout = 5\n",
	    panic, wipe);
	dz_write_file(conf, text, strlen(text));
}

/*
 * kill -9 of a daemon started dry-run and armed by the ARM verb: the
 * warden learnt of the ARM and of the registration (a duplicate of its
 * pidfd), so it SIGKILLs the registered process and runs the action for
 * real.
 */
START_TEST(kill9_after_arm_kills_registered)
{
	char	    dir[64], conf[128], panic[128], wipe[128];
	const char *args[] = { "--verbose", "--config", conf, NULL };
	struct dz   d;
	pid_t	    kid;
	int	    fd, st;

	both_conf(dir, sizeof dir, conf, sizeof conf, panic, sizeof panic, wipe,
	    sizeof wipe);
	ck_assert_int_eq(dz_start(&d, args), 0);
	kid = dz_sleeper();
	ck_assert_str_eq(dz_reg(&d, kid), "OK");
	fd = dz_ctl(&d);
	ck_assert_str_eq(dz_req(fd, "ARM\n"), "OK");
	close(fd);
	ck_assert_str_eq(dz_field(dz_status(&d), "warden"), "up");
	ck_assert_int_eq(kill(d.pid, SIGKILL), 0);
	dz_wait(&d, 5);
	ck_assert_msg(dz_waitpid(kid, &st, 5) == 0,
	    "the registered process "
	    "outlived the daemon's kill -9; log:\n%s",
	    slurp(d.log));
	ck_assert(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL);
	ck_assert_msg(exists_wait(panic, 5), "no action ran; log:\n%s",
	    slurp(d.log));
	ck_assert(!dz_log_has(&d, "WOULD RUN"));
}
END_TEST

/* Start an armed daemon with both actions; NULL extra or more options. */
static void
trigger_start(struct dz *d, char *dir, char *conf, char *panic, char *wipe,
    const char *extra)
{
	const char *args[] = { "--arm", "--config", conf, extra, NULL };

	both_conf(dir, 64, conf, 128, panic, 128, wipe, 128);
	ck_assert_int_eq(dz_start(d, args), 0);
}

/* The panic action ran, told why (DAZAI_REASON contains want). */
static void
expect_reason(const struct dz *d, const char *panic, const char *want)
{
	ck_assert_msg(exists_wait(panic, 5), "%s: no action ran; log:\n%s",
	    want, slurp(d->log));
	usleep(100000);
	ck_assert_msg(strstr(slurp(panic), want) != NULL,
	    "reason '%s' not "
	    "in '%s'",
	    want, slurp(panic));
}

/*
 * Every trigger runs the panic actions, each told its own reason (so the
 * daemon told the warden, not only its death): the last heartbeat lost,
 * SIGUSR1, PANIC, SIGUSR2, a fatal signal; SIGTERM runs none.
 */
START_TEST(every_trigger_runs_actions)
{
	static const struct {
		int	    how; /* 0: lost, 1: PANIC, else a signal */
		const char *reason;
	} cases[] = {
		{ 0, "heartbeat lost: connection closed without QUIT" },
		{ 1, "PANIC from pid" },
		{ SIGUSR1, "SIGUSR1: panic requested" },
		{ SIGUSR2, "SIGUSR2: hard panic" },
		{ SIGSEGV, "fatal signal" },
	};
	char	  dir[64], conf[128], panic[128], wipe[128];
	struct dz d;
	size_t	  i;
	int	  fd;

	for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		trigger_start(&d, dir, conf, panic, wipe, NULL);
		if (cases[i].how == 0)
			close(dz_hello(d.sock));
		else if (cases[i].how == 1) {
			fd = dz_ctl(&d);
			ck_assert_str_eq(dz_req(fd, "PANIC\n"), "OK");
			close(fd);
		} else
			ck_assert_int_eq(kill(d.pid, cases[i].how), 0);
		dz_wait(&d, 5);
		expect_reason(&d, panic, cases[i].reason);
		dz_stop(&d);
	}
	trigger_start(&d, dir, conf, panic, wipe, NULL);
	ck_assert_int_eq(kill(d.pid, SIGTERM), 0);
	ck_assert_int_eq(dz_wait(&d, 5), 0);
	usleep(300000);
	ck_assert(!exists(panic));
}
END_TEST

/* WIPE and an expiry run the on_wipe actions (and no panic action). */
START_TEST(wipe_and_expiry_run_on_wipe)
{
	char	  dir[64], conf[128], panic[128], wipe[128];
	struct dz d;
	int	  fd;

	trigger_start(&d, dir, conf, panic, wipe, "--max-reads=1");
	fd = dz_ctl(&d);
	ck_assert_str_eq(dz_req(fd, "WIPE\n"), "OK");
	expect_reason(&d, wipe, "WIPE from pid");
	dz_load(fd, "once", 4);
	dz_get_expect(fd, "once", 4);
	close(fd);
	expect_reason(&d, wipe, "expired (max_reads reached)");
	ck_assert(!exists(panic));
	ck_assert(dz_alive(&d));
	dz_stop(&d);
}
END_TEST

/*
 * The warden's death is a lost guard: logged, STATUS says warden=down,
 * and a graceful panic starts (here held in its grace window).
 */
START_TEST(warden_death_is_a_panic)
{
	char	    dir[64], conf[128], panic[128], wipe[128];
	const char *args[] = { "--verbose", "--grace", "30", "--config", conf,
		NULL };
	struct dz   d;
	const char *s;
	pid_t	    wpid;
	int	    hb;

	both_conf(dir, sizeof dir, conf, sizeof conf, panic, sizeof panic, wipe,
	    sizeof wipe);
	ck_assert_int_eq(dz_start(&d, args), 0);
	wpid = warden_pid_of(&d);
	hb = dz_hello(d.sock);
	s = dz_status(&d);
	ck_assert_str_eq(dz_field(s, "warden"), "up");
	ck_assert_str_eq(dz_field(s, "actions"), "2");
	ck_assert_str_eq(dz_field(s, "state"), "guarding");
	ck_assert_int_eq(kill(wpid, SIGKILL), 0);
	ck_assert(dz_log_wait(&d, "the warden died", 5));
	ck_assert(dz_status_wait(&d, "state", "grace", 5));
	ck_assert_str_eq(dz_field(dz_status(&d), "warden"), "down");
	close(hb);
	dz_stop(&d);
}
END_TEST

/* Run build/dazai with args against d; its status, its output in out. */
static int
run_client(const struct dz *d, const char *const *args, char *out, size_t len)
{
	const char *argv[8];
	int	    n = 0, i, st;

	argv[n++] = dz_bin("dazai");
	argv[n++] = "--socket";
	argv[n++] = d->sock;
	for (i = 0; args[i] != NULL && n < 7; i++)
		argv[n++] = args[i];
	argv[n] = NULL;
	st = dz_run(argv, out, len, 30);
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/*
 * dazai actions lists the configured actions; --run has the warden run
 * every one now (DAZAI_REASON=rehearsal), shows how each ended, exits 1
 * when one failed, and leaves the secret as it was; a second rehearsal
 * runs again.
 */
START_TEST(actions_rehearsal)
{
	static const char *const list[] = { "actions", NULL };
	static const char *const run[] = { "actions", "--run", NULL };
	char	    dir[64], conf[128], marker[128], text[512], out[4096];
	const char *args[] = { "--config", conf, NULL };
	struct dz   d;

	dz_tmpdir(dir, sizeof dir);
	snprintf(conf, sizeof conf, "%s/dazai.conf", dir);
	snprintf(marker, sizeof marker, "%s/marker", dir);
	snprintf(text, sizeof text,
	    "on_panic = echo \"$DAZAI_REASON\" >> %s; "
	    "echo said >&2\non_wipe = exit 3\naction_timeout = 5\n",
	    marker);
	dz_write_file(conf, text, strlen(text));
	ck_assert_int_eq(dz_start(&d, args), 0);
	ck_assert_int_eq(run_client(&d, list, out, sizeof out), 0);
	ck_assert_msg(strstr(out, "0  on panic  echo") != NULL &&
		strstr(out, "1  on wipe   exit 3\n") != NULL,
	    "%s", out);
	ck_assert(!exists(marker));
	ck_assert_int_eq(run_client(&d, run, out, sizeof out), 1);
	ck_assert_msg(strstr(out, ": exit 0 (stderr: said)") != NULL &&
		strstr(out, "exit 3: exit 3\n") != NULL,
	    "%s", out);
	ck_assert_str_eq(slurp(marker), "rehearsal\n");
	ck_assert_str_eq(dz_field(dz_status(&d), "secret_bytes"), "32");
	ck_assert_int_eq(run_client(&d, run, out, sizeof out), 1);
	ck_assert_str_eq(slurp(marker), "rehearsal\nrehearsal\n");
	ck_assert(dz_alive(&d));
	dz_stop(&d);
}
END_TEST

/*
 * Confined, the daemon cannot read a client's /proc/PID/exe (Landlock);
 * the warden names each client from a pidfd of it, in the log, told as
 * it connects.
 */
START_TEST(warden_names_confined_peers)
{
	static const char *const st[] = { "status", NULL };
	char			 out[4096], want[PATH_MAX + 32], exe[PATH_MAX];
	struct dz		 d;

	if (dz_is_asan_build(dz_bin("dazaid"))) {
		dz_skip_na("warden_names_confined_peers: a sanitizer build "
			   "runs unconfined");
		return;
	}
	ck_assert_ptr_nonnull(realpath(dz_bin("dazai"), exe));
	ck_assert_int_eq(dz_start(&d, NULL), 0);
	ck_assert_int_eq(run_client(&d, st, out, sizeof out), 0);
	snprintf(want, sizeof want, " is %s\n", exe);
	ck_assert_msg(dz_log_wait(&d, "dazaid: warden: peer pid ", 5) &&
		dz_log_wait(&d, want, 5),
	    "%s", slurp(d.log));
	dz_stop(&d);
}
END_TEST

/*
 * pid's anonymous mappings excluded from core dumps (VmFlags dd), the
 * mark of a secure buffer: a forked child keeps that flag, not the lock.
 * The kernel's own ([vvar]) have a name and do not count.
 */
static int
dontdump_maps(pid_t pid)
{
	char	      path[64], line[512];
	FILE	     *fp;
	int	      n = 0, off;
	bool	      anon = false;
	unsigned long a, b;

	snprintf(path, sizeof path, "/proc/%d/smaps", (int)pid);
	fp = fopen(path, "r");
	ck_assert_msg(fp != NULL, "%s: %s", path, strerror(errno));
	while (fgets(line, sizeof line, fp) != NULL) {
		off = 0;
		if (sscanf(line, "%lx-%lx %*s %*s %*s %*s %n", &a, &b, &off) ==
			2 &&
		    off > 0)
			anon = line[off] == '\0' || line[off] == '\n';
		else if (strncmp(line, "VmFlags:", 8) == 0 && anon &&
		    strstr(line, " dd") != NULL)
			n++;
	}
	fclose(fp);
	return n;
}

/*
 * As root, the warden of a daemon holding a marker secret, before and
 * after a GET: no secure mapping, and none of the marker, the prekey
 * sample or the ciphertext sample anywhere in its memory (while the
 * daemon's own memory does hold the prekey and the ciphertext).
 */
START_TEST(warden_holds_no_secret)
{
	struct memscan_shield sh;
	struct memscan_map    maps[4];
	unsigned char	      marker[32];
	char		      dir[64], path[128];
	const char *args[] = { "--secret-file", path, "--no-secretmem",
		"--verbose", NULL };
	struct dz   d;
	pid_t	    wpid;
	int	    fd, round, tries;

	if (!dz_is_root()) {
		dz_skip("warden_holds_no_secret: scanning another process's "
			"memory needs root");
		return;
	}
	if (dz_is_asan_build(dz_bin("dazaid"))) {
		dz_skip_na("warden_holds_no_secret: an AddressSanitizer "
			   "build's shadow memory is not scannable");
		return;
	}
	ck_assert_int_eq(getrandom(marker, sizeof marker, 0),
	    (ssize_t)sizeof marker);
	dz_tmpdir(dir, sizeof dir);
	snprintf(path, sizeof path, "%s/secret", dir);
	dz_write_file(path, marker, sizeof marker);
	ck_assert_int_eq(dz_start(&d, args), 0);
	wpid = warden_pid_of(&d);
	for (round = 0; round < 2; round++) {
		if (round == 1) {
			fd = dz_ctl(&d);
			ck_assert(dz_send(fd, "GET\n"));
			dz_get_expect(fd, marker, sizeof marker);
			close(fd);
			/* The daemon closes its buffer (PROT_NONE) once
			 * the GET is written: maybe just after we read it. */
			for (tries = 0;
			     tries < 200 && memscan_shield(d.pid, &sh) != 0;
			     tries++)
				usleep(10000);
		}
		ck_assert_msg(memscan_shield(d.pid, &sh) == 0,
		    "round %d: "
		    "the daemon's shield: %s (%d secure maps)",
		    round, strerror(errno),
		    memscan_secure_maps(d.pid, maps, 4));
		ck_assert_int_ge(dz_mem_hits(d.pid, sh.prekey,
				     sizeof sh.prekey),
		    1);
		ck_assert_int_ge(dz_mem_hits(d.pid, sh.ct, sizeof sh.ct), 1);
		ck_assert_int_eq(memscan_secure_maps(wpid, maps, 4), 0);
		ck_assert_int_ge(dontdump_maps(d.pid), 2);
		ck_assert_int_eq(dontdump_maps(wpid), 0);
		ck_assert_int_eq(dz_mem_hits(wpid, marker, sizeof marker), 0);
		ck_assert_int_eq(dz_mem_hits(wpid, sh.prekey, sizeof sh.prekey),
		    0);
		ck_assert_int_eq(dz_mem_hits(wpid, sh.ct, sizeof sh.ct), 0);
	}
	dz_stop(&d);
}
END_TEST

/* Run a shell command line to completion; its exit status, output in out. */
static int
sh(const char *cmd, char *out, size_t len)
{
	const char *argv[] = { "/bin/sh", "-c", cmd, NULL };
	int	    st;

	st = dz_run(argv, out, len, 20);
	ck_assert_msg(st != -1 && WIFEXITED(st), "%s: did not exit", cmd);
	return WEXITSTATUS(st);
}

/*
 * The README's ssh-agent example with its action: a throwaway key given
 * to a real ssh-agent with `dazai get | ssh-add -`, then the heartbeat
 * lost. Armed, `on_panic = ssh-add -D` empties the agent; the dry-run
 * twin leaves the key there and says WOULD RUN.
 */
static void
ssh_agent_case(bool armed)
{
	char	    dir[64], key[128], agent[128], conf[128], cmd[1024];
	char	    out[4096], text[256];
	const char *args[] = { "--empty", "--config", conf,
		armed ? "--arm" : "--dry-run", NULL };
	const char *agent_argv[] = { "/usr/bin/ssh-agent", "-D", "-a", agent,
		NULL };
	struct dz   d;
	pid_t	    apid;
	long long   end;
	int	    hb, st;

	if (access("/usr/bin/ssh-agent", X_OK) != 0 ||
	    access("/usr/bin/ssh-keygen", X_OK) != 0) {
		dz_skip("ssh_agent: ssh-agent or ssh-keygen not installed "
			"(openssh-client)");
		return;
	}
	dz_tmpdir(dir, sizeof dir);
	snprintf(key, sizeof key, "%s/id", dir);
	snprintf(agent, sizeof agent, "%s/agent.sock", dir);
	snprintf(conf, sizeof conf, "%s/dazai.conf", dir);
	snprintf(cmd, sizeof cmd,
	    "ssh-keygen -q -t ed25519 -N '' -C "
	    "dazai-test -f %s",
	    key);
	ck_assert_int_eq(sh(cmd, out, sizeof out), 0);
	apid = dz_spawn(agent_argv, NULL, -1);
	ck_assert(exists_wait(agent, 5));
	setenv("SSH_AUTH_SOCK", agent, 1);
	snprintf(text, sizeof text, "on_panic = ssh-add -D\n");
	dz_write_file(conf, text, strlen(text));
	ck_assert_int_eq(dz_start(&d, args), 0);
	snprintf(cmd, sizeof cmd,
	    "%s --socket %s load %s && "
	    "%s --socket %s get | ssh-add - && ssh-add -l",
	    dz_bin("dazai"), d.sock, key, dz_bin("dazai"), d.sock);
	st = sh(cmd, out, sizeof out);
	ck_assert_msg(st == 0 && strstr(out, "dazai-test") != NULL, "%s", out);
	hb = dz_hello(d.sock);
	close(hb);
	dz_wait(&d, 10);
	if (armed) {
		/* The warden runs ssh-add -D after dazaid's SIGKILL. */
		end = dz_ms_now() + 10000;
		while ((st = sh("ssh-add -l", out, sizeof out)) == 0 &&
		    dz_ms_now() < end)
			usleep(20000);
		ck_assert_msg(st == 1 && strstr(out, "no identities") != NULL,
		    "%d: %s; log:\n%s", st, out, slurp(d.log));
		ck_assert(dz_log_wait(&d,
		    "dazaid: warden: ssh-add -D: "
		    "exited 0",
		    5));
	} else {
		ck_assert(dz_log_wait(&d,
		    "dazaid: warden: WOULD RUN: ssh-add "
		    "-D",
		    5));
		usleep(200000);
		ck_assert_int_eq(sh("ssh-add -l", out, sizeof out), 0);
		ck_assert_msg(strstr(out, "dazai-test") != NULL, "%s", out);
	}
	kill(apid, SIGTERM);
	dz_waitpid(apid, &st, 5);
}

START_TEST(ssh_agent_armed)
{
	ssh_agent_case(true);
}
END_TEST

START_TEST(ssh_agent_dry_run)
{
	ssh_agent_case(false);
}
END_TEST

/*
 * The kernel keyring: the secret given to it with `dazai get | keyctl
 * padd user NAME @u`, then the heartbeat lost on an armed daemon whose
 * action is `keyctl purge user NAME`: the key is gone.
 */
START_TEST(keyring_purged)
{
	char	    dir[64], conf[128], name[64], cmd[1024], out[4096];
	char	    text[256], sec[128];
	const char *args[] = { "--empty", "--arm", "--config", conf, NULL };
	struct dz   d;
	long long   end;
	int	    hb, st;

	if (access("/usr/bin/keyctl", X_OK) != 0) {
		dz_skip("keyring_purged: keyctl not installed (keyutils)");
		return;
	}
	dz_tmpdir(dir, sizeof dir);
	snprintf(conf, sizeof conf, "%s/dazai.conf", dir);
	snprintf(sec, sizeof sec, "%s/secret", dir);
	snprintf(name, sizeof name, "dazai-test-%d", (int)getpid());
	dz_write_file(sec, "keyring-marker", 14);
	snprintf(text, sizeof text, "on_panic = keyctl purge user %s\n", name);
	dz_write_file(conf, text, strlen(text));
	ck_assert_int_eq(dz_start(&d, args), 0);
	snprintf(cmd, sizeof cmd,
	    "%s --socket %s load %s && %s --socket %s "
	    "get | keyctl padd user %s @u >/dev/null && keyctl print "
	    "$(keyctl search @u user %s)",
	    dz_bin("dazai"), d.sock, sec, dz_bin("dazai"), d.sock, name, name);
	st = sh(cmd, out, sizeof out);
	if (st != 0 && strstr(out, "keyctl") != NULL) {
		dz_skip("keyring_purged: no usable user keyring here: %s", out);
		dz_stop(&d);
		return;
	}
	/* load's lines on standard error (what it stored; no heartbeat
	 * guards it yet), then the key as keyctl shows it. */
	ck_assert_msg(st == 0 &&
		strncmp(out,
		    "dazai: loaded 14 bytes as "
		    "\"default\"\n",
		    36) == 0 &&
		strlen(out) >= 16 &&
		strcmp(out + strlen(out) - 16, "\nkeyring-marker\n") == 0,
	    "%d: %s", st, out);
	hb = dz_hello(d.sock);
	close(hb);
	dz_wait(&d, 10);
	snprintf(cmd, sizeof cmd, "keyctl search @u user %s", name);
	end = dz_ms_now() + 10000;
	while ((st = sh(cmd, out, sizeof out)) == 0 && dz_ms_now() < end)
		usleep(20000);
	ck_assert_msg(st != 0, "the key is still there; log:\n%s",
	    slurp(d.log));
	ck_assert(dz_log_wait(&d, "dazaid: warden: keyctl purge user", 5));
}
END_TEST

/*
 * gpg-agent: a passphrase given to its cache with `dazai get |
 * gpg-preset-passphrase --preset KEYGRIP`, forgotten after an armed
 * panic whose action is `gpgconf --reload gpg-agent`.
 */
START_TEST(gpg_agent_forgets)
{
	static const char preset[] = "/usr/lib/gnupg/gpg-preset-passphrase";
	char		  dir[64], home[128], conf[128], sec[128], grip[64];
	char		  cmd[1024], out[4096], text[256], *p;
	const char *args[] = { "--empty", "--arm", "--config", conf, NULL };
	struct dz   d;
	long long   end;
	int	    hb, st;

	if (access("/usr/bin/gpgconf", X_OK) != 0 ||
	    access("/usr/bin/gpg", X_OK) != 0 || access(preset, X_OK) != 0) {
		dz_skip("gpg_agent_forgets: gpg, gpgconf or "
			"gpg-preset-passphrase not installed");
		return;
	}
	dz_tmpdir(dir, sizeof dir);
	snprintf(home, sizeof home, "%s/gnupg", dir);
	snprintf(conf, sizeof conf, "%s/dazai.conf", dir);
	snprintf(sec, sizeof sec, "%s/passphrase", dir);
	ck_assert_int_eq(mkdir(home, 0700), 0);
	setenv("GNUPGHOME", home, 1);
	snprintf(cmd, sizeof cmd, "%s/gpg-agent.conf", home);
	dz_write_file(cmd, "allow-preset-passphrase\n", 24);
	dz_write_file(sec, "dazai-pw", 8);
	ck_assert_msg(sh("gpg --batch --pinentry-mode loopback --passphrase "
			 "dazai-pw --quick-gen-key dazai-test ed25519 sign 0",
			  out, sizeof out) == 0,
	    "%s", out);
	ck_assert_int_eq(
	    sh("gpg --with-keygrip --with-colons "
	       "--list-secret-keys 2>/dev/null | awk -F: '/^grp/ { print $10; "
	       "exit }'",
		out, sizeof out),
	    0);
	if ((p = strchr(out, '\n')) != NULL)
		*p = '\0';
	ck_assert_msg(strlen(out) == 40, "keygrip: %s", out);
	snprintf(grip, sizeof grip, "%s", out);
	snprintf(text, sizeof text, "on_panic = gpgconf --reload gpg-agent\n");
	dz_write_file(conf, text, strlen(text));
	ck_assert_int_eq(dz_start(&d, args), 0);
	snprintf(cmd, sizeof cmd,
	    "%s --socket %s load %s && %s --socket %s "
	    "get | %s --preset %s && gpg-connect-agent 'KEYINFO %s' /bye",
	    dz_bin("dazai"), d.sock, sec, dz_bin("dazai"), d.sock, preset, grip,
	    grip);
	st = sh(cmd, out, sizeof out);
	ck_assert_msg(st == 0 && strstr(out, " D - - 1 P ") != NULL,
	    "not cached: %d: %s", st, out);
	hb = dz_hello(d.sock);
	close(hb);
	dz_wait(&d, 10);
	snprintf(cmd, sizeof cmd, "gpg-connect-agent 'KEYINFO %s' /bye", grip);
	end = dz_ms_now() + 10000;
	while (sh(cmd, out, sizeof out) == 0 &&
	    strstr(out, " D - - 1 P ") != NULL && dz_ms_now() < end)
		usleep(20000);
	sh("gpgconf --kill gpg-agent", text, sizeof text);
	ck_assert_msg(strstr(out, " D - - - P ") != NULL,
	    "still cached: "
	    "%s; log:\n%s",
	    out, slurp(d.log));
	ck_assert(dz_log_wait(&d,
	    "dazaid: warden: gpgconf --reload "
	    "gpg-agent: exited 0",
	    5));
}
END_TEST

Suite *
warden_suite(void)
{
	Suite *s = suite_create("warden");
	TCase *tc = tcase_create("warden");

	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, actions_in_order);
	tcase_add_test(tc, hanging_action_killed);
	tcase_add_test(tc, dry_run_runs_nothing);
	tcase_add_test(tc, eof_kills_registered);
	tcase_add_test(tc, eof_dry_run);
	tcase_add_test(tc, clean_runs_nothing);
	tcase_add_test(tc, signals_change_nothing);
	tcase_add_test(tc, not_dumpable);
	tcase_add_test(tc, rehearsal_reports);
	tcase_add_test(tc, wipe_runs_on_wipe);
	tcase_add_test(tc, panic_from_signal_handler);
	tcase_add_test(tc, warden_death_seen);
	tcase_add_test(tc, idle_after_records);
	tcase_add_test(tc, dazaid_kill9_runs_actions);
	tcase_add_test(tc, dazaid_sigterm_runs_nothing);
	tcase_add_test(tc, dazaid_dry_run_panic);
	tcase_add_test(tc, kill9_after_arm_kills_registered);
	tcase_add_test(tc, every_trigger_runs_actions);
	tcase_add_test(tc, wipe_and_expiry_run_on_wipe);
	tcase_add_test(tc, warden_death_is_a_panic);
	tcase_add_test(tc, actions_rehearsal);
	tcase_add_test(tc, warden_names_confined_peers);
	tcase_add_test(tc, warden_holds_no_secret);
	tcase_add_test(tc, ssh_agent_armed);
	tcase_add_test(tc, ssh_agent_dry_run);
	tcase_add_test(tc, keyring_purged);
	tcase_add_test(tc, gpg_agent_forgets);
	suite_add_tcase(s, tc);
	return s;
}
