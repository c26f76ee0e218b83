/* SPDX-License-Identifier: ISC */
/*
 * The secret leaves no trace: the daemon's memory read from outside
 * (tests/memscan.c) while it holds a random marker secret, and at the last
 * system call of every exit path, stopped there with ptrace. Reading
 * another process's memory needs root; elsewhere these print SKIP.
 */
#include <sys/prctl.h>
#include <sys/ptrace.h>
#include <sys/random.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/user.h>
#include <sys/wait.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "dazai/secmem.h"

#include "helpers.h"
#include "memscan.h"

#define MARKER_LEN 32
#define NOBODY	   65534

struct marker {
	unsigned char bytes[MARKER_LEN];
	char	      dir[64];
	char	      path[128];
};

/*
 * SKIP (return true) unless root, and in an AddressSanitizer build (make
 * sanitize): its shadow memory spans terabytes of mappings and its
 * allocator keeps freed memory in quarantine, so a scan there says nothing
 * about the daemon users run. make check scans the normal build.
 */
static bool
skip_unless_root(const char *what)
{
	if (dz_is_asan_build(dz_bin("dazaid"))) {
		dz_skip_na("%s: %s is an AddressSanitizer build; memory "
			   "scans run on the normal build",
		    what, dz_bin("dazaid"));
		return true;
	}
	if (dz_is_root())
		return false;
	dz_skip("%s: reading another process's memory needs root", what);
	return true;
}

/* A random marker secret in a file of its own directory. */
static void
make_marker(struct marker *m)
{
	ck_assert_int_eq(getrandom(m->bytes, sizeof m->bytes, 0), MARKER_LEN);
	dz_tmpdir(m->dir, sizeof m->dir);
	snprintf(m->path, sizeof m->path, "%s/secret", m->dir);
	dz_write_file(m->path, m->bytes, sizeof m->bytes);
}

/* Start the daemon on the marker with extra arguments (NULL-terminated). */
static void
start_on_marker(struct dz *d, struct marker *m, const char *a1, const char *a2,
    const char *a3)
{
	const char *args[8];
	int	    n = 0;

	args[n++] = "--secret-file";
	args[n++] = m->path;
	if (a1 != NULL)
		args[n++] = a1;
	if (a2 != NULL)
		args[n++] = a2;
	if (a3 != NULL)
		args[n++] = a3;
	args[n] = NULL;
	ck_assert_int_eq(dz_start(d, args), 0);
}

/* Scan the daemon for the marker. */
static struct memscan
scan(pid_t pid, const struct marker *m)
{
	struct memscan ms;

	ck_assert_msg(memscan_pid(pid, m->bytes, MARKER_LEN, &ms) == 0,
	    "cannot read /proc/%d/mem: %s", (int)pid, strerror(errno));
	ck_assert_int_gt(ms.regions, 5);
	ck_assert_int_gt(ms.bytes, 100000);
	return ms;
}

/* Scan the daemon for MARKER_LEN bytes other than the marker. */
static struct memscan
scan_for(pid_t pid, const unsigned char *needle)
{
	struct marker m;

	memcpy(m.bytes, needle, MARKER_LEN);
	return scan(pid, &m);
}

/* Is every byte zero? */
static bool
all_zero(const unsigned char *b, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (b[i] != 0)
			return false;
	return true;
}

/*
 * The shielded truth while the marker is held: the plaintext is nowhere
 * in the daemon's memory; two secure mappings exist (locked, undumpable,
 * wiped in a forked child, no access while idle, a guard page on each
 * side): the shield, whose 16 KiB prekey is random and whose key and
 * scratch pages are zero between operations, and the buffer, which holds
 * the ciphertext, found once in the whole process, there. The samples go
 * into sh, for the scans at death.
 */
static void
assert_shielded(pid_t pid, const struct marker *m, struct memscan_shield *sh)
{
	struct memscan_map *mm[2];
	struct memscan	    ms = scan(pid, m);
	unsigned char	   *shield;
	char		    below[8], above[8];
	size_t		    slen;
	int		    i;

	ck_assert_msg(ms.hits == 0,
	    "plaintext marker found %d times (first "
	    "at %lx in %s %s)",
	    ms.hits, ms.hit[0].addr, ms.hit[0].perms, ms.hit[0].name);
	ck_assert_msg(memscan_shield(pid, sh) == 0,
	    "no shield and buffer "
	    "pair of secure mappings: %s",
	    strerror(errno));
	mm[0] = &sh->shield;
	mm[1] = &sh->buf;
	for (i = 0; i < 2; i++) {
		ck_assert_msg(memscan_has_flag(mm[i]->flags, "wf"),
		    "VmFlags:%s", mm[i]->flags);
		ck_assert_str_eq(mm[i]->perms, "---p"); /* idle */
		ck_assert_int_eq(memscan_neighbours(pid, mm[i]->start, below,
				     above),
		    0);
		ck_assert_str_eq(below, "---p");
		ck_assert_str_eq(above, "---p");
	}
	slen = sh->shield.end - sh->shield.start;
	ck_assert_ptr_nonnull(shield = malloc(slen));
	ck_assert_int_eq(memscan_peek(pid, sh->shield.start, shield, slen), 0);
	ck_assert_msg(!all_zero(shield, 16384), "the prekey is zero");
	ck_assert_msg(all_zero(shield + 16384, slen - 16384),
	    "key or scratch page not zero while idle");
	free(shield);
	ck_assert_msg(!all_zero(sh->ct, MARKER_LEN), "no ciphertext");
	ms = scan_for(pid, sh->ct);
	ck_assert_msg(ms.hits == 1 && ms.hit[0].addr == sh->buf.start,
	    "ciphertext found %d times", ms.hits);
	ms = scan_for(pid, sh->prekey);
	ck_assert_msg(ms.hits == 1, "prekey sample found %d times", ms.hits);
	ms = scan_for(pid, sh->prekey_end);
	ck_assert_msg(ms.hits == 1, "prekey's last bytes found %d times",
	    ms.hits);
	/* The derived key exists only while an operation runs. */
	ms = scan_for(pid, sh->key);
	ck_assert_msg(ms.hits == 0,
	    "derived key found %d times while idle "
	    "(first at %lx in %s %s)",
	    ms.hits, ms.hit[0].addr, ms.hit[0].perms, ms.hit[0].name);
}

START_TEST(held_anonymous_file)
{
	struct memscan_shield sh;
	struct marker	      m;
	struct dz	      d;
	int		      hb;

	if (skip_unless_root("held_anonymous_file"))
		return;
	make_marker(&m);
	start_on_marker(&d, &m, "--no-secretmem", NULL, NULL);
	hb = dz_hello(d.sock);
	assert_shielded(d.pid, &m, &sh);
	ck_assert(dz_send(hb, "PING\n"));
	dz_expect(hb, "PONG");
	assert_shielded(d.pid, &m, &sh);
	close(hb);
	ck_assert_int_eq(dz_wait(&d, 10), 0);
	dz_stop(&d);
}
END_TEST

START_TEST(held_anonymous_pipe)
{
	struct memscan_shield sh;
	struct marker	      m;
	struct dz	      d;
	char		      fdarg[16];
	const char	     *argv[] = { dz_bin("dazaid"), "--socket", d.sock,
			  "--secret-fd", fdarg, "--no-secretmem", NULL };
	int		      p[2];

	if (skip_unless_root("held_anonymous_pipe"))
		return;
	make_marker(&m);
	dz_init(&d, NULL);
	ck_assert_int_eq(pipe(p), 0);
	ck_assert(write(p[1], m.bytes, MARKER_LEN) == MARKER_LEN);
	close(p[1]);
	snprintf(fdarg, sizeof fdarg, "%d", p[0]);
	d.pid = dz_spawn(argv, d.log, p[0]);
	close(p[0]);
	ck_assert(dz_log_wait(&d, "listening on", 10));
	ck_assert(dz_log_has(&d, "secret loaded: 32 bytes"));
	assert_shielded(d.pid, &m, &sh);
	dz_stop(&d);
}
END_TEST

/*
 * LOAD, GET and WIPE over a control connection: the plaintext is nowhere
 * in the daemon (not a line buffer, not a reply queue, not a stack): it
 * went from the socket into the shielded buffer, and GET left no copy;
 * after WIPE neither the ciphertext nor the prekey remains, and a LOAD
 * whose peer gives up half-way leaves nothing either. The secret spans
 * several pages, so the buffer grows on the way.
 */
START_TEST(control_load_get_wipe)
{
	const char *const args[] = { "--empty", "--no-secretmem", NULL };
	enum { LEN = 10000, AT = 9000 };
	struct memscan_shield sh;
	struct marker	      m;
	struct memscan	      ms;
	struct dz	      d;
	unsigned char	     *secret, *got;
	char		      line[64];
	int		      fd, i;

	if (skip_unless_root("control_load_get_wipe"))
		return;
	secret = malloc(LEN);
	got = malloc(LEN);
	ck_assert(secret != NULL && got != NULL);
	make_marker(&m);
	for (i = 0; i < LEN; i++)
		secret[i] = (unsigned char)('a' + i % 26);
	memcpy(secret, m.bytes, MARKER_LEN);
	memcpy(secret + AT, m.bytes, MARKER_LEN);
	ck_assert_int_eq(dz_start(&d, args), 0);
	fd = dz_connect(d.sock);
	ck_assert_int_ge(fd, 0);
	snprintf(line, sizeof line, "LOAD %d\n", LEN);
	ck_assert(dz_send(fd, line));
	dz_send_bytes(fd, secret, AT + 10); /* a marker split */
	usleep(100000);
	dz_send_bytes(fd, secret + AT + 10, LEN - AT - 10);
	dz_expect(fd, "OK");
	assert_shielded(d.pid, &m, &sh);

	ck_assert(dz_send(fd, "GET\n"));
	snprintf(line, sizeof line, "SECRET %d", LEN);
	dz_expect(fd, line);
	for (i = 0; i < LEN;) {
		ssize_t n = read(fd, got + i, LEN - i);

		ck_assert_int_gt(n, 0);
		i += (int)n;
	}
	ck_assert(memcmp(got, secret, LEN) == 0);
	assert_shielded(d.pid, &m, &sh);

	ck_assert(dz_send(fd, "WIPE\n"));
	dz_expect(fd, "OK");
	ms = scan(d.pid, &m);
	ck_assert_msg(ms.hits == 0, "after WIPE: marker found %d times",
	    ms.hits);
	ms = scan_for(d.pid, sh.ct);
	ck_assert_msg(ms.hits == 0, "after WIPE: ciphertext found %d times",
	    ms.hits);
	ms = scan_for(d.pid, sh.prekey);
	ck_assert_msg(ms.hits == 0, "after WIPE: prekey found %d times",
	    ms.hits);

	/* Half a LOAD, then the peer gives up: nothing of it stays. */
	ck_assert(dz_send(fd, "LOAD 64\n"));
	dz_send_bytes(fd, m.bytes, MARKER_LEN);
	/* Until the daemon has stored them: shielded, never plain. */
	for (i = 0; i < 500; i++) {
		if (memscan_shield(d.pid, &sh) == 0 &&
		    !all_zero(sh.ct, MARKER_LEN))
			break;
		usleep(10000);
	}
	ck_assert_int_lt(i, 500);
	ck_assert_int_eq(scan(d.pid, &m).hits, 0);
	close(fd);
	ck_assert(dz_log_wait(&d, "the bytes read were wiped", 5));
	ck_assert_int_eq(scan(d.pid, &m).hits, 0);
	ms = scan_for(d.pid, sh.ct);
	ck_assert_msg(ms.hits == 0,
	    "after half a LOAD: its ciphertext found "
	    "%d times",
	    ms.hits);
	ms = scan_for(d.pid, sh.prekey);
	ck_assert_msg(ms.hits == 0,
	    "after half a LOAD: its prekey found %d "
	    "times",
	    ms.hits);
	dz_stop(&d);
	free(secret);
	free(got);
}
END_TEST

START_TEST(held_secretmem)
{
	struct marker  m;
	struct memscan ms;
	struct dz      d;
	int	       hb;

	if (skip_unless_root("held_secretmem"))
		return;
	make_marker(&m);
	start_on_marker(&d, &m, "--verbose", NULL, NULL);
	if (!dz_log_has(&d, "secretmem")) {
		dz_skip_na("held_secretmem: memfd_secret not available");
		dz_stop(&d);
		return;
	}
	ck_assert(dz_log_has(&d, "shielded"));
	hb = dz_hello(d.sock);
	/* The pages left the direct map: not even root reads them here. */
	ms = scan(d.pid, &m);
	ck_assert_msg(ms.hits == 0, "marker readable at %lx (%s %s)",
	    ms.hit[0].addr, ms.hit[0].perms, ms.hit[0].name);
	close(hb);
	ck_assert_int_eq(dz_wait(&d, 10), 0);
	dz_stop(&d);
}
END_TEST

/* What fires an exit path: close the heartbeat or send a signal. */
struct trigger_arg {
	pid_t pid;
	int   sig; /* 0: close hb */
	int   hb;
};

static void
fire(void *arg)
{
	struct trigger_arg *t = arg;

	if (t->sig == 0)
		close(t->hb);
	else
		kill(t->pid, t->sig);
}

/*
 * One exit path: hold the marker shielded, prove the scan sees the
 * ciphertext and the prekey, trigger, and scan for the marker, the
 * ciphertext and the prekey at the entry of every munmap of a secure
 * mapping (a free that unmaps before zeroing leaves them there) and of
 * the final system call.
 */
static void
exit_path(bool armed, int sig, int want_sig, int want_exit, bool unmaps)
{
	struct marker	      m;
	struct memscan_shield sh;
	struct memscan_death  md;
	const void	     *needles[MEMSCAN_NEEDLES];
	unsigned long	      ranges[4];
	struct trigger_arg    t;
	struct dz	      d;
	int		      hb;

	/* LeakSanitizer ptraces its own process at exit; it cannot while we
	 * trace it (the sanitizer build only). */
	setenv("ASAN_OPTIONS", "detect_leaks=0", 1);
	make_marker(&m);
	start_on_marker(&d, &m, "--no-secretmem", armed ? "--arm" : NULL, NULL);
	hb = dz_hello(d.sock);
	/* The scan sees what it seeks. */
	assert_shielded(d.pid, &m, &sh);
	memscan_shield_targets(&sh, m.bytes, needles, ranges);
	t.pid = d.pid;
	t.sig = sig;
	t.hb = hb;
	ck_assert_msg(memscan_trace_death_n(d.pid, needles, MEMSCAN_NEEDLES,
			  MARKER_LEN, ranges, 2, fire, &t, &md) == 0,
	    "tracing the daemon's death failed: %s", strerror(errno));
	d.pid = 0;
	d.status = md.status;
	ck_assert_msg(md.scans >= 1, "no final system call seen");
	ck_assert_msg(md.hits == 0,
	    "marker, ciphertext, prekey or key found "
	    "%d times at death",
	    md.hits);
	ck_assert_msg(md.nonzero == 0,
	    "a secure mapping (prekey, key, "
	    "scratch or buffer) not all zero at death (%d)",
	    md.nonzero);
	ck_assert_msg(md.unmap_hits == 0,
	    "marker, ciphertext or prekey "
	    "still there when a secure mapping was unmapped (%d scans)",
	    md.unmap_scans);
	if (unmaps)
		ck_assert_msg(md.unmap_scans >= 1,
		    "the secure mapping was "
		    "never seen unmapped");
	if (want_sig != 0)
		ck_assert_msg(WIFSIGNALED(d.status) &&
			WTERMSIG(d.status) == want_sig,
		    "status %d", d.status);
	else
		ck_assert_msg(WIFEXITED(d.status) &&
			WEXITSTATUS(d.status) == want_exit,
		    "status %d", d.status);
	if (sig != 0)
		close(hb);
	dz_stop(&d);
}

/*
 * Does the process block SIGSYS now (SigBlk in /proc/PID/status)? A
 * seccomp trap while it is blocked is the kernel's default SIGSYS, with
 * no handler and no wipe: inside libev's signal handlers, which block
 * every signal (dazaid(1), SECURITY CONSIDERATIONS).
 */
static bool
sigsys_blocked(pid_t pid)
{
	char		   path[64], line[256];
	unsigned long long mask = 0;
	FILE		  *fp;

	snprintf(path, sizeof path, "/proc/%d/status", (int)pid);
	if ((fp = fopen(path, "r")) == NULL)
		return true;
	while (fgets(line, sizeof line, fp) != NULL)
		if (strncmp(line, "SigBlk:", 7) == 0)
			mask = strtoull(line + 7, NULL, 16);
	fclose(fp);
	return (mask & (1ULL << (SIGSYS - 1))) != 0;
}

/* The forbidden call, made once. */
struct violation {
	struct trigger_arg t;
	bool		   done;
};

/*
 * At a system-call entry stop of the confined daemon (SIGSYS not
 * blocked), rewrite the call about to be made into socket(2), which it
 * never needs: the kernel runs the seccomp filter after this stop (Linux
 * 4.8 and later), so the filter sees socket(2) and traps. Chosen over
 * gdb's "call", which would catch the SIGSYS itself and abandon the call,
 * and over a trigger compiled into dazaid for tests, which would put a
 * way to issue system calls into the product. x86-64 only (orig_rax).
 */
static void
make_forbidden_call(pid_t pid, void *arg)
{
	struct violation *v = arg;
#ifdef __x86_64__
	struct user_regs_struct regs;

	if (v->done || sigsys_blocked(pid))
		return;
	ck_assert_int_eq(ptrace(PTRACE_GETREGS, pid, 0, &regs), 0);
	regs.orig_rax = SYS_socket;
	ck_assert_int_eq(ptrace(PTRACE_SETREGS, pid, 0, &regs), 0);
	v->done = true;
#else
	(void)pid;
	(void)v;
#endif
}

/* One request on a fresh control connection; the reply must be want. */
static void
control_request(const struct dz *d, const char *line, const char *want)
{
	int fd = dz_connect(d->sock);

	ck_assert_msg(fd >= 0, "connect %s: %s", d->sock, strerror(errno));
	ck_assert(dz_send(fd, line));
	dz_expect(fd, want);
	close(fd);
}

/* How the daemon under test is armed. */
enum violation_mode {
	VIOLATION_DRY_RUN,  /* --dry-run: exit 0 */
	VIOLATION_ARMED,    /* --arm: SIGKILL */
	VIOLATION_ARM_VERB, /* started dry-run, then ARM: SIGKILL */
};

/*
 * A forbidden system call from the confined daemon, which holds the
 * marker and has a registered process: SIGSYS handled (the line naming
 * the call is the handler's own), no marker at the last system call, the
 * registered process SIGKILLed (armed) or named and alive (dry-run), and
 * the documented end: exit 0 after WOULD SIGKILL (dry-run), SIGKILL
 * (armed, also when ARM came after the start).
 */
static void
seccomp_violation(const char *what, enum violation_mode mode)
{
	struct marker	      m;
	struct memscan_shield sh;
	struct memscan_death  md;
	const void	     *needles[MEMSCAN_NEEDLES];
	unsigned long	      ranges[4];
	struct violation      v;
	struct dz	      d;
	char		      want[160], line[64];
	bool		      armed = mode != VIOLATION_DRY_RUN;
	pid_t		      child;
	int		      st;

	if (skip_unless_root(what))
		return;
#ifndef __x86_64__
	dz_skip_na("%s: rewriting a system call is implemented for x86-64 "
		   "only",
	    what);
	return;
#endif
	make_marker(&m);
	start_on_marker(&d, &m, "--no-secretmem",
	    mode == VIOLATION_ARMED ? "--arm" : NULL, NULL);
	/* The scan sees what it seeks. */
	assert_shielded(d.pid, &m, &sh);
	child = dz_sleeper();
	snprintf(line, sizeof line, "REGISTER pid=%d\n", (int)child);
	control_request(&d, line, "OK");
	if (mode == VIOLATION_ARM_VERB)
		control_request(&d, "ARM\n", "OK");
	memscan_shield_targets(&sh, m.bytes, needles, ranges);
	memset(&v, 0, sizeof v);
	v.t.pid = d.pid;
	v.t.sig = SIGHUP; /* a wake-up: logged and ignored */
	ck_assert_msg(memscan_trace_death_at(d.pid, needles, MEMSCAN_NEEDLES,
			  MARKER_LEN, ranges, 2, fire, make_forbidden_call, &v,
			  &md) == 0,
	    "tracing the daemon's death failed: %s", strerror(errno));
	d.pid = 0;
	d.status = md.status;
	ck_assert(v.done);
	ck_assert_msg(md.scans >= 1,
	    "no final system call seen (status "
	    "%d)",
	    d.status);
	ck_assert_msg(md.hits == 0,
	    "marker, ciphertext, prekey or key found "
	    "%d times at death",
	    md.hits);
	ck_assert_msg(md.nonzero == 0,
	    "a secure mapping (prekey, key, "
	    "scratch or buffer) not all zero at death (%d)",
	    md.nonzero);
	if (armed)
		ck_assert_msg(WIFSIGNALED(d.status) &&
			WTERMSIG(d.status) == SIGKILL,
		    "status %d", d.status);
	else
		ck_assert_msg(WIFEXITED(d.status) && WEXITSTATUS(d.status) == 0,
		    "status %d", d.status);
	snprintf(want, sizeof want,
	    "dazaid: seccomp: refused system call "
	    "%d (socket); secret wiped; %s",
	    SYS_socket,
	    armed ? "SIGKILL" : "WOULD SIGKILL (dry-run: exiting 0 instead)");
	ck_assert_msg(dz_log_has(&d, want), "log lacks: %s", want);
	if (armed) {
		/* The handler killed it through its pidfd. */
		ck_assert_int_eq(dz_waitpid(child, &st, 10), 0);
		ck_assert_msg(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL,
		    "%s: registered child status %d", what, st);
	} else {
		snprintf(want, sizeof want,
		    "dazaid: WOULD SIGKILL pid %d "
		    "(registered; dry-run)",
		    (int)child);
		ck_assert_msg(dz_log_has(&d, want), "log lacks: %s", want);
		ck_assert_msg(waitpid(child, &st, WNOHANG) == 0,
		    "%s: the registered child died in a dry run", what);
		kill(child, SIGKILL);
		dz_waitpid(child, &st, 10);
	}
	dz_stop(&d);
}

START_TEST(death_seccomp_dry_run)
{
	seccomp_violation("death_seccomp_dry_run", VIOLATION_DRY_RUN);
}
END_TEST

START_TEST(death_seccomp_armed)
{
	seccomp_violation("death_seccomp_armed", VIOLATION_ARMED);
}
END_TEST

START_TEST(death_seccomp_arm_verb)
{
	seccomp_violation("death_seccomp_arm_verb", VIOLATION_ARM_VERB);
}
END_TEST

START_TEST(death_loss_dry_run)
{
	if (!skip_unless_root("death_loss_dry_run"))
		exit_path(false, 0, 0, 0, true);
}
END_TEST

START_TEST(death_loss_armed)
{
	if (!skip_unless_root("death_loss_armed"))
		exit_path(true, 0, SIGKILL, 0, false);
}
END_TEST

START_TEST(death_sigusr1_armed)
{
	if (!skip_unless_root("death_sigusr1_armed"))
		exit_path(true, SIGUSR1, SIGKILL, 0, false);
}
END_TEST

START_TEST(death_sigusr2_dry_run)
{
	if (!skip_unless_root("death_sigusr2_dry_run"))
		exit_path(false, SIGUSR2, 0, 0, false);
}
END_TEST

START_TEST(death_sigusr2_armed)
{
	if (!skip_unless_root("death_sigusr2_armed"))
		exit_path(true, SIGUSR2, SIGKILL, 0, false);
}
END_TEST

START_TEST(death_sigterm)
{
	if (!skip_unless_root("death_sigterm"))
		exit_path(true, SIGTERM, 0, 0, true);
}
END_TEST

START_TEST(death_sigsegv)
{
	if (!skip_unless_root("death_sigsegv"))
		exit_path(false, SIGSEGV, SIGSEGV, 0, false);
}
END_TEST

START_TEST(death_sigusr1_dry_run)
{
	if (!skip_unless_root("death_sigusr1_dry_run"))
		exit_path(false, SIGUSR1, 0, 0, true);
}
END_TEST

START_TEST(death_sigquit)
{
	if (!skip_unless_root("death_sigquit"))
		exit_path(true, SIGQUIT, SIGQUIT, 0, false);
}
END_TEST

START_TEST(death_sigalrm)
{
	if (!skip_unless_root("death_sigalrm"))
		exit_path(false, SIGALRM, SIGALRM, 0, false);
}
END_TEST

START_TEST(death_sigrtmin)
{
	if (!skip_unless_root("death_sigrtmin"))
		exit_path(true, SIGRTMIN, SIGRTMIN, 0, false);
}
END_TEST

START_TEST(death_sigabrt)
{
	if (!skip_unless_root("death_sigabrt"))
		exit_path(true, SIGABRT, SIGABRT, 0, false);
}
END_TEST

/*
 * Start dazaid as nobody with RLIMIT_MEMLOCK 0 (and RLIMIT_CORE
 * unlimited, to show the daemon lowers it itself); returns its pid.
 */
static pid_t
spawn_as_nobody(const char *dir, const char *sock, const char *log,
    bool require_lock, int ready)
{
	struct rlimit zero = { 0, 0 }, inf = { RLIM_INFINITY, RLIM_INFINITY };
	char	      fdarg[16], bin[128], cmd[PATH_MAX + 300];
	const char   *argv[10];
	pid_t	      pid;
	int	      n = 0, fd;

	/* A copy nobody can reach, wherever the build tree lives. */
	snprintf(bin, sizeof bin, "%s/dazaid", dir);
	snprintf(cmd, sizeof cmd, "cp %s %s && chmod 755 %s", dz_bin("dazaid"),
	    bin, bin);
	ck_assert_int_eq(system(cmd), 0);
	snprintf(fdarg, sizeof fdarg, "%d", ready);
	argv[n++] = bin;
	argv[n++] = "--socket";
	argv[n++] = sock;
	argv[n++] = "--ready-fd";
	argv[n++] = fdarg;
	if (require_lock)
		argv[n++] = "--require-lock";
	argv[n] = NULL;
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid > 0)
		return pid;
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	fd = open(log, O_WRONLY | O_CREAT | O_APPEND, 0644);
	if (fd < 0 || dup2(fd, STDERR_FILENO) < 0)
		_exit(126);
	setenv("HOME", dir, 1); /* not root's config directory */
	unsetenv("XDG_CONFIG_HOME");
	if (chown(dir, NOBODY, NOBODY) != 0 ||
	    setrlimit(RLIMIT_MEMLOCK, &zero) != 0 ||
	    setrlimit(RLIMIT_CORE, &inf) != 0 || chdir(dir) != 0 ||
	    setgroups(0, NULL) != 0 || setgid(NOBODY) != 0 ||
	    setuid(NOBODY) != 0)
		_exit(125);
	execv(argv[0], (char *const *)argv);
	_exit(127);
}

/* As nobody: may we open pid's memory, may we attach to it? */
static int
probe_as_nobody(pid_t target)
{
	char  path[64];
	pid_t pid;
	int   st, fd, bits = 0;

	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		if (setgroups(0, NULL) != 0 || setgid(NOBODY) != 0 ||
		    setuid(NOBODY) != 0)
			_exit(100);
		snprintf(path, sizeof path, "/proc/%d/mem", (int)target);
		if ((fd = open(path, O_RDONLY)) >= 0)
			bits |= 1;
		if (ptrace(PTRACE_SEIZE, target, 0, 0) == 0)
			bits |= 2;
		_exit(bits);
	}
	ck_assert_int_eq(dz_waitpid(pid, &st, 10), 0);
	ck_assert(WIFEXITED(st) && WEXITSTATUS(st) != 100);
	return WEXITSTATUS(st);
}

START_TEST(unprivileged)
{
	char	      dir[64], sock[128], log[128], c;
	struct dz     d;
	struct pollfd pfd;
	pid_t	      pid, sleeper;
	int	      p[2], st, hb;

	if (skip_unless_root("unprivileged (needs root to become nobody)"))
		return;
	dz_tmpdir(dir, sizeof dir);
	snprintf(sock, sizeof sock, "%s/dazai.sock", dir);
	snprintf(log, sizeof log, "%s/dazaid.log", dir);
	memset(&d, 0, sizeof d);
	snprintf(d.log, sizeof d.log, "%s", log);
	snprintf(d.sock, sizeof d.sock, "%s", sock);

	/* --require-lock refuses to run unlocked. */
	ck_assert_int_eq(pipe(p), 0);
	pid = spawn_as_nobody(dir, sock, log, true, p[1]);
	close(p[1]);
	ck_assert_int_eq(dz_waitpid(pid, &st, 10), 0);
	close(p[0]);
	ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 1, "status %d", st);
	ck_assert(dz_log_has(&d, "--require-lock"));
	ck_assert_int_eq(access(sock, F_OK), -1);

	/* Without it: a loud warning naming the fixes, and it serves. */
	ck_assert_int_eq(pipe(p), 0);
	d.pid = spawn_as_nobody(dir, sock, log, false, p[1]);
	close(p[1]);
	pfd.fd = p[0];
	pfd.events = POLLIN;
	ck_assert_int_eq(poll(&pfd, 1, 10000), 1);
	ck_assert_int_eq(read(p[0], &c, 1), 1);
	close(p[0]);
	ck_assert(dz_log_has(&d, "NOT locked"));
	ck_assert(dz_log_has(&d, "ulimit -l"));
	ck_assert(dz_log_has(&d, "LimitMEMLOCK="));
	ck_assert(dz_log_has(&d, "CAP_IPC_LOCK"));
	hb = dz_hello(sock); /* root may talk to it */

	/* Another process of the same uid can neither read nor attach. A
	 * plain process of that uid can be read: the control. */
	sleeper = fork();
	ck_assert_int_ge(sleeper, 0);
	if (sleeper == 0) {
		/* exec makes it dumpable again after the uid change */
		if (setgroups(0, NULL) != 0 || setgid(NOBODY) != 0 ||
		    setuid(NOBODY) != 0)
			_exit(1);
		execl("/bin/sleep", "sleep", "30", (char *)NULL);
		_exit(1);
	}
	usleep(100000);
	ck_assert_int_eq(probe_as_nobody(sleeper) & 1, 1);
	ck_assert_int_eq(probe_as_nobody(d.pid), 0);
	kill(sleeper, SIGKILL);
	dz_waitpid(sleeper, &st, 5);

	close(hb);
	ck_assert_int_eq(dz_wait(&d, 10), 0);
	ck_assert(WIFEXITED(d.status) && WEXITSTATUS(d.status) == 0);
	dz_stop(&d);
}
END_TEST

/* A "Name:  N kB" field of /proc/PID/status, in kB; -1 if absent. */
static long
status_kb(pid_t pid, const char *field)
{
	char  path[64], line[256];
	FILE *fp;
	long  v = -1;

	snprintf(path, sizeof path, "/proc/%d/status", (int)pid);
	if ((fp = fopen(path, "r")) == NULL)
		return -1;
	while (fgets(line, sizeof line, fp) != NULL)
		if (strncmp(line, field, strlen(field)) == 0)
			v = strtol(line + strlen(field), NULL, 10);
	fclose(fp);
	return v;
}
/*
 * Issue: a secret of secret_max (4 MiB) from a pipe under the default
 * 8 MiB RLIMIT_MEMLOCK kept neither mlock nor memfd_secret, because the
 * buffer grew by copying (old and new at once). As nobody, where the
 * limit binds: it must keep both, and say nothing was lost.
 */
START_TEST(unprivileged_4mib_pipe)
{
	struct rlimit eight = { 8 << 20, 8 << 20 };
	char	    dir[64], bin[128], cmd[PATH_MAX + 300], sfd[16], rfd[16], c;
	const char *argv[] = { bin, "--socket", NULL, "--secret-fd", sfd,
		"--ready-fd", rfd, "--verbose", NULL };
	unsigned char *b;
	struct dz      d;
	struct pollfd  pfd;
	size_t	       off = 0, n = 4 << 20;
	ssize_t	       w;
	int	       sp[2], rp[2], fd;

	if (skip_unless_root("unprivileged_4mib_pipe (needs root to become "
			     "nobody)"))
		return;
	memset(&d, 0, sizeof d);
	dz_tmpdir(dir, sizeof dir);
	snprintf(d.dir, sizeof d.dir, "%s", dir);
	snprintf(d.sock, sizeof d.sock, "%s/dazai.sock", dir);
	snprintf(d.log, sizeof d.log, "%s/dazaid.log", dir);
	argv[2] = d.sock;
	snprintf(bin, sizeof bin, "%s/dazaid", dir);
	snprintf(cmd, sizeof cmd, "cp %s %s && chmod 755 %s", dz_bin("dazaid"),
	    bin, bin);
	ck_assert_int_eq(system(cmd), 0);
	ck_assert_int_eq(pipe(sp), 0);
	ck_assert_int_eq(pipe(rp), 0);
	snprintf(sfd, sizeof sfd, "%d", sp[0]);
	snprintf(rfd, sizeof rfd, "%d", rp[1]);
	d.pid = fork();
	ck_assert_int_ge(d.pid, 0);
	if (d.pid == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		close(sp[1]);
		close(rp[0]);
		fd = open(d.log, O_WRONLY | O_CREAT | O_APPEND, 0644);
		if (fd < 0 || dup2(fd, STDERR_FILENO) < 0)
			_exit(126);
		setenv("HOME", dir, 1);
		unsetenv("XDG_CONFIG_HOME");
		if (chown(dir, NOBODY, NOBODY) != 0 ||
		    setrlimit(RLIMIT_MEMLOCK, &eight) != 0 || chdir(dir) != 0 ||
		    setgroups(0, NULL) != 0 || setgid(NOBODY) != 0 ||
		    setuid(NOBODY) != 0)
			_exit(125);
		execv(argv[0], (char *const *)argv);
		_exit(127);
	}
	close(sp[0]);
	close(rp[1]);
	ck_assert_ptr_nonnull(b = malloc(n));
	ck_assert_int_eq(getrandom(b, n, 0), (ssize_t)n);
	while (off < n) {
		w = write(sp[1], b + off, n - off);
		ck_assert_msg(w > 0, "writing the secret: %s", strerror(errno));
		off += (size_t)w;
	}
	close(sp[1]);
	free(b);
	pfd.fd = rp[0];
	pfd.events = POLLIN;
	ck_assert_int_eq(poll(&pfd, 1, 30000), 1);
	ck_assert_int_eq(read(rp[0], &c, 1), 1);
	close(rp[0]);
	ck_assert(dz_log_has(&d, "secret loaded: 4194304 bytes"));
	ck_assert_msg(!dz_log_has(&d, "NOT locked"), "lost mlock");
	ck_assert_msg(!dz_log_has(&d, "secure memory:"), "lost a protection");
	ck_assert(dz_log_has(&d, "memory protections: locked"));
	ck_assert(dz_log_has(&d, "shielded"));
	if (secmem_secretmem_available())
		ck_assert_msg(dz_log_has(&d, "secretmem"), "lost secretmem");
	else
		dz_skip_na("unprivileged_4mib_pipe (secretmem): "
			   "memfd_secret(2) not offered by this kernel");
	/* The kernel's count: at least the secret's pages are locked. */
	ck_assert_int_ge(status_kb(d.pid, "VmLck:"), 4096);
	kill(d.pid, SIGTERM);
	ck_assert_int_eq(dz_wait(&d, 10), 0);
	ck_assert(WIFEXITED(d.status) && WEXITSTATUS(d.status) == 0);
	dz_stop(&d);
}
END_TEST

/* Count marker copies in every regular file of dir. */
static int
marker_in_dir(const char *dir, const struct marker *m, int *files)
{
	char	       path[512];
	struct dirent *de;
	DIR	      *dp = opendir(dir);
	int	       hits = 0, n;

	*files = 0;
	ck_assert_ptr_nonnull(dp);
	while ((de = readdir(dp)) != NULL) {
		if (de->d_name[0] == '.')
			continue;
		snprintf(path, sizeof path, "%s/%s", dir, de->d_name);
		if ((n = memscan_file(path, m->bytes, MARKER_LEN)) > 0)
			hits += n;
		(*files)++;
	}
	closedir(dp);
	return hits;
}

START_TEST(no_core_on_crash)
{
	struct marker m;
	struct dz     d;
	struct rlimit inf = { RLIM_INFINITY, RLIM_INFINITY };
	char	      cwd[64];
	int	      files, hb;

	(void)dz_bin("dazaid"); /* resolve the path before chdir */
	make_marker(&m);
	/* The core limit is inherited unlimited and the crash happens in a
	 * directory of its own; dazaid lowers the limit itself. */
	ck_assert_int_eq(setrlimit(RLIMIT_CORE, &inf), 0);
	dz_tmpdir(cwd, sizeof cwd);
	ck_assert_int_eq(chdir(cwd), 0);
	start_on_marker(&d, &m, "--no-secretmem", NULL, NULL);
	hb = dz_hello(d.sock);
	kill(d.pid, SIGSEGV);
	ck_assert_int_eq(dz_wait(&d, 10), 0);
	ck_assert(WIFSIGNALED(d.status) && WTERMSIG(d.status) == SIGSEGV);
	ck_assert_msg(!WCOREDUMP(d.status), "a core was dumped");
	ck_assert_int_eq(marker_in_dir(cwd, &m, &files), 0);
	ck_assert_int_eq(marker_in_dir(d.dir, &m, &files), 0);
	ck_assert_int_eq(chdir("/"), 0);
	close(hb);
	dz_stop(&d);
}
END_TEST

START_TEST(gcore_excludes_secret)
{
	struct marker m;
	struct dz     d;
	char	      core[160], pid[16], out[4096], gcmd[200];
	const char   *argv[] = { "/usr/bin/env", "gdb", "-nx", "-batch", "-p",
		  pid, "-ex", gcmd, NULL };
	int	      st, hb;

	if (skip_unless_root("gcore_excludes_secret"))
		return;
	if (system("command -v gdb >/dev/null 2>&1") != 0) {
		dz_skip("gcore_excludes_secret: gdb not installed");
		return;
	}
	make_marker(&m);
	start_on_marker(&d, &m, "--no-secretmem", NULL, NULL);
	hb = dz_hello(d.sock);
	snprintf(core, sizeof core, "%s/core", d.dir);
	snprintf(pid, sizeof pid, "%d", (int)d.pid);
	snprintf(gcmd, sizeof gcmd, "gcore %s", core);
	st = dz_run(argv, out, sizeof out, 60);
	ck_assert_msg(st == 0, "gdb: %d %s", st, out);
	/* The dump is real (it holds the socket path the daemon keeps)... */
	ck_assert_msg(memscan_file(core, d.sock, strlen(d.sock)) > 0,
	    "core has no trace of the daemon: %s", out);
	/* ...and the secret is not in it. */
	ck_assert_int_eq(memscan_file(core, m.bytes, MARKER_LEN), 0);
	unlink(core);
	/* Still guarding after the dump. */
	ck_assert(dz_send(hb, "PING\n"));
	dz_expect(hb, "PONG");
	close(hb);
	ck_assert_int_eq(dz_wait(&d, 10), 0);
	dz_stop(&d);
}
END_TEST

Suite *
memory_suite(void)
{
	Suite *s = suite_create("memory");
	TCase *tc = tcase_create("memory");

	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, held_anonymous_file);
	tcase_add_test(tc, held_anonymous_pipe);
	tcase_add_test(tc, held_secretmem);
	tcase_add_test(tc, control_load_get_wipe);
	tcase_add_test(tc, death_loss_dry_run);
	tcase_add_test(tc, death_loss_armed);
	tcase_add_test(tc, death_sigusr1_armed);
	tcase_add_test(tc, death_sigusr2_dry_run);
	tcase_add_test(tc, death_sigusr2_armed);
	tcase_add_test(tc, death_sigterm);
	tcase_add_test(tc, death_sigsegv);
	tcase_add_test(tc, death_sigabrt);
	tcase_add_test(tc, death_sigusr1_dry_run);
	tcase_add_test(tc, death_sigquit);
	tcase_add_test(tc, death_sigalrm);
	tcase_add_test(tc, death_sigrtmin);
	tcase_add_test(tc, death_seccomp_dry_run);
	tcase_add_test(tc, death_seccomp_armed);
	tcase_add_test(tc, death_seccomp_arm_verb);
	tcase_add_test(tc, unprivileged);
	tcase_add_test(tc, unprivileged_4mib_pipe);
	tcase_add_test(tc, no_core_on_crash);
	tcase_add_test(tc, gcore_excludes_secret);
	suite_add_tcase(s, tc);
	return s;
}
