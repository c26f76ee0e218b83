/* SPDX-License-Identifier: ISC */
#ifndef DAZAI_CONFIG_H
#define DAZAI_CONFIG_H

#include <stdbool.h>
#include <stddef.h>

#include "dazai/parse.h"

/*
 * dazaid's settings: built-in defaults < config file < command line. Every
 * field starts "unset" (CONFIG_UNSET or NULL) so that a merge copies only
 * what a layer actually said.
 */

#define CONFIG_UNSET	      (-1)
#define CONFIG_SECONDS_MAX    PARSE_SECONDS_MAX
#define CONFIG_SECRET_MAX     ((long long)1 << 30) /* 1 GiB ceiling */
#define CONFIG_ERRLEN	      512
#define CONFIG_COUNT_MAX      1000000000LL /* max_reads ceiling */
#define CONFIG_SESSIONS_MAX   64	   /* heartbeats at once */
#define CONFIG_SECRETS_MAX    64	   /* named secrets held at once */
#define CONFIG_ACTIONS_MAX    16	   /* commands per on_panic, on_wipe */
#define CONFIG_ACTION_TIMEOUT 10.0	   /* seconds, by default */

/* on_sleep: what happens before the machine suspends or hibernates. */
enum config_sleep {
	CONFIG_SLEEP_KEEP, /* nothing (the default) */
	CONFIG_SLEEP_WIPE, /* wipe every secret, as WIPE */
	CONFIG_SLEEP_PANIC /* a panic, at once */
};

/* Commands for the warden to run, in the order the file gives them. */
struct config_actions {
	char *cmd[CONFIG_ACTIONS_MAX];
	int   n;
};

struct config {
	char		     *socket;
	int		      arm;
	double		      grace;
	double		      ping_timeout;
	char		     *secret_file;
	int		      secret_fd;
	long long	      secret_size;
	long long	      secret_max;
	int		      require_lock;
	int		      no_secretmem;
	int		      no_sandbox;
	int		      ready_fd;
	int		      verbose;
	int		      empty; /* start with no secret */
	int		      allow_get;
	double		      max_lifetime; /* seconds, 0: off */
	double		      idle_timeout; /* seconds, 0: off */
	long long	      max_reads;    /* 0: off */
	long long	      sessions;	    /* heartbeats at once, 1 to 64 */
	long long	      secrets_max;  /* secrets held at once, 1 to 64 */
	struct config_actions on_panic;	    /* empty: unset */
	struct config_actions on_wipe;	    /* WIPE and expiry */
	double		      action_timeout; /* seconds, > 0 */
	int		      on_sleep;	      /* enum config_sleep */
};

/* What dazaid's command line asks for. */
enum config_args {
	CONFIG_ARGS_RUN,     /* run (or --check-config) */
	CONFIG_ARGS_HELP,    /* print config_usage(), exit 0 */
	CONFIG_ARGS_VERSION, /* print the version, exit 0 */
	CONFIG_ARGS_ERROR    /* say why, exit 2 */
};

enum config_args config_parse_args(int, char **, struct config *, char **,
    int *, char *, size_t);
const char	*config_usage(void);
int  config_load_layer(struct config *, const char *, char *, size_t,
     const char **, char *, size_t);
void config_init_unset(struct config *);
void config_init_defaults(struct config *);
void config_merge(struct config *, const struct config *);
void config_free(struct config *);
int  config_set(struct config *, const char *, const char *, char *, size_t);
int  config_load_file(struct config *, const char *, char *, size_t);
int  config_validate(const struct config *, char *, size_t);
void config_print(const struct config *, const char *, int);
const char *const *config_keys(void);
const char	  *config_sleep_name(int);

int config_parse_bool(const char *, int *);
int config_parse_seconds(const char *, double *);
int config_parse_size(const char *, long long *);
int config_parse_fd(const char *, int *);
int config_parse_count(const char *, long long *);

#endif
