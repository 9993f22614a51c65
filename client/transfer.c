/* SPDX-License-Identifier: MIT */
/* transfer.c - INTERIM: transfer lists are refused until the value module
 * carries ports and memfd-backed buffers (issue 5, in progress).  Messages
 * without a transfer list go through value_encode()/value_decode(). */
#include "client.h"
#include "error.h"
#include "transfer.h"
#include "value_codec.h"

int value_encode_transfer(const cp_value *data, cp_value *const *transfer, size_t n_transfer,
			  uint8_t **ret_bytes, size_t *ret_length, ValueTransfer *ret)
{
	(void)transfer;
	ret->n_buffers = ret->n_ports = 0;
	if (n_transfer > 0)
		return error_set(CP_ERR_DATA_CLONE, "transfer lists are not supported yet");
	return value_encode(data, ret_bytes, ret_length);
}

int value_transfer_seal(ValueTransfer *transfer, int *ret_fds)
{
	(void)transfer;
	(void)ret_fds;
	return 0;
}

void value_transfer_finish(ValueTransfer *transfer, bool sent)
{
	(void)transfer;
	(void)sent;
}

int value_decode_transfer(const uint8_t *bytes, size_t length, const int *fds, size_t n_fds,
			  cp_port *const *ports, size_t n_ports, cp_value **ret)
{
	(void)fds;
	(void)ports;
	/* Without a transfer-aware decoder a message that carries any is one
	 * this receiver cannot deserialize. */
	if (n_fds > 0 || n_ports > 0)
		return error_set(CP_ERR_DATA, "transferred objects are not supported yet");
	return value_decode(bytes, length, ret);
}

cp_port *cp_value_port(const cp_value *value)
{
	(void)value;
	return NULL;
}
