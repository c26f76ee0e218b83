/* SPDX-License-Identifier: ISC */
/*
 * The secure buffer, shielded. What each call defends against is written
 * beside it; the layout and the streaming API are described in
 * include/dazai/secmem.h.
 */
#include <sys/mman.h>
#include <sys/syscall.h>

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>

#include "dazai/log.h"
#include "dazai/secmem.h"

#ifndef MADV_WIPEONFORK
#define MADV_WIPEONFORK 18
#endif

#define SECMEM_KEY_LEN crypto_stream_xchacha20_KEYBYTES
#define SECMEM_BLOCK   64 /* ChaCha20 block: the counter's unit */
#define SECMEM_FORK    (SECMEM_WIPEONFORK | SECMEM_DONTFORK)

/*
 * Every live mapping's usable pages, so that a signal handler can wipe
 * them without touching anything but this table (async-signal-safe: plain
 * loads). Shields are wiped before buffers.
 */
static struct {
	unsigned char *volatile data;
	volatile size_t	      cap;
	volatile sig_atomic_t shield;
} secmem_table[SECMEM_SLOTS];

/* When the keys were last zeroed (CLOCK_MONOTONIC), for the logs. */
static volatile time_t secmem_zeroed_sec;
static volatile long   secmem_zeroed_nsec;

/* Size of a page. */
static size_t
secmem_pagesize(void)
{
	long p = sysconf(_SC_PAGESIZE);

	return p > 0 ? (size_t)p : 4096;
}

/* Round n up to whole pages (at least one); 0 on overflow. */
static size_t
secmem_round(size_t n)
{
	size_t pg = secmem_pagesize();

	if (n == 0)
		n = 1;
	if (n > SIZE_MAX - pg)
		return 0;
	return (n + pg - 1) / pg * pg;
}

/* The buffer whose shield sm is under (itself unless made under one). */
static struct secmem *
secmem_root(struct secmem *sm)
{
	return sm->root != NULL ? sm->root : sm;
}

/* The shield sm is under. */
static struct secmem_region *
secmem_sh(struct secmem *sm)
{
	return &secmem_root(sm)->shield;
}

/* The shield's parts: prekey pages, the key page, the scratch page. */
static unsigned char *
secmem_prekey(struct secmem *sm)
{
	return secmem_sh(sm)->data;
}

/* The page the derived key lives in while an operation runs. */
static unsigned char *
secmem_keypage(struct secmem *sm)
{
	return secmem_sh(sm)->data + secmem_round(SECMEM_PREKEY_LEN);
}

/* The one page plaintext ever passes through. */
static unsigned char *
secmem_scratch(struct secmem *sm)
{
	return secmem_keypage(sm) + secmem_pagesize();
}

/*
 * Zero the vector registers: the last chunk of plaintext may still sit
 * in them (libsodium's ChaCha20 and memcpy move it through them), and a
 * signal delivered afterwards has the kernel save them into its frame on
 * our stack, where the plaintext would outlive every wipe (seen with
 * three secrets held: the last one read, whole, on the stack at a
 * panic's last system call). All of them are caller-saved, so nothing
 * of the compiler's is lost. x86-64 only; elsewhere a no-op.
 */
/* Zero vector register n (AVX-512, SSE), for secmem_burn_registers. */
#define SECMEM_Z(n) "vpxord %%zmm" #n ", %%zmm" #n ", %%zmm" #n "\n\t"
#define SECMEM_X(n) "pxor %%xmm" #n ", %%xmm" #n "\n\t"
#define SECMEM_XMMS \
	"xmm0", "xmm1", "xmm2", "xmm3", "xmm4", "xmm5", "xmm6", "xmm7", \
	    "xmm8", "xmm9", "xmm10", "xmm11", "xmm12", "xmm13", "xmm14", \
	    "xmm15"

/* clang-format off */
static void __attribute__((noinline))
secmem_burn_registers(void)
{
#if defined(__x86_64__)
	if (__builtin_cpu_supports("avx512f"))
		__asm__ __volatile__(
		    SECMEM_Z(0) SECMEM_Z(1) SECMEM_Z(2) SECMEM_Z(3)
		    SECMEM_Z(4) SECMEM_Z(5) SECMEM_Z(6) SECMEM_Z(7)
		    SECMEM_Z(8) SECMEM_Z(9) SECMEM_Z(10) SECMEM_Z(11)
		    SECMEM_Z(12) SECMEM_Z(13) SECMEM_Z(14) SECMEM_Z(15)
		    SECMEM_Z(16) SECMEM_Z(17) SECMEM_Z(18) SECMEM_Z(19)
		    SECMEM_Z(20) SECMEM_Z(21) SECMEM_Z(22) SECMEM_Z(23)
		    SECMEM_Z(24) SECMEM_Z(25) SECMEM_Z(26) SECMEM_Z(27)
		    SECMEM_Z(28) SECMEM_Z(29) SECMEM_Z(30) SECMEM_Z(31)
		    "vzeroupper" : : : SECMEM_XMMS);
	else if (__builtin_cpu_supports("avx"))
		__asm__ __volatile__("vzeroall" : : : SECMEM_XMMS);
	else
		__asm__ __volatile__(
		    SECMEM_X(0) SECMEM_X(1) SECMEM_X(2) SECMEM_X(3)
		    SECMEM_X(4) SECMEM_X(5) SECMEM_X(6) SECMEM_X(7)
		    SECMEM_X(8) SECMEM_X(9) SECMEM_X(10) SECMEM_X(11)
		    SECMEM_X(12) SECMEM_X(13) SECMEM_X(14) SECMEM_X(15)
		    : : : SECMEM_XMMS);
#endif
}
/* clang-format on */

/*
 * Zero the stack below the caller: libsodium's stream and hash functions
 * leave key schedules and keystream in their frames.
 */
/* clang-format off */
static void __attribute__((noinline))
secmem_burn_stack(void)
/* clang-format on */
{
	unsigned char pad[8192];

	sodium_memzero(pad, sizeof pad);
	__asm__ __volatile__("" : : "r"(pad) : "memory");
	secmem_burn_registers();
}

/* Record that the keys were zeroed just now. Async-signal-safe. */
static void
secmem_mark_zeroed(void)
{
	struct timespec ts;

	if (clock_gettime(CLOCK_MONOTONIC, &ts) == 0) {
		secmem_zeroed_sec = ts.tv_sec;
		secmem_zeroed_nsec = ts.tv_nsec;
	}
}

/* When the keys were last zeroed. Async-signal-safe. */
void
secmem_keys_zeroed_at(struct timespec *ts)
{
	ts->tv_sec = secmem_zeroed_sec;
	ts->tv_nsec = secmem_zeroed_nsec;
}

/*
 * A protection that was asked for did not take effect: leave it out of
 * the report and say so, once per buffer. A kernel that lacks
 * memfd_secret altogether is no surprise and only said with --verbose.
 */
static void
secmem_lose(struct secmem *sm, unsigned bits, int err, const char *what,
    const char *meaning)
{
	bool told = (sm->lost & bits) == bits;

	sm->prot &= ~bits;
	sm->lost |= bits;
	if ((bits & SECMEM_LOCKED) && sm->lock_errno == 0)
		sm->lock_errno = err;
	if (told)
		return;
	if (err == ENOSYS)
		log_debug("secure memory: %s not offered by this kernel", what);
	else
		log_warnx("secure memory: %s failed (%s): %s", what,
		    strerror(err), meaning);
}

/* A protection took effect here; it counts unless lost elsewhere. */
static void
secmem_gain(struct secmem *sm, unsigned bit)
{
	if (!(sm->lost & bit))
		sm->prot |= bit;
}

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

/*
 * Back [off, off + n) of the region with memfd_secret(2), mapped in place
 * over the reservation (the first call creates the descriptor, sized to
 * the whole reservation once: secretmem refuses a second ftruncate, and
 * only the mapped part is charged to RLIMIT_MEMLOCK). Returns 0, -1 with
 * errno (the reservation is intact), or -2 if it could not be restored.
 */
static int
secmem_map_secret(struct secmem_region *r, size_t off, size_t n)
{
#ifdef SYS_memfd_secret
	void *p;
	int   fd, saved;

	if (r->fd < 0) {
		fd = (int)syscall(SYS_memfd_secret, O_CLOEXEC);
		if (fd < 0)
			return -1;
		if (ftruncate(fd, (off_t)r->max) != 0) {
			saved = errno;
			close(fd);
			errno = saved;
			return -1;
		}
		r->fd = fd;
	}
	/* Pages removed from the kernel's direct map: not even a kernel
	 * read primitive or /proc/PID/mem reaches them. */
	p = mmap(r->data + off, n, PROT_READ | PROT_WRITE,
	    MAP_SHARED | MAP_FIXED, r->fd, (off_t)off);
	if (p != MAP_FAILED)
		return 0;
	saved = errno;
	/* A refused MAP_FIXED may have unmapped the range (for instance
	 * when RLIMIT_MEMLOCK is too small): restore the reservation. */
	if (mmap(r->data + off, n, PROT_NONE,
		MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_FIXED, -1,
		0) == MAP_FAILED)
		return -2;
	errno = saved;
	return -1;
#else
	(void)r;
	(void)off;
	(void)n;
	errno = ENOSYS;
	return -1;
#endif
}

/* Tell whether this kernel lets us create a secretmem region. */
bool
secmem_secretmem_available(void)
{
#ifdef SYS_memfd_secret
	int fd = (int)syscall(SYS_memfd_secret, O_CLOEXEC);

	if (fd < 0)
		return false;
	close(fd);
	return true;
#else
	return false;
#endif
}

/*
 * Make [off, off + n) of a region usable, with every protection: in
 * place, so what was there stays where it is and nothing is copied.
 * Returns 0, or -1 with errno if the pages could not be made usable.
 */
static int
secmem_region_map(struct secmem *sm, struct secmem_region *r, size_t off,
    size_t n)
{
	unsigned char *p = r->data + off;
	bool	       secret = false;

	if (sm->secretmem_wanted && !(sm->lost & SECMEM_SECRETMEM)) {
		switch (secmem_map_secret(r, off, n)) {
		case 0:
			secret = true;
			break;
		case -2:
			return -1;
		default:
			secmem_lose(sm, SECMEM_SECRETMEM, errno,
			    "memfd_secret(2)",
			    "the secret stays in the "
			    "kernel's direct map");
			if (r->fd >= 0) {
				close(r->fd);
				r->fd = -1;
			}
		}
	}
	if (!secret && mprotect(p, n, PROT_READ | PROT_WRITE) != 0)
		return -1;
	/* Locked pages are never written to swap. secretmem pages are
	 * locked by the kernel itself (and charged to RLIMIT_MEMLOCK when
	 * mapped); mlock(2) cannot populate them and would fail. */
	if (!secret && secmem_mlock(p, n) != 0) {
		/* Required: these pages are given back, never used. */
		if (sm->lock_required) {
			mprotect(p, n, PROT_NONE);
			errno = ENOLCK;
			return -1;
		}
		secmem_lose(sm, SECMEM_LOCKED, errno, "mlock(2)",
		    "the secret may be written to swap");
	}
	/* Excluded from core dumps, should one be written after all. */
	if (madvise(p, n, MADV_DONTDUMP) != 0)
		secmem_lose(sm, SECMEM_DONTDUMP, errno, "MADV_DONTDUMP",
		    "a core dump would include the secure memory");
	/* A forked child gets zeros (anonymous) or no mapping (secretmem,
	 * which must be shared and refuses WIPEONFORK). */
	if (madvise(p, n, secret ? MADV_DONTFORK : MADV_WIPEONFORK) == 0)
		secmem_gain(sm, secret ? SECMEM_DONTFORK : SECMEM_WIPEONFORK);
	else
		secmem_lose(sm, SECMEM_FORK, errno, "MADV_WIPEONFORK",
		    "a forked child would inherit the secure memory");
	/* Inaccessible until someone opens a window. */
	if (mprotect(p, n, PROT_NONE) != 0)
		secmem_lose(sm, SECMEM_NOACCESS, errno, "mprotect(PROT_NONE)",
		    "the secure memory stays accessible while idle");
	r->cap = off + n;
	if (r->slot >= 0)
		secmem_table[r->slot].cap = r->cap;
	return 0;
}

/*
 * Reserve address space for max usable bytes between two guard pages
 * (PROT_NONE reservations cost no lockable memory), register it for the
 * emergency wipe, and map its first initial bytes. Returns 0 or -1.
 */
static int
secmem_region_init(struct secmem *sm, struct secmem_region *r, size_t max,
    size_t initial, bool shield)
{
	size_t pg = secmem_pagesize();
	int    i;

	r->fd = -1;
	r->slot = -1;
	if (max > SIZE_MAX - 2 * pg) {
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
	r->maplen = max + 2 * pg;
	r->map = mmap(NULL, r->maplen, PROT_NONE,
	    MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (r->map == MAP_FAILED) {
		r->map = NULL;
		return -1;
	}
	r->data = r->map + pg;
	r->max = max;
	r->cap = 0;
	r->slot = i;
	secmem_table[i].cap = 0;
	secmem_table[i].shield = shield;
	secmem_table[i].data = r->data;
	return secmem_region_map(sm, r, 0, initial);
}

/* Unregister, unlock and unmap a region (already wiped). */
static void
secmem_region_free(struct secmem_region *r)
{
	if (r->slot >= 0) {
		secmem_table[r->slot].data = NULL;
		secmem_table[r->slot].cap = 0;
		r->slot = -1;
	}
	if (r->map != NULL) {
		if (r->cap > 0)
			syscall(SYS_munlock, r->data, r->cap);
		munmap(r->map, r->maplen);
	}
	if (r->fd >= 0)
		close(r->fd);
	r->fd = -1;
	r->map = r->data = NULL;
	r->cap = 0;
}

/*
 * Reserve a buffer for a secret of up to max bytes and create its
 * shield. Returns 0, or -1 with errno.
 */
int
secmem_alloc(struct secmem *sm, size_t max, bool secretmem)
{
	size_t pg = secmem_pagesize(), shield, bmax;
	int    saved;

	memset(sm, 0, sizeof *sm);
	sm->buf.fd = sm->shield.fd = -1;
	sm->buf.slot = sm->shield.slot = -1;
	sm->secretmem_wanted = secretmem;
	sm->root = sm;
	if (max == 0 || (bmax = secmem_round(max)) == 0) {
		errno = max == 0 ? EINVAL : ENOMEM;
		return -1;
	}
	sm->max = max;
	sm->prot = SECMEM_LOCKED | SECMEM_DONTDUMP | SECMEM_GUARDS |
	    SECMEM_NOACCESS | SECMEM_SHIELDED |
	    (secretmem ? SECMEM_SECRETMEM : 0);
	shield = secmem_round(SECMEM_PREKEY_LEN) + 2 * pg;
	if (secmem_region_init(sm, &sm->shield, shield, shield, true) != 0 ||
	    secmem_region_init(sm, &sm->buf, bmax, pg, false) != 0)
		goto fail;
	/* The shield never grows: its descriptor is no longer needed. */
	if (sm->shield.fd >= 0) {
		close(sm->shield.fd);
		sm->shield.fd = -1;
	}
	return 0;
fail:
	saved = errno;
	secmem_region_free(&sm->buf);
	secmem_region_free(&sm->shield);
	errno = saved;
	return -1;
}

/* Reserve a buffer of up to max bytes under root's shield. */
int
secmem_alloc_under(struct secmem *sm, struct secmem *root, size_t max)
{
	size_t bmax;
	int    saved;

	memset(sm, 0, sizeof *sm);
	sm->buf.fd = sm->shield.fd = -1;
	sm->buf.slot = sm->shield.slot = -1;
	if (root == NULL || root->shield.map == NULL || root->root != root ||
	    max == 0 || (bmax = secmem_round(max)) == 0) {
		errno = max == 0 || root == NULL ? EINVAL : ENOMEM;
		return -1;
	}
	sm->root = root;
	sm->max = max;
	sm->secretmem_wanted = root->secretmem_wanted;
	sm->lock_required = root->lock_required;
	sm->lost = root->lost;
	sm->prot = root->prot;
	if (secmem_region_init(sm, &sm->buf, bmax, secmem_pagesize(), false) !=
	    0) {
		saved = errno;
		secmem_region_free(&sm->buf);
		errno = saved;
		return -1;
	}
	/* What one buffer lost, the report of the shield's owner says. */
	root->prot &= sm->prot |
	    ~(SECMEM_LOCKED | SECMEM_SECRETMEM | SECMEM_DONTDUMP | SECMEM_FORK |
		SECMEM_NOACCESS);
	root->lost |= sm->lost;
	sm->next = root->next;
	root->next = sm;
	return 0;
}

/* The label that goes into the key (the secret's name). */
void
secmem_set_label(struct secmem *sm, const char *label)
{
	size_t n = strlen(label);

	if (n > SECMEM_LABEL_MAX)
		n = SECMEM_LABEL_MAX;
	memcpy(sm->label, label, n);
	sm->label[n] = '\0';
}

/* Does a buffer under sm's shield other than sm hold anything? */
static bool
secmem_others_hold(struct secmem *sm)
{
	struct secmem *p;

	for (p = secmem_root(sm); p != NULL; p = p->next)
		if (p != sm && p->state != SECMEM_EMPTY)
			return true;
	return false;
}

/* Make the buffer hold at least need bytes, doubling in place. */
static int
secmem_reserve(struct secmem *sm, size_t need)
{
	struct secmem_region *r = &sm->buf;
	size_t		      ncap;

	if (need <= r->cap)
		return 0;
	if ((ncap = secmem_round(need)) == 0 || ncap > r->max) {
		errno = EFBIG;
		return -1;
	}
	if (r->cap <= r->max / 2 && ncap < 2 * r->cap)
		ncap = 2 * r->cap;
	if (ncap > r->max)
		ncap = r->max;
	return secmem_region_map(sm, r, r->cap, ncap - r->cap);
}

/* Change the access of [off, off + n) of a region (whole pages). */
static int
secmem_window(struct secmem_region *r, size_t off, size_t n, int prot)
{
	size_t pg = secmem_pagesize();
	size_t lo = off / pg * pg, hi;

	if (n == 0)
		return 0;
	hi = secmem_round(off + n);
	return mprotect(r->data + lo, hi - lo, prot);
}

/* Close a window again; a failure shows in the report. */
static void
secmem_shut(struct secmem *sm, struct secmem_region *r, size_t off, size_t n)
{
	if (secmem_window(r, off, n, PROT_NONE) != 0)
		sm->prot &= ~SECMEM_NOACCESS;
}

/* Offsets in the shield. */
static size_t
secmem_off_key(void)
{
	return secmem_round(SECMEM_PREKEY_LEN);
}

/* Open or close the key and scratch pages together. */
static int
secmem_work_open(struct secmem *sm)
{
	return secmem_window(secmem_sh(sm), secmem_off_key(),
	    2 * secmem_pagesize(), PROT_READ | PROT_WRITE);
}

static void
secmem_work_close(struct secmem *sm)
{
	secmem_shut(sm, secmem_sh(sm), secmem_off_key(), 2 * secmem_pagesize());
}

/*
 * Derive this buffer's stream key into the (open) key page: BLAKE2b of
 * the prekey, this load's nonce and the label, the hash state kept in
 * the key page too (never on the stack), and zeroed after.
 */
static int
secmem_derive(struct secmem *sm)
{
	unsigned char		 *key = secmem_keypage(sm);
	crypto_generichash_state *st;

	st = (crypto_generichash_state *)(void *)(key + 256);
	if (secmem_window(secmem_sh(sm), 0, SECMEM_PREKEY_LEN, PROT_READ) != 0)
		return -1;
	crypto_generichash_init(st, NULL, 0, SECMEM_KEY_LEN);
	crypto_generichash_update(st, secmem_prekey(sm), SECMEM_PREKEY_LEN);
	crypto_generichash_update(st, sm->nonce, sizeof sm->nonce);
	crypto_generichash_update(st, (const unsigned char *)sm->label,
	    strlen(sm->label));
	crypto_generichash_final(st, key, SECMEM_KEY_LEN);
	sodium_memzero(st, sizeof *st);
	secmem_shut(sm, secmem_sh(sm), 0, SECMEM_PREKEY_LEN);
	return 0;
}

/* Zero the derived key (and the hash state beside it). */
static void
secmem_forget_key(struct secmem *sm)
{
	sodium_memzero(secmem_keypage(sm), secmem_pagesize());
}

/* XOR up to one block's worth (within one block) through the key page. */
static void
secmem_xor_partial(struct secmem *sm, unsigned char *out,
    const unsigned char *in, size_t n, size_t off)
{
	unsigned char *key = secmem_keypage(sm);
	unsigned char *blk = key + SECMEM_BLOCK;
	size_t	       skip = off % SECMEM_BLOCK;

	memset(blk, 0, SECMEM_BLOCK);
	memcpy(blk + skip, in, n);
	crypto_stream_xchacha20_xor_ic(blk, blk, SECMEM_BLOCK, sm->nonce,
	    off / SECMEM_BLOCK, key);
	memcpy(out, blk + skip, n);
	sodium_memzero(blk, SECMEM_BLOCK);
}

/*
 * XOR n bytes at stream offset off with the keystream (encrypting and
 * decrypting alike). Partial blocks go through the key page, so that
 * libsodium only ever sees whole blocks and leaves no partial plaintext
 * block in its stack frame. The key and scratch pages must be open.
 */
static void
secmem_xor(struct secmem *sm, unsigned char *out, const unsigned char *in,
    size_t n, size_t off)
{
	size_t take, full;

	if (off % SECMEM_BLOCK != 0) {
		take = SECMEM_BLOCK - off % SECMEM_BLOCK;
		if (take > n)
			take = n;
		secmem_xor_partial(sm, out, in, take, off);
		out += take;
		in += take;
		n -= take;
		off += take;
	}
	full = n / SECMEM_BLOCK * SECMEM_BLOCK;
	if (full > 0)
		crypto_stream_xchacha20_xor_ic(out, in, full, sm->nonce,
		    off / SECMEM_BLOCK, secmem_keypage(sm));
	if (n > full)
		secmem_xor_partial(sm, out + full, in + full, n - full,
		    off + full);
}

/* Zero a whole region through a write window. */
static int
secmem_region_zero(struct secmem *sm, struct secmem_region *r)
{
	if (r->map == NULL || r->cap == 0)
		return 0;
	if (mprotect(r->data, r->cap, PROT_READ | PROT_WRITE) != 0)
		return -1;
	sodium_memzero(r->data, r->cap);
	secmem_shut(sm, r, 0, r->cap);
	return 0;
}

/*
 * Zero the shield (prekey and derived key: the secret is unrecoverable
 * from here on), then the buffer. Returns 0, or -1 with errno.
 */
int
secmem_wipe(struct secmem *sm)
{
	struct secmem *root = secmem_root(sm), *p;
	int	       rc = 0, saved = 0;

	if (sm->shield.map == NULL && sm->buf.map == NULL)
		return 0;
	/* The shared prekey goes with the last secret under it. */
	if (secmem_others_hold(sm))
		;
	else if (secmem_region_zero(sm, &root->shield) != 0) {
		saved = errno;
		rc = -1;
	} else {
		secmem_mark_zeroed();
		root->keyed = false;
	}
	if (secmem_region_zero(sm, &sm->buf) != 0 && rc == 0) {
		saved = errno;
		rc = -1;
	}
	/* A window refused: the signal handlers' path, whose own failure
	 * means the secret may still be there. It zeroes every buffer,
	 * so every one under this shield is empty after it. */
	if (rc != 0 && secmem_emergency_wipe() == 0) {
		rc = 0;
		root->keyed = false;
		for (p = root; p != NULL; p = p->next)
			if (p != sm && p->state != SECMEM_DIRTY) {
				p->len = p->done = 0;
				p->state = SECMEM_EMPTY;
			}
	}
	sm->done = 0;
	if (rc == 0) {
		sm->len = 0;
		sm->state = SECMEM_EMPTY;
	} else
		sm->state = SECMEM_DIRTY;
	errno = saved;
	return rc;
}

/* Zero root's prekey and key: every buffer under it is unrecoverable. */
int
secmem_unshield(struct secmem *root)
{
	root = secmem_root(root);
	if (root->shield.map == NULL)
		return 0;
	if (secmem_region_zero(root, &root->shield) != 0)
		return -1;
	secmem_mark_zeroed();
	root->keyed = false;
	return 0;
}

/*
 * Wipe, then unmap. The table entries go only after the wipe. A buffer
 * under another's shield leaves its list; a root takes the buffers
 * still under it along (shield first).
 */
void
secmem_free(struct secmem *sm)
{
	struct secmem **pp, *p;

	if (sm->shield.map == NULL && sm->buf.map == NULL)
		return;
	if (sm->root != NULL && sm->root != sm) {
		secmem_wipe(sm);
		for (pp = &sm->root->next; *pp != NULL; pp = &(*pp)->next)
			if (*pp == sm) {
				*pp = sm->next;
				break;
			}
		sm->next = NULL;
		secmem_region_free(&sm->buf);
		return;
	}
	if (sm->next != NULL)
		secmem_unshield(sm);
	while ((p = sm->next) != NULL)
		secmem_free(p);
	secmem_wipe(sm);
	secmem_region_free(&sm->shield);
	secmem_region_free(&sm->buf);
}

/*
 * Zero the mappings of the table of one kind; returns how many could not
 * be made writable. Async-signal-safe.
 */
static int
secmem_emergency_pass(int shield)
{
	unsigned char *p;
	size_t	       n;
	int	       i, failed = 0;

	for (i = 0; i < SECMEM_SLOTS; i++) {
		p = secmem_table[i].data;
		n = secmem_table[i].cap;
		if (p == NULL || n == 0 || secmem_table[i].shield != shield)
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

/*
 * Wipe every live buffer from a signal handler: every shield first (the
 * secrets are unrecoverable once they are zero, whatever their size),
 * then the buffers. Only mprotect(2), memset(3) and clock_gettime(2), all
 * async-signal-safe (memset since POSIX.1-2008 TC2; see signal-safety(7)).
 * The empty asm that takes the pointer and clobbers memory keeps the
 * compiler from dropping the stores as dead, as explicit_bzero does, at
 * memset's speed. Returns the number of mappings that could not be made
 * writable (0: every one is zero now).
 */
int
secmem_emergency_wipe(void)
{
	int failed;

	if ((failed = secmem_emergency_pass(1)) == 0)
		secmem_mark_zeroed();
	return failed + secmem_emergency_pass(0);
}

/*
 * From a signal handler, once secmem_emergency_shield has zeroed every
 * shield: zero the buffers only, so that the time the keys were zeroed
 * stays that of the shield pass. Returns the number of buffers that could
 * not be made writable. Async-signal-safe as secmem_emergency_wipe.
 */
int
secmem_emergency_wipe_buffers(void)
{
	return secmem_emergency_pass(0);
}

/*
 * From a signal handler: make every live secret unrecoverable by zeroing
 * its shield (prekey and key) only; secmem_emergency_wipe_buffers zeroes
 * the buffers after. Returns the number of shields that could not be made
 * writable. Async-signal-safe as secmem_emergency_wipe.
 */
int
secmem_emergency_shield(void)
{
	int failed;

	if ((failed = secmem_emergency_pass(1)) == 0)
		secmem_mark_zeroed();
	return failed;
}

/*
 * Start loading: wipe, a fresh prekey (unless the shield holds other
 * secrets) and a fresh nonce, and check that the key can be derived.
 */
int
secmem_load_begin(struct secmem *sm)
{
	struct secmem *root = secmem_root(sm);

	if (secmem_sh(sm)->map == NULL || (sm != root && sm->buf.map == NULL)) {
		errno = EINVAL;
		return -1;
	}
	if (secmem_wipe(sm) != 0)
		return -1;
	if (!root->keyed) {
		if (secmem_window(secmem_sh(sm), 0, SECMEM_PREKEY_LEN,
			PROT_READ | PROT_WRITE) != 0)
			return -1;
		randombytes_buf(secmem_prekey(sm), SECMEM_PREKEY_LEN);
		secmem_shut(sm, secmem_sh(sm), 0, SECMEM_PREKEY_LEN);
		root->keyed = true;
	}
	randombytes_buf(sm->nonce, sizeof sm->nonce);
	if (secmem_work_open(sm) != 0) {
		secmem_wipe(sm);
		return -1;
	}
	if (secmem_derive(sm) != 0) {
		secmem_work_close(sm);
		secmem_wipe(sm);
		return -1;
	}
	secmem_forget_key(sm);
	secmem_work_close(sm);
	secmem_burn_stack();
	sm->done = 0;
	sm->state = SECMEM_LOADING;
	return 0;
}

/*
 * Encrypt n plaintext bytes from the (open) scratch page to the buffer at
 * offset done, growing it in place, and zero them. Returns 0 or -1.
 */
static int
secmem_absorb(struct secmem *sm, size_t n)
{
	unsigned char *scratch = secmem_scratch(sm);
	int	       saved;

	if (secmem_reserve(sm, sm->done + n) != 0 ||
	    secmem_window(&sm->buf, sm->done, n, PROT_READ | PROT_WRITE) != 0) {
		saved = errno;
		sodium_memzero(scratch, n);
		errno = saved;
		return -1;
	}
	secmem_xor(sm, sm->buf.data + sm->done, scratch, n, sm->done);
	secmem_shut(sm, &sm->buf, sm->done, n);
	sodium_memzero(scratch, n);
	sm->done += n;
	return 0;
}

/* One read(2) into the scratch page, encrypted into the buffer. */
ssize_t
secmem_load_read(struct secmem *sm, int fd, size_t limit)
{
	size_t	want = secmem_pagesize();
	ssize_t n;
	int	saved;

	if (sm->state != SECMEM_LOADING) {
		errno = ECANCELED;
		return -1;
	}
	if (limit == 0)
		return 0;
	if (want > limit)
		want = limit;
	/* One byte past the maximum is enough to know it is too big. */
	if (want > sm->max - sm->done + 1)
		want = sm->max - sm->done + 1;
	if (secmem_work_open(sm) != 0) {
		saved = errno;
		goto fail;
	}
	n = read(fd, secmem_scratch(sm), want);
	saved = errno;
	if (n > 0 && sm->done + (size_t)n > sm->max) {
		sodium_memzero(secmem_scratch(sm), (size_t)n);
		saved = EFBIG;
		n = -1;
	} else if (n > 0 &&
	    (secmem_derive(sm) != 0 || secmem_absorb(sm, (size_t)n) != 0)) {
		saved = errno;
		sodium_memzero(secmem_scratch(sm), (size_t)n);
		n = -1;
	}
	secmem_forget_key(sm);
	secmem_work_close(sm);
	secmem_burn_stack();
	if (n >= 0)
		return n;
	if (saved == EAGAIN || saved == EWOULDBLOCK || saved == EINTR) {
		errno = saved;
		return -1;
	}
fail:
	secmem_load_abort(sm);
	errno = saved;
	return -1;
}

/* Make the loaded bytes the secret; the derived key is zeroed. */
int
secmem_load_commit(struct secmem *sm)
{
	int err;

	if (sm->state != SECMEM_LOADING || sm->done == 0) {
		err = sm->state != SECMEM_LOADING ? ECANCELED : ENODATA;
		secmem_load_abort(sm);
		errno = err;
		return -1;
	}
	if (secmem_work_open(sm) != 0) {
		err = errno;
		secmem_load_abort(sm);
		errno = err;
		return -1;
	}
	secmem_forget_key(sm);
	secmem_work_close(sm);
	sm->len = sm->done;
	sm->done = 0;
	sm->state = SECMEM_HELD;
	return 0;
}

/* Drop a load in progress, and anything else held. */
void
secmem_load_abort(struct secmem *sm)
{
	secmem_wipe(sm);
}

/* Load a whole secret from fd until end of file. */
int
secmem_read_fd(struct secmem *sm, int fd, size_t max, const char **why,
    bool (*wait)(void *, int), void *arg)
{
	ssize_t n;
	int	saved;

	*why = NULL;
	if (secmem_load_begin(sm) != 0)
		return -1;
	for (;;) {
		if (wait != NULL && !wait(arg, fd)) {
			*why = "interrupted";
			goto fail;
		}
		n = secmem_load_read(sm, fd,
		    max - sm->done < SIZE_MAX ? max - sm->done + 1 : SIZE_MAX);
		if (n > 0 && sm->done > max) {
			*why = "larger than the maximum";
			goto fail;
		}
		if (n > 0)
			continue;
		if (n == 0)
			break;
		if (errno == EINTR || (errno == EAGAIN && wait != NULL))
			continue;
		if (errno == EFBIG)
			*why = "larger than the maximum";
		else if (errno == ECANCELED)
			*why = "interrupted";
		goto fail;
	}
	if (secmem_load_commit(sm) != 0) {
		if (errno == ENODATA)
			*why = "empty";
		else if (errno == ECANCELED)
			*why = "interrupted";
		goto fail;
	}
	return 0;
fail:
	saved = errno;
	secmem_load_abort(sm);
	errno = saved;
	return -1;
}

/* Generate len random bytes through the scratch page, encrypted. */
int
secmem_fill_random(struct secmem *sm, size_t len)
{
	size_t pg = secmem_pagesize(), n;
	int    saved;

	if (len == 0 || len > sm->max) {
		errno = EINVAL;
		return -1;
	}
	if (secmem_load_begin(sm) != 0)
		return -1;
	while (sm->done < len) {
		n = len - sm->done < pg ? len - sm->done : pg;
		if (secmem_work_open(sm) != 0)
			goto fail;
		randombytes_buf(secmem_scratch(sm), n);
		if (secmem_derive(sm) != 0 || secmem_absorb(sm, n) != 0) {
			saved = errno;
			sodium_memzero(secmem_scratch(sm), n);
			secmem_forget_key(sm);
			secmem_work_close(sm);
			errno = saved;
			goto fail;
		}
		secmem_forget_key(sm);
		secmem_work_close(sm);
	}
	secmem_burn_stack();
	return secmem_load_commit(sm);
fail:
	saved = errno;
	secmem_load_abort(sm);
	errno = saved;
	return -1;
}

/* Write the held secret from off to fd, one decrypted chunk at a time. */
ssize_t
secmem_write_fd(struct secmem *sm, int fd, size_t off)
{
	unsigned char *scratch;
	size_t	       pg = secmem_pagesize(), n, start = off, total = 0;
	ssize_t	       w = 0;
	int	       saved = 0;

	if (sm->state != SECMEM_HELD || off > sm->len) {
		errno = EINVAL;
		return -1;
	}
	if (off == sm->len)
		return 0;
	if (secmem_work_open(sm) != 0)
		return -1;
	if (secmem_derive(sm) != 0 ||
	    secmem_window(&sm->buf, start, sm->len - start, PROT_READ) != 0) {
		saved = errno;
		sodium_memzero(secmem_keypage(sm), secmem_pagesize());
		secmem_work_close(sm);
		errno = saved;
		return -1;
	}
	scratch = secmem_scratch(sm);
	while (off < sm->len) {
		n = sm->len - off < pg ? sm->len - off : pg;
		secmem_xor(sm, scratch, sm->buf.data + off, n, off);
		w = write(fd, scratch, n);
		saved = errno;
		sodium_memzero(scratch, n);
		if (w <= 0)
			break;
		total += (size_t)w;
		off += (size_t)w;
		if ((size_t)w < n)
			break;
	}
	secmem_shut(sm, &sm->buf, start, sm->len - start);
	sodium_memzero(secmem_keypage(sm), secmem_pagesize());
	secmem_work_close(sm);
	secmem_burn_stack();
	if (total > 0)
		return (ssize_t)total;
	errno = w == 0 ? EIO : saved;
	return -1;
}

/* Open a read (or read-write) window on the ciphertext buffer. */
int
secmem_open(struct secmem *sm, bool writable)
{
	return mprotect(sm->buf.data, sm->buf.cap,
	    writable ? PROT_READ | PROT_WRITE : PROT_READ);
}

/* Close the window: the pages become inaccessible again. */
void
secmem_close(struct secmem *sm)
{
	secmem_shut(sm, &sm->buf, 0, sm->buf.cap);
}

/* Describe the protections that took effect, for logs and tests. */
void
secmem_describe(unsigned prot, char *buf, size_t size)
{
	static const struct {
		unsigned    bit;
		const char *name;
	} names[] = {
		{ SECMEM_LOCKED, "locked" },
		{ SECMEM_DONTDUMP, "dontdump" },
		{ SECMEM_WIPEONFORK, "wipeonfork" },
		{ SECMEM_DONTFORK, "dontfork" },
		{ SECMEM_GUARDS, "guard-pages" },
		{ SECMEM_NOACCESS, "noaccess-idle" },
		{ SECMEM_SECRETMEM, "secretmem" },
		{ SECMEM_SHIELDED, "shielded" },
	};
	size_t i, off = 0;

	if (size == 0)
		return;
	buf[0] = '\0';
	for (i = 0; i < sizeof names / sizeof names[0]; i++) {
		const char *n = (prot & names[i].bit) ? names[i].name : NULL;
		size_t	    l;

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
