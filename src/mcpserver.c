/* SPDX-License-Identifier: ISC */
/*
 * dazai mcp's edges: the options, the loop over standard input, the
 * replies on standard output (nothing else is ever written there), the
 * daemon's side of the tools through the client's request functions, and
 * --guard's heartbeat.
 */
#include <sys/prctl.h>
#include <sys/socket.h>

#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "dazai/client.h"
#include "dazai/log.h"
#include "dazai/mcp.h"
#include "dazai/mcptool.h"
#include "dazai/pidfd.h"
#include "dazai/sockpath.h"

#define EXIT_FAILED    1
#define EXIT_USAGE     2
#define EXIT_NODAEMON  4
#define GUARD_INTERVAL 5000 /* ms between the guard's PINGs */

/* clang-format off */
static const char mcp_usage[] =
"usage: dazai mcp [--socket PATH] [--config PATH] [--guard]\n"
"\n"
"A Model Context Protocol server on standard input and output, for an\n"
"AI agent: the dazai_* tools drive the daemon. Logs go to standard\n"
"error; standard input's end exits 0.\n"
"\n"
"  --socket PATH  daemon socket (as dazai --socket)\n"
"  --config PATH  the [tool NAME] sections (default\n"
"                 $XDG_CONFIG_HOME/dazai/dazai.conf, as dazaid)\n"
"  --guard        hold a heartbeat while the MCP session lasts: its end\n"
"                 (standard input closed, this server killed) is a lost\n"
"                 heartbeat\n"
"\n"
"A [tool NAME] section's secret_to hands its command the secret:\n"
"  stdin          on its standard input (the default)\n"
"  env:VAR        in its environment variable VAR (no NUL byte)\n"
"  fifo:VAR       through a FIFO in a private directory, its path in VAR:\n"
"                 one open, read once; never opened, never sent; removed\n"
"                 when the call ends (the timeout holds meanwhile)\n";
/* clang-format on */

/* Where the daemon is, the command tools, and the guard's heartbeat. */
struct mcp_daemon {
	const char	  *path;
	bool		   is_default;
	struct mcptool_set tools;
	struct client	   guard;
	bool		   guarding;
	long long	   next_ping; /* CLOCK_MONOTONIC ms */
};

/* Milliseconds on the monotonic clock. */
static long long
mcp_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* One control request on a connection of its own. */
static int
mcp_daemon_request(void *arg, const char *line, char *reply, size_t len,
    char *err, size_t errlen)
{
	struct mcp_daemon *d = arg;
	struct client	   c;
	int		   rc;

	if (client_open(&c, d->path, d->is_default, err, errlen) != 0)
		return -1;
	rc = client_request(&c, line, reply, len, err, errlen);
	client_close(&c);
	return rc;
}

/*
 * SIGUSR2 to the daemon serving the socket: its pid is the socket's
 * SO_PEERCRED, after client_open's trust checks. A pidfd is opened on it
 * and then the daemon must still answer PING on the connection, so the
 * pidfd names the daemon itself and not a process that took its pid.
 */
static int
mcp_daemon_hard_panic(void *arg, char *msg, size_t len)
{
	struct mcp_daemon *d = arg;
	struct client	   c;
	char		   reply[CLIENT_REPLY_MAX + 1];
	uid_t		   uid;
	pid_t		   pid;
	int		   pidfd;

	if (client_open(&c, d->path, d->is_default, msg, len) != 0)
		return -1;
	if (!sockpath_peer_allowed(c.fd, &uid, &pid) || pid <= 0) {
		snprintf(msg, len, "%s: no peer credentials", d->path);
		client_close(&c);
		return -1;
	}
	if ((pidfd = sys_pidfd_open(pid)) < 0) {
		snprintf(msg, len, "pidfd_open(%d): %s", (int)pid,
		    strerror(errno));
		client_close(&c);
		return -1;
	}
	if (client_request(&c, "PING", reply, sizeof reply, msg, len) != 0 ||
	    strcmp(reply, "PONG") != 0) {
		if (strcmp(reply, "PONG") != 0)
			snprintf(msg, len, "the daemon did not answer PING");
		close(pidfd);
		client_close(&c);
		return -1;
	}
	client_close(&c);
	if (sys_pidfd_send_signal(pidfd, SIGUSR2) != 0) {
		snprintf(msg, len, "SIGUSR2 to pid %d: %s", (int)pid,
		    strerror(errno));
		close(pidfd);
		return -1;
	}
	close(pidfd);
	snprintf(msg, len, "SIGUSR2 sent to the daemon (pid %d)", (int)pid);
	log_info("hard panic: SIGUSR2 sent to pid %d", (int)pid);
	return 0;
}


/*
 * The default config file, dazaid's: $XDG_CONFIG_HOME/dazai/dazai.conf,
 * else ~/.config/dazai/dazai.conf. Returns 0, or -1 when neither can be
 * named (no file, then).
 */
static int
mcp_config_default(char *buf, size_t len)
{
	const char *xdg = getenv("XDG_CONFIG_HOME"), *home = getenv("HOME");
	int	    n;

	if (xdg != NULL && xdg[0] == '/')
		n = snprintf(buf, len, "%s/dazai/dazai.conf", xdg);
	else if (home != NULL && home[0] == '/')
		n = snprintf(buf, len, "%s/.config/dazai/dazai.conf", home);
	else
		return -1;
	return n < 0 || (size_t)n >= len ? -1 : 0;
}

/*
 * --guard: HELLO on a heartbeat connection of our own. Returns 0, or the
 * exit status after saying why not.
 */
static int
mcp_guard_open(struct mcp_daemon *d)
{
	char line[64], reply[CLIENT_REPLY_MAX + 1], err[CLIENT_ERRLEN],
	    shown[96];

	if (client_open(&d->guard, d->path, d->is_default, err, sizeof err) !=
	    0) {
		log_warnx("mcp: --guard: %s", err);
		return errno == ETIMEDOUT ? EXIT_FAILED : EXIT_NODAEMON;
	}
	snprintf(line, sizeof line, "HELLO %d", (int)getpid());
	if (client_request(&d->guard, line, reply, sizeof reply, err,
		sizeof err) != 0) {
		log_warnx("mcp: --guard: %s", err);
		client_close(&d->guard);
		return EXIT_FAILED;
	}
	if (strcmp(reply, "WELCOME") != 0) {
		client_printable(reply, shown, sizeof shown);
		log_warnx("mcp: --guard: %s",
		    strcmp(reply, "BUSY") == 0 ?
			"BUSY: another heartbeat holds the guard" :
			shown);
		client_close(&d->guard);
		return EXIT_FAILED;
	}
	d->guarding = true;
	d->next_ping = mcp_now() + GUARD_INTERVAL;
	return 0;
}

/* The guard's heartbeat is gone: say so once; the tools still work. */
static void
mcp_guard_lost(struct mcp_daemon *d, const char *why)
{
	log_warnx("mcp: --guard: the heartbeat is lost (%s); the MCP "
		  "session is no longer guarded",
	    why);
	client_close(&d->guard);
	d->guarding = false;
}

/* Time for the guard's PING: send it and expect PONG. */
static void
mcp_guard_ping(struct mcp_daemon *d)
{
	char reply[CLIENT_REPLY_MAX + 1], err[CLIENT_ERRLEN];

	if (client_request(&d->guard, "PING", reply, sizeof reply, err,
		sizeof err) != 0) {
		mcp_guard_lost(d, err);
		return;
	}
	if (strcmp(reply, "PONG") != 0) {
		mcp_guard_lost(d, "no PONG");
		return;
	}
	d->next_ping = mcp_now() + GUARD_INTERVAL;
}

/* While a command tool runs: the guard's PING when it is due. */
static void
mcp_guard_tick(void *arg)
{
	struct mcp_daemon *d = arg;

	if (d->guarding && mcp_now() >= d->next_ping)
		mcp_guard_ping(d);
}

/* One call of command tool n, the guard kept up meanwhile. */
static void
mcp_daemon_run(void *arg, size_t n, struct mcp_run *r)
{
	struct mcp_daemon *d = arg;

	if (n < d->tools.n)
		mcptool_run(d->path, d->is_default, &d->tools.t[n], r,
		    mcp_guard_tick, d);
}

static const struct mcp_ops mcp_daemon_ops = {
	mcp_daemon_request,
	mcp_daemon_hard_panic,
	mcp_daemon_run,
};

/* Write all of buf to standard output; false on failure. */
static bool
mcp_write(const char *buf, size_t len)
{
	size_t	off = 0;
	ssize_t n;

	while (off < len) {
		n = write(STDOUT_FILENO, buf + off, len - off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return false;
		off += (size_t)n;
	}
	return true;
}

/* Send one reply line (freed here); false if standard output failed. */
static bool
mcp_send(char *reply)
{
	bool ok;

	if (reply == NULL)
		return true;
	ok = mcp_write(reply, strlen(reply)) && mcp_write("\n", 1);
	mcp_free(reply);
	return ok;
}

/*
 * Answer every whole line in the reader (and, at the end of input, the
 * unterminated rest). Returns false if standard output failed.
 */
static bool
mcp_drain(struct mcp_server *s, struct mcp_reader *rd, bool eof)
{
	const char *line;
	size_t	    len;

	for (;;) {
		switch (mcp_next_line(rd, &line, &len)) {
		case MCP_FRAME_LINE:
			if (!mcp_send(mcp_handle(s, line, len)))
				return false;
			continue;
		case MCP_FRAME_TOOLONG:
			log_warnx("mcp: a message over %d bytes; dropped",
			    MCP_LINE_MAX);
			if (!mcp_send(mcp_error_line(MCP_INVALID_REQUEST,
				"Invalid Request: a message over 65536 bytes")))
				return false;
			continue;
		case MCP_FRAME_MORE:
			break;
		}
		break;
	}
	if (eof && rd->len > 0 && !rd->discarding) {
		len = rd->len;
		rd->len = 0;
		return mcp_send(mcp_handle(s, rd->buf, len));
	}
	return true;
}

/* Serve standard input until its end. Returns the exit status. */
static int
mcp_serve(struct mcp_daemon *d)
{
	static struct mcp_reader rd;
	struct mcp_server	 s;
	struct pollfd		 pfd[2];
	long long		 left;
	size_t			 room;
	ssize_t			 n;
	char			*space;
	int			 nfd, timeout;

	mcp_reader_init(&rd);
	mcp_server_init(&s, &mcp_daemon_ops, d);
	s.cmd = d->tools.t;
	s.ncmd = d->tools.n;
	for (;;) {
		pfd[0] = (struct pollfd){ STDIN_FILENO, POLLIN, 0 };
		nfd = 1;
		timeout = -1;
		if (d->guarding) {
			pfd[1] = (struct pollfd){ d->guard.fd, POLLIN, 0 };
			nfd = 2;
			left = d->next_ping - mcp_now();
			timeout = left < 0 ? 0 :
			    left > INT_MAX ? INT_MAX :
					     (int)left;
		}
		if (poll(pfd, (nfds_t)nfd, timeout) < 0) {
			if (errno == EINTR)
				continue;
			log_warn("mcp: poll");
			return EXIT_FAILED;
		}
		if (d->guarding && pfd[1].revents != 0)
			mcp_guard_lost(d, "the daemon closed the connection");
		else if (d->guarding && mcp_now() >= d->next_ping)
			mcp_guard_ping(d);
		if (pfd[0].revents == 0)
			continue;
		space = mcp_reader_space(&rd, &room);
		if ((n = read(STDIN_FILENO, space, room)) < 0) {
			if (errno == EINTR || errno == EAGAIN)
				continue;
			log_warn("mcp: standard input");
			return EXIT_FAILED;
		}
		mcp_reader_added(&rd, (size_t)n);
		if (!mcp_drain(&s, &rd, n == 0)) {
			log_warn("mcp: standard output");
			return EXIT_FAILED;
		}
		if (n == 0)
			return 0;
	}
}

/*
 * dazai mcp [--socket PATH] [--config PATH] [--guard]: argv[0] is "mcp";
 * path is the socket dazai's own options chose. Returns the exit status.
 */
int
mcp_main(const char *path, bool is_default, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "socket", required_argument, NULL, 's' },
		{ "config", required_argument, NULL, 'c' },
		{ "guard", no_argument, NULL, 'g' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct mcp_daemon d;
	char		  sock[PATH_MAX], err[SOCKPATH_ERRLEN], conf[PATH_MAX],
	    why[MCP_ERRLEN];
	const char *config = NULL;
	bool	    guard = false;
	int	    ch, rc;

	memset(&d, 0, sizeof d);
	d.path = path;
	d.is_default = is_default;
	d.guard.fd = -1;
	optind = 0;
	opterr = 0;
	while ((ch = getopt_long(argc, argv, "+:", opts, NULL)) != -1) {
		switch (ch) {
		case 's':
			if (sockpath_resolve(optarg, sock, sizeof sock,
				&d.is_default, err, sizeof err) != 0) {
				log_warnx("mcp: %s", err);
				return EXIT_USAGE;
			}
			d.path = sock;
			break;
		case 'c':
			config = optarg;
			break;
		case 'g':
			guard = true;
			break;
		case 'h':
			fputs(mcp_usage, stderr);
			return 0;
		case ':':
			log_warnx("mcp: %s: missing argument (see --help)",
			    argv[optind - 1]);
			return EXIT_USAGE;
		default:
			log_warnx("mcp: %s: unknown option (see --help)",
			    argv[optind - 1]);
			return EXIT_USAGE;
		}
	}
	if (optind < argc) {
		log_warnx("mcp: unexpected argument '%s' (see --help)",
		    argv[optind]);
		return EXIT_USAGE;
	}
	if (config == NULL && mcp_config_default(conf, sizeof conf) == 0)
		config = conf;
	if (config != NULL &&
	    mcptool_load(&d.tools, config, config != conf, why, sizeof why) !=
		0) {
		log_warnx("mcp: %s", why);
		return EXIT_USAGE;
	}
	/*
	 * A command tool holds the secret here for the length of its call:
	 * while it can, nobody of our uid may ptrace us or read our memory,
	 * and a crash leaves no core.
	 */
	if (d.tools.n > 0 && prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) != 0)
		log_warn("mcp: prctl(PR_SET_DUMPABLE)");
	mcp_json_init();
	if (guard && (rc = mcp_guard_open(&d)) != 0) {
		mcptool_free(&d.tools);
		return rc;
	}
	/* At the end no QUIT: with --guard, closing the heartbeat
	 * without one is what makes the session's end a lost heartbeat. */
	rc = mcp_serve(&d);
	client_close(&d.guard);
	mcptool_free(&d.tools);
	return rc;
}
