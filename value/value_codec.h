/* SPDX-License-Identifier: MIT */
/* value_codec.h - cp_value to and from the protobuf Value wire bytes (proto/value.proto): value_encode.c, value_decode.c. */
#ifndef CP_VALUE_CODEC_H
#define CP_VALUE_CODEC_H

#include <stddef.h>
#include <stdint.h>

#include "crosspost.h"

/* Serializes value to the protobuf Value wire bytes; *ret_bytes malloc'd.
 * Errors: CP_ERR_DATA_CLONE (not serializable, message says what: a host
 * object, a MessagePort, a detached ArrayBuffer), CP_ERR_NO_MEMORY. */
int value_encode(const cp_value *value, uint8_t **ret_bytes, size_t *ret_len);

struct ValueTransfer;
/* value_encode() of a post's data with its transfer list (checked by
 * value_encode_transfer(), value/value_transfer.h): the list's ArrayBuffers and
 * ports are written as their index in it.  A port that is not in it, and
 * a detached buffer, fail with CP_ERR_DATA_CLONE (also without a list:
 * moved NULL). */
int value_encode_moving(const cp_value *value, const struct ValueTransfer *moved, uint8_t **ret_bytes,
		       size_t *ret_len);

/* Large ArrayBuffer bytes left out of an encoding, by reference
 * (value_encode_referencing()): each segment's len bytes at data belong at
 * offset `at` of the encoded bytes (before the byte that is there), in
 * order.  The wire form is the encoded bytes with each segment inserted;
 * `bytes` is the sum of the segments' lengths.  The data stay the
 * values', valid while the values are unchanged. */
#define VALUE_SEGMENTS_MAX 8
typedef struct ValueSegments {
	struct {
		size_t at;
		const uint8_t *data;
		size_t len;
	} seg[VALUE_SEGMENTS_MAX];
	size_t n;
	size_t bytes;
} ValueSegments;

/* value_encode_moving() that leaves the bytes of the first
 * VALUE_SEGMENTS_MAX ArrayBuffers of WIRE_BUFFER_ALIGN_MIN bytes or more
 * out of *ret_bytes, described in *ret_segments instead: for a caller that
 * writes them from where they are before the values can change. */
int value_encode_referencing(const cp_value *value, const struct ValueTransfer *moved,
			     uint8_t **ret_bytes, size_t *ret_len, ValueSegments *ret_segments);

/* Deserializes untrusted bytes.  Errors: CP_ERR_DATA (malformed: unknown
 * type, bad reference, corrupt, or a transferred object: those come only
 * with a frame, through value_decode_transfer()), CP_ERR_NO_MEMORY.
 * Memory used is bounded by a small multiple of len (docs/values.md gives
 * the figure). */
int value_decode(const uint8_t *bytes, size_t len, cp_value **ret);

#endif
