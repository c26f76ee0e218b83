/* SPDX-License-Identifier: ISC */
/*
 * The heartbeat table: who guards the secret now. Adding, ending,
 * draining before a BUSY, and listing; what an ending means is the
 * daemon's business.
 */
#include <string.h>

#include "dazai/conn.h"
#include "dazai/session.h"

/* An empty table for up to max heartbeats (1 if out of range). */
void
session_init(struct sessions *s, int max)
{
	memset(s, 0, sizeof *s);
	s->max = max >= 1 && max <= SESSION_MAX ? max : 1;
}

/* The slot of a heartbeat connection, or -1. */
int
session_of(const struct sessions *s, const struct conn *c)
{
	int i;

	for (i = 0; i < SESSION_MAX && c != NULL; i++)
		if (s->slot[i].c == c)
			return i;
	return -1;
}

/*
 * Is every session held? Before saying so, let every held heartbeat act
 * on what it already sent: one that quit or closed must not turn a
 * newcomer away because of the order of callbacks.
 */
bool
session_full(struct sessions *s)
{
	struct conn *held[SESSION_MAX];
	int	     i, n = 0, slot;

	if (s->n < s->max)
		return false;
	for (i = 0; i < SESSION_MAX; i++)
		if (s->slot[i].c != NULL)
			held[n++] = s->slot[i].c;
	for (i = 0; i < n; i++)
		if ((slot = session_of(s, held[i])) >= 0)
			conn_drain(&s->slot[slot].c);
	return s->n >= s->max;
}

/*
 * Take a WELCOMEd connection as a heartbeat (its HELLO said pid, at wall
 * clock now); NULL if the table is full.
 */
const struct session *
session_add(struct sessions *s, struct conn *c, int pid, long long now)
{
	int i;

	if (s->n >= s->max)
		return NULL;
	for (i = 0; s->slot[i].c != NULL; i++)
		;
	s->slot[i].c = c;
	s->slot[i].hello_pid = pid;
	s->slot[i].since = now;
	s->slot[i].id = ++s->seq;
	s->n++;
	return &s->slot[i];
}

/*
 * The heartbeat in slot leaves (lost: closed or silent, else QUIT); a
 * copy of it goes to *gone. Only the table's becoming empty matters to
 * the policy: by a loss it is a panic.
 */
enum session_left
session_end(struct sessions *s, int slot, bool lost, struct session *gone)
{
	*gone = s->slot[slot];
	s->slot[slot].c = NULL;
	s->n--;
	if (s->n > 0)
		return SESSION_OTHERS_LEFT;
	return lost ? SESSION_LAST_LOST : SESSION_LAST_QUIT;
}

/* The index-th live heartbeat, in slot order, or NULL. */
const struct session *
session_nth(const struct sessions *s, int index)
{
	int i, n = 0;

	for (i = 0; i < SESSION_MAX; i++)
		if (s->slot[i].c != NULL && n++ == index)
			return &s->slot[i];
	return NULL;
}
