/* SPDX-License-Identifier: MIT */
/* buffer_pool.c - a few freed large blocks kept for reuse (buffer_pool.h). */
#include <pthread.h>
#include <stdalign.h>
#include <stdint.h>
#include <stdlib.h>

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

/* Each block starts with its capacity; callers get the bytes after it. */
typedef struct BlockHeader {
	alignas(max_align_t) size_t capacity;
} BlockHeader;

/* Rounded up to whole pages, so that blocks for payloads a few bytes
 * apart are interchangeable. */
#define BLOCK_GRANULE 4096u

static pthread_mutex_t pool_lock = PTHREAD_MUTEX_INITIALIZER;
static BlockHeader *pool[BUFFER_POOL_BLOCKS];
static size_t pool_count, pool_bytes;

static void *block_bytes(BlockHeader *h)
{
	return h + 1;
}

/* The pooled block of the least capacity that holds size, unless even
 * that one would waste more than it holds (a 16 KiB request should not pin
 * a 32 MiB block). */
static BlockHeader *take_fitting(size_t size)
{
	size_t best = BUFFER_POOL_BLOCKS;

	for (size_t i = 0; i < pool_count; i++)
		if (pool[i]->capacity >= size && pool[i]->capacity / 2 <= size + BLOCK_GRANULE &&
		    (best == BUFFER_POOL_BLOCKS || pool[i]->capacity < pool[best]->capacity))
			best = i;
	if (best == BUFFER_POOL_BLOCKS)
		return NULL;
	BlockHeader *h = pool[best];
	pool[best] = pool[--pool_count];
	pool_bytes -= h->capacity;
	return h;
}

void *buffer_pool_get(size_t size)
{
	BlockHeader *h = NULL;
	size_t capacity;

	if (size > SIZE_MAX - sizeof(BlockHeader) - BLOCK_GRANULE)
		return NULL;
	if (size >= BUFFER_POOL_MIN) {
		pthread_mutex_lock(&pool_lock);
		h = take_fitting(size);
		pthread_mutex_unlock(&pool_lock);
		if (h) {
			UNPOISON(block_bytes(h), h->capacity);
			return block_bytes(h);
		}
	}
	capacity = size < BUFFER_POOL_MIN ? size :
		   (size + sizeof(BlockHeader) + BLOCK_GRANULE - 1) / BLOCK_GRANULE * BLOCK_GRANULE -
		   sizeof(BlockHeader);
	h = malloc(sizeof(BlockHeader) + capacity);
	if (!h)
		return NULL;
	h->capacity = capacity;
	return block_bytes(h);
}

void buffer_pool_put(void *block)
{
	BlockHeader *h, *evicted[BUFFER_POOL_BLOCKS];
	size_t n_evicted = 0;

	if (!block)
		return;
	h = (BlockHeader *)block - 1;
	if (h->capacity < BUFFER_POOL_MIN || h->capacity > BUFFER_POOL_BYTES) {
		free(h);
		return;
	}
	pthread_mutex_lock(&pool_lock);
	/* The newest block stays: it is the size the process uses now. */
	while (pool_count == BUFFER_POOL_BLOCKS || h->capacity > BUFFER_POOL_BYTES - pool_bytes) {
		evicted[n_evicted++] = pool[0];
		pool_bytes -= pool[0]->capacity;
		pool[0] = pool[--pool_count];
	}
	POISON(block, h->capacity);
	pool[pool_count++] = h;
	pool_bytes += h->capacity;
	pthread_mutex_unlock(&pool_lock);
	for (size_t i = 0; i < n_evicted; i++) {
		UNPOISON(block_bytes(evicted[i]), evicted[i]->capacity);
		free(evicted[i]);
	}
}

void buffer_pool_drain(void)
{
	pthread_mutex_lock(&pool_lock);
	while (pool_count > 0) {
		BlockHeader *h = pool[--pool_count];

		UNPOISON(block_bytes(h), h->capacity);
		free(h);
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
