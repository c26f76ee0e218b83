/* SPDX-License-Identifier: ISC */
/*
 * The client's side of a connection to dazaid: bounded, timed reads and
 * writes, and pure parsers for what comes back.
 */
#include <sys/socket.h>
#include <sys/un.h>

#include <errno.h>
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
#include "dazai/config.h"
#include "dazai/parse.h"
#include "dazai/proto.h"
#include "dazai/sockpath.h"

#define CLIENT_CHUNK 65536 /* how far the secret buffer grows ahead */

/*
 * Milliseconds a request may take, connect included: CLIENT_TIMEOUT_MS,
 * or DAZAI_TIMEOUT seconds (1 to 3600; anything else is ignored).
 */
static int
client_timeout(void)
{
	const char	  *v = getenv("DAZAI_TIMEOUT");
	unsigned long long n;

	if (v == NULL || parse_decimal(v, 3600, &n) != 0 || n < 1)
		return CLIENT_TIMEOUT_MS;
	return (int)n * 1000;
}

/*
 * A request starts: it gets the whole timeout, measured from now, for
 * everything it sends and reads. The first request after client_open
 * keeps the deadline the connect started, so the connect counts too.
 */
static void
client_begin(struct client *c)
{
	if (c->fresh)
		c->fresh = false;
	else
		c->deadline = log_now_ms() + c->timeout_ms;
}

/*
 * Wait for events on the connection until the request's deadline.
 * Returns 0 when ready, -1 with err (and errno ETIMEDOUT at the deadline).
 */
static int
client_wait(struct client *c, short events, char *err, size_t errlen)
{
	struct pollfd pfd = { c->fd, events, 0 };
	long long     left;
	int	      rc, saved;

	for (;;) {
		left = c->deadline - log_now_ms();
		if (left <= 0) {
			snprintf(err, errlen,
			    "the daemon did not answer "
			    "within %d s",
			    c->timeout_ms / 1000);
			errno = ETIMEDOUT;
			return -1;
		}
		rc = poll(&pfd, 1, left > INT_MAX ? INT_MAX : (int)left);
		if (rc > 0)
			return 0;
		if (rc < 0 && errno != EINTR) {
			saved = errno;
			snprintf(err, errlen, "poll: %s", strerror(saved));
			errno = saved;
			return -1;
		}
	}
}

/*
 * connect(2) to path within the deadline. A UNIX socket whose listener
 * does not accept (stopped, still starting) blocks a plain connect for as
 * long as its backlog is full; a non-blocking one fails with EAGAIN at
 * once (Linux's AF_UNIX never answers EINPROGRESS) and leaves nothing to
 * poll the socket for, so it is tried again every few milliseconds, with
 * poll(2) as the wait, until the deadline. Returns the descriptor, or -1
 * with errno (ETIMEDOUT at the deadline).
 */
static int
client_connect(const char *path, long long deadline)
{
	struct sockaddr_un sun;
	long long	   left;
	int		   fd, e, wait_ms = 2;

	if (strlen(path) >= sizeof sun.sun_path) {
		errno = ENAMETOOLONG;
		return -1;
	}
	memset(&sun, 0, sizeof sun);
	sun.sun_family = AF_UNIX;
	memcpy(sun.sun_path, path, strlen(path) + 1);
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK,
		 0)) < 0)
		return -1;
	for (;;) {
		if (connect(fd, (struct sockaddr *)&sun, sizeof sun) == 0)
			return fd;
		if ((e = errno) != EAGAIN && e != EINTR)
			break;
		if ((left = deadline - log_now_ms()) <= 0) {
			e = ETIMEDOUT;
			break;
		}
		if (e == EAGAIN) {
			(void)poll(NULL, 0,
			    left < wait_ms ? (int)left : wait_ms);
			if (wait_ms < 50)
				wait_ms *= 2;
		}
	}
	close(fd);
	errno = e;
	return -1;
}

/*
 * Connect to the daemon at path after the shared trust checks, within
 * the first request's deadline. Returns 0, or -1 with err and errno
 * (ENAMETOOLONG: the path can never work; ETIMEDOUT: someone is there
 * but did not take the connection in time).
 */
int
client_open(struct client *c, const char *path, bool is_default, char *err,
    size_t errlen)
{
	char  why[SOCKPATH_ERRLEN];
	uid_t uid;
	pid_t pid;
	int   saved;

	c->fd = -1;
	c->timeout_ms = client_timeout();
	c->deadline = log_now_ms() + c->timeout_ms;
	c->fresh = true;
	if (sockpath_check_length(path, err, errlen) != 0) {
		errno = ENAMETOOLONG;
		return -1;
	}
	if (sockpath_check_dir(path, is_default, why, sizeof why) != 0) {
		saved = errno;
		if (saved == ENOENT)
			snprintf(err, errlen, "no daemon at %s (%s)", path,
			    why);
		else
			snprintf(err, errlen, "not trusting %s: %s", path, why);
		errno = saved == ENOENT ? ENOENT : EPERM;
		return -1;
	}
	if ((c->fd = client_connect(path, c->deadline)) < 0) {
		saved = errno;
		if (saved == ETIMEDOUT)
			snprintf(err, errlen,
			    "the daemon at %s did not take "
			    "the connection within %d s (stopped, or busy)",
			    path, c->timeout_ms / 1000);
		else
			snprintf(err, errlen, "no daemon at %s: %s", path,
			    strerror(saved));
		errno = saved == ENAMETOOLONG ? ENOENT : saved;
		return -1;
	}
	if (!sockpath_peer_allowed(c->fd, &uid, &pid)) {
		snprintf(err, errlen,
		    "not trusting %s: it is served by uid %d "
		    "(pid %d), neither us (uid %u) nor root",
		    path, (int)uid, (int)pid, (unsigned)getuid());
		close(c->fd);
		c->fd = -1;
		errno = EPERM;
		return -1;
	}
	return 0;
}

/* Close the connection (a control connection needs no goodbye). */
void
client_close(struct client *c)
{
	if (c->fd >= 0)
		close(c->fd);
	c->fd = -1;
}

/*
 * Send len bytes, all of them before the request's deadline. Returns 0,
 * or -1 with err and errno.
 */
int
client_send(struct client *c, const void *buf, size_t len, char *err,
    size_t errlen)
{
	const char *p = buf;
	size_t	    off = 0;
	ssize_t	    n;
	int	    saved;

	while (off < len) {
		if (client_wait(c, POLLOUT, err, errlen) != 0)
			return -1;
		n = send(c->fd, p + off, len - off,
		    MSG_NOSIGNAL | MSG_DONTWAIT);
		if (n < 0 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (n < 0) {
			saved = errno;
			snprintf(err, errlen,
			    "the daemon closed the "
			    "connection (%s)",
			    strerror(saved));
			errno = saved;
			return -1;
		}
		off += (size_t)n;
	}
	return 0;
}

/*
 * Read one reply line into buf (NUL-terminated, without "\r\n"). The
 * whole line must arrive before the request's deadline and fit
 * CLIENT_REPLY_MAX.
 * It is read a byte at a time, so nothing after the newline (the raw
 * bytes of a secret) ever lands in buf. Returns 0, or -1 with err.
 */
int
client_read_line(struct client *c, char *buf, size_t len, char *err,
    size_t errlen)
{
	size_t	got = 0, max = len - 1;
	ssize_t n;
	char	ch;

	if (max > CLIENT_REPLY_MAX)
		max = CLIENT_REPLY_MAX;
	for (;;) {
		if (client_wait(c, POLLIN, err, errlen) != 0)
			return -1;
		n = recv(c->fd, &ch, 1, MSG_DONTWAIT);
		if (n < 0 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (n < 0) {
			snprintf(err, errlen, "reading from the daemon: %s",
			    strerror(errno));
			return -1;
		}
		if (n == 0) {
			snprintf(err, errlen,
			    "the daemon closed the "
			    "connection %s",
			    got == 0 ? "without a reply" :
				       "in the middle of a reply");
			return -1;
		}
		if (ch == '\n')
			break;
		if (ch == '\0') {
			snprintf(err, errlen,
			    "the daemon sent a NUL byte in "
			    "a reply line");
			return -1;
		}
		if (got == max) {
			snprintf(err, errlen,
			    "the daemon sent a reply line "
			    "longer than %zu bytes",
			    max);
			return -1;
		}
		buf[got++] = ch;
	}
	if (got > 0 && buf[got - 1] == '\r')
		got--;
	buf[got] = '\0';
	return 0;
}

/* Send one request line (the newline is added) and read the reply. */
int
client_request(struct client *c, const char *line, char *reply, size_t len,
    char *err, size_t errlen)
{
	char out[PROTO_LINE_MAX + 2], why[CLIENT_ERRLEN];
	int  n;

	client_begin(c);
	n = snprintf(out, sizeof out, "%s\n", line);
	if (n < 0 || (size_t)n >= sizeof out) {
		snprintf(err, errlen, "request too long");
		return -1;
	}
	/* A daemon may answer (BUSY) and close before the request is
	 * through: a reply already sent is still the answer. */
	if (client_send(c, out, (size_t)n, err, errlen) != 0) {
		if (client_read_line(c, reply, len, why, sizeof why) == 0)
			return 0;
		return -1;
	}
	return client_read_line(c, reply, len, err, errlen);
}

/*
 * Read exactly n raw bytes of a secret straight into the buffer, which
 * grows only as the bytes arrive (a lying length costs no memory). They
 * must all arrive before the deadline of the GET they answer. Returns 0,
 * or -1 with err (the buffer is then emptied).
 */
int
client_read_secret(struct client *c, struct secbuf *b, size_t n, char *err,
    size_t errlen)
{
	size_t	ahead;
	ssize_t r;

	b->len = 0;
	while (b->len < n) {
		if (b->len == b->cap) {
			ahead = b->len < CLIENT_CHUNK ? CLIENT_CHUNK : b->len;
			if (ahead > n - b->len)
				ahead = n - b->len;
			if (secbuf_reserve(b, b->len + ahead) != 0) {
				snprintf(err, errlen,
				    "a secret of %zu bytes: "
				    "%s",
				    n, secbuf_error());
				goto fail;
			}
		}
		if (client_wait(c, POLLIN, err, errlen) != 0)
			goto fail;
		r = recv(c->fd, b->p + b->len, b->cap - b->len, MSG_DONTWAIT);
		if (r < 0 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (r < 0) {
			snprintf(err, errlen, "reading from the daemon: %s",
			    strerror(errno));
			goto fail;
		}
		if (r == 0) {
			snprintf(err, errlen,
			    "the daemon closed the "
			    "connection after %zu of the %zu bytes it "
			    "announced",
			    b->len, n);
			goto fail;
		}
		b->len += (size_t)r;
	}
	return 0;
fail:
	secbuf_free(b);
	return -1;
}

/*
 * Send "LOAD <n>" (or "LOAD <n> <name>" for a name other than NULL) and
 * the n bytes straight from the buffer, and read the reply. A daemon
 * that refuses the size (or the name) answers at once and closes, so the
 * rest of the bytes meet a closed socket (EPIPE, ECONNRESET): its reply
 * is then already waiting and is the answer. Returns 0 with the
 * reply, or -1 with err.
 */
int
client_load(struct client *c, const struct secbuf *b, const char *name,
    char *reply, size_t len, char *err, size_t errlen)
{
	char head[PROTO_LINE_MAX + 2], why[CLIENT_ERRLEN];
	int  n;

	client_begin(c);
	n = snprintf(head, sizeof head, "LOAD %zu%s%s\n", b->len,
	    name != NULL ? " " : "", name != NULL ? name : "");
	if (n < 0 || (size_t)n >= sizeof head) {
		snprintf(err, errlen, "request too long");
		return -1;
	}
	if (client_send(c, head, (size_t)n, err, errlen) != 0 ||
	    client_send(c, b->p, b->len, err, errlen) != 0) {
		if ((errno == EPIPE || errno == ECONNRESET) &&
		    client_read_line(c, reply, len, why, sizeof why) == 0)
			return 0;
		return -1;
	}
	return client_read_line(c, reply, len, err, errlen);
}

/* Does line start with word followed by a space or its end? */
static const char *
client_word(const char *line, const char *word)
{
	size_t n = strlen(word);

	if (strncmp(line, word, n) != 0)
		return NULL;
	if (line[n] == '\0')
		return line + n;
	if (line[n] == ' ')
		return line + n + 1;
	return NULL;
}

/*
 * What a reply line says: OK, ALREADY_ARMED, a refusal (ERR <reason>,
 * ERROR <reason>, BUSY; *reason then points at the reason), or anything
 * else.
 */
enum client_reply
client_classify(const char *line, const char **reason)
{
	const char *r;

	*reason = "";
	if (strcmp(line, "OK") == 0)
		return CLIENT_OK;
	if (strcmp(line, "ALREADY_ARMED") == 0)
		return CLIENT_ALREADY;
	if (strcmp(line, "BUSY") == 0) {
		*reason = "BUSY";
		return CLIENT_REFUSED;
	}
	if ((r = client_word(line, "ERR")) != NULL ||
	    (r = client_word(line, "ERROR")) != NULL) {
		*reason = *r != '\0' ? r : "no reason given";
		return CLIENT_REFUSED;
	}
	return CLIENT_UNEXPECTED;
}

/* A decimal of 1 to 19 digits without sign in a reply; -1 if not one. */
static int
client_decimal(const char *s, unsigned long long *v)
{
	if (strlen(s) > 19)
		return -1;
	return parse_decimal(s, ULLONG_MAX, v);
}

/*
 * The reply to GET: "SECRET <n>" with 0 < n <= the largest secret a
 * daemon may hold. Returns 0 with *n; 1 for a refusal (err holds the
 * reason); -1 for anything else (err says what).
 */
int
client_parse_secret(const char *line, size_t *n, char *err, size_t errlen)
{
	unsigned long long v;
	const char	  *arg, *reason;
	char		   shown[96];

	if (client_classify(line, &reason) == CLIENT_REFUSED) {
		client_printable(reason, err, errlen);
		return 1;
	}
	client_printable(line, shown, sizeof shown);
	if ((arg = client_word(line, "SECRET")) == NULL || *arg == '\0' ||
	    client_decimal(arg, &v) != 0) {
		snprintf(err, errlen, "unexpected reply to GET: %s", shown);
		return -1;
	}
	if (v == 0 || v > (unsigned long long)CONFIG_SECRET_MAX) {
		snprintf(err, errlen,
		    "the daemon announced a secret of %s "
		    "bytes; the limit is %lld",
		    arg, CONFIG_SECRET_MAX);
		return -1;
	}
	*n = (size_t)v;
	return 0;
}

/* A key: lower-case letters, digits and '_', 1 to 31 of them. */
static int
client_key_ok(const char *k, size_t len)
{
	size_t i;

	if (len == 0 || len > 31)
		return 0;
	for (i = 0; i < len; i++)
		if (!((k[i] >= 'a' && k[i] <= 'z') ||
			(k[i] >= '0' && k[i] <= '9') || k[i] == '_'))
			return 0;
	return 1;
}

/* A value: printable ASCII without space, at least one byte. */
static int
client_value_ok(const char *v)
{
	if (*v == '\0')
		return 0;
	for (; *v != '\0'; v++)
		if (*v <= ' ' || *v > '~')
			return 0;
	return 1;
}

/*
 * Split a reply "<WORD> k=v k=v ..." in place into its fields. Returns 0;
 * 1 for a refusal (err holds the reason); -1 with err for anything
 * malformed.
 */
static int
client_parse_fields(char *line, const char *word, struct client_status *st,
    char *err, size_t errlen)
{
	const char *reason;
	char	    shown[96];
	char	   *p, *tok, *eq;
	size_t	    wl = strlen(word);

	st->n = 0;
	if (client_classify(line, &reason) == CLIENT_REFUSED) {
		client_printable(reason, err, errlen);
		return 1;
	}
	client_printable(line, shown, sizeof shown);
	if (strncmp(line, word, wl) != 0 || line[wl] != ' ') {
		snprintf(err, errlen, "unexpected reply to %s: %s", word,
		    shown);
		return -1;
	}
	for (p = line + wl + 1; p != NULL;) {
		tok = p;
		if ((p = strchr(p, ' ')) != NULL)
			*p++ = '\0';
		if ((eq = strchr(tok, '=')) == NULL ||
		    !client_key_ok(tok, (size_t)(eq - tok)) ||
		    !client_value_ok(eq + 1)) {
			snprintf(err, errlen, "malformed %s field in: %s", word,
			    shown);
			return -1;
		}
		if (st->n == CLIENT_FIELDS_MAX) {
			snprintf(err, errlen, "%s with more than %d fields",
			    word, CLIENT_FIELDS_MAX);
			return -1;
		}
		*eq = '\0';
		st->key[st->n] = tok;
		st->value[st->n++] = eq + 1;
	}
	return 0;
}

/*
 * Split a STATUS reply, in place, into key=value fields, checking it the
 * way a daZai-rs client would: "STATUS" then alive, armed, grace and
 * registered, in that order, each a decimal; dazai's own fields after
 * them. Returns 0; 1 for a refusal (err holds the reason); -1 with err
 * for anything malformed.
 */
int
client_parse_status(char *line, struct client_status *st, char *err,
    size_t errlen)
{
	static const char *const first[] = { "alive", "armed", "grace",
		"registered" };
	unsigned long long	 v;
	char			 shown[96];
	size_t			 i;
	int			 rc;

	client_printable(line, shown, sizeof shown);
	if ((rc = client_parse_fields(line, "STATUS", st, err, errlen)) != 0)
		return rc;
	for (i = 0; i < 4; i++)
		if (st->n <= i || strcmp(st->key[i], first[i]) != 0 ||
		    client_decimal(st->value[i], &v) != 0) {
			snprintf(err, errlen,
			    "STATUS without %s as field %zu: "
			    "%s",
			    first[i], i + 1, shown);
			return -1;
		}
	return 0;
}

/*
 * Split a SESSION reply (one live heartbeat) in place: index, hello_pid,
 * peer_pid, since and idle, each a decimal or "-". Returns as
 * client_parse_status does.
 */
int
client_parse_session(char *line, struct client_status *se, char *err,
    size_t errlen)
{
	static const char *const keys[] = { "index", "hello_pid", "peer_pid",
		"since", "idle" };
	unsigned long long	 v;
	const char		*val;
	size_t			 i;
	int			 rc;

	if ((rc = client_parse_fields(line, "SESSION", se, err, errlen)) != 0)
		return rc;
	for (i = 0; i < sizeof keys / sizeof keys[0]; i++) {
		val = client_status_get(se, keys[i]);
		if (val == NULL ||
		    (strcmp(val, "-") != 0 && client_decimal(val, &v) != 0)) {
			snprintf(err, errlen,
			    "SESSION without a number for "
			    "%s",
			    keys[i]);
			return -1;
		}
	}
	return 0;
}

/*
 * Split an ENTRY reply (one held secret) in place: index, name (a valid
 * secret name), bytes, reads (decimals) and expires (a decimal or "-",
 * then -1). Returns as client_parse_status does.
 */
int
client_parse_entry(char *line, struct client_entry *e, char *err, size_t errlen)
{
	static const char *const keys[] = { "index", "name", "bytes", "reads",
		"expires" };
	struct client_status	 st;
	unsigned long long	 v[5];
	const char		*val[5];
	size_t			 i;
	int			 rc;

	if ((rc = client_parse_fields(line, "ENTRY", &st, err, errlen)) != 0)
		return rc;
	for (i = 0; i < 5; i++) {
		val[i] = client_status_get(&st, keys[i]);
		v[i] = 0;
		if (val[i] == NULL ||
		    (i != 1 && !(i == 4 && strcmp(val[i], "-") == 0) &&
			client_decimal(val[i], &v[i]) != 0) ||
		    (i == 1 && !proto_name_valid(val[i], strlen(val[i])))) {
			snprintf(err, errlen, "ENTRY without a valid %s",
			    keys[i]);
			return -1;
		}
	}
	if (v[0] > INT_MAX || v[4] > LLONG_MAX) {
		snprintf(err, errlen, "ENTRY with a number out of range");
		return -1;
	}
	e->index = (int)v[0];
	e->name = val[1];
	e->bytes = v[2];
	e->reads = v[3];
	e->expires = strcmp(val[4], "-") == 0 ? -1 : (long long)v[4];
	return 0;
}

/*
 * A reply whose last field, last=, runs to the end of the line (ACTION's
 * command, RESULT's stderr): the fields before it are parsed as
 * client_parse_fields does and *tail is the rest (the line is cut
 * there). Returns as client_parse_fields does, or -1 without last=.
 */
int
client_parse_tail(char *line, const char *verb, const char *last,
    struct client_status *st, const char **tail, char *err, size_t errlen)
{
	char key[40], *p;

	snprintf(key, sizeof key, " %s=", last);
	*tail = "";
	if (strncmp(line, "ERR ", 4) != 0) {
		if ((p = strstr(line, key)) == NULL) {
			snprintf(err, errlen, "%s without %s=", verb, last);
			return -1;
		}
		*p = '\0';
		*tail = p + strlen(key);
	}
	return client_parse_fields(line, verb, st, err, errlen);
}

/* The value of a STATUS field, or NULL. */
const char *
client_status_get(const struct client_status *st, const char *key)
{
	size_t i;

	for (i = 0; i < st->n; i++)
		if (strcmp(st->key[i], key) == 0)
			return st->value[i];
	return NULL;
}

/* Is v a JSON number as written (no leading zeros, optional fraction)? */
static int
client_is_number(const char *v)
{
	const char *p = v;

	if (*p == '-')
		p++;
	if (*p < '0' || *p > '9')
		return 0;
	if (*p == '0' && p[1] >= '0' && p[1] <= '9')
		return 0;
	while (*p >= '0' && *p <= '9')
		p++;
	if (*p == '.') {
		p++;
		if (*p < '0' || *p > '9')
			return 0;
		while (*p >= '0' && *p <= '9')
			p++;
	}
	return *p == '\0';
}

/* Append to buf at *off; false when it does not fit. */
static int
client_append(char *buf, size_t len, size_t *off, const char *s)
{
	size_t n = strlen(s);

	if (*off + n >= len)
		return 0;
	memcpy(buf + *off, s, n + 1);
	*off += n;
	return 1;
}

/*
 * The fields as one JSON object on one line: numbers as numbers, "-" as
 * null, anything else as a string. Returns its length, or -1 if buf is
 * too small.
 */
int
client_status_json(const struct client_status *st, char *buf, size_t len)
{
	size_t	    off = 0, i;
	const char *v;
	char	    esc[3] = { '\\', 0, 0 }, one[2] = { 0, 0 };

	if (!client_append(buf, len, &off, "{"))
		return -1;
	for (i = 0; i < st->n; i++) {
		if ((i > 0 && !client_append(buf, len, &off, ",")) ||
		    !client_append(buf, len, &off, "\"") ||
		    !client_append(buf, len, &off, st->key[i]) ||
		    !client_append(buf, len, &off, "\":"))
			return -1;
		v = st->value[i];
		if (strcmp(v, "-") == 0) {
			if (!client_append(buf, len, &off, "null"))
				return -1;
			continue;
		}
		if (client_is_number(v)) {
			if (!client_append(buf, len, &off, v))
				return -1;
			continue;
		}
		if (!client_append(buf, len, &off, "\""))
			return -1;
		for (; *v != '\0'; v++) {
			one[0] = esc[1] = *v;
			if (!client_append(buf, len, &off,
				*v == '"' || *v == '\\' ? esc : one))
				return -1;
		}
		if (!client_append(buf, len, &off, "\""))
			return -1;
	}
	if (!client_append(buf, len, &off, "}\n"))
		return -1;
	return (int)off;
}

/*
 * The fields for a person, one "key value" line each, in the daemon's
 * order. Returns the length, or -1 if buf is too small.
 */
int
client_status_text(const struct client_status *st, char *buf, size_t len)
{
	size_t off = 0, i;
	int    n;

	buf[0] = '\0';
	for (i = 0; i < st->n; i++) {
		n = snprintf(buf + off, len - off, "%-13s %s\n", st->key[i],
		    st->value[i]);
		if (n < 0 || (size_t)n >= len - off)
			return -1;
		off += (size_t)n;
	}
	return (int)off;
}

/*
 * Copy a line from the daemon into out for an error message: control and
 * non-ASCII bytes as \xNN, cut with "..." where it does not fit.
 */
void
client_printable(const char *in, char *out, size_t outlen)
{
	static const char hex[] = "0123456789abcdef";
	size_t		  o = 0, need;
	unsigned char	  ch;

	if (outlen == 0)
		return;
	for (; *in != '\0'; in++) {
		ch = (unsigned char)*in;
		need = ch >= ' ' && ch <= '~' ? 1 : 4;
		/* Room for this character, a final "..." and the NUL. */
		if (o + need + 4 > outlen) {
			if (o + 4 <= outlen) {
				memcpy(out + o, "...", 3);
				o += 3;
			}
			break;
		}
		if (need == 1)
			out[o++] = (char)ch;
		else {
			out[o++] = '\\';
			out[o++] = 'x';
			out[o++] = hex[ch >> 4];
			out[o++] = hex[ch & 15];
		}
	}
	out[o] = '\0';
}

/*
 * The heartbeats the daemon counts now (STATUS sessions=), on a control
 * connection of its own; -1 if it cannot say.
 */
static long
client_sessions(const char *path, bool is_default)
{
	struct client_status st;
	struct client	     c;
	char		     reply[CLIENT_REPLY_MAX + 1], err[CLIENT_ERRLEN];
	unsigned long long   v;
	const char	    *s;
	long		     n = -1;

	if (client_open(&c, path, is_default, err, sizeof err) != 0)
		return -1;
	if (client_request(&c, "STATUS", reply, sizeof reply, err,
		sizeof err) == 0 &&
	    client_parse_status(reply, &st, err, sizeof err) == 0 &&
	    (s = client_status_get(&st, "sessions")) != NULL &&
	    client_decimal(s, &v) == 0 && v <= LONG_MAX)
		n = (long)v;
	client_close(&c);
	return n;
}

/*
 * The exchange that cancels a pending panic, as dazai cancel and
 * dazai-heartbeat --cancel both do it: HELLO, CANCEL, QUIT on a heartbeat
 * connection (the protocol takes CANCEL only from one), with the signals
 * that end a process held meanwhile, since after WELCOME our death would
 * be a lost heartbeat. After a cancel, STATUS says whether any other
 * heartbeat still guards the secret. Returns what happened; the reply to
 * CANCEL is in cc->reply, what failed in err.
 */
enum client_cancel_result
client_cancel(const char *path, bool is_default, struct client_cancel *cc,
    char *err, size_t errlen)
{
	enum client_cancel_result rc = CLIENT_CANCEL_FAILED;
	struct client		  c;
	sigset_t		  set, old;
	char line[64], reply[CLIENT_REPLY_MAX + 1], shown[96];
	long n;
	int  saved;

	memset(cc, 0, sizeof *cc);
	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGHUP);
	sigaddset(&set, SIGQUIT);
	sigprocmask(SIG_BLOCK, &set, &old);
	if (client_open(&c, path, is_default, err, errlen) != 0) {
		saved = errno;
		sigprocmask(SIG_SETMASK, &old, NULL);
		errno = saved;
		/* A daemon that did not take the connection in time is
		 * there: a failure, not "no daemon". */
		return saved == ETIMEDOUT ? CLIENT_CANCEL_FAILED :
					    CLIENT_CANCEL_NODAEMON;
	}
	snprintf(line, sizeof line, "HELLO %d", (int)getpid());
	if (client_request(&c, line, reply, sizeof reply, err, errlen) != 0)
		goto out;
	if (strcmp(reply, "BUSY") == 0) {
		snprintf(err, errlen,
		    "BUSY: another heartbeat holds the "
		    "guard");
		rc = CLIENT_CANCEL_BUSY;
		goto out;
	}
	if (strcmp(reply, "WELCOME") != 0) {
		client_printable(reply, shown, sizeof shown);
		snprintf(err, errlen, "unexpected reply to HELLO: %s", shown);
		goto out;
	}
	if (client_request(&c, "CANCEL", cc->reply, sizeof cc->reply, err,
		errlen) != 0)
		goto out;
	cc->cancelled = strcmp(cc->reply, "CANCELLED") == 0;
	cc->none_pending = strcmp(cc->reply, "ERR no pending panic") == 0;
	if (client_request(&c, "QUIT", reply, sizeof reply, err, errlen) != 0)
		goto out;
	if (strcmp(reply, "BYE") != 0) {
		client_printable(reply, shown, sizeof shown);
		snprintf(err, errlen, "no BYE after QUIT: %s", shown);
		goto out;
	}
	rc = CLIENT_CANCEL_DONE;
out:
	client_close(&c);
	sigprocmask(SIG_SETMASK, &old, NULL);
	if (rc == CLIENT_CANCEL_DONE && cc->cancelled) {
		/* Unknown counts as none: better a warning too many. */
		n = client_sessions(path, is_default);
		cc->unguarded = n <= 0;
	}
	return rc;
}
