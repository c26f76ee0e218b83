/* SPDX-License-Identifier: ISC */
/*
 * The secure buffer. What each call defends against is written beside it.
 */
#include <sys/mman.h>
#include <sys/syscall.h>

#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>

#include <sodium.h>

#include "dazai/secmem.h"

#ifndef MADV_WIPEONFORK
#define MADV_WIPEONFORK	18
#endif

/*
 * Every live buffer's pages, so that a signal handler can wipe them without
 * touching anything but this table (async-signal-safe: plain loads).
 */
static struct {
	unsigned char *volatile	data;
	volatile size_t		cap;
} secmem_table[SECMEM_SLOTS];

/* Size of a page. */
static size_t
secmem_pagesize(void)
{
	long	 p = sysconf(_SC_PAGESIZE);

	return p > 0 ? (size_t)p : 4096;
}

/* Round n up to whole pages (at least one). */
static size_t
secmem_round(size_t n)
{
	size_t	 pg = secmem_pagesize();

	if (n == 0)
		n = 1;
	if (n > SIZE_MAX - pg)
		return 0;
	return (n + pg - 1) / pg * pg;
}

/* Try memfd_secret(2): map it over the middle of the reservation. */
/*
 * mlock(2) by system call: the report must say what the kernel did, and
 * a sanitizer runtime replaces the libc wrapper with one that does nothing
 * and returns 0.
 */
static int
secmem_mlock(void *addr, size_t len)
{
	return syscall(SYS_mlock, addr, len) == 0 ? 0 : -1;
}

static int
secmem_map_secret(struct secmem *sm)
{
#ifdef SYS_memfd_secret
	void	*p;
	int	 fd;

	fd = (int)syscall(SYS_memfd_secret, 0x80000 /* O_CLOEXEC */);
	if (fd < 0)
		return -1;
	if (ftruncate(fd, (off_t)sm->cap) != 0) {
		close(fd);
		return -1;
	}
	/* Pages removed from the kernel's direct map: not even a kernel
	 * read primitive or /proc/PID/mem reaches them. */
	p = mmap(sm->data, sm->cap, PROT_READ | PROT_WRITE,
	    MAP_SHARED | MAP_FIXED, fd, 0);
	close(fd);
	if (p != MAP_FAILED)
		return 0;
	/* A refused MAP_FIXED may have unmapped the range (for instance
	 * when RLIMIT_MEMLOCK is too small): restore the reservation. */
	if (mmap(sm->data, sm->cap, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS |
	    MAP_FIXED, -1, 0) == MAP_FAILED)
		return -2;
	return -1;
#else
	(void)sm;
	errno = ENOSYS;
	return -1;
#endif
}

/* Tell whether this kernel lets us create a secretmem region. */
bool
secmem_secretmem_available(void)
{
#ifdef SYS_memfd_secret
	int	 fd = (int)syscall(SYS_memfd_secret, 0x80000);

	if (fd < 0)
		return false;
	close(fd);
	return true;
#else
	return false;
#endif
}

/*
 * Map a buffer of at least size bytes. Locking failure is not an error:
 * it is recorded in lock_errno for the caller to judge. Returns -1 with
 * errno on failure.
 */
int
secmem_alloc(struct secmem *sm, size_t size, bool secretmem)
{
	size_t	 pg = secmem_pagesize();
	int	 i, mapped = -1;

	memset(sm, 0, sizeof *sm);
	sm->slot = -1;
	sm->secretmem_wanted = secretmem;
	if ((sm->cap = secmem_round(size)) == 0 ||
	    sm->cap > SIZE_MAX - 2 * pg) {
		errno = ENOMEM;
		return -1;
	}
	for (i = 0; i < SECMEM_SLOTS; i++)
		if (secmem_table[i].data == NULL)
			break;
	if (i == SECMEM_SLOTS) {
		errno = ENOMEM;
		return -1;
	}
	/* One reservation, all inaccessible: the first and last page stay
	 * so, catching overruns and underruns instead of reaching
	 * neighbouring memory. */
	sm->maplen = sm->cap + 2 * pg;
	sm->map = mmap(NULL, sm->maplen, PROT_NONE,
	    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (sm->map == MAP_FAILED) {
		sm->map = NULL;
		return -1;
	}
	sm->data = sm->map + pg;
	sm->prot |= SECMEM_GUARDS;
	if (secretmem && (mapped = secmem_map_secret(sm)) == 0)
		sm->prot |= SECMEM_SECRETMEM;
	else if (mapped == -2)
		goto fail;
	else if (mprotect(sm->data, sm->cap, PROT_READ | PROT_WRITE) != 0)
		goto fail;

	/* Locked pages are never written to swap. secretmem pages are
	 * locked by the kernel itself (and charged to RLIMIT_MEMLOCK when
	 * mapped); mlock(2) cannot populate them and would fail. */
	if (sm->prot & SECMEM_SECRETMEM)
		sm->prot |= SECMEM_LOCKED;
	else if (secmem_mlock(sm->data, sm->cap) == 0)
		sm->prot |= SECMEM_LOCKED;
	else
		sm->lock_errno = errno;
	/* Excluded from core dumps, should one be written after all. */
	if (madvise(sm->data, sm->cap, MADV_DONTDUMP) == 0)
		sm->prot |= SECMEM_DONTDUMP;
	/* A forked child gets zeros (anonymous) or no mapping (secretmem,
	 * which must be shared and refuses WIPEONFORK). */
	if (sm->prot & SECMEM_SECRETMEM) {
		if (madvise(sm->data, sm->cap, MADV_DONTFORK) == 0)
			sm->prot |= SECMEM_DONTFORK;
	} else if (madvise(sm->data, sm->cap, MADV_WIPEONFORK) == 0)
		sm->prot |= SECMEM_WIPEONFORK;

	secmem_table[i].cap = sm->cap;
	secmem_table[i].data = sm->data;
	sm->slot = i;
	/* Inaccessible until someone opens a read or write window. */
	if (mprotect(sm->data, sm->cap, PROT_NONE) == 0)
		sm->prot |= SECMEM_NOACCESS;
	return 0;
fail:
	i = errno;
	munmap(sm->map, sm->maplen);
	sm->map = NULL;
	errno = i;
	return -1;
}

/* Open a read (or read-write) window on the buffer. */
int
secmem_open(struct secmem *sm, bool writable)
{
	return mprotect(sm->data, sm->cap,
	    writable ? PROT_READ | PROT_WRITE : PROT_READ);
}

/* Close the window: the pages become inaccessible again. */
void
secmem_close(struct secmem *sm)
{
	if (mprotect(sm->data, sm->cap, PROT_NONE) != 0)
		sm->prot &= ~SECMEM_NOACCESS;
}

/*
 * Overwrite the whole buffer with zeros; the compiler cannot elide it.
 * Returns -1 if the pages could not be made writable, so the secret may
 * still be there: the caller must not say it was wiped.
 */
int
secmem_wipe(struct secmem *sm)
{
	int	 rc = 0;

	if (sm->map == NULL)
		return 0;
	if (secmem_open(sm, true) == 0) {
		sodium_memzero(sm->data, sm->cap);
		secmem_close(sm);
	} else if (secmem_emergency_wipe() != 0)
		rc = -1;
	sm->len = 0;
	return rc;
}

/* Wipe, then unmap. The table entry goes only after the wipe. */
void
secmem_free(struct secmem *sm)
{
	if (sm->map == NULL)
		return;
	secmem_wipe(sm);
	if (sm->slot >= 0) {
		secmem_table[sm->slot].data = NULL;
		secmem_table[sm->slot].cap = 0;
	}
	syscall(SYS_munlock, sm->data, sm->cap);
	munmap(sm->map, sm->maplen);
	sm->map = sm->data = NULL;
	sm->slot = -1;
}

/*
 * Wipe every live buffer from a signal handler: only mprotect(2) and
 * memset(3), both async-signal-safe (memset since POSIX.1-2008 TC2; see
 * signal-safety(7)). The empty asm that takes the pointer and clobbers
 * memory keeps the compiler from dropping the stores as dead, as
 * explicit_bzero does, at memset's speed. Returns the number of buffers
 * that could not be made writable (0: every one is zero now).
 */
int
secmem_emergency_wipe(void)
{
	unsigned char	*p;
	size_t		 n;
	int		 i, failed = 0;

	for (i = 0; i < SECMEM_SLOTS; i++) {
		p = secmem_table[i].data;
		n = secmem_table[i].cap;
		if (p == NULL)
			continue;
		if (mprotect(p, n, PROT_READ | PROT_WRITE) != 0) {
			failed++;
			continue;
		}
		memset(p, 0, n);
		__asm__ __volatile__("" : : "r"(p) : "memory");
		mprotect(p, n, PROT_NONE);
	}
	return failed;
}

/* Move the secret into a bigger buffer; the old one is wiped and freed. */
static int
secmem_grow(struct secmem *sm, size_t size)
{
	struct secmem	 n;

	if (secmem_alloc(&n, size, sm->secretmem_wanted) != 0)
		return -1;
	if (secmem_open(&n, true) != 0 || secmem_open(sm, false) != 0) {
		secmem_free(&n);
		return -1;
	}
	memcpy(n.data, sm->data, sm->len);
	n.len = sm->len;
	secmem_close(sm);
	secmem_close(&n);
	secmem_free(sm);
	*sm = n;
	return 0;
}

/*
 * Read a secret from fd until EOF, straight into the buffer with read(2).
 * At most max bytes. If wait is given, each read waits for it first:
 * wait(arg, fd) returns true once fd is readable, false to stop loading
 * (then *why is "interrupted"). Returns 0, or -1 with *why set (errno
 * kept for read errors, *why NULL then); on failure the buffer is wiped.
 */
int
secmem_read_fd(struct secmem *sm, int fd, size_t max, const char **why,
    bool (*wait)(void *, int), void *arg)
{
	ssize_t	 n;
	size_t	 want;
	int	 saved;

	*why = NULL;
	sm->len = 0;
	for (;;) {
		if (sm->len == sm->cap) {
			if (sm->cap > max) {
				*why = "larger than the maximum";
				goto fail;
			}
			want = sm->cap * 2;
			if (want > max + 1)
				want = max + 1;
			if (secmem_grow(sm, want) != 0)
				goto fail;
		}
		if (wait != NULL && !wait(arg, fd)) {
			*why = "interrupted";
			goto fail;
		}
		if (secmem_open(sm, true) != 0)
			goto fail;
		n = read(fd, sm->data + sm->len, sm->cap - sm->len);
		saved = errno;
		secmem_close(sm);
		if (n < 0) {
			if (saved == EINTR ||
			    (saved == EAGAIN && wait != NULL))
				continue;
			errno = saved;
			goto fail;
		}
		if (n == 0)
			break;
		sm->len += (size_t)n;
	}
	if (sm->len > max) {
		*why = "larger than the maximum";
		goto fail;
	}
	if (sm->len == 0) {
		*why = "empty";
		goto fail;
	}
	return 0;
fail:
	saved = errno;
	secmem_wipe(sm);
	errno = saved;
	return -1;
}

/* Generate len random bytes straight into the buffer. */
int
secmem_fill_random(struct secmem *sm, size_t len)
{
	if (len > sm->cap) {
		errno = EINVAL;
		return -1;
	}
	if (secmem_open(sm, true) != 0)
		return -1;
	randombytes_buf(sm->data, len);
	sm->len = len;
	secmem_close(sm);
	return 0;
}

/* Describe the protections that took effect, for logs and tests. */
void
secmem_describe(unsigned prot, char *buf, size_t size)
{
	static const struct {
		unsigned	 bit;
		const char	*name;
	} names[] = {
		{ SECMEM_LOCKED, "locked" },
		{ SECMEM_DONTDUMP, "dontdump" },
		{ SECMEM_WIPEONFORK, "wipeonfork" },
		{ SECMEM_DONTFORK, "dontfork" },
		{ SECMEM_GUARDS, "guard-pages" },
		{ SECMEM_NOACCESS, "noaccess-idle" },
		{ SECMEM_SECRETMEM, "secretmem" },
	};
	size_t	 i, off = 0;

	if (size == 0)
		return;
	buf[0] = '\0';
	for (i = 0; i < sizeof names / sizeof names[0]; i++) {
		const char *n = (prot & names[i].bit) ? names[i].name : NULL;
		size_t	 l;

		if (n == NULL)
			continue;
		l = strlen(n);
		if (off + l + 2 > size)
			break;
		if (off > 0)
			buf[off++] = ' ';
		memcpy(buf + off, n, l + 1);
		off += l;
	}
}
