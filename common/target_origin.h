/* SPDX-License-Identifier: MIT */
/*
 * target_origin.h - postMessage's targetOrigin argument, parsed and matched
 * as the HTML Standard's window post message steps say.  The client library
 * parses it before sending (SyntaxError comes back synchronously) and the
 * broker parses it again and matches it at dispatch.
 */
#ifndef CP_TARGET_ORIGIN_H
#define CP_TARGET_ORIGIN_H

#include <stdbool.h>
#include <stddef.h>

#include "origin.h"

typedef struct TargetOrigin {
	bool any;          /* "*" */
	Origin *origin;    /* otherwise: the origin the target must have */
} TargetOrigin;

/* Parses spec: "*" matches any origin, "/" means sender_origin (copied, so
 * an opaque sender stays same-origin with itself), anything else is parsed
 * as a URL with no base and its origin used.  Returns 0, -EINVAL (the
 * SyntaxError case; static reason in *ret_reason) or -ENOMEM. */
int target_origin_parse(TargetOrigin *ret, const char *spec, size_t len,
			const Origin *sender_origin, const char **ret_reason);

void target_origin_deinit(TargetOrigin *target);

/* True when a message posted with target may be dispatched to a window whose
 * current origin is window_origin. */
bool target_origin_matches(const TargetOrigin *target, const Origin *window_origin);

/* "*" or the origin's serialization, for the Event header (borrowed). */
const char *target_origin_serialization(const TargetOrigin *target);

#endif
