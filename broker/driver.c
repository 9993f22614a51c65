/* SPDX-License-Identifier: MIT */
/* driver.c - the broker's side of each request: handshake, windows, sync. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>

#include "access.h"
#include "account.h"
#include "broker.h"
#include "connection.h"
#include "contexts.h"
#include "document.h"
#include "driver.h"
#include "driver_contexts.h"
#include "frame.h"
#include "frame_limits.h"
#include "log.h"
#include "monitor.h"
#include "ports.h"
#include "registry.h"
#include "router.h"
#include "stream.h"

/* A WindowList page holds entries up to this many header bytes, leaving
 * room for the rest of the header: any one entry (URL, name, origin each
 * within their limits) fits. */
#define LIST_PAGE_BYTES (FRAME_HEADER_MAX - 1024u)

static void reply(Connection *c, uint32_t serial, Crosspost__Header *header)
{
	header->serial = serial;
	connection_send(c, header);
}

/* The credentials the kernel gave for c, for the policy. */
static AccessPeer peer_of(const Connection *c)
{
	return (AccessPeer){ .uid = c->uid, .gid = c->gid, .fd = stream_fd(c->stream) };
}

/* " ([uid 1000] at FILE:LINE)", or "" when no section decided: for logs. */
static const char *decided_by(const AccessDecision *d, char *buf, size_t size)
{
	if (!*d->section)
		return "";
	snprintf(buf, size, " (%s%s%s)", d->section, *d->where ? " at " : "", d->where);
	return buf;
}

/* Answers a request the policy refused with SecurityError, and logs it
 * once: who (uid, pid), what, and the section that decided.  The client
 * is told the section, not where the file is. */
static void refuse(Connection *c, uint32_t serial, const char *what, AccessVerdict verdict,
		   const AccessDecision *d)
{
	char by[600];

	log_info("connection %llu (pid %d, uid %u): refused to %s: %s%s", (unsigned long long)c->id,
		 (int)c->pid, (unsigned)c->uid, what, access_verdict_reason(verdict), decided_by(d, by, sizeof(by)));
	connection_send_error(c, serial, CROSSPOST__ERROR_CODE__ERROR_SECURITY, "uid %u may not %s: %s%s%s",
			      (unsigned)c->uid, what, access_verdict_reason(verdict), *d->section ? " " : "",
			      d->section);
}

static void handle_hello(Connection *c, uint32_t serial, const Crosspost__Hello *hello)
{
	Crosspost__Header header = CROSSPOST__HEADER__INIT;
	Crosspost__Welcome welcome = CROSSPOST__WELCOME__INIT;
	Crosspost__Limits limits = CROSSPOST__LIMITS__INIT;

	if (c->greeted) {
		connection_close(c, LOG_WARNING, "protocol violation: a second hello");
		return;
	}
	if (hello->version != FRAME_PROTOCOL_VERSION) {
		connection_send_error(c, serial, CROSSPOST__ERROR_CODE__ERROR_NOT_SUPPORTED,
				      "this broker speaks crosspost protocol version %u, the client version %u",
				      (unsigned)FRAME_PROTOCOL_VERSION, (unsigned)hello->version);
		/* The error is small and the socket buffer empty this early: one
		 * write gets it to the client before the close. */
		connection_flush(c);
		connection_close(c, LOG_WARNING, "client speaks protocol version %u, not %u",
				 (unsigned)hello->version, (unsigned)FRAME_PROTOCOL_VERSION);
		return;
	}
	{
		AccessPeer peer = peer_of(c);
		AccessDecision d;
		AccessVerdict v = access_may_connect(c->broker->access, &peer, &d);

		if (v != ACCESS_ALLOW) {
			char by[600];

			connection_send_error(c, serial, CROSSPOST__ERROR_CODE__ERROR_SECURITY,
					      "uid %u may not connect to this broker: %s%s%s", (unsigned)c->uid,
					      access_verdict_reason(v), *d.section ? " " : "", d.section);
			connection_flush(c);
			connection_close(c, LOG_INFO, "refused uid %u at hello: %s%s", (unsigned)c->uid,
					 access_verdict_reason(v), decided_by(&d, by, sizeof(by)));
			return;
		}
	}
	c->greeted = true;
	broker_connection_greeted(c->broker, c);
	log_debug("connection %llu (pid %d): hello from %s", (unsigned long long)c->id, (int)c->pid,
		  hello->client_name && *hello->client_name ? hello->client_name : "a client");
	welcome.version = FRAME_PROTOCOL_VERSION;
	limits.max_message_size = c->broker->limits.max_message_size;
	limits.max_fds_per_message = c->broker->limits.max_fds_per_message;
	limits.max_url_length = c->broker->limits.max_url_length;
	limits.max_name_length = c->broker->limits.max_name_length;
	limits.max_windows = c->broker->limits.max_windows_per_connection;
	limits.max_ports = c->broker->limits.max_ports_per_connection;
	welcome.limits = &limits;
	header.body_case = CROSSPOST__HEADER__BODY_WELCOME;
	header.welcome = &welcome;
	reply(c, serial, &header);
}

/* Asks the policy about a registration.  A URL that does not parse is
 * let through: registry_add() answers it with SyntaxError.  False when
 * the request was answered (refused) or the connection closed. */
static bool may_register(Connection *c, uint32_t serial, const Crosspost__Register *reg)
{
	AccessPeer peer = peer_of(c);
	AccessDecision d;
	AccessVerdict v;
	Origin *origin = NULL;
	char what[400];
	int r = origin_from_url(reg->url, strlen(reg->url), NULL, 0, &origin, NULL);

	if (r == -EINVAL)
		return true;
	if (r < 0) {
		connection_close(c, LOG_ERROR, "cannot register a window: %s", strerror(-r));
		return false;
	}
	v = access_may_register(c->broker->access, &peer, origin, reg->privileged, reg->name, &d);
	if (v == ACCESS_E_PRIVILEGED)
		snprintf(what, sizeof(what), "register a privileged window");
	else if (v == ACCESS_E_NAME)
		snprintf(what, sizeof(what), "name a window '%.200s'", reg->name);
	else
		snprintf(what, sizeof(what), "register a window of origin %.300s", origin_serialization(origin));
	origin_free(origin);
	if (v == ACCESS_ALLOW)
		return true;
	refuse(c, serial, what, v, &d);
	return false;
}

static void handle_register(Connection *c, uint32_t serial, const Crosspost__Register *reg)
{
	Crosspost__Header header = CROSSPOST__HEADER__INIT;
	Crosspost__Registered registered = CROSSPOST__REGISTERED__INIT;
	const BrokerLimits *l = &c->broker->limits;
	const char *reason = "?";
	Window *w;
	int r;

	/* Sizes first: everything the broker later builds from a window (an
	 * event's origin and source name, a list entry) fits its frame. */
	if (strlen(reg->url) > l->max_url_length || strlen(reg->name) > l->max_name_length) {
		c->broker->stats.quota_rejects++;
		connection_send_error(c, serial, CROSSPOST__ERROR_CODE__ERROR_RANGE,
				      strlen(reg->url) > l->max_url_length ?
				      "the URL is %zu bytes; the broker's limit is %u (max-url-length)" :
				      "the name is %zu bytes; the broker's limit is %u (max-name-length)",
				      strlen(reg->url) > l->max_url_length ? strlen(reg->url) : strlen(reg->name),
				      strlen(reg->url) > l->max_url_length ? l->max_url_length : l->max_name_length);
		return;
	}
	if (c->n_windows >= l->max_windows_per_connection) {
		c->broker->stats.quota_rejects++;
		connection_send_error(c, serial, CROSSPOST__ERROR_CODE__ERROR_QUOTA,
				      "this connection has %u windows, max-windows-per-connection",
				      c->n_windows);
		return;
	}
	if (!may_register(c, serial, reg))
		return;
	r = registry_add(c->broker->registry, c, c->pid, reg->url, reg->name, reg->privileged, &w, &reason);
	if (r == REGISTRY_E_ORIGIN_TOO_LONG) {
		c->broker->stats.quota_rejects++;
		connection_send_error(c, serial, CROSSPOST__ERROR_CODE__ERROR_RANGE, "%s", reason);
		return;
	}
	if (r == REGISTRY_E_BAD_URL) {
		connection_send_error(c, serial, CROSSPOST__ERROR_CODE__ERROR_SYNTAX,
				      "invalid URL '%s': %s", reg->url, reason);
		return;
	}
	if (r == REGISTRY_E_NAME_TAKEN) {
		connection_send_error(c, serial, CROSSPOST__ERROR_CODE__ERROR_CONSTRAINT,
				      "a window named '%s' already exists", reg->name);
		return;
	}
	if (r < 0) {
		connection_close(c, LOG_ERROR, "cannot register a window: %s", strerror(-r));
		return;
	}
	w->owner_next = c->windows;
	c->windows = w;
	c->n_windows++;
	monitor_window(c->broker, CROSSPOST__MONITOR_KIND__MONITOR_WINDOW_OPENED, w, NULL, NULL);
	w->document = 1;
	w->tree_size = 1;
	w->initial_about_blank = document_url_kind(w->url) == DOCUMENT_URL_ABOUT_BLANK;
	log_debug("window %llu registered: %s (%s)%s%s", (unsigned long long)w->id, w->url,
		  origin_serialization(w->origin), w->name ? " named " : "", w->name ? w->name : "");
	registered.window_id = w->id;
	registered.origin = (char *)origin_serialization(w->origin);
	registered.document = w->document;
	header.body_case = CROSSPOST__HEADER__BODY_REGISTERED;
	header.registered = &registered;
	reply(c, serial, &header);
}

/* The connection's own window with this id, or NULL. */
static Window *own_window(Connection *c, uint64_t id)
{
	Window *w = registry_find(c->broker->registry, id);

	return w && w->owner == c ? w : NULL;
}

static void handle_unregister(Connection *c, uint32_t serial, const Crosspost__Unregister *unreg)
{
	Crosspost__Header header = CROSSPOST__HEADER__INIT;
	Crosspost__Ack ack = CROSSPOST__ACK__INIT;
	Window *w = own_window(c, unreg->window_id);

	if (!w) {
		connection_send_error(c, serial, CROSSPOST__ERROR_CODE__ERROR_NOT_FOUND,
				      "window %llu is not open on this connection",
				      (unsigned long long)unreg->window_id);
		return;
	}
	/* Its frames go with it, wherever they are hosted. */
	contexts_discard(c->broker, w, c, "closed by its process");
	header.body_case = CROSSPOST__HEADER__BODY_ACK;
	header.ack = &ack;
	reply(c, serial, &header);
}

/* The same for a navigation of w to url, with the origin the document
 * will have (about:blank keeps w's: document.h). */
static bool may_navigate(Connection *c, uint32_t serial, const Window *w, const char *url)
{
	AccessPeer peer = peer_of(c);
	AccessDecision d;
	AccessVerdict v;
	Origin *origin = NULL;
	DocumentUrlKind kind;
	char what[400];
	int r = document_origin(url, w->origin, w->parent != NULL, &origin, &kind, NULL);

	if (r == DOCUMENT_E_BAD_URL)
		return true;
	if (r < 0) {
		connection_close(c, LOG_ERROR, "cannot navigate: %s", strerror(-r));
		return false;
	}
	v = access_may_navigate(c->broker->access, &peer, origin, &d);
	snprintf(what, sizeof(what), "navigate window %llu to origin %.300s", (unsigned long long)w->id,
		 origin_serialization(origin));
	origin_free(origin);
	if (v == ACCESS_ALLOW)
		return true;
	refuse(c, serial, what, v, &d);
	return false;
}

static void handle_navigate(Connection *c, uint32_t serial, const Crosspost__Navigate *nav)
{
	Crosspost__Header header = CROSSPOST__HEADER__INIT;
	Crosspost__Navigated navigated = CROSSPOST__NAVIGATED__INIT;
	Window *w = own_window(c, nav->window_id);
	const char *reason = "?";
	int r;

	if (!w) {
		connection_send_error(c, serial, CROSSPOST__ERROR_CODE__ERROR_NOT_FOUND,
				      "window %llu is not open on this connection",
				      (unsigned long long)nav->window_id);
		return;
	}
	if (strlen(nav->url) > c->broker->limits.max_url_length) {
		c->broker->stats.quota_rejects++;
		connection_send_error(c, serial, CROSSPOST__ERROR_CODE__ERROR_RANGE,
				      "the URL is %zu bytes; the broker's limit is %u (max-url-length)",
				      strlen(nav->url), c->broker->limits.max_url_length);
		return;
	}
	if (!may_navigate(c, serial, w, nav->url))
		return;
	/* Its own navigation: the window is the initiator (about:blank keeps
	 * its origin), and its process learns the outcome from the reply. */
	r = contexts_navigate(c->broker, w, w, nav->url, false, &reason);
	if (r == CONTEXTS_E_RANGE) {
		connection_send_error(c, serial, CROSSPOST__ERROR_CODE__ERROR_RANGE, "%s", reason);
		return;
	}
	if (r == CONTEXTS_E_BAD_URL) {
		connection_send_error(c, serial, CROSSPOST__ERROR_CODE__ERROR_SYNTAX,
				      "invalid URL '%s': %s", nav->url, reason);
		return;
	}
	if (r < 0) {
		connection_close(c, LOG_ERROR, "cannot navigate: %s", strerror(-r));
		return;
	}
	navigated.origin = (char *)origin_serialization(w->origin);
	navigated.generation = w->generation;
	navigated.document = w->document;
	navigated.url = w->url;
	header.body_case = CROSSPOST__HEADER__BODY_NAVIGATED;
	header.navigated = &navigated;
	reply(c, serial, &header);
}

static void handle_lookup(Connection *c, uint32_t serial, const Crosspost__Lookup *lookup)
{
	Crosspost__Header header = CROSSPOST__HEADER__INIT;
	Crosspost__Found found = CROSSPOST__FOUND__INIT;
	Window *w = *lookup->name ? registry_find_name(c->broker->registry, lookup->name) : NULL;

	if (!w) {
		/* The error message is bounded (512 bytes): a long name is cut. */
		connection_send_error(c, serial, CROSSPOST__ERROR_CODE__ERROR_NOT_FOUND,
				      "no window named '%.200s'", lookup->name);
		return;
	}
	found.window_id = w->id;
	found.origin = (char *)origin_serialization(w->origin);
	header.body_case = CROSSPOST__HEADER__BODY_FOUND;
	header.found = &found;
	reply(c, serial, &header);
}

/* One page of the live windows after after_id, in id order, as many as fit
 * one reply (LIST_PAGE_BYTES); `more` says that others follow.  Each
 * entry costs its strings plus a few bytes of ids and tags.  Windows of
 * other uids show their URL and pid only to a lister the policy lets see
 * them (list-all): a URL can carry a session's secrets, and a pid says
 * which process to go after.  Names and origins are what posting needs. */
static void handle_list(Connection *c, uint32_t serial, const Crosspost__ListWindows *req)
{
	Crosspost__Header header = CROSSPOST__HEADER__INIT;
	Crosspost__WindowList list = CROSSPOST__WINDOW_LIST__INIT;
	size_t n = 0, cap = 64, bytes = 0;
	Crosspost__WindowInfo *infos = calloc(cap, sizeof(*infos));
	Crosspost__WindowInfo **ptrs = calloc(cap, sizeof(*ptrs));
	Window *w = registry_first_after(c->broker->registry, req->after_id);
	AccessPeer peer = peer_of(c);
	AccessDecision d;
	bool list_all = access_may_list_all(c->broker->access, &peer, &d) == ACCESS_ALLOW;

	for (; w && infos && ptrs; w = w->order_next) {
		/* A pending window (opened, unclaimed) has no connection yet. */
		const Connection *host = w->owner;
		bool full = list_all || (host && host->uid == c->uid);
		const char *origin = origin_serialization(w->origin);
		size_t cost = strlen(w->url) + (w->name ? strlen(w->name) : 0) + strlen(origin) + 48;

		if (bytes + cost > LIST_PAGE_BYTES) {
			list.more = true;
			break;
		}
		if (n == cap) {
			Crosspost__WindowInfo *more_infos = realloc(infos, 2 * cap * sizeof(*infos));
			Crosspost__WindowInfo **more_ptrs;

			if (more_infos)
				infos = more_infos;
			more_ptrs = more_infos ? realloc(ptrs, 2 * cap * sizeof(*ptrs)) : NULL;
			if (!more_ptrs) {
				free(infos);
				infos = NULL;
				break;
			}
			ptrs = more_ptrs;
			cap *= 2;
		}
		bytes += cost;
		crosspost__window_info__init(&infos[n]);
		infos[n].id = w->id;
		infos[n].name = w->name ? w->name : (char *)"";
		infos[n].url = full ? w->url : (char *)"";
		infos[n].origin = (char *)origin;
		infos[n].pid = full ? w->pid : 0;
		infos[n].parent_id = w->parent ? w->parent->id : 0;
		infos[n].opener_id = w->opener_id;
		infos[n].pending = w->pending;
		n++;
	}
	if (!infos || !ptrs) {
		free(infos);
		free(ptrs);
		connection_close(c, LOG_ERROR, "out of memory listing windows");
		return;
	}
	for (size_t i = 0; i < n; i++)
		ptrs[i] = &infos[i];
	list.n_windows = n;
	list.windows = ptrs;
	header.body_case = CROSSPOST__HEADER__BODY_WINDOW_LIST;
	header.window_list = &list;
	reply(c, serial, &header);
	free(infos);
	free(ptrs);
}

/* The broker's counters, and a page of the windows' counters when asked
 * (as many as fit one reply; `more` says that others follow).  A window
 * of another uid is shown to a lister without list-all by id and origin
 * only. */
static void handle_stats(Connection *c, uint32_t serial, const Crosspost__GetStats *req)
{
	Crosspost__Header header = CROSSPOST__HEADER__INIT;
	Crosspost__Stats stats = CROSSPOST__STATS__INIT;
	Broker *b = c->broker;
	AccessPeer peer = peer_of(c);
	AccessDecision d;
	bool list_all = access_may_list_all(b->access, &peer, &d) == ACCESS_ALLOW;
	Crosspost__WindowStats *ws = NULL, **ptrs = NULL;
	size_t n = 0, cap = 0, bytes = 0;

	stats.connections = b->n_connections;
	stats.windows = registry_count(b->registry);
	stats.ports = ports_count(b->ports);
	account_table_totals(b->accounts, &stats.bytes_held, &stats.fds_held);
	stats.messages_delivered = b->stats.messages_delivered;
	stats.dropped_origin_mismatch = b->stats.dropped_origin_mismatch;
	stats.dropped_target_closed = b->stats.dropped_target_closed;
	stats.senders_paused = b->stats.senders_paused;
	stats.connections_rejected = b->stats.connections_rejected;
	stats.quota_rejects = b->stats.quota_rejects;
	stats.broadcasts_delivered = b->stats.broadcasts_delivered;
	stats.dropped_no_document = b->stats.dropped_no_document;
	monitor_totals(b->monitors, &stats.monitors, &stats.monitor_events_lost);
	stats.uptime_ms = broker_now_ms() - b->started_ms;
	for (Window *w = req->windows ? registry_first_after(b->registry, req->after_id) : NULL; w;
	     w = w->order_next) {
		const Connection *host = w->owner;
		bool full = list_all || (host && host->uid == c->uid);
		const char *origin = origin_serialization(w->origin);
		size_t cost = strlen(origin) + (w->name ? strlen(w->name) : 0) + 96;

		if (bytes + cost > LIST_PAGE_BYTES) {
			stats.more = true;
			break;
		}
		if (n == cap) {
			size_t grown = cap ? 2 * cap : 64;
			Crosspost__WindowStats *more_ws = realloc(ws, grown * sizeof(*ws));

			if (!more_ws)
				goto oom;
			ws = more_ws;
			cap = grown;
		}
		bytes += cost;
		crosspost__window_stats__init(&ws[n]);
		ws[n].id = w->id;
		ws[n].origin = (char *)origin;
		ws[n].name = w->name ? w->name : (char *)"";
		if (full) {
			ws[n].posted = w->posted;
			ws[n].received = w->received;
			ws[n].dropped = w->dropped;
			ws[n].bytes_posted = w->bytes_posted;
			ws[n].bytes_received = w->bytes_received;
			ws[n].queued_bytes = host ? evbuffer_get_length(stream_output(host->stream)) : 0;
			ws[n].paused = host && host->paused;
		}
		n++;
	}
	ptrs = calloc(n ? n : 1, sizeof(*ptrs));
	if (!ptrs)
		goto oom;
	for (size_t i = 0; i < n; i++)
		ptrs[i] = &ws[i];
	stats.n_window_stats = n;
	stats.window_stats = ptrs;
	header.body_case = CROSSPOST__HEADER__BODY_STATS;
	header.stats = &stats;
	reply(c, serial, &header);
	free(ptrs);
	free(ws);
	return;
oom:
	free(ws);
	free(ptrs);
	connection_close(c, LOG_ERROR, "out of memory gathering statistics");
}

/* ReportDrops: this window's dropped posts come back to it (EVENT_DROPPED). */
static void handle_report_drops(Connection *c, uint32_t serial, const Crosspost__ReportDrops *req)
{
	Crosspost__Header header = CROSSPOST__HEADER__INIT;
	Crosspost__Ack ack = CROSSPOST__ACK__INIT;
	Window *w = own_window(c, req->window_id);

	if (!w) {
		connection_send_error(c, serial, CROSSPOST__ERROR_CODE__ERROR_NOT_FOUND,
				      "window %llu is not open on this connection", (unsigned long long)req->window_id);
		return;
	}
	w->report_drops = req->on;
	header.body_case = CROSSPOST__HEADER__BODY_ACK;
	header.ack = &ack;
	reply(c, serial, &header);
}

/* Monitor: within the policy's `monitor` key. */
static void handle_monitor(Connection *c, uint32_t serial, const Crosspost__Monitor *req)
{
	Crosspost__Header header = CROSSPOST__HEADER__INIT;
	Crosspost__Ack ack = CROSSPOST__ACK__INIT;
	AccessPeer peer = peer_of(c);
	AccessDecision d;

	if (access_may_monitor(c->broker->access, &peer, &d) != ACCESS_ALLOW) {
		log_info("connection %llu (uid %u): refused to monitor: the policy says monitor = no",
			 (unsigned long long)c->id, (unsigned)c->uid);
		connection_send_error(c, serial, CROSSPOST__ERROR_CODE__ERROR_SECURITY,
				      "the broker's policy does not let uid %u monitor", (unsigned)c->uid);
		return;
	}
	if (strlen(req->origin) > FRAME_URL_MAX) {
		connection_send_error(c, serial, CROSSPOST__ERROR_CODE__ERROR_RANGE, "the origin filter is too long");
		return;
	}
	if (monitor_add(c->broker->monitors, c, req) < 0) {
		connection_close(c, LOG_ERROR, "out of memory adding a monitor");
		return;
	}
	log_debug("connection %llu (uid %u) monitors%s%s", (unsigned long long)c->id, (unsigned)c->uid,
		  *req->origin ? " origin " : "", req->origin);
	header.body_case = CROSSPOST__HEADER__BODY_ACK;
	header.ack = &ack;
	reply(c, serial, &header);
}

static void handle_sync(Connection *c, uint32_t serial)
{
	Crosspost__Header header = CROSSPOST__HEADER__INIT;
	Crosspost__Ack ack = CROSSPOST__ACK__INIT;

	header.body_case = CROSSPOST__HEADER__BODY_ACK;
	header.ack = &ack;
	reply(c, serial, &header);
}

static void handle_create_channel(Connection *c, uint32_t serial, const Crosspost__CreateChannel *req)
{
	Crosspost__Header header = CROSSPOST__HEADER__INIT;
	Crosspost__ChannelCreated created = CROSSPOST__CHANNEL_CREATED__INIT;
	Port *p1, *p2;
	int r;

	if (!own_window(c, req->window_id)) {
		connection_send_error(c, serial, CROSSPOST__ERROR_CODE__ERROR_NOT_FOUND,
				      "window %llu is not open on this connection",
				      (unsigned long long)req->window_id);
		return;
	}
	r = ports_create_pair(c->broker->ports, c, &p1, &p2);
	if (r == PORTS_E_QUOTA) {
		c->broker->stats.quota_rejects++;
		connection_send_error(c, serial, CROSSPOST__ERROR_CODE__ERROR_QUOTA,
				      "this connection has %u ports, max-ports-per-connection is %u", c->n_ports,
				      c->broker->limits.max_ports_per_connection);
		return;
	}
	if (r < 0) {
		connection_close(c, LOG_ERROR, "out of memory creating a channel");
		return;
	}
	/* The ports belong to the window's current Window object. */
	ports_bind(c->broker->ports, (uint64_t[]){ p1->id, p2->id }, 2, req->window_id,
		   own_window(c, req->window_id)->document);
	log_debug("window %llu created channel: ports %llu and %llu", (unsigned long long)req->window_id,
		  (unsigned long long)p1->id, (unsigned long long)p2->id);
	created.port1_id = p1->id;
	created.port2_id = p2->id;
	header.body_case = CROSSPOST__HEADER__BODY_CHANNEL_CREATED;
	header.channel_created = &created;
	reply(c, serial, &header);
}

static void handle_port_close(Connection *c, const Crosspost__PortClose *req)
{
	Port *p = ports_find(c->broker->ports, req->port_id);

	/* Closing a port that is gone already is not an error (HTML). */
	if (p && port_usable_by(p, c))
		port_close(c->broker->ports, p);
}

/* The old owner hands back a message for a port it no longer has.  The
 * ports it carries must be this connection's to give (they came with the
 * message, so they are: a list naming others' ports is an attempt to take
 * them, and closes the connection). */
static void handle_port_return(Connection *c, Frame **framep)
{
	const Crosspost__PortReturn *ret = (*framep)->header->port_return;
	Port *p = ports_find(c->broker->ports, ret->port_id);
	const char *reason = "?";

	if (ports_check_transfer(c->broker->ports, c, ret->ports, ret->n_ports, p, &reason) > 0) {
		c->broker->stats.connections_rejected++;
		connection_close(c, LOG_WARNING, "protocol violation: a returned message names ports "
				 "this connection may not give (%s)", reason);
		return;
	}
	if (!router_check_buffers(c, (*framep)->header->serial, *framep, ret->buffer_sizes,
				  ret->n_buffer_sizes))
		return;
	if (!p || p->state != PORT_IN_TRANSIT || p->owner != c) {
		/* Not (or no longer) being handed over by this connection, e.g.
		 * its transit timed out: the message goes, with its ports. */
		ports_close_ids(c->broker->ports, ret->ports, ret->n_ports);
		return;
	}
	ports_deliver(c->broker->ports, p, *framep, c, true);
	*framep = NULL;
}

static void handle_port_released(Connection *c, const Crosspost__PortReleased *req)
{
	Port *p = ports_find(c->broker->ports, req->port_id);

	if (p && p->state == PORT_IN_TRANSIT && p->owner == c)
		ports_land(c->broker->ports, p);
}

static bool carries_payload(Crosspost__Header__BodyCase kind)
{
	return kind == CROSSPOST__HEADER__BODY_POST || kind == CROSSPOST__HEADER__BODY_PORT_POST ||
	       kind == CROSSPOST__HEADER__BODY_PORT_RETURN || kind == CROSSPOST__HEADER__BODY_BROADCAST_POST;
}

void driver_dispatch(Connection *c, Frame **framep)
{
	Frame *frame = *framep;
	const Crosspost__Header *h = frame->header;
	uint32_t serial = h->serial;

	if (!c->greeted && h->body_case != CROSSPOST__HEADER__BODY_HELLO) {
		connection_close(c, LOG_WARNING, "protocol violation: %s frame before hello",
				 frame_kind_name(h->body_case));
		return;
	}
	if (!carries_payload(h->body_case) && frame_payload_length(frame) > 0) {
		connection_close(c, LOG_WARNING, "protocol violation: %s frame with a payload",
				 frame_kind_name(h->body_case));
		return;
	}
	switch (h->body_case) {
	case CROSSPOST__HEADER__BODY_HELLO:
		handle_hello(c, serial, h->hello);
		break;
	case CROSSPOST__HEADER__BODY_REGISTER:
		handle_register(c, serial, h->register_);
		break;
	case CROSSPOST__HEADER__BODY_UNREGISTER:
		handle_unregister(c, serial, h->unregister);
		break;
	case CROSSPOST__HEADER__BODY_NAVIGATE:
		handle_navigate(c, serial, h->navigate);
		break;
	case CROSSPOST__HEADER__BODY_LOOKUP:
		handle_lookup(c, serial, h->lookup);
		break;
	case CROSSPOST__HEADER__BODY_LIST_WINDOWS:
		handle_list(c, serial, h->list_windows);
		break;
	case CROSSPOST__HEADER__BODY_GET_STATS:
		handle_stats(c, serial, h->get_stats);
		break;
	case CROSSPOST__HEADER__BODY_REPORT_DROPS:
		handle_report_drops(c, serial, h->report_drops);
		break;
	case CROSSPOST__HEADER__BODY_MONITOR:
		handle_monitor(c, serial, h->monitor);
		break;
	case CROSSPOST__HEADER__BODY_POST:
		router_post(c, frame);
		break;
	case CROSSPOST__HEADER__BODY_CREATE_CHANNEL:
		handle_create_channel(c, serial, h->create_channel);
		break;
	case CROSSPOST__HEADER__BODY_PORT_POST:
		router_port_post(c, framep);
		break;
	case CROSSPOST__HEADER__BODY_PORT_CLOSE:
		handle_port_close(c, h->port_close);
		break;
	case CROSSPOST__HEADER__BODY_PORT_RETURN:
		handle_port_return(c, framep);
		break;
	case CROSSPOST__HEADER__BODY_PORT_RELEASED:
		handle_port_released(c, h->port_released);
		break;
	case CROSSPOST__HEADER__BODY_SYNC:
		handle_sync(c, serial);
		break;
	case CROSSPOST__HEADER__BODY_OPEN_WINDOW:
	case CROSSPOST__HEADER__BODY_CREATE_FRAME:
	case CROSSPOST__HEADER__BODY_REMOVE_FRAME:
	case CROSSPOST__HEADER__BODY_CLAIM:
	case CROSSPOST__HEADER__BODY_CLOSE_WINDOW:
	case CROSSPOST__HEADER__BODY_RELATION:
	case CROSSPOST__HEADER__BODY_BROADCAST_OPEN:
	case CROSSPOST__HEADER__BODY_BROADCAST_POST:
	case CROSSPOST__HEADER__BODY_BROADCAST_CLOSE:
		driver_contexts_dispatch(c, frame);
		break;
	case CROSSPOST__HEADER__BODY__NOT_SET:
		c->broker->stats.connections_rejected++;
		connection_close(c, LOG_WARNING, "protocol violation: unknown frame type");
		break;
	default:
		c->broker->stats.connections_rejected++;
		connection_close(c, LOG_WARNING, "protocol violation: a client may not send %s frames",
				 frame_kind_name(h->body_case));
		break;
	}
}
