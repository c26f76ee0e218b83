/* SPDX-License-Identifier: ISC */
/*
 * dazai mcp's command tools: the [tool NAME] sections of dazai.conf, read
 * with inih, and one call of such a tool: the command started under
 * /bin/sh -c and registered with the daemon, the secret fetched only
 * once it runs (for env:VAR just before) and handed over as dazai exec
 * does (on its standard input, in its environment, or through a FIFO
 * served once), its standard output captured (64 KiB at most) and every
 * occurrence of the secret in it redacted. The secret and the raw output
 * share one sodium_malloc buffer, zeroed when the call ends; nothing of
 * either reaches stdio, a log line or any other heap block.
 */
#include <sys/stat.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <ini.h>

#include "dazai/client.h"
#include "dazai/handover.h"
#include "dazai/mcp.h"
#include "dazai/proto.h"
#include "dazai/mcptool.h"
#include "dazai/secbuf.h"

#define MCP_TIMEOUT_DEFAULT 30.0 /* seconds a command may run */
#define MCP_TIMEOUT_MAX	    86400.0
#define MCP_CALLS_MAX	    1000000000LL
#define MCP_SCRATCH \
	4096 /* where output past the cap is read
					 * and dropped, inside the buffer */
#define MCP_FIFO_MS \
	10 /* how often a FIFO is tried for a
					 * reader, or a command whose output
					 * ended looked at for its end */

/* inih's state while it reads the file. */
struct mcptool_parse {
	struct mcptool_set *set;
	FILE		   *fp;
	int		    line;
	bool		    failed; /* the reader stopped on line */
	struct mcp_cmdtool *cur;    /* the [tool NAME] being read */
	char		    err[MCP_ERRLEN];
};

/* Free what a set holds. */
void
mcptool_free(struct mcptool_set *set)
{
	size_t i;

	for (i = 0; i < set->n; i++) {
		free(set->t[i].description);
		free(set->t[i].command);
	}
	set->n = 0;
}

/* A new [tool NAME] section: checked, then added. Returns 0 or -1. */
static int
mcptool_section(struct mcptool_parse *p, const char *section)
{
	const char *name;
	size_t	    i;

	p->cur = NULL;
	if (strncmp(section, "tool ", 5) != 0)
		return 0; /* not ours */
	for (name = section + 5; *name == ' '; name++)
		;
	if (!mcp_tool_name_ok(name)) {
		snprintf(p->err, sizeof p->err,
		    "[%.150s]: a tool name is 1 to "
		    "%d letters, digits, '_', '.' or '-'",
		    section, MCP_NAME_MAX);
		return -1;
	}
	if (strncmp(name, "dazai_", 6) == 0) {
		snprintf(p->err, sizeof p->err,
		    "[%.150s]: names starting "
		    "with dazai_ are dazai's own tools",
		    section);
		return -1;
	}
	for (i = 0; i < p->set->n; i++)
		if (strcmp(p->set->t[i].name, name) == 0) {
			snprintf(p->err, sizeof p->err,
			    "[%.150s]: a second "
			    "tool of that name",
			    section);
			return -1;
		}
	if (p->set->n == MCP_CMDTOOLS_MAX) {
		snprintf(p->err, sizeof p->err, "more than %d tools",
		    MCP_CMDTOOLS_MAX);
		return -1;
	}
	p->cur = &p->set->t[p->set->n++];
	memset(p->cur, 0, sizeof *p->cur);
	snprintf(p->cur->name, sizeof p->cur->name, "%.128s", name);
	p->cur->timeout = MCP_TIMEOUT_DEFAULT;
	return 0;
}

/* Seconds, fractions allowed, above 0 and at most max. */
static int
mcptool_seconds(const char *v, double max, double *out)
{
	char  *end;
	double d;

	errno = 0;
	d = strtod(v, &end);
	if (errno != 0 || end == v || *end != '\0' || !isfinite(d) || d <= 0 ||
	    d > max)
		return -1;
	*out = d;
	return 0;
}

/* A count from 1 to max, in decimal. */
static int
mcptool_count(const char *v, long long max, long long *out)
{
	char	 *end;
	long long n;

	if (*v < '0' || *v > '9')
		return -1;
	errno = 0;
	n = strtoll(v, &end, 10);
	if (errno != 0 || *end != '\0' || n < 1 || n > max)
		return -1;
	*out = n;
	return 0;
}

/* One key of a [tool NAME] section. Returns 0 or -1 with p->err. */
static int
mcptool_key(struct mcptool_parse *p, const char *key, const char *value)
{
	struct mcp_cmdtool *t = p->cur;
	const char	   *var;
	char		  **dst = NULL;

	if (strcmp(key, "description") == 0)
		dst = &t->description;
	else if (strcmp(key, "command") == 0)
		dst = &t->command;
	if (dst != NULL) {
		free(*dst);
		if ((*dst = strdup(value)) == NULL) {
			snprintf(p->err, sizeof p->err, "out of memory");
			return -1;
		}
		return 0;
	}
	if (strcmp(key, "secret") == 0) {
		if (proto_name_valid(value, strlen(value))) {
			snprintf(t->secret, sizeof t->secret, "%s", value);
			return 0;
		}
		snprintf(p->err, sizeof p->err,
		    "secret = %.100s: not a "
		    "secret's name (a letter or digit, then up to 63 of "
		    "letters, digits, '.', '_' and '-')",
		    value);
		return -1;
	}
	if (strcmp(key, "secret_to") == 0) {
		t->var[0] = '\0';
		if (strcmp(value, "stdin") == 0) {
			t->to = MCP_TO_STDIN;
			return 0;
		}
		t->to = MCP_TO_STDIN;
		var = value;
		if (strncmp(value, "env:", 4) == 0) {
			t->to = MCP_TO_ENV;
			var += 4;
		} else if (strncmp(value, "fifo:", 5) == 0) {
			t->to = MCP_TO_FIFO;
			var += 5;
		}
		if (t->to != MCP_TO_STDIN &&
		    handover_var_ok(var, strlen(var))) {
			snprintf(t->var, sizeof t->var, "%s", var);
			return 0;
		}
		snprintf(p->err, sizeof p->err,
		    "secret_to = %.100s: stdin, "
		    "env:VAR or fifo:VAR (a variable's name)",
		    value);
		return -1;
	}
	if (strcmp(key, "max_calls") == 0) {
		if (mcptool_count(value, MCP_CALLS_MAX, &t->max_calls) == 0)
			return 0;
		snprintf(p->err, sizeof p->err,
		    "max_calls = %.100s: a count "
		    "from 1 to %lld",
		    value, MCP_CALLS_MAX);
		return -1;
	}
	if (strcmp(key, "timeout") == 0) {
		if (mcptool_seconds(value, MCP_TIMEOUT_MAX, &t->timeout) == 0)
			return 0;
		snprintf(p->err, sizeof p->err,
		    "timeout = %.100s: seconds, "
		    "above 0 and at most %.0f",
		    value, MCP_TIMEOUT_MAX);
		return -1;
	}
	snprintf(p->err, sizeof p->err,
	    "unknown key '%.100s' in a [tool] "
	    "section",
	    key);
	return -1;
}

/*
 * inih's reader: a line at a time, counted; a section header starts its
 * section here, so that a section is seen even when it is empty or has
 * the name of the one before.
 */
static char *
mcptool_reader(char *str, int num, void *arg)
{
	struct mcptool_parse *p = arg;
	char		      name[MCP_NAME_MAX + 16];
	char		     *s, *end;

	if (p->failed || fgets(str, num, p->fp) == NULL)
		return NULL;
	p->line++;
	for (s = str; *s == ' ' || *s == '\t'; s++)
		;
	/*
	 * inih would take an indented line for the continuation of the
	 * previous value and hand it over as that key again: here, as in
	 * dazaid's keys, a line is a line.
	 */
	if (s != str && *s != '\0' && *s != '\n' && *s != '\r' && *s != '#' &&
	    *s != ';') {
		if (p->cur != NULL && strpbrk(s, "=:") == NULL) {
			snprintf(p->err, sizeof p->err,
			    "indented line "
			    "without '=': values cannot continue on the next "
			    "line");
			p->failed = true;
			return NULL;
		}
		memmove(str, s, strlen(s) + 1);
		s = str;
	}
	if (*s != '[')
		return str;
	if ((end = strchr(s, ']')) == NULL ||
	    (size_t)(end - s - 1) >= sizeof name) {
		snprintf(p->err, sizeof p->err,
		    "a section header without "
		    "its ']'");
		p->failed = true;
		return NULL;
	}
	memcpy(name, s + 1, (size_t)(end - s - 1));
	name[end - s - 1] = '\0';
	if (mcptool_section(p, name) != 0) {
		p->failed = true;
		return NULL;
	}
	return str;
}

/* inih's handler: keys outside [tool NAME] sections are dazaid's. */
static int
mcptool_handler(void *arg, const char *section, const char *key,
    const char *value)
{
	struct mcptool_parse *p = arg;

	(void)section;
	if (p->cur == NULL)
		return 1;
	return mcptool_key(p, key, value) == 0;
}

/*
 * Read the [tool NAME] sections of path into set. A missing file that
 * was not asked for by name is no tools. Returns 0, or -1 with
 * "path:line: reason" in err.
 */
int
mcptool_load(struct mcptool_set *set, const char *path, bool named, char *err,
    size_t errlen)
{
	struct mcptool_parse p;
	struct stat	     st;
	size_t		     i;
	int		     line, fd;
	bool		     loose;

	memset(set, 0, sizeof *set);
	memset(&p, 0, sizeof p);
	p.set = set;
	if (strcmp(path, "/dev/null") == 0)
		return 0;
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0) {
		if (errno == ENOENT && !named)
			return 0;
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return -1;
	}
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
		snprintf(err, errlen, "%s: not a regular file", path);
		close(fd);
		return -1;
	}
	/* Its commands get the secret: only we (or root) may write them. */
	loose = (st.st_mode & (S_IWGRP | S_IWOTH)) != 0 ||
	    (st.st_uid != getuid() && st.st_uid != 0);
	if ((p.fp = fdopen(fd, "r")) == NULL) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		close(fd);
		return -1;
	}
	line = ini_parse_stream(mcptool_reader, &p, mcptool_handler, &p);
	fclose(p.fp);
	if (line == 0 && !p.failed && set->n > 0 && loose) {
		snprintf(err, errlen,
		    "%s: not trusting its [tool] sections: "
		    "the file is owned by uid %u or writable by group or "
		    "others, and its commands get the secret (chown, chmod "
		    "go-w)",
		    path, (unsigned)st.st_uid);
		mcptool_free(set);
		return -1;
	}
	if (p.failed)
		line = p.line;
	if (line != 0) {
		snprintf(err, errlen, "%s:%d: %s", path, line,
		    p.err[0] != '\0' ? p.err : "not a key = value line");
		mcptool_free(set);
		return -1;
	}
	for (i = 0; i < set->n; i++)
		if (set->t[i].command == NULL || set->t[i].command[0] == '\0') {
			snprintf(err, errlen, "%s: [tool %s]: no command", path,
			    set->t[i].name);
			mcptool_free(set);
			return -1;
		}
	return 0;
}

/* Milliseconds on the monotonic clock. */
static long long
mcptool_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Say why a run failed. */
static void
mcptool_fail(struct mcp_run *r, const char *what, const char *why)
{
	int n;

	r->failed = true;
	n = snprintf(r->err, sizeof r->err, "%s", what);
	if (why[0] != '\0' && n >= 0 && (size_t)n < sizeof r->err)
		snprintf(r->err + n, sizeof r->err - (size_t)n, ": %s", why);
}

/* One request that must be answered OK, on a connection of its own. */
static int
mcptool_verb(const char *path, bool is_default, const char *line)
{
	struct client c;
	char	      reply[CLIENT_REPLY_MAX + 1], err[CLIENT_ERRLEN];
	int	      rc;

	if (client_open(&c, path, is_default, err, sizeof err) != 0)
		return -1;
	rc = client_request(&c, line, reply, sizeof reply, err, sizeof err);
	client_close(&c);
	return rc == 0 && strcmp(reply, "OK") == 0 ? 0 : -1;
}

/*
 * In the child: wait for the go byte, take the secret's pipe as standard
 * input (for env:VAR and fifo:VAR standard input is nothing) and the
 * capture pipe as standard output (standard error goes nowhere: it is
 * not redacted), and run the command. Never returns.
 */
/* clang-format off */
static void __attribute__((noreturn))
mcptool_child(int go, int errfd, int in, int out, const struct mcp_cmdtool *t,
    const char *fifo)
/* clang-format on */
{
	struct secbuf b = { NULL, 0, 0 };
	char	      c, *entry;
	int	      e, null;

	/* A group of its own, for the parent to kill whole (it does so
	 * too: whichever comes first). */
	(void)setpgid(0, 0);
	if (read(go, &c, 1) != 1)
		_exit(126);
	/* env:VAR: the secret, read from its pipe (its length first) into
	 * a locked buffer of our own, goes into the environment that
	 * execve(2) copies. fifo:VAR: the FIFO's path, never the secret. */
	if (t->to == MCP_TO_ENV) {
		if ((entry = handover_env_entry(in, t->var, MCP_ENV_MAX, &b)) ==
			NULL ||
		    putenv(entry) != 0)
			goto fail;
	} else if (t->to == MCP_TO_FIFO && setenv(t->var, fifo, 1) != 0)
		goto fail;
	if (t->to != MCP_TO_STDIN && (in = open("/dev/null", O_RDONLY)) < 0)
		goto fail;
	if ((null = open("/dev/null", O_WRONLY)) < 0 ||
	    dup2(in, STDIN_FILENO) < 0 || dup2(out, STDOUT_FILENO) < 0 ||
	    dup2(null, STDERR_FILENO) < 0)
		goto fail;
	signal(SIGPIPE, SIG_DFL);
	signal(SIGINT, SIG_DFL);
	signal(SIGQUIT, SIG_DFL);
	execl("/bin/sh", "sh", "-c", t->command, (char *)NULL);
fail:
	e = errno;
	if (write(errfd, &e, sizeof e) < 0) {
		/* the exit status says it too */
	}
	_exit(127);
}

/*
 * Kill the child and its process group (what it started goes with it),
 * unregister it (if it was) while a zombie, reap it.
 */
static int
mcptool_reap(const char *path, bool is_default, pid_t pid, bool kill_it,
    bool registered)
{
	char	  line[64];
	siginfo_t si;
	int	  st = 0;

	if (kill_it && kill(-pid, SIGKILL) != 0)
		kill(pid, SIGKILL);
	while (waitid(P_PID, (id_t)pid, &si, WEXITED | WNOWAIT) != 0 &&
	    errno == EINTR)
		;
	if (registered) {
		snprintf(line, sizeof line, "UNREGISTER pid=%d", (int)pid);
		(void)mcptool_verb(path, is_default, line);
	}
	while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
		;
	return st;
}

/*
 * GET the secret into b, with room after it for the output and the
 * scratch space, so that both live in the one buffer. Returns 0, or -1
 * with why.
 */
static int
mcptool_fetch(struct client *c, const char *name, struct secbuf *b, char *why,
    size_t len)
{
	char   reply[CLIENT_REPLY_MAX + 1], req[80];
	size_t n;

	snprintf(req, sizeof req, "GET%s%s", *name != '\0' ? " " : "", name);
	if (client_request(c, req, reply, sizeof reply, why, len) != 0)
		return -1;
	if (client_parse_secret(reply, &n, why, len) != 0)
		return -1;
	if (secbuf_reserve(b, n + MCP_OUTPUT_MAX + MCP_SCRATCH) != 0) {
		snprintf(why, len, "%s", secbuf_error());
		return -1;
	}
	return client_read_secret(c, b, n, why, len);
}

/* Has process pid ended (it is left a zombie, to be reaped)? */
static bool
mcptool_ended(pid_t pid)
{
	siginfo_t si;

	memset(&si, 0, sizeof si);
	return waitid(P_PID, (id_t)pid, &si, WEXITED | WNOHANG | WNOWAIT) ==
	    0 &&
	    si.si_pid == pid;
}

/* Close *fd if it is open; it is -1 then. */
static void
mcptool_closefd(int *fd)
{
	if (*fd >= 0)
		close(*fd);
	*fd = -1;
}

/*
 * The command's side of a call, until both its output and the command
 * have ended, or the deadline. Its standard output is captured after the
 * secret in b (up to MCP_OUTPUT_MAX bytes; more is read into the scratch
 * space and dropped). A stdin tool's secret is written to *in (the pipe
 * to its standard input, non-blocking) as the pipe takes it, and the
 * pipe closed once the secret is in, the command closed its end or it
 * ended. The FIFO f (if any) is served the secret meanwhile: after the
 * output's end too, while the command still runs and has not opened it.
 * Returns the bytes kept.
 */
static size_t
mcptool_capture(int fd, int *in, struct secbuf *b, struct handover_fifo *f,
    pid_t pid, long long deadline, struct mcp_run *r, void (*tick)(void *),
    void *arg)
{
	struct pollfd  pfd[2] = { { fd, POLLIN, 0 }, { *in, POLLOUT, 0 } };
	unsigned char *base = b->p + b->len, *scratch = base + MCP_OUTPUT_MAX;
	size_t	       got = 0, off = 0;
	long long      left;
	ssize_t	       n;
	int	       rc, wait;
	bool	       ended = false;

	for (;;) {
		if (f != NULL && !f->done)
			(void)handover_fifo_serve(f, b);
		if (!ended)
			ended = mcptool_ended(pid);
		if (*in >= 0 && (off == b->len || ended))
			mcptool_closefd(in);
		pfd[1].fd = *in;
		if (pfd[0].fd < 0 && ended)
			return got;
		if ((left = deadline - mcptool_now()) <= 0) {
			r->timed_out = true;
			return got;
		}
		/* At least once a second, so that the caller can keep a
		 * heartbeat going while a command runs long; a FIFO not yet
		 * served, or the end of a command whose output ended (no
		 * descriptor tells of it), is looked for more often. */
		wait = left > 1000 ? 1000 : (int)left;
		if (((f != NULL && !f->done) || pfd[0].fd < 0) &&
		    wait > MCP_FIFO_MS)
			wait = MCP_FIFO_MS;
		rc = poll(pfd, 2, wait);
		if (tick != NULL)
			tick(arg);
		if (rc < 0 && errno != EINTR)
			return got;
		if (rc <= 0)
			continue;
		if (pfd[1].fd >= 0 && pfd[1].revents != 0) {
			n = write(*in, b->p + off, b->len - off);
			if (n > 0)
				off += (size_t)n;
			else if (errno != EINTR && errno != EAGAIN)
				mcptool_closefd(in); /* EPIPE: it will
							 * not read it */
		}
		if (pfd[0].fd < 0 || pfd[0].revents == 0)
			continue;
		if (got < MCP_OUTPUT_MAX)
			n = read(fd, base + got, MCP_OUTPUT_MAX - got);
		else
			n = read(fd, scratch, MCP_SCRATCH);
		if (n < 0 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (n <= 0)
			pfd[0].fd = -1; /* its end: poll ignores it now */
		else if (got < MCP_OUTPUT_MAX)
			got += (size_t)n;
		else
			r->truncated = true;
	}
}

/* The kept output, redacted, into r (a plain allocation: no secret). */
static void
mcptool_redact(const struct secbuf *b, size_t got, struct mcp_run *r)
{
	const unsigned char *out = b->p + b->len;
	size_t		     need;

	need = mcp_redact(out, got, b->p, b->len, r->truncated, NULL, 0);
	if ((r->output = malloc(need + 1)) == NULL) {
		mcptool_fail(r, "the output", strerror(ENOMEM));
		return;
	}
	r->outlen =
	    mcp_redact(out, got, b->p, b->len, r->truncated, r->output, need);
	r->output[r->outlen] = '\0';
}

/* The FIFO (if it is still there) and its directory (if any) removed. */
static void
mcptool_fifo_end(struct handover_fifo *f, char *dir)
{
	handover_fifo_finish(f);
	(void)handover_dir_remove(dir);
}

/*
 * One call of tool t against the daemon at path, in the order dazai exec
 * keeps: the command is forked and registered before the secret exists
 * here, and the secret is fetched only once execve(2) succeeded (for
 * env:VAR, just before). The secret goes into its environment before
 * it starts, or to its standard input or a FIFO as it reads, while its
 * output is read, until both the output and the command have ended or
 * the tool's timeout (then its process group is killed); it is
 * unregistered and reaped; the FIFO and its directory are removed.
 * The timeout bounds all that the command does. After the last of
 * max_calls the daemon's secret is wiped. tick(arg), if given, is called
 * at least once a second while the command runs.
 */
void
mcptool_run(const char *path, bool is_default, struct mcp_cmdtool *t,
    struct mcp_run *r, void (*tick)(void *), void *arg)
{
	struct secbuf b = { NULL, 0, 0 };
	struct client c;
	char	      why[CLIENT_ERRLEN], line[64], wipe[80],
	    reply[CLIENT_REPLY_MAX + 1];
	struct handover_fifo fifo = { .fd = -1 };
	char		     dir[PATH_MAX] = "";
	int go[2] = { -1, -1 }, ep[2] = { -1, -1 }, in[2] = { -1, -1 },
	    out[2] = { -1, -1 }, e, st;
	long long deadline;
	size_t	  got;
	ssize_t	  n;
	pid_t	  pid;

	if (t->max_calls > 0 && t->calls >= t->max_calls) {
		mcptool_fail(r,
		    "this tool's calls are spent (max_calls); its "
		    "secret was wiped",
		    "");
		return;
	}
	if (client_open(&c, path, is_default, why, sizeof why) != 0) {
		mcptool_fail(r, why, "");
		return;
	}
	/* fifo:VAR: a FIFO in a private directory, its path in VAR. */
	if (t->to == MCP_TO_FIFO &&
	    (handover_dir_make(dir, sizeof dir, "dazai-mcp") != 0 ||
		handover_fifo_make(&fifo, dir, t->var) != 0)) {
		mcptool_fail(r, "fifo: a FIFO in a private directory",
		    strerror(errno));
		client_close(&c);
		mcptool_fifo_end(&fifo, dir);
		return;
	}
	if (pipe2(go, O_CLOEXEC) != 0 || pipe2(ep, O_CLOEXEC) != 0 ||
	    pipe2(in, O_CLOEXEC) != 0 || pipe2(out, O_CLOEXEC) != 0) {
		mcptool_fail(r, "pipe", strerror(errno));
		goto unstarted;
	}
	/* On standard input the secret goes as the command takes it, in
	 * the loop that reads its output, so that neither waits on the
	 * other and the timeout holds. */
	if (t->to == MCP_TO_STDIN && fcntl(in[1], F_SETFL, O_NONBLOCK) != 0) {
		mcptool_fail(r, "pipe", strerror(errno));
		goto unstarted;
	}
	/* Fork before the secret exists, so no copy of it is forked. */
	if ((pid = fork()) < 0) {
		mcptool_fail(r, "fork", strerror(errno));
		goto unstarted;
	}
	if (pid == 0) {
		client_close(&c);
		/* Ours are the parent's: env:VAR reads in[0]. */
		close(go[1]);
		close(ep[0]);
		close(in[1]);
		close(out[0]);
		mcptool_child(go[0], ep[1], in[0], out[1], t, fifo.path);
	}
	(void)setpgid(pid, pid); /* as the child does: mcptool_reap */
	mcptool_closefd(&go[0]);
	mcptool_closefd(&ep[1]);
	mcptool_closefd(&in[0]);
	mcptool_closefd(&out[1]);
	snprintf(line, sizeof line, "REGISTER pid=%d", (int)pid);
	if (client_request(&c, line, reply, sizeof reply, why, sizeof why) !=
	    0) {
		mcptool_fail(r, "register", why);
		goto abandon;
	}
	if (strcmp(reply, "OK") != 0) {
		client_printable(reply, why, sizeof why);
		mcptool_fail(r, "register: refused", why);
		goto abandon;
	}
	/*
	 * Registered: let it start; EOF on the error pipe means it runs. On
	 * standard input and through a FIFO the secret is fetched only
	 * then; for env:VAR it must be in the environment execve(2) is
	 * given, so it is fetched first and the child reads it before it
	 * starts.
	 */
	if (write(go[1], "", 1) != 1) {
		mcptool_fail(r, "starting the command", strerror(errno));
		goto abandon_registered;
	}
	if (t->to != MCP_TO_ENV) {
		while ((n = read(ep[0], &e, sizeof e)) < 0 && errno == EINTR)
			;
		if (n == (ssize_t)sizeof e) {
			mcptool_fail(r, "/bin/sh", strerror(e));
			goto abandon_registered;
		}
	}
	if (mcptool_fetch(&c, t->secret, &b, why, sizeof why) != 0) {
		mcptool_fail(r, "get", why);
		goto abandon_registered;
	}
	client_close(&c);
	t->calls++;
	/* A pipe as big as the secret takes it at once. */
	if (b.len > 4096 && t->to != MCP_TO_FIFO)
		(void)fcntl(in[1], F_SETPIPE_SZ,
		    (int)(b.len > INT_MAX ? INT_MAX : b.len));
	deadline = mcptool_now() + (long long)(t->timeout * 1000);
	if (t->to == MCP_TO_ENV)
		(void)handover_env_send(in[1], &b);
	if (t->to != MCP_TO_STDIN)
		mcptool_closefd(&in[1]);
	if (t->to == MCP_TO_ENV) {
		while ((n = read(ep[0], &e, sizeof e)) < 0 && errno == EINTR)
			;
		if (n == (ssize_t)sizeof e) {
			mcptool_fail(r,
			    e == EINVAL ?
				"env: the secret cannot "
				"be an environment variable (a NUL byte, or "
				"too long)" :
				"/bin/sh",
			    strerror(e));
			st = mcptool_reap(path, is_default, pid, true, true);
			mcptool_redact(&b, 0, r);
			secbuf_free(&b);
			goto burn;
		}
	}
	got = mcptool_capture(out[0], &in[1], &b,
	    t->to == MCP_TO_FIFO ? &fifo : NULL, pid, deadline, r, tick, arg);
	/* Timed out, or the loop gave up on poll(2): never wait on it. */
	st = mcptool_reap(path, is_default, pid,
	    r->timed_out || !mcptool_ended(pid), true);
	mcptool_redact(&b, got, r);
	secbuf_free(&b);
	if (WIFEXITED(st) && !r->timed_out)
		r->status = WEXITSTATUS(st);
	else if (WIFSIGNALED(st))
		r->signal = WTERMSIG(st);
	goto burn;

abandon_registered:
	client_close(&c);
	secbuf_free(&b);
	(void)mcptool_reap(path, is_default, pid, true, true);
	goto close_pipes;
abandon:
	client_close(&c);
	(void)mcptool_reap(path, is_default, pid, true, false);
	goto close_pipes;
unstarted:
	/* No command, no secret yet: what was opened for it goes. */
	client_close(&c);
	secbuf_free(&b);
	mcptool_closefd(&go[0]);
	mcptool_closefd(&ep[1]);
	mcptool_closefd(&in[0]);
	mcptool_closefd(&out[1]);
close_pipes:
	mcptool_closefd(&go[1]);
	mcptool_closefd(&ep[0]);
	mcptool_closefd(&in[1]);
	mcptool_closefd(&out[0]);
	mcptool_fifo_end(&fifo, dir);
	return;
burn:
	mcptool_closefd(&go[1]);
	mcptool_closefd(&ep[0]);
	mcptool_closefd(&in[1]);
	mcptool_closefd(&out[0]);
	mcptool_fifo_end(&fifo, dir);
	/* Burn after N: that secret only, the others stay. */
	if (t->max_calls > 0 && t->calls >= t->max_calls) {
		snprintf(wipe, sizeof wipe, "WIPE%s%s",
		    *t->secret != '\0' ? " " : "", t->secret);
		r->burnt = mcptool_verb(path, is_default, wipe) == 0;
	}
}
