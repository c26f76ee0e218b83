/* SPDX-License-Identifier: ISC */
#ifndef DAZAI_MCPTOOL_H
#define DAZAI_MCPTOOL_H

#include <stdbool.h>
#include <stddef.h>

#include "dazai/mcp.h"

/*
 * dazai mcp's command tools: the [tool NAME] sections of dazai.conf, and
 * one call of such a tool against the daemon.
 */

struct mcptool_set {
	struct mcp_cmdtool t[MCP_CMDTOOLS_MAX];
	size_t		   n;
};

int  mcptool_load(struct mcptool_set *, const char *, bool, char *, size_t);
void mcptool_free(struct mcptool_set *);
void mcptool_run(const char *, bool, struct mcp_cmdtool *, struct mcp_run *,
    void (*)(void *), void *);

#endif
