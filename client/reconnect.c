/* SPDX-License-Identifier: MIT */
/* reconnect.c - surviving a broker restart: noticing the loss, attempts with
 * back-off, registering the windows again, and the reconnect callback's
 * notices in order with the events around them. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>

#include "client.h"
#include "error.h"
#include "stream.h"

/* How long one Register of an attempt may take: a broker that was just
 * started answers at once, and a hung one must not hold the program for
 * the 30 s of an ordinary request. */
#define RECONNECT_REGISTER_TIMEOUT_MS 5000

typedef struct Notice {
	cp_reconnect_event event;
	cp_window *window;          /* CP_RECONNECT_WINDOW only */
	int error;
	char message[256];
} Notice;

typedef struct Reconnect {
	bool enabled;
	int limit_ms;               /* < 0: never give up */
	cp_reconnect_callback callback;
	void *userdata;
	bool away;                  /* lost, attempts under way */
	bool gave_up;
	bool attempting;            /* inside attempt(): a loss is the attempt's failure */
	int64_t lost_at, next_at;   /* loop_now_ms() times */
	int64_t delay;              /* before the next attempt after a failed one */
	unsigned attempts;          /* since the loss */
	char reason[256];           /* why the connection was lost */
	char last_error[256];       /* why the last attempt failed */
	/* Notices not yet delivered, in order, and how many events of the
	 * client's queue come before them: they were received first. */
	Notice *notices;
	size_t n_notices, cap_notices;
	size_t notice_after;
} Reconnect;

static Reconnect *state(cp_client *c)
{
	if (!c->reconnect) {
		c->reconnect = calloc(1, sizeof(*c->reconnect));
		if (c->reconnect)
			c->reconnect->limit_ms = -1;
	}
	return c->reconnect;
}

static size_t queue_length(const EventQueue *q)
{
	size_t n = 0;

	for (const Frame *f = q->head; f; f = f->next)
		n++;
	return n;
}

/* Moves every frame of src to dst (empty before); src is left empty. */
static void queue_move(EventQueue *dst, EventQueue *src)
{
	dst->head = src->head;
	dst->tail = src->head ? src->tail : &dst->head;
	dst->length = src->length;
	event_queue_init(src);
}

/* Puts the frames of front (emptied) before those of q. */
static void queue_prepend(EventQueue *q, EventQueue *front)
{
	if (!front->head)
		return;
	*front->tail = q->head;
	if (!q->head)
		q->tail = front->tail;
	q->head = front->head;
	q->length += front->length;
	event_queue_init(front);
}

static void add_notice(cp_client *c, cp_reconnect_event event, cp_window *w, int error, const char *message)
{
	Reconnect *rc = c->reconnect;
	Notice *n;

	if (rc->n_notices == rc->cap_notices) {
		size_t cap = rc->cap_notices ? rc->cap_notices * 2 : 8;
		Notice *grown = realloc(rc->notices, cap * sizeof(*grown));

		/* Out of memory: the notice is lost, not the reconnection. */
		if (!grown)
			return;
		rc->notices = grown;
		rc->cap_notices = cap;
	}
	n = &rc->notices[rc->n_notices++];
	n->event = event;
	n->window = w;
	n->error = error;
	snprintf(n->message, sizeof(n->message), "%s", message ? message : "");
	if (c->base)
		loop_kick(c);
}

void client_mark_lost(cp_client *c, const char *why)
{
	Reconnect *rc = c->reconnect;
	size_t unsent;

	c->broken = true;
	if (!rc || !rc->enabled || rc->away || rc->gave_up)
		return;
	/* During an attempt the loss is that attempt's failure (attempt()
	 * schedules the next one); the outage itself was noticed already. */
	if (rc->attempting)
		return;
	rc->away = true;
	rc->lost_at = loop_now_ms();
	rc->next_at = rc->lost_at;          /* the first attempt at once */
	rc->delay = 0;
	rc->attempts = 0;
	rc->last_error[0] = '\0';
	unsent = c->stream ? evbuffer_get_length(stream_output(c->stream)) : 0;
	if (unsent)
		snprintf(rc->reason, sizeof(rc->reason), "%s; %zu bytes of queued posts were not sent", why,
			 unsent);
	else
		snprintf(rc->reason, sizeof(rc->reason), "%s", why);
	for (cp_window *w = c->windows; w; w = w->next) {
		w->reconnect_prev_id = w->id;
		w->reconnect_prev_document = w->document;
	}
	/* After the events received so far: they came before the loss. */
	if (rc->n_notices == 0)
		rc->notice_after = queue_length(&c->events);
	add_notice(c, CP_RECONNECT_LOST, NULL, CP_ERR_NETWORK, rc->reason);
}

bool reconnect_away(const cp_client *c)
{
	return c->reconnect && c->reconnect->away;
}

int client_lost_error(cp_client *c)
{
	const Reconnect *rc = c->reconnect;

	if (rc && rc->away) {
		int64_t now = loop_now_ms(), next = rc->next_at > now ? rc->next_at - now : 0;

		if (rc->last_error[0])
			return error_set(CP_ERR_NETWORK, "the broker is away; reconnecting (lost %lld ms ago: %s; "
					 "%u attempts, the last: %s; next in %lld ms)",
					 (long long)(now - rc->lost_at), rc->reason, rc->attempts, rc->last_error,
					 (long long)next);
		return error_set(CP_ERR_NETWORK, "the broker is away; reconnecting (lost %lld ms ago: %s)",
				 (long long)(now - rc->lost_at), rc->reason);
	}
	if (rc && rc->gave_up)
		return error_set(CP_ERR_NETWORK, "the connection to the broker is lost (%s); gave up reconnecting "
				 "after %u attempts (the last: %s)", rc->reason, rc->attempts, rc->last_error);
	return error_set(CP_ERR_NETWORK, "the connection to the broker is lost");
}

/* Renames the target of every window event in q, each once (so that one
 * window's old id being another's new one cannot chain): forward, from
 * the id and Window object a window had before the attempt to those it
 * has now; back, for the windows the attempt registered before it failed,
 * from the new ones to the old.  Forward, an event for no window the
 * attempt registered (one closed meanwhile, one lost, or an older Window
 * object of the window) gets window 0, which no window has: it is
 * dropped, never delivered to whichever window has its id now.  Events
 * for ports and BroadcastChannels are left alone: those died with the
 * broker, and their events are dropped. */
static void rename_targets(cp_client *c, EventQueue *q, bool back)
{
	for (Frame *f = q->head; f; f = f->next) {
		Crosspost__Event *ev;
		uint64_t to = 0, to_document = 0;

		if (f->header->body_case != CROSSPOST__HEADER__BODY_EVENT)
			continue;
		ev = f->header->event;
		if (ev->target_port_id || ev->target_broadcast_id)
			continue;
		for (cp_window *w = c->windows; w; w = w->next) {
			uint64_t from = back ? w->id : w->reconnect_prev_id;
			uint64_t from_document = back ? w->document : w->reconnect_prev_document;

			if (!w->reconnect_done || !from || ev->target_window_id != from)
				continue;
			if (ev->target_document && ev->target_document != from_document)
				break;
			to = back ? w->reconnect_prev_id : w->id;
			to_document = back ? w->reconnect_prev_document : w->document;
			break;
		}
		if (back && !to)
			continue;          /* not renamed forward: nothing to undo */
		ev->target_window_id = to;
		if (ev->target_document)
			ev->target_document = to_document;
	}
}

/* Register again, as cp_window_open_with_flags() did.  0, a CP_ERR_* the
 * broker answered (the window cannot be registered), or CP_ERR_NETWORK /
 * CP_ERR_TIMEOUT (the new connection failed too). */
static int register_again(cp_client *c, cp_window *w)
{
	Crosspost__Header header = CROSSPOST__HEADER__INIT;
	Crosspost__Register reg = CROSSPOST__REGISTER__INIT;
	Frame *reply = NULL;
	char *origin;
	int r;

	reg.url = w->url;
	reg.name = w->name ? w->name : (char *)"";
	reg.privileged = w->privileged;
	header.body_case = CROSSPOST__HEADER__BODY_REGISTER;
	header.register_ = &reg;
	r = client_request(c, &header, RECONNECT_REGISTER_TIMEOUT_MS, &reply);
	if (r < 0)
		return r;
	if (reply->header->body_case != CROSSPOST__HEADER__BODY_REGISTERED) {
		r = client_fail(c, "the broker answered register with a %s frame",
				frame_kind_name(reply->header->body_case));
		frame_free(reply);
		return r;
	}
	origin = strdup(reply->header->registered->origin);
	if (!origin) {
		frame_free(reply);
		return error_set(CP_ERR_NO_MEMORY, "out of memory");
	}
	free(w->origin_serialized);
	w->origin_serialized = origin;
	w->id = reply->header->registered->window_id;
	w->proxy.id = w->id;
	/* The new broker counts navigations and Window objects afresh. */
	w->generation = 0;
	w->document = reply->header->registered->document ? reply->header->registered->document : 1;
	frame_free(reply);
	return 0;
}

/* The window stays the program's, closed: id 0 matches no event. */
static void window_lost(cp_client *c, cp_window *w, int error, const char *message)
{
	w->lost = true;
	w->lost_error = error;
	free(w->lost_message);
	w->lost_message = strdup(message);
	window_set_closed(w);
	w->unregistered = true;
	w->id = 0;
	w->proxy.id = 0;
	add_notice(c, CP_RECONNECT_WINDOW, w, error, message);
}

static void give_up(cp_client *c)
{
	Reconnect *rc = c->reconnect;

	rc->away = false;
	rc->gave_up = true;
	add_notice(c, CP_RECONNECT_GAVE_UP, NULL, CP_ERR_NETWORK, rc->last_error);
}

static void attempt_failed(cp_client *c, const char *why)
{
	Reconnect *rc = c->reconnect;
	int64_t now = loop_now_ms();

	snprintf(rc->last_error, sizeof(rc->last_error), "%s", why);
	rc->delay = rc->delay ? rc->delay * 2 : CP_RECONNECT_FIRST_DELAY_MS;
	if (rc->delay > CP_RECONNECT_MAX_DELAY_MS)
		rc->delay = CP_RECONNECT_MAX_DELAY_MS;
	rc->next_at = now + rc->delay;
	if (rc->limit_ms >= 0 && now - rc->lost_at >= rc->limit_ms)
		give_up(c);
}

/* One attempt: connect and say Hello (cp_client_new() on the same path,
 * whose connection then moves into this client, so that every handle the
 * program holds stays valid), then register every window again.
 * Returns true when connected again. */
static bool attempt(cp_client *c)
{
	Reconnect *rc = c->reconnect;
	cp_client *fresh = NULL;
	Stream *dead;
	EventQueue before;
	bool failed = false;
	char why[256];
	int r;

	rc->attempts++;
	r = cp_client_new(c->socket_path, &fresh);
	if (r < 0) {
		snprintf(why, sizeof(why), "%s: %s", cp_error_name(r), cp_last_error_message());
		attempt_failed(c, why);
		return false;
	}
	rc->attempting = true;
	dead = c->stream;
	c->stream = fresh->stream;
	fresh->stream = dead;
	fresh->broken = true;               /* nothing of the dead stream is written */
	c->max_message_size = fresh->max_message_size;
	c->max_fds_per_message = fresh->max_fds_per_message;
	cp_client_free(fresh);
	frame_free(c->partial);
	c->partial = NULL;
	c->partial_missing = 0;
	frame_ahead_clear(&c->ahead);
	c->expect = (FrameExpect){ 0 };
	c->post_error = 0;
	c->broken = false;

	/* Ports lived in the old broker. */
	for (cp_port *p = c->ports; p; p = p->next) {
		if (p->state != CP_PORT_OPEN)
			continue;
		p->state = CP_PORT_CLOSED;
		p->lost = true;
		event_queue_clear(&p->backlog);
	}
	/* BroadcastChannels too: the application opens them again if it
	 * wants to (after CP_RECONNECT_WINDOW). */
	for (cp_broadcast *b = c->broadcasts; b; b = b->next) {
		if (b->closed)
			continue;
		b->closed = true;
		b->lost = true;
		event_queue_clear(&b->backlog);
	}
	/* Events received before now carry the old ids; those that arrive
	 * while windows register carry new ones.  Kept apart, then put back
	 * in front with their targets renamed. */
	queue_move(&before, &c->events);
	for (cp_window *w = c->windows; w; w = w->next)
		w->reconnect_done = false;
	for (cp_window *w = c->windows; w && !failed; w = w->next) {
		/* One closed before (by a script, discarded) stays closed. */
		if (w->closed)
			w->unregistered = true;
		if (w->lost || w->closed)
			continue;
		r = register_again(c, w);
		if (r == 0) {
			w->reconnect_done = true;
		} else if (r == CP_ERR_NETWORK || r == CP_ERR_TIMEOUT || c->broken) {
			snprintf(why, sizeof(why), "%s: %s", cp_error_name(r), cp_last_error_message());
			failed = true;
		} else {
			char message[256];

			snprintf(message, sizeof(message), "%s: %s", cp_error_name(r), cp_last_error_message());
			window_lost(c, w, r, message);
		}
	}
	if (failed) {
		/* The new connection failed as well.  What arrived on it goes
		 * back to the ids the earlier events carry, so that the next
		 * attempt renames them all alike. */
		c->broken = true;
		rename_targets(c, &c->events, true);
		for (cp_window *w = c->windows; w; w = w->next) {
			if (w->reconnect_done) {
				w->id = w->proxy.id = w->reconnect_prev_id;
				w->document = w->reconnect_prev_document;
			}
			w->reconnect_done = false;
		}
		queue_prepend(&c->events, &before);
		rc->attempting = false;
		attempt_failed(c, why);
		return false;
	}
	/* Connected, every window tried: the earlier events follow their
	 * windows to their new ids (a window lost has 0: dropped). */
	rename_targets(c, &before, false);
	for (cp_window *w = c->windows; w; w = w->next) {
		/* Kept for it before the loss: for its Window object then,
		 * which is the one it has now. */
		for (Frame *f = w->backlog.head; f; f = f->next) {
			Crosspost__Event *ev = f->header->event;

			/* Window 0 (dropped) for an older Window object's. */
			bool older = ev->target_document && ev->target_document != w->reconnect_prev_document;

			ev->target_window_id = older ? 0 : w->id;
			if (ev->target_document)
				ev->target_document = w->document;
		}
		if (w->reconnect_done)
			add_notice(c, CP_RECONNECT_WINDOW, w, 0, "");
		w->reconnect_prev_id = w->id;
		w->reconnect_prev_document = w->document;
	}
	queue_prepend(&c->events, &before);
	add_notice(c, CP_RECONNECT_RESTORED, NULL, 0, "");
	rc->attempting = false;
	rc->away = false;
	rc->attempts = 0;
	loop_connection_changed(c);
	return true;
}

void reconnect_attempt_if_due(cp_client *c)
{
	Reconnect *rc = c->reconnect;

	if (rc && rc->away && !rc->attempting && client_in_its_process(c) && loop_now_ms() >= rc->next_at)
		attempt(c);
}

int client_connected(cp_client *c)
{
	if (!c->broken)
		return 0;
	reconnect_attempt_if_due(c);
	return c->broken ? client_lost_error(c) : 0;
}

int64_t reconnect_next_attempt(const cp_client *c)
{
	return reconnect_away(c) ? c->reconnect->next_at : -1;
}

bool reconnect_has_notices(const cp_client *c)
{
	return c->reconnect && c->reconnect->n_notices > 0;
}

void reconnect_event_taken(cp_client *c)
{
	if (c->reconnect && c->reconnect->notice_after > 0)
		c->reconnect->notice_after--;
}

void reconnect_deliver(cp_client *c, bool queue_empty)
{
	Reconnect *rc = c->reconnect;

	if (!rc || rc->n_notices == 0)
		return;
	/* Events counted before the notices may have left the queue another
	 * way (handed back with a moved port): an empty queue settles it. */
	if (queue_empty)
		rc->notice_after = 0;
	if (rc->notice_after > 0)
		return;
	/* One at a time from the front: the callback may close windows
	 * (which removes their notices) or lose the connection again (which
	 * appends one). */
	while (rc->n_notices > 0) {
		Notice n = rc->notices[0];

		memmove(rc->notices, rc->notices + 1, (rc->n_notices - 1) * sizeof(*rc->notices));
		rc->n_notices--;
		if (!rc->callback)
			continue;
		if (n.error)
			error_set(n.error, "%s", n.message);
		rc->callback(c, n.event, n.window, n.error, rc->userdata);
	}
}

void reconnect_window_closed(cp_client *c, const cp_window *w)
{
	Reconnect *rc = c->reconnect;
	size_t kept = 0;

	if (!rc)
		return;
	for (size_t i = 0; i < rc->n_notices; i++)
		if (rc->notices[i].window != w)
			rc->notices[kept++] = rc->notices[i];
	rc->n_notices = kept;
}

void reconnect_free(cp_client *c)
{
	if (!c->reconnect)
		return;
	free(c->reconnect->notices);
	free(c->reconnect);
	c->reconnect = NULL;
}

int cp_client_set_reconnect(cp_client *c, bool on)
{
	Reconnect *rc;

	if (!c)
		return error_set(CP_ERR_TYPE, "cp_client_set_reconnect: client is NULL");
	rc = state(c);
	if (!rc)
		return error_set(CP_ERR_NO_MEMORY, "out of memory");
	rc->enabled = on;
	if (!on && rc->away) {
		/* No more attempts: disconnected, as without reconnection. */
		rc->away = false;
		rc->gave_up = true;
	} else if (on && c->broken && !rc->away) {
		/* Lost before: from now on, attempts. */
		rc->gave_up = false;
		client_mark_lost(c, "the connection was lost before reconnection was turned on");
	}
	return 0;
}

int cp_client_set_reconnect_limit(cp_client *c, int give_up_ms)
{
	Reconnect *rc;

	if (!c)
		return error_set(CP_ERR_TYPE, "cp_client_set_reconnect_limit: client is NULL");
	rc = state(c);
	if (!rc)
		return error_set(CP_ERR_NO_MEMORY, "out of memory");
	rc->limit_ms = give_up_ms < 0 ? -1 : give_up_ms;
	return 0;
}

void cp_client_set_reconnect_callback(cp_client *c, cp_reconnect_callback cb, void *userdata)
{
	Reconnect *rc;

	if (!c || !(rc = state(c)))
		return;
	rc->callback = cb;
	rc->userdata = userdata;
}
