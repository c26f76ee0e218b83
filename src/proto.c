/* SPDX-License-Identifier: ISC */
/*
 * The wire protocol, heartbeat and control verbs: framing, parsing and
 * reply formatting, no I/O.
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "dazai/parse.h"
#include "dazai/proto.h"

/* Start with an empty buffer. */
void
proto_reader_init(struct proto_reader *r)
{
	r->len = 0;
	r->consumed = 0;
}

/* Drop the line handed out last, so its bytes can be reused. */
static void
proto_reader_compact(struct proto_reader *r)
{
	if (r->consumed == 0)
		return;
	memmove(r->buf, r->buf + r->consumed, r->len - r->consumed);
	r->len -= r->consumed;
	r->consumed = 0;
}

/* Return where the next read(2) may write, and how much room there is. */
char *
proto_reader_space(struct proto_reader *r, size_t *room)
{
	proto_reader_compact(r);
	*room = sizeof r->buf - r->len;
	return r->buf + r->len;
}

/*
 * How many bytes the next read(2) may take without reaching past a line
 * that could be `LOAD <n>`: the raw bytes after such a line belong in the
 * secure buffer, never in this one. A LOAD line is at least 7 bytes
 * ("LOAD 1\n"), so from the start of a line 7 bytes are safe; within a
 * line that cannot be a LOAD, its end plus 7 more; within one that may be,
 * up to the earliest place its newline can be, at least one byte. Zero
 * while a whole line waits to be taken (take it first).
 */
size_t
proto_reader_safe(const struct proto_reader *r)
{
	const char *p = r->buf + r->consumed;
	size_t	    n = r->len - r->consumed;

	if (memchr(p, '\n', n) != NULL)
		return 0;
	if (memcmp(p, "LOAD", n < 4 ? n : 4) == 0)
		return n < 6 ? 7 - n : 1;
	return 8;
}

/*
 * The read discipline: where the next read(2) on a connection of that
 * kind may write, and how many bytes it may take (*room). Until the
 * connection is a heartbeat, no more than proto_reader_safe allows; room
 * 0 means take the waiting line first.
 */
char *
proto_reader_next(struct proto_reader *r, enum proto_kind kind, size_t *room)
{
	char  *space = proto_reader_space(r, room);
	size_t safe;

	if (kind != PROTO_KIND_HEARTBEAT &&
	    (safe = proto_reader_safe(r)) < *room)
		*room = safe;
	return space;
}

/*
 * Could raw bytes follow this whole line (it starts as a LOAD does)?
 * Such a line, even refused, ends a control connection's requests: the
 * bytes after it are never read as requests.
 */
bool
proto_line_may_load(const char *line, size_t len)
{
	return len >= 4 && memcmp(line, "LOAD", 4) == 0;
}

/* Bytes read but not yet handed out as lines. */
size_t
proto_reader_pending(const struct proto_reader *r)
{
	return r->len - r->consumed;
}

/* Account for bytes the caller placed at proto_reader_space(). */
void
proto_reader_added(struct proto_reader *r, size_t n)
{
	r->len += n;
}

/*
 * Hand out the next whole line (without "\n" and a trailing "\r"), or say
 * that more bytes are needed or that the line is too long. The line stays
 * valid until the next call.
 */
enum proto_frame
proto_next_line(struct proto_reader *r, const char **line, size_t *len)
{
	const char *nl;
	size_t	    n;

	proto_reader_compact(r);
	nl = memchr(r->buf, '\n', r->len);
	if (nl == NULL)
		return r->len >= sizeof r->buf ? PROTO_FRAME_TOOLONG :
						 PROTO_FRAME_MORE;
	n = nl - r->buf;
	r->consumed = n + 1;
	if (n > 0 && r->buf[n - 1] == '\r')
		n--;
	if (n > PROTO_LINE_MAX)
		return PROTO_FRAME_TOOLONG;
	*line = r->buf;
	*len = n;
	return PROTO_FRAME_LINE;
}

/*
 * A pid on the wire: a positive decimal that fits an int, written without
 * a leading zero; -1 if malformed.
 */
static int
proto_parse_pid(const char *s, size_t len)
{
	unsigned long long v;

	if (len == 0 || len > 10 || s[0] == '0' ||
	    parse_number(s, len, 0x7fffffff, &v) != 0)
		return -1;
	return (int)v;
}

/* Compare a length-delimited word to a verb. */
static int
proto_word_is(const char *w, size_t len, const char *verb)
{
	return len == strlen(verb) && memcmp(w, verb, len) == 0;
}

/*
 * The pid of "pid=<N>" (REGISTER, UNREGISTER); 0 when it is missing or
 * not a positive decimal that fits a pid: the reply is the same for all.
 */
static int
proto_parse_pid_arg(const char *arg, size_t alen)
{
	int pid;

	if (arg == NULL || alen < 4 || memcmp(arg, "pid=", 4) != 0)
		return 0;
	pid = proto_parse_pid(arg + 4, alen - 4);
	return pid > 0 ? pid : 0;
}

/* A LOAD length: 1 to 19 decimal digits, no sign; -1 if malformed. */
static int
proto_parse_len(const char *s, size_t len, size_t *out)
{
	unsigned long long v;

	if (len > 19 || parse_number(s, len, SIZE_MAX, &v) != 0)
		return -1;
	*out = (size_t)v;
	return 0;
}

/*
 * Is this a secret's name: 1 to PROTO_NAME_MAX bytes of [A-Za-z0-9._-],
 * the first a letter or digit? (So a name is never an option, a path
 * or anything a shell or a log line would read otherwise.) The one rule,
 * for the daemon and the client alike.
 */
bool
proto_name_valid(const char *s, size_t len)
{
	size_t i;
	char   ch;

	if (len == 0 || len > PROTO_NAME_MAX)
		return false;
	for (i = 0; i < len; i++) {
		ch = s[i];
		if ((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
		    (ch >= '0' && ch <= '9'))
			continue;
		if (i > 0 && (ch == '.' || ch == '_' || ch == '-'))
			continue;
		return false;
	}
	return true;
}

/*
 * The optional name after a verb (arg NULL: none, the default secret);
 * NULL once it is in cmd, else the reason.
 */
static const char *
proto_parse_name(const char *arg, size_t alen, struct proto_cmd *cmd)
{
	if (arg == NULL) {
		memcpy(cmd->name, PROTO_NAME_DEFAULT,
		    sizeof PROTO_NAME_DEFAULT);
		cmd->named = false;
		return NULL;
	}
	if (!proto_name_valid(arg, alen))
		return "bad name";
	memcpy(cmd->name, arg, alen);
	cmd->name[alen] = '\0';
	cmd->named = true;
	return NULL;
}

/* The verbs that take no argument. */
static const struct {
	const char     *word;
	enum proto_verb verb;
} proto_plain[] = {
	{ "PING", PROTO_PING },
	{ "CANCEL", PROTO_CANCEL },
	{ "QUIT", PROTO_QUIT },
	{ "STATUS", PROTO_STATUS },
	{ "ARM", PROTO_ARM },
	{ "PANIC", PROTO_PANIC },
	{ "REHEARSE", PROTO_REHEARSE },
};

/*
 * Turn one line into a command. Returns NULL on success, else the reason
 * for an "ERR <reason>" reply (a static string). REGISTER and UNREGISTER
 * always parse; a missing or bad pid is pid 0, answered "ERROR invalid
 * pid" as daZai-rs does.
 */
const char *
proto_parse_line(const char *line, size_t len, struct proto_cmd *cmd)
{
	const char *sp, *arg = NULL;
	size_t	    vlen = len, alen = 0, i;

	if (len == 0)
		return "empty line";
	if ((sp = memchr(line, ' ', len)) != NULL) {
		vlen = sp - line;
		arg = sp + 1;
		alen = len - vlen - 1;
	}
	cmd->pid = 0;
	cmd->len = 0;
	cmd->name[0] = '\0';
	cmd->named = false;
	if (proto_word_is(line, vlen, "HELLO")) {
		cmd->verb = PROTO_HELLO;
		if (arg == NULL)
			return "HELLO needs a pid";
		if ((cmd->pid = proto_parse_pid(arg, alen)) < 0)
			return "bad pid";
		return NULL;
	}
	if (proto_word_is(line, vlen, "REGISTER") ||
	    proto_word_is(line, vlen, "UNREGISTER")) {
		cmd->verb = line[0] == 'R' ? PROTO_REGISTER : PROTO_UNREGISTER;
		cmd->pid = proto_parse_pid_arg(arg, alen);
		return NULL;
	}
	if (proto_word_is(line, vlen, "SESSION") ||
	    proto_word_is(line, vlen, "ACTION") ||
	    proto_word_is(line, vlen, "RESULT")) {
		cmd->verb = line[0] == 'S' ? PROTO_SESSION :
		    line[0] == 'A'	   ? PROTO_ACTION :
					     PROTO_RESULT;
		if (arg == NULL)
			return line[0] == 'S' ? "SESSION needs an index" :
						"needs an index";
		if (proto_parse_len(arg, alen, &cmd->len) != 0 ||
		    cmd->len >= 1000)
			return "bad index";
		return NULL;
	}
	if (proto_word_is(line, vlen, "ENTRY")) {
		cmd->verb = PROTO_ENTRY;
		if (arg == NULL)
			return "ENTRY needs an index";
		if (proto_parse_len(arg, alen, &cmd->len) != 0 ||
		    cmd->len >= PROTO_ENTRY_MAX)
			return "bad index";
		return NULL;
	}
	if (proto_word_is(line, vlen, "LOAD")) {
		cmd->verb = PROTO_LOAD;
		if (arg == NULL)
			return "LOAD needs a length";
		if ((sp = memchr(arg, ' ', alen)) != NULL) {
			i = sp - arg;
			if (proto_parse_len(arg, i, &cmd->len) != 0)
				return "bad length";
			return proto_parse_name(sp + 1, alen - i - 1, cmd);
		}
		if (proto_parse_len(arg, alen, &cmd->len) != 0)
			return "bad length";
		return proto_parse_name(NULL, 0, cmd);
	}
	if (proto_word_is(line, vlen, "GET") ||
	    proto_word_is(line, vlen, "WIPE")) {
		cmd->verb = line[0] == 'G' ? PROTO_GET : PROTO_WIPE;
		return proto_parse_name(arg, alen, cmd);
	}
	for (i = 0; i < sizeof proto_plain / sizeof proto_plain[0]; i++)
		if (proto_word_is(line, vlen, proto_plain[i].word))
			break;
	if (i == sizeof proto_plain / sizeof proto_plain[0])
		return "unknown command";
	cmd->verb = proto_plain[i].verb;
	if (arg != NULL)
		return "unexpected argument";
	return NULL;
}

/*
 * Decide whether a parsed command is allowed on a connection of this
 * kind. A new connection takes anything but CANCEL (HELLO makes it a
 * heartbeat, the rest a control connection); a heartbeat keeps the
 * reference's four verbs; a control connection takes no HELLO and no
 * CANCEL (that one needs a heartbeat). NULL if allowed, else the reason.
 */
const char *
proto_admit(enum proto_kind kind, const struct proto_cmd *cmd)
{
	switch (kind) {
	case PROTO_KIND_NEW:
		if (cmd->verb == PROTO_CANCEL)
			return "hello first";
		return NULL;
	case PROTO_KIND_HEARTBEAT:
		if (cmd->verb == PROTO_HELLO)
			return "already said hello";
		if (cmd->verb != PROTO_PING && cmd->verb != PROTO_CANCEL &&
		    cmd->verb != PROTO_QUIT)
			return "not on a heartbeat connection";
		return NULL;
	case PROTO_KIND_CONTROL:
		if (cmd->verb == PROTO_HELLO || cmd->verb == PROTO_CANCEL)
			return "not on a control connection";
		return NULL;
	}
	return "unknown command";
}

/* Write "ERR <reason>\n" into buf; returns its length. */
int
proto_format_error(char *buf, size_t size, const char *reason)
{
	int n;

	n = snprintf(buf, size, "ERR %s\n", reason);
	if (n < 0 || (size_t)n >= size)
		return -1;
	return n;
}

/* Whole seconds, rounded up, or "-" for a negative value. */
static void
proto_seconds(char *buf, size_t size, double v)
{
	if (v < 0 || !isfinite(v))
		snprintf(buf, size, "-");
	else
		snprintf(buf, size, "%.0f", ceil(v));
}

/*
 * Write the STATUS line: daZai-rs's four fields first, in its order, then
 * dazai's own. Protections are comma separated. Returns its length, or -1
 * if it does not fit.
 */
int
proto_format_status(char *buf, size_t size, const struct proto_status *st)
{
	char   grace[24], deadline[24], expires[24], prot[160];
	size_t i;
	int    n;

	proto_seconds(grace, sizeof grace, st->grace);
	proto_seconds(deadline, sizeof deadline, st->deadline);
	proto_seconds(expires, sizeof expires, st->expires);
	snprintf(prot, sizeof prot, "%s",
	    st->protections != NULL && st->protections[0] != '\0' ?
		st->protections :
		"none");
	for (i = 0; prot[i] != '\0'; i++)
		if (prot[i] == ' ' || prot[i] == '\n')
			prot[i] = ',';
	n = snprintf(buf, size,
	    "STATUS alive=1 armed=%d grace=%s "
	    "registered=%d state=%s sessions=%d secret_bytes=%zu "
	    "protections=%s deadline=%s expires=%s reads=%lu sandbox=%s "
	    "warden=%s actions=%d secrets=%d hibernate=%s sleep=%s\n",
	    st->armed ? 1 : 0, grace, st->registered,
	    st->state != NULL ? st->state : "-", st->sessions, st->secret_bytes,
	    prot, deadline, expires, st->reads,
	    st->sandbox != NULL ? st->sandbox : "off",
	    st->warden != NULL ? st->warden : "off", st->actions, st->secrets,
	    st->hibernate != NULL ? st->hibernate : "possible",
	    st->sleep != NULL ? st->sleep : "keep");
	if (n < 0 || (size_t)n >= size)
		return -1;
	return n;
}

/*
 * Write one heartbeat's line: "SESSION index=<i> hello_pid=<p>
 * peer_pid=<p> since=<unix seconds> idle=<seconds>"; its length or -1.
 */
int
proto_format_session(char *buf, size_t size, const struct proto_session *s)
{
	char idle[24];
	int  n;

	proto_seconds(idle, sizeof idle, s->idle);
	n = snprintf(buf, size,
	    "SESSION index=%d hello_pid=%d peer_pid=%d "
	    "since=%lld idle=%s\n",
	    s->index, s->hello_pid, s->peer_pid, s->since, idle);
	if (n < 0 || (size_t)n >= size)
		return -1;
	return n;
}

/*
 * Copy text into buf (len bytes) for the end of a reply line: a byte
 * that is not printable ASCII becomes '?', and what does not fit (past
 * 300 bytes) is cut with "...".
 */
static void
proto_tail(char *buf, size_t len, const char *text)
{
	size_t i, max = len < 304 ? len : 304;

	for (i = 0; text != NULL && text[i] != '\0' && i + 4 < max; i++)
		buf[i] = text[i] >= 0x20 && text[i] < 0x7f ? text[i] : '?';
	if (text != NULL && text[i] != '\0' && i + 4 >= max) {
		memcpy(buf + i, "...", 3);
		i += 3;
	}
	buf[i] = '\0';
}

/*
 * Write one action's line: "ACTION index=<i> on=<panic|wipe>
 * command=<the rest of the line>"; returns its length or -1.
 */
int
proto_format_action(char *buf, size_t size, const struct proto_action *a)
{
	char cmd[304];
	int  n;

	proto_tail(cmd, sizeof cmd, a->command);
	n = snprintf(buf, size, "ACTION index=%d on=%s command=%s\n", a->index,
	    a->on, cmd);
	if (n < 0 || (size_t)n >= size)
		return -1;
	return n;
}

/*
 * Write one rehearsed action's line: "RESULT index=<i> state=<pending|
 * done> status=<n> timed_out=<0|1> stderr=<the rest of the line>".
 */
int
proto_format_result(char *buf, size_t size, const struct proto_result *r)
{
	char err[304];
	int  n;

	proto_tail(err, sizeof err, r->stderr_line);
	n = snprintf(buf, size,
	    "RESULT index=%d state=%s status=%d "
	    "timed_out=%d stderr=%s\n",
	    r->index, r->done ? "done" : "pending", r->status,
	    r->timed_out ? 1 : 0, err);
	if (n < 0 || (size_t)n >= size)
		return -1;
	return n;
}

/*
 * Write one held secret's line: "ENTRY index=<i> name=<name> bytes=<n>
 * reads=<n> expires=<seconds or ->"; its length or -1.
 */
int
proto_format_entry(char *buf, size_t size, const struct proto_entry *e)
{
	char expires[24];
	int  n;

	proto_seconds(expires, sizeof expires, e->expires);
	n = snprintf(buf, size,
	    "ENTRY index=%d name=%s bytes=%zu reads=%lu "
	    "expires=%s\n",
	    e->index, e->name, e->bytes, e->reads, expires);
	if (n < 0 || (size_t)n >= size)
		return -1;
	return n;
}

/* Write the GET header "SECRET <n>\n"; returns its length or -1. */
int
proto_format_secret(char *buf, size_t size, size_t len)
{
	int n;

	n = snprintf(buf, size, "SECRET %zu\n", len);
	if (n < 0 || (size_t)n >= size)
		return -1;
	return n;
}
