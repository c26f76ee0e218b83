/* SPDX-License-Identifier: ISC */
/*
 * Logging to stderr as "prog: message" lines. Each line is formatted on the
 * stack and written with one write(2), so nothing passes through a stdio
 * buffer and lines from a dying process are never half-written. No secret
 * byte is ever passed to these functions.
 *
 * After log_nonblocking(), a line never waits for its reader: a terminal
 * stopped with ^S or a pipe nobody drains must not hold up a wipe. A line
 * that does not fit is dropped and counted, and the count is reported
 * with the next line that goes out.
 */
#include <sys/socket.h>
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "dazai/log.h"

enum log_sink {
	LOG_BLOCKING, /* fd 2 as inherited (regular files, before setup) */
	LOG_SEND,     /* a socket: send(2) with MSG_DONTWAIT */
	LOG_OWN_FD,   /* our own non-blocking description of fd 2 */
	LOG_POLL,     /* shared description: write only when poll says so */
};

static const char	     *log_prog = "dazai";
static int		      log_verbosity;
static log_exit_fn	      log_exit_hook = exit;
static enum log_sink	      log_sink = LOG_BLOCKING;
static int		      log_fd = STDERR_FILENO;
static volatile unsigned long log_dropped;

/*
 * Make every later line non-blocking. A regular file never blocks for
 * long and shares its offset with whoever opened it, so it is kept as is;
 * a socket (journald's stream) takes MSG_DONTWAIT; a pipe or a terminal is
 * opened again through /proc/self/fd/2 with O_NONBLOCK, a description of
 * our own, so the flag does not leak to the shell that shares the
 * terminal. Where that fails, a line is written only when poll(2) says
 * the descriptor has room (a line is shorter than PIPE_BUF).
 */
void
log_nonblocking(void)
{
	struct stat st;
	int	    fd;

	if (fstat(STDERR_FILENO, &st) != 0)
		return;
	if (S_ISREG(st.st_mode) || S_ISBLK(st.st_mode))
		return;
	if (S_ISSOCK(st.st_mode)) {
		log_sink = LOG_SEND;
		return;
	}
	fd = open("/proc/self/fd/2",
	    O_WRONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
	if (fd >= 0) {
		log_fd = fd;
		log_sink = LOG_OWN_FD;
	} else
		log_sink = LOG_POLL;
}

/*
 * Write bytes to the log without ever blocking (after log_nonblocking);
 * false if they were dropped. Async-signal-safe: only poll(2), write(2)
 * and send(2).
 */
static bool
log_put(const char *buf, size_t len)
{
	struct pollfd pfd = { STDERR_FILENO, POLLOUT, 0 };
	ssize_t	      n;

	for (;;) {
		switch (log_sink) {
		case LOG_SEND:
			n = send(STDERR_FILENO, buf, len,
			    MSG_DONTWAIT | MSG_NOSIGNAL);
			break;
		case LOG_POLL:
			if (poll(&pfd, 1, 0) != 1 ||
			    (pfd.revents & POLLOUT) == 0)
				return false;
			/* FALLTHROUGH */
		default:
			n = write(log_fd, buf, len);
			break;
		}
		if (n >= 0)
			return true;
		if (errno != EINTR)
			return false;
	}
}

/*
 * Write v in decimal at buf, zero-padded to at least width digits, with
 * no NUL. Returns the bytes written, or 0 (nothing written) if they would
 * be more than len. The one number formatter of the signal handlers:
 * async-signal-safe.
 */
size_t
log_format_ull(char *buf, size_t len, unsigned long long v, size_t width)
{
	unsigned long long t = v;
	size_t		   n = 1, i;

	while ((t /= 10) != 0)
		n++;
	if (n < width)
		n = width;
	if (n > len)
		return 0;
	for (i = n; i > 0; i--, v /= 10)
		buf[i - 1] = (char)('0' + v % 10);
	return n;
}

/*
 * Write one whole line, first saying how many were dropped before it.
 * Async-signal-safe.
 */
void
log_raw(const char *line, size_t len)
{
	char		  note[96];
	unsigned long	  n = log_dropped;
	size_t		  off, nd;
	static const char tail[] = " log line(s) dropped: stderr was not "
				   "accepting output\n";

	off = strlen(log_prog);
	if (n > 0 && off + 2 + sizeof tail < sizeof note) {
		memcpy(note, log_prog, off);
		memcpy(note + off, ": ", 2);
		off += 2;
		nd = log_format_ull(note + off, sizeof note - off - sizeof tail,
		    n, 0);
		if (nd > 0) {
			off += nd;
			memcpy(note + off, tail, sizeof tail - 1);
			off += sizeof tail - 1;
			if (log_put(note, off))
				log_dropped = 0;
		}
	}
	if (!log_put(line, len))
		log_dropped++;
}

/* Set the program name used as prefix and the verbosity. */
void
log_init(const char *prog, int verbose)
{
	log_prog = prog;
	log_verbosity = verbose;
}

/* Change the verbosity after the options are known. */
void
log_set_verbose(int verbose)
{
	log_verbosity = verbose;
}

/* Report whether debug messages are shown. */
int
log_verbose(void)
{
	return log_verbosity;
}

/* Replace the function fatal() uses to end the process. */
void
log_set_exit_hook(log_exit_fn fn)
{
	log_exit_hook = fn != NULL ? fn : exit;
}

static void log_vline(int, const char *, va_list)
    __attribute__((format(printf, 2, 0)));

/* Format one line, append strerror(errnum) when errnum >= 0, write it. */
static void
log_vline(int errnum, const char *fmt, va_list ap)
{
	char   line[1024];
	int    n, m;
	size_t len;

	n = snprintf(line, sizeof line, "%s: ", log_prog);
	if (n < 0)
		return;
	m = vsnprintf(line + n, sizeof line - n, fmt, ap);
	if (m < 0)
		return;
	len = strnlen(line, sizeof line - 2);
	if (errnum >= 0 && len < sizeof line - 2) {
		snprintf(line + len, sizeof line - 1 - len, ": %s",
		    strerror(errnum));
		len = strnlen(line, sizeof line - 2);
	}
	line[len++] = '\n';
	log_raw(line, len);
}

/* Warn, with the current errno's text appended. */
void
log_warn(const char *fmt, ...)
{
	va_list ap;
	int	saved = errno;

	va_start(ap, fmt);
	log_vline(saved, fmt, ap);
	va_end(ap);
	errno = saved;
}

/* Warn, without errno. */
void
log_warnx(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_vline(-1, fmt, ap);
	va_end(ap);
}

/* Informational message, always shown. */
void
log_info(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_vline(-1, fmt, ap);
	va_end(ap);
}

/* Debug message, shown with --verbose only. */
void
log_debug(const char *fmt, ...)
{
	va_list ap;

	if (!log_verbosity)
		return;
	va_start(ap, fmt);
	log_vline(-1, fmt, ap);
	va_end(ap);
}

/* Log with errno and end the process with status. */
void
fatal(int status, const char *fmt, ...)
{
	va_list ap;
	int	saved = errno;

	va_start(ap, fmt);
	log_vline(saved, fmt, ap);
	va_end(ap);
	log_exit_hook(status);
	_exit(status);
}

/* Log without errno and end the process with status. */
void
fatalx(int status, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_vline(-1, fmt, ap);
	va_end(ap);
	log_exit_hook(status);
	_exit(status);
}

/*
 * The wall-clock time (HH:MM:SS, local) secs from now, for log lines only
 * (a deadline is kept on the monotonic clock, never on this one).
 */
void
log_clock(double secs, char *buf, size_t len)
{
	time_t	  s = time(NULL) + (time_t)(secs + 0.5);
	struct tm tm;

	if (localtime_r(&s, &tm) == NULL ||
	    strftime(buf, len, "%H:%M:%S", &tm) == 0)
		snprintf(buf, len, "%lld", (long long)s);
}

/* Seconds on the monotonic clock: every deadline is measured on it. */
double
log_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* The same in milliseconds, for the clients' deadlines. */
long long
log_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}
