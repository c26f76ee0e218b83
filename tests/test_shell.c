/* SPDX-License-Identifier: ISC */
/*
 * shell/shellrc.sh, driven for real: interactive bash and zsh in a
 * pseudo-terminal (forkpty), sourcing the snippet from their rc file,
 * against build/dazaid in dry-run. Each test starts its own daemon, shell
 * and home directory, and kills what it started by pid.
 */
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "helpers.h"
#include "term.h"

#define MAX_ENV	      32
#define START_TIMEOUT 15.0 /* s for a shell to read its rc file */
#define STEP_TIMEOUT  10.0 /* s for anything else */

enum shell_kind {
	SH_BASH,
	SH_ZSH,
};

/* Everything one test sets up. */
struct ctx {
	enum shell_kind kind;
	char		shell[PATH_MAX];  /* absolute path of bash/zsh */
	char		rcpath[PATH_MAX]; /* repo/shell/shellrc.sh */
	char		client[PATH_MAX]; /* build/dazai-heartbeat */
	char		home[64];	  /* fresh HOME (and ZDOTDIR) */
	char		sock[PATH_MAX];	  /* what DAZAI_SOCKET says */
	struct dz	d;		  /* the daemon, if started */
	char	       *env[MAX_ENV + 1];
	int		nenv;
	struct term	t;
};

/*
 * Type a command that prints a fresh marker and wait for the marker: the
 * shell has read and run everything typed before. The typed line reads
 * SYNC-$((n+1)); only the output reads SYNC-<n+1>.
 */
static bool
term_sync(struct term *t, double timeout)
{
	char cmd[64], want[32];

	t->sync += 2;
	snprintf(cmd, sizeof cmd, "echo SYNC-$((%d+1))\n", t->sync);
	snprintf(want, sizeof want, "SYNC-%d", t->sync + 1);
	term_type(t, cmd);
	return term_wait(t, want, timeout);
}

/*
 * term_sync after a signal key: readline resets the terminal when the
 * key's signal arrives and may drop what is typed at that moment, so
 * try a few times.
 */
static bool
term_resync(struct term *t)
{
	int i;

	for (i = 0; i < 5; i++)
		if (term_sync(t, 2.0))
			return true;
	return false;
}

/*
 * Type `echo "KEYn=<text>"` and get what the shell made of text into
 * val (false if it never came). The typed line reads KEY$((n)), only the
 * output KEYn, so the echo of the typing is never taken for the answer.
 */
static bool
term_value(struct term *t, const char *key, const char *text, char *val,
    size_t len)
{
	char	    cmd[1024], want[64];
	const char *p, *q;
	long long   end = dz_ms_now() + (long long)(STEP_TIMEOUT * 1000);

	t->sync++;
	snprintf(cmd, sizeof cmd, "echo \"%s$((%d))=<%s>\"\n", key, t->sync,
	    text);
	snprintf(want, sizeof want, "%s%d=<", key, t->sync);
	term_type(t, cmd);
	if (!term_wait(t, want, STEP_TIMEOUT))
		return false;
	p = t->out + t->seen;
	while ((q = strchr(p, '>')) == NULL) {
		if (dz_ms_now() >= end || term_read(t, end - dz_ms_now()) < 0)
			return false;
		p = t->out + t->seen;
	}
	snprintf(val, len, "%.*s", (int)(q - p), p);
	t->seen = (size_t)(q - t->out) + 1;
	return true;
}

/*
 * Heartbeat clients on this test's socket: count them (and, if watch is
 * not 0, only those with --watch-pid watch); *last gets one's pid.
 */
static int
count_clients(const struct ctx *c, pid_t watch, pid_t *last)
{
	char	       path[64], buf[4096], want[16];
	struct dirent *de;
	const char    *a;
	DIR	      *dir;
	ssize_t	       n;
	int	       fd, count = 0, on_sock, watching;

	snprintf(want, sizeof want, "%d", (int)watch);
	if ((dir = opendir("/proc")) == NULL)
		return -1;
	while ((de = readdir(dir)) != NULL) {
		if (de->d_name[0] < '0' || de->d_name[0] > '9')
			continue;
		snprintf(path, sizeof path, "/proc/%.32s/cmdline", de->d_name);
		if ((fd = open(path, O_RDONLY)) < 0)
			continue;
		n = read(fd, buf, sizeof buf - 1);
		close(fd);
		if (n <= 0)
			continue;
		buf[n] = '\0';
		if (strstr(buf, "dazai-heartbeat") == NULL)
			continue;
		on_sock = watching = 0;
		for (a = buf; a < buf + n; a += strlen(a) + 1) {
			if (strcmp(a, c->sock) == 0)
				on_sock = 1;
			if (strcmp(a, "--watch-pid") == 0 &&
			    a + strlen(a) + 1 < buf + n &&
			    strcmp(a + strlen(a) + 1, want) == 0)
				watching = 1;
		}
		if (!on_sock || (watch != 0 && !watching))
			continue;
		count++;
		if (last != NULL)
			*last = (pid_t)atoi(de->d_name);
	}
	closedir(dir);
	return count;
}

/* Is pid a running process (not gone, not a zombie nobody reaped)? */
static bool
proc_running(pid_t pid)
{
	char	    path[64], buf[512];
	const char *p;
	ssize_t	    n;
	int	    fd;

	snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
	if ((fd = open(path, O_RDONLY)) < 0)
		return false;
	n = read(fd, buf, sizeof buf - 1);
	close(fd);
	if (n <= 0)
		return false;
	buf[n] = '\0';
	if ((p = strrchr(buf, ')')) == NULL || p[1] != ' ')
		return false;
	return p[2] != 'Z' && p[2] != 'X';
}

/* A process's start time (field 22 of /proc/PID/stat), 0 if unknown. */
static unsigned long long
proc_start(pid_t pid)
{
	char	    path[64], buf[1024];
	const char *p;
	ssize_t	    n;
	int	    fd, i;

	snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
	if ((fd = open(path, O_RDONLY)) < 0)
		return 0;
	n = read(fd, buf, sizeof buf - 1);
	close(fd);
	if (n <= 0)
		return 0;
	buf[n] = '\0';
	if ((p = strrchr(buf, ')')) == NULL)
		return 0;
	for (i = 0; i < 20 && p != NULL; i++) /* to field 22 */
		p = strchr(p + 1, ' ');
	return p != NULL ? strtoull(p + 1, NULL, 10) : 0;
}

/*
 * Clients on their way out: a dazai-heartbeat that has released its
 * memory (its cmdline reads empty) but has not become a zombie yet. A
 * sanitizer build's exit path (the leak check) holds a process there long
 * enough for a shell's next prompt to find it still running.
 */
static int
exiting_clients(void)
{
	char	       path[64], buf[512];
	struct dirent *de;
	const char    *p;
	DIR	      *dir;
	ssize_t	       n;
	int	       fd, count = 0;

	if ((dir = opendir("/proc")) == NULL)
		return 0;
	while ((de = readdir(dir)) != NULL) {
		if (de->d_name[0] < '0' || de->d_name[0] > '9')
			continue;
		snprintf(path, sizeof path, "/proc/%.32s/stat", de->d_name);
		if ((fd = open(path, O_RDONLY)) < 0)
			continue;
		n = read(fd, buf, sizeof buf - 1);
		close(fd);
		if (n <= 0)
			continue;
		buf[n] = '\0';
		if (strstr(buf, " (dazai-heartbeat) ") == NULL ||
		    (p = strrchr(buf, ')')) == NULL || p[1] != ' ' ||
		    p[2] == 'Z' || p[2] == 'X')
			continue;
		snprintf(path, sizeof path, "/proc/%.32s/cmdline", de->d_name);
		if ((fd = open(path, O_RDONLY)) < 0)
			continue;
		n = read(fd, buf, sizeof buf);
		close(fd);
		if (n <= 0)
			count++;
	}
	closedir(dir);
	return count;
}

/* Wait up to timeout seconds for no client to be left on our socket. */
static bool
clients_gone(const struct ctx *c, double timeout)
{
	long long end = dz_ms_now() + (long long)(timeout * 1000);

	while (count_clients(c, 0, NULL) > 0 || exiting_clients() > 0) {
		if (dz_ms_now() >= end)
			return false;
		usleep(10000);
	}
	return true;
}

/* The daemon's log, for failure messages. */
static const char *
log_text(const struct dz *d)
{
	static char buf[8192];

	return dz_read_file(d->log, buf, sizeof buf);
}

/* A probe HELLO must be turned away: someone holds the guard. */
static void
expect_busy(const struct ctx *c)
{
	int fd = dz_connect(c->d.sock);

	ck_assert_msg(fd >= 0, "connect %s: %s", c->d.sock, strerror(errno));
	ck_assert(dz_send(fd, "HELLO 1\n"));
	dz_expect(fd, "BUSY");
	close(fd);
}

/* Set (value) or remove (NULL) one variable of the shell's environment. */
static void
ctx_setenv(struct ctx *c, const char *name, const char *value)
{
	size_t len = strlen(name);
	int    i;

	for (i = 0; i < c->nenv; i++) {
		if (strncmp(c->env[i], name, len) == 0 &&
		    c->env[i][len] == '=') {
			free(c->env[i]);
			c->env[i] = c->env[--c->nenv];
			c->env[c->nenv] = NULL;
			break;
		}
	}
	if (value == NULL)
		return;
	ck_assert_int_lt(c->nenv, MAX_ENV);
	ck_assert(asprintf(&c->env[c->nenv++], "%s=%s", name, value) > 0);
	c->env[c->nenv] = NULL;
}

/*
 * Prepare a test: find the shell (false: print SKIP), make a fresh home,
 * start a daemon on a private socket if asked (--verbose, so every
 * connection is logged), and the shell's environment.
 */
static bool
ctx_init_args(struct ctx *c, enum shell_kind kind, bool daemon,
    const char *const *args)
{
	static const char *const verbose[] = { "--verbose", NULL };
	const char		*name = kind == SH_BASH ? "bash" : "zsh";
	const char		*path = getenv("PATH");
	char			 cwd[PATH_MAX], buf[PATH_MAX + 16];

	memset(c, 0, sizeof *c);
	c->kind = kind;
	c->t.fd = -1;
	if (!dz_which(name, c->shell, sizeof c->shell)) {
		dz_skip("%s not found in PATH", name);
		return false;
	}
	ck_assert(getcwd(cwd, sizeof cwd) != NULL);
	snprintf(c->rcpath, sizeof c->rcpath, "%.3000s/shell/shellrc.sh", cwd);
	ck_assert_msg(access(c->rcpath, R_OK) == 0, "%s: %s", c->rcpath,
	    strerror(errno));
	snprintf(c->client, sizeof c->client, "%s", dz_bin("dazai-heartbeat"));
	ck_assert_msg(access(c->client, X_OK) == 0, "%s: %s", c->client,
	    strerror(errno));
	dz_tmpdir(c->home, sizeof c->home);
	if (daemon) {
		ck_assert_int_eq(dz_start(&c->d, args != NULL ? args : verbose),
		    0);
		snprintf(c->sock, sizeof c->sock, "%s", c->d.sock);
	} else
		snprintf(c->sock, sizeof c->sock, "%s/nothing/dazai.sock",
		    c->home);

	ctx_setenv(c, "HOME", c->home);
	ctx_setenv(c, "PATH",
	    path != NULL && *path != '\0' ? path :
					    "/usr/local/bin:/usr/bin:/bin");
	ctx_setenv(c, "TERM", "dumb");
	ctx_setenv(c, "LANG", "C");
	ctx_setenv(c, "SHELL", c->shell);
	ctx_setenv(c, "DAZAI_SOCKET", c->sock);
	ctx_setenv(c, "DAZAI_HEARTBEAT", c->client);
	/* The client's default socket would be somewhere else entirely. */
	snprintf(buf, sizeof buf, "%s/run", c->home);
	ctx_setenv(c, "XDG_RUNTIME_DIR", buf);
	snprintf(buf, sizeof buf, "%s/history", c->home);
	ctx_setenv(c, "HISTFILE", buf);
	if (kind == SH_ZSH)
		ctx_setenv(c, "ZDOTDIR", c->home);
	return true;
}

/* ctx_init_args with a --verbose daemon. */
static bool
ctx_init(struct ctx *c, enum shell_kind kind, bool daemon)
{
	return ctx_init_args(c, kind, daemon, NULL);
}

/*
 * Write the rc file (~/.bashrc or $ZDOTDIR/.zshrc): a plain prompt, no
 * history expansion (a typed "$!" stays itself),
 * before, the snippet sourced `times` times, a line reporting the status
 * of the last sourcing, then after.
 */
static void
ctx_rc(struct ctx *c, const char *before, int times, const char *after)
{
	char path[PATH_MAX], *text = NULL, *more;
	int  i;

	snprintf(path, sizeof path, "%s/%s", c->home,
	    c->kind == SH_BASH ? ".bashrc" : ".zshrc");
	ck_assert(asprintf(&text,
		      "PS1='$ '\nunset PROMPT_COMMAND RPS1\n"
		      "%s\n%s\n",
		      c->kind == SH_BASH ? "set +H" : "unsetopt bang_hist",
		      before != NULL ? before : "") > 0);
	for (i = 0; i < times; i++) {
		ck_assert(asprintf(&more, "%s. '%s'\n", text, c->rcpath) > 0);
		free(text);
		text = more;
	}
	ck_assert(asprintf(&more, "%secho \"SOURCED-RC=$?\"\n%s\n", text,
		      after != NULL ? after : "") > 0);
	free(text);
	dz_write_file(path, more, strlen(more));
	free(more);
}

/* Start a shell with c's environment in a pseudo-terminal, as t. */
static void
term_open(const struct ctx *c, struct term *t)
{
	const char *argv[] = { c->shell, "-i", NULL };

	term_spawn(t, argv, c->env, c->home, 50, 250);
}

/*
 * Start a shell as t and wait until it has read its rc file: the sourcing
 * returned 0 and a typed command runs.
 */
static void
term_start(const struct ctx *c, struct term *t)
{
	term_open(c, t);
	ck_assert_msg(term_wait(t, "SOURCED-RC=", START_TIMEOUT),
	    "the shell did not finish its rc file; it wrote:\n%s",
	    term_tail(t));
	while (t->len == t->seen && term_read(t, 1000) > 0)
		;
	ck_assert_msg(t->out[t->seen] == '0' &&
		!isdigit((unsigned char)t->out[t->seen + 1]),
	    "sourcing shellrc.sh did not return 0; the shell wrote:\n%s",
	    term_tail(t));
	ck_assert_msg(term_sync(t, STEP_TIMEOUT),
	    "the shell does not run commands; it wrote:\n%s", term_tail(t));
}

/* Start the test's shell (c->t). */
static void
ctx_start(struct ctx *c)
{
	term_start(c, &c->t);
}

/* End of a test: kill what is left by pid, free the environment. */
static void
ctx_done(struct ctx *c)
{
	pid_t pid;
	int   i;

	term_stop(&c->t);
	/* Clients end with the shell they watch; make sure of it. */
	if (!clients_gone(c, 5.0))
		while (count_clients(c, 0, &pid) > 0 && kill(pid, SIGKILL) == 0)
			usleep(10000);
	dz_stop(&c->d);
	for (i = 0; i < c->nenv; i++)
		free(c->env[i]);
	c->nenv = 0;
}

/* The shell holds the guard: one client watching it, the daemon BUSY. */
static void
expect_guard_held(struct ctx *c)
{
	pid_t client = 0;
	char  want[64];

	ck_assert_msg(count_clients(c, c->t.pid, &client) == 1,
	    "want exactly one client watching shell %d, found %d",
	    (int)c->t.pid, count_clients(c, c->t.pid, NULL));
	ck_assert_int_eq(count_clients(c, 0, NULL), 1);
	ck_assert_msg(dz_log_wait(&c->d, "heartbeat connected", STEP_TIMEOUT),
	    "no heartbeat in the daemon's log");
	expect_busy(c);
	/* The shell knows its client and says it holds the guard. */
	term_type(&c->t,
	    "echo \"HB=<$DAZAI_HEARTBEAT_PID>"
	    " GUARD=<$DAZAI_GUARD_PID>\"\n");
	snprintf(want, sizeof want, "HB=<%d> GUARD=<%d>", (int)client,
	    (int)c->t.pid);
	ck_assert_msg(term_wait(&c->t, want, STEP_TIMEOUT),
	    "want %s; the shell wrote:\n%s", want, term_tail(&c->t));
}

/* Guarded, and not a word from shellrc.sh. */
static void
expect_guarded(struct ctx *c)
{
	ck_assert_msg(term_count(&c->t, "dazai:") == 0,
	    "unexpected notice; the shell wrote:\n%s", term_tail(&c->t));
	expect_guard_held(c);
}

/* The daemon completed a dry-run panic: wiped, WOULD SIGKILL, exit 0. */
static void
expect_panic(struct ctx *c)
{
	ck_assert_msg(dz_wait(&c->d, STEP_TIMEOUT) == 0,
	    "the daemon did not panic");
	ck_assert_msg(WIFEXITED(c->d.status) && WEXITSTATUS(c->d.status) == 0,
	    "the daemon ended with wait status %d; its log:\n%s", c->d.status,
	    log_text(&c->d));
	ck_assert(dz_log_has(&c->d, "heartbeat lost"));
	ck_assert(dz_log_has(&c->d, "secret wiped"));
	ck_assert(dz_log_has(&c->d, "WOULD SIGKILL"));
	ck_assert_msg(clients_gone(c, 5.0), "a client outlived its shell");
}

/* Type exit; the shell must end with status 0. */
static void
expect_exit(struct ctx *c)
{
	term_type(&c->t, "exit\n");
	ck_assert_msg(term_exit(&c->t, STEP_TIMEOUT) == 0,
	    "the shell did not exit; it wrote:\n%s", term_tail(&c->t));
	ck_assert_msg(WIFEXITED(c->t.status) && WEXITSTATUS(c->t.status) == 0,
	    "the shell ended with wait status %d", c->t.status);
}

/* The daemon still guards: alive, no loss logged, the slot taken. */
static void
expect_still_guarding(struct ctx *c)
{
	ck_assert_msg(dz_alive(&c->d), "the daemon exited; its log:\n%s",
	    log_text(&c->d));
	ck_assert_msg(!dz_log_has(&c->d, "heartbeat lost"),
	    "the daemon lost its heartbeat");
	expect_busy(c);
}

/* Points 1 and 2: one client while the shell runs, panic on exit. */
static void
guard_then_exit(enum shell_kind kind)
{
	struct ctx c;

	if (!ctx_init(&c, kind, true))
		return;
	ctx_rc(&c, NULL, 1, NULL);
	ctx_start(&c);
	expect_guarded(&c);
	ck_assert_int_eq(dz_log_count(&c.d, "heartbeat connected"), 1);
	/* The exit handler is in place, the shell's own way. */
	if (kind == SH_BASH)
		term_type(&c.t, "trap -p EXIT | sed 's/^/TRAP:/'\n");
	else
		term_type(&c.t, "print -r -- \"HOOKS:$zshexit_functions\"\n");
	ck_assert_msg(term_wait(&c.t,
			  kind == SH_BASH ?
			      "TRAP:trap -- '_dazai_on_exit' EXIT" :
			      "HOOKS:_dazai_on_exit",
			  STEP_TIMEOUT),
	    "no exit hook; the shell wrote:\n%s", term_tail(&c.t));
	expect_exit(&c);
	expect_panic(&c);
	ctx_done(&c);
}

START_TEST(bash_guard_exit)
{
	guard_then_exit(SH_BASH);
}
END_TEST

START_TEST(zsh_guard_exit)
{
	guard_then_exit(SH_ZSH);
}
END_TEST

/* Point 3: SIGKILL the shell; its client still drops the heartbeat. */
static void
killed_shell(enum shell_kind kind)
{
	struct ctx c;

	if (!ctx_init(&c, kind, true))
		return;
	ctx_rc(&c, NULL, 1, NULL);
	ctx_start(&c);
	expect_guarded(&c);
	ck_assert_int_eq(kill(c.t.pid, SIGKILL), 0);
	ck_assert_int_eq(term_exit(&c.t, STEP_TIMEOUT), 0);
	ck_assert(WIFSIGNALED(c.t.status) && WTERMSIG(c.t.status) == SIGKILL);
	expect_panic(&c);
	ctx_done(&c);
}

START_TEST(bash_sigkill)
{
	killed_shell(SH_BASH);
}
END_TEST

START_TEST(zsh_sigkill)
{
	killed_shell(SH_ZSH);
}
END_TEST

/* The terminal goes away (its window closed): the shell and guard end. */
static void
closed_terminal(enum shell_kind kind)
{
	struct ctx c;

	if (!ctx_init(&c, kind, true))
		return;
	ctx_rc(&c, NULL, 1, NULL);
	ctx_start(&c);
	expect_guarded(&c);
	close(c.t.fd);
	c.t.fd = -1;
	ck_assert_msg(dz_waitpid(c.t.pid, &c.t.status, STEP_TIMEOUT) == 0,
	    "the shell outlived its terminal");
	c.t.pid = 0;
	expect_panic(&c);
	ctx_done(&c);
}

START_TEST(bash_hangup)
{
	closed_terminal(SH_BASH);
}
END_TEST

START_TEST(zsh_hangup)
{
	closed_terminal(SH_ZSH);
}
END_TEST

/*
 * Point 4: an exit handler of the user's, set before sourcing (with
 * quotes in it, to try the chaining), still runs, and so does ours.
 */
static void
user_exit_handler(enum shell_kind kind)
{
	static const char trap_line[] =
	    "trap 'printf \"%s\\n\" \"user'\\''s trap ran\" "
	    ">\"$HOME/trap.out\"' EXIT";
	static const char zsh_hook[] =
	    "autoload -Uz add-zsh-hook\n"
	    "user_bye() { echo \"user's hook ran\" >\"$HOME/hook.out\"; }\n"
	    "add-zsh-hook zshexit user_bye";
	struct ctx c;
	char	   path[PATH_MAX], out[256], before[512];
	int	   fd;
	ssize_t	   n;

	if (!ctx_init(&c, kind, true))
		return;
	snprintf(before, sizeof before, "%s\n%s", trap_line,
	    kind == SH_ZSH ? zsh_hook : "");
	ctx_rc(&c, before, 1, NULL);
	ctx_start(&c);
	expect_guarded(&c);
	if (kind == SH_BASH) {
		/* Ours first, then the user's, in one trap. */
		term_type(&c.t,
		    "trap -p EXIT | tr '\\n' ' ' | "
		    "sed 's/^/TRAP:/'; echo\n");
		ck_assert_msg(term_wait(&c.t, "TRAP:trap -- '_dazai_on_exit ",
				  STEP_TIMEOUT) &&
			term_wait(&c.t, "user'\\''s trap ran", STEP_TIMEOUT),
		    "the trap was not chained; the shell "
		    "wrote:\n%s",
		    term_tail(&c.t));
	} else {
		term_type(&c.t, "print -r -- \"HOOKS:$zshexit_functions\"\n");
		ck_assert_msg(term_wait(&c.t, "HOOKS:user_bye _dazai_on_exit",
				  STEP_TIMEOUT),
		    "hooks; the shell wrote:\n%s", term_tail(&c.t));
	}
	expect_exit(&c);
	expect_panic(&c);

	snprintf(path, sizeof path, "%s/trap.out", c.home);
	fd = open(path, O_RDONLY);
	ck_assert_msg(fd >= 0, "the user's EXIT trap did not run");
	n = read(fd, out, sizeof out - 1);
	close(fd);
	out[n > 0 ? n : 0] = '\0';
	ck_assert_str_eq(out, "user's trap ran\n");
	if (kind == SH_ZSH) {
		snprintf(path, sizeof path, "%s/hook.out", c.home);
		ck_assert_msg(access(path, F_OK) == 0,
		    "the user's zshexit hook did not run");
	}
	ctx_done(&c);
}

START_TEST(bash_user_trap)
{
	user_exit_handler(SH_BASH);
}
END_TEST

START_TEST(zsh_user_trap)
{
	user_exit_handler(SH_ZSH);
}
END_TEST

/*
 * Point 5: sourced twice from the rc file and once more by hand: one
 * client, one connection, one exit hook; the guard still works.
 */
static void
sourced_twice(enum shell_kind kind)
{
	struct ctx c;
	char	   cmd[PATH_MAX + 32];

	if (!ctx_init(&c, kind, true))
		return;
	ctx_rc(&c, NULL, 2, NULL);
	ctx_start(&c);
	snprintf(cmd, sizeof cmd, ". '%s'; echo \"AGAIN-RC=$?\"\n", c.rcpath);
	term_type(&c.t, cmd);
	ck_assert(term_wait(&c.t, "AGAIN-RC=0", STEP_TIMEOUT));
	ck_assert(term_sync(&c.t, STEP_TIMEOUT));
	/* Before any probe of ours: the daemon saw one connection. */
	ck_assert_int_eq(dz_log_count(&c.d, "connection from pid"), 1);
	ck_assert_int_eq(dz_log_count(&c.d, "heartbeat connected"), 1);
	expect_guarded(&c);
	if (kind == SH_BASH) {
		/* Sourcing again puts back an exit trap someone removed. */
		snprintf(cmd, sizeof cmd, "trap - EXIT; . '%s'\n", c.rcpath);
		term_type(&c.t, cmd);
		ck_assert(term_sync(&c.t, STEP_TIMEOUT));
		ck_assert_int_eq(dz_log_count(&c.d, "connection from pid"), 2);
	}
	if (kind == SH_BASH)
		term_type(&c.t,
		    "trap -p EXIT | grep -o _dazai_on_exit | "
		    "wc -l | sed 's/^ */HOOKS=/'\n");
	else
		term_type(&c.t,
		    "print -r -- \"HOOKS=${#zshexit_functions}\"\n");
	ck_assert_msg(term_wait(&c.t, "HOOKS=1", STEP_TIMEOUT),
	    "want one exit hook; the shell wrote:\n%s", term_tail(&c.t));
	expect_exit(&c);
	expect_panic(&c);
	ctx_done(&c);
}

START_TEST(bash_twice)
{
	sourced_twice(SH_BASH);
}
END_TEST

START_TEST(zsh_twice)
{
	sourced_twice(SH_ZSH);
}
END_TEST

/* Point 6: set -e and set -u before sourcing, guarded. */
static void
strict_guarded(enum shell_kind kind)
{
	struct ctx c;

	if (!ctx_init(&c, kind, true))
		return;
	ctx_rc(&c,
	    kind == SH_BASH ? "set -eu -o pipefail" :
			      "setopt err_exit no_unset pipe_fail",
	    1, NULL);
	ctx_start(&c);
	expect_guarded(&c);
	/* The shell is itself: still strict, still working. */
	term_type(&c.t, "case $- in *e*) echo E-$((1))-ON;; esac\n");
	ck_assert(term_wait(&c.t, "E-1-ON", STEP_TIMEOUT));
	term_type(&c.t, "case $- in *u*) echo U-$((1))-ON;; esac\n");
	ck_assert(term_wait(&c.t, "U-1-ON", STEP_TIMEOUT));
	ck_assert(term_sync(&c.t, STEP_TIMEOUT));
	/* A failed status at the prompt: the prompt hook keeps the shell. */
	term_type(&c.t, "! true\n");
	ck_assert_msg(term_sync(&c.t, STEP_TIMEOUT), "the shell wrote:\n%s",
	    term_tail(&c.t));
	expect_exit(&c);
	expect_panic(&c);
	ctx_done(&c);
}

START_TEST(bash_strict_guarded)
{
	strict_guarded(SH_BASH);
}
END_TEST

START_TEST(zsh_strict_guarded)
{
	strict_guarded(SH_ZSH);
}
END_TEST

/*
 * Point 7 (and 6): no daemon at the socket. A visible notice, the shell
 * works and exits normally; also under set -e/-u and sourced twice.
 */
static void
no_daemon(enum shell_kind kind, bool strict)
{
	struct ctx c;
	char	   want[PATH_MAX + 64];

	if (!ctx_init(&c, kind, false))
		return;
	ctx_rc(&c,
	    strict ?
		(kind == SH_BASH ? "set -eu" : "setopt err_exit no_unset") :
		NULL,
	    strict ? 2 : 1, NULL);
	ctx_start(&c);
	snprintf(want, sizeof want,
	    "dazai: session UNGUARDED (no daemon at "
	    "%s",
	    c.sock);
	ck_assert_msg(strstr(c.t.out, want) != NULL,
	    "want \"%s\"; the shell wrote:\n%s", want, term_tail(&c.t));
	ck_assert_int_eq(count_clients(&c, 0, NULL), 0);
	term_type(&c.t, "echo \"HB=<${DAZAI_HEARTBEAT_PID-}>\"\n");
	ck_assert(term_wait(&c.t, "HB=<>", STEP_TIMEOUT));
	expect_exit(&c);
	ctx_done(&c);
}

START_TEST(bash_no_daemon)
{
	no_daemon(SH_BASH, false);
}
END_TEST

START_TEST(bash_no_daemon_strict)
{
	no_daemon(SH_BASH, true);
}
END_TEST

START_TEST(zsh_no_daemon)
{
	no_daemon(SH_ZSH, false);
}
END_TEST

START_TEST(zsh_no_daemon_strict)
{
	no_daemon(SH_ZSH, true);
}
END_TEST

/*
 * Point 7: no client to run. DAZAI_HEARTBEAT names nothing; or it is
 * unset and PATH has none (and, if nothing is installed there, neither
 * has /usr/local/bin). The daemon sees no connection at all.
 */
static void
no_client(enum shell_kind kind, bool strict)
{
	struct ctx c;
	char	   missing[PATH_MAX];

	if (!ctx_init(&c, kind, true))
		return;
	snprintf(missing, sizeof missing, "%s/no/dazai-heartbeat", c.home);
	ctx_setenv(&c, "DAZAI_HEARTBEAT", missing);
	ctx_rc(&c, strict ? "set -eu" : NULL, 1, NULL);
	ctx_start(&c);
	ck_assert_msg(strstr(c.t.out,
			  "dazai: session UNGUARDED "
			  "(DAZAI_HEARTBEAT=") != NULL,
	    "no notice; the shell wrote:\n%s", term_tail(&c.t));
	ck_assert_int_eq(dz_log_count(&c.d, "connection from"), 0);
	expect_exit(&c);
	term_stop(&c.t);

	if (access("/usr/local/bin/dazai-heartbeat", X_OK) == 0) {
		dz_skip_na("/usr/local/bin/dazai-heartbeat is installed; "
			   "not testing 'not found'");
		ctx_done(&c);
		return;
	}
	memset(&c.t, 0, sizeof c.t);
	c.t.fd = -1;
	ctx_setenv(&c, "DAZAI_HEARTBEAT", NULL);
	ctx_setenv(&c, "PATH", "/usr/bin:/bin:/usr/sbin:/sbin");
	ctx_start(&c);
	ck_assert_msg(strstr(c.t.out,
			  "dazai: session UNGUARDED "
			  "(dazai-heartbeat not found") != NULL,
	    "no notice; the shell wrote:\n%s", term_tail(&c.t));
	ck_assert_int_eq(dz_log_count(&c.d, "connection from"), 0);
	ck_assert(dz_alive(&c.d));
	expect_exit(&c);
	ctx_done(&c);
}

START_TEST(bash_no_client)
{
	no_client(SH_BASH, false);
}
END_TEST

START_TEST(bash_no_client_strict)
{
	no_client(SH_BASH, true);
}
END_TEST

START_TEST(zsh_no_client)
{
	no_client(SH_ZSH, false);
}
END_TEST

/*
 * Point 7: a daemon that accepts but does not answer (stopped). After a
 * few seconds the shell says so and carries on; its client is told to
 * stand down (SIGUSR1), so when the daemon wakes up and welcomes it, it
 * leaves with QUIT: no panic.
 */
START_TEST(bash_daemon_hung)
{
	struct ctx c;
	long long  t0;

	if (!ctx_init(&c, SH_BASH, true))
		return;
	ctx_rc(&c, NULL, 1, NULL);
	ck_assert_int_eq(kill(c.d.pid, SIGSTOP), 0);
	t0 = dz_ms_now();
	ctx_start(&c);
	ck_assert_msg(strstr(c.t.out,
			  "dazai: session UNGUARDED (no answer "
			  "from the daemon within 3s)") != NULL,
	    "the shell wrote:\n%s", term_tail(&c.t));
	ck_assert_int_lt(dz_ms_now() - t0, 9000);
	ck_assert_int_eq(kill(c.d.pid, SIGCONT), 0);
	ck_assert_msg(dz_log_wait(&c.d, "stood down", STEP_TIMEOUT),
	    "the daemon's log:\n%s", log_text(&c.d));
	ck_assert(clients_gone(&c, 5.0));
	expect_exit(&c);
	usleep(200000);
	ck_assert(dz_alive(&c.d));
	ck_assert(!dz_log_has(&c.d, "heartbeat lost"));
	ctx_done(&c);
}
END_TEST

/*
 * Point 7, with the shell closed before the daemon wakes up: its client
 * was told to stand down before any WELCOME came, and by the time one
 * comes the shell it watches is gone. It must leave with QUIT all the
 * same: the armed daemon logs a stand-down, not a loss, and keeps its
 * secret.
 */
static void
daemon_hung_closed(enum shell_kind kind)
{
	static const char *const armed[] = { "--verbose", "--arm", NULL };
	struct ctx		 c;
	char			 buf[512];
	int			 fd;

	if (!ctx_init_args(&c, kind, true, armed))
		return;
	ctx_rc(&c, NULL, 1, NULL);
	ck_assert_int_eq(kill(c.d.pid, SIGSTOP), 0);
	ctx_start(&c);
	ck_assert_msg(strstr(c.t.out,
			  "dazai: session UNGUARDED (no answer "
			  "from the daemon within 3s)") != NULL,
	    "the shell wrote:\n%s", term_tail(&c.t));
	expect_exit(&c);
	/* Well within the client's own 10 s wait for WELCOME. */
	ck_assert_int_eq(count_clients(&c, 0, NULL), 1);
	ck_assert_int_eq(kill(c.d.pid, SIGCONT), 0);
	ck_assert_msg(dz_log_wait(&c.d, "stood down", STEP_TIMEOUT),
	    "the daemon's log:\n%s", log_text(&c.d));
	ck_assert(clients_gone(&c, 5.0));
	usleep(200000);
	ck_assert_msg(dz_alive(&c.d), "the daemon died; its log:\n%s",
	    log_text(&c.d));
	ck_assert_msg(!dz_log_has(&c.d, "heartbeat lost") &&
		!dz_log_has(&c.d, "secret wiped"),
	    "the daemon's log:\n%s", log_text(&c.d));
	fd = dz_connect(c.sock);
	ck_assert_int_ge(fd, 0);
	ck_assert(dz_send(fd, "STATUS\n"));
	ck_assert(dz_readline(fd, buf, sizeof buf, 5) != NULL);
	close(fd);
	ck_assert_msg(strstr(buf, " armed=1 ") != NULL &&
		strstr(buf, " secret_bytes=32 ") != NULL,
	    "%s", buf);
	ctx_done(&c);
}

START_TEST(bash_daemon_hung_closed)
{
	daemon_hung_closed(SH_BASH);
}
END_TEST

START_TEST(zsh_daemon_hung_closed)
{
	daemon_hung_closed(SH_ZSH);
}
END_TEST

/*
 * Point 8: an interactive shell started inside a guarded one finds the
 * guard taken, says so in one line, and leaves it alone: its exit is no
 * loss, the outer shell's exit still panics.
 */
static void
nested(enum shell_kind kind)
{
	struct ctx c;
	char	   want[128];

	if (!ctx_init(&c, kind, true))
		return;
	ctx_rc(&c, NULL, 1, NULL);
	ctx_start(&c);
	expect_guarded(&c);

	term_type(&c.t, kind == SH_BASH ? "bash -i\n" : "zsh -i\n");
	snprintf(want, sizeof want,
	    "dazai: shell %d, which started this "
	    "one, holds the guard; not guarding this one",
	    (int)c.t.pid);
	ck_assert_msg(term_wait(&c.t, want, START_TIMEOUT),
	    "want \"%s\"; the shell wrote:\n%s", want, term_tail(&c.t));
	ck_assert_msg(term_wait(&c.t, "SOURCED-RC=0", START_TIMEOUT),
	    "the nested shell's rc failed; it wrote:\n%s", term_tail(&c.t));
	ck_assert(term_sync(&c.t, STEP_TIMEOUT));
	/* One line, nothing else from us. */
	ck_assert_int_eq(term_count(&c.t, "dazai:"), 1);
	ck_assert_int_eq(count_clients(&c, 0, NULL), 1);
	ck_assert_int_eq(count_clients(&c, c.t.pid, NULL), 1);
	expect_still_guarding(&c);

	/* Leave the nested shell: back at the outer one, no panic. */
	term_type(&c.t, "exit\n");
	ck_assert(term_sync(&c.t, STEP_TIMEOUT));
	term_type(&c.t, "echo \"OUTER=$$\"\n");
	snprintf(want, sizeof want, "OUTER=%d", (int)c.t.pid);
	ck_assert_msg(term_wait(&c.t, want, STEP_TIMEOUT),
	    "not back in the outer shell; it wrote:\n%s", term_tail(&c.t));
	usleep(300000);
	expect_still_guarding(&c);
	ck_assert_int_eq(count_clients(&c, c.t.pid, NULL), 1);
	ck_assert_int_eq(dz_log_count(&c.d, "heartbeat connected"), 1);

	expect_exit(&c);
	expect_panic(&c);
	ctx_done(&c);
}

START_TEST(bash_nested)
{
	nested(SH_BASH);
}
END_TEST

START_TEST(zsh_nested)
{
	nested(SH_ZSH);
}
END_TEST

/*
 * ^C, ^\ and ^Z at the prompt, and ^C to a foreground command, reach the
 * shell's jobs, never its guard.
 */
static void
terminal_signals(enum shell_kind kind)
{
	struct ctx c;

	if (!ctx_init(&c, kind, true))
		return;
	ctx_rc(&c, NULL, 1, NULL);
	ctx_start(&c);
	expect_guarded(&c);
	/* One at a time: a signal key flushes the input typed after it. */
	term_type(&c.t, "\003");
	term_drain(&c.t, 200);
	ck_assert_msg(term_resync(&c.t), "the shell wrote:\n%s",
	    term_tail(&c.t));
	term_type(&c.t, "\034");
	term_drain(&c.t, 200);
	ck_assert_msg(term_resync(&c.t), "the shell wrote:\n%s",
	    term_tail(&c.t));
	term_type(&c.t, "\032");
	term_drain(&c.t, 200);
	ck_assert_msg(term_resync(&c.t), "the shell wrote:\n%s",
	    term_tail(&c.t));
	term_type(&c.t, "sleep 30\n");
	term_drain(&c.t, 300);
	term_type(&c.t, "\003");
	term_drain(&c.t, 200);
	ck_assert_msg(term_resync(&c.t), "the shell wrote:\n%s",
	    term_tail(&c.t));
	usleep(200000);
	expect_still_guarding(&c);
	ck_assert_int_eq(count_clients(&c, c.t.pid, NULL), 1);
	expect_exit(&c);
	expect_panic(&c);
	ctx_done(&c);
}

START_TEST(bash_terminal_signals)
{
	terminal_signals(SH_BASH);
}
END_TEST

START_TEST(zsh_terminal_signals)
{
	terminal_signals(SH_ZSH);
}
END_TEST

/*
 * The user's aliases for the builtins and commands shellrc.sh uses change
 * nothing: it is guarded, the aliases are still there, the exit panics.
 */
static void
hostile_aliases(enum shell_kind kind)
{
	struct ctx c;

	if (!ctx_init(&c, kind, true))
		return;
	ctx_rc(&c,
	    "alias kill=false read=false local=false exec=false "
	    "command=false trap=false printf=false eval=false sh=false "
	    "setsid=false shopt=false setopt=false",
	    1, NULL);
	ctx_start(&c);
	expect_guarded(&c);
	term_type(&c.t, "alias kill\n");
	ck_assert_msg(term_wait(&c.t, "kill=", STEP_TIMEOUT),
	    "the user's alias is gone; the shell wrote:\n%s", term_tail(&c.t));
	ck_assert(term_sync(&c.t, STEP_TIMEOUT));
	expect_exit(&c);
	expect_panic(&c);
	ctx_done(&c);
}

START_TEST(bash_aliases)
{
	hostile_aliases(SH_BASH);
}
END_TEST

START_TEST(zsh_aliases)
{
	hostile_aliases(SH_ZSH);
}
END_TEST

/*
 * Without setsid(1) in PATH (nor anything else: PATH is an empty
 * directory) the client still starts, from a subshell whose process
 * group is not the terminal's at the prompt: ^C there is harmless.
 */
static void
without_setsid(enum shell_kind kind)
{
	struct ctx c;
	char	   empty[PATH_MAX];

	if (!ctx_init(&c, kind, true))
		return;
	snprintf(empty, sizeof empty, "%s/empty", c.home);
	ck_assert_int_eq(mkdir(empty, 0700), 0);
	ctx_setenv(&c, "PATH", empty);
	ctx_rc(&c, NULL, 1, NULL);
	ctx_start(&c);
	expect_guarded(&c);
	term_type(&c.t, "\003");
	term_drain(&c.t, 200);
	ck_assert(term_resync(&c.t));
	usleep(200000);
	expect_still_guarding(&c);
	expect_exit(&c);
	expect_panic(&c);
	ctx_done(&c);
}

START_TEST(bash_without_setsid)
{
	without_setsid(SH_BASH);
}
END_TEST

START_TEST(zsh_without_setsid)
{
	without_setsid(SH_ZSH);
}
END_TEST

/*
 * Point 9: non-interactive shells do nothing: no connection, no notice,
 * no functions defined, status 0.
 */
static void
noninteractive(enum shell_kind kind)
{
	struct ctx  c;
	char	    script[PATH_MAX], text[PATH_MAX + 256], out[4096];
	const char *argv[4];
	char	  **saved = environ;
	int	    status;

	if (!ctx_init(&c, kind, true))
		return;
	snprintf(text, sizeof text,
	    ". '%s'\necho \"RC=$?\"\n"
	    "if type _dazai_main >/dev/null 2>&1; then echo DEFINED; "
	    "else echo UNDEFINED; fi\n",
	    c.rcpath);
	snprintf(script, sizeof script, "%s/script.sh", c.home);
	dz_write_file(script, text, strlen(text));

	/* The shells run with the test's environment (dz_run uses environ). */
	environ = c.env;
	/* -c */
	argv[0] = c.shell;
	argv[1] = "-c";
	argv[2] = text;
	argv[3] = NULL;
	status = dz_run(argv, out, sizeof out, STEP_TIMEOUT);
	ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0,
	    "status %d: %s", status, out);
	ck_assert_msg(strstr(out, "RC=0\nUNDEFINED\n") != NULL, "%s", out);
	ck_assert_msg(strstr(out, "dazai") == NULL, "%s", out);

	/* a script */
	argv[1] = script;
	argv[2] = NULL;
	status = dz_run(argv, out, sizeof out, STEP_TIMEOUT);
	ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0,
	    "status %d: %s", status, out);
	ck_assert_msg(strstr(out, "RC=0\nUNDEFINED\n") != NULL, "%s", out);
	ck_assert_msg(strstr(out, "dazai") == NULL, "%s", out);
	environ = saved;

	ck_assert_int_eq(dz_log_count(&c.d, "connection from"), 0);
	ck_assert_int_eq(count_clients(&c, 0, NULL), 0);
	ck_assert(dz_alive(&c.d));
	ctx_done(&c);
}

START_TEST(bash_noninteractive)
{
	noninteractive(SH_BASH);
}
END_TEST

START_TEST(zsh_noninteractive)
{
	noninteractive(SH_ZSH);
}
END_TEST

/*
 * Point 10: DAZAI_HEARTBEAT wins over PATH, PATH is used without it; the
 * socket comes from DAZAI_SOCKET throughout (XDG_RUNTIME_DIR points
 * elsewhere). A client on PATH that fails is reported, not hidden.
 * Along the way: SIGUSR1 to $DAZAI_HEARTBEAT_PID stands down, no panic.
 */
START_TEST(bash_client_lookup)
{
	struct ctx  c;
	char	    fakebin[PATH_MAX], fake[PATH_MAX + 32];
	char	    ran[PATH_MAX + 32], text[PATH_MAX + 256];
	char	    path[PATH_MAX * 2], builddir[PATH_MAX];
	const char *sys = getenv("PATH");
	char	   *slash;

	if (!ctx_init(&c, SH_BASH, true))
		return;
	if (sys == NULL || *sys == '\0')
		sys = "/usr/bin:/bin";
	snprintf(fakebin, sizeof fakebin, "%s/fakebin", c.home);
	ck_assert_int_eq(mkdir(fakebin, 0700), 0);
	snprintf(fake, sizeof fake, "%s/dazai-heartbeat", fakebin);
	snprintf(ran, sizeof ran, "%s/fake.ran", c.home);
	snprintf(text, sizeof text,
	    "#!/bin/sh\necho ran >>'%s'\n"
	    "echo 'dazai-heartbeat: fake client refuses' >&2\nexit 4\n",
	    ran);
	dz_write_file(fake, text, strlen(text));
	ck_assert_int_eq(chmod(fake, 0700), 0);
	ctx_rc(&c, NULL, 1, NULL);

	/* DAZAI_HEARTBEAT beats a dazai-heartbeat earlier in PATH. */
	snprintf(path, sizeof path, "%s:%s", fakebin, sys);
	ctx_setenv(&c, "PATH", path);
	ctx_start(&c);
	expect_guarded(&c);
	ck_assert_int_ne(access(ran, F_OK), 0);
	term_type(&c.t, "kill -USR1 \"$DAZAI_HEARTBEAT_PID\"\n");
	ck_assert(dz_log_wait(&c.d, "stood down", STEP_TIMEOUT));
	ck_assert(clients_gone(&c, 5.0));
	expect_exit(&c);
	usleep(200000);
	ck_assert(dz_alive(&c.d));
	ck_assert(!dz_log_has(&c.d, "heartbeat lost"));
	term_stop(&c.t);

	/* Without DAZAI_HEARTBEAT, PATH decides: the fake runs, fails. */
	memset(&c.t, 0, sizeof c.t);
	c.t.fd = -1;
	ctx_setenv(&c, "DAZAI_HEARTBEAT", NULL);
	ctx_start(&c);
	ck_assert_msg(strstr(c.t.out,
			  "dazai: session UNGUARDED (fake "
			  "client refuses)") != NULL,
	    "the shell wrote:\n%s", term_tail(&c.t));
	ck_assert_int_eq(access(ran, F_OK), 0);
	expect_exit(&c);
	term_stop(&c.t);

	/* PATH with the real client: guarded. */
	memset(&c.t, 0, sizeof c.t);
	c.t.fd = -1;
	snprintf(builddir, sizeof builddir, "%s", c.client);
	slash = strrchr(builddir, '/');
	ck_assert_ptr_nonnull(slash);
	*slash = '\0';
	snprintf(path, sizeof path, "%s:%s", builddir, sys);
	ctx_setenv(&c, "PATH", path);
	ctx_start(&c);
	expect_guarded(&c);
	expect_exit(&c);
	expect_panic(&c);
	ctx_done(&c);
}
END_TEST

/*
 * What the shell says about its jobs: wait with no argument returns, $!,
 * the job table, a background job started, listed, killed by job spec
 * and waited for. One line of "key=value" in out.
 */
static void
job_probe(struct ctx *c, char *out, size_t len)
{
	char v[6][128];

	/* In bash 5.1+ a wait that waits for a hidden process never ends. */
	term_type(&c->t, "wait\n");
	ck_assert_msg(term_value(&c->t, "WAITED", "$?", v[0], sizeof v[0]),
	    "wait did not return; the shell wrote:\n%s", term_tail(&c->t));
	ck_assert(term_value(&c->t, "BANG", "${!-unset}", v[1], sizeof v[1]));
	term_type(&c->t, "jobs >\"$HOME/jobs.out\"\n");
	ck_assert(term_value(&c->t, "JOBS", "$(wc -l <\"$HOME/jobs.out\")",
	    v[2], sizeof v[2]));
	term_type(&c->t, "sleep 300 &\n");
	term_type(&c->t, "jobs >\"$HOME/jobs.out\"\n");
	ck_assert(term_value(&c->t, "JOBS", "$(wc -l <\"$HOME/jobs.out\")",
	    v[3], sizeof v[3]));
	ck_assert(term_value(&c->t, "SLEEP",
	    "$(tr '\\0' ' ' </proc/$!/cmdline)", v[4], sizeof v[4]));
	term_type(&c->t, "kill %1; wait\n");
	ck_assert_msg(term_value(&c->t, "WAITED", "$?", v[5], sizeof v[5]),
	    "wait did not return; the shell wrote:\n%s", term_tail(&c->t));
	snprintf(out, len,
	    "wait=%s bang=%s jobs=%s jobs-after-&=%s "
	    "$!-is=%s wait-after-kill=%s",
	    v[0], v[1], v[2], v[3], v[4], v[5]);
}

/*
 * Item: a guarded shell's wait, $!, jobs and job control are exactly an
 * unguarded shell's (the same probe in both, compared).
 */
static void
jobs_as_unguarded(enum shell_kind kind)
{
	struct ctx c;
	char	   plain[1024], guarded[1024];

	if (!ctx_init(&c, kind, true))
		return;
	ctx_rc(&c, NULL, 0, NULL);
	ctx_start(&c);
	job_probe(&c, plain, sizeof plain);
	expect_exit(&c);
	term_stop(&c.t);
	ck_assert_int_eq(dz_log_count(&c.d, "connection from"), 0);

	memset(&c.t, 0, sizeof c.t);
	c.t.fd = -1;
	ctx_rc(&c, NULL, 1, NULL);
	ctx_start(&c);
	expect_guarded(&c);
	job_probe(&c, guarded, sizeof guarded);
	ck_assert_msg(strstr(plain, "sleep 300") != NULL, "%s", plain);
	ck_assert_str_eq(guarded, plain);
	expect_still_guarding(&c);
	expect_exit(&c);
	expect_panic(&c);
	ctx_done(&c);
}

START_TEST(bash_jobs)
{
	jobs_as_unguarded(SH_BASH);
}
END_TEST

START_TEST(zsh_jobs)
{
	jobs_as_unguarded(SH_ZSH);
}
END_TEST

/*
 * Item: after the documented stand-down the next prompt says the shell is
 * unguarded, the variables are gone, and exit signals nobody.
 */
static void
stand_down(enum shell_kind kind)
{
	struct ctx c;
	char	   v[256];
	size_t	   mark;

	if (!ctx_init(&c, kind, true))
		return;
	ctx_rc(&c, NULL, 1, NULL);
	ctx_start(&c);
	expect_guarded(&c);
	term_type(&c.t, "kill -USR1 \"$DAZAI_HEARTBEAT_PID\"\n");
	ck_assert(dz_log_wait(&c.d, "stood down", STEP_TIMEOUT));
	ck_assert(clients_gone(&c, 5.0));
	/* At the prompt after the client is gone: the next one at most. */
	mark = c.t.seen;
	ck_assert(term_sync(&c.t, STEP_TIMEOUT));
	c.t.seen = mark;
	ck_assert_msg(term_wait(&c.t,
			  "dazai: session UNGUARDED (stood down; "
			  "the daemon keeps the secret)",
			  STEP_TIMEOUT),
	    "the shell wrote:\n%s", term_tail(&c.t));
	ck_assert(term_value(&c.t, "VARS",
	    "${DAZAI_HEARTBEAT_PID-}|"
	    "${DAZAI_GUARD_PID-}|${_DAZAI_CLIENT-}",
	    v, sizeof v));
	ck_assert_str_eq(v, "||");
	ck_assert(term_value(&c.t, "ENV",
	    "$(env | "
	    "grep -c '^_*DAZAI_[A-Z_]*\\(PID\\|CLIENT\\)=')",
	    v, sizeof v));
	ck_assert_str_eq(v, "0");
	/* Said once. */
	ck_assert(term_sync(&c.t, STEP_TIMEOUT));
	ck_assert_int_eq(term_count(&c.t, "dazai:"), 1);
	expect_exit(&c);
	usleep(200000);
	ck_assert(dz_alive(&c.d));
	ck_assert(!dz_log_has(&c.d, "heartbeat lost"));
	ctx_done(&c);
}

START_TEST(bash_stand_down)
{
	stand_down(SH_BASH);
}
END_TEST

START_TEST(zsh_stand_down)
{
	stand_down(SH_ZSH);
}
END_TEST

/*
 * Item: the exit hook signals only the client it started. The record is
 * pointed at another live process with the client's pid slot taken over
 * (what a reused pid looks like: same pid, another start time); on exit
 * that process must survive. The real client still ends with its shell.
 */
static void
exit_spares_reused_pid(enum shell_kind kind)
{
	struct ctx	   c;
	char		   v[64];
	pid_t		   other;
	unsigned long long client_start;
	int		   tries;

	if (!ctx_init(&c, kind, true))
		return;
	ctx_rc(&c, NULL, 1, NULL);
	ctx_start(&c);
	expect_guarded(&c);
	/* Out of the job table (zsh would not exit with it running) and
	 * immune to hangups, not to TERM. */
	/*
	 * A reused pid belongs to a process started later. Start times count
	 * clock ticks: one started within the client's tick would be the
	 * same process as far as any start-time check can tell, so make sure
	 * the stand-in started in a later tick.
	 */
	ck_assert(term_value(&c.t, "CLIENT", "${_DAZAI_CLIENT#* }", v,
	    sizeof v));
	client_start = strtoull(v, NULL, 10);
	for (tries = 0;; tries++) {
		term_type(&c.t, "(trap '' HUP; exec sleep 300) & disown\n");
		ck_assert(term_value(&c.t, "OTHER", "$!", v, sizeof v));
		other = (pid_t)atoi(v);
		ck_assert_int_gt(other, 0);
		if (proc_start(other) != client_start)
			break;
		ck_assert_int_lt(tries, 5);
		kill(other, SIGKILL);
		usleep(20000);
	}
	term_type(&c.t, "_DAZAI_CLIENT=\"$! ${_DAZAI_CLIENT#* }\"; exit\n");
	ck_assert_msg(term_exit(&c.t, STEP_TIMEOUT) == 0,
	    "the shell did not exit; it wrote:\n%s", term_tail(&c.t));
	expect_panic(&c);
	ck_assert_msg(proc_running(other),
	    "the exit hook killed pid %d, "
	    "which is not its client",
	    (int)other);
	kill(other, SIGKILL);
	ctx_done(&c);
}

START_TEST(bash_reused_pid)
{
	exit_spares_reused_pid(SH_BASH);
}
END_TEST

START_TEST(zsh_reused_pid)
{
	exit_spares_reused_pid(SH_ZSH);
}
END_TEST

/*
 * Item: exec bash -i (exec zsh -i) in a guarded shell keeps the guard:
 * the same client, no new connection, the stand-down still works and the
 * next prompt says so.
 */
static void
exec_keeps_guard(enum shell_kind kind)
{
	struct ctx c;
	char	   v[64], want[64];
	pid_t	   client = 0;
	size_t	   mark;

	if (!ctx_init(&c, kind, true))
		return;
	ctx_rc(&c, NULL, 1, NULL);
	ctx_start(&c);
	expect_guarded(&c);
	ck_assert_int_eq(count_clients(&c, c.t.pid, &client), 1);
	term_type(&c.t, kind == SH_BASH ? "exec bash -i\n" : "exec zsh -i\n");
	ck_assert(term_wait(&c.t, "SOURCED-RC=0", START_TIMEOUT));
	ck_assert(term_sync(&c.t, STEP_TIMEOUT));
	ck_assert_msg(term_count(&c.t, "dazai:") == 0, "the shell wrote:\n%s",
	    term_tail(&c.t));
	ck_assert(term_value(&c.t, "HB", "$DAZAI_HEARTBEAT_PID", v, sizeof v));
	snprintf(want, sizeof want, "%d", (int)client);
	ck_assert_str_eq(v, want);
	ck_assert_int_eq(dz_log_count(&c.d, "heartbeat connected"), 1);
	ck_assert_int_eq(count_clients(&c, 0, NULL), 1);
	term_type(&c.t, "kill -USR1 \"$DAZAI_HEARTBEAT_PID\"\n");
	ck_assert(dz_log_wait(&c.d, "stood down", STEP_TIMEOUT));
	ck_assert(clients_gone(&c, 5.0));
	/* The new shell reads the client's last words as the old one
	 * would have: a stand-down, not an unexplained exit. */
	mark = c.t.seen;
	ck_assert(term_sync(&c.t, STEP_TIMEOUT));
	c.t.seen = mark;
	ck_assert_msg(term_wait(&c.t,
			  "dazai: session UNGUARDED (stood down; "
			  "the daemon keeps the secret)",
			  STEP_TIMEOUT),
	    "the shell wrote:\n%s", term_tail(&c.t));
	ck_assert(term_value(&c.t, "VARS",
	    "${DAZAI_HEARTBEAT_PID-}|"
	    "${DAZAI_GUARD_PID-}|${_DAZAI_CLIENT-}|${_DAZAI_FD-}",
	    v, sizeof v));
	ck_assert_str_eq(v, "|||");
	expect_exit(&c);
	usleep(200000);
	ck_assert(dz_alive(&c.d));
	ck_assert(!dz_log_has(&c.d, "heartbeat lost"));
	ctx_done(&c);
}

START_TEST(bash_exec)
{
	exec_keeps_guard(SH_BASH);
}
END_TEST

START_TEST(zsh_exec)
{
	exec_keeps_guard(SH_ZSH);
}
END_TEST

/* After exec, an exit without stand-down still panics. */
START_TEST(bash_exec_exit)
{
	struct ctx c;

	if (!ctx_init(&c, SH_BASH, true))
		return;
	ctx_rc(&c, NULL, 1, NULL);
	ctx_start(&c);
	expect_guarded(&c);
	term_type(&c.t, "exec bash -i\n");
	ck_assert(term_wait(&c.t, "SOURCED-RC=0", START_TIMEOUT));
	ck_assert(term_sync(&c.t, STEP_TIMEOUT));
	term_type(&c.t, "trap -p EXIT | sed 's/^/TRAP:/'\n");
	ck_assert(term_wait(&c.t, "TRAP:trap -- '_dazai_on_exit' EXIT",
	    STEP_TIMEOUT));
	expect_exit(&c);
	expect_panic(&c);
	ctx_done(&c);
}
END_TEST

/*
 * Item: the daemon goes away under a guarded shell: the next prompt says
 * the session is UNGUARDED and why, once; the user's own prompt hook
 * (set before sourcing) still runs and still sees the last status.
 */
static void
prompt_notice(enum shell_kind kind, const char *before, const char *want1)
{
	struct ctx c;
	char	   v[64];
	size_t	   mark;

	if (!ctx_init(&c, kind, true))
		return;
	ctx_rc(&c, before, 1, NULL);
	ctx_start(&c);
	expect_guarded(&c);
	term_type(&c.t, "false\n");
	ck_assert_msg(term_wait(&c.t, "PC=<1>", STEP_TIMEOUT),
	    "the user's prompt hook; the shell wrote:\n%s", term_tail(&c.t));
	if (want1 != NULL)
		ck_assert(term_wait(&c.t, want1, STEP_TIMEOUT));
	term_type(&c.t, "true\n");
	ck_assert(term_wait(&c.t, "PC=<0>", STEP_TIMEOUT));

	dz_stop(&c.d);
	ck_assert(clients_gone(&c, 5.0));
	mark = c.t.seen;
	ck_assert(term_sync(&c.t, STEP_TIMEOUT));
	c.t.seen = mark;
	ck_assert_msg(term_wait(&c.t,
			  "dazai: session UNGUARDED (lost the "
			  "daemon at ",
			  STEP_TIMEOUT) &&
		term_wait(&c.t,
		    "(connection "
		    "closed); the daemon stopped or panicked)",
		    STEP_TIMEOUT),
	    "the shell wrote:\n%s", term_tail(&c.t));
	ck_assert(term_value(&c.t, "HB", "${DAZAI_HEARTBEAT_PID-}", v,
	    sizeof v));
	ck_assert_str_eq(v, "");
	term_type(&c.t, "false\n");
	ck_assert(term_wait(&c.t, "PC=<1>", STEP_TIMEOUT));
	ck_assert(term_sync(&c.t, STEP_TIMEOUT));
	ck_assert_int_eq(term_count(&c.t, "dazai:"), 1);
	expect_exit(&c);
	ctx_done(&c);
}

START_TEST(bash_prompt_notice)
{
	prompt_notice(SH_BASH, "PROMPT_COMMAND='echo \"PC=<$?>\"'", NULL);
}
END_TEST

/* The same with an array PROMPT_COMMAND (bash 5.1+ runs each element). */
START_TEST(bash_prompt_array)
{
	char	    out[256], bash[PATH_MAX];
	const char *argv[] = { bash, "-c",
		"((BASH_VERSINFO[0] * 100 + BASH_VERSINFO[1] >= 501))", NULL };

	if (!dz_which("bash", bash, sizeof bash)) {
		dz_skip("bash not found in PATH");
		return;
	}
	if (dz_run(argv, out, sizeof out, STEP_TIMEOUT) != 0) {
		dz_skip_na("bash before 5.1 has no array PROMPT_COMMAND");
		return;
	}
	prompt_notice(SH_BASH,
	    "PROMPT_COMMAND=('echo \"PC=<$?>\"' "
	    "'echo \"PC2=<done>\"')",
	    "PC2=<done>");
}
END_TEST

START_TEST(zsh_prompt_notice)
{
	prompt_notice(SH_ZSH,
	    "user_pc() { echo \"PC=<$?>\"; }\n"
	    "precmd_functions+=(user_pc)",
	    NULL);
}
END_TEST

/*
 * Item: a second, separate window finds the one slot taken: it says what
 * is true and how to move the guard; once the first stands down, sourcing
 * again guards the second.
 */
static void
separate_window(enum shell_kind kind)
{
	struct ctx   c;
	struct term *t2;
	char	     want[PATH_MAX + 512], cmd[PATH_MAX + 16];

	if (!ctx_init(&c, kind, true))
		return;
	ctx_rc(&c, NULL, 1, NULL);
	ctx_start(&c);
	expect_guarded(&c);
	ck_assert_ptr_nonnull(t2 = calloc(1, sizeof *t2));
	t2->fd = -1;
	term_start(&c, t2);
	snprintf(want, sizeof want,
	    "dazai: session UNGUARDED (the daemon "
	    "serves one heartbeat and another process holds it, from another "
	    "window or a script; to move the guard here, stand that one down "
	    "(kill -USR1 its DAZAI_HEARTBEAT_PID), then: . %s; to guard every "
	    "window, give the daemon sessions = 16 in dazai.conf)",
	    c.rcpath);
	ck_assert_msg(term_count(t2, want) == 1,
	    "want \"%s\"; the shell "
	    "wrote:\n%s",
	    want, term_tail(t2));
	ck_assert_int_eq(term_count(t2, "dazai:"), 1);

	term_type(&c.t, "kill -USR1 \"$DAZAI_HEARTBEAT_PID\"\n");
	ck_assert(dz_log_wait(&c.d, "stood down", STEP_TIMEOUT));
	ck_assert(clients_gone(&c, 5.0));
	snprintf(cmd, sizeof cmd, ". '%s'\n", c.rcpath);
	term_type(t2, cmd);
	ck_assert(term_sync(t2, STEP_TIMEOUT));
	ck_assert_int_eq(term_count(t2, "dazai:"), 1);
	ck_assert_int_eq(count_clients(&c, t2->pid, NULL), 1);
	expect_busy(&c);
	/* The first window closes: nothing happens. The second: panic. */
	expect_exit(&c);
	usleep(200000);
	expect_still_guarding(&c);
	term_type(t2, "exit\n");
	ck_assert(term_exit(t2, STEP_TIMEOUT) == 0);
	expect_panic(&c);
	term_stop(t2);
	free(t2);
	ctx_done(&c);
}

START_TEST(bash_separate_window)
{
	separate_window(SH_BASH);
}
END_TEST

START_TEST(zsh_separate_window)
{
	separate_window(SH_ZSH);
}
END_TEST

/*
 * Item: a shell opened before the daemon started says it stays
 * unguarded until the file is sourced again; sourcing it again once the
 * daemon runs guards it.
 */
static void
daemon_later(enum shell_kind kind)
{
	static const char *const verbose[] = { "--verbose", NULL };
	struct ctx		 c;
	char			 want[PATH_MAX + 256], dir[PATH_MAX];
	char			 cmd[PATH_MAX + 16];

	if (!ctx_init(&c, kind, false))
		return;
	ctx_rc(&c, NULL, 1, NULL);
	ctx_start(&c);
	snprintf(want, sizeof want,
	    "; a shell opened before dazaid started "
	    "stays unguarded until this file is sourced again: . %s)",
	    c.rcpath);
	ck_assert_msg(term_count(&c.t, want) == 1,
	    "want \"%s\"; the shell "
	    "wrote:\n%s",
	    want, term_tail(&c.t));
	snprintf(dir, sizeof dir, "%s", c.sock);
	*strrchr(dir, '/') = '\0';
	ck_assert_int_eq(mkdir(dir, 0700), 0);
	ck_assert_int_eq(dz_start_at(&c.d, c.sock, verbose), 0);
	snprintf(cmd, sizeof cmd, ". '%s'\n", c.rcpath);
	term_type(&c.t, cmd);
	ck_assert(term_sync(&c.t, STEP_TIMEOUT));
	ck_assert_int_eq(term_count(&c.t, "dazai:"), 1);
	expect_guard_held(&c);
	expect_exit(&c);
	expect_panic(&c);
	ctx_done(&c);
}

START_TEST(bash_daemon_later)
{
	daemon_later(SH_BASH);
}
END_TEST

START_TEST(zsh_daemon_later)
{
	daemon_later(SH_ZSH);
}
END_TEST

/*
 * Item: DAZAI_INTERVAL reaches the client, so a daemon with a short ping
 * timeout (2 s, under the default 5 s interval) keeps its heartbeat.
 */
static void
interval_follows(enum shell_kind kind)
{
	static const char *const args[] = { "--verbose", "--ping-timeout", "2",
		NULL };
	struct ctx		 c;

	if (!ctx_init_args(&c, kind, true, args))
		return;
	ctx_setenv(&c, "DAZAI_INTERVAL", "0.5");
	ctx_rc(&c, NULL, 1, NULL);
	ctx_start(&c);
	expect_guarded(&c);
	/* Three ping timeouts, six PINGs each. */
	usleep(6000000);
	expect_still_guarding(&c);
	expect_exit(&c);
	expect_panic(&c);
	ctx_done(&c);
}

START_TEST(bash_interval)
{
	interval_follows(SH_BASH);
}
END_TEST

START_TEST(zsh_interval)
{
	interval_follows(SH_ZSH);
}
END_TEST

/* The live heartbeats the daemon counts (STATUS sessions=), or -1. */
static int
live_sessions(const struct ctx *c)
{
	char	    buf[512];
	const char *p;
	int	    fd = dz_connect(c->sock);

	if (fd < 0)
		return -1;
	if (!dz_send(fd, "STATUS\n") ||
	    dz_readline(fd, buf, sizeof buf, 5) == NULL ||
	    (p = strstr(buf, " sessions=")) == NULL) {
		close(fd);
		return -1;
	}
	close(fd);
	return atoi(p + 10);
}

/* Wait up to timeout seconds for the daemon to count n heartbeats. */
static bool
sessions_reach(const struct ctx *c, int n, double timeout)
{
	long long end = dz_ms_now() + (long long)(timeout * 1000);

	while (live_sessions(c) != n) {
		if (dz_ms_now() >= end)
			return false;
		usleep(20000);
	}
	return true;
}

/*
 * With several sessions every window holds its own heartbeat: four shells
 * open; closing three of them (by exit, by closing the terminal, by kill
 * -9) panics nothing and the secret stays; closing the last is the panic
 * (WOULD SIGKILL in dry-run, death when armed).
 */
static void
every_window(enum shell_kind kind, bool armed)
{
	static const char *const dry[] = { "--verbose", "--sessions", "4",
		NULL };
	static const char *const arm[] = { "--verbose", "--sessions", "4",
		"--arm", NULL };
	struct ctx		 c;
	struct term		*t[3];
	int			 i;

	if (!ctx_init_args(&c, kind, true, armed ? arm : dry))
		return;
	ctx_rc(&c, NULL, 1, NULL);
	ctx_start(&c);
	for (i = 0; i < 3; i++) {
		ck_assert_ptr_nonnull(t[i] = calloc(1, sizeof *t[i]));
		t[i]->fd = -1;
		term_start(&c, t[i]);
		ck_assert_msg(term_count(t[i], "UNGUARDED") == 0,
		    "window %d "
		    "was not guarded:\n%s",
		    i + 2, term_tail(t[i]));
	}
	ck_assert_msg(sessions_reach(&c, 4, STEP_TIMEOUT),
	    "%d sessions, "
	    "want 4",
	    live_sessions(&c));
	/* By exit. */
	term_type(t[0], "exit\n");
	ck_assert(term_exit(t[0], STEP_TIMEOUT) == 0);
	ck_assert(dz_log_wait(&c.d, "; 3 sessions remain", STEP_TIMEOUT));
	/* By closing its terminal. */
	close(t[1]->fd);
	t[1]->fd = -1;
	ck_assert(term_exit(t[1], STEP_TIMEOUT) == 0);
	ck_assert(dz_log_wait(&c.d, "; 2 sessions remain", STEP_TIMEOUT));
	/* By kill -9: no exit hook runs; the client sees it die. */
	kill(t[2]->pid, SIGKILL);
	ck_assert(term_exit(t[2], STEP_TIMEOUT) == 0);
	ck_assert(dz_log_wait(&c.d, "; 1 session remains", STEP_TIMEOUT));
	ck_assert_msg(sessions_reach(&c, 1, STEP_TIMEOUT), "%d sessions",
	    live_sessions(&c));
	ck_assert(dz_alive(&c.d));
	ck_assert(!dz_log_has(&c.d, "WOULD SIGKILL"));
	ck_assert(!dz_log_has(&c.d, "secret wiped"));
	/* The last window: the panic. */
	term_type(&c.t, "exit\n");
	ck_assert(term_exit(&c.t, STEP_TIMEOUT) == 0);
	if (armed) {
		ck_assert_msg(dz_wait(&c.d, STEP_TIMEOUT) == 0, "no panic");
		ck_assert(WIFSIGNALED(c.d.status) &&
		    WTERMSIG(c.d.status) == SIGKILL);
		ck_assert(dz_log_has(&c.d, "secret wiped"));
	} else
		expect_panic(&c);
	for (i = 0; i < 3; i++) {
		term_stop(t[i]);
		free(t[i]);
	}
	ctx_done(&c);
}

START_TEST(bash_every_window)
{
	every_window(SH_BASH, false);
}
END_TEST

START_TEST(zsh_every_window_armed)
{
	every_window(SH_ZSH, true);
}
END_TEST

/* A tmux server of the test's own, in the foreground (-D). */
struct mux {
	char  prog[PATH_MAX]; /* tmux */
	char  sock[PATH_MAX]; /* its socket, in the test's home */
	pid_t server;
};

/*
 * Run tmux with args against m's server, in c's environment (never the
 * test's: a $TMUX there would make tmux refuse to nest); its output in
 * out. Returns its exit status, -1 if it did not end within 10 s.
 */
static int
mux_run(const struct ctx *c, const struct mux *m, const char *const *args,
    char *out, size_t len)
{
	const char   *argv[16];
	struct pollfd pfd;
	size_t	      n = 0, got = 0;
	long long     end = dz_ms_now() + 10000;
	ssize_t	      r;
	pid_t	      pid;
	int	      p[2], st, i;

	argv[n++] = m->prog;
	argv[n++] = "-S";
	argv[n++] = m->sock;
	while (*args != NULL && n + 1 < sizeof argv / sizeof argv[0])
		argv[n++] = *args++;
	argv[n] = NULL;
	ck_assert_int_eq(pipe2(p, O_CLOEXEC), 0);
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		dup2(p[1], STDOUT_FILENO);
		dup2(p[1], STDERR_FILENO);
		for (i = 3; i < 256; i++)
			close(i);
		execve(argv[0], (char *const *)argv, c->env);
		_exit(127);
	}
	close(p[1]);
	pfd.fd = p[0];
	pfd.events = POLLIN;
	while (dz_ms_now() < end && poll(&pfd, 1, 100) >= 0) {
		if (!(pfd.revents & (POLLIN | POLLHUP)))
			continue;
		r = read(p[0], out + got, len - 1 - got);
		if (r <= 0)
			break;
		got += (size_t)r;
		if (got + 1 >= len)
			break;
	}
	out[got] = '\0';
	close(p[0]);
	if (dz_waitpid(pid, &st, (double)(end - dz_ms_now()) / 1000) != 0) {
		kill(pid, SIGKILL);
		dz_waitpid(pid, &st, 5);
		return -1;
	}
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/*
 * Start m's server with c's environment (what a server started from a
 * shell of that user gets), and in it one detached session whose window
 * runs an interactive c->shell, which reads the rc file; *pane gets that
 * shell's pid. False (after a skip) without tmux.
 */
static bool
mux_start(const struct ctx *c, struct mux *m, pid_t *pane)
{
	static const char *const list[] = { "list-sessions", NULL };
	const char *argv[] = { m->prog, "-D", "-f", "/dev/null", "-S", m->sock,
		NULL };
	const char *newsess[] = { "new-session", "-d", "-s", "dz", "-x", "200",
		"-y", "50", c->shell, "-i", NULL };
	static const char *const pid[] = { "display-message", "-p", "-t", "dz",
		"#{pane_pid}", NULL };
	static const char *const cap[] = { "capture-pane", "-p", "-t", "dz",
		NULL };
	char			 out[8192], log[PATH_MAX];
	long long		 end;
	int			 fd, i;

	memset(m, 0, sizeof *m);
	if (!dz_which("tmux", m->prog, sizeof m->prog)) {
		dz_skip("tmux not found in PATH");
		return false;
	}
	snprintf(m->sock, sizeof m->sock, "%s/tmux.sock", c->home);
	snprintf(log, sizeof log, "%s/tmux.log", c->home);
	m->server = fork();
	ck_assert_int_ge(m->server, 0);
	if (m->server == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		fd = open(log, O_WRONLY | O_CREAT | O_APPEND, 0600);
		if (fd >= 0) {
			dup2(fd, STDOUT_FILENO);
			dup2(fd, STDERR_FILENO);
		}
		fd = open("/dev/null", O_RDONLY);
		if (fd >= 0)
			dup2(fd, STDIN_FILENO);
		for (i = 3; i < 256; i++)
			close(i);
		if (chdir(c->home) != 0)
			_exit(126);
		setsid();
		execve(argv[0], (char *const *)argv, c->env);
		_exit(127);
	}
	end = dz_ms_now() + (long long)(START_TIMEOUT * 1000);
	while (mux_run(c, m, list, out, sizeof out) < 0 ||
	    (access(m->sock, F_OK) != 0)) {
		ck_assert_msg(dz_ms_now() < end, "no tmux server at %s",
		    m->sock);
		usleep(50000);
	}
	ck_assert_msg(mux_run(c, m, newsess, out, sizeof out) == 0,
	    "tmux new-session: %s", out);
	ck_assert_msg(mux_run(c, m, pid, out, sizeof out) == 0, "%s", out);
	*pane = (pid_t)atoi(out);
	ck_assert_int_gt(*pane, 0);
	/* The pane's shell has read its rc file. */
	end = dz_ms_now() + (long long)(START_TIMEOUT * 1000);
	while (mux_run(c, m, cap, out, sizeof out) != 0 ||
	    strstr(out, "SOURCED-RC=0") == NULL) {
		ck_assert_msg(dz_ms_now() < end,
		    "the shell in tmux did not "
		    "read its rc file; its window shows:\n%s",
		    out);
		usleep(50000);
	}
	return true;
}

/* What the pane's window shows. */
static const char *
mux_screen(const struct ctx *c, const struct mux *m)
{
	static const char *const cap[] = { "capture-pane", "-p", "-t", "dz",
		NULL };
	static char		 out[8192];

	mux_run(c, m, cap, out, sizeof out);
	return out;
}

/* Stop m's server (by pid): the shells in its panes get SIGHUP. */
static void
mux_stop(struct mux *m)
{
	int st;

	if (m->server > 0) {
		kill(m->server, SIGKILL);
		dz_waitpid(m->server, &st, 5);
		m->server = 0;
	}
}

/*
 * The README's account of multiplexers. By default a shell in a tmux
 * pane holds a heartbeat like any other: logging out (the last shell
 * outside tmux ends) leaves the detached pane guarding the secret, which
 * lives until that pane ends. With DAZAI_MULTIPLEXER=skip the pane says
 * it holds no guard (so does a shell under screen, $STY), and logging
 * out is the panic, while the pane still runs.
 */
static void
multiplexer(bool skip)
{
	static const char *const args[] = { "--verbose", "--sessions", "16",
		NULL };
	struct ctx		 c;
	struct mux		 m;
	struct term		 screen;
	pid_t			 pane = 0;

	if (!ctx_init_args(&c, SH_BASH, true, args))
		return;
	ctx_rc(&c, skip ? "DAZAI_MULTIPLEXER=skip" : NULL, 1, NULL);
	ctx_start(&c);
	ck_assert_msg(term_count(&c.t, "dazai:") == 0 &&
		count_clients(&c, c.t.pid, NULL) == 1,
	    "the login shell is not "
	    "guarded:\n%s",
	    term_tail(&c.t));
	if (!mux_start(&c, &m, &pane)) {
		ctx_done(&c);
		return;
	}
	if (!skip) {
		ck_assert_msg(strstr(mux_screen(&c, &m), "dazai:") == NULL,
		    "%s", mux_screen(&c, &m));
		ck_assert_int_eq(count_clients(&c, pane, NULL), 1);
		ck_assert(sessions_reach(&c, 2, STEP_TIMEOUT));
		/* Log out: the detached pane keeps the secret. */
		expect_exit(&c);
		ck_assert(dz_log_wait(&c.d, "; 1 session remains",
		    STEP_TIMEOUT));
		usleep(300000);
		ck_assert(dz_alive(&c.d));
		ck_assert(!dz_log_has(&c.d, "secret wiped"));
		/* Until the pane ends. */
		mux_stop(&m);
		expect_panic(&c);
		ctx_done(&c);
		return;
	}
	ck_assert_msg(strstr(mux_screen(&c, &m),
			  "dazai: session UNGUARDED "
			  "(inside tmux, whose sessions outlive your logout; "
			  "DAZAI_MULTIPLEXER=skip)") != NULL,
	    "the pane shows:\n%s", mux_screen(&c, &m));
	ck_assert_int_eq(count_clients(&c, pane, NULL), 0);
	/* The same under screen, which sets STY. */
	memset(&screen, 0, sizeof screen);
	screen.fd = -1;
	ctx_setenv(&c, "STY", "4242.pts-0.host");
	term_start(&c, &screen);
	ctx_setenv(&c, "STY", NULL);
	ck_assert_msg(term_count(&screen,
			  "dazai: session UNGUARDED (inside "
			  "screen, whose sessions outlive your logout; "
			  "DAZAI_MULTIPLEXER=skip)") == 1,
	    "%s", term_tail(&screen));
	ck_assert_int_eq(count_clients(&c, screen.pid, NULL), 0);
	term_stop(&screen);
	ck_assert_int_eq(live_sessions(&c), 1);
	/* Log out: the panic, with the pane still there. */
	expect_exit(&c);
	expect_panic(&c);
	ck_assert(proc_running(pane));
	mux_stop(&m);
	ctx_done(&c);
}

START_TEST(tmux_pane_guards)
{
	multiplexer(false);
}
END_TEST

START_TEST(tmux_skip)
{
	multiplexer(true);
}
END_TEST

/*
 * The README's walkthrough, its commands run as written: terminal 1 opened
 * before the daemon says so; dazaid armed, empty, with a grace window and
 * 16 sessions; terminals 2 and 3 guarded; the secret typed once into
 * `dazai load` (not echoed), seen by `dazai status`, used by `dazai get`;
 * terminal 3 closed (logged, nothing else), terminal 2 closed (the panic:
 * the window, the wipe, SIGKILL).
 */
START_TEST(walkthrough)
{
	struct ctx   c;
	struct term *t2, *t3;
	char	     dir[PATH_MAX], cmd[PATH_MAX + 32], v[64];
	const char *args[] = { "--arm", "--grace", "5", "--empty", "--sessions",
		"16", NULL };

	if (!ctx_init(&c, SH_BASH, false))
		return;
	ctx_rc(&c, NULL, 1, NULL);
	/* Terminal 1: before the daemon, so unguarded, and it says so. */
	ctx_start(&c);
	ck_assert_msg(term_count(&c.t,
			  "a shell opened before dazaid started "
			  "stays unguarded until this file is sourced again") ==
		1,
	    "the shell wrote:\n%s", term_tail(&c.t));
	snprintf(dir, sizeof dir, "%s", c.sock);
	*strrchr(dir, '/') = '\0';
	ck_assert_int_eq(mkdir(dir, 0700), 0);
	ck_assert_int_eq(dz_start_at(&c.d, c.sock, args), 0);
	ck_assert(dz_log_has(&c.d,
	    "(ARMED, grace 5s, ping timeout off, up to "
	    "16 heartbeats)"));

	/* Terminals 2 and 3 hold a heartbeat each, silently. */
	ck_assert_ptr_nonnull(t2 = calloc(1, sizeof *t2));
	ck_assert_ptr_nonnull(t3 = calloc(1, sizeof *t3));
	t2->fd = t3->fd = -1;
	term_start(&c, t2);
	term_start(&c, t3);
	ck_assert_int_eq(term_count(t2, "dazai:"), 0);
	ck_assert_int_eq(term_count(t3, "dazai:"), 0);
	ck_assert(sessions_reach(&c, 2, STEP_TIMEOUT));

	/* Terminal 2: the secret typed once, not echoed. */
	snprintf(cmd, sizeof cmd, "PATH=%s:$PATH\n", dz_bin(""));
	term_type(t2, cmd);
	term_type(t2, "dazai load\n");
	ck_assert_msg(term_wait(t2,
			  "dazai: secret (not echoed): ", STEP_TIMEOUT),
	    "no prompt:\n%s", term_tail(t2));
	term_type(t2, "correct horse\n");
	/* Nothing typed ahead: the prompt discards what is queued when it
	 * ends, and takes more input at once for a paste it refuses. */
	ck_assert(dz_log_wait(&c.d, "LOAD of 13 bytes", STEP_TIMEOUT));
	ck_assert(term_sync(t2, STEP_TIMEOUT));
	ck_assert_msg(term_count(t2, "correct horse") == 0,
	    "the secret was echoed:\n%s", term_tail(t2));
	term_type(t2, "dazai status\n");
	ck_assert(term_wait(t2, "secret_bytes  13", STEP_TIMEOUT));
	ck_assert(term_value(t2, "N",
	    "$(dazai status | grep -c "
	    "'^heartbeat ')",
	    v, sizeof v));
	ck_assert_str_eq(v, "2");
	ck_assert(term_value(t2, "BYTES", "$(dazai get | wc -c)", v, sizeof v));
	ck_assert_str_eq(v, "13");

	/* Closing terminal 3: logged, nothing else. */
	term_type(t3, "exit\n");
	ck_assert(term_exit(t3, STEP_TIMEOUT) == 0);
	ck_assert(dz_log_wait(&c.d, "; 1 session remains", STEP_TIMEOUT));
	ck_assert(dz_alive(&c.d));
	ck_assert(!dz_log_has(&c.d, "grace window"));
	/* Closing terminal 2, the last: the panic, the window, the wipe. */
	term_type(t2, "exit\n");
	ck_assert(term_exit(t2, STEP_TIMEOUT) == 0);
	ck_assert(dz_log_wait(&c.d,
	    "heartbeat lost: connection closed "
	    "without QUIT",
	    STEP_TIMEOUT));
	ck_assert(dz_log_wait(&c.d, "grace window of 5s, wipe at ",
	    STEP_TIMEOUT));
	ck_assert_msg(dz_wait(&c.d, 15.0) == 0, "no panic; the log:\n%s",
	    log_text(&c.d));
	ck_assert_msg(WIFSIGNALED(c.d.status) &&
		WTERMSIG(c.d.status) == SIGKILL,
	    "status %d; the log:\n%s", c.d.status, log_text(&c.d));
	ck_assert(dz_log_has(&c.d,
	    "secret wiped (13 bytes overwritten with "
	    "zeros, after the prekey and key)"));
	term_stop(t2);
	term_stop(t3);
	free(t2);
	free(t3);
	ctx_done(&c);
}
END_TEST

/* Point 11: shellcheck is clean; bash and zsh parse the file. */
START_TEST(shellcheck_clean)
{
	char	    rc[PATH_MAX], cwd[PATH_MAX], prog[PATH_MAX];
	char	    out[8192];
	const char *argv[5];
	int	    status;

	ck_assert(getcwd(cwd, sizeof cwd) != NULL);
	snprintf(rc, sizeof rc, "%.3000s/shell/shellrc.sh", cwd);
	if (dz_which("bash", prog, sizeof prog)) {
		argv[0] = prog;
		argv[1] = "-n";
		argv[2] = rc;
		argv[3] = NULL;
		status = dz_run(argv, out, sizeof out, STEP_TIMEOUT);
		ck_assert_msg(status == 0, "bash -n: %s", out);
	}
	if (dz_which("zsh", prog, sizeof prog)) {
		argv[0] = prog;
		argv[1] = "-n";
		argv[2] = rc;
		argv[3] = NULL;
		status = dz_run(argv, out, sizeof out, STEP_TIMEOUT);
		ck_assert_msg(status == 0, "zsh -n: %s", out);
	}
	if (!dz_which("shellcheck", prog, sizeof prog)) {
		dz_skip("shellcheck not found in PATH");
		return;
	}
	argv[0] = prog;
	argv[1] = "-s";
	argv[2] = "bash";
	argv[3] = rc;
	argv[4] = NULL;
	status = dz_run(argv, out, sizeof out, 60.0);
	ck_assert_msg(status == 0, "shellcheck -s bash shell/shellrc.sh:\n%s",
	    out);
}
END_TEST

Suite *
shell_suite(void)
{
	Suite *s = suite_create("shell");
	TCase *tc;

	tc = tcase_create("bash");
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, bash_guard_exit);
	tcase_add_test(tc, bash_sigkill);
	tcase_add_test(tc, bash_hangup);
	tcase_add_test(tc, bash_user_trap);
	tcase_add_test(tc, bash_twice);
	tcase_add_test(tc, bash_strict_guarded);
	tcase_add_test(tc, bash_no_daemon);
	tcase_add_test(tc, bash_no_daemon_strict);
	tcase_add_test(tc, bash_no_client);
	tcase_add_test(tc, bash_no_client_strict);
	tcase_add_test(tc, bash_daemon_hung);
	tcase_add_test(tc, bash_daemon_hung_closed);
	tcase_add_test(tc, bash_nested);
	tcase_add_test(tc, bash_terminal_signals);
	tcase_add_test(tc, bash_without_setsid);
	tcase_add_test(tc, bash_aliases);
	tcase_add_test(tc, bash_noninteractive);
	tcase_add_test(tc, bash_client_lookup);
	tcase_add_test(tc, bash_jobs);
	tcase_add_test(tc, bash_stand_down);
	tcase_add_test(tc, bash_reused_pid);
	tcase_add_test(tc, bash_exec);
	tcase_add_test(tc, bash_exec_exit);
	tcase_add_test(tc, bash_prompt_notice);
	tcase_add_test(tc, bash_prompt_array);
	tcase_add_test(tc, bash_separate_window);
	tcase_add_test(tc, bash_daemon_later);
	tcase_add_test(tc, bash_interval);
	tcase_add_test(tc, walkthrough);
	tcase_add_test(tc, tmux_pane_guards);
	tcase_add_test(tc, tmux_skip);
	tcase_add_test(tc, bash_every_window);
	suite_add_tcase(s, tc);

	tc = tcase_create("zsh");
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, zsh_guard_exit);
	tcase_add_test(tc, zsh_sigkill);
	tcase_add_test(tc, zsh_hangup);
	tcase_add_test(tc, zsh_user_trap);
	tcase_add_test(tc, zsh_twice);
	tcase_add_test(tc, zsh_strict_guarded);
	tcase_add_test(tc, zsh_no_daemon);
	tcase_add_test(tc, zsh_no_daemon_strict);
	tcase_add_test(tc, zsh_no_client);
	tcase_add_test(tc, zsh_daemon_hung_closed);
	tcase_add_test(tc, zsh_nested);
	tcase_add_test(tc, zsh_terminal_signals);
	tcase_add_test(tc, zsh_without_setsid);
	tcase_add_test(tc, zsh_aliases);
	tcase_add_test(tc, zsh_noninteractive);
	tcase_add_test(tc, zsh_jobs);
	tcase_add_test(tc, zsh_stand_down);
	tcase_add_test(tc, zsh_reused_pid);
	tcase_add_test(tc, zsh_every_window_armed);
	tcase_add_test(tc, zsh_exec);
	tcase_add_test(tc, zsh_prompt_notice);
	tcase_add_test(tc, zsh_separate_window);
	tcase_add_test(tc, zsh_daemon_later);
	tcase_add_test(tc, zsh_interval);
	suite_add_tcase(s, tc);

	tc = tcase_create("lint");
	tcase_set_timeout(tc, 90);
	tcase_add_test(tc, shellcheck_clean);
	suite_add_tcase(s, tc);
	return s;
}
