/* SPDX-License-Identifier: MIT */
/* contexts.c - browsing contexts: frame trees, openers, documents, window.open, closing, discarding. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "access.h"
#include "broadcast.h"
#include "broker.h"
#include "claims.h"
#include "connection.h"
#include "contexts.h"
#include "document.h"
#include "frame_limits.h"
#include "log.h"
#include "monitor.h"
#include "ports.h"
#include "registry.h"
#include "stream.h"

/* "A is familiar with B" follows openers; opener chains can loop (a
 * window may become its opener's opener through window.open() with a
 * name), so the walk is bounded. */
#define FAMILIAR_MAX_STEPS 64

Window *contexts_top(Window *w)
{
	while (w->parent)
		w = w->parent;
	return w;
}

static const Window *top_of(const Window *w)
{
	while (w->parent)
		w = w->parent;
	return w;
}

static bool familiar(const Broker *b, const Window *a, const Window *bw, unsigned steps)
{
	const Window *opener;

	/* 1. same origin */
	if (origin_same(a->origin, bw->origin))
		return true;
	/* 2. A's top-level browsing context is B */
	if (top_of(a) == bw)
		return true;
	/* 3. B is auxiliary and A is familiar with B's opener (a live one:
	 *    a discarded browsing context has no active document) */
	if (bw->auxiliary && bw->opener_id && steps < FAMILIAR_MAX_STEPS) {
		opener = registry_find(b->registry, bw->opener_id);
		if (opener && !opener->pending && familiar(b, a, opener, steps + 1))
			return true;
	}
	/* 4. an ancestor of B has A's origin (A may be that ancestor) */
	for (const Window *anc = bw->parent; anc; anc = anc->parent)
		if (origin_same(anc->origin, a->origin))
			return true;
	return false;
}

bool contexts_familiar(const Broker *b, const Window *a, const Window *bw)
{
	return familiar(b, a, bw, 0);
}

bool contexts_script_closable(const Window *w)
{
	return !w->parent && (w->auxiliary || w->generation == 0);
}

Window *contexts_frame(const Window *w, uint32_t index)
{
	Window *child = w->first_child;

	while (child && index--)
		child = child->next_sibling;
	return child;
}

Window *contexts_frame_named(const Window *w, const char *name)
{
	/* The first frame of each name counts, and only when it is same
	 * origin with w: a later same-named frame does not stand in. */
	for (Window *child = w->first_child; child; child = child->next_sibling)
		if (child->name && strcmp(child->name, name) == 0)
			return origin_same(child->origin, w->origin) ? child : NULL;
	return NULL;
}

/* ---- telling hosts ---------------------------------------------------- */

static void send_closed(Connection *host, const Window *w, const char *reason)
{
	Crosspost__Header header = CROSSPOST__HEADER__INIT;
	Crosspost__WindowClosed closed = CROSSPOST__WINDOW_CLOSED__INIT;

	closed.window_id = w->id;
	closed.reason = (char *)reason;
	header.body_case = CROSSPOST__HEADER__BODY_WINDOW_CLOSED;
	header.window_closed = &closed;
	connection_send(host, &header);
}

static void send_navigated(Connection *host, const Window *w)
{
	Crosspost__Header header = CROSSPOST__HEADER__INIT;
	Crosspost__WindowNavigated nav = CROSSPOST__WINDOW_NAVIGATED__INIT;

	nav.window_id = w->id;
	nav.url = w->url;
	nav.origin = (char *)origin_serialization(w->origin);
	nav.document = w->document;
	nav.generation = w->generation;
	header.body_case = CROSSPOST__HEADER__BODY_WINDOW_NAVIGATED;
	header.window_navigated = &nav;
	connection_send(host, &header);
}

/* ---- discarding ---------------------------------------------------------- */

static void unlink_from_owner(Connection *c, Window *w)
{
	for (Window **p = &c->windows; *p; p = &(*p)->owner_next) {
		if (*p == w) {
			*p = w->owner_next;
			c->n_windows--;
			return;
		}
	}
}

static void unlink_from_parent(Window *w)
{
	Window *parent = w->parent;
	Window *top;

	if (!parent)
		return;
	if (w->prev_sibling)
		w->prev_sibling->next_sibling = w->next_sibling;
	else
		parent->first_child = w->next_sibling;
	if (w->next_sibling)
		w->next_sibling->prev_sibling = w->prev_sibling;
	else
		parent->last_child = w->prev_sibling;
	parent->n_children--;
	top = contexts_top(parent);
	if (top->tree_size > 0)
		top->tree_size--;
	w->parent = NULL;
}

/* The old Window object's ports and BroadcastChannels close (keep: the
 * Window that stays; 0: none). */
static void close_window_objects(Broker *b, Window *w, uint64_t keep)
{
	if (w->owner)
		ports_close_window(b->ports, w->owner, w->id, keep);
	broadcast_window_gone(b->broadcasts, w, keep);
}

void contexts_discard(Broker *b, Window *w, const Connection *quiet, const char *reason)
{
	Connection *host = w->owner;

	while (w->first_child)
		contexts_discard(b, w->first_child, quiet, "its parent was discarded");
	if (w->claim)
		claims_cancel(b->claims, w->claim);
	close_window_objects(b, w, 0);
	if (host) {
		unlink_from_owner(host, w);
		if (host != quiet && !host->closing)
			send_closed(host, w, reason);
	}
	unlink_from_parent(w);
	log_debug("window %llu discarded: %s", (unsigned long long)w->id, reason);
	monitor_window(b, CROSSPOST__MONITOR_KIND__MONITOR_WINDOW_CLOSED, w, NULL, reason);
	registry_remove(b->registry, w);
}

void contexts_connection_closed(Broker *b, Connection *c)
{
	while (c->windows)
		contexts_discard(b, c->windows, c, "its process went away");
	c->n_windows = 0;
	claims_connection_closed(b->claims, c);
}

void contexts_claim_expired(Broker *b, Window *w)
{
	log_info("window %llu (%s): nobody claimed it within claim-timeout; discarded", (unsigned long long)w->id,
		 w->url);
	contexts_discard(b, w, NULL, "nobody claimed it in time");
}

/* ---- the registration policy ------------------------------------------- */

static AccessPeer peer_of(const Connection *c)
{
	return (AccessPeer){ .uid = c->uid, .gid = c->gid, .fd = stream_fd(c->stream) };
}

/* The per-uid registration policy (access.h) decides who may host which
 * origin.  This is its one call site for claimed windows: the *claiming*
 * connection's uid is the one checked (as if it registered the window:
 * origin, privilege, name), not the opener's.  Logged once, as driver.c
 * logs a refused Register. */
static int host_allowed(const Connection *c, const Window *w, bool privileged, const char **ret_reason)
{
	AccessPeer peer = peer_of(c);
	AccessDecision d;
	AccessVerdict v = access_may_register(c->broker->access, &peer, w->origin, privileged, w->name, &d);

	if (v == ACCESS_ALLOW)
		return 0;
	log_info("connection %llu (pid %d, uid %u): refused to host window %llu (%s): %s%s%s",
		 (unsigned long long)c->id, (int)c->pid, (unsigned)c->uid, (unsigned long long)w->id,
		 origin_serialization(w->origin), access_verdict_reason(v), *d.section ? " " : "", d.section);
	*ret_reason = access_verdict_reason(v);
	return CONTEXTS_E_SECURITY;
}

/* A navigation of w that another window asked for (window.open() with
 * its name, _parent, _top) must be one w's host's uid may make itself:
 * its policy's navigate list is about the windows it hosts. */
static int navigation_allowed(const Window *w, const Origin *origin, const char **ret_reason)
{
	const Connection *host = w->owner;
	AccessPeer peer;
	AccessDecision d;
	AccessVerdict v;

	if (!host)
		return 0;    /* pending: the claim checks the origin it has then */
	peer = peer_of(host);
	v = access_may_navigate(host->broker->access, &peer, origin, &d);
	if (v == ACCESS_ALLOW)
		return 0;
	log_info("window %llu: a navigation to %s refused: its host (uid %u) may not have that origin: %s%s%s",
		 (unsigned long long)w->id, origin_serialization(origin), (unsigned)host->uid,
		 access_verdict_reason(v), *d.section ? " " : "", d.section);
	*ret_reason = "the policy does not let the window's host navigate it to that origin";
	return CONTEXTS_E_SECURITY;
}

/* ---- documents ----------------------------------------------------------- */

static int check_origin_size(const Origin *origin, const char **ret_reason)
{
	if (strlen(origin_serialization(origin)) <= FRAME_URL_MAX)
		return 0;
	*ret_reason = "the document's origin serializes to more than 8192 bytes";
	return CONTEXTS_E_RANGE;
}

/* w gets a new document at url with origin (taken). */
static int replace_document(Broker *b, Window *w, const char *url, Origin *origin, bool initial_about_blank)
{
	bool reuse = w->initial_about_blank && origin_same(w->origin, origin);
	int r;

	/* The old document's iframes go with it. */
	while (w->first_child)
		contexts_discard(b, w->first_child, NULL, "its parent navigated");
	r = registry_set_document(b->registry, w, url, origin);
	if (r < 0) {
		origin_free(origin);
		return r;
	}
	if (w->pending) {
		/* Nobody hosts it yet: the claim will load this document. */
		w->initial_about_blank = initial_about_blank;
		return 0;
	}
	w->generation++;
	/* HTML: the one case a Window is reused is the initial about:blank
	 * replaced by a same-origin document. */
	if (!reuse) {
		w->document++;
		close_window_objects(b, w, w->document);
	}
	w->initial_about_blank = false;
	return 0;
}

int contexts_navigate(Broker *b, Window *w, const Window *initiator, const char *url, bool notify_host,
		      const char **ret_reason)
{
	/* The initiator may be one of w's frames, which the navigation
	 * discards: only its id is used after it. */
	uint64_t initiator_id = initiator->id;
	DocumentUrlKind kind;
	Origin *origin = NULL;
	int r;

	r = document_origin(url, initiator->origin, w->parent != NULL, &origin, &kind, ret_reason);
	if (r == DOCUMENT_E_BAD_URL)
		return CONTEXTS_E_BAD_URL;
	if (r < 0)
		return r;
	if (kind == DOCUMENT_URL_JAVASCRIPT) {
		/* Script runs in the current document, which stays; from
		 * another origin it does not even run (HTML "navigate", step
		 * "javascript: URL ... initiatorOrigin not same origin-domain"). */
		origin_free(origin);
		log_debug("window %llu: javascript: navigation by window %llu: the document stays",
			  (unsigned long long)w->id, (unsigned long long)initiator_id);
		return 0;
	}
	r = check_origin_size(origin, ret_reason);
	if (!r && notify_host)
		r = navigation_allowed(w, origin, ret_reason);
	if (r) {
		origin_free(origin);
		return r;
	}
	r = replace_document(b, w, url, origin, kind == DOCUMENT_URL_ABOUT_BLANK);
	if (r < 0)
		return r;
	log_debug("window %llu navigated by window %llu to %s (%s), document %llu", (unsigned long long)w->id,
		  (unsigned long long)initiator_id, w->url, origin_serialization(w->origin),
		  (unsigned long long)w->document);
	/* The initiator may be gone (a frame that navigated its parent). */
	monitor_window(b, CROSSPOST__MONITOR_KIND__MONITOR_NAVIGATED, w,
		       initiator_id == w->id ? NULL : registry_find(b->registry, initiator_id), NULL);
	if (notify_host && w->owner)
		send_navigated(w->owner, w);
	return 0;
}

/* ---- creating ------------------------------------------------------------ */

/* A new pending window at url ("" is about:blank), its origin inherited
 * from creator where document.h says so. */
static int new_pending(Connection *c, const char *url, const char *name, const Origin *creator, bool in_frame,
		       Window **ret, Claim **ret_claim, const char **ret_reason)
{
	Broker *b = c->broker;
	DocumentUrlKind kind;
	Origin *origin = NULL;
	Window *w;
	int r;

	if (c->n_pending_claims >= b->limits.max_pending_claims) {
		*ret_reason = "this connection has max-pending-claims windows that nobody claimed yet";
		return CONTEXTS_E_QUOTA;
	}
	if (!*url)
		url = "about:blank";
	r = document_origin(url, creator, in_frame, &origin, &kind, ret_reason);
	if (r == DOCUMENT_E_BAD_URL)
		return CONTEXTS_E_BAD_URL;
	if (r < 0)
		return r;
	r = check_origin_size(origin, ret_reason);
	if (r) {
		origin_free(origin);
		return r;
	}
	/* A javascript: URL runs in the initial about:blank, which stays. */
	if (kind == DOCUMENT_URL_JAVASCRIPT)
		url = "about:blank";
	r = registry_add_pending(b->registry, url, name, origin, &w);
	if (r < 0) {
		origin_free(origin);
		return r;
	}
	w->initial_about_blank = kind == DOCUMENT_URL_ABOUT_BLANK || kind == DOCUMENT_URL_JAVASCRIPT;
	r = claims_issue(b->claims, w, c, b->limits.claim_timeout_ms, ret_claim);
	if (r < 0) {
		registry_remove(b->registry, w);
		return r;
	}
	monitor_window(b, CROSSPOST__MONITOR_KIND__MONITOR_WINDOW_OPENED, w, NULL, "pending: no process has claimed it yet");
	*ret = w;
	return 0;
}

static bool is_keyword(const char *target, const char *keyword)
{
	return strcasecmp(target, keyword) == 0;
}

/* The first window named name among root and its descendants, in tree
 * order, that opener may reach (familiar_needed: root is another tree). */
static Window *find_in_tree(const Broker *b, Window *root, const char *name, const Window *opener,
			    bool familiar_needed)
{
	Window *found;

	if (root->name && strcmp(root->name, name) == 0 &&
	    (!familiar_needed || contexts_familiar(b, opener, root)))
		return root;
	for (Window *child = root->first_child; child; child = child->next_sibling) {
		found = find_in_tree(b, child, name, opener, familiar_needed);
		if (found)
			return found;
	}
	return NULL;
}

/* HTML "find a navigable by target name": the opener's own subtree, then
 * its top-level window's tree, then the other top-level windows' trees,
 * most recently opened first, where the opener is familiar with the
 * window found.  (The Standard searches the other top-level windows of
 * the opener's browsing context group; crosspost has no groups, and
 * familiarity is what keeps unrelated windows apart.) */
static Window *find_by_name(const Broker *b, Window *opener, const char *name)
{
	Window *top = contexts_top(opener), *found;

	found = find_in_tree(b, opener, name, opener, false);
	if (!found)
		found = find_in_tree(b, top, name, opener, false);
	for (Window *w = registry_last(b->registry); !found && w; w = w->order_prev)
		if (!w->parent && w != top)
			found = find_in_tree(b, w, name, opener, true);
	return found;
}

int contexts_open(Connection *c, Window *opener, const char *url, const char *target, bool noopener,
		  Window **ret, Claim **ret_claim, const char **ret_reason)
{
	Broker *b = c->broker;
	Window *chosen = NULL;
	uint64_t opener_id;
	int r;

	*ret_claim = NULL;
	if (!*target)
		target = "_blank";
	if (is_keyword(target, "_self"))
		chosen = opener;
	else if (is_keyword(target, "_parent"))
		chosen = opener->parent ? opener->parent : opener;
	else if (is_keyword(target, "_top"))
		chosen = contexts_top(opener);
	else if (!is_keyword(target, "_blank") && !noopener)
		chosen = find_by_name(b, opener, target);
	if (!chosen) {
		r = new_pending(c, url, is_keyword(target, "_blank") ? NULL : target,
				noopener ? NULL : opener->origin, false, &chosen, ret_claim, ret_reason);
		if (r)
			return r;
		chosen->auxiliary = true;          /* "is created by web content" */
		chosen->opener_id = noopener ? 0 : opener->id;
		chosen->tree_size = 1;
		log_debug("window %llu opened window %llu at %s (%s)%s", (unsigned long long)opener->id,
			  (unsigned long long)chosen->id, chosen->url, origin_serialization(chosen->origin),
			  noopener ? ", noopener" : "");
		*ret = chosen;
		return 0;
	}
	/* Navigating the chosen window may discard the opener (a frame that
	 * navigates its parent or top): only its id is used after it. */
	opener_id = opener->id;
	if (*url) {
		r = contexts_navigate(b, chosen, opener, url, true, ret_reason);
		if (r)
			return r;
	}
	/* HTML window open steps: the chosen window's opener becomes the
	 * caller (not for the caller itself: it would be its own opener). */
	if (!noopener && chosen->id != opener_id)
		chosen->opener_id = opener_id;
	*ret = chosen;
	return 0;
}

int contexts_create_frame(Connection *c, Window *parent, const char *url, const char *name, Window **ret,
			  Claim **ret_claim, const char **ret_reason)
{
	Broker *b = c->broker;
	Window *top = contexts_top(parent), *w;
	int r;

	if (parent->depth + 1 > b->limits.max_frame_depth) {
		*ret_reason = "frames may not nest deeper than max-frame-depth";
		return CONTEXTS_E_QUOTA;
	}
	if (top->tree_size + 1 > b->limits.max_frames) {
		*ret_reason = "the frame tree already holds max-frames windows";
		return CONTEXTS_E_QUOTA;
	}
	r = new_pending(c, url, name, parent->origin, true, &w, ret_claim, ret_reason);
	if (r)
		return r;
	w->parent = parent;
	w->depth = parent->depth + 1;
	w->prev_sibling = parent->last_child;
	if (parent->last_child)
		parent->last_child->next_sibling = w;
	else
		parent->first_child = w;
	parent->last_child = w;
	parent->n_children++;
	top->tree_size++;
	log_debug("window %llu framed window %llu at %s (%s)", (unsigned long long)parent->id,
		  (unsigned long long)w->id, w->url, origin_serialization(w->origin));
	*ret = w;
	return 0;
}

int contexts_claim(Connection *c, const char *token, bool privileged, Window **ret, const char **ret_reason)
{
	Broker *b = c->broker;
	Claim *claim;
	Window *w;

	if (c->n_windows >= b->limits.max_windows_per_connection) {
		*ret_reason = "this connection has max-windows-per-connection windows";
		return CONTEXTS_E_QUOTA;
	}
	claim = claims_find(b->claims, token);
	if (!claim) {
		*ret_reason = "no window waits for that claim token (unknown, used or expired)";
		return CONTEXTS_E_NOT_FOUND;
	}
	w = claim->window;
	if (host_allowed(c, w, privileged, ret_reason) != 0)
		return CONTEXTS_E_SECURITY;
	claims_cancel(b->claims, claim);
	w->pending = false;
	w->privileged = privileged;
	w->owner = c;
	w->pid = c->pid;
	w->document = 1;
	w->owner_next = c->windows;
	c->windows = w;
	c->n_windows++;
	log_debug("window %llu claimed by connection %llu (pid %d): %s (%s)", (unsigned long long)w->id,
		  (unsigned long long)c->id, (int)c->pid, w->url, origin_serialization(w->origin));
	*ret = w;
	return 0;
}

bool contexts_script_close(Broker *b, Window *by, Window *target)
{
	if (target->parent || !contexts_script_closable(target) || !contexts_familiar(b, by, target)) {
		log_debug("window %llu: close() of window %llu ignored (%s)", (unsigned long long)by->id,
			  (unsigned long long)target->id,
			  target->parent ? "not top-level" :
			  !contexts_script_closable(target) ? "not script-closable" : "not familiar");
		return false;
	}
	contexts_discard(b, target, NULL, "closed by a script");
	return true;
}
