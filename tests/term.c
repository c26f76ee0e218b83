/* SPDX-License-Identifier: ISC */
/*
 * The pseudo-terminal driver of the shell and client suites: start a
 * program on a pty (forkpty), read what it writes, wait for text, type.
 */
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/wait.h>

#include <errno.h>
#include <poll.h>
#include <pty.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#include <check.h>

#include "helpers.h"
#include "term.h"

/*
 * Start argv[0] on a new pty of rows x cols, as t: with envp (NULL: ours)
 * in dir (NULL: ours), no descriptor but the terminal's, and SIGPIPE and
 * SIGINT at their defaults, as at a login. Exits 126 if dir is not
 * there, 127 if argv[0] cannot run.
 */
void
term_spawn(struct term *t, const char *const *argv, char *const *envp,
    const char *dir, unsigned short rows, unsigned short cols)
{
	struct winsize ws = { .ws_row = rows, .ws_col = cols };
	pid_t	       pid;
	int	       fd, i;

	memset(t, 0, sizeof *t);
	t->fd = -1;
	pid = forkpty(&fd, NULL, NULL, &ws);
	ck_assert_msg(pid >= 0, "forkpty: %s", strerror(errno));
	if (pid == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		for (i = 3; i < 256; i++)
			close(i);
		signal(SIGPIPE, SIG_DFL);
		signal(SIGINT, SIG_DFL);
		if (dir != NULL && chdir(dir) != 0)
			_exit(126);
		if (envp != NULL)
			execve(argv[0], (char *const *)argv, envp);
		else
			execv(argv[0], (char *const *)argv);
		_exit(127);
	}
	t->pid = pid;
	t->fd = fd;
}

/* Read what the program wrote, waiting up to ms; -1 once the pty is gone. */
int
term_read(struct term *t, long long ms)
{
	struct pollfd pfd = { t->fd, POLLIN, 0 };
	size_t	      drop, i;
	ssize_t	      n;

	if (t->fd < 0)
		return -1;
	if (ms < 0)
		ms = 0;
	if (poll(&pfd, 1, (int)ms) <= 0)
		return 0;
	if (t->len + 4096 > TERM_OUT_MAX) {
		drop = TERM_OUT_MAX / 2;
		memmove(t->out, t->out + drop, t->len - drop);
		t->len -= drop;
		t->seen = t->seen > drop ? t->seen - drop : 0;
	}
	n = read(t->fd, t->out + t->len, TERM_OUT_MAX - t->len);
	if (n < 0 && errno == EINTR)
		return 0;
	if (n <= 0)
		return -1; /* EIO: no process holds the slave side */
	for (i = t->len; i < t->len + (size_t)n; i++)
		if (t->out[i] == '\0')
			t->out[i] = ' ';
	t->len += (size_t)n;
	t->out[t->len] = '\0';
	return (int)n;
}

/*
 * Wait up to timeout seconds for needle in the output after what earlier
 * waits matched; on success the next wait starts after this match.
 */
bool
term_wait(struct term *t, const char *needle, double timeout)
{
	long long   end = dz_ms_now() + (long long)(timeout * 1000);
	const char *p;

	for (;;) {
		t->out[t->len] = '\0';
		if ((p = strstr(t->out + t->seen, needle)) != NULL) {
			t->seen = (size_t)(p - t->out) + strlen(needle);
			return true;
		}
		if (dz_ms_now() >= end || term_read(t, end - dz_ms_now()) < 0) {
			t->out[t->len] = '\0';
			if ((p = strstr(t->out + t->seen, needle)) != NULL) {
				t->seen = (size_t)(p - t->out) + strlen(needle);
				return true;
			}
			return false;
		}
	}
}

/* Keep reading for ms milliseconds (or until the pty closes). */
void
term_drain(struct term *t, long long ms)
{
	long long end = dz_ms_now() + ms;

	while (dz_ms_now() < end && term_read(t, end - dz_ms_now()) >= 0)
		;
}

/* Count the occurrences of needle in everything the program wrote. */
int
term_count(const struct term *t, const char *needle)
{
	const char *p = t->out;
	int	    n = 0;

	while ((p = strstr(p, needle)) != NULL) {
		n++;
		p += strlen(needle);
	}
	return n;
}

/* Type bytes at the terminal. */
void
term_type(struct term *t, const char *s)
{
	size_t	len = strlen(s), off = 0;
	ssize_t n;

	while (off < len) {
		n = write(t->fd, s + off, len - off);
		if (n < 0 && errno == EINTR)
			continue;
		ck_assert_msg(n > 0, "write to the pty: %s", strerror(errno));
		off += (size_t)n;
	}
}

/* The tail of the output, for failure messages. */
const char *
term_tail(const struct term *t)
{
	return t->len > 1500 ? t->out + t->len - 1500 : t->out;
}

/* Is echo on? (The termios is shared by both sides of the pty.) */
bool
term_echo(struct term *t)
{
	struct termios tio;

	ck_assert_int_eq(tcgetattr(t->fd, &tio), 0);
	return (tio.c_lflag & ECHO) != 0;
}

/* Wait up to timeout seconds for the program to exit, reading its output. */
int
term_exit(struct term *t, double timeout)
{
	long long end = dz_ms_now() + (long long)(timeout * 1000);
	pid_t	  r;

	while (t->pid != 0) {
		r = waitpid(t->pid, &t->status, WNOHANG);
		if (r == t->pid) {
			t->pid = 0;
			break;
		}
		if (r < 0 || dz_ms_now() >= end)
			return -1;
		if (term_read(t, 20) < 0)
			usleep(5000);
	}
	term_drain(t, 50);
	return 0;
}

/* Kill the program if it still runs (by pid), reap it, close the pty. */
void
term_stop(struct term *t)
{
	if (t->pid != 0) {
		kill(t->pid, SIGKILL);
		dz_waitpid(t->pid, &t->status, 5.0);
		t->pid = 0;
	}
	if (t->fd >= 0) {
		close(t->fd);
		t->fd = -1;
	}
}
