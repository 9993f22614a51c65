/* SPDX-License-Identifier: MIT */
/* registry.c - live windows indexed by id and by name. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "cleanup.h"
#include "frame_limits.h"
#include "registry.h"

/* Chained hash tables that double when the load reaches 1. */
#define REGISTRY_INITIAL_BUCKETS 64
_Static_assert((REGISTRY_INITIAL_BUCKETS & (REGISTRY_INITIAL_BUCKETS - 1)) == 0, "bucket() masks");

struct Registry {
	Window **by_id, **by_name;
	size_t n_buckets, count;
	uint64_t next_id;
	Window *first, *last;
};

static size_t hash_id(uint64_t id)
{
	id ^= id >> 33;
	id *= 0xff51afd7ed558ccdULL;
	id ^= id >> 33;
	return (size_t)id;
}

/* n_buckets is a power of two (REGISTRY_INITIAL_BUCKETS, doubled): a mask,
 * not a division, on every lookup. */
static size_t bucket(const Registry *r, size_t hash)
{
	return hash & (r->n_buckets - 1);
}

static size_t hash_name(const char *name)
{
	size_t h = 14695981039346656037ULL;    /* FNV-1a */

	for (; *name; name++)
		h = (h ^ (unsigned char)*name) * 1099511628211ULL;
	return h;
}

int registry_new(Registry **ret)
{
	Registry *r = calloc(1, sizeof(*r));

	if (!r)
		return -ENOMEM;
	r->n_buckets = REGISTRY_INITIAL_BUCKETS;
	r->by_id = calloc(r->n_buckets, sizeof(*r->by_id));
	r->by_name = calloc(r->n_buckets, sizeof(*r->by_name));
	r->next_id = 1;
	if (!r->by_id || !r->by_name) {
		registry_free(r);
		return -ENOMEM;
	}
	*ret = r;
	return 0;
}

static Window *window_free(Window *w)
{
	if (w) {
		free(w->name);
		free(w->url);
		origin_free(w->origin);
		free(w);
	}
	return NULL;
}

Registry *registry_free(Registry *r)
{
	if (!r)
		return NULL;
	while (r->first)
		registry_remove(r, r->first);
	free(r->by_id);
	free(r->by_name);
	free(r);
	return NULL;
}

static void link_window(Registry *r, Window *w)
{
	size_t b = bucket(r, hash_id(w->id));

	w->id_next = r->by_id[b];
	r->by_id[b] = w;
	if (w->name) {
		b = bucket(r, hash_name(w->name));
		w->name_next = r->by_name[b];
		r->by_name[b] = w;
	}
}

static int grow(Registry *r)
{
	size_t n = r->n_buckets * 2;
	Window **by_id = calloc(n, sizeof(*by_id)), **by_name = calloc(n, sizeof(*by_name));

	if (!by_id || !by_name) {
		free(by_id);
		free(by_name);
		return -ENOMEM;
	}
	free(r->by_id);
	free(r->by_name);
	r->by_id = by_id;
	r->by_name = by_name;
	r->n_buckets = n;
	for (Window *w = r->first; w; w = w->order_next)
		link_window(r, w);
	return 0;
}

int registry_add(Registry *r, void *owner, pid_t pid, const char *url, const char *name,
		 bool privileged, Window **ret, const char **ret_reason)
{
	_cleanup_(freep) Window *w = NULL;
	Origin *origin = NULL;
	int err;

	if (name && !*name)
		name = NULL;
	if (name && registry_find_name(r, name)) {
		if (ret_reason)
			*ret_reason = "a live window already has that name";
		return REGISTRY_E_NAME_TAKEN;
	}
	err = origin_from_url(url, strlen(url), NULL, 0, &origin, ret_reason);
	if (err == -EINVAL)
		return REGISTRY_E_BAD_URL;
	if (err < 0)
		return err;
	if (strlen(origin_serialization(origin)) > FRAME_URL_MAX) {
		origin_free(origin);
		if (ret_reason)
			*ret_reason = "the URL's origin serializes to more than 8192 bytes";
		return REGISTRY_E_ORIGIN_TOO_LONG;
	}
	if (r->count + 1 > r->n_buckets && grow(r) < 0)
		goto oom;
	w = calloc(1, sizeof(*w));
	if (!w)
		goto oom;
	w->url = strdup(url);
	w->name = name ? strdup(name) : NULL;
	if (!w->url || (name && !w->name)) {
		free(w->url);
		free(w->name);
		goto oom;
	}
	w->origin = origin;
	w->id = r->next_id++;
	w->owner = owner;
	w->pid = pid;
	w->privileged = privileged;
	w->order_prev = r->last;
	if (r->last)
		r->last->order_next = w;
	else
		r->first = w;
	r->last = w;
	link_window(r, w);
	r->count++;
	*ret = steal_pointer(&w);
	return 0;
oom:
	origin_free(origin);
	return -ENOMEM;
}

int registry_add_pending(Registry *r, const char *url, const char *name, Origin *origin, Window **ret)
{
	Window *w;

	if (name && !*name)
		name = NULL;
	if (r->count + 1 > r->n_buckets && grow(r) < 0)
		return -ENOMEM;
	w = calloc(1, sizeof(*w));
	if (!w)
		return -ENOMEM;
	w->url = strdup(url);
	w->name = name ? strdup(name) : NULL;
	if (!w->url || (name && !w->name)) {
		free(w->url);
		free(w->name);
		free(w);
		return -ENOMEM;
	}
	w->origin = origin;
	w->id = r->next_id++;
	w->pending = true;
	w->order_prev = r->last;
	if (r->last)
		r->last->order_next = w;
	else
		r->first = w;
	r->last = w;
	link_window(r, w);
	r->count++;
	*ret = w;
	return 0;
}

int registry_set_document(Registry *r, Window *w, const char *url, Origin *origin)
{
	char *copy = strdup(url);

	(void)r;
	if (!copy)
		return -ENOMEM;
	free(w->url);
	w->url = copy;
	origin_free(w->origin);
	w->origin = origin;
	return 0;
}

int registry_navigate(Registry *r, Window *w, const char *url, const char **ret_reason)
{
	Origin *origin = NULL;
	char *copy;
	int err;

	(void)r;
	err = origin_from_url(url, strlen(url), NULL, 0, &origin, ret_reason);
	if (err == -EINVAL)
		return REGISTRY_E_BAD_URL;
	if (err < 0)
		return err;
	if (strlen(origin_serialization(origin)) > FRAME_URL_MAX) {
		origin_free(origin);
		if (ret_reason)
			*ret_reason = "the URL's origin serializes to more than 8192 bytes";
		return REGISTRY_E_ORIGIN_TOO_LONG;
	}
	copy = strdup(url);
	if (!copy) {
		origin_free(origin);
		return -ENOMEM;
	}
	free(w->url);
	w->url = copy;
	origin_free(w->origin);
	w->origin = origin;
	w->generation++;
	return 0;
}

static void unlink_chain(Window **head, Window *w, size_t offset)
{
	for (Window **p = head; *p; p = (Window **)((char *)*p + offset)) {
		if (*p == w) {
			*p = *(Window **)((char *)w + offset);
			return;
		}
	}
}

void registry_remove(Registry *r, Window *w)
{
	unlink_chain(&r->by_id[bucket(r, hash_id(w->id))], w, offsetof(Window, id_next));
	if (w->name)
		unlink_chain(&r->by_name[bucket(r, hash_name(w->name))], w,
			     offsetof(Window, name_next));
	if (w->order_prev)
		w->order_prev->order_next = w->order_next;
	else
		r->first = w->order_next;
	if (w->order_next)
		w->order_next->order_prev = w->order_prev;
	else
		r->last = w->order_prev;
	r->count--;
	window_free(w);
}

Window *registry_find(const Registry *r, uint64_t id)
{
	for (Window *w = r->by_id[bucket(r, hash_id(id))]; w; w = w->id_next)
		if (w->id == id)
			return w;
	return NULL;
}

Window *registry_find_name(const Registry *r, const char *name)
{
	for (Window *w = r->by_name[bucket(r, hash_name(name))]; w; w = w->name_next)
		if (strcmp(w->name, name) == 0)
			return w;
	return NULL;
}

bool registry_id_assigned(const Registry *r, uint64_t id) { return id > 0 && id < r->next_id; }
size_t registry_count(const Registry *r) { return r->count; }
Window *registry_first(const Registry *r) { return r->first; }
Window *registry_last(const Registry *r) { return r->last; }

Window *registry_first_after(const Registry *r, uint64_t after_id)
{
	Window *w = after_id ? registry_find(r, after_id) : NULL;

	if (w)
		return w->order_next;
	/* after_id closed since (or 0): ids only grow along the list. */
	for (w = r->first; w && w->id <= after_id; w = w->order_next)
		;
	return w;
}
