/* SPDX-License-Identifier: ISC */
/*
 * The warden: the secret-free companion process that runs the panic
 * actions and acts on the daemon's death (see warden.h for the protocol).
 * The first half is the daemon's side; the second runs in the warden.
 */
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "dazai/log.h"
#include "dazai/logind.h"
#include "dazai/pidfd.h"
#include "dazai/warden.h"

#define WARDEN_FD	   3	/* the warden's end, in the warden */
#define WARDEN_LINE_MAX	   200	/* an action's stderr line, logged */
#define WARDEN_SHUTDOWN_MS 1000 /* warden_shutdown's wait */
#define WARDEN_READY_MS	   5000 /* warden_start's wait */
#define WARDEN_DEATH_MS	   250	/* a panic's wait for the daemon */
#define WARDEN_SLEEP_MS \
	4000 /* SLEEPING's wait for SLEPT (under
					   logind's 5 s InhibitDelayMaxSec) */

/* The daemon's end, for warden_panic_signal. */
static volatile int warden_async_fd = -1;

/* Copy a reason into a record's text, cut to fit. Async-signal-safe. */
static void
warden_msg_init(struct warden_msg *m, enum warden_msg_type type,
    const char *text)
{
	size_t i;
	char  *p = (char *)m;

	for (i = 0; i < sizeof *m; i++)
		p[i] = 0;
	m->type = (uint32_t)type;
	for (i = 0; text != NULL && text[i] != '\0' && i < sizeof m->text - 1;
	     i++)
		m->text[i] = text[i];
}

/* Send one record without descriptors (send(2): no SIGPIPE). */
static int
warden_send(struct warden *w, const struct warden_msg *m)
{
	ssize_t n;

	if (w->fd < 0) {
		errno = EPIPE;
		return -1;
	}
	do
		n = send(w->fd, m, sizeof *m, MSG_NOSIGNAL);
	while (n < 0 && errno == EINTR);
	if (n != (ssize_t)sizeof *m) {
		if (n >= 0)
			errno = EMSGSIZE;
		return -1;
	}
	return 0;
}

/* Send a record of this type with this text. */
static int
warden_request(struct warden *w, enum warden_msg_type type, const char *text)
{
	struct warden_msg m;

	warden_msg_init(&m, type, text);
	return warden_send(w, &m);
}

/* A graceful panic, after the wipe and the kills: run on_panic. */
int
warden_panic(struct warden *w, const char *reason)
{
	return warden_request(w, WARDEN_MSG_PANIC, reason);
}

/* A WIPE or an expiry: run on_wipe. */
int
warden_wipe(struct warden *w, const char *reason)
{
	return warden_request(w, WARDEN_MSG_WIPE, reason);
}

/* Run every action now, for a rehearsal; RESULTs and DONE follow. */
int
warden_rehearse(struct warden *w)
{
	return warden_request(w, WARDEN_MSG_REHEARSE, NULL);
}

/* The daemon was armed: the warden's kills and actions become real. */
int
warden_arm(struct warden *w)
{
	return warden_request(w, WARDEN_MSG_ARM, NULL);
}

/* The before-sleep wipe is done (rc 0) or failed (-1): SLEPT. */
int
warden_slept(struct warden *w, int rc)
{
	struct warden_msg m;

	warden_msg_init(&m, WARDEN_MSG_SLEPT, NULL);
	m.status = rc;
	return warden_send(w, &m);
}

/* Send a record of type with pid and a pidfd (SCM_RIGHTS). */
static int
warden_send_fd(struct warden *w, uint32_t type, pid_t pid, int pidfd)
{
	struct warden_msg m;
	struct msghdr	  mh;
	struct iovec	  iov;
	struct cmsghdr	 *cm;
	union {
		char	       buf[CMSG_SPACE(sizeof(int))];
		struct cmsghdr align;
	} u;
	ssize_t n;

	if (w->fd < 0) {
		errno = EPIPE;
		return -1;
	}
	warden_msg_init(&m, type, NULL);
	m.pid = (int32_t)pid;
	iov.iov_base = &m;
	iov.iov_len = sizeof m;
	memset(&mh, 0, sizeof mh);
	memset(&u, 0, sizeof u);
	mh.msg_iov = &iov;
	mh.msg_iovlen = 1;
	mh.msg_control = u.buf;
	mh.msg_controllen = sizeof u.buf;
	cm = CMSG_FIRSTHDR(&mh);
	cm->cmsg_level = SOL_SOCKET;
	cm->cmsg_type = SCM_RIGHTS;
	cm->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(cm), &pidfd, sizeof(int));
	do
		n = sendmsg(w->fd, &mh, MSG_NOSIGNAL);
	while (n < 0 && errno == EINTR);
	return n == (ssize_t)sizeof m ? 0 : -1;
}

/* Hand the warden a duplicate of a registration's pidfd. */
int
warden_register(struct warden *w, pid_t pid, int pidfd)
{
	return warden_send_fd(w, WARDEN_MSG_REGISTER, pid, pidfd);
}

/*
 * A confined daemon cannot name a peer (Landlock keeps /proc/PID/exe
 * from it): the warden, unconfined, names it in the log, from a pidfd of
 * the peer so that a reused pid cannot lie. Nothing if the warden is
 * down or the peer is gone already.
 */
void
warden_name_peer(struct warden *w, pid_t pid)
{
	int fd;

	if (w->down || w->fd < 0)
		return;
	if ((fd = sys_pidfd_open(pid)) < 0)
		return;
	warden_send_fd(w, WARDEN_MSG_PEER, pid, fd);
	close(fd);
}

/*
 * In the warden: log the executable of the process behind pidfd (the
 * daemon said pid). The pid the pidfd names comes from its fdinfo; the
 * name counts only if the process is still there after the lookup.
 */
static void
warden_log_peer(pid_t said, int pidfd)
{
	char	      path[64], exe[PATH_MAX], line[128];
	struct pollfd pfd;
	ssize_t	      n;
	FILE	     *fp;
	long	      pid = -1;

	snprintf(path, sizeof path, "/proc/self/fdinfo/%d", pidfd);
	if ((fp = fopen(path, "re")) != NULL) {
		while (fgets(line, sizeof line, fp) != NULL)
			if (sscanf(line, "Pid: %ld", &pid) == 1)
				break;
		fclose(fp);
	}
	if (pid <= 0 || pid != (long)said) {
		log_info("peer pid %d: gone before it could be named",
		    (int)said);
		return;
	}
	snprintf(path, sizeof path, "/proc/%ld/exe", pid);
	n = readlink(path, exe, sizeof exe - 1);
	pfd.fd = pidfd;
	pfd.events = POLLIN;
	pfd.revents = 0;
	if (n <= 0 || poll(&pfd, 1, 0) != 0) {
		log_info("peer pid %ld: executable not readable", pid);
		return;
	}
	exe[n] = '\0';
	log_info("peer pid %ld is %s", pid, exe);
}

/* A registration ended: the warden lets go of its pidfd. */
int
warden_unregister(struct warden *w, pid_t pid)
{
	struct warden_msg m;

	warden_msg_init(&m, WARDEN_MSG_UNREGISTER, NULL);
	m.pid = (int32_t)pid;
	return warden_send(w, &m);
}

/*
 * A registration began: hand the warden a pidfd of the same process. Not
 * a copy of pidfd (SCM_RIGHTS shares the open file): the daemon's loop
 * watches that one, and a file still open in the warden would keep
 * reporting events after the daemon closes it, which makes libev rebuild
 * its epoll set. A second pidfd_open names the same process as long as
 * pidfd has not seen it exit by then (a pid is not reused while its
 * process lives). Says what went wrong; never fails the registration.
 */
void
warden_hand_over(struct warden *w, pid_t pid, int pidfd)
{
	struct pollfd pfd;
	int	      fd;

	if (w->down)
		return;
	fd = sys_pidfd_open(pid);
	pfd.fd = pidfd;
	pfd.events = POLLIN;
	pfd.revents = 0;
	if (fd < 0 || poll(&pfd, 1, 0) != 0)
		log_info("warden: pid %d exited before it was handed over",
		    (int)pid);
	else if (warden_register(w, pid, fd) != 0)
		log_warn("warden: cannot hand it pid %d", (int)pid);
	if (fd >= 0)
		close(fd);
}

/*
 * From a signal handler: tell the warden the daemon is panicking. One
 * send(2) of a record built on the stack. Async-signal-safe.
 */
void
warden_panic_signal(const char *reason)
{
	struct warden_msg m;
	int		  fd = warden_async_fd;
	int		  saved = errno;

	if (fd < 0)
		return;
	warden_msg_init(&m, WARDEN_MSG_PANIC, reason);
	(void)send(fd, &m, sizeof m, MSG_NOSIGNAL | MSG_DONTWAIT);
	errno = saved;
}

/* Our end of the socketpair, for the loop; -1 once it is closed. */
int
warden_fd(const struct warden *w)
{
	return w->fd;
}

/* The warden's end was reached: it is gone. */
static int
warden_gone(struct warden *w)
{
	if (w->fd >= 0) {
		warden_async_fd = -1;
		close(w->fd);
		w->fd = -1;
	}
	w->down = true;
	return WARDEN_READ_DOWN;
}

/* A rehearsal's record: note how an action ended, or that all did. */
static void
warden_note(struct warden *w, const struct warden_msg *m)
{
	struct warden_result *r;

	if (m->type == WARDEN_MSG_DONE)
		w->rehearsing = false;
	if (m->type == WARDEN_MSG_SLEEP)
		w->sleep_watched = m->status != 0;
	if (m->type != WARDEN_MSG_RESULT || m->pid < 0 ||
	    m->pid >= WARDEN_ACTIONS_MAX)
		return;
	r = &w->res[m->pid];
	r->done = true;
	/* As a shell says it: the exit status, 128 + a signal, or -1. */
	r->status = m->status < 0 ? -1 :
	    WIFEXITED(m->status)  ? WEXITSTATUS(m->status) :
				    128 + WTERMSIG(m->status);
	r->timed_out = (m->flags & WARDEN_TIMED_OUT) != 0;
	snprintf(r->text, sizeof r->text, "%s", m->text);
}

/* How many actions are configured (on_panic and on_wipe). */
int
warden_actions(const struct warden *w)
{
	int n;

	if (w->cfg == NULL)
		return 0;
	n = w->cfg->n_panic + w->cfg->n_wipe;
	return n < WARDEN_ACTIONS_MAX ? n : WARDEN_ACTIONS_MAX;
}

/* The i-th action: on_panic first, then on_wipe; false past the end. */
bool
warden_action(const struct warden *w, int i, const char **on, const char **cmd)
{
	if (i < 0 || i >= warden_actions(w))
		return false;
	if (i < w->cfg->n_panic) {
		*on = "panic";
		*cmd = w->cfg->on_panic[i];
	} else {
		*on = "wipe";
		*cmd = w->cfg->on_wipe[i - w->cfg->n_panic];
	}
	return true;
}

/* Ask for a rehearsal of every action; NULL, or why it cannot be. */
const char *
warden_start_rehearsal(struct warden *w)
{
	int i;

	if (w->down || w->fd < 0)
		return "the warden is down";
	if (w->rehearsing)
		return "a rehearsal is under way";
	for (i = 0; i < WARDEN_ACTIONS_MAX; i++)
		w->res[i].done = false;
	if (warden_rehearse(w) != 0)
		return "the warden is down";
	w->rehearsing = warden_actions(w) > 0;
	return NULL;
}

/* How the i-th rehearsed action ended (done false: not yet). */
bool
warden_result(const struct warden *w, int i, bool *done, int *status,
    bool *timed_out, const char **text)
{
	if (i < 0 || i >= warden_actions(w))
		return false;
	*done = w->res[i].done;
	*status = w->res[i].status;
	*timed_out = w->res[i].timed_out;
	*text = w->res[i].text;
	return true;
}

/* Take one record from the warden, never blocking. */
int
warden_read(struct warden *w, struct warden_msg *msg)
{
	struct pollfd pfd;
	ssize_t	      n;

	if (w->fd < 0)
		return w->down ? WARDEN_READ_DOWN : WARDEN_READ_NONE;
	for (;;) {
		pfd.fd = w->fd;
		pfd.events = POLLIN;
		pfd.revents = 0;
		if (poll(&pfd, 1, 0) < 0) {
			if (errno == EINTR)
				continue;
			return WARDEN_READ_NONE;
		}
		if (pfd.revents == 0)
			return WARDEN_READ_NONE;
		n = read(w->fd, msg, sizeof *msg);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			return WARDEN_READ_NONE;
		if (n <= 0)
			return warden_gone(w);
		if (n != (ssize_t)sizeof *msg)
			continue;
		msg->text[sizeof msg->text - 1] = '\0';
		warden_note(w, msg);
		return WARDEN_READ_MSG;
	}
}

/* "up", "down" or "off" (never started), for STATUS. */
const char *
warden_status_name(const struct warden *w)
{
	if (w->pid <= 0)
		return "off";
	return w->down ? "down" : "up";
}

/* STATUS's sleep=: the mode while it is watched, else unavailable. */
const char *
warden_sleep_name(const struct warden *w)
{
	int mode = w->cfg != NULL ? w->cfg->on_sleep : CONFIG_SLEEP_KEEP;

	if (mode == CONFIG_SLEEP_KEEP)
		return "keep";
	if (w->down || !w->sleep_watched)
		return "unavailable";
	return config_sleep_name(mode);
}

/* Clean shutdown: the warden runs nothing; wait for it to leave. */
void
warden_shutdown(struct warden *w)
{
	struct warden_msg m;
	struct pollfd	  pfd;
	int		  left = WARDEN_SHUTDOWN_MS, rc;

	if (w->fd < 0)
		return;
	if (warden_request(w, WARDEN_MSG_CLEAN, NULL) != 0) {
		warden_gone(w);
		return;
	}
	/* The warden closes its end as it exits: wait for that EOF. */
	while (left > 0) {
		pfd.fd = w->fd;
		pfd.events = POLLIN;
		pfd.revents = 0;
		rc = poll(&pfd, 1, 50);
		if (rc < 0 && errno != EINTR)
			break;
		left -= 50;
		if (rc > 0 && read(w->fd, &m, sizeof m) <= 0)
			break;
	}
	warden_async_fd = -1;
	close(w->fd);
	w->fd = -1;
}

/* ---- The warden process. ---- */

/* The warden's state; it lives only in the warden. */
struct warden_proc {
	struct warden_config cfg;
	int		     pidfd[WARDEN_PROCS_MAX];
	pid_t		     pid[WARDEN_PROCS_MAX];
	bool		     armed;
	bool		     eof;   /* the daemon's end is gone */
	bool		     clean; /* CLEAN came */
	bool		     panic; /* a panic is due */
	char		     reason[WARDEN_TEXT_MAX];
	int		     busy;	     /* a list is running */
	int		     daemon_pidfd;   /* our parent, or -1 */
	struct logind	    *logind;	     /* on_sleep's link, or NULL */
	bool		     sleep_asked;    /* SLEEPING sent, no SLEPT */
	int		     slept;	     /* SLEPT: 1 wiped, -1 failed */
	long long	     sleep_deadline; /* ms, for SLEPT */
};

/* Send a record to the daemon (RESULT, DONE); a failure changes nothing. */
static void
warden_reply(const struct warden_msg *m)
{
	if (send(WARDEN_FD, m, sizeof *m, MSG_NOSIGNAL) < 0)
		log_debug("reply: %s", strerror(errno));
}

/* Keep a registered process's pidfd, replacing an older one of its pid. */
static void
warden_add_proc(struct warden_proc *wp, pid_t pid, int fd)
{
	int i, free_slot = -1;

	for (i = 0; i < WARDEN_PROCS_MAX; i++) {
		if (wp->pidfd[i] >= 0 && wp->pid[i] == pid) {
			close(wp->pidfd[i]);
			wp->pidfd[i] = -1;
		}
		if (wp->pidfd[i] < 0 && free_slot < 0)
			free_slot = i;
	}
	if (free_slot < 0) {
		log_warnx("more than %d registered processes: pid %d is not "
			  "held",
		    WARDEN_PROCS_MAX, (int)pid);
		close(fd);
		return;
	}
	wp->pidfd[free_slot] = fd;
	wp->pid[free_slot] = pid;
	log_debug("holding pid %d", (int)pid);
}

/* Let go of a registered process. */
static void
warden_drop_proc(struct warden_proc *wp, int i)
{
	close(wp->pidfd[i]);
	wp->pidfd[i] = -1;
	wp->pid[i] = 0;
}

/*
 * The daemon is gone or panicking: SIGKILL every registered process
 * (armed), or say WOULD SIGKILL (dry-run). quiet: the daemon has just
 * killed them itself, so only a survivor is worth a line.
 */
static void
warden_kill_procs(struct warden_proc *wp, bool quiet)
{
	int i;

	for (i = 0; i < WARDEN_PROCS_MAX; i++) {
		if (wp->pidfd[i] < 0)
			continue;
		if (!wp->armed) {
			if (!quiet)
				log_info("WOULD SIGKILL pid %d",
				    (int)wp->pid[i]);
		} else if (sys_pidfd_send_signal(wp->pidfd[i], SIGKILL) == 0)
			log_info("SIGKILL pid %d", (int)wp->pid[i]);
		else if (errno != ESRCH)
			log_warn("SIGKILL pid %d", (int)wp->pid[i]);
		warden_drop_proc(wp, i);
	}
}

static void warden_handle(struct warden_proc *, const struct warden_msg *, int);

/*
 * Take one record (and a pidfd with it) from the daemon; at EOF note
 * the end. Returns 1 for a record, 0 when none is waiting, -1 when
 * nothing more will come.
 */
static int
warden_receive(struct warden_proc *wp)
{
	struct warden_msg m;
	struct msghdr	  mh;
	struct iovec	  iov;
	struct cmsghdr	 *cm;
	union {
		char	       buf[CMSG_SPACE(4 * sizeof(int))];
		struct cmsghdr align;
	} u;
	ssize_t n;
	int	fds[4], nfd = 0, i;

	iov.iov_base = &m;
	iov.iov_len = sizeof m;
	memset(&mh, 0, sizeof mh);
	mh.msg_iov = &iov;
	mh.msg_iovlen = 1;
	mh.msg_control = u.buf;
	mh.msg_controllen = sizeof u.buf;
	do
		n = recvmsg(WARDEN_FD, &mh, MSG_CMSG_CLOEXEC | MSG_DONTWAIT);
	while (n < 0 && errno == EINTR);
	if (n < 0 && errno == EAGAIN)
		return 0;
	if (n < 0) {
		log_warn("the daemon's socket");
		wp->eof = true;
		return -1;
	}
	for (cm = CMSG_FIRSTHDR(&mh); cm != NULL; cm = CMSG_NXTHDR(&mh, cm))
		if (cm->cmsg_level == SOL_SOCKET && cm->cmsg_type == SCM_RIGHTS)
			for (i = 0; (size_t)i <
				 (cm->cmsg_len - CMSG_LEN(0)) / sizeof(int) &&
			     nfd < 4;
			     i++)
				memcpy(&fds[nfd++],
				    CMSG_DATA(cm) + i * sizeof(int),
				    sizeof(int));
	if (n == 0) {
		wp->eof = true;
		for (i = 0; i < nfd; i++)
			close(fds[i]);
		return -1;
	}
	if (n != (ssize_t)sizeof m) {
		log_warnx("a record of %zd bytes ignored", n);
		m.type = 0;
	}
	m.text[sizeof m.text - 1] = '\0';
	warden_handle(wp, &m, nfd > 0 ? fds[0] : -1);
	for (i = 1; i < nfd; i++)
		close(fds[i]);
	return 1;
}

/* Read the last complete line (or the unfinished one) of fd's output. */
static void
warden_read_err(int fd, char *cur, size_t *curlen, char *last)
{
	char	buf[512];
	ssize_t n, i;

	while ((n = read(fd, buf, sizeof buf)) > 0) {
		for (i = 0; i < n; i++) {
			if (buf[i] == '\n') {
				if (*curlen > 0) {
					memcpy(last, cur, *curlen);
					last[*curlen] = '\0';
				}
				*curlen = 0;
			} else if (*curlen < WARDEN_LINE_MAX)
				cur[(*curlen)++] =
				    buf[i] == '\r' || buf[i] == '\t' ? ' ' :
								       buf[i];
		}
	}
}

/* In the action's child: become the shell. Never returns. */
static void
warden_exec(const char *cmd, const char *reason, int errfd)
{
	static const int sigs[] = { SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGTSTP,
		SIGTTIN, SIGTTOU, SIGPIPE };
	size_t		 i;
	int		 null;

	setpgid(0, 0);
	for (i = 0; i < sizeof sigs / sizeof sigs[0]; i++)
		signal(sigs[i], SIG_DFL);
	if ((null = open("/dev/null", O_RDWR)) < 0 ||
	    dup2(null, STDIN_FILENO) < 0 || dup2(null, STDOUT_FILENO) < 0 ||
	    dup2(errfd, STDERR_FILENO) < 0)
		_exit(126);
	if (null > STDERR_FILENO)
		close(null);
	setenv("DAZAI_REASON", reason, 1);
	execl("/bin/sh", "sh", "-c", cmd, (char *)NULL);
	_exit(127);
}

/*
 * Run one action and wait for it: until its shell exits or the timeout
 * passes, then SIGKILL its process group. While it runs, the daemon's
 * records are still read when watch is set (a panic or the daemon's end
 * cuts a rehearsal or a wipe's list short). Fills the wait status (-1:
 * not started), whether the timeout killed it and its last stderr line.
 */
static void
warden_run_one(struct warden_proc *wp, const char *cmd, const char *reason,
    bool watch, int *status, bool *timed_out, char *last)
{
	struct pollfd pfd[3];
	char	      cur[WARDEN_LINE_MAX + 1];
	size_t	      curlen = 0;
	long long     deadline;
	siginfo_t     si;
	int	      p[2], pidfd, n, left;
	bool	      exited = false, erropen = true;
	pid_t	      pid;

	*status = -1;
	*timed_out = false;
	last[0] = '\0';
	if (pipe2(p, O_CLOEXEC | O_NONBLOCK) != 0) {
		log_warn("%s: pipe", cmd);
		return;
	}
	if ((pid = fork()) < 0) {
		log_warn("%s: fork", cmd);
		close(p[0]);
		close(p[1]);
		return;
	}
	if (pid == 0) {
		close(p[0]);
		fcntl(p[1], F_SETFL, 0);
		warden_exec(cmd, reason, p[1]);
	}
	close(p[1]);
	setpgid(pid, pid); /* as the child does: no window */
	pidfd = sys_pidfd_open(pid);
	deadline = log_now_ms() + (long long)(wp->cfg.timeout * 1000);
	while (!exited) {
		left = (int)(deadline - log_now_ms());
		if (left <= 0) {
			*timed_out = true;
			break;
		}
		n = 0;
		pfd[n].fd = pidfd;
		pfd[n++].events = POLLIN;
		pfd[n].fd = erropen ? p[0] : -1;
		pfd[n++].events = POLLIN;
		if (watch && !wp->eof && !wp->panic && !wp->clean) {
			pfd[n].fd = WARDEN_FD;
			pfd[n++].events = POLLIN;
		}
		if (poll(pfd, (nfds_t)n, pidfd < 0 && left > 50 ? 50 : left) <
			0 &&
		    errno != EINTR)
			break;
		if (pfd[1].revents & (POLLIN | POLLHUP)) {
			warden_read_err(p[0], cur, &curlen, last);
			if (pfd[1].revents & POLLHUP &&
			    !(pfd[1].revents & POLLIN))
				erropen = false;
		}
		if (n == 3 && pfd[2].revents != 0)
			warden_receive(wp);
		si.si_pid = 0;
		if (pidfd >= 0 ? pfd[0].revents != 0 :
				 waitid(P_PID, (id_t)pid, &si,
				     WEXITED | WNOHANG | WNOWAIT) == 0 &&
			    si.si_pid == pid)
			exited = true;
		if (watch && (wp->panic || wp->eof || wp->clean))
			break;
	}
	/* The leader is not reaped yet, so its group cannot be another's. */
	kill(-pid, SIGKILL);
	while (waitpid(pid, status, 0) < 0 && errno == EINTR)
		;
	warden_read_err(p[0], cur, &curlen, last);
	if (curlen > 0) {
		memcpy(last, cur, curlen);
		last[curlen] = '\0';
	}
	close(p[0]);
	if (pidfd >= 0)
		close(pidfd);
}

/* Describe a wait status for the log. */
static void
warden_describe(int status, bool timed_out, double timeout, char *buf,
    size_t len)
{
	if (status == -1)
		snprintf(buf, len, "could not be started");
	else if (timed_out)
		snprintf(buf, len,
		    "killed (with its process group) after "
		    "the %gs timeout",
		    timeout);
	else if (WIFEXITED(status))
		snprintf(buf, len, "exited %d", WEXITSTATUS(status));
	else if (WIFSIGNALED(status))
		snprintf(buf, len, "killed by signal %d", WTERMSIG(status));
	else
		snprintf(buf, len, "ended (status %#x)", status);
}

/*
 * Run a list of actions in order (or, dry-run, say WOULD RUN for each).
 * first is the index of the list's first command among all of them, for
 * the rehearsal's RESULTs. Returns how many ran.
 */
static int
warden_run_list(struct warden_proc *wp, const char *const *cmds, int n,
    const char *reason, bool real, bool watch, bool report, int first)
{
	struct warden_msg m;
	char		  last[WARDEN_LINE_MAX + 1], how[96];
	int		  i, status;
	bool		  timed_out;

	for (i = 0; i < n; i++) {
		if (!real) {
			log_info("WOULD RUN: %s", cmds[i]);
			continue;
		}
		if (watch && (wp->panic || wp->eof || wp->clean)) {
			log_info("%d action(s) left unrun: %s", n - i,
			    wp->clean ? "clean shutdown" : "panic");
			return i;
		}
		log_info("running: %s", cmds[i]);
		warden_run_one(wp, cmds[i], reason, watch, &status, &timed_out,
		    last);
		warden_describe(status, timed_out, wp->cfg.timeout, how,
		    sizeof how);
		if (last[0] != '\0')
			log_info("%s: %s; last line of stderr: %s", cmds[i],
			    how, last);
		else
			log_info("%s: %s", cmds[i], how);
		if (report) {
			warden_msg_init(&m, WARDEN_MSG_RESULT, last);
			m.pid = first + i;
			m.status = status;
			m.flags = timed_out ? WARDEN_TIMED_OUT : 0;
			warden_reply(&m);
		}
	}
	return real ? n : 0;
}

/*
 * Before the first action, let the panicking daemon finish dying (its
 * pidfd turns readable), for at most WARDEN_DEATH_MS: a shell forked
 * meanwhile would compete with the exit on a busy machine (measured: a
 * daemon's death 5x slower with three actions on two CPUs).
 */
static void
warden_wait_daemon(struct warden_proc *wp)
{
	struct pollfd pfd;

	if (wp->daemon_pidfd < 0)
		return;
	pfd.fd = wp->daemon_pidfd;
	pfd.events = POLLIN;
	pfd.revents = 0;
	if (poll(&pfd, 1, WARDEN_DEATH_MS) == 0)
		log_debug("the daemon is still there after %d ms: acting "
			  "anyway",
		    WARDEN_DEATH_MS);
}

/*
 * The panic: registered processes first (the daemon's own kills came
 * first when it could say PANIC; after its death ours are the only
 * ones), then the on_panic actions. The warden exits after.
 */
/* clang-format off */
static void __attribute__((noreturn))
warden_do_panic(struct warden_proc *wp, bool by_eof)
/* clang-format on */
{
	if (by_eof)
		log_info("the daemon ended without a clean shutdown: panic "
			 "(%s)",
		    wp->armed ? "armed" : "dry-run");
	else
		log_info("panic (%s): %s", wp->armed ? "armed" : "dry-run",
		    wp->reason);
	warden_kill_procs(wp, !by_eof);
	warden_wait_daemon(wp);
	warden_run_list(wp, wp->cfg.on_panic, wp->cfg.n_panic,
	    by_eof ? "dazaid died" : wp->reason, wp->armed, false, false, 0);
	_exit(0);
}

/* Act on one record from the daemon; fd is the pidfd that came with it. */
static void
warden_handle(struct warden_proc *wp, const struct warden_msg *m, int fd)
{
	struct warden_msg done;
	int		  i, n;

	if (m->type == WARDEN_MSG_PEER && fd >= 0) {
		warden_log_peer((pid_t)m->pid, fd);
		close(fd);
		return;
	}
	if (m->type != WARDEN_MSG_REGISTER && fd >= 0) {
		close(fd);
		fd = -1;
	}
	switch (m->type) {
	case WARDEN_MSG_PANIC:
		if (!wp->panic) {
			wp->panic = true;
			snprintf(wp->reason, sizeof wp->reason, "%s",
			    m->text[0] != '\0' ? m->text : "panic");
		}
		break;
	case WARDEN_MSG_CLEAN:
		wp->clean = true;
		break;
	case WARDEN_MSG_ARM:
		if (!wp->armed)
			log_info("armed: kills and actions are real");
		wp->armed = true;
		break;
	case WARDEN_MSG_REGISTER:
		if (fd < 0 || m->pid <= 0) {
			log_warnx("REGISTER without a pidfd ignored");
			if (fd >= 0)
				close(fd);
			break;
		}
		warden_add_proc(wp, (pid_t)m->pid, fd);
		break;
	case WARDEN_MSG_SLEPT:
		/* Let go in the loop, once the on_wipe actions are done
		 * (this record may come while they run). */
		if (wp->sleep_asked)
			wp->slept = m->status == 0 ? 1 : -1;
		break;
	case WARDEN_MSG_UNREGISTER:
		for (i = 0; i < WARDEN_PROCS_MAX; i++)
			if (wp->pidfd[i] >= 0 && wp->pid[i] == m->pid)
				warden_drop_proc(wp, i);
		break;
	case WARDEN_MSG_WIPE:
	case WARDEN_MSG_REHEARSE:
		if (wp->busy) {
			log_warnx("%s while actions run: ignored",
			    m->type == WARDEN_MSG_WIPE ? "WIPE" : "REHEARSE");
			if (m->type == WARDEN_MSG_REHEARSE) {
				warden_msg_init(&done, WARDEN_MSG_DONE, "busy");
				done.pid = 0;
				warden_reply(&done);
			}
			break;
		}
		wp->busy = 1;
		if (m->type == WARDEN_MSG_WIPE) {
			if (wp->cfg.n_wipe > 0)
				log_info("wipe (%s)", m->text);
			warden_run_list(wp, wp->cfg.on_wipe, wp->cfg.n_wipe,
			    m->text, wp->armed, true, false, 0);
		} else {
			log_info("rehearsal: running %d action(s) now",
			    wp->cfg.n_panic + wp->cfg.n_wipe);
			n = warden_run_list(wp, wp->cfg.on_panic,
			    wp->cfg.n_panic, "rehearsal", true, true, true, 0);
			if (n == wp->cfg.n_panic)
				n += warden_run_list(wp, wp->cfg.on_wipe,
				    wp->cfg.n_wipe, "rehearsal", true, true,
				    true, wp->cfg.n_panic);
			warden_msg_init(&done, WARDEN_MSG_DONE, NULL);
			done.pid = n;
			warden_reply(&done);
		}
		wp->busy = 0;
		break;
	default:
		log_warnx("unknown record %u ignored", (unsigned)m->type);
		break;
	}
}

/* Set up the warden's process: signals, descriptors, dumpability. */
static void
warden_setup(int end, bool verbose)
{
	static const int ignored[] = { SIGINT, SIGTERM, SIGHUP, SIGQUIT,
		SIGTSTP, SIGTTIN, SIGTTOU, SIGPIPE };
	struct sigaction sa;
	struct rlimit	 rl = { 0, 0 };
	sigset_t	 none;
	size_t		 i;
	int		 sig, null;

	/* The daemon's handlers (its emergency wipe) are not ours. */
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = SIG_DFL;
	sigemptyset(&sa.sa_mask);
	for (sig = 1; sig < NSIG; sig++)
		if (sig != SIGKILL && sig != SIGSTOP)
			sigaction(sig, &sa, NULL);
	/* A terminal's ^C, ^\ or ^Z, a hang-up or a stray SIGTERM: none
	 * may stop the guard of a daemon that can be killed outright. */
	sa.sa_handler = SIG_IGN;
	for (i = 0; i < sizeof ignored / sizeof ignored[0]; i++)
		sigaction(ignored[i], &sa, NULL);
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	/* Not dumpable: no ptrace, no /proc/PID/mem by our uid. No core. */
	if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) != 0)
		log_warn("prctl(PR_SET_DUMPABLE)");
	setrlimit(RLIMIT_CORE, &rl);
	/* Keep our end (as 3) and stderr; everything else goes. */
	if (end != WARDEN_FD && dup3(end, WARDEN_FD, O_CLOEXEC) < 0)
		_exit(1);
	if (syscall(SYS_close_range, WARDEN_FD + 1, ~0U, 0) != 0)
		for (i = WARDEN_FD + 1; i < 1024; i++)
			close((int)i);
	if ((null = open("/dev/null", O_RDWR | O_CLOEXEC)) >= 0) {
		dup2(null, STDIN_FILENO);
		dup2(null, STDOUT_FILENO);
		if (null > STDERR_FILENO && null != WARDEN_FD)
			close(null);
	}
	log_init("dazaid: warden", verbose);
	log_nonblocking();
}

/*
 * Wait for the warden's READY: until it has closed its copies of our
 * descriptors, one we close meanwhile would stay open in it (and in our
 * event loop's epoll set, which libev would then rebuild, confined).
 */
static int
warden_wait_ready(int fd)
{
	struct warden_msg m;
	struct pollfd	  pfd = { fd, POLLIN, 0 };
	int		  rc;

	while ((rc = poll(&pfd, 1, WARDEN_READY_MS)) < 0 && errno == EINTR)
		;
	if (rc != 1 || read(fd, &m, sizeof m) != (ssize_t)sizeof m ||
	    m.type != WARDEN_MSG_READY) {
		errno = rc == 0 ? ETIMEDOUT : ECHILD;
		return -1;
	}
	return 0;
}

/* Tell the daemon whether sleep is watched (SLEEP), with why not. */
static void
warden_tell_sleep(bool watched, const char *why)
{
	struct warden_msg m;

	warden_msg_init(&m, WARDEN_MSG_SLEEP, why);
	m.status = watched ? 1 : 0;
	warden_reply(&m);
}

/* The bus is gone or refused a lock: sleep is no longer watched. */
static void
warden_sleep_lost(struct warden_proc *wp, const char *why)
{
	log_warnx("sleep is not watched any more (on_sleep = %s has no "
		  "effect): %s",
	    config_sleep_name(wp->cfg.on_sleep), why);
	logind_close(wp->logind);
	wp->logind = NULL;
	wp->sleep_asked = false;
	warden_tell_sleep(false, why);
}

/*
 * on_sleep = wipe or panic: connect to logind and take the delay lock.
 * Without a bus or logind the daemon runs on, told so (sleep=unavailable).
 */
static void
warden_sleep_open(struct warden_proc *wp)
{
	char why[WARDEN_TEXT_MAX];
	char what[64];

	if (wp->cfg.on_sleep == CONFIG_SLEEP_KEEP)
		return;
	snprintf(what, sizeof what, "%s the secrets before sleep",
	    wp->cfg.on_sleep == CONFIG_SLEEP_WIPE ? "wipe" :
						    "panic and "
						    "destroy");
	if (logind_open(&wp->logind, what, why, sizeof why) != 0) {
		log_warnx("on_sleep = %s has no effect: %s",
		    config_sleep_name(wp->cfg.on_sleep), why);
		warden_tell_sleep(false, why);
		return;
	}
	log_debug("on_sleep = %s: holding logind's delay lock",
	    config_sleep_name(wp->cfg.on_sleep));
	warden_tell_sleep(true, NULL);
}

/* What logind said: the machine is about to sleep, or woke. */
static void
warden_sleep_event(struct warden_proc *wp)
{
	struct warden_msg m;
	char		  why[WARDEN_TEXT_MAX];

	switch (logind_process(wp->logind)) {
	case LOGIND_NONE:
		break;
	case LOGIND_LOST:
		warden_sleep_lost(wp, "the system bus went away");
		break;
	case LOGIND_BEFORE:
		if (!logind_locked(wp->logind)) {
			log_warnx("the machine sleeps without our lock: "
				  "nothing could be done before");
			break;
		}
		log_info("the machine is about to sleep: on_sleep = %s",
		    config_sleep_name(wp->cfg.on_sleep));
		warden_msg_init(&m, WARDEN_MSG_SLEEPING, NULL);
		m.status = wp->cfg.on_sleep;
		if (send(WARDEN_FD, &m, sizeof m, MSG_NOSIGNAL) < 0) {
			log_warn("cannot tell the daemon");
			logind_release(wp->logind);
			break;
		}
		wp->sleep_asked = true;
		wp->slept = 0;
		wp->sleep_deadline = log_now_ms() + WARDEN_SLEEP_MS;
		break;
	case LOGIND_AFTER:
		if (wp->sleep_asked) {
			wp->sleep_asked = false;
			logind_release(wp->logind);
		}
		if (logind_inhibit(wp->logind, why, sizeof why) != 0) {
			warden_sleep_lost(wp, why);
			break;
		}
		log_info("the machine woke: delay lock taken again");
		break;
	}
}

/* Milliseconds poll may wait: the bus's timeout and SLEPT's deadline. */
static int
warden_poll_timeout(const struct warden_proc *wp)
{
	long long left;
	int	  t = -1;

	if (wp->logind == NULL)
		return -1;
	t = logind_timeout_ms(wp->logind);
	if (wp->sleep_asked && wp->slept != 0)
		return 0;
	if (wp->sleep_asked) {
		left = wp->sleep_deadline - log_now_ms();
		if (left < 0)
			left = 0;
		if (t < 0 || left < t)
			t = (int)left;
	}
	return t;
}

/*
 * The warden's loop: the daemon's records, the registered processes (a
 * pidfd that turns readable is a process gone: let it go) and, with
 * on_sleep, the system bus.
 */
/* clang-format off */
static void __attribute__((noreturn))
warden_main(struct warden_proc *wp)
/* clang-format on */
{
	struct pollfd pfd[2 + WARDEN_PROCS_MAX];
	int	      slot[2 + WARDEN_PROCS_MAX];
	int	      i, n, bus;

	log_debug("started (pid %d, %d on_panic, %d on_wipe, %s)",
	    (int)getpid(), wp->cfg.n_panic, wp->cfg.n_wipe,
	    wp->armed ? "armed" : "dry-run");
	warden_sleep_open(wp);
	for (;;) {
		if (wp->panic)
			warden_do_panic(wp, false);
		if (wp->eof && !wp->clean)
			warden_do_panic(wp, true);
		if (wp->clean) {
			log_debug("clean shutdown: nothing to run");
			_exit(0);
		}
		n = 0;
		pfd[n].fd = WARDEN_FD;
		pfd[n].events = POLLIN;
		slot[n++] = -1;
		bus = -1;
		if (wp->logind != NULL && logind_fd(wp->logind) >= 0) {
			bus = n;
			pfd[n].fd = logind_fd(wp->logind);
			pfd[n].events = logind_events(wp->logind);
			slot[n++] = -1;
		}
		for (i = 0; i < WARDEN_PROCS_MAX; i++)
			if (wp->pidfd[i] >= 0) {
				pfd[n].fd = wp->pidfd[i];
				pfd[n].events = POLLIN;
				slot[n++] = i;
			}
		if (poll(pfd, (nfds_t)n, warden_poll_timeout(wp)) < 0) {
			if (errno == EINTR)
				continue;
			log_warn("poll");
			wp->eof = true;
			continue;
		}
		if (wp->sleep_asked && wp->slept != 0) {
			log_info("before sleep: %s; letting the machine sleep",
			    wp->slept > 0 ? "every secret wiped" :
					    "the wipe FAILED");
			wp->sleep_asked = false;
			logind_release(wp->logind);
		}
		if (wp->sleep_asked && log_now_ms() >= wp->sleep_deadline) {
			log_warnx("the daemon did not answer within %d ms: "
				  "letting the machine sleep",
			    WARDEN_SLEEP_MS);
			wp->sleep_asked = false;
			logind_release(wp->logind);
		}
		if (wp->logind != NULL)
			warden_sleep_event(wp);
		for (i = 1; i < n; i++)
			if (i != bus && pfd[i].revents != 0) {
				log_debug("pid %d ended",
				    (int)wp->pid[slot[i]]);
				warden_drop_proc(wp, slot[i]);
			}
		if (pfd[0].revents != 0)
			while (warden_receive(wp) > 0 && !wp->panic &&
			    !wp->eof && !wp->clean)
				;
	}
}

/* Fork the warden; the daemon keeps one end of a SEQPACKET socketpair. */
int
warden_start(struct warden *w, const struct warden_config *cfg)
{
	struct warden_proc wp;
	struct warden_msg  m;
	sigset_t	   all, old;
	int		   sv[2], i, saved;
	pid_t		   pid;

	w->pid = 0;
	w->fd = -1;
	w->down = true;
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) != 0)
		return -1;
	/* No signal may run the daemon's handlers in the child. */
	sigfillset(&all);
	sigprocmask(SIG_BLOCK, &all, &old);
	if ((pid = fork()) < 0) {
		saved = errno;
		sigprocmask(SIG_SETMASK, &old, NULL);
		close(sv[0]);
		close(sv[1]);
		errno = saved;
		return -1;
	}
	if (pid == 0) {
		close(sv[0]);
		memset(&wp, 0, sizeof wp);
		wp.cfg = *cfg;
		wp.armed = cfg->armed;
		for (i = 0; i < WARDEN_PROCS_MAX; i++)
			wp.pidfd[i] = -1;
		warden_setup(sv[1], cfg->verbose);
		wp.daemon_pidfd = sys_pidfd_open(getppid());
		if (cfg->socket != NULL)
			setenv("DAZAI_SOCKET", cfg->socket, 1);
		warden_msg_init(&m, WARDEN_MSG_READY, NULL);
		warden_reply(&m);
		warden_main(&wp);
	}
	sigprocmask(SIG_SETMASK, &old, NULL);
	close(sv[1]);
	if (warden_wait_ready(sv[0]) != 0) {
		saved = errno;
		kill(pid, SIGKILL);
		waitpid(pid, NULL, 0);
		close(sv[0]);
		errno = saved;
		return -1;
	}
	w->pid = pid;
	w->fd = sv[0];
	w->down = false;
	w->cfg = cfg;
	w->rehearsing = false;
	w->sleep_watched = false;
	warden_async_fd = sv[0];
	return 0;
}
