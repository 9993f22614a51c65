/* SPDX-License-Identifier: MIT */
/*
 * crosspost.h - libcrosspost, window.postMessage between OS processes.
 *
 * A process connects to the broker (crosspostd) with cp_client_new(), opens
 * one or more windows with cp_window_open() (each has a URL and so an
 * origin), and posts structured-clone values to other windows with
 * cp_post_message().  The broker checks targetOrigin and stamps every
 * delivered event with the sender's origin and a reference to the sender
 * window; a client cannot forge either.
 *
 * Conventions, for every function below:
 *  - Functions that can fail return int: 0 (or a count) on success, a
 *    negative CP_ERR_* code on failure.  cp_error_name() turns a code into
 *    its DOMException-style name ("SyntaxError", ...), and
 *    cp_last_error_message() gives the message of the last failure in the
 *    calling thread.
 *  - Output parameters are named ret* and come last; they are left
 *    untouched when the function fails.
 *  - "Borrowed" results belong to the object they came from and stay valid
 *    as long as it does; do not free them.
 *  - Destructors accept NULL and return NULL.
 *  - A cp_client and everything obtained from it are used from one thread.
 */
#ifndef CROSSPOST_H
#define CROSSPOST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ---------------------------------------------------------------------- */
/* Errors                                                                  */
/* ---------------------------------------------------------------------- */

enum {
	CP_OK = 0,
	CP_ERR_SYNTAX = -1,            /* SyntaxError: a URL or targetOrigin that does not parse */
	CP_ERR_NOT_FOUND = -2,         /* NotFoundError: no such window (never existed / no such name) */
	CP_ERR_DATA_CLONE = -3,        /* DataCloneError: a value that cannot be serialized */
	CP_ERR_INVALID_STATE = -4,     /* InvalidStateError: object closed, detached or not usable now */
	CP_ERR_TYPE = -5,              /* TypeError: an argument of the wrong kind (NULL, bad flags) */
	CP_ERR_NETWORK = -6,           /* NetworkError: broker unreachable or connection lost */
	CP_ERR_TIMEOUT = -7,           /* TimeoutError: a wait ran out */
	CP_ERR_NOT_SUPPORTED = -8,     /* NotSupportedError: protocol version mismatch */
	CP_ERR_CONSTRAINT = -9,        /* ConstraintError: a window name already in use */
	CP_ERR_NO_MEMORY = -10,        /* QuotaExceededError: out of memory or over a size limit */
	CP_ERR_DATA = -11,             /* DataError: a payload that cannot be deserialized */
};

/* The DOMException-style name of a CP_ERR_* code ("SyntaxError", ...);
 * a static string, "UnknownError" for codes not listed above. */
const char *cp_error_name(int code);

/* The message of the last failed call in this thread (borrowed, thread-local,
 * overwritten by the next failure); "" when none. */
const char *cp_last_error_message(void);

/* ---------------------------------------------------------------------- */
/* Values: structured-clone data                                          */
/* ---------------------------------------------------------------------- */
/* BEGIN values (owned by client/value*.c; see docs/values.md) */

/* A value graph.  Container nodes (arrays, objects, maps, sets, ...) hold
 * references to other nodes; a node may be referenced from several places
 * (a shared reference) or from inside itself (a cycle), and the graph keeps
 * that shape when posted.  Ownership: a node created by cp_value_new_*()
 * belongs to the caller until it is inserted into a container, after which
 * it belongs to the container's graph; freeing the root with
 * cp_value_free() frees every node reachable from it. */
typedef struct cp_value cp_value;

/* Tagged JSON (see docs/values.md and ../shared/design/scenario-format.md)
 * to a value.  Parses one JSON value starting at text[0]; trailing white
 * space is allowed, anything else after the value is an error unless
 * ret_end is non-NULL, in which case *ret_end receives the offset just past
 * the value.  *ret belongs to the caller.  Errors: CP_ERR_SYNTAX (bad JSON
 * or bad tag; cp_last_error_message() says where), CP_ERR_NO_MEMORY. */
int cp_value_from_json(const char *text, size_t len, size_t *ret_end, cp_value **ret);

/* A value as compact tagged JSON, NUL-terminated, malloc'd: the caller frees
 * it with free().  NULL on allocation failure. */
char *cp_value_to_json(const cp_value *value);

/* Structured equality as defined by the scenario format: same types and
 * contents, object/map key order significant, NaN equals NaN, 0 and -0
 * differ, and the same shape of shared references and cycles. */
bool cp_value_equal(const cp_value *a, const cp_value *b);

/* A deep copy that keeps the graph's shape; NULL on allocation failure. */
cp_value *cp_value_clone(const cp_value *value);

/* Frees value and every node reachable from it.  Returns NULL. */
cp_value *cp_value_free(cp_value *value);

/* END values */

/* ---------------------------------------------------------------------- */
/* Connection                                                              */
/* ---------------------------------------------------------------------- */

typedef struct cp_client cp_client;
typedef struct cp_window cp_window;
typedef struct cp_event cp_event;

/* Connects to the broker at socket_path, or, when socket_path is NULL, at
 * $CROSSPOST_SOCKET, else $XDG_RUNTIME_DIR/crosspost/broker.sock, else
 * /tmp/crosspost-$UID/broker.sock, and performs the versioned handshake.
 * *ret belongs to the caller (cp_client_free()).  Errors: CP_ERR_NETWORK
 * (no broker there), CP_ERR_NOT_SUPPORTED (the broker speaks another
 * protocol version), CP_ERR_NO_MEMORY. */
int cp_client_new(const char *socket_path, cp_client **ret);

/* Disconnects and frees the client and every window it still has open;
 * window handles obtained from it become invalid.  Returns NULL. */
cp_client *cp_client_free(cp_client *client);

/* The socket path this client is connected to (borrowed). */
const char *cp_client_socket_path(const cp_client *client);

/* The path cp_client_new(NULL, ...) would use; malloc'd, caller frees.
 * NULL when out of memory. */
char *cp_default_socket_path(void);

/* ---------------------------------------------------------------------- */
/* Windows                                                                 */
/* ---------------------------------------------------------------------- */

/* Registers a new window whose document is at url, named name (NULL for no
 * name; unique among the broker's live windows).  Returns once the broker
 * has confirmed, so a message posted to the window afterwards is never
 * lost.  The handle belongs to the client; cp_window_close() releases it
 * early.  Errors: CP_ERR_SYNTAX (url does not parse), CP_ERR_CONSTRAINT
 * (name taken), CP_ERR_NETWORK, CP_ERR_NO_MEMORY. */
int cp_window_open(cp_client *client, const char *url, const char *name, cp_window **ret);

/* Flags for cp_window_open_with_flags(). */
enum {
	/* An extension-like window: events it sends carry source = null. */
	CP_WINDOW_PRIVILEGED = 1u << 0,
};
int cp_window_open_with_flags(cp_client *client, const char *url, const char *name,
			      unsigned flags, cp_window **ret);

/* Closes the window at the broker and frees the handle: later posts to it
 * are silently dropped.  Accepts NULL.  Errors: CP_ERR_NETWORK (the handle
 * is freed anyway). */
int cp_window_close(cp_window *window);

/* Navigates the window to url: from now on its origin is url's origin, and
 * messages not yet dispatched to it are checked against the new origin.
 * Errors: CP_ERR_SYNTAX, CP_ERR_NETWORK. */
int cp_window_navigate(cp_window *window, const char *url);

/* The broker-assigned id (never 0, never reused while the broker runs). */
uint64_t cp_window_id(const cp_window *window);
/* The window's name, or NULL (borrowed). */
const char *cp_window_name(const cp_window *window);
/* The window's current URL (borrowed). */
const char *cp_window_url(const cp_window *window);
/* The serialized origin of the window's current URL, "null" when opaque
 * (borrowed). */
const char *cp_window_origin(const cp_window *window);
/* The client the window belongs to (borrowed). */
cp_client *cp_window_client(const cp_window *window);

/* Looks up a live window by name; *ret_id receives its id.
 * Errors: CP_ERR_NOT_FOUND, CP_ERR_NETWORK. */
int cp_client_lookup(cp_client *client, const char *name, uint64_t *ret_id);

/* One live window, as listed by the broker. */
typedef struct cp_window_info {
	uint64_t id;
	char *name;      /* NULL when the window has no name */
	char *url;
	char *origin;    /* serialized; "null" when opaque */
	int32_t pid;     /* of the process that registered it (from SO_PEERCRED) */
} cp_window_info;

/* Every live window, ordered by id.  *ret is an array of *ret_count
 * entries that the caller frees with cp_window_info_free().
 * Errors: CP_ERR_NETWORK, CP_ERR_NO_MEMORY. */
int cp_client_list_windows(cp_client *client, cp_window_info **ret, size_t *ret_count);
void cp_window_info_free(cp_window_info *infos, size_t count);

/* ---------------------------------------------------------------------- */
/* postMessage                                                             */
/* ---------------------------------------------------------------------- */

/* window.postMessage(data, targetOrigin) from window `from` to the window
 * with id `target`.  targetOrigin is "*" (any origin), "/" (from's own
 * origin) or a URL whose origin the target must have when the message is
 * dispatched; otherwise the message is dropped without telling anyone, as
 * in the HTML Standard.  data is serialized before returning and stays the
 * caller's.  The post is queued and sent without waiting for the broker;
 * errors the broker finds (a target id that never existed) are reported by
 * the next cp_client_sync().
 * Errors: CP_ERR_SYNTAX (targetOrigin does not parse), CP_ERR_DATA_CLONE,
 * CP_ERR_INVALID_STATE (from is closed), CP_ERR_NETWORK. */
int cp_post_message(cp_window *from, uint64_t target, const cp_value *data,
		    const char *target_origin);

/* Waits until the broker has handled every request this client sent so far.
 * Returns 0, or the error of the first post that failed at the broker since
 * the previous sync (CP_ERR_NOT_FOUND for a target that never existed).
 * Events that arrive meanwhile are kept for the next dispatch.
 * Errors also: CP_ERR_NETWORK, CP_ERR_TIMEOUT (timeout_ms < 0: no limit). */
int cp_client_sync(cp_client *client, int timeout_ms);

/* ---------------------------------------------------------------------- */
/* Events                                                                  */
/* ---------------------------------------------------------------------- */

typedef enum cp_event_type {
	CP_EVENT_MESSAGE = 1,       /* "message" */
	CP_EVENT_MESSAGEERROR = 2,  /* "messageerror": the data could not be deserialized */
} cp_event_type;

/* Called once per event for the window it was delivered to.  ev and
 * everything borrowed from it are valid only during the call. */
typedef void (*cp_event_callback)(cp_window *window, const cp_event *ev, void *userdata);

/* Sets the callback for events delivered to window (NULL: events are
 * discarded).  Events already received are kept until a callback is set. */
void cp_window_set_callback(cp_window *window, cp_event_callback cb, void *userdata);

cp_event_type cp_event_get_type(const cp_event *ev);
/* "message" or "messageerror" (static). */
const char *cp_event_type_name(const cp_event *ev);
/* The data (borrowed); NULL for messageerror. */
const cp_value *cp_event_data(const cp_event *ev);
/* Takes the data out of the event: the caller owns and frees it; later
 * cp_event_data() calls return NULL.  NULL for messageerror. */
cp_value *cp_event_take_data(const cp_event *ev);
/* The sender's origin, serialized when it posted, stamped by the broker
 * (borrowed). */
const char *cp_event_origin(const cp_event *ev);
/* The sender window's id, usable as a cp_post_message() target; 0 when the
 * source is null (a privileged sender). */
uint64_t cp_event_source_id(const cp_event *ev);
/* The sender window's name, or NULL (borrowed). */
const char *cp_event_source_name(const cp_event *ev);

/* ---------------------------------------------------------------------- */
/* Event-loop integration                                                  */
/* ---------------------------------------------------------------------- */

/* The connection's file descriptor, to watch for readability in poll/epoll.
 * Do not read from or write to it. */
int cp_client_fd(const cp_client *client);

/* Reads whatever the broker sent without blocking, flushes pending output,
 * and runs callbacks for every complete event (including events buffered by
 * an earlier blocking call).  Returns the number of events dispatched.
 * Errors: CP_ERR_NETWORK (the broker closed the connection). */
int cp_client_dispatch(cp_client *client);

/* True when cp_client_dispatch() has work without the fd being readable:
 * events buffered during a blocking call, or output waiting to be written
 * (then also watch the fd for writability). */
bool cp_client_has_pending(const cp_client *client);

/* Blocks until at least one event was dispatched or timeout_ms passed
 * (timeout_ms < 0: no limit).  Returns the number of events dispatched.
 * Errors: CP_ERR_TIMEOUT, CP_ERR_NETWORK. */
int cp_client_wait(cp_client *client, int timeout_ms);

struct event_base;
/* Lets a libevent loop drive the client: events are dispatched from base's
 * loop until cp_client_detach_event_base() or cp_client_free().
 * Errors: CP_ERR_INVALID_STATE (already attached), CP_ERR_NO_MEMORY. */
int cp_client_attach_event_base(cp_client *client, struct event_base *base);
void cp_client_detach_event_base(cp_client *client);

#ifdef __cplusplus
}
#endif

#endif /* CROSSPOST_H */
