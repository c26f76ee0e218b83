/* SPDX-License-Identifier: ISC */
/*
 * Confinement as the kernel sees it: /proc/PID/status of a ready daemon
 * and of a connected heartbeat, the --verbose report, --no-sandbox and
 * its config key, and the exit paths that the sandbox must not break.
 * A forbidden call made by the confined daemon is in test_memory.c, where
 * the memory is scanned at its death.
 */
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdbool.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <linux/landlock.h>
#include <seccomp.h>

#include "helpers.h"

/* The value of a "Key:\tvalue" line of /proc/PID/status, or -1. */
static int
proc_status(pid_t pid, const char *key)
{
	char	 path[64], line[256];
	size_t	 klen = strlen(key);
	FILE	*fp;
	int	 v = -1;

	snprintf(path, sizeof path, "/proc/%d/status", (int)pid);
	if ((fp = fopen(path, "r")) == NULL)
		return -1;
	while (fgets(line, sizeof line, fp) != NULL)
		if (strncmp(line, key, klen) == 0 && line[klen] == ':') {
			v = atoi(line + klen + 1);
			break;
		}
	fclose(fp);
	return v;
}

/* The kernel's Landlock ABI, 0 without Landlock. */
static int
landlock_abi(void)
{
	long	 abi = syscall(SYS_landlock_create_ruleset, NULL, 0,
		    LANDLOCK_CREATE_RULESET_VERSION);

	return abi > 0 ? (int)abi : 0;
}

/*
 * Is build/dazaid confined at all? make sanitize builds it without the
 * sandbox (LeakSanitizer's exit check needs ptrace and /proc; README).
 */
static bool
confined_build(const char *what)
{
	if (!dz_is_asan_build(dz_bin("dazaid")))
		return true;
	dz_skip_na("%s: %s is a sanitizer build, which runs without the "
	    "sandbox", what, dz_bin("dazaid"));
	return false;
}

/* Seccomp: in /proc/PID/status, 2 where the build confines, else 0. */
static int
want_seccomp(void)
{
	return dz_is_asan_build(dz_bin("dazaid")) ? 0 : 2;
}

/* Is the daemon's stderr free of seccomp refusals? */
static void
assert_no_refusal(const struct dz *d)
{
	ck_assert_msg(!dz_log_has(d, "refused system call"),
	    "the sandbox refused a call the daemon needs");
}

/* A ready daemon is confined: no_new_privs and a seccomp filter. */
START_TEST(daemon_confined)
{
	const char	*args[] = { "--verbose", NULL };
	struct dz	 d;
	int		 hb;

	if (!confined_build("daemon_confined"))
		return;
	ck_assert_int_eq(dz_start(&d, args), 0);
	ck_assert_int_eq(proc_status(d.pid, "NoNewPrivs"), 1);
	ck_assert_int_eq(proc_status(d.pid, "Seccomp"), 2);
	if (landlock_abi() > 0)
		ck_assert(dz_log_has(&d, "sandbox: seccomp,landlock\n"));
	else
		ck_assert(dz_log_has(&d, "sandbox: seccomp (landlock not "
		    "offered by this kernel"));
	/* The loop works confined: a heartbeat session with a QUIT. */
	hb = dz_hello(d.sock);
	ck_assert(dz_send(hb, "PING\n"));
	dz_expect(hb, "PONG");
	ck_assert(dz_send(hb, "QUIT\n"));
	dz_expect(hb, "BYE");
	close(hb);
	ck_assert(dz_log_wait(&d, "stood down", 10));
	ck_assert(dz_alive(&d));
	assert_no_refusal(&d);
	dz_stop(&d);
}
END_TEST

/* Does pid map a file whose path ends in name? */
static bool
maps_file(pid_t pid, const char *name)
{
	char	 path[64], line[512];
	size_t	 n = strlen(name), l;
	FILE	*fp;
	bool	 found = false;

	snprintf(path, sizeof path, "/proc/%d/maps", (int)pid);
	if ((fp = fopen(path, "r")) == NULL)
		return false;
	while (!found && fgets(line, sizeof line, fp) != NULL) {
		line[strcspn(line, "\n")] = '\0';
		l = strlen(line);
		found = l >= n && strcmp(line + l - n, name) == 0;
	}
	fclose(fp);
	return found;
}

/* One request on a fresh control connection: its reply (static). */
static const char *
ctl_request(const struct dz *d, const char *line)
{
	static char	 reply[512];
	int		 fd = dz_connect(d->sock);

	ck_assert_msg(fd >= 0, "connect %s: %s", d->sock, strerror(errno));
	ck_assert(dz_send(fd, line));
	ck_assert_msg(dz_readline(fd, reply, sizeof reply, 10) != NULL,
	    "no reply to %s", line);
	close(fd);
	return reply;
}

/*
 * The control plane works confined: with Seccomp 2 in /proc/PID/status
 * throughout, an armed daemon started empty takes a LOAD of 1 MiB (the
 * buffer grows in place, page after page), hands it back byte for byte
 * with GET, wipes it, takes another LOAD, registers a process, reports
 * the sandbox as the last STATUS field, and on PANIC kills the
 * registered process and dies by SIGKILL, with no call refused.
 */
START_TEST(control_plane_confined)
{
	const char	*args[] = { "--arm", "--empty", NULL };
	const size_t	 len = 1024 * 1024;
	char		 line[64], want[96];
	const char	*r, *layers;
	unsigned char	*secret, *got;
	struct dz	 d;
	pid_t		 child;
	size_t		 i;
	int		 fd, st;

	if (!confined_build("control_plane_confined"))
		return;
	secret = malloc(len);
	got = malloc(len);
	ck_assert(secret != NULL && got != NULL);
	for (i = 0; i < len; i++)
		secret[i] = (unsigned char)(i * 131 + i / 4099);
	ck_assert_int_eq(dz_start(&d, args), 0);
	ck_assert_int_eq(proc_status(d.pid, "Seccomp"), 2);

	/* STATUS ends with what took effect. */
	layers = landlock_abi() > 0 ? "seccomp,landlock" : "seccomp";
	r = ctl_request(&d, "STATUS\n");
	ck_assert_msg(strncmp(r, "STATUS alive=1 armed=1 grace=0 "
	    "registered=0 ", 31) == 0, "%s", r);
	snprintf(want, sizeof want, " sandbox=%s", layers);
	ck_assert_msg(strlen(r) > strlen(want) && strcmp(r + strlen(r) -
	    strlen(want), want) == 0, "STATUS does not end in '%s': %s",
	    want, r);

	/* LOAD 1 MiB and GET it back on one connection. */
	fd = dz_connect(d.sock);
	ck_assert(fd >= 0);
	snprintf(line, sizeof line, "LOAD %zu\n", len);
	ck_assert(dz_send(fd, line));
	dz_send_bytes(fd, secret, len);
	dz_expect(fd, "OK");
	ck_assert_int_eq(proc_status(d.pid, "Seccomp"), 2);
	ck_assert(dz_send(fd, "GET\n"));
	snprintf(want, sizeof want, "SECRET %zu", len);
	dz_expect(fd, want);
	ck_assert(dz_read_exact(fd, got, len, 30));
	ck_assert(memcmp(got, secret, len) == 0);
	close(fd);
	snprintf(want, sizeof want, "secret_bytes=%zu ", len);
	ck_assert(strstr(ctl_request(&d, "STATUS\n"), want) != NULL);

	/* WIPE, then a small LOAD to hold something again. */
	ck_assert_str_eq(ctl_request(&d, "WIPE\n"), "OK");
	ck_assert(strstr(ctl_request(&d, "STATUS\n"), " secret_bytes=0 ") !=
	    NULL);
	fd = dz_connect(d.sock);
	ck_assert(fd >= 0);
	ck_assert(dz_send(fd, "LOAD 6\ns3cret"));
	dz_expect(fd, "OK");
	close(fd);

	/* REGISTER a process, then PANIC: it dies first, then the daemon. */
	child = fork();
	ck_assert_int_ge(child, 0);
	if (child == 0) {
		signal(SIGTERM, SIG_DFL);
		signal(SIGALRM, SIG_DFL);
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		for (;;)
			pause();
	}
	snprintf(line, sizeof line, "REGISTER pid=%d\n", (int)child);
	ck_assert_str_eq(ctl_request(&d, line), "OK");
	ck_assert(strstr(ctl_request(&d, "STATUS\n"), " registered=1 ") !=
	    NULL);
	ck_assert_int_eq(proc_status(d.pid, "Seccomp"), 2);
	ck_assert_str_eq(ctl_request(&d, "PANIC\n"), "OK");
	ck_assert_int_eq(dz_wait(&d, 10), 0);
	ck_assert_msg(WIFSIGNALED(d.status) && WTERMSIG(d.status) == SIGKILL,
	    "daemon status %d", d.status);
	ck_assert_int_eq(dz_waitpid(child, &st, 10), 0);
	ck_assert_msg(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL,
	    "registered child status %d", st);
	snprintf(want, sizeof want, "SIGKILL pid %d (registered)",
	    (int)child);
	ck_assert(dz_log_has(&d, want));
	/* Peers are logged; confined, the executable may be unknown. */
	snprintf(want, sizeof want, "LOAD of %zu bytes from pid ", len);
	ck_assert(dz_log_has(&d, want));
	assert_no_refusal(&d);
	free(secret);
	free(got);
	dz_stop(&d);
}
END_TEST

/*
 * Without the vDSO, glibc's time(), gettimeofday() and clock_gettime()
 * are system calls. The vDSO is taken out of the way by an LD_PRELOAD
 * shim the Makefile builds (build/novdso.so, from tests/novdso.c) that
 * makes each of them the raw system call. Confined, HELLO (which stamps
 * the session with time()), PING and STATUS work and the daemon lives.
 */
START_TEST(no_vdso_confined)
{
	const char	*args[] = { "--verbose", NULL };
	const char	*shim = dz_bin("novdso.so");
	const char	*r;
	struct dz	 d;
	int		 hb;

	if (!confined_build("no_vdso_confined"))
		return;
	ck_assert_msg(access(shim, R_OK) == 0, "%s: %s (make builds it)",
	    shim, strerror(errno));
	setenv("LD_PRELOAD", shim, 1);
	ck_assert_int_eq(dz_start(&d, args), 0);
	unsetenv("LD_PRELOAD");
	ck_assert_msg(maps_file(d.pid, "/novdso.so"), "the shim is not "
	    "loaded in the daemon");
	ck_assert_int_eq(proc_status(d.pid, "Seccomp"), 2);
	hb = dz_hello(d.sock);
	ck_assert(dz_send(hb, "PING\n"));
	dz_expect(hb, "PONG");
	r = ctl_request(&d, "STATUS\n");
	ck_assert_msg(strncmp(r, "STATUS alive=1 ", 15) == 0, "%s", r);
	ck_assert(dz_send(hb, "PING\n"));
	dz_expect(hb, "PONG");
	ck_assert(dz_send(hb, "QUIT\n"));
	dz_expect(hb, "BYE");
	close(hb);
	ck_assert(dz_log_wait(&d, "stood down", 10));
	ck_assert(dz_alive(&d));
	assert_no_refusal(&d);
	dz_stop(&d);
}
END_TEST

/* SIGTERM with the sandbox on: exit 0, socket removed, nothing refused. */
START_TEST(sigterm_removes_socket)
{
	struct dz	 d;
	struct stat	 st;

	ck_assert_int_eq(dz_start(&d, NULL), 0);
	ck_assert_int_eq(proc_status(d.pid, "Seccomp"), want_seccomp());
	ck_assert_int_eq(lstat(d.sock, &st), 0);
	kill(d.pid, SIGTERM);
	ck_assert_int_eq(dz_wait(&d, 10), 0);
	ck_assert_msg(WIFEXITED(d.status) && WEXITSTATUS(d.status) == 0,
	    "status %d", d.status);
	ck_assert_msg(lstat(d.sock, &st) != 0 && errno == ENOENT,
	    "%s left behind", d.sock);
	ck_assert(!dz_log_has(&d, ": unlink"));
	assert_no_refusal(&d);
	dz_stop(&d);
}
END_TEST

/* A dry-run panic (heartbeat lost) completes confined: exit 0. */
START_TEST(panic_completes_confined)
{
	const char	*args[] = { "--grace", "0.2", NULL };
	struct dz	 d;
	int		 hb;

	ck_assert_int_eq(dz_start(&d, args), 0);
	hb = dz_hello(d.sock);
	close(hb);
	ck_assert_int_eq(dz_wait(&d, 10), 0);
	ck_assert_msg(WIFEXITED(d.status) && WEXITSTATUS(d.status) == 0,
	    "status %d", d.status);
	ck_assert(dz_log_has(&d, "grace window"));
	ck_assert(dz_log_has(&d, "WOULD SIGKILL"));
	assert_no_refusal(&d);
	dz_stop(&d);
}
END_TEST

/* --no-sandbox: unconfined, and said loudly without --verbose. */
START_TEST(no_sandbox_option)
{
	const char	*args[] = { "--no-sandbox", NULL };
	struct dz	 d;

	ck_assert_int_eq(dz_start(&d, args), 0);
	ck_assert_int_eq(proc_status(d.pid, "Seccomp"), 0);
	ck_assert_int_eq(proc_status(d.pid, "NoNewPrivs"), 0);
	ck_assert(dz_log_has(&d, "WARNING: --no-sandbox: the daemon runs "
	    "UNCONFINED"));
	kill(d.pid, SIGTERM);
	ck_assert_int_eq(dz_wait(&d, 10), 0);
	ck_assert(WIFEXITED(d.status) && WEXITSTATUS(d.status) == 0);
	dz_stop(&d);
}
END_TEST

/* no_sandbox = true in the config file does the same. */
START_TEST(no_sandbox_config_key)
{
	char		 dir[64], conf[160];
	const char	*args[] = { "--config", conf, NULL };
	const char	*text = "no_sandbox = true\n";
	struct dz	 d;

	dz_tmpdir(dir, sizeof dir);
	snprintf(conf, sizeof conf, "%s/dazai.conf", dir);
	dz_write_file(conf, text, strlen(text));
	ck_assert_int_eq(dz_start(&d, args), 0);
	ck_assert_int_eq(proc_status(d.pid, "Seccomp"), 0);
	ck_assert(dz_log_has(&d, "WARNING: --no-sandbox"));
	dz_stop(&d);
}
END_TEST

/*
 * A kernel that refuses seccomp, simulated: the daemon is started under a
 * filter of our own that fails seccomp(2) with ENOSYS and
 * prctl(PR_SET_SECCOMP) with EINVAL, as a kernel built without seccomp
 * does. It must not hold the secret unconfined: it says why, wipes,
 * removes its socket and exits 1.
 */
START_TEST(seccomp_refused_exits)
{
	scmp_filter_ctx	 ctx;
	struct dz	 d;
	struct stat	 st;
	const char	*argv[] = { dz_bin("dazaid"), "--socket", NULL,
			    "--no-secretmem", NULL };
	int		 fd;

	if (!confined_build("seccomp_refused_exits"))
		return;
	dz_init(&d, NULL);
	argv[2] = d.sock;
	d.pid = fork();
	ck_assert_int_ge(d.pid, 0);
	if (d.pid == 0) {
		if ((fd = open(d.log, O_WRONLY | O_CREAT | O_APPEND,
		    0600)) < 0)
			_exit(126);
		dup2(fd, STDERR_FILENO);
		if ((ctx = seccomp_init(SCMP_ACT_ALLOW)) == NULL ||
		    seccomp_rule_add(ctx, SCMP_ACT_ERRNO(ENOSYS),
		    SCMP_SYS(seccomp), 0) != 0 ||
		    seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EINVAL),
		    SCMP_SYS(prctl), 1, SCMP_A0_32(SCMP_CMP_EQ,
		    PR_SET_SECCOMP, 0)) != 0 ||
		    seccomp_load(ctx) != 0)
			_exit(125);
		execv(argv[0], (char *const *)argv);
		_exit(127);
	}
	ck_assert_int_eq(dz_wait(&d, 20), 0);
	ck_assert_msg(WIFEXITED(d.status) && WEXITSTATUS(d.status) == 1,
	    "status %d", d.status);
	ck_assert(dz_log_has(&d, "cannot confine the daemon: seccomp"));
	ck_assert(dz_log_has(&d, "refusing to hold the secret unconfined"));
	ck_assert(dz_log_has(&d, "secret wiped; exiting"));
	ck_assert(!dz_log_has(&d, "listening on"));
	ck_assert_msg(lstat(d.sock, &st) != 0 && errno == ENOENT,
	    "%s left behind", d.sock);
	dz_stop(&d);
}
END_TEST

/* dazai-heartbeat confines itself once connected, and still works. */
START_TEST(heartbeat_confined)
{
	const char	*hb_argv[6];
	struct dz	 d, h;
	pid_t		 hb;
	int		 st;

	if (!confined_build("heartbeat_confined"))
		return;
	ck_assert_int_eq(dz_start(&d, NULL), 0);
	dz_init(&h, NULL);		/* h.log: the heartbeat's stderr */
	hb_argv[0] = dz_bin("dazai-heartbeat");
	hb_argv[1] = "--socket";
	hb_argv[2] = d.sock;
	hb_argv[3] = "--interval";
	hb_argv[4] = "0.05";
	hb_argv[5] = NULL;
	hb = dz_spawn(hb_argv, h.log, -1);
	/* "guarding" is logged right after it confined itself. */
	ck_assert(dz_log_wait(&h, "guarding: heartbeat", 10));
	ck_assert_int_eq(proc_status(hb, "Seccomp"), 2);
	ck_assert_int_eq(proc_status(hb, "NoNewPrivs"), 1);
	/* Confined, it pings, and stands down on SIGUSR1 (signalfd, QUIT,
	 * BYE, a log line): a refused call would have killed it. */
	kill(hb, SIGUSR1);
	ck_assert_int_eq(dz_waitpid(hb, &st, 10), 0);
	ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 0, "heartbeat "
	    "status %d", st);
	ck_assert(dz_log_has(&h, "stood down (QUIT)"));
	ck_assert(!dz_log_has(&h, "refused system call"));
	ck_assert(dz_log_wait(&d, "stood down", 10));
	assert_no_refusal(&d);
	dz_stop(&d);
}
END_TEST

Suite *
sandbox_suite(void)
{
	Suite	*s = suite_create("sandbox");
	TCase	*tc = tcase_create("sandbox");

	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, daemon_confined);
	tcase_add_test(tc, control_plane_confined);
	tcase_add_test(tc, sigterm_removes_socket);
	tcase_add_test(tc, panic_completes_confined);
	tcase_add_test(tc, no_sandbox_option);
	tcase_add_test(tc, no_sandbox_config_key);
	tcase_add_test(tc, seccomp_refused_exits);
	tcase_add_test(tc, heartbeat_confined);
	tcase_add_test(tc, no_vdso_confined);
	suite_add_tcase(s, tc);
	return s;
}
