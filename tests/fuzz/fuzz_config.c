/* SPDX-License-Identifier: ISC */
/*
 * libFuzzer harness for the config layer. Each input is used twice:
 *
 * 1. as a whole config file, loaded by config_load_file through the same
 *    path dazaid uses (open, fstat, inih's stream reader, config_set). The
 *    bytes live in a memfd reopened through /proc/self/fd, so nothing is
 *    written to disk and the real open(2)/fstat(2) checks run;
 * 2. split into "key=value" lines handed straight to config_set, so keys
 *    and values that inih would trim or reject reach it too.
 *
 * After either, the result is merged over the defaults, validated,
 * printed (to /dev/null) and freed; LeakSanitizer sees any string that is
 * not. Checks: a value config_set accepts is within its documented range;
 * an error message is a terminated string that names the file and line.
 */
#include <sys/mman.h>
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "dazai/config.h"
#include "dazai/log.h"

int LLVMFuzzerTestOneInput(const uint8_t *, size_t);
int LLVMFuzzerInitialize(int *, char ***);

#define CHECK(cond) \
	do { \
		if (!(cond)) { \
			fprintf(stderr, \
			    "fuzz_config: %s:%d: check failed: %s\n", \
			    __FILE__, __LINE__, #cond); \
			abort(); \
		} \
	} while (0)

static int  memfd = -1;
static int  devnull = -1;
static char memfd_path[64];

/* A fatal() in the code under test is a finding: abort for a reproducer. */
static void
fuzz_exit(int status)
{
	fprintf(stderr, "fuzz_config: fatal() called (status %d)\n", status);
	abort();
}

/* One memfd for the file, /dev/null for config_print, log hooks. */
int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	log_init("fuzz_config", 0);
	log_set_exit_hook(fuzz_exit);
	memfd = memfd_create("dazai-fuzz.conf", MFD_CLOEXEC);
	if (memfd < 0) {
		perror("memfd_create");
		abort();
	}
	/* 0600, as a user's config would be: no "writable by others"
	 * warning on every input. */
	if (fchmod(memfd, 0600) != 0) {
		perror("fchmod memfd");
		abort();
	}
	snprintf(memfd_path, sizeof memfd_path, "/proc/self/fd/%d", memfd);
	if ((devnull = open("/dev/null", O_WRONLY | O_CLOEXEC)) < 0) {
		perror("/dev/null");
		abort();
	}
	return 0;
}

/* A value config_set said yes to must be in range. */
static void
check_ranges(const struct config *c)
{
	if (c->arm != CONFIG_UNSET)
		CHECK(c->arm == 0 || c->arm == 1);
	if (c->require_lock != CONFIG_UNSET)
		CHECK(c->require_lock == 0 || c->require_lock == 1);
	if (c->no_secretmem != CONFIG_UNSET)
		CHECK(c->no_secretmem == 0 || c->no_secretmem == 1);
	if (c->verbose != CONFIG_UNSET)
		CHECK(c->verbose == 0 || c->verbose == 1);
	if (c->grace != CONFIG_UNSET)
		CHECK(c->grace >= 0 && c->grace <= CONFIG_SECONDS_MAX);
	if (c->ping_timeout != CONFIG_UNSET)
		CHECK(c->ping_timeout >= 0 &&
		    c->ping_timeout <= CONFIG_SECONDS_MAX);
	if (c->secret_size != CONFIG_UNSET)
		CHECK(c->secret_size >= 1 &&
		    c->secret_size <= CONFIG_SECRET_MAX);
	if (c->secret_max != CONFIG_UNSET)
		CHECK(c->secret_max >= 1 && c->secret_max <= CONFIG_SECRET_MAX);
	if (c->secret_fd != CONFIG_UNSET)
		CHECK(c->secret_fd >= 0 && c->secret_fd <= 65535);
	if (c->ready_fd != CONFIG_UNSET)
		CHECK(c->ready_fd >= 0 && c->ready_fd <= 65535);
	if (c->socket != NULL)
		CHECK(c->socket[0] != '\0');
	if (c->secret_file != NULL)
		CHECK(c->secret_file[0] != '\0');
}

/* Merge a layer over the defaults, validate, print, free: as main does. */
static void
finish(struct config *layer)
{
	struct config cfg;
	char	      err[CONFIG_ERRLEN];

	check_ranges(layer);
	config_init_defaults(&cfg);
	config_merge(&cfg, layer);
	memset(err, 0x5a, sizeof err);
	if (config_validate(&cfg, err, sizeof err) != 0)
		CHECK(memchr(err, '\0', sizeof err) != NULL);
	config_print(&cfg, memfd_path, devnull);
	config_free(&cfg);
	config_free(layer);
}

/* The input as a config file. */
static void
fuzz_file(const uint8_t *data, size_t size)
{
	struct config layer;
	char	      err[CONFIG_ERRLEN];
	size_t	      off = 0;
	ssize_t	      n;

	if (ftruncate(memfd, 0) != 0)
		abort();
	while (off < size) {
		n = pwrite(memfd, data + off, size - off, (off_t)off);
		if (n <= 0)
			abort();
		off += (size_t)n;
	}
	config_init_unset(&layer);
	memset(err, 0x5a, sizeof err);
	if (config_load_file(&layer, memfd_path, err, sizeof err) != 0) {
		CHECK(memchr(err, '\0', sizeof err) != NULL);
		CHECK(strncmp(err, memfd_path, strlen(memfd_path)) == 0);
		CHECK(err[strlen(memfd_path)] == ':');
	}
	finish(&layer);
}

/* The input as "key=value" lines given to config_set directly. */
static void
fuzz_set(const uint8_t *data, size_t size)
{
	struct config layer;
	char	      err[CONFIG_ERRLEN];
	char	     *buf, *line, *next, *eq;

	if ((buf = malloc(size + 1)) == NULL)
		abort();
	memcpy(buf, data, size);
	buf[size] = '\0';
	config_init_unset(&layer);
	for (line = buf; line != NULL; line = next) {
		if ((next = strchr(line, '\n')) != NULL)
			*next++ = '\0';
		if ((eq = strchr(line, '=')) == NULL)
			continue;
		*eq = '\0';
		memset(err, 0x5a, sizeof err);
		if (config_set(&layer, line, eq + 1, err, sizeof err) != 0)
			CHECK(memchr(err, '\0', sizeof err) != NULL &&
			    err[0] != '\0');
		check_ranges(&layer);
	}
	free(buf);
	finish(&layer);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	fuzz_file(data, size);
	fuzz_set(data, size);
	return 0;
}
