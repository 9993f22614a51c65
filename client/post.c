/* SPDX-License-Identifier: MIT */
/* post.c - cp_post_message: the sender's half of a message's path. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "client.h"
#include "error.h"
#include "target_origin.h"
#include "value_transfer.h"
#include "value_codec.h"

/* The sender must be usable: a window of a live connection, in this process. */
static int sender_check(cp_window *from, const char *target_origin)
{
	int r;

	if (!from || !target_origin)
		return error_set(CP_ERR_TYPE, "cp_post_message: from, data and target_origin are required");
	/* Checked before anything parses it or a frame carries it. */
	if (client_check_size("targetOrigin", target_origin, CP_TARGET_ORIGIN_MAX, "CP_TARGET_ORIGIN_MAX") < 0)
		return CP_ERR_RANGE;
	if (!client_in_its_process(from->client))
		return error_set(CP_ERR_INVALID_STATE, "the client was created in another process (fork)");
	/* While the broker is away a post fails at once, never held and lost
	 * later (reconnect.c); an attempt is made first when one is due. */
	if (client_connected(from->client) < 0)
		return CP_ERR_NETWORK;
	r = window_check_registered(from);
	if (r < 0)
		return r;
	/* Closed by a script or discarded (context.c): its document is gone. */
	if (from->closed)
		return error_set(CP_ERR_INVALID_STATE, "window %llu is closed", (unsigned long long)from->id);
	return 0;
}

/* The HTML Standard throws SyntaxError for a targetOrigin that does not
 * parse before anything is serialized.  What goes on the wire is its
 * serialized origin ("*" and "/" as they are), which the broker matches
 * with a string comparison: so each targetOrigin text is parsed once per
 * client, not once per message.  *ret_sent is borrowed from target_origin
 * or from the client's cache. */
static int target_origin_check(cp_window *from, const char *target_origin, const char **ret_sent)
{
	cp_client *c = from->client;
	size_t len = strlen(target_origin);
	TargetOrigin parsed = { 0 };
	const char *reason = "?";
	char *spec, *sent;
	int r;

	/* The scan was a tenth of a 64 B post's instructions; posting to the
	 * same origin again costs a comparison. */
	if (len > 0 && len == c->canonical_target_origin_length &&
	    memcmp(c->canonical_target_origin, target_origin, len) == 0) {
		*ret_sent = target_origin;
		return 0;
	}
	if ((len == 1 && *target_origin == '*') || target_origin_is_canonical(target_origin, len)) {
		if (len < sizeof(c->canonical_target_origin)) {
			memcpy(c->canonical_target_origin, target_origin, len);
			c->canonical_target_origin_length = len;
		}
		*ret_sent = target_origin;
		return 0;
	}
	/* "/" is the sender's own origin: its serialization says as much,
	 * unless it is opaque (then only the broker knows which one). */
	if (len == 1 && *target_origin == '/') {
		*ret_sent = origin_is_opaque(from->origin) ? target_origin : from->origin_serialized;
		return 0;
	}
	if (c->target_origin_spec && strcmp(c->target_origin_spec, target_origin) == 0) {
		*ret_sent = c->target_origin_sent;
		return 0;
	}
	r = target_origin_parse_full(&parsed, target_origin, len, from->origin, &reason);
	if (r == -EINVAL)
		return error_set(CP_ERR_SYNTAX, "invalid targetOrigin '%s': %s", target_origin, reason);
	if (r < 0)
		return error_set(CP_ERR_NO_MEMORY, "out of memory");
	r = client_check_size("targetOrigin's serialized origin", target_origin_serialization(&parsed),
			      CP_TARGET_ORIGIN_MAX, "CP_TARGET_ORIGIN_MAX");
	/* An opaque origin serializes as "null", which names no origin: keep
	 * the text, for the broker to parse (and match nothing) itself. */
	sent = r < 0 ? NULL : strdup(origin_is_opaque(parsed.origin) ? target_origin :
				     target_origin_serialization(&parsed));
	target_origin_deinit(&parsed);
	if (r < 0)
		return r;
	spec = strdup(target_origin);
	if (!spec || !sent) {
		free(spec);
		free(sent);
		return error_set(CP_ERR_NO_MEMORY, "out of memory");
	}
	free(c->target_origin_spec);
	free(c->target_origin_sent);
	c->target_origin_spec = spec;
	c->target_origin_sent = sent;
	*ret_sent = sent;
	return 0;
}

/* Frames a Post around bytes (taken), the segments' bytes (NULL: none;
 * written before this returns) with fds (taken) and ports, and writes it. */
static int post_send(cp_window *from, uint64_t target, uint8_t *bytes, size_t length,
		     const ValueSegments *segments, const char *target_origin, int *fds, uint64_t *sizes,
		     size_t n_fds, uint64_t *ports, size_t n_ports)
{
	Crosspost__Header header = CROSSPOST__HEADER__INIT;
	Crosspost__Post post = CROSSPOST__POST__INIT;

	post.sender_window_id = from->id;
	post.target_window_id = target;
	post.target_origin = (char *)target_origin;
	post.fd_count = (uint32_t)n_fds;
	post.buffer_sizes = sizes;
	post.n_buffer_sizes = n_fds;
	post.transfer_ports = ports;
	post.n_transfer_ports = n_ports;
	header.body_case = CROSSPOST__HEADER__BODY_POST;
	header.post = &post;
	return client_send_message(from->client, &header, bytes, length, segments, fds, n_fds, false);
}

int post_encoded(cp_window *from, uint64_t target, uint8_t *bytes, size_t length, const char *target_origin)
{
	int r = sender_check(from, target_origin);

	if (r < 0) {
		free(bytes);
		return r;
	}
	return post_send(from, target, bytes, length, NULL, target_origin, NULL, NULL, 0, NULL, 0);
}

int cp_post_message_with_transfer(cp_window *from, uint64_t target, const cp_value *data,
				  const char *target_origin, cp_value *const *transfer, size_t n_transfer)
{
	uint64_t port_ids[FRAME_FDS_MAX], sizes[FRAME_FDS_MAX];
	int fds[FRAME_FDS_MAX];
	ValueTransfer moved;
	ValueSegments segments;
	const char *sent_origin = NULL;
	uint8_t *bytes = NULL;
	size_t length = 0;
	int r;

	if (!data || (n_transfer && !transfer))
		return error_set(CP_ERR_TYPE, "cp_post_message: from, data and target_origin are required");
	r = sender_check(from, target_origin);
	if (r < 0)
		return r;
	r = target_origin_check(from, target_origin, &sent_origin);
	if (r < 0)
		return r;
	/* Every DataCloneError comes out of here, before anything moves.
	 * Large ArrayBuffers stay out of bytes: post_send() writes them from
	 * the values before we return (the structured clone's snapshot is
	 * taken then, as the caller may change them next). */
	r = value_encode_transfer_referencing(data, transfer, n_transfer, &bytes, &length, &segments, &moved);
	if (r < 0)
		return r;
	r = transfer_check_owner(&moved, from->client);
	if (r < 0) {
		free(bytes);
		return r;
	}
	r = value_transfer_seal(&moved, fds);
	if (r < 0) {
		free(bytes);
		return r;
	}
	for (size_t i = 0; i < moved.n_ports; i++)
		port_ids[i] = moved.ports[i]->id;
	value_transfer_sizes(&moved, sizes);
	r = post_send(from, target, bytes, length, &segments, sent_origin, fds, sizes, moved.n_buffers, port_ids,
		      moved.n_ports);
	transfer_finish(&moved, r == 0);
	return r;
}

int cp_post_message(cp_window *from, uint64_t target, const cp_value *data, const char *target_origin)
{
	return cp_post_message_with_transfer(from, target, data, target_origin, NULL, 0);
}
