/* SPDX-License-Identifier: MIT */
/* value_node_read.h - parses one protobuf Node (proto/value.proto) from untrusted bytes, without allocating per node. */
#ifndef CP_VALUE_NODE_READ_H
#define CP_VALUE_NODE_READ_H

#include <stddef.h>
#include <stdint.h>

#include "proto/value.pb-c.h"

/* A list of uint32 read from a repeated field (packed or not). */
struct node_list {
	uint32_t *items;
	size_t count, cap;
};

/* One parsed Node, in protobuf-c's own structures (so that the decoder's
 * checks read what protobuf-c would have given them).  bytes fields point
 * into the input; repeated fields into lists[], whose storage is reused
 * from node to node.  Valid until the next node_read() or the input goes. */
struct node_reader {
	Crosspost__Value__Node node;
	union {
		Crosspost__Value__BigInt bigint;
		Crosspost__Value__Object object;
		Crosspost__Value__Array array;
		Crosspost__Value__Map map;
		Crosspost__Value__Set set;
		Crosspost__Value__RegExp regexp;
		Crosspost__Value__View view;
		Crosspost__Value__Error error;
	} sub;
	struct node_list lists[3];
};

/* Parses the bytes of one Value.nodes field into r->node, following the
 * protobuf encoding rules as protobuf-c applies them: fields in any order;
 * unknown fields skipped (a Node of no known kind has kind_case 0); the last
 * of several members of a oneof, or occurrences of a scalar, wins; repeated
 * fields accepted packed or not, their occurrences concatenated; a known
 * field with the wrong wire type, a truncated or over-long varint, a length
 * past the end, a group or a field number 0 is malformed.  Returns 0,
 * -EINVAL (malformed), or -ENOMEM.  Memory: lists[] hold at most one
 * uint32 per input byte of the node, in at most twice that room. */
int node_read(struct node_reader *r, const uint8_t *bytes, size_t len);

/* Readies r for node_read() (its lists empty; node_read() sets the rest,
 * so the whole reader, some 300 bytes, is not cleared for each value: two
 * such memsets were a twentieth of a small message's receiver). */
void node_reader_init(struct node_reader *r);
/* Frees the lists; r is done with. */
void node_reader_deinit(struct node_reader *r);

#endif
