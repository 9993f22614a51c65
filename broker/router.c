/* SPDX-License-Identifier: MIT */
/* router.c - route a post: find, check, stamp, queue. */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include <event2/buffer.h>

#include "broker.h"
#include "buffers.h"
#include "connection.h"
#include "frame_limits.h"
#include "log.h"
#include "frame.h"
#include "monitor.h"
#include "policy.h"
#include "ports.h"
#include "queue.h"
#include "registry.h"
#include "router.h"

bool router_check_buffers(Connection *sender, uint32_t serial, const Frame *frame, const uint64_t *sizes,
			  size_t n_sizes)
{
	const char *reason = "?";
	char buf[160];

	if (buffers_check(frame->fds, frame->n_fds, sizes, n_sizes, sender->broker->limits.max_fds_per_message,
			  buf, sizeof(buf), &reason) == 0)
		return true;
	connection_send_error(sender, serial, CROSSPOST__ERROR_CODE__ERROR_DATA_CLONE, "%s", reason);
	return false;
}

/* A post dropped as the HTML Standard says: counted, logged at debug
 * level, shown to monitors, and reported to its sender when it asked
 * (ReportDrops).  The sender is never told otherwise. */
static void drop_post(Connection *sender, Window *from, const Window *to, uint64_t to_id,
		      const char *target_origin, const char *reason, Frame *frame)
{
	Broker *b = sender->broker;

	log_debug("dropped: window %llu (%s) -> window %llu: %s", (unsigned long long)from->id,
		  origin_serialization(from->origin), (unsigned long long)to_id, reason);
	from->dropped++;
	monitor_message(b, CROSSPOST__MONITOR_KIND__MONITOR_DROPPED, from, to, to_id, target_origin, reason, 0,
			frame);
	if (from->report_drops) {
		Crosspost__Header header = CROSSPOST__HEADER__INIT;
		Crosspost__Event event = CROSSPOST__EVENT__INIT;

		event.type = CROSSPOST__EVENT_TYPE__EVENT_DROPPED;
		event.target_window_id = from->id;
		event.target_document = from->document;
		event.origin = (char *)"";
		event.target_origin = (char *)"*";
		event.checked_generation = from->generation;
		event.drop_reason = (char *)reason;
		event.dropped_target_id = to_id;
		header.body_case = CROSSPOST__HEADER__BODY_EVENT;
		header.event = &event;
		connection_send(sender, &header);
	}
}

void router_post(Connection *sender, Frame *frame)
{
	const Crosspost__Post *post = frame->header->post;
	uint32_t serial = frame->header->serial;
	Broker *b = sender->broker;
	Crosspost__Header header = CROSSPOST__HEADER__INIT;
	Crosspost__Event event = CROSSPOST__EVENT__INIT;
	TargetOrigin target_origin = { 0 };
	size_t target_origin_length;
	bool dropped = false;    /* accepted, then dropped as the HTML Standard says */
	const char *reason = "?";
	Window *from, *to;
	Connection *receiver;
	PolicyVerdict verdict;
	int r;

	/* Only the registration record says who the sender is: a window of
	 * another connection is an attempt to forge the source. */
	from = registry_find(b->registry, post->sender_window_id);
	if (!from && registry_id_assigned(b->registry, post->sender_window_id) && post->sender_window_id) {
		/* The sender was discarded (its parent or top closed, its iframe
		 * removed) before its process heard: a script of a discarded
		 * document posts nothing.  Not an attack: no window is forged. */
		log_debug("dropped: a post from window %llu, which is closed",
			  (unsigned long long)post->sender_window_id);
		goto out;
	}
	if (!from || from->owner != sender) {
		b->stats.connections_rejected++;
		connection_close(sender, LOG_WARNING,
				 "protocol violation: post from window %llu, which this connection does not own",
				 (unsigned long long)post->sender_window_id);
		goto out;
	}
	r = ports_check_transfer(b->ports, sender, post->transfer_ports, post->n_transfer_ports, NULL, &reason);
	if (r > 0) {
		connection_send_error(sender, serial, CROSSPOST__ERROR_CODE__ERROR_DATA_CLONE, "%s", reason);
		goto out;
	}
	if (!router_check_buffers(sender, serial, frame, post->buffer_sizes, post->n_buffer_sizes))
		goto out;
	target_origin_length = strlen(post->target_origin);
	if (target_origin_length > FRAME_TARGET_ORIGIN_MAX) {
		connection_send_error(sender, serial, CROSSPOST__ERROR_CODE__ERROR_RANGE,
				      "the targetOrigin is %zu bytes; the limit is %u", target_origin_length,
				      FRAME_TARGET_ORIGIN_MAX);
		goto out;
	}
	/* The client library checked already; a client that did not gets the
	 * same SyntaxError (before a missing target's NotFoundError).  A
	 * targetOrigin that is the target's own origin, the common case, is
	 * recognised without a parse. */
	to = registry_find(b->registry, post->target_window_id);
	r = target_origin_parse_expecting(&target_origin, post->target_origin, target_origin_length, from->origin,
					  to ? to->origin : NULL, &reason);
	if (r == -EINVAL) {
		connection_send_error(sender, serial, CROSSPOST__ERROR_CODE__ERROR_SYNTAX,
				      "invalid targetOrigin '%s': %s", post->target_origin, reason);
		goto out;
	}
	if (r < 0) {
		connection_close(sender, LOG_ERROR, "out of memory parsing targetOrigin");
		goto out;
	}

	if (!to) {
		if (registry_id_assigned(b->registry, post->target_window_id)) {
			b->stats.dropped_target_closed++;
			dropped = true;
			drop_post(sender, from, NULL, post->target_window_id,
				  target_origin_serialization(&target_origin), "the target has closed", frame);
		} else {
			connection_send_error(sender, serial, CROSSPOST__ERROR_CODE__ERROR_NOT_FOUND,
					      "window %llu does not exist",
					      (unsigned long long)post->target_window_id);
		}
		goto out;
	}

	if (to->pending) {
		/* Opened or framed, and no process has claimed it: its document
		 * is not there to receive anything (contexts.h). */
		b->stats.dropped_no_document++;
		dropped = true;
		drop_post(sender, from, to, to->id, target_origin_serialization(&target_origin),
			  "the target has no document yet (nobody claimed it)", frame);
		goto out;
	}
	verdict = policy_check(to, &target_origin);
	if (verdict != POLICY_DELIVER) {
		char why[FRAME_TARGET_ORIGIN_MAX + FRAME_URL_MAX + 128];

		b->stats.dropped_origin_mismatch++;
		dropped = true;
		snprintf(why, sizeof(why), "targetOrigin '%s' %s '%s'", target_origin_serialization(&target_origin),
			 policy_verdict_name(verdict), origin_serialization(to->origin));
		drop_post(sender, from, to, to->id, target_origin_serialization(&target_origin), why, frame);
		goto out;
	}

	/* Stamp: origin and source come from the broker's records only. */
	event.type = CROSSPOST__EVENT_TYPE__EVENT_MESSAGE;
	event.target_window_id = to->id;
	event.origin = (char *)origin_serialization(from->origin);
	if (!from->privileged) {
		event.source_window_id = from->id;
		event.source_name = from->name ? from->name : (char *)"";
	}
	event.checked_generation = to->generation;
	event.target_document = to->document;
	event.target_origin = (char *)target_origin_serialization(&target_origin);
	header.body_case = CROSSPOST__HEADER__BODY_EVENT;
	header.event = &event;

	/* The transferred buffers' descriptors move with the payload; a
	 * dropped message's stay in the frame, which closes them, as the HTML
	 * Standard's "message dropped" implies. */
	event.fd_count = (uint32_t)frame->n_fds;
	event.n_ports = post->n_transfer_ports;
	event.ports = post->transfer_ports;
	event.n_buffer_sizes = post->n_buffer_sizes;
	event.buffer_sizes = post->buffer_sizes;
	receiver = to->owner;
	from->posted++;
	from->bytes_posted += frame_payload_length(frame);
	to->received++;
	to->bytes_received += frame_payload_length(frame);
	monitor_message(b, CROSSPOST__MONITOR_KIND__MONITOR_DELIVERED, from, to, to->id, event.target_origin, NULL,
			0, frame);
	ports_move(b->ports, post->transfer_ports, post->n_transfer_ports, receiver);
	ports_bind(b->ports, post->transfer_ports, post->n_transfer_ports, to->id, to->document);
	/* Accepted messages are never dropped: a lagging receiver's wait in
	 * the broker, charged to this sender (queue.h). */
	r = queue_frame(receiver, sender, NULL, &header, frame, frame->fds, frame->n_fds);
	frame->n_fds = 0;
	if (r < 0)
		goto out;
	b->stats.messages_delivered++;
out:
	/* A dropped message's ports are lost with it: close them, so their
	 * peers are disentangled (its descriptors close with the frame).  A
	 * post refused with an error transfers nothing: they stay the sender's. */
	if (dropped)
		ports_close_ids(b->ports, post->transfer_ports, post->n_transfer_ports);
	target_origin_deinit(&target_origin);
}

void router_port_post(Connection *sender, Frame **framep)
{
	Broker *b = sender->broker;
	Frame *frame = *framep;
	const Crosspost__PortPost *post = frame->header->port_post;
	uint32_t serial = frame->header->serial;
	Port *port = ports_find(b->ports, post->port_id), *peer;
	const char *reason = "?";

	if (!port) {
		if (!ports_id_assigned(b->ports, post->port_id))
			connection_send_error(sender, serial, CROSSPOST__ERROR_CODE__ERROR_NOT_FOUND,
					      "port %llu does not exist", (unsigned long long)post->port_id);
		return;
	}
	if (port->state == PORT_CLOSED)
		return;    /* posting on a closed port does nothing (HTML) */
	if (!port_usable_by(port, sender)) {
		connection_send_error(sender, serial, CROSSPOST__ERROR_CODE__ERROR_INVALID_STATE,
				      "port %llu is not this connection's", (unsigned long long)port->id);
		return;
	}
	if (ports_check_transfer(b->ports, sender, post->transfer_ports, post->n_transfer_ports, port,
				 &reason) > 0) {
		connection_send_error(sender, serial, CROSSPOST__ERROR_CODE__ERROR_DATA_CLONE, "%s", reason);
		return;
	}
	if (!router_check_buffers(sender, serial, frame, post->buffer_sizes, post->n_buffer_sizes))
		return;
	peer = port->peer;
	for (size_t i = 0; peer && i < post->n_transfer_ports; i++) {
		/* Posting a port's peer through it dooms the message (HTML). */
		if (post->transfer_ports[i] == peer->id)
			peer = NULL;
	}
	if (!peer) {
		ports_close_ids(b->ports, post->transfer_ports, post->n_transfer_ports);
		return;
	}
	ports_deliver(b->ports, peer, frame, sender, false);
	*framep = NULL;
}
