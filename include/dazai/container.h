/* SPDX-License-Identifier: ISC */
#ifndef DAZAI_CONTAINER_H
#define DAZAI_CONTAINER_H

#include <stddef.h>

/*
 * The structure a member is embedded in, from the member's address: how
 * a libev callback (given its watcher) finds its owner.
 */
/* clang-format off */
#define container_of(p, type, member) \
	((type *)(void *)((char *)(p) - offsetof(type, member)))
/* clang-format on */

#endif
