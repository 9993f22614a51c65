/* SPDX-License-Identifier: MIT */
/* worker.h - the pieces of a page's worker process (worker.c, worker_value.c). */
#ifndef CP_GATEWAY_WORKER_H
#define CP_GATEWAY_WORKER_H

#include <stdint.h>

#include <jansson.h>

#include "crosspost.h"

/* The page's port with that handle, or NULL when it has none (borrowed). */
typedef cp_port *(*WorkerPortResolve)(void *ctx, uint64_t handle);

/* A page's data to a value: data is tagged JSON (docs/values.md) in which
 * {"$port":HANDLE} names one of the page's MessagePorts (resolve finds
 * it).  data is changed (the port tags are replaced).  *ret belongs to the
 * caller.  Errors: CP_ERR_DATA_CLONE (a port that is not the page's, a
 * host object; *ret_error says which), CP_ERR_SYNTAX (not tagged JSON;
 * cp_last_error_message() says where), CP_ERR_NO_MEMORY. */
int worker_value_from_page(json_t *data, WorkerPortResolve resolve, void *ctx, cp_value **ret,
			   const char **ret_error);

#endif
