/* SPDX-License-Identifier: MIT */
/* broadcast.c - BroadcastChannel: open, post, close; events arrive through event.c. */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "client.h"
#include "error.h"
#include "stream.h"
#include "value_codec.h"
#include "value_transfer.h"

cp_broadcast *broadcast_free(cp_broadcast *b)
{
	if (b) {
		event_queue_clear(&b->backlog);
		free(b->name);
		free(b);
	}
	return NULL;
}

cp_broadcast *client_find_broadcast(const cp_client *c, uint64_t id)
{
	/* One lost with an earlier broker keeps its id, which the new broker
	 * may give another channel. */
	for (cp_broadcast *b = c->broadcasts; b; b = b->next)
		if (b->id == id && !b->lost)
			return b;
	return NULL;
}

void broadcasts_window_changed(cp_client *c, uint64_t window_id, uint64_t keep_document)
{
	for (cp_broadcast *b = c->broadcasts; b; b = b->next) {
		if (b->window_id != window_id || b->closed || b->document == keep_document)
			continue;
		b->closed = true;
		event_queue_clear(&b->backlog);
	}
}

int cp_broadcast_new(cp_window *w, const char *name, cp_broadcast **ret)
{
	Crosspost__Header header = CROSSPOST__HEADER__INIT;
	Crosspost__BroadcastOpen req = CROSSPOST__BROADCAST_OPEN__INIT;
	Frame *reply = NULL;
	cp_broadcast *b;
	int r;

	if (!w || !name || !ret)
		return error_set(CP_ERR_TYPE, "cp_broadcast_new: window, name and ret are required");
	if (w->closed)
		return error_set(CP_ERR_INVALID_STATE, "window %llu is closed", (unsigned long long)w->id);
	r = client_check_size("channel name", name, CP_NAME_MAX, "CP_NAME_MAX");
	if (r < 0)
		return r;
	b = calloc(1, sizeof(*b));
	if (!b || !(b->name = strdup(name))) {
		free(b);
		return error_set(CP_ERR_NO_MEMORY, "out of memory");
	}
	event_queue_init(&b->backlog);
	b->client = w->client;
	b->window_id = w->id;
	b->document = w->document;
	req.window_id = w->id;
	req.name = (char *)name;
	header.body_case = CROSSPOST__HEADER__BODY_BROADCAST_OPEN;
	header.broadcast_open = &req;
	r = client_request(w->client, &header, 30000, &reply);
	if (r < 0) {
		broadcast_free(b);
		return r;
	}
	if (reply->header->body_case != CROSSPOST__HEADER__BODY_BROADCAST_OPENED) {
		r = client_fail(w->client, "the broker answered broadcast-open with a %s frame",
				frame_kind_name(reply->header->body_case));
		frame_free(reply);
		broadcast_free(b);
		return r;
	}
	b->id = reply->header->broadcast_opened->channel_id;
	frame_free(reply);
	b->next = w->client->broadcasts;
	w->client->broadcasts = b;
	*ret = b;
	return 0;
}

int cp_broadcast_post(cp_broadcast *b, const cp_value *data)
{
	Crosspost__Header header = CROSSPOST__HEADER__INIT;
	Crosspost__BroadcastPost post = CROSSPOST__BROADCAST_POST__INIT;
	cp_window *w;
	uint8_t *bytes = NULL;
	size_t length = 0;
	int r;

	if (!b || !data)
		return error_set(CP_ERR_TYPE, "cp_broadcast_post: channel and data are required");
	/* HTML: "If this's closed flag is true, then throw an
	 * InvalidStateError"; a channel whose Window is gone is closed too. */
	if (b->lost)
		return error_set(CP_ERR_INVALID_STATE, "the BroadcastChannel '%s' closed with the broker's restart",
				 b->name);
	w = client_find_window(b->client, b->window_id);
	if (b->closed || !w || w->closed || w->document != b->document)
		return error_set(CP_ERR_INVALID_STATE, "the BroadcastChannel '%s' is closed", b->name);
	if (b->client->pid != getpid())
		return error_set(CP_ERR_INVALID_STATE, "the client was created in another process (fork)");
	/* While the broker is away: fails at once (reconnect.c). */
	if (client_connected(b->client) < 0)
		return CP_ERR_NETWORK;
	/* StructuredSerialize, not with transfer: a MessagePort in data is a
	 * DataCloneError, buffers are copied. */
	r = value_encode(data, &bytes, &length);
	if (r < 0)
		return r;
	post.channel_id = b->id;
	header.body_case = CROSSPOST__HEADER__BODY_BROADCAST_POST;
	header.broadcast_post = &post;
	return client_send_message(b->client, &header, bytes, length, NULL, NULL, 0, true);
}

void cp_broadcast_set_callback(cp_broadcast *b, cp_broadcast_callback cb, void *userdata)
{
	b->callback = cb;
	b->userdata = userdata;
	if (cb && !event_queue_empty(&b->backlog))
		loop_kick(b->client);
}

int cp_broadcast_close(cp_broadcast *b)
{
	Crosspost__Header header = CROSSPOST__HEADER__INIT;
	Crosspost__BroadcastClose req = CROSSPOST__BROADCAST_CLOSE__INIT;
	cp_client *c;

	if (!b)
		return error_set(CP_ERR_TYPE, "cp_broadcast_close: channel is NULL");
	if (b->closed)
		return 0;
	c = b->client;
	b->closed = true;
	event_queue_clear(&b->backlog);
	if (c->broken)
		return 0;
	req.channel_id = b->id;
	header.serial = client_next_serial(c);
	header.body_case = CROSSPOST__HEADER__BODY_BROADCAST_CLOSE;
	header.broadcast_close = &req;
	if (frame_append(stream_output(c->stream), &header, NULL) < 0)
		return error_set(CP_ERR_NO_MEMORY, "out of memory");
	return client_flush(c, true);
}

const char *cp_broadcast_name(const cp_broadcast *b) { return b->name; }
