/* SPDX-License-Identifier: ISC */
/*
 * Test helpers shared by every integration test.
 */
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "helpers.h"
#include "memscan.h"

#define MAX_TMPDIRS 16

static char tmpdirs[MAX_TMPDIRS][64];
static int  ntmpdirs;
static int  cleanup_registered;

/* Seconds on the monotonic clock. */
double
dz_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Milliseconds on the monotonic clock. */
long long
dz_ms_now(void)
{
	return (long long)(dz_now() * 1000);
}

/* Remove every temporary directory this process made. */
static void
cleanup_tmpdirs(void)
{
	char cmd[128];
	int  i, rc;

	for (i = 0; i < ntmpdirs; i++) {
		if (tmpdirs[i][0] == '\0')
			continue;
		snprintf(cmd, sizeof cmd, "rm -rf '%.63s'", tmpdirs[i]);
		rc = system(cmd);
		(void)rc;
		tmpdirs[i][0] = '\0';
	}
	ntmpdirs = 0;
}

/*
 * Path of a built binary: $DAZAI_BUILD/name (default build/name), made
 * absolute against the directory the first call ran in.
 */
const char *
dz_bin(const char *name)
{
	static char base[PATH_MAX / 2];
	static char buf[4][PATH_MAX];
	static int  n;
	const char *b = getenv("DAZAI_BUILD");
	char	   *p = buf[n++ % 4];
	char	    cwd[PATH_MAX / 4];

	if (base[0] == '\0') {
		if (b == NULL || *b == '\0')
			b = "build";
		if (b[0] == '/')
			snprintf(base, sizeof base, "%.1000s", b);
		else if (getcwd(cwd, sizeof cwd) != NULL)
			snprintf(base, sizeof base, "%s/%.1000s", cwd, b);
	}
	snprintf(p, PATH_MAX, "%s/%s", base, name);
	return p;
}

/*
 * Find an executable file name along $PATH (absolute entries only; PATH
 * unset or empty: /usr/local/bin:/usr/bin:/bin). True with its path in
 * buf.
 */
bool
dz_which(const char *name, char *buf, size_t len)
{
	const char *path = getenv("PATH"), *p, *colon;
	struct stat st;
	size_t	    n;

	if (path == NULL || *path == '\0')
		path = "/usr/local/bin:/usr/bin:/bin";
	for (p = path;; p = colon + 1) {
		if ((colon = strchr(p, ':')) == NULL)
			colon = p + strlen(p);
		n = (size_t)(colon - p);
		if (n > 0 && p[0] == '/' &&
		    snprintf(buf, len, "%.*s/%s", (int)n, p, name) < (int)len &&
		    stat(buf, &st) == 0 && S_ISREG(st.st_mode) &&
		    access(buf, X_OK) == 0)
			return true;
		if (*colon == '\0')
			break;
	}
	return false;
}

/*
 * Read a small file whole into buf, up to len - 1 bytes, NUL-terminated;
 * "" if it cannot be read. Returns buf.
 */
char *
dz_read_file(const char *path, char *buf, size_t len)
{
	size_t	off = 0;
	ssize_t n;
	int	fd;

	buf[0] = '\0';
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
		return buf;
	while (off < len - 1) {
		n = read(fd, buf + off, len - 1 - off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		off += (size_t)n;
	}
	close(fd);
	buf[off] = '\0';
	return buf;
}

/* Make a private (0700) temporary directory, removed at exit. */
char *
dz_tmpdir(char *buf, size_t len)
{
	snprintf(buf, len, "/tmp/dazai-test.XXXXXX");
	ck_assert_msg(mkdtemp(buf) != NULL, "mkdtemp: %s", strerror(errno));
	if (!cleanup_registered) {
		atexit(cleanup_tmpdirs);
		cleanup_registered = 1;
	}
	if (ntmpdirs < MAX_TMPDIRS)
		snprintf(tmpdirs[ntmpdirs++], sizeof tmpdirs[0], "%s", buf);
	return buf;
}

/*
 * Fork and exec argv with stderr (and stdout) to logpath (NULL: inherit)
 * and keep_fd open; the child dies with us (PR_SET_PDEATHSIG).
 */
pid_t
dz_spawn(const char *const *argv, const char *logpath, int keep_fd)
{
	pid_t pid;
	int   fd, i;

	pid = fork();
	ck_assert_msg(pid >= 0, "fork: %s", strerror(errno));
	if (pid > 0)
		return pid;
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (logpath != NULL) {
		fd = open(logpath, O_WRONLY | O_CREAT | O_APPEND, 0600);
		if (fd < 0)
			_exit(126);
		dup2(fd, STDOUT_FILENO);
		dup2(fd, STDERR_FILENO);
		close(fd);
	}
	fd = open("/dev/null", O_RDONLY);
	if (fd >= 0) {
		dup2(fd, STDIN_FILENO);
		close(fd);
	}
	for (i = 3; i < 256; i++)
		if (i != keep_fd)
			close(i);
	signal(SIGPIPE, SIG_DFL);
	execv(argv[0], (char *const *)argv);
	_exit(127);
}

/*
 * A fresh struct dz: a private temporary directory holding the log
 * (dazaid.log) and, unless sock names one, the socket (run/dazai.sock).
 */
void
dz_init(struct dz *d, const char *sock)
{
	memset(d, 0, sizeof *d);
	dz_tmpdir(d->dir, sizeof d->dir);
	snprintf(d->log, sizeof d->log, "%s/dazaid.log", d->dir);
	if (sock != NULL) {
		snprintf(d->sock, sizeof d->sock, "%s", sock);
		return;
	}
	/* A directory of the socket's own, as the default path has: the
	 * confined daemon removes its socket only from such a directory. */
	snprintf(d->sock, sizeof d->sock, "%s/run", d->dir);
	ck_assert_msg(mkdir(d->sock, 0700) == 0, "mkdir %s: %s", d->sock,
	    strerror(errno));
	snprintf(d->sock, sizeof d->sock, "%s/run/dazai.sock", d->dir);
}

/*
 * Start build/dazaid on sock with extra arguments and wait until it says
 * it is ready (--ready-fd). Returns 0 when ready; -1 if it exited first
 * (d->status then holds how).
 */
int
dz_start_at(struct dz *d, const char *sock, const char *const *extra)
{
	const char   *argv[64];
	char	      fdarg[16], c;
	int	      p[2], n = 0, i;
	struct pollfd pfd;
	ssize_t	      r;

	dz_init(d, sock);
	ck_assert_int_eq(pipe(p), 0);
	snprintf(fdarg, sizeof fdarg, "%d", p[1]);
	argv[n++] = dz_bin("dazaid");
	argv[n++] = "--socket";
	argv[n++] = d->sock;
	argv[n++] = "--ready-fd";
	argv[n++] = fdarg;
	for (i = 0; extra != NULL && extra[i] != NULL && n < 62; i++)
		argv[n++] = extra[i];
	argv[n] = NULL;
	d->pid = dz_spawn(argv, d->log, p[1]);
	close(p[1]);
	pfd.fd = p[0];
	pfd.events = POLLIN;
	r = poll(&pfd, 1, 10000) == 1 ? read(p[0], &c, 1) : -1;
	close(p[0]);
	if (r == 1 && c == '\n')
		return 0;
	if (dz_wait(d, 5.0) != 0)
		ck_abort_msg("dazaid neither became ready nor exited");
	return -1;
}

/* Start build/dazaid on a socket in a fresh private directory. */
int
dz_start(struct dz *d, const char *const *extra)
{
	return dz_start_at(d, NULL, extra);
}

/* Wait up to timeout seconds for pid; 0 with *status, -1 on timeout. */
int
dz_waitpid(pid_t pid, int *status, double timeout)
{
	long long end = dz_ms_now() + (long long)(timeout * 1000);
	pid_t	  r;

	for (;;) {
		r = waitpid(pid, status, WNOHANG);
		if (r == pid)
			return 0;
		if (r < 0)
			return -1;
		if (dz_ms_now() >= end)
			return -1;
		usleep(2000);
	}
}

/*
 * Wait for the daemon to exit; returns 0 when it did (d->status set). On
 * timeout it is killed and -1 returned.
 */
int
dz_wait(struct dz *d, double timeout)
{
	if (d->pid == 0)
		return 0;
	if (dz_waitpid(d->pid, &d->status, timeout) == 0) {
		d->pid = 0;
		return 0;
	}
	kill(d->pid, SIGKILL);
	dz_waitpid(d->pid, &d->status, 5.0);
	d->pid = 0;
	return -1;
}

/* Is the daemon still running? */
bool
dz_alive(struct dz *d)
{
	if (d->pid == 0)
		return false;
	if (waitpid(d->pid, &d->status, WNOHANG) == d->pid) {
		d->pid = 0;
		return false;
	}
	return true;
}

/* Kill the daemon if it still runs (by its pid) and reap it. */
void
dz_stop(struct dz *d)
{
	if (d->pid != 0) {
		kill(d->pid, SIGKILL);
		dz_waitpid(d->pid, &d->status, 5.0);
		d->pid = 0;
	}
}

/* Connect to a socket path; -1 on failure. */
int
dz_connect(const char *path)
{
	struct sockaddr_un sun;
	int		   fd;

	memset(&sun, 0, sizeof sun);
	sun.sun_family = AF_UNIX;
	snprintf(sun.sun_path, sizeof sun.sun_path, "%s", path);
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0)
		return -1;
	if (connect(fd, (struct sockaddr *)&sun, sizeof sun) != 0) {
		close(fd);
		return -1;
	}
	return fd;
}

/* Send a string; false if it could not all be sent. */
bool
dz_send(int fd, const char *s)
{
	size_t	len = strlen(s), off = 0;
	ssize_t n;

	while (off < len) {
		n = send(fd, s + off, len - off, MSG_NOSIGNAL);
		if (n <= 0)
			return false;
		off += (size_t)n;
	}
	return true;
}

/* Send all of len bytes (a socket or a pipe); the test fails otherwise. */
void
dz_send_bytes(int fd, const void *buf, size_t len)
{
	const char *p = buf;
	ssize_t	    n;

	while (len > 0) {
		n = write(fd, p, len);
		if (n < 0 && errno == EINTR)
			continue;
		ck_assert_msg(n > 0, "write: %s", strerror(errno));
		p += n;
		len -= (size_t)n;
	}
}

/* Read exactly len bytes within timeout seconds; false on EOF/timeout. */
bool
dz_read_exact(int fd, void *buf, size_t len, double timeout)
{
	struct pollfd pfd = { fd, POLLIN, 0 };
	double	      end = dz_now() + timeout;
	char	     *p = buf;
	ssize_t	      n;

	while (len > 0) {
		if (poll(&pfd, 1, (int)((end - dz_now()) * 1000)) != 1)
			return false;
		if ((n = read(fd, p, len)) <= 0)
			return false;
		p += n;
		len -= (size_t)n;
	}
	return true;
}

/*
 * A child that sleeps until killed, dies of any signal by default (not
 * by the test runner's handlers) and dies with us. The signals are held
 * across fork until the defaults are back, so one sent at once cannot
 * reach a handler inherited from the runner.
 */
pid_t
dz_sleeper(void)
{
	sigset_t all, old;
	pid_t	 pid;

	sigfillset(&all);
	sigprocmask(SIG_BLOCK, &all, &old);
	pid = fork();
	if (pid == 0) {
		signal(SIGTERM, SIG_DFL);
		signal(SIGINT, SIG_DFL);
		signal(SIGALRM, SIG_DFL);
		signal(SIGHUP, SIG_DFL);
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		sigprocmask(SIG_SETMASK, &old, NULL);
		for (;;)
			pause();
	}
	sigprocmask(SIG_SETMASK, &old, NULL);
	ck_assert_msg(pid > 0, "fork: %s", strerror(errno));
	return pid;
}

/*
 * Read one line (without "\n") within timeout seconds, a byte at a time so
 * nothing past the line is consumed. NULL on EOF, error or timeout.
 */
char *
dz_readline(int fd, char *buf, size_t len, double timeout)
{
	long long     end = dz_ms_now() + (long long)(timeout * 1000);
	struct pollfd pfd = { fd, POLLIN, 0 };
	size_t	      n = 0;
	long long     left;
	char	      c;

	while (n + 1 < len) {
		left = end - dz_ms_now();
		if (left <= 0 || poll(&pfd, 1, (int)left) != 1)
			return NULL;
		if (read(fd, &c, 1) != 1)
			return NULL;
		if (c == '\n') {
			buf[n] = '\0';
			return buf;
		}
		buf[n++] = c;
	}
	buf[n] = '\0';
	return buf;
}

/* Does the peer close the connection within timeout (data discarded)? */
bool
dz_eof(int fd, double timeout)
{
	long long     end = dz_ms_now() + (long long)(timeout * 1000);
	struct pollfd pfd = { fd, POLLIN, 0 };
	char	      buf[512];
	long long     left;
	ssize_t	      n;

	for (;;) {
		left = end - dz_ms_now();
		if (left <= 0 || poll(&pfd, 1, (int)left) != 1)
			return false;
		n = read(fd, buf, sizeof buf);
		if (n == 0 || (n < 0 && errno == ECONNRESET))
			return true;
		if (n < 0)
			return false;
	}
}

/* Connect and complete HELLO; returns the connection. */
int
dz_hello(const char *sock)
{
	char line[64];
	int  fd = dz_connect(sock);

	ck_assert_msg(fd >= 0, "connect %s: %s", sock, strerror(errno));
	snprintf(line, sizeof line, "HELLO %d\n", (int)getpid());
	ck_assert(dz_send(fd, line));
	dz_expect(fd, "WELCOME");
	return fd;
}

/* Does the daemon's log contain needle? */
bool
dz_log_has(const struct dz *d, const char *needle)
{
	return dz_log_count(d, needle) > 0;
}

/* How many times needle occurs in the daemon's whole log. */
int
dz_log_count(const struct dz *d, const char *needle)
{
	struct stat st;
	const char *p;
	char	   *buf;
	ssize_t	    n;
	int	    fd, count = 0;

	if ((fd = open(d->log, O_RDONLY)) < 0)
		return 0;
	if (fstat(fd, &st) != 0 ||
	    (buf = malloc((size_t)st.st_size + 1)) == NULL) {
		close(fd);
		return 0;
	}
	n = read(fd, buf, (size_t)st.st_size);
	close(fd);
	buf[n > 0 ? n : 0] = '\0';
	for (p = buf; (p = strstr(p, needle)) != NULL; p += strlen(needle))
		count++;
	free(buf);
	return count;
}

/* Wait up to timeout seconds for needle to appear in the log. */
bool
dz_log_wait(const struct dz *d, const char *needle, double timeout)
{
	long long end = dz_ms_now() + (long long)(timeout * 1000);

	while (!dz_log_has(d, needle)) {
		if (dz_ms_now() >= end)
			return false;
		usleep(5000);
	}
	return true;
}

/*
 * Run argv to completion with stdout and stderr captured into out.
 * Returns the wait status, or -1 if it had to be killed at timeout.
 */
int
dz_run(const char *const *argv, char *out, size_t len, double timeout)
{
	char  dir[64], path[128];
	pid_t pid;
	int   status;

	dz_tmpdir(dir, sizeof dir);
	snprintf(path, sizeof path, "%s/out", dir);
	pid = dz_spawn(argv, path, -1);
	if (dz_waitpid(pid, &status, timeout) != 0) {
		kill(pid, SIGKILL);
		dz_waitpid(pid, &status, 5.0);
		status = -1;
	}
	dz_read_file(path, out, len);
	return status;
}

/* Write a file whole (mode 0600). */
void
dz_write_file(const char *path, const void *data, size_t len)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);

	ck_assert_msg(fd >= 0, "%s: %s", path, strerror(errno));
	ck_assert(write(fd, data, len) == (ssize_t)len);
	close(fd);
}

static void dz_vskip(char, const char *, va_list)
    __attribute__((format(printf, 2, 0)));

/* Record a skip: kind 'R' (required under CI) or 'N' (not applicable). */
static void
dz_vskip(char kind, const char *fmt, va_list ap)
{
	const char *log = getenv("DAZAI_SKIP_LOG");
	char	    line[512];
	int	    fd, n;

	n = vsnprintf(line, sizeof line - 1, fmt, ap);
	if (n < 0)
		n = 0;
	if ((size_t)n > sizeof line - 2)
		n = sizeof line - 2;
	printf("SKIP: %.*s\n", n, line);
	fflush(stdout);
	if (log == NULL || (fd = open(log, O_WRONLY | O_APPEND)) < 0)
		return;
	line[n] = '\n';
	if (dprintf(fd, "%c %d ", kind, (int)getpid()) < 0 ||
	    write(fd, line, (size_t)n + 1) != n + 1)
		n = 0;
	close(fd);
}

/* This test cannot run here (no root, a tool missing). */
void
dz_skip(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	dz_vskip('R', fmt, ap);
	va_end(ap);
}

/* This test does not apply to this build or kernel. */
void
dz_skip_na(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	dz_vskip('N', fmt, ap);
	va_end(ap);
}

/* Are we root (tests that need it skip otherwise)? */
bool
dz_is_root(void)
{
	return geteuid() == 0;
}

/* Does the binary carry the AddressSanitizer runtime (make sanitize)? */
bool
dz_is_asan_build(const char *path)
{
	static const char needle[] = "__asan_init";
	struct stat	  st;
	void		 *map;
	bool		  found;
	int		  fd;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
		return false;
	if (fstat(fd, &st) != 0 || st.st_size == 0) {
		close(fd);
		return false;
	}
	map = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
	close(fd);
	if (map == MAP_FAILED)
		return false;
	found =
	    memmem(map, (size_t)st.st_size, needle, sizeof needle - 1) != NULL;
	munmap(map, (size_t)st.st_size);
	return found;
}

/* Control connections: one request and its reply, and STATUS fields. */

/* Connect a control connection (its first request decides). */
int
dz_ctl(const struct dz *d)
{
	int fd = dz_connect(d->sock);

	ck_assert_msg(fd >= 0, "connect %s: %s", d->sock, strerror(errno));
	return fd;
}

/* Send a request and return its reply line (static buffer). */
const char *
dz_req(int fd, const char *line)
{
	static char buf[512];
	const char *r;

	ck_assert(dz_send(fd, line));
	r = dz_readline(fd, buf, sizeof buf, 10);
	ck_assert_msg(r != NULL, "no reply to %s", line);
	return r;
}

/* LOAD len bytes on fd and expect OK. */
void
dz_load(int fd, const void *buf, size_t len)
{
	char line[64];

	snprintf(line, sizeof line, "LOAD %zu\n", len);
	ck_assert(dz_send(fd, line));
	dz_send_bytes(fd, buf, len);
	dz_expect(fd, "OK");
}

/* GET on fd: the secret must be exactly want. */
void
dz_get_expect(int fd, const void *want, size_t len)
{
	char  line[64], hdr[64];
	char *got = malloc(len + 1);

	ck_assert_ptr_nonnull(got);
	snprintf(hdr, sizeof hdr, "SECRET %zu", len);
	ck_assert(dz_send(fd, "GET\n"));
	ck_assert(dz_readline(fd, line, sizeof line, 10) != NULL);
	ck_assert_str_eq(line, hdr);
	ck_assert(dz_read_exact(fd, got, len, 20));
	ck_assert(memcmp(got, want, len) == 0);
	free(got);
}

/* The value of key= in a STATUS line, as a string (static buffer). */
const char *
dz_field(const char *status, const char *key)
{
	static char val[128];
	char	    k[64];
	const char *p;
	size_t	    n;

	snprintf(k, sizeof k, " %s=", key);
	p = strstr(status, k);
	ck_assert_msg(p != NULL, "no %s in '%s'", key, status);
	p += strlen(k);
	n = strcspn(p, " \n");
	snprintf(val, sizeof val, "%.*s", (int)n, p);
	return val;
}

/* STATUS on a fresh connection; returns the line (static buffer). */
const char *
dz_status(const struct dz *d)
{
	static char line[512];
	int	    fd = dz_ctl(d);

	snprintf(line, sizeof line, "%s", dz_req(fd, "STATUS\n"));
	close(fd);
	ck_assert_msg(strncmp(line, "STATUS alive=1 armed=", 21) == 0, "%s",
	    line);
	return line;
}

/* Wait until STATUS reports key=want (up to timeout seconds). */
bool
dz_status_wait(const struct dz *d, const char *key, const char *want,
    double timeout)
{
	double end = dz_now() + timeout;

	for (;;) {
		if (strcmp(dz_field(dz_status(d), key), want) == 0)
			return true;
		if (dz_now() > end)
			return false;
		usleep(20000);
	}
}

/* Is a child of ours still running (not exited, not a zombie)? */
bool
dz_child_running(pid_t pid, int *status)
{
	return waitpid(pid, status, WNOHANG) == 0;
}

/* REGISTER pid=N on a fresh connection; returns the reply. */
const char *
dz_reg(const struct dz *d, long pid)
{
	static char reply[64];
	char	    line[64];
	int	    fd = dz_ctl(d);

	snprintf(line, sizeof line, "REGISTER pid=%ld\n", pid);
	snprintf(reply, sizeof reply, "%s", dz_req(fd, line));
	close(fd);
	return reply;
}

/*
 * How many copies of needle pid's memory holds, scanned from outside
 * (memscan_pid); the scan must read something.
 */
int
dz_mem_hits(pid_t pid, const void *needle, size_t len)
{
	struct memscan ms;

	ck_assert_msg(memscan_pid(pid, needle, len, &ms) == 0,
	    "cannot read "
	    "/proc/%d/mem: %s",
	    (int)pid, strerror(errno));
	ck_assert_int_gt(ms.bytes, 0);
	return ms.hits;
}
