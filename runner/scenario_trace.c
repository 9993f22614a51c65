/* SPDX-License-Identifier: MIT */
/* scenario_trace.c - `crosspost run --diagram FILE`: what a run did, drawn as a sequence diagram. */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crosspost.h"
#include "scenario_trace.h"

/* One thing that happened, in the order the runner learnt it. */
enum record_type {
	REC_EVENT,          /* the broker routed or dropped a message, or a window closed */
	REC_WINDOW,         /* a window of the script opened (actor) */
	REC_CHANNEL,        /* a MessageChannel was made (actor: its first port) */
	REC_PORT_MOVED,     /* actor (a port) went to other (a window alias, or NULL) */
	REC_PORT_CLOSED,
	REC_NOTE,           /* on actor, or across (actor NULL) */
};

struct record {
	enum record_type type;
	unsigned line;              /* the statement's, 0: none */
	unsigned gen;               /* the broker generation its ids belong to */
	/* REC_EVENT */
	cp_monitor_kind kind;
	uint64_t from_id, to_id, port_id, size, lost;
	char *from_origin, *target_origin, *reason, *url, *data;
	/* the others */
	char *actor, *other, *text, *tooltip;
	enum diagram_note_kind note;
};

/* A window or port of the script: one lifeline. */
struct actor {
	bool port;
	char *alias;
	char *origin, *url, *name, *opener, *parent;   /* windows */
	char *creator, *how;
	char *peer;                                     /* ports */
	char *also;                                     /* other aliases of a window, ", "-separated */
	struct id { unsigned gen; uint64_t id; } *ids;
	size_t id_count;
	int lifeline;                                   /* while writing */
};

struct scenario_trace {
	char *file;
	cp_client *monitor;
	unsigned line;
	unsigned gen;
	bool lost_broker;                   /* said once */
	struct record *records;
	size_t record_count;
	struct actor *actors;
	size_t actor_count;
	bool failed;                        /* out of memory: the diagram is incomplete */
};

int scenario_trace_new(const char *file, struct scenario_trace **ret)
{
	struct scenario_trace *t = calloc(1, sizeof(*t));

	if (!t || !(t->file = strdup(file))) {
		free(t);
		return -ENOMEM;
	}
	*ret = t;
	return 0;
}

static void record_deinit(struct record *r)
{
	free(r->from_origin);
	free(r->target_origin);
	free(r->reason);
	free(r->url);
	free(r->data);
	free(r->actor);
	free(r->other);
	free(r->text);
	free(r->tooltip);
}

static void actor_deinit(struct actor *a)
{
	free(a->alias);
	free(a->origin);
	free(a->url);
	free(a->name);
	free(a->opener);
	free(a->parent);
	free(a->creator);
	free(a->how);
	free(a->peer);
	free(a->also);
	free(a->ids);
}

struct scenario_trace *scenario_trace_free(struct scenario_trace *t)
{
	if (!t)
		return NULL;
	cp_client_free(t->monitor);
	for (size_t i = 0; i < t->record_count; i++)
		record_deinit(&t->records[i]);
	for (size_t i = 0; i < t->actor_count; i++)
		actor_deinit(&t->actors[i]);
	free(t->records);
	free(t->actors);
	free(t->file);
	free(t);
	return NULL;
}

/* strdup that remembers failing in t->failed; NULL stays NULL. */
static char *copy(struct scenario_trace *t, const char *s)
{
	char *c;

	if (!s)
		return NULL;
	c = strdup(s);
	if (!c)
		t->failed = true;
	return c;
}

/* A new record at the current line and generation; NULL when out of memory. */
static struct record *add_record(struct scenario_trace *t, enum record_type type)
{
	struct record *v = realloc(t->records, (t->record_count + 1) * sizeof(*v));

	if (!v) {
		t->failed = true;
		return NULL;
	}
	t->records = v;
	v[t->record_count] = (struct record){ .type = type, .line = t->line, .gen = t->gen };
	return &v[t->record_count++];
}

static struct actor *find_actor(const struct scenario_trace *t, const char *alias)
{
	for (size_t i = 0; alias && i < t->actor_count; i++)
		if (strcmp(t->actors[i].alias, alias) == 0)
			return &t->actors[i];
	return NULL;
}

static struct actor *add_actor(struct scenario_trace *t, const char *alias, bool port)
{
	struct actor *v = realloc(t->actors, (t->actor_count + 1) * sizeof(*v));

	if (!v)
		return NULL;
	t->actors = v;
	v[t->actor_count] = (struct actor){ .port = port, .alias = strdup(alias), .lifeline = -1 };
	if (!v[t->actor_count].alias)
		return NULL;
	return &v[t->actor_count++];
}

static int add_id(struct scenario_trace *t, struct actor *a, uint64_t id)
{
	struct id *v = realloc(a->ids, (a->id_count + 1) * sizeof(*v));

	if (!v)
		return -ENOMEM;
	a->ids = v;
	v[a->id_count++] = (struct id){ .gen = t->gen, .id = id };
	return 0;
}

/* The window or port that was id at broker generation gen, or NULL. */
static const struct actor *actor_by_id(const struct scenario_trace *t, bool port, unsigned gen, uint64_t id)
{
	if (id == 0)
		return NULL;
	for (size_t i = 0; i < t->actor_count; i++) {
		const struct actor *a = &t->actors[i];

		for (size_t k = 0; a->port == port && k < a->id_count; k++)
			if (a->ids[k].gen == gen && a->ids[k].id == id)
				return a;
	}
	return NULL;
}

/* ---- watching the broker ---- */

static void on_monitor_event(cp_client *client, const cp_monitor_event *ev, void *userdata)
{
	struct scenario_trace *t = userdata;
	struct record *r;

	(void)client;
	/* The runner knows which windows open, and from whom: the broker's
	 * word on it adds nothing to the picture. */
	if (ev->kind == CP_MONITOR_WINDOW_OPENED && !ev->lost)
		return;
	r = add_record(t, REC_EVENT);
	if (!r)
		return;
	r->kind = ev->kind;
	r->from_id = ev->from_id;
	r->to_id = ev->to_id;
	r->port_id = ev->port_id;
	r->size = ev->size;
	r->lost = ev->lost;
	r->from_origin = copy(t, ev->from_origin);
	r->target_origin = copy(t, ev->target_origin);
	r->reason = copy(t, ev->reason);
	r->url = copy(t, ev->url);
	if (ev->data) {
		char *json = cp_value_to_json(ev->data);

		/* Kept whole up to the cap: the label is cut when drawn, the
		 * tooltip shows more. */
		if (json && strlen(json) > SCENARIO_TRACE_DATA_MAX)
			json[SCENARIO_TRACE_DATA_MAX] = '\0';
		r->data = json;
	}
}

int scenario_trace_attach(struct scenario_trace *t, const char *socket_path, char *errbuf, size_t errlen)
{
	cp_client *c = NULL;
	int r = cp_client_new(socket_path, &c);

	if (r == 0)
		r = cp_client_monitor(c, NULL, 0, true, on_monitor_event, t);
	if (r < 0) {
		snprintf(errbuf, errlen, "%s: %s", cp_error_name(r), cp_last_error_message());
		cp_client_free(c);
		return r;
	}
	t->monitor = c;
	return 0;
}

void scenario_trace_sync(struct scenario_trace *t)
{
	int r;

	if (!t || !t->monitor)
		return;
	/* The broker answers after the events it queued for us before. */
	r = cp_client_sync(t->monitor, SCENARIO_TRACE_SYNC_MS);
	if (r >= 0)
		r = cp_client_dispatch(t->monitor);
	if (r >= 0)
		return;
	/* The broker went away (or hangs): the events before were recorded;
	 * the diagram says where it stops knowing. */
	cp_client_free(t->monitor);
	t->monitor = NULL;
	if (!t->lost_broker) {
		char text[160];

		t->lost_broker = true;
		snprintf(text, sizeof(text), "the diagram lost the broker here (%s): later messages are not shown",
			 cp_error_name(r));
		scenario_trace_note(t, NULL, DIAGRAM_NOTE_FAILED, text, NULL);
	}
}

void scenario_trace_detach(struct scenario_trace *t)
{
	if (!t)
		return;
	scenario_trace_sync(t);
	t->monitor = cp_client_free(t->monitor);
}

void scenario_trace_restarted(struct scenario_trace *t)
{
	if (!t)
		return;
	t->gen++;
	scenario_trace_note(t, NULL, DIAGRAM_NOTE_INFO, "restart broker: every window registers again, every port is gone",
			    NULL);
}

void scenario_trace_line(struct scenario_trace *t, unsigned line)
{
	if (t)
		t->line = line;
}

/* ---- what the runner knows ---- */

int scenario_trace_window(struct scenario_trace *t, const char *alias, uint64_t id, const char *origin,
			  const char *url, const char *name, const char *opener, const char *parent,
			  const char *creator, const char *how)
{
	struct actor *a;
	struct record *r;

	if (!t)
		return 0;
	a = add_actor(t, alias, false);
	if (!a || add_id(t, a, id) < 0) {
		t->failed = true;
		return -ENOMEM;
	}
	a->origin = copy(t, origin);
	a->url = copy(t, url);
	a->name = copy(t, name);
	a->opener = copy(t, opener);
	a->parent = copy(t, parent);
	a->creator = copy(t, creator);
	a->how = copy(t, how);
	r = add_record(t, REC_WINDOW);
	if (!r)
		return -ENOMEM;
	r->actor = copy(t, alias);
	return t->failed ? -ENOMEM : 0;
}

int scenario_trace_same_window(struct scenario_trace *t, const char *alias, const char *existing)
{
	struct actor *a;
	char *also, text[256];

	if (!t)
		return 0;
	a = find_actor(t, existing);
	if (!a)
		return 0;
	if (asprintf(&also, "%s%s%s", a->also ? a->also : "", a->also ? ", " : "", alias) < 0) {
		t->failed = true;
		return -ENOMEM;
	}
	free(a->also);
	a->also = also;
	snprintf(text, sizeof(text), "window.open() chose it by name: also '%s'", alias);
	scenario_trace_note(t, existing, DIAGRAM_NOTE_INFO, text, NULL);
	return 0;
}

int scenario_trace_window_id(struct scenario_trace *t, const char *alias, uint64_t id)
{
	struct actor *a;

	if (!t)
		return 0;
	a = find_actor(t, alias);
	if (a && add_id(t, a, id) < 0) {
		t->failed = true;
		return -ENOMEM;
	}
	return 0;
}

int scenario_trace_channel(struct scenario_trace *t, const char *creator, const char *alias1, uint64_t id1,
			   const char *alias2, uint64_t id2)
{
	const char *aliases[2] = { alias1, alias2 };
	const uint64_t ids[2] = { id1, id2 };
	struct record *r;

	if (!t)
		return 0;
	for (size_t i = 0; i < 2; i++) {
		struct actor *a = add_actor(t, aliases[i], true);

		if (!a || add_id(t, a, ids[i]) < 0) {
			t->failed = true;
			return -ENOMEM;
		}
		a->creator = copy(t, creator);
		a->peer = copy(t, aliases[1 - i]);
	}
	r = add_record(t, REC_CHANNEL);
	if (!r)
		return -ENOMEM;
	r->actor = copy(t, alias1);
	r->other = copy(t, alias2);
	return t->failed ? -ENOMEM : 0;
}

void scenario_trace_port_moved(struct scenario_trace *t, const char *alias, const char *to)
{
	struct record *r;

	if (!t)
		return;
	/* The message that carried it is drawn before the move. */
	scenario_trace_sync(t);
	r = add_record(t, REC_PORT_MOVED);
	if (r) {
		r->actor = copy(t, alias);
		r->other = copy(t, to);
	}
}

void scenario_trace_port_closed(struct scenario_trace *t, const char *alias)
{
	struct record *r;

	if (!t)
		return;
	scenario_trace_sync(t);
	r = add_record(t, REC_PORT_CLOSED);
	if (r)
		r->actor = copy(t, alias);
}

void scenario_trace_note(struct scenario_trace *t, const char *alias, enum diagram_note_kind kind,
			 const char *text, const char *tooltip)
{
	struct record *r;

	if (!t)
		return;
	/* What the broker did first is drawn first. */
	scenario_trace_sync(t);
	r = add_record(t, REC_NOTE);
	if (!r)
		return;
	r->note = kind;
	r->actor = copy(t, alias);
	r->text = copy(t, text);
	r->tooltip = copy(t, tooltip);
}

/* ---- drawing ---- */

/* What scenario_trace_write() builds the diagram with. */
struct drawing {
	const struct scenario_trace *t;
	struct diagram *d;
	char tag[16];
	unsigned delivered, dropped, passed, failed;
	int error;
};

static const char *tag_of(struct drawing *g, const struct record *r)
{
	if (!r->line)
		return NULL;
	snprintf(g->tag, sizeof(g->tag), "%u", r->line);
	return g->tag;
}

static int lifeline_of(const struct drawing *g, const char *alias)
{
	const struct actor *a = find_actor(g->t, alias);

	return a ? a->lifeline : -1;
}

static int lifeline_by_id(const struct drawing *g, bool port, unsigned gen, uint64_t id)
{
	const struct actor *a = actor_by_id(g->t, port, gen, id);

	return a ? a->lifeline : -1;
}

/* Keeps the first error. */
static void check(struct drawing *g, int r)
{
	if (r < 0 && g->error == 0)
		g->error = r;
}

/* "label" of a message: its data, or why it shows none. */
static char *message_label(const struct record *r)
{
	char *s = NULL;

	if (r->data)
		return strdup(r->data);
	/* The monitor shows no data for a message that carried ports or
	 * buffers (their handles are not in the payload it sees). */
	if (asprintf(&s, "(%" PRIu64 " bytes, with transfers)", r->size) < 0)
		return NULL;
	return s;
}

static char *window_text(const struct drawing *g, unsigned gen, uint64_t id)
{
	const struct actor *a = actor_by_id(g->t, false, gen, id);
	char *s = NULL;

	if (asprintf(&s, "%s%swindow %" PRIu64, a ? a->alias : "", a ? ", " : "", id) < 0)
		return NULL;
	return s;
}

static void draw_event(struct drawing *g, const struct record *r)
{
	const char *tag = tag_of(g, r);
	int from, to;
	char *label = NULL, *detail = NULL, *tooltip = NULL, *src = NULL, *dst = NULL;

	if (r->lost) {
		char text[128];

		snprintf(text, sizeof(text), "%" PRIu64 " broker events lost here: the runner did not read them in time",
			 r->lost);
		check(g, diagram_note(g->d, tag, DIAGRAM_NOTE_FAILED, -1, text, NULL));
	}
	switch (r->kind) {
	case CP_MONITOR_DELIVERED:
	case CP_MONITOR_DROPPED:
	case CP_MONITOR_BROADCAST:
		from = lifeline_by_id(g, false, r->gen, r->from_id);
		to = lifeline_by_id(g, false, r->gen, r->to_id);
		/* Traffic of windows not in this script (an external broker). */
		if (from < 0 || (to < 0 && r->kind != CP_MONITOR_DROPPED))
			return;
		label = message_label(r);
		src = window_text(g, r->gen, r->from_id);
		dst = window_text(g, r->gen, r->to_id);
		if (r->kind == CP_MONITOR_DROPPED) {
			g->dropped++;
			detail = strdup(r->reason);
			if (asprintf(&tooltip, "dropped: %s -> %s, targetOrigin %s: %s; data %s", src, dst,
				     r->target_origin, r->reason, label ? label : "") < 0)
				tooltip = NULL;
			check(g, diagram_arrow(g->d, tag, DIAGRAM_ARROW_DROPPED, from, to, label, detail, tooltip));
		} else {
			bool broadcast = r->kind == CP_MONITOR_BROADCAST;

			g->delivered++;
			if (asprintf(&detail, "%sorigin %s", broadcast ? "BroadcastChannel, " : "", r->from_origin) < 0)
				detail = NULL;
			if (asprintf(&tooltip, "%s: %s -> %s, origin %s, targetOrigin %s, %" PRIu64 " bytes; data %s",
				     broadcast ? "broadcast" : "delivered", src, dst, r->from_origin,
				     *r->target_origin ? r->target_origin : "(none)", r->size, label ? label : "") < 0)
				tooltip = NULL;
			check(g, diagram_arrow(g->d, tag, broadcast ? DIAGRAM_ARROW_BROADCAST : DIAGRAM_ARROW_MESSAGE,
					       from, to, label, detail, tooltip));
		}
		break;
	case CP_MONITOR_PORT_MESSAGE: {
		/* From the other end of the channel to this end. */
		const struct actor *port = actor_by_id(g->t, true, r->gen, r->port_id);
		const struct actor *in = actor_by_id(g->t, false, r->gen, r->to_id);

		if (!port || (from = lifeline_of(g, port->peer)) < 0)
			return;
		g->delivered++;
		label = message_label(r);
		if (asprintf(&detail, "to port %s, in %s", port->alias, in ? in->alias : "another window") < 0)
			detail = NULL;
		if (asprintf(&tooltip, "port message %s -> %s (%" PRIu64 " bytes); data %s", port->peer, port->alias,
			     r->size, label ? label : "") < 0)
			tooltip = NULL;
		check(g, diagram_arrow(g->d, tag, DIAGRAM_ARROW_PORT, from, port->lifeline, label, detail, tooltip));
		break;
	}
	case CP_MONITOR_WINDOW_CLOSED:
		from = lifeline_by_id(g, false, r->gen, r->from_id);
		if (from >= 0)
			check(g, diagram_end(g->d, tag, from, *r->reason ? r->reason : "closed"));
		break;
	case CP_MONITOR_NAVIGATED:
		from = lifeline_by_id(g, false, r->gen, r->from_id);
		if (from >= 0 && asprintf(&label, "navigated: %s", r->url) >= 0)
			check(g, diagram_note(g->d, tag, DIAGRAM_NOTE_INFO, from, label, label));
		break;
	default:
		break;
	}
	free(label);
	free(detail);
	free(tooltip);
	free(src);
	free(dst);
}

static void draw_record(struct drawing *g, const struct record *r)
{
	const char *tag = tag_of(g, r);
	const struct actor *a = find_actor(g->t, r->actor);
	char *text = NULL;
	int self = a ? a->lifeline : -1, creator;

	if (r->type == REC_EVENT) {
		draw_event(g, r);
		return;
	}
	if (!a && r->type != REC_NOTE)
		return;
	switch (r->type) {
	case REC_EVENT:
		break;
	case REC_WINDOW:
		creator = lifeline_of(g, a->creator);
		if (creator >= 0) {
			check(g, diagram_arrow(g->d, tag, DIAGRAM_ARROW_CREATE, creator, self, a->how, NULL, a->url));
			return;
		}
		check(g, diagram_begin(g->d, self));
		if (asprintf(&text, "opens %s", a->url) >= 0)
			check(g, diagram_note(g->d, tag, DIAGRAM_NOTE_INFO, self, text, text));
		break;
	case REC_CHANNEL:
		creator = lifeline_of(g, a->creator);
		if (creator < 0 || lifeline_of(g, r->other) < 0)
			return;
		check(g, diagram_arrow(g->d, tag, DIAGRAM_ARROW_CREATE, creator, self, "new MessageChannel()", NULL, NULL));
		check(g, diagram_arrow(g->d, tag, DIAGRAM_ARROW_CREATE, creator, lifeline_of(g, r->other),
				       "new MessageChannel()", NULL, NULL));
		return;
	case REC_PORT_MOVED:
		if (self >= 0 && asprintf(&text, "transferred to %s", r->other ? r->other : "nobody (dropped)") >= 0)
			check(g, diagram_note(g->d, tag, DIAGRAM_NOTE_INFO, self, text, NULL));
		break;
	case REC_PORT_CLOSED:
		if (self >= 0)
			check(g, diagram_end(g->d, tag, self, "closed"));
		break;
	case REC_NOTE:
		g->passed += r->note == DIAGRAM_NOTE_PASSED;
		g->failed += r->note == DIAGRAM_NOTE_FAILED;
		if (self < 0 && r->actor && asprintf(&text, "%s: %s", r->actor, r->text) >= 0)
			check(g, diagram_note(g->d, tag, r->note, -1, text, r->tooltip));
		else
			check(g, diagram_note(g->d, tag, r->note, self, r->text, r->tooltip));
		break;
	}
	free(text);
}

/* "frames: a, b" of window alias: the windows whose parent it is. */
static char *frames_of(const struct scenario_trace *t, const char *alias)
{
	char *list = NULL, *next;

	for (size_t i = 0; i < t->actor_count; i++) {
		const struct actor *a = &t->actors[i];

		if (a->port || !a->parent || strcmp(a->parent, alias) != 0)
			continue;
		if (asprintf(&next, "%s%s%s", list ? list : "frames: ", list ? ", " : "", a->alias) < 0)
			break;
		free(list);
		list = next;
	}
	return list;
}

static int add_lifelines(struct drawing *g, bool ports)
{
	struct scenario_trace *t = (struct scenario_trace *)g->t;

	for (size_t i = 0; i < t->actor_count; i++) {
		struct actor *a = &t->actors[i];
		char *lines[DIAGRAM_HEADER_LINES] = { 0 };
		int r;

		if (a->port != ports)
			continue;
		if (ports) {
			r = asprintf(&lines[1], "MessagePort %" PRIu64, a->ids[0].id);
			if (r >= 0)
				r = asprintf(&lines[2], "peer: %s", a->peer);
			if (r >= 0)
				r = asprintf(&lines[3], "made by %s", a->creator);
		} else {
			r = asprintf(&lines[1], "window %" PRIu64 "%s%s%s", a->ids[0].id, a->name ? ", name \"" : "",
				     a->name ? a->name : "", a->name ? "\"" : "");
			lines[2] = strdup(a->origin ? a->origin : "(origin unknown)");
			if (r >= 0 && a->opener)
				r = asprintf(&lines[3], "opener: %s", a->opener);
			if (r >= 0 && a->parent)
				r = asprintf(&lines[4], "frame of: %s", a->parent);
			lines[5] = frames_of(t, a->alias);
			if (r >= 0 && a->also) {
				/* A window named twice shows both names; its frames
				 * make room. */
				free(lines[5]);
				r = asprintf(&lines[5], "also: %s", a->also);
			}
		}
		lines[0] = strdup(a->alias);
		/* diagram_lifeline() skips the NULL lines of what a window lacks. */
		if (r >= 0 && lines[0])
			a->lifeline = diagram_lifeline(g->d, ports ? DIAGRAM_LIFELINE_PORT : DIAGRAM_LIFELINE_WINDOW,
						       (const char *const *)lines, DIAGRAM_HEADER_LINES);
		else
			a->lifeline = -ENOMEM;
		for (size_t k = 0; k < DIAGRAM_HEADER_LINES; k++)
			free(lines[k]);
		if (a->lifeline < 0)
			return a->lifeline;
	}
	return 0;
}

int scenario_trace_write(const struct scenario_trace *t, const char *path)
{
	struct drawing g = { .t = t };
	char *title = NULL, *summary = NULL;
	size_t windows = 0, ports = 0;
	FILE *f;
	int r;

	if (t->failed)
		return -ENOMEM;
	if (asprintf(&title, "crosspost run %s", t->file) < 0)
		return -ENOMEM;
	r = diagram_new(title, &g.d);
	free(title);
	if (r < 0)
		return r;
	r = add_lifelines(&g, false);
	if (r >= 0)
		r = add_lifelines(&g, true);
	for (size_t i = 0; r >= 0 && i < t->record_count; i++)
		draw_record(&g, &t->records[i]);
	if (r >= 0)
		r = g.error;
	for (size_t i = 0; i < t->actor_count; i++) {
		windows += !t->actors[i].port;
		ports += t->actors[i].port;
	}
	if (r >= 0 && asprintf(&summary, "%zu window%s, %zu port%s; %u message%s delivered, %u dropped; "
			       "test points: %u passed, %u failed", windows, windows == 1 ? "" : "s", ports,
			       ports == 1 ? "" : "s", g.delivered, g.delivered == 1 ? "" : "s", g.dropped, g.passed,
			       g.failed) < 0)
		r = -ENOMEM;
	/* The summary is known once everything is drawn. */
	if (r >= 0)
		r = diagram_set_subtitle(g.d, summary);
	free(summary);
	if (r < 0) {
		diagram_free(g.d);
		return r;
	}
	f = fopen(path, "w");
	if (!f) {
		r = -errno;
		diagram_free(g.d);
		return r;
	}
	r = diagram_write(g.d, f);
	if (fclose(f) != 0 && r >= 0)
		r = -errno;
	diagram_free(g.d);
	return r;
}
