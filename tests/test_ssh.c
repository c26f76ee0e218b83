/* SPDX-License-Identifier: ISC */
/*
 * Heartbeats over OpenSSH's UNIX-socket forwarding, against a real sshd
 * that the test starts on a loopback port with a throwaway host key and
 * user key. sshd runs as root in a mount namespace of its own with a
 * private /run (for its privilege separation directory), so nothing of
 * the system's configuration is read or changed. Needs root.
 */
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <netinet/in.h>

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "helpers.h"

#define SSHD "/usr/sbin/sshd"

struct sshd {
	pid_t pid;
	int   port;
	char  dir[64];
	char  key[128]; /* the user's private key */
	char  log[128];
};

/* A loopback port nobody listens on now. */
static int
free_port(void)
{
	struct sockaddr_in sin;
	socklen_t	   len = sizeof sin;
	int		   fd, port;

	fd = socket(AF_INET, SOCK_STREAM, 0);
	ck_assert_int_ge(fd, 0);
	memset(&sin, 0, sizeof sin);
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	ck_assert_int_eq(bind(fd, (struct sockaddr *)&sin, sizeof sin), 0);
	ck_assert_int_eq(getsockname(fd, (struct sockaddr *)&sin, &len), 0);
	port = ntohs(sin.sin_port);
	close(fd);
	return port;
}

/* Run a shell command; its exit status or -1. */
static int
sh(const char *cmd)
{
	const char *argv[] = { "/bin/sh", "-c", cmd, NULL };
	char	    out[2048];
	int	    st = dz_run(argv, out, sizeof out, 30);

	if (st == -1 || !WIFEXITED(st) || WEXITSTATUS(st) != 0)
		fprintf(stderr, "%s: %s\n", cmd, out);
	return st != -1 && WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/* Can this test run here? false (and a skip recorded) if not. */
static bool
ssh_usable(const char *what)
{
	if (!dz_is_root()) {
		dz_skip("%s: sshd on loopback runs as root", what);
		return false;
	}
	if (access(SSHD, X_OK) != 0 || access("/usr/bin/ssh", X_OK) != 0) {
		dz_skip("%s: openssh-server or openssh-client is not "
			"installed",
		    what);
		return false;
	}
	return true;
}

/* Start sshd on a free loopback port; wait until it accepts. */
static void
sshd_start(struct sshd *s)
{
	char		   cmd[2048], conf[128];
	FILE		  *fp;
	int		   i, fd;
	struct sockaddr_in sin;

	dz_tmpdir(s->dir, sizeof s->dir);
	snprintf(s->key, sizeof s->key, "%s/userkey", s->dir);
	snprintf(s->log, sizeof s->log, "%s/sshd.log", s->dir);
	snprintf(conf, sizeof conf, "%s/sshd_config", s->dir);
	snprintf(cmd, sizeof cmd,
	    "cd %s && ssh-keygen -q -t ed25519 -N '' "
	    "-f hostkey && ssh-keygen -q -t ed25519 -N '' -f userkey && "
	    "cp userkey.pub authorized_keys",
	    s->dir);
	ck_assert_int_eq(sh(cmd), 0);
	s->port = free_port();
	fp = fopen(conf, "w");
	ck_assert_ptr_nonnull(fp);
	fprintf(fp,
	    "ListenAddress 127.0.0.1\nPort %d\nHostKey %s/hostkey\n"
	    "AuthorizedKeysFile %s/authorized_keys\n"
	    "PasswordAuthentication no\nKbdInteractiveAuthentication no\n"
	    "PermitRootLogin prohibit-password\nStrictModes no\n"
	    "UsePAM no\nPidFile none\nAllowStreamLocalForwarding yes\n"
	    "StreamLocalBindUnlink yes\nClientAliveInterval 0\n",
	    s->port, s->dir, s->dir);
	fclose(fp);
	snprintf(cmd, sizeof cmd,
	    "mount -t tmpfs tmpfs /run && "
	    "mkdir -m 755 /run/sshd && exec %s -D -e -f %s",
	    SSHD, conf);
	{
		const char *argv[] = { "/usr/bin/unshare", "--mount",
			"--propagation", "private", "/bin/sh", "-c", cmd,
			NULL };

		s->pid = dz_spawn(argv, s->log, -1);
	}
	memset(&sin, 0, sizeof sin);
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	sin.sin_port = htons((unsigned short)s->port);
	for (i = 0; i < 500; i++) {
		fd = socket(AF_INET, SOCK_STREAM, 0);
		if (connect(fd, (struct sockaddr *)&sin, sizeof sin) == 0) {
			close(fd);
			return;
		}
		close(fd);
		usleep(10000);
	}
	ck_abort_msg("sshd did not listen on port %d", s->port);
}

/* Stop sshd (by its pid) and reap it. */
static void
sshd_stop(struct sshd *s)
{
	int st;

	if (s->pid > 0) {
		kill(s->pid, SIGTERM);
		if (dz_waitpid(s->pid, &st, 5) != 0) {
			kill(s->pid, SIGKILL);
			dz_waitpid(s->pid, &st, 5);
		}
		s->pid = 0;
	}
}

/*
 * Start ssh to the test sshd with a forwarding option (-L or -R and its
 * argument) and, if cmd is not NULL, a remote command (else -N). Its
 * output goes to log.
 */
static pid_t
ssh_start(const struct sshd *s, const char *opt, const char *fwd,
    const char *cmd, const char *log)
{
	char	    port[16];
	const char *argv[32];
	int	    n = 0;

	snprintf(port, sizeof port, "%d", s->port);
	argv[n++] = "/usr/bin/ssh";
	argv[n++] = "-i";
	argv[n++] = s->key;
	argv[n++] = "-p";
	argv[n++] = port;
	argv[n++] = "-o";
	argv[n++] = "BatchMode=yes";
	argv[n++] = "-o";
	argv[n++] = "StrictHostKeyChecking=no";
	argv[n++] = "-o";
	argv[n++] = "UserKnownHostsFile=/dev/null";
	argv[n++] = "-o";
	argv[n++] = "ExitOnForwardFailure=yes";
	argv[n++] = "-o";
	argv[n++] = "StreamLocalBindUnlink=yes";
	argv[n++] = "-o";
	argv[n++] = "LogLevel=ERROR";
	argv[n++] = opt;
	argv[n++] = fwd;
	if (cmd == NULL)
		argv[n++] = "-N";
	argv[n++] = "root@127.0.0.1";
	if (cmd != NULL)
		argv[n++] = cmd;
	argv[n] = NULL;
	return dz_spawn(argv, log, -1);
}

/* Wait for a socket file to appear. */
static void
wait_socket(const char *path, double timeout)
{
	long long   end = dz_ms_now() + (long long)(timeout * 1000);
	struct stat st;

	while (stat(path, &st) != 0 || !S_ISSOCK(st.st_mode)) {
		ck_assert_msg(dz_ms_now() < end, "%s never appeared", path);
		usleep(10000);
	}
}

/* Reap a process we started, killing it first if it still runs. */
static void
reap(pid_t pid)
{
	int st;

	kill(pid, SIGKILL);
	dz_waitpid(pid, &st, 5);
}

/*
 * A daemon on the "server" guarded by a heartbeat on the "client" side
 * through `ssh -N -L local.sock:remote.sock`: killing the ssh process is
 * a lost heartbeat, and the armed daemon dies.
 */
START_TEST(ssh_local_forward)
{
	static const char *const args[] = { "--arm", NULL };
	struct sshd		 s;
	struct dz		 d;
	char	    dir[64], local[128], fwd[300], me[16], log[128];
	const char *hb[] = { dz_bin("dazai-heartbeat"), "--socket", local,
		"--interval", "1", "--watch-pid", me, NULL };
	pid_t	    ssh, client;

	if (!ssh_usable("ssh_local_forward"))
		return;
	sshd_start(&s);
	ck_assert_int_eq(dz_start(&d, args), 0);
	dz_tmpdir(dir, sizeof dir);
	snprintf(local, sizeof local, "%s/tunnel.sock", dir);
	snprintf(log, sizeof log, "%s/ssh.log", dir);
	snprintf(fwd, sizeof fwd, "%s:%s", local, d.sock);
	snprintf(me, sizeof me, "%d", (int)getpid());
	ssh = ssh_start(&s, "-L", fwd, NULL, log);
	wait_socket(local, 15);
	client = dz_spawn(hb, log, -1);
	ck_assert_msg(dz_log_wait(&d, "heartbeat connected", 15),
	    "no "
	    "heartbeat through the tunnel");
	usleep(1500000); /* a PING or two through the tunnel */
	ck_assert(dz_alive(&d));
	kill(ssh, SIGKILL);
	ck_assert_msg(dz_wait(&d, 15) == 0,
	    "the daemon outlived the SSH "
	    "connection");
	ck_assert(WIFSIGNALED(d.status) && WTERMSIG(d.status) == SIGKILL);
	ck_assert(dz_log_has(&d, "heartbeat lost"));
	reap(ssh);
	reap(client);
	sshd_stop(&s);
}
END_TEST

/*
 * A remote shell's heartbeat reaching a local daemon through `ssh -R
 * remote.sock:local.sock`: the SSH session ends, the daemon panics.
 */
START_TEST(ssh_remote_forward)
{
	static const char *const args[] = { "--arm", NULL };
	struct sshd		 s;
	struct dz		 d;
	char  dir[64], remote[128], fwd[300], cmd[600], log[128];
	pid_t ssh;

	if (!ssh_usable("ssh_remote_forward"))
		return;
	sshd_start(&s);
	ck_assert_int_eq(dz_start(&d, args), 0);
	dz_tmpdir(dir, sizeof dir);
	snprintf(remote, sizeof remote, "%s/remote.sock", dir);
	snprintf(log, sizeof log, "%s/ssh.log", dir);
	snprintf(fwd, sizeof fwd, "%s:%s", remote, d.sock);
	snprintf(cmd, sizeof cmd, "exec %s --socket %s --interval 1",
	    dz_bin("dazai-heartbeat"), remote);
	ssh = ssh_start(&s, "-R", fwd, cmd, log);
	ck_assert_msg(dz_log_wait(&d, "heartbeat connected", 15),
	    "no "
	    "heartbeat from the remote shell");
	usleep(1500000);
	ck_assert(dz_alive(&d));
	kill(ssh, SIGKILL);
	ck_assert_msg(dz_wait(&d, 15) == 0,
	    "the daemon outlived the SSH "
	    "session");
	ck_assert(WIFSIGNALED(d.status) && WTERMSIG(d.status) == SIGKILL);
	reap(ssh);
	sshd_stop(&s);
}
END_TEST

/*
 * A link that dies silently (the ssh process stopped: nothing closes,
 * nothing flows) is caught by --ping-timeout, within the timeout plus
 * one interval (measured and printed; the bound asserted is generous).
 */
START_TEST(ssh_silent_link)
{
	static const char *const args[] = { "--ping-timeout", "2", NULL };
	struct sshd		 s;
	struct dz		 d;
	char	    dir[64], local[128], fwd[300], me[16], log[128];
	const char *hb[] = { dz_bin("dazai-heartbeat"), "--socket", local,
		"--interval", "0.5", "--watch-pid", me, NULL };
	pid_t	    ssh, client;
	double	    t0;

	if (!ssh_usable("ssh_silent_link"))
		return;
	sshd_start(&s);
	ck_assert_int_eq(dz_start(&d, args), 0);
	dz_tmpdir(dir, sizeof dir);
	snprintf(local, sizeof local, "%s/tunnel.sock", dir);
	snprintf(log, sizeof log, "%s/ssh.log", dir);
	snprintf(fwd, sizeof fwd, "%s:%s", local, d.sock);
	snprintf(me, sizeof me, "%d", (int)getpid());
	ssh = ssh_start(&s, "-L", fwd, NULL, log);
	wait_socket(local, 15);
	client = dz_spawn(hb, log, -1);
	ck_assert(dz_log_wait(&d, "heartbeat connected", 15));
	usleep(3000000); /* longer than the timeout: PINGs flow */
	ck_assert_msg(!dz_log_has(&d, "heartbeat lost"),
	    "lost while the "
	    "link was alive");
	kill(ssh, SIGSTOP);
	t0 = dz_now();
	ck_assert_msg(dz_wait(&d, 15) == 0,
	    "a silent link was never "
	    "noticed");
	printf("ssh_silent_link: lost %.2fs after the link froze (ping "
	       "timeout 2s, interval 0.5s)\n",
	    dz_now() - t0);
	ck_assert(dz_log_has(&d, "no line within the ping timeout"));
	ck_assert(WIFEXITED(d.status) && WEXITSTATUS(d.status) == 0);
	kill(ssh, SIGCONT);
	reap(ssh);
	reap(client);
	sshd_stop(&s);
}
END_TEST

Suite *
ssh_suite(void)
{
	Suite *s = suite_create("ssh");
	TCase *tc = tcase_create("ssh");

	tcase_set_timeout(tc, 90);
	tcase_add_test(tc, ssh_local_forward);
	tcase_add_test(tc, ssh_remote_forward);
	tcase_add_test(tc, ssh_silent_link);
	suite_add_tcase(s, tc);
	return s;
}
