/* SPDX-License-Identifier: ISC */
/*
 * Settings: parsing of values, the config file (inih), the merge of the
 * layers and validation. Pure but for reading the file.
 */
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <ini.h>

#include "dazai/config.h"
#include "dazai/log.h"
#include "dazai/parse.h"

enum config_type {
	T_PATH,
	T_BOOL,
	T_SECONDS,
	T_SIZE,
	T_FD,
	T_COUNT,
	T_SESSIONS,
	T_SECRETS,
	T_ACTION,
	T_TIMEOUT,
	T_SLEEP
};

static const struct config_key {
	const char	*name;
	enum config_type type;
	size_t		 off;
} config_table[] = {
	{ "socket", T_PATH, offsetof(struct config, socket) },
	{ "arm", T_BOOL, offsetof(struct config, arm) },
	{ "grace", T_SECONDS, offsetof(struct config, grace) },
	{ "ping_timeout", T_SECONDS, offsetof(struct config, ping_timeout) },
	{ "secret_file", T_PATH, offsetof(struct config, secret_file) },
	{ "secret_fd", T_FD, offsetof(struct config, secret_fd) },
	{ "secret_size", T_SIZE, offsetof(struct config, secret_size) },
	{ "secret_max", T_SIZE, offsetof(struct config, secret_max) },
	{ "require_lock", T_BOOL, offsetof(struct config, require_lock) },
	{ "no_secretmem", T_BOOL, offsetof(struct config, no_secretmem) },
	{ "no_sandbox", T_BOOL, offsetof(struct config, no_sandbox) },
	{ "ready_fd", T_FD, offsetof(struct config, ready_fd) },
	{ "verbose", T_BOOL, offsetof(struct config, verbose) },
	{ "empty", T_BOOL, offsetof(struct config, empty) },
	{ "allow_get", T_BOOL, offsetof(struct config, allow_get) },
	{ "max_lifetime", T_SECONDS, offsetof(struct config, max_lifetime) },
	{ "idle_timeout", T_SECONDS, offsetof(struct config, idle_timeout) },
	{ "max_reads", T_COUNT, offsetof(struct config, max_reads) },
	{ "sessions", T_SESSIONS, offsetof(struct config, sessions) },
	{ "secrets_max", T_SECRETS, offsetof(struct config, secrets_max) },
	{ "on_panic", T_ACTION, offsetof(struct config, on_panic) },
	{ "on_wipe", T_ACTION, offsetof(struct config, on_wipe) },
	{ "action_timeout", T_TIMEOUT,
	    offsetof(struct config, action_timeout) },
	{ "on_sleep", T_SLEEP, offsetof(struct config, on_sleep) },
};

/* on_sleep's words, by enum config_sleep. */
static const char *const config_sleep_words[] = { "keep", "wipe", "panic" };
#define NKEYS (sizeof config_table / sizeof config_table[0])

/* Every field unset. */
void
config_init_unset(struct config *c)
{
	c->socket = NULL;
	c->arm = CONFIG_UNSET;
	c->grace = CONFIG_UNSET;
	c->ping_timeout = CONFIG_UNSET;
	c->secret_file = NULL;
	c->secret_fd = CONFIG_UNSET;
	c->secret_size = CONFIG_UNSET;
	c->secret_max = CONFIG_UNSET;
	c->require_lock = CONFIG_UNSET;
	c->no_secretmem = CONFIG_UNSET;
	c->no_sandbox = CONFIG_UNSET;
	c->ready_fd = CONFIG_UNSET;
	c->verbose = CONFIG_UNSET;
	c->empty = CONFIG_UNSET;
	c->allow_get = CONFIG_UNSET;
	c->max_lifetime = CONFIG_UNSET;
	c->idle_timeout = CONFIG_UNSET;
	c->max_reads = CONFIG_UNSET;
	c->sessions = CONFIG_UNSET;
	c->secrets_max = CONFIG_UNSET;
	c->on_panic.n = 0;
	c->on_wipe.n = 0;
	c->action_timeout = CONFIG_UNSET;
	c->on_sleep = CONFIG_UNSET;
}

/* The built-in defaults (the socket path is computed later). */
void
config_init_defaults(struct config *c)
{
	config_init_unset(c);
	c->arm = 0;
	c->grace = 0;
	c->ping_timeout = 0;
	c->secret_size = 32;
	c->secret_max = 4 * 1024 * 1024;
	c->require_lock = 0;
	c->no_secretmem = 0;
	c->no_sandbox = 0;
	c->verbose = 0;
	c->empty = 0;
	c->allow_get = 1;
	c->max_lifetime = 0;
	c->idle_timeout = 0;
	c->max_reads = 0;
	c->sessions = 1;
	c->secrets_max = 16;
	c->action_timeout = CONFIG_ACTION_TIMEOUT;
	c->on_sleep = CONFIG_SLEEP_KEEP;
}

/* Replace a string field. */
static void
config_set_str(char **dst, const char *src)
{
	free(*dst);
	*dst = src != NULL ? strdup(src) : NULL;
	if (src != NULL && *dst == NULL)
		fatal(1, "strdup");
}

/* Empty a list of actions. */
static void
config_actions_free(struct config_actions *a)
{
	int i;

	for (i = 0; i < a->n; i++)
		free(a->cmd[i]);
	a->n = 0;
}

/*
 * A layer that names actions replaces the lower layer's list as a whole:
 * the commands of one list come from one file, in its order.
 */
static void
config_actions_merge(struct config_actions *dst,
    const struct config_actions		   *src)
{
	int i;

	if (src->n == 0)
		return;
	config_actions_free(dst);
	for (i = 0; i < src->n; i++) {
		dst->cmd[i] = NULL;
		config_set_str(&dst->cmd[i], src->cmd[i]);
	}
	dst->n = src->n;
}

/* Copy into dst every field that src sets. */
void
config_merge(struct config *dst, const struct config *src)
{
	if (src->socket != NULL)
		config_set_str(&dst->socket, src->socket);
	/*
	 * The secret source is one setting with two forms: a layer that
	 * names either replaces what the layers below said (a file's
	 * secret_file gives way to --secret-fd). Both in one layer stay
	 * both, for config_validate to refuse.
	 */
	if (src->secret_file != NULL || src->secret_fd != CONFIG_UNSET) {
		config_set_str(&dst->secret_file, src->secret_file);
		dst->secret_fd = src->secret_fd;
		if (src->empty == CONFIG_UNSET)
			dst->empty = 0;
	}
	/* So is starting empty: it replaces a lower layer's source. */
	if (src->empty == 1 && src->secret_file == NULL &&
	    src->secret_fd == CONFIG_UNSET) {
		config_set_str(&dst->secret_file, NULL);
		dst->secret_fd = CONFIG_UNSET;
	}
#define M(f) \
	do { \
		if (src->f != CONFIG_UNSET) \
			dst->f = src->f; \
	} while (0)
	M(arm);
	M(grace);
	M(ping_timeout);
	M(secret_size);
	M(secret_max);
	M(require_lock);
	M(no_secretmem);
	M(no_sandbox);
	M(ready_fd);
	M(verbose);
	M(empty);
	M(allow_get);
	M(max_lifetime);
	M(idle_timeout);
	M(max_reads);
	M(sessions);
	M(secrets_max);
	M(action_timeout);
	M(on_sleep);
#undef M
	config_actions_merge(&dst->on_panic, &src->on_panic);
	config_actions_merge(&dst->on_wipe, &src->on_wipe);
}

/* Release the strings. */
void
config_free(struct config *c)
{
	free(c->socket);
	free(c->secret_file);
	c->socket = c->secret_file = NULL;
	config_actions_free(&c->on_panic);
	config_actions_free(&c->on_wipe);
}

/* The key names, NULL-terminated, for --help and tests. */
const char *const *
config_keys(void)
{
	static const char *keys[NKEYS + 1];
	size_t		   i;

	for (i = 0; i < NKEYS; i++)
		keys[i] = config_table[i].name;
	keys[NKEYS] = NULL;
	return keys;
}

/* on_sleep's word for a mode ("keep", "wipe", "panic"). */
const char *
config_sleep_name(int mode)
{
	if (mode < 0 ||
	    (size_t)mode >=
		sizeof config_sleep_words / sizeof config_sleep_words[0])
		return "keep";
	return config_sleep_words[mode];
}

/* The config file's switches: parse_bool's words. */
int
config_parse_bool(const char *s, int *out)
{
	return parse_bool(s, out);
}

/* Seconds as parse_seconds reads them, at most CONFIG_SECONDS_MAX. */
int
config_parse_seconds(const char *s, double *out)
{
	return parse_seconds(s, out);
}

/* A positive decimal byte count, at most CONFIG_SECRET_MAX. */
int
config_parse_size(const char *s, long long *out)
{
	unsigned long long v;

	if (parse_decimal(s, CONFIG_SECRET_MAX, &v) != 0 || v == 0)
		return -1;
	*out = (long long)v;
	return 0;
}

/* A non-negative decimal descriptor number, at most 65535. */
int
config_parse_fd(const char *s, int *out)
{
	return parse_fd(s, 65535, out);
}

/* A non-negative decimal count (0 allowed), at most CONFIG_COUNT_MAX. */
int
config_parse_count(const char *s, long long *out)
{
	unsigned long long v;

	if (parse_decimal(s, CONFIG_COUNT_MAX, &v) != 0)
		return -1;
	*out = (long long)v;
	return 0;
}

/* Append one command to a list of actions, or say why not. */
static int
config_add_action(struct config_actions *a, const char *key, const char *value,
    char *err, size_t errlen)
{
	const char *p;

	for (p = value; *p == ' ' || *p == '\t'; p++)
		;
	if (*p == '\0') {
		snprintf(err, errlen, "%s: empty command", key);
		return -1;
	}
	if (a->n >= CONFIG_ACTIONS_MAX) {
		snprintf(err, errlen, "%s: more than %d commands", key,
		    CONFIG_ACTIONS_MAX);
		return -1;
	}
	a->cmd[a->n] = NULL;
	config_set_str(&a->cmd[a->n], value);
	a->n++;
	return 0;
}

/*
 * Set one key (config-file spelling, "ping_timeout") from its text.
 * Returns 0, or -1 with a message in err.
 */
int
config_set(struct config *c, const char *key, const char *value, char *err,
    size_t errlen)
{
	const struct config_key *k = NULL;
	char			*field;
	size_t			 i;

	for (i = 0; i < NKEYS; i++)
		if (strcmp(config_table[i].name, key) == 0)
			k = &config_table[i];
	if (k == NULL) {
		snprintf(err, errlen, "unknown key '%s'", key);
		return -1;
	}
	field = (char *)c + k->off;
	switch (k->type) {
	case T_PATH:
		if (*value == '\0') {
			snprintf(err, errlen, "%s: empty path", key);
			return -1;
		}
		config_set_str((char **)(void *)field, value);
		return 0;
	case T_BOOL:
		if (config_parse_bool(value, (int *)(void *)field) == 0)
			return 0;
		snprintf(err, errlen,
		    "%s: '%s' is not a boolean "
		    "(true/false, yes/no, on/off, 1/0)",
		    key, value);
		return -1;
	case T_SECONDS:
		if (config_parse_seconds(value, (double *)(void *)field) == 0)
			return 0;
		snprintf(err, errlen,
		    "%s: '%s' is not a number of seconds "
		    "between 0 and %.0f",
		    key, value, CONFIG_SECONDS_MAX);
		return -1;
	case T_SIZE:
		if (config_parse_size(value, (long long *)(void *)field) == 0)
			return 0;
		snprintf(err, errlen,
		    "%s: '%s' is not a byte count between "
		    "1 and %lld",
		    key, value, CONFIG_SECRET_MAX);
		return -1;
	case T_COUNT:
		if (config_parse_count(value, (long long *)(void *)field) == 0)
			return 0;
		snprintf(err, errlen,
		    "%s: '%s' is not a count between 0 and "
		    "%lld",
		    key, value, CONFIG_COUNT_MAX);
		return -1;
	case T_SESSIONS:
		if (config_parse_count(value, (long long *)(void *)field) ==
			0 &&
		    *(long long *)(void *)field >= 1 &&
		    *(long long *)(void *)field <= CONFIG_SESSIONS_MAX)
			return 0;
		*(long long *)(void *)field = CONFIG_UNSET;
		snprintf(err, errlen,
		    "%s: '%s' is not a number of sessions "
		    "between 1 and %d",
		    key, value, CONFIG_SESSIONS_MAX);
		return -1;
	case T_SECRETS:
		if (config_parse_count(value, (long long *)(void *)field) ==
			0 &&
		    *(long long *)(void *)field >= 1 &&
		    *(long long *)(void *)field <= CONFIG_SECRETS_MAX)
			return 0;
		*(long long *)(void *)field = CONFIG_UNSET;
		snprintf(err, errlen,
		    "%s: '%s' is not a number of secrets "
		    "between 1 and %d",
		    key, value, CONFIG_SECRETS_MAX);
		return -1;
	case T_ACTION:
		return config_add_action((struct config_actions *)(void *)field,
		    key, value, err, errlen);
	case T_TIMEOUT:
		if (config_parse_seconds(value, (double *)(void *)field) == 0 &&
		    *(double *)(void *)field > 0)
			return 0;
		*(double *)(void *)field = CONFIG_UNSET;
		snprintf(err, errlen,
		    "%s: '%s' is not a number of seconds "
		    "above 0 and at most %.0f",
		    key, value, CONFIG_SECONDS_MAX);
		return -1;
	case T_SLEEP:
		for (i = 0; i <
		     sizeof config_sleep_words / sizeof config_sleep_words[0];
		     i++)
			if (strcmp(value, config_sleep_words[i]) == 0) {
				*(int *)(void *)field = (int)i;
				return 0;
			}
		snprintf(err, errlen,
		    "%s: '%s' is not one of keep, wipe, "
		    "panic",
		    key, value);
		return -1;
	case T_FD:
		if (config_parse_fd(value, (int *)(void *)field) == 0)
			return 0;
		snprintf(err, errlen,
		    "%s: '%s' is not a file descriptor "
		    "number",
		    key, value);
		return -1;
	}
	return -1;
}

struct config_file {
	FILE	      *fp;
	struct config *cfg;
	int	       line;
	int	       failed;
	char	      *err;
	size_t	       errlen;
	const char    *path;
	int	       action_line; /* the first on_panic or on_wipe */
};

/* Record the first error of the file, with its line. */
static void
config_file_error(struct config_file *f, const char *msg)
{
	if (f->failed)
		return;
	f->failed = 1;
	snprintf(f->err, f->errlen, "%s:%d: %s", f->path, f->line, msg);
}

/*
 * Cut a comment that follows a value: '#' or ';' after a space or tab
 * (a '#' inside a word, "a#b", stays). Then trailing blanks go.
 */
static void
config_strip_comment(char *line)
{
	char *p;

	for (p = line + 1; *p != '\0'; p++) {
		if ((*p == '#' || *p == ';') &&
		    (p[-1] == ' ' || p[-1] == '\t')) {
			*p = '\0';
			break;
		}
	}
	for (p = line + strlen(line); p > line &&
	     (p[-1] == ' ' || p[-1] == '\t' || p[-1] == '\r' || p[-1] == '\n');
	     p--)
		p[-1] = '\0';
}

/* inih's reader: one line at a time, so that we know the line number. */
static char *
config_reader(char *str, int num, void *arg)
{
	struct config_file *f = arg;
	char		   *p;
	size_t		    len;

	if (f->failed || fgets(str, num, f->fp) == NULL)
		return NULL;
	f->line++;
	len = strlen(str);
	if (len > 0 && str[len - 1] != '\n' && !feof(f->fp)) {
		config_file_error(f, "line too long");
		return NULL;
	}
	for (p = str; *p == ' ' || *p == '\t'; p++)
		;
	/* dazai mcp's [tool NAME] sections share the file; no other. */
	if (*p == '[' && strncmp(p, "[tool ", 6) != 0) {
		char msg[320];

		str[strcspn(str, "\r\n")] = '\0';
		snprintf(msg, sizeof msg,
		    "unknown section '%.200s' "
		    "(dazaid's settings have none; only dazai mcp's [tool "
		    "NAME])",
		    p);
		config_file_error(f, msg);
		return NULL;
	}
	if (*p == '#' || *p == ';' || *p == '\r' || *p == '\n' || *p == '\0')
		return str;
	config_strip_comment(p);
	/*
	 * inih would take an indented line for the continuation of the
	 * previous value. Here a line is a line: an indented "key = value"
	 * is read as one, any other indented text is an error.
	 */
	if (p != str) {
		if (strpbrk(p, "=:") == NULL) {
			config_file_error(f,
			    "indented line without '=': "
			    "values cannot continue on the next line "
			    "(see dazai.conf(5))");
			return NULL;
		}
		memmove(str, p, strlen(p) + 1);
	}
	return str;
}

/*
 * Put the path of a leading "~/" in value under $HOME into buf, as
 * ssh_config does. Returns value itself, buf, or NULL with a message.
 */
static const char *
config_expand_home(const char *key, const char *value, char *buf, size_t len,
    char *err, size_t errlen)
{
	const char *home = getenv("HOME");
	int	    n;

	if (value[0] != '~')
		return value;
	if (value[1] != '/' && value[1] != '\0') {
		snprintf(err, errlen,
		    "%s: '%.200s': only a leading ~/ is "
		    "expanded (not ~user)",
		    key, value);
		return NULL;
	}
	if (home == NULL || home[0] != '/') {
		snprintf(err, errlen,
		    "%s: '%.200s': HOME is not an absolute "
		    "path, so ~ cannot be expanded",
		    key, value);
		return NULL;
	}
	n = snprintf(buf, len, "%s%s",
	    strcmp(home, "/") == 0 && value[1] == '/' ? "" : home, value + 1);
	if (n < 0 || (size_t)n >= len) {
		snprintf(err, errlen,
		    "%s: '%.200s': too long once ~ is "
		    "expanded",
		    key, value);
		return NULL;
	}
	return buf;
}

/* inih's handler: one key. */
static int
config_handler(void *arg, const char *section, const char *key,
    const char *value)
{
	struct config_file *f = arg;
	char		    msg[CONFIG_ERRLEN], path[PATH_MAX];
	size_t		    i;

	if (f->failed)
		return 0;
	/* A [tool NAME] section's keys are dazai mcp's, not ours. */
	if (section[0] != '\0')
		return 1;
	for (i = 0; i < NKEYS; i++)
		if (config_table[i].type == T_PATH &&
		    strcmp(config_table[i].name, key) == 0 &&
		    (value = config_expand_home(key, value, path, sizeof path,
			 msg, sizeof msg)) == NULL) {
			config_file_error(f, msg);
			return 0;
		}
	if (config_set(f->cfg, key, value, msg, sizeof msg) != 0) {
		config_file_error(f, msg);
		return 0;
	}
	if (f->action_line == 0 &&
	    (strcmp(key, "on_panic") == 0 || strcmp(key, "on_wipe") == 0))
		f->action_line = f->line;
	return 1;
}

/*
 * A file that names actions chooses commands dazaid runs: it must be
 * owned by us (or root) and writable by no one else. Returns 0, or -1
 * with a message naming the file and why.
 */
static int
config_check_owner(const char *path, int line, const struct stat *st, char *err,
    size_t errlen)
{
	if (st->st_uid != getuid() && st->st_uid != 0) {
		snprintf(err, errlen,
		    "%s:%d: names panic actions but the file "
		    "belongs to uid %u, not to you (uid %u) or root: whoever "
		    "owns it chooses the commands dazaid runs",
		    path, line, (unsigned)st->st_uid, (unsigned)getuid());
		return -1;
	}
	if (st->st_mode & (S_IWGRP | S_IWOTH)) {
		snprintf(err, errlen,
		    "%s:%d: names panic actions but the file "
		    "is writable by %s (mode %04o): anyone who can edit it "
		    "chooses the commands dazaid runs (chmod go-w %s)",
		    path, line,
		    (st->st_mode & S_IWGRP) && (st->st_mode & S_IWOTH) ?
			"group and others" :
			st->st_mode & S_IWGRP ? "group" :
						"others",
		    (unsigned)(st->st_mode & 07777), path);
		return -1;
	}
	return 0;
}

/*
 * Load a config file into c (fields it does not set stay as they are).
 * Returns 0, or -1 with a "path:line: reason" message in err.
 */
int
config_load_file(struct config *c, const char *path, char *err, size_t errlen)
{
	struct config_file f;
	struct stat	   st;
	int		   rc, fd, nactions;

	/* As with ssh -F /dev/null: no file at all. */
	if (strcmp(path, "/dev/null") == 0)
		return 0;
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return -1;
	}
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
		snprintf(err, errlen, "%s: not a regular file", path);
		close(fd);
		return -1;
	}
	nactions = c->on_panic.n + c->on_wipe.n;
	if (st.st_mode & (S_IWGRP | S_IWOTH))
		log_warnx("%s: writable by group or others: anyone who can "
			  "edit it can disarm the daemon (chmod go-w)",
		    path);
	if ((f.fp = fdopen(fd, "r")) == NULL) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		close(fd);
		return -1;
	}
	f.cfg = c;
	f.line = 0;
	f.failed = 0;
	f.err = err;
	f.errlen = errlen;
	f.path = path;
	f.action_line = 0;
	rc = ini_parse_stream(config_reader, &f, config_handler, &f);
	fclose(f.fp);
	if (f.failed)
		return -1;
	if (rc != 0) {
		snprintf(err, errlen,
		    "%s:%d: syntax error (expected "
		    "key = value)",
		    path, rc > 0 ? rc : f.line);
		return -1;
	}
	if (c->on_panic.n + c->on_wipe.n > nactions &&
	    config_check_owner(path, f.action_line, &st, err, errlen) != 0)
		return -1;
	return 0;
}

/* Check the merged settings for contradictions. */
int
config_validate(const struct config *c, char *err, size_t errlen)
{
	if (c->secret_file != NULL && c->secret_fd != CONFIG_UNSET) {
		snprintf(err, errlen,
		    "secret_file and secret_fd are "
		    "mutually exclusive");
		return -1;
	}
	if (c->secret_file == NULL && c->secret_fd == CONFIG_UNSET &&
	    c->empty != 1 && c->secret_size > c->secret_max) {
		snprintf(err, errlen,
		    "secret_size %lld exceeds secret_max "
		    "%lld",
		    c->secret_size, c->secret_max);
		return -1;
	}
	if (c->empty == 1 &&
	    (c->secret_file != NULL || c->secret_fd != CONFIG_UNSET)) {
		snprintf(err, errlen,
		    "empty and a secret source (%s) are "
		    "mutually exclusive",
		    c->secret_file != NULL ? "secret_file" : "secret_fd");
		return -1;
	}
	if (c->ready_fd != CONFIG_UNSET && c->ready_fd == c->secret_fd) {
		snprintf(err, errlen,
		    "ready_fd and secret_fd are the same "
		    "descriptor");
		return -1;
	}
	return 0;
}

/* Print the settings in effect as config-file lines (no secret here). */
void
config_print(const struct config *c, const char *source, int fd)
{
	int i;

	dprintf(fd, "# settings in effect (config file: %s)\n",
	    source != NULL ? source : "none");
	dprintf(fd, "socket = %s\n", c->socket != NULL ? c->socket : "");
	dprintf(fd, "arm = %s\n", c->arm == 1 ? "true" : "false");
	dprintf(fd, "grace = %g\n", c->grace);
	dprintf(fd, "ping_timeout = %g\n", c->ping_timeout);
	if (c->secret_file != NULL)
		dprintf(fd, "secret_file = %s\n", c->secret_file);
	if (c->secret_fd != CONFIG_UNSET)
		dprintf(fd, "secret_fd = %d\n", c->secret_fd);
	dprintf(fd, "secret_size = %lld\n", c->secret_size);
	dprintf(fd, "secret_max = %lld\n", c->secret_max);
	dprintf(fd, "require_lock = %s\n",
	    c->require_lock == 1 ? "true" : "false");
	dprintf(fd, "no_secretmem = %s\n",
	    c->no_secretmem == 1 ? "true" : "false");
	dprintf(fd, "no_sandbox = %s\n", c->no_sandbox == 1 ? "true" : "false");
	if (c->ready_fd != CONFIG_UNSET)
		dprintf(fd, "ready_fd = %d\n", c->ready_fd);
	dprintf(fd, "verbose = %s\n", c->verbose == 1 ? "true" : "false");
	dprintf(fd, "empty = %s\n", c->empty == 1 ? "true" : "false");
	dprintf(fd, "allow_get = %s\n", c->allow_get == 1 ? "true" : "false");
	dprintf(fd, "max_lifetime = %g\n", c->max_lifetime);
	dprintf(fd, "idle_timeout = %g\n", c->idle_timeout);
	dprintf(fd, "max_reads = %lld\n", c->max_reads);
	dprintf(fd, "sessions = %lld\n", c->sessions);
	dprintf(fd, "secrets_max = %lld\n", c->secrets_max);
	for (i = 0; i < c->on_panic.n; i++)
		dprintf(fd, "on_panic = %s\n", c->on_panic.cmd[i]);
	for (i = 0; i < c->on_wipe.n; i++)
		dprintf(fd, "on_wipe = %s\n", c->on_wipe.cmd[i]);
	dprintf(fd, "action_timeout = %g\n", c->action_timeout);
	dprintf(fd, "on_sleep = %s\n", config_sleep_name(c->on_sleep));
}

/* dazaid's command line, and the config file layer it names. */

/* clang-format off */
static const char config_usage_text[] =
"usage: dazaid [--config PATH] [--socket PATH] [--arm | --dry-run]\n"
"              [--grace SEC] [--ping-timeout SEC]\n"
"              [--secret-file PATH | --secret-fd N] [--secret-size BYTES]\n"
"              [--secret-max BYTES] [--require-lock] [--no-secretmem]\n"
"              [--empty] [--no-get] [--max-lifetime SEC]\n"
"              [--idle-timeout SEC] [--max-reads N] [--sessions N]\n"
"              [--no-sandbox] [--ready-fd N] [--check-config] [--verbose]\n"
"              [--version] [--help]\n"
"\n"
"Hold one secret in locked memory while a heartbeat client stays\n"
"connected; wipe it and die when the heartbeat is lost or on SIGUSR1\n"
"(graceful) or SIGUSR2 (hard). Control connections (see dazai(1)) load,\n"
"read and wipe it. Durations are in seconds, fractions allowed.\n"
"\n"
"  --config PATH        config file (default\n"
"                       $XDG_CONFIG_HOME/dazai/dazai.conf)\n"
"  --socket PATH        heartbeat socket (default\n"
"                       $XDG_RUNTIME_DIR/dazai/dazai.sock)\n"
"  --arm                make the final SIGKILL real\n"
"  --dry-run            wipe but only log WOULD SIGKILL and exit 0 (default)\n"
"  --grace SEC          cancellable window before a graceful panic (0)\n"
"  --ping-timeout SEC   lose a heartbeat silent this long (0 = off)\n"
"  --secret-file PATH   read the secret from this file\n"
"  --secret-fd N        read the secret from descriptor N until EOF\n"
"  --secret-size BYTES  size of the random rehearsal secret (32)\n"
"  --secret-max BYTES   largest secret accepted (4194304)\n"
"  --require-lock       exit 1 if the secret cannot be mlock'ed\n"
"  --no-secretmem       do not use memfd_secret(2)\n"
"  --empty              start with no secret; wait for a LOAD\n"
"  --no-get             refuse GET (the secret is never handed out)\n"
"  --max-lifetime SEC   wipe the secret this long after its load (0 = off)\n"
"  --idle-timeout SEC   wipe it after this long without GET or LOAD (0)\n"
"  --max-reads N        wipe it after the Nth GET (0 = off)\n"
"  --sessions N         heartbeats at once, 1 to 64; losing the last is a\n"
"                       panic (1)\n"
"  --no-sandbox         do not confine the daemon (seccomp, Landlock);\n"
"                       for debugging only\n"
"  --ready-fd N         write a newline to N when ready, then close it\n"
"  --check-config       print the settings in effect and exit\n"
"  --verbose            debug logging and the memory protection report\n"
"  --version            print the version and exit\n"
"  --help               print this help and exit\n"
"\n"
"Exit status: 0 clean shutdown or dry-run panic, 1 runtime failure,\n"
"2 usage or configuration error. An armed panic ends by SIGKILL.\n";
/* clang-format on */

enum {
	OPT_CONFIG = 256,
	OPT_SOCKET,
	OPT_ARM,
	OPT_DRY_RUN,
	OPT_GRACE,
	OPT_PING_TIMEOUT,
	OPT_SECRET_FILE,
	OPT_SECRET_FD,
	OPT_SECRET_SIZE,
	OPT_SECRET_MAX,
	OPT_REQUIRE_LOCK,
	OPT_NO_SECRETMEM,
	OPT_READY_FD,
	OPT_CHECK_CONFIG,
	OPT_VERBOSE,
	OPT_VERSION,
	OPT_HELP,
	OPT_EMPTY,
	OPT_NO_GET,
	OPT_MAX_LIFETIME,
	OPT_IDLE_TIMEOUT,
	OPT_MAX_READS,
	OPT_SESSIONS,
	OPT_NO_SANDBOX,
};

static const struct option long_options[] = {
	{ "config", required_argument, NULL, OPT_CONFIG },
	{ "socket", required_argument, NULL, OPT_SOCKET },
	{ "arm", no_argument, NULL, OPT_ARM },
	{ "dry-run", no_argument, NULL, OPT_DRY_RUN },
	{ "grace", required_argument, NULL, OPT_GRACE },
	{ "ping-timeout", required_argument, NULL, OPT_PING_TIMEOUT },
	{ "secret-file", required_argument, NULL, OPT_SECRET_FILE },
	{ "secret-fd", required_argument, NULL, OPT_SECRET_FD },
	{ "secret-size", required_argument, NULL, OPT_SECRET_SIZE },
	{ "secret-max", required_argument, NULL, OPT_SECRET_MAX },
	{ "require-lock", no_argument, NULL, OPT_REQUIRE_LOCK },
	{ "no-secretmem", no_argument, NULL, OPT_NO_SECRETMEM },
	{ "empty", no_argument, NULL, OPT_EMPTY },
	{ "no-get", no_argument, NULL, OPT_NO_GET },
	{ "max-lifetime", required_argument, NULL, OPT_MAX_LIFETIME },
	{ "idle-timeout", required_argument, NULL, OPT_IDLE_TIMEOUT },
	{ "max-reads", required_argument, NULL, OPT_MAX_READS },
	{ "sessions", required_argument, NULL, OPT_SESSIONS },
	{ "no-sandbox", no_argument, NULL, OPT_NO_SANDBOX },
	{ "ready-fd", required_argument, NULL, OPT_READY_FD },
	{ "check-config", no_argument, NULL, OPT_CHECK_CONFIG },
	{ "verbose", no_argument, NULL, OPT_VERBOSE },
	{ "version", no_argument, NULL, OPT_VERSION },
	{ "help", no_argument, NULL, OPT_HELP },
	{ NULL, 0, NULL, 0 },
};

/* Set a key from an option's argument; -1 with err naming the option. */
static int
config_set_option(struct config *cli, const char *opt, const char *key,
    const char *value, char *err, size_t errlen)
{
	char msg[CONFIG_ERRLEN];

	if (config_set(cli, key, value, msg, sizeof msg) == 0)
		return 0;
	snprintf(err, errlen, "--%s: %s", opt,
	    strchr(msg, ':') != NULL ? strchr(msg, ':') + 2 : msg);
	return -1;
}

/*
 * dazaid's command line into cli (unset where not given), --config into
 * *config_path and --check-config into *check_config. Returns what main
 * is to do (CONFIG_ARGS_*), err saying why for CONFIG_ARGS_ERROR.
 */
enum config_args
config_parse_args(int argc, char **argv, struct config *cli, char **config_path,
    int *check_config, char *err, size_t errlen)
{
	const struct option *o;
	char		     key[32];
	size_t		     i;
	int		     ch;

	opterr = 0;
	while ((ch = getopt_long(argc, argv, ":", long_options, NULL)) != -1) {
		switch (ch) {
		case OPT_CONFIG:
			*config_path = optarg;
			break;
		case OPT_ARM:
			cli->arm = 1;
			break;
		case OPT_DRY_RUN:
			cli->arm = 0;
			break;
		case OPT_REQUIRE_LOCK:
			cli->require_lock = 1;
			break;
		case OPT_NO_SECRETMEM:
			cli->no_secretmem = 1;
			break;
		case OPT_NO_SANDBOX:
			cli->no_sandbox = 1;
			break;
		case OPT_VERBOSE:
			cli->verbose = 1;
			break;
		case OPT_EMPTY:
			cli->empty = 1;
			break;
		case OPT_NO_GET:
			cli->allow_get = 0;
			break;
		case OPT_CHECK_CONFIG:
			*check_config = 1;
			break;
		case OPT_VERSION:
			return CONFIG_ARGS_VERSION;
		case OPT_HELP:
			return CONFIG_ARGS_HELP;
		case ':':
			snprintf(err, errlen,
			    "%s: missing argument (see "
			    "--help)",
			    argv[optind - 1]);
			return CONFIG_ARGS_ERROR;
		case '?':
			snprintf(err, errlen, "%s: unknown option (see --help)",
			    argv[optind - 1]);
			return CONFIG_ARGS_ERROR;
		default:
			for (o = long_options; o->name != NULL; o++)
				if (o->val == ch)
					break;
			for (i = 0; o->name[i] != '\0' && i < sizeof key - 1;
			     i++)
				key[i] = o->name[i] == '-' ? '_' : o->name[i];
			key[i] = '\0';
			if (config_set_option(cli, o->name, key, optarg, err,
				errlen) != 0)
				return CONFIG_ARGS_ERROR;
			break;
		}
	}
	if (optind < argc) {
		snprintf(err, errlen, "%s: unexpected argument (see --help)",
		    argv[optind]);
		return CONFIG_ARGS_ERROR;
	}
	return CONFIG_ARGS_RUN;
}

/* dazaid --help. */
const char *
config_usage(void)
{
	return config_usage_text;
}

/* The default config file exists but we may not read it: say whose it is. */
static void
config_unreadable_default(const char *path, char *err, size_t errlen)
{
	struct stat st;

	if (stat(path, &st) == 0)
		snprintf(err, errlen,
		    "%s: permission denied: the default "
		    "config file belongs to uid %u (mode %04o) and dazaid runs "
		    "as uid %u; make it readable to you, or skip it with "
		    "--config /dev/null",
		    path, (unsigned)st.st_uid, (unsigned)(st.st_mode & 07777),
		    (unsigned)getuid());
	else
		snprintf(err, errlen,
		    "%s: permission denied: a directory "
		    "above the default config file is not searchable by uid "
		    "%u; fix its mode, or skip the file with --config "
		    "/dev/null",
		    path, (unsigned)getuid());
}

/*
 * Load the config file layer into file: --config's (explicit_path) must
 * exist, the default ($XDG_CONFIG_HOME or ~/.config, dazai/dazai.conf, in
 * buf) may not. *used is the file read, or NULL. Returns 0, or -1 with
 * err.
 */
int
config_load_layer(struct config *file, const char *explicit_path, char *buf,
    size_t len, const char **used, char *err, size_t errlen)
{
	const char *xdg = getenv("XDG_CONFIG_HOME");
	const char *home = getenv("HOME");
	const char *path = explicit_path;
	int	    n;

	*used = NULL;
	if (path == NULL) {
		if (xdg != NULL && *xdg == '/')
			n = snprintf(buf, len, "%s/dazai/dazai.conf", xdg);
		else if (home != NULL && *home == '/')
			n = snprintf(buf, len, "%s/.config/dazai/dazai.conf",
			    home);
		else
			return 0;
		if (n < 0 || (size_t)n >= len)
			return 0;
		if (access(buf, F_OK) != 0 && errno == ENOENT)
			return 0;
		path = buf;
		if (access(buf, R_OK) != 0 && errno == EACCES) {
			config_unreadable_default(buf, err, errlen);
			return -1;
		}
	}
	if (config_load_file(file, path, err, errlen) != 0)
		return -1;
	*used = path;
	return 0;
}
