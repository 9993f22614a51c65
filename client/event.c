/* SPDX-License-Identifier: MIT */
/* event.c - the receiver's half: event frames become cp_events and callbacks. */
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>

#include "client.h"
#include "error.h"
#include "target_origin.h"
#include "value_transfer.h"
#include "value_codec.h"

/* deliver() sets every field by name: one added here is set there too. */
struct cp_event {
	cp_event_type type;
	cp_port *port;            /* the port it arrived on, or NULL */
	cp_broadcast *broadcast;  /* the BroadcastChannel it arrived on, or NULL */
	cp_client *client;        /* for cp_event_source() */
	cp_port **ports;          /* event.ports */
	size_t n_ports;
	cp_value *data;           /* NULL for messageerror, or once taken */
	const char *origin;       /* borrowed from the frame */
	uint64_t source_id;
	const char *source_name;  /* borrowed from the frame; NULL when none */
	const char *drop_reason;  /* CP_EVENT_DROPPED: borrowed from the frame */
	uint64_t dropped_target;
};

void event_queue_init(EventQueue *q)
{
	q->head = NULL;
	q->tail = &q->head;
	q->length = 0;
}

int event_queue_push(EventQueue *q, Frame *frame)
{
	frame->next = NULL;
	*q->tail = frame;
	q->tail = &frame->next;
	q->length++;
	return 0;
}

Frame *event_queue_pop(EventQueue *q)
{
	Frame *frame = q->head;

	if (!frame)
		return NULL;
	q->head = frame->next;
	if (!q->head)
		q->tail = &q->head;
	q->length--;
	frame->next = NULL;
	return frame;
}

void event_queue_clear(EventQueue *q)
{
	Frame *frame;

	while ((frame = event_queue_pop(q)))
		frame_free(frame);
}

bool event_queue_empty(const EventQueue *q)
{
	return q->head == NULL;
}

/* The HTML Standard queues the message task on the Window that was the
 * target's when the message was posted, and a document that is no longer
 * fully active runs no tasks: an event for an older Window object of the
 * window is never dispatched, whatever its targetOrigin.  Then, for the
 * one case of a new document in the same Window (the initial about:blank
 * replaced by a same-origin document), targetOrigin is checked again
 * against the document the window has now, as the Standard checks it at
 * dispatch.  An opaque targetOrigin ("null") can only have matched the
 * old document. */
static bool still_allowed(const cp_window *w, const Crosspost__Event *ev)
{
	if (ev->target_document && ev->target_document != w->document)
		return false;
	if (ev->checked_generation == w->generation)
		return true;
	if (strcmp(ev->target_origin, "*") == 0)
		return true;
	if (origin_is_opaque(w->origin) || strcmp(ev->target_origin, "null") == 0)
		return false;
	return strcmp(ev->target_origin, origin_serialization(w->origin)) == 0;
}

/* Builds the event, decodes its data, and runs the window's, the port's
 * or the channel's callback (exactly one of w, port and bc is set).
 * Frees the frame. */
static void deliver(cp_window *w, cp_port *port, cp_broadcast *bc, Frame *frame)
{
	const Crosspost__Event *ev = frame->header->event;
	cp_port *ports[FRAME_FDS_MAX];
	cp_client *client = w ? w->client : port ? port->client : bc->client;
	cp_event event;
	size_t length = frame_payload_length(frame);
	const uint8_t *bytes = frame_payload_bytes(frame);
	bool bad = !bytes || ev->n_ports > FRAME_FDS_MAX;

	/* Field by field (all of them), not a designated initializer: gcc
	 * clears the struct with rep stos first, once per message. */
	event.type = CP_EVENT_MESSAGE;
	event.port = port;
	event.broadcast = bc;
	event.client = client;
	event.ports = ports;
	event.n_ports = 0;
	event.data = NULL;
	event.origin = ev->origin;
	event.source_id = ev->source_window_id;
	event.source_name = ev->source_name && *ev->source_name ? ev->source_name : NULL;
	event.drop_reason = NULL;
	event.dropped_target = 0;
	if (ev->type == CROSSPOST__EVENT_TYPE__EVENT_DROPPED && w) {
		/* A report on one of this window's own posts (ReportDrops). */
		event.type = CP_EVENT_DROPPED;
		event.origin = "";
		event.source_id = 0;
		event.source_name = NULL;
		event.drop_reason = ev->drop_reason;
		event.dropped_target = ev->dropped_target_id;
		event.n_ports = 0;
		w->callback(w, &event, w->userdata);
		frame_recycle(&client->frames, frame);
		return;
	}

	/* The handles were made when the event arrived (client.c). */
	for (size_t i = 0; !bad && i < ev->n_ports; i++) {
		ports[i] = client_find_port(client, ev->ports[i]);
		bad = !ports[i];
	}
	event.n_ports = bad ? 0 : ev->n_ports;
	/* Data that does not deserialize becomes a messageerror event, as in
	 * the HTML Standard; the receiver keeps running. */
	/* A large payload's block is offered to the decoder: an aligned large
	 * ArrayBuffer keeps its bytes where they were read. */
	if (bad || (frame->block ? value_decode_block(&frame->block, length, frame->fds, frame->n_fds, ports,
						      event.n_ports, &event.data)
				 : value_decode_transfer(bytes, length, frame->fds, frame->n_fds, ports,
							 event.n_ports, &event.data)) < 0) {
		event.type = CP_EVENT_MESSAGEERROR;
		event.data = NULL;
	}
	if (w)
		w->callback(w, &event, w->userdata);
	else if (port)
		port->callback(port, &event, port->userdata);
	else
		bc->callback(bc, &event, bc->userdata);
	cp_value_free(event.data);
	frame_recycle(&client->frames, frame);
}

/* What became of one routed event. */
typedef enum RouteResult {
	ROUTE_DROPPED,      /* window closed, port closed or gone, navigated away */
	ROUTE_DISPATCHED,   /* a callback ran */
	ROUTE_KEPT,         /* queued for a window or port that has no callback yet */
	ROUTE_HANDED_BACK,  /* queued for a port transferred away (PortMoved) */
} RouteResult;

/* Queues a frame in a backlog; one that cannot be queued is dropped. */
static RouteResult keep(EventQueue *backlog, Frame *frame, RouteResult result)
{
	if (event_queue_push(backlog, frame) < 0) {
		frame_free(frame);
		return ROUTE_DROPPED;
	}
	return result;
}

/* An event that is not dispatched takes the ports it carried with it:
 * they arrived here, and nobody will have them (the broker closed them
 * too, with the Window they belonged to, or they are this client's to
 * close). */
static RouteResult drop(cp_client *c, Frame *frame)
{
	const Crosspost__Event *ev = frame->header->event;

	for (size_t i = 0; i < ev->n_ports; i++) {
		cp_port *carried = client_find_port(c, ev->ports[i]);

		if (carried && carried->state == CP_PORT_OPEN)
			cp_port_close(carried);
	}
	frame_free(frame);
	return ROUTE_DROPPED;
}

/* Routes one frame to its window, port or BroadcastChannel: dispatched,
 * kept in a backlog, or dropped (window closed, port or channel closed or
 * gone, or the window has a new Window object since, or navigated to an
 * origin the message was not meant for). */
static RouteResult route_event(cp_client *c, Frame *frame)
{
	const Crosspost__Event *ev;
	cp_broadcast *bc;
	cp_window *w;
	cp_port *port;

	if (frame->header->body_case == CROSSPOST__HEADER__BODY_MONITOR_EVENT)
		return monitor_deliver(c, frame) ? ROUTE_DISPATCHED : ROUTE_DROPPED;
	ev = frame->header->event;
	if (ev->target_broadcast_id) {
		bc = client_find_broadcast(c, ev->target_broadcast_id);
		if (!bc || bc->closed) {
			frame_free(frame);
			return ROUTE_DROPPED;
		}
		if (!bc->callback)
			return keep(&bc->backlog, frame, ROUTE_KEPT);
		deliver(NULL, NULL, bc, frame);
		return ROUTE_DISPATCHED;
	}

	if (ev->target_port_id) {
		port = client_find_port(c, ev->target_port_id);
		if (!port || port->state == CP_PORT_CLOSED) {
			frame_free(frame);
			return ROUTE_DROPPED;
		}
		/* A port transferred away (maybe by a callback of this very
		 * dispatch) still gets the messages that reached us first: they
		 * wait in its backlog until PortMoved hands them to its new
		 * owner (client_port_moved()). */
		if (port->state == CP_PORT_TRANSFERRED)
			return keep(&port->backlog, frame, ROUTE_HANDED_BACK);
		/* A port's message queue starts disabled (HTML): messages wait
		 * until it is started and has a callback. */
		if (!port->callback || !port->started)
			return keep(&port->backlog, frame, ROUTE_KEPT);
		deliver(NULL, port, NULL, frame);
		return ROUTE_DISPATCHED;
	}
	w = client_find_window(c, ev->target_window_id);
	if (!w || w->closed || !still_allowed(w, ev))
		return drop(c, frame);
	if (!w->callback)
		return keep(&w->backlog, frame, ROUTE_KEPT);
	deliver(w, NULL, NULL, frame);
	return ROUTE_DISPATCHED;
}

/* The first started window or port with a backlog, as its queue. */
static EventQueue *next_backlog(cp_client *c)
{
	for (cp_window *w = c->windows; w; w = w->next)
		if (w->callback && !event_queue_empty(&w->backlog))
			return &w->backlog;
	for (cp_port *p = c->ports; p; p = p->next)
		if (p->callback && p->started && port_is_open(p) && !event_queue_empty(&p->backlog))
			return &p->backlog;
	for (cp_broadcast *b = c->broadcasts; b; b = b->next)
		if (b->callback && !b->closed && !event_queue_empty(&b->backlog))
			return &b->backlog;
	return NULL;
}

int client_dispatch_events(cp_client *c, int *ret_kept)
{
	int dispatched = 0, kept = 0;
	Frame *frame;

	/* Windows and ports that got a callback since: their backlog first, in
	 * order.  A callback may close windows and ports, so the lists are
	 * searched afresh each time (backlogs are rare: only before a
	 * callback is set).  An event taken from a backlog was counted as
	 * kept when it arrived; should it be kept again (a callback cleared
	 * meanwhile), it is not counted twice. */
	for (EventQueue *backlog; (backlog = next_backlog(c));)
		dispatched += route_event(c, event_queue_pop(backlog)) == ROUTE_DISPATCHED;
	/* Reconnection notices go between the events received before a loss
	 * and those received after (reconnect.c). */
	for (;;) {
		reconnect_deliver(c, false);
		if (!(frame = event_queue_pop(&c->events)))
			break;
		reconnect_event_taken(c);
		switch (route_event(c, frame)) {
		case ROUTE_DISPATCHED: dispatched++; break;
		case ROUTE_KEPT: kept++; break;
		default: break;
		}
	}
	reconnect_deliver(c, true);
	if (ret_kept)
		*ret_kept = kept;
	return dispatched;
}

bool client_has_dispatchable(const cp_client *c)
{
	return !event_queue_empty(&c->events) || next_backlog((cp_client *)c) != NULL ||
	       reconnect_has_notices(c);
}

void cp_window_set_callback(cp_window *w, cp_event_callback cb, void *userdata)
{
	w->callback = cb;
	w->userdata = userdata;
	if (cb && !event_queue_empty(&w->backlog))
		loop_kick(w->client);
}

cp_event_type cp_event_get_type(const cp_event *ev) { return ev->type; }

const char *cp_event_drop_reason(const cp_event *ev)
{
	return ev->type == CP_EVENT_DROPPED ? ev->drop_reason : NULL;
}

uint64_t cp_event_dropped_target(const cp_event *ev)
{
	return ev->type == CP_EVENT_DROPPED ? ev->dropped_target : 0;
}

const char *cp_event_type_name(const cp_event *ev)
{
	switch (ev->type) {
	case CP_EVENT_MESSAGE: return "message";
	case CP_EVENT_MESSAGEERROR: return "messageerror";
	case CP_EVENT_DROPPED: return "dropped";
	}
	return "unknown";
}

const cp_value *cp_event_data(const cp_event *ev) { return ev->data; }

cp_value *cp_event_take_data(const cp_event *ev)
{
	/* The event is const to the callback, but its data may be moved out. */
	cp_event *mutable_ev = (cp_event *)ev;
	cp_value *data = mutable_ev->data;

	mutable_ev->data = NULL;
	return data;
}

const char *cp_event_origin(const cp_event *ev) { return ev->origin; }
uint64_t cp_event_source_id(const cp_event *ev) { return ev->source_id; }
const char *cp_event_source_name(const cp_event *ev) { return ev->source_name; }

int cp_event_source(const cp_event *ev, cp_window_ref **ret)
{
	if (!ev || !ret)
		return error_set(CP_ERR_TYPE, "cp_event_source: ev and ret are required");
	if (!ev->source_id) {
		*ret = NULL;
		return 0;
	}
	return cp_window_ref_new(ev->client, ev->source_id, ret);
}

const char *cp_event_last_event_id(const cp_event *ev)
{
	(void)ev;
	return "";
}

cp_broadcast *cp_event_broadcast(const cp_event *ev) { return ev->broadcast; }

cp_port *cp_event_port(const cp_event *ev) { return ev->port; }

size_t cp_event_ports(const cp_event *ev, cp_port *const **ret_ports)
{
	if (ret_ports)
		*ret_ports = ev->ports;
	return ev->n_ports;
}
