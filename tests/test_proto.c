/* SPDX-License-Identifier: ISC */
/* The line protocol: every verb, every error, framing. */
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
	struct proto_cmd	 cmd;

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
	struct proto_cmd	 cmd;

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
	ck_assert_str_eq(parse("STATUS", &cmd), "unknown command");
	ck_assert_str_eq(parse(" PING", &cmd), "unknown command");
	ck_assert_str_eq(proto_parse_line("PING\0", 5, &cmd),
	    "unknown command");
	ck_assert_str_eq(proto_parse_line("HELLO 1\0", 8, &cmd), "bad pid");
}
END_TEST

START_TEST(admit)
{
	struct proto_cmd	 hello = { PROTO_HELLO, 1 };
	struct proto_cmd	 ping = { PROTO_PING, 0 };
	struct proto_cmd	 cancel = { PROTO_CANCEL, 0 };

	ck_assert_str_eq(proto_admit(false, &ping), "hello first");
	ck_assert_str_eq(proto_admit(false, &cancel), "hello first");
	ck_assert_ptr_null(proto_admit(false, &hello));
	ck_assert_str_eq(proto_admit(true, &hello), "already said hello");
	ck_assert_ptr_null(proto_admit(true, &ping));
}
END_TEST

/* Feed bytes into a reader as read(2) would. */
static void
feed(struct proto_reader *r, const char *s, size_t n)
{
	size_t	 room;
	char	*p = proto_reader_space(r, &room);

	ck_assert_uint_ge(room, n);
	memcpy(p, s, n);
	proto_reader_added(r, n);
}

START_TEST(framing)
{
	struct proto_reader	 r;
	const char		*line;
	size_t			 len;

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
	struct proto_reader	 r;
	char			 buf[PROTO_LINE_MAX + 3];
	const char		*line;
	size_t			 len;

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
	ck_assert_int_eq(proto_next_line(&r, &line, &len),
	    PROTO_FRAME_TOOLONG);

	/* A full buffer without a newline is too long. */
	memset(buf, 'B', sizeof buf);
	proto_reader_init(&r);
	feed(&r, buf, PROTO_LINE_MAX + 2);
	ck_assert_int_eq(proto_next_line(&r, &line, &len),
	    PROTO_FRAME_TOOLONG);
}
END_TEST

START_TEST(format_error)
{
	char	 buf[64];

	ck_assert_int_eq(proto_format_error(buf, sizeof buf, "hello first"),
	    16);
	ck_assert_str_eq(buf, "ERR hello first\n");
	ck_assert_int_eq(proto_format_error(buf, 4, "hello first"), -1);
}
END_TEST

Suite *
proto_suite(void)
{
	Suite	*s = suite_create("proto");
	TCase	*tc = tcase_create("proto");

	tcase_add_test(tc, verbs);
	tcase_add_test(tc, errors);
	tcase_add_test(tc, admit);
	tcase_add_test(tc, framing);
	tcase_add_test(tc, line_limit);
	tcase_add_test(tc, format_error);
	suite_add_tcase(s, tc);
	return s;
}
