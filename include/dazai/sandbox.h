/* SPDX-License-Identifier: ISC */
#ifndef DAZAI_SANDBOX_H
#define DAZAI_SANDBOX_H

#include <stdbool.h>
#include <stddef.h>

/*
 * Confinement once a process holds what it guards: no_new_privs, Landlock
 * (no filesystem access, no TCP) where the kernel offers it, and a seccomp
 * allowlist whose every other system call traps into a SIGSYS handler
 * that wipes before the process dies.
 */

/* Which layers took effect (sandbox.layers). */
#define SANDBOX_NNP	 0x01 /* PR_SET_NO_NEW_PRIVS */
#define SANDBOX_LANDLOCK 0x02 /* Landlock ruleset enforced */
#define SANDBOX_SECCOMP	 0x04 /* seccomp allowlist loaded */

/* Whose allowlist: each program gets only the calls it needs. */
enum sandbox_prog {
	SANDBOX_DAZAID = 1,
	SANDBOX_HEARTBEAT = 2,
};

struct sandbox {
	enum sandbox_prog prog;
	const char	 *name;	  /* prefix of the violation line */
	bool (*armed)(void);	  /* a violation ends by SIGKILL */
	int (*wipe)(void);	  /* async-signal-safe, or NULL */
	int	    unlink_dirfd; /* the socket's directory, or -1 */
	const char *unlink_name;  /* its one name buffer, or NULL */
	bool	    unlink_ok;	  /* unlinkat(dir, name, 0) allowed */
	unsigned    layers;	  /* SANDBOX_* that took effect */
	int	    landlock_abi; /* 0: none */
	char	    why[160];	  /* why a layer did not take effect */
};

void	    sandbox_init(struct sandbox *, enum sandbox_prog, const char *,
	   bool (*)(void), int (*)(void), int, const char *);
int	    sandbox_confine(struct sandbox *, char *, size_t);
const char *sandbox_describe(const struct sandbox *, char *, size_t);
bool	    sandbox_active(void);
const char *sandbox_layers(void);

#endif
