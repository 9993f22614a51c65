/* SPDX-License-Identifier: MIT */
/* value_codec.c - value graphs to and from protobuf: a flat node table, packed node by node. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proto/value.pb-c.h"

#include "crosspost.h"
#include "error.h"
#include "value_codec.h"
#include "value_internal.h"
#include "value_walk.h"

/* The wire enums are the C API's numbering, so kinds and names convert by cast. */
_Static_assert((int)CROSSPOST__VALUE__VIEW_KIND__INT8_ARRAY == CP_VIEW_INT8 &&
	       (int)CROSSPOST__VALUE__VIEW_KIND__FLOAT16_ARRAY == CP_VIEW_FLOAT16 &&
	       (int)CROSSPOST__VALUE__VIEW_KIND__DATA_VIEW == CP_VIEW_DATA_VIEW,
	       "ViewKind numbering differs from cp_view_kind");
_Static_assert((int)CROSSPOST__VALUE__ERROR_NAME__URI_ERROR == VALUE_ERROR_NAME_COUNT - 1,
	       "ErrorName numbering differs from value.c's error_names");

/* 2^53: every integer up to it is exact in a double, so `integer` is lossless. */
#define NUMBER_INTEGER_MAX 9007199254740992.0
/* The tag of Value.nodes: field 1, wire type 2 (length-delimited). */
#define TAG_NODES 0x0a
/* protobuf-c reads field lengths into 32 bits. */
#define NODE_SIZE_MAX ((size_t)UINT32_MAX - 16)

static size_t varint_size(uint64_t v)
{
	size_t n = 1;

	while (v >= 0x80) {
		v >>= 7;
		n++;
	}
	return n;
}

static size_t varint_write(uint8_t *p, uint64_t v)
{
	size_t n = 0;

	while (v >= 0x80) {
		p[n++] = (uint8_t)(v | 0x80);
		v >>= 7;
	}
	p[n++] = (uint8_t)v;
	return n;
}

static bool varint_read(const uint8_t *p, size_t len, size_t *pos, uint64_t *ret)
{
	uint64_t v = 0;
	unsigned shift;

	for (shift = 0; shift < 64 && *pos < len; shift += 7) {
		uint8_t b = p[(*pos)++];

		v |= (uint64_t)(b & 0x7f) << shift;
		if (!(b & 0x80)) {
			*ret = v;
			return true;
		}
	}
	return false;
}

/* ------------------------------------------------------------------ */
/* Encoding                                                            */
/* ------------------------------------------------------------------ */

/* The node table is built in one breadth-first pass that also lists each
 * node's references as the wire has them.  Each node's protobuf message is
 * then filled twice, on the stack, pointing into the cp_value (strings and
 * ArrayBuffer bytes are never copied but by the final pack): once to learn
 * its size, once to pack it into the one output buffer. */
struct encoder {
	struct ptrvec nodes;     /* the table: node i */
	struct ptrmap index;     /* node -> i */
	uint32_t *strings;       /* strings by content: i + 1, or 0 (open addressing) */
	size_t strings_cap;
	size_t n_strings;
	size_t *ref_start;       /* node i's references are refs[ref_start[i] .. ref_start[i + 1]) */
	uint32_t *refs;
	size_t n_refs;
	size_t refs_cap;
	size_t *sizes;           /* packed size of node i */
	size_t sizes_cap;
	size_t total;            /* bytes of the whole Value */
};

struct wire_node {
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
};

static void encoder_deinit(struct encoder *e)
{
	ptrvec_deinit(&e->nodes);
	ptrmap_deinit(&e->index);
	free(e->strings);
	free(e->ref_start);
	free(e->refs);
	free(e->sizes);
}

static int no_memory(void)
{
	return error_set(CP_ERR_NO_MEMORY, "out of memory serializing a value");
}

static int strings_grow(struct encoder *e)
{
	size_t cap = e->strings_cap ? e->strings_cap * 2 : 256, i;
	uint32_t *t = calloc(cap, sizeof(*t));

	if (!t)
		return -ENOMEM;
	for (i = 0; i < e->strings_cap; i++) {
		const cp_value *s;
		size_t slot;

		if (!e->strings[i])
			continue;
		s = e->nodes.items[e->strings[i] - 1];
		slot = value_hash_bytes(s->u.text.data, s->u.text.len) & (cap - 1);
		while (t[slot])
			slot = (slot + 1) & (cap - 1);
		t[slot] = e->strings[i];
	}
	free(e->strings);
	e->strings = t;
	e->strings_cap = cap;
	return 0;
}

/* The table position of v, giving it one if it has none.  Strings are
 * primitives without identity, so equal strings share one node: property
 * names repeated across a document travel once. */
static int encoder_add(struct encoder *e, const cp_value *v, uint32_t *ret_index)
{
	uintptr_t found;
	size_t slot = 0;
	int r;

	if (v->type != CP_VALUE_STRING) {
		r = ptrmap_put(&e->index, v, e->nodes.count, &found);
		if (r < 0)
			return no_memory();
		if (r == 0) {
			*ret_index = (uint32_t)found;
			return 0;
		}
	} else {
		if (ptrmap_get(&e->index, v, &found)) {
			*ret_index = (uint32_t)found;
			return 0;
		}
		if (2 * (e->n_strings + 1) > e->strings_cap && strings_grow(e) < 0)
			return no_memory();
		slot = value_hash_bytes(v->u.text.data, v->u.text.len) & (e->strings_cap - 1);
		for (; e->strings[slot]; slot = (slot + 1) & (e->strings_cap - 1)) {
			uint32_t i = e->strings[slot] - 1;

			if (value_text_equal(e->nodes.items[i], v)) {
				*ret_index = i;
				return ptrmap_put(&e->index, v, i, NULL) < 0 ? no_memory() : 0;
			}
		}
		if (ptrmap_put(&e->index, v, e->nodes.count, NULL) < 0)
			return no_memory();
		e->strings[slot] = (uint32_t)e->nodes.count + 1;
		e->n_strings++;
	}
	if (e->nodes.count >= UINT32_MAX)
		return error_set(CP_ERR_DATA_CLONE, "value has more than %u nodes", UINT32_MAX - 1);
	*ret_index = (uint32_t)e->nodes.count;
	return ptrvec_push(&e->nodes, (void *)v) < 0 ? no_memory() : 0;
}

static int push_ref(struct encoder *e, uint32_t ref)
{
	if (e->n_refs == e->refs_cap) {
		size_t cap = e->refs_cap ? e->refs_cap * 2 : 1024;
		uint32_t *refs = realloc(e->refs, cap * sizeof(*refs));

		if (!refs)
			return no_memory();
		e->refs = refs;
		e->refs_cap = cap;
	}
	e->refs[e->n_refs++] = ref;
	return 0;
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

/* Lists node v's references in wire order: for arrays the dense
 * elements, (index, node) pairs for the sparse ones, then properties. */
static int encoder_visit(struct encoder *e, const cp_value *v)
{
	const struct value_container *c = value_is_container(v) ? v->u.c : NULL;
	size_t j, dense;
	int r = 0;

	if (v->type == CP_VALUE_HOST_OBJECT)
		return error_set(CP_ERR_DATA_CLONE, "%.200s could not be cloned", v->u.text.data);
	if (v->type == CP_VALUE_VIEW)
		return push_child(e, v->u.view.buffer);
	if (!c)
		return 0;
	dense = v->type == CP_VALUE_ARRAY ? array_dense_prefix(c) : c->count;
	for (j = 0; r == 0 && j < dense; j++)
		r = push_child(e, c->items[j]);
	if (v->type != CP_VALUE_ARRAY)
		return r;
	for (j = dense; r == 0 && j < c->n_elements; j++) {
		r = push_ref(e, c->indices[j]);
		if (r == 0)
			r = push_child(e, c->items[j]);
	}
	for (j = c->n_elements; r == 0 && j < c->count; j++)
		r = push_child(e, c->items[j]);
	return r;
}

static void node_fill(const struct encoder *e, size_t i, struct wire_node *w);

static int encoder_size(struct encoder *e, size_t i)
{
	struct wire_node w;
	size_t size;

	if (i >= e->sizes_cap) {
		size_t cap = e->sizes_cap ? e->sizes_cap * 2 : 1024;
		size_t *sizes = realloc(e->sizes, cap * sizeof(*sizes));

		if (!sizes)
			return no_memory();
		e->sizes = sizes;
		e->sizes_cap = cap;
	}
	node_fill(e, i, &w);
	size = protobuf_c_message_get_packed_size(&w.node.base);
	if (size > NODE_SIZE_MAX)
		return error_set(CP_ERR_DATA_CLONE, "a %s of %zu bytes is too large to serialize",
				 cp_value_type_name(e->nodes.items[i]), size);
	e->sizes[i] = size;
	e->total += 1 + varint_size(size) + size;
	if (e->total > SIZE_MAX / 2)
		return error_set(CP_ERR_DATA_CLONE, "value is too large to serialize");
	return 0;
}

/* Builds the table, lists references and sizes every node: one pass. */
static int encoder_build_table(struct encoder *e, const cp_value *root)
{
	size_t i, cap = 0;
	uint32_t first;
	int r;

	r = encoder_add(e, root, &first);
	for (i = 0; r == 0 && i < e->nodes.count; i++) {
		if (i + 1 >= cap) {
			size_t *starts;

			cap = cap ? cap * 2 : 1024;
			starts = realloc(e->ref_start, cap * sizeof(*starts));
			if (!starts)
				return no_memory();
			e->ref_start = starts;
		}
		e->ref_start[i] = e->n_refs;
		r = encoder_visit(e, e->nodes.items[i]);
		/* Size the node while it is in cache. */
		e->ref_start[i + 1] = e->n_refs;
		if (r == 0)
			r = encoder_size(e, i);
	}
	return r;
}

static ProtobufCBinaryData text_bytes(const struct value_text *t)
{
	return (ProtobufCBinaryData){ .len = t->len, .data = (uint8_t *)t->data };
}

static void fill_bigint(const cp_value *v, Crosspost__Value__BigInt *b)
{
	crosspost__value__big_int__init(b);
	b->negative = !!(v->flags & VALUE_F_NEGATIVE);
	b->magnitude = text_bytes(&v->u.text);
}

static void node_fill(const struct encoder *e, size_t i, struct wire_node *w)
{
	const cp_value *v = e->nodes.items[i];
	/* No reference yet at all: refs is still NULL. */
	uint32_t *refs = e->refs ? e->refs + e->ref_start[i] : NULL;
	size_t n_refs = e->ref_start[i + 1] - e->ref_start[i];
	const struct value_container *c = value_is_container(v) ? v->u.c : NULL;
	Crosspost__Value__Node *n = &w->node;
	double d;

	crosspost__value__node__init(n);
	switch ((cp_value_type)v->type) {
	case CP_VALUE_UNDEFINED:
	case CP_VALUE_NULL:
		n->kind_case = CROSSPOST__VALUE__NODE__KIND_CONSTANT;
		n->constant = v->type == CP_VALUE_NULL ? CROSSPOST__VALUE__CONSTANT__NULL : CROSSPOST__VALUE__CONSTANT__UNDEFINED;
		break;
	case CP_VALUE_BOOLEAN:
		n->kind_case = CROSSPOST__VALUE__NODE__KIND_BOOLEAN;
		n->boolean = !!(v->flags & VALUE_F_TRUE);
		break;
	case CP_VALUE_NUMBER:
		d = v->u.number;
		if (d == trunc(d) && fabs(d) <= NUMBER_INTEGER_MAX && !(d == 0 && signbit(d))) {
			n->kind_case = CROSSPOST__VALUE__NODE__KIND_INTEGER;
			n->integer = (int64_t)d;
		} else {
			n->kind_case = CROSSPOST__VALUE__NODE__KIND_NUMBER;
			n->number = d;
		}
		break;
	case CP_VALUE_BIGINT:
		n->kind_case = CROSSPOST__VALUE__NODE__KIND_BIGINT;
		fill_bigint(v, &w->sub.bigint);
		n->bigint = &w->sub.bigint;
		break;
	case CP_VALUE_STRING:
		n->kind_case = CROSSPOST__VALUE__NODE__KIND_STRING;
		n->string = text_bytes(&v->u.text);
		break;
	case CP_VALUE_BOOLEAN_OBJECT:
		n->kind_case = CROSSPOST__VALUE__NODE__KIND_BOOLEAN_OBJECT;
		n->boolean_object = !!(v->flags & VALUE_F_TRUE);
		break;
	case CP_VALUE_NUMBER_OBJECT:
		n->kind_case = CROSSPOST__VALUE__NODE__KIND_NUMBER_OBJECT;
		n->number_object = v->u.number;
		break;
	case CP_VALUE_BIGINT_OBJECT:
		n->kind_case = CROSSPOST__VALUE__NODE__KIND_BIGINT_OBJECT;
		fill_bigint(v, &w->sub.bigint);
		n->bigint_object = &w->sub.bigint;
		break;
	case CP_VALUE_STRING_OBJECT:
		n->kind_case = CROSSPOST__VALUE__NODE__KIND_STRING_OBJECT;
		n->string_object = text_bytes(&v->u.text);
		break;
	case CP_VALUE_DATE:
		n->kind_case = CROSSPOST__VALUE__NODE__KIND_DATE;
		n->date = v->u.number;
		break;
	case CP_VALUE_REGEXP:
		n->kind_case = CROSSPOST__VALUE__NODE__KIND_REGEXP;
		crosspost__value__reg_exp__init(&w->sub.regexp);
		w->sub.regexp.source = text_bytes(&v->u.text);
		w->sub.regexp.flags = v->sub;
		n->regexp = &w->sub.regexp;
		break;
	case CP_VALUE_ARRAY_BUFFER:
		n->kind_case = CROSSPOST__VALUE__NODE__KIND_ARRAY_BUFFER;
		n->array_buffer = (ProtobufCBinaryData){ .len = v->u.buffer.len, .data = v->u.buffer.data };
		break;
	case CP_VALUE_VIEW:
		n->kind_case = CROSSPOST__VALUE__NODE__KIND_VIEW;
		crosspost__value__view__init(&w->sub.view);
		w->sub.view.kind = (Crosspost__Value__ViewKind)v->sub;
		w->sub.view.buffer = refs[0];
		w->sub.view.byte_offset = v->u.view.byte_offset;
		w->sub.view.length = v->u.view.length;
		n->view = &w->sub.view;
		break;
	case CP_VALUE_OBJECT:
		n->kind_case = CROSSPOST__VALUE__NODE__KIND_OBJECT;
		crosspost__value__object__init(&w->sub.object);
		w->sub.object.n_properties = n_refs;
		w->sub.object.properties = refs;
		n->object = &w->sub.object;
		break;
	case CP_VALUE_MAP:
		n->kind_case = CROSSPOST__VALUE__NODE__KIND_MAP;
		crosspost__value__map__init(&w->sub.map);
		w->sub.map.n_entries = n_refs;
		w->sub.map.entries = refs;
		n->map = &w->sub.map;
		break;
	case CP_VALUE_SET:
		n->kind_case = CROSSPOST__VALUE__NODE__KIND_SET;
		crosspost__value__set__init(&w->sub.set);
		w->sub.set.n_members = n_refs;
		w->sub.set.members = refs;
		n->set = &w->sub.set;
		break;
	case CP_VALUE_ARRAY: {
		Crosspost__Value__Array *a = &w->sub.array;
		size_t count = c ? c->count : 0, n_el = c ? c->n_elements : 0;
		/* refs: dense elements, (index, node) pairs, property pairs. */
		size_t sparse = n_refs - count;
		size_t dense = n_el - sparse;

		n->kind_case = CROSSPOST__VALUE__NODE__KIND_ARRAY;
		crosspost__value__array__init(a);
		a->length = c ? c->length : 0;
		a->n_elements = dense;
		a->elements = refs;
		a->n_sparse = 2 * sparse;
		a->sparse = refs ? refs + dense : NULL;
		a->n_properties = count - n_el;
		a->properties = refs ? refs + dense + 2 * sparse : NULL;
		n->array = a;
		break;
	}
	case CP_VALUE_ERROR: {
		Crosspost__Value__Error *er = &w->sub.error;

		n->kind_case = CROSSPOST__VALUE__NODE__KIND_ERROR;
		crosspost__value__error__init(er);
		er->name = (Crosspost__Value__ErrorName)v->sub;
		if (v->flags & VALUE_F_HAS_MESSAGE) {
			er->has_message_case = CROSSPOST__VALUE__ERROR__HAS_MESSAGE_MESSAGE;
			er->message = text_bytes(&v->u.error->message);
		}
		if (v->flags & VALUE_F_HAS_STACK) {
			er->has_stack_case = CROSSPOST__VALUE__ERROR__HAS_STACK_STACK;
			er->stack = text_bytes(&v->u.error->stack);
		}
		n->error = er;
		break;
	}
	case CP_VALUE_HOST_OBJECT:
		/* Refused while building the table. */
		break;
	}
}

int value_encode(const cp_value *value, uint8_t **ret_bytes, size_t *ret_len)
{
	struct encoder e = { 0 };
	struct wire_node w;
	size_t i, pos = 0;
	uint8_t *out = NULL;
	int r;

	if (!value)
		return error_set(CP_ERR_TYPE, "value is NULL");
	r = encoder_build_table(&e, value);
	if (r < 0)
		goto out;
	out = malloc(e.total ? e.total : 1);
	if (!out) {
		r = no_memory();
		goto out;
	}
	for (i = 0; i < e.nodes.count; i++) {
		node_fill(&e, i, &w);
		out[pos++] = TAG_NODES;
		pos += varint_write(out + pos, e.sizes[i]);
		pos += protobuf_c_message_pack(&w.node.base, out + pos);
	}
	*ret_bytes = out;
	*ret_len = pos;
	out = NULL;
	r = 0;
out:
	free(out);
	encoder_deinit(&e);
	return r;
}

/* ------------------------------------------------------------------ */
/* Decoding                                                            */
/* ------------------------------------------------------------------ */

/* The bytes are untrusted.  Nodes are unpacked one at a time, so
 * protobuf-c's intermediate structures never hold more than one node;
 * each becomes a cp_value at once (pass 1) with its references kept as
 * raw table positions in its child slots, checked against the table size.
 * Pass 2 turns positions into pointers and checks what needs the other
 * nodes (key types, duplicate keys, view ranges); pass 3 checks that
 * every node is reachable from the root, so that freeing the root frees
 * everything.  No pass recurses. */

static int bad(size_t node, const char *what)
{
	return error_set(CP_ERR_DATA, "malformed value: node %zu: %s", node, what);
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
static int node_create(Crosspost__Value__Node *pb, size_t n, size_t i, cp_value **ret)
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
		v = value_alloc(CP_VALUE_ARRAY_BUFFER, 0);
		if (v) {
			/* Take protobuf-c's copy (its allocator is malloc) rather
			 * than copy it again: one copy of the bytes per decode. */
			v->u.buffer.data = pb->array_buffer.data;
			v->u.buffer.len = pb->array_buffer.len;
			pb->array_buffer.data = NULL;
			pb->array_buffer.len = 0;
		}
		break;
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

/* Walks the top-level fields.  Returns the number of nodes, or -1 when the
 * framing is corrupt; with table, unpacks and creates each node. */
static int scan(const uint8_t *bytes, size_t len, cp_value **table, size_t n, size_t *ret_count)
{
	size_t pos = 0, count = 0;
	int r;

	while (pos < len) {
		uint64_t tag, l;

		if (!varint_read(bytes, len, &pos, &tag) || tag >> 3 == 0 || tag >> 3 > UINT32_MAX)
			return error_set(CP_ERR_DATA, "malformed value: bad field tag at byte %zu", pos);
		switch (tag & 7) {
		case 0:
			if (!varint_read(bytes, len, &pos, &l))
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
			if (!varint_read(bytes, len, &pos, &l) || l > len - pos)
				return error_set(CP_ERR_DATA, "malformed value: truncated field");
			if (tag == TAG_NODES) {
				if (table) {
					Crosspost__Value__Node *pb = crosspost__value__node__unpack(NULL, l, bytes + pos);

					if (!pb)
						return bad(count, "not a protobuf Node");
					r = node_create(pb, n, count, &table[count]);
					crosspost__value__node__free_unpacked(pb, NULL);
					if (r < 0)
						return r;
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

int value_decode(const uint8_t *bytes, size_t len, cp_value **ret)
{
	cp_value **table = NULL;
	size_t n = 0, i;
	int r;

	if (!bytes && len)
		return error_set(CP_ERR_TYPE, "bytes are NULL");
	r = scan(bytes, len, NULL, 0, &n);
	if (r < 0)
		return r;
	if (n == 0)
		return error_set(CP_ERR_DATA, "malformed value: no nodes");
	table = calloc(n, sizeof(*table));
	if (!table)
		return error_set(CP_ERR_NO_MEMORY, "out of memory for a %zu-node value", n);
	r = scan(bytes, len, table, n, &n);
	for (i = 0; r == 0 && i < n; i++)
		r = node_link(table[i], table, i);
	if (r == 0 && !all_reachable(table, n))
		r = error_set(CP_ERR_DATA, "malformed value: some nodes are unreachable from the root");
	if (r == 0) {
		*ret = table[0];
		free(table);
		return 0;
	}
	if (r == CP_ERR_NO_MEMORY)
		error_set(r, "out of memory deserializing a value");
	for (i = 0; i < n; i++)
		if (table[i])
			value_free_shallow(table[i]);
	free(table);
	return r;
}
