/* SPDX-License-Identifier: ISC */
/*
 * Numbers and switches as text: one reader for the counts, sizes, pids,
 * descriptors and seconds that the config file, the command lines, the
 * environment and the wire carry. Pure: no I/O, no global state.
 */
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "dazai/parse.h"

/*
 * The len bytes at s as a decimal of at least one digit, at most max.
 * A length-delimited string, so that a protocol line need not be cut.
 */
int
parse_number(const char *s, size_t len, unsigned long long max,
    unsigned long long *out)
{
	unsigned long long v = 0, d;
	size_t		   i;

	if (len == 0)
		return -1;
	for (i = 0; i < len; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		d = (unsigned long long)(s[i] - '0');
		if (d > max || v > (max - d) / 10)
			return -1;
		v = v * 10 + d;
	}
	*out = v;
	return 0;
}

/* A NUL-terminated decimal, at most max. */
int
parse_decimal(const char *s, unsigned long long max, unsigned long long *out)
{
	return parse_number(s, strlen(s), max, out);
}

/* A process id: 1 to INT_MAX. */
int
parse_pid(const char *s, int *out)
{
	unsigned long long v;

	if (parse_decimal(s, INT_MAX, &v) != 0 || v == 0)
		return -1;
	*out = (int)v;
	return 0;
}

/* A descriptor number: 0 to max. */
int
parse_fd(const char *s, int max, int *out)
{
	unsigned long long v;

	if (max < 0 || parse_decimal(s, (unsigned long long)max, &v) != 0)
		return -1;
	*out = (int)v;
	return 0;
}

/*
 * Non-negative seconds with an optional fraction ("0.5", ".25"), at most
 * PARSE_SECONDS_MAX; no exponent, no sign, no "nan".
 */
int
parse_seconds(const char *s, double *out)
{
	const char *p;
	char	   *end;
	double	    v;
	int	    digits = 0, dot = 0;

	for (p = s; *p != '\0'; p++) {
		if (*p >= '0' && *p <= '9')
			digits++;
		else if (*p == '.' && !dot)
			dot = 1;
		else
			return -1;
	}
	if (digits == 0)
		return -1;
	errno = 0;
	v = strtod(s, &end);
	if (errno != 0 || *end != '\0' || !isfinite(v) || v < 0 ||
	    v > PARSE_SECONDS_MAX)
		return -1;
	*out = v;
	return 0;
}

/* A switch: true/false, yes/no, on/off, 1/0, in any case. */
int
parse_bool(const char *s, int *out)
{
	static const char *const yes[] = { "true", "yes", "on", "1" };
	static const char *const no[] = { "false", "no", "off", "0" };
	size_t			 i;

	for (i = 0; i < sizeof yes / sizeof yes[0]; i++) {
		if (strcasecmp(s, yes[i]) == 0) {
			*out = 1;
			return 0;
		}
		if (strcasecmp(s, no[i]) == 0) {
			*out = 0;
			return 0;
		}
	}
	return -1;
}
