/* SPDX-License-Identifier: MIT */
/* value_encode.c - value graphs to protobuf wire bytes: a flat node table, written node by node in one pass. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "crosspost.h"
#include "error.h"
#include "value_transfer.h"
#include "value_codec.h"
#include "value_internal.h"
#include "value_walk.h"
#include "value_wire.h"

/* 2^53: every integer up to it is exact in a double, so `integer` is lossless. */
#define NUMBER_INTEGER_MAX 9007199254740992.0
/* protobuf-c, on the receiving side, reads field lengths into 32 bits. */
#define NODE_SIZE_MAX ((size_t)UINT32_MAX - 16)
#define STRINGS_MIN_CAP 256
#define OUTPUT_MIN_CAP 4096
/* Nodes whose tables start on the stack (a power of two). */
#define ENCODE_SMALL 8
/* How far ahead the walk starts loading what it will read: the cache
 * misses of nodes scattered in the heap are what encoding a large document
 * costs, and loads started early overlap.  Along the queue, in stages that
 * each read only what an earlier stage loaded: the node, its container,
 * the container's items, the children (and their pointer-map slots). */
#define PREFETCH_NODE 24
#define PREFETCH_CONTAINER 16
#define PREFETCH_ITEMS 8
#define PREFETCH_CHILD_NODES 4
/* Children of one node, ahead of the one being added. */
#define PREFETCH_CHILDREN 8
/* encoder.moved_index of a node that is written by value. */
#define NOT_MOVED UINT32_MAX

/*
 * One breadth-first pass; the node table doubles as the queue.  Visiting
 * node i gives each of its children a position (a new one, at the end of
 * the table, when first met), which is all node i's wire form needs, so
 * node i is written out at once, while it is in cache.  The Node messages
 * are written by hand (value.proto is small and fixed) in exactly the
 * bytes protobuf-c would pack; tests/check_value.c checks that.
 *
 * Positions: objects by identity (a pointer map: sharing and cycles are
 * exact); strings by content, as they have no identity (property names
 * repeated across a document travel once); other primitives have no
 * identity either, and nothing to gain from a lookup, so each reference
 * gets a node of its own (undefined, null, false and true share one each).
 * A MessagePort's identity is its handle: value nodes of one port are one
 * node on the wire.
 *
 * With a transfer list, its ArrayBuffers and ports are written as their
 * index in it (the receiver gets them with the frame), not by value.
 */

struct string_slot {
	uint32_t index_plus1;   /* 0: empty */
	uint32_t hash;          /* low bits of the string's keyed hash: most misses skip the compare */
};

/* value_encode_referencing() sets each field by name: one added here is
 * set there too. */
struct encoder {
	struct ptrvec nodes;          /* the table: node i */
	struct ptrmap objects;        /* object node -> its position */
	struct string_slot *strings;  /* open addressing, by content */
	size_t strings_cap, n_strings;
	uint32_t constants[4];        /* undefined, null, false, true: position + 1, or 0 */
	uint32_t *refs;               /* the references of the node being written, in wire order */
	size_t n_refs, refs_cap;
	bool refs_borrowed;           /* refs is the caller's small array */
	uint8_t *out;                 /* the payload so far */
	size_t len, cap;
	const ValueTransfer *moved;   /* the transfer list, or NULL */
	ValueSegments *segments;      /* large buffers left out by reference, or NULL: copied */
	uint32_t moved_index;         /* of the node being written in moved, or NOT_MOVED */
};

static int no_memory(void)
{
	return error_set(CP_ERR_NO_MEMORY, "out of memory serializing a value");
}

static void encoder_deinit(struct encoder *e)
{
	ptrvec_deinit(&e->nodes);
	ptrmap_deinit(&e->objects);
	free(e->strings);
	if (!e->refs_borrowed)
		free(e->refs);
	free(e->out);
}

/* ------------------------------------------------------------------ */
/* The node table                                                      */
/* ------------------------------------------------------------------ */

static int table_append(struct encoder *e, const cp_value *v, uint32_t *ret_index)
{
	if (e->nodes.count >= UINT32_MAX)
		return error_set(CP_ERR_DATA_CLONE, "value has more than %u nodes", UINT32_MAX - 1);
	*ret_index = (uint32_t)e->nodes.count;
	return ptrvec_push(&e->nodes, (void *)v) < 0 ? no_memory() : 0;
}

static int strings_grow(struct encoder *e)
{
	size_t cap = e->strings_cap ? e->strings_cap * 2 : STRINGS_MIN_CAP;
	struct string_slot *t = calloc(cap, sizeof(*t));

	if (!t)
		return no_memory();
	for (size_t i = 0; i < e->strings_cap; i++) {
		size_t slot;

		if (!e->strings[i].index_plus1)
			continue;
		for (slot = e->strings[i].hash & (cap - 1); t[slot].index_plus1; slot = (slot + 1) & (cap - 1))
			;
		t[slot] = e->strings[i];
	}
	free(e->strings);
	e->strings = t;
	e->strings_cap = cap;
	return 0;
}

static int add_string(struct encoder *e, const cp_value *v, uint32_t *ret_index)
{
	uint32_t hash = (uint32_t)value_hash_bytes(v->u.text.data, v->u.text.len);
	size_t slot;
	int r;

	if (2 * (e->n_strings + 1) > e->strings_cap) {
		r = strings_grow(e);
		if (r < 0)
			return r;
	}
	for (slot = hash & (e->strings_cap - 1); e->strings[slot].index_plus1;
	     slot = (slot + 1) & (e->strings_cap - 1)) {
		uint32_t i = e->strings[slot].index_plus1 - 1;

		if (e->strings[slot].hash == hash && value_text_equal(e->nodes.items[i], v)) {
			*ret_index = i;
			return 0;
		}
	}
	r = table_append(e, v, ret_index);
	if (r < 0)
		return r;
	e->strings[slot].index_plus1 = *ret_index + 1;
	e->strings[slot].hash = hash;
	e->n_strings++;
	return 0;
}

/* The table position of v, giving it one if it has none. */
static int encoder_add(struct encoder *e, const cp_value *v, uint32_t *ret_index)
{
	uint32_t *constant = NULL;
	uintptr_t found;
	int r;

	switch ((cp_value_type)v->type) {
	case CP_VALUE_STRING:
		return add_string(e, v, ret_index);
	case CP_VALUE_UNDEFINED:
	case CP_VALUE_NULL:
		constant = &e->constants[v->type == CP_VALUE_NULL];
		break;
	case CP_VALUE_BOOLEAN:
		constant = &e->constants[2 + !!(v->flags & VALUE_F_TRUE)];
		break;
	case CP_VALUE_NUMBER:
	case CP_VALUE_BIGINT:
		return table_append(e, v, ret_index);
	default:
		r = ptrmap_put(&e->objects, v->type == CP_VALUE_PORT ? (const void *)v->u.port : (const void *)v,
			       e->nodes.count, &found);
		if (r < 0)
			return no_memory();
		if (r == 0) {
			*ret_index = (uint32_t)found;
			return 0;
		}
		return table_append(e, v, ret_index);
	}
	if (*constant) {
		*ret_index = *constant - 1;
		return 0;
	}
	r = table_append(e, v, ret_index);
	if (r == 0)
		*constant = *ret_index + 1;
	return r;
}

static int push_ref(struct encoder *e, uint32_t ref)
{
	if (e->n_refs == e->refs_cap) {
		size_t cap = e->refs_cap ? e->refs_cap * 2 : 64;
		uint32_t *refs = e->refs_borrowed ? malloc(cap * sizeof(*refs)) : realloc(e->refs, cap * sizeof(*refs));

		if (!refs)
			return no_memory();
		if (e->refs_borrowed)
			memcpy(refs, e->refs, e->n_refs * sizeof(*refs));
		e->refs_borrowed = false;
		e->refs = refs;
		e->refs_cap = cap;
	}
	e->refs[e->n_refs++] = ref;
	return 0;
}

/* Before push_child(): a child met soon, its type read and, if it is an
 * object, its place in the pointer map. */
static void prefetch_child(const struct encoder *e, const struct value_container *c, size_t j)
{
	if (j < c->count) {
		__builtin_prefetch(c->items[j]);
		ptrmap_prefetch(&e->objects, c->items[j]);
	}
}

static const struct value_container *queued_container(const struct encoder *e, size_t i)
{
	const cp_value *v = i < e->nodes.count ? e->nodes.items[i] : NULL;

	return v && value_is_container(v) ? v->u.c : NULL;
}

/* The stages of loading ahead along the queue (see PREFETCH_NODE). */
static void prefetch_queue(const struct encoder *e, size_t i)
{
	const struct value_container *c;

	if (i + PREFETCH_NODE < e->nodes.count)
		__builtin_prefetch(e->nodes.items[i + PREFETCH_NODE]);
	c = queued_container(e, i + PREFETCH_CONTAINER);
	if (c)
		__builtin_prefetch(c);
	c = queued_container(e, i + PREFETCH_ITEMS);
	if (c)
		__builtin_prefetch(c->items);
	c = queued_container(e, i + PREFETCH_CHILD_NODES);
	for (size_t j = 0; c && j < PREFETCH_CHILDREN; j++)
		prefetch_child(e, c, j);
}

static int push_child(struct encoder *e, const cp_value *child)
{
	uint32_t i;
	int r = encoder_add(e, child, &i);

	return r < 0 ? r : push_ref(e, i);
}

static size_t array_dense_prefix(const struct value_container *c)
{
	size_t i = 0;

	if (!c->indices)
		return c->n_elements;
	while (i < c->n_elements && c->indices[i] == i)
		i++;
	return i;
}

/* A port is only ever transferred: HTML's StructuredSerialize throws for
 * one that is not in the transfer list. */
static int visit_port(struct encoder *e, const cp_value *v)
{
	for (size_t i = 0; e->moved && i < e->moved->n_ports; i++) {
		if (e->moved->ports[i] == v->u.port) {
			e->moved_index = (uint32_t)i;
			return 0;
		}
	}
	return error_set(CP_ERR_DATA_CLONE, "a MessagePort in the data must also be in the transfer list: ports cannot be cloned");
}

/* A buffer in the transfer list travels as its index; any other is copied.
 * The list is short (FRAME_FDS_MAX at most): a scan will do. */
static int visit_buffer(struct encoder *e, const cp_value *v)
{
	if (value_buffer_is_detached(v))
		return error_set(CP_ERR_DATA_CLONE, "an ArrayBuffer in the data is detached (it was transferred)");
	for (size_t i = 0; e->moved && i < e->moved->n_buffers; i++) {
		if (e->moved->buffers[i] == v) {
			e->moved_index = (uint32_t)i;
			break;
		}
	}
	return 0;
}

/* Lists node v's references in wire order into e->refs: for arrays the
 * dense elements, (index, node) pairs for the sparse ones, then
 * properties; notes a transferred node's index in e->moved_index. */
static int encoder_visit(struct encoder *e, const cp_value *v)
{
	const struct value_container *c = value_is_container(v) ? v->u.c : NULL;
	size_t j, dense;
	int r = 0;

	e->n_refs = 0;
	e->moved_index = NOT_MOVED;
	if (v->type == CP_VALUE_HOST_OBJECT)
		return error_set(CP_ERR_DATA_CLONE, "%.200s could not be cloned", v->u.text.data);
	if (v->type == CP_VALUE_PORT)
		return visit_port(e, v);
	if (v->type == CP_VALUE_ARRAY_BUFFER)
		return visit_buffer(e, v);
	if (v->type == CP_VALUE_VIEW)
		return push_child(e, v->u.view.buffer);
	if (!c)
		return 0;
	for (j = 0; j < PREFETCH_CHILDREN; j++)
		prefetch_child(e, c, j);
	dense = v->type == CP_VALUE_ARRAY ? array_dense_prefix(c) : c->count;
	for (j = 0; r == 0 && j < dense; j++) {
		prefetch_child(e, c, j + PREFETCH_CHILDREN);
		r = push_child(e, c->items[j]);
	}
	if (v->type != CP_VALUE_ARRAY)
		return r;
	for (j = dense; r == 0 && j < c->n_elements; j++) {
		prefetch_child(e, c, j + PREFETCH_CHILDREN);
		r = push_ref(e, c->indices[j]);
		if (r == 0)
			r = push_child(e, c->items[j]);
	}
	for (j = c->n_elements; r == 0 && j < c->count; j++) {
		prefetch_child(e, c, j + PREFETCH_CHILDREN);
		r = push_child(e, c->items[j]);
	}
	return r;
}

/* ------------------------------------------------------------------ */
/* Writing one Node                                                    */
/* ------------------------------------------------------------------ */

enum field_form {
	FORM_VARINT,     /* value */
	FORM_FIXED64,    /* value: a double's bits */
	FORM_BYTES,      /* data, len */
	FORM_PACKED,     /* data: uint32_t references, len of them */
	FORM_MESSAGE,    /* the node's sub-message: wire_node.sub */
};

/* One field as protobuf-c packs it: proto3 scalars and bytes are left out
 * when zero or empty, unless they are oneof members (`always`); packed
 * lists are left out when empty. */
struct wire_field {
	uint32_t number;
	uint8_t form;
	bool always;
	uint64_t value;
	const void *data;
	size_t len;
	size_t payload;         /* PACKED, MESSAGE: bytes of the contents, once sized */
};

/* A Node: its kind (one member of the oneof) and, when that member is a
 * message, the message's fields (present ones only). */
struct wire_node {
	struct wire_field kind;
	struct wire_field sub[4];
	size_t n_sub;
};

static uint32_t field_tag(const struct wire_field *f)
{
	static const uint8_t wire_type[] = {
		[FORM_VARINT] = WIRE_VARINT, [FORM_FIXED64] = WIRE_FIXED64, [FORM_BYTES] = WIRE_LEN,
		[FORM_PACKED] = WIRE_LEN, [FORM_MESSAGE] = WIRE_LEN,
	};

	return WIRE_TAG(f->number, wire_type[f->form]);
}

/* The bytes f takes, tag included (0: left out).  Sizes PACKED fields. */
static size_t field_size(struct wire_field *f)
{
	size_t tag = wire_varint_size(field_tag(f)), i;

	switch ((enum field_form)f->form) {
	case FORM_VARINT:
		return f->value || f->always ? tag + wire_varint_size(f->value) : 0;
	case FORM_FIXED64:
		return tag + 8;
	case FORM_BYTES:
		return f->len || f->always ? tag + wire_varint_size(f->len) + f->len : 0;
	case FORM_PACKED:
		if (f->len == 0)
			return 0;
		f->payload = 0;
		for (i = 0; i < f->len; i++)
			f->payload += wire_varint_size(((const uint32_t *)f->data)[i]);
		return tag + wire_varint_size(f->payload) + f->payload;
	case FORM_MESSAGE:
		return tag + wire_varint_size(f->payload) + f->payload;
	}
	return 0;
}

static uint8_t *put_varint(uint8_t *p, uint64_t v)
{
	return p + wire_varint_put(p, v);
}

/* Writes f as field_size() sized it. */
static uint8_t *field_write(uint8_t *p, const struct wire_field *f)
{
	size_t i;

	switch ((enum field_form)f->form) {
	case FORM_VARINT:
		if (!f->value && !f->always)
			return p;
		p = put_varint(p, field_tag(f));
		return put_varint(p, f->value);
	case FORM_FIXED64:
		p = put_varint(p, field_tag(f));
		for (i = 0; i < 8; i++)
			*p++ = (uint8_t)(f->value >> (8 * i));
		return p;
	case FORM_BYTES:
		if (!f->len && !f->always)
			return p;
		p = put_varint(p, field_tag(f));
		p = put_varint(p, f->len);
		if (f->len)
			memcpy(p, f->data, f->len);
		return p + f->len;
	case FORM_PACKED:
		if (f->len == 0)
			return p;
		p = put_varint(p, field_tag(f));
		p = put_varint(p, f->payload);
		for (i = 0; i < f->len; i++)
			p = put_varint(p, ((const uint32_t *)f->data)[i]);
		return p;
	case FORM_MESSAGE:
		p = put_varint(p, field_tag(f));
		return put_varint(p, f->payload);
	}
	return p;
}

static struct wire_field scalar(uint32_t number, enum field_form form, uint64_t value)
{
	return (struct wire_field){ .number = number, .form = (uint8_t)form, .always = true, .value = value };
}

static struct wire_field bytes(uint32_t number, const void *data, size_t len, bool always)
{
	return (struct wire_field){ .number = number, .form = FORM_BYTES, .always = always, .data = data,
				    .len = len };
}

static struct wire_field text(uint32_t number, const struct value_text *t, bool always)
{
	return bytes(number, t->data, t->len, always);
}

/* refs[first .. first + n).  refs is NULL until some node has references:
 * no arithmetic on it then, not even + 0. */
static struct wire_field packed(uint32_t number, const uint32_t *refs, size_t first, size_t n)
{
	return (struct wire_field){ .number = number, .form = FORM_PACKED, .data = n ? refs + first : NULL,
				    .len = n };
}

static uint64_t double_bits(double d)
{
	uint64_t bits;

	memcpy(&bits, &d, sizeof(bits));
	return bits;
}

static void sub_add(struct wire_node *w, struct wire_field f)
{
	w->sub[w->n_sub++] = f;
}

static void describe_bigint(const cp_value *v, uint32_t number, struct wire_node *w)
{
	w->kind = (struct wire_field){ .number = number, .form = FORM_MESSAGE };
	sub_add(w, (struct wire_field){ .number = 1, .form = FORM_VARINT, .value = !!(v->flags & VALUE_F_NEGATIVE) });
	sub_add(w, text(2, &v->u.text, false));
}

static void describe_list(uint32_t number, const uint32_t *refs, size_t n, struct wire_node *w)
{
	w->kind = (struct wire_field){ .number = number, .form = FORM_MESSAGE };
	sub_add(w, packed(1, refs, 0, n));
}

/* Node v's wire form; refs are its references, moved its index in the
 * transfer list (encoder_visit()). */
static void describe(const cp_value *v, const uint32_t *refs, size_t n_refs, uint32_t moved,
		     struct wire_node *w)
{
	const struct value_container *c = value_is_container(v) ? v->u.c : NULL;
	double d;

	w->n_sub = 0;
	switch ((cp_value_type)v->type) {
	case CP_VALUE_UNDEFINED:
	case CP_VALUE_NULL:
		w->kind = scalar(NODE_CONSTANT, FORM_VARINT, v->type == CP_VALUE_NULL);
		break;
	case CP_VALUE_BOOLEAN:
		w->kind = scalar(NODE_BOOLEAN, FORM_VARINT, !!(v->flags & VALUE_F_TRUE));
		break;
	case CP_VALUE_NUMBER:
		d = v->u.number;
		if (d == trunc(d) && fabs(d) <= NUMBER_INTEGER_MAX && !(d == 0 && signbit(d)))
			w->kind = scalar(NODE_INTEGER, FORM_VARINT, wire_zigzag((int64_t)d));
		else
			w->kind = scalar(NODE_NUMBER, FORM_FIXED64, double_bits(d));
		break;
	case CP_VALUE_BIGINT:
		describe_bigint(v, NODE_BIGINT, w);
		break;
	case CP_VALUE_STRING:
		w->kind = text(NODE_STRING, &v->u.text, true);
		break;
	case CP_VALUE_BOOLEAN_OBJECT:
		w->kind = scalar(NODE_BOOLEAN_OBJECT, FORM_VARINT, !!(v->flags & VALUE_F_TRUE));
		break;
	case CP_VALUE_NUMBER_OBJECT:
		w->kind = scalar(NODE_NUMBER_OBJECT, FORM_FIXED64, double_bits(v->u.number));
		break;
	case CP_VALUE_BIGINT_OBJECT:
		describe_bigint(v, NODE_BIGINT_OBJECT, w);
		break;
	case CP_VALUE_STRING_OBJECT:
		w->kind = text(NODE_STRING_OBJECT, &v->u.text, true);
		break;
	case CP_VALUE_DATE:
		w->kind = scalar(NODE_DATE, FORM_FIXED64, double_bits(v->u.number));
		break;
	case CP_VALUE_REGEXP:
		w->kind = (struct wire_field){ .number = NODE_REGEXP, .form = FORM_MESSAGE };
		sub_add(w, text(1, &v->u.text, false));
		sub_add(w, (struct wire_field){ .number = 2, .form = FORM_VARINT, .value = v->sub });
		break;
	case CP_VALUE_ARRAY_BUFFER:
		if (moved != NOT_MOVED)
			w->kind = scalar(NODE_TRANSFERRED_ARRAY_BUFFER, FORM_VARINT, moved);
		else
			w->kind = bytes(NODE_ARRAY_BUFFER, v->u.buffer.data, v->u.buffer.len, true);
		break;
	case CP_VALUE_PORT:
		w->kind = scalar(NODE_PORT, FORM_VARINT, moved);
		break;
	case CP_VALUE_VIEW:
		w->kind = (struct wire_field){ .number = NODE_VIEW, .form = FORM_MESSAGE };
		sub_add(w, (struct wire_field){ .number = 1, .form = FORM_VARINT, .value = v->sub });
		sub_add(w, (struct wire_field){ .number = 2, .form = FORM_VARINT, .value = refs[0] });
		sub_add(w, (struct wire_field){ .number = 3, .form = FORM_VARINT, .value = v->u.view.byte_offset });
		sub_add(w, (struct wire_field){ .number = 4, .form = FORM_VARINT, .value = v->u.view.length });
		break;
	case CP_VALUE_OBJECT:
		describe_list(NODE_OBJECT, refs, n_refs, w);
		break;
	case CP_VALUE_MAP:
		describe_list(NODE_MAP, refs, n_refs, w);
		break;
	case CP_VALUE_SET:
		describe_list(NODE_SET, refs, n_refs, w);
		break;
	case CP_VALUE_ARRAY: {
		size_t count = c ? c->count : 0, n_el = c ? c->n_elements : 0;
		/* refs: dense elements, (index, node) pairs, property pairs. */
		size_t sparse = n_refs - count, dense = n_el - sparse;

		w->kind = (struct wire_field){ .number = NODE_ARRAY, .form = FORM_MESSAGE };
		sub_add(w, (struct wire_field){ .number = 1, .form = FORM_VARINT, .value = c ? c->length : 0 });
		sub_add(w, packed(2, refs, 0, dense));
		sub_add(w, packed(3, refs, dense, 2 * sparse));
		sub_add(w, packed(4, refs, dense + 2 * sparse, count - n_el));
		break;
	}
	case CP_VALUE_ERROR:
		w->kind = (struct wire_field){ .number = NODE_ERROR, .form = FORM_MESSAGE };
		sub_add(w, (struct wire_field){ .number = 1, .form = FORM_VARINT, .value = v->sub });
		/* message and stack are oneof members: present, even empty, or absent. */
		if (v->flags & VALUE_F_HAS_MESSAGE)
			sub_add(w, text(2, &v->u.error->message, true));
		if (v->flags & VALUE_F_HAS_STACK)
			sub_add(w, text(3, &v->u.error->stack, true));
		break;
	case CP_VALUE_HOST_OBJECT:
		/* Refused by encoder_visit(). */
		break;
	}
}

/* Makes room for extra more bytes of output. */
static int output_reserve(struct encoder *e, size_t extra)
{
	size_t cap;
	uint8_t *out;

	if (e->cap - e->len >= extra)
		return 0;
	if (extra > SIZE_MAX / 4 - e->len)
		return error_set(CP_ERR_DATA_CLONE, "value is too large to serialize");
	cap = e->cap ? 2 * e->cap : OUTPUT_MIN_CAP;
	if (cap < e->len + extra)
		cap = e->len + extra;
	out = realloc(e->out, cap);
	if (!out)
		return no_memory();
	e->out = out;
	e->cap = cap;
	return 0;
}

/* Appends node v as one Value.nodes field. */
static int encoder_write(struct encoder *e, const cp_value *v)
{
	struct wire_node w;
	size_t size, i;
	bool large, by_reference;
	uint8_t *p;
	int r;

	describe(v, e->refs, e->n_refs, e->moved_index, &w);
	if (w.kind.form == FORM_MESSAGE) {
		w.kind.payload = 0;
		for (i = 0; i < w.n_sub; i++)
			w.kind.payload += field_size(&w.sub[i]);
	}
	size = field_size(&w.kind);
	if (size > NODE_SIZE_MAX)
		return error_set(CP_ERR_DATA_CLONE, "a %s of %zu bytes is too large to serialize",
				 cp_value_type_name(v), size);
	large = w.kind.number == NODE_ARRAY_BUFFER && w.kind.form == FORM_BYTES &&
		w.kind.len >= WIRE_BUFFER_ALIGN_MIN;
	by_reference = large && e->segments && e->segments->n < VALUE_SEGMENTS_MAX;
	r = output_reserve(e, 2 + WIRE_BUFFER_ALIGN + 1 + WIRE_VARINT_MAX + size -
				      (by_reference ? w.kind.len : 0));
	if (r < 0)
		return r;
	p = e->out + e->len;
	if (large) {
		/* Where the bytes would start on the wire (segments left out
		 * before count), and an alignment field of 2 + pad bytes before
		 * the node that moves them to a multiple of 16. */
		size_t at = e->len + (e->segments ? e->segments->bytes : 0) + 1 + wire_varint_size(size) +
			    wire_varint_size(field_tag(&w.kind)) + wire_varint_size(w.kind.len) + 2;
		size_t pad = (WIRE_BUFFER_ALIGN - at % WIRE_BUFFER_ALIGN) % WIRE_BUFFER_ALIGN;

		*p++ = WIRE_TAG_ALIGNMENT;
		*p++ = (uint8_t)pad;
		memset(p, 0, pad);
		p += pad;
	}
	*p++ = WIRE_TAG_NODES;
	p = put_varint(p, size);
	if (by_reference) {
		/* The tag and length here, the bytes where they are. */
		ValueSegments *sg = e->segments;

		p = put_varint(p, field_tag(&w.kind));
		p = put_varint(p, w.kind.len);
		sg->seg[sg->n].at = (size_t)(p - e->out);
		sg->seg[sg->n].data = w.kind.data;
		sg->seg[sg->n].len = w.kind.len;
		sg->n++;
		sg->bytes += w.kind.len;
	} else {
		p = field_write(p, &w.kind);
	}
	for (i = 0; i < w.n_sub; i++)
		p = field_write(p, &w.sub[i]);
	e->len = (size_t)(p - e->out);
	return 0;
}

int value_encode_referencing(const cp_value *value, const ValueTransfer *moved, uint8_t **ret_bytes,
			     size_t *ret_len, ValueSegments *ret_segments)
{
	/* Field by field, not "= { 0 }": gcc clears a struct this size with
	 * rep stos, a sixteenth of a small message's sender on this machine. */
	struct encoder e;
	/* Most messages are a few nodes: their tables start on the stack, and
	 * only the output is allocated. */
	void *small_nodes[ENCODE_SMALL];
	struct ptrmap_slot small_slots[ENCODE_SMALL];
	uint32_t small_refs[2 * ENCODE_SMALL];
	uint32_t root;
	int r;

	/* Only the keys: an empty slot is a NULL key. */
	for (size_t i = 0; i < ENCODE_SMALL; i++)
		small_slots[i].key = NULL;
	ptrvec_init_with(&e.nodes, small_nodes, ENCODE_SMALL);
	ptrmap_init_with(&e.objects, small_slots, ENCODE_SMALL);
	e.strings = NULL;
	e.strings_cap = e.n_strings = 0;
	for (size_t i = 0; i < 4; i++)
		e.constants[i] = 0;
	e.refs = small_refs;
	e.n_refs = 0;
	e.refs_cap = 2 * ENCODE_SMALL;
	e.refs_borrowed = true;
	e.out = NULL;
	e.len = e.cap = 0;
	e.moved = moved;
	e.segments = ret_segments;
	e.moved_index = 0;

	if (ret_segments) {
		ret_segments->n = 0;
		ret_segments->bytes = 0;
	}
	if (!value)
		return error_set(CP_ERR_TYPE, "value is NULL");
	r = encoder_add(&e, value, &root);
	for (size_t i = 0; r == 0 && i < e.nodes.count; i++) {
		const cp_value *v = e.nodes.items[i];

		prefetch_queue(&e, i);
		r = encoder_visit(&e, v);
		if (r == 0)
			r = encoder_write(&e, v);
	}
	if (r == 0) {
		*ret_bytes = e.out;
		*ret_len = e.len;
		e.out = NULL;
	}
	encoder_deinit(&e);
	return r;
}

int value_encode_moving(const cp_value *value, const ValueTransfer *moved, uint8_t **ret_bytes,
		       size_t *ret_len)
{
	return value_encode_referencing(value, moved, ret_bytes, ret_len, NULL);
}

int value_encode(const cp_value *value, uint8_t **ret_bytes, size_t *ret_len)
{
	return value_encode_moving(value, NULL, ret_bytes, ret_len);
}
