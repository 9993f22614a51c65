/* SPDX-License-Identifier: MIT */
/* value.c - cp_value nodes: builders, inspectors, and freeing a whole graph. */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "crosspost.h"
#include "error.h"
#include "value_internal.h"

static const char *const error_names[VALUE_ERROR_NAME_COUNT] = {
	"Error", "EvalError", "RangeError", "ReferenceError", "SyntaxError", "TypeError", "URIError",
};

static const struct {
	const char *name;
	size_t size;
} view_kinds[] = {
	[CP_VIEW_INT8] = { "Int8Array", 1 },
	[CP_VIEW_UINT8] = { "Uint8Array", 1 },
	[CP_VIEW_UINT8_CLAMPED] = { "Uint8ClampedArray", 1 },
	[CP_VIEW_INT16] = { "Int16Array", 2 },
	[CP_VIEW_UINT16] = { "Uint16Array", 2 },
	[CP_VIEW_INT32] = { "Int32Array", 4 },
	[CP_VIEW_UINT32] = { "Uint32Array", 4 },
	[CP_VIEW_FLOAT16] = { "Float16Array", 2 },
	[CP_VIEW_FLOAT32] = { "Float32Array", 4 },
	[CP_VIEW_FLOAT64] = { "Float64Array", 8 },
	[CP_VIEW_BIGINT64] = { "BigInt64Array", 8 },
	[CP_VIEW_BIGUINT64] = { "BigUint64Array", 8 },
	[CP_VIEW_DATA_VIEW] = { "DataView", 1 },
};

static const char *const type_names[] = {
	[CP_VALUE_UNDEFINED] = "undefined", [CP_VALUE_NULL] = "null",
	[CP_VALUE_BOOLEAN] = "boolean", [CP_VALUE_NUMBER] = "number",
	[CP_VALUE_BIGINT] = "bigint", [CP_VALUE_STRING] = "string",
	[CP_VALUE_BOOLEAN_OBJECT] = "Boolean", [CP_VALUE_NUMBER_OBJECT] = "Number",
	[CP_VALUE_BIGINT_OBJECT] = "BigInt", [CP_VALUE_STRING_OBJECT] = "String",
	[CP_VALUE_DATE] = "Date", [CP_VALUE_REGEXP] = "RegExp",
	[CP_VALUE_ARRAY_BUFFER] = "ArrayBuffer", [CP_VALUE_VIEW] = "ArrayBufferView",
	[CP_VALUE_MAP] = "Map", [CP_VALUE_SET] = "Set", [CP_VALUE_ARRAY] = "Array",
	[CP_VALUE_OBJECT] = "Object", [CP_VALUE_ERROR] = "Error",
	[CP_VALUE_HOST_OBJECT] = "HostObject", [CP_VALUE_PORT] = "MessagePort",
};

/* ---- internal constructors ---- */

cp_value *value_alloc(cp_value_type type, size_t tail)
{
	cp_value *v;

	if (tail > SIZE_MAX - sizeof(*v))
		return NULL;
	/* malloc, not calloc: glibc's calloc skips the thread's cache of
	 * freed chunks, and a decoded message allocates a node or two.  (The
	 * two memsets keep gcc from turning malloc and one memset of the
	 * same size back into calloc.) */
	v = malloc(sizeof(*v) + tail);
	if (v) {
		memset(v, 0, sizeof(*v));
		if (tail)
			memset(v + 1, 0, tail);
		v->type = (uint8_t)type;
	}
	return v;
}

cp_value *value_new_text(cp_value_type type, const void *data, size_t len, uint16_t flags)
{
	cp_value *v;

	if (len == SIZE_MAX)
		return NULL;
	v = value_alloc(type, len + 1);
	if (!v)
		return NULL;
	v->flags = flags;
	v->u.text.data = (char *)(v + 1);
	v->u.text.len = len;
	if (len)
		memcpy(v->u.text.data, data, len);
	return v;
}

cp_value *value_new_bigint(cp_value_type type, bool negative, const uint8_t *mag, size_t len)
{
	while (len > 0 && mag[len - 1] == 0)
		len--;
	return value_new_text(type, mag, len, negative && len > 0 ? VALUE_F_NEGATIVE : 0);
}

cp_value *value_new_regexp(const char *source, size_t len, bool ill_formed, unsigned flag_bits)
{
	const char *chars = VALUE_REGEXP_FLAG_CHARS;
	cp_value *v;
	char *flags;
	unsigned i;

	/* The flags string lives after the source's NUL: 8 flags + NUL. */
	if (len > SIZE_MAX - 16)
		return NULL;
	v = value_alloc(CP_VALUE_REGEXP, len + 10);
	if (!v)
		return NULL;
	v->flags = ill_formed ? VALUE_F_ILL_FORMED : 0;
	v->sub = (uint8_t)flag_bits;
	v->u.text.data = (char *)(v + 1);
	v->u.text.len = len;
	if (len)
		memcpy(v->u.text.data, source, len);
	flags = v->u.text.data + len + 1;
	for (i = 0; chars[i]; i++)
		if (flag_bits & (1u << i))
			*flags++ = chars[i];
	*flags = 0;
	return v;
}

cp_value *value_new_error(unsigned name, const char *message, size_t message_len,
			  const char *stack, size_t stack_len)
{
	struct value_error *e;
	size_t tail = sizeof(*e);
	cp_value *v;
	char *p;

	if (message_len > SIZE_MAX / 4 || stack_len > SIZE_MAX / 4)
		return NULL;
	tail += message_len + 1 + stack_len + 1;
	v = value_alloc(CP_VALUE_ERROR, tail);
	if (!v)
		return NULL;
	v->sub = (uint8_t)(name < VALUE_ERROR_NAME_COUNT ? name : 0);
	e = (struct value_error *)(v + 1);
	v->u.error = e;
	p = (char *)(e + 1);
	e->message.data = p;
	if (message) {
		v->flags |= VALUE_F_HAS_MESSAGE;
		e->message.len = message_len;
		if (message_len)
			memcpy(p, message, message_len);
		p += message_len;
	}
	*p++ = 0;
	e->stack.data = p;
	if (stack) {
		v->flags |= VALUE_F_HAS_STACK;
		e->stack.len = stack_len;
		if (stack_len)
			memcpy(p, stack, stack_len);
		p += stack_len;
	}
	*p = 0;
	return v;
}

double value_time_clip(double t)
{
	if (!isfinite(t) || fabs(t) > VALUE_TIME_MAX)
		return NAN;
	/* ToIntegerOrInfinity truncates and turns -0 into +0. */
	return trunc(t) + 0.0;
}

unsigned value_error_name_index(const char *name, size_t len)
{
	unsigned i;

	for (i = 0; i < VALUE_ERROR_NAME_COUNT; i++)
		if (strlen(error_names[i]) == len && memcmp(error_names[i], name, len) == 0)
			return i;
	return 0;
}

const char *value_error_name_string(unsigned index)
{
	return error_names[index < VALUE_ERROR_NAME_COUNT ? index : 0];
}

int value_regexp_flags_parse(const char *flags, size_t len)
{
	const char *chars = VALUE_REGEXP_FLAG_CHARS;
	unsigned bits = 0;
	size_t i;

	for (i = 0; i < len; i++) {
		const char *p = flags[i] ? strchr(chars, flags[i]) : NULL;
		unsigned bit;

		if (!p)
			return -1;
		bit = 1u << (p - chars);
		if (bits & bit)
			return -1;
		bits |= bit;
	}
	/* u (unicode) and v (unicodeSets) exclude each other. */
	if ((bits & (1u << 5)) && (bits & (1u << 6)))
		return -1;
	return (int)bits;
}

void value_free_shallow(cp_value *v)
{
	switch (v->type) {
	case CP_VALUE_ARRAY_BUFFER:
		value_buffer_release(v);
		break;
	case CP_VALUE_ARRAY:
	case CP_VALUE_OBJECT:
	case CP_VALUE_MAP:
	case CP_VALUE_SET:
		value_container_free(v->u.c);
		break;
	default:
		break;
	}
	free(v);
}

static bool number_equal(double a, double b)
{
	if (isnan(a) || isnan(b))
		return isnan(a) && isnan(b);
	return a == b && signbit(a) == signbit(b);
}

bool value_shallow_equal(const cp_value *a, const cp_value *b)
{
	const struct value_container *ca, *cb;
	size_t i;

	if (a->type != b->type)
		return false;
	switch (a->type) {
	case CP_VALUE_BOOLEAN:
	case CP_VALUE_BOOLEAN_OBJECT:
		return (a->flags & VALUE_F_TRUE) == (b->flags & VALUE_F_TRUE);
	case CP_VALUE_NUMBER:
	case CP_VALUE_NUMBER_OBJECT:
	case CP_VALUE_DATE:
		return number_equal(a->u.number, b->u.number);
	case CP_VALUE_BIGINT:
	case CP_VALUE_BIGINT_OBJECT:
		return (a->flags & VALUE_F_NEGATIVE) == (b->flags & VALUE_F_NEGATIVE) &&
		       value_text_equal(a, b);
	case CP_VALUE_STRING:
	case CP_VALUE_STRING_OBJECT:
	case CP_VALUE_HOST_OBJECT:
		return value_text_equal(a, b);
	case CP_VALUE_REGEXP:
		return a->sub == b->sub && value_text_equal(a, b);
	case CP_VALUE_ARRAY_BUFFER:
		return a->u.buffer.len == b->u.buffer.len &&
		       (a->u.buffer.len == 0 || memcmp(a->u.buffer.data, b->u.buffer.data, a->u.buffer.len) == 0);
	case CP_VALUE_VIEW:
		/* As the getters answer: 0 on a detached buffer. */
		return a->sub == b->sub && cp_value_view_byte_offset(a) == cp_value_view_byte_offset(b) &&
		       cp_value_view_length(a) == cp_value_view_length(b);
	case CP_VALUE_PORT:
		return a->u.port == b->u.port;
	case CP_VALUE_ERROR:
		return a->sub == b->sub &&
		       (a->flags & (VALUE_F_HAS_MESSAGE | VALUE_F_HAS_STACK)) ==
		       (b->flags & (VALUE_F_HAS_MESSAGE | VALUE_F_HAS_STACK)) &&
		       a->u.error->message.len == b->u.error->message.len &&
		       a->u.error->stack.len == b->u.error->stack.len &&
		       memcmp(a->u.error->message.data, b->u.error->message.data, a->u.error->message.len) == 0 &&
		       memcmp(a->u.error->stack.data, b->u.error->stack.data, a->u.error->stack.len) == 0;
	case CP_VALUE_ARRAY:
	case CP_VALUE_OBJECT:
	case CP_VALUE_MAP:
	case CP_VALUE_SET:
		ca = a->u.c;
		cb = b->u.c;
		if (value_child_count(a) != value_child_count(b))
			return false;
		if (a->type != CP_VALUE_ARRAY)
			return true;
		if ((ca ? ca->length : 0) != (cb ? cb->length : 0) ||
		    (ca ? ca->n_elements : 0) != (cb ? cb->n_elements : 0))
			return false;
		for (i = 0; ca && i < ca->n_elements; i++)
			if (value_element_index(ca, i) != value_element_index(cb, i))
				return false;
		return true;
	default:
		return true;
	}
}

cp_value *value_copy_shallow(const cp_value *v)
{
	cp_value *copy;

	switch (v->type) {
	case CP_VALUE_STRING:
	case CP_VALUE_STRING_OBJECT:
	case CP_VALUE_BIGINT:
	case CP_VALUE_BIGINT_OBJECT:
	case CP_VALUE_HOST_OBJECT:
		return value_new_text(v->type, v->u.text.data, v->u.text.len, v->flags & ~VALUE_F_MARK);
	case CP_VALUE_REGEXP:
		return value_new_regexp(v->u.text.data, v->u.text.len, v->flags & VALUE_F_ILL_FORMED, v->sub);
	case CP_VALUE_ERROR:
		return value_new_error(v->sub,
				       (v->flags & VALUE_F_HAS_MESSAGE) ? v->u.error->message.data : NULL,
				       v->u.error->message.len,
				       (v->flags & VALUE_F_HAS_STACK) ? v->u.error->stack.data : NULL,
				       v->u.error->stack.len);
	default:
		break;
	}
	if (v->type == CP_VALUE_ARRAY_BUFFER) {
		copy = value_buffer_new(v->u.buffer.data, v->u.buffer.len);
		if (copy)
			copy->flags = v->flags & VALUE_F_DETACHED;
		return copy;
	}
	copy = value_alloc(v->type, 0);
	if (!copy)
		return NULL;
	copy->sub = v->sub;
	copy->flags = v->flags & ~VALUE_F_MARK;
	copy->u = v->u;
	if (value_is_container(v) && v->u.c) {
		copy->u.c = value_container_copy_shape(v->u.c);
		if (!copy->u.c) {
			free(copy);
			return NULL;
		}
	}
	return copy;
}

/* ---- building ---- */

static int new_result(cp_value *v, cp_value **ret)
{
	if (!v)
		return error_set(CP_ERR_NO_MEMORY, "out of memory building a value");
	*ret = v;
	return 0;
}

int cp_value_new_undefined(cp_value **ret)
{
	return new_result(value_alloc(CP_VALUE_UNDEFINED, 0), ret);
}

int cp_value_new_null(cp_value **ret)
{
	return new_result(value_alloc(CP_VALUE_NULL, 0), ret);
}

int cp_value_new_boolean(bool b, cp_value **ret)
{
	cp_value *v = value_alloc(CP_VALUE_BOOLEAN, 0);

	if (v && b)
		v->flags |= VALUE_F_TRUE;
	return new_result(v, ret);
}

int cp_value_new_number(double d, cp_value **ret)
{
	cp_value *v = value_alloc(CP_VALUE_NUMBER, 0);

	if (v)
		v->u.number = d;
	return new_result(v, ret);
}

int cp_value_new_bigint(const char *decimal, size_t len, cp_value **ret)
{
	uint8_t *mag;
	size_t n;
	bool negative;
	cp_value *v;
	int r;

	if (!decimal)
		return error_set(CP_ERR_TYPE, "bigint text is NULL");
	r = bigint_from_decimal(decimal, len, &negative, &mag, &n);
	if (r == -EINVAL)
		return error_set(CP_ERR_SYNTAX, "bigint text is not an optional '-' and digits");
	if (r < 0)
		return error_set(CP_ERR_NO_MEMORY, "out of memory building a bigint");
	v = value_new_bigint(CP_VALUE_BIGINT, negative, mag, n);
	free(mag);
	return new_result(v, ret);
}

int cp_value_new_bigint_int64(int64_t i, cp_value **ret)
{
	uint64_t m = i < 0 ? 0 - (uint64_t)i : (uint64_t)i;
	uint8_t mag[8];
	unsigned k;

	for (k = 0; k < 8; k++)
		mag[k] = (uint8_t)(m >> (8 * k));
	return new_result(value_new_bigint(CP_VALUE_BIGINT, i < 0, mag, 8), ret);
}

int cp_value_new_bigint_bytes(bool negative, const uint8_t *magnitude, size_t len, cp_value **ret)
{
	if (!magnitude && len)
		return error_set(CP_ERR_TYPE, "bigint magnitude is NULL");
	return new_result(value_new_bigint(CP_VALUE_BIGINT, negative, magnitude, len), ret);
}

static int new_checked_text(cp_value_type type, const char *s, size_t len, const char *what,
			    cp_value **ret)
{
	bool well_formed;

	if (!s)
		return error_set(CP_ERR_TYPE, "%s is NULL", what);
	if (wtf8_validate(s, len, &well_formed) < 0)
		return error_set(CP_ERR_TYPE, "%s is not valid WTF-8", what);
	return new_result(value_new_text(type, s, len, well_formed ? 0 : VALUE_F_ILL_FORMED), ret);
}

int cp_value_new_string(const char *wtf8, cp_value **ret)
{
	return new_checked_text(CP_VALUE_STRING, wtf8, wtf8 ? strlen(wtf8) : 0, "string", ret);
}

int cp_value_new_string_len(const char *wtf8, size_t len, cp_value **ret)
{
	return new_checked_text(CP_VALUE_STRING, wtf8, len, "string", ret);
}

int cp_value_new_string_utf16(const uint16_t *units, size_t count, cp_value **ret)
{
	char *s;
	size_t len;
	bool well_formed;
	cp_value *v;

	if (!units && count)
		return error_set(CP_ERR_TYPE, "string units are NULL");
	if (utf16_to_wtf8(units, count, &s, &len, &well_formed) < 0)
		return error_set(CP_ERR_NO_MEMORY, "out of memory building a string");
	v = value_new_text(CP_VALUE_STRING, s, len, well_formed ? 0 : VALUE_F_ILL_FORMED);
	free(s);
	return new_result(v, ret);
}

int cp_value_new_wrapper(const cp_value *p, cp_value **ret)
{
	cp_value *v;

	if (!p)
		return error_set(CP_ERR_TYPE, "wrapped value is NULL");
	switch (p->type) {
	case CP_VALUE_BOOLEAN:
	case CP_VALUE_NUMBER:
		v = value_alloc(p->type - CP_VALUE_BOOLEAN + CP_VALUE_BOOLEAN_OBJECT, 0);
		if (v) {
			v->flags = p->flags;
			v->u.number = p->u.number;
		}
		break;
	case CP_VALUE_BIGINT:
		v = value_new_text(CP_VALUE_BIGINT_OBJECT, p->u.text.data, p->u.text.len, p->flags);
		break;
	case CP_VALUE_STRING:
		v = value_new_text(CP_VALUE_STRING_OBJECT, p->u.text.data, p->u.text.len, p->flags);
		break;
	default:
		return error_set(CP_ERR_TYPE, "only booleans, numbers, bigints and strings have wrapper objects");
	}
	return new_result(v, ret);
}

int cp_value_new_date(double ms, cp_value **ret)
{
	cp_value *v = value_alloc(CP_VALUE_DATE, 0);

	if (v)
		v->u.number = value_time_clip(ms);
	return new_result(v, ret);
}

int cp_value_new_regexp(const char *source, const char *flags, cp_value **ret)
{
	bool well_formed;
	size_t len;
	int bits;

	if (!source)
		return error_set(CP_ERR_TYPE, "RegExp source is NULL");
	len = strlen(source);
	if (wtf8_validate(source, len, &well_formed) < 0)
		return error_set(CP_ERR_TYPE, "RegExp source is not valid WTF-8");
	bits = value_regexp_flags_parse(flags ? flags : "", flags ? strlen(flags) : 0);
	if (bits < 0)
		return error_set(CP_ERR_SYNTAX, "invalid RegExp flags '%s'", flags);
	return new_result(value_new_regexp(source, len, !well_formed, (unsigned)bits), ret);
}

int cp_value_new_array_buffer(const void *data, size_t len, cp_value **ret)
{
	cp_value *v = value_buffer_new(data, len);

	if (!v)
		return error_set(CP_ERR_NO_MEMORY, "out of memory for a %zu-byte ArrayBuffer", len);
	*ret = v;
	return 0;
}

int cp_value_new_array_buffer_take(void *data, size_t len, cp_value **ret)
{
	if (!data && len)
		return error_set(CP_ERR_TYPE, "ArrayBuffer data is NULL");
	return new_result(value_buffer_adopt(data, len), ret);
}

int cp_value_new_view(cp_view_kind kind, cp_value *buffer, size_t byte_offset, size_t length,
		      cp_value **ret)
{
	size_t size = cp_view_kind_element_size(kind);
	cp_value *v;

	if (size == 0)
		return error_set(CP_ERR_TYPE, "unknown view kind %d", (int)kind);
	if (!buffer || buffer->type != CP_VALUE_ARRAY_BUFFER)
		return error_set(CP_ERR_TYPE, "a view needs an ArrayBuffer");
	if (value_buffer_is_detached(buffer))
		return error_set(CP_ERR_TYPE, "cannot make a view of a detached ArrayBuffer");
	if (byte_offset % size)
		return error_set(CP_ERR_TYPE, "start offset of %s should be a multiple of %zu",
				 view_kinds[kind].name, size);
	if (byte_offset > buffer->u.buffer.len || length > (buffer->u.buffer.len - byte_offset) / size)
		return error_set(CP_ERR_TYPE, "%s range is outside its %zu-byte buffer",
				 view_kinds[kind].name, buffer->u.buffer.len);
	v = value_alloc(CP_VALUE_VIEW, 0);
	if (v) {
		v->sub = (uint8_t)kind;
		v->u.view.buffer = buffer;
		v->u.view.byte_offset = byte_offset;
		v->u.view.length = length;
	}
	return new_result(v, ret);
}

int cp_value_new_array(cp_value **ret)
{
	return new_result(value_alloc(CP_VALUE_ARRAY, 0), ret);
}

int cp_value_new_object(cp_value **ret)
{
	return new_result(value_alloc(CP_VALUE_OBJECT, 0), ret);
}

int cp_value_new_map(cp_value **ret)
{
	return new_result(value_alloc(CP_VALUE_MAP, 0), ret);
}

int cp_value_new_set(cp_value **ret)
{
	return new_result(value_alloc(CP_VALUE_SET, 0), ret);
}

int cp_value_new_error(const char *name, const char *message, const char *stack, cp_value **ret)
{
	size_t mlen = message ? strlen(message) : 0, slen = stack ? strlen(stack) : 0;

	if ((message && wtf8_validate(message, mlen, NULL) < 0) ||
	    (stack && wtf8_validate(stack, slen, NULL) < 0))
		return error_set(CP_ERR_TYPE, "Error message or stack is not valid WTF-8");
	return new_result(value_new_error(name ? value_error_name_index(name, strlen(name)) : 0,
					  message, mlen, stack, slen), ret);
}

int cp_value_new_host_object(const char *description, cp_value **ret)
{
	return new_checked_text(CP_VALUE_HOST_OBJECT, description ? description : "host object",
				description ? strlen(description) : strlen("host object"),
				"host object description", ret);
}

int cp_value_new_port(cp_port *port, cp_value **ret)
{
	cp_value *v;

	if (!port)
		return error_set(CP_ERR_TYPE, "port is NULL");
	v = value_alloc(CP_VALUE_PORT, 0);
	if (v)
		v->u.port = port;
	return new_result(v, ret);
}

/* ---- inspecting ---- */

cp_value_type cp_value_get_type(const cp_value *v)
{
	return v ? (cp_value_type)v->type : 0;
}

const char *cp_value_type_name(const cp_value *v)
{
	if (!v)
		return NULL;
	if (v->type == CP_VALUE_VIEW)
		return view_kinds[v->sub].name;
	return type_names[v->type];
}

bool cp_value_get_boolean(const cp_value *v)
{
	return v && (v->type == CP_VALUE_BOOLEAN || v->type == CP_VALUE_BOOLEAN_OBJECT) &&
	       (v->flags & VALUE_F_TRUE);
}

double cp_value_get_number(const cp_value *v)
{
	if (v && (v->type == CP_VALUE_NUMBER || v->type == CP_VALUE_NUMBER_OBJECT ||
		  v->type == CP_VALUE_DATE))
		return v->u.number;
	return NAN;
}

static bool is_string(const cp_value *v)
{
	return v && (v->type == CP_VALUE_STRING || v->type == CP_VALUE_STRING_OBJECT);
}

static bool is_bigint(const cp_value *v)
{
	return v && (v->type == CP_VALUE_BIGINT || v->type == CP_VALUE_BIGINT_OBJECT);
}

const char *cp_value_get_string(const cp_value *v, size_t *ret_len)
{
	if (!is_string(v))
		return NULL;
	if (ret_len)
		*ret_len = v->u.text.len;
	return v->u.text.data;
}

bool cp_value_string_is_well_formed(const cp_value *v)
{
	return is_string(v) && !(v->flags & VALUE_F_ILL_FORMED);
}

size_t cp_value_string_utf16_length(const cp_value *v)
{
	return is_string(v) ? wtf8_utf16_length(v->u.text.data, v->u.text.len) : 0;
}

int cp_value_string_utf16(const cp_value *v, uint16_t **ret_units, size_t *ret_count)
{
	uint16_t *units;
	size_t n;

	if (!is_string(v))
		return error_set(CP_ERR_TYPE, "not a string");
	n = wtf8_utf16_length(v->u.text.data, v->u.text.len);
	units = malloc(n ? n * sizeof(*units) : 1);
	if (!units)
		return error_set(CP_ERR_NO_MEMORY, "out of memory converting a string to UTF-16");
	wtf8_to_utf16(v->u.text.data, v->u.text.len, units);
	*ret_units = units;
	*ret_count = n;
	return 0;
}

char *cp_value_bigint_to_string(const cp_value *v)
{
	if (!is_bigint(v))
		return NULL;
	return bigint_to_decimal(v->flags & VALUE_F_NEGATIVE, (const uint8_t *)v->u.text.data,
				 v->u.text.len);
}

const uint8_t *cp_value_bigint_magnitude(const cp_value *v, bool *ret_negative, size_t *ret_len)
{
	if (!is_bigint(v))
		return NULL;
	if (ret_negative)
		*ret_negative = v->flags & VALUE_F_NEGATIVE;
	if (ret_len)
		*ret_len = v->u.text.len;
	return (const uint8_t *)v->u.text.data;
}

int cp_value_bigint_to_int64(const cp_value *v, int64_t *ret)
{
	const uint8_t *mag;
	uint64_t m = 0;
	size_t i;

	if (!is_bigint(v))
		return error_set(CP_ERR_TYPE, "not a bigint");
	if (v->u.text.len > 8)
		return error_set(CP_ERR_TYPE, "bigint does not fit in 64 bits");
	mag = (const uint8_t *)v->u.text.data;
	for (i = 0; i < v->u.text.len; i++)
		m |= (uint64_t)mag[i] << (8 * i);
	if (v->flags & VALUE_F_NEGATIVE) {
		if (m > (uint64_t)INT64_MAX + 1)
			return error_set(CP_ERR_TYPE, "bigint does not fit in 64 bits");
		*ret = m == (uint64_t)INT64_MAX + 1 ? INT64_MIN : -(int64_t)m;
	} else {
		if (m > (uint64_t)INT64_MAX)
			return error_set(CP_ERR_TYPE, "bigint does not fit in 64 bits");
		*ret = (int64_t)m;
	}
	return 0;
}

const char *cp_value_regexp_source(const cp_value *v, size_t *ret_len)
{
	if (!v || v->type != CP_VALUE_REGEXP)
		return NULL;
	if (ret_len)
		*ret_len = v->u.text.len;
	return v->u.text.data;
}

const char *cp_value_regexp_flags(const cp_value *v)
{
	if (!v || v->type != CP_VALUE_REGEXP)
		return NULL;
	return v->u.text.data + v->u.text.len + 1;
}

const uint8_t *cp_value_array_buffer_data(const cp_value *v, size_t *ret_len)
{
	if (!v || v->type != CP_VALUE_ARRAY_BUFFER)
		return NULL;
	if (ret_len)
		*ret_len = v->u.buffer.len;
	return v->u.buffer.data;
}

uint8_t *cp_value_array_buffer_data_mut(cp_value *v, size_t *ret_len)
{
	if (!v || v->type != CP_VALUE_ARRAY_BUFFER)
		return NULL;
	/* From now on the bytes may differ from a sealed memfd they were
	 * mapped from: a transfer must copy them (value_buffer.c). */
	v->flags |= VALUE_F_WRITTEN;
	if (ret_len)
		*ret_len = v->u.buffer.len;
	return v->u.buffer.data;
}

bool cp_value_array_buffer_is_detached(const cp_value *v)
{
	return v && v->type == CP_VALUE_ARRAY_BUFFER && value_buffer_is_detached(v);
}

cp_view_kind cp_value_view_kind(const cp_value *v)
{
	return v && v->type == CP_VALUE_VIEW ? (cp_view_kind)v->sub : 0;
}

const cp_value *cp_value_view_buffer(const cp_value *v)
{
	return v && v->type == CP_VALUE_VIEW ? v->u.view.buffer : NULL;
}

/* HTML: the getters of a view on a detached buffer answer 0. */
static bool is_live_view(const cp_value *v)
{
	return v && v->type == CP_VALUE_VIEW && !value_buffer_is_detached(v->u.view.buffer);
}

size_t cp_value_view_byte_offset(const cp_value *v)
{
	return is_live_view(v) ? v->u.view.byte_offset : 0;
}

size_t cp_value_view_length(const cp_value *v)
{
	return is_live_view(v) ? v->u.view.length : 0;
}

size_t cp_value_view_byte_length(const cp_value *v)
{
	return cp_value_view_length(v) * cp_view_kind_element_size(cp_value_view_kind(v));
}

const char *cp_view_kind_name(cp_view_kind kind)
{
	if (kind < CP_VIEW_INT8 || kind > CP_VIEW_DATA_VIEW)
		return NULL;
	return view_kinds[kind].name;
}

size_t cp_view_kind_element_size(cp_view_kind kind)
{
	if (kind < CP_VIEW_INT8 || kind > CP_VIEW_DATA_VIEW)
		return 0;
	return view_kinds[kind].size;
}

const char *cp_value_error_name(const cp_value *v)
{
	return v && v->type == CP_VALUE_ERROR ? error_names[v->sub] : NULL;
}

const char *cp_value_error_message(const cp_value *v, size_t *ret_len)
{
	if (!v || v->type != CP_VALUE_ERROR || !(v->flags & VALUE_F_HAS_MESSAGE))
		return NULL;
	if (ret_len)
		*ret_len = v->u.error->message.len;
	return v->u.error->message.data;
}

const char *cp_value_error_stack(const cp_value *v, size_t *ret_len)
{
	if (!v || v->type != CP_VALUE_ERROR || !(v->flags & VALUE_F_HAS_STACK))
		return NULL;
	if (ret_len)
		*ret_len = v->u.error->stack.len;
	return v->u.error->stack.data;
}

const char *cp_value_host_object_description(const cp_value *v)
{
	return v && v->type == CP_VALUE_HOST_OBJECT ? v->u.text.data : NULL;
}

cp_port *cp_value_port(const cp_value *v)
{
	return v && v->type == CP_VALUE_PORT ? v->u.port : NULL;
}

/* ---- freeing ---- */

cp_value *cp_value_free(cp_value *root)
{
	cp_value *todo, *done = NULL;

	if (!root)
		return NULL;
	/* Every node reachable from root, found without recursion and without
	 * allocating (freeing must not fail): `link` chains the work list, then
	 * the list of nodes to free; VALUE_F_MARK keeps shared nodes and cycles
	 * from being listed twice.  Children are read before anything is freed. */
	root->flags |= VALUE_F_MARK;
	root->link = NULL;
	todo = root;
	while (todo) {
		cp_value *v = todo;
		size_t i, n = value_child_count(v);

		todo = v->link;
		for (i = 0; i < n; i++) {
			cp_value *c = value_child(v, i);

			if (!(c->flags & VALUE_F_MARK)) {
				c->flags |= VALUE_F_MARK;
				c->link = todo;
				todo = c;
			}
		}
		v->link = done;
		done = v;
	}
	while (done) {
		cp_value *v = done;

		done = v->link;
		value_free_shallow(v);
	}
	return NULL;
}
