/* SPDX-License-Identifier: MIT */
/*
 * queue.h - frames on their way to a connection, and what they cost their
 * senders.
 *
 * A frame for a connection goes straight into its socket output buffer
 * unless the connection is congested (its output is over queue-high bytes
 * or queue-fds-high descriptors) or frames already wait before it; then it
 * is *parked* in the connection's FIFO and charged to its sender, which
 * keeps being read, and keeps talking to everyone else, until what it has
 * parked passes park-high.  That is per-target credit: a slow receiver
 * stalls only what is sent to it.  Messages held for a port in transit
 * (ports.c) are charged the same way.  Nothing accepted is ever dropped;
 * every byte waiting is charged to the sender's uid (account.h).
 */
#ifndef CP_QUEUE_H
#define CP_QUEUE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "proto/crosspost.pb-c.h"

struct evbuffer;
typedef struct Account Account;
typedef struct Connection Connection;
typedef struct Frame Frame;

/* A message waiting in the broker, charged to whoever sent it. */
typedef struct Held {
	struct Held *next;                     /* in the FIFO it waits in */
	struct Held *sender_prev, *sender_next;  /* in its sender's list */
	Connection *sender;                    /* NULL once it went away */
	Account *account;                      /* charged; a reference */
	uint64_t bytes;
	uint32_t fds;
	/* Either the frame as it will be written (parked at a receiver), or
	 * the frame as received (held for a port in transit). */
	struct evbuffer *wire;
	int *wire_fds;
	Frame *frame;
} Held;

/* Charges a held message of `bytes` and `fds` to sender (may be NULL) and
 * account (may be NULL: then the sender's).  Returns NULL when out of
 * memory.  The caller fills in wire/wire_fds or frame. */
Held *held_new(Connection *sender, Account *account, uint64_t bytes, uint32_t fds);
/* Releases the charge, closes descriptors and frees what it holds. */
void held_free(Held *held);

/* Queues a frame for receiver (see above), charged to sender when it has
 * to wait: sender may be the receiver itself (its own replies), or NULL
 * with `account` naming who pays (a message whose sender is gone).  The
 * payload of payload_from (a parsed frame, or NULL for none) and the
 * descriptors (n_fds of them) move into the queue.  Returns 0, or a negative errno when the receiver could not take
 * it (it is then closed, the descriptors closed). */
int queue_frame(Connection *receiver, Connection *sender, Account *account,
		const Crosspost__Header *header, Frame *payload_from, int *fds, size_t n_fds);

/* After receiver's output was written: moves parked frames into its
 * output while it has room, releasing their senders. */
void queue_refill(Connection *receiver);

/* True when receiver is over its high marks (frames for it would park). */
bool queue_congested(const Connection *receiver);

/* The receiver is going away: its parked frames are dropped (their
 * senders released).  The sender is going away: its frames stay queued
 * (they were accepted), but are no longer linked to it. */
void queue_receiver_closed(Connection *receiver);
void queue_sender_closed(Connection *sender);

#endif
