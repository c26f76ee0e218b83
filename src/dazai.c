/* SPDX-License-Identifier: ISC */
/*
 * dazai: the command-line client. Each command is one short exchange
 * with dazaid; the secret, where a command handles one, stays in
 * sodium_malloc memory between read(2) and write(2).
 */
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "dazai/client.h"
#include "dazai/config.h"
#include "dazai/log.h"
#include "dazai/mcp.h"
#include "dazai/secbuf.h"
#include "dazai/sockpath.h"

#ifndef DAZAI_VERSION
#define DAZAI_VERSION	"0.1.0"
#endif

#define EXIT_REFUSED	1
#define EXIT_USAGE	2
#define EXIT_NODAEMON	4
#define EXIT_NOEXEC	126
#define EXIT_NOTFOUND	127
#define STATUS_OUT_MAX	8192

static const char usage_text[] =
"usage: dazai [--socket PATH] COMMAND [ARGS]\n"
"\n"
"Talk to dazaid, the dead-man's-switch secret holder.\n"
"\n"
"  status [--json]            the daemon's state, for a person or as JSON\n"
"  load [FILE]                send a secret: FILE, standard input, or typed\n"
"                             at the terminal with echo off\n"
"  get [--tty]                write the secret to standard output (a\n"
"                             terminal only with --tty)\n"
"  exec [--fd N] -- CMD ARGS  run CMD with the secret on a pipe at\n"
"                             descriptor N (0), registered with the daemon\n"
"  register PID               an armed panic SIGKILLs PID first\n"
"  unregister PID             forget PID\n"
"  arm                        make the final SIGKILL real (no way back)\n"
"  wipe                       wipe the secret; the daemon stays up, empty\n"
"  panic                      a graceful panic, as SIGUSR1\n"
"  cancel                     abort a pending panic\n"
"  mcp [--config P] [--guard] an MCP server for an AI agent (stdio)\n"
"\n"
"  --socket PATH  daemon socket (default $DAZAI_SOCKET, else\n"
"                 $XDG_RUNTIME_DIR/dazai/dazai.sock)\n"
"  each request, connect included, must end within $DAZAI_TIMEOUT\n"
"  seconds (10)\n"
"  --version      print the version and exit\n"
"  --help         print this help and exit\n"
"\n"
"Exit status: 0 done; 1 refused, failed or too slow; 2 usage; 4 no\n"
"daemon. exec exits with CMD's status (127 not found, 126 not\n"
"executable).\n";

/* Where the daemon is. */
struct ctx {
	const char	*path;
	bool		 is_default;
};

/* One command: its name and what runs it. */
struct command {
	const char	*name;
	int		(*run)(const struct ctx *, int, char **);
};

/*
 * While this process holds secret bytes nobody of our uid may ptrace it
 * or read /proc/PID/mem, and a crash leaves no core (a non-dumpable
 * process dumps none).
 */
static void
harden(void)
{
	if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) != 0)
		log_warn("prctl(PR_SET_DUMPABLE)");
}

/* Connect; 0, or the exit status after saying why not. */
static int
connect_or_status(const struct ctx *x, struct client *c)
{
	char	 err[CLIENT_ERRLEN];
	int	 saved;

	if (client_open(c, x->path, x->is_default, err, sizeof err) == 0)
		return 0;
	saved = errno;
	log_warnx("%s", err);
	if (saved == ETIMEDOUT)		/* someone there, too slow */
		return EXIT_REFUSED;
	return saved == ENAMETOOLONG ? EXIT_USAGE : EXIT_NODAEMON;
}

/*
 * Send a request that is answered OK (or ALREADY_ARMED); say what went
 * wrong otherwise. Returns the exit status.
 */
static int
simple_request(struct client *c, const char *verb, const char *request)
{
	char		 reply[CLIENT_REPLY_MAX + 1], err[CLIENT_ERRLEN];
	const char	*reason;

	if (client_request(c, request, reply, sizeof reply, err,
	    sizeof err) != 0) {
		log_warnx("%s: %s", verb, err);
		return EXIT_REFUSED;
	}
	switch (client_classify(reply, &reason)) {
	case CLIENT_OK:
		return 0;
	case CLIENT_ALREADY:
		log_info("%s: already armed", verb);
		return 0;
	case CLIENT_REFUSED:
		client_printable(reason, err, sizeof err);
		log_warnx("%s: refused: %s", verb, err);
		return EXIT_REFUSED;
	default:
		client_printable(reply, err, sizeof err);
		log_warnx("%s: unexpected reply: %s", verb, err);
		return EXIT_REFUSED;
	}
}

/* Connect and send one request answered OK. */
static int
one_request(const struct ctx *x, const char *verb, const char *request)
{
	struct client	 c;
	int		 rc;

	if ((rc = connect_or_status(x, &c)) != 0)
		return rc;
	rc = simple_request(&c, verb, request);
	client_close(&c);
	return rc;
}

/* arm, wipe, panic: a verb without arguments. */
static int
cmd_verb(const struct ctx *x, int argc, char **argv)
{
	char	 verb[16];
	size_t	 i;

	if (argc != 1) {
		log_warnx("%s: unexpected argument '%s' (see --help)",
		    argv[0], argv[1]);
		return EXIT_USAGE;
	}
	for (i = 0; argv[0][i] != '\0' && i < sizeof verb - 1; i++)
		verb[i] = (char)(argv[0][i] - 'a' + 'A');
	verb[i] = '\0';
	return one_request(x, argv[0], verb);
}

/* register PID, unregister PID. */
static int
cmd_register(const struct ctx *x, int argc, char **argv)
{
	char	 request[64];
	int	 pid;

	if (argc != 2) {
		log_warnx("%s: needs one process id (see --help)", argv[0]);
		return EXIT_USAGE;
	}
	if (client_parse_pid(argv[1], &pid) != 0) {
		log_warnx("%s: '%s' is not a process id", argv[0], argv[1]);
		return EXIT_USAGE;
	}
	snprintf(request, sizeof request, "%s pid=%d",
	    strcmp(argv[0], "register") == 0 ? "REGISTER" : "UNREGISTER",
	    pid);
	return one_request(x, argv[0], request);
}

/* Write a whole string to standard output; false on failure. */
static int
put_stdout(const char *s)
{
	if (fputs(s, stdout) == EOF || fflush(stdout) == EOF) {
		log_warn("standard output");
		return 0;
	}
	return 1;
}

/*
 * Append each live heartbeat (SESSION 0, 1, ...) to the status in out:
 * for a person one line each, in JSON a "heartbeats" array inside the
 * object. A daemon without SESSION (daZai-rs) lists none. Returns 0 or
 * the exit status.
 */
static int
list_sessions(struct client *c, const struct client_status *st, bool json,
    char *out, size_t len)
{
	struct client_status	 se;
	const char		*v = client_status_get(st, "sessions");
	char			 req[32], reply[CLIENT_REPLY_MAX + 1],
				 err[CLIENT_ERRLEN], one[1024], since[32];
	size_t			 off = strlen(out);
	struct tm		 tm;
	time_t			 when;
	long			 n, i;

	n = v != NULL ? strtol(v, NULL, 10) : 0;
	if (json && off >= 2)		/* reopen the object: drop "}\n" */
		off -= 2;
	for (i = 0; i < n && i < 64; i++) {
		snprintf(req, sizeof req, "SESSION %ld", i);
		if (client_request(c, req, reply, sizeof reply, err,
		    sizeof err) != 0) {
			log_warnx("status: %s", err);
			return EXIT_REFUSED;
		}
		if (client_parse_session(reply, &se, err, sizeof err) != 0)
			break;		/* gone meanwhile, or no SESSION */
		if (json) {
			if (client_status_json(&se, one, sizeof one) < 0)
				break;
			one[strlen(one) - 1] = '\0';	/* the newline */
			if (snprintf(out + off, len - off, "%s%s",
			    i == 0 ? ",\"heartbeats\":[" : ",", one) >=
			    (int)(len - off))
				break;
		} else {
			when = (time_t)strtoll(client_status_get(&se, "since"),
			    NULL, 10);
			if (localtime_r(&when, &tm) == NULL ||
			    strftime(since, sizeof since, "%Y-%m-%d %H:%M:%S",
			    &tm) == 0)
				snprintf(since, sizeof since, "%s",
				    client_status_get(&se, "since"));
			if (snprintf(out + off, len - off, "heartbeat     "
			    "pid %s (peer pid %s), since %s, last line %ss "
			    "ago\n", client_status_get(&se, "hello_pid"),
			    client_status_get(&se, "peer_pid"), since,
			    client_status_get(&se, "idle")) >=
			    (int)(len - off))
				break;
		}
		off += strlen(out + off);
	}
	if (json)
		snprintf(out + off, len - off, "%s}\n", i > 0 ? "]" : "");
	return 0;
}

/* status [--json]. */
static int
cmd_status(const struct ctx *x, int argc, char **argv)
{
	struct client_status	 st;
	struct client		 c;
	char			 reply[CLIENT_REPLY_MAX + 1],
				 err[CLIENT_ERRLEN], out[STATUS_OUT_MAX];
	bool			 json = false;
	int			 rc;

	if (argc == 2 && strcmp(argv[1], "--json") == 0)
		json = true;
	else if (argc != 1) {
		log_warnx("status: unexpected argument '%s' (see --help)",
		    argv[1]);
		return EXIT_USAGE;
	}
	if ((rc = connect_or_status(x, &c)) != 0)
		return rc;
	rc = client_request(&c, "STATUS", reply, sizeof reply, err,
	    sizeof err);
	if (rc != 0) {
		client_close(&c);
		log_warnx("status: %s", err);
		return EXIT_REFUSED;
	}
	if ((rc = client_parse_status(reply, &st, err, sizeof err)) != 0) {
		client_close(&c);
		log_warnx("status: %s%s", rc > 0 ? "refused: " : "", err);
		return EXIT_REFUSED;
	}
	if ((json ? client_status_json(&st, out, sizeof out) :
	    client_status_text(&st, out, sizeof out)) < 0) {
		client_close(&c);
		log_warnx("status: the reply does not fit %d bytes",
		    STATUS_OUT_MAX);
		return EXIT_REFUSED;
	}
	rc = list_sessions(&c, &st, json, out, sizeof out);
	client_close(&c);
	if (rc != 0)
		return rc;
	return put_stdout(out) ? 0 : EXIT_REFUSED;
}

/*
 * Is anybody there? Before a person types a secret, make sure a daemon
 * we trust answers, so the typing is not in vain.
 */
static int
check_daemon(const struct ctx *x)
{
	struct client	 c;
	char		 reply[CLIENT_REPLY_MAX + 1], err[CLIENT_ERRLEN];
	int		 rc;

	if ((rc = connect_or_status(x, &c)) != 0)
		return rc;
	rc = client_request(&c, "PING", reply, sizeof reply, err, sizeof err);
	client_close(&c);
	if (rc != 0) {
		log_warnx("%s", err);
		return EXIT_REFUSED;
	}
	if (strcmp(reply, "PONG") != 0) {
		client_printable(reply, err, sizeof err);
		log_warnx("unexpected reply to PING: %s", err);
		return EXIT_REFUSED;
	}
	return 0;
}

/* Fill b from FILE, standard input or the terminal; 0 or exit status. */
static int
read_secret(const struct ctx *x, const char *file, struct secbuf *b)
{
	char		 err[SECBUF_ERRLEN];
	const char	*what = file;
	int		 fd = STDIN_FILENO, rc;

	if (file == NULL && isatty(STDIN_FILENO)) {
		if ((rc = check_daemon(x)) != 0)
			return rc;
		if (secbuf_read_tty(b, STDIN_FILENO, STDERR_FILENO,
		    "dazai: secret (not echoed): ", err, sizeof err) != 0) {
			log_warnx("load: terminal: %s", err);
			return EXIT_REFUSED;
		}
		return 0;
	}
	if (file == NULL || strcmp(file, "-") == 0)
		what = "standard input";
	else if ((fd = open(file, O_RDONLY | O_CLOEXEC | O_NOCTTY)) < 0) {
		log_warn("load: %s", file);
		return EXIT_REFUSED;
	}
	rc = secbuf_read_fd(b, fd, (size_t)CONFIG_SECRET_MAX, err,
	    sizeof err);
	if (fd != STDIN_FILENO)
		close(fd);
	if (rc != 0) {
		log_warnx("load: %s: %s", what, err);
		return EXIT_REFUSED;
	}
	return 0;
}

/* load [FILE]. */
static int
cmd_load(const struct ctx *x, int argc, char **argv)
{
	struct secbuf	 b = { NULL, 0, 0 };
	struct client	 c;
	char		 reply[CLIENT_REPLY_MAX + 1], err[CLIENT_ERRLEN];
	const char	*reason;
	int		 rc;

	if (argc > 2) {
		log_warnx("load: one FILE at most (see --help)");
		return EXIT_USAGE;
	}
	harden();
	if ((rc = read_secret(x, argc == 2 ? argv[1] : NULL, &b)) != 0)
		goto out;
	if (b.len == 0) {
		log_warnx("load: the secret is empty; nothing sent");
		rc = EXIT_REFUSED;
		goto out;
	}
	if ((rc = connect_or_status(x, &c)) != 0)
		goto out;
	if (client_load(&c, &b, reply, sizeof reply, err, sizeof err) != 0) {
		secbuf_free(&b);
		client_close(&c);
		log_warnx("load: %s", err);
		rc = EXIT_REFUSED;
		goto out;
	}
	secbuf_free(&b);
	client_close(&c);
	switch (client_classify(reply, &reason)) {
	case CLIENT_OK:
		rc = 0;
		break;
	case CLIENT_REFUSED:
		client_printable(reason, err, sizeof err);
		log_warnx("load: refused: %s", err);
		rc = EXIT_REFUSED;
		break;
	default:
		client_printable(reply, err, sizeof err);
		log_warnx("load: unexpected reply: %s", err);
		rc = EXIT_REFUSED;
		break;
	}
out:
	secbuf_free(&b);
	return rc;
}

/*
 * GET on an open connection into b. Returns 0, or the exit status after
 * saying what went wrong (b is then empty).
 */
static int
fetch_secret(struct client *c, struct secbuf *b)
{
	char	 reply[CLIENT_REPLY_MAX + 1], err[CLIENT_ERRLEN];
	size_t	 n;
	int	 rc;

	if (client_request(c, "GET", reply, sizeof reply, err,
	    sizeof err) != 0) {
		log_warnx("get: %s", err);
		return EXIT_REFUSED;
	}
	if ((rc = client_parse_secret(reply, &n, err, sizeof err)) != 0) {
		log_warnx("get: %s%s", rc > 0 ? "refused: " : "", err);
		return EXIT_REFUSED;
	}
	if (client_read_secret(c, b, n, err, sizeof err) != 0) {
		log_warnx("get: %s", err);
		return EXIT_REFUSED;
	}
	return 0;
}

/* get [--tty]. */
static int
cmd_get(const struct ctx *x, int argc, char **argv)
{
	struct secbuf	 b = { NULL, 0, 0 };
	struct client	 c;
	char		 err[SECBUF_ERRLEN];
	bool		 tty = false;
	int		 rc;

	if (argc == 2 && strcmp(argv[1], "--tty") == 0)
		tty = true;
	else if (argc != 1) {
		log_warnx("get: unexpected argument '%s' (see --help)",
		    argv[1]);
		return EXIT_USAGE;
	}
	if (!tty && isatty(STDOUT_FILENO)) {
		log_warnx("get: standard output is a terminal; not writing "
		    "the secret there without --tty");
		return EXIT_REFUSED;
	}
	harden();
	if ((rc = connect_or_status(x, &c)) != 0)
		return rc;
	rc = fetch_secret(&c, &b);
	client_close(&c);
	if (rc != 0)
		return rc;
	if (secbuf_write_fd(&b, STDOUT_FILENO, err, sizeof err) != 0) {
		log_warnx("get: standard output: %s", err);
		rc = EXIT_REFUSED;
	}
	secbuf_free(&b);
	return rc;
}

/*
 * Find cmd as execvp would (a name with a slash as it is, else along
 * $PATH), so a command that cannot run is known before a secret is
 * fetched for it. Returns 0 with the path in buf, or the exit status
 * after saying why (127 not found, 126 found but not executable).
 */
static int
find_command(const char *cmd, char *buf, size_t len)
{
	struct stat	 st;
	const char	*path, *p, *end;
	bool		 denied = false;
	int		 n;

	if (strchr(cmd, '/') != NULL) {
		snprintf(buf, len, "%s", cmd);
		if (stat(cmd, &st) != 0) {
			log_warn("exec: %s", cmd);
			return EXIT_NOTFOUND;
		}
		if (!S_ISREG(st.st_mode) || access(cmd, X_OK) != 0) {
			log_warnx("exec: %s: not an executable file", cmd);
			return EXIT_NOEXEC;
		}
		return 0;
	}
	if ((path = getenv("PATH")) == NULL || *path == '\0')
		path = "/usr/local/bin:/usr/bin:/bin";
	for (p = path; ; p = end + 1) {
		end = strchrnul(p, ':');
		n = snprintf(buf, len, "%.*s%s%s", (int)(end - p), p,
		    end == p ? "" : "/", cmd);
		if (n > 0 && (size_t)n < len && stat(buf, &st) == 0 &&
		    S_ISREG(st.st_mode)) {
			if (access(buf, X_OK) == 0)
				return 0;
			denied = true;
		}
		if (*end == '\0')
			break;
	}
	if (denied) {
		log_warnx("exec: %s: permission denied", cmd);
		return EXIT_NOEXEC;
	}
	log_warnx("exec: %s: command not found", cmd);
	return EXIT_NOTFOUND;
}

/*
 * In the child: wait for the go byte, put the secret's pipe at fd and
 * exec. An exec failure is reported through errfd (close-on-exec, so a
 * successful exec closes it empty). Never returns.
 */
static void __attribute__((noreturn))
child_exec(int gofd, int errfd, int secfd, int fd, const char *path,
    char **argv)
{
	char	 c;
	int	 e;

	if (read(gofd, &c, 1) != 1)
		_exit(EXIT_NOEXEC);	/* the parent gave up */
	close(gofd);
	if (errfd == fd && (errfd = fcntl(errfd, F_DUPFD_CLOEXEC, fd + 1)) < 0)
		_exit(EXIT_NOEXEC);
	if (secfd != fd) {
		if (dup2(secfd, fd) < 0)
			goto fail;
		close(secfd);
	} else if (fcntl(fd, F_SETFD, 0) != 0)
		goto fail;
	signal(SIGPIPE, SIG_DFL);
	execv(path, argv);
fail:
	e = errno;
	if (write(errfd, &e, sizeof e) < 0) {
		/* the exit status says it too */
	}
	_exit(e == ENOENT ? EXIT_NOTFOUND : EXIT_NOEXEC);
}

/* Send UNREGISTER for pid on a fresh connection, best effort. */
static void
unregister_quietly(const struct ctx *x, pid_t pid)
{
	struct client	 c;
	char		 request[64], reply[CLIENT_REPLY_MAX + 1],
			 err[CLIENT_ERRLEN];

	if (client_open(&c, x->path, x->is_default, err, sizeof err) != 0)
		return;
	snprintf(request, sizeof request, "UNREGISTER pid=%d", (int)pid);
	(void)client_request(&c, request, reply, sizeof reply, err,
	    sizeof err);
	client_close(&c);
}

/*
 * Kill a child that never got to run its command, unregister it while it
 * is a zombie (its pid cannot be reused before we reap it), reap it.
 */
static void
abandon_child(const struct ctx *x, pid_t pid, bool registered)
{
	siginfo_t	 si;
	int		 st;

	kill(pid, SIGKILL);
	while (waitid(P_PID, (id_t)pid, &si, WEXITED | WNOWAIT) != 0 &&
	    errno == EINTR)
		;
	if (registered)
		unregister_quietly(x, pid);
	while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
		;
}

/* Parse exec's own options; returns the index of CMD, or -1. */
static int
exec_options(int argc, char **argv, int *fd)
{
	long	 v;
	char	*end;
	int	 i = 1;

	*fd = 0;
	while (i < argc && strncmp(argv[i], "--", 2) == 0) {
		const char	*val = NULL;

		if (strcmp(argv[i], "--") == 0)
			return ++i < argc ? i : -1;
		if (strcmp(argv[i], "--fd") == 0 && i + 1 < argc)
			val = argv[++i];
		else if (strncmp(argv[i], "--fd=", 5) == 0)
			val = argv[i] + 5;
		else {
			log_warnx("exec: %s: unknown option (see --help)",
			    argv[i]);
			return -1;
		}
		errno = 0;
		v = strtol(val, &end, 10);
		if (errno != 0 || *end != '\0' || end == val || v < 0 ||
		    v > 1023) {
			log_warnx("exec: --fd: '%s' is not a descriptor "
			    "number (0 to 1023)", val);
			return -1;
		}
		*fd = (int)v;
		i++;
	}
	if (i >= argc)
		log_warnx("exec: no command (see --help)");
	return i < argc ? i : -1;
}

/*
 * Before a command is started for it: does the daemon hold a secret at
 * all? Only a daemon that reports secret_bytes can say no; anything else
 * is left to GET. Returns 0, or the exit status after saying why not.
 */
static int
secret_held(struct client *c)
{
	struct client_status	 st;
	char			 reply[CLIENT_REPLY_MAX + 1],
				 err[CLIENT_ERRLEN];
	const char		*v;
	int			 rc;

	if (client_request(c, "STATUS", reply, sizeof reply, err,
	    sizeof err) != 0) {
		log_warnx("exec: %s", err);
		return EXIT_REFUSED;
	}
	if ((rc = client_parse_status(reply, &st, err, sizeof err)) != 0) {
		log_warnx("exec: %s%s", rc > 0 ? "refused: " : "", err);
		return EXIT_REFUSED;
	}
	if ((v = client_status_get(&st, "secret_bytes")) != NULL &&
	    strcmp(v, "0") == 0) {
		log_warnx("exec: refused: no secret");
		return EXIT_REFUSED;
	}
	return 0;
}

/*
 * exec [--fd N] -- CMD ARGS. The order is what makes it safe: the child
 * is registered before the secret exists here, and the secret is fetched
 * only once execve(2) has succeeded, so a command that cannot start
 * (a missing #! interpreter, a file the kernel will not run) spends no
 * read of it.
 */
static int
cmd_exec(const struct ctx *x, int argc, char **argv)
{
	struct secbuf	 b = { NULL, 0, 0 };
	struct client	 c;
	char		 path[PATH_MAX], request[64], err[SECBUF_ERRLEN];
	int		 go[2], ep[2], sp[2], fd, first, rc, e, st;
	siginfo_t	 si;
	ssize_t		 n;
	pid_t		 pid;

	if ((first = exec_options(argc, argv, &fd)) < 0)
		return EXIT_USAGE;
	if ((rc = find_command(argv[first], path, sizeof path)) != 0)
		return rc;
	harden();
	if ((rc = connect_or_status(x, &c)) != 0)
		return rc;
	if ((rc = secret_held(&c)) != 0) {
		client_close(&c);
		return rc;
	}
	if (pipe2(go, O_CLOEXEC) != 0 || pipe2(ep, O_CLOEXEC) != 0 ||
	    pipe2(sp, O_CLOEXEC) != 0) {
		log_warn("exec: pipe");
		client_close(&c);
		return EXIT_REFUSED;
	}
	/* Fork before the secret exists, so no copy of it is forked. */
	if ((pid = fork()) < 0) {
		log_warn("exec: fork");
		client_close(&c);
		return EXIT_REFUSED;
	}
	if (pid == 0) {
		close(go[1]);
		close(ep[0]);
		close(sp[1]);
		client_close(&c);
		child_exec(go[0], ep[1], sp[0], fd, path, argv + first);
	}
	close(go[0]);
	close(ep[1]);
	close(sp[0]);
	snprintf(request, sizeof request, "REGISTER pid=%d", (int)pid);
	if ((rc = simple_request(&c, "exec: register", request)) != 0) {
		client_close(&c);
		abandon_child(x, pid, false);
		return rc;
	}
	/* Registered: let the command start, and learn whether it did. The
	 * error pipe is close-on-exec, so EOF on it means execve worked. */
	if (write(go[1], "", 1) != 1)
		log_warn("exec: starting the command");
	close(go[1]);
	while ((n = read(ep[0], &e, sizeof e)) < 0 && errno == EINTR)
		;
	close(ep[0]);
	if (n == (ssize_t)sizeof e) {
		errno = e;
		log_warn("exec: %s", path);
		client_close(&c);
		close(sp[1]);
		abandon_child(x, pid, true);
		return e == ENOENT ? EXIT_NOTFOUND : EXIT_NOEXEC;
	}
	/* The command runs, waiting on its pipe; a refused GET kills it
	 * before it has been given anything. */
	if ((rc = fetch_secret(&c, &b)) != 0) {
		client_close(&c);
		close(sp[1]);
		abandon_child(x, pid, true);
		return rc;
	}
	client_close(&c);
	/* A pipe as big as the secret takes it in one write, so it leaves
	 * our memory at once even before the command reads it. */
	if (b.len > 4096)
		(void)fcntl(sp[1], F_SETPIPE_SZ, (int)(b.len > INT_MAX ?
		    INT_MAX : b.len));
	if (secbuf_write_fd(&b, sp[1], err, sizeof err) != 0 &&
	    errno != EPIPE)
		log_warnx("exec: writing the secret to %s: %s", path, err);
	secbuf_free(&b);
	close(sp[1]);

	/* The command owns the terminal's ^C and ^\ now, as in system(3). */
	signal(SIGINT, SIG_IGN);
	signal(SIGQUIT, SIG_IGN);
	/* Unregister while the child is a zombie: its pid cannot be reused
	 * before we reap it. */
	while (waitid(P_PID, (id_t)pid, &si, WEXITED | WNOWAIT) != 0 &&
	    errno == EINTR)
		;
	unregister_quietly(x, pid);
	while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
		;
	if (WIFSIGNALED(st))
		return 128 + WTERMSIG(st);
	return WEXITSTATUS(st);
}

/* cancel: HELLO, CANCEL, QUIT on a heartbeat connection. */
static int
cmd_cancel(const struct ctx *x, int argc, char **argv)
{
	struct client_cancel	 cc;
	char			 err[CLIENT_ERRLEN];
	int			 rc;

	(void)argv;
	if (argc != 1) {
		log_warnx("cancel: unexpected argument (see --help)");
		return EXIT_USAGE;
	}
	switch (client_cancel(x->path, x->is_default, &cc, err, sizeof err)) {
	case CLIENT_CANCEL_NODAEMON:
		rc = errno;
		log_warnx("%s", err);
		return rc == ENAMETOOLONG ? EXIT_USAGE : EXIT_NODAEMON;
	case CLIENT_CANCEL_BUSY:
		log_warnx("cancel: BUSY: another heartbeat holds the guard; "
		    "send that dazai-heartbeat SIGUSR1 (it stands down "
		    "without a panic), then cancel again");
		return EXIT_REFUSED;
	case CLIENT_CANCEL_FAILED:
		log_warnx("cancel: %s", err);
		return EXIT_REFUSED;
	case CLIENT_CANCEL_DONE:
		break;
	}
	if (cc.cancelled) {
		log_info("panic cancelled");
		rc = 0;
	} else if (strcmp(cc.reply, "ERR no pending panic") == 0) {
		log_warnx("cancel: no panic is pending");
		rc = EXIT_REFUSED;
	} else {
		client_printable(cc.reply, err, sizeof err);
		log_warnx("cancel: unexpected reply to CANCEL: %s", err);
		rc = EXIT_REFUSED;
	}
	if (cc.unguarded)
		log_warnx("WARNING: panic cancelled, and no heartbeat is "
		    "connected: the daemon still holds the secret and nothing "
		    "ends it when your session ends; start a heartbeat "
		    "(source shellrc.sh again, or run dazai-heartbeat) or "
		    "`dazai wipe` it");
	return rc;
}

/* mcp: the MCP server on standard input and output. */
static int
cmd_mcp(const struct ctx *x, int argc, char **argv)
{
	return mcp_main(x->path, x->is_default, argc, argv);
}

static const struct command commands[] = {
	{ "status", cmd_status },
	{ "load", cmd_load },
	{ "get", cmd_get },
	{ "exec", cmd_exec },
	{ "register", cmd_register },
	{ "unregister", cmd_register },
	{ "arm", cmd_verb },
	{ "wipe", cmd_verb },
	{ "panic", cmd_verb },
	{ "cancel", cmd_cancel },
	{ "mcp", cmd_mcp },
};

int
main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "socket", required_argument, NULL, 's' },
		{ "version", no_argument, NULL, 'V' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	char		 path[PATH_MAX], err[SOCKPATH_ERRLEN];
	const char	*sock = NULL;
	struct ctx	 x;
	size_t		 i;
	int		 ch;

	log_init("dazai", 0);
	opterr = 0;
	while ((ch = getopt_long(argc, argv, "+:", opts, NULL)) != -1) {
		switch (ch) {
		case 's':
			sock = optarg;
			break;
		case 'V':
			printf("dazai %s\n", DAZAI_VERSION);
			return 0;
		case 'h':
			fputs(usage_text, stdout);
			return 0;
		case ':':
			log_warnx("%s: missing argument (see --help)",
			    argv[optind - 1]);
			return EXIT_USAGE;
		default:
			log_warnx("%s: unknown option (see --help)",
			    argv[optind - 1]);
			return EXIT_USAGE;
		}
	}
	if (optind >= argc) {
		log_warnx("no command (see --help)");
		return EXIT_USAGE;
	}
	for (i = 0; i < sizeof commands / sizeof commands[0]; i++)
		if (strcmp(argv[optind], commands[i].name) == 0)
			break;
	if (i == sizeof commands / sizeof commands[0]) {
		log_warnx("%s: unknown command (see --help)", argv[optind]);
		return EXIT_USAGE;
	}
	if (sockpath_resolve(sock, path, sizeof path, &x.is_default, err,
	    sizeof err) != 0) {
		log_warnx("%s", err);
		return EXIT_USAGE;
	}
	x.path = path;
	if (secbuf_init() != 0) {
		log_warnx("libsodium cannot initialise");
		return EXIT_REFUSED;
	}
	signal(SIGPIPE, SIG_IGN);
	return commands[i].run(&x, argc - optind, argv + optind);
}
