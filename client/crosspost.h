/* SPDX-License-Identifier: MIT */
/*
 * crosspost.h - libcrosspost, window.postMessage between OS processes.
 *
 * A process connects to the broker (crosspostd) with cp_client_new(), opens
 * one or more windows with cp_window_open() (each has a URL and so an
 * origin), and posts structured-clone values to other windows with
 * cp_post_message().  The broker checks targetOrigin and stamps every
 * delivered event with the sender's origin and a reference to the sender
 * window; a client cannot forge either.  Windows are browsing contexts:
 * a window can open others (cp_window_open_window()) and insert iframes
 * (cp_iframe_new()), and the broker keeps opener, parent, top and frames
 * for every client ("Browsing contexts" below).
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
/* Version                                                                 */
/* ---------------------------------------------------------------------- */

/* The version of this header.  These three lines are the one place the
 * version is written: the build reads them for the library, both programs'
 * --version and crosspost.pc. */
#define CP_VERSION_MAJOR 0
#define CP_VERSION_MINOR 2
#define CP_VERSION_PATCH 0

/* The version of the library actually linked, "MAJOR.MINOR.PATCH" (static);
 * compare with the CP_VERSION_* macros of the header compiled against. */
const char *cp_version(void);

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
	CP_ERR_NO_MEMORY = -10,        /* QuotaExceededError: out of memory, or a broker limit: */
	CP_ERR_QUOTA = CP_ERR_NO_MEMORY, /* windows, ports or connections (docs/security.md) */
	CP_ERR_DATA = -11,             /* DataError: a payload that cannot be deserialized */
	CP_ERR_RANGE = -12,            /* RangeError: an argument over a documented size limit
	                                * (CP_URL_MAX, CP_NAME_MAX, CP_TARGET_ORIGIN_MAX) */
	CP_ERR_SECURITY = -13,         /* SecurityError: the broker's policy forbids it, or the
	                                * broker runs as another user (docs/security.md) */
};

/* The DOMException-style name of a CP_ERR_* code ("SyntaxError", ...);
 * a static string, "UnknownError" for codes not listed above. */
const char *cp_error_name(int code);

/* The message of the last failed call in this thread (borrowed, thread-local,
 * overwritten by the next failure); "" when none. */
const char *cp_last_error_message(void);

/* Size limits, in bytes (the terminating NUL not counted), on the strings
 * that travel in a frame's header.  An argument over one fails with
 * CP_ERR_RANGE before anything is sent, and the message names the limit.
 * Together they keep every header the broker builds (an event carries the
 * sender's origin, its name and the targetOrigin) within the protocol's
 * 64 KiB header limit. */
#define CP_URL_MAX 8192            /* a window's URL, and the serialized origin of it
                                    * (RFC 9110 asks for at least 8000 octets) */
#define CP_NAME_MAX 1024           /* a window's name */
#define CP_TARGET_ORIGIN_MAX 8192  /* a targetOrigin, and the serialized origin it names */

/* ---------------------------------------------------------------------- */
/* Values: structured-clone data                                          */
/* ---------------------------------------------------------------------- */
/* BEGIN values (owned by value/value*.c; see docs/values.md) */

/* A value graph.  Container nodes (arrays, objects, maps, sets, ...) hold
 * references to other nodes; a node may be referenced from several places
 * (a shared reference) or from inside itself (a cycle), and the graph keeps
 * that shape when posted.  Ownership: a node created by cp_value_new_*()
 * belongs to the caller until it is inserted into a container, after which
 * it belongs to the container's graph; freeing the root with
 * cp_value_free() frees every node reachable from it.  Insertion functions
 * take ownership on success only: when they fail, nothing changed.
 *
 * Primitives (undefined, null, booleans, numbers, bigints, strings) have no
 * identity, as in JavaScript: equality compares them by content, and
 * whether two places share one primitive node is not part of the shape.
 * Every other type is an object with identity.
 *
 * Strings are sequences of UTF-16 code units, lone surrogates included.
 * The C API speaks WTF-8: UTF-8 in which a lone surrogate is encoded like a
 * code point (ED A0..BF xx); a well-formed string is plain UTF-8.  UTF-16
 * accessors exist as well.  Lengths are in bytes unless said otherwise.
 *
 * Inspectors called on a node of another type return 0, false or NULL. */
typedef struct cp_value cp_value;
/* A MessagePort handle: cp_port, declared in "MessageChannel, MessagePort
 * and transfer" below. */
struct cp_port;

typedef enum cp_value_type {
	CP_VALUE_UNDEFINED = 1,
	CP_VALUE_NULL = 2,
	CP_VALUE_BOOLEAN = 3,
	CP_VALUE_NUMBER = 4,
	CP_VALUE_BIGINT = 5,
	CP_VALUE_STRING = 6,
	CP_VALUE_BOOLEAN_OBJECT = 7,   /* new Boolean(b) */
	CP_VALUE_NUMBER_OBJECT = 8,    /* new Number(n) */
	CP_VALUE_BIGINT_OBJECT = 9,    /* Object(1n) */
	CP_VALUE_STRING_OBJECT = 10,   /* new String(s) */
	CP_VALUE_DATE = 11,
	CP_VALUE_REGEXP = 12,
	CP_VALUE_ARRAY_BUFFER = 13,
	CP_VALUE_VIEW = 14,            /* a typed array or DataView; see cp_view_kind */
	CP_VALUE_MAP = 15,
	CP_VALUE_SET = 16,
	CP_VALUE_ARRAY = 17,
	CP_VALUE_OBJECT = 18,
	CP_VALUE_ERROR = 19,
	/* A stand-in for something structured clone refuses (a function, a DOM
	 * node, ...): it can be built, compared, cloned and printed, but
	 * posting it fails with CP_ERR_DATA_CLONE. */
	CP_VALUE_HOST_OBJECT = 20,
	/* A MessagePort (cp_value_new_port()).  It can only be transferred:
	 * posting data that holds one fails with CP_ERR_DATA_CLONE unless the
	 * port is also in the transfer list. */
	CP_VALUE_PORT = 21,
} cp_value_type;

typedef enum cp_view_kind {
	CP_VIEW_INT8 = 1,
	CP_VIEW_UINT8 = 2,
	CP_VIEW_UINT8_CLAMPED = 3,
	CP_VIEW_INT16 = 4,
	CP_VIEW_UINT16 = 5,
	CP_VIEW_INT32 = 6,
	CP_VIEW_UINT32 = 7,
	CP_VIEW_FLOAT16 = 8,
	CP_VIEW_FLOAT32 = 9,
	CP_VIEW_FLOAT64 = 10,
	CP_VIEW_BIGINT64 = 11,
	CP_VIEW_BIGUINT64 = 12,
	CP_VIEW_DATA_VIEW = 13,
} cp_view_kind;

/* -- building -------------------------------------------------------- */
/* Each cp_value_new_*() stores a new node in *ret, which belongs to the
 * caller.  Errors: CP_ERR_NO_MEMORY, and CP_ERR_TYPE for bad arguments as
 * listed. */
int cp_value_new_undefined(cp_value **ret);
int cp_value_new_null(cp_value **ret);
int cp_value_new_boolean(bool b, cp_value **ret);
int cp_value_new_number(double d, cp_value **ret);
/* A BigInt from decimal text: an optional '-' and at least one digit.
 * Errors: CP_ERR_SYNTAX (not such text). */
int cp_value_new_bigint(const char *decimal, size_t len, cp_value **ret);
int cp_value_new_bigint_int64(int64_t v, cp_value **ret);
/* A BigInt from its sign and magnitude (little-endian bytes; leading zero
 * bytes are fine). */
int cp_value_new_bigint_bytes(bool negative, const uint8_t *magnitude, size_t len,
			      cp_value **ret);
/* A string from NUL-terminated / len-byte WTF-8 (CP_ERR_TYPE when it is
 * not WTF-8), or from UTF-16 code units (any units are fine). */
int cp_value_new_string(const char *wtf8, cp_value **ret);
int cp_value_new_string_len(const char *wtf8, size_t len, cp_value **ret);
int cp_value_new_string_utf16(const uint16_t *units, size_t count, cp_value **ret);
/* A Boolean, Number, BigInt or String object wrapping a copy of the
 * primitive (which stays the caller's).  CP_ERR_TYPE for other types. */
int cp_value_new_wrapper(const cp_value *primitive, cp_value **ret);
/* A Date; ms is TimeClip'ed as by new Date(ms): non-finite or beyond
 * +-8.64e15 gives NaN (an invalid date), fractions are truncated. */
int cp_value_new_date(double ms, cp_value **ret);
/* A RegExp.  flags: NULL or any of "dgimsuvy", each once, not both u and v
 * (CP_ERR_SYNTAX otherwise); kept in canonical order.  The source is not
 * checked against the pattern grammar. */
int cp_value_new_regexp(const char *source_wtf8, const char *flags, cp_value **ret);
/* An ArrayBuffer of len bytes copied from data (zero-filled when data is
 * NULL).  From 64 KiB on, the bytes live in a memfd, so that transferring
 * the buffer later copies nothing (docs/values.md, "Transfer"); smaller
 * ones, or when no descriptor can be had, in malloc'd memory. */
int cp_value_new_array_buffer(const void *data, size_t len, cp_value **ret);
/* An ArrayBuffer that takes data (malloc'd, len bytes) on success.  The
 * block is adopted as it is, never copied here; transferring the buffer
 * copies it once, into a memfd, at that time. */
int cp_value_new_array_buffer_take(void *data, size_t len, cp_value **ret);
/* A typed array or DataView over buffer (an ArrayBuffer, which joins the
 * view's graph as a reference, like an insertion).  length counts elements
 * (bytes for a DataView).  CP_ERR_TYPE when buffer is not an ArrayBuffer,
 * byte_offset is not a multiple of the element size, or the range does not
 * fit in the buffer. */
int cp_value_new_view(cp_view_kind kind, cp_value *buffer, size_t byte_offset, size_t length,
		      cp_value **ret);
int cp_value_new_array(cp_value **ret);
int cp_value_new_object(cp_value **ret);
int cp_value_new_map(cp_value **ret);
int cp_value_new_set(cp_value **ret);
/* An Error.  name: one of Error, EvalError, RangeError, ReferenceError,
 * SyntaxError, TypeError, URIError; anything else (or NULL) becomes
 * "Error", as the HTML Standard's serialization does.  message, stack:
 * WTF-8 or NULL for none. */
int cp_value_new_error(const char *name, const char *message, const char *stack,
		       cp_value **ret);
/* A host object (see CP_VALUE_HOST_OBJECT); description (WTF-8, e.g.
 * "function f") names it in messages. */
int cp_value_new_host_object(const char *description, cp_value **ret);
/* A MessagePort value standing for port, to put in data and in a transfer
 * list.  The node borrows the handle (it belongs to the client; freeing
 * the node leaves the port alone).  Nodes of one port are one object: they
 * compare equal and travel as one.  Errors: CP_ERR_TYPE (port is NULL). */
int cp_value_new_port(struct cp_port *port, cp_value **ret);

/* -- filling containers ---------------------------------------------- */
/* Inserting never replaces: an existing key, index or member fails with
 * CP_ERR_CONSTRAINT.  Every insertion takes ownership of the inserted node
 * on success (a node that is already in the graph just gains a reference:
 * that is how shared references and cycles are built).
 * Errors also: CP_ERR_TYPE (container of another type), CP_ERR_NO_MEMORY. */

/* Sets own property key (WTF-8) of an object or an array.  As in
 * JavaScript, keys that are array indices ("0".."4294967294") come first
 * in ascending order, other keys follow in insertion order; on an array an
 * index key sets that element, and "length" is refused (CP_ERR_TYPE). */
int cp_value_object_set(cp_value *object, const char *key, cp_value *value);
int cp_value_object_set_len(cp_value *object, const char *key, size_t key_len, cp_value *value);
/* array[array.length] = item. */
int cp_value_array_push(cp_value *array, cp_value *item);
/* array[index] = item, index <= 4294967294; length grows past index.
 * Indices never set are holes (a sparse array). */
int cp_value_array_set(cp_value *array, uint32_t index, cp_value *item);
/* Grows array.length (trailing holes); CP_ERR_CONSTRAINT when shorter. */
int cp_value_array_set_length(cp_value *array, uint32_t length);
/* map.set(key, value); keys compare with SameValueZero (NaN equals NaN, 0
 * equals -0; objects by identity). */
int cp_value_map_set(cp_value *map, cp_value *key, cp_value *value);
/* set.add(member), SameValueZero as for map keys. */
int cp_value_set_add(cp_value *set, cp_value *member);

/* -- inspecting ------------------------------------------------------ */
cp_value_type cp_value_get_type(const cp_value *value);
/* "undefined", "null", "boolean", "number", "bigint", "string", "Boolean",
 * "Number", "BigInt", "String", "Date", "RegExp", "ArrayBuffer", the view
 * kind's name ("Uint8Array", "DataView", ...), "Map", "Set", "Array",
 * "Object", "Error", "HostObject", "MessagePort" (static). */
const char *cp_value_type_name(const cp_value *value);
/* Boolean of a boolean or Boolean object. */
bool cp_value_get_boolean(const cp_value *value);
/* Number of a number, Number object or Date (NaN for others). */
double cp_value_get_number(const cp_value *value);
/* WTF-8 of a string or String object: NUL-terminated (the string may hold
 * NULs too: use *ret_len), borrowed. */
const char *cp_value_get_string(const cp_value *value, size_t *ret_len);
/* False when the string holds a lone surrogate (so its WTF-8 is not UTF-8). */
bool cp_value_string_is_well_formed(const cp_value *value);
size_t cp_value_string_utf16_length(const cp_value *value);
/* The UTF-16 code units, malloc'd (caller frees), *ret_count of them.
 * Errors: CP_ERR_TYPE, CP_ERR_NO_MEMORY. */
int cp_value_string_utf16(const cp_value *value, uint16_t **ret_units, size_t *ret_count);
/* A bigint or BigInt object: its decimal text, malloc'd (caller frees);
 * NULL on allocation failure or another type. */
char *cp_value_bigint_to_string(const cp_value *value);
/* Its magnitude, little-endian, no trailing zero byte (zero is empty),
 * borrowed; *ret_negative gets the sign. */
const uint8_t *cp_value_bigint_magnitude(const cp_value *value, bool *ret_negative,
					 size_t *ret_len);
/* CP_ERR_TYPE when not a bigint or it does not fit. */
int cp_value_bigint_to_int64(const cp_value *value, int64_t *ret);
/* RegExp source (WTF-8, borrowed) and flags (canonical order, borrowed). */
const char *cp_value_regexp_source(const cp_value *value, size_t *ret_len);
const char *cp_value_regexp_flags(const cp_value *value);
/* ArrayBuffer bytes, borrowed; writable through the non-const variant.
 * Valid until the buffer is freed or transferred (detached).  Read with the
 * const variant when not writing: a received buffer that was never handed
 * out writable is passed on by a later transfer without copying.  A
 * detached buffer has no bytes: NULL, length 0. */
const uint8_t *cp_value_array_buffer_data(const cp_value *value, size_t *ret_len);
uint8_t *cp_value_array_buffer_data_mut(cp_value *value, size_t *ret_len);
/* True when the ArrayBuffer was transferred away (its byteLength is 0,
 * views on it have length 0, and posting or transferring it again fails
 * with CP_ERR_DATA_CLONE). */
bool cp_value_array_buffer_is_detached(const cp_value *value);
/* Views.  On a detached buffer, offset and lengths are 0 (as the HTML
 * Standard's getters answer). */
cp_view_kind cp_value_view_kind(const cp_value *value);
const cp_value *cp_value_view_buffer(const cp_value *value);
size_t cp_value_view_byte_offset(const cp_value *value);
size_t cp_value_view_length(const cp_value *value);        /* elements (bytes for DataView) */
size_t cp_value_view_byte_length(const cp_value *value);
/* "Int8Array", ..., "DataView" (static; NULL for an unknown kind), and the
 * element size in bytes (1 for DataView; 0 for an unknown kind). */
const char *cp_view_kind_name(cp_view_kind kind);
size_t cp_view_kind_element_size(cp_view_kind kind);
/* Arrays: array.length; the element at index (NULL for a hole); and the
 * elements that exist, in index order: the i-th of cp_value_array_count()
 * with its index.  Named properties are read with the object functions. */
uint32_t cp_value_array_length(const cp_value *array);
const cp_value *cp_value_array_get(const cp_value *array, uint32_t index);
size_t cp_value_array_count(const cp_value *array);
const cp_value *cp_value_array_element(const cp_value *array, size_t i, uint32_t *ret_index);
/* Objects (and an array's named, non-index properties): own properties in
 * order; key i (WTF-8, borrowed) and value i; lookup by key (NULL when
 * absent). */
size_t cp_value_object_count(const cp_value *object);
const char *cp_value_object_key(const cp_value *object, size_t i, size_t *ret_len);
const cp_value *cp_value_object_value(const cp_value *object, size_t i);
const cp_value *cp_value_object_get(const cp_value *object, const char *key);
/* Maps and sets, in insertion order; lookup with SameValueZero. */
size_t cp_value_map_count(const cp_value *map);
const cp_value *cp_value_map_key(const cp_value *map, size_t i);
const cp_value *cp_value_map_value(const cp_value *map, size_t i);
const cp_value *cp_value_map_get(const cp_value *map, const cp_value *key);
size_t cp_value_set_count(const cp_value *set);
const cp_value *cp_value_set_member(const cp_value *set, size_t i);
bool cp_value_set_has(const cp_value *set, const cp_value *member);
/* Errors: the name (static), message and stack (WTF-8, borrowed; NULL when
 * absent). */
const char *cp_value_error_name(const cp_value *value);
const char *cp_value_error_message(const cp_value *value, size_t *ret_len);
const char *cp_value_error_stack(const cp_value *value, size_t *ret_len);
/* A host object's description (borrowed). */
const char *cp_value_host_object_description(const cp_value *value);
/* The port a MessagePort value stands for, or NULL when value is not one
 * (borrowed: the handle belongs to the client). */
struct cp_port *cp_value_port(const cp_value *value);

/* -- whole values ---------------------------------------------------- */

/* Tagged JSON (see docs/values.md)
 * to a value.  Parses one JSON value starting at text[0]; trailing white
 * space is allowed, anything else after the value is an error unless
 * ret_end is non-NULL, in which case *ret_end receives the offset just past
 * the value.  *ret belongs to the caller.  Errors: CP_ERR_SYNTAX (bad JSON
 * or bad tag; cp_last_error_message() says where), CP_ERR_NO_MEMORY. */
int cp_value_from_json(const char *text, size_t len, size_t *ret_end, cp_value **ret);

/* A value as compact tagged JSON, NUL-terminated, malloc'd: the caller frees
 * it with free().  NULL on allocation failure.  A MessagePort prints as
 * {"$port":ID} (cp_value_from_json() refuses that form: ports do not come
 * from text); a detached ArrayBuffer as an empty one. */
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
/* A WindowProxy: a reference to a window (see "Browsing contexts"). */
typedef struct cp_window_ref cp_window_ref;
/* A BroadcastChannel (see "BroadcastChannel"). */
typedef struct cp_broadcast cp_broadcast;
typedef void (*cp_broadcast_callback)(cp_broadcast *channel, const cp_event *ev, void *userdata);

/* Connects to the broker at socket_path, or, when socket_path is NULL, at
 * $CROSSPOST_SOCKET, else $XDG_RUNTIME_DIR/crosspost/broker.sock, else
 * /tmp/crosspost-$UID/broker.sock, and performs the versioned handshake.
 * *ret belongs to the caller (cp_client_free()).
 *
 * The broker must run as this process's effective uid, or as root: the
 * kernel says which uid listens on the socket (SO_PEERCRED), and a broker
 * of any other uid is refused before anything is sent to it, since it
 * could be a fake that another user put on the path.  To use a broker
 * shared by another user, set $CROSSPOST_BROKER_UID to its uid (then only
 * that uid is accepted), or to "any" to skip the check (ignored in setuid
 * programs: secure_getenv).  The broker checks the client in turn: with no
 * policy for this uid it refuses the handshake (docs/security.md).
 *
 * Errors: CP_ERR_NETWORK (no broker there), CP_ERR_SECURITY (the broker
 * runs as another uid, the message names both; a malformed
 * $CROSSPOST_BROKER_UID; or the broker's policy does not let this uid
 * connect), CP_ERR_NOT_SUPPORTED (the broker speaks another protocol
 * version), CP_ERR_NO_MEMORY. */
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
 * (name taken), CP_ERR_RANGE (url or its origin over CP_URL_MAX, name over
 * CP_NAME_MAX), CP_ERR_SECURITY (the broker's policy does not let this uid
 * register a window of that origin, that name, or a privileged one:
 * docs/security.md "Policy"), CP_ERR_NETWORK, CP_ERR_NO_MEMORY. */
int cp_window_open(cp_client *client, const char *url, const char *name, cp_window **ret);

/* Flags for cp_window_open_with_flags(). */
enum {
	/* An extension-like window: events it sends carry source = null. */
	CP_WINDOW_PRIVILEGED = 1u << 0,
};
int cp_window_open_with_flags(cp_client *client, const char *url, const char *name,
			      unsigned flags, cp_window **ret);

/* Closes the window at the broker and frees the handle: later posts to it
 * are silently dropped.  This is the host closing its window (the user
 * closing a tab), always allowed; its frames are discarded with it,
 * wherever they are hosted.  (A script's window.close() is
 * cp_window_ref_close().)  A window already closed by a script or
 * discarded (cp_window_is_closed()) is only freed.  Accepts NULL.
 * Errors: CP_ERR_NETWORK (the handle is freed anyway). */
int cp_window_close(cp_window *window);

/* Navigates the window to url: it gets a new document, whose origin is
 * url's origin; about:blank keeps the window's own origin (the initiator
 * of the navigation is the window), data: URLs get an opaque origin, and
 * a javascript: URL runs in the current document, which stays.  The old
 * document's frames are discarded.  Unless the window's initial
 * about:blank is replaced by a same-origin document (the one case the
 * HTML Standard reuses a Window object), the window gets a new Window:
 * messages posted to it before the navigation and not dispatched yet are
 * dropped, whatever their targetOrigin (that document is no longer fully
 * active), and the ports and BroadcastChannels it had close.
 * Errors: CP_ERR_SYNTAX, CP_ERR_RANGE (as for cp_window_open()),
 * CP_ERR_SECURITY (the broker's policy does not let this uid navigate to
 * that origin; the window stays where it was), CP_ERR_INVALID_STATE (the
 * window is closed), CP_ERR_NETWORK. */
int cp_window_navigate(cp_window *window, const char *url);

/* The broker-assigned id (never 0, never reused while the broker runs).
 * With reconnection, the new broker's id once the window is registered
 * again, and 0 for a window that could not be (cp_client_set_reconnect()). */
uint64_t cp_window_id(const cp_window *window);
/* The window's name, or NULL (borrowed). */
const char *cp_window_name(const cp_window *window);
/* The window's current URL (borrowed). */
const char *cp_window_url(const cp_window *window);
/* The serialized origin of the window's current document, "null" when
 * opaque (borrowed).  The broker computes it: from the URL, or inherited
 * (about:blank, about:srcdoc; see cp_window_navigate()). */
const char *cp_window_origin(const cp_window *window);
/* The client the window belongs to (borrowed). */
cp_client *cp_window_client(const cp_window *window);
/* True once the window is gone at the broker: a script closed it, or it
 * was discarded (its iframe removed, its parent or top-level window
 * closed, or nobody's).  Learnt as the library reads from the broker (any
 * call that reads: dispatch, wait, a request).  A closed window receives
 * nothing; posting from it fails with CP_ERR_INVALID_STATE; free the
 * handle with cp_window_close().  A close is not an event: it does not end
 * cp_client_wait() by itself (wait with a timeout, and look). */
bool cp_window_is_closed(const cp_window *window);

/* Looks up a live window by name; *ret_id receives its id.
 * Errors: CP_ERR_NOT_FOUND, CP_ERR_RANGE (name over CP_NAME_MAX),
 * CP_ERR_NETWORK. */
int cp_client_lookup(cp_client *client, const char *name, uint64_t *ret_id);

/* The same, also giving the window's current serialized origin ("null"
 * when opaque) in *ret_origin, malloc'd: the caller frees it.  What a
 * targetOrigin must match if the window does not navigate first.
 * Errors: as cp_client_lookup(), and CP_ERR_NO_MEMORY. */
int cp_client_lookup_window(cp_client *client, const char *name, uint64_t *ret_id, char **ret_origin);

/* Waits until a live window is named name, and stores its id in *ret_id:
 * two processes can start in any order, the one that posts waiting for the
 * other's window, with no side channel.  Returns at once when the window
 * already exists.  timeout_ms < 0: no limit; 0: look once.
 *
 * How: the library looks the name up (as cp_client_lookup()) until it is
 * found, pausing between lookups for 1 ms, then 2, 4, ... up to 50 ms,
 * so a window that appears is found within about 50 ms, and a long wait
 * costs the broker at most 20 lookups a second.  (The broker has no
 * "wait for a name" request yet; this would become one without changing
 * the call.)  The deadline is checked between lookups: a call may return
 * up to one round trip to the broker after timeout_ms.
 *
 * Like every blocking call, it never runs callbacks: events that arrive
 * meanwhile are read and queued, not lost, and dispatched by the next
 * cp_client_dispatch() or cp_client_wait().  A window that appears and
 * closes again between two lookups may be missed.
 *
 * Errors: CP_ERR_TIMEOUT (no such window within timeout_ms), CP_ERR_TYPE
 * (client, name or ret_id NULL, or name empty: no window has the empty
 * name), CP_ERR_NETWORK, and any other error of cp_client_lookup() but
 * CP_ERR_NOT_FOUND. */
int cp_client_wait_for_window(cp_client *client, const char *name, int timeout_ms,
			      uint64_t *ret_id);

/* One live window, as listed by the broker. */
typedef struct cp_window_info {
	uint64_t id;
	char *name;      /* NULL when the window has no name */
	char *url;
	char *origin;    /* serialized; "null" when opaque */
	int32_t pid;     /* of the process that hosts it (from SO_PEERCRED); 0 while pending */
	uint64_t parent_id;  /* the window it is a frame of; 0: top-level (since 0.3) */
	uint64_t opener_id;  /* its opener (maybe closed); 0: none (since 0.3) */
	bool pending;        /* opened or framed, not claimed by a process yet (since 0.3) */
} cp_window_info;

/* Every live window, ordered by id.  *ret is an array of *ret_count
 * entries that the caller frees with cp_window_info_free().  Windows of
 * other uids come with url "" and pid 0 unless the broker's policy lets
 * this uid see them in full (list-all; the broker's own uid does).
 * Errors: CP_ERR_NETWORK, CP_ERR_NO_MEMORY. */
int cp_client_list_windows(cp_client *client, cp_window_info **ret, size_t *ret_count);
void cp_window_info_free(cp_window_info *infos, size_t count);

/* The broker's counters (cp_client_broker_stats()). */
typedef struct cp_broker_stats {
	uint64_t connections;             /* connected clients */
	uint64_t windows;                 /* live windows */
	uint64_t ports;                   /* live MessagePorts */
	uint64_t bytes_held;              /* everything the broker holds for clients */
	uint64_t fds_held;                /* descriptors it holds for them */
	uint64_t messages_delivered;
	uint64_t dropped_origin_mismatch; /* targetOrigin did not match */
	uint64_t dropped_target_closed;   /* the target window had closed */
	uint64_t senders_paused;          /* a sender stopped: too much waiting at slow receivers */
	uint64_t connections_rejected;    /* closed for breaking the protocol */
	uint64_t quota_rejects;           /* requests or connections refused for a limit */
	uint64_t uptime_ms;
	uint64_t monitors;                /* connections watching (cp_client_monitor()) */
	uint64_t monitor_events_lost;     /* events monitors lost for not keeping up */
} cp_broker_stats;

/* Asks the broker for its counters (docs/security.md says what they
 * count).  Errors: CP_ERR_TYPE, CP_ERR_NETWORK. */
int cp_client_broker_stats(cp_client *client, cp_broker_stats *ret);

/* One live window's counters, as the broker keeps them.  Another uid's
 * windows show only id, name and origin unless the policy lets this uid
 * list everything (list-all). */
typedef struct cp_window_stats {
	uint64_t id;
	char *name;              /* NULL when it has none */
	char *origin;
	uint64_t posted;         /* its posts the broker accepted */
	uint64_t received;       /* messages queued for it */
	uint64_t dropped;        /* its posts the broker dropped (targetOrigin, closed, no document) */
	uint64_t bytes_posted, bytes_received;
	uint64_t queued_bytes;   /* waiting in the broker for its process to read */
	bool paused;             /* its process is not read (flow control or its uid's budget) */
} cp_window_stats;

/* Every live window's counters, ordered by id; *ret (an array of
 * *ret_count) is freed with cp_window_stats_free().  Errors: CP_ERR_TYPE,
 * CP_ERR_NETWORK, CP_ERR_NO_MEMORY. */
int cp_client_window_stats(cp_client *client, cp_window_stats **ret, size_t *ret_count);
void cp_window_stats_free(cp_window_stats *stats, size_t count);

/* What the broker routes, as it routes it (cp_client_monitor()). */
typedef enum cp_monitor_kind {
	CP_MONITOR_DELIVERED = 1,      /* a window message queued for its target */
	CP_MONITOR_DROPPED = 2,        /* a window message dropped: reason says why */
	CP_MONITOR_PORT_MESSAGE = 3,   /* a MessagePort message (port_id) */
	CP_MONITOR_BROADCAST = 4,      /* a BroadcastChannel message (port_id: the channel) */
	CP_MONITOR_WINDOW_OPENED = 5,
	CP_MONITOR_WINDOW_CLOSED = 6,  /* reason says why */
	CP_MONITOR_NAVIGATED = 7,
} cp_monitor_kind;

typedef struct cp_monitor_event {
	cp_monitor_kind kind;
	uint64_t time_us;              /* since the broker started */
	/* Messages: the sender and the target.  Lifecycle: the window, and
	 * the window that navigated it (or 0). */
	uint64_t from_id, to_id;
	const char *from_name, *from_origin, *to_name, *to_origin;   /* "" when none */
	const char *target_origin;     /* as the broker checked it */
	const char *reason;            /* DROPPED, WINDOW_CLOSED; "" otherwise */
	const char *url;               /* lifecycle: the window's URL */
	uint64_t port_id;
	uint64_t size;                 /* payload bytes */
	uint64_t lost;                 /* events this monitor lost just before this one */
	const cp_value *data;          /* with_data: the message data, else NULL */
} cp_monitor_event;

/* Called once per monitor event; ev and what it points to are valid only
 * during the call. */
typedef void (*cp_monitor_callback)(cp_client *client, const cp_monitor_event *ev, void *userdata);

/* Makes this client a monitor: from now on cb runs (from dispatch, like
 * event callbacks) for every message the broker routes and every window's
 * lifecycle, limited to those involving a window of origin (NULL: any) or
 * the window with id window_id (0: any); with_data: message events carry
 * the data.  A monitor that does not keep up loses events (counted in the
 * next one's `lost`): it never slows the windows it watches.  Allowed to
 * the broker's own uid and to uids its policy lets monitor.
 * Errors: CP_ERR_SECURITY, CP_ERR_TYPE, CP_ERR_NETWORK. */
int cp_client_monitor(cp_client *client, const char *origin, uint64_t window_id, bool with_data,
		      cp_monitor_callback cb, void *userdata);

/* ---------------------------------------------------------------------- */
/* Browsing contexts: references, window.open, iframes, relations         */
/* ---------------------------------------------------------------------- */
/*
 * Windows are browsing contexts, as in the HTML Standard, and the broker
 * keeps their relations: a window opened by another has an opener (unless
 * noopener); an iframe has a parent, and its parent's frames are ordered as
 * they were inserted; every window has a top.  Any process can ask about
 * any window, through a reference.
 *
 * A cp_window_ref is a WindowProxy: what window.open() returns, a frame's
 * contentWindow, window.opener, parent, top, frames[i], event.source.  It
 * names a window by its broker id, which is never reused, so a reference
 * stays a valid object after its window closes: cp_window_closed() says
 * true, posts to it are dropped silently, and its relations are null.
 * References returned in *ret belong to the caller, who frees them with
 * cp_window_ref_free() before freeing the client; cp_window_proxy() is
 * borrowed.  Post to a reference with cp_post_message(from,
 * cp_window_ref_id(ref), ...).
 *
 * Opening a window or an iframe creates it at once (a reference to it
 * works), but its document needs a process: the call gives a claim token,
 * which the process that will host the window presents with
 * cp_window_claim() (cp_window_spawn() starts a program with the token in
 * its environment).  Until then the window has no document, and messages
 * posted to it are dropped, as a browser's messages to a popup's initial
 * about:blank are lost when its document loads; the web's idiom applies:
 * the new window says when it is ready (a post to its opener or parent).
 * A token is good once, for a limited time (the broker's claim-timeout,
 * 30 s by default): a window nobody claims by then is discarded.
 *
 * Every call that asks the broker blocks for one round trip, and never
 * runs callbacks: events arriving meanwhile are queued.
 */

/* Flags for cp_window_open_window(). */
enum {
	/* window.open(url, target, "noopener"): the new window has no opener,
	 * and the call gives no reference (window.open() returns null); a
	 * named target is not looked up. */
	CP_OPEN_NOOPENER = 1u << 0,
};

/* The environment variable cp_window_spawn() passes the claim token in,
 * and cp_window_claim(client, NULL, ...) reads. */
#define CP_CLAIM_ENV "CROSSPOST_CLAIM"

/* window.open(url, target, features) called by a script in opener.
 * url: an absolute URL, or "" / NULL for about:blank.  target: "" / NULL
 * or "_blank" for a new window; "_self", "_parent", "_top" for the
 * opener's own window, its parent, its top; any other name for a live
 * window of that name that opener may reach (its own frame tree, or
 * another window it is familiar with, as the HTML Standard's rules for
 * choosing a navigable say), else a new window of that name.
 * An existing window chosen is navigated to url (unless url is empty),
 * and its process told; its opener becomes opener (unless noopener).
 * A new window is top-level, its opener is opener (unless
 * CP_OPEN_NOOPENER), it is script-closable, and its document's origin is
 * url's (about:blank: opener's origin, or an opaque one with noopener).
 * *ret_ref (when ret_ref is not NULL) gets the window's reference, or NULL
 * with CP_OPEN_NOOPENER.  *ret_claim_token (when not NULL) gets a malloc'd
 * claim token when a new window was created (the caller frees it; pass it
 * to cp_window_spawn() or to the process that will call
 * cp_window_claim()), or NULL when an existing window was chosen (its
 * process hosts the new document).
 * Errors: CP_ERR_TYPE (opener NULL, unknown flags), CP_ERR_SYNTAX (url
 * does not parse), CP_ERR_RANGE (url over CP_URL_MAX, target over
 * CP_NAME_MAX), CP_ERR_QUOTA (the broker's max-pending-claims: too many
 * windows this connection opened wait for a claim), CP_ERR_INVALID_STATE
 * (opener is closed), CP_ERR_NETWORK, CP_ERR_NO_MEMORY. */
int cp_window_open_window(cp_window *opener, const char *url, const char *target, unsigned flags,
			  cp_window_ref **ret_ref, char **ret_claim_token);

/* Inserts an iframe into parent's document: a new window, parent's last
 * frame (frames[cp_window_frame_count() - 1]), at url ("" / NULL:
 * about:blank; about:blank and about:srcdoc take parent's origin), named
 * name (NULL or "": no name).  The frame's document needs a process, as
 * for cp_window_open_window(): *ret_claim_token gets its claim token
 * (malloc'd, the caller frees it).  *ret_ref (when not NULL) gets the
 * frame's reference (its contentWindow).
 * Errors: CP_ERR_TYPE, CP_ERR_SYNTAX, CP_ERR_RANGE (as above),
 * CP_ERR_QUOTA (the broker's max-frame-depth, max-frames or
 * max-pending-claims), CP_ERR_INVALID_STATE (parent is closed),
 * CP_ERR_NETWORK, CP_ERR_NO_MEMORY. */
int cp_iframe_new(cp_window *parent, const char *url, const char *name, cp_window_ref **ret_ref,
		  char **ret_claim_token);

/* Removes parent's iframe whose window is frame: the frame and its own
 * frames are discarded (their processes are told: cp_window_is_closed()),
 * and parent's later frames move up.  Unlike closing a top-level window,
 * removal needs no script-closable check: parent owns the iframe element.
 * Errors: CP_ERR_NOT_FOUND (frame is not one of parent's frames, or is
 * gone already), CP_ERR_TYPE, CP_ERR_INVALID_STATE (parent is closed),
 * CP_ERR_NETWORK. */
int cp_iframe_remove(cp_window *parent, const cp_window_ref *frame);

/* Becomes the process of the window a claim token names (one that
 * cp_window_open_window() or cp_iframe_new() created): *ret is a window
 * handle of client, as cp_window_open() gives, whose URL, name, origin,
 * opener and parent the opener or parent decided.  claim_token NULL means
 * the value of $CROSSPOST_CLAIM (CP_CLAIM_ENV).  Only the broker's
 * registration policy for client's user decides whether it may host the
 * window's origin, not the opener's.
 * Errors: CP_ERR_NOT_FOUND (unknown, used or expired token; no token in
 * the environment), CP_ERR_QUOTA (max-windows-per-connection),
 * CP_ERR_SECURITY (the policy refuses), CP_ERR_TYPE, CP_ERR_NETWORK,
 * CP_ERR_NO_MEMORY. */
int cp_window_claim(cp_client *client, const char *claim_token, cp_window **ret);
/* The same with flags: CP_WINDOW_PRIVILEGED (an extension-like host: the
 * events the window sends carry source = null).  Errors as above, and
 * CP_ERR_TYPE for unknown flags. */
int cp_window_claim_with_flags(cp_client *client, const char *claim_token, unsigned flags, cp_window **ret);

/* Starts argv[0] (looked up in PATH when it has no '/') with arguments
 * argv (NULL-terminated) as the process of the window claim_token names:
 * its environment is this process's plus CROSSPOST_CLAIM=claim_token and
 * CROSSPOST_SOCKET=the client's socket, so that the program's
 * cp_client_new(NULL, ...) and cp_window_claim(client, NULL, ...) host
 * the window.  *ret_pid (when not NULL) gets its pid: reap it with
 * waitpid(); when it exits, its window closes.  Returns once the program
 * is started (not claimed).  Errors: CP_ERR_TYPE, CP_ERR_NOT_FOUND (no
 * such program), CP_ERR_NO_MEMORY, CP_ERR_INVALID_STATE (another
 * posix_spawn failure; the message says which). */
int cp_window_spawn(cp_client *client, const char *claim_token, char *const argv[], int *ret_pid);

/* The window's own WindowProxy (window.self): borrowed, valid as long as
 * the handle. */
cp_window_ref *cp_window_proxy(cp_window *window);

/* A reference to the window with broker id id (an id from an event's
 * source, a listing, another process): owned by the caller.  The id is
 * not checked here (cp_window_closed() says CP_ERR_NOT_FOUND for an id
 * never assigned).  Errors: CP_ERR_TYPE (client NULL or id 0),
 * CP_ERR_NO_MEMORY. */
int cp_window_ref_new(cp_client *client, uint64_t id, cp_window_ref **ret);
/* Frees a reference (a borrowed one, from cp_window_proxy(), is left
 * alone).  Accepts NULL; returns NULL. */
cp_window_ref *cp_window_ref_free(cp_window_ref *ref);
/* The window's broker id: the target for cp_post_message(). */
uint64_t cp_window_ref_id(const cp_window_ref *ref);

/* window.opener: the window that opened ref's window with
 * cp_window_open_window() (or last chose it by name); *ret NULL when none
 * (noopener, or not opened by a window), when that window has closed
 * since (WPT opener-closed.html), or when ref's window is closed.  Errors: CP_ERR_NOT_FOUND (an
 * id never assigned), CP_ERR_TYPE, CP_ERR_NETWORK, CP_ERR_NO_MEMORY. */
int cp_window_opener(const cp_window_ref *ref, cp_window_ref **ret);
/* window.parent: the window ref's window is a frame of, or that window
 * itself when it is top-level; NULL once it is closed.  Errors as
 * cp_window_opener(). */
int cp_window_parent(const cp_window_ref *ref, cp_window_ref **ret);
/* window.top: the top-level window of its tree (itself when top-level);
 * NULL once it is closed.  Errors as cp_window_opener(). */
int cp_window_top(const cp_window_ref *ref, cp_window_ref **ret);
/* window.length: how many frames its document has (0 once closed).
 * Errors as cp_window_opener(). */
int cp_window_frame_count(const cp_window_ref *ref, size_t *ret);
/* window.frames[index], frames in the order they were inserted; NULL
 * (undefined) when index is past the last.  Errors as cp_window_opener(). */
int cp_window_frame(const cp_window_ref *ref, size_t index, cp_window_ref **ret);
/* window.frames[name]: its first frame named name, when that frame's
 * document is same origin with ref's window (HTML: other names are not
 * exposed); NULL otherwise.  Errors as cp_window_opener(), and
 * CP_ERR_RANGE (name over CP_NAME_MAX). */
int cp_window_frame_named(const cp_window_ref *ref, const char *name, cp_window_ref **ret);
/* window.closed: *ret_closed true when ref's window was closed (by its
 * process, by a script, or discarded); true also while it is being
 * discarded.  Errors as cp_window_opener(). */
int cp_window_closed(const cp_window_ref *ref, bool *ret_closed);
/* ref.close() called by a script in by.  As the HTML Standard says, it
 * closes ref's window only when that window is top-level, script-closable
 * (opened with cp_window_open_window(), or never navigated), and by is
 * familiar with it (same origin, its opener's or an ancestor's origin,
 * or by's own top); otherwise it does nothing, without an error.
 * Returns 1 when the window is closing (closed) now, 0 when the call was
 * ignored (or the window had closed already), or an error:
 * CP_ERR_INVALID_STATE (by is closed), CP_ERR_NOT_FOUND (an id never
 * assigned), CP_ERR_TYPE, CP_ERR_NETWORK. */
int cp_window_ref_close(cp_window *by, const cp_window_ref *ref);

/* ---------------------------------------------------------------------- */
/* postMessage                                                             */
/* ---------------------------------------------------------------------- */

/* window.postMessage(data, targetOrigin) from window `from` to the window
 * with id `target`.  targetOrigin is "*" (any origin), "/" (from's own
 * origin) or a URL whose origin the target must have when the message is
 * dispatched; otherwise the message is dropped without telling anyone, as
 * in the HTML Standard.  data is serialized before returning and stays the
 * caller's.  Returns once the message is written to the broker's socket,
 * without waiting for an answer: it blocks only while the broker applies
 * flow control (a receiver is not reading), and events arriving meanwhile
 * are kept for the next dispatch.  A client in batching mode
 * (cp_client_set_batching()) only queues it.  Errors the broker finds (a
 * target id that never existed) are reported by the next cp_client_sync().
 * Errors: CP_ERR_SYNTAX (targetOrigin does not parse), CP_ERR_RANGE
 * (targetOrigin, or the origin it names, over CP_TARGET_ORIGIN_MAX),
 * CP_ERR_DATA_CLONE, CP_ERR_INVALID_STATE (from is closed), CP_ERR_NETWORK. */
int cp_post_message(cp_window *from, uint64_t target, const cp_value *data,
		    const char *target_origin);

/* Batching mode (off by default): cp_post_message() and
 * cp_port_post_message() queue their messages in the client, and one write
 * carries many of them - for a sender of many small messages, several
 * times the throughput.  A queued message is written:
 *  - as soon as 64 KiB are queued (that post then blocks while the broker
 *    applies flow control);
 *  - at once, with everything queued before it, when cp_post_message()
 *    copies an ArrayBuffer of 16 KiB or more: its bytes go to the socket
 *    from the buffer itself, so they are written before the call returns
 *    (the message stays the data as it was at the call);
 *  - by any call that waits or dispatches, on any client of the process:
 *    cp_client_wait(), cp_client_dispatch(), cp_client_sync(),
 *    cp_client_flush(), and every call that asks the broker something;
 *  - on the next turn of a libevent loop the client is attached to;
 *  - by cp_client_free(), and at exit() (not at _exit() or a crash).
 * So a batching program that posts and then blocks outside the library
 * (sleep, waitpid, its own read) calls cp_client_flush() first.  Turning
 * batching off writes what is queued.  Errors: CP_ERR_TYPE, CP_ERR_NETWORK. */
int cp_client_set_batching(cp_client *client, bool on);

/* Writes every message queued in batching mode now, blocking while the
 * broker applies flow control (events arriving meanwhile are kept for the
 * next dispatch).  Errors: CP_ERR_TYPE, CP_ERR_INVALID_STATE (after fork),
 * CP_ERR_NETWORK. */
int cp_client_flush(cp_client *client);

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
	/* "dropped": a message this window posted was dropped by the broker
	 * (only when it asked, cp_window_report_drops()); see
	 * cp_event_drop_reason(). */
	CP_EVENT_DROPPED = 3,
} cp_event_type;

/* Called once per event for the window it was delivered to.  ev and
 * everything borrowed from it are valid only during the call. */
typedef void (*cp_event_callback)(cp_window *window, const cp_event *ev, void *userdata);

/* Sets the callback for events delivered to window.  While a window has
 * no callback (NULL, the default), its events are kept, in order, and
 * dispatched once one is set. */
void cp_window_set_callback(cp_window *window, cp_event_callback cb, void *userdata);

/* Debugging aid, off by default: every message window posts that the
 * broker drops (a targetOrigin that does not match, a closed target, a
 * target nobody has claimed) comes back to window's callback as a
 * CP_EVENT_DROPPED event with the reason.  The web's silent drop stays the
 * default.  Errors: CP_ERR_TYPE, CP_ERR_NETWORK. */
int cp_window_report_drops(cp_window *window, bool on);

cp_event_type cp_event_get_type(const cp_event *ev);
/* CP_EVENT_DROPPED: why the broker dropped the message (e.g. "targetOrigin
 * 'https://a.example' does not match the target's origin
 * 'https://b.example'", borrowed), and the id of the window it was posted
 * to.  NULL and 0 for other events. */
const char *cp_event_drop_reason(const cp_event *ev);
uint64_t cp_event_dropped_target(const cp_event *ev);
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
/* event.source as a reference (a new one: the caller frees it with
 * cp_window_ref_free()); *ret NULL when the source is null (a privileged
 * sender; every port and BroadcastChannel event).  Valid after the
 * callback returns.  Errors: CP_ERR_TYPE, CP_ERR_NO_MEMORY. */
int cp_event_source(const cp_event *ev, cp_window_ref **ret);
/* event.lastEventId: "" for every event (static); postMessage,
 * MessagePort and BroadcastChannel messages never set it. */
const char *cp_event_last_event_id(const cp_event *ev);

/* ---------------------------------------------------------------------- */
/* MessageChannel, MessagePort and transfer                                */
/* ---------------------------------------------------------------------- */

/* One end of a MessageChannel.  Handles belong to the client (freed with
 * it); a transferred port's handle stays allocated but is dead (detached,
 * as the HTML Standard says): posting on it and closing it do nothing. */
typedef struct cp_port cp_port;

/* Called once per event arriving on a port; as cp_event_callback. */
typedef void (*cp_port_callback)(cp_port *port, const cp_event *ev, void *userdata);

/* new MessageChannel() in window: two entangled ports, both owned by the
 * window's client.  Errors: CP_ERR_TYPE, CP_ERR_NETWORK, CP_ERR_NO_MEMORY. */
int cp_channel_new(cp_window *window, cp_port **ret_port1, cp_port **ret_port2);

/* port.postMessage(data, transfer): to the entangled peer, wherever it
 * lives, in order; no targetOrigin (the port is the capability), and the
 * event has origin "" and a null source.  transfer lists MessagePort and
 * ArrayBuffer values (see cp_value_new_port()); after success they belong
 * to the receiver: the ports' handles are dead, the buffers detached.
 * Posting on a closed port, or on one that was transferred away (a dead
 * handle), sends nothing and returns 0, as the HTML Standard's message
 * port post message steps do (WPT Transferred_objects_unusable.sub.htm);
 * the data is still serialized and what transfer lists still moves (the
 * buffers detach, the ports close: nobody receives them).  Written (or
 * queued, in batching mode) as cp_post_message() says.
 * Errors: CP_ERR_DATA_CLONE (see cp_post_message_with_transfer(); also
 * when transfer names this port), CP_ERR_NETWORK. */
int cp_port_post_message(cp_port *port, const cp_value *data, cp_value *const *transfer,
			 size_t n_transfer);

/* window.postMessage(data, targetOrigin, transfer).  Fails with
 * CP_ERR_DATA_CLONE, before anything moves, when transfer holds the same
 * object twice, a detached buffer, a closed or transferred port, the port
 * being posted on, or a value that is not transferable; a MessagePort in
 * data must also be in transfer.  A failed post transfers nothing.  Other
 * errors as cp_post_message(). */
int cp_post_message_with_transfer(cp_window *from, uint64_t target, const cp_value *data,
				  const char *target_origin, cp_value *const *transfer,
				  size_t n_transfer);

/* port.onmessage = cb: also starts the port (HTML's implicit start), so
 * events queued since it arrived are dispatched.  NULL: queue again. */
void cp_port_set_callback(cp_port *port, cp_port_callback cb, void *userdata);

/* port.addEventListener("message", cb): sets the callback *without*
 * starting the port.  A port's message queue starts disabled: until
 * cp_port_start() (or cp_port_set_callback()), its messages wait in it,
 * in order, and move with it if it is transferred.  NULL: no callback. */
void cp_port_set_listener(cp_port *port, cp_port_callback cb, void *userdata);

/* port.start(): enables the port's message queue; what waited in it is
 * dispatched (to the callback, once there is one).  Starting a started,
 * closed or transferred port does nothing.  Errors: CP_ERR_TYPE. */
int cp_port_start(cp_port *port);

/* port.close(): its peer's messages are no longer delivered.  Closing a
 * closed port, or one that was transferred away, does nothing and returns
 * 0: close() never throws (HTML).  Errors: CP_ERR_NETWORK. */
int cp_port_close(cp_port *port);

/* The broker's id for the port (stable across transfers). */
uint64_t cp_port_id(const cp_port *port);

typedef enum cp_port_state {
	CP_PORT_OPEN = 1,         /* usable */
	CP_PORT_CLOSED = 2,       /* cp_port_close() was called */
	CP_PORT_TRANSFERRED = 3,  /* posted away: the handle is dead */
} cp_port_state;
cp_port_state cp_port_get_state(const cp_port *port);

/* The port the event arrived on, or NULL for a window's event (borrowed). */
cp_port *cp_event_port(const cp_event *ev);

/* event.ports: the ports transferred with the message, now the receiving
 * client's (borrowed array; the handles stay valid after the callback). */
size_t cp_event_ports(const cp_event *ev, cp_port *const **ret_ports);

/* ---------------------------------------------------------------------- */
/* BroadcastChannel                                                        */
/* ---------------------------------------------------------------------- */
/*
 * new BroadcastChannel(name): a message posted on a channel goes to every
 * other open channel of the same name whose window has the same origin and
 * whose top-level window has the same site (scheme and registrable domain,
 * from the Public Suffix List), as browsers partition it; never back to
 * the channel that posted it (other channels of the same name in the same
 * window do receive it), to channels in the order they were created.
 * Events have the sender's origin, a null source, no ports.  Data is
 * copied, never transferred: buffers are copied, MessagePorts refused.
 * A channel belongs to its window's Window object: a navigation to a new
 * Window, or the window's close, closes it.  Handles belong to the client
 * (freed with it).
 */

/* new BroadcastChannel(name) in window.  Errors: CP_ERR_TYPE,
 * CP_ERR_RANGE (name over CP_NAME_MAX), CP_ERR_QUOTA (the broker's
 * max-broadcasts-per-connection), CP_ERR_INVALID_STATE (window closed),
 * CP_ERR_NETWORK, CP_ERR_NO_MEMORY. */
int cp_broadcast_new(cp_window *window, const char *name, cp_broadcast **ret);

/* channel.postMessage(data): serialized now (data stays the caller's);
 * not answered by the broker.  Errors: CP_ERR_INVALID_STATE (closed, or
 * its window has closed or navigated), CP_ERR_DATA_CLONE (data holds a
 * MessagePort or a host object), CP_ERR_TYPE, CP_ERR_NETWORK. */
int cp_broadcast_post(cp_broadcast *channel, const cp_value *data);

/* channel.onmessage = cb.  While a channel has no callback, its events
 * are kept, in order, and dispatched once one is set.  NULL: keep again. */
void cp_broadcast_set_callback(cp_broadcast *channel, cp_broadcast_callback cb, void *userdata);

/* channel.close(): nothing more is delivered to it or sent from it.
 * Closing a closed channel does nothing.  Errors: CP_ERR_NETWORK. */
int cp_broadcast_close(cp_broadcast *channel);

/* The channel's name (borrowed). */
const char *cp_broadcast_name(const cp_broadcast *channel);

/* The channel an event arrived on, or NULL (borrowed). */
cp_broadcast *cp_event_broadcast(const cp_event *ev);

/* ---------------------------------------------------------------------- */
/* Event-loop integration                                                  */
/* ---------------------------------------------------------------------- */

/* The connection's file descriptor, to watch for readability in poll/epoll.
 * Do not read from or write to it, nor change its flags: it is in blocking
 * mode (O_NONBLOCK clear), so that cp_client_wait() can wait in recvmsg()
 * itself, and the library makes every other read and write non-blocking
 * per call (MSG_DONTWAIT); a loop of its own sees no difference.  With
 * reconnection on, -1 while the broker is away, and another descriptor
 * after each reconnection. */
int cp_client_fd(const cp_client *client);

/* Reads whatever the broker sent without blocking, flushes pending output,
 * and runs callbacks for every complete event (including events buffered by
 * an earlier blocking call).  Returns the number of events dispatched
 * (callbacks run; events kept for a window or port without a callback are
 * not counted here).  Events that arrived before the connection broke are
 * dispatched first; the call after reports the error.
 * Errors: CP_ERR_NETWORK (the broker closed the connection; with
 * reconnection on, only once it gave up: while reconnecting, 0). */
int cp_client_dispatch(cp_client *client);

/* True when cp_client_dispatch() has work without the fd being readable:
 * events buffered during a blocking call, or output waiting to be written
 * (then also watch the fd for writability). */
bool cp_client_has_pending(const cp_client *client);

/* Dispatches as cp_client_dispatch() does, blocking until at least one
 * event was received for this client's windows and ports, or timeout_ms
 * passed (timeout_ms < 0: no limit; 0: one pass without blocking).
 * Returns:
 *   > 0  the number of events received: dispatched to a callback, plus
 *        those kept, not dispatched, for a window or a port that has no
 *        callback yet.  A kept event counts once, when it arrives; setting
 *        a callback later dispatches it, and the call that does counts it
 *        again, as dispatched.
 *     0  timeout_ms passed and nothing was received (never when
 *        timeout_ms < 0).  Not an error: no error message is recorded.
 *   < 0  an error: CP_ERR_NETWORK (the connection is lost; events that
 *        arrived before were dispatched first.  With reconnection on,
 *        the wait goes on through the outage instead, making the attempts,
 *        and this comes only once it gave up), CP_ERR_TYPE (client NULL).
 * Events the library drops do not count and do not end the wait: for a
 * window closed meanwhile, for a window's older document (it navigated
 * since the message was posted), for a closed port or BroadcastChannel.  A signal does not end the
 * wait either.  So a loop needs no error-code comparison:
 *     while (!done)
 *             if ((r = cp_client_wait(client, 1000)) < 0)
 *                     return r;       (0: a second passed; look at the clock) */
int cp_client_wait(cp_client *client, int timeout_ms);

struct event_base;
/* Lets a libevent loop drive the client: events are dispatched from base's
 * loop until cp_client_detach_event_base() or cp_client_free().
 * Errors: CP_ERR_INVALID_STATE (already attached), CP_ERR_NO_MEMORY. */
int cp_client_attach_event_base(cp_client *client, struct event_base *base);
void cp_client_detach_event_base(cp_client *client);

/* How long a loop of its own may wait for cp_client_fd() before it calls
 * cp_client_dispatch() anyway: milliseconds until the next reconnection
 * attempt is due (see "Surviving a broker restart" below), 0 when
 * cp_client_has_pending(), -1 when only the descriptor matters. */
int cp_client_get_timeout(const cp_client *client);

/* ---------------------------------------------------------------------- */
/* Surviving a broker restart                                              */
/* ---------------------------------------------------------------------- */

/* By default a client whose connection is lost (the broker exited,
 * crashed or was restarted) stays disconnected: every later call that
 * needs the broker fails with CP_ERR_NETWORK, and the program starts
 * again with a new cp_client if it wants to.
 *
 * cp_client_set_reconnect(client, true) makes the client reconnect by
 * itself.  Once it notices the loss (end of stream or a write error, in
 * any call), it connects again to the same socket path and registers each
 * of its open windows again, with the URL navigation left it at, the same
 * name and the same flags.
 *
 * When.  An attempt is made at once, then after 10 ms, 20 ms, 40 ms, ...,
 * doubling up to 2 s between attempts (CP_RECONNECT_FIRST_DELAY_MS,
 * CP_RECONNECT_MAX_DELAY_MS), for ever unless
 * cp_client_set_reconnect_limit() says otherwise.  Attempts are made by
 * the calls that drive the client: cp_client_wait() (which, while the
 * broker is away, sleeps until the next attempt and returns no error),
 * cp_client_dispatch() (returns 0, not an error, while the broker is
 * away), an attached libevent loop (on a timer), and any call that needs
 * the broker once an attempt is due (posting, opening a window, a
 * request).  An attempt blocks for one connect, the handshake and one
 * Register per window (at most 10 s when a broker accepts but does not
 * answer).
 *
 * What survives: the cp_client, its open windows (the same handles, URLs,
 * names, flags and callbacks; cp_window_proxy() follows the new id), and
 * events received before the loss, which are dispatched to the same
 * windows.
 *
 * What does not:
 *  - window ids.  The new broker assigns new ones: cp_window_id() returns
 *    the new id once the window is registered again (the callback's
 *    CP_RECONNECT_WINDOW says when).  Peers that kept an id look the name
 *    up again.  The source ids of events received before the loss, and
 *    cp_window_ref handles the program made from ids, name windows of the
 *    old broker; at the new one such an id may be unknown or another
 *    window's (targetOrigin still guards a reply).
 *  - browsing-context relations.  Every window comes back as a top-level
 *    window of its own (Register, as cp_window_open() does): an iframe or
 *    a popup has no parent or opener at the new broker, and its frames
 *    are not re-created.  A window closed before the loss (by a script,
 *    or discarded) is not registered again.
 *  - MessagePorts, which live in the broker.  Every open port of the
 *    client is closed (cp_port_get_state() says CP_PORT_CLOSED), posting on
 *    one fails with CP_ERR_INVALID_STATE, and events for it not yet
 *    dispatched are dropped.
 *  - BroadcastChannels, likewise: each is closed, cp_broadcast_post() on
 *    one fails with CP_ERR_INVALID_STATE ("closed with the broker's
 *    restart"); open it again with cp_broadcast_new() once the window is
 *    back.
 *  - connection state at the broker: a cp_client_monitor() subscription
 *    and cp_window_report_drops() (subscribe again after
 *    CP_RECONNECT_RESTORED).
 *  - messages in flight: posts written to the old broker that it had not
 *    delivered, events it had queued for this client but not sent, and
 *    posts queued in batching mode but not written (the LOST notice's
 *    message says how many bytes), as when a browser's tab crashes.
 *  - a post failure not yet reported by cp_client_sync().
 *
 * While the broker is away nothing is held: cp_post_message(),
 * cp_port_post_message() and every request fail at once with
 * CP_ERR_NETWORK, "the broker is away; reconnecting (...)", so a post is
 * never accepted and then silently lost; post again after
 * CP_RECONNECT_RESTORED.  cp_window_close() succeeds (the window is just
 * not registered again).
 *
 * A window that cannot be registered again (its name was taken at the new
 * broker first, or the new broker's policy refuses it) is closed: its
 * handle stays valid until cp_window_close(), cp_window_id() returns 0,
 * and posting from it fails with CP_ERR_INVALID_STATE naming the reason.
 *
 * A program with a loop of its own: while the broker is away
 * cp_client_fd() returns -1 (poll() ignores it) and cp_client_get_timeout()
 * says when to call cp_client_dispatch(); after a reconnection the
 * descriptor is another one (an epoll set must add it again, on
 * CP_RECONNECT_RESTORED).
 *
 * Turning it off while the broker is away ends the attempts: the client
 * stays disconnected.  Errors: CP_ERR_TYPE (client NULL), CP_ERR_NO_MEMORY. */
int cp_client_set_reconnect(cp_client *client, bool on);

#define CP_RECONNECT_FIRST_DELAY_MS 10     /* after the immediate first attempt */
#define CP_RECONNECT_MAX_DELAY_MS 2000     /* the doubling stops here */

/* Bounds reconnection: once give_up_ms have passed since the loss without
 * a successful attempt, the client gives up (CP_RECONNECT_GAVE_UP) and
 * stays disconnected, as without reconnection.  give_up_ms < 0: never give
 * up (the default); 0: one attempt only.  Errors: CP_ERR_TYPE,
 * CP_ERR_NO_MEMORY. */
int cp_client_set_reconnect_limit(cp_client *client, int give_up_ms);

typedef enum cp_reconnect_event {
	/* The connection is lost; attempts begin.  window NULL, error
	 * CP_ERR_NETWORK; cp_last_error_message() says why. */
	CP_RECONNECT_LOST = 1,
	/* One per window after a successful attempt: registered again
	 * (error 0, cp_window_id() is the new id), or not (error < 0, e.g.
	 * CP_ERR_CONSTRAINT for a name taken meanwhile; cp_last_error_message()
	 * says why; the window is closed, see above). */
	CP_RECONNECT_WINDOW = 2,
	/* Connected again, every window tried.  window NULL, error 0. */
	CP_RECONNECT_RESTORED = 3,
	/* cp_client_set_reconnect_limit() ran out: disconnected for good.
	 * window NULL, error CP_ERR_NETWORK (the last attempt's failure). */
	CP_RECONNECT_GAVE_UP = 4,
} cp_reconnect_event;

/* Called for each of the events above.  Like event callbacks, it runs
 * only in dispatching calls (cp_client_dispatch(), cp_client_wait(), an
 * attached libevent loop), never inside a post or a request, and in order
 * with events: LOST after every event received before the loss, WINDOW
 * and RESTORED before any event received on the new connection.  It may
 * post, open and close windows. */
typedef void (*cp_reconnect_callback)(cp_client *client, cp_reconnect_event event, cp_window *window,
				      int error, void *userdata);
/* Sets the callback (NULL: none; reconnection works without one).  After
 * a successful cp_client_set_reconnect() it cannot fail; before, out of
 * memory, it does nothing (that call then says CP_ERR_NO_MEMORY). */
void cp_client_set_reconnect_callback(cp_client *client, cp_reconnect_callback cb, void *userdata);

#ifdef __cplusplus
}
#endif

#endif /* CROSSPOST_H */
