/* SPDX-License-Identifier: MIT */
/* check_header_codec.c - the fast Post and Event codec says what protobuf-c says, byte for byte. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <check.h>

#include "fixture.h"
#include "header_codec.h"

/* Everything allocated while unpacking, freed at once (as a frame does). */
typedef struct Arena {
	void *blocks[256];
	size_t n;
	size_t fail_after;    /* 0: never fail */
} Arena;

static void *arena_alloc(void *userdata, size_t size)
{
	Arena *a = userdata;
	void *p;

	if (a->fail_after && a->n + 1 >= a->fail_after)
		return NULL;
	ck_assert_uint_lt(a->n, 256);
	p = malloc(size ? size : 1);
	ck_assert_ptr_nonnull(p);
	a->blocks[a->n++] = p;
	return p;
}

static void arena_free(void *userdata, void *pointer)
{
	Arena *a = userdata;

	for (size_t i = 0; i < a->n; i++) {
		if (a->blocks[i] == pointer) {
			free(pointer);
			a->blocks[i] = a->blocks[--a->n];
			return;
		}
	}
	ck_abort_msg("freed a block the arena did not give");
}

static void arena_clear(Arena *a)
{
	while (a->n)
		free(a->blocks[--a->n]);
}

static ProtobufCAllocator allocator_of(Arena *a)
{
	return (ProtobufCAllocator){ .alloc = arena_alloc, .free = arena_free, .allocator_data = a };
}

/* protobuf-c's own bytes for a header: what every comparison is against. */
static size_t reference_pack(const Crosspost__Header *h, uint8_t *out, size_t size)
{
	size_t n = crosspost__header__get_packed_size(h);

	ck_assert_uint_le(n, size);
	ck_assert_uint_eq(crosspost__header__pack(h, out), n);
	return n;
}

/* Packs h both ways and unpacks the bytes both ways: all four agree.
 * Returns whether the fast unpacker took the bytes. */
static int check_agrees(const Crosspost__Header *h)
{
	static uint8_t expected[4096], got[4096], again[4096];
	size_t n = reference_pack(h, expected, sizeof(expected));
	Arena arena = { 0 };
	ProtobufCAllocator allocator = allocator_of(&arena);
	Crosspost__Header *fast = NULL, *slow;
	int taken;

	ck_assert_uint_eq(header_fast_packed_size(h), n);
	ck_assert_uint_eq(header_packed_size(h), n);
	memset(got, 0xee, sizeof(got));
	ck_assert_uint_eq(header_pack(h, n, got), n);
	ck_assert_mem_eq(got, expected, n);

	taken = header_fast_unpack(&allocator, n, expected, &fast);
	ck_assert_int_ge(taken, 0);
	slow = crosspost__header__unpack(&allocator, n, expected);
	ck_assert_ptr_nonnull(slow);
	if (taken) {
		ck_assert_int_eq(fast->body_case, slow->body_case);
		ck_assert_uint_eq(reference_pack(fast, again, sizeof(again)), n);
		ck_assert_mem_eq(again, expected, n);
	}
	arena_clear(&arena);
	return taken;
}

/* Sets one field of a message to a value of its type, from protobuf-c's
 * descriptor: a field added to crosspost.proto is covered without
 * touching this test.  big: values the fast unpacker leaves to protobuf-c
 * (a uint64 of 2^63 or more). */
static uint64_t repeated_values[] = { 1, 300, UINT64_C(1) << 40 };
static uint64_t repeated_big[] = { 5, UINT64_MAX };

static void set_field(ProtobufCMessage *m, const ProtobufCFieldDescriptor *f, int variant)
{
	char *at = (char *)m + f->offset;

	if (f->label == PROTOBUF_C_LABEL_REPEATED) {
		ck_assert_int_eq(f->type, PROTOBUF_C_TYPE_UINT64);
		*(size_t *)((char *)m + f->quantifier_offset) = variant == 2 ? 2 : 3;
		*(uint64_t **)at = variant == 2 ? repeated_big : repeated_values;
		return;
	}
	switch (f->type) {
	case PROTOBUF_C_TYPE_UINT64:
		*(uint64_t *)at = variant == 0 ? 300 : variant == 1 ? UINT64_C(1) << 62 : UINT64_MAX;
		break;
	case PROTOBUF_C_TYPE_UINT32:
		*(uint32_t *)at = variant == 0 ? 5 : UINT32_MAX;
		break;
	case PROTOBUF_C_TYPE_ENUM:
		*(int32_t *)at = variant == 0 ? 1 : 2;
		break;
	case PROTOBUF_C_TYPE_STRING:
		*(const char **)at = variant == 0 ? "https://b.example" : variant == 1 ? "/" :
			"a string of more than one hundred and twenty-seven bytes, so that its length "
			"takes two bytes of varint, as a long URL or reason would";
		break;
	default:
		ck_abort_msg("field %s has a type the fast codec does not know", f->name);
	}
}

/* Two messages on the wire every time: Post and Event. */
typedef union Body {
	Crosspost__Post post;
	Crosspost__Event event;
} Body;

static Crosspost__Header *header_with(Crosspost__Header *h, Body *body, Crosspost__Header__BodyCase kind,
				      uint32_t serial)
{
	crosspost__header__init(h);
	h->serial = serial;
	h->body_case = kind;
	if (kind == CROSSPOST__HEADER__BODY_POST) {
		crosspost__post__init(&body->post);
		h->post = &body->post;
	} else {
		crosspost__event__init(&body->event);
		h->event = &body->event;
	}
	return h;
}

static const ProtobufCMessageDescriptor *descriptor_of(Crosspost__Header__BodyCase kind)
{
	return kind == CROSSPOST__HEADER__BODY_POST ? &crosspost__post__descriptor : &crosspost__event__descriptor;
}

START_TEST(every_field_packs_and_unpacks_as_protobuf_c)
{
	static const Crosspost__Header__BodyCase kinds[] = { CROSSPOST__HEADER__BODY_POST,
							    CROSSPOST__HEADER__BODY_EVENT };
	static const uint32_t serials[] = { 0, 1, 300, UINT32_MAX };

	for (size_t k = 0; k < 2; k++) {
		const ProtobufCMessageDescriptor *d = descriptor_of(kinds[k]);

		for (size_t s = 0; s < 4; s++) {
			Crosspost__Header h;
			Body body;

			/* An empty body, then each field alone in each variant. */
			header_with(&h, &body, kinds[k], serials[s]);
			ck_assert_int_eq(check_agrees(&h), 1);
			for (unsigned i = 0; i < d->n_fields; i++) {
				for (int variant = 0; variant < 3; variant++) {
					const ProtobufCFieldDescriptor *f = &d->fields[i];
					int taken;

					header_with(&h, &body, kinds[k], serials[s]);
					set_field((ProtobufCMessage *)&body, f, variant);
					taken = check_agrees(&h);
					/* Only a uint64 of 2^63 or more goes to protobuf-c. */
					if (!(variant == 2 && f->type == PROTOBUF_C_TYPE_UINT64))
						ck_assert_msg(taken == 1, "%s.%s (variant %d) not taken by the fast path",
							      d->name, f->name, variant);
				}
			}
			/* All of them at once. */
			for (int variant = 0; variant < 3; variant++) {
				header_with(&h, &body, kinds[k], serials[s]);
				for (unsigned i = 0; i < d->n_fields; i++)
					set_field((ProtobufCMessage *)&body, &d->fields[i], variant);
				check_agrees(&h);
			}
		}
	}
}
END_TEST

/* Bytes the fast unpacker must leave to protobuf-c, and what protobuf-c
 * makes of them: header_unpack() gives the same. */
START_TEST(other_forms_are_left_to_protobuf_c)
{
	static const struct {
		const char *what;
		size_t length;
		uint8_t bytes[24];
	} cases[] = {
		/* Header { post { sender 1 } } is 0xaa 0x01 0x02 0x08 0x01 */
		{ "a field twice", 7, { 0xaa, 0x01, 0x04, 0x08, 0x01, 0x08, 0x02 } },
		{ "fields out of order", 7, { 0xaa, 0x01, 0x04, 0x10, 0x02, 0x08, 0x01 } },
		{ "an unknown field", 7, { 0xaa, 0x01, 0x04, 0x08, 0x01, 0x38, 0x01 } },
		{ "a repeated field unpacked", 7, { 0xaa, 0x01, 0x04, 0x28, 0x03, 0x28, 0x04 } },
		{ "an empty packed field", 5, { 0xaa, 0x01, 0x02, 0x2a, 0x00 } },
		{ "a ten-byte varint", 14,
		  { 0xaa, 0x01, 0x0b, 0x08, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01 } },
		{ "a six-byte uint32", 10, { 0xaa, 0x01, 0x07, 0x20, 0x81, 0x80, 0x80, 0x80, 0x80, 0x00 } },
		{ "a uint32 over 32 bits", 9, { 0xaa, 0x01, 0x06, 0x20, 0xff, 0xff, 0xff, 0xff, 0x1f } },
		{ "the serial after the body", 7, { 0xaa, 0x01, 0x02, 0x08, 0x01, 0x08, 0x05 } },
		{ "two bodies", 10, { 0xaa, 0x01, 0x02, 0x08, 0x01, 0xaa, 0x01, 0x02, 0x10, 0x01 } },
		{ "another body (Sync)", 3, { 0xb2, 0x01, 0x00 } },
		{ "an empty header", 0, { 0 } },
		{ "a truncated body", 5, { 0xaa, 0x01, 0x04, 0x08, 0x01 } },
		{ "a string past the end", 7, { 0xaa, 0x01, 0x04, 0x1a, 0x05, 0x61, 0x62 } },
		{ "a wrong wire type", 6, { 0xaa, 0x01, 0x03, 0x1d, 0x61, 0x62 } },
		{ "a negative event type", 14,
		  { 0xc2, 0x01, 0x0b, 0x08, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01 } },
		{ "an event field 16", 6, { 0xc2, 0x01, 0x03, 0x80, 0x01, 0x01 } },
	};
	static uint8_t fast_bytes[256], slow_bytes[256];

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		Arena arena = { 0 };
		ProtobufCAllocator allocator = allocator_of(&arena);
		Crosspost__Header *fast = NULL, *slow, *either;

		ck_assert_msg(header_fast_unpack(&allocator, cases[i].length, cases[i].bytes, &fast) == 0,
			      "%s: taken by the fast path", cases[i].what);
		ck_assert_msg(arena.n == 0, "%s: the fast path allocated before leaving it", cases[i].what);
		slow = crosspost__header__unpack(&allocator, cases[i].length, cases[i].bytes);
		either = header_unpack(&allocator, cases[i].length, cases[i].bytes);
		ck_assert_msg((slow == NULL) == (either == NULL), "%s: decodes one way only", cases[i].what);
		if (slow) {
			size_t n = reference_pack(slow, slow_bytes, sizeof(slow_bytes));

			ck_assert_uint_eq(reference_pack(either, fast_bytes, sizeof(fast_bytes)), n);
			ck_assert_mem_eq(fast_bytes, slow_bytes, n);
		}
		arena_clear(&arena);
	}
}
END_TEST

/* Out of memory half-way: nothing is left allocated, and -ENOMEM. */
START_TEST(fast_unpack_out_of_memory_leaves_nothing)
{
	Crosspost__Header h;
	Body body;
	uint8_t bytes[512];
	size_t n;
	const ProtobufCMessageDescriptor *d = &crosspost__event__descriptor;

	header_with(&h, &body, CROSSPOST__HEADER__BODY_EVENT, 9);
	for (unsigned i = 0; i < d->n_fields; i++)
		set_field((ProtobufCMessage *)&body, &d->fields[i], 0);
	n = header_pack(&h, header_packed_size(&h), bytes);
	for (size_t fail_after = 1; fail_after < 12; fail_after++) {
		Arena arena = { .fail_after = fail_after };
		ProtobufCAllocator allocator = allocator_of(&arena);
		Crosspost__Header *got = NULL;
		int r = header_fast_unpack(&allocator, n, bytes, &got);

		if (r == 1) {
			arena_clear(&arena);
			continue;
		}
		ck_assert_int_eq(r, -ENOMEM);
		ck_assert_uint_eq(arena.n, 0);
	}
}
END_TEST

/* Random headers and random damage to their bytes: the codec and
 * protobuf-c never disagree (fuzz_frame does the same for any bytes). */
START_TEST(random_headers_and_damage_agree)
{
	uint64_t seed = 0x9e3779b97f4a7c15u;
	static uint8_t bytes[4096], fast_bytes[4096], slow_bytes[4096];

	for (int round = 0; round < 2000; round++) {
		Crosspost__Header__BodyCase kind = round % 2 ? CROSSPOST__HEADER__BODY_POST :
							       CROSSPOST__HEADER__BODY_EVENT;
		const ProtobufCMessageDescriptor *d = descriptor_of(kind);
		Crosspost__Header h;
		Body body;
		size_t n;

		seed = seed * 6364136223846793005u + 1442695040888963407u;
		header_with(&h, &body, kind, (uint32_t)(seed >> 40) % 3 == 0 ? 0 : (uint32_t)(seed >> 33));
		for (unsigned i = 0; i < d->n_fields; i++) {
			if ((seed >> (i + 8)) & 1)
				set_field((ProtobufCMessage *)&body, &d->fields[i], (int)((seed >> (i * 2 + 24)) % 3));
		}
		check_agrees(&h);
		n = header_pack(&h, header_packed_size(&h), bytes);
		/* Damage: one byte changed, or the bytes cut short. */
		for (int damage = 0; damage < 8; damage++) {
			Arena arena = { 0 };
			ProtobufCAllocator allocator = allocator_of(&arena);
			size_t length = n;
			uint8_t saved = 0;
			size_t at = 0;
			Crosspost__Header *slow, *either;

			seed = seed * 6364136223846793005u + 1442695040888963407u;
			if (n > 0 && damage % 2) {
				at = (size_t)(seed >> 33) % n;
				saved = bytes[at];
				bytes[at] = (uint8_t)(seed >> 20);
			} else if (n > 0) {
				length = (size_t)(seed >> 33) % n;
			}
			slow = crosspost__header__unpack(&allocator, length, bytes);
			either = header_unpack(&allocator, length, bytes);
			ck_assert((slow == NULL) == (either == NULL));
			if (slow) {
				size_t m = reference_pack(slow, slow_bytes, sizeof(slow_bytes));

				ck_assert_uint_eq(reference_pack(either, fast_bytes, sizeof(fast_bytes)), m);
				ck_assert_mem_eq(fast_bytes, slow_bytes, m);
				ck_assert_uint_eq(header_packed_size(either), m);
				ck_assert_uint_eq(header_pack(either, m, fast_bytes), m);
				ck_assert_mem_eq(fast_bytes, slow_bytes, m);
			}
			if (n > 0 && damage % 2)
				bytes[at] = saved;
			arena_clear(&arena);
		}
	}
}
END_TEST

int main(void)
{
	Suite *s = suite_create("header_codec");
	TCase *tc = tcase_create("header_codec");

	tcase_add_test(tc, every_field_packs_and_unpacks_as_protobuf_c);
	tcase_add_test(tc, other_forms_are_left_to_protobuf_c);
	tcase_add_test(tc, fast_unpack_out_of_memory_leaves_nothing);
	tcase_add_test(tc, random_headers_and_damage_agree);
	suite_add_tcase(s, tc);
	return test_run_suite(s);
}
