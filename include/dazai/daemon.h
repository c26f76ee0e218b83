/* SPDX-License-Identifier: ISC */
#ifndef DAZAI_DAEMON_H
#define DAZAI_DAEMON_H

#include <stdbool.h>

#include <ev.h>

#include "dazai/conn.h"
#include "dazai/control.h"
#include "dazai/policy.h"
#include "dazai/procs.h"
#include "dazai/proto.h"
#include "dazai/secmem.h"
#include "dazai/session.h"
#include "dazai/sockpath.h"
#include "dazai/vault.h"
#include "dazai/warden.h"

#define DAEMON_ACCEPT_BACKOFF 1.0 /* seconds after EMFILE */
#define DAEMON_NEW_MAX	      16  /* connections yet to say a verb */
#define DAEMON_NSIGNALS	      4	  /* USR1, TERM, INT, HUP */

/* What the control verbs may do with the secret. */
struct daemon_limits {
	size_t	      secret_max; /* largest LOAD */
	bool	      allow_get;
	double	      max_lifetime; /* seconds, 0: off */
	double	      idle_timeout; /* seconds, 0: off */
	unsigned long max_reads;    /* 0: off */
	int	      sessions;	    /* heartbeats at once, 1 to 64 */
	int	      secrets_max;  /* secrets held at once, 1 to 64 */
};

struct daemon {
	struct ev_loop *loop;
	const char     *socket_path;
	int		listen_fd;
	struct policy	policy;
	struct vault	vault;	 /* the secret */
	struct control	control; /* the verbs */
	struct conn_ops conn_ops;
	struct conn_set conns;	  /* every open connection */
	struct sessions sessions; /* the live heartbeats */
	const char     *trigger;  /* the event's reason, not yet logged */
	char		reason[WARDEN_TEXT_MAX]; /* what started the panic */
	struct warden  *warden;			 /* NULL: none */
	ev_io		warden_w; /* the warden's end of the socketpair */
	bool		stopping; /* shut down or dry-run panic done */
	ev_io		accept_w;
	ev_timer	backoff_w;
	struct btimer	grace_w;		   /* CLOCK_BOOTTIME */
	ev_signal	signal_w[DAEMON_NSIGNALS]; /* through the loop */
};

int  daemon_init(struct daemon *, double, double);
void daemon_set_limits(struct daemon *, const struct daemon_limits *);
void daemon_set_warden(struct daemon *, struct warden *);
enum vault_start_end daemon_load_secret(struct daemon *, struct secmem *,
    const struct vault_start *, vault_source_done *, void *);
void		     daemon_set_listener(struct daemon *, int, const char *);
void		     daemon_serve(struct daemon *);
bool		     daemon_stopping(const struct daemon *);
void		     daemon_stop(struct daemon *);
int		     daemon_run(struct daemon *);
void		     daemon_finish(struct daemon *);

#endif
