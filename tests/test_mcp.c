/* SPDX-License-Identifier: ISC */
/*
 * dazai mcp. Its pure part (the framing and the JSON-RPC dispatch) with
 * a fake daemon behind mcp_ops; then build/dazai mcp over a raw pipe,
 * for what a well-behaved client never sends, and with --guard against
 * a real build/dazaid; then driven by the official MCP SDK's client
 * (tests/mcp/sdk_client.mjs, installed with npm ci by make check)
 * against a real build/dazaid.
 */
#include <sys/prctl.h>
#include <sys/random.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>
#include <linux/capability.h>

#include "dazai/mcp.h"
#include "helpers.h"
#include "memscan.h"

/* What the fake daemon answers, and what it was asked. */
struct fake {
	const char *reply; /* NULL: unreachable */
	int	    hard_rc;
	char	    asked[256];
	int	    calls;
};

/* The fake daemon's side of one request. */
static int
fake_request(void *arg, const char *line, char *reply, size_t len, char *err,
    size_t errlen)
{
	struct fake *f = arg;

	f->calls++;
	snprintf(f->asked, sizeof f->asked, "%s", line);
	if (f->reply == NULL) {
		snprintf(err, errlen, "no daemon at the test's socket");
		return -1;
	}
	snprintf(reply, len, "%s", f->reply);
	return 0;
}

/* The fake daemon's hard panic. */
static int
fake_hard(void *arg, char *msg, size_t len)
{
	struct fake *f = arg;

	f->calls++;
	snprintf(msg, len, "%s", f->hard_rc == 0 ? "sent" : "no daemon");
	return f->hard_rc;
}

/* The fake command tool: prints what f->reply says, exits 3. */
static void
fake_run(void *arg, size_t n, struct mcp_run *r)
{
	struct fake *f = arg;

	f->calls++;
	snprintf(f->asked, sizeof f->asked, "run %zu", n);
	r->status = 3;
	r->output = strdup(f->reply != NULL ? f->reply : "");
	r->outlen = strlen(r->output);
	r->truncated = true;
}

static const struct mcp_ops fake_ops = { fake_request, fake_hard, fake_run };

/* Handle one line through a server on f; the reply parsed (or NULL). */
static json_t *
ask(struct mcp_server *s, const char *line)
{
	json_t *j;
	char   *out;

	if ((out = mcp_handle(s, line, strlen(line))) == NULL)
		return NULL;
	ck_assert_msg(strchr(out, '\n') == NULL, "a newline in %s", out);
	j = json_loads(out, JSON_REJECT_DUPLICATES, NULL);
	ck_assert_msg(j != NULL, "not JSON: %s", out);
	mcp_free(out);
	return j;
}

/* The error code of a reply, 0 if it is a result. */
static int
code_of(json_t *r)
{
	return (int)json_integer_value(json_object_get(json_object_get(r,
							   "error"),
	    "code"));
}

/* A tools/call of name with arguments (JSON text or NULL). */
static json_t *
call(struct mcp_server *s, const char *name, const char *args)
{
	char line[1024];

	snprintf(line, sizeof line,
	    "{\"jsonrpc\":\"2.0\",\"id\":7,"
	    "\"method\":\"tools/call\",\"params\":{\"name\":\"%s\"%s%s}}",
	    name, args != NULL ? ",\"arguments\":" : "",
	    args != NULL ? args : "");
	return ask(s, line);
}

/* The result object of a reply, asserted to be one. */
static json_t *
result_of(json_t *r)
{
	json_t *res = json_object_get(r, "result");

	ck_assert_msg(res != NULL, "no result");
	return res;
}

/*
 * A tool result's text block holds exactly its structuredContent; its
 * isError is as expected.
 */
static json_t *
tool_result(json_t *r, bool failed)
{
	json_t	   *res = result_of(r), *sc, *text;
	const char *t;

	ck_assert(json_is_boolean(json_object_get(res, "isError")));
	ck_assert_int_eq(json_is_true(json_object_get(res, "isError")), failed);
	sc = json_object_get(res, "structuredContent");
	ck_assert_msg(sc != NULL, "no structuredContent");
	t = json_string_value(json_object_get(
	    json_array_get(json_object_get(res, "content"), 0), "text"));
	ck_assert(t != NULL);
	text = json_loads(t, 0, NULL);
	ck_assert(text != NULL);
	ck_assert(json_equal(text, sc));
	json_decref(text);
	return sc;
}

START_TEST(reader_splits_lines)
{
	static struct mcp_reader rd;
	const char		*line;
	size_t			 len, room;
	char			*p;

	mcp_reader_init(&rd);
	ck_assert_int_eq(mcp_next_line(&rd, &line, &len), MCP_FRAME_MORE);
	p = mcp_reader_space(&rd, &room);
	ck_assert_uint_eq(room, MCP_LINE_MAX + 1);
	memcpy(p, "ab\r\ncd\nef", 9);
	mcp_reader_added(&rd, 9);
	ck_assert_int_eq(mcp_next_line(&rd, &line, &len), MCP_FRAME_LINE);
	ck_assert_uint_eq(len, 2);
	ck_assert(memcmp(line, "ab", 2) == 0);
	ck_assert_int_eq(mcp_next_line(&rd, &line, &len), MCP_FRAME_LINE);
	ck_assert_uint_eq(len, 2);
	ck_assert(memcmp(line, "cd", 2) == 0);
	ck_assert_int_eq(mcp_next_line(&rd, &line, &len), MCP_FRAME_MORE);
	p = mcp_reader_space(&rd, &room);
	memcpy(p, "g\n", 2);
	mcp_reader_added(&rd, 2);
	ck_assert_int_eq(mcp_next_line(&rd, &line, &len), MCP_FRAME_LINE);
	ck_assert_uint_eq(len, 3);
	ck_assert(memcmp(line, "efg", 3) == 0);
}
END_TEST

/* Feed n bytes of ch to the reader, in reads as large as it allows. */
static int
feed(struct mcp_reader *rd, int ch, size_t n)
{
	const char *line;
	size_t	    len, room, k;
	char	   *p;
	int	    toolong = 0;

	while (n > 0) {
		p = mcp_reader_space(rd, &room);
		k = n < room ? n : room;
		memset(p, ch, k);
		mcp_reader_added(rd, k);
		n -= k;
		if (mcp_next_line(rd, &line, &len) == MCP_FRAME_TOOLONG)
			toolong++;
	}
	return toolong;
}

START_TEST(reader_line_limit)
{
	static struct mcp_reader rd;
	const char		*line;
	size_t			 len, room;
	char			*p;

	/* Exactly MCP_LINE_MAX bytes and a newline: a line. */
	mcp_reader_init(&rd);
	ck_assert_int_eq(feed(&rd, 'x', MCP_LINE_MAX), 0);
	p = mcp_reader_space(&rd, &room);
	ck_assert_uint_eq(room, 1);
	*p = '\n';
	mcp_reader_added(&rd, 1);
	ck_assert_int_eq(mcp_next_line(&rd, &line, &len), MCP_FRAME_LINE);
	ck_assert_uint_eq(len, MCP_LINE_MAX);
	/* One more: too long, once, then dropped to its newline, and the
	 * next line comes through whole. */
	mcp_reader_init(&rd);
	ck_assert_int_eq(feed(&rd, 'y', 3 * MCP_LINE_MAX), 1);
	p = mcp_reader_space(&rd, &room);
	memcpy(p, "yy\nok\n", 6);
	mcp_reader_added(&rd, 6);
	ck_assert_int_eq(mcp_next_line(&rd, &line, &len), MCP_FRAME_LINE);
	ck_assert_uint_eq(len, 2);
	ck_assert(memcmp(line, "ok", 2) == 0);
	ck_assert_int_eq(mcp_next_line(&rd, &line, &len), MCP_FRAME_MORE);
}
END_TEST

START_TEST(initialize_versions)
{
	static const char *const asked[] = { "2025-11-25", "2025-06-18",
		"2025-03-26", "2024-11-05", "2024-10-07", "2099-01-01" };
	static const char *const got[] = { "2025-11-25", "2025-06-18",
		"2025-03-26", "2024-11-05", "2025-11-25", "2025-11-25" };
	struct mcp_server	 s;
	json_t			*r, *res;
	char			 line[256];
	size_t			 i;

	for (i = 0; i < sizeof asked / sizeof asked[0]; i++) {
		mcp_server_init(&s, &fake_ops, NULL);
		snprintf(line, sizeof line,
		    "{\"jsonrpc\":\"2.0\",\"id\":0,"
		    "\"method\":\"initialize\",\"params\":{\"protocolVersion\":"
		    "\"%s\",\"capabilities\":{},\"clientInfo\":{\"name\":\"t\","
		    "\"version\":\"1\"}}}",
		    asked[i]);
		r = ask(&s, line);
		ck_assert(r != NULL);
		ck_assert_int_eq(json_integer_value(json_object_get(r, "id")),
		    0);
		res = result_of(r);
		ck_assert_str_eq(json_string_value(json_object_get(res,
				     "protocolVersion")),
		    got[i]);
		ck_assert(json_object_get(json_object_get(res, "capabilities"),
			      "tools") != NULL);
		ck_assert_str_eq(json_string_value(json_object_get(
				     json_object_get(res, "serverInfo"),
				     "name")),
		    "dazai");
		json_decref(r);
	}
}
END_TEST

START_TEST(ids_and_errors)
{
	struct mcp_server s;
	json_t		 *r;

	mcp_server_init(&s, &fake_ops, NULL);
	/* Notifications, responses and blank lines get no answer. */
	ck_assert(ask(&s,
		      "{\"jsonrpc\":\"2.0\",\"method\":"
		      "\"notifications/initialized\"}") == NULL);
	ck_assert(ask(&s, "{\"jsonrpc\":\"2.0\",\"method\":\"nope\"}") == NULL);
	ck_assert(ask(&s, "{\"jsonrpc\":\"2.0\",\"id\":3,\"result\":{}}") ==
	    NULL);
	ck_assert(ask(&s, "   ") == NULL);
	/* ids: 0, negative, large, a string; echoed as they came. */
	r = ask(&s, "{\"jsonrpc\":\"2.0\",\"id\":0,\"method\":\"ping\"}");
	ck_assert(json_is_integer(json_object_get(r, "id")));
	ck_assert_int_eq(json_integer_value(json_object_get(r, "id")), 0);
	ck_assert(json_is_object(json_object_get(r, "result")));
	json_decref(r);
	r = ask(&s,
	    "{\"jsonrpc\":\"2.0\",\"id\":-9007199254740991,"
	    "\"method\":\"ping\"}");
	ck_assert(json_integer_value(json_object_get(r, "id")) ==
	    -9007199254740991LL);
	json_decref(r);
	r = ask(&s,
	    "{\"jsonrpc\":\"2.0\",\"id\":\"a\\u00e9\",\"method\":"
	    "\"ping\"}");
	ck_assert_str_eq(json_string_value(json_object_get(r, "id")),
	    "a\xc3\xa9");
	json_decref(r);
	/* Unknown methods, server/discover included. */
	r = ask(&s,
	    "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":"
	    "\"server/discover\"}");
	ck_assert_int_eq(code_of(r), MCP_METHOD_NOT_FOUND);
	ck_assert_int_eq(json_integer_value(json_object_get(r, "id")), 1);
	json_decref(r);
	r = ask(&s,
	    "{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":"
	    "\"resources/list\"}");
	ck_assert_int_eq(code_of(r), MCP_METHOD_NOT_FOUND);
	json_decref(r);
	/* Not JSON, trailing bytes, a key twice, a NUL: parse errors with
	 * a null id. */
	r = ask(&s, "{\"jsonrpc\":\"2.0\",");
	ck_assert_int_eq(code_of(r), MCP_PARSE_ERROR);
	ck_assert(json_is_null(json_object_get(r, "id")));
	json_decref(r);
	r = ask(&s, "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ping\"} x");
	ck_assert_int_eq(code_of(r), MCP_PARSE_ERROR);
	json_decref(r);
	r = ask(&s,
	    "{\"jsonrpc\":\"2.0\",\"id\":1,\"id\":2,\"method\":"
	    "\"ping\"}");
	ck_assert_int_eq(code_of(r), MCP_PARSE_ERROR);
	json_decref(r);
	r = ask(&s, "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"p\\u0000\"}");
	ck_assert_int_eq(code_of(r), MCP_PARSE_ERROR);
	json_decref(r);
	/* Batches, a wrong version, a null or object id, a method that is
	 * not a string, params that are not an object. */
	r = ask(&s, "[{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ping\"}]");
	ck_assert_int_eq(code_of(r), MCP_INVALID_REQUEST);
	json_decref(r);
	r = ask(&s, "{\"jsonrpc\":\"1.0\",\"id\":1,\"method\":\"ping\"}");
	ck_assert_int_eq(code_of(r), MCP_INVALID_REQUEST);
	ck_assert_int_eq(json_integer_value(json_object_get(r, "id")), 1);
	json_decref(r);
	r = ask(&s, "{\"jsonrpc\":\"2.0\",\"id\":null,\"method\":\"ping\"}");
	ck_assert_int_eq(code_of(r), MCP_INVALID_REQUEST);
	json_decref(r);
	r = ask(&s, "{\"jsonrpc\":\"2.0\",\"id\":{},\"method\":\"ping\"}");
	ck_assert_int_eq(code_of(r), MCP_INVALID_REQUEST);
	json_decref(r);
	r = ask(&s, "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":5}");
	ck_assert_int_eq(code_of(r), MCP_INVALID_REQUEST);
	json_decref(r);
	r = ask(&s,
	    "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ping\","
	    "\"params\":[]}");
	ck_assert_int_eq(code_of(r), MCP_INVALID_PARAMS);
	json_decref(r);
}
END_TEST

START_TEST(tools_list)
{
	static const char *const names[] = { "dazai_status", "dazai_register",
		"dazai_unregister", "dazai_arm", "dazai_panic",
		"dazai_hard_panic" };
	struct mcp_server	 s;
	json_t			*r, *tools, *t, *a;
	size_t			 i;

	mcp_server_init(&s, &fake_ops, NULL);
	r = ask(&s,
	    "{\"jsonrpc\":\"2.0\",\"id\":\"l\",\"method\":"
	    "\"tools/list\",\"params\":{}}");
	tools = json_object_get(result_of(r), "tools");
	ck_assert_uint_eq(json_array_size(tools), 6);
	json_array_foreach(tools, i, t)
	{
		ck_assert_str_eq(json_string_value(json_object_get(t, "name")),
		    names[i]);
		ck_assert(mcp_tool_name_ok(names[i]));
		ck_assert(json_string_value(json_object_get(t,
			      "description")) != NULL);
		ck_assert_str_eq(json_string_value(json_object_get(
				     json_object_get(t, "inputSchema"),
				     "type")),
		    "object");
		ck_assert_str_eq(json_string_value(json_object_get(
				     json_object_get(t, "outputSchema"),
				     "type")),
		    "object");
		a = json_object_get(t, "annotations");
		ck_assert(a != NULL);
		ck_assert_int_eq(json_is_true(json_object_get(a,
				     "readOnlyHint")),
		    i == 0);
		ck_assert_int_eq(json_is_true(json_object_get(a,
				     "destructiveHint")),
		    i >= 4);
	}
	/* The pid tools require an integer pid. */
	t = json_object_get(
	    json_object_get(json_object_get(json_array_get(tools, 1),
				"inputSchema"),
		"properties"),
	    "pid");
	ck_assert_str_eq(json_string_value(json_object_get(t, "type")),
	    "integer");
	json_decref(r);
}
END_TEST

START_TEST(tool_status)
{
	struct fake f = {
		"STATUS alive=1 armed=1 grace=5 "
		"registered=2 state=guarding sessions=1 secret_bytes=32 "
		"deadline=- reads=0 sandbox=seccomp,landlock",
		0, "", 0
	};
	struct mcp_server s;
	json_t		 *r, *sc;

	mcp_server_init(&s, &fake_ops, &f);
	r = call(&s, "dazai_status", NULL);
	ck_assert_str_eq(f.asked, "STATUS");
	sc = tool_result(r, false);
	ck_assert(json_is_true(json_object_get(sc, "alive")));
	ck_assert(json_is_true(json_object_get(sc, "armed")));
	ck_assert_int_eq(json_integer_value(json_object_get(sc,
			     "grace_seconds")),
	    5);
	ck_assert_int_eq(json_integer_value(json_object_get(sc,
			     "registered_pids")),
	    2);
	ck_assert_str_eq(json_string_value(json_object_get(sc, "state")),
	    "guarding");
	ck_assert_int_eq(json_integer_value(json_object_get(sc, "sessions")),
	    1);
	ck_assert(json_is_null(json_object_get(sc, "deadline")));
	ck_assert_str_eq(json_string_value(json_object_get(sc, "sandbox")),
	    "seccomp,landlock");
	ck_assert(json_object_get(sc, "grace") == NULL);
	json_decref(r);
	/* No daemon: alive false, an error, the reason said. */
	f.reply = NULL;
	r = call(&s, "dazai_status", "{}");
	sc = tool_result(r, true);
	ck_assert(json_is_false(json_object_get(sc, "alive")));
	ck_assert(strstr(json_string_value(json_object_get(sc, "message")),
		      "no daemon") != NULL);
	json_decref(r);
	/* A daemon that sends garbage is no status. */
	f.reply = "STATUS armed=1";
	r = call(&s, "dazai_status", NULL);
	sc = tool_result(r, true);
	ck_assert(json_is_false(json_object_get(sc, "alive")));
	json_decref(r);
}
END_TEST

/* A tool error without structured content, saying why. */
static void
expect_refusal(json_t *r, const char *why)
{
	json_t	   *res = result_of(r);
	const char *t;

	ck_assert(json_is_true(json_object_get(res, "isError")));
	t = json_string_value(json_object_get(
	    json_array_get(json_object_get(res, "content"), 0), "text"));
	ck_assert_msg(t != NULL && strstr(t, why) != NULL, "%s", t);
}

START_TEST(tool_register)
{
	struct fake	  f = { "OK", 0, "", 0 };
	struct mcp_server s;
	json_t		 *r, *sc;

	mcp_server_init(&s, &fake_ops, &f);
	r = call(&s, "dazai_register", "{\"pid\":1234}");
	ck_assert_str_eq(f.asked, "REGISTER pid=1234");
	sc = tool_result(r, false);
	ck_assert(json_is_true(json_object_get(sc, "ok")));
	json_decref(r);
	r = call(&s, "dazai_unregister", "{\"pid\":2147483647}");
	ck_assert_str_eq(f.asked, "UNREGISTER pid=2147483647");
	json_decref(r);
	/* Refused by the daemon: ok false, its reply as the message. */
	f.reply = "ERROR invalid pid";
	r = call(&s, "dazai_register", "{\"pid\":99}");
	sc = tool_result(r, true);
	ck_assert(json_is_false(json_object_get(sc, "ok")));
	ck_assert_str_eq(json_string_value(json_object_get(sc, "message")),
	    "ERROR invalid pid");
	json_decref(r);
	/* Bad arguments never reach the daemon and are tool errors. */
	f.calls = 0;
	r = call(&s, "dazai_register", NULL);
	expect_refusal(r, "missing argument");
	json_decref(r);
	r = call(&s, "dazai_register", "{\"pid\":\"12\"}");
	expect_refusal(r, "integer");
	json_decref(r);
	r = call(&s, "dazai_register", "{\"pid\":1.5}");
	expect_refusal(r, "integer");
	json_decref(r);
	r = call(&s, "dazai_register", "{\"pid\":0}");
	expect_refusal(r, "from 1");
	json_decref(r);
	r = call(&s, "dazai_register", "{\"pid\":2147483648}");
	expect_refusal(r, "from 1");
	json_decref(r);
	r = call(&s, "dazai_unregister", "{\"pid\":-1}");
	expect_refusal(r, "from 1");
	json_decref(r);
	r = call(&s, "dazai_register", "[1]");
	expect_refusal(r, "object");
	json_decref(r);
	ck_assert_int_eq(f.calls, 0);
	/* A daemon's reply in bytes JSON cannot carry is shown escaped. */
	f.reply = "ERR \xff\x01";
	r = call(&s, "dazai_register", "{\"pid\":5}");
	sc = tool_result(r, true);
	ck_assert_str_eq(json_string_value(json_object_get(sc, "message")),
	    "ERR \\xff\\x01");
	json_decref(r);
}
END_TEST

START_TEST(tool_arm_and_panics)
{
	struct fake	  f = { "ALREADY_ARMED", 0, "", 0 };
	struct mcp_server s;
	json_t		 *r, *sc;

	mcp_server_init(&s, &fake_ops, &f);
	r = call(&s, "dazai_arm", NULL);
	ck_assert_str_eq(f.asked, "ARM");
	sc = tool_result(r, false);
	ck_assert(json_is_true(json_object_get(sc, "armed")));
	json_decref(r);
	f.reply = "OK";
	r = call(&s, "dazai_panic", "{}");
	ck_assert_str_eq(f.asked, "PANIC");
	sc = tool_result(r, false);
	ck_assert(json_is_true(json_object_get(sc, "triggered")));
	json_decref(r);
	f.reply = "ERR not allowed";
	r = call(&s, "dazai_panic", NULL);
	sc = tool_result(r, true);
	ck_assert(json_is_false(json_object_get(sc, "triggered")));
	json_decref(r);
	r = call(&s, "dazai_hard_panic", NULL);
	sc = tool_result(r, false);
	ck_assert(json_is_true(json_object_get(sc, "triggered")));
	json_decref(r);
	f.hard_rc = -1;
	r = call(&s, "dazai_hard_panic", NULL);
	sc = tool_result(r, true);
	ck_assert(json_is_false(json_object_get(sc, "triggered")));
	json_decref(r);
	/* An unknown tool or none named: protocol errors. */
	r = call(&s, "dazai_get", NULL);
	ck_assert_int_eq(code_of(r), MCP_INVALID_PARAMS);
	json_decref(r);
	r = ask(&s,
	    "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools/call\","
	    "\"params\":{}}");
	ck_assert_int_eq(code_of(r), MCP_INVALID_PARAMS);
	json_decref(r);
	r = ask(&s,
	    "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":"
	    "\"tools/call\"}");
	ck_assert_int_eq(code_of(r), MCP_INVALID_PARAMS);
	json_decref(r);
}
END_TEST

START_TEST(redact)
{
	static const unsigned char sec[] = "s3cr3t";
	char			   out[256];
	size_t			   n;

	/* Every occurrence, adjacent ones too; nothing else touched. */
	n = mcp_redact((const unsigned char *)"a s3cr3ts3cr3t b s3cr3", 22, sec,
	    6, false, out, sizeof out);
	out[n] = '\0';
	ck_assert_str_eq(out, "a [redacted][redacted] b s3cr3");
	/* Cut there: the start of the secret at the end is redacted. */
	n = mcp_redact((const unsigned char *)"x s3cr", 6, sec, 6, true, out,
	    sizeof out);
	out[n] = '\0';
	ck_assert_str_eq(out, "x [redacted]");
	/* A one-byte secret grows the text; the first call sizes it. */
	n = mcp_redact((const unsigned char *)"aXbXX", 5,
	    (const unsigned char *)"X", 1, false, NULL, 0);
	ck_assert_uint_eq(n, 2 + 3 * 10);
	n = mcp_redact((const unsigned char *)"aXbXX", 5,
	    (const unsigned char *)"X", 1, false, out, sizeof out);
	out[n] = '\0';
	ck_assert_str_eq(out, "a[redacted]b[redacted][redacted]");
	/* Binary secrets, NUL bytes included. */
	n = mcp_redact((const unsigned char *)"\0\1\0\1\2", 5,
	    (const unsigned char *)"\1\0", 2, false, out, sizeof out);
	ck_assert_uint_eq(n, 1 + 10 + 2);
	ck_assert(memcmp(out, "\0[redacted]\1\2", n) == 0);
	/* Too small a buffer: what fits is written, the need returned. */
	n = mcp_redact(sec, 6, sec, 6, false, out, 3);
	ck_assert_uint_eq(n, 10);
	ck_assert(memcmp(out, "[re", 3) == 0);
}
END_TEST

START_TEST(command_tools)
{
	struct mcp_cmdtool cmd[2];
	struct fake	   f = { "out\xff", 0, "", 0 };
	struct mcp_server  s;
	json_t		  *r, *tools, *sc;

	memset(cmd, 0, sizeof cmd);
	snprintf(cmd[0].name, sizeof cmd[0].name, "sign");
	cmd[0].description = "sign with gpg";
	snprintf(cmd[1].name, sizeof cmd[1].name, "digest");
	mcp_server_init(&s, &fake_ops, &f);
	s.cmd = cmd;
	s.ncmd = 2;
	r = ask(&s,
	    "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":"
	    "\"tools/list\"}");
	tools = json_object_get(result_of(r), "tools");
	ck_assert_uint_eq(json_array_size(tools), 8);
	ck_assert_str_eq(json_string_value(json_object_get(json_array_get(tools,
							       6),
			     "name")),
	    "sign");
	ck_assert_str_eq(json_string_value(json_object_get(json_array_get(tools,
							       6),
			     "description")),
	    "sign with gpg");
	ck_assert(json_object_get(json_array_get(tools, 7), "outputSchema") !=
	    NULL);
	json_decref(r);
	/* The run's result: exit status, output (non-UTF-8 escaped), an
	 * error for a non-zero exit. */
	r = call(&s, "digest", NULL);
	ck_assert_str_eq(f.asked, "run 1");
	sc = tool_result(r, true);
	ck_assert_int_eq(json_integer_value(json_object_get(sc, "exit_status")),
	    3);
	ck_assert_str_eq(json_string_value(json_object_get(sc, "stdout")),
	    "out\\xff");
	ck_assert(json_is_true(json_object_get(sc, "truncated")));
	ck_assert(json_is_false(json_object_get(sc, "timed_out")));
	json_decref(r);
}
END_TEST

/* dazai mcp on pipes: its pid, our ends of its stdin and stdout. */
struct srv {
	pid_t pid;
	int   in;
	int   out;
	char  log[128];
};

#define SRV_NO_SYS_RESOURCE 0x1 /* it runs without CAP_SYS_RESOURCE */

/*
 * Start build/dazai [--socket sock] mcp [extra] [more] on pipes; with
 * SRV_NO_SYS_RESOURCE in flags a root server is held to pipe-max-size
 * like anyone else (the capability dropped from its bounding set).
 */
static void
srv_spawn(struct srv *v, const char *sock, const char *extra, const char *more,
    int flags)
{
	const char *argv[8];
	char	    dir[64];
	int	    in[2], out[2], fd, n = 0;

	argv[n++] = dz_bin("dazai");
	if (sock != NULL) {
		argv[n++] = "--socket";
		argv[n++] = sock;
	}
	argv[n++] = "mcp";
	if (extra != NULL)
		argv[n++] = extra;
	if (more != NULL)
		argv[n++] = more;
	argv[n] = NULL;
	dz_tmpdir(dir, sizeof dir);
	snprintf(v->log, sizeof v->log, "%s/mcp.log", dir);
	ck_assert(pipe2(in, O_CLOEXEC) == 0 && pipe2(out, O_CLOEXEC) == 0);
	v->pid = fork();
	ck_assert(v->pid >= 0);
	if (v->pid == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if ((flags & SRV_NO_SYS_RESOURCE) != 0 &&
		    prctl(PR_CAPBSET_DROP, CAP_SYS_RESOURCE, 0, 0, 0) != 0 &&
		    geteuid() == 0)
			_exit(123);
		dup2(in[0], STDIN_FILENO);
		dup2(out[1], STDOUT_FILENO);
		if ((fd = open(v->log, O_WRONLY | O_CREAT | O_APPEND, 0600)) >=
		    0)
			dup2(fd, STDERR_FILENO);
		signal(SIGPIPE, SIG_DFL);
		execv(argv[0], (char *const *)argv);
		_exit(127);
	}
	close(in[0]);
	close(out[1]);
	v->in = in[1];
	v->out = out[0];
}

/* Start build/dazai [--socket sock] mcp [extra] [more] on pipes. */
static void
srv_start2(struct srv *v, const char *sock, const char *extra, const char *more)
{
	srv_spawn(v, sock, extra, more, 0);
}

/* Start build/dazai [--socket sock] mcp [extra] on pipes. */
static void
srv_start(struct srv *v, const char *sock, const char *extra)
{
	srv_start2(v, sock, extra, NULL);
}

/* Send bytes to its standard input. */
static void
srv_line(struct srv *v, const char *s)
{
	dz_send_bytes(v->in, s, strlen(s));
}

/* Send a line, read one reply line parsed (or NULL within 15 s). */
static json_t *
srv_ask(struct srv *v, const char *line)
{
	static char buf[65536];

	if (line != NULL)
		dz_send_bytes(v->in, line, strlen(line));
	if (dz_readline(v->out, buf, sizeof buf, 15.0) == NULL)
		return NULL;
	return json_loads(buf, JSON_REJECT_DUPLICATES, NULL);
}

/* Close its standard input; its exit status (within 5 s). */
static int
srv_end(struct srv *v)
{
	int st;

	close(v->in);
	ck_assert_msg(dz_waitpid(v->pid, &st, 5.0) == 0,
	    "dazai mcp did not exit at the end of its input");
	close(v->out);
	return st;
}

START_TEST(raw_pipe)
{
	struct srv v;
	json_t	  *r;
	char	  *big;
	size_t	   n = 70 * 1024;
	int	   st;

	srv_start(&v, "/nonexistent/dazai.sock", NULL);
	/* What real clients send first: initialize with id 0. */
	r = srv_ask(&v,
	    "{\"jsonrpc\":\"2.0\",\"id\":0,\"method\":"
	    "\"initialize\",\"params\":{\"protocolVersion\":\"2025-11-25\","
	    "\"capabilities\":{},\"clientInfo\":{\"name\":\"t\",\"version\":"
	    "\"1\"}}}\n");
	ck_assert(r != NULL);
	ck_assert_int_eq(json_integer_value(json_object_get(r, "id")), 0);
	json_decref(r);
	/* A notification gets nothing: the next reply is the ping's. */
	srv_line(&v,
	    "{\"jsonrpc\":\"2.0\",\"method\":"
	    "\"notifications/initialized\"}\n");
	r = srv_ask(&v,
	    "{\"jsonrpc\":\"2.0\",\"id\":\"s-1\",\"method\":"
	    "\"ping\"}\n");
	ck_assert_str_eq(json_string_value(json_object_get(r, "id")), "s-1");
	json_decref(r);
	r = srv_ask(&v, "{not json\n");
	ck_assert_int_eq(code_of(r), MCP_PARSE_ERROR);
	json_decref(r);
	r = srv_ask(&v,
	    "{\"jsonrpc\":\"2.0\",\"id\":5,\"method\":"
	    "\"server/discover\"}\n");
	ck_assert_int_eq(code_of(r), MCP_METHOD_NOT_FOUND);
	json_decref(r);
	/* 70 KiB in one line: an error, the server still up. */
	big = malloc(n + 1);
	ck_assert(big != NULL);
	memset(big, 'a', n);
	big[0] = '{';
	big[n] = '\n';
	dz_send_bytes(v.in, big, n + 1);
	free(big);
	r = srv_ask(&v, NULL);
	ck_assert(r != NULL);
	ck_assert_int_eq(code_of(r), MCP_INVALID_REQUEST);
	json_decref(r);
	/* No daemon: a tool error, and the server stays up. */
	r = srv_ask(&v,
	    "{\"jsonrpc\":\"2.0\",\"id\":6,\"method\":"
	    "\"tools/call\",\"params\":{\"name\":\"dazai_arm\"}}\n");
	ck_assert(json_is_true(json_object_get(result_of(r), "isError")));
	json_decref(r);
	r = srv_ask(&v,
	    "{\"jsonrpc\":\"2.0\",\"id\":7,\"method\":"
	    "\"tools/call\",\"params\":{\"name\":\"dazai_hard_panic\"}}\n");
	ck_assert(json_is_true(json_object_get(result_of(r), "isError")));
	json_decref(r);
	r = srv_ask(&v,
	    "{\"jsonrpc\":\"2.0\",\"id\":8,\"method\":\"ping\"}"
	    "\n");
	ck_assert(json_is_object(json_object_get(r, "result")));
	json_decref(r);
	/* The end of input: exit 0, and nothing else ever on stdout. */
	srv_line(&v,
	    "{\"jsonrpc\":\"2.0\",\"id\":9,\"method\":"
	    "\"ping\"}");
	close(v.in);
	r = srv_ask(&v, NULL);
	ck_assert_int_eq(json_integer_value(json_object_get(r, "id")), 9);
	json_decref(r);
	ck_assert(dz_eof(v.out, 5.0));
	ck_assert(dz_waitpid(v.pid, &st, 5.0) == 0);
	ck_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	close(v.out);
}
END_TEST

START_TEST(usage_errors)
{
	const char *bad[] = { dz_bin("dazai"), "mcp", "--bogus", NULL };
	const char *extra[] = { dz_bin("dazai"), "mcp", "x", NULL };
	const char *nod[] = { dz_bin("dazai"), "--socket",
		"/nonexistent/dazai.sock", "mcp", "--guard", NULL };
	char	    out[4096];
	int	    st;

	st = dz_run(bad, out, sizeof out, 5.0);
	ck_assert(WIFEXITED(st) && WEXITSTATUS(st) == 2);
	st = dz_run(extra, out, sizeof out, 5.0);
	ck_assert(WIFEXITED(st) && WEXITSTATUS(st) == 2);
	/* --guard without a daemon: exit 4 before serving. */
	st = dz_run(nod, out, sizeof out, 5.0);
	ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 4, "%s", out);
}
END_TEST

START_TEST(guard_lost_at_eof)
{
	const char *args[] = { "--dry-run", NULL };
	struct dz   d;
	struct srv  v;
	json_t	   *r;
	int	    st;

	dz_init(&d, NULL);
	ck_assert(dz_start(&d, args) == 0);
	srv_start(&v, d.sock, "--guard");
	ck_assert(dz_status_wait(&d, "sessions", "1", 5.0));
	r = srv_ask(&v,
	    "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":"
	    "\"tools/call\",\"params\":{\"name\":\"dazai_status\"}}\n");
	ck_assert_str_eq(json_string_value(json_object_get(
			     json_object_get(result_of(r), "structuredContent"),
			     "state")),
	    "guarding");
	json_decref(r);
	/* The agent's session ends: no QUIT, a lost heartbeat, a panic. */
	st = srv_end(&v);
	ck_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	ck_assert(dz_log_wait(&d, "heartbeat lost", 5.0));
	ck_assert(dz_wait(&d, 5.0) == 0);
	ck_assert(WIFEXITED(d.status) && WEXITSTATUS(d.status) == 0);
	ck_assert(dz_log_has(&d, "WOULD SIGKILL"));
}
END_TEST

START_TEST(guard_beside_a_shell)
{
	const char *args[] = { "--dry-run", "--sessions", "2", NULL };
	struct dz   d;
	struct srv  v;
	int	    shell, st;

	dz_init(&d, NULL);
	ck_assert(dz_start(&d, args) == 0);
	shell = dz_hello(d.sock);
	srv_start(&v, d.sock, "--guard");
	ck_assert(dz_status_wait(&d, "sessions", "2", 5.0));
	st = srv_end(&v);
	ck_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	/* The shell's heartbeat still holds the secret. */
	ck_assert(dz_status_wait(&d, "sessions", "1", 5.0));
	ck_assert(dz_alive(&d));
	ck_assert_str_eq(dz_field(dz_status(&d), "state"), "guarding");
	close(shell);
	dz_stop(&d);
}
END_TEST

/* A tools/call of a command tool through the pipe; structuredContent. */
static json_t *
srv_call(struct srv *v, const char *name, json_t **reply)
{
	char line[256];

	snprintf(line, sizeof line,
	    "{\"jsonrpc\":\"2.0\",\"id\":1,"
	    "\"method\":\"tools/call\",\"params\":{\"name\":\"%s\"}}\n",
	    name);
	*reply = srv_ask(v, line);
	ck_assert_msg(*reply != NULL, "no reply to %s", name);
	return json_object_get(result_of(*reply), "structuredContent");
}

/* The hex digest that sha256sum prints for len bytes of p. */
static void
sha256_hex(const void *p, size_t len, char *out, size_t outlen)
{
	const char *argv[] = { "/bin/sh", "-c", "sha256sum < \"$0\"", NULL,
		NULL };
	char	    dir[64], path[128];
	int	    st;

	dz_tmpdir(dir, sizeof dir);
	snprintf(path, sizeof path, "%s/in", dir);
	dz_write_file(path, p, len);
	argv[3] = path;
	st = dz_run(argv, out, outlen, 10.0);
	ck_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0);
}

/*
 * A daemon holding secret, and dazai mcp with the tools in conf, started
 * with flags (SRV_*).
 */
static void
tools_spawn(struct dz *d, struct srv *v, const void *secret, size_t len,
    const char *conf, int flags)
{
	const char *args[] = { "--dry-run", "--secret-file", NULL, NULL };
	char	    path[192], cpath[192];

	dz_init(d, NULL);
	snprintf(path, sizeof path, "%s/secret", d->dir);
	dz_write_file(path, secret, len);
	args[2] = path;
	ck_assert(dz_start(d, args) == 0);
	snprintf(cpath, sizeof cpath, "%s/tools.conf", d->dir);
	dz_write_file(cpath, conf, strlen(conf));
	srv_spawn(v, d->sock, "--config", cpath, flags);
}

/* A daemon holding secret, and dazai mcp with the tools in conf. */
static void
tools_start(struct dz *d, struct srv *v, const void *secret, size_t len,
    const char *conf)
{
	tools_spawn(d, v, secret, len, conf, 0);
}

static const char tools_conf[] =
    "# dazaid's own keys are left to it\n"
    "grace = 0\n"
    "\n"
    "[tool digest]\n"
    "description = the secret's sha256\n"
    "command = sha256sum\n"
    "secret_to = stdin\n"
    "\n"
    "[tool leak]\n"
    "command = printf 'before '; cat; printf ' after'\n"
    "\n"
    "[tool twice]\n"
    "command = wc -c\n"
    "max_calls = 2\n"
    "\n"
    "[tool slow]\n"
    "command = exec sleep 30\n"
    "timeout = 0.5\n"
    "\n"
    "[tool fails]\n"
    "command = cat >/dev/null; exit 7\n";

static const char named_conf[] =
    "[tool digest]\n"
    "command = sha256sum\n"
    "\n"
    "[tool other]\n"
    "description = the sha256 of the secret named other, once\n"
    "command = sha256sum\n"
    "secret = other\n"
    "max_calls = 1\n"
    "\n"
    "[tool byenv]\n"
    "description = the sha256 of the default secret, from $TOKEN\n"
    "command = test -t 0 || cat; printf %s \"$TOKEN\" | sha256sum\n"
    "secret_to = env:TOKEN\n";

/*
 * secret = NAME: the tool gets that secret's bytes, and burning it after
 * max_calls wipes that one only; a bad name is refused with its line.
 */
START_TEST(command_tool_named)
{
	static const char deflt[] = "the default one";
	static const char other[] = "another, named";
	struct dz	  d;
	struct srv	  v;
	json_t		 *r, *sc;
	char		  want[256], line[64];
	int		  fd;

	tools_start(&d, &v, deflt, sizeof deflt - 1, named_conf);
	/* secret_to = env:TOKEN: the bytes in the command's environment
	 * (and nothing on its standard input). */
	sha256_hex(deflt, sizeof deflt - 1, want, sizeof want);
	sc = srv_call(&v, "byenv", &r);
	ck_assert(json_is_false(json_object_get(result_of(r), "isError")));
	ck_assert_str_eq(json_string_value(json_object_get(sc, "stdout")),
	    want);
	json_decref(r);
	fd = dz_ctl(&d);
	snprintf(line, sizeof line, "LOAD %zu other\n", sizeof other - 1);
	ck_assert(dz_send(fd, line));
	dz_send_bytes(fd, other, sizeof other - 1);
	dz_expect(fd, "OK");
	close(fd);
	ck_assert_str_eq(dz_field(dz_status(&d), "secrets"), "2");
	sha256_hex(other, sizeof other - 1, want, sizeof want);
	sc = srv_call(&v, "other", &r);
	ck_assert_str_eq(json_string_value(json_object_get(sc, "stdout")),
	    want);
	ck_assert(json_is_true(json_object_get(sc, "secret_wiped")));
	json_decref(r);
	/* The default secret is still there, and still served. */
	ck_assert_str_eq(dz_field(dz_status(&d), "secrets"), "1");
	sha256_hex(deflt, sizeof deflt - 1, want, sizeof want);
	sc = srv_call(&v, "digest", &r);
	ck_assert_str_eq(json_string_value(json_object_get(sc, "stdout")),
	    want);
	json_decref(r);
	ck_assert_int_eq(srv_end(&v), 0);
	dz_stop(&d);
}
END_TEST

/*
 * Call tool name; its reply parsed into *reply, after checking that the
 * raw line on the server's standard output holds no byte string of
 * secret. Returns its structuredContent.
 */
static json_t *
srv_call_clean(struct srv *v, const char *name, const char *secret,
    json_t **reply)
{
	static char buf[65536];
	char	    line[256];

	snprintf(line, sizeof line,
	    "{\"jsonrpc\":\"2.0\",\"id\":1,"
	    "\"method\":\"tools/call\",\"params\":{\"name\":\"%s\"}}\n",
	    name);
	srv_line(v, line);
	ck_assert_msg(dz_readline(v->out, buf, sizeof buf, 15.0) != NULL,
	    "no reply to %s", name);
	ck_assert_msg(strstr(buf, secret) == NULL, "the secret in %s", buf);
	*reply = json_loads(buf, JSON_REJECT_DUPLICATES, NULL);
	ck_assert(*reply != NULL);
	return json_object_get(result_of(*reply), "structuredContent");
}

/* Neither path nor its directory is there any more. */
static void
assert_fifo_gone(const char *path)
{
	char dir[256], *slash;

	ck_assert_msg(strstr(path, "/dazai-mcp.") != NULL, "path '%s'", path);
	snprintf(dir, sizeof dir, "%s", path);
	ck_assert((slash = strrchr(dir, '/')) != NULL);
	*slash = '\0';
	ck_assert_msg(access(path, F_OK) != 0 && errno == ENOENT,
	    "%s is still there", path);
	ck_assert_msg(access(dir, F_OK) != 0 && errno == ENOENT,
	    "%s is still there", dir);
}

/*
 * secret_to = fifo:VAR: the command reads the secret from the FIFO whose
 * path is in $VAR (once), the result carries no byte of it, and the FIFO
 * and its directory are gone after the call, whether it was read, never
 * opened, read after the output's end, or the call timed out.
 */
START_TEST(command_tool_fifo)
{
	static const char secret[] = "fifo-borne secret 7f3a9c";
	struct dz	  d;
	struct srv	  v;
	json_t		 *r, *sc;
	char conf[2048], want[256], got[512], path[256], tdir[64], digest[128];
	const char *out, *nl;
	int	    fd;
	ssize_t	    n;
	double	    t0;

	dz_tmpdir(tdir, sizeof tdir);
	snprintf(digest, sizeof digest, "%s/late.sha", tdir);
	snprintf(conf, sizeof conf,
	    "[tool byfifo]\n"
	    "command = echo \"$KEY\"; test -p \"$KEY\" && "
	    "cat \"$KEY\" | sha256sum\n"
	    "secret_to = fifo:KEY\n"
	    "\n"
	    "[tool fifoleak]\n"
	    "command = cat \"$KEY\"; cat \"$KEY\" 2>/dev/null; echo \" $?\"\n"
	    "secret_to = fifo:KEY\n"
	    "\n"
	    "[tool unread]\n"
	    "command = echo \"$KEY\"; test -t 0 || cat\n"
	    "secret_to = fifo:KEY\n"
	    "\n"
	    "[tool late]\n"
	    "command = echo \"$KEY\"; exec >&-; sleep 0.3; "
	    "sha256sum < \"$KEY\" > %s\n"
	    "secret_to = fifo:KEY\n"
	    "\n"
	    "[tool stuck]\n"
	    "command = echo \"$KEY\"; exec sleep 30\n"
	    "secret_to = fifo:KEY\n"
	    "timeout = 0.5\n",
	    digest);
	tools_start(&d, &v, secret, sizeof secret - 1, conf);
	sha256_hex(secret, sizeof secret - 1, want, sizeof want);

	/* The command reads the secret's exact bytes from $KEY. */
	sc = srv_call_clean(&v, "byfifo", secret, &r);
	ck_assert(json_is_false(json_object_get(result_of(r), "isError")));
	out = json_string_value(json_object_get(sc, "stdout"));
	ck_assert(out != NULL && (nl = strchr(out, '\n')) != NULL);
	snprintf(path, sizeof path, "%.*s", (int)(nl - out), out);
	ck_assert_str_eq(nl + 1, want);
	assert_fifo_gone(path);
	json_decref(r);

	/* Printed back it is redacted; a second open finds nothing. */
	sc = srv_call_clean(&v, "fifoleak", secret, &r);
	ck_assert_str_eq(json_string_value(json_object_get(sc, "stdout")),
	    "[redacted] 1\n");
	json_decref(r);

	/* A command that never opens it: the FIFO goes all the same. */
	sc = srv_call_clean(&v, "unread", secret, &r);
	ck_assert(json_is_false(json_object_get(result_of(r), "isError")));
	out = json_string_value(json_object_get(sc, "stdout"));
	ck_assert(out != NULL && (nl = strchr(out, '\n')) != NULL);
	ck_assert_str_eq(nl + 1, "");
	snprintf(path, sizeof path, "%.*s", (int)(nl - out), out);
	assert_fifo_gone(path);
	json_decref(r);

	/* Served after the command closed its standard output too. */
	sc = srv_call_clean(&v, "late", secret, &r);
	ck_assert(json_is_false(json_object_get(result_of(r), "isError")));
	out = json_string_value(json_object_get(sc, "stdout"));
	ck_assert(out != NULL && (nl = strchr(out, '\n')) != NULL);
	snprintf(path, sizeof path, "%.*s", (int)(nl - out), out);
	assert_fifo_gone(path);
	json_decref(r);
	ck_assert((fd = open(digest, O_RDONLY)) >= 0);
	n = read(fd, got, sizeof got - 1);
	close(fd);
	got[n > 0 ? n : 0] = '\0';
	ck_assert_str_eq(got, want);

	/* Its timeout holds while the FIFO waits for a reader. */
	t0 = dz_now();
	sc = srv_call_clean(&v, "stuck", secret, &r);
	ck_assert(dz_now() - t0 < 5.0);
	ck_assert(json_is_true(json_object_get(sc, "timed_out")));
	out = json_string_value(json_object_get(sc, "stdout"));
	ck_assert(out != NULL && (nl = strchr(out, '\n')) != NULL);
	snprintf(path, sizeof path, "%.*s", (int)(nl - out), out);
	assert_fifo_gone(path);
	json_decref(r);

	/* Each was registered and unregistered; nothing on standard error. */
	ck_assert_str_eq(dz_field(dz_status(&d), "registered"), "0");
	ck_assert_int_eq(srv_end(&v), 0);
	{
		char	log[8192];
		ssize_t m;

		fd = open(v.log, O_RDONLY);
		m = fd >= 0 ? read(fd, log, sizeof log - 1) : 0;
		if (fd >= 0)
			close(fd);
		log[m > 0 ? m : 0] = '\0';
		ck_assert(strstr(log, "7f3a9c") == NULL);
	}
	dz_stop(&d);
}
END_TEST

START_TEST(command_tool_runs)
{
	static const char secret[] = "correct horse battery staple";
	struct dz	  d;
	struct srv	  v;
	json_t		 *r, *sc;
	char		  want[256];
	double		  t0;

	tools_start(&d, &v, secret, sizeof secret - 1, tools_conf);
	sha256_hex(secret, sizeof secret - 1, want, sizeof want);
	/* The right digest: the command got the secret's exact bytes. */
	sc = srv_call(&v, "digest", &r);
	ck_assert(json_is_false(json_object_get(result_of(r), "isError")));
	ck_assert_int_eq(json_integer_value(json_object_get(sc, "exit_status")),
	    0);
	ck_assert_str_eq(json_string_value(json_object_get(sc, "stdout")),
	    want);
	json_decref(r);
	/* Printed back, it is redacted. */
	sc = srv_call(&v, "leak", &r);
	ck_assert_str_eq(json_string_value(json_object_get(sc, "stdout")),
	    "before [redacted] after");
	json_decref(r);
	/* A non-zero exit and a timeout are errors. */
	sc = srv_call(&v, "fails", &r);
	ck_assert(json_is_true(json_object_get(result_of(r), "isError")));
	ck_assert_int_eq(json_integer_value(json_object_get(sc, "exit_status")),
	    7);
	json_decref(r);
	t0 = dz_now();
	sc = srv_call(&v, "slow", &r);
	ck_assert(dz_now() - t0 < 5.0);
	ck_assert(json_is_true(json_object_get(result_of(r), "isError")));
	ck_assert(json_is_true(json_object_get(sc, "timed_out")));
	ck_assert_int_eq(json_integer_value(json_object_get(sc, "signal")),
	    SIGKILL);
	json_decref(r);
	/* Each command was registered, and unregistered after it. */
	ck_assert(dz_log_count(&d, "REGISTER pid=") >= 4);
	ck_assert_str_eq(dz_field(dz_status(&d), "registered"), "0");
	/* max_calls = 2: burnt after the second call. */
	sc = srv_call(&v, "twice", &r);
	ck_assert(json_is_false(json_object_get(sc, "secret_wiped")));
	json_decref(r);
	sc = srv_call(&v, "twice", &r);
	ck_assert(json_is_true(json_object_get(sc, "secret_wiped")));
	json_decref(r);
	ck_assert_str_eq(dz_field(dz_status(&d), "secret_bytes"), "0");
	sc = srv_call(&v, "twice", &r);
	ck_assert(json_is_true(json_object_get(result_of(r), "isError")));
	json_decref(r);
	sc = srv_call(&v, "digest", &r);
	ck_assert(json_is_true(json_object_get(result_of(r), "isError")));
	json_decref(r);
	/* Never the secret on the server's standard error. */
	ck_assert_int_eq(srv_end(&v), 0);
	{
		char	log[8192];
		int	fd = open(v.log, O_RDONLY);
		ssize_t n = fd >= 0 ? read(fd, log, sizeof log - 1) : 0;

		if (fd >= 0)
			close(fd);
		log[n > 0 ? n : 0] = '\0';
		ck_assert(strstr(log, "horse") == NULL);
	}
	dz_stop(&d);
}
END_TEST

/* Has process pid ended within secs (gone, or a zombie nobody reaps)? */
static bool
pid_ended(pid_t pid, double secs)
{
	char   path[64], buf[512], *p;
	double t0 = dz_now();

	snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
	for (;;) {
		if (dz_read_file(path, buf, sizeof buf)[0] == '\0')
			return true;
		if ((p = strrchr(buf, ')')) != NULL && p[1] == ' ' &&
		    p[2] == 'Z')
			return true;
		if (dz_now() - t0 > secs)
			return false;
		usleep(20000);
	}
}

/* Call tool name and see it killed at its timeout (0.5 s) in time. */
static void
assert_call_times_out(struct srv *v, const char *name)
{
	json_t *r, *sc;
	double	t0 = dz_now();

	sc = srv_call(v, name, &r);
	ck_assert_msg(dz_now() - t0 < 5.0, "%s took %.1f s", name,
	    dz_now() - t0);
	ck_assert(json_is_true(json_object_get(result_of(r), "isError")));
	ck_assert_msg(json_is_true(json_object_get(sc, "timed_out")),
	    "%s did not time out", name);
	ck_assert_int_eq(json_integer_value(json_object_get(sc, "signal")),
	    SIGKILL);
	json_decref(r);
}

/*
 * A command that closes its standard output and runs on is still held
 * to its timeout, whichever way it got the secret, and then its whole
 * process group is killed; one that closes it and exits soon after
 * gives its exit status.
 */
START_TEST(command_tool_closes_stdout)
{
	static const char secret[] = "a secret for the quiet ones";
	struct dz	  d;
	struct srv	  v;
	json_t		 *r, *sc;
	char		  conf[1024], tdir[64], pidfile[128], buf[64];
	double		  t0;
	long		  pid;

	dz_tmpdir(tdir, sizeof tdir);
	snprintf(pidfile, sizeof pidfile, "%s/sleeper.pid", tdir);
	snprintf(conf, sizeof conf,
	    "[tool bystdin]\n"
	    "command = exec >&-; sleep 60\n"
	    "timeout = 0.5\n"
	    "\n"
	    "[tool byenv]\n"
	    "command = exec >&-; sleep 60\n"
	    "secret_to = env:TOKEN\n"
	    "timeout = 0.5\n"
	    "\n"
	    "[tool byfifo]\n"
	    "command = cat \"$K\" >/dev/null; exec >&-; sleep 60\n"
	    "secret_to = fifo:K\n"
	    "timeout = 0.5\n"
	    "\n"
	    "[tool group]\n"
	    "command = exec >&-; sleep 60 & echo $! > %s; wait\n"
	    "timeout = 0.5\n"
	    "\n"
	    "[tool soon]\n"
	    "command = exec >&-; sleep 0.3; exit 3\n"
	    "timeout = 10\n",
	    pidfile);
	tools_start(&d, &v, secret, sizeof secret - 1, conf);
	assert_call_times_out(&v, "bystdin");
	assert_call_times_out(&v, "byenv");
	assert_call_times_out(&v, "byfifo");
	/* The shell's own child goes with it. */
	assert_call_times_out(&v, "group");
	ck_assert(dz_read_file(pidfile, buf, sizeof buf)[0] != '\0');
	pid = strtol(buf, NULL, 10);
	ck_assert_int_gt(pid, 1);
	ck_assert_msg(pid_ended((pid_t)pid, 5.0),
	    "sleep %ld outlived the "
	    "call",
	    pid);
	t0 = dz_now();
	sc = srv_call(&v, "soon", &r);
	ck_assert(dz_now() - t0 < 5.0);
	ck_assert(json_is_false(json_object_get(sc, "timed_out")));
	ck_assert_int_eq(json_integer_value(json_object_get(sc, "exit_status")),
	    3);
	json_decref(r);
	ck_assert_str_eq(dz_field(dz_status(&d), "registered"), "0");
	ck_assert_int_eq(srv_end(&v), 0);
	dz_stop(&d);
}
END_TEST

/*
 * secret_to = stdin with a secret bigger than any pipe the server may
 * make (2 MiB, over pipe-max-size, the server without CAP_SYS_RESOURCE):
 * a command that never reads is still killed at its timeout, one that
 * closes its standard input or exits unread is no error of ours, and
 * one that reads gets every byte.
 */
START_TEST(command_tool_unread_stdin)
{
	static const char conf[] = "[tool deaf]\n"
				   "command = exec sleep 60\n"
				   "timeout = 0.5\n"
				   "\n"
				   "[tool shut]\n"
				   "command = exec <&-; sleep 0.2; echo shut\n"
				   "\n"
				   "[tool quick]\n"
				   "command = exit 0\n"
				   "\n"
				   "[tool digest]\n"
				   "command = sha256sum\n";
	const size_t	  len = 2 * 1024 * 1024;
	unsigned char	 *secret;
	struct dz	  d;
	struct srv	  v;
	json_t		 *r, *sc;
	char		  want[256];
	uint32_t	  x = 2463534242u;
	size_t		  i;

	ck_assert((secret = malloc(len)) != NULL);
	for (i = 0; i < len; i++) {
		x ^= x << 13;
		x ^= x >> 17;
		x ^= x << 5;
		secret[i] = (unsigned char)x;
	}
	tools_spawn(&d, &v, secret, len, conf, SRV_NO_SYS_RESOURCE);
	sha256_hex(secret, len, want, sizeof want);
	assert_call_times_out(&v, "deaf");
	sc = srv_call(&v, "shut", &r);
	ck_assert(json_is_false(json_object_get(result_of(r), "isError")));
	ck_assert_str_eq(json_string_value(json_object_get(sc, "stdout")),
	    "shut\n");
	json_decref(r);
	sc = srv_call(&v, "quick", &r);
	ck_assert(json_is_false(json_object_get(result_of(r), "isError")));
	json_decref(r);
	sc = srv_call(&v, "digest", &r);
	ck_assert(json_is_false(json_object_get(result_of(r), "isError")));
	ck_assert_str_eq(json_string_value(json_object_get(sc, "stdout")),
	    want);
	json_decref(r);
	ck_assert_str_eq(dz_field(dz_status(&d), "registered"), "0");
	ck_assert_int_eq(srv_end(&v), 0);
	dz_stop(&d);
	free(secret);
}
END_TEST

/*
 * A call that fails for want of a descriptor (a pipe) leaves none of
 * its own open: with the limit one above it, the next call runs.
 */
START_TEST(command_tool_fd_leak)
{
	static const char secret[] = "held in no descriptor";
	static const char conf[] = "[tool digest]\ncommand = sha256sum\n";
	struct rlimit	  rl;
	struct dz	  d;
	struct srv	  v;
	json_t		 *r, *sc;
	const char	 *msg;
	char		  want[256];
	rlim_t		  lim;

	tools_start(&d, &v, secret, sizeof secret - 1, conf);
	sha256_hex(secret, sizeof secret - 1, want, sizeof want);
	ck_assert(prlimit(v.pid, RLIMIT_NOFILE, NULL, &rl) == 0);
	/* The limit lowered until a call's last pipe finds no room. */
	for (lim = 64; lim > 3; lim--) {
		rl.rlim_cur = lim;
		ck_assert(prlimit(v.pid, RLIMIT_NOFILE, &rl, NULL) == 0);
		sc = srv_call(&v, "digest", &r);
		if (json_is_true(json_object_get(result_of(r), "isError")))
			break;
		ck_assert_str_eq(json_string_value(json_object_get(sc,
				     "stdout")),
		    want);
		json_decref(r);
	}
	ck_assert(lim > 3);
	msg = json_string_value(json_object_get(sc, "message"));
	ck_assert_msg(msg != NULL && strncmp(msg, "pipe", 4) == 0, "%s",
	    msg != NULL ? msg : "no message");
	json_decref(r);
	sc = srv_call(&v, "digest", &r);
	ck_assert(json_is_true(json_object_get(result_of(r), "isError")));
	json_decref(r);
	rl.rlim_cur = lim + 1;
	ck_assert(prlimit(v.pid, RLIMIT_NOFILE, &rl, NULL) == 0);
	sc = srv_call(&v, "digest", &r);
	msg = json_string_value(json_object_get(sc, "message"));
	ck_assert_msg(json_is_false(json_object_get(result_of(r), "isError")),
	    "with %d descriptors: %s", (int)lim + 1, msg != NULL ? msg : "");
	ck_assert_str_eq(json_string_value(json_object_get(sc, "stdout")),
	    want);
	json_decref(r);
	ck_assert_str_eq(dz_field(dz_status(&d), "registered"), "0");
	ck_assert_int_eq(srv_end(&v), 0);
	dz_stop(&d);
}
END_TEST

START_TEST(command_tool_config)
{
	static const char *const bad[] = {
		"[tool a b]\ncommand = true\n",
		"[tool dazai_x]\ncommand = true\n",
		"[tool t]\ncommand = true\n[tool t]\ncommand = true\n",
		"[tool t]\ndescription = no command\n",
		"[tool t]\ncommand = true\nsecret_to = env:1X\n",
		"[tool t]\ncommand = true\nsecret_to = fifo:\n",
		"[tool t]\ncommand = true\nsecret_to = fifo:A-B\n",
		"[tool t]\ncommand = true\nsecret_to = pipe:X\n",
		"[tool t]\ncommand = true\nsecret = ../x\n",
		"[tool t]\ncommand = true\nmax_calls = 0\n",
		"[tool t]\ncommand = true\ntimeout = -1\n",
		"[tool t]\ncommand = true\nbogus = 1\n",
		"[tool t]\ncommand = echo \\\n    more\n",
		"[tool t\ncommand = true\n",
		"[tool ]\ncommand = true\n",
	};
	const char *argv[] = { dz_bin("dazai"), "mcp", "--config", NULL, NULL };
	char	    dir[64], path[128], out[4096];
	size_t	    i;
	int	    st;

	dz_tmpdir(dir, sizeof dir);
	snprintf(path, sizeof path, "%s/dazai.conf", dir);
	argv[3] = path;
	for (i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		dz_write_file(path, bad[i], strlen(bad[i]));
		st = dz_run(argv, out, sizeof out, 10.0);
		ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 2,
		    "accepted: %s", bad[i]);
		ck_assert_msg(strstr(out, "dazai.conf:") != NULL, "%s", out);
	}
	/* Commands others could write are refused. */
	dz_write_file(path, "[tool t]\ncommand = true\n", 24);
	ck_assert(chmod(path, 0620) == 0);
	st = dz_run(argv, out, sizeof out, 10.0);
	ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 2, "%s", out);
	ck_assert(strstr(out, "not trusting") != NULL);
	/* A --config that is not there is an error; the default, none. */
	argv[3] = "/nonexistent/dazai.conf";
	st = dz_run(argv, out, sizeof out, 10.0);
	ck_assert(WIFEXITED(st) && WEXITSTATUS(st) == 2);
}
END_TEST

START_TEST(command_tool_memory)
{
	unsigned char  marker[32];
	char	       conf[] = "[tool digest]\ncommand = sha256sum\n"
				"[tool leak]\ncommand = cat\n"
				"[tool byfifo]\ncommand = sha256sum < \"$K\"\n"
				"secret_to = fifo:K\n";
	struct memscan ms;
	struct dz      d;
	struct srv     v;
	json_t	      *r;

	if (dz_is_asan_build(dz_bin("dazai"))) {
		dz_skip_na("command_tool_memory: an AddressSanitizer build; "
			   "memory scans run on the normal build");
		return;
	}
	if (!dz_is_root()) {
		dz_skip("command_tool_memory: reading another process's "
			"memory needs root");
		return;
	}
	ck_assert(getrandom(marker, sizeof marker, 0) == sizeof marker);
	tools_start(&d, &v, marker, sizeof marker, conf);
	(void)srv_call(&v, "digest", &r);
	json_decref(r);
	(void)srv_call(&v, "leak", &r);
	json_decref(r);
	(void)srv_call(&v, "byfifo", &r);
	json_decref(r);
	(void)srv_call(&v, "digest", &r);
	json_decref(r);
	/* Between calls the server holds no byte of the secret anywhere:
	 * its buffer was zeroed and freed, and no copy was made. */
	ck_assert(memscan_pid(v.pid, marker, sizeof marker, &ms) == 0);
	ck_assert_int_gt(ms.bytes, 0);
	ck_assert_msg(ms.hits == 0,
	    "%d copies of the secret in dazai mcp, "
	    "the first in %s",
	    ms.hits, ms.hit[0].name);
	ck_assert_int_eq(srv_end(&v), 0);
	dz_stop(&d);
}
END_TEST

START_TEST(guard_through_a_long_tool)
{
	static const char conf[] = "[tool long]\ncommand = cat >/dev/null; "
				   "sleep 8\ntimeout = 20\n";
	const char	 *args[] = { "--dry-run", "--ping-timeout", "6",
		      "--secret-file", NULL, NULL };
	struct dz	  d;
	struct srv	  v;
	json_t		 *r, *sc;
	char		  path[192], copt[224];

	dz_init(&d, NULL);
	snprintf(path, sizeof path, "%s/secret", d.dir);
	dz_write_file(path, "s", 1);
	args[4] = path;
	ck_assert(dz_start(&d, args) == 0);
	snprintf(path, sizeof path, "%s/tools.conf", d.dir);
	dz_write_file(path, conf, sizeof conf - 1);
	snprintf(copt, sizeof copt, "--config=%s", path);
	srv_start2(&v, d.sock, "--guard", copt);
	ck_assert(dz_status_wait(&d, "sessions", "1", 5.0));
	/* 8 s of command against a 6 s ping timeout: the guard's PINGs go
	 * on while it runs, so the heartbeat is not lost. */
	sc = srv_call(&v, "long", &r);
	ck_assert(json_is_false(json_object_get(result_of(r), "isError")));
	ck_assert_int_eq(json_integer_value(json_object_get(sc, "exit_status")),
	    0);
	json_decref(r);
	ck_assert(dz_alive(&d));
	ck_assert_str_eq(dz_field(dz_status(&d), "sessions"), "1");
	ck_assert(!dz_log_has(&d, "heartbeat lost"));
	ck_assert_int_eq(srv_end(&v), 0);
	ck_assert(dz_log_wait(&d, "heartbeat lost", 5.0));
	dz_stop(&d);
}
END_TEST

/* Is there a node on $PATH? */
static bool
have_node(void)
{
	const char *argv[] = { "/usr/bin/env", "node", "--version", NULL };
	char	    out[256];
	int	    st;

	st = dz_run(argv, out, sizeof out, 20.0);
	return st != -1 && WIFEXITED(st) && WEXITSTATUS(st) == 0;
}

/*
 * Can the SDK's client run here? node, and the SDK that make check
 * installs (npm ci) into $DAZAI_BUILD/mcp beside the script; a skip says
 * which is missing.
 */
static bool
sdk_ready(void)
{
	if (!have_node()) {
		dz_skip("mcp sdk: node not installed (make check installs "
			"nodejs and npm)");
		return false;
	}
	if (access(dz_bin("mcp/sdk_client.mjs"), R_OK) != 0 ||
	    access(dz_bin("mcp/node_modules/@modelcontextprotocol/sdk/"
			  "package.json"),
		R_OK) != 0) {
		dz_skip("mcp sdk: the MCP SDK is not installed in %s (make "
			"check runs npm ci there)",
		    dz_bin("mcp"));
		return false;
	}
	return true;
}

/*
 * Run the SDK's client script in mode against the daemon at sock; its
 * results, one JSON object a line, into steps[] (up to max). Returns how
 * many; the test fails if the script did not run every step.
 */
static size_t
sdk_run(const char *sock, const char *mode, const char *pid, json_t **steps,
    size_t max)
{
	const char *argv[10];
	char	    dir[64], path[128], out[8192], line[65536];
	size_t	    n = 0;
	FILE	   *fp;
	int	    st;

	dz_tmpdir(dir, sizeof dir);
	snprintf(path, sizeof path, "%s/steps", dir);
	argv[0] = "/usr/bin/env";
	argv[1] = "node";
	argv[2] = dz_bin("mcp/sdk_client.mjs");
	argv[3] = dz_bin("dazai");
	argv[4] = sock;
	argv[5] = path;
	argv[6] = mode;
	argv[7] = pid;
	argv[8] = NULL;
	st = dz_run(argv, out, sizeof out, 60.0);
	ck_assert_msg((fp = fopen(path, "r")) != NULL, "no results: %s", out);
	while (n < max && fgets(line, sizeof line, fp) != NULL) {
		steps[n] = json_loads(line, 0, NULL);
		ck_assert_msg(steps[n] != NULL, "not JSON: %s", line);
		n++;
	}
	fclose(fp);
	ck_assert_msg(st != -1 && WIFEXITED(st) && WEXITSTATUS(st) == 0,
	    "the SDK client failed: %s\n%s",
	    n > 0 ?
		json_string_value(json_object_get(steps[n - 1], "message")) :
		"",
	    out);
	ck_assert_str_eq(json_string_value(json_object_get(steps[n - 1],
			     "step")),
	    "done");
	return n;
}

/* The nth step's name is want; its object. */
static json_t *
sdk_step(json_t **steps, size_t n, size_t i, const char *want)
{
	ck_assert_msg(i < n, "no step %zu (%s)", i, want);
	ck_assert_str_eq(json_string_value(json_object_get(steps[i], "step")),
	    want);
	return steps[i];
}

/* initialize and tools/list as the SDK saw them: ntools in all. */
static void
sdk_check_start(json_t **steps, size_t n, size_t ntools)
{
	static const char *const names[] = { "dazai_status", "dazai_register",
		"dazai_unregister", "dazai_arm", "dazai_panic",
		"dazai_hard_panic" };
	json_t			*s, *tools, *t;
	size_t			 i;

	s = sdk_step(steps, n, 0, "initialize");
	ck_assert_str_eq(json_string_value(json_object_get(s,
			     "protocolVersion")),
	    MCP_PROTOCOL);
	ck_assert_str_eq(json_string_value(json_object_get(json_object_get(s,
							       "server"),
			     "name")),
	    "dazai");
	ck_assert(json_is_true(json_object_get(s, "tools")));
	tools = json_object_get(sdk_step(steps, n, 1, "tools/list"), "tools");
	ck_assert_uint_eq(json_array_size(tools), ntools);
	json_array_foreach(tools, i, t)
	{
		if (i >= 6)
			break;
		ck_assert_str_eq(json_string_value(json_object_get(t, "name")),
		    names[i]);
		ck_assert_str_eq(json_string_value(json_object_get(t, "input")),
		    "object");
		ck_assert_str_eq(json_string_value(json_object_get(t,
				     "output")),
		    "object");
		ck_assert_int_eq(json_is_true(json_object_get(t, "readOnly")),
		    i == 0);
		ck_assert_int_eq(json_is_true(json_object_get(t,
				     "destructive")),
		    i >= 4);
	}
}

/* A structured field as STATUS writes it: 1/0, a decimal, a string, -. */
static void
field_text(json_t *v, char *buf, size_t len)
{
	if (json_is_boolean(v))
		snprintf(buf, len, "%d", json_is_true(v) ? 1 : 0);
	else if (json_is_integer(v))
		snprintf(buf, len, "%lld", (long long)json_integer_value(v));
	else if (json_is_string(v))
		snprintf(buf, len, "%s", json_string_value(v));
	else if (json_is_null(v))
		snprintf(buf, len, "-");
	else
		snprintf(buf, len, "?");
}

/*
 * dazai_status's structuredContent says what STATUS says: rei's four
 * under their names, every other field under its own.
 */
static void
sdk_check_status(json_t *sc, const char *status)
{
	static const char *const rs[][2] = { { "alive", "alive" },
		{ "armed", "armed" }, { "grace", "grace_seconds" },
		{ "registered", "registered_pids" } };
	char			 line[512], got[256], *tok, *eq, *save;
	size_t			 i;

	snprintf(line, sizeof line, "%s", status);
	line[strcspn(line, "\n")] = '\0';
	ck_assert(strncmp(line, "STATUS ", 7) == 0);
	for (tok = strtok_r(line + 7, " ", &save); tok != NULL;
	     tok = strtok_r(NULL, " ", &save)) {
		ck_assert((eq = strchr(tok, '=')) != NULL);
		*eq = '\0';
		for (i = 0; i < 4 && strcmp(rs[i][0], tok) != 0; i++)
			;
		field_text(json_object_get(sc, i < 4 ? rs[i][1] : tok), got,
		    sizeof got);
		ck_assert_msg(strcmp(got, eq + 1) == 0,
		    "%s: STATUS says %s, "
		    "the tool %s",
		    tok, eq + 1, got);
	}
}

START_TEST(sdk_tour)
{
	const char *args[] = { "--dry-run", NULL };
	struct dz   d;
	json_t	   *steps[16], *s;
	char	    pid[16], status[512];
	pid_t	    sleeper;
	size_t	    n, i;
	int	    st;

	if (!sdk_ready())
		return;
	dz_init(&d, NULL);
	ck_assert(dz_start(&d, args) == 0);
	sleeper = dz_sleeper();
	snprintf(pid, sizeof pid, "%d", (int)sleeper);
	snprintf(status, sizeof status, "%s", dz_status(&d));
	n = sdk_run(d.sock, "tour", pid, steps, 16);
	sdk_check_start(steps, n, 6);
	s = sdk_step(steps, n, 2, "dazai_status");
	ck_assert(json_is_false(json_object_get(s, "isError")));
	sdk_check_status(json_object_get(s, "structured"), status);
	s = sdk_step(steps, n, 3, "dazai_register");
	ck_assert(json_is_true(json_object_get(json_object_get(s, "structured"),
	    "ok")));
	s = sdk_step(steps, n, 4, "dazai_status");
	ck_assert_int_eq(json_integer_value(json_object_get(json_object_get(s,
								"structured"),
			     "registered_pids")),
	    1);
	/* A bad argument: a tool error, not a protocol error (the SDK
	 * would have thrown). */
	s = sdk_step(steps, n, 5, "dazai_register");
	ck_assert(json_is_true(json_object_get(s, "isError")));
	s = sdk_step(steps, n, 6, "dazai_arm");
	ck_assert(json_is_true(json_object_get(json_object_get(s, "structured"),
	    "armed")));
	s = sdk_step(steps, n, 7, "dazai_panic");
	ck_assert(json_is_true(json_object_get(json_object_get(s, "structured"),
	    "triggered")));
	/* Armed by the agent, its panic SIGKILLs the registered sleeper,
	 * then the daemon itself. */
	ck_assert(dz_waitpid(sleeper, &st, 5.0) == 0);
	ck_assert(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL);
	ck_assert(dz_wait(&d, 5.0) == 0);
	ck_assert(WIFSIGNALED(d.status) && WTERMSIG(d.status) == SIGKILL);
	ck_assert(dz_log_has(&d, "PANIC from pid"));
	ck_assert(dz_log_has(&d, "ARMED from now on"));
	for (i = 0; i < n; i++)
		json_decref(steps[i]);
}
END_TEST

START_TEST(sdk_hard_panic)
{
	const char *args[] = { "--dry-run", NULL };
	struct dz   d;
	json_t	   *steps[8], *s;
	size_t	    n, i;

	if (!sdk_ready())
		return;
	dz_init(&d, NULL);
	ck_assert(dz_start(&d, args) == 0);
	n = sdk_run(d.sock, "hard", "0", steps, 8);
	sdk_check_start(steps, n, 6);
	s = sdk_step(steps, n, 2, "dazai_hard_panic");
	ck_assert(json_is_false(json_object_get(s, "isError")));
	ck_assert(json_is_true(json_object_get(json_object_get(s, "structured"),
	    "triggered")));
	/* SIGUSR2 reached the daemon found by SO_PEERCRED: dry-run, it
	 * wipes, says WOULD SIGKILL and exits 0. */
	ck_assert(dz_wait(&d, 5.0) == 0);
	ck_assert(WIFEXITED(d.status) && WEXITSTATUS(d.status) == 0);
	ck_assert(dz_log_has(&d, "SIGUSR2"));
	ck_assert(dz_log_has(&d, "WOULD SIGKILL"));
	for (i = 0; i < n; i++)
		json_decref(steps[i]);
}
END_TEST

START_TEST(sdk_command_tools)
{
	static const char secret[] = "an SDK-era secret";
	static const char conf[] =
	    "[tool digest]\ncommand = sha256sum\n"
	    "max_calls = 2\n[tool leak]\ncommand = printf 'it is '; cat\n";
	const char *args[] = { "--dry-run", "--secret-file", NULL, NULL };
	struct dz   d;
	json_t	   *steps[8], *s, *sc;
	char	    path[192], cpath[192], want[256];
	size_t	    n, i;

	if (!sdk_ready())
		return;
	dz_init(&d, NULL);
	snprintf(path, sizeof path, "%s/secret", d.dir);
	dz_write_file(path, secret, sizeof secret - 1);
	args[2] = path;
	ck_assert(dz_start(&d, args) == 0);
	snprintf(cpath, sizeof cpath, "%s/tools.conf", d.dir);
	dz_write_file(cpath, conf, sizeof conf - 1);
	sha256_hex(secret, sizeof secret - 1, want, sizeof want);
	n = sdk_run(d.sock, "tools", cpath, steps, 8);
	sdk_check_start(steps, n, 8);
	s = sdk_step(steps, n, 2, "digest");
	ck_assert(json_is_false(json_object_get(s, "isError")));
	sc = json_object_get(s, "structured");
	ck_assert_str_eq(json_string_value(json_object_get(sc, "stdout")),
	    want);
	s = sdk_step(steps, n, 3, "leak");
	sc = json_object_get(s, "structured");
	ck_assert_str_eq(json_string_value(json_object_get(sc, "stdout")),
	    "it is [redacted]");
	ck_assert(strstr(json_string_value(json_object_get(s, "text")),
		      "SDK-era") == NULL);
	/* The second digest was its last call: the secret is gone. */
	s = sdk_step(steps, n, 4, "digest");
	ck_assert(json_is_true(json_object_get(json_object_get(s, "structured"),
	    "secret_wiped")));
	ck_assert_str_eq(dz_field(dz_status(&d), "secret_bytes"), "0");
	for (i = 0; i < n; i++)
		json_decref(steps[i]);
	dz_stop(&d);
}
END_TEST

/* The pure part, the server on pipes, and the SDK's client. */
Suite *
mcp_suite(void)
{
	Suite *s = suite_create("mcp");
	TCase *tc = tcase_create("pure");
	TCase *io = tcase_create("pipe");
	TCase *sdk = tcase_create("sdk");

	/* Before any JSON exists, in the runner itself: every block is
	 * freed as it was allocated, through the zeroing hooks. */
	tcase_add_unchecked_fixture(tc, mcp_json_init, NULL);
	tcase_add_test(tc, reader_splits_lines);
	tcase_add_test(tc, reader_line_limit);
	tcase_add_test(tc, initialize_versions);
	tcase_add_test(tc, ids_and_errors);
	tcase_add_test(tc, tools_list);
	tcase_add_test(tc, tool_status);
	tcase_add_test(tc, tool_register);
	tcase_add_test(tc, tool_arm_and_panics);
	tcase_add_test(tc, redact);
	tcase_add_test(tc, command_tools);
	suite_add_tcase(s, tc);
	tcase_set_timeout(io, 30);
	tcase_add_test(io, raw_pipe);
	tcase_add_test(io, usage_errors);
	tcase_add_test(io, guard_lost_at_eof);
	tcase_add_test(io, guard_beside_a_shell);
	tcase_add_test(io, command_tool_runs);
	tcase_add_test(io, command_tool_closes_stdout);
	tcase_add_test(io, command_tool_unread_stdin);
	tcase_add_test(io, command_tool_fd_leak);
	tcase_add_test(io, command_tool_named);
	tcase_add_test(io, command_tool_fifo);
	tcase_add_test(io, command_tool_config);
	tcase_add_test(io, command_tool_memory);
	tcase_add_test(io, guard_through_a_long_tool);
	suite_add_tcase(s, io);
	tcase_set_timeout(sdk, 120);
	tcase_add_test(sdk, sdk_tour);
	tcase_add_test(sdk, sdk_hard_panic);
	tcase_add_test(sdk, sdk_command_tools);
	suite_add_tcase(s, sdk);
	return s;
}
