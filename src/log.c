/* SPDX-License-Identifier: ISC */
/*
 * Logging to stderr as "prog: message" lines. Each line is formatted on the
 * stack and written with one write(2), so nothing passes through a stdio
 * buffer and lines from a dying process are never half-written. No secret
 * byte is ever passed to these functions.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "dazai/log.h"

static const char *log_prog = "dazai";
static int log_verbosity;
static log_exit_fn log_exit_hook = exit;

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

static void	log_vline(int, const char *, va_list)
		    __attribute__((format(printf, 2, 0)));

/* Format one line, append strerror(errnum) when errnum >= 0, write it. */
static void
log_vline(int errnum, const char *fmt, va_list ap)
{
	char	 line[1024];
	int	 n, m;
	size_t	 len;

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
	while (write(STDERR_FILENO, line, len) < 0 && errno == EINTR)
		;
}

/* Warn, with the current errno's text appended. */
void
log_warn(const char *fmt, ...)
{
	va_list	 ap;
	int	 saved = errno;

	va_start(ap, fmt);
	log_vline(saved, fmt, ap);
	va_end(ap);
	errno = saved;
}

/* Warn, without errno. */
void
log_warnx(const char *fmt, ...)
{
	va_list	 ap;

	va_start(ap, fmt);
	log_vline(-1, fmt, ap);
	va_end(ap);
}

/* Informational message, always shown. */
void
log_info(const char *fmt, ...)
{
	va_list	 ap;

	va_start(ap, fmt);
	log_vline(-1, fmt, ap);
	va_end(ap);
}

/* Debug message, shown with --verbose only. */
void
log_debug(const char *fmt, ...)
{
	va_list	 ap;

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
	va_list	 ap;
	int	 saved = errno;

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
	va_list	 ap;

	va_start(ap, fmt);
	log_vline(-1, fmt, ap);
	va_end(ap);
	log_exit_hook(status);
	_exit(status);
}
