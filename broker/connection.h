/* SPDX-License-Identifier: MIT */
/*
 * connection.h - one client connection of the broker: reads frames, hands
 * them to the driver, writes what queue.c put in its output, and stops
 * reading while it must wait (pause reasons below).  A paused connection
 * is still watched for hang-up, so a client that dies while paused is
 * cleaned up at once.
 */
#ifndef CP_CONNECTION_H
#define CP_CONNECTION_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "frame.h"
#include "proto/crosspost.pb-c.h"

struct evbuffer;
typedef struct Account Account;
typedef struct Broker Broker;
typedef struct Held Held;
typedef struct Port Port;
typedef struct Stream Stream;
typedef struct Window Window;

/* Why a connection is not read (any of them). */
enum {
	PAUSE_PARKED = 1u << 0,   /* what it sent is waiting at congested receivers: over park-high */
	PAUSE_ACCOUNT = 1u << 1,  /* its uid is over its budget */
	PAUSE_RESERVE = 1u << 2,  /* a large frame waits for room in its uid's budget */
};

typedef struct Connection {
	Broker *broker;
	Stream *stream;
	struct event *read_event, *write_event;
	struct event *hangup_event;          /* while paused; made on first pause */
	uint64_t id;
	pid_t pid;
	uid_t uid;
	gid_t gid;
	Account *account;                    /* the uid's budget (a reference) */
	bool greeted;        /* Hello received and accepted */
	bool closing;        /* closed; waiting in the graveyard to be freed */
	bool dirty;          /* in broker->dirty */
	bool read_header_first;  /* the last frame was large: stream_read_header() next */
	unsigned paused;     /* PAUSE_* */
	uint64_t accepted_ms;                /* for the handshake timeout */
	Window *windows;     /* registered by this connection (Window.owner_next) */
	uint32_t n_windows;
	/* MessagePorts (ports.c): owned (or in transit from here), and on
	 * their way here. */
	Port *ports_owned, *ports_incoming;
	uint32_t n_ports;
	/* Accounting: what this connection's input and output are charged to
	 * its account now, and a large frame admitted while being read. */
	uint64_t charged_bytes, charged_fds, reserved;
	/* A large frame whose payload is being read in place (frame.h,
	 * frame_parse_start()), with the bytes still to come. */
	struct Frame *partial;
	size_t partial_missing;
	/* After a large frame, the next read takes the next frame's header
	 * and payload together when it is like that one (frame.h); what it
	 * read of the payload waits in ahead for the frame's parse. */
	FrameExpect expect;
	FrameAhead ahead;
	/* Frames waiting for room in this connection's output, oldest first. */
	Held *parked, **parked_tail;
	/* What this connection sent that waits in the broker (queue.h). */
	Held *sent;
	uint64_t sent_bytes;
	uint32_t sent_fds;
	/* Browsing contexts (contexts.h): windows this connection opened or
	 * framed that nobody has claimed yet, claims it presented that named
	 * nothing, and its BroadcastChannels (broadcast.h). */
	uint32_t n_pending_claims, n_bad_claims, n_broadcasts;
	struct Connection *wait_next;        /* in account->waiting */
	struct Connection *pending_prev, *pending_next;   /* before Hello, by age */
	struct Connection *next, *prev;      /* broker->connections */
	struct Connection *dirty_next, *grave_next;
	struct Connection *resume_next;      /* in broker->resumed */
	bool resume_pending;
} Connection;

/* Takes ownership of fd (an accepted socket) with its peer's credentials.
 * Returns 0 or -ENOMEM (fd closed). */
int connection_new(Broker *broker, int fd, pid_t pid, uid_t uid, gid_t gid, Connection **ret);

/* Frees a closed connection (broker internals only: see connection_close). */
Connection *connection_free(Connection *connection);

/* Closes the connection: logs the reason once (at `level`), removes its
 * windows, ports and queued frames, and frees it later in this turn (a
 * callback may be running on it). */
void connection_close(Connection *connection, int level, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* Queues a reply or notice (no payload) for the client (queue.h: charged to the
 * connection itself if it has to wait).  Returns 0 or a negative errno
 * (the connection has then been closed). */
int connection_send(Connection *connection, const Crosspost__Header *header);

/* Queues an Error frame answering serial. */
void connection_send_error(Connection *connection, uint32_t serial, Crosspost__ErrorCode code,
			   const char *fmt, ...) __attribute__((format(printf, 4, 5)));

/* Marks the connection for a write at the end of this turn. */
void connection_mark_dirty(Connection *connection);

/* Writes queued output now.  Closes the connection if the peer is gone. */
void connection_flush(Connection *connection);

/* Stops / resumes reading for one reason (PAUSE_*). */
void connection_pause(Connection *connection, unsigned reason);
void connection_resume(Connection *connection, unsigned reason);

/* Brings the account's charge for this connection's input and output
 * buffers up to date. */
void connection_recharge(Connection *connection);

/* Something charged to account was released: wakes its waiting
 * connections once it is under its low mark (or always_wake). */
void connection_account_released(Account *account, bool always_wake);

#endif
