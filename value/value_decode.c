/* SPDX-License-Identifier: MIT */
/* value_decode.c - protobuf wire bytes from another process to a value graph, checked node by node. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "proto/value.pb-c.h"

#include "crosspost.h"
#include "error.h"
#include "value_transfer.h"
#include "value_codec.h"
#include "value_internal.h"
#include "value_node_read.h"
#include "value_wire.h"

/* The wire enums are the C API's numbering, so kinds and names convert by cast. */
_Static_assert((int)CROSSPOST__VALUE__VIEW_KIND__INT8_ARRAY == CP_VIEW_INT8 &&
	       (int)CROSSPOST__VALUE__VIEW_KIND__FLOAT16_ARRAY == CP_VIEW_FLOAT16 &&
	       (int)CROSSPOST__VALUE__VIEW_KIND__DATA_VIEW == CP_VIEW_DATA_VIEW,
	       "ViewKind numbering differs from cp_view_kind");
_Static_assert((int)CROSSPOST__VALUE__ERROR_NAME__URI_ERROR == VALUE_ERROR_NAME_COUNT - 1,
	       "ErrorName numbering differs from value.c's error_names");
_Static_assert((int)CROSSPOST__VALUE__NODE__KIND_STRING_OBJECT == NODE_STRING_OBJECT &&
	       (int)CROSSPOST__VALUE__NODE__KIND_CONSTANT == NODE_CONSTANT &&
	       (int)CROSSPOST__VALUE__NODE__KIND_PORT == NODE_PORT &&
	       (int)CROSSPOST__VALUE__NODE__KIND_TRANSFERRED_ARRAY_BUFFER == NODE_TRANSFERRED_ARRAY_BUFFER,
	       "value_wire.h's node kinds differ from value.proto");

/* Values of up to this many nodes (and moved objects) are decoded with
 * their tables on the stack. */
#define DECODE_SMALL 16

/* 2^53: `integer` holds only what a double holds exactly. */
#define NUMBER_INTEGER_MAX 9007199254740992.0

/* The bytes are untrusted.  Nodes are parsed one at a time
 * (value_node_read.c: into protobuf-c's structures, pointing into the
 * bytes, without allocating); each becomes a cp_value at once (pass 1)
 * with its references kept as raw table positions in its child slots,
 * checked against the table size.
 * Pass 2 turns positions into pointers and checks what needs the other
 * nodes (key types, duplicate keys, view ranges); pass 3 checks that
 * every node is reachable from the root, so that freeing the root frees
 * everything.  No pass recurses.
 *
 * Transferred objects came with the frame: a node names one by its index
 * in the frame's lists (each index once), and becomes a buffer mapped from
 * the descriptor or a value for the port. */

/* What came with the frame, and which of it a node has taken. */
struct decode_moved {
	/* The payload's own block, when the caller offers it for an aligned
	 * large ArrayBuffer to keep (value_decode_block()); NULL once taken. */
	uint8_t **block;
	size_t block_length;
	const int *fds;           /* borrowed: the frame closes them */
	size_t n_fds;
	cp_port *const *ports;
	size_t n_ports;
	uint8_t *taken;           /* n_fds flags, then n_ports */
	uint64_t mapped;          /* bytes of the buffers made so far */
};

static int bad(size_t node, const char *what)
{
	return error_set(CP_ERR_DATA, "malformed value: node %zu: %s", node, what);
}

/* Claims entry index of a list of n (taken: its flags). */
static int take_moved(uint8_t *taken, size_t n, uint32_t index, size_t i, const char *what)
{
	char why[96];

	if (index >= n) {
		snprintf(why, sizeof(why), "%s %u did not come with the message", what, index);
		return bad(i, why);
	}
	if (taken[index]) {
		snprintf(why, sizeof(why), "%s %u is named by two nodes", what, index);
		return bad(i, why);
	}
	taken[index] = 1;
	return 0;
}

static int moved_buffer_node(uint32_t index, struct decode_moved *m, size_t i, cp_value **ret)
{
	char why[160];
	int r = take_moved(m->taken, m->n_fds, index, i, "transferred ArrayBuffer");

	if (r < 0)
		return r;
	/* The limit holds for all of one message's buffers together. */
	r = value_buffer_from_fd(m->fds[index], VALUE_TRANSFERRED_BUFFER_MAX - m->mapped, ret);
	if (r == CP_ERR_DATA) {
		snprintf(why, sizeof(why), "%s", cp_last_error_message());
		return bad(i, why);
	}
	if (r == 0)
		m->mapped += (*ret)->u.buffer.len;
	return r;
}

static int port_node(uint32_t index, struct decode_moved *m, size_t i, cp_value **ret)
{
	int r = take_moved(m->taken + m->n_fds, m->n_ports, index, i, "MessagePort");

	if (r < 0)
		return r;
	*ret = value_alloc(CP_VALUE_PORT, 0);
	if (!*ret)
		return CP_ERR_NO_MEMORY;
	(*ret)->u.port = m->ports[index];
	return 0;
}

static int text_node(cp_value_type type, const ProtobufCBinaryData *b, size_t i, cp_value **ret)
{
	bool well_formed;

	if (wtf8_validate(b->data, b->len, &well_formed) < 0)
		return bad(i, "string is not WTF-8");
	*ret = value_new_text(type, b->data, b->len, well_formed ? 0 : VALUE_F_ILL_FORMED);
	return *ret ? 0 : CP_ERR_NO_MEMORY;
}

static int bigint_node(cp_value_type type, const Crosspost__Value__BigInt *b, size_t i, cp_value **ret)
{
	if (!b || (b->magnitude.len > 0 && b->magnitude.data[b->magnitude.len - 1] == 0) ||
	    (b->negative && b->magnitude.len == 0))
		return bad(i, "bigint is not canonical");
	*ret = value_new_bigint(type, b->negative, b->magnitude.data, b->magnitude.len);
	return *ret ? 0 : CP_ERR_NO_MEMORY;
}

/* Reserves exactly the room for count references and stores them as raw
 * positions, each checked to be in the table. */
static int store_refs(cp_value *v, const uint32_t *refs, size_t count, size_t n, size_t i)
{
	struct value_container *c;
	size_t j;

	if (count == 0)
		return 0;
	for (j = 0; j < count; j++)
		if (refs[j] >= n)
			return bad(i, "reference to a node that does not exist");
	c = value_container_get(v);
	if (!c || value_container_reserve(c, count) < 0)
		return CP_ERR_NO_MEMORY;
	for (j = 0; j < count; j++)
		value_container_push(c, (cp_value *)(uintptr_t)refs[j]);
	return 0;
}

static int array_node(const Crosspost__Value__Array *a, size_t n, size_t i, cp_value **ret)
{
	size_t n_sparse, total, j;
	struct value_container *c;
	cp_value *v;
	int r;

	if (!a || a->n_sparse % 2 || a->n_properties % 2 || a->n_elements > a->length)
		return bad(i, "array counts are inconsistent");
	n_sparse = a->n_sparse / 2;
	v = value_alloc(CP_VALUE_ARRAY, 0);
	if (!v)
		return CP_ERR_NO_MEMORY;
	*ret = v;
	total = a->n_elements + n_sparse + a->n_properties;
	if (total == 0 && a->length == 0)
		return 0;
	c = value_container_get(v);
	if (!c || (total && value_container_reserve(c, total) < 0))
		return CP_ERR_NO_MEMORY;
	c->length = a->length;
	if (n_sparse) {
		c->indices = malloc(c->cap * sizeof(*c->indices));
		if (!c->indices)
			return CP_ERR_NO_MEMORY;
		for (j = 0; j < a->n_elements; j++)
			c->indices[j] = (uint32_t)j;
	}
	r = store_refs(v, a->elements, a->n_elements, n, i);
	for (j = 0; r == 0 && j < n_sparse; j++) {
		uint32_t index = a->sparse[2 * j];

		if (index < c->count || (j > 0 && index <= c->indices[c->count - 1]) || index >= a->length)
			return bad(i, "sparse array indices are out of order or range");
		c->indices[c->count] = index;
		r = store_refs(v, &a->sparse[2 * j + 1], 1, n, i);
	}
	if (r == 0) {
		c->n_elements = c->count;
		r = store_refs(v, a->properties, a->n_properties, n, i);
	}
	return r;
}

static int view_node(const Crosspost__Value__View *w, size_t n, size_t i, cp_value **ret)
{
	cp_value *v;

	if (!w || (int)w->kind < CP_VIEW_INT8 || (int)w->kind > CP_VIEW_DATA_VIEW)
		return bad(i, "unknown view kind");
	if (w->buffer >= n)
		return bad(i, "reference to a node that does not exist");
#if SIZE_MAX < UINT64_MAX
	if (w->byte_offset > SIZE_MAX || w->length > SIZE_MAX)
		return bad(i, "view range is out of bounds");
#endif
	v = value_alloc(CP_VALUE_VIEW, 0);
	if (!v)
		return CP_ERR_NO_MEMORY;
	v->sub = (uint8_t)w->kind;
	v->u.view.buffer = (cp_value *)(uintptr_t)w->buffer;
	v->u.view.byte_offset = (size_t)w->byte_offset;
	v->u.view.length = (size_t)w->length;
	*ret = v;
	return 0;
}

static int error_node(const Crosspost__Value__Error *er, size_t i, cp_value **ret)
{
	bool has_message, has_stack;

	if (!er || (unsigned)er->name >= VALUE_ERROR_NAME_COUNT)
		return bad(i, "unknown error name");
	has_message = er->has_message_case == CROSSPOST__VALUE__ERROR__HAS_MESSAGE_MESSAGE;
	has_stack = er->has_stack_case == CROSSPOST__VALUE__ERROR__HAS_STACK_STACK;
	if ((has_message && wtf8_validate(er->message.data, er->message.len, NULL) < 0) ||
	    (has_stack && wtf8_validate(er->stack.data, er->stack.len, NULL) < 0))
		return bad(i, "error text is not WTF-8");
	/* protobuf-c gives empty bytes a NULL pointer: present but empty is "". */
	*ret = value_new_error(er->name, has_message ? (er->message.data ? (const char *)er->message.data : "") : NULL,
			       has_message ? er->message.len : 0,
			       has_stack ? (er->stack.data ? (const char *)er->stack.data : "") : NULL,
			       has_stack ? er->stack.len : 0);
	return *ret ? 0 : CP_ERR_NO_MEMORY;
}

static cp_value *number_node(cp_value_type type, double d)
{
	cp_value *v = value_alloc(type, 0);

	if (v)
		v->u.number = d;
	return v;
}

/* Pass 1: one node, references left as raw positions. */
static int node_create(Crosspost__Value__Node *pb, size_t n, size_t i, struct decode_moved *m, cp_value **ret)
{
	cp_value *v = NULL;
	int r = 0;

	switch (pb->kind_case) {
	case CROSSPOST__VALUE__NODE__KIND_CONSTANT:
		if (pb->constant != CROSSPOST__VALUE__CONSTANT__UNDEFINED && pb->constant != CROSSPOST__VALUE__CONSTANT__NULL)
			return bad(i, "unknown constant");
		v = value_alloc(pb->constant == CROSSPOST__VALUE__CONSTANT__NULL ? CP_VALUE_NULL : CP_VALUE_UNDEFINED, 0);
		break;
	case CROSSPOST__VALUE__NODE__KIND_BOOLEAN:
	case CROSSPOST__VALUE__NODE__KIND_BOOLEAN_OBJECT:
		v = value_alloc(pb->kind_case == CROSSPOST__VALUE__NODE__KIND_BOOLEAN ? CP_VALUE_BOOLEAN
									      : CP_VALUE_BOOLEAN_OBJECT, 0);
		if (v && (pb->kind_case == CROSSPOST__VALUE__NODE__KIND_BOOLEAN ? pb->boolean : pb->boolean_object))
			v->flags |= VALUE_F_TRUE;
		break;
	case CROSSPOST__VALUE__NODE__KIND_NUMBER:
		v = number_node(CP_VALUE_NUMBER, pb->number);
		break;
	case CROSSPOST__VALUE__NODE__KIND_INTEGER:
		if (pb->integer > (int64_t)NUMBER_INTEGER_MAX || pb->integer < -(int64_t)NUMBER_INTEGER_MAX)
			return bad(i, "integer out of range");
		v = number_node(CP_VALUE_NUMBER, (double)pb->integer);
		break;
	case CROSSPOST__VALUE__NODE__KIND_NUMBER_OBJECT:
		v = number_node(CP_VALUE_NUMBER_OBJECT, pb->number_object);
		break;
	case CROSSPOST__VALUE__NODE__KIND_DATE:
		/* What TimeClip can produce: NaN, or an integer in range, never -0. */
		if (!isnan(pb->date) && (value_time_clip(pb->date) != pb->date || (pb->date == 0 && signbit(pb->date))))
			return bad(i, "date is not a time value");
		v = number_node(CP_VALUE_DATE, pb->date);
		break;
	case CROSSPOST__VALUE__NODE__KIND_STRING:
		return text_node(CP_VALUE_STRING, &pb->string, i, ret);
	case CROSSPOST__VALUE__NODE__KIND_STRING_OBJECT:
		return text_node(CP_VALUE_STRING_OBJECT, &pb->string_object, i, ret);
	case CROSSPOST__VALUE__NODE__KIND_BIGINT:
		return bigint_node(CP_VALUE_BIGINT, pb->bigint, i, ret);
	case CROSSPOST__VALUE__NODE__KIND_BIGINT_OBJECT:
		return bigint_node(CP_VALUE_BIGINT_OBJECT, pb->bigint_object, i, ret);
	case CROSSPOST__VALUE__NODE__KIND_REGEXP: {
		const Crosspost__Value__RegExp *re = pb->regexp;
		bool well_formed;

		/* Any of the 8 flag bits, but u and v exclude each other. */
		if (!re || re->flags > 0xff || ((re->flags & (1u << 5)) && (re->flags & (1u << 6))))
			return bad(i, "bad RegExp flags");
		if (wtf8_validate(re->source.data, re->source.len, &well_formed) < 0)
			return bad(i, "RegExp source is not WTF-8");
		v = value_new_regexp((const char *)re->source.data, re->source.len, !well_formed, re->flags);
		break;
	}
	case CROSSPOST__VALUE__NODE__KIND_ARRAY_BUFFER:
		/* The parsed node points into the payload.  Large bytes that the
		 * sender aligned (Value.alignment) stay there when the payload
		 * is a block offered to us; else this is the one copy of the
		 * bytes per decode. */
		/* ... and only when they are most of the block: a small buffer
		 * must not keep a large payload's memory alive after the rest of
		 * the message is freed. */
		if (m && m->block && *m->block && pb->array_buffer.len >= WIRE_BUFFER_ALIGN_MIN &&
		    pb->array_buffer.len >= m->block_length / 2 &&
		    (uintptr_t)pb->array_buffer.data % WIRE_BUFFER_ALIGN == 0 &&
		    pb->array_buffer.data - *m->block <= (ptrdiff_t)UINT32_MAX) {
			v = value_buffer_adopt_block(*m->block, pb->array_buffer.data, pb->array_buffer.len);
			if (v)
				*m->block = NULL;
		} else {
			v = value_buffer_new_received(pb->array_buffer.data, pb->array_buffer.len);
		}
		break;
	case CROSSPOST__VALUE__NODE__KIND_TRANSFERRED_ARRAY_BUFFER:
		return moved_buffer_node(pb->transferred_array_buffer, m, i, ret);
	case CROSSPOST__VALUE__NODE__KIND_PORT:
		return port_node(pb->port, m, i, ret);
	case CROSSPOST__VALUE__NODE__KIND_VIEW:
		return view_node(pb->view, n, i, ret);
	case CROSSPOST__VALUE__NODE__KIND_ERROR:
		return error_node(pb->error, i, ret);
	case CROSSPOST__VALUE__NODE__KIND_ARRAY:
		return array_node(pb->array, n, i, ret);
	case CROSSPOST__VALUE__NODE__KIND_OBJECT:
		if (!pb->object || pb->object->n_properties % 2)
			return bad(i, "object properties are not pairs");
		v = value_alloc(CP_VALUE_OBJECT, 0);
		if (v)
			r = store_refs(v, pb->object->properties, pb->object->n_properties, n, i);
		break;
	case CROSSPOST__VALUE__NODE__KIND_MAP:
		if (!pb->map || pb->map->n_entries % 2)
			return bad(i, "map entries are not pairs");
		v = value_alloc(CP_VALUE_MAP, 0);
		if (v)
			r = store_refs(v, pb->map->entries, pb->map->n_entries, n, i);
		break;
	case CROSSPOST__VALUE__NODE__KIND_SET:
		if (!pb->set)
			return bad(i, "bad set");
		v = value_alloc(CP_VALUE_SET, 0);
		if (v)
			r = store_refs(v, pb->set->members, pb->set->n_members, n, i);
		break;
	default:
		return error_set(CP_ERR_DATA, "malformed value: node %zu: unknown kind of node (field %d)", i,
				 (int)pb->kind_case);
	}
	if (!v)
		return CP_ERR_NO_MEMORY;
	*ret = v;
	return r;
}

/* Pass 2: positions to pointers, and the checks that need other nodes. */
static int node_link(cp_value *v, cp_value **table, size_t i)
{
	char why[160];
	size_t j;
	int r;

	if (v->type == CP_VALUE_VIEW) {
		cp_value *b = table[(uintptr_t)v->u.view.buffer];
		size_t size = cp_view_kind_element_size(v->sub);

		if (b->type != CP_VALUE_ARRAY_BUFFER)
			return bad(i, "view of something that is not an ArrayBuffer");
		if (v->u.view.byte_offset % size || v->u.view.byte_offset > b->u.buffer.len ||
		    v->u.view.length > (b->u.buffer.len - v->u.view.byte_offset) / size)
			return bad(i, "view range is out of bounds or misaligned");
		v->u.view.buffer = b;
		return 0;
	}
	if (!value_is_container(v) || !v->u.c)
		return 0;
	for (j = 0; j < v->u.c->count; j++)
		v->u.c->items[j] = table[(uintptr_t)v->u.c->items[j]];
	r = value_container_finish(v);
	if (r == CP_ERR_NO_MEMORY)
		return r;
	if (r < 0) {
		snprintf(why, sizeof(why), "%s", cp_last_error_message());
		return bad(i, why);
	}
	return 0;
}

/* Marks in `earlier` the nodes that node i refers to and that come after
 * it in the table (pb has been checked by node_create(): references are
 * in the table). */
static void mark_forward_refs(const Crosspost__Value__Node *pb, size_t i, uint8_t *earlier)
{
	const uint32_t *lists[3] = { NULL };
	size_t counts[3] = { 0 }, steps[3] = { 1, 1, 1 }, firsts[3] = { 0 };

	switch (pb->kind_case) {
	case CROSSPOST__VALUE__NODE__KIND_OBJECT:
		lists[0] = pb->object->properties;
		counts[0] = pb->object->n_properties;
		break;
	case CROSSPOST__VALUE__NODE__KIND_MAP:
		lists[0] = pb->map->entries;
		counts[0] = pb->map->n_entries;
		break;
	case CROSSPOST__VALUE__NODE__KIND_SET:
		lists[0] = pb->set->members;
		counts[0] = pb->set->n_members;
		break;
	case CROSSPOST__VALUE__NODE__KIND_ARRAY:
		lists[0] = pb->array->elements;
		counts[0] = pb->array->n_elements;
		/* sparse holds (index, node) pairs: only every second one refers. */
		lists[1] = pb->array->sparse;
		counts[1] = pb->array->n_sparse;
		steps[1] = 2;
		firsts[1] = 1;
		lists[2] = pb->array->properties;
		counts[2] = pb->array->n_properties;
		break;
	case CROSSPOST__VALUE__NODE__KIND_VIEW:
		if (pb->view->buffer > i)
			earlier[pb->view->buffer / 8] |= (uint8_t)(1u << (pb->view->buffer % 8));
		return;
	default:
		return;
	}
	for (size_t l = 0; l < 3; l++) {
		for (size_t j = firsts[l]; j < counts[l]; j += steps[l]) {
			uint32_t k = lists[l][j];

			if (k > i)
				earlier[k / 8] |= (uint8_t)(1u << (k % 8));
		}
	}
}

/* Pass 3, quick form: when every node but the root is referred to by a
 * node before it in the table, every node is reachable from the root (by
 * induction over the table).  Encoders that number nodes as they discover
 * them from the root, as value_encode() does, always give such a table. */
static bool all_referred_from_earlier(const uint8_t *earlier, size_t n)
{
	for (size_t k = 1; k < n; k++)
		if (!(earlier[k / 8] & (1u << (k % 8))))
			return false;
	return true;
}

/* Pass 3: every node reachable from the root (same walk as cp_value_free()). */
static bool all_reachable(cp_value **table, size_t n)
{
	cp_value *todo = table[0];
	size_t reached = 0, i;

	todo->flags |= VALUE_F_MARK;
	todo->link = NULL;
	while (todo) {
		cp_value *v = todo;
		size_t k = value_child_count(v);

		todo = v->link;
		reached++;
		for (i = 0; i < k; i++) {
			cp_value *c = value_child(v, i);

			if (!(c->flags & VALUE_F_MARK)) {
				c->flags |= VALUE_F_MARK;
				c->link = todo;
				todo = c;
			}
		}
	}
	for (i = 0; i < n; i++) {
		table[i]->flags &= ~VALUE_F_MARK;
		table[i]->link = NULL;
	}
	return reached == n;
}

/* Walks the top-level fields: *ret_count is the number of nodes; with
 * table, also parses and creates each node.  Returns 0 or CP_ERR_*. */
static int scan(const uint8_t *bytes, size_t len, struct node_reader *reader, cp_value **table, size_t n,
		uint8_t *earlier, struct decode_moved *moved, size_t *ret_count)
{
	size_t pos = 0, count = 0;
	int r;

	while (pos < len) {
		uint64_t tag, l;

		if (!wire_varint_get(bytes, len, &pos, &tag) || tag >> 3 == 0 || tag >> 3 > UINT32_MAX)
			return error_set(CP_ERR_DATA, "malformed value: bad field tag at byte %zu", pos);
		switch (tag & 7) {
		case 0:
			if (!wire_varint_get(bytes, len, &pos, &l))
				return error_set(CP_ERR_DATA, "malformed value: truncated varint");
			break;
		case 1:
		case 5:
			l = (tag & 7) == 1 ? 8 : 4;
			if (len - pos < l)
				return error_set(CP_ERR_DATA, "malformed value: truncated field");
			pos += l;
			break;
		case 2:
			if (!wire_varint_get(bytes, len, &pos, &l) || l > len - pos)
				return error_set(CP_ERR_DATA, "malformed value: truncated field");
			if (tag == WIRE_TAG_NODES) {
				if (table) {
					r = node_read(reader, bytes + pos, (size_t)l);
					if (r == -ENOMEM)
						return CP_ERR_NO_MEMORY;
					if (r < 0)
						return bad(count, "not a protobuf Node");
					r = node_create(&reader->node, n, count, moved, &table[count]);
					if (r < 0)
						return r;
					mark_forward_refs(&reader->node, count, earlier);
				}
				count++;
			}
			pos += l;
			break;
		default:
			/* Groups are long deprecated; nothing here uses them. */
			return error_set(CP_ERR_DATA, "malformed value: unsupported wire type");
		}
	}
	*ret_count = count;
	return 0;
}

static int decode(const uint8_t *bytes, size_t len, uint8_t **block, const int *fds, size_t n_fds,
		  cp_port *const *ports, size_t n_ports, cp_value **ret)
{
	struct decode_moved moved = { .block = block, .block_length = len, .fds = fds, .n_fds = n_fds,
				      .ports = ports, .n_ports = n_ports };
	struct node_reader reader;
	cp_value **table = NULL;
	uint8_t *earlier = NULL;   /* bit k: node k is referred to by a node before it */
	/* Most messages are a few nodes: their bookkeeping stays on the stack
	 * (three mallocs a message fewer). */
	cp_value *small_table[DECODE_SMALL];
	uint8_t small_earlier[DECODE_SMALL / 8 + 1], small_taken[DECODE_SMALL + 1];
	bool small;
	size_t n = 0, i;
	int r;

	if ((!bytes && len) || (!fds && n_fds) || (!ports && n_ports) || n_fds > SIZE_MAX / 2 ||
	    n_ports > SIZE_MAX / 2)
		return error_set(CP_ERR_TYPE, "bytes, fds or ports are NULL, or too many");
	node_reader_init(&reader);
	r = scan(bytes, len, NULL, NULL, 0, NULL, NULL, &n);
	if (r < 0)
		return r;
	if (n == 0)
		return error_set(CP_ERR_DATA, "malformed value: no nodes");
	small = n <= DECODE_SMALL && n_fds + n_ports <= DECODE_SMALL;
	if (small) {
		/* As far as used: all of small_table was a rep stos of 128
		 * bytes for a value of one or two nodes. */
		memset(small_table, 0, n * sizeof(small_table[0]));
		memset(small_earlier, 0, n / 8 + 1);
		memset(small_taken, 0, n_fds + n_ports + 1);
		table = small_table;
		earlier = small_earlier;
		moved.taken = small_taken;
	} else {
		table = calloc(n, sizeof(*table));
		earlier = calloc(n / 8 + 1, 1);
		moved.taken = calloc(n_fds + n_ports + 1, 1);
	}
	if (!table || !earlier || !moved.taken) {
		r = error_set(CP_ERR_NO_MEMORY, "out of memory for a %zu-node value", n);
		goto out;
	}
	r = scan(bytes, len, &reader, table, n, earlier, &moved, &n);
	for (i = 0; r == 0 && i < n; i++)
		r = node_link(table[i], table, i);
	if (r == 0 && !all_referred_from_earlier(earlier, n) && !all_reachable(table, n))
		r = error_set(CP_ERR_DATA, "malformed value: some nodes are unreachable from the root");
	if (r == 0) {
		*ret = table[0];
		goto out;
	}
	if (r == CP_ERR_NO_MEMORY)
		error_set(r, "out of memory deserializing a value");
	for (i = 0; i < n; i++)
		if (table[i])
			value_free_shallow(table[i]);
out:
	node_reader_deinit(&reader);
	if (table != small_table) {
		free(moved.taken);
		free(earlier);
		free(table);
	}
	return r;
}

int value_decode_transfer(const uint8_t *bytes, size_t len, const int *fds, size_t n_fds,
			  cp_port *const *ports, size_t n_ports, cp_value **ret)
{
	return decode(bytes, len, NULL, fds, n_fds, ports, n_ports, ret);
}

int value_decode_block(uint8_t **block, size_t len, const int *fds, size_t n_fds, cp_port *const *ports,
		       size_t n_ports, cp_value **ret)
{
	return decode(*block, len, block, fds, n_fds, ports, n_ports, ret);
}

int value_decode(const uint8_t *bytes, size_t len, cp_value **ret)
{
	return decode(bytes, len, NULL, NULL, 0, NULL, 0, ret);
}
