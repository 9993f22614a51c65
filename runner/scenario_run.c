/* SPDX-License-Identifier: MIT */
/* scenario_run.c - executes one parsed scenario against a broker: window processes, statements, expectations. */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/wait.h>

#include <jansson.h>

#include "cleanup.h"
#include "scenario_agent.h"
#include "scenario_browser.h"
#include "scenario_proc.h"
#include "scenario_run.h"
#include "scenario_value.h"

/* The runner's view of one window (one per window statement). */
struct window {
	const struct scenario_statement *decl;  /* its window statement */
	size_t index;                           /* in run->windows */
	struct scenario_agent *agent;           /* its process */
	uint64_t id;                            /* broker-assigned, once open */
	bool open;                              /* its window statement succeeded */
	bool killed;                            /* by `kill` */
	bool closed;                            /* by `close`, a script's close(), `remove` */
	/* Another alias for an existing window: window.open() chose that
	 * window by name (`open ... name=`) instead of making one. */
	struct window *same_as;
	struct window *parent;                  /* a frame's parent (`frame ... in=`) */
	/* Its id at each earlier broker (`restart broker`): old_ids[g] is the
	 * id at generation g (0: it had none); id is the current broker's. */
	uint64_t *old_ids;
	size_t old_count;
	bool dead_reported;                     /* its process died and we said so */
	/* The last event matched by `expect message|messageerror`: what
	 * `source` and `reply` refer to. */
	bool has_last_event;
	uint64_t last_source_id;
	unsigned last_source_gen;               /* the broker generation of that id */
	char *last_origin;
	/* The window's latest statement that can fail, and its failure while
	 * no `expect error` has consumed it. */
	const struct scenario_statement *last;
	bool last_failed;
	char *fail_error, *fail_message;
	bool failed_unexpectedly;               /* a failure no `expect error` matched */
};

/* What one window knows of a port or buffer (struct object's flags). */
enum {
	HAS_HELD = 1u << 0,         /* it has had it: its process has a handle or node */
	HAS_CURRENT = 1u << 1,      /* buffers: its node is the live one (made, or bound
	                             * by a matched `expect message`) */
	HAS_STARTED = 1u << 2,      /* ports: started there (an `expect ... port=`, `start`) */
	HAS_LISTENING = 1u << 3,    /* ports: a callback is set there (`listen`, or an
	                             * `expect ... port=`, which sets onmessage) */
};

/* The runner's view of a port or buffer alias: where it is over time.
 * Ports keep their alias wherever they go (the broker's id is stable); a
 * buffer is bound to its alias in a window that receives it by the
 * `expect message` whose DATA names it. */
struct object {
	const struct scenario_statement *decl;  /* its channel or buffer statement */
	const char *alias;
	bool port;
	bool created;               /* its statement succeeded */
	uint64_t id;                /* ports: the broker's id */
	unsigned gen;               /* ports: the broker generation that made it
	                             * (ids start afresh at each `restart broker`) */
	struct object *peer;        /* ports: the other end of the channel */
	bool disentangled;          /* ports: the channel was closed (close, or an
	                             * owner died): nothing more is delivered */
	struct window *owner;       /* who has it now (or will, once it lands);
	                             * NULL: nobody (dropped with its message) */
	/* A message carrying it waits, undelivered, in this port (not started
	 * where it is): it moves on with that port. */
	struct object *riding;
	uint8_t *has;               /* HAS_* per window index */
};

/* The runner's view of a BroadcastChannel alias. */
struct bchannel {
	const struct scenario_statement *decl;  /* its broadcast-channel statement */
	struct window *owner;                   /* the window that made it */
	uint64_t id;                            /* its number in the owner's process */
	unsigned gen;                           /* the broker generation that made it */
	bool created;
};

struct run {
	const struct scenario *s;
	const struct scenario_run_options *opt;
	struct window *windows;                 /* in the order their statements ran */
	struct scenario_agent **agents;         /* agents[i] == windows[i].agent, for polling */
	size_t count;
	size_t window_max;                      /* window statements in the script */
	struct object *objects;                 /* every port and buffer alias */
	size_t object_count;
	struct bchannel *bchannels;             /* every BroadcastChannel alias */
	size_t bchannel_count;
	enum scenario_outcome outcome;
	unsigned generation;                    /* `restart broker`s so far */
	bool selected_reported;                 /* --filter: the selected point was printed */
	char **drops;                           /* --verbose: the broker's "dropped:" lines */
	size_t drop_count;
	json_t *observation;                    /* what the next point observed (observe) */
};

/* A step's verdict: go on with the next statement, or stop the script
 * (the reason was reported and run->outcome set). */
enum { STEP_NEXT = 0, STEP_STOP = -1 };

static void worsen(struct run *run, enum scenario_outcome outcome)
{
	if (outcome > run->outcome)
		run->outcome = outcome;
}

static int script_error(struct run *run, const struct scenario_statement *st, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static int script_error(struct run *run, const struct scenario_statement *st, const char *fmt, ...)
{
	va_list ap;

	fflush(stdout);
	fprintf(stderr, "crosspost run: %s:%u: ", run->s->file, st->line);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	worsen(run, SCENARIO_SCRIPT_ERROR);
	return STEP_STOP;
}

/* The window's name (window.name) as its statement gave it: name=, but
 * not a target keyword (`open ... name=_blank` names nothing). */
static const char *window_name(const struct window *w)
{
	const char *name = w->decl->name;

	if (name && w->decl->verb == SCENARIO_OPEN &&
	    (strcasecmp(name, "_blank") == 0 || strcasecmp(name, "_self") == 0 || strcasecmp(name, "_parent") == 0 ||
	     strcasecmp(name, "_top") == 0))
		return NULL;
	return name;
}

static struct window *find_window(struct run *run, const char *alias)
{
	for (size_t i = 0; i < run->count; i++) {
		struct window *w = &run->windows[i];

		if (strcmp(w->decl->actor, alias) != 0)
			continue;
		while (w->same_as)
			w = w->same_as;
		return w;
	}
	return NULL;
}

/* w's id at broker generation gen (0: it had none there). */
static uint64_t window_id_at(const struct run *run, const struct window *w, unsigned gen)
{
	if (gen == run->generation)
		return w->id;
	return gen < w->old_count ? w->old_ids[gen] : 0;
}

static struct window *find_window_by_id_at(struct run *run, uint64_t id, unsigned gen)
{
	if (id == 0)
		return NULL;
	for (size_t i = 0; i < run->count; i++)
		if (run->windows[i].open && !run->windows[i].same_as && window_id_at(run, &run->windows[i], gen) == id)
			return &run->windows[i];
	return NULL;
}

static struct object *find_object(struct run *run, const char *alias)
{
	for (size_t i = 0; i < run->object_count; i++)
		if (strcmp(run->objects[i].alias, alias) == 0)
			return &run->objects[i];
	return NULL;
}

static struct bchannel *find_bchannel(struct run *run, const char *alias)
{
	for (size_t i = 0; i < run->bchannel_count; i++)
		if (strcmp(run->bchannels[i].decl->channel, alias) == 0)
			return &run->bchannels[i];
	return NULL;
}

static struct object *find_port_by_id(struct run *run, uint64_t id, unsigned gen)
{
	for (size_t i = 0; i < run->object_count; i++)
		if (run->objects[i].port && run->objects[i].created && run->objects[i].id == id &&
		    run->objects[i].gen == gen)
			return &run->objects[i];
	return NULL;
}

/* How a command names port o to the window process: its id, and above
 * SCENARIO_PORT_GEN_SHIFT the broker generation that made it, so that a
 * dead port of an earlier broker is not mistaken for a new one. */
static json_int_t port_ref(const struct object *o)
{
	return (json_int_t)(o->id | (uint64_t)o->gen << SCENARIO_PORT_GEN_SHIFT);
}

/* "p2", or "port 7" for a port of no alias; "window" for id 0. */
static const char *port_label(struct run *run, uint64_t id, unsigned gen, char *buf, size_t size)
{
	struct object *o = find_port_by_id(run, id, gen);

	if (id == 0)
		return "window";
	if (o)
		return o->alias;
	snprintf(buf, size, "port %" PRIu64, id);
	return buf;
}

/* A window of this script that a post went to (NULL: none of ours);
 * target_id: the id the window process says it posted to. */
static struct window *receiver_of(struct run *run, const struct scenario_statement *st, struct window *w,
				  uint64_t target_id)
{
	switch (st->target_kind) {
	case SCENARIO_TARGET_WINDOW:
		return find_window(run, st->target_alias);
	case SCENARIO_TARGET_OPENER:
	case SCENARIO_TARGET_PARENT:
	case SCENARIO_TARGET_TOP:
	case SCENARIO_TARGET_FRAME_INDEX:
	case SCENARIO_TARGET_FRAME_NAME:
		return find_window_by_id_at(run, target_id, run->generation);
	case SCENARIO_TARGET_SOURCE:
		return find_window_by_id_at(run, w->last_source_id, w->last_source_gen);
	case SCENARIO_TARGET_NAME:
		for (size_t i = run->count; i-- > 0;)
			if (run->windows[i].open && !run->windows[i].killed && !run->windows[i].same_as &&
			    window_name(&run->windows[i]) &&
			    strcmp(window_name(&run->windows[i]), st->target_name) == 0)
				return &run->windows[i];
		return NULL;
	}
	return NULL;
}

/* o now belongs to `to` (NULL: to nobody), and so does everything riding
 * in it.  depth stops a cycle of ports riding in each other. */
static void move_object(struct run *run, struct object *o, struct window *to, size_t depth)
{
	if (depth > run->object_count)
		return;
	/* The agent stops listening to a port that leaves (cmd_agent.c). */
	if (o->owner)
		o->has[o->owner->index] &= (uint8_t)~(HAS_CURRENT | HAS_STARTED | HAS_LISTENING);
	o->owner = to;
	/* A port's handle appears in the new owner's process by itself; a
	 * buffer gets its name there only when an expectation binds it. */
	if (to && o->port)
		o->has[to->index] |= HAS_HELD;
	for (size_t i = 0; i < run->object_count; i++)
		if (run->objects[i].riding == o)
			move_object(run, &run->objects[i], to, depth + 1);
}

/* Closing or losing one end of a channel stops delivery both ways. */
static void disentangle(struct object *port)
{
	port->disentangled = true;
	if (port->peer)
		port->peer->disentangled = true;
}

/* Prints one test point named "FILE:LINE ALIAS VERB".  A '#' would start a
 * TAP directive, so one in the file name is escaped.  why (may be NULL)
 * says in a few words what went wrong, for --diagram. */
static void point_why(struct run *run, const struct scenario_statement *st, bool ok, const char *label,
		      struct tap_diag *diag, const char *why)
{
	char *desc = NULL;
	size_t len = 0;
	FILE *f;

	/* --filter selected another statement's point: this one is not
	 * counted; a failure is mentioned, since it may explain the rest. */
	if (run->opt->select_line && st->line != run->opt->select_line) {
		if (!ok)
			tap_comment(run->opt->tap, "(before the filtered point) %s:%u %s%s%s failed", run->s->file,
				    st->line, st->actor ? st->actor : "", st->actor ? " " : "", label);
		return;
	}
	run->selected_reported = true;
	f = open_memstream(&desc, &len);
	if (f) {
		for (const char *c = run->s->file; *c; c++) {
			if (*c == '#')
				fputc('\\', f);
			fputc(*c, f);
		}
		fprintf(f, ":%u %s%s%s", st->line, st->actor ? st->actor : "", st->actor ? " " : "", label);
		fclose(f);
	}
	tap_point(run->opt->tap, ok, desc ? desc : label, diag && !ok ? tap_diag_text(diag) : NULL);
	if (run->opt->observe)
		run->opt->observe(run->opt->observe_data, desc ? desc : label, ok, run->observation);
	json_decref(run->observation);
	run->observation = NULL;
	free(desc);
	if (!ok)
		worsen(run, SCENARIO_FAILED);
	if (run->opt->trace) {
		char text[256];

		snprintf(text, sizeof(text), "%s %s%s%s", ok ? "\u2713" : "\u2717", label, why && !ok ? ": " : "",
			 why && !ok ? why : "");
		scenario_trace_note(run->opt->trace, st->actor, ok ? DIAGRAM_NOTE_PASSED : DIAGRAM_NOTE_FAILED, text,
				    diag && !ok ? tap_diag_text(diag) : st->text);
	}
}

static void point(struct run *run, const struct scenario_statement *st, bool ok, const char *label,
		  struct tap_diag *diag)
{
	point_why(run, st, ok, label, diag, NULL);
}

/* --browser: st cannot be expressed in a browser; the file ends here,
 * as a skipped point that says why. */
static int skip_rest(struct run *run, const struct scenario_statement *st, const char *reason)
{
	char *desc = NULL;

	if (asprintf(&desc, "%s:%u %s%s%s # SKIP in a browser: %s", run->s->file, st->line,
		     st->actor ? st->actor : "", st->actor ? " " : "", scenario_verb_name(st->verb), reason) > 0)
		tap_point(run->opt->tap, true, desc, NULL);
	free(desc);
	if (run->opt->skipped)
		run->opt->skipped(run->opt->observe_data, st->line, reason);
	return STEP_STOP;
}

/* A statement no browser can express, or NULL. */
static const char *browser_cannot(const struct scenario_statement *st)
{
	switch (st->verb) {
	case SCENARIO_KILL:
		return "a page cannot be killed like a process (kill)";
	case SCENARIO_RESTART_BROKER:
		return "a browser has no broker to restart";
	case SCENARIO_HOLD:
	case SCENARIO_RELEASE:
		return "a browser cannot hold a window's events undispatched (hold, release)";
	case SCENARIO_POST_CORRUPT:
	case SCENARIO_SEND_CORRUPT:
		return "a browser cannot post bytes that do not deserialize (post-corrupt, send-corrupt)";
	case SCENARIO_WINDOW:
		return st->privileged ? "privileged windows are crosspost's; a page has none" : NULL;
	case SCENARIO_POST:
		return st->target_kind == SCENARIO_TARGET_NAME ?
			"name: targets are the broker's lookup; a page has no such call" : NULL;
	default:
		return NULL;
	}
}

/* "b (window 3)", "window 7 (not in this script)", "null". */
static char *describe_source(struct run *run, uint64_t id, unsigned gen, const char *name)
{
	struct window *w = find_window_by_id_at(run, id, gen);
	char *s = NULL;
	int r;

	if (id == 0)
		return strdup("null");
	if (w)
		r = asprintf(&s, "%s (window %" PRIu64 "%s%s%s)", w->decl->actor, id,
			     name ? ", name \"" : "", name ? name : "", name ? "\"" : "");
	else
		r = asprintf(&s, "window %" PRIu64 "%s%s%s, not of this script", id,
			     name ? " named \"" : "", name ? name : "", name ? "\"" : "");
	return r < 0 ? NULL : s;
}

/* A window process that ended or broke the protocol on its own: the
 * system under test failed, so this is a failed test point, and the
 * script cannot go on. */
static int window_process_died(struct run *run, const struct scenario_statement *st, struct window *w)
{
	struct scenario_agent *a = w->agent;
	struct tap_diag diag;
	char how[96];

	scenario_agent_finish(a);
	w->dead_reported = true;
	tap_diag_init(&diag);
	tap_diag_string(&diag, 0, "statement", st->text);
	tap_diag_string(&diag, 0, "window_process", proc_describe_status(a->status, how, sizeof(how)));
	if (a->broken)
		tap_diag_string(&diag, 0, "protocol_error", a->broken);
	if (a->lost)
		tap_diag_string(&diag, 0, "broker_connection", a->lost);
	point(run, st, false, "window process died", &diag);
	tap_diag_deinit(&diag);
	return STEP_STOP;
}

static int interrupted(struct run *run, const struct scenario_statement *st)
{
	struct tap_diag diag;
	char why[96];

	if (*run->opt->interrupted != SCENARIO_TIMED_OUT)
		return script_error(run, st, "interrupted");
	/* --timeout: the system under test took too long; the file stops. */
	snprintf(why, sizeof(why), "the file ran longer than --timeout %" PRId64 "ms", run->opt->timeout_ms);
	tap_diag_init(&diag);
	tap_diag_string(&diag, 0, "statement", st->text);
	tap_diag_string(&diag, 0, "got", why);
	tap_point(run->opt->tap, false, run->s->file, tap_diag_text(&diag));
	tap_diag_deinit(&diag);
	worsen(run, SCENARIO_FAILED);
	scenario_trace_note(run->opt->trace, NULL, DIAGRAM_NOTE_FAILED, why, st->text);
	return STEP_STOP;
}

/* --verbose: what the private broker logged since the last look, on
 * stderr as it always was, and its "dropped:" lines kept for the
 * diagnostics of a failed expectation (diag_drops()). */
static void read_broker_log(struct run *run)
{
	char *text = scenario_broker_read_log(run->opt->broker), *line, *next;

	if (!text)
		return;
	fflush(stdout);
	fputs(text, stderr);
	for (line = text; *line; line = next) {
		char **v;

		next = strchr(line, '\n');
		*next++ = '\0';
		if (!strstr(line, "dropped: "))
			continue;
		v = realloc(run->drops, (run->drop_count + 1) * sizeof(*v));
		if (!v)
			break;
		run->drops = v;
		v[run->drop_count] = strdup(strstr(line, "dropped: ") + strlen("dropped: "));
		if (v[run->drop_count])
			run->drop_count++;
	}
	free(text);
}

/* --verbose: why the broker dropped messages for window id (not yet
 * said), as a diagnostic of a failed expectation. */
static void diag_drops(struct run *run, struct tap_diag *diag, uint64_t id)
{
	json_t *list = json_array();
	char needle[48];
	char *text;

	if (!list)
		return;
	snprintf(needle, sizeof(needle), "-> window %" PRIu64 ":", id);
	for (size_t i = 0; i < run->drop_count; i++) {
		if (!run->drops[i] || !strstr(run->drops[i], needle))
			continue;
		json_array_append_new(list, json_string(run->drops[i]));
		free(run->drops[i]);
		run->drops[i] = NULL;
	}
	text = json_array_size(list) ? json_dumps(list, JSON_COMPACT) : NULL;
	if (text)
		tap_diag_json(diag, 0, "broker_dropped", text);
	free(text);
	json_decref(list);
}

/* Longer data is observed as a digest (observed_event()). */
#define OBSERVED_DATA_MAX 256

/* What an event was, for --compare: the two runs number windows and ports
 * differently, so they are named by alias; data is normalised tagged JSON
 * in which each port is its alias. */
static json_t *observed_event(struct run *run, const struct scenario_event *ev)
{
	static const char mark[] = "crosspost:port:#";
	struct window *sw = ev ? find_window_by_id_at(run, ev->source_id, ev->generation) : NULL;
	json_t *o, *ports;
	char buf[32];

	if (!run->opt->observe)
		return NULL;            /* nobody compares: no work */
	if (!ev)
		return json_pack("{s:n}", "event");
	o = json_pack("{s:s, s:s, s:s}", "event", ev->messageerror ? "messageerror" : "message", "origin", ev->origin,
		      "port", port_label(run, ev->port_id, ev->generation, buf, sizeof(buf)));
	if (!o)
		return NULL;
	json_object_set_new(o, "source", ev->source_id == 0 ? json_null() :
				 json_string(sw ? sw->decl->actor : "a window not of this script"));
	ports = json_array();
	for (size_t i = 0; ports && i < ev->port_count; i++)
		json_array_append_new(ports, json_string(port_label(run, ev->ports[i], ev->generation, buf, sizeof(buf))));
	json_object_set_new(o, "ports", ports);
	if (ev->data_json) {
		_cleanup_(freep) char *text = scenario_value_rewrite_ports(ev->data_json);
		_cleanup_(freep) char *digest = NULL;
		cp_value *v = NULL;
		char *norm = NULL, *out = NULL;
		size_t len = 0;
		FILE *f;

		if (text && cp_value_from_json(text, strlen(text), NULL, &v) == 0)
			norm = cp_value_to_json(v);
		cp_value_free(v);
		f = norm ? open_memstream(&out, &len) : NULL;
		if (f) {
			for (const char *c = norm; *c;) {
				const char *m = strstr(c, mark);

				if (!m) {
					fputs(c, f);
					break;
				}
				fwrite(c, 1, (size_t)(m - c) + strlen(mark) - 1, f);
				c = m + strlen(mark);
				fputs(port_label(run, strtoull(c, NULL, 10), ev->generation, buf, sizeof(buf)), f);
				while (*c >= '0' && *c <= '9')
					c++;
			}
			fclose(f);
		}
		if (out && strlen(out) > OBSERVED_DATA_MAX) {
			/* Long data is compared by a digest, so that a difference
			 * report stays readable. */
			uint64_t h = 14695981039346656037ULL;

			for (const char *c = out; *c; c++)
				h = (h ^ (unsigned char)*c) * 1099511628211ULL;
			if (asprintf(&digest, "%.64s... (%zu bytes of JSON, FNV-1a %016" PRIx64 ")", out, strlen(out), h) < 0)
				digest = NULL;
		}
		json_object_set_new(o, "data", json_string(digest ? digest : out ? out : ev->data_json));
		free(out);
		free(norm);
	}
	return o;
}

static void observe(struct run *run, json_t *observation)
{
	json_decref(run->observation);
	run->observation = run->opt->observe ? observation : NULL;
	if (!run->opt->observe)
		json_decref(observation);
}

/* Waits up to timeout_ms for anything from the agents. */
static int pump(struct run *run, const struct scenario_statement *st, int64_t timeout_ms)
{
	int r;

	if (*run->opt->interrupted)
		return interrupted(run, st);
	r = scenario_agents_poll(run->agents, run->count, timeout_ms < 0 ? 0 : timeout_ms);
	if (r == -EINTR)
		return *run->opt->interrupted ? interrupted(run, st) : STEP_NEXT;
	if (r < 0)
		return script_error(run, st, "reading from the window processes: %s", strerror(-r));
	return STEP_NEXT;
}

/* A statement about window w (or, with role, about its target) needs it
 * open.  When its window statement failed with no `expect error`, that
 * failure was already reported: stopping is then part of it. */
static int need_open(struct run *run, const struct scenario_statement *st, struct window *w,
		     const char *role)
{
	if (w->open)
		return STEP_NEXT;
	if (w->failed_unexpectedly) {
		fflush(stdout);
		fprintf(stderr, "crosspost run: %s:%u: stopping: %s'%s' is not open (its window statement "
			"at line %u failed)\n", run->s->file, st->line, role, w->decl->actor, w->decl->line);
		return STEP_STOP;
	}
	return script_error(run, st, "%s'%s' is not open: its window statement (line %u) failed",
			    role, w->decl->actor, w->decl->line);
}

/* Reports the window's last failure if no `expect error` consumed it. */
static void report_unconsumed_failure(struct run *run, struct window *w)
{
	struct tap_diag diag;
	const struct scenario_statement *st = w->last;

	if (!w->last_failed)
		return;
	w->last_failed = false;
	w->failed_unexpectedly = true;
	tap_diag_init(&diag);
	tap_diag_string(&diag, 0, "statement", st->text);
	tap_diag_string(&diag, 0, "expected", "success (no 'expect error' follows)");
	tap_diag_string(&diag, 0, "error", w->fail_error);
	tap_diag_string(&diag, 0, "message", w->fail_message);
	observe(run, json_pack("{s:s?}", "error", w->fail_error));
	point(run, st, false, scenario_verb_name(st->verb), &diag);
	tap_diag_deinit(&diag);
}

/* Remembers how the window's statement st ended, for `expect error`. */
static void record_outcome(struct run *run, struct window *w, const struct scenario_statement *st,
			   const char *error, const char *message)
{
	w->last = st;
	w->last_failed = error != NULL;
	free(w->fail_error);
	free(w->fail_message);
	w->fail_error = error ? strdup(error) : NULL;
	w->fail_message = message ? strdup(message) : NULL;
	if (run->opt->verbose && error)
		tap_comment(run->opt->tap, "%s: %s failed: %s: %s", w->decl->actor,
			    scenario_verb_name(st->verb), error, message ? message : "");
	if (run->opt->trace && error) {
		char text[160];

		snprintf(text, sizeof(text), "%s threw %s", scenario_verb_name(st->verb), error);
		scenario_trace_note(run->opt->trace, w->decl->actor, DIAGRAM_NOTE_INFO, text, message);
	}
}

/* Sends cmd (consumed) to w's process and waits for the answer in *ret. */
static int call_agent(struct run *run, const struct scenario_statement *st, struct window *w, json_t *cmd,
		      struct scenario_result *ret)
{
	struct scenario_result res = { 0 };
	int r;

	if (!cmd)
		return script_error(run, st, "out of memory");
	r = scenario_agent_call(run->agents, run->count, w->agent, cmd, &res);
	json_decref(cmd);
	if (r == -ECHILD)
		return window_process_died(run, st, w);
	if (r == -ETIMEDOUT) {
		struct tap_diag diag;

		tap_diag_init(&diag);
		tap_diag_string(&diag, 0, "statement", st->text);
		tap_diag_string(&diag, 0, "got", "no answer from the window process");
		point(run, st, false, "window process stopped answering", &diag);
		tap_diag_deinit(&diag);
		return STEP_STOP;
	}
	if (r == -EINTR)
		return *run->opt->interrupted ? interrupted(run, st) : script_error(run, st, "interrupted");
	if (r < 0)
		return script_error(run, st, "talking to the window process of '%s': %s", w->decl->actor,
				    strerror(-r));
	if (res.unsupported) {
		r = skip_rest(run, st, res.unsupported);
		scenario_result_deinit(&res);
		return r;
	}
	*ret = res;
	return STEP_NEXT;
}

/* Sends cmd (consumed) to w's process and records how the statement ended. */
static int command(struct run *run, const struct scenario_statement *st, struct window *w, json_t *cmd,
		   struct scenario_result *ret)
{
	struct scenario_result res = { 0 };
	int r = call_agent(run, st, w, cmd, &res);

	if (r < 0)
		return r;
	record_outcome(run, w, st, res.ok ? NULL : res.error, res.message);
	if (ret)
		*ret = res;
	else
		scenario_result_deinit(&res);
	return STEP_NEXT;
}

/* A new slot for the window st declares (window, open, frame). */
static struct window *new_window(struct run *run, const struct scenario_statement *st)
{
	struct window *w = &run->windows[run->count];

	*w = (struct window){ .decl = st, .index = run->count };
	run->agents[run->count++] = NULL;
	return w;
}

/* --diagram: window w opened with origin; who made it, and its relations,
 * as its statement says. */
static void trace_window(struct run *run, struct window *w, const char *origin)
{
	const struct scenario_statement *d = w->decl;
	const char *opener = d->verb == SCENARIO_OPEN && d->noopener ? NULL : d->opener;
	const char *creator = d->parent ? d->parent : d->opener;
	const char *how = d->parent ? "<iframe>" : d->noopener ? "window.open(), noopener" : "window.open()";

	scenario_trace_window(run->opt->trace, d->actor, w->id, origin, d->url, window_name(w), opener, d->parent,
			      creator, how);
}

/* Starts w's window process and sends it cmd (consumed): "open" (a
 * top-level window it registers) or "claim" (a window another one opened
 * or framed).  The statement's outcome is w's. */
static int start_window_process(struct run *run, const struct scenario_statement *st, struct window *w,
				json_t *cmd)
{
	struct scenario_result res = { 0 };
	int r;

	if (run->opt->browser) {
		r = scenario_browser_attach(run->opt->browser, w->decl->actor);
		if (r >= 0)
			r = scenario_agent_adopt(r, w->decl->actor, &w->agent);
	} else {
		r = scenario_agent_spawn(run->opt->self_exe, run->opt->socket_path, w->decl->actor, &w->agent);
	}
	if (r < 0) {
		json_decref(cmd);
		return script_error(run, st, "cannot start a window process: %s", strerror(-r));
	}
	run->agents[w->index] = w->agent;
	r = command(run, st, w, cmd, &res);
	if (r < 0)
		return r;
	if (res.ok) {
		w->open = true;
		w->id = res.id;
		trace_window(run, w, res.origin);
		if (run->opt->verbose)
			tap_comment(run->opt->tap, "%s is window %" PRIu64 ", origin %s", w->decl->actor, w->id,
				    res.origin ? res.origin : "?");
	}
	scenario_result_deinit(&res);
	return STEP_NEXT;
}

/* window.open() (frame: a new iframe) by creator, asked for w's
 * statement st: a new window, claimed by a new window process for w, or
 * an existing one (window.open() chose it by name), which w then names
 * too.  The statement's outcome is w's. */
static int create_window(struct run *run, const struct scenario_statement *st, struct window *w,
			 struct window *creator, bool frame, const char *target, bool noopener)
{
	struct scenario_result res = { 0 };
	struct window *existing;
	uint64_t chosen;
	json_t *cmd;
	int r;

	r = need_open(run, st, creator, frame ? "the parent " : "the opener ");
	if (r < 0)
		return r;
	cmd = json_pack("{s:s, s:s, s:s?, s:b}", "cmd", frame ? "iframe" : "window-open", "url", st->url, "target",
			target, "noopener", noopener);
	r = call_agent(run, st, creator, cmd, &res);
	if (r < 0)
		return r;
	if (!res.ok) {
		record_outcome(run, w, st, res.error, res.message);
		scenario_result_deinit(&res);
		return STEP_NEXT;
	}
	if (frame)
		w->parent = creator;
	if (res.token) {
		cmd = json_pack("{s:s, s:s, s:b}", "cmd", "claim", "token", res.token, "privileged",
				w->decl->verb == SCENARIO_WINDOW && w->decl->privileged);
		scenario_result_deinit(&res);
		return start_window_process(run, st, w, cmd);
	}
	/* window.open(url, name) navigated a live window of that name. */
	chosen = res.id;
	existing = find_window_by_id_at(run, chosen, run->generation);
	scenario_result_deinit(&res);
	if (!existing)
		return script_error(run, st, "window.open() chose window %" PRIu64 ", which is not one of this "
				    "script's", chosen);
	record_outcome(run, w, st, NULL, NULL);
	scenario_trace_same_window(run->opt->trace, w->decl->actor, existing->decl->actor);
	w->same_as = existing;
	w->open = true;
	w->id = existing->id;
	if (run->opt->verbose)
		tap_comment(run->opt->tap, "%s is %s (window %" PRIu64 "): window.open() chose it by name",
			    w->decl->actor, existing->decl->actor, existing->id);
	return STEP_NEXT;
}

static int exec_window(struct run *run, const struct scenario_statement *st)
{
	struct window *w = new_window(run, st), *opener, *parent;
	struct scenario_result res = { 0 };
	char *frame_name = NULL;
	int r;

	if (!st->opener && !st->parent)
		return start_window_process(run, st, w, json_pack("{s:s, s:s, s:s?, s:b}", "cmd", "open", "url",
								  st->url, "name", st->name, "privileged",
								  st->privileged));
	/* opener=A: A's window.open(URL, NAME); parent=P: an iframe in P
	 * (the relations are the broker's). */
	parent = st->parent ? find_window(run, st->parent) : NULL;
	opener = st->opener ? find_window(run, st->opener) : NULL;
	/* Both: the frame's opener is A once A's window.open("", NAME)
	 * chooses the frame by its name (HTML window open steps), so a frame
	 * with no name= gets one of the runner's ("crosspost-opener-ALIAS"). */
	if (opener && parent && !st->name && asprintf(&frame_name, "crosspost-opener-%s", st->actor) < 0)
		return script_error(run, st, "out of memory");
	r = create_window(run, st, w, parent ? parent : opener, parent != NULL,
			  frame_name ? frame_name : st->name ? st->name : "", false);
	if (r < 0 || !w->open || !opener || !parent) {
		free(frame_name);
		return r;
	}
	r = need_open(run, st, opener, "the opener ");
	if (r >= 0)
		r = call_agent(run, st, opener, json_pack("{s:s, s:s, s:s, s:b}", "cmd", "window-open", "url", "",
							  "target", frame_name ? frame_name : st->name, "noopener", 0),
			       &res);
	if (r >= 0 && (!res.ok || res.id != w->id))
		r = script_error(run, st, "opener=%s: its window.open(\"\", \"%s\") did not choose the frame (%s)",
				 st->opener, frame_name ? frame_name : st->name,
				 res.ok ? "another window has that name" : res.message);
	free(frame_name);
	scenario_result_deinit(&res);
	return r < 0 ? r : STEP_NEXT;
}

/* open ALIAS URL by=OPENER [name=NAME] [noopener] */
static int exec_open(struct run *run, const struct scenario_statement *st)
{
	struct window *w = new_window(run, st);

	return create_window(run, st, w, find_window(run, st->opener), false, st->name ? st->name : "_blank",
			     st->noopener);
}

/* frame ALIAS URL in=PARENT [name=NAME] */
static int exec_frame(struct run *run, const struct scenario_statement *st)
{
	struct window *w = new_window(run, st);

	return create_window(run, st, w, find_window(run, st->parent), true, st->name ? st->name : "", false);
}

/* w and every window framed in it (they go with it). */
static void mark_discarded(struct run *run, struct window *w)
{
	w->closed = true;
	for (size_t i = 0; i < run->count; i++) {
		struct window *child = &run->windows[i];

		if (child->parent == w && !child->closed)
			mark_discarded(run, child);
	}
}

/* remove ALIAS: ALIAS's parent removes its iframe. */
static int exec_remove(struct run *run, const struct scenario_statement *st, struct window *w)
{
	struct scenario_result res = { 0 };
	int r;

	if (!w->open || !w->parent)
		return need_open(run, st, w, "");
	r = need_open(run, st, w->parent, "its parent ");
	if (r < 0)
		return r;
	r = call_agent(run, st, w->parent, json_pack("{s:s, s:I}", "cmd", "remove", "frame", (json_int_t)w->id), &res);
	if (r < 0)
		return r;
	record_outcome(run, w, st, res.ok ? NULL : res.error, res.message);
	if (res.ok)
		mark_discarded(run, w);
	scenario_result_deinit(&res);
	return STEP_NEXT;
}

/* OBSERVER expect closed|open ALIAS: what OBSERVER's reference to ALIAS's
 * window says (window.closed), within the time given (closing follows a
 * process's death, or a close(), asynchronously). */
static int exec_expect_window_state(struct run *run, const struct scenario_statement *st, struct window *w)
{
	bool want_closed = st->verb == SCENARIO_EXPECT_CLOSED;
	int64_t deadline = proc_now_ms() + st->within_ms;
	struct window *target = find_window(run, st->target_alias);
	struct scenario_result res = { 0 };
	struct tap_diag diag;
	char expected[96], got[96] = "nothing";
	bool ok = false;
	int r;

	r = need_open(run, st, w, "");
	if (r < 0)
		return r;
	if (!target->id)
		return script_error(run, st, "'%s' has no window at this broker (its statement failed, or the "
				    "broker restarted since it closed)", target->decl->actor);
	for (;;) {
		r = call_agent(run, st, w, json_pack("{s:s, s:I}", "cmd", "closed", "id", (json_int_t)target->id), &res);
		if (r < 0)
			return r;
		if (!res.ok) {
			snprintf(got, sizeof(got), "%s: %s", res.error, res.message ? res.message : "");
			scenario_result_deinit(&res);
			break;
		}
		snprintf(got, sizeof(got), "window.closed is %s", res.closed ? "true" : "false");
		ok = res.closed == want_closed;
		scenario_result_deinit(&res);
		if (ok || proc_now_ms() >= deadline)
			break;
		r = pump(run, st, 20);
		if (r < 0)
			return r;
	}
	snprintf(expected, sizeof(expected), "window.closed is %s within %" PRId64 "ms", want_closed ? "true" : "false",
		 st->within_ms);
	tap_diag_init(&diag);
	tap_diag_string(&diag, 0, "statement", st->text);
	tap_diag_string(&diag, 0, "expected", expected);
	tap_diag_string(&diag, 0, "got", got);
	observe(run, json_pack("{s:s}", "got", got));
	point(run, st, ok, scenario_verb_name(st->verb), &diag);
	tap_diag_deinit(&diag);
	return STEP_NEXT;
}

/* hold ALIAS / release ALIAS */
static int exec_hold(struct run *run, const struct scenario_statement *st, struct window *w)
{
	struct scenario_result res = { 0 };
	int r;

	if (!w->agent || w->killed)
		return script_error(run, st, "'%s' has no window process", w->decl->actor);
	r = call_agent(run, st, w, json_pack("{s:s}", "cmd", st->verb == SCENARIO_HOLD ? "hold" : "release"), &res);
	if (r < 0)
		return r;
	scenario_result_deinit(&res);
	return STEP_NEXT;
}

/* `source`/`reply` need the last matched event; a null source is the
 * TypeError that event.source.postMessage() would throw.  A source from
 * before a `restart broker` names a window of the old broker: the post is
 * dropped silently, as a post to a window that is gone.  *ret_done: the
 * statement's outcome is recorded and nothing is to be sent. */
static int need_source(struct run *run, const struct scenario_statement *st, struct window *w,
		       bool *ret_done)
{
	*ret_done = false;
	if (!w->has_last_event)
		return script_error(run, st, "'%s' has matched no event yet (with expect message), so it "
				    "has no source to post to", w->decl->actor);
	if (w->last_source_id == 0) {
		*ret_done = true;
		record_outcome(run, w, st, "TypeError",
			       "event.source is null: the last event came from a privileged window");
	} else if (w->last_source_gen != run->generation) {
		*ret_done = true;
		record_outcome(run, w, st, NULL, NULL);
		if (run->opt->verbose)
			tap_comment(run->opt->tap, "%s: the source is a window of the broker before the "
				    "restart: dropped", w->decl->actor);
	}
	return STEP_NEXT;
}

/* A port or buffer that w's statement names must be something w can
 * name: it has had it (a port keeps its alias wherever it goes) or, for a
 * buffer, has it bound.  Using one that w gave away is not stopped here:
 * the library's error (InvalidStateError, DataCloneError) is what scripts
 * test. */
static int need_object(struct run *run, const struct scenario_statement *st, struct window *w,
		       struct object *o)
{
	const char *kind = o->port ? "port" : "buffer";
	uint8_t has = o->has[w->index];

	if (!o->created)
		return script_error(run, st, "%s '%s' does not exist: its %s statement (line %u) failed", kind,
				    o->alias, scenario_verb_name(o->decl->verb), o->decl->line);
	if (o->owner == w && o->riding)
		return script_error(run, st, "%s '%s' is in a message that still waits in port '%s', which '%s' "
				    "has not started: match that message with '%s expect message port=%s' first",
				    kind, o->alias, o->riding->alias, w->decl->actor, w->decl->actor, o->riding->alias);
	if (!o->port && o->owner == w && !(has & HAS_CURRENT))
		return script_error(run, st, "buffer '%s' came to '%s', but no '%s expect message' has matched it "
				    "with {\"$buffer\":\"%s\"} in its DATA yet, so '%s' has no name for it",
				    o->alias, w->decl->actor, w->decl->actor, o->alias, w->decl->actor);
	if (has & HAS_HELD)
		return STEP_NEXT;
	return script_error(run, st, "'%s' has never had %s '%s'%s%s%s", w->decl->actor, kind, o->alias,
			    o->owner ? " (it is " : "", o->owner ? o->owner->decl->actor : "",
			    o->owner ? "'s now)" : "");
}

/* Adds DATA to cmd: the text with placeholders, and, when it names
 * buffers or ports, which ports those are. */
static int add_data(struct run *run, const struct scenario_statement *st, struct window *w, json_t *cmd)
{
	json_t *ids;
	int r;

	if (json_object_set_new(cmd, "data", json_string(st->data_masked ? st->data_masked : st->data_json)) < 0)
		return script_error(run, st, "out of memory");
	if (!st->data_named)
		return STEP_NEXT;
	for (size_t i = 0; i < st->buffer_ref_count; i++) {
		r = need_object(run, st, w, find_object(run, st->buffer_refs[i]));
		if (r < 0)
			return r;
	}
	ids = json_object();
	if (!ids || json_object_set_new(cmd, "portIds", ids) < 0 || json_object_set_new(cmd, "named", json_true()) < 0)
		return script_error(run, st, "out of memory");
	for (size_t i = 0; i < st->port_ref_count; i++) {
		struct object *o = find_object(run, st->port_refs[i]);

		r = need_object(run, st, w, o);
		if (r < 0)
			return r;
		if (json_object_set_new(ids, o->alias, json_integer(port_ref(o))) < 0)
			return script_error(run, st, "out of memory");
	}
	return STEP_NEXT;
}

/* Adds transfer= to cmd. */
static int add_transfer(struct run *run, const struct scenario_statement *st, struct window *w, json_t *cmd)
{
	json_t *items;
	int r;

	if (!st->transfer_count)
		return STEP_NEXT;
	items = json_array();
	if (!items || json_object_set_new(cmd, "transfer", items) < 0)
		return script_error(run, st, "out of memory");
	for (size_t i = 0; i < st->transfer_count; i++) {
		struct object *o = find_object(run, st->transfer[i]);
		json_t *item;

		if (!o) {
			/* A window: not transferable (DataCloneError). */
			item = json_pack("{s:s}", "window", st->transfer[i]);
		} else {
			r = need_object(run, st, w, o);
			if (r < 0)
				return r;
			item = o->port ? json_pack("{s:I}", "port", port_ref(o))
				       : json_pack("{s:s}", "buffer", o->alias);
		}
		if (json_array_append_new(items, item) < 0)
			return script_error(run, st, "out of memory");
	}
	return STEP_NEXT;
}

/* After a successful post or send: what it transferred belongs to `to`,
 * riding in port `in` (NULL: delivered to a window, or to a started port). */
static void transferred(struct run *run, const struct scenario_statement *st, struct window *to,
			struct object *in)
{
	for (size_t i = 0; i < st->transfer_count; i++) {
		struct object *o = find_object(run, st->transfer[i]);
		size_t k;

		/* The second of a repeated name failed the post: not here. */
		for (k = 0; k < i && strcmp(st->transfer[k], st->transfer[i]) != 0; k++)
			;
		if (!o || k < i)
			continue;
		move_object(run, o, to, 0);
		o->riding = in;
		if (o->port)
			scenario_trace_port_moved(run->opt->trace, o->alias, to ? to->decl->actor : NULL);
	}
}

/* Adds st's TARGET to cmd: an id, a name to look up, or a relation for
 * w's process to read from the broker.  *ret_done: nothing is to be sent,
 * the statement's outcome is recorded (a window gone since a restart, a
 * null source). */
static int add_target(struct run *run, const struct scenario_statement *st, struct window *w, json_t *cmd,
		      bool *ret_done)
{
	static const char *const relations[] = {
		[SCENARIO_TARGET_OPENER] = "opener", [SCENARIO_TARGET_PARENT] = "parent",
		[SCENARIO_TARGET_TOP] = "top", [SCENARIO_TARGET_FRAME_INDEX] = "frame",
		[SCENARIO_TARGET_FRAME_NAME] = "frame",
	};
	struct window *target;
	int r;

	*ret_done = false;
	switch (st->target_kind) {
	case SCENARIO_TARGET_WINDOW:
		target = find_window(run, st->target_alias);
		r = need_open(run, st, target, "the target ");
		if (r < 0)
			return r;
		if (target->id == 0) {
			/* Killed or closed before a `restart broker`: the new
			 * broker never knew it.  Dropped silently, as the old
			 * broker would have. */
			*ret_done = true;
			record_outcome(run, w, st, NULL, NULL);
			if (run->opt->verbose)
				tap_comment(run->opt->tap, "%s is gone since the broker restarted: dropped",
					    target->decl->actor);
			return STEP_NEXT;
		}
		json_object_set_new(cmd, "target", json_integer((json_int_t)target->id));
		return STEP_NEXT;
	case SCENARIO_TARGET_SOURCE:
		r = need_source(run, st, w, ret_done);
		if (r < 0 || *ret_done)
			return r;
		json_object_set_new(cmd, "target", json_integer((json_int_t)w->last_source_id));
		return STEP_NEXT;
	case SCENARIO_TARGET_NAME:
		json_object_set_new(cmd, "targetName", json_string(st->target_name));
		return STEP_NEXT;
	case SCENARIO_TARGET_OPENER:
	case SCENARIO_TARGET_PARENT:
	case SCENARIO_TARGET_TOP:
	case SCENARIO_TARGET_FRAME_INDEX:
	case SCENARIO_TARGET_FRAME_NAME:
		json_object_set_new(cmd, "relation", json_string(relations[st->target_kind]));
		if (st->target_kind == SCENARIO_TARGET_FRAME_INDEX)
			json_object_set_new(cmd, "index", json_integer((json_int_t)st->target_index));
		if (st->target_kind == SCENARIO_TARGET_FRAME_NAME)
			json_object_set_new(cmd, "name", json_string(st->target_name));
		return STEP_NEXT;
	}
	return script_error(run, st, "internal: unknown target");
}

static int exec_post(struct run *run, const struct scenario_statement *st, struct window *w)
{
	struct scenario_result res = { 0 };
	json_t *cmd;
	bool done;
	int r;

	r = need_open(run, st, w, "");
	if (r < 0)
		return r;
	cmd = json_pack("{s:s, s:s}", "cmd", "post", "targetOrigin", st->target_origin);
	if (cmd && st->verb == SCENARIO_POST_CORRUPT &&
	    json_object_set_new(cmd, "corrupt", json_string(scenario_corruption_name(st->corruption))) < 0) {
		json_decref(cmd);
		cmd = NULL;
	}
	if (!cmd)
		return script_error(run, st, "out of memory");
	r = add_target(run, st, w, cmd, &done);
	if (r < 0 || done) {
		json_decref(cmd);
		return r;
	}
	r = add_data(run, st, w, cmd);
	if (r >= 0)
		r = add_transfer(run, st, w, cmd);
	if (r < 0) {
		json_decref(cmd);
		return r;
	}
	r = command(run, st, w, cmd, &res);
	if (r < 0)
		return r;
	/* A window's message event is dispatched as it arrives, so what it
	 * carried is there at once (the agent waits for it if need be). */
	if (res.ok)
		transferred(run, st, receiver_of(run, st, w, res.target), NULL);
	scenario_result_deinit(&res);
	return STEP_NEXT;
}

/* ALIAS close TARGET: TARGET.close() called by ALIAS's script. */
static int exec_close_window(struct run *run, const struct scenario_statement *st, struct window *w)
{
	struct scenario_result res = { 0 };
	struct window *target;
	json_t *cmd;
	bool done;
	int r;

	r = need_open(run, st, w, "");
	if (r < 0)
		return r;
	cmd = json_pack("{s:s}", "cmd", "close-window");
	if (!cmd)
		return script_error(run, st, "out of memory");
	r = add_target(run, st, w, cmd, &done);
	if (r < 0 || done) {
		json_decref(cmd);
		return r;
	}
	r = command(run, st, w, cmd, &res);
	if (r < 0)
		return r;
	if (res.ok && res.closed) {
		target = find_window_by_id_at(run, res.target, run->generation);
		if (target)
			mark_discarded(run, target);
		if (run->opt->verbose)
			tap_comment(run->opt->tap, "%s closed window %" PRIu64, w->decl->actor, res.target);
	} else if (res.ok && run->opt->verbose) {
		tap_comment(run->opt->tap, "%s: close() of window %" PRIu64 " did nothing (HTML: not top-level, not "
			    "script-closable, not familiar, or closed already)", w->decl->actor, res.target);
	}
	scenario_result_deinit(&res);
	return STEP_NEXT;
}

static int exec_reply(struct run *run, const struct scenario_statement *st, struct window *w)
{
	bool null_source;
	json_t *cmd;
	int r;

	r = need_open(run, st, w, "");
	if (r < 0)
		return r;
	r = need_source(run, st, w, &null_source);
	if (r < 0 || null_source)
		return r;
	/* event.source.postMessage(DATA, event.origin) */
	cmd = json_pack("{s:s, s:I, s:s}", "cmd", "post", "target", (json_int_t)w->last_source_id,
			"targetOrigin", w->last_origin);
	if (!cmd)
		return script_error(run, st, "out of memory");
	r = add_data(run, st, w, cmd);
	if (r < 0) {
		json_decref(cmd);
		return r;
	}
	return command(run, st, w, cmd, NULL);
}

static int exec_channel(struct run *run, const struct scenario_statement *st, struct window *w)
{
	struct object *p1 = find_object(run, st->port1), *p2 = find_object(run, st->port2);
	struct scenario_result res = { 0 };
	int r;

	r = need_open(run, st, w, "");
	if (r < 0)
		return r;
	r = command(run, st, w, json_pack("{s:s}", "cmd", "channel"), &res);
	if (r < 0)
		return r;
	if (res.ok) {
		struct object *ends[2] = { p1, p2 };

		for (size_t i = 0; i < 2; i++) {
			ends[i]->created = true;
			ends[i]->id = res.port_ids[i];
			ends[i]->gen = run->generation;
			ends[i]->owner = w;
			ends[i]->has[w->index] |= HAS_HELD;
		}
		scenario_trace_channel(run->opt->trace, w->decl->actor, p1->alias, p1->id, p2->alias, p2->id);
		if (run->opt->verbose)
			tap_comment(run->opt->tap, "%s is port %" PRIu64 ", %s is port %" PRIu64, p1->alias, p1->id,
				    p2->alias, p2->id);
	}
	scenario_result_deinit(&res);
	return STEP_NEXT;
}

static int exec_buffer(struct run *run, const struct scenario_statement *st, struct window *w)
{
	struct object *o = find_object(run, st->buffer);
	struct scenario_result res = { 0 };
	int r;

	/* Buffers belong to the process, but a window that failed to open
	 * has no process worth talking to. */
	r = need_open(run, st, w, "");
	if (r < 0)
		return r;
	r = command(run, st, w, json_pack("{s:s, s:s, s:I, s:i, s:s?}", "cmd", "buffer", "name", st->buffer,
					  "size", (json_int_t)st->size, "fill", (int)st->fill, "bytes", st->bytes), &res);
	if (r < 0)
		return r;
	if (res.ok) {
		o->created = true;
		o->owner = w;
		o->has[w->index] |= HAS_HELD | HAS_CURRENT;
	}
	scenario_result_deinit(&res);
	return STEP_NEXT;
}

static int exec_send(struct run *run, const struct scenario_statement *st, struct window *w)
{
	struct object *port = find_object(run, st->port), *peer = port->peer;
	struct scenario_result res = { 0 };
	json_t *cmd;
	int r;

	r = need_object(run, st, w, port);
	if (r < 0)
		return r;
	cmd = json_pack("{s:s, s:I}", "cmd", "send", "port", port_ref(port));
	if (cmd && st->verb == SCENARIO_SEND_CORRUPT &&
	    json_object_set_new(cmd, "corrupt", json_string(scenario_corruption_name(st->corruption))) < 0) {
		json_decref(cmd);
		cmd = NULL;
	}
	if (!cmd)
		return script_error(run, st, "out of memory");
	r = add_data(run, st, w, cmd);
	if (r >= 0)
		r = add_transfer(run, st, w, cmd);
	if (r < 0) {
		json_decref(cmd);
		return r;
	}
	r = command(run, st, w, cmd, &res);
	if (r < 0)
		return r;
	if (res.ok) {
		if (port->disentangled || port->owner != w || !peer->owner)
			/* Posting on a closed (or dead) port transfers what it
			 * carries to nobody. */
			transferred(run, st, NULL, NULL);
		else
			/* The message waits in the peer until the peer is started
			 * where it is (and moves with it until then). */
			transferred(run, st, peer->owner,
				    peer->has[peer->owner->index] & HAS_STARTED ? NULL : peer);
	}
	scenario_result_deinit(&res);
	return STEP_NEXT;
}

/* ALIAS broadcast-channel B NAME, ALIAS broadcast B DATA, ALIAS close B */
static int exec_broadcast(struct run *run, const struct scenario_statement *st, struct window *w)
{
	struct bchannel *bc = find_bchannel(run, st->channel);
	struct scenario_result res = { 0 };
	json_t *cmd;
	int r;

	r = need_open(run, st, w, "");
	if (r < 0)
		return r;
	if (st->verb == SCENARIO_BROADCAST_OPEN) {
		r = command(run, st, w, json_pack("{s:s, s:s}", "cmd", "broadcast-open", "name", st->channel_name), &res);
		if (r < 0)
			return r;
		if (res.ok) {
			bc->created = true;
			bc->owner = w;
			bc->id = res.channel_id;
			bc->gen = run->generation;
		}
		scenario_result_deinit(&res);
		return STEP_NEXT;
	}
	if (!bc->created)
		return script_error(run, st, "BroadcastChannel '%s' does not exist: its statement (line %u) failed",
				    st->channel, bc->decl->line);
	if (bc->owner != w)
		return script_error(run, st, "BroadcastChannel '%s' is %s's, not %s's", st->channel,
				    bc->owner->decl->actor, w->decl->actor);
	cmd = json_pack("{s:s, s:I}", "cmd", st->verb == SCENARIO_BROADCAST_POST ? "broadcast-post" : "broadcast-close",
			"channel", (json_int_t)bc->id);
	if (!cmd)
		return script_error(run, st, "out of memory");
	if (st->verb == SCENARIO_BROADCAST_POST) {
		r = add_data(run, st, w, cmd);
		if (r < 0) {
			json_decref(cmd);
			return r;
		}
	}
	return command(run, st, w, cmd, NULL);
}

/* ALIAS start PORT (port.start()), ALIAS listen PORT (addEventListener). */
static int exec_port_verb(struct run *run, const struct scenario_statement *st, struct window *w)
{
	struct object *port = find_object(run, st->port);
	bool start = st->verb == SCENARIO_START_PORT;
	struct scenario_result res = { 0 };
	int r;

	r = need_object(run, st, w, port);
	if (r < 0)
		return r;
	r = command(run, st, w, json_pack("{s:s, s:I}", "cmd", start ? "port-start" : "port-listen", "port",
					  port_ref(port)), &res);
	if (r < 0)
		return r;
	if (res.ok && port->owner == w) {
		port->has[w->index] |= start ? HAS_STARTED : HAS_LISTENING;
		/* What waited in it is dispatched once it is started: what rode
		 * in those messages is w's now. */
		if (start)
			for (size_t i = 0; i < run->object_count; i++)
				if (run->objects[i].riding == port)
					run->objects[i].riding = NULL;
	}
	scenario_result_deinit(&res);
	return STEP_NEXT;
}

static int exec_close_port(struct run *run, const struct scenario_statement *st, struct window *w)
{
	struct object *port = find_object(run, st->port);
	struct scenario_result res = { 0 };
	int r;

	r = need_object(run, st, w, port);
	if (r < 0)
		return r;
	r = command(run, st, w, json_pack("{s:s, s:I}", "cmd", "port-close", "port", port_ref(port)), &res);
	if (r < 0)
		return r;
	if (res.ok && port->owner == w) {
		disentangle(port);
		scenario_trace_port_closed(run->opt->trace, port->alias);
	}
	scenario_result_deinit(&res);
	return STEP_NEXT;
}

/* The next event of w on port_id (0: on the window; -1: on either)
 * within timeout_ms (*ret NULL when none came). */
static int next_event(struct run *run, const struct scenario_statement *st, struct window *w,
		      int64_t port_id, uint64_t broadcast_id, int64_t timeout_ms, struct scenario_event **ret)
{
	int64_t deadline = proc_now_ms() + timeout_ms;
	bool polled = false;

	for (;;) {
		int64_t left;
		int r;

		*ret = port_id < 0 ? scenario_agent_pop_event(w->agent)
				   : scenario_agent_pop_event_on(w->agent, (uint64_t)port_id, broadcast_id);
		if (*ret)
			return STEP_NEXT;
		if (w->agent->gone)
			return window_process_died(run, st, w);
		left = deadline - proc_now_ms();
		/* Poll at least once, so that within=0ms still sees what the
		 * agent already sent. */
		if (left <= 0 && polled)
			return STEP_NEXT;
		r = pump(run, st, left);
		if (r < 0)
			return r;
		polled = true;
	}
}

/* Normalised JSON of a DATA value, so both sides print alike. */
static char *value_text(const cp_value *v, const char *fallback)
{
	char *s = v ? cp_value_to_json(v) : NULL;

	return s ? s : (fallback ? strdup(fallback) : NULL);
}

/* The port an expectation is about (port=), started in w if it is w's and
 * not started yet: as setting onmessage does, which dispatches what waited
 * in it.  *ret NULL without port=; *ret_failed when starting failed (a
 * failed test point was printed). */
static int expect_port(struct run *run, const struct scenario_statement *st, struct window *w,
		       struct object **ret, bool *ret_failed)
{
	struct scenario_result res = { 0 };
	struct object *o;
	struct tap_diag diag;
	int r;

	*ret = NULL;
	*ret_failed = false;
	if (!st->port)
		return STEP_NEXT;
	o = find_object(run, st->port);
	if (!o->created)
		return script_error(run, st, "port '%s' does not exist: its channel statement (line %u) failed",
				    o->alias, o->decl->line);
	if (!(o->has[w->index] & HAS_HELD))
		return script_error(run, st, "'%s' has never had port '%s'%s%s%s", w->decl->actor, o->alias,
				    o->owner ? " (it is " : "", o->owner ? o->owner->decl->actor : "",
				    o->owner ? "'s now)" : "");
	if (o->owner == w && o->riding)
		return script_error(run, st, "port '%s' is in a message that still waits in port '%s', which '%s' "
				    "has not started: match that message with '%s expect message port=%s' first",
				    o->alias, o->riding->alias, w->decl->actor, w->decl->actor, o->riding->alias);
	*ret = o;
	/* A port w listens to (`listen`: addEventListener) is not started by
	 * an expectation: its queue stays disabled until `start`. */
	if (o->owner != w || (o->has[w->index] & HAS_LISTENING))
		return STEP_NEXT;
	r = call_agent(run, st, w, json_pack("{s:s, s:I}", "cmd", "onmessage", "port", port_ref(o)), &res);
	if (r < 0)
		return r;
	if (res.ok) {
		o->has[w->index] |= HAS_STARTED | HAS_LISTENING;
		for (size_t i = 0; i < run->object_count; i++)
			if (run->objects[i].riding == o)
				run->objects[i].riding = NULL;
		scenario_result_deinit(&res);
		return STEP_NEXT;
	}
	tap_diag_init(&diag);
	tap_diag_string(&diag, 0, "statement", st->text);
	tap_diag_string(&diag, 0, "expected", "the port can be listened to");
	tap_diag_string(&diag, 0, "error", res.error);
	tap_diag_string(&diag, 0, "message", res.message);
	point(run, st, false, scenario_verb_name(st->verb), &diag);
	tap_diag_deinit(&diag);
	scenario_result_deinit(&res);
	*ret_failed = true;
	return STEP_NEXT;
}

/* The runner's side of {"$buffer":"B"} and {"$port":"P"} in an expected
 * DATA: B's bytes as its buffer statement made them, and P as received
 * data names ports (scenario_value_rewrite_ports()). */
struct expected {
	struct run *run;
	/* The node made for each buffer, to find it in the expected value. */
	struct { const char *name; cp_value *node; } *made;
	size_t count;
};

static int expected_buffer(void *userdata, const char *name, cp_value **ret)
{
	struct expected *e = userdata;
	struct object *o = find_object(e->run, name);
	uint8_t *bytes;
	size_t len = 0;
	void *v;
	int r;

	if (!o)
		return CP_ERR_TYPE;
	v = realloc(e->made, (e->count + 1) * sizeof(*e->made));
	if (!v)
		return CP_ERR_NO_MEMORY;
	e->made = v;
	if (o->decl->bytes) {
		/* bytes=BASE64, read as the window process read it */
		json_t *tagged = json_pack("{s:s}", "$bytes", o->decl->bytes);
		char *text = tagged ? json_dumps(tagged, JSON_COMPACT) : NULL;

		json_decref(tagged);
		r = text ? cp_value_from_json(text, strlen(text), NULL, ret) : CP_ERR_NO_MEMORY;
		free(text);
		if (r < 0)
			return r;
	} else {
		r = cp_value_new_array_buffer(NULL, o->decl->size, ret);
		if (r < 0)
			return r;
		bytes = cp_value_array_buffer_data_mut(*ret, &len);
		if (bytes && o->decl->fill)
			memset(bytes, (int)o->decl->fill, len);
	}
	e->made[e->count].name = o->alias;
	e->made[e->count++].node = *ret;
	return 0;
}

static int expected_port(void *userdata, const char *name, cp_value **ret)
{
	struct expected *e = userdata;
	struct object *o = find_object(e->run, name);
	char desc[64];

	if (!o)
		return CP_ERR_TYPE;
	/* A port that was never made matches nothing: id 0 is never a port. */
	snprintf(desc, sizeof(desc), SCENARIO_PLACEHOLDER "port:#%" PRIu64, o->created ? o->id : 0);
	return cp_value_new_host_object(desc, ret);
}

/* Binds the buffers that came to w with this event to their names in w's
 * process: each is the node at the place where the expected DATA names it. */
static int bind_buffers(struct run *run, const struct scenario_statement *st, struct window *w,
			const struct scenario_event *ev, const cp_value *expected, const struct expected *e)
{
	struct scenario_result res = { 0 };
	const cp_value **buffers = NULL;
	size_t count = 0;
	json_t *pairs = json_array(), *cmd;
	int r;

	if (!pairs || scenario_value_buffers(expected, &buffers, &count) < 0) {
		json_decref(pairs);
		return script_error(run, st, "out of memory");
	}
	for (size_t i = 0; i < e->count; i++) {
		struct object *o = find_object(run, e->made[i].name);

		if (o->owner != w || (o->has[w->index] & HAS_CURRENT))
			continue;
		for (size_t k = 0; k < count; k++)
			if (buffers[k] == e->made[i].node)
				json_array_append_new(pairs, json_pack("[s, I]", o->alias, (json_int_t)k));
	}
	free(buffers);
	if (json_array_size(pairs) == 0) {
		json_decref(pairs);
		return STEP_NEXT;
	}
	cmd = json_pack("{s:s, s:I, s:O}", "cmd", "bind", "event", (json_int_t)ev->seq, "buffers", pairs);
	r = call_agent(run, st, w, cmd, &res);
	if (r < 0) {
		json_decref(pairs);
		return r;
	}
	if (!res.ok) {
		json_decref(pairs);
		r = script_error(run, st, "cannot name the buffers that came with this event: %s: %s", res.error,
				 res.message);
		scenario_result_deinit(&res);
		return r;
	}
	for (size_t i = 0; i < json_array_size(pairs); i++) {
		struct object *o = find_object(run, json_string_value(json_array_get(json_array_get(pairs, i), 0)));

		o->has[w->index] |= HAS_HELD | HAS_CURRENT;
		if (run->opt->verbose)
			tap_comment(run->opt->tap, "%s: buffer %s is bound", w->decl->actor, o->alias);
	}
	json_decref(pairs);
	scenario_result_deinit(&res);
	return STEP_NEXT;
}

/* Compares an event's data with the expected DATA; binds named buffers
 * that came to w when they match. */
static int check_data(struct run *run, const struct scenario_statement *st, struct window *w,
		      const struct scenario_event *ev, bool *ret_equal)
{
	struct expected e = { .run = run };
	const struct scenario_resolver resolver = {
		.buffer = expected_buffer, .port = expected_port, .userdata = &e,
	};
	_cleanup_(freep) char *text = NULL;
	const cp_value *expected = st->data;
	cp_value *keeper = NULL, *resolved = NULL, *got = NULL;
	int r = STEP_NEXT;

	*ret_equal = false;
	if (!ev->data_json)
		return STEP_NEXT;           /* too large to be reported */
	if (st->data_named) {
		if (cp_value_new_array(&keeper) < 0 ||
		    scenario_value_resolve(st->data, &resolver, keeper, &resolved, NULL) < 0) {
			cp_value_free(keeper);
			free(e.made);
			return script_error(run, st, "cannot build the expected value (out of memory?)");
		}
		expected = resolved;
	}
	text = scenario_value_rewrite_ports(ev->data_json);
	if (!text) {
		cp_value_free(keeper);
		free(e.made);
		return script_error(run, st, "out of memory");
	}
	if (cp_value_from_json(text, strlen(text), NULL, &got) == 0)
		*ret_equal = cp_value_equal(expected, got);
	if (*ret_equal && st->data_named)
		r = bind_buffers(run, st, w, ev, expected, &e);
	cp_value_free(got);
	cp_value_free(keeper);
	free(e.made);
	return r;
}

static void diag_event(struct run *run, struct tap_diag *diag, const struct scenario_event *ev)
{
	_cleanup_(freep) char *source = describe_source(run, ev->source_id, ev->generation, ev->source_name);
	char buf[32], size[64];

	tap_diag_section(diag, 0, "got");
	tap_diag_string(diag, 2, "type", ev->messageerror ? "messageerror" : "message");
	if (ev->data_too_large) {
		snprintf(size, sizeof(size), "not shown: %zu bytes of JSON, over the limit", ev->data_too_large);
		tap_diag_string(diag, 2, "data", size);
	} else if (!ev->messageerror) {
		tap_diag_json(diag, 2, "data", ev->data_json);
	}
	tap_diag_string(diag, 2, "origin", ev->origin);
	if (ev->last_event_id && *ev->last_event_id)
		tap_diag_string(diag, 2, "last-event-id", ev->last_event_id);
	tap_diag_string(diag, 2, "source", source);
	if (ev->port_id)
		tap_diag_string(diag, 2, "port", port_label(run, ev->port_id, ev->generation, buf, sizeof(buf)));
	if (ev->port_count) {
		_cleanup_(freep) char *list = NULL;
		size_t len = 0;
		FILE *f = open_memstream(&list, &len);

		if (f) {
			for (size_t i = 0; i < ev->port_count; i++)
				fprintf(f, "%s%s", i ? ", " : "", port_label(run, ev->ports[i], ev->generation, buf, sizeof(buf)));
			fclose(f);
		}
		tap_diag_string(diag, 2, "ports", list);
	}
}

/* ports=P1,P2: event.ports are those ports, in that order. */
static bool ports_match(struct run *run, const struct scenario_statement *st, const struct scenario_event *ev)
{
	size_t i;

	for (i = 0; st->ports_list[i]; i++) {
		struct object *o = find_object(run, st->ports_list[i]);

		if (i >= ev->port_count || !o->created || o->id != ev->ports[i] || o->gen != ev->generation)
			return false;
	}
	return i == ev->port_count;
}

/* The BroadcastChannel an expectation is about (channel=), which must be
 * w's; *ret NULL without channel=. */
static int expect_channel(struct run *run, const struct scenario_statement *st, struct window *w,
			  struct bchannel **ret)
{
	struct bchannel *bc;

	*ret = NULL;
	if (!st->channel)
		return STEP_NEXT;
	bc = find_bchannel(run, st->channel);
	if (!bc->created)
		return script_error(run, st, "BroadcastChannel '%s' does not exist: its statement (line %u) failed",
				    st->channel, bc->decl->line);
	if (bc->owner != w)
		return script_error(run, st, "BroadcastChannel '%s' is %s's, not %s's", st->channel,
				    bc->owner->decl->actor, w->decl->actor);
	*ret = bc;
	return STEP_NEXT;
}

static int exec_expect_event(struct run *run, const struct scenario_statement *st, struct window *w)
{
	struct bchannel *bc = NULL;
	bool want_error = st->verb == SCENARIO_EXPECT_MESSAGEERROR;
	struct scenario_event *ev = NULL;
	_cleanup_(freep) char *differs = NULL;
	struct tap_diag diag;
	struct window *sw = NULL;
	struct object *port = NULL;
	size_t differs_len = 0;
	bool start_failed;
	char within[32];
	FILE *d;
	int r;

	r = need_open(run, st, w, "");
	if (r < 0)
		return r;
	if (st->source) {
		sw = find_window(run, st->source);
		r = need_open(run, st, sw, "the expected source ");
		if (r < 0)
			return r;
	}
	r = expect_port(run, st, w, &port, &start_failed);
	if (r < 0 || start_failed)
		return r;
	r = expect_channel(run, st, w, &bc);
	if (r < 0)
		return r;
	r = next_event(run, st, w, port ? (int64_t)port->id : 0, bc ? bc->id : 0, st->within_ms, &ev);
	if (r < 0)
		return r;
	d = open_memstream(&differs, &differs_len);
	if (!d)
		return script_error(run, st, "out of memory");
	if (ev) {
		if (ev->messageerror != want_error)
			fputs(", type", d);
		if (st->data && !ev->messageerror) {
			bool equal;

			r = check_data(run, st, w, ev, &equal);
			if (r < 0) {
				fclose(d);
				scenario_event_free(ev);
				return r;
			}
			if (!equal)
				fputs(", data", d);
		}
		if (st->origin && strcmp(st->origin, ev->origin) != 0)
			fputs(", origin", d);
		if (st->source_null && ev->source_id != 0)
			fputs(", source", d);
		if (sw && (ev->source_id != window_id_at(run, sw, ev->generation) ||
			   (window_name(sw) && (!ev->source_name || strcmp(window_name(sw), ev->source_name) != 0))))
			fputs(", source", d);
		if (st->ports_given && ev->port_count != st->ports)
			fputs(", ports", d);
		else if (st->ports_list && !ports_match(run, st, ev))
			fputs(", ports", d);
		if (st->last_event_id && (!ev->last_event_id || strcmp(ev->last_event_id, st->last_event_id) != 0))
			fputs(", last-event-id", d);
		w->has_last_event = true;
		w->last_source_id = ev->source_id;
		w->last_source_gen = ev->generation;
		free(w->last_origin);
		w->last_origin = strdup(ev->origin);
		if (!w->last_origin) {
			fclose(d);
			scenario_event_free(ev);
			return script_error(run, st, "out of memory");
		}
		if (run->opt->verbose) {
			char buf[32];

			tap_comment(run->opt->tap, "%s got %s on %s from source %" PRIu64 ", origin %s, %zu ports: %s",
				    w->decl->actor, ev->messageerror ? "messageerror" : "message",
				    port_label(run, ev->port_id, ev->generation, buf, sizeof(buf)), ev->source_id, ev->origin,
				    ev->port_count, ev->data_json ? ev->data_json : "");
		}
	} else {
		fputs(", nothing arrived", d);
	}
	fclose(d);

	tap_diag_init(&diag);
	tap_diag_string(&diag, 0, "statement", st->text);
	tap_diag_section(&diag, 0, "expected");
	tap_diag_string(&diag, 2, "type", want_error ? "messageerror" : "message");
	if (st->data && st->data_named) {
		tap_diag_json(&diag, 2, "data", st->data_json);
	} else if (st->data) {
		_cleanup_(freep) char *text = value_text(st->data, st->data_json);

		tap_diag_json(&diag, 2, "data", text);
	}
	if (st->origin)
		tap_diag_string(&diag, 2, "origin", st->origin);
	if (st->source_null) {
		tap_diag_string(&diag, 2, "source", "null");
	} else if (sw) {
		_cleanup_(freep) char *source = describe_source(run, sw->id, run->generation, window_name(sw));

		tap_diag_string(&diag, 2, "source", source);
	}
	if (port)
		tap_diag_string(&diag, 2, "port", port->alias);
	if (st->ports_list) {
		_cleanup_(freep) char *list = NULL;
		size_t len = 0;
		FILE *f = open_memstream(&list, &len);

		if (f) {
			for (size_t i = 0; st->ports_list[i]; i++)
				fprintf(f, "%s%s", i ? ", " : "", st->ports_list[i]);
			fclose(f);
		}
		tap_diag_string(&diag, 2, "ports", list);
	} else if (st->ports_given) {
		char n[16];

		snprintf(n, sizeof(n), "%u", st->ports);
		tap_diag_json(&diag, 2, "ports", n);
	}
	if (st->last_event_id)
		tap_diag_string(&diag, 2, "last-event-id", st->last_event_id);
	snprintf(within, sizeof(within), "%" PRId64 "ms", st->within_ms);
	tap_diag_string(&diag, 2, "within", within);
	if (ev)
		diag_event(run, &diag, ev);
	else
		tap_diag_string(&diag, 0, "got", "nothing");
	tap_diag_string(&diag, 0, "differs", differs && *differs ? differs + 2 : "");
	/* --verbose: the broker says why what was expected did not come. */
	if (differs_len && run->opt->verbose && run->opt->broker && !port && !bc) {
		read_broker_log(run);
		diag_drops(run, &diag, w->id);
	}
	observe(run, observed_event(run, ev));
	if (differs && *differs) {
		char why[96];

		/* "nothing arrived", or "data, origin differ". */
		snprintf(why, sizeof(why), "%s%s", differs + 2, !ev ? "" : strchr(differs + 2, ',') ? " differ" : " differs");
		point_why(run, st, false, scenario_verb_name(st->verb), &diag, why);
	} else {
		point(run, st, true, scenario_verb_name(st->verb), &diag);
	}
	tap_diag_deinit(&diag);
	scenario_event_free(ev);
	return STEP_NEXT;
}

static int exec_expect_nothing(struct run *run, const struct scenario_statement *st, struct window *w)
{
	int64_t deadline = proc_now_ms() + st->within_ms;
	struct scenario_event *ev = NULL;
	struct object *port = NULL;
	struct bchannel *bc = NULL;
	struct tap_diag diag;
	bool start_failed;
	char within[64];
	int r;

	r = need_open(run, st, w, "");
	if (r < 0)
		return r;
	r = expect_port(run, st, w, &port, &start_failed);
	if (r < 0 || start_failed)
		return r;
	r = expect_channel(run, st, w, &bc);
	if (r < 0)
		return r;
	for (bool polled = false;;) {
		int64_t left;

		/* Without port=: nothing on the window nor on any port. */
		ev = port ? scenario_agent_pop_event_on(w->agent, port->id, 0) :
		     bc ? scenario_agent_pop_event_on(w->agent, 0, bc->id) : scenario_agent_pop_event(w->agent);
		if (ev)
			break;
		if (w->agent->gone)
			return window_process_died(run, st, w);
		left = deadline - proc_now_ms();
		if (left <= 0 && polled)
			break;
		r = pump(run, st, left);
		if (r < 0)
			return r;
		polled = true;
	}
	snprintf(within, sizeof(within), "no event%s%s within %" PRId64 "ms", port || bc ? " on " : "",
		 port ? port->alias : bc ? st->channel : "", st->within_ms);
	tap_diag_init(&diag);
	tap_diag_string(&diag, 0, "statement", st->text);
	tap_diag_string(&diag, 0, "expected", within);
	if (ev)
		diag_event(run, &diag, ev);
	observe(run, observed_event(run, ev));
	point_why(run, st, ev == NULL, scenario_verb_name(st->verb), &diag, "a message arrived");
	tap_diag_deinit(&diag);
	scenario_event_free(ev);
	return STEP_NEXT;
}

/* expect detached B (addition): B, in w's process, is detached. */
static int exec_expect_detached(struct run *run, const struct scenario_statement *st, struct window *w)
{
	struct object *o = find_object(run, st->buffer);
	struct scenario_result res = { 0 };
	struct tap_diag diag;
	char got[96];
	int r;

	/* The node w's process names B: the live one, or the one B left
	 * behind (also when B came back and is not bound again yet). */
	if (!o->created || !(o->has[w->index] & HAS_HELD))
		return need_object(run, st, w, o);
	r = call_agent(run, st, w, json_pack("{s:s, s:s}", "cmd", "detached", "name", o->alias), &res);
	if (r < 0)
		return r;
	tap_diag_init(&diag);
	tap_diag_string(&diag, 0, "statement", st->text);
	tap_diag_string(&diag, 0, "expected", "detached (byteLength 0)");
	if (res.ok) {
		snprintf(got, sizeof(got), "%s (byteLength %" PRIu64 ")", res.detached ? "detached" : "not detached",
			 res.byte_length);
		tap_diag_string(&diag, 0, "got", got);
	} else {
		tap_diag_string(&diag, 0, "error", res.error);
		tap_diag_string(&diag, 0, "message", res.message);
	}
	observe(run, res.ok ? json_pack("{s:b, s:I}", "detached", res.detached, "byteLength", (json_int_t)res.byte_length)
			    : json_pack("{s:s?}", "error", res.error));
	point(run, st, res.ok && res.detached && res.byte_length == 0, scenario_verb_name(st->verb), &diag);
	tap_diag_deinit(&diag);
	scenario_result_deinit(&res);
	return STEP_NEXT;
}

static int exec_expect_error(struct run *run, const struct scenario_statement *st, struct window *w)
{
	char got_error[128] = "success";
	struct tap_diag diag;
	char label[128];
	bool ok;

	tap_diag_init(&diag);
	tap_diag_string(&diag, 0, "statement", st->text);
	tap_diag_string(&diag, 0, "refers_to", w->last ? w->last->text : NULL);
	tap_diag_string(&diag, 0, "expected", st->error_name);
	if (w->last_failed) {
		snprintf(got_error, sizeof(got_error), "%s", w->fail_error);
		ok = strcmp(w->fail_error, st->error_name) == 0;
		tap_diag_string(&diag, 0, "got", w->fail_error);
		tap_diag_string(&diag, 0, "message", w->fail_message);
		w->last_failed = false;
	} else {
		ok = false;
		tap_diag_string(&diag, 0, "got", "success");
	}
	snprintf(label, sizeof(label), "expect error %s", st->error_name);
	observe(run, json_pack("{s:s?}", "error", w->last == NULL ? NULL : ok ? st->error_name :
			       strcmp(got_error, "success") == 0 ? NULL : got_error));
	point(run, st, ok, label, &diag);
	tap_diag_deinit(&diag);
	return STEP_NEXT;
}

static int exec_sleep(struct run *run, const struct scenario_statement *st)
{
	int64_t deadline = proc_now_ms() + st->duration_ms;

	/* Waiting through the agents' poll keeps their events flowing. */
	for (;;) {
		int64_t left = deadline - proc_now_ms();
		int r;

		if (left <= 0)
			return STEP_NEXT;
		r = pump(run, st, left);
		if (r < 0)
			return r;
	}
}

/* Remembers w's current id as its id at the current broker generation. */
static int save_id(struct run *run, struct window *w)
{
	size_t need = (size_t)run->generation + 1;
	uint64_t *v;

	if (w->old_count < need) {
		v = realloc(w->old_ids, need * sizeof(*v));
		if (!v)
			return -ENOMEM;
		memset(v + w->old_count, 0, (need - w->old_count) * sizeof(*v));
		w->old_ids = v;
		w->old_count = need;
	}
	w->old_ids[run->generation] = w->id;
	return 0;
}

/* `restart broker`: SIGKILL the private broker, start a new one on the same
 * socket, and have every window process reconnect and register its window
 * again (same URL after navigation, name and flags); its new id replaces
 * the old one.  Ports die with the old broker. */
static int exec_restart(struct run *run, const struct scenario_statement *st)
{
	char err[2048];
	int r;

	if (!run->opt->broker)
		return script_error(run, st, "'restart broker' needs a private broker: the broker at "
				    "--socket is not this run's to restart");
	for (size_t i = 0; i < run->count; i++)
		if (save_id(run, &run->windows[i]) < 0)
			return script_error(run, st, "out of memory");
	/* What the old broker routed is recorded before it dies. */
	scenario_trace_detach(run->opt->trace);
	r = scenario_broker_restart(run->opt->broker, run->opt->broker_program, err, sizeof(err));
	if (r < 0)
		return script_error(run, st, "cannot restart the broker: %s", err);
	run->generation++;
	if (run->opt->trace) {
		scenario_trace_restarted(run->opt->trace);
		if (scenario_trace_attach(run->opt->trace, run->opt->socket_path, err, sizeof(err)) < 0)
			return script_error(run, st, "--diagram: cannot watch the restarted broker: %s", err);
	}
	/* The broker held the channels: every port is dead now. */
	for (size_t i = 0; i < run->object_count; i++)
		if (run->objects[i].port && run->objects[i].created)
			disentangle(&run->objects[i]);
	for (size_t i = 0; i < run->count; i++) {
		struct window *w = &run->windows[i];
		struct scenario_result res = { 0 };
		struct tap_diag diag;

		w->id = 0;
		if (w->killed || w->dead_reported || !w->agent)
			continue;
		r = call_agent(run, st, w, json_pack("{s:s}", "cmd", "reconnect"), &res);
		if (r < 0)
			return r;
		w->agent->generation = run->generation;
		free(w->agent->lost);
		w->agent->lost = NULL;
		if (res.ok) {
			w->id = res.id;
			if (w->id)
				scenario_trace_window_id(run->opt->trace, w->decl->actor, w->id);
			if (run->opt->verbose && w->id)
				tap_comment(run->opt->tap, "%s is window %" PRIu64 " after the restart, origin %s",
					    w->decl->actor, w->id, res.origin ? res.origin : "?");
			scenario_result_deinit(&res);
			continue;
		}
		tap_diag_init(&diag);
		tap_diag_string(&diag, 0, "statement", st->text);
		tap_diag_string(&diag, 0, "window", w->decl->actor);
		tap_diag_string(&diag, 0, "expected", "the window registers again with the new broker");
		tap_diag_string(&diag, 0, "error", res.error ? res.error : "?");
		tap_diag_string(&diag, 0, "message", res.message ? res.message : "");
		point(run, st, false, "window re-registers", &diag);
		tap_diag_deinit(&diag);
		scenario_result_deinit(&res);
		return STEP_STOP;
	}
	/* A second alias follows the window it names. */
	for (size_t i = 0; i < run->count; i++) {
		struct window *w = &run->windows[i];

		if (w->same_as) {
			struct window *t = w->same_as;

			while (t->same_as)
				t = t->same_as;
			w->id = t->id;
		}
	}
	return STEP_NEXT;
}

static int exec_statement(struct run *run, const struct scenario_statement *st, struct window *w)
{
	const char *cannot = run->opt->browser ? browser_cannot(st) : NULL;
	int r;

	if (cannot)
		return skip_rest(run, st, cannot);
	switch (st->verb) {
	case SCENARIO_WINDOW:
		return exec_window(run, st);
	case SCENARIO_POST:
	case SCENARIO_POST_CORRUPT:
		return exec_post(run, st, w);
	case SCENARIO_REPLY:
		return exec_reply(run, st, w);
	case SCENARIO_EXPECT_MESSAGE:
	case SCENARIO_EXPECT_MESSAGEERROR:
		return exec_expect_event(run, st, w);
	case SCENARIO_EXPECT_NOTHING:
		return exec_expect_nothing(run, st, w);
	case SCENARIO_EXPECT_ERROR:
		return exec_expect_error(run, st, w);
	case SCENARIO_NAVIGATE:
		r = need_open(run, st, w, "");
		if (r < 0)
			return r;
		return command(run, st, w, json_pack("{s:s, s:s}", "cmd", "navigate", "url", st->url), NULL);
	case SCENARIO_CLOSE:
		r = need_open(run, st, w, "");
		if (r < 0)
			return r;
		/* The window process counts it closed even when it failed. */
		r = command(run, st, w, json_pack("{s:s}", "cmd", "close"), NULL);
		if (r >= 0)
			w->closed = true;
		return r;
	case SCENARIO_SLEEP:
		return exec_sleep(run, st);
	case SCENARIO_KILL:
		if (!w->agent)
			return script_error(run, st, "'%s' has no window process (its statement failed)", w->decl->actor);
		scenario_agent_kill(w->agent);
		w->killed = true;
		/* The broker closes the ports of a connection that goes away. */
		for (size_t i = 0; i < run->object_count; i++)
			if (run->objects[i].port && run->objects[i].owner == w)
				disentangle(&run->objects[i]);
		return STEP_NEXT;
	case SCENARIO_CHANNEL:
		return exec_channel(run, st, w);
	case SCENARIO_BUFFER:
		return exec_buffer(run, st, w);
	case SCENARIO_SEND:
		return exec_send(run, st, w);
	case SCENARIO_CLOSE_PORT:
		return exec_close_port(run, st, w);
	case SCENARIO_EXPECT_DETACHED:
		return exec_expect_detached(run, st, w);
	case SCENARIO_RESTART_BROKER:
		return exec_restart(run, st);
	case SCENARIO_OPEN:
		return exec_open(run, st);
	case SCENARIO_FRAME:
		return exec_frame(run, st);
	case SCENARIO_REMOVE:
		return exec_remove(run, st, w);
	case SCENARIO_EXPECT_CLOSED:
	case SCENARIO_EXPECT_OPEN:
		return exec_expect_window_state(run, st, w);
	case SCENARIO_HOLD:
	case SCENARIO_RELEASE:
		return exec_hold(run, st, w);
	case SCENARIO_START_PORT:
	case SCENARIO_LISTEN_PORT:
		return exec_port_verb(run, st, w);
	case SCENARIO_SEND_CORRUPT:
		return exec_send(run, st, w);
	case SCENARIO_CLOSE_WINDOW:
		return exec_close_window(run, st, w);
	case SCENARIO_BROADCAST_OPEN:
	case SCENARIO_BROADCAST_POST:
	case SCENARIO_CLOSE_BROADCAST:
		return exec_broadcast(run, st, w);
	}
	return script_error(run, st, "'%s' is not supported", scenario_verb_name(st->verb));
}

int scenario_check_supported(const struct scenario *s, bool external_broker, char *errbuf, size_t errlen)
{
	for (size_t i = 0; i < s->count; i++) {
		const struct scenario_statement *st = &s->statements[i];

		if (st->verb == SCENARIO_RESTART_BROKER && external_broker) {
			snprintf(errbuf, errlen, "%s:%u: 'restart broker' needs a private broker: the broker at "
				 "--socket is not this run's to restart", s->file, st->line);
			return -ENOTSUP;
		}
	}
	return 0;
}

/* Ends every window process; one that does not exit cleanly (a crash, a
 * sanitizer report) fails the scenario. */
static void finish_windows(struct run *run)
{
	for (size_t i = 0; i < run->count; i++) {
		struct window *w = &run->windows[i];
		struct tap_diag diag;
		char how[96];

		if (w->killed || w->dead_reported || !w->agent)
			continue;
		if (scenario_agent_finish(w->agent) == 0)
			continue;
		tap_diag_init(&diag);
		tap_diag_string(&diag, 0, "expected", "the window process exits with status 0");
		tap_diag_string(&diag, 0, "got", proc_describe_status(w->agent->status, how, sizeof(how)));
		point(run, w->decl, false, "window process exit", &diag);
		tap_diag_deinit(&diag);
	}
}

/* One object per port and buffer alias, in the order they are declared. */
static int init_objects(struct run *run)
{
	for (size_t i = 0; i < run->s->count; i++) {
		const struct scenario_statement *st = &run->s->statements[i];
		const char *aliases[2] = { st->port1, st->port2 };
		size_t n = st->verb == SCENARIO_CHANNEL ? 2 : st->verb == SCENARIO_BUFFER ? 1 : 0;

		if (st->verb == SCENARIO_BUFFER)
			aliases[0] = st->buffer;
		for (size_t k = 0; k < n; k++) {
			struct object *o = &run->objects[run->object_count++];

			*o = (struct object){ .decl = st, .alias = aliases[k], .port = n == 2 };
			o->has = calloc(run->window_max + 1, sizeof(*o->has));
			if (!o->has)
				return -ENOMEM;
		}
		if (n == 2) {
			run->objects[run->object_count - 2].peer = &run->objects[run->object_count - 1];
			run->objects[run->object_count - 1].peer = &run->objects[run->object_count - 2];
		}
	}
	return 0;
}

/* The statement that declares window alias (window, open, frame). */
static const struct scenario_statement *declaration(const struct scenario *s, const char *alias)
{
	for (size_t i = 0; i < s->count; i++) {
		const struct scenario_statement *st = &s->statements[i];

		if ((st->verb == SCENARIO_WINDOW || st->verb == SCENARIO_OPEN || st->verb == SCENARIO_FRAME) &&
		    strcmp(st->actor, alias) == 0)
			return st;
	}
	return NULL;
}

/* --filter with a block: the block's statements may name the windows of
 * the statements before the first block and of the block itself, not
 * those of another block (which does not run). */
static int check_filter(struct run *run)
{
	const struct scenario *s = run->s;

	if (run->opt->only_block < 0)
		return 0;
	for (size_t i = 0; i < s->count; i++) {
		const struct scenario_statement *st = &s->statements[i];
		const char *names[] = { st->actor, st->target_kind == SCENARIO_TARGET_WINDOW ? st->target_alias : NULL,
					st->opener, st->parent, st->source,
					st->verb == SCENARIO_EXPECT_CLOSED || st->verb == SCENARIO_EXPECT_OPEN ?
					st->target_alias : NULL };

		if (st->block != run->opt->only_block)
			continue;
		for (size_t k = 0; k < sizeof(names) / sizeof(names[0]); k++) {
			const struct scenario_statement *decl = names[k] ? declaration(s, names[k]) : NULL;

			if (decl && decl->block >= 0 && decl->block != run->opt->only_block)
				return script_error(run, st, "--filter %s: '%s' is declared in block '%s' (line %u), "
						    "which does not run", s->blocks[run->opt->only_block], names[k],
						    s->blocks[decl->block], decl->line);
		}
	}
	return 0;
}

enum scenario_outcome scenario_run(const struct scenario *s, const struct scenario_run_options *opt)
{
	struct run run = { .s = s, .opt = opt };
	size_t windows = 0, objects = 0, i;

	for (i = 0; i < s->count; i++) {
		windows += s->statements[i].verb == SCENARIO_WINDOW || s->statements[i].verb == SCENARIO_OPEN ||
			   s->statements[i].verb == SCENARIO_FRAME;
		objects += s->statements[i].verb == SCENARIO_CHANNEL ? 2 : s->statements[i].verb == SCENARIO_BUFFER;
	}
	run.window_max = windows;
	run.bchannels = calloc(s->count + 1, sizeof(*run.bchannels));
	for (i = 0; run.bchannels && i < s->count; i++)
		if (s->statements[i].verb == SCENARIO_BROADCAST_OPEN)
			run.bchannels[run.bchannel_count++].decl = &s->statements[i];
	run.windows = calloc(windows + 1, sizeof(*run.windows));
	run.agents = calloc(windows + 1, sizeof(*run.agents));
	run.objects = calloc(objects + 1, sizeof(*run.objects));
	if (!run.windows || !run.agents || !run.objects || !run.bchannels || init_objects(&run) < 0) {
		fprintf(stderr, "crosspost run: %s: out of memory\n", s->file);
		run.outcome = SCENARIO_SCRIPT_ERROR;
		goto out;
	}
	if (check_filter(&run) < 0)
		goto out;
	if (opt->trace) {
		char err[512];

		if (scenario_trace_attach(opt->trace, opt->socket_path, err, sizeof(err)) < 0) {
			fflush(stdout);
			fprintf(stderr, "crosspost run: %s: --diagram: cannot watch the broker at %s: %s\n", s->file,
				opt->socket_path, err);
			run.outcome = SCENARIO_SCRIPT_ERROR;
			goto out;
		}
	}
	for (i = 0; i < s->count; i++) {
		const struct scenario_statement *st = &s->statements[i];
		struct window *w = NULL;

		if (opt->only_block >= 0 && st->block >= 0 && st->block != opt->only_block)
			continue;
		if (opt->select_line && st->line > opt->select_line)
			break;
		if (*opt->interrupted) {
			interrupted(&run, st);
			break;
		}
		if (st->actor && st->verb != SCENARIO_WINDOW && st->verb != SCENARIO_OPEN && st->verb != SCENARIO_FRAME)
			w = find_window(&run, st->actor);
		/* A failure is consumed only by the window's very next statement. */
		if (w && st->verb != SCENARIO_EXPECT_ERROR)
			report_unconsumed_failure(&run, w);
		if (opt->verbose)
			tap_comment(opt->tap, "%s:%u: %s", s->file, st->line, st->text);
		/* What the last statement made the broker do is its. */
		scenario_trace_sync(opt->trace);
		scenario_trace_line(opt->trace, st->line);
		if (exec_statement(&run, st, w) < 0)
			break;
		if (opt->verbose)
			read_broker_log(&run);
	}
	if (i == s->count || (opt->select_line && i < s->count && s->statements[i].line > opt->select_line))
		for (size_t k = 0; k < run.count; k++)
			report_unconsumed_failure(&run, &run.windows[k]);
	if (opt->select_line && !run.selected_reported && run.outcome < SCENARIO_SCRIPT_ERROR)
		for (size_t k = 0; k < s->count; k++)
			if (s->statements[k].line == opt->select_line) {
				struct tap_diag diag;

				tap_diag_init(&diag);
				tap_diag_string(&diag, 0, "statement", s->statements[k].text);
				tap_diag_string(&diag, 0, "got", "not reached: the script stopped before it");
				point(&run, &s->statements[k], false, scenario_verb_name(s->statements[k].verb), &diag);
				tap_diag_deinit(&diag);
			}
	/* Before the window processes go: their windows closing at the end
	 * would be drawn in whatever order the broker notices it. */
	scenario_trace_detach(opt->trace);
	finish_windows(&run);
out:
	scenario_trace_detach(opt->trace);
	for (i = 0; i < run.count; i++) {
		scenario_agent_free(run.windows[i].agent);
		free(run.windows[i].last_origin);
		free(run.windows[i].old_ids);
		free(run.windows[i].fail_error);
		free(run.windows[i].fail_message);
	}
	free(run.windows);
	free(run.agents);
	for (i = 0; i < run.object_count; i++)
		free(run.objects[i].has);
	free(run.objects);
	free(run.bchannels);
	for (i = 0; i < run.drop_count; i++)
		free(run.drops[i]);
	free(run.drops);
	return run.outcome;
}
