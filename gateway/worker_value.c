/* SPDX-License-Identifier: MIT */
/*
 * worker_value.c - a page's data (tagged JSON with {"$port":HANDLE} for its
 * MessagePorts) to a cp_value holding those ports.
 *
 * cp_value_from_json() refuses {"$port":ID} (ports never come from text),
 * and values are never changed in place.  So each port tag is replaced in
 * the JSON by a host object named after its position, {"$host":"port K"}
 * (a page cannot post host objects itself: those are refused first), the
 * text is read, and when it had ports the graph is copied once with a port
 * node where each of those host objects was.  Data without ports (nearly
 * all of it) is read once, without a copy.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "crosspost.h"
#include "worker.h"

/* Deeper than cp_value_from_json() reads (2048), so never reached by a
 * graph that came from JSON; a guard for the recursion below. */
#define GRAFT_DEPTH_MAX 4096
#define PLACEHOLDER "crosspost-gateway port "

/* ---- finding the port tags ---- */

static int replace_port_tags(json_t *root, WorkerPortResolve resolve, void *ctx, cp_port ***ret_ports,
			     size_t *ret_count, const char **ret_error)
{
	json_t **stack = NULL;
	size_t depth = 0, cap = 0;
	cp_port **ports = NULL;
	size_t n_ports = 0;
	int r = 0;

	if (!json_is_object(root) && !json_is_array(root))
		return 0;
	cap = 64;
	stack = malloc(cap * sizeof(*stack));
	if (!stack)
		return -ENOMEM;
	stack[depth++] = root;
	while (depth > 0) {
		json_t *node = stack[--depth], *child;
		const char *key;
		size_t i;

		if (json_is_object(node) && json_object_size(node) == 1) {
			json_t *handle = json_object_get(node, "$port");

			if (json_object_get(node, "$host")) {
				*ret_error = "the data holds a host object ({\"$host\":...}), which cannot be posted";
				r = CP_ERR_DATA_CLONE;
				goto out;
			}
			if (handle) {
				cp_port *port = json_is_integer(handle) || json_is_real(handle) ?
						resolve(ctx, (uint64_t)json_number_value(handle)) : NULL;
				cp_port **grown;
				char name[64];

				if (!port) {
					*ret_error = "the data names a MessagePort that is not this page's";
					r = CP_ERR_DATA_CLONE;
					goto out;
				}
				grown = realloc(ports, (n_ports + 1) * sizeof(*ports));
				if (!grown) {
					r = -ENOMEM;
					goto out;
				}
				ports = grown;
				ports[n_ports] = port;
				snprintf(name, sizeof(name), PLACEHOLDER "%zu", n_ports);
				n_ports++;
				json_object_clear(node);
				if (json_object_set_new(node, "$host", json_string(name)) < 0) {
					r = -ENOMEM;
					goto out;
				}
				continue;
			}
		}
		if (depth + (json_is_object(node) ? json_object_size(node) : json_array_size(node)) > cap) {
			size_t want = depth + json_object_size(node) + json_array_size(node) + cap;
			json_t **grown = realloc(stack, want * sizeof(*stack));

			if (!grown) {
				r = -ENOMEM;
				goto out;
			}
			stack = grown;
			cap = want;
		}
		if (json_is_object(node)) {
			json_object_foreach(node, key, child)
				if (json_is_object(child) || json_is_array(child))
					stack[depth++] = child;
		} else if (json_is_array(node)) {
			json_array_foreach(node, i, child)
				if (json_is_object(child) || json_is_array(child))
					stack[depth++] = child;
		}
	}
	*ret_ports = ports;
	*ret_count = n_ports;
	ports = NULL;
out:
	free(ports);
	free(stack);
	return r;
}

/* ---- the copy ---- */

/* Source node -> copied node, open addressing. */
typedef struct NodeMap {
	const cp_value **keys;
	cp_value **values;
	size_t cap, count;
} NodeMap;

static size_t map_slot(const NodeMap *m, const cp_value *key)
{
	size_t h = ((uintptr_t)key >> 4) * 0x9E3779B97F4A7C15ull;

	for (size_t i = h & (m->cap - 1);; i = (i + 1) & (m->cap - 1))
		if (!m->keys[i] || m->keys[i] == key)
			return i;
}

static cp_value *map_get(const NodeMap *m, const cp_value *key)
{
	size_t i = map_slot(m, key);

	return m->keys[i] ? m->values[i] : NULL;
}

static int map_put(NodeMap *m, const cp_value *key, cp_value *value)
{
	if ((m->count + 1) * 2 > m->cap) {
		NodeMap grown = { calloc(m->cap * 2, sizeof(*grown.keys)), calloc(m->cap * 2, sizeof(*grown.values)),
				  m->cap * 2, 0 };

		if (!grown.keys || !grown.values) {
			free(grown.keys);
			free(grown.values);
			return -ENOMEM;
		}
		for (size_t i = 0; i < m->cap; i++) {
			if (m->keys[i]) {
				size_t j = map_slot(&grown, m->keys[i]);

				grown.keys[j] = m->keys[i];
				grown.values[j] = m->values[i];
				grown.count++;
			}
		}
		free(m->keys);
		free(m->values);
		*m = grown;
	}
	size_t i = map_slot(m, key);

	m->keys[i] = key;
	m->values[i] = value;
	m->count++;
	return 0;
}

typedef struct Graft {
	NodeMap map;
	cp_port *const *ports;
	size_t n_ports;
} Graft;

static bool is_container(cp_value_type t)
{
	return t == CP_VALUE_ARRAY || t == CP_VALUE_OBJECT || t == CP_VALUE_MAP || t == CP_VALUE_SET;
}

/* A primitive of the same kind as the wrapper src (for cp_value_new_wrapper). */
static int wrapped_primitive(const cp_value *src, cp_value **ret)
{
	const uint8_t *mag;
	const char *s;
	size_t len;
	bool neg;

	switch (cp_value_get_type(src)) {
	case CP_VALUE_BOOLEAN_OBJECT:
		return cp_value_new_boolean(cp_value_get_boolean(src), ret);
	case CP_VALUE_NUMBER_OBJECT:
		return cp_value_new_number(cp_value_get_number(src), ret);
	case CP_VALUE_BIGINT_OBJECT:
		mag = cp_value_bigint_magnitude(src, &neg, &len);
		return cp_value_new_bigint_bytes(neg, mag, len, ret);
	case CP_VALUE_STRING_OBJECT:
		s = cp_value_get_string(src, &len);
		return cp_value_new_string_len(s, len, ret);
	default:
		return CP_ERR_TYPE;
	}
}

/* A node standing for src: complete for everything but the containers,
 * which are made empty and filled by graft_fill() once they are in the
 * graph (so that on any failure, freeing the root frees every node made). */
static int graft_shell(Graft *g, const cp_value *src, cp_value **ret)
{
	cp_value *tmp = NULL, *buffer;
	const uint8_t *bytes;
	const char *s, *desc;
	size_t len;
	bool neg;
	int r;

	switch (cp_value_get_type(src)) {
	case CP_VALUE_UNDEFINED: return cp_value_new_undefined(ret);
	case CP_VALUE_NULL: return cp_value_new_null(ret);
	case CP_VALUE_BOOLEAN: return cp_value_new_boolean(cp_value_get_boolean(src), ret);
	case CP_VALUE_NUMBER: return cp_value_new_number(cp_value_get_number(src), ret);
	case CP_VALUE_BIGINT:
		bytes = cp_value_bigint_magnitude(src, &neg, &len);
		return cp_value_new_bigint_bytes(neg, bytes, len, ret);
	case CP_VALUE_STRING:
		s = cp_value_get_string(src, &len);
		return cp_value_new_string_len(s, len, ret);
	case CP_VALUE_BOOLEAN_OBJECT:
	case CP_VALUE_NUMBER_OBJECT:
	case CP_VALUE_BIGINT_OBJECT:
	case CP_VALUE_STRING_OBJECT:
		r = wrapped_primitive(src, &tmp);
		if (r == 0)
			r = cp_value_new_wrapper(tmp, ret);
		cp_value_free(tmp);
		return r;
	case CP_VALUE_DATE: return cp_value_new_date(cp_value_get_number(src), ret);
	case CP_VALUE_REGEXP:
		return cp_value_new_regexp(cp_value_regexp_source(src, &len), cp_value_regexp_flags(src), ret);
	case CP_VALUE_ARRAY_BUFFER:
		bytes = cp_value_array_buffer_data(src, &len);
		return cp_value_new_array_buffer(bytes, len, ret);
	case CP_VALUE_VIEW: {
		const cp_value *src_buffer = cp_value_view_buffer(src);
		bool fresh = false;

		buffer = map_get(&g->map, src_buffer);
		if (!buffer) {
			bytes = cp_value_array_buffer_data(src_buffer, &len);
			r = cp_value_new_array_buffer(bytes, len, &buffer);
			if (r < 0)
				return r;
			fresh = true;
		}
		r = cp_value_new_view(cp_value_view_kind(src), buffer, cp_value_view_byte_offset(src),
				      cp_value_view_length(src), ret);
		if (r < 0) {
			if (fresh)
				cp_value_free(buffer);
			return r;
		}
		/* The buffer is in the view's graph now: remembered, so that
		 * other views of it and the buffer itself map to it. */
		if (fresh && map_put(&g->map, src_buffer, buffer) < 0) {
			cp_value_free(*ret);
			return CP_ERR_NO_MEMORY;
		}
		return 0;
	}
	case CP_VALUE_ARRAY: return cp_value_new_array(ret);
	case CP_VALUE_OBJECT: return cp_value_new_object(ret);
	case CP_VALUE_MAP: return cp_value_new_map(ret);
	case CP_VALUE_SET: return cp_value_new_set(ret);
	case CP_VALUE_ERROR: {
		const char *message = cp_value_error_message(src, &len);
		const char *stack = cp_value_error_stack(src, &len);

		return cp_value_new_error(cp_value_error_name(src), message, stack, ret);
	}
	case CP_VALUE_HOST_OBJECT:
		desc = cp_value_host_object_description(src);
		if (desc && strncmp(desc, PLACEHOLDER, strlen(PLACEHOLDER)) == 0) {
			size_t k = strtoul(desc + strlen(PLACEHOLDER), NULL, 10);

			if (k < g->n_ports)
				return cp_value_new_port(g->ports[k], ret);
		}
		return cp_value_new_host_object(desc, ret);
	case CP_VALUE_PORT:
		return cp_value_new_port(cp_value_port(src), ret);
	}
	return CP_ERR_TYPE;
}

static int graft_fill(Graft *g, const cp_value *src, cp_value *dst, unsigned depth);

/* The copy of child, inserted by insert(); a container is filled after. */
static int graft_child(Graft *g, const cp_value *child, unsigned depth, cp_value **ret, bool *ret_fill)
{
	cp_value *copy = map_get(&g->map, child);
	int r;

	*ret_fill = false;
	if (copy) {
		*ret = copy;
		return 0;
	}
	if (depth > GRAFT_DEPTH_MAX)
		return CP_ERR_DATA_CLONE;
	r = graft_shell(g, child, &copy);
	if (r < 0)
		return r;
	if (map_put(&g->map, child, copy) < 0) {
		cp_value_free(copy);
		return CP_ERR_NO_MEMORY;
	}
	*ret = copy;
	*ret_fill = is_container(cp_value_get_type(child));
	return 0;
}

/* After a failed insertion of a node made just now: it is in no graph. */
static int discard(cp_value *node, bool fresh, int r)
{
	if (fresh)
		cp_value_free(node);
	return r;
}

static int graft_fill(Graft *g, const cp_value *src, cp_value *dst, unsigned depth)
{
	cp_value *copy, *key_copy;
	bool fill, key_fill;
	size_t len;
	int r;

	switch (cp_value_get_type(src)) {
	case CP_VALUE_ARRAY:
		r = cp_value_array_set_length(dst, cp_value_array_length(src));
		if (r < 0)
			return r;
		for (size_t i = 0; i < cp_value_array_count(src); i++) {
			uint32_t index;
			const cp_value *child = cp_value_array_element(src, i, &index);

			r = graft_child(g, child, depth + 1, &copy, &fill);
			if (r < 0)
				return r;
			r = cp_value_array_set(dst, index, copy);
			if (r < 0)
				return discard(copy, fill, r);
			if (fill && (r = graft_fill(g, child, copy, depth + 1)) < 0)
				return r;
		}
		/* Named properties: the object inspectors on an array. */
		/* fall through */
	case CP_VALUE_OBJECT:
		for (size_t i = 0; i < cp_value_object_count(src); i++) {
			const char *key = cp_value_object_key(src, i, &len);
			const cp_value *child = cp_value_object_value(src, i);

			r = graft_child(g, child, depth + 1, &copy, &fill);
			if (r < 0)
				return r;
			r = cp_value_object_set_len(dst, key, len, copy);
			if (r < 0)
				return discard(copy, fill, r);
			if (fill && (r = graft_fill(g, child, copy, depth + 1)) < 0)
				return r;
		}
		return 0;
	case CP_VALUE_MAP:
		for (size_t i = 0; i < cp_value_map_count(src); i++) {
			const cp_value *key = cp_value_map_key(src, i), *value = cp_value_map_value(src, i);

			r = graft_child(g, key, depth + 1, &key_copy, &key_fill);
			if (r < 0)
				return r;
			r = graft_child(g, value, depth + 1, &copy, &fill);
			if (r < 0)
				return discard(key_copy, key_fill, r);
			r = cp_value_map_set(dst, key_copy, copy);
			if (r < 0) {
				discard(key_copy, key_fill, r);
				return discard(copy, fill && copy != key_copy, r);
			}
			if (key_fill && (r = graft_fill(g, key, key_copy, depth + 1)) < 0)
				return r;
			if (fill && copy != key_copy && (r = graft_fill(g, value, copy, depth + 1)) < 0)
				return r;
		}
		return 0;
	case CP_VALUE_SET:
		for (size_t i = 0; i < cp_value_set_count(src); i++) {
			const cp_value *member = cp_value_set_member(src, i);

			r = graft_child(g, member, depth + 1, &copy, &fill);
			if (r < 0)
				return r;
			r = cp_value_set_add(dst, copy);
			if (r < 0)
				return discard(copy, fill, r);
			if (fill && (r = graft_fill(g, member, copy, depth + 1)) < 0)
				return r;
		}
		return 0;
	default:
		return 0;
	}
}

static int graft_ports(const cp_value *src, cp_port *const *ports, size_t n_ports, cp_value **ret)
{
	Graft g = { { calloc(64, sizeof(void *)), calloc(64, sizeof(void *)), 64, 0 }, ports, n_ports };
	cp_value *root = NULL;
	int r;

	if (!g.map.keys || !g.map.values) {
		r = CP_ERR_NO_MEMORY;
		goto out;
	}
	r = graft_shell(&g, src, &root);
	if (r < 0)
		goto out;
	if (map_put(&g.map, src, root) < 0) {
		r = CP_ERR_NO_MEMORY;
		goto out;
	}
	r = graft_fill(&g, src, root, 0);
	if (r < 0)
		goto out;
	*ret = root;
	root = NULL;
out:
	cp_value_free(root);
	free(g.map.keys);
	free(g.map.values);
	return r;
}

int worker_value_from_page(json_t *data, WorkerPortResolve resolve, void *ctx, cp_value **ret,
			   const char **ret_error)
{
	cp_port **ports = NULL;
	size_t n_ports = 0;
	cp_value *value = NULL;
	char *text = NULL;
	int r;

	*ret_error = NULL;
	r = replace_port_tags(data, resolve, ctx, &ports, &n_ports, ret_error);
	if (r < 0)
		goto out;
	text = json_dumps(data, JSON_COMPACT | JSON_ENCODE_ANY | JSON_REAL_PRECISION(17));
	if (!text) {
		r = CP_ERR_NO_MEMORY;
		goto out;
	}
	r = cp_value_from_json(text, strlen(text), NULL, &value);
	if (r < 0)
		goto out;
	if (n_ports == 0) {
		*ret = value;
		value = NULL;
		goto out;
	}
	r = graft_ports(value, ports, n_ports, ret);
out:
	if (r == -ENOMEM)
		r = CP_ERR_NO_MEMORY;
	cp_value_free(value);
	free(text);
	free(ports);
	return r;
}
