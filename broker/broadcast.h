/* SPDX-License-Identifier: MIT */
/*
 * broadcast.h - BroadcastChannel (HTML Standard, "Broadcasting to other
 * browsing contexts"): a message posted on a channel named N goes to every
 * other BroadcastChannel named N whose window has the same origin and the
 * same top-level site (browsers partition BroadcastChannel like storage),
 * in the order the channels were created; never back to the channel that
 * posted it.  Events carry the sender's origin and a null source.
 *
 * A channel belongs to one Window object of one window: a new document in
 * that window (but a same-origin one replacing the initial about:blank),
 * or the window's end, closes it.
 */
#ifndef CP_BROADCAST_H
#define CP_BROADCAST_H

#include <stdint.h>

typedef struct Broker Broker;
typedef struct BroadcastTable BroadcastTable;
typedef struct Connection Connection;
typedef struct Frame Frame;
typedef struct Window Window;

/* Expected outcomes of broadcast_open(). */
enum {
	BROADCAST_E_QUOTA = 1,    /* the connection has max-broadcasts-per-connection channels */
};

int broadcast_table_new(BroadcastTable **ret, Broker *broker);
BroadcastTable *broadcast_table_free(BroadcastTable *table);

/* new BroadcastChannel(name) in window (hosted by host).  Returns 0 with
 * *ret_id, BROADCAST_E_QUOTA, or -ENOMEM. */
int broadcast_open(BroadcastTable *table, Connection *host, Window *window, const char *name,
		   uint64_t *ret_id);

/* A BroadcastPost frame from sender: queued to every channel it reaches
 * (the payload is copied for each); errors answered to the frame's serial. */
void broadcast_post(BroadcastTable *table, Connection *sender, Frame *frame);

/* channel.close() by its host (anything else is ignored). */
void broadcast_close(BroadcastTable *table, Connection *host, uint64_t id);

/* window has a new Window (keep_document), or is gone (0): the channels
 * of its other Window objects close. */
void broadcast_window_gone(BroadcastTable *table, Window *window, uint64_t keep_document);

/* Open channels. */
uint64_t broadcast_count(const BroadcastTable *table);

#endif
