/* SPDX-License-Identifier: MIT */
/* client.c - connecting to the broker, the handshake, request and reply. */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <event2/buffer.h>

#include "cleanup.h"
#include "client.h"
#include "error.h"
#include "socket_path.h"
#include "stream.h"

static unsigned forks;
static pthread_once_t forks_once = PTHREAD_ONCE_INIT;

static void count_fork(void)
{
	forks++;
}

static void watch_forks(void)
{
	pthread_atfork(NULL, NULL, count_fork);
}

/* Cheaper than getpid() on every post (glibc does not cache it). */
unsigned client_forks(void)
{
	return forks;
}

int client_fail(cp_client *c, const char *fmt, ...)
{
	char message[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(message, sizeof(message), fmt, ap);
	va_end(ap);
	client_mark_lost(c, message);
	return error_set(CP_ERR_NETWORK, "%s", message);
}

int client_error_from_wire(Crosspost__ErrorCode code)
{
	switch (code) {
	case CROSSPOST__ERROR_CODE__ERROR_SYNTAX: return CP_ERR_SYNTAX;
	case CROSSPOST__ERROR_CODE__ERROR_NOT_FOUND: return CP_ERR_NOT_FOUND;
	case CROSSPOST__ERROR_CODE__ERROR_INVALID_STATE: return CP_ERR_INVALID_STATE;
	case CROSSPOST__ERROR_CODE__ERROR_CONSTRAINT: return CP_ERR_CONSTRAINT;
	case CROSSPOST__ERROR_CODE__ERROR_NOT_SUPPORTED: return CP_ERR_NOT_SUPPORTED;
	case CROSSPOST__ERROR_CODE__ERROR_DATA_CLONE: return CP_ERR_DATA_CLONE;
	case CROSSPOST__ERROR_CODE__ERROR_SECURITY: return CP_ERR_SECURITY;
	case CROSSPOST__ERROR_CODE__ERROR_QUOTA: return CP_ERR_QUOTA;
	case CROSSPOST__ERROR_CODE__ERROR_RANGE: return CP_ERR_RANGE;
	default: return CP_ERR_NETWORK;
	}
}

static void free_payload(const void *data, size_t length, void *userdata)
{
	(void)length;
	(void)userdata;
	free((void *)data);
}

/* The payload of bytes with the segments' bytes inserted where they
 * belong, those by reference (the caller writes them before it returns);
 * bytes is freed. */
static struct evbuffer *payload_with_segments(uint8_t *bytes, size_t length, const ValueSegments *segments)
{
	struct evbuffer *payload = evbuffer_new();
	size_t pos = 0;
	int r = payload ? 0 : -1;

	for (size_t i = 0; r == 0 && i < segments->n; i++) {
		r = evbuffer_add(payload, bytes + pos, segments->seg[i].at - pos);
		if (r == 0)
			r = evbuffer_add_reference(payload, segments->seg[i].data, segments->seg[i].len, NULL, NULL);
		pos = segments->seg[i].at;
	}
	if (r == 0)
		r = evbuffer_add(payload, bytes + pos, length - pos);
	free(bytes);
	if (r < 0 && payload) {
		evbuffer_free(payload);
		payload = NULL;
	}
	return payload;
}

int client_send_message(cp_client *c, Crosspost__Header *header, uint8_t *bytes, size_t length,
			const ValueSegments *segments, int *fds, size_t n_fds, bool write_now)
{
	struct evbuffer *payload = NULL;
	bool by_reference = segments && segments->n > 0;
	size_t total = length + (by_reference ? segments->bytes : 0);
	int r;

	/* Checked before anything is queued: descriptors attach to the next
	 * frame appended, which must be this one. */
	if (total > c->max_message_size) {
		free(bytes);
		close_fds(fds, n_fds);
		return error_set(CP_ERR_DATA_CLONE, "the serialized data (%zu bytes) is over the broker's "
				 "max-message-size (%llu bytes)", total, (unsigned long long)c->max_message_size);
	}
	if (n_fds > c->max_fds_per_message) {
		free(bytes);
		close_fds(fds, n_fds);
		return error_set(CP_ERR_DATA_CLONE, "%zu transferred buffers; the broker's max-fds-per-message "
				 "is %u", n_fds, c->max_fds_per_message);
	}
	/* Descriptors ride on the frame's first byte: queued before it. */
	r = stream_queue_fds(c->stream, fds, n_fds);
	if (r < 0) {
		free(bytes);
		close_fds(fds, n_fds);
		return error_set(CP_ERR_NO_MEMORY, "cannot queue %zu descriptors", n_fds);
	}
	header->serial = client_next_serial(c);
	if (by_reference) {
		/* Large ArrayBuffers' bytes go to the socket from the values
		 * themselves, so the post is written now, whether batching or
		 * not: nothing may refer to them once we return. */
		payload = payload_with_segments(bytes, length, segments);
		r = payload ? frame_append(stream_output(c->stream), header, payload) : -ENOMEM;
		if (r < 0) {
			r = error_set(CP_ERR_NO_MEMORY, "out of memory");
			goto out;
		}
		r = client_flush(c, true);
		/* Not all written (the connection failed): what is left is
		 * copied out of the values, or dropped with the connection. */
		if (evbuffer_get_length(stream_output(c->stream)) > 0 &&
		    !evbuffer_pullup(stream_output(c->stream), -1))
			evbuffer_drain(stream_output(c->stream), evbuffer_get_length(stream_output(c->stream)));
		goto out;
	}
	if (length <= FRAME_INLINE_MAX) {
		/* Small: copied beside the header, one chunk, one iovec. */
		r = frame_append_bytes(stream_output(c->stream), header, bytes, length);
		free(bytes);
		if (r < 0)
			return error_set(CP_ERR_NO_MEMORY, "out of memory");
		return write_now || !c->batching ? client_flush(c, true) : client_queued(c);
	}
	/* Large: handed to the output by reference; the kernel copies them
	 * once, when written. */
	payload = evbuffer_new();
	if (!payload || evbuffer_add_reference(payload, bytes, length, free_payload, NULL) < 0) {
		free(bytes);
		r = error_set(CP_ERR_NO_MEMORY, "out of memory");
		goto out;
	}
	r = frame_append(stream_output(c->stream), header, payload);
	if (r < 0) {
		r = error_set(CP_ERR_NO_MEMORY, "out of memory");
		goto out;
	}
	r = write_now || !c->batching ? client_flush(c, true) : client_queued(c);
out:
	if (payload)
		evbuffer_free(payload);
	return r;
}

int client_check_size(const char *what, const char *s, size_t max, const char *limit_name)
{
	size_t len = strlen(s);

	if (len <= max)
		return 0;
	return error_set(CP_ERR_RANGE, "the %s is %zu bytes; the limit is %zu bytes (%s)", what, len, max,
			 limit_name);
}

uint32_t client_next_serial(cp_client *c)
{
	if (++c->next_serial == 0)
		c->next_serial = 1;
	return c->next_serial;
}

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Sorts one frame that is not the reply being waited for. */
static int client_take_frame(cp_client *c, Frame *frame)
{
	const Crosspost__Header *h = frame->header;

	switch (h->body_case) {
	case CROSSPOST__HEADER__BODY_PORT_MOVED: {
		int r = client_port_moved(c, h->port_moved->port_id);

		frame_free(frame);
		return r;
	}
	case CROSSPOST__HEADER__BODY_EVENT:
		/* Ports arrive with their event: their handles exist from now on,
		 * so messages for them that follow are queued, not lost. */
		for (size_t i = 0; i < h->event->n_ports; i++) {
			cp_port *port = client_port_for_id(c, h->event->ports[i]);

			if (!port) {
				frame_free(frame);
				return error_set(CP_ERR_NO_MEMORY, "out of memory");
			}
			port_bind_to_event(port, c, h->event);
		}
		if (event_queue_push(&c->events, frame) < 0) {
			frame_free(frame);
			return error_set(CP_ERR_NO_MEMORY, "out of memory queueing an event");
		}
		return 0;
	case CROSSPOST__HEADER__BODY_MONITOR_EVENT:
		/* In order with the events around it, dispatched like them. */
		event_queue_push(&c->events, frame);
		return 0;
	case CROSSPOST__HEADER__BODY_WINDOW_NAVIGATED:
	case CROSSPOST__HEADER__BODY_WINDOW_CLOSED:
		/* Taken in order with the events around it: the ones before are
		 * for the old document (context.c). */
		context_take_notice(c, h);
		frame_free(frame);
		return 0;
	case CROSSPOST__HEADER__BODY_ERROR:
		if (h->serial == 0) {
			int r = client_fail(c, "the broker closed the connection: %s", h->error->message);

			frame_free(frame);
			return r;
		}
		/* Posts are not answered unless they fail; keep the first
		 * failure for cp_client_sync(). */
		if (c->post_error == 0) {
			c->post_error = client_error_from_wire(h->error->code);
			snprintf(c->post_error_message, sizeof(c->post_error_message), "%s", h->error->message);
		}
		frame_free(frame);
		return 0;
	default:
		frame_free(frame);
		return 0;
	}
}

/* Events parsed ahead of their dispatch, at most.  A flood is read in
 * large gulps (client_read_available()); parsed whole, one gulp was tens
 * of thousands of frames allocated at once, and glibc grew and trimmed
 * the heap for each (20% of a receiver's time at 64 B).  The rest stays
 * bytes in the input until dispatch_once() takes it, batch by batch. */
#define PARSE_AHEAD_EVENTS 128

/* Parses the whole frames in the input: every one when wanted_serial is
 * non-zero (returns 1 with *ret_reply when its reply arrives), else until
 * PARSE_AHEAD_EVENTS events wait for dispatch (c->parse_stopped). */
static int client_parse_input(cp_client *c, uint32_t wanted_serial, Frame **ret_reply)
{
	c->parse_stopped = false;
	for (;;) {
		const char *reason = "?";
		Frame *frame = NULL;
		size_t missing = 0;
		int r;

		/* Not with a payload read ahead either: it belongs to the
		 * frame at the front of the input, which is parsed first. */
		if (!wanted_serial && !c->partial && !c->ahead.block && c->events.length >= PARSE_AHEAD_EVENTS) {
			c->parse_stopped = true;
			return 0;
		}
		/* A large payload is read in place, into a pooled block
		 * (frame_parse_start()). */
		if (c->partial) {
			if (c->partial_missing > 0)
				return 0;
			frame = c->partial;
			c->partial = NULL;
		} else {
			r = frame_parse_start(stream_input(c->stream), &c->frames, &c->ahead, &frame, &missing, &reason);
			if (r == 0)
				return 0;
			if (r < 0)
				return client_fail(c, "malformed frame from the broker: %s", reason);
			frame_expect_after(&c->expect, frame);
			if (missing > 0) {
				c->partial = frame;
				c->partial_missing = missing;
				return 0;
			}
		}
		if (frame_take_fds(frame, c->stream) < 0) {
			frame_free(frame);
			return client_fail(c, "an event from the broker lacks its descriptors");
		}
		if (wanted_serial && frame->header->serial == wanted_serial &&
		    frame->header->body_case != CROSSPOST__HEADER__BODY_EVENT) {
			*ret_reply = frame;
			return 1;
		}
		r = client_take_frame(c, frame);
		if (r < 0)
			return r;
	}
}

/* What a read's result means: 1 when bytes came, 0 when none were ready
 * (or a signal came first), or CP_ERR_NETWORK, the connection lost. */
static int read_outcome(cp_client *c, ssize_t n)
{
	if (n == -EAGAIN || n == -EINTR)
		return 0;
	if (n == 0)
		return client_fail(c, "the broker closed the connection");
	if (n < 0)
		return client_fail(c, "reading from the broker: %s", strerror((int)-n));
	return 1;
}

/* One non-blocking read.  Returns 1 when bytes came, 0 when none were
 * ready, or CP_ERR_NETWORK. */
/* Whether the next read should be frame_read_expected()'s. */
static bool expecting(cp_client *c)
{
	return c->expect.confirmed && evbuffer_get_length(stream_input(c->stream)) == 0;
}

static int client_read_once(cp_client *c)
{
	Frame *f = c->partial;
	/* The rest of a large payload, and in the same read no more than the
	 * next header: a large message is often followed by another, whose
	 * payload is then read in place too (one recvmsg a message). */
	ssize_t n = f ? stream_read_to(c->stream, f->block + (f->block_length - c->partial_missing),
				       c->partial_missing, STREAM_READ_HEADER) :
		    expecting(c) ? frame_read_expected(c->stream, &c->expect, false, &c->ahead) :
		    stream_read(c->stream);

	if (n > 0 && c->partial)
		c->partial_missing -= (size_t)n < c->partial_missing ? (size_t)n : c->partial_missing;
	return read_outcome(c, n);
}

bool client_may_wait_in_read(const cp_client *c)
{
	return !c->broken && !c->partial && stream_may_wait(c->stream) &&
	       evbuffer_get_length(stream_output(c->stream)) == 0;
}

bool client_parse_stopped(const cp_client *c)
{
	return c->parse_stopped && !c->broken;
}

int client_parse_available(cp_client *c)
{
	int r;

	if (c->broken)
		return client_lost_error(c);
	r = client_parse_input(c, 0, NULL);
	return r < 0 ? r : 0;
}

int client_read_waiting(cp_client *c)
{
	int r;

	if (c->broken)
		return client_lost_error(c);
	r = read_outcome(c, expecting(c) ? frame_read_expected(c->stream, &c->expect, true, &c->ahead) :
			    stream_read_waiting(c->stream));
	return r <= 0 ? r : client_parse_available(c);
}

/* What one call reads at most: 64 reads, and 4 MiB.  A read of a large
 * payload takes all of it that is in the socket (up to about 1 MiB with
 * the socket buffer stream.c asks for), so 64 reads alone let one dispatch
 * take in and deliver tens of MiB of a flood, past the application's own
 * back-pressure (the gateway stops dispatching once its page is behind). */
#define CLIENT_READS_PER_CALL 64
#define CLIENT_READ_BYTES_PER_CALL (4u * 1024u * 1024u)

int client_read_available(cp_client *c)
{
	uint64_t start;
	int r;

	if (c->broken)
		return client_lost_error(c);
	start = stream_bytes_read(c->stream);
	/* Bounded, so that a flood cannot keep a dispatch from returning.
	 * Parsed after each read, so that a large frame's payload is read in
	 * place as soon as its header is in. */
	for (int i = 0; i < CLIENT_READS_PER_CALL; i++) {
		if (stream_bytes_read(c->stream) - start >= CLIENT_READ_BYTES_PER_CALL)
			break;
		r = client_read_once(c);
		if (r < 0)
			return r;
		if (r == 0)
			break;
		r = client_parse_input(c, 0, NULL);
		if (r < 0)
			return r;
		if (stream_read_was_short(c->stream))
			return 0;
	}
	r = client_parse_input(c, 0, NULL);
	return r < 0 ? r : 0;
}

/* Waits for the socket; revents in *ret.  Returns 0, CP_ERR_TIMEOUT or
 * CP_ERR_NETWORK. */
static int client_poll(cp_client *c, short events, int64_t deadline, short *ret)
{
	struct pollfd pfd = { .fd = stream_fd(c->stream), .events = events };
	int timeout = -1, r;

	if (deadline >= 0) {
		int64_t left = deadline - now_ms();
		timeout = left > 0 ? (int)left : 0;
	}
	r = poll(&pfd, 1, timeout);
	if (r < 0 && errno != EINTR)
		return client_fail(c, "poll: %s", strerror(errno));
	if (r == 0 && deadline >= 0 && now_ms() >= deadline)
		return error_set(CP_ERR_TIMEOUT, "timed out waiting for the broker");
	*ret = r > 0 ? pfd.revents : 0;
	return 0;
}

/* Writes queued output; blocking: until it is all written or deadline
 * (-1: none) passes (CP_ERR_TIMEOUT). */
static int client_flush_until(cp_client *c, bool block, int64_t deadline)
{
	if (c->broken)
		return client_lost_error(c);
	for (;;) {
		short revents = 0;
		int r = stream_flush(c->stream);

		if (r < 0)
			return client_fail(c, "writing to the broker: %s", strerror(-r));
		if (r == 1 || !block)
			break;
		/* Keep reading while we wait, or a broker that waits for us to
		 * read would never read us. */
		r = client_poll(c, POLLIN | POLLOUT, deadline, &revents);
		if (r < 0)
			return r;
		if (revents & (POLLIN | POLLHUP | POLLERR)) {
			r = client_read_available(c);
			if (r < 0)
				return r;
		}
	}
	if (c->base)
		loop_kick(c);
	return 0;
}

int client_flush(cp_client *c, bool block)
{
	return client_flush_until(c, block, -1);
}

int client_queued(cp_client *c)
{
	/* Enough for many small messages per write, and for a large one to
	 * go out at once. */
	if (evbuffer_get_length(stream_output(c->stream)) >= CLIENT_WRITE_THRESHOLD)
		return client_flush(c, true);
	if (c->base)
		loop_kick(c);
	return 0;
}

int cp_client_set_batching(cp_client *c, bool on)
{
	if (!c)
		return error_set(CP_ERR_TYPE, "cp_client_set_batching: client is NULL");
	c->batching = on;
	/* Turning it off keeps the promise from now on: nothing stays queued. */
	return on ? 0 : client_flush(c, true);
}

int cp_client_flush(cp_client *c)
{
	if (!c)
		return error_set(CP_ERR_TYPE, "cp_client_flush: client is NULL");
	if (!client_in_its_process(c))
		return error_set(CP_ERR_INVALID_STATE, "the client was created in another process (fork)");
	if (client_connected(c) < 0)
		return CP_ERR_NETWORK;
	return client_flush(c, true);
}

/* Every client of this process, so that exit() writes what they queued. */
static pthread_mutex_t clients_lock = PTHREAD_MUTEX_INITIALIZER;
static cp_client *clients;
static pthread_once_t exit_once = PTHREAD_ONCE_INIT;

static void flush_at_exit(void)
{
	pthread_mutex_lock(&clients_lock);
	for (cp_client *c = clients; c; c = c->all_next) {
		struct event_base *base = c->base;

		if (!client_in_its_process(c) || c->broken)
			continue;
		/* The loop may be gone by now: write without telling it. */
		c->base = NULL;
		client_flush_until(c, true, now_ms() + CLIENT_EXIT_FLUSH_MS);
		c->base = base;
	}
	pthread_mutex_unlock(&clients_lock);
}

void client_flush_others(cp_client *self)
{
	/* Without a lock on the list, nothing here would be safe if another
	 * thread used its own clients meanwhile; each client is still used by
	 * one thread only, and this writes without blocking or reading. */
	pthread_mutex_lock(&clients_lock);
	for (cp_client *c = clients; c; c = c->all_next) {
		if (c == self || c->broken || !client_in_its_process(c) ||
		    evbuffer_get_length(stream_output(c->stream)) == 0)
			continue;
		if (stream_flush(c->stream) < 0)
			client_mark_lost(c, "writing to the broker failed");    /* its next call says so */
	}
	pthread_mutex_unlock(&clients_lock);
}

static void watch_exit(void)
{
	atexit(flush_at_exit);
}

static void track(cp_client *c)
{
	pthread_once(&exit_once, watch_exit);
	pthread_mutex_lock(&clients_lock);
	c->all_next = clients;
	clients = c;
	pthread_mutex_unlock(&clients_lock);
}

static void untrack(cp_client *c)
{
	pthread_mutex_lock(&clients_lock);
	for (cp_client **p = &clients; *p; p = &(*p)->all_next) {
		if (*p == c) {
			*p = c->all_next;
			break;
		}
	}
	pthread_mutex_unlock(&clients_lock);
}

int client_request(cp_client *c, Crosspost__Header *request, int timeout_ms, Frame **ret_reply)
{
	int64_t deadline = timeout_ms < 0 ? -1 : now_ms() + timeout_ms;
	Frame *reply = NULL;
	int r;

	/* A reconnection attempt, if one is due, comes first. */
	r = client_connected(c);
	if (r < 0)
		return r;
	/* About to wait: what other clients of this process queued goes out
	 * first, so that one waiting on another is never waiting on itself. */
	client_flush_others(c);
	request->serial = client_next_serial(c);
	r = frame_append(stream_output(c->stream), request, NULL);
	if (r < 0)
		return error_set(CP_ERR_NO_MEMORY, "cannot queue a request: %s", strerror(-r));
	for (;;) {
		short revents = 0;
		bool writing;

		r = stream_flush(c->stream);
		if (r < 0)
			return client_fail(c, "writing to the broker: %s", strerror(-r));
		writing = r == 0;
		r = client_parse_input(c, request->serial, &reply);
		if (r < 0)
			return r;
		if (r == 1)
			break;
		r = client_poll(c, POLLIN | (writing ? POLLOUT : 0), deadline, &revents);
		if (r < 0)
			return r;
		if (revents & (POLLIN | POLLHUP | POLLERR)) {
			r = client_read_once(c);
			if (r < 0)
				return r;
		}
	}
	if (!event_queue_empty(&c->events))
		loop_kick(c);
	if (reply->header->body_case == CROSSPOST__HEADER__BODY_ERROR) {
		r = error_set(client_error_from_wire(reply->header->error->code), "%s",
			      reply->header->error->message);
		frame_free(reply);
		return r;
	}
	*ret_reply = reply;
	return 0;
}

static int connect_socket(const char *path, int *ret_fd)
{
	struct sockaddr_un addr = { .sun_family = AF_UNIX };
	int fd;

	/* An empty path would connect to the abstract socket of NUL bytes. */
	if (!*path)
		return error_set(CP_ERR_TYPE, "the socket path is empty");
	if (strlen(path) >= sizeof(addr.sun_path))
		return error_set(CP_ERR_TYPE, "socket path too long: %s", path);
	strcpy(addr.sun_path, path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return error_set(CP_ERR_NETWORK, "socket: %s", strerror(errno));
	if (connect(fd, (struct sockaddr *)&addr, sizeof(addr)) < 0) {
		int err = errno;
		struct stat st;

		close(fd);
		/* Connecting to a regular file or a folder is refused like a
		 * stale socket is; "start a broker" would be the wrong advice. */
		if ((err == ECONNREFUSED || err == ENOTSOCK) && stat(path, &st) == 0 && !S_ISSOCK(st.st_mode))
			return error_set(CP_ERR_NETWORK, "%s is not a socket", path);
		return error_set(CP_ERR_NETWORK, "no broker at %s: %s%s", path, strerror(err),
				 err == ENOENT || err == ECONNREFUSED ?
				 " (start one with `crosspostd`)" : "");
	}
	*ret_fd = fd;
	return 0;
}

/* The broker must be who the user expects: a process of another uid that
 * got its socket onto our path (a squatted /tmp folder) would otherwise
 * read every message.  The kernel says who is listening (SO_PEERCRED, as
 * sd-bus checks a system bus).  By default our euid or root; or the one
 * uid $CROSSPOST_BROKER_UID names, or any with "any".  secure_getenv: a
 * setuid program keeps the default whatever its caller's environment. */
static int check_broker_uid(int fd, const char *path)
{
	const char *want = secure_getenv("CROSSPOST_BROKER_UID");
	struct ucred cred = { .uid = (uid_t)-1 };
	socklen_t len = sizeof(cred);
	uid_t me = geteuid();

	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0)
		return error_set(CP_ERR_NETWORK, "cannot learn who runs the broker at %s (SO_PEERCRED): %s", path,
				 strerror(errno));
	if (want && *want) {
		unsigned long long uid;
		char *end;

		if (strcmp(want, "any") == 0)
			return 0;
		errno = 0;
		uid = strtoull(want, &end, 10);
		if (*want < '0' || *want > '9' || *end || errno || uid >= (uid_t)-1)
			return error_set(CP_ERR_SECURITY, "CROSSPOST_BROKER_UID must be a uid or 'any', not '%s'",
					 want);
		if (cred.uid == (uid_t)uid)
			return 0;
		return error_set(CP_ERR_SECURITY, "the broker at %s runs as uid %u, not uid %llu as "
				 "CROSSPOST_BROKER_UID says: refusing to talk to it", path, (unsigned)cred.uid, uid);
	}
	if (cred.uid == me || cred.uid == 0)
		return 0;
	return error_set(CP_ERR_SECURITY, "the broker at %s runs as uid %u, not as uid %u (this process) or root: "
			 "it could be a fake put there by another user, so crosspost refuses to talk to it "
			 "(CROSSPOST_BROKER_UID=%u accepts it, if you trust uid %u)", path, (unsigned)cred.uid,
			 (unsigned)me, (unsigned)cred.uid, (unsigned)cred.uid);
}

static int handshake(cp_client *c)
{
	Crosspost__Header header = CROSSPOST__HEADER__INIT;
	Crosspost__Hello hello = CROSSPOST__HELLO__INIT;
	Frame *reply = NULL;
	char name[64];
	int r;

	snprintf(name, sizeof(name), "libcrosspost pid %d", (int)getpid());
	hello.version = FRAME_PROTOCOL_VERSION;
	hello.client_name = name;
	header.body_case = CROSSPOST__HEADER__BODY_HELLO;
	header.hello = &hello;
	r = client_request(c, &header, 10000, &reply);
	if (r < 0)
		return r;
	if (reply->header->body_case != CROSSPOST__HEADER__BODY_WELCOME) {
		frame_free(reply);
		return client_fail(c, "the broker answered hello with a %s frame",
				   frame_kind_name(reply->header->body_case));
	}
	c->max_message_size = FRAME_PAYLOAD_MAX;
	c->max_fds_per_message = FRAME_FDS_MAX;
	if (reply->header->welcome->limits) {
		const Crosspost__Limits *l = reply->header->welcome->limits;

		if (l->max_message_size && l->max_message_size < c->max_message_size)
			c->max_message_size = l->max_message_size;
		if (l->max_fds_per_message && l->max_fds_per_message < c->max_fds_per_message)
			c->max_fds_per_message = l->max_fds_per_message;
	}
	frame_free(reply);
	return 0;
}

#define CP_STRINGIFY_(x) #x
#define CP_STRINGIFY(x) CP_STRINGIFY_(x)

const char *cp_version(void)
{
	return CP_STRINGIFY(CP_VERSION_MAJOR) "." CP_STRINGIFY(CP_VERSION_MINOR) "."
	       CP_STRINGIFY(CP_VERSION_PATCH);
}

char *cp_default_socket_path(void)
{
	return socket_path_default();
}

int cp_client_new(const char *socket_path, cp_client **ret)
{
	cp_client *c;
	int fd = -1, r;

	if (!ret)
		return error_set(CP_ERR_TYPE, "cp_client_new: ret is NULL");
	c = calloc(1, sizeof(*c));
	if (!c)
		return error_set(CP_ERR_NO_MEMORY, "out of memory");
	event_queue_init(&c->events);
	c->pid = getpid();
	pthread_once(&forks_once, watch_forks);
	c->forks = client_forks();
	c->socket_path = socket_path ? strdup(socket_path) : socket_path_default();
	if (!c->socket_path) {
		r = error_set(CP_ERR_NO_MEMORY, "out of memory");
		goto fail;
	}
	r = connect_socket(c->socket_path, &fd);
	if (r < 0)
		goto fail;
	r = check_broker_uid(fd, c->socket_path);
	if (r < 0) {
		close(fd);
		goto fail;
	}
	if (stream_new(&c->stream, fd) < 0) {
		close(fd);
		r = error_set(CP_ERR_NO_MEMORY, "out of memory");
		goto fail;
	}
	/* When it cannot, cp_client_wait() polls before each read instead. */
	(void)stream_allow_waiting(c->stream);
	r = handshake(c);
	if (r < 0)
		goto fail;
	track(c);
	*ret = c;
	return 0;
fail:
	cp_client_free(c);
	return r;
}

cp_client *cp_client_free(cp_client *c)
{
	if (!c)
		return NULL;
	cp_client_detach_event_base(c);
	while (c->windows) {
		cp_window *w = c->windows;

		c->windows = w->next;
		window_free(w);
	}
	while (c->ports) {
		cp_port *p = c->ports;

		c->ports = p->next;
		port_free(p);
	}
	while (c->broadcasts) {
		cp_broadcast *b = c->broadcasts;

		c->broadcasts = b->next;
		broadcast_free(b);
	}
	event_queue_clear(&c->events);
	frame_free(c->partial);
	frame_ahead_clear(&c->ahead);
	reconnect_free(c);
	untrack(c);
	free(c->target_origin_spec);
	free(c->target_origin_sent);
	/* Posts already made go out before the connection closes (bounded:
	 * a broker that stopped reading us cannot hold this forever). */
	if (c->stream && !c->broken && client_in_its_process(c))
		client_flush_until(c, true, now_ms() + CLIENT_EXIT_FLUSH_MS);
	stream_free(c->stream);
	frame_cache_clear(&c->frames);
	free(c->socket_path);
	free(c);
	return NULL;
}

const char *cp_client_socket_path(const cp_client *c)
{
	return c->socket_path;
}

int cp_client_sync(cp_client *c, int timeout_ms)
{
	Crosspost__Header header = CROSSPOST__HEADER__INIT;
	Crosspost__Sync sync = CROSSPOST__SYNC__INIT;
	Frame *reply = NULL;
	int r;

	if (!c)
		return error_set(CP_ERR_TYPE, "cp_client_sync: client is NULL");
	header.body_case = CROSSPOST__HEADER__BODY_SYNC;
	header.sync = &sync;
	r = client_request(c, &header, timeout_ms, &reply);
	if (r < 0)
		return r;
	frame_free(reply);
	if (c->post_error) {
		r = error_set(c->post_error, "%s", c->post_error_message);
		c->post_error = 0;
		return r;
	}
	return 0;
}

int cp_client_broker_stats(cp_client *c, cp_broker_stats *ret)
{
	Crosspost__Header header = CROSSPOST__HEADER__INIT;
	Crosspost__GetStats get = CROSSPOST__GET_STATS__INIT;
	const Crosspost__Stats *s;
	Frame *reply = NULL;
	int r;

	if (!c || !ret)
		return error_set(CP_ERR_TYPE, "cp_client_broker_stats: client and ret are required");
	header.body_case = CROSSPOST__HEADER__BODY_GET_STATS;
	header.get_stats = &get;
	r = client_request(c, &header, 30000, &reply);
	if (r < 0)
		return r;
	if (reply->header->body_case != CROSSPOST__HEADER__BODY_STATS) {
		r = client_fail(c, "the broker answered get-stats with a %s frame",
				frame_kind_name(reply->header->body_case));
		frame_free(reply);
		return r;
	}
	s = reply->header->stats;
	*ret = (cp_broker_stats){
		.connections = s->connections,
		.windows = s->windows,
		.ports = s->ports,
		.bytes_held = s->bytes_held,
		.fds_held = s->fds_held,
		.messages_delivered = s->messages_delivered,
		.dropped_origin_mismatch = s->dropped_origin_mismatch,
		.dropped_target_closed = s->dropped_target_closed,
		.senders_paused = s->senders_paused,
		.connections_rejected = s->connections_rejected,
		.quota_rejects = s->quota_rejects,
		.uptime_ms = s->uptime_ms,
		.monitors = s->monitors,
		.monitor_events_lost = s->monitor_events_lost,
	};
	frame_free(reply);
	return 0;
}
