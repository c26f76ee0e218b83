/* SPDX-License-Identifier: ISC */
#ifndef DAZAI_CLIENT_H
#define DAZAI_CLIENT_H

#include <stdbool.h>
#include <stddef.h>

#include "dazai/secbuf.h"

/*
 * A control or heartbeat connection to dazaid, from the client's side:
 * requests out, replies in, every read bounded in length, each request
 * (the connect with the first) bounded by one deadline, and
 * the reply lines parsed by pure functions (no I/O) that the unit tests
 * drive directly. Nothing the daemon sends is trusted to be well formed.
 */

#define CLIENT_REPLY_MAX   1024 /* longest reply line accepted */
#define CLIENT_ACTIONS_MAX 32	/* panic and wipe actions listed */
#define CLIENT_TIMEOUT_MS \
	10000		     /* for a whole request, connect and
					 * secret bytes included */
#define CLIENT_FIELDS_MAX 32 /* key=value fields in a STATUS */
#define CLIENT_ERRLEN	  512

/* dazai's exit statuses (dazai(1), EXIT STATUS). */
#define CLIENT_EXIT_REFUSED  1 /* refused, failed or too slow */
#define CLIENT_EXIT_USAGE    2
#define CLIENT_EXIT_NODAEMON 4
#define CLIENT_EXIT_NOEXEC   126 /* exec: CMD is not executable */
#define CLIENT_EXIT_NOTFOUND 127 /* exec: CMD is not found */

struct client {
	int	  fd;
	int	  timeout_ms; /* CLIENT_TIMEOUT_MS or DAZAI_TIMEOUT */
	long long deadline;   /* the request's end, CLOCK_MONOTONIC
					 * milliseconds */
	bool	  fresh;      /* the connect's deadline still runs */
};

/* One held secret as ENTRY reports it: never a byte of it. */
struct client_entry {
	int		   index;
	const char	  *name; /* points into the line */
	unsigned long long bytes;
	unsigned long long reads;
	long long	   expires; /* seconds, or -1: no limit */
};

/* What a reply line says. */
enum client_reply {
	CLIENT_OK,	   /* OK */
	CLIENT_REFUSED,	   /* ERR, ERROR or BUSY, with a reason */
	CLIENT_ALREADY,	   /* ALREADY_ARMED */
	CLIENT_UNEXPECTED, /* anything else */
};

/* How a cancel exchange ended. */
enum client_cancel_result {
	CLIENT_CANCEL_DONE,	/* CANCEL answered (cc->reply), QUIT done */
	CLIENT_CANCEL_NODAEMON, /* could not connect; errno as client_open */
	CLIENT_CANCEL_BUSY,	/* HELLO got BUSY: every session is held */
	CLIENT_CANCEL_FAILED,	/* anything else; err says what */
};

/* What a cancel exchange found. */
struct client_cancel {
	char reply[CLIENT_REPLY_MAX + 1]; /* the reply to CANCEL */
	bool cancelled;			  /* it was CANCELLED */
	bool none_pending;		  /* it was ERR no pending panic */
	bool unguarded; /* cancelled, and STATUS counts no heartbeat
				 * left (or cannot say) */
};

/*
 * A parsed STATUS or SESSION line: keys and values point into the
 * caller's line.
 */
struct client_status {
	size_t	    n;
	const char *key[CLIENT_FIELDS_MAX];
	const char *value[CLIENT_FIELDS_MAX];
};

int  client_open(struct client *, const char *, bool, char *, size_t);
void client_close(struct client *);
int  client_send(struct client *, const void *, size_t, char *, size_t);
int  client_read_line(struct client *, char *, size_t, char *, size_t);
int  client_request(struct client *, const char *, char *, size_t, char *,
     size_t);
int  client_read_secret(struct client *, struct secbuf *, size_t, char *,
     size_t);
enum client_cancel_result client_cancel(const char *, bool,
    struct client_cancel *, char *, size_t);
int client_load(struct client *, const struct secbuf *, const char *, char *,
    size_t, char *, size_t);

enum client_reply client_classify(const char *, const char **);
int		  client_parse_secret(const char *, size_t *, char *, size_t);
int client_parse_status(char *, struct client_status *, char *, size_t);
int client_parse_tail(char *, const char *, const char *,
    struct client_status *, const char **, char *, size_t);
int client_parse_session(char *, struct client_status *, char *, size_t);
int client_parse_entry(char *, struct client_entry *, char *, size_t);
const char *client_status_get(const struct client_status *, const char *);
int	    client_status_json(const struct client_status *, char *, size_t);
int	    client_status_text(const struct client_status *, char *, size_t);
void	    client_printable(const char *, char *, size_t);

#endif
