/* SPDX-License-Identifier: ISC */
#ifndef DAZAI_SECBUF_H
#define DAZAI_SECBUF_H

#include <stdbool.h>
#include <stddef.h>

/*
 * The client's secret buffer: libsodium's guarded sodium_malloc memory,
 * checked to be locked (an allocation that cannot be is refused), grown
 * by moving the bytes to a bigger allocation and freeing (which zeroes)
 * the old one. Secret bytes enter it only by read(2)
 * straight into it and leave it only by write(2) straight from it.
 */

#define SECBUF_ERRLEN 256

struct secbuf {
	unsigned char *p;   /* sodium_malloc'd, or NULL */
	size_t	       len; /* bytes held */
	size_t	       cap; /* bytes allocated */
};

int	    secbuf_init(void);
const char *secbuf_error(void);
int	    secbuf_reserve(struct secbuf *, size_t);
void	    secbuf_free(struct secbuf *);
int	    secbuf_read_fd(struct secbuf *, int, size_t, char *, size_t);
int secbuf_read_tty(struct secbuf *, int, int, const char *, char *, size_t);
int secbuf_write_fd(const struct secbuf *, int, char *, size_t);

#endif
