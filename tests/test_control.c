/* SPDX-License-Identifier: ISC */
/*
 * Control connections against the real daemon: STATUS, LOAD, GET, WIPE,
 * PANIC, ARM, REGISTER with real processes (held as pidfds), lifetimes,
 * the connection limits, and the heartbeat slot beside them.
 */
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "helpers.h"

static const char *const DRY_EMPTY[] = { "--empty", NULL };
static const char *const ARMED_EMPTY[] = { "--arm", "--empty", NULL };

/* Where needle first appears in the daemon's log (-1: nowhere). */
static long
log_pos(const struct dz *d, const char *needle)
{
	static char buf[1 << 16];
	const char *p;

	if (dz_read_file(d->log, buf, sizeof buf)[0] == '\0')
		return -1;
	p = strstr(buf, needle);
	return p != NULL ? p - buf : -1;
}

/* ------------------------------------------------------------------ */

/*
 * STATUS: daZai-rs's four fields first, then ours; the state follows the
 * secret and the heartbeat.
 */
START_TEST(status_states)
{
	static const char want[] =
	    "STATUS alive=1 armed=0 grace=0 "
	    "registered=0 state=empty sessions=0 secret_bytes=0 protections=";
	struct dz   d;
	const char *s;
	int	    fd, hb;

	ck_assert_int_eq(dz_start(&d, DRY_EMPTY), 0);
	s = dz_status(&d);

	ck_assert_msg(strncmp(s, want, sizeof want - 1) == 0, "%s", s);
	ck_assert_str_eq(dz_field(s, "deadline"), "-");
	ck_assert_str_eq(dz_field(s, "expires"), "-");
	ck_assert_str_eq(dz_field(s, "reads"), "0");
	ck_assert(strstr(dz_field(s, "protections"), "locked") != NULL ||
	    strstr(dz_field(s, "protections"), "guard-pages") != NULL);
	fd = dz_ctl(&d);
	dz_load(fd, "abc", 3);
	s = dz_status(&d);
	ck_assert_str_eq(dz_field(s, "state"), "waiting");
	ck_assert_str_eq(dz_field(s, "secret_bytes"), "3");
	hb = dz_hello(d.sock);
	s = dz_status(&d);
	ck_assert_str_eq(dz_field(s, "state"), "guarding");
	ck_assert_str_eq(dz_field(s, "sessions"), "1");
	dz_get_expect(fd, "abc", 3);
	ck_assert_str_eq(dz_field(dz_status(&d), "reads"), "1");
	ck_assert_str_eq(dz_req(fd, "WIPE\n"), "OK");
	ck_assert_str_eq(dz_field(dz_status(&d), "state"), "empty");
	/* Control verbs never touch the heartbeat: QUIT closes, no panic. */
	ck_assert_str_eq(dz_req(fd, "QUIT\n"), "BYE");
	ck_assert(dz_eof(fd, 5));
	close(fd);
	ck_assert(dz_send(hb, "PING\n"));
	dz_expect(hb, "PONG");
	ck_assert(dz_alive(&d));
	ck_assert(dz_send(hb, "QUIT\n"));
	dz_expect(hb, "BYE");
	close(hb);
	dz_stop(&d);
}
END_TEST

/* Every byte value, split across writes, pipelined with requests. */
START_TEST(load_get_binary)
{
	struct dz     d;
	unsigned char secret[600];
	char	      first[512], unknown[96];
	size_t	      i;
	int	      fd;

	for (i = 0; i < sizeof secret; i++)
		secret[i] = (unsigned char)(i * 7 + (i >> 8));
	memcpy(secret + 10, "\nSTATUS\nGET\n", 12); /* lines inside */
	ck_assert_int_eq(dz_start(&d, DRY_EMPTY), 0);
	fd = dz_ctl(&d);
	/* The line and the first bytes in one write, the rest in pieces. */
	snprintf(first, sizeof first, "PING\nLOAD %zu\n", sizeof secret);
	ck_assert(dz_send(fd, first));
	dz_send_bytes(fd, secret, 5);
	usleep(50000);
	dz_send_bytes(fd, secret + 5, 300);
	usleep(50000);
	dz_send_bytes(fd, secret + 305, sizeof secret - 305);
	ck_assert(dz_send(fd, "STATUS\n"));
	dz_expect(fd, "PONG");
	dz_expect(fd, "OK");
	ck_assert(dz_readline(fd, first, sizeof first, 5) != NULL);
	ck_assert(strncmp(first, "STATUS alive=1 ", 15) == 0);
	dz_get_expect(fd, secret, sizeof secret);
	/* A second GET, and one from another connection. */
	dz_get_expect(fd, secret, sizeof secret);
	close(fd);
	fd = dz_ctl(&d);
	dz_get_expect(fd, secret, sizeof secret);
	/* A new LOAD replaces it whole. */
	dz_load(fd, "xy", 2);
	dz_get_expect(fd, "xy", 2);
	close(fd);
	/* Never a secret byte in the log; the peer named. */
	ck_assert(!dz_log_has(&d, "\nSTATUS\nGET"));
	snprintf(first, sizeof first, "LOAD of 600 bytes from pid %d (",
	    (int)getpid());
	ck_assert_msg(dz_log_has(&d, first), "no '%s' in the log", first);
	/* Its executable, or under Landlock (which refuses /proc/PID/exe
	 * of a process outside the sandbox) a clear "unknown". */
	snprintf(first, sizeof first, "GET from pid %d (/", (int)getpid());
	snprintf(unknown, sizeof unknown,
	    "GET from pid %d (executable "
	    "unknown: confined, ",
	    (int)getpid());
	ck_assert_msg(dz_log_has(&d, first) || dz_log_has(&d, unknown),
	    "neither '%s' nor '%s' in the log", first, unknown);
	dz_stop(&d);
}
END_TEST

/*
 * A secret larger than the buffer's first pages (it grows), written back
 * to a reader that takes it slowly (partial writes resume).
 */
START_TEST(load_get_large)
{
	enum { BIG = 3 * 1024 * 1024 + 17 };
	struct dz      d;
	unsigned char *secret = malloc(BIG), *got = malloc(BIG);
	char	       line[64];
	size_t	       i, off;
	ssize_t	       n;
	int	       fd;

	ck_assert(secret != NULL && got != NULL);
	for (i = 0; i < BIG; i++)
		secret[i] = (unsigned char)(i ^ (i >> 11));
	ck_assert_int_eq(dz_start(&d, DRY_EMPTY), 0);
	fd = dz_ctl(&d);
	dz_load(fd, secret, BIG);
	ck_assert(dz_send(fd, "GET\n"));
	ck_assert(dz_readline(fd, line, sizeof line, 10) != NULL);
	snprintf((char *)got, 64, "SECRET %d", BIG);
	ck_assert_str_eq(line, (char *)got);
	for (off = 0; off < BIG; off += (size_t)n) {
		struct pollfd pfd = { fd, POLLIN, 0 };

		if (off < 256 * 1024)
			usleep(2000); /* slow at first: the socket fills */
		ck_assert(poll(&pfd, 1, 10000) == 1);
		n = read(fd, got + off, BIG - off < 4096 ? BIG - off : 4096);
		ck_assert_int_gt(n, 0);
	}
	ck_assert(memcmp(got, secret, BIG) == 0);
	ck_assert_str_eq(dz_req(fd, "PING\n"), "PONG");
	close(fd);
	free(secret);
	free(got);
	dz_stop(&d);
}
END_TEST

/* Refused LOADs keep the old secret; a half LOAD leaves nothing. */
START_TEST(load_refused)
{
	const char *const args[] = { "--empty", "--secret-max", "16", NULL };
	struct dz	  d;
	int		  fd, fd2;

	ck_assert_int_eq(dz_start(&d, args), 0);
	fd = dz_ctl(&d);
	dz_load(fd, "old", 3);
	ck_assert_str_eq(dz_req(fd, "LOAD 0\n"), "ERR empty secret");
	ck_assert(dz_eof(fd, 5));
	close(fd);
	fd = dz_ctl(&d);
	ck_assert(dz_send(fd, "LOAD 17\n0123456789abcdefg"));
	dz_expect(fd, "ERR larger than secret_max");
	ck_assert(dz_eof(fd, 5)); /* the bytes are never requests */
	close(fd);
	fd = dz_ctl(&d);
	ck_assert(dz_send(fd, "LOAD -3\nGET\n"));
	dz_expect(fd, "ERR bad length");
	ck_assert(dz_eof(fd, 5));
	close(fd);
	fd = dz_ctl(&d);
	dz_get_expect(fd, "old", 3);
	/* A LOAD while another is under way. */
	ck_assert(dz_send(fd, "LOAD 10\nhalf"));
	ck_assert(dz_status_wait(&d, "state", "empty", 5));
	fd2 = dz_ctl(&d);
	ck_assert_str_eq(dz_req(fd2, "LOAD 2\n"),
	    "ERR another LOAD is in "
	    "progress");
	close(fd2);
	fd2 = dz_ctl(&d);
	ck_assert_str_eq(dz_req(fd2, "GET\n"), "ERR no secret");
	/* The peer gives up mid-way: the bytes read are wiped, empty. */
	close(fd);
	ck_assert(dz_log_wait(&d,
	    "failed (the peer closed before sending "
	    "every byte); the bytes read were wiped",
	    5));
	ck_assert_str_eq(dz_req(fd2, "GET\n"), "ERR no secret");
	ck_assert_str_eq(dz_field(dz_status(&d), "secret_bytes"), "0");
	/* And a LOAD that follows works. */
	dz_load(fd2, "new", 3);
	dz_get_expect(fd2, "new", 3);
	close(fd2);
	dz_stop(&d);
}
END_TEST

/*
 * The secret goes away under a LOAD or GET in progress (a WIPE from
 * another connection): the LOAD is answered ERR and its connection reads
 * nothing more; the GET is cut short, its reader sees fewer bytes than
 * announced and never other bytes.
 */
START_TEST(wipe_cuts_load_and_get)
{
	enum { BIG = 2 * 1024 * 1024 };
	struct dz      d;
	unsigned char *secret = malloc(BIG), *got = malloc(BIG);
	char	       line[64];
	size_t	       i, off;
	ssize_t	       n;
	int	       a, b;

	ck_assert(secret != NULL && got != NULL);
	ck_assert_int_eq(dz_start(&d, DRY_EMPTY), 0);
	a = dz_ctl(&d);
	ck_assert(dz_send(a, "LOAD 10\nhalf"));
	ck_assert(dz_status_wait(&d, "state", "empty", 5));
	b = dz_ctl(&d);
	ck_assert_str_eq(dz_req(b, "WIPE\n"), "OK");
	dz_expect(a, "ERR secret wiped");
	/* The rest of its bytes, a request among them, are never read. */
	ck_assert(dz_send(a, "\nSTATUS\n") || true);
	ck_assert(dz_eof(a, 5));
	close(a);

	for (i = 0; i < BIG; i++)
		secret[i] = (unsigned char)(i * 31 + (i >> 9));
	dz_load(b, secret, BIG);
	a = dz_ctl(&d);
	ck_assert(dz_send(a, "GET\n"));
	ck_assert(dz_readline(a, line, sizeof line, 10) != NULL);
	ck_assert_str_eq(line, "SECRET 2097152");
	ck_assert(dz_read_exact(a, got, 4096, 10));
	ck_assert_str_eq(dz_req(b, "WIPE\n"), "OK");
	for (off = 4096; off < BIG; off += (size_t)n) {
		struct pollfd pfd = { a, POLLIN, 0 };

		ck_assert(poll(&pfd, 1, 10000) == 1);
		if ((n = read(a, got + off, BIG - off)) <= 0)
			break;
	}
	ck_assert_msg(off < BIG, "the whole secret arrived after WIPE");
	ck_assert(memcmp(got, secret, off) == 0);
	close(a);
	ck_assert_str_eq(dz_req(b, "GET\n"), "ERR no secret");
	close(b);
	free(secret);
	free(got);
	dz_stop(&d);
}
END_TEST

/* --no-get: loaded, guarded, never handed out. */
START_TEST(no_get)
{
	const char *const args[] = { "--empty", "--no-get", NULL };
	struct dz	  d;
	int		  fd;

	ck_assert_int_eq(dz_start(&d, args), 0);
	fd = dz_ctl(&d);
	dz_load(fd, "secret", 6);
	ck_assert_str_eq(dz_req(fd, "GET\n"), "ERR get disabled");
	ck_assert_str_eq(dz_field(dz_status(&d), "secret_bytes"), "6");
	close(fd);
	dz_stop(&d);
}
END_TEST

/* A daemon started with a secret (not --empty) serves it too. */
START_TEST(get_started_secret)
{
	struct dz   d;
	char	    path[128];
	const char *args[] = { "--secret-file", path, NULL };
	int	    fd;

	dz_init(&d, NULL);
	snprintf(path, sizeof path, "%s/secret", d.dir);
	dz_write_file(path, "from a file\n", 12);
	ck_assert_int_eq(dz_start(&d, args), 0);
	fd = dz_ctl(&d);
	dz_get_expect(fd, "from a file\n", 12);
	ck_assert_str_eq(dz_field(dz_status(&d), "state"), "waiting");
	close(fd);
	dz_stop(&d);
}
END_TEST

/* 16 control connections at once; the 17th gets BUSY; HELLO still works. */
START_TEST(control_limit)
{
	struct dz d;
	int	  fds[16], fd, hb, i;

	ck_assert_int_eq(dz_start(&d, DRY_EMPTY), 0);
	for (i = 0; i < 16; i++) {
		fds[i] = dz_ctl(&d);
		ck_assert_str_eq(dz_req(fds[i], "PING\n"), "PONG");
	}
	fd = dz_ctl(&d);
	ck_assert_str_eq(dz_req(fd, "STATUS\n"), "BUSY");
	ck_assert(dz_eof(fd, 5));
	close(fd);
	/* They never hold the heartbeat slot. */
	hb = dz_hello(d.sock);
	close(fds[3]);
	/* One closed: room for another (its close may need a moment). */
	for (i = 0; i < 100; i++) {
		fd = dz_ctl(&d);
		if (strcmp(dz_req(fd, "PING\n"), "PONG") == 0)
			break;
		close(fd);
		usleep(20000);
	}
	ck_assert_int_lt(i, 100);
	close(fd);
	for (i = 0; i < 16; i++)
		if (i != 3)
			close(fds[i]);
	/* None of them was a heartbeat: only this one's loss panics. */
	ck_assert(dz_alive(&d));
	ck_assert(!dz_log_has(&d, "heartbeat lost"));
	close(hb);
	ck_assert_int_eq(dz_wait(&d, 10), 0);
	ck_assert(WIFEXITED(d.status) && WEXITSTATUS(d.status) == 0);
	ck_assert(dz_log_has(&d, "heartbeat lost"));
}
END_TEST

/* A control connection idle for 30 s is closed; no panic. */
START_TEST(control_idle)
{
	struct dz d;
	double	  t0;
	int	  fd;

	ck_assert_int_eq(dz_start(&d, DRY_EMPTY), 0);
	fd = dz_ctl(&d);
	ck_assert_str_eq(dz_req(fd, "PING\n"), "PONG");
	t0 = dz_now();
	ck_assert(dz_eof(fd, 45));
	ck_assert_msg(dz_now() - t0 >= 29, "closed after %.1fs", dz_now() - t0);
	close(fd);
	ck_assert(dz_log_wait(&d, "closed: idle for 30s", 5));
	ck_assert(dz_alive(&d));
	dz_stop(&d);
}
END_TEST

/* ARM: once, never back; STATUS and the panic follow it. */
START_TEST(arm_verb)
{
	struct dz d;
	pid_t	  child = dz_sleeper();
	int	  fd, st;

	ck_assert_int_eq(dz_start(&d, DRY_EMPTY), 0);
	fd = dz_ctl(&d);
	ck_assert_str_eq(dz_req(fd, "ARM\n"), "OK");
	ck_assert_str_eq(dz_req(fd, "ARM\n"), "ALREADY_ARMED");
	ck_assert_str_eq(dz_field(dz_status(&d), "armed"), "1");
	ck_assert_str_eq(dz_reg(&d, child), "OK");
	ck_assert(dz_log_has(&d, "ARM from pid"));
	/* Now a panic is real: the registered child, then the daemon. */
	ck_assert_str_eq(dz_req(fd, "PANIC\n"), "OK");
	ck_assert_int_eq(dz_wait(&d, 10), 0);
	ck_assert_msg(WIFSIGNALED(d.status) && WTERMSIG(d.status) == SIGKILL,
	    "status %d", d.status);
	ck_assert_int_eq(dz_waitpid(child, &st, 5), 0);
	ck_assert(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL);
	close(fd);
}
END_TEST

/* REGISTER: bad pids, duplicates, the 33rd. */
START_TEST(register_limits)
{
	struct dz d;
	pid_t	  kids[33], dead;
	int	  i, st, fd;

	ck_assert_int_eq(dz_start(&d, DRY_EMPTY), 0);
	ck_assert_str_eq(dz_reg(&d, 0), "ERROR invalid pid");
	ck_assert_str_eq(dz_reg(&d, -1), "ERROR invalid pid");
	ck_assert_str_eq(dz_reg(&d, 99999999999L), "ERROR invalid pid");
	ck_assert_str_eq(dz_reg(&d, 4194305), "ERROR invalid pid");
	ck_assert_str_eq(dz_reg(&d, d.pid), "ERROR invalid pid");
	dead = fork();
	ck_assert_int_ge(dead, 0);
	if (dead == 0)
		_exit(0);
	ck_assert_int_eq(dz_waitpid(dead, &st, 5), 0);
	ck_assert_str_eq(dz_reg(&d, dead), "ERROR invalid pid");
	fd = dz_ctl(&d);
	ck_assert_str_eq(dz_req(fd, "REGISTER\n"), "ERROR invalid pid");
	ck_assert_str_eq(dz_req(fd, "REGISTER pid=\n"), "ERROR invalid pid");
	ck_assert_str_eq(dz_req(fd, "UNREGISTER pid=0\n"), "ERROR invalid pid");
	for (i = 0; i < 33; i++)
		kids[i] = dz_sleeper();
	for (i = 0; i < 32; i++)
		ck_assert_str_eq(dz_reg(&d, kids[i]), "OK");
	ck_assert_str_eq(dz_reg(&d, kids[0]), "OK"); /* already held */
	ck_assert_str_eq(dz_reg(&d, kids[32]), "BUSY");
	ck_assert_str_eq(dz_field(dz_status(&d), "registered"), "32");
	/* UNREGISTER frees a place. */
	{
		char line[64];

		snprintf(line, sizeof line, "UNREGISTER pid=%d\n",
		    (int)kids[5]);
		ck_assert_str_eq(dz_req(fd, line), "OK");
	}
	ck_assert_str_eq(dz_reg(&d, kids[32]), "OK");
	ck_assert_str_eq(dz_field(dz_status(&d), "registered"), "32");
	close(fd);
	dz_stop(&d);
	for (i = 0; i < 33; i++) {
		kill(kids[i], SIGKILL);
		dz_waitpid(kids[i], &st, 5);
	}
}
END_TEST

/* A registration ends when its process exits (the pidfd says so). */
START_TEST(register_ends_on_exit)
{
	struct dz d;
	pid_t	  child = dz_sleeper();
	int	  st;

	ck_assert_int_eq(dz_start(&d, DRY_EMPTY), 0);
	ck_assert_str_eq(dz_reg(&d, child), "OK");
	ck_assert_str_eq(dz_field(dz_status(&d), "registered"), "1");
	kill(child, SIGTERM);
	ck_assert_int_eq(dz_waitpid(child, &st, 5), 0);
	ck_assert(dz_status_wait(&d, "registered", "0", 5));
	ck_assert(dz_log_has(&d, "exited; registration ended"));
	dz_stop(&d);
}
END_TEST

/*
 * Start a daemon (armed or not, --empty), register a sleeping child, and
 * panic it with how ("PANIC", "WIPE", or a signal number as text).
 * Returns the child; the daemon has been waited for, except after WIPE.
 */
static pid_t
panic_with_child(struct dz *d, bool armed, const char *how)
{
	pid_t child = dz_sleeper();
	int   fd;

	ck_assert_int_eq(dz_start(d, armed ? ARMED_EMPTY : DRY_EMPTY), 0);
	fd = dz_ctl(d);
	dz_load(fd, "s3cret", 6);
	ck_assert_str_eq(dz_reg(d, child), "OK");
	if (strcmp(how, "PANIC") == 0 || strcmp(how, "WIPE") == 0) {
		char line[16];

		snprintf(line, sizeof line, "%s\n", how);
		ck_assert_str_eq(dz_req(fd, line), "OK");
	} else
		kill(d->pid, atoi(how));
	close(fd);
	if (strcmp(how, "WIPE") != 0)
		ck_assert_int_eq(dz_wait(d, 10), 0);
	return child;
}

/* Armed: each path kills the registered child first, then dies. */
static void
assert_armed_kills(const char *how, int sig)
{
	struct dz d;
	char	  want[64];
	pid_t	  child;
	int	  st;

	child = panic_with_child(&d, true, how);
	ck_assert_msg(WIFSIGNALED(d.status) && WTERMSIG(d.status) == sig,
	    "%s: daemon status %d", how, d.status);
	ck_assert_int_eq(dz_waitpid(child, &st, 5), 0);
	ck_assert_msg(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL,
	    "%s: child status %d", how, st);
	if (strcmp(how, "PANIC") == 0) {
		/*
		 * In SPEC's order: the key zeroed (the secret already
		 * unrecoverable), registered processes killed, the whole
		 * buffer wiped, then death.
		 */
		snprintf(want, sizeof want, "SIGKILL pid %d (registered)",
		    (int)child);
		ck_assert_int_ge(log_pos(&d, want), 0);
		ck_assert_int_lt(log_pos(&d, want),
		    log_pos(&d, "secret wiped"));
	}
}

/* Dry-run: the same paths only name the child, which lives on. */
static void
assert_dry_names(const char *how)
{
	struct dz d;
	char	  want[64];
	pid_t	  child;
	int	  st;

	child = panic_with_child(&d, false, how);
	snprintf(want, sizeof want, "WOULD SIGKILL pid %d", (int)child);
	ck_assert_msg(dz_log_has(&d, want), "%s: no '%s'", how, want);
	ck_assert_msg(dz_child_running(child, &st), "%s: the child died", how);
	kill(child, SIGKILL);
	dz_waitpid(child, &st, 5);
}

START_TEST(panic_armed_kills_registered)
{
	assert_armed_kills("PANIC", SIGKILL);
}
END_TEST

START_TEST(sigusr2_armed_kills_registered)
{
	char sig[8];

	snprintf(sig, sizeof sig, "%d", SIGUSR2);
	assert_armed_kills(sig, SIGKILL);
}
END_TEST

START_TEST(fatal_signal_armed_kills_registered)
{
	char sig[8];

	snprintf(sig, sizeof sig, "%d", SIGABRT);
	assert_armed_kills(sig, SIGABRT);
}
END_TEST

START_TEST(panics_dry_run_name_registered)
{
	char sig[8];

	assert_dry_names("PANIC");
	snprintf(sig, sizeof sig, "%d", SIGUSR1);
	assert_dry_names(sig);
	snprintf(sig, sizeof sig, "%d", SIGUSR2);
	assert_dry_names(sig);
}
END_TEST

/* WIPE: the secret goes, the daemon stays; registered killed if armed. */
START_TEST(wipe_both_modes)
{
	struct dz d;
	pid_t	  child;
	char	  want[64];
	int	  st, fd;

	child = panic_with_child(&d, true, "WIPE");
	ck_assert_int_eq(dz_waitpid(child, &st, 5), 0);
	ck_assert(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL);
	ck_assert(dz_alive(&d));
	fd = dz_ctl(&d);
	ck_assert_str_eq(dz_req(fd, "GET\n"), "ERR no secret");
	ck_assert_str_eq(dz_field(dz_status(&d), "state"), "empty");
	close(fd);
	dz_stop(&d);

	child = panic_with_child(&d, false, "WIPE");
	snprintf(want, sizeof want, "WOULD SIGKILL pid %d", (int)child);
	ck_assert(dz_log_wait(&d, want, 5));
	ck_assert(dz_child_running(child, &st));
	ck_assert(dz_alive(&d));
	ck_assert_str_eq(dz_field(dz_status(&d), "registered"), "1");
	dz_stop(&d);
	kill(child, SIGKILL);
	dz_waitpid(child, &st, 5);
}
END_TEST

/*
 * A recycled pid is never signalled: the registered process exits while
 * the daemon is stopped, another process is given the same pid, and an
 * armed hard panic (run in the handler before the loop could notice the
 * exit) kills nothing but the daemon. Needs root (ns_last_pid).
 */
START_TEST(recycled_pid_spared)
{
	struct dz d;
	pid_t	  a, b = -1;
	char	  buf[32];
	int	  st, tries, fd;

	if (!dz_is_root()) {
		dz_skip("recycled_pid_spared: choosing a pid "
			"(/proc/sys/kernel/ns_last_pid) needs root");
		return;
	}
	ck_assert_int_eq(dz_start(&d, ARMED_EMPTY), 0);
	a = dz_sleeper();
	ck_assert_str_eq(dz_reg(&d, a), "OK");
	ck_assert_int_eq(kill(d.pid, SIGSTOP), 0);
	kill(a, SIGKILL);
	ck_assert_int_eq(dz_waitpid(a, &st, 5), 0);
	for (tries = 0; tries < 50; tries++) {
		fd = open("/proc/sys/kernel/ns_last_pid", O_WRONLY);
		ck_assert_int_ge(fd, 0);
		snprintf(buf, sizeof buf, "%d", (int)a - 1);
		ck_assert(write(fd, buf, strlen(buf)) > 0);
		close(fd);
		b = dz_sleeper();
		if (b == a)
			break;
		kill(b, SIGKILL);
		dz_waitpid(b, &st, 5);
	}
	if (b != a) {
		kill(d.pid, SIGCONT);
		dz_stop(&d);
		dz_skip("recycled_pid_spared: pid %d not reused in 50 tries",
		    (int)a);
		return;
	}
	/* The panic is pending when the daemon resumes: it runs first. */
	kill(d.pid, SIGUSR2);
	kill(d.pid, SIGCONT);
	ck_assert_int_eq(dz_wait(&d, 10), 0);
	ck_assert(WIFSIGNALED(d.status) && WTERMSIG(d.status) == SIGKILL);
	ck_assert_msg(dz_child_running(b, &st),
	    "the process that reused pid "
	    "%d was killed",
	    (int)a);
	kill(b, SIGKILL);
	dz_waitpid(b, &st, 5);
}
END_TEST

/* --empty: a heartbeat loss still ends the daemon (dry-run: exit 0). */
START_TEST(empty_panics)
{
	struct dz d;
	int	  hb, fd;

	ck_assert_int_eq(dz_start(&d, DRY_EMPTY), 0);
	fd = dz_ctl(&d);
	ck_assert_str_eq(dz_req(fd, "GET\n"), "ERR no secret");
	close(fd);
	hb = dz_hello(d.sock);
	close(hb);
	ck_assert_int_eq(dz_wait(&d, 10), 0);
	ck_assert(WIFEXITED(d.status) && WEXITSTATUS(d.status) == 0);
	ck_assert(dz_log_has(&d, "WOULD SIGKILL"));
}
END_TEST

/* --empty with a secret source in one layer is a usage error. */
START_TEST(empty_conflict)
{
	const char *argv[] = { dz_bin("dazaid"), "--empty", "--secret-fd", "0",
		"--check-config", NULL };
	char	    out[1024];
	int	    st;

	st = dz_run(argv, out, sizeof out, 10);
	ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 2, "status %d: %s",
	    st, out);
	ck_assert(strstr(out, "mutually exclusive") != NULL);
}
END_TEST

/* max_reads = 2: two whole reads, then gone; the daemon stays up. */
START_TEST(life_max_reads)
{
	const char *const args[] = { "--empty", "--max-reads", "2", NULL };
	struct dz	  d;
	int		  fd;

	ck_assert_int_eq(dz_start(&d, args), 0);
	fd = dz_ctl(&d);
	dz_load(fd, "burn", 4);
	dz_get_expect(fd, "burn", 4);
	ck_assert_str_eq(dz_field(dz_status(&d), "reads"), "1");
	dz_get_expect(fd, "burn", 4);
	ck_assert_str_eq(dz_req(fd, "GET\n"), "ERR no secret");
	ck_assert(dz_log_has(&d, "expired (max_reads reached)"));
	ck_assert_str_eq(dz_field(dz_status(&d), "state"), "empty");
	/* A new LOAD starts the count afresh. */
	dz_load(fd, "again", 5);
	dz_get_expect(fd, "again", 5);
	ck_assert(dz_alive(&d));
	close(fd);
	dz_stop(&d);
}
END_TEST

/*
 * max_lifetime: wiped when it is reached; armed, the registered process
 * lives on (expiry forgets the secret, it kills nobody).
 */
START_TEST(life_max_lifetime_armed)
{
	const char *const args[] = { "--arm", "--empty", "--max-lifetime", "1",
		NULL };
	struct dz	  d;
	pid_t		  child = dz_sleeper();
	const char	 *s;
	int		  fd, st;

	ck_assert_int_eq(dz_start(&d, args), 0);
	fd = dz_ctl(&d);
	dz_load(fd, "short", 5);
	ck_assert_str_eq(dz_reg(&d, child), "OK");
	s = dz_status(&d);
	ck_assert_msg(strcmp(dz_field(s, "expires"), "1") == 0 ||
		strcmp(dz_field(s, "expires"), "0") == 0,
	    "%s", s);
	ck_assert(dz_log_wait(&d, "expired (max_lifetime reached)", 10));
	ck_assert_str_eq(dz_req(fd, "GET\n"), "ERR no secret");
	ck_assert(dz_child_running(child, &st));
	ck_assert(!dz_log_has(&d, "SIGKILL pid"));
	kill(child, SIGKILL);
	ck_assert_int_eq(dz_waitpid(child, &st, 5), 0);
	ck_assert(dz_alive(&d));
	ck_assert_str_eq(dz_field(dz_status(&d), "expires"), "-");
	close(fd);
	dz_stop(&d);
}
END_TEST

/* idle_timeout: GETs keep it; silence wipes it, naming nobody. */
START_TEST(life_idle_timeout_dry)
{
	const char *const args[] = { "--empty", "--idle-timeout", "3", NULL };
	struct dz	  d;
	pid_t		  child = dz_sleeper();
	char		  want[64];
	double		  t0;
	int		  fd, st;

	ck_assert_int_eq(dz_start(&d, args), 0);
	fd = dz_ctl(&d);
	dz_load(fd, "idle", 4);
	ck_assert_str_eq(dz_reg(&d, child), "OK");
	for (t0 = dz_now(); dz_now() - t0 < 4;) {
		dz_get_expect(fd, "idle", 4);
		usleep(100000);
	}
	ck_assert(!dz_log_has(&d, "expired"));
	ck_assert(dz_log_wait(&d, "expired (idle_timeout reached)", 10));
	snprintf(want, sizeof want, "WOULD SIGKILL pid %d", (int)child);
	ck_assert(!dz_log_has(&d, want));
	ck_assert(dz_child_running(child, &st));
	ck_assert_str_eq(dz_req(fd, "GET\n"), "ERR no secret");
	close(fd);
	dz_stop(&d);
	kill(child, SIGKILL);
	dz_waitpid(child, &st, 5);
}
END_TEST

Suite *
control_suite(void)
{
	Suite *s = suite_create("control");
	TCase *tc = tcase_create("control");
	TCase *slow = tcase_create("control-slow");

	tcase_set_timeout(tc, 60);
	tcase_set_timeout(slow, 120);
	tcase_add_test(tc, status_states);
	tcase_add_test(tc, load_get_binary);
	tcase_add_test(tc, load_get_large);
	tcase_add_test(tc, load_refused);
	tcase_add_test(tc, wipe_cuts_load_and_get);
	tcase_add_test(tc, no_get);
	tcase_add_test(tc, get_started_secret);
	tcase_add_test(tc, control_limit);
	tcase_add_test(tc, arm_verb);
	tcase_add_test(tc, register_limits);
	tcase_add_test(tc, register_ends_on_exit);
	tcase_add_test(tc, panic_armed_kills_registered);
	tcase_add_test(tc, sigusr2_armed_kills_registered);
	tcase_add_test(tc, fatal_signal_armed_kills_registered);
	tcase_add_test(tc, panics_dry_run_name_registered);
	tcase_add_test(tc, wipe_both_modes);
	tcase_add_test(tc, recycled_pid_spared);
	tcase_add_test(tc, empty_panics);
	tcase_add_test(tc, empty_conflict);
	tcase_add_test(tc, life_max_reads);
	tcase_add_test(tc, life_max_lifetime_armed);
	tcase_add_test(tc, life_idle_timeout_dry);
	tcase_add_test(slow, control_idle);
	suite_add_tcase(s, tc);
	suite_add_tcase(s, slow);
	return s;
}
