/* SPDX-License-Identifier: MIT */
/* broadcast.c - BroadcastChannel: same-origin, same-top-level-site fan-out by channel name. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>

#include "broadcast.h"
#include "broker.h"
#include "connection.h"
#include "frame.h"
#include "frame_limits.h"
#include "log.h"
#include "monitor.h"
#include "origin.h"
#include "queue.h"
#include "registry.h"
#include "site.h"

#define BROADCAST_BUCKETS 256

/* The channels of one name, in creation order (the order events go out). */
typedef struct Group {
	char *name;
	struct BroadcastSub *first, *last;
	struct Group *hash_next;
} Group;

typedef struct BroadcastSub {
	uint64_t id;
	Group *group;
	Connection *host;
	uint64_t window_id, document;
	Origin *origin;             /* the window's when the channel was made */
	/* The partition: the site of the window's top-level window (NULL when
	 * that origin is opaque: then top_origin itself). */
	char *site;
	Origin *top_origin;
	struct BroadcastSub *group_prev, *group_next;
	struct BroadcastSub *window_next;           /* Window.broadcasts */
	struct BroadcastSub *id_next;               /* the id hash chain */
} BroadcastSub;

struct BroadcastTable {
	Broker *broker;
	Group *groups[BROADCAST_BUCKETS];
	BroadcastSub **by_id;
	size_t n_by_id;
	uint64_t count, next_id;
};

static size_t hash_name(const char *name)
{
	size_t h = 14695981039346656037ULL;    /* FNV-1a */

	for (; *name; name++)
		h = (h ^ (unsigned char)*name) * 1099511628211ULL;
	return h;
}

static size_t hash_id(uint64_t id, size_t n)
{
	id ^= id >> 33;
	id *= 0xff51afd7ed558ccdULL;
	id ^= id >> 33;
	return (size_t)(id % n);
}

int broadcast_table_new(BroadcastTable **ret, Broker *broker)
{
	BroadcastTable *t = calloc(1, sizeof(*t));

	if (!t)
		return -ENOMEM;
	t->broker = broker;
	t->n_by_id = 64;
	t->by_id = calloc(t->n_by_id, sizeof(*t->by_id));
	t->next_id = 1;
	if (!t->by_id) {
		free(t);
		return -ENOMEM;
	}
	*ret = t;
	return 0;
}

static void sub_free(BroadcastSub *s)
{
	origin_free(s->origin);
	origin_free(s->top_origin);
	free(s->site);
	free(s);
}

BroadcastTable *broadcast_table_free(BroadcastTable *t)
{
	if (!t)
		return NULL;
	for (size_t b = 0; b < BROADCAST_BUCKETS; b++) {
		while (t->groups[b]) {
			Group *g = t->groups[b];

			t->groups[b] = g->hash_next;
			while (g->first) {
				BroadcastSub *s = g->first;

				g->first = s->group_next;
				sub_free(s);
			}
			free(g->name);
			free(g);
		}
	}
	free(t->by_id);
	free(t);
	return NULL;
}

uint64_t broadcast_count(const BroadcastTable *t)
{
	return t->count;
}

static Group *find_group(BroadcastTable *t, const char *name)
{
	for (Group *g = t->groups[hash_name(name) % BROADCAST_BUCKETS]; g; g = g->hash_next)
		if (strcmp(g->name, name) == 0)
			return g;
	return NULL;
}

static BroadcastSub *find_sub(const BroadcastTable *t, uint64_t id)
{
	for (BroadcastSub *s = t->by_id[hash_id(id, t->n_by_id)]; s; s = s->id_next)
		if (s->id == id)
			return s;
	return NULL;
}

static int grow_ids(BroadcastTable *t)
{
	size_t n = t->n_by_id * 2;
	BroadcastSub **v = calloc(n, sizeof(*v));

	if (!v)
		return -ENOMEM;
	for (size_t b = 0; b < t->n_by_id; b++) {
		while (t->by_id[b]) {
			BroadcastSub *s = t->by_id[b];
			size_t at = hash_id(s->id, n);

			t->by_id[b] = s->id_next;
			s->id_next = v[at];
			v[at] = s;
		}
	}
	free(t->by_id);
	t->by_id = v;
	t->n_by_id = n;
	return 0;
}

static const Window *top_of(const Window *w)
{
	while (w->parent)
		w = w->parent;
	return w;
}

int broadcast_open(BroadcastTable *t, Connection *host, Window *w, const char *name, uint64_t *ret_id)
{
	BroadcastSub *s;
	Group *g;
	bool oom = false;

	if (host->n_broadcasts >= t->broker->limits.max_broadcasts_per_connection)
		return BROADCAST_E_QUOTA;
	if (t->count + 1 > t->n_by_id && grow_ids(t) < 0)
		return -ENOMEM;
	s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	s->origin = origin_copy(w->origin);
	s->top_origin = origin_copy(top_of(w)->origin);
	s->site = s->top_origin ? site_of(s->top_origin, &oom) : NULL;
	if (!s->origin || !s->top_origin || oom) {
		sub_free(s);
		return -ENOMEM;
	}
	g = find_group(t, name);
	if (!g) {
		size_t b = hash_name(name) % BROADCAST_BUCKETS;

		g = calloc(1, sizeof(*g));
		if (g)
			g->name = strdup(name);
		if (!g || !g->name) {
			free(g);
			sub_free(s);
			return -ENOMEM;
		}
		g->hash_next = t->groups[b];
		t->groups[b] = g;
	}
	s->id = t->next_id++;
	s->group = g;
	s->host = host;
	s->window_id = w->id;
	s->document = w->document;
	s->group_prev = g->last;
	if (g->last)
		g->last->group_next = s;
	else
		g->first = s;
	g->last = s;
	s->window_next = w->broadcasts;
	w->broadcasts = s;
	s->id_next = t->by_id[hash_id(s->id, t->n_by_id)];
	t->by_id[hash_id(s->id, t->n_by_id)] = s;
	t->count++;
	host->n_broadcasts++;
	log_debug("window %llu opened BroadcastChannel %llu '%.200s'", (unsigned long long)w->id,
		  (unsigned long long)s->id, name);
	*ret_id = s->id;
	return 0;
}

/* Unlinks s from its group (freeing an empty group), the id hash and its
 * host's count, and frees it.  The caller has unlinked it from its
 * window's list. */
static void remove_sub(BroadcastTable *t, BroadcastSub *s)
{
	Group *g = s->group;
	BroadcastSub **p = &t->by_id[hash_id(s->id, t->n_by_id)];

	while (*p != s)
		p = &(*p)->id_next;
	*p = s->id_next;
	if (s->group_prev)
		s->group_prev->group_next = s->group_next;
	else
		g->first = s->group_next;
	if (s->group_next)
		s->group_next->group_prev = s->group_prev;
	else
		g->last = s->group_prev;
	if (!g->first) {
		Group **gp = &t->groups[hash_name(g->name) % BROADCAST_BUCKETS];

		while (*gp != g)
			gp = &(*gp)->hash_next;
		*gp = g->hash_next;
		free(g->name);
		free(g);
	}
	if (s->host->n_broadcasts > 0)
		s->host->n_broadcasts--;
	t->count--;
	log_debug("BroadcastChannel %llu closed", (unsigned long long)s->id);
	sub_free(s);
}

void broadcast_close(BroadcastTable *t, Connection *host, uint64_t id)
{
	BroadcastSub *s = find_sub(t, id);
	Window *w;

	if (!s || s->host != host)
		return;
	w = registry_find(t->broker->registry, s->window_id);
	if (w) {
		for (BroadcastSub **p = &w->broadcasts; *p; p = &(*p)->window_next) {
			if (*p == s) {
				*p = s->window_next;
				break;
			}
		}
	}
	remove_sub(t, s);
}

void broadcast_window_gone(BroadcastTable *t, Window *w, uint64_t keep_document)
{
	BroadcastSub **p = &w->broadcasts;

	while (*p) {
		BroadcastSub *s = *p;

		if (s->document == keep_document) {
			p = &s->window_next;
			continue;
		}
		*p = s->window_next;
		remove_sub(t, s);
	}
}

static bool same_partition(const BroadcastSub *a, const BroadcastSub *b)
{
	if (!origin_same(a->origin, b->origin))
		return false;
	if (a->site && b->site)
		return strcmp(a->site, b->site) == 0;
	return !a->site && !b->site && origin_same(a->top_origin, b->top_origin);
}

void broadcast_post(BroadcastTable *t, Connection *sender, Frame *frame)
{
	const Crosspost__BroadcastPost *post = frame->header->broadcast_post;
	uint32_t serial = frame->header->serial;
	BroadcastSub *from = find_sub(t, post->channel_id);
	size_t length = frame_payload_length(frame);
	const unsigned char *bytes;
	uint64_t *targets;
	size_t n = 0, cap = 0;
	char origin[FRAME_URL_MAX + 1];

	if (!from) {
		if (post->channel_id == 0 || post->channel_id >= t->next_id)
			connection_send_error(sender, serial, CROSSPOST__ERROR_CODE__ERROR_NOT_FOUND,
					      "BroadcastChannel %llu does not exist",
					      (unsigned long long)post->channel_id);
		return;    /* closed: posting does nothing more (the library says InvalidStateError) */
	}
	if (from->host != sender) {
		connection_send_error(sender, serial, CROSSPOST__ERROR_CODE__ERROR_INVALID_STATE,
				      "BroadcastChannel %llu is not this connection's",
				      (unsigned long long)post->channel_id);
		return;
	}
	bytes = frame_payload_bytes(frame);
	if (!bytes) {
		connection_close(sender, LOG_ERROR, "out of memory broadcasting a message");
		return;
	}
	/* The receivers are chosen first: queueing to one that cannot take
	 * the frame closes it, which closes its channels. */
	for (BroadcastSub *to = from->group->first; to; to = to->group_next)
		cap++;
	targets = malloc(cap * sizeof(*targets));
	if (!targets) {
		connection_close(sender, LOG_ERROR, "out of memory broadcasting a message");
		return;
	}
	for (BroadcastSub *to = from->group->first; to; to = to->group_next)
		if (to != from && same_partition(from, to) && !to->host->closing)
			targets[n++] = to->id;
	snprintf(origin, sizeof(origin), "%s", origin_serialization(from->origin));
	for (size_t i = 0; i < n && !sender->closing; i++) {
		Crosspost__Header header = CROSSPOST__HEADER__INIT;
		Crosspost__Event event = CROSSPOST__EVENT__INIT;
		BroadcastSub *to = find_sub(t, targets[i]);
		Frame *copy;

		if (!to || to->host->closing)
			continue;
		/* Each receiver's queue takes a payload of its own. */
		copy = calloc(1, sizeof(*copy));
		if (copy)
			copy->payload = evbuffer_new();
		if (!copy || !copy->payload || evbuffer_add(copy->payload, bytes, length) < 0) {
			frame_free(copy);
			connection_close(sender, LOG_ERROR, "out of memory broadcasting a message");
			break;
		}
		event.type = CROSSPOST__EVENT_TYPE__EVENT_MESSAGE;
		event.target_broadcast_id = to->id;
		event.target_document = to->document;
		event.origin = origin;
		event.target_origin = (char *)"*";
		header.body_case = CROSSPOST__HEADER__BODY_EVENT;
		header.event = &event;
		monitor_message(t->broker, CROSSPOST__MONITOR_KIND__MONITOR_BROADCAST,
				registry_find(t->broker->registry, from->window_id),
				registry_find(t->broker->registry, to->window_id), to->window_id, NULL, NULL,
				from->id, copy);
		if (queue_frame(to->host, sender, NULL, &header, copy, NULL, 0) == 0)
			t->broker->stats.broadcasts_delivered++;
		frame_free(copy);
	}
	free(targets);
}
