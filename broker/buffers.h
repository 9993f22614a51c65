/* SPDX-License-Identifier: MIT */
/*
 * buffers.h - the broker's check of transferred ArrayBuffers: each
 * descriptor a message carries must be a memfd sealed against shrinking,
 * growing, writing and further seals, of exactly the size the message
 * states.  Anything else (a pipe, a socket, an unsealed file) would let the
 * sender change the bytes under the receiver, or make the receiver fault
 * (SIGBUS) when it reads them; the broker does not carry it.
 */
#ifndef CP_BUFFERS_H
#define CP_BUFFERS_H

#include <stddef.h>
#include <stdint.h>

/* Checks fds[i] against sizes[i] for every i < n_fds; n_sizes must equal
 * n_fds and n_fds must not exceed max_fds.  Returns 0, or 1 with a reason
 * for the sender's DataCloneError (static or in reason_buf). */
int buffers_check(const int *fds, size_t n_fds, const uint64_t *sizes, size_t n_sizes, uint32_t max_fds,
		  char *reason_buf, size_t reason_size, const char **ret_reason);

#endif
