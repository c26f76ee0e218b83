/* SPDX-License-Identifier: ISC */
#ifndef DAZAI_PROTO_H
#define DAZAI_PROTO_H

#include <stdbool.h>
#include <stddef.h>

/*
 * The heartbeat line protocol, as pure functions: bytes in, commands out.
 * Nothing here touches a socket or a global, so the daemon, the unit tests
 * and the fuzzer all call the same code.
 */

#define PROTO_LINE_MAX	256	/* bytes of a line, without "\r\n" */

#define PROTO_WELCOME	"WELCOME\n"
#define PROTO_PONG	"PONG\n"
#define PROTO_CANCELLED	"CANCELLED\n"
#define PROTO_BYE	"BYE\n"
#define PROTO_BUSY	"BUSY\n"

enum proto_verb {
	PROTO_HELLO,
	PROTO_PING,
	PROTO_CANCEL,
	PROTO_QUIT,
};

struct proto_cmd {
	enum proto_verb	 verb;
	int		 pid;		/* HELLO only */
};

/* Line framer: bytes are appended at buf + len by the caller's read(2). */
struct proto_reader {
	char	 buf[PROTO_LINE_MAX + 2];
	size_t	 len;
	size_t	 consumed;	/* bytes of the last line handed out */
};

enum proto_frame {
	PROTO_FRAME_LINE,	/* a whole line is available */
	PROTO_FRAME_MORE,	/* need more bytes */
	PROTO_FRAME_TOOLONG,	/* the line exceeds PROTO_LINE_MAX */
};

void		 proto_reader_init(struct proto_reader *);
char		*proto_reader_space(struct proto_reader *, size_t *);
void		 proto_reader_added(struct proto_reader *, size_t);
enum proto_frame proto_next_line(struct proto_reader *, const char **,
		    size_t *);
const char	*proto_parse_line(const char *, size_t, struct proto_cmd *);
const char	*proto_admit(bool, const struct proto_cmd *);
int		 proto_format_error(char *, size_t, const char *);

#endif
