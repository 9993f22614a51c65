/* SPDX-License-Identifier: MIT */
/* value_node_read.c - parses one protobuf Node (proto/value.proto) from untrusted bytes, without allocating per node. */
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "value_node_read.h"
#include "value_wire.h"

/* protobuf's largest field number. */
#define FIELD_NUMBER_MAX ((1u << 29) - 1)

/* One field as found on the wire. */
struct field {
	uint32_t number;
	unsigned type;             /* WIRE_* */
	uint64_t value;            /* VARINT, FIXED64, FIXED32 */
	const uint8_t *data;       /* LEN: the contents */
	size_t len;
};

/* Reads the field at p[*pos]: 1 with *f, 0 at the end, -EINVAL when
 * malformed. */
static int next_field(const uint8_t *p, size_t len, size_t *pos, struct field *f)
{
	uint64_t tag, n;

	if (*pos >= len)
		return 0;
	if (!wire_varint_get(p, len, pos, &tag) || (tag >> 3) == 0 || (tag >> 3) > FIELD_NUMBER_MAX)
		return -EINVAL;
	f->number = (uint32_t)(tag >> 3);
	f->type = (unsigned)(tag & 7);
	switch (f->type) {
	case WIRE_VARINT:
		return wire_varint_get(p, len, pos, &f->value) ? 1 : -EINVAL;
	case WIRE_FIXED64:
	case WIRE_FIXED32:
		n = f->type == WIRE_FIXED64 ? 8 : 4;
		if (len - *pos < n)
			return -EINVAL;
		f->value = 0;
		for (unsigned i = 0; i < n; i++)
			f->value |= (uint64_t)p[*pos + i] << (8 * i);
		*pos += n;
		return 1;
	case WIRE_LEN:
		if (!wire_varint_get(p, len, pos, &n) || n > len - *pos)
			return -EINVAL;
		f->data = p + *pos;
		f->len = (size_t)n;
		*pos += n;
		return 1;
	default:
		/* Groups are long deprecated; nothing here uses them. */
		return -EINVAL;
	}
}

static int list_reserve(struct node_list *l, size_t extra)
{
	size_t cap;
	uint32_t *items;

	if (l->cap - l->count >= extra)
		return 0;
	cap = l->cap ? l->cap : 16;
	while (cap - l->count < extra)
		cap *= 2;
	items = realloc(l->items, cap * sizeof(*items));
	if (!items)
		return -ENOMEM;
	l->items = items;
	l->cap = cap;
	return 0;
}

/* One occurrence of a repeated uint32 field: a varint, or a packed run of
 * them (each taken to 32 bits, as protobuf-c does). */
static int list_add(struct node_list *l, const struct field *f)
{
	size_t pos = 0, n = 0;
	uint64_t v;
	int r;

	if (f->type == WIRE_VARINT) {
		r = list_reserve(l, 1);
		if (r == 0)
			l->items[l->count++] = (uint32_t)f->value;
		return r;
	}
	if (f->type != WIRE_LEN)
		return -EINVAL;
	/* Every varint ends in one byte below 0x80: that many at most. */
	for (size_t i = 0; i < f->len; i++)
		n += f->data[i] < 0x80;
	r = list_reserve(l, n);
	if (r < 0)
		return r;
	while (pos < f->len) {
		if (!wire_varint_get(f->data, f->len, &pos, &v))
			return -EINVAL;
		l->items[l->count++] = (uint32_t)v;
	}
	return 0;
}

static ProtobufCBinaryData binary(const struct field *f)
{
	return (ProtobufCBinaryData){ .len = f->len, .data = (uint8_t *)f->data };
}

static bool need(const struct field *f, unsigned type)
{
	return f->type == type;
}

static int read_bigint(Crosspost__Value__BigInt *b, const struct field *m)
{
	struct field f;
	size_t pos = 0;
	int r;

	crosspost__value__big_int__init(b);
	while ((r = next_field(m->data, m->len, &pos, &f)) > 0) {
		if (f.number == 1 && need(&f, WIRE_VARINT))
			b->negative = f.value != 0;
		else if (f.number == 2 && need(&f, WIRE_LEN))
			b->magnitude = binary(&f);
		else if (f.number <= 2)
			return -EINVAL;
	}
	return r;
}

/* Object, Map and Set: one repeated uint32 field, number 1. */
static int read_refs(struct node_reader *r, const struct field *m, uint32_t **ret, size_t *ret_count)
{
	struct node_list *l = &r->lists[0];
	struct field f;
	size_t pos = 0;
	int k;

	l->count = 0;
	while ((k = next_field(m->data, m->len, &pos, &f)) > 0)
		if (f.number == 1 && (k = list_add(l, &f)) < 0)
			return k;
	*ret = l->items;
	*ret_count = l->count;
	return k;
}

static int read_array(struct node_reader *r, const struct field *m)
{
	Crosspost__Value__Array *a = &r->sub.array;
	struct field f;
	size_t pos = 0;
	int k;

	crosspost__value__array__init(a);
	for (int i = 0; i < 3; i++)
		r->lists[i].count = 0;
	while ((k = next_field(m->data, m->len, &pos, &f)) > 0) {
		if (f.number == 1) {
			if (!need(&f, WIRE_VARINT))
				return -EINVAL;
			a->length = (uint32_t)f.value;
		} else if (f.number <= 4 && (k = list_add(&r->lists[f.number - 2], &f)) < 0) {
			return k;
		}
	}
	a->elements = r->lists[0].items;
	a->n_elements = r->lists[0].count;
	a->sparse = r->lists[1].items;
	a->n_sparse = r->lists[1].count;
	a->properties = r->lists[2].items;
	a->n_properties = r->lists[2].count;
	return k;
}

static int read_regexp(Crosspost__Value__RegExp *re, const struct field *m)
{
	struct field f;
	size_t pos = 0;
	int r;

	crosspost__value__reg_exp__init(re);
	while ((r = next_field(m->data, m->len, &pos, &f)) > 0) {
		if (f.number == 1 && need(&f, WIRE_LEN))
			re->source = binary(&f);
		else if (f.number == 2 && need(&f, WIRE_VARINT))
			re->flags = (uint32_t)f.value;
		else if (f.number <= 2)
			return -EINVAL;
	}
	return r;
}

static int read_view(Crosspost__Value__View *w, const struct field *m)
{
	struct field f;
	size_t pos = 0;
	int r;

	crosspost__value__view__init(w);
	while ((r = next_field(m->data, m->len, &pos, &f)) > 0) {
		if (f.number > 4)
			continue;
		if (!need(&f, WIRE_VARINT))
			return -EINVAL;
		switch (f.number) {
		case 1: w->kind = (Crosspost__Value__ViewKind)(int32_t)(uint32_t)f.value; break;
		case 2: w->buffer = (uint32_t)f.value; break;
		case 3: w->byte_offset = f.value; break;
		case 4: w->length = f.value; break;
		}
	}
	return r;
}

static int read_error(Crosspost__Value__Error *er, const struct field *m)
{
	struct field f;
	size_t pos = 0;
	int r;

	crosspost__value__error__init(er);
	while ((r = next_field(m->data, m->len, &pos, &f)) > 0) {
		if (f.number == 1 && need(&f, WIRE_VARINT)) {
			er->name = (Crosspost__Value__ErrorName)(int32_t)(uint32_t)f.value;
		} else if (f.number == 2 && need(&f, WIRE_LEN)) {
			er->has_message_case = CROSSPOST__VALUE__ERROR__HAS_MESSAGE_MESSAGE;
			er->message = binary(&f);
		} else if (f.number == 3 && need(&f, WIRE_LEN)) {
			er->has_stack_case = CROSSPOST__VALUE__ERROR__HAS_STACK_STACK;
			er->stack = binary(&f);
		} else if (f.number <= 3) {
			return -EINVAL;
		}
	}
	return r;
}

/* The wire type each kind of Node is written with. */
static const uint8_t kind_wire_type[NODE_KIND_MAX + 1] = {
	[NODE_CONSTANT] = WIRE_VARINT, [NODE_BOOLEAN] = WIRE_VARINT, [NODE_NUMBER] = WIRE_FIXED64,
	[NODE_INTEGER] = WIRE_VARINT, [NODE_STRING] = WIRE_LEN, [NODE_BIGINT] = WIRE_LEN,
	[NODE_OBJECT] = WIRE_LEN, [NODE_ARRAY] = WIRE_LEN, [NODE_MAP] = WIRE_LEN, [NODE_SET] = WIRE_LEN,
	[NODE_DATE] = WIRE_FIXED64, [NODE_REGEXP] = WIRE_LEN, [NODE_ARRAY_BUFFER] = WIRE_LEN,
	[NODE_VIEW] = WIRE_LEN, [NODE_ERROR] = WIRE_LEN, [NODE_BOOLEAN_OBJECT] = WIRE_VARINT,
	[NODE_NUMBER_OBJECT] = WIRE_FIXED64, [NODE_BIGINT_OBJECT] = WIRE_LEN,
	[NODE_STRING_OBJECT] = WIRE_LEN, [NODE_PORT] = WIRE_VARINT,
	[NODE_TRANSFERRED_ARRAY_BUFFER] = WIRE_VARINT,
};

static double as_double(uint64_t bits)
{
	double d;

	memcpy(&d, &bits, sizeof(d));
	return d;
}

int node_read(struct node_reader *r, const uint8_t *bytes, size_t len)
{
	Crosspost__Value__Node *n = &r->node;
	struct field f, kind = { 0 };
	size_t pos = 0;
	int k;

	/* Only the last member of the oneof counts: find it, then read it. */
	while ((k = next_field(bytes, len, &pos, &f)) > 0) {
		if (f.number > NODE_KIND_MAX)
			continue;
		if (f.type != kind_wire_type[f.number])
			return -EINVAL;
		kind = f;
	}
	if (k < 0)
		return k;
	crosspost__value__node__init(n);
	n->kind_case = (Crosspost__Value__Node__KindCase)kind.number;
	switch (kind.number) {
	case 0:
		return 0;
	case NODE_CONSTANT:
		n->constant = (Crosspost__Value__Constant)(int32_t)(uint32_t)kind.value;
		return 0;
	case NODE_BOOLEAN:
		n->boolean = kind.value != 0;
		return 0;
	case NODE_BOOLEAN_OBJECT:
		n->boolean_object = kind.value != 0;
		return 0;
	case NODE_NUMBER:
		n->number = as_double(kind.value);
		return 0;
	case NODE_NUMBER_OBJECT:
		n->number_object = as_double(kind.value);
		return 0;
	case NODE_DATE:
		n->date = as_double(kind.value);
		return 0;
	case NODE_INTEGER:
		n->integer = wire_unzigzag(kind.value);
		return 0;
	case NODE_PORT:
		n->port = (uint32_t)kind.value;
		return 0;
	case NODE_TRANSFERRED_ARRAY_BUFFER:
		n->transferred_array_buffer = (uint32_t)kind.value;
		return 0;
	case NODE_STRING:
		n->string = binary(&kind);
		return 0;
	case NODE_STRING_OBJECT:
		n->string_object = binary(&kind);
		return 0;
	case NODE_ARRAY_BUFFER:
		n->array_buffer = binary(&kind);
		return 0;
	case NODE_BIGINT:
		n->bigint = &r->sub.bigint;
		return read_bigint(n->bigint, &kind);
	case NODE_BIGINT_OBJECT:
		n->bigint_object = &r->sub.bigint;
		return read_bigint(n->bigint_object, &kind);
	case NODE_OBJECT:
		n->object = &r->sub.object;
		crosspost__value__object__init(n->object);
		return read_refs(r, &kind, &n->object->properties, &n->object->n_properties);
	case NODE_MAP:
		n->map = &r->sub.map;
		crosspost__value__map__init(n->map);
		return read_refs(r, &kind, &n->map->entries, &n->map->n_entries);
	case NODE_SET:
		n->set = &r->sub.set;
		crosspost__value__set__init(n->set);
		return read_refs(r, &kind, &n->set->members, &n->set->n_members);
	case NODE_ARRAY:
		n->array = &r->sub.array;
		return read_array(r, &kind);
	case NODE_REGEXP:
		n->regexp = &r->sub.regexp;
		return read_regexp(n->regexp, &kind);
	case NODE_VIEW:
		n->view = &r->sub.view;
		return read_view(n->view, &kind);
	case NODE_ERROR:
		n->error = &r->sub.error;
		return read_error(n->error, &kind);
	}
	return -EINVAL;
}

void node_reader_init(struct node_reader *r)
{
	memset(r->lists, 0, sizeof(r->lists));
}

void node_reader_deinit(struct node_reader *r)
{
	for (int i = 0; i < 3; i++) {
		free(r->lists[i].items);
		r->lists[i] = (struct node_list){ 0 };
	}
}
