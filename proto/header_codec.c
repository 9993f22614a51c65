/* SPDX-License-Identifier: MIT */
/* header_codec.c - Post and Event headers packed by straight code and read by table; the rest by protobuf-c. */
#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <string.h>

#include "header_codec.h"

enum { WIRE_VARINT = 0, WIRE_LENGTH = 2 };

/* The Header's fields the fast path knows: serial, and two bodies. */
enum { HEADER_SERIAL = 1, HEADER_POST = 21, HEADER_EVENT = 24 };

/* What one field of a body holds, for reading.  The tables below say it
 * for Post and Event; check_header_codec sets every field protobuf-c's
 * descriptors list and requires the fast path to read it, so a change to
 * crosspost.proto that they miss fails the tests. */
typedef enum Kind {
	KIND_NONE,            /* not a field: a number the fast path leaves to protobuf-c */
	KIND_UINT64,
	KIND_UINT32,
	KIND_ENUM,            /* int32 on the wire; negative values go to protobuf-c */
	KIND_STRING,
	KIND_PACKED_UINT64,   /* repeated uint64, packed; count at count_offset */
} Kind;

typedef struct Field {
	Kind kind;
	unsigned short offset;
	unsigned short count_offset;
} Field;

typedef struct Body {
	const ProtobufCMessageDescriptor *descriptor;
	const Field *fields;     /* indexed by field number; [0] unused */
	unsigned n_fields;       /* the largest field number + 1 */
} Body;

#define FIELD(kind, type, member) { kind, offsetof(type, member), 0 }
#define PACKED(type, member) { KIND_PACKED_UINT64, offsetof(type, member), offsetof(type, n_##member) }

static const Field post_fields[] = {
	[1] = FIELD(KIND_UINT64, Crosspost__Post, sender_window_id),
	[2] = FIELD(KIND_UINT64, Crosspost__Post, target_window_id),
	[3] = FIELD(KIND_STRING, Crosspost__Post, target_origin),
	[4] = FIELD(KIND_UINT32, Crosspost__Post, fd_count),
	[5] = PACKED(Crosspost__Post, transfer_ports),
	[6] = PACKED(Crosspost__Post, buffer_sizes),
};

static const Field event_fields[] = {
	[1] = FIELD(KIND_ENUM, Crosspost__Event, type),
	[2] = FIELD(KIND_UINT64, Crosspost__Event, target_window_id),
	[3] = FIELD(KIND_STRING, Crosspost__Event, origin),
	[4] = FIELD(KIND_UINT64, Crosspost__Event, source_window_id),
	[5] = FIELD(KIND_STRING, Crosspost__Event, source_name),
	[6] = FIELD(KIND_UINT64, Crosspost__Event, checked_generation),
	[7] = FIELD(KIND_STRING, Crosspost__Event, target_origin),
	[8] = FIELD(KIND_UINT32, Crosspost__Event, fd_count),
	[9] = FIELD(KIND_UINT64, Crosspost__Event, target_port_id),
	[10] = PACKED(Crosspost__Event, ports),
	[11] = PACKED(Crosspost__Event, buffer_sizes),
	[12] = FIELD(KIND_UINT64, Crosspost__Event, target_document),
	[13] = FIELD(KIND_UINT64, Crosspost__Event, target_broadcast_id),
	[14] = FIELD(KIND_STRING, Crosspost__Event, drop_reason),
	[15] = FIELD(KIND_UINT64, Crosspost__Event, dropped_target_id),
};

static const Body post_body = { &crosspost__post__descriptor, post_fields,
				sizeof(post_fields) / sizeof(post_fields[0]) };
static const Body event_body = { &crosspost__event__descriptor, event_fields,
				 sizeof(event_fields) / sizeof(event_fields[0]) };

/* Whether the fast packer takes a header: a Post or an Event with no
 * unknown fields kept from an unpack. */
static bool fast_packs(const Crosspost__Header *header)
{
	if (header->base.n_unknown_fields > 0)
		return false;
	if (header->body_case == CROSSPOST__HEADER__BODY_POST)
		return header->post && header->post->base.n_unknown_fields == 0;
	/* protobuf-c packs a negative enum as ten bytes; rare enough to leave. */
	if (header->body_case == CROSSPOST__HEADER__BODY_EVENT)
		return header->event && header->event->base.n_unknown_fields == 0 && (int)header->event->type >= 0;
	return false;
}

/* ---- packing --------------------------------------------------------- */

/* Straight code per field, not the tables: a broker packs an Event for
 * every message, and a loop over a table of fields cost three times as
 * much.  As protobuf-c packs a proto3 field: nothing for 0, "" or no
 * elements; field numbers below 16, so each tag is one byte. */

static size_t varint_size(uint64_t v)
{
	return v < 128 ? 1 : (size_t)(64 - __builtin_clzll(v) + 6) / 7;
}

static uint8_t *put_varint(uint8_t *p, uint64_t v)
{
	while (v >= 128) {
		*p++ = (uint8_t)(v | 128);
		v >>= 7;
	}
	*p++ = (uint8_t)v;
	return p;
}

static size_t size_uint(uint64_t v)
{
	return v ? 1 + varint_size(v) : 0;
}

static uint8_t *put_uint(uint8_t *p, unsigned number, uint64_t v)
{
	if (!v)
		return p;
	*p++ = (uint8_t)(number << 3 | WIRE_VARINT);
	return put_varint(p, v);
}

static size_t size_string(const char *s)
{
	size_t n;

	if (!s || !*s)
		return 0;
	n = strlen(s);
	return 1 + varint_size(n) + n;
}

static uint8_t *put_string(uint8_t *p, unsigned number, const char *s)
{
	size_t n;

	if (!s || !*s)
		return p;
	n = strlen(s);
	*p++ = (uint8_t)(number << 3 | WIRE_LENGTH);
	p = put_varint(p, n);
	memcpy(p, s, n);
	return p + n;
}

static size_t packed_length(const uint64_t *values, size_t count)
{
	size_t length = 0;

	for (size_t i = 0; i < count; i++)
		length += varint_size(values[i]);
	return length;
}

static size_t size_packed(const uint64_t *values, size_t count)
{
	size_t length;

	if (count == 0)
		return 0;
	length = packed_length(values, count);
	return 1 + varint_size(length) + length;
}

static uint8_t *put_packed(uint8_t *p, unsigned number, const uint64_t *values, size_t count)
{
	if (count == 0)
		return p;
	*p++ = (uint8_t)(number << 3 | WIRE_LENGTH);
	p = put_varint(p, packed_length(values, count));
	for (size_t i = 0; i < count; i++)
		p = put_varint(p, values[i]);
	return p;
}

static size_t size_post(const Crosspost__Post *m)
{
	return size_uint(m->sender_window_id) + size_uint(m->target_window_id) +
	       size_string(m->target_origin) + size_uint(m->fd_count) +
	       size_packed(m->transfer_ports, m->n_transfer_ports) +
	       size_packed(m->buffer_sizes, m->n_buffer_sizes);
}

static uint8_t *put_post(uint8_t *p, const Crosspost__Post *m)
{
	p = put_uint(p, 1, m->sender_window_id);
	p = put_uint(p, 2, m->target_window_id);
	p = put_string(p, 3, m->target_origin);
	p = put_uint(p, 4, m->fd_count);
	p = put_packed(p, 5, m->transfer_ports, m->n_transfer_ports);
	return put_packed(p, 6, m->buffer_sizes, m->n_buffer_sizes);
}

static size_t size_event(const Crosspost__Event *m)
{
	return size_uint((uint32_t)m->type) + size_uint(m->target_window_id) + size_string(m->origin) +
	       size_uint(m->source_window_id) + size_string(m->source_name) +
	       size_uint(m->checked_generation) + size_string(m->target_origin) + size_uint(m->fd_count) +
	       size_uint(m->target_port_id) + size_packed(m->ports, m->n_ports) +
	       size_packed(m->buffer_sizes, m->n_buffer_sizes) + size_uint(m->target_document) +
	       size_uint(m->target_broadcast_id) + size_string(m->drop_reason) +
	       size_uint(m->dropped_target_id);
}

static uint8_t *put_event(uint8_t *p, const Crosspost__Event *m)
{
	p = put_uint(p, 1, (uint32_t)m->type);
	p = put_uint(p, 2, m->target_window_id);
	p = put_string(p, 3, m->origin);
	p = put_uint(p, 4, m->source_window_id);
	p = put_string(p, 5, m->source_name);
	p = put_uint(p, 6, m->checked_generation);
	p = put_string(p, 7, m->target_origin);
	p = put_uint(p, 8, m->fd_count);
	p = put_uint(p, 9, m->target_port_id);
	p = put_packed(p, 10, m->ports, m->n_ports);
	p = put_packed(p, 11, m->buffer_sizes, m->n_buffer_sizes);
	p = put_uint(p, 12, m->target_document);
	p = put_uint(p, 13, m->target_broadcast_id);
	p = put_string(p, 14, m->drop_reason);
	return put_uint(p, 15, m->dropped_target_id);
}

static size_t size_body(const Crosspost__Header *header)
{
	return header->body_case == CROSSPOST__HEADER__BODY_POST ? size_post(header->post) :
								   size_event(header->event);
}

/* The body's tag: field 21 or 24, length-delimited, two bytes. */
static size_t size_header(const Crosspost__Header *header, size_t body)
{
	return size_uint(header->serial) + 2 + varint_size(body) + body;
}

size_t header_fast_packed_size(const Crosspost__Header *header)
{
	if (!fast_packs(header))
		return 0;
	return size_header(header, size_body(header));
}

size_t header_packed_size(const Crosspost__Header *header)
{
	size_t n = header_fast_packed_size(header);

	return n ? n : crosspost__header__get_packed_size(header);
}

/* The body's size, from the header's (size_header() solved for body:
 * body + varint_size(body) grows with body, so one answer fits). */
static size_t body_of_size(const Crosspost__Header *header, size_t size)
{
	size_t rest = size - size_uint(header->serial) - 2;

	for (size_t k = 1; k <= 3 && k <= rest; k++)
		if (varint_size(rest - k) == k)
			return rest - k;
	return rest;
}

size_t header_pack(const Crosspost__Header *header, size_t size, uint8_t *out)
{
	uint8_t *p = out;

	if (!fast_packs(header))
		return crosspost__header__pack(header, out);
	p = put_uint(p, HEADER_SERIAL, header->serial);
	p = put_varint(p, (uint64_t)header->body_case << 3 | WIRE_LENGTH);
	p = put_varint(p, body_of_size(header, size));
	p = header->body_case == CROSSPOST__HEADER__BODY_POST ? put_post(p, header->post) :
								put_event(p, header->event);
	return (size_t)(p - out);
}

/* ---- unpacking ------------------------------------------------------- */

typedef struct In {
	const uint8_t *p, *end;
} In;

/* A varint of at most max_bytes bytes: longer ones, and the end of the
 * input, are left to protobuf-c (false). */
static bool in_varint(In *in, unsigned max_bytes, uint64_t *ret)
{
	uint64_t v = 0;

	for (unsigned i = 0; i < max_bytes && in->p < in->end; i++) {
		uint8_t b = *in->p++;

		v |= (uint64_t)(b & 127) << (7 * i);
		if (!(b & 128)) {
			*ret = v;
			return true;
		}
	}
	return false;
}

/* Nine bytes hold every value below 2^63; ids are far smaller. */
#define VARINT_UINT64_MAX_BYTES 9
/* protobuf-c reads five, and keeps the low 32 bits of a longer one. */
#define VARINT_UINT32_MAX_BYTES 5
/* A length: headers are at most 64 KiB (frame.h). */
#define VARINT_LENGTH_MAX_BYTES 4

static bool in_length(In *in, In *ret)
{
	uint64_t n;

	if (!in_varint(in, VARINT_LENGTH_MAX_BYTES, &n) || n > (uint64_t)(in->end - in->p))
		return false;
	ret->p = in->p;
	ret->end = in->p + n;
	in->p += n;
	return true;
}

static void *alloc(ProtobufCAllocator *allocator, size_t size)
{
	return allocator->alloc(allocator->allocator_data, size);
}

/* A string or packed field the reading pass found: its bytes, copied
 * once the whole body is known good. */
typedef struct Span {
	const Field *field;
	In bytes;
	size_t count;    /* packed: elements */
} Span;

/* At most: Event's four strings and two packed fields. */
#define SPANS_MAX 8

/* One read of a body, in a single pass: scalars straight into m (a copy
 * on the stack), strings and packed fields as spans.  Each known field at
 * most once, in increasing order.  Returns 1, or 0 when protobuf-c must
 * decide. */
static int read_body(In in, const Body *body, ProtobufCMessage *m, Span *spans, size_t *ret_n_spans)
{
	size_t n_spans = 0;
	unsigned last = 0;

	while (in.p < in.end) {
		const Field *f;
		uint64_t tag, v;
		unsigned number, wire;
		char *at;

		if (!in_varint(&in, 2, &tag))
			return 0;
		number = (unsigned)(tag >> 3);
		wire = (unsigned)(tag & 7);
		if (number <= last || number >= body->n_fields)
			return 0;
		last = number;
		f = &body->fields[number];
		at = (char *)m + f->offset;
		if (n_spans == SPANS_MAX)
			return 0;    /* more strings than any body has: not ours */
		switch (f->kind) {
		case KIND_UINT64:
			if (wire != WIRE_VARINT || !in_varint(&in, VARINT_UINT64_MAX_BYTES, &v))
				return 0;
			memcpy(at, &v, sizeof(v));
			break;
		case KIND_UINT32:
		case KIND_ENUM: {
			uint32_t u;

			if (wire != WIRE_VARINT || !in_varint(&in, VARINT_UINT32_MAX_BYTES, &v) ||
			    v > (f->kind == KIND_ENUM ? (uint64_t)INT32_MAX : (uint64_t)UINT32_MAX))
				return 0;
			u = (uint32_t)v;
			memcpy(at, &u, sizeof(u));
			break;
		}
		case KIND_STRING:
			if (wire != WIRE_LENGTH || !in_length(&in, &spans[n_spans].bytes))
				return 0;
			spans[n_spans].field = f;
			spans[n_spans++].count = 0;
			break;
		case KIND_PACKED_UINT64: {
			size_t count = 0;
			In part;

			/* Unpacked elements, and an empty packed field, are left. */
			if (wire != WIRE_LENGTH || !in_length(&in, &part) || part.p == part.end)
				return 0;
			for (In scan = part; scan.p < scan.end; count++) {
				if (!in_varint(&scan, VARINT_UINT64_MAX_BYTES, &v))
					return 0;
			}
			spans[n_spans].field = f;
			spans[n_spans].bytes = part;
			spans[n_spans++].count = count;
			break;
		}
		case KIND_NONE:
			return 0;
		}
	}
	*ret_n_spans = n_spans;
	return 1;
}

/* Copies a span into memory from the allocator, and points m at it (as
 * protobuf-c: a string's bytes and a NUL; a packed field's values). */
static int fill_span(const Span *span, ProtobufCMessage *m, ProtobufCAllocator *allocator)
{
	const Field *f = span->field;
	size_t n = (size_t)(span->bytes.end - span->bytes.p);
	char *at = (char *)m + f->offset;

	if (f->kind == KIND_STRING) {
		char *s = alloc(allocator, n + 1);

		if (!s)
			return -ENOMEM;
		memcpy(s, span->bytes.p, n);
		s[n] = '\0';
		memcpy(at, &s, sizeof(s));
	} else {
		uint64_t *values = alloc(allocator, span->count * sizeof(uint64_t));
		In part = span->bytes;

		if (!values)
			return -ENOMEM;
		for (size_t i = 0; i < span->count; i++)
			in_varint(&part, VARINT_UINT64_MAX_BYTES, &values[i]);
		memcpy(at, &values, sizeof(values));
		memcpy((char *)m + f->count_offset, &span->count, sizeof(span->count));
	}
	return 0;
}

int header_fast_unpack(ProtobufCAllocator *allocator, size_t length, const uint8_t *bytes,
		       Crosspost__Header **ret)
{
	In in = { bytes, bytes + length }, body_bytes;
	union {
		ProtobufCMessage base;
		Crosspost__Post post;
		Crosspost__Event event;
	} read;
	Span spans[SPANS_MAX];
	size_t n_spans = 0;
	uint32_t serial = 0;
	const Body *body;
	Crosspost__Header *header;
	ProtobufCMessage *m;
	uint64_t tag, v;

	if (!in_varint(&in, 2, &tag))
		return 0;
	if (tag == ((unsigned)HEADER_SERIAL << 3 | WIRE_VARINT)) {
		if (!in_varint(&in, VARINT_UINT32_MAX_BYTES, &v) || v > UINT32_MAX || !in_varint(&in, 2, &tag))
			return 0;
		serial = (uint32_t)v;
	}
	if (tag == ((unsigned)HEADER_POST << 3 | WIRE_LENGTH)) {
		body = &post_body;
		crosspost__post__init(&read.post);
	} else if (tag == ((unsigned)HEADER_EVENT << 3 | WIRE_LENGTH)) {
		body = &event_body;
		crosspost__event__init(&read.event);
	} else {
		return 0;
	}
	/* Read whole before anything is allocated: what falls back to
	 * protobuf-c leaves nothing behind. */
	if (!in_length(&in, &body_bytes) || in.p != in.end || !read_body(body_bytes, body, &read.base, spans, &n_spans))
		return 0;

	header = alloc(allocator, sizeof(*header));
	if (!header)
		return -ENOMEM;
	crosspost__header__init(header);
	m = alloc(allocator, body->descriptor->sizeof_message);
	if (!m) {
		allocator->free(allocator->allocator_data, header);
		return -ENOMEM;
	}
	memcpy(m, &read, body->descriptor->sizeof_message);
	header->serial = serial;
	if (body == &post_body) {
		header->body_case = CROSSPOST__HEADER__BODY_POST;
		header->post = (Crosspost__Post *)m;
	} else {
		header->body_case = CROSSPOST__HEADER__BODY_EVENT;
		header->event = (Crosspost__Event *)m;
	}
	for (size_t i = 0; i < n_spans; i++) {
		if (fill_span(&spans[i], m, allocator) < 0) {
			/* What was set so far is consistent: protobuf-c frees it. */
			protobuf_c_message_free_unpacked(&header->base, allocator);
			return -ENOMEM;
		}
	}
	*ret = header;
	return 1;
}

Crosspost__Header *header_unpack(ProtobufCAllocator *allocator, size_t length, const uint8_t *bytes)
{
	Crosspost__Header *header = NULL;
	int r = header_fast_unpack(allocator, length, bytes, &header);

	if (r > 0)
		return header;
	if (r < 0)
		return NULL;
	return crosspost__header__unpack(allocator, length, bytes);
}
