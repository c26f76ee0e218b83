/* SPDX-License-Identifier: ISC */
#ifndef DAZAI_EMERGENCY_H
#define DAZAI_EMERGENCY_H

#include <stdbool.h>

/*
 * What runs inside a signal handler: SIGUSR2, the fatal signals, the
 * fatal() hook and the SIGSYS callback (emergency_sigsys, given to the
 * sandbox) run the kill sequence with async-signal-safe calls only.
 *
 * This module holds the one "armed": emergency_install sets it from
 * --arm, emergency_arm (the ARM verb) for good; everyone else asks
 * emergency_armed. The policy's own flag (struct policy, pure and tested
 * without this module) is not a second fact but the same one handed down:
 * daemon_init gives policy_init emergency_armed(), and the ARM verb is the
 * one place that calls policy_arm, always together with emergency_arm.
 *
 * It also holds the one view of the socket: its path, then (confined)
 * its directory and name on a read-only page of its own, and how it may
 * be removed; emergency_remove_socket is the one removal, for the hard
 * paths and the clean exit alike.
 */

void	    emergency_install(bool);
void	    emergency_arm(void);
bool	    emergency_armed(void);
int	    emergency_sigsys(void);
void	    emergency_log_zeroed(const char *);
void	    emergency_set_socket(const char *);
void	    emergency_set_socket_dir(int);
const char *emergency_socket_name(void);
void	    emergency_socket_removal(bool, bool, const char *);
int	    emergency_remove_socket(const char **);
void	    emergency_set_notice(void (*)(const char *));

#endif
