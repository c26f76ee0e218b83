/* SPDX-License-Identifier: ISC */
#ifndef DAZAI_TEST_TERM_H
#define DAZAI_TEST_TERM_H

#include <sys/types.h>

#include <stdbool.h>
#include <stddef.h>

/*
 * One program on the master side of a pseudo-terminal, as the shell and
 * client suites drive it: what it writes is kept (NUL bytes shown as
 * spaces), term_wait searches from after the last match, and the program
 * is killed by pid at term_stop.
 */

#define TERM_OUT_MAX (256 * 1024)

struct term {
	pid_t  pid;		      /* the program, 0 once reaped */
	int    fd;		      /* pty master, -1 once closed */
	int    status;		      /* wait status once reaped */
	char   out[TERM_OUT_MAX + 1]; /* what the program wrote */
	size_t len;
	size_t seen; /* term_wait searches from here */
	int    sync; /* counter for a suite's markers */
};

void term_spawn(struct term *, const char *const *, char *const *, const char *,
    unsigned short, unsigned short);
int  term_read(struct term *, long long);
bool term_wait(struct term *, const char *, double);
void term_drain(struct term *, long long);
int  term_count(const struct term *, const char *);
void term_type(struct term *, const char *);
const char *term_tail(const struct term *);
bool	    term_echo(struct term *);
int	    term_exit(struct term *, double);
void	    term_stop(struct term *);

#endif
