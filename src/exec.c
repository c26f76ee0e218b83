/* SPDX-License-Identifier: ISC */
/*
 * dazai exec: run a command with secrets handed over the ways programs
 * expect them: on a pipe at a descriptor of its choice, in an
 * environment variable of its own, or through a FIFO whose path is in an
 * environment variable. The command is found before anything else,
 * registered with the daemon before any secret exists here, and the
 * secrets are fetched only once execve(2) has succeeded, except those for
 * --env, which must be in the environment execve(2) is given.
 */
#include <sys/stat.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "dazai/client.h"
#include "dazai/exec.h"
#include "dazai/handover.h"
#include "dazai/log.h"
#include "dazai/parse.h"
#include "dazai/proto.h"
#include "dazai/secbuf.h"

#define EXEC_MAX     16 /* hand-overs in one call */
#define EXEC_FIFO_MS 10 /* how often a FIFO is tried for a reader */

extern char **environ;

enum exec_kind {
	EXEC_FD,   /* --fd N: a pipe at descriptor N */
	EXEC_ENV,  /* --env VAR: in CMD's environment */
	EXEC_FIFO, /* --fifo VAR: a FIFO, its path in VAR */
};

/* One hand-over of one secret to the command. */
struct handover {
	enum exec_kind	     kind;
	int		     fd;  /* EXEC_FD: the descriptor in CMD */
	const char	    *var; /* EXEC_ENV, EXEC_FIFO */
	size_t		     varlen;
	const char	    *name;    /* the secret's; NULL: the default */
	int		     buf;     /* its secret in plan.b[buf] */
	int		     pipe[2]; /* EXEC_FD: read end CMD's, -1 closed */
	struct handover_fifo fifo;    /* EXEC_FIFO */
	bool		     done;
};

/* Every hand-over of one call, and each secret they need, fetched once. */
struct plan {
	struct handover h[EXEC_MAX];
	int		n;
	struct secbuf	b[EXEC_MAX]; /* one per distinct name */
	const char     *bname[EXEC_MAX];
	int		users[EXEC_MAX]; /* hand-overs still to serve */
	bool		fetched[EXEC_MAX];
	int		nb;
	char		dir[PATH_MAX]; /* the FIFOs' directory, or "" */
};

/* The command, for the signals dazai passes on to it. */
static volatile pid_t exec_child;

/*
 * Find cmd as execvp would (a name with a slash as it is, else along
 * $PATH), so a command that cannot run is known before a secret is
 * fetched for it. Returns 0 with the path in buf, or the exit status
 * after saying why (127 not found, 126 found but not executable).
 */
static int
find_command(const char *cmd, char *buf, size_t len)
{
	struct stat st;
	const char *path, *p, *end;
	bool	    denied = false;
	int	    n;

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
	for (p = path;; p = end + 1) {
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
 * In the child: the environment CMD gets, ours with each --fifo VAR set
 * to its FIFO's path and each --env VAR=<secret> from the go pipe. NULL
 * on failure.
 */
static char **
child_environment(int gofd, struct plan *pl, struct secbuf *env)
{
	char **envp, *entry;
	size_t n = 0, i;
	int    k, nenv = 0;

	for (k = 0; k < pl->n; k++)
		if (pl->h[k].kind == EXEC_FIFO &&
		    setenv(pl->h[k].var, pl->h[k].fifo.path, 1) != 0)
			return NULL;
		else if (pl->h[k].kind == EXEC_ENV) {
			unsetenv(pl->h[k].var);
			nenv++;
		}
	while (environ != NULL && environ[n] != NULL)
		n++;
	if ((envp = calloc(n + (size_t)nenv + 1, sizeof *envp)) == NULL)
		return NULL;
	for (i = 0; i < n; i++)
		envp[i] = environ[i];
	for (k = 0; k < pl->n; k++) {
		if (pl->h[k].kind != EXEC_ENV)
			continue;
		if ((entry = handover_env_entry(gofd, pl->h[k].var, SIZE_MAX,
			 env++)) == NULL)
			return NULL;
		envp[i++] = entry;
	}
	envp[i] = NULL;
	return envp;
}

/*
 * In the child: wait for the go byte, read the --env secrets after it,
 * put each --fd pipe at its descriptor and exec. The pipes and errfd are
 * first moved above every target descriptor, so no dup2(2) closes one
 * still to be placed. An exec failure is reported through errfd
 * (close-on-exec, so a successful exec closes it empty). Never returns.
 */
static void __attribute__((noreturn))
child_exec(int gofd, int errfd, struct plan *pl, const char *path, char **argv)
{
	struct secbuf env[EXEC_MAX];
	char	    **envp;
	char	      c;
	int	      e, k, top = 2, fd;

	memset(env, 0, sizeof env);
	if (read(gofd, &c, 1) != 1)
		_exit(CLIENT_EXIT_NOEXEC); /* the parent gave up */
	if ((envp = child_environment(gofd, pl, env)) == NULL)
		_exit(CLIENT_EXIT_NOEXEC);
	close(gofd);
	for (k = 0; k < pl->n; k++)
		if (pl->h[k].kind == EXEC_FD && pl->h[k].fd > top)
			top = pl->h[k].fd;
	if ((fd = fcntl(errfd, F_DUPFD_CLOEXEC, top + 1)) < 0)
		_exit(CLIENT_EXIT_NOEXEC);
	close(errfd);
	errfd = fd;
	for (k = 0; k < pl->n; k++) {
		if (pl->h[k].kind != EXEC_FD)
			continue;
		if ((fd = fcntl(pl->h[k].pipe[0], F_DUPFD_CLOEXEC, top + 1)) <
		    0)
			goto fail;
		close(pl->h[k].pipe[0]);
		pl->h[k].pipe[0] = fd;
	}
	for (k = 0; k < pl->n; k++)
		if (pl->h[k].kind == EXEC_FD &&
		    dup2(pl->h[k].pipe[0], pl->h[k].fd) < 0)
			goto fail;
	signal(SIGPIPE, SIG_DFL);
	execve(path, argv, envp);
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
	struct client c;
	char request[64], reply[CLIENT_REPLY_MAX + 1], err[CLIENT_ERRLEN];

	if (client_open(&c, x->path, x->is_default, err, sizeof err) != 0)
		return;
	snprintf(request, sizeof request, "UNREGISTER pid=%d", (int)pid);
	(void)client_request(&c, request, reply, sizeof reply, err, sizeof err);
	client_close(&c);
}

/*
 * Kill a child that never got to run its command, unregister it while it
 * is a zombie (its pid cannot be reused before we reap it), reap it.
 */
static void
abandon_child(const struct exec_ctx *x, pid_t pid, bool registered)
{
	siginfo_t si;
	int	  st;

	kill(pid, SIGKILL);
	while (waitid(P_PID, (id_t)pid, &si, WEXITED | WNOWAIT) != 0 &&
	    errno == EINTR)
		;
	if (registered)
		unregister_quietly(x, pid);
	while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
		;
}

/*
 * One hand-over from its option's value, "N[=NAME]" or "VAR[=NAME]",
 * checked against those before it. Returns 0, or -1 after saying why.
 */
static int
exec_handover(struct plan *pl, enum exec_kind kind, const char *opt, char *val)
{
	struct handover *h = &pl->h[pl->n];
	char		*eq;
	int		 k;

	if (pl->n == EXEC_MAX) {
		log_warnx("exec: more than %d hand-overs", EXEC_MAX);
		return -1;
	}
	memset(h, 0, sizeof *h);
	h->kind = kind;
	h->pipe[0] = h->pipe[1] = -1;
	h->fifo.fd = -1;
	if ((eq = strchr(val, '=')) != NULL) {
		*eq = '\0';
		h->name = eq + 1;
		if (!proto_name_valid(h->name, strlen(h->name))) {
			log_warnx("exec: %s: '%s' is not a secret name", opt,
			    h->name);
			return -1;
		}
	}
	if (kind == EXEC_FD) {
		if (parse_fd(val, 1023, &h->fd) != 0) {
			log_warnx("exec: %s: '%s' is not a descriptor number "
				  "(0 to 1023)",
			    opt, val);
			return -1;
		}
	} else if (!handover_var_ok(val, strlen(val))) {
		log_warnx("exec: %s: '%s' is not a variable name", opt, val);
		return -1;
	} else {
		h->var = val;
		h->varlen = strlen(val);
	}
	for (k = 0; k < pl->n; k++)
		if ((kind == EXEC_FD && pl->h[k].kind == EXEC_FD &&
			pl->h[k].fd == h->fd) ||
		    (kind != EXEC_FD && pl->h[k].kind != EXEC_FD &&
			strcmp(pl->h[k].var, h->var) == 0)) {
			log_warnx("exec: %s: %s handed over twice", opt, val);
			return -1;
		}
	pl->n++;
	return 0;
}

/*
 * Parse exec's own options into pl (no hand-over named: --fd 0); returns
 * the index of CMD, or -1.
 */
static int
exec_options(int argc, char **argv, struct plan *pl)
{
	static const struct {
		const char    *opt;
		enum exec_kind kind;
	} opts[] = {
		{ "--fd", EXEC_FD },
		{ "--env", EXEC_ENV },
		{ "--fifo", EXEC_FIFO },
	};
	size_t j, len;
	char  *val;
	int    i = 1;

	while (i < argc && strncmp(argv[i], "--", 2) == 0) {
		if (strcmp(argv[i], "--") == 0) {
			i++;
			break;
		}
		val = NULL;
		for (j = 0; j < sizeof opts / sizeof opts[0]; j++) {
			len = strlen(opts[j].opt);
			if (strcmp(argv[i], opts[j].opt) == 0 && i + 1 < argc)
				val = argv[++i];
			else if (strncmp(argv[i], opts[j].opt, len) == 0 &&
			    argv[i][len] == '=')
				val = argv[i] + len + 1;
			if (val != NULL)
				break;
		}
		if (val == NULL) {
			log_warnx("exec: %s: unknown option (see --help)",
			    argv[i]);
			return -1;
		}
		if (exec_handover(pl, opts[j].kind, opts[j].opt, val) != 0)
			return -1;
		i++;
	}
	if (pl->n == 0) {
		pl->h[0].kind = EXEC_FD;
		pl->h[0].pipe[0] = pl->h[0].pipe[1] = -1;
		pl->n = 1;
	}
	if (i >= argc)
		log_warnx("exec: no command (see --help)");
	return i < argc ? i : -1;
}

/* Give each hand-over its secret's buffer, one for each distinct name. */
static void
plan_buffers(struct plan *pl)
{
	struct handover *h;
	int		 k, j;

	for (k = 0; k < pl->n; k++) {
		h = &pl->h[k];
		for (j = 0; j < pl->nb; j++)
			if ((h->name == NULL && pl->bname[j] == NULL) ||
			    (h->name != NULL && pl->bname[j] != NULL &&
				strcmp(h->name, pl->bname[j]) == 0))
				break;
		if (j == pl->nb)
			pl->bname[pl->nb++] = h->name;
		h->buf = j;
		pl->users[j]++;
	}
}

/* A hand-over is done with its secret: zero it after its last one. */
static void
plan_release(struct plan *pl, struct handover *h)
{
	if (h->done)
		return;
	h->done = true;
	if (--pl->users[h->buf] == 0)
		secbuf_free(&pl->b[h->buf]);
}

/*
 * The FIFOs' private directory and a FIFO in it for each --fifo, named
 * for its variable. Returns 0, or -1 after saying why.
 */
static int
plan_fifos(struct plan *pl)
{
	int k;

	for (k = 0; k < pl->n && pl->h[k].kind != EXEC_FIFO; k++)
		;
	if (k == pl->n)
		return 0;
	if (handover_dir_make(pl->dir, sizeof pl->dir, "dazai-exec") != 0) {
		log_warn("exec: a directory for the FIFOs");
		return -1;
	}
	for (k = 0; k < pl->n; k++)
		if (pl->h[k].kind == EXEC_FIFO &&
		    handover_fifo_make(&pl->h[k].fifo, pl->dir, pl->h[k].var) !=
			0) {
			log_warn("exec: --fifo %s: mkfifo in %s", pl->h[k].var,
			    pl->dir);
			return -1;
		}
	return 0;
}

/*
 * Undo what is left of a plan: zero every secret still held, close the
 * pipes' write ends, remove the FIFOs and their directory.
 */
static void
plan_finish(struct plan *pl)
{
	char dir[PATH_MAX];
	int  k;

	for (k = 0; k < pl->n; k++) {
		if (pl->h[k].pipe[1] >= 0)
			close(pl->h[k].pipe[1]);
		pl->h[k].pipe[1] = -1;
		if (pl->h[k].kind == EXEC_FIFO)
			handover_fifo_finish(&pl->h[k].fifo);
	}
	for (k = 0; k < pl->nb; k++)
		secbuf_free(&pl->b[k]);
	snprintf(dir, sizeof dir, "%s", pl->dir);
	if (handover_dir_remove(pl->dir) != 0)
		log_warn("exec: rmdir %s", dir);
}

/*
 * Fetch the secrets the hand-overs of kind (any kind: -1) need, each
 * once, on c. Returns 0, or the exit status after saying why not.
 */
static int
plan_fetch(const struct exec_ctx *x, struct client *c, struct plan *pl,
    int kind)
{
	int k, rc;

	for (k = 0; k < pl->n; k++) {
		if ((kind >= 0 && (int)pl->h[k].kind != kind) ||
		    pl->fetched[pl->h[k].buf])
			continue;
		if ((rc = x->fetch(c, pl->h[k].name, &pl->b[pl->h[k].buf])) !=
		    0)
			return rc;
		pl->fetched[pl->h[k].buf] = true;
	}
	return 0;
}

/*
 * The go byte, then each --env secret (its length first) for the child
 * to put in CMD's environment; an --env secret with a NUL byte cannot be
 * one, and is refused before the go byte. Returns 0, or the exit status.
 */
static int
send_go(int gofd, struct plan *pl)
{
	struct handover *h;
	struct secbuf	*b;
	int		 k;

	for (k = 0; k < pl->n; k++) {
		h = &pl->h[k];
		b = &pl->b[h->buf];
		if (h->kind == EXEC_ENV && memchr(b->p, '\0', b->len) != NULL) {
			log_warnx(
			    "exec: --env %s: the secret %s%s%s holds a "
			    "NUL byte, which an environment variable cannot; "
			    "use --fd or --fifo",
			    h->var, h->name ? "\"" : "", h->name ? h->name : "",
			    h->name ? "\"" : "");
			return CLIENT_EXIT_REFUSED;
		}
	}
	if (write(gofd, "", 1) != 1) {
		log_warn("exec: starting the command");
		return CLIENT_EXIT_REFUSED;
	}
	for (k = 0; k < pl->n; k++) {
		h = &pl->h[k];
		b = &pl->b[h->buf];
		if (h->kind != EXEC_ENV)
			continue;
		if (handover_env_send(gofd, b) != 0) {
			log_warnx("exec: handing over --env %s failed", h->var);
			return CLIENT_EXIT_REFUSED;
		}
		plan_release(pl, h);
	}
	return 0;
}

/* Write each --fd secret into its pipe, and close it. */
static void
serve_pipes(struct plan *pl, const char *path)
{
	struct handover *h;
	struct secbuf	*b;
	char		 err[SECBUF_ERRLEN];
	int		 k;

	for (k = 0; k < pl->n; k++) {
		h = &pl->h[k];
		b = &pl->b[h->buf];
		if (h->kind != EXEC_FD)
			continue;
		/* A pipe as big as the secret takes it in one write, so it
		 * leaves our memory at once even before the command reads
		 * it. */
		if (b->len > 4096)
			(void)fcntl(h->pipe[1], F_SETPIPE_SZ,
			    (int)(b->len > INT_MAX ? INT_MAX : b->len));
		if (secbuf_write_fd(b, h->pipe[1], err, sizeof err) != 0 &&
		    errno != EPIPE)
			log_warnx("exec: writing the secret to %s (fd %d): "
				  "%s",
			    path, h->fd, err);
		close(h->pipe[1]);
		h->pipe[1] = -1;
		plan_release(pl, h);
	}
}

/*
 * Serve each FIFO once: as soon as CMD opens one for reading it is
 * unlinked (no second open finds it), given the secret and closed. Ends
 * when every FIFO is served or CMD has ended.
 */
static void
serve_fifos(struct plan *pl, pid_t pid)
{
	struct handover *h;
	siginfo_t	 si;
	int		 k, left, rc;

	for (;;) {
		left = 0;
		for (k = 0; k < pl->n; k++) {
			h = &pl->h[k];
			if (h->kind != EXEC_FIFO || h->done)
				continue;
			if ((rc = handover_fifo_serve(&h->fifo,
				 &pl->b[h->buf])) == 0) {
				left++; /* no reader or room yet */
				continue;
			}
			if (rc < 0)
				log_warn("exec: --fifo %s", h->var);
			plan_release(pl, h);
		}
		if (left == 0)
			return;
		memset(&si, 0, sizeof si);
		if (waitid(P_PID, (id_t)pid, &si,
			WEXITED | WNOHANG | WNOWAIT) == 0 &&
		    si.si_pid == pid)
			return;
		(void)poll(NULL, 0, EXEC_FIFO_MS);
	}
}

/*
 * SIGTERM or SIGHUP to dazai while CMD runs: pass it on, so CMD ends and
 * dazai cleans up after it (the FIFOs' directory, the registration).
 * Only kill(2), which is async-signal-safe.
 */
static void
forward_signal(int sig)
{
	if (exec_child > 0)
		(void)kill(exec_child, sig);
}

/*
 * Before a command is started for it: does the daemon hold a secret at
 * all? Only a daemon that reports secret_bytes can say no; anything else
 * is left to GET. Returns 0, or the exit status after saying why not.
 */
static int
secret_held(struct client *c)
{
	struct client_status st;
	char		     reply[CLIENT_REPLY_MAX + 1], err[CLIENT_ERRLEN];
	const char	    *v;
	int		     rc;

	if (client_request(c, "STATUS", reply, sizeof reply, err, sizeof err) !=
	    0) {
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
 * exec [--fd N[=NAME]]... [--env VAR[=NAME]]... [--fifo VAR[=NAME]]... --
 * CMD ARGS. The order is what makes it safe: the child is registered
 * before any secret exists here, and the secrets are fetched only once
 * execve(2) has succeeded, so a command that cannot start (a missing #!
 * interpreter, a file the kernel will not run) spends no read of them;
 * only --env's are fetched before, since execve(2) must be given them,
 * and a refused one (a NUL byte) means CMD never runs.
 */
int
exec_run(const struct exec_ctx *x, int argc, char **argv)
{
	static struct plan pl;
	struct sigaction   sa;
	struct client	   c;
	char		   path[PATH_MAX], request[64];
	int		   go[2], ep[2], first, rc, e, st, k;
	siginfo_t	   si;
	ssize_t		   n;
	pid_t		   pid;

	memset(&pl, 0, sizeof pl);
	if ((first = exec_options(argc, argv, &pl)) < 0)
		return CLIENT_EXIT_USAGE;
	plan_buffers(&pl);
	if ((rc = find_command(argv[first], path, sizeof path)) != 0)
		return rc;
	if ((rc = x->connect(x, &c)) != 0)
		return rc;
	if ((rc = secret_held(&c)) != 0) {
		client_close(&c);
		return rc;
	}
	rc = pipe2(go, O_CLOEXEC) != 0 || pipe2(ep, O_CLOEXEC) != 0;
	for (k = 0; k < pl.n && rc == 0; k++)
		if (pl.h[k].kind == EXEC_FD)
			rc = pipe2(pl.h[k].pipe, O_CLOEXEC) != 0;
	if (rc != 0) {
		log_warn("exec: pipe");
		client_close(&c);
		return CLIENT_EXIT_REFUSED;
	}
	if (plan_fifos(&pl) != 0) {
		plan_finish(&pl);
		client_close(&c);
		return CLIENT_EXIT_REFUSED;
	}
	/* Fork before any secret exists, so no copy of one is forked. */
	if ((pid = fork()) < 0) {
		log_warn("exec: fork");
		plan_finish(&pl);
		client_close(&c);
		return CLIENT_EXIT_REFUSED;
	}
	if (pid == 0) {
		close(go[1]);
		close(ep[0]);
		for (k = 0; k < pl.n; k++)
			if (pl.h[k].pipe[1] >= 0)
				close(pl.h[k].pipe[1]);
		client_close(&c);
		child_exec(go[0], ep[1], &pl, path, argv + first);
	}
	close(go[0]);
	close(ep[1]);
	for (k = 0; k < pl.n; k++)
		if (pl.h[k].pipe[0] >= 0) {
			close(pl.h[k].pipe[0]);
			pl.h[k].pipe[0] = -1;
		}
	exec_child = pid;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = forward_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	snprintf(request, sizeof request, "REGISTER pid=%d", (int)pid);
	if ((rc = x->request(&c, "exec: register", request)) != 0) {
		close(go[1]);
		goto abandon_unregistered;
	}
	/* Registered: the --env secrets, then let the command start and
	 * learn whether it did. The error pipe is close-on-exec, so EOF on
	 * it means execve worked. */
	if ((rc = plan_fetch(x, &c, &pl, EXEC_ENV)) != 0 ||
	    (rc = send_go(go[1], &pl)) != 0) {
		close(go[1]);
		goto abandon;
	}
	close(go[1]);
	while ((n = read(ep[0], &e, sizeof e)) < 0 && errno == EINTR)
		;
	close(ep[0]);
	ep[0] = -1;
	if (n == (ssize_t)sizeof e) {
		errno = e;
		log_warn("exec: %s", path);
		rc = e == ENOENT ? CLIENT_EXIT_NOTFOUND : CLIENT_EXIT_NOEXEC;
		goto abandon;
	}
	/* The command runs, waiting on its pipes; a refused GET kills it
	 * before it has been given anything more. */
	if ((rc = plan_fetch(x, &c, &pl, -1)) != 0)
		goto abandon;
	client_close(&c);
	serve_pipes(&pl, path);

	/* The command owns the terminal's ^C and ^\ now, as in system(3). */
	signal(SIGINT, SIG_IGN);
	signal(SIGQUIT, SIG_IGN);
	serve_fifos(&pl, pid);
	/* Unregister while the child is a zombie: its pid cannot be reused
	 * before we reap it. */
	while (waitid(P_PID, (id_t)pid, &si, WEXITED | WNOWAIT) != 0 &&
	    errno == EINTR)
		;
	plan_finish(&pl);
	unregister_quietly(x, pid);
	while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
		;
	if (WIFSIGNALED(st))
		return 128 + WTERMSIG(st);
	return WEXITSTATUS(st);

abandon:
	client_close(&c);
	if (ep[0] >= 0)
		close(ep[0]);
	abandon_child(x, pid, true);
	plan_finish(&pl);
	return rc;
abandon_unregistered:
	client_close(&c);
	close(ep[0]);
	abandon_child(x, pid, false);
	plan_finish(&pl);
	return rc;
}
