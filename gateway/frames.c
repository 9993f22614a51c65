/* SPDX-License-Identifier: MIT */
/* frames.c - length-prefixed frames between the gateway's server and its workers. */
#include <errno.h>
#include <stdint.h>

#include <event2/buffer.h>

#include "gateway.h"

static void put_be32(unsigned char *p, uint32_t v)
{
	p[0] = (unsigned char)(v >> 24);
	p[1] = (unsigned char)(v >> 16);
	p[2] = (unsigned char)(v >> 8);
	p[3] = (unsigned char)v;
}

int gw_frame_append(struct evbuffer *out, const void *data, size_t len)
{
	unsigned char prefix[4];

	if (len > UINT32_MAX)
		return -EMSGSIZE;
	put_be32(prefix, (uint32_t)len);
	if (evbuffer_add(out, prefix, sizeof(prefix)) < 0 || evbuffer_add(out, data, len) < 0)
		return -ENOMEM;
	return 0;
}

int gw_frame_append_buffer(struct evbuffer *out, struct evbuffer *body)
{
	size_t len = evbuffer_get_length(body);
	unsigned char prefix[4];

	if (len > UINT32_MAX)
		return -EMSGSIZE;
	put_be32(prefix, (uint32_t)len);
	if (evbuffer_add(out, prefix, sizeof(prefix)) < 0 || evbuffer_add_buffer(out, body) < 0)
		return -ENOMEM;
	return 0;
}

int gw_frame_peek(struct evbuffer *in, size_t max, size_t *ret_len)
{
	unsigned char prefix[4];
	size_t len;

	if (evbuffer_copyout(in, prefix, sizeof(prefix)) < (ev_ssize_t)sizeof(prefix))
		return 0;
	len = (size_t)prefix[0] << 24 | (size_t)prefix[1] << 16 | (size_t)prefix[2] << 8 | prefix[3];
	if (len > max)
		return -EMSGSIZE;
	if (evbuffer_get_length(in) < sizeof(prefix) + len)
		return 0;
	*ret_len = len;
	return 1;
}
