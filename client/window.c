/* SPDX-License-Identifier: MIT */
/* window.c - windows: open, close, navigate; finding other windows, and
 * waiting for one to appear. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "client.h"
#include "error.h"
#include "frame_limits.h"

/* The public limits are the wire's. */
_Static_assert(CP_URL_MAX == FRAME_URL_MAX, "CP_URL_MAX is FRAME_URL_MAX");
_Static_assert(CP_NAME_MAX == FRAME_NAME_MAX, "CP_NAME_MAX is FRAME_NAME_MAX");
_Static_assert(CP_TARGET_ORIGIN_MAX == FRAME_TARGET_ORIGIN_MAX,
	       "CP_TARGET_ORIGIN_MAX is FRAME_TARGET_ORIGIN_MAX");

/* Requests for the broker itself answer quickly; this bounds a hung one. */
#define CLIENT_REQUEST_TIMEOUT_MS 30000

cp_window *window_free(cp_window *w)
{
	if (!w)
		return NULL;
	event_queue_clear(&w->backlog);
	free(w->name);
	free(w->url);
	free(w->origin_serialized);
	free(w->lost_message);
	origin_free(w->origin);
	free(w);
	return NULL;
}

int window_check_registered(const cp_window *w)
{
	if (!w->lost)
		return 0;
	return error_set(CP_ERR_INVALID_STATE, "window %s%s%swas not registered again after the broker "
			 "restarted: %s", w->name ? "'" : "", w->name ? w->name : "", w->name ? "' " : "",
			 w->lost_message ? w->lost_message : "");
}

/* An Origin for the serialization the broker sent: a tuple parses back;
 * "null" is an opaque origin (only same-origin with itself here, which is
 * all the client needs: the broker decides targetOrigin matches). */
static int origin_from_serialized(const char *serialized, Origin **ret)
{
	const char *reason = "?";

	if (strcmp(serialized, "null") == 0) {
		*ret = origin_new_opaque();
		return *ret ? 0 : error_set(CP_ERR_NO_MEMORY, "out of memory");
	}
	if (origin_from_url(serialized, strlen(serialized), NULL, 0, ret, &reason) < 0)
		return error_set(CP_ERR_NO_MEMORY, "the broker sent an origin that does not parse: %s", reason);
	return 0;
}

int window_new(cp_client *c, uint64_t id, const char *url, const char *name, const char *origin,
	       uint64_t document, uint64_t generation, bool privileged, cp_window **ret)
{
	cp_window *w = calloc(1, sizeof(*w));

	if (!w)
		return error_set(CP_ERR_NO_MEMORY, "out of memory");
	event_queue_init(&w->backlog);
	w->client = c;
	w->id = id;
	w->proxy = (cp_window_ref){ .client = c, .id = id, .borrowed = true };
	w->url = strdup(url);
	w->name = name && *name ? strdup(name) : NULL;
	w->origin_serialized = strdup(origin);
	w->document = document;
	w->generation = generation;
	w->privileged = privileged;
	if (!w->url || (name && *name && !w->name) || !w->origin_serialized ||
	    origin_from_serialized(origin, &w->origin) < 0) {
		window_free(w);
		return error_set(CP_ERR_NO_MEMORY, "out of memory");
	}
	w->next = c->windows;
	c->windows = w;
	*ret = w;
	return 0;
}

int window_set_document(cp_window *w, const char *url, const char *origin, uint64_t generation, uint64_t document)
{
	char *url_copy = strdup(url), *origin_copy = strdup(origin);
	Origin *parsed = NULL;

	if (!url_copy || !origin_copy || origin_from_serialized(origin, &parsed) < 0) {
		free(url_copy);
		free(origin_copy);
		return error_set(CP_ERR_NO_MEMORY, "out of memory");
	}
	free(w->url);
	w->url = url_copy;
	free(w->origin_serialized);
	w->origin_serialized = origin_copy;
	origin_free(w->origin);
	w->origin = parsed;
	w->generation = generation;
	if (document != w->document) {
		/* A new Window object: what the old one had is gone (the broker
		 * closed it too); its undispatched events are dropped when they
		 * come up (event.c). */
		w->document = document;
		ports_window_changed(w->client, w->id, document);
		broadcasts_window_changed(w->client, w->id, document);
	}
	return 0;
}

void window_set_closed(cp_window *w)
{
	w->closed = true;
	event_queue_clear(&w->backlog);
	ports_window_changed(w->client, w->id, 0);
	broadcasts_window_changed(w->client, w->id, 0);
}

bool cp_window_is_closed(const cp_window *w) { return w->closed; }

cp_window *client_find_window(const cp_client *c, uint64_t id)
{
	for (cp_window *w = c->windows; w; w = w->next)
		if (w->id == id && !w->unregistered)
			return w;
	return NULL;
}

/* The URL's origin, parsed as the broker will; SyntaxError if it fails,
 * RangeError if the URL or its origin is over the limit (the origin can be
 * the longer: IDNA turns a few bytes of Unicode into xn-- labels). */
static int parse_url_origin(const char *url, Origin **ret)
{
	const char *reason = "?";
	Origin *origin = NULL;
	int r;

	r = client_check_size("URL", url, CP_URL_MAX, "CP_URL_MAX");
	if (r < 0)
		return r;
	r = origin_from_url(url, strlen(url), NULL, 0, &origin, &reason);
	if (r == -EINVAL)
		return error_set(CP_ERR_SYNTAX, "invalid URL '%s': %s", url, reason);
	if (r < 0)
		return error_set(CP_ERR_NO_MEMORY, "out of memory");
	r = client_check_size("URL's serialized origin", origin_serialization(origin), CP_URL_MAX, "CP_URL_MAX");
	if (r < 0) {
		origin_free(origin);
		return r;
	}
	*ret = origin;
	return 0;
}

int cp_window_open_with_flags(cp_client *c, const char *url, const char *name, unsigned flags,
			      cp_window **ret)
{
	Crosspost__Header header = CROSSPOST__HEADER__INIT;
	Crosspost__Register reg = CROSSPOST__REGISTER__INIT;
	Frame *reply = NULL;
	cp_window *w;
	int r;

	if (!c || !url || !ret)
		return error_set(CP_ERR_TYPE, "cp_window_open: client, url and ret are required");
	if (flags & ~(unsigned)CP_WINDOW_PRIVILEGED)
		return error_set(CP_ERR_TYPE, "cp_window_open: unknown flags 0x%x", flags);
	if (name && (r = client_check_size("window name", name, CP_NAME_MAX, "CP_NAME_MAX")) < 0)
		return r;
	w = calloc(1, sizeof(*w));
	if (!w)
		return error_set(CP_ERR_NO_MEMORY, "out of memory");
	event_queue_init(&w->backlog);
	w->client = c;
	w->privileged = flags & CP_WINDOW_PRIVILEGED;
	w->document = 1;
	w->url = strdup(url);
	w->name = name && *name ? strdup(name) : NULL;
	if (!w->url || (name && *name && !w->name)) {
		r = error_set(CP_ERR_NO_MEMORY, "out of memory");
		goto fail;
	}
	r = parse_url_origin(url, &w->origin);
	if (r < 0)
		goto fail;
	reg.url = (char *)url;
	reg.name = w->name ? w->name : (char *)"";
	reg.privileged = w->privileged;
	header.body_case = CROSSPOST__HEADER__BODY_REGISTER;
	header.register_ = &reg;
	r = client_request(c, &header, CLIENT_REQUEST_TIMEOUT_MS, &reply);
	if (r < 0)
		goto fail;
	if (reply->header->body_case != CROSSPOST__HEADER__BODY_REGISTERED) {
		r = client_fail(c, "the broker answered register with a %s frame",
				frame_kind_name(reply->header->body_case));
		goto fail;
	}
	w->id = reply->header->registered->window_id;
	w->proxy = (cp_window_ref){ .client = c, .id = w->id, .borrowed = true };
	if (reply->header->registered->document)
		w->document = reply->header->registered->document;
	w->origin_serialized = strdup(reply->header->registered->origin);
	if (!w->origin_serialized) {
		r = error_set(CP_ERR_NO_MEMORY, "out of memory");
		goto fail;
	}
	frame_free(reply);
	w->next = c->windows;
	c->windows = w;
	*ret = w;
	return 0;
fail:
	frame_free(reply);
	window_free(w);
	return r;
}

int cp_window_open(cp_client *c, const char *url, const char *name, cp_window **ret)
{
	return cp_window_open_with_flags(c, url, name, 0, ret);
}

int cp_window_close(cp_window *w)
{
	Crosspost__Header header = CROSSPOST__HEADER__INIT;
	Crosspost__Unregister unreg = CROSSPOST__UNREGISTER__INIT;
	Frame *reply = NULL;
	cp_client *c;
	bool gone;
	int r;

	if (!w)
		return 0;
	c = w->client;
	for (cp_window **p = &c->windows; *p; p = &(*p)->next) {
		if (*p == w) {
			*p = w->next;
			break;
		}
	}
	reconnect_window_closed(c, w);
	/* Gone at the broker already (closed there, lost in a reconnection,
	 * or the broker is away and it will not be registered again):
	 * nothing to tell it. */
	gone = w->closed || w->lost || reconnect_away(c);
	/* Its ports and channels go with it (the broker closes them too). */
	if (!w->closed)
		window_set_closed(w);
	if (gone) {
		window_free(w);
		return 0;
	}
	unreg.window_id = w->id;
	header.body_case = CROSSPOST__HEADER__BODY_UNREGISTER;
	header.unregister = &unreg;
	r = client_request(c, &header, CLIENT_REQUEST_TIMEOUT_MS, &reply);
	frame_free(reply);
	window_free(w);
	/* Discarded at the broker before our request arrived: closed all the
	 * same. */
	return r == CP_ERR_NOT_FOUND ? 0 : r;
}

int cp_window_navigate(cp_window *w, const char *url)
{
	Crosspost__Header header = CROSSPOST__HEADER__INIT;
	Crosspost__Navigate nav = CROSSPOST__NAVIGATE__INIT;
	const Crosspost__Navigated *nav_reply;
	Origin *origin = NULL;
	Frame *reply = NULL;
	int r;

	if (!w || !url)
		return error_set(CP_ERR_TYPE, "cp_window_navigate: window and url are required");
	r = window_check_registered(w);
	if (r < 0)
		return r;
	if (w->closed)
		return error_set(CP_ERR_INVALID_STATE, "window %llu is closed", (unsigned long long)w->id);
	/* Checked here for a synchronous SyntaxError or RangeError; the
	 * document's origin is the broker's answer (it may be inherited). */
	r = parse_url_origin(url, &origin);
	if (r < 0)
		return r;
	nav.window_id = w->id;
	nav.url = (char *)url;
	header.body_case = CROSSPOST__HEADER__BODY_NAVIGATE;
	header.navigate = &nav;
	r = client_request(w->client, &header, CLIENT_REQUEST_TIMEOUT_MS, &reply);
	if (r < 0)
		goto out;
	if (reply->header->body_case != CROSSPOST__HEADER__BODY_NAVIGATED) {
		r = client_fail(w->client, "the broker answered navigate with a %s frame",
				frame_kind_name(reply->header->body_case));
		goto out;
	}
	nav_reply = reply->header->navigated;
	/* An older broker sends no URL or document: the URL asked for, and
	 * a new Window per navigation. */
	r = window_set_document(w, *nav_reply->url ? nav_reply->url : url, nav_reply->origin, nav_reply->generation,
				nav_reply->document ? nav_reply->document : w->document + 1);
out:
	origin_free(origin);
	frame_free(reply);
	return r;
}

uint64_t cp_window_id(const cp_window *w) { return w->id; }
const char *cp_window_name(const cp_window *w) { return w->name; }
const char *cp_window_url(const cp_window *w) { return w->url; }
const char *cp_window_origin(const cp_window *w) { return w->origin_serialized; }
cp_client *cp_window_client(const cp_window *w) { return w->client; }

int cp_client_lookup(cp_client *c, const char *name, uint64_t *ret_id)
{
	return cp_client_lookup_window(c, name, ret_id, NULL);
}

int cp_client_lookup_window(cp_client *c, const char *name, uint64_t *ret_id, char **ret_origin)
{
	Crosspost__Header header = CROSSPOST__HEADER__INIT;
	Crosspost__Lookup lookup = CROSSPOST__LOOKUP__INIT;
	Frame *reply = NULL;
	char *origin = NULL;
	int r;

	if (!c || !name || !ret_id)
		return error_set(CP_ERR_TYPE, "cp_client_lookup: client, name and ret_id are required");
	r = client_check_size("window name", name, CP_NAME_MAX, "CP_NAME_MAX");
	if (r < 0)
		return r;
	lookup.name = (char *)name;
	header.body_case = CROSSPOST__HEADER__BODY_LOOKUP;
	header.lookup = &lookup;
	r = client_request(c, &header, CLIENT_REQUEST_TIMEOUT_MS, &reply);
	if (r < 0)
		return r;
	if (reply->header->body_case != CROSSPOST__HEADER__BODY_FOUND) {
		frame_free(reply);
		return client_fail(c, "the broker answered lookup with a %s frame",
				   frame_kind_name(reply->header->body_case));
	}
	if (ret_origin) {
		origin = strdup(reply->header->found->origin);
		if (!origin) {
			frame_free(reply);
			return error_set(CP_ERR_NO_MEMORY, "out of memory");
		}
		*ret_origin = origin;
	}
	*ret_id = reply->header->found->window_id;
	frame_free(reply);
	return 0;
}

/* The pause between two lookups while waiting for a name: it starts at
 * 1 ms, so that a window opened at about the same time is found at once,
 * and doubles up to 50 ms, so that a long wait costs the broker at most
 * 20 lookups a second.  (A broker-side wait, answered when the name is
 * registered, would need neither; see cp_client_wait_for_window().) */
#define WAIT_FOR_WINDOW_FIRST_PAUSE_MS 1
#define WAIT_FOR_WINDOW_MAX_PAUSE_MS 50

int cp_client_wait_for_window(cp_client *c, const char *name, int timeout_ms, uint64_t *ret_id)
{
	int64_t deadline, pause = WAIT_FOR_WINDOW_FIRST_PAUSE_MS;
	int r;

	if (!c || !name || !*name || !ret_id)
		return error_set(CP_ERR_TYPE,
				 "cp_client_wait_for_window: client, a non-empty name and ret_id are required");
	deadline = timeout_ms < 0 ? -1 : loop_now_ms() + timeout_ms;
	for (;;) {
		int64_t now, until;

		/* A lookup is never cut short by the deadline: it is one round
		 * trip, bounded like every other request.  Its argument checks
		 * are this call's too. */
		r = cp_client_lookup(c, name, ret_id);
		if (r != CP_ERR_NOT_FOUND)
			break;
		now = loop_now_ms();
		if (deadline >= 0 && now >= deadline) {
			r = error_set(CP_ERR_TIMEOUT, "no window named '%s' appeared within %d ms", name,
				      timeout_ms);
			break;
		}
		until = now + pause;
		if (deadline >= 0 && until > deadline)
			until = deadline;
		/* Events that arrive meanwhile are read and queued, not
		 * dispatched, as in every blocking call. */
		r = loop_idle_until(c, until);
		if (r < 0)
			break;
		if (pause < WAIT_FOR_WINDOW_MAX_PAUSE_MS)
			pause = pause * 2 < WAIT_FOR_WINDOW_MAX_PAUSE_MS ? pause * 2 : WAIT_FOR_WINDOW_MAX_PAUSE_MS;
	}
	loop_kick(c);
	return r;
}

void cp_window_info_free(cp_window_info *infos, size_t count)
{
	if (!infos)
		return;
	for (size_t i = 0; i < count; i++) {
		free(infos[i].name);
		free(infos[i].url);
		free(infos[i].origin);
	}
	free(infos);
}

/* Appends one WindowList page to *infos (grown as needed).  Returns 0 or
 * CP_ERR_NO_MEMORY (what was appended so far stays, counted in *n). */
static int append_page(const Crosspost__WindowList *page, cp_window_info **infos, size_t *n, size_t *cap)
{
	for (size_t i = 0; i < page->n_windows; i++) {
		const Crosspost__WindowInfo *wi = page->windows[i];
		cp_window_info *info;

		if (*n == *cap) {
			size_t grown_cap = *cap ? *cap * 2 : 16;
			cp_window_info *grown = realloc(*infos, grown_cap * sizeof(*grown));

			if (!grown)
				return error_set(CP_ERR_NO_MEMORY, "out of memory");
			*infos = grown;
			*cap = grown_cap;
		}
		info = &(*infos)[(*n)++];
		info->id = wi->id;
		info->pid = wi->pid;
		info->name = *wi->name ? strdup(wi->name) : NULL;
		info->url = strdup(wi->url);
		info->origin = strdup(wi->origin);
		info->parent_id = wi->parent_id;
		info->opener_id = wi->opener_id;
		info->pending = wi->pending;
		if ((*wi->name && !info->name) || !info->url || !info->origin)
			return error_set(CP_ERR_NO_MEMORY, "out of memory");
	}
	return 0;
}

int cp_client_list_windows(cp_client *c, cp_window_info **ret, size_t *ret_count)
{
	cp_window_info *infos = NULL;
	size_t n = 0, cap = 0;
	uint64_t after = 0;
	bool more = true;
	int r = 0;

	if (!c || !ret || !ret_count)
		return error_set(CP_ERR_TYPE, "cp_client_list_windows: client, ret and ret_count are required");
	/* The broker answers in pages that each fit one frame. */
	while (more && r == 0) {
		Crosspost__Header header = CROSSPOST__HEADER__INIT;
		Crosspost__ListWindows list = CROSSPOST__LIST_WINDOWS__INIT;
		const Crosspost__WindowList *page;
		Frame *reply = NULL;

		list.after_id = after;
		header.body_case = CROSSPOST__HEADER__BODY_LIST_WINDOWS;
		header.list_windows = &list;
		r = client_request(c, &header, CLIENT_REQUEST_TIMEOUT_MS, &reply);
		if (r < 0)
			break;
		if (reply->header->body_case != CROSSPOST__HEADER__BODY_WINDOW_LIST) {
			r = client_fail(c, "the broker answered list with a %s frame",
					frame_kind_name(reply->header->body_case));
			frame_free(reply);
			break;
		}
		page = reply->header->window_list;
		more = page->more && page->n_windows > 0;
		if (page->n_windows > 0)
			after = page->windows[page->n_windows - 1]->id;
		r = append_page(page, &infos, &n, &cap);
		frame_free(reply);
	}
	if (r < 0) {
		cp_window_info_free(infos, n);
		return r;
	}
	*ret = infos ? infos : calloc(1, sizeof(*infos));
	if (!*ret)
		return error_set(CP_ERR_NO_MEMORY, "out of memory");
	*ret_count = n;
	return 0;
}
