/* SPDX-License-Identifier: ISC */
/*
 * The client's secret buffer: sodium_malloc memory that only read(2) fills
 * and only write(2) drains, and a terminal prompt that reads into it with
 * echo off and gives the terminal back on every way out.
 */
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#include <sodium.h>

#include "dazai/secbuf.h"

#define SECBUF_STEP	4096
#define SECBUF_TTY_MAX	65536 /* a typed line is far shorter */
#define SECBUF_PASTE_MS 100   /* how long the rest of a paste may lag */

/* The prompt's state, for the signal handler that restores the terminal. */
static volatile sig_atomic_t tty_active;
static int		     tty_fd = -1;
static int		     tty_out = -1;
static struct termios	     tty_saved;
static struct secbuf	    *tty_buf;

/* The signals that end us at the prompt, and those ignored during it. */
static const int tty_fatal_sigs[] = { SIGINT, SIGTERM, SIGHUP, SIGQUIT,
	SIGALRM };
static const int tty_stop_sigs[] = { SIGTSTP, SIGTTIN, SIGTTOU };
#define NFATAL (sizeof tty_fatal_sigs / sizeof tty_fatal_sigs[0])
#define NSTOP  (sizeof tty_stop_sigs / sizeof tty_stop_sigs[0])

/* Why the last secbuf_reserve failed, for the caller's message. */
static char secbuf_reason[SECBUF_ERRLEN];

/*
 * Initialise libsodium; -1 if it cannot run here. The soft
 * RLIMIT_MEMLOCK is raised to the hard one first, as dazaid does, so a
 * secret as large as the hard limit allows can be locked: the default
 * soft limit is often far below it, and an unlocked buffer could be
 * written to swap.
 */
int
secbuf_init(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_MEMLOCK, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		(void)setrlimit(RLIMIT_MEMLOCK, &rl); /* checked by mlock */
	}
	return sodium_init() < 0 ? -1 : 0;
}

/* The reason the last secbuf_reserve failed. */
const char *
secbuf_error(void)
{
	return secbuf_reason;
}

/*
 * Make room for at least need bytes (rounded up to SECBUF_STEP; how fast
 * to grow is the caller's choice). A bigger buffer is a new sodium_malloc
 * allocation; the bytes move over and the old one is freed, which zeroes
 * it. sodium_malloc goes on when it cannot mlock(2) the pages, so they
 * are locked here again and checked: no secret byte is ever held in
 * memory that could be swapped out. Returns -1 with errno (ENOMEM: no
 * memory, or it cannot be locked) and secbuf_error() saying which.
 */
int
secbuf_reserve(struct secbuf *b, size_t need)
{
	struct rlimit  rl;
	unsigned char *p;
	size_t	       cap;
	int	       saved;

	if (need <= b->cap)
		return 0;
	if (need > (size_t)-1 - SECBUF_STEP) {
		snprintf(secbuf_reason, sizeof secbuf_reason, "%zu bytes: %s",
		    need, strerror(ENOMEM));
		errno = ENOMEM;
		return -1;
	}
	cap = (need + SECBUF_STEP - 1) / SECBUF_STEP * SECBUF_STEP;
	if ((p = sodium_malloc(cap)) == NULL) {
		snprintf(secbuf_reason, sizeof secbuf_reason, "%zu bytes: %s",
		    cap, strerror(ENOMEM));
		errno = ENOMEM;
		return -1;
	}
	if (mlock(p, cap) != 0) {
		saved = errno;
		sodium_free(p);
		if (getrlimit(RLIMIT_MEMLOCK, &rl) == 0 &&
		    rl.rlim_cur != RLIM_INFINITY)
			snprintf(secbuf_reason, sizeof secbuf_reason,
			    "cannot "
			    "lock %zu bytes in memory for the secret (%s; "
			    "RLIMIT_MEMLOCK is %llu bytes, %zu held already): "
			    "refusing to hold it where it could be swapped "
			    "out; raise the limit (ulimit -l)",
			    cap, strerror(saved),
			    (unsigned long long)rl.rlim_cur, b->cap);
		else
			snprintf(secbuf_reason, sizeof secbuf_reason,
			    "cannot "
			    "lock %zu bytes in memory for the secret (%s): "
			    "refusing to hold it where it could be swapped "
			    "out",
			    cap, strerror(saved));
		errno = ENOMEM;
		return -1;
	}
	if (b->p != NULL) {
		memcpy(p, b->p, b->len);
		sodium_free(b->p);
	}
	b->p = p;
	b->cap = cap;
	return 0;
}

/* Zero and release the buffer (sodium_free zeroes before unmapping). */
void
secbuf_free(struct secbuf *b)
{
	if (b->p != NULL) {
		sodium_memzero(b->p, b->cap);
		sodium_free(b->p);
	}
	b->p = NULL;
	b->len = b->cap = 0;
}

/* Wait until fd is ready for events; false on error. */
static int
secbuf_wait(int fd, short events)
{
	struct pollfd pfd = { fd, events, 0 };

	while (poll(&pfd, 1, -1) < 0)
		if (errno != EINTR)
			return -1;
	return 0;
}

/*
 * Read fd to its end straight into the buffer, at most max bytes (more is
 * an error). Returns 0, or -1 with err.
 */
int
secbuf_read_fd(struct secbuf *b, int fd, size_t max, char *err, size_t errlen)
{
	struct stat st;
	size_t	    want;
	ssize_t	    n;

	if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && st.st_size > 0) {
		if ((unsigned long long)st.st_size > max) {
			snprintf(err, errlen, "%lld bytes, the limit is %zu",
			    (long long)st.st_size, max);
			return -1;
		}
		/* One allocation for a file of known size (+1 sees EOF),
		 * locked before a byte of it is read. */
		if (secbuf_reserve(b, (size_t)st.st_size + 1) != 0) {
			snprintf(err, errlen, "%s", secbuf_error());
			return -1;
		}
	}
	for (;;) {
		/* Of unknown size: double, up to one byte over max. */
		if (b->len == b->cap &&
		    secbuf_reserve(b,
			b->cap == 0	     ? SECBUF_STEP :
			    b->cap > max / 2 ? max + 1 :
					       b->cap * 2) != 0) {
			snprintf(err, errlen, "%s", secbuf_error());
			return -1;
		}
		want = b->cap - b->len;
		if (want > max + 1 - b->len)
			want = max + 1 - b->len;
		n = read(fd, b->p + b->len, want);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN) {
			if (secbuf_wait(fd, POLLIN) != 0) {
				snprintf(err, errlen, "poll: %s",
				    strerror(errno));
				return -1;
			}
			continue;
		}
		if (n < 0) {
			snprintf(err, errlen, "%s", strerror(errno));
			return -1;
		}
		if (n == 0)
			return 0;
		b->len += (size_t)n;
		if (b->len > max) {
			snprintf(err, errlen, "more than %zu bytes", max);
			return -1;
		}
	}
}

/*
 * Async-signal-safe: drop what is still queued at the terminal and give
 * it back (tcflush and tcsetattr are both safe here), zero what was typed
 * so far with a plain loop, then die of the same signal (SA_RESETHAND
 * made its action the default again and SA_NODEFER lets it through at
 * once).
 */
static void
secbuf_tty_signal(int sig)
{
	volatile unsigned char *p;
	size_t			i;

	if (tty_active) {
		tcflush(tty_fd, TCIFLUSH);
		tcsetattr(tty_fd, TCSANOW, &tty_saved);
		if (tty_buf != NULL && tty_buf->p != NULL) {
			p = tty_buf->p;
			for (i = 0; i < tty_buf->cap; i++)
				p[i] = 0;
		}
		if (write(tty_out, "\n", 1) < 0) {
			/* dying anyway */
		}
	}
	raise(sig);
}

/*
 * After the line: is more input queued or arriving at once? A paste of
 * several lines comes in one burst, and canonical mode hands over only
 * its first line; raw for a moment (echo still off), a partial last line
 * shows too.
 */
static bool
secbuf_tty_more(int fd, const struct termios *quiet)
{
	struct pollfd  pfd = { fd, POLLIN, 0 };
	struct termios raw = *quiet;
	int	       rc;

	raw.c_lflag &= ~(tcflag_t)ICANON;
	raw.c_cc[VMIN] = 0;
	raw.c_cc[VTIME] = 0;
	if (tcsetattr(fd, TCSANOW, &raw) != 0)
		return false;
	while ((rc = poll(&pfd, 1, SECBUF_PASTE_MS)) < 0 && errno == EINTR)
		;
	return rc > 0 && (pfd.revents & POLLIN) != 0;
}

/*
 * Prompt on outfd and read one line typed at the terminal infd, echo off,
 * into the buffer (without its newline). More than one line (a paste) is
 * refused, and whatever is left in the terminal's input queue is
 * discarded on every way out, so none of it reaches the shell. The
 * terminal's settings come back on every way out: the end of the line,
 * an error, and the signals
 * that end a process (^C, ^\, SIGTERM, SIGHUP). Job-control stops are
 * ignored while the prompt is up, so the terminal is never left without
 * echo behind a stopped job. Returns 0, or -1 with err.
 */
int
secbuf_read_tty(struct secbuf *b, int infd, int outfd, const char *prompt,
    char *err, size_t errlen)
{
	struct sigaction sa, old_fatal[NFATAL], old_stop[NSTOP];
	struct termios	 quiet;
	ssize_t		 n;
	size_t		 i;
	int		 rc = -1, saved;

	if (tcgetattr(infd, &tty_saved) != 0) {
		snprintf(err, errlen, "not a terminal: %s", strerror(errno));
		return -1;
	}
	tty_fd = infd;
	tty_out = outfd;
	tty_buf = b;
	memset(&sa, 0, sizeof sa);
	sigemptyset(&sa.sa_mask);
	sa.sa_handler = secbuf_tty_signal;
	sa.sa_flags = SA_RESETHAND | SA_NODEFER;
	for (i = 0; i < NFATAL; i++)
		sigaction(tty_fatal_sigs[i], &sa, &old_fatal[i]);
	sa.sa_handler = SIG_IGN;
	sa.sa_flags = 0;
	for (i = 0; i < NSTOP; i++)
		sigaction(tty_stop_sigs[i], &sa, &old_stop[i]);

	quiet = tty_saved;
	quiet.c_lflag &= ~(tcflag_t)(ECHO | ECHOE | ECHOK | ECHONL);
	quiet.c_lflag |= ICANON;
	tty_active = 1;
	/* TCSAFLUSH: what was typed before the prompt (and echoed) is not
	 * taken for the secret. */
	if (tcsetattr(infd, TCSAFLUSH, &quiet) != 0) {
		snprintf(err, errlen, "cannot turn echo off: %s",
		    strerror(errno));
		goto out;
	}
	if (write(outfd, prompt, strlen(prompt)) < 0) {
		/* no prompt shown: the read still works */
	}
	for (;;) {
		if (b->len == b->cap) {
			if (b->cap >= SECBUF_TTY_MAX) {
				snprintf(err, errlen,
				    "typed line longer than "
				    "%d bytes",
				    SECBUF_TTY_MAX);
				goto out;
			}
			if (secbuf_reserve(b, b->cap + 1) != 0) {
				snprintf(err, errlen, "%s", secbuf_error());
				goto out;
			}
		}
		n = read(infd, b->p + b->len, b->cap - b->len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			snprintf(err, errlen, "%s", strerror(errno));
			goto out;
		}
		if (n == 0)
			break;
		b->len += (size_t)n;
		if (b->p[b->len - 1] == '\n') {
			b->p[--b->len] = '\0';
			break;
		}
	}
	if (secbuf_tty_more(infd, &quiet)) {
		snprintf(err, errlen,
		    "more than one line came in (a paste?); "
		    "nothing sent, and the rest is discarded: load a secret of "
		    "several lines from a file or a pipe");
		errno = EINVAL;
		goto out;
	}
	rc = 0;
out:
	saved = errno;
	/* Whatever is still queued (the rest of a paste, keys typed at the
	 * prompt) must not reach the next reader of the terminal, the
	 * shell, which would run it and keep it in its history. */
	tcflush(infd, TCIFLUSH);
	tcsetattr(infd, TCSANOW, &tty_saved);
	tty_active = 0;
	if (write(outfd, "\n", 1) < 0) {
		/* the line below the prompt is cosmetic */
	}
	for (i = 0; i < NFATAL; i++)
		sigaction(tty_fatal_sigs[i], &old_fatal[i], NULL);
	for (i = 0; i < NSTOP; i++)
		sigaction(tty_stop_sigs[i], &old_stop[i], NULL);
	tty_buf = NULL;
	errno = saved;
	return rc;
}

/* Write the whole buffer to fd with write(2). Returns 0, or -1 with err. */
int
secbuf_write_fd(const struct secbuf *b, int fd, char *err, size_t errlen)
{
	size_t	off = 0;
	ssize_t n;

	while (off < b->len) {
		n = write(fd, b->p + off, b->len - off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN) {
			if (secbuf_wait(fd, POLLOUT) != 0) {
				snprintf(err, errlen, "poll: %s",
				    strerror(errno));
				return -1;
			}
			continue;
		}
		if (n <= 0) {
			snprintf(err, errlen, "%s",
			    n < 0 ? strerror(errno) : "short write");
			return -1;
		}
		off += (size_t)n;
	}
	return 0;
}
