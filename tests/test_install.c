/* SPDX-License-Identifier: ISC */
/*
 * What a user installs: man pages that lint clean and document every
 * option --help prints, the systemd unit and its readiness notification,
 * and make install / uninstall into a DESTDIR.
 */
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>

#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "helpers.h"

static char out[65536];

/* Is a tool on PATH? */
static bool
have(const char *tool)
{
	char path[PATH_MAX];

	return dz_which(tool, path, sizeof path);
}

/* Run a shell command, output into out; returns the exit status. */
static int
sh(const char *cmd, double timeout)
{
	const char *argv[] = { "/bin/sh", "-c", cmd, NULL };
	int	    st = dz_run(argv, out, sizeof out, timeout);

	return st >= 0 && WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

START_TEST(man_lint)
{
	static const char *const pages[] = { "man/dazaid.1",
		"man/dazai-heartbeat.1", "man/dazai.conf.5", "man/dazai.1" };
	char			 cmd[256];
	size_t			 i;

	if (!have("mandoc")) {
		dz_skip("man_lint: mandoc not installed");
		return;
	}
	for (i = 0; i < sizeof pages / sizeof pages[0]; i++) {
		snprintf(cmd, sizeof cmd, "mandoc -Tlint -Wwarning %s",
		    pages[i]);
		ck_assert_msg(sh(cmd, 30) == 0 && out[0] == '\0', "%s: %s",
		    pages[i], out);
	}
}
END_TEST

/*
 * Every --option that prog --help prints (at least min of them) is in its
 * rendered man page.
 */
static void
help_in_man(const char *prog, const char *page, size_t min)
{
	char   cmd[512], help[8192], opt[64], *p;
	size_t n, count = 0;

	snprintf(cmd, sizeof cmd, "%s --help", dz_bin(prog));
	ck_assert_int_eq(sh(cmd, 10), 0);
	memcpy(help, out, sizeof help - 1);
	help[sizeof help - 1] = '\0';
	snprintf(cmd, sizeof cmd, "mandoc -Tmarkdown %s", page);
	ck_assert_int_eq(sh(cmd, 10), 0);
	for (p = help; (p = strstr(p, "--")) != NULL; p += n) {
		n = 2 + strspn(p + 2, "abcdefghijklmnopqrstuvwxyz-");
		if (n <= 3 || n >= sizeof opt)
			continue;
		memcpy(opt, p, n);
		opt[n] = '\0';
		ck_assert_msg(strstr(out, opt) != NULL, "%s: %s not in %s",
		    prog, opt, page);
		count++;
	}
	ck_assert_uint_ge(count, min);
}

START_TEST(help_matches_man)
{
	if (!have("mandoc")) {
		dz_skip("help_matches_man: mandoc not installed");
		return;
	}
	help_in_man("dazaid", "man/dazaid.1", 7);
	help_in_man("dazai-heartbeat", "man/dazai-heartbeat.1", 7);
	help_in_man("dazai", "man/dazai.1", 6);
}
END_TEST

START_TEST(unit_file)
{
	char   dir[64], cmd[512];
	FILE  *fp;
	size_t n;

	fp = fopen("shell/dazaid.service", "r");
	ck_assert_ptr_nonnull(fp);
	n = fread(out, 1, sizeof out - 1, fp);
	out[n] = '\0';
	fclose(fp);
	ck_assert(strstr(out, "\nType=notify\n") != NULL);
	ck_assert(strstr(out, "\nRestart=no\n") != NULL);
	ck_assert(strstr(out, "\nLimitMEMLOCK=") != NULL);
	ck_assert(strstr(out, "ExecStart=@BINDIR@/dazaid --arm") != NULL);
	/* The unit starts empty: the user loads the secret after login. */
	{
		const char *l = strstr(out, "\nExecStart=@BINDIR@/dazaid ");
		size_t	    len;

		ck_assert_ptr_nonnull(l);
		len = strcspn(l + 1, "\n");
		ck_assert_msg(memmem(l, len + 1, " --empty", 8) != NULL,
		    "the unit's ExecStart= does not run --empty");
	}
	if (!have("systemd-analyze")) {
		dz_skip("unit_file: systemd-analyze not installed "
			"(static checks ran)");
		return;
	}
	dz_tmpdir(dir, sizeof dir);
	/* The man pages are checked on an installed unit, below. */
	snprintf(cmd, sizeof cmd,
	    "sed -e 's|@BINDIR@|%s|' -e "
	    "'s|@MANDIR@|/usr/local/share/man|g' shell/dazaid.service "
	    "> %s/dazaid.service && systemd-analyze verify --man=no "
	    "%s/dazaid.service",
	    dz_bin(""), dir, dir);
	ck_assert_msg(sh(cmd, 60) == 0, "%s", out);
}
END_TEST

START_TEST(notify_ready)
{
	struct sockaddr_un sun;
	struct dz	   d;
	struct pollfd	   pfd;
	char		   dir[64], buf[64];
	ssize_t		   n;
	int		   fd;

	dz_tmpdir(dir, sizeof dir);
	memset(&sun, 0, sizeof sun);
	sun.sun_family = AF_UNIX;
	snprintf(sun.sun_path, sizeof sun.sun_path, "%s/notify", dir);
	fd = socket(AF_UNIX, SOCK_DGRAM, 0);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(bind(fd, (struct sockaddr *)&sun, sizeof sun), 0);
	setenv("NOTIFY_SOCKET", sun.sun_path, 1);
	ck_assert_int_eq(dz_start(&d, NULL), 0);
	pfd.fd = fd;
	pfd.events = POLLIN;
	ck_assert_int_eq(poll(&pfd, 1, 5000), 1);
	n = recv(fd, buf, sizeof buf - 1, 0);
	ck_assert_int_gt(n, 0);
	buf[n] = '\0';
	ck_assert_str_eq(buf, "READY=1");
	close(fd);
	kill(d.pid, SIGTERM);
	ck_assert_int_eq(dz_wait(&d, 10), 0);
	dz_stop(&d);
}
END_TEST

START_TEST(install_uninstall)
{
	static const char *const files[] = { "bin/dazaid",
		"bin/dazai-heartbeat", "bin/dazai", "share/man/man1/dazaid.1",
		"share/man/man1/dazai.1", "share/man/man1/dazai-heartbeat.1",
		"share/man/man5/dazai.conf.5", "share/dazai/shellrc.sh",
		"lib/systemd/user/dazaid.service",
		"share/doc/dazai/dazai.conf.example" };
	char			 dir[64], cmd[1024], path[256];
	const char		*b = getenv("DAZAI_BUILD");
	struct stat		 st;
	size_t			 i;

	if (access("shell/shellrc.sh", F_OK) != 0) {
		dz_skip("install_uninstall: shell/shellrc.sh missing");
		return;
	}
	dz_tmpdir(dir, sizeof dir);
	/* Already there before install: uninstall must leave it. */
	snprintf(cmd, sizeof cmd, "mkdir -p %s/usr/share/man", dir);
	ck_assert_int_eq(sh(cmd, 10), 0);
	snprintf(cmd, sizeof cmd,
	    "make -s --no-print-directory install "
	    "DESTDIR=%s PREFIX=/usr B=%s",
	    dir, b != NULL ? b : "build");
	ck_assert_msg(sh(cmd, 120) == 0, "%s", out);
	for (i = 0; i < sizeof files / sizeof files[0]; i++) {
		snprintf(path, sizeof path, "%s/usr/%s", dir, files[i]);
		ck_assert_msg(stat(path, &st) == 0, "%s missing", files[i]);
		ck_assert_msg((st.st_mode & 0777) == (i < 3 ? 0755u : 0644u),
		    "%s mode %o", files[i], st.st_mode & 0777);
	}
	snprintf(cmd, sizeof cmd,
	    "grep -q '^ExecStart=/usr/bin/dazaid ' "
	    "%s/usr/lib/systemd/user/dazaid.service",
	    dir);
	ck_assert_msg(sh(cmd, 10) == 0, "BINDIR not substituted");
	snprintf(cmd, sizeof cmd,
	    "grep -q '^Documentation=man:/usr/share/man/"
	    "man1/dazaid.1 ' %s/usr/lib/systemd/user/dazaid.service && ! grep "
	    "-q '@[A-Z]*@' %s/usr/lib/systemd/user/dazaid.service",
	    dir, dir);
	ck_assert_msg(sh(cmd, 10) == 0, "MANDIR not substituted");
	snprintf(cmd, sizeof cmd,
	    "grep -q '/usr/bin/dazai-heartbeat' "
	    "%s/usr/share/dazai/shellrc.sh && grep -q '^#.*\\. "
	    "/usr/share/dazai/shellrc.sh' %s/usr/share/dazai/shellrc.sh && "
	    "! grep -q '/usr/local' %s/usr/share/dazai/shellrc.sh",
	    dir, dir, dir);
	ck_assert_msg(sh(cmd, 10) == 0,
	    "shellrc.sh does not point at the "
	    "installed client");
	snprintf(cmd, sizeof cmd, "%s/usr/bin/dazaid --version", dir);
	ck_assert_int_eq(sh(cmd, 10), 0);
	ck_assert(strncmp(out, "dazaid ", 7) == 0);
	snprintf(cmd, sizeof cmd,
	    "make -s --no-print-directory uninstall "
	    "DESTDIR=%s PREFIX=/usr B=%s && find %s -mindepth 1 | sort",
	    dir, b != NULL ? b : "build", dir);
	ck_assert_int_eq(sh(cmd, 60), 0);
	/* No file, and no directory that install created, is left. */
	snprintf(path, sizeof path, "%s/usr\n%s/usr/share\n%s/usr/share/man\n",
	    dir, dir, dir);
	ck_assert_msg(strcmp(out, path) == 0, "left behind: %s", out);
}
END_TEST

/*
 * The unit as make install writes it, into a PREFIX of its own (no
 * DESTDIR, so the binaries and man pages are where the unit says):
 * systemd-analyze verify passes, man pages of Documentation= included.
 */
START_TEST(installed_unit_verifies)
{
	char	    dir[64], cmd[1024];
	const char *b = getenv("DAZAI_BUILD");

	if (!have("systemd-analyze") || !have("man")) {
		dz_skip("installed_unit_verifies: systemd-analyze or man not "
			"installed");
		return;
	}
	dz_tmpdir(dir, sizeof dir);
	snprintf(cmd, sizeof cmd,
	    "make -s --no-print-directory install "
	    "PREFIX=%s/p B=%s",
	    dir, b != NULL ? b : "build");
	ck_assert_msg(sh(cmd, 120) == 0, "%s", out);
	snprintf(cmd, sizeof cmd,
	    "systemd-analyze verify "
	    "%s/p/lib/systemd/user/dazaid.service 2>&1",
	    dir);
	ck_assert_msg(sh(cmd, 60) == 0 && strstr(out, "Command 'man") == NULL,
	    "%s", out);
}
END_TEST

/* The options of the unit's ExecStart= line (after the binary). */
static void
unit_options(char *buf, size_t len)
{
	FILE	   *fp;
	char	    line[1024];
	const char *key = "ExecStart=@BINDIR@/dazaid ";

	buf[0] = '\0';
	fp = fopen("shell/dazaid.service", "r");
	ck_assert_ptr_nonnull(fp);
	while (fgets(line, sizeof line, fp) != NULL)
		if (strncmp(line, key, strlen(key)) == 0) {
			line[strcspn(line, "\n")] = '\0';
			snprintf(buf, len, "%s", line + strlen(key));
		}
	fclose(fp);
	ck_assert_msg(buf[0] != '\0', "no ExecStart= in the unit");
}

/*
 * The README's LoadCredential= override runs the unit's own options,
 * --empty aside (--sessions 16 included: without it, closing the first
 * of two windows panics), and its description of the unit names them.
 */
START_TEST(readme_unit_in_step)
{
	static const char over_key[] = "\n    ExecStart=/usr/local/bin/dazaid ";
	static const char desc_key[] = "The unit runs `dazaid ";
	char		  opts[1024], want[1024], got[1024], *p;
	const char	 *over, *desc;
	FILE		 *fp;
	size_t		  n, i, j;

	unit_options(opts, sizeof opts);
	fp = fopen("README.md", "r");
	ck_assert_ptr_nonnull(fp);
	n = fread(out, 1, sizeof out - 1, fp);
	out[n] = '\0';
	fclose(fp);
	/* The override: every option but --empty, then the secret file. */
	over = strstr(out, over_key);
	ck_assert_msg(over != NULL, "no ExecStart= override in README.md");
	over += sizeof over_key - 1;
	snprintf(want, sizeof want, "%s", opts);
	if ((p = strstr(want, " --empty")) != NULL)
		memmove(p, p + 8, strlen(p + 8) + 1);
	ck_assert_msg(strncmp(over, want, strlen(want)) == 0 &&
		strncmp(over + strlen(want), " --secret-file ", 15) == 0,
	    "README's override runs\n%.*s\nwant the unit's options: %s",
	    (int)strcspn(over, "\n"), over, want);
	/* The description: the unit's command line, wrapped as text. */
	desc = strstr(out, desc_key);
	ck_assert_msg(desc != NULL, "no description of the unit in README.md");
	desc += sizeof desc_key - 1;
	n = strcspn(desc, "`");
	for (i = j = 0; i < n && j + 1 < sizeof got; i++)
		if (desc[i] != '\n' &&
		    (desc[i] != ' ' || j == 0 || got[j - 1] != ' '))
			got[j++] = desc[i];
		else if (desc[i] == '\n' && j > 0 && got[j - 1] != ' ')
			got[j++] = ' ';
	got[j] = '\0';
	ck_assert_msg(strcmp(got, opts) == 0,
	    "README says the unit runs "
	    "dazaid %s; it runs dazaid %s",
	    got, opts);
}
END_TEST

Suite *
install_suite(void)
{
	Suite *s = suite_create("install");
	TCase *tc = tcase_create("install");

	tcase_set_timeout(tc, 180);
	tcase_add_test(tc, man_lint);
	tcase_add_test(tc, help_matches_man);
	tcase_add_test(tc, unit_file);
	tcase_add_test(tc, installed_unit_verifies);
	tcase_add_test(tc, readme_unit_in_step);
	tcase_add_test(tc, notify_ready);
	tcase_add_test(tc, install_uninstall);
	suite_add_tcase(s, tc);
	return s;
}
