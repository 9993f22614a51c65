/* SPDX-License-Identifier: MIT */
/*
 * connection.h - one client connection of the broker: reads frames, hands
 * them to the driver, queues frames for the client, and applies flow control.
 */
#ifndef CP_CONNECTION_H
#define CP_CONNECTION_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "proto/crosspost.pb-c.h"

struct evbuffer;
typedef struct Broker Broker;
typedef struct Stream Stream;
typedef struct Window Window;

typedef struct Connection {
	Broker *broker;
	Stream *stream;
	struct event *read_event, *write_event;
	uint64_t id;
	pid_t pid;
	bool greeted;        /* Hello received and accepted */
	bool closing;        /* closed; waiting in the graveyard to be freed */
	bool dirty;          /* in broker->dirty */
	Window *windows;     /* registered by this connection (Window.owner_next) */
	/* Flow control.  A sender whose post found its receiver's queue over
	 * the high mark waits in that receiver's `waiters` with `blocked_on`
	 * set, and is not read from until the queue drains. */
	struct Connection *blocked_on;
	struct Connection **waiters;
	size_t n_waiters, waiters_capacity;
	struct Connection *next, *prev;   /* broker->connections */
	struct Connection *dirty_next, *grave_next;
} Connection;

/* Takes ownership of fd (an accepted socket).  Returns 0 or -ENOMEM. */
int connection_new(Broker *broker, int fd, Connection **ret);

/* Frees a closed connection (broker internals only: see connection_close). */
Connection *connection_free(Connection *connection);

/* Closes the connection: logs the reason once (at `level`), removes its
 * windows, releases senders waiting on it, and frees it later in this turn
 * (a callback may be running on it). */
void connection_close(Connection *connection, int level, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* Queues a frame for the client; the payload (may be NULL) is moved.
 * Returns 0 or a negative errno (the connection has then been closed). */
int connection_send(Connection *connection, const Crosspost__Header *header,
		    struct evbuffer *payload);

/* The same, with descriptors that travel with the frame (ownership moves
 * to the connection, which closes them if it cannot send them). */
int connection_send_with_fds(Connection *connection, const Crosspost__Header *header,
			     struct evbuffer *payload, int *fds, size_t n_fds);

/* Queues an Error frame answering serial. */
void connection_send_error(Connection *connection, uint32_t serial, Crosspost__ErrorCode code,
			   const char *fmt, ...) __attribute__((format(printf, 4, 5)));

/* True when the output queue is over the high mark. */
bool connection_is_congested(const Connection *connection);

/* Stops reading sender until receiver's output drains (flow control). */
void connection_wait_for(Connection *sender, Connection *receiver);

/* Writes queued output now.  Closes the connection if the peer is gone. */
void connection_flush(Connection *connection);

#endif
