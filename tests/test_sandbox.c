/* SPDX-License-Identifier: ISC */
/*
 * Confinement as the kernel sees it: /proc/PID/status of a ready daemon
 * and of a connected heartbeat, the --verbose report, --no-sandbox and
 * its config key, and the exit paths that the sandbox must not break;
 * system calls injected into the confined daemon with ptrace, each of
 * which the filter must refuse on its own. A forbidden call scanned at
 * the daemon's death is in test_memory.c.
 */
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/ptrace.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/user.h>
#include <sys/wait.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
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
#include "memscan.h"

/* The value of a "Key:\tvalue" line of /proc/PID/status, or -1. */
static int
proc_status(pid_t pid, const char *key)
{
	char   path[64], line[256];
	size_t klen = strlen(key);
	FILE  *fp;
	int    v = -1;

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
	long abi = syscall(SYS_landlock_create_ruleset, NULL, 0,
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
		   "sandbox",
	    what, dz_bin("dazaid"));
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
	const char *args[] = { "--verbose", NULL };
	struct dz   d;
	int	    hb;

	if (!confined_build("daemon_confined"))
		return;
	ck_assert_int_eq(dz_start(&d, args), 0);
	ck_assert_int_eq(proc_status(d.pid, "NoNewPrivs"), 1);
	ck_assert_int_eq(proc_status(d.pid, "Seccomp"), 2);
	if (landlock_abi() > 0)
		ck_assert(dz_log_has(&d, "sandbox: seccomp,landlock\n"));
	else
		ck_assert(dz_log_has(&d,
		    "sandbox: seccomp (landlock not "
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
	char   path[64], line[512];
	size_t n = strlen(name), l;
	FILE  *fp;
	bool   found = false;

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
	static char reply[512];
	int	    fd = dz_connect(d->sock);

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
	const char    *args[] = { "--arm", "--empty", NULL };
	const size_t   len = 1024 * 1024;
	char	       line[64], want[96];
	const char    *r, *layers;
	unsigned char *secret, *got;
	struct dz      d;
	pid_t	       child;
	size_t	       i;
	int	       fd, st;

	if (!confined_build("control_plane_confined"))
		return;
	secret = malloc(len);
	got = malloc(len);
	ck_assert(secret != NULL && got != NULL);
	for (i = 0; i < len; i++)
		secret[i] = (unsigned char)(i * 131 + i / 4099);
	ck_assert_int_eq(dz_start(&d, args), 0);
	ck_assert_int_eq(proc_status(d.pid, "Seccomp"), 2);

	/* STATUS says what took effect (the fields added since follow). */
	layers = landlock_abi() > 0 ? "seccomp,landlock" : "seccomp";
	r = ctl_request(&d, "STATUS\n");
	ck_assert_msg(strncmp(r,
			  "STATUS alive=1 armed=1 grace=0 "
			  "registered=0 ",
			  31) == 0,
	    "%s", r);
	snprintf(want, sizeof want, " sandbox=%s warden=", layers);
	ck_assert_msg(strstr(r, want) != NULL, "STATUS has no '%s': %s", want,
	    r);

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
	snprintf(want, sizeof want, "SIGKILL pid %d (registered)", (int)child);
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
	const char *args[] = { "--verbose", NULL };
	const char *shim = dz_bin("novdso.so");
	const char *r;
	struct dz   d;
	int	    hb;

	if (!confined_build("no_vdso_confined"))
		return;
	ck_assert_msg(access(shim, R_OK) == 0, "%s: %s (make builds it)", shim,
	    strerror(errno));
	setenv("LD_PRELOAD", shim, 1);
	ck_assert_int_eq(dz_start(&d, args), 0);
	unsetenv("LD_PRELOAD");
	ck_assert_msg(maps_file(d.pid, "/novdso.so"),
	    "the shim is not "
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

/*
 * SIGTERM with the sandbox on, the socket in a directory of its own:
 * exit 0, socket removed, nothing refused. Without Landlock the kernel
 * cannot hold the removal to the socket: it is left, and said.
 */
START_TEST(sigterm_removes_socket)
{
	struct dz   d;
	struct stat st;
	bool left = landlock_abi() == 0 && !dz_is_asan_build(dz_bin("dazaid"));

	ck_assert_int_eq(dz_start(&d, NULL), 0);
	ck_assert_int_eq(proc_status(d.pid, "Seccomp"), want_seccomp());
	ck_assert_int_eq(lstat(d.sock, &st), 0);
	kill(d.pid, SIGTERM);
	ck_assert_int_eq(dz_wait(&d, 10), 0);
	ck_assert_msg(WIFEXITED(d.status) && WEXITSTATUS(d.status) == 0,
	    "status %d", d.status);
	if (left) {
		ck_assert(lstat(d.sock, &st) == 0);
		ck_assert(dz_log_has(&d,
		    ": left for the next start to "
		    "replace (confined, the daemon may not remove it: without "
		    "Landlock"));
	} else
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
	const char *args[] = { "--grace", "0.2", NULL };
	struct dz   d;
	int	    hb;

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
	const char *args[] = { "--no-sandbox", NULL };
	struct dz   d;

	ck_assert_int_eq(dz_start(&d, args), 0);
	ck_assert_int_eq(proc_status(d.pid, "Seccomp"), 0);
	ck_assert_int_eq(proc_status(d.pid, "NoNewPrivs"), 0);
	ck_assert(dz_log_has(&d,
	    "WARNING: --no-sandbox: the daemon runs "
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
	char	    dir[64], conf[160];
	const char *args[] = { "--config", conf, NULL };
	const char *text = "no_sandbox = true\n";
	struct dz   d;

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
	scmp_filter_ctx ctx;
	struct dz	d;
	struct stat	st;
	const char     *argv[] = { dz_bin("dazaid"), "--socket", NULL,
		    "--no-secretmem", NULL };
	int		fd;

	if (!confined_build("seccomp_refused_exits"))
		return;
	dz_init(&d, NULL);
	argv[2] = d.sock;
	d.pid = fork();
	ck_assert_int_ge(d.pid, 0);
	if (d.pid == 0) {
		if ((fd = open(d.log, O_WRONLY | O_CREAT | O_APPEND, 0600)) < 0)
			_exit(126);
		dup2(fd, STDERR_FILENO);
		if ((ctx = seccomp_init(SCMP_ACT_ALLOW)) == NULL ||
		    seccomp_rule_add(ctx, SCMP_ACT_ERRNO(ENOSYS),
			SCMP_SYS(seccomp), 0) != 0 ||
		    seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EINVAL),
			SCMP_SYS(prctl), 1,
			SCMP_A0_32(SCMP_CMP_EQ, PR_SET_SECCOMP, 0)) != 0 ||
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
	const char *hb_argv[6];
	struct dz   d, h;
	pid_t	    hb;
	int	    st;

	if (!confined_build("heartbeat_confined"))
		return;
	ck_assert_int_eq(dz_start(&d, NULL), 0);
	dz_init(&h, NULL); /* h.log: the heartbeat's stderr */
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
	ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 0,
	    "heartbeat "
	    "status %d",
	    st);
	ck_assert(dz_log_has(&h, "stood down (QUIT)"));
	ck_assert(!dz_log_has(&h, "refused system call"));
	ck_assert(dz_log_wait(&d, "stood down", 10));
	assert_no_refusal(&d);
	dz_stop(&d);
}
END_TEST

/*
 * Injecting a system call into the confined daemon. At a system-call
 * entry stop (SIGSYS not blocked: not inside libev's signal handlers),
 * the call about to be made is rewritten; the kernel runs the seccomp
 * filter after this stop (Linux 4.8 and later), so the filter judges the
 * injected call. If it returns, the daemon's own call is put back and
 * made again (rip back over the syscall instruction), so the daemon goes
 * on as if nothing happened; if it traps, the SIGSYS is delivered and
 * the daemon left to its handler. x86-64 only (orig_rax, rip).
 */
struct inject {
	long	      nr; /* the system call */
	unsigned long arg[6];
	const char   *str;     /* copied onto its stack... */
	int	      str_arg; /* ...and passed as this one */
	long	      ret;     /* what it returned (-errno) */
};

#define INJ_RETURNED 0 /* the call was made; ret says how */
#define INJ_TRAPPED  1 /* SIGSYS: the filter refused it */

/* Is SIGSYS in the set key (SigBlk, SigPnd) of /proc/PID/status? */
static bool
sigsys_in(pid_t pid, const char *key)
{
	char		   path[64], line[256];
	unsigned long long mask = ~0ULL;
	size_t		   n = strlen(key);
	FILE		  *fp;

	snprintf(path, sizeof path, "/proc/%d/status", (int)pid);
	if ((fp = fopen(path, "r")) == NULL)
		return true;
	while (fgets(line, sizeof line, fp) != NULL)
		if (strncmp(line, key, n) == 0 && line[n] == ':')
			mask = strtoull(line + n + 1, NULL, 16);
	fclose(fp);
	return (mask & (1ULL << (SIGSYS - 1))) != 0;
}

/* Does pid block SIGSYS now? */
static bool
blocks_sigsys(pid_t pid)
{
	return sigsys_in(pid, "SigBlk");
}

#ifdef __x86_64__
/* Write len bytes into pid's memory at addr, a word at a time. */
static void
poke(pid_t pid, unsigned long addr, const void *src, size_t len)
{
	unsigned long word;
	size_t	      i, n;

	for (i = 0; i < len; i += sizeof word) {
		errno = 0;
		word = (unsigned long)ptrace(PTRACE_PEEKDATA, pid, addr + i, 0);
		ck_assert_msg(errno == 0, "peek %lx: %s", addr + i,
		    strerror(errno));
		n = len - i < sizeof word ? len - i : sizeof word;
		memcpy(&word, (const char *)src + i, n);
		ck_assert_int_eq(ptrace(PTRACE_POKEDATA, pid, addr + i, word),
		    0);
	}
}

/*
 * Make the daemon (our child) call inj->nr once, woken by a SIGHUP
 * (logged and ignored). Returns INJ_RETURNED (inj->ret set; the daemon
 * goes on untraced) or INJ_TRAPPED (the SIGSYS delivered, untraced).
 */
static int
inject_call(pid_t pid, struct inject *inj)
{
	struct __ptrace_syscall_info si;
	struct user_regs_struct	     regs, saved;
	unsigned long		    *argp[6];
	unsigned long		     at;
	int			     st, i;

	ck_assert_int_eq(ptrace(PTRACE_SEIZE, pid, 0, PTRACE_O_TRACESYSGOOD),
	    0);
	ck_assert_int_eq(ptrace(PTRACE_INTERRUPT, pid, 0, 0), 0);
	ck_assert_int_eq(dz_waitpid(pid, &st, 10), 0);
	ck_assert(WIFSTOPPED(st));
	kill(pid, SIGHUP);
	ck_assert_int_eq(ptrace(PTRACE_SYSCALL, pid, 0, 0), 0);
	for (;;) {
		ck_assert_int_eq(dz_waitpid(pid, &st, 10), 0);
		ck_assert_msg(WIFSTOPPED(st), "daemon ended: status %d", st);
		if (WSTOPSIG(st) != (SIGTRAP | 0x80)) {
			ptrace(PTRACE_SYSCALL, pid, 0,
			    (st >> 16) == 0 ? WSTOPSIG(st) : 0);
			continue;
		}
		memset(&si, 0, sizeof si);
		if (ptrace(PTRACE_GET_SYSCALL_INFO, pid, sizeof si, &si) > 0 &&
		    si.op == PTRACE_SYSCALL_INFO_ENTRY && !blocks_sigsys(pid))
			break;
		ptrace(PTRACE_SYSCALL, pid, 0, 0);
	}
	ck_assert_int_eq(ptrace(PTRACE_GETREGS, pid, 0, &regs), 0);
	saved = regs;
	argp[0] = (unsigned long *)&regs.rdi;
	argp[1] = (unsigned long *)&regs.rsi;
	argp[2] = (unsigned long *)&regs.rdx;
	argp[3] = (unsigned long *)&regs.r10;
	argp[4] = (unsigned long *)&regs.r8;
	argp[5] = (unsigned long *)&regs.r9;
	for (i = 0; i < 6; i++)
		*argp[i] = inj->arg[i];
	if (inj->str != NULL) {
		/* Dead stack, well below the red zone. */
		at = (regs.rsp - 1024 - strlen(inj->str) - 1) & ~15UL;
		poke(pid, at, inj->str, strlen(inj->str) + 1);
		*argp[inj->str_arg] = at;
	}
	regs.orig_rax = (unsigned long)inj->nr;
	ck_assert_int_eq(ptrace(PTRACE_SETREGS, pid, 0, &regs), 0);
	ck_assert_int_eq(ptrace(PTRACE_SYSCALL, pid, 0, 0), 0);
	ck_assert_int_eq(dz_waitpid(pid, &st, 10), 0);
	ck_assert_msg(WIFSTOPPED(st) && WSTOPSIG(st) == (SIGTRAP | 0x80),
	    "no exit stop: status %d", st);
	if (sigsys_in(pid, "SigPnd")) {
		/* A trap: the call was not made (its registers rolled back)
		 * and the filter's SIGSYS is pending; deliver it. */
		ck_assert_int_eq(ptrace(PTRACE_SYSCALL, pid, 0, 0), 0);
		for (;;) {
			ck_assert_int_eq(dz_waitpid(pid, &st, 10), 0);
			ck_assert_msg(WIFSTOPPED(st), "status %d", st);
			if (WSTOPSIG(st) == SIGSYS && (st >> 16) == 0)
				break;
			ptrace(PTRACE_SYSCALL, pid, 0, 0);
		}
		ck_assert_int_eq(ptrace(PTRACE_DETACH, pid, 0, SIGSYS), 0);
		return INJ_TRAPPED;
	}
	/* The exit stop of the injected call: its result, then the
	 * daemon's own call made again. */
	ck_assert_int_eq(ptrace(PTRACE_GETREGS, pid, 0, &regs), 0);
	inj->ret = (long)regs.rax;
	saved.rip -= 2;
	saved.rax = saved.orig_rax;
	ck_assert_int_eq(ptrace(PTRACE_SETREGS, pid, 0, &saved), 0);
	ck_assert_int_eq(ptrace(PTRACE_DETACH, pid, 0, 0), 0);
	return INJ_RETURNED;
}
#endif

/* SKIP unless the injection can run here (root or not, our child). */
static bool
can_inject(const char *what)
{
	if (!confined_build(what))
		return false;
#ifndef __x86_64__
	dz_skip_na("%s: rewriting a system call is implemented for x86-64 "
		   "only",
	    what);
	return false;
#else
	return true;
#endif
}

/* The daemon's descriptor open on directory dir (its O_PATH one). */
static int
dir_fd_of(pid_t pid, const char *dir)
{
	char	       path[320], link[PATH_MAX], want[PATH_MAX];
	struct dirent *de;
	DIR	      *dp;
	ssize_t	       n;
	int	       fd = -1;

	ck_assert(realpath(dir, want) != NULL);
	snprintf(path, sizeof path, "/proc/%d/fd", (int)pid);
	ck_assert_ptr_nonnull(dp = opendir(path));
	while (fd < 0 && (de = readdir(dp)) != NULL) {
		snprintf(path, sizeof path, "/proc/%d/fd/%s", (int)pid,
		    de->d_name);
		if ((n = readlink(path, link, sizeof link - 1)) <= 0)
			continue;
		link[n] = '\0';
		if (strcmp(link, want) == 0)
			fd = atoi(de->d_name);
	}
	closedir(dp);
	ck_assert_msg(fd >= 0, "the daemon holds no descriptor on %s", dir);
	return fd;
}

/*
 * The address in pid of a static variable of build/dazaid (nm: its
 * offset in the executable, plus where the executable is mapped), or 0
 * (said with a SKIP) if nm cannot tell.
 */
static unsigned long
symbol_addr(pid_t pid, const char *sym)
{
	char	      cmd[PATH_MAX + 64], line[PATH_MAX + 128];
	char	      exe[PATH_MAX], name[128], type;
	unsigned long value = 0, lo, hi, off, base = 0;
	FILE	     *fp;

	snprintf(cmd, sizeof cmd, "nm %s 2>/dev/null", dz_bin("dazaid"));
	if ((fp = popen(cmd, "r")) == NULL)
		return 0;
	while (fgets(line, sizeof line, fp) != NULL)
		if (sscanf(line, "%lx %c %127s", &lo, &type, name) == 3 &&
		    strcmp(name, sym) == 0)
			value = lo;
	pclose(fp);
	if (value == 0) {
		dz_skip("nm found no %s in %s (binutils, unstripped build)",
		    sym, dz_bin("dazaid"));
		return 0;
	}
	ck_assert(realpath(dz_bin("dazaid"), exe) != NULL);
	snprintf(cmd, sizeof cmd, "/proc/%d/maps", (int)pid);
	ck_assert_ptr_nonnull(fp = fopen(cmd, "r"));
	while (base == 0 && fgets(line, sizeof line, fp) != NULL) {
		line[strcspn(line, "\n")] = '\0';
		if (sscanf(line, "%lx-%lx %*s %lx", &lo, &hi, &off) == 3 &&
		    off == 0 && strlen(line) > strlen(exe) &&
		    strcmp(line + strlen(line) - strlen(exe), exe) == 0)
			base = lo;
	}
	fclose(fp);
	ck_assert_msg(base != 0, "%s not mapped in %d", exe, (int)pid);
	return base + value;
}

/*
 * Where the daemon's one socket-name buffer is: the value of its
 * hard_name pointer (a read-only page of its own), or 0 (said).
 */
static unsigned long
name_buffer(pid_t pid)
{
	unsigned long at = symbol_addr(pid, "hard_name"), p = 0;

	if (at != 0)
		ck_assert_int_eq(memscan_peek(pid, at, &p, sizeof p), 0);
	return p;
}

/* The permissions of pid's mapping holding addr ("r--p"), into perms. */
static void
perms_at(pid_t pid, unsigned long addr, char perms[8])
{
	char	      path[64], line[512], p[8];
	unsigned long lo, hi;
	FILE	     *fp;

	snprintf(perms, 8, "none");
	snprintf(path, sizeof path, "/proc/%d/maps", (int)pid);
	ck_assert_ptr_nonnull(fp = fopen(path, "r"));
	while (fgets(line, sizeof line, fp) != NULL)
		if (sscanf(line, "%lx-%lx %7s", &lo, &hi, p) == 3 &&
		    addr >= lo && addr < hi) {
			memcpy(perms, p, 8);
			break;
		}
	fclose(fp);
}

/* Does path exist (lstat)? */
static bool
exists(const char *path)
{
	struct stat st;

	return lstat(path, &st) == 0;
}

/* The refusal line of the SIGSYS handler for call nr (name). */
static void
assert_trap_line(const struct dz *d, long nr, const char *name)
{
	char want[160];

	snprintf(want, sizeof want,
	    "dazaid: seccomp: refused system call "
	    "%ld (%s); secret wiped; WOULD SIGKILL (dry-run: exiting 0 "
	    "instead)",
	    nr, name);
	ck_assert_msg(dz_log_has(d, want), "log lacks: %s", want);
}

#ifdef __x86_64__
/*
 * Start a dry-run daemon on sock (NULL: its own directory), inject inj
 * and expect the trap: the daemon ends through its SIGSYS handler, with
 * the line naming the call, exit 0.
 */
static void
expect_trap(const char *sock, struct inject *inj, const char *name,
    void (*fill)(struct dz *, struct inject *, void *), void *arg)
{
	struct dz d;

	if (sock != NULL)
		ck_assert_int_eq(dz_start_at(&d, sock, NULL), 0);
	else
		ck_assert_int_eq(dz_start(&d, NULL), 0);
	ck_assert_int_eq(proc_status(d.pid, "Seccomp"), 2);
	if (fill != NULL)
		fill(&d, inj, arg);
	ck_assert_msg(inject_call(d.pid, inj) == INJ_TRAPPED,
	    "not trapped: "
	    "returned %ld",
	    inj->ret);
	ck_assert_int_eq(dz_wait(&d, 10), 0);
	ck_assert_msg(WIFEXITED(d.status) && WEXITSTATUS(d.status) == 0,
	    "status %d", d.status);
	assert_trap_line(&d, inj->nr, name);
	dz_stop(&d);
}
#endif

/* What an unlinkat injection names, filled in once the daemon runs. */
struct unlink_case {
	const char *dir;      /* the socket's directory */
	const char *str;      /* the path (on its stack) */
	bool	    cwd;      /* AT_FDCWD, not the dir */
	bool	    own_name; /* the daemon's own name buffer */
	int	    flags;
};

#ifdef __x86_64__
/* Fill an unlinkat(2) injection from an unlink_case. */
static void
fill_unlink(struct dz *d, struct inject *inj, void *arg)
{
	const struct unlink_case *uc = arg;

	memset(inj, 0, sizeof *inj);
	inj->nr = SYS_unlinkat;
	inj->arg[0] = uc->cwd ? (unsigned long)(long)AT_FDCWD :
				(unsigned long)dir_fd_of(d->pid, uc->dir);
	inj->arg[2] = (unsigned long)uc->flags;
	if (uc->own_name) {
		inj->arg[1] = name_buffer(d->pid);
		ck_assert_msg(inj->arg[1] != 0, "no hard_name");
	} else {
		inj->str = uc->str;
		inj->str_arg = 1;
	}
}
#endif

/*
 * A socket in a directory shared with another file (an explicit
 * --socket beside something else): the kernel cannot hold a removal to
 * the socket there, so the confined daemon is granted none. unlinkat of
 * the sibling by name, by absolute path, by a ".." path, and with
 * AT_REMOVEDIR (of a subdirectory) each traps; the sibling and the
 * subdirectory stay. At SIGTERM the socket is left, with a line saying
 * so, and the next start replaces it.
 */
START_TEST(unlink_shared_dir)
{
#ifdef __x86_64__
	char		   dir[64], run[96], sock[128], sib[128], sub[128];
	char		   dotdot[160];
	const char	  *args[] = { "--verbose", NULL };
	struct unlink_case cases[4];
	struct inject	   inj;
	struct dz	   d;
	int		   i;

	if (!can_inject("unlink_shared_dir"))
		return;
	dz_tmpdir(dir, sizeof dir);
	snprintf(run, sizeof run, "%s/shared", dir);
	ck_assert_int_eq(mkdir(run, 0700), 0);
	snprintf(sock, sizeof sock, "%s/x.sock", run);
	snprintf(sib, sizeof sib, "%s/sibling", run);
	snprintf(sub, sizeof sub, "%s/subdir", run);
	snprintf(dotdot, sizeof dotdot, "../shared/sibling");
	dz_write_file(sib, "keep\n", 5);
	ck_assert_int_eq(mkdir(sub, 0700), 0);
	memset(cases, 0, sizeof cases);
	for (i = 0; i < 4; i++)
		cases[i].dir = run;
	cases[0].str = "sibling";
	cases[1].str = sib;
	cases[2].str = dotdot;
	cases[3].str = "subdir";
	cases[3].flags = AT_REMOVEDIR;
	for (i = 0; i < 4; i++) {
		expect_trap(sock, &inj, "unlinkat", fill_unlink, &cases[i]);
		ck_assert_msg(exists(sib) && exists(sub),
		    "case %d: the "
		    "sibling or the subdirectory was removed",
		    i);
		/* The hard path left the socket: it may not remove it. */
		ck_assert_msg(exists(sock), "case %d: the socket was removed",
		    i);
	}

	ck_assert_int_eq(dz_start_at(&d, sock, args), 0);
	ck_assert(dz_log_has(&d,
	    "will be left at exit for the next start "
	    "to replace: its directory holds other entries"));
	kill(d.pid, SIGTERM);
	ck_assert_int_eq(dz_wait(&d, 10), 0);
	ck_assert_msg(WIFEXITED(d.status) && WEXITSTATUS(d.status) == 0,
	    "status %d", d.status);
	ck_assert(exists(sock) && exists(sib));
	ck_assert(dz_log_has(&d,
	    ": left for the next start to replace "
	    "(confined, the daemon may not remove it: its directory holds "
	    "other entries"));
	ck_assert(dz_log_has(&d, "socket left\n"));
	assert_no_refusal(&d);
	dz_stop(&d);
	/* The next start replaces the dead socket. */
	ck_assert_int_eq(dz_start_at(&d, sock, NULL), 0);
	kill(d.pid, SIGTERM);
	ck_assert_int_eq(dz_wait(&d, 10), 0);
	ck_assert(WIFEXITED(d.status) && WEXITSTATUS(d.status) == 0);
	dz_stop(&d);
#else
	can_inject("unlink_shared_dir");
#endif
}
END_TEST

/*
 * The socket in a directory of its own (as the default path has), with
 * Landlock: the removal granted is unlinkat(the socket's directory, the
 * daemon's one name buffer, 0). The socket's own name from another
 * buffer, an absolute path, a ".." path, AT_REMOVEDIR and AT_FDCWD with
 * the right buffer each trap. The name buffer is on a read-only page;
 * rewritten to "../sibling" all the same (here by ptrace; a compromised
 * daemon would mprotect it first) it passes the filter and Landlock
 * refuses it (EACCES): the sibling outside stays. Then, the name put
 * back, SIGTERM removes the socket.
 */
START_TEST(unlink_own_dir)
{
#ifdef __x86_64__
	char		   run[96], sib[128], abs_sib[128];
	struct unlink_case uc;
	struct inject	   inj;
	struct dz	   d;
	char		   perms[8];
	unsigned long	   name;
	int		   i;

	if (!can_inject("unlink_own_dir"))
		return;
	if (landlock_abi() == 0) {
		dz_skip_na(
		    "unlink_own_dir: the kernel offers no Landlock, so "
		    "no removal is granted (sigterm_removes_socket checks "
		    "that the socket is left)");
		return;
	}
	for (i = 0; i < 5; i++) {
		memset(&uc, 0, sizeof uc);
		dz_init(&d, NULL); /* a fresh directory's paths */
		switch (i) {
		case 0:
			uc.str = "dazai.sock";
			break;
		case 1:
			uc.str = abs_sib;
			break;
		case 2:
			uc.str = "../sibling";
			break;
		case 3:
			uc.own_name = true;
			uc.flags = AT_REMOVEDIR;
			break;
		case 4:
			uc.own_name = true;
			uc.cwd = true;
			break;
		}
		/* expect_trap starts its own daemon in a fresh directory:
		 * its run directory is found from the socket it is given. */
		snprintf(run, sizeof run, "%s/run", d.dir);
		snprintf(sib, sizeof sib, "%s/sibling", d.dir);
		snprintf(abs_sib, sizeof abs_sib, "%s", sib);
		dz_write_file(sib, "keep\n", 5);
		uc.dir = run;
		snprintf(d.sock, sizeof d.sock, "%s/dazai.sock", run);
		expect_trap(d.sock, &inj, "unlinkat", fill_unlink, &uc);
		ck_assert_msg(exists(sib), "case %d: the sibling was removed",
		    i);
		/* Trapped, the hard path removed the socket itself. */
		ck_assert_msg(!exists(d.sock), "case %d: the socket was left",
		    i);
	}

	ck_assert_int_eq(dz_start(&d, NULL), 0);
	snprintf(run, sizeof run, "%s/run", d.dir);
	snprintf(sib, sizeof sib, "%s/sibling", d.dir);
	dz_write_file(sib, "keep\n", 5);
	ck_assert((name = name_buffer(d.pid)) != 0);
	/* The name is on a read-only page: a plain write to it faults. */
	perms_at(d.pid, name, perms);
	ck_assert_str_eq(perms, "r--p");
	memset(&inj, 0, sizeof inj);
	inj.nr = SYS_unlinkat;
	inj.arg[0] = (unsigned long)dir_fd_of(d.pid, run);
	inj.arg[1] = name;
	ck_assert_int_eq(ptrace(PTRACE_SEIZE, d.pid, 0, 0), 0);
	ck_assert_int_eq(ptrace(PTRACE_INTERRUPT, d.pid, 0, 0), 0);
	ck_assert_int_eq(dz_waitpid(d.pid, &i, 10), 0);
	poke(d.pid, name, "../sibling", 11);
	ck_assert_int_eq(ptrace(PTRACE_DETACH, d.pid, 0, 0), 0);
	ck_assert_int_eq(inject_call(d.pid, &inj), INJ_RETURNED);
	ck_assert_msg(inj.ret == -EACCES, "unlinkat ../sibling returned %ld",
	    inj.ret);
	ck_assert(exists(sib));
	ck_assert(dz_alive(&d));
	ck_assert_int_eq(ptrace(PTRACE_SEIZE, d.pid, 0, 0), 0);
	ck_assert_int_eq(ptrace(PTRACE_INTERRUPT, d.pid, 0, 0), 0);
	ck_assert_int_eq(dz_waitpid(d.pid, &i, 10), 0);
	poke(d.pid, name, "dazai.sock", 11);
	ck_assert_int_eq(ptrace(PTRACE_DETACH, d.pid, 0, 0), 0);
	kill(d.pid, SIGTERM);
	ck_assert_int_eq(dz_wait(&d, 10), 0);
	ck_assert_msg(WIFEXITED(d.status) && WEXITSTATUS(d.status) == 0,
	    "status %d", d.status);
	ck_assert_msg(!exists(d.sock), "%s left behind", d.sock);
	ck_assert(exists(sib));
	assert_no_refusal(&d);
	dz_stop(&d);
#else
	can_inject("unlink_own_dir");
#endif
}
END_TEST

/*
 * Each class of call the allowlist must refuse, refused by seccomp itself
 * and not only by Landlock behind it: the injected call traps (the
 * SIGSYS handler's line names it, the dry-run daemon exits 0) rather
 * than return EACCES.
 */
#ifdef __x86_64__
/* The start of the first mapping of pid (its executable's first page). */
static unsigned long
first_mapping(pid_t pid)
{
	char	      path[64];
	unsigned long lo = 0;
	FILE	     *fp;

	snprintf(path, sizeof path, "/proc/%d/maps", (int)pid);
	ck_assert_ptr_nonnull(fp = fopen(path, "r"));
	ck_assert_int_eq(fscanf(fp, "%lx-", &lo), 1);
	fclose(fp);
	return lo;
}

/* mprotect's address: a page of the daemon's executable. */
static void
fill_text_page(struct dz *d, struct inject *inj, void *arg)
{
	(void)arg;
	inj->arg[0] = first_mapping(d->pid);
}
#endif

/* openat(2) of a file anyone may read: a trap, not Landlock's EACCES. */
START_TEST(refuse_openat)
{
#ifdef __x86_64__
	struct inject inj;

	if (!can_inject("refuse_openat"))
		return;
	memset(&inj, 0, sizeof inj);
	inj.nr = SYS_openat;
	inj.arg[0] = (unsigned long)(long)AT_FDCWD;
	inj.str = "/etc/passwd";
	inj.str_arg = 1;
	inj.arg[2] = O_RDONLY | O_CLOEXEC;
	expect_trap(NULL, &inj, "openat", NULL, NULL);
#else
	can_inject("refuse_openat");
#endif
}
END_TEST

/*
 * A seccomp trap is a panic for the warden too: the SIGSYS handler tells
 * it, with its own reason, once the secret is wiped (dry-run: WOULD RUN).
 */
START_TEST(trap_tells_the_warden)
{
#ifdef __x86_64__
	char	      dir[64], conf[128], text[256];
	const char   *args[] = { "--config", conf, NULL };
	struct inject inj;
	struct dz     d;

	if (!can_inject("trap_tells_the_warden"))
		return;
	dz_tmpdir(dir, sizeof dir);
	snprintf(conf, sizeof conf, "%s/dazai.conf", dir);
	snprintf(text, sizeof text,
	    "on_panic = echo \"$DAZAI_REASON\" > "
	    "%s/marker\n",
	    dir);
	dz_write_file(conf, text, strlen(text));
	ck_assert_int_eq(dz_start(&d, args), 0);
	memset(&inj, 0, sizeof inj);
	inj.nr = SYS_openat;
	inj.arg[0] = (unsigned long)(long)AT_FDCWD;
	inj.str = "/etc/passwd";
	inj.str_arg = 1;
	inj.arg[2] = O_RDONLY | O_CLOEXEC;
	ck_assert(inject_call(d.pid, &inj) == INJ_TRAPPED);
	ck_assert_int_eq(dz_wait(&d, 10), 0);
	ck_assert_msg(dz_log_wait(&d,
			  "dazaid: warden: panic (dry-run): "
			  "seccomp trap: a refused system call",
			  5),
	    "the warden was not "
	    "told of the trap");
	ck_assert(dz_log_wait(&d, "WOULD RUN: echo", 5));
	dz_stop(&d);
#else
	can_inject("trap_tells_the_warden");
#endif
}
END_TEST

/* mmap(2) of executable memory. */
START_TEST(refuse_mmap_exec)
{
#ifdef __x86_64__
	struct inject inj;

	if (!can_inject("refuse_mmap_exec"))
		return;
	memset(&inj, 0, sizeof inj);
	inj.nr = SYS_mmap;
	inj.arg[1] = 4096;
	inj.arg[2] = PROT_READ | PROT_EXEC;
	inj.arg[3] = MAP_PRIVATE | MAP_ANONYMOUS;
	inj.arg[4] = (unsigned long)-1L;
	expect_trap(NULL, &inj, "mmap", NULL, NULL);
#else
	can_inject("refuse_mmap_exec");
#endif
}
END_TEST

/* mprotect(2) making a page executable (one of its own code pages). */
START_TEST(refuse_mprotect_exec)
{
#ifdef __x86_64__
	struct inject inj;

	if (!can_inject("refuse_mprotect_exec"))
		return;
	memset(&inj, 0, sizeof inj);
	inj.nr = SYS_mprotect;
	inj.arg[1] = 4096;
	inj.arg[2] = PROT_READ | PROT_WRITE | PROT_EXEC;
	expect_trap(NULL, &inj, "mprotect", fill_text_page, NULL);
#else
	can_inject("refuse_mprotect_exec");
#endif
}
END_TEST

/* execve(2) of a program (Landlock would refuse to execute it). */
START_TEST(refuse_execve)
{
#ifdef __x86_64__
	struct inject inj;

	if (!can_inject("refuse_execve"))
		return;
	memset(&inj, 0, sizeof inj);
	inj.nr = SYS_execve;
	inj.str = "/bin/true";
	inj.str_arg = 0;
	expect_trap(NULL, &inj, "execve", NULL, NULL);
#else
	can_inject("refuse_execve");
#endif
}
END_TEST

/* ioctl(2) other than FIONREAD: TIOCSTI, typing into a terminal. */
START_TEST(refuse_ioctl)
{
#ifdef __x86_64__
	struct inject inj;

	if (!can_inject("refuse_ioctl"))
		return;
	memset(&inj, 0, sizeof inj);
	inj.nr = SYS_ioctl;
	inj.arg[1] = TIOCSTI;
	inj.str = "x";
	inj.str_arg = 2;
	expect_trap(NULL, &inj, "ioctl", NULL, NULL);
#else
	can_inject("refuse_ioctl");
#endif
}
END_TEST

Suite *
sandbox_suite(void)
{
	Suite *s = suite_create("sandbox");
	TCase *tc = tcase_create("sandbox");

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
	tcase_add_test(tc, unlink_shared_dir);
	tcase_add_test(tc, unlink_own_dir);
	tcase_add_test(tc, refuse_openat);
	tcase_add_test(tc, trap_tells_the_warden);
	tcase_add_test(tc, refuse_mmap_exec);
	tcase_add_test(tc, refuse_mprotect_exec);
	tcase_add_test(tc, refuse_execve);
	tcase_add_test(tc, refuse_ioctl);
	suite_add_tcase(s, tc);
	return s;
}
