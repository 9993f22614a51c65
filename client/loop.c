/* SPDX-License-Identifier: MIT */
/* loop.c - driving a client: poll/epoll integration, blocking wait, libevent. */
#include <errno.h>
#include <poll.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/event.h>

#include "client.h"
#include "error.h"
#include "stream.h"

int cp_client_fd(const cp_client *c)
{
	/* The dead socket would poll readable for ever: -1, which poll()
	 * skips, until cp_client_get_timeout()'s attempt reconnects. */
	if (reconnect_away(c))
		return -1;
	return stream_fd(c->stream);
}

int cp_client_get_timeout(const cp_client *c)
{
	int64_t next;

	if (!c)
		return -1;
	if (cp_client_has_pending(c))
		return 0;
	next = reconnect_next_attempt(c);
	if (next < 0)
		return -1;
	next -= loop_now_ms();
	return next <= 0 ? 0 : next > INT32_MAX ? INT32_MAX : (int)next;
}

bool cp_client_has_pending(const cp_client *c)
{
	if (client_has_dispatchable(c))
		return true;
	/* What the dead connection holds will never move. */
	if (c->broken)
		return false;
	return evbuffer_get_length(stream_input(c->stream)) > 0 ||
	       evbuffer_get_length(stream_output(c->stream)) > 0;
}

/* One non-blocking pass: write, read, run callbacks.  Returns the number
 * of events dispatched, with *ret_kept the number newly kept for a window
 * or port without a callback; an error only when neither happened (events
 * that arrived before the connection broke are delivered first, and the
 * next call reports the error). */
/* One round: write what is queued, take in what arrived (read it from
 * the socket when `read`, else only what is in the input already), and
 * dispatch. */
static int dispatch_once(cp_client *c, int *ret_kept, bool read)
{
	int r, dispatched;

	reconnect_attempt_if_due(c);
	client_flush_others(c);
	r = client_flush(c, false);
	if (r == 0)
		r = read ? client_read_available(c) : client_parse_available(c);
	dispatched = client_dispatch_events(c, ret_kept);
	/* What was read and not parsed yet, a batch at a time (client.c,
	 * PARSE_AHEAD_EVENTS): all of it is dispatched by this call. */
	while (r == 0 && client_parse_stopped(c)) {
		int kept = 0;

		r = client_parse_available(c);
		dispatched += client_dispatch_events(c, &kept);
		*ret_kept += kept;
	}
	/* Callbacks may have posted, and reading may have queued port
	 * hand-backs: send what we can without blocking. */
	if (!c->broken)
		client_flush(c, false);
	if (dispatched > 0 || *ret_kept > 0)
		return dispatched;
	/* While reconnecting, a lost connection is not the caller's error:
	 * the reconnect callback tells it what happens. */
	if (r < 0 && reconnect_away(c))
		return 0;
	return r < 0 ? r : 0;
}

int cp_client_dispatch(cp_client *c)
{
	int kept = 0;

	if (!c)
		return error_set(CP_ERR_TYPE, "cp_client_dispatch: client is NULL");
	return dispatch_once(c, &kept, true);
}

int64_t loop_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Waits for the socket (and for writability while output is pending),
 * until deadline (< 0: no limit).  Returns poll()'s revents, 0 when the
 * time ran out or a signal came, or CP_ERR_NETWORK. */
static int poll_socket(cp_client *c, int64_t deadline)
{
	struct pollfd pfd = { .fd = stream_fd(c->stream), .events = POLLIN };
	int timeout = -1;

	if (evbuffer_get_length(stream_output(c->stream)) > 0)
		pfd.events |= POLLOUT;
	if (deadline >= 0) {
		int64_t left = deadline - loop_now_ms();

		timeout = left > 0 ? (int)left : 0;
	}
	if (poll(&pfd, 1, timeout) < 0) {
		if (errno == EINTR)
			return 0;
		return client_fail(c, "poll: %s", strerror(errno));
	}
	return pfd.revents;
}

int cp_client_wait(cp_client *c, int timeout_ms)
{
	int64_t deadline = timeout_ms < 0 ? -1 : loop_now_ms() + timeout_ms;

	if (!c)
		return error_set(CP_ERR_TYPE, "cp_client_wait: client is NULL");
	/* A round reads only when the last read may have left bytes behind:
	 * otherwise the next read would fail with EAGAIN, a syscall for
	 * nothing on each side of a round trip.  With no time limit the wait
	 * is the read itself; with one, poll(). */
	for (bool read = false;;) {
		int kept = 0, r = dispatch_once(c, &kept, read);

		if (r < 0)
			return r;
		/* Kept events count: the caller has something to look at (a
		 * callback to set), and must not take them for a timeout. */
		if (r + kept > 0)
			return r + kept;
		if (deadline >= 0 && loop_now_ms() >= deadline)
			return 0;
		if (reconnect_away(c)) {
			/* No socket to watch: sleep until the next attempt. */
			int64_t until = reconnect_next_attempt(c), left;

			if (deadline >= 0 && deadline < until)
				until = deadline;
			left = until - loop_now_ms();
			if (left > 0)
				poll(NULL, 0, (int)left);
			continue;
		}
		if (deadline < 0 && client_may_wait_in_read(c)) {
			r = client_read_waiting(c);
			if (r < 0 && !reconnect_away(c))
				return r;
			read = !stream_read_was_short(c->stream);
			continue;
		}
		r = poll_socket(c, deadline);
		if (r < 0 && !reconnect_away(c))
			return r;
		read = true;
	}
}

int loop_idle_until(cp_client *c, int64_t deadline)
{
	while (loop_now_ms() < deadline) {
		int revents = poll_socket(c, deadline), r = 0;

		if (revents < 0)
			return revents;
		if (revents & POLLOUT)
			r = client_flush(c, false);
		if (r == 0 && (revents & (POLLIN | POLLHUP | POLLERR)))
			r = client_read_available(c);
		if (r < 0)
			return r;
	}
	return 0;
}

static void schedule_attempt(cp_client *c);

static void on_libevent_ready(evutil_socket_t fd, short what, void *userdata)
{
	cp_client *c = userdata;

	(void)fd;
	(void)what;
	cp_client_dispatch(c);
	if (!c->base)
		return;    /* detached from inside a callback */
	if (c->broken) {
		/* Nothing more will come: stop watching a dead socket.  While
		 * reconnecting, a timer makes the next attempt; a successful
		 * one watches the new socket (loop_connection_changed()). */
		event_del(c->read_event);
		event_del(c->write_event);
		schedule_attempt(c);
		return;
	}
	if (evbuffer_get_length(stream_output(c->stream)) > 0)
		event_add(c->write_event, NULL);
	else
		event_del(c->write_event);
}

/* The libevent timer of reconnection: an attempt (in the dispatch), and
 * the next timer while the broker is still away. */
static void on_reconnect_timer(evutil_socket_t fd, short what, void *userdata)
{
	cp_client *c = userdata;

	(void)fd;
	(void)what;
	cp_client_dispatch(c);
	if (c->base && c->broken)
		schedule_attempt(c);
}

static void schedule_attempt(cp_client *c)
{
	int64_t next = reconnect_next_attempt(c), left;
	struct timeval tv;

	if (next < 0)
		return;
	if (!c->reconnect_event) {
		c->reconnect_event = evtimer_new(c->base, on_reconnect_timer, c);
		if (!c->reconnect_event)
			return;
	}
	left = next - loop_now_ms();
	if (left < 0)
		left = 0;
	tv.tv_sec = (time_t)(left / 1000);
	tv.tv_usec = (suseconds_t)(left % 1000) * 1000;
	evtimer_add(c->reconnect_event, &tv);
}

void loop_connection_changed(cp_client *c)
{
	struct event *read_event, *write_event;

	if (!c->base)
		return;
	/* New events on the new descriptor; the old ones may be running this
	 * very callback, which is allowed to free them (libevent). */
	read_event = event_new(c->base, stream_fd(c->stream), EV_READ | EV_PERSIST, on_libevent_ready, c);
	write_event = event_new(c->base, stream_fd(c->stream), EV_WRITE | EV_PERSIST, on_libevent_ready, c);
	if (!read_event || !write_event) {
		if (read_event)
			event_free(read_event);
		if (write_event)
			event_free(write_event);
		return;
	}
	event_free(c->read_event);
	event_free(c->write_event);
	c->read_event = read_event;
	c->write_event = write_event;
	event_add(c->read_event, NULL);
	loop_kick(c);
}

void loop_kick(cp_client *c)
{
	if (!c->base)
		return;
	if (client_has_dispatchable(c) || evbuffer_get_length(stream_input(c->stream)) > 0)
		event_active(c->read_event, EV_READ, 0);
	if (evbuffer_get_length(stream_output(c->stream)) > 0)
		event_add(c->write_event, NULL);
}

int cp_client_attach_event_base(cp_client *c, struct event_base *base)
{
	if (!c || !base)
		return error_set(CP_ERR_TYPE, "cp_client_attach_event_base: client and base are required");
	if (c->base)
		return error_set(CP_ERR_INVALID_STATE, "the client is already attached to an event base");
	c->read_event = event_new(base, stream_fd(c->stream), EV_READ | EV_PERSIST, on_libevent_ready, c);
	c->write_event = event_new(base, stream_fd(c->stream), EV_WRITE | EV_PERSIST, on_libevent_ready, c);
	if (!c->read_event || !c->write_event || event_add(c->read_event, NULL) < 0) {
		if (c->read_event)
			event_free(c->read_event);
		if (c->write_event)
			event_free(c->write_event);
		c->read_event = c->write_event = NULL;
		return error_set(CP_ERR_NO_MEMORY, "out of memory");
	}
	c->base = base;
	loop_kick(c);
	return 0;
}

void cp_client_detach_event_base(cp_client *c)
{
	if (!c || !c->base)
		return;
	event_free(c->read_event);
	event_free(c->write_event);
	if (c->reconnect_event)
		event_free(c->reconnect_event);
	c->read_event = c->write_event = c->reconnect_event = NULL;
	c->base = NULL;
}
