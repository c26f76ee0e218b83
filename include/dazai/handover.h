/* SPDX-License-Identifier: ISC */
#ifndef DAZAI_HANDOVER_H
#define DAZAI_HANDOVER_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>

#include "dazai/secbuf.h"

/*
 * Handing a secret over to a command that dazai started, the ways that
 * both dazai exec and dazai mcp's tools offer: in an environment variable
 * (the child reads it, its length first, into a locked buffer of its own
 * before execve(2)), or through a FIFO in a private 0700 directory whose
 * path is in a variable, served once. Failures return -1 (or NULL) with
 * errno; the caller names the object.
 */

#define HANDOVER_VAR_MAX 128 /* bytes of a variable's name */

/* One FIFO, served once: unlinked when a reader opens it. */
struct handover_fifo {
	char   path[PATH_MAX]; /* "" once unlinked, or never made */
	int    fd;	       /* open for writing, or -1 */
	size_t off;	       /* bytes of the secret written */
	bool   done;	       /* served, or given up */
};

bool  handover_var_ok(const char *, size_t);
int   handover_env_send(int, const struct secbuf *);
char *handover_env_entry(int, const char *, size_t, struct secbuf *);
int   handover_dir_make(char *, size_t, const char *);
int   handover_dir_remove(char *);
int   handover_fifo_make(struct handover_fifo *, const char *, const char *);
int   handover_fifo_serve(struct handover_fifo *, const struct secbuf *);
void  handover_fifo_finish(struct handover_fifo *);

#endif
