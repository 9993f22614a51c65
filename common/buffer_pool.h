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
 * 64 KiB (docs/performance.md).  The pool keeps a few freed blocks, at most
 * BUFFER_POOL_BLOCKS of them and BUFFER_POOL_BYTES together, for the whole
 * process (values move between threads); anything else is freed.
 */
#ifndef CP_BUFFER_POOL_H
#define CP_BUFFER_POOL_H

#include <stddef.h>

/* Smaller blocks come from malloc's free lists cheaply: not pooled. */
#define BUFFER_POOL_MIN (16u * 1024u)
#define BUFFER_POOL_BLOCKS 8u
#define BUFFER_POOL_BYTES (32u * 1024u * 1024u)

/* A block of at least size bytes (aligned as malloc's), from the pool when
 * one fits, else malloc'd; NULL when out of memory.  Release it with
 * buffer_pool_put(), never free(). */
void *buffer_pool_get(size_t size);

/* Gives block back: kept while the pool has room, else freed.  NULL is
 * ignored. */
void buffer_pool_put(void *block);

/* Frees every pooled block (tests; and an application's memory report
 * then shows what it holds itself). */
void buffer_pool_drain(void);

/* Blocks and bytes the pool holds now. */
void buffer_pool_usage(size_t *ret_blocks, size_t *ret_bytes);

#endif
