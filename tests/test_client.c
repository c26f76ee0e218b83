/* SPDX-License-Identifier: ISC */
/*
 * dazai, the command-line client: its reply parsers as pure functions,
 * the real binary against a scripted fake server (hostile replies, trust
 * checks, the secret's path through memory), a typed secret through a
 * pseudo-terminal, and every command against the real daemon.
 */
#include <sys/prctl.h>
#include <sys/ptrace.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <linux/capability.h>
#include <linux/ptrace.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sodium.h>

#include "dazai/client.h"
#include "dazai/parse.h"
#include "dazai/secbuf.h"
#include "helpers.h"
#include "memscan.h"
#include "term.h"

#define NOBODY	    65534
#define RUN_TIMEOUT 30.0

/* ---- pure parsers ---- */

START_TEST(classify_replies)
{
	const char *r;

	ck_assert_int_eq(client_classify("OK", &r), CLIENT_OK);
	ck_assert_int_eq(client_classify("ALREADY_ARMED", &r), CLIENT_ALREADY);
	ck_assert_int_eq(client_classify("BUSY", &r), CLIENT_REFUSED);
	ck_assert_str_eq(r, "BUSY");
	ck_assert_int_eq(client_classify("ERR no secret", &r), CLIENT_REFUSED);
	ck_assert_str_eq(r, "no secret");
	ck_assert_int_eq(client_classify("ERROR invalid pid", &r),
	    CLIENT_REFUSED);
	ck_assert_str_eq(r, "invalid pid");
	ck_assert_int_eq(client_classify("ERR", &r), CLIENT_REFUSED);
	ck_assert_int_eq(client_classify("OKAY", &r), CLIENT_UNEXPECTED);
	ck_assert_int_eq(client_classify("ERRx", &r), CLIENT_UNEXPECTED);
	ck_assert_int_eq(client_classify("", &r), CLIENT_UNEXPECTED);
	ck_assert_int_eq(client_classify("ok", &r), CLIENT_UNEXPECTED);
}
END_TEST

START_TEST(parse_secret_header)
{
	char   err[CLIENT_ERRLEN];
	size_t n = 0;

	ck_assert_int_eq(client_parse_secret("SECRET 32", &n, err, sizeof err),
	    0);
	ck_assert_uint_eq(n, 32);
	ck_assert_int_eq(client_parse_secret("SECRET 1073741824", &n, err,
			     sizeof err),
	    0);
	ck_assert_uint_eq(n, 1073741824u);
	/* Lying or broken lengths. */
	ck_assert_int_eq(client_parse_secret("SECRET 1073741825", &n, err,
			     sizeof err),
	    -1);
	ck_assert_ptr_nonnull(strstr(err, "limit"));
	ck_assert_int_eq(client_parse_secret("SECRET 99999999999999999999", &n,
			     err, sizeof err),
	    -1);
	ck_assert_int_eq(client_parse_secret("SECRET 0", &n, err, sizeof err),
	    -1);
	ck_assert_int_eq(client_parse_secret("SECRET -5", &n, err, sizeof err),
	    -1);
	ck_assert_int_eq(client_parse_secret("SECRET 5x", &n, err, sizeof err),
	    -1);
	ck_assert_int_eq(client_parse_secret("SECRET", &n, err, sizeof err),
	    -1);
	ck_assert_int_eq(client_parse_secret("SECRET  5", &n, err, sizeof err),
	    -1);
	ck_assert_int_eq(client_parse_secret("secret 5", &n, err, sizeof err),
	    -1);
	ck_assert_int_eq(client_parse_secret("\x01\xff garbage", &n, err,
			     sizeof err),
	    -1);
	ck_assert_ptr_nonnull(strstr(err, "\\x01\\xff"));
	/* Refusals carry their reason. */
	ck_assert_int_eq(client_parse_secret("ERR no secret", &n, err,
			     sizeof err),
	    1);
	ck_assert_str_eq(err, "no secret");
	ck_assert_int_eq(client_parse_secret("ERR get disabled", &n, err,
			     sizeof err),
	    1);
	ck_assert_str_eq(err, "get disabled");
}
END_TEST

START_TEST(parse_status_line)
{
	struct client_status st;
	char		     line[512], err[CLIENT_ERRLEN];

	snprintf(line, sizeof line,
	    "STATUS alive=1 armed=0 grace=5 "
	    "registered=2 state=guarding sessions=1 secret_bytes=32 "
	    "protections=mlock,dontdump deadline=- expires=- reads=3 "
	    "sandbox=seccomp,landlock");
	ck_assert_int_eq(client_parse_status(line, &st, err, sizeof err), 0);
	ck_assert_uint_eq(st.n, 12);
	/* The first four as a daZai-rs client reads them, in order. */
	ck_assert_str_eq(st.key[0], "alive");
	ck_assert_str_eq(st.key[1], "armed");
	ck_assert_str_eq(st.key[2], "grace");
	ck_assert_str_eq(st.key[3], "registered");
	ck_assert_str_eq(st.value[2], "5");
	ck_assert_str_eq(client_status_get(&st, "state"), "guarding");
	ck_assert_str_eq(client_status_get(&st, "protections"),
	    "mlock,dontdump");
	ck_assert_str_eq(st.key[11], "sandbox");
	ck_assert_str_eq(client_status_get(&st, "sandbox"), "seccomp,landlock");
	ck_assert_ptr_null(client_status_get(&st, "nosuch"));

	/* The four alone are a whole daZai-rs STATUS. */
	snprintf(line, sizeof line,
	    "STATUS alive=1 armed=1 grace=0 "
	    "registered=0");
	ck_assert_int_eq(client_parse_status(line, &st, err, sizeof err), 0);
	ck_assert_uint_eq(st.n, 4);
}
END_TEST

/* A SESSION line: one live heartbeat's fields, or refused. */
START_TEST(parse_session_line)
{
	static const char *const bad[] = { "SESSION", "SESSION ",
		"STATUS alive=1 armed=0 grace=0 registered=0",
		"SESSION index=0 hello_pid=1 peer_pid=2 since=3",
		"SESSION index=x hello_pid=1 peer_pid=2 since=3 idle=0",
		"SESSION index=0 hello_pid=1 peer_pid=2 since=3 idle=0 =",
		NULL };
	struct client_status	 se;
	char			 line[512], err[CLIENT_ERRLEN];
	int			 i;

	snprintf(line, sizeof line,
	    "SESSION index=1 hello_pid=4242 "
	    "peer_pid=4243 since=1795500000 idle=2");
	ck_assert_int_eq(client_parse_session(line, &se, err, sizeof err), 0);
	ck_assert_str_eq(client_status_get(&se, "hello_pid"), "4242");
	ck_assert_str_eq(client_status_get(&se, "idle"), "2");
	snprintf(line, sizeof line, "ERR no such session");
	ck_assert_int_eq(client_parse_session(line, &se, err, sizeof err), 1);
	ck_assert_str_eq(err, "no such session");
	for (i = 0; bad[i] != NULL; i++) {
		snprintf(line, sizeof line, "%s", bad[i]);
		ck_assert_msg(client_parse_session(line, &se, err,
				  sizeof err) == -1,
		    "accepted: %s", bad[i]);
	}
}
END_TEST

START_TEST(parse_entry_line)
{
	static const char *const bad[] = { "ENTRY", "ENTRY ",
		"SESSION index=0 name=a bytes=1 reads=0 expires=-",
		"ENTRY index=0 name=a bytes=1 reads=0",
		"ENTRY index=0 name=-a bytes=1 reads=0 expires=-",
		"ENTRY index=0 name=../x bytes=1 reads=0 expires=-",
		"ENTRY index=0 name=a bytes=- reads=0 expires=-",
		"ENTRY index=0 name=a bytes=1 reads=x expires=-",
		"ENTRY index=99999999999 name=a bytes=1 reads=0 expires=-",
		NULL };
	struct client_entry	 e;
	char			 line[512], err[CLIENT_ERRLEN];
	int			 i;

	snprintf(line, sizeof line,
	    "ENTRY index=2 name=gh.token_1-x "
	    "bytes=399 reads=3 expires=17");
	ck_assert_int_eq(client_parse_entry(line, &e, err, sizeof err), 0);
	ck_assert_int_eq(e.index, 2);
	ck_assert_str_eq(e.name, "gh.token_1-x");
	ck_assert(e.bytes == 399 && e.reads == 3 && e.expires == 17);
	snprintf(line, sizeof line,
	    "ENTRY index=0 name=default bytes=1 "
	    "reads=0 expires=-");
	ck_assert_int_eq(client_parse_entry(line, &e, err, sizeof err), 0);
	ck_assert(e.expires == -1);
	snprintf(line, sizeof line, "ERR no such entry");
	ck_assert_int_eq(client_parse_entry(line, &e, err, sizeof err), 1);
	ck_assert_str_eq(err, "no such entry");
	for (i = 0; bad[i] != NULL; i++) {
		snprintf(line, sizeof line, "%s", bad[i]);
		ck_assert_msg(client_parse_entry(line, &e, err, sizeof err) ==
			-1,
		    "accepted: %s", bad[i]);
	}
}
END_TEST

/* A STATUS line that must be refused as malformed. */
static void
status_bad(const char *text)
{
	struct client_status st;
	char		     line[2048], err[CLIENT_ERRLEN];

	snprintf(line, sizeof line, "%s", text);
	ck_assert_msg(client_parse_status(line, &st, err, sizeof err) == -1,
	    "accepted: %s", text);
	ck_assert_msg(err[0] != '\0', "no reason for: %s", text);
}

START_TEST(parse_status_malformed)
{
	char   many[2048];
	size_t off, i;

	status_bad("STATUS");
	status_bad("STATUS ");
	status_bad("PONG");
	status_bad("STATUS armed=0 alive=1 grace=0 registered=0");
	status_bad("STATUS alive=1 armed=0 grace=0");
	status_bad("STATUS alive=yes armed=0 grace=0 registered=0");
	status_bad("STATUS alive=1 armed=0 grace=-1 registered=0");
	status_bad("STATUS alive=1 armed=0 grace=0 registered=0 state");
	status_bad("STATUS alive=1 armed=0 grace=0 registered=0 =x");
	status_bad("STATUS alive=1 armed=0 grace=0 registered=0 State=x");
	status_bad("STATUS alive=1 armed=0 grace=0 registered=0 k=");
	status_bad("STATUS alive=1 armed=0 grace=0 registered=0  k=v");
	status_bad("STATUS alive=1 armed=0 grace=0 registered=0 k=\x01");
	status_bad("STATUS alive=1 armed=0 grace=0 registered=0 k=\xc3\xa9");
	off = (size_t)snprintf(many, sizeof many,
	    "STATUS alive=1 armed=0 "
	    "grace=0 registered=0");
	for (i = 0; i < CLIENT_FIELDS_MAX; i++)
		off += (size_t)snprintf(many + off, sizeof many - off,
		    " k%zu=1", i);
	status_bad(many);
}
END_TEST

START_TEST(status_as_json)
{
	struct client_status st;
	char		     line[512], err[CLIENT_ERRLEN], out[1024];

	snprintf(line, sizeof line,
	    "STATUS alive=1 armed=0 grace=5 "
	    "registered=0 state=grace deadline=2.5 expires=- "
	    "protections=mlock,guard odd=a\"b\\c zero=0 lead=007 neg=-3");
	ck_assert_int_eq(client_parse_status(line, &st, err, sizeof err), 0);
	ck_assert_int_gt(client_status_json(&st, out, sizeof out), 0);
	ck_assert_str_eq(out,
	    "{\"alive\":1,\"armed\":0,\"grace\":5,"
	    "\"registered\":0,\"state\":\"grace\",\"deadline\":2.5,"
	    "\"expires\":null,\"protections\":\"mlock,guard\","
	    "\"odd\":\"a\\\"b\\\\c\",\"zero\":0,\"lead\":\"007\","
	    "\"neg\":-3}\n");
	/* Too small a buffer is an error, never an overflow. */
	ck_assert_int_eq(client_status_json(&st, out, 20), -1);
	ck_assert_int_gt(client_status_text(&st, out, sizeof out), 0);
	ck_assert_ptr_nonnull(strstr(out, "state         grace\n"));
	ck_assert_int_eq(client_status_text(&st, out, 20), -1);
}
END_TEST

START_TEST(printable_and_pid)
{
	char out[16];
	int  pid;

	client_printable("ab\x1b[2Jcd", out, sizeof out);
	ck_assert_str_eq(out, "ab\\x1b[2Jcd");
	client_printable("0123456789abcdefghij", out, sizeof out);
	ck_assert_str_eq(out, "0123456789ab...");
	client_printable("abc", out, 2);
	ck_assert_uint_lt(strlen(out), 2);
	ck_assert_int_eq(parse_pid("1", &pid), 0);
	ck_assert_int_eq(pid, 1);
	ck_assert_int_eq(parse_pid("2147483647", &pid), 0);
	ck_assert_int_eq(parse_pid("2147483648", &pid), -1);
	ck_assert_int_eq(parse_pid("0", &pid), -1);
	ck_assert_int_eq(parse_pid("-1", &pid), -1);
	ck_assert_int_eq(parse_pid("", &pid), -1);
	ck_assert_int_eq(parse_pid("12a", &pid), -1);
	ck_assert_int_eq(parse_pid("99999999999999999999", &pid), -1);
}
END_TEST

/* The secret buffer grows by moving, and reads a descriptor whole. */
START_TEST(secbuf_grows_and_reads)
{
	struct secbuf b = { NULL, 0, 0 };
	char	      err[SECBUF_ERRLEN];
	unsigned char data[10000];
	int	      p[2];
	size_t	      i;

	ck_assert_int_eq(secbuf_init(), 0);
	for (i = 0; i < sizeof data; i++)
		data[i] = (unsigned char)(i * 7);
	ck_assert_int_eq(pipe(p), 0);
	ck_assert(write(p[1], data, sizeof data) == (ssize_t)sizeof data);
	close(p[1]);
	ck_assert_int_eq(secbuf_read_fd(&b, p[0], sizeof data, err, sizeof err),
	    0);
	close(p[0]);
	ck_assert_uint_eq(b.len, sizeof data);
	ck_assert(memcmp(b.p, data, sizeof data) == 0);
	secbuf_free(&b);
	ck_assert_ptr_null(b.p);

	/* One byte over the limit is refused. */
	ck_assert_int_eq(pipe(p), 0);
	ck_assert(write(p[1], data, 101) == 101);
	close(p[1]);
	ck_assert_int_eq(secbuf_read_fd(&b, p[0], 100, err, sizeof err), -1);
	ck_assert_ptr_nonnull(strstr(err, "more than 100"));
	close(p[0]);
	secbuf_free(&b);
}
END_TEST

/* ---- running the client ---- */

/*
 * Run build/dazai with args (after --socket sock, unless sock is NULL),
 * standard input from infd (-1: /dev/null), standard output and error
 * captured apart. Returns the exit status, 128+signal, or -1 on timeout.
 */
static int
run_dazai(const char *sock, const char *const *args, int infd, char *out,
    size_t outlen, char *err, size_t errlen, double timeout)
{
	const char *argv[32];
	char	    dir[64], opath[128], epath[128];
	int	    n = 0, i, st, fd;
	ssize_t	    r;
	pid_t	    pid;

	dz_tmpdir(dir, sizeof dir);
	snprintf(opath, sizeof opath, "%s/out", dir);
	snprintf(epath, sizeof epath, "%s/err", dir);
	argv[n++] = dz_bin("dazai");
	if (sock != NULL) {
		argv[n++] = "--socket";
		argv[n++] = sock;
	}
	for (i = 0; args[i] != NULL && n < 31; i++)
		argv[n++] = args[i];
	argv[n] = NULL;
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		fd = infd >= 0 ? infd : open("/dev/null", O_RDONLY);
		dup2(fd, 0);
		fd = open(opath, O_WRONLY | O_CREAT | O_TRUNC, 0600);
		dup2(fd, 1);
		fd = open(epath, O_WRONLY | O_CREAT | O_TRUNC, 0600);
		dup2(fd, 2);
		for (i = 3; i < 256; i++)
			close(i);
		signal(SIGPIPE, SIG_DFL);
		execv(argv[0], (char *const *)argv);
		_exit(125);
	}
	if (dz_waitpid(pid, &st, timeout) != 0) {
		kill(pid, SIGKILL);
		dz_waitpid(pid, &st, 5.0);
		st = -1;
	}
	out[0] = err[0] = '\0';
	if ((fd = open(opath, O_RDONLY)) >= 0) {
		r = read(fd, out, outlen - 1);
		out[r > 0 ? r : 0] = '\0';
		close(fd);
	}
	if ((fd = open(epath, O_RDONLY)) >= 0) {
		r = read(fd, err, errlen - 1);
		err[r > 0 ? r : 0] = '\0';
		close(fd);
	}
	if (st == -1)
		return -1;
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

/* Run the client, expecting status want; out and err hold its output. */
#define expect_run(sock, want, ...) \
	do { \
		const char *const a_[] = { __VA_ARGS__, NULL }; \
		int rc_ = run_dazai((sock), a_, -1, out, sizeof out, err, \
		    sizeof err, RUN_TIMEOUT); \
		ck_assert_msg(rc_ == (want), \
		    "dazai %s: status %d, want %d; " \
		    "stderr: %s", \
		    a_[0], rc_, (want), err); \
	} while (0)

/* ---- a scripted fake server ---- */

enum fake_after {
	FAKE_CLOSE, /* close after the scripted reply */
	FAKE_STALL, /* keep the connection open, say nothing more */
};

struct fake {
	pid_t pid;
	char  dir[64];
	char  sock[128];
	int   report; /* what the server received, for the test */
};

/* Read exactly n bytes within a few seconds; false otherwise. */
static bool
read_full(int fd, void *buf, size_t n)
{
	struct pollfd pfd = { fd, POLLIN, 0 };
	size_t	      got = 0;
	ssize_t	      r;

	while (got < n) {
		if (poll(&pfd, 1, 10000) != 1)
			return false;
		if ((r = read(fd, (char *)buf + got, n - got)) <= 0)
			return false;
		got += (size_t)r;
	}
	return true;
}

/*
 * The server's side of one connection. PING gets PONG and LOAD <n> gets
 * OK (the bytes go to the report pipe); the first other request gets the
 * scripted reply, then `after`. Returns false when the client left.
 */
static bool
fake_serve(int c, int report, const char *reply, size_t len,
    enum fake_after after)
{
	char line[512], body[65536];
	long n;

	while (dz_readline(c, line, sizeof line, 20) != NULL) {
		if (strcmp(line, "PING") == 0) {
			dz_send(c, "PONG\n");
			continue;
		}
		if (sscanf(line, "LOAD %ld", &n) == 1 && n > 0 &&
		    n <= (long)sizeof body && read_full(c, body, (size_t)n)) {
			if (write(report, body, (size_t)n) != n)
				_exit(1);
			dz_send(c, "OK\n");
			continue;
		}
		if (write(report, line, strlen(line)) < 0 ||
		    write(report, "\n", 1) < 0)
			_exit(1);
		if (send(c, reply, len, MSG_NOSIGNAL) != (ssize_t)len)
			return false;
		if (after == FAKE_STALL)
			for (;;)
				pause();
		return false;
	}
	return false;
}

/*
 * Start a fake daemon on dir/dazai.sock answering the first request that
 * is not PING or LOAD with reply. With as_uid, it listens as that uid (so
 * SO_PEERCRED names it).
 */
static void
fake_start(struct fake *f, const void *reply, size_t len, enum fake_after after,
    uid_t as_uid)
{
	struct sockaddr_un sun;
	int		   lfd, c, p[2];

	memset(f, 0, sizeof *f);
	dz_tmpdir(f->dir, sizeof f->dir);
	snprintf(f->sock, sizeof f->sock, "%s/dazai.sock", f->dir);
	ck_assert_int_eq(pipe(p), 0);
	memset(&sun, 0, sizeof sun);
	sun.sun_family = AF_UNIX;
	memcpy(sun.sun_path, f->sock, strlen(f->sock) + 1);
	lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	ck_assert_int_ge(lfd, 0);
	ck_assert_int_eq(bind(lfd, (struct sockaddr *)&sun, sizeof sun), 0);
	f->pid = fork();
	ck_assert_int_ge(f->pid, 0);
	if (f->pid == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		close(p[0]);
		if (as_uid != 0 && (setgid(as_uid) != 0 || setuid(as_uid) != 0))
			_exit(1);
		if (listen(lfd, 8) != 0)
			_exit(1);
		if (write(p[1], "", 1) != 1) /* listening */
			_exit(1);
		for (;;) {
			if ((c = accept(lfd, NULL, NULL)) < 0)
				_exit(1);
			fake_serve(c, p[1], reply, len, after);
			close(c);
		}
	}
	close(lfd);
	close(p[1]);
	f->report = p[0];
	ck_assert_msg(read_full(f->report, &c, 1), "fake server not ready");
}

/* Stop the fake server (by its pid) and collect what it was sent. */
static void
fake_stop(struct fake *f, char *got, size_t len)
{
	ssize_t n = 0, r;

	kill(f->pid, SIGKILL);
	dz_waitpid(f->pid, NULL, 5.0);
	fcntl(f->report, F_SETFL, O_NONBLOCK);
	if (got != NULL) {
		while ((size_t)n < len - 1 &&
		    (r = read(f->report, got + n, len - 1 - (size_t)n)) > 0)
			n += r;
		got[n] = '\0';
	}
	close(f->report);
}

/* The client against a fake server that sends reply; returns status. */
static int
against_fake(const void *reply, size_t len, enum fake_after after,
    const char *cmd, char *out, size_t outlen, char *err, size_t errlen)
{
	const char *const args[] = { cmd, NULL };
	struct fake	  f;
	int		  rc;

	fake_start(&f, reply, len, after, 0);
	rc = run_dazai(f.sock, args, -1, out, outlen, err, errlen, RUN_TIMEOUT);
	fake_stop(&f, NULL, 0);
	return rc;
}

/* A hostile reply: exit 1, one line naming what was wrong, no output. */
static void
hostile(const char *what, const void *reply, size_t len, enum fake_after after,
    const char *cmd, const char *needle)
{
	char   out[4096], err[4096];
	double t0 = dz_now();
	int    rc;

	rc = against_fake(reply, len, after, cmd, out, sizeof out, err,
	    sizeof err);
	ck_assert_msg(rc == 1, "%s: status %d, want 1; stderr: %s", what, rc,
	    err);
	ck_assert_msg(strstr(err, needle) != NULL,
	    "%s: stderr lacks '%s': "
	    "%s",
	    what, needle, err);
	ck_assert_msg(strncmp(err, "dazai: ", 7) == 0 &&
		strchr(err, '\n') == err + strlen(err) - 1,
	    "%s: not one line: %s", what, err);
	ck_assert_msg(out[0] == '\0', "%s: wrote to stdout: %s", what, out);
	printf("hostile %s: exit 1 after %.1f s: %s", what, dz_now() - t0, err);
}

START_TEST(fake_get_and_status)
{
	static const char status[] = "STATUS alive=1 armed=0 grace=0 "
				     "registered=0 state=guarding deadline=-\n";
	static const char secret[] = "SECRET 11\nhello\0world";
	char		  out[4096], err[4096];

	/* The harness works: a well-formed reply is taken. */
	ck_assert_int_eq(against_fake(secret, sizeof secret - 1, FAKE_CLOSE,
			     "get", out, sizeof out, err, sizeof err),
	    0);
	ck_assert(memcmp(out, "hello\0world", 11) == 0);
	ck_assert_int_eq(against_fake(status, sizeof status - 1, FAKE_CLOSE,
			     "status", out, sizeof out, err, sizeof err),
	    0);
	ck_assert_ptr_nonnull(strstr(out, "state         guarding\n"));
}
END_TEST

START_TEST(fake_hostile_replies)
{
	static const char longline[] = "SECRET 5";
	char		  big[8192];

	hostile("short secret", "SECRET 100\n0123456789", 21, FAKE_CLOSE, "get",
	    "after 10 of the 100 bytes");
	hostile("huge length", "SECRET 99999999999999\n", 22, FAKE_CLOSE, "get",
	    "the limit is");
	hostile("zero length", "SECRET 0\n", 9, FAKE_CLOSE, "get",
	    "announced a secret of 0");
	hostile("garbage", "\x01\x02\xfe junk\n", 10, FAKE_CLOSE, "get",
	    "unexpected reply to GET: \\x01\\x02\\xfe junk");
	hostile("refusal", "ERR no secret\n", 14, FAKE_CLOSE, "get",
	    "refused: no secret");
	hostile("early close", "", 0, FAKE_CLOSE, "status",
	    "closed the connection without a reply");
	hostile("half line", "STATUS alive=1", 14, FAKE_CLOSE, "status",
	    "in the middle of a reply");
	hostile("bad status",
	    "STATUS alive=1 armed=x grace=0 "
	    "registered=0\n",
	    44, FAKE_CLOSE, "status", "armed");
	hostile("nul byte", "OK\0\n", 4, FAKE_CLOSE, "wipe", "NUL byte");
	hostile("wrong verb", "PONG\n", 5, FAKE_CLOSE, "arm",
	    "unexpected reply: PONG");
	memset(big, 'A', sizeof big);
	memcpy(big, longline, sizeof longline - 1);
	hostile("over-long line", big, sizeof big, FAKE_CLOSE, "get",
	    "longer than 1024 bytes");
	hostile("over-long stalled", big, sizeof big, FAKE_STALL, "status",
	    "longer than 1024 bytes");
}
END_TEST

/* A server that stops talking is left after the timeout, never waited
 * for forever. */
START_TEST(fake_stalls)
{
	hostile("silent", "", 0, FAKE_STALL, "status", "did not answer within");
	hostile("stalled secret", "SECRET 64\nabc", 13, FAKE_STALL, "get",
	    "did not answer within");
}
END_TEST

/* A listening socket at dir/name, its backlog as given; the descriptor. */
static int
listener_at(const char *dir, const char *name, int backlog, char *path,
    size_t len)
{
	struct sockaddr_un sun;
	int		   fd;

	snprintf(path, len, "%s/%s", dir, name);
	memset(&sun, 0, sizeof sun);
	sun.sun_family = AF_UNIX;
	memcpy(sun.sun_path, path, strlen(path) + 1);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(bind(fd, (struct sockaddr *)&sun, sizeof sun), 0);
	ck_assert_int_eq(listen(fd, backlog), 0);
	return fd;
}

/*
 * The client against a listener that never lets a request finish ends
 * near its deadline (DAZAI_TIMEOUT=2 here; the bound asserted is loose)
 * with exit 1 and one line naming the wait.
 */
static void
ends_by_deadline(const char *what, const char *sock, const char *cmd,
    const char *needle)
{
	const char *const args[] = { cmd, NULL };
	char		  out[4096], err[4096];
	double		  t0 = dz_now();
	int		  rc;

	ck_assert_int_eq(setenv("DAZAI_TIMEOUT", "2", 1), 0);
	rc = run_dazai(sock, args, -1, out, sizeof out, err, sizeof err, 25.0);
	unsetenv("DAZAI_TIMEOUT");
	ck_assert_msg(rc != -1, "%s: dazai %s still waiting after 25 s", what,
	    cmd);
	ck_assert_msg(rc == 1, "%s: status %d, want 1; stderr: %s", what, rc,
	    err);
	ck_assert_msg(strstr(err, needle) != NULL,
	    "%s: stderr lacks '%s': "
	    "%s",
	    what, needle, err);
	ck_assert_msg(strncmp(err, "dazai: ", 7) == 0 &&
		strchr(err, '\n') == err + strlen(err) - 1,
	    "%s: not one line: %s", what, err);
	printf("deadline %s: exit 1 after %.1f s: %s", what, dz_now() - t0,
	    err);
}

/*
 * One deadline for the whole request, the connect included: a listener
 * that drips a reply one byte a second, one whose backlog is full, and a
 * stopped daemon hold no command longer than about that deadline.
 */
START_TEST(fake_deadline)
{
	static const char drip[] = "a secret that arrives a byte a second";
	char		  dir[64], sock[128], line[256];
	struct dz	  d;
	size_t		  i;
	pid_t		  pid;
	int		  lfd, c, fds[64], n = 0;

	/* A secret a byte a second: never silent for long, never done. */
	dz_tmpdir(dir, sizeof dir);
	lfd = listener_at(dir, "drip.sock", 8, sock, sizeof sock);
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if ((c = accept(lfd, NULL, NULL)) < 0 ||
		    dz_readline(c, line, sizeof line, 20) == NULL ||
		    !dz_send(c, "SECRET 4096\n"))
			_exit(1);
		for (i = 0; i < sizeof drip - 1; i++) {
			if (send(c, drip + i, 1, MSG_NOSIGNAL) != 1)
				_exit(0);
			sleep(1);
		}
		_exit(0);
	}
	close(lfd);
	ends_by_deadline("drip", sock, "get", "did not answer within 2 s");
	kill(pid, SIGKILL);
	dz_waitpid(pid, NULL, 5.0);

	/* A listener that accepts nothing, its backlog filled by us. */
	lfd = listener_at(dir, "full.sock", 0, sock, sizeof sock);
	for (n = 0; n < 64; n++) {
		struct sockaddr_un sun;

		memset(&sun, 0, sizeof sun);
		sun.sun_family = AF_UNIX;
		memcpy(sun.sun_path, sock, strlen(sock) + 1);
		fds[n] = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0);
		ck_assert_int_ge(fds[n], 0);
		if (connect(fds[n], (struct sockaddr *)&sun, sizeof sun) != 0) {
			ck_assert_int_eq(errno, EAGAIN);
			close(fds[n]);
			break;
		}
	}
	ck_assert_msg(n < 64, "the backlog never filled");
	ends_by_deadline("full backlog", sock, "wipe",
	    "did not take the connection within 2 s");
	while (n-- > 0)
		close(fds[n]);
	close(lfd);

	/* The real daemon, stopped: connected, never answered. */
	ck_assert_int_eq(dz_start(&d, NULL), 0);
	ck_assert_int_eq(kill(d.pid, SIGSTOP), 0);
	ends_by_deadline("stopped daemon", d.sock, "status",
	    "did not answer within 2 s");
	ck_assert_int_eq(kill(d.pid, SIGCONT), 0);
	dz_stop(&d);
}
END_TEST

/* Refuse a listener of another uid, and a directory others could write. */
START_TEST(fake_untrusted)
{
	char	    out[4096], err[4096], dir[64], sock[128];
	struct fake f;

	if (!dz_is_root()) {
		dz_skip("fake_untrusted: listening as another uid needs "
			"root");
	} else {
		fake_start(&f, "OK\n", 3, FAKE_CLOSE, NOBODY);
		expect_run(f.sock, 4, "wipe");
		ck_assert_msg(strstr(err, "served by uid 65534") != NULL, "%s",
		    err);
		fake_stop(&f, NULL, 0);
	}
	/* A directory group or others may write. */
	fake_start(&f, "OK\n", 3, FAKE_CLOSE, 0);
	ck_assert_int_eq(chmod(f.dir, 0777), 0);
	expect_run(f.sock, 4, "wipe");
	ck_assert_msg(strstr(err, "writable by group or others") != NULL, "%s",
	    err);
	ck_assert_int_eq(chmod(f.dir, 0700), 0);
	expect_run(f.sock, 0, "wipe");
	fake_stop(&f, NULL, 0);
	/* Nothing there at all: 4. */
	dz_tmpdir(dir, sizeof dir);
	snprintf(sock, sizeof sock, "%s/none.sock", dir);
	expect_run(sock, 4, "status");
	ck_assert_ptr_nonnull(strstr(err, "no daemon at"));
}
END_TEST

/* Usage errors exit 2 and touch no socket. */
START_TEST(usage_errors)
{
	char out[4096], err[4096], big[300];

	expect_run("/nonexistent/dazai.sock", 2, "frobnicate");
	expect_run("/nonexistent/dazai.sock", 2, "status", "--xml");
	expect_run("/nonexistent/dazai.sock", 2, "get", "a", "b");
	expect_run("/nonexistent/dazai.sock", 2, "get", "../x");
	expect_run("/nonexistent/dazai.sock", 2, "load", "--name", "-a");
	expect_run("/nonexistent/dazai.sock", 2, "load", "--name", "a b");
	expect_run("/nonexistent/dazai.sock", 2, "wipe", "a", "b");
	expect_run("/nonexistent/dazai.sock", 2, "wipe", ".x");
	expect_run("/nonexistent/dazai.sock", 2, "list", "--xml");
	expect_run("/nonexistent/dazai.sock", 2, "exec", "--env", "1X", "true");
	expect_run("/nonexistent/dazai.sock", 2, "exec", "--env", "A", "--fifo",
	    "A", "true");
	expect_run("/nonexistent/dazai.sock", 2, "exec", "--fd", "3", "--fd",
	    "3=b", "true");
	expect_run("/nonexistent/dazai.sock", 2, "exec", "--fifo=K=", "true");
	expect_run("/nonexistent/dazai.sock", 2, "exec", "--fd", "3=a/b",
	    "true");
	expect_run("/nonexistent/dazai.sock", 2, "register");
	expect_run("/nonexistent/dazai.sock", 2, "register", "0");
	expect_run("/nonexistent/dazai.sock", 2, "register", "-1");
	expect_run("/nonexistent/dazai.sock", 2, "unregister", "12x");
	expect_run("/nonexistent/dazai.sock", 2, "register", "1", "2");
	expect_run("/nonexistent/dazai.sock", 2, "arm", "now");
	expect_run("/nonexistent/dazai.sock", 2, "load", "a", "b");
	expect_run("/nonexistent/dazai.sock", 2, "exec");
	expect_run("/nonexistent/dazai.sock", 2, "exec", "--");
	expect_run("/nonexistent/dazai.sock", 2, "exec", "--fd", "x", "--",
	    "true");
	expect_run("/nonexistent/dazai.sock", 2, "exec", "--fd", "-1", "true");
	expect_run("/nonexistent/dazai.sock", 2, "exec", "--bogus", "true");
	expect_run("/nonexistent/dazai.sock", 2, "cancel", "now");
	expect_run(NULL, 2, "--bogus", "status");
	memset(big, 'a', sizeof big - 1);
	big[0] = '/';
	big[sizeof big - 1] = '\0';
	expect_run(big, 2, "status");
	ck_assert_ptr_nonnull(strstr(err, "the limit is 107"));
	expect_run(NULL, 0, "--help");
	ck_assert_ptr_nonnull(strstr(out, "exec [--fd N]"));
	expect_run(NULL, 0, "--version");
	/* A command that cannot run: 127 before any connection. */
	expect_run("/nonexistent/dazai.sock", 127, "exec", "--",
	    "dazai-no-such-command");
	ck_assert_ptr_nonnull(strstr(err, "command not found"));
	expect_run("/nonexistent/dazai.sock", 126, "exec", "--", "/etc");
}
END_TEST

/* ---- the secret buffer is locked ---- */

/*
 * Start `dazai --socket sock load` with standard input from in,
 * RLIMIT_MEMLOCK set to soft and hard and without CAP_IPC_LOCK, which
 * would lock past any limit (exit 123 if root cannot drop it); standard
 * error to errpath.
 */
static pid_t
load_limited(const char *sock, int in, rlim_t soft, rlim_t hard,
    const char *errpath)
{
	struct rlimit rl = { soft, hard };
	pid_t	      pid;
	int	      fd, i;

	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		/* A root that keeps CAP_IPC_LOCK after exec ignores limits. */
		(void)prctl(PR_CAPBSET_DROP, CAP_IPC_LOCK, 0, 0, 0);
		if (geteuid() == 0 &&
		    prctl(PR_CAPBSET_READ, CAP_IPC_LOCK, 0, 0, 0) != 0)
			_exit(123);
		if (setrlimit(RLIMIT_MEMLOCK, &rl) != 0)
			_exit(124);
		dup2(in, 0);
		fd = open(errpath, O_WRONLY | O_CREAT | O_TRUNC, 0600);
		dup2(fd, 2);
		fd = open("/dev/null", O_WRONLY);
		dup2(fd, 1);
		for (i = 3; i < 256; i++)
			close(i);
		execl(dz_bin("dazai"), "dazai", "--socket", sock, "load",
		    (char *)NULL);
		_exit(125);
	}
	return pid;
}

/* VmLck of pid in kB, or -1. */
static long
vm_locked_kb(pid_t pid)
{
	char	path[64], buf[4096], *p;
	ssize_t n;
	int	fd;

	snprintf(path, sizeof path, "/proc/%d/status", (int)pid);
	if ((fd = open(path, O_RDONLY)) < 0)
		return -1;
	n = read(fd, buf, sizeof buf - 1);
	close(fd);
	if (n <= 0)
		return -1;
	buf[n] = '\0';
	if ((p = strstr(buf, "\nVmLck:")) == NULL)
		return -1;
	return strtol(p + 8, NULL, 10);
}

/*
 * A secret the client cannot lock is refused before a byte of it is
 * read; with a hard limit high enough, the soft one is raised and the
 * buffer holding it is locked (VmLck covers it).
 */
START_TEST(secret_buffer_locked)
{
	static char   big[4 << 20];
	struct rlimit rl;
	char	      dir[64], file[128], errpath[128], err[4096];
	struct fake   f;
	long	      kb = -1;
	long long     end;
	off_t	      at;
	pid_t	      pid;
	int	      fd, st;

	if (dz_is_asan_build(dz_bin("dazai"))) {
		/* Its runtime replaces mlock(2) by one that locks nothing
		 * and says it did. */
		dz_skip_na("secret_buffer_locked: an AddressSanitizer build "
			   "cannot lock memory");
		return;
	}
	dz_tmpdir(dir, sizeof dir);
	snprintf(file, sizeof file, "%s/big", dir);
	snprintf(errpath, sizeof errpath, "%s/err", dir);
	memset(big, 's', sizeof big);
	dz_write_file(file, big, sizeof big);

	/* 64 KiB may be locked, the secret is 4 MiB: refused, unread. */
	fd = open(file, O_RDONLY);
	ck_assert_int_ge(fd, 0);
	pid =
	    load_limited("/nonexistent/dazai.sock", fd, 65536, 65536, errpath);
	ck_assert_int_eq(dz_waitpid(pid, &st, RUN_TIMEOUT), 0);
	if (WIFEXITED(st) && WEXITSTATUS(st) == 123) {
		dz_skip("secret_buffer_locked: CAP_IPC_LOCK cannot be "
			"dropped here (no CAP_SETPCAP), and it locks past any "
			"limit");
		close(fd);
		return;
	}
	dz_read_file(errpath, err, sizeof err);
	ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 1, "status %d: %s",
	    st, err);
	ck_assert_msg(strstr(err, "cannot lock") != NULL &&
		strstr(err, "RLIMIT_MEMLOCK is 65536") != NULL,
	    "%s", err);
	at = lseek(fd, 0, SEEK_CUR);
	ck_assert_msg(at == 0, "%lld bytes read before the refusal",
	    (long long)at);
	close(fd);

	/*
	 * A soft limit of 64 KiB under the hard one (the usual 8 MiB): the
	 * client raises it and the 4 MiB buffer is locked. A server that
	 * takes the LOAD line and then nothing holds the client there.
	 */
	ck_assert_int_eq(getrlimit(RLIMIT_MEMLOCK, &rl), 0);
	if (rl.rlim_max != RLIM_INFINITY &&
	    rl.rlim_max < (rlim_t)(sizeof big + (1 << 20))) {
		dz_skip("secret_buffer_locked: the hard RLIMIT_MEMLOCK is "
			"%llu bytes, too low to lock %zu",
		    (unsigned long long)rl.rlim_max, sizeof big);
		return;
	}
	fake_start(&f, "", 0, FAKE_STALL, 0);
	fd = open(file, O_RDONLY);
	ck_assert_int_ge(fd, 0);
	pid = load_limited(f.sock, fd, 65536, rl.rlim_max, errpath);
	close(fd);
	end = dz_ms_now() + 8000;
	while ((kb = vm_locked_kb(pid)) < (long)(sizeof big / 1024) &&
	    dz_ms_now() < end)
		usleep(20000);
	kill(pid, SIGKILL);
	ck_assert_int_eq(dz_waitpid(pid, &st, RUN_TIMEOUT), 0);
	fake_stop(&f, NULL, 0);
	dz_read_file(errpath, err, sizeof err);
	ck_assert_msg(kb >= (long)(sizeof big / 1024),
	    "VmLck %ld kB while "
	    "holding a %zu-byte secret; stderr: %s",
	    kb, sizeof big, err);
}
END_TEST

/* ---- the secret's path through the client's memory ---- */

/* Scan pid for the marker; returns the hits, their addresses in at. */
static int
scan_marker(pid_t pid, const unsigned char *m, size_t len, unsigned long *at)
{
	struct memscan ms;

	ck_assert_int_eq(memscan_pid(pid, m, len, &ms), 0);
	ck_assert_int_gt(ms.regions, 0);
	if (ms.hits > 0)
		*at = ms.hit[0].addr;
	return ms.hits;
}

/*
 * `dazai get` traced system call by system call: just after the write
 * of the secret to standard output, the marker is in memory exactly once,
 * in the very buffer written from; at exit_group, nowhere.
 */
START_TEST(get_memory_scan)
{
	struct __ptrace_syscall_info si;
	unsigned char marker[48], reply[64 + sizeof marker], got[64];
	unsigned long buf = 0, at = 0;
	const char   *argv[5];
	struct fake   f;
	int	      out[2], st, hits, writes = 0, exits = 0;
	bool	      in_write = false;
	size_t	      n;
	pid_t	      pid;

	if (dz_is_asan_build(dz_bin("dazai"))) {
		dz_skip_na("get_memory_scan: %s is an AddressSanitizer "
			   "build; memory scans run on the normal build",
		    dz_bin("dazai"));
		return;
	}
	if (!dz_is_root()) {
		dz_skip("get_memory_scan: reading another process's "
			"memory needs root");
		return;
	}
	randombytes_buf(marker, sizeof marker);
	n = (size_t)snprintf((char *)reply, sizeof reply, "SECRET %zu\n",
	    sizeof marker);
	memcpy(reply + n, marker, sizeof marker);
	fake_start(&f, reply, n + sizeof marker, FAKE_CLOSE, 0);
	/* The reply is built; the only other copy is in the server. */
	sodium_memzero(reply, sizeof reply);
	ck_assert_int_eq(pipe(out), 0);
	argv[0] = dz_bin("dazai");
	argv[1] = "--socket";
	argv[2] = f.sock;
	argv[3] = "get";
	argv[4] = NULL;
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		dup2(out[1], 1);
		close(out[0]);
		close(out[1]);
		ptrace(PTRACE_TRACEME, 0, 0, 0);
		execv(argv[0], (char *const *)argv);
		_exit(125);
	}
	close(out[1]);
	ck_assert_int_eq(dz_waitpid(pid, &st, 10), 0);
	ck_assert(WIFSTOPPED(st));
	ck_assert_int_eq(ptrace(PTRACE_SETOPTIONS, pid, 0,
			     PTRACE_O_TRACESYSGOOD | PTRACE_O_EXITKILL),
	    0);
	ck_assert_int_eq(ptrace(PTRACE_SYSCALL, pid, 0, 0), 0);
	for (;;) {
		ck_assert_msg(dz_waitpid(pid, &st, 20) == 0,
		    "traced client did not finish");
		if (WIFEXITED(st) || WIFSIGNALED(st))
			break;
		if (WSTOPSIG(st) != (SIGTRAP | 0x80)) {
			ptrace(PTRACE_SYSCALL, pid, 0, WSTOPSIG(st));
			continue;
		}
		memset(&si, 0, sizeof si);
		ck_assert_int_gt(ptrace(PTRACE_GET_SYSCALL_INFO, pid, sizeof si,
				     &si),
		    0);
		if (si.op == PTRACE_SYSCALL_INFO_ENTRY &&
		    si.entry.nr == SYS_write && si.entry.args[0] == 1) {
			in_write = true;
			buf = (unsigned long)si.entry.args[1];
		} else if (si.op == PTRACE_SYSCALL_INFO_EXIT && in_write) {
			in_write = false;
			writes++;
			hits = scan_marker(pid, marker, sizeof marker, &at);
			ck_assert_msg(hits == 1, "after the write: %d copies",
			    hits);
			ck_assert_msg(at == buf,
			    "the copy at %#lx is not the "
			    "buffer written from (%#lx)",
			    at, buf);
		} else if (si.op == PTRACE_SYSCALL_INFO_ENTRY &&
		    si.entry.nr == SYS_exit_group) {
			exits++;
			hits = scan_marker(pid, marker, sizeof marker, &at);
			ck_assert_msg(hits == 0, "at exit: %d copies at %#lx",
			    hits, at);
		}
		ptrace(PTRACE_SYSCALL, pid, 0, 0);
	}
	ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 0, "status %d", st);
	ck_assert_int_eq(writes, 1);
	ck_assert_int_eq(exits, 1);
	ck_assert(read_full(out[0], got, sizeof marker));
	ck_assert(memcmp(got, marker, sizeof marker) == 0);
	close(out[0]);
	fake_stop(&f, NULL, 0);
}
END_TEST

/* ---- a secret typed at a terminal ---- */

/* Start `dazai --socket sock cmd [opt]` in a pseudo-terminal. */
static void
term_start(struct term *t, const char *sock, const char *cmd, const char *opt)
{
	const char *argv[] = { dz_bin("dazai"), "--socket", sock, cmd, opt,
		NULL };

	term_spawn(t, argv, NULL, NULL, 24, 80);
}

START_TEST(tty_prompt_load)
{
	static const char typed[] = "typed s3cret";
	char		  got[256];
	struct fake	  f;
	struct term	  t;
	int		  st;

	fake_start(&f, "OK\n", 3, FAKE_CLOSE, 0);
	term_start(&t, f.sock, "load", NULL);
	ck_assert_msg(term_wait(&t, "secret (not echoed): ", 10),
	    "no prompt: %s", t.out);
	ck_assert_msg(!term_echo(&t), "echo is on at the prompt");
	ck_assert(write(t.fd, typed, sizeof typed - 1) ==
	    (ssize_t)sizeof typed - 1);
	ck_assert(write(t.fd, "\n", 1) == 1);
	term_drain(&t, 5000);
	ck_assert_int_eq(dz_waitpid(t.pid, &st, 10), 0);
	ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 0,
	    "status %d, terminal: %s", st, t.out);
	ck_assert_msg(strstr(t.out, "s3cret") == NULL,
	    "the secret was "
	    "echoed: %s",
	    t.out);
	fake_stop(&f, got, sizeof got);
	/* Exactly the typed line, without its newline, reached LOAD (then
	 * the STATUS that asks whether a heartbeat guards it). */
	ck_assert_str_eq(got, "typed s3cretSTATUS\n");
	close(t.fd);
}
END_TEST

START_TEST(tty_prompt_interrupted)
{
	char	    got[256];
	struct fake f;
	struct term t;
	int	    st;

	fake_start(&f, "OK\n", 3, FAKE_CLOSE, 0);
	term_start(&t, f.sock, "load", NULL);
	ck_assert_msg(term_wait(&t, "secret (not echoed): ", 10),
	    "no prompt: %s", t.out);
	ck_assert(term_echo(&t) == false);
	ck_assert(write(t.fd, "half", 4) == 4);
	ck_assert(write(t.fd, "\x03", 1) == 1); /* ^C */
	ck_assert_int_eq(dz_waitpid(t.pid, &st, 10), 0);
	ck_assert_msg(WIFSIGNALED(st) && WTERMSIG(st) == SIGINT, "status %d",
	    st);
	/* The terminal has its echo back. */
	ck_assert_msg(term_echo(&t), "echo still off after ^C");
	fake_stop(&f, got, sizeof got);
	ck_assert_msg(got[0] == '\0', "something was loaded: %s", got);
	close(t.fd);
}
END_TEST

/*
 * A paste of two lines at the prompt: refused, not cut to its first line,
 * and its second line does not reach the next reader of the terminal
 * (here a shell's `read`, which gets the line typed after instead).
 */
START_TEST(tty_prompt_paste)
{
	static const char script[] =
	    "\"$0\" --socket \"$1\" load; "
	    "echo \"status=$?\"; IFS= read -r next; echo \"next=[$next]\"";
	const char *argv[] = { "/bin/sh", "-c", script, NULL, NULL, NULL };
	char	    got[256];
	struct fake f;
	struct term t;
	int	    st;

	fake_start(&f, "OK\n", 3, FAKE_CLOSE, 0);
	argv[3] = dz_bin("dazai");
	argv[4] = f.sock;
	term_spawn(&t, argv, NULL, NULL, 24, 80);
	ck_assert_msg(term_wait(&t, "secret (not echoed): ", 10),
	    "no prompt: %s", t.out);
	ck_assert(write(t.fd, "first line\nsecond line\n", 23) == 23);
	ck_assert_msg(term_wait(&t, "status=", 10), "%s", t.out);
	ck_assert(write(t.fd, "typed after\n", 12) == 12);
	ck_assert_msg(term_wait(&t, "next=[", 10) && term_wait(&t, "]", 5),
	    "%s", t.out);
	ck_assert_int_eq(dz_waitpid(t.pid, &st, 10), 0);
	ck_assert_msg(strstr(t.out, "next=[second line]") == NULL,
	    "the paste's second line reached the shell: %s", t.out);
	ck_assert_msg(strstr(t.out, "next=[typed after]") != NULL, "%s", t.out);
	ck_assert_msg(strstr(t.out, "status=1") != NULL &&
		strstr(t.out, "more than one line") != NULL,
	    "the paste was not refused: %s", t.out);
	close(t.fd);
	/* Nothing was loaded, the first line alone least of all. */
	fake_stop(&f, got, sizeof got);
	ck_assert_msg(got[0] == '\0', "something was loaded: %s", got);
}
END_TEST

/* get refuses a terminal on standard output unless --tty is given. */
START_TEST(tty_get_refused)
{
	static const char reply[] = "SECRET 10\nshown-here";
	char		  got[256];
	struct fake	  f;
	struct term	  t;
	int		  st;

	fake_start(&f, reply, sizeof reply - 1, FAKE_CLOSE, 0);
	term_start(&t, f.sock, "get", NULL);
	term_drain(&t, 5000);
	ck_assert_int_eq(dz_waitpid(t.pid, &st, 10), 0);
	ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 1, "status %d", st);
	ck_assert_msg(strstr(t.out, "standard output is a terminal") != NULL,
	    "%s", t.out);
	close(t.fd);
	/* Refused before asking: the server never saw a GET. */
	fake_stop(&f, got, sizeof got);
	ck_assert_msg(got[0] == '\0', "the server was asked: %s", got);

	fake_start(&f, reply, sizeof reply - 1, FAKE_CLOSE, 0);
	term_start(&t, f.sock, "get", "--tty");
	ck_assert_msg(term_wait(&t, "shown-here", 10), "%s", t.out);
	ck_assert_int_eq(dz_waitpid(t.pid, &st, 10), 0);
	ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 0, "status %d", st);
	close(t.fd);
	fake_stop(&f, got, sizeof got);
	ck_assert_str_eq(got, "GET\n");
}
END_TEST

/* ---- against the real daemon ---- */

/* cancel: a grace window opened by a lost heartbeat, in both modes. */
static void
cancel_in_mode(const char *mode)
{
	const char *const args[] = { mode, "--grace", "30", NULL };
	char		  out[4096], err[4096];
	struct dz	  d;
	int		  hb;

	ck_assert_int_eq(dz_start(&d, args), 0);
	expect_run(d.sock, 1, "cancel");
	ck_assert_ptr_nonnull(strstr(err, "no panic is pending"));
	hb = dz_hello(d.sock);
	close(hb);
	ck_assert(dz_log_wait(&d, "grace", 10));
	expect_run(d.sock, 0, "cancel");
	ck_assert(dz_log_wait(&d, "cancel", 10));
	ck_assert(dz_alive(&d));
	/* Nothing guards the secret now, and the user is told. */
	ck_assert_msg(strstr(err,
			  "WARNING: panic cancelled, and no heartbeat "
			  "is connected") != NULL,
	    "%s", err);
	expect_run(d.sock, 1, "cancel");
	/* Our HELLO, CANCEL and QUIT left no heartbeat to lose. */
	ck_assert(dz_alive(&d));
	hb = dz_hello(d.sock);
	ck_assert(dz_send(hb, "QUIT\n"));
	dz_expect(hb, "BYE");
	close(hb);
	/* With the slot held, cancel is BUSY: exit 1 naming the way out. */
	hb = dz_hello(d.sock);
	expect_run(d.sock, 1, "cancel");
	ck_assert_msg(strstr(err, "BUSY") != NULL, "%s", err);
	ck_assert(dz_alive(&d));
	ck_assert(dz_send(hb, "QUIT\n"));
	dz_expect(hb, "BYE");
	close(hb);
	dz_stop(&d);
}

START_TEST(real_cancel)
{
	cancel_in_mode("--dry-run");
	cancel_in_mode("--arm");
}
END_TEST

/* A pipe holding data, for a child's standard input (closed after). */
static int
input_pipe(const void *data, size_t len)
{
	int p[2];

	ck_assert_int_eq(pipe(p), 0);
	ck_assert(len < 65536);
	ck_assert(write(p[1], data, len) == (ssize_t)len);
	close(p[1]);
	return p[0];
}

/* Run dazai with data on its standard input; returns the status. */
static int
run_with_input(const char *sock, const char *const *args, const void *data,
    size_t len, char *out, size_t outlen, char *err, size_t errlen)
{
	int in = input_pipe(data, len), rc;

	rc = run_dazai(sock, args, in, out, outlen, err, errlen, RUN_TIMEOUT);
	close(in);
	return rc;
}

/* A STATUS field's value as the client prints it for a person. */
static const char *
status_field(const char *sock, const char *key, char *buf, size_t len)
{
	const char *const args[] = { "status", NULL };
	char		  out[4096], err[4096], want[64];
	char		 *p;

	ck_assert_int_eq(run_dazai(sock, args, -1, out, sizeof out, err,
			     sizeof err, RUN_TIMEOUT),
	    0);
	snprintf(want, sizeof want, "\n%-13s ", key);
	memmove(out + 1, out, strlen(out) + 1);
	out[0] = '\n';
	ck_assert_msg((p = strstr(out, want)) != NULL, "no %s in %s", key, out);
	p += strlen(want);
	snprintf(buf, len, "%.*s", (int)strcspn(p, "\n"), p);
	return buf;
}

/* Wait for the daemon's state to read want; false at the timeout. */
static bool
wait_state(const char *sock, const char *want, double timeout)
{
	long long end = dz_ms_now() + (long long)(timeout * 1000);
	char	  val[64];

	while (strcmp(status_field(sock, "state", val, sizeof val), want) !=
	    0) {
		if (dz_ms_now() >= end)
			return false;
		usleep(20000);
	}
	return true;
}

/* dazai-heartbeat --cancel; its wait status, its output in out. */
static int
heartbeat_cancel(const char *sock, char *out, size_t len)
{
	const char *const argv[] = { dz_bin("dazai-heartbeat"), "--socket",
		sock, "--cancel", NULL };

	return dz_run(argv, out, len, RUN_TIMEOUT);
}

/*
 * With sessions = 2 a cancel is a second heartbeat beside a live one:
 * neither dazai cancel nor dazai-heartbeat --cancel may claim that no
 * heartbeat is connected while one is; once none is, both say so.
 */
START_TEST(real_cancel_beside_a_heartbeat)
{
	const char *const args[] = { "--dry-run", "--sessions", "2", "--grace",
		"60", NULL };
	const char *const pa[] = { "panic", NULL };
	char		  out[4096], err[4096];
	struct dz	  d;
	int		  hb, st;

	ck_assert_int_eq(dz_start(&d, args), 0);
	hb = dz_hello(d.sock);
	ck_assert_int_ge(hb, 0);

	ck_assert_int_eq(run_dazai(d.sock, pa, -1, out, sizeof out, err,
			     sizeof err, RUN_TIMEOUT),
	    0);
	ck_assert(wait_state(d.sock, "grace", 10));
	st = heartbeat_cancel(d.sock, out, sizeof out);
	ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 0, "status %d: %s",
	    st, out);
	ck_assert_msg(strstr(out, "CANCELLED") != NULL, "%s", out);
	ck_assert_msg(strstr(out, "no heartbeat is connected") == NULL,
	    "dazai-heartbeat --cancel warned beside a live heartbeat: %s", out);

	ck_assert_int_eq(run_dazai(d.sock, pa, -1, out, sizeof out, err,
			     sizeof err, RUN_TIMEOUT),
	    0);
	ck_assert(wait_state(d.sock, "grace", 10));
	expect_run(d.sock, 0, "cancel");
	ck_assert_msg(strstr(err, "no heartbeat is connected") == NULL,
	    "dazai cancel warned beside a live heartbeat: %s", err);

	/* The live one stands down: now nothing guards, and both say so. */
	ck_assert(dz_send(hb, "QUIT\n"));
	dz_expect(hb, "BYE");
	close(hb);
	ck_assert_int_eq(run_dazai(d.sock, pa, -1, out, sizeof out, err,
			     sizeof err, RUN_TIMEOUT),
	    0);
	ck_assert(wait_state(d.sock, "grace", 10));
	st = heartbeat_cancel(d.sock, out, sizeof out);
	ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 0, "status %d: %s",
	    st, out);
	ck_assert_msg(strstr(out,
			  "WARNING: panic cancelled, and no "
			  "heartbeat is connected") != NULL,
	    "%s", out);
	ck_assert_int_eq(run_dazai(d.sock, pa, -1, out, sizeof out, err,
			     sizeof err, RUN_TIMEOUT),
	    0);
	ck_assert(wait_state(d.sock, "grace", 10));
	expect_run(d.sock, 0, "cancel");
	ck_assert_msg(strstr(err,
			  "WARNING: panic cancelled, and no "
			  "heartbeat is connected") != NULL,
	    "%s", err);
	ck_assert(dz_alive(&d));
	dz_stop(&d);
}
END_TEST

/* Is pid gone (or a zombie of ours, reaped here)? */
static bool
gone(pid_t pid, double timeout)
{
	int st;

	return dz_waitpid(pid, &st, timeout) == 0;
}

/* status, load, get, wipe, register, unregister, arm in one mode. */
static void
commands_in_mode(bool armed)
{
	static const unsigned char bin[] = "bin\0ary\nsecret\xff\r\n";
	const char *const args[] = { armed ? "--arm" : "--dry-run", NULL };
	char		  out[4096], err[4096], val[64], file[128], pidarg[16];
	struct dz	  d;
	pid_t		  kid;

	ck_assert_int_eq(dz_start(&d, args), 0);
	/* status, both forms; the daZai-rs fields first. */
	expect_run(d.sock, 0, "status");
	ck_assert_msg(strncmp(out, "alive         1\narmed         ", 30) == 0,
	    "%s", out);
	ck_assert_str_eq(status_field(d.sock, "armed", val, sizeof val),
	    armed ? "1" : "0");
	expect_run(d.sock, 0, "status", "--json");
	ck_assert_msg(strncmp(out,
			  armed ? "{\"alive\":1,\"armed\":1,"
				  "\"grace\":" :
				  "{\"alive\":1,\"armed\":0,\"grace\":",
			  29) == 0,
	    "%s", out);
	ck_assert_ptr_nonnull(strstr(out, "\"registered\":0,"));
	ck_assert_ptr_nonnull(strstr(out, "\"state\":\"waiting\""));
	/* The confinement in effect (off in a sanitizer build), then the
	 * fields appended since, in order: the warden, its actions, the
	 * secrets held, hibernation (blocked where memfd_secret is in use)
	 * and on_sleep. */
	if (dz_is_asan_build(dz_bin("dazaid")))
		ck_assert_msg(strstr(out, ",\"sandbox\":\"off\",") != NULL,
		    "%s", out);
	else
		ck_assert_msg(strstr(out, ",\"sandbox\":\"seccomp") != NULL,
		    "%s", out);
	ck_assert_msg(strstr(out,
			  ",\"warden\":\"up\",\"actions\":0,"
			  "\"secrets\":1,\"hibernate\":\"") != NULL,
	    "%s", out);
	ck_assert_msg(
	    strstr(out,
		strstr(out, "secretmem") != NULL ?
		    "\"hibernate\":\"blocked\",\"sleep\":\"keep\"}\n" :
		    "\"hibernate\":\"possible\",\"sleep\":\"keep\"}\n") != NULL,
	    "%s", out);
	expect_run(d.sock, 0, "status");
	ck_assert_msg(strstr(out,
			  dz_is_asan_build(dz_bin("dazaid")) ?
			      "\nsandbox       off\n" :
			      "\nsandbox       seccomp") != NULL,
	    "%s", out);

	/* load from a pipe, get it back byte for byte. */
	{
		const char *const la[] = { "load", NULL };
		const char *const ga[] = { "get", NULL };

		ck_assert_int_eq(run_with_input(d.sock, la, bin, sizeof bin - 1,
				     out, sizeof out, err, sizeof err),
		    0);
		ck_assert_int_eq(run_dazai(d.sock, ga, -1, out, sizeof out, err,
				     sizeof err, RUN_TIMEOUT),
		    0);
		ck_assert(memcmp(out, bin, sizeof bin - 1) == 0);
		ck_assert_str_eq(status_field(d.sock, "secret_bytes", val,
				     sizeof val),
		    "17");
		/* An empty secret is refused and the held one kept. */
		ck_assert_int_eq(run_with_input(d.sock, la, "", 0, out,
				     sizeof out, err, sizeof err),
		    1);
		ck_assert_ptr_nonnull(strstr(err, "empty"));
		ck_assert_str_eq(status_field(d.sock, "secret_bytes", val,
				     sizeof val),
		    "17");
	}
	/* load from a file. */
	snprintf(file, sizeof file, "%s/secret", d.dir);
	dz_write_file(file, "from a file", 11);
	expect_run(d.sock, 0, "load", file);
	expect_run(d.sock, 0, "get");
	ck_assert_str_eq(out, "from a file");
	expect_run(d.sock, 1, "load", "/nonexistent/secret");

	/* register and unregister a live process. */
	kid = dz_sleeper();
	snprintf(pidarg, sizeof pidarg, "%d", (int)kid);
	expect_run(d.sock, 0, "register", pidarg);
	ck_assert_str_eq(status_field(d.sock, "registered", val, sizeof val),
	    "1");
	expect_run(d.sock, 0, "unregister", pidarg);
	ck_assert_str_eq(status_field(d.sock, "registered", val, sizeof val),
	    "0");
	kill(kid, SIGKILL);
	ck_assert(gone(kid, 5));
	/* A dead pid is refused by the daemon. */
	expect_run(d.sock, 1, "register", pidarg);
	ck_assert_ptr_nonnull(strstr(err, "refused"));

	/* wipe: the daemon stays up, empty; get is refused. */
	expect_run(d.sock, 0, "wipe");
	ck_assert(dz_alive(&d));
	ck_assert_str_eq(status_field(d.sock, "state", val, sizeof val),
	    "empty");
	expect_run(d.sock, 1, "get");
	ck_assert_msg(strstr(err, "no secret") != NULL, "%s", err);
	ck_assert(out[0] == '\0');

	/* arm, twice. */
	expect_run(d.sock, 0, "arm");
	expect_run(d.sock, 0, "arm");
	if (armed)
		ck_assert_ptr_nonnull(strstr(err, "already armed"));
	ck_assert_str_eq(status_field(d.sock, "armed", val, sizeof val), "1");
	kill(d.pid, SIGTERM);
	ck_assert_int_eq(dz_wait(&d, 10), 0);
	/* No daemon: 4 for every command. */
	expect_run(d.sock, 4, "status");
	expect_run(d.sock, 4, "get");
	expect_run(d.sock, 4, "wipe");
	expect_run(d.sock, 4, "cancel");
	expect_run(d.sock, 4, "exec", "--", "true");
	dz_stop(&d);
}

START_TEST(real_commands_dry_run)
{
	commands_in_mode(false);
}
END_TEST

START_TEST(real_commands_armed)
{
	commands_in_mode(true);
}
END_TEST

/* exec: the secret on a pipe, the command registered, its status. */
static void
exec_in_mode(bool armed)
{
	static const char garbage[] = "\x7f\x01 not a program";
	const char *const args[] = { armed ? "--arm" : "--dry-run", NULL };
	char out[4096], err[4096], got[4096], val[64], cmd[1024], file[128],
	    seen[128];
	struct dz d;

	ck_assert_int_eq(dz_start(&d, args), 0);
	{
		const char *const la[] = { "load", NULL };

		ck_assert_int_eq(run_with_input(d.sock, la, "pass\nphrase", 11,
				     out, sizeof out, err, sizeof err),
		    0);
	}
	snprintf(file, sizeof file, "%s/got", d.dir);
	snprintf(seen, sizeof seen, "%s/seen", d.dir);
	/* Standard input carries the secret, then EOF; CMD's status. */
	snprintf(cmd, sizeof cmd,
	    "cat > %s; %s --socket %s status > %s; "
	    "exit 7",
	    file, dz_bin("dazai"), d.sock, seen);
	expect_run(d.sock, 7, "exec", "--", "/bin/sh", "-c", cmd);
	ck_assert_str_eq(dz_read_file(file, got, sizeof got), "pass\nphrase");
	/* While it ran it was registered; now it is not. */
	ck_assert_msg(strstr(dz_read_file(seen, got, sizeof got),
			  "registered    1\n") != NULL,
	    "%s", got);
	ck_assert_str_eq(status_field(d.sock, "registered", val, sizeof val),
	    "0");
	/* --fd N, and a command found along PATH. */
	snprintf(cmd, sizeof cmd, "cat <&5 > %s", file);
	expect_run(d.sock, 0, "exec", "--fd", "5", "--", "sh", "-c", cmd);
	ck_assert_str_eq(dz_read_file(file, got, sizeof got), "pass\nphrase");
	/* A command that does not exist: 127, nothing registered. */
	expect_run(d.sock, 127, "exec", "--", "/nonexistent/cmd");
	ck_assert_str_eq(status_field(d.sock, "registered", val, sizeof val),
	    "0");
	/* A file that passes the lookup but cannot be executed: the child
	 * reports the failure after REGISTER; 126, nothing registered. */
	snprintf(cmd, sizeof cmd, "%s/garbage", d.dir);
	dz_write_file(cmd, garbage, sizeof garbage - 1);
	ck_assert_int_eq(chmod(cmd, 0755), 0);
	expect_run(d.sock, 126, "exec", "--", cmd);
	ck_assert_str_eq(status_field(d.sock, "registered", val, sizeof val),
	    "0");
	/* A signal ends the command: 128 + its number. */
	expect_run(d.sock, 128 + SIGTERM, "exec", "--", "sh", "-c",
	    "kill -TERM $$");
	/* No secret: refused, the command never runs, nothing registered. */
	expect_run(d.sock, 0, "wipe");
	unlink(file);
	snprintf(cmd, sizeof cmd, "touch %s", file);
	expect_run(d.sock, 1, "exec", "--", "sh", "-c", cmd);
	ck_assert_int_ne(access(file, F_OK), 0);
	ck_assert_str_eq(status_field(d.sock, "registered", val, sizeof val),
	    "0");
	ck_assert(dz_alive(&d));
	kill(d.pid, SIGTERM);
	ck_assert_int_eq(dz_wait(&d, 10), 0);
	dz_stop(&d);
}

START_TEST(real_exec_dry_run)
{
	exec_in_mode(false);
}
END_TEST

START_TEST(real_exec_armed)
{
	exec_in_mode(true);
}
END_TEST

/*
 * panic: an armed panic kills the registered process and then the
 * daemon; dry-run logs WOULD SIGKILL for both and kills nothing.
 */
static void
panic_in_mode(bool armed)
{
	const char *const args[] = { armed ? "--arm" : "--dry-run", NULL };
	char		  out[4096], err[4096], pidarg[16], want[64];
	struct dz	  d;
	pid_t		  kid;

	ck_assert_int_eq(dz_start(&d, args), 0);
	kid = dz_sleeper();
	snprintf(pidarg, sizeof pidarg, "%d", (int)kid);
	expect_run(d.sock, 0, "register", pidarg);
	expect_run(d.sock, 0, "panic");
	ck_assert_int_eq(dz_wait(&d, 10), 0);
	if (armed) {
		ck_assert_msg(WIFSIGNALED(d.status) &&
			WTERMSIG(d.status) == SIGKILL,
		    "status %d", d.status);
		ck_assert_msg(gone(kid, 5), "registered process survived");
	} else {
		ck_assert_msg(WIFEXITED(d.status) && WEXITSTATUS(d.status) == 0,
		    "status %d", d.status);
		snprintf(want, sizeof want, "WOULD SIGKILL pid %d", (int)kid);
		ck_assert_msg(dz_log_has(&d, want), "no '%s' in the log", want);
		ck_assert_msg(!gone(kid, 0.2), "dry-run killed pid %d",
		    (int)kid);
		kill(kid, SIGKILL);
		ck_assert(gone(kid, 5));
	}
	dz_stop(&d);
}

START_TEST(real_panic_dry_run)
{
	panic_in_mode(false);
}
END_TEST

START_TEST(real_panic_armed)
{
	panic_in_mode(true);
}
END_TEST

/* An armed panic kills the command exec runs before the daemon dies. */
START_TEST(real_exec_killed_by_panic)
{
	const char *const args[] = { "--arm", NULL };
	const char *const la[] = { "load", NULL };
	char		  out[4096], err[4096], cmd[256], file[128], buf[64];
	const char	 *argv[9];
	long long	  end;
	struct dz	  d;
	pid_t		  pid;
	int		  st;

	ck_assert_int_eq(dz_start(&d, args), 0);
	ck_assert_int_eq(run_with_input(d.sock, la, "k", 1, out, sizeof out,
			     err, sizeof err),
	    0);
	snprintf(file, sizeof file, "%s/started", d.dir);
	snprintf(cmd, sizeof cmd,
	    "cat > /dev/null; echo up > %s; "
	    "exec sleep 60",
	    file);
	argv[0] = dz_bin("dazai");
	argv[1] = "--socket";
	argv[2] = d.sock;
	argv[3] = "exec";
	argv[4] = "--";
	argv[5] = "/bin/sh";
	argv[6] = "-c";
	argv[7] = cmd;
	argv[8] = NULL;
	pid = dz_spawn(argv, NULL, -1);
	end = dz_ms_now() + 10000;
	while (dz_read_file(file, buf, sizeof buf)[0] == '\0' &&
	    dz_ms_now() < end)
		usleep(10000);
	ck_assert_str_eq(buf, "up\n");
	expect_run(d.sock, 0, "panic");
	ck_assert_int_eq(dz_wait(&d, 10), 0);
	ck_assert(WIFSIGNALED(d.status) && WTERMSIG(d.status) == SIGKILL);
	/* dazai exec returns the command's death by SIGKILL. */
	ck_assert_int_eq(dz_waitpid(pid, &st, 10), 0);
	ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 128 + SIGKILL,
	    "status %d", st);
	dz_stop(&d);
}
END_TEST

/*
 * A command that execve(2) refuses after the lookup passed (a #! naming
 * a missing interpreter, a file the kernel cannot run) fails without
 * spending a read: with max_reads = 1 the secret is still there after.
 */
START_TEST(real_exec_failure_spends_no_read)
{
	static const char garbage[] = "\x7f\x01 not a program";
	static const char script[] = "#!/nonexistent/interpreter\nexit 0\n";
	const char *const args[] = { "--max-reads", "1", NULL };
	const char *const la[] = { "load", NULL };
	char		  out[4096], err[4096], val[64], cmd[128];
	struct dz	  d;

	ck_assert_int_eq(dz_start(&d, args), 0);
	ck_assert_int_eq(run_with_input(d.sock, la, "one read", 8, out,
			     sizeof out, err, sizeof err),
	    0);
	snprintf(cmd, sizeof cmd, "%s/script", d.dir);
	dz_write_file(cmd, script, sizeof script - 1);
	ck_assert_int_eq(chmod(cmd, 0755), 0);
	expect_run(d.sock, 127, "exec", "--", cmd);
	ck_assert_str_eq(status_field(d.sock, "registered", val, sizeof val),
	    "0");
	snprintf(cmd, sizeof cmd, "%s/garbage", d.dir);
	dz_write_file(cmd, garbage, sizeof garbage - 1);
	ck_assert_int_eq(chmod(cmd, 0755), 0);
	expect_run(d.sock, 126, "exec", "--", cmd);
	ck_assert_str_eq(status_field(d.sock, "registered", val, sizeof val),
	    "0");
	/* Neither fetched the secret: its one read is still there. */
	expect_run(d.sock, 0, "get");
	ck_assert_str_eq(out, "one read");
	expect_run(d.sock, 1, "get");
	dz_stop(&d);
}
END_TEST

/*
 * A LOAD over secret_max is refused by the daemon at once and the
 * connection closed under the rest of the bytes: the client shows the
 * daemon's reason, not the broken pipe.
 */
START_TEST(real_load_over_secret_max)
{
	const char *const args[] = { "--empty", "--secret-max", "4096", NULL };
	static char	  big[1 << 20];
	char		  out[4096], err[4096], file[128];
	struct dz	  d;

	ck_assert_int_eq(dz_start(&d, args), 0);
	memset(big, 'x', sizeof big);
	snprintf(file, sizeof file, "%s/big", d.dir);
	dz_write_file(file, big, sizeof big);
	expect_run(d.sock, 1, "load", file);
	ck_assert_msg(strstr(err, "refused: larger than secret_max") != NULL,
	    "%s", err);
	ck_assert_msg(strstr(err, "Broken pipe") == NULL &&
		strstr(err, "reset") == NULL,
	    "%s", err);
	ck_assert(dz_alive(&d));
	dz_stop(&d);
}
END_TEST

/* --empty: state empty, a load fills it, burn after one read. */
START_TEST(real_empty_and_burn)
{
	const char *const args[] = { "--empty", "--max-reads", "1", NULL };
	const char *const la[] = { "load", NULL };
	char		  out[4096], err[4096], val[64];
	struct dz	  d;

	ck_assert_int_eq(dz_start(&d, args), 0);
	ck_assert_str_eq(status_field(d.sock, "state", val, sizeof val),
	    "empty");
	expect_run(d.sock, 1, "get");
	ck_assert_int_eq(run_with_input(d.sock, la, "once", 4, out, sizeof out,
			     err, sizeof err),
	    0);
	expect_run(d.sock, 0, "get");
	ck_assert_str_eq(out, "once");
	expect_run(d.sock, 1, "get");
	ck_assert(out[0] == '\0');
	ck_assert(dz_alive(&d));
	kill(d.pid, SIGTERM);
	ck_assert_int_eq(dz_wait(&d, 10), 0);
	dz_stop(&d);
}
END_TEST

/* ---- hand-overs: --env, --fifo, several at once; named secrets ---- */

/* LOAD len bytes of data under name (NULL: none) through dazai load. */
static void
load_named(const char *sock, const char *name, const void *data, size_t len)
{
	const char *const named[] = { "load", "--name", name, NULL };
	const char *const plain[] = { "load", NULL };
	char		  out[4096], err[4096], want[128];

	ck_assert_int_eq(run_with_input(sock, name != NULL ? named : plain,
			     data, len, out, sizeof out, err, sizeof err),
	    0);
	snprintf(want, sizeof want, "dazai: loaded %zu bytes as \"%s\"\n", len,
	    name != NULL ? name : "default");
	ck_assert_msg(strstr(err, want) != NULL, "no '%s' in: %s", want, err);
}

/* Does this daemon hold named secrets (STATUS secrets=)? */
static bool
daemon_named(const struct dz *d)
{
	return strstr(dz_status(d), " secrets=") != NULL;
}

/* Run a shell command line (the calling shell); it must exit 0. */
static void
run_shell(const char *cmd)
{
	const char *const argv[] = { "/bin/sh", "-c", cmd, NULL };
	char		  out[4096];

	ck_assert_int_eq(dz_run(argv, out, sizeof out, RUN_TIMEOUT), 0);
}

/*
 * exec --env: the secret is in CMD's environment and nowhere else: not
 * in dazai's own (/proc/<dazai>/environ), nor in the calling shell's, nor
 * ours; an existing variable of that name is replaced in CMD only.
 */
START_TEST(real_exec_env)
{
	static const char secret[] = "env\nsecret value";
	const char *const args[] = { "--dry-run", NULL };
	char		  got[4096], cmd[2048], f[4][128];
	struct dz	  d;
	int		  i;

	ck_assert_int_eq(dz_start(&d, args), 0);
	load_named(d.sock, NULL, secret, sizeof secret - 1);
	for (i = 0; i < 4; i++)
		snprintf(f[i], sizeof f[i], "%s/env%d", d.dir, i);
	/* CMD records its variable, its parent's (dazai's) environment and
	 * how many TOKEN= it has; the calling shell what it has after. */
	snprintf(cmd, sizeof cmd,
	    "%s --socket %s exec --env TOKEN -- sh -c "
	    "'printf %%s \"$TOKEN\" > %s; cat /proc/$PPID/environ > %s "
	    "2>/dev/null; tr \"\\0\" \"\\n\" < /proc/$$/environ | "
	    "grep -c ^TOKEN= > %s'; printf %%s \"${TOKEN-unset}\" > %s",
	    dz_bin("dazai"), d.sock, f[0], f[1], f[2], f[3]);
	run_shell(cmd);
	ck_assert_str_eq(dz_read_file(f[0], got, sizeof got), secret);
	ck_assert_str_eq(dz_read_file(f[2], got, sizeof got), "1\n");
	ck_assert_str_eq(dz_read_file(f[3], got, sizeof got), "unset");
	/* dazai is not dumpable while it holds secrets: only root reads its
	 * environment, and it must not hold the variable. */
	dz_read_file(f[1], got, sizeof got);
	if (dz_is_root())
		ck_assert_msg(strstr(got, "PATH=") != NULL,
		    "dazai's "
		    "environment unread: '%s'",
		    got);
	ck_assert_ptr_null(strstr(got, "TOKEN="));
	ck_assert_ptr_null(strstr(got, "secret value"));
	ck_assert_ptr_null(getenv("TOKEN"));
	/* A TOKEN the shell has: CMD's is the secret, the shell's stays. */
	snprintf(cmd, sizeof cmd,
	    "TOKEN=outer; export TOKEN; %s --socket %s "
	    "exec --env TOKEN -- sh -c 'printf %%s \"$TOKEN\" > %s; "
	    "tr \"\\0\" \"\\n\" < /proc/$$/environ | grep -c ^TOKEN= > %s'; "
	    "printf %%s \"$TOKEN\" > %s",
	    dz_bin("dazai"), d.sock, f[0], f[2], f[3]);
	run_shell(cmd);
	ck_assert_str_eq(dz_read_file(f[0], got, sizeof got), secret);
	ck_assert_str_eq(dz_read_file(f[2], got, sizeof got), "1\n");
	ck_assert_str_eq(dz_read_file(f[3], got, sizeof got), "outer");
	ck_assert_str_eq(dz_field(dz_status(&d), "registered"), "0");
	kill(d.pid, SIGTERM);
	ck_assert_int_eq(dz_wait(&d, 10), 0);
	dz_stop(&d);
}
END_TEST

/* exec --env with a secret holding a NUL byte: refused, CMD never runs. */
START_TEST(real_exec_env_nul)
{
	static const char secret[] = "before\0after";
	const char *const args[] = { "--dry-run", NULL };
	char		  out[4096], err[4096], cmd[512], file[128];
	struct dz	  d;

	ck_assert_int_eq(dz_start(&d, args), 0);
	load_named(d.sock, NULL, secret, sizeof secret - 1);
	snprintf(file, sizeof file, "%s/ran", d.dir);
	snprintf(cmd, sizeof cmd, "touch %s", file);
	expect_run(d.sock, 1, "exec", "--env", "TOKEN", "--", "sh", "-c", cmd);
	ck_assert_msg(strstr(err, "NUL byte") != NULL, "%s", err);
	ck_assert_int_ne(access(file, F_OK), 0);
	ck_assert_str_eq(dz_field(dz_status(&d), "registered"), "0");
	/* The same secret on a pipe is fine. */
	expect_run(d.sock, 0, "exec", "--", "sh", "-c", cmd);
	ck_assert_int_eq(access(file, F_OK), 0);
	kill(d.pid, SIGTERM);
	ck_assert_int_eq(dz_wait(&d, 10), 0);
	dz_stop(&d);
}
END_TEST

/* The directory of the FIFO path in file, which must be dazai's. */
static void
fifo_dir(const char *file, char *dir, size_t len)
{
	char got[512], *slash;

	dz_read_file(file, got, sizeof got);
	got[strcspn(got, "\n")] = '\0';
	ck_assert_msg((slash = strrchr(got, '/')) != NULL, "path '%s'", got);
	*slash = '\0';
	ck_assert_msg(strstr(got, "/dazai-exec.") != NULL, "dir '%s'", got);
	snprintf(dir, len, "%s", got);
}

/*
 * exec --fifo: the bytes (a NUL and a newline among them) through a FIFO
 * in a 0700 directory, served once (a second open finds nothing), the
 * directory gone afterwards, however CMD ends.
 */
START_TEST(real_exec_fifo)
{
	static const char secret[] = "fifo\nsecret\0bytes";
	const char *const args[] = { "--dry-run", NULL };
	char out[4096], err[4096], got[4096], cmd[2048], dir[512], f[4][128];
	struct stat st;
	struct dz   d;
	int	    i, fd;
	ssize_t	    n;

	ck_assert_int_eq(dz_start(&d, args), 0);
	load_named(d.sock, NULL, secret, sizeof secret - 1);
	for (i = 0; i < 4; i++)
		snprintf(f[i], sizeof f[i], "%s/fifo%d", d.dir, i);
	snprintf(cmd, sizeof cmd,
	    "echo \"$KEYFILE\" > %s; "
	    "stat -c %%a \"${KEYFILE%%/*}\" > %s; cat \"$KEYFILE\" > %s; "
	    "if cat \"$KEYFILE\" 2>/dev/null; then echo again; fi > %s; "
	    "exit 3",
	    f[0], f[1], f[2], f[3]);
	expect_run(d.sock, 3, "exec", "--fifo", "KEYFILE", "--", "sh", "-c",
	    cmd);
	ck_assert_int_ge(fd = open(f[2], O_RDONLY), 0);
	n = read(fd, got, sizeof got);
	close(fd);
	ck_assert_int_eq(n, (ssize_t)sizeof secret - 1);
	ck_assert(memcmp(got, secret, sizeof secret - 1) == 0);
	ck_assert_str_eq(dz_read_file(f[1], got, sizeof got), "700\n");
	ck_assert_str_eq(dz_read_file(f[3], got, sizeof got), "");
	fifo_dir(f[0], dir, sizeof dir);
	ck_assert_msg(stat(dir, &st) != 0 && errno == ENOENT, "%s is left",
	    dir);
	/* Killed before it opened the FIFO: the directory goes too. */
	snprintf(cmd, sizeof cmd, "echo \"$KEYFILE\" > %s; kill -KILL $$",
	    f[0]);
	expect_run(d.sock, 128 + SIGKILL, "exec", "--fifo=KEYFILE", "--", "sh",
	    "-c", cmd);
	fifo_dir(f[0], dir, sizeof dir);
	ck_assert_msg(stat(dir, &st) != 0 && errno == ENOENT, "%s is left",
	    dir);
	/* Ended without opening it. */
	snprintf(cmd, sizeof cmd, "echo \"$KEYFILE\" > %s", f[0]);
	expect_run(d.sock, 0, "exec", "--fifo", "KEYFILE", "--", "sh", "-c",
	    cmd);
	fifo_dir(f[0], dir, sizeof dir);
	ck_assert_msg(stat(dir, &st) != 0 && errno == ENOENT, "%s is left",
	    dir);
	ck_assert_str_eq(dz_field(dz_status(&d), "registered"), "0");
	kill(d.pid, SIGTERM);
	ck_assert_int_eq(dz_wait(&d, 10), 0);
	dz_stop(&d);
}
END_TEST

/* Wait until path exists and is not empty; false at the timeout. */
static bool
file_wait(const char *path, double timeout)
{
	long long   end = dz_ms_now() + (long long)(timeout * 1000);
	struct stat st;

	while (stat(path, &st) != 0 || st.st_size == 0) {
		if (dz_ms_now() >= end)
			return false;
		usleep(10000);
	}
	return true;
}

/*
 * SIGTERM to dazai exec while CMD runs: passed on to CMD, which ends by
 * it; the FIFO's directory is removed and CMD unregistered all the same.
 */
START_TEST(real_exec_sigterm)
{
	const char *const args[] = { "--dry-run", NULL };
	char		  cmd[512], dir[512], path[128], log[128];
	const char	 *argv[] = { dz_bin("dazai"), "--socket", NULL, "exec",
		      "--fifo", "KEYFILE", "--", "sh", "-c", cmd, NULL };
	struct stat	  st;
	struct dz	  d;
	pid_t		  pid;
	int		  status;

	ck_assert_int_eq(dz_start(&d, args), 0);
	argv[2] = d.sock;
	snprintf(path, sizeof path, "%s/sigterm", d.dir);
	snprintf(log, sizeof log, "%s/sigterm.log", d.dir);
	snprintf(cmd, sizeof cmd, "echo \"$KEYFILE\" > %s; exec sleep 30",
	    path);
	pid = dz_spawn(argv, log, -1);
	ck_assert(file_wait(path, 10));
	ck_assert(dz_status_wait(&d, "registered", "1", 5));
	fifo_dir(path, dir, sizeof dir);
	ck_assert_int_eq(stat(dir, &st), 0);
	ck_assert_int_eq(kill(pid, SIGTERM), 0);
	ck_assert_int_eq(dz_waitpid(pid, &status, 10), 0);
	ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 128 + SIGTERM,
	    "status %d", status);
	ck_assert_msg(stat(dir, &st) != 0 && errno == ENOENT, "%s is left",
	    dir);
	ck_assert_str_eq(dz_field(dz_status(&d), "registered"), "0");
	kill(d.pid, SIGTERM);
	ck_assert_int_eq(dz_wait(&d, 10), 0);
	dz_stop(&d);
}
END_TEST

/*
 * Once exec has handed a secret over three ways (a pipe, the
 * environment, a FIFO) and CMD still runs, no copy of it is left in
 * dazai's memory: each was zeroed after its hand-over.
 */
START_TEST(real_exec_memory_scan)
{
	/* clang-format off */
	const char *const args[] = { "--dry-run", NULL };
	unsigned char	 marker[48];
	char		 cmd[1024], ready[128], go[128], log[128];
	const char	*argv[] = { dz_bin("dazai"), "--socket", NULL, "exec",
			    "--fd", "3", "--env", "TOKEN", "--fifo", "KEYFILE",
			    "--", "sh", "-c", cmd, NULL };
	unsigned long	 at = 0;
	struct dz	 d;
	size_t		 i;
	pid_t		 pid;
	int		 status, hits;
	/* clang-format on */

	if (dz_is_asan_build(dz_bin("dazai"))) {
		dz_skip_na("real_exec_memory_scan: %s is an AddressSanitizer "
			   "build; memory scans run on the normal build",
		    dz_bin("dazai"));
		return;
	}
	if (!dz_is_root()) {
		dz_skip("real_exec_memory_scan: reading another process's "
			"memory needs root");
		return;
	}
	randombytes_buf(marker, sizeof marker);
	for (i = 0; i < sizeof marker; i++) /* no NUL, for --env */
		marker[i] = (unsigned char)('A' + marker[i] % 26);
	ck_assert_int_eq(dz_start(&d, args), 0);
	load_named(d.sock, NULL, marker, sizeof marker);
	argv[2] = d.sock;
	snprintf(ready, sizeof ready, "%s/ready", d.dir);
	snprintf(go, sizeof go, "%s/go", d.dir);
	snprintf(log, sizeof log, "%s/scan.log", d.dir);
	snprintf(cmd, sizeof cmd,
	    "cat <&3 > /dev/null; cat \"$KEYFILE\" > "
	    "/dev/null; echo ok > %s; while [ ! -e %s ]; do sleep 0.05; done",
	    ready, go);
	pid = dz_spawn(argv, log, -1);
	ck_assert(file_wait(ready, 10));
	usleep(200000); /* past the last write and its zeroing */
	hits = scan_marker(pid, marker, sizeof marker, &at);
	ck_assert_msg(hits == 0, "%d copies in dazai exec, one at %#lx", hits,
	    at);
	dz_write_file(go, "", 0);
	ck_assert_int_eq(dz_waitpid(pid, &status, 10), 0);
	ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0,
	    "status %d", status);
	sodium_memzero(marker, sizeof marker);
	kill(d.pid, SIGTERM);
	ck_assert_int_eq(dz_wait(&d, 10), 0);
	dz_stop(&d);
}
END_TEST

/*
 * Three hand-overs in one exec: a pipe at 3, a variable, a FIFO. Of one
 * secret, it is fetched once (one read); of three named ones, each gets
 * its own.
 */
START_TEST(real_exec_three)
{
	static const char *const secrets[] = { "on fd 3", "in TOKEN",
		"through the fifo" };
	static const char *const names[] = { "fd.key", "token", "fifo_1" };
	const char *const	 args[] = { "--dry-run", NULL };
	char out[4096], err[4096], got[4096], cmd[2048], f[3][128], h[3][64];
	struct dz d;
	int	  i;

	ck_assert_int_eq(dz_start(&d, args), 0);
	load_named(d.sock, NULL, "one secret", 10);
	for (i = 0; i < 3; i++)
		snprintf(f[i], sizeof f[i], "%s/three%d", d.dir, i);
	snprintf(cmd, sizeof cmd,
	    "cat <&3 > %s; printf %%s \"$TOKEN\" > %s; "
	    "cat \"$KEYFILE\" > %s",
	    f[0], f[1], f[2]);
	expect_run(d.sock, 0, "exec", "--fd", "3", "--env", "TOKEN", "--fifo",
	    "KEYFILE", "--", "sh", "-c", cmd);
	for (i = 0; i < 3; i++)
		ck_assert_str_eq(dz_read_file(f[i], got, sizeof got),
		    "one secret");
	ck_assert_str_eq(dz_field(dz_status(&d), "reads"), "1");
	if (!daemon_named(&d)) {
		dz_skip("real_exec_three: this dazaid holds no named "
			"secrets (no secrets= in STATUS)");
		kill(d.pid, SIGTERM);
		dz_wait(&d, 10);
		dz_stop(&d);
		return;
	}
	for (i = 0; i < 3; i++)
		load_named(d.sock, names[i], secrets[i], strlen(secrets[i]));
	snprintf(h[0], sizeof h[0], "3=%s", names[0]);
	snprintf(h[1], sizeof h[1], "TOKEN=%s", names[1]);
	snprintf(h[2], sizeof h[2], "KEYFILE=%s", names[2]);
	expect_run(d.sock, 0, "exec", "--fd", h[0], "--env", h[1], "--fifo",
	    h[2], "--", "sh", "-c", cmd);
	for (i = 0; i < 3; i++)
		ck_assert_str_eq(dz_read_file(f[i], got, sizeof got),
		    secrets[i]);
	kill(d.pid, SIGTERM);
	ck_assert_int_eq(dz_wait(&d, 10), 0);
	dz_stop(&d);
}
END_TEST

/*
 * load says what it stored, and warns when an armed daemon has no
 * heartbeat to guard it; a dry-run daemon gets no warning.
 */
START_TEST(real_load_unguarded)
{
	const char *const armed[] = { "--arm", NULL };
	const char *const dry[] = { "--dry-run", NULL };
	const char *const la[] = { "load", NULL };
	char		  out[4096], err[4096];
	struct dz	  d;

	ck_assert_int_eq(dz_start(&d, armed), 0);
	ck_assert_int_eq(run_with_input(d.sock, la, "secret", 6, out,
			     sizeof out, err, sizeof err),
	    0);
	ck_assert_msg(strstr(err, "loaded 6 bytes as \"default\"") != NULL,
	    "%s", err);
	ck_assert_msg(strstr(err, "WARNING") != NULL &&
		strstr(err, "no heartbeat") != NULL,
	    "%s", err);
	kill(d.pid, SIGTERM);
	dz_wait(&d, 10);
	dz_stop(&d);
	ck_assert_int_eq(dz_start(&d, dry), 0);
	ck_assert_int_eq(run_with_input(d.sock, la, "secret", 6, out,
			     sizeof out, err, sizeof err),
	    0);
	ck_assert_msg(strstr(err, "WARNING") == NULL, "%s", err);
	kill(d.pid, SIGTERM);
	ck_assert_int_eq(dz_wait(&d, 10), 0);
	dz_stop(&d);
}
END_TEST

/*
 * Named secrets through the client: load --name round-trips bit for bit,
 * list and list --json show names, sizes, reads and expiry in load order
 * and never a byte, wipe NAME takes one and wipe all.
 */
START_TEST(real_named_list)
{
	static const char key[] = "k\0e\ny";
	static const char json0[] =
	    "{\"secrets\":[{\"index\":0,"
	    "\"name\":\"gh\",\"bytes\":9,\"reads\":1,\"expires\":";
	const char *const args[] = { "--dry-run", "--max-lifetime", "600",
		NULL };
	char		  out[4096], err[4096];
	struct dz	  d;

	ck_assert_int_eq(dz_start(&d, args), 0);
	if (!daemon_named(&d)) {
		dz_skip("real_named_list: this dazaid holds no named secrets "
			"(no secrets= in STATUS)");
		kill(d.pid, SIGTERM);
		dz_wait(&d, 10);
		dz_stop(&d);
		return;
	}
	expect_run(d.sock, 0, "list"); /* the start-up secret */
	ck_assert_msg(strstr(out, "\ndefault ") != NULL, "%s", out);
	expect_run(d.sock, 0, "wipe");
	expect_run(d.sock, 0, "list");
	ck_assert_str_eq(out, "no secret held\n");
	expect_run(d.sock, 0, "list", "--json");
	ck_assert_str_eq(out, "{\"secrets\":[]}\n");
	load_named(d.sock, "gh", "ghp_token", 9);
	load_named(d.sock, "ssh.key", key, sizeof key - 1);
	load_named(d.sock, NULL, "plain", 5);
	/* get NAME: the bytes, NUL and newline included. */
	expect_run(d.sock, 0, "get", "ssh.key");
	ck_assert(memcmp(out, key, sizeof key - 1) == 0);
	expect_run(d.sock, 0, "get", "gh");
	ck_assert_str_eq(out, "ghp_token");
	expect_run(d.sock, 1, "get", "nothing.here");
	expect_run(d.sock, 0, "list");
	ck_assert_msg(strstr(out, "NAME") == out, "%s", out);
	ck_assert_msg(strstr(out, "\ngh ") != NULL &&
		strstr(out, "\nssh.key ") != NULL &&
		strstr(out, "\ndefault ") != NULL,
	    "%s", out);
	ck_assert(strstr(out, "\ngh ") < strstr(out, "\nssh.key ") &&
	    strstr(out, "\nssh.key ") < strstr(out, "\ndefault "));
	ck_assert_ptr_null(strstr(out, "ghp_token"));
	ck_assert_ptr_null(strstr(out, "plain"));
	expect_run(d.sock, 0, "list", "--json");
	ck_assert_msg(strncmp(out, json0, sizeof json0 - 1) == 0, "%s", out);
	ck_assert_msg(strstr(out,
			  ",{\"index\":1,\"name\":\"ssh.key\","
			  "\"bytes\":5,\"reads\":1,\"expires\":") != NULL,
	    "%s", out);
	ck_assert_msg(strstr(out,
			  ",{\"index\":2,\"name\":\"default\","
			  "\"bytes\":5,\"reads\":0,\"expires\":") != NULL,
	    "%s", out);
	ck_assert_msg(strcmp(out + strlen(out) - 4, "}]}\n") == 0, "%s", out);
	ck_assert_ptr_null(strstr(out, "ghp_token"));
	/* wipe NAME: that one; the others stay. */
	expect_run(d.sock, 0, "wipe", "gh");
	expect_run(d.sock, 0, "list");
	ck_assert_ptr_null(strstr(out, "\ngh "));
	ck_assert_ptr_nonnull(strstr(out, "\nssh.key "));
	expect_run(d.sock, 0, "get", "ssh.key");
	ck_assert(memcmp(out, key, sizeof key - 1) == 0);
	/* wipe: every one. */
	expect_run(d.sock, 0, "wipe");
	expect_run(d.sock, 0, "list");
	ck_assert_str_eq(out, "no secret held\n");
	kill(d.pid, SIGTERM);
	ck_assert_int_eq(dz_wait(&d, 10), 0);
	dz_stop(&d);
}
END_TEST

Suite *
client_suite(void)
{
	Suite *s = suite_create("client");
	TCase *tc = tcase_create("parsers");

	tcase_add_test(tc, classify_replies);
	tcase_add_test(tc, parse_secret_header);
	tcase_add_test(tc, parse_status_line);
	tcase_add_test(tc, parse_status_malformed);
	tcase_add_test(tc, parse_session_line);
	tcase_add_test(tc, parse_entry_line);
	tcase_add_test(tc, status_as_json);
	tcase_add_test(tc, printable_and_pid);
	tcase_add_test(tc, secbuf_grows_and_reads);
	suite_add_tcase(s, tc);

	tc = tcase_create("fake");
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, fake_get_and_status);
	tcase_add_test(tc, fake_hostile_replies);
	tcase_add_test(tc, fake_stalls);
	tcase_add_test(tc, fake_deadline);
	tcase_add_test(tc, fake_untrusted);
	tcase_add_test(tc, usage_errors);
	tcase_add_test(tc, get_memory_scan);
	tcase_add_test(tc, secret_buffer_locked);
	suite_add_tcase(s, tc);

	tc = tcase_create("tty");
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, tty_prompt_load);
	tcase_add_test(tc, tty_prompt_interrupted);
	tcase_add_test(tc, tty_prompt_paste);
	tcase_add_test(tc, tty_get_refused);
	suite_add_tcase(s, tc);

	tc = tcase_create("daemon");
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, real_cancel);
	tcase_add_test(tc, real_cancel_beside_a_heartbeat);
	tcase_add_test(tc, real_commands_dry_run);
	tcase_add_test(tc, real_commands_armed);
	tcase_add_test(tc, real_exec_dry_run);
	tcase_add_test(tc, real_exec_armed);
	tcase_add_test(tc, real_exec_killed_by_panic);
	tcase_add_test(tc, real_panic_dry_run);
	tcase_add_test(tc, real_panic_armed);
	tcase_add_test(tc, real_empty_and_burn);
	tcase_add_test(tc, real_exec_failure_spends_no_read);
	tcase_add_test(tc, real_load_over_secret_max);
	tcase_add_test(tc, real_exec_env);
	tcase_add_test(tc, real_exec_env_nul);
	tcase_add_test(tc, real_exec_fifo);
	tcase_add_test(tc, real_exec_sigterm);
	tcase_add_test(tc, real_exec_memory_scan);
	tcase_add_test(tc, real_exec_three);
	tcase_add_test(tc, real_load_unguarded);
	tcase_add_test(tc, real_named_list);
	suite_add_tcase(s, tc);
	return s;
}
