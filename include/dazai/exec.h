/* SPDX-License-Identifier: ISC */
#ifndef DAZAI_EXEC_H
#define DAZAI_EXEC_H

#include <stdbool.h>

#include "dazai/client.h"
#include "dazai/secbuf.h"

/*
 * dazai exec: run a command with secrets on pipes, in its environment or
 * through FIFOs, the command registered with the daemon before any secret
 * is fetched. The exchanges
 * it shares with dazai's other commands come in as callbacks; each
 * returns 0, or the exit status after saying what went wrong.
 */
struct exec_ctx {
	const char *path;	/* the daemon's socket */
	bool	    is_default; /* path is the default location */
	int (*connect)(const struct exec_ctx *, struct client *);
	int (*request)(struct client *, const char *,
	    const char *); /* answered OK */
	int (*fetch)(struct client *, const char *,
	    struct secbuf *); /* GET [NAME] into the buffer
						   (NULL: the default) */
};

int exec_run(const struct exec_ctx *, int, char **);

#endif
