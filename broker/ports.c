/* SPDX-License-Identifier: MIT */
/* ports.c - entangled MessagePorts, their owners, and ports in transit. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>

#include "broker.h"
#include "connection.h"
#include "frame.h"
#include "log.h"
#include "monitor.h"
#include "registry.h"
#include "ports.h"
#include "queue.h"

#define PORT_BUCKETS_INITIAL 64

struct PortTable {
	Broker *broker;
	Port **buckets;
	size_t n_buckets, count;      /* count: in the table, closed ones included */
	size_t n_closed;
	Port *closed;                 /* closed this turn, freed by ports_sweep() */
	Port *transit_head, *transit_tail;   /* in transit, oldest deadline first */
	struct event *transit_timer;
	uint64_t next_id;
};

static void on_transit_timer(evutil_socket_t fd, short what, void *userdata);

static size_t bucket_for(uint64_t id, size_t n_buckets)
{
	id ^= id >> 33;
	id *= 0xff51afd7ed558ccdULL;
	id ^= id >> 33;
	return (size_t)(id % n_buckets);
}

int port_table_new(PortTable **ret, Broker *broker)
{
	PortTable *t = calloc(1, sizeof(*t));

	if (!t)
		return -ENOMEM;
	t->broker = broker;
	t->n_buckets = PORT_BUCKETS_INITIAL;
	t->buckets = calloc(t->n_buckets, sizeof(*t->buckets));
	t->transit_timer = broker->base ? evtimer_new(broker->base, on_transit_timer, t) : NULL;
	t->next_id = 1;
	if (!t->buckets || (broker->base && !t->transit_timer)) {
		free(t->buckets);
		if (t->transit_timer)
			event_free(t->transit_timer);
		free(t);
		return -ENOMEM;
	}
	*ret = t;
	return 0;
}

static void drop_messages(PortTable *t, Held **list);

static void port_free(PortTable *t, Port *p)
{
	drop_messages(t, &p->returned);
	drop_messages(t, &p->held);
	free(p);
}

PortTable *port_table_free(PortTable *t)
{
	if (!t)
		return NULL;
	for (size_t b = 0; b < t->n_buckets; b++)
		for (Port *p = t->buckets[b]; p; p = p->hash_next)
			p->state = PORT_CLOSED;    /* frames dropped below carry no live ports */
	for (size_t b = 0; b < t->n_buckets; b++) {
		while (t->buckets[b]) {
			Port *p = t->buckets[b];

			t->buckets[b] = p->hash_next;
			port_free(t, p);
		}
	}
	if (t->transit_timer)
		event_free(t->transit_timer);
	free(t->buckets);
	free(t);
	return NULL;
}

Port *ports_find(const PortTable *t, uint64_t id)
{
	for (Port *p = t->buckets[bucket_for(id, t->n_buckets)]; p; p = p->hash_next)
		if (p->id == id)
			return p;
	return NULL;
}

size_t ports_count(const PortTable *t)
{
	return t->count - t->n_closed;
}

static int grow(PortTable *t)
{
	size_t n = t->n_buckets * 2;
	Port **buckets = calloc(n, sizeof(*buckets));

	if (!buckets)
		return -ENOMEM;
	for (size_t b = 0; b < t->n_buckets; b++) {
		while (t->buckets[b]) {
			Port *p = t->buckets[b];
			size_t at = bucket_for(p->id, n);

			t->buckets[b] = p->hash_next;
			p->hash_next = buckets[at];
			buckets[at] = p;
		}
	}
	free(t->buckets);
	t->buckets = buckets;
	t->n_buckets = n;
	return 0;
}

/* -- the per-connection lists ----------------------------------------- */

static void link_owned(Port *p, Connection *c)
{
	p->owner = c;
	p->owned_prev = NULL;
	p->owned_next = c->ports_owned;
	if (c->ports_owned)
		c->ports_owned->owned_prev = p;
	c->ports_owned = p;
	c->n_ports++;
}

static void unlink_owned(Port *p)
{
	Connection *c = p->owner;

	if (!c)
		return;
	if (p->owned_prev)
		p->owned_prev->owned_next = p->owned_next;
	else
		c->ports_owned = p->owned_next;
	if (p->owned_next)
		p->owned_next->owned_prev = p->owned_prev;
	p->owned_prev = p->owned_next = NULL;
	p->owner = NULL;
	c->n_ports--;
}

static void link_incoming(Port *p, Connection *c)
{
	p->next_owner = c;
	p->incoming_prev = NULL;
	p->incoming_next = c->ports_incoming;
	if (c->ports_incoming)
		c->ports_incoming->incoming_prev = p;
	c->ports_incoming = p;
	c->n_ports++;
}

static void unlink_incoming(Port *p)
{
	Connection *c = p->next_owner;

	if (!c)
		return;
	if (p->incoming_prev)
		p->incoming_prev->incoming_next = p->incoming_next;
	else
		c->ports_incoming = p->incoming_next;
	if (p->incoming_next)
		p->incoming_next->incoming_prev = p->incoming_prev;
	p->incoming_prev = p->incoming_next = NULL;
	p->next_owner = NULL;
	c->n_ports--;
}

/* -- transit deadlines ------------------------------------------------ */

static void arm_transit_timer(PortTable *t)
{
	struct timeval tv;
	uint64_t now, due;

	if (!t->transit_timer)
		return;
	if (!t->transit_head) {
		evtimer_del(t->transit_timer);
		return;
	}
	now = broker_now_ms();
	due = t->transit_head->transit_deadline_ms > now ? t->transit_head->transit_deadline_ms - now : 0;
	tv.tv_sec = (time_t)(due / 1000);
	tv.tv_usec = (suseconds_t)(due % 1000) * 1000;
	evtimer_add(t->transit_timer, &tv);
}

static void start_transit(PortTable *t, Port *p)
{
	/* One timeout for all: appending keeps the list in deadline order. */
	p->transit_deadline_ms = broker_now_ms() + t->broker->limits.transit_timeout_ms;
	p->transit_next = NULL;
	p->transit_prev = t->transit_tail;
	if (t->transit_tail)
		t->transit_tail->transit_next = p;
	else
		t->transit_head = p;
	t->transit_tail = p;
	if (t->transit_head == p)
		arm_transit_timer(t);
}

static void end_transit(PortTable *t, Port *p)
{
	bool head = t->transit_head == p;

	if (!p->transit_prev && !head)
		return;
	if (p->transit_prev)
		p->transit_prev->transit_next = p->transit_next;
	else
		t->transit_head = p->transit_next;
	if (p->transit_next)
		p->transit_next->transit_prev = p->transit_prev;
	else
		t->transit_tail = p->transit_prev;
	p->transit_prev = p->transit_next = NULL;
	if (head)
		arm_transit_timer(t);
}

static void on_transit_timer(evutil_socket_t fd, short what, void *userdata)
{
	PortTable *t = userdata;
	uint64_t now = broker_now_ms();

	(void)fd;
	(void)what;
	while (t->transit_head && t->transit_head->transit_deadline_ms <= now) {
		Port *p = t->transit_head;

		log_info("port %llu: its old owner (connection %llu) did not release it within %u ms; "
			 "it lands without the messages that owner still had", (unsigned long long)p->id,
			 p->owner ? (unsigned long long)p->owner->id : 0ULL, t->broker->limits.transit_timeout_ms);
		ports_land(t, p);
	}
	arm_transit_timer(t);
	broker_flush(t->broker);
}

/* -- ports ------------------------------------------------------------ */

static Port *port_new(PortTable *t, Connection *owner)
{
	Port *p = calloc(1, sizeof(*p));
	size_t at;

	if (!p)
		return NULL;
	p->id = t->next_id++;
	p->state = PORT_OWNED;
	p->returned_tail = &p->returned;
	p->held_tail = &p->held;
	link_owned(p, owner);
	at = bucket_for(p->id, t->n_buckets);
	p->hash_next = t->buckets[at];
	t->buckets[at] = p;
	t->count++;
	return p;
}

int ports_create_pair(PortTable *t, Connection *owner, Port **ret1, Port **ret2)
{
	Port *a, *b;

	if (owner->n_ports + 2 > t->broker->limits.max_ports_per_connection)
		return PORTS_E_QUOTA;
	if (t->count + 2 > t->n_buckets && grow(t) < 0)
		return -ENOMEM;
	a = port_new(t, owner);
	if (!a)
		return -ENOMEM;
	b = port_new(t, owner);
	if (!b) {
		port_close(t, a);
		return -ENOMEM;
	}
	a->peer = b;
	b->peer = a;
	*ret1 = a;
	*ret2 = b;
	return 0;
}

bool port_usable_by(const Port *p, const Connection *sender)
{
	if (p->state == PORT_OWNED)
		return p->owner == sender;
	if (p->state == PORT_IN_TRANSIT)
		return p->next_owner == sender;
	return false;
}

int ports_check_transfer(const PortTable *t, const Connection *sender, const uint64_t *ids,
			 size_t n, const Port *posting, const char **ret_reason)
{
	for (size_t i = 0; i < n; i++) {
		const Port *p = ports_find(t, ids[i]);
		const char *reason = NULL;

		if (!p || !port_usable_by(p, sender))
			reason = "a transferred port is closed, already transferred or not the sender's";
		else if (p == posting)
			reason = "a port cannot be transferred through itself";
		for (size_t j = 0; j < i && !reason; j++)
			if (ids[j] == ids[i])
				reason = "the same port appears twice in the transfer list";
		if (reason) {
			if (ret_reason)
				*ret_reason = reason;
			return PORTS_E_NOT_TRANSFERABLE;
		}
	}
	return 0;
}

static void send_port_moved(Connection *old_owner, uint64_t id)
{
	Crosspost__Header header = CROSSPOST__HEADER__INIT;
	Crosspost__PortMoved moved = CROSSPOST__PORT_MOVED__INIT;

	moved.port_id = id;
	header.body_case = CROSSPOST__HEADER__BODY_PORT_MOVED;
	header.port_moved = &moved;
	connection_send(old_owner, &header);
}

void ports_move(PortTable *t, const uint64_t *ids, size_t n, Connection *receiver)
{
	for (size_t i = 0; i < n; i++) {
		Port *p = ports_find(t, ids[i]);

		if (!p || p->state == PORT_CLOSED)
			continue;
		if (p->state == PORT_OWNED) {
			/* Queued after every message already queued for it there. */
			p->state = PORT_IN_TRANSIT;
			link_incoming(p, receiver);
			start_transit(t, p);
			send_port_moved(p->owner, p->id);
		} else {
			/* Passed on before it landed: it lands at the newest owner,
			 * which has had no message for it yet. */
			unlink_incoming(p);
			link_incoming(p, receiver);
		}
	}
}

void ports_bind(PortTable *t, const uint64_t *ids, size_t n, uint64_t window_id, uint64_t document)
{
	for (size_t i = 0; i < n; i++) {
		Port *p = ports_find(t, ids[i]);

		if (p) {
			p->window_id = window_id;
			p->document = document;
		}
	}
}

void ports_close_window(PortTable *t, Connection *host, uint64_t window_id, uint64_t keep_document)
{
	uint64_t *ids;
	size_t n = 0, cap = 0;

	/* A port bound to the window is owned by its host, or on its way
	 * there; one in transit away from it is bound to its receiver.  The
	 * ids are collected first: closing one port drops the messages held
	 * for it, which closes the ports those carried, anywhere in the
	 * lists. */
	for (Port *p = host->ports_owned; p; p = p->owned_next)
		cap++;
	for (Port *p = host->ports_incoming; p; p = p->incoming_next)
		cap++;
	if (cap == 0)
		return;
	ids = malloc(cap * sizeof(*ids));
	if (!ids) {
		log_error("out of memory closing the ports of window %llu", (unsigned long long)window_id);
		return;
	}
	for (Port *p = host->ports_owned; p; p = p->owned_next)
		if (p->window_id == window_id && p->document != keep_document && p->state == PORT_OWNED)
			ids[n++] = p->id;
	for (Port *p = host->ports_incoming; p; p = p->incoming_next)
		if (p->window_id == window_id && p->document != keep_document)
			ids[n++] = p->id;
	ports_close_ids(t, ids, n);
	free(ids);
}

void ports_close_ids(PortTable *t, const uint64_t *ids, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		Port *p = ports_find(t, ids[i]);

		if (p)
			port_close(t, p);
	}
}

/* The ports a held frame carries. */
static const uint64_t *carried_ports(const Frame *frame, size_t *ret_n)
{
	const Crosspost__Header *h = frame->header;

	if (h->body_case == CROSSPOST__HEADER__BODY_PORT_POST) {
		*ret_n = h->port_post->n_transfer_ports;
		return h->port_post->transfer_ports;
	}
	if (h->body_case == CROSSPOST__HEADER__BODY_PORT_RETURN) {
		*ret_n = h->port_return->n_ports;
		return h->port_return->ports;
	}
	*ret_n = 0;
	return NULL;
}

static const uint64_t *carried_sizes(const Frame *frame, size_t *ret_n)
{
	const Crosspost__Header *h = frame->header;

	if (h->body_case == CROSSPOST__HEADER__BODY_PORT_POST) {
		*ret_n = h->port_post->n_buffer_sizes;
		return h->port_post->buffer_sizes;
	}
	if (h->body_case == CROSSPOST__HEADER__BODY_PORT_RETURN) {
		*ret_n = h->port_return->n_buffer_sizes;
		return h->port_return->buffer_sizes;
	}
	*ret_n = 0;
	return NULL;
}

/* A dropped message takes its ports and descriptors with it. */
static void drop_frame(PortTable *t, Frame *frame)
{
	size_t n;
	const uint64_t *ids = carried_ports(frame, &n);

	ports_close_ids(t, ids, n);
	frame_free(frame);
}

static void drop_messages(PortTable *t, Held **list)
{
	while (*list) {
		Held *h = *list;
		Frame *frame = h->frame;

		*list = h->next;
		h->frame = NULL;
		held_free(h);
		drop_frame(t, frame);
	}
}

void port_close(PortTable *t, Port *p)
{
	if (p->state == PORT_CLOSED)
		return;
	log_debug("port %llu closed", (unsigned long long)p->id);
	if (p->state == PORT_IN_TRANSIT)
		end_transit(t, p);
	p->state = PORT_CLOSED;
	unlink_owned(p);
	unlink_incoming(p);
	p->closed_next = t->closed;
	t->closed = p;
	t->n_closed++;
	if (p->peer)
		p->peer->peer = NULL;
	p->peer = NULL;
	drop_messages(t, &p->returned);
	p->returned_tail = &p->returned;
	drop_messages(t, &p->held);
	p->held_tail = &p->held;
}

static void send_to_owner(PortTable *t, Port *p, Frame *frame, Connection *poster, Account *account)
{
	Crosspost__Header header = CROSSPOST__HEADER__INIT;
	Crosspost__Event event = CROSSPOST__EVENT__INIT;
	size_t n_ports, n_sizes;
	uint64_t *ids = (uint64_t *)carried_ports(frame, &n_ports);
	uint64_t *sizes = (uint64_t *)carried_sizes(frame, &n_sizes);

	/* Port messages carry no origin and a null source (HTML Standard). */
	event.type = CROSSPOST__EVENT_TYPE__EVENT_MESSAGE;
	event.target_port_id = p->id;
	event.origin = (char *)"";
	event.target_origin = (char *)"*";
	event.fd_count = (uint32_t)frame->n_fds;
	event.n_ports = n_ports;
	event.ports = ids;
	event.n_buffer_sizes = n_sizes;
	event.buffer_sizes = sizes;
	header.body_case = CROSSPOST__HEADER__BODY_EVENT;
	header.event = &event;
	ports_move(t, ids, n_ports, p->owner);
	ports_bind(t, ids, n_ports, p->window_id, p->document);
	monitor_message(t->broker, CROSSPOST__MONITOR_KIND__MONITOR_PORT_MESSAGE, NULL,
			registry_find(t->broker->registry, p->window_id), p->window_id, NULL, NULL, p->id, frame);
	if (queue_frame(p->owner, poster, account, &header, frame, frame->fds, frame->n_fds) == 0)
		t->broker->stats.messages_delivered++;
	frame->n_fds = 0;
	frame_free(frame);
}

void ports_deliver(PortTable *t, Port *p, Frame *frame, Connection *poster, bool returned)
{
	Held *h;

	switch (p->state) {
	case PORT_OWNED:
		send_to_owner(t, p, frame, poster, NULL);
		return;
	case PORT_IN_TRANSIT:
		/* Held messages count against whoever posted them.  Returned ones
		 * against the returning connection's uid only: pausing it would
		 * keep it from finishing the hand-over. */
		h = held_new(returned ? NULL : poster, poster->account, frame->wire_length, (uint32_t)frame->n_fds);
		if (!h) {
			log_error("out of memory holding a message for port %llu", (unsigned long long)p->id);
			drop_frame(t, frame);
			return;
		}
		h->frame = frame;
		if (returned) {
			*p->returned_tail = h;
			p->returned_tail = &h->next;
		} else {
			*p->held_tail = h;
			p->held_tail = &h->next;
		}
		return;
	case PORT_CLOSED:
		drop_frame(t, frame);
		return;
	}
}

void ports_land(PortTable *t, Port *p)
{
	Held *list[2];

	if (p->state != PORT_IN_TRANSIT)
		return;
	end_transit(t, p);
	if (!p->next_owner) {
		port_close(t, p);
		return;
	}
	unlink_owned(p);
	link_owned(p, p->next_owner);
	unlink_incoming(p);
	p->state = PORT_OWNED;
	log_debug("port %llu landed", (unsigned long long)p->id);
	list[0] = p->returned;
	list[1] = p->held;
	p->returned = p->held = NULL;
	p->returned_tail = &p->returned;
	p->held_tail = &p->held;
	/* Returned messages were posted before the held ones. */
	for (int i = 0; i < 2; i++) {
		while (list[i]) {
			Held *h = list[i];
			Frame *frame = h->frame;

			list[i] = h->next;
			h->frame = NULL;
			if (p->state == PORT_OWNED)
				send_to_owner(t, p, frame, h->sender, h->account);
			else
				drop_frame(t, frame);    /* closed by a message before it */
			held_free(h);
		}
	}
}

void ports_connection_closed(PortTable *t, Connection *c)
{
	/* Ports on their way here will never arrive. */
	while (c->ports_incoming)
		port_close(t, c->ports_incoming);
	while (c->ports_owned) {
		Port *p = c->ports_owned;

		if (p->state == PORT_IN_TRANSIT) {
			/* It cannot hand anything back now. */
			unlink_owned(p);
			ports_land(t, p);
		} else {
			port_close(t, p);
		}
	}
}

bool ports_id_assigned(const PortTable *t, uint64_t id)
{
	return id > 0 && id < t->next_id;
}

void ports_sweep(PortTable *t)
{
	while (t->closed) {
		Port *p = t->closed;
		Port **pp = &t->buckets[bucket_for(p->id, t->n_buckets)];

		t->closed = p->closed_next;
		while (*pp != p)
			pp = &(*pp)->hash_next;
		*pp = p->hash_next;
		t->count--;
		t->n_closed--;
		port_free(t, p);
	}
}
