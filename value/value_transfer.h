/* SPDX-License-Identifier: MIT */
/* value_transfer.h - postMessage's transfer list: moving ArrayBuffers (sealed
 * memfds) and MessagePorts with a message (internal). */
#ifndef CP_TRANSFER_H
#define CP_TRANSFER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "crosspost.h"
#include "frame.h"
#include "value_codec.h"

/* What a transfer list moves, in transfer-list order. */
typedef struct ValueTransfer {
	cp_value *buffers[FRAME_FDS_MAX];   /* ArrayBuffer nodes */
	size_t n_buffers;
	cp_port *ports[FRAME_FDS_MAX];
	size_t n_ports;
} ValueTransfer;

/* Checks transfer and serializes data, transferred buffers and ports
 * written as references to their place in ret->buffers / ret->ports.
 * Changes nothing.  Errors: CP_ERR_DATA_CLONE (the same object twice, a
 * detached buffer, a closed or transferred port, a value that is not
 * transferable, a port in data but not in transfer, more than
 * FRAME_FDS_MAX buffers or ports), CP_ERR_TYPE (a NULL entry), and those
 * of value_encode().  (value_transfer.c, value_encode.c) */
int value_encode_transfer(const cp_value *data, cp_value *const *transfer, size_t n_transfer,
			  uint8_t **ret_bytes, size_t *ret_length, ValueTransfer *ret);
/* The same, large ArrayBuffers' bytes left out by reference
 * (value_encode_referencing(), value_codec.h). */
int value_encode_transfer_referencing(const cp_value *data, cp_value *const *transfer, size_t n_transfer,
				      uint8_t **ret_bytes, size_t *ret_length, ValueSegments *ret_segments,
				      ValueTransfer *ret);

/* One sealed memfd per transferred buffer into ret_fds (the caller owns
 * them): the buffer's own memfd, sealed in place, when it has one, so no
 * byte is copied; a copy in a fresh memfd otherwise (small buffers).
 * Every buffer stays usable, at the same address, until
 * value_transfer_finish() (short of the address space running out while a
 * mapping is replaced: that buffer is then detached).  Errors:
 * CP_ERR_NO_MEMORY (no descriptor returned then).  (value_transfer.c,
 * value_buffer.c) */
int value_transfer_seal(ValueTransfer *transfer, int *ret_fds);

/* The byte length of each transferred buffer, in transfer-list order (the
 * sizes the broker checks each descriptor against). */
void value_transfer_sizes(const ValueTransfer *transfer, uint64_t *ret_sizes);

/* After the send: when sent, detach the buffers (byteLength 0; their
 * bytes are unmapped); otherwise leave them usable.  The ports are the
 * client's to mark (client.h: transfer_finish()).  (value_transfer.c) */
void value_transfer_finish(ValueTransfer *transfer, bool sent);

/* value_decode() for a message that came with transferred buffers (fds,
 * borrowed: each one a node refers to must be a memfd sealed against
 * writes and resizing; it is mapped copy-on-write, not copied, and the
 * caller may close it at once) and ports.  Descriptors no node refers to
 * are left alone.  Errors: CP_ERR_DATA, CP_ERR_NO_MEMORY.
 * (value_decode.c) */
int value_decode_transfer(const uint8_t *bytes, size_t length, const int *fds, size_t n_fds,
			  cp_port *const *ports, size_t n_ports, cp_value **ret);
/* value_decode_transfer() of the len bytes at *block, a malloc'd block
 * (a frame's payload block, buffer_pool.h) the caller offers: an
 * ArrayBuffer of WIRE_BUFFER_ALIGN_MIN bytes or more, at least half the
 * payload, whose bytes start aligned in memory (the sender pads for it:
 * Value.alignment) keeps them where they lie and takes the block over, and *block is then NULL (the
 * value owns it, whether or not the decode succeeds: on failure it is
 * freed with the partial graph).  Otherwise *block stays the caller's. */
int value_decode_block(uint8_t **block, size_t length, const int *fds, size_t n_fds,
		       cp_port *const *ports, size_t n_ports, cp_value **ret);

#endif
