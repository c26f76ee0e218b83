/* SPDX-License-Identifier: ISC */
/*
 * One runner for every suite; exits non-zero if any test failed.
 * CK_FORK=no runs in one process (for a debugger); CK_RUN_SUITE picks one.
 */
#include <signal.h>
#include <stdlib.h>

#include "helpers.h"

int
main(void)
{
	SRunner	*sr;
	int	 failed;

	signal(SIGPIPE, SIG_IGN);
	sr = srunner_create(proto_suite());
	srunner_add_suite(sr, policy_suite());
	srunner_add_suite(sr, config_suite());
	srunner_add_suite(sr, secmem_suite());
	srunner_add_suite(sr, cli_suite());
	srunner_add_suite(sr, daemon_suite());
	srunner_add_suite(sr, signals_suite());
	srunner_add_suite(sr, heartbeat_suite());
	srunner_add_suite(sr, shell_suite());
	srunner_add_suite(sr, memory_suite());
	srunner_add_suite(sr, install_suite());
	srunner_add_suite(sr, hostile_suite());
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
