/* SPDX-License-Identifier: ISC */
#ifndef DAZAI_TEST_MEMSCAN_H
#define DAZAI_TEST_MEMSCAN_H

#include <sys/types.h>

#include <stdbool.h>
#include <stddef.h>

/*
 * Read another process's memory from outside, the way a core dump would
 * be grepped: every mapping in /proc/PID/maps through /proc/PID/mem
 * (which as root also reads PROT_NONE pages), counting a needle.
 */

#define MEMSCAN_MAXHITS 8

struct memscan_hit {
	unsigned long addr;	  /* where the needle starts */
	unsigned long start, end; /* its mapping */
	char	      perms[8];
	char	      name[80];
};

struct memscan {
	int		   regions;    /* mappings listed */
	int		   unreadable; /* mappings the kernel refused */
	long long	   bytes;      /* bytes actually read */
	int		   hits;
	struct memscan_hit hit[MEMSCAN_MAXHITS];
};

/* What tracing a process to its death saw. */
struct memscan_death {
	int scans;	 /* scans at its final system calls */
	int hits;	 /* needle copies those found */
	int unmap_scans; /* scans at munmap of the watched range */
	int unmap_hits;	 /* needle copies those found */
	int nonzero;	 /* watched ranges still mapped and not all
				 * zero at a final system call */
	int status;	 /* its wait status */
};

/* A secure mapping: locked and excluded from core dumps. */
struct memscan_map {
	unsigned long start, end;
	char	      perms[8];
	char	      flags[256]; /* its VmFlags */
};

/*
 * A shielded secret's two mappings, and samples of what they hold: the
 * prekey's first, middle and last 32 bytes, the BLAKE2b-256 of the whole
 * prekey (secmem's keys also take the load's nonce and the secret's name,
 * which a scan from outside does not know, so this is a hash of the
 * prekey, not the key; the key page itself is zero while idle) and the
 * first 32 bytes of ciphertext.
 */
struct memscan_shield {
	struct memscan_map shield;     /* prekey, key and scratch */
	struct memscan_map buf;	       /* ciphertext (mapped part) */
	unsigned char	   prekey[32]; /* its first bytes */
	unsigned char	   prekey_mid[32];
	unsigned char	   prekey_end[32];
	unsigned char	   key[32]; /* derived from it */
	unsigned char	   ct[32];  /* first 32 of ciphertext */
};

/* Needles of memscan_shield_targets: marker, ciphertext, three prekey
 * samples, the derived key; each 32 bytes. */
#define MEMSCAN_NEEDLES 6

int  memscan_pid(pid_t, const void *, size_t, struct memscan *);
int  memscan_trace_death(pid_t, const void *, size_t, unsigned long,
     unsigned long, void (*)(void *), void *, struct memscan_death *);
int  memscan_trace_death_n(pid_t, const void *const *, size_t, size_t,
     const unsigned long *, size_t, void (*)(void *), void *,
     struct memscan_death *);
int  memscan_trace_death_at(pid_t, const void *const *, size_t, size_t,
     const unsigned long *, size_t, void (*)(void *), void (*)(pid_t, void *),
     void *, struct memscan_death *);
int  memscan_secure_maps(pid_t, struct memscan_map *, int);
int  memscan_peek(pid_t, unsigned long, void *, size_t);
int  memscan_shield(pid_t, struct memscan_shield *);
void memscan_shield_targets(const struct memscan_shield *, const void *,
    const void *[MEMSCAN_NEEDLES], unsigned long[4]);
int  memscan_vmflags(pid_t, unsigned long, char *, size_t);
int  memscan_neighbours(pid_t, unsigned long, char *, char *);
int  memscan_has_flag(const char *, const char *);
int  memscan_file(const char *, const void *, size_t);

#endif
