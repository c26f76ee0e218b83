/* SPDX-License-Identifier: ISC */
/*
 * The event loop: the listener, the one client, the timers and the
 * signals. Callbacks move bytes and dispatch; proto decides what a line
 * means and policy decides what an event does.
 */
#include <sys/ioctl.h>
#include <sys/socket.h>

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <ev.h>

#include "dazai/daemon.h"
#include "dazai/log.h"
#include "dazai/sockpath.h"

#define container_of(p, type, member) \
	((type *)(void *)((char *)(p) - offsetof(type, member)))

/*
 * What the handlers that act inside a signal need, set before any secret
 * exists: whether the final SIGKILL is real, and the socket to remove.
 */
static volatile sig_atomic_t hard_armed;
static char hard_socket[SOCKPATH_MAX + 1];

/* Write a constant message from a handler (async-signal-safe). */
#define HARD_SAY(msg)	log_raw((msg), sizeof (msg) - 1)

/*
 * The part of every hard path that must happen before the process ends:
 * zero the secret (secmem_emergency_wipe: mprotect and memset), then
 * remove the socket (unlink). Async-signal-safe.
 */
static void
daemon_hard_wipe(void)
{
	if (secmem_emergency_wipe() != 0)
		HARD_SAY("dazaid: WIPE FAILED: the secret memory could not be "
		    "made writable\n");
	if (hard_socket[0] != '\0')
		unlink(hard_socket);
}

/*
 * Under --verbose, say when the keys were zeroed (CLOCK_MONOTONIC): the
 * moment the secret became unrecoverable. Formatted by hand with write(2)
 * only, so that a signal handler may call it.
 */
static void
daemon_log_zeroed(const char *who)
{
	static const char	 tail[] = " (CLOCK_MONOTONIC)\n";
	struct timespec		 ts;
	char			 line[128], digits[24];
	size_t			 off = 0, n, i;
	unsigned long long	 v;

	if (!log_verbose())
		return;
	secmem_keys_zeroed_at(&ts);
#define DAEMON_PUT(s, l) do {						\
	if (off + (l) < sizeof line) {					\
		memcpy(line + off, (s), (l));				\
		off += (l);						\
	}								\
} while (0)
	DAEMON_PUT("dazaid: ", 8);
	DAEMON_PUT(who, strlen(who));
	DAEMON_PUT("prekey zeroed at ", 17);
	v = (unsigned long long)ts.tv_sec;
	n = 0;
	do
		digits[n++] = (char)('0' + v % 10);
	while ((v /= 10) != 0);
	for (i = 0; i < n; i++)
		line[off + i] = digits[n - 1 - i];
	off += n;
	DAEMON_PUT(".", 1);
	v = (unsigned long long)ts.tv_nsec;
	for (i = 0; i < 9; i++, v /= 10)
		digits[8 - i] = (char)('0' + v % 10);
	DAEMON_PUT(digits, 9);
	DAEMON_PUT(tail, sizeof tail - 1);
#undef DAEMON_PUT
	log_raw(line, off);
}

/*
 * SIGUSR2: hard panic inside the handler. Only async-signal-safe calls:
 * mprotect, memset and clock_gettime (daemon_hard_wipe), unlink, kill,
 * write or send (log_raw, which never blocks), _exit.
 */
static void
daemon_hard_panic(int sig)
{
	(void)sig;
	daemon_hard_wipe();
	daemon_log_zeroed("SIGUSR2: ");
	if (hard_armed) {
		kill(getpid(), SIGKILL);
		_exit(137);
	}
	HARD_SAY("dazaid: SIGUSR2: secret wiped; WOULD SIGKILL (dry-run)\n");
	_exit(0);
}

/*
 * Every other signal whose default action ends the process: wipe, then
 * die of the same signal with its default action (SA_RESETHAND restored
 * it; SA_NODEFER lets raise deliver it now). Async-signal-safe as above.
 */
static void
daemon_fatal_signal(int sig)
{
	daemon_hard_wipe();
	raise(sig);
}

/*
 * fatal() and fatalx() end the process through this hook: the secret is
 * zeroed and the socket removed first, whatever the error was.
 */
static void
daemon_fatal_exit(int status)
{
	daemon_hard_wipe();
	exit(status);
}

/*
 * Install the dispositions that act inside a handler, ignore SIGPIPE and
 * make fatal() wipe. Called before any secret byte exists. SIGUSR1,
 * SIGTERM, SIGINT and SIGHUP go through the loop (daemon_init).
 */
void
daemon_install_hard_signals(bool armed)
{
	static const int	 fatal_sigs[] = { SIGSEGV, SIGBUS, SIGILL,
				    SIGFPE, SIGABRT, SIGQUIT, SIGALRM, SIGSYS,
				    SIGTRAP, SIGXCPU, SIGXFSZ, SIGVTALRM,
				    SIGPROF, SIGPWR, SIGSTKFLT, SIGIO };
	struct sigaction	 sa;
	size_t			 i;
	int			 sig;

	hard_armed = armed;
	log_set_exit_hook(daemon_fatal_exit);
	memset(&sa, 0, sizeof sa);
	sigfillset(&sa.sa_mask);
	sa.sa_handler = daemon_hard_panic;
	if (sigaction(SIGUSR2, &sa, NULL) != 0)
		fatal(1, "sigaction SIGUSR2");

	memset(&sa, 0, sizeof sa);
	sigemptyset(&sa.sa_mask);
	sa.sa_handler = daemon_fatal_signal;
	sa.sa_flags = SA_RESETHAND | SA_NODEFER;
	for (i = 0; i < sizeof fatal_sigs / sizeof fatal_sigs[0]; i++)
		if (sigaction(fatal_sigs[i], &sa, NULL) != 0)
			fatal(1, "sigaction %d", fatal_sigs[i]);
	/* The real-time signals also terminate by default. One that the
	 * runtime keeps for itself (EINVAL: valgrind holds SIGRTMAX) is
	 * not ours to catch. */
	for (sig = SIGRTMIN; sig <= SIGRTMAX; sig++)
		if (sigaction(sig, &sa, NULL) != 0 && errno != EINVAL)
			fatal(1, "sigaction %d", sig);

	memset(&sa, 0, sizeof sa);
	sa.sa_handler = SIG_IGN;
	if (sigaction(SIGPIPE, &sa, NULL) != 0)
		fatal(1, "sigaction SIGPIPE");
}

/* Name the socket the hard paths remove (before it is created). */
void
daemon_set_hard_socket(const char *path)
{
	size_t	 n = strlen(path);

	if (n >= sizeof hard_socket)
		n = 0;
	memcpy(hard_socket, path, n);
	hard_socket[n] = '\0';
}

/* Seconds on the monotonic clock: every deadline is measured on it. */
static double
daemon_mono(void)
{
	struct timespec	 ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Policy action: overwrite the secret; say so only if it was done. */
static void
daemon_do_wipe(void *arg)
{
	struct daemon	*d = arg;
	size_t		 len = d->secret != NULL ? d->secret->len : 0;

	if (d->secret != NULL && secmem_wipe(d->secret) != 0) {
		log_warn("WIPE FAILED: the secret memory could not be made "
		    "writable");
		return;
	}
	daemon_log_zeroed("");
	log_info("secret wiped (%zu bytes overwritten with zeros, after the "
	    "prekey and key)", len);
}

/* Policy action, armed: die now. */
static void
daemon_do_kill(void *arg)
{
	(void)arg;
	kill(getpid(), SIGKILL);
	_exit(137);
}

/* Policy action, dry-run: say what armed would do. */
static void
daemon_do_would_kill(void *arg)
{
	(void)arg;
	log_info("WOULD SIGKILL (dry-run: exiting 0 instead)");
}

/*
 * Format a monotonic deadline as the wall-clock time it falls on, for log
 * lines only.
 */
static void
daemon_clock(double mono, char *buf, size_t len)
{
	time_t		 s = time(NULL) + (time_t)(mono - daemon_mono() + 0.5);
	struct tm	 tm;

	if (localtime_r(&s, &tm) == NULL ||
	    strftime(buf, len, "%H:%M:%S", &tm) == 0)
		snprintf(buf, len, "%lld", (long long)s);
}

/* Carry out what the policy asked for. */
static void
daemon_apply(struct daemon *d, const struct policy_out *out, const char *why)
{
	char	 when[32];

	if (out->aborted) {
		ev_timer_stop(d->loop, &d->grace_w);
		log_info("pending panic aborted (%s); now %s", why,
		    policy_state_name(d->policy.state));
	}
	if (out->escalated)
		log_info("panic requested during the grace window: only CANCEL "
		    "ends it now, a reconnecting heartbeat does not");
	if (out->started) {
		daemon_clock(out->deadline, when, sizeof when);
		log_info("panic (%s): grace window of %gs, wipe at %s unless "
		    "cancelled", why, d->grace, when);
	}
	if (out->arm_timer) {
		double left = out->deadline - daemon_mono();

		ev_timer_stop(d->loop, &d->grace_w);
		ev_timer_set(&d->grace_w, left > 0 ? left : 0, 0);
		ev_timer_start(d->loop, &d->grace_w);
	}
	if (out->fired) {
		d->exit_status = 0;
		d->stopping = true;
		ev_break(d->loop, EVBREAK_ALL);
	}
}

/* Feed the policy an event and carry out the answer. */
static struct policy_out
daemon_event(struct daemon *d, enum policy_event ev, const char *why)
{
	struct policy_out out;

	if (ev == POLICY_EV_LOST || ev == POLICY_EV_PANIC)
		log_info("%s", why);
	out = policy_step(&d->policy, ev, daemon_mono());
	daemon_apply(d, &out, why);
	return out;
}

/* Close the client; lost says whether that loses the heartbeat. */
static void
client_close(struct client *c, bool lost, const char *why)
{
	struct daemon	*d = c->d;

	ev_io_stop(d->loop, &c->read_w);
	ev_io_stop(d->loop, &c->write_w);
	ev_timer_stop(d->loop, &c->hello_w);
	ev_timer_stop(d->loop, &c->ping_w);
	close(c->fd);
	d->client = NULL;
	free(c);
	if (lost)
		daemon_event(d, POLICY_EV_LOST, why);
	ev_io_start(d->loop, &d->accept_w);
}

/*
 * Write what is queued. Returns 1 when all of it went (or the peer takes
 * no more and the client turned mute), 0 when the peer's buffer is full
 * (the rest stays queued), -1 when a client that said QUIT is gone (then
 * it has been closed).
 */
static int
client_flush(struct client *c)
{
	ssize_t	 n;

	while (c->outlen > 0) {
		n = send(c->fd, c->out, c->outlen, MSG_NOSIGNAL |
		    MSG_DONTWAIT);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			return 0;
		if (n <= 0) {
			if (c->quitting) {
				client_close(c, false, NULL);
				return -1;
			}
			/*
			 * The peer takes no more replies (it closed, or shut
			 * its reading side). What it sent still counts: drop
			 * the replies and read on without answering. EOF then
			 * decides, and a QUIT among the unread lines is
			 * honoured as a stand-down.
			 */
			log_debug("connection from pid %d: cannot write to it; "
			    "reading what it sent", c->peer_pid);
			c->mute = true;
			c->outlen = 0;
			return 1;
		}
		c->outlen -= (size_t)n;
		memmove(c->out, c->out + n, c->outlen);
	}
	return 1;
}

/*
 * Queue a reply and try to send it; false if the client has been closed
 * (client_flush). A peer that does not read its replies is not dropped:
 * the daemon stops reading from it until it does (client_process).
 */
static bool
client_send(struct client *c, const char *msg, size_t len)
{
	if (c->mute)
		return true;
	if (len > sizeof c->out - c->outlen)
		fatalx(1, "reply queue overflow (%zu + %zu bytes)",
		    c->outlen, len);
	memcpy(c->out + c->outlen, msg, len);
	c->outlen += len;
	return client_flush(c) >= 0;
}

/* Send "ERR reason". */
static bool
client_error(struct client *c, const char *reason)
{
	char	 buf[128];
	int	 n;

	if ((n = proto_format_error(buf, sizeof buf, reason)) < 0)
		return false;
	return client_send(c, buf, (size_t)n);
}

/* Act on one line; false once the client is gone. */
static bool
client_line(struct client *c, const char *line, size_t len)
{
	struct daemon		*d = c->d;
	struct proto_cmd	 cmd;
	struct policy_out	 out;
	const char		*err;

	if (c->hello && d->ping_timeout > 0)
		ev_timer_again(d->loop, &c->ping_w);
	if ((err = proto_parse_line(line, len, &cmd)) != NULL ||
	    (err = proto_admit(c->hello, &cmd)) != NULL)
		return client_error(c, err);
	switch (cmd.verb) {
	case PROTO_HELLO:
		/*
		 * A heartbeat exists once WELCOME reached it. A HELLO that
		 * waited in the backlog while its client gave up and closed
		 * is read with that EOF: the WELCOME cannot be delivered,
		 * and that closing must not count as a loss.
		 */
		if (!client_send(c, PROTO_WELCOME, strlen(PROTO_WELCOME)))
			return false;
		if (c->mute) {
			log_info("connection from pid %d: HELLO %d, but it left "
			    "before WELCOME; never a heartbeat", c->peer_pid,
			    cmd.pid);
			client_close(c, false, NULL);
			return false;
		}
		c->hello = true;
		ev_timer_stop(d->loop, &c->hello_w);
		if (d->ping_timeout > 0) {
			c->ping_w.repeat = d->ping_timeout;
			ev_timer_again(d->loop, &c->ping_w);
		}
		log_info("heartbeat connected: HELLO %d (peer pid %d)",
		    cmd.pid, c->peer_pid);
		daemon_event(d, POLICY_EV_HELLO, "heartbeat reconnected");
		return true;
	case PROTO_PING:
		return client_send(c, PROTO_PONG, strlen(PROTO_PONG));
	case PROTO_CANCEL:
		out = daemon_event(d, POLICY_EV_CANCEL, "CANCEL");
		if (out.reply == POLICY_REPLY_CANCELLED)
			return client_send(c, PROTO_CANCELLED,
			    strlen(PROTO_CANCELLED));
		return client_error(c, "no pending panic");
	case PROTO_QUIT:
		daemon_event(d, POLICY_EV_QUIT, "QUIT");
		log_info("heartbeat stood down (QUIT); secret kept, waiting "
		    "for the next heartbeat");
		c->quitting = true;
		ev_timer_stop(d->loop, &c->ping_w);
		ev_timer_stop(d->loop, &c->hello_w);
		ev_timer_set(&c->hello_w, DAEMON_HELLO_TIMEOUT, 0);
		ev_timer_start(d->loop, &c->hello_w);
		return client_send(c, PROTO_BYE, strlen(PROTO_BYE));
	}
	return true;
}

/*
 * Dispatch the lines already read, one reply at a time: while a reply
 * waits for the peer to read, stop reading from it and wait for the
 * socket to drain, so a pipelining or slow reader costs no memory and is
 * never taken for a lost heartbeat. After QUIT, close once BYE is out.
 */
static void
client_process(struct client *c)
{
	struct daemon	*d = c->d;
	const char	*line;
	size_t		 len;

	while (c->outlen == 0 && !c->quitting) {
		switch (proto_next_line(&c->rd, &line, &len)) {
		case PROTO_FRAME_MORE:
			ev_io_stop(d->loop, &c->write_w);
			ev_io_start(d->loop, &c->read_w);
			return;
		case PROTO_FRAME_TOOLONG:
			if (client_error(c, "line too long"))
				client_close(c, c->hello, "heartbeat lost: "
				    "it sent an over-long line");
			return;
		case PROTO_FRAME_LINE:
			if (!client_line(c, line, len))
				return;
			break;
		}
	}
	if (c->outlen == 0) {		/* quitting, BYE sent */
		client_close(c, false, NULL);
		return;
	}
	/* Stalled: note how much input waits, for client_ping_cb. */
	if (ioctl(c->fd, FIONREAD, &c->stall_seen) != 0)
		c->stall_seen = 0;
	ev_io_stop(d->loop, &c->read_w);
	ev_io_start(d->loop, &c->write_w);
}

/* Bytes from the client: frame lines and dispatch them. */
static void
client_read_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	struct client	*c = container_of(w, struct client, read_w);
	size_t		 room;
	ssize_t		 n;
	char		*space;

	(void)loop;
	(void)revents;
	space = proto_reader_space(&c->rd, &room);
	n = read(c->fd, space, room);
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n <= 0) {
		client_close(c, c->hello, "heartbeat lost: connection closed "
		    "without QUIT");
		return;
	}
	proto_reader_added(&c->rd, (size_t)n);
	client_process(c);
}

/* The peer made room for the queued replies. */
static void
client_write_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	struct client	*c = container_of(w, struct client, write_w);

	(void)loop;
	(void)revents;
	if (client_flush(c) == 1)
		client_process(c);
}

/* No HELLO in time: close, without a panic. */
static void
client_hello_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct client	*c = container_of(w, struct client, hello_w);

	(void)loop;
	(void)revents;
	if (c->quitting)
		log_info("connection from pid %d closed: BYE not read within "
		    "%gs", c->peer_pid, DAEMON_HELLO_TIMEOUT);
	else
		log_info("connection from pid %d closed: no HELLO within %gs",
		    c->peer_pid, DAEMON_HELLO_TIMEOUT);
	client_close(c, false, NULL);
}

/* The heartbeat went quiet for ping_timeout. */
static void
client_ping_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct client	*c = container_of(w, struct client, ping_w);
	int		 pending;

	(void)revents;
	/*
	 * Bytes waiting unread are a sign of life: while its replies wait
	 * for it to read them, the daemon does not read its lines (new bytes
	 * since the stall count); and a daemon that was stopped (SIGSTOP, a
	 * debugger, a frozen cgroup) longer than the timeout finds its
	 * client's PINGs waiting when it resumes, with this timer due before
	 * the read. Read them first; they refresh the deadline.
	 */
	if (ioctl(c->fd, FIONREAD, &pending) == 0 &&
	    pending > (c->outlen > 0 ? c->stall_seen : 0)) {
		if (c->outlen > 0)
			c->stall_seen = pending;
		ev_timer_again(loop, w);
		return;
	}
	client_close(c, true, "heartbeat lost: no line within the ping "
	    "timeout");
}

/* Send BUSY to a connection we cannot serve and close it. */
static void
daemon_refuse_busy(int fd)
{
	ssize_t	 n;

	n = send(fd, PROTO_BUSY, strlen(PROTO_BUSY),
	    MSG_NOSIGNAL | MSG_DONTWAIT);
	(void)n;
	close(fd);
}

/*
 * Before answering BUSY, handle what the current client already sent: if
 * it has closed (or quit) and the loop has not seen it yet, the newcomer
 * must not be turned away because of the order of callbacks.
 */
static void
client_drain(struct daemon *d)
{
	struct client	*c = d->client;
	struct pollfd	 pfd;
	int		 i;

	for (i = 0; i < 64 && c != NULL && d->client == c; i++) {
		if (c->outlen > 0 && client_flush(c) == 1)
			client_process(c);
		if (d->client != c || c->outlen > 0 || c->quitting)
			break;
		pfd.fd = c->fd;
		pfd.events = POLLIN;
		pfd.revents = 0;
		if (poll(&pfd, 1, 0) != 1)
			break;
		client_read_cb(d->loop, &c->read_w, EV_READ);
	}
}

/* A new connection. */
static void
daemon_accept_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	struct daemon	*d = container_of(w, struct daemon, accept_w);
	struct client	*c;
	uid_t		 uid;
	pid_t		 pid;
	int		 fd;

	(void)revents;
	fd = accept4(d->listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
	if (fd < 0) {
		if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS ||
		    errno == ENOMEM) {
			log_warn("accept (backing off %gs)",
			    DAEMON_ACCEPT_BACKOFF);
			ev_io_stop(loop, &d->accept_w);
			/* A stopped timer keeps what was left of it: set the
			 * full back-off again each time. */
			ev_timer_set(&d->backoff_w, DAEMON_ACCEPT_BACKOFF, 0);
			ev_timer_start(loop, &d->backoff_w);
		}
		return;
	}
	if (!sockpath_peer_allowed(fd, &uid, &pid)) {
		log_warnx("refused connection from uid %d (pid %d): only "
		    "uid %u and root may connect", (int)uid, (int)pid,
		    (unsigned)getuid());
		close(fd);
		return;
	}
	if (d->client != NULL)
		client_drain(d);
	if (d->client != NULL) {
		log_debug("connection from pid %d: BUSY", (int)pid);
		daemon_refuse_busy(fd);
		return;
	}
	if ((c = calloc(1, sizeof *c)) == NULL) {
		log_warn("calloc");
		close(fd);
		return;
	}
	c->d = d;
	c->fd = fd;
	c->peer_pid = (int)pid;
	proto_reader_init(&c->rd);
	ev_io_init(&c->read_w, client_read_cb, fd, EV_READ);
	ev_io_init(&c->write_w, client_write_cb, fd, EV_WRITE);
	ev_timer_init(&c->hello_w, client_hello_cb, DAEMON_HELLO_TIMEOUT, 0);
	ev_init(&c->ping_w, client_ping_cb);
	ev_io_start(loop, &c->read_w);
	ev_timer_start(loop, &c->hello_w);
	d->client = c;
	log_debug("connection from pid %d", (int)pid);
}

/* Resume accepting after a descriptor shortage. */
static void
daemon_backoff_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct daemon	*d = container_of(w, struct daemon, backoff_w);

	(void)revents;
	ev_io_start(loop, &d->accept_w);
}

/* The grace window ended (or the timer fired early: the policy knows). */
static void
daemon_grace_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct daemon	*d = container_of(w, struct daemon, grace_w);

	(void)loop;
	(void)revents;
	daemon_event(d, POLICY_EV_TIMER, "grace window ended");
}

/* SIGUSR1: graceful panic. */
static void
daemon_sigusr1_cb(struct ev_loop *loop, ev_signal *w, int revents)
{
	struct daemon	*d = container_of(w, struct daemon, sigusr1_w);

	(void)loop;
	(void)revents;
	daemon_event(d, POLICY_EV_PANIC, "SIGUSR1: panic requested");
}

/* SIGTERM, SIGINT: clean shutdown. */
static void
daemon_shutdown_cb(struct ev_loop *loop, ev_signal *w, int revents)
{
	struct daemon	*d = w->signum == SIGTERM ?
			    container_of(w, struct daemon, sigterm_w) :
			    container_of(w, struct daemon, sigint_w);

	(void)revents;
	log_info("%s: clean shutdown", w->signum == SIGTERM ? "SIGTERM" :
	    "SIGINT");
	d->exit_status = 0;
	d->stopping = true;
	ev_break(loop, EVBREAK_ALL);
}

/* SIGHUP: note it, do nothing else. */
static void
daemon_sighup_cb(struct ev_loop *loop, ev_signal *w, int revents)
{
	(void)loop;
	(void)w;
	(void)revents;
	log_info("SIGHUP ignored (still guarding)");
}

/*
 * Create the loop and start the signal watchers, before any secret exists
 * (libev installs their handlers now; a signal that arrives before the loop
 * runs is handled as soon as it does).
 */
int
daemon_init(struct daemon *d, bool armed, double grace, double ping_timeout)
{
	struct policy_ops	 ops = { daemon_do_wipe, daemon_do_kill,
				    daemon_do_would_kill, d };

	memset(d, 0, sizeof *d);
	d->armed = armed;
	d->grace = grace;
	d->ping_timeout = ping_timeout;
	d->listen_fd = -1;
	d->exit_status = 1;
	if ((d->loop = ev_default_loop(EVFLAG_AUTO)) == NULL)
		return -1;
	policy_init(&d->policy, armed, grace, &ops);
	ev_signal_init(&d->sigusr1_w, daemon_sigusr1_cb, SIGUSR1);
	ev_signal_init(&d->sigterm_w, daemon_shutdown_cb, SIGTERM);
	ev_signal_init(&d->sigint_w, daemon_shutdown_cb, SIGINT);
	ev_signal_init(&d->sighup_w, daemon_sighup_cb, SIGHUP);
	ev_signal_start(d->loop, &d->sigusr1_w);
	ev_signal_start(d->loop, &d->sigterm_w);
	ev_signal_start(d->loop, &d->sigint_w);
	ev_signal_start(d->loop, &d->sighup_w);
	ev_init(&d->grace_w, daemon_grace_cb);
	ev_timer_init(&d->backoff_w, daemon_backoff_cb,
	    DAEMON_ACCEPT_BACKOFF, 0);
	return 0;
}

/* Hand the loaded secret to the daemon, for the wipe action. */
void
daemon_set_secret(struct daemon *d, struct secmem *sm)
{
	d->secret = sm;
}

/* A watcher that notes that its descriptor became readable. */
struct readable {
	ev_io	 w;
	bool	 ready;
};

static void
daemon_readable_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	struct readable	*r = container_of(w, struct readable, w);

	(void)revents;
	r->ready = true;
	ev_io_stop(loop, w);
}

/*
 * Run the loop (signals and timers only: nobody is accepted yet) until fd
 * is readable; false if a signal stopped the daemon first. While the
 * secret is being read from a pipe, SIGTERM, SIGINT and the panic signals
 * act at once instead of waiting for the writer. arg is the daemon.
 */
bool
daemon_wait_readable(void *arg, int fd)
{
	struct daemon	*d = arg;
	struct readable	 r;

	r.ready = false;
	ev_io_init(&r.w, daemon_readable_cb, fd, EV_READ);
	ev_io_start(d->loop, &r.w);
	while (!r.ready && !d->stopping)
		ev_run(d->loop, EVRUN_ONCE);
	ev_io_stop(d->loop, &r.w);
	return r.ready && !d->stopping;
}

/* Serve until a clean shutdown or a completed dry-run panic. */
int
daemon_run(struct daemon *d, int listen_fd, const char *path)
{
	d->listen_fd = listen_fd;
	d->socket_path = path;
	if (d->stopping)
		return d->exit_status;
	ev_io_init(&d->accept_w, daemon_accept_cb, listen_fd, EV_READ);
	ev_io_start(d->loop, &d->accept_w);
	ev_run(d->loop, 0);
	return d->exit_status;
}

/* Wipe and free the secret, close and remove the socket. */
void
daemon_finish(struct daemon *d)
{
	if (d->client != NULL)
		client_close(d->client, false, NULL);
	if (d->secret != NULL) {
		secmem_free(d->secret);
		d->secret = NULL;
	}
	if (d->listen_fd >= 0) {
		close(d->listen_fd);
		d->listen_fd = -1;
		if (d->socket_path != NULL && unlink(d->socket_path) != 0)
			log_warn("%s: unlink", d->socket_path);
	}
	log_info("exiting: secret memory zeroed and unmapped, socket "
	    "removed");
}
