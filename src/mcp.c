/* SPDX-License-Identifier: ISC */
/*
 * dazai mcp's pure part: the framing of standard input into lines and the
 * JSON-RPC dispatch of one line into at most one reply line, with the
 * tools' schemas and results. The daemon is reached only through the
 * injected mcp_ops; nothing here reads, writes or connects, so the fuzzer
 * and the unit tests call exactly what the server calls.
 */
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "dazai/client.h"
#include "dazai/mcp.h"

#ifndef DAZAI_VERSION
#define DAZAI_VERSION "0.1.0"
#endif

#define MCP_HEAD \
	16 /* the size in front of each allocation; keeps
				 * malloc's alignment */
#define MCP_STATUS_JSON 4096

/* What one tool does with its (checked) arguments. */
struct mcp_tool;
typedef json_t *(*mcp_tool_fn)(struct mcp_server *, const struct mcp_tool *,
    json_t *);

/* One tool as tools/list shows it, and the function behind it. */
struct mcp_tool {
	const char *name;
	const char *title;
	const char *description;
	const char *input;	 /* inputSchema, as JSON */
	const char *output;	 /* outputSchema, as JSON */
	const char *annotations; /* as JSON */
	const char *verb;	 /* the wire verb, if one */
	mcp_tool_fn fn;
};

/* The protocol revisions we answer with, newest first. */
static const char *const mcp_versions[] = {
	MCP_PROTOCOL,
	"2025-06-18",
	"2025-03-26",
	"2024-11-05",
};

/*
 * jansson's allocations carry their size in front, so that the free hook
 * can zero every byte it gives back: a parsed request or a built reply
 * leaves nothing behind in the heap's free lists.
 */
static void *
mcp_alloc(size_t n)
{
	unsigned char *p;

	if (n > SIZE_MAX - MCP_HEAD || (p = malloc(n + MCP_HEAD)) == NULL)
		return NULL;
	memcpy(p, &n, sizeof n);
	return p + MCP_HEAD;
}

/* Zero an allocation of mcp_alloc's, then free it. */
static void
mcp_release(void *q)
{
	unsigned char *p;
	size_t	       n;

	if (q == NULL)
		return;
	p = (unsigned char *)q - MCP_HEAD;
	memcpy(&n, p, sizeof n);
	explicit_bzero(p, n + MCP_HEAD);
	free(p);
}

/* Route every jansson allocation through the zeroing hooks. */
void
mcp_json_init(void)
{
	json_set_alloc_funcs(mcp_alloc, mcp_release);
}

/* Free a line mcp_handle or mcp_error_line returned. */
void
mcp_free(char *s)
{
	mcp_release(s);
}

/* Start with an empty buffer. */
void
mcp_reader_init(struct mcp_reader *rd)
{
	rd->len = 0;
	rd->consumed = 0;
	rd->discarding = false;
}

/* Drop the last line handed out, moving what follows it to the front. */
static void
mcp_reader_compact(struct mcp_reader *rd)
{
	if (rd->consumed == 0)
		return;
	memmove(rd->buf, rd->buf + rd->consumed, rd->len - rd->consumed);
	rd->len -= rd->consumed;
	rd->consumed = 0;
}

/* Where the next read(2) may write, and how much (never 0). */
char *
mcp_reader_space(struct mcp_reader *rd, size_t *room)
{
	mcp_reader_compact(rd);
	*room = sizeof rd->buf - rd->len;
	return rd->buf + rd->len;
}

/* n bytes were read into the space. */
void
mcp_reader_added(struct mcp_reader *rd, size_t n)
{
	rd->len += n;
}

/*
 * The next whole line (without "\n" or "\r\n"), valid until the next
 * call. A line over MCP_LINE_MAX is reported once as TOOLONG and its
 * bytes are dropped up to and including its newline.
 */
enum mcp_frame
mcp_next_line(struct mcp_reader *rd, const char **line, size_t *len)
{
	char  *nl;
	size_t n;

	mcp_reader_compact(rd);
	if (rd->discarding) {
		if ((nl = memchr(rd->buf, '\n', rd->len)) == NULL) {
			rd->len = 0;
			return MCP_FRAME_MORE;
		}
		rd->consumed = (size_t)(nl - rd->buf) + 1;
		rd->discarding = false;
		mcp_reader_compact(rd);
	}
	if ((nl = memchr(rd->buf, '\n', rd->len)) == NULL) {
		if (rd->len < sizeof rd->buf)
			return MCP_FRAME_MORE;
		rd->len = 0;
		rd->discarding = true;
		return MCP_FRAME_TOOLONG;
	}
	n = (size_t)(nl - rd->buf);
	rd->consumed = n + 1;
	if (n > 0 && rd->buf[n - 1] == '\r')
		n--;
	*line = rd->buf;
	*len = n;
	return MCP_FRAME_LINE;
}

/* Set up a server whose tools reach the daemon through ops. */
void
mcp_server_init(struct mcp_server *s, const struct mcp_ops *ops, void *arg)
{
	memset(s, 0, sizeof *s);
	s->ops = ops;
	s->arg = arg;
	snprintf(s->version, sizeof s->version, "%s", MCP_PROTOCOL);
}

/* One compact line of msg (consumed); NULL if it cannot be built. */
static char *
mcp_dump(json_t *msg)
{
	char *s;

	if (msg == NULL)
		return NULL;
	s = json_dumps(msg, JSON_COMPACT);
	json_decref(msg);
	return s;
}

/* An error response to id (NULL: null), as one line. */
static char *
mcp_error(json_t *id, int code, const char *message)
{
	return mcp_dump(json_pack("{s:s, s:O, s:{s:i, s:s}}", "jsonrpc", "2.0",
	    "id", id != NULL ? id : json_null(), "error", "code", code,
	    "message", message));
}

/* An error response that answers no request (id null), as one line. */
char *
mcp_error_line(int code, const char *message)
{
	return mcp_error(NULL, code, message);
}

/* A result response to id (result consumed), as one line. */
static char *
mcp_result(json_t *id, json_t *result)
{
	if (result == NULL)
		return mcp_error(id, -32603, "Internal error");
	return mcp_dump(json_pack("{s:s, s:O, s:o}", "jsonrpc", "2.0", "id", id,
	    "result", result));
}

/* Parse a schema or annotation literal of ours. */
static json_t *
mcp_literal(const char *s)
{
	return json_loads(s, JSON_REJECT_DUPLICATES, NULL);
}

/*
 * A tool's result: structured (consumed) as structuredContent and as its
 * text, marked isError when failed.
 */
static json_t *
mcp_tool_result(json_t *structured, bool failed)
{
	json_t *r;
	char   *text;

	if (structured == NULL)
		return NULL;
	if ((text = json_dumps(structured, JSON_COMPACT)) == NULL) {
		json_decref(structured);
		return NULL;
	}
	r = json_pack("{s:[{s:s, s:s}], s:o, s:b}", "content", "type", "text",
	    "text", text, "structuredContent", structured, "isError", failed);
	mcp_release(text);
	return r;
}

/* A tool's failure without structured output: a bad argument. */
static json_t *
mcp_tool_refusal(const char *message)
{
	return json_pack("{s:[{s:s, s:s}], s:b}", "content", "type", "text",
	    "text", message, "isError", 1);
}

/*
 * One request to the daemon. Returns 0 with the reply, or -1 with err;
 * both made printable ASCII, so that what a daemon says can go into JSON
 * whatever its bytes.
 */
static int
mcp_ask(struct mcp_server *s, const char *line, char *reply, size_t len,
    char *err, size_t errlen)
{
	char raw[CLIENT_REPLY_MAX + 1], why[MCP_ERRLEN];

	why[0] = '\0';
	if (s->ops == NULL || s->ops->request == NULL) {
		snprintf(err, errlen, "no daemon");
		return -1;
	}
	if (s->ops->request(s->arg, line, raw, sizeof raw, why, sizeof why) !=
	    0) {
		why[sizeof why - 1] = '\0';
		client_printable(why, err, errlen);
		return -1;
	}
	raw[sizeof raw - 1] = '\0';
	client_printable(raw, reply, len);
	return 0;
}

/*
 * STATUS as rei reports it (alive, armed, grace_seconds,
 * registered_pids), then every other field the daemon sent, under its own
 * name: numbers as numbers, "-" as null (client_status_json's rendering).
 */
static json_t *
mcp_status_object(char *reply, char *err, size_t errlen)
{
	static const char *const rs[] = { "alive", "armed", "grace",
		"registered" };
	struct client_status	 st;
	json_t			*all, *out, *v;
	const char		*k;
	char			 buf[MCP_STATUS_JSON];
	size_t			 i;

	if (client_parse_status(reply, &st, err, errlen) != 0)
		return NULL;
	if (client_status_json(&st, buf, sizeof buf) < 0) {
		snprintf(err, errlen, "STATUS too long");
		return NULL;
	}
	if ((all = json_loads(buf, JSON_REJECT_DUPLICATES, NULL)) == NULL) {
		snprintf(err, errlen, "STATUS with a field named twice");
		return NULL;
	}
	out = json_pack("{s:b, s:b, s:I, s:I}", "alive",
	    json_integer_value(json_object_get(all, "alive")) == 1, "armed",
	    json_integer_value(json_object_get(all, "armed")) == 1,
	    "grace_seconds",
	    (json_int_t)json_integer_value(json_object_get(all, "grace")),
	    "registered_pids",
	    (json_int_t)json_integer_value(json_object_get(all, "registered")));
	if (out == NULL) {
		json_decref(all);
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	json_object_foreach(all, k, v)
	{
		for (i = 0; i < sizeof rs / sizeof rs[0]; i++)
			if (strcmp(k, rs[i]) == 0)
				break;
		if (i == sizeof rs / sizeof rs[0] &&
		    json_object_get(out, k) == NULL)
			json_object_set(out, k, v);
	}
	json_decref(all);
	return out;
}

/* dazai_status: STATUS; an unreachable daemon is alive: false. */
static json_t *
mcp_tool_status(struct mcp_server *s, const struct mcp_tool *t, json_t *args)
{
	char	reply[CLIENT_REPLY_MAX + 1], err[MCP_ERRLEN];
	json_t *out;

	(void)t;
	(void)args;
	if (mcp_ask(s, "STATUS", reply, sizeof reply, err, sizeof err) == 0 &&
	    (out = mcp_status_object(reply, err, sizeof err)) != NULL)
		return mcp_tool_result(out, false);
	return mcp_tool_result(json_pack("{s:b, s:b, s:i, s:i, s:s}", "alive",
				   0, "armed", 0, "grace_seconds", 0,
				   "registered_pids", 0, "message", err),
	    true);
}

/*
 * The pid argument: an integer from 1 to INT_MAX. Returns it, or 0 with
 * why.
 */
static int
mcp_pid_arg(json_t *args, char *why, size_t len)
{
	json_t	  *v;
	json_int_t n;

	if ((v = json_object_get(args, "pid")) == NULL) {
		snprintf(why, len, "missing argument: pid (an integer)");
		return 0;
	}
	if (!json_is_integer(v)) {
		snprintf(why, len, "pid must be an integer");
		return 0;
	}
	n = json_integer_value(v);
	if (n < 1 || n > INT_MAX) {
		snprintf(why, len, "pid must be from 1 to %d", INT_MAX);
		return 0;
	}
	return (int)n;
}

/* dazai_register, dazai_unregister: {ok, message}. */
static json_t *
mcp_tool_pid(struct mcp_server *s, const struct mcp_tool *t, json_t *args)
{
	char	    line[64], reply[CLIENT_REPLY_MAX + 1], err[MCP_ERRLEN];
	const char *reason;
	int	    pid;

	if ((pid = mcp_pid_arg(args, err, sizeof err)) == 0)
		return mcp_tool_refusal(err);
	snprintf(line, sizeof line, "%s pid=%d", t->verb, pid);
	if (mcp_ask(s, line, reply, sizeof reply, err, sizeof err) != 0)
		return mcp_tool_result(json_pack("{s:b, s:s}", "ok", 0,
					   "message", err),
		    true);
	if (client_classify(reply, &reason) == CLIENT_OK)
		return mcp_tool_result(json_pack("{s:b, s:s}", "ok", 1,
					   "message", reply),
		    false);
	return mcp_tool_result(json_pack("{s:b, s:s}", "ok", 0, "message",
				   reply),
	    true);
}

/* dazai_arm: {armed, message}; already armed is armed. */
static json_t *
mcp_tool_arm(struct mcp_server *s, const struct mcp_tool *t, json_t *args)
{
	char		  reply[CLIENT_REPLY_MAX + 1], err[MCP_ERRLEN];
	const char	 *reason;
	enum client_reply r;

	(void)args;
	if (mcp_ask(s, t->verb, reply, sizeof reply, err, sizeof err) != 0)
		return mcp_tool_result(json_pack("{s:b, s:s}", "armed", 0,
					   "message", err),
		    true);
	r = client_classify(reply, &reason);
	return mcp_tool_result(json_pack("{s:b, s:s}", "armed",
				   r == CLIENT_OK || r == CLIENT_ALREADY,
				   "message", reply),
	    r != CLIENT_OK && r != CLIENT_ALREADY);
}

/* dazai_panic: the PANIC verb; {triggered, message}. */
static json_t *
mcp_tool_panic(struct mcp_server *s, const struct mcp_tool *t, json_t *args)
{
	char	    reply[CLIENT_REPLY_MAX + 1], err[MCP_ERRLEN];
	const char *reason;
	bool	    ok;

	(void)args;
	if (mcp_ask(s, t->verb, reply, sizeof reply, err, sizeof err) != 0)
		return mcp_tool_result(json_pack("{s:b, s:s}", "triggered", 0,
					   "message", err),
		    true);
	ok = client_classify(reply, &reason) == CLIENT_OK;
	return mcp_tool_result(json_pack("{s:b, s:s}", "triggered", ok,
				   "message", reply),
	    !ok);
}

/* dazai_hard_panic: SIGUSR2 to the daemon; {triggered, message}. */
static json_t *
mcp_tool_hard(struct mcp_server *s, const struct mcp_tool *t, json_t *args)
{
	char raw[MCP_ERRLEN], msg[MCP_ERRLEN];
	int  rc = -1;

	(void)t;
	(void)args;
	snprintf(raw, sizeof raw, "no daemon");
	if (s->ops != NULL && s->ops->hard_panic != NULL)
		rc = s->ops->hard_panic(s->arg, raw, sizeof raw);
	raw[sizeof raw - 1] = '\0';
	client_printable(raw, msg, sizeof msg);
	return mcp_tool_result(json_pack("{s:b, s:s}", "triggered", rc == 0,
				   "message", msg),
	    rc != 0);
}

/* Is s a tool name as MCP 2025-11-25 has them: [A-Za-z0-9_.-]{1,128}? */
bool
mcp_tool_name_ok(const char *s)
{
	size_t n = strspn(s,
	    "abcdefghijklmnopqrstuvwxyz"
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-");

	return n > 0 && n <= MCP_NAME_MAX && s[n] == '\0';
}

/*
 * Copy in to out with every occurrence of the secret's bytes replaced by
 * "[redacted]"; when cut (the output was truncated there), also a tail
 * that is the start of the secret. Writes at most outlen bytes and
 * returns how many the whole text needs, so a first call with outlen 0
 * sizes the buffer. (A plain comparison: what matches is shown to be
 * redacted anyway, so its timing tells nothing more.)
 */
size_t
mcp_redact(const unsigned char *in, size_t len, const unsigned char *secret,
    size_t slen, bool cut, char *out, size_t outlen)
{
	static const char mark[] = MCP_REDACTED;
	size_t		  i = 0, o = 0, k, m;

	while (i < len) {
		m = len - i < slen ? len - i : slen;
		if (slen > 0 && (m == slen || cut) &&
		    memcmp(in + i, secret, m) == 0) {
			for (k = 0; k < sizeof mark - 1; k++, o++)
				if (o < outlen)
					out[o] = mark[k];
			i += m;
			continue;
		}
		if (o < outlen)
			out[o] = (char)in[i];
		o++;
		i++;
	}
	return o;
}

#define MCP_NO_ARGS "{\"type\":\"object\",\"properties\":{}}"
#define MCP_PID_ARGS \
	"{\"type\":\"object\",\"properties\":{\"pid\":" \
	"{\"type\":\"integer\",\"minimum\":1,\"maximum\":2147483647," \
	"\"description\":\"a process id\"}},\"required\":[\"pid\"]}"
#define MCP_OK_OUT \
	"{\"type\":\"object\",\"properties\":{" \
	"\"ok\":{\"type\":\"boolean\"},\"message\":{\"type\":\"string\"}}," \
	"\"required\":[\"ok\",\"message\"]}"
#define MCP_ARM_OUT \
	"{\"type\":\"object\",\"properties\":{" \
	"\"armed\":{\"type\":\"boolean\"},\"message\":{\"type\":\"string\"}}," \
	"\"required\":[\"armed\",\"message\"]}"
#define MCP_PANIC_OUT \
	"{\"type\":\"object\",\"properties\":{" \
	"\"triggered\":{\"type\":\"boolean\"}," \
	"\"message\":{\"type\":\"string\"}},\"required\":[\"triggered\"]}"
#define MCP_STATUS_OUT \
	"{\"type\":\"object\",\"properties\":{" \
	"\"alive\":{\"type\":\"boolean\"},\"armed\":{\"type\":\"boolean\"}," \
	"\"grace_seconds\":{\"type\":\"integer\",\"minimum\":0}," \
	"\"registered_pids\":{\"type\":\"integer\",\"minimum\":0}," \
	"\"state\":{\"type\":\"string\"}," \
	"\"sessions\":{\"type\":\"integer\",\"minimum\":0}," \
	"\"message\":{\"type\":\"string\"}}," \
	"\"required\":[\"alive\",\"armed\",\"grace_seconds\"," \
	"\"registered_pids\"]}"
#define MCP_RUN_OUT \
	"{\"type\":\"object\",\"properties\":{" \
	"\"exit_status\":{\"type\":[\"integer\",\"null\"]}," \
	"\"signal\":{\"type\":[\"integer\",\"null\"]}," \
	"\"stdout\":{\"type\":\"string\"}," \
	"\"truncated\":{\"type\":\"boolean\"}," \
	"\"timed_out\":{\"type\":\"boolean\"}," \
	"\"secret_wiped\":{\"type\":\"boolean\"}," \
	"\"message\":{\"type\":\"string\"}}," \
	"\"required\":[\"exit_status\",\"stdout\",\"truncated\"," \
	"\"timed_out\"]}"
#define MCP_RUNS \
	"{\"readOnlyHint\":false,\"destructiveHint\":false," \
	"\"idempotentHint\":false,\"openWorldHint\":true}"
#define MCP_READ_ONLY \
	"{\"readOnlyHint\":true,\"destructiveHint\":false," \
	"\"idempotentHint\":true,\"openWorldHint\":false}"
#define MCP_CHANGES \
	"{\"readOnlyHint\":false,\"destructiveHint\":false," \
	"\"idempotentHint\":true,\"openWorldHint\":false}"
#define MCP_DESTROYS \
	"{\"readOnlyHint\":false,\"destructiveHint\":true," \
	"\"idempotentHint\":false,\"openWorldHint\":false}"

/* rei's six tools, with its names and argument shapes. */
static const struct mcp_tool mcp_tools[] = {
	{ "dazai_status", "dazai status",
	    "Whether the dazai daemon is alive and armed, its grace window in "
	    "seconds, how many processes are registered, and the rest of its "
	    "STATUS (state, sessions, secret_bytes, ...). An unreachable "
	    "daemon reports alive=false.",
	    MCP_NO_ARGS, MCP_STATUS_OUT, MCP_READ_ONLY, NULL, mcp_tool_status },
	{ "dazai_register", "register a process",
	    "Register a process id with the daemon: a panic SIGKILLs it "
	    "first when the daemon is armed.",
	    MCP_PID_ARGS, MCP_OK_OUT, MCP_CHANGES, "REGISTER", mcp_tool_pid },
	{ "dazai_unregister", "unregister a process",
	    "Forget a registered process id.", MCP_PID_ARGS, MCP_OK_OUT,
	    MCP_CHANGES, "UNREGISTER", mcp_tool_pid },
	{ "dazai_arm", "arm the daemon",
	    "Make the daemon's final SIGKILL real (dry-run to armed; there is "
	    "no way back). Already armed reports armed=true.",
	    MCP_NO_ARGS, MCP_ARM_OUT, MCP_CHANGES, "ARM", mcp_tool_arm },
	{ "dazai_panic", "graceful panic",
	    "A graceful panic: the daemon wipes its secrets and, armed, "
	    "SIGKILLs the registered processes and itself once its grace "
	    "window ends (a heartbeat may cancel it meanwhile).",
	    MCP_NO_ARGS, MCP_PANIC_OUT, MCP_DESTROYS, "PANIC", mcp_tool_panic },
	{ "dazai_hard_panic", "hard panic",
	    "A hard panic (SIGUSR2 to the daemon): wipe and, armed, SIGKILL "
	    "at once, with no grace window and no cancel.",
	    MCP_NO_ARGS, MCP_PANIC_OUT, MCP_DESTROYS, NULL, mcp_tool_hard },
};

#define MCP_NTOOLS (sizeof mcp_tools / sizeof mcp_tools[0])

/* initialize: the client's revision if we speak it, else ours. */
static json_t *
mcp_initialize(struct mcp_server *s, json_t *params)
{
	const char *want;
	size_t	    i;

	want = json_string_value(json_object_get(params, "protocolVersion"));
	snprintf(s->version, sizeof s->version, "%s", MCP_PROTOCOL);
	for (i = 0;
	     want != NULL && i < sizeof mcp_versions / sizeof mcp_versions[0];
	     i++)
		if (strcmp(want, mcp_versions[i]) == 0)
			snprintf(s->version, sizeof s->version, "%s", want);
	s->initialized = true;
	return json_pack("{s:s, s:{s:{s:b}}, s:{s:s, s:s, s:s}, s:s}",
	    "protocolVersion", s->version, "capabilities", "tools",
	    "listChanged", 0, "serverInfo", "name", "dazai", "title", "dazai",
	    "version", DAZAI_VERSION, "instructions",
	    "Controls for dazaid, a dead-man's switch that "
	    "holds a secret for as long as its owner's session lasts. "
	    "Register your own process id with dazai_register so that a "
	    "panic ends you too.");
}

/* tools/list: every tool, in one page. */
static json_t *
mcp_list(const struct mcp_server *s)
{
	const struct mcp_cmdtool *c;
	json_t			 *tools, *t;
	size_t			  i;

	if ((tools = json_array()) == NULL)
		return NULL;
	for (i = 0; i < MCP_NTOOLS; i++) {
		t = json_pack("{s:s, s:s, s:s, s:o, s:o, s:o}", "name",
		    mcp_tools[i].name, "title", mcp_tools[i].title,
		    "description", mcp_tools[i].description, "inputSchema",
		    mcp_literal(mcp_tools[i].input), "outputSchema",
		    mcp_literal(mcp_tools[i].output), "annotations",
		    mcp_literal(mcp_tools[i].annotations));
		if (t == NULL || json_array_append_new(tools, t) != 0) {
			json_decref(tools);
			return NULL;
		}
	}
	for (i = 0; i < s->ncmd; i++) {
		c = &s->cmd[i];
		t = json_pack("{s:s, s:s, s:o, s:o, s:o}", "name", c->name,
		    "description",
		    c->description != NULL ?
			c->description :
			"a command that uses the secret without showing it",
		    "inputSchema", mcp_literal(MCP_NO_ARGS), "outputSchema",
		    mcp_literal(MCP_RUN_OUT), "annotations",
		    mcp_literal(MCP_RUNS));
		if (t == NULL || json_array_append_new(tools, t) != 0) {
			json_decref(tools);
			return NULL;
		}
	}
	return json_pack("{s:o}", "tools", tools);
}

/*
 * A command's output as a JSON string: as it is when it is UTF-8, else
 * with every byte above 0x7f written as \\xNN.
 */
static json_t *
mcp_output_string(const char *p, size_t len)
{
	static const char hex[] = "0123456789abcdef";
	json_t		 *j;
	char		 *a;
	size_t		  i, o = 0;

	if ((j = json_stringn(p, len)) != NULL)
		return j;
	if (len > (SIZE_MAX - 1) / 4 || (a = mcp_alloc(len * 4 + 1)) == NULL)
		return NULL;
	for (i = 0; i < len; i++) {
		if ((unsigned char)p[i] < 0x80) {
			a[o++] = p[i];
			continue;
		}
		a[o++] = '\\';
		a[o++] = 'x';
		a[o++] = hex[(unsigned char)p[i] >> 4];
		a[o++] = hex[(unsigned char)p[i] & 15];
	}
	j = json_stringn(a, o);
	mcp_release(a);
	return j;
}

/*
 * A command tool: run it through ops->run; its exit status and its
 * output, already redacted, as the result; an error when it could not
 * run, timed out or exited other than 0.
 */
static json_t *
mcp_call_command(struct mcp_server *s, size_t n)
{
	struct mcp_run r;
	json_t	      *out, *text;
	bool	       failed;

	memset(&r, 0, sizeof r);
	r.status = -1;
	if (s->ops == NULL || s->ops->run == NULL) {
		r.failed = true;
		snprintf(r.err, sizeof r.err, "command tools cannot run here");
	} else
		s->ops->run(s->arg, n, &r);
	if ((text = mcp_output_string(r.output != NULL ? r.output : "",
		 r.outlen)) == NULL) {
		free(r.output);
		return NULL;
	}
	free(r.output);
	out = json_pack("{s:o, s:o, s:o, s:b, s:b, s:b}", "exit_status",
	    r.status >= 0 ? json_integer(r.status) : json_null(), "signal",
	    r.signal > 0 ? json_integer(r.signal) : json_null(), "stdout", text,
	    "truncated", r.truncated, "timed_out", r.timed_out, "secret_wiped",
	    r.burnt);
	if (out != NULL && r.failed) {
		r.err[sizeof r.err - 1] = '\0';
		json_object_set_new(out, "message", json_string(r.err));
	} else if (out != NULL && r.timed_out)
		json_object_set_new(out, "message", json_string("timed out"));
	failed = r.failed || r.timed_out || r.status != 0;
	return mcp_tool_result(out, failed);
}

/*
 * tools/call. An unknown tool is a protocol error (-32602, in *code); an
 * argument the tool cannot use is the tool's own error result.
 */
static json_t *
mcp_call(struct mcp_server *s, json_t *params, int *code, const char **why)
{
	const char *name;
	json_t	   *args, *none, *r;
	size_t	    i;

	if ((name = json_string_value(json_object_get(params, "name"))) ==
	    NULL) {
		*code = MCP_INVALID_PARAMS;
		*why = "tools/call without a tool name";
		return NULL;
	}
	for (i = 0; i < MCP_NTOOLS; i++)
		if (strcmp(name, mcp_tools[i].name) == 0)
			break;
	if (i == MCP_NTOOLS) {
		for (i = 0; i < s->ncmd; i++)
			if (strcmp(name, s->cmd[i].name) == 0)
				return mcp_call_command(s, i);
		*code = MCP_INVALID_PARAMS;
		*why = "Unknown tool";
		return NULL;
	}
	args = json_object_get(params, "arguments");
	if (args != NULL && !json_is_object(args))
		return mcp_tool_refusal("arguments must be an object");
	if (args != NULL)
		return mcp_tools[i].fn(s, &mcp_tools[i], args);
	if ((none = json_object()) == NULL)
		return NULL;
	r = mcp_tools[i].fn(s, &mcp_tools[i], none);
	json_decref(none);
	return r;
}

/* A request (it has an id): dispatch on its method. */
static char *
mcp_request(struct mcp_server *s, json_t *id, const char *method,
    json_t *params)
{
	const char *why = "Invalid params";
	json_t	   *r;
	int	    code = -32603;

	if (params != NULL && !json_is_object(params))
		return mcp_error(id, MCP_INVALID_PARAMS,
		    "params must be an object");
	if (strcmp(method, "initialize") == 0)
		return mcp_result(id, mcp_initialize(s, params));
	if (strcmp(method, "ping") == 0)
		return mcp_result(id, json_object());
	if (strcmp(method, "tools/list") == 0)
		return mcp_result(id, mcp_list(s));
	if (strcmp(method, "tools/call") == 0) {
		if (params == NULL)
			return mcp_error(id, MCP_INVALID_PARAMS,
			    "tools/call without params");
		if ((r = mcp_call(s, params, &code, &why)) == NULL)
			return mcp_error(id, code, why);
		return mcp_result(id, r);
	}
	return mcp_error(id, MCP_METHOD_NOT_FOUND, "Method not found");
}

/*
 * One message line in, its reply line out (without the newline; free it
 * with mcp_free), or NULL when nothing is to be answered: a notification,
 * a response, a blank line.
 */
char *
mcp_handle(struct mcp_server *s, const char *line, size_t len)
{
	json_error_t jerr;
	json_t	    *msg, *id, *method, *params;
	const char  *v;
	char	    *out;
	size_t	     i;

	for (i = 0; i < len && (line[i] == ' ' || line[i] == '\t'); i++)
		;
	if (i == len)
		return NULL;
	if ((msg = json_loadb(line, len, JSON_REJECT_DUPLICATES, &jerr)) ==
	    NULL)
		return mcp_error(NULL, MCP_PARSE_ERROR, "Parse error");
	if (!json_is_object(msg)) {
		json_decref(msg);
		return mcp_error(NULL, MCP_INVALID_REQUEST,
		    "Invalid Request: "
		    "one JSON-RPC object per line (no batches)");
	}
	id = json_object_get(msg, "id");
	method = json_object_get(msg, "method");
	params = json_object_get(msg, "params");
	if (id != NULL && !json_is_string(id) && !json_is_number(id))
		id = NULL;
	v = json_string_value(json_object_get(msg, "jsonrpc"));
	if (v == NULL || strcmp(v, "2.0") != 0 ||
	    (method != NULL && !json_is_string(method)) ||
	    (json_object_get(msg, "id") != NULL && id == NULL)) {
		out = mcp_error(id, MCP_INVALID_REQUEST, "Invalid Request");
	} else if (method == NULL) {
		/* A response: we send no requests, so it answers nothing. */
		out = json_object_get(msg, "result") != NULL ||
			json_object_get(msg, "error") != NULL ?
		    NULL :
		    mcp_error(id, MCP_INVALID_REQUEST, "Invalid Request");
	} else if (id == NULL)
		out = NULL; /* a notification: never answered */
	else
		out = mcp_request(s, id, json_string_value(method), params);
	json_decref(msg);
	return out;
}
