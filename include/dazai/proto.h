/* SPDX-License-Identifier: ISC */
#ifndef DAZAI_PROTO_H
#define DAZAI_PROTO_H

#include <stdbool.h>
#include <stddef.h>

/*
 * The line protocol, heartbeat and control verbs, as pure functions: bytes
 * in, commands out, replies formatted. Nothing here touches a socket or a
 * global, so the daemon, the unit tests and the fuzzer all call the same
 * code.
 */

#define PROTO_LINE_MAX	   256	     /* bytes of a line, without "\r\n" */
#define PROTO_REPLY_MAX	   512	     /* longest reply line, STATUS included */
#define PROTO_NAME_MAX	   64	     /* bytes of a secret's name */
#define PROTO_NAME_DEFAULT "default" /* the secret a verb names by none */
#define PROTO_ENTRY_MAX	   1000	     /* ENTRY's index is below this */

#define PROTO_WELCOME	    "WELCOME\n"
#define PROTO_PONG	    "PONG\n"
#define PROTO_CANCELLED	    "CANCELLED\n"
#define PROTO_BYE	    "BYE\n"
#define PROTO_BUSY	    "BUSY\n"
#define PROTO_OK	    "OK\n"
#define PROTO_ALREADY_ARMED "ALREADY_ARMED\n"
#define PROTO_INVALID_PID   "ERROR invalid pid\n"

enum proto_verb {
	PROTO_HELLO, /* heartbeat verbs */
	PROTO_PING,
	PROTO_CANCEL,
	PROTO_QUIT,
	PROTO_STATUS, /* control verbs (PING and QUIT too) */
	PROTO_REGISTER,
	PROTO_UNREGISTER,
	PROTO_ARM,
	PROTO_LOAD,
	PROTO_GET,
	PROTO_WIPE,
	PROTO_PANIC,
	PROTO_SESSION,	/* dazai's own: one heartbeat's details */
	PROTO_ACTION,	/* one configured panic or wipe action */
	PROTO_REHEARSE, /* run every action now (a rehearsal) */
	PROTO_RESULT,	/* how a rehearsed action ended */
	PROTO_ENTRY,	/* dazai's own: one held secret's details */
};

/* What a connection is; its first admitted verb decides. */
enum proto_kind {
	PROTO_KIND_NEW,	      /* nothing admitted yet */
	PROTO_KIND_HEARTBEAT, /* said HELLO */
	PROTO_KIND_CONTROL,   /* said anything else */
};

struct proto_cmd {
	enum proto_verb verb;
	int		pid; /* HELLO; REGISTER, UNREGISTER (0: invalid) */
	size_t		len; /* LOAD: bytes that follow the line;
				   SESSION, ACTION, RESULT: which one,
				   from 0; ENTRY: which secret, from 0 */
	char		name[PROTO_NAME_MAX + 1]; /* LOAD, GET, WIPE: the
				   secret's (PROTO_NAME_DEFAULT if none) */
	bool		named; /* WIPE: a name was given (else: all) */
};

/* What ACTION reports of one configured action. */
struct proto_action {
	int	    index;
	const char *on;	     /* "panic" or "wipe" */
	const char *command; /* last: the rest of the line */
};

/* What RESULT reports of one rehearsed action. */
struct proto_result {
	int	    index;
	bool	    done;	 /* false: still to run, or running */
	int	    status;	 /* exit status, 128 + signal, -1 */
	bool	    timed_out;	 /* action_timeout killed it */
	const char *stderr_line; /* last: its stderr's last line */
};


/* What ENTRY reports of one held secret (never a byte of it). */
struct proto_entry {
	int	      index;
	const char   *name;
	size_t	      bytes;
	unsigned long reads;
	double	      expires; /* seconds to its nearest limit, < 0 */
};

/* What SESSION reports of one live heartbeat. */
struct proto_session {
	int	  index;
	int	  hello_pid; /* the pid it said in HELLO */
	int	  peer_pid;  /* SO_PEERCRED */
	long long since;     /* wall clock, seconds since 1970 */
	double	  idle;	     /* seconds since its last line */
};

/* What STATUS reports. */
struct proto_status {
	bool	      armed;
	double	      grace; /* seconds */
	int	      registered;
	const char   *state;	/* empty, guarding, waiting, ... */
	int	      sessions; /* live heartbeats */
	size_t	      secret_bytes;
	const char   *protections; /* space or comma separated */
	double	      deadline;	   /* seconds left in grace, < 0: none */
	double	      expires;	   /* seconds to a lifetime limit, < 0 */
	unsigned long reads;
	const char   *sandbox;	 /* layers in effect, or "off" */
	const char   *warden;	 /* up, down or off */
	int	      actions;	 /* panic and wipe actions configured */
	int	      secrets;	 /* how many secrets are held */
	const char   *hibernate; /* blocked (memfd_secret) or possible */
	const char   *sleep;	 /* keep, wipe, panic or unavailable */
};

/* Line framer: bytes are appended at buf + len by the caller's read(2). */
struct proto_reader {
	char   buf[PROTO_LINE_MAX + 2];
	size_t len;
	size_t consumed; /* bytes of the last line handed out */
};

enum proto_frame {
	PROTO_FRAME_LINE,    /* a whole line is available */
	PROTO_FRAME_MORE,    /* need more bytes */
	PROTO_FRAME_TOOLONG, /* the line exceeds PROTO_LINE_MAX */
};

void   proto_reader_init(struct proto_reader *);
char  *proto_reader_space(struct proto_reader *, size_t *);
size_t proto_reader_safe(const struct proto_reader *);
char  *proto_reader_next(struct proto_reader *, enum proto_kind, size_t *);
bool   proto_line_may_load(const char *, size_t);
size_t proto_reader_pending(const struct proto_reader *);
void   proto_reader_added(struct proto_reader *, size_t);
enum proto_frame proto_next_line(struct proto_reader *, const char **,
    size_t *);
const char	*proto_parse_line(const char *, size_t, struct proto_cmd *);
const char	*proto_admit(enum proto_kind, const struct proto_cmd *);
bool		 proto_name_valid(const char *, size_t);
int		 proto_format_entry(char *, size_t, const struct proto_entry *);
int		 proto_format_error(char *, size_t, const char *);
int proto_format_session(char *, size_t, const struct proto_session *);
int proto_format_action(char *, size_t, const struct proto_action *);
int proto_format_result(char *, size_t, const struct proto_result *);
int proto_format_status(char *, size_t, const struct proto_status *);
int proto_format_secret(char *, size_t, size_t);

#endif
