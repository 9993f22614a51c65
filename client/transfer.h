/* SPDX-License-Identifier: MIT */
/* transfer.h - postMessage's transfer list: moving ArrayBuffers (sealed
 * memfds) and MessagePorts with a message (internal). */
#ifndef CP_TRANSFER_H
#define CP_TRANSFER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "crosspost.h"
#include "frame.h"

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
 * transferable, a port in data but not in transfer, too many), and those of
 * value_encode(). */
int value_encode_transfer(const cp_value *data, cp_value *const *transfer, size_t n_transfer,
			  uint8_t **ret_bytes, size_t *ret_length, ValueTransfer *ret);

/* One sealed memfd per transferred buffer into ret_fds (the caller owns
 * them): the buffer's own memfd when it has one, so no byte is copied.
 * Errors: CP_ERR_NO_MEMORY (nothing sealed then). */
int value_transfer_seal(ValueTransfer *transfer, int *ret_fds);

/* After the send: when sent, detach the buffers (byteLength 0) and mark the
 * ports transferred; otherwise leave everything usable. */
void value_transfer_finish(ValueTransfer *transfer, bool sent);

/* value_decode() for a message that came with transferred buffers (fds,
 * borrowed: each must be a sealed memfd; it is mapped, not copied) and
 * ports.  Errors: CP_ERR_DATA, CP_ERR_NO_MEMORY. */
int value_decode_transfer(const uint8_t *bytes, size_t length, const int *fds, size_t n_fds,
			  cp_port *const *ports, size_t n_ports, cp_value **ret);

#endif
