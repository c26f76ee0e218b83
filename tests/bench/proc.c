/* SPDX-License-Identifier: ISC */
/*
 * Child processes for the benchmarks: start one with a readiness pipe,
 * talk the heartbeat protocol to it, wait for it to die, read its
 * counters from /proc. Every descriptor the driver holds is close-on-exec,
 * so no child ever keeps another child's heartbeat connection open.
 */
#include <sys/prctl.h>
#include <sys/time.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "bench.h"

/* Monotonic time in microseconds. */
double
bench_now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e6 + (double)ts.tv_nsec / 1e3;
}

/* Print a message and end the benchmark (children die with us). */
void
bench_die(const char *fmt, ...)
{
	va_list ap;

	fflush(stdout);
	fputs("bench: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(1);
}

/* In the child: set up descriptors 0-2 and ready_to, and exec argv. */
static void
bench_child(const char *const *argv, int ready_w, int ready_to, int err_fd)
{
	int null_fd;

	/* Should the driver die, its children die with it. */
	prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
	if ((null_fd = open("/dev/null", O_RDWR)) < 0)
		_exit(126);
	if (err_fd < 0)
		err_fd = null_fd;
	if (dup2(null_fd, 0) < 0 || dup2(null_fd, 1) < 0 || dup2(err_fd, 2) < 0)
		_exit(126);
	if (ready_w == ready_to) {
		if (fcntl(ready_w, F_SETFD, 0) < 0)
			_exit(126);
	} else if (dup2(ready_w, ready_to) < 0)
		_exit(126);
	execvp(argv[0], (char *const *)argv);
	_exit(127);
}

/*
 * Start argv with the write end of a pipe as descriptor ready_to (3 for
 * --ready-fd 3; 1 for a program that announces itself on stdout) and wait
 * up to timeout seconds for the first newline, which says it is ready.
 * err_fd becomes its stderr (-1: /dev/null). Returns 0, or -1 if it never
 * got ready (it is killed then).
 */
int
bench_spawn(struct bproc *p, const char *const *argv, int ready_to, int err_fd,
    double timeout)
{
	struct pollfd pfd;
	double	      t0, left;
	ssize_t	      n;
	char	      c;
	int	      fds[2];

	memset(p, 0, sizeof *p);
	if (pipe2(fds, O_CLOEXEC) != 0)
		bench_die("pipe2: %s", strerror(errno));
	t0 = bench_now_us();
	if ((p->pid = fork()) < 0)
		bench_die("fork: %s", strerror(errno));
	if (p->pid == 0)
		bench_child(argv, fds[1], ready_to, err_fd);
	close(fds[1]);
	pfd.fd = fds[0];
	pfd.events = POLLIN;
	for (;;) {
		left = timeout * 1e3 - (bench_now_us() - t0) / 1e3;
		if (left <= 0)
			break;
		if (poll(&pfd, 1, (int)left + 1) < 0 && errno != EINTR)
			break;
		n = read(fds[0], &c, 1);
		if (n < 0 && errno == EINTR)
			continue;
		if (n == 1 && c == '\n') {
			p->ready_us = bench_now_us() - t0;
			close(fds[0]);
			return 0;
		}
		if (n == 0 || (n < 0 && errno != EAGAIN))
			break;
	}
	close(fds[0]);
	bench_kill(p);
	return -1;
}

/* Do nothing: SIGALRM only has to interrupt waitpid. */
static void
bench_alarm(int sig)
{
	(void)sig;
}

/*
 * Wait for the child to end, at most timeout seconds (an interval timer
 * outside the timed region interrupts a blocking waitpid). Returns 0 once
 * reaped, -1 on timeout.
 */
int
bench_reap(struct bproc *p, double timeout)
{
	struct sigaction sa;
	struct itimerval it;
	pid_t		 r;

	if (p->pid == 0)
		return 0;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = bench_alarm;
	sigaction(SIGALRM, &sa, NULL);
	memset(&it, 0, sizeof it);
	it.it_value.tv_sec = (time_t)timeout;
	it.it_value.tv_usec =
	    (suseconds_t)((timeout - (double)(time_t)timeout) * 1e6);
	setitimer(ITIMER_REAL, &it, NULL);
	r = waitpid(p->pid, &p->status, 0);
	memset(&it, 0, sizeof it);
	setitimer(ITIMER_REAL, &it, NULL);
	if (r != p->pid)
		return -1;
	p->pid = 0;
	return 0;
}

/* SIGKILL the child if it still runs, and reap it. */
void
bench_kill(struct bproc *p)
{
	if (p->pid <= 0)
		return;
	kill(p->pid, SIGKILL);
	while (waitpid(p->pid, &p->status, 0) < 0 && errno == EINTR)
		;
	p->pid = 0;
}

/* Connect to a UNIX stream socket; -1 on failure. */
int
bench_connect(const char *path)
{
	struct sockaddr_un sun;
	int		   fd;

	memset(&sun, 0, sizeof sun);
	sun.sun_family = AF_UNIX;
	if (strlen(path) >= sizeof sun.sun_path)
		return -1;
	strcpy(sun.sun_path, path);
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0)
		return -1;
	if (connect(fd, (struct sockaddr *)&sun, sizeof sun) != 0) {
		close(fd);
		return -1;
	}
	return fd;
}

/*
 * Read one reply line (request and reply alternate, so nothing follows
 * the newline). Returns its length without the newline, or -1.
 */
int
bench_readline(int fd, char *buf, size_t size)
{
	size_t	len = 0;
	ssize_t n;

	while (len < size - 1) {
		n = read(fd, buf + len, size - 1 - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		len += (size_t)n;
		if (buf[len - 1] == '\n') {
			buf[--len] = '\0';
			return (int)len;
		}
	}
	return -1;
}

/* Send one line and read the reply; -1 on failure. */
int
bench_request(int fd, const char *line, char *reply, size_t size)
{
	size_t len = strlen(line);

	if (write(fd, line, len) != (ssize_t)len)
		return -1;
	return bench_readline(fd, reply, size);
}

/* Connect and become the heartbeat; the connection, or -1. */
int
bench_hello(const char *path)
{
	char line[64], reply[64];
	int  fd;

	if ((fd = bench_connect(path)) < 0)
		return -1;
	snprintf(line, sizeof line, "HELLO %d\n", (int)getpid());
	if (bench_request(fd, line, reply, sizeof reply) < 0 ||
	    strcmp(reply, "WELCOME") != 0) {
		close(fd);
		return -1;
	}
	return fd;
}

/* Read /proc/PID/stat into buf; a pointer past the comm field, or NULL. */
static char *
bench_read_stat(pid_t pid, char *buf, size_t size)
{
	char	path[64];
	char   *p;
	ssize_t n;
	int	fd;

	snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
		return NULL;
	n = read(fd, buf, size - 1);
	close(fd);
	if (n <= 0)
		return NULL;
	buf[n] = '\0';
	if ((p = strrchr(buf, ')')) == NULL || p[1] != ' ')
		return NULL;
	return p + 2;
}

/*
 * Give the child time to go back to sleep after the last reply, so that
 * what is measured next starts from an idle, blocked process.
 */
void
bench_settle(pid_t pid)
{
	struct timespec ts = { 0, 2000000 };
	char		buf[1024];
	char	       *s;
	int		i;

	nanosleep(&ts, NULL);
	for (i = 0; i < 1000; i++) {
		if ((s = bench_read_stat(pid, buf, sizeof buf)) == NULL ||
		    *s == 'S')
			return;
		ts.tv_nsec = 100000;
		nanosleep(&ts, NULL);
	}
}

/* A numeric field of /proc/PID/status ("VmRSS:" in kB); -1 if absent. */
long
bench_status_field(pid_t pid, const char *name)
{
	char   path[64], line[256];
	size_t len = strlen(name);
	FILE  *f;
	long   v = -1;

	snprintf(path, sizeof path, "/proc/%d/status", (int)pid);
	if ((f = fopen(path, "re")) == NULL)
		return -1;
	while (fgets(line, sizeof line, f) != NULL)
		if (strncmp(line, name, len) == 0) {
			v = strtol(line + len, NULL, 10);
			break;
		}
	fclose(f);
	return v;
}

/* utime + stime of a process, in clock ticks; -1 on failure. */
long
bench_stat_ticks(pid_t pid)
{
	char	      buf[1024];
	char	     *s;
	unsigned long v, sum = 0;
	int	      field;

	if ((s = bench_read_stat(pid, buf, sizeof buf)) == NULL)
		return -1;
	/* s is field 3 (state); utime and stime are fields 14 and 15. */
	for (field = 3; field <= 15; field++) {
		while (*s == ' ')
			s++;
		if (*s == '\0')
			return -1;
		v = strtoul(s, NULL, 10);
		if (field >= 14)
			sum += v;
		s = strchr(s, ' ');
		if (s == NULL)
			return field == 15 ? (long)sum : -1;
	}
	return (long)sum;
}
