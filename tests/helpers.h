/* SPDX-License-Identifier: ISC */
#ifndef DAZAI_TEST_HELPERS_H
#define DAZAI_TEST_HELPERS_H

#include <sys/types.h>

#include <stdbool.h>
#include <stddef.h>

#include <check.h>

/*
 * Shared test helpers: start the real build/dazaid, talk to it, wait for
 * it. Every process a test starts is killed by pid (and by
 * PR_SET_PDEATHSIG should the test process die first); every temporary
 * directory is removed at exit.
 */

struct dz {
	pid_t pid;	 /* the daemon, or 0 once reaped */
	int   status;	 /* waitpid status once reaped */
	char  dir[64];	 /* private temporary directory */
	char  sock[128]; /* dir/run/dazai.sock */
	char  log[128];	 /* dir/dazaid.log: the daemon's stderr */
};

const char *dz_bin(const char *);
bool	    dz_which(const char *, char *, size_t);
char	   *dz_read_file(const char *, char *, size_t);
char	   *dz_tmpdir(char *, size_t);
void	    dz_init(struct dz *, const char *);
int	    dz_start(struct dz *, const char *const *);
int	    dz_start_at(struct dz *, const char *, const char *const *);
pid_t	    dz_spawn(const char *const *, const char *, int);
int	    dz_wait(struct dz *, double);
int	    dz_waitpid(pid_t, int *, double);
bool	    dz_alive(struct dz *);
void	    dz_stop(struct dz *);
int	    dz_connect(const char *);
bool	    dz_send(int, const char *);
void	    dz_send_bytes(int, const void *, size_t);
bool	    dz_read_exact(int, void *, size_t, double);
pid_t	    dz_sleeper(void);
char	   *dz_readline(int, char *, size_t, double);
bool	    dz_eof(int, double);
int	    dz_hello(const char *);
bool	    dz_log_has(const struct dz *, const char *);
bool	    dz_log_wait(const struct dz *, const char *, double);
int	    dz_log_count(const struct dz *, const char *);
int	    dz_run(const char *const *, char *, size_t, double);
void	    dz_write_file(const char *, const void *, size_t);
bool	    dz_is_root(void);
bool	    dz_is_asan_build(const char *);
double	    dz_now(void);
void	    dz_skip(const char *, ...) __attribute__((format(printf, 1, 2)));
void	    dz_skip_na(const char *, ...) __attribute__((format(printf, 1, 2)));
long long   dz_ms_now(void);
int	    dz_ctl(const struct dz *);
const char *dz_req(int, const char *);
void	    dz_load(int, const void *, size_t);
void	    dz_get_expect(int, const void *, size_t);
const char *dz_field(const char *, const char *);
const char *dz_status(const struct dz *);
bool dz_status_wait(const struct dz *, const char *, const char *, double);
bool dz_child_running(pid_t, int *);
const char *dz_reg(const struct dz *, long);
int	    dz_mem_hits(pid_t, const void *, size_t);

/*
 * A test (or the part of it) that cannot run here says so with dz_skip:
 * "SKIP: ..." on stdout and a line in $DAZAI_SKIP_LOG, which the runner
 * counts as skipped, never as passed; under CI (CI=true) a skip fails the
 * run. dz_skip_na is for what does not apply to this build or kernel (a
 * memory scan of an AddressSanitizer build, which make check runs on the
 * normal build; a kernel without memfd_secret): counted, not failing CI.
 */

/* Assert a reply line. */
#define dz_expect(fd, want) \
	do { \
		char	    dz_buf_[512]; \
		const char *dz_got_ = \
		    dz_readline((fd), dz_buf_, sizeof dz_buf_, 5.0); \
		ck_assert_msg(dz_got_ != NULL, "no reply, expected %s", \
		    (want)); \
		ck_assert_str_eq(dz_got_, (want)); \
	} while (0)

Suite *proto_suite(void);
Suite *policy_suite(void);
Suite *secmem_suite(void);
Suite *config_suite(void);
Suite *daemon_suite(void);
Suite *signals_suite(void);
Suite *heartbeat_suite(void);
Suite *shell_suite(void);
Suite *cli_suite(void);
Suite *memory_suite(void);
Suite *install_suite(void);
Suite *hostile_suite(void);
Suite *failclosed_suite(void);
Suite *ssh_suite(void);
Suite *sessions_suite(void);
Suite *control_suite(void);
Suite *client_suite(void);
Suite *sandbox_suite(void);
Suite *warden_suite(void);
Suite *mcp_suite(void);
Suite *secrets_suite(void);
Suite *sleep_suite(void);

#endif
