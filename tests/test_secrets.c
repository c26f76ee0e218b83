/* SPDX-License-Identifier: ISC */
/*
 * Named secrets, against the real daemon over real sockets: LOAD, GET
 * and WIPE with a name, ENTRY, secrets_max, lifetimes per secret, and
 * memory scans with several secrets held (as root).
 */
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "helpers.h"
#include "memscan.h"

#define NSEC 3

/*
 * Write bytes the daemon may refuse to read (it closes after a refused
 * LOAD): a closed peer is no error here.
 */
static void
send_quiet(int fd, const void *buf, size_t len)
{
	const char *p = buf;
	ssize_t	    n;

	while (len > 0 && (n = write(fd, p, len)) > 0) {
		p += n;
		len -= (size_t)n;
	}
}

/* LOAD len bytes as name (NULL: no name) on fd; the reply line. */
static const char *
load_as(int fd, const char *name, const void *buf, size_t len)
{
	static char reply[256];
	char	    line[128];
	const char *r;

	if (name != NULL)
		snprintf(line, sizeof line, "LOAD %zu %s\n", len, name);
	else
		snprintf(line, sizeof line, "LOAD %zu\n", len);
	ck_assert(dz_send(fd, line));
	send_quiet(fd, buf, len);
	r = dz_readline(fd, reply, sizeof reply, 10);
	ck_assert_msg(r != NULL, "no reply to %s", line);
	return r;
}

/* GET name (NULL: no name) on fd: exactly want, bit for bit. */
static void
get_as(int fd, const char *name, const void *want, size_t len)
{
	char line[128], hdr[64], *got = malloc(len + 1);

	ck_assert_ptr_nonnull(got);
	if (name != NULL)
		snprintf(line, sizeof line, "GET %s\n", name);
	else
		snprintf(line, sizeof line, "GET\n");
	ck_assert(dz_send(fd, line));
	ck_assert(dz_readline(fd, hdr, sizeof hdr, 10) != NULL);
	snprintf(line, sizeof line, "SECRET %zu", len);
	ck_assert_msg(strcmp(hdr, line) == 0, "GET %s: %s", name, hdr);
	ck_assert(dz_read_exact(fd, got, len, 20));
	ck_assert_msg(memcmp(got, want, len) == 0, "GET %s: other bytes",
	    name != NULL ? name : "");
	free(got);
}

/* Three secrets with NUL and newline bytes in them, of three sizes. */
static void
three(unsigned char s[NSEC][5000], size_t len[NSEC])
{
	int i;

	for (i = 0; i < NSEC; i++) {
		ck_assert_int_eq(getrandom(s[i], sizeof s[i], 0), 5000);
		len[i] = (size_t)(1 + i * 2000 + 37 * i);
		s[i][0] = '\0';
		s[i][len[i] / 2] = '\n';
		s[i][len[i] - 1] = i == 1 ? '\n' : '\0';
	}
}

/* A STATUS field as a number. */
static long
status_num(const struct dz *d, const char *key)
{
	return strtol(dz_field(dz_status(d), key), NULL, 10);
}

/* ENTRY i on a fresh connection (static buffer). */
static const char *
entry(const struct dz *d, int i)
{
	static char reply[256];
	char	    line[32];
	int	    fd = dz_ctl(d);

	snprintf(line, sizeof line, "ENTRY %d\n", i);
	snprintf(reply, sizeof reply, "%s", dz_req(fd, line));
	close(fd);
	return reply;
}

/* Every held secret reads back as it was. */
static void
all_there(const struct dz *d, const char *const names[NSEC],
    unsigned char s[NSEC][5000], const size_t len[NSEC])
{
	int fd = dz_ctl(d), i;

	for (i = 0; i < NSEC; i++)
		get_as(fd, names[i], s[i], len[i]);
	close(fd);
}

/*
 * Three secrets at once round-trip bit for bit (NUL and newline bytes
 * included), the unnamed one as "default" either way; STATUS counts
 * them; ENTRY lists them in load order; replacing one leaves the others
 * and moves it to the end of that order.
 */
START_TEST(three_round_trip)
{
	const char *const args[] = { "--empty", NULL };
	const char *const names[NSEC] = { "ssh.key", "gpg_pass-1", "default" };
	unsigned char	  s[NSEC][5000];
	size_t		  len[NSEC];
	struct dz	  d;
	const char	 *st;
	int		  fd, i;

	three(s, len);
	ck_assert_int_eq(dz_start(&d, args), 0);
	st = dz_status(&d);
	ck_assert_str_eq(dz_field(st, "secrets"), "0");
	fd = dz_ctl(&d);
	ck_assert_str_eq(load_as(fd, names[0], s[0], len[0]), "OK");
	ck_assert_str_eq(load_as(fd, names[1], s[1], len[1]), "OK");
	ck_assert_str_eq(load_as(fd, NULL, s[2], len[2]), "OK");
	for (i = 0; i < NSEC; i++)
		get_as(fd, names[i], s[i], len[i]);
	get_as(fd, NULL, s[2], len[2]); /* no name: "default" */
	close(fd);
	st = dz_status(&d);
	ck_assert_str_eq(dz_field(st, "secrets"), "3");
	ck_assert_int_eq(strtol(dz_field(st, "secret_bytes"), NULL, 10),
	    (long)(len[0] + len[1] + len[2]));
	ck_assert_str_eq(dz_field(st, "state"), "waiting");
	ck_assert_str_eq(dz_field(st, "reads"), "4");
	ck_assert_str_eq(entry(&d, 0),
	    "ENTRY index=0 name=ssh.key bytes=1 "
	    "reads=1 expires=-");
	ck_assert_str_eq(entry(&d, 1),
	    "ENTRY index=1 name=gpg_pass-1 "
	    "bytes=2038 reads=1 expires=-");
	ck_assert_str_eq(entry(&d, 2),
	    "ENTRY index=2 name=default "
	    "bytes=4075 reads=2 expires=-");
	ck_assert_str_eq(entry(&d, 3), "ERR no such entry");
	ck_assert_str_eq(entry(&d, 999), "ERR no such entry");

	/* Replace the first: new bytes, the others as they were. */
	for (i = 0; i < 100; i++)
		s[0][i] = (unsigned char)(255 - i);
	len[0] = 100;
	fd = dz_ctl(&d);
	ck_assert_str_eq(load_as(fd, names[0], s[0], len[0]), "OK");
	close(fd);
	all_there(&d, names, s, len);
	ck_assert_str_eq(dz_field(dz_status(&d), "secrets"), "3");
	ck_assert(strncmp(entry(&d, 0), "ENTRY index=0 name=gpg_pass-1 ", 30) ==
	    0);
	ck_assert(strncmp(entry(&d, 2),
		      "ENTRY index=2 name=ssh.key "
		      "bytes=100 reads=1 ",
		      37) == 0);
	/* "default" named explicitly is the unnamed one. */
	fd = dz_ctl(&d);
	ck_assert_str_eq(load_as(fd, "default", s[1], len[1]), "OK");
	get_as(fd, NULL, s[1], len[1]);
	close(fd);
	ck_assert_str_eq(dz_field(dz_status(&d), "secrets"), "3");
	dz_stop(&d);
}
END_TEST

/*
 * WIPE NAME wipes that one (registered processes named, dry-run), WIPE
 * every one; a name nothing is held under is wiped already.
 */
START_TEST(wipe_one_and_all)
{
	const char *const args[] = { "--empty", NULL };
	const char *const names[NSEC] = { "a", "b", "c" };
	unsigned char	  s[NSEC][5000];
	size_t		  len[NSEC];
	struct dz	  d;
	int		  fd, i;
	pid_t		  kid;
	char		  want[64];

	three(s, len);
	ck_assert_int_eq(dz_start(&d, args), 0);
	fd = dz_ctl(&d);
	for (i = 0; i < NSEC; i++)
		ck_assert_str_eq(load_as(fd, names[i], s[i], len[i]), "OK");
	kid = dz_sleeper();
	ck_assert_str_eq(dz_reg(&d, kid), "OK");
	ck_assert_str_eq(dz_req(fd, "WIPE b\n"), "OK");
	snprintf(want, sizeof want, "WOULD SIGKILL pid %d", (int)kid);
	ck_assert(dz_log_wait(&d, want, 5));
	ck_assert(dz_log_has(&d, "secret \"b\" wiped ("));
	ck_assert_str_eq(dz_req(fd, "GET b\n"), "ERR no secret");
	get_as(fd, "a", s[0], len[0]);
	get_as(fd, "c", s[2], len[2]);
	ck_assert_str_eq(dz_req(fd, "WIPE nothing.here\n"), "OK");
	ck_assert_str_eq(dz_req(fd, "GET\n"), "ERR no secret");
	close(fd);
	ck_assert_str_eq(dz_field(dz_status(&d), "secrets"), "2");
	ck_assert_int_eq(status_num(&d, "secret_bytes"),
	    (long)(len[0] + len[2]));
	ck_assert(strncmp(entry(&d, 1), "ENTRY index=1 name=c ", 21) == 0);
	ck_assert_str_eq(entry(&d, 2), "ERR no such entry");
	fd = dz_ctl(&d);
	ck_assert_str_eq(dz_req(fd, "WIPE\n"), "OK");
	for (i = 0; i < NSEC; i++) {
		char line[32];

		snprintf(line, sizeof line, "GET %s\n", names[i]);
		ck_assert_str_eq(dz_req(fd, line), "ERR no secret");
	}
	close(fd);
	ck_assert_str_eq(dz_field(dz_status(&d), "secrets"), "0");
	ck_assert_str_eq(dz_field(dz_status(&d), "secret_bytes"), "0");
	ck_assert_str_eq(dz_field(dz_status(&d), "state"), "empty");
	ck_assert_str_eq(entry(&d, 0), "ERR no such entry");
	/* A wiped name can be loaded again. */
	fd = dz_ctl(&d);
	ck_assert_str_eq(load_as(fd, "b", s[1], len[1]), "OK");
	get_as(fd, "b", s[1], len[1]);
	close(fd);
	kill(kid, SIGKILL);
	waitpid(kid, NULL, 0);
	dz_stop(&d);
}
END_TEST

/* The STATUS fields a refused request must leave as they were. */
static void
unchanged(const struct dz *d, const char *before)
{
	char			 now[512];
	static const char *const keys[] = { "secrets", "secret_bytes", "state",
		"reads", NULL };
	int			 i;

	snprintf(now, sizeof now, "%s", dz_status(d));
	for (i = 0; keys[i] != NULL; i++) {
		char was[128];

		snprintf(was, sizeof was, "%s", dz_field(before, keys[i]));
		ck_assert_msg(strcmp(was, dz_field(now, keys[i])) == 0,
		    "%s changed: %s then %s", keys[i], before, now);
	}
}

/*
 * Every bad name (65 characters, a path, a leading '-', '.' or '_', a
 * space, a non-ASCII byte, an empty one): LOAD, GET and WIPE say ERR bad
 * name, the LOAD's connection closes before its bytes are read as
 * requests, and nothing held changes; 64 characters are a name.
 */
START_TEST(bad_names)
{
	const char *const args[] = { "--empty", NULL };
	const char *const names[NSEC] = { "one", "two", NULL };
	char		  n65[80], n64[80], line[160], before[512], buf[64];
	const char   *bad[] = { n65, "../x", "-x", "a b", "caf\xc3\xa9", ".x",
		  "_x", "x/y", "a\tb", "", NULL };
	unsigned char s[NSEC][5000];
	size_t	      len[NSEC];
	struct dz     d;
	int	      fd, i;

	memset(n65, 'n', 65);
	n65[65] = '\0';
	memset(n64, 'N', 64);
	n64[64] = '\0';
	three(s, len);
	ck_assert_int_eq(dz_start(&d, args), 0);
	fd = dz_ctl(&d);
	for (i = 0; i < NSEC; i++)
		ck_assert_str_eq(load_as(fd, names[i], s[i], len[i]), "OK");
	close(fd);
	snprintf(before, sizeof before, "%s", dz_status(&d));
	for (i = 0; bad[i] != NULL; i++) {
		fd = dz_ctl(&d);
		/* Raw bytes that would be a request if read as one. */
		snprintf(line, sizeof line, "LOAD 5 %s\nWIPE\n", bad[i]);
		send_quiet(fd, line, strlen(line));
		ck_assert_msg(dz_readline(fd, buf, sizeof buf, 5) != NULL,
		    "no reply to LOAD as '%s'", bad[i]);
		ck_assert_msg(strcmp(buf, "ERR bad name") == 0,
		    "LOAD as '%s': %s", bad[i], buf);
		ck_assert_msg(dz_eof(fd, 5),
		    "LOAD as '%s' left the "
		    "connection open",
		    bad[i]);
		close(fd);
		fd = dz_ctl(&d);
		snprintf(line, sizeof line, "GET %s\n", bad[i]);
		ck_assert_str_eq(dz_req(fd, line), "ERR bad name");
		snprintf(line, sizeof line, "WIPE %s\n", bad[i]);
		ck_assert_str_eq(dz_req(fd, line), "ERR bad name");
		close(fd);
		unchanged(&d, before);
	}
	all_there(&d, names, s, len);
	/* The longest name there is. */
	fd = dz_ctl(&d);
	ck_assert_str_eq(load_as(fd, n64, s[1], len[1]), "OK");
	get_as(fd, n64, s[1], len[1]);
	close(fd);
	dz_stop(&d);
}
END_TEST

/* Write a private config file holding text; its path in buf. */
static void
conf_file(char *buf, size_t len, const char *text)
{
	char dir[64];

	dz_tmpdir(dir, sizeof dir);
	snprintf(buf, len, "%s/dazai.conf", dir);
	dz_write_file(buf, text, strlen(text));
	ck_assert_int_eq(chmod(buf, 0600), 0);
}

/*
 * secrets_max = 3: a fourth name is refused (ERR too many secrets) and
 * changes nothing, a held name may still be replaced, and a wipe makes
 * room; a bad, oversized or empty LOAD changes nothing either.
 */
START_TEST(secrets_max_reached)
{
	const char *const names[NSEC] = { "x", "y", "z" };
	const char   *args[] = { "--empty", "--config", NULL, "--secret-max",
		  "6000", NULL };
	char	      conf[128], before[512], line[64];
	unsigned char s[NSEC][5000], big[6001];
	size_t	      len[NSEC];
	struct dz     d;
	int	      fd, i;

	conf_file(conf, sizeof conf, "secrets_max = 3\n");
	args[2] = conf;
	three(s, len);
	memset(big, 'b', sizeof big);
	ck_assert_int_eq(dz_start(&d, args), 0);
	fd = dz_ctl(&d);
	for (i = 0; i < NSEC; i++)
		ck_assert_str_eq(load_as(fd, names[i], s[i], len[i]), "OK");
	close(fd);
	snprintf(before, sizeof before, "%s", dz_status(&d));
	fd = dz_ctl(&d);
	ck_assert_str_eq(load_as(fd, "w", s[0], len[0]),
	    "ERR too many "
	    "secrets");
	close(fd);
	fd = dz_ctl(&d);
	ck_assert_str_eq(load_as(fd, NULL, s[0], len[0]),
	    "ERR too many "
	    "secrets");
	close(fd);
	fd = dz_ctl(&d);
	ck_assert_str_eq(load_as(fd, "y", big, sizeof big),
	    "ERR larger than "
	    "secret_max");
	close(fd);
	fd = dz_ctl(&d);
	snprintf(line, sizeof line, "LOAD 0 y\n");
	ck_assert_str_eq(dz_req(fd, line), "ERR empty secret");
	close(fd);
	unchanged(&d, before);
	all_there(&d, names, s, len);
	ck_assert(!dz_log_has(&d, "secret \"y\" wiped"));
	/* Replacing a held one is no new secret. */
	fd = dz_ctl(&d);
	ck_assert_str_eq(load_as(fd, "y", big, 6000), "OK");
	get_as(fd, "y", big, 6000);
	ck_assert_str_eq(dz_req(fd, "WIPE z\n"), "OK");
	ck_assert_str_eq(load_as(fd, "w", s[2], len[2]), "OK");
	get_as(fd, "w", s[2], len[2]);
	close(fd);
	ck_assert_str_eq(dz_field(dz_status(&d), "secrets"), "3");
	dz_stop(&d);
}
END_TEST

/* secrets_max out of 1..64 is refused with the file and line (exit 2). */
START_TEST(secrets_max_checked)
{
	static const char *const bad[] = { "0", "65", "-1", "x", "16x", NULL };
	char			 conf[128], text[64], out[1024], want[192];
	const char		*argv[] = { dz_bin("dazaid"), "--config", conf,
			     "--check-config", NULL };
	int			 i, st;

	for (i = 0; bad[i] != NULL; i++) {
		snprintf(text, sizeof text, "grace = 0\nsecrets_max = %s\n",
		    bad[i]);
		conf_file(conf, sizeof conf, text);
		st = dz_run(argv, out, sizeof out, 10);
		ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 2,
		    "secrets_max = %s: status %d", bad[i], st);
		snprintf(want, sizeof want, "%s:2: secrets_max", conf);
		ck_assert_msg(strstr(out, want) != NULL,
		    "secrets_max = %s: "
		    "%s",
		    bad[i], out);
	}
	conf_file(conf, sizeof conf, "secrets_max = 64\n");
	st = dz_run(argv, out, sizeof out, 10);
	ck_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	ck_assert(strstr(out, "secrets_max = 64\n") != NULL);
	conf_file(conf, sizeof conf, "\n");
	st = dz_run(argv, out, sizeof out, 10);
	ck_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	ck_assert(strstr(out, "secrets_max = 16\n") != NULL);
}
END_TEST

/*
 * A LOAD cut short (the client closes after part of the bytes) leaves
 * that name empty, the secret it replaced wiped, and every other secret
 * as it was; the same for a new name, which is then not held at all.
 */
START_TEST(load_cut_short)
{
	const char *const args[] = { "--empty", NULL };
	const char *const names[NSEC] = { "keep", "cut", NULL };
	unsigned char	  s[NSEC][5000];
	size_t		  len[NSEC];
	struct dz	  d;
	int		  fd;

	three(s, len);
	ck_assert_int_eq(dz_start(&d, args), 0);
	fd = dz_ctl(&d);
	ck_assert_str_eq(load_as(fd, names[0], s[0], len[0]), "OK");
	ck_assert_str_eq(load_as(fd, names[1], s[1], len[1]), "OK");
	ck_assert_str_eq(load_as(fd, NULL, s[2], len[2]), "OK");
	close(fd);
	fd = dz_ctl(&d);
	ck_assert(dz_send(fd, "LOAD 3000 cut\n"));
	dz_send_bytes(fd, s[1], 1000);
	close(fd);
	ck_assert(dz_log_wait(&d, "LOAD of \"cut\" from pid", 5));
	ck_assert(dz_status_wait(&d, "secrets", "2", 5));
	fd = dz_ctl(&d);
	ck_assert_str_eq(dz_req(fd, "GET cut\n"), "ERR no secret");
	get_as(fd, "keep", s[0], len[0]);
	get_as(fd, NULL, s[2], len[2]);
	close(fd);
	/* A new name cut short: not held, nothing else changed. */
	fd = dz_ctl(&d);
	ck_assert(dz_send(fd, "LOAD 3000 fresh\n"));
	dz_send_bytes(fd, s[1], 10);
	close(fd);
	ck_assert(dz_log_wait(&d, "LOAD of \"fresh\" from pid", 5));
	ck_assert_str_eq(dz_field(dz_status(&d), "secrets"), "2");
	ck_assert_int_eq(status_num(&d, "secret_bytes"),
	    (long)(len[0] + len[2]));
	ck_assert(strncmp(entry(&d, 0), "ENTRY index=0 name=keep ", 24) == 0);
	ck_assert(strncmp(entry(&d, 1), "ENTRY index=1 name=default ", 27) ==
	    0);
	ck_assert_str_eq(entry(&d, 2), "ERR no such entry");
	dz_stop(&d);
}
END_TEST

/* max_reads counts each secret's GETs on its own. */
START_TEST(max_reads_each)
{
	const char *const args[] = { "--empty", "--max-reads", "2", NULL };
	const char *const names[NSEC] = { "r1", "r2", NULL };
	unsigned char	  s[NSEC][5000];
	size_t		  len[NSEC];
	struct dz	  d;
	int		  fd;

	three(s, len);
	ck_assert_int_eq(dz_start(&d, args), 0);
	fd = dz_ctl(&d);
	ck_assert_str_eq(load_as(fd, "r1", s[0], len[0]), "OK");
	ck_assert_str_eq(load_as(fd, "r2", s[1], len[1]), "OK");
	get_as(fd, "r1", s[0], len[0]);
	get_as(fd, "r1", s[0], len[0]);
	ck_assert(dz_log_wait(&d, "expired (max_reads reached)", 5));
	ck_assert_str_eq(dz_req(fd, "GET r1\n"), "ERR no secret");
	get_as(fd, "r2", s[1], len[1]);
	ck_assert(strncmp(entry(&d, 0),
		      "ENTRY index=0 name=r2 bytes=2038 "
		      "reads=1 ",
		      40) == 0);
	get_as(fd, "r2", s[1], len[1]);
	ck_assert_str_eq(dz_req(fd, "GET r2\n"), "ERR no secret");
	close(fd);
	ck_assert_str_eq(dz_field(dz_status(&d), "secrets"), "0");
	(void)names;
	dz_stop(&d);
}
END_TEST

/*
 * max_lifetime counts from each secret's own load: the first loaded
 * expires first, the later one stays until its own limit; expires= in
 * STATUS is the nearest of them.
 */
START_TEST(max_lifetime_each)
{
	const char *const args[] = { "--empty", "--max-lifetime", "1.5", NULL };
	unsigned char	  s[NSEC][5000];
	size_t		  len[NSEC];
	struct dz	  d;
	double		  t0;
	int		  fd;

	three(s, len);
	ck_assert_int_eq(dz_start(&d, args), 0);
	fd = dz_ctl(&d);
	t0 = dz_now();
	ck_assert_str_eq(load_as(fd, "early", s[0], len[0]), "OK");
	close(fd);
	usleep(800000);
	fd = dz_ctl(&d);
	ck_assert_str_eq(load_as(fd, "late", s[1], len[1]), "OK");
	close(fd);
	ck_assert_str_eq(dz_field(dz_status(&d), "expires"), "1");
	ck_assert(dz_log_wait(&d, "expired (max_lifetime reached)", 5));
	ck_assert_msg(dz_now() - t0 >= 1.4, "expired after %.2fs",
	    dz_now() - t0);
	fd = dz_ctl(&d);
	ck_assert_str_eq(dz_req(fd, "GET early\n"), "ERR no secret");
	if (dz_now() - t0 < 2.1)
		get_as(fd, "late", s[1], len[1]);
	close(fd);
	ck_assert(dz_status_wait(&d, "secrets", "0", 5));
	ck_assert_int_eq(dz_log_count(&d, "expired (max_lifetime reached)"), 2);
	dz_stop(&d);
}
END_TEST

/*
 * idle_timeout counts from each secret's own last LOAD or GET: the one
 * read every 0.4 s stays, the one left alone expires.
 */
START_TEST(idle_timeout_each)
{
	const char *const args[] = { "--empty", "--idle-timeout", "1", NULL };
	unsigned char	  s[NSEC][5000];
	size_t		  len[NSEC];
	struct dz	  d;
	int		  fd, i;

	three(s, len);
	ck_assert_int_eq(dz_start(&d, args), 0);
	fd = dz_ctl(&d);
	ck_assert_str_eq(load_as(fd, "idle", s[0], len[0]), "OK");
	ck_assert_str_eq(load_as(fd, "busy", s[1], len[1]), "OK");
	for (i = 0; i < 5; i++) {
		usleep(400000);
		get_as(fd, "busy", s[1], len[1]);
	}
	ck_assert(dz_log_has(&d, "expired (idle_timeout reached)"));
	ck_assert_str_eq(dz_req(fd, "GET idle\n"), "ERR no secret");
	get_as(fd, "busy", s[1], len[1]);
	close(fd);
	ck_assert_str_eq(dz_field(dz_status(&d), "secrets"), "1");
	dz_stop(&d);
}
END_TEST

/*
 * SKIP unless root, and in an AddressSanitizer build (its shadow memory
 * is not scannable; make check scans the normal build).
 */
static bool
skip_scan(const char *what)
{
	if (dz_is_asan_build(dz_bin("dazaid"))) {
		dz_skip_na("%s: %s is an AddressSanitizer build; memory "
			   "scans run on the normal build",
		    what, dz_bin("dazaid"));
		return true;
	}
	if (dz_is_root())
		return false;
	dz_skip("%s: reading another process's memory needs root", what);
	return true;
}

/* Three random 32-byte markers, held as three secrets. */
static void
load_markers(const struct dz *d, unsigned char m[NSEC][32])
{
	static const char *const names[NSEC] = { "m.one", "m-two", NULL };
	int			 fd = dz_ctl(d), i;

	for (i = 0; i < NSEC; i++) {
		ck_assert_int_eq(getrandom(m[i], 32, 0), 32);
		ck_assert_str_eq(load_as(fd, names[i], m[i], 32), "OK");
	}
	for (i = 0; i < NSEC; i++)
		get_as(fd, names[i], m[i], 32);
	close(fd);
}

/*
 * The daemon's secure mappings, once there are want of them (a window
 * a GET opened may still split one for a moment after its last byte).
 */
static int
secure_maps(pid_t pid, struct memscan_map maps[8], int want)
{
	double end = dz_now() + 5;
	int    n;

	while ((n = memscan_secure_maps(pid, maps, 8)) != want &&
	    dz_now() < end)
		usleep(20000);
	ck_assert_int_eq(n, want);
	return n;
}

/* No marker anywhere in the daemon's memory. */
static void
no_plaintext(pid_t pid, unsigned char m[NSEC][32])
{
	struct memscan ms;
	int	       i;

	for (i = 0; i < NSEC; i++) {
		ck_assert_int_eq(memscan_pid(pid, m[i], 32, &ms), 0);
		ck_assert_int_gt(ms.bytes, 100000);
		ck_assert_msg(ms.hits == 0,
		    "secret %d in plaintext at %lx "
		    "(%s %s)",
		    i, ms.hit[0].addr, ms.hit[0].perms, ms.hit[0].name);
	}
}

/*
 * Three secrets held, each read back: no plaintext anywhere in the
 * daemon (as root, through /proc/PID/mem, PROT_NONE pages included);
 * one shield and a buffer for each, all locked and excluded from dumps;
 * WIPE of one gives its buffer back.
 */
START_TEST(scan_three_held)
{
	const char *const  args[] = { "--empty", "--no-secretmem", NULL };
	unsigned char	   m[NSEC][32];
	struct memscan_map maps[8];
	struct dz	   d;
	int		   fd;

	if (skip_scan("scan_three_held"))
		return;
	ck_assert_int_eq(dz_start(&d, args), 0);
	ck_assert_int_eq(memscan_secure_maps(d.pid, maps, 8), 2);
	load_markers(&d, m);
	no_plaintext(d.pid, m);
	secure_maps(d.pid, maps, 1 + NSEC);
	fd = dz_ctl(&d);
	ck_assert_str_eq(dz_req(fd, "WIPE m-two\n"), "OK");
	close(fd);
	secure_maps(d.pid, maps, NSEC);
	no_plaintext(d.pid, m);
	dz_stop(&d);
}
END_TEST

/* What ends the daemon under the tracer. */
struct ending {
	pid_t pid;
	int   sig;
};

/* Send the signal. */
static void
end_it(void *arg)
{
	struct ending *e = arg;

	kill(e->pid, e->sig);
}

/*
 * Three secrets held, then an exit path: at every munmap of a secure
 * mapping and at the last system call, no marker anywhere and every
 * secure mapping still mapped all zero.
 */
static void
death_scan(int sig, bool armed, int want_sig, int want_exit)
{
	const char	  *args[] = { "--empty", "--no-secretmem", NULL, NULL };
	unsigned char	   m[NSEC][32];
	const void	  *needles[NSEC];
	struct memscan_map maps[8];
	unsigned long	   ranges[16];
	struct memscan_death md;
	struct ending	     e;
	struct dz	     d;
	int		     i, n;

	setenv("ASAN_OPTIONS", "detect_leaks=0", 1);
	if (armed)
		args[2] = "--arm";
	ck_assert_int_eq(dz_start(&d, args), 0);
	load_markers(&d, m);
	no_plaintext(d.pid, m);
	n = secure_maps(d.pid, maps, 1 + NSEC);
	for (i = 0; i < n; i++) {
		ranges[2 * i] = maps[i].start;
		ranges[2 * i + 1] = maps[i].end;
	}
	for (i = 0; i < NSEC; i++)
		needles[i] = m[i];
	e.pid = d.pid;
	e.sig = sig;
	ck_assert_msg(memscan_trace_death_n(d.pid, needles, NSEC, 32, ranges,
			  (size_t)n, end_it, &e, &md) == 0,
	    "tracing the death failed: %s", strerror(errno));
	d.pid = 0;
	d.status = md.status;
	ck_assert_msg(md.scans >= 1, "no final system call seen");
	ck_assert_msg(md.hits == 0, "a secret found %d times at death",
	    md.hits);
	ck_assert_msg(md.nonzero == 0,
	    "a secure mapping not all zero at "
	    "death (%d)",
	    md.nonzero);
	ck_assert_msg(md.unmap_hits == 0,
	    "a secret still there when a "
	    "secure mapping was unmapped (%d scans)",
	    md.unmap_scans);
	if (want_sig != 0)
		ck_assert_msg(WIFSIGNALED(d.status) &&
			WTERMSIG(d.status) == want_sig,
		    "status %d", d.status);
	else
		ck_assert_msg(WIFEXITED(d.status) &&
			WEXITSTATUS(d.status) == want_exit,
		    "status %d", d.status);
	dz_stop(&d);
}

/* A graceful panic (SIGUSR1, dry-run) with three secrets held. */
START_TEST(death_graceful_panic)
{
	if (skip_scan("death_graceful_panic"))
		return;
	death_scan(SIGUSR1, false, 0, 0);
}
END_TEST

/* The hard panic in the signal handler (SIGUSR2, armed). */
START_TEST(death_hard_panic)
{
	if (skip_scan("death_hard_panic"))
		return;
	death_scan(SIGUSR2, true, SIGKILL, 0);
}
END_TEST

/* A clean shutdown (SIGTERM) wipes them all too. */
START_TEST(death_sigterm)
{
	if (skip_scan("death_sigterm"))
		return;
	death_scan(SIGTERM, true, 0, 0);
}
END_TEST

Suite *
secrets_suite(void)
{
	Suite *s = suite_create("secrets");
	TCase *tc = tcase_create("secrets");

	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, three_round_trip);
	tcase_add_test(tc, wipe_one_and_all);
	tcase_add_test(tc, bad_names);
	tcase_add_test(tc, secrets_max_reached);
	tcase_add_test(tc, secrets_max_checked);
	tcase_add_test(tc, load_cut_short);
	tcase_add_test(tc, max_reads_each);
	tcase_add_test(tc, max_lifetime_each);
	tcase_add_test(tc, idle_timeout_each);
	tcase_add_test(tc, scan_three_held);
	tcase_add_test(tc, death_graceful_panic);
	tcase_add_test(tc, death_hard_panic);
	tcase_add_test(tc, death_sigterm);
	suite_add_tcase(s, tc);
	return s;
}
