/* SPDX-License-Identifier: ISC */
#ifndef DAZAI_SECMEM_H
#define DAZAI_SECMEM_H

#include <sys/types.h>

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

/*
 * The secure buffer: the only place the secret lives, and only encrypted.
 *
 * Two secure mappings per buffer, each fenced by inaccessible guard pages,
 * locked, excluded from core dumps and from forked children, inaccessible
 * while idle and backed by memfd_secret(2) where the kernel offers it:
 *
 *   the shield	  a 16 KiB random prekey, one page for the key derived
 *		  from it (BLAKE2b) while an operation runs, and one scratch
 *		  page, the only place plaintext ever exists (one chunk, only
 *		  while it is in flight, zeroed after each chunk);
 *   the buffer	  the secret encrypted with XChaCha20 under the derived
 *		  key and a fresh nonce per load. Address space for the
 *		  largest secret is reserved at allocation (it costs no
 *		  lockable memory); pages become accessible, locked and
 *		  secretmem-backed in place as the secret grows, so the
 *		  locked footprint is never twice the secret and nothing is
 *		  ever copied.
 *
 * Zeroing the prekey makes the secret unrecoverable at once, whatever its
 * size: every wipe zeroes the shield first, then the buffer.
 *
 * Several buffers may share one shield (named secrets): the first is
 * made by secmem_alloc, each other by secmem_alloc_under, with only its
 * own ciphertext mapping. Each buffer's key is derived from the one
 * prekey, its label (the secret's name) and its own fresh nonce, so that
 * zeroing that one prekey (secmem_unshield, or the emergency wipe) makes
 * every secret under it unrecoverable at once, whatever their number and
 * size. A buffer's wipe zeroes the shared prekey only when no other
 * buffer under it holds anything; the prekey is drawn again by the next
 * load. The key is derived for each operation and zeroed after it, so
 * loads and reads of different buffers may interleave.
 *
 * Loading is a stream, so that a descriptor read across several event
 * loop callbacks (a LOAD of n bytes from a non-blocking socket) and a
 * blocking one (--secret-file, --secret-fd) share one path:
 *
 *	secmem_load_begin(sm);
 *	while ((n = secmem_load_read(sm, fd, want - done)) > 0)
 *		done += n;		(or return to the loop on EAGAIN)
 *	secmem_load_commit(sm);		(or secmem_load_abort(sm))
 *
 * and reading it back is one call per writable event:
 *
 *	n = secmem_write_fd(sm, fd, off);	(off += n; EAGAIN: wait)
 *
 * None of these functions is async-signal-safe except the
 * secmem_emergency_ ones and secmem_keys_zeroed_at.
 */

/* Which protections took effect (secmem.prot); each holds for both mappings. */
#define SECMEM_LOCKED	  0x01 /* mlock(2) */
#define SECMEM_DONTDUMP	  0x02 /* MADV_DONTDUMP */
#define SECMEM_WIPEONFORK 0x04 /* MADV_WIPEONFORK (anonymous) */
#define SECMEM_DONTFORK	  0x08 /* MADV_DONTFORK (secretmem) */
#define SECMEM_GUARDS	  0x10 /* PROT_NONE page on each side */
#define SECMEM_NOACCESS	  0x20 /* PROT_NONE while idle */
#define SECMEM_SECRETMEM  0x40 /* memfd_secret(2) backing */
#define SECMEM_SHIELDED	  0x80 /* encrypted under the prekey */

#define SECMEM_SLOTS \
	72			/* live mappings at once: shields and
					   buffers (64 named secrets, the
					   default, one shield, and room) */
#define SECMEM_PREKEY_LEN 16384 /* bytes of random prekey */
#define SECMEM_LABEL_MAX  64	/* bytes of a buffer's label (name) */

/* One secure mapping: a guard page, the usable pages, a guard page. */
struct secmem_region {
	unsigned char *map; /* the reservation, guards included */
	size_t	       maplen;
	unsigned char *data; /* first usable byte */
	size_t	       cap;  /* usable bytes mapped, page multiple */
	size_t	       max;  /* usable bytes reserved */
	int	       fd;   /* memfd_secret backing, or -1 */
	int	       slot; /* index in the emergency table */
};

enum secmem_state {
	SECMEM_EMPTY,	/* nothing held (the prekey is zero) */
	SECMEM_LOADING, /* between load_begin and commit */
	SECMEM_HELD,	/* a committed secret of len bytes */
	SECMEM_DIRTY	/* a wipe failed: len bytes may stay */
};

struct secmem {
	struct secmem_region buf;    /* ciphertext */
	struct secmem_region shield; /* prekey, key page, scratch page */
	size_t		     max;    /* largest secret, bytes */
	size_t		     len;    /* bytes of secret held */
	size_t		     done;   /* bytes read by a load in progress */
	enum secmem_state    state;
	unsigned	     prot;	 /* SECMEM_* in effect */
	unsigned	     lost;	 /* asked for, did not take effect */
	int		     lock_errno; /* why mlock failed, or 0 */
	bool		     secretmem_wanted;
	bool		     lock_required; /* growth unlocked: ENOLCK */
	unsigned char	     nonce[24];	    /* this load's; not secret */
	struct secmem	    *root;	    /* whose shield: itself, or the
					   buffer given to secmem_alloc_under */
	struct secmem	    *next;  /* root's list of buffers under it */
	bool		     keyed; /* root: the prekey has been drawn */
	char		     label[SECMEM_LABEL_MAX + 1]; /* in the key */
};

/*
 * Reserve a buffer for a secret of up to max bytes (max > 0), secretmem
 * if asked and offered, and create its shield. Only one page of each is
 * mapped at first. A protection that does not take effect is not an
 * error: it is left out of prot, named in lost, logged (log_warnx), and
 * for mlock its errno kept in lock_errno. Returns 0, or -1 with errno.
 */
int secmem_alloc(struct secmem *, size_t max, bool secretmem);
/*
 * Reserve a buffer of up to max bytes under root's shield (root made by
 * secmem_alloc, with root's protections asked for). Returns 0 or -1.
 */
int secmem_alloc_under(struct secmem *, struct secmem *root, size_t max);
/* The label that goes into the buffer's key (at most SECMEM_LABEL_MAX). */
void secmem_set_label(struct secmem *, const char *);
/*
 * Zero root's prekey and derived key: every buffer under it is
 * unrecoverable from here on (each still to be wiped). Returns 0 or -1.
 */
int secmem_unshield(struct secmem *root);
/*
 * Wipe (shield first), unlock and unmap. Idempotent. A root's buffers
 * under it are freed with it.
 */
void secmem_free(struct secmem *);
/*
 * Zero the prekey and derived key (if no other buffer under the same
 * shield holds anything), then the scratch page, then the buffer; the
 * state becomes empty. If a mapping cannot be made writable
 * the emergency wipe is tried instead. Returns 0 once everything is zero,
 * or -1 with errno if it may not be: the caller must not say it wiped,
 * and the state is SECMEM_DIRTY (len kept) until a wipe succeeds.
 */
int secmem_wipe(struct secmem *);
/*
 * From a signal handler: the same for every live buffer, shields of all
 * of them first. Returns how many mappings could not be made writable (0:
 * all zero). Async-signal-safe: mprotect(2), memset(3), clock_gettime(2)
 * only.
 */
int secmem_emergency_wipe(void);
/* From a signal handler: zero only the shields (unrecoverable at once). */
int secmem_emergency_shield(void);
/* Then the buffers only (the keys' zeroing time stays the shields'). */
int secmem_emergency_wipe_buffers(void);
/*
 * When the last wipe (either kind) finished zeroing the keys, on
 * CLOCK_MONOTONIC; zero if none. Async-signal-safe.
 */
void secmem_keys_zeroed_at(struct timespec *);

/*
 * Start loading a secret: wipe whatever is held, draw a fresh prekey
 * (unless other buffers under the shield hold theirs) and nonce. Returns
 * 0, or -1 with errno (nothing held).
 */
int secmem_load_begin(struct secmem *);
/*
 * One read(2) of at most min(limit, one page) bytes from fd into the
 * scratch page, encrypted at once to the buffer at offset done (the
 * buffer grows in place as needed), scratch zeroed. Returns the number of
 * bytes read (done grew by it), 0 at end of file or when limit is 0, or
 * -1 with errno: EAGAIN, EWOULDBLOCK and EINTR leave the load as it was,
 * to be resumed; EFBIG (more than the maximum), ECANCELED (no load in
 * progress: a wipe came first), ENOLCK (lock_required is set and the
 * pages the secret grew into could not be locked) and any other error
 * abort the load (all wiped, state empty).
 */
ssize_t secmem_load_read(struct secmem *, int fd, size_t limit);
/*
 * Make the loaded bytes the secret (len = done), zero the derived key.
 * Returns 0, or -1 with errno: ENODATA if nothing was read, ECANCELED if
 * no load was in progress; the load is aborted then.
 */
int secmem_load_commit(struct secmem *);
/* Drop a load in progress: everything read so far is wiped; state empty. */
void secmem_load_abort(struct secmem *);
/*
 * Load a whole secret from fd until end of file (begin, read, commit), at
 * most max bytes. If wait is given, each read first waits for it:
 * wait(arg, fd) returns true once fd is readable, false to stop loading.
 * Returns 0, or -1 with *why set ("empty", "larger than the maximum",
 * "interrupted") or NULL with errno for a read error; nothing is held
 * after a failure.
 */
int secmem_read_fd(struct secmem *, int fd, size_t max, const char **why,
    bool (*wait)(void *, int), void *arg);
/* Load len random bytes (a rehearsal secret). Returns 0 or -1, errno. */
int secmem_fill_random(struct secmem *, size_t len);

/*
 * Write the held secret from offset off to its end to fd, decrypting one
 * chunk at a time into the scratch page and zeroing it after each write.
 * Stops at the end, a short write or an error. Returns the bytes written
 * (the caller resumes at off plus that), 0 if off is the end, or -1 with
 * errno when nothing was written: EAGAIN or EWOULDBLOCK (wait for the
 * descriptor, then call again with the same off), EINTR, EINVAL (nothing
 * held or off past the end), or write(2)'s error.
 */
ssize_t secmem_write_fd(struct secmem *, int fd, size_t off);

/*
 * A window on the ciphertext buffer's mapped pages (for tests and
 * measurements: it never holds plaintext). secmem_open returns 0 or -1.
 */
int  secmem_open(struct secmem *, bool writable);
void secmem_close(struct secmem *);

/* Name the protections in prot, space-separated, into buf. */
void secmem_describe(unsigned, char *, size_t);
/* Does this kernel let us create a secretmem region? */
bool secmem_secretmem_available(void);

#endif
