/* SPDX-License-Identifier: ISC */
/*
 * Fail closed, never falsely: each way the daemon once kept a secret it
 * should have destroyed, or destroyed one while its owner was there, run
 * against the real binaries.
 */
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/ptrace.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/user.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <poll.h>
#include <pty.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#include <linux/capability.h>

#include "helpers.h"

#define FAKETIME_LIB "/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1"

static const char *const DRY[] = { NULL };
static const char *const ARMED[] = { "--arm", NULL };

/*
 * Start build/dazaid with its stderr on errfd (-1: the log file), with
 * descriptors 0-2 closed if close_std, extra environment entries and
 * arguments, and wait for readiness. Returns 0 when ready, -1 when it did
 * not become ready within timeout seconds (it is then left running).
 */
static int
start_custom(struct dz *d, int errfd, bool close_std, const char *const *env,
    const char *const *extra, double timeout)
{
	const char   *argv[32];
	char	      fdarg[16], c;
	int	      p[2], n = 0, i, fd;
	struct pollfd pfd;

	dz_init(d, NULL);
	ck_assert_int_eq(pipe2(p, O_CLOEXEC), 0);
	ck_assert_int_gt(p[1], 2);
	snprintf(fdarg, sizeof fdarg, "%d", p[1]);
	argv[n++] = dz_bin("dazaid");
	argv[n++] = "--socket";
	argv[n++] = d->sock;
	argv[n++] = "--ready-fd";
	argv[n++] = fdarg;
	for (i = 0; extra != NULL && extra[i] != NULL && n < 30; i++)
		argv[n++] = extra[i];
	argv[n] = NULL;
	d->pid = fork();
	ck_assert_int_ge(d->pid, 0);
	if (d->pid == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		fcntl(p[1], F_SETFD, 0);
		if (errfd < 0)
			errfd =
			    open(d->log, O_WRONLY | O_CREAT | O_APPEND, 0600);
		fd = open("/dev/null", O_RDWR);
		dup2(fd, STDIN_FILENO);
		dup2(fd, STDOUT_FILENO);
		dup2(errfd, STDERR_FILENO);
		if (close_std) {
			close(STDIN_FILENO);
			close(STDOUT_FILENO);
			close(STDERR_FILENO);
		}
		for (i = 0; env != NULL && env[i] != NULL; i++)
			putenv((char *)env[i]);
		signal(SIGPIPE, SIG_DFL);
		execv(argv[0], (char *const *)argv);
		_exit(127);
	}
	close(p[1]);
	pfd.fd = p[0];
	pfd.events = POLLIN;
	n = poll(&pfd, 1, (int)(timeout * 1000)) == 1 &&
		read(p[0], &c, 1) == 1 && c == '\n' ?
	    0 :
	    -1;
	close(p[0]);
	return n;
}

/* A pipe whose buffer is full; the write end is left blocking. */
static void
full_pipe(int p[2])
{
	static const char junk[4096];
	int		  fl;

	ck_assert_int_eq(pipe(p), 0);
	fl = fcntl(p[1], F_GETFL);
	ck_assert_int_eq(fcntl(p[1], F_SETFL, fl | O_NONBLOCK), 0);
	while (write(p[1], junk, sizeof junk) > 0)
		;
	ck_assert_int_eq(errno, EAGAIN);
	ck_assert_int_eq(fcntl(p[1], F_SETFL, fl), 0);
	ck_assert_int_eq(fcntl(p[0], F_SETFL, O_NONBLOCK), 0);
}

/* Read and discard what waits in a non-blocking pipe; the bytes read. */
static size_t
drain(int fd, char *keep, size_t keeplen)
{
	char	buf[8192];
	size_t	total = 0, k = 0;
	ssize_t n;

	while ((n = read(fd, buf, sizeof buf)) > 0) {
		total += (size_t)n;
		if (keep != NULL && k + (size_t)n < keeplen) {
			memcpy(keep + k, buf, (size_t)n);
			k += (size_t)n;
		}
	}
	if (keep != NULL)
		keep[k] = '\0';
	return total;
}

/*
 * Item 1: stderr that does not drain (a full pipe, as a terminal stopped
 * with ^S or a stalled reader) never holds up start-up, a wipe or a
 * signal: the armed daemon dies on the loss, SIGTERM ends a dry-run one,
 * and the lines that did not fit are counted and reported later.
 */
START_TEST(blocked_stderr)
{
	struct dz d;
	char	  out[8192];
	int	  p[2], hb;

	full_pipe(p);
	ck_assert_msg(start_custom(&d, p[1], false, NULL, ARMED, 10) == 0,
	    "not ready with stderr blocked");
	hb = dz_hello(d.sock);
	close(hb);
	ck_assert_msg(dz_wait(&d, 10) == 0,
	    "armed daemon still alive 10s "
	    "after the loss with stderr blocked");
	ck_assert(WIFSIGNALED(d.status) && WTERMSIG(d.status) == SIGKILL);
	close(p[0]);
	close(p[1]);

	full_pipe(p);
	ck_assert_int_eq(start_custom(&d, p[1], false, NULL, DRY, 10), 0);
	close(p[1]);
	hb = dz_hello(d.sock);
	/* A round trip: the HELLO's log line has been tried (and dropped). */
	ck_assert(dz_send(hb, "PING\n"));
	dz_expect(hb, "PONG");
	/* Drain, then make it log: the dropped lines are owned up to. */
	drain(p[0], NULL, 0);
	kill(d.pid, SIGHUP);
	usleep(300000);
	drain(p[0], out, sizeof out);
	ck_assert_msg(strstr(out, "log line(s) dropped") != NULL &&
		strstr(out, "SIGHUP ignored") != NULL,
	    "after draining: %s", out);
	/* Full again: SIGTERM still ends it at once. */
	close(p[0]);
	kill(d.pid, SIGTERM);
	ck_assert_int_eq(dz_wait(&d, 10), 0);
	ck_assert(WIFEXITED(d.status) && WEXITSTATUS(d.status) == 0);
	ck_assert(access(d.sock, F_OK) != 0);
	close(hb);
}
END_TEST

/*
 * Item 2 (and 8): every catchable signal whose default action ends the
 * process ends the daemon by that same signal, and the socket is gone
 * (the hard handler removed it). The memory scans of these paths are in
 * the memory suite.
 */
START_TEST(terminating_signals)
{
	int		 sigs[64], n = 0, i, sig, hb;
	static const int base[] = { SIGQUIT, SIGALRM, SIGXCPU, SIGXFSZ, SIGSYS,
		SIGTRAP, SIGVTALRM, SIGPROF, SIGPWR, SIGSTKFLT, SIGIO, SIGSEGV,
		SIGBUS, SIGILL, SIGFPE, SIGABRT };
	struct dz	 d;

	for (i = 0; i < (int)(sizeof base / sizeof base[0]); i++)
		sigs[n++] = base[i];
	for (sig = SIGRTMIN; sig <= SIGRTMAX && n < 64; sig++)
		sigs[n++] = sig;
	for (i = 0; i < n; i++) {
		ck_assert_int_eq(dz_start(&d, i % 2 ? ARMED : DRY), 0);
		hb = dz_hello(d.sock);
		kill(d.pid, sigs[i]);
		ck_assert_int_eq(dz_wait(&d, 10), 0);
		ck_assert_msg(WIFSIGNALED(d.status) &&
			WTERMSIG(d.status) == sigs[i],
		    "signal %d (%s): status "
		    "0x%x",
		    sigs[i], strsignal(sigs[i]), d.status);
		ck_assert_msg(access(d.sock, F_OK) != 0,
		    "signal %d left the "
		    "socket",
		    sigs[i]);
		close(hb);
	}
}
END_TEST

/* Item 8: a dry-run hard panic removes the socket too. */
START_TEST(sigusr2_dry_run_removes_socket)
{
	struct dz d;
	int	  hb;

	ck_assert_int_eq(dz_start(&d, DRY), 0);
	hb = dz_hello(d.sock);
	kill(d.pid, SIGUSR2);
	ck_assert_int_eq(dz_wait(&d, 10), 0);
	ck_assert(WIFEXITED(d.status) && WEXITSTATUS(d.status) == 0);
	ck_assert(access(d.sock, F_OK) != 0);
	close(hb);
}
END_TEST

/* Run dazai-heartbeat watching pid; returns its wait status. */
static int
heartbeat_watching(const struct dz *d, pid_t pid)
{
	char	    pidarg[16], out[1024];
	const char *argv[] = { dz_bin("dazai-heartbeat"), "--socket", d->sock,
		"--watch-pid", pidarg, NULL };

	snprintf(pidarg, sizeof pidarg, "%d", (int)pid);
	return dz_run(argv, out, sizeof out, 10);
}

/*
 * Item 3: --watch-pid of a process already gone (reaped, or a zombie)
 * connects and drops the heartbeat: the loss a moment later, every time.
 */
START_TEST(watch_pid_gone)
{
	struct dz d;
	pid_t	  pid;
	int	  st, round;

	for (round = 0; round < 6; round++) {
		ck_assert_int_eq(dz_start(&d, ARMED), 0);
		pid = fork();
		ck_assert_int_ge(pid, 0);
		if (pid == 0)
			_exit(0);
		if (round % 2 == 0) /* reaped: gone for good */
			ck_assert_int_eq(dz_waitpid(pid, &st, 5), 0);
		else /* a zombie until we reap it */
			usleep(50000);
		st = heartbeat_watching(&d, pid);
		ck_assert_msg(st != -1, "dazai-heartbeat hung");
		ck_assert_msg(dz_wait(&d, 10) == 0,
		    "round %d (%s): the "
		    "daemon still holds its secret",
		    round, round % 2 ? "zombie" : "reaped");
		ck_assert(WIFSIGNALED(d.status) &&
		    WTERMSIG(d.status) == SIGKILL);
		if (round % 2)
			dz_waitpid(pid, &st, 5);
	}
}
END_TEST

/*
 * Item 4: SIGUSR1 during a window a loss opened makes it a window only
 * CANCEL ends: a reconnecting heartbeat no longer aborts it.
 */
START_TEST(sigusr1_in_loss_window)
{
	static const char *const args[] = { "--grace", "30", NULL };
	struct dz		 d;
	int			 hb;

	ck_assert_int_eq(dz_start(&d, args), 0);
	hb = dz_hello(d.sock);
	close(hb);
	ck_assert(dz_log_wait(&d, "grace window of 30s", 5));
	kill(d.pid, SIGUSR1);
	ck_assert(dz_log_wait(&d, "only CANCEL ends it now", 5));
	hb = dz_hello(d.sock);
	usleep(200000);
	ck_assert_msg(!dz_log_has(&d, "pending panic aborted"),
	    "a "
	    "reconnect aborted an explicit panic");
	ck_assert(dz_send(hb, "CANCEL\n"));
	dz_expect(hb, "CANCELLED");
	ck_assert(dz_log_wait(&d, "pending panic aborted (CANCEL)", 5));
	ck_assert(dz_alive(&d));
	close(hb);
	dz_stop(&d);
}
END_TEST

/*
 * Item 5: a wall-clock step back during a grace window changes nothing.
 * The system clock cannot be stepped in a test; libfaketime steps the
 * daemon's view of CLOCK_REALTIME (and only that: the monotonic clock is
 * left real), which is exactly what a step looks like to the process.
 */
START_TEST(wall_clock_step)
{
	/* libfaketime reads its timestamp file at every clock call, from
	 * inside the daemon: a file the sandbox would not let it open. */
	/* clang-format off */
	static const char *const args[] = { "--grace", "2", "--no-sandbox",
	    NULL };
	char		 file[128], env_file[160];
	const char	*env[] = { "LD_PRELOAD=" FAKETIME_LIB, env_file,
			    "FAKETIME_NO_CACHE=1",
			    "FAKETIME_DONT_FAKE_MONOTONIC=1",
			    "ASAN_OPTIONS=verify_asan_link_order=0", NULL };
	struct dz	 d;
	double		 t0;
	int		 hb;
	/* clang-format on */

	if (access(FAKETIME_LIB, R_OK) != 0) {
		dz_skip("wall_clock_step: libfaketime is not installed");
		return;
	}
	if (dz_is_asan_build(dz_bin("dazaid"))) {
		/* Preloaded under the ASan runtime, libfaketime hangs the
		 * process before main; make check runs this test. */
		dz_skip_na("wall_clock_step: libfaketime cannot be preloaded "
			   "into an AddressSanitizer build");
		return;
	}
	ck_assert_int_eq(start_custom(&d, -1, false, NULL, args, 10), 0);
	dz_stop(&d);
	snprintf(file, sizeof file, "%s/faketime", d.dir);
	snprintf(env_file, sizeof env_file, "FAKETIME_TIMESTAMP_FILE=%s", file);
	dz_write_file(file, "+0\n", 3);
	ck_assert_int_eq(start_custom(&d, -1, false, env, args, 10), 0);
	hb = dz_hello(d.sock);
	close(hb);
	t0 = dz_now();
	ck_assert(dz_log_wait(&d, "grace window of 2s", 5));
	dz_write_file(file, "-3600\n", 6); /* one hour back */
	ck_assert_msg(dz_wait(&d, 15) == 0,
	    "the clock step postponed the "
	    "panic");
	ck_assert(WIFEXITED(d.status) && WEXITSTATUS(d.status) == 0);
	ck_assert(dz_log_has(&d, "WOULD SIGKILL"));
	printf("wall_clock_step: panic %.2fs after the loss (grace 2s, "
	       "clock stepped back 1h)\n",
	    dz_now() - t0);
}
END_TEST

/*
 * Item 11: a daemon stopped for longer than the ping timeout finds its
 * heartbeat's PINGs waiting when it resumes: no panic.
 */
START_TEST(stopped_daemon_no_false_panic)
{
	static const char *const args[] = { "--arm", "--ping-timeout", "1",
		NULL };
	const char *hbargv[] = { dz_bin("dazai-heartbeat"), "--socket", NULL,
		"--interval", "0.2", "--watch-pid", NULL, NULL };
	char	    me[16];
	struct dz   d;
	pid_t	    hb;
	int	    st, round;

	ck_assert_int_eq(dz_start(&d, args), 0);
	hbargv[2] = d.sock;
	snprintf(me, sizeof me, "%d", (int)getpid());
	hbargv[6] = me;
	hb = dz_spawn(hbargv, d.log, -1);
	ck_assert(dz_log_wait(&d, "heartbeat connected", 5));
	for (round = 0; round < 3; round++) {
		kill(d.pid, SIGSTOP);
		usleep(2500000); /* 2.5 ping timeouts */
		kill(d.pid, SIGCONT);
		usleep(1000000);
		ck_assert_msg(dz_alive(&d),
		    "round %d: the resumed daemon "
		    "took its waiting heartbeat for lost",
		    round);
		ck_assert(!dz_log_has(&d, "heartbeat lost"));
	}
	/* The heartbeat really gone: the timeout still fires. */
	kill(hb, SIGSTOP);
	ck_assert_msg(dz_wait(&d, 10) == 0,
	    "a silent heartbeat was not "
	    "lost");
	ck_assert(WIFSIGNALED(d.status) && WTERMSIG(d.status) == SIGKILL);
	kill(hb, SIGKILL);
	dz_waitpid(hb, &st, 5);
}
END_TEST

/*
 * Item 12: with descriptors 0-2 closed at start, a connection never takes
 * stderr's number: the heartbeat hears WELCOME, not log lines. And
 * --ready-fd or --secret-fd 2 (where the log goes) is refused.
 */
START_TEST(closed_std_fds)
{
	static const char *const args[] = { "--verbose", NULL };
	const char		*bad[] = { dz_bin("dazaid"), "--ready-fd", "2",
			     "--check-config", NULL };
	struct dz		 d;
	char			 out[1024];
	int			 hb, st;

	ck_assert_int_eq(start_custom(&d, -1, true, NULL, args, 10), 0);
	hb = dz_hello(d.sock);
	ck_assert(dz_send(hb, "PING\n"));
	dz_expect(hb, "PONG");
	close(hb);
	ck_assert_int_eq(dz_wait(&d, 10), 0);
	ck_assert(WIFEXITED(d.status) && WEXITSTATUS(d.status) == 0);

	bad[3] = NULL;
	st = dz_run(bad, out, sizeof out, 10);
	ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 2, "%s", out);
	ck_assert_msg(strstr(out, "standard error") != NULL, "%s", out);
	bad[1] = "--secret-fd";
	st = dz_run(bad, out, sizeof out, 10);
	ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 2, "%s", out);
}
END_TEST

/*
 * Item 13: a secret file that is a FIFO with no writer does not block
 * start-up's signals: SIGTERM ends it at once; with a writer, the secret
 * is loaded as from a pipe.
 */
START_TEST(fifo_secret_file)
{
	char	    dir[64], fifo[128];
	const char *args[] = { "--secret-file", fifo, NULL };
	struct dz   d;
	int	    fd;

	dz_tmpdir(dir, sizeof dir);
	snprintf(fifo, sizeof fifo, "%s/fifo", dir);
	ck_assert_int_eq(mkfifo(fifo, 0600), 0);
	ck_assert_int_eq(start_custom(&d, -1, false, NULL, args, 1), -1);
	ck_assert(dz_alive(&d));
	kill(d.pid, SIGTERM);
	ck_assert_msg(dz_wait(&d, 5) == 0, "SIGTERM waited for a writer");
	ck_assert(WIFEXITED(d.status) && WEXITSTATUS(d.status) == 0);

	ck_assert_int_eq(start_custom(&d, -1, false, NULL, args, 0.5), -1);
	fd = open(fifo, O_WRONLY);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(write(fd, "fifo-secret", 11), 11);
	close(fd);
	ck_assert(dz_log_wait(&d, "secret loaded: 11 bytes", 5));
	ck_assert(dz_alive(&d));
	kill(d.pid, SIGTERM);
	ck_assert_int_eq(dz_wait(&d, 5), 0);
	ck_assert(WIFEXITED(d.status) && WEXITSTATUS(d.status) == 0);
}
END_TEST

/*
 * Item 14: --secret-fd on the command line overrides the config file's
 * secret_file (documented precedence), and the reverse.
 */
START_TEST(cli_overrides_secret_source)
{
	char	    dir[64], conf[128], secret[128], text[256], out[2048];
	const char *argv[] = { dz_bin("dazaid"), "--config", conf,
		"--secret-fd", "0", "--check-config", NULL };
	int	    st;

	dz_tmpdir(dir, sizeof dir);
	snprintf(conf, sizeof conf, "%s/dazai.conf", dir);
	snprintf(secret, sizeof secret, "%s/secret", dir);
	dz_write_file(secret, "x", 1);
	snprintf(text, sizeof text, "secret_file = %s\n", secret);
	dz_write_file(conf, text, strlen(text));
	st = dz_run(argv, out, sizeof out, 10);
	ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 0, "%s", out);
	ck_assert_msg(strstr(out, "secret_fd = 0") != NULL, "%s", out);
	ck_assert_msg(strstr(out, secret) == NULL, "%s", out);

	snprintf(text, sizeof text, "secret_fd = 0\n");
	dz_write_file(conf, text, strlen(text));
	argv[3] = "--secret-file";
	argv[4] = secret;
	st = dz_run(argv, out, sizeof out, 10);
	ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 0, "%s", out);
	ck_assert_msg(strstr(out, secret) != NULL, "%s", out);
	ck_assert_msg(strstr(out, "secret_fd = 0") == NULL, "%s", out);
}
END_TEST

/* CPU seconds (user + system) a process has used, from /proc/PID/stat. */
static double
cpu_seconds(pid_t pid)
{
	char	      path[64], buf[1024], *p;
	unsigned long ut, st;
	ssize_t	      n;
	int	      fd;

	snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
	fd = open(path, O_RDONLY);
	ck_assert_int_ge(fd, 0);
	n = read(fd, buf, sizeof buf - 1);
	close(fd);
	ck_assert_int_gt(n, 0);
	buf[n] = '\0';
	p = strrchr(buf, ')');
	ck_assert_ptr_nonnull(p);
	ck_assert_int_eq(sscanf(p + 2,
			     "%*c %*d %*d %*d %*d %*d %*u %*u %*u "
			     "%*u %*u %lu %lu",
			     &ut, &st),
	    2);
	return (double)(ut + st) / (double)sysconf(_SC_CLK_TCK);
}

/*
 * Item 7: out of descriptors with connections pending, the daemon backs
 * off every time, not only the first: over 3 s its CPU time and its
 * back-off lines stay small. Then, with descriptors again, it serves.
 */
START_TEST(emfile_backoff)
{
	struct rlimit low, old;
	struct dz     d;
	int	      hb, extra[8], i, lines;
	double	      cpu0, cpu;

	ck_assert_int_eq(dz_start(&d, DRY), 0);
	hb = dz_hello(d.sock);
	ck_assert_int_eq(prlimit(d.pid, RLIMIT_NOFILE, NULL, &old), 0);
	low = old;
	low.rlim_cur = 3; /* fewer than it already has open */
	ck_assert_int_eq(prlimit(d.pid, RLIMIT_NOFILE, &low, NULL), 0);
	for (i = 0; i < 8; i++)
		extra[i] = dz_connect(d.sock);
	ck_assert(dz_log_wait(&d, "backing off", 5));
	cpu0 = cpu_seconds(d.pid);
	usleep(3000000);
	cpu = cpu_seconds(d.pid) - cpu0;
	lines = dz_log_count(&d, "backing off");
	printf("emfile_backoff: %.2fs CPU in 3s, %d back-off lines\n", cpu,
	    lines);
	ck_assert_msg(cpu < 1.0, "spinning: %.2fs CPU in 3s", cpu);
	ck_assert_msg(lines <= 8, "%d back-off lines in about 3s", lines);
	ck_assert_int_eq(prlimit(d.pid, RLIMIT_NOFILE, &old, NULL), 0);
	for (i = 0; i < 8; i++)
		if (extra[i] >= 0)
			close(extra[i]);
	usleep(1500000);
	ck_assert(dz_send(hb, "PING\n"));
	dz_expect(hb, "PONG");
	ck_assert(dz_alive(&d));
	close(hb);
	dz_stop(&d);
}
END_TEST

/*
 * The QUIT of one heartbeat followed at once by a new connection's HELLO
 * from the same client gets WELCOME, never BUSY, 300 times in a row.
 */
START_TEST(quit_then_hello)
{
	struct dz d;
	char	  line[64], buf[64];
	int	  hb, next, round;

	ck_assert_int_eq(dz_start(&d, ARMED), 0);
	hb = dz_hello(d.sock);
	snprintf(line, sizeof line, "HELLO %d\n", (int)getpid());
	for (round = 0; round < 300; round++) {
		ck_assert(dz_send(hb, "QUIT\n"));
		next = dz_connect(d.sock);
		ck_assert_int_ge(next, 0);
		ck_assert(dz_send(next, line));
		ck_assert_msg(dz_readline(next, buf, sizeof buf, 5) != NULL,
		    "round %d: no reply", round);
		ck_assert_msg(strcmp(buf, "WELCOME") == 0, "round %d: %s",
		    round, buf);
		close(hb);
		hb = next;
	}
	ck_assert(dz_alive(&d));
	ck_assert(dz_send(hb, "QUIT\n"));
	dz_expect(hb, "BYE");
	close(hb);
	dz_stop(&d);
}
END_TEST


/*
 * A stand-in server that answers WELCOME to anything: what a squatter
 * would run. Bound at path as the caller, listening as uid (the
 * credentials SO_PEERCRED reports are those of listen(2)). Returns its
 * pid; it dies with the test.
 */
static pid_t
squatter(const char *path, uid_t uid)
{
	struct sockaddr_un sun;
	pid_t		   pid;
	int		   fd, c;
	char		   buf[64];

	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid > 0)
		return pid;
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	memset(&sun, 0, sizeof sun);
	sun.sun_family = AF_UNIX;
	snprintf(sun.sun_path, sizeof sun.sun_path, "%s", path);
	if ((fd = socket(AF_UNIX, SOCK_STREAM, 0)) < 0 ||
	    bind(fd, (struct sockaddr *)&sun, sizeof sun) != 0)
		_exit(1);
	if (uid != getuid() &&
	    (setgroups(0, NULL) != 0 || setresgid(uid, uid, uid) != 0 ||
		setresuid(uid, uid, uid) != 0))
		_exit(1);
	if (listen(fd, 8) != 0)
		_exit(1);
	for (;;) {
		if ((c = accept(fd, NULL, NULL)) < 0)
			continue;
		if (read(c, buf, sizeof buf) > 0 &&
		    write(c, "WELCOME\n", 8) != 8)
			_exit(1);
	}
}

/* Run dazai-heartbeat with args; its wait status, its output in out. */
static int
run_heartbeat(const char *const *args, char *out, size_t len)
{
	const char *argv[16];
	int	    n = 0, i;

	argv[n++] = dz_bin("dazai-heartbeat");
	for (i = 0; args[i] != NULL && n < 15; i++)
		argv[n++] = args[i];
	argv[n] = NULL;
	return dz_run(argv, out, len, 15);
}

/*
 * Item 6: the client trusts a socket only where the daemon itself would
 * put one, served by our uid or root; otherwise it refuses (exit 4)
 * instead of reporting "guarding" to a squatter.
 */
START_TEST(client_refuses_squatter)
{
	char	    dir[64], sub[128], sock[160], out[2048], env[200];
	const char *args[] = { "--socket", sock, "--watch-pid", "1", NULL };
	const char *defargs[] = { "--watch-pid", "1", NULL };
	pid_t	    srv;
	int	    st;

	/* A directory others may write to: anyone could have put it there. */
	dz_tmpdir(dir, sizeof dir);
	snprintf(sub, sizeof sub, "%s/open", dir);
	ck_assert_int_eq(mkdir(sub, 0700), 0);
	snprintf(sock, sizeof sock, "%s/dazai.sock", sub);
	srv = squatter(sock, getuid());
	usleep(100000);
	ck_assert_int_eq(chmod(sub, 0777), 0);
	st = run_heartbeat(args, out, sizeof out);
	ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 4,
	    "status 0x%x: "
	    "%s",
	    st, out);
	ck_assert_msg(strstr(out, "not trusting") != NULL &&
		strstr(out, "guarding") == NULL,
	    "%s", out);
	/* The same server in a safe directory is talked to (control). */
	ck_assert_int_eq(chmod(sub, 0700), 0);
	args[3] = "999999999";
	st = run_heartbeat(args, out, sizeof out);
	ck_assert_msg(strstr(out, "not trusting") == NULL, "%s", out);
	kill(srv, SIGKILL);
	dz_waitpid(srv, &st, 5);

	if (!dz_is_root()) {
		dz_skip("client_refuses_squatter: a server of another uid "
			"needs root");
		return;
	}
	/* Another user's listener in a directory that passes. */
	snprintf(sub, sizeof sub, "%s/root", dir);
	ck_assert_int_eq(mkdir(sub, 0755), 0);
	snprintf(sock, sizeof sock, "%s/dazai.sock", sub);
	srv = squatter(sock, 65534);
	usleep(100000);
	args[3] = "1";
	st = run_heartbeat(args, out, sizeof out);
	ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 4,
	    "status 0x%x: "
	    "%s",
	    st, out);
	ck_assert_msg(strstr(out, "uid 65534") != NULL, "%s", out);
	kill(srv, SIGKILL);
	dz_waitpid(srv, &st, 5);

	/* The default directory created first by another user. */
	snprintf(sub, sizeof sub, "%s/xdg", dir);
	ck_assert_int_eq(mkdir(sub, 0700), 0);
	snprintf(sock, sizeof sock, "%s/xdg/dazai", dir);
	ck_assert_int_eq(mkdir(sock, 0700), 0);
	ck_assert_int_eq(chown(sock, 65534, 65534), 0);
	snprintf(env, sizeof env, "%s", sub);
	setenv("XDG_RUNTIME_DIR", env, 1);
	unsetenv("DAZAI_SOCKET");
	st = run_heartbeat(defargs, out, sizeof out);
	unsetenv("XDG_RUNTIME_DIR");
	ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 4,
	    "status 0x%x: "
	    "%s",
	    st, out);
	ck_assert_msg(strstr(out, "owned by uid 65534") != NULL, "%s", out);
}
END_TEST

/* ------------------------------------------------------------------ */
/* Part two: each defect below once failed open or panicked falsely.   */

/* The state letter of pid in /proc/PID/stat ('?' if unreadable). */
static char
proc_state(pid_t pid)
{
	char	path[64], buf[512], *p;
	ssize_t n;
	int	fd;

	snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
	if ((fd = open(path, O_RDONLY)) < 0)
		return '?';
	n = read(fd, buf, sizeof buf - 1);
	close(fd);
	if (n <= 0)
		return '?';
	buf[n] = '\0';
	if ((p = strrchr(buf, ')')) == NULL || p[1] == '\0')
		return '?';
	return p[2];
}

/* Context switches of pid so far (voluntary and not): its wake-ups. */
static long
proc_switches(pid_t pid)
{
	char  path[64], line[128];
	long  v, total = 0;
	FILE *fp;

	snprintf(path, sizeof path, "/proc/%d/status", (int)pid);
	if ((fp = fopen(path, "r")) == NULL)
		return -1;
	while (fgets(line, sizeof line, fp) != NULL)
		if (sscanf(line, "voluntary_ctxt_switches: %ld", &v) == 1 ||
		    sscanf(line, "nonvoluntary_ctxt_switches: %ld", &v) == 1)
			total += v;
	fclose(fp);
	return total;
}

/* 1. ^Z (SIGTSTP) and the other job-control stops do not stop dazaid. */
START_TEST(job_control_ignored)
{
	static const int sigs[] = { SIGTSTP, SIGTTIN, SIGTTOU };
	struct dz	 d;
	size_t		 i;

	ck_assert_int_eq(dz_start(&d, DRY), 0);
	for (i = 0; i < sizeof sigs / sizeof sigs[0]; i++) {
		ck_assert_int_eq(kill(d.pid, sigs[i]), 0);
		usleep(200000);
		ck_assert_msg(proc_state(d.pid) != 'T',
		    "signal %d stopped "
		    "the daemon",
		    sigs[i]);
	}
	/* And it still panics at once. */
	ck_assert_int_eq(kill(d.pid, SIGUSR1), 0);
	ck_assert_int_eq(dz_wait(&d, 10), 0);
	ck_assert(WIFEXITED(d.status) && WEXITSTATUS(d.status) == 0);
	ck_assert(dz_log_has(&d, "WOULD SIGKILL"));
}
END_TEST

/*
 * 1. A background dazaid on a terminal under `stty tostop`: its panic's
 * log lines would stop it (SIGTTOU) before the wipe. It runs in a
 * background process group of a real pseudo-terminal's session; the
 * panic completes, and the keys are zeroed before the first line of it.
 */
START_TEST(tostop_background_panic)
{
	struct termios t;
	struct pollfd  pfd;
	char	       fdarg[16], out[8192], c;
	const char    *argv[12];
	size_t	       got = 0;
	ssize_t	       n;
	pid_t	       lead, pid;
	int	       master, slave, ready[2], info[2], st, hb, code;
	double	       end;
	char	      *zeroed, *lost;
	struct dz      d;

	dz_init(&d, NULL);
	ck_assert_int_eq(openpty(&master, &slave, NULL, NULL, NULL), 0);
	ck_assert_int_eq(pipe(ready), 0);
	ck_assert_int_eq(pipe(info), 0);
	snprintf(fdarg, sizeof fdarg, "%d", ready[1]);
	argv[0] = dz_bin("dazaid");
	argv[1] = "--socket";
	argv[2] = d.sock;
	argv[3] = "--ready-fd";
	argv[4] = fdarg;
	argv[5] = "--verbose";
	argv[6] = NULL;
	lead = fork();
	ck_assert_int_ge(lead, 0);
	if (lead == 0) {
		/* The session leader: the terminal's foreground group. */
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		close(master);
		close(ready[0]);
		close(info[0]);
		if (setsid() < 0 || ioctl(slave, TIOCSCTTY, 0) != 0 ||
		    tcgetattr(slave, &t) != 0)
			_exit(120);
		t.c_lflag |= TOSTOP;
		if (tcsetattr(slave, TCSANOW, &t) != 0)
			_exit(121);
		if ((pid = fork()) < 0)
			_exit(122);
		if (pid == 0) {
			/* The daemon, in a background group of its own. */
			setpgid(0, 0);
			dup2(slave, STDOUT_FILENO);
			dup2(slave, STDERR_FILENO);
			execv(argv[0], (char *const *)argv);
			_exit(127);
		}
		setpgid(pid, pid);
		close(ready[1]);
		if (write(info[1], &pid, sizeof pid) != sizeof pid)
			_exit(123);
		/* Reported stopped: the defect; exited 0: the panic done. */
		if (waitpid(pid, &st, WUNTRACED) != pid)
			_exit(124);
		if (WIFSTOPPED(st)) {
			kill(pid, SIGKILL);
			waitpid(pid, &st, 0);
			_exit(99);
		}
		_exit(WIFEXITED(st) ? WEXITSTATUS(st) : 100 + (st & 0x7f));
	}
	close(slave);
	close(ready[1]);
	close(info[1]);
	ck_assert_int_eq(read(info[0], &pid, sizeof pid), sizeof pid);
	close(info[0]);
	fcntl(master, F_SETFL, O_NONBLOCK);
	pfd.fd = ready[0];
	pfd.events = POLLIN;
	ck_assert_int_eq(poll(&pfd, 1, 10000), 1);
	ck_assert_int_eq(read(ready[0], &c, 1), 1);
	close(ready[0]);
	hb = dz_hello(d.sock);
	close(hb);
	/* Read the terminal while waiting, so it never fills. */
	code = -1;
	for (end = dz_now() + 15; dz_now() < end;) {
		while (got < sizeof out - 1 &&
		    (n = read(master, out + got, sizeof out - 1 - got)) > 0)
			got += (size_t)n;
		if (dz_waitpid(lead, &st, 0.1) == 0) {
			code = WIFEXITED(st) ? WEXITSTATUS(st) : -2;
			break;
		}
	}
	/*
	 * Drain to the end: the terminal hands written bytes to its reader
	 * asynchronously, so the last line may arrive after the leader's
	 * exit. Every writer is gone once it exits: read until EIO or EOF.
	 */
	pfd.fd = master;
	pfd.events = POLLIN;
	for (end = dz_now() + 5;
	     code != -1 && got < sizeof out - 1 && dz_now() < end;) {
		n = read(master, out + got, sizeof out - 1 - got);
		if (n > 0)
			got += (size_t)n;
		else if (n == 0 || errno != EAGAIN)
			break;
		else
			(void)poll(&pfd, 1, 100);
	}
	out[got] = '\0';
	close(master);
	if (code == -1) {
		kill(pid, SIGKILL);
		kill(lead, SIGKILL);
		dz_waitpid(lead, &st, 5);
	}
	ck_assert_msg(code == 0,
	    "the daemon did not finish its panic "
	    "(%d: 99 means stopped by SIGTTOU): %s",
	    code, out);
	zeroed = strstr(out, "prekey zeroed at");
	lost = strstr(out, "heartbeat lost");
	ck_assert_msg(zeroed != NULL && lost != NULL && zeroed < lost,
	    "the keys were not zeroed before the panic's first line: %s", out);
	ck_assert(strstr(out, "WOULD SIGKILL") != NULL);
}
END_TEST

/*
 * 2. A GET whose reader takes nothing: a lifetime that falls due meanwhile
 * sets no busy timer (the daemon sleeps), the GET is cut short after the
 * control idle limit (30 s), and the secret expires then.
 */
START_TEST(stalled_get_expires_later)
{
	const char *const args[] = { "--empty", "--max-lifetime", "1", NULL };
	struct dz	  d;
	size_t		  len = 2 * 1024 * 1024;
	char		 *big = malloc(len), line[64];
	long		  before, after;
	int		  fd, getter;
	double		  t0;

	ck_assert_ptr_nonnull(big);
	memset(big, 'g', len);
	ck_assert_int_eq(dz_start(&d, args), 0);
	fd = dz_ctl(&d);
	dz_load(fd, big, len);
	free(big);
	getter = dz_ctl(&d);
	ck_assert(dz_send(getter, "GET\n"));
	t0 = dz_now();
	ck_assert(dz_readline(getter, line, sizeof line, 10) != NULL);
	ck_assert_str_eq(line, "SECRET 2097152");
	/* Past the limit, the GET still stalled: measure the wake-ups. */
	usleep(1500000);
	before = proc_switches(d.pid);
	usleep(3000000);
	after = proc_switches(d.pid);
	ck_assert_int_ge(before, 0);
	ck_assert_msg(after - before < 50,
	    "%ld wake-ups in 3 s while a GET "
	    "stalled",
	    after - before);
	ck_assert(!dz_log_has(&d, "expired"));
	/* The control idle limit cuts it short; the limit then applies. */
	ck_assert(dz_log_wait(&d, "expired (max_lifetime reached)", 40));
	ck_assert_msg(dz_now() - t0 > 25, "cut short after %.1f s",
	    dz_now() - t0);
	ck_assert(dz_log_has(&d, "idle for 30"));
	ck_assert_str_eq(dz_field(dz_status(&d), "state"), "empty");
	close(getter);
	close(fd); /* idle for 30 s too: closed by the daemon */
	fd = dz_ctl(&d);
	ck_assert_str_eq(dz_req(fd, "GET\n"), "ERR no secret");
	close(fd);
	dz_stop(&d);
}
END_TEST

/*
 * Start dazaid with RLIMIT_MEMLOCK at limit bytes (soft and hard) and
 * without CAP_IPC_LOCK (dropped from the bounding set before exec, so
 * root's exec does not get it back): mlock is then really refused.
 */
static int
start_memlock(struct dz *d, rlim_t limit, const char *const *extra)
{
	struct rlimit rl = { limit, limit };
	const char   *argv[24];
	char	      fdarg[16], c;
	struct pollfd pfd;
	int	      p[2], n = 0, i, fd;

	dz_init(d, NULL);
	ck_assert_int_eq(pipe(p), 0);
	snprintf(fdarg, sizeof fdarg, "%d", p[1]);
	argv[n++] = dz_bin("dazaid");
	argv[n++] = "--socket";
	argv[n++] = d->sock;
	argv[n++] = "--ready-fd";
	argv[n++] = fdarg;
	for (i = 0; extra[i] != NULL && n < 22; i++)
		argv[n++] = extra[i];
	argv[n] = NULL;
	d->pid = fork();
	ck_assert_int_ge(d->pid, 0);
	if (d->pid == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		close(p[0]);
		fd = open(d->log, O_WRONLY | O_CREAT | O_APPEND, 0600);
		if (fd < 0 || dup2(fd, STDERR_FILENO) < 0 ||
		    setrlimit(RLIMIT_MEMLOCK, &rl) != 0 ||
		    prctl(PR_CAPBSET_DROP, CAP_IPC_LOCK, 0, 0, 0) != 0)
			_exit(125);
		execv(argv[0], (char *const *)argv);
		_exit(127);
	}
	close(p[1]);
	pfd.fd = p[0];
	pfd.events = POLLIN;
	n = poll(&pfd, 1, 10000) == 1 && read(p[0], &c, 1) == 1 ? 0 : -1;
	close(p[0]);
	return n;
}

/* LOAD n bytes of c and return the reply (static buffer). */
static const char *
load_reply(int fd, size_t n, char c)
{
	static char reply[256];
	char	    line[64], *buf = malloc(n);
	const char *r;

	ck_assert_ptr_nonnull(buf);
	memset(buf, c, n);
	snprintf(line, sizeof line, "LOAD %zu\n", n);
	ck_assert(dz_send(fd, line));
	/* The daemon may stop reading early (a refusal): no SIGPIPE. */
	(void)send(fd, buf, n, MSG_NOSIGNAL);
	free(buf);
	r = dz_readline(fd, reply, sizeof reply, 10);
	ck_assert_msg(r != NULL, "no reply to LOAD %zu", n);
	return r;
}

/*
 * 3 and 10. --empty --require-lock (the systemd unit's way) under a
 * 256 KiB lock limit: a LOAD that fits is locked and taken; one whose
 * pages cannot be locked is refused, keeps nothing, says so, and says
 * that the secret it replaced was wiped.
 */
START_TEST(require_lock_at_load)
{
	const char *const args[] = { "--empty", "--require-lock", NULL };
	struct dz	  d;
	const char	 *s;
	int		  fd;

	if (!dz_is_root()) {
		dz_skip("require_lock_at_load: dropping CAP_IPC_LOCK from the "
			"bounding set needs root");
		return;
	}
	ck_assert_int_eq(start_memlock(&d, 256 * 1024, args), 0);
	fd = dz_ctl(&d);
	ck_assert_str_eq(load_reply(fd, 16 * 1024, 's'), "OK");
	s = dz_status(&d);
	ck_assert_str_eq(dz_field(s, "secret_bytes"), "16384");
	ck_assert_msg(strstr(dz_field(s, "protections"), "locked") != NULL,
	    "%s", s);
	close(fd);
	fd = dz_ctl(&d);
	ck_assert_str_eq(load_reply(fd, 1024 * 1024, 'b'),
	    "ERR cannot lock "
	    "the secret; the secret it replaced was wiped");
	close(fd);
	s = dz_status(&d);
	ck_assert_str_eq(dz_field(s, "state"), "empty");
	ck_assert_str_eq(dz_field(s, "secret_bytes"), "0");
	ck_assert(dz_log_has(&d, "cannot be locked in memory"));
	ck_assert(dz_log_has(&d, "and so was the secret it replaced"));
	fd = dz_ctl(&d);
	ck_assert_str_eq(dz_req(fd, "GET\n"), "ERR no secret");
	close(fd);
	dz_stop(&d);
}
END_TEST

/*
 * 10. A rehearsal daemon (32 random bytes at start) takes a LOAD of any
 * size up to secret_max.
 */
START_TEST(rehearsal_takes_load)
{
	struct dz d;
	char	  big[5000];
	int	  fd;

	memset(big, 'r', sizeof big);
	ck_assert_int_eq(dz_start(&d, DRY), 0);
	ck_assert_str_eq(dz_field(dz_status(&d), "secret_bytes"), "32");
	fd = dz_ctl(&d);
	dz_load(fd, big, sizeof big);
	dz_get_expect(fd, big, sizeof big);
	close(fd);
	dz_stop(&d);
}
END_TEST

/* A sleeper registered with d; the registration checked. */
static pid_t
registered_sleeper(const struct dz *d)
{
	pid_t kid = dz_sleeper();

	ck_assert_str_eq(dz_reg(d, kid), "OK");
	return kid;
}

/*
 * 8. dazai exec with max_reads = 1, armed: the read exec makes expires
 * the secret, and the command it registered lives on to use it.
 */
START_TEST(exec_last_read_lives)
{
	const char *const args[] = { "--arm", "--empty", "--max-reads", "1",
		NULL };
	const char *argv[] = { dz_bin("dazai"), "--socket", NULL, "exec", "--",
		"sh", "-c", "sleep 0.5; wc -c; exit 3", NULL };
	struct dz   d;
	char	    out[256];
	int	    fd, st;

	ck_assert_int_eq(dz_start(&d, args), 0);
	argv[2] = d.sock;
	fd = dz_ctl(&d);
	dz_load(fd, "onetime", 7);
	close(fd);
	st = dz_run(argv, out, sizeof out, 20);
	ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 3, "status 0x%x: %s",
	    st, out);
	ck_assert_msg(strstr(out, "7") != NULL, "%s", out);
	ck_assert(dz_log_has(&d, "expired (max_reads reached)"));
	ck_assert(!dz_log_has(&d, "SIGKILL pid"));
	ck_assert(dz_alive(&d));
	dz_stop(&d);
}
END_TEST

/*
 * Start a GET of a secret too big for the socket's buffer and leave it
 * stalled (nothing read); returns the connection.
 */
static int
stalled_get(const struct dz *d, size_t len)
{
	char line[64], want[64];
	int  fd = dz_ctl(d);

	ck_assert(dz_send(fd, "GET\n"));
	ck_assert(dz_readline(fd, line, sizeof line, 10) != NULL);
	snprintf(want, sizeof want, "SECRET %zu", len);
	ck_assert_str_eq(line, want);
	return fd;
}

/*
 * 11. WIPE while a GET is being written: one wipe, one log line, each
 * registered process named once, no expiry invented (max_reads = 1 was
 * reached by that very GET).
 */
START_TEST(wipe_during_get_once)
{
	const char *const args[] = { "--empty", "--max-reads", "1", NULL };
	struct dz	  d;
	size_t		  len = 2 * 1024 * 1024;
	char		 *big = malloc(len), want[64];
	pid_t		  kid;
	int		  fd, getter, st;

	ck_assert_ptr_nonnull(big);
	memset(big, 'w', len);
	ck_assert_int_eq(dz_start(&d, args), 0);
	fd = dz_ctl(&d);
	dz_load(fd, big, len);
	kid = registered_sleeper(&d);
	getter = stalled_get(&d, len);
	ck_assert_str_eq(dz_req(fd, "WIPE\n"), "OK");
	ck_assert_int_eq(dz_log_count(&d, "secret wiped ("), 1);
	ck_assert_int_eq(dz_log_count(&d, "expired"), 0);
	snprintf(want, sizeof want, "WOULD SIGKILL pid %d", (int)kid);
	ck_assert_int_eq(dz_log_count(&d, want), 1);
	ck_assert_str_eq(dz_field(dz_status(&d), "state"), "empty");
	close(getter);
	close(fd);
	free(big);
	dz_stop(&d);
	kill(kid, SIGKILL);
	dz_waitpid(kid, &st, 5);
}
END_TEST

/*
 * 11. A LOAD that replaces a secret while a GET of it is being written,
 * armed: the GET is cut short, nothing expires and nobody is killed.
 */
START_TEST(load_during_get_kills_nobody)
{
	const char *const args[] = { "--arm", "--empty", "--max-reads", "1",
		NULL };
	struct dz	  d;
	size_t		  len = 2 * 1024 * 1024;
	char		 *big = malloc(len);
	pid_t		  kid;
	int		  fd, getter, st;

	ck_assert_ptr_nonnull(big);
	memset(big, 'l', len);
	ck_assert_int_eq(dz_start(&d, args), 0);
	fd = dz_ctl(&d);
	dz_load(fd, big, len);
	kid = registered_sleeper(&d);
	getter = stalled_get(&d, len);
	dz_load(fd, "fresh", 5);
	ck_assert_int_eq(dz_log_count(&d, "expired"), 0);
	ck_assert(!dz_log_has(&d, "SIGKILL pid"));
	ck_assert(dz_child_running(kid, &st));
	dz_get_expect(fd, "fresh", 5);
	close(getter);
	close(fd);
	free(big);
	dz_stop(&d);
	kill(kid, SIGKILL);
	dz_waitpid(kid, &st, 5);
}
END_TEST

/*
 * 12. With two sessions: a reconnect aborts a loss window; a CANCEL from
 * another heartbeat, whose HELLO cancelled nothing, is told so, and the
 * reconnecting heartbeat's own CANCEL still reports the cancellation.
 */
START_TEST(cancel_claimed_by_aborter)
{
	const char *const args[] = { "--sessions", "2", "--grace", "30", NULL };
	struct dz	  d;
	int		  a, b, c;

	ck_assert_int_eq(dz_start(&d, args), 0);
	a = dz_hello(d.sock);
	close(a);
	ck_assert(dz_status_wait(&d, "state", "grace", 10));
	b = dz_hello(d.sock);
	ck_assert(dz_status_wait(&d, "state", "guarding", 10));
	c = dz_hello(d.sock);
	ck_assert_str_eq(dz_req(c, "CANCEL\n"), "ERR no pending panic");
	ck_assert_str_eq(dz_req(b, "CANCEL\n"), "CANCELLED");
	ck_assert_str_eq(dz_req(b, "CANCEL\n"), "ERR no pending panic");
	ck_assert(dz_send(b, "QUIT\n"));
	ck_assert(dz_send(c, "QUIT\n"));
	close(b);
	close(c);
	dz_stop(&d);
}
END_TEST

/* Connect, send WIPE and write its reply line to fd; never returns. */
static void
wipe_child(const char *sock, int fd)
{
	char line[256];
	int  c;

	prctl(PR_SET_PDEATHSIG, SIGKILL);
	line[0] = '\0';
	if ((c = dz_connect(sock)) >= 0 && dz_send(c, "WIPE\n"))
		dz_readline(c, line, sizeof line, 20);
	if (write(fd, line, strlen(line) + 1) < 0)
		_exit(1);
	_exit(0);
}

/*
 * 5. A wipe that cannot complete: every mprotect(2) that would make
 * memory writable is failed (EPERM) by this test, through ptrace, while
 * the daemon handles a WIPE, so neither the wipe nor the hard path's
 * zeroing it then tries can write. (Unconfined: a call skipped by ptrace
 * would meet the seccomp filter as an unknown call.) The reply, the log
 * and STATUS must not claim a wipe; once mprotect works again, a WIPE
 * does.
 */
START_TEST(failed_wipe_says_so)
{
	const char *const args[] = { "--empty", "--no-sandbox", NULL };
	struct __ptrace_syscall_info si;
	struct user_regs_struct	     regs;
	struct pollfd		     pfd;
	struct dz		     d;
	char			     reply[256];
	const char		    *s;
	bool			     failing = false, replied = false;
	pid_t			     kid;
	int			     p[2], fd, st, refused = 0;
	ssize_t			     n;
	double			     end;

	if (!dz_is_root()) {
		dz_skip("failed_wipe_says_so: tracing the non-dumpable daemon "
			"needs root");
		return;
	}
	ck_assert_int_eq(dz_start(&d, args), 0);
	fd = dz_ctl(&d);
	dz_load(fd, "stuck-bytes", 11);
	close(fd);
	ck_assert_int_eq(pipe(p), 0);
	ck_assert_int_eq(ptrace(PTRACE_SEIZE, d.pid, 0, PTRACE_O_TRACESYSGOOD),
	    0);
	ck_assert_int_eq(ptrace(PTRACE_INTERRUPT, d.pid, 0, 0), 0);
	ck_assert_int_eq(dz_waitpid(d.pid, &st, 10), 0);
	ck_assert(WIFSTOPPED(st));
	ck_assert_int_eq(ptrace(PTRACE_SYSCALL, d.pid, 0, 0), 0);
	kid = fork();
	ck_assert_int_ge(kid, 0);
	if (kid == 0)
		wipe_child(d.sock, p[1]);
	close(p[1]);
	pfd.fd = p[0];
	pfd.events = POLLIN;
	for (end = dz_now() + 20; !replied && dz_now() < end;) {
		if (poll(&pfd, 1, 0) == 1)
			replied = true;
		if (dz_waitpid(d.pid, &st, 0.05) != 0)
			continue;
		ck_assert_msg(WIFSTOPPED(st), "the daemon ended: 0x%x", st);
		if (WSTOPSIG(st) != (SIGTRAP | 0x80)) {
			ptrace(PTRACE_SYSCALL, d.pid, 0,
			    (st >> 16) == 0 ? WSTOPSIG(st) : 0);
			continue;
		}
		memset(&si, 0, sizeof si);
		ck_assert_int_gt(ptrace(PTRACE_GET_SYSCALL_INFO, d.pid,
				     sizeof si, &si),
		    0);
		ck_assert_int_eq(ptrace(PTRACE_GETREGS, d.pid, 0, &regs), 0);
		if (si.op == PTRACE_SYSCALL_INFO_ENTRY &&
		    si.entry.nr == SYS_mprotect &&
		    (si.entry.args[2] & PROT_WRITE)) {
			regs.orig_rax = (unsigned long long)-1; /* skip it */
			failing = true;
			refused++;
		} else if (si.op == PTRACE_SYSCALL_INFO_EXIT && failing) {
			regs.rax = (unsigned long long)-EPERM;
			failing = false;
		}
		ck_assert_int_eq(ptrace(PTRACE_SETREGS, d.pid, 0, &regs), 0);
		ptrace(PTRACE_SYSCALL, d.pid, 0, 0);
	}
	ck_assert(replied);
	/* Stop tracing: interrupt, then detach at that stop. */
	ptrace(PTRACE_INTERRUPT, d.pid, 0, 0);
	while (dz_waitpid(d.pid, &st, 5) == 0 && WIFSTOPPED(st) &&
	    ptrace(PTRACE_DETACH, d.pid, 0, 0) != 0)
		ptrace(PTRACE_SYSCALL, d.pid, 0, 0);
	n = read(p[0], reply, sizeof reply - 1);
	ck_assert_int_gt(n, 0);
	reply[n] = '\0';
	close(p[0]);
	ck_assert_int_eq(dz_waitpid(kid, &st, 5), 0);
	ck_assert_msg(refused > 0, "no mprotect was refused");
	ck_assert_str_eq(reply, "ERR wipe failed");
	ck_assert(dz_log_has(&d, "WIPE FAILED"));
	s = dz_status(&d);
	ck_assert_msg(strcmp(dz_field(s, "state"), "empty") != 0, "%s", s);
	ck_assert_str_eq(dz_field(s, "secret_bytes"), "11");
	/* Untraced, the wipe completes and says so. */
	fd = dz_ctl(&d);
	ck_assert_str_eq(dz_req(fd, "WIPE\n"), "OK");
	close(fd);
	ck_assert_str_eq(dz_field(dz_status(&d), "state"), "empty");
	dz_stop(&d);
}
END_TEST

Suite *
failclosed_suite(void)
{
	Suite *s = suite_create("failclosed");
	TCase *tc = tcase_create("failclosed");

	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, blocked_stderr);
	tcase_add_test(tc, terminating_signals);
	tcase_add_test(tc, sigusr2_dry_run_removes_socket);
	tcase_add_test(tc, watch_pid_gone);
	tcase_add_test(tc, sigusr1_in_loss_window);
	tcase_add_test(tc, wall_clock_step);
	tcase_add_test(tc, stopped_daemon_no_false_panic);
	tcase_add_test(tc, closed_std_fds);
	tcase_add_test(tc, fifo_secret_file);
	tcase_add_test(tc, cli_overrides_secret_source);
	tcase_add_test(tc, emfile_backoff);
	tcase_add_test(tc, quit_then_hello);
	tcase_add_test(tc, client_refuses_squatter);
	tcase_add_test(tc, job_control_ignored);
	tcase_add_test(tc, tostop_background_panic);
	tcase_add_test(tc, stalled_get_expires_later);
	tcase_add_test(tc, require_lock_at_load);
	tcase_add_test(tc, rehearsal_takes_load);
	tcase_add_test(tc, exec_last_read_lives);
	tcase_add_test(tc, wipe_during_get_once);
	tcase_add_test(tc, load_during_get_kills_nobody);
	tcase_add_test(tc, cancel_claimed_by_aborter);
	tcase_add_test(tc, failed_wipe_says_so);
	suite_add_tcase(s, tc);
	return s;
}
