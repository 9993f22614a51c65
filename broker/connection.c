/* SPDX-License-Identifier: MIT */
/* connection.c - a client connection: read, parse, dispatch, queue, write. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/event.h>

#include "broker.h"
#include "cleanup.h"
#include "connection.h"
#include "driver.h"
#include "frame.h"
#include "log.h"
#include "ports.h"
#include "registry.h"
#include "stream.h"

/* 16 reads of 64 KiB: 1 MiB per client per loop turn at most. */
#define CONNECTION_READS_PER_TURN 16

static void on_readable(evutil_socket_t fd, short what, void *userdata);
static void on_writable(evutil_socket_t fd, short what, void *userdata);

int connection_new(Broker *broker, int fd, Connection **ret)
{
	Connection *c = calloc(1, sizeof(*c));

	if (!c) {
		close(fd);
		return -ENOMEM;
	}
	c->broker = broker;
	if (stream_new(&c->stream, fd) < 0) {
		close(fd);
		free(c);
		return -ENOMEM;
	}
	c->read_event = event_new(broker->base, fd, EV_READ | EV_PERSIST, on_readable, c);
	c->write_event = event_new(broker->base, fd, EV_WRITE | EV_PERSIST, on_writable, c);
	if (!c->read_event || !c->write_event || event_add(c->read_event, NULL) < 0) {
		connection_free(c);
		return -ENOMEM;
	}
	c->id = ++broker->next_connection_id;
	c->next = broker->connections;
	if (c->next)
		c->next->prev = c;
	broker->connections = c;
	*ret = c;
	return 0;
}

Connection *connection_free(Connection *c)
{
	if (!c)
		return NULL;
	if (c->read_event)
		event_free(c->read_event);
	if (c->write_event)
		event_free(c->write_event);
	stream_free(c->stream);
	free(c->waiters);
	free(c);
	return NULL;
}

static void release_waiters(Connection *c)
{
	for (size_t i = 0; i < c->n_waiters; i++) {
		Connection *sender = c->waiters[i];

		sender->blocked_on = NULL;
		if (sender->closing)
			continue;
		event_add(sender->read_event, NULL);
		/* Frames may already be buffered: process them now rather than
		 * waiting for the socket to become readable again. */
		event_active(sender->read_event, EV_READ, 0);
	}
	c->n_waiters = 0;
}

static void forget_waiter(Connection *receiver, Connection *sender)
{
	for (size_t i = 0; i < receiver->n_waiters; i++) {
		if (receiver->waiters[i] == sender) {
			receiver->waiters[i] = receiver->waiters[--receiver->n_waiters];
			return;
		}
	}
}

void connection_close(Connection *c, int level, const char *fmt, ...)
{
	Broker *b = c->broker;
	char reason[256];
	va_list ap;

	if (c->closing)
		return;
	va_start(ap, fmt);
	vsnprintf(reason, sizeof(reason), fmt, ap);
	va_end(ap);
	log_print((enum log_level)level, "connection %llu (pid %d): closed: %s",
		  (unsigned long long)c->id, (int)c->pid, reason);
	c->closing = true;
	event_del(c->read_event);
	event_del(c->write_event);
	/* Its windows go now, so that nothing is routed to it any more. */
	while (c->windows) {
		Window *w = c->windows;

		c->windows = w->owner_next;
		registry_remove(b->registry, w);
	}
	ports_connection_closed(b->ports, c);
	release_waiters(c);
	if (c->blocked_on)
		forget_waiter(c->blocked_on, c);
	if (c->prev)
		c->prev->next = c->next;
	else
		b->connections = c->next;
	if (c->next)
		c->next->prev = c->prev;
	/* Freed by the reaper, after whatever callback is running on it. */
	c->grave_next = b->graveyard;
	b->graveyard = c;
	event_active(b->reap_event, EV_TIMEOUT, 0);
}

static void mark_dirty(Connection *c)
{
	if (c->dirty)
		return;
	c->dirty = true;
	c->dirty_next = c->broker->dirty;
	c->broker->dirty = c;
}

int connection_send(Connection *c, const Crosspost__Header *header, struct evbuffer *payload)
{
	int r;

	if (c->closing)
		return -EPIPE;
	r = frame_append(stream_output(c->stream), header, payload);
	if (r < 0) {
		connection_close(c, LOG_ERROR, "cannot queue a %s frame: %s",
				 frame_kind_name(header->body_case), strerror(-r));
		return r;
	}
	mark_dirty(c);
	return 0;
}

int connection_send_with_fds(Connection *c, const Crosspost__Header *header,
			     struct evbuffer *payload, int *fds, size_t n_fds)
{
	int r;

	if (c->closing) {
		close_fds(fds, n_fds);
		return -EPIPE;
	}
	/* Queued first: they attach to the next byte appended, the frame's. */
	r = stream_queue_fds(c->stream, fds, n_fds);
	if (r < 0) {
		close_fds(fds, n_fds);
		connection_close(c, LOG_ERROR, "cannot queue descriptors: %s", strerror(-r));
		return r;
	}
	return connection_send(c, header, payload);
}

void connection_send_error(Connection *c, uint32_t serial, Crosspost__ErrorCode code,
			   const char *fmt, ...)
{
	Crosspost__Header header = CROSSPOST__HEADER__INIT;
	Crosspost__Error error = CROSSPOST__ERROR__INIT;
	char message[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(message, sizeof(message), fmt, ap);
	va_end(ap);
	error.code = code;
	error.message = message;
	header.serial = serial;
	header.body_case = CROSSPOST__HEADER__BODY_ERROR;
	header.error = &error;
	connection_send(c, &header, NULL);
}

bool connection_is_congested(const Connection *c)
{
	return evbuffer_get_length(stream_output(c->stream)) > c->broker->output_high;
}

void connection_wait_for(Connection *sender, Connection *receiver)
{
	if (sender->blocked_on || sender->closing)
		return;
	if (receiver->n_waiters == receiver->waiters_capacity) {
		size_t cap = receiver->waiters_capacity ? receiver->waiters_capacity * 2 : 4;
		Connection **grown = realloc(receiver->waiters, cap * sizeof(*grown));

		if (!grown) {
			/* Cannot track the wait: dropping the sender is the
			 * only way to keep the receiver's queue bounded. */
			connection_close(sender, LOG_ERROR, "out of memory for flow control");
			return;
		}
		receiver->waiters = grown;
		receiver->waiters_capacity = cap;
	}
	receiver->waiters[receiver->n_waiters++] = sender;
	sender->blocked_on = receiver;
	sender->broker->stats.senders_paused++;
	event_del(sender->read_event);
	log_debug("connection %llu paused: connection %llu has %zu bytes queued",
		  (unsigned long long)sender->id, (unsigned long long)receiver->id,
		  evbuffer_get_length(stream_output(receiver->stream)));
}

void connection_flush(Connection *c)
{
	int r;

	if (c->closing)
		return;
	r = stream_flush(c->stream);
	if (r < 0) {
		connection_close(c, LOG_INFO, "write failed: %s", strerror(-r));
		return;
	}
	if (r == 0)
		event_add(c->write_event, NULL);
	else
		event_del(c->write_event);
	if (c->n_waiters > 0 && evbuffer_get_length(stream_output(c->stream)) <= c->broker->output_low)
		release_waiters(c);
}

static void process_frames(Connection *c)
{
	struct evbuffer *input = stream_input(c->stream);

	while (!c->closing && !c->blocked_on) {
		const char *reason = "?";
		Frame *frame = NULL;
		int r = frame_parse(input, &frame, &reason);

		if (r == 0)
			return;
		if (r < 0) {
			c->broker->stats.connections_rejected++;
			connection_close(c, LOG_WARNING, "malformed frame: %s",
					 r == -ENOMEM ? "out of memory" : reason);
			return;
		}
		r = frame_take_fds(frame, c->stream);
		if (r < 0) {
			c->broker->stats.connections_rejected++;
			connection_close(c, LOG_WARNING, "protocol violation: %s",
					 r == -E2BIG ? "more descriptors than a frame may carry" :
					 "a frame declares descriptors that did not arrive with it");
			frame_free(frame);
			return;
		}
		/* The driver may keep the frame (a message held for a port in
		 * transit); it then sets frame to NULL. */
		driver_dispatch(c, &frame);
		frame_free(frame);
	}
}

static void on_readable(evutil_socket_t fd, short what, void *userdata)
{
	Connection *c = userdata;
	ssize_t n = -EAGAIN;

	(void)fd;
	(void)what;
	/* Input before output: read what arrived, act on it, then write.  Up
	 * to CONNECTION_READS_PER_TURN reads per turn, so a large frame does not
	 * take a loop iteration per 64 KiB, nor one client the whole loop. */
	for (int i = 0; i < CONNECTION_READS_PER_TURN && !c->blocked_on && !c->closing; i++) {
		n = stream_read(c->stream);
		if (n <= 0)
			break;
		process_frames(c);
	}
	process_frames(c);
	if (n == 0 && !c->closing) {
		size_t left = evbuffer_get_length(stream_input(c->stream));

		if (left > 0 && !c->blocked_on)
			connection_close(c, LOG_WARNING, "disconnected mid-frame (%zu bytes of an incomplete frame)", left);
		else if (!c->blocked_on)
			connection_close(c, LOG_DEBUG, "disconnected");
	} else if (n < 0 && n != -EAGAIN && !c->closing) {
		connection_close(c, LOG_WARNING, "read failed: %s", strerror((int)-n));
	}
	broker_flush(c->broker);
}

static void on_writable(evutil_socket_t fd, short what, void *userdata)
{
	(void)fd;
	(void)what;
	connection_flush(userdata);
}
