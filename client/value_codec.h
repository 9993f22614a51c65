/* SPDX-License-Identifier: MIT */
/* value_codec.h - cp_value to and from the protobuf Value wire bytes (proto/value.proto): value_encode.c, value_decode.c. */
#ifndef CP_VALUE_CODEC_H
#define CP_VALUE_CODEC_H

#include <stddef.h>
#include <stdint.h>

#include "crosspost.h"

/* Serializes value to the protobuf Value wire bytes; *ret_bytes malloc'd.
 * Errors: CP_ERR_DATA_CLONE (not serializable, message says what),
 * CP_ERR_NO_MEMORY. */
int value_encode(const cp_value *value, uint8_t **ret_bytes, size_t *ret_len);

/* Deserializes untrusted bytes.  Errors: CP_ERR_DATA (malformed: unknown
 * type, bad reference, corrupt), CP_ERR_NO_MEMORY.  Memory used is bounded
 * by a small multiple of len (docs/values.md gives the figure). */
int value_decode(const uint8_t *bytes, size_t len, cp_value **ret);

#endif
