/* SPDX-License-Identifier: ISC */
#ifndef DAZAI_WARDEN_H
#define DAZAI_WARDEN_H

#include <sys/types.h>

#include <stdbool.h>
#include <stdint.h>

#include "dazai/config.h"

/*
 * The warden: a small secret-free process dazaid forks at start, before
 * any secret byte exists and before confinement, so that it never holds
 * a secure mapping. It runs the user's panic actions (on_panic, on_wipe)
 * and, when dazaid dies without having said "clean shutdown" (SIGKILL,
 * the OOM killer), SIGKILLs the registered processes through the pidfds
 * it was handed and runs the panic actions itself.
 *
 * The warden is non-dumpable, ignores SIGINT, SIGTERM, SIGHUP, SIGQUIT,
 * SIGTSTP, SIGTTIN, SIGTTOU and SIGPIPE, keeps no descriptor but its end
 * of the socketpair, stderr (its lines start "dazaid: warden: ") and a
 * pidfd of the daemon, never reads a client, and acts only on what comes
 * over the socketpair. Before a panic's first action it waits (250 ms at
 * most) for the daemon to be gone, so no action competes with its exit.
 *
 * The socketpair is SOCK_SEQPACKET: each message is one struct
 * warden_msg of exactly sizeof (struct warden_msg) bytes, so a record
 * never arrives in pieces and one write(2) sends one.
 *
 *   daemon -> warden
 *	PANIC	 text = reason. Dry-run: WOULD RUN each on_panic command;
 *		 armed: run them. Then the warden exits.
 *	WIPE	 text = reason. The same with the on_wipe commands; the
 *		 warden stays.
 *	CLEAN	 clean shutdown (SIGTERM, SIGINT): run nothing, exit.
 *	REHEARSE run every on_panic, then every on_wipe command now, armed
 *		 or not, with DAZAI_REASON=rehearsal, answering one RESULT
 *		 per command and then DONE.
 *	REGISTER pid, with a pidfd of that process as SCM_RIGHTS.
 *	UNREGISTER pid: the warden closes that pidfd.
 *	ARM	 the SIGKILLs and the actions are real from now on.
 *	PEER	 pid, with a pidfd of a client that connected to a confined
 *		 daemon: the warden logs its executable.
 *	SLEPT	 the before-sleep wipe asked for by SLEEPING is done (status
 *		 0, or -1: it failed); the warden lets the machine sleep.
 *   warden -> daemon
 *	RESULT	 pid = the command's index (on_panic first, then on_wipe),
 *		 status = its wait status (-1: it could not be started),
 *		 flags = WARDEN_TIMED_OUT if the timeout killed it,
 *		 text = the last line of its stderr.
 *	DONE	 pid = how many commands were run.
 *	READY	 sent once at start, when the warden holds none of the
 *		 daemon's descriptors any more; warden_start waits for it.
 *	SLEEP	 with on_sleep wipe or panic: status 1 once logind's delay
 *		 lock is held (sleep is watched), 0 when it cannot be (no
 *		 bus, no logind, the bus lost; text = why).
 *	SLEEPING the machine is about to sleep (PrepareForSleep(true)):
 *		 status = the on_sleep mode to carry out now. After a wipe
 *		 the daemon answers SLEPT (its WIPE record first, so the
 *		 on_wipe actions run before the lock goes); after a panic
 *		 its PANIC record or its end is the answer. Without an
 *		 answer within WARDEN_SLEEP_MS the lock is let go anyway.
 *
 * Sleep (on_sleep = wipe or panic) is the warden's because it needs the
 * system bus: it holds a logind delay inhibitor lock (logind.h), asks the
 * daemon at PrepareForSleep(true) and lets the lock go once answered, and
 * takes a new one at PrepareForSleep(false).
 *
 * The socketpair's end (EOF) without CLEAN first is a panic: the warden
 * SIGKILLs (armed) every registered process it holds (dry-run: logs
 * WOULD SIGKILL pid N), runs the panic actions and exits. An action runs
 * as /bin/sh -c COMMAND in its own process group, with the warden's
 * environment plus DAZAI_REASON and DAZAI_SOCKET, stdin and stdout on
 * /dev/null and stderr on a pipe whose last line is logged with the exit
 * status. When the shell exits, or action_timeout after it started, its
 * whole process group is SIGKILLed; then the next command runs.
 *
 * Wiring: main starts the warden once the socket listens, before the
 * secret is loaded, and calls warden_shutdown on every exit that is not a
 * panic; the daemon tells it of ARM, every registration, every panic
 * (after the wipe and the kills), WIPE and expiry, asks it to rehearse,
 * and watches warden_fd. Every other end of dazaid (an armed panic's
 * SIGKILL, SIGUSR2, a fatal signal, a seccomp trap, kill -9) reaches the
 * warden as the socketpair's end.
 */

#define WARDEN_TEXT_MAX	 112 /* text bytes, NUL included */
#define WARDEN_PROCS_MAX 64  /* pidfds held at once */
#define WARDEN_TIMED_OUT 0x1 /* RESULT flags */

enum warden_msg_type {
	WARDEN_MSG_PANIC = 1,
	WARDEN_MSG_WIPE,
	WARDEN_MSG_CLEAN,
	WARDEN_MSG_REHEARSE,
	WARDEN_MSG_REGISTER,
	WARDEN_MSG_UNREGISTER,
	WARDEN_MSG_ARM,
	WARDEN_MSG_RESULT,
	WARDEN_MSG_DONE,
	WARDEN_MSG_READY,
	WARDEN_MSG_PEER,
	WARDEN_MSG_SLEEP,
	WARDEN_MSG_SLEEPING,
	WARDEN_MSG_SLEPT,
};

/* One record on the socketpair (128 bytes). */
struct warden_msg {
	uint32_t type; /* enum warden_msg_type */
	int32_t	 pid;
	int32_t	 status;
	uint32_t flags;
	char	 text[WARDEN_TEXT_MAX];
};

/* What the warden is started with; the strings are copied by fork. */
struct warden_config {
	const char *const *on_panic; /* commands, in order */
	int		   n_panic;
	const char *const *on_wipe;
	int		   n_wipe;
	double		   timeout; /* action_timeout, seconds */
	const char	  *socket;  /* DAZAI_SOCKET */
	bool		   armed;
	bool		   verbose;
	int		   on_sleep; /* enum config_sleep */
};

#define WARDEN_ACTIONS_MAX 32 /* on_panic and on_wipe together */

/* How one rehearsed action ended (RESULT), on the daemon's side. */
struct warden_result {
	bool done;
	int  status; /* wait status, -1: could not start */
	bool timed_out;
	char text[WARDEN_TEXT_MAX]; /* its stderr's last line */
};

/* The daemon's side. */
struct warden {
	pid_t			    pid;  /* the warden, 0 if never started */
	int			    fd;	  /* our end, -1 once closed */
	bool			    down; /* it died (or was never started) */
	const struct warden_config *cfg;  /* the caller's, for ACTION */
	bool		     rehearsing;  /* RESULT records still to come */
	struct warden_result res[WARDEN_ACTIONS_MAX];
	bool		     sleep_watched; /* SLEEP said the lock is held */
};

enum warden_read_result {
	WARDEN_READ_DOWN = -1, /* EOF: the warden is gone */
	WARDEN_READ_NONE = 0,  /* nothing to read now */
	WARDEN_READ_MSG = 1,   /* one record in *msg */
};

/*
 * Start the warden. Call it before any secure mapping exists, before
 * confinement and before any thread starts. Returns 0, or -1 with errno
 * (nothing started). Records the descriptor for warden_panic_signal.
 */
int warden_start(struct warden *, const struct warden_config *);

/*
 * The daemon's requests: 0 once the record is sent, -1 with errno (the
 * warden is down). warden_register hands over a duplicate of pidfd (the
 * caller keeps its own); call it for each REGISTER, and warden_unregister
 * when the registration ends. warden_panic is for graceful panics, once
 * the secret is unrecoverable and the registered processes are killed.
 * They use send(2) (sendto), warden_register sendmsg(2): a confined
 * daemon's allowlist needs sendmsg for it.
 */
int  warden_panic(struct warden *, const char *);
int  warden_wipe(struct warden *, const char *);
int  warden_rehearse(struct warden *);
int  warden_arm(struct warden *);
int  warden_register(struct warden *, pid_t, int);
void warden_hand_over(struct warden *, pid_t, int);
void warden_name_peer(struct warden *, pid_t);
int  warden_unregister(struct warden *, pid_t);
int  warden_slept(struct warden *, int);

/*
 * The hard paths' notice (SIGUSR2, fatal signals, the SIGSYS trap), from
 * a signal handler: one send(2) of one constant-size PANIC record on the
 * descriptor warden_start kept in a static. Async-signal-safe; does
 * nothing without a warden. reason must be a constant string.
 */
void warden_panic_signal(const char *);

/*
 * Learning that the warden died: put warden_fd in the loop (EV_READ) and
 * call warden_read until it answers WARDEN_READ_NONE. WARDEN_READ_DOWN
 * means the warden is gone (w->down is set, its descriptor closed): log
 * it, show warden=down and treat it as a lost guard (a graceful panic).
 * RESULT and DONE records come back as WARDEN_READ_MSG. warden_read never
 * blocks. warden_status_name gives "up", "down" or "off" for STATUS.
 */
int warden_fd(const struct warden *);

/*
 * For `dazai actions`: how many actions are configured, the i-th (on
 * "panic" or "wipe", on_panic first), a rehearsal started (NULL, or why
 * not: the warden down, one under way) and how the i-th rehearsed action
 * ended (the records warden_read takes fill it in). cfg must outlive the
 * warden.
 */
int  warden_actions(const struct warden *);
bool warden_action(const struct warden *, int, const char **, const char **);
const char *warden_start_rehearsal(struct warden *);
bool	    warden_result(const struct warden *, int, bool *, int *, bool *,
	   const char **);
int	    warden_read(struct warden *, struct warden_msg *);
const char *warden_status_name(const struct warden *);

/*
 * STATUS's sleep=: keep; wipe or panic while the warden holds logind's
 * delay lock; unavailable when it does not (yet, or any more: no bus, no
 * logind, the warden down).
 */
const char *warden_sleep_name(const struct warden *);

/*
 * Clean shutdown (SIGTERM, SIGINT, a start-up failure): tell the warden
 * to run nothing, wait up to a second for it to leave (read(2) and
 * poll(2) only, so it works confined), close our end.
 */
void warden_shutdown(struct warden *);

#endif
