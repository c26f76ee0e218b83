/* SPDX-License-Identifier: ISC */
/*
 * Handing a secret over to a command that dazai started, shared by dazai
 * exec and dazai mcp's tools. In the environment: the parent writes the
 * secret's length and then its bytes to a pipe, and the child reads them
 * into a locked buffer of its own as "VAR=<secret>", which execve(2)
 * copies into the new program. Through a FIFO: a private 0700 directory
 * under $XDG_RUNTIME_DIR (else /tmp), a FIFO in it named for the
 * variable, opened for writing without blocking until the command opens
 * it for reading, then unlinked at once (no second open finds it) and
 * written once from the locked buffer without ever blocking, so a reader
 * that stops reading holds up nobody's deadline.
 */
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "dazai/handover.h"
#include "dazai/secbuf.h"

/* Is var an environment variable's name ([A-Za-z_][A-Za-z0-9_]*)? */
bool
handover_var_ok(const char *var, size_t len)
{
	size_t i;

	if (len == 0 || len > HANDOVER_VAR_MAX ||
	    (var[0] >= '0' && var[0] <= '9'))
		return false;
	for (i = 0; i < len; i++)
		if (!((var[i] >= 'a' && var[i] <= 'z') ||
			(var[i] >= 'A' && var[i] <= 'Z') ||
			(var[i] >= '0' && var[i] <= '9') || var[i] == '_'))
			return false;
	return true;
}

/* Read exactly len bytes from fd; false at EOF or on an error. */
static bool
read_exact(int fd, void *buf, size_t len)
{
	unsigned char *p = buf;
	ssize_t	       n;

	while (len > 0) {
		if ((n = read(fd, p, len)) < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			if (n == 0)
				errno = EPIPE;
			return false;
		}
		p += n;
		len -= (size_t)n;
	}
	return true;
}

/*
 * In the parent: the secret in b for an environment variable, its length
 * first, on fd. Returns 0, or -1 with errno.
 */
int
handover_env_send(int fd, const struct secbuf *b)
{
	char	err[SECBUF_ERRLEN];
	ssize_t n;

	while ((n = write(fd, &b->len, sizeof b->len)) < 0 && errno == EINTR)
		;
	if (n != (ssize_t)sizeof b->len) {
		if (n >= 0)
			errno = EPIPE;
		return -1;
	}
	return secbuf_write_fd(b, fd, err, sizeof err);
}

/*
 * In the child: read what handover_env_send wrote on fd into b as
 * "var=<secret>", NUL-terminated, for the environment execve(2) is
 * given. A secret over max bytes or with a NUL byte cannot be one
 * (EINVAL). Returns the entry, inside b, or NULL with errno.
 */
char *
handover_env_entry(int fd, const char *var, size_t max, struct secbuf *b)
{
	size_t len, varlen = strlen(var);

	if (!read_exact(fd, &len, sizeof len))
		return NULL;
	if (len > max || len > SIZE_MAX / 2) {
		errno = EINVAL;
		return NULL;
	}
	if (secbuf_reserve(b, varlen + len + 2) != 0) {
		errno = ENOMEM;
		return NULL;
	}
	memcpy(b->p, var, varlen);
	b->p[varlen] = '=';
	b->len = varlen + 1;
	if (!read_exact(fd, b->p + varlen + 1, len))
		return NULL;
	b->len += len;
	if (memchr(b->p + varlen + 1, '\0', len) != NULL) {
		errno = EINVAL;
		return NULL;
	}
	b->p[b->len++] = '\0';
	return (char *)b->p;
}

/*
 * A private directory for FIFOs, "<base>/<prefix>.XXXXXX" under
 * $XDG_RUNTIME_DIR (else /tmp), mode 0700, its path in dir. Returns 0,
 * or -1 with errno and dir "".
 */
int
handover_dir_make(char *dir, size_t len, const char *prefix)
{
	struct stat st;
	const char *base = getenv("XDG_RUNTIME_DIR");
	int	    n;

	if (base == NULL || base[0] != '/' || stat(base, &st) != 0 ||
	    !S_ISDIR(st.st_mode))
		base = "/tmp";
	n = snprintf(dir, len, "%s/%s.XXXXXX", base, prefix);
	if (n < 0 || (size_t)n >= len) {
		dir[0] = '\0';
		errno = ENAMETOOLONG;
		return -1;
	}
	if (mkdtemp(dir) == NULL) {
		dir[0] = '\0';
		return -1;
	}
	return 0;
}

/*
 * Remove the directory handover_dir_make made (its FIFOs finished
 * first), if there is one; dir becomes "". Returns 0, or -1 with errno.
 */
int
handover_dir_remove(char *dir)
{
	int rc = 0;

	if (dir[0] != '\0' && rmdir(dir) != 0)
		rc = -1;
	dir[0] = '\0';
	return rc;
}

/*
 * A FIFO for variable var in dir, mode 0600. Returns 0, or -1 with
 * errno; either way f can be finished.
 */
int
handover_fifo_make(struct handover_fifo *f, const char *dir, const char *var)
{
	int n;

	memset(f, 0, sizeof *f);
	f->fd = -1;
	n = snprintf(f->path, sizeof f->path, "%s/%s", dir, var);
	if (n < 0 || (size_t)n >= sizeof f->path) {
		f->path[0] = '\0';
		errno = ENAMETOOLONG;
		return -1;
	}
	if (mkfifo(f->path, 0600) != 0) {
		f->path[0] = '\0';
		return -1;
	}
	return 0;
}

/*
 * One step of serving the FIFO the secret in b, never blocking: open it
 * if a reader has, unlink it then, and write what the pipe takes (a pipe
 * as big as the secret, where the kernel allows, takes it at once).
 * Returns 1 when it is done (served, or its reader went away), 0 while a
 * reader or room is awaited, -1 with errno when it failed (done too).
 */
int
handover_fifo_serve(struct handover_fifo *f, const struct secbuf *b)
{
	ssize_t n;
	int	e;

	if (f->done)
		return 1;
	if (f->fd < 0) {
		f->fd = open(f->path, O_WRONLY | O_NONBLOCK | O_CLOEXEC);
		if (f->fd < 0 && (errno == ENXIO || errno == EINTR))
			return 0; /* no reader yet */
		e = errno;
		(void)unlink(f->path);
		f->path[0] = '\0';
		if (f->fd < 0) {
			f->done = true;
			errno = e;
			return -1;
		}
		if (b->len > 4096)
			(void)fcntl(f->fd, F_SETPIPE_SZ,
			    (int)(b->len > INT_MAX ? INT_MAX : b->len));
	}
	while (f->off < b->len) {
		n = write(f->fd, b->p + f->off, b->len - f->off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			return 0;
		if (n < 0) {
			e = errno;
			handover_fifo_finish(f);
			errno = e;
			return e == EPIPE ? 1 : -1;
		}
		f->off += (size_t)n;
	}
	handover_fifo_finish(f);
	return 1;
}

/*
 * The FIFO is done with: closed (the reader sees its end) and removed if
 * no reader ever opened it.
 */
void
handover_fifo_finish(struct handover_fifo *f)
{
	if (f->fd >= 0)
		close(f->fd);
	f->fd = -1;
	if (f->path[0] != '\0')
		(void)unlink(f->path);
	f->path[0] = '\0';
	f->done = true;
}
