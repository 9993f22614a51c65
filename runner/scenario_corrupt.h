/* SPDX-License-Identifier: MIT */
/* scenario_corrupt.h - corrupt payloads for `post-corrupt`: valid value encodings made undecodable on purpose. */
#ifndef CP_SCENARIO_CORRUPT_H
#define CP_SCENARIO_CORRUPT_H

#include <stddef.h>
#include <stdint.h>

/* How a payload is corrupted.  Each one makes value_decode() fail, so the
 * receiver gets a messageerror event (docs/scenarios.md, `post-corrupt`). */
enum scenario_corruption {
	SCENARIO_CORRUPT_TRUNCATED,      /* the last byte cut off: the last node is incomplete */
	SCENARIO_CORRUPT_UNKNOWN_TYPE,   /* the root node is of a kind the receiver does not know */
	SCENARIO_CORRUPT_BAD_REFERENCE,  /* the root refers to a node that does not exist */
	SCENARIO_CORRUPT_GARBAGE,        /* not protobuf at all: 0xff bytes, an endless varint */
	SCENARIO_CORRUPT_EMPTY,          /* no bytes: a value without nodes */
};

/* What `post-corrupt` corrupts when no DATA is given: a few nodes of
 * several kinds, so that every corruption has something to work on. */
#define SCENARIO_CORRUPT_DEFAULT_DATA "{\"corrupt\":[1,\"two\",{\"$bigint\":\"3\"}]}"

/* "truncated", "unknown-type", ... -> the kind; -EINVAL for anything else. */
int scenario_corruption_parse(const char *name, enum scenario_corruption *ret);
/* The kind's name, as scripts write it; static. */
const char *scenario_corruption_name(enum scenario_corruption kind);
/* The names, for error messages: "truncated, unknown-type, ...". */
#define SCENARIO_CORRUPTION_NAMES "truncated, unknown-type, bad-reference, garbage, empty"

/* Builds the corrupt payload from bytes, a valid value encoding (at least
 * one node, as value_encode() gives).  *ret is malloc'd (the caller frees
 * it; it may be empty but is never NULL on success).  Errors: -EINVAL
 * (bytes hold no node), -ENOMEM. */
int scenario_corrupt(const uint8_t *bytes, size_t len, enum scenario_corruption kind,
		     uint8_t **ret, size_t *ret_len);

#endif
