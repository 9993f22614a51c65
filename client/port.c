/* SPDX-License-Identifier: MIT */
/* port.c - MessageChannel and MessagePort handles, and handing a moved
 * port's undispatched messages back to the broker. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>

#include "client.h"
#include "error.h"
#include "stream.h"
#include "value_transfer.h"

cp_port *port_free(cp_port *port)
{
	if (port) {
		event_queue_clear(&port->backlog);
		free(port);
	}
	return NULL;
}

cp_port *client_find_port(const cp_client *c, uint64_t id)
{
	/* A port lost with an earlier broker keeps its id for the program,
	 * but the new broker counts ports afresh: that id is another port's. */
	for (cp_port *p = c->ports; p; p = p->next)
		if (p->id == id && !p->lost)
			return p;
	return NULL;
}

cp_port *client_port_for_id(cp_client *c, uint64_t id)
{
	cp_port *p = client_find_port(c, id);

	if (p) {
		/* Back again (a port can return to a process it left): a new
		 * MessagePort, not started. */
		if (p->state == CP_PORT_TRANSFERRED) {
			p->state = CP_PORT_OPEN;
			p->started = false;
		}
		return p;
	}
	p = calloc(1, sizeof(*p));
	if (!p)
		return NULL;
	p->client = c;
	p->id = id;
	p->state = CP_PORT_OPEN;
	event_queue_init(&p->backlog);
	p->next = c->ports;
	c->ports = p;
	return p;
}

int transfer_check_owner(const ValueTransfer *moved, const cp_client *client)
{
	for (size_t i = 0; i < moved->n_ports; i++)
		if (moved->ports[i]->client != client)
			return error_set(CP_ERR_DATA_CLONE, "port %llu belongs to another connection",
					 (unsigned long long)moved->ports[i]->id);
	return 0;
}

void transfer_finish(ValueTransfer *moved, bool sent)
{
	value_transfer_finish(moved, sent);
	if (!sent)
		return;
	for (size_t i = 0; i < moved->n_ports; i++) {
		cp_port *port = moved->ports[i];

		/* The handle is dead.  Should the port come back to this
		 * process it is a new MessagePort, not started: the old
		 * callback (and its userdata) must not see its messages. */
		port->state = CP_PORT_TRANSFERRED;
		port->callback = NULL;
		port->userdata = NULL;
		port->started = false;
	}
}

void port_bind_to_event(cp_port *port, const cp_client *c, const Crosspost__Event *ev)
{
	if (ev->target_port_id) {
		const cp_port *via = client_find_port(c, ev->target_port_id);

		port->window_id = via ? via->window_id : 0;
		port->document = via ? via->document : 0;
	} else {
		port->window_id = ev->target_window_id;
		port->document = ev->target_document;
	}
}

void ports_window_changed(cp_client *c, uint64_t window_id, uint64_t keep_document)
{
	for (cp_port *p = c->ports; p; p = p->next) {
		/* document 0: an older broker, which does not close ports on
		 * navigation either. */
		if (p->window_id != window_id || p->state != CP_PORT_OPEN || !p->document ||
		    p->document == keep_document)
			continue;
		p->state = CP_PORT_CLOSED;
		p->callback = NULL;
		p->userdata = NULL;
		event_queue_clear(&p->backlog);
	}
}

bool port_is_open(const cp_port *port)
{
	return port->state == CP_PORT_OPEN;
}

int cp_channel_new(cp_window *w, cp_port **ret1, cp_port **ret2)
{
	Crosspost__Header header = CROSSPOST__HEADER__INIT;
	Crosspost__CreateChannel req = CROSSPOST__CREATE_CHANNEL__INIT;
	Frame *reply = NULL;
	cp_port *p1, *p2;
	int r;

	if (!w || !ret1 || !ret2)
		return error_set(CP_ERR_TYPE, "cp_channel_new: window, ret_port1 and ret_port2 are required");
	r = window_check_registered(w);
	if (r < 0)
		return r;
	if (w->closed)
		return error_set(CP_ERR_INVALID_STATE, "window %llu is closed", (unsigned long long)w->id);
	req.window_id = w->id;
	header.body_case = CROSSPOST__HEADER__BODY_CREATE_CHANNEL;
	header.create_channel = &req;
	r = client_request(w->client, &header, 30000, &reply);
	if (r < 0)
		return r;
	if (reply->header->body_case != CROSSPOST__HEADER__BODY_CHANNEL_CREATED) {
		frame_free(reply);
		return client_fail(w->client, "the broker answered create-channel with a %s frame",
				   frame_kind_name(reply->header->body_case));
	}
	p1 = client_port_for_id(w->client, reply->header->channel_created->port1_id);
	p2 = p1 ? client_port_for_id(w->client, reply->header->channel_created->port2_id) : NULL;
	frame_free(reply);
	if (!p1 || !p2)
		return error_set(CP_ERR_NO_MEMORY, "out of memory");
	p1->window_id = p2->window_id = w->id;
	p1->document = p2->document = w->document;
	*ret1 = p1;
	*ret2 = p2;
	return 0;
}

void cp_port_set_callback(cp_port *port, cp_port_callback cb, void *userdata)
{
	port->callback = cb;
	port->userdata = userdata;
	/* Setting onmessage starts the port (HTML's implicit start()). */
	if (cb && port->state == CP_PORT_OPEN)
		port->started = true;
	if (cb && !event_queue_empty(&port->backlog))
		loop_kick(port->client);
}

void cp_port_set_listener(cp_port *port, cp_port_callback cb, void *userdata)
{
	port->callback = cb;
	port->userdata = userdata;
	if (cb && port->started && !event_queue_empty(&port->backlog))
		loop_kick(port->client);
}

int cp_port_start(cp_port *port)
{
	if (!port)
		return error_set(CP_ERR_TYPE, "cp_port_start: port is NULL");
	if (port->state != CP_PORT_OPEN || port->started)
		return 0;
	port->started = true;
	if (!event_queue_empty(&port->backlog))
		loop_kick(port->client);
	return 0;
}

int cp_port_close(cp_port *port)
{
	Crosspost__Header header = CROSSPOST__HEADER__INIT;
	Crosspost__PortClose req = CROSSPOST__PORT_CLOSE__INIT;
	cp_client *c;
	int r;

	if (!port)
		return error_set(CP_ERR_TYPE, "cp_port_close: port is NULL");
	/* close() never throws (HTML): on a port that was transferred (its
	 * handle is detached) or is closed already, it does nothing. */
	if (port->state != CP_PORT_OPEN)
		return 0;
	c = port->client;
	port->state = CP_PORT_CLOSED;
	event_queue_clear(&port->backlog);
	req.port_id = port->id;
	header.serial = client_next_serial(c);
	header.body_case = CROSSPOST__HEADER__BODY_PORT_CLOSE;
	header.port_close = &req;
	r = frame_append(stream_output(c->stream), &header, NULL);
	if (r < 0)
		return error_set(CP_ERR_NO_MEMORY, "out of memory");
	return client_flush(c, true);
}

uint64_t cp_port_id(const cp_port *port) { return port->id; }
cp_port_state cp_port_get_state(const cp_port *port) { return port->state; }

/* Takes every queued frame for port `id` out of queue, in order. */
static void take_port_frames(EventQueue *queue, uint64_t id, EventQueue *out)
{
	EventQueue keep;
	Frame *f = queue->head;

	event_queue_init(&keep);
	event_queue_init(queue);
	while (f) {
		Frame *next = f->next;

		event_queue_push(f->header->event->target_port_id == id ? out : &keep, f);
		f = next;
	}
	*queue = keep;
	if (!queue->head)
		queue->tail = &queue->head;
}

/* Sends one undispatched event back as a PortReturn, as it arrived. */
static int return_frame(cp_client *c, uint64_t id, Frame *frame)
{
	Crosspost__Header header = CROSSPOST__HEADER__INIT;
	Crosspost__PortReturn ret = CROSSPOST__PORT_RETURN__INIT;
	const Crosspost__Event *ev = frame->header->event;
	size_t length = frame_payload_length(frame);
	uint8_t *bytes = malloc(length ? length : 1);
	int r;

	if (!bytes) {
		frame_free(frame);
		return error_set(CP_ERR_NO_MEMORY, "out of memory");
	}
	if (length)
		memcpy(bytes, frame_payload_bytes(frame), length);
	/* Its own ports go back with it: their handles here are dead. */
	for (size_t i = 0; i < ev->n_ports; i++) {
		cp_port *carried = client_find_port(c, ev->ports[i]);

		if (carried)
			carried->state = CP_PORT_TRANSFERRED;
	}
	ret.port_id = id;
	ret.fd_count = (uint32_t)frame->n_fds;
	ret.ports = ev->ports;
	ret.n_ports = ev->n_ports;
	ret.buffer_sizes = ev->buffer_sizes;
	ret.n_buffer_sizes = ev->n_buffer_sizes;
	header.body_case = CROSSPOST__HEADER__BODY_PORT_RETURN;
	header.port_return = &ret;
	r = client_send_message(c, &header, bytes, length, NULL, frame->fds, frame->n_fds, false);
	frame->n_fds = 0;
	frame_free(frame);
	return r;
}

int client_port_moved(cp_client *c, uint64_t id)
{
	Crosspost__Header header = CROSSPOST__HEADER__INIT;
	Crosspost__PortReleased released = CROSSPOST__PORT_RELEASED__INIT;
	cp_port *port = client_find_port(c, id);
	EventQueue back;
	Frame *frame;
	int r = 0;

	/* The HTML Standard moves a port's message queue with the port: what
	 * arrived here but was not dispatched goes to the new owner, first. */
	event_queue_init(&back);
	if (port) {
		EventQueue backlog = port->backlog;

		event_queue_init(&port->backlog);
		while ((frame = event_queue_pop(&backlog)))
			if (event_queue_push(&back, frame) < 0)
				frame_free(frame);
	}
	take_port_frames(&c->events, id, &back);
	while ((frame = event_queue_pop(&back))) {
		if (r == 0)
			r = return_frame(c, id, frame);
		else
			frame_free(frame);
	}
	if (r < 0)
		return r;
	released.port_id = id;
	header.serial = client_next_serial(c);
	header.body_case = CROSSPOST__HEADER__BODY_PORT_RELEASED;
	header.port_released = &released;
	if (frame_append(stream_output(c->stream), &header, NULL) < 0)
		return error_set(CP_ERR_NO_MEMORY, "out of memory");
	/* Not written here: we may be inside a read; every caller flushes. */
	return 0;
}

int cp_port_post_message(cp_port *port, const cp_value *data, cp_value *const *transfer,
			 size_t n_transfer)
{
	Crosspost__Header header = CROSSPOST__HEADER__INIT;
	Crosspost__PortPost post = CROSSPOST__PORT_POST__INIT;
	uint64_t port_ids[FRAME_FDS_MAX], sizes[FRAME_FDS_MAX];
	ValueTransfer moved;
	uint8_t *bytes = NULL;
	size_t length = 0;
	int fds[FRAME_FDS_MAX];
	cp_client *c;
	int r;

	if (!port || !data || (n_transfer && !transfer))
		return error_set(CP_ERR_TYPE, "cp_port_post_message: port and data are required");
	c = port->client;
	/* Unlike a port closed by a peer (posting on it does nothing, as in
	 * HTML), a port lost with the broker says so: a post is never
	 * silently lost to an outage (reconnect.c). */
	if (port->lost)
		return error_set(CP_ERR_INVALID_STATE, "port %llu died with the broker's restart",
				 (unsigned long long)port->id);
	if (client_connected(c) < 0)
		return CP_ERR_NETWORK;
	/* HTML: "If transfer contains this MessagePort, throw DataCloneError". */
	for (size_t i = 0; i < n_transfer; i++)
		if (cp_value_port(transfer[i]) == port)
			return error_set(CP_ERR_DATA_CLONE, "a port cannot be transferred through itself");
	r = value_encode_transfer(data, transfer, n_transfer, &bytes, &length, &moved);
	if (r < 0)
		return r;
	r = transfer_check_owner(&moved, c);
	if (r < 0) {
		free(bytes);
		return r;
	}
	if (port->state != CP_PORT_OPEN) {
		/* A closed port, or one transferred away (its handle is detached
		 * and entangled with nothing): nothing is sent, but the transfer
		 * happens, as the HTML Standard's message port post message steps
		 * serialize with transfer before they find no target port.  The
		 * shipped ports reach nobody, so they close.  (WPT
		 * webmessaging/Transferred_objects_unusable.sub.htm) */
		free(bytes);
		for (size_t i = 0; i < moved.n_ports; i++)
			cp_port_close(moved.ports[i]);
		transfer_finish(&moved, true);
		return 0;
	}
	r = value_transfer_seal(&moved, fds);
	if (r < 0) {
		free(bytes);
		return r;
	}
	for (size_t i = 0; i < moved.n_ports; i++)
		port_ids[i] = moved.ports[i]->id;
	value_transfer_sizes(&moved, sizes);
	post.port_id = port->id;
	post.fd_count = (uint32_t)moved.n_buffers;
	post.buffer_sizes = sizes;
	post.n_buffer_sizes = moved.n_buffers;
	post.transfer_ports = port_ids;
	post.n_transfer_ports = moved.n_ports;
	header.body_case = CROSSPOST__HEADER__BODY_PORT_POST;
	header.port_post = &post;
	r = client_send_message(c, &header, bytes, length, NULL, fds, moved.n_buffers, false);
	transfer_finish(&moved, r == 0);
	return r;
}

int port_post_encoded(cp_port *port, uint8_t *bytes, size_t length)
{
	Crosspost__Header header = CROSSPOST__HEADER__INIT;
	Crosspost__PortPost post = CROSSPOST__PORT_POST__INIT;
	cp_client *c = port->client;

	if (port->state != CP_PORT_OPEN) {
		free(bytes);
		return 0;    /* as cp_port_post_message(): nothing is sent */
	}
	if (c->broken) {
		free(bytes);
		return error_set(CP_ERR_NETWORK, "the connection to the broker is lost");
	}
	post.port_id = port->id;
	header.body_case = CROSSPOST__HEADER__BODY_PORT_POST;
	header.port_post = &post;
	return client_send_message(c, &header, bytes, length, NULL, NULL, 0, true);
}
