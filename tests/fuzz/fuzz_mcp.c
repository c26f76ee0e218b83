/* SPDX-License-Identifier: ISC */
/*
 * libFuzzer harness for dazai mcp's framing and dispatch: the input is
 * standard input's bytes, cut into reads of a size its first byte picks
 * (and, when that byte's high bit is set, preceded by a line over the
 * limit), framed by mcp_next_line and answered by mcp_handle with a fake
 * daemon behind mcp_ops whose replies, well formed or not, come from a
 * fixed list in turn, and one command tool whose output is the input
 * itself. Besides the sanitizers, it checks what a client relies on:
 * every line handed out fits the limit and holds no newline; every reply
 * is one line of JSON, an object with jsonrpc "2.0" and either a result
 * or an error. And mcp_redact, with a secret cut from the input: its
 * sizing call and its writing call agree, and no occurrence of the
 * secret is left (for a secret that shares no byte with "[redacted]").
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "dazai/mcp.h"

int LLVMFuzzerInitialize(int *, char ***);
int LLVMFuzzerTestOneInput(const uint8_t *, size_t);

/* Stop with a message libFuzzer will show next to the reproducer. */
#define CHECK(cond) \
	do { \
		if (!(cond)) { \
			fprintf(stderr, "fuzz_mcp: %s:%d: check failed: %s\n", \
			    __FILE__, __LINE__, #cond); \
			abort(); \
		} \
	} while (0)

/* What the fake daemon says, in turn. */
static const char *const replies[] = {
	"STATUS alive=1 armed=0 grace=0 registered=0 state=waiting "
	"sessions=0 secret_bytes=32 deadline=- reads=0",
	"OK",
	"ALREADY_ARMED",
	"ERROR invalid pid",
	"BUSY",
	"STATUS armed=1",
	"STATUS alive=1 armed=1 grace=5 registered=2 "
	"alive=1",
	"ERR \xff\xfe\x01",
	"PONG",
	NULL,
};

static unsigned	      turn;
static const uint8_t *input; /* the command tool's output */
static size_t	      input_len;

/* The fake daemon's side of a request. */
static int
fake_request(void *arg, const char *line, char *reply, size_t len, char *err,
    size_t errlen)
{
	const char *r = replies[turn++ % (sizeof replies / sizeof replies[0])];

	(void)arg;
	CHECK(strchr(line, '\n') == NULL);
	if (r == NULL) {
		snprintf(err, errlen, "no daemon");
		return -1;
	}
	snprintf(reply, len, "%s", r);
	return 0;
}

/* The fake daemon's hard panic: every other one fails. */
static int
fake_hard(void *arg, char *msg, size_t len)
{
	(void)arg;
	snprintf(msg, len, "pid 1\x80");
	return turn++ % 2 == 0 ? 0 : -1;
}

/* The fake command tool: the input as its output, in any bytes. */
static void
fake_run(void *arg, size_t n, struct mcp_run *r)
{
	(void)arg;
	CHECK(n == 0);
	if ((r->output = malloc(input_len + 1)) == NULL)
		abort();
	memcpy(r->output, input, input_len);
	r->outlen = input_len;
	r->status = (int)(input_len % 3);
	r->timed_out = input_len % 5 == 0;
}

static const struct mcp_ops ops = { fake_request, fake_hard, fake_run };

/* Redact a secret cut from the input out of the rest of it. */
static void
check_redact(const uint8_t *data, size_t size)
{
	static char    out[4096 * 10];
	const uint8_t *sec;
	size_t	       k, need, n, i;

	if (size < 2)
		return;
	k = (size_t)(data[0] % 8) + 1;
	if (k > size - 1)
		k = size - 1;
	sec = data + 1;
	need = mcp_redact(data, size, sec, k, data[0] & 1, NULL, 0);
	if (need > sizeof out)
		return;
	n = mcp_redact(data, size, sec, k, data[0] & 1, out, sizeof out);
	CHECK(n == need);
	for (i = 0; i < k; i++)
		if (memchr(MCP_REDACTED, sec[i], sizeof MCP_REDACTED - 1) !=
		    NULL)
			return;
	CHECK(memmem(out, n, sec, k) == NULL);
}

/* Check one reply line, then free it. */
static void
check_reply(char *out)
{
	json_t	   *j;
	const char *v;

	if (out == NULL)
		return;
	CHECK(strchr(out, '\n') == NULL);
	j = json_loads(out, JSON_REJECT_DUPLICATES | JSON_ALLOW_NUL, NULL);
	CHECK(j != NULL && json_is_object(j));
	v = json_string_value(json_object_get(j, "jsonrpc"));
	CHECK(v != NULL && strcmp(v, "2.0") == 0);
	CHECK((json_object_get(j, "result") != NULL) !=
	    (json_object_get(j, "error") != NULL));
	CHECK(json_object_get(j, "id") != NULL);
	json_decref(j);
	mcp_free(out);
}

/* Frame and answer whatever whole lines the reader holds. */
static void
drain(struct mcp_server *s, struct mcp_reader *rd)
{
	const char *line;
	size_t	    len;

	for (;;) {
		switch (mcp_next_line(rd, &line, &len)) {
		case MCP_FRAME_LINE:
			CHECK(len <= MCP_LINE_MAX);
			CHECK(memchr(line, '\n', len) == NULL);
			check_reply(mcp_handle(s, line, len));
			continue;
		case MCP_FRAME_TOOLONG:
			check_reply(mcp_error_line(MCP_INVALID_REQUEST,
			    "too long"));
			continue;
		case MCP_FRAME_MORE:
			return;
		}
	}
}

/* Feed n bytes of p to the reader in reads of at most chunk bytes. */
static void
feed(struct mcp_server *s, struct mcp_reader *rd, const uint8_t *p, size_t n,
    size_t chunk)
{
	size_t room, k;
	char  *space;

	while (n > 0) {
		space = mcp_reader_space(rd, &room);
		CHECK(room > 0);
		k = n < room ? n : room;
		if (k > chunk)
			k = chunk;
		memcpy(space, p, k);
		mcp_reader_added(rd, k);
		p += k;
		n -= k;
		drain(s, rd);
	}
}

/* jansson's allocations through the zeroing hooks, as the server's. */
int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	mcp_json_init();
	return 0;
}

/* One input: standard input's bytes, read as its first byte says. */
int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct mcp_reader  rd;
	static uint8_t		  filler[MCP_LINE_MAX + 2];
	static struct mcp_cmdtool cmd = { .name = "cmd" };
	struct mcp_server	  s;
	size_t			  chunk;

	if (size == 0)
		return 0;
	chunk = (size_t)(data[0] & 0x7f) + 1;
	mcp_reader_init(&rd);
	mcp_server_init(&s, &ops, NULL);
	s.cmd = &cmd;
	s.ncmd = 1;
	input = data;
	input_len = size;
	turn = 0;
	check_redact(data, size);
	if (data[0] & 0x80) {
		memset(filler, 'x', sizeof filler);
		feed(&s, &rd, filler, sizeof filler, sizeof filler);
	}
	feed(&s, &rd, data + 1, size - 1, chunk);
	return 0;
}
