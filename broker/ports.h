/* SPDX-License-Identifier: MIT */
/*
 * ports.h - MessagePorts as the broker sees them: entangled pairs, who owns
 * each one, and ports in transit between processes.
 *
 * A port transferred in a message stays with its old owner until that
 * owner has handed back the messages for it that it received but had not
 * dispatched (PortMoved -> PortReturn... -> PortReleased); messages its
 * peer posts meanwhile are held, charged to the poster (queue.h).  When it
 * lands, the returned messages are delivered first, then the held ones:
 * the order the peer posted them in.  An old owner that does not release
 * the port within transit-timeout loses the messages it still had: the
 * port lands without them.
 *
 * Every port is on its owner's list (and, in transit, on its next owner's),
 * so that a connection's ports are found without searching the table.
 */
#ifndef CP_PORTS_H
#define CP_PORTS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct Broker Broker;
typedef struct Connection Connection;
typedef struct Frame Frame;
typedef struct Held Held;
typedef struct PortTable PortTable;

typedef enum PortState {
	PORT_OWNED,       /* owner receives its messages */
	PORT_IN_TRANSIT,  /* owner must release it; next_owner gets it then */
	PORT_CLOSED,      /* closed, or its owner died: messages to it are dropped */
} PortState;

typedef struct Port {
	uint64_t id;
	PortState state;
	struct Port *peer;          /* entangled port; NULL once disentangled */
	Connection *owner;          /* OWNED: the owner; IN_TRANSIT: the old owner (NULL once gone) */
	Connection *next_owner;     /* IN_TRANSIT: the owner once released (NULL once gone) */
	Held *returned, **returned_tail;   /* handed back by the old owner */
	Held *held, **held_tail;           /* posted by the peer while in transit */
	uint64_t transit_deadline_ms;
	/* The window whose Window object (document) the port belongs to: the
	 * one that created it, or received it last.  A new Window in that
	 * window, or the window's end, closes the port (HTML: a document that
	 * is not fully active runs no port message tasks; WPT
	 * webmessaging/multi-globals/messageport-current.html). */
	uint64_t window_id, document;
	struct Port *hash_next;
	struct Port *owned_prev, *owned_next;        /* owner's list */
	struct Port *incoming_prev, *incoming_next;  /* next owner's list */
	struct Port *transit_prev, *transit_next;    /* the table's, by deadline */
	struct Port *closed_next;                    /* freed at the end of the turn */
} Port;

/* Expected outcomes. */
enum {
	PORTS_E_NOT_TRANSFERABLE = 1,   /* unknown, closed, not the sender's, twice, or the posting port */
	PORTS_E_QUOTA = 2,              /* the connection has max-ports-per-connection ports */
};

int port_table_new(PortTable **ret, Broker *broker);
PortTable *port_table_free(PortTable *table);

/* A new entangled pair owned by owner.  Returns 0, PORTS_E_QUOTA or -ENOMEM. */
int ports_create_pair(PortTable *table, Connection *owner, Port **ret1, Port **ret2);

Port *ports_find(const PortTable *table, uint64_t id);
/* Live ports (not closed). */
size_t ports_count(const PortTable *table);

/* True when sender may use port: it owns it, or it is the port's next owner. */
bool port_usable_by(const Port *port, const Connection *sender);

/* Checks a list of port ids before anything moves: every id names a port
 * the sender may use, none twice, none equal to `posting` (may be NULL).
 * Returns 0 or PORTS_E_NOT_TRANSFERABLE with a static reason. */
int ports_check_transfer(const PortTable *table, const Connection *sender, const uint64_t *ids,
			 size_t n, const Port *posting, const char **ret_reason);

/* Moves ports carried by a message being queued to receiver (checked
 * already): an owned port goes in transit and its owner is told to release
 * it; a port in transit gets receiver as its next owner. */
void ports_move(PortTable *table, const uint64_t *ids, size_t n, Connection *receiver);

/* The ports belong to window_id's Window `document` from now on (they
 * were created there, or are being delivered there). */
void ports_bind(PortTable *table, const uint64_t *ids, size_t n, uint64_t window_id, uint64_t document);

/* window_id, hosted by host, has a new Window (keep_document), or is gone
 * (keep_document 0): the ports of its other Window objects close. */
void ports_close_window(PortTable *table, Connection *host, uint64_t window_id, uint64_t keep_document);

/* Closes the ports a dropped message carried: their peers are disentangled. */
void ports_close_ids(PortTable *table, const uint64_t *ids, size_t n);

/* port.close(), or its owner died: disentangles it and drops what is held. */
void port_close(PortTable *table, Port *port);

/* A message for port (a PortPost from its peer's owner `poster`, or a
 * PortReturn from its old owner): delivered to the owner now, or held
 * until the port lands, or dropped if the port is closed.  Takes the
 * frame. */
void ports_deliver(PortTable *table, Port *port, Frame *frame, Connection *poster, bool returned);

/* The old owner released port (PortReleased, or it went away, or its time
 * ran out): the port lands at its next owner, which gets the returned then
 * the held messages. */
void ports_land(PortTable *table, Port *port);

/* True when id was ever handed out (a closed port's messages are dropped
 * silently; an id never handed out is an error). */
bool ports_id_assigned(const PortTable *table, uint64_t id);

/* Frees ports closed during this turn.  Called at the end of a loop turn,
 * never while a caller holds a port. */
void ports_sweep(PortTable *table);

/* A connection is going away: close what it owns, land what it was
 * releasing, and close what was on its way to it. */
void ports_connection_closed(PortTable *table, Connection *connection);

#endif
