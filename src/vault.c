/* SPDX-License-Identifier: ISC */
/*
 * The held secret's life, from LOAD to wipe: what may be loaded and
 * read, when it expires (one timer for the nearest lifetime limit), and
 * how it goes away (WIPE, expiry, replacement, a panic). The bytes move
 * between the socket and the secure buffer in conn; this file decides.
 */
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <ev.h>

#include "dazai/conn.h"
#include "dazai/log.h"
#include "dazai/policy.h"
#include "dazai/proto.h"
#include "dazai/secmem.h"
#include "dazai/vault.h"

#define container_of(p, type, member) \
	((type *)(void *)((char *)(p) - offsetof(type, member)))

static void	vault_life_cb(struct ev_loop *, ev_timer *, int);
static void	vault_source_cb(struct ev_loop *, ev_io *, int);

/* An empty vault on loop; ops are its owner's. */
void
vault_init(struct vault *v, struct ev_loop *loop, const struct vault_ops *ops)
{
	v->loop = loop;
	v->sm = NULL;
	v->secret_max = 4 * 1024 * 1024;
	v->allow_get = true;
	v->nstreams = 0;
	v->ops = *ops;
	policy_life_init(&v->life, 0, 0, 0);
	ev_init(&v->life_w, vault_life_cb);
	ev_init(&v->source_w, vault_source_cb);
	v->source_done = NULL;
}

/* What LOAD and GET may do, and the lifetimes (0: off for each). */
void
vault_set_limits(struct vault *v, size_t secret_max, bool allow_get,
    double max_lifetime, double idle_timeout, unsigned long max_reads)
{
	v->secret_max = secret_max;
	v->allow_get = allow_get;
	policy_life_init(&v->life, max_lifetime, idle_timeout, max_reads);
}

/* The secure buffer the vault keeps from now on. */
void
vault_set_secret(struct vault *v, struct secmem *sm)
{
	v->sm = sm;
}

/* Is a secret held (loaded and committed)? */
bool
vault_held(const struct vault *v)
{
	return v->sm != NULL && v->sm->state == SECMEM_HELD;
}

/*
 * Is there nothing at all? A secret whose wipe failed is not held (it
 * cannot be read) but not gone either.
 */
bool
vault_empty(const struct vault *v)
{
	return v->sm == NULL || (v->sm->state != SECMEM_HELD &&
	    v->sm->state != SECMEM_DIRTY);
}

/*
 * (Re)start the lifetime timer for the nearest time limit, if any. While
 * a GET is being written no timer runs: a limit that falls due then takes
 * effect when the GET ends or is cut short (vault_sent), and nothing
 * wakes the loop in between.
 */
static void
vault_life_arm(struct vault *v)
{
	double	 left = policy_life_left(&v->life, log_now());

	ev_timer_stop(v->loop, &v->life_w);
	if (left < 0 || v->nstreams > 0)
		return;
	/* A little past the limit, so the check finds it reached. */
	ev_timer_set(&v->life_w, left + 0.001, 0);
	ev_timer_start(v->loop, &v->life_w);
}

/*
 * Warn about a secret file that others can read, or replace (through its
 * directory): the copy on disk is not ours to protect, but it should be
 * as private as the memory it is loaded into.
 */
static void
vault_file_hygiene(const char *path, const struct stat *st)
{
	struct stat	 dst;
	char		 dir[PATH_MAX], *slash;

	if (!S_ISREG(st->st_mode))
		return;
	if (st->st_mode & (S_IRGRP | S_IROTH))
		log_warnx("WARNING: secret file %s is readable by group or "
		    "others (mode %04o): chmod 600 it, and consider the "
		    "secret seen", path, (unsigned)(st->st_mode & 07777));
	else if (st->st_mode & (S_IWGRP | S_IWOTH))
		log_warnx("WARNING: secret file %s is writable by group or "
		    "others (mode %04o): chmod 600 it", path,
		    (unsigned)(st->st_mode & 07777));
	if (st->st_uid != getuid() && st->st_uid != 0)
		log_warnx("WARNING: secret file %s belongs to uid %u, not to "
		    "you", path, (unsigned)st->st_uid);
	snprintf(dir, sizeof dir, "%s", path);
	if ((slash = strrchr(dir, '/')) == NULL)
		snprintf(dir, sizeof dir, ".");
	else if (slash == dir)
		dir[1] = '\0';
	else
		*slash = '\0';
	if (stat(dir, &dst) == 0 && (dst.st_mode & (S_IWGRP | S_IWOTH)) &&
	    !(dst.st_mode & S_ISVTX))
		log_warnx("WARNING: secret file %s is in %s, which group or "
		    "others can write: they can replace the file (chmod go-w "
		    "%s)", path, dir, dir);
}

/*
 * Open a secret file (--secret-file): non-blocking, since a FIFO would
 * otherwise hold open(2) until a writer appears, with no signal acted
 * upon; it is then read as a pipe is, under the loop. A regular file
 * larger than max (0: no limit) is refused. Returns the descriptor, or
 * -1 having said why.
 */
int
vault_open_file(const char *path, size_t max)
{
	struct stat	 st;
	int		 fd;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY |
	    O_NONBLOCK)) < 0) {
		log_warn("secret file %s", path);
		return -1;
	}
	if (fstat(fd, &st) != 0 || S_ISDIR(st.st_mode)) {
		log_warnx("secret file %s: not a readable file", path);
		close(fd);
		return -1;
	}
	vault_file_hygiene(path, &st);
	if (max > 0 && S_ISREG(st.st_mode) && st.st_size > (off_t)max) {
		log_warnx("secret file %s: %lld bytes, larger than "
		    "secret_max (%zu)", path, (long long)st.st_size, max);
		close(fd);
		return -1;
	}
	return fd;
}

/*
 * --check-config: the secret file must open as it will at start-up.
 * Returns 0, or -1 having said why.
 */
int
vault_check_file(const char *path)
{
	int	 fd = vault_open_file(path, 0);

	if (fd < 0)
		return -1;
	close(fd);
	return 0;
}

/* Say how reading the start-up secret from src ended (errno err). */
static void
vault_source_said(const char *src, enum vault_source_end end, int err,
    size_t len)
{
	errno = err;
	switch (end) {
	case VAULT_SOURCE_LOADED:
		log_info("secret loaded: %zu bytes from %s", len, src);
		break;
	case VAULT_SOURCE_EMPTY:
		log_warnx("%s: secret is empty", src);
		break;
	case VAULT_SOURCE_TOO_BIG:
		log_warnx("%s: secret is larger than the maximum "
		    "(secret_max)", src);
		break;
	case VAULT_SOURCE_FAILED:
		log_warn("%s: read", src);
		break;
	}
}

/*
 * Start with the secret vs names: none (empty), the rehearsal secret,
 * a regular file or block device read at once, or a pipe or terminal
 * (a source that may keep us waiting) read under the loop, so that
 * signals act meanwhile, done told once how it ended. The vault closes
 * the source.
 */
enum vault_start_end
vault_load_startup(struct vault *v, const struct vault_start *vs,
    vault_source_done *done, void *arg)
{
	struct stat	 st;
	const char	*why;
	int		 err;

	if (vs->fd < 0 && vs->rehearsal == 0) {
		log_info("started empty: waiting for a LOAD (dazai load)");
		return VAULT_START_READY;
	}
	if (vs->fd < 0) {
		if (secmem_fill_random(v->sm, vs->rehearsal) != 0) {
			log_warn("cannot generate the secret");
			return VAULT_START_FAILED;
		}
		log_info("synthetic secret: %zu random bytes (rehearsal; use "
		    "--secret-file or --secret-fd for a real one)",
		    vs->rehearsal);
		return VAULT_START_READY;
	}
	if (fstat(vs->fd, &st) == 0 && !S_ISREG(st.st_mode) &&
	    !S_ISBLK(st.st_mode)) {
		if (secmem_load_begin(v->sm) != 0) {
			log_warn("cannot prepare the secure buffer");
			close(vs->fd);
			return VAULT_START_FAILED;
		}
		v->source_done = done;
		v->source_arg = arg;
		v->source_src = vs->src;
		ev_io_set(&v->source_w, vs->fd, EV_READ);
		ev_io_start(v->loop, &v->source_w);
		return VAULT_START_READING;
	}
	if (secmem_read_fd(v->sm, vs->fd, v->secret_max, &why, NULL,
	    NULL) != 0) {
		err = errno;
		close(vs->fd);
		vault_source_said(vs->src, why == NULL ? VAULT_SOURCE_FAILED :
		    err == EFBIG ? VAULT_SOURCE_TOO_BIG : VAULT_SOURCE_EMPTY,
		    err, 0);
		return VAULT_START_REFUSED;
	}
	close(vs->fd);
	vault_source_said(vs->src, VAULT_SOURCE_LOADED, 0, v->sm->len);
	return VAULT_START_READY;
}

/* Is the start-up source still being read? */
bool
vault_source_reading(const struct vault *v)
{
	return ev_is_active(&v->source_w);
}

/*
 * Stop reading the start-up source (a shutdown or a panic came first):
 * what was read is wiped.
 */
void
vault_source_stop(struct vault *v)
{
	if (!ev_is_active(&v->source_w))
		return;
	ev_io_stop(v->loop, &v->source_w);
	close(v->source_w.fd);
	secmem_load_abort(v->sm);
	log_info("%s: loading stopped; the bytes read so far were wiped",
	    v->source_src);
}

/* Reading the start-up source ended: say how, once. */
static void
vault_source_end(struct vault *v, enum vault_source_end end, int err)
{
	ev_io_stop(v->loop, &v->source_w);
	close(v->source_w.fd);
	if (end != VAULT_SOURCE_LOADED)
		secmem_load_abort(v->sm);
	vault_source_said(v->source_src, end, err, v->sm->len);
	v->source_done(v->source_arg, end, err);
}

/* The start-up source is readable: one read into the secure buffer. */
static void
vault_source_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	struct vault	*v = container_of(w, struct vault, source_w);
	ssize_t		 n;

	(void)loop;
	(void)revents;
	n = secmem_load_read(v->sm, w->fd, v->secret_max - v->sm->done + 1);
	if (n > 0)
		return;
	if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK ||
	    errno == EINTR))
		return;
	if (n < 0) {
		vault_source_end(v, errno == EFBIG ? VAULT_SOURCE_TOO_BIG :
		    VAULT_SOURCE_FAILED, errno);
		return;
	}
	if (secmem_load_commit(v->sm) != 0) {
		vault_source_end(v, errno == ENODATA ? VAULT_SOURCE_EMPTY :
		    VAULT_SOURCE_FAILED, errno);
		return;
	}
	vault_source_end(v, VAULT_SOURCE_LOADED, 0);
}

/* The start-up secret's lifetimes begin (the loop is about to run). */
void
vault_start(struct vault *v)
{
	if (vault_held(v)) {
		policy_life_loaded(&v->life, true, log_now());
		vault_life_arm(v);
	}
}

/*
 * The secret goes away while the daemon stays up: a WIPE (kill: the
 * registered processes are then killed, armed, or named, dry-run), an
 * expiry or a new LOAD (nobody is killed). The lifetimes forget it first,
 * so that a GET cut short below finds nothing left to expire (one wipe,
 * one log line); then a LOAD or GET under way is cut off and the buffer
 * zeroed. Returns 0, or -1 if the wipe could not complete: said loudly,
 * the secret's memory left marked dirty (STATUS is not "empty").
 */
int
vault_wipe(struct vault *v, const char *why, bool kill)
{
	size_t	 len = v->sm != NULL ? v->sm->len : 0;
	int	 rc = 0;

	policy_life_wiped(&v->life);
	ev_timer_stop(v->loop, &v->life_w);
	v->ops.cancel_streams(v->ops.arg, "secret wiped");
	if (v->sm != NULL && secmem_wipe(v->sm) != 0) {
		log_warn("WIPE FAILED (%s): the secret memory could not be "
		    "made writable; its bytes may still be there", why);
		rc = -1;
	} else if (len > 0 || kill)
		log_info("secret wiped (%zu bytes overwritten with zeros): %s",
		    len, why);
	if (kill) {
		v->ops.kill_procs(v->ops.arg);
		v->ops.wiped(v->ops.arg, why);
	}
	return rc;
}

/*
 * A panic's wipe (the keys are zeroed already): overwrite the rest; say
 * so only if it was done.
 */
void
vault_panic_wipe(struct vault *v)
{
	size_t	 len = v->sm != NULL ? v->sm->len : 0;

	if (v->sm != NULL && secmem_wipe(v->sm) != 0) {
		log_warn("WIPE FAILED: the secret memory could not be made "
		    "writable");
		return;
	}
	log_info("secret wiped (%zu bytes overwritten with zeros, after the "
	    "prekey and key)", len);
}

/*
 * Expire the secret if a lifetime limit is reached and no GET is being
 * written (the last permitted read is delivered whole first).
 */
static void
vault_check_life(struct vault *v)
{
	const char	*why = policy_life_expired(&v->life, log_now());
	char		 msg[64];

	if (why == NULL || v->nstreams > 0)
		return;
	snprintf(msg, sizeof msg, "the secret expired (%s); staying up, "
	    "empty", why);
	vault_wipe(v, msg, false);
	v->ops.wiped(v->ops.arg, msg);
}

/* A lifetime limit is due. */
static void
vault_life_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct vault	*v = container_of(w, struct vault, life_w);

	(void)loop;
	(void)revents;
	vault_check_life(v);
	vault_life_arm(v);
}

/* The vault's part of a STATUS line; prot (len bytes) holds the report. */
void
vault_status(const struct vault *v, struct proto_status *st, char *prot,
    size_t len)
{
	st->secret_bytes = vault_empty(v) ? 0 : v->sm->len;
	prot[0] = '\0';
	if (v->sm != NULL)
		secmem_describe(v->sm->prot, prot, len);
	st->protections = prot;
	st->expires = policy_life_left(&v->life, log_now());
	st->reads = v->life.reads;
}

/*
 * LOAD <n> from c (who names it for the log): the n bytes that follow go
 * into the secure buffer, replacing what is held. False if the
 * connection has been closed.
 */
bool
vault_load(struct vault *v, struct conn *c, size_t n, const char *who)
{
	bool	 loading = v->sm != NULL && v->sm->state == SECMEM_LOADING;
	bool	 replaced;

	if (n == 0 || n > v->secret_max || loading || v->sm == NULL) {
		log_info("LOAD of %zu bytes from %s refused", n, who);
		if (n == 0)
			return conn_finish(c, "ERR empty secret\n");
		if (n > v->secret_max)
			return conn_finish(c, "ERR larger than secret_max\n");
		if (loading)
			return conn_finish(c, "ERR another LOAD is in "
			    "progress\n");
		return conn_finish(c, "ERR no secure buffer\n");
	}
	log_info("LOAD of %zu bytes from %s", n, who);
	replaced = vault_held(v);
	if (vault_wipe(v, "replaced by a LOAD", false) != 0)
		return conn_finish(c, "ERR wipe failed\n");
	if (secmem_load_begin(v->sm) != 0) {
		log_warn("LOAD: cannot prepare the secure buffer%s", replaced ?
		    " (the secret it replaced was wiped)" : "");
		return conn_finish(c, replaced ? "ERR cannot prepare the "
		    "secure buffer; the secret it replaced was wiped\n" :
		    "ERR cannot prepare the secure buffer\n");
	}
	return conn_load(c, v->sm, n, replaced);
}

/* A connection finished (ok) or gave up a LOAD (conn_ops.loaded). */
void
vault_loaded(struct vault *v, struct conn *c, bool ok, const char *why)
{
	if (ok) {
		policy_life_loaded(&v->life, true, log_now());
		log_info("secret loaded: %zu bytes (LOAD from pid %d)",
		    v->sm->len, c->peer_pid);
	} else {
		policy_life_wiped(&v->life);
		log_warnx("LOAD from pid %d failed (%s); the bytes read were "
		    "wiped%s; empty", c->peer_pid, why != NULL ? why : "?",
		    c->load_replaced ? ", and so was the secret it replaced" :
		    "");
	}
	vault_life_arm(v);
}

/*
 * GET from c (who names it): the secret, straight from the secure
 * buffer. False if the connection has been closed.
 */
bool
vault_get(struct vault *v, struct conn *c, const char *who)
{
	if (!v->allow_get) {
		log_info("GET from %s refused: get disabled", who);
		return conn_error(c, "get disabled");
	}
	vault_check_life(v);
	if (!vault_held(v) || (v->life.max_reads > 0 &&
	    v->life.reads >= v->life.max_reads)) {
		log_info("GET from %s refused: no secret", who);
		return conn_error(c, "no secret");
	}
	policy_life_read(&v->life, log_now());
	log_info("GET from %s: %zu bytes (read %lu)", who, v->sm->len,
	    v->life.reads);
	v->nstreams++;
	vault_life_arm(v);
	return conn_get(c, v->sm);
}

/* A GET ended (conn_ops.sent); a limit it reached takes effect now. */
void
vault_sent(struct vault *v, struct conn *c, bool ok)
{
	if (v->nstreams > 0)
		v->nstreams--;
	if (!ok)
		log_info("GET to pid %d cut short", c->peer_pid);
	vault_check_life(v);
	vault_life_arm(v);
}

/* Wipe and free the secret (clean shutdown). */
void
vault_finish(struct vault *v)
{
	ev_timer_stop(v->loop, &v->life_w);
	if (v->sm != NULL) {
		secmem_free(v->sm);
		v->sm = NULL;
	}
}
