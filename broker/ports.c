/* SPDX-License-Identifier: MIT */
/* ports.c - entangled MessagePorts, their owners, and ports in transit. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "broker.h"
#include "connection.h"
#include "frame.h"
#include "log.h"
#include "ports.h"

#define PORT_BUCKETS_INITIAL 64

struct PortTable {
	Broker *broker;
	Port **buckets;
	size_t n_buckets, count;
	size_t n_closed;      /* closed ports still in the table, freed by ports_sweep() */
	uint64_t next_id;
};

static size_t bucket_for(uint64_t id, size_t n_buckets)
{
	id ^= id >> 33;
	id *= 0xff51afd7ed558ccdULL;
	id ^= id >> 33;
	return (size_t)(id % n_buckets);
}

static size_t bucket_of(const PortTable *t, uint64_t id)
{
	return bucket_for(id, t->n_buckets);
}

int port_table_new(PortTable **ret, Broker *broker)
{
	PortTable *t = calloc(1, sizeof(*t));

	if (!t)
		return -ENOMEM;
	t->broker = broker;
	t->n_buckets = PORT_BUCKETS_INITIAL;
	t->buckets = calloc(t->n_buckets, sizeof(*t->buckets));
	t->next_id = 1;
	if (!t->buckets) {
		free(t);
		return -ENOMEM;
	}
	*ret = t;
	return 0;
}

static void drop_messages(PortTable *t, HeldMessage **list);

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
	free(t->buckets);
	free(t);
	return NULL;
}

Port *ports_find(const PortTable *t, uint64_t id)
{
	for (Port *p = t->buckets[bucket_of(t, id)]; p; p = p->hash_next)
		if (p->id == id)
			return p;
	return NULL;
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

static Port *port_new(PortTable *t, Connection *owner)
{
	Port *p = calloc(1, sizeof(*p));
	size_t at;

	if (!p)
		return NULL;
	p->id = t->next_id++;
	p->state = PORT_OWNED;
	p->owner = owner;
	p->returned_tail = &p->returned;
	p->held_tail = &p->held;
	at = bucket_of(t, p->id);
	p->hash_next = t->buckets[at];
	t->buckets[at] = p;
	t->count++;
	return p;
}

int ports_create_pair(PortTable *t, Connection *owner, Port **ret1, Port **ret2)
{
	Port *a, *b;

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
	connection_send(old_owner, &header, NULL);
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
			p->next_owner = receiver;
			send_port_moved(p->owner, p->id);
		} else {
			/* Passed on before it landed: it lands at the newest owner,
			 * which has had no message for it yet. */
			p->next_owner = receiver;
		}
	}
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

/* A dropped message takes its ports and descriptors with it. */
static void drop_frame(PortTable *t, Frame *frame)
{
	size_t n;
	const uint64_t *ids = carried_ports(frame, &n);

	ports_close_ids(t, ids, n);
	frame_free(frame);
}

static void drop_messages(PortTable *t, HeldMessage **list)
{
	while (*list) {
		HeldMessage *m = *list;

		*list = m->next;
		drop_frame(t, m->frame);
		free(m);
	}
}

void port_close(PortTable *t, Port *p)
{
	if (p->state == PORT_CLOSED)
		return;
	log_debug("port %llu closed", (unsigned long long)p->id);
	p->state = PORT_CLOSED;
	t->n_closed++;
	p->owner = p->next_owner = NULL;
	if (p->peer)
		p->peer->peer = NULL;
	p->peer = NULL;
	drop_messages(t, &p->returned);
	p->returned_tail = &p->returned;
	drop_messages(t, &p->held);
	p->held_tail = &p->held;
}

static void send_to_owner(PortTable *t, Port *p, Frame *frame)
{
	Crosspost__Header header = CROSSPOST__HEADER__INIT;
	Crosspost__Event event = CROSSPOST__EVENT__INIT;
	size_t n_ports;
	uint64_t *ids = (uint64_t *)carried_ports(frame, &n_ports);

	/* Port messages carry no origin and a null source (HTML Standard). */
	event.type = CROSSPOST__EVENT_TYPE__EVENT_MESSAGE;
	event.target_port_id = p->id;
	event.origin = (char *)"";
	event.target_origin = (char *)"*";
	event.fd_count = (uint32_t)frame->n_fds;
	event.n_ports = n_ports;
	event.ports = ids;
	header.body_case = CROSSPOST__HEADER__BODY_EVENT;
	header.event = &event;
	ports_move(t, ids, n_ports, p->owner);
	if (connection_send_with_fds(p->owner, &header, frame->payload, frame->fds, frame->n_fds) == 0)
		t->broker->stats.messages_delivered++;
	frame->n_fds = 0;
	frame_free(frame);
}

static int hold(HeldMessage ***tail, Frame *frame)
{
	HeldMessage *m = malloc(sizeof(*m));

	if (!m)
		return -ENOMEM;
	m->next = NULL;
	m->frame = frame;
	**tail = m;
	*tail = &m->next;
	return 0;
}

void ports_deliver(PortTable *t, Port *p, Frame *frame, bool returned)
{
	int r;

	switch (p->state) {
	case PORT_OWNED:
		send_to_owner(t, p, frame);
		return;
	case PORT_IN_TRANSIT:
		r = returned ? hold(&p->returned_tail, frame) : hold(&p->held_tail, frame);
		if (r < 0) {
			log_error("out of memory holding a message for port %llu", (unsigned long long)p->id);
			drop_frame(t, frame);
		}
		return;
	case PORT_CLOSED:
		drop_frame(t, frame);
		return;
	}
}

void ports_land(PortTable *t, Port *p)
{
	HeldMessage *list[2];

	if (p->state != PORT_IN_TRANSIT)
		return;
	if (!p->next_owner) {
		port_close(t, p);
		return;
	}
	p->state = PORT_OWNED;
	p->owner = p->next_owner;
	p->next_owner = NULL;
	log_debug("port %llu landed", (unsigned long long)p->id);
	list[0] = p->returned;
	list[1] = p->held;
	p->returned = p->held = NULL;
	p->returned_tail = &p->returned;
	p->held_tail = &p->held;
	/* Returned messages were posted before the held ones. */
	for (int i = 0; i < 2; i++) {
		while (list[i]) {
			HeldMessage *m = list[i];

			list[i] = m->next;
			ports_deliver(t, p, m->frame, false);
			free(m);
		}
	}
}

void ports_connection_closed(PortTable *t, Connection *c)
{
	for (size_t b = 0; b < t->n_buckets; b++) {
		for (Port *p = t->buckets[b]; p; p = p->hash_next) {
			if (p->state == PORT_OWNED && p->owner == c) {
				port_close(t, p);
			} else if (p->state == PORT_IN_TRANSIT && p->next_owner == c) {
				port_close(t, p);
			} else if (p->state == PORT_IN_TRANSIT && p->owner == c) {
				/* It cannot hand anything back now. */
				p->owner = NULL;
				ports_land(t, p);
			}
		}
	}
}

bool ports_id_assigned(const PortTable *t, uint64_t id)
{
	return id > 0 && id < t->next_id;
}

void ports_sweep(PortTable *t)
{
	if (t->n_closed == 0)
		return;
	for (size_t b = 0; b < t->n_buckets; b++) {
		for (Port **pp = &t->buckets[b]; *pp;) {
			Port *p = *pp;

			if (p->state != PORT_CLOSED) {
				pp = &p->hash_next;
				continue;
			}
			*pp = p->hash_next;
			t->count--;
			port_free(t, p);
		}
	}
	t->n_closed = 0;
}
