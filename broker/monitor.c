/* SPDX-License-Identifier: MIT */
/* monitor.c - every routed message and window lifecycle change, to the connections that watch. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <event2/buffer.h>

#include "broker.h"
#include "connection.h"
#include "frame.h"
#include "log.h"
#include "monitor.h"
#include "queue.h"
#include "registry.h"
#include "stream.h"

typedef struct Monitor {
	struct Monitor *next;
	Connection *connection;
	char *origin;           /* NULL: any */
	uint64_t window_id;     /* 0: any */
	bool with_data;
	uint64_t lost;          /* since the last event it got */
} Monitor;

struct MonitorSet {
	Monitor *monitors;
	uint64_t count;
	uint64_t lost_total;
};

int monitor_set_new(MonitorSet **ret)
{
	*ret = calloc(1, sizeof(**ret));
	return *ret ? 0 : -ENOMEM;
}

static Monitor *monitor_free(Monitor *m)
{
	if (m) {
		free(m->origin);
		free(m);
	}
	return NULL;
}

MonitorSet *monitor_set_free(MonitorSet *set)
{
	if (!set)
		return NULL;
	while (set->monitors) {
		Monitor *m = set->monitors;

		set->monitors = m->next;
		monitor_free(m);
	}
	free(set);
	return NULL;
}

int monitor_add(MonitorSet *set, Connection *c, const Crosspost__Monitor *filter)
{
	Monitor *m;

	monitor_remove(set, c);    /* asking again replaces the filter */
	m = calloc(1, sizeof(*m));
	if (!m)
		return -ENOMEM;
	m->connection = c;
	m->window_id = filter->window_id;
	m->with_data = filter->with_data;
	if (filter->origin && *filter->origin) {
		m->origin = strdup(filter->origin);
		if (!m->origin) {
			free(m);
			return -ENOMEM;
		}
	}
	m->next = set->monitors;
	set->monitors = m;
	set->count++;
	return 0;
}

void monitor_remove(MonitorSet *set, const Connection *c)
{
	for (Monitor **p = &set->monitors; *p; p = &(*p)->next) {
		if ((*p)->connection == c) {
			Monitor *m = *p;

			*p = m->next;
			monitor_free(m);
			set->count--;
			return;
		}
	}
}

bool monitor_active(const MonitorSet *set)
{
	return set->monitors != NULL;
}

void monitor_totals(const MonitorSet *set, uint64_t *ret_monitors, uint64_t *ret_lost)
{
	*ret_monitors = set->count;
	*ret_lost = set->lost_total;
}

static uint64_t now_us(const Broker *b)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000 + (uint64_t)ts.tv_nsec / 1000 - b->started_ms * 1000;
}

static bool involves(const Monitor *m, const Crosspost__MonitorEvent *ev)
{
	if (m->window_id && ev->from_window_id != m->window_id && ev->to_window_id != m->window_id)
		return false;
	if (m->origin && strcmp(ev->from_origin, m->origin) != 0 && strcmp(ev->to_origin, m->origin) != 0)
		return false;
	return true;
}

/* To every monitor the event involves, straight into its output: a
 * monitor whose output is full, or that has frames waiting, loses it. */
static void publish(Broker *b, Crosspost__MonitorEvent *ev, Frame *payload)
{
	Crosspost__Header header = CROSSPOST__HEADER__INIT;

	header.body_case = CROSSPOST__HEADER__BODY_MONITOR_EVENT;
	header.monitor_event = ev;
	ev->time_us = now_us(b);
	for (Monitor *m = b->monitors->monitors; m; m = m->next) {
		Connection *c = m->connection;
		const uint8_t *data = NULL;
		size_t length = 0;

		if (c->closing || !involves(m, ev))
			continue;
		if (c->parked || queue_congested(c)) {
			m->lost++;
			b->monitors->lost_total++;
			continue;
		}
		if (m->with_data && payload) {
			data = frame_payload_bytes(payload);
			length = data ? frame_payload_length(payload) : 0;
		}
		ev->lost = m->lost;
		if (frame_append_bytes(stream_output(c->stream), &header, data, length) < 0) {
			m->lost++;
			b->monitors->lost_total++;
			continue;
		}
		m->lost = 0;
		connection_mark_dirty(c);
	}
}

static void describe(const Window *w, uint64_t *ret_id, char **ret_name, char **ret_origin)
{
	if (!w)
		return;
	*ret_id = w->id;
	*ret_name = w->name ? w->name : (char *)"";
	*ret_origin = (char *)origin_serialization(w->origin);
}

void monitor_message(Broker *b, Crosspost__MonitorKind kind, const Window *from, const Window *to,
		     uint64_t to_id, const char *target_origin, const char *reason, uint64_t port_id,
		     Frame *payload)
{
	Crosspost__MonitorEvent ev = CROSSPOST__MONITOR_EVENT__INIT;

	if (!monitor_active(b->monitors))
		return;
	ev.kind = kind;
	describe(from, &ev.from_window_id, &ev.from_name, &ev.from_origin);
	ev.to_window_id = to_id;
	describe(to, &ev.to_window_id, &ev.to_name, &ev.to_origin);
	ev.target_origin = (char *)(target_origin ? target_origin : "");
	ev.reason = (char *)(reason ? reason : "");
	ev.port_id = port_id;
	ev.size = payload ? frame_payload_length(payload) : 0;
	publish(b, &ev, payload);
}

void monitor_window(Broker *b, Crosspost__MonitorKind kind, const Window *w, const Window *related,
		    const char *reason)
{
	Crosspost__MonitorEvent ev = CROSSPOST__MONITOR_EVENT__INIT;

	if (!monitor_active(b->monitors))
		return;
	ev.kind = kind;
	describe(w, &ev.from_window_id, &ev.from_name, &ev.from_origin);
	describe(related, &ev.to_window_id, &ev.to_name, &ev.to_origin);
	ev.url = w->url;
	ev.reason = (char *)(reason ? reason : "");
	publish(b, &ev, NULL);
}
