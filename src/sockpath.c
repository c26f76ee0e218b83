/* SPDX-License-Identifier: ISC */
/*
 * Where the heartbeat socket lives and who may reach it.
 */
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "dazai/sockpath.h"

/*
 * The default path: $XDG_RUNTIME_DIR/dazai/dazai.sock, else
 * /tmp/dazai-$UID/dazai.sock. Returns -1 with err if it cannot be built.
 */
int
sockpath_default(char *buf, size_t len, char *err, size_t errlen)
{
	const char *xdg = getenv("XDG_RUNTIME_DIR");
	int	    n;

	if (xdg != NULL && *xdg == '/')
		n = snprintf(buf, len, "%s/dazai/dazai.sock", xdg);
	else
		n = snprintf(buf, len, "/tmp/dazai-%u/dazai.sock",
		    (unsigned)getuid());
	if (n < 0 || (size_t)n >= len) {
		snprintf(err, errlen,
		    "default socket path too long "
		    "(XDG_RUNTIME_DIR is %zu bytes)",
		    xdg ? strlen(xdg) : 0);
		return -1;
	}
	return 0;
}

/* Reject a path that does not fit sun_path, naming the limit. */
int
sockpath_check_length(const char *path, char *err, size_t errlen)
{
	size_t n = strlen(path);

	if (n == 0) {
		snprintf(err, errlen, "empty socket path");
		return -1;
	}
	if (n > SOCKPATH_MAX) {
		snprintf(err, errlen, "%s: %zu bytes, the limit is %d", path, n,
		    SOCKPATH_MAX);
		return -1;
	}
	return 0;
}

/* Split off the directory part of path into dir. */
static int
sockpath_dirname(const char *path, char *dir, size_t len)
{
	const char *slash = strrchr(path, '/');
	size_t	    n;

	if (slash == NULL) {
		snprintf(dir, len, ".");
		return 0;
	}
	n = slash == path ? 1 : (size_t)(slash - path);
	if (n >= len)
		return -1;
	memcpy(dir, path, n);
	dir[n] = '\0';
	return 0;
}

/*
 * Make sure nobody else can replace the socket. The default directory is
 * created 0700 and must be ours with no group or other access; for an
 * explicit path the directory must exist, be ours or root's, and not be
 * writable by group or others. Not a symlink either way (lstat).
 */
int
sockpath_prepare_dir(const char *path, bool is_default, char *err,
    size_t errlen)
{
	char dir[PATH_MAX];

	if (sockpath_dirname(path, dir, sizeof dir) != 0) {
		snprintf(err, errlen, "%s: directory name too long", path);
		return -1;
	}
	if (is_default) {
		if (mkdir(dir, 0700) != 0 && errno != EEXIST) {
			snprintf(err, errlen, "%s: cannot create: %s", dir,
			    strerror(errno));
			return -1;
		}
	}
	return sockpath_check_dir(path, is_default, err, errlen);
}

/*
 * The checks of sockpath_prepare_dir without creating anything: a client
 * makes them before it trusts what listens at path.
 */
int
sockpath_check_dir(const char *path, bool is_default, char *err, size_t errlen)
{
	char	    dir[PATH_MAX];
	struct stat st;
	uid_t	    uid = getuid();

	if (sockpath_dirname(path, dir, sizeof dir) != 0) {
		snprintf(err, errlen, "%s: directory name too long", path);
		return -1;
	}
	if (lstat(dir, &st) != 0) {
		snprintf(err, errlen, "%s: %s", dir, strerror(errno));
		return -1;
	}
	if (!S_ISDIR(st.st_mode)) {
		snprintf(err, errlen, "%s: not a directory%s", dir,
		    S_ISLNK(st.st_mode) ? " (a symlink, refused)" : "");
		return -1;
	}
	if (is_default) {
		if (st.st_uid != uid) {
			snprintf(err, errlen,
			    "%s: owned by uid %u, not by "
			    "us (uid %u)",
			    dir, (unsigned)st.st_uid, (unsigned)uid);
			return -1;
		}
		if (st.st_mode & 077) {
			snprintf(err, errlen,
			    "%s: mode %04o gives group or "
			    "others access; expected 0700",
			    dir, (unsigned)(st.st_mode & 07777));
			return -1;
		}
		return 0;
	}
	if (st.st_uid != uid && st.st_uid != 0) {
		snprintf(err, errlen,
		    "%s: owned by uid %u, neither us (uid "
		    "%u) nor root",
		    dir, (unsigned)st.st_uid, (unsigned)uid);
		return -1;
	}
	if (st.st_mode & (S_IWGRP | S_IWOTH)) {
		snprintf(err, errlen,
		    "%s: mode %04o is writable by group or "
		    "others, who could replace the socket",
		    dir, (unsigned)(st.st_mode & 07777));
		return -1;
	}
	return 0;
}

/* Fill a sockaddr_un; the length was checked before. */
static void
sockpath_addr(struct sockaddr_un *sun, const char *path)
{
	memset(sun, 0, sizeof *sun);
	sun->sun_family = AF_UNIX;
	memcpy(sun->sun_path, path, strlen(path) + 1);
}

/* Connect to path; returns the descriptor, or -1 with errno. */
int
sockpath_connect(const char *path)
{
	struct sockaddr_un sun;
	int		   fd, saved;

	if (strlen(path) > SOCKPATH_MAX) {
		errno = ENAMETOOLONG;
		return -1;
	}
	sockpath_addr(&sun, path);
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0)
		return -1;
	if (connect(fd, (struct sockaddr *)&sun, sizeof sun) != 0) {
		saved = errno;
		close(fd);
		errno = saved;
		return -1;
	}
	return fd;
}

/*
 * Decide what to do with something already at path: a live daemon means
 * "already running", a dead socket is removed, anything else is refused.
 */
static int
sockpath_clear(const char *path, char *err, size_t errlen)
{
	struct sockaddr_un sun;
	struct stat	   st;
	int		   fd, rc;

	if (lstat(path, &st) != 0) {
		if (errno == ENOENT)
			return 0;
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return -1;
	}
	if (!S_ISSOCK(st.st_mode)) {
		snprintf(err, errlen,
		    "%s: exists and is not a socket; "
		    "refusing to replace it",
		    path);
		return -1;
	}
	sockpath_addr(&sun, path);
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
		 0)) < 0) {
		snprintf(err, errlen, "socket: %s", strerror(errno));
		return -1;
	}
	rc = connect(fd, (struct sockaddr *)&sun, sizeof sun);
	if (rc == 0 || errno == EAGAIN || errno == EINPROGRESS) {
		close(fd);
		snprintf(err, errlen,
		    "%s: already running (a daemon answers "
		    "there)",
		    path);
		return -1;
	}
	close(fd);
	if (errno != ECONNREFUSED) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return -1;
	}
	if (unlink(path) != 0 && errno != ENOENT) {
		snprintf(err, errlen, "%s: cannot remove stale socket: %s",
		    path, strerror(errno));
		return -1;
	}
	return 0;
}

/*
 * Replace a dead socket, bind and listen (sockpath_listen holds the
 * lock). Mode 0600 from the start: umask around bind, so there is no
 * window where others could connect.
 */
static int
sockpath_bind_listen(const char *path, char *err, size_t errlen)
{
	struct sockaddr_un sun;
	mode_t		   old;
	int		   fd, rc, saved;

	if (sockpath_clear(path, err, errlen) != 0)
		return -1;
	sockpath_addr(&sun, path);
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
		 0)) < 0) {
		snprintf(err, errlen, "socket: %s", strerror(errno));
		return -1;
	}
	old = umask(0177);
	rc = bind(fd, (struct sockaddr *)&sun, sizeof sun);
	saved = errno;
	umask(old);
	if (rc != 0) {
		snprintf(err, errlen, "%s: bind: %s", path, strerror(saved));
		close(fd);
		return -1;
	}
	if (listen(fd, 16) != 0) {
		snprintf(err, errlen, "%s: listen: %s", path, strerror(errno));
		close(fd);
		unlink(path);
		return -1;
	}
	return fd;
}

/* Create the listening socket at path, or say why not in err. */
int
sockpath_listen(const char *path, char *err, size_t errlen)
{
	char dir[PATH_MAX];
	int  dfd, fd;

	/*
	 * Hold a lock on the socket's directory from the liveness check to
	 * listen(2): a daemon starting in the same instant would otherwise
	 * find our bound but not yet listening socket, take it for a dead
	 * one and replace it, leaving us with a secret no heartbeat can
	 * reach. The lock goes with the descriptor; no file is left behind.
	 */
	if (sockpath_dirname(path, dir, sizeof dir) != 0) {
		snprintf(err, errlen, "%s: path too long", path);
		return -1;
	}
	if ((dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0) {
		snprintf(err, errlen, "%s: %s", dir, strerror(errno));
		return -1;
	}
	while (flock(dfd, LOCK_EX) != 0)
		if (errno != EINTR) {
			snprintf(err, errlen, "%s: lock: %s", dir,
			    strerror(errno));
			close(dfd);
			return -1;
		}
	fd = sockpath_bind_listen(path, err, errlen);
	close(dfd);
	return fd;
}

/*
 * Which socket to use: the explicit path if given, else $DAZAI_SOCKET if
 * set and not empty, else the default (is_default then true, for the
 * stricter directory checks). The chosen path is copied into buf.
 */
int
sockpath_resolve(const char *explicit, char *buf, size_t len, bool *is_default,
    char *err, size_t errlen)
{
	const char *env = getenv("DAZAI_SOCKET");

	*is_default = false;
	if (explicit == NULL && env != NULL && *env != '\0')
		explicit = env;
	if (explicit == NULL) {
		if (sockpath_default(buf, len, err, errlen) != 0)
			return -1;
		*is_default = true;
	} else if (snprintf(buf, len, "%s", explicit) >= (int)len) {
		snprintf(err, errlen, "%.64s...: %zu bytes, the limit is %d",
		    explicit, strlen(explicit), SOCKPATH_MAX);
		return -1;
	}
	return sockpath_check_length(buf, err, errlen);
}

/*
 * Connect to a daemon, trusting it only as the daemon trusts us: its
 * directory must pass the daemon's own checks (nobody else could have put
 * a socket there) and the listener must run as our uid or root
 * (SO_PEERCRED). Returns the descriptor, or -1 with err and errno
 * ENAMETOOLONG for a path that cannot be a socket (a usage error), any
 * other errno for no daemon or one not to be trusted.
 */
int
sockpath_connect_trusted(const char *path, bool is_default, char *err,
    size_t errlen)
{
	char  why[SOCKPATH_ERRLEN];
	uid_t uid;
	pid_t pid;
	int   fd, saved;

	if (sockpath_check_length(path, err, errlen) != 0) {
		errno = ENAMETOOLONG;
		return -1;
	}
	if (sockpath_check_dir(path, is_default, why, sizeof why) != 0) {
		saved = errno;
		if (saved == ENOENT)
			snprintf(err, errlen, "no daemon at %s (%s)", path,
			    why);
		else
			snprintf(err, errlen, "not trusting %s: %s", path, why);
		errno = saved == ENOENT ? ENOENT : EPERM;
		return -1;
	}
	if ((fd = sockpath_connect(path)) < 0) {
		saved = errno;
		snprintf(err, errlen, "no daemon at %s: %s", path,
		    strerror(saved));
		errno = saved == ENAMETOOLONG ? ENOENT : saved;
		return -1;
	}
	if (!sockpath_peer_allowed(fd, &uid, &pid)) {
		snprintf(err, errlen,
		    "not trusting %s: it is served by uid %d "
		    "(pid %d), neither us (uid %u) nor root",
		    path, (int)uid, (int)pid, (unsigned)getuid());
		close(fd);
		errno = EPERM;
		return -1;
	}
	return fd;
}

/*
 * Open the socket's directory (O_PATH) so that the socket can be removed
 * with unlinkat(2) once the process may no longer name paths (sandbox).
 * Returns the descriptor, or -1 with errno.
 */
int
sockpath_open_dir(const char *path)
{
	char dir[PATH_MAX];

	if (sockpath_dirname(path, dir, sizeof dir) != 0) {
		errno = ENAMETOOLONG;
		return -1;
	}
	return open(dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
}

/*
 * Does the socket's directory hold nothing but the socket? Returns 1, 0
 * (another entry is there), or -1 with errno if it cannot be read.
 */
int
sockpath_dir_alone(const char *path)
{
	char	       dir[PATH_MAX];
	const char    *base = strrchr(path, '/');
	struct dirent *de;
	DIR	      *dp;
	int	       alone = 1;

	base = base != NULL ? base + 1 : path;
	if (sockpath_dirname(path, dir, sizeof dir) != 0) {
		errno = ENAMETOOLONG;
		return -1;
	}
	if ((dp = opendir(dir)) == NULL)
		return -1;
	errno = 0;
	while (alone == 1 && (de = readdir(dp)) != NULL)
		if (strcmp(de->d_name, ".") != 0 &&
		    strcmp(de->d_name, "..") != 0 &&
		    strcmp(de->d_name, base) != 0)
			alone = 0;
	if (alone == 1 && errno != 0)
		alone = -1;
	closedir(dp);
	return alone;
}

/* Only our own uid and root may talk to us (SO_PEERCRED). */
bool
sockpath_peer_allowed(int fd, uid_t *uid, pid_t *pid)
{
	struct ucred cred;
	socklen_t    len = sizeof cred;

	*uid = (uid_t)-1;
	*pid = 0;
	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) != 0 ||
	    len != sizeof cred)
		return false;
	*uid = cred.uid;
	*pid = cred.pid;
	return cred.uid == getuid() || cred.uid == 0;
}

/*
 * Name a peer for the log: its pid and executable (readlink of
 * /proc/PID/exe; a process that is not dumpable hides it, then its
 * command name stands in). Confined (confined: the caller's seccomp
 * filter is in place), no file may be opened (the
 * allowlist has no open call; Landlock would refuse it), so there is no
 * command name; and Landlock refuses /proc/PID/exe of a process outside
 * its domain (EACCES, as for ptrace): with Landlock in effect the
 * executable is unknown.
 */
void
sockpath_peer_name(int pid, bool confined, char *buf, size_t size)
{
	char	path[64], exe[PATH_MAX], comm[32];
	ssize_t n;
	int	fd;

	snprintf(path, sizeof path, "/proc/%d/exe", pid);
	if ((n = readlink(path, exe, sizeof exe - 1)) > 0) {
		exe[n] = '\0';
		snprintf(buf, size, "pid %d (%s)", pid, exe);
		return;
	}
	if (confined) {
		snprintf(buf, size,
		    "pid %d (executable unknown: confined, "
		    "%s)",
		    pid, strerror(errno));
		return;
	}
	snprintf(path, sizeof path, "/proc/%d/comm", pid);
	n = -1;
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) >= 0) {
		n = read(fd, comm, sizeof comm - 1);
		close(fd);
	}
	if (n > 0) {
		comm[n] = '\0';
		comm[strcspn(comm, "\n")] = '\0';
		snprintf(buf, size, "pid %d (%s, executable not readable)", pid,
		    comm);
	} else
		snprintf(buf, size, "pid %d (executable unknown)", pid);
}
