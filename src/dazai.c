/* SPDX-License-Identifier: ISC */
/*
 * dazai: the command-line client. Each command is one short exchange
 * with dazaid; the secret, where a command handles one, stays in
 * sodium_malloc memory between read(2) and write(2).
 */
#include <sys/prctl.h>

#include <ctype.h>
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
#include "dazai/exec.h"
#include "dazai/log.h"
#include "dazai/parse.h"
#include "dazai/mcp.h"
#include "dazai/proto.h"
#include "dazai/secbuf.h"
#include "dazai/sockpath.h"

#ifndef DAZAI_VERSION
#define DAZAI_VERSION "0.1.0"
#endif

#define STATUS_OUT_MAX 8192

/* The help's lines before and after the commands. */
/* clang-format off */
static const char usage_head[] =
"usage: dazai [--socket PATH] COMMAND [ARGS]\n"
"\n"
"Talk to dazaid, the dead-man's-switch secret holder.\n"
"\n";
static const char usage_tail[] =
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
/* clang-format on */

/* Where the daemon is. */
struct ctx {
	const char *path;
	bool	    is_default;
};

struct command;
typedef int (*command_fn)(const struct ctx *, const struct command *, int,
    char **);

#define CMD_CONNECT 0x1 /* talks to the daemon at --socket */
#define CMD_SECRET  0x2 /* may hold secret bytes: hardened first */

/*
 * One command, the whole of it: its name, the wire verb that carries it
 * (NULL for an exchange of several), how many arguments it takes (max
 * -1: any), its usage line, what to say when the count is wrong (NULL:
 * name the first argument), its flags and what runs it.
 */
struct command {
	const char *name;
	const char *verb;
	int	    min, max;
	const char *args;
	const char *help;
	const char *bad;
	int	    flags;
	command_fn  run;
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
	char err[CLIENT_ERRLEN];
	int  saved;

	if (client_open(c, x->path, x->is_default, err, sizeof err) == 0)
		return 0;
	saved = errno;
	log_warnx("%s", err);
	if (saved == ETIMEDOUT) /* someone there, too slow */
		return CLIENT_EXIT_REFUSED;
	return saved == ENAMETOOLONG ? CLIENT_EXIT_USAGE : CLIENT_EXIT_NODAEMON;
}

/*
 * Send a request that is answered OK (or ALREADY_ARMED); say what went
 * wrong otherwise. Returns the exit status.
 */
static int
simple_request(struct client *c, const char *verb, const char *request)
{
	char	    reply[CLIENT_REPLY_MAX + 1], err[CLIENT_ERRLEN];
	const char *reason;

	if (client_request(c, request, reply, sizeof reply, err, sizeof err) !=
	    0) {
		log_warnx("%s: %s", verb, err);
		return CLIENT_EXIT_REFUSED;
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
		return CLIENT_EXIT_REFUSED;
	default:
		client_printable(reply, err, sizeof err);
		log_warnx("%s: unexpected reply: %s", verb, err);
		return CLIENT_EXIT_REFUSED;
	}
}

/* Connect and send one request answered OK. */
static int
one_request(const struct ctx *x, const char *verb, const char *request)
{
	struct client c;
	int	      rc;

	if ((rc = connect_or_status(x, &c)) != 0)
		return rc;
	rc = simple_request(&c, verb, request);
	client_close(&c);
	return rc;
}

/* arm, wipe, panic: the row's verb, without arguments. */
static int
cmd_verb(const struct ctx *x, const struct command *cmd, int argc, char **argv)
{
	(void)argc;
	(void)argv;
	return one_request(x, cmd->name, cmd->verb);
}

/* register PID, unregister PID: the row's verb with pid=PID. */
static int
cmd_pid(const struct ctx *x, const struct command *cmd, int argc, char **argv)
{
	char request[64];
	int  pid;

	(void)argc;
	if (parse_pid(argv[1], &pid) != 0) {
		log_warnx("%s: '%s' is not a process id", cmd->name, argv[1]);
		return CLIENT_EXIT_USAGE;
	}
	snprintf(request, sizeof request, "%s pid=%d", cmd->verb, pid);
	return one_request(x, cmd->name, request);
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
/*
 * The process a heartbeat (pid) watches, as dazai-heartbeat does by
 * default: its parent, the shell; and that shell's terminal, from its
 * standard input ("" if none is readable). *shell is 0 if unknown.
 */
static void
session_shell(const char *pid, int *shell, char *tty, size_t len)
{
	char	path[64], buf[512], *p;
	ssize_t n;
	size_t	i;
	int	fd, ppid;

	*shell = 0;
	tty[0] = '\0';
	snprintf(path, sizeof path, "/proc/%s/stat", pid);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
		return;
	n = read(fd, buf, sizeof buf - 1);
	close(fd);
	buf[n > 0 ? n : 0] = '\0';
	if ((p = strrchr(buf, ')')) == NULL ||
	    sscanf(p + 1, " %*c %d", &ppid) != 1 || ppid <= 1)
		return;
	*shell = ppid;
	snprintf(path, sizeof path, "/proc/%d/fd/0", ppid);
	if ((n = readlink(path, buf, sizeof buf - 1)) <= 0)
		return;
	buf[n] = '\0';
	if (strncmp(buf, "/dev/pts/", 9) != 0 && strncmp(buf, "/dev/tty", 8))
		return;
	for (i = 0; buf[i] != '\0' && i + 1 < len; i++)
		tty[i] = isalnum((unsigned char)buf[i]) || buf[i] == '/' ?
		    buf[i] :
		    '?';
	tty[i] = '\0';
}

static int
list_sessions(struct client *c, const struct client_status *st, bool json,
    char *out, size_t len)
{
	struct client_status se;
	const char	    *v = client_status_get(st, "sessions");
	char req[32], reply[CLIENT_REPLY_MAX + 1], err[CLIENT_ERRLEN],
	    one[1024], since[32], tty[64], shell[96];
	size_t		   off = strlen(out);
	struct tm	   tm;
	unsigned long long n, i, secs;
	time_t		   when;
	int		   spid;

	if (v == NULL || parse_decimal(v, LLONG_MAX, &n) != 0)
		n = 0;
	if (json && off >= 2) /* reopen the object: drop "}\n" */
		off -= 2;
	for (i = 0; i < n && i < 64; i++) {
		snprintf(req, sizeof req, "SESSION %llu", i);
		if (client_request(c, req, reply, sizeof reply, err,
			sizeof err) != 0) {
			log_warnx("status: %s", err);
			return CLIENT_EXIT_REFUSED;
		}
		if (client_parse_session(reply, &se, err, sizeof err) != 0)
			break; /* gone meanwhile, or no SESSION */
		session_shell(client_status_get(&se, "peer_pid"), &spid, tty,
		    sizeof tty);
		if (json) {
			if (client_status_json(&se, one, sizeof one) < 0)
				break;
			one[strlen(one) - 2] = '\0'; /* the "}\n" */
			if (snprintf(out + off, len - off,
				"%s%s,\"shell_pid\":"
				"%d,\"tty\":%s%s%s}",
				i == 0 ? ",\"heartbeats\":[" : ",", one, spid,
				tty[0] != '\0' ? "\"" : "null", tty,
				tty[0] != '\0' ? "\"" : "") >= (int)(len - off))
				break;
		} else {
			if (parse_decimal(client_status_get(&se, "since"),
				LLONG_MAX, &secs) != 0)
				secs = 0;
			when = (time_t)secs;
			if (localtime_r(&when, &tm) == NULL ||
			    strftime(since, sizeof since, "%Y-%m-%d %H:%M:%S",
				&tm) == 0)
				snprintf(since, sizeof since, "%s",
				    client_status_get(&se, "since"));
			if (spid > 0)
				snprintf(shell, sizeof shell,
				    ", shell pid %d "
				    "on %s",
				    spid, tty[0] != '\0' ? tty : "no terminal");
			else
				shell[0] = '\0';
			if (snprintf(out + off, len - off,
				"heartbeat     "
				"pid %s (peer pid %s)%s, since %s, "
				"last line %ss ago\n",
				client_status_get(&se, "hello_pid"),
				client_status_get(&se, "peer_pid"), shell,
				since, client_status_get(&se, "idle")) >=
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
cmd_status(const struct ctx *x, const struct command *cmd, int argc,
    char **argv)
{
	struct client_status st;
	struct client	     c;
	char		     reply[CLIENT_REPLY_MAX + 1], err[CLIENT_ERRLEN],
	    out[STATUS_OUT_MAX];
	bool json = false;
	int  rc;

	if (argc == 2 && strcmp(argv[1], "--json") == 0)
		json = true;
	else if (argc != 1) {
		log_warnx("%s: unexpected argument '%s' (see --help)",
		    cmd->name, argv[1]);
		return CLIENT_EXIT_USAGE;
	}
	if ((rc = connect_or_status(x, &c)) != 0)
		return rc;
	rc =
	    client_request(&c, cmd->verb, reply, sizeof reply, err, sizeof err);
	if (rc != 0) {
		client_close(&c);
		log_warnx("status: %s", err);
		return CLIENT_EXIT_REFUSED;
	}
	if ((rc = client_parse_status(reply, &st, err, sizeof err)) != 0) {
		client_close(&c);
		log_warnx("status: %s%s", rc > 0 ? "refused: " : "", err);
		return CLIENT_EXIT_REFUSED;
	}
	if ((json ? client_status_json(&st, out, sizeof out) :
		    client_status_text(&st, out, sizeof out)) < 0) {
		client_close(&c);
		log_warnx("status: the reply does not fit %d bytes",
		    STATUS_OUT_MAX);
		return CLIENT_EXIT_REFUSED;
	}
	rc = list_sessions(&c, &st, json, out, sizeof out);
	client_close(&c);
	if (rc != 0)
		return rc;
	return put_stdout(out) ? 0 : CLIENT_EXIT_REFUSED;
}

/*
 * Is anybody there? Before a person types a secret, make sure a daemon
 * we trust answers, so the typing is not in vain.
 */
static int
check_daemon(const struct ctx *x)
{
	struct client c;
	char	      reply[CLIENT_REPLY_MAX + 1], err[CLIENT_ERRLEN];
	int	      rc;

	if ((rc = connect_or_status(x, &c)) != 0)
		return rc;
	rc = client_request(&c, "PING", reply, sizeof reply, err, sizeof err);
	client_close(&c);
	if (rc != 0) {
		log_warnx("%s", err);
		return CLIENT_EXIT_REFUSED;
	}
	if (strcmp(reply, "PONG") != 0) {
		client_printable(reply, err, sizeof err);
		log_warnx("unexpected reply to PING: %s", err);
		return CLIENT_EXIT_REFUSED;
	}
	return 0;
}

/* Fill b from FILE, standard input or the terminal; 0 or exit status. */
static int
read_secret(const struct ctx *x, const char *file, struct secbuf *b)
{
	char	    err[SECBUF_ERRLEN];
	const char *what = file;
	int	    fd = STDIN_FILENO, rc;

	if (file == NULL && isatty(STDIN_FILENO)) {
		if ((rc = check_daemon(x)) != 0)
			return rc;
		if (secbuf_read_tty(b, STDIN_FILENO, STDERR_FILENO,
			"dazai: secret (not echoed): ", err, sizeof err) != 0) {
			log_warnx("load: terminal: %s", err);
			return CLIENT_EXIT_REFUSED;
		}
		return 0;
	}
	if (file == NULL || strcmp(file, "-") == 0)
		what = "standard input";
	else if ((fd = open(file, O_RDONLY | O_CLOEXEC | O_NOCTTY)) < 0) {
		log_warn("load: %s", file);
		return CLIENT_EXIT_REFUSED;
	}
	rc = secbuf_read_fd(b, fd, (size_t)CONFIG_SECRET_MAX, err, sizeof err);
	if (fd != STDIN_FILENO)
		close(fd);
	if (rc != 0) {
		log_warnx("load: %s: %s", what, err);
		return CLIENT_EXIT_REFUSED;
	}
	return 0;
}

/*
 * Is name a secret's name? Says why not, for the command named what;
 * NULL (no name: the default secret) is one.
 */
static int
name_ok(const char *what, const char *name)
{
	if (name == NULL || proto_name_valid(name, strlen(name)))
		return 1;
	log_warnx("%s: '%s' is not a secret name (1 to %d of A-Z a-z 0-9 "
		  ". _ -, starting with a letter or digit)",
	    what, name, PROTO_NAME_MAX);
	return 0;
}

/*
 * After a LOAD: an armed daemon with no heartbeat connected ends nothing
 * when the session ends, so the secret it now holds has no guard. Say so
 * (a STATUS on the same connection; a daemon that cannot say is left).
 */
static void
warn_unguarded(struct client *c)
{
	struct client_status st;
	char		     reply[CLIENT_REPLY_MAX + 1], err[CLIENT_ERRLEN];
	const char	    *armed, *sessions;

	if (client_request(c, "STATUS", reply, sizeof reply, err, sizeof err) !=
		0 ||
	    client_parse_status(reply, &st, err, sizeof err) != 0)
		return;
	armed = client_status_get(&st, "armed");
	sessions = client_status_get(&st, "sessions");
	if (armed != NULL && strcmp(armed, "1") == 0 && sessions != NULL &&
	    strcmp(sessions, "0") == 0)
		log_warnx(
		    "WARNING: the daemon is armed and no heartbeat is "
		    "connected: nothing wipes this secret when your session "
		    "ends; start a heartbeat (source shellrc.sh, or run "
		    "dazai-heartbeat)");
}

/* load [--name NAME] [FILE]. */
static int
cmd_load(const struct ctx *x, const struct command *cmd, int argc, char **argv)
{
	struct secbuf b = { NULL, 0, 0 };
	struct client c;
	char	      reply[CLIENT_REPLY_MAX + 1], err[CLIENT_ERRLEN];
	const char   *reason, *name = NULL, *file = NULL;
	size_t	      len;
	int	      rc, i;

	for (i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--name") == 0 && i + 1 < argc &&
		    name == NULL)
			name = argv[++i];
		else if (strncmp(argv[i], "--name=", 7) == 0 && name == NULL)
			name = argv[i] + 7;
		else if (file == NULL &&
		    (strncmp(argv[i], "--", 2) != 0 ||
			strcmp(argv[i], "-") == 0))
			file = argv[i];
		else {
			log_warnx("%s: unexpected argument '%s' (see --help)",
			    cmd->name, argv[i]);
			return CLIENT_EXIT_USAGE;
		}
	}
	if (!name_ok(cmd->name, name))
		return CLIENT_EXIT_USAGE;
	if ((rc = read_secret(x, file, &b)) != 0)
		goto out;
	if ((len = b.len) == 0) {
		log_warnx("load: the secret is empty; nothing sent");
		rc = CLIENT_EXIT_REFUSED;
		goto out;
	}
	if ((rc = connect_or_status(x, &c)) != 0)
		goto out;
	if (client_load(&c, &b, name, reply, sizeof reply, err, sizeof err) !=
	    0) {
		secbuf_free(&b);
		client_close(&c);
		log_warnx("load: %s", err);
		rc = CLIENT_EXIT_REFUSED;
		goto out;
	}
	secbuf_free(&b);
	switch (client_classify(reply, &reason)) {
	case CLIENT_OK:
		log_info("loaded %zu bytes as \"%s\"", len,
		    name != NULL ? name : PROTO_NAME_DEFAULT);
		warn_unguarded(&c);
		rc = 0;
		break;
	case CLIENT_REFUSED:
		client_printable(reason, err, sizeof err);
		log_warnx("load: refused: %s", err);
		rc = CLIENT_EXIT_REFUSED;
		break;
	default:
		client_printable(reply, err, sizeof err);
		log_warnx("load: unexpected reply: %s", err);
		rc = CLIENT_EXIT_REFUSED;
		break;
	}
	client_close(&c);
out:
	secbuf_free(&b);
	return rc;
}

/*
 * GET (GET NAME for a name other than NULL) on an open connection into
 * b. Returns 0, or the exit status after saying what went wrong (b is
 * then empty).
 */
static int
fetch_secret(struct client *c, const char *name, struct secbuf *b)
{
	char reply[CLIENT_REPLY_MAX + 1], err[CLIENT_ERRLEN],
	    request[PROTO_LINE_MAX];
	size_t n;
	int    rc;

	snprintf(request, sizeof request, "GET%s%s", name != NULL ? " " : "",
	    name != NULL ? name : "");
	if (client_request(c, request, reply, sizeof reply, err, sizeof err) !=
	    0) {
		log_warnx("get: %s", err);
		return CLIENT_EXIT_REFUSED;
	}
	if ((rc = client_parse_secret(reply, &n, err, sizeof err)) != 0) {
		log_warnx("get: %s%s", rc > 0 ? "refused: " : "", err);
		return CLIENT_EXIT_REFUSED;
	}
	if (client_read_secret(c, b, n, err, sizeof err) != 0) {
		log_warnx("get: %s", err);
		return CLIENT_EXIT_REFUSED;
	}
	return 0;
}

/* get [--tty] [NAME]. */
static int
cmd_get(const struct ctx *x, const struct command *cmd, int argc, char **argv)
{
	struct secbuf b = { NULL, 0, 0 };
	struct client c;
	char	      err[SECBUF_ERRLEN];
	const char   *name = NULL;
	bool	      tty = false;
	int	      rc, i;

	for (i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--tty") == 0 && !tty)
			tty = true;
		else if (name == NULL && strncmp(argv[i], "--", 2) != 0)
			name = argv[i];
		else {
			log_warnx("%s: unexpected argument '%s' (see --help)",
			    cmd->name, argv[i]);
			return CLIENT_EXIT_USAGE;
		}
	}
	if (!name_ok(cmd->name, name))
		return CLIENT_EXIT_USAGE;
	if (!tty && isatty(STDOUT_FILENO)) {
		log_warnx("get: standard output is a terminal; not writing "
			  "the secret there without --tty");
		return CLIENT_EXIT_REFUSED;
	}
	if ((rc = connect_or_status(x, &c)) != 0)
		return rc;
	rc = fetch_secret(&c, name, &b);
	client_close(&c);
	if (rc != 0)
		return rc;
	if (secbuf_write_fd(&b, STDOUT_FILENO, err, sizeof err) != 0) {
		log_warnx("get: standard output: %s", err);
		rc = CLIENT_EXIT_REFUSED;
	}
	secbuf_free(&b);
	return rc;
}

/* wipe [NAME]: that secret, or every one. */
static int
cmd_wipe(const struct ctx *x, const struct command *cmd, int argc, char **argv)
{
	char request[PROTO_LINE_MAX];

	if (argc == 1)
		return one_request(x, cmd->name, cmd->verb);
	if (!name_ok(cmd->name, argv[1]))
		return CLIENT_EXIT_USAGE;
	snprintf(request, sizeof request, "%s %s", cmd->verb, argv[1]);
	return one_request(x, cmd->name, request);
}

/* One held secret for list: a line for a person, or a JSON object. */
static int
say_entry(const struct client_entry *e, bool json, bool first)
{
	char expires[32];

	if (e->expires < 0)
		snprintf(expires, sizeof expires, json ? "null" : "-");
	else
		snprintf(expires, sizeof expires, json ? "%lld" : "%llds",
		    e->expires);
	if (json)
		return printf("%s{\"index\":%d,\"name\":\"%s\",\"bytes\":%llu,"
			      "\"reads\":%llu,\"expires\":%s}",
		    first ? "" : ",", e->index, e->name, e->bytes, e->reads,
		    expires);
	return printf("%-24s %10llu %7llu %9s\n", e->name, e->bytes, e->reads,
	    expires);
}

/*
 * A count the daemon's STATUS reports as key= (at most max), for a
 * command that walks that many entries (list: secrets=, actions:
 * actions=). Returns 0, or the exit status having said why not (who
 * names the command).
 */
static int
status_count(struct client *c, const char *who, const char *key,
    unsigned long long max, unsigned long long *n)
{
	struct client_status st;
	char		     reply[CLIENT_REPLY_MAX + 1], err[CLIENT_ERRLEN];
	const char	    *v = NULL;

	err[0] = '\0';
	if (client_request(c, "STATUS", reply, sizeof reply, err, sizeof err) !=
		0 ||
	    client_parse_status(reply, &st, err, sizeof err) != 0 ||
	    (v = client_status_get(&st, key)) == NULL ||
	    parse_decimal(v, max, n) != 0) {
		if (v == NULL && err[0] == '\0')
			log_warnx("%s: the daemon reports no %s= (too old a "
				  "dazaid?)",
			    who, key);
		else
			log_warnx("%s: %s", who,
			    err[0] != '\0' ?
				err :
				"the daemon's count is not a number");
		return CLIENT_EXIT_REFUSED;
	}
	return 0;
}

/*
 * list [--json]: each held secret's name, size, reads and expiry (ENTRY
 * 0, 1, ... up to STATUS secrets=), never a byte of it.
 */
static int
cmd_list(const struct ctx *x, const struct command *cmd, int argc, char **argv)
{
	struct client_entry e;
	struct client	    c;
	char reply[CLIENT_REPLY_MAX + 1], req[32], err[CLIENT_ERRLEN];
	unsigned long long n, i;
	bool		   json = false;
	int		   rc;

	if (argc == 2 && strcmp(argv[1], "--json") == 0)
		json = true;
	else if (argc != 1) {
		log_warnx("%s: unexpected argument '%s' (see --help)",
		    cmd->name, argv[1]);
		return CLIENT_EXIT_USAGE;
	}
	if ((rc = connect_or_status(x, &c)) != 0)
		return rc;
	if ((rc = status_count(&c, "list", "secrets", 64, &n)) != 0) {
		client_close(&c);
		return rc;
	}
	if (json)
		printf("{\"secrets\":[");
	else if (n > 0)
		printf("%-24s %10s %7s %9s\n", "NAME", "BYTES", "READS",
		    "EXPIRES");
	for (i = 0; i < n; i++) {
		snprintf(req, sizeof req, "ENTRY %llu", i);
		if (client_request(&c, req, reply, sizeof reply, err,
			sizeof err) != 0) {
			log_warnx("list: %s", err);
			client_close(&c);
			return CLIENT_EXIT_REFUSED;
		}
		if (client_parse_entry(reply, &e, err, sizeof err) != 0)
			break; /* wiped meanwhile */
		say_entry(&e, json, i == 0);
	}
	client_close(&c);
	if (json)
		printf("]}\n");
	else if (n == 0)
		printf("no secret held\n");
	return put_stdout("") ? 0 : CLIENT_EXIT_REFUSED;
}

/* Connect for exec as for the other commands. */
static int
exec_connect(const struct exec_ctx *e, struct client *c)
{
	const struct ctx x = { e->path, e->is_default };

	return connect_or_status(&x, c);
}

/*
 * exec [--fd N[=NAME]] [--env VAR[=NAME]] [--fifo VAR[=NAME]] -- CMD ARGS:
 * exec.c's, with this file's exchanges.
 */
static int
cmd_exec(const struct ctx *x, const struct command *cmd, int argc, char **argv)
{
	const struct exec_ctx e = { x->path, x->is_default, exec_connect,
		simple_request, fetch_secret };

	(void)cmd;
	return exec_run(&e, argc, argv);
}

/* cancel: HELLO, CANCEL, QUIT on a heartbeat connection. */
static int
cmd_cancel(const struct ctx *x, const struct command *cmd, int argc,
    char **argv)
{
	struct client_cancel cc;
	char		     err[CLIENT_ERRLEN];
	int		     rc;

	(void)cmd;
	(void)argc;
	(void)argv;
	switch (client_cancel(x->path, x->is_default, &cc, err, sizeof err)) {
	case CLIENT_CANCEL_NODAEMON:
		rc = errno;
		log_warnx("%s", err);
		return rc == ENAMETOOLONG ? CLIENT_EXIT_USAGE :
					    CLIENT_EXIT_NODAEMON;
	case CLIENT_CANCEL_BUSY:
		log_warnx("cancel: BUSY: another heartbeat holds the guard; "
			  "send that dazai-heartbeat SIGUSR1 (it stands down "
			  "without a panic), then cancel again");
		return CLIENT_EXIT_REFUSED;
	case CLIENT_CANCEL_FAILED:
		log_warnx("cancel: %s", err);
		return CLIENT_EXIT_REFUSED;
	case CLIENT_CANCEL_DONE:
		break;
	}
	if (cc.cancelled) {
		log_info("panic cancelled");
		rc = 0;
	} else if (cc.none_pending) {
		log_warnx("cancel: no panic is pending");
		rc = CLIENT_EXIT_REFUSED;
	} else {
		client_printable(cc.reply, err, sizeof err);
		log_warnx("cancel: unexpected reply to CANCEL: %s", err);
		rc = CLIENT_EXIT_REFUSED;
	}
	if (cc.unguarded)
		log_warnx(
		    "WARNING: panic cancelled, and no heartbeat is "
		    "connected: the daemon still holds the secret and nothing "
		    "ends it when your session ends; start a heartbeat "
		    "(source shellrc.sh again, or run dazai-heartbeat) or "
		    "`dazai wipe` it");
	return rc;
}

/*
 * One request on c whose reply is "WORD ... last=<rest>": its fields in
 * *st, the rest in *tail (reply holds them). Returns 0 or the exit
 * status, having said what went wrong.
 */
static int
tail_request(struct client *c, const char *request, const char *word,
    const char *last, char *reply, size_t len, struct client_status *st,
    const char **tail)
{
	char err[CLIENT_ERRLEN];
	int  rc;

	if (client_request(c, request, reply, len, err, sizeof err) != 0 ||
	    (rc = client_parse_tail(reply, word, last, st, tail, err,
		 sizeof err)) != 0) {
		log_warnx("actions: %s", err);
		return CLIENT_EXIT_REFUSED;
	}
	return 0;
}

/* How a rehearsed action ended, for a person. */
static void
say_result(int i, const char *on, const char *cmd, int status, bool timed_out,
    const char *text)
{
	if (timed_out)
		printf("%d  on %-5s  %s: killed at action_timeout", i, on, cmd);
	else if (status < 0)
		printf("%d  on %-5s  %s: could not be started", i, on, cmd);
	else if (status > 128)
		printf("%d  on %-5s  %s: killed by signal %d", i, on, cmd,
		    status - 128);
	else
		printf("%d  on %-5s  %s: exit %d", i, on, cmd, status);
	printf(*text != '\0' ? " (stderr: %s)\n" : "\n", text);
}

/*
 * actions [--run]: the configured panic and wipe actions, one per line;
 * --run has the warden run every one now (a rehearsal: the secret is
 * untouched) and shows how each ended. Exit 1 if one failed.
 */
static int
cmd_actions(const struct ctx *x, const struct command *cmd, int argc,
    char **argv)
{
	struct client_status st;
	struct client	     c;
	char	    reply[CLIENT_REPLY_MAX + 1], req[32], err[CLIENT_ERRLEN];
	char	    cmds[CLIENT_ACTIONS_MAX][CLIENT_REPLY_MAX + 1];
	char	    ons[CLIENT_ACTIONS_MAX][8];
	const char *v, *tail;
	bool	    run = argc == 2, failed = false, late;
	unsigned long long n, code;
	long long	   end;
	int		   rc, i, status;

	if (argc == 2 && strcmp(argv[1], "--run") != 0) {
		log_warnx("%s: unexpected argument '%s' (see --help)",
		    cmd->name, argv[1]);
		return CLIENT_EXIT_USAGE;
	}
	if ((rc = connect_or_status(x, &c)) != 0)
		return rc;
	if ((rc = status_count(&c, "actions", "actions", CLIENT_ACTIONS_MAX,
		 &n)) != 0) {
		client_close(&c);
		return rc;
	}
	for (i = 0; i < (int)n; i++) {
		snprintf(req, sizeof req, "ACTION %d", i);
		if ((rc = tail_request(&c, req, "ACTION", "command", reply,
			 sizeof reply, &st, &tail)) != 0) {
			client_close(&c);
			return rc;
		}
		v = client_status_get(&st, "on");
		snprintf(ons[i], sizeof ons[i], "%s", v != NULL ? v : "?");
		client_printable(tail, cmds[i], sizeof cmds[i]);
		if (!run)
			printf("%d  on %-5s  %s\n", i, ons[i], cmds[i]);
	}
	if (!run || n == 0) {
		if (n == 0)
			printf("no actions configured (on_panic, on_wipe in "
			       "dazai.conf)\n");
		client_close(&c);
		return 0;
	}
	if ((rc = simple_request(&c, "actions --run", "REHEARSE")) != 0) {
		client_close(&c);
		return rc;
	}
	/* Each action takes at most action_timeout; an hour is plenty. */
	end = log_now_ms() + 3600 * 1000LL;
	for (i = 0; i < (int)n && log_now_ms() < end;) {
		snprintf(req, sizeof req, "RESULT %d", i);
		if ((rc = tail_request(&c, req, "RESULT", "stderr", reply,
			 sizeof reply, &st, &tail)) != 0) {
			client_close(&c);
			return rc;
		}
		v = client_status_get(&st, "state");
		if (v == NULL || strcmp(v, "done") != 0) {
			usleep(100000);
			continue;
		}
		v = client_status_get(&st, "status");
		status = v != NULL && parse_decimal(v, 255, &code) == 0 ?
		    (int)code :
		    -1;
		v = client_status_get(&st, "timed_out");
		late = v != NULL && strcmp(v, "1") == 0;
		client_printable(tail, err, sizeof err);
		say_result(i, ons[i], cmds[i], status, late, err);
		failed |= status != 0 || late;
		i++;
	}
	client_close(&c);
	if (i < (int)n) {
		log_warnx("actions: the rehearsal did not end within an hour");
		return CLIENT_EXIT_REFUSED;
	}
	return failed ? CLIENT_EXIT_REFUSED : 0;
}

/* mcp: the MCP server on standard input and output. */
static int
cmd_mcp(const struct ctx *x, const struct command *cmd, int argc, char **argv)
{
	(void)cmd;
	return mcp_main(x->path, x->is_default, argc, argv);
}

/* clang-format off */
static const struct command commands[] = {
	{ "status", "STATUS", 0, 1, "[--json]",
	    "the daemon's state, for a person or as JSON", NULL,
	    CMD_CONNECT, cmd_status },
	{ "load", "LOAD", 0, 3, "[--name NAME] [FILE]",
	    "send a secret (NAME, else default): FILE,\n"
	    "standard input, or typed at the terminal\n"
	    "with echo off", "one FILE and one --name NAME at most",
	    CMD_CONNECT | CMD_SECRET, cmd_load },
	{ "get", "GET", 0, 2, "[--tty] [NAME]",
	    "write the secret (NAME, else default) to\n"
	    "standard output (a terminal only with --tty)", NULL,
	    CMD_CONNECT | CMD_SECRET, cmd_get },
	{ "list", NULL, 0, 1, "[--json]",
	    "each held secret's name, size, reads and\n"
	    "expiry (never a byte of it)", NULL,
	    CMD_CONNECT, cmd_list },
	{ "exec", NULL, 0, -1, "[--fd N]... -- CMD ARGS",
	    "run CMD, registered with the daemon first,\n"
	    "with secrets handed over: --fd N[=NAME] on a\n"
	    "pipe at descriptor N (the default: --fd 0),\n"
	    "--env VAR[=NAME] in CMD's environment,\n"
	    "--fifo VAR[=NAME] through a FIFO (its path in\n"
	    "VAR) served once; several at once", NULL,
	    CMD_CONNECT | CMD_SECRET, cmd_exec },
	{ "register", "REGISTER", 1, 1, "PID",
	    "an armed panic SIGKILLs PID first", "needs one process id",
	    CMD_CONNECT, cmd_pid },
	{ "unregister", "UNREGISTER", 1, 1, "PID",
	    "forget PID", "needs one process id",
	    CMD_CONNECT, cmd_pid },
	{ "arm", "ARM", 0, 0, "",
	    "make the final SIGKILL real (no way back)", NULL,
	    CMD_CONNECT, cmd_verb },
	{ "wipe", "WIPE", 0, 1, "[NAME]",
	    "wipe secret NAME, or every secret; the\n"
	    "daemon stays up", "one NAME at most",
	    CMD_CONNECT, cmd_wipe },
	{ "panic", "PANIC", 0, 0, "",
	    "a graceful panic, as SIGUSR1", NULL,
	    CMD_CONNECT, cmd_verb },
	{ "cancel", NULL, 0, 0, "",
	    "abort a pending panic", "unexpected argument",
	    CMD_CONNECT, cmd_cancel },
	{ "actions", NULL, 0, 1, "[--run]",
	    "the panic and wipe actions; --run runs them\n"
	    "now, a rehearsal (the secret is untouched)", NULL,
	    CMD_CONNECT, cmd_actions },
	{ "mcp", NULL, 0, -1, "[--config P] [--guard]",
	    "an MCP server for an AI agent (stdio)", NULL,
	    CMD_CONNECT | CMD_SECRET, cmd_mcp },
};
/* clang-format on */
#define NCOMMANDS (sizeof commands / sizeof commands[0])

/* --help: the fixed lines around one usage line per command row. */
static void
usage(FILE *f)
{
	const struct command *cmd;
	const char	     *line, *nl;
	char		      synopsis[64];
	size_t		      i;

	fputs(usage_head, f);
	for (i = 0; i < NCOMMANDS; i++) {
		cmd = &commands[i];
		snprintf(synopsis, sizeof synopsis, "%s%s%s", cmd->name,
		    *cmd->args != '\0' ? " " : "", cmd->args);
		for (line = cmd->help;; line = nl + 1) {
			nl = strchrnul(line, '\n');
			fprintf(f, "  %-28s  %.*s\n",
			    line == cmd->help ? synopsis : "", (int)(nl - line),
			    line);
			if (*nl == '\0')
				break;
		}
	}
	fputs(usage_tail, f);
}

/* The row named name, or NULL. */
static const struct command *
command_find(const char *name)
{
	size_t i;

	for (i = 0; i < NCOMMANDS; i++)
		if (strcmp(name, commands[i].name) == 0)
			return &commands[i];
	return NULL;
}

/* Does argc (the name included) fit the row's bounds? Says why not. */
static int
command_fits(const struct command *cmd, int argc, char **argv)
{
	int n = argc - 1;

	if (n >= cmd->min && (cmd->max < 0 || n <= cmd->max))
		return 1;
	if (cmd->bad != NULL)
		log_warnx("%s: %s (see --help)", cmd->name, cmd->bad);
	else
		log_warnx("%s: unexpected argument '%s' (see --help)",
		    cmd->name, argv[1]);
	return 0;
}

/* Options, then the command's row: its bounds, socket and hardening. */
int
main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "socket", required_argument, NULL, 's' },
		{ "version", no_argument, NULL, 'V' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	char		      path[PATH_MAX], err[SOCKPATH_ERRLEN];
	const struct command *cmd;
	const char	     *sock = NULL;
	struct ctx	      x = { NULL, false };
	int		      ch;

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
			usage(stdout);
			return 0;
		case ':':
			log_warnx("%s: missing argument (see --help)",
			    argv[optind - 1]);
			return CLIENT_EXIT_USAGE;
		default:
			log_warnx("%s: unknown option (see --help)",
			    argv[optind - 1]);
			return CLIENT_EXIT_USAGE;
		}
	}
	if (optind >= argc) {
		log_warnx("no command (see --help)");
		return CLIENT_EXIT_USAGE;
	}
	if ((cmd = command_find(argv[optind])) == NULL) {
		log_warnx("%s: unknown command (see --help)", argv[optind]);
		return CLIENT_EXIT_USAGE;
	}
	if (!command_fits(cmd, argc - optind, argv + optind))
		return CLIENT_EXIT_USAGE;
	if (cmd->flags & CMD_CONNECT) {
		if (sockpath_resolve(sock, path, sizeof path, &x.is_default,
			err, sizeof err) != 0) {
			log_warnx("%s", err);
			return CLIENT_EXIT_USAGE;
		}
		x.path = path;
	}
	if (secbuf_init() != 0) {
		log_warnx("libsodium cannot initialise");
		return CLIENT_EXIT_REFUSED;
	}
	signal(SIGPIPE, SIG_IGN);
	if (cmd->flags & CMD_SECRET)
		harden();
	return cmd->run(&x, cmd, argc - optind, argv + optind);
}
