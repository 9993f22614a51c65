/* SPDX-License-Identifier: MIT */
/* fuzz_broker.c - libFuzzer harness: the broker's core in-process, driven by up to three fuzzed client connections. */
#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/sockios.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/event.h>

#include "broker/account.h"
#include "broker/broadcast.h"
#include "broker/broker.h"
#include "broker/claims.h"
#include "broker/contexts.h"
#include "broker/connection.h"
#include "broker/ports.h"
#include "broker/queue.h"
#include "broker/registry.h"
#include "cleanup.h"
#include "frame.h"
#include "log.h"
#include "stream.h"

/*
 * Each input is a small program for three clients of one broker, run
 * against the real broker core (broker_new() on a private event_base with
 * a listening socket of its own) over real Unix sockets:
 *
 *   byte 0, 1   the configuration: lowered limits (small queues so that
 *               flow control and parking happen within a few frames, few
 *               windows and ports, short URLs, small messages), a small
 *               socket buffer on the broker's side, whether each client
 *               answers PortMoved by itself, and whether client 2 is made
 *               with connection_new() directly under another uid instead
 *               of being accepted;
 *   then ops    up to MAX_OPS of them: one byte (kind, client) and the
 *               few bytes that kind reads (see run_op()).  Frames are
 *               built with crosspost__header__pack (Hello with the right
 *               version unless asked otherwise, Register with a handful of
 *               URLs, ids picked among the windows and ports the clients
 *               were told about, small payloads, sealed memfds and other
 *               descriptors attached), or are raw bytes of the input.
 *               Browsing contexts too: window.open and iframes (pending
 *               windows), claims with the tokens the broker gave any
 *               client or with forged ones, close, remove, relation
 *               queries, BroadcastChannels.
 *
 * After each op the clients' output is written and the event loop runs
 * without blocking (EVLOOP_NONBLOCK) until nothing moves any more.  The
 * clients read what the broker sends them like libcrosspost would:
 * frame_parse() and frame_take_fds(), remembering window and port ids,
 * answering PortMoved with the port's undispatched messages (PortReturn)
 * and PortReleased when told to.  Time is virtual: the harness's
 * clock_gettime() adds an offset to the monotonic clocks, which an op
 * advances, so that the handshake and transit timeouts fire when an input
 * says so and never otherwise.
 *
 * Checked after every op (abort() on violation), besides "no crash, no
 * sanitizer report, no leak, no timeout":
 *  - every frame the broker writes parses, with exactly the descriptors it
 *    declares arriving with its first byte;
 *  - events go only to windows and ports the connection was given; a
 *    message posted on a port arrives for its entangled peer, one from a
 *    window with that window as its source (or none, if privileged);
 *  - order: payloads of 21 bytes or more carry a number per sending window
 *    and per sending port; each connection dispatches them in increasing
 *    order, and a port's messages are dispatched in increasing order
 *    whichever connection owns it, across hand-overs (PortMoved,
 *    PortReturn, PortReleased) - unless the hand-over may have timed out,
 *    or a connection closed while the port was in transit, when the old
 *    owner may still dispatch older ones (documented);
 *  - the per-uid accounts hold exactly what the connections' buffers and
 *    the messages waiting in the broker are charged, globally and per uid;
 *    each connection's sent list adds up to its sent_bytes;
 *  - no lost wake-up: a connection paused for its parked messages has more
 *    than park-low of them, one paused on its account is on the account's
 *    waiting list, one waiting for its uid to drain is not under the low
 *    mark, and a large frame waiting for room in its uid's budget fits in
 *    that budget and waits for others' bytes, not its own;
 *  - ports: entangled pairs point at each other, every port on a
 *    connection's lists is counted there, every owned port has an owner;
 *  - browsing contexts: every frame is on its parent's list of children
 *    and one deeper than it, within max-frame-depth; a top-level window's
 *    tree_size counts its tree, within max-frames; a window is pending
 *    exactly when it has no host and a claim token, and the claim table
 *    holds one token per pending window; a host is a live connection;
 *    per connection, pending claims and BroadcastChannels within limits;
 *    a BroadcastChannel event is for a channel the connection made and
 *    names no window, port or source.
 * And at the end of each input, once every client has read everything,
 * dispatched what it kept and hung up: the broker has no connection,
 * window or port left and holds zero bytes and zero descriptors for any
 * uid (windows opened or framed and never claimed count: the harness lets
 * claim-timeout pass first); after broker_free() and event_base_free(),
 * every descriptor the harness and the broker opened is closed.
 *
 * FUZZ_BROKER_LOG=1 in the environment shows the broker's log (debug
 * level) on stderr; by default it is formatted and thrown away.
 */

#define MAX_OPS 64
/* Frames written by all clients together, bursts included. */
#define MAX_FRAMES 256
/* Payload bytes written per input, so that one input stays fast; a
 * payload is at most 16 KiB, so that the buffers holding it stay in the
 * sanitizer allocator's small classes (a large allocation costs an mmap,
 * a munmap and a TLB shootdown, which made inputs ten times slower). */
#define PAYLOAD_BUDGET (1536u * 1024u)
#define PAYLOAD_MAX (16u * 1024u)
#define N_CLIENTS 3
#define CLIENT_IDS 16
#define KNOWN_IDS 32
#define KEPT_MAX 4
#define N_TOKENS 8
/* Event loop turns per pump; a pump ends earlier once nothing moves. */
#define PUMP_TURNS 64
/* Descriptors looked at for leaks. */
#define FD_SCAN 256

static void fail(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));

static FILE *report;    /* the real stderr */

static void fail(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	fprintf(report, "fuzz_broker: ");
	vfprintf(report, fmt, ap);
	fprintf(report, "\n");
	va_end(ap);
	fflush(report);
	abort();
}

#define CHECK(cond) do { if (!(cond)) fail("check failed: %s (line %d)", #cond, __LINE__); } while (0)

/* ---- virtual time ---------------------------------------------------- */

static int64_t clock_offset_ns;

/* The broker (broker_now_ms) and libevent (its timers) read the monotonic
 * clock through here: real time plus an offset that only grows, so that
 * time jumps when an input says so.  libFuzzer measures its own time on
 * the realtime clock, which is left alone. */
int clock_gettime(clockid_t id, struct timespec *ts)
{
	long r = syscall(SYS_clock_gettime, id, ts);

	if (r == 0 && (id == CLOCK_MONOTONIC || id == CLOCK_MONOTONIC_COARSE || id == CLOCK_MONOTONIC_RAW ||
		       id == CLOCK_BOOTTIME)) {
		int64_t ns = ts->tv_nsec + clock_offset_ns % 1000000000;

		ts->tv_sec += (time_t)(clock_offset_ns / 1000000000 + ns / 1000000000);
		ts->tv_nsec = (long)(ns % 1000000000);
	}
	return r == 0 ? 0 : -1;
}

/* ---- things made once ------------------------------------------------ */

enum { FD_SEALED_0, FD_SEALED_100, FD_SEALED_4K, FD_UNSEALED, FD_WRITE_SEALED, FD_PIPE, FD_DEVNULL, N_POOL };
static int pool_fds[N_POOL];
static const uint64_t pool_sizes[N_POOL] = { 0, 100, 4096, 10, 100, 0, 0 };
static int pool_pipe_write;
static uint8_t pattern[PAYLOAD_MAX];

static int make_memfd(size_t len, int seals)
{
	int fd = memfd_create("fuzz_broker", MFD_CLOEXEC | MFD_ALLOW_SEALING);

	CHECK(fd >= 0);
	CHECK(ftruncate(fd, (off_t)len) == 0);
	if (seals)
		CHECK(fcntl(fd, F_ADD_SEALS, seals) == 0);
	return fd;
}

static void init_once(void)
{
	const int all = F_SEAL_WRITE | F_SEAL_GROW | F_SEAL_SHRINK | F_SEAL_SEAL;
	static bool done;
	int p[2];

	if (done)
		return;
	done = true;
	/* As crosspostd does; the broker never depends on it (MSG_NOSIGNAL). */
	signal(SIGPIPE, SIG_IGN);
	report = fdopen(dup(STDERR_FILENO), "w");
	CHECK(report);
	setvbuf(report, NULL, _IONBF, 0);
	log_set_ident("crosspostd");
	log_set_level(LOG_DEBUG);
	if (!getenv("FUZZ_BROKER_LOG") || strcmp(getenv("FUZZ_BROKER_LOG"), "1") != 0) {
		/* Every log line is formatted (that is code too), then dropped.
		 * libFuzzer and the sanitizers write to descriptor 2 themselves. */
		FILE *null = fopen("/dev/null", "w");

		CHECK(null);
		setvbuf(null, NULL, _IOFBF, 1 << 16);
		stderr = null;
	}
	pool_fds[FD_SEALED_0] = make_memfd(0, all);
	pool_fds[FD_SEALED_100] = make_memfd(100, all);
	pool_fds[FD_SEALED_4K] = make_memfd(4096, all);
	pool_fds[FD_UNSEALED] = make_memfd(10, 0);
	pool_fds[FD_WRITE_SEALED] = make_memfd(100, F_SEAL_WRITE);
	CHECK(pipe2(p, O_CLOEXEC) == 0);
	pool_fds[FD_PIPE] = p[0];
	pool_pipe_write = p[1];
	pool_fds[FD_DEVNULL] = open("/dev/null", O_RDONLY | O_CLOEXEC);
	CHECK(pool_fds[FD_DEVNULL] >= 0);
	for (size_t i = 0; i < sizeof(pattern); i++)
		pattern[i] = (uint8_t)(i * 7 + 1);
}

static size_t open_fd_count(void)
{
	size_t n = 0;

	for (int fd = 0; fd < FD_SCAN; fd++)
		if (fcntl(fd, F_GETFD) >= 0)
			n++;
	return n;
}

/* ---- the input ------------------------------------------------------- */

typedef struct Input {
	const uint8_t *p;
	size_t n;
} Input;

static uint8_t take(Input *in)
{
	if (!in->n)
		return 0;
	in->n--;
	return *in->p++;
}

/* Payload sizes: small ones exactly, then steps of 128 bytes up to 16 KiB. */
static size_t payload_size(uint8_t b)
{
	return b < 128 ? b : (size_t)(b - 127) * 128u;
}

/* ---- the clients ----------------------------------------------------- */

/* Ids below this are followed for ordering (an input makes far fewer). */
#define SEQ_IDS 160
/* A payload of at least TAG_SIZE bytes starts with a tag: "xpq1", 'W' or
 * 'P', the sending window's or port's id, and a number that counts the
 * messages sent from that window or port. */
#define TAG_SIZE 21

typedef struct Tag {
	char kind;                /* 'W' (window), 'P' (port) */
	uint64_t key, seq;
} Tag;

typedef struct Client {
	Stream *stream;           /* the harness's end; NULL when closed */
	bool broken;              /* a write failed: the broker closed it */
	bool reading;             /* reads what the broker sends (else it stalls) */
	bool auto_release;        /* answers PortMoved like libcrosspost */
	bool keep_events;         /* keeps port messages undispatched, to return them */
	uint32_t serial;
	uint64_t windows[CLIENT_IDS];   /* its live windows, as far as it knows */
	size_t n_windows;
	uint64_t ports[CLIENT_IDS];     /* ports it was given */
	size_t n_ports;
	uint64_t broadcasts[CLIENT_IDS];  /* BroadcastChannels it made */
	size_t n_broadcasts;
	/* Port messages received and not dispatched yet, oldest first (once
	 * one waits, all wait: dispatching is in order). */
	Frame *kept[KEPT_MAX];
	size_t n_kept;
	/* Ports it was told moved, not released yet, and their messages to
	 * hand back (never dispatched here any more). */
	uint64_t moved[CLIENT_IDS];
	size_t n_moved;
	Frame *moving[2 * KEPT_MAX];
	size_t n_moving;
	/* What this connection was given, and the last message number it
	 * dispatched from each sending window and to each port. */
	bool had_window[SEQ_IDS], had_port[SEQ_IDS], had_broadcast[SEQ_IDS];
	uint64_t seen_window[SEQ_IDS], seen_port[SEQ_IDS];
} Client;

typedef struct Harness {
	struct event_base *base;
	Broker *broker;
	struct sockaddr_un addr;
	socklen_t addr_len;
	Client clients[N_CLIENTS];
	uint64_t windows[KNOWN_IDS];   /* every window id a client was told */
	size_t n_windows;
	uint64_t ports[KNOWN_IDS];     /* every port id a client was told */
	size_t n_ports;
	uint64_t broadcasts[KNOWN_IDS];  /* every BroadcastChannel id a client was told */
	size_t n_broadcasts;
	/* Claim tokens the broker gave (any client's: a token is a bearer
	 * capability), newest overwriting the oldest. */
	char tokens[N_TOKENS][CLAIM_TOKEN_LENGTH + 1];
	size_t n_tokens;
	size_t frames, payload_bytes;
	bool small_sndbuf, direct_other_uid;
	uint64_t sndbuf_done;          /* connection ids whose buffer was set */
	int last_client;
	/* Message numbers: the last one sent from each window and on each
	 * port, and the last one any connection dispatched for each port.
	 * A port whose transit may have timed out, or whose old owner's
	 * connection may have closed during it, is `tainted`: that owner may
	 * still dispatch older messages (documented), so only each
	 * connection's own order is checked for it. */
	uint64_t sent_window[SEQ_IDS], sent_port[SEQ_IDS], seen_port[SEQ_IDS];
	bool tainted[SEQ_IDS];
	uint8_t scratch[PAYLOAD_MAX];
} Harness;

static void remember(uint64_t *ids, size_t *n, size_t cap, uint64_t id)
{
	for (size_t i = 0; i < *n; i++)
		if (ids[i] == id)
			return;
	if (*n < cap)
		ids[(*n)++] = id;
	else
		ids[id % cap] = id;
}

static void forget(uint64_t *ids, size_t *n, uint64_t id)
{
	for (size_t i = 0; i < *n; i++) {
		if (ids[i] == id) {
			ids[i] = ids[--*n];
			return;
		}
	}
}

static bool contains(const uint64_t *ids, size_t n, uint64_t id)
{
	for (size_t i = 0; i < n; i++)
		if (ids[i] == id)
			return true;
	return false;
}

static bool read_tag(Frame *frame, Tag *t)
{
	const uint8_t *b = frame_payload_bytes(frame);

	if (frame_payload_length(frame) < TAG_SIZE || !b || memcmp(b, "xpq1", 4) != 0)
		return false;
	t->kind = (char)b[4];
	memcpy(&t->key, b + 5, 8);
	memcpy(&t->seq, b + 13, 8);
	return true;
}

/* The application reads a message: it must come after every message from
 * the same window (or to the same port) that this connection dispatched,
 * and a port's after every message any connection dispatched for it,
 * unless the port's hand-over may have timed out. */
static void dispatch(Harness *h, Client *c, Frame *frame)
{
	const Crosspost__Event *ev = frame->header->event;
	Tag t;

	if (read_tag(frame, &t) && t.key < SEQ_IDS) {
		if (t.kind == 'W') {
			if (ev->target_port_id || (ev->source_window_id && ev->source_window_id != t.key))
				fail("a message from window %llu arrived as from window %llu, port %llu",
				     (unsigned long long)t.key, (unsigned long long)ev->source_window_id,
				     (unsigned long long)ev->target_port_id);
			if (t.seq <= c->seen_window[t.key])
				fail("messages from window %llu out of order: #%llu after #%llu",
				     (unsigned long long)t.key, (unsigned long long)t.seq,
				     (unsigned long long)c->seen_window[t.key]);
			c->seen_window[t.key] = t.seq;
		} else if (t.kind == 'P') {
			uint64_t to = ev->target_port_id;

			/* Ports are made in pairs: 2k-1 and 2k are entangled. */
			if (to != ((t.key & 1) ? t.key + 1 : t.key - 1))
				fail("a message posted on port %llu arrived for port %llu",
				     (unsigned long long)t.key, (unsigned long long)to);
			if (t.seq <= c->seen_port[t.key] || (!h->tainted[t.key] && t.seq <= h->seen_port[t.key]))
				fail("messages for port %llu out of order: #%llu after #%llu (here) and #%llu (anywhere)",
				     (unsigned long long)to, (unsigned long long)t.seq,
				     (unsigned long long)c->seen_port[t.key], (unsigned long long)h->seen_port[t.key]);
			c->seen_port[t.key] = t.seq;
			h->seen_port[t.key] = t.seq;
		}
	}
	frame_free(frame);
}

static void dispatch_kept(Harness *h, Client *c)
{
	for (size_t i = 0; i < c->n_kept; i++)
		dispatch(h, c, c->kept[i]);
	c->n_kept = 0;
}

static void client_close(Client *c)
{
	for (size_t i = 0; i < c->n_kept; i++)
		frame_free(c->kept[i]);
	for (size_t i = 0; i < c->n_moving; i++)
		frame_free(c->moving[i]);
	c->stream = stream_free(c->stream);
	c->broken = false;
	c->n_windows = c->n_ports = c->n_kept = c->n_moved = c->n_moving = c->n_broadcasts = 0;
}

/* Queues a frame on the client's output, with a payload (moved) or
 * payload_len bytes of pattern (tagged when tag is given and there is
 * room).  fds (n_fds of them) are the caller's: they are closed here
 * whatever happens. */
static void client_send(Harness *h, Client *c, Crosspost__Header *hdr, Frame *payload,
			size_t payload_len, const Tag *tag, int *fds, size_t n_fds)
{
	const uint8_t *bytes = pattern;
	struct evbuffer *out;
	int r = 0;

	if (!c->stream || c->broken) {
		close_fds(fds, n_fds);
		return;
	}
	out = stream_output(c->stream);
	if (n_fds > 0 && stream_queue_fds(c->stream, fds, n_fds) < 0)
		close_fds(fds, n_fds);
	if (!hdr->serial)
		hdr->serial = ++c->serial;
	if (tag && payload_len >= TAG_SIZE) {
		memcpy(h->scratch, pattern, payload_len);
		memcpy(h->scratch, "xpq1", 4);
		h->scratch[4] = (uint8_t)tag->kind;
		memcpy(h->scratch + 5, &tag->key, 8);
		memcpy(h->scratch + 13, &tag->seq, 8);
		bytes = h->scratch;
	}
	if (payload)
		r = frame_append_from(out, hdr, payload);
	else
		r = frame_append_bytes(out, hdr, bytes, payload_len);
	CHECK(r == 0);
	h->frames++;
}

static void client_handle(Harness *h, Client *c, Frame *frame);

/* Writes the client's output and, when it reads, takes in and checks what
 * the broker sent.  Returns true when bytes moved. */
static bool client_pump(Harness *h, Client *c)
{
	bool moved = false;
	int r;

	if (!c->stream)
		return false;
	if (!c->broken && evbuffer_get_length(stream_output(c->stream)) > 0) {
		size_t before = evbuffer_get_length(stream_output(c->stream));

		r = stream_flush(c->stream);
		if (r < 0)
			c->broken = true;    /* the broker closed the connection */
		else
			moved = evbuffer_get_length(stream_output(c->stream)) != before;
	}
	if (!c->reading)
		return moved;
	for (;;) {
		ssize_t n = stream_read(c->stream);
		Frame *frame = NULL;
		const char *reason = "?";

		if (n == -EAGAIN)
			break;
		if (n <= 0) {
			/* Closed by the broker.  A frame cut short is fine: a
			 * connection closed for a violation loses its output. */
			CHECK(n == 0 || n == -ECONNRESET);
			client_close(c);
			return true;
		}
		moved = true;
		while ((r = frame_parse(stream_input(c->stream), &frame, &reason)) == 1) {
			if (frame_take_fds(frame, c->stream) < 0)
				fail("the broker sent a %s frame without the %u descriptors it declares",
				     frame_kind_name(frame->header->body_case), frame_declared_fds(frame));
			client_handle(h, c, frame);
			if (!c->stream)
				return true;
		}
		if (r < 0)
			fail("the broker sent a frame that does not parse: %s", reason);
	}
	return moved;
}

static void send_port_released(Harness *h, Client *c, uint64_t port)
{
	Crosspost__Header hdr = CROSSPOST__HEADER__INIT;
	Crosspost__PortReleased rel = CROSSPOST__PORT_RELEASED__INIT;

	rel.port_id = port;
	hdr.body_case = CROSSPOST__HEADER__BODY_PORT_RELEASED;
	hdr.port_released = &rel;
	client_send(h, c, &hdr, NULL, 0, NULL, NULL, 0);
}

/* What libcrosspost does once told that a port moved: hands back the
 * port's undispatched messages as received, in order, then releases it. */
static void return_and_release(Harness *h, Client *c, uint64_t port)
{
	size_t left = 0;

	for (size_t i = 0; i < c->n_moving; i++) {
		Frame *f = c->moving[i];
		const Crosspost__Event *ev = f->header->event;
		Crosspost__Header hdr = CROSSPOST__HEADER__INIT;
		Crosspost__PortReturn ret = CROSSPOST__PORT_RETURN__INIT;

		if (ev->target_port_id != port) {
			c->moving[left++] = f;
			continue;
		}
		ret.port_id = port;
		ret.fd_count = (uint32_t)f->n_fds;
		ret.n_ports = ev->n_ports;
		ret.ports = ev->ports;
		ret.n_buffer_sizes = ev->n_buffer_sizes;
		ret.buffer_sizes = ev->buffer_sizes;
		hdr.body_case = CROSSPOST__HEADER__BODY_PORT_RETURN;
		hdr.port_return = &ret;
		client_send(h, c, &hdr, f, 0, NULL, f->fds, f->n_fds);
		f->n_fds = 0;
		frame_free(f);
	}
	c->n_moving = left;
	forget(c->moved, &c->n_moved, port);
	send_port_released(h, c, port);
}

static void port_moved(Harness *h, Client *c, uint64_t port)
{
	size_t left = 0;

	forget(c->ports, &c->n_ports, port);
	/* Its waiting messages are no longer this client's to dispatch. */
	for (size_t i = 0; i < c->n_kept; i++) {
		Frame *f = c->kept[i];

		if (f->header->event->target_port_id != port)
			c->kept[left++] = f;
		else if (c->n_moving < 2 * KEPT_MAX)
			c->moving[c->n_moving++] = f;
		else
			frame_free(f);    /* lost, never dispatched */
	}
	c->n_kept = left;
	remember(c->moved, &c->n_moved, CLIENT_IDS, port);
	if (c->auto_release)
		return_and_release(h, c, port);
}

static void client_handle(Harness *h, Client *c, Frame *frame)
{
	const Crosspost__Header *hdr = frame->header;
	const Crosspost__Event *ev = hdr->event;

	switch (hdr->body_case) {
	case CROSSPOST__HEADER__BODY_REGISTERED:
		remember(c->windows, &c->n_windows, CLIENT_IDS, hdr->registered->window_id);
		remember(h->windows, &h->n_windows, KNOWN_IDS, hdr->registered->window_id);
		if (hdr->registered->window_id < SEQ_IDS)
			c->had_window[hdr->registered->window_id] = true;
		break;
	case CROSSPOST__HEADER__BODY_CHANNEL_CREATED:
		remember(c->ports, &c->n_ports, CLIENT_IDS, hdr->channel_created->port1_id);
		remember(c->ports, &c->n_ports, CLIENT_IDS, hdr->channel_created->port2_id);
		remember(h->ports, &h->n_ports, KNOWN_IDS, hdr->channel_created->port1_id);
		remember(h->ports, &h->n_ports, KNOWN_IDS, hdr->channel_created->port2_id);
		if (hdr->channel_created->port2_id < SEQ_IDS)
			c->had_port[hdr->channel_created->port1_id] = c->had_port[hdr->channel_created->port2_id] = true;
		break;
	case CROSSPOST__HEADER__BODY_EVENT:
		/* Only to what this connection was given.  A BroadcastChannel
		 * event, like a port's, carries target_window_id 0
		 * (protocol.md). */
		if (ev->target_broadcast_id) {
			if (ev->target_port_id || ev->target_window_id || ev->n_ports || ev->source_window_id)
				fail("a BroadcastChannel event with a port, a window or a source");
			if (ev->target_broadcast_id < SEQ_IDS && !c->had_broadcast[ev->target_broadcast_id])
				fail("an event for BroadcastChannel %llu, which this connection never made",
				     (unsigned long long)ev->target_broadcast_id);
		} else if (ev->target_port_id ? ev->target_port_id < SEQ_IDS && !c->had_port[ev->target_port_id] :
			   ev->target_window_id < SEQ_IDS && !c->had_window[ev->target_window_id])
			fail("an event for %s %llu, which this connection never had",
			     ev->target_port_id ? "port" : "window",
			     (unsigned long long)(ev->target_port_id ? ev->target_port_id : ev->target_window_id));
		for (size_t i = 0; i < ev->n_ports; i++) {
			remember(c->ports, &c->n_ports, CLIENT_IDS, ev->ports[i]);
			remember(h->ports, &h->n_ports, KNOWN_IDS, ev->ports[i]);
			if (ev->ports[i] < SEQ_IDS)
				c->had_port[ev->ports[i]] = true;
		}
		if (ev->target_port_id && (c->keep_events || c->n_kept > 0)) {
			if (c->n_kept == KEPT_MAX) {
				dispatch(h, c, c->kept[0]);
				memmove(c->kept, c->kept + 1, (KEPT_MAX - 1) * sizeof(c->kept[0]));
				c->n_kept--;
			}
			c->kept[c->n_kept++] = frame;
			return;
		}
		dispatch(h, c, frame);
		return;
	case CROSSPOST__HEADER__BODY_PORT_MOVED:
		port_moved(h, c, hdr->port_moved->port_id);
		break;
	case CROSSPOST__HEADER__BODY_OPENED:
		/* A pending window: known, not this connection's. */
		remember(h->windows, &h->n_windows, KNOWN_IDS, hdr->opened->window_id);
		if (hdr->opened->claim_token && *hdr->opened->claim_token) {
			if (strlen(hdr->opened->claim_token) != CLAIM_TOKEN_LENGTH)
				fail("a claim token of %zu characters", strlen(hdr->opened->claim_token));
			memcpy(h->tokens[h->n_tokens++ % N_TOKENS], hdr->opened->claim_token, CLAIM_TOKEN_LENGTH + 1);
		}
		break;
	case CROSSPOST__HEADER__BODY_CLAIMED:
		remember(c->windows, &c->n_windows, CLIENT_IDS, hdr->claimed->window_id);
		remember(h->windows, &h->n_windows, KNOWN_IDS, hdr->claimed->window_id);
		if (hdr->claimed->window_id < SEQ_IDS)
			c->had_window[hdr->claimed->window_id] = true;
		break;
	case CROSSPOST__HEADER__BODY_RELATED:
		if (hdr->related->window_id)
			remember(h->windows, &h->n_windows, KNOWN_IDS, hdr->related->window_id);
		break;
	case CROSSPOST__HEADER__BODY_BROADCAST_OPENED:
		remember(c->broadcasts, &c->n_broadcasts, CLIENT_IDS, hdr->broadcast_opened->channel_id);
		remember(h->broadcasts, &h->n_broadcasts, KNOWN_IDS, hdr->broadcast_opened->channel_id);
		if (hdr->broadcast_opened->channel_id < SEQ_IDS)
			c->had_broadcast[hdr->broadcast_opened->channel_id] = true;
		break;
	default:
		break;
	}
	frame_free(frame);
}

static void set_small_sndbuf(Harness *h)
{
	uint64_t newest = h->sndbuf_done;
	int size = 4096;

	if (!h->small_sndbuf)
		return;
	/* Newest first: set the connections made since the last time. */
	for (Connection *c = h->broker->connections; c && c->id > h->sndbuf_done; c = c->next) {
		CHECK(setsockopt(stream_fd(c->stream), SOL_SOCKET, SO_SNDBUF, &size, sizeof(size)) == 0);
		if (c->id > newest)
			newest = c->id;
	}
	h->sndbuf_done = newest;
}

static void client_connect(Harness *h, int i)
{
	Client *c = &h->clients[i];
	int fd;

	if (c->stream)
		return;
	c->serial = 0;
	memset(c->had_window, 0, sizeof(c->had_window));
	memset(c->had_port, 0, sizeof(c->had_port));
	memset(c->had_broadcast, 0, sizeof(c->had_broadcast));
	memset(c->seen_window, 0, sizeof(c->seen_window));
	memset(c->seen_port, 0, sizeof(c->seen_port));
	if (i == 2 && h->direct_other_uid) {
		/* Another uid, straight into the broker: its own account. */
		int sv[2];
		Connection *conn;

		CHECK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == 0);
		CHECK(connection_new(h->broker, sv[1], getpid(), getuid() + 1, getgid() + 1, &conn) == 0);
		fd = sv[0];
	} else {
		fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
		CHECK(fd >= 0);
		if (connect(fd, (struct sockaddr *)&h->addr, h->addr_len) < 0) {
			/* The backlog is full (accepting stopped at the pending
			 * limit): no connection this time. */
			CHECK(errno == EAGAIN);
			close(fd);
			return;
		}
	}
	CHECK(stream_new(&c->stream, fd) == 0);
}

/* ---- checks on the broker's state ------------------------------------ */

typedef struct Sums {
	const Account *account[8];
	uint64_t bytes[8], fds[8], reserved[8];
	uint32_t connections[8];
	size_t n;
	uint64_t total_bytes, total_fds;
} Sums;

static size_t sums_slot(Sums *s, const Account *a)
{
	for (size_t i = 0; i < s->n; i++)
		if (s->account[i] == a)
			return i;
	CHECK(s->n < 8);
	s->account[s->n] = a;
	return s->n++;
}

static void sums_held(Sums *s, const Held *h)
{
	size_t i;

	CHECK(h->account);
	i = sums_slot(s, h->account);
	s->bytes[i] += h->bytes;
	s->fds[i] += h->fds;
	s->total_bytes += h->bytes;
	s->total_fds += h->fds;
}

static void check_connection(Harness *h, Connection *c, Sums *s)
{
	const BrokerLimits *l = &h->broker->limits;
	uint64_t sent_bytes = 0, sent_fds = 0;
	size_t slot = sums_slot(s, c->account), n_ports = 0;
	bool waiting = false;

	CHECK(!c->closing);
	s->bytes[slot] += c->charged_bytes;
	s->fds[slot] += c->charged_fds;
	s->reserved[slot] += c->reserved;
	s->connections[slot]++;
	s->total_bytes += c->charged_bytes;
	s->total_fds += c->charged_fds;
	for (const Held *m = c->parked; m; m = m->next)
		sums_held(s, m);
	for (const Held *m = c->sent; m; m = m->sender_next) {
		CHECK(m->sender == c);
		sent_bytes += m->bytes;
		sent_fds += m->fds;
	}
	CHECK(sent_bytes == c->sent_bytes);
	CHECK(sent_fds == c->sent_fds);
	for (const Connection *w = c->account->waiting; w; w = w->wait_next)
		if (w == c)
			waiting = true;
	/* No lost wake-up. */
	if (c->paused & PAUSE_PARKED)
		CHECK(c->sent_bytes > l->park_low || c->sent_fds > l->queue_fds_high / 2);
	CHECK(waiting == ((c->paused & (PAUSE_ACCOUNT | PAUSE_RESERVE)) != 0));
	if (c->paused & PAUSE_ACCOUNT)
		CHECK(!account_under_low(c->account));
	if (c->paused & PAUSE_RESERVE) {
		/* The frame it waits to read must fit in its uid's budget some
		 * day (large frames may take 3/4 of it), and what keeps it
		 * waiting must be someone else's: not its own bytes of it. */
		const Account *a = c->account;
		uint64_t total = 0, cap = a->max_bytes - a->max_bytes / 4;
		uint64_t own = evbuffer_get_length(stream_input(c->stream));

		CHECK(frame_peek_length(stream_input(c->stream), &total) == 1);
		if (total > cap)
			fail("connection %llu waits for room for a %llu-byte frame, which its uid's budget "
			     "never has (large frames may take %llu bytes)", (unsigned long long)c->id,
			     (unsigned long long)total, (unsigned long long)cap);
		if (a->reserved + total <= cap && a->bytes - own + total <= cap)
			fail("connection %llu waits for room for a %llu-byte frame, and only the %llu bytes of "
			     "it already read are in the way (uid %u holds %llu bytes; large frames may take %llu)",
			     (unsigned long long)c->id, (unsigned long long)total, (unsigned long long)own,
			     (unsigned)a->uid, (unsigned long long)a->bytes, (unsigned long long)cap);
	}
	for (const Port *p = c->ports_owned; p; p = p->owned_next, n_ports++)
		CHECK(p->owner == c && p->state != PORT_CLOSED);
	for (const Port *p = c->ports_incoming; p; p = p->incoming_next, n_ports++)
		CHECK(p->next_owner == c && p->state == PORT_IN_TRANSIT);
	CHECK(n_ports == c->n_ports);
}

/* The frame trees, pending windows and claims (contexts.h). */
static void check_contexts(Harness *h)
{
	Broker *b = h->broker;
	const BrokerLimits *l = &b->limits;
	size_t pending = 0;
	uint32_t claims = 0, broadcasts = 0;

	for (Window *w = registry_first(b->registry); w; w = w->order_next) {
		uint32_t n = 0;

		if (w->pending != (w->owner == NULL) || w->pending != (w->claim != NULL))
			fail("window %llu: pending %d, host %p, claim %p", (unsigned long long)w->id, w->pending,
			     w->owner, (void *)w->claim);
		pending += w->pending;
		if (w->owner) {
			const Connection *c;

			for (c = b->connections; c && (const void *)c != w->owner; c = c->next)
				;
			if (!c || c->closing)
				fail("window %llu is hosted by a connection that is gone", (unsigned long long)w->id);
		}
		for (const Window *k = w->first_child; k; k = k->next_sibling, n++) {
			CHECK(k->parent == w);
			CHECK(n < l->max_frames);
		}
		CHECK(n == w->n_children);
		if (w->parent) {
			const Window *k;

			for (k = w->parent->first_child; k && k != w; k = k->next_sibling)
				;
			if (!k || w->depth != w->parent->depth + 1)
				fail("frame %llu is not a child of window %llu one deeper (depth %u, parent's %u)",
				     (unsigned long long)w->id, (unsigned long long)w->parent->id, w->depth,
				     w->parent->depth);
			if (w->depth > l->max_frame_depth)
				fail("frame %llu is %u deep, max-frame-depth is %u", (unsigned long long)w->id, w->depth,
				     l->max_frame_depth);
		} else {
			uint32_t size = 0;

			CHECK(w->depth == 0);
			/* Depth-first through the tree, bounded by max-frames. */
			for (const Window *k = w; k && size <= l->max_frames;) {
				size++;
				if (k->first_child) {
					k = k->first_child;
					continue;
				}
				while (k != w && !k->next_sibling)
					k = k->parent;
				k = k == w ? NULL : k->next_sibling;
			}
			if (size != w->tree_size || size > l->max_frames)
				fail("window %llu: tree_size %u, its tree holds %u windows (max-frames %u)",
				     (unsigned long long)w->id, w->tree_size, size, l->max_frames);
		}
	}
	if (pending != claims_count(b->claims))
		fail("%zu pending windows, %u claim tokens", pending, claims_count(b->claims));
	for (const Connection *c = b->connections; c; c = c->next) {
		CHECK(c->n_pending_claims <= l->max_pending_claims);
		CHECK(c->n_broadcasts <= l->max_broadcasts_per_connection);
		claims += c->n_pending_claims;
		broadcasts += c->n_broadcasts;
	}
	CHECK(claims <= claims_count(b->claims));
	if (broadcasts != broadcast_count(b->broadcasts))
		fail("the connections count %u BroadcastChannels, the broker holds %llu", broadcasts,
		     (unsigned long long)broadcast_count(b->broadcasts));
}

static void check_broker(Harness *h)
{
	Broker *b = h->broker;
	Sums s = { 0 };
	uint64_t bytes, fds;
	uint32_t n = 0;

	for (Connection *c = b->connections; c; c = c->next, n++)
		check_connection(h, c, &s);
	CHECK(n == b->n_connections);
	for (uint64_t id = 1; ports_id_assigned(b->ports, id); id++) {
		const Port *p = ports_find(b->ports, id);

		if (!p)
			continue;
		if (p->state == PORT_CLOSED) {
			CHECK(!p->held && !p->returned && !p->peer && !p->owner && !p->next_owner);
			continue;
		}
		CHECK(!p->peer || p->peer->peer == p);
		if (p->state == PORT_OWNED)
			CHECK(p->owner && !p->next_owner && !p->held && !p->returned);
		for (const Held *m = p->held; m; m = m->next)
			sums_held(&s, m);
		for (const Held *m = p->returned; m; m = m->next)
			sums_held(&s, m);
	}
	for (size_t i = 0; i < s.n; i++) {
		const Account *a = s.account[i];

		if (a->bytes != s.bytes[i] || a->fds != s.fds[i])
			fail("uid %u is charged %llu bytes and %llu descriptors; what the broker holds for it "
			     "adds up to %llu and %llu", (unsigned)a->uid, (unsigned long long)a->bytes,
			     (unsigned long long)a->fds, (unsigned long long)s.bytes[i],
			     (unsigned long long)s.fds[i]);
		CHECK(a->reserved == s.reserved[i]);
		CHECK(a->connections == s.connections[i]);
	}
	account_table_totals(b->accounts, &bytes, &fds);
	if (bytes != s.total_bytes || fds != s.total_fds)
		fail("the accounts hold %llu bytes and %llu descriptors in all; the broker holds %llu and %llu",
		     (unsigned long long)bytes, (unsigned long long)fds, (unsigned long long)s.total_bytes,
		     (unsigned long long)s.total_fds);
	check_contexts(h);
}

/* ---- running the loop ------------------------------------------------ */

static uint64_t broker_signature(Harness *h)
{
	const BrokerStats *st = &h->broker->stats;
	uint64_t bytes, fds, sig;

	account_table_totals(h->broker->accounts, &bytes, &fds);
	sig = h->broker->n_connections * 31 + registry_count(h->broker->registry);
	sig = sig * 31 + ports_count(h->broker->ports);
	sig = sig * 31 + bytes;
	sig = sig * 31 + fds;
	sig = sig * 31 + st->messages_delivered + st->dropped_origin_mismatch + st->dropped_target_closed;
	sig = sig * 31 + st->senders_paused + st->connections_rejected + st->quota_rejects;
	for (int i = 0; i < N_CLIENTS; i++) {
		int queued = 0;

		if (h->clients[i].stream && ioctl(stream_fd(h->clients[i].stream), SIOCOUTQ, &queued) == 0)
			sig = sig * 31 + (uint64_t)queued;
		if (h->clients[i].stream && ioctl(stream_fd(h->clients[i].stream), FIONREAD, &queued) == 0)
			sig = sig * 31 + (uint64_t)queued;
	}
	return sig;
}

/* Writes the clients' output and runs the loop without blocking until
 * nothing moves: no client bytes, no change in the broker's counters, no
 * event active. */
static void pump(Harness *h)
{
	uint64_t last = 0;

	for (int turn = 0; turn < PUMP_TURNS; turn++) {
		/* Connections closed so far (ids are handed out in order). */
		uint64_t closed = h->broker->next_connection_id - h->broker->n_connections;
		bool in_transit[SEQ_IDS] = { false };
		bool moved = false;
		uint64_t sig;

		for (uint64_t id = 1; id < SEQ_IDS; id++) {
			const Port *p = ports_find(h->broker->ports, id);

			if (p && p->state == PORT_IN_TRANSIT && p->peer && p->peer->id < SEQ_IDS)
				in_transit[p->peer->id] = true;
		}
		for (int i = 0; i < N_CLIENTS; i++)
			moved |= client_pump(h, &h->clients[i]);
		CHECK(event_base_loop(h->base, EVLOOP_NONBLOCK) >= 0);
		/* A connection closed while ports were in transit: if it was a
		 * port's old owner, the port lands without the messages that
		 * owner still had, and its process may still dispatch them
		 * (events that came before the break are dispatched), as after
		 * a transit timeout. */
		if (h->broker->next_connection_id - h->broker->n_connections > closed)
			for (uint64_t id = 1; id < SEQ_IDS; id++)
				if (in_transit[id])
					h->tainted[id] = true;
		set_small_sndbuf(h);
		sig = broker_signature(h);
		/* Nothing active, and no connection waiting to be read in the
		 * loop's next turn (broker_resume_later()). */
		if (!moved && sig == last && turn > 0 &&
		    event_base_get_num_events(h->base, EVENT_BASE_COUNT_ACTIVE) == 0 &&
		    !evtimer_pending(h->broker->resume_event, NULL))
			break;
		last = sig;
	}
	check_broker(h);
}

/* ---- picking ids ----------------------------------------------------- */

/* A window id: mostly one of the client's own or one somebody was told
 * about (live or closed); sometimes a small raw id or one never given. */
static uint64_t pick_window(Harness *h, Client *c, uint8_t b)
{
	switch (b >> 6) {
	case 0:
		if (c->n_windows)
			return c->windows[b % c->n_windows];
		/* fall through */
	case 1:
		if (h->n_windows)
			return h->windows[b % h->n_windows];
		/* fall through */
	case 2:
		return b & 0x0f;
	default:
		return (b & 1) ? UINT64_MAX - (b & 0x0f) : (uint64_t)1 << (b & 0x3f);
	}
}

static uint64_t pick_port(Harness *h, Client *c, uint8_t b)
{
	switch (b >> 6) {
	case 0:
		if (c->n_ports)
			return c->ports[b % c->n_ports];
		/* fall through */
	case 1:
		if (h->n_ports)
			return h->ports[b % h->n_ports];
		/* fall through */
	case 2:
		return b & 0x0f;
	default:
		return UINT64_MAX - (b & 0x0f);
	}
}

static uint64_t pick_broadcast(Harness *h, Client *c, uint8_t b)
{
	switch (b >> 6) {
	case 0:
		if (c->n_broadcasts)
			return c->broadcasts[b % c->n_broadcasts];
		/* fall through */
	case 1:
		if (h->n_broadcasts)
			return h->broadcasts[b % h->n_broadcasts];
		/* fall through */
	case 2:
		return b & 0x0f;
	default:
		return UINT64_MAX - (b & 0x0f);
	}
}

static const char *const urls[] = {
	"https://a.example/",
	"https://b.example/page",
	"http://a.example:8080/x",
	"https://a.example/other",
	"data:text/plain,opaque",
	"file:///tmp/x",
	"https://xn--nxasmq6b.example/",
	"https://\xc3\xbc.example/",
	"not a url",
	"",
	"https://a-rather-long-host-name-for-the-small-limits.example/and/a/long/path",
	"blob:https://a.example/uuid",
};

static const char *const names[] = { "", "", "a", "b", "c", "a-name-longer-than-the-small-limit" };

static const char *const target_origins[] = {
	"*", "*", "/", "https://a.example", "https://b.example/any/path", "http://a.example:8080",
	"null", "not a url", "", "https://\xc3\xbc.example", "data:text/plain,x",
};

/* What window.open() and iframes are given: about:blank and srcdoc
 * (inheriting), javascript: (no new document), opaque ones, a parent's
 * site and another, bad ones. */
static const char *const context_urls[] = {
	"", "about:blank", "about:srcdoc", "javascript:void(0)", "https://a.example/",
	"https://b.example/page", "https://sub.a.example/", "data:text/html,x", "http://127.0.0.1/",
	"not a url", "https://a-rather-long-host-name-for-the-small-limits.example/and/a/long/path",
	"about:blank#x",
};

static const char *const targets[] = {
	"", "_blank", "_self", "_parent", "_top", "a", "b", "c", "_BLANK", "a-name-longer-than-the-small-limit",
};

static const char *const channel_names[] = { "", "x", "y", "a-name-longer-than-the-small-limit" };

#define PICK(table, b) ((table)[(b) % (sizeof(table) / sizeof((table)[0]))])

/* ---- ops ------------------------------------------------------------- */

enum {
	OP_HELLO, OP_REGISTER, OP_UNREGISTER, OP_NAVIGATE, OP_LOOKUP, OP_LIST, OP_STATS, OP_SYNC,
	OP_POST, OP_CREATE_CHANNEL, OP_PORT_POST, OP_PORT_CLOSE, OP_PORT_RETURN, OP_PORT_RELEASED,
	OP_RAW_BYTES, OP_RAW_FRAME, OP_RUN, OP_TOGGLE_READ, OP_CLOSE, OP_SHUTDOWN, OP_RECONNECT,
	OP_ADVANCE, OP_DISPATCH, OP_TOGGLE_MODE, OP_KIND_FRAME, OP_OPEN, OP_FRAME, OP_REMOVE_FRAME,
	OP_CLAIM, OP_CLOSE_WINDOW, OP_RELATION, OP_BROADCAST, N_OPS
};
_Static_assert(N_OPS <= 32, "an op byte has 5 bits for the kind");

/* Descriptors for a message: byte `spec` says how many (its low 3 bits,
 * 0..4) and whether the counts lie (0x80: the descriptor count, by
 * (spec >> 3 & 3) - 1; 0x40: the buffer sizes, one too many (0x20) or none); one byte per descriptor picks its kind and whether its
 * stated size is right.  Fills fds (dups of the pool: the frame's own),
 * sizes, and the counts to declare. */
typedef struct Attach {
	int fds[4];
	size_t n_fds;
	uint64_t sizes[5];
	size_t n_sizes;
	uint32_t declared;
} Attach;

static void attach(Input *in, Attach *a)
{
	uint8_t spec = take(in);

	memset(a, 0, sizeof(*a));
	a->n_fds = (spec & 7) % 5;
	for (size_t i = 0; i < a->n_fds; i++) {
		uint8_t k = take(in);
		int kind = (k & 0x7f) % N_POOL;

		a->fds[i] = fcntl(pool_fds[kind], F_DUPFD_CLOEXEC, 3);
		CHECK(a->fds[i] >= 0);
		a->sizes[i] = pool_sizes[kind] + ((k & 0x80) ? 1 : 0);
	}
	a->n_sizes = a->n_fds;
	a->declared = (uint32_t)a->n_fds;
	if (spec & 0x80)
		a->declared = (uint32_t)(a->n_fds + ((spec >> 3) & 3)) - 1u + (a->n_fds == 0);
	if (spec & 0x40)
		a->n_sizes = (spec & 0x20) ? a->n_fds + 1 : 0;
}

/* The same descriptors again, for the next message of a burst. */
static void attach_again(const Attach *a, int *fds)
{
	for (size_t i = 0; i < a->n_fds; i++) {
		fds[i] = fcntl(a->fds[i], F_DUPFD_CLOEXEC, 3);
		CHECK(fds[i] >= 0);
	}
}

static size_t take_payload(Harness *h, Input *in)
{
	size_t n = payload_size(take(in));

	if (h->payload_bytes + n > PAYLOAD_BUDGET)
		n = 0;
	h->payload_bytes += n;
	return n;
}

static size_t take_ports(Harness *h, Client *c, Input *in, uint64_t *ids)
{
	size_t n = take(in) % 4;

	for (size_t i = 0; i < n; i++)
		ids[i] = pick_port(h, c, take(in));
	return n;
}

static void op_post(Harness *h, Client *c, Input *in)
{
	Crosspost__Header hdr = CROSSPOST__HEADER__INIT;
	Crosspost__Post post = CROSSPOST__POST__INIT;
	uint8_t how = take(in);
	uint64_t ports[4];
	size_t repeat = (how & 0x80) ? 1 + ((how >> 4) & 7) : 1, len, n_ports;
	Tag tag = { 'W', 0, 0 };
	Attach a;

	post.sender_window_id = pick_window(h, c, take(in));
	tag.key = post.sender_window_id;
	post.target_window_id = pick_window(h, c, take(in));
	post.target_origin = (char *)PICK(target_origins, how & 0x0f);
	post.n_transfer_ports = n_ports = take_ports(h, c, in, ports);
	post.transfer_ports = ports;
	len = take_payload(h, in);
	attach(in, &a);
	post.fd_count = a.declared;
	post.n_buffer_sizes = a.n_sizes;
	post.buffer_sizes = a.sizes;
	hdr.body_case = CROSSPOST__HEADER__BODY_POST;
	hdr.post = &post;
	/* A burst: the same message again (its descriptors too, not its
	 * ports), to reach the queue marks within a few ops. */
	for (size_t i = 0; i < repeat && h->frames < MAX_FRAMES; i++) {
		int fds[4];

		if (i > 0 && h->payload_bytes + len > PAYLOAD_BUDGET)
			break;
		if (i > 0) {
			h->payload_bytes += len;
			hdr.serial = 0;
			post.n_transfer_ports = 0;
		}
		attach_again(&a, fds);
		tag.seq = tag.key < SEQ_IDS ? ++h->sent_window[tag.key] : 0;
		client_send(h, c, &hdr, NULL, len, tag.key < SEQ_IDS ? &tag : NULL, fds, a.n_fds);
	}
	close_fds(a.fds, a.n_fds);
	/* Transferred: no longer this client's (libcrosspost detaches them). */
	for (size_t i = 0; i < n_ports; i++)
		forget(c->ports, &c->n_ports, ports[i]);
}

static void op_port_post(Harness *h, Client *c, Input *in, bool returned)
{
	Crosspost__Header hdr = CROSSPOST__HEADER__INIT;
	Crosspost__PortPost post = CROSSPOST__PORT_POST__INIT;
	Crosspost__PortReturn ret = CROSSPOST__PORT_RETURN__INIT;
	uint8_t how = take(in);
	uint64_t ports[4];
	size_t n_ports, len, repeat = (how & 0x80) ? 1 + ((how >> 4) & 7) : 1;
	uint64_t port = pick_port(h, c, take(in));
	Tag tag = { 'P', port, 0 };
	/* Numbered only when the client holds the port: then every message
	 * posted on it before is routed before this one. */
	bool tagged = !returned && port < SEQ_IDS && contains(c->ports, c->n_ports, port);
	Attach a;

	n_ports = take_ports(h, c, in, ports);
	len = take_payload(h, in);
	attach(in, &a);
	if (returned) {
		ret.port_id = port;
		ret.fd_count = a.declared;
		ret.n_ports = n_ports;
		ret.ports = ports;
		ret.n_buffer_sizes = a.n_sizes;
		ret.buffer_sizes = a.sizes;
		hdr.body_case = CROSSPOST__HEADER__BODY_PORT_RETURN;
		hdr.port_return = &ret;
		repeat = 1;
	} else {
		post.port_id = port;
		post.fd_count = a.declared;
		post.n_transfer_ports = n_ports;
		post.transfer_ports = ports;
		post.n_buffer_sizes = a.n_sizes;
		post.buffer_sizes = a.sizes;
		hdr.body_case = CROSSPOST__HEADER__BODY_PORT_POST;
		hdr.port_post = &post;
	}
	for (size_t i = 0; i < repeat && h->frames < MAX_FRAMES; i++) {
		int fds[4];

		if (i > 0 && h->payload_bytes + len > PAYLOAD_BUDGET)
			break;
		if (i > 0) {
			h->payload_bytes += len;
			hdr.serial = 0;
			post.n_transfer_ports = 0;
		}
		attach_again(&a, fds);
		tag.seq = tagged ? ++h->sent_port[tag.key] : 0;
		client_send(h, c, &hdr, NULL, len, tagged ? &tag : NULL, fds, a.n_fds);
	}
	close_fds(a.fds, a.n_fds);
	/* Transferred: no longer this client's (libcrosspost detaches them). */
	for (size_t i = 0; i < n_ports; i++)
		forget(c->ports, &c->n_ports, ports[i]);
}

/* Raw bytes of the input, framed by the harness (so that the fuzzer
 * mutates a Header's protobuf bytes, any kind, broker-only ones too) or
 * not (anything at all, mid-frame stops included).  A framed one may
 * declare a payload of up to 8 MiB and send only its first bytes: a large
 * frame that the broker admits against its uid's budget before reading it,
 * and that never completes. */
static void op_raw(Harness *h, Client *c, Input *in, bool framed)
{
	size_t n = take(in), payload = framed ? take_payload(h, in) : 0, declared = payload;
	uint8_t prefix[FRAME_PREFIX_SIZE];
	uint32_t lengths[2];
	Attach a;

	if (framed) {
		uint8_t big = take(in);

		if (big)
			declared = (size_t)big * 32u * 1024u;
		if (payload > declared)
			payload = declared;
	}

	attach(in, &a);
	if (n > in->n)
		n = in->n;
	if (!c->stream || c->broken) {
		close_fds(a.fds, a.n_fds);
		in->p += n;
		in->n -= n;
		return;
	}
	if (a.n_fds > 0 && stream_queue_fds(c->stream, a.fds, a.n_fds) < 0)
		close_fds(a.fds, a.n_fds);
	if (framed) {
		lengths[0] = htole32((uint32_t)n);
		lengths[1] = htole32((uint32_t)declared);
		memcpy(prefix, lengths, sizeof(prefix));
		evbuffer_add(stream_output(c->stream), prefix, sizeof(prefix));
	}
	evbuffer_add(stream_output(c->stream), in->p, n);
	if (framed)
		evbuffer_add(stream_output(c->stream), pattern, payload);
	in->p += n;
	in->n -= n;
	h->frames++;
}

/* A claim token: mostly one the broker gave (to any client), else a
 * forgery: one character off, too long, empty, not text. */
static void take_token(Harness *h, Input *in, char *token, size_t size)
{
	uint8_t b = take(in);
	const char *given = h->n_tokens ? h->tokens[b % (h->n_tokens < N_TOKENS ? h->n_tokens : N_TOKENS)] : "";

	snprintf(token, size, "%s", given);
	switch ((b >> 5) & 7) {
	case 5:
		if (*token)
			token[b % strlen(token)] ^= 1;
		break;
	case 6:
		memset(token, b & 1 ? 'A' : '\xff', size - 1);
		token[(b & 2) ? size - 1 : CLAIM_TOKEN_LENGTH] = '\0';
		break;
	case 7:
		*token = '\0';
		break;
	default:
		break;
	}
}

/* Browsing contexts: window.open, iframes, claims, close, remove,
 * relations (contexts.h). */
static void op_context(Harness *h, Client *c, Input *in, int op)
{
	Crosspost__Header hdr = CROSSPOST__HEADER__INIT;
	char token[4 * CLAIM_TOKEN_LENGTH];

	switch (op) {
	case OP_OPEN: {
		Crosspost__OpenWindow req = CROSSPOST__OPEN_WINDOW__INIT;
		uint8_t t;

		req.opener_window_id = pick_window(h, c, take(in));
		req.url = (char *)PICK(context_urls, take(in));
		t = take(in);
		req.target = (char *)PICK(targets, t & 0x7f);
		req.noopener = (t & 0x80) != 0;
		hdr.body_case = CROSSPOST__HEADER__BODY_OPEN_WINDOW;
		hdr.open_window = &req;
		client_send(h, c, &hdr, NULL, 0, NULL, NULL, 0);
		break;
	}
	case OP_FRAME: {
		Crosspost__CreateFrame req = CROSSPOST__CREATE_FRAME__INIT;
		uint8_t u;

		req.parent_window_id = pick_window(h, c, take(in));
		u = take(in);
		req.url = (char *)PICK(context_urls, u & 0x0f);
		req.name = (char *)PICK(names, u >> 4);
		hdr.body_case = CROSSPOST__HEADER__BODY_CREATE_FRAME;
		hdr.create_frame = &req;
		client_send(h, c, &hdr, NULL, 0, NULL, NULL, 0);
		break;
	}
	case OP_REMOVE_FRAME: {
		Crosspost__RemoveFrame req = CROSSPOST__REMOVE_FRAME__INIT;

		req.parent_window_id = pick_window(h, c, take(in));
		req.frame_window_id = pick_window(h, c, take(in));
		hdr.body_case = CROSSPOST__HEADER__BODY_REMOVE_FRAME;
		hdr.remove_frame = &req;
		client_send(h, c, &hdr, NULL, 0, NULL, NULL, 0);
		break;
	}
	case OP_CLAIM: {
		Crosspost__Claim req = CROSSPOST__CLAIM__INIT;

		take_token(h, in, token, sizeof(token));
		req.token = token;
		req.privileged = (take(in) & 1) != 0;
		hdr.body_case = CROSSPOST__HEADER__BODY_CLAIM;
		hdr.claim = &req;
		client_send(h, c, &hdr, NULL, 0, NULL, NULL, 0);
		break;
	}
	case OP_CLOSE_WINDOW: {
		Crosspost__CloseWindow req = CROSSPOST__CLOSE_WINDOW__INIT;

		req.by_window_id = pick_window(h, c, take(in));
		req.window_id = pick_window(h, c, take(in));
		hdr.body_case = CROSSPOST__HEADER__BODY_CLOSE_WINDOW;
		hdr.close_window = &req;
		client_send(h, c, &hdr, NULL, 0, NULL, NULL, 0);
		break;
	}
	case OP_RELATION: {
		Crosspost__Relation req = CROSSPOST__RELATION__INIT;
		uint8_t k;

		req.window_id = pick_window(h, c, take(in));
		k = take(in);
		/* Kinds 0..6 and one the broker does not know. */
		req.kind = (Crosspost__RelationKind)(k % 8);
		req.index = (k & 0x80) ? UINT32_MAX - (k & 7) : (k >> 3) & 0x0f;
		req.name = (char *)PICK(names, k >> 3);
		hdr.body_case = CROSSPOST__HEADER__BODY_RELATION;
		hdr.relation = &req;
		client_send(h, c, &hdr, NULL, 0, NULL, NULL, 0);
		break;
	}
	}
}

/* BroadcastChannel: open on a window, post (payload and maybe
 * descriptors), close. */
static void op_broadcast(Harness *h, Client *c, Input *in)
{
	Crosspost__Header hdr = CROSSPOST__HEADER__INIT;
	uint8_t b = take(in);

	switch (b % 3) {
	case 0: {
		Crosspost__BroadcastOpen req = CROSSPOST__BROADCAST_OPEN__INIT;

		req.window_id = pick_window(h, c, take(in));
		req.name = (char *)PICK(channel_names, b >> 2);
		hdr.body_case = CROSSPOST__HEADER__BODY_BROADCAST_OPEN;
		hdr.broadcast_open = &req;
		client_send(h, c, &hdr, NULL, 0, NULL, NULL, 0);
		break;
	}
	case 1: {
		Crosspost__BroadcastPost req = CROSSPOST__BROADCAST_POST__INIT;
		size_t len;
		Attach a;

		req.channel_id = pick_broadcast(h, c, take(in));
		len = take_payload(h, in);
		attach(in, &a);
		hdr.body_case = CROSSPOST__HEADER__BODY_BROADCAST_POST;
		hdr.broadcast_post = &req;
		client_send(h, c, &hdr, NULL, len, NULL, a.fds, a.n_fds);
		break;
	}
	default: {
		Crosspost__BroadcastClose req = CROSSPOST__BROADCAST_CLOSE__INIT;

		req.channel_id = pick_broadcast(h, c, take(in));
		forget(c->broadcasts, &c->n_broadcasts, req.channel_id);
		hdr.body_case = CROSSPOST__HEADER__BODY_BROADCAST_CLOSE;
		hdr.broadcast_close = &req;
		client_send(h, c, &hdr, NULL, 0, NULL, NULL, 0);
		break;
	}
	}
}

static void run_op(Harness *h, Input *in)
{
	uint8_t op = take(in), b;
	int kind = (op & 0x1f) % N_OPS, who = (op >> 5) & 3;
	bool run_after = who != 3;
	Client *c;
	Crosspost__Header hdr = CROSSPOST__HEADER__INIT;

	if (who == 3)
		who = h->last_client;
	else
		h->last_client = who %= N_CLIENTS;
	c = &h->clients[who];
	switch (kind) {
	case OP_HELLO: {
		Crosspost__Hello hello = CROSSPOST__HELLO__INIT;

		b = take(in);
		hello.version = b < 0xf0 ? FRAME_PROTOCOL_VERSION : b & 0x0f;
		hello.client_name = (char *)PICK(names, b);
		hdr.body_case = CROSSPOST__HEADER__BODY_HELLO;
		hdr.hello = &hello;
		client_send(h, c, &hdr, NULL, 0, NULL, NULL, 0);
		break;
	}
	case OP_REGISTER: {
		Crosspost__Register reg = CROSSPOST__REGISTER__INIT;

		b = take(in);
		reg.url = (char *)PICK(urls, b);
		reg.name = (char *)PICK(names, b >> 4);
		reg.privileged = (b & 0x80) != 0;
		hdr.body_case = CROSSPOST__HEADER__BODY_REGISTER;
		hdr.register_ = &reg;
		client_send(h, c, &hdr, NULL, 0, NULL, NULL, 0);
		break;
	}
	case OP_UNREGISTER: {
		Crosspost__Unregister unreg = CROSSPOST__UNREGISTER__INIT;

		unreg.window_id = pick_window(h, c, take(in));
		forget(c->windows, &c->n_windows, unreg.window_id);
		hdr.body_case = CROSSPOST__HEADER__BODY_UNREGISTER;
		hdr.unregister = &unreg;
		client_send(h, c, &hdr, NULL, 0, NULL, NULL, 0);
		break;
	}
	case OP_NAVIGATE: {
		Crosspost__Navigate nav = CROSSPOST__NAVIGATE__INIT;

		nav.window_id = pick_window(h, c, take(in));
		nav.url = (char *)PICK(urls, take(in));
		hdr.body_case = CROSSPOST__HEADER__BODY_NAVIGATE;
		hdr.navigate = &nav;
		client_send(h, c, &hdr, NULL, 0, NULL, NULL, 0);
		break;
	}
	case OP_LOOKUP: {
		Crosspost__Lookup lookup = CROSSPOST__LOOKUP__INIT;

		lookup.name = (char *)PICK(names, take(in));
		hdr.body_case = CROSSPOST__HEADER__BODY_LOOKUP;
		hdr.lookup = &lookup;
		client_send(h, c, &hdr, NULL, 0, NULL, NULL, 0);
		break;
	}
	case OP_LIST: {
		Crosspost__ListWindows list = CROSSPOST__LIST_WINDOWS__INIT;

		list.after_id = pick_window(h, c, take(in));
		hdr.body_case = CROSSPOST__HEADER__BODY_LIST_WINDOWS;
		hdr.list_windows = &list;
		client_send(h, c, &hdr, NULL, 0, NULL, NULL, 0);
		break;
	}
	case OP_STATS: {
		Crosspost__GetStats stats = CROSSPOST__GET_STATS__INIT;

		hdr.body_case = CROSSPOST__HEADER__BODY_GET_STATS;
		hdr.get_stats = &stats;
		client_send(h, c, &hdr, NULL, 0, NULL, NULL, 0);
		break;
	}
	case OP_SYNC: {
		Crosspost__Sync sync = CROSSPOST__SYNC__INIT;

		hdr.body_case = CROSSPOST__HEADER__BODY_SYNC;
		hdr.sync = &sync;
		client_send(h, c, &hdr, NULL, 0, NULL, NULL, 0);
		break;
	}
	case OP_POST:
		op_post(h, c, in);
		break;
	case OP_CREATE_CHANNEL: {
		Crosspost__CreateChannel req = CROSSPOST__CREATE_CHANNEL__INIT;

		req.window_id = pick_window(h, c, take(in));
		hdr.body_case = CROSSPOST__HEADER__BODY_CREATE_CHANNEL;
		hdr.create_channel = &req;
		client_send(h, c, &hdr, NULL, 0, NULL, NULL, 0);
		break;
	}
	case OP_PORT_POST:
		op_port_post(h, c, in, false);
		break;
	case OP_PORT_CLOSE: {
		Crosspost__PortClose req = CROSSPOST__PORT_CLOSE__INIT;

		req.port_id = pick_port(h, c, take(in));
		forget(c->ports, &c->n_ports, req.port_id);
		hdr.body_case = CROSSPOST__HEADER__BODY_PORT_CLOSE;
		hdr.port_close = &req;
		client_send(h, c, &hdr, NULL, 0, NULL, NULL, 0);
		break;
	}
	case OP_PORT_RETURN:
		op_port_post(h, c, in, true);
		break;
	case OP_PORT_RELEASED:
		/* Mostly the late answer to a PortMoved, as libcrosspost would
		 * give it; else a bare PortReleased naming any port. */
		b = take(in);
		if (!(b & 0x80) && c->n_moved > 0)
			return_and_release(h, c, c->moved[b % c->n_moved]);
		else
			send_port_released(h, c, pick_port(h, c, b));
		break;
	case OP_RAW_BYTES:
		op_raw(h, c, in, false);
		break;
	case OP_RAW_FRAME:
		op_raw(h, c, in, true);
		break;
	case OP_RUN:
		break;
	case OP_TOGGLE_READ:
		c->reading = !c->reading;
		break;
	case OP_CLOSE:
		client_close(c);
		break;
	case OP_SHUTDOWN:
		/* Half-close: the broker sees the end of the stream, the
		 * client may still read. */
		if (c->stream)
			shutdown(stream_fd(c->stream), SHUT_WR);
		c->broken = true;
		break;
	case OP_RECONNECT:
		client_connect(h, who);
		break;
	case OP_ADVANCE:
		/* Past the small handshake timeout, the small transit timeout,
		 * or both defaults. */
		b = take(in);
		for (uint64_t id = 1; id < SEQ_IDS; id++) {
			const Port *p = ports_find(h->broker->ports, id);

			/* Its transit may time out: its old owner may then dispatch
			 * messages older than the new owner's. */
			if (p && p->state == PORT_IN_TRANSIT && p->peer && p->peer->id < SEQ_IDS)
				h->tainted[p->peer->id] = true;
		}
		clock_offset_ns += (int64_t)(b % 3 == 0 ? 1100 : b % 3 == 1 ? 2100 : 11000) * 1000000;
		break;
	case OP_DISPATCH:
		dispatch_kept(h, c);
		break;
	case OP_KIND_FRAME: {
		/* A frame of any kind (field 10 to 49 of Header, the
		 * broker's own ones too) with an empty body, and maybe a
		 * payload: what a client may not send is refused by kind. */
		uint8_t bytes[4];
		size_t n = 0, len;
		unsigned field = 10 + take(in) % 40, tag = field << 3 | 2;

		len = take_payload(h, in);
		bytes[n++] = (uint8_t)(tag < 128 ? tag : (tag & 0x7f) | 0x80);
		if (tag >= 128)
			bytes[n++] = (uint8_t)(tag >> 7);
		bytes[n++] = 0;
		if (c->stream && !c->broken) {
			uint32_t lengths[2] = { htole32((uint32_t)n), htole32((uint32_t)len) };

			evbuffer_add(stream_output(c->stream), lengths, sizeof(lengths));
			evbuffer_add(stream_output(c->stream), bytes, n);
			evbuffer_add(stream_output(c->stream), pattern, len);
			h->frames++;
		}
		break;
	}
	case OP_OPEN:
	case OP_FRAME:
	case OP_REMOVE_FRAME:
	case OP_CLAIM:
	case OP_CLOSE_WINDOW:
	case OP_RELATION:
		op_context(h, c, in, kind);
		break;
	case OP_BROADCAST:
		op_broadcast(h, c, in);
		break;
	case OP_TOGGLE_MODE:
		b = take(in);
		c->auto_release = b & 1;
		c->keep_events = (b & 2) != 0;
		break;
	}
	if (run_after)
		pump(h);
}

/* ---- one input ------------------------------------------------------- */

static void configure(Harness *h, Input *in, BrokerLimits *l)
{
	uint8_t a = take(in), b = take(in);

	limits_init(l);
	if (a & 0x01) {
		/* The smallest queues limits_set() accepts: a receiver's socket
		 * buffer and what waits for it fill within a few frames. */
		l->queue_high = 64 * 1024;
		l->queue_low = 16 * 1024;
		l->park_high = 64 * 1024;
		l->park_low = 16 * 1024;
		l->bytes_per_uid = (a & 0x02) ? 1024 * 1024 : 4 * 1024 * 1024;
	} else if (a & 0x02) {
		l->bytes_per_uid = 2 * (l->queue_high + l->park_high);
	}
	/* The largest message the budget allows (limits_check()), or a
	 * small one. */
	if (l->max_message_size + FRAME_PREFIX_SIZE + FRAME_HEADER_MAX > l->bytes_per_uid - l->bytes_per_uid / 4)
		l->max_message_size = l->bytes_per_uid - l->bytes_per_uid / 4 - FRAME_PREFIX_SIZE - FRAME_HEADER_MAX;
	if (a & 0x04)
		l->max_message_size = 256 * 1024;
	if (a & 0x08) {
		l->max_windows_per_connection = 2;
		l->max_ports_per_connection = 4;
		l->max_frame_depth = 2;
		l->max_frames = 3;
		l->max_pending_claims = 2;
		l->max_broadcasts_per_connection = 2;
	}
	if (a & 0x10) {
		l->max_url_length = 24;
		l->max_name_length = 4;
	}
	if (a & 0x20) {
		l->max_fds_per_message = 2;
		l->queue_fds_high = 3;
		l->fds_per_uid = 16;
	}
	if (a & 0x40) {
		l->handshake_timeout_ms = 1000;
		l->transit_timeout_ms = 2000;
		l->claim_timeout_ms = 2000;
	}
	if (a & 0x80) {
		l->max_connections = 2;
		l->max_connections_per_uid = 2;
		l->max_pending_connections = 1;
	}
	h->small_sndbuf = b & 0x01;
	h->direct_other_uid = (b & 0x02) != 0;
	for (int i = 0; i < N_CLIENTS; i++) {
		h->clients[i].reading = true;
		h->clients[i].auto_release = (b >> (2 + i)) & 1;
		h->clients[i].keep_events = (b >> 5) & 1;
	}
}

static void listen_socket(Harness *h, int *ret_fd)
{
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	CHECK(fd >= 0);
	/* Autobind: a fresh abstract address, nothing in the file system. */
	memset(&h->addr, 0, sizeof(h->addr));
	h->addr.sun_family = AF_UNIX;
	CHECK(bind(fd, (struct sockaddr *)&h->addr, sizeof(sa_family_t)) == 0);
	h->addr_len = sizeof(h->addr);
	CHECK(getsockname(fd, (struct sockaddr *)&h->addr, &h->addr_len) == 0);
	CHECK(listen(fd, 4) == 0);
	*ret_fd = fd;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	Input in = { data, size };
	Harness h = { 0 };
	BrokerLimits limits;
	const char *reason;
	size_t fds_before;
	uint64_t bytes, fds;
	int listen_fd;

	init_once();
	fds_before = open_fd_count();
	configure(&h, &in, &limits);
	CHECK(limits_check(&limits, &reason) == 0);
	h.base = event_base_new();
	CHECK(h.base);
	listen_socket(&h, &listen_fd);
	CHECK(broker_new(&h.broker, h.base, listen_fd, &limits) == 0);
	for (int i = 0; i < N_CLIENTS; i++)
		client_connect(&h, i);
	pump(&h);
	for (int ops = 0; ops < MAX_OPS && in.n > 0 && h.frames < MAX_FRAMES; ops++)
		run_op(&h, &in);

	/* Everyone reads what is left and dispatches what it kept, then hangs
	 * up: the broker must notice every hang-up (paused connections too)
	 * and release everything. */
	for (int i = 0; i < N_CLIENTS; i++)
		h.clients[i].reading = true;
	pump(&h);
	for (int i = 0; i < N_CLIENTS; i++) {
		dispatch_kept(&h, &h.clients[i]);
		client_close(&h.clients[i]);
	}
	/* One pump stops after PUMP_TURNS turns; a backlog drained through
	 * the small socket buffers can need more before the last hang-up is
	 * read.  A connection still left after many pumps is a leak. */
	for (int round = 0; round < 64 && h.broker->n_connections != 0; round++)
		pump(&h);
	/* Windows opened or framed and never claimed go at claim-timeout. */
	clock_offset_ns += (int64_t)(h.broker->limits.claim_timeout_ms + 1000) * 1000000;
	pump(&h);
	if (h.broker->n_connections != 0)
		fail("%u connections are left after every client hung up", h.broker->n_connections);
	if (registry_count(h.broker->registry) != 0)
		fail("%zu windows are left after every client hung up and claim-timeout passed",
		     registry_count(h.broker->registry));
	CHECK(claims_count(h.broker->claims) == 0);
	CHECK(broadcast_count(h.broker->broadcasts) == 0);
	CHECK(ports_count(h.broker->ports) == 0);
	account_table_totals(h.broker->accounts, &bytes, &fds);
	if (bytes || fds)
		fail("the accounts still hold %llu bytes and %llu descriptors with no connection left",
		     (unsigned long long)bytes, (unsigned long long)fds);
	broker_free(h.broker);
	event_base_free(h.base);
	if (open_fd_count() != fds_before)
		fail("%zu descriptors open before the input, %zu after", fds_before, open_fd_count());
	return 0;
}
