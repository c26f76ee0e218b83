/* SPDX-License-Identifier: ISC */
#ifndef DAZAI_MCP_H
#define DAZAI_MCP_H

#include <stdbool.h>
#include <stddef.h>

#include "dazai/handover.h"

/*
 * dazai mcp: a Model Context Protocol server on standard input and
 * output. The framing (bytes in, lines out) and the dispatch (one
 * JSON-RPC line in, at most one reply line out) are pure: the daemon is
 * reached only through the injected mcp_ops, so the fuzzer and the unit
 * tests drive the same code the server runs, with no socket.
 */

#define MCP_LINE_MAX	 65536 /* bytes of one message, newline excluded */
#define MCP_PROTOCOL	 "2025-11-25" /* the revision we speak */
#define MCP_ERRLEN	 512
#define MCP_OUTPUT_MAX	 65536 /* bytes of a command tool's output kept */
#define MCP_ENV_MAX	 65536 /* a secret handed over in the environment */
#define MCP_CMDTOOLS_MAX 32    /* [tool NAME] sections */
#define MCP_NAME_MAX	 128   /* a tool name's bytes */
#define MCP_REDACTED	 "[redacted]"

/* JSON-RPC error codes. */
#define MCP_PARSE_ERROR	     (-32700)
#define MCP_INVALID_REQUEST  (-32600)
#define MCP_METHOD_NOT_FOUND (-32601)
#define MCP_INVALID_PARAMS   (-32602)

/* Line framer: the caller reads into mcp_reader_space. */
struct mcp_reader {
	char   buf[MCP_LINE_MAX + 1];
	size_t len;
	size_t consumed;   /* bytes of the last line handed out */
	bool   discarding; /* inside a line that was too long */
};

enum mcp_frame {
	MCP_FRAME_LINE,	   /* a whole line is available */
	MCP_FRAME_MORE,	   /* need more bytes */
	MCP_FRAME_TOOLONG, /* a line over MCP_LINE_MAX, being dropped */
};

/* A [tool NAME] section: a command that uses the secret unseen. */
#define MCP_SECRET_NAME_MAX 64 /* the daemon's name rule */

struct mcp_cmdtool {
	char  name[MCP_NAME_MAX + 1];
	char *description;
	char *command;			       /* run as /bin/sh -c */
	char  secret[MCP_SECRET_NAME_MAX + 1]; /* its name, "":
					   the daemon's default */
	enum mcp_secret_to {
		MCP_TO_STDIN, /* secret_to = stdin */
		MCP_TO_ENV,   /* env:VAR */
		MCP_TO_FIFO,  /* fifo:VAR */
	} to;
	char	  var[HANDOVER_VAR_MAX + 1]; /* env: and fifo:'s */
	double	  timeout;		     /* seconds */
	long long max_calls;		     /* 0: no limit */
	long long calls;		     /* made so far */
};

/* How a command tool's run ended. */
struct mcp_run {
	bool   failed; /* it could not run: err says why */
	char   err[MCP_ERRLEN];
	int    status;	  /* exit status, or -1 */
	int    signal;	  /* the signal that ended it, or 0 */
	bool   timed_out; /* killed at its timeout */
	bool   truncated; /* output over MCP_OUTPUT_MAX */
	char  *output;	  /* redacted, malloc'd, outlen bytes */
	size_t outlen;
	bool   burnt; /* its last call: the secret wiped */
};

/*
 * What the tools need of the daemon. Each returns 0, or -1 with err (no
 * daemon, a timeout): then the tool's result is an error.
 */
struct mcp_ops {
	/* One control request line, its reply line (NUL-terminated). */
	int (*request)(void *, const char *, char *, size_t, char *, size_t);
	/* SIGUSR2 to the daemon serving the socket. */
	int (*hard_panic)(void *, char *, size_t);
	/* Run command tool n; the result in the mcp_run. */
	void (*run)(void *, size_t, struct mcp_run *);
};

struct mcp_server {
	const struct mcp_ops	 *ops;
	void			 *arg;
	char			  version[16]; /* negotiated revision */
	bool			  initialized;
	const struct mcp_cmdtool *cmd; /* [tool NAME] sections */
	size_t			  ncmd;
};

void	       mcp_json_init(void);
void	       mcp_reader_init(struct mcp_reader *);
char	      *mcp_reader_space(struct mcp_reader *, size_t *);
void	       mcp_reader_added(struct mcp_reader *, size_t);
enum mcp_frame mcp_next_line(struct mcp_reader *, const char **, size_t *);
void   mcp_server_init(struct mcp_server *, const struct mcp_ops *, void *);
char  *mcp_handle(struct mcp_server *, const char *, size_t);
char  *mcp_error_line(int, const char *);
void   mcp_free(char *);
bool   mcp_tool_name_ok(const char *);
size_t mcp_redact(const unsigned char *, size_t, const unsigned char *, size_t,
    bool, char *, size_t);

int mcp_main(const char *, bool, int, char **);

#endif
