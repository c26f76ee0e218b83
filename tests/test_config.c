/* SPDX-License-Identifier: ISC */
/* Settings: value parsers, the config file, precedence. */
#include <sys/stat.h>
#include <sys/wait.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "dazai/config.h"
#include "helpers.h"

START_TEST(parse_values)
{
	double	  d;
	long long ll;
	int	  b, fd;

	ck_assert_int_eq(config_parse_seconds("0.5", &d), 0);
	ck_assert(d == 0.5);
	ck_assert_int_eq(config_parse_seconds("30", &d), 0);
	ck_assert(d == 30);
	ck_assert_int_eq(config_parse_seconds(".25", &d), 0);
	ck_assert_int_eq(config_parse_seconds("-1", &d), -1);
	ck_assert_int_eq(config_parse_seconds("1e3", &d), -1);
	ck_assert_int_eq(config_parse_seconds("abc", &d), -1);
	ck_assert_int_eq(config_parse_seconds("", &d), -1);
	ck_assert_int_eq(config_parse_seconds(".", &d), -1);
	ck_assert_int_eq(config_parse_seconds("1.2.3", &d), -1);
	ck_assert_int_eq(config_parse_seconds("nan", &d), -1);
	ck_assert_int_eq(config_parse_seconds("9999999", &d), -1);
	ck_assert_int_eq(config_parse_bool("yes", &b), 0);
	ck_assert_int_eq(b, 1);
	ck_assert_int_eq(config_parse_bool("Off", &b), 0);
	ck_assert_int_eq(b, 0);
	ck_assert_int_eq(config_parse_bool("maybe", &b), -1);
	ck_assert_int_eq(config_parse_size("4194304", &ll), 0);
	ck_assert_int_eq(ll, 4194304);
	ck_assert_int_eq(config_parse_size("0", &ll), -1);
	ck_assert_int_eq(config_parse_size("-3", &ll), -1);
	ck_assert_int_eq(config_parse_size("99999999999999999999", &ll), -1);
	ck_assert_int_eq(config_parse_fd("3", &fd), 0);
	ck_assert_int_eq(fd, 3);
	ck_assert_int_eq(config_parse_fd("3x", &fd), -1);
}
END_TEST

/* Write a config file into a fresh directory and load it. */
static int
load(const char *text, struct config *c, char *err, size_t errlen)
{
	char dir[64], path[128];

	dz_tmpdir(dir, sizeof dir);
	snprintf(path, sizeof path, "%s/dazai.conf", dir);
	dz_write_file(path, text, strlen(text));
	config_init_unset(c);
	return config_load_file(c, path, err, errlen);
}

/* Write a config file with this mode into a fresh directory. */
static const char *
write_conf(const char *text, mode_t mode, char *path, size_t len)
{
	char dir[64];

	dz_tmpdir(dir, sizeof dir);
	snprintf(path, len, "%s/dazai.conf", dir);
	dz_write_file(path, text, strlen(text));
	ck_assert_int_eq(chmod(path, mode), 0);
	return path;
}

START_TEST(file_ok)
{
	struct config c;
	char	      err[CONFIG_ERRLEN];

	ck_assert_int_eq(
	    load("# comment\n; another\n\narm = true\n"
		 "grace = 2.5\nping_timeout=15\nsocket = /run/x.sock\n"
		 "secret_max = 1024\n",
		&c, err, sizeof err),
	    0);
	ck_assert_int_eq(c.arm, 1);
	ck_assert(c.grace == 2.5);
	ck_assert(c.ping_timeout == 15);
	ck_assert_str_eq(c.socket, "/run/x.sock");
	ck_assert_int_eq(c.secret_max, 1024);
	ck_assert_int_eq(c.require_lock, CONFIG_UNSET);
	config_free(&c);
}
END_TEST

START_TEST(file_errors_name_line)
{
	struct config c;
	char	      err[CONFIG_ERRLEN];

	ck_assert_int_eq(load("arm = true\n\nfrobnicate = 1\n", &c, err,
			     sizeof err),
	    -1);
	ck_assert_msg(strstr(err, "dazai.conf:3: unknown key 'frobnicate'") !=
		NULL,
	    "%s", err);
	config_free(&c);
	ck_assert_int_eq(load("arm = perhaps\n", &c, err, sizeof err), -1);
	ck_assert_msg(strstr(err,
			  "dazai.conf:1: arm: 'perhaps' is not a "
			  "boolean") != NULL,
	    "%s", err);
	config_free(&c);
	ck_assert_int_eq(load("\ngrace = -1\n", &c, err, sizeof err), -1);
	ck_assert_msg(strstr(err, "dazai.conf:2: grace:") != NULL, "%s", err);
	config_free(&c);
	ck_assert_int_eq(load("secret_size = lots\n", &c, err, sizeof err), -1);
	ck_assert_msg(strstr(err, ":1: secret_size:") != NULL, "%s", err);
	config_free(&c);
	ck_assert_int_eq(load("arm = false\n[dazaid]\n", &c, err, sizeof err),
	    -1);
	ck_assert_msg(strstr(err, ":2: unknown section '[dazaid]'") != NULL,
	    "%s", err);
	config_free(&c);
	/* dazai mcp's [tool NAME] sections are skipped, keys and all; a
	 * setting after one is still an error to dazaid if it is not a
	 * tool's (it belongs to the section). */
	ck_assert_int_eq(load("grace = 3\n[tool digest]\ncommand = sha256sum"
			      "\nsecret_to = stdin\n",
			     &c, err, sizeof err),
	    0);
	ck_assert(c.grace == 3);
	config_free(&c);
	ck_assert_int_eq(load("[tool x]\ncommand = true\n[toolbox]\n", &c, err,
			     sizeof err),
	    -1);
	ck_assert_msg(strstr(err, ":3: unknown section '[toolbox]'") != NULL,
	    "%s", err);
	config_free(&c);
	ck_assert_int_eq(load("arm\n", &c, err, sizeof err), -1);
	ck_assert_msg(strstr(err, ":1: syntax error") != NULL, "%s", err);
	config_free(&c);
}
END_TEST

/*
 * A comment may follow a value after a blank, with '#' as with ';'; a '#'
 * inside a word stays. An indented key = value line is a line of its own;
 * indented text without '=' is an error that says values do not continue.
 */
START_TEST(file_comments_and_indent)
{
	struct config c;
	char	      err[CONFIG_ERRLEN];

	ck_assert_int_eq(
	    load("grace = 5   # five seconds\n"
		 "ping_timeout = 12 ; twelve\n# whole line\n"
		 "  ; indented comment\n"
		 "socket = /run/a#b\n  arm = true\t# indented key\n",
		&c, err, sizeof err),
	    0);
	ck_assert(c.grace == 5);
	ck_assert(c.ping_timeout == 12);
	ck_assert_str_eq(c.socket, "/run/a#b");
	ck_assert_int_eq(c.arm, 1);
	config_free(&c);
	ck_assert_int_eq(load("grace = 5\n  five\n", &c, err, sizeof err), -1);
	ck_assert_msg(strstr(err,
			  "dazai.conf:2: indented line without '=': "
			  "values cannot continue on the next line") != NULL,
	    "%s", err);
	config_free(&c);
	/* Not the previous value's continuation either. */
	ck_assert_int_eq(load("socket = /run/x.sock\n\tgrace = 3\n", &c, err,
			     sizeof err),
	    0);
	ck_assert_str_eq(c.socket, "/run/x.sock");
	ck_assert(c.grace == 3);
	config_free(&c);
}
END_TEST

/* A leading ~/ in a path is $HOME's; ~user and an unset HOME are errors. */
START_TEST(file_tilde)
{
	struct config c;
	char	      err[CONFIG_ERRLEN];

	ck_assert_int_eq(setenv("HOME", "/home/someone", 1), 0);
	ck_assert_int_eq(load("secret_file = ~/.config/dazai/secret\n"
			      "socket = ~/run/d.sock\n",
			     &c, err, sizeof err),
	    0);
	ck_assert_str_eq(c.secret_file, "/home/someone/.config/dazai/secret");
	ck_assert_str_eq(c.socket, "/home/someone/run/d.sock");
	config_free(&c);
	ck_assert_int_eq(load("secret_file = ~bob/secret\n", &c, err,
			     sizeof err),
	    -1);
	ck_assert_msg(strstr(err,
			  ":1: secret_file: '~bob/secret': only a "
			  "leading ~/ is expanded") != NULL,
	    "%s", err);
	config_free(&c);
	/* Only a leading one. */
	ck_assert_int_eq(load("secret_file = /a/~/b\n", &c, err, sizeof err),
	    0);
	ck_assert_str_eq(c.secret_file, "/a/~/b");
	config_free(&c);
	ck_assert_int_eq(unsetenv("HOME"), 0);
	ck_assert_int_eq(load("secret_file = ~/secret\n", &c, err, sizeof err),
	    -1);
	ck_assert_msg(strstr(err, "HOME is not an absolute path") != NULL, "%s",
	    err);
	config_free(&c);
}
END_TEST

/* --config /dev/null reads no file and sets nothing. */
START_TEST(file_dev_null)
{
	struct config c;
	char	      err[CONFIG_ERRLEN];

	config_init_unset(&c);
	ck_assert_int_eq(config_load_file(&c, "/dev/null", err, sizeof err), 0);
	ck_assert_int_eq(c.arm, CONFIG_UNSET);
	ck_assert_ptr_null(c.socket);
}
END_TEST

START_TEST(missing_file)
{
	struct config c;
	char	      err[CONFIG_ERRLEN];

	config_init_unset(&c);
	ck_assert_int_eq(config_load_file(&c, "/nonexistent/dazai.conf", err,
			     sizeof err),
	    -1);
	ck_assert_msg(strstr(err, "/nonexistent/dazai.conf: No such file") !=
		NULL,
	    "%s", err);
}
END_TEST

/* no_sandbox: off by default, a boolean, set only by what says so. */
START_TEST(no_sandbox_key)
{
	struct config c, eff;
	char	      err[CONFIG_ERRLEN];

	config_init_defaults(&eff);
	ck_assert_int_eq(eff.no_sandbox, 0);
	ck_assert_int_eq(load("no_sandbox = yes\n", &c, err, sizeof err), 0);
	ck_assert_int_eq(c.no_sandbox, 1);
	config_merge(&eff, &c);
	ck_assert_int_eq(eff.no_sandbox, 1);
	config_free(&c);
	ck_assert_int_eq(load("arm = true\n", &c, err, sizeof err), 0);
	ck_assert_int_eq(c.no_sandbox, CONFIG_UNSET);
	config_free(&c);
	ck_assert_int_eq(load("no_sandbox = perhaps\n", &c, err, sizeof err),
	    -1);
	ck_assert_msg(strstr(err,
			  ":1: no_sandbox: 'perhaps' is not a "
			  "boolean") != NULL,
	    "%s", err);
	config_free(&c);
	config_free(&eff);
}
END_TEST

START_TEST(precedence)
{
	struct config eff, file, cli;
	char	      err[CONFIG_ERRLEN];

	ck_assert_int_eq(load("arm = true\ngrace = 7\n", &file, err,
			     sizeof err),
	    0);
	config_init_unset(&cli);
	cli.arm = 0; /* --dry-run */
	config_init_defaults(&eff);
	config_merge(&eff, &file);
	config_merge(&eff, &cli);
	ck_assert_int_eq(eff.arm, 0);
	ck_assert(eff.grace == 7);
	ck_assert_int_eq(eff.secret_size, 32);
	ck_assert_int_eq(eff.secret_max, 4 * 1024 * 1024);
	config_free(&eff);
	config_free(&file);
}
END_TEST

START_TEST(validate)
{
	struct config c;
	char	      err[CONFIG_ERRLEN];

	config_init_defaults(&c);
	ck_assert_int_eq(config_validate(&c, err, sizeof err), 0);
	c.secret_size = c.secret_max + 1;
	ck_assert_int_eq(config_validate(&c, err, sizeof err), -1);
	ck_assert_msg(strstr(err, "secret_size") != NULL, "%s", err);
	config_init_defaults(&c);
	c.secret_fd = 3;
	ck_assert_int_eq(config_set(&c, "secret_file", "/x", err, sizeof err),
	    0);
	ck_assert_int_eq(config_validate(&c, err, sizeof err), -1);
	ck_assert_msg(strstr(err, "mutually exclusive") != NULL, "%s", err);
	config_free(&c);
}
END_TEST

/* on_panic and on_wipe keep their order; action_timeout defaults to 10. */
START_TEST(actions_in_order)
{
	struct config c, eff;
	char	      err[CONFIG_ERRLEN];

	ck_assert_int_eq(
	    load("on_panic = echo one\non_wipe = ssh-add -D\n"
		 "on_panic = echo two >&2; exit 3\non_panic = echo three\n"
		 "action_timeout = 2.5\n",
		&c, err, sizeof err),
	    0);
	ck_assert_int_eq(c.on_panic.n, 3);
	ck_assert_str_eq(c.on_panic.cmd[0], "echo one");
	ck_assert_str_eq(c.on_panic.cmd[1], "echo two >&2; exit 3");
	ck_assert_str_eq(c.on_panic.cmd[2], "echo three");
	ck_assert_int_eq(c.on_wipe.n, 1);
	ck_assert_str_eq(c.on_wipe.cmd[0], "ssh-add -D");
	ck_assert(c.action_timeout == 2.5);
	config_init_defaults(&eff);
	ck_assert(eff.action_timeout == 10);
	ck_assert_int_eq(eff.on_panic.n, 0);
	config_merge(&eff, &c);
	ck_assert_int_eq(eff.on_panic.n, 3);
	ck_assert_str_eq(eff.on_panic.cmd[2], "echo three");
	ck_assert(eff.action_timeout == 2.5);
	config_free(&c);
	config_free(&eff);
	ck_assert_int_eq(eff.on_panic.n, 0);
}
END_TEST

/* An empty command, a timeout of 0, -1 or x: errors with file:line. */
START_TEST(actions_bad_values)
{
	static const char *const bad[][2] = {
		{ "on_panic = true\non_panic =\n",
		    ":2: on_panic: empty "
		    "command" },
		{ "on_wipe =   \n", ":1: on_wipe: empty command" },
		{ "\naction_timeout = 0\n", ":2: action_timeout: '0' is not" },
		{ "action_timeout = -1\n", ":1: action_timeout: '-1' is not" },
		{ "action_timeout = x\n", ":1: action_timeout: 'x' is not" },
	};
	struct config c;
	char	      err[CONFIG_ERRLEN], text[2048];
	size_t	      i;
	int	      n;

	for (i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		ck_assert_int_eq(load(bad[i][0], &c, err, sizeof err), -1);
		ck_assert_msg(strstr(err, bad[i][1]) != NULL, "%s", err);
		config_free(&c);
	}
	text[0] = '\0';
	for (n = 0; n < CONFIG_ACTIONS_MAX + 1; n++)
		strcat(text, "on_panic = true\n");
	ck_assert_int_eq(load(text, &c, err, sizeof err), -1);
	ck_assert_msg(strstr(err, ":17: on_panic: more than 16") != NULL, "%s",
	    err);
	config_free(&c);
}
END_TEST

/*
 * A file that names actions at 0620 or 0602, or owned by another user,
 * is refused naming the file and why; without actions it only warns.
 */
START_TEST(actions_file_owner)
{
	struct config	  c;
	char		  err[CONFIG_ERRLEN], path[128];
	static const char text[] = "on_panic = ssh-add -D\n";

	config_init_unset(&c);
	write_conf(text, 0620, path, sizeof path);
	ck_assert_int_eq(config_load_file(&c, path, err, sizeof err), -1);
	ck_assert_msg(strstr(err, path) != NULL &&
		strstr(err,
		    "dazai.conf:1: names panic actions but the file is "
		    "writable by group (mode 0620)") != NULL,
	    "%s", err);
	config_free(&c);
	write_conf(text, 0602, path, sizeof path);
	ck_assert_int_eq(config_load_file(&c, path, err, sizeof err), -1);
	ck_assert_msg(strstr(err, "writable by others (mode 0602)") != NULL,
	    "%s", err);
	config_free(&c);
	write_conf("grace = 1\n\non_wipe = true\n", 0660, path, sizeof path);
	ck_assert_int_eq(config_load_file(&c, path, err, sizeof err), -1);
	ck_assert_msg(strstr(err,
			  "dazai.conf:3: names panic actions but the "
			  "file is writable by group (mode 0660)") != NULL,
	    "%s", err);
	config_free(&c);
	write_conf("grace = 1\n", 0620, path, sizeof path);
	ck_assert_int_eq(config_load_file(&c, path, err, sizeof err), 0);
	config_free(&c);
	write_conf(text, 0600, path, sizeof path);
	ck_assert_int_eq(config_load_file(&c, path, err, sizeof err), 0);
	config_free(&c);
	if (!dz_is_root()) {
		dz_skip("actions_file_owner: a file owned by another user "
			"needs root to create");
		return;
	}
	write_conf(text, 0600, path, sizeof path);
	ck_assert_int_eq(chown(path, 65534, 65534), 0);
	ck_assert_int_eq(config_load_file(&c, path, err, sizeof err), -1);
	ck_assert_msg(strstr(err,
			  ":1: names panic actions but the file "
			  "belongs to uid 65534") != NULL,
	    "%s", err);
	config_free(&c);
}
END_TEST

/*
 * dazaid refuses such a file (0620, 0602, another user's) and bad action
 * values with exit 2 and file:line; --check-config lists the actions.
 */
START_TEST(actions_check_config)
{
	static const char *const bad[][3] = {
		{ "on_panic = true\n", "0602",
		    ":1: names panic actions but "
		    "the file is writable by others (mode 0602)" },
		{ "arm = true\non_panic =\n", "0600",
		    ":2: on_panic: empty "
		    "command" },
		{ "action_timeout = 0\n", "0600", ":1: action_timeout: '0'" },
		{ "action_timeout = -1\n", "0600", ":1: action_timeout: '-1'" },
		{ "action_timeout = x\n", "0600", ":1: action_timeout: 'x'" },
	};
	size_t	    i;
	char	    path[128], out[8192];
	const char *argv[] = { dz_bin("dazaid"), "--config", path,
		"--check-config", NULL };
	int	    st;

	write_conf("on_panic = echo one\non_wipe = echo wiped\n"
		   "on_panic = echo two\naction_timeout = 3\n",
	    0600, path, sizeof path);
	st = dz_run(argv, out, sizeof out, 10);
	ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 0, "%d: %s", st, out);
	ck_assert_msg(strstr(out,
			  "on_panic = echo one\non_panic = echo two\n"
			  "on_wipe = echo wiped\naction_timeout = 3\n") != NULL,
	    "%s", out);
	ck_assert_int_eq(chmod(path, 0620), 0);
	st = dz_run(argv, out, sizeof out, 10);
	ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 2, "%d: %s", st, out);
	ck_assert_msg(strstr(out, path) != NULL &&
		strstr(out, "names panic actions") != NULL,
	    "%s", out);
	for (i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		write_conf(bad[i][0], (mode_t)strtol(bad[i][1], NULL, 8), path,
		    sizeof path);
		st = dz_run(argv, out, sizeof out, 10);
		ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 2 &&
			strstr(out, path) != NULL &&
			strstr(out, bad[i][2]) != NULL,
		    "%s: %d: %s", bad[i][0], st, out);
	}
	if (!dz_is_root()) {
		dz_skip("actions_check_config: a file owned by another user "
			"needs root to create");
		return;
	}
	write_conf("on_panic = true\n", 0600, path, sizeof path);
	ck_assert_int_eq(chown(path, 65534, 65534), 0);
	st = dz_run(argv, out, sizeof out, 10);
	ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 2 &&
		strstr(out, "belongs to uid 65534") != NULL,
	    "%d: %s", st, out);
}
END_TEST

START_TEST(example_is_defaults)
{
	struct config	   file, eff, def;
	char		   err[CONFIG_ERRLEN];
	const char *const *k;
	FILE		  *fp;
	char		   text[16384];
	size_t		   n;

	config_init_unset(&file);
	ck_assert_msg(config_load_file(&file, "dazai.conf.example", err,
			  sizeof err) == 0,
	    "%s", err);
	config_init_defaults(&def);
	config_init_defaults(&eff);
	config_merge(&eff, &file);
	ck_assert_ptr_null(eff.socket);
	ck_assert_ptr_null(eff.secret_file);
	ck_assert_int_eq(eff.arm, def.arm);
	ck_assert(eff.grace == def.grace);
	ck_assert(eff.ping_timeout == def.ping_timeout);
	ck_assert_int_eq(eff.secret_fd, def.secret_fd);
	ck_assert_int_eq(eff.secret_size, def.secret_size);
	ck_assert_int_eq(eff.secret_max, def.secret_max);
	ck_assert_int_eq(eff.require_lock, def.require_lock);
	ck_assert_int_eq(eff.no_secretmem, def.no_secretmem);
	ck_assert_int_eq(eff.no_sandbox, def.no_sandbox);
	ck_assert_int_eq(eff.ready_fd, def.ready_fd);
	ck_assert_int_eq(eff.verbose, def.verbose);
	ck_assert_int_eq(eff.on_panic.n, 0);
	ck_assert_int_eq(eff.on_wipe.n, 0);
	ck_assert(eff.action_timeout == def.action_timeout);
	/* The one setting it makes: a heartbeat per window. */
	ck_assert_int_eq(def.sessions, 1);
	ck_assert_int_eq(eff.sessions, 16);
	/* And it documents every key. */
	fp = fopen("dazai.conf.example", "r");
	ck_assert_ptr_nonnull(fp);
	n = fread(text, 1, sizeof text - 1, fp);
	text[n] = '\0';
	fclose(fp);
	for (k = config_keys(); *k != NULL; k++) {
		char want[64];

		snprintf(want, sizeof want, "%s =", *k);
		ck_assert_msg(strstr(text, want) != NULL,
		    "dazai.conf.example does not document '%s'", *k);
	}
	config_free(&file);
}
END_TEST

Suite *
config_suite(void)
{
	Suite *s = suite_create("config");
	TCase *tc = tcase_create("config");

	tcase_add_test(tc, parse_values);
	tcase_add_test(tc, file_ok);
	tcase_add_test(tc, file_errors_name_line);
	tcase_add_test(tc, file_comments_and_indent);
	tcase_add_test(tc, file_tilde);
	tcase_add_test(tc, file_dev_null);
	tcase_add_test(tc, missing_file);
	tcase_add_test(tc, no_sandbox_key);
	tcase_add_test(tc, precedence);
	tcase_add_test(tc, validate);
	tcase_add_test(tc, actions_in_order);
	tcase_add_test(tc, actions_bad_values);
	tcase_add_test(tc, actions_file_owner);
	tcase_add_test(tc, actions_check_config);
	tcase_add_test(tc, example_is_defaults);
	suite_add_tcase(s, tc);
	return s;
}
