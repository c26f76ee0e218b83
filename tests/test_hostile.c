/* SPDX-License-Identifier: ISC */
/*
 * What the daemon survives: a full session under valgrind, another uid on
 * a world-accessible socket, connection and data floods, squatters that
 * never say HELLO, hostile things at the socket path and its directory,
 * and the hardening of both binaries as the linker left it.
 */
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/un.h>
#include <sys/wait.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "helpers.h"

#define NOBODY	       65534
#define FLOOD_CONNECTS 5000
#define DATA_WORKERS   3
#define DATA_CONNECTS  100 /* per worker: 300 in all */
#define LONG_LINE      (64 * 1024)
#define RSS_SLACK_KIB  1024

static const char *const DRY[] = { NULL };
static const char *const ARMED[] = { "--arm", NULL };

/* Open descriptors of pid (/proc/PID/fd entries); -1 if unreadable. */
static int
fd_count(pid_t pid)
{
	char	       path[64];
	DIR	      *dir;
	struct dirent *de;
	int	       n = 0;

	snprintf(path, sizeof path, "/proc/%d/fd", (int)pid);
	if ((dir = opendir(path)) == NULL)
		return -1;
	while ((de = readdir(dir)) != NULL)
		if (de->d_name[0] != '.')
			n++;
	closedir(dir);
	return n;
}

/* Wait up to timeout seconds for pid's descriptor count to be want. */
static int
fd_count_settle(pid_t pid, int want, double timeout)
{
	double end = dz_now() + timeout;
	int    n;

	while ((n = fd_count(pid)) != want && dz_now() < end)
		usleep(10000);
	return n;
}

/* Resident memory of pid in KiB (VmRSS); -1 if unknown. */
static long
rss_kib(pid_t pid)
{
	char  path[64], line[256];
	FILE *fp;
	long  kib = -1;

	snprintf(path, sizeof path, "/proc/%d/status", (int)pid);
	if ((fp = fopen(path, "r")) == NULL)
		return -1;
	while (fgets(line, sizeof line, fp) != NULL)
		if (sscanf(line, "VmRSS: %ld kB", &kib) == 1)
			break;
	fclose(fp);
	return kib;
}

/* Heartbeat: PING answered by PONG. */
static void
assert_ping(int fd)
{
	ck_assert(dz_send(fd, "PING\n"));
	dz_expect(fd, "PONG");
}

/* The heartbeat is lost now: the daemon must walk the dry-run panic. */
static void
assert_loss_panics(struct dz *d, int hb)
{
	close(hb);
	ck_assert_int_eq(dz_wait(d, 30), 0);
	ck_assert_msg(WIFEXITED(d->status) && WEXITSTATUS(d->status) == 0,
	    "status %d", d->status);
	ck_assert(dz_log_has(d, "heartbeat lost"));
	ck_assert(dz_log_has(d, "secret wiped"));
	ck_assert(dz_log_has(d, "WOULD SIGKILL"));
}

/* Connect with send and receive timeouts, for worker processes. */
static int
connect_timed(const char *path, double timeout)
{
	struct timeval tv;
	int	       fd;

	if ((fd = dz_connect(path)) < 0)
		return -1;
	tv.tv_sec = (time_t)timeout;
	tv.tv_usec = (suseconds_t)((timeout - (double)tv.tv_sec) * 1e6);
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
	return fd;
}

/* Send it all, whatever the peer does (errors are the peer's answer). */
static void
send_all(int fd, const void *buf, size_t len)
{
	const char *p = buf;
	ssize_t	    n;

	while (len > 0) {
		n = send(fd, p, len, MSG_NOSIGNAL);
		if (n <= 0)
			return;
		p += n;
		len -= (size_t)n;
	}
}

/*
 * Read until EOF (or reset) within timeout seconds, keeping what fits in
 * buf. Returns the byte count, or -1 on timeout.
 */
static ssize_t
read_to_eof(int fd, char *buf, size_t len, double timeout)
{
	double	      end = dz_now() + timeout;
	struct pollfd pfd = { fd, POLLIN, 0 };
	char	      tmp[4096];
	size_t	      got = 0;
	ssize_t	      n;
	int	      ms;

	for (;;) {
		ms = (int)((end - dz_now()) * 1000);
		if (ms <= 0 || poll(&pfd, 1, ms) != 1)
			return -1;
		n = read(fd, tmp, sizeof tmp);
		if (n == 0 || (n < 0 && errno == ECONNRESET))
			break;
		if (n < 0) {
			if (errno == EINTR || errno == EAGAIN)
				continue;
			return -1;
		}
		if (got < len) {
			size_t k =
			    (size_t)n < len - got ? (size_t)n : len - got;

			memcpy(buf + got, tmp, k);
			got += k;
		}
	}
	if (len > 0)
		buf[got < len ? got : len - 1] = '\0';
	return (ssize_t)got;
}

/* ------------------------------------------------------------------ */
/* valgrind memcheck over one full dry-run session */

/*
 * Start dazaid under valgrind, like dz_start but with a longer readiness
 * wait: valgrind is slow to start. The log holds valgrind's report too.
 */
static int
start_valgrind(struct dz *d, const char *valgrind)
{
	const char   *argv[24];
	char	      fdarg[16], c = 0;
	struct pollfd pfd;
	int	      p[2], n = 0;
	ssize_t	      r = -1;

	dz_init(d, NULL);
	ck_assert_int_eq(pipe(p), 0);
	snprintf(fdarg, sizeof fdarg, "%d", p[1]);
	argv[n++] = valgrind;
	argv[n++] = "--error-exitcode=99";
	argv[n++] = "--leak-check=full";
	argv[n++] = "--errors-for-leak-kinds=definite,indirect";
	argv[n++] = "--show-leak-kinds=definite,indirect";
	argv[n++] = "--track-origins=yes";
	argv[n++] = "--child-silent-after-fork=yes";
	argv[n++] = dz_bin("dazaid");
	argv[n++] = "--socket";
	argv[n++] = d->sock;
	argv[n++] = "--ready-fd";
	argv[n++] = fdarg;
	/*
	 * valgrind 3.19 does not know memfd_secret(2) (syscall 447): it
	 * warns "unhandled syscall" and fails it with ENOSYS, and dazaid
	 * falls back to anonymous memory anyway. Say so up front: this run
	 * checks the heap and the rest of the daemon, not secretmem.
	 */
	argv[n++] = "--no-secretmem";
	/*
	 * valgrind makes its own system calls from inside the process it
	 * runs (its scheduler polls signals with rt_sigtimedwait, its exit
	 * path checks RLIMIT_CORE), so the seccomp allowlist would refuse
	 * them and valgrind would die of SIGSYS. This run checks memory
	 * errors; the sandbox suite checks confinement on the bare daemon.
	 */
	argv[n++] = "--no-sandbox";
	argv[n++] = "--grace";
	argv[n++] = "1";
	argv[n++] = "--verbose";
	argv[n] = NULL;
	d->pid = dz_spawn(argv, d->log, p[1]);
	close(p[1]);
	pfd.fd = p[0];
	pfd.events = POLLIN;
	if (poll(&pfd, 1, 60000) == 1)
		r = read(p[0], &c, 1);
	close(p[0]);
	return r == 1 && c == '\n' ? 0 : -1;
}

START_TEST(valgrind_session)
{
	struct dz d;
	char	  vg[PATH_MAX], line[400], log[65536];
	int	  hb, fd;

	if (dz_is_asan_build(dz_bin("dazaid"))) {
		dz_skip_na("valgrind_session: %s is an AddressSanitizer "
			   "build; valgrind cannot run it",
		    dz_bin("dazaid"));
		return;
	}
	if (!dz_which("valgrind", vg, sizeof vg)) {
		dz_skip("valgrind_session: valgrind is not installed");
		return;
	}
	ck_assert_msg(start_valgrind(&d, vg) == 0,
	    "not ready under "
	    "valgrind: %s",
	    dz_read_file(d.log, log, sizeof log));
	/* Heartbeat, pings, a refused second client, errors. */
	hb = dz_hello(d.sock);
	assert_ping(hb);
	assert_ping(hb);
	fd = dz_connect(d.sock);
	ck_assert_int_ge(fd, 0);
	ck_assert(dz_send(fd, "HELLO 1\n"));
	dz_expect(fd, "BUSY");
	close(fd);
	/* A control connection: STATUS, LOAD split in two, GET, WIPE. */
	fd = dz_connect(d.sock);
	ck_assert_int_ge(fd, 0);
	ck_assert(dz_send(fd, "STATUS\nLOAD 6\nsec"));
	ck_assert(dz_readline(fd, log, sizeof log, 20) != NULL);
	ck_assert(strncmp(log, "STATUS alive=1 ", 15) == 0);
	ck_assert(dz_send(fd, "ret"));
	ck_assert(dz_readline(fd, log, sizeof log, 20) != NULL);
	ck_assert_str_eq(log, "OK");
	ck_assert(dz_send(fd, "GET\n"));
	ck_assert(dz_readline(fd, log, sizeof log, 20) != NULL);
	ck_assert_str_eq(log, "SECRET 6");
	ck_assert(dz_readline(fd, log, 7, 20) != NULL);
	ck_assert_str_eq(log, "secret");
	ck_assert(dz_send(fd, "WIPE\nGET\nQUIT\n"));
	ck_assert(dz_readline(fd, log, sizeof log, 20) != NULL);
	ck_assert_str_eq(log, "OK");
	ck_assert(dz_readline(fd, log, sizeof log, 20) != NULL);
	ck_assert_str_eq(log, "ERR no secret");
	ck_assert(dz_readline(fd, log, sizeof log, 20) != NULL);
	ck_assert_str_eq(log, "BYE");
	close(fd);
	ck_assert(dz_send(hb, "BOGUS\n"));
	dz_expect(hb, "ERR unknown command");
	ck_assert(dz_send(hb, "CANCEL\n"));
	dz_expect(hb, "ERR no pending panic");
	assert_ping(hb);
	/* Loss opens the grace window; a reconnect aborts it. */
	close(hb);
	ck_assert(dz_log_wait(&d, "grace window", 20));
	hb = dz_hello(d.sock);
	ck_assert(dz_log_wait(&d, "pending panic aborted", 20));
	assert_ping(hb);
	/* An over-long line loses this heartbeat: grace, wipe, exit. */
	memset(line, 'A', sizeof line - 2);
	line[sizeof line - 2] = '\n';
	line[sizeof line - 1] = '\0';
	ck_assert(dz_send(hb, line));
	dz_expect(hb, "ERR line too long");
	ck_assert(dz_eof(hb, 20));
	close(hb);
	ck_assert_int_eq(dz_wait(&d, 60), 0);
	dz_read_file(d.log, log, sizeof log);
	ck_assert_msg(WIFEXITED(d.status) && WEXITSTATUS(d.status) == 0,
	    "dazaid under valgrind: status %d (99: memcheck errors)\n%s",
	    d.status, log);
	ck_assert_msg(strstr(log, "WOULD SIGKILL") != NULL, "%s", log);
	ck_assert_msg(strstr(log, "ERROR SUMMARY: 0 errors") != NULL, "%s",
	    log);
	dz_stop(&d);
}
END_TEST

/* ------------------------------------------------------------------ */
/* another uid, with the socket made world-accessible */

/*
 * Fork a child that becomes nobody, connects, says HELLO and reads until
 * EOF. Its exit status: 0 refused with nothing said back; 10 could not
 * drop privileges; 11 could not connect; 12 no EOF in time; 13 got
 * WELCOME; 14 got something else (BUSY, ERR).
 */
static int
intruder(const char *sock)
{
	char	hello[32], buf[256];
	pid_t	pid;
	ssize_t n;
	int	status, fd;

	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		if (setgroups(0, NULL) != 0 || setgid(NOBODY) != 0 ||
		    setuid(NOBODY) != 0 || getuid() != NOBODY ||
		    geteuid() != NOBODY)
			_exit(10);
		if ((fd = dz_connect(sock)) < 0)
			_exit(11);
		snprintf(hello, sizeof hello, "HELLO %d\n", (int)getpid());
		send_all(fd, hello, strlen(hello));
		n = read_to_eof(fd, buf, sizeof buf, 5.0);
		if (n < 0)
			_exit(12);
		if (n > 0 && strstr(buf, "WELCOME") != NULL)
			_exit(13);
		_exit(n > 0 ? 14 : 0);
	}
	ck_assert_int_eq(dz_waitpid(pid, &status, 15), 0);
	ck_assert_msg(WIFEXITED(status), "intruder status %d", status);
	return WEXITSTATUS(status);
}

START_TEST(other_uid_refused)
{
	static const char refused[] = "refused connection from uid 65534";
	struct dz	  d;
	char		  run[160];
	int		  hb;

	if (!dz_is_root()) {
		dz_skip("other_uid_refused: needs root to run a client "
			"as uid %d",
		    NOBODY);
		return;
	}
	ck_assert_int_eq(dz_start(&d, DRY), 0);
	/* Open the way to everyone: only the peer check stands. */
	snprintf(run, sizeof run, "%s/run", d.dir);
	ck_assert_int_eq(chmod(d.dir, 0711), 0);
	ck_assert_int_eq(chmod(run, 0711), 0);
	ck_assert_int_eq(chmod(d.sock, 0666), 0);

	/* With the slot free, a HELLO would be welcomed but for the check. */
	ck_assert_int_eq(intruder(d.sock), 0);
	ck_assert(dz_log_wait(&d, refused, 5));
	ck_assert(dz_log_has(&d, "only uid"));

	/* While the owner's heartbeat holds the slot. */
	hb = dz_hello(d.sock);
	assert_ping(hb);
	ck_assert_int_eq(intruder(d.sock), 0);
	ck_assert_int_eq(intruder(d.sock), 0);
	ck_assert(dz_log_wait(&d, "(pid", 5));
	assert_ping(hb);
	ck_assert_int_eq(dz_log_count(&d, refused), 3);
	ck_assert(dz_alive(&d));
	ck_assert(!dz_log_has(&d, "heartbeat lost"));
	ck_assert(!dz_log_has(&d, "secret wiped"));
	assert_ping(hb);
	assert_loss_panics(&d, hb);
	dz_stop(&d);
}
END_TEST

/* ------------------------------------------------------------------ */
/* floods */

START_TEST(connect_flood)
{
	enum { BATCH = 50 };
	struct dz d;
	int	  hb, base, after, i, j, connected = 0;
	int	  batch[BATCH];
	double	  t0, secs;

	ck_assert_int_eq(dz_start(&d, DRY), 0);
	hb = dz_hello(d.sock);
	assert_ping(hb);
	base = fd_count(d.pid);
	if (base < 0 && !dz_is_root())
		dz_skip("connect_flood: descriptor count: /proc/%d/fd "
			"of a non-dumpable daemon needs root",
		    (int)d.pid);
	else
		ck_assert_msg(base > 0, "/proc/%d/fd: %s", (int)d.pid,
		    strerror(errno));

	/*
	 * As fast as one process can: batches of connections opened (each
	 * accepted, checked, answered BUSY) and closed at once, many before
	 * the daemon has written its BUSY. The heartbeat must be answered
	 * throughout.
	 */
	t0 = dz_now();
	for (i = 0; i < FLOOD_CONNECTS; i += BATCH) {
		for (j = 0; j < BATCH; j++)
			if ((batch[j] = dz_connect(d.sock)) >= 0)
				connected++;
		for (j = 0; j < BATCH; j++)
			if (batch[j] >= 0)
				close(batch[j]);
		if ((i + BATCH) % 1000 == 0)
			assert_ping(hb);
	}
	secs = dz_now() - t0;
	ck_assert_int_eq(connected, FLOOD_CONNECTS);
	assert_ping(hb);
	ck_assert(dz_alive(&d));
	if (base > 0) {
		after = fd_count_settle(d.pid, base, 10);
		ck_assert_msg(after == base,
		    "descriptors: %d before the "
		    "flood, %d after",
		    base, after);
		printf("connect_flood: %d connections in %.2fs; daemon "
		       "descriptors %d before, %d after\n",
		    connected, secs, base, after);
	}
	ck_assert(!dz_log_has(&d, "secret wiped"));
	/* Losing the heartbeat still panics. */
	assert_loss_panics(&d, hb);
	dz_stop(&d);
}
END_TEST

/* Deterministic garbage for a worker (xorshift). */
static void
garbage(unsigned char *buf, size_t len, uint32_t seed)
{
	uint32_t x = seed | 1;
	size_t	 i;

	for (i = 0; i < len; i++) {
		x ^= x << 13;
		x ^= x >> 17;
		x ^= x << 5;
		buf[i] = (unsigned char)(x >> 11);
	}
}

/* Commands by the hundred, none of them a valid HELLO. */
static size_t
command_burst(char *buf, size_t len)
{
	static const char unit[] = "PING\nCANCEL\nQUIT\nHELLO 0\n"
				   "HELLO x\nBOGUS\nPING PING\n\n";
	size_t		  n = 0;

	while (n + sizeof unit - 1 < len) {
		memcpy(buf + n, unit, sizeof unit - 1);
		n += sizeof unit - 1;
	}
	return n;
}

/*
 * Wait for the daemon's first reply: an ERR line (then EOF too when
 * closing is expected) or PONG (a burst whose PING made it a control
 * connection) returns 0; BUSY and EOF returns 1; anything else -1.
 */
static int
read_reply(int fd, char *buf, size_t len, bool closing)
{
	if (dz_readline(fd, buf, len, 10) == NULL)
		return -1;
	if (strcmp(buf, "BUSY") == 0)
		return dz_eof(fd, 10) ? 1 : -1;
	if (strcmp(buf, "PONG") == 0 && !closing)
		return 0;
	if (strncmp(buf, "ERR ", 4) != 0)
		return -1;
	if (closing &&
	    (strcmp(buf, "ERR line too long") != 0 || !dz_eof(fd, 10)))
		return -1;
	return 0;
}

/* The payload of connection i of a kind, in buf; returns its length. */
static size_t
payload(unsigned char *buf, int kind, int i)
{
	size_t len;

	switch (kind) {
	case 0: /* one 64 KiB line */
		memset(buf, 'A', LONG_LINE);
		buf[LONG_LINE] = '\n';
		return LONG_LINE + 1;
	case 1: /* binary garbage: NULs, CRs, newlines, anything */
		len = 4096 + (size_t)i * 97 % 8192;
		garbage(buf, len, (uint32_t)i * 2654435761u + 7);
		return len;
	default: /* hundreds of commands in one write */
		return command_burst((char *)buf, 4096);
	}
}

/*
 * count connections of one kind (0 a 64 KiB line, 1 binary garbage, 2 a
 * burst of commands; -1 all three in turn).
 *
 * Without hangup, each waits for the daemon's answer, and a connection
 * answered BUSY (the predecessor not yet closed) is retried, so every
 * payload reaches the parser. With hangup, every other connection hangs
 * up without waiting, and BUSY is an answer like any other.
 *
 * Returns 0, or (as a worker's exit status) what went wrong.
 */
static int
data_worker(const char *sock, int kind, int count, bool hangup)
{
	static unsigned char buf[LONG_LINE + 1];
	char		     reply[256];
	size_t		     len;
	int		     i, k, fd, rc, tries;

	for (i = 0; i < count; i++) {
		k = kind >= 0 ? kind : i % 3;
		len = payload(buf, k, i);
		for (tries = 0; tries < 200; tries++) {
			if ((fd = connect_timed(sock, 10)) < 0) {
				fprintf(stderr, "data_flood: connect: %s\n",
				    strerror(errno));
				return 10;
			}
			send_all(fd, buf, len);
			rc = 0;
			if (!hangup || i % 2 == 0)
				rc =
				    read_reply(fd, reply, sizeof reply, k == 0);
			close(fd);
			if (rc < 0) {
				fprintf(stderr,
				    "data_flood: kind %d: bad "
				    "reply '%s'\n",
				    k, reply);
				return 11;
			}
			if (rc == 0 || hangup)
				break;
			usleep(5000);
		}
		if (tries == 200)
			return 12;
	}
	return 0;
}

START_TEST(data_flood)
{
	struct dz d;
	pid_t	  pids[DATA_WORKERS];
	char	  log[8192];
	long	  rss0, rss1;
	int	  hb, fd, base, after, i, status;
	double	  t0, secs;

	/*
	 * An AddressSanitizer build keeps freed memory in quarantine, which
	 * would count as growth here: without it, the same bound holds.
	 */
	if (dz_is_asan_build(dz_bin("dazaid")))
		setenv("ASAN_OPTIONS", "quarantine_size_mb=0", 1);
	ck_assert_int_eq(dz_start(&d, DRY), 0);
	/* Warm up every path once, so the baseline is fair. */
	fd = dz_hello(d.sock);
	assert_ping(fd);
	ck_assert(dz_send(fd, "QUIT\n"));
	dz_expect(fd, "BYE");
	close(fd);
	ck_assert_int_eq(data_worker(d.sock, -1, 6, false), 0);
	usleep(200000);
	rss0 = rss_kib(d.pid);
	ck_assert_int_gt(rss0, 0);
	base = fd_count(d.pid);
	if (base < 0 && !dz_is_root())
		dz_skip("data_flood: descriptor count: /proc/%d/fd of "
			"a non-dumpable daemon needs root",
		    (int)d.pid);

	/* One after the other, each waiting for its answer. */
	t0 = dz_now();
	ck_assert_int_eq(data_worker(d.sock, -1, DATA_WORKERS * DATA_CONNECTS,
			     false),
	    0);
	/* All at once, from three processes, half hanging up at once. */
	for (i = 0; i < DATA_WORKERS; i++) {
		pids[i] = fork();
		ck_assert_int_ge(pids[i], 0);
		if (pids[i] == 0)
			_exit(data_worker(d.sock, i, DATA_CONNECTS, true));
	}
	for (i = 0; i < DATA_WORKERS; i++) {
		ck_assert_int_eq(dz_waitpid(pids[i], &status, 100), 0);
		ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0,
		    "worker %d: status %d; dazaid log:\n%s", i, status,
		    dz_read_file(d.log, log, sizeof log));
	}
	secs = dz_now() - t0;
	ck_assert_msg(dz_alive(&d), "dazaid died in the flood");
	if (base > 0) {
		after = fd_count_settle(d.pid, base, 10);
		ck_assert_msg(after == base,
		    "descriptors: %d before, %d "
		    "after",
		    base, after);
	}
	rss1 = rss_kib(d.pid);
	printf("data_flood: %d connections (half one by one, half at once) "
	       "in %.2fs; daemon VmRSS %ld KiB before, %ld KiB after "
	       "(%+ld KiB)\n",
	    2 * DATA_WORKERS * DATA_CONNECTS, secs, rss0, rss1, rss1 - rss0);
	ck_assert_msg(rss1 - rss0 < RSS_SLACK_KIB,
	    "VmRSS grew from %ld to "
	    "%ld KiB",
	    rss0, rss1);
	ck_assert(!dz_log_has(&d, "secret wiped"));
	/* The next heartbeat is served, and still guards. */
	hb = dz_hello(d.sock);
	assert_ping(hb);
	assert_loss_panics(&d, hb);
	dz_stop(&d);
}
END_TEST

/*
 * Send, in one write as a pipelining client would, HELLO, npings PINGs
 * and, if quit, QUIT.
 */
static void
send_pipeline(int fd, bool hello, int npings, bool quit)
{
	static char req[16384];
	size_t	    n = 0;
	int	    i;

	ck_assert((size_t)npings * 5 + 64 < sizeof req);
	if (hello)
		n = (size_t)snprintf(req, sizeof req, "HELLO %d\n",
		    (int)getpid());
	for (i = 0; i < npings; i++, n += 5)
		memcpy(req + n, "PING\n", 5);
	if (quit) {
		memcpy(req + n, "QUIT\n", 5);
		n += 5;
	}
	req[n] = '\0';
	ck_assert(dz_send(fd, req));
}

/*
 * A live heartbeat that pipelines a thousand commands in one write and
 * only then reads: it is slow, not gone. Every reply must arrive, in
 * order, and nothing may panic. (A daemon that takes a full socket buffer
 * for a lost heartbeat fails here: 1000 small replies outgrow the
 * default send buffer of a UNIX socket.)
 */
START_TEST(pipelined_heartbeat)
{
	enum { NPING = 1000 };
	char	  buf[64];
	struct dz d;
	int	  fd, i;

	ck_assert_int_eq(dz_start(&d, DRY), 0);
	fd = dz_connect(d.sock);
	ck_assert_int_ge(fd, 0);
	send_pipeline(fd, true, NPING, true);
	usleep(500000);
	dz_expect(fd, "WELCOME");
	for (i = 0; i < NPING; i++) {
		ck_assert_msg(dz_readline(fd, buf, sizeof buf, 5) != NULL,
		    "reply %d of %d missing; dazaid %s", i + 1, NPING,
		    dz_alive(&d) ? "alive" : "gone");
		ck_assert_str_eq(buf, "PONG");
	}
	dz_expect(fd, "BYE");
	ck_assert(dz_eof(fd, 5));
	close(fd);
	ck_assert_msg(!dz_log_has(&d, "heartbeat lost"),
	    "a slow reader "
	    "was taken for a lost heartbeat");
	ck_assert(dz_alive(&d));
	fd = dz_hello(d.sock);
	assert_loss_panics(&d, fd);
	dz_stop(&d);
}
END_TEST

/*
 * A heartbeat stalled on its replies (the daemon has stopped reading from
 * it) that keeps sending is alive: the ping timeout must not fire while
 * new bytes arrive. Once it stops sending for good, it does.
 */
START_TEST(stalled_heartbeat_alive)
{
	static const char *const pt[] = { "--ping-timeout", "2", NULL };
	struct dz		 d;
	int			 fd, i, got;
	double			 t0;

	ck_assert_int_eq(dz_start(&d, pt), 0);
	fd = dz_connect(d.sock);
	ck_assert_int_ge(fd, 0);
	send_pipeline(fd, true, 1000, false);
	ck_assert(dz_log_wait(&d, "heartbeat connected", 5));
	/* 5 s of a PING every 0.5 s, nothing read: 2.5 ping timeouts. */
	for (i = 0; i < 10; i++) {
		usleep(500000);
		ck_assert(dz_send(fd, "PING\n"));
	}
	ck_assert_msg(!dz_log_has(&d, "heartbeat lost"),
	    "a stalled but "
	    "sending heartbeat was taken for lost");
	/* Now read everything: every reply arrives, in order. */
	dz_expect(fd, "WELCOME");
	for (got = 0; got < 1010; got++) {
		char buf[16];

		ck_assert_msg(dz_readline(fd, buf, sizeof buf, 5) != NULL,
		    "reply %d missing", got + 1);
		ck_assert_str_eq(buf, "PONG");
	}
	/* Silent from here: the ping timeout takes it for lost. */
	t0 = dz_now();
	ck_assert(dz_log_wait(&d, "no line within the ping timeout", 6));
	ck_assert_msg(dz_now() - t0 >= 1.5, "lost after %.2fs", dz_now() - t0);
	ck_assert_int_eq(dz_wait(&d, 10), 0);
	ck_assert(WIFEXITED(d.status) && WEXITSTATUS(d.status) == 0);
	ck_assert(dz_log_has(&d, "WOULD SIGKILL"));
	close(fd);
	dz_stop(&d);
}
END_TEST

/*
 * A heartbeat (WELCOME read) that pipelines its commands, ends them with
 * QUIT and closes without reading a reply stood down: the daemon reads on
 * after it can no longer answer, honours the QUIT, and does not panic.
 */
START_TEST(quit_unread_honoured)
{
	struct dz d;
	int	  fd;

	ck_assert_int_eq(dz_start(&d, DRY), 0);
	fd = dz_hello(d.sock);
	send_pipeline(fd, false, 1000, true);
	close(fd);
	ck_assert_msg(dz_log_wait(&d, "stood down (QUIT)", 5),
	    "the QUIT "
	    "behind unread replies was not honoured");
	usleep(200000);
	ck_assert(!dz_log_has(&d, "heartbeat lost"));
	ck_assert(!dz_log_has(&d, "secret wiped"));
	ck_assert(dz_alive(&d));
	/* And without QUIT, the same close is a loss. */
	fd = dz_hello(d.sock);
	send_pipeline(fd, false, 1000, false);
	usleep(200000);
	assert_loss_panics(&d, fd);
	dz_stop(&d);
}
END_TEST

/*
 * A HELLO whose client closed before the daemon could answer (it waited
 * in the listen backlog while the daemon was stopped, or the client gave
 * up) never made a heartbeat: its WELCOME cannot be delivered, and its
 * closing is no loss, armed or not, however many lines came with it.
 */
START_TEST(hello_unanswered_not_lost)
{
	struct dz d;
	int	  fd, round;

	ck_assert_int_eq(dz_start(&d, ARMED), 0);
	for (round = 0; round < 2; round++) {
		/* Stopped: the connection waits in the backlog. */
		kill(d.pid, SIGSTOP);
		fd = dz_connect(d.sock);
		ck_assert_int_ge(fd, 0);
		send_pipeline(fd, true, round * 100, false);
		close(fd);
		kill(d.pid, SIGCONT);
		ck_assert(dz_log_wait(&d, "left before WELCOME", 5));
		usleep(200000);
		ck_assert_msg(dz_alive(&d),
		    "a HELLO never answered was taken "
		    "for a lost heartbeat (round %d)",
		    round);
		ck_assert(!dz_log_has(&d, "heartbeat lost"));
	}
	/* A heartbeat that got its WELCOME is still lost by closing. */
	fd = dz_hello(d.sock);
	close(fd);
	ck_assert_int_eq(dz_wait(&d, 10), 0);
	ck_assert(WIFSIGNALED(d.status) && WTERMSIG(d.status) == SIGKILL);
	dz_stop(&d);
}
END_TEST

/* Replies waiting unread on fd, counted after the daemon settles. */
static int
unread_replies(int fd)
{
	char	buf[16384];
	ssize_t n;
	int	i, lines = 0;

	usleep(300000);
	n = recv(fd, buf, sizeof buf, MSG_PEEK | MSG_DONTWAIT);
	for (i = 0; i < n; i++)
		lines += buf[i] == '\n';
	return lines;
}

/*
 * A heartbeat that says QUIT but never reads BYE must not hold the one
 * slot for ever: after 5 s it is closed, without a panic, and the next
 * heartbeat is served. To make BYE the reply that finds the socket full,
 * first measure how many replies fill it (all replies are the same size
 * to the kernel's accounting), then send one PING fewer than that before
 * QUIT.
 */
START_TEST(bye_unread_evicted)
{
	static char buf[16384];
	struct dz   d;
	int	    fd, fill;
	double	    t0;

	ck_assert_int_eq(dz_start(&d, DRY), 0);
	fd = dz_connect(d.sock);
	ck_assert_int_ge(fd, 0);
	send_pipeline(fd, true, 2000, false);
	fill = unread_replies(fd);
	ck_assert_msg(fill > 2 && fill < 2001, "%d replies fill the socket",
	    fill);
	close(fd);
	ck_assert(dz_log_wait(&d, "heartbeat lost", 5));
	ck_assert(dz_log_wait(&d, "WOULD SIGKILL", 5));
	ck_assert_int_eq(dz_wait(&d, 10), 0);
	dz_stop(&d);

	ck_assert_int_eq(dz_start(&d, DRY), 0);
	fd = dz_connect(d.sock);
	ck_assert_int_ge(fd, 0);
	t0 = dz_now();
	send_pipeline(fd, true, fill - 1, true);
	ck_assert(dz_log_wait(&d, "stood down", 5));
	ck_assert_msg(unread_replies(fd) == fill,
	    "BYE was not the reply "
	    "that found the socket full");
	ck_assert_msg(dz_log_wait(&d, "BYE not read within 5s", 10),
	    "a stood-down client that does not read BYE keeps the slot");
	ck_assert_msg(dz_now() - t0 >= 4.5, "evicted after %.2fs",
	    dz_now() - t0);
	/* What was sent arrives, then EOF; BYE never left the daemon. */
	ck_assert_int_eq(read_to_eof(fd, buf, sizeof buf, 5),
	    8 + 5 * (fill - 1));
	ck_assert(strstr(buf, "BYE") == NULL);
	close(fd);
	ck_assert(!dz_log_has(&d, "heartbeat lost"));
	ck_assert(dz_alive(&d));
	fd = dz_hello(d.sock);
	assert_ping(fd);
	assert_loss_panics(&d, fd);
	dz_stop(&d);
}
END_TEST

/* ------------------------------------------------------------------ */
/* squatters: connections that never say HELLO */

/*
 * Hold a connection without HELLO; every interval seconds (0: never) send
 * chatter. Returns the seconds until the daemon closed it (-1: it did
 * not within 10 s).
 */
static double
squat(int fd, double interval)
{
	static const char *const chatter[] = { "BOGUS\n", "HEL", "LO\n",
		"CANCEL\n", "x" };
	struct pollfd		 pfd = { fd, POLLIN, 0 };
	double			 t0 = dz_now(), next = t0 + interval;
	char			 buf[256];
	ssize_t			 n;
	int			 k = 0, ms;

	for (;;) {
		if (dz_now() - t0 > 10)
			return -1;
		ms = interval > 0 ? (int)((next - dz_now()) * 1000) : 10000;
		if (poll(&pfd, 1, ms > 0 ? ms : 0) == 1) {
			n = read(fd, buf, sizeof buf);
			if (n == 0 || (n < 0 && errno == ECONNRESET))
				return dz_now() - t0;
			continue;
		}
		if (interval > 0 && dz_now() >= next) {
			send_all(fd, chatter[k % 5], strlen(chatter[k % 5]));
			k++;
			next += interval;
		}
	}
}

START_TEST(hello_deadline_squatters)
{
	struct dz d;
	double	  t;
	int	  sq, fd, hb;

	ck_assert_int_eq(dz_start(&d, DRY), 0);
	/*
	 * A silent squatter holds no heartbeat slot (a connection's first
	 * verb decides its kind): the real heartbeat is served meanwhile.
	 */
	sq = dz_connect(d.sock);
	ck_assert_int_ge(sq, 0);
	usleep(100000);
	hb = dz_hello(d.sock);
	assert_ping(hb);
	t = squat(sq, 0);
	close(sq);
	ck_assert_msg(t >= 4.5 && t < 8, "silent squatter closed after %.2fs",
	    t);
	ck_assert(dz_log_wait(&d, "no request within 5s", 2));
	assert_ping(hb);
	ck_assert(dz_send(hb, "QUIT\n"));
	dz_expect(hb, "BYE");
	close(hb);
	/* A second HELLO is turned away while the heartbeat is held. */
	hb = dz_hello(d.sock);
	fd = dz_connect(d.sock);
	ck_assert_int_ge(fd, 0);
	ck_assert(dz_send(fd, "HELLO 1\n"));
	dz_expect(fd, "BUSY");
	ck_assert(dz_eof(fd, 5));
	close(fd);
	ck_assert(dz_send(hb, "QUIT\n"));
	dz_expect(hb, "BYE");
	close(hb);

	/* A chatty one: lines that decide no kind (errors only) do not
	 * extend the deadline. */
	sq = dz_connect(d.sock);
	ck_assert_int_ge(sq, 0);
	t = squat(sq, 0.25);
	close(sq);
	ck_assert_msg(t >= 4.5 && t < 8, "chatty squatter closed after %.2fs",
	    t);
	ck_assert_int_eq(dz_log_count(&d, "no request within 5s"), 2);
	ck_assert(!dz_log_has(&d, "heartbeat lost"));
	hb = dz_hello(d.sock);
	assert_ping(hb);
	assert_loss_panics(&d, hb);
	dz_stop(&d);
}
END_TEST

/* ------------------------------------------------------------------ */
/* hostile things at the socket path and its directory */

/* What must not change about a path the daemon refused. */
struct snap {
	struct stat st;
	char	    link[PATH_MAX];
	char	    data[64];
	ssize_t	    len;
};

/* Record the path (not following a symlink). */
static void
snap_take(const char *path, struct snap *s)
{
	int fd;

	memset(s, 0, sizeof *s);
	ck_assert_msg(lstat(path, &s->st) == 0, "%s: %s", path,
	    strerror(errno));
	s->len = -1;
	if (S_ISLNK(s->st.st_mode))
		s->len = readlink(path, s->link, sizeof s->link - 1);
	else if (S_ISREG(s->st.st_mode) &&
	    (fd = open(path, O_RDONLY | O_CLOEXEC)) >= 0) {
		s->len = read(fd, s->data, sizeof s->data);
		close(fd);
	}
}

/* Assert the path is as recorded. */
static void
snap_same(const char *path, const struct snap *before)
{
	struct snap now_;

	snap_take(path, &now_);
	ck_assert_msg(now_.st.st_ino == before->st.st_ino &&
		now_.st.st_mode == before->st.st_mode &&
		now_.st.st_uid == before->st.st_uid &&
		now_.st.st_size == before->st.st_size &&
		now_.st.st_mtim.tv_sec == before->st.st_mtim.tv_sec &&
		now_.st.st_mtim.tv_nsec == before->st.st_mtim.tv_nsec,
	    "%s was changed", path);
	ck_assert_int_eq(now_.len, before->len);
	if (now_.len > 0)
		ck_assert(memcmp(now_.link, before->link, sizeof now_.link) ==
			0 &&
		    memcmp(now_.data, before->data, sizeof now_.data) == 0);
}

/*
 * Start dazaid at sock and expect it to refuse: exit 1, one "dazaid:"
 * line naming what and why, and checked (the path the message must name)
 * left exactly as it was.
 */
static void
assert_refused(const char *sock, const char *checked, const char *why)
{
	struct dz   d;
	struct snap before;
	char	    log[4096], *nl;

	snap_take(checked, &before);
	ck_assert_int_eq(dz_start_at(&d, sock, DRY), -1);
	dz_read_file(d.log, log, sizeof log);
	ck_assert_msg(WIFEXITED(d.status) && WEXITSTATUS(d.status) == 1,
	    "%s: status %d: %s", sock, d.status, log);
	nl = strchr(log, '\n');
	ck_assert_msg(strncmp(log, "dazaid: ", 8) == 0 && nl != NULL &&
		nl[1] == '\0',
	    "not one dazaid: line: %s", log);
	ck_assert_msg(strstr(log, checked) != NULL && strstr(log, why) != NULL,
	    "expected '%s' about %s: %s", why, checked, log);
	snap_same(checked, &before);
	dz_stop(&d);
}

START_TEST(socket_path_hostile)
{
	struct dz   live;
	struct snap tsnap;
	struct stat st;
	char	    dir[64], sock[128], target[128], inner[160];
	int	    hb;

	dz_tmpdir(dir, sizeof dir);
	snprintf(sock, sizeof sock, "%s/dazai.sock", dir);
	snprintf(target, sizeof target, "%s/elsewhere", dir);

	/* A dangling symlink: a careless bind(2) would create its target. */
	ck_assert_int_eq(symlink(target, sock), 0);
	assert_refused(sock, sock, "exists and is not a socket");
	ck_assert_int_eq(lstat(target, &st), -1);
	ck_assert_int_eq(unlink(sock), 0);

	/* A symlink to a file: neither link nor file is touched. */
	dz_write_file(target, "precious\n", 9);
	snap_take(target, &tsnap);
	ck_assert_int_eq(symlink(target, sock), 0);
	assert_refused(sock, sock, "exists and is not a socket");
	snap_same(target, &tsnap);
	ck_assert_int_eq(unlink(sock), 0);

	/* A symlink to a live daemon's socket: that daemon serves on. */
	ck_assert_int_eq(dz_start(&live, DRY), 0);
	ck_assert_int_eq(symlink(live.sock, sock), 0);
	assert_refused(sock, sock, "exists and is not a socket");
	ck_assert_int_eq(lstat(live.sock, &st), 0);
	ck_assert(S_ISSOCK(st.st_mode));
	hb = dz_hello(live.sock);
	assert_ping(hb);
	ck_assert_int_eq(unlink(sock), 0);

	/* A regular file. */
	ck_assert_int_eq(rename(target, sock), 0);
	assert_refused(sock, sock, "exists and is not a socket");
	ck_assert_int_eq(unlink(sock), 0);

	/* A directory, with something in it. */
	ck_assert_int_eq(mkdir(sock, 0700), 0);
	snprintf(inner, sizeof inner, "%s/keep", sock);
	dz_write_file(inner, "keep", 4);
	snap_take(inner, &tsnap);
	assert_refused(sock, sock, "exists and is not a socket");
	snap_same(inner, &tsnap);

	ck_assert(dz_alive(&live));
	assert_loss_panics(&live, hb);
	dz_stop(&live);
}
END_TEST

/* A fresh subdirectory of base with mode (chmod, past the umask). */
static void
make_dir(char *path, size_t len, const char *base, const char *name,
    mode_t mode)
{
	snprintf(path, len, "%s/%s", base, name);
	ck_assert_int_eq(mkdir(path, 0700), 0);
	ck_assert_int_eq(chmod(path, mode), 0);
}

START_TEST(socket_dir_hostile)
{
	static const struct {
		const char *name;
		mode_t	    mode;
	} open_modes[] = {
		{ "world", 0777 },
		{ "group", 0770 },
		{ "sticky", 01777 },
		{ "otherw", 0702 },
	};
	char   base[64], dir[128], sock[160], link[128];
	size_t i;

	dz_tmpdir(base, sizeof base);
	/* Writable by group or others, who could replace the socket. */
	for (i = 0; i < sizeof open_modes / sizeof open_modes[0]; i++) {
		make_dir(dir, sizeof dir, base, open_modes[i].name,
		    open_modes[i].mode);
		snprintf(sock, sizeof sock, "%s/dazai.sock", dir);
		assert_refused(sock, dir, "writable by group or others");
		ck_assert_int_eq(access(sock, F_OK), -1);
	}

	/* A symlink in place of the directory. */
	make_dir(dir, sizeof dir, base, "real", 0700);
	snprintf(link, sizeof link, "%s/link", base);
	ck_assert_int_eq(symlink(dir, link), 0);
	snprintf(sock, sizeof sock, "%s/dazai.sock", link);
	assert_refused(sock, link, "not a directory (a symlink, refused)");
	ck_assert_int_eq(access(sock, F_OK), -1);

	/* Someone else's directory (neither ours nor root's). */
	if (!dz_is_root()) {
		dz_skip("socket_dir_hostile: a directory owned by "
			"another uid needs root to make");
		return;
	}
	make_dir(dir, sizeof dir, base, "nobody", 0755);
	ck_assert_int_eq(chown(dir, NOBODY, NOBODY), 0);
	snprintf(sock, sizeof sock, "%s/dazai.sock", dir);
	assert_refused(sock, dir, "owned by uid 65534, neither us");
	ck_assert_int_eq(access(sock, F_OK), -1);
}
END_TEST

/* ------------------------------------------------------------------ */
/* hardening of the binaries, as readelf sees it */

/* The line of out that contains needle, copied into buf; NULL if none. */
static char *
line_with(const char *out, const char *needle, char *buf, size_t len)
{
	const char *p = strstr(out, needle), *s, *e;

	if (p == NULL)
		return NULL;
	for (s = p; s > out && s[-1] != '\n'; s--)
		;
	if ((e = strchr(p, '\n')) == NULL)
		e = p + strlen(p);
	snprintf(buf, len, "%.*s", (int)(e - s), s);
	return buf;
}

/* Does out name a fortified libc call (__*_chk other than the canary)? */
static bool
has_fortified(const char *out, char *name, size_t len)
{
	const char *p, *s;

	for (p = out; (p = strstr(p, "_chk")) != NULL; p += 4) {
		for (s = p; s > out && s[-1] != ' ' && s[-1] != '\n'; s--)
			;
		if (strncmp(s, "__", 2) != 0 ||
		    strncmp(s, "__stack_chk_fail", 16) == 0)
			continue;
		snprintf(name, len, "%.*s", (int)(p + 4 - s), s);
		return true;
	}
	return false;
}

/* Check one binary; the message names the binary and the property. */
static void
check_hardening(const char *readelf, const char *bin)
{
	static char out[4 << 20];
	const char *argv[] = { readelf, "-W", "-h", "-l", "-d", "--dyn-syms",
		bin, NULL };
	char	    line[512], fn[64];
	int	    st;

	st = dz_run(argv, out, sizeof out, 30);
	ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 0,
	    "readelf %s: status %d: %.500s", bin, st, out);
	ck_assert_msg(line_with(out, "Type:", line, sizeof line) != NULL &&
		strstr(line, "DYN") != NULL,
	    "%s: not PIE (%s)", bin, line);
	ck_assert_msg(line_with(out, "(FLAGS_1)", line, sizeof line) != NULL &&
		strstr(line, "PIE") != NULL,
	    "%s: no DF_1_PIE", bin);
	ck_assert_msg(strstr(out, "(BIND_NOW)") != NULL ||
		(line_with(out, "(FLAGS)", line, sizeof line) != NULL &&
		    strstr(line, "BIND_NOW") != NULL) ||
		(line_with(out, "(FLAGS_1)", line, sizeof line) != NULL &&
		    strstr(line, " NOW") != NULL),
	    "%s: no BIND_NOW", bin);
	ck_assert_msg(strstr(out, "GNU_RELRO") != NULL, "%s: no GNU_RELRO",
	    bin);
	ck_assert_msg(line_with(out, "GNU_STACK", line, sizeof line) != NULL,
	    "%s: no GNU_STACK header (executable stack)", bin);
	ck_assert_msg(strstr(line, " RW ") != NULL &&
		strstr(line, "RWE") == NULL,
	    "%s: executable stack: %s", bin, line);
	ck_assert_msg(strstr(out, "__stack_chk_fail") != NULL,
	    "%s: no stack protector (__stack_chk_fail)", bin);
	ck_assert_msg(has_fortified(out, fn, sizeof fn),
	    "%s: no fortified calls (__*_chk)", bin);
}

START_TEST(hardening)
{
	char readelf[PATH_MAX];

	if (!dz_which("readelf", readelf, sizeof readelf)) {
		dz_skip("hardening: readelf (binutils) is not "
			"installed");
		return;
	}
	check_hardening(readelf, dz_bin("dazaid"));
	check_hardening(readelf, dz_bin("dazai-heartbeat"));
}
END_TEST

Suite *
hostile_suite(void)
{
	Suite *s = suite_create("hostile");
	TCase *tc = tcase_create("hostile");

	/* Generous for the sanitizer build and valgrind; normally the
	 * whole suite takes about 20 s. */
	tcase_set_timeout(tc, 180);
	tcase_add_test(tc, hardening);
	tcase_add_test(tc, socket_path_hostile);
	tcase_add_test(tc, socket_dir_hostile);
	tcase_add_test(tc, other_uid_refused);
	tcase_add_test(tc, connect_flood);
	tcase_add_test(tc, data_flood);
	tcase_add_test(tc, pipelined_heartbeat);
	tcase_add_test(tc, bye_unread_evicted);
	tcase_add_test(tc, stalled_heartbeat_alive);
	tcase_add_test(tc, quit_unread_honoured);
	tcase_add_test(tc, hello_unanswered_not_lost);
	tcase_add_test(tc, hello_deadline_squatters);
	tcase_add_test(tc, valgrind_session);
	suite_add_tcase(s, tc);
	return s;
}
