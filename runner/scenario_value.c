/* SPDX-License-Identifier: MIT */
/* scenario_value.c - named buffers and ports inside DATA: placeholders, their resolution, and walking received values. */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cleanup.h"
#include "scenario_value.h"

/* ---------------------------------------------------------------------- */
/* A map from node to node (or a set, with value unused)                  */
/* ---------------------------------------------------------------------- */

struct node_map {
	const cp_value **keys;
	cp_value **values;
	size_t count, cap;          /* cap: 0 or a power of two */
};

static size_t node_hash(const cp_value *v, size_t cap)
{
	uint64_t h = (uint64_t)(uintptr_t)v;

	h ^= h >> 33;
	h *= 0xff51afd7ed558ccdULL;
	h ^= h >> 33;
	return (size_t)h & (cap - 1);
}

static void node_map_deinit(struct node_map *m)
{
	free(m->keys);
	free(m->values);
	*m = (struct node_map){ 0 };
}

/* The slot of key, or of the empty place where it would go. */
static size_t node_map_slot(const struct node_map *m, const cp_value *key)
{
	size_t i = node_hash(key, m->cap);

	while (m->keys[i] && m->keys[i] != key)
		i = (i + 1) & (m->cap - 1);
	return i;
}

static bool node_map_get(const struct node_map *m, const cp_value *key, cp_value **ret)
{
	size_t i;

	if (!m->cap)
		return false;
	i = node_map_slot(m, key);
	if (!m->keys[i])
		return false;
	if (ret)
		*ret = m->values[i];
	return true;
}

static int node_map_put(struct node_map *m, const cp_value *key, cp_value *value)
{
	size_t i;

	if (2 * (m->count + 1) > m->cap) {
		struct node_map bigger = { .cap = m->cap ? 2 * m->cap : 64 };

		bigger.keys = calloc(bigger.cap, sizeof(*bigger.keys));
		bigger.values = calloc(bigger.cap, sizeof(*bigger.values));
		if (!bigger.keys || !bigger.values) {
			node_map_deinit(&bigger);
			return -ENOMEM;
		}
		for (size_t k = 0; k < m->cap; k++) {
			if (!m->keys[k])
				continue;
			i = node_map_slot(&bigger, m->keys[k]);
			bigger.keys[i] = m->keys[k];
			bigger.values[i] = m->values[k];
		}
		bigger.count = m->count;
		node_map_deinit(m);
		*m = bigger;
	}
	i = node_map_slot(m, key);
	if (!m->keys[i])
		m->count++;
	m->keys[i] = key;
	m->values[i] = value;
	return 0;
}

/* ---------------------------------------------------------------------- */
/* Placeholders                                                            */
/* ---------------------------------------------------------------------- */

/* The text after the prefix when v is a placeholder, else NULL. */
static const char *placeholder_of(const cp_value *v)
{
	const char *d;

	if (cp_value_get_type(v) != CP_VALUE_HOST_OBJECT)
		return NULL;
	d = cp_value_host_object_description(v);
	if (!d || strncmp(d, SCENARIO_PLACEHOLDER, strlen(SCENARIO_PLACEHOLDER)) != 0)
		return NULL;
	return d + strlen(SCENARIO_PLACEHOLDER);
}

static bool is_primitive(const cp_value *v)
{
	return cp_value_get_type(v) <= CP_VALUE_STRING;
}

/* ---------------------------------------------------------------------- */
/* Resolution: a copy with the placeholders replaced                       */
/* ---------------------------------------------------------------------- */

/* One resolved name: the same node wherever the name appears. */
struct resolved {
	bool port;
	char *name;
	cp_value *node;
};

struct resolution {
	const struct scenario_resolver *resolver;
	cp_value *keeper;
	struct node_map copies;     /* source object node -> its copy */
	struct resolved *names;
	size_t name_count;
	const char *what;           /* the placeholder that failed */
};

/* Keeps a reference to node in the keeper.  On failure node is freed when
 * fresh (nothing refers to it yet). */
static int keep(struct resolution *res, cp_value *node, bool fresh)
{
	if (cp_value_array_push(res->keeper, node) == 0)
		return 0;
	if (fresh)
		cp_value_free(node);
	return CP_ERR_NO_MEMORY;
}

static int resolve_name(struct resolution *res, bool port, const char *name, cp_value **ret)
{
	struct resolved *v;
	cp_value *node = NULL;
	int r;

	for (size_t i = 0; i < res->name_count; i++)
		if (res->names[i].port == port && strcmp(res->names[i].name, name) == 0) {
			*ret = res->names[i].node;
			return 0;
		}
	if (port && !res->resolver->port)
		return CP_ERR_TYPE;
	r = port ? res->resolver->port(res->resolver->userdata, name, &node)
		 : res->resolver->buffer(res->resolver->userdata, name, &node);
	if (r < 0)
		return r;
	/* Possibly already referenced elsewhere: never freed here. */
	r = keep(res, node, false);
	if (r < 0)
		return r;
	v = realloc(res->names, (res->name_count + 1) * sizeof(*v));
	if (!v)
		return CP_ERR_NO_MEMORY;
	res->names = v;
	v[res->name_count].port = port;
	v[res->name_count].node = node;
	v[res->name_count].name = strdup(name);
	if (!v[res->name_count].name)
		return CP_ERR_NO_MEMORY;
	res->name_count++;
	*ret = node;
	return 0;
}

/* "view:KIND:OFF:LEN:B" -> a view over B. */
static int resolve_view(struct resolution *res, const char *spec, cp_value **ret)
{
	char kind_name[32];
	unsigned long long offset, length;
	int used = 0;
	cp_view_kind kind = 0;
	cp_value *buffer, *view = NULL;
	int r;

	if (sscanf(spec, "%31[A-Za-z0-9]:%llu:%llu:%n", kind_name, &offset, &length, &used) != 3 || !used)
		return CP_ERR_TYPE;
	for (cp_view_kind k = CP_VIEW_INT8; k <= CP_VIEW_DATA_VIEW; k++)
		if (cp_view_kind_name(k) && strcmp(cp_view_kind_name(k), kind_name) == 0)
			kind = k;
	if (!kind)
		return CP_ERR_TYPE;
	r = resolve_name(res, false, spec + used, &buffer);
	if (r < 0)
		return r;
	r = cp_value_new_view(kind, buffer, (size_t)offset, (size_t)length, &view);
	if (r < 0)
		return r;
	r = keep(res, view, true);
	if (r < 0)
		return r;
	*ret = view;
	return 0;
}

static int resolve_placeholder(struct resolution *res, const char *spec, cp_value **ret)
{
	res->what = spec;
	if (strncmp(spec, "buffer:", 7) == 0)
		return resolve_name(res, false, spec + 7, ret);
	if (strncmp(spec, "port:", 5) == 0)
		return resolve_name(res, true, spec + 5, ret);
	if (strncmp(spec, "view:", 5) == 0)
		return resolve_view(res, spec + 5, ret);
	return CP_ERR_TYPE;
}

static int copy_node(struct resolution *res, const cp_value *src, cp_value **ret);

/* A copy of a primitive, or of the primitive inside a wrapper object. */
static int copy_primitive(const cp_value *src, cp_value_type as, cp_value **ret)
{
	const char *text;
	const uint8_t *mag;
	size_t len;
	bool negative;

	switch (as) {
	case CP_VALUE_UNDEFINED: return cp_value_new_undefined(ret);
	case CP_VALUE_NULL: return cp_value_new_null(ret);
	case CP_VALUE_BOOLEAN: return cp_value_new_boolean(cp_value_get_boolean(src), ret);
	case CP_VALUE_NUMBER: return cp_value_new_number(cp_value_get_number(src), ret);
	case CP_VALUE_BIGINT:
		mag = cp_value_bigint_magnitude(src, &negative, &len);
		return cp_value_new_bigint_bytes(negative, mag, len, ret);
	case CP_VALUE_STRING:
		text = cp_value_get_string(src, &len);
		return cp_value_new_string_len(text ? text : "", text ? len : 0, ret);
	default:
		return CP_ERR_TYPE;
	}
}

/* Inserts child (a copy: fresh when primitive) into a container. */
static int insert(int r, cp_value *child)
{
	if (r < 0 && is_primitive(child))
		cp_value_free(child);
	return r;
}

static int copy_children(struct resolution *res, const cp_value *src, cp_value *dst)
{
	cp_value *a, *b;
	size_t len;
	int r;

	switch (cp_value_get_type(src)) {
	case CP_VALUE_ARRAY:
		for (size_t i = 0; i < cp_value_array_count(src); i++) {
			uint32_t index;
			const cp_value *item = cp_value_array_element(src, i, &index);

			r = copy_node(res, item, &a);
			if (r < 0 || (r = insert(cp_value_array_set(dst, index, a), a)) < 0)
				return r;
		}
		if (cp_value_array_length(dst) < cp_value_array_length(src)) {
			r = cp_value_array_set_length(dst, cp_value_array_length(src));
			if (r < 0)
				return r;
		}
		/* an array's named properties, as an object's */
		__attribute__((fallthrough));
	case CP_VALUE_OBJECT:
		for (size_t i = 0; i < cp_value_object_count(src); i++) {
			const char *key = cp_value_object_key(src, i, &len);

			r = copy_node(res, cp_value_object_value(src, i), &a);
			if (r < 0 || (r = insert(cp_value_object_set_len(dst, key, len, a), a)) < 0)
				return r;
		}
		return 0;
	case CP_VALUE_MAP:
		for (size_t i = 0; i < cp_value_map_count(src); i++) {
			r = copy_node(res, cp_value_map_key(src, i), &a);
			if (r < 0)
				return r;
			r = copy_node(res, cp_value_map_value(src, i), &b);
			if (r < 0) {
				insert(-1, a);
				return r;
			}
			r = cp_value_map_set(dst, a, b);
			if (r < 0) {
				insert(r, a);
				return insert(r, b);
			}
		}
		return 0;
	case CP_VALUE_SET:
		for (size_t i = 0; i < cp_value_set_count(src); i++) {
			r = copy_node(res, cp_value_set_member(src, i), &a);
			if (r < 0 || (r = insert(cp_value_set_add(dst, a), a)) < 0)
				return r;
		}
		return 0;
	default:
		return 0;
	}
}

/* A new node like src, without children (those come after: the node is
 * registered first so that cycles find it). */
static int copy_shell(struct resolution *res, const cp_value *src, cp_value **ret)
{
	_cleanup_(freep) char *message = NULL, *stack = NULL;
	const char *text;
	const uint8_t *bytes;
	cp_value *inner = NULL, *buffer;
	size_t len;
	int r;

	switch (cp_value_get_type(src)) {
	case CP_VALUE_BOOLEAN_OBJECT:
	case CP_VALUE_NUMBER_OBJECT:
	case CP_VALUE_BIGINT_OBJECT:
	case CP_VALUE_STRING_OBJECT:
		r = copy_primitive(src, cp_value_get_type(src) - (CP_VALUE_BOOLEAN_OBJECT - CP_VALUE_BOOLEAN),
				   &inner);
		if (r < 0)
			return r;
		r = cp_value_new_wrapper(inner, ret);
		cp_value_free(inner);
		return r;
	case CP_VALUE_DATE:
		return cp_value_new_date(cp_value_get_number(src), ret);
	case CP_VALUE_REGEXP:
		return cp_value_new_regexp(cp_value_regexp_source(src, NULL), cp_value_regexp_flags(src), ret);
	case CP_VALUE_ARRAY_BUFFER:
		bytes = cp_value_array_buffer_data(src, &len);
		return cp_value_new_array_buffer(bytes, len, ret);
	case CP_VALUE_VIEW:
		/* The buffer first: it is registered before the view exists. */
		r = copy_node(res, cp_value_view_buffer(src), &buffer);
		if (r < 0)
			return r;
		return cp_value_new_view(cp_value_view_kind(src), buffer, cp_value_view_byte_offset(src),
					 cp_value_view_length(src), ret);
	case CP_VALUE_ARRAY: return cp_value_new_array(ret);
	case CP_VALUE_OBJECT: return cp_value_new_object(ret);
	case CP_VALUE_MAP: return cp_value_new_map(ret);
	case CP_VALUE_SET: return cp_value_new_set(ret);
	case CP_VALUE_ERROR:
		/* Message and stack may hold NULs only in theory: DATA cannot. */
		text = cp_value_error_message(src, &len);
		if (text && !(message = strndup(text, len)))
			return CP_ERR_NO_MEMORY;
		text = cp_value_error_stack(src, &len);
		if (text && !(stack = strndup(text, len)))
			return CP_ERR_NO_MEMORY;
		return cp_value_new_error(cp_value_error_name(src), message, stack, ret);
	case CP_VALUE_HOST_OBJECT:
		return cp_value_new_host_object(cp_value_host_object_description(src), ret);
	default:
		return CP_ERR_TYPE;
	}
}

static int copy_node(struct resolution *res, const cp_value *src, cp_value **ret)
{
	const char *spec;
	cp_value *dst = NULL;
	int r;

	if (is_primitive(src))
		return copy_primitive(src, cp_value_get_type(src), ret);
	if (node_map_get(&res->copies, src, ret))
		return 0;
	spec = placeholder_of(src);
	if (spec)
		r = resolve_placeholder(res, spec, &dst);
	else if ((r = copy_shell(res, src, &dst)) == 0)
		r = keep(res, dst, true);
	if (r < 0)
		return r;
	/* Registered before the children are copied, so that a cycle back
	 * to this node finds the copy. */
	if (node_map_put(&res->copies, src, dst) < 0)
		return CP_ERR_NO_MEMORY;
	if (!spec) {
		r = copy_children(res, src, dst);
		if (r < 0)
			return r;
	}
	*ret = dst;
	return 0;
}

int scenario_value_resolve(const cp_value *masked, const struct scenario_resolver *resolver,
			   cp_value *keeper, cp_value **ret, const char **ret_what)
{
	struct resolution res = { .resolver = resolver, .keeper = keeper };
	cp_value *out = NULL;
	int r;

	r = copy_node(&res, masked, &out);
	if (r == 0 && is_primitive(out) && (r = keep(&res, out, true)) < 0)
		out = NULL;
	if (r < 0 && ret_what)
		*ret_what = res.what;
	for (size_t i = 0; i < res.name_count; i++)
		free(res.names[i].name);
	free(res.names);
	node_map_deinit(&res.copies);
	if (r < 0)
		return r;
	*ret = out;
	return 0;
}

/* ---------------------------------------------------------------------- */
/* Walks                                                                   */
/* ---------------------------------------------------------------------- */

struct walk {
	struct node_map seen;
	bool placeholder;           /* has_placeholders: found one */
	const cp_value **buffers;   /* buffers: in order */
	size_t count, cap;
};

/* Children in the order every walk here uses: array elements, then named
 * properties; object values; map keys and values; set members; a view's
 * buffer.  Keys of objects are strings (primitives), so not visited. */
static int walk_node(struct walk *w, const cp_value *v)
{
	int r;

	if (is_primitive(v) || node_map_get(&w->seen, v, NULL))
		return 0;
	r = node_map_put(&w->seen, v, NULL);
	if (r < 0)
		return r;
	if (placeholder_of(v))
		w->placeholder = true;
	switch (cp_value_get_type(v)) {
	case CP_VALUE_ARRAY_BUFFER:
		if (w->count == w->cap) {
			size_t cap = w->cap ? 2 * w->cap : 8;
			const cp_value **b = realloc(w->buffers, cap * sizeof(*b));

			if (!b)
				return -ENOMEM;
			w->buffers = b;
			w->cap = cap;
		}
		w->buffers[w->count++] = v;
		return 0;
	case CP_VALUE_VIEW:
		return walk_node(w, cp_value_view_buffer(v));
	case CP_VALUE_ARRAY:
		for (size_t i = 0; i < cp_value_array_count(v); i++)
			if ((r = walk_node(w, cp_value_array_element(v, i, NULL))) < 0)
				return r;
		__attribute__((fallthrough));
	case CP_VALUE_OBJECT:
		for (size_t i = 0; i < cp_value_object_count(v); i++)
			if ((r = walk_node(w, cp_value_object_value(v, i))) < 0)
				return r;
		return 0;
	case CP_VALUE_MAP:
		for (size_t i = 0; i < cp_value_map_count(v); i++)
			if ((r = walk_node(w, cp_value_map_key(v, i))) < 0 ||
			    (r = walk_node(w, cp_value_map_value(v, i))) < 0)
				return r;
		return 0;
	case CP_VALUE_SET:
		for (size_t i = 0; i < cp_value_set_count(v); i++)
			if ((r = walk_node(w, cp_value_set_member(v, i))) < 0)
				return r;
		return 0;
	default:
		return 0;
	}
}

bool scenario_value_has_placeholders(const cp_value *value)
{
	struct walk w = { 0 };
	bool found;

	/* Out of memory counts as "yes": resolving then reports it. */
	found = walk_node(&w, value) < 0 || w.placeholder;
	node_map_deinit(&w.seen);
	free(w.buffers);
	return found;
}

int scenario_value_buffers(const cp_value *value, const cp_value ***ret, size_t *ret_count)
{
	struct walk w = { 0 };
	int r = walk_node(&w, value);

	node_map_deinit(&w.seen);
	if (r < 0) {
		free(w.buffers);
		return r;
	}
	*ret = w.buffers;
	*ret_count = w.count;
	return 0;
}

/* ---------------------------------------------------------------------- */
/* Received text                                                           */
/* ---------------------------------------------------------------------- */

char *scenario_value_rewrite_ports(const char *json)
{
	static const char tag[] = "{\"$port\":";
	char *out = NULL;
	size_t out_len = 0;
	bool in_string = false;
	FILE *f;

	if (!strstr(json, tag))
		return strdup(json);
	f = open_memstream(&out, &out_len);
	if (!f)
		return NULL;
	for (const char *s = json; *s; s++) {
		size_t digits;

		if (in_string) {
			if (*s == '\\' && s[1]) {
				fputc(*s++, f);
			} else if (*s == '"') {
				in_string = false;
			}
			fputc(*s, f);
			continue;
		}
		if (*s == '"')
			in_string = true;
		if (*s == '{' && strncmp(s, tag, sizeof(tag) - 1) == 0) {
			const char *n = s + sizeof(tag) - 1;

			digits = strspn(n, "0123456789");
			if (digits > 0 && n[digits] == '}') {
				fprintf(f, "{\"$host\":\"" SCENARIO_PLACEHOLDER_JSON "port:#%.*s\"}", (int)digits, n);
				s = n + digits;
				continue;
			}
		}
		fputc(*s, f);
	}
	if (fclose(f) != 0) {
		free(out);
		return NULL;
	}
	return out;
}
