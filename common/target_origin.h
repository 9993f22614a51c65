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
	bool any;               /* "*" */
	/* The spec itself when it is already an origin's serialization (see
	 * target_origin_is_canonical()): borrowed from the caller, no parse. */
	const char *canonical;
	Origin *origin;         /* otherwise: the origin the target must have */
} TargetOrigin;

/* Parses spec: "*" matches any origin, "/" means sender_origin (copied, so
 * an opaque sender stays same-origin with itself), anything else is parsed
 * as a URL with no base and its origin used.  A spec that is already the
 * serialization of a tuple origin is not parsed at all: it is its own
 * origin (ret->canonical borrows spec, which must outlive ret; spec must be
 * NUL-terminated at len).  Returns 0, -EINVAL (the SyntaxError case;
 * static reason in *ret_reason) or -ENOMEM. */
int target_origin_parse(TargetOrigin *ret, const char *spec, size_t len,
			const Origin *sender_origin, const char **ret_reason);

/* target_origin_parse() for a message to a window at expected (may be
 * NULL): a spec that is expected's serialization, byte for byte, is taken
 * as its own origin without a scan or a parse, whatever its host (IPv6,
 * IPv4, "xn--" labels), since an origin's serialization parses back to
 * that origin.  Anything else as target_origin_parse().  crosspostd's
 * common case: a sender naming the origin of the window it posts to. */
int target_origin_parse_expecting(TargetOrigin *ret, const char *spec, size_t len, const Origin *sender_origin,
				  const Origin *expected, const char **ret_reason);

/* The same without the shortcuts: what they must always agree with
 * (fuzz/fuzz_target_origin.c holds them to that). */
int target_origin_parse_full(TargetOrigin *ret, const char *spec, size_t len,
			     const Origin *sender_origin, const char **ret_reason);

/* True when spec (len bytes) is exactly what origin_serialization() writes
 * for a tuple origin, so that parsing it as a URL gives back an origin
 * that serializes to spec itself: "http", "https", "ws", "wss" or "ftp",
 * "://", a lowercase ASCII host of non-empty letter/digit/hyphen labels
 * (no "xn--" label, not ending in a number: those the URL parser would
 * check or rewrite) and a port without leading zeros that is not the
 * scheme's default.  Conservative: false sends a spec to the full parser. */
bool target_origin_is_canonical(const char *spec, size_t len);

void target_origin_deinit(TargetOrigin *target);

/* True when a message posted with target may be dispatched to a window whose
 * current origin is window_origin. */
bool target_origin_matches(const TargetOrigin *target, const Origin *window_origin);

/* "*" or the origin's serialization, for the Event header (borrowed). */
const char *target_origin_serialization(const TargetOrigin *target);

#endif
