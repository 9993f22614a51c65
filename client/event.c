/* SPDX-License-Identifier: MIT */
/* event.c - the receiver's half: event frames become cp_events and callbacks. */
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>

#include "client.h"
#include "error.h"
#include "target_origin.h"
#include "value_codec.h"

struct cp_event {
	cp_event_type type;
	cp_value *data;           /* NULL for messageerror, or once taken */
	const char *origin;       /* borrowed from the frame */
	uint64_t source_id;
	const char *source_name;  /* borrowed from the frame; NULL when none */
};

void event_queue_init(EventQueue *q)
{
	q->head = NULL;
	q->tail = &q->head;
}

int event_queue_push(EventQueue *q, Frame *frame)
{
	PendingEvent *p = malloc(sizeof(*p));

	if (!p)
		return -1;
	p->next = NULL;
	p->frame = frame;
	*q->tail = p;
	q->tail = &p->next;
	return 0;
}

static Frame *event_queue_pop(EventQueue *q)
{
	PendingEvent *p = q->head;
	Frame *frame;

	if (!p)
		return NULL;
	q->head = p->next;
	if (!q->head)
		q->tail = &q->head;
	frame = p->frame;
	free(p);
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

/* The HTML Standard checks targetOrigin when the message is dispatched.  The
 * broker checked against the generation of the window it knew; if this
 * window has navigated since, check again against what it is now.  An
 * opaque targetOrigin ("null") can only have matched the old document. */
static bool still_allowed(const cp_window *w, const Crosspost__Event *ev)
{
	if (ev->checked_generation == w->generation)
		return true;
	if (strcmp(ev->target_origin, "*") == 0)
		return true;
	if (origin_is_opaque(w->origin) || strcmp(ev->target_origin, "null") == 0)
		return false;
	return strcmp(ev->target_origin, origin_serialization(w->origin)) == 0;
}

/* Builds the event and runs the callback.  Frees the frame. */
static void deliver(cp_window *w, Frame *frame)
{
	const Crosspost__Event *ev = frame->header->event;
	cp_event event = {
		.type = CP_EVENT_MESSAGE,
		.origin = ev->origin,
		.source_id = ev->source_window_id,
		.source_name = ev->source_name && *ev->source_name ? ev->source_name : NULL,
	};
	size_t length = evbuffer_get_length(frame->payload);
	const uint8_t *bytes = length ? evbuffer_pullup(frame->payload, -1) : (const uint8_t *)"";

	/* Data that does not deserialize becomes a messageerror event, as in
	 * the HTML Standard; the receiver keeps running. */
	if (!bytes || value_decode(bytes, length, &event.data) < 0) {
		event.type = CP_EVENT_MESSAGEERROR;
		event.data = NULL;
	}
	w->callback(w, &event, w->userdata);
	cp_value_free(event.data);
	frame_free(frame);
}

/* Routes one frame to its window: dispatched, kept in the window's backlog,
 * or dropped (window closed, or navigated to an origin it was not meant
 * for).  Returns 1 when a callback ran. */
static int route_event(cp_client *c, Frame *frame)
{
	cp_window *w = client_find_window(c, frame->header->event->target_window_id);

	if (!w || !still_allowed(w, frame->header->event)) {
		frame_free(frame);
		return 0;
	}
	if (!w->callback) {
		if (event_queue_push(&w->backlog, frame) < 0)
			frame_free(frame);
		return 0;
	}
	deliver(w, frame);
	return 1;
}

int client_dispatch_events(cp_client *c)
{
	int dispatched = 0;
	Frame *frame;

	/* Windows that got a callback since: their backlog first, in order.
	 * A callback may close windows, so the list is searched afresh each
	 * time (backlogs are rare: only before a callback is set). */
	for (;;) {
		cp_window *w = c->windows;

		while (w && !(w->callback && !event_queue_empty(&w->backlog)))
			w = w->next;
		if (!w)
			break;
		dispatched += route_event(c, event_queue_pop(&w->backlog));
	}
	while ((frame = event_queue_pop(&c->events)))
		dispatched += route_event(c, frame);
	return dispatched;
}

bool client_has_dispatchable(const cp_client *c)
{
	if (!event_queue_empty(&c->events))
		return true;
	for (const cp_window *w = c->windows; w; w = w->next)
		if (w->callback && !event_queue_empty(&w->backlog))
			return true;
	return false;
}

void cp_window_set_callback(cp_window *w, cp_event_callback cb, void *userdata)
{
	w->callback = cb;
	w->userdata = userdata;
	if (cb && !event_queue_empty(&w->backlog))
		loop_kick(w->client);
}

cp_event_type cp_event_get_type(const cp_event *ev) { return ev->type; }

const char *cp_event_type_name(const cp_event *ev)
{
	return ev->type == CP_EVENT_MESSAGE ? "message" : "messageerror";
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
