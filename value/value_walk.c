/* SPDX-License-Identifier: MIT */
/* value_walk.c - keyed hashes, a pointer map and node lists for the iterative value walks. */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include "value_walk.h"

static uint64_t hash_key[2];
static pthread_once_t hash_key_once = PTHREAD_ONCE_INIT;

static void hash_key_init(void)
{
	if (getrandom(hash_key, sizeof(hash_key), GRND_NONBLOCK) != (ssize_t)sizeof(hash_key)) {
		/* No entropy yet (early boot): a weaker key still beats none. */
		struct timespec ts;

		clock_gettime(CLOCK_MONOTONIC, &ts);
		hash_key[0] = (uint64_t)ts.tv_nsec * 0x9e3779b97f4a7c15ull ^ (uintptr_t)&ts;
		hash_key[1] = (uint64_t)ts.tv_sec ^ (uint64_t)getpid() << 32;
	}
}

#define ROTL(x, b) (uint64_t)(((x) << (b)) | ((x) >> (64 - (b))))
#define SIPROUND                                                          \
	do {                                                              \
		v0 += v1; v1 = ROTL(v1, 13); v1 ^= v0; v0 = ROTL(v0, 32); \
		v2 += v3; v3 = ROTL(v3, 16); v3 ^= v2;                    \
		v0 += v3; v3 = ROTL(v3, 21); v3 ^= v0;                    \
		v2 += v1; v1 = ROTL(v1, 17); v1 ^= v2; v2 = ROTL(v2, 32); \
	} while (0)

uint64_t value_hash_bytes(const void *data, size_t len)
{
	const uint8_t *in = data;
	uint64_t v0, v1, v2, v3, b, m;
	size_t i, end = len & ~(size_t)7;

	pthread_once(&hash_key_once, hash_key_init);
	v0 = 0x736f6d6570736575ull ^ hash_key[0];
	v1 = 0x646f72616e646f6dull ^ hash_key[1];
	v2 = 0x6c7967656e657261ull ^ hash_key[0];
	v3 = 0x7465646279746573ull ^ hash_key[1];
	for (i = 0; i < end; i += 8) {
		memcpy(&m, in + i, 8);
		v3 ^= m;
		SIPROUND;
		v0 ^= m;
	}
	b = (uint64_t)len << 56;
	for (i = 0; i < (len & 7); i++)
		b |= (uint64_t)in[end + i] << (8 * i);
	v3 ^= b;
	SIPROUND;
	v0 ^= b;
	v2 ^= 0xff;
	SIPROUND;
	SIPROUND;
	SIPROUND;
	return v0 ^ v1 ^ v2 ^ v3;
}

uint64_t value_hash_u64(uint64_t x)
{
	return value_hash_bytes(&x, sizeof(x));
}

void ptrmap_init_with(struct ptrmap *m, struct ptrmap_slot *slots, size_t cap)
{
	*m = (struct ptrmap){ .slots = slots, .cap = cap, .borrowed = true };
}

void ptrmap_deinit(struct ptrmap *m)
{
	if (!m->borrowed)
		free(m->slots);
	*m = (struct ptrmap){ 0 };
}

static size_t ptrmap_find(const struct ptrmap *m, const void *key)
{
	size_t mask = m->cap - 1, slot = ptrmap_hash(key) & mask;

	while (m->slots[slot].key && m->slots[slot].key != key)
		slot = (slot + 1) & mask;
	return slot;
}

bool ptrmap_get(const struct ptrmap *m, const void *key, uintptr_t *ret_val)
{
	size_t slot;

	if (m->cap == 0)
		return false;
	slot = ptrmap_find(m, key);
	if (!m->slots[slot].key)
		return false;
	if (ret_val)
		*ret_val = m->slots[slot].val;
	return true;
}

static int ptrmap_grow(struct ptrmap *m)
{
	struct ptrmap n = { 0 };
	size_t i;

	n.cap = m->cap ? m->cap * 2 : 64;
	n.slots = calloc(n.cap, sizeof(*n.slots));
	if (!n.slots)
		return -ENOMEM;
	for (i = 0; i < m->cap; i++)
		if (m->slots[i].key)
			n.slots[ptrmap_find(&n, m->slots[i].key)] = m->slots[i];
	n.count = m->count;
	ptrmap_deinit(m);
	*m = n;
	return 0;
}

int ptrmap_put(struct ptrmap *m, const void *key, uintptr_t val, uintptr_t *ret_existing)
{
	size_t slot;

	/* Load factor at most 1/2 keeps linear probing short. */
	if (2 * (m->count + 1) > m->cap && ptrmap_grow(m) < 0)
		return -ENOMEM;
	slot = ptrmap_find(m, key);
	if (m->slots[slot].key) {
		if (ret_existing)
			*ret_existing = m->slots[slot].val;
		return 0;
	}
	m->slots[slot].key = key;
	m->slots[slot].val = val;
	m->count++;
	return 1;
}

void ptrvec_init_with(struct ptrvec *v, void **items, size_t cap)
{
	*v = (struct ptrvec){ .items = items, .cap = cap, .borrowed = true };
}

void ptrvec_deinit(struct ptrvec *v)
{
	if (!v->borrowed)
		free(v->items);
	*v = (struct ptrvec){ 0 };
}

int ptrvec_push(struct ptrvec *v, void *item)
{
	if (v->count == v->cap) {
		size_t cap = v->cap ? v->cap * 2 : 64;
		void **items = v->borrowed ? malloc(cap * sizeof(*items)) : realloc(v->items, cap * sizeof(*items));

		if (!items)
			return -ENOMEM;
		if (v->borrowed)
			memcpy(items, v->items, v->count * sizeof(*items));
		v->items = items;
		v->cap = cap;
		v->borrowed = false;
	}
	v->items[v->count++] = item;
	return 0;
}

int value_collect(const cp_value *root, struct ptrvec *ret_nodes, struct ptrmap *ret_index)
{
	struct ptrvec nodes = { 0 };
	struct ptrmap index = { 0 };
	size_t i, j;
	int r;

	/* The list doubles as the breadth-first queue: no recursion, no stack. */
	if (ptrvec_push(&nodes, (void *)root) < 0 || ptrmap_put(&index, root, 0, NULL) < 0)
		goto fail;
	for (i = 0; i < nodes.count; i++) {
		const cp_value *v = nodes.items[i];
		size_t n = value_child_count(v);

		for (j = 0; j < n; j++) {
			cp_value *child = value_child(v, j);

			r = ptrmap_put(&index, child, nodes.count, NULL);
			if (r < 0 || (r > 0 && ptrvec_push(&nodes, child) < 0))
				goto fail;
		}
	}
	*ret_nodes = nodes;
	*ret_index = index;
	return 0;
fail:
	ptrvec_deinit(&nodes);
	ptrmap_deinit(&index);
	return -ENOMEM;
}
