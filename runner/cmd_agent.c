/* SPDX-License-Identifier: MIT */
/* cmd_agent.c - `crosspost agent`: one window of a scenario, driven by `crosspost run` over a socketpair. */
#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "client.h"
#include "runner.h"
#include "crosspost.h"
#include "scenario_corrupt.h"
#include "scenario_link.h"
#include "scenario_proc.h"
#include "scenario_value.h"
#include "value_codec.h"

/* How long one post waits for the broker to confirm it (cp_client_sync). */
#define AGENT_SYNC_TIMEOUT_MS 10000
/* How long a command naming a port that has not arrived here yet waits for
 * the event that brings it: the runner sends the command only after the
 * post that moved the port returned, so the event is already on its way. */
#define AGENT_PORT_WAIT_MS 2000
/* The data of this many recent events holding ArrayBuffers is kept, so
 * that the runner can bind a received buffer to its name ("bind"). */
#define AGENT_RETAIN_MAX 32
/* Events whose data prints longer than this are reported without it: a
 * line must stay under SCENARIO_LINK_LINE_MAX even with every character
 * escaped. */
#define AGENT_DATA_JSON_MAX (SCENARIO_LINK_LINE_MAX / 2 - 4096)

/* How the runner listens to a port (struct agent's port_listen). */
enum {
	LISTEN_NONE = 0,
	LISTEN_LISTENER = 1,        /* `listen`: addEventListener, not started */
	LISTEN_ONMESSAGE = 2,       /* an expectation: onmessage (starts the port) */
};

/* A buffer this window made (`buffer`) or received and had bound. */
struct named_buffer {
	char *name;
	cp_value *node;             /* referenced from keeper */
};

/* The data of a recent event, kept for "bind". */
struct retained {
	uint64_t seq;
	cp_value *data;
};

struct agent {
	const char *alias;          /* for messages only */
	struct scenario_link link;  /* to the runner */
	bool link_broken;           /* the runner went away: exit */
	const char *socket_path;
	cp_client *client;          /* NULL when connecting failed */
	/* Clients of brokers that were restarted: kept until exit, because
	 * port handles and MessagePort values still point into them (dead:
	 * using them fails with the library's NetworkError). */
	cp_client **old_clients;
	size_t old_client_count;
	/* What "open" registered, for registering again after a restart: the
	 * URL as navigation left it, the name and the flags. */
	char *url, *name;
	unsigned flags;
	int connect_error;
	char connect_message[256];
	cp_window *window;          /* NULL before open and after close */
	bool closed;                /* closed by a `close` command */
	bool lost;                  /* the broker connection ended */
	uint64_t seq;               /* events reported so far */
	/* Every port handle this process has had (made or received), live or
	 * not: the runner names ports by broker id. */
	cp_port **ports;
	unsigned *port_gens;        /* ports[i] came from client generation port_gens[i] */
	unsigned char *port_listen; /* how the runner listens to ports[i]: LISTEN_* */
	size_t port_count;
	/* `hold`: the window's and its ports' callbacks are off, so their
	 * events wait in the library, undispatched. */
	bool held;
	/* BroadcastChannels this window made (`broadcast-channel`). */
	cp_broadcast **broadcasts;
	size_t broadcast_count;
	unsigned generation;        /* reconnections so far */
	struct named_buffer *buffers;
	size_t buffer_count;
	/* Named buffers, data that holds them, and MessagePort values: no graph
	 * owns nodes that several share, so this array does; freed at exit. */
	cp_value *keeper;
	struct retained retained[AGENT_RETAIN_MAX];
	size_t retained_count;
};

static void agent_send(struct agent *a, json_t *msg)
{
	if (!msg) {
		a->link_broken = true;
		return;
	}
	if (!a->link_broken && scenario_link_send(&a->link, msg) < 0)
		a->link_broken = true;
	json_decref(msg);
}

static void send_ok(struct agent *a)
{
	agent_send(a, json_pack("{s:s, s:b}", "kind", "result", "ok", 1));
}

/* Answers a command with a libcrosspost failure (code is a CP_ERR_*). */
static void send_error(struct agent *a, int code, const char *message)
{
	agent_send(a, json_pack("{s:s, s:b, s:s, s:s}", "kind", "result", "ok", 0,
				"error", cp_error_name(code), "message", message));
}

static void note_port(struct agent *a, cp_port *port)
{
	unsigned char *l;
	cp_port **v;
	unsigned *g;

	for (size_t i = 0; i < a->port_count; i++)
		if (a->ports[i] == port)
			return;
	v = realloc(a->ports, (a->port_count + 1) * sizeof(*v));
	if (v)
		a->ports = v;
	g = realloc(a->port_gens, (a->port_count + 1) * sizeof(*g));
	if (g)
		a->port_gens = g;
	l = realloc(a->port_listen, (a->port_count + 1) * sizeof(*l));
	if (l)
		a->port_listen = l;
	if (!v || !g || !l) {
		a->link_broken = true;   /* out of memory: nothing sensible to do */
		return;
	}
	a->port_gens[a->port_count] = a->generation;
	a->port_listen[a->port_count] = LISTEN_NONE;
	a->ports[a->port_count++] = port;
}

static size_t port_index(struct agent *a, cp_port *port)
{
	for (size_t i = 0; i < a->port_count; i++)
		if (a->ports[i] == port)
			return i;
	return a->port_count;
}

/* ref: the id as the runner names it (SCENARIO_PORT_GEN_SHIFT). */
static cp_port *known_port(struct agent *a, uint64_t ref)
{
	uint64_t id = ref & ((UINT64_C(1) << SCENARIO_PORT_GEN_SHIFT) - 1);
	unsigned gen = (unsigned)(ref >> SCENARIO_PORT_GEN_SHIFT);

	for (size_t i = 0; i < a->port_count; i++)
		if (cp_port_id(a->ports[i]) == id && a->port_gens[i] == gen)
			return a->ports[i];
	return NULL;
}

static struct named_buffer *find_buffer(struct agent *a, const char *name)
{
	for (size_t i = 0; i < a->buffer_count; i++)
		if (strcmp(a->buffers[i].name, name) == 0)
			return &a->buffers[i];
	return NULL;
}

/* Names node (already referenced from keeper) name, replacing what the
 * name stood for before (a buffer that left and came back). */
static int bind_buffer(struct agent *a, const char *name, cp_value *node)
{
	struct named_buffer *b = find_buffer(a, name), *v;

	if (b) {
		b->node = node;
		return 0;
	}
	v = realloc(a->buffers, (a->buffer_count + 1) * sizeof(*v));
	if (!v)
		return CP_ERR_NO_MEMORY;
	a->buffers = v;
	v[a->buffer_count].name = strdup(name);
	if (!v[a->buffer_count].name)
		return CP_ERR_NO_MEMORY;
	v[a->buffer_count++].node = node;
	return 0;
}

/* Keeps data for "bind" when it holds an ArrayBuffer (the oldest kept
 * data goes when full).  Takes data. */
static void retain(struct agent *a, uint64_t seq, cp_value *data)
{
	const cp_value **buffers = NULL;
	size_t count = 0;

	if (scenario_value_buffers(data, &buffers, &count) < 0 || count == 0) {
		free(buffers);
		cp_value_free(data);
		return;
	}
	free(buffers);
	if (a->retained_count == AGENT_RETAIN_MAX) {
		cp_value_free(a->retained[0].data);
		memmove(&a->retained[0], &a->retained[1], (AGENT_RETAIN_MAX - 1) * sizeof(a->retained[0]));
		a->retained_count--;
	}
	a->retained[a->retained_count++] = (struct retained){ .seq = seq, .data = data };
}

/* Reports one event of the window, of a port or of a BroadcastChannel
 * to the runner. */
static void report_event(struct agent *a, const cp_event *ev, cp_port *port)
{
	cp_broadcast *bc = cp_event_broadcast(ev);
	const cp_value *data = cp_event_data(ev);
	char *data_json = data ? cp_value_to_json(data) : NULL;
	uint64_t source_id = cp_event_source_id(ev);
	const char *source_name = cp_event_source_name(ev);
	cp_port *const *ports = NULL;
	size_t n_ports = cp_event_ports(ev, &ports), too_large = 0;
	json_t *source = NULL, *port_ids = json_array(), *msg;

	if ((data && !data_json) || !port_ids) {
		free(data_json);
		json_decref(port_ids);
		a->link_broken = true;   /* out of memory: nothing sensible to report */
		return;
	}
	for (size_t i = 0; i < n_ports; i++) {
		note_port(a, ports[i]);
		json_array_append_new(port_ids, json_integer((json_int_t)cp_port_id(ports[i])));
	}
	if (data_json && strlen(data_json) > AGENT_DATA_JSON_MAX) {
		too_large = strlen(data_json);
		free(data_json);
		data_json = NULL;
	}
	if (source_id)
		source = json_pack("{s:I, s:s?}", "id", (json_int_t)source_id, "name", source_name);
	msg = json_pack("{s:s, s:I, s:s, s:s?, s:s, s:o?, s:o, s:s}", "kind", "event", "seq", (json_int_t)++a->seq,
			"type", cp_event_type_name(ev), "data", data_json, "origin", cp_event_origin(ev),
			"source", source, "ports", port_ids, "lastEventId", cp_event_last_event_id(ev));
	if (msg && port)
		json_object_set_new(msg, "port", json_integer((json_int_t)cp_port_id(port)));
	for (size_t i = 0; msg && bc && i < a->broadcast_count; i++)
		if (a->broadcasts[i] == bc)
			json_object_set_new(msg, "broadcast", json_integer((json_int_t)(i + 1)));
	if (msg && too_large)
		json_object_set_new(msg, "dataTooLarge", json_integer((json_int_t)too_large));
	agent_send(a, msg);
	free(data_json);
	if (data)
		retain(a, a->seq, cp_event_take_data(ev));
}

static void on_event(cp_window *window, const cp_event *ev, void *userdata)
{
	(void)window;
	report_event(userdata, ev, NULL);
}

static void on_port_event(cp_port *port, const cp_event *ev, void *userdata)
{
	report_event(userdata, ev, port);
}

static void on_broadcast_event(cp_broadcast *bc, const cp_event *ev, void *userdata)
{
	(void)bc;
	report_event(userdata, ev, NULL);
}

/* A command's failure before reaching libcrosspost: the window's state. */
static bool refuse_unusable(struct agent *a)
{
	if (a->client == NULL) {
		send_error(a, a->connect_error, a->connect_message);
		return true;
	}
	if (a->lost) {
		send_error(a, CP_ERR_NETWORK, "the connection to the broker was lost");
		return true;
	}
	if (a->closed) {
		send_error(a, CP_ERR_INVALID_STATE, "the window is closed");
		return true;
	}
	if (!a->window) {
		send_error(a, CP_ERR_INVALID_STATE, "the window is not open");
		return true;
	}
	return false;
}

static void do_open(struct agent *a, json_t *cmd)
{
	const char *url = json_string_value(json_object_get(cmd, "url"));
	const char *name = json_string_value(json_object_get(cmd, "name"));
	unsigned flags = json_is_true(json_object_get(cmd, "privileged")) ? CP_WINDOW_PRIVILEGED : 0;
	int r;

	if (a->client == NULL) {
		send_error(a, a->connect_error, a->connect_message);
		return;
	}
	if (a->window || a->closed || !url) {
		send_error(a, CP_ERR_INVALID_STATE, "open: the window was already opened, or no url");
		return;
	}
	r = cp_window_open_with_flags(a->client, url, name, flags, &a->window);
	if (r < 0) {
		send_error(a, r, cp_last_error_message());
		return;
	}
	cp_window_set_callback(a->window, on_event, a);
	a->url = strdup(url);
	a->name = name ? strdup(name) : NULL;
	a->flags = flags;
	if (!a->url || (name && !a->name))
		a->link_broken = true;   /* out of memory: nothing sensible to do */
	agent_send(a, json_pack("{s:s, s:b, s:I, s:s}", "kind", "result", "ok", 1,
				"id", (json_int_t)cp_window_id(a->window),
				"origin", cp_window_origin(a->window)));
}

/* post-corrupt: data's valid encoding, corrupted on purpose, posted as it
 * is (the receiver's decoder must turn it into a messageerror event).
 * Returns 0 or a CP_ERR_* code; *ret_message says why when the failure is
 * ours rather than libcrosspost's. */
static int post_corrupt(struct agent *a, uint64_t target, const cp_value *data, const char *kind_name,
			const char *target_origin, const char **ret_message)
{
	enum scenario_corruption kind;
	uint8_t *valid = NULL, *bytes = NULL;
	size_t valid_len = 0, len = 0;
	int r;

	if (scenario_corruption_parse(kind_name, &kind) < 0) {
		*ret_message = "post: unknown corruption";
		return CP_ERR_TYPE;
	}
	r = value_encode(data, &valid, &valid_len);
	if (r < 0)
		return r;
	r = scenario_corrupt(valid, valid_len, kind, &bytes, &len);
	free(valid);
	if (r < 0) {
		*ret_message = "post: cannot build the corrupt payload";
		return r == -ENOMEM ? CP_ERR_NO_MEMORY : CP_ERR_TYPE;
	}
	return post_encoded(a->window, target, bytes, len, target_origin);
}

/* The client must be usable for a port command (the window need not be
 * open: ports belong to the process). */
static bool refuse_no_client(struct agent *a)
{
	if (a->client == NULL) {
		send_error(a, a->connect_error, a->connect_message);
		return true;
	}
	if (a->lost) {
		send_error(a, CP_ERR_NETWORK, "the connection to the broker was lost");
		return true;
	}
	return false;
}

/* One command that carries DATA and a transfer list. */
struct command {
	struct agent *a;
	json_t *port_ids;           /* {"P": ID}: the ports DATA names */
	/* The MessagePort value of each port this command used, so that data
	 * and transfer list hold one node per port. */
	struct { uint64_t id; cp_value *node; } *values;
	size_t value_count;
	cp_value **transfer;
	size_t transfer_count;
	uint8_t *corrupt;           /* send-corrupt: the bytes to post */
	size_t corrupt_len;
	char message[256];          /* why, when the failure is ours */
};

static void command_deinit(struct command *c)
{
	free(c->values);
	free(c->transfer);
	free(c->corrupt);
}

/* DATA's valid encoding, corrupted as kind_name says, in c->corrupt. */
static int corrupt_bytes(const cp_value *data, const char *kind_name, struct command *c, const char **ret_message)
{
	enum scenario_corruption kind;
	uint8_t *valid = NULL;
	size_t valid_len = 0;
	int r;

	if (scenario_corruption_parse(kind_name, &kind) < 0) {
		*ret_message = "send: unknown corruption";
		return CP_ERR_TYPE;
	}
	r = value_encode(data, &valid, &valid_len);
	if (r < 0)
		return r;
	r = scenario_corrupt(valid, valid_len, kind, &c->corrupt, &c->corrupt_len);
	free(valid);
	if (r < 0) {
		*ret_message = "send: cannot build the corrupt payload";
		return r == -ENOMEM ? CP_ERR_NO_MEMORY : CP_ERR_TYPE;
	}
	return 0;
}

static int fail_message(struct command *c, int code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int fail_message(struct command *c, int code, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(c->message, sizeof(c->message), fmt, ap);
	va_end(ap);
	return code;
}

/* The handle of port id, waiting (up to AGENT_PORT_WAIT_MS) for the event
 * that brings it when it has not arrived yet. */
static int find_port(struct agent *a, uint64_t ref, char *message, size_t size, cp_port **ret)
{
	int64_t deadline = proc_now_ms() + AGENT_PORT_WAIT_MS;
	uint64_t id = ref & ((UINT64_C(1) << SCENARIO_PORT_GEN_SHIFT) - 1);

	for (;;) {
		int64_t left;
		int r;

		*ret = known_port(a, ref);
		if (*ret)
			return 0;
		left = deadline - proc_now_ms();
		if (left <= 0)
			break;
		r = cp_client_wait(a->client, (int)left);
		if (r < 0) {
			snprintf(message, size, "waiting for port %" PRIu64 " to arrive: %s", id,
				 cp_last_error_message());
			return r;
		}
	}
	snprintf(message, size, "port %" PRIu64 " has not arrived in this window (no event brought it "
		 "within %d ms)", id, AGENT_PORT_WAIT_MS);
	return CP_ERR_INVALID_STATE;
}

/* The MessagePort value of port id (one per command; kept by keeper). */
static int port_value(struct command *c, uint64_t id, cp_value **ret)
{
	cp_port *port;
	cp_value *node = NULL;
	void *v;
	int r;

	for (size_t i = 0; i < c->value_count; i++)
		if (c->values[i].id == id) {
			*ret = c->values[i].node;
			return 0;
		}
	r = find_port(c->a, id, c->message, sizeof(c->message), &port);
	if (r < 0)
		return r;
	r = cp_value_new_port(port, &node);
	if (r < 0)
		return fail_message(c, r, "making a MessagePort value: %s", cp_last_error_message());
	if (cp_value_array_push(c->a->keeper, node) < 0) {
		cp_value_free(node);
		return fail_message(c, CP_ERR_NO_MEMORY, "out of memory");
	}
	v = realloc(c->values, (c->value_count + 1) * sizeof(*c->values));
	if (!v)
		return fail_message(c, CP_ERR_NO_MEMORY, "out of memory");
	c->values = v;
	c->values[c->value_count].id = id;
	c->values[c->value_count++].node = node;
	*ret = node;
	return 0;
}

static int resolve_buffer(void *userdata, const char *name, cp_value **ret)
{
	struct command *c = userdata;
	struct named_buffer *b = find_buffer(c->a, name);

	if (!b)
		return fail_message(c, CP_ERR_INVALID_STATE, "no buffer '%s' in this window", name);
	*ret = b->node;
	return 0;
}

static int resolve_port(void *userdata, const char *name, cp_value **ret)
{
	struct command *c = userdata;
	json_t *id = json_object_get(c->port_ids, name);

	if (!json_is_integer(id))
		return fail_message(c, CP_ERR_TYPE, "the runner did not say which port '%s' is", name);
	return port_value(c, (uint64_t)json_integer_value(id), ret);
}

/* The command's DATA: read, and resolved when it names buffers or ports.
 * *ret_owned: whether the caller frees it (else keeper holds it). */
static int command_data(struct command *c, json_t *cmd, cp_value **ret, bool *ret_owned)
{
	const char *text = json_string_value(json_object_get(cmd, "data"));
	const struct scenario_resolver resolver = {
		.buffer = resolve_buffer, .port = resolve_port, .userdata = c,
	};
	const char *what = NULL;
	cp_value *masked = NULL;
	int r;

	if (!text)
		return fail_message(c, CP_ERR_TYPE, "malformed command: no data");
	r = cp_value_from_json(text, strlen(text), NULL, &masked);
	if (r < 0)
		return fail_message(c, r, "%s", cp_last_error_message());
	if (!json_is_true(json_object_get(cmd, "named"))) {
		*ret = masked;
		*ret_owned = true;
		return 0;
	}
	c->port_ids = json_object_get(cmd, "portIds");
	c->message[0] = '\0';
	r = scenario_value_resolve(masked, &resolver, c->a->keeper, ret, &what);
	cp_value_free(masked);
	if (r < 0 && !c->message[0])
		fail_message(c, r, "DATA: %s%s%s", r == CP_ERR_TYPE ? "cannot make " : "out of memory at ",
			     what ? what : "a value", r == CP_ERR_TYPE ? " (its buffer is detached or too small)" : "");
	*ret_owned = false;
	return r;
}

/* The command's transfer list: [{"port":ID} | {"buffer":NAME} | {"window":ALIAS}]. */
static int command_transfer(struct command *c, json_t *cmd)
{
	json_t *items = json_object_get(cmd, "transfer");
	size_t n = json_array_size(items);
	int r;

	if (n == 0)
		return 0;
	c->transfer = calloc(n, sizeof(*c->transfer));
	if (!c->transfer)
		return fail_message(c, CP_ERR_NO_MEMORY, "out of memory");
	for (size_t i = 0; i < n; i++) {
		json_t *item = json_array_get(items, i);
		json_t *port = json_object_get(item, "port");
		const char *buffer = json_string_value(json_object_get(item, "buffer"));
		const char *window = json_string_value(json_object_get(item, "window"));
		cp_value *node = NULL;

		if (json_is_integer(port)) {
			r = port_value(c, (uint64_t)json_integer_value(port), &node);
		} else if (buffer) {
			r = resolve_buffer(c, buffer, &node);
		} else if (window) {
			/* A WindowProxy is not transferable: a host object stands
			 * for it, as for anything structured clone refuses. */
			char desc[160];

			snprintf(desc, sizeof(desc), "Window %s", window);
			r = cp_value_new_host_object(desc, &node);
			if (r == 0 && cp_value_array_push(c->a->keeper, node) < 0) {
				cp_value_free(node);
				r = CP_ERR_NO_MEMORY;
			}
			if (r < 0)
				fail_message(c, r, "out of memory");
		} else {
			r = fail_message(c, CP_ERR_TYPE, "malformed command: a transfer item of no known kind");
		}
		if (r < 0)
			return r;
		c->transfer[c->transfer_count++] = node;
	}
	return 0;
}

/* After a transfer: the ports that left are no longer listened to, so that
 * one that comes back is not started until the runner says so. */
static void command_transferred(struct command *c)
{
	for (size_t i = 0; i < c->transfer_count; i++) {
		cp_port *port = cp_value_port(c->transfer[i]);

		if (port) {
			size_t k = port_index(c->a, port);

			cp_port_set_callback(port, NULL, NULL);
			if (k < c->a->port_count)
				c->a->port_listen[k] = LISTEN_NONE;
		}
	}
}

/* The window a post or close() names: {"target":ID}, {"targetName":N}
 * (looked up), or {"relation":"opener"|"parent"|"top"|"frame", "index":N
 * | "name":N} asked of the broker through this window's WindowProxy, as
 * the page's script would read window.opener etc.  A null (or undefined)
 * relation is the TypeError that calling postMessage on it throws. */
static int resolve_target(struct agent *a, json_t *cmd, uint64_t *ret, char *message, size_t size)
{
	const char *relation = json_string_value(json_object_get(cmd, "relation"));
	const char *target_name = json_string_value(json_object_get(cmd, "targetName"));
	json_t *target_id = json_object_get(cmd, "target");
	cp_window_ref *self = cp_window_proxy(a->window), *ref = NULL;
	const char *frame_name = json_string_value(json_object_get(cmd, "name"));
	int r;

	message[0] = '\0';
	if (json_is_integer(target_id)) {
		*ret = (uint64_t)json_integer_value(target_id);
		return 0;
	}
	if (target_name)
		return cp_client_lookup(a->client, target_name, ret);
	if (!relation) {
		snprintf(message, size, "malformed command: no target");
		return CP_ERR_TYPE;
	}
	if (strcmp(relation, "opener") == 0)
		r = cp_window_opener(self, &ref);
	else if (strcmp(relation, "parent") == 0)
		r = cp_window_parent(self, &ref);
	else if (strcmp(relation, "top") == 0)
		r = cp_window_top(self, &ref);
	else if (strcmp(relation, "frame") == 0 && frame_name)
		r = cp_window_frame_named(self, frame_name, &ref);
	else if (strcmp(relation, "frame") == 0)
		r = cp_window_frame(self, (size_t)json_integer_value(json_object_get(cmd, "index")), &ref);
	else {
		snprintf(message, size, "malformed command: relation '%s'", relation);
		return CP_ERR_TYPE;
	}
	if (r < 0)
		return r;
	if (!ref) {
		if (strcmp(relation, "frame") != 0)
			snprintf(message, size, "window.%s is null (cannot read properties of null)", relation);
		else if (frame_name)
			snprintf(message, size, "window.frames[\"%s\"] is undefined (cannot read properties of undefined)",
				 frame_name);
		else
			snprintf(message, size, "window.frames[%lld] is undefined (cannot read properties of undefined)",
				 (long long)json_integer_value(json_object_get(cmd, "index")));
		return CP_ERR_TYPE;
	}
	*ret = cp_window_ref_id(ref);
	cp_window_ref_free(ref);
	return 0;
}

static void do_post(struct agent *a, json_t *cmd)
{
	const char *target_origin = json_string_value(json_object_get(cmd, "targetOrigin"));
	const char *corrupt = json_string_value(json_object_get(cmd, "corrupt"));
	const char *message = NULL;
	struct command c = { .a = a };
	char why[256];
	uint64_t target = 0;
	cp_value *data = NULL;
	bool owned = false;
	int r;

	if (refuse_unusable(a))
		return;
	if (!target_origin) {
		send_error(a, CP_ERR_TYPE, "post: malformed command");
		return;
	}
	r = resolve_target(a, cmd, &target, why, sizeof(why));
	if (r < 0) {
		if (why[0])
			message = why;
		goto fail;
	}
	r = command_data(&c, cmd, &data, &owned);
	if (r < 0) {
		message = c.message;
		goto fail;
	}
	r = command_transfer(&c, cmd);
	if (r < 0) {
		message = c.message;
		goto fail;
	}
	if (corrupt)
		r = post_corrupt(a, target, data, corrupt, target_origin, &message);
	else
		r = cp_post_message_with_transfer(a->window, target, data, target_origin, c.transfer,
						  c.transfer_count);
	if (r < 0)
		goto fail;
	command_transferred(&c);
	/* Errors the broker finds (a target that never existed) come back
	 * asynchronously; scenarios want them at the post statement. */
	r = cp_client_sync(a->client, AGENT_SYNC_TIMEOUT_MS);
	if (r < 0)
		goto fail;
	if (owned)
		cp_value_free(data);
	command_deinit(&c);
	/* Which window it went to: the runner follows what it transferred. */
	agent_send(a, json_pack("{s:s, s:b, s:I}", "kind", "result", "ok", 1, "target", (json_int_t)target));
	return;
fail:
	if (owned)
		cp_value_free(data);
	command_deinit(&c);
	send_error(a, r, message ? message : cp_last_error_message());
}

/* send: port.postMessage(DATA, transfer). */
static void do_send(struct agent *a, json_t *cmd)
{
	json_t *id = json_object_get(cmd, "port");
	struct command c = { .a = a };
	cp_value *data = NULL;
	cp_port *port;
	bool owned = false;
	int r;

	if (refuse_no_client(a))
		return;
	if (!json_is_integer(id)) {
		send_error(a, CP_ERR_TYPE, "send: malformed command");
		return;
	}
	r = find_port(a, (uint64_t)json_integer_value(id), c.message, sizeof(c.message), &port);
	if (r == 0)
		r = command_data(&c, cmd, &data, &owned);
	if (r == 0)
		r = command_transfer(&c, cmd);
	if (r < 0) {
		send_error(a, r, c.message);
		goto out;
	}
	if (json_string_value(json_object_get(cmd, "corrupt"))) {
		/* send-corrupt: DATA's encoding, corrupted as KIND says. */
		const char *why = NULL;

		r = corrupt_bytes(data, json_string_value(json_object_get(cmd, "corrupt")), &c, &why);
		if (r < 0) {
			send_error(a, r, why ? why : cp_last_error_message());
			goto out;
		}
		r = port_post_encoded(port, c.corrupt, c.corrupt_len);
		c.corrupt = NULL;
		if (r == 0)
			r = cp_client_sync(a->client, AGENT_SYNC_TIMEOUT_MS);
		if (r < 0)
			send_error(a, r, cp_last_error_message());
		else
			send_ok(a);
		goto out;
	}
	r = cp_port_post_message(port, data, c.transfer, c.transfer_count);
	if (r == 0) {
		command_transferred(&c);
		r = cp_client_sync(a->client, AGENT_SYNC_TIMEOUT_MS);
	}
	if (r < 0)
		send_error(a, r, cp_last_error_message());
	else
		send_ok(a);
out:
	if (owned)
		cp_value_free(data);
	command_deinit(&c);
}

static void do_channel(struct agent *a)
{
	cp_port *p1 = NULL, *p2 = NULL;
	int r;

	if (refuse_unusable(a))
		return;
	r = cp_channel_new(a->window, &p1, &p2);
	if (r < 0) {
		send_error(a, r, cp_last_error_message());
		return;
	}
	note_port(a, p1);
	note_port(a, p2);
	agent_send(a, json_pack("{s:s, s:b, s:[I, I]}", "kind", "result", "ok", 1, "ports",
				(json_int_t)cp_port_id(p1), (json_int_t)cp_port_id(p2)));
}

/* buffer: a new ArrayBuffer of size bytes, each fill, named name. */
static void do_buffer(struct agent *a, json_t *cmd)
{
	const char *name = json_string_value(json_object_get(cmd, "name"));
	json_int_t size = json_integer_value(json_object_get(cmd, "size"));
	json_int_t fill = json_integer_value(json_object_get(cmd, "fill"));
	cp_value *node = NULL;
	uint8_t *bytes;
	size_t len = 0;
	int r;

	const char *base64 = json_string_value(json_object_get(cmd, "bytes"));

	if (!name || size < 0 || fill < 0 || fill > 255) {
		send_error(a, CP_ERR_TYPE, "buffer: malformed command");
		return;
	}
	if (base64) {
		/* bytes=BASE64: the tagged form's ArrayBuffer */
		json_t *tagged = json_pack("{s:s}", "$bytes", base64);
		char *text = tagged ? json_dumps(tagged, JSON_COMPACT) : NULL;

		json_decref(tagged);
		r = text ? cp_value_from_json(text, strlen(text), NULL, &node) : CP_ERR_NO_MEMORY;
		free(text);
	} else {
		r = cp_value_new_array_buffer(NULL, (size_t)size, &node);
	}
	if (r < 0) {
		send_error(a, r, cp_last_error_message());
		return;
	}
	bytes = cp_value_array_buffer_data_mut(node, &len);
	if (fill && bytes)
		memset(bytes, (int)fill, len);
	if (cp_value_array_push(a->keeper, node) < 0) {
		cp_value_free(node);
		send_error(a, CP_ERR_NO_MEMORY, "out of memory");
		return;
	}
	r = bind_buffer(a, name, node);
	if (r < 0) {
		send_error(a, r, "out of memory");
		return;
	}
	send_ok(a);
}

/* What the runner asks of one port. */
enum port_command { PORT_CLOSE, PORT_ONMESSAGE, PORT_START, PORT_LISTEN };

/* port-close, onmessage, port-start, port-listen: commands about one port. */
static void do_port(struct agent *a, json_t *cmd, enum port_command what)
{
	size_t k;
	json_t *id = json_object_get(cmd, "port");
	char message[256];
	cp_port *port;
	int r;

	if (refuse_no_client(a))
		return;
	if (!json_is_integer(id)) {
		send_error(a, CP_ERR_TYPE, "malformed command: no port");
		return;
	}
	r = find_port(a, (uint64_t)json_integer_value(id), message, sizeof(message), &port);
	if (r < 0) {
		send_error(a, r, message);
		return;
	}
	k = port_index(a, port);
	switch (what) {
	case PORT_ONMESSAGE:
		/* port.onmessage = ...: also starts the port, so what waited in
		 * it is dispatched now (once released, when held). */
		if (k < a->port_count)
			a->port_listen[k] = LISTEN_ONMESSAGE;
		if (a->held)
			cp_port_start(port);
		else
			cp_port_set_callback(port, on_port_event, a);
		send_ok(a);
		return;
	case PORT_LISTEN:
		/* addEventListener("message", ...): the queue stays disabled. */
		if (k < a->port_count)
			a->port_listen[k] = LISTEN_LISTENER;
		if (!a->held)
			cp_port_set_listener(port, on_port_event, a);
		send_ok(a);
		return;
	case PORT_START:
		r = cp_port_start(port);
		if (r < 0)
			send_error(a, r, cp_last_error_message());
		else
			send_ok(a);
		return;
	case PORT_CLOSE:
		break;
	}
	r = cp_port_close(port);
	if (r < 0) {
		send_error(a, r, cp_last_error_message());
		return;
	}
	send_ok(a);
}

/* bind: names buffers of a received event's data, found by their place in
 * scenario_value_buffers() order: {"event":SEQ,"buffers":[[NAME,INDEX],...]}. */
static void do_bind(struct agent *a, json_t *cmd)
{
	uint64_t seq = (uint64_t)json_integer_value(json_object_get(cmd, "event"));
	json_t *names = json_object_get(cmd, "buffers");
	const cp_value **buffers = NULL;
	size_t count = 0, k;
	int r;

	for (k = 0; k < a->retained_count && a->retained[k].seq != seq; k++)
		;
	if (k == a->retained_count) {
		send_error(a, CP_ERR_INVALID_STATE, "bind: that event's data is no longer kept");
		return;
	}
	if (scenario_value_buffers(a->retained[k].data, &buffers, &count) < 0 ||
	    cp_value_array_push(a->keeper, a->retained[k].data) < 0) {
		free(buffers);
		send_error(a, CP_ERR_NO_MEMORY, "out of memory");
		return;
	}
	/* From now on the keeper holds the data. */
	memmove(&a->retained[k], &a->retained[k + 1], (a->retained_count - k - 1) * sizeof(a->retained[0]));
	a->retained_count--;
	r = 0;
	for (size_t i = 0; r == 0 && i < json_array_size(names); i++) {
		json_t *pair = json_array_get(names, i);
		const char *name = json_string_value(json_array_get(pair, 0));
		json_int_t index = json_integer_value(json_array_get(pair, 1));

		if (!name || index < 0 || (size_t)index >= count)
			r = CP_ERR_TYPE;
		else
			r = bind_buffer(a, name, (cp_value *)buffers[index]);
	}
	free(buffers);
	if (r < 0) {
		send_error(a, r, "bind: no such buffer in that event's data");
		return;
	}
	send_ok(a);
}

/* detached: {"name":B} -> its byteLength and whether it is detached. */
static void do_detached(struct agent *a, json_t *cmd)
{
	const char *name = json_string_value(json_object_get(cmd, "name"));
	struct named_buffer *b = name ? find_buffer(a, name) : NULL;
	size_t len = 0;

	if (!b) {
		send_error(a, CP_ERR_INVALID_STATE, "no such buffer in this window");
		return;
	}
	cp_value_array_buffer_data(b->node, &len);
	agent_send(a, json_pack("{s:s, s:b, s:I, s:b}", "kind", "result", "ok", 1, "byteLength", (json_int_t)len,
				"detached", cp_value_array_buffer_is_detached(b->node)));
}

static void do_navigate(struct agent *a, json_t *cmd)
{
	const char *url = json_string_value(json_object_get(cmd, "url"));
	int r;

	if (refuse_unusable(a))
		return;
	if (!url) {
		send_error(a, CP_ERR_TYPE, "navigate: no url");
		return;
	}
	r = cp_window_navigate(a->window, url);
	if (r < 0) {
		send_error(a, r, cp_last_error_message());
		return;
	}
	free(a->url);
	a->url = strdup(url);
	if (!a->url)
		a->link_broken = true;
	send_ok(a);
}

static void dispatch_broker(struct agent *a);

/* `restart broker`: the runner started a new broker on the same socket.
 * Takes what the old connection still holds (events it delivered before
 * it died), connects again and registers the window again with the same
 * URL, name and flags; answers with the new id.  A window that was never
 * opened, or was closed, only reconnects. */
static void do_reconnect(struct agent *a)
{
	cp_client *client = NULL, **v;
	cp_window *window = NULL;
	int r;

	if (a->client == NULL) {
		send_ok(a);
		return;
	}
	/* Notices the end of the old connection (and reports it as "lost"). */
	for (int i = 0; !a->lost && i < 200; i++) {
		struct pollfd pfd = { .fd = cp_client_fd(a->client), .events = POLLIN };

		poll(&pfd, 1, 10);
		dispatch_broker(a);
	}
	r = cp_client_new(a->socket_path, &client);
	if (r < 0) {
		send_error(a, r, cp_last_error_message());
		return;
	}
	v = realloc(a->old_clients, (a->old_client_count + 1) * sizeof(*v));
	if (!v) {
		cp_client_free(client);
		send_error(a, CP_ERR_NO_MEMORY, "out of memory");
		return;
	}
	a->old_clients = v;
	a->old_clients[a->old_client_count++] = a->client;
	a->client = client;
	a->lost = false;
	a->generation++;
	if (!a->window || a->closed) {
		a->window = NULL;
		send_ok(a);
		return;
	}
	/* The old handle stays with the old client. */
	a->window = NULL;
	r = cp_window_open_with_flags(a->client, a->url, a->name, a->flags, &window);
	if (r < 0) {
		send_error(a, r, cp_last_error_message());
		return;
	}
	a->window = window;
	cp_window_set_callback(a->window, on_event, a);
	agent_send(a, json_pack("{s:s, s:b, s:I, s:s}", "kind", "result", "ok", 1,
				"id", (json_int_t)cp_window_id(a->window),
				"origin", cp_window_origin(a->window)));
}

static void do_close(struct agent *a)
{
	int r;

	/* Closing a closed window does nothing, as window.close() does. */
	if (a->closed) {
		send_ok(a);
		return;
	}
	if (refuse_unusable(a))
		return;
	r = cp_window_close(a->window);
	a->window = NULL;
	a->closed = true;
	if (r < 0) {
		send_error(a, r, cp_last_error_message());
		return;
	}
	send_ok(a);
}

/* claim: become the process of the window a token names. */
static void do_claim(struct agent *a, json_t *cmd)
{
	const char *token = json_string_value(json_object_get(cmd, "token"));
	int r;

	if (a->client == NULL) {
		send_error(a, a->connect_error, a->connect_message);
		return;
	}
	if (a->window || a->closed || !token) {
		send_error(a, CP_ERR_INVALID_STATE, "claim: the window was already opened, or no token");
		return;
	}
	a->flags = json_is_true(json_object_get(cmd, "privileged")) ? CP_WINDOW_PRIVILEGED : 0;
	r = cp_window_claim_with_flags(a->client, token, a->flags, &a->window);
	if (r < 0) {
		send_error(a, r, cp_last_error_message());
		return;
	}
	cp_window_set_callback(a->window, on_event, a);
	/* After a `restart broker` it registers as a top-level window. */
	a->url = strdup(cp_window_url(a->window));
	a->name = cp_window_name(a->window) ? strdup(cp_window_name(a->window)) : NULL;
	if (!a->url || (cp_window_name(a->window) && !a->name))
		a->link_broken = true;
	agent_send(a, json_pack("{s:s, s:b, s:I, s:s}", "kind", "result", "ok", 1,
				"id", (json_int_t)cp_window_id(a->window), "origin", cp_window_origin(a->window)));
}

/* window-open: window.open(url, target, noopener) by this window;
 * iframe: a new iframe in this window's document.  Answers the window's id
 * (0: window.open() returned null) and the claim token (null: an existing
 * window was chosen). */
static void do_window_open(struct agent *a, json_t *cmd, bool iframe)
{
	const char *url = json_string_value(json_object_get(cmd, "url"));
	const char *target = json_string_value(json_object_get(cmd, "target"));
	bool noopener = json_is_true(json_object_get(cmd, "noopener"));
	cp_window_ref *ref = NULL;
	char *token = NULL;
	int r;

	if (refuse_unusable(a))
		return;
	if (iframe)
		r = cp_iframe_new(a->window, url, target, &ref, &token);
	else
		r = cp_window_open_window(a->window, url, target, noopener ? CP_OPEN_NOOPENER : 0, &ref, &token);
	if (r < 0) {
		send_error(a, r, cp_last_error_message());
		return;
	}
	agent_send(a, json_pack("{s:s, s:b, s:I, s:s?}", "kind", "result", "ok", 1, "id",
				(json_int_t)cp_window_ref_id(ref), "token", token));
	free(token);
	cp_window_ref_free(ref);
}

/* remove: this window removes its iframe whose window is "frame". */
static void do_remove(struct agent *a, json_t *cmd)
{
	cp_window_ref *ref = NULL;
	int r;

	if (refuse_unusable(a))
		return;
	r = cp_window_ref_new(a->client, (uint64_t)json_integer_value(json_object_get(cmd, "frame")), &ref);
	if (r == 0)
		r = cp_iframe_remove(a->window, ref);
	cp_window_ref_free(ref);
	if (r < 0)
		send_error(a, r, cp_last_error_message());
	else
		send_ok(a);
}

/* closed: window.closed of the window with that id, through a reference. */
static void do_closed(struct agent *a, json_t *cmd)
{
	cp_window_ref *ref = NULL;
	bool closed = false;
	int r;

	if (refuse_no_client(a))
		return;
	r = cp_window_ref_new(a->client, (uint64_t)json_integer_value(json_object_get(cmd, "id")), &ref);
	if (r == 0)
		r = cp_window_closed(ref, &closed);
	cp_window_ref_free(ref);
	if (r < 0) {
		send_error(a, r, cp_last_error_message());
		return;
	}
	agent_send(a, json_pack("{s:s, s:b, s:b}", "kind", "result", "ok", 1, "closed", closed));
}

/* close-window: TARGET.close() called by this window's script. */
static void do_close_window(struct agent *a, json_t *cmd)
{
	cp_window_ref *ref = NULL;
	uint64_t target = 0;
	char why[256];
	int r;

	if (refuse_unusable(a))
		return;
	r = resolve_target(a, cmd, &target, why, sizeof(why));
	if (r == 0)
		r = cp_window_ref_new(a->client, target, &ref);
	if (r == 0)
		r = cp_window_ref_close(a->window, ref);
	cp_window_ref_free(ref);
	if (r < 0) {
		send_error(a, r, why[0] ? why : cp_last_error_message());
		return;
	}
	agent_send(a, json_pack("{s:s, s:b, s:b, s:I}", "kind", "result", "ok", 1, "closed", r == 1, "target",
				(json_int_t)target));
}

/* hold: the window's (and its ports') events wait undispatched in the
 * library, as tasks of a busy event loop do; release: dispatched now, as
 * far as they are still for the current document. */
static void do_hold(struct agent *a, bool hold)
{
	a->held = hold;
	if (a->window)
		cp_window_set_callback(a->window, hold ? NULL : on_event, hold ? NULL : a);
	for (size_t i = 0; i < a->broadcast_count; i++)
		cp_broadcast_set_callback(a->broadcasts[i], hold ? NULL : on_broadcast_event, hold ? NULL : a);
	for (size_t i = 0; i < a->port_count; i++) {
		if (a->port_listen[i] == LISTEN_NONE || cp_port_get_state(a->ports[i]) != CP_PORT_OPEN)
			continue;
		if (hold)
			cp_port_set_listener(a->ports[i], NULL, NULL);
		else if (a->port_listen[i] == LISTEN_ONMESSAGE)
			cp_port_set_callback(a->ports[i], on_port_event, a);
		else
			cp_port_set_listener(a->ports[i], on_port_event, a);
	}
	send_ok(a);
}

/* The channel the runner names: its 1-based index here. */
static cp_broadcast *known_broadcast(struct agent *a, json_t *cmd)
{
	json_int_t i = json_integer_value(json_object_get(cmd, "channel"));

	return i >= 1 && (size_t)i <= a->broadcast_count ? a->broadcasts[i - 1] : NULL;
}

/* broadcast-open, broadcast-post, broadcast-close. */
static void do_broadcast(struct agent *a, json_t *cmd, const char *what)
{
	struct command c = { .a = a };
	cp_broadcast *bc = NULL, **v;
	cp_value *data = NULL;
	bool owned = false;
	int r;

	if (strcmp(what, "broadcast-open") == 0) {
		const char *name = json_string_value(json_object_get(cmd, "name"));

		if (refuse_unusable(a))
			return;
		r = name ? cp_broadcast_new(a->window, name, &bc) : CP_ERR_TYPE;
		if (r < 0) {
			send_error(a, r, name ? cp_last_error_message() : "broadcast-open: no name");
			return;
		}
		v = realloc(a->broadcasts, (a->broadcast_count + 1) * sizeof(*v));
		if (!v) {
			a->link_broken = true;
			return;
		}
		a->broadcasts = v;
		a->broadcasts[a->broadcast_count++] = bc;
		/* Events are reported at once, or held with the window's. */
		if (!a->held)
			cp_broadcast_set_callback(bc, on_broadcast_event, a);
		agent_send(a, json_pack("{s:s, s:b, s:I}", "kind", "result", "ok", 1, "channel",
					(json_int_t)a->broadcast_count));
		return;
	}
	if (refuse_no_client(a))
		return;
	bc = known_broadcast(a, cmd);
	if (!bc) {
		send_error(a, CP_ERR_TYPE, "no such BroadcastChannel in this window");
		return;
	}
	if (strcmp(what, "broadcast-close") == 0) {
		r = cp_broadcast_close(bc);
	} else {
		r = command_data(&c, cmd, &data, &owned);
		if (r < 0) {
			send_error(a, r, c.message);
			command_deinit(&c);
			return;
		}
		r = cp_broadcast_post(bc, data);
		if (r == 0)
			r = cp_client_sync(a->client, AGENT_SYNC_TIMEOUT_MS);
		if (owned)
			cp_value_free(data);
		command_deinit(&c);
	}
	if (r < 0)
		send_error(a, r, cp_last_error_message());
	else
		send_ok(a);
}

static void handle_command(struct agent *a, json_t *cmd)
{
	const char *name = json_string_value(json_object_get(cmd, "cmd"));

	if (!name)
		send_error(a, CP_ERR_TYPE, "a command needs \"cmd\"");
	else if (strcmp(name, "open") == 0)
		do_open(a, cmd);
	else if (strcmp(name, "post") == 0)
		do_post(a, cmd);
	else if (strcmp(name, "navigate") == 0)
		do_navigate(a, cmd);
	else if (strcmp(name, "close") == 0)
		do_close(a);
	else if (strcmp(name, "channel") == 0)
		do_channel(a);
	else if (strcmp(name, "buffer") == 0)
		do_buffer(a, cmd);
	else if (strcmp(name, "send") == 0)
		do_send(a, cmd);
	else if (strcmp(name, "port-close") == 0)
		do_port(a, cmd, PORT_CLOSE);
	else if (strcmp(name, "onmessage") == 0)
		do_port(a, cmd, PORT_ONMESSAGE);
	else if (strcmp(name, "port-start") == 0)
		do_port(a, cmd, PORT_START);
	else if (strcmp(name, "port-listen") == 0)
		do_port(a, cmd, PORT_LISTEN);
	else if (strcmp(name, "claim") == 0)
		do_claim(a, cmd);
	else if (strcmp(name, "window-open") == 0)
		do_window_open(a, cmd, false);
	else if (strcmp(name, "iframe") == 0)
		do_window_open(a, cmd, true);
	else if (strcmp(name, "remove") == 0)
		do_remove(a, cmd);
	else if (strcmp(name, "closed") == 0)
		do_closed(a, cmd);
	else if (strcmp(name, "close-window") == 0)
		do_close_window(a, cmd);
	else if (strncmp(name, "broadcast-", 10) == 0)
		do_broadcast(a, cmd, name);
	else if (strcmp(name, "hold") == 0)
		do_hold(a, true);
	else if (strcmp(name, "release") == 0)
		do_hold(a, false);
	else if (strcmp(name, "bind") == 0)
		do_bind(a, cmd);
	else if (strcmp(name, "detached") == 0)
		do_detached(a, cmd);
	else if (strcmp(name, "reconnect") == 0)
		do_reconnect(a);
	else
		send_error(a, CP_ERR_TYPE, "unknown command");
}

/* Delivers pending events; on a lost connection tells the runner once. */
static void dispatch_broker(struct agent *a)
{
	int r;

	if (!a->client || a->lost)
		return;
	r = cp_client_dispatch(a->client);
	if (r >= 0)
		return;
	a->lost = true;
	agent_send(a, json_pack("{s:s, s:s, s:s}", "kind", "lost", "error", cp_error_name(r),
				"message", cp_last_error_message()));
}

/* Reads the runner's commands; false when the runner closed the link. */
static bool read_commands(struct agent *a)
{
	json_t *cmd;
	int r = scenario_link_fill(&a->link);

	if (r == 0 || (r < 0 && r != -EAGAIN))
		return false;
	while ((r = scenario_link_next(&a->link, &cmd)) == 1) {
		handle_command(a, cmd);
		json_decref(cmd);
	}
	return r == 0;
}

static void agent_loop(struct agent *a)
{
	while (!a->link_broken) {
		struct pollfd fds[2] = { { .fd = a->link.fd, .events = POLLIN }, { .fd = -1 } };
		bool broker = a->client && !a->lost;

		if (broker) {
			/* Events buffered during a blocking call (a post's sync) are
			 * not signalled by the fd: deliver them first. */
			if (cp_client_has_pending(a->client))
				dispatch_broker(a);
			fds[1].fd = cp_client_fd(a->client);
			fds[1].events = POLLIN;
			if (!a->lost && cp_client_has_pending(a->client))
				fds[1].events |= POLLOUT;
			if (a->lost)
				fds[1].fd = -1;
		}
		if (poll(fds, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			return;
		}
		if (fds[1].revents)
			dispatch_broker(a);
		if (fds[0].revents && !read_commands(a))
			return;
	}
}

static void usage(FILE *out)
{
	fprintf(out, "Usage: crosspost agent --socket PATH --fd N [--alias ALIAS]\n"
		     "Internal: one window process of `crosspost run`, driven over the socket\n"
		     "inherited as file descriptor N.  Not meant to be run by hand.\n");
}

int cmd_agent(int argc, char **argv)
{
	struct agent a = { .alias = "?", .link = { .fd = -1 } };
	const char *socket_path = NULL;
	long fd = -1;

	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--help") == 0) {
			usage(stdout);
			return 0;
		} else if (strcmp(argv[i], "--socket") == 0 && i + 1 < argc) {
			socket_path = argv[++i];
		} else if (strcmp(argv[i], "--fd") == 0 && i + 1 < argc) {
			char *end = NULL;

			fd = strtol(argv[++i], &end, 10);
			if (*end || fd < 0 || fd > 65535)
				fd = -1;
		} else if (strcmp(argv[i], "--alias") == 0 && i + 1 < argc) {
			a.alias = argv[++i];
		} else {
			usage(stderr);
			return 2;
		}
	}
	if (!socket_path || fd < 0) {
		usage(stderr);
		return 2;
	}
	scenario_link_init(&a.link, (int)fd);
	if (cp_value_new_array(&a.keeper) < 0) {
		scenario_link_deinit(&a.link);
		return 1;
	}
	a.socket_path = socket_path;
	/* A failed connection is reported as the answer to "open", so the
	 * runner handles it like any other failure of a window statement. */
	a.connect_error = cp_client_new(socket_path, &a.client);
	if (a.connect_error < 0)
		snprintf(a.connect_message, sizeof(a.connect_message), "%s", cp_last_error_message());
	agent_loop(&a);
	/* Values first: MessagePort values borrow the client's handles. */
	for (size_t i = 0; i < a.retained_count; i++)
		cp_value_free(a.retained[i].data);
	cp_value_free(a.keeper);
	for (size_t i = 0; i < a.buffer_count; i++)
		free(a.buffers[i].name);
	free(a.buffers);
	free(a.ports);
	free(a.port_gens);
	free(a.port_listen);
	free(a.broadcasts);
	/* Freeing the client closes the window at the broker. */
	cp_client_free(a.client);
	for (size_t i = 0; i < a.old_client_count; i++)
		cp_client_free(a.old_clients[i]);
	free(a.old_clients);
	free(a.url);
	free(a.name);
	scenario_link_deinit(&a.link);
	return 0;
}
