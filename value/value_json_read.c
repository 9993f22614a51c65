/* SPDX-License-Identifier: MIT */
/* value_json_read.c - tagged JSON text to a value graph: jansson parses, this reads the tags. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "crosspost.h"
#include "error.h"
#include "value_internal.h"
#include "value_walk.h"

/* JSON numbers that name things ($id, lengths, indices) must be integers
 * a double holds exactly. */
#define JSON_INTEGER_MAX 9007199254740992.0

/* The walk over jansson's tree recurses, but only as deep as jansson's own
 * parser let the text nest (JSON_PARSER_MAX_DEPTH, 2048): see
 * docs/values.md.  Every node made is listed in `created`, so that a
 * failure anywhere frees them all, attached or not. */
struct reader {
	struct ptrvec created;
	struct ptrmap ids;       /* $id + 1 -> node */
};

#define syntax(...) error_set(CP_ERR_SYNTAX, __VA_ARGS__)

static int read_value(struct reader *r, json_t *j, cp_value **ret);

static int keep(struct reader *r, cp_value *v, cp_value **ret)
{
	if (!v)
		return error_set(CP_ERR_NO_MEMORY, "out of memory reading JSON");
	if (ptrvec_push(&r->created, v) < 0) {
		value_free_shallow(v);
		return error_set(CP_ERR_NO_MEMORY, "out of memory reading JSON");
	}
	*ret = v;
	return 0;
}

/* A failure of a value_* call, reported as bad input (its message kept). */
static int as_syntax(int r)
{
	char why[256];

	if (r == CP_ERR_NO_MEMORY || r >= 0)
		return r;
	snprintf(why, sizeof(why), "%s", cp_last_error_message());
	return syntax("%s", why);
}

/* {"$tag": arg}: the tag, or NULL for any other JSON. */
static const char *tag_of(json_t *j, json_t **ret_arg)
{
	const char *key;
	json_t *arg;

	if (!json_is_object(j) || json_object_size(j) != 1)
		return NULL;
	json_object_foreach(j, key, arg) {
		if (key[0] != '$')
			return NULL;
		*ret_arg = arg;
		return key;
	}
	return NULL;
}

static bool json_to_index(json_t *j, double max, uint64_t *ret)
{
	double d;

	if (!json_is_number(j))
		return false;
	d = json_number_value(j);
	if (!(d >= 0 && d <= max && d == trunc(d)))
		return false;
	*ret = (uint64_t)d;
	return true;
}

/* Text: a JSON string, or {"$string":[PART,...]} for text with lone
 * surrogates.  *ret_owned is set when the text had to be built. */
struct text {
	const char *data;
	size_t len;
	bool well_formed;
	char *owned;
};

static int read_string_parts(json_t *parts, struct text *t)
{
	size_t i, n = 0, cap = 0;
	uint16_t *units = NULL;
	json_t *part;
	int r;

	if (!json_is_array(parts))
		return syntax("$string takes an array of strings and code units");
	json_array_foreach(parts, i, part) {
		size_t need;

		if (json_is_string(part))
			need = wtf8_utf16_length(json_string_value(part), json_string_length(part));
		else
			need = 1;
		if (n + need > cap) {
			size_t c = (n + need) * 2;
			uint16_t *u = realloc(units, c * sizeof(*u));

			if (!u) {
				free(units);
				return error_set(CP_ERR_NO_MEMORY, "out of memory reading JSON");
			}
			units = u;
			cap = c;
		}
		if (json_is_string(part)) {
			if (need)
				wtf8_to_utf16(json_string_value(part), json_string_length(part), units + n);
			n += need;
		} else {
			uint64_t unit;

			if (!json_to_index(part, 0xffff, &unit)) {
				free(units);
				return syntax("$string parts are strings or code units 0..65535");
			}
			units[n++] = (uint16_t)unit;
		}
	}
	/* Going through UTF-16 pairs surrogates split across parts, so each
	 * string has one WTF-8 form. */
	r = utf16_to_wtf8(units, n, &t->owned, &t->len, &t->well_formed);
	free(units);
	if (r < 0)
		return error_set(CP_ERR_NO_MEMORY, "out of memory reading JSON");
	t->data = t->owned;
	return 0;
}

static int read_text(json_t *j, const char *what, struct text *t)
{
	json_t *arg;
	const char *tag;

	*t = (struct text){ 0 };
	if (json_is_string(j)) {
		/* jansson has checked the UTF-8. */
		t->data = json_string_value(j);
		t->len = json_string_length(j);
		t->well_formed = true;
		return 0;
	}
	tag = tag_of(j, &arg);
	if (tag && !strcmp(tag, "$string"))
		return read_string_parts(arg, t);
	return syntax("%s must be a string", what);
}

static double special_number(const char *s)
{
	if (!strcmp(s, "NaN"))
		return NAN;
	if (!strcmp(s, "Infinity"))
		return INFINITY;
	if (!strcmp(s, "-Infinity"))
		return -INFINITY;
	if (!strcmp(s, "-0"))
		return -0.0;
	return 0;
}

static bool is_special_number(const char *s)
{
	return !strcmp(s, "NaN") || !strcmp(s, "Infinity") || !strcmp(s, "-Infinity") || !strcmp(s, "-0");
}

/* A number: a JSON number or {"$number": "NaN"|"Infinity"|"-Infinity"|"-0"}. */
static bool read_number(json_t *j, double *ret)
{
	json_t *arg;
	const char *tag;

	if (json_is_number(j)) {
		*ret = json_number_value(j);
		return true;
	}
	tag = tag_of(j, &arg);
	if (tag && !strcmp(tag, "$number") && json_is_string(arg) && is_special_number(json_string_value(arg))) {
		*ret = special_number(json_string_value(arg));
		return true;
	}
	return false;
}

/* Primitives, made without being kept (a wrapper copies one and drops it).
 * Returns 1 and *ret when j is a primitive, 0 when it is not. */
static int read_primitive(json_t *j, cp_value **ret)
{
	json_t *arg;
	const char *tag;
	cp_value *v;
	struct text t;
	double d;
	int r;

	switch (json_typeof(j)) {
	case JSON_NULL:
		v = value_alloc(CP_VALUE_NULL, 0);
		break;
	case JSON_TRUE:
	case JSON_FALSE:
		v = value_alloc(CP_VALUE_BOOLEAN, 0);
		if (v && json_is_true(j))
			v->flags |= VALUE_F_TRUE;
		break;
	case JSON_INTEGER:
	case JSON_REAL:
		v = value_alloc(CP_VALUE_NUMBER, 0);
		if (v)
			v->u.number = json_number_value(j);
		break;
	case JSON_STRING:
		v = value_new_text(CP_VALUE_STRING, json_string_value(j), json_string_length(j), 0);
		break;
	default:
		tag = tag_of(j, &arg);
		if (!tag)
			return 0;
		if (!strcmp(tag, "$number")) {
			if (!read_number(j, &d))
				return syntax("$number takes \"NaN\", \"Infinity\", \"-Infinity\" or \"-0\"");
			v = value_alloc(CP_VALUE_NUMBER, 0);
			if (v)
				v->u.number = d;
		} else if (!strcmp(tag, "$bigint")) {
			if (!json_is_string(arg))
				return syntax("$bigint takes a string of decimal digits");
			r = cp_value_new_bigint(json_string_value(arg), json_string_length(arg), &v);
			if (r < 0)
				return as_syntax(r);
		} else if (!strcmp(tag, "$string")) {
			r = read_string_parts(arg, &t);
			if (r < 0)
				return r;
			v = value_new_text(CP_VALUE_STRING, t.data, t.len, t.well_formed ? 0 : VALUE_F_ILL_FORMED);
			free(t.owned);
		} else if (!strcmp(tag, "$undefined")) {
			if (!json_is_null(arg))
				return syntax("$undefined takes null");
			v = value_alloc(CP_VALUE_UNDEFINED, 0);
		} else {
			return 0;
		}
		break;
	}
	if (!v)
		return error_set(CP_ERR_NO_MEMORY, "out of memory reading JSON");
	*ret = v;
	return 1;
}

static int read_view(struct reader *r, json_t *arg, cp_value **ret)
{
	json_t *name = json_array_get(arg, 0), *data = json_array_get(arg, 1);
	cp_value *buffer = NULL, *view = NULL;
	uint64_t offset, length;
	uint8_t *bytes;
	size_t n, size;
	int kind, rc;

	if (!json_is_array(arg) || !json_is_string(name) ||
	    (json_array_size(arg) != 2 && json_array_size(arg) != 4))
		return syntax("$typed takes [NAME, BASE64] or [NAME, BUFFER, BYTE_OFFSET, LENGTH]");
	for (kind = CP_VIEW_INT8; kind <= CP_VIEW_DATA_VIEW; kind++)
		if (!strcmp(cp_view_kind_name(kind), json_string_value(name)))
			break;
	if (kind > CP_VIEW_DATA_VIEW)
		return syntax("$typed: unknown view type \"%s\"", json_string_value(name));
	size = cp_view_kind_element_size(kind);
	if (json_array_size(arg) == 2) {
		if (!json_is_string(data))
			return syntax("$typed: the bytes must be base64 text");
		rc = base64_decode(json_string_value(data), json_string_length(data), &bytes, &n);
		if (rc < 0)
			return rc == -ENOMEM ? error_set(CP_ERR_NO_MEMORY, "out of memory reading JSON")
					     : syntax("$typed: bad base64");
		if (n % size) {
			free(bytes);
			return syntax("$typed: %zu bytes are not a whole number of %s elements", n,
				      json_string_value(name));
		}
		rc = cp_value_new_array_buffer_take(bytes, n, &buffer);
		if (rc < 0) {
			free(bytes);
			return rc;
		}
		rc = keep(r, buffer, &buffer);
		if (rc < 0)
			return rc;
		offset = 0;
		length = n / size;
	} else {
		rc = read_value(r, data, &buffer);
		if (rc < 0)
			return rc;
		if (!json_to_index(json_array_get(arg, 2), JSON_INTEGER_MAX, &offset) ||
		    !json_to_index(json_array_get(arg, 3), JSON_INTEGER_MAX, &length))
			return syntax("$typed: offset and length must be integers");
	}
	rc = cp_value_new_view(kind, buffer, offset, length, &view);
	if (rc < 0)
		return as_syntax(rc);
	return keep(r, view, ret);
}

static int read_error(json_t *arg, cp_value **ret)
{
	json_t *name = json_array_get(arg, 0), *message = json_array_get(arg, 1), *stack = json_array_get(arg, 2);
	struct text m = { 0 }, s = { 0 };
	int rc = 0;

	if (!json_is_array(arg) || json_array_size(arg) < 1 || json_array_size(arg) > 3 || !json_is_string(name))
		return syntax("$error takes [NAME, MESSAGE, STACK] (MESSAGE and STACK optional or null)");
	if (message && !json_is_null(message))
		rc = read_text(message, "$error message", &m);
	if (rc == 0 && stack && !json_is_null(stack))
		rc = read_text(stack, "$error stack", &s);
	if (rc == 0) {
		*ret = value_new_error(value_error_name_index(json_string_value(name), json_string_length(name)),
				       m.data, m.len, s.data, s.len);
		if (!*ret)
			rc = error_set(CP_ERR_NO_MEMORY, "out of memory reading JSON");
	}
	free(m.owned);
	free(s.owned);
	return rc;
}

/* The node for j: complete for types without children, an empty
 * container otherwise (read_fill() fills it, after an enclosing $id has
 * named it, so that the children can refer back to it). */
static int read_shell(struct reader *r, json_t *j, cp_value **ret)
{
	cp_value *v = NULL, *tmp;
	struct text t;
	json_t *arg;
	const char *tag;
	uint64_t n;
	uintptr_t found;
	double d;
	int rc;

	rc = read_primitive(j, &v);
	if (rc != 0)
		return rc < 0 ? rc : keep(r, v, ret);
	if (json_is_array(j))
		return keep(r, value_alloc(CP_VALUE_ARRAY, 0), ret);
	tag = tag_of(j, &arg);
	if (!tag)
		return keep(r, value_alloc(CP_VALUE_OBJECT, 0), ret);

	if (!strcmp(tag, "$ref")) {
		if (!json_to_index(arg, JSON_INTEGER_MAX, &n) ||
		    !ptrmap_get(&r->ids, (void *)(uintptr_t)(n + 1), &found))
			return syntax("$ref to an $id not defined before it");
		*ret = (cp_value *)found;
		return 0;
	}
	if (!strcmp(tag, "$map") || !strcmp(tag, "$set") || !strcmp(tag, "$object")) {
		if (!json_is_array(arg))
			return syntax("%s takes an array", tag);
		return keep(r, value_alloc(!strcmp(tag, "$map") ? CP_VALUE_MAP :
					   !strcmp(tag, "$set") ? CP_VALUE_SET : CP_VALUE_OBJECT, 0), ret);
	}
	if (!strcmp(tag, "$array")) {
		if (!json_is_array(arg) || json_array_size(arg) < 2 || json_array_size(arg) > 3 ||
		    !json_to_index(json_array_get(arg, 0), UINT32_MAX, &n) ||
		    !json_is_array(json_array_get(arg, 1)) ||
		    (json_array_size(arg) == 3 && !json_is_array(json_array_get(arg, 2))))
			return syntax("$array takes [LENGTH, [[INDEX, VALUE], ...], [[KEY, VALUE], ...]]");
		rc = keep(r, value_alloc(CP_VALUE_ARRAY, 0), ret);
		if (rc == 0 && n > 0) {
			if (!value_container_get(*ret))
				return error_set(CP_ERR_NO_MEMORY, "out of memory reading JSON");
			(*ret)->u.c->length = (uint32_t)n;
		}
		return rc;
	}
	if (!strcmp(tag, "$date")) {
		if (!read_number(arg, &d))
			return syntax("$date takes a number of milliseconds");
		v = value_alloc(CP_VALUE_DATE, 0);
		if (v)
			v->u.number = value_time_clip(d);
	} else if (!strcmp(tag, "$regexp")) {
		json_t *flags = json_array_get(arg, 1);
		int bits;

		if (!json_is_array(arg) || json_array_size(arg) != 2 || !json_is_string(flags))
			return syntax("$regexp takes [SOURCE, FLAGS]");
		bits = value_regexp_flags_parse(json_string_value(flags), json_string_length(flags));
		if (bits < 0)
			return syntax("$regexp: invalid flags \"%s\"", json_string_value(flags));
		rc = read_text(json_array_get(arg, 0), "$regexp source", &t);
		if (rc < 0)
			return rc;
		v = value_new_regexp(t.data, t.len, !t.well_formed, (unsigned)bits);
		free(t.owned);
	} else if (!strcmp(tag, "$bytes")) {
		uint8_t *bytes;
		size_t len;

		if (!json_is_string(arg))
			return syntax("$bytes takes base64 text");
		rc = base64_decode(json_string_value(arg), json_string_length(arg), &bytes, &len);
		if (rc < 0)
			return rc == -ENOMEM ? error_set(CP_ERR_NO_MEMORY, "out of memory reading JSON")
					     : syntax("$bytes: bad base64");
		v = value_buffer_adopt(bytes, len);
		if (!v)
			free(bytes);
	} else if (!strcmp(tag, "$typed")) {
		return read_view(r, arg, ret);
	} else if (!strcmp(tag, "$error")) {
		rc = read_error(arg, &v);
		if (rc < 0)
			return rc;
	} else if (!strcmp(tag, "$wrapper")) {
		rc = read_primitive(arg, &tmp);
		if (rc < 0)
			return rc;
		if (rc == 0)
			return syntax("$wrapper takes a boolean, number, bigint or string");
		rc = cp_value_new_wrapper(tmp, &v);
		value_free_shallow(tmp);
		if (rc < 0)
			return as_syntax(rc);
	} else if (!strcmp(tag, "$host")) {
		rc = read_text(arg, "$host", &t);
		if (rc < 0)
			return rc;
		v = value_new_text(CP_VALUE_HOST_OBJECT, t.data, t.len, t.well_formed ? 0 : VALUE_F_ILL_FORMED);
		free(t.owned);
	} else if (!strcmp(tag, "$port")) {
		return syntax("$port is how a MessagePort prints; ports come from cp_channel_new() or an event, not from JSON");
	} else if (!strcmp(tag, "$buffer")) {
		return syntax("$buffer names a buffer of a scenario; it is not a value by itself");
	} else if (!strcmp(tag, "$id") || !strcmp(tag, "$value")) {
		return syntax("$id and $value go together: {\"$id\":N,\"$value\":VALUE}");
	} else {
		return syntax("unknown tag \"%s\"", tag);
	}
	return keep(r, v, ret);
}

static int read_property(struct reader *r, cp_value *object, json_t *key_json, const char *key,
			 size_t key_len, json_t *value_json)
{
	struct text t = { .data = key, .len = key_len, .well_formed = true };
	cp_value *k = NULL, *value;
	int rc = 0;

	if (key_json)
		rc = read_text(key_json, "a property key", &t);
	if (rc < 0)
		return rc;
	rc = keep(r, value_new_text(CP_VALUE_STRING, t.data, t.len, t.well_formed ? 0 : VALUE_F_ILL_FORMED), &k);
	free(t.owned);
	if (rc == 0)
		rc = read_value(r, value_json, &value);
	if (rc == 0)
		rc = as_syntax(value_object_add(object, k, value));
	return rc;
}

static json_t *pair_at(json_t *list, size_t i)
{
	json_t *pair = json_array_get(list, i);

	return json_is_array(pair) && json_array_size(pair) == 2 ? pair : NULL;
}

/* Adds the children j lists to the container v. */
static int read_fill(struct reader *r, json_t *j, cp_value *v)
{
	const char *tag, *key;
	json_t *arg, *item, *pair;
	cp_value *a, *b;
	size_t i;
	int rc = 0;

	if (json_is_array(j)) {
		json_array_foreach(j, i, item) {
			rc = read_value(r, item, &a);
			if (rc == 0)
				rc = as_syntax(value_array_add_element(v, (uint32_t)i, a));
			if (rc < 0)
				return rc;
		}
		return 0;
	}
	if (!json_is_object(j))
		return 0;
	tag = tag_of(j, &arg);
	if (!tag) {
		json_object_foreach(j, key, item) {
			rc = read_property(r, v, NULL, key, strlen(key), item);
			if (rc < 0)
				return rc;
		}
		return 0;
	}
	if (!strcmp(tag, "$set")) {
		json_array_foreach(arg, i, item) {
			rc = read_value(r, item, &a);
			if (rc == 0)
				rc = as_syntax(value_set_add(v, a));
			if (rc < 0)
				return rc;
		}
	} else if (!strcmp(tag, "$map") || !strcmp(tag, "$object")) {
		for (i = 0; i < json_array_size(arg); i++) {
			pair = pair_at(arg, i);
			if (!pair)
				return syntax("%s takes [[KEY, VALUE], ...]", tag);
			if (!strcmp(tag, "$object")) {
				rc = read_property(r, v, json_array_get(pair, 0), NULL, 0, json_array_get(pair, 1));
			} else {
				rc = read_value(r, json_array_get(pair, 0), &a);
				if (rc == 0)
					rc = read_value(r, json_array_get(pair, 1), &b);
				if (rc == 0)
					rc = as_syntax(value_map_add(v, a, b));
			}
			if (rc < 0)
				return rc;
		}
	} else if (!strcmp(tag, "$array")) {
		json_t *elements = json_array_get(arg, 1), *props = json_array_get(arg, 2);
		uint32_t length = v->u.c ? v->u.c->length : 0;
		uint64_t index;

		for (i = 0; i < json_array_size(elements); i++) {
			pair = pair_at(elements, i);
			if (!pair || !json_to_index(json_array_get(pair, 0), UINT32_MAX, &index) || index >= length)
				return syntax("$array elements are [INDEX, VALUE] with INDEX below the length");
			rc = read_value(r, json_array_get(pair, 1), &a);
			if (rc == 0)
				rc = as_syntax(value_array_add_element(v, (uint32_t)index, a));
			if (rc < 0)
				return rc;
		}
		for (i = 0; i < json_array_size(props); i++) {
			pair = pair_at(props, i);
			if (!pair)
				return syntax("$array properties are [KEY, VALUE]");
			rc = read_property(r, v, json_array_get(pair, 0), NULL, 0, json_array_get(pair, 1));
			if (rc < 0)
				return rc;
		}
	}
	return 0;
}

/* {"$id": N, "$value": VALUE} */
static bool is_id_form(json_t *j)
{
	return json_is_object(j) && json_object_size(j) == 2 && json_object_get(j, "$id") &&
	       json_object_get(j, "$value");
}

static int read_value(struct reader *r, json_t *j, cp_value **ret)
{
	json_t *id = json_object_get(j, "$id"), *inner = json_object_get(j, "$value"), *arg;
	const char *itag;
	cp_value *v;
	uint64_t n;
	int rc;

	if (is_id_form(j)) {
		if (!json_to_index(id, JSON_INTEGER_MAX - 1, &n))
			return syntax("$id takes a non-negative integer");
		itag = tag_of(inner, &arg);
		if ((itag && !strcmp(itag, "$ref")) || is_id_form(inner))
			return syntax("$id %llu names a $ref or another $id", (unsigned long long)n);
		rc = read_shell(r, inner, &v);
		if (rc < 0)
			return rc;
		rc = ptrmap_put(&r->ids, (void *)(uintptr_t)(n + 1), (uintptr_t)v, NULL);
		if (rc < 0)
			return error_set(CP_ERR_NO_MEMORY, "out of memory reading JSON");
		if (rc == 0)
			return syntax("$id %llu defined twice", (unsigned long long)n);
		j = inner;
	} else {
		rc = read_shell(r, j, &v);
		if (rc < 0)
			return rc;
	}
	rc = read_fill(r, j, v);
	if (rc < 0)
		return rc;
	*ret = v;
	return 0;
}

int cp_value_from_json(const char *text, size_t len, size_t *ret_end, cp_value **ret)
{
	struct reader r = { 0 };
	json_error_t err;
	json_t *j;
	cp_value *v = NULL;
	size_t i, flags = JSON_DECODE_ANY | JSON_DECODE_INT_AS_REAL | JSON_ALLOW_NUL;
	int rc;

	if (!text)
		return error_set(CP_ERR_TYPE, "JSON text is NULL");
	/* Without the EOF check jansson stops right after the value and its
	 * error.position says where: how a DATA token's end is found. */
	if (ret_end)
		flags |= JSON_DISABLE_EOF_CHECK;
	j = json_loadb(text, len, flags, &err);
	if (!j) {
		if (json_error_code(&err) == json_error_out_of_memory)
			return error_set(CP_ERR_NO_MEMORY, "out of memory parsing JSON");
		return syntax("bad JSON at byte %d (line %d, column %d): %s", err.position, err.line,
			      err.column, err.text);
	}
	rc = read_value(&r, j, &v);
	json_decref(j);
	if (rc < 0) {
		for (i = 0; i < r.created.count; i++)
			value_free_shallow(r.created.items[i]);
	} else {
		*ret = v;
		if (ret_end)
			*ret_end = (size_t)err.position;
	}
	ptrvec_deinit(&r.created);
	ptrmap_deinit(&r.ids);
	return rc;
}
