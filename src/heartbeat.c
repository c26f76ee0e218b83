/* SPDX-License-Identifier: ISC */
/*
 * dazai-heartbeat: hold the daemon's heartbeat connection for as long as
 * the watched process (by default our parent, the shell) lives.
 */
#include <sys/signalfd.h>
#include <sys/socket.h>

#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "dazai/client.h"
#include "dazai/log.h"
#include "dazai/parse.h"
#include "dazai/pidfd.h"
#include "dazai/proto.h"
#include "dazai/sandbox.h"
#include "dazai/sockpath.h"

#ifndef DAZAI_VERSION
#define DAZAI_VERSION "0.1.0"
#endif

#define EXIT_LOST     1
#define EXIT_USAGE    2
#define EXIT_BUSY     3
#define EXIT_NODAEMON 4
#define REPLY_TIMEOUT 10000 /* ms to wait for a reply */

/* What read_line returns besides 1 (a line) and 0 (end of file). */
#define READ_ERROR   (-1) /* poll(2) or read(2) failed: errno says */
#define READ_TIMEOUT (-2) /* no line within the timeout */
#define READ_TOOLONG \
	(-3) /* a line over PROTO_LINE_MAX: a protocol
				 * error, never read past (it would spin) */

/* clang-format off */
static const char usage_text[] =
"usage: dazai-heartbeat [--socket PATH] [--interval SEC] [--watch-pid PID]\n"
"                       [--cancel] [--quiet] [--status-lines] [--version]\n"
"                       [--help]\n"
"\n"
"Hold dazaid's heartbeat while the watched process lives. When this\n"
"client dies or is killed, the daemon sees the heartbeat lost and panics.\n"
"\n"
"  --socket PATH     daemon socket (default $DAZAI_SOCKET, else\n"
"                    $XDG_RUNTIME_DIR/dazai/dazai.sock)\n"
"  --interval SEC    seconds between PINGs (5)\n"
"  --watch-pid PID   exit when PID exits (default: the parent process)\n"
"  --cancel          cancel a pending panic: HELLO, CANCEL, print the\n"
"                    reply, QUIT\n"
"  --quiet           no informational messages\n"
"  --status-lines    also say each turn as a line \"dazai-heartbeat:\n"
"                    status=WORD\" (guarding, busy, nodaemon, lost,\n"
"                    stood-down), for a program to read\n"
"  --version         print the version and exit\n"
"  --help            print this help and exit\n"
"\n"
"Signals: SIGTERM, SIGHUP, SIGINT exit without QUIT (the daemon panics);\n"
"SIGUSR1 sends QUIT and exits 0 (stand down, no panic).\n"
"Exit status: 0 stood down, cancel done or ended on purpose; 1 lost the\n"
"daemon, no answer to HELLO within 10 s, or a protocol error (a reply\n"
"line over 256 bytes); 2 usage; 3 BUSY (another heartbeat holds the\n"
"guard); 4 no daemon.\n";
/* clang-format on */

static int quiet;
static int status_lines;

/*
 * With --status-lines, say a turn in a word made for a program to read
 * (shellrc.sh): one of guarding, busy, nodaemon, lost, stood-down. Said
 * before the message for a person, so that message stays the last line.
 */
static void
tell(const char *word)
{
	if (status_lines)
		log_info("status=%s", word);
}

/* Send one line; false on failure. */
static int
send_line(int fd, const char *line)
{
	size_t	len = strlen(line), off = 0;
	ssize_t n;

	while (off < len) {
		n = send(fd, line + off, len - off, MSG_NOSIGNAL);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return 0;
		off += (size_t)n;
	}
	return 1;
}

/*
 * Read the next line within timeout ms into out (NUL-terminated).
 * Returns 1, 0 on EOF, or READ_ERROR, READ_TIMEOUT, READ_TOOLONG.
 */
static int
read_line(int fd, struct proto_reader *rd, char *out, size_t outlen,
    int timeout)
{
	struct pollfd pfd = { fd, POLLIN, 0 };
	const char   *line;
	size_t	      len, room;
	ssize_t	      n;
	char	     *space;

	for (;;) {
		switch (proto_next_line(rd, &line, &len)) {
		case PROTO_FRAME_LINE:
			if (len >= outlen)
				len = outlen - 1;
			memcpy(out, line, len);
			out[len] = '\0';
			return 1;
		case PROTO_FRAME_TOOLONG:
			return READ_TOOLONG;
		case PROTO_FRAME_MORE:
			break;
		}
		switch (poll(&pfd, 1, timeout)) {
		case -1:
			return READ_ERROR;
		case 0:
			return READ_TIMEOUT;
		}
		space = proto_reader_space(rd, &room);
		n = read(fd, space, room);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return READ_ERROR;
		if (n == 0)
			return 0;
		proto_reader_added(rd, (size_t)n);
	}
}

/* A reply line over the protocol's limit: give up, saying so. */
/* clang-format off */
static void __attribute__((noreturn))
too_long(const char *path)
/* clang-format on */
{
	fatalx(EXIT_LOST,
	    "%s: protocol error: a reply line longer than %d "
	    "bytes; giving up",
	    path, PROTO_LINE_MAX);
}

/* Connect through the shared trust checks; exits with the documented
 * status on failure. */
static int
connect_trusted(const char *path, bool is_default)
{
	char err[SOCKPATH_ERRLEN];
	int  fd;

	if ((fd = sockpath_connect_trusted(path, is_default, err, sizeof err)) <
	    0) {
		if (errno == ENAMETOOLONG)
			fatalx(EXIT_USAGE, "%s", err);
		if (errno != EPERM) /* EPERM: one not to be trusted */
			tell("nodaemon");
		fatalx(EXIT_NODAEMON, "%s", err);
	}
	return fd;
}

/* Connect and say HELLO; exits with the documented status on failure. */
static int
handshake(const char *path, bool is_default, struct proto_reader *rd)
{
	char line[PROTO_LINE_MAX + 1];
	int  fd, rc, sent, send_errno;

	fd = connect_trusted(path, is_default);
	snprintf(line, sizeof line, "HELLO %d\n", (int)getpid());
	/* A busy daemon may have answered and closed before HELLO went
	 * out: read its reply even if the send failed. */
	sent = send_line(fd, line);
	send_errno = errno;
	proto_reader_init(rd);
	rc = read_line(fd, rd, line, sizeof line, sent ? REPLY_TIMEOUT : 0);
	if (rc == 1 && strcmp(line, "WELCOME") == 0)
		return fd;
	if (rc == 1 && strcmp(line, "BUSY") == 0) {
		tell("busy");
		fatalx(EXIT_BUSY,
		    "%s: BUSY: another heartbeat holds the "
		    "guard",
		    path);
	}
	if (rc == 1)
		fatalx(EXIT_LOST, "%s: unexpected reply to HELLO: %.64s", path,
		    line);
	if (rc == READ_TOOLONG)
		too_long(path);
	if (rc == READ_TIMEOUT && !sent)
		fatalx(EXIT_LOST, "%s: cannot send HELLO: %s", path,
		    strerror(send_errno));
	if (rc == READ_TIMEOUT)
		fatalx(EXIT_LOST,
		    "%s: no answer to HELLO within %d s (a "
		    "stopped or hung daemon?); giving up",
		    path, REPLY_TIMEOUT / 1000);
	if (rc == READ_ERROR)
		fatal(EXIT_LOST, "%s: reading the reply to HELLO", path);
	fatalx(EXIT_LOST,
	    "%s: the daemon closed the connection without "
	    "WELCOME",
	    path);
}

/*
 * --cancel: HELLO, CANCEL, print the reply, QUIT, through the exchange
 * dazai cancel uses; warn only when no other heartbeat is left.
 */
static int
do_cancel(const char *path, bool is_default)
{
	struct client_cancel cc;
	char		     err[CLIENT_ERRLEN], shown[CLIENT_ERRLEN];

	switch (client_cancel(path, is_default, &cc, err, sizeof err)) {
	case CLIENT_CANCEL_NODAEMON:
		fatalx(errno == ENAMETOOLONG ? EXIT_USAGE : EXIT_NODAEMON, "%s",
		    err);
	case CLIENT_CANCEL_BUSY:
		fatalx(EXIT_BUSY, "%s: %s", path, err);
	case CLIENT_CANCEL_FAILED:
		fatalx(EXIT_LOST, "%s: cancel: %s", path, err);
	case CLIENT_CANCEL_DONE:
		break;
	}
	client_printable(cc.reply, shown, sizeof shown);
	printf("%s\n", shown);
	fflush(stdout);
	if (cc.unguarded)
		log_warnx(
		    "WARNING: panic cancelled, and no heartbeat is "
		    "connected: the daemon at %s still holds the secret and "
		    "nothing ends it when your session ends; start a "
		    "heartbeat (source shellrc.sh again, or run "
		    "dazai-heartbeat) or stop the daemon (SIGTERM) to wipe "
		    "it",
		    path);
	return 0;
}

/* Without a pidfd: is the watched process gone? */
static int
watched_gone(pid_t pid, int is_parent)
{
	if (is_parent)
		return getppid() != pid;
	return kill(pid, 0) != 0 && errno == ESRCH;
}

/*
 * Confine ourselves once connected: from here on only the socket, the
 * pidfd, the signalfd, the clock and stderr are used. A refused call ends
 * us by SIGKILL (the daemon sees its heartbeat lost). Confinement failing
 * is a warning, not an exit: this process holds no secret, and leaving
 * would drop the guard.
 */
static void
confine(void)
{
	struct sandbox sb;
	char	       err[256];

	sandbox_init(&sb, SANDBOX_HEARTBEAT, "dazai-heartbeat", NULL, NULL, -1,
	    NULL);
	if (sandbox_confine(&sb, err, sizeof err) != 0)
		log_warnx("WARNING: running unconfined: %s", err);
	else if (log_verbose())
		log_debug("sandbox: %s",
		    sandbox_describe(&sb, err, sizeof err));
}

/* Stand down: QUIT, wait for BYE; returns the exit status. */
static int
stand_down(int fd, struct proto_reader *rd)
{
	char line[PROTO_LINE_MAX + 1];
	int  rc;

	if (!send_line(fd, "QUIT\n")) {
		tell("lost");
		fatalx(EXIT_LOST, "lost the daemon");
	}
	while ((rc = read_line(fd, rd, line, sizeof line, REPLY_TIMEOUT)) ==
		1 &&
	    strcmp(line, "BYE") != 0)
		;
	if (rc != 1)
		fatalx(EXIT_LOST, "no BYE after QUIT");
	tell("stood-down");
	if (!quiet)
		log_info("stood down (QUIT); the daemon keeps the secret");
	return 0;
}

/*
 * The signals that arrived while we waited for WELCOME, queued on the
 * signalfd: SIGUSR1 if a stand-down is among them, else the first of the
 * others, else 0.
 */
static int
early_signal(int sfd)
{
	struct pollfd		pfd = { sfd, POLLIN, 0 };
	struct signalfd_siginfo si;
	int			sig = 0;

	while (poll(&pfd, 1, 0) == 1 &&
	    read(sfd, &si, sizeof si) == sizeof si) {
		if (si.ssi_signo == SIGUSR1)
			return SIGUSR1;
		if (sig == 0)
			sig = (int)si.ssi_signo;
	}
	return sig;
}

/* Hold the heartbeat until something ends it; returns the exit status. */
static int
hold(const char *path, bool is_default, double interval, pid_t watch,
    int is_parent, int sfd)
{
	struct proto_reader	rd;
	struct pollfd		pfd[3];
	struct signalfd_siginfo si;
	char			line[PROTO_LINE_MAX + 1];
	long long		next, now;
	int			fd, pidfd, rc, timeout, step;
	bool			gone;

	/*
	 * A watched process that is already gone (or a zombie) ends the
	 * heartbeat exactly as its exit a moment later would: connect, then
	 * drop the connection, which the daemon sees as a loss. Never exit
	 * without connecting: that would guard nothing and say nothing.
	 */
	pidfd = sys_pidfd_open(watch);
	gone = (pidfd < 0 && errno == ESRCH) || watched_gone(watch, is_parent);
	fd = handshake(path, is_default, &rd);
	/*
	 * Told to stand down while the WELCOME was on its way (a shell that
	 * gave up on a slow daemon sends SIGUSR1, and may have been closed
	 * since): leave with QUIT before looking at the watched process, so
	 * that this connection never becomes a heartbeat that can be lost.
	 */
	switch (early_signal(sfd)) {
	case 0:
		break;
	case SIGUSR1:
		return stand_down(fd, &rd);
	default:
		close(fd); /* SIGTERM, SIGHUP, SIGINT: no QUIT */
		return 0;
	}
	if (gone) {
		log_warnx("watched process %d is already gone; dropping the "
			  "heartbeat at once",
		    (int)watch);
		close(fd);
		return 0;
	}
	confine();
	if (!quiet)
		log_info("guarding: heartbeat to %s, watching pid %d", path,
		    (int)watch);
	tell("guarding");
	step = (int)(interval * 1000);
	if (step < 1)
		step = 1;
	next = log_now_ms() + step;
	for (;;) {
		now = log_now_ms();
		if (now >= next) {
			if (!send_line(fd, "PING\n")) {
				tell("lost");
				fatalx(EXIT_LOST, "lost the daemon at %s",
				    path);
			}
			next = now + step;
		}
		timeout = (int)(next - now);
		if (pidfd < 0 && timeout > 1000)
			timeout = 1000;
		pfd[0] = (struct pollfd){ fd, POLLIN, 0 };
		pfd[1] = (struct pollfd){ sfd, POLLIN, 0 };
		pfd[2] = (struct pollfd){ pidfd, POLLIN, 0 };
		rc = poll(pfd, pidfd >= 0 ? 3 : 2, timeout);
		if (rc < 0 && errno != EINTR)
			fatal(EXIT_LOST, "poll");
		/* A stand-down seen at the same time as the watched
		 * process's exit wins: it was asked for. */
		if (pfd[1].revents & POLLIN) {
			if (read(sfd, &si, sizeof si) != sizeof si)
				continue;
			if (si.ssi_signo == SIGUSR1)
				return stand_down(fd, &rd);
			return 0; /* SIGTERM, SIGHUP, SIGINT: no QUIT */
		}
		if (pidfd >= 0 && (pfd[2].revents & POLLIN)) {
			if (!quiet)
				log_info("watched process %d exited; "
					 "dropping the heartbeat",
				    (int)watch);
			return 0;
		}
		if (pidfd < 0 && watched_gone(watch, is_parent)) {
			if (!quiet)
				log_info("watched process %d exited; "
					 "dropping the heartbeat",
				    (int)watch);
			return 0;
		}
		if (pfd[0].revents & (POLLIN | POLLHUP | POLLERR)) {
			rc = read_line(fd, &rd, line, sizeof line, 0);
			if (rc == READ_TOOLONG)
				too_long(path);
			if (rc == 0 ||
			    (pfd[0].revents & (POLLHUP | POLLERR) && rc != 1)) {
				tell("lost");
				fatalx(EXIT_LOST,
				    "lost the daemon at %s "
				    "(connection closed)",
				    path);
			}
			if (rc == 1 && strcmp(line, "PONG") != 0)
				log_warnx("unexpected reply: %.64s", line);
		}
	}
}

/* Add sig to set unless its inherited disposition is "ignore". */
static void
add_unless_ignored(sigset_t *set, int sig)
{
	struct sigaction sa;

	if (sigaction(sig, NULL, &sa) == 0 && sa.sa_handler == SIG_IGN)
		return;
	sigaddset(set, sig);
}

/* Options, then the heartbeat held (or one --cancel exchange). */
int
main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "socket", required_argument, NULL, 's' },
		{ "interval", required_argument, NULL, 'i' },
		{ "watch-pid", required_argument, NULL, 'w' },
		{ "cancel", no_argument, NULL, 'c' },
		{ "quiet", no_argument, NULL, 'q' },
		{ "status-lines", no_argument, NULL, 'S' },
		{ "version", no_argument, NULL, 'V' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	char	    defpath[PATH_MAX], err[SOCKPATH_ERRLEN];
	const char *path = NULL;
	double	    interval = 5;
	pid_t	    watch = 0;
	sigset_t    set;
	int	    ch, cancel = 0, sfd, pid;
	bool	    is_default;

	log_init("dazai-heartbeat", 0);
	opterr = 0;
	while ((ch = getopt_long(argc, argv, ":", opts, NULL)) != -1) {
		switch (ch) {
		case 's':
			path = optarg;
			break;
		case 'i':
			if (parse_seconds(optarg, &interval) != 0 ||
			    interval <= 0)
				fatalx(EXIT_USAGE,
				    "--interval: '%s' is not a "
				    "positive number of seconds",
				    optarg);
			break;
		case 'w':
			if (parse_pid(optarg, &pid) != 0)
				fatalx(EXIT_USAGE,
				    "--watch-pid: '%s' is not a "
				    "process id",
				    optarg);
			watch = (pid_t)pid;
			break;
		case 'c':
			cancel = 1;
			break;
		case 'q':
			quiet = 1;
			break;
		case 'S':
			status_lines = 1;
			break;
		case 'V':
			printf("dazai-heartbeat %s\n", DAZAI_VERSION);
			return 0;
		case 'h':
			fputs(usage_text, stdout);
			return 0;
		case ':':
			fatalx(EXIT_USAGE, "%s: missing argument (see --help)",
			    argv[optind - 1]);
		default:
			fatalx(EXIT_USAGE, "%s: unknown option (see --help)",
			    argv[optind - 1]);
		}
	}
	if (optind < argc)
		fatalx(EXIT_USAGE, "%s: unexpected argument (see --help)",
		    argv[optind]);
	if (sockpath_resolve(path, defpath, sizeof defpath, &is_default, err,
		sizeof err) != 0)
		fatalx(EXIT_USAGE, "%s", err);
	path = defpath;
	signal(SIGPIPE, SIG_IGN);
	if (cancel)
		return do_cancel(path, is_default);

	/*
	 * Signals become readable events, blocked from the start. A signal
	 * ignored by whoever started us (SIGINT and SIGHUP for a background
	 * job) stays ignored: blocking it would queue it for the signalfd and
	 * a ^C at the shell's prompt would end the guard.
	 */
	sigemptyset(&set);
	add_unless_ignored(&set, SIGTERM);
	add_unless_ignored(&set, SIGHUP);
	add_unless_ignored(&set, SIGINT);
	sigaddset(&set, SIGUSR1);
	if (sigprocmask(SIG_BLOCK, &set, NULL) != 0 ||
	    (sfd = signalfd(-1, &set, SFD_CLOEXEC)) < 0)
		fatal(EXIT_LOST, "signalfd");
	if (watch == 0)
		return hold(path, is_default, interval, getppid(), 1, sfd);
	return hold(path, is_default, interval, watch, 0, sfd);
}
