/* SPDX-License-Identifier: ISC */
/*
 * One runner for every suite; exits non-zero if any test failed.
 * CK_FORK=no runs in one process (for a debugger); CK_RUN_SUITE picks one.
 *
 * Tests that cannot run here record a skip (dz_skip); the closing line
 * counts them apart from the passes. Under CI (CI=true, as root with every
 * tool installed) a required check that was skipped fails the run.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "helpers.h"

/*
 * Count the tests that recorded skips in path (each test runs in a process
 * of its own, so a pid is a test), listing what was skipped.
 */
static void
count_skips(const char *path, int *required, int *na)
{
	char  line[600];
	int   pids[512], npids = 0, pid, i, off;
	FILE *fp;

	*required = *na = 0;
	if ((fp = fopen(path, "r")) == NULL)
		return;
	while (fgets(line, sizeof line, fp) != NULL) {
		off = 0;
		if (sscanf(line, "%*c %d %n", &pid, &off) != 1 || off == 0)
			continue;
		if (line[0] == 'R')
			printf("skipped (required): %s", line + off);
		for (i = 0; i < npids && pids[i] != pid; i++)
			;
		if (i < npids)
			continue;
		if (npids < (int)(sizeof pids / sizeof pids[0]))
			pids[npids++] = pid;
		if (line[0] == 'R')
			(*required)++;
		else
			(*na)++;
	}
	fclose(fp);
}

int
main(void)
{
	SRunner	   *sr;
	const char *ci = getenv("CI");
	char	    skiplog[] = "/tmp/dazai-skips.XXXXXX";
	int	    failed, total, required, na, fd;

	signal(SIGPIPE, SIG_IGN);
	if ((fd = mkstemp(skiplog)) < 0) {
		perror("mkstemp");
		return EXIT_FAILURE;
	}
	close(fd);
	setenv("DAZAI_SKIP_LOG", skiplog, 1);
	sr = srunner_create(proto_suite());
	srunner_add_suite(sr, policy_suite());
	srunner_add_suite(sr, config_suite());
	srunner_add_suite(sr, secmem_suite());
	srunner_add_suite(sr, cli_suite());
	srunner_add_suite(sr, daemon_suite());
	srunner_add_suite(sr, control_suite());
	srunner_add_suite(sr, signals_suite());
	srunner_add_suite(sr, heartbeat_suite());
	srunner_add_suite(sr, shell_suite());
	srunner_add_suite(sr, memory_suite());
	srunner_add_suite(sr, install_suite());
	srunner_add_suite(sr, hostile_suite());
	srunner_add_suite(sr, failclosed_suite());
	srunner_add_suite(sr, ssh_suite());
	srunner_add_suite(sr, client_suite());
	srunner_add_suite(sr, sessions_suite());
	srunner_add_suite(sr, sandbox_suite());
	srunner_add_suite(sr, warden_suite());
	srunner_add_suite(sr, mcp_suite());
	srunner_add_suite(sr, secrets_suite());
	srunner_add_suite(sr, sleep_suite());
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	total = srunner_ntests_run(sr);
	srunner_free(sr);
	count_skips(skiplog, &required, &na);
	unlink(skiplog);
	printf("tests: %d passed, %d failed, %d skipped\n",
	    total - failed - required - na, failed, required + na);
	if (required > 0 && ci != NULL && strcmp(ci, "true") == 0) {
		printf("CI: %d required check(s) skipped; CI runs as root "
		       "with every tool installed, so this is a failure\n",
		    required);
		return EXIT_FAILURE;
	}
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
