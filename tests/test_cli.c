/* SPDX-License-Identifier: ISC */
/*
 * dazaid's command line, config file and secret sources: bad input gets
 * one clear line and the documented status, never a crash.
 */
#include <sys/stat.h>
#include <sys/wait.h>

#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "helpers.h"

#define NOBODY 65534

/* Run dazaid with args; return its exit status (wait status >> 8). */
static int
run_dazaid(const char *const *args, char *out, size_t len)
{
	const char *argv[32];
	int	    n = 0, st;

	argv[n++] = dz_bin("dazaid");
	while (*args != NULL && n < 31)
		argv[n++] = *args++;
	argv[n] = NULL;
	st = dz_run(argv, out, len, 10);
	ck_assert_msg(st != -1 && WIFEXITED(st), "dazaid did not exit: %d", st);
	return WEXITSTATUS(st);
}

/* Assert out is exactly one "dazaid: ..." line containing needle. */
static void
assert_one_line(const char *out, const char *needle)
{
	ck_assert_msg(strncmp(out, "dazaid: ", 8) == 0, "%s", out);
	ck_assert_msg(strchr(out, '\n') == out + strlen(out) - 1,
	    "more than one line: %s", out);
	ck_assert_msg(strstr(out, needle) != NULL, "'%s' not in: %s", needle,
	    out);
}

START_TEST(usage_errors)
{
	static const struct {
		const char *args[4];
		const char *needle;
	} cases[] = {
		{ { "--bogus" }, "--bogus: unknown option" },
		{ { "--grace" }, "--grace: missing argument" },
		{ { "--grace", "abc" }, "--grace: 'abc' is not a number" },
		{ { "--grace", "-1" }, "--grace: '-1' is not a number" },
		{ { "--ping-timeout", "1s" }, "--ping-timeout: '1s'" },
		{ { "--secret-size", "0" }, "--secret-size: '0'" },
		{ { "--secret-max", "x" }, "--secret-max: 'x'" },
		{ { "--ready-fd", "-3" }, "--ready-fd: '-3'" },
		{ { "--ready-fd", "200" }, "--ready-fd 200: not an open" },
		{ { "--secret-size", "100", "--secret-max", "10" },
		    "secret_size 100 exceeds secret_max 10" },
		{ { "stray" }, "stray: unexpected argument" },
		{ { "--config", "/nonexistent.conf" },
		    "/nonexistent.conf: No such file" },
	};
	char   out[2048];
	size_t i;

	for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		ck_assert_msg(run_dazaid(cases[i].args, out, sizeof out) == 2,
		    "%s: %s", cases[i].args[0], out);
		assert_one_line(out, cases[i].needle);
	}
}
END_TEST

START_TEST(socket_too_long)
{
	char	    path[200], out[1024];
	const char *args[] = { "--socket", path, NULL };

	memset(path, 'x', sizeof path);
	memcpy(path, "/tmp/", 5);
	path[150] = '\0';
	ck_assert_int_eq(run_dazaid(args, out, sizeof out), 2);
	assert_one_line(out, "150 bytes, the limit is 107");
}
END_TEST

START_TEST(help_version)
{
	static const char *const help[] = { "--help", NULL };
	static const char *const version[] = { "--version", NULL };
	char			 out[4096];

	ck_assert_int_eq(run_dazaid(help, out, sizeof out), 0);
	ck_assert(strstr(out, "usage: dazaid") != NULL);
	ck_assert_int_eq(run_dazaid(version, out, sizeof out), 0);
	ck_assert(strncmp(out, "dazaid ", 7) == 0);
}
END_TEST

/* A secret file with the given content; returns its path in buf. */
static const char *
secret_file(char *buf, size_t len, const void *data, size_t n)
{
	char dir[64];

	dz_tmpdir(dir, sizeof dir);
	snprintf(buf, len, "%s/secret", dir);
	dz_write_file(buf, data, n);
	return buf;
}

START_TEST(bad_secrets)
{
	char	    path[128], out[1024];
	const char *args[] = { "--socket", NULL, "--secret-file", path,
		"--secret-max", "10", NULL };
	char	    dir[64], sock[128];

	dz_tmpdir(dir, sizeof dir);
	snprintf(sock, sizeof sock, "%s/s.sock", dir);
	args[1] = sock;
	snprintf(path, sizeof path, "%s/missing", dir);
	ck_assert_int_eq(run_dazaid(args, out, sizeof out), 2);
	ck_assert_msg(strstr(out, "missing: No such file") != NULL, "%s", out);
	secret_file(path, sizeof path, "", 0);
	ck_assert_int_eq(run_dazaid(args, out, sizeof out), 2);
	ck_assert_msg(strstr(out, "secret is empty") != NULL, "%s", out);
	secret_file(path, sizeof path, "0123456789A", 11);
	ck_assert_int_eq(run_dazaid(args, out, sizeof out), 2);
	ck_assert_msg(strstr(out, "11 bytes, larger than secret_max (10)") !=
		NULL,
	    "%s", out);
	/* The socket of a refused start is not left behind. */
	ck_assert_int_eq(access(sock, F_OK), -1);
	snprintf(path, sizeof path, "%s", dir);
	ck_assert_int_eq(run_dazaid(args, out, sizeof out), 2);
	ck_assert_msg(strstr(out, "not a readable file") != NULL, "%s", out);
}
END_TEST

START_TEST(secret_fd_pipe)
{
	struct dz   d;
	char	    fdarg[16], buf[5000];
	const char *argv[] = { dz_bin("dazaid"), "--socket", d.sock,
		"--secret-fd", fdarg, NULL };
	int	    p[2], fd;

	/* A pipe from a parent, read to EOF straight into the buffer. */
	dz_init(&d, NULL);
	ck_assert_int_eq(pipe(p), 0);
	snprintf(fdarg, sizeof fdarg, "%d", p[0]);
	d.pid = dz_spawn(argv, d.log, p[0]);
	close(p[0]);
	memset(buf, 's', sizeof buf);
	ck_assert(write(p[1], buf, sizeof buf) == (ssize_t)sizeof buf);
	close(p[1]);
	ck_assert(dz_log_wait(&d, "listening on", 10));
	ck_assert(dz_log_has(&d,
	    "secret loaded: 5000 bytes from secret "
	    "descriptor"));
	fd = dz_hello(d.sock);
	close(fd);
	ck_assert_int_eq(dz_wait(&d, 10), 0);
	ck_assert(WIFEXITED(d.status) && WEXITSTATUS(d.status) == 0);
	ck_assert(dz_log_has(&d, "secret wiped (5000 bytes"));
	dz_stop(&d);
}
END_TEST

START_TEST(secret_fd_empty_and_big)
{
	char	    cmd[512], out[2048], dir[64];
	const char *argv[] = { "/bin/sh", "-c", cmd, NULL };
	int	    st;

	dz_tmpdir(dir, sizeof dir);
	snprintf(cmd, sizeof cmd,
	    "exec %s --socket %s/s.sock --secret-fd 0 "
	    "</dev/null",
	    dz_bin("dazaid"), dir);
	st = dz_run(argv, out, sizeof out, 10);
	ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 2, "%d %s", st, out);
	ck_assert_msg(strstr(out, "secret descriptor: secret is empty") != NULL,
	    "%s", out);
	snprintf(cmd, sizeof cmd,
	    "printf %%09000d 0 | exec %s --socket "
	    "%s/s.sock --secret-fd 0 --secret-max 8192",
	    dz_bin("dazaid"), dir);
	st = dz_run(argv, out, sizeof out, 10);
	ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 2, "%d %s", st, out);
	ck_assert_msg(strstr(out, "larger than the maximum") != NULL, "%s",
	    out);
}
END_TEST

START_TEST(config_file_precedence)
{
	char	    dir[64], conf[128], out[4096];
	const char *args[] = { "--config", conf, "--dry-run", "--check-config",
		NULL };
	const char *args2[] = { "--config", conf, "--check-config", NULL };
	static const char text[] = "arm = true\ngrace = 2.5\n"
				   "socket = /run/example/dazai.sock\n";

	dz_tmpdir(dir, sizeof dir);
	snprintf(conf, sizeof conf, "%s/dazai.conf", dir);
	dz_write_file(conf, text, sizeof text - 1);
	ck_assert_int_eq(run_dazaid(args2, out, sizeof out), 0);
	ck_assert_msg(strstr(out, "arm = true\n") != NULL, "%s", out);
	ck_assert_msg(strstr(out, "grace = 2.5\n") != NULL, "%s", out);
	ck_assert_msg(strstr(out, "socket = /run/example/dazai.sock\n") != NULL,
	    "%s", out);
	ck_assert_int_eq(run_dazaid(args, out, sizeof out), 0);
	ck_assert_msg(strstr(out, "arm = false\n") != NULL, "%s", out);
	/* A broken file: the file and line are named, exit 2. */
	dz_write_file(conf, "arm = true\ngrace = soon\n", 24);
	ck_assert_int_eq(run_dazaid(args2, out, sizeof out), 2);
	assert_one_line(out, "dazai.conf:2: grace: 'soon'");
	/* A group-writable file is used, with a warning. */
	dz_write_file(conf, text, sizeof text - 1);
	chmod(conf, 0664);
	ck_assert_int_eq(run_dazaid(args2, out, sizeof out), 0);
	ck_assert_msg(strstr(out, "writable by group or others") != NULL, "%s",
	    out);
}
END_TEST

/*
 * The secret file's hygiene: one readable or writable by others, or in a
 * directory others can write (without the sticky bit), draws a warning,
 * at --check-config and at a real start; a private one none. A secret
 * file that cannot be opened fails --check-config (exit 2, one line).
 */
START_TEST(secret_file_hygiene)
{
	char	    dir[64], sub[128], path[160], out[4096];
	const char *args[] = { "--config", "/dev/null", "--secret-file", path,
		"--check-config", NULL };
	const char *start[] = { "--secret-file", path, NULL };
	struct dz   d;

	dz_tmpdir(dir, sizeof dir);
	snprintf(path, sizeof path, "%s/secret", dir);
	dz_write_file(path, "hunter2", 7);
	ck_assert_int_eq(run_dazaid(args, out, sizeof out), 0);
	ck_assert_msg(strstr(out, "WARNING") == NULL, "%s", out);
	ck_assert_msg(strstr(out, "secret_file = ") != NULL, "%s", out);
	ck_assert_int_eq(chmod(path, 0644), 0);
	ck_assert_int_eq(run_dazaid(args, out, sizeof out), 0);
	ck_assert_msg(strstr(out, "WARNING: secret file") != NULL &&
		strstr(out,
		    "is readable by group or others (mode 0644): chmod "
		    "600 it") != NULL,
	    "%s", out);
	ck_assert_int_eq(chmod(path, 0620), 0);
	ck_assert_int_eq(run_dazaid(args, out, sizeof out), 0);
	ck_assert_msg(strstr(out,
			  "is writable by group or others (mode "
			  "0620)") != NULL,
	    "%s", out);

	/* The real start says it too, and still starts. */
	ck_assert_int_eq(chmod(path, 0644), 0);
	ck_assert_int_eq(dz_start(&d, start), 0);
	ck_assert(dz_log_has(&d, "is readable by group or others"));
	ck_assert(dz_alive(&d));
	dz_stop(&d);

	/* A directory others can write: they can replace the file. */
	snprintf(sub, sizeof sub, "%s/open", dir);
	ck_assert_int_eq(mkdir(sub, 0700), 0);
	ck_assert_int_eq(chmod(sub, 0777), 0);
	snprintf(path, sizeof path, "%s/secret", sub);
	dz_write_file(path, "hunter2", 7);
	ck_assert_int_eq(run_dazaid(args, out, sizeof out), 0);
	ck_assert_msg(strstr(out,
			  "which group or others can write: they can "
			  "replace the file") != NULL,
	    "%s", out);
	/* Sticky (as /tmp): others cannot replace what is ours. */
	ck_assert_int_eq(chmod(sub, 01777), 0);
	ck_assert_int_eq(run_dazaid(args, out, sizeof out), 0);
	ck_assert_msg(strstr(out, "WARNING") == NULL, "%s", out);

	/* --check-config opens it as the start will. */
	snprintf(path, sizeof path, "%s/missing", dir);
	ck_assert_int_eq(run_dazaid(args, out, sizeof out), 2);
	assert_one_line(out, "secret file ");
	ck_assert_msg(strstr(out, "missing: No such file or directory") != NULL,
	    "%s", out);
}
END_TEST

/*
 * A ping timeout too short for the heartbeat's default 5 s interval draws
 * a warning naming the fix; 10 s and more, or off, none.
 */
START_TEST(ping_timeout_warning)
{
	char	    out[4096], pt[16];
	const char *args[] = { "--config", "/dev/null", "--ping-timeout", pt,
		"--check-config", NULL };

	snprintf(pt, sizeof pt, "5");
	ck_assert_int_eq(run_dazaid(args, out, sizeof out), 0);
	ck_assert_msg(
	    strstr(out,
		"WARNING: ping timeout 5s is under twice "
		"the heartbeat's default interval (5s): a default client "
		"is lost between two PINGs; start clients with --interval "
		"2.5 or less") != NULL,
	    "%s", out);
	snprintf(pt, sizeof pt, "8");
	ck_assert_int_eq(run_dazaid(args, out, sizeof out), 0);
	ck_assert_msg(strstr(out, "lost to one late PING") != NULL, "%s", out);
	snprintf(pt, sizeof pt, "10");
	ck_assert_int_eq(run_dazaid(args, out, sizeof out), 0);
	ck_assert_msg(strstr(out, "WARNING") == NULL, "%s", out);
	snprintf(pt, sizeof pt, "0");
	ck_assert_int_eq(run_dazaid(args, out, sizeof out), 0);
	ck_assert_msg(strstr(out, "WARNING") == NULL, "%s", out);
}
END_TEST

/*
 * Run a copy of dazaid --check-config with HOME=dir (no XDG_CONFIG_HOME),
 * as nobody when we are root (so that file modes apply); its output in
 * out, its exit status returned.
 */
static int
check_config_as_user(const char *dir, const char *extra, char *out, size_t len)
{
	char	    bin[128], log[128], cmd[PATH_MAX + 300];
	const char *argv[5];
	pid_t	    pid;
	int	    st, fd, n = 0;

	snprintf(bin, sizeof bin, "%s/dazaid", dir);
	snprintf(log, sizeof log, "%s/out", dir);
	if (access(bin, X_OK) != 0) {
		snprintf(cmd, sizeof cmd, "cp %s %s && chmod 755 %s",
		    dz_bin("dazaid"), bin, bin);
		ck_assert_int_eq(system(cmd), 0);
	}
	argv[n++] = bin;
	argv[n++] = "--check-config";
	if (extra != NULL) {
		argv[n++] = "--config";
		argv[n++] = extra;
	}
	argv[n] = NULL;
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		fd = open(log, O_WRONLY | O_CREAT | O_TRUNC, 0666);
		if (fd < 0 || dup2(fd, STDOUT_FILENO) < 0 ||
		    dup2(fd, STDERR_FILENO) < 0)
			_exit(126);
		setenv("HOME", dir, 1);
		unsetenv("XDG_CONFIG_HOME");
		if (geteuid() == 0 &&
		    (setgroups(0, NULL) != 0 || setgid(NOBODY) != 0 ||
			setuid(NOBODY) != 0))
			_exit(125);
		execv(argv[0], (char *const *)argv);
		_exit(127);
	}
	ck_assert_int_eq(dz_waitpid(pid, &st, 10), 0);
	dz_read_file(log, out, len);
	ck_assert_msg(WIFEXITED(st), "status %d", st);
	return WEXITSTATUS(st);
}

/*
 * The default config file exists but is not ours to read: the error says
 * whose it is and how to skip it, and --config /dev/null does.
 */
START_TEST(default_config_unreadable)
{
	char	 dir[64], sub[128], conf[160], out[4096], want[160];
	unsigned me = geteuid() == 0 ? NOBODY : (unsigned)geteuid();
	unsigned owner = (unsigned)geteuid();

	dz_tmpdir(dir, sizeof dir);
	ck_assert_int_eq(chmod(dir, 0755), 0);
	snprintf(sub, sizeof sub, "%s/.config", dir);
	ck_assert_int_eq(mkdir(sub, 0755), 0);
	snprintf(sub, sizeof sub, "%s/.config/dazai", dir);
	ck_assert_int_eq(mkdir(sub, 0755), 0);
	snprintf(conf, sizeof conf, "%s/dazai.conf", sub);
	dz_write_file(conf, "grace = 1\n", 10);
	ck_assert_int_eq(chmod(conf, geteuid() == 0 ? 0600 : 0), 0);
	ck_assert_int_eq(check_config_as_user(dir, NULL, out, sizeof out), 2);
	assert_one_line(out,
	    "dazai.conf: permission denied: the default "
	    "config file belongs to uid ");
	snprintf(want, sizeof want,
	    "belongs to uid %u (mode %04o) and dazaid "
	    "runs as uid %u; make it readable to you, or skip it with "
	    "--config /dev/null",
	    owner, geteuid() == 0 ? 0600 : 0, me);
	ck_assert_msg(strstr(out, want) != NULL, "want %s: %s", want, out);
	ck_assert_int_eq(check_config_as_user(dir, "/dev/null", out,
			     sizeof out),
	    0);
	ck_assert_msg(strstr(out, "config file: /dev/null") != NULL, "%s", out);

	/* A directory on the way we cannot search. */
	ck_assert_int_eq(chmod(sub, geteuid() == 0 ? 0700 : 0), 0);
	ck_assert_int_eq(check_config_as_user(dir, NULL, out, sizeof out), 2);
	assert_one_line(out,
	    "permission denied: a directory above the "
	    "default config file is not searchable");
	ck_assert_int_eq(chmod(sub, 0755), 0);
	ck_assert_int_eq(chmod(conf, 0600), 0);
}
END_TEST

START_TEST(default_socket_dir)
{
	struct dz   d;
	struct stat st;
	char	    run[64], dir[128], sock[160];
	const char *argv[] = { NULL, "--ready-fd", "1", NULL };

	dz_tmpdir(run, sizeof run);
	setenv("XDG_RUNTIME_DIR", run, 1);
	snprintf(dir, sizeof dir, "%s/dazai", run);
	snprintf(sock, sizeof sock, "%s/dazai.sock", dir);
	argv[0] = dz_bin("dazaid");
	dz_init(&d, NULL);
	d.pid = dz_spawn(argv, d.log, -1);
	ck_assert(dz_log_wait(&d, "listening on", 10));
	ck_assert_int_eq(lstat(dir, &st), 0);
	ck_assert(S_ISDIR(st.st_mode));
	ck_assert_int_eq(st.st_mode & 0777, 0700);
	ck_assert_int_eq(lstat(sock, &st), 0);
	ck_assert(S_ISSOCK(st.st_mode));
	kill(d.pid, SIGTERM);
	ck_assert_int_eq(dz_wait(&d, 10), 0);
	/* An existing default directory open to others is refused. */
	chmod(dir, 0755);
	dz_init(&d, NULL);
	d.pid = dz_spawn(argv, d.log, -1);
	ck_assert_int_eq(dz_wait(&d, 10), 0);
	ck_assert(WIFEXITED(d.status) && WEXITSTATUS(d.status) == 1);
	ck_assert(dz_log_has(&d, "gives group or others access"));
	dz_stop(&d);
}
END_TEST

START_TEST(unsafe_explicit_dir)
{
	struct dz d;
	char	  dir[64], sub[128], link[128], sock[200];

	dz_tmpdir(dir, sizeof dir);
	snprintf(sub, sizeof sub, "%s/open", dir);
	ck_assert_int_eq(mkdir(sub, 0700), 0);
	chmod(sub, 0777);
	snprintf(sock, sizeof sock, "%s/dazai.sock", sub);
	ck_assert_int_eq(dz_start_at(&d, sock, NULL), -1);
	ck_assert(WIFEXITED(d.status) && WEXITSTATUS(d.status) == 1);
	ck_assert(dz_log_has(&d, "writable by group or others"));
	ck_assert_int_eq(access(sock, F_OK), -1);
	dz_stop(&d);
	/* A symlinked directory is refused too. */
	chmod(sub, 0700);
	snprintf(link, sizeof link, "%s/link", dir);
	ck_assert_int_eq(symlink(sub, link), 0);
	snprintf(sock, sizeof sock, "%s/dazai.sock", link);
	ck_assert_int_eq(dz_start_at(&d, sock, NULL), -1);
	ck_assert(WIFEXITED(d.status) && WEXITSTATUS(d.status) == 1);
	ck_assert(dz_log_has(&d, "symlink"));
	dz_stop(&d);
}
END_TEST

Suite *
cli_suite(void)
{
	Suite *s = suite_create("cli");
	TCase *tc = tcase_create("cli");

	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, usage_errors);
	tcase_add_test(tc, socket_too_long);
	tcase_add_test(tc, help_version);
	tcase_add_test(tc, bad_secrets);
	tcase_add_test(tc, secret_fd_pipe);
	tcase_add_test(tc, secret_fd_empty_and_big);
	tcase_add_test(tc, config_file_precedence);
	tcase_add_test(tc, default_socket_dir);
	tcase_add_test(tc, secret_file_hygiene);
	tcase_add_test(tc, ping_timeout_warning);
	tcase_add_test(tc, default_config_unreadable);
	tcase_add_test(tc, unsafe_explicit_dir);
	suite_add_tcase(s, tc);
	return s;
}
