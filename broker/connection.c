/* SPDX-License-Identifier: MIT */
/* connection.c - a client connection: read, parse, dispatch, write; pausing and accounting. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/event.h>

#include "account.h"
#include "broker.h"
#include "cleanup.h"
#include "connection.h"
#include "contexts.h"
#include "driver.h"
#include "frame.h"
#include "log.h"
#include "monitor.h"
#include "ports.h"
#include "queue.h"
#include "registry.h"
#include "stream.h"

/* What one client may have read per loop turn: 16 reads, and 256 KiB
 * (past that, the read under way ends the turn).  A turn serves every
 * ready client once; at 1 MiB each, a turn of 100 flooding senders was
 * 100 MiB of small frames, 0.4 s in which nobody new was greeted. */
#define CONNECTION_READS_PER_TURN 16
#define CONNECTION_READ_BYTES_PER_TURN (256u * 1024u)
/* A frame bigger than this is admitted against its uid's budget before
 * the broker buffers it (charge before allocate, as dbus-broker's
 * iqueue_set_target): a declared length pins no memory by itself. */
#define CONNECTION_RESERVE_MIN (1024u * 1024u)

static void on_readable(evutil_socket_t fd, short what, void *userdata);
static void on_writable(evutil_socket_t fd, short what, void *userdata);

int connection_new(Broker *broker, int fd, pid_t pid, uid_t uid, gid_t gid, Connection **ret)
{
	Connection *c = calloc(1, sizeof(*c));

	if (!c) {
		close(fd);
		return -ENOMEM;
	}
	c->broker = broker;
	c->pid = pid;
	c->uid = uid;
	c->gid = gid;
	c->parked_tail = &c->parked;
	if (stream_new(&c->stream, fd) < 0) {
		close(fd);
		free(c);
		return -ENOMEM;
	}
	stream_set_scratch(c->stream, broker->read_scratch, BROKER_READ_SCRATCH);
	c->account = account_ref(broker->accounts, uid);
	c->read_event = event_new(broker->base, fd, EV_READ | EV_PERSIST, on_readable, c);
	c->write_event = event_new(broker->base, fd, EV_WRITE | EV_PERSIST, on_writable, c);
	if (!c->account || !c->read_event || !c->write_event || event_add(c->read_event, NULL) < 0) {
		connection_free(c);
		return -ENOMEM;
	}
	c->account->connections++;
	broker->n_connections++;
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
	if (c->hangup_event)
		event_free(c->hangup_event);
	frame_free(c->partial);
	frame_ahead_clear(&c->ahead);
	stream_free(c->stream);
	account_unref(c->account);
	free(c);
	return NULL;
}

static void on_hangup(evutil_socket_t fd, short what, void *userdata)
{
	Connection *c = userdata;

	(void)fd;
	(void)what;
	/* Whatever it wrote and we did not read yet goes with it: it was
	 * never accepted. */
	connection_close(c, LOG_DEBUG, "hung up while paused");
	broker_flush(c->broker);
}

void connection_pause(Connection *c, unsigned reason)
{
	bool was_paused = c->paused != 0;

	c->paused |= reason;
	if (was_paused || c->closing)
		return;
	event_del(c->read_event);
	/* Not reading must not mean not noticing that it is gone. */
	if (!c->hangup_event)
		c->hangup_event = event_new(c->broker->base, stream_fd(c->stream), EV_CLOSED | EV_PERSIST,
					    on_hangup, c);
	if (c->hangup_event)
		event_add(c->hangup_event, NULL);
}

void connection_resume(Connection *c, unsigned reason)
{
	if (!(c->paused & reason))
		return;
	c->paused &= ~reason;
	if (c->paused || c->closing)
		return;
	if (c->hangup_event)
		event_del(c->hangup_event);
	event_add(c->read_event, NULL);
	/* Frames may already be buffered: read on in the next turn rather
	 * than waiting for the socket to become readable again. */
	broker_resume_later(c->broker, c);
}

static void wait_on_account(Connection *c, unsigned reason)
{
	if (!(c->paused & (PAUSE_ACCOUNT | PAUSE_RESERVE))) {
		c->wait_next = c->account->waiting;
		c->account->waiting = c;
	}
	connection_pause(c, reason);
}

static void stop_waiting_on_account(Connection *c)
{
	for (Connection **p = &c->account->waiting; *p; p = &(*p)->wait_next) {
		if (*p == c) {
			*p = c->wait_next;
			break;
		}
	}
	c->wait_next = NULL;
}

void connection_account_released(Account *a, bool always_wake)
{
	Connection *list;

	if (!a->waiting || (!always_wake && !account_under_low(a)))
		return;
	list = a->waiting;
	a->waiting = NULL;
	while (list) {
		Connection *c = list;

		list = c->wait_next;
		c->wait_next = NULL;
		connection_resume(c, PAUSE_ACCOUNT | PAUSE_RESERVE);
	}
}

void connection_recharge(Connection *c)
{
	uint64_t in = evbuffer_get_length(stream_input(c->stream));
	uint64_t bytes, fds;

	if (c->partial && c->partial->wire_length > in)
		in = c->partial->wire_length;    /* its payload buffer is allocated whole */
	in += c->ahead.capacity;
	if (c->reserved > in)
		in = c->reserved;
	bytes = in + evbuffer_get_length(stream_output(c->stream));
	fds = stream_pending_fds(c->stream) + stream_output_fds(c->stream);
	if (bytes == c->charged_bytes && fds == c->charged_fds)
		return;
	account_charge(c->account, (int64_t)(bytes - c->charged_bytes), (int64_t)(fds - c->charged_fds));
	if (bytes < c->charged_bytes || fds < c->charged_fds) {
		c->charged_bytes = bytes;
		c->charged_fds = fds;
		connection_account_released(c->account, false);
		return;
	}
	c->charged_bytes = bytes;
	c->charged_fds = fds;
}

static void release_reservation(Connection *c)
{
	if (!c->reserved)
		return;
	c->account->reserved -= c->reserved;
	c->reserved = 0;
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
	if (c->hangup_event)
		event_del(c->hangup_event);
	/* Its windows go now, so that nothing is routed to it any more; their
	 * frames go with them, wherever they are hosted (contexts.h). */
	monitor_remove(b->monitors, c);
	broker_forget_resume(b, c);
	contexts_connection_closed(b, c);
	ports_connection_closed(b->ports, c);
	queue_receiver_closed(c);
	queue_sender_closed(c);
	if (c->paused & (PAUSE_ACCOUNT | PAUSE_RESERVE))
		stop_waiting_on_account(c);
	/* Its buffers are freed with it: they no longer count. */
	release_reservation(c);
	account_charge(c->account, -(int64_t)c->charged_bytes, -(int64_t)c->charged_fds);
	c->charged_bytes = c->charged_fds = 0;
	c->account->connections--;
	connection_account_released(c->account, true);
	broker_connection_gone(b, c);
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

void connection_mark_dirty(Connection *c)
{
	if (c->dirty)
		return;
	c->dirty = true;
	c->dirty_next = c->broker->dirty;
	c->broker->dirty = c;
}

int connection_send(Connection *c, const Crosspost__Header *header)
{
	/* Replies are charged to the connection that asked: one that does not
	 * read them stops being read itself. */
	return queue_frame(c, c, NULL, header, NULL, NULL, 0);
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
	connection_send(c, &header);
}

void connection_flush(Connection *c)
{
	if (c->closing)
		return;
	for (;;) {
		Held *before = c->parked;
		int r = stream_flush(c->stream);

		if (r < 0) {
			connection_close(c, LOG_INFO, "write failed: %s", strerror(-r));
			return;
		}
		queue_refill(c);
		if (c->closing)
			return;
		if (c->parked == before || r == 0)
			break;
	}
	if (evbuffer_get_length(stream_output(c->stream)) > 0)
		event_add(c->write_event, NULL);
	else
		event_del(c->write_event);
	connection_recharge(c);
}

/* A frame over max-message-size closes the connection before a byte of
 * it is buffered; one over CONNECTION_RESERVE_MIN waits for room in its
 * uid's budget.  Returns false when the connection cannot go on now. */
static bool admit_next_frame(Connection *c)
{
	struct evbuffer *input = stream_input(c->stream);
	uint32_t header_length, payload_length;
	uint64_t total;

	if (!frame_peek_lengths(input, &header_length, &payload_length))
		return true;
	if (header_length > FRAME_HEADER_MAX) {
		c->broker->stats.connections_rejected++;
		connection_close(c, LOG_WARNING, "malformed frame: frame header larger than 64 KiB");
		return false;
	}
	if (payload_length > c->broker->limits.max_message_size) {
		c->broker->stats.quota_rejects++;
		connection_close(c, LOG_WARNING, "a %u-byte message is over max-message-size (%llu bytes)",
				 payload_length, (unsigned long long)c->broker->limits.max_message_size);
		return false;
	}
	total = FRAME_PREFIX_SIZE + (uint64_t)header_length + payload_length;
	if (total <= CONNECTION_RESERVE_MIN || c->reserved || total <= evbuffer_get_length(input))
		return true;
	/* What it read of the frame is charged as input already; a frame
	 * waiting here must not wait for its own bytes. */
	if (!account_may_reserve(c->account, total, evbuffer_get_length(input))) {
		wait_on_account(c, PAUSE_RESERVE);
		return false;
	}
	c->reserved = total;
	c->account->reserved += total;
	connection_recharge(c);
	return true;
}

/* The next whole frame: one completed in place, or one parsed from the
 * input (a large one starts being read in place instead).  Returns 1 with
 * *ret, 0 when none is whole yet, -1 when the connection was closed. */
static int next_frame(Connection *c, Frame **ret)
{
	const char *reason = "?";
	size_t missing = 0;
	int r;

	if (c->partial) {
		if (c->partial_missing > 0)
			return 0;
		*ret = c->partial;
		c->partial = NULL;
		return 1;
	}
	if (!admit_next_frame(c))
		return c->closing ? -1 : 0;
	r = frame_parse_start(stream_input(c->stream), NULL, &c->ahead, ret, &missing, &reason);
	if (r < 0) {
		c->broker->stats.connections_rejected++;
		connection_close(c, LOG_WARNING, "malformed frame: %s", r == -ENOMEM ? "out of memory" : reason);
		return -1;
	}
	if (r == 1) {
		c->read_header_first = missing > 0;
		frame_expect_after(&c->expect, *ret);
	}
	if (r == 1 && missing > 0) {
		c->partial = *ret;
		c->partial_missing = missing;
		connection_recharge(c);
		return 0;
	}
	return r;
}

static void process_frames(Connection *c)
{
	while (!c->closing && !c->paused) {
		Frame *frame = NULL;
		bool released;
		int r = next_frame(c, &frame);

		if (r <= 0)
			return;
		released = c->reserved != 0;
		release_reservation(c);
		if (frame_declared_fds(frame) > c->broker->limits.max_fds_per_message) {
			/* libcrosspost never sends more than Welcome allows. */
			c->broker->stats.connections_rejected++;
			connection_close(c, LOG_WARNING, "protocol violation: %u descriptors declared; "
					 "max-fds-per-message is %u", frame_declared_fds(frame),
					 c->broker->limits.max_fds_per_message);
			frame_free(frame);
			return;
		}
		r = frame_take_fds(frame, c->stream);
		if (r < 0) {
			c->broker->stats.connections_rejected++;
			connection_close(c, LOG_WARNING, "protocol violation: %s",
					 r == -E2BIG ? "more descriptors than a frame may carry" :
					 "descriptors that do not match the frame they came with");
			frame_free(frame);
			return;
		}
		/* The driver may keep the frame (a message held for a port in
		 * transit); it then sets frame to NULL. */
		driver_dispatch(c, &frame);
		frame_free(frame);
		if (c->closing)
			return;
		connection_recharge(c);
		if (released)
			connection_account_released(c->account, true);
	}
}

/* What the frames of a read left in the shared read buffer (a partial
 * frame, or frames a pause left unparsed) is kept before the buffer is read
 * into again.  False when the connection could not keep it (closed). */
static bool keep_what_is_left(Connection *c)
{
	if (c->closing || stream_release_scratch(c->stream) == 0)
		return true;
	connection_close(c, LOG_ERROR, "out of memory keeping a partial frame");
	broker_flush(c->broker);
	return false;
}

static void on_readable(evutil_socket_t fd, short what, void *userdata)
{
	Connection *c = userdata;
	ssize_t n = -EAGAIN;

	(void)fd;
	(void)what;
	/* Input before output: read what arrived, act on it, then write.  Up
	 * to CONNECTION_READS_PER_TURN reads and about
	 * CONNECTION_READ_BYTES_PER_TURN per turn, so a large frame does not
	 * take a loop iteration per 64 KiB, nor one client the whole loop. */
	uint64_t start = stream_bytes_read(c->stream);

	for (int i = 0; i < CONNECTION_READS_PER_TURN && !c->paused && !c->closing &&
			stream_bytes_read(c->stream) - start < CONNECTION_READ_BYTES_PER_TURN; i++) {
		if (!c->reserved && !c->partial && account_over(c->account)) {
			wait_on_account(c, PAUSE_ACCOUNT);
			break;
		}
		if (c->partial) {
			Frame *f = c->partial;

			/* And the next header, if it is there (as stream_read_header()). */
			n = stream_read_to(c->stream, f->block + (f->block_length - c->partial_missing),
					   c->partial_missing, STREAM_READ_HEADER);
			if (n > 0)
				c->partial_missing -= (size_t)n < c->partial_missing ? (size_t)n : c->partial_missing;
		} else {
			n = c->expect.confirmed && evbuffer_get_length(stream_input(c->stream)) == 0 ?
				    frame_read_expected(c->stream, &c->expect, false, &c->ahead) :
			    c->read_header_first ? stream_read_header(c->stream) : stream_read(c->stream);
		}
		if (n > 0)
			connection_recharge(c);
		if (n <= 0)
			break;
		process_frames(c);
		if (!keep_what_is_left(c))
			return;
		if (stream_read_was_short(c->stream))
			break;
	}
	process_frames(c);
	if (!keep_what_is_left(c))
		return;
	if (n == 0 && !c->closing && !c->paused) {
		size_t left = evbuffer_get_length(stream_input(c->stream)) +
			      (c->partial ? c->partial->wire_length : 0);

		if (left > 0)
			connection_close(c, LOG_WARNING, "disconnected mid-frame (%zu bytes of an incomplete frame)", left);
		else
			connection_close(c, LOG_DEBUG, "disconnected");
	} else if (n == -EPROTO && !c->closing) {
		c->broker->stats.connections_rejected++;
		connection_close(c, LOG_WARNING, "protocol violation: descriptors were truncated (MSG_CTRUNC)");
	} else if (n < 0 && n != -EAGAIN && n != -EINTR && !c->closing) {
		connection_close(c, LOG_WARNING, "read failed: %s", strerror((int)-n));
	}
	broker_flush(c->broker);
}

static void on_writable(evutil_socket_t fd, short what, void *userdata)
{
	Connection *c = userdata;

	(void)fd;
	(void)what;
	connection_flush(c);
	/* Room freed here may let parked frames of other connections move. */
	broker_flush(c->broker);
}
