/* SPDX-License-Identifier: MIT */
/* scenario_corrupt.c - corrupt payloads for `post-corrupt`: valid value encodings made undecodable on purpose. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "scenario_corrupt.h"

/* The wire format (proto/value.proto): the payload is a run of Value.nodes
 * fields, each `0x0a LENGTH Node`; nodes[0] is the root.  The kinds below
 * rewrite that run by hand, so that they do not depend on what the encoder
 * would accept to produce. */
#define TAG_NODES 0x0a
/* A Node field number kept for later kinds (value.proto: 20-29): today's
 * receivers know no such kind. */
#define FIELD_RESERVED_KIND 25u
/* Node.array (field 8, length-delimited); Array.length (field 1, varint)
 * and Array.elements (field 2, packed). */
#define TAG_NODE_ARRAY 0x42
#define TAG_ARRAY_LENGTH 0x08
#define TAG_ARRAY_ELEMENTS 0x12
#define VARINT_MAX 10

static const char *const names[] = {
	[SCENARIO_CORRUPT_TRUNCATED] = "truncated",
	[SCENARIO_CORRUPT_UNKNOWN_TYPE] = "unknown-type",
	[SCENARIO_CORRUPT_BAD_REFERENCE] = "bad-reference",
	[SCENARIO_CORRUPT_GARBAGE] = "garbage",
	[SCENARIO_CORRUPT_EMPTY] = "empty",
};

int scenario_corruption_parse(const char *name, enum scenario_corruption *ret)
{
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		if (strcmp(name, names[i]) == 0) {
			*ret = (enum scenario_corruption)i;
			return 0;
		}
	}
	return -EINVAL;
}

const char *scenario_corruption_name(enum scenario_corruption kind)
{
	return (size_t)kind < sizeof(names) / sizeof(names[0]) ? names[kind] : "?";
}

static size_t varint_put(uint8_t *p, uint64_t v)
{
	size_t n = 0;

	while (v >= 0x80) {
		p[n++] = (uint8_t)(v | 0x80);
		v >>= 7;
	}
	p[n++] = (uint8_t)v;
	return n;
}

static int varint_get(const uint8_t *p, size_t len, size_t *pos, uint64_t *ret)
{
	uint64_t v = 0;

	for (unsigned shift = 0; shift < 64 && *pos < len; shift += 7) {
		uint8_t b = p[(*pos)++];

		v |= (uint64_t)(b & 0x7f) << shift;
		if (!(b & 0x80)) {
			*ret = v;
			return 0;
		}
	}
	return -EINVAL;
}

/* Counts the nodes of a valid encoding and finds where the root's field
 * ends (the other nodes follow it).  -EINVAL when it holds no node. */
static int scan_nodes(const uint8_t *bytes, size_t len, size_t *ret_count, size_t *ret_root_end)
{
	size_t pos = 0, count = 0;

	while (pos < len) {
		uint64_t length;

		if (bytes[pos++] != TAG_NODES || varint_get(bytes, len, &pos, &length) < 0 ||
		    length > len - pos)
			return -EINVAL;
		pos += length;
		if (count++ == 0)
			*ret_root_end = pos;
	}
	if (count == 0)
		return -EINVAL;
	*ret_count = count;
	return 0;
}

/* The encoding with its root node replaced by the Node message `node`. */
static int replace_root(const uint8_t *bytes, size_t len, size_t root_end, const uint8_t *node,
			size_t node_len, uint8_t **ret, size_t *ret_len)
{
	size_t rest = len - root_end, n = 0;
	uint8_t *out = malloc(1 + VARINT_MAX + node_len + rest);

	if (!out)
		return -ENOMEM;
	out[n++] = TAG_NODES;
	n += varint_put(out + n, node_len);
	memcpy(out + n, node, node_len);
	n += node_len;
	if (rest)
		memcpy(out + n, bytes + root_end, rest);
	*ret = out;
	*ret_len = n + rest;
	return 0;
}

int scenario_corrupt(const uint8_t *bytes, size_t len, enum scenario_corruption kind,
		     uint8_t **ret, size_t *ret_len)
{
	uint8_t node[4 * VARINT_MAX], *out;
	size_t count = 0, root_end = 0, n = 0, inner;
	int r;

	r = scan_nodes(bytes, len, &count, &root_end);
	if (r < 0)
		return r;
	switch (kind) {
	case SCENARIO_CORRUPT_TRUNCATED:
		/* Every Node holds at least its kind's tag, so the last node's
		 * field then promises one byte more than there is. */
		out = malloc(len - 1 ? len - 1 : 1);
		if (!out)
			return -ENOMEM;
		memcpy(out, bytes, len - 1);
		*ret = out;
		*ret_len = len - 1;
		return 0;
	case SCENARIO_CORRUPT_UNKNOWN_TYPE:
		/* Node { field 25: varint 0 } */
		n = varint_put(node, (uint64_t)FIELD_RESERVED_KIND << 3);
		node[n++] = 0;
		return replace_root(bytes, len, root_end, node, n, ret, ret_len);
	case SCENARIO_CORRUPT_BAD_REFERENCE: {
		/* Node { array: { length: 1, elements: [count] } }: an array whose
		 * one element is the node just past the table.  (The other nodes
		 * stay, now unreachable: the missing node is met first.) */
		uint8_t elements[VARINT_MAX];
		size_t e = varint_put(elements, count);

		inner = 2 + 2 + e;       /* Array.length = 1; Array.elements: tag, size (< 128), the varint */
		node[n++] = TAG_NODE_ARRAY;
		n += varint_put(node + n, inner);
		node[n++] = TAG_ARRAY_LENGTH;
		node[n++] = 1;
		node[n++] = TAG_ARRAY_ELEMENTS;
		node[n++] = (uint8_t)e;
		memcpy(node + n, elements, e);
		n += e;
		return replace_root(bytes, len, root_end, node, n, ret, ret_len);
	}
	case SCENARIO_CORRUPT_GARBAGE:
		/* As long as the valid payload, every byte 0xff: the first field
		 * tag is a varint that never ends (or runs past the end). */
		out = malloc(len);
		if (!out)
			return -ENOMEM;
		memset(out, 0xff, len);
		*ret = out;
		*ret_len = len;
		return 0;
	case SCENARIO_CORRUPT_EMPTY:
		out = malloc(1);
		if (!out)
			return -ENOMEM;
		*ret = out;
		*ret_len = 0;
		return 0;
	}
	return -EINVAL;
}
