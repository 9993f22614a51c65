/* SPDX-License-Identifier: MIT */
/* queue.c - into a connection's output, or parked and charged to the sender. */
#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>

#include "account.h"
#include "broker.h"
#include "cleanup.h"
#include "connection.h"
#include "frame.h"
#include "log.h"
#include "queue.h"
#include "stream.h"

/* Bytes of wire one parked entry gathers at most (joinable_tail()). */
#define PARK_JOIN_MAX (16u * 1024u)

/* After a charge to sender: pause it when what it parked is over the
 * high-water mark. */
static void pause_if_over(Connection *sender)
{
	if (!(sender->paused & PAUSE_PARKED) &&
	    (sender->sent_bytes > sender->broker->limits.park_high ||
	     sender->sent_fds > sender->broker->limits.queue_fds_high)) {
		sender->broker->stats.senders_paused++;
		log_debug("connection %llu paused: %llu bytes it sent wait at slow receivers",
			  (unsigned long long)sender->id, (unsigned long long)sender->sent_bytes);
		connection_pause(sender, PAUSE_PARKED);
	}
}

Held *held_new(Connection *sender, Account *account, uint64_t bytes, uint32_t fds)
{
	Held *h = calloc(1, sizeof(*h));

	if (!h)
		return NULL;
	h->sender = sender;
	h->account = account ? account : sender->account;
	h->account->refs++;
	h->bytes = bytes;
	h->fds = fds;
	account_charge(h->account, (int64_t)bytes, fds);
	if (sender) {
		h->sender_next = sender->sent;
		if (sender->sent)
			sender->sent->sender_prev = h;
		sender->sent = h;
		sender->sent_bytes += bytes;
		sender->sent_fds += fds;
		pause_if_over(sender);
	}
	return h;
}

/* Charges h (parked, its sender's still) for bytes more of wire. */
static void held_grow(Held *h, uint64_t bytes)
{
	h->bytes += bytes;
	account_charge(h->account, (int64_t)bytes, 0);
	if (h->sender) {
		h->sender->sent_bytes += bytes;
		pause_if_over(h->sender);
	}
}

/* Unlinks h from its sender and releases the charge. */
static void held_release(Held *h)
{
	Connection *sender = h->sender;
	Account *account = h->account;

	if (sender) {
		if (h->sender_prev)
			h->sender_prev->sender_next = h->sender_next;
		else
			sender->sent = h->sender_next;
		if (h->sender_next)
			h->sender_next->sender_prev = h->sender_prev;
		sender->sent_bytes -= h->bytes;
		sender->sent_fds -= h->fds;
		h->sender = NULL;
		if ((sender->paused & PAUSE_PARKED) && sender->sent_bytes <= sender->broker->limits.park_low &&
		    sender->sent_fds <= sender->broker->limits.queue_fds_high / 2)
			connection_resume(sender, PAUSE_PARKED);
	}
	if (!account)
		return;
	h->account = NULL;
	account_charge(account, -(int64_t)h->bytes, -(int64_t)h->fds);
	connection_account_released(account, false);
	account_unref(account);
}

void held_free(Held *h)
{
	if (!h)
		return;
	held_release(h);
	if (h->wire_fds) {
		close_fds(h->wire_fds, h->fds);
		free(h->wire_fds);
	}
	if (h->wire)
		evbuffer_free(h->wire);
	frame_free(h->frame);
	free(h);
}

bool queue_congested(const Connection *c)
{
	const BrokerLimits *l = &c->broker->limits;

	return evbuffer_get_length(stream_output(c->stream)) > l->queue_high ||
	       stream_output_fds(c->stream) > l->queue_fds_high;
}

/* Into the socket output: descriptors first, so that they ride on the
 * frame's first byte. */
static int append_output(Connection *c, const Crosspost__Header *header, Frame *payload,
			 int *fds, size_t n_fds)
{
	int r = stream_queue_fds(c->stream, fds, n_fds);

	if (r < 0) {
		close_fds(fds, n_fds);
		return r;
	}
	return frame_append_from(stream_output(c->stream), header, payload);
}

/* The last frame parked at receiver, when a frame without descriptors
 * from sender, paid by account, can join its wire: a run of small messages
 * from one sender waits as one entry whose frames share chains, and is
 * written in few iovecs, instead of an entry, an evbuffer and a chain each.
 * Entries stay under PARK_JOIN_MAX so that refilling the output from them
 * keeps to its marks. */
static Held *joinable_tail(Connection *receiver, Connection *sender, Account *account, size_t n_fds)
{
	Held *tail;

	if (!receiver->parked || n_fds > 0 || !sender)
		return NULL;
	tail = (Held *)((char *)receiver->parked_tail - offsetof(Held, next));
	if (tail->sender != sender || tail->account != account || !tail->wire || tail->bytes >= PARK_JOIN_MAX)
		return NULL;
	return tail;
}

static int park(Connection *receiver, Connection *sender, Account *account,
		const Crosspost__Header *header, Frame *payload, int *fds, size_t n_fds)
{
	Held *tail = joinable_tail(receiver, sender, account, n_fds);
	struct evbuffer *wire;

	if (tail) {
		size_t before = evbuffer_get_length(tail->wire);
		int r = frame_append_from(tail->wire, header, payload);

		if (r == 0)
			held_grow(tail, evbuffer_get_length(tail->wire) - before);
		return r;
	}
	wire = evbuffer_new();
	int *kept = NULL;
	Held *h;
	int r;

	if (!wire) {
		close_fds(fds, n_fds);
		return -ENOMEM;
	}
	r = frame_append_from(wire, header, payload);
	if (r == 0 && n_fds > 0) {
		kept = malloc(n_fds * sizeof(int));
		if (!kept)
			r = -ENOMEM;
		else
			memcpy(kept, fds, n_fds * sizeof(int));
	}
	if (r < 0) {
		evbuffer_free(wire);
		close_fds(fds, n_fds);
		return r;
	}
	h = held_new(sender, account, evbuffer_get_length(wire), (uint32_t)n_fds);
	if (!h) {
		evbuffer_free(wire);
		close_fds(fds, n_fds);
		free(kept);
		return -ENOMEM;
	}
	h->wire = wire;
	h->wire_fds = kept;
	*receiver->parked_tail = h;
	receiver->parked_tail = &h->next;
	return 0;
}

int queue_frame(Connection *receiver, Connection *sender, Account *account,
		const Crosspost__Header *header, Frame *payload, int *fds, size_t n_fds)
{
	int r;

	if (receiver->closing) {
		close_fds(fds, n_fds);
		return -EPIPE;
	}
	if (!receiver->parked && !queue_congested(receiver))
		r = append_output(receiver, header, payload, fds, n_fds);
	else
		r = park(receiver, sender, account ? account : (sender ? sender->account : receiver->account),
			 header, payload, fds, n_fds);
	if (r < 0) {
		connection_close(receiver, LOG_ERROR, "cannot queue a %s frame: %s",
				 frame_kind_name(header->body_case), strerror(-r));
		return r;
	}
	connection_mark_dirty(receiver);
	return 0;
}

void queue_refill(Connection *c)
{
	const BrokerLimits *l = &c->broker->limits;
	struct evbuffer *out = stream_output(c->stream);
	bool moved = false;

	if (!c->parked || evbuffer_get_length(out) > l->queue_low)
		return;
	while (c->parked && !queue_congested(c)) {
		Held *h = c->parked;

		if (stream_queue_fds(c->stream, h->wire_fds, h->fds) < 0)
			break;    /* out of memory: try again after the next write */
		free(h->wire_fds);
		h->wire_fds = NULL;
		if (evbuffer_add_buffer(out, h->wire) < 0) {
			connection_close(c, LOG_ERROR, "out of memory moving a parked frame");
			return;
		}
		c->parked = h->next;
		if (!c->parked)
			c->parked_tail = &c->parked;
		held_release(h);
		evbuffer_free(h->wire);
		free(h);
		moved = true;
	}
	if (moved) {
		connection_recharge(c);
		connection_mark_dirty(c);
	}
}

void queue_receiver_closed(Connection *c)
{
	while (c->parked) {
		Held *h = c->parked;

		c->parked = h->next;
		held_free(h);
	}
	c->parked_tail = &c->parked;
}

void queue_sender_closed(Connection *c)
{
	/* Its frames were accepted: they are delivered all the same, charged
	 * to its uid until they leave. */
	while (c->sent) {
		Held *h = c->sent;

		c->sent = h->sender_next;
		h->sender = NULL;
		h->sender_prev = h->sender_next = NULL;
	}
	c->sent_bytes = 0;
	c->sent_fds = 0;
}
