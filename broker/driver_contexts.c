/* SPDX-License-Identifier: MIT */
/* driver_contexts.c - requests about browsing contexts and BroadcastChannels. */
#include <string.h>

#include "broadcast.h"
#include "broker.h"
#include "claims.h"
#include "connection.h"
#include "contexts.h"
#include "driver_contexts.h"
#include "frame.h"
#include "log.h"
#include "registry.h"

/* A connection presenting this many claim tokens that name nothing is
 * guessing (a real token is 128 random bits): it is closed. */
#define BAD_CLAIMS_MAX 64

static void reply(Connection *c, uint32_t serial, Crosspost__Header *header)
{
	header->serial = serial;
	connection_send(c, header);
}

static void reply_ack(Connection *c, uint32_t serial)
{
	Crosspost__Header header = CROSSPOST__HEADER__INIT;
	Crosspost__Ack ack = CROSSPOST__ACK__INIT;

	header.body_case = CROSSPOST__HEADER__BODY_ACK;
	header.ack = &ack;
	reply(c, serial, &header);
}

/* The window acting must be one of this connection's: naming another
 * connection's window as opener, parent or closer is an attempt to act
 * as it, as posting from it would be, and closes the connection.  A
 * window that was discarded meanwhile (its process may not have heard
 * yet) is InvalidStateError. */
static Window *acting_window(Connection *c, uint32_t serial, uint64_t id, const char *what)
{
	Window *w = registry_find(c->broker->registry, id);

	if (w && w->owner == c)
		return w;
	if (!w && id && registry_id_assigned(c->broker->registry, id)) {
		connection_send_error(c, serial, CROSSPOST__ERROR_CODE__ERROR_INVALID_STATE,
				      "window %llu is closed", (unsigned long long)id);
		return NULL;
	}
	c->broker->stats.connections_rejected++;
	connection_close(c, LOG_WARNING, "protocol violation: %s window %llu, which this connection does not own",
			 what, (unsigned long long)id);
	return NULL;
}

static bool check_length(Connection *c, uint32_t serial, const char *what, const char *s, uint32_t max,
			 const char *limit)
{
	size_t len = strlen(s);

	if (len <= max)
		return true;
	c->broker->stats.quota_rejects++;
	connection_send_error(c, serial, CROSSPOST__ERROR_CODE__ERROR_RANGE,
			      "the %s is %zu bytes; the broker's limit is %u (%s)", what, len, max, limit);
	return false;
}

/* Maps an expected outcome of contexts.h (or a system error) to the
 * answer; true when r was 0. */
static bool answer_outcome(Connection *c, uint32_t serial, int r, const char *reason)
{
	switch (r) {
	case 0:
		return true;
	case CONTEXTS_E_BAD_URL:
		connection_send_error(c, serial, CROSSPOST__ERROR_CODE__ERROR_SYNTAX, "invalid URL: %s", reason);
		return false;
	case CONTEXTS_E_QUOTA:
		c->broker->stats.quota_rejects++;
		connection_send_error(c, serial, CROSSPOST__ERROR_CODE__ERROR_QUOTA, "%s", reason);
		return false;
	case CONTEXTS_E_RANGE:
		c->broker->stats.quota_rejects++;
		connection_send_error(c, serial, CROSSPOST__ERROR_CODE__ERROR_RANGE, "%s", reason);
		return false;
	case CONTEXTS_E_NOT_FOUND:
		connection_send_error(c, serial, CROSSPOST__ERROR_CODE__ERROR_NOT_FOUND, "%s", reason);
		return false;
	case CONTEXTS_E_SECURITY:
		connection_send_error(c, serial, CROSSPOST__ERROR_CODE__ERROR_SECURITY, "%s", reason);
		return false;
	default:
		connection_close(c, LOG_ERROR, "cannot create a window: %s", strerror(r < 0 ? -r : r));
		return false;
	}
}

static void reply_opened(Connection *c, uint32_t serial, const Window *w, const Claim *claim)
{
	Crosspost__Header header = CROSSPOST__HEADER__INIT;
	Crosspost__Opened opened = CROSSPOST__OPENED__INIT;

	opened.window_id = w->id;
	opened.origin = (char *)origin_serialization(w->origin);
	opened.claim_token = claim ? (char *)claim->token : (char *)"";
	opened.created = claim != NULL;
	opened.claim_timeout_ms = claim ? c->broker->limits.claim_timeout_ms : 0;
	header.body_case = CROSSPOST__HEADER__BODY_OPENED;
	header.opened = &opened;
	reply(c, serial, &header);
}

static void handle_open_window(Connection *c, uint32_t serial, const Crosspost__OpenWindow *req)
{
	const BrokerLimits *l = &c->broker->limits;
	const char *reason = "?";
	Window *opener, *w = NULL;
	Claim *claim = NULL;
	int r;

	opener = acting_window(c, serial, req->opener_window_id, "window.open() by");
	if (!opener)
		return;
	if (!check_length(c, serial, "URL", req->url, l->max_url_length, "max-url-length") ||
	    !check_length(c, serial, "target name", req->target, l->max_name_length, "max-name-length"))
		return;
	r = contexts_open(c, opener, req->url, req->target, req->noopener, &w, &claim, &reason);
	if (answer_outcome(c, serial, r, reason))
		reply_opened(c, serial, w, claim);
}

static void handle_create_frame(Connection *c, uint32_t serial, const Crosspost__CreateFrame *req)
{
	const BrokerLimits *l = &c->broker->limits;
	const char *reason = "?";
	Window *parent, *w = NULL;
	Claim *claim = NULL;
	int r;

	parent = acting_window(c, serial, req->parent_window_id, "an iframe in");
	if (!parent)
		return;
	if (!check_length(c, serial, "URL", req->url, l->max_url_length, "max-url-length") ||
	    !check_length(c, serial, "frame name", req->name, l->max_name_length, "max-name-length"))
		return;
	r = contexts_create_frame(c, parent, req->url, req->name, &w, &claim, &reason);
	if (answer_outcome(c, serial, r, reason))
		reply_opened(c, serial, w, claim);
}

static void handle_remove_frame(Connection *c, uint32_t serial, const Crosspost__RemoveFrame *req)
{
	Window *parent, *frame;

	parent = acting_window(c, serial, req->parent_window_id, "removing an iframe of");
	if (!parent)
		return;
	/* Only the parent's document can remove its iframe element. */
	frame = registry_find(c->broker->registry, req->frame_window_id);
	if (!frame || frame->parent != parent) {
		connection_send_error(c, serial, CROSSPOST__ERROR_CODE__ERROR_NOT_FOUND,
				      "window %llu is not a frame of window %llu",
				      (unsigned long long)req->frame_window_id, (unsigned long long)parent->id);
		return;
	}
	contexts_discard(c->broker, frame, NULL, "its iframe was removed");
	reply_ack(c, serial);
}

static void handle_claim(Connection *c, uint32_t serial, const Crosspost__Claim *req)
{
	Crosspost__Header header = CROSSPOST__HEADER__INIT;
	Crosspost__Claimed claimed = CROSSPOST__CLAIMED__INIT;
	const char *reason = "?";
	Window *w = NULL;
	int r;

	r = contexts_claim(c, req->token, req->privileged, &w, &reason);
	if (r == CONTEXTS_E_NOT_FOUND) {
		/* Said once per connection; a connection that keeps guessing
		 * goes. */
		if (c->n_bad_claims++ == 0)
			log_info("connection %llu (pid %d, uid %u): a claim token that names no window",
				 (unsigned long long)c->id, (int)c->pid, (unsigned)c->uid);
		if (c->n_bad_claims >= BAD_CLAIMS_MAX) {
			c->broker->stats.connections_rejected++;
			connection_close(c, LOG_WARNING, "%u claim tokens that name no window: guessing",
					 c->n_bad_claims);
			return;
		}
	}
	if (!answer_outcome(c, serial, r, reason))
		return;
	claimed.window_id = w->id;
	claimed.url = w->url;
	claimed.origin = (char *)origin_serialization(w->origin);
	claimed.name = w->name ? w->name : (char *)"";
	claimed.document = w->document;
	claimed.generation = w->generation;
	header.body_case = CROSSPOST__HEADER__BODY_CLAIMED;
	header.claimed = &claimed;
	reply(c, serial, &header);
}

static void reply_related(Connection *c, uint32_t serial, uint64_t id, bool closed, uint32_t length)
{
	Crosspost__Header header = CROSSPOST__HEADER__INIT;
	Crosspost__Related related = CROSSPOST__RELATED__INIT;

	related.window_id = id;
	related.closed = closed;
	related.length = length;
	header.body_case = CROSSPOST__HEADER__BODY_RELATED;
	header.related = &related;
	reply(c, serial, &header);
}

/* Never assigned: NotFoundError (a closed window is still a window). */
static bool check_assigned(Connection *c, uint32_t serial, uint64_t id)
{
	if (registry_id_assigned(c->broker->registry, id))
		return true;
	connection_send_error(c, serial, CROSSPOST__ERROR_CODE__ERROR_NOT_FOUND, "window %llu does not exist",
			      (unsigned long long)id);
	return false;
}

static void handle_close_window(Connection *c, uint32_t serial, const Crosspost__CloseWindow *req)
{
	Window *by, *target;

	by = acting_window(c, serial, req->by_window_id, "close() called by");
	if (!by || !check_assigned(c, serial, req->window_id))
		return;
	target = registry_find(c->broker->registry, req->window_id);
	if (!target) {
		/* Closed already: this call closes nothing. */
		reply_related(c, serial, req->window_id, false, 0);
		return;
	}
	reply_related(c, serial, req->window_id, contexts_script_close(c->broker, by, target), 0);
}

static void handle_relation(Connection *c, uint32_t serial, const Crosspost__Relation *req)
{
	Registry *registry = c->broker->registry;
	Window *w, *related = NULL;

	if (!check_assigned(c, serial, req->window_id))
		return;
	w = registry_find(registry, req->window_id);
	if (req->kind == CROSSPOST__RELATION_KIND__RELATION_SELF) {
		reply_related(c, serial, req->window_id, w == NULL, 0);
		return;
	}
	if (!w) {
		/* A discarded browsing context: its WindowProxy's relations are
		 * null, its frames none. */
		reply_related(c, serial, 0, true, 0);
		return;
	}
	switch (req->kind) {
	case CROSSPOST__RELATION_KIND__RELATION_OPENER:
		/* A discarded opener reads as null (WPT html/browsers/windows/
		 * auxiliary-browsing-contexts/opener-closed.html). */
		related = w->opener_id ? registry_find(registry, w->opener_id) : NULL;
		break;
	case CROSSPOST__RELATION_KIND__RELATION_PARENT:
		related = w->parent ? w->parent : w;
		break;
	case CROSSPOST__RELATION_KIND__RELATION_TOP:
		related = contexts_top(w);
		break;
	case CROSSPOST__RELATION_KIND__RELATION_FRAME:
		related = contexts_frame(w, req->index);
		break;
	case CROSSPOST__RELATION_KIND__RELATION_FRAME_NAMED:
		if (!check_length(c, serial, "frame name", req->name, c->broker->limits.max_name_length,
				  "max-name-length"))
			return;
		related = contexts_frame_named(w, req->name);
		break;
	case CROSSPOST__RELATION_KIND__RELATION_LENGTH:
		reply_related(c, serial, 0, false, w->n_children);
		return;
	default:
		connection_send_error(c, serial, CROSSPOST__ERROR_CODE__ERROR_SYNTAX, "unknown relation %d",
				      (int)req->kind);
		return;
	}
	reply_related(c, serial, related ? related->id : 0, false, 0);
}

static void handle_broadcast_open(Connection *c, uint32_t serial, const Crosspost__BroadcastOpen *req)
{
	Crosspost__Header header = CROSSPOST__HEADER__INIT;
	Crosspost__BroadcastOpened opened = CROSSPOST__BROADCAST_OPENED__INIT;
	Window *w = registry_find(c->broker->registry, req->window_id);
	uint64_t id = 0;
	int r;

	if (!w || w->owner != c) {
		connection_send_error(c, serial, CROSSPOST__ERROR_CODE__ERROR_NOT_FOUND,
				      "window %llu is not open on this connection", (unsigned long long)req->window_id);
		return;
	}
	if (!check_length(c, serial, "channel name", req->name, c->broker->limits.max_name_length,
			  "max-name-length"))
		return;
	r = broadcast_open(c->broker->broadcasts, c, w, req->name, &id);
	if (r == BROADCAST_E_QUOTA) {
		c->broker->stats.quota_rejects++;
		connection_send_error(c, serial, CROSSPOST__ERROR_CODE__ERROR_QUOTA,
				      "this connection has %u BroadcastChannels, max-broadcasts-per-connection",
				      c->n_broadcasts);
		return;
	}
	if (r < 0) {
		connection_close(c, LOG_ERROR, "out of memory opening a BroadcastChannel");
		return;
	}
	opened.channel_id = id;
	header.body_case = CROSSPOST__HEADER__BODY_BROADCAST_OPENED;
	header.broadcast_opened = &opened;
	reply(c, serial, &header);
}

void driver_contexts_dispatch(Connection *c, Frame *frame)
{
	const Crosspost__Header *h = frame->header;
	uint32_t serial = h->serial;

	switch (h->body_case) {
	case CROSSPOST__HEADER__BODY_OPEN_WINDOW:
		handle_open_window(c, serial, h->open_window);
		break;
	case CROSSPOST__HEADER__BODY_CREATE_FRAME:
		handle_create_frame(c, serial, h->create_frame);
		break;
	case CROSSPOST__HEADER__BODY_REMOVE_FRAME:
		handle_remove_frame(c, serial, h->remove_frame);
		break;
	case CROSSPOST__HEADER__BODY_CLAIM:
		handle_claim(c, serial, h->claim);
		break;
	case CROSSPOST__HEADER__BODY_CLOSE_WINDOW:
		handle_close_window(c, serial, h->close_window);
		break;
	case CROSSPOST__HEADER__BODY_RELATION:
		handle_relation(c, serial, h->relation);
		break;
	case CROSSPOST__HEADER__BODY_BROADCAST_OPEN:
		handle_broadcast_open(c, serial, h->broadcast_open);
		break;
	case CROSSPOST__HEADER__BODY_BROADCAST_POST:
		broadcast_post(c->broker->broadcasts, c, frame);
		break;
	case CROSSPOST__HEADER__BODY_BROADCAST_CLOSE:
		broadcast_close(c->broker->broadcasts, c, h->broadcast_close->channel_id);
		break;
	default:
		break;
	}
}
