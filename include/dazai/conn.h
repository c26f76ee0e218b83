/* SPDX-License-Identifier: ISC */
#ifndef DAZAI_CONN_H
#define DAZAI_CONN_H

#include <stdbool.h>
#include <limits.h>
#include <stddef.h>

#include <ev.h>

#include "dazai/proto.h"
#include "dazai/secmem.h"

/*
 * One connection's life: framing, its kind (decided by its first verb),
 * its deadlines, its output queue, and the raw bytes of LOAD and GET,
 * which go between the socket and the secure buffer and nowhere else.
 * What a command means is the owner's business (struct conn_ops): the
 * connection only reports, and does what it is told.
 */

#define CONN_HELLO_TIMEOUT 5.0	/* seconds to send a first line */
#define CONN_IDLE_TIMEOUT  30.0 /* seconds a control conn may idle */
#define CONN_OUT_MAX	   512	/* reply bytes waiting for the peer */
#define CONN_WHO_MAX	   (PATH_MAX + 64) /* a peer's name */

struct conn;

/* What a connection reports to its owner. */
struct conn_ops {
	/*
	 * A command that parsed and is allowed on this connection's kind
	 * (proto_admit); the owner acts and replies. Returns false once the
	 * connection has been closed.
	 */
	bool (*command)(void *, struct conn *, const struct proto_cmd *);
	/* The connection is being freed; lost: a heartbeat was lost. */
	void (*closed)(void *, struct conn *, bool, const char *);
	/* A LOAD ended: committed (true) or aborted, all of it wiped. */
	void (*loaded)(void *, struct conn *, bool, const char *);
	/* A GET ended: every byte written (true) or not. */
	void (*sent)(void *, struct conn *, bool);
	void *arg;
};

struct conn {
	const struct conn_ops *ops;
	struct ev_loop	      *loop;
	int		       fd;
	int		       peer_pid; /* from SO_PEERCRED */
	char		      *who;	 /* conn_who's, or NULL */
	bool		       confined; /* when it was accepted */
	enum proto_kind	       kind;
	bool		       quitting;     /* close once out is sent */
	bool		       mute;	     /* peer takes no replies */
	const char	      *final;	     /* the reply before closing */
	int		       stall_seen;   /* unread input bytes */
	double		       ping_timeout; /* heartbeat; 0 = off */
	double		       last_line;    /* monotonic, for SESSION */
	ev_io		       read_w;
	ev_io		       write_w;	   /* while output waits */
	ev_timer	       deadline_w; /* first line, idle, or BYE */
	ev_timer	       ping_w;
	struct proto_reader    rd;
	struct secmem	      *load_sm; /* LOAD in progress */
	size_t		       load_left;
	bool		       load_replaced; /* it wiped a held one */
	struct secmem	      *get_sm;	      /* GET in progress */
	struct secmem	      *sent_sm;	      /* the one ops->sent is about */
	size_t		       get_off;
	size_t		       outlen;
	char		       out[CONN_OUT_MAX];
};

/* Every open connection, for its owner. */
#define CONN_SET_MAX 128 /* closing ones included */
struct conn_set {
	struct conn *c[CONN_SET_MAX];
};

struct conn *conn_new(struct ev_loop *, int, int, bool,
    const struct conn_ops *);
bool	     conn_set_add(struct conn_set *, struct conn *);
void	     conn_set_remove(struct conn_set *, const struct conn *);
bool	     conn_set_full(const struct conn_set *);
int	     conn_set_count(const struct conn_set *, enum proto_kind);
void conn_set_cancel(struct conn_set *, const struct secmem *, const char *);
void conn_set_close(struct conn_set *);
void conn_refuse(int, const char *);
const char *conn_who(struct conn *);
bool	    conn_send(struct conn *, const char *);
bool	    conn_error(struct conn *, const char *);
bool	    conn_welcome(struct conn *, double);
void	    conn_control(struct conn *);
bool	    conn_finish(struct conn *, const char *);
bool	    conn_load(struct conn *, struct secmem *, size_t, bool);
bool	    conn_get(struct conn *, struct secmem *);
bool	    conn_streaming(const struct conn *);
bool	    conn_streaming_of(const struct conn *, const struct secmem *);
void	    conn_drain(struct conn **);
void	    conn_cancel(struct conn *, const char *);
void	    conn_close(struct conn *, bool, const char *);

#endif
