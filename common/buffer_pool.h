/* SPDX-License-Identifier: MIT */
/*
 * buffer_pool.h - large byte blocks kept for reuse, so that a process
 * receiving message after message of 64 KiB or more writes into memory it
 * already has instead of faulting in fresh pages each time.
 *
 * glibc gives a freed block of that size back to the kernel (it trims the
 * heap top past 128 KiB, and unmaps blocks over its mmap threshold), so the
 * next one is new memory, and on a virtual machine a page fault costs more
 * than copying the page: it was two thirds of the receiver's time at
 * 64 KiB (docs/performance.md).  The pool keeps freed blocks, at most
 * BUFFER_POOL_BLOCKS of them and BUFFER_POOL_BYTES together, for the whole
 * process (values move between threads); anything else is freed.
 */
#ifndef CP_BUFFER_POOL_H
#define CP_BUFFER_POOL_H

#include <stddef.h>

/* Smaller blocks come from malloc's free lists cheaply: not pooled. */
#define BUFFER_POOL_MIN (16u * 1024u)
/* A receiver parses up to 64 reads ahead of its application, one 64 KiB
 * message per read: with 8 blocks most of them were fresh memory again
 * (64 KiB one-way 16,000 -> 29,000 msgs/s with 64, docs/performance.md). */
#define BUFFER_POOL_BLOCKS 64u
#define BUFFER_POOL_BYTES (32u * 1024u * 1024u)

/* A malloc'd block of at least size bytes, from the pool when one fits;
 * NULL when out of memory.  Give it back with buffer_pool_put(); free()
 * is allowed too (the block is then just not reused), so that memory
 * handed to code that frees it may come from here. */
void *buffer_pool_get(size_t size);

/* Gives a malloc'd block back (any: its size is malloc_usable_size()):
 * kept while the pool has room and it is large enough to be worth it,
 * else freed.  NULL is ignored. */
void buffer_pool_put(void *block);

/* buffer_pool_put() as an evbuffer_add_reference() cleanup callback (data
 * is the block itself): for a block lent to an evbuffer, given back once
 * the evbuffer is drained past it. */
void buffer_pool_put_reference(const void *data, size_t length, void *userdata);

/* Frees every pooled block (tests; and an application's memory report
 * then shows what it holds itself). */
void buffer_pool_drain(void);

/* Blocks and bytes the pool holds now. */
void buffer_pool_usage(size_t *ret_blocks, size_t *ret_bytes);

#endif
