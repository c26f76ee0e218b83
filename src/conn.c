/* SPDX-License-Identifier: ISC */
/*
 * One connection: it frames lines (proto), keeps its deadlines and its
 * output queue, and moves the raw bytes of LOAD and GET between the socket
 * and the secure buffer. Its owner (conn_ops) decides what a command
 * means; a connection only reports what happened to it.
 */
#include <sys/ioctl.h>
#include <sys/socket.h>

#include <errno.h>
#include <poll.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <ev.h>

#include "dazai/conn.h"
#include "dazai/container.h"
#include "dazai/log.h"
#include "dazai/proto.h"
#include "dazai/secmem.h"
#include "dazai/sockpath.h"

static void conn_process(struct conn *);

/*
 * Close the connection and free it; lost says whether that loses the
 * heartbeat (the owner decides what that means). A LOAD in progress is
 * wiped, a GET in progress ends unfinished.
 */
void
conn_close(struct conn *c, bool lost, const char *why)
{
	struct secmem *sm;

	ev_io_stop(c->loop, &c->read_w);
	ev_io_stop(c->loop, &c->write_w);
	ev_timer_stop(c->loop, &c->deadline_w);
	ev_timer_stop(c->loop, &c->ping_w);
	close(c->fd);
	c->fd = -1;
	if ((sm = c->load_sm) != NULL) {
		c->load_sm = NULL;
		secmem_load_abort(sm);
		c->ops->loaded(c->ops->arg, c, false, "the connection closed");
	}
	if (c->get_sm != NULL) {
		c->sent_sm = c->get_sm;
		c->get_sm = NULL;
		c->ops->sent(c->ops->arg, c, false);
	}
	c->ops->closed(c->ops->arg, c, lost, why);
	free(c->who);
	free(c);
}

/*
 * Write the rest of a GET straight from the secure buffer. Returns 1
 * when all of it went, 0 when the socket is full, -1 when the connection
 * has been closed (the peer is gone, or the secret went away mid-way:
 * the peer sees fewer bytes than announced, never other bytes).
 */
static int
conn_flush_secret(struct conn *c)
{
	struct secmem *sm = c->get_sm;
	ssize_t	       n;

	while (sm != NULL) {
		n = secmem_write_fd(sm, c->fd, c->get_off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return 0;
		if (n <= 0) {
			log_info("connection from pid %d: GET ended after %zu "
				 "bytes (%s)",
			    c->peer_pid, c->get_off,
			    n < 0 ? strerror(errno) : "nothing left");
			conn_close(c, false, NULL);
			return -1;
		}
		c->get_off += (size_t)n;
		if (c->get_off == sm->len) {
			c->sent_sm = sm;
			c->get_sm = NULL;
			c->ops->sent(c->ops->arg, c, true);
			return 1;
		}
	}
	return 1;
}

/*
 * Write what is queued. Returns 1 when all of it went (or the peer takes
 * no more and the connection turned mute), 0 when the peer's buffer is
 * full (the rest stays queued), -1 when the connection has been closed
 * (a connection told to finish whose peer is gone, or a GET cut short).
 */
static int
conn_flush(struct conn *c)
{
	ssize_t n;

	while (c->outlen > 0) {
		n = send(c->fd, c->out, c->outlen, MSG_NOSIGNAL | MSG_DONTWAIT);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return 0;
		if (n <= 0) {
			if (c->quitting || c->get_sm != NULL ||
			    c->kind == PROTO_KIND_CONTROL) {
				conn_close(c, false, NULL);
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
				  "reading what it sent",
			    c->peer_pid);
			c->mute = true;
			c->outlen = 0;
			return 1;
		}
		c->outlen -= (size_t)n;
		memmove(c->out, c->out + n, c->outlen);
	}
	if (c->get_sm != NULL)
		return conn_flush_secret(c);
	return 1;
}

/*
 * Queue a reply line and try to send it; false if the connection has been
 * closed (conn_flush). A peer that does not read its replies is not
 * dropped: the connection stops reading from it until it does
 * (conn_process).
 */
bool
conn_send(struct conn *c, const char *msg)
{
	size_t len = strlen(msg);

	if (c->mute)
		return true;
	if (len > sizeof c->out - c->outlen)
		fatalx(1, "reply queue overflow (%zu + %zu bytes)", c->outlen,
		    len);
	memcpy(c->out + c->outlen, msg, len);
	c->outlen += len;
	return conn_flush(c) >= 0;
}

/* Send "ERR reason"; false if the connection has been closed. */
bool
conn_error(struct conn *c, const char *reason)
{
	char buf[128];

	if (proto_format_error(buf, sizeof buf, reason) < 0)
		return false;
	return conn_send(c, buf);
}

/*
 * Send a last reply (or none) and close once it is out: the connection
 * reads nothing more, and a peer that does not take the reply within
 * CONN_HELLO_TIMEOUT is closed anyway. Never a heartbeat loss. False if
 * the connection has been closed already.
 */
bool
conn_finish(struct conn *c, const char *msg)
{
	c->quitting = true;
	c->final = msg;
	ev_timer_stop(c->loop, &c->ping_w);
	ev_timer_stop(c->loop, &c->deadline_w);
	ev_timer_set(&c->deadline_w, CONN_HELLO_TIMEOUT, 0);
	ev_timer_start(c->loop, &c->deadline_w);
	if (msg == NULL)
		return true;
	return conn_send(c, msg);
}

/*
 * Answer HELLO: the connection is a heartbeat once WELCOME reached it.
 * A HELLO that waited in the backlog while its client gave up and closed
 * is read with that EOF: the WELCOME cannot be delivered, and that
 * closing must not count as a loss. False if the connection has been
 * closed.
 */
bool
conn_welcome(struct conn *c, double ping_timeout)
{
	if (!conn_send(c, PROTO_WELCOME))
		return false;
	if (c->mute) {
		log_info("connection from pid %d: HELLO, but it left before "
			 "WELCOME; never a heartbeat",
		    c->peer_pid);
		conn_close(c, false, NULL);
		return false;
	}
	c->kind = PROTO_KIND_HEARTBEAT;
	c->ping_timeout = ping_timeout;
	ev_timer_stop(c->loop, &c->deadline_w);
	if (ping_timeout > 0) {
		c->ping_w.repeat = ping_timeout;
		ev_timer_again(c->loop, &c->ping_w);
	}
	return true;
}

/* Make this a control connection: idle for CONN_IDLE_TIMEOUT, closed. */
void
conn_control(struct conn *c)
{
	c->kind = PROTO_KIND_CONTROL;
	ev_timer_stop(c->loop, &c->deadline_w);
	c->deadline_w.repeat = CONN_IDLE_TIMEOUT;
	ev_timer_again(c->loop, &c->deadline_w);
}

/*
 * Read the n bytes that follow a LOAD line straight into the secure
 * buffer: secmem_load_begin has been called, and the framer holds no
 * byte past the line (proto_reader_safe). replaced: a held secret was
 * wiped to make room, which a failure's reply says. False if the
 * connection has been closed.
 */
bool
conn_load(struct conn *c, struct secmem *sm, size_t n, bool replaced)
{
	c->load_replaced = replaced;
	if (proto_reader_pending(&c->rd) != 0) {
		/* Cannot happen with safe reads; never serve such bytes. */
		secmem_load_abort(sm);
		c->ops->loaded(c->ops->arg, c, false, "framing error");
		return conn_finish(c, "ERR framing error\n");
	}
	c->load_sm = sm;
	c->load_left = n;
	return true;
}

/* Start a GET: the header, then the secret straight from the buffer. */
bool
conn_get(struct conn *c, struct secmem *sm)
{
	char hdr[48];

	if (proto_format_secret(hdr, sizeof hdr, sm->len) < 0)
		return conn_error(c, "internal error");
	c->get_sm = sm;
	c->get_off = 0;
	return conn_send(c, hdr);
}

/* Is a LOAD or GET in progress on this connection? */
bool
conn_streaming(const struct conn *c)
{
	return c->load_sm != NULL || c->get_sm != NULL;
}

/* Is a LOAD or GET of sm (NULL: of any secret) in progress here? */
bool
conn_streaming_of(const struct conn *c, const struct secmem *sm)
{
	if (sm == NULL)
		return conn_streaming(c);
	return c->load_sm == sm || c->get_sm == sm;
}

/*
 * The secret this connection was loading or sending went away (a WIPE,
 * an expiry, another LOAD): a LOAD is answered "ERR why" and closed, a
 * GET already under way is cut short (closed).
 */
void
conn_cancel(struct conn *c, const char *why)
{
	char buf[128];

	if (c->get_sm != NULL) {
		conn_close(c, false, NULL);
		return;
	}
	if (c->load_sm != NULL) {
		c->load_sm = NULL;
		c->ops->loaded(c->ops->arg, c, false, why);
		if (proto_format_error(buf, sizeof buf, why) < 0) {
			conn_close(c, false, NULL);
			return;
		}
		/* Read no more: the rest of its bytes are never requests. */
		if (conn_finish(c, NULL) && conn_send(c, buf))
			conn_process(c);
	}
}

/* More LOAD bytes are readable: read them into the secure buffer. */
static void
conn_load_more(struct conn *c)
{
	struct secmem *sm = c->load_sm;
	const char    *why;
	ssize_t	       n;
	bool	       lock;

	n = secmem_load_read(sm, c->fd, c->load_left);
	if (n < 0 &&
	    (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
		return;
	if (n == 0) {
		c->load_sm = NULL;
		secmem_load_abort(sm);
		c->ops->loaded(c->ops->arg, c, false,
		    "the peer closed before "
		    "sending every byte");
		conn_close(c, false, NULL);
		return;
	}
	if (n < 0) {
		/* The load is aborted (wiped) already; say why, then close. */
		c->load_sm = NULL;
		lock = errno == ENOLCK;
		why = lock ? "the secret cannot be locked in memory and a lock "
			     "is required" :
			     strerror(errno);
		c->ops->loaded(c->ops->arg, c, false, why);
		if (conn_finish(c, NULL) &&
		    conn_send(c,
			lock ? (c->load_replaced ?
				       "ERR cannot lock the secret; "
				       "the secret it replaced was wiped\n" :
				       "ERR cannot lock the secret\n") :
			       (c->load_replaced ?
				       "ERR cannot store the secret; "
				       "the secret it replaced was wiped\n" :
				       "ERR cannot store the secret\n")))
			conn_process(c);
		return;
	}
	ev_timer_again(c->loop, &c->deadline_w);
	c->load_left -= (size_t)n;
	if (c->load_left > 0)
		return;
	c->load_sm = NULL;
	if (secmem_load_commit(sm) != 0) {
		c->ops->loaded(c->ops->arg, c, false, strerror(errno));
		conn_finish(c, "ERR load failed\n");
	} else {
		c->ops->loaded(c->ops->arg, c, true, NULL);
		if (!conn_send(c, PROTO_OK))
			return;
	}
	conn_process(c);
}

/* Act on one line; false once the connection is gone. */
static bool
conn_line(struct conn *c, const char *line, size_t len)
{
	struct proto_cmd cmd;
	const char	*err;

	if (c->kind == PROTO_KIND_HEARTBEAT && c->ping_timeout > 0)
		ev_timer_again(c->loop, &c->ping_w);
	if (c->kind == PROTO_KIND_CONTROL)
		ev_timer_again(c->loop, &c->deadline_w);
	if ((err = proto_parse_line(line, len, &cmd)) == NULL &&
	    (err = proto_admit(c->kind, &cmd)) == NULL)
		return c->ops->command(c->ops->arg, c, &cmd);
	/*
	 * Raw bytes may follow a LOAD line that is refused: they are never
	 * read as requests. (A heartbeat never loads; it keeps its line.)
	 */
	if (!proto_line_may_load(line, len) || c->kind == PROTO_KIND_HEARTBEAT)
		return conn_error(c, err);
	if (!conn_error(c, err))
		return false;
	return conn_finish(c, NULL);
}

/*
 * Dispatch the lines already read, one reply at a time: while a reply
 * waits for the peer to read, stop reading from it and wait for the
 * socket to drain, so a pipelining or slow reader costs no memory and is
 * never taken for a lost heartbeat. After a final reply, close once it
 * is out.
 */
static void
conn_process(struct conn *c)
{
	const char *line;
	size_t	    len;

	while (c->outlen == 0 && c->get_sm == NULL && c->load_sm == NULL &&
	    !c->quitting) {
		switch (proto_next_line(&c->rd, &line, &len)) {
		case PROTO_FRAME_MORE:
			ev_io_stop(c->loop, &c->write_w);
			ev_io_start(c->loop, &c->read_w);
			return;
		case PROTO_FRAME_TOOLONG:
			if (conn_error(c, "line too long"))
				conn_close(c, c->kind == PROTO_KIND_HEARTBEAT,
				    "heartbeat lost: it sent an over-long "
				    "line");
			return;
		case PROTO_FRAME_LINE:
			c->last_line = log_now();
			if (!conn_line(c, line, len))
				return;
			break;
		}
	}
	if (c->load_sm != NULL && c->outlen == 0) {
		ev_io_stop(c->loop, &c->write_w);
		ev_io_start(c->loop, &c->read_w);
		return;
	}
	if (c->outlen == 0 && c->get_sm == NULL) { /* final reply sent */
		conn_close(c, false, NULL);
		return;
	}
	/* Stalled: note how much input waits, for conn_ping_cb. */
	if (ioctl(c->fd, FIONREAD, &c->stall_seen) != 0)
		c->stall_seen = 0;
	ev_io_stop(c->loop, &c->read_w);
	ev_io_start(c->loop, &c->write_w);
}

/*
 * Bytes from the peer: frame lines and dispatch them. Each read takes
 * what proto's read discipline allows (proto_reader_next), so the raw
 * bytes after a LOAD line stay in the socket for the secure buffer.
 */
static void
conn_read_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	struct conn *c = container_of(w, struct conn, read_w);
	size_t	     room;
	ssize_t	     n;
	char	    *space;

	(void)loop;
	(void)revents;
	if (c->load_sm != NULL) {
		conn_load_more(c);
		return;
	}
	space = proto_reader_next(&c->rd, c->kind, &room);
	if (room == 0) {
		conn_process(c);
		return;
	}
	n = read(c->fd, space, room);
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n <= 0) {
		conn_close(c, c->kind == PROTO_KIND_HEARTBEAT,
		    "heartbeat "
		    "lost: connection closed without QUIT");
		return;
	}
	proto_reader_added(&c->rd, (size_t)n);
	conn_process(c);
}

/* The peer made room for the queued replies (or the secret). */
static void
conn_write_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	struct conn *c = container_of(w, struct conn, write_w);

	(void)loop;
	(void)revents;
	if (c->kind == PROTO_KIND_CONTROL)
		ev_timer_again(c->loop, &c->deadline_w);
	if (conn_flush(c) == 1)
		conn_process(c);
}

/* No first line in time, idle too long, or a final reply never taken. */
static void
conn_deadline_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct conn *c = container_of(w, struct conn, deadline_w);

	(void)loop;
	(void)revents;
	if (c->quitting && c->final != NULL)
		log_info("connection from pid %d closed: %.*s not read "
			 "within %gs",
		    c->peer_pid, (int)strcspn(c->final, "\n"), c->final,
		    CONN_HELLO_TIMEOUT);
	else if (c->quitting)
		log_info("connection from pid %d closed: its peer did not "
			 "take the last reply within %gs",
		    c->peer_pid, CONN_HELLO_TIMEOUT);
	else if (c->kind == PROTO_KIND_CONTROL)
		log_info("connection from pid %d closed: idle for %gs",
		    c->peer_pid, CONN_IDLE_TIMEOUT);
	else
		log_info("connection from pid %d closed: no request within "
			 "%gs",
		    c->peer_pid, CONN_HELLO_TIMEOUT);
	conn_close(c, false, NULL);
}

/* The heartbeat went quiet for its ping timeout. */
static void
conn_ping_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct conn *c = container_of(w, struct conn, ping_w);
	int	     pending;

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
	conn_close(c, true,
	    "heartbeat lost: no line within the ping "
	    "timeout");
}

/*
 * Handle what the connection *cp already sent, up to what can be done
 * now: before a newcomer is answered BUSY, a heartbeat that has closed or
 * quit, unseen by the loop so far, must be seen, so the order of
 * callbacks never turns the newcomer away. *cp is the owner's pointer to
 * the connection, which its closed callback (or a QUIT) clears: the
 * connection may be freed by then.
 */
void
conn_drain(struct conn **cp)
{
	struct conn  *c = *cp;
	struct pollfd pfd;
	int	      i;

	for (i = 0; i < 64 && c != NULL && *cp == c; i++) {
		if (c->outlen > 0 && conn_flush(c) == 1)
			conn_process(c);
		if (*cp != c || c->outlen > 0 || c->quitting)
			break;
		pfd.fd = c->fd;
		pfd.events = POLLIN;
		pfd.revents = 0;
		if (poll(&pfd, 1, 0) != 1)
			break;
		conn_read_cb(c->loop, &c->read_w, EV_READ);
	}
}

/*
 * The peer's name for the log ("pid N (executable)"), resolved once, the
 * first time a line needs it, and kept: a connection that never does
 * anything logged costs no lookup and no memory for it.
 */
const char *
conn_who(struct conn *c)
{
	char who[CONN_WHO_MAX];

	if (c->who == NULL) {
		sockpath_peer_name(c->peer_pid, c->confined, who, sizeof who);
		c->who = strdup(who);
	}
	return c->who != NULL ? c->who : "a peer (its name: out of memory)";
}

/*
 * Turn away a connection that cannot be taken: one try at the reply msg
 * (never waiting for the peer), then close fd.
 */
void
conn_refuse(int fd, const char *msg)
{
	ssize_t n;

	n = send(fd, msg, strlen(msg), MSG_NOSIGNAL | MSG_DONTWAIT);
	(void)n;
	close(fd);
}

/*
 * A new connection on fd (non-blocking, its peer already checked); it
 * must send a first request within CONN_HELLO_TIMEOUT. NULL on failure
 * (then fd is still the caller's).
 */
struct conn *
conn_new(struct ev_loop *loop, int fd, int peer_pid, bool confined,
    const struct conn_ops *ops)
{
	struct conn *c;

	if ((c = calloc(1, sizeof *c)) == NULL)
		return NULL;
	c->ops = ops;
	c->loop = loop;
	c->fd = fd;
	c->peer_pid = peer_pid;
	c->confined = confined;
	c->kind = PROTO_KIND_NEW;
	proto_reader_init(&c->rd);
	ev_io_init(&c->read_w, conn_read_cb, fd, EV_READ);
	ev_io_init(&c->write_w, conn_write_cb, fd, EV_WRITE);
	ev_timer_init(&c->deadline_w, conn_deadline_cb, CONN_HELLO_TIMEOUT, 0);
	ev_init(&c->ping_w, conn_ping_cb);
	ev_io_start(loop, &c->read_w);
	ev_timer_start(loop, &c->deadline_w);
	return c;
}

/* Keep c in the set; false if it is full. */
bool
conn_set_add(struct conn_set *set, struct conn *c)
{
	int i;

	for (i = 0; i < CONN_SET_MAX; i++)
		if (set->c[i] == NULL) {
			set->c[i] = c;
			return true;
		}
	return false;
}

/* Forget c (it is being freed). */
void
conn_set_remove(struct conn_set *set, const struct conn *c)
{
	int i;

	for (i = 0; i < CONN_SET_MAX; i++)
		if (set->c[i] == c)
			set->c[i] = NULL;
}

/* Is there no room for another connection? */
bool
conn_set_full(const struct conn_set *set)
{
	int i;

	for (i = 0; i < CONN_SET_MAX; i++)
		if (set->c[i] == NULL)
			return false;
	return true;
}

/* How many connections of that kind are open. */
int
conn_set_count(const struct conn_set *set, enum proto_kind kind)
{
	int i, n = 0;

	for (i = 0; i < CONN_SET_MAX; i++)
		if (set->c[i] != NULL && set->c[i]->kind == kind)
			n++;
	return n;
}

/* A secret went away: cut off every LOAD or GET of sm under way (why). */
void
conn_set_cancel(struct conn_set *set, const struct secmem *sm, const char *why)
{
	int i;

	for (i = 0; i < CONN_SET_MAX; i++)
		if (set->c[i] != NULL && conn_streaming_of(set->c[i], sm))
			conn_cancel(set->c[i], why);
}

/* Close every connection (clean shutdown): none is a loss. */
void
conn_set_close(struct conn_set *set)
{
	int i;

	for (i = 0; i < CONN_SET_MAX; i++)
		if (set->c[i] != NULL)
			conn_close(set->c[i], false, NULL);
}
