/* SPDX-License-Identifier: MIT */
/* post.c - cp_post_message: the sender's half of a message's path. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/buffer.h>

#include "client.h"
#include "error.h"
#include "stream.h"
#include "target_origin.h"
#include "value_codec.h"

static void free_payload(const void *data, size_t length, void *userdata)
{
	(void)length;
	(void)userdata;
	free((void *)data);
}

int cp_post_message(cp_window *from, uint64_t target, const cp_value *data, const char *target_origin)
{
	Crosspost__Header header = CROSSPOST__HEADER__INIT;
	Crosspost__Post post = CROSSPOST__POST__INIT;
	TargetOrigin parsed = { 0 };
	struct evbuffer *payload = NULL;
	const char *reason = "?";
	uint8_t *bytes = NULL;
	size_t length = 0;
	cp_client *c;
	int r;

	if (!from || !data || !target_origin)
		return error_set(CP_ERR_TYPE, "cp_post_message: from, data and target_origin are required");
	c = from->client;
	if (c->pid != getpid())
		return error_set(CP_ERR_INVALID_STATE, "the client was created in another process (fork)");
	if (c->broken)
		return error_set(CP_ERR_NETWORK, "the connection to the broker is lost");
	/* The HTML Standard throws SyntaxError before anything is serialized. */
	r = target_origin_parse(&parsed, target_origin, strlen(target_origin), from->origin, &reason);
	if (r == -EINVAL)
		return error_set(CP_ERR_SYNTAX, "invalid targetOrigin '%s': %s", target_origin, reason);
	if (r < 0)
		return error_set(CP_ERR_NO_MEMORY, "out of memory");
	target_origin_deinit(&parsed);

	r = value_encode(data, &bytes, &length);
	if (r < 0)
		return r;
	/* The encoded bytes are handed to the output buffer by reference: they
	 * are copied once, by the kernel, when written. */
	payload = evbuffer_new();
	if (!payload || evbuffer_add_reference(payload, bytes, length, free_payload, NULL) < 0) {
		free(bytes);
		r = error_set(CP_ERR_NO_MEMORY, "out of memory");
		goto out;
	}
	post.sender_window_id = from->id;
	post.target_window_id = target;
	post.target_origin = (char *)target_origin;
	header.serial = client_next_serial(c);
	header.body_case = CROSSPOST__HEADER__BODY_POST;
	header.post = &post;
	r = frame_append(stream_output(c->stream), &header, payload);
	if (r == -EMSGSIZE) {
		r = error_set(CP_ERR_DATA_CLONE, "the serialized data (%zu bytes) is over the %u-byte limit",
			      length, FRAME_PAYLOAD_MAX);
		goto out;
	}
	if (r < 0) {
		r = error_set(CP_ERR_NO_MEMORY, "out of memory");
		goto out;
	}
	r = client_flush(c, true);
out:
	if (payload)
		evbuffer_free(payload);
	return r;
}
