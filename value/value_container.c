/* SPDX-License-Identifier: MIT */
/* value_container.c - arrays, objects, maps and sets: ordered children with JavaScript's key rules. */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "crosspost.h"
#include "error.h"
#include "value_internal.h"
#include "value_walk.h"

void value_container_free(struct value_container *c)
{
	if (!c)
		return;
	free(c->items);
	free(c->indices);
	free(c->hash);
	free(c);
}

struct value_container *value_container_get(cp_value *v)
{
	if (!v->u.c)
		v->u.c = calloc(1, sizeof(*v->u.c));
	return v->u.c;
}

int value_container_reserve(struct value_container *c, size_t extra)
{
	size_t need, cap;
	cp_value **items;

	if (extra > VALUE_CONTAINER_MAX - c->count)
		return -ENOMEM;
	need = c->count + extra;
	if (need <= c->cap)
		return 0;
	/* The first reservation is exact (the decoder knows its counts: memory
	 * stays proportional to the payload); later ones double. */
	cap = c->cap && c->cap * 2 > need ? c->cap * 2 : need;
	if (cap > VALUE_CONTAINER_MAX)
		cap = VALUE_CONTAINER_MAX;
	items = realloc(c->items, cap * sizeof(*items));
	if (!items)
		return -ENOMEM;
	c->items = items;
	if (c->indices) {
		uint32_t *indices = realloc(c->indices, cap * sizeof(*indices));

		if (!indices)
			return -ENOMEM;
		c->indices = indices;
	}
	c->cap = cap;
	return 0;
}

bool value_is_array_index(const char *s, size_t len, uint32_t *ret_index)
{
	uint64_t n = 0;
	size_t i;

	if (len == 0 || len > 10 || (len > 1 && s[0] == '0'))
		return false;
	for (i = 0; i < len; i++) {
		if (s[i] < '0' || s[i] > '9')
			return false;
		n = n * 10 + (uint64_t)(s[i] - '0');
	}
	if (n > VALUE_ARRAY_INDEX_MAX)
		return false;
	if (ret_index)
		*ret_index = (uint32_t)n;
	return true;
}

/* ---- entries and their hash index ---- */

static bool keyed_by_value(const cp_value *v)
{
	return v->type == CP_VALUE_MAP || v->type == CP_VALUE_SET;
}

static size_t entry_width(const cp_value *v)
{
	return v->type == CP_VALUE_SET ? 1 : 2;
}

static size_t entry_base(const cp_value *v, const struct value_container *c)
{
	return v->type == CP_VALUE_ARRAY ? c->n_elements : 0;
}

static size_t entry_count(const cp_value *v, const struct value_container *c)
{
	return (c->count - entry_base(v, c)) / entry_width(v);
}

static cp_value *entry_key(const cp_value *v, const struct value_container *c, size_t i)
{
	return c->items[entry_base(v, c) + i * entry_width(v)];
}

/* SameValueZero, the key equality of Map and Set: NaN equals NaN, 0
 * equals -0, objects by identity. */
static uint64_t svz_hash(const cp_value *k)
{
	double d;
	uint64_t bits;

	switch (k->type) {
	case CP_VALUE_UNDEFINED:
	case CP_VALUE_NULL:
	case CP_VALUE_BOOLEAN:
		return value_hash_u64((uint64_t)k->type << 8 | (k->flags & VALUE_F_TRUE));
	case CP_VALUE_NUMBER:
		d = k->u.number;
		if (isnan(d))
			d = NAN;
		else if (d == 0)
			d = 0;
		memcpy(&bits, &d, sizeof(bits));
		return value_hash_u64(bits);
	case CP_VALUE_BIGINT:
		return value_hash_bytes(k->u.text.data, k->u.text.len) ^ (k->flags & VALUE_F_NEGATIVE);
	case CP_VALUE_STRING:
		return value_hash_bytes(k->u.text.data, k->u.text.len);
	default:
		return value_hash_u64((uintptr_t)k);
	}
}

static bool svz_equal(const cp_value *a, const cp_value *b)
{
	if (a == b)
		return true;
	if (!value_is_primitive(a) || !value_is_primitive(b) || a->type != b->type)
		return false;
	if (a->type == CP_VALUE_NUMBER)
		return a->u.number == b->u.number || (isnan(a->u.number) && isnan(b->u.number));
	return value_primitive_equal(a, b);
}

/* What a lookup looks for: a node (maps, sets) or key text (objects). */
struct probe {
	const cp_value *node;
	const char *text;
	size_t len;
};

static uint64_t key_hash(const cp_value *v, const cp_value *key)
{
	if (keyed_by_value(v))
		return svz_hash(key);
	return value_hash_bytes(key->u.text.data, key->u.text.len);
}

static uint64_t probe_hash(const cp_value *v, const struct probe *p)
{
	if (keyed_by_value(v))
		return svz_hash(p->node);
	return value_hash_bytes(p->text, p->len);
}

static bool probe_match(const cp_value *v, const cp_value *key, const struct probe *p)
{
	if (keyed_by_value(v))
		return svz_equal(key, p->node);
	return key->u.text.len == p->len && (p->len == 0 || memcmp(key->u.text.data, p->text, p->len) == 0);
}

static struct probe probe_of_key(const cp_value *v, const cp_value *key)
{
	if (keyed_by_value(v))
		return (struct probe){ .node = key };
	return (struct probe){ .text = key->u.text.data, .len = key->u.text.len };
}

static size_t entry_find(const cp_value *v, const struct probe *p)
{
	const struct value_container *c = v->u.c;
	size_t i, n;

	if (!c)
		return SIZE_MAX;
	if (c->hash) {
		size_t mask = c->hash_cap - 1, slot = probe_hash(v, p) & mask;

		for (; c->hash[slot]; slot = (slot + 1) & mask)
			if (probe_match(v, entry_key(v, c, c->hash[slot] - 1), p))
				return c->hash[slot] - 1;
		return SIZE_MAX;
	}
	n = entry_count(v, c);
	for (i = 0; i < n; i++)
		if (probe_match(v, entry_key(v, c, i), p))
			return i;
	return SIZE_MAX;
}

/* Rebuilds the index over every entry; with check_unique, fails with
 * CP_ERR_CONSTRAINT on a duplicate key (and keeps no index). */
static int hash_rebuild(const cp_value *v, struct value_container *c, bool check_unique)
{
	size_t n = entry_count(v, c), cap = 16, i;

	free(c->hash);
	c->hash = NULL;
	c->hash_cap = 0;
	while (cap < 4 * n)
		cap *= 2;
	c->hash = calloc(cap, sizeof(*c->hash));
	if (!c->hash)
		return CP_ERR_NO_MEMORY;
	c->hash_cap = cap;
	for (i = 0; i < n; i++) {
		const cp_value *key = entry_key(v, c, i);
		struct probe p = probe_of_key(v, key);
		size_t slot = key_hash(v, key) & (cap - 1);

		for (; c->hash[slot]; slot = (slot + 1) & (cap - 1)) {
			if (check_unique && probe_match(v, entry_key(v, c, c->hash[slot] - 1), &p)) {
				free(c->hash);
				c->hash = NULL;
				c->hash_cap = 0;
				return CP_ERR_CONSTRAINT;
			}
		}
		c->hash[slot] = (uint32_t)(i + 1);
	}
	return 0;
}

/* Keeps the index in step after entries changed.  appended: the only
 * change is one entry added last.  Small containers have no index: a
 * linear search is faster.  Losing the index to ENOMEM is harmless. */
static void hash_update(const cp_value *v, struct value_container *c, bool appended)
{
	size_t n = entry_count(v, c);

	if (n <= VALUE_HASH_THRESHOLD) {
		free(c->hash);
		c->hash = NULL;
		c->hash_cap = 0;
		return;
	}
	if (appended && c->hash && 2 * n <= c->hash_cap) {
		const cp_value *key = entry_key(v, c, n - 1);
		size_t slot = key_hash(v, key) & (c->hash_cap - 1);

		while (c->hash[slot])
			slot = (slot + 1) & (c->hash_cap - 1);
		c->hash[slot] = (uint32_t)n;
		return;
	}
	(void)hash_rebuild(v, c, false);
}

size_t value_entry_find_text(const cp_value *v, const char *key, size_t len)
{
	struct probe p = { .text = key, .len = len };

	return entry_find(v, &p);
}

size_t value_entry_find_value(const cp_value *v, const cp_value *key)
{
	struct probe p = { .node = key };

	return entry_find(v, &p);
}

size_t value_array_find(const cp_value *v, uint32_t index)
{
	const struct value_container *c = v->u.c;
	size_t lo = 0, hi;

	if (!c)
		return SIZE_MAX;
	if (!c->indices)
		return index < c->n_elements ? index : SIZE_MAX;
	hi = c->n_elements;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (c->indices[mid] < index)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo < c->n_elements && c->indices[lo] == index ? lo : SIZE_MAX;
}

/* ---- inserting ---- */

static bool is_length_key(const char *s, size_t len)
{
	return len == 6 && memcmp(s, "length", 6) == 0;
}

int value_object_add(cp_value *v, cp_value *key, cp_value *value)
{
	struct probe p = { .text = key->u.text.data, .len = key->u.text.len };
	struct value_container *c;
	uint32_t index;
	bool is_index = value_is_array_index(p.text, p.len, &index);
	size_t base, pos;

	if (v->type == CP_VALUE_ARRAY && (is_index || is_length_key(p.text, p.len)))
		return error_set(CP_ERR_TYPE, "an array's named properties cannot be indices or \"length\"");
	c = value_container_get(v);
	if (!c || value_container_reserve(c, 2) < 0)
		return error_set(CP_ERR_NO_MEMORY, "out of memory adding a property");
	if (entry_find(v, &p) != SIZE_MAX)
		return error_set(CP_ERR_CONSTRAINT, "property \"%.*s\" already exists", (int)(p.len > 64 ? 64 : p.len), p.text);
	base = entry_base(v, c);
	pos = (c->count - base) / 2;
	if (v->type == CP_VALUE_OBJECT && is_index) {
		/* Index keys come first, ascending (ECMA-262 OrdinaryOwnPropertyKeys). */
		size_t lo = 0, hi = c->n_index_keys;

		while (lo < hi) {
			size_t mid = lo + (hi - lo) / 2;
			const cp_value *k = c->items[2 * mid];
			uint32_t other = 0;

			value_is_array_index(k->u.text.data, k->u.text.len, &other);
			if (other < index)
				lo = mid + 1;
			else
				hi = mid;
		}
		pos = lo;
		memmove(c->items + 2 * pos + 2, c->items + 2 * pos, (c->count - 2 * pos) * sizeof(*c->items));
		c->n_index_keys++;
	}
	c->items[base + 2 * pos] = key;
	c->items[base + 2 * pos + 1] = value;
	c->count += 2;
	hash_update(v, c, pos == entry_count(v, c) - 1);
	return 0;
}

int value_array_add_element(cp_value *v, uint32_t index, cp_value *value)
{
	struct value_container *c;
	size_t n, pos;

	if (index > VALUE_ARRAY_INDEX_MAX)
		return error_set(CP_ERR_TYPE, "array index %u out of range", index);
	c = value_container_get(v);
	if (!c || value_container_reserve(c, 1) < 0)
		return error_set(CP_ERR_NO_MEMORY, "out of memory adding an element");
	n = c->n_elements;
	if (n == 0 || value_element_index(c, n - 1) < index) {
		pos = n;
	} else {
		if (value_array_find(v, index) != SIZE_MAX)
			return error_set(CP_ERR_CONSTRAINT, "element %u already exists", index);
		/* Not found and not last: the array is sparse, indices exist. */
		size_t lo = 0, hi = n;

		while (lo < hi) {
			size_t mid = lo + (hi - lo) / 2;

			if (c->indices[mid] < index)
				lo = mid + 1;
			else
				hi = mid;
		}
		pos = lo;
	}
	if (!c->indices && index != pos) {
		size_t i;

		c->indices = malloc(c->cap * sizeof(*c->indices));
		if (!c->indices)
			return error_set(CP_ERR_NO_MEMORY, "out of memory adding an element");
		for (i = 0; i < n; i++)
			c->indices[i] = (uint32_t)i;
	}
	memmove(c->items + pos + 1, c->items + pos, (c->count - pos) * sizeof(*c->items));
	c->items[pos] = value;
	if (c->indices) {
		memmove(c->indices + pos + 1, c->indices + pos, (n - pos) * sizeof(*c->indices));
		c->indices[pos] = index;
	}
	c->n_elements++;
	c->count++;
	if (index >= c->length)
		c->length = index + 1;
	return 0;
}

static int add_entry(cp_value *v, cp_value *key, cp_value *value)
{
	struct probe p = { .node = key };
	struct value_container *c = value_container_get(v);
	size_t width = entry_width(v);

	if (!c || value_container_reserve(c, width) < 0)
		return error_set(CP_ERR_NO_MEMORY, "out of memory adding to a %s", v->type == CP_VALUE_MAP ? "Map" : "Set");
	if (entry_find(v, &p) != SIZE_MAX)
		return error_set(CP_ERR_CONSTRAINT, "the %s already has this key", v->type == CP_VALUE_MAP ? "Map" : "Set");
	c->items[c->count++] = key;
	if (width == 2)
		c->items[c->count++] = value;
	hash_update(v, c, true);
	return 0;
}

int value_map_add(cp_value *v, cp_value *key, cp_value *value)
{
	return add_entry(v, key, value);
}

int value_set_add(cp_value *v, cp_value *member)
{
	return add_entry(v, member, NULL);
}

int value_container_finish(cp_value *v)
{
	struct value_container *c = v->u.c;
	size_t n, i, j;

	if (!c)
		return 0;
	n = entry_count(v, c);
	if (!keyed_by_value(v)) {
		bool in_prefix = v->type == CP_VALUE_OBJECT;
		uint32_t index, prev = 0;

		c->n_index_keys = 0;
		for (i = 0; i < n; i++) {
			const cp_value *key = entry_key(v, c, i);
			bool is_index;

			if (key->type != CP_VALUE_STRING)
				return error_set(CP_ERR_TYPE, "property key is not a string");
			is_index = value_is_array_index(key->u.text.data, key->u.text.len, &index);
			if (v->type == CP_VALUE_ARRAY) {
				if (is_index || is_length_key(key->u.text.data, key->u.text.len))
					return error_set(CP_ERR_TYPE, "array property key is an index or \"length\"");
			} else if (is_index) {
				if (!in_prefix || (c->n_index_keys > 0 && index <= prev))
					return error_set(CP_ERR_TYPE, "object keys are not in JavaScript order");
				prev = index;
				c->n_index_keys++;
			} else {
				in_prefix = false;
			}
		}
	}
	if (n > VALUE_HASH_THRESHOLD) {
		int r = hash_rebuild(v, c, true);

		if (r == CP_ERR_CONSTRAINT)
			return error_set(r, "duplicate key");
		if (r < 0)
			return error_set(r, "out of memory indexing keys");
		return 0;
	}
	free(c->hash);
	c->hash = NULL;
	c->hash_cap = 0;
	for (i = 0; i < n; i++) {
		struct probe p = probe_of_key(v, entry_key(v, c, i));

		for (j = 0; j < i; j++)
			if (probe_match(v, entry_key(v, c, j), &p))
				return error_set(CP_ERR_CONSTRAINT, "duplicate key");
	}
	return 0;
}

/* ---- public: filling ---- */

int cp_value_object_set_len(cp_value *v, const char *key, size_t key_len, cp_value *value)
{
	bool well_formed;
	uint32_t index;
	cp_value *k;
	int r;

	if (!v || (v->type != CP_VALUE_OBJECT && v->type != CP_VALUE_ARRAY))
		return error_set(CP_ERR_TYPE, "not an object or array");
	if (!key || !value)
		return error_set(CP_ERR_TYPE, "key or value is NULL");
	if (wtf8_validate(key, key_len, &well_formed) < 0)
		return error_set(CP_ERR_TYPE, "key is not valid WTF-8");
	if (v->type == CP_VALUE_ARRAY && value_is_array_index(key, key_len, &index))
		return value_array_add_element(v, index, value);
	k = value_new_text(CP_VALUE_STRING, key, key_len, well_formed ? 0 : VALUE_F_ILL_FORMED);
	if (!k)
		return error_set(CP_ERR_NO_MEMORY, "out of memory adding a property");
	r = value_object_add(v, k, value);
	if (r < 0)
		value_free_shallow(k);
	return r;
}

int cp_value_object_set(cp_value *v, const char *key, cp_value *value)
{
	return cp_value_object_set_len(v, key, key ? strlen(key) : 0, value);
}

static int check_array(const cp_value *v, const cp_value *item)
{
	if (!v || v->type != CP_VALUE_ARRAY)
		return error_set(CP_ERR_TYPE, "not an array");
	if (!item)
		return error_set(CP_ERR_TYPE, "item is NULL");
	return 0;
}

int cp_value_array_push(cp_value *v, cp_value *item)
{
	int r = check_array(v, item);

	if (r < 0)
		return r;
	return value_array_add_element(v, v->u.c ? v->u.c->length : 0, item);
}

int cp_value_array_set(cp_value *v, uint32_t index, cp_value *item)
{
	int r = check_array(v, item);

	if (r < 0)
		return r;
	return value_array_add_element(v, index, item);
}

int cp_value_array_set_length(cp_value *v, uint32_t length)
{
	struct value_container *c;

	if (!v || v->type != CP_VALUE_ARRAY)
		return error_set(CP_ERR_TYPE, "not an array");
	if (v->u.c && length < v->u.c->length)
		return error_set(CP_ERR_CONSTRAINT, "arrays only grow here");
	if (length == (v->u.c ? v->u.c->length : 0))
		return 0;
	c = value_container_get(v);
	if (!c)
		return error_set(CP_ERR_NO_MEMORY, "out of memory");
	c->length = length;
	return 0;
}

int cp_value_map_set(cp_value *v, cp_value *key, cp_value *value)
{
	if (!v || v->type != CP_VALUE_MAP)
		return error_set(CP_ERR_TYPE, "not a Map");
	if (!key || !value)
		return error_set(CP_ERR_TYPE, "key or value is NULL");
	return value_map_add(v, key, value);
}

int cp_value_set_add(cp_value *v, cp_value *member)
{
	if (!v || v->type != CP_VALUE_SET)
		return error_set(CP_ERR_TYPE, "not a Set");
	if (!member)
		return error_set(CP_ERR_TYPE, "member is NULL");
	return value_set_add(v, member);
}

/* ---- public: inspecting ---- */

static bool is_type(const cp_value *v, cp_value_type type)
{
	return v && v->type == type;
}

uint32_t cp_value_array_length(const cp_value *v)
{
	return is_type(v, CP_VALUE_ARRAY) && v->u.c ? v->u.c->length : 0;
}

const cp_value *cp_value_array_get(const cp_value *v, uint32_t index)
{
	size_t i;

	if (!is_type(v, CP_VALUE_ARRAY))
		return NULL;
	i = value_array_find(v, index);
	return i == SIZE_MAX ? NULL : v->u.c->items[i];
}

size_t cp_value_array_count(const cp_value *v)
{
	return is_type(v, CP_VALUE_ARRAY) && v->u.c ? v->u.c->n_elements : 0;
}

const cp_value *cp_value_array_element(const cp_value *v, size_t i, uint32_t *ret_index)
{
	if (i >= cp_value_array_count(v))
		return NULL;
	if (ret_index)
		*ret_index = value_element_index(v->u.c, i);
	return v->u.c->items[i];
}

static bool has_properties(const cp_value *v)
{
	return v && (v->type == CP_VALUE_OBJECT || v->type == CP_VALUE_ARRAY);
}

size_t cp_value_object_count(const cp_value *v)
{
	return has_properties(v) && v->u.c ? entry_count(v, v->u.c) : 0;
}

const char *cp_value_object_key(const cp_value *v, size_t i, size_t *ret_len)
{
	const cp_value *key;

	if (i >= cp_value_object_count(v))
		return NULL;
	key = entry_key(v, v->u.c, i);
	if (ret_len)
		*ret_len = key->u.text.len;
	return key->u.text.data;
}

const cp_value *cp_value_object_value(const cp_value *v, size_t i)
{
	if (i >= cp_value_object_count(v))
		return NULL;
	return v->u.c->items[entry_base(v, v->u.c) + 2 * i + 1];
}

const cp_value *cp_value_object_get(const cp_value *v, const char *key)
{
	size_t len, i;
	uint32_t index;

	if (!has_properties(v) || !key)
		return NULL;
	len = strlen(key);
	if (v->type == CP_VALUE_ARRAY && value_is_array_index(key, len, &index))
		return cp_value_array_get(v, index);
	i = value_entry_find_text(v, key, len);
	return i == SIZE_MAX ? NULL : cp_value_object_value(v, i);
}

size_t cp_value_map_count(const cp_value *v)
{
	return is_type(v, CP_VALUE_MAP) && v->u.c ? v->u.c->count / 2 : 0;
}

const cp_value *cp_value_map_key(const cp_value *v, size_t i)
{
	return i < cp_value_map_count(v) ? v->u.c->items[2 * i] : NULL;
}

const cp_value *cp_value_map_value(const cp_value *v, size_t i)
{
	return i < cp_value_map_count(v) ? v->u.c->items[2 * i + 1] : NULL;
}

const cp_value *cp_value_map_get(const cp_value *v, const cp_value *key)
{
	size_t i;

	if (!is_type(v, CP_VALUE_MAP) || !key)
		return NULL;
	i = value_entry_find_value(v, key);
	return i == SIZE_MAX ? NULL : v->u.c->items[2 * i + 1];
}

size_t cp_value_set_count(const cp_value *v)
{
	return is_type(v, CP_VALUE_SET) && v->u.c ? v->u.c->count : 0;
}

const cp_value *cp_value_set_member(const cp_value *v, size_t i)
{
	return i < cp_value_set_count(v) ? v->u.c->items[i] : NULL;
}

bool cp_value_set_has(const cp_value *v, const cp_value *member)
{
	return is_type(v, CP_VALUE_SET) && member && value_entry_find_value(v, member) != SIZE_MAX;
}

struct value_container *value_container_copy_shape(const struct value_container *c)
{
	struct value_container *copy = calloc(1, sizeof(*copy));

	if (!copy)
		return NULL;
	copy->n_elements = c->n_elements;
	copy->n_index_keys = c->n_index_keys;
	copy->length = c->length;
	copy->count = c->count;
	copy->cap = c->count;
	if (c->count) {
		copy->items = calloc(c->count, sizeof(*copy->items));
		if (!copy->items)
			goto fail;
	}
	if (c->indices) {
		copy->indices = malloc((c->count ? c->count : 1) * sizeof(*copy->indices));
		if (!copy->indices)
			goto fail;
		memcpy(copy->indices, c->indices, c->n_elements * sizeof(*copy->indices));
	}
	return copy;
fail:
	value_container_free(copy);
	return NULL;
}
