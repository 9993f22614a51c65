/* SPDX-License-Identifier: MIT */
/* value_walk.h - what the iterative value walks share: keyed hashes, a pointer map, node lists. */
#ifndef CP_VALUE_WALK_H
#define CP_VALUE_WALK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "value_internal.h"

/* SipHash-1-3 under a per-process random key: hash tables that index
 * untrusted keys (a decoded object's property names) stay linear-time
 * whatever keys an attacker picks. */
uint64_t value_hash_bytes(const void *data, size_t len);
uint64_t value_hash_u64(uint64_t x);

/* Maps addresses to integers (open addressing; grows). */
struct ptrmap_slot {
	const void *key;  /* NULL: empty */
	uintptr_t val;
};

struct ptrmap {
	struct ptrmap_slot *slots;  /* key and value side by side: one cache miss per probe */
	size_t cap;                 /* power of two, or 0 */
	size_t count;
	bool borrowed;              /* slots are the caller's (ptrmap_init_with()), not freed */
};

/* Addresses are not chosen by an attacker: a cheap mix is enough. */
static inline size_t ptrmap_hash(const void *p)
{
	uint64_t h = (uintptr_t)p;

	h ^= h >> 33;
	h *= 0xff51afd7ed558ccdull;
	h ^= h >> 33;
	return (size_t)h;
}

/* Starts loading the slot where key would be: a walk that knows which
 * keys come next hides the cache miss of a large map. */
static inline void ptrmap_prefetch(const struct ptrmap *m, const void *key)
{
	if (m->cap)
		__builtin_prefetch(&m->slots[ptrmap_hash(key) & (m->cap - 1)]);
}

/* Starts m in the caller's cap slots (a power of two, their keys NULL), for a
 * small walk that should allocate nothing; it moves to the heap if it
 * outgrows them. */
void ptrmap_init_with(struct ptrmap *m, struct ptrmap_slot *slots, size_t cap);
void ptrmap_deinit(struct ptrmap *m);
/* Looks key up: true and *ret_val (when non-NULL) if present. */
bool ptrmap_get(const struct ptrmap *m, const void *key, uintptr_t *ret_val);
/* Inserts key -> val unless key is present.  Returns 1 when inserted, 0
 * when present (*ret_existing, when non-NULL, gets its value), -ENOMEM. */
int ptrmap_put(struct ptrmap *m, const void *key, uintptr_t val, uintptr_t *ret_existing);

/* A growable array of pointers (lists, work stacks). */
struct ptrvec {
	void **items;
	size_t count;
	size_t cap;
	bool borrowed;    /* items are the caller's (ptrvec_init_with()), not freed */
};

/* Starts v in the caller's cap items, as ptrmap_init_with(). */
void ptrvec_init_with(struct ptrvec *v, void **items, size_t cap);
void ptrvec_deinit(struct ptrvec *v);
int ptrvec_push(struct ptrvec *v, void *item);

/* Lists every node reachable from root, root first, breadth first, and
 * maps each node to its position in the list.  Errors: -ENOMEM (both
 * outputs are then empty). */
int value_collect(const cp_value *root, struct ptrvec *ret_nodes, struct ptrmap *ret_index);

#endif
