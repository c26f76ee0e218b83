/* SPDX-License-Identifier: ISC */
/*
 * libFuzzer harness for the client's reply parsers: what a hostile or
 * broken daemon could send as one reply line goes through
 * client_classify, client_parse_secret, client_parse_session,
 * client_parse_status (and the JSON
 * and text renderings of what it accepts) and client_printable. Besides
 * the sanitizers, it checks what dazai relies on: an accepted secret
 * length is within the limit; an accepted STATUS has daZai-rs's four
 * fields first; the JSON is one line between braces; a printable copy
 * holds only printable ASCII and fits its buffer.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dazai/client.h"
#include "dazai/config.h"

int LLVMFuzzerTestOneInput(const uint8_t *, size_t);

/* Stop with a message libFuzzer will show next to the reproducer. */
#define CHECK(cond) \
	do { \
		if (!(cond)) { \
			fprintf(stderr, \
			    "fuzz_client: %s:%d: check failed: %s\n", \
			    __FILE__, __LINE__, #cond); \
			abort(); \
		} \
	} while (0)

/* Every byte of s is printable ASCII. */
static int
all_printable(const char *s)
{
	for (; *s != '\0'; s++)
		if (*s < ' ' || *s > '~')
			return 0;
	return 1;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const first[] = { "alive", "armed", "grace",
		"registered" };
	struct client_status	 st;
	char line[CLIENT_REPLY_MAX + 1], err[CLIENT_ERRLEN], out[8192],
	    small[24];
	const char *reason;
	size_t	    n, i;
	int	    rc;

	/* A reply line as client_read_line hands it over: no NUL, no
	 * newline, at most CLIENT_REPLY_MAX bytes. */
	if (size > CLIENT_REPLY_MAX || memchr(data, '\0', size) != NULL ||
	    memchr(data, '\n', size) != NULL)
		return 0;
	memcpy(line, data, size);
	line[size] = '\0';

	if (client_classify(line, &reason) == CLIENT_REFUSED)
		CHECK(reason != NULL &&
		    (strstr(line, reason) != NULL ||
			strcmp(reason, "no reason given") == 0));
	rc = client_parse_secret(line, &n, err, sizeof err);
	CHECK(rc >= -1 && rc <= 1);
	if (rc == 0)
		CHECK(n > 0 && n <= (size_t)CONFIG_SECRET_MAX);
	else
		CHECK(strlen(err) < sizeof err && all_printable(err));

	rc = client_parse_status(line, &st, err, sizeof err);
	CHECK(rc >= -1 && rc <= 1);
	if (rc == 0) {
		CHECK(st.n >= 4 && st.n <= CLIENT_FIELDS_MAX);
		for (i = 0; i < 4; i++)
			CHECK(strcmp(st.key[i], first[i]) == 0);
		for (i = 0; i < st.n; i++)
			CHECK(all_printable(st.key[i]) &&
			    all_printable(st.value[i]));
		if (client_status_json(&st, out, sizeof out) > 0) {
			CHECK(out[0] == '{');
			CHECK(strchr(out, '\n') == out + strlen(out) - 1);
			CHECK(out[strlen(out) - 2] == '}');
		}
		(void)client_status_text(&st, out, sizeof out);
		CHECK(client_status_json(&st, small, sizeof small) == -1 ||
		    strlen(small) < sizeof small);
	}

	memcpy(line, data, size); /* the status parser split it */
	line[size] = '\0';
	rc = client_parse_session(line, &st, err, sizeof err);
	CHECK(rc >= -1 && rc <= 1);
	if (rc == 0) {
		CHECK(st.n >= 5 && st.n <= CLIENT_FIELDS_MAX);
		CHECK(client_status_get(&st, "index") != NULL &&
		    client_status_get(&st, "idle") != NULL);
	} else
		CHECK(strlen(err) < sizeof err && all_printable(err));

	memcpy(line, data, size);
	line[size] = '\0';
	client_printable(line, small, sizeof small);
	CHECK(strlen(small) < sizeof small && all_printable(small));
	return 0;
}
