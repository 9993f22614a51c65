/* SPDX-License-Identifier: MIT */
/* value_wire.h - the protobuf wire encoding of proto/value.proto: varints and field tags, for the codec. */
#ifndef CP_VALUE_WIRE_H
#define CP_VALUE_WIRE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Wire types (protobuf encoding). */
enum {
	WIRE_VARINT = 0,
	WIRE_FIXED64 = 1,
	WIRE_LEN = 2,
	WIRE_FIXED32 = 5,
};

#define WIRE_TAG(field, type) (((uint32_t)(field) << 3) | (type))
/* Value.nodes: field 1, length-delimited. */
#define WIRE_TAG_NODES WIRE_TAG(1, WIRE_LEN)
/* Value.alignment: zero bytes that align the next node's ArrayBuffer bytes. */
#define WIRE_TAG_ALIGNMENT WIRE_TAG(2, WIRE_LEN)
/* ArrayBuffer bytes of at least this many start at a multiple of
 * WIRE_BUFFER_ALIGN from the start of the Value (value_encode.c), and a
 * decoder reading into memory aligned so may keep them where they lie
 * (value_decode.c). */
#define WIRE_BUFFER_ALIGN_MIN (16u * 1024u)
#define WIRE_BUFFER_ALIGN 16u
/* The longest varint (64 bits). */
#define WIRE_VARINT_MAX 10

/* Node's kinds: its oneof's field numbers (proto/value.proto). */
enum {
	NODE_CONSTANT = 1, NODE_BOOLEAN = 2, NODE_NUMBER = 3, NODE_INTEGER = 4, NODE_STRING = 5,
	NODE_BIGINT = 6, NODE_OBJECT = 7, NODE_ARRAY = 8, NODE_MAP = 9, NODE_SET = 10,
	NODE_DATE = 11, NODE_REGEXP = 12, NODE_ARRAY_BUFFER = 13, NODE_VIEW = 14, NODE_ERROR = 15,
	NODE_BOOLEAN_OBJECT = 16, NODE_NUMBER_OBJECT = 17, NODE_BIGINT_OBJECT = 18,
	NODE_STRING_OBJECT = 19,
	/* Moved with the message: an index into the frame's transfer lists. */
	NODE_PORT = 20, NODE_TRANSFERRED_ARRAY_BUFFER = 21,
	NODE_KIND_MAX = 21,
};

static inline size_t wire_varint_size(uint64_t v)
{
	size_t n = 1;

	while (v >= 0x80) {
		v >>= 7;
		n++;
	}
	return n;
}

static inline size_t wire_varint_put(uint8_t *p, uint64_t v)
{
	size_t n = 0;

	while (v >= 0x80) {
		p[n++] = (uint8_t)(v | 0x80);
		v >>= 7;
	}
	p[n++] = (uint8_t)v;
	return n;
}

/* Reads a varint of at most 10 bytes at p[*pos]; false when it runs past
 * len or is longer (bits past 64 are dropped, as protobuf does). */
static inline bool wire_varint_get(const uint8_t *p, size_t len, size_t *pos, uint64_t *ret)
{
	uint64_t v = 0;

	for (unsigned shift = 0; shift < 64 && *pos < len; shift += 7) {
		uint8_t b = p[(*pos)++];

		v |= (uint64_t)(b & 0x7f) << shift;
		if (!(b & 0x80)) {
			*ret = v;
			return true;
		}
	}
	return false;
}

static inline uint64_t wire_zigzag(int64_t v)
{
	return ((uint64_t)v << 1) ^ (uint64_t)(v >> 63);
}

static inline int64_t wire_unzigzag(uint64_t v)
{
	return (int64_t)(v >> 1) ^ -(int64_t)(v & 1);
}

#endif
