/* SPDX-License-Identifier: ISC */
/* The line protocol: every verb, every error, framing. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dazai/proto.h"
#include "helpers.h"

/* Parse a C string as one line. */
static const char *
parse(const char *s, struct proto_cmd *cmd)
{
	return proto_parse_line(s, strlen(s), cmd);
}

START_TEST(verbs)
{
	struct proto_cmd cmd;

	ck_assert_ptr_null(parse("HELLO 4242", &cmd));
	ck_assert_int_eq(cmd.verb, PROTO_HELLO);
	ck_assert_int_eq(cmd.pid, 4242);
	ck_assert_ptr_null(parse("PING", &cmd));
	ck_assert_int_eq(cmd.verb, PROTO_PING);
	ck_assert_ptr_null(parse("CANCEL", &cmd));
	ck_assert_int_eq(cmd.verb, PROTO_CANCEL);
	ck_assert_ptr_null(parse("QUIT", &cmd));
	ck_assert_int_eq(cmd.verb, PROTO_QUIT);
	ck_assert_ptr_null(parse("HELLO 2147483647", &cmd));
	ck_assert_int_eq(cmd.pid, 2147483647);
}
END_TEST

START_TEST(errors)
{
	struct proto_cmd cmd;

	ck_assert_str_eq(parse("", &cmd), "empty line");
	ck_assert_str_eq(parse("HELLO", &cmd), "HELLO needs a pid");
	ck_assert_str_eq(parse("HELLO ", &cmd), "bad pid");
	ck_assert_str_eq(parse("HELLO 0", &cmd), "bad pid");
	ck_assert_str_eq(parse("HELLO -1", &cmd), "bad pid");
	ck_assert_str_eq(parse("HELLO +5", &cmd), "bad pid");
	ck_assert_str_eq(parse("HELLO 007", &cmd), "bad pid");
	ck_assert_str_eq(parse("HELLO 12a", &cmd), "bad pid");
	ck_assert_str_eq(parse("HELLO 1 2", &cmd), "bad pid");
	ck_assert_str_eq(parse("HELLO 2147483648", &cmd), "bad pid");
	ck_assert_str_eq(parse("HELLO 99999999999", &cmd), "bad pid");
	ck_assert_str_eq(parse("PING now", &cmd), "unexpected argument");
	ck_assert_str_eq(parse("QUIT ", &cmd), "unexpected argument");
	ck_assert_str_eq(parse("ping", &cmd), "unknown command");
	ck_assert_str_eq(parse("status", &cmd), "unknown command");
	ck_assert_str_eq(parse("STATUS now", &cmd), "unexpected argument");
	ck_assert_str_eq(parse("LOAD", &cmd), "LOAD needs a length");
	ck_assert_str_eq(parse("LOAD ", &cmd), "bad length");
	ck_assert_str_eq(parse("LOAD -1", &cmd), "bad length");
	ck_assert_str_eq(parse("LOAD +1", &cmd), "bad length");
	ck_assert_str_eq(parse("LOAD 1x a", &cmd), "bad length");
	ck_assert_str_eq(parse("LOAD 1 a b", &cmd), "bad name");
	ck_assert_str_eq(parse("LOAD 0x10", &cmd), "bad length");
	ck_assert_str_eq(parse("LOAD 99999999999999999999", &cmd),
	    "bad length");
	ck_assert_str_eq(parse("GET 1 2", &cmd), "bad name");
	ck_assert_str_eq(parse(" PING", &cmd), "unknown command");
	ck_assert_str_eq(proto_parse_line("PING\0", 5, &cmd),
	    "unknown command");
	ck_assert_str_eq(proto_parse_line("HELLO 1\0", 8, &cmd), "bad pid");
}
END_TEST

START_TEST(control_verbs)
{
	static const struct {
		const char     *line;
		enum proto_verb verb;
	} plain[] = {
		{ "STATUS", PROTO_STATUS },
		{ "ARM", PROTO_ARM },
		{ "GET", PROTO_GET },
		{ "WIPE", PROTO_WIPE },
		{ "PANIC", PROTO_PANIC },
		{ "PING", PROTO_PING },
		{ "QUIT", PROTO_QUIT },
	};
	struct proto_cmd cmd;
	size_t		 i;

	for (i = 0; i < sizeof plain / sizeof plain[0]; i++) {
		ck_assert_ptr_null(parse(plain[i].line, &cmd));
		ck_assert_int_eq(cmd.verb, plain[i].verb);
	}
	ck_assert_ptr_null(parse("LOAD 0", &cmd));
	ck_assert_int_eq(cmd.verb, PROTO_LOAD);
	ck_assert_uint_eq(cmd.len, 0);
	ck_assert_ptr_null(parse("LOAD 4194304", &cmd));
	ck_assert_uint_eq(cmd.len, 4194304);
	ck_assert_ptr_null(parse("LOAD 18446744073", &cmd));
	ck_assert_uint_eq(cmd.len, 18446744073ULL);
	ck_assert_ptr_null(parse("REGISTER pid=4242", &cmd));
	ck_assert_int_eq(cmd.verb, PROTO_REGISTER);
	ck_assert_int_eq(cmd.pid, 4242);
	ck_assert_ptr_null(parse("UNREGISTER pid=7", &cmd));
	ck_assert_int_eq(cmd.verb, PROTO_UNREGISTER);
	ck_assert_int_eq(cmd.pid, 7);
}
END_TEST

/* Every bad pid is the same "ERROR invalid pid" (pid 0), never ERR. */
START_TEST(register_invalid)
{
	static const char *const bad[] = {
		"REGISTER pid=0",
		"REGISTER pid=-1",
		"REGISTER pid=",
		"REGISTER",
		"REGISTER 42",
		"REGISTER pid=99999999999",
		"REGISTER pid=2147483648",
		"REGISTER pid=12x",
		"REGISTER pid=007",
		"REGISTER PID=5",
		"REGISTER pid=5 6",
		"UNREGISTER pid=0",
		"UNREGISTER",
	};
	struct proto_cmd cmd;
	size_t		 i;

	for (i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		cmd.pid = 99;
		ck_assert_msg(parse(bad[i], &cmd) == NULL, "%s", bad[i]);
		ck_assert_msg(cmd.pid == 0, "%s: pid %d", bad[i], cmd.pid);
	}
	ck_assert_str_eq(PROTO_INVALID_PID, "ERROR invalid pid\n");
	ck_assert_str_eq(PROTO_ALREADY_ARMED, "ALREADY_ARMED\n");
	ck_assert_str_eq(PROTO_OK, "OK\n");
	ck_assert_str_eq(PROTO_BUSY, "BUSY\n");
}
END_TEST

START_TEST(admit)
{
	struct proto_cmd hello = { .verb = PROTO_HELLO, .pid = 1 };
	struct proto_cmd ping = { .verb = PROTO_PING };
	struct proto_cmd cancel = { .verb = PROTO_CANCEL };
	struct proto_cmd status = { .verb = PROTO_STATUS };
	struct proto_cmd load = { .verb = PROTO_LOAD, .len = 5 };

	/* The first verb decides: HELLO a heartbeat, the rest control. */
	ck_assert_ptr_null(proto_admit(PROTO_KIND_NEW, &hello));
	ck_assert_ptr_null(proto_admit(PROTO_KIND_NEW, &ping));
	ck_assert_ptr_null(proto_admit(PROTO_KIND_NEW, &status));
	ck_assert_ptr_null(proto_admit(PROTO_KIND_NEW, &load));
	ck_assert_str_eq(proto_admit(PROTO_KIND_NEW, &cancel), "hello first");
	/* A heartbeat keeps the reference's verbs only. */
	ck_assert_str_eq(proto_admit(PROTO_KIND_HEARTBEAT, &hello),
	    "already said hello");
	ck_assert_ptr_null(proto_admit(PROTO_KIND_HEARTBEAT, &ping));
	ck_assert_ptr_null(proto_admit(PROTO_KIND_HEARTBEAT, &cancel));
	ck_assert_str_eq(proto_admit(PROTO_KIND_HEARTBEAT, &status),
	    "not on a heartbeat connection");
	ck_assert_str_eq(proto_admit(PROTO_KIND_HEARTBEAT, &load),
	    "not on a heartbeat connection");
	/* A control connection never becomes a heartbeat, never cancels. */
	ck_assert_str_eq(proto_admit(PROTO_KIND_CONTROL, &hello),
	    "not on a control connection");
	ck_assert_str_eq(proto_admit(PROTO_KIND_CONTROL, &cancel),
	    "not on a control connection");
	ck_assert_ptr_null(proto_admit(PROTO_KIND_CONTROL, &ping));
	ck_assert_ptr_null(proto_admit(PROTO_KIND_CONTROL, &load));
}
END_TEST

/* Feed bytes into a reader as read(2) would. */
static void
feed(struct proto_reader *r, const char *s, size_t n)
{
	size_t room;
	char  *p = proto_reader_space(r, &room);

	ck_assert_uint_ge(room, n);
	memcpy(p, s, n);
	proto_reader_added(r, n);
}

START_TEST(framing)
{
	struct proto_reader r;
	const char	   *line;
	size_t		    len;

	proto_reader_init(&r);
	feed(&r, "PI", 2);
	ck_assert_int_eq(proto_next_line(&r, &line, &len), PROTO_FRAME_MORE);
	feed(&r, "NG\r\nQUIT\nHEL", 12);
	ck_assert_int_eq(proto_next_line(&r, &line, &len), PROTO_FRAME_LINE);
	ck_assert_uint_eq(len, 4);
	ck_assert(memcmp(line, "PING", 4) == 0);
	ck_assert_int_eq(proto_next_line(&r, &line, &len), PROTO_FRAME_LINE);
	ck_assert_uint_eq(len, 4);
	ck_assert(memcmp(line, "QUIT", 4) == 0);
	ck_assert_int_eq(proto_next_line(&r, &line, &len), PROTO_FRAME_MORE);
	feed(&r, "LO 7\n", 5);
	ck_assert_int_eq(proto_next_line(&r, &line, &len), PROTO_FRAME_LINE);
	ck_assert_uint_eq(len, 7);
	ck_assert(memcmp(line, "HELLO 7", 7) == 0);
	/* An empty CRLF line frames as an empty line. */
	feed(&r, "\r\n", 2);
	ck_assert_int_eq(proto_next_line(&r, &line, &len), PROTO_FRAME_LINE);
	ck_assert_uint_eq(len, 0);
}
END_TEST

START_TEST(line_limit)
{
	struct proto_reader r;
	char		    buf[PROTO_LINE_MAX + 3];
	const char	   *line;
	size_t		    len;

	/* Exactly 256 bytes plus CRLF is allowed. */
	memset(buf, 'A', sizeof buf);
	buf[PROTO_LINE_MAX] = '\r';
	buf[PROTO_LINE_MAX + 1] = '\n';
	proto_reader_init(&r);
	feed(&r, buf, PROTO_LINE_MAX + 2);
	ck_assert_int_eq(proto_next_line(&r, &line, &len), PROTO_FRAME_LINE);
	ck_assert_uint_eq(len, PROTO_LINE_MAX);

	/* 257 bytes then a newline is too long. */
	memset(buf, 'A', sizeof buf);
	buf[PROTO_LINE_MAX + 1] = '\n';
	proto_reader_init(&r);
	feed(&r, buf, PROTO_LINE_MAX + 2);
	ck_assert_int_eq(proto_next_line(&r, &line, &len), PROTO_FRAME_TOOLONG);

	/* A full buffer without a newline is too long. */
	memset(buf, 'B', sizeof buf);
	proto_reader_init(&r);
	feed(&r, buf, PROTO_LINE_MAX + 2);
	ck_assert_int_eq(proto_next_line(&r, &line, &len), PROTO_FRAME_TOOLONG);
}
END_TEST

START_TEST(format_error)
{
	char buf[64];

	ck_assert_int_eq(proto_format_error(buf, sizeof buf, "hello first"),
	    16);
	ck_assert_str_eq(buf, "ERR hello first\n");
	ck_assert_int_eq(proto_format_error(buf, 4, "hello first"), -1);
}
END_TEST

/*
 * A connection as the daemon drives one, without a socket: stream is
 * what the peer sent. Reads never take more than proto_reader_safe
 * allows (nor more than cap at once); a LOAD line that parses takes its
 * n raw bytes straight from the stream, as the secure buffer would. The
 * transcript names each event: "V<verb>" for a command, "E<reason>" for
 * an error, "L<n>:<bytes>" for a load, "!" for a LOAD whose bytes were
 * already in the line buffer (the bug this guards against), "<" when the
 * stream ended inside a load, "T" for too long.
 */
static void
drive(const char *stream, size_t slen, size_t cap, char *out, size_t outlen)
{
	struct proto_reader r;
	struct proto_cmd    cmd;
	const char	   *line, *err;
	char		   *space;
	size_t		    pos = 0, room, n, len, o = 0;
	enum proto_frame    f;

	out[0] = '\0';
	proto_reader_init(&r);
	for (;;) {
		while ((f = proto_next_line(&r, &line, &len)) ==
		    PROTO_FRAME_LINE) {
			if ((err = proto_parse_line(line, len, &cmd)) != NULL) {
				o += snprintf(out + o, outlen - o, "E%s|", err);
				continue;
			}
			if (cmd.verb != PROTO_LOAD) {
				o += snprintf(out + o, outlen - o, "V%d|",
				    (int)cmd.verb);
				continue;
			}
			if (proto_reader_pending(&r) != 0) {
				o += snprintf(out + o, outlen - o, "!|");
				return;
			}
			if (cmd.len > slen - pos) {
				o += snprintf(out + o, outlen - o, "<|");
				return;
			}
			o += snprintf(out + o, outlen - o, "L%zu:%.*s|",
			    cmd.len, (int)cmd.len, stream + pos);
			pos += cmd.len;
		}
		if (f == PROTO_FRAME_TOOLONG) {
			o += snprintf(out + o, outlen - o, "T|");
			return;
		}
		if (pos == slen)
			return;
		space = proto_reader_space(&r, &room);
		n = proto_reader_safe(&r);
		ck_assert_uint_gt(n, 0);
		if (n > room)
			n = room;
		if (n > cap)
			n = cap;
		if (n > slen - pos)
			n = slen - pos;
		memcpy(space, stream + pos, n);
		proto_reader_added(&r, n);
		pos += n;
	}
}

#define DRIVE(s, cap, buf) drive((s), sizeof(s) - 1, (cap), (buf), sizeof(buf))

/* Pipelined: a LOAD's bytes never reach the line buffer, whatever follows. */
START_TEST(load_pipelined)
{
	char   t[512];
	size_t cap;

	for (cap = 1; cap <= 300; cap++) {
		DRIVE("PING\nLOAD 5\nhello"
		      "STATUS\n",
		    cap, t);
		ck_assert_str_eq(t, "V1|L5:hello|V4|");
		/* Binary bytes, newlines and a LOAD line inside the secret. */
		DRIVE("LOAD 10\n\nLOAD 1\nx\n"
		      "GET\n",
		    cap, t);
		ck_assert_str_eq(t, "L10:\nLOAD 1\nx\n|V9|");
		/* The shortest LOAD line, back to back. */
		DRIVE("LOAD 1\naLOAD 1\nbLOAD 2\r\ncd", cap, t);
		ck_assert_str_eq(t, "L1:a|L1:b|L2:cd|");
		/* Garbage before the verb: an error, then framing goes on. */
		DRIVE("\x01\xffXLOAD 1\nBOGUS\nLOAD 3\nabc", cap, t);
		ck_assert_str_eq(t,
		    "Eunknown command|Eunknown command|"
		    "L3:abc|");
		/* A lying length: more announced than sent. */
		DRIVE("LOAD 100\nshort", cap, t);
		ck_assert_str_eq(t, "<|");
		/* Fewer announced than sent: the rest is read as lines. */
		DRIVE("LOAD 2\nabPING\n", cap, t);
		ck_assert_str_eq(t, "L2:ab|V1|");
		/* A LOAD with a bad length stays a line (the daemon closes). */
		DRIVE("LOAD x\nPING\n", cap, t);
		ck_assert_str_eq(t, "Ebad length|V1|");
	}
}
END_TEST

/* proto_reader_safe: exactly up to the earliest possible LOAD end. */
START_TEST(safe_reads)
{
	struct proto_reader r;
	const char	   *line;
	size_t		    len;

	proto_reader_init(&r);
	ck_assert_uint_eq(proto_reader_safe(&r), 7); /* "LOAD 1\n" */
	feed(&r, "L", 1);
	ck_assert_uint_eq(proto_reader_safe(&r), 6);
	feed(&r, "OAD", 3);
	ck_assert_uint_eq(proto_reader_safe(&r), 3);
	feed(&r, " 1", 2);
	ck_assert_uint_eq(proto_reader_safe(&r), 1);
	feed(&r, "0", 1);
	ck_assert_uint_eq(proto_reader_safe(&r), 1);
	feed(&r, "\n", 1);
	ck_assert_uint_eq(proto_reader_safe(&r), 0); /* take it first */
	ck_assert_int_eq(proto_next_line(&r, &line, &len), PROTO_FRAME_LINE);
	ck_assert_uint_eq(proto_reader_pending(&r), 0);
	proto_reader_init(&r);
	feed(&r, "STAT", 4); /* not a LOAD: its end, then 7 more */
	ck_assert_uint_eq(proto_reader_safe(&r), 8);
}
END_TEST

/* SESSION <i>: a control verb with an index; its reply on one line. */
START_TEST(session_verb)
{
	static const char *const bad[] = { "SESSION", "SESSION x", "SESSION -1",
		"SESSION 1000", "SESSION 1 2", NULL };
	struct proto_cmd	 cmd;
	struct proto_session	 ps = { 2, 4242, 4243, 1795500000, 1.2 };
	char			 buf[PROTO_REPLY_MAX];
	int			 i;

	ck_assert_ptr_null(proto_parse_line("SESSION 7", 9, &cmd));
	ck_assert_int_eq(cmd.verb, PROTO_SESSION);
	ck_assert_uint_eq(cmd.len, 7);
	ck_assert_ptr_null(proto_admit(PROTO_KIND_CONTROL, &cmd));
	ck_assert_ptr_nonnull(proto_admit(PROTO_KIND_HEARTBEAT, &cmd));
	for (i = 0; bad[i] != NULL; i++)
		ck_assert_msg(proto_parse_line(bad[i], strlen(bad[i]), &cmd) !=
			NULL,
		    "accepted: %s", bad[i]);
	ck_assert_int_gt(proto_format_session(buf, sizeof buf, &ps), 0);
	ck_assert_str_eq(buf,
	    "SESSION index=2 hello_pid=4242 peer_pid=4243 "
	    "since=1795500000 idle=2\n");
}
END_TEST

/*
 * The STATUS line read as a daZai-rs client reads it: whitespace-split
 * tokens, "alive=", "armed=", "grace=", "registered=" stripped and their
 * values parsed as unsigned integers. The four come first, in order.
 */
static void
rs_parse_status(const char *line, int *alive, int *armed,
    unsigned long long *grace, unsigned long long *registered)
{
	char		   copy[PROTO_REPLY_MAX], *tok, *save = NULL, *end;
	const char	  *want[] = { "STATUS",
		       "alive=", "armed=", "grace=", "registered=" };
	unsigned long long v;
	int		   i = 0;

	snprintf(copy, sizeof copy, "%s", line);
	ck_assert(copy[strlen(copy) - 1] == '\n');
	for (tok = strtok_r(copy, " \t\n", &save); tok != NULL;
	     tok = strtok_r(NULL, " \t\n", &save), i++) {
		if (i < 5)
			ck_assert_msg(strncmp(tok, want[i], strlen(want[i])) ==
				0,
			    "token %d is '%s', not %s", i, tok, want[i]);
		if (i == 0)
			continue;
		ck_assert_msg(strchr(tok, '=') != NULL, "token '%s'", tok);
		if (i > 4)
			continue;
		tok += strlen(want[i]);
		ck_assert_msg(*tok >= '0' && *tok <= '9', "value '%s'", tok);
		v = strtoull(tok, &end, 10);
		ck_assert_msg(*end == '\0', "value '%s' is no integer", tok);
		if (i == 1)
			*alive = (int)v;
		else if (i == 2)
			*armed = (int)v;
		else if (i == 3)
			*grace = v;
		else
			*registered = v;
	}
	ck_assert_int_ge(i, 5);
}

START_TEST(status_line)
{
	struct proto_status st = { true, 2.5, 3, "guarding", 1, 32,
		"locked dontdump secretmem", -1, 12.2, 7, "seccomp,landlock",
		"up", 3, 3, "blocked", "wipe" };
	char		    buf[PROTO_REPLY_MAX];
	unsigned long long  grace = 99, reg = 99;
	int		    alive = 0, armed = 0;

	ck_assert_int_gt(proto_format_status(buf, sizeof buf, &st), 0);
	ck_assert_str_eq(buf,
	    "STATUS alive=1 armed=1 grace=3 registered=3 "
	    "state=guarding sessions=1 secret_bytes=32 "
	    "protections=locked,dontdump,secretmem deadline=- expires=13 "
	    "reads=7 sandbox=seccomp,landlock warden=up actions=3 secrets=3 "
	    "hibernate=blocked sleep=wipe\n");
	rs_parse_status(buf, &alive, &armed, &grace, &reg);
	ck_assert_int_eq(alive, 1);
	ck_assert_int_eq(armed, 1);
	ck_assert_uint_eq(grace, 3); /* whole seconds, rounded up */
	ck_assert_uint_eq(reg, 3);
	st.armed = false;
	st.grace = 0;
	st.registered = 0;
	st.state = "empty";
	st.protections = "";
	st.deadline = 4.01;
	st.expires = -1;
	st.sandbox = NULL;
	st.warden = NULL;
	st.actions = 0;
	st.hibernate = NULL;
	st.sleep = NULL;
	ck_assert_int_gt(proto_format_status(buf, sizeof buf, &st), 0);
	rs_parse_status(buf, &alive, &armed, &grace, &reg);
	ck_assert_int_eq(armed, 0);
	ck_assert_uint_eq(grace, 0);
	ck_assert_uint_eq(reg, 0);
	ck_assert(strstr(buf, " state=empty ") != NULL);
	ck_assert(strstr(buf, " protections=none ") != NULL);
	ck_assert(strstr(buf, " deadline=5 expires=- ") != NULL);
	/* Unset, the sandbox and the warden say off, hibernation possible
	 * and sleep keep; the new fields come last, in the order they were
	 * added. */
	ck_assert(strstr(buf,
		      " reads=7 sandbox=off warden=off actions=0 "
		      "secrets=3 hibernate=possible sleep=keep\n") != NULL);
	/* Too small a buffer is an error, never a cut line. */
	ck_assert_int_eq(proto_format_status(buf, 40, &st), -1);
	ck_assert_int_eq(proto_format_secret(buf, sizeof buf, 4096), 12);
	ck_assert_str_eq(buf, "SECRET 4096\n");
	{
		struct proto_action a = { 1, "wipe", "ssh-add -D\tnow" };
		struct proto_result r = { 1, true, 3, false, "no agent" };
		struct proto_cmd    cmd;

		ck_assert_int_gt(proto_format_action(buf, sizeof buf, &a), 0);
		ck_assert_str_eq(buf,
		    "ACTION index=1 on=wipe command=ssh-add "
		    "-D?now\n");
		ck_assert_int_gt(proto_format_result(buf, sizeof buf, &r), 0);
		ck_assert_str_eq(buf,
		    "RESULT index=1 state=done status=3 "
		    "timed_out=0 stderr=no agent\n");
		ck_assert_ptr_null(proto_parse_line("ACTION 2", 8, &cmd));
		ck_assert(cmd.verb == PROTO_ACTION && cmd.len == 2);
		ck_assert_ptr_null(proto_parse_line("REHEARSE", 8, &cmd));
		ck_assert(cmd.verb == PROTO_REHEARSE);
		ck_assert_str_eq(proto_parse_line("RESULT", 6, &cmd),
		    "needs an index");
		ck_assert_str_eq(proto_admit(PROTO_KIND_HEARTBEAT, &cmd),
		    "not on a heartbeat connection");
	}
}
END_TEST

Suite *
proto_suite(void)
{
	Suite *s = suite_create("proto");
	TCase *tc = tcase_create("proto");

	tcase_add_test(tc, verbs);
	tcase_add_test(tc, errors);
	tcase_add_test(tc, control_verbs);
	tcase_add_test(tc, register_invalid);
	tcase_add_test(tc, admit);
	tcase_add_test(tc, load_pipelined);
	tcase_add_test(tc, safe_reads);
	tcase_add_test(tc, status_line);
	tcase_add_test(tc, framing);
	tcase_add_test(tc, line_limit);
	tcase_add_test(tc, format_error);
	tcase_add_test(tc, session_verb);
	suite_add_tcase(s, tc);
	return s;
}
