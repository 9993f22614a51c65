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
	return stream_fd(c->stream);
}

bool cp_client_has_pending(const cp_client *c)
{
	return client_has_dispatchable(c) ||
	       evbuffer_get_length(stream_input(c->stream)) > 0 ||
	       evbuffer_get_length(stream_output(c->stream)) > 0;
}

int cp_client_dispatch(cp_client *c)
{
	int r, dispatched;

	if (!c)
		return error_set(CP_ERR_TYPE, "cp_client_dispatch: client is NULL");
	r = client_flush(c, false);
	if (r == 0)
		r = client_read_available(c);
	/* Events that arrived before the connection broke are still delivered. */
	dispatched = client_dispatch_events(c);
	/* Callbacks may have posted, and reading may have queued port
	 * hand-backs: send what we can without blocking. */
	if (!c->broken)
		client_flush(c, false);
	if (dispatched > 0)
		return dispatched;
	return r < 0 ? r : 0;
}

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int cp_client_wait(cp_client *c, int timeout_ms)
{
	int64_t deadline = timeout_ms < 0 ? -1 : now_ms() + timeout_ms;

	if (!c)
		return error_set(CP_ERR_TYPE, "cp_client_wait: client is NULL");
	for (;;) {
		struct pollfd pfd = { .fd = stream_fd(c->stream), .events = POLLIN };
		int r = cp_client_dispatch(c), timeout = -1;

		if (r != 0)
			return r;
		if (evbuffer_get_length(stream_output(c->stream)) > 0)
			pfd.events |= POLLOUT;
		if (deadline >= 0) {
			int64_t left = deadline - now_ms();

			if (left <= 0)
				return error_set(CP_ERR_TIMEOUT, "no event within %d ms", timeout_ms);
			timeout = (int)left;
		}
		if (poll(&pfd, 1, timeout) < 0 && errno != EINTR)
			return client_fail(c, "poll: %s", strerror(errno));
	}
}

static void on_libevent_ready(evutil_socket_t fd, short what, void *userdata)
{
	cp_client *c = userdata;

	(void)fd;
	(void)what;
	cp_client_dispatch(c);
	if (!c->base)
		return;    /* detached from inside a callback */
	if (c->broken) {
		/* Nothing more will come: stop watching a dead socket. */
		event_del(c->read_event);
		event_del(c->write_event);
		return;
	}
	if (evbuffer_get_length(stream_output(c->stream)) > 0)
		event_add(c->write_event, NULL);
	else
		event_del(c->write_event);
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
	c->read_event = c->write_event = NULL;
	c->base = NULL;
}
