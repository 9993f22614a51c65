/* SPDX-License-Identifier: MIT */
/*
 * client.h - libcrosspost internals shared by its modules:
 *   client.c  connection, handshake, blocking request/reply
 *   window.c  windows: open, close, navigate, lookup (and wait), list
 *   post.c    cp_post_message: check targetOrigin, serialize, frame, queue
 *   event.c   receiving: event frames to cp_event, callbacks
 *   loop.c    integration: fd + dispatch, blocking wait, libevent adapter
 *   context.c browsing contexts: references, window.open, iframes, claims,
 *             relations (opener, parent, top, frames), close by script
 *   broadcast.c BroadcastChannel
 *   reconnect.c surviving a broker restart: back-off, re-registration,
 *             the reconnect callback's notices
 * Never installed; the public API is crosspost.h alone.
 */
#ifndef CP_CLIENT_INTERNAL_H
#define CP_CLIENT_INTERNAL_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "crosspost.h"
#include "frame.h"
#include "origin.h"
#include "value_codec.h"

typedef struct Stream Stream;

/* A received event frame waiting to be dispatched. */
/* Received event frames waiting to be dispatched, linked through
 * Frame.next (queueing allocates nothing). */
typedef struct EventQueue {
	Frame *head, **tail;
	size_t length;
} EventQueue;

/* A WindowProxy: a reference to a browsing context by its broker id,
 * which is never reused, so the reference stays meaningful after the
 * window closes. */
struct cp_window_ref {
	cp_client *client;
	uint64_t id;
	bool borrowed;             /* a window's own proxy: freed with the window */
};

struct cp_window {
	cp_client *client;
	uint64_t id;
	cp_window_ref proxy;       /* cp_window_proxy() */
	char *name;
	char *url;
	Origin *origin;            /* of url, to resolve "/" */
	char *origin_serialized;   /* as the broker computed it */
	uint64_t generation;       /* navigations so far */
	/* Its current Window object (Event.target_document): events for an
	 * older one are dropped, whatever their targetOrigin. */
	uint64_t document;
	/* Closed by a script or discarded (WindowClosed), or nobody's any
	 * more: the handle stays until cp_window_close(). */
	bool closed;
	bool privileged;
	cp_event_callback callback;
	void *userdata;
	EventQueue backlog;        /* received before a callback was set */
	struct cp_window *next;
	/* Reconnection (reconnect.c): the id and Window object before the
	 * attempt under way, and whether the attempt registered the window
	 * already. */
	uint64_t reconnect_prev_id, reconnect_prev_document;
	bool reconnect_done;
	/* Not registered at the broker of this connection (closed before a
	 * reconnection, or lost in it): its id, if any, is another broker's,
	 * so that no event is routed to it by id. */
	bool unregistered;
	/* Not registered again after a reconnection: id 0, closed; why. */
	bool lost;
	int lost_error;
	char *lost_message;
};

struct cp_port {
	cp_client *client;
	uint64_t id;
	cp_port_state state;
	cp_port_callback callback;   /* dispatched to once started */
	void *userdata;
	bool started;                /* its port message queue is enabled */
	/* The window whose Window object the port belongs to: when that
	 * window gets a new Window or closes, the port is closed (the broker
	 * closes it too). */
	uint64_t window_id, document;
	EventQueue backlog;          /* arrived before the port was started */
	struct cp_port *next;
	bool lost;                   /* died with a connection to a broker that went away */
};

struct cp_broadcast {
	cp_client *client;
	uint64_t id;                 /* the broker's */
	char *name;
	uint64_t window_id, document;  /* the Window object it belongs to */
	bool closed;
	bool lost;                   /* closed with a broker that went away */
	cp_broadcast_callback callback;
	void *userdata;
	EventQueue backlog;          /* arrived while it had no callback */
	struct cp_broadcast *next;
};

struct cp_client {
	Stream *stream;
	/* Events' frames, kept for the next ones (frame.h): given back by
	 * deliver() once their callback has run. */
	FrameCache frames;
	char *socket_path;
	pid_t pid;                 /* of the process that connected */
	unsigned forks;            /* client_forks() when it connected */
	/* The last targetOrigin posted that was not already in canonical form,
	 * and its serialization: parsed once, not per message. */
	char *target_origin_spec, *target_origin_sent;
	/* The last one that was (length 0: none; longer ones are not kept):
	 * compared, not scanned again. */
	char canonical_target_origin[64];
	size_t canonical_target_origin_length;
	struct cp_client *all_next;   /* every client of the process (exit flush) */
	bool batching;                /* cp_client_set_batching() */
	cp_monitor_callback monitor;  /* cp_client_monitor() */
	void *monitor_userdata;
	uint32_t next_serial;
	bool broken;               /* the connection is gone */
	cp_window *windows;
	cp_port *ports;            /* every handle, live or dead */
	cp_broadcast *broadcasts;  /* BroadcastChannel handles */
	EventQueue events;         /* received, not yet dispatched, in order */
	Frame *partial;            /* a large frame being read in place */
	size_t partial_missing;
	/* The next large frame read with its header when like the last two
	 * (frame.h, frame_read_expected()). */
	FrameExpect expect;
	FrameAhead ahead;
	/* Parsing stopped PARSE_AHEAD_EVENTS ahead of dispatch: the input
	 * may hold whole frames (client_parse_available() takes them). */
	bool parse_stopped;
	int post_error;            /* first post failure since the last sync */
	char post_error_message[256];
	/* The broker's limits, from its Welcome (0: the protocol's own). */
	uint64_t max_message_size;
	uint32_t max_fds_per_message;
	struct event_base *base;   /* attached libevent loop, or NULL */
	struct event *read_event, *write_event;
	struct Reconnect *reconnect;      /* cp_client_set_reconnect() state, or NULL */
	struct event *reconnect_event;    /* the libevent timer of the next attempt */
};

/* client.c */
/* Counts fork()s in this process (pthread_atfork); a client created before
 * the latest one belongs to the parent. */
unsigned client_forks(void);
static inline bool client_in_its_process(const cp_client *client)
{
	return client->forks == client_forks();
}
/* CP_ERR_RANGE when s is longer than max bytes, with a message naming
 * what s is and the limit: "the URL is 70000 bytes; the limit is 8192
 * bytes (CP_URL_MAX)".  0 otherwise. */
int client_check_size(const char *what, const char *s, size_t max, const char *limit_name);
/* The next request serial (never 0). */
uint32_t client_next_serial(cp_client *client);
/* Sends a request and waits for the frame answering it: 0 with *ret_reply
 * (caller frees), the CP_ERR_* that an Error reply maps to (message
 * recorded), or CP_ERR_NETWORK / CP_ERR_TIMEOUT.  Events that arrive
 * meanwhile are queued, not dispatched.  timeout_ms < 0: no limit. */
int client_request(cp_client *client, Crosspost__Header *request, int timeout_ms, Frame **ret_reply);
/* Reads whatever is available without blocking and sorts the frames:
 * events to the queue, errors for posts to post_error.  Returns 0 or
 * CP_ERR_NETWORK. */
int client_read_available(cp_client *client);
/* The same for frames already read (a request's wait may leave some in the
 * input), without reading. */
int client_parse_available(cp_client *client);
/* Whether parsing stopped ahead of dispatch with whole frames maybe left
 * in the input (client_parse_available() takes the next batch). */
bool client_parse_stopped(const cp_client *client);
/* Whether client_read_waiting() may wait in recvmsg(): nothing to write,
 * no large payload half read, and the socket blocking allowed. */
bool client_may_wait_in_read(const cp_client *client);
/* One read that waits for bytes, then sorts the frames as
 * client_read_available().  Returns 0 or CP_ERR_NETWORK. */
int client_read_waiting(cp_client *client);
/* Writes queued output; when block is true, until all of it is written,
 * reading (not dispatching) input meanwhile so that a broker waiting for us
 * to read is never waited for in turn.  Returns 0 or CP_ERR_NETWORK. */
int client_flush(cp_client *client, bool block);
/* Posts queue their frames; the output is written once this much is
 * queued, or by any call that waits or dispatches (docs/architecture.md). */
#define CLIENT_WRITE_THRESHOLD (64u * 1024u)
/* How long cp_client_free() and exit() wait for queued posts to go out. */
#define CLIENT_EXIT_FLUSH_MS 10000
/* A message frame was queued: writes once the threshold is reached, or
 * lets an attached loop write it on its next turn.  Returns 0 or
 * CP_ERR_NETWORK. */
int client_queued(cp_client *client);
/* Writes, without blocking, what every other client of this process has
 * queued: called before any wait, so that a program with several clients
 * never waits on one for messages another one still holds. */
void client_flush_others(cp_client *self);
/* Marks the connection lost and records why (as the last error message,
 * and for reconnection); returns CP_ERR_NETWORK. */
int client_fail(cp_client *client, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Maps a wire error code to CP_ERR_*. */
int client_error_from_wire(Crosspost__ErrorCode code);
/* Queues a message frame (Post, PortPost or PortReturn header) whose
 * payload is bytes, with fds attached, and, when write_now, writes it all
 * (client_flush(block)); otherwise client_queued().  With segments (large
 * ArrayBuffers left out of bytes by value_encode_referencing(); may be
 * NULL) their bytes are written from where they are, and always before
 * this returns.  Takes ownership of bytes (malloc'd) and fds on every
 * path.  Returns 0 or a CP_ERR_* code. */
int client_send_message(cp_client *client, Crosspost__Header *header, uint8_t *bytes, size_t length,
			const ValueSegments *segments, int *fds, size_t n_fds, bool write_now);

/* event.c */
void event_queue_init(EventQueue *queue);
int event_queue_push(EventQueue *queue, Frame *frame);
Frame *event_queue_pop(EventQueue *queue);
void event_queue_clear(EventQueue *queue);
bool event_queue_empty(const EventQueue *queue);
/* Runs callbacks for queued events; returns how many were dispatched.
 * *ret_kept (when not NULL) gets how many newly received events were kept
 * in the backlog of a window or port that has no callback yet; events
 * dropped, or kept only to be handed back for a moved port, count in
 * neither. */
int client_dispatch_events(cp_client *client, int *ret_kept);
/* True when some queued event could be dispatched now. */
bool client_has_dispatchable(const cp_client *client);

/* post.c */
/* Frames and writes a Post of bytes already serialized: the second half of
 * cp_post_message(), which calls it once the value is encoded; fault
 * injection (`post-corrupt` in scenarios) calls it with bytes
 * value_encode() would never produce.  Checks the sender as
 * cp_post_message() does but leaves targetOrigin to the caller
 * (cp_post_message() parses it before serializing, as the HTML Standard
 * orders it); one that does not parse is refused by the broker, and that
 * SyntaxError comes back on the next cp_client_sync().  Takes ownership of
 * bytes (malloc'd), freed on every path.  Errors as cp_post_message(). */
int post_encoded(cp_window *from, uint64_t target, uint8_t *bytes, size_t length, const char *target_origin);

/* port.c */
/* The handle for a port id, created (owned by the client) when new: ports
 * arrive in events.  NULL when out of memory. */
cp_port *client_port_for_id(cp_client *client, uint64_t id);
cp_port *client_find_port(const cp_client *client, uint64_t id);
/* PortMoved: hands back the undispatched messages for the port, then
 * releases it.  Returns 0 or CP_ERR_NETWORK / CP_ERR_NO_MEMORY. */
int client_port_moved(cp_client *client, uint64_t id);
/* DataCloneError when a port in moved belongs to another client: a handle
 * is only good on the connection that owns the port.  Checked before
 * anything moves. */
struct ValueTransfer;
int transfer_check_owner(const struct ValueTransfer *moved, const cp_client *client);
/* value_transfer_finish(), and when sent, the ports marked transferred,
 * their callbacks cleared (a port that comes back is a new port, not
 * started). */
void transfer_finish(struct ValueTransfer *moved, bool sent);
/* True when the port may be transferred or posted on. */
bool port_is_open(const cp_port *port);
cp_port *port_free(cp_port *port);

/* window.c */
cp_window *client_find_window(const cp_client *client, uint64_t id);
cp_window *window_free(cp_window *window);
/* CP_ERR_INVALID_STATE (naming why) for a window that was not registered
 * again after a reconnection; 0 otherwise. */
int window_check_registered(const cp_window *window);
/* A new window handle of client, listed, for a window the broker has
 * given it: id, url, name (NULL or ""), serialized origin, document and
 * generation.  Returns 0 or CP_ERR_NO_MEMORY. */
int window_new(cp_client *client, uint64_t id, const char *url, const char *name, const char *origin,
	       uint64_t document, uint64_t generation, bool privileged, cp_window **ret);
/* The window's document changed (its own navigation, or WindowNavigated):
 * url, serialized origin, generation and Window object.  With a new
 * Window, its ports and BroadcastChannels close.  Returns 0 or
 * CP_ERR_NO_MEMORY (the window is unchanged). */
int window_set_document(cp_window *window, const char *url, const char *origin, uint64_t generation,
			uint64_t document);
/* The window is gone at the broker (WindowClosed): it is closed here. */
void window_set_closed(cp_window *window);

/* context.c */
/* A WindowNavigated or WindowClosed notice, as it arrives (in order with
 * the events around it). */
void context_take_notice(cp_client *client, const Crosspost__Header *header);

/* port.c (browsing contexts) */
/* A port arrived with ev: it belongs to the Window the event is for. */
void port_bind_to_event(cp_port *port, const cp_client *client, const Crosspost__Event *ev);
/* window_id has Window object keep_document now (0: it closed): its
 * ports of other Window objects are closed here (the broker closed them). */
void ports_window_changed(cp_client *client, uint64_t window_id, uint64_t keep_document);
/* Frames and writes a PortPost of bytes already serialized, as
 * post_encoded() does for windows (`send-corrupt` in scenarios).  Takes
 * bytes.  Errors as cp_port_post_message(). */
int port_post_encoded(cp_port *port, uint8_t *bytes, size_t length);

/* broadcast.c */
cp_broadcast *client_find_broadcast(const cp_client *client, uint64_t id);
cp_broadcast *broadcast_free(cp_broadcast *broadcast);
/* The BroadcastChannels of window_id's other Window objects close. */
void broadcasts_window_changed(cp_client *client, uint64_t window_id, uint64_t keep_document);


/* monitor.c */
/* Runs the monitor callback for a MonitorEvent frame (takes it).  False
 * when there is no callback. */
bool monitor_deliver(cp_client *client, Frame *frame);

/* loop.c */
/* Tells an attached libevent loop that work is waiting. */
void loop_kick(cp_client *client);
/* The client has a new connection (reconnect.c): an attached libevent
 * loop watches its descriptor from now on. */
void loop_connection_changed(cp_client *client);
/* CLOCK_MONOTONIC in milliseconds. */
int64_t loop_now_ms(void);
/* Blocks until deadline (loop_now_ms() time), reading (not dispatching)
 * whatever arrives meanwhile and writing pending output, as blocking
 * requests do: events are queued, PortMoved is answered.  Returns 0 once
 * the deadline passed, or CP_ERR_NETWORK. */
int loop_idle_until(cp_client *client, int64_t deadline);

/* reconnect.c */
/* The connection is gone (why: for messages).  Without reconnection the
 * client stays broken, as it always did; with it, attempts begin and a
 * CP_RECONNECT_LOST notice is queued behind the events received so far.
 * Records no error message: client_fail() does. */
void client_mark_lost(cp_client *client, const char *why);
/* For a broken client: records and returns the error of a call that needs
 * the broker (CP_ERR_NETWORK: "the broker is away; reconnecting ...", or
 * lost for good). */
int client_lost_error(cp_client *client);
/* 0 when the client is connected, after a reconnection attempt if one is
 * due; else client_lost_error().  What every call that needs the broker
 * checks first. */
int client_connected(cp_client *client);
/* True while the connection is down and reconnection is under way. */
bool reconnect_away(const cp_client *client);
/* Makes a reconnection attempt when one is due (dispatching calls). */
void reconnect_attempt_if_due(cp_client *client);
/* When the next attempt is due (loop_now_ms() time), or -1: none. */
int64_t reconnect_next_attempt(const cp_client *client);
/* Runs the reconnect callback for queued notices whose place among the
 * events has come: called by client_dispatch_events() before each event
 * it takes from the client's queue (reconnect_event_taken() after), and
 * with queue_empty once the queue is empty. */
void reconnect_deliver(cp_client *client, bool queue_empty);
void reconnect_event_taken(cp_client *client);
/* True when notices wait for delivery. */
bool reconnect_has_notices(const cp_client *client);
/* The window is being closed by the program: notices about it go. */
void reconnect_window_closed(cp_client *client, const cp_window *window);
/* Frees the reconnection state (cp_client_free()). */
void reconnect_free(cp_client *client);

#endif
