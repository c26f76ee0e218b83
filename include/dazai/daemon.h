/* SPDX-License-Identifier: ISC */
#ifndef DAZAI_DAEMON_H
#define DAZAI_DAEMON_H

#include <stdbool.h>

#include <ev.h>

#include "dazai/policy.h"
#include "dazai/proto.h"
#include "dazai/secmem.h"
#include "dazai/sockpath.h"

#define DAEMON_HELLO_TIMEOUT	5.0	/* seconds to say HELLO */
#define DAEMON_ACCEPT_BACKOFF	1.0	/* seconds after EMFILE */
#define DAEMON_OUT_MAX		128	/* replies waiting for the peer */

struct daemon;

/* The one client connection. */
struct client {
	struct daemon		*d;
	int			 fd;
	bool			 hello;		/* became the heartbeat */
	int			 peer_pid;	/* from SO_PEERCRED */
	bool			 quitting;	/* close once out is sent */
	bool			 mute;		/* peer takes no replies */
	int			 stall_seen;	/* unread input bytes */
	ev_io			 read_w;
	ev_io			 write_w;	/* while out holds bytes */
	ev_timer		 hello_w;	/* HELLO, then BYE deadline */
	ev_timer		 ping_w;
	struct proto_reader	 rd;
	size_t			 outlen;
	char			 out[DAEMON_OUT_MAX];
};

struct daemon {
	struct ev_loop	*loop;
	bool		 armed;
	double		 grace;
	double		 ping_timeout;
	const char	*socket_path;
	int		 listen_fd;
	struct secmem	*secret;
	struct policy	 policy;
	struct client	*client;
	int		 exit_status;
	bool		 stopping;	/* shut down or dry-run panic done */
	ev_io		 accept_w;
	ev_timer	 backoff_w;
	ev_timer	 grace_w;
	ev_signal	 sigusr1_w;
	ev_signal	 sigterm_w;
	ev_signal	 sigint_w;
	ev_signal	 sighup_w;
};

void	daemon_install_hard_signals(bool);
void	daemon_set_hard_socket(const char *);
int	daemon_init(struct daemon *, bool, double, double);
void	daemon_set_secret(struct daemon *, struct secmem *);
bool	daemon_wait_readable(void *, int);
int	daemon_run(struct daemon *, int, const char *);
void	daemon_finish(struct daemon *);

#endif
