/* SPDX-License-Identifier: MIT */
/* value_transfer.c - postMessage's transfer list: checked before anything moves, sealed for sending, detached once sent. */
#include <string.h>
#include <unistd.h>

#include "error.h"
#include "value_transfer.h"
#include "value_codec.h"
#include "value_internal.h"

/* HTML's StructuredSerializeWithTransfer throws DataCloneError for each of
 * these, before serializing anything; so do we, and nothing has changed
 * when we do.  (The port being posted on is refused by
 * cp_port_post_message(), which knows it.) */
static int add_buffer(ValueTransfer *moved, cp_value *buffer, size_t i)
{
	if (value_buffer_is_detached(buffer))
		return error_set(CP_ERR_DATA_CLONE, "transfer[%zu] is a detached ArrayBuffer", i);
	for (size_t k = 0; k < moved->n_buffers; k++)
		if (moved->buffers[k] == buffer)
			return error_set(CP_ERR_DATA_CLONE, "transfer[%zu] is an ArrayBuffer that is already in the list", i);
	if (moved->n_buffers == FRAME_FDS_MAX)
		return error_set(CP_ERR_DATA_CLONE, "more than %d ArrayBuffers in one transfer list", FRAME_FDS_MAX);
	moved->buffers[moved->n_buffers++] = buffer;
	return 0;
}

static int add_port(ValueTransfer *moved, cp_port *port, size_t i)
{
	/* Through the public accessor: ports are the client's, the value
	 * library only carries them. */
	if (cp_port_get_state(port) == CP_PORT_TRANSFERRED)
		return error_set(CP_ERR_DATA_CLONE, "transfer[%zu] is a MessagePort that was already transferred", i);
	if (cp_port_get_state(port) == CP_PORT_CLOSED)
		return error_set(CP_ERR_DATA_CLONE, "transfer[%zu] is a closed MessagePort", i);
	for (size_t k = 0; k < moved->n_ports; k++)
		if (moved->ports[k] == port)
			return error_set(CP_ERR_DATA_CLONE, "transfer[%zu] is a MessagePort that is already in the list", i);
	if (moved->n_ports == FRAME_FDS_MAX)
		return error_set(CP_ERR_DATA_CLONE, "more than %d MessagePorts in one transfer list", FRAME_FDS_MAX);
	moved->ports[moved->n_ports++] = port;
	return 0;
}

int value_encode_transfer(const cp_value *data, cp_value *const *transfer, size_t n_transfer,
			  uint8_t **ret_bytes, size_t *ret_length, ValueTransfer *ret)
{
	return value_encode_transfer_referencing(data, transfer, n_transfer, ret_bytes, ret_length, NULL, ret);
}

int value_encode_transfer_referencing(const cp_value *data, cp_value *const *transfer, size_t n_transfer,
				      uint8_t **ret_bytes, size_t *ret_length, ValueSegments *ret_segments,
				      ValueTransfer *ret)
{
	ValueTransfer moved;
	int r = 0;

	/* The lists are 1 KiB: set and copied only as far as they are used. */
	moved.n_buffers = 0;
	moved.n_ports = 0;
	if (n_transfer && !transfer)
		return error_set(CP_ERR_TYPE, "transfer is NULL");
	for (size_t i = 0; r == 0 && i < n_transfer; i++) {
		cp_value *t = transfer[i];

		if (!t)
			return error_set(CP_ERR_TYPE, "transfer[%zu] is NULL", i);
		if (t->type == CP_VALUE_ARRAY_BUFFER)
			r = add_buffer(&moved, t, i);
		else if (t->type == CP_VALUE_PORT)
			r = add_port(&moved, t->u.port, i);
		else
			r = error_set(CP_ERR_DATA_CLONE, "transfer[%zu] (%s) cannot be transferred: only "
				      "ArrayBuffers and MessagePorts can", i, cp_value_type_name(t));
	}
	if (r < 0)
		return r;
	r = value_encode_referencing(data, &moved, ret_bytes, ret_length, ret_segments);
	if (r < 0)
		return r;
	ret->n_buffers = moved.n_buffers;
	memcpy(ret->buffers, moved.buffers, moved.n_buffers * sizeof(moved.buffers[0]));
	ret->n_ports = moved.n_ports;
	memcpy(ret->ports, moved.ports, moved.n_ports * sizeof(moved.ports[0]));
	return 0;
}

void value_transfer_sizes(const ValueTransfer *transfer, uint64_t *ret_sizes)
{
	for (size_t i = 0; i < transfer->n_buffers; i++)
		ret_sizes[i] = transfer->buffers[i]->u.buffer.len;
}

int value_transfer_seal(ValueTransfer *transfer, int *ret_fds)
{
	for (size_t i = 0; i < transfer->n_buffers; i++) {
		int r = value_buffer_seal(transfer->buffers[i], &ret_fds[i]);

		if (r < 0) {
			while (i-- > 0)
				close(ret_fds[i]);
			return r;
		}
	}
	return 0;
}

void value_transfer_finish(ValueTransfer *transfer, bool sent)
{
	if (!sent)
		return;   /* a failed post transfers nothing */
	for (size_t i = 0; i < transfer->n_buffers; i++)
		value_buffer_detach(transfer->buffers[i]);
}
