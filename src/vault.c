/* SPDX-License-Identifier: ISC */
/*
 * The held secrets' life, from LOAD to wipe: what may be loaded and
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
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <ev.h>

#include "dazai/conn.h"
#include "dazai/btimer.h"
#include "dazai/container.h"
#include "dazai/log.h"
#include "dazai/policy.h"
#include "dazai/proto.h"
#include "dazai/secmem.h"
#include "dazai/vault.h"

static void vault_life_cb(struct btimer *);
static void vault_source_cb(struct ev_loop *, ev_io *, int);

/*
 * An empty vault on loop; ops are its owner's. Returns 0, or -1 with
 * errno if its lifetime timer cannot be made.
 */
int
vault_init(struct vault *v, struct ev_loop *loop, const struct vault_ops *ops)
{
	int i;

	memset(v->ent, 0, sizeof v->ent);
	v->loop = loop;
	v->sm = NULL;
	v->secret_max = 4 * 1024 * 1024;
	v->secrets_max = 16;
	v->seq = 0;
	v->depth = 0;
	v->allow_get = true;
	v->max_lifetime = v->idle_timeout = 0;
	v->max_reads = 0;
	v->ops = *ops;
	for (i = 0; i < VAULT_SECRETS_MAX; i++)
		policy_life_init(&v->ent[i].life, 0, 0, 0);
	snprintf(v->ent[0].name, sizeof v->ent[0].name, "%s",
	    PROTO_NAME_DEFAULT);
	ev_init(&v->source_w, vault_source_cb);
	v->source_done = NULL;
	return btimer_init(&v->life_w, vault_life_cb);
}

/* What LOAD and GET may do, and each secret's lifetimes (0: off). */
void
vault_set_limits(struct vault *v, size_t secret_max, bool allow_get,
    double max_lifetime, double idle_timeout, unsigned long max_reads)
{
	int i;

	v->secret_max = secret_max;
	v->allow_get = allow_get;
	v->max_lifetime = max_lifetime;
	v->idle_timeout = idle_timeout;
	v->max_reads = max_reads;
	for (i = 0; i < VAULT_SECRETS_MAX; i++)
		policy_life_init(&v->ent[i].life, max_lifetime, idle_timeout,
		    max_reads);
}

/* How many secrets may be held at once (1 to VAULT_SECRETS_MAX). */
void
vault_set_secrets_max(struct vault *v, int n)
{
	if (n < 1)
		n = 1;
	if (n > VAULT_SECRETS_MAX)
		n = VAULT_SECRETS_MAX;
	v->secrets_max = n;
}

/* The secure buffer the vault keeps from now on: "default", the shield. */
void
vault_set_secret(struct vault *v, struct secmem *sm)
{
	v->sm = sm;
	v->ent[0].sm = sm;
	if (sm != NULL)
		secmem_set_label(sm, PROTO_NAME_DEFAULT);
}

/* Does this slot hold anything (a secret, a load, a failed wipe)? */
static bool
vault_used(const struct vault_entry *e)
{
	return e->sm != NULL && e->sm->state != SECMEM_EMPTY;
}

/* Does this slot hold a committed secret? */
static bool
vault_entry_held(const struct vault_entry *e)
{
	return e->sm != NULL && e->sm->state == SECMEM_HELD;
}

/* Is a secret held (loaded and committed) under any name? */
bool
vault_held(const struct vault *v)
{
	int i;

	for (i = 0; i < VAULT_SECRETS_MAX; i++)
		if (vault_entry_held(&v->ent[i]))
			return true;
	return false;
}

/*
 * Is there nothing at all? A secret whose wipe failed is not held (it
 * cannot be read) but not gone either.
 */
bool
vault_empty(const struct vault *v)
{
	int i;

	for (i = 0; i < VAULT_SECRETS_MAX; i++)
		if (v->ent[i].sm != NULL &&
		    (v->ent[i].sm->state == SECMEM_HELD ||
			v->ent[i].sm->state == SECMEM_DIRTY))
			return false;
	return true;
}

/* How many secrets are held (a failed wipe's included: not gone). */
int
vault_count(const struct vault *v)
{
	int i, n = 0;

	for (i = 0; i < VAULT_SECRETS_MAX; i++)
		if (v->ent[i].sm != NULL &&
		    (v->ent[i].sm->state == SECMEM_HELD ||
			v->ent[i].sm->state == SECMEM_DIRTY))
			n++;
	return n;
}

/*
 * How the log names a secret after a verb: nothing for the default (the
 * one-secret daemon's lines stay as they were), else ` "name"`.
 */
static const char *
vault_said(char *buf, size_t len, const char *name)
{
	if (strcmp(name, PROTO_NAME_DEFAULT) == 0)
		buf[0] = '\0';
	else
		snprintf(buf, len, " \"%s\"", name);
	return buf;
}

/* The slot of the secret called name, or NULL. */
static struct vault_entry *
vault_find(struct vault *v, const char *name)
{
	int i;

	if (strcmp(name, PROTO_NAME_DEFAULT) == 0)
		return v->sm != NULL ? &v->ent[0] : NULL;
	for (i = 1; i < VAULT_SECRETS_MAX; i++)
		if (v->ent[i].sm != NULL && strcmp(v->ent[i].name, name) == 0)
			return &v->ent[i];
	return NULL;
}

/*
 * Give a named slot's buffer back once nothing is in it and nobody uses
 * it, unless a call that may still use it is under way (depth).
 */
static void
vault_reap(struct vault *v)
{
	struct vault_entry *e;
	int		    i;

	if (v->depth > 0)
		return;
	for (i = 1; i < VAULT_SECRETS_MAX; i++) {
		e = &v->ent[i];
		if (e->sm == NULL || e->sm->state != SECMEM_EMPTY ||
		    e->nstreams > 0 || e->loader != NULL)
			continue;
		secmem_free(e->sm);
		free(e->sm);
		e->sm = NULL;
		e->name[0] = '\0';
		policy_life_wiped(&e->life);
	}
}

/*
 * (Re)start the lifetime timer for the nearest time limit of any secret.
 * A secret whose GET is being written sets no timer: a limit that falls
 * due then takes effect when the GET ends or is cut short (vault_sent),
 * and nothing wakes the loop in between.
 */
static void
vault_life_arm(struct vault *v)
{
	double now = btimer_now(), left, near = -1;
	int    i;

	btimer_stop(&v->life_w, v->loop);
	for (i = 0; i < VAULT_SECRETS_MAX; i++) {
		if (v->ent[i].sm == NULL || v->ent[i].nstreams > 0)
			continue;
		left = policy_life_left(&v->ent[i].life, now);
		if (left >= 0 && (near < 0 || left < near))
			near = left;
	}
	if (near < 0)
		return;
	/* A little past the limit, so the check finds it reached. */
	btimer_start(&v->life_w, v->loop, near + 0.001);
}

/*
 * Warn about a secret file that others can read, or replace (through its
 * directory): the copy on disk is not ours to protect, but it should be
 * as private as the memory it is loaded into.
 */
static void
vault_file_hygiene(const char *path, const struct stat *st)
{
	struct stat dst;
	char	    dir[PATH_MAX], *slash;

	if (!S_ISREG(st->st_mode))
		return;
	if (st->st_mode & (S_IRGRP | S_IROTH))
		log_warnx("WARNING: secret file %s is readable by group or "
			  "others (mode %04o): chmod 600 it, and consider the "
			  "secret seen",
		    path, (unsigned)(st->st_mode & 07777));
	else if (st->st_mode & (S_IWGRP | S_IWOTH))
		log_warnx("WARNING: secret file %s is writable by group or "
			  "others (mode %04o): chmod 600 it",
		    path, (unsigned)(st->st_mode & 07777));
	if (st->st_uid != getuid() && st->st_uid != 0)
		log_warnx("WARNING: secret file %s belongs to uid %u, not to "
			  "you",
		    path, (unsigned)st->st_uid);
	snprintf(dir, sizeof dir, "%s", path);
	if ((slash = strrchr(dir, '/')) == NULL)
		snprintf(dir, sizeof dir, ".");
	else if (slash == dir)
		dir[1] = '\0';
	else
		*slash = '\0';
	if (stat(dir, &dst) == 0 && (dst.st_mode & (S_IWGRP | S_IWOTH)) &&
	    !(dst.st_mode & S_ISVTX))
		log_warnx(
		    "WARNING: secret file %s is in %s, which group or "
		    "others can write: they can replace the file (chmod go-w "
		    "%s)",
		    path, dir, dir);
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
	struct stat st;
	int	    fd;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK)) <
	    0) {
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
			  "secret_max (%zu)",
		    path, (long long)st.st_size, max);
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
	int fd = vault_open_file(path, 0);

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
			  "(secret_max)",
		    src);
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
	struct stat st;
	const char *why;
	int	    err;

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
	if (secmem_read_fd(v->sm, vs->fd, v->secret_max, &why, NULL, NULL) !=
	    0) {
		err = errno;
		close(vs->fd);
		vault_source_said(vs->src,
		    why == NULL	     ? VAULT_SOURCE_FAILED :
			err == EFBIG ? VAULT_SOURCE_TOO_BIG :
				       VAULT_SOURCE_EMPTY,
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
	struct vault *v = container_of(w, struct vault, source_w);
	ssize_t	      n;

	(void)loop;
	(void)revents;
	n = secmem_load_read(v->sm, w->fd, v->secret_max - v->sm->done + 1);
	if (n > 0)
		return;
	if (n < 0 &&
	    (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
		return;
	if (n < 0) {
		vault_source_end(v,
		    errno == EFBIG ? VAULT_SOURCE_TOO_BIG : VAULT_SOURCE_FAILED,
		    errno);
		return;
	}
	if (secmem_load_commit(v->sm) != 0) {
		vault_source_end(v,
		    errno == ENODATA ? VAULT_SOURCE_EMPTY : VAULT_SOURCE_FAILED,
		    errno);
		return;
	}
	vault_source_end(v, VAULT_SOURCE_LOADED, 0);
}

/* The start-up secret's lifetimes begin (the loop is about to run). */
void
vault_start(struct vault *v)
{
	if (vault_entry_held(&v->ent[0])) {
		v->ent[0].seq = ++v->seq;
		policy_life_loaded(&v->ent[0].life, true, btimer_now());
		vault_life_arm(v);
	}
}

/*
 * One secret goes away while the daemon stays up: its lifetimes forget
 * it first, so that a GET cut short below finds nothing left to expire
 * (one wipe, one log line); then a LOAD or GET of it under way is cut
 * off and its buffer zeroed. Returns 0, or -1 if the wipe could not
 * complete: said loudly, the memory left marked dirty (not "empty").
 */
static int
vault_entry_wipe(struct vault *v, struct vault_entry *e, const char *why)
{
	size_t len = e->sm != NULL ? e->sm->len : 0;
	int    rc = 0;

	if (e->sm == NULL)
		return 0;
	v->depth++;
	policy_life_wiped(&e->life);
	v->ops.cancel_streams(v->ops.arg, e->sm, "secret wiped");
	if (secmem_wipe(e->sm) != 0) {
		log_warn("WIPE FAILED (%s): the memory of secret \"%s\" could "
			 "not be made writable; its bytes may still be there",
		    why, e->name);
		rc = -1;
	} else if (len > 0 && e == &v->ent[0])
		log_info("secret wiped (%zu bytes overwritten with zeros): %s",
		    len, why);
	else if (len > 0)
		log_info("secret \"%s\" wiped (%zu bytes overwritten with "
			 "zeros): %s",
		    e->name, len, why);
	v->depth--;
	return rc;
}

/*
 * Every secret goes away while the daemon stays up: a WIPE (kill: the
 * registered processes are then killed, armed, or named, dry-run) or an
 * expiry. The one prekey is zeroed first, so that all of them are
 * unrecoverable at once, then each buffer. Returns 0, or -1 if a wipe
 * could not complete.
 */
int
vault_wipe(struct vault *v, const char *why, bool kill)
{
	int i, rc = 0, n = vault_count(v);

	v->depth++;
	btimer_stop(&v->life_w, v->loop);
	for (i = 0; i < VAULT_SECRETS_MAX; i++)
		policy_life_wiped(&v->ent[i].life);
	v->ops.cancel_streams(v->ops.arg, NULL, "secret wiped");
	if (v->sm != NULL && secmem_unshield(v->sm) != 0) {
		log_warn("WIPE: the prekey could not be made writable");
		rc = -1;
	}
	for (i = 0; i < VAULT_SECRETS_MAX; i++)
		if (v->ent[i].sm != NULL &&
		    vault_entry_wipe(v, &v->ent[i], why) != 0)
			rc = -1;
	if (rc == 0 && n == 0 && kill)
		log_info("secret wiped (0 bytes overwritten with zeros): %s",
		    why);
	else if (rc == 0 && n > 1)
		log_info("%d secrets wiped: %s", n, why);
	if (kill) {
		v->ops.kill_procs(v->ops.arg);
		v->ops.wiped(v->ops.arg, why);
	}
	v->depth--;
	vault_reap(v);
	vault_life_arm(v);
	return rc;
}

/*
 * WIPE NAME: that secret goes, the others stay; registered processes are
 * killed (or named) as for every WIPE. A name nothing is held under is
 * wiped already. Returns 0, or -1 if the wipe could not complete.
 */
int
vault_wipe_name(struct vault *v, const char *name, const char *why, bool kill)
{
	struct vault_entry *e = vault_find(v, name);
	int		    rc = 0;

	if (e != NULL)
		rc = vault_entry_wipe(v, e, why);
	if (kill) {
		v->ops.kill_procs(v->ops.arg);
		v->ops.wiped(v->ops.arg, why);
	}
	vault_reap(v);
	vault_life_arm(v);
	return rc;
}

/*
 * A panic's wipe (the keys are zeroed already): overwrite the rest; say
 * so only if it was done.
 */
void
vault_panic_wipe(struct vault *v)
{
	size_t len = 0;
	int    i, failed = 0;

	if (v->sm != NULL && secmem_unshield(v->sm) != 0)
		failed++;
	for (i = 0; i < VAULT_SECRETS_MAX; i++) {
		if (v->ent[i].sm == NULL)
			continue;
		len += v->ent[i].sm->len;
		if (secmem_wipe(v->ent[i].sm) != 0)
			failed++;
	}
	if (failed > 0) {
		log_warn("WIPE FAILED: the secret memory could not be made "
			 "writable");
		return;
	}
	log_info("secret wiped (%zu bytes overwritten with zeros, after the "
		 "prekey and key)",
	    len);
}

/*
 * Expire each secret whose lifetime limit is reached and of which no GET
 * is being written (the last permitted read is delivered whole first).
 */
static void
vault_check_life(struct vault *v)
{
	struct vault_entry *e;
	const char	   *why;
	char		    msg[64];
	double		    now = btimer_now();
	int		    i;

	v->depth++;
	for (i = 0; i < VAULT_SECRETS_MAX; i++) {
		e = &v->ent[i];
		if (e->sm == NULL || e->nstreams > 0 ||
		    (why = policy_life_expired(&e->life, now)) == NULL)
			continue;
		snprintf(msg, sizeof msg,
		    "the secret expired (%s); staying "
		    "up",
		    why);
		vault_entry_wipe(v, e, msg);
		v->ops.wiped(v->ops.arg, msg);
	}
	v->depth--;
}

/* A lifetime limit is due. */
static void
vault_life_cb(struct btimer *t)
{
	struct vault *v = container_of(t, struct vault, life_w);

	vault_check_life(v);
	vault_reap(v);
	vault_life_arm(v);
}

/*
 * The vault's part of a STATUS line; prot (len bytes) holds the report.
 * Bytes and reads are all secrets' together, expires the nearest limit.
 */
void
vault_status(const struct vault *v, struct proto_status *st, char *prot,
    size_t len)
{
	const struct vault_entry *e;
	double			  now = btimer_now(), left;
	int			  i;

	st->secret_bytes = 0;
	st->reads = 0;
	st->expires = -1;
	for (i = 0; i < VAULT_SECRETS_MAX; i++) {
		e = &v->ent[i];
		if (e->sm == NULL)
			continue;
		if (e->sm->state == SECMEM_HELD || e->sm->state == SECMEM_DIRTY)
			st->secret_bytes += e->sm->len;
		st->reads += e->life.reads;
		left = policy_life_left(&e->life, now);
		if (left >= 0 && (st->expires < 0 || left < st->expires))
			st->expires = left;
	}
	st->secrets = vault_count(v);
	/* The kernel will not hibernate while a memfd_secret region exists. */
	st->hibernate = "possible";
	for (i = 0; i < VAULT_SECRETS_MAX; i++)
		if (v->ent[i].sm != NULL &&
		    (v->ent[i].sm->prot & SECMEM_SECRETMEM))
			st->hibernate = "blocked";
	prot[0] = '\0';
	if (v->sm != NULL)
		secmem_describe(v->sm->prot, prot, len);
	st->protections = prot;
}

/*
 * ENTRY i: the i-th held secret in load order (its name, size, reads and
 * nearest limit; never a byte). False if there is no such secret.
 */
bool
vault_entry(struct vault *v, int index, struct proto_entry *pe)
{
	const struct vault_entry *best = NULL;
	long long		  key, after = -1, least;
	int			  i, k;

	/* Ordered by (seq, slot), so that a secret without a load number
	 * yet is listed too, never skipped. */
	if (index < 0)
		return false;
	for (k = 0; k <= index; k++) {
		best = NULL;
		least = -1;
		for (i = 0; i < VAULT_SECRETS_MAX; i++) {
			if (!vault_entry_held(&v->ent[i]))
				continue;
			key = (long long)v->ent[i].seq * VAULT_SECRETS_MAX + i;
			if (key > after && (least < 0 || key < least)) {
				least = key;
				best = &v->ent[i];
			}
		}
		if (best == NULL)
			return false;
		after = least;
	}
	pe->index = index;
	pe->name = best->name;
	pe->bytes = best->sm->len;
	pe->reads = best->life.reads;
	pe->expires = policy_life_left(&best->life, btimer_now());
	return true;
}

/*
 * A slot for a new secret called name, its buffer made under the
 * shield; NULL with *why set if there is none (nothing changed).
 */
static struct vault_entry *
vault_new(struct vault *v, const char *name, const char **why)
{
	struct vault_entry *e = NULL;
	struct secmem	   *sm;
	int		    i;

	for (i = 1; i < VAULT_SECRETS_MAX && e == NULL; i++)
		if (v->ent[i].sm == NULL)
			e = &v->ent[i];
	if (e == NULL) {
		*why = "ERR too many secrets\n";
		return NULL;
	}
	if ((sm = calloc(1, sizeof *sm)) == NULL ||
	    secmem_alloc_under(sm, v->sm, v->secret_max) != 0) {
		log_warn("LOAD \"%s\": cannot make a secure buffer", name);
		free(sm);
		*why = "ERR cannot prepare the secure buffer\n";
		return NULL;
	}
	secmem_set_label(sm, name);
	e->sm = sm;
	snprintf(e->name, sizeof e->name, "%s", name);
	e->seq = 0;
	e->nstreams = 0;
	e->loader = NULL;
	policy_life_init(&e->life, v->max_lifetime, v->idle_timeout,
	    v->max_reads);
	return e;
}

/*
 * LOAD <n> [name] from c (who names it for the log): the n bytes that
 * follow go into that secret's secure buffer, replacing what is held
 * under that name. A refusal changes nothing. False if the connection
 * has been closed.
 */
bool
vault_load(struct vault *v, struct conn *c, size_t n, const char *name,
    const char *who)
{
	struct vault_entry *e = v->sm != NULL ? vault_find(v, name) : NULL;
	const char	   *why = NULL;
	char		    as[PROTO_NAME_MAX + 4];
	bool		    replaced;

	if (n == 0)
		why = "ERR empty secret\n";
	else if (n > v->secret_max)
		why = "ERR larger than secret_max\n";
	else if (v->sm == NULL)
		why = "ERR no secure buffer\n";
	else if (e != NULL && e->sm->state == SECMEM_LOADING)
		why = "ERR another LOAD is in progress\n";
	else if ((e == NULL || !vault_used(e)) &&
	    vault_count(v) >= v->secrets_max)
		why = "ERR too many secrets\n";
	else if (e == NULL)
		e = vault_new(v, name, &why);
	if (why != NULL) {
		log_info("LOAD of %zu bytes%s from %s refused: %.*s", n,
		    vault_said(as, sizeof as, name), who, (int)strlen(why) - 5,
		    why + 4);
		return conn_finish(c, why);
	}
	log_info("LOAD of %zu bytes%s from %s", n,
	    vault_said(as, sizeof as, name), who);
	replaced = vault_entry_held(e);
	if (vault_entry_wipe(v, e, "replaced by a LOAD") != 0)
		return conn_finish(c, "ERR wipe failed\n");
	if (secmem_load_begin(e->sm) != 0) {
		log_warn("LOAD: cannot prepare the secure buffer%s",
		    replaced ? " (the secret it replaced was wiped)" : "");
		vault_reap(v);
		vault_life_arm(v);
		return conn_finish(c,
		    replaced ?
			"ERR cannot prepare the "
			"secure buffer; the secret it replaced was wiped\n" :
			"ERR cannot prepare the secure buffer\n");
	}
	e->loader = c;
	vault_life_arm(v);
	return conn_load(c, e->sm, n, replaced);
}

/* A connection finished (ok) or gave up a LOAD (conn_ops.loaded). */
void
vault_loaded(struct vault *v, struct conn *c, bool ok, const char *why)
{
	struct vault_entry *e = NULL;
	char		    as[PROTO_NAME_MAX + 4];
	int		    i;

	for (i = 0; i < VAULT_SECRETS_MAX && e == NULL; i++)
		if (v->ent[i].sm != NULL && v->ent[i].loader == c)
			e = &v->ent[i];
	if (e == NULL)
		return;
	e->loader = NULL;
	if (ok) {
		e->seq = ++v->seq;
		policy_life_loaded(&e->life, true, btimer_now());
		log_info("secret loaded: %zu bytes%s (LOAD from pid %d)",
		    e->sm->len, vault_said(as, sizeof as, e->name),
		    c->peer_pid);
	} else {
		policy_life_wiped(&e->life);
		/* A load given up is wiped; the others stay as they were. */
		if (e->sm->state == SECMEM_LOADING)
			secmem_load_abort(e->sm);
		log_warnx("LOAD of \"%s\" from pid %d failed (%s); the bytes "
			  "read were wiped%s; that name is empty",
		    e->name, c->peer_pid, why != NULL ? why : "?",
		    c->load_replaced ? ", and so was the secret it replaced" :
				       "");
	}
	vault_reap(v);
	vault_life_arm(v);
}

/*
 * GET [name] from c (who names it): that secret, straight from its
 * secure buffer. False if the connection has been closed.
 */
bool
vault_get(struct vault *v, struct conn *c, const char *name, const char *who)
{
	struct vault_entry *e;
	char		    as[PROTO_NAME_MAX + 4];

	vault_said(as, sizeof as, name);
	if (!v->allow_get) {
		log_info("GET from %s refused: get disabled", who);
		return conn_error(c, "get disabled");
	}
	vault_check_life(v);
	vault_reap(v);
	e = vault_find(v, name);
	if (e == NULL || !vault_entry_held(e) ||
	    (e->life.max_reads > 0 && e->life.reads >= e->life.max_reads)) {
		log_info("GET%s from %s refused: no secret", as, who);
		vault_life_arm(v);
		return conn_error(c, "no secret");
	}
	policy_life_read(&e->life, btimer_now());
	log_info("GET%s from %s: %zu bytes (read %lu)", as, who, e->sm->len,
	    e->life.reads);
	e->nstreams++;
	vault_life_arm(v);
	return conn_get(c, e->sm);
}

/* A GET ended (conn_ops.sent); a limit it reached takes effect now. */
void
vault_sent(struct vault *v, struct conn *c, bool ok)
{
	int i;

	for (i = 0; i < VAULT_SECRETS_MAX; i++)
		if (v->ent[i].sm != NULL && v->ent[i].sm == c->sent_sm &&
		    v->ent[i].nstreams > 0) {
			v->ent[i].nstreams--;
			break;
		}
	c->sent_sm = NULL;
	if (!ok)
		log_info("GET to pid %d cut short", c->peer_pid);
	vault_check_life(v);
	vault_reap(v);
	vault_life_arm(v);
}

/* Wipe and free every secret (clean shutdown), the shield's last. */
void
vault_finish(struct vault *v)
{
	int i;

	btimer_close(&v->life_w, v->loop);
	if (v->sm != NULL)
		secmem_unshield(v->sm);
	for (i = 1; i < VAULT_SECRETS_MAX; i++)
		if (v->ent[i].sm != NULL) {
			secmem_free(v->ent[i].sm);
			free(v->ent[i].sm);
			v->ent[i].sm = NULL;
		}
	if (v->sm != NULL) {
		secmem_free(v->sm);
		v->sm = NULL;
		v->ent[0].sm = NULL;
	}
}
