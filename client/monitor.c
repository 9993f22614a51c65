/* SPDX-License-Identifier: MIT */
/* monitor.c - watching the broker: monitor events, window counters, drop reports. */
#include <stdlib.h>
#include <string.h>

#include "client.h"
#include "error.h"
#include "value_codec.h"

/* Requests for the broker itself answer quickly; this bounds a hung one. */
#define MONITOR_REQUEST_TIMEOUT_MS 30000

/* Sends request and checks that the answer is of kind want (an Ack, say). */
static int ask(cp_client *c, Crosspost__Header *request, Crosspost__Header__BodyCase want, Frame **ret)
{
	Frame *reply = NULL;
	int r = client_request(c, request, MONITOR_REQUEST_TIMEOUT_MS, &reply);

	if (r < 0)
		return r;
	if (reply->header->body_case != want) {
		r = client_fail(c, "the broker answered %s with a %s frame", frame_kind_name(request->body_case),
				frame_kind_name(reply->header->body_case));
		frame_free(reply);
		return r;
	}
	if (ret)
		*ret = reply;
	else
		frame_free(reply);
	return 0;
}

int cp_client_monitor(cp_client *c, const char *origin, uint64_t window_id, bool with_data,
		      cp_monitor_callback cb, void *userdata)
{
	Crosspost__Header header = CROSSPOST__HEADER__INIT;
	Crosspost__Monitor req = CROSSPOST__MONITOR__INIT;
	int r;

	if (!c || !cb)
		return error_set(CP_ERR_TYPE, "cp_client_monitor: client and cb are required");
	req.origin = (char *)(origin ? origin : "");
	req.window_id = window_id;
	req.with_data = with_data;
	header.body_case = CROSSPOST__HEADER__BODY_MONITOR;
	header.monitor = &req;
	/* Set first: events may follow the Ack in the same read. */
	c->monitor = cb;
	c->monitor_userdata = userdata;
	r = ask(c, &header, CROSSPOST__HEADER__BODY_ACK, NULL);
	if (r < 0) {
		c->monitor = NULL;
		c->monitor_userdata = NULL;
	}
	return r;
}

bool monitor_deliver(cp_client *c, Frame *frame)
{
	const Crosspost__MonitorEvent *m = frame->header->monitor_event;
	cp_value *data = NULL;
	cp_monitor_event ev = {
		.kind = (cp_monitor_kind)m->kind,
		.time_us = m->time_us,
		.from_id = m->from_window_id,
		.to_id = m->to_window_id,
		.from_name = m->from_name,
		.from_origin = m->from_origin,
		.to_name = m->to_name,
		.to_origin = m->to_origin,
		.target_origin = m->target_origin,
		.reason = m->reason,
		.url = m->url,
		.port_id = m->port_id,
		.size = m->size,
		.lost = m->lost,
	};

	if (!c->monitor) {
		frame_free(frame);
		return false;
	}
	/* Data that does not decode (or carried transfers) is shown as none. */
	if (frame_payload_length(frame) > 0 &&
	    value_decode(frame_payload_bytes(frame), frame_payload_length(frame), &data) == 0)
		ev.data = data;
	c->monitor(c, &ev, c->monitor_userdata);
	cp_value_free(data);
	frame_free(frame);
	return true;
}

int cp_window_report_drops(cp_window *w, bool on)
{
	Crosspost__Header header = CROSSPOST__HEADER__INIT;
	Crosspost__ReportDrops req = CROSSPOST__REPORT_DROPS__INIT;

	if (!w)
		return error_set(CP_ERR_TYPE, "cp_window_report_drops: window is NULL");
	req.window_id = cp_window_id(w);
	req.on = on;
	header.body_case = CROSSPOST__HEADER__BODY_REPORT_DROPS;
	header.report_drops = &req;
	return ask(cp_window_client(w), &header, CROSSPOST__HEADER__BODY_ACK, NULL);
}

void cp_window_stats_free(cp_window_stats *stats, size_t count)
{
	if (!stats)
		return;
	for (size_t i = 0; i < count; i++) {
		free(stats[i].name);
		free(stats[i].origin);
	}
	free(stats);
}

int cp_client_window_stats(cp_client *c, cp_window_stats **ret, size_t *ret_count)
{
	cp_window_stats *all = NULL;
	size_t n = 0, cap = 0;
	uint64_t after = 0;
	bool more = true;
	int r = 0;

	if (!c || !ret || !ret_count)
		return error_set(CP_ERR_TYPE, "cp_client_window_stats: client, ret and ret_count are required");
	/* A page per reply, as for window lists. */
	while (more && r == 0) {
		Crosspost__Header header = CROSSPOST__HEADER__INIT;
		Crosspost__GetStats req = CROSSPOST__GET_STATS__INIT;
		const Crosspost__Stats *page;
		Frame *reply = NULL;

		req.windows = true;
		req.after_id = after;
		header.body_case = CROSSPOST__HEADER__BODY_GET_STATS;
		header.get_stats = &req;
		r = ask(c, &header, CROSSPOST__HEADER__BODY_STATS, &reply);
		if (r < 0)
			break;
		page = reply->header->stats;
		more = page->more && page->n_window_stats > 0;
		for (size_t i = 0; i < page->n_window_stats && r == 0; i++) {
			const Crosspost__WindowStats *w = page->window_stats[i];
			cp_window_stats *s;

			if (n == cap) {
				size_t grown = cap ? 2 * cap : 32;
				cp_window_stats *bigger = realloc(all, grown * sizeof(*bigger));

				if (!bigger) {
					r = error_set(CP_ERR_NO_MEMORY, "out of memory");
					break;
				}
				all = bigger;
				cap = grown;
			}
			s = &all[n++];
			*s = (cp_window_stats){
				.id = w->id,
				.name = *w->name ? strdup(w->name) : NULL,
				.origin = strdup(w->origin),
				.posted = w->posted,
				.received = w->received,
				.dropped = w->dropped,
				.bytes_posted = w->bytes_posted,
				.bytes_received = w->bytes_received,
				.queued_bytes = w->queued_bytes,
				.paused = w->paused,
			};
			if (!s->origin || (*w->name && !s->name))
				r = error_set(CP_ERR_NO_MEMORY, "out of memory");
			after = w->id;
		}
		frame_free(reply);
	}
	if (r < 0) {
		cp_window_stats_free(all, n);
		return r;
	}
	*ret = all ? all : calloc(1, sizeof(*all));
	if (!*ret)
		return error_set(CP_ERR_NO_MEMORY, "out of memory");
	*ret_count = n;
	return 0;
}
