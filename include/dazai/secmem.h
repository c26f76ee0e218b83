/* SPDX-License-Identifier: ISC */
#ifndef DAZAI_SECMEM_H
#define DAZAI_SECMEM_H

#include <stdbool.h>
#include <stddef.h>

/*
 * The secure buffer: the only place a secret byte ever lives. Its own
 * page-aligned mapping fenced by inaccessible guard pages, locked, excluded
 * from core dumps and from forked children, inaccessible while idle, backed
 * by memfd_secret(2) where the kernel offers it, wiped on every exit path.
 */

/* Which protections took effect (secmem.prot). */
#define SECMEM_LOCKED		0x01	/* mlock(2) */
#define SECMEM_DONTDUMP		0x02	/* MADV_DONTDUMP */
#define SECMEM_WIPEONFORK	0x04	/* MADV_WIPEONFORK (anonymous) */
#define SECMEM_DONTFORK		0x08	/* MADV_DONTFORK (secretmem) */
#define SECMEM_GUARDS		0x10	/* PROT_NONE page on each side */
#define SECMEM_NOACCESS		0x20	/* PROT_NONE while idle */
#define SECMEM_SECRETMEM	0x40	/* memfd_secret(2) backing */

#define SECMEM_SLOTS		4	/* live buffers at once */

struct secmem {
	unsigned char	*map;		/* whole mapping, guards included */
	size_t		 maplen;
	unsigned char	*data;		/* the usable pages */
	size_t		 cap;		/* usable bytes, a page multiple */
	size_t		 len;		/* bytes of secret held */
	unsigned	 prot;		/* SECMEM_* that took effect */
	int		 lock_errno;	/* why mlock failed, or 0 */
	int		 slot;		/* index in the emergency table */
	bool		 secretmem_wanted;
};

int	 secmem_alloc(struct secmem *, size_t, bool);
int	 secmem_open(struct secmem *, bool);
void	 secmem_close(struct secmem *);
int	 secmem_wipe(struct secmem *);
void	 secmem_free(struct secmem *);
int	 secmem_read_fd(struct secmem *, int, size_t, const char **,
	    bool (*)(void *, int), void *);
int	 secmem_fill_random(struct secmem *, size_t);
int	 secmem_emergency_wipe(void);
void	 secmem_describe(unsigned, char *, size_t);
bool	 secmem_secretmem_available(void);

#endif
