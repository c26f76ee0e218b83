/* SPDX-License-Identifier: ISC */
/*
 * libFuzzer harness for the protocol, heartbeat and control verbs: the
 * framer (proto_reader_*, proto_next_line) fed the input in chunks of
 * varying size, as read(2) would hand it over, each read sized by the
 * daemon's own read discipline (proto_reader_next, which conn.c calls),
 * and proto_parse_line, proto_admit and the reply
 * formatters on every line, the connection's kind following its first
 * admitted verb. A LOAD that parses takes its bytes straight from the
 * stream, as the secure buffer would. Besides the sanitizers, it checks
 * what the daemon relies on: every line handed out is exactly the next
 * piece of the stream, fits the limit and holds no newline; no byte
 * after a LOAD line ever reaches the line buffer; a HELLO that parses
 * names a positive pid, a REGISTER a pid or 0; a LOAD, GET or WIPE
 * names a secret by a name that proto_name_valid accepts and that is
 * exactly the line's last word (or "default" without one); every reply
 * fits.
 *
 * The first input byte seeds the chunk sizes; the rest is the stream.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dazai/proto.h"

int LLVMFuzzerTestOneInput(const uint8_t *, size_t);

/* Stop with a message libFuzzer will show next to the reproducer. */
#define CHECK(cond) \
	do { \
		if (!(cond)) { \
			fprintf(stderr, \
			    "fuzz_proto: %s:%d: check failed: %s\n", __FILE__, \
			    __LINE__, #cond); \
			abort(); \
		} \
	} while (0)

/* Next chunk size from a small xorshift state: 1..max, small ones often. */
static size_t
chunk_size(uint32_t *s, size_t max)
{
	uint32_t x = *s;

	x ^= x << 13;
	x ^= x >> 17;
	x ^= x << 5;
	*s = x;
	switch (x & 3) {
	case 0:
		return 1;
	case 1:
		return 1 + (x >> 8) % (max < 8 ? max : 8);
	default:
		return 1 + (x >> 8) % max;
	}
}

/* What the stream must look like for a line the framer handed out. */
static void
check_line(const uint8_t *stream, size_t slen, size_t *pos, const char *line,
    size_t len)
{
	size_t p = *pos;

	CHECK(len <= PROTO_LINE_MAX);
	CHECK(memchr(line, '\n', len) == NULL);
	CHECK(p + len <= slen);
	CHECK(memcmp(stream + p, line, len) == 0);
	p += len;
	if (p < slen && stream[p] == '\r' && p + 1 < slen &&
	    stream[p + 1] == '\n')
		p++;
	CHECK(p < slen && stream[p] == '\n');
	*pos = p + 1;
}

/* Is the line exactly word? */
static bool
is(const char *line, size_t len, const char *word)
{
	return len == strlen(word) && memcmp(line, word, len) == 0;
}

/*
 * A verb's secret name: valid by the one rule, NUL-terminated in the
 * command, and the line's last word if the line names one.
 */
static void
check_name(const char *line, size_t len, const struct proto_cmd *cmd)
{
	const char *sp = memchr(line, ' ', len), *last = line;
	size_t	    n = strnlen(cmd->name, sizeof cmd->name);
	size_t	    i;

	CHECK(n < sizeof cmd->name);
	CHECK(proto_name_valid(cmd->name, n));
	for (i = 0; i < len; i++)
		if (line[i] == ' ')
			last = line + i + 1;
	if (cmd->verb == PROTO_LOAD &&
	    memchr(sp + 1, ' ', len - (size_t)(sp + 1 - line)) == NULL) {
		CHECK(strcmp(cmd->name, PROTO_NAME_DEFAULT) == 0);
		return;
	}
	if (cmd->verb != PROTO_LOAD && sp == NULL) {
		CHECK(strcmp(cmd->name, PROTO_NAME_DEFAULT) == 0);
		return;
	}
	CHECK((size_t)(line + len - last) == n);
	CHECK(memcmp(last, cmd->name, n) == 0);
}

/* What a command that parsed and was admitted must look like. */
static void
check_cmd(const char *line, size_t len, const struct proto_cmd *cmd,
    enum proto_kind kind)
{
	bool hb = kind == PROTO_KIND_HEARTBEAT;
	bool ctl = kind == PROTO_KIND_CONTROL;

	switch (cmd->verb) {
	case PROTO_HELLO:
		CHECK(kind == PROTO_KIND_NEW);
		CHECK(cmd->pid > 0);
		CHECK(len > 6 && memcmp(line, "HELLO ", 6) == 0);
		break;
	case PROTO_PING:
		CHECK(is(line, len, "PING"));
		break;
	case PROTO_CANCEL:
		CHECK(hb && is(line, len, "CANCEL"));
		break;
	case PROTO_QUIT:
		CHECK(is(line, len, "QUIT"));
		break;
	case PROTO_STATUS:
	case PROTO_ARM:
	case PROTO_PANIC:
	case PROTO_REHEARSE:
		CHECK(!hb);
		CHECK(is(line, len, "STATUS") || is(line, len, "ARM") ||
		    is(line, len, "PANIC") || is(line, len, "REHEARSE"));
		break;
	case PROTO_ACTION:
	case PROTO_RESULT:
		CHECK(!hb);
		CHECK((len > 7 && memcmp(line, "ACTION ", 7) == 0) ||
		    (len > 7 && memcmp(line, "RESULT ", 7) == 0));
		CHECK(cmd->len < 1000);
		break;
	case PROTO_GET:
	case PROTO_WIPE:
		CHECK(!hb);
		CHECK(is(line, len, "GET") || is(line, len, "WIPE") ||
		    (len > 4 && memcmp(line, "GET ", 4) == 0) ||
		    (len > 5 && memcmp(line, "WIPE ", 5) == 0));
		check_name(line, len, cmd);
		CHECK(cmd->named == (memchr(line, ' ', len) != NULL));
		break;
	case PROTO_REGISTER:
	case PROTO_UNREGISTER:
		CHECK(!hb);
		CHECK(cmd->pid >= 0);
		CHECK(len >= 8 &&
		    (memcmp(line, "REGISTER", 8) == 0 ||
			memcmp(line, "UNREGISTER", len < 10 ? len : 10) == 0));
		break;
	case PROTO_LOAD:
		CHECK(!hb);
		CHECK(len > 5 && memcmp(line, "LOAD ", 5) == 0);
		check_name(line, len, cmd);
		break;
	case PROTO_ENTRY:
		CHECK(!hb);
		CHECK(len > 6 && memcmp(line, "ENTRY ", 6) == 0);
		CHECK(cmd->len < PROTO_ENTRY_MAX);
		break;
	case PROTO_SESSION:
		CHECK(!hb);
		CHECK(len > 8 && memcmp(line, "SESSION ", 8) == 0);
		CHECK(cmd->len < 1000);
		break;
	default:
		CHECK(!"unknown verb");
	}
	(void)ctl;
}

/* Every reply formatter on what a command could produce. */
static void
check_replies(const struct proto_cmd *cmd)
{
	struct proto_status st = { true, 1e6, 32, "grace", 1, (size_t)-1,
		"locked dontdump wipeonfork dontfork "
		"guard-pages noaccess-idle secretmem",
		1e6, 1e6, (unsigned long)-1, "seccomp,landlock", "down", 64, 64,
		"possible", "unavailable" };
	char		    buf[PROTO_REPLY_MAX];
	int		    n;

	if (cmd->verb == PROTO_STATUS) {
		n = proto_format_status(buf, sizeof buf, &st);
		CHECK(n > 0 && buf[n - 1] == '\n');
		CHECK(memchr(buf, '\n', (size_t)n - 1) == NULL);
	}
	if (cmd->verb == PROTO_LOAD) {
		n = proto_format_secret(buf, sizeof buf, cmd->len);
		CHECK(n > 0 && buf[n - 1] == '\n');
	}
	if (cmd->verb == PROTO_ACTION || cmd->verb == PROTO_RESULT) {
		/* A command or stderr text of every byte but NUL, longer
		 * than a reply: one printable line out all the same. */
		static char	    text[600];
		struct proto_action pa = { (int)cmd->len, "panic", text };
		struct proto_result pr = { (int)cmd->len, true, -1, true,
			text };
		size_t		    k;

		for (k = 0; k + 1 < sizeof text; k++)
			text[k] = (char)(1 + k % 255);

		n = proto_format_action(buf, sizeof buf, &pa);
		CHECK(n > 0 && buf[n - 1] == '\n');
		CHECK(memchr(buf, '\n', (size_t)n - 1) == NULL);
		n = proto_format_result(buf, sizeof buf, &pr);
		CHECK(n > 0 && buf[n - 1] == '\n');
		CHECK(memchr(buf, '\n', (size_t)n - 1) == NULL);
	}
	if (cmd->verb == PROTO_ENTRY) {
		struct proto_entry pe = { (int)cmd->len, NULL, (size_t)-1,
			(unsigned long)-1, 1e12 };
		char		   longest[PROTO_NAME_MAX + 1];

		memset(longest, 'n', PROTO_NAME_MAX);
		longest[PROTO_NAME_MAX] = '\0';
		pe.name = longest;
		n = proto_format_entry(buf, sizeof buf, &pe);
		CHECK(n > 0 && buf[n - 1] == '\n');
		CHECK(memchr(buf, '\n', (size_t)n - 1) == NULL);
	}
	if (cmd->verb == PROTO_SESSION) {
		struct proto_session ps = { (int)cmd->len, 0x7fffffff,
			0x7fffffff, -1, 1e12 };

		n = proto_format_session(buf, sizeof buf, &ps);
		CHECK(n > 0 && buf[n - 1] == '\n');
		CHECK(memchr(buf, '\n', (size_t)n - 1) == NULL);
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct proto_reader rd;
	struct proto_cmd    cmd;
	const uint8_t	   *stream;
	const char	   *line, *err;
	char		   *space, reply[128];
	size_t		    slen, fed = 0, pos = 0, room, n, len;
	uint32_t	    seed;
	enum proto_kind	    kind = PROTO_KIND_NEW;
	bool		    open = true;

	if (size == 0)
		return 0;
	seed = 0x9e3779b9u ^ data[0];
	stream = data + 1;
	slen = size - 1;
	proto_reader_init(&rd);
	while (open && fed < slen) {
		/* The daemon's own read discipline: it reads into this
		 * room, and none would look like EOF. */
		space = proto_reader_next(&rd, kind, &room);
		CHECK(room > 0 && room <= sizeof rd.buf);
		if (kind != PROTO_KIND_HEARTBEAT)
			CHECK(room <= 8);
		n = chunk_size(&seed, room);
		if (n > slen - fed)
			n = slen - fed;
		memcpy(space, stream + fed, n);
		proto_reader_added(&rd, n);
		fed += n;
		for (;;) {
			enum proto_frame f = proto_next_line(&rd, &line, &len);

			if (f == PROTO_FRAME_MORE) {
				/* Nothing complete is left in what was fed. */
				CHECK(memchr(stream + pos, '\n', fed - pos) ==
				    NULL);
				break;
			}
			if (f == PROTO_FRAME_TOOLONG) {
				/* The daemon answers and closes. */
				CHECK(proto_format_error(reply, sizeof reply,
					  "line too long") > 0);
				open = false;
				break;
			}
			CHECK(f == PROTO_FRAME_LINE);
			CHECK(line >= rd.buf &&
			    line + len <= rd.buf + sizeof rd.buf);
			check_line(stream, fed, &pos, line, len);
			memset(&cmd, 0xa5, sizeof cmd);
			if ((err = proto_parse_line(line, len, &cmd)) == NULL &&
			    (err = proto_admit(kind, &cmd)) == NULL) {
				check_cmd(line, len, &cmd, kind);
				check_replies(&cmd);
				if (kind == PROTO_KIND_NEW)
					kind = cmd.verb == PROTO_HELLO ?
					    PROTO_KIND_HEARTBEAT :
					    PROTO_KIND_CONTROL;
				if (cmd.verb == PROTO_QUIT)
					open = false;
				if (cmd.verb == PROTO_LOAD) {
					/*
					 * Its bytes are still in the stream,
					 * none in the line buffer: the daemon
					 * reads them into the secure buffer.
					 */
					CHECK(proto_reader_pending(&rd) == 0);
					CHECK(fed == pos);
					if (cmd.len == 0 ||
					    cmd.len > slen - fed) {
						open = false;
						break;
					}
					fed += cmd.len;
					pos = fed;
				}
			} else {
				CHECK(proto_format_error(reply, sizeof reply,
					  err) > 0);
				CHECK(strchr(reply, '\n') ==
				    reply + strlen(reply) - 1);
				/* A refused LOAD line closes (its bytes are
				 * never read as requests), but on a
				 * heartbeat. */
				if (len >= 4 && memcmp(line, "LOAD", 4) == 0 &&
				    kind != PROTO_KIND_HEARTBEAT)
					open = false;
			}
			if (!open)
				break;
		}
	}
	return 0;
}
