/* SPDX-License-Identifier: MIT */
/* driver.c - the broker's side of each request: handshake, windows, sync. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>

#include "broker.h"
#include "connection.h"
#include "driver.h"
#include "frame.h"
#include "log.h"
#include "ports.h"
#include "registry.h"
#include "router.h"

static void reply(Connection *c, uint32_t serial, Crosspost__Header *header)
{
	header->serial = serial;
	connection_send(c, header, NULL);
}

static void handle_hello(Connection *c, uint32_t serial, const Crosspost__Hello *hello)
{
	Crosspost__Header header = CROSSPOST__HEADER__INIT;
	Crosspost__Welcome welcome = CROSSPOST__WELCOME__INIT;

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
	c->greeted = true;
	log_debug("connection %llu (pid %d): hello from %s", (unsigned long long)c->id, (int)c->pid,
		  hello->client_name && *hello->client_name ? hello->client_name : "a client");
	welcome.version = FRAME_PROTOCOL_VERSION;
	header.body_case = CROSSPOST__HEADER__BODY_WELCOME;
	header.welcome = &welcome;
	reply(c, serial, &header);
}

static void handle_register(Connection *c, uint32_t serial, const Crosspost__Register *reg)
{
	Crosspost__Header header = CROSSPOST__HEADER__INIT;
	Crosspost__Registered registered = CROSSPOST__REGISTERED__INIT;
	const char *reason = "?";
	Window *w;
	int r;

	r = registry_add(c->broker->registry, c, c->pid, reg->url, reg->name, reg->privileged, &w, &reason);
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
	log_debug("window %llu registered: %s (%s)%s%s", (unsigned long long)w->id, w->url,
		  origin_serialization(w->origin), w->name ? " named " : "", w->name ? w->name : "");
	registered.window_id = w->id;
	registered.origin = (char *)origin_serialization(w->origin);
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
	for (Window **p = &c->windows; *p; p = &(*p)->owner_next) {
		if (*p == w) {
			*p = w->owner_next;
			break;
		}
	}
	log_debug("window %llu closed", (unsigned long long)w->id);
	registry_remove(c->broker->registry, w);
	header.body_case = CROSSPOST__HEADER__BODY_ACK;
	header.ack = &ack;
	reply(c, serial, &header);
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
	r = registry_navigate(c->broker->registry, w, nav->url, &reason);
	if (r == REGISTRY_E_BAD_URL) {
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
		connection_send_error(c, serial, CROSSPOST__ERROR_CODE__ERROR_NOT_FOUND,
				      "no window named '%s'", lookup->name);
		return;
	}
	found.window_id = w->id;
	found.origin = (char *)origin_serialization(w->origin);
	header.body_case = CROSSPOST__HEADER__BODY_FOUND;
	header.found = &found;
	reply(c, serial, &header);
}

static void handle_list(Connection *c, uint32_t serial)
{
	Crosspost__Header header = CROSSPOST__HEADER__INIT;
	Crosspost__WindowList list = CROSSPOST__WINDOW_LIST__INIT;
	size_t n = registry_count(c->broker->registry), i = 0;
	Crosspost__WindowInfo *infos = calloc(n ? n : 1, sizeof(*infos));
	Crosspost__WindowInfo **ptrs = calloc(n ? n : 1, sizeof(*ptrs));

	if (!infos || !ptrs) {
		free(infos);
		free(ptrs);
		connection_close(c, LOG_ERROR, "out of memory listing windows");
		return;
	}
	for (Window *w = registry_first(c->broker->registry); w; w = w->order_next, i++) {
		crosspost__window_info__init(&infos[i]);
		infos[i].id = w->id;
		infos[i].name = w->name ? w->name : (char *)"";
		infos[i].url = w->url;
		infos[i].origin = (char *)origin_serialization(w->origin);
		infos[i].pid = w->pid;
		ptrs[i] = &infos[i];
	}
	list.n_windows = n;
	list.windows = ptrs;
	header.body_case = CROSSPOST__HEADER__BODY_WINDOW_LIST;
	header.window_list = &list;
	reply(c, serial, &header);
	free(infos);
	free(ptrs);
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

	if (!own_window(c, req->window_id)) {
		connection_send_error(c, serial, CROSSPOST__ERROR_CODE__ERROR_NOT_FOUND,
				      "window %llu is not open on this connection",
				      (unsigned long long)req->window_id);
		return;
	}
	if (ports_create_pair(c->broker->ports, c, &p1, &p2) < 0) {
		connection_close(c, LOG_ERROR, "out of memory creating a channel");
		return;
	}
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

/* The old owner hands back a message for a port it no longer has. */
static void handle_port_return(Connection *c, Frame **framep)
{
	Port *p = ports_find(c->broker->ports, (*framep)->header->port_return->port_id);

	if (!p || p->state != PORT_IN_TRANSIT || p->owner != c)
		return;    /* the port closed meanwhile: the message goes with it */
	ports_deliver(c->broker->ports, p, *framep, true);
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
	       kind == CROSSPOST__HEADER__BODY_PORT_RETURN;
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
	if (!carries_payload(h->body_case) && evbuffer_get_length(frame->payload) > 0) {
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
		handle_list(c, serial);
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
