/* SPDX-License-Identifier: ISC */
#ifndef DAZAI_PARSE_H
#define DAZAI_PARSE_H

#include <stddef.h>

/*
 * The one place numbers given as text are read: on the command line, in
 * the config file, in the environment and on the wire. Plain decimal
 * digits only: no sign, no space, no base prefix. Each returns 0 with
 * the value in *out, or -1 leaving *out alone.
 */

#define PARSE_SECONDS_MAX 1000000.0

int parse_number(const char *, size_t, unsigned long long,
    unsigned long long *);
int parse_decimal(const char *, unsigned long long, unsigned long long *);
int parse_pid(const char *, int *);
int parse_fd(const char *, int, int *);
int parse_seconds(const char *, double *);
int parse_bool(const char *, int *);

#endif
