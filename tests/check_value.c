/* SPDX-License-Identifier: MIT */
/* check_value.c - unit tests for values: types, graphs, wire codec, tagged JSON, equality, transfer. */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <malloc.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "client.h"
#include "crosspost.h"
#include "proto/value.pb-c.h"
#include "scenario_corrupt.h"
#include "tier.h"
#include "value_transfer.h"
#include "value_codec.h"
#include "value_internal.h"
#include "value_wire.h"


/* ---- helpers ---- */

static cp_value *must(int r, cp_value *v)
{
	ck_assert_msg(r == 0, "builder failed: %s: %s", cp_error_name(r), cp_last_error_message());
	return v;
}

#define NEW(call) ({ cp_value *_v = NULL; must(cp_value_new_##call, _v), _v; })

static cp_value *num(double d) { cp_value *v; ck_assert_int_eq(cp_value_new_number(d, &v), 0); return v; }
static cp_value *str(const char *s) { cp_value *v; ck_assert_int_eq(cp_value_new_string(s, &v), 0); return v; }
static cp_value *obj(void) { cp_value *v; ck_assert_int_eq(cp_value_new_object(&v), 0); return v; }
static cp_value *arr(void) { cp_value *v; ck_assert_int_eq(cp_value_new_array(&v), 0); return v; }

static void set(cp_value *o, const char *k, cp_value *v)
{
	ck_assert_msg(cp_value_object_set(o, k, v) == 0, "set %s: %s", k, cp_last_error_message());
}

static void push(cp_value *a, cp_value *v)
{
	ck_assert_int_eq(cp_value_array_push(a, v), 0);
}

/* value_encode() writes the Node messages by hand: they must be exactly
 * what protobuf-c packs for the same message, so that any protobuf
 * implementation reads them as value.proto says. */
static void assert_protobuf_c_bytes(const uint8_t *bytes, size_t len)
{
	Crosspost__Value__Value *value = crosspost__value__value__unpack(NULL, len, bytes);
	uint8_t *packed;
	size_t packed_len;

	ck_assert_msg(value != NULL, "protobuf-c cannot unpack the encoder's %zu bytes", len);
	packed_len = crosspost__value__value__get_packed_size(value);
	ck_assert_uint_eq(packed_len, len);
	packed = malloc(packed_len ? packed_len : 1);
	ck_assert_ptr_nonnull(packed);
	ck_assert_uint_eq(crosspost__value__value__pack(value, packed), len);
	ck_assert_msg(memcmp(packed, bytes, len) == 0, "protobuf-c packs the value differently");
	free(packed);
	crosspost__value__value__free_unpacked(value, NULL);
}

static cp_value *wire_roundtrip(const cp_value *v)
{
	uint8_t *bytes;
	size_t len;
	cp_value *out = NULL;
	int r;

	r = value_encode(v, &bytes, &len);
	ck_assert_msg(r == 0, "encode: %s", cp_last_error_message());
	assert_protobuf_c_bytes(bytes, len);
	r = value_decode(bytes, len, &out);
	if (r < 0) {
		char *text = cp_value_to_json(v);

		fprintf(stderr, "decode failed: %s\nvalue: %s\n", cp_last_error_message(), text);
		free(text);
	}
	ck_assert_msg(r == 0, "decode: %s", cp_last_error_message());
	free(bytes);
	return out;
}

static cp_value *json_roundtrip(const cp_value *v)
{
	char *json = cp_value_to_json(v);
	cp_value *out = NULL;
	int r;

	ck_assert_ptr_nonnull(json);
	r = cp_value_from_json(json, strlen(json), NULL, &out);
	ck_assert_msg(r == 0, "from_json(%.200s): %s", json, cp_last_error_message());
	free(json);
	return out;
}

/* Every way a value is copied must give back an equal value. */
static void check_roundtrips(const cp_value *v)
{
	cp_value *w = wire_roundtrip(v), *j = json_roundtrip(v), *c = cp_value_clone(v);
	char *s = cp_value_to_json(v);

	ck_assert_msg(cp_value_equal(v, w), "wire round trip changed %.300s", s);
	ck_assert_msg(cp_value_equal(v, j), "JSON round trip changed %.300s", s);
	ck_assert_msg(cp_value_equal(v, c), "clone changed %.300s", s);
	ck_assert_msg(cp_value_equal(w, v) && cp_value_equal(j, w), "equality is not symmetric for %.300s", s);
	free(s);
	cp_value_free(w);
	cp_value_free(j);
	cp_value_free(c);
}

static cp_value *json(const char *text)
{
	cp_value *v = NULL;
	int r = cp_value_from_json(text, strlen(text), NULL, &v);

	ck_assert_msg(r == 0, "from_json(%s): %s", text, cp_last_error_message());
	return v;
}

static void check_json_output(const char *in, const char *want)
{
	cp_value *v = json(in);
	char *out = cp_value_to_json(v);

	ck_assert_str_eq(out, want);
	check_roundtrips(v);
	free(out);
	cp_value_free(v);
}

/* ---- every type ---- */

START_TEST(test_primitives)
{
	static const double numbers[] = { 0.0, -0.0, 1, -1, 1.5, 0.1, 1e300, -1e-300, 5e-324,
					  9007199254740992.0, -9007199254740993.0, 1e21, 123456789012.0,
					  NAN, INFINITY, -INFINITY };
	const char *strings[] = { "", "a", "héllo wörld", "\xf0\x9f\x98\x80 emoji", "quote\" back\\ nl\n tab\t" };
	cp_value *v;
	size_t i;

	for (i = 0; i < sizeof(numbers) / sizeof(numbers[0]); i++) {
		v = num(numbers[i]);
		check_roundtrips(v);
		cp_value_free(v);
	}
	for (i = 0; i < sizeof(strings) / sizeof(strings[0]); i++) {
		v = str(strings[i]);
		check_roundtrips(v);
		cp_value_free(v);
	}
	ck_assert_int_eq(cp_value_new_undefined(&v), 0);
	check_roundtrips(v);
	cp_value_free(v);
	ck_assert_int_eq(cp_value_new_null(&v), 0);
	check_roundtrips(v);
	cp_value_free(v);
	ck_assert_int_eq(cp_value_new_boolean(true, &v), 0);
	check_roundtrips(v);
	cp_value_free(v);
	ck_assert_int_eq(cp_value_new_boolean(false, &v), 0);
	check_roundtrips(v);
	cp_value_free(v);
	/* A string holding NUL. */
	ck_assert_int_eq(cp_value_new_string_len("a\0b", 3, &v), 0);
	check_roundtrips(v);
	cp_value_free(v);
}
END_TEST

START_TEST(test_bigint)
{
	const char *texts[] = { "0", "1", "-1", "255", "256", "-4294967296",
				"123456789012345678901234567890123456789012345678901234567890",
				"-999999999999999999999999999999999999" };
	cp_value *v;
	int64_t i64;
	size_t i;
	char *s;

	for (i = 0; i < sizeof(texts) / sizeof(texts[0]); i++) {
		ck_assert_int_eq(cp_value_new_bigint(texts[i], strlen(texts[i]), &v), 0);
		s = cp_value_bigint_to_string(v);
		ck_assert_str_eq(s, texts[i]);
		free(s);
		check_roundtrips(v);
		cp_value_free(v);
	}
	ck_assert_int_eq(cp_value_new_bigint("-000", 4, &v), 0);
	s = cp_value_bigint_to_string(v);
	ck_assert_str_eq(s, "0");
	free(s);
	cp_value_free(v);
	ck_assert_int_eq(cp_value_new_bigint_int64(INT64_MIN, &v), 0);
	ck_assert_int_eq(cp_value_bigint_to_int64(v, &i64), 0);
	ck_assert(i64 == INT64_MIN);
	cp_value_free(v);
	ck_assert_int_eq(cp_value_new_bigint("12a", 3, &v), CP_ERR_SYNTAX);
	ck_assert_int_eq(cp_value_new_bigint("", 0, &v), CP_ERR_SYNTAX);
	ck_assert_int_eq(cp_value_new_bigint("99999999999999999999", 20, &v), 0);
	ck_assert_int_eq(cp_value_bigint_to_int64(v, &i64), CP_ERR_TYPE);
	cp_value_free(v);
}
END_TEST

START_TEST(test_strings_utf16)
{
	const uint16_t units[] = { 'a', 0xd800, 'b', 0xdc00, 0xd83d, 0xde00, 0xdbff };
	uint16_t *back;
	size_t n, len;
	const char *s;
	cp_value *v, *w;

	ck_assert_int_eq(cp_value_new_string_utf16(units, 7, &v), 0);
	ck_assert(!cp_value_string_is_well_formed(v));
	ck_assert_uint_eq(cp_value_string_utf16_length(v), 7);
	ck_assert_int_eq(cp_value_string_utf16(v, &back, &n), 0);
	ck_assert_uint_eq(n, 7);
	ck_assert(memcmp(back, units, sizeof(units)) == 0);
	free(back);
	s = cp_value_get_string(v, &len);
	/* a, ED A0 80, b, ED B0 80, F0 9F 98 80, ED AF BF */
	ck_assert_uint_eq(len, 1 + 3 + 1 + 3 + 4 + 3);
	ck_assert_int_eq(cp_value_new_string_len(s, len, &w), 0);
	ck_assert(cp_value_equal(v, w));
	check_roundtrips(v);
	cp_value_free(w);
	cp_value_free(v);

	/* Not WTF-8: overlong, a pair spelled as two surrogates, bad bytes. */
	ck_assert_int_eq(cp_value_new_string("\xc0\x80", &v), CP_ERR_TYPE);
	ck_assert_int_eq(cp_value_new_string("\xed\xa0\xbd\xed\xb8\x80", &v), CP_ERR_TYPE);
	ck_assert_int_eq(cp_value_new_string("\xff", &v), CP_ERR_TYPE);
	ck_assert_int_eq(cp_value_new_string("\xf4\x90\x80\x80", &v), CP_ERR_TYPE);
	/* A lone trail after a lead that is not adjacent is fine. */
	ck_assert_int_eq(cp_value_new_string("\xed\xa0\xbdx\xed\xb8\x80", &v), 0);
	ck_assert(!cp_value_string_is_well_formed(v));
	check_roundtrips(v);
	cp_value_free(v);
}
END_TEST

START_TEST(test_wrappers_date_regexp_error_host)
{
	cp_value *p, *v;
	const char *t;

	p = num(-0.0);
	ck_assert_int_eq(cp_value_new_wrapper(p, &v), 0);
	ck_assert_int_eq(cp_value_get_type(v), CP_VALUE_NUMBER_OBJECT);
	ck_assert(!cp_value_equal(p, v));
	check_roundtrips(v);
	cp_value_free(v);
	cp_value_free(p);
	ck_assert_int_eq(cp_value_new_boolean(true, &p), 0);
	ck_assert_int_eq(cp_value_new_wrapper(p, &v), 0);
	check_roundtrips(v);
	cp_value_free(v);
	cp_value_free(p);
	ck_assert_int_eq(cp_value_new_bigint("-12345678901234567890", 21, &p), 0);
	ck_assert_int_eq(cp_value_new_wrapper(p, &v), 0);
	ck_assert_int_eq(cp_value_get_type(v), CP_VALUE_BIGINT_OBJECT);
	check_roundtrips(v);
	cp_value_free(v);
	cp_value_free(p);
	p = str("wrapped \xed\xa0\x80");
	ck_assert_int_eq(cp_value_new_wrapper(p, &v), 0);
	check_roundtrips(v);
	cp_value_free(v);
	cp_value_free(p);
	p = obj();
	ck_assert_int_eq(cp_value_new_wrapper(p, &v), CP_ERR_TYPE);
	cp_value_free(p);

	ck_assert_int_eq(cp_value_new_date(1700000000000.7, &v), 0);
	ck_assert(cp_value_get_number(v) == 1700000000000.0);
	check_roundtrips(v);
	cp_value_free(v);
	ck_assert_int_eq(cp_value_new_date(NAN, &v), 0);
	ck_assert(isnan(cp_value_get_number(v)));
	check_roundtrips(v);
	cp_value_free(v);
	ck_assert_int_eq(cp_value_new_date(8.64e15 + 1, &v), 0);
	ck_assert(isnan(cp_value_get_number(v)));
	cp_value_free(v);
	ck_assert_int_eq(cp_value_new_date(-0.5, &v), 0);
	ck_assert(cp_value_get_number(v) == 0 && !signbit(cp_value_get_number(v)));
	check_roundtrips(v);
	cp_value_free(v);
	ck_assert_int_eq(cp_value_new_date(-8.64e15, &v), 0);
	check_roundtrips(v);
	cp_value_free(v);

	ck_assert_int_eq(cp_value_new_regexp("a+(b)\\d", "ygid", &v), 0);
	ck_assert_str_eq(cp_value_regexp_flags(v), "dgiy");
	check_roundtrips(v);
	cp_value_free(v);
	ck_assert_int_eq(cp_value_new_regexp("x", "gg", &v), CP_ERR_SYNTAX);
	ck_assert_int_eq(cp_value_new_regexp("x", "uv", &v), CP_ERR_SYNTAX);
	ck_assert_int_eq(cp_value_new_regexp("x", "q", &v), CP_ERR_SYNTAX);

	ck_assert_int_eq(cp_value_new_error("RangeError", "too big", NULL, &v), 0);
	ck_assert_str_eq(cp_value_error_name(v), "RangeError");
	ck_assert_ptr_null(cp_value_error_stack(v, NULL));
	check_roundtrips(v);
	cp_value_free(v);
	/* Non-standard names become "Error", as the HTML Standard serializes them. */
	ck_assert_int_eq(cp_value_new_error("DOMException", "m", "at f (x.js:1)", &v), 0);
	ck_assert_str_eq(cp_value_error_name(v), "Error");
	t = cp_value_error_stack(v, NULL);
	ck_assert_str_eq(t, "at f (x.js:1)");
	check_roundtrips(v);
	cp_value_free(v);
	/* No message at all differs from an empty one. */
	ck_assert_int_eq(cp_value_new_error("TypeError", NULL, NULL, &v), 0);
	ck_assert_int_eq(cp_value_new_error("TypeError", "", NULL, &p), 0);
	ck_assert(!cp_value_equal(v, p));
	check_roundtrips(v);
	check_roundtrips(p);
	cp_value_free(v);
	cp_value_free(p);
	ck_assert_int_eq(cp_value_new_error("URIError", NULL, "stack only", &v), 0);
	check_roundtrips(v);
	cp_value_free(v);

	ck_assert_int_eq(cp_value_new_host_object("function f() {}", &v), 0);
	ck_assert_str_eq(cp_value_host_object_description(v), "function f() {}");
	ck_assert(cp_value_equal(v, v));
	p = cp_value_clone(v);
	ck_assert(cp_value_equal(v, p));
	cp_value_free(p);
	p = json_roundtrip(v);
	ck_assert(cp_value_equal(v, p));
	cp_value_free(p);
	cp_value_free(v);
}
END_TEST

START_TEST(test_buffers_and_views)
{
	uint8_t bytes[64];
	cp_value *buf, *root, *v1, *v2, *v3, *out;
	int kind;
	size_t i;

	for (i = 0; i < sizeof(bytes); i++)
		bytes[i] = (uint8_t)(i * 7);
	ck_assert_int_eq(cp_value_new_array_buffer(NULL, 0, &buf), 0);
	check_roundtrips(buf);
	cp_value_free(buf);
	ck_assert_int_eq(cp_value_new_array_buffer(bytes, sizeof(bytes), &buf), 0);
	check_roundtrips(buf);
	cp_value_free(buf);

	/* Every kind alone over its own buffer (the inline JSON form). */
	for (kind = CP_VIEW_INT8; kind <= CP_VIEW_DATA_VIEW; kind++) {
		ck_assert_int_eq(cp_value_new_array_buffer(bytes, 16, &buf), 0);
		ck_assert_int_eq(cp_value_new_view(kind, buf, 0, 16 / cp_view_kind_element_size(kind), &v1), 0);
		check_roundtrips(v1);
		cp_value_free(v1);
	}

	/* Three views sharing one buffer at different offsets stay sharing it. */
	ck_assert_int_eq(cp_value_new_array_buffer(bytes, sizeof(bytes), &buf), 0);
	ck_assert_int_eq(cp_value_new_view(CP_VIEW_UINT8, buf, 3, 5, &v1), 0);
	ck_assert_int_eq(cp_value_new_view(CP_VIEW_FLOAT64, buf, 8, 6, &v2), 0);
	ck_assert_int_eq(cp_value_new_view(CP_VIEW_DATA_VIEW, buf, 60, 4, &v3), 0);
	root = arr();
	push(root, v1);
	push(root, v2);
	push(root, v3);
	check_roundtrips(root);
	out = wire_roundtrip(root);
	ck_assert_ptr_eq(cp_value_view_buffer(cp_value_array_get(out, 0)),
			 cp_value_view_buffer(cp_value_array_get(out, 2)));
	ck_assert_uint_eq(cp_value_view_byte_offset(cp_value_array_get(out, 1)), 8);
	ck_assert_uint_eq(cp_value_view_length(cp_value_array_get(out, 1)), 6);
	cp_value_free(out);
	cp_value_free(root);

	/* Bad views. */
	ck_assert_int_eq(cp_value_new_array_buffer(bytes, 10, &buf), 0);
	ck_assert_int_eq(cp_value_new_view(CP_VIEW_UINT16, buf, 1, 1, &v1), CP_ERR_TYPE);
	ck_assert_int_eq(cp_value_new_view(CP_VIEW_UINT32, buf, 4, 2, &v1), CP_ERR_TYPE);
	ck_assert_int_eq(cp_value_new_view(CP_VIEW_UINT8, buf, 11, 0, &v1), CP_ERR_TYPE);
	ck_assert_int_eq(cp_value_new_view(99, buf, 0, 0, &v1), CP_ERR_TYPE);
	root = obj();
	ck_assert_int_eq(cp_value_new_view(CP_VIEW_UINT8, root, 0, 0, &v1), CP_ERR_TYPE);
	cp_value_free(root);
	cp_value_free(buf);
}
END_TEST

START_TEST(test_containers)
{
	/* Refused insertions leave the node with the caller: this one. */
	cp_value *spare = num(0);
	cp_value *a, *o, *m, *s, *k, *v, *out;
	char *text;
	uint32_t idx;

	/* Containers with no references as the first node written, before
	 * the encoder holds any reference at all (found by fuzz_value). */
	for (size_t i = 0; i < 4; i++) {
		static const char *const roots[] = { "{\"$array\":[3,[]]}", "[]", "{}", "{\"$set\":[]}" };
		cp_value *root = json(roots[i]);

		out = wire_roundtrip(root);
		ck_assert(cp_value_equal(root, out));
		cp_value_free(out);
		cp_value_free(root);
	}

	/* Sparse array with named properties and a huge length. */
	a = arr();
	ck_assert_int_eq(cp_value_array_set(a, 0, num(1)), 0);
	ck_assert_int_eq(cp_value_array_set(a, 5, str("five")), 0);
	ck_assert_int_eq(cp_value_array_set(a, 2, num(2)), 0);
	set(a, "name", str("named"));
	set(a, "3", num(3));
	ck_assert_int_eq(cp_value_array_set_length(a, 4000000000u), 0);
	ck_assert_uint_eq(cp_value_array_length(a), 4000000000u);
	ck_assert_uint_eq(cp_value_array_count(a), 4);
	ck_assert_ptr_null(cp_value_array_get(a, 1));
	ck_assert(cp_value_get_number(cp_value_array_get(a, 3)) == 3);
	ck_assert_ptr_nonnull(cp_value_array_element(a, 3, &idx));
	ck_assert_uint_eq(idx, 5);
	ck_assert_uint_eq(cp_value_object_count(a), 1);
	ck_assert_int_eq(cp_value_array_set(a, 2, spare), CP_ERR_CONSTRAINT);
	ck_assert_int_eq(cp_value_object_set(a, "length", spare), CP_ERR_TYPE);
	ck_assert_int_eq(cp_value_array_set_length(a, 3), CP_ERR_CONSTRAINT);
	check_roundtrips(a);
	cp_value_free(a);

	/* Holes in a small array. */
	a = arr();
	push(a, num(1));
	ck_assert_int_eq(cp_value_array_set_length(a, 3), 0);
	push(a, num(4));
	ck_assert_uint_eq(cp_value_array_length(a), 4);
	check_roundtrips(a);
	text = cp_value_to_json(a);
	ck_assert_str_eq(text, "{\"$array\":[4,[[0,1],[3,4]],[]]}");
	free(text);
	cp_value_free(a);

	/* Object keys: index keys first, ascending, as in JavaScript. */
	o = obj();
	set(o, "b", num(1));
	set(o, "10", num(2));
	set(o, "a", num(3));
	set(o, "2", num(4));
	set(o, "01", num(5));
	set(o, "4294967295", num(6));
	text = cp_value_to_json(o);
	ck_assert_str_eq(text, "{\"2\":4,\"10\":2,\"b\":1,\"a\":3,\"01\":5,\"4294967295\":6}");
	free(text);
	ck_assert(cp_value_get_number(cp_value_object_get(o, "a")) == 3);
	ck_assert_ptr_null(cp_value_object_get(o, "zz"));
	ck_assert_int_eq(cp_value_object_set(o, "a", spare), CP_ERR_CONSTRAINT);
	check_roundtrips(o);
	cp_value_free(o);

	/* Many keys: the hash index. */
	o = obj();
	for (int i = 0; i < 1000; i++) {
		char key[16];

		snprintf(key, sizeof(key), "k%d", i);
		set(o, key, num(i));
	}
	ck_assert(cp_value_get_number(cp_value_object_get(o, "k777")) == 777);
	ck_assert_int_eq(cp_value_object_set(o, "k5", spare), CP_ERR_CONSTRAINT);
	check_roundtrips(o);
	cp_value_free(o);

	/* Keys that look like tags, hold NUL or lone surrogates. */
	o = obj();
	set(o, "$ref", num(1));
	check_roundtrips(o);
	text = cp_value_to_json(o);
	ck_assert_str_eq(text, "{\"$object\":[[\"$ref\",1]]}");
	free(text);
	cp_value_free(o);
	o = obj();
	set(o, "$value", num(1));
	set(o, "$id", num(2));
	check_roundtrips(o);
	ck_assert_int_eq(cp_value_object_set_len(o, "a\0b", 3, num(3)), 0);
	set(o, "\xed\xb0\x80", num(4));
	check_roundtrips(o);
	cp_value_free(o);

	/* Map and Set: insertion order, SameValueZero. */
	m = NULL;
	ck_assert_int_eq(cp_value_new_map(&m), 0);
	ck_assert_int_eq(cp_value_map_set(m, str("x"), num(1)), 0);
	ck_assert_int_eq(cp_value_map_set(m, num(NAN), num(2)), 0);
	ck_assert_int_eq(cp_value_map_set(m, num(0), num(3)), 0);
	k = num(-0.0);
	ck_assert_int_eq(cp_value_map_set(m, k, spare), CP_ERR_CONSTRAINT);
	cp_value_free(k);
	k = num(NAN);
	ck_assert_int_eq(cp_value_map_set(m, k, spare), CP_ERR_CONSTRAINT);
	ck_assert(cp_value_get_number(cp_value_map_get(m, k)) == 2);
	cp_value_free(k);
	k = obj();
	ck_assert_int_eq(cp_value_map_set(m, k, k), 0);
	ck_assert_int_eq(cp_value_map_set(m, obj(), num(5)), 0);
	ck_assert_uint_eq(cp_value_map_count(m), 5);
	check_roundtrips(m);
	ck_assert_int_eq(cp_value_new_set(&s), 0);
	ck_assert_int_eq(cp_value_set_add(s, str("a")), 0);
	v = str("a");
	ck_assert_int_eq(cp_value_set_add(s, v), CP_ERR_CONSTRAINT);
	ck_assert(cp_value_set_has(s, v));
	cp_value_free(v);
	ck_assert_int_eq(cp_value_set_add(s, m), 0);
	ck_assert_int_eq(cp_value_set_add(s, s), 0);
	for (int i = 0; i < 100; i++)
		ck_assert_int_eq(cp_value_set_add(s, num(i)), 0);
	check_roundtrips(s);
	out = wire_roundtrip(s);
	ck_assert_ptr_eq(cp_value_set_member(out, 2), out);
	cp_value_free(out);
	cp_value_free(s);
	cp_value_free(spare);
}
END_TEST

START_TEST(test_shared_and_cycles)
{
	cp_value *root, *x, *out, *a, *b, *c;

	/* {a: x, b: x}: one object referenced twice arrives as one object. */
	root = obj();
	x = obj();
	set(x, "n", num(1));
	set(root, "a", x);
	set(root, "b", x);
	check_roundtrips(root);
	out = wire_roundtrip(root);
	ck_assert_ptr_eq(cp_value_object_get(out, "a"), cp_value_object_get(out, "b"));
	cp_value_free(out);
	out = json_roundtrip(root);
	ck_assert_ptr_eq(cp_value_object_get(out, "a"), cp_value_object_get(out, "b"));
	cp_value_free(out);
	out = cp_value_clone(root);
	ck_assert_ptr_eq(cp_value_object_get(out, "a"), cp_value_object_get(out, "b"));
	cp_value_free(out);
	cp_value_free(root);

	/* A cycle through the root, and a longer one. */
	root = arr();
	push(root, root);
	push(root, num(1));
	check_roundtrips(root);
	out = wire_roundtrip(root);
	ck_assert_ptr_eq(cp_value_array_get(out, 0), out);
	cp_value_free(out);
	cp_value_free(root);
	a = obj();
	b = obj();
	c = arr();
	set(a, "next", b);
	set(b, "next", c);
	push(c, a);
	push(c, b);
	check_roundtrips(a);
	out = json_roundtrip(a);
	ck_assert_ptr_eq(cp_value_array_get(cp_value_object_get(cp_value_object_get(out, "next"), "next"), 0), out);
	cp_value_free(out);
	cp_value_free(a);
}
END_TEST

START_TEST(test_equality)
{
	cp_value *a, *b, *x, *y;

	/* NaN equals NaN; 0 and -0 differ. */
	a = num(NAN);
	b = num(-NAN);
	ck_assert(cp_value_equal(a, b));
	cp_value_free(a);
	cp_value_free(b);
	a = num(0);
	b = num(-0.0);
	ck_assert(!cp_value_equal(a, b));
	cp_value_free(a);
	cp_value_free(b);
	/* Key order matters. */
	a = json("{\"a\":1,\"b\":2}");
	b = json("{\"b\":2,\"a\":1}");
	ck_assert(!cp_value_equal(a, b));
	cp_value_free(b);
	b = json("{\"a\":1,\"b\":2}");
	ck_assert(cp_value_equal(a, b));
	cp_value_free(a);
	cp_value_free(b);
	/* ... but JavaScript orders index keys itself. */
	a = json("{\"b\":1,\"1\":2}");
	b = json("{\"1\":2,\"b\":1}");
	ck_assert(cp_value_equal(a, b));
	cp_value_free(a);
	cp_value_free(b);
	/* Sharing shape: [x, x] is not [x, y] even when x and y look alike. */
	a = arr();
	x = obj();
	push(a, x);
	push(a, x);
	b = arr();
	push(b, obj());
	push(b, obj());
	ck_assert(!cp_value_equal(a, b));
	ck_assert(!cp_value_equal(b, a));
	cp_value_free(a);
	cp_value_free(b);
	/* [x, y, x] vs [x, y, y]. */
	a = arr();
	x = obj();
	y = obj();
	push(a, x);
	push(a, y);
	push(a, x);
	b = json("[{\"$id\":1,\"$value\":{}},{\"$id\":2,\"$value\":{}},{\"$ref\":2}]");
	ck_assert(!cp_value_equal(a, b));
	cp_value_free(b);
	b = json("[{\"$id\":1,\"$value\":{}},{},{\"$ref\":1}]");
	ck_assert(cp_value_equal(a, b));
	cp_value_free(a);
	cp_value_free(b);
	/* A cycle is not its unrolling. */
	a = json("{\"$id\":1,\"$value\":[{\"$ref\":1}]}");
	b = json("[{\"$id\":1,\"$value\":[{\"$ref\":1}]}]");
	ck_assert(!cp_value_equal(a, b));
	cp_value_free(a);
	cp_value_free(b);
	/* Primitives have no identity: sharing a string node is not shape. */
	a = arr();
	x = str("s");
	push(a, x);
	push(a, x);
	b = json("[\"s\",\"s\"]");
	ck_assert(cp_value_equal(a, b));
	cp_value_free(a);
	cp_value_free(b);
	/* Types differ: a number and a Number object, a Map and an object. */
	a = json("5");
	b = json("{\"$wrapper\":5}");
	ck_assert(!cp_value_equal(a, b));
	cp_value_free(a);
	cp_value_free(b);
	a = json("{\"$map\":[]}");
	b = json("{}");
	ck_assert(!cp_value_equal(a, b));
	cp_value_free(a);
	cp_value_free(b);
	/* Holes differ from undefined. */
	a = json("{\"$array\":[1,[],[]]}");
	b = json("[{\"$undefined\":null}]");
	ck_assert(!cp_value_equal(a, b));
	cp_value_free(a);
	cp_value_free(b);
	ck_assert(cp_value_equal(NULL, NULL));
}
END_TEST

/* ---- tagged JSON ---- */

START_TEST(test_json_contract)
{
	cp_value *v;
	size_t end;
	const char *t;
	char *text;

	/* Every tagged form of the scenario format. */
	check_json_output("{\"$undefined\":null}", "{\"$undefined\":null}");
	check_json_output("{\"$number\":\"NaN\"}", "{\"$number\":\"NaN\"}");
	check_json_output("{\"$number\":\"Infinity\"}", "{\"$number\":\"Infinity\"}");
	check_json_output("{\"$number\":\"-Infinity\"}", "{\"$number\":\"-Infinity\"}");
	check_json_output("{\"$number\":\"-0\"}", "{\"$number\":\"-0\"}");
	check_json_output("{\"$bigint\":\"123\"}", "{\"$bigint\":\"123\"}");
	check_json_output("{\"$date\":1700000000000}", "{\"$date\":1700000000000}");
	check_json_output("{\"$regexp\":[\"a+b\",\"gi\"]}", "{\"$regexp\":[\"a+b\",\"gi\"]}");
	check_json_output("{\"$bytes\":\"AAEC/w==\"}", "{\"$bytes\":\"AAEC/w==\"}");
	check_json_output("{\"$typed\":[\"Uint8Array\",\"AQID\"]}", "{\"$typed\":[\"Uint8Array\",\"AQID\"]}");
	check_json_output("{\"$map\":[[1,\"a\"],[\"k\",{\"x\":null}]]}", "{\"$map\":[[1,\"a\"],[\"k\",{\"x\":null}]]}");
	check_json_output("{\"$set\":[1,\"a\",[]]}", "{\"$set\":[1,\"a\",[]]}");
	check_json_output("{\"$error\":[\"TypeError\",\"message\"]}", "{\"$error\":[\"TypeError\",\"message\"]}");
	check_json_output("{\"$id\":1,\"$value\":{\"self\":{\"$ref\":1}}}", "{\"$id\":1,\"$value\":{\"self\":{\"$ref\":1}}}");
	check_json_output("[{\"$id\":7,\"$value\":[]},{\"$ref\":7}]", "[{\"$id\":1,\"$value\":[]},{\"$ref\":1}]");
	/* Plain JSON. */
	check_json_output(" {\"a\" : [1, 2.5, -3e-7, \"x\\u0001\\\"\"], \"b\": null, \"c\": true} ",
			  "{\"a\":[1,2.5,-3e-7,\"x\\u0001\\\"\"],\"b\":null,\"c\":true}");
	check_json_output("[0.1, 1e21, 123456789012345680000, -0, 1.7976931348623157e308]",
			  "[0.1,1e+21,123456789012345680000,{\"$number\":\"-0\"},1.7976931348623157e+308]");
	check_json_output("\"\\u00e9\\ud83d\\ude00\"", "\"\xc3\xa9\xf0\x9f\x98\x80\"");
	/* Additions of this project. */
	check_json_output("{\"$string\":[\"a\",55296,\"b\"]}", "{\"$string\":[\"a\",55296,\"b\"]}");
	check_json_output("{\"$string\":[55357,56832]}", "\"\xf0\x9f\x98\x80\"");
	check_json_output("{\"$wrapper\":{\"$bigint\":\"-5\"}}", "{\"$wrapper\":{\"$bigint\":\"-5\"}}");
	check_json_output("{\"$wrapper\":\"s\"}", "{\"$wrapper\":\"s\"}");
	check_json_output("{\"$date\":{\"$number\":\"NaN\"}}", "{\"$date\":{\"$number\":\"NaN\"}}");
	check_json_output("{\"$error\":[\"Error\"]}", "{\"$error\":[\"Error\"]}");
	check_json_output("{\"$error\":[\"Bogus\",null,\"st\"]}", "{\"$error\":[\"Error\",null,\"st\"]}");
	check_json_output("{\"$object\":[[\"$ref\",1],[\"2\",2]]}", "{\"2\":2,\"$ref\":1}");
	check_json_output("{\"$object\":[[\"$ref\",1]]}", "{\"$object\":[[\"$ref\",1]]}");
	check_json_output("{\"$array\":[5,[[1,\"x\"]],[[\"p\",1]]]}", "{\"$array\":[5,[[1,\"x\"]],[[\"p\",1]]]}");
	v = json("{\"$host\":\"function f\"}");
	ck_assert_int_eq(cp_value_get_type(v), CP_VALUE_HOST_OBJECT);
	text = cp_value_to_json(v);
	ck_assert_str_eq(text, "{\"$host\":\"function f\"}");
	free(text);
	cp_value_free(v);
	check_json_output("{\"$typed\":[\"Uint16Array\",{\"$id\":1,\"$value\":{\"$bytes\":\"AAAAAAAA\"}},2,2]}",
			  "{\"$typed\":[\"Uint16Array\",{\"$bytes\":\"AAAAAAAA\"},2,2]}");
	check_json_output("[{\"$typed\":[\"Int8Array\",{\"$id\":1,\"$value\":{\"$bytes\":\"AAAA\"}},0,3]},"
			  "{\"$typed\":[\"DataView\",{\"$ref\":1},1,2]}]",
			  "[{\"$typed\":[\"Int8Array\",{\"$id\":1,\"$value\":{\"$bytes\":\"AAAA\"}},0,3]},"
			  "{\"$typed\":[\"DataView\",{\"$ref\":1},1,2]}]");

	/* Where a value ends, for the scenario runner. */
	t = "{\"a\":[1,2]} target=\"*\"";
	ck_assert_int_eq(cp_value_from_json(t, strlen(t), &end, &v), 0);
	ck_assert_uint_eq(end, 11);
	cp_value_free(v);
	t = "  42 x";
	ck_assert_int_eq(cp_value_from_json(t, strlen(t), &end, &v), 0);
	ck_assert_uint_eq(end, 4);
	cp_value_free(v);
	t = "\"h\xc3\xa9\" y";
	ck_assert_int_eq(cp_value_from_json(t, strlen(t), &end, &v), 0);
	ck_assert_uint_eq(end, 5);
	cp_value_free(v);
	ck_assert_int_eq(cp_value_from_json(t, strlen(t), NULL, &v), CP_ERR_SYNTAX);
	t = "[1] \n";
	ck_assert_int_eq(cp_value_from_json(t, strlen(t), NULL, &v), 0);
	cp_value_free(v);
}
END_TEST

START_TEST(test_json_errors)
{
	const char *bad[] = {
		"", "[1,", "{\"a\"}", "tru", "\"\\ud800\"", "{\"$nope\":1}", "{\"$ref\":1}",
		"[{\"$ref\":1},{\"$id\":1,\"$value\":{}}]", "{\"$id\":1,\"$value\":{\"$ref\":1}}",
		"[{\"$id\":1,\"$value\":{}},{\"$id\":1,\"$value\":{}}]", "{\"$number\":\"nan\"}",
		"{\"$bigint\":\"1.5\"}", "{\"$bigint\":5}", "{\"$regexp\":[\"a\",\"gg\"]}",
		"{\"$bytes\":\"A\"}", "{\"$bytes\":\"!!!!\"}", "{\"$typed\":[\"Uint16Array\",\"AA==\"]}",
		"{\"$typed\":[\"NoArray\",\"\"]}", "{\"$typed\":[\"Uint8Array\",{},0,0]}",
		"{\"$typed\":[\"Uint8Array\",{\"$bytes\":\"AA==\"},0,2]}", "{\"$map\":[[1]]}",
		"{\"$map\":[[1,2],[1,3]]}", "{\"$set\":[\"a\",\"a\"]}", "{\"$set\":{}}",
		"{\"$array\":[2,[[2,1]]]}", "{\"$array\":[2,[[0,1]],[[\"0\",1]]]}",
		"{\"$array\":[2,[[0,1]],[[\"length\",1]]]}", "{\"$error\":[]}", "{\"$wrapper\":[]}",
		"{\"$wrapper\":null}", "{\"$string\":[65536]}", "{\"$undefined\":0}", "{\"$buffer\":\"B\"}",
		"{\"$object\":[[1,2]]}", "1e400", "{\"$id\":1,\"$value\":{\"$id\":2,\"$value\":1}}",
	};
	cp_value *v;
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		v = NULL;
		ck_assert_msg(cp_value_from_json(bad[i], strlen(bad[i]), NULL, &v) == CP_ERR_SYNTAX,
			      "accepted %s", bad[i]);
		ck_assert_ptr_null(v);
		ck_assert_msg(cp_last_error_message()[0], "no message for %s", bad[i]);
	}
}
END_TEST

/* ---- errors of the API ---- */

START_TEST(test_data_clone_error)
{
	cp_value *root, *h;
	uint8_t *bytes = NULL;
	size_t len = 0;

	ck_assert_int_eq(cp_value_new_host_object("function f() {}", &h), 0);
	ck_assert_int_eq(value_encode(h, &bytes, &len), CP_ERR_DATA_CLONE);
	ck_assert_ptr_nonnull(strstr(cp_last_error_message(), "function f() {}"));
	root = obj();
	set(root, "deep", arr());
	push((cp_value *)cp_value_object_get(root, "deep"), h);
	ck_assert_int_eq(value_encode(root, &bytes, &len), CP_ERR_DATA_CLONE);
	ck_assert_str_eq(cp_error_name(CP_ERR_DATA_CLONE), "DataCloneError");
	ck_assert_ptr_null(bytes);
	cp_value_free(root);
}
END_TEST

/* ---- corrupt payloads ---- */

static size_t pack_nodes(Crosspost__Value__Node **nodes, size_t n, uint8_t *out)
{
	Crosspost__Value__Value value = CROSSPOST__VALUE__VALUE__INIT;

	value.n_nodes = n;
	value.nodes = nodes;
	return crosspost__value__value__pack(&value, out);
}

static void expect_data_error(const uint8_t *bytes, size_t len, const char *what)
{
	cp_value *v = NULL;
	int r = value_decode(bytes, len, &v);

	ck_assert_msg(r == CP_ERR_DATA, "%s: decode gave %d (%s)", what, r, cp_last_error_message());
	ck_assert_ptr_null(v);
}

START_TEST(test_corrupt_payloads)
{
	Crosspost__Value__Node n[4], *p[4] = { &n[0], &n[1], &n[2], &n[3] };
	Crosspost__Value__Object o = CROSSPOST__VALUE__OBJECT__INIT;
	Crosspost__Value__View vw = CROSSPOST__VALUE__VIEW__INIT;
	Crosspost__Value__BigInt bi = CROSSPOST__VALUE__BIG_INT__INIT;
	Crosspost__Value__Array a = CROSSPOST__VALUE__ARRAY__INIT;
	uint32_t refs[8];
	uint8_t buf[512], *good;
	size_t len, good_len, i;
	cp_value *v;
	int k;

	for (k = 0; k < 4; k++)
		crosspost__value__node__init(&n[k]);
	expect_data_error((const uint8_t *)"", 0, "empty");
	expect_data_error((const uint8_t *)"\x0a\x05\x08", 3, "truncated");
	expect_data_error((const uint8_t *)"\x0a\x00", 2, "node of no kind");
	/* A kind from the future (field 25). */
	expect_data_error((const uint8_t *)"\x0a\x02\xc8\x01", 4, "truncated future kind");
	expect_data_error((const uint8_t *)"\x0a\x03\xc8\x01\x00", 5, "unknown kind");
	expect_data_error((const uint8_t *)"\x0b", 1, "group wire type");
	expect_data_error((const uint8_t *)"\x0a\xff\xff\xff\xff\x0f", 6, "huge length");

	/* Object whose property refers to a node that does not exist. */
	n[0].kind_case = CROSSPOST__VALUE__NODE__KIND_OBJECT;
	n[0].object = &o;
	refs[0] = 1;
	refs[1] = 7;
	o.properties = refs;
	o.n_properties = 2;
	n[1].kind_case = CROSSPOST__VALUE__NODE__KIND_STRING;
	n[1].string.data = (uint8_t *)"k";
	n[1].string.len = 1;
	len = pack_nodes(p, 2, buf);
	expect_data_error(buf, len, "dangling reference");
	/* Odd count of property references. */
	o.n_properties = 1;
	len = pack_nodes(p, 2, buf);
	expect_data_error(buf, len, "odd properties");
	/* Key that is not a string. */
	refs[0] = 0;
	refs[1] = 1;
	o.n_properties = 2;
	len = pack_nodes(p, 2, buf);
	expect_data_error(buf, len, "object key is an object");
	/* Duplicate keys. */
	refs[0] = 1;
	refs[1] = 1;
	refs[2] = 1;
	refs[3] = 1;
	o.n_properties = 4;
	len = pack_nodes(p, 2, buf);
	expect_data_error(buf, len, "duplicate key");
	/* Valid, then an unreachable extra node. */
	o.n_properties = 2;
	len = pack_nodes(p, 2, buf);
	ck_assert_int_eq(value_decode(buf, len, &v), 0);
	cp_value_free(v);
	n[2].kind_case = CROSSPOST__VALUE__NODE__KIND_BOOLEAN;
	len = pack_nodes(p, 3, buf);
	expect_data_error(buf, len, "unreachable node");
	/* Unreachable cycle. */
	n[2].kind_case = CROSSPOST__VALUE__NODE__KIND_OBJECT;
	n[2].object = &o;
	len = pack_nodes(p, 3, buf);
	ck_assert_int_eq(value_decode(buf, len, &v), CP_ERR_DATA);
	/* Invalid WTF-8. */
	n[1].string.data = (uint8_t *)"\xed\xa0\x80\xed\xb0\x80";
	n[1].string.len = 6;
	len = pack_nodes(p, 2, buf);
	expect_data_error(buf, len, "surrogate pair as two sequences");
	n[1].string.data = (uint8_t *)"k";
	n[1].string.len = 1;

	/* View over something that is not a buffer; out of range; misaligned. */
	n[0].kind_case = CROSSPOST__VALUE__NODE__KIND_VIEW;
	n[0].view = &vw;
	vw.kind = CROSSPOST__VALUE__VIEW_KIND__UINT16_ARRAY;
	vw.buffer = 1;
	len = pack_nodes(p, 2, buf);
	expect_data_error(buf, len, "view of a string");
	n[1].kind_case = CROSSPOST__VALUE__NODE__KIND_ARRAY_BUFFER;
	n[1].array_buffer.data = (uint8_t *)"abcdefgh";
	n[1].array_buffer.len = 8;
	vw.length = 4;
	len = pack_nodes(p, 2, buf);
	ck_assert_int_eq(value_decode(buf, len, &v), 0);
	cp_value_free(v);
	vw.length = 5;
	len = pack_nodes(p, 2, buf);
	expect_data_error(buf, len, "view past the end");
	vw.length = UINT64_MAX / 2;
	vw.byte_offset = 2;
	len = pack_nodes(p, 2, buf);
	expect_data_error(buf, len, "view length overflow");
	vw.length = 1;
	vw.byte_offset = 1;
	len = pack_nodes(p, 2, buf);
	expect_data_error(buf, len, "misaligned view");
	vw.byte_offset = 0;
	vw.kind = 14;
	len = pack_nodes(p, 2, buf);
	expect_data_error(buf, len, "unknown view kind");

	/* Non-canonical bigints, bad dates, bad integers, bad constants. */
	n[0].kind_case = CROSSPOST__VALUE__NODE__KIND_BIGINT;
	n[0].bigint = &bi;
	bi.magnitude.data = (uint8_t *)"\x01\x00";
	bi.magnitude.len = 2;
	len = pack_nodes(p, 1, buf);
	expect_data_error(buf, len, "bigint with trailing zero");
	bi.magnitude.len = 0;
	bi.negative = true;
	len = pack_nodes(p, 1, buf);
	expect_data_error(buf, len, "negative zero bigint");
	n[0].kind_case = CROSSPOST__VALUE__NODE__KIND_DATE;
	n[0].date = 1.5;
	len = pack_nodes(p, 1, buf);
	expect_data_error(buf, len, "fractional date");
	n[0].date = -0.0;
	len = pack_nodes(p, 1, buf);
	expect_data_error(buf, len, "negative zero date");
	n[0].date = 9e15;
	len = pack_nodes(p, 1, buf);
	expect_data_error(buf, len, "date out of range");
	n[0].kind_case = CROSSPOST__VALUE__NODE__KIND_INTEGER;
	n[0].integer = INT64_MAX;
	len = pack_nodes(p, 1, buf);
	expect_data_error(buf, len, "integer beyond 2^53");
	n[0].kind_case = CROSSPOST__VALUE__NODE__KIND_CONSTANT;
	n[0].constant = 7;
	len = pack_nodes(p, 1, buf);
	expect_data_error(buf, len, "unknown constant");

	/* Arrays: sparse indices out of order, beyond length; elements beyond length. */
	n[0].kind_case = CROSSPOST__VALUE__NODE__KIND_ARRAY;
	n[0].array = &a;
	n[1].kind_case = CROSSPOST__VALUE__NODE__KIND_BOOLEAN;
	a.length = 10;
	refs[0] = 5;
	refs[1] = 1;
	refs[2] = 3;
	refs[3] = 1;
	a.sparse = refs;
	a.n_sparse = 4;
	len = pack_nodes(p, 2, buf);
	expect_data_error(buf, len, "sparse indices descending");
	refs[2] = 10;
	len = pack_nodes(p, 2, buf);
	expect_data_error(buf, len, "sparse index at length");
	refs[2] = 9;
	len = pack_nodes(p, 2, buf);
	ck_assert_int_eq(value_decode(buf, len, &v), 0);
	cp_value_free(v);
	a.n_sparse = 0;
	a.elements = refs;
	a.n_elements = 4;
	a.length = 3;
	len = pack_nodes(p, 2, buf);
	expect_data_error(buf, len, "more elements than length");

	/* Every truncation and many single-byte corruptions of a rich value
	 * must fail cleanly or decode to something that round-trips. */
	v = json("{\"a\":[1,2.5,\"x\",{\"$bigint\":\"-77\"}],\"m\":{\"$map\":[[{\"$date\":5},"
		 "{\"$regexp\":[\"a\",\"g\"]}]]},\"t\":{\"$typed\":[\"Int16Array\",\"AQIDBA==\"]},"
		 "\"e\":{\"$error\":[\"TypeError\",\"m\"]},\"s\":{\"$set\":[null,true]},"
		 "\"c\":{\"$id\":1,\"$value\":[{\"$ref\":1},{\"$array\":[9,[[4,1]],[[\"p\",2]]]}]}}");
	ck_assert_int_eq(value_encode(v, &good, &good_len), 0);
	cp_value_free(v);
	for (i = 0; i < good_len; i++) {
		v = NULL;
		k = value_decode(good, i, &v);
		ck_assert(k == 0 || k == CP_ERR_DATA);
		cp_value_free(v);
	}
	srand(1);
	for (i = 0; i < 20000; i++) {
		uint8_t copy[512];
		cp_value *w;

		ck_assert_uint_le(good_len, sizeof(copy));
		memcpy(copy, good, good_len);
		copy[(size_t)rand() % good_len] ^= (uint8_t)(1u << (rand() % 8));
		if (i % 2)
			copy[(size_t)rand() % good_len] = (uint8_t)rand();
		v = NULL;
		k = value_decode(copy, good_len, &v);
		ck_assert(k == 0 || k == CP_ERR_DATA);
		if (k == 0) {
			w = wire_roundtrip(v);
			ck_assert(cp_value_equal(v, w));
			cp_value_free(w);
			cp_value_free(v);
		}
	}
	free(good);
}
END_TEST

/* value_node_read.c parses Node messages by hand: it must follow the
 * protobuf encoding rules, not only the bytes that value_encode() writes.
 * What it accepts, protobuf-c accepts too.  It is stricter in one way: a
 * known field with the wrong wire type is malformed (protobuf-c reads some
 * of those anyway; C++ protobuf would skip them as unknown, leaving a node
 * of no kind, which is malformed as well). */
START_TEST(test_protobuf_encoding_rules)
{
	static const struct { const char *bytes; size_t len; const char *json; const char *what; } cases[] = {
		/* node 1 "k", node 2 the integer 7 (zigzag 14), after node 0 */
#define K_AND_7 "\x0a\x03\x2a\x01\x6b\x0a\x02\x20\x0e"
		{ "\x0a\x05\xf0\x01\x05\x08\x01", 7, "null", "unknown field 30 before the kind" },
		{ "\x0a\x08\x08\x01\xf5\x01\x01\x02\x03\x04", 10, "null", "unknown fixed32 field 30 after the kind" },
		{ "\x0a\x07\x08\x01\x2d\x01\x02\x03\x04", 9, NULL, "field 5 (string) as fixed32" },
		{ "\x0a\x05\x2a\x01\x61\x10\x01", 7, "true", "two kinds: the last one wins" },
		{ "\x0a\x04\x20\x8e\x80\x00", 6, "7", "an over-long varint" },
		{ "\x0a\x06\x3a\x04\x08\x01\x08\x02" K_AND_7, 17, "{\"k\":7}", "properties not packed" },
		{ "\x0a\x07\x3a\x05\x0a\x01\x01\x08\x02" K_AND_7, 18, "{\"k\":7}", "packed, then not packed" },
		{ "\x0a\x0b\x3a\x09\x2d\x00\x00\x00\x00\x0a\x02\x01\x02" K_AND_7, 22, "{\"k\":7}",
		  "unknown fixed32 field inside Object" },
		{ "\x0a\x07\x42\x05\x12\x01\x01\x08\x01\x0a\x02\x20\x0e", 13, "[7]", "array: elements before length" },
		{ "\x0a\x09\x42\x07\x08\x05\x08\x01\x12\x01\x01\x0a\x02\x20\x0e", 15, "[7]",
		  "array: the last length wins" },
		{ "\x0a\x03\x12\x01\x01", 5, NULL, "boolean with the length-delimited wire type" },
		{ "\x0a\x05\x42\x03\x0a\x01\x01", 7, NULL, "array length with the wrong wire type" },
		{ "\x0a\x04\x3a\x02\x0a\x05", 6, NULL, "packed list longer than its field" },
		{ "\x0a\x05\x3a\x03\x0a\x01\x81", 7, NULL, "packed list ending inside a varint" },
		{ "\x0a\x02\x00\x01", 4, NULL, "field number 0" },
		{ "\x0a\x04\x08\x01\xf3\x01", 6, NULL, "an unknown group after the kind" },
		{ "\x0a\x04\x19\x00\x00\x00", 6, NULL, "a double cut short" },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const uint8_t *bytes = (const uint8_t *)cases[i].bytes;
		Crosspost__Value__Value *pb;
		cp_value *v = NULL;
		int r;

		r = value_decode(bytes, cases[i].len, &v);
		pb = crosspost__value__value__unpack(NULL, cases[i].len, bytes);
		ck_assert_msg(pb != NULL || cases[i].json == NULL, "%s: protobuf-c refuses it", cases[i].what);
		if (pb)
			crosspost__value__value__free_unpacked(pb, NULL);
		if (!cases[i].json) {
			ck_assert_msg(r == CP_ERR_DATA, "%s: decoded", cases[i].what);
			continue;
		}
		ck_assert_msg(r == 0, "%s: %s", cases[i].what, cp_last_error_message());
		{
			cp_value *want = json(cases[i].json);

			ck_assert_msg(cp_value_equal(v, want), "%s: wrong value", cases[i].what);
			cp_value_free(want);
		}
		cp_value_free(v);
	}
}
END_TEST

/* Reachability: value_decode() checks it quickly when every node is
 * referred to by an earlier one (the order value_encode() writes), and by
 * walking the graph otherwise; both must hold. */
START_TEST(test_reachability_any_order)
{
	Crosspost__Value__Node n[4], *p[4] = { &n[0], &n[1], &n[2], &n[3] };
	Crosspost__Value__Array a0 = CROSSPOST__VALUE__ARRAY__INIT, a2 = CROSSPOST__VALUE__ARRAY__INIT;
	Crosspost__Value__Object o1 = CROSSPOST__VALUE__OBJECT__INIT, o2 = CROSSPOST__VALUE__OBJECT__INIT;
	uint32_t r0[1] = { 2 }, r2[1] = { 1 }, k1[2] = { 3, 2 }, k2[2] = { 3, 1 };
	uint8_t buf[256];
	size_t len;
	cp_value *v = NULL, *want;

	for (int k = 0; k < 4; k++)
		crosspost__value__node__init(&n[k]);
	/* [["x"]] written as: 0 = [node 2], 1 = "x", 2 = [node 1]: node 1 is
	 * referred to only by a later node, yet reachable. */
	n[0].kind_case = CROSSPOST__VALUE__NODE__KIND_ARRAY;
	n[0].array = &a0;
	a0.length = 1;
	a0.elements = r0;
	a0.n_elements = 1;
	n[1].kind_case = CROSSPOST__VALUE__NODE__KIND_STRING;
	n[1].string.data = (uint8_t *)"x";
	n[1].string.len = 1;
	n[2].kind_case = CROSSPOST__VALUE__NODE__KIND_ARRAY;
	n[2].array = &a2;
	a2.length = 1;
	a2.elements = r2;
	a2.n_elements = 1;
	len = pack_nodes(p, 3, buf);
	ck_assert_int_eq(value_decode(buf, len, &v), 0);
	want = json("[[\"x\"]]");
	ck_assert(cp_value_equal(v, want));
	cp_value_free(want);
	cp_value_free(v);

	/* 0 = {}, 1 = {k: node 2}, 2 = {k: node 1}, 3 = "k": nodes 2 and 3
	 * are referred to by earlier nodes, node 1 only by node 2; the cycle
	 * 1 <-> 2 is not reachable from the root. */
	n[0].kind_case = CROSSPOST__VALUE__NODE__KIND_OBJECT;
	n[0].object = &o1;
	o1.n_properties = 0;
	n[1].kind_case = CROSSPOST__VALUE__NODE__KIND_OBJECT;
	n[1].object = &o2;
	o2.properties = k1;
	o2.n_properties = 2;
	{
		Crosspost__Value__Object o3 = CROSSPOST__VALUE__OBJECT__INIT;

		o3.properties = k2;
		o3.n_properties = 2;
		n[2].kind_case = CROSSPOST__VALUE__NODE__KIND_OBJECT;
		n[2].object = &o3;
		n[3].kind_case = CROSSPOST__VALUE__NODE__KIND_STRING;
		n[3].string.data = (uint8_t *)"k";
		n[3].string.len = 1;
		len = pack_nodes(p, 4, buf);
	}
	v = NULL;
	ck_assert_int_eq(value_decode(buf, len, &v), CP_ERR_DATA);
	ck_assert_ptr_null(v);
	ck_assert_ptr_nonnull(strstr(cp_last_error_message(), "unreachable"));
}
END_TEST

/* `post-corrupt` (runner/scenario_corrupt.c): each kind of corruption,
 * applied to the valid encoding of values of one or many nodes, fails to
 * decode, and for the reason its name gives. */
START_TEST(test_scenario_corruptions)
{
	static const struct { enum scenario_corruption kind; const char *name, *reason; } kinds[] = {
		{ SCENARIO_CORRUPT_TRUNCATED, "truncated", "truncated field" },
		{ SCENARIO_CORRUPT_UNKNOWN_TYPE, "unknown-type", "unknown kind of node" },
		{ SCENARIO_CORRUPT_BAD_REFERENCE, "bad-reference", "reference to a node that does not exist" },
		{ SCENARIO_CORRUPT_GARBAGE, "garbage", "bad field tag" },
		{ SCENARIO_CORRUPT_EMPTY, "empty", "no nodes" },
	};
	static const char *const values[] = {
		"null", "\"a string long enough to need a two-byte length prefix, which is 128 bytes or "
		"more: xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\"",
		SCENARIO_CORRUPT_DEFAULT_DATA, "[{\"$id\":1,\"$value\":{}},{\"$ref\":1}]",
	};
	enum scenario_corruption parsed;

	for (size_t k = 0; k < sizeof(kinds) / sizeof(kinds[0]); k++) {
		ck_assert_int_eq(scenario_corruption_parse(kinds[k].name, &parsed), 0);
		ck_assert_int_eq(parsed, kinds[k].kind);
		ck_assert_str_eq(scenario_corruption_name(parsed), kinds[k].name);
		for (size_t i = 0; i < sizeof(values) / sizeof(values[0]); i++) {
			cp_value *v = json(values[i]), *out = NULL;
			uint8_t *bytes, *bad = NULL;
			size_t len, bad_len;

			ck_assert_int_eq(value_encode(v, &bytes, &len), 0);
			ck_assert_int_eq(scenario_corrupt(bytes, len, kinds[k].kind, &bad, &bad_len), 0);
			ck_assert_int_eq(value_decode(bad, bad_len, &out), CP_ERR_DATA);
			ck_assert_ptr_null(out);
			ck_assert_msg(strstr(cp_last_error_message(), kinds[k].reason),
				      "%s of %s: %s", kinds[k].name, values[i], cp_last_error_message());
			free(bad);
			free(bytes);
			cp_value_free(v);
		}
	}
	ck_assert_int_eq(scenario_corruption_parse("Truncated", &parsed), -EINVAL);
	ck_assert_int_eq(scenario_corruption_parse("", &parsed), -EINVAL);
}
END_TEST

/* ---- random graphs ---- */

static uint64_t rng_state;

static uint32_t rnd(uint32_t n)
{
	/* xorshift64*: deterministic from the printed seed. */
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return (uint32_t)((rng_state * 2685821657736338717ull) >> 33) % n;
}

static cp_value *random_leaf(cp_value **pool, size_t n_pool)
{
	static const double special[] = { 0.0, -0.0, NAN, INFINITY, -INFINITY, 1e21, 0.1, -7 };
	uint16_t units[6];
	uint8_t bytes[16];
	cp_value *v = NULL, *p = NULL;
	size_t i;

	switch (rnd(14)) {
	case 0: must(cp_value_new_undefined(&v), v); break;
	case 1: must(cp_value_new_null(&v), v); break;
	case 2: must(cp_value_new_boolean(rnd(2), &v), v); break;
	case 3: v = num(special[rnd(8)]); break;
	case 4: v = num((double)rnd(1000000) / (1 + rnd(100)) - 5000); break;
	case 5:
		for (i = 0; i < 6; i++)
			units[i] = (uint16_t)(rnd(4) ? 'a' + rnd(26) : rnd(3) ? 0xd800 + rnd(0x800) : rnd(0x10000));
		must(cp_value_new_string_utf16(units, rnd(7), &v), v);
		break;
	case 6: {
		char text[40];
		int len = snprintf(text, sizeof(text), "%s%u%u%u", rnd(2) ? "-" : "", rnd(1000000000),
				   rnd(1000000000), rnd(1000000000));

		must(cp_value_new_bigint(text, (size_t)len, &v), v);
		break;
	}
	case 7:
		v = num(rnd(100));
		must(cp_value_new_wrapper(v, &p), p);
		cp_value_free(v);
		v = p;
		break;
	case 8: must(cp_value_new_date(rnd(3) ? (double)rnd(2000000000) * 1000 : NAN, &v), v); break;
	case 9: must(cp_value_new_regexp(rnd(2) ? "a|b" : "\\d+", rnd(2) ? "gimsuy" : "dv", &v), v); break;
	case 10:
		for (i = 0; i < sizeof(bytes); i++)
			bytes[i] = (uint8_t)rnd(256);
		must(cp_value_new_array_buffer(bytes, rnd(17), &v), v);
		break;
	case 11: {
		/* A view over a buffer in the pool, when there is one. */
		for (i = 0; i < n_pool; i++) {
			p = pool[rnd((uint32_t)n_pool)];
			if (cp_value_get_type(p) == CP_VALUE_ARRAY_BUFFER) {
				size_t len;
				int kind = (int)rnd(13) + 1;
				size_t size = cp_view_kind_element_size(kind);

				cp_value_array_buffer_data(p, &len);
				if (len >= size) {
					size_t off = size * rnd((uint32_t)(len / size));

					must(cp_value_new_view(kind, p, off, rnd((uint32_t)((len - off) / size) + 1), &v), v);
					return v;
				}
			}
		}
		must(cp_value_new_error(rnd(2) ? "SyntaxError" : "Whatever", rnd(2) ? "msg" : NULL,
					rnd(2) ? "stack" : NULL, &v), v);
		break;
	}
	case 12: must(cp_value_new_error("EvalError", "e", NULL, &v), v); break;
	default: v = str(rnd(2) ? "k" : "value"); break;
	}
	return v;
}

/* A random graph: containers fill with new leaves, new containers and
 * references to nodes made before (sharing, and cycles through ancestors). */
static cp_value *random_graph(size_t target)
{
	cp_value **pool = calloc(target + 1, sizeof(*pool)), *root;
	size_t n = 0, i;

	root = arr();
	pool[n++] = root;
	for (i = 1; i < target; i++) {
		cp_value *parent = pool[rnd((uint32_t)n)], *child;
		int type = cp_value_get_type(parent), r;
		bool is_new = true;

		if (type != CP_VALUE_ARRAY && type != CP_VALUE_OBJECT && type != CP_VALUE_MAP &&
		    type != CP_VALUE_SET)
			parent = root;
		type = cp_value_get_type(parent);
		switch (rnd(6)) {
		case 0: ck_assert_int_eq(cp_value_new_object(&child), 0); break;
		case 1: child = arr(); break;
		case 2: ck_assert_int_eq(cp_value_new_map(&child), 0); break;
		case 3: ck_assert_int_eq(cp_value_new_set(&child), 0); break;
		case 4: child = pool[rnd((uint32_t)n)]; is_new = false; break;
		default: child = random_leaf(pool, n); break;
		}
		if (type == CP_VALUE_ARRAY) {
			if (rnd(4))
				r = cp_value_array_push(parent, child);
			else
				r = cp_value_array_set(parent, cp_value_array_length(parent) + rnd(5), child);
		} else if (type == CP_VALUE_OBJECT) {
			char key[16];

			snprintf(key, sizeof(key), rnd(3) ? "k%u" : "%u", rnd(50));
			r = cp_value_object_set(parent, key, child);
		} else if (type == CP_VALUE_MAP) {
			cp_value *key = rnd(2) ? num(rnd(30)) : child;

			if (key == child && !is_new && cp_value_get_type(child) <= CP_VALUE_STRING)
				key = num(rnd(30) + 100);
			r = cp_value_map_set(parent, key, child);
			if (r < 0 && key != child)
				cp_value_free(key);
		} else {
			r = cp_value_set_add(parent, child);
		}
		/* A key already taken: a new node goes to the root instead (freeing
		 * it could free a pool node it refers to, like a view's buffer). */
		if (r < 0 && is_new)
			push(root, child);
		if (is_new)
			pool[n++] = child;
	}
	free(pool);
	return root;
}

START_TEST(test_random_graphs)
{
	uint64_t seed = (uint64_t)time(NULL) ^ (uint64_t)_i * 0x9e3779b97f4a7c15ull;
	const char *env = getenv("CROSSPOST_TEST_SEED");
	int round;

	if (env)
		seed = strtoull(env, NULL, 0);
	/* Printed first, so that even a crash can be replayed. */
	fprintf(stderr, "random graphs: CROSSPOST_TEST_SEED=%" PRIu64 "\n", seed);
	for (round = 0; round < 40; round++) {
		uint64_t this_seed = seed + (uint64_t)round;
		cp_value *v, *w;
		char *a, *b;

		rng_state = this_seed | 1;
		v = random_graph(1 + rnd(300));
		w = wire_roundtrip(v);
		ck_assert_msg(cp_value_equal(v, w), "wire round trip differs; seed %" PRIu64, this_seed);
		cp_value_free(w);
		w = json_roundtrip(v);
		ck_assert_msg(cp_value_equal(v, w), "JSON round trip differs; seed %" PRIu64, this_seed);
		/* The JSON writer is deterministic: equal values print alike. */
		a = cp_value_to_json(v);
		b = cp_value_to_json(w);
		ck_assert_msg(strcmp(a, b) == 0, "JSON differs after a round trip; seed %" PRIu64, this_seed);
		free(a);
		free(b);
		cp_value_free(w);
		w = cp_value_clone(v);
		ck_assert_msg(cp_value_equal(v, w), "clone differs; seed %" PRIu64, this_seed);
		/* Any change is seen: add one more element to the clone's root. */
		push(w, num(1));
		ck_assert_msg(!cp_value_equal(v, w), "equality missed a change; seed %" PRIu64, this_seed);
		cp_value_free(w);
		cp_value_free(v);
	}
}
END_TEST

/* ---- size ---- */

START_TEST(test_deep)
{
	const size_t depth = 100000;
	cp_value *root = arr(), *v = root, *w;
	uint8_t *bytes;
	size_t len, i;
	char *text;

	for (i = 0; i < depth; i++) {
		cp_value *child = i % 2 ? arr() : obj();

		if (cp_value_get_type(v) == CP_VALUE_ARRAY)
			push(v, child);
		else
			set(v, "d", child);
		v = child;
	}
	ck_assert_int_eq(value_encode(root, &bytes, &len), 0);
	ck_assert_int_eq(value_decode(bytes, len, &w), 0);
	free(bytes);
	ck_assert(cp_value_equal(root, w));
	cp_value_free(w);
	w = cp_value_clone(root);
	ck_assert(cp_value_equal(root, w));
	cp_value_free(w);
	text = cp_value_to_json(root);
	ck_assert_ptr_nonnull(text);
	ck_assert_uint_gt(strlen(text), depth * 2);
	/* jansson's parser stops at its depth limit, with a clean error. */
	ck_assert_int_eq(cp_value_from_json(text, strlen(text), NULL, &w), CP_ERR_SYNTAX);
	free(text);
	cp_value_free(root);

	/* A chain as deep as JSON may be. */
	text = malloc(4000 + 1);
	for (i = 0; i < 2000; i++)
		text[i] = '[';
	for (i = 0; i < 2000; i++)
		text[2000 + i] = ']';
	text[4000] = 0;
	ck_assert_int_eq(cp_value_from_json(text, 4000, NULL, &w), 0);
	check_roundtrips(w);
	cp_value_free(w);
	free(text);
}
END_TEST

START_TEST(test_big)
{
	/* One million nodes: 250,000 objects {"k": i, "s": shared} plus their
	 * numbers, in one array; keys and the shared object are shared (an
	 * eighth of that under ASan: tier.h). */
	const size_t n = 250000 / TEST_SCALE_DIVISOR;
	cp_value *root = arr(), *shared = obj(), *w;
	uint8_t *bytes;
	size_t len, i;
	char *text;

	for (i = 0; i < n; i++) {
		cp_value *o = obj();

		set(o, "k", num((double)i));
		set(o, "s", shared);
		push(root, o);
	}
	ck_assert_int_eq(value_encode(root, &bytes, &len), 0);
	ck_assert_int_eq(value_decode(bytes, len, &w), 0);
	free(bytes);
	ck_assert(cp_value_equal(root, w));
	ck_assert_ptr_eq(cp_value_object_get(cp_value_array_get(w, 0), "s"),
			 cp_value_object_get(cp_value_array_get(w, n - 1), "s"));
	cp_value_free(w);
	w = cp_value_clone(root);
	ck_assert(cp_value_equal(root, w));
	cp_value_free(w);
	text = cp_value_to_json(root);
	ck_assert_int_eq(cp_value_from_json(text, strlen(text), NULL, &w), 0);
	ck_assert(cp_value_equal(root, w));
	free(text);
	cp_value_free(w);
	cp_value_free(root);
}
END_TEST

/* Decoding allocates a bounded multiple of the payload, even for payloads
 * made to be as costly as possible per byte. */
static size_t heap_in_use(void)
{
	struct mallinfo2 mi = mallinfo2();

	return mi.uordblks + mi.hblkhd;
}

static void check_memory_bound(const uint8_t *bytes, size_t len, const char *what)
{
	size_t before = heap_in_use(), after;
	cp_value *v = NULL;
	int r = value_decode(bytes, len, &v);

	after = heap_in_use();
	ck_assert_msg(r == 0, "%s: %s", what, cp_last_error_message());
	ck_assert_msg(after - before <= 32 * len + 65536, "%s: %zu bytes of payload took %zu bytes", what,
		      len, after - before);
	fprintf(stderr, "memory bound: %s: %zu payload bytes -> %zu heap bytes (%.1fx)\n", what, len,
		after - before, (double)(after - before) / (double)len);
	cp_value_free(v);
}

START_TEST(test_memory_bound)
{
	const size_t n = 200000;
	cp_value *root, *shared;
	uint8_t *enc;
	size_t len, i;

	if (UNDER_ASAN)
		return;
	/* The costliest nodes per byte: empty objects (4 bytes each). */
	root = arr();
	for (i = 0; i < n; i++)
		push(root, obj());
	ck_assert_int_eq(value_encode(root, &enc, &len), 0);
	cp_value_free(root);
	check_memory_bound(enc, len, "array of empty objects");
	free(enc);
	/* Tiny primitives, each its own node. */
	ck_assert_int_eq(cp_value_new_set(&root), 0);
	for (i = 0; i < n; i++)
		ck_assert_int_eq(cp_value_set_add(root, num((double)i)), 0);
	ck_assert_int_eq(value_encode(root, &enc, &len), 0);
	cp_value_free(root);
	check_memory_bound(enc, len, "set of integers");
	free(enc);
	/* References: one object referenced many times (1-3 bytes each). */
	root = arr();
	shared = obj();
	for (i = 0; i < n; i++)
		push(root, shared);
	ck_assert_int_eq(value_encode(root, &enc, &len), 0);
	cp_value_free(root);
	check_memory_bound(enc, len, "one object referenced many times");
	free(enc);
	/* Objects with one property each. */
	root = arr();
	for (i = 0; i < n; i++) {
		cp_value *o = obj();

		set(o, "k", obj());
		push(root, o);
	}
	ck_assert_int_eq(value_encode(root, &enc, &len), 0);
	cp_value_free(root);
	check_memory_bound(enc, len, "objects of one property");
	free(enc);
}
END_TEST

/* ---- transfer: buffers and ports moved with a message, in-process ---- */

/* Fake ports: the value module only reads their state and id. */
static cp_port *fake_port(uint64_t id)
{
	cp_port *p = calloc(1, sizeof(*p));

	ck_assert_ptr_nonnull(p);
	p->id = id;
	p->state = CP_PORT_OPEN;
	return p;
}

static cp_value *port_value(cp_port *p)
{
	cp_value *v = NULL;

	ck_assert_int_eq(cp_value_new_port(p, &v), 0);
	return v;
}

static cp_value *pattern_buffer(size_t len, unsigned seed)
{
	uint8_t *bytes = malloc(len ? len : 1);
	cp_value *v = NULL;

	ck_assert_ptr_nonnull(bytes);
	for (size_t i = 0; i < len; i++)
		bytes[i] = (uint8_t)(i * 31 + seed);
	ck_assert_int_eq(cp_value_new_array_buffer(bytes, len, &v), 0);
	free(bytes);
	return v;
}

static int open_fd_count(void)
{
	int n = 0;

	for (int fd = 0; fd < 4096; fd++)
		n += fcntl(fd, F_GETFD) >= 0;
	return n;
}

static ino_t inode_of(int fd)
{
	struct stat st;

	ck_assert_int_eq(fstat(fd, &st), 0);
	return st.st_ino;
}

static void assert_sealed(int fd)
{
	int seals = fcntl(fd, F_GET_SEALS);

	ck_assert_int_ge(seals, 0);
	ck_assert_int_eq(seals & (F_SEAL_WRITE | F_SEAL_GROW | F_SEAL_SHRINK | F_SEAL_SEAL),
			 F_SEAL_WRITE | F_SEAL_GROW | F_SEAL_SHRINK | F_SEAL_SEAL);
}

/* Encodes data with transfer and seals; ck-asserts success. */
static void encode_and_seal(const cp_value *data, cp_value *const *transfer, size_t n, uint8_t **bytes,
			    size_t *len, ValueTransfer *moved, int *fds)
{
	int r = value_encode_transfer(data, transfer, n, bytes, len, moved);

	ck_assert_msg(r == 0, "encode_transfer: %s", cp_last_error_message());
	assert_protobuf_c_bytes(*bytes, *len);
	r = value_transfer_seal(moved, fds);
	ck_assert_msg(r == 0, "seal: %s", cp_last_error_message());
	for (size_t i = 0; i < moved->n_buffers; i++)
		assert_sealed(fds[i]);
}

static void close_all(int *fds, size_t n)
{
	for (size_t i = 0; i < n; i++)
		close(fds[i]);
}

/* A small received ArrayBuffer (up to VALUE_BUFFER_INLINE_MAX bytes) lives
 * in its node's allocation, aligned as malloc aligns; it is written,
 * transferred onward (a copy into a sealed memfd) and detached like any
 * other, and freed with its node (ASan and valgrind watch). */
START_TEST(test_small_received_buffer_inline)
{
	cp_value *root = arr(), *small = pattern_buffer(100, 5), *edge = pattern_buffer(VALUE_BUFFER_INLINE_MAX, 6);
	cp_value *over = pattern_buffer(VALUE_BUFFER_INLINE_MAX + 1, 7), *view = NULL, *got = NULL;
	cp_value *transfer[1];
	const cp_value *b[3];
	uint8_t *bytes, *again, copy[100];
	size_t len, again_len;
	ValueTransfer moved;
	int fd;

	ck_assert_int_eq(cp_value_new_view(CP_VIEW_FLOAT64, small, 8, 2, &view), 0);
	push(root, small);
	push(root, edge);
	push(root, over);
	push(root, view);
	ck_assert_int_eq(value_encode(root, &bytes, &len), 0);
	ck_assert_int_eq(value_decode(bytes, len, &got), 0);
	ck_assert(cp_value_equal(root, got));
	for (size_t i = 0; i < 3; i++)
		b[i] = cp_value_array_get(got, i);
	ck_assert_ptr_eq(cp_value_view_buffer(cp_value_array_get(got, 3)), b[0]);
	ck_assert_int_eq(b[0]->sub, VALUE_BUFFER_INLINE);
	ck_assert_int_eq(b[1]->sub, VALUE_BUFFER_INLINE);
	ck_assert_int_eq(b[2]->sub, VALUE_BUFFER_HEAP);
	for (size_t i = 0; i < 2; i++) {
		const uint8_t *data = cp_value_array_buffer_data(b[i], NULL);

		/* Right after the node, at a multiple of 16. */
		ck_assert(data > (const uint8_t *)b[i] && data <= (const uint8_t *)b[i] + 64);
		ck_assert_uint_eq((uintptr_t)data % 16, 0);
	}
	/* Written, then transferred onward: the memfd holds what was written. */
	cp_value_array_buffer_data_mut((cp_value *)b[0], NULL)[0] = 0xee;
	memcpy(copy, cp_value_array_buffer_data(b[0], NULL), sizeof(copy));
	ck_assert(!cp_value_equal(root, got));
	transfer[0] = (cp_value *)b[0];
	encode_and_seal(got, transfer, 1, &again, &again_len, &moved, &fd);
	value_transfer_finish(&moved, true);
	ck_assert(cp_value_array_buffer_is_detached(b[0]));
	ck_assert_ptr_null(cp_value_array_buffer_data(b[0], &len));
	ck_assert_uint_eq(len, 0);
	{
		uint8_t sealed[101];

		ck_assert_int_eq(pread(fd, sealed, sizeof(sealed), 0), 100);
		ck_assert_int_eq(memcmp(sealed, copy, 100), 0);
	}
	close(fd);
	free(again);
	free(bytes);
	cp_value_free(got);
	cp_value_free(root);
}
END_TEST

/* Large ArrayBuffer bytes are placed at a multiple of 16 in the encoding
 * (Value.alignment), so that a receiver that read the payload into a block
 * keeps them there: value_decode_block() adopts the block (no copy) for the
 * first such buffer only, and copies when they are not aligned in memory,
 * or small; the values are equal either way. */
START_TEST(test_aligned_buffer_kept_in_the_payload_block)
{
	cp_value *root = arr(), *first = pattern_buffer(65536, 3), *second = pattern_buffer(20000, 4), *view = NULL;
	cp_value *got = NULL;
	const cp_value *b0, *b1;
	uint8_t *bytes, *block, *taken;
	size_t len;

	ck_assert_int_eq(cp_value_new_view(CP_VIEW_FLOAT64, first, 16, 100, &view), 0);
	push(root, first);
	push(root, second);
	push(root, view);
	ck_assert_int_eq(value_encode(root, &bytes, &len), 0);
	{
		/* Where the first buffer's bytes are in the encoding. */
		const uint8_t *data = cp_value_array_buffer_data(first, NULL);
		const uint8_t *at = memmem(bytes, len, data, 64);

		ck_assert_ptr_nonnull(at);
		ck_assert_uint_eq((size_t)(at - bytes) % 16, 0);
	}
	{
		/* Left out by reference (a post's sender), the same wire once
		 * the segments are put back where they belong. */
		ValueSegments sg;
		uint8_t *part, *whole;
		size_t part_len, pos = 0, w = 0;

		ck_assert_int_eq(value_encode_referencing(root, NULL, &part, &part_len, &sg), 0);
		ck_assert_uint_eq(sg.n, 2);
		ck_assert_uint_eq(sg.bytes, 65536 + 20000);
		ck_assert_uint_eq(part_len + sg.bytes, len);
		whole = malloc(len);
		for (size_t i = 0; i < sg.n; i++) {
			memcpy(whole + w, part + pos, sg.seg[i].at - pos);
			w += sg.seg[i].at - pos;
			memcpy(whole + w, sg.seg[i].data, sg.seg[i].len);
			w += sg.seg[i].len;
			pos = sg.seg[i].at;
		}
		memcpy(whole + w, part + pos, part_len - pos);
		ck_assert_int_eq(memcmp(whole, bytes, len), 0);
		free(whole);
		free(part);
	}
	/* Into a block (malloc'd: aligned), decoded where it lies. */
	block = malloc(len);
	memcpy(block, bytes, len);
	taken = block;
	ck_assert_int_eq(value_decode_block(&block, len, NULL, 0, NULL, 0, &got), 0);
	ck_assert_ptr_null(block);
	ck_assert(cp_value_equal(root, got));
	b0 = cp_value_array_get(got, 0);
	b1 = cp_value_array_get(got, 1);
	ck_assert_ptr_eq(cp_value_view_buffer(cp_value_array_get(got, 2)), b0);
	ck_assert(cp_value_array_buffer_data(b0, NULL) > taken &&
		  cp_value_array_buffer_data(b0, NULL) < taken + len);
	ck_assert(cp_value_array_buffer_data(b1, NULL) < taken || cp_value_array_buffer_data(b1, NULL) >= taken + len);
	/* Writable, and freed with the value (ASan watches both). */
	cp_value_array_buffer_data_mut((cp_value *)b0, NULL)[0] = 0xee;
	ck_assert(!cp_value_equal(root, got));
	cp_value_free(got);

	/* Shifted by two bytes (an unknown varint field first): not aligned
	 * in memory, so copied, and the block stays the caller's. */
	block = malloc(len + 2);
	block[0] = (uint8_t)WIRE_TAG(3, WIRE_VARINT);
	block[1] = 0;
	memcpy(block + 2, bytes, len);
	taken = block;
	ck_assert_int_eq(value_decode_block(&block, len + 2, NULL, 0, NULL, 0, &got), 0);
	ck_assert_ptr_eq(block, taken);
	ck_assert(cp_value_equal(root, got));
	ck_assert(cp_value_array_buffer_data(cp_value_array_get(got, 0), NULL) < taken ||
		  cp_value_array_buffer_data(cp_value_array_get(got, 0), NULL) >= taken + len + 2);
	cp_value_free(got);
	free(block);

	{
		/* A large buffer that is less than half the payload (a long
		 * string beside it) is copied: it must not keep the rest alive. */
		cp_value *pair = arr(), *text = NULL, *again = NULL;
		char *long_text = malloc(100001);
		uint8_t *pb, *pbytes;
		size_t plen;

		memset(long_text, 'x', 100000);
		long_text[100000] = '\0';
		ck_assert_int_eq(cp_value_new_string(long_text, &text), 0);
		push(pair, pattern_buffer(20000, 9));
		push(pair, text);
		ck_assert_int_eq(value_encode(pair, &pbytes, &plen), 0);
		pb = malloc(plen);
		memcpy(pb, pbytes, plen);
		taken = pb;
		ck_assert_int_eq(value_decode_block(&pb, plen, NULL, 0, NULL, 0, &again), 0);
		ck_assert_ptr_eq(pb, taken);
		ck_assert(cp_value_equal(pair, again));
		cp_value_free(again);
		free(pb);
		free(pbytes);
		free(long_text);
		cp_value_free(pair);
	}
	/* A decode that fails after the block was taken frees it with the
	 * partial graph (cut off the last node: the view's buffer reference
	 * stays valid, the encoding does not). */
	block = malloc(len);
	memcpy(block, bytes, len);
	ck_assert_int_lt(value_decode_block(&block, len - 1, NULL, 0, NULL, 0, &got), 0);
	free(block);    /* NULL when taken: ASan reports a double free otherwise */
	free(bytes);
	cp_value_free(root);
}
END_TEST

START_TEST(test_transfer_buffers)
{
	const size_t big_len = 1u << 20;
	int start_fds = open_fd_count(), fds[3];
	cp_value *big = pattern_buffer(big_len, 1), *small = pattern_buffer(100, 2), *extra = pattern_buffer(300, 3);
	cp_value *data = arr(), *v1, *v2, *out = NULL, *transfer[3] = { big, small, extra };
	const uint8_t *big_bytes = cp_value_array_buffer_data(big, NULL);
	ValueTransfer moved;
	uint8_t *bytes, *mine;
	size_t len, n;
	char *text;

	/* Two views share the big buffer; the third buffer is in transfer only. */
	ck_assert_int_eq(cp_value_new_view(CP_VIEW_UINT8, big, 0, big_len, &v1), 0);
	ck_assert_int_eq(cp_value_new_view(CP_VIEW_FLOAT64, big, 8, 4, &v2), 0);
	push(data, v1);
	push(data, v2);
	push(data, small);
	push(data, str("x"));
	encode_and_seal(data, transfer, 3, &bytes, &len, &moved, fds);
	ck_assert_uint_eq(moved.n_buffers, 3);
	ck_assert_uint_eq(moved.n_ports, 0);
	/* Transferred bytes are not in the payload. */
	ck_assert_uint_lt(len, 100);
	/* The big buffer's own memfd was sealed in place: no byte copied, and
	 * the sender's mapping is still there, at the same address, until the
	 * post is done. */
	ck_assert_uint_eq(inode_of(fds[0]), inode_of(big->u.buffer.fd));
	ck_assert_ptr_eq(cp_value_array_buffer_data(big, NULL), big_bytes);
	ck_assert_int_eq(big_bytes[12345], (uint8_t)(12345 * 31 + 1));

	ck_assert_int_eq(value_decode_transfer(bytes, len, fds, 3, NULL, 0, &out), 0);
	ck_assert(cp_value_equal(data, out));
	ck_assert_ptr_eq(cp_value_view_buffer(cp_value_array_get(out, 0)),
			 cp_value_view_buffer(cp_value_array_get(out, 1)));
	/* The receiver may write its copy (copy-on-write); the sender's bytes
	 * do not change. */
	mine = cp_value_array_buffer_data_mut((cp_value *)cp_value_view_buffer(cp_value_array_get(out, 0)), &n);
	ck_assert_uint_eq(n, big_len);
	mine[12345] = 0;
	ck_assert_int_eq(big_bytes[12345], (uint8_t)(12345 * 31 + 1));

	value_transfer_finish(&moved, true);
	for (int i = 0; i < 3; i++) {
		ck_assert(cp_value_array_buffer_is_detached(transfer[i]));
		ck_assert_ptr_null(cp_value_array_buffer_data(transfer[i], &n));
		ck_assert_uint_eq(n, 0);
	}
	/* Views on a detached buffer see length 0 (HTML). */
	ck_assert_uint_eq(cp_value_view_length(v1), 0);
	ck_assert_uint_eq(cp_value_view_byte_length(v2), 0);
	ck_assert_uint_eq(cp_value_view_byte_offset(v2), 0);
	text = cp_value_to_json(data);
	ck_assert_str_eq(text, "[{\"$typed\":[\"Uint8Array\",{\"$id\":1,\"$value\":{\"$bytes\":\"\"}},0,0]},"
			       "{\"$typed\":[\"Float64Array\",{\"$ref\":1},0,0]},{\"$bytes\":\"\"},\"x\"]");
	free(text);
	/* A detached buffer can be neither posted nor transferred again, nor viewed. */
	free(bytes);
	bytes = NULL;
	ck_assert_int_eq(value_encode(data, &bytes, &len), CP_ERR_DATA_CLONE);
	ck_assert_int_eq(value_encode_transfer(v2, &extra, 1, &bytes, &len, &moved), CP_ERR_DATA_CLONE);
	ck_assert_int_eq(cp_value_new_view(CP_VIEW_UINT8, big, 0, 0, &v1), CP_ERR_TYPE);

	/* The receiver's buffers outlive the descriptors. */
	close_all(fds, 3);
	ck_assert_int_eq(cp_value_array_buffer_data(cp_value_array_get(out, 2), NULL)[99], (uint8_t)(99 * 31 + 2));
	cp_value_free(out);
	cp_value_free(data);
	cp_value_free(extra);
	ck_assert_int_eq(open_fd_count(), start_fds);
}
END_TEST

/* A buffer received by transfer and never handed out writable is passed
 * on with the same memfd; once written, a transfer copies it. */
START_TEST(test_transfer_forwarding_and_failed_sends)
{
	int fd, fd2, start_fds = open_fd_count();
	cp_value *big = pattern_buffer(200000, 5), *got = NULL, *again = NULL;
	const uint8_t *at;
	ValueTransfer moved;
	uint8_t *bytes, *w;
	size_t len;
	ino_t original;

	encode_and_seal(big, &big, 1, &bytes, &len, &moved, &fd);
	original = inode_of(fd);
	at = cp_value_array_buffer_data(big, NULL);
	/* The send failed: the buffer stays usable, same address, same bytes. */
	value_transfer_finish(&moved, false);
	ck_assert(!cp_value_array_buffer_is_detached(big));
	ck_assert_ptr_eq(cp_value_array_buffer_data(big, NULL), at);
	ck_assert_int_eq(at[777], (uint8_t)(777 * 31 + 5));
	ck_assert_int_eq(value_decode_transfer(bytes, len, &fd, 1, NULL, 0, &got), 0);
	close(fd);
	free(bytes);

	/* Passed on unwritten: the same memfd. */
	encode_and_seal(got, &got, 1, &bytes, &len, &moved, &fd2);
	ck_assert_uint_eq(inode_of(fd2), original);
	value_transfer_finish(&moved, false);
	close(fd2);
	free(bytes);
	/* Written: a copy, with the new bytes. */
	w = cp_value_array_buffer_data_mut(got, NULL);
	w[0] = 0xee;
	encode_and_seal(got, &got, 1, &bytes, &len, &moved, &fd2);
	ck_assert_uint_ne(inode_of(fd2), original);
	ck_assert_int_eq(value_decode_transfer(bytes, len, &fd2, 1, NULL, 0, &again), 0);
	ck_assert_int_eq(cp_value_array_buffer_data(again, NULL)[0], 0xee);
	value_transfer_finish(&moved, true);
	ck_assert(cp_value_array_buffer_is_detached(got));
	close(fd2);
	free(bytes);

	/* The sender's buffer, sealed by the failed post and written through
	 * a pointer handed out before: a later transfer copies it. */
	w = cp_value_array_buffer_data_mut(big, NULL);
	encode_and_seal(big, &big, 1, &bytes, &len, &moved, &fd);
	ck_assert_uint_ne(inode_of(fd), original);
	value_transfer_finish(&moved, true);
	close(fd);
	free(bytes);
	(void)w;
	cp_value_free(again);
	cp_value_free(got);
	cp_value_free(big);
	ck_assert_int_eq(open_fd_count(), start_fds);
}
END_TEST

/* Sealing is refused while another writable shared mapping of the memfd
 * exists (here: our own, as a forked child would hold); the buffer is
 * then copied into a fresh memfd and stays as it was. */
START_TEST(test_transfer_seal_refused_copies)
{
	cp_value *big = pattern_buffer(VALUE_BUFFER_SHARED_MIN, 9), *got = NULL;
	uint8_t *other, *bytes, *at;
	ValueTransfer moved;
	size_t len;
	int fd;

	other = mmap(NULL, VALUE_BUFFER_SHARED_MIN, PROT_READ | PROT_WRITE, MAP_SHARED, big->u.buffer.fd, 0);
	ck_assert_ptr_ne(other, MAP_FAILED);
	at = cp_value_array_buffer_data_mut(big, NULL);
	encode_and_seal(big, &big, 1, &bytes, &len, &moved, &fd);
	ck_assert_uint_ne(inode_of(fd), inode_of(big->u.buffer.fd));
	/* Still the writable shared buffer it was. */
	ck_assert_int_eq(big->sub, VALUE_BUFFER_SHARED);
	ck_assert_ptr_eq(cp_value_array_buffer_data(big, NULL), at);
	at[3] = 0x42;
	ck_assert_int_eq(other[3], 0x42);
	ck_assert_int_eq(value_decode_transfer(bytes, len, &fd, 1, NULL, 0, &got), 0);
	ck_assert_int_eq(cp_value_array_buffer_data(got, NULL)[3], (uint8_t)(3 * 31 + 9));
	value_transfer_finish(&moved, true);
	munmap(other, VALUE_BUFFER_SHARED_MIN);
	close(fd);
	free(bytes);
	cp_value_free(got);
	cp_value_free(big);
}
END_TEST

START_TEST(test_transfer_ports)
{
	cp_port *p1 = fake_port(11), *p2 = fake_port(22);
	cp_value *a = port_value(p1), *a_again = port_value(p1), *b = port_value(p2), *data = obj(), *list = arr();
	cp_value *transfer[2] = { b, a }, *out = NULL;
	cp_port *received[2] = { p2, p1 };
	ValueTransfer moved;
	uint8_t *bytes;
	size_t len;
	char *text;
	int fds[1];

	ck_assert_int_eq(cp_value_get_type(a), CP_VALUE_PORT);
	ck_assert_str_eq(cp_value_type_name(a), "MessagePort");
	ck_assert_ptr_eq(cp_value_port(a), p1);
	ck_assert_ptr_null(cp_value_port(data));
	ck_assert_int_eq(cp_value_new_port(NULL, &out), CP_ERR_TYPE);
	/* Two nodes of one port are one object. */
	ck_assert(cp_value_equal(a, a_again));
	ck_assert(!cp_value_equal(a, b));
	set(data, "port", a);
	push(list, a_again);
	push(list, a);
	set(data, "list", list);
	text = cp_value_to_json(data);
	ck_assert_str_eq(text, "{\"port\":{\"$id\":1,\"$value\":{\"$port\":11}},\"list\":[{\"$port\":11},{\"$ref\":1}]}");
	free(text);
	ck_assert_int_eq(cp_value_from_json("{\"$port\":11}", 12, NULL, &out), CP_ERR_SYNTAX);

	encode_and_seal(data, transfer, 2, &bytes, &len, &moved, fds);
	ck_assert_uint_eq(moved.n_ports, 2);
	ck_assert_ptr_eq(moved.ports[0], p2);
	ck_assert_ptr_eq(moved.ports[1], p1);
	ck_assert_int_eq(value_decode_transfer(bytes, len, NULL, 0, received, 2, &out), 0);
	ck_assert_ptr_eq(cp_value_port(cp_value_object_get(out, "port")), p1);
	/* One wire node for p1: the receiver has one object for it. */
	ck_assert_ptr_eq(cp_value_object_get(out, "port"),
			 cp_value_array_get(cp_value_object_get(out, "list"), 0));
	/* Without its ports the message does not decode. */
	cp_value_free(out);
	out = NULL;
	ck_assert_int_eq(value_decode(bytes, len, &out), CP_ERR_DATA);
	ck_assert_int_eq(value_decode_transfer(bytes, len, NULL, 0, received, 1, &out), CP_ERR_DATA);
	ck_assert_ptr_null(out);
	transfer_finish(&moved, true);
	ck_assert_int_eq(cp_port_get_state(p1), CP_PORT_TRANSFERRED);
	ck_assert_int_eq(cp_port_get_state(p2), CP_PORT_TRANSFERRED);
	free(bytes);
	cp_value_free(data);
	cp_value_free(b);
	free(p1);
	free(p2);
}
END_TEST

/* Every DataCloneError of the transfer list, before anything moves. */
START_TEST(test_transfer_data_clone_errors)
{
	cp_port *open_port = fake_port(1), *closed = fake_port(2), *gone = fake_port(3);
	cp_value *buf = pattern_buffer(VALUE_BUFFER_SHARED_MIN, 4), *small = pattern_buffer(10, 4);
	cp_value *detached = pattern_buffer(10, 5), *pv = port_value(open_port), *pv2 = port_value(open_port);
	cp_value *host = NULL, *view = NULL, *o = obj(), *data = arr(), *many[FRAME_FDS_MAX + 1];
	ValueTransfer moved = { .n_buffers = 77 };
	uint8_t *bytes = NULL;
	size_t len = 0;
	struct {
		cp_value *transfer[3];
		size_t n;
		const char *message;
	} cases[] = {
		{ { buf, buf }, 2, "already in the list" },
		{ { pv, pv2 }, 2, "already in the list" },
		{ { detached }, 1, "detached" },
		{ { NULL }, 1, "closed MessagePort" },
		{ { NULL }, 1, "already transferred" },
		{ { o }, 1, "cannot be transferred" },
		{ { NULL }, 1, "cannot be transferred" },
		{ { NULL }, 1, "cannot be transferred" },
		{ { buf }, 1, "must also be in the transfer list" },
	};
	void *at = cp_value_array_buffer_data_mut(buf, NULL);

	ValueTransfer dmoved;
	int dfd;

	closed->state = CP_PORT_CLOSED;
	gone->state = CP_PORT_TRANSFERRED;
	cases[3].transfer[0] = port_value(closed);
	cases[4].transfer[0] = port_value(gone);
	ck_assert_int_eq(cp_value_new_host_object("function f", &host), 0);
	cases[6].transfer[0] = host;
	ck_assert_int_eq(cp_value_new_view(CP_VIEW_UINT8, small, 0, 10, &view), 0);
	cases[7].transfer[0] = view;
	/* data holds a port that transfer does not list. */
	push(data, pv);
	push(data, buf);
	encode_and_seal(o, &detached, 1, &bytes, &len, &dmoved, &dfd);
	value_transfer_finish(&dmoved, true);
	close(dfd);
	free(bytes);
	bytes = NULL;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int r = value_encode_transfer(data, cases[i].transfer, cases[i].n, &bytes, &len, &moved);

		ck_assert_msg(r == CP_ERR_DATA_CLONE, "case %zu gave %d", i, r);
		ck_assert_msg(strstr(cp_last_error_message(), cases[i].message), "case %zu: %s", i,
			      cp_last_error_message());
		ck_assert_ptr_null(bytes);
		ck_assert_uint_eq(moved.n_buffers, 77);   /* untouched */
	}
	/* Too many. */
	for (size_t i = 0; i < FRAME_FDS_MAX + 1; i++)
		many[i] = pattern_buffer(1, 0);
	ck_assert_int_eq(value_encode_transfer(data, many, FRAME_FDS_MAX + 1, &bytes, &len, &moved), CP_ERR_DATA_CLONE);
	for (size_t i = 0; i < FRAME_FDS_MAX + 1; i++) {
		cp_value_free(many[i]);
		many[i] = port_value(fake_port(100 + i));
	}
	ck_assert_int_eq(value_encode_transfer(data, many, FRAME_FDS_MAX + 1, &bytes, &len, &moved), CP_ERR_DATA_CLONE);
	ck_assert_ptr_null(strstr(cp_last_error_message(), "NULL"));
	for (size_t i = 0; i < FRAME_FDS_MAX + 1; i++) {
		free(cp_value_port(many[i]));
		cp_value_free(many[i]);
	}
	ck_assert_int_eq(value_encode_transfer(data, (cp_value *[]){ NULL }, 1, &bytes, &len, &moved), CP_ERR_TYPE);
	/* Nothing moved: the buffer is whole and where it was, the port open. */
	ck_assert(!cp_value_array_buffer_is_detached(buf));
	ck_assert_ptr_eq(cp_value_array_buffer_data(buf, NULL), at);
	ck_assert_int_eq(cp_port_get_state(open_port), CP_PORT_OPEN);
	/* And the right list works. */
	{
		cp_value *t[2] = { pv2, buf };
		int fd;

		encode_and_seal(data, t, 2, &bytes, &len, &moved, &fd);
		close(fd);
		free(bytes);
	}
	cp_value_free(cases[3].transfer[0]);
	cp_value_free(cases[4].transfer[0]);
	cp_value_free(host);
	cp_value_free(view);
	cp_value_free(o);
	cp_value_free(pv2);
	cp_value_free(detached);
	cp_value_free(data);
	free(open_port);
	free(closed);
	free(gone);
}
END_TEST

/* Buffers keep a quarter of the descriptor limit at most: past that they
 * stay on the heap, and still transfer (by a copy). */
START_TEST(test_transfer_descriptor_budget)
{
	struct rlimit rl;
	cp_value *bufs[40];
	int start, fd, shared = 0;
	ValueTransfer moved;
	uint8_t *bytes;
	size_t len;

	/* The budget is read once per process: only a fresh test process
	 * sees the limit set here. */
	if (getenv("CK_FORK") && strcmp(getenv("CK_FORK"), "no") == 0)
		return;
	ck_assert_int_eq(getrlimit(RLIMIT_NOFILE, &rl), 0);
	rl.rlim_cur = 64;
	ck_assert_int_eq(setrlimit(RLIMIT_NOFILE, &rl), 0);
	start = open_fd_count();
	for (int i = 0; i < 40; i++) {
		bufs[i] = pattern_buffer(VALUE_BUFFER_SHARED_MIN, (unsigned)i);
		shared += bufs[i]->sub == VALUE_BUFFER_SHARED;
	}
	ck_assert_int_eq(shared, 16);
	ck_assert_int_eq(open_fd_count(), start + 16);
	encode_and_seal(bufs[39], &bufs[39], 1, &bytes, &len, &moved, &fd);
	value_transfer_finish(&moved, true);
	close(fd);
	free(bytes);
	for (int i = 0; i < 40; i++)
		cp_value_free(bufs[i]);
	ck_assert_int_eq(open_fd_count(), start);
}
END_TEST

/* A sealed memfd of len bytes (sparse), with the given seals. */
static int memfd_with_seals(size_t len, int seals)
{
	int fd = memfd_create("check-value", MFD_CLOEXEC | MFD_ALLOW_SEALING);

	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(ftruncate(fd, (off_t)len), 0);
	if (seals)
		ck_assert_int_eq(fcntl(fd, F_ADD_SEALS, seals), 0);
	return fd;
}

/* Payload: one node, a transferred buffer or port with this index; or
 * two nodes (an array of both) naming the same one. */
static size_t moved_payload(uint8_t *out, bool port, uint32_t index, bool twice)
{
	Crosspost__Value__Node n[3] = { CROSSPOST__VALUE__NODE__INIT, CROSSPOST__VALUE__NODE__INIT,
					CROSSPOST__VALUE__NODE__INIT };
	Crosspost__Value__Node *p[3] = { &n[0], &n[1], &n[2] };
	Crosspost__Value__Array a = CROSSPOST__VALUE__ARRAY__INIT;
	uint32_t elements[2] = { 1, 2 };
	size_t first = 0;

	if (twice) {
		a.length = 2;
		a.n_elements = 2;
		a.elements = elements;
		n[0].kind_case = CROSSPOST__VALUE__NODE__KIND_ARRAY;
		n[0].array = &a;
		first = 1;
	}
	for (size_t k = first; k < (twice ? 3u : 1u); k++) {
		if (port) {
			n[k].kind_case = CROSSPOST__VALUE__NODE__KIND_PORT;
			n[k].port = index;
		} else {
			n[k].kind_case = CROSSPOST__VALUE__NODE__KIND_TRANSFERRED_ARRAY_BUFFER;
			n[k].transferred_array_buffer = index;
		}
	}
	return pack_nodes(p, twice ? 3 : 1, out);
}

static void expect_moved_error(const uint8_t *bytes, size_t len, const int *fds, size_t n_fds,
			       cp_port *const *ports, size_t n_ports, const char *what)
{
	cp_value *v = NULL;
	int r = value_decode_transfer(bytes, len, fds, n_fds, ports, n_ports, &v);

	ck_assert_msg(r == CP_ERR_DATA, "%s: decode gave %d (%s)", what, r, cp_last_error_message());
	ck_assert_ptr_null(v);
}

/* The receiver maps only sealed memfds, and each once. */
START_TEST(test_transfer_decode_refuses)
{
	const int all = F_SEAL_WRITE | F_SEAL_GROW | F_SEAL_SHRINK;
	uint8_t payload[64];
	size_t len;
	int pipe_fds[2], start_fds, good, fds[6];
	cp_port *port = fake_port(5);
	cp_value *v = NULL;

	ck_assert_int_eq(pipe(pipe_fds), 0);
	good = memfd_with_seals(VALUE_BUFFER_SHARED_MIN, all | F_SEAL_SEAL);
	fds[0] = pipe_fds[0];
	fds[1] = memfd_with_seals(100, 0);
	fds[2] = memfd_with_seals(100, F_SEAL_WRITE);
	fds[3] = memfd_with_seals(100, F_SEAL_GROW | F_SEAL_SHRINK);
	/* Sparse: costs nothing to make, and is over the limit. */
	fds[4] = memfd_with_seals((size_t)VALUE_TRANSFERRED_BUFFER_MAX + 4096, all);
	fds[5] = open("/dev/null", O_RDONLY | O_CLOEXEC);
	start_fds = open_fd_count();

	for (uint32_t i = 0; i < 6; i++) {
		len = moved_payload(payload, false, i, false);
		expect_moved_error(payload, len, fds, 6, NULL, 0, "a descriptor that is not a sealed memfd");
	}
	len = moved_payload(payload, false, 0, false);
	ck_assert_int_eq(value_decode_transfer(payload, len, &good, 1, NULL, 0, &v), 0);
	ck_assert_uint_eq(v->u.buffer.len, VALUE_BUFFER_SHARED_MIN);
	cp_value_free(v);
	v = NULL;
	expect_moved_error(payload, len, NULL, 0, NULL, 0, "no descriptor came");
	len = moved_payload(payload, false, 1, false);
	expect_moved_error(payload, len, &good, 1, NULL, 0, "a buffer index past the descriptors");
	len = moved_payload(payload, false, 0, true);
	expect_moved_error(payload, len, &good, 1, NULL, 0, "one buffer named twice");
	len = moved_payload(payload, true, 0, false);
	ck_assert_int_eq(value_decode_transfer(payload, len, NULL, 0, &port, 1, &v), 0);
	ck_assert_ptr_eq(cp_value_port(v), port);
	cp_value_free(v);
	v = NULL;
	expect_moved_error(payload, len, &good, 1, NULL, 0, "no port came");
	len = moved_payload(payload, true, 0, true);
	expect_moved_error(payload, len, NULL, 0, &port, 1, "one port named twice");
	len = moved_payload(payload, true, 7, false);
	expect_moved_error(payload, len, NULL, 0, &port, 1, "a port index past the ports");
	/* Each within the limit, together over it: refused before the large
	 * one is mapped. */
	{
		int halves[2] = { memfd_with_seals(100, all),
				  memfd_with_seals((size_t)VALUE_TRANSFERRED_BUFFER_MAX - 50, all) };
		Crosspost__Value__Node n[3] = { CROSSPOST__VALUE__NODE__INIT, CROSSPOST__VALUE__NODE__INIT,
						CROSSPOST__VALUE__NODE__INIT };
		Crosspost__Value__Node *p[3] = { &n[0], &n[1], &n[2] };
		Crosspost__Value__Array a = CROSSPOST__VALUE__ARRAY__INIT;
		uint32_t elements[2] = { 1, 2 };

		a.length = a.n_elements = 2;
		a.elements = elements;
		n[0].kind_case = CROSSPOST__VALUE__NODE__KIND_ARRAY;
		n[0].array = &a;
		for (int k = 1; k < 3; k++) {
			n[k].kind_case = CROSSPOST__VALUE__NODE__KIND_TRANSFERRED_ARRAY_BUFFER;
			n[k].transferred_array_buffer = (uint32_t)(k - 1);
		}
		len = pack_nodes(p, 3, payload);
		expect_moved_error(payload, len, halves, 2, NULL, 0, "buffers together over the limit");
		ck_assert_ptr_nonnull(strstr(cp_last_error_message(), "size limit"));
		close_all(halves, 2);
	}
	/* Nothing kept open on any of those paths. */
	ck_assert_int_eq(open_fd_count(), start_fds);
	close(good);
	close(pipe_fds[1]);
	close_all(fds, 6);
	free(port);
}
END_TEST

static Suite *value_suite(void)
{
	Suite *s = suite_create("value");
	TCase *tc = tcase_create("types");

	tcase_add_test(tc, test_primitives);
	tcase_add_test(tc, test_bigint);
	tcase_add_test(tc, test_strings_utf16);
	tcase_add_test(tc, test_wrappers_date_regexp_error_host);
	tcase_add_test(tc, test_buffers_and_views);
	tcase_add_test(tc, test_containers);
	suite_add_tcase(s, tc);

	tc = tcase_create("graphs");
	tcase_add_test(tc, test_shared_and_cycles);
	tcase_add_test(tc, test_equality);
	tcase_add_loop_test(tc, test_random_graphs, 0, 5);
	suite_add_tcase(s, tc);

	tc = tcase_create("json");
	tcase_add_test(tc, test_json_contract);
	tcase_add_test(tc, test_json_errors);
	suite_add_tcase(s, tc);

	tc = tcase_create("wire");
	tcase_add_test(tc, test_data_clone_error);
	tcase_add_test(tc, test_corrupt_payloads);
	tcase_add_test(tc, test_scenario_corruptions);
	tcase_add_test(tc, test_protobuf_encoding_rules);
	tcase_add_test(tc, test_aligned_buffer_kept_in_the_payload_block);
	tcase_add_test(tc, test_small_received_buffer_inline);
	tcase_add_test(tc, test_reachability_any_order);
	suite_add_tcase(s, tc);

	tc = tcase_create("transfer");
	tcase_add_test(tc, test_transfer_buffers);
	tcase_add_test(tc, test_transfer_forwarding_and_failed_sends);
	tcase_add_test(tc, test_transfer_seal_refused_copies);
	tcase_add_test(tc, test_transfer_ports);
	tcase_add_test(tc, test_transfer_data_clone_errors);
	tcase_add_test(tc, test_transfer_decode_refuses);
	tcase_add_test(tc, test_transfer_descriptor_budget);
	suite_add_tcase(s, tc);

	tc = tcase_create("size");
	tcase_set_timeout(tc, 300);
	tcase_add_test(tc, test_deep);
	tcase_add_test(tc, test_big);
	tcase_add_test(tc, test_memory_bound);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(value_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
