/* SPDX-License-Identifier: ISC */
/* The one memory-reading helper every memory test uses. */
#include <sys/ptrace.h>
#include <sys/syscall.h>
#include <sys/wait.h>

#include <errno.h>
#include <signal.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sodium.h>

#include "helpers.h"
#include "memscan.h"

#define CHUNK (1024 * 1024)

/* Parse one /proc/PID/maps line. */
static int
parse_maps_line(const char *line, unsigned long *start, unsigned long *end,
    char *perms, char *name, size_t namelen)
{
	int off = 0;

	if (sscanf(line, "%lx-%lx %4s %*s %*s %*s %n", start, end, perms,
		&off) < 3)
		return -1;
	snprintf(name, namelen, "%.79s", off > 0 ? line + off : "");
	name[strcspn(name, "\n")] = '\0';
	return 0;
}

/* Count needle in [start, end) of the process's memory. */
static void
scan_region(int memfd, unsigned long start, unsigned long end,
    const void *needle, size_t len, struct memscan *ms, const char *perms,
    const char *name)
{
	unsigned char *buf;
	unsigned long  pos = start;
	size_t	       keep = 0, n, i;
	ssize_t	       r;

	if ((buf = malloc(CHUNK + len)) == NULL)
		return;
	while (pos < end) {
		n = end - pos < CHUNK ? end - pos : CHUNK;
		r = pread(memfd, buf + keep, n, (off_t)pos);
		if (r <= 0) {
			ms->unreadable++;
			break;
		}
		ms->bytes += r;
		n = keep + (size_t)r;
		for (i = 0; n >= len && i <= n - len; i++) {
			if (memcmp(buf + i, needle, len) != 0)
				continue;
			if (ms->hits < MEMSCAN_MAXHITS) {
				struct memscan_hit *h = &ms->hit[ms->hits];

				h->addr = pos - keep + i;
				h->start = start;
				h->end = end;
				snprintf(h->perms, sizeof h->perms, "%s",
				    perms);
				snprintf(h->name, sizeof h->name, "%s", name);
			}
			ms->hits++;
		}
		pos += (unsigned long)r;
		keep = n >= len - 1 ? len - 1 : n;
		memmove(buf, buf + n - keep, keep);
	}
	free(buf);
}

/*
 * Scan every mapping of pid for needle. Returns 0, or -1 if the process's
 * memory cannot be opened at all (errno set).
 */
int
memscan_pid(pid_t pid, const void *needle, size_t len, struct memscan *ms)
{
	char	      path[64], line[512], perms[8], name[80];
	unsigned long start, end;
	FILE	     *maps;
	int	      memfd;

	memset(ms, 0, sizeof *ms);
	snprintf(path, sizeof path, "/proc/%d/mem", (int)pid);
	if ((memfd = open(path, O_RDONLY)) < 0)
		return -1;
	snprintf(path, sizeof path, "/proc/%d/maps", (int)pid);
	if ((maps = fopen(path, "r")) == NULL) {
		close(memfd);
		return -1;
	}
	while (fgets(line, sizeof line, maps) != NULL) {
		if (parse_maps_line(line, &start, &end, perms, name,
			sizeof name) != 0)
			continue;
		ms->regions++;
		if (strcmp(name, "[vsyscall]") == 0)
			continue;
		scan_region(memfd, start, end, needle, len, ms, perms, name);
	}
	fclose(maps);
	close(memfd);
	return 0;
}

/* The VmFlags of pid's mapping that holds addr, from smaps. */
int
memscan_vmflags(pid_t pid, unsigned long addr, char *out, size_t outlen)
{
	char	      path[64], line[512];
	unsigned long lo, hi;
	FILE	     *fp;
	int	      inside = 0;

	snprintf(path, sizeof path, "/proc/%d/smaps", (int)pid);
	if ((fp = fopen(path, "r")) == NULL)
		return -1;
	while (fgets(line, sizeof line, fp) != NULL) {
		if (sscanf(line, "%lx-%lx ", &lo, &hi) == 2)
			inside = addr >= lo && addr < hi;
		else if (inside && strncmp(line, "VmFlags:", 8) == 0) {
			snprintf(out, outlen, "%.200s", line + 8);
			out[strcspn(out, "\n")] = '\0';
			fclose(fp);
			return 0;
		}
	}
	fclose(fp);
	return -1;
}

/* Permissions of the mappings right below and above addr's mapping. */
int
memscan_neighbours(pid_t pid, unsigned long addr, char *below, char *above)
{
	char	      path[64], line[512], perms[8], name[80];
	char	      prev_perms[8] = "";
	unsigned long start, end, prev_end = 0;
	FILE	     *fp;
	int	      found = 0;

	snprintf(below, 8, "none");
	snprintf(above, 8, "none");
	snprintf(path, sizeof path, "/proc/%d/maps", (int)pid);
	if ((fp = fopen(path, "r")) == NULL)
		return -1;
	while (fgets(line, sizeof line, fp) != NULL) {
		if (parse_maps_line(line, &start, &end, perms, name,
			sizeof name) != 0)
			continue;
		if (found) {
			if (start == prev_end)
				snprintf(above, 8, "%s", perms);
			break;
		}
		if (addr >= start && addr < end) {
			if (prev_end == start)
				snprintf(below, 8, "%s", prev_perms);
			found = 1;
		}
		snprintf(prev_perms, sizeof prev_perms, "%s", perms);
		prev_end = end;
	}
	fclose(fp);
	return found ? 0 : -1;
}

/* Does a VmFlags string hold the two-letter flag? */
int
memscan_has_flag(const char *flags, const char *flag)
{
	size_t	    n = strlen(flag);
	const char *p;

	for (p = flags; (p = strstr(p, flag)) != NULL; p += n)
		if ((p == flags || p[-1] == ' ') &&
		    (p[n] == ' ' || p[n] == '\0'))
			return 1;
	return 0;
}

/* Count needle in a file (a core dump); -1 if it cannot be read. */
int
memscan_file(const char *path, const void *needle, size_t len)
{
	unsigned char *buf;
	size_t	       keep = 0, n, i;
	ssize_t	       r;
	int	       fd, hits = 0;

	if ((fd = open(path, O_RDONLY)) < 0)
		return -1;
	if ((buf = malloc(CHUNK + len)) == NULL) {
		close(fd);
		return -1;
	}
	while ((r = read(fd, buf + keep, CHUNK)) > 0) {
		n = keep + (size_t)r;
		for (i = 0; n >= len && i <= n - len; i++)
			if (memcmp(buf + i, needle, len) == 0)
				hits++;
		keep = n >= len - 1 ? len - 1 : n;
		memmove(buf, buf + n - keep, keep);
	}
	free(buf);
	close(fd);
	return r < 0 ? -1 : hits;
}

/* Is this system call one a process makes as its very last? */
static bool
final_syscall(const struct __ptrace_syscall_info *si)
{
	switch (si->entry.nr) {
	case SYS_exit_group:
	case SYS_exit:
	case SYS_tgkill:
	case SYS_tkill:
		return true;
	case SYS_kill:
		return si->entry.args[1] == SIGKILL;
	}
	return false;
}

/* Does this system call unmap part of [start, end)? */
static bool
unmaps(const struct __ptrace_syscall_info *si, unsigned long start,
    unsigned long end)
{
	unsigned long a = si->entry.args[0], len = si->entry.args[1];

	return si->entry.nr == SYS_munmap && a < end && a + len > start;
}

/*
 * How many of the nr ranges are still readable in pid and hold a byte
 * other than zero (a range gone is not counted).
 */
static int
nonzero_ranges(pid_t pid, const unsigned long *ranges, size_t nr)
{
	unsigned char *buf;
	unsigned long  len;
	size_t	       r, i;
	int	       n = 0;

	for (r = 0; r < nr; r++) {
		len = ranges[2 * r + 1] - ranges[2 * r];
		if ((buf = malloc(len)) == NULL)
			continue;
		if (memscan_peek(pid, ranges[2 * r], buf, len) == 0) {
			for (i = 0; i < len && buf[i] == 0; i++)
				;
			if (i < len)
				n++;
		}
		free(buf);
	}
	return n;
}

/* Scan pid for each needle; the sum of their hits, or -1. */
static int
scan_needles(pid_t pid, const void *const *needles, size_t n, size_t len)
{
	struct memscan ms;
	size_t	       i;
	int	       hits = 0;

	for (i = 0; i < n; i++) {
		if (memscan_pid(pid, needles[i], len, &ms) != 0)
			return -1;
		hits += ms.hits;
	}
	return hits;
}

/*
 * Trace pid's system calls (it must be our child), call trigger(arg), and
 * scan for each of the n needles at the entry of each final system call
 * and of each munmap that touches one of the nr ranges (start, end pairs:
 * the secure mappings), until it dies; at each final system call every
 * range still mapped must also be all zero (md->nonzero counts those
 * that are not). Signals it receives are delivered. Returns 0 with *md
 * filled (the process reaped), -1 if tracing failed or it did not die
 * within 20 s.
 */
int
memscan_trace_death_n(pid_t pid, const void *const *needles, size_t n,
    size_t len, const unsigned long *ranges, size_t nr, void (*trigger)(void *),
    void *arg, struct memscan_death *md)
{
	return memscan_trace_death_at(pid, needles, n, len, ranges, nr, trigger,
	    NULL, arg, md);
}

/*
 * The same, calling at_entry(pid, arg) at every other system-call entry
 * stop, where a test may rewrite the call about to be made.
 */
int
memscan_trace_death_at(pid_t pid, const void *const *needles, size_t n,
    size_t len, const unsigned long *ranges, size_t nr, void (*trigger)(void *),
    void (*at_entry)(pid_t, void *), void *arg, struct memscan_death *md)
{
	struct __ptrace_syscall_info si;
	size_t			     r;
	bool			     unmap;
	int			     st, inject, hits;

	memset(md, 0, sizeof *md);
	if (ptrace(PTRACE_SEIZE, pid, 0, PTRACE_O_TRACESYSGOOD) != 0 ||
	    ptrace(PTRACE_INTERRUPT, pid, 0, 0) != 0 ||
	    dz_waitpid(pid, &st, 10) != 0 || !WIFSTOPPED(st) ||
	    ptrace(PTRACE_SYSCALL, pid, 0, 0) != 0)
		return -1;
	trigger(arg);
	for (;;) {
		if (dz_waitpid(pid, &st, 20) != 0) {
			kill(pid, SIGKILL);
			dz_waitpid(pid, &st, 5);
			errno = ETIMEDOUT;
			return -1;
		}
		if (WIFEXITED(st) || WIFSIGNALED(st))
			break;
		inject = 0;
		if (WSTOPSIG(st) == (SIGTRAP | 0x80)) {
			memset(&si, 0, sizeof si);
			if (ptrace(PTRACE_GET_SYSCALL_INFO, pid, sizeof si,
				&si) > 0 &&
			    si.op == PTRACE_SYSCALL_INFO_ENTRY) {
				for (unmap = false, r = 0; r < nr; r++)
					unmap |= unmaps(&si, ranges[2 * r],
					    ranges[2 * r + 1]);
				if (final_syscall(&si) &&
				    (hits = scan_needles(pid, needles, n,
					 len)) >= 0) {
					md->hits += hits;
					md->scans++;
					md->nonzero +=
					    nonzero_ranges(pid, ranges, nr);
				} else if (unmap &&
				    (hits = scan_needles(pid, needles, n,
					 len)) >= 0) {
					md->unmap_hits += hits;
					md->unmap_scans++;
				} else if (at_entry != NULL)
					at_entry(pid, arg);
			}
		} else if ((st >> 16) == 0)
			inject = WSTOPSIG(st); /* signal-delivery-stop */
		ptrace(PTRACE_SYSCALL, pid, 0, inject);
	}
	md->status = st;
	return 0;
}

/* The same for one needle and one range. */
int
memscan_trace_death(pid_t pid, const void *needle, size_t len,
    unsigned long start, unsigned long end, void (*trigger)(void *), void *arg,
    struct memscan_death *md)
{
	const unsigned long range[2] = { start, end };

	return memscan_trace_death_n(pid, &needle, 1, len, range, 1, trigger,
	    arg, md);
}

/*
 * pid's mappings that are locked and excluded from core dumps (the
 * secure mappings), at most max of them; returns how many, or -1. Such
 * ranges that touch with the same permissions count as one: a buffer
 * grown in place a page at a time may be split into several VMAs.
 */
int
memscan_secure_maps(pid_t pid, struct memscan_map *out, int max)
{
	char	      path[64], line[512], perms[8], cperms[8] = "";
	unsigned long lo, hi, clo = 0, chi = 0;
	FILE	     *fp;
	int	      n = 0;

	snprintf(path, sizeof path, "/proc/%d/smaps", (int)pid);
	if ((fp = fopen(path, "r")) == NULL)
		return -1;
	while (fgets(line, sizeof line, fp) != NULL) {
		if (sscanf(line, "%lx-%lx %7s ", &lo, &hi, perms) == 3) {
			clo = lo;
			chi = hi;
			snprintf(cperms, sizeof cperms, "%s", perms);
			continue;
		}
		if (strncmp(line, "VmFlags:", 8) != 0 ||
		    !memscan_has_flag(line + 8, "lo") ||
		    !memscan_has_flag(line + 8, "dd"))
			continue;
		if (n > 0 && out[n - 1].end == clo &&
		    strcmp(out[n - 1].perms, cperms) == 0) {
			out[n - 1].end = chi;
			continue;
		}
		if (n == max)
			continue;
		out[n].start = clo;
		out[n].end = chi;
		snprintf(out[n].perms, sizeof out[n].perms, "%s", cperms);
		snprintf(out[n].flags, sizeof out[n].flags, "%.250s", line + 8);
		n++;
	}
	fclose(fp);
	return n;
}

/* Read len bytes of pid's memory at addr (root reads PROT_NONE too). */
int
memscan_peek(pid_t pid, unsigned long addr, void *buf, size_t len)
{
	char	path[64];
	ssize_t r;
	int	fd, saved;

	snprintf(path, sizeof path, "/proc/%d/mem", (int)pid);
	if ((fd = open(path, O_RDONLY)) < 0)
		return -1;
	r = pread(fd, buf, len, (off_t)addr);
	saved = errno;
	close(fd);
	errno = saved;
	return r == (ssize_t)len ? 0 : -1;
}

/*
 * Find a shielded secret's two secure mappings in pid (the shield: a
 * 16 KiB prekey, a key page and a scratch page; the buffer: ciphertext)
 * and take samples: the prekey's first, middle and last 32 bytes, the
 * key derived from the whole prekey, the first 32 bytes of ciphertext.
 * Returns 0, or -1 (errno ENOENT: not exactly that pair).
 */
int
memscan_shield(pid_t pid, struct memscan_shield *sh)
{
	enum { PREKEY = 16384 };
	struct memscan_map m[4];
	unsigned long	   pg = (unsigned long)sysconf(_SC_PAGESIZE);
	unsigned long	   slen = PREKEY + 2 * pg;
	unsigned char	  *prekey;
	int		   n, i, si = -1, bi = -1, rc;

	memset(sh, 0, sizeof *sh);
	if ((n = memscan_secure_maps(pid, m, 4)) < 0)
		return -1;
	for (i = 0; i < n; i++) {
		if (m[i].end - m[i].start == slen && si < 0)
			si = i;
		else
			bi = i;
	}
	if (n != 2 || si < 0 || bi < 0) {
		errno = ENOENT;
		return -1;
	}
	sh->shield = m[si];
	sh->buf = m[bi];
	if ((prekey = malloc(PREKEY)) == NULL)
		return -1;
	rc = memscan_peek(pid, m[si].start, prekey, PREKEY);
	if (rc == 0)
		rc = memscan_peek(pid, m[bi].start, sh->ct, sizeof sh->ct);
	if (rc == 0) {
		memcpy(sh->prekey, prekey, 32);
		memcpy(sh->prekey_mid, prekey + PREKEY / 2, 32);
		memcpy(sh->prekey_end, prekey + PREKEY - 32, 32);
		crypto_generichash(sh->key, sizeof sh->key, prekey, PREKEY,
		    NULL, 0);
	}
	free(prekey);
	return rc;
}

/*
 * What a death scan looks for in a shielded daemon: the plaintext marker,
 * the ciphertext, the prekey samples and the derived key (needles), at
 * the unmap of the shield or of the buffer and at the last system call
 * (ranges, start and end of each: all zero then if still mapped).
 */
void
memscan_shield_targets(const struct memscan_shield *sh, const void *marker,
    const void *needles[MEMSCAN_NEEDLES], unsigned long ranges[4])
{
	needles[0] = marker;
	needles[1] = sh->ct;
	needles[2] = sh->prekey;
	needles[3] = sh->prekey_mid;
	needles[4] = sh->prekey_end;
	needles[5] = sh->key;
	ranges[0] = sh->shield.start;
	ranges[1] = sh->shield.end;
	ranges[2] = sh->buf.start;
	ranges[3] = sh->buf.end;
}
