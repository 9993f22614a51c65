/* SPDX-License-Identifier: MIT */
/*
 * broker.h - the broker's core: accepts connections on a listening socket
 * and owns the window registry.  It never parses argv or reads the
 * environment; broker/main.c does that and hands it a socket.
 */
#ifndef CP_BROKER_H
#define CP_BROKER_H

#include <stddef.h>
#include <stdint.h>

struct event_base;
struct event;
typedef struct Registry Registry;
typedef struct PortTable PortTable;
typedef struct Connection Connection;

/* A connection whose output queue holds more than this many bytes stops the
 * senders feeding it: they are not read from again until the queue is back
 * under BROKER_OUTPUT_LOW_DEFAULT.  Together with FRAME_PAYLOAD_MAX this
 * bounds the broker's memory per receiver (docs/architecture.md). */
#define BROKER_OUTPUT_HIGH_DEFAULT (8u * 1024u * 1024u)
#define BROKER_OUTPUT_LOW_DEFAULT (2u * 1024u * 1024u)

/* Counters, for logs and tests. */
typedef struct BrokerStats {
	uint64_t messages_delivered;       /* events queued for a receiver */
	uint64_t dropped_origin_mismatch;  /* targetOrigin did not match */
	uint64_t dropped_target_closed;    /* posted to a window that has closed */
	uint64_t senders_paused;           /* flow-control pauses */
	uint64_t connections_rejected;     /* closed for breaking the protocol */
} BrokerStats;

typedef struct Broker {
	struct event_base *base;
	int listen_fd;
	struct event *accept_event;
	Registry *registry;
	PortTable *ports;
	Connection *connections;     /* live */
	Connection *dirty;           /* with output to flush at the end of this turn */
	Connection *graveyard;       /* closed, freed by reap_event */
	struct event *reap_event;
	uint64_t next_connection_id;
	size_t output_high, output_low;
	BrokerStats stats;
} Broker;

/* Starts serving listen_fd (a listening Unix stream socket; the broker owns
 * it from now on) on base.  Returns 0 or -ENOMEM. */
int broker_new(Broker **ret, struct event_base *base, int listen_fd);
/* Closes every connection and the listening socket. */
Broker *broker_free(Broker *broker);

/* Writes queued output of every connection touched during this turn: one
 * sendmsg per receiver per turn rather than one per message. */
void broker_flush(Broker *broker);

#endif
