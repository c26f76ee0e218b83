/* SPDX-License-Identifier: ISC */
#ifndef DAZAI_SOCKPATH_H
#define DAZAI_SOCKPATH_H

#include <sys/types.h>

#include <stdbool.h>
#include <stddef.h>

/* Longest path that fits sun_path with its terminating NUL. */
#define SOCKPATH_MAX	107
#define SOCKPATH_ERRLEN 512

/* What went wrong, for the caller's exit status. */
enum sockpath_status {
	SOCKPATH_OK,
	SOCKPATH_USAGE,	  /* bad path: exit 2 */
	SOCKPATH_RUNTIME, /* unsafe directory, already running: exit 1 */
};

int  sockpath_default(char *, size_t, char *, size_t);
int  sockpath_check_length(const char *, char *, size_t);
int  sockpath_prepare_dir(const char *, bool, char *, size_t);
int  sockpath_check_dir(const char *, bool, char *, size_t);
int  sockpath_listen(const char *, char *, size_t);
int  sockpath_connect(const char *);
int  sockpath_resolve(const char *, char *, size_t, bool *, char *, size_t);
int  sockpath_connect_trusted(const char *, bool, char *, size_t);
int  sockpath_open_dir(const char *);
int  sockpath_dir_alone(const char *);
bool sockpath_peer_allowed(int, uid_t *, pid_t *);

void sockpath_peer_name(int, bool, char *, size_t);

#endif
