/* SPDX-License-Identifier: ISC */
/*
 * dazai benchmarks: how long from a lost heartbeat to a dead daemon, what a
 * PING costs, how much memory and CPU the daemon takes while it waits, and
 * how fast it wipes. Every latency is measured against a floor program
 * (tests/bench/floor.c) run interleaved with dazaid, so drift hits both.
 * The figures are reported, never asserted.
 *
 * usage: bench BUILD_DIR
 */
#include <sys/random.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <sys/wait.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "bench.h"

#define LAT_RUNS	200 /* loss / dry-run / SIGUSR2 rounds */
#define SESSIONS_N	64  /* heartbeats in the sessions bench */
#define GETBIG_SIZE	(64 * 1024 * 1024) /* the GET throughput secret */
#define GETBIG_RUNS	20		   /* its GETs and cats */
#define SESSIONS_RUNS	50		   /* last-loss rounds with 1 and 64 */
#define PING_RUNS	10000		   /* PING round trips per program */
#define PING_WARMUP	500
#define MCP_RUNS	2000 /* dazai_status calls via dazai mcp */
#define MCP_WARMUP	100
#define IDLE_SECONDS	10
#define SHIELD_RUNS	50 /* runs per size and trigger */
#define NAMED_N		16 /* named secrets of 1 MiB held */
#define NAMED_RUNS	50 /* runs per case and trigger */
#define NAMED_PINGS	20 /* warm-up PINGs before each trigger */
#define BIG_SIZE	(64u << 20)
#define MIB_SIZE	(1u << 20)
#define WIPE_REPS	9
#define TARGET_RATIO	1.25
#define TARGET_P99_US	1000.0
#define GET_RUNS	200 /* dazai get / keyctl pipe processes */
#define GET_WARMUP	10
#define GET_SIZE	32
#define KEYCTL_JOIN	1    /* KEYCTL_JOIN_SESSION_KEYRING */
#define KEYCTL_UNLINK_	9    /* KEYCTL_UNLINK */
#define KEYRING_SESSION (-3) /* KEY_SPEC_SESSION_KEYRING */

enum prog { P_DAZAID, P_FLOOR, P_NOSM, P_NPROGS };
enum scen { S_LOSS, S_DRY, S_USR2, S_NSCENS };

static const char *const prog_names[P_NPROGS] = { "dazaid", "floor",
	"dazaid --no-secretmem" };

/* clang-format off */
static const char legend[] =
"notes: latency = trigger (the client's close(), or kill(SIGUSR2)) to the\n"
"  parent's waitpid() returning, start-up excluded, process asleep in\n"
"  epoll_wait when triggered; floor = build/bench/floor (libc only: accept\n"
"  one connection, answer HELLO/PING, epoll until EOF, zero 32 bytes,\n"
"  SIGKILL itself; exit 0 in dry-run), run interleaved with dazaid;\n"
"  wipe floor = memset on the same pages while they are writable;\n"
"  unrecoverable = trigger to the CLOCK_MONOTONIC time dazaid logs under\n"
"  --verbose once the prekey and key are zero (then the buffer is wiped).\n"
"  named = the same, every daemon started --empty, with 16 secrets of\n"
"  1 MiB LOADed under 16 names (one prekey for all) against one 32-byte\n"
"  secret LOADed, against 16 of 32 B, and against one of 32 B LOADed\n"
"  after 16 MiB were LOADed and wiped; before each trigger the caches\n"
"  are evicted (2x L3) and warmed alike (a throwaway 1 x 32 B run\n"
"  triggered the same way, 20 PINGs), so the LOADs' traffic is not\n"
"  what is timed; round 1 is a warm-up, not kept; locked = VmLck of a\n"
"  daemon started --empty, then with 16 named secrets of 32 B or 1 MiB.\n"
    /* clang-format on */
    "  GET throughput = fork to waitpid of `dazai get > /dev/null` of a\n"
    "  64 MiB secret against `cat` of the same bytes from /dev/shm; the\n"
    "  ratio there is dazai get's throughput over cat's.\n"
    "  dazai get = fork, exec and wait for `dazai get > /dev/null` against a\n"
    "  running dazaid, interleaved with `keyctl pipe` of a user key of the\n"
    "  same size in a private session keyring.\n";

/* Paths the whole run shares. */
static struct {
	char dazaid[PATH_MAX];
	char dazai[PATH_MAX];
	char floor[PATH_MAX];
	char dir[64]; /* private 0700 temporary directory */
} ctx;

/* One line of the table. */
struct row {
	char what[96];
	char stat[8];
	char n[8];
	char value[24];
	char ref[28];
	char ratio[10];
	char target[20];
	char verdict[8];
	bool section; /* a heading line, what only */
};

static struct row rows[128];
static size_t	  nrows;

/* Append a heading to the table. */
static void
table_section(const char *title)
{
	struct row *r;

	if (nrows == sizeof rows / sizeof rows[0])
		bench_die("too many table rows");
	r = &rows[nrows++];
	memset(r, 0, sizeof *r);
	r->section = true;
	snprintf(r->what, sizeof r->what, "%s", title);
}

/* Append a row; empty strings print as "-" where a value is expected. */
static void
table_row(const char *what, const char *stat, const char *n, const char *value,
    const char *ref, const char *ratio, const char *target, const char *verdict)
{
	struct row *r;

	if (nrows == sizeof rows / sizeof rows[0])
		bench_die("too many table rows");
	r = &rows[nrows++];
	memset(r, 0, sizeof *r);
	snprintf(r->what, sizeof r->what, "%s", what);
	snprintf(r->stat, sizeof r->stat, "%s", stat);
	snprintf(r->n, sizeof r->n, "%s", n);
	snprintf(r->value, sizeof r->value, "%s", value);
	snprintf(r->ref, sizeof r->ref, "%s", ref);
	snprintf(r->ratio, sizeof r->ratio, "%s", ratio);
	snprintf(r->target, sizeof r->target, "%s", target);
	snprintf(r->verdict, sizeof r->verdict, "%s", verdict);
}

#define ROW_FMT "%-40s %-4s %6s %14s %20s %7s  %-16s %s\n"

/* Print the table. */
static void
table_print(void)
{
	size_t	    i;
	struct row *r;

	printf(ROW_FMT, "measurement", "stat", "n", "measured", "reference",
	    "ratio", "target", "verdict");
	for (i = 0; i < nrows; i++) {
		r = &rows[i];
		if (r->section) {
			printf("-- %s\n", r->what);
			continue;
		}
		printf(ROW_FMT, r->what, r->stat, r->n,
		    r->value[0] ? r->value : "-", r->ref[0] ? r->ref : "-",
		    r->ratio[0] ? r->ratio : "-",
		    r->target[0] ? r->target : "-",
		    r->verdict[0] ? r->verdict : "-");
	}
}

/* Format a ratio a / b, or "" when it makes no sense. */
static void
fmt_ratio(char *buf, size_t size, double a, double b)
{
	if (!(b > 0) || isnan(a))
		buf[0] = '\0';
	else
		snprintf(buf, size, "%.2fx", a / b);
}

/* Verdict text. */
static const char *
verdict(bool met)
{
	return met ? "met" : "MISSED";
}

/* Remove the temporary directory and everything in it. */
static void
cleanup_dir(void)
{
	char	       path[PATH_MAX];
	struct dirent *de;
	DIR	      *d;

	if (ctx.dir[0] == '\0' || (d = opendir(ctx.dir)) == NULL)
		return;
	while ((de = readdir(d)) != NULL) {
		if (strcmp(de->d_name, ".") == 0 ||
		    strcmp(de->d_name, "..") == 0)
			continue;
		snprintf(path, sizeof path, "%s/%s", ctx.dir, de->d_name);
		unlink(path);
	}
	closedir(d);
	rmdir(ctx.dir);
}

/* dir/name into buf. */
static const char *
tmp_path(char *buf, size_t size, const char *name)
{
	if ((size_t)snprintf(buf, size, "%s/%s", ctx.dir, name) >= size)
		bench_die("path too long: %s/%s", ctx.dir, name);
	return buf;
}

/* Write size random bytes to a new file (mode 0600) in the temp dir. */
static void
write_random_file(const char *path, size_t size)
{
	unsigned char buf[65536];
	size_t	      left = size, k;
	int	      fd;

	if ((fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600)) <
	    0)
		bench_die("%s: %s", path, strerror(errno));
	while (left > 0) {
		k = left < sizeof buf ? left : sizeof buf;
		if (getrandom(buf, k, 0) != (ssize_t)k ||
		    write(fd, buf, k) != (ssize_t)k)
			bench_die("%s: %s", path, strerror(errno));
		left -= k;
	}
	explicit_bzero(buf, sizeof buf);
	close(fd);
}

/*
 * Build the argv of one program: dazaid with --socket and --ready-fd and
 * the extra options, or the floor with its socket and mode.
 */
static void
build_argv(const char **argv, size_t size, enum prog pg, const char *sock,
    bool armed, const char *const *extra)
{
	size_t i = 0;

	if (pg == P_FLOOR) {
		argv[i++] = ctx.floor;
		argv[i++] = sock;
		argv[i++] = "3";
		argv[i++] = armed ? "kill" : "exit";
	} else {
		argv[i++] = ctx.dazaid;
		argv[i++] = "--socket";
		argv[i++] = sock;
		argv[i++] = "--ready-fd";
		argv[i++] = "3";
		if (armed)
			argv[i++] = "--arm";
		if (pg == P_NOSM)
			argv[i++] = "--no-secretmem";
		while (extra != NULL && *extra != NULL && i < size - 1)
			argv[i++] = *extra++;
	}
	argv[i] = NULL;
}

/* Start a program; die if it does not get ready. */
static void
start(struct bproc *p, const char *const *argv, int err_fd, double timeout)
{
	if (bench_spawn(p, argv, BENCH_READY_FD, err_fd, timeout) != 0)
		bench_die("%s did not get ready (status 0x%x)", argv[0],
		    p->status);
}

/*
 * One run: start, connect the heartbeat, let the process fall asleep,
 * then trigger (close the heartbeat, or SIGUSR2) and time until waitpid
 * returns. The start-up time goes to *ready_us. Returns microseconds.
 */
static double
run_once(enum prog pg, enum scen sc, const char *const *extra, double *ready_us)
{
	const char  *argv[24];
	struct bproc p;
	char	     sock[128];
	double	     t0, t1;
	bool	     armed = sc != S_DRY, ok;
	int	     fd;

	tmp_path(sock, sizeof sock, "s.sock");
	unlink(sock);
	build_argv(argv, sizeof argv / sizeof argv[0], pg, sock, armed, extra);
	start(&p, argv, -1, 60);
	*ready_us = p.ready_us;
	if ((fd = bench_hello(sock)) < 0)
		bench_die("%s: no WELCOME", prog_names[pg]);
	bench_settle(p.pid);

	t0 = bench_now_us();
	if (sc == S_USR2)
		kill(p.pid, SIGUSR2);
	else
		close(fd);
	if (bench_reap(&p, 20) != 0) {
		bench_kill(&p);
		bench_die("%s did not die", prog_names[pg]);
	}
	t1 = bench_now_us();

	if (sc == S_USR2)
		close(fd);
	unlink(sock);
	if (armed)
		ok = WIFSIGNALED(p.status) && WTERMSIG(p.status) == SIGKILL;
	else
		ok = WIFEXITED(p.status) && WEXITSTATUS(p.status) == 0;
	if (!ok)
		bench_die("%s: unexpected wait status 0x%x", prog_names[pg],
		    p.status);
	return t1 - t0;
}

/* Add p50/p90/p99 rows for one latency against the floor. */
static void
latency_rows(const char *what, struct bstats *d, struct bstats *f, bool targets)
{
	static const double qs[] = { 50, 90, 99 };
	char		    n[8], val[24], ref[28], ratio[10], stat[8];
	double		    a, b;
	size_t		    i;

	stats_sort(d);
	stats_sort(f);
	snprintf(n, sizeof n, "%zu", d->n);
	for (i = 0; i < sizeof qs / sizeof qs[0]; i++) {
		a = stats_pct(d, qs[i]);
		b = stats_pct(f, qs[i]);
		snprintf(stat, sizeof stat, "p%.0f", qs[i]);
		snprintf(val, sizeof val, "%.1f us", a);
		snprintf(ref, sizeof ref, "floor %.1f us", b);
		fmt_ratio(ratio, sizeof ratio, a, b);
		if (targets && i == 0)
			table_row(i == 0 ? what : "", stat, n, val, ref, ratio,
			    "<= 1.25x floor", verdict(a <= TARGET_RATIO * b));
		else if (targets && i == 2)
			table_row("", stat, n, val, ref, ratio, "< 1000 us",
			    verdict(a < TARGET_P99_US));
		else
			table_row(i == 0 ? what : "", stat, n, val, ref, ratio,
			    "", "");
	}
}

/*
 * Heartbeat loss (armed and dry-run) and SIGUSR2, dazaid and the floor,
 * LAT_RUNS rounds; within a round the programs alternate who goes first.
 */
static void
bench_latency(void)
{
	static const char *const titles[S_NSCENS] = {
		"loss -> death (--arm, no grace)",
		"loss -> exit 0 (dry-run)",
		"SIGUSR2 -> death (--arm)",
	};
	struct bstats lat[P_NPROGS][S_NSCENS], ready[P_NPROGS];
	char	      val[24], ref[28], ratio[10], n[8], what[48];
	double	      r;
	int	      i, s, k, pg;

	fprintf(stderr,
	    "bench: %d rounds of loss, dry-run and SIGUSR2, "
	    "dazaid (with and without secretmem) and floor interleaved\n",
	    LAT_RUNS);
	for (pg = 0; pg < P_NPROGS; pg++) {
		stats_init(&ready[pg], LAT_RUNS * S_NSCENS);
		for (s = 0; s < S_NSCENS; s++)
			stats_init(&lat[pg][s], LAT_RUNS);
	}
	for (i = 0; i < LAT_RUNS; i++)
		for (s = 0; s < S_NSCENS; s++)
			for (k = 0; k < P_NPROGS; k++) {
				pg = (i + s + k) % P_NPROGS;
				stats_add(&lat[pg][s],
				    run_once(pg, s, NULL, &r));
				stats_add(&ready[pg], r);
			}

	table_section("heartbeat loss and panic latency: trigger -> "
		      "waitpid() returns");
	for (s = 0; s < S_NSCENS; s++) {
		latency_rows(titles[s], &lat[P_DAZAID][s], &lat[P_FLOOR][s],
		    s == S_LOSS);
		snprintf(what, sizeof what, "  same, --no-secretmem");
		latency_rows(what, &lat[P_NOSM][s], &lat[P_FLOOR][s], false);
	}
	table_section("start-up");
	stats_sort(&ready[P_DAZAID]);
	stats_sort(&ready[P_FLOOR]);
	snprintf(n, sizeof n, "%zu", ready[P_DAZAID].n);
	snprintf(val, sizeof val, "%.0f us", stats_pct(&ready[P_DAZAID], 50));
	snprintf(ref, sizeof ref, "floor %.0f us",
	    stats_pct(&ready[P_FLOOR], 50));
	fmt_ratio(ratio, sizeof ratio, stats_pct(&ready[P_DAZAID], 50),
	    stats_pct(&ready[P_FLOOR], 50));
	table_row("fork -> --ready-fd newline", "p50", n, val, ref, ratio, "",
	    "");
	for (pg = 0; pg < P_NPROGS; pg++) {
		stats_free(&ready[pg]);
		for (s = 0; s < S_NSCENS; s++)
			stats_free(&lat[pg][s]);
	}
}

/* One PING -> PONG round trip, in microseconds. */
static double
ping_once(int fd)
{
	char   reply[16];
	double t0, t1;

	t0 = bench_now_us();
	if (bench_request(fd, "PING\n", reply, sizeof reply) < 0 ||
	    strcmp(reply, "PONG") != 0)
		bench_die("PING: no PONG");
	t1 = bench_now_us();
	return t1 - t0;
}

/*
 * PING round trips: dazaid without and with --ping-timeout, and the
 * floor, all running at once, pinged in turn (rotating order).
 */
static void
bench_ping(void)
{
	static const char *const pt_on[] = { "--ping-timeout", "30", NULL };
	const char		*argv[24];
	struct bproc		 p[3];
	struct bstats		 rtt[3];
	char   sock[3][128], val[24], ref[28], ratio[10], n[8];
	double a, b;
	int    fd[3], i, k, j, q;

	fprintf(stderr, "bench: %d PING round trips each\n", PING_RUNS);
	tmp_path(sock[0], sizeof sock[0], "p0.sock");
	tmp_path(sock[1], sizeof sock[1], "p1.sock");
	tmp_path(sock[2], sizeof sock[2], "p2.sock");
	for (k = 0; k < 3; k++) {
		build_argv(argv, sizeof argv / sizeof argv[0],
		    k == 2 ? P_FLOOR : P_DAZAID, sock[k], true,
		    k == 1 ? pt_on : NULL);
		start(&p[k], argv, -1, 60);
		if ((fd[k] = bench_hello(sock[k])) < 0)
			bench_die("PING bench: no WELCOME");
		stats_init(&rtt[k], PING_RUNS);
	}
	for (i = 0; i < PING_WARMUP; i++)
		for (k = 0; k < 3; k++)
			(void)ping_once(fd[k]);
	for (i = 0; i < PING_RUNS; i++)
		for (j = 0; j < 3; j++) {
			k = (i + j) % 3;
			stats_add(&rtt[k], ping_once(fd[k]));
		}
	for (k = 0; k < 3; k++) {
		close(fd[k]);
		bench_kill(&p[k]);
		unlink(sock[k]);
		stats_sort(&rtt[k]);
	}

	table_section("PING -> PONG round trip (write to reply read)");
	snprintf(n, sizeof n, "%zu", rtt[0].n);
	for (k = 0; k < 2; k++)
		for (q = 50; q <= 99; q += 49) {
			a = stats_pct(&rtt[k], q);
			b = stats_pct(&rtt[2], q);
			snprintf(val, sizeof val, "%.1f us", a);
			snprintf(ref, sizeof ref, "floor %.1f us", b);
			fmt_ratio(ratio, sizeof ratio, a, b);
			table_row(q != 50 ? "" :
				k == 0	  ? "PING RTT, --ping-timeout off" :
					    "PING RTT, --ping-timeout 30",
			    q == 50 ? "p50" : "p99", n, val, ref, ratio,
			    q == 50 ? "<= 1.25x floor" : "",
			    q == 50 ? verdict(a <= TARGET_RATIO * b) : "");
		}
	for (k = 0; k < 3; k++)
		stats_free(&rtt[k]);
}

/* One request on a control connection: microseconds to its reply. */
static double
control_once(int fd, const char *req, const char *want)
{
	char   reply[512];
	double t0, t1;

	t0 = bench_now_us();
	if (bench_request(fd, req, reply, sizeof reply) < 0 ||
	    strncmp(reply, want, strlen(want)) != 0)
		bench_die("control: no %s reply", want);
	t1 = bench_now_us();
	return t1 - t0;
}

/*
 * STATUS against PING on one open control connection of a daemon holding
 * a secret, interleaved: what STATUS's formatting costs beyond a round
 * trip.
 */
static void
bench_control(void)
{
	static const char *const empty[] = { "--empty", NULL };
	const char		*argv[24];
	struct bproc		 p;
	struct bstats		 st, pg;
	char			 sock[128], val[24], ref[28], ratio[10], n[8];
	double			 a, b;
	int			 fd, i, q;

	fprintf(stderr,
	    "bench: %d STATUS and PING round trips on a control "
	    "connection\n",
	    PING_RUNS);
	tmp_path(sock, sizeof sock, "c.sock");
	build_argv(argv, sizeof argv / sizeof argv[0], P_DAZAID, sock, false,
	    empty);
	start(&p, argv, -1, 60);
	if ((fd = bench_connect(sock)) < 0)
		bench_die("control bench: connect");
	(void)control_once(fd, "PING\n", "PONG");
	stats_init(&st, PING_RUNS);
	stats_init(&pg, PING_RUNS);
	for (i = 0; i < PING_WARMUP; i++) {
		(void)control_once(fd, "STATUS\n", "STATUS alive=1 ");
		(void)control_once(fd, "PING\n", "PONG");
	}
	for (i = 0; i < PING_RUNS; i++) {
		if (i % 2 == 0) {
			stats_add(&st,
			    control_once(fd, "STATUS\n", "STATUS alive=1 "));
			stats_add(&pg, control_once(fd, "PING\n", "PONG"));
		} else {
			stats_add(&pg, control_once(fd, "PING\n", "PONG"));
			stats_add(&st,
			    control_once(fd, "STATUS\n", "STATUS alive=1 "));
		}
	}
	close(fd);
	bench_kill(&p);
	unlink(sock);
	stats_sort(&st);
	stats_sort(&pg);

	table_section("control connection round trip (write to reply read)");
	snprintf(n, sizeof n, "%zu", st.n);
	for (q = 50; q <= 99; q += 49) {
		a = stats_pct(&st, q);
		b = stats_pct(&pg, q);
		snprintf(val, sizeof val, "%.1f us", a);
		snprintf(ref, sizeof ref, "PING %.1f us", b);
		fmt_ratio(ratio, sizeof ratio, a, b);
		table_row(q == 50 ? "STATUS RTT, open control connection" : "",
		    q == 50 ? "p50" : "p99", n, val, ref, ratio, "", "");
	}
	stats_free(&st);
	stats_free(&pg);
}

/* Write a whole line to fd; die otherwise. */
static void
mcp_write(int fd, const char *s)
{
	size_t	off = 0, len = strlen(s);
	ssize_t n;

	while (off < len) {
		if ((n = write(fd, s + off, len - off)) < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			bench_die("mcp: write: %s", strerror(errno));
		off += (size_t)n;
	}
}

/*
 * One dazai_status call on dazai mcp's standard input, microseconds to
 * its reply line (it must carry structuredContent).
 */
static double
mcp_status_once(int in, int out)
{
	static const char call[] =
	    "{\"jsonrpc\":\"2.0\",\"id\":1,"
	    "\"method\":\"tools/call\",\"params\":{\"name\":"
	    "\"dazai_status\"}}\n";
	char   reply[4096];
	double t0, t1;

	t0 = bench_now_us();
	mcp_write(in, call);
	if (bench_readline(out, reply, sizeof reply) <= 0 ||
	    strstr(reply, "\"structuredContent\":{\"alive\":true") == NULL)
		bench_die("mcp: no dazai_status result");
	t1 = bench_now_us();
	return t1 - t0;
}

/*
 * dazai_status through dazai mcp on a raw pipe (JSON-RPC in, a fresh
 * control connection to the daemon with its trust checks, STATUS, JSON
 * out) against STATUS on an open control connection, interleaved: what
 * the MCP layer costs an agent per call.
 */
static void
bench_mcp(void)
{
	static const char *const empty[] = { "--empty", NULL };
	static const char	 init[] =
	    "{\"jsonrpc\":\"2.0\",\"id\":0,"
	    "\"method\":\"initialize\",\"params\":{\"protocolVersion\":"
	    "\"2025-11-25\",\"capabilities\":{},\"clientInfo\":{\"name\":"
	    "\"bench\",\"version\":\"1\"}}}\n";
	const char   *argv[24];
	struct bproc  p;
	struct bstats mc, st;
	char	      sock[128], val[24], ref[28], ratio[10], n[8], line[4096];
	double	      a, b;
	int	      fd, in[2], out[2], i, wst;
	pid_t	      pid;

	fprintf(stderr,
	    "bench: %d dazai_status calls through dazai mcp and "
	    "STATUS round trips\n",
	    MCP_RUNS);
	tmp_path(sock, sizeof sock, "m.sock");
	build_argv(argv, sizeof argv / sizeof argv[0], P_DAZAID, sock, false,
	    empty);
	start(&p, argv, -1, 60);
	if (pipe2(in, O_CLOEXEC) != 0 || pipe2(out, O_CLOEXEC) != 0)
		bench_die("mcp: pipe2: %s", strerror(errno));
	if ((pid = fork()) < 0)
		bench_die("mcp: fork: %s", strerror(errno));
	if (pid == 0) {
		dup2(in[0], STDIN_FILENO);
		dup2(out[1], STDOUT_FILENO);
		execl(ctx.dazai, "dazai", "--socket", sock, "mcp", "--config",
		    "/dev/null", (char *)NULL);
		_exit(127);
	}
	close(in[0]);
	close(out[1]);
	mcp_write(in[1], init);
	if (bench_readline(out[0], line, sizeof line) <= 0)
		bench_die("mcp: no answer to initialize");
	if ((fd = bench_connect(sock)) < 0)
		bench_die("mcp bench: connect");
	stats_init(&mc, MCP_RUNS);
	stats_init(&st, MCP_RUNS);
	for (i = 0; i < MCP_WARMUP; i++) {
		(void)mcp_status_once(in[1], out[0]);
		(void)control_once(fd, "STATUS\n", "STATUS alive=1 ");
	}
	for (i = 0; i < MCP_RUNS; i++) {
		if (i % 2 == 0) {
			stats_add(&mc, mcp_status_once(in[1], out[0]));
			stats_add(&st,
			    control_once(fd, "STATUS\n", "STATUS alive=1 "));
		} else {
			stats_add(&st,
			    control_once(fd, "STATUS\n", "STATUS alive=1 "));
			stats_add(&mc, mcp_status_once(in[1], out[0]));
		}
	}
	close(fd);
	close(in[1]);
	while (waitpid(pid, &wst, 0) < 0 && errno == EINTR)
		;
	close(out[0]);
	bench_kill(&p);
	unlink(sock);
	stats_sort(&mc);
	stats_sort(&st);

	table_section("dazai mcp (an MCP client's tools/call to its result)");
	snprintf(n, sizeof n, "%zu", mc.n);
	a = stats_pct(&mc, 50);
	b = stats_pct(&st, 50);
	snprintf(val, sizeof val, "%.1f us", a);
	snprintf(ref, sizeof ref, "STATUS %.1f us", b);
	fmt_ratio(ratio, sizeof ratio, a, b);
	table_row("dazai_status RTT, raw pipe", "p50", n, val, ref, ratio, "",
	    "");
	stats_free(&mc);
	stats_free(&st);
}

/* The daemon's live heartbeats (STATUS sessions=) on a control conn. */
static int
sessions_now(const char *sock)
{
	char	    reply[512];
	const char *p;
	int	    fd, n = -1;

	if ((fd = bench_connect(sock)) < 0)
		return -1;
	if (bench_request(fd, "STATUS\n", reply, sizeof reply) > 0 &&
	    (p = strstr(reply, " sessions=")) != NULL)
		n = atoi(p + 10);
	close(fd);
	return n;
}

/*
 * One last-loss run with n heartbeats (--sessions 64, armed): connect n,
 * close all but one and wait until the daemon counts one, let it fall
 * asleep, then time the last close to waitpid. Microseconds.
 */
static double
last_loss_once(int n)
{
	static const char *const many[] = { "--sessions", "64", NULL };
	const char		*argv[24];
	struct bproc		 p;
	char			 sock[128];
	double			 t0, t1;
	int			 fd[SESSIONS_N], i;

	tmp_path(sock, sizeof sock, "m.sock");
	unlink(sock);
	build_argv(argv, sizeof argv / sizeof argv[0], P_DAZAID, sock, true,
	    many);
	start(&p, argv, -1, 60);
	for (i = 0; i < n; i++)
		if ((fd[i] = bench_hello(sock)) < 0)
			bench_die("sessions: no WELCOME for heartbeat %d", i);
	for (i = 1; i < n; i++)
		close(fd[i]);
	for (i = 0; sessions_now(sock) != 1; i++)
		if (i > 5000)
			bench_die("sessions: the daemon never counted one");
		else
			usleep(1000);
	bench_settle(p.pid);
	t0 = bench_now_us();
	close(fd[0]);
	if (bench_reap(&p, 20) != 0) {
		bench_kill(&p);
		bench_die("sessions: the daemon did not die");
	}
	t1 = bench_now_us();
	unlink(sock);
	if (!WIFSIGNALED(p.status) || WTERMSIG(p.status) != SIGKILL)
		bench_die("sessions: wait status 0x%x", p.status);
	return t1 - t0;
}

/*
 * Several sessions: the PING round trip on one heartbeat of a daemon
 * (--sessions 64) while it holds 64 heartbeats against while it holds
 * that one alone, in alternating blocks on the same daemon (same process,
 * same CPU placement); and last-loss -> death with 64 heartbeats
 * connected before against 1, interleaved. The goal for each ratio is at
 * most 1.1x.
 */
static void
bench_sessions(void)
{
	static const char *const many[] = { "--sessions", "64", NULL };
	const char		*argv[24];
	struct bproc		 p;
	struct bstats		 rtt[2], loss[2];
	char			 sock[128], val[24], ref[28], ratio[10], n[8];
	int			 fd[SESSIONS_N], i, j, k, q, blocks = 20;
	double			 a, b;

	fprintf(stderr,
	    "bench: %d PINGs with 1 and 64 heartbeats, %d "
	    "last-loss rounds with 1 and 64\n",
	    PING_RUNS, SESSIONS_RUNS);
	tmp_path(sock, sizeof sock, "many.sock");
	unlink(sock);
	build_argv(argv, sizeof argv / sizeof argv[0], P_DAZAID, sock, false,
	    many);
	start(&p, argv, -1, 60);
	if ((fd[0] = bench_hello(sock)) < 0)
		bench_die("sessions: no WELCOME");
	for (k = 0; k < 2; k++) {
		stats_init(&rtt[k], PING_RUNS);
		stats_init(&loss[k], SESSIONS_RUNS);
	}
	for (i = 0; i < PING_WARMUP; i++)
		(void)ping_once(fd[0]);
	for (j = 0; j < blocks; j++) {
		k = j % 2;
		for (i = 1; i < SESSIONS_N && k == 1; i++)
			if ((fd[i] = bench_hello(sock)) < 0)
				bench_die("sessions: no WELCOME");
		while (sessions_now(sock) != (k == 1 ? SESSIONS_N : 1))
			usleep(1000);
		for (i = 0; i < PING_WARMUP / 10; i++)
			(void)ping_once(fd[0]);
		for (i = 0; i < PING_RUNS / blocks; i++)
			stats_add(&rtt[k], ping_once(fd[0]));
		for (i = 1; i < SESSIONS_N && k == 1; i++)
			close(fd[i]);
	}
	close(fd[0]);
	bench_kill(&p);
	unlink(sock);
	for (i = 0; i < SESSIONS_RUNS; i++)
		for (k = 0; k < 2; k++)
			stats_add(&loss[(i + k) % 2],
			    last_loss_once((i + k) % 2 == 0 ? 1 : SESSIONS_N));

	table_section("several sessions (--sessions 64): 64 heartbeats "
		      "against 1");
	for (k = 0; k < 2; k++) {
		stats_sort(&rtt[k]);
		stats_sort(&loss[k]);
	}
	for (q = 0; q < 2; q++) {
		struct bstats *m = q == 0 ? &rtt[1] : &loss[1];
		struct bstats *o = q == 0 ? &rtt[0] : &loss[0];

		a = stats_pct(m, 50);
		b = stats_pct(o, 50);
		snprintf(n, sizeof n, "%zu", m->n);
		snprintf(val, sizeof val, "%.1f us", a);
		snprintf(ref, sizeof ref, "1 hb %.1f us", b);
		fmt_ratio(ratio, sizeof ratio, a, b);
		table_row(q == 0 ? "PING RTT, 64 heartbeats" :
				   "last loss -> death, 64 before",
		    "p50", n, val, ref, ratio, "<= 1.1x",
		    verdict(a <= 1.1 * b));
	}
	for (k = 0; k < 2; k++) {
		stats_free(&rtt[k]);
		stats_free(&loss[k]);
	}
}

/* Start ssh-agent -D -a SOCK and read its memory; false if unavailable. */
static bool
ssh_agent_rss(long *rss, long *hwm)
{
	const char     *argv[6];
	struct bproc	p;
	struct timespec ts = { 0, 100000000 };
	char		sock[128];

	argv[0] = "ssh-agent";
	argv[1] = "-D";
	argv[2] = "-a";
	argv[3] = tmp_path(sock, sizeof sock, "agent.sock");
	argv[4] = NULL;
	/* It prints SSH_AUTH_SOCK=...; on stdout once it listens. */
	if (bench_spawn(&p, argv, 1, -1, 10) != 0)
		return false;
	nanosleep(&ts, NULL);
	*rss = bench_status_field(p.pid, "VmRSS:");
	*hwm = bench_status_field(p.pid, "VmHWM:");
	bench_kill(&p);
	unlink(sock);
	return *rss > 0;
}

/* Resident memory of dazaid with a 32-byte and a 1 MiB secret. */
static void
bench_memory(void)
{
	static const char *const names[] = {
		"dazaid, 32-byte secret",
		"dazaid, 1 MiB secret",
		"dazaid, 1 MiB secret, --no-secretmem",
		"floor (32-byte static secret)",
	};
	const char     *extra[4][6], *argv[24];
	struct bproc	p;
	struct timespec ts = { 0, 50000000 };
	char		small[128], big[128], sock[128];
	char		val[24], ref[28], ratio[10];
	long		rss[4], hwm[4], arss = -1, ahwm = -1;
	bool		agent;
	int		k, fd;

	fprintf(stderr, "bench: resident memory\n");
	write_random_file(tmp_path(small, sizeof small, "small.secret"), 32);
	write_random_file(tmp_path(big, sizeof big, "mib.secret"), MIB_SIZE);
	extra[0][0] = "--secret-file";
	extra[0][1] = small;
	extra[0][2] = NULL;
	extra[1][0] = "--secret-file";
	extra[1][1] = big;
	extra[1][2] = NULL;
	extra[2][0] = "--secret-file";
	extra[2][1] = big;
	extra[2][2] = "--no-secretmem";
	extra[2][3] = NULL;
	extra[3][0] = NULL;
	tmp_path(sock, sizeof sock, "m.sock");
	for (k = 0; k < 4; k++) {
		build_argv(argv, sizeof argv / sizeof argv[0],
		    k == 3 ? P_FLOOR : P_DAZAID, sock, true, extra[k]);
		start(&p, argv, -1, 60);
		if ((fd = bench_hello(sock)) < 0)
			bench_die("memory bench: no WELCOME");
		nanosleep(&ts, NULL);
		rss[k] = bench_status_field(p.pid, "VmRSS:");
		hwm[k] = bench_status_field(p.pid, "VmHWM:");
		close(fd);
		bench_reap(&p, 10);
		bench_kill(&p);
		unlink(sock);
	}
	unlink(small);
	unlink(big);
	agent = ssh_agent_rss(&arss, &ahwm);

	table_section("resident memory, heartbeat connected (kB)");
	for (k = 0; k < 4; k++) {
		snprintf(val, sizeof val, "%ld kB", rss[k]);
		if (agent)
			snprintf(ref, sizeof ref, "ssh-agent %ld kB", arss);
		else
			snprintf(ref, sizeof ref, "ssh-agent n/a");
		fmt_ratio(ratio, sizeof ratio, (double)rss[k],
		    agent ? (double)arss : 0);
		table_row(names[k], "RSS", "1", val, ref, ratio,
		    k == 0 ? "<= ssh-agent" : "",
		    k == 0 ? (agent ? verdict(rss[k] <= arss) : "n/a") : "");
		snprintf(val, sizeof val, "%ld kB", hwm[k]);
		if (agent)
			snprintf(ref, sizeof ref, "ssh-agent %ld kB", ahwm);
		fmt_ratio(ratio, sizeof ratio, (double)hwm[k],
		    agent ? (double)ahwm : 0);
		table_row("", "HWM", "1", val, ref, ratio, "", "");
	}
}

/* Sleep until the monotonic time t (microseconds). */
static void
sleep_until_us(double t)
{
	struct timespec ts;

	ts.tv_sec = (time_t)(t / 1e6);
	ts.tv_nsec = (long)(fmod(t, 1e6) * 1e3);
	while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) ==
	    EINTR)
		;
}

/*
 * Idle cost over IDLE_SECONDS: CPU ticks (utime + stime) and voluntary
 * context switches (wake-ups) of dazaid with a connected heartbeat,
 * --ping-timeout off; on with a silent client; on with a client that
 * pings every 5 s like dazai-heartbeat; and of the floor. All at once.
 */
static void
bench_idle(void)
{
	static const char *const names[] = {
		"idle, --ping-timeout off",
		"idle, --ping-timeout 30, silent client",
		"idle, --ping-timeout 30, PING every 5 s",
		"idle, floor",
	};
	static const char *const pt_on[] = { "--ping-timeout", "30", NULL };
	const char		*argv[24];
	struct bproc		 p[4];
	char			 sock[4][128], name[16], val[24], ref[28], n[8];
	long			 t0[4], t1[4], w0[4], w1[4];
	double			 start_us;
	int			 fd[4], k;

	fprintf(stderr, "bench: %d s idle\n", IDLE_SECONDS);
	for (k = 0; k < 4; k++) {
		snprintf(name, sizeof name, "i%d.sock", k);
		tmp_path(sock[k], sizeof sock[k], name);
		build_argv(argv, sizeof argv / sizeof argv[0],
		    k == 3 ? P_FLOOR : P_DAZAID, sock[k], false,
		    k == 1 || k == 2 ? pt_on : NULL);
		start(&p[k], argv, -1, 60);
		if ((fd[k] = bench_hello(sock[k])) < 0)
			bench_die("idle bench: no WELCOME");
	}
	sleep_until_us(bench_now_us() + 200000);
	for (k = 0; k < 4; k++) {
		t0[k] = bench_stat_ticks(p[k].pid);
		w0[k] =
		    bench_status_field(p[k].pid, "voluntary_ctxt_switches:");
	}
	start_us = bench_now_us();
	sleep_until_us(start_us + 2.5e6);
	(void)ping_once(fd[2]);
	sleep_until_us(start_us + 7.5e6);
	(void)ping_once(fd[2]);
	sleep_until_us(start_us + IDLE_SECONDS * 1e6);
	for (k = 0; k < 4; k++) {
		t1[k] = bench_stat_ticks(p[k].pid);
		w1[k] =
		    bench_status_field(p[k].pid, "voluntary_ctxt_switches:");
		if (k < 3)
			kill(p[k].pid, SIGTERM);
		bench_reap(&p[k], 10);
		bench_kill(&p[k]);
		close(fd[k]);
		unlink(sock[k]);
	}

	table_section("idle cost over 10 s, heartbeat connected "
		      "(ticks = utime+stime, USER_HZ)");
	snprintf(n, sizeof n, "%ds", IDLE_SECONDS);
	for (k = 0; k < 4; k++) {
		snprintf(val, sizeof val, "%ld", t1[k] - t0[k]);
		snprintf(ref, sizeof ref, "floor %ld", t1[3] - t0[3]);
		table_row(names[k], "tick", n, val, k < 3 ? ref : "", "",
		    k < 3 ? "0" : "", k < 3 ? verdict(t1[k] == t0[k]) : "");
		snprintf(val, sizeof val, "%ld", w1[k] - w0[k]);
		snprintf(ref, sizeof ref, "floor %ld", w1[3] - w0[3]);
		table_row("", "wake", n, val, k < 3 ? ref : "", "",
		    k == 2 ? "2 (the PINGs)" : "", "");
	}
}

/* Table rows for one in-process wipe measurement. */
static void
wipe_rows(const char *what, const struct wipe_result *r)
{
	const double gib = (double)(1u << 30);
	char	     val[24], ref[28], ratio[10], n[8], label[48];

	snprintf(n, sizeof n, "%d", WIPE_REPS);
	if (!r->ok) {
		table_row(what, "med", n, "n/a (no buffer)", "", "", "", "");
		return;
	}
	snprintf(ref, sizeof ref, "memset %.2f ms", r->memset_ms);
	snprintf(label, sizeof label, "%s%s", what,
	    r->locked ? "" : " (NOT locked)");
	snprintf(val, sizeof val, "%.2f ms", r->wipe_ms);
	fmt_ratio(ratio, sizeof ratio, r->wipe_ms, r->memset_ms);
	table_row(label, "med", n, val, ref, ratio, "<= 1.25x memset",
	    verdict(r->wipe_ms <= TARGET_RATIO * r->memset_ms));
	snprintf(val, sizeof val, "%.1f GiB/s",
	    (double)r->bytes / gib / (r->wipe_ms / 1e3));
	snprintf(ref, sizeof ref, "memset %.1f GiB/s",
	    (double)r->bytes / gib / (r->memset_ms / 1e3));
	table_row("  throughput", "med", n, val, ref, "", "", "");
	snprintf(ref, sizeof ref, "memset %.2f ms", r->memset_ms);
	snprintf(val, sizeof val, "%.2f ms", r->bzero_ms);
	fmt_ratio(ratio, sizeof ratio, r->bzero_ms, r->memset_ms);
	table_row("  explicit_bzero, writable pages", "med", n, val, ref, ratio,
	    "", "");
	snprintf(val, sizeof val, "%.2f ms", r->cold_ms);
	fmt_ratio(ratio, sizeof ratio, r->cold_ms, r->memset_ms);
	table_row("  memset just after mprotect(RW)", "med", n, val, ref, ratio,
	    "", "");
	snprintf(val, sizeof val, "%.2f ms", r->emerg_ms);
	fmt_ratio(ratio, sizeof ratio, r->emerg_ms, r->memset_ms);
	table_row("  secmem_emergency_wipe (SIGUSR2)", "med", n, val, ref,
	    ratio, "", "");
}

/* Wipe throughput in-process, with and without memfd_secret. */
static void
bench_wipe(void)
{
	struct wipe_result r;

	fprintf(stderr, "bench: wiping 64 MiB in-process\n");
	table_section("wipe of a 64 MiB secret, in-process (build/obj/secmem.o"
		      "), median of passes");
	wipe_measure(BIG_SIZE, true, WIPE_REPS, &r);
	wipe_rows(r.secretmem ? "secmem_wipe, memfd_secret" :
				"secmem_wipe, memfd_secret REFUSED",
	    &r);
	wipe_measure(BIG_SIZE, false, WIPE_REPS, &r);
	wipe_rows("secmem_wipe, anonymous (no secretmem)", &r);
}

/* The "prekey zeroed at S.N" time the daemon logged, in microseconds. */
static double
zeroed_at_us(const char *log)
{
	char	    line[512];
	const char *p;
	long long   sec;
	long	    nsec;
	double	    t = -1;
	FILE	   *f;

	if ((f = fopen(log, "re")) == NULL)
		return -1;
	while (fgets(line, sizeof line, f) != NULL)
		if ((p = strstr(line, "prekey zeroed at ")) != NULL &&
		    sscanf(p + 17, "%lld.%ld", &sec, &nsec) == 2)
			t = (double)sec * 1e6 + (double)nsec / 1e3;
	fclose(f);
	return t;
}

/*
 * One armed run with a secret file and --verbose: trigger (close the
 * heartbeat, or SIGUSR2) at t0; *unrec gets the time to the prekey's
 * zeroing, as the daemon logged it on CLOCK_MONOTONIC (the clock t0 is
 * read on, system-wide), *death the time until waitpid returns.
 */
static void
run_shielded(const char *file, const char *smax, const char *conf, enum scen sc,
    double *unrec, double *death)
{
	const char *const extra[] = { "--secret-file", file, "--secret-max",
		smax, "--verbose", "--config",
		conf != NULL ? conf : "/dev/null", NULL };
	const char	 *argv[24];
	struct bproc	  p;
	char		  sock[128], log[128];
	double		  t0, t1, tz;
	int		  fd, err;

	tmp_path(sock, sizeof sock, "u.sock");
	tmp_path(log, sizeof log, "u.log");
	unlink(sock);
	if ((err = open(log, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600)) <
	    0)
		bench_die("%s: %s", log, strerror(errno));
	build_argv(argv, sizeof argv / sizeof argv[0], P_DAZAID, sock, true,
	    extra);
	start(&p, argv, err, 60);
	close(err);
	if ((fd = bench_hello(sock)) < 0)
		bench_die("dazaid: no WELCOME");
	bench_settle(p.pid);

	t0 = bench_now_us();
	if (sc == S_USR2)
		kill(p.pid, SIGUSR2);
	else
		close(fd);
	if (bench_reap(&p, 20) != 0) {
		bench_kill(&p);
		bench_die("dazaid did not die");
	}
	t1 = bench_now_us();
	if (sc == S_USR2)
		close(fd);
	unlink(sock);
	if (!WIFSIGNALED(p.status) || WTERMSIG(p.status) != SIGKILL)
		bench_die("dazaid: unexpected wait status 0x%x", p.status);
	if ((tz = zeroed_at_us(log)) < 0)
		bench_die("%s: no \"prekey zeroed at\" line", log);
	*unrec = tz - t0;
	*death = t1 - t0;
}

/*
 * Time to unrecoverable (trigger -> prekey zeroed) and to death, armed,
 * for 32 B, 1 MiB and 64 MiB secrets, on heartbeat loss and SIGUSR2,
 * SHIELD_RUNS each, all interleaved. The goal: 64 MiB within 1.25x of
 * 32 B to unrecoverable, whatever the wipe of the buffer then costs.
 */
static void
bench_unrecoverable(void)
{
	static const size_t	 sizes[] = { 32, MIB_SIZE, BIG_SIZE };
	static const char *const szname[] = { "32 B", "1 MiB", "64 MiB" };
	static const char *const trig[] = { "loss", "", "SIGUSR2" };
	enum { NSZ = 3 };
	struct bstats un[NSZ][2], de[NSZ][2];
	char	      file[NSZ][128], name[16], smax[32], what[96];
	char	      val[24], ref[28], ratio[10], n[8];
	double	      u, d, bu, bd;
	int	      i, k, c, z, t;

	fprintf(stderr,
	    "bench: %d runs each of loss and SIGUSR2 with 32 B, "
	    "1 MiB and 64 MiB secrets (--verbose)\n",
	    SHIELD_RUNS);
	for (z = 0; z < NSZ; z++) {
		snprintf(name, sizeof name, "secret.%d", z);
		write_random_file(tmp_path(file[z], sizeof file[z], name),
		    sizes[z]);
		for (t = 0; t < 2; t++) {
			stats_init(&un[z][t], SHIELD_RUNS);
			stats_init(&de[z][t], SHIELD_RUNS);
		}
	}
	snprintf(smax, sizeof smax, "%u", BIG_SIZE);
	for (i = 0; i < SHIELD_RUNS; i++)
		for (k = 0; k < 2 * NSZ; k++) {
			c = (i + k) % (2 * NSZ);
			z = c / 2;
			t = c % 2;
			run_shielded(file[z], smax, NULL, t ? S_USR2 : S_LOSS,
			    &u, &d);
			stats_add(&un[z][t], u);
			stats_add(&de[z][t], d);
		}
	for (z = 0; z < NSZ; z++)
		unlink(file[z]);

	table_section("shielded secret, armed, --verbose: trigger -> "
		      "prekey zeroed (logged); -> waitpid()");
	snprintf(n, sizeof n, "%d", SHIELD_RUNS);
	for (t = 0; t < 2; t++) {
		for (z = 0; z < NSZ; z++) {
			stats_sort(&un[z][t]);
			stats_sort(&de[z][t]);
		}
		bu = stats_pct(&un[0][t], 50);
		bd = stats_pct(&de[0][t], 50);
		for (z = 0; z < NSZ; z++) {
			u = stats_pct(&un[z][t], 50);
			d = stats_pct(&de[z][t], 50);
			snprintf(what, sizeof what, "%s -> unrecoverable, %s",
			    trig[2 * t], szname[z]);
			snprintf(val, sizeof val, "%.1f us", u);
			snprintf(ref, sizeof ref, "32 B %.1f us", bu);
			fmt_ratio(ratio, sizeof ratio, u, bu);
			if (z == NSZ - 1)
				table_row(what, "p50", n, val, ref, ratio,
				    "<= 1.25x 32 B",
				    verdict(u <= TARGET_RATIO * bu));
			else
				table_row(what, "p50", n, val, ref, ratio, "",
				    "");
		}
		for (z = 0; z < NSZ; z++) {
			d = stats_pct(&de[z][t], 50);
			snprintf(what, sizeof what, "%s -> death, %s",
			    trig[2 * t], szname[z]);
			snprintf(val, sizeof val, "%.1f us", d);
			snprintf(ref, sizeof ref, "32 B %.1f us", bd);
			fmt_ratio(ratio, sizeof ratio, d, bd);
			table_row(what, "p50", n, val, ref, ratio, "", "");
		}
		for (z = 0; z < NSZ; z++) {
			stats_free(&un[z][t]);
			stats_free(&de[z][t]);
		}
	}
}

/* LOAD len bytes as name on a control connection; 0 once OK, or -1. */
static int
load_named(int fd, const char *name, const unsigned char *buf, size_t len)
{
	char	line[96], reply[128];
	size_t	off = 0;
	ssize_t n;

	snprintf(line, sizeof line, "LOAD %zu %s\n", len, name);
	if (write(fd, line, strlen(line)) != (ssize_t)strlen(line))
		return -1;
	while (off < len) {
		if ((n = write(fd, buf + off, len - off)) <= 0)
			return -1;
		off += (size_t)n;
	}
	if (bench_readline(fd, reply, sizeof reply) < 0 ||
	    strcmp(reply, "OK") != 0)
		return -1;
	return 0;
}

/* Fill buf with random bytes. */
static void
random_fill(unsigned char *buf, size_t len)
{
	size_t	off = 0;
	ssize_t n;

	while (off < len) {
		if ((n = getrandom(buf + off, len - off, 0)) <= 0)
			bench_die("getrandom: %s", strerror(errno));
		off += (size_t)n;
	}
}

/* LOAD n secrets of len random bytes, named s0, s1, ..., over sock. */
static void
load_many(const char *sock, int n, size_t len)
{
	unsigned char *buf = malloc(len);
	char	       name[16];
	int	       fd, i;

	if (buf == NULL || (fd = bench_connect(sock)) < 0)
		bench_die("named bench: cannot connect");
	for (i = 0; i < n; i++) {
		random_fill(buf, len);
		snprintf(name, sizeof name, "s%d", i);
		if (load_named(fd, name, buf, len) != 0)
			bench_die("named bench: LOAD %s refused", name);
	}
	close(fd);
	free(buf);
}

/* What a named-secrets run holds when it is triggered. */
enum named_case {
	N_ONE,	      /* one 32-byte secret, LOADed */
	N_MANY,	      /* NAMED_N secrets of 1 MiB, LOADed */
	N_MANY_SMALL, /* NAMED_N secrets of 32 B, LOADed */
	N_ONE_AFTER,  /* one 32 B secret LOADed after N_MANY was wiped */
	N_NCASES
};

/* WIPE every secret on a control connection to sock. */
static void
wipe_all(const char *sock)
{
	char reply[64];
	int  fd;

	if ((fd = bench_connect(sock)) < 0 ||
	    bench_request(fd, "WIPE\n", reply, sizeof reply) < 0 ||
	    strcmp(reply, "OK") != 0)
		bench_die("named bench: WIPE failed");
	close(fd);
}

/*
 * Evict the CPU caches: write and read back a buffer twice the size of
 * the last-level cache (at least 32 MiB). Run before every named trigger,
 * so that none finds the caches emptied by its own LOADs (16 MiB is the
 * whole L3 of some machines) while another finds them warm.
 */
static void
evict_caches(void)
{
	static unsigned char  *buf;
	static size_t	       len;
	static unsigned char   fill;
	volatile unsigned char sink = 0;
	long		       l3;
	size_t		       i;

	if (buf == NULL) {
		l3 = sysconf(_SC_LEVEL3_CACHE_SIZE);
		len = l3 > 0 && (size_t)l3 > (16u << 20) ? 2 * (size_t)l3 :
							   32u << 20;
		if ((buf = malloc(len)) == NULL)
			bench_die("evict: %s", strerror(errno));
	}
	memset(buf, ++fill, len);
	for (i = 0; i < len; i += 64)
		sink ^= buf[i];
	(void)sink;
}

static void run_named_once(enum named_case, enum scen, bool, double *,
    double *);

/*
 * Bring every named run to the same state before its trigger, whatever
 * it LOADed: the caches evicted, then warmed the same way, by one
 * throwaway run of the 1 x 32 B case triggered as this one will be (the
 * kernel's and the programs' code on that path) and PINGs on the
 * heartbeat fd (the daemon's own loop).
 */
static void
named_prepare(enum scen sc, int fd)
{
	char   reply[64];
	double u, d;
	int    i;

	evict_caches();
	run_named_once(N_ONE, sc, false, &u, &d);
	for (i = 0; i < NAMED_PINGS; i++)
		if (bench_request(fd, "PING\n", reply, sizeof reply) < 0 ||
		    strcmp(reply, "PONG") != 0)
			bench_die("dazaid: no PONG");
}

/*
 * One armed run, --verbose, started --empty and holding what case nc
 * says, every secret LOADed; prepared (named_prepare) unless told not;
 * then trigger (close the heartbeat, or SIGUSR2): *unrec gets the time
 * to the prekey's zeroing as the daemon logged it, *death to waitpid.
 */
static void
run_named_once(enum named_case nc, enum scen sc, bool prepare, double *unrec,
    double *death)
{
	const char *const extra[] = { "--empty", "--verbose", "--config",
		"/dev/null", NULL };
	const char	 *argv[24];
	struct bproc	  p;
	char		  sock[128], log[128];
	double		  t0, t1, tz;
	int		  fd, err;

	tmp_path(sock, sizeof sock, prepare ? "n.sock" : "w.sock");
	tmp_path(log, sizeof log, prepare ? "n.log" : "w.log");
	unlink(sock);
	if ((err = open(log, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600)) <
	    0)
		bench_die("%s: %s", log, strerror(errno));
	build_argv(argv, sizeof argv / sizeof argv[0], P_DAZAID, sock, true,
	    extra);
	start(&p, argv, err, 60);
	close(err);
	if (nc == N_MANY || nc == N_ONE_AFTER)
		load_many(sock, NAMED_N, MIB_SIZE);
	if (nc == N_ONE_AFTER)
		wipe_all(sock);
	if (nc == N_ONE || nc == N_ONE_AFTER)
		load_many(sock, 1, 32);
	if (nc == N_MANY_SMALL)
		load_many(sock, NAMED_N, 32);
	if ((fd = bench_hello(sock)) < 0)
		bench_die("dazaid: no WELCOME");
	if (prepare)
		named_prepare(sc, fd);
	bench_settle(p.pid);

	t0 = bench_now_us();
	if (sc == S_USR2)
		kill(p.pid, SIGUSR2);
	else
		close(fd);
	if (bench_reap(&p, 20) != 0) {
		bench_kill(&p);
		bench_die("dazaid did not die");
	}
	t1 = bench_now_us();
	if (sc == S_USR2)
		close(fd);
	unlink(sock);
	if (!WIFSIGNALED(p.status) || WTERMSIG(p.status) != SIGKILL)
		bench_die("dazaid: unexpected wait status 0x%x", p.status);
	if ((tz = zeroed_at_us(log)) < 0)
		bench_die("%s: no \"prekey zeroed at\" line", log);
	*unrec = tz - t0;
	*death = t1 - t0;
}

/*
 * Locked memory (VmLck, kB) of a daemon started --empty, then holding
 * n named secrets of len bytes each; extra: its options.
 */
static void
locked_kb(const char *const *extra, int n, size_t len, long *base, long *held)
{
	const char  *argv[24];
	struct bproc p;
	char	     sock[128];

	tmp_path(sock, sizeof sock, "l.sock");
	unlink(sock);
	build_argv(argv, sizeof argv / sizeof argv[0], P_DAZAID, sock, false,
	    extra);
	start(&p, argv, -1, 60);
	*base = bench_status_field(p.pid, "VmLck:");
	load_many(sock, n, len);
	*held = bench_status_field(p.pid, "VmLck:");
	kill(p.pid, SIGTERM);
	if (bench_reap(&p, 20) != 0)
		bench_kill(&p);
	unlink(sock);
}

/* Add the locked-memory rows for one kind of backing. */
static void
locked_rows(const char *kind, const char *const *extra)
{
	long base, small, big, b2;
	char what[96], val[24];

	locked_kb(extra, NAMED_N, 32, &base, &small);
	locked_kb(extra, NAMED_N, MIB_SIZE, &b2, &big);
	snprintf(what, sizeof what, "locked, --empty, %s", kind);
	snprintf(val, sizeof val, "%ld kB", base);
	table_row(what, "VmLck", "1", val, "", "", "", "");
	snprintf(what, sizeof what, "locked per extra 32 B secret, %s", kind);
	snprintf(val, sizeof val, "%.1f kB", (double)(small - base) / NAMED_N);
	table_row(what, "VmLck", "16", val, "", "", "", "");
	snprintf(what, sizeof what, "locked per extra 1 MiB secret, %s", kind);
	snprintf(val, sizeof val, "%.1f kB", (double)(big - b2) / NAMED_N);
	table_row(what, "VmLck", "16", val, "", "", "", "");
}

/*
 * Named secrets: time to unrecoverable and to death with 16 secrets of
 * 1 MiB under one shield against one 32-byte secret, armed, on loss and
 * SIGUSR2, NAMED_RUNS each, interleaved (the goal: within 1.25x); and
 * the locked memory each extra secret costs.
 */
static void
bench_named(void)
{
	static const char *const sm[] = { "--empty", NULL };
	static const char *const nosm[] = { "--empty", "--no-secretmem", NULL };
	static const char *const trig[] = { "loss", "SIGUSR2" };
	static const char *const cname[N_NCASES] = { "1 x 32 B", "16 x 1 MiB",
		"16 x 32 B", "1 x 32 B, 16 MiB before" };
	struct bstats		 un[N_NCASES][2], de[N_NCASES][2];
	char			 what[96], val[24], ref[28], ratio[10];
	char			 n[8];
	double			 u, d, bu, bd;
	int			 i, k, c, t;

	fprintf(stderr,
	    "bench: %d runs each of loss and SIGUSR2 with one "
	    "32 B secret, %d named secrets of 1 MiB and of 32 B, and one "
	    "32 B after 16 MiB (--verbose)\n",
	    NAMED_RUNS, NAMED_N);
	for (c = 0; c < N_NCASES; c++)
		for (t = 0; t < 2; t++) {
			stats_init(&un[c][t], NAMED_RUNS);
			stats_init(&de[c][t], NAMED_RUNS);
		}
	/* Round -1 warms up (the binaries' pages, the allocator): not kept. */
	for (i = -1; i < NAMED_RUNS; i++)
		for (k = 0; k < 2 * N_NCASES; k++) {
			c = ((i + 1 + k) % (2 * N_NCASES)) / 2;
			t = (i + 1 + k) % 2;
			run_named_once((enum named_case)c, t ? S_USR2 : S_LOSS,
			    true, &u, &d);
			if (i < 0)
				continue;
			stats_add(&un[c][t], u);
			stats_add(&de[c][t], d);
		}

	table_section("named secrets, armed, --verbose: trigger -> prekey "
		      "zeroed (logged); -> waitpid()");
	snprintf(n, sizeof n, "%d", NAMED_RUNS);
	for (t = 0; t < 2; t++) {
		for (c = 0; c < N_NCASES; c++) {
			stats_sort(&un[c][t]);
			stats_sort(&de[c][t]);
		}
		bu = stats_pct(&un[N_ONE][t], 50);
		bd = stats_pct(&de[N_ONE][t], 50);
		for (c = 0; c < N_NCASES; c++) {
			u = stats_pct(&un[c][t], 50);
			snprintf(what, sizeof what, "%s -> unrecoverable, %s",
			    trig[t], cname[c]);
			snprintf(val, sizeof val, "%.1f us", u);
			/* The same history, one secret: the fair reference. */
			if (c == N_MANY) {
				u = stats_pct(&un[N_ONE_AFTER][t], 50);
				snprintf(ref, sizeof ref, "after 16M %.1f us",
				    u);
				fmt_ratio(ratio, sizeof ratio,
				    stats_pct(&un[c][t], 50), u);
				table_row(what, "p50", n, val, ref, ratio,
				    "<= 1.25x 32 B",
				    verdict(stats_pct(&un[c][t], 50) <=
					TARGET_RATIO * u));
			}
			snprintf(ref, sizeof ref, "1 x 32 B %.1f us", bu);
			u = stats_pct(&un[c][t], 50);
			fmt_ratio(ratio, sizeof ratio, u, bu);
			table_row(what, "p50", n, val, ref, ratio,
			    c == N_MANY ? "<= 1.25x 32 B" : "",
			    c == N_MANY ? verdict(u <= TARGET_RATIO * bu) : "");
		}
		for (c = 0; c < N_NCASES; c++) {
			d = stats_pct(&de[c][t], 50);
			snprintf(what, sizeof what, "%s -> death, %s", trig[t],
			    cname[c]);
			snprintf(val, sizeof val, "%.1f us", d);
			snprintf(ref, sizeof ref, "1 x 32 B %.1f us", bd);
			fmt_ratio(ratio, sizeof ratio, d, bd);
			table_row(what, "p50", n, val, ref, ratio, "", "");
		}
		for (c = 0; c < N_NCASES; c++) {
			stats_free(&un[c][t]);
			stats_free(&de[c][t]);
		}
	}
	fprintf(stderr, "bench: locked memory per named secret\n");
	table_section("named secrets: locked memory (VmLck), dry-run");
	locked_rows("secretmem", sm);
	locked_rows("--no-secretmem", nosm);
}

/*
 * Time to unrecoverable on a heartbeat loss, armed, with three on_panic
 * actions configured against none, SHIELD_RUNS each, interleaved: the
 * actions run only once the secret is unrecoverable, so the goal is
 * within 1.05x.
 */
static void
bench_actions(void)
{
	static const char three[] = "on_panic = true\non_panic = true\n"
				    "on_panic = sleep 0.01\n";
	struct bstats	  un[2], de[2];
	char file[128], conf[2][128], n[8], val[24], ref[28], ratio[10],
	    what[80];
	double u, d, b;
	int    i, k, fd;

	write_random_file(tmp_path(file, sizeof file, "secret.a"), 32);
	tmp_path(conf[0], sizeof conf[0], "none.conf");
	tmp_path(conf[1], sizeof conf[1], "three.conf");
	for (k = 0; k < 2; k++) {
		if ((fd = open(conf[k],
			 O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600)) < 0 ||
		    (k == 1 &&
			write(fd, three, sizeof three - 1) !=
			    (ssize_t)(sizeof three - 1)))
			bench_die("%s: %s", conf[k], strerror(errno));
		close(fd);
		stats_init(&un[k], SHIELD_RUNS);
		stats_init(&de[k], SHIELD_RUNS);
	}
	fprintf(stderr,
	    "bench: %d heartbeat losses each with 3 actions and "
	    "none (armed, --verbose)\n",
	    SHIELD_RUNS);
	for (i = 0; i < SHIELD_RUNS; i++)
		for (k = 0; k < 2; k++) {
			run_shielded(file, "4096", conf[(i + k) % 2], S_LOSS,
			    &u, &d);
			stats_add(&un[(i + k) % 2], u);
			stats_add(&de[(i + k) % 2], d);
		}
	unlink(file);
	unlink(conf[0]);
	unlink(conf[1]);
	table_section("panic actions (armed, heartbeat loss): 3 on_panic "
		      "commands against none");
	snprintf(n, sizeof n, "%d", SHIELD_RUNS);
	for (k = 0; k < 2; k++) {
		stats_sort(&un[k]);
		stats_sort(&de[k]);
	}
	b = stats_pct(&un[0], 50);
	u = stats_pct(&un[1], 50);
	snprintf(val, sizeof val, "%.1f us", u);
	snprintf(ref, sizeof ref, "none %.1f us", b);
	fmt_ratio(ratio, sizeof ratio, u, b);
	table_row("loss -> unrecoverable, 3 actions", "p50", n, val, ref, ratio,
	    "<= 1.05x none", verdict(u <= 1.05 * b));
	b = stats_pct(&de[0], 50);
	d = stats_pct(&de[1], 50);
	snprintf(what, sizeof what, "loss -> dazaid's death, 3 actions");
	snprintf(val, sizeof val, "%.1f us", d);
	snprintf(ref, sizeof ref, "none %.1f us", b);
	fmt_ratio(ratio, sizeof ratio, d, b);
	table_row(what, "p50", n, val, ref, ratio, "", "");
	for (k = 0; k < 2; k++) {
		stats_free(&un[k]);
		stats_free(&de[k]);
	}
}

/*
 * Fork, exec argv with its standard streams on /dev/null and wait.
 * Returns the microseconds taken, or -1 if it did not exit 0.
 */
static double
run_timed(const char *const *argv)
{
	double t0, t1;
	pid_t  pid;
	int    st, fd;

	t0 = bench_now_us();
	if ((pid = fork()) < 0)
		bench_die("fork: %s", strerror(errno));
	if (pid == 0) {
		if ((fd = open("/dev/null", O_RDWR)) < 0)
			_exit(126);
		dup2(fd, 0);
		dup2(fd, 1);
		dup2(fd, 2);
		execv(argv[0], (char *const *)argv);
		_exit(127);
	}
	while (waitpid(pid, &st, 0) < 0)
		if (errno != EINTR)
			bench_die("waitpid: %s", strerror(errno));
	t1 = bench_now_us();
	return WIFEXITED(st) && WEXITSTATUS(st) == 0 ? t1 - t0 : -1;
}

/* Where keyctl(1) is, or NULL. */
static const char *
keyctl_path(void)
{
	static const char *const where[] = { "/usr/bin/keyctl", "/bin/keyctl",
		"/usr/sbin/keyctl", "/sbin/keyctl" };
	size_t			 i;

	for (i = 0; i < sizeof where / sizeof where[0]; i++)
		if (access(where[i], X_OK) == 0)
			return where[i];
	return NULL;
}

/*
 * `dazai get` as a whole process (fork, exec, connect, GET, write, exit)
 * against `keyctl pipe` of a user key of the same size, interleaved.
 */
static void
bench_get(void)
{
	const char   *argv[24], *getv[5], *keyv[4], *kc = keyctl_path();
	const char   *extra[3];
	unsigned char secret[GET_SIZE];
	struct bstats g, k;
	struct bproc  p;
	char   sock[128], path[128], id[24], val[24], ref[28], ratio[10], n[8];
	long   key = -1;
	double a, b;
	int    i, fd, q;

	fprintf(stderr, "bench: %d dazai get and keyctl pipe processes\n",
	    GET_RUNS);
	tmp_path(sock, sizeof sock, "g.sock");
	tmp_path(path, sizeof path, "g.secret");
	write_random_file(path, GET_SIZE);
	extra[0] = "--secret-file";
	extra[1] = path;
	extra[2] = NULL;
	build_argv(argv, sizeof argv / sizeof argv[0], P_DAZAID, sock, false,
	    extra);
	start(&p, argv, -1, 60);
	getv[0] = ctx.dazai;
	getv[1] = "--socket";
	getv[2] = sock;
	getv[3] = "get";
	getv[4] = NULL;
	/* The same bytes as a user key in a session keyring of our own,
	 * which the keyctl children inherit (and so possess). */
	if (kc != NULL && syscall(SYS_keyctl, KEYCTL_JOIN, NULL) >= 0 &&
	    (fd = open(path, O_RDONLY | O_CLOEXEC)) >= 0) {
		if (read(fd, secret, sizeof secret) == (ssize_t)sizeof secret)
			key = syscall(SYS_add_key, "user", "dazai-bench",
			    secret, sizeof secret, KEYRING_SESSION);
		explicit_bzero(secret, sizeof secret);
		close(fd);
	}
	snprintf(id, sizeof id, "%ld", key);
	keyv[0] = kc;
	keyv[1] = "pipe";
	keyv[2] = id;
	keyv[3] = NULL;
	table_section("dazai get as a whole process (fork to waitpid), "
		      "32-byte secret");
	if (run_timed(getv) < 0) {
		table_row("dazai get", "p50", "0", "n/a (GET failed)", "", "",
		    "", "");
		bench_kill(&p);
		return;
	}
	stats_init(&g, GET_RUNS);
	stats_init(&k, GET_RUNS);
	for (i = 0; i < GET_WARMUP; i++) {
		(void)run_timed(getv);
		if (key >= 0)
			(void)run_timed(keyv);
	}
	for (i = 0; i < GET_RUNS; i++) {
		if ((a = run_timed(getv)) < 0)
			bench_die("dazai get failed in round %d", i);
		stats_add(&g, a);
		if (key >= 0 && (b = run_timed(keyv)) >= 0)
			stats_add(&k, b);
	}
	bench_kill(&p);
	unlink(sock);
	if (key >= 0)
		syscall(SYS_keyctl, KEYCTL_UNLINK_, key, KEYRING_SESSION);
	stats_sort(&g);
	stats_sort(&k);
	snprintf(n, sizeof n, "%zu", g.n);
	for (q = 50; q <= 99; q += 49) {
		a = stats_pct(&g, q);
		snprintf(val, sizeof val, "%.0f us", a);
		if (k.n > 0) {
			b = stats_pct(&k, q);
			snprintf(ref, sizeof ref, "keyctl pipe %.0f us", b);
			fmt_ratio(ratio, sizeof ratio, a, b);
		} else {
			snprintf(ref, sizeof ref, "keyctl n/a");
			ratio[0] = '\0';
		}
		table_row(q == 50 ? "dazai get > /dev/null" : "",
		    q == 50 ? "p50" : "p99", n, val, ref, ratio, "", "");
	}
	stats_free(&g);
	stats_free(&k);
}

/*
 * GET throughput of a 64 MiB secret: `dazai get > /dev/null` (the daemon
 * decrypts it page by page through its scratch page) against `cat` of the
 * same bytes from a file in tmpfs (/dev/shm), interleaved, GETBIG_RUNS of
 * each. MiB/s from the median.
 */
static void
bench_get_big(void)
{
	const char   *argv[24], *getv[5], *catv[3], *extra[7];
	struct bstats g, c;
	struct bproc  p;
	char sock[128], path[128], smax[24], val[24], ref[28], ratio[10], n[8];
	double a, b, mib = (double)GETBIG_SIZE / (1024 * 1024);
	int    i;

	fprintf(stderr,
	    "bench: %d GETs of a 64 MiB secret and cats of the "
	    "same file in tmpfs\n",
	    GETBIG_RUNS);
	tmp_path(sock, sizeof sock, "big.sock");
	snprintf(path, sizeof path, "/dev/shm/dazai-bench.%d", (int)getpid());
	write_random_file(path, GETBIG_SIZE);
	snprintf(smax, sizeof smax, "%d", GETBIG_SIZE);
	extra[0] = "--secret-file";
	extra[1] = path;
	extra[2] = "--secret-max";
	extra[3] = smax;
	extra[4] = NULL;
	build_argv(argv, sizeof argv / sizeof argv[0], P_DAZAID, sock, false,
	    extra);
	start(&p, argv, -1, 120);
	getv[0] = ctx.dazai;
	getv[1] = "--socket";
	getv[2] = sock;
	getv[3] = "get";
	getv[4] = NULL;
	catv[0] = "/bin/cat";
	catv[1] = path;
	catv[2] = NULL;
	stats_init(&g, GETBIG_RUNS);
	stats_init(&c, GETBIG_RUNS);
	for (i = 0; i < GETBIG_RUNS + 1; i++) {
		if ((a = run_timed(getv)) < 0 || (b = run_timed(catv)) < 0)
			bench_die("64 MiB GET or cat failed in round %d", i);
		if (i == 0) /* warm-up */
			continue;
		stats_add(&g, a);
		stats_add(&c, b);
	}
	bench_kill(&p);
	unlink(sock);
	unlink(path);
	stats_sort(&g);
	stats_sort(&c);
	a = stats_pct(&g, 50);
	b = stats_pct(&c, 50);
	table_section("GET throughput, 64 MiB secret (fork to waitpid)");
	snprintf(n, sizeof n, "%zu", g.n);
	snprintf(val, sizeof val, "%.0f MiB/s", mib / (a / 1e6));
	snprintf(ref, sizeof ref, "cat %.0f MiB/s", mib / (b / 1e6));
	fmt_ratio(ratio, sizeof ratio, b, a);
	table_row("dazai get > /dev/null", "p50", n, val, ref, ratio, "", "");
	stats_free(&g);
	stats_free(&c);
}

/* Print the machine and the date. */
static void
print_machine(void)
{
	struct utsname u;
	char	       line[256], model[128] = "unknown", date[64];
	char	      *p;
	time_t	       now = time(NULL);
	FILE	      *f;

	if ((f = fopen("/proc/cpuinfo", "re")) != NULL) {
		while (fgets(line, sizeof line, f) != NULL)
			if (strncmp(line, "model name", 10) == 0 &&
			    (p = strchr(line, ':')) != NULL) {
				p += strspn(p + 1, " \t") + 1;
				p[strcspn(p, "\n")] = '\0';
				snprintf(model, sizeof model, "%s", p);
				break;
			}
		fclose(f);
	}
	if (uname(&u) != 0)
		snprintf(u.release, sizeof u.release, "unknown");
	strftime(date, sizeof date, "%Y-%m-%d %H:%M:%S %Z", localtime(&now));
	printf("machine: Linux %s, %ld CPUs, %s; %s\n", u.release,
	    sysconf(_SC_NPROCESSORS_ONLN), model, date);
}

/* Find the binaries, make the private directory, set the environment. */
static void
setup(const char *build)
{
	const char	*tmp = getenv("TMPDIR");
	struct sigaction sa;
	struct rlimit	 rl;

	if ((size_t)snprintf(ctx.dazaid, sizeof ctx.dazaid, "%s/dazaid",
		build) >= sizeof ctx.dazaid ||
	    (size_t)snprintf(ctx.dazai, sizeof ctx.dazai, "%s/dazai", build) >=
		sizeof ctx.dazai ||
	    (size_t)snprintf(ctx.floor, sizeof ctx.floor, "%s/bench/floor",
		build) >= sizeof ctx.floor)
		bench_die("build directory path too long");
	if (access(ctx.dazaid, X_OK) != 0 || access(ctx.floor, X_OK) != 0)
		bench_die("%s or %s missing: run make first", ctx.dazaid,
		    ctx.floor);
	/* A short private directory: socket paths must fit sun_path. */
	if (tmp == NULL || tmp[0] != '/' || strlen(tmp) > 24)
		tmp = "/tmp";
	snprintf(ctx.dir, sizeof ctx.dir, "%s/dazai-bench.XXXXXX", tmp);
	if (mkdtemp(ctx.dir) == NULL)
		bench_die("mkdtemp %s: %s", ctx.dir, strerror(errno));
	atexit(cleanup_dir);
	/* No user configuration and no systemd notification in the runs. */
	setenv("XDG_CONFIG_HOME", ctx.dir, 1);
	unsetenv("NOTIFY_SOCKET");
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = SIG_IGN;
	sigaction(SIGPIPE, &sa, NULL);
	/* As dazaid does: lock as much as the hard limit allows. */
	if (getrlimit(RLIMIT_MEMLOCK, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_MEMLOCK, &rl);
	}
	setvbuf(stdout, NULL, _IOLBF, 0);
}

/* Run every benchmark and print one table. */
int
main(int argc, char **argv)
{
	static const struct {
		const char *name;
		void (*fn)(void);
	} sections[] = {
		{ "latency", bench_latency },
		{ "ping", bench_ping },
		{ "control", bench_control },
		{ "mcp", bench_mcp },
		{ "sessions", bench_sessions },
		{ "get", bench_get },
		{ "getbig", bench_get_big },
		{ "memory", bench_memory },
		{ "idle", bench_idle },
		{ "wipe", bench_wipe },
		{ "unrecoverable", bench_unrecoverable },
		{ "actions", bench_actions },
		{ "named", bench_named },
	};
	size_t i, ran = 0;

	if (argc != 2 && argc != 3) {
		fprintf(stderr, "usage: bench BUILD_DIR [SECTION]\n");
		return 2;
	}
	setup(argv[1]);
	for (i = 0; i < sizeof sections / sizeof sections[0]; i++)
		if (argc == 2 || strcmp(argv[2], sections[i].name) == 0) {
			sections[i].fn();
			ran++;
		}
	if (ran == 0) {
		fprintf(stderr, "bench: no section %s\n", argv[2]);
		return 2;
	}
	printf("\n");
	print_machine();
	table_print();
	printf("%s", legend);
	return 0;
}
