/* SPDX-License-Identifier: ISC */
/*
 * dazai exec: run a command with the secret on a pipe at a descriptor of
 * its choice. The command is found before anything else, registered with
 * the daemon before the secret exists here, and the secret is fetched
 * only once execve(2) has succeeded.
 */
#include <sys/stat.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "dazai/client.h"
#include "dazai/exec.h"
#include "dazai/log.h"
#include "dazai/parse.h"
#include "dazai/secbuf.h"

/*
 * Find cmd as execvp would (a name with a slash as it is, else along
 * $PATH), so a command that cannot run is known before a secret is
 * fetched for it. Returns 0 with the path in buf, or the exit status
 * after saying why (127 not found, 126 found but not executable).
 */
static int
find_command(const char *cmd, char *buf, size_t len)
{
	struct stat	 st;
	const char	*path, *p, *end;
	bool		 denied = false;
	int		 n;

	if (strchr(cmd, '/') != NULL) {
		snprintf(buf, len, "%s", cmd);
		if (stat(cmd, &st) != 0) {
			log_warn("exec: %s", cmd);
			return CLIENT_EXIT_NOTFOUND;
		}
		if (!S_ISREG(st.st_mode) || access(cmd, X_OK) != 0) {
			log_warnx("exec: %s: not an executable file", cmd);
			return CLIENT_EXIT_NOEXEC;
		}
		return 0;
	}
	if ((path = getenv("PATH")) == NULL || *path == '\0')
		path = "/usr/local/bin:/usr/bin:/bin";
	for (p = path; ; p = end + 1) {
		end = strchrnul(p, ':');
		n = snprintf(buf, len, "%.*s%s%s", (int)(end - p), p,
		    end == p ? "" : "/", cmd);
		if (n > 0 && (size_t)n < len && stat(buf, &st) == 0 &&
		    S_ISREG(st.st_mode)) {
			if (access(buf, X_OK) == 0)
				return 0;
			denied = true;
		}
		if (*end == '\0')
			break;
	}
	if (denied) {
		log_warnx("exec: %s: permission denied", cmd);
		return CLIENT_EXIT_NOEXEC;
	}
	log_warnx("exec: %s: command not found", cmd);
	return CLIENT_EXIT_NOTFOUND;
}

/*
 * In the child: wait for the go byte, put the secret's pipe at fd and
 * exec. An exec failure is reported through errfd (close-on-exec, so a
 * successful exec closes it empty). Never returns.
 */
static void __attribute__((noreturn))
child_exec(int gofd, int errfd, int secfd, int fd, const char *path,
    char **argv)
{
	char	 c;
	int	 e;

	if (read(gofd, &c, 1) != 1)
		_exit(CLIENT_EXIT_NOEXEC);	/* the parent gave up */
	close(gofd);
	if (errfd == fd && (errfd = fcntl(errfd, F_DUPFD_CLOEXEC, fd + 1)) < 0)
		_exit(CLIENT_EXIT_NOEXEC);
	if (secfd != fd) {
		if (dup2(secfd, fd) < 0)
			goto fail;
		close(secfd);
	} else if (fcntl(fd, F_SETFD, 0) != 0)
		goto fail;
	signal(SIGPIPE, SIG_DFL);
	execv(path, argv);
fail:
	e = errno;
	if (write(errfd, &e, sizeof e) < 0) {
		/* the exit status says it too */
	}
	_exit(e == ENOENT ? CLIENT_EXIT_NOTFOUND : CLIENT_EXIT_NOEXEC);
}

/* Send UNREGISTER for pid on a fresh connection, best effort. */
static void
unregister_quietly(const struct exec_ctx *x, pid_t pid)
{
	struct client	 c;
	char		 request[64], reply[CLIENT_REPLY_MAX + 1],
			 err[CLIENT_ERRLEN];

	if (client_open(&c, x->path, x->is_default, err, sizeof err) != 0)
		return;
	snprintf(request, sizeof request, "UNREGISTER pid=%d", (int)pid);
	(void)client_request(&c, request, reply, sizeof reply, err,
	    sizeof err);
	client_close(&c);
}

/*
 * Kill a child that never got to run its command, unregister it while it
 * is a zombie (its pid cannot be reused before we reap it), reap it.
 */
static void
abandon_child(const struct exec_ctx *x, pid_t pid, bool registered)
{
	siginfo_t	 si;
	int		 st;

	kill(pid, SIGKILL);
	while (waitid(P_PID, (id_t)pid, &si, WEXITED | WNOWAIT) != 0 &&
	    errno == EINTR)
		;
	if (registered)
		unregister_quietly(x, pid);
	while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
		;
}

/* Parse exec's own options; returns the index of CMD, or -1. */
static int
exec_options(int argc, char **argv, int *fd)
{
	int	 i = 1;

	*fd = 0;
	while (i < argc && strncmp(argv[i], "--", 2) == 0) {
		const char	*val = NULL;

		if (strcmp(argv[i], "--") == 0)
			return ++i < argc ? i : -1;
		if (strcmp(argv[i], "--fd") == 0 && i + 1 < argc)
			val = argv[++i];
		else if (strncmp(argv[i], "--fd=", 5) == 0)
			val = argv[i] + 5;
		else {
			log_warnx("exec: %s: unknown option (see --help)",
			    argv[i]);
			return -1;
		}
		if (parse_fd(val, 1023, fd) != 0) {
			log_warnx("exec: --fd: '%s' is not a descriptor "
			    "number (0 to 1023)", val);
			return -1;
		}
		i++;
	}
	if (i >= argc)
		log_warnx("exec: no command (see --help)");
	return i < argc ? i : -1;
}

/*
 * Before a command is started for it: does the daemon hold a secret at
 * all? Only a daemon that reports secret_bytes can say no; anything else
 * is left to GET. Returns 0, or the exit status after saying why not.
 */
static int
secret_held(struct client *c)
{
	struct client_status	 st;
	char			 reply[CLIENT_REPLY_MAX + 1],
				 err[CLIENT_ERRLEN];
	const char		*v;
	int			 rc;

	if (client_request(c, "STATUS", reply, sizeof reply, err,
	    sizeof err) != 0) {
		log_warnx("exec: %s", err);
		return CLIENT_EXIT_REFUSED;
	}
	if ((rc = client_parse_status(reply, &st, err, sizeof err)) != 0) {
		log_warnx("exec: %s%s", rc > 0 ? "refused: " : "", err);
		return CLIENT_EXIT_REFUSED;
	}
	if ((v = client_status_get(&st, "secret_bytes")) != NULL &&
	    strcmp(v, "0") == 0) {
		log_warnx("exec: refused: no secret");
		return CLIENT_EXIT_REFUSED;
	}
	return 0;
}

/*
 * exec [--fd N] -- CMD ARGS. The order is what makes it safe: the child
 * is registered before the secret exists here, and the secret is fetched
 * only once execve(2) has succeeded, so a command that cannot start
 * (a missing #! interpreter, a file the kernel will not run) spends no
 * read of it.
 */
int
exec_run(const struct exec_ctx *x, int argc, char **argv)
{
	struct secbuf	 b = { NULL, 0, 0 };
	struct client	 c;
	char		 path[PATH_MAX], request[64], err[SECBUF_ERRLEN];
	int		 go[2], ep[2], sp[2], fd, first, rc, e, st;
	siginfo_t	 si;
	ssize_t		 n;
	pid_t		 pid;

	if ((first = exec_options(argc, argv, &fd)) < 0)
		return CLIENT_EXIT_USAGE;
	if ((rc = find_command(argv[first], path, sizeof path)) != 0)
		return rc;
	if ((rc = x->connect(x, &c)) != 0)
		return rc;
	if ((rc = secret_held(&c)) != 0) {
		client_close(&c);
		return rc;
	}
	if (pipe2(go, O_CLOEXEC) != 0 || pipe2(ep, O_CLOEXEC) != 0 ||
	    pipe2(sp, O_CLOEXEC) != 0) {
		log_warn("exec: pipe");
		client_close(&c);
		return CLIENT_EXIT_REFUSED;
	}
	/* Fork before the secret exists, so no copy of it is forked. */
	if ((pid = fork()) < 0) {
		log_warn("exec: fork");
		client_close(&c);
		return CLIENT_EXIT_REFUSED;
	}
	if (pid == 0) {
		close(go[1]);
		close(ep[0]);
		close(sp[1]);
		client_close(&c);
		child_exec(go[0], ep[1], sp[0], fd, path, argv + first);
	}
	close(go[0]);
	close(ep[1]);
	close(sp[0]);
	snprintf(request, sizeof request, "REGISTER pid=%d", (int)pid);
	if ((rc = x->request(&c, "exec: register", request)) != 0) {
		client_close(&c);
		abandon_child(x, pid, false);
		return rc;
	}
	/* Registered: let the command start, and learn whether it did. The
	 * error pipe is close-on-exec, so EOF on it means execve worked. */
	if (write(go[1], "", 1) != 1)
		log_warn("exec: starting the command");
	close(go[1]);
	while ((n = read(ep[0], &e, sizeof e)) < 0 && errno == EINTR)
		;
	close(ep[0]);
	if (n == (ssize_t)sizeof e) {
		errno = e;
		log_warn("exec: %s", path);
		client_close(&c);
		close(sp[1]);
		abandon_child(x, pid, true);
		return e == ENOENT ? CLIENT_EXIT_NOTFOUND :
		    CLIENT_EXIT_NOEXEC;
	}
	/* The command runs, waiting on its pipe; a refused GET kills it
	 * before it has been given anything. */
	if ((rc = x->fetch(&c, NULL, &b)) != 0) {
		client_close(&c);
		close(sp[1]);
		abandon_child(x, pid, true);
		return rc;
	}
	client_close(&c);
	/* A pipe as big as the secret takes it in one write, so it leaves
	 * our memory at once even before the command reads it. */
	if (b.len > 4096)
		(void)fcntl(sp[1], F_SETPIPE_SZ, (int)(b.len > INT_MAX ?
		    INT_MAX : b.len));
	if (secbuf_write_fd(&b, sp[1], err, sizeof err) != 0 &&
	    errno != EPIPE)
		log_warnx("exec: writing the secret to %s: %s", path, err);
	secbuf_free(&b);
	close(sp[1]);

	/* The command owns the terminal's ^C and ^\ now, as in system(3). */
	signal(SIGINT, SIG_IGN);
	signal(SIGQUIT, SIG_IGN);
	/* Unregister while the child is a zombie: its pid cannot be reused
	 * before we reap it. */
	while (waitid(P_PID, (id_t)pid, &si, WEXITED | WNOWAIT) != 0 &&
	    errno == EINTR)
		;
	unregister_quietly(x, pid);
	while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
		;
	if (WIFSIGNALED(st))
		return 128 + WTERMSIG(st);
	return WEXITSTATUS(st);
}
