/* SPDX-License-Identifier: MIT */
/*
 * worker.c - one page's worker: a libcrosspost client whose windows have the
 * origin the server read from the page's handshake.
 *
 * The page's requests come one per frame on descriptor 3 (the protocol is in
 * docs/gateway.md "Protocol") and are handled in order; each may block in
 * the library (a registration waits for the broker, a post waits while the
 * broker holds the page back), which stalls this page only.  Events for the
 * page's windows and ports go back as frames.  When more than queue-high
 * waits for the server (the browser is not reading), the worker stops
 * dispatching: the broker's queue to this connection fills, and the broker
 * holds back whoever posts to the page.  It also stops reading the page's
 * requests, whose answers would pile up too.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <jansson.h>

#include "gateway.h"
#include "log.h"
#include "worker.h"

/* Appends a string literal, its length counted by the compiler. */
#define ADD_LITERAL(b, literal) evbuffer_add((b), (literal), sizeof(literal) - 1)

/* How long the last frames may take to reach the server at exit. */
#define FINAL_FLUSH_MS 1000

typedef struct Worker Worker;

typedef struct PortEntry {
	Worker *worker;
	uint64_t handle;     /* the page's name for it: odd if the page made it, even if it arrived */
	cp_port *port;
} PortEntry;

typedef struct WindowEntry {
	uint64_t id;
	cp_window *window;
} WindowEntry;

struct Worker {
	const GatewayConfig *cfg;
	const char *origin;
	int fd;
	cp_client *client;
	bool lost;                 /* the broker connection broke */
	bool done;
	struct evbuffer *in, *out;
	WindowEntry *windows;
	size_t n_windows;
	PortEntry **ports;
	size_t n_ports;
	uint64_t next_handle;      /* even */
};

/* ---- JSON text ---- */

/* A JSON string of s: valid UTF-8 passes, each byte of an invalid
 * sequence becomes U+FFFD (a WebSocket text message must be UTF-8). */
static void add_json_string(struct evbuffer *b, const char *s)
{
	const unsigned char *p = (const unsigned char *)s;

	ADD_LITERAL(b, "\"");
	while (*p) {
		unsigned char c = *p;
		size_t n = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 0;
		bool ok = n > 0;

		for (size_t i = 1; ok && i < n; i++)
			ok = (p[i] & 0xC0) == 0x80;
		if (ok && n == 2)
			ok = c >= 0xC2;
		if (ok && n == 3)
			ok = !(c == 0xE0 && p[1] < 0xA0) && !(c == 0xED && p[1] >= 0xA0);
		if (ok && n == 4)
			ok = c <= 0xF4 && !(c == 0xF0 && p[1] < 0x90) && !(c == 0xF4 && p[1] >= 0x90);
		if (!ok) {
			ADD_LITERAL(b, "\xEF\xBF\xBD");
			p++;
			continue;
		}
		if (c == '"' || c == '\\')
			evbuffer_add_printf(b, "\\%c", c);
		else if (c < 0x20)
			evbuffer_add_printf(b, "\\u%04x", c);
		else
			evbuffer_add(b, p, n);
		p += n;
	}
	ADD_LITERAL(b, "\"");
}

static void add_req(struct evbuffer *b, const json_t *req)
{
	if (json_is_integer(req))
		evbuffer_add_printf(b, "%" JSON_INTEGER_FORMAT, json_integer_value(req));
	else
		ADD_LITERAL(b, "null");
}

/* Queues b (consumed) as one frame for the page. */
static void send_buffer(Worker *w, struct evbuffer *b)
{
	if (gw_frame_append_buffer(w->out, b) < 0) {
		log_error("%s: out of memory", w->origin);
		w->done = true;
	}
	evbuffer_free(b);
}

static void reply_ok(Worker *w, const json_t *req, struct evbuffer *fields)
{
	struct evbuffer *b = evbuffer_new();

	if (!b) {
		w->done = true;
		return;
	}
	ADD_LITERAL(b, "{\"re\":");
	add_req(b, req);
	if (fields) {
		ADD_LITERAL(b, ",");
		evbuffer_add_buffer(b, fields);
	}
	ADD_LITERAL(b, "}");
	send_buffer(w, b);
}

/* An error answer: name from the CP_ERR_* code; message, or the library's. */
static void reply_error(Worker *w, const json_t *req, int code, const char *message)
{
	struct evbuffer *b = evbuffer_new();

	if (code == CP_ERR_NETWORK && w->client)
		w->lost = true;
	if (!b) {
		w->done = true;
		return;
	}
	ADD_LITERAL(b, "{\"re\":");
	add_req(b, req);
	evbuffer_add_printf(b, ",\"error\":{\"name\":\"%s\",\"message\":", cp_error_name(code));
	add_json_string(b, message ? message : cp_last_error_message());
	ADD_LITERAL(b, "}}");
	send_buffer(w, b);
}

/* ---- windows and ports of the page ---- */

static WindowEntry *find_window(Worker *w, const json_t *id)
{
	if (!json_is_integer(id))
		return NULL;
	for (size_t i = 0; i < w->n_windows; i++)
		if (w->windows[i].id == (uint64_t)json_integer_value(id))
			return &w->windows[i];
	return NULL;
}

static PortEntry *find_port(Worker *w, uint64_t handle, size_t *ret_index)
{
	for (size_t i = 0; i < w->n_ports; i++) {
		if (w->ports[i]->handle == handle) {
			if (ret_index)
				*ret_index = i;
			return w->ports[i];
		}
	}
	return NULL;
}

static cp_port *resolve_port(void *ctx, uint64_t handle)
{
	PortEntry *e = find_port(ctx, handle, NULL);

	return e ? e->port : NULL;
}

static void on_port_event(cp_port *port, const cp_event *ev, void *userdata);

/* Takes port into the page's table with handle; NULL when the table is
 * full or out of memory (the caller closes the port). */
static PortEntry *add_port(Worker *w, cp_port *port, uint64_t handle)
{
	PortEntry **grown, *e;

	if (w->n_ports >= w->cfg->limits.ports_max)
		return NULL;
	e = calloc(1, sizeof(*e));
	grown = e ? realloc(w->ports, (w->n_ports + 1) * sizeof(*grown)) : NULL;
	if (!grown) {
		free(e);
		return NULL;
	}
	w->ports = grown;
	e->worker = w;
	e->handle = handle;
	e->port = port;
	w->ports[w->n_ports++] = e;
	cp_port_set_callback(port, on_port_event, e);
	return e;
}

static void remove_port(Worker *w, size_t index)
{
	free(w->ports[index]);
	w->ports[index] = w->ports[--w->n_ports];
}

/* Forgets the page's ports that a successful post moved away. */
static void forget_transferred(Worker *w)
{
	for (size_t i = 0; i < w->n_ports;) {
		if (cp_port_get_state(w->ports[i]->port) == CP_PORT_TRANSFERRED)
			remove_port(w, i);
		else
			i++;
	}
}

/* ---- events to the page ---- */

static void emit_event(Worker *w, const char *target_key, uint64_t target, const cp_event *ev)
{
	cp_port *const *ports = NULL;
	size_t n_ports = cp_event_ports(ev, &ports);
	const cp_value *data = cp_event_data(ev);
	char *json = data ? cp_value_to_json(data) : NULL;
	const char *reason = NULL;
	struct evbuffer *b = evbuffer_new();
	bool message = data != NULL;

	if (!b || (data && !json)) {
		log_error("%s: out of memory for an event", w->origin);
		w->done = true;
		goto out;
	}
	/* The envelope is small beside the data: origin and name are within
	 * CP_URL_MAX and CP_NAME_MAX, a port costs under 48 bytes. */
	if (json && strlen(json) + n_ports * 48 + 2 * CP_URL_MAX + CP_NAME_MAX + 256 > w->cfg->limits.message_max) {
		reason = "the message's JSON is over the gateway's --max-message-size";
		message = false;
	}
	evbuffer_add_printf(b, "{\"ev\":\"%s\",\"%s\":%" PRIu64 ",\"origin\":", message ? "message" : "messageerror",
			    target_key, target);
	add_json_string(b, cp_event_origin(ev));
	ADD_LITERAL(b, ",\"source\":");
	if (cp_event_source_id(ev)) {
		evbuffer_add_printf(b, "{\"id\":%" PRIu64 ",\"name\":", cp_event_source_id(ev));
		if (cp_event_source_name(ev))
			add_json_string(b, cp_event_source_name(ev));
		else
			ADD_LITERAL(b, "null");
		ADD_LITERAL(b, "}");
	} else {
		ADD_LITERAL(b, "null");
	}
	ADD_LITERAL(b, ",\"ports\":[");
	for (size_t i = 0, written = 0; i < n_ports; i++) {
		PortEntry *e = message ? add_port(w, ports[i], w->next_handle) : NULL;

		if (!e) {
			/* A messageerror has no ports; a port over --max-ports
			 * arrives closed (handle 0). */
			cp_port_close(ports[i]);
			if (!message)
				continue;
		} else {
			w->next_handle += 2;
		}
		evbuffer_add_printf(b, "%s[%" PRIu64 ",%" PRIu64 "]", written++ ? "," : "", cp_port_id(ports[i]),
				    e ? e->handle : 0);
	}
	ADD_LITERAL(b, "]");
	if (message) {
		ADD_LITERAL(b, ",\"data\":");
		evbuffer_add(b, json, strlen(json));
	} else if (reason) {
		ADD_LITERAL(b, ",\"reason\":");
		add_json_string(b, reason);
	}
	ADD_LITERAL(b, "}");
	send_buffer(w, b);
	b = NULL;
out:
	if (b)
		evbuffer_free(b);
	free(json);
}

static void on_window_event(cp_window *window, const cp_event *ev, void *userdata)
{
	emit_event(userdata, "window", cp_window_id(window), ev);
}

static void on_port_event(cp_port *port, const cp_event *ev, void *userdata)
{
	PortEntry *e = userdata;

	(void)port;
	emit_event(e->worker, "port", e->handle, ev);
}

/* ---- requests ---- */

static int ensure_client(Worker *w, const json_t *req)
{
	int r;

	if (w->client)
		return 0;
	r = cp_client_new(w->cfg->socket_path, &w->client);
	if (r < 0)
		reply_error(w, req, r, NULL);
	return r;
}

static void op_open(Worker *w, const json_t *req, const json_t *msg)
{
	const json_t *name = json_object_get(msg, "name"), *path = json_object_get(msg, "path");
	const char *path_text = json_is_string(path) ? json_string_value(path) : "/";
	struct evbuffer *fields;
	WindowEntry *grown;
	cp_window *window = NULL;
	char *url;
	int r;

	if ((name && !json_is_null(name) && !json_is_string(name)) || (path && !json_is_null(path) && !json_is_string(path)))
		return reply_error(w, req, CP_ERR_TYPE, "open: name and path are strings");
	if (path_text[0] != '/' || (json_is_string(path) && strlen(path_text) != json_string_length(path)))
		return reply_error(w, req, CP_ERR_SYNTAX, "open: a path starts with \"/\" (the origin is the page's)");
	if (w->n_windows >= w->cfg->limits.windows_max)
		return reply_error(w, req, CP_ERR_QUOTA, "open: this page has as many windows as the gateway "
				   "allows (--max-windows)");
	if (ensure_client(w, req) < 0)
		return;
	/* A page of an opaque origin (sandboxed, file:, data:) has no URL
	 * that could stand for it but one whose origin is opaque too. */
	if (strcmp(w->origin, "null") == 0)
		url = strdup("about:blank");
	else if (asprintf(&url, "%s%s", w->origin, path_text) < 0)
		url = NULL;
	if (!url)
		return reply_error(w, req, CP_ERR_NO_MEMORY, "out of memory");
	r = cp_window_open(w->client, url, json_is_string(name) ? json_string_value(name) : NULL, &window);
	free(url);
	if (r < 0)
		return reply_error(w, req, r, NULL);
	/* The path cannot change the origin ("/" comes right after it), but
	 * the broker's word is the one that counts. */
	if (strcmp(cp_window_origin(window), w->origin) != 0) {
		log_error("%s: a window registered with origin %s", w->origin, cp_window_origin(window));
		cp_window_close(window);
		return reply_error(w, req, CP_ERR_SECURITY, "open: the URL's origin is not the page's");
	}
	grown = realloc(w->windows, (w->n_windows + 1) * sizeof(*grown));
	fields = evbuffer_new();
	if (!grown || !fields) {
		if (grown)
			w->windows = grown;
		cp_window_close(window);
		return reply_error(w, req, CP_ERR_NO_MEMORY, "out of memory");
	}
	w->windows = grown;
	w->windows[w->n_windows++] = (WindowEntry){ cp_window_id(window), window };
	cp_window_set_callback(window, on_window_event, w);
	evbuffer_add_printf(fields, "\"window\":{\"id\":%" PRIu64 ",\"name\":", cp_window_id(window));
	if (cp_window_name(window))
		add_json_string(fields, cp_window_name(window));
	else
		ADD_LITERAL(fields, "null");
	ADD_LITERAL(fields, ",\"url\":");
	add_json_string(fields, cp_window_url(window));
	ADD_LITERAL(fields, ",\"origin\":");
	add_json_string(fields, cp_window_origin(window));
	ADD_LITERAL(fields, "}");
	reply_ok(w, req, fields);
	evbuffer_free(fields);
	log_debug("%s: window %" PRIu64 " opened", w->origin, cp_window_id(window));
}

static void op_close(Worker *w, const json_t *req, const json_t *msg)
{
	WindowEntry *e = find_window(w, json_object_get(msg, "window"));
	int r;

	if (!e)
		return reply_ok(w, req, NULL);   /* closing a closed window does nothing */
	r = cp_window_close(e->window);
	*e = w->windows[--w->n_windows];
	if (r < 0)
		return reply_error(w, req, r, NULL);
	reply_ok(w, req, NULL);
}

/* The port nodes of a transfer list of handles; *ret_n of them. */
static int transfer_list(Worker *w, const json_t *list, cp_value ***ret, size_t *ret_n)
{
	cp_value **nodes;
	size_t n = json_array_size(list);
	int r = 0;

	*ret = NULL;
	*ret_n = 0;
	if (list && !json_is_null(list) && !json_is_array(list))
		return CP_ERR_TYPE;
	if (n == 0)
		return 0;
	nodes = calloc(n, sizeof(*nodes));
	if (!nodes)
		return CP_ERR_NO_MEMORY;
	for (size_t i = 0; i < n && r == 0; i++) {
		const json_t *h = json_array_get(list, i);
		PortEntry *e = json_is_integer(h) ? find_port(w, (uint64_t)json_integer_value(h), NULL) : NULL;

		r = e ? cp_value_new_port(e->port, &nodes[i]) : CP_ERR_DATA_CLONE;
	}
	if (r < 0) {
		for (size_t i = 0; i < n; i++)
			cp_value_free(nodes[i]);
		free(nodes);
		return r;
	}
	*ret = nodes;
	*ret_n = n;
	return 0;
}

static void free_transfer(cp_value **nodes, size_t n)
{
	for (size_t i = 0; i < n; i++)
		cp_value_free(nodes[i]);
	free(nodes);
}

/* The data of a post: *ret, or an answer already sent. */
static int post_data(Worker *w, const json_t *req, json_t *msg, cp_value **ret)
{
	json_t *data = json_object_get(msg, "data");
	const char *why = NULL;
	int r;

	if (!data) {
		reply_error(w, req, CP_ERR_TYPE, "post: no data");
		return CP_ERR_TYPE;
	}
	r = worker_value_from_page(data, resolve_port, w, ret, &why);
	if (r < 0)
		reply_error(w, req, r, why);
	return r;
}

static void op_post(Worker *w, const json_t *req, json_t *msg)
{
	WindowEntry *e = find_window(w, json_object_get(msg, "window"));
	const json_t *target = json_object_get(msg, "target"), *to = json_object_get(msg, "targetOrigin");
	cp_value *data = NULL, **transfer = NULL;
	size_t n_transfer = 0;
	uint64_t id = 0;
	int r;

	if (!e)
		return reply_error(w, req, CP_ERR_INVALID_STATE, "post: the window is closed");
	if (!json_is_string(to))
		return reply_error(w, req, CP_ERR_TYPE, "post: targetOrigin is a string");
	if (json_is_integer(target) && json_integer_value(target) > 0) {
		id = (uint64_t)json_integer_value(target);
	} else if (json_is_string(target)) {
		r = cp_client_lookup(w->client, json_string_value(target), &id);
		if (r < 0)
			return reply_error(w, req, r, NULL);
	} else {
		return reply_error(w, req, CP_ERR_TYPE, "post: the target is a window id or a name");
	}
	r = transfer_list(w, json_object_get(msg, "transfer"), &transfer, &n_transfer);
	if (r < 0)
		return reply_error(w, req, r, "post: the transfer list names a port that is not this page's");
	if (post_data(w, req, msg, &data) < 0)
		goto out;
	r = cp_post_message_with_transfer(e->window, id, data, json_string_value(to), transfer, n_transfer);
	if (r < 0) {
		reply_error(w, req, r, NULL);
		goto out;
	}
	forget_transferred(w);
	reply_ok(w, req, NULL);
out:
	cp_value_free(data);
	free_transfer(transfer, n_transfer);
}

static void op_lookup(Worker *w, const json_t *req, const json_t *msg)
{
	const json_t *name = json_object_get(msg, "name"), *wait = json_object_get(msg, "wait");
	struct evbuffer *fields;
	char *origin = NULL;
	uint64_t id = 0;
	int r;

	if (!json_is_string(name) || (wait && !json_is_number(wait)))
		return reply_error(w, req, CP_ERR_TYPE, "lookup: name is a string, wait a number of milliseconds");
	if (ensure_client(w, req) < 0)
		return;
	if (wait && json_number_value(wait) > 0) {
		double ms = json_number_value(wait);

		r = cp_client_wait_for_window(w->client, json_string_value(name),
					      ms > GW_LOOKUP_WAIT_MAX_MS ? GW_LOOKUP_WAIT_MAX_MS : (int)ms, &id);
		if (r < 0)
			return reply_error(w, req, r == CP_ERR_TIMEOUT ? CP_ERR_NOT_FOUND : r,
					   r == CP_ERR_TIMEOUT ? "lookup: no such window appeared in time" : NULL);
	}
	r = cp_client_lookup_window(w->client, json_string_value(name), &id, &origin);
	if (r < 0)
		return reply_error(w, req, r, NULL);
	fields = evbuffer_new();
	if (!fields) {
		free(origin);
		return reply_error(w, req, CP_ERR_NO_MEMORY, "out of memory");
	}
	evbuffer_add_printf(fields, "\"id\":%" PRIu64 ",\"name\":", id);
	add_json_string(fields, json_string_value(name));
	ADD_LITERAL(fields, ",\"origin\":");
	add_json_string(fields, origin);
	reply_ok(w, req, fields);
	evbuffer_free(fields);
	free(origin);
}

static bool valid_new_handle(Worker *w, const json_t *h)
{
	return json_is_integer(h) && json_integer_value(h) > 0 && json_integer_value(h) % 2 == 1 &&
	       !find_port(w, (uint64_t)json_integer_value(h), NULL);
}

static void op_channel(Worker *w, const json_t *req, const json_t *msg)
{
	const json_t *handles = json_object_get(msg, "ports");
	const json_t *h1 = json_array_get(handles, 0), *h2 = json_array_get(handles, 1);
	cp_port *p1 = NULL, *p2 = NULL;
	int r;

	if (json_array_size(handles) != 2 || !valid_new_handle(w, h1) || !valid_new_handle(w, h2) ||
	    json_integer_value(h1) == json_integer_value(h2))
		return reply_error(w, req, CP_ERR_TYPE, "channel: two new odd port handles");
	if (w->n_windows == 0)
		return reply_error(w, req, CP_ERR_INVALID_STATE, "channel: open a window first");
	if (w->n_ports + 2 > w->cfg->limits.ports_max)
		return reply_error(w, req, CP_ERR_QUOTA, "channel: this page has as many MessagePorts as the "
				   "gateway allows (--max-ports)");
	r = cp_channel_new(w->windows[0].window, &p1, &p2);
	if (r < 0)
		return reply_error(w, req, r, NULL);
	if (!add_port(w, p1, (uint64_t)json_integer_value(h1)) || !add_port(w, p2, (uint64_t)json_integer_value(h2))) {
		size_t i;

		cp_port_close(p1);
		cp_port_close(p2);
		if (find_port(w, (uint64_t)json_integer_value(h1), &i))
			remove_port(w, i);
		return reply_error(w, req, CP_ERR_NO_MEMORY, "out of memory");
	}
	reply_ok(w, req, NULL);
}

static void op_port_post(Worker *w, const json_t *req, json_t *msg)
{
	const json_t *h = json_object_get(msg, "port");
	PortEntry *e = json_is_integer(h) ? find_port(w, (uint64_t)json_integer_value(h), NULL) : NULL;
	cp_value *data = NULL, **transfer = NULL;
	size_t n_transfer = 0;
	int r;

	if (!e)
		return reply_error(w, req, CP_ERR_INVALID_STATE, "port post: not one of this page's ports");
	r = transfer_list(w, json_object_get(msg, "transfer"), &transfer, &n_transfer);
	if (r < 0)
		return reply_error(w, req, r, "port post: the transfer list names a port that is not this page's");
	if (post_data(w, req, msg, &data) < 0)
		goto out;
	r = cp_port_post_message(e->port, data, transfer, n_transfer);
	if (r < 0) {
		reply_error(w, req, r, NULL);
		goto out;
	}
	forget_transferred(w);
	reply_ok(w, req, NULL);
out:
	cp_value_free(data);
	free_transfer(transfer, n_transfer);
}

static void op_port_close(Worker *w, const json_t *req, const json_t *msg)
{
	const json_t *h = json_object_get(msg, "port");
	size_t i;
	PortEntry *e = json_is_integer(h) ? find_port(w, (uint64_t)json_integer_value(h), &i) : NULL;
	int r;

	if (!e)
		return reply_ok(w, req, NULL);
	r = cp_port_close(e->port);
	cp_port_set_callback(e->port, NULL, NULL);
	remove_port(w, i);
	if (r < 0)
		return reply_error(w, req, r, NULL);
	reply_ok(w, req, NULL);
}

static void handle(Worker *w, const char *text, size_t len)
{
	json_error_t error;
	json_t *msg = json_loadb(text, len, JSON_DECODE_INT_AS_REAL | JSON_ALLOW_NUL, &error);
	json_t *req, *op;
	const char *name;

	if (!msg || !json_is_object(msg)) {
		reply_error(w, NULL, CP_ERR_SYNTAX, msg ? "a request is a JSON object" : error.text);
		json_decref(msg);
		return;
	}
	/* Integers were read as reals (as JavaScript reads them, so that
	 * the data's numbers round the same way); the envelope's ids and
	 * handles are integers again. */
	req = json_object_get(msg, "req");
	op = json_object_get(msg, "op");
	name = json_is_string(op) ? json_string_value(op) : "";
	{
		static const char *const int_fields[] = { "req", "window", "target", "port" };

		for (size_t i = 0; i < sizeof(int_fields) / sizeof(int_fields[0]); i++) {
			json_t *v = json_object_get(msg, int_fields[i]);

			if (json_is_real(v) && json_real_value(v) >= 0 && json_real_value(v) <= 9007199254740992.0 &&
			    json_real_value(v) == (double)(json_int_t)json_real_value(v))
				json_object_set_new(msg, int_fields[i], json_integer((json_int_t)json_real_value(v)));
		}
		req = json_object_get(msg, "req");
		for (const char *list_name = "transfer";; list_name = "ports") {
			json_t *list = json_object_get(msg, list_name), *v;
			size_t i;

			json_array_foreach(list, i, v)
				if (json_is_real(v) && json_real_value(v) >= 0 && json_real_value(v) <= 9007199254740992.0 &&
				    json_real_value(v) == (double)(json_int_t)json_real_value(v))
					json_array_set_new(list, i, json_integer((json_int_t)json_real_value(v)));
			if (strcmp(list_name, "ports") == 0)
				break;
		}
	}
	if (strcmp(name, "open") == 0)
		op_open(w, req, msg);
	else if (!w->client)
		reply_error(w, req, CP_ERR_INVALID_STATE, "open a window first");
	else if (strcmp(name, "close") == 0)
		op_close(w, req, msg);
	else if (strcmp(name, "post") == 0)
		op_post(w, req, msg);
	else if (strcmp(name, "lookup") == 0)
		op_lookup(w, req, msg);
	else if (strcmp(name, "channel") == 0)
		op_channel(w, req, msg);
	else if (strcmp(name, "portpost") == 0)
		op_port_post(w, req, msg);
	else if (strcmp(name, "portclose") == 0)
		op_port_close(w, req, msg);
	else
		reply_error(w, req, CP_ERR_TYPE, "unknown op");
	json_decref(msg);
}

/* ---- the loop ---- */

static bool out_full(const Worker *w)
{
	return evbuffer_get_length(w->out) >= w->cfg->limits.queue_high;
}

/* Handles the complete requests in w->in while the output has room. */
static void handle_input(Worker *w)
{
	size_t len;
	int r;

	while (!w->done && !w->lost && !out_full(w) &&
	       (r = gw_frame_peek(w->in, w->cfg->limits.message_max, &len)) != 0) {
		char *text;

		if (r < 0) {
			log_error("%s: the server sent a frame over --max-message-size", w->origin);
			w->done = true;
			return;
		}
		evbuffer_drain(w->in, 4);
		text = (char *)evbuffer_pullup(w->in, (ev_ssize_t)len);
		if (!text && len > 0) {
			w->done = true;
			return;
		}
		handle(w, text ? text : "", len);
		evbuffer_drain(w->in, len);
	}
}

static bool input_pending(Worker *w)
{
	size_t len;

	return gw_frame_peek(w->in, w->cfg->limits.message_max, &len) != 0;
}

static void flush_out(Worker *w)
{
	while (evbuffer_get_length(w->out) > 0) {
		int n = evbuffer_write_atmost(w->out, w->fd, 256 * 1024);

		if (n < 0) {
			if (errno != EAGAIN && errno != EINTR) {
				log_debug("%s: the server closed its socket", w->origin);
				w->done = true;
			}
			return;
		}
	}
}

static void say_hello(Worker *w)
{
	struct evbuffer *b = evbuffer_new();

	if (!b) {
		w->done = true;
		return;
	}
	ADD_LITERAL(b, "{\"ev\":\"hello\",\"origin\":");
	add_json_string(b, w->origin);
	evbuffer_add_printf(b, ",\"version\":\"%s\",\"limits\":{\"maxMessageSize\":%zu,\"maxWindows\":%u,"
			    "\"maxPorts\":%u}}", cp_version(), w->cfg->limits.message_max,
			    w->cfg->limits.windows_max, w->cfg->limits.ports_max);
	send_buffer(w, b);
}

static void say_lost(Worker *w)
{
	struct evbuffer *b = evbuffer_new();

	if (!b)
		return;
	ADD_LITERAL(b, "{\"ev\":\"disconnected\",\"error\":{\"name\":\"NetworkError\",\"message\":");
	add_json_string(b, cp_last_error_message());
	ADD_LITERAL(b, "}}");
	send_buffer(w, b);
}

static void final_flush(Worker *w)
{
	for (int waited = 0; evbuffer_get_length(w->out) > 0 && !w->done && waited < FINAL_FLUSH_MS; waited += 10) {
		struct pollfd pfd = { .fd = w->fd, .events = POLLOUT };

		flush_out(w);
		if (evbuffer_get_length(w->out) > 0)
			poll(&pfd, 1, 10);
	}
}

int gw_worker_run(const GatewayConfig *cfg, const char *origin, int fd)
{
	Worker w = { .cfg = cfg, .origin = origin, .fd = fd, .next_handle = 2 };
	int status = 0;

	w.in = evbuffer_new();
	w.out = evbuffer_new();
	if (!w.in || !w.out || fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK) < 0) {
		status = 1;
		goto out;
	}
	say_hello(&w);
	while (!w.done) {
		struct pollfd pfd[2] = { { .fd = fd }, { .fd = -1 } };
		bool full, pending_events;
		int timeout = -1;

		handle_input(&w);
		if (w.lost) {
			say_lost(&w);
			break;
		}
		full = out_full(&w);
		pending_events = !full && w.client && cp_client_has_pending(w.client);
		pfd[0].events = (full ? 0 : POLLIN) | (evbuffer_get_length(w.out) ? POLLOUT : 0);
		if (w.client && !full)
			pfd[1] = (struct pollfd){ .fd = cp_client_fd(w.client), .events = POLLIN };
		if (pending_events || (!full && input_pending(&w)))
			timeout = 0;
		if (poll(pfd, 2, timeout) < 0 && errno != EINTR) {
			status = 1;
			break;
		}
		if (pfd[0].revents & (POLLOUT | POLLERR))
			flush_out(&w);
		if (pfd[0].revents & (POLLIN | POLLHUP)) {
			int n = evbuffer_read(w.in, fd, 256 * 1024);

			if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) {
				log_debug("%s: the page is gone", origin);
				break;
			}
		}
		if (w.client && (pending_events || pfd[1].revents)) {
			int r = cp_client_dispatch(w.client);

			if (r < 0) {
				w.lost = true;
				say_lost(&w);
				break;
			}
		}
	}
	final_flush(&w);
out:
	for (size_t i = 0; i < w.n_ports; i++)
		free(w.ports[i]);
	free(w.ports);
	free(w.windows);
	cp_client_free(w.client);
	if (w.in)
		evbuffer_free(w.in);
	if (w.out)
		evbuffer_free(w.out);
	return status;
}
