/* SPDX-License-Identifier: ISC */
/*
 * libFuzzer harness for the heartbeat protocol: the framer
 * (proto_reader_*, proto_next_line) fed the input in chunks of varying
 * size, as read(2) would hand it over, and proto_parse_line, proto_admit
 * and proto_format_error on every line, driven the way daemon.c drives
 * them. Besides the sanitizers, it checks what the daemon relies on: every
 * line handed out is exactly the next piece of the stream, fits the limit
 * and holds no newline; a HELLO that parses names a positive pid; every
 * error reason fits the daemon's reply buffer.
 *
 * The first input byte seeds the chunk sizes; the rest is the stream.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dazai/proto.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

/* Stop with a message libFuzzer will show next to the reproducer. */
#define CHECK(cond) do {						\
	if (!(cond)) {							\
		fprintf(stderr, "fuzz_proto: %s:%d: check failed: %s\n", \
		    __FILE__, __LINE__, #cond);				\
		abort();						\
	}								\
} while (0)

/* Next chunk size from a small xorshift state: 1..max, small ones often. */
static size_t
chunk_size(uint32_t *s, size_t max)
{
	uint32_t	 x = *s;

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
check_line(const uint8_t *stream, size_t slen, size_t *pos,
    const char *line, size_t len)
{
	size_t	 p = *pos;

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

/* What a command that parsed and was admitted must look like. */
static void
check_cmd(const char *line, size_t len, const struct proto_cmd *cmd,
    bool hello_done)
{
	switch (cmd->verb) {
	case PROTO_HELLO:
		CHECK(!hello_done);
		CHECK(cmd->pid > 0);
		CHECK(len > 6 && memcmp(line, "HELLO ", 6) == 0);
		break;
	case PROTO_PING:
		CHECK(hello_done && len == 4 && memcmp(line, "PING", 4) == 0);
		break;
	case PROTO_CANCEL:
		CHECK(hello_done && len == 6 &&
		    memcmp(line, "CANCEL", 6) == 0);
		break;
	case PROTO_QUIT:
		CHECK(hello_done && len == 4 && memcmp(line, "QUIT", 4) == 0);
		break;
	default:
		CHECK(!"unknown verb");
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct proto_reader	 rd;
	struct proto_cmd	 cmd;
	const uint8_t		*stream;
	const char		*line, *err;
	char			*space, reply[128];
	size_t			 slen, fed = 0, pos = 0, room, n, len;
	uint32_t		 seed;
	bool			 hello = false, open = true;

	if (size == 0)
		return 0;
	seed = 0x9e3779b9u ^ data[0];
	stream = data + 1;
	slen = size - 1;
	proto_reader_init(&rd);
	while (open && fed < slen) {
		space = proto_reader_space(&rd, &room);
		/* The daemon reads into this room: none would look like EOF. */
		CHECK(room > 0 && room <= sizeof rd.buf);
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
			    (err = proto_admit(hello, &cmd)) == NULL) {
				check_cmd(line, len, &cmd, hello);
				if (cmd.verb == PROTO_HELLO)
					hello = true;
				if (cmd.verb == PROTO_QUIT)
					open = false;
			} else {
				CHECK(proto_format_error(reply, sizeof reply,
				    err) > 0);
				CHECK(strchr(reply, '\n') ==
				    reply + strlen(reply) - 1);
			}
			if (!open)
				break;
		}
	}
	return 0;
}
