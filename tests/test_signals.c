/* SPDX-License-Identifier: ISC */
/* Every signal of the policy table, in both modes, on the real daemon. */
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "helpers.h"
#include "memscan.h"

static const char *const DRY[] = { NULL };
static const char *const ARMED[] = { "--arm", NULL };
static const char *const ARMED_GRACE[] = { "--arm", "--grace", "30", NULL };

/* What the memory tracer fires: the signal. */
static void
send_signal(void *arg)
{
	const int *a = arg;

	kill((pid_t)a[0], a[1]);
}

/*
 * Start on a random marker secret, say HELLO, send sig and return the
 * wait status. As root the daemon's memory is scanned at the unmap of its
 * secure mapping and at its last system call: the marker must be gone.
 * A log line saying "wiped" proves nothing; elsewhere the scan is skipped.
 */
static int
signal_status(struct dz *d, const char *const *args, int sig)
{
	unsigned char	      marker[32];
	char		      dir[64], path[128];
	const char	     *argv[16];
	struct memscan	      ms;
	struct memscan_death  md;
	struct memscan_shield sh;
	const void	     *needles[MEMSCAN_NEEDLES];
	unsigned long	      ranges[4];
	int		      fd, n = 0, i, a[2];

	ck_assert_int_eq(getrandom(marker, sizeof marker, 0), 32);
	dz_tmpdir(dir, sizeof dir);
	snprintf(path, sizeof path, "%s/secret", dir);
	dz_write_file(path, marker, sizeof marker);
	argv[n++] = "--secret-file";
	argv[n++] = path;
	argv[n++] = "--no-secretmem";
	for (i = 0; args[i] != NULL && n < 15; i++)
		argv[n++] = args[i];
	argv[n] = NULL;
	ck_assert_int_eq(dz_start(d, argv), 0);
	fd = dz_hello(d->sock);
	if (!dz_is_root() || dz_is_asan_build(dz_bin("dazaid"))) {
		if (dz_is_root())
			dz_skip_na("signals: no memory scan of an "
				   "AddressSanitizer build (make check scans)");
		else
			dz_skip("signals: the memory proof of the wipe after "
				"signal %d needs root",
			    sig);
		kill(d->pid, sig);
		ck_assert_int_eq(dz_wait(d, 10), 0);
		close(fd);
		return d->status;
	}
	/* Held shielded: the marker nowhere, its ciphertext and the prekey
	 * once each, in the secure mappings; all three must go. */
	ck_assert_int_eq(memscan_pid(d->pid, marker, sizeof marker, &ms), 0);
	ck_assert_int_eq(ms.hits, 0);
	ck_assert_msg(memscan_shield(d->pid, &sh) == 0,
	    "no shielded secret: "
	    "%s",
	    strerror(errno));
	ck_assert_int_eq(memscan_pid(d->pid, sh.ct, sizeof sh.ct, &ms), 0);
	ck_assert_int_eq(ms.hits, 1);
	ck_assert_int_eq(memscan_pid(d->pid, sh.prekey, sizeof sh.prekey, &ms),
	    0);
	ck_assert_int_eq(ms.hits, 1);
	memscan_shield_targets(&sh, marker, needles, ranges);
	a[0] = (int)d->pid;
	a[1] = sig;
	setenv("ASAN_OPTIONS", "detect_leaks=0", 1);
	ck_assert_int_eq(memscan_trace_death_n(d->pid, needles, MEMSCAN_NEEDLES,
			     sizeof marker, ranges, 2, send_signal, a, &md),
	    0);
	d->pid = 0;
	d->status = md.status;
	ck_assert_msg(md.scans + md.unmap_scans >= 1, "signal %d: no scan",
	    sig);
	ck_assert_msg(md.hits == 0 && md.unmap_hits == 0,
	    "signal %d: the "
	    "ciphertext, the prekey or the key outlived the wipe",
	    sig);
	ck_assert_msg(md.nonzero == 0,
	    "signal %d: a secure mapping not all "
	    "zero at the last system call",
	    sig);
	close(fd);
	return d->status;
}

START_TEST(sigusr1_dry_run)
{
	struct dz d;
	int	  st = signal_status(&d, DRY, SIGUSR1);

	ck_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	ck_assert(dz_log_has(&d, "SIGUSR1"));
	ck_assert(dz_log_has(&d, "secret wiped"));
	ck_assert(dz_log_has(&d, "WOULD SIGKILL"));
	dz_stop(&d);
}
END_TEST

START_TEST(sigusr1_armed)
{
	struct dz d;
	int	  st = signal_status(&d, ARMED, SIGUSR1);

	ck_assert(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL);
	ck_assert(dz_log_has(&d, "secret wiped"));
	dz_stop(&d);
}
END_TEST

START_TEST(sigusr2_dry_run)
{
	struct dz d;
	int	  st = signal_status(&d, DRY, SIGUSR2);

	ck_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	ck_assert(dz_log_has(&d, "SIGUSR2: secret wiped; WOULD SIGKILL"));
	dz_stop(&d);
}
END_TEST

START_TEST(sigusr2_armed_ignores_grace)
{
	struct dz d;
	int	  st = signal_status(&d, ARMED_GRACE, SIGUSR2);

	ck_assert(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL);
	ck_assert(!dz_log_has(&d, "grace window"));
	dz_stop(&d);
}
END_TEST

START_TEST(sigterm_sigint_clean)
{
	static const int sigs[] = { SIGTERM, SIGINT };
	struct dz	 d;
	struct stat	 sb;
	size_t		 i;
	int		 st;

	for (i = 0; i < 2; i++) {
		st = signal_status(&d, ARMED, sigs[i]);
		ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 0,
		    "signal %d: status %d", sigs[i], st);
		ck_assert(dz_log_has(&d, "clean shutdown"));
		ck_assert_int_eq(stat(d.sock, &sb), -1);
		dz_stop(&d);
	}
}
END_TEST

START_TEST(sighup_sigpipe_ignored)
{
	struct dz d;
	int	  fd;

	ck_assert_int_eq(dz_start(&d, ARMED), 0);
	fd = dz_hello(d.sock);
	kill(d.pid, SIGHUP);
	kill(d.pid, SIGPIPE);
	ck_assert(dz_log_wait(&d, "SIGHUP ignored", 5));
	ck_assert(dz_send(fd, "PING\n"));
	dz_expect(fd, "PONG");
	ck_assert(dz_alive(&d));
	ck_assert(dz_send(fd, "QUIT\n"));
	dz_expect(fd, "BYE");
	close(fd);
	kill(d.pid, SIGTERM);
	ck_assert_int_eq(dz_wait(&d, 10), 0);
	ck_assert(WIFEXITED(d.status) && WEXITSTATUS(d.status) == 0);
	dz_stop(&d);
}
END_TEST

START_TEST(fatal_signals_reraise)
{
	static const int sigs[] = { SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGABRT };
	struct dz	 d;
	size_t		 i;
	int		 st;

	for (i = 0; i < sizeof sigs / sizeof sigs[0]; i++) {
		st = signal_status(&d, DRY, sigs[i]);
		ck_assert_msg(WIFSIGNALED(st) && WTERMSIG(st) == sigs[i],
		    "signal %d: status %d", sigs[i], st);
		ck_assert_msg(!WCOREDUMP(st), "core dumped on %d", sigs[i]);
		dz_stop(&d);
	}
}
END_TEST

/* One control request; the reply must be want. */
static void
ctl(const struct dz *d, const char *line, const char *want)
{
	int fd = dz_connect(d->sock);

	ck_assert_msg(fd >= 0, "connect %s: %s", d->sock, strerror(errno));
	ck_assert(dz_send(fd, line));
	dz_expect(fd, want);
	close(fd);
}

/*
 * Armed by the ARM verb, not at the start: the hard path that sig takes
 * (SIGUSR2, or a fatal signal) SIGKILLs the registered process from the
 * handler. The process itself is reaped here and must have died of
 * SIGKILL; the daemon dies of want.
 */
static void
arm_verb_kills(int sig, int want)
{
	struct dz d;
	char	  line[64];
	pid_t	  child;
	int	  st, hb;

	ck_assert_int_eq(dz_start(&d, DRY), 0);
	hb = dz_hello(d.sock);
	child = dz_sleeper();
	snprintf(line, sizeof line, "REGISTER pid=%d\n", (int)child);
	ctl(&d, line, "OK");
	ctl(&d, "ARM\n", "OK");
	kill(d.pid, sig);
	ck_assert_int_eq(dz_wait(&d, 10), 0);
	ck_assert_msg(WIFSIGNALED(d.status) && WTERMSIG(d.status) == want,
	    "signal %d: daemon status %d", sig, d.status);
	ck_assert_msg(dz_waitpid(child, &st, 10) == 0,
	    "signal %d: the "
	    "registered process is still alive",
	    sig);
	ck_assert_msg(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL,
	    "signal %d: registered process status %d", sig, st);
	close(hb);
	dz_stop(&d);
}

START_TEST(sigusr2_after_arm_kills_registered)
{
	arm_verb_kills(SIGUSR2, SIGKILL);
}
END_TEST

START_TEST(fatal_after_arm_kills_registered)
{
	arm_verb_kills(SIGSEGV, SIGSEGV);
	arm_verb_kills(SIGABRT, SIGABRT);
}
END_TEST

START_TEST(signal_before_heartbeat)
{
	struct dz d;

	/* No heartbeat yet: signals still trigger. */
	ck_assert_int_eq(dz_start(&d, ARMED), 0);
	kill(d.pid, SIGUSR1);
	ck_assert_int_eq(dz_wait(&d, 10), 0);
	ck_assert(WIFSIGNALED(d.status) && WTERMSIG(d.status) == SIGKILL);
	dz_stop(&d);
}
END_TEST

/*
 * Start dazaid reading its secret from a pipe whose writer (returned)
 * stays open, so that loading never ends by itself; wait until it
 * listens and has read the first bytes.
 */
static int
start_loading(struct dz *d, const char *const *extra)
{
	const char *argv[32];
	char	    fdarg[16];
	int	    p[2], n = 0, i;
	struct stat st;

	dz_init(d, NULL);
	ck_assert_int_eq(pipe(p), 0);
	snprintf(fdarg, sizeof fdarg, "%d", p[0]);
	argv[n++] = dz_bin("dazaid");
	argv[n++] = "--socket";
	argv[n++] = d->sock;
	argv[n++] = "--secret-fd";
	argv[n++] = fdarg;
	for (i = 0; extra[i] != NULL && n < 30; i++)
		argv[n++] = extra[i];
	argv[n] = NULL;
	d->pid = dz_spawn(argv, d->log, p[0]);
	close(p[0]);
	ck_assert(write(p[1], "the first half of a secret", 26) == 26);
	for (i = 0; i < 500 && stat(d->sock, &st) != 0; i++)
		usleep(10000);
	ck_assert_msg(i < 500, "dazaid never listened");
	usleep(200000);
	ck_assert_msg(dz_alive(d), "dazaid did not wait for the rest");
	return p[1];
}

/*
 * While the secret is still arriving through a pipe, SIGTERM and SIGINT
 * stop the daemon at once (what was read is wiped, the socket removed)
 * instead of waiting for the writer to close it.
 */
START_TEST(shutdown_while_loading)
{
	static const char *const extra[] = { NULL };
	static const int	 sigs[] = { SIGTERM, SIGINT };
	struct stat		 st;
	struct dz		 d;
	size_t			 i;
	int			 w;

	for (i = 0; i < 2; i++) {
		w = start_loading(&d, extra);
		kill(d.pid, sigs[i]);
		ck_assert_msg(dz_wait(&d, 5) == 0,
		    "signal %d: still "
		    "waiting for the secret",
		    sigs[i]);
		close(w);
		ck_assert(WIFEXITED(d.status) && WEXITSTATUS(d.status) == 0);
		ck_assert(dz_log_has(&d, "clean shutdown"));
		ck_assert(dz_log_has(&d,
		    "loading stopped; the bytes read so "
		    "far were wiped"));
		ck_assert(!dz_log_has(&d, "secret loaded"));
		ck_assert_int_eq(stat(d.sock, &st), -1);
		dz_stop(&d);
	}
}
END_TEST

/* SIGUSR1 while loading: the panic runs, dry-run and armed. */
START_TEST(panic_while_loading)
{
	static const char *const dry[] = { NULL };
	static const char *const armed[] = { "--arm", NULL };
	static const char *const graced[] = { "--arm", "--grace", "1", NULL };
	struct dz		 d;
	double			 t0;
	int			 w;

	w = start_loading(&d, dry);
	kill(d.pid, SIGUSR1);
	ck_assert(dz_wait(&d, 5) == 0);
	close(w);
	ck_assert(WIFEXITED(d.status) && WEXITSTATUS(d.status) == 0);
	ck_assert(dz_log_has(&d, "secret wiped"));
	ck_assert(dz_log_has(&d, "WOULD SIGKILL"));
	dz_stop(&d);

	w = start_loading(&d, armed);
	kill(d.pid, SIGUSR1);
	ck_assert(dz_wait(&d, 5) == 0);
	close(w);
	ck_assert(WIFSIGNALED(d.status) && WTERMSIG(d.status) == SIGKILL);
	ck_assert(dz_log_has(&d, "secret wiped"));
	dz_stop(&d);

	/* The grace window runs its course though the writer never ends. */
	w = start_loading(&d, graced);
	t0 = dz_now();
	kill(d.pid, SIGUSR1);
	ck_assert(dz_wait(&d, 10) == 0);
	close(w);
	ck_assert_msg(dz_now() - t0 >= 0.9, "fired after %.2fs", dz_now() - t0);
	ck_assert(WIFSIGNALED(d.status) && WTERMSIG(d.status) == SIGKILL);
	ck_assert(dz_log_has(&d, "grace window of 1s"));
	ck_assert(dz_log_has(&d, "secret wiped"));
	dz_stop(&d);
}
END_TEST

Suite *
signals_suite(void)
{
	Suite *s = suite_create("signals");
	TCase *tc = tcase_create("signals");

	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, sigusr1_dry_run);
	tcase_add_test(tc, sigusr1_armed);
	tcase_add_test(tc, sigusr2_dry_run);
	tcase_add_test(tc, sigusr2_armed_ignores_grace);
	tcase_add_test(tc, sigterm_sigint_clean);
	tcase_add_test(tc, sighup_sigpipe_ignored);
	tcase_add_test(tc, fatal_signals_reraise);
	tcase_add_test(tc, sigusr2_after_arm_kills_registered);
	tcase_add_test(tc, fatal_after_arm_kills_registered);
	tcase_add_test(tc, signal_before_heartbeat);
	tcase_add_test(tc, shutdown_while_loading);
	tcase_add_test(tc, panic_while_loading);
	suite_add_tcase(s, tc);
	return s;
}
