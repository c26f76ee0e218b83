/* SPDX-License-Identifier: ISC */
#ifndef DAZAI_SESSION_H
#define DAZAI_SESSION_H

#include <stdbool.h>

#include "dazai/conn.h"

/*
 * The table of live heartbeats: connections that were WELCOMEd, up to a
 * limit (--sessions). It decides nothing about panics: session_end says
 * what a departure left behind, and the daemon acts on it.
 */

#define SESSION_MAX 64 /* heartbeats at once (--sessions) */

/* One live heartbeat. */
struct session {
	struct conn  *c;	 /* NULL: a free slot */
	int	      hello_pid; /* what it said in HELLO */
	long long     since;	 /* wall clock, for SESSION only */
	unsigned long id;	 /* for the policy: never reused */
};

struct sessions {
	struct session slot[SESSION_MAX];
	int	       n;   /* live heartbeats */
	int	       max; /* 1 to SESSION_MAX */
	unsigned long  seq; /* the last heartbeat's id */
};

/* What a heartbeat's departure left. */
enum session_left {
	SESSION_OTHERS_LEFT, /* others still guard */
	SESSION_LAST_LOST,   /* the last one, lost: a panic */
	SESSION_LAST_QUIT    /* the last one stood down */
};

void		      session_init(struct sessions *, int);
int		      session_of(const struct sessions *, const struct conn *);
bool		      session_full(struct sessions *);
const struct session *session_add(struct sessions *, struct conn *, int,
    long long);
enum session_left session_end(struct sessions *, int, bool, struct session *);
const struct session *session_nth(const struct sessions *, int);

#endif
