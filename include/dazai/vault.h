/* SPDX-License-Identifier: ISC */
#ifndef DAZAI_VAULT_H
#define DAZAI_VAULT_H

#include <stdbool.h>
#include <stddef.h>

#include <ev.h>

#include "dazai/btimer.h"
#include "dazai/conn.h"
#include "dazai/policy.h"
#include "dazai/proto.h"
#include "dazai/secmem.h"

/*
 * The held secrets' life: LOAD (replacing what is held under that name),
 * GET, WIPE, and the lifetimes of each, with one timer for the nearest.
 * The vault owns the secure buffer once it is given one: it holds the
 * secret named "default" (the start-up secret) and the shield every
 * other secret's buffer is made under, at its first LOAD, and freed when
 * it is wiped. What a WIPE does to registered processes and how
 * streaming connections are cut off are its owner's (struct vault_ops).
 */

#define VAULT_SECRETS_MAX 64 /* secrets held at once, at most */

struct vault_ops {
	/* Cut off every LOAD or GET of sm (NULL: of any) under way. */
	void (*cancel_streams)(void *, const struct secmem *, const char *);
	/* A WIPE: kill (armed) or name (dry-run) the registered processes. */
	void (*kill_procs)(void *);
	/* A WIPE or an expiry is done (not a replacement): why. */
	void (*wiped)(void *, const char *);
	void *arg;
};

/* How reading the start-up secret ended. */
enum vault_source_end {
	VAULT_SOURCE_LOADED,  /* held */
	VAULT_SOURCE_EMPTY,   /* end of file before any byte */
	VAULT_SOURCE_TOO_BIG, /* more than secret_max */
	VAULT_SOURCE_FAILED   /* a read error (errno kept) */
};

/* The start-up secret: a source descriptor, or a rehearsal secret. */
struct vault_start {
	int	    fd;	       /* the source (the vault closes it), or
					   -1: none */
	const char *src;       /* its name, for the log */
	size_t	    rehearsal; /* no source: random bytes, 0: empty */
};

/* How starting with that secret went. */
enum vault_start_end {
	VAULT_START_READY,   /* held (or empty on purpose) */
	VAULT_START_READING, /* read under the loop: done follows */
	VAULT_START_REFUSED, /* empty, too big, unreadable: 2 */
	VAULT_START_FAILED   /* no buffer, no randomness (exit 1) */
};

/* Told once when the start-up source is read (or failed: all wiped). */
typedef void vault_source_done(void *, enum vault_source_end, int);

/* One secret under its name; slot 0 is "default", on the vault's sm. */
struct vault_entry {
	struct secmem	  *sm; /* NULL: a free slot */
	char		   name[PROTO_NAME_MAX + 1];
	struct policy_life life;
	unsigned long	   seq;	     /* load order */
	int		   nstreams; /* GETs being written */
	struct conn	  *loader;   /* its LOAD under way */
};

struct vault {
	struct ev_loop	  *loop;
	struct secmem	  *sm; /* NULL until given */
	struct vault_entry ent[VAULT_SECRETS_MAX];
	int		   secrets_max;	 /* held at once */
	unsigned long	   seq;		 /* the last load's number */
	int		   depth;	 /* calls under way, nested */
	double		   max_lifetime; /* each secret's limits */
	double		   idle_timeout;
	unsigned long	   max_reads;
	struct btimer	   life_w;     /* the next lifetime limit */
	size_t		   secret_max; /* largest LOAD */
	bool		   allow_get;
	struct vault_ops   ops;
	ev_io		   source_w; /* the start-up source */
	const char	  *source_src;
	vault_source_done *source_done;
	void		  *source_arg;
};

int  vault_init(struct vault *, struct ev_loop *, const struct vault_ops *);
void vault_set_limits(struct vault *, size_t, bool, double, double,
    unsigned long);
void vault_set_secrets_max(struct vault *, int);
void vault_set_secret(struct vault *, struct secmem *);
int  vault_open_file(const char *, size_t);
int  vault_check_file(const char *);
enum vault_start_end vault_load_startup(struct vault *,
    const struct vault_start *, vault_source_done *, void *);
bool		     vault_source_reading(const struct vault *);
void		     vault_source_stop(struct vault *);
void		     vault_start(struct vault *);
bool		     vault_held(const struct vault *);
bool		     vault_empty(const struct vault *);
void vault_status(const struct vault *, struct proto_status *, char *, size_t);
int  vault_count(const struct vault *);
bool vault_load(struct vault *, struct conn *, size_t, const char *,
    const char *);
void vault_loaded(struct vault *, struct conn *, bool, const char *);
bool vault_get(struct vault *, struct conn *, const char *, const char *);
void vault_sent(struct vault *, struct conn *, bool);
bool vault_entry(struct vault *, int, struct proto_entry *);
int  vault_wipe(struct vault *, const char *, bool);
int  vault_wipe_name(struct vault *, const char *, const char *, bool);
void vault_panic_wipe(struct vault *);
void vault_finish(struct vault *);

#endif
