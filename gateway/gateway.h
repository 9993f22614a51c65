/* SPDX-License-Identifier: MIT */
/*
 * gateway.h - crosspost-gateway: browser pages as crosspost windows
 * (docs/gateway.md).
 *
 * Two kinds of process run from one program:
 *  - the server (server.c): libwebsockets serves crosspost.js and the
 *    WebSocket endpoint, decides whether a page may connect (trust.c), and
 *    relays each page's WebSocket messages, unchanged, to and from
 *    - one worker per page (worker.c, worker_value.c): a libcrosspost
 *      client that registers the page's windows with the origin the server
 *      stamped, and turns the page's requests into library calls.
 * They talk over a socketpair in length-prefixed frames (frames.c).
 *
 * Layering: gateway/ uses the public crosspost.h, and common/ for origins
 * and origin patterns; nothing else uses gateway/.
 */
#ifndef CP_GATEWAY_H
#define CP_GATEWAY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "origin_pattern.h"

struct evbuffer;

/* ---- limits (docs/gateway.md "Limits"), each with where it comes from ---- */

/* One WebSocket message from a page, and one event's JSON to a page.  Tagged
 * JSON carries ArrayBuffers in base64 (4/3 of the bytes); 4 MiB keeps two
 * of the largest messages within a page's queue (below). */
#define GW_MESSAGE_MAX_DEFAULT (4u << 20)
/* The most --max-message-size accepts: the broker's frame payload ceiling
 * (FRAME_PAYLOAD_MAX, 128 MiB) is for the binary form; half of it leaves
 * room for JSON being larger than the wire form. */
#define GW_MESSAGE_MAX_LIMIT (64u << 20)
/* What the server holds for one page in each direction before it stops
 * reading the other side: the broker's queue-high / queue-low (8 MiB /
 * 2 MiB, dbus-broker's per-connection share). */
#define GW_QUEUE_HIGH_DEFAULT (8u << 20)
/* Pages at once: each is a worker process and a broker connection of the
 * gateway's uid, whose max-connections-per-uid is 256 by default; 64
 * leaves the rest for the uid's other clients. */
#define GW_PAGES_MAX_DEFAULT 64u
/* Windows per page: a page opens a handful; the broker's
 * max-windows-per-connection (1024) is the hard ceiling. */
#define GW_WINDOWS_MAX_DEFAULT 16u
/* MessagePorts per page: the broker allows 16384 per connection; a page
 * that needs more than 1024 live ports is leaking them. */
#define GW_PORTS_MAX_DEFAULT 1024u
/* The longest a lookup may wait for a window to appear (the worker of that
 * page handles nothing else meanwhile). */
#define GW_LOOKUP_WAIT_MAX_MS 10000
/* How much of a message goes out per WebSocket write: one page's large
 * message does not hold up the server's other pages for long. */
#define GW_WRITE_CHUNK (64u << 10)
/* The URL path of the WebSocket endpoint and of the script, and the
 * WebSocket subprotocol crosspost.js asks for. */
#define GW_WS_PATH "/crosspost"
#define GW_JS_PATH "/crosspost.js"
#define GW_SUBPROTOCOL "crosspost.v1"
/* A token (--token) is at most this long. */
#define GW_TOKEN_MAX 256

typedef struct GatewayLimits {
	size_t message_max;      /* --max-message-size */
	size_t queue_high;       /* --queue-high; the low mark is a quarter */
	unsigned pages_max;      /* --max-pages */
	unsigned windows_max;    /* --max-windows (per page) */
	unsigned ports_max;      /* --max-ports (per page) */
} GatewayLimits;

typedef struct GatewayConfig {
	char host[64];           /* --listen address, numeric */
	int port;                /* 0: any free port */
	bool loopback;           /* host is 127.0.0.0/8 or ::1 */
	bool allow_remote;       /* --allow-remote */
	OriginPattern *allow;    /* --allow-origin, at least one */
	size_t n_allow;
	char *token;             /* --token / --token-file; NULL: none required */
	const char *serve_dir;   /* --serve DIR, or NULL */
	const char *socket_path; /* --socket, or NULL for the default */
	GatewayLimits limits;
	int ready_fd;            /* --ready-fd, or -1 */
	int log_level;
} GatewayConfig;

/* ---- trust.c: what the server checks before a page gets a worker ---- */

/* Parses --listen "[ADDRESS:]PORT" ("127.0.0.1:8700", "[::1]:0", "8700")
 * into cfg->host, cfg->port and cfg->loopback.  ADDRESS must be a numeric
 * IPv4 or IPv6 address (no name lookups).  Returns 0 or -EINVAL with a
 * static reason in *ret_reason. */
int gw_parse_listen(GatewayConfig *cfg, const char *text, const char **ret_reason);

/* Why a page may not connect; GW_OK when it may. */
typedef enum GatewayRefusal {
	GW_OK = 0,
	GW_REFUSE_NO_ORIGIN,       /* no Origin header: not a browser */
	GW_REFUSE_BAD_ORIGIN,      /* not a serialized origin */
	GW_REFUSE_ORIGIN,          /* no --allow-origin pattern matches */
	GW_REFUSE_TOKEN,           /* --token given and the URL's is missing or wrong */
} GatewayRefusal;

/* Decides on a WebSocket handshake: origin_header as the request stated it
 * (NULL when absent), token the URL's `token` argument (NULL when absent).
 * On GW_OK, *ret_origin receives the serialized origin (malloc'd, caller
 * frees), which is exactly the header's text.  The token is compared in
 * constant time.  Returns a GatewayRefusal, or -ENOMEM. */
int gw_check_page(const GatewayConfig *cfg, const char *origin_header, const char *token,
		  char **ret_origin);

/* A sentence for a refusal (static). */
const char *gw_refusal_reason(GatewayRefusal refusal);

/* Parses a size: a decimal count with an optional unit B, KiB or MiB.
 * Returns the bytes, or 0 when text is not such a size or is over max. */
size_t gw_parse_size(const char *text, size_t max);

/* ---- frames.c: length-prefixed frames on the socketpair ---- */

/* Appends a frame (a 4-byte big-endian length, then len bytes). */
int gw_frame_append(struct evbuffer *out, const void *data, size_t len);
/* Appends the whole of body (a message built in an evbuffer) as one frame,
 * moving its bytes without a copy. */
int gw_frame_append_buffer(struct evbuffer *out, struct evbuffer *body);
/* Looks at the head of in: returns 1 and the length of the frame there in
 * *ret_len when it is complete, 0 when more bytes are needed, -EMSGSIZE
 * when it declares more than max bytes.  Nothing is removed. */
int gw_frame_peek(struct evbuffer *in, size_t max, size_t *ret_len);

/* ---- the two processes ---- */

/* The server: runs until SIGINT or SIGTERM; the exit status. */
int gw_server_run(const GatewayConfig *cfg);

/* A worker for one page whose serialized origin is origin, talking to the
 * server on descriptor fd; the exit status. */
int gw_worker_run(const GatewayConfig *cfg, const char *origin, int fd);

/* crosspost.js, embedded at build time (BUILD/gen/gateway/crosspost_js.c). */
extern const unsigned char gw_crosspost_js[];
extern const size_t gw_crosspost_js_len;

#endif
