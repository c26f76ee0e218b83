/* SPDX-License-Identifier: ISC */
/*
 * dazaid: hold one secret while a heartbeat stays connected; wipe it and
 * die when the heartbeat is lost or a panic signal arrives.
 */
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sodium.h>

#include "dazai/config.h"
#include "dazai/daemon.h"
#include "dazai/emergency.h"
#include "dazai/log.h"
#include "dazai/sandbox.h"
#include "dazai/secmem.h"
#include "dazai/sockpath.h"
#include "dazai/warden.h"

#define HEARTBEAT_INTERVAL 5 /* dazai-heartbeat's default, s */

#ifndef DAZAI_VERSION
#define DAZAI_VERSION "0.1.0"
#endif

/*
 * Harden the process before any secret exists: no core file (it would
 * carry the secret to disk), not dumpable (no ptrace attach or
 * /proc/PID/mem by other processes of our uid), and as much lockable
 * memory as the hard limit allows.
 */
static void
harden(void)
{
	struct rlimit rl = { 0, 0 };

	if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) != 0)
		log_warn("prctl(PR_SET_DUMPABLE)");
	if (setrlimit(RLIMIT_CORE, &rl) != 0)
		log_warn("setrlimit(RLIMIT_CORE)");
	if (getrlimit(RLIMIT_MEMLOCK, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		if (setrlimit(RLIMIT_MEMLOCK, &rl) != 0)
			log_warn("setrlimit(RLIMIT_MEMLOCK)");
	}
}

/*
 * Give descriptors 0, 1 and 2 something to point at: were one closed, the
 * first connection accepted would take its number and log lines (fd 2)
 * would go to a client. Returns a mask of those that were closed.
 */
static unsigned
open_std_fds(void)
{
	unsigned closed = 0;
	int	 fd;

	for (fd = 0; fd <= 2; fd++) {
		if (fcntl(fd, F_GETFD) >= 0)
			continue;
		closed |= 1u << fd;
		if (open("/dev/null", O_RDWR | O_NOCTTY) != fd)
			_exit(1);
	}
	return closed;
}

/* Check that an inherited descriptor was open and takes no other role. */
static void
check_fd(const char *what, int fd, unsigned closed)
{
	if (fd == CONFIG_UNSET)
		return;
	if ((fd <= 2 && (closed & (1u << fd))) || fcntl(fd, F_GETFD) < 0)
		fatalx(2, "%s %d: not an open descriptor", what, fd);
	if (fd == STDERR_FILENO)
		fatalx(2,
		    "%s 2: descriptor 2 is standard error, where dazaid "
		    "logs; pass another descriptor",
		    what);
}

/*
 * A ping timeout under twice the heartbeat's default interval loses a
 * default client to one late PING (at or under the interval itself, to
 * none at all): say so, and how to fix it.
 */
static void
warn_ping_timeout(double ping_timeout)
{
	if (ping_timeout <= 0 || ping_timeout >= 2 * HEARTBEAT_INTERVAL)
		return;
	log_warnx("WARNING: ping timeout %gs is under twice the heartbeat's "
		  "default interval (%ds): a default client is lost %s; start "
		  "clients with --interval %g or less (DAZAI_INTERVAL for "
		  "shellrc.sh), or raise --ping-timeout to %ds",
	    ping_timeout, HEARTBEAT_INTERVAL,
	    ping_timeout <= HEARTBEAT_INTERVAL ? "between two PINGs" :
						 "to one late PING",
	    ping_timeout / 2, 2 * HEARTBEAT_INTERVAL);
}

/* Where to tell systemd (Type=notify) that we are ready. */
struct notify {
	int		   fd;
	struct sockaddr_un sun;
	socklen_t	   len;
};

/*
 * Open the NOTIFY_SOCKET datagram socket now, before confinement forbids
 * creating sockets; fd stays -1 without NOTIFY_SOCKET.
 */
static void
notify_open(struct notify *nt)
{
	const char *ns = getenv("NOTIFY_SOCKET");
	size_t	    n;

	nt->fd = -1;
	if (ns == NULL || (ns[0] != '/' && ns[0] != '@') ||
	    (n = strlen(ns)) >= sizeof nt->sun.sun_path)
		return;
	memset(&nt->sun, 0, sizeof nt->sun);
	nt->sun.sun_family = AF_UNIX;
	memcpy(nt->sun.sun_path, ns, n);
	if (ns[0] == '@')
		nt->sun.sun_path[0] = '\0';
	nt->len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n);
	if ((nt->fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0)) < 0)
		log_warn("NOTIFY_SOCKET");
}

/* Announce readiness: --ready-fd and NOTIFY_SOCKET. */
static void
announce_ready(int ready_fd, struct notify *nt)
{
	ssize_t n;

	if (ready_fd != CONFIG_UNSET) {
		do
			n = write(ready_fd, "\n", 1);
		while (n < 0 && errno == EINTR);
		if (n != 1)
			log_warn("--ready-fd %d", ready_fd);
		close(ready_fd);
	}
	if (nt->fd >= 0) {
		if (sendto(nt->fd, "READY=1", 7, MSG_NOSIGNAL,
			(struct sockaddr *)&nt->sun, nt->len) < 0)
			log_warn("NOTIFY_SOCKET %s", getenv("NOTIFY_SOCKET"));
		close(nt->fd);
		nt->fd = -1;
	}
}

/*
 * Confine the daemon now that it listens and holds the secret, after
 * preparing what the loop and the exit paths will need (the socket's
 * directory and name for the unlink at exit). The socket's removal is
 * granted only where the kernel can hold it to the socket: Landlock in
 * effect and, at this moment, nothing else in the socket's directory;
 * else the socket is left at exit for the next start to replace.
 * Returns 0, or -1 after saying loudly why: the caller wipes and exits
 * rather than hold the secret unconfined.
 */
static int
confine(const struct config *cfg, struct sandbox *sb)
{
	char	    err[256], desc[256];
	const char *why;
	int	    dirfd, alone;

	if ((dirfd = sockpath_open_dir(cfg->socket)) < 0) {
		log_warn("cannot confine the daemon: %s: directory",
		    cfg->socket);
		return -1;
	}
	alone = sockpath_dir_alone(cfg->socket);
	emergency_set_socket_dir(dirfd);
	sandbox_init(sb, SANDBOX_DAZAID, "dazaid", emergency_armed,
	    emergency_sigsys, dirfd,
	    alone == 1 ? emergency_socket_name() : NULL);
	if (sandbox_confine(sb, err, sizeof err) != 0) {
		log_warnx("cannot confine the daemon: %s; refusing to hold "
			  "the secret unconfined (--no-sandbox runs without "
			  "confinement)",
		    err);
		return -1;
	}
	if (alone == 0)
		why = "its directory holds other entries, which Landlock "
		      "could not keep from it";
	else if (alone < 0)
		why = "its directory could not be read";
	else
		why = "without Landlock the kernel cannot hold a removal to "
		      "the socket";
	emergency_socket_removal(!(sb->layers & SANDBOX_SECCOMP), sb->unlink_ok,
	    why);
	if ((sb->layers & SANDBOX_SECCOMP) && !sb->unlink_ok)
		log_debug("sandbox: %s will be left at exit for the next "
			  "start to replace: %s",
		    cfg->socket, why);
	if (!(sb->layers & SANDBOX_LANDLOCK))
		log_warnx("sandbox: %s",
		    sandbox_describe(sb, desc, sizeof desc));
	else
		log_debug("sandbox: %s",
		    sandbox_describe(sb, desc, sizeof desc));
	return 0;
}

/* What start-up keeps between the steps that may run in the loop. */
struct start {
	struct config *cfg;
	struct daemon *d;
	struct secmem *sm;
	struct sandbox sb;
	struct notify  nt;
	int	       status; /* a failure's exit status, or 0 */
};

static int go_live(struct start *);

/*
 * The start-up source, read under the loop, ended (vault_source_done;
 * the vault said how): go live, or stop the loop with the exit status.
 */
static void
secret_read(void *arg, enum vault_source_end end, int err)
{
	struct start *st = arg;

	(void)err;
	st->status = end == VAULT_SOURCE_LOADED ? go_live(st) : 2;
	if (st->status != 0)
		daemon_stop(st->d);
}

/*
 * Allocate the secure buffer and load the secret: at once from a regular
 * file, the rehearsal secret or none, then go live; from a pipe or a
 * terminal under the loop (secret_read goes live). Returns 0 or the exit
 * status.
 */
static int
load_secret(struct start *st)
{
	const struct config *cfg = st->cfg;
	struct secmem	    *sm = st->sm;
	struct vault_start   vs;
	int		     fd = -1;

	if (cfg->secret_file != NULL &&
	    (fd = vault_open_file(cfg->secret_file, (size_t)cfg->secret_max)) <
		0)
		return 2;
	/* Address space for the largest secret, whatever the start-up one
	 * (a LOAD may replace it with up to secret_max); pages as it
	 * arrives. */
	if (secmem_alloc(sm, (size_t)cfg->secret_max, !cfg->no_secretmem) !=
	    0) {
		log_warn("cannot allocate the secure buffer");
		if (fd >= 0)
			close(fd);
		return 1;
	}
	/* Every page a LOAD grows into must lock too, or the LOAD fails. */
	sm->lock_required = cfg->require_lock == 1;
	memset(&vs, 0, sizeof vs);
	vs.fd = fd;
	vs.src = cfg->secret_file;
	if (cfg->secret_fd != CONFIG_UNSET) {
		vs.fd = cfg->secret_fd;
		vs.src = "secret descriptor";
	}
	vs.rehearsal = cfg->empty == 1 ? 0 : (size_t)cfg->secret_size;
	switch (daemon_load_secret(st->d, sm, &vs, secret_read, st)) {
	case VAULT_START_READY:
		return go_live(st);
	case VAULT_START_READING:
		return 0;
	case VAULT_START_REFUSED:
		return 2;
	case VAULT_START_FAILED:
		break;
	}
	return 1;
}


/*
 * The secret is in place: check that it is locked as required, confine
 * the daemon, announce readiness and start serving. Returns 0 or the
 * exit status.
 */
static int
go_live(struct start *st)
{
	const struct config *cfg = st->cfg;
	char		     prot[160], pt[32];

	if (daemon_stopping(st->d))
		return 0;
	if (!(st->sm->prot & SECMEM_LOCKED)) {
		errno = st->sm->lock_errno;
		if (cfg->require_lock == 1) {
			log_warn("cannot lock the secret in memory and "
				 "--require-lock is set");
			return 1;
		}
		log_warn("WARNING: the secret is NOT locked in memory and may "
			 "be swapped to disk; raise the limit (ulimit -l, "
			 "LimitMEMLOCK= in the unit) or grant CAP_IPC_LOCK");
	}
	secmem_describe(st->sm->prot, prot, sizeof prot);
	log_debug("memory protections: %s%s", prot,
	    prctl(PR_GET_DUMPABLE, 0, 0, 0, 0) == 0 ? " nondumpable" : "");
	if (st->sm->prot & SECMEM_SECRETMEM)
		log_debug(
		    "hibernation is blocked while dazaid runs: the "
		    "kernel refuses to hibernate while a memfd_secret region "
		    "exists; --no-secretmem restores it, at the price of the "
		    "secret's pages (with shielding: the ciphertext and the "
		    "prekey both) in the hibernation image");
	notify_open(&st->nt);
	if (cfg->no_sandbox == 1)
		log_warnx(
		    "WARNING: --no-sandbox: the daemon runs UNCONFINED "
		    "(no seccomp, no Landlock, no no_new_privs); a compromised "
		    "daemon can do anything our uid can");
	else if (confine(cfg, &st->sb) != 0)
		return 1;
	if (cfg->ping_timeout > 0)
		snprintf(pt, sizeof pt, "%gs", cfg->ping_timeout);
	else
		snprintf(pt, sizeof pt, "off");
	if (cfg->sessions > 1)
		snprintf(prot, sizeof prot, ", up to %lld heartbeats",
		    cfg->sessions);
	else
		prot[0] = '\0';
	log_info("listening on %s (%s, grace %gs, ping timeout %s%s)",
	    cfg->socket, cfg->arm == 1 ? "ARMED" : "dry-run", cfg->grace, pt,
	    prot);
	announce_ready(cfg->ready_fd, &st->nt);
	daemon_serve(st->d);
	return 0;
}

int
main(int argc, char **argv)
{
	struct config	     cfg, file, cli;
	struct daemon	     d;
	struct daemon_limits lim;
	struct secmem	     sm;
	struct start	     st;
	struct warden	     w;
	struct warden_config wc;
	char		     conf_buf[PATH_MAX], sock_buf[PATH_MAX];
	char		     err[SOCKPATH_ERRLEN];
	char		    *config_path = NULL;
	const char	    *config_used;
	int		     check_config = 0, listen_fd, status, is_default;
	unsigned	     closed;

	closed = open_std_fds();
	log_init("dazaid", 0);
	log_nonblocking();
	memset(&sm, 0, sizeof sm);
	config_init_unset(&cli);
	config_init_unset(&file);
	switch (config_parse_args(argc, argv, &cli, &config_path, &check_config,
	    err, sizeof err)) {
	case CONFIG_ARGS_HELP:
		fputs(config_usage(), stdout);
		return 0;
	case CONFIG_ARGS_VERSION:
		printf("dazaid %s\n", DAZAI_VERSION);
		return 0;
	case CONFIG_ARGS_ERROR:
		fatalx(2, "%s", err);
	case CONFIG_ARGS_RUN:
		break;
	}
	if (config_load_layer(&file, config_path, conf_buf, sizeof conf_buf,
		&config_used, err, sizeof err) != 0)
		fatalx(2, "%s", err);
	config_init_defaults(&cfg);
	config_merge(&cfg, &file);
	config_merge(&cfg, &cli);
	config_free(&file);
	config_free(&cli);
	if (config_validate(&cfg, err, sizeof err) != 0)
		fatalx(2, "%s", err);
	is_default = cfg.socket == NULL;
	if (is_default) {
		if (sockpath_default(sock_buf, sizeof sock_buf, err,
			sizeof err) != 0)
			fatalx(2, "%s", err);
		cfg.socket = strdup(sock_buf);
		if (cfg.socket == NULL)
			fatal(1, "strdup");
	}
	if (sockpath_check_length(cfg.socket, err, sizeof err) != 0)
		fatalx(2, "%s", err);
	log_set_verbose(cfg.verbose == 1);
	check_fd("--ready-fd", cfg.ready_fd, closed);
	check_fd("--secret-fd", cfg.secret_fd, closed);
	if (cfg.ready_fd != CONFIG_UNSET && cfg.ready_fd == cfg.secret_fd)
		fatalx(2, "--ready-fd and --secret-fd: both are descriptor %d",
		    cfg.ready_fd);
	warn_ping_timeout(cfg.ping_timeout);
	if (check_config) {
		if (cfg.secret_file != NULL &&
		    vault_check_file(cfg.secret_file) != 0) {
			config_free(&cfg);
			return 2;
		}
		config_print(&cfg, config_used, STDOUT_FILENO);
		config_free(&cfg);
		return 0;
	}

	harden();
	if (sodium_init() < 0)
		fatalx(1, "libsodium failed to initialise");
	emergency_install(cfg.arm == 1);
	if (daemon_init(&d, cfg.grace, cfg.ping_timeout) != 0)
		fatal(1, "cannot create the event loop or its timers");
	lim.secret_max = (size_t)cfg.secret_max;
	lim.allow_get = cfg.allow_get == 1;
	lim.max_lifetime = cfg.max_lifetime;
	lim.idle_timeout = cfg.idle_timeout;
	lim.max_reads = (unsigned long)cfg.max_reads;
	lim.sessions = (int)cfg.sessions;
	lim.secrets_max = (int)cfg.secrets_max;
	daemon_set_limits(&d, &lim);

	if (sockpath_prepare_dir(cfg.socket, is_default, err, sizeof err) != 0)
		fatalx(1, "%s", err);
	if ((listen_fd = sockpath_listen(cfg.socket, err, sizeof err)) < 0)
		fatalx(1, "%s", err);
	/* The warden: now that we are the one daemon on this socket, and
	 * before any secret byte or secure mapping exists (see warden.h). */
	wc.on_panic = (const char *const *)cfg.on_panic.cmd;
	wc.n_panic = cfg.on_panic.n;
	wc.on_wipe = (const char *const *)cfg.on_wipe.cmd;
	wc.n_wipe = cfg.on_wipe.n;
	wc.timeout = cfg.action_timeout;
	wc.socket = cfg.socket;
	wc.armed = cfg.arm == 1;
	wc.verbose = cfg.verbose == 1;
	wc.on_sleep = cfg.on_sleep;
	if (warden_start(&w, &wc) != 0)
		fatal(1, "cannot start the warden");
	daemon_set_warden(&d, &w);
	emergency_set_notice(warden_panic_signal);
	emergency_set_socket(cfg.socket);
	daemon_set_listener(&d, listen_fd, cfg.socket);
	memset(&st, 0, sizeof st);
	st.cfg = &cfg;
	st.d = &d;
	st.sm = &sm;
	if ((status = load_secret(&st)) == 0 && daemon_run(&d) != 0)
		status = 1;
	if (status == 0)
		status = st.status;
	if (status != 0) {
		warden_shutdown(&w);
		if (status == 1 && st.sm->shield.map != NULL)
			log_info("secret wiped; exiting");
		secmem_free(&sm);
		close(listen_fd);
		unlink(cfg.socket);
		config_free(&cfg);
		return status;
	}
	daemon_finish(&d);
	config_free(&cfg);
	return 0;
}
