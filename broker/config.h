/* SPDX-License-Identifier: MIT */
/*
 * config.h - the broker's config file (`crosspostd --config FILE`): limits,
 * the socket file's mode and group, and the registration policy.  The
 * format is documented key by key in docs/security.md ("Policy") and shown
 * in docs/crosspost.conf.example.  Read by broker/main.c at start and on
 * SIGHUP; the broker's core only ever sees the result.
 *
 * Any error refuses the whole file, with FILE:LINE: an unknown section or
 * key, a key given twice, a value that does not parse, a user or group
 * that does not exist.  Nothing is skipped or changed silently.
 */
#ifndef CP_CONFIG_H
#define CP_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "access.h"
#include "cleanup.h"
#include "limits.h"

/* The socket file's mode when no [socket] mode is given: the broker's
 * own uid alone may connect. */
#define CONFIG_SOCKET_MODE_DEFAULT 0600

typedef struct BrokerConfig {
	BrokerLimits limits;       /* the defaults, with [limits] applied */
	mode_t socket_mode;        /* [socket] mode */
	bool socket_group_set;     /* [socket] group given: the socket file's group */
	gid_t socket_group;
	AccessPolicy *policy;      /* owned; the sections, in file order */
} BrokerConfig;

/* The configuration without a file: default limits, socket 0600, and a
 * policy with no sections (broker_uid may do everything, others nothing).
 * Returns 0 or -ENOMEM. */
int config_new_default(BrokerConfig **ret, uid_t broker_uid);

/* Reads path.  Returns 0 with *ret (caller frees), or a negative errno with
 * a message in error ("FILE:LINE: what is wrong", or "cannot read FILE:
 * reason"): -EINVAL for a file that is not valid, -ENOMEM, or why the file
 * could not be read. */
int config_load(BrokerConfig **ret, const char *path, uid_t broker_uid, char *error, size_t error_size);

BrokerConfig *config_free(BrokerConfig *config);
DEFINE_CLEANUP(BrokerConfig *, config_free)

#endif
