/* SPDX-License-Identifier: MIT */
/* buffer_pool.c - a few freed large blocks kept for reuse (buffer_pool.h). */
#include <malloc.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "buffer_pool.h"

#if defined(__SANITIZE_ADDRESS__)
#include <sanitizer/asan_interface.h>
/* A pooled block is poisoned: a use after buffer_pool_put() is reported
 * as ASan reports a use after free(). */
#define POISON(p, n) ASAN_POISON_MEMORY_REGION((p), (n))
#define UNPOISON(p, n) ASAN_UNPOISON_MEMORY_REGION((p), (n))
#else
#define POISON(p, n) ((void)(p), (void)(n))
#define UNPOISON(p, n) ((void)(p), (void)(n))
#endif

/* Rounded up to whole pages, so that blocks for payloads a few bytes
 * apart are interchangeable. */
#define BLOCK_GRANULE 4096u

typedef struct Block {
	void *bytes;
	size_t capacity;
} Block;

static pthread_mutex_t pool_lock = PTHREAD_MUTEX_INITIALIZER;
static Block pool[BUFFER_POOL_BLOCKS];
static size_t pool_count, pool_bytes;

/* Removes pool[i], keeping the others in the order they were put back.
 * Called locked. */
static void *take_at(size_t i)
{
	void *bytes = pool[i].bytes;

	pool_bytes -= pool[i].capacity;
	memmove(&pool[i], &pool[i + 1], (pool_count - i - 1) * sizeof(pool[0]));
	pool_count--;
	return bytes;
}

/* The block put back last that holds size, unless it would waste more
 * than it holds (a 16 KiB request should not pin a 32 MiB block).  The
 * newest first: it is the one most likely still in the cache.  Called
 * locked. */
static void *take_fitting(size_t size)
{
	for (size_t i = pool_count; i-- > 0;) {
		if (pool[i].capacity >= size && pool[i].capacity / 2 <= size + BLOCK_GRANULE) {
			UNPOISON(pool[i].bytes, pool[i].capacity);
			return take_at(i);
		}
	}
	return NULL;
}

void *buffer_pool_get(size_t size)
{
	void *bytes = NULL;

	if (size > SIZE_MAX - BLOCK_GRANULE)
		return NULL;
	if (size < BUFFER_POOL_MIN)
		return malloc(size ? size : 1);
	pthread_mutex_lock(&pool_lock);
	bytes = take_fitting(size);
	pthread_mutex_unlock(&pool_lock);
	if (bytes)
		return bytes;
	return malloc((size + BLOCK_GRANULE - 1) / BLOCK_GRANULE * BLOCK_GRANULE);
}

void buffer_pool_put(void *bytes)
{
	Block evicted[BUFFER_POOL_BLOCKS];
	size_t n_evicted = 0, capacity;

	if (!bytes)
		return;
	capacity = malloc_usable_size(bytes);
	if (capacity < BUFFER_POOL_MIN || capacity > BUFFER_POOL_BYTES) {
		free(bytes);
		return;
	}
	pthread_mutex_lock(&pool_lock);
	/* The oldest go first: the newest is the size the process uses now. */
	while (pool_count == BUFFER_POOL_BLOCKS || capacity > BUFFER_POOL_BYTES - pool_bytes) {
		evicted[n_evicted] = pool[0];
		take_at(0);
		n_evicted++;
	}
	POISON(bytes, capacity);
	pool[pool_count++] = (Block){ bytes, capacity };
	pool_bytes += capacity;
	pthread_mutex_unlock(&pool_lock);
	for (size_t i = 0; i < n_evicted; i++) {
		UNPOISON(evicted[i].bytes, evicted[i].capacity);
		free(evicted[i].bytes);
	}
}

void buffer_pool_put_reference(const void *data, size_t length, void *userdata)
{
	(void)length;
	(void)userdata;
	buffer_pool_put((void *)data);
}

void buffer_pool_drain(void)
{
	pthread_mutex_lock(&pool_lock);
	while (pool_count > 0) {
		Block *b = &pool[--pool_count];

		UNPOISON(b->bytes, b->capacity);
		free(b->bytes);
	}
	pool_bytes = 0;
	pthread_mutex_unlock(&pool_lock);
}

void buffer_pool_usage(size_t *ret_blocks, size_t *ret_bytes)
{
	pthread_mutex_lock(&pool_lock);
	*ret_blocks = pool_count;
	*ret_bytes = pool_bytes;
	pthread_mutex_unlock(&pool_lock);
}
