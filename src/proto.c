/* SPDX-License-Identifier: ISC */
/*
 * The heartbeat wire protocol: framing and parsing, no I/O.
 */
#include <stdio.h>
#include <string.h>

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
	const char	*nl;
	size_t		 n;

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

/* Parse a positive decimal pid that fits an int; -1 if malformed. */
static int
proto_parse_pid(const char *s, size_t len)
{
	long	 v = 0;
	size_t	 i;

	if (len == 0 || len > 10 || s[0] == '0')
		return -1;
	for (i = 0; i < len; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		v = v * 10 + (s[i] - '0');
	}
	if (v > 0x7fffffffL)
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
 * Turn one line into a command. Returns NULL on success, else the reason
 * for an "ERR <reason>" reply (a static string).
 */
const char *
proto_parse_line(const char *line, size_t len, struct proto_cmd *cmd)
{
	const char	*sp, *arg = NULL;
	size_t		 vlen = len, alen = 0;

	if (len == 0)
		return "empty line";
	if ((sp = memchr(line, ' ', len)) != NULL) {
		vlen = sp - line;
		arg = sp + 1;
		alen = len - vlen - 1;
	}
	cmd->pid = 0;
	if (proto_word_is(line, vlen, "HELLO")) {
		cmd->verb = PROTO_HELLO;
		if (arg == NULL)
			return "HELLO needs a pid";
		if ((cmd->pid = proto_parse_pid(arg, alen)) < 0)
			return "bad pid";
		return NULL;
	}
	if (proto_word_is(line, vlen, "PING"))
		cmd->verb = PROTO_PING;
	else if (proto_word_is(line, vlen, "CANCEL"))
		cmd->verb = PROTO_CANCEL;
	else if (proto_word_is(line, vlen, "QUIT"))
		cmd->verb = PROTO_QUIT;
	else
		return "unknown command";
	if (arg != NULL)
		return "unexpected argument";
	return NULL;
}

/*
 * Decide whether a parsed command is allowed in the connection's state:
 * HELLO first, and only once. NULL if allowed, else the reason.
 */
const char *
proto_admit(bool hello_done, const struct proto_cmd *cmd)
{
	if (!hello_done && cmd->verb != PROTO_HELLO)
		return "hello first";
	if (hello_done && cmd->verb == PROTO_HELLO)
		return "already said hello";
	return NULL;
}

/* Write "ERR <reason>\n" into buf; returns its length. */
int
proto_format_error(char *buf, size_t size, const char *reason)
{
	int	 n;

	n = snprintf(buf, size, "ERR %s\n", reason);
	if (n < 0 || (size_t)n >= size)
		return -1;
	return n;
}
