/* SPDX-License-Identifier: MIT */
/* scenario_run.c - executes one parsed scenario against a broker: window processes, statements, expectations. */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include <jansson.h>

#include "cleanup.h"
#include "scenario_agent.h"
#include "scenario_proc.h"
#include "scenario_run.h"

/* The runner's view of one window (one per window statement). */
struct window {
	const struct scenario_statement *decl;  /* its window statement */
	struct scenario_agent *agent;           /* its process */
	uint64_t id;                            /* broker-assigned, once open */
	bool open;                              /* its window statement succeeded */
	bool killed;                            /* by `kill` */
	bool dead_reported;                     /* its process died and we said so */
	/* The last event matched by `expect message|messageerror`: what
	 * `source` and `reply` refer to. */
	bool has_last_event;
	uint64_t last_source_id;
	char *last_origin;
	/* The window's latest statement that can fail, and its failure while
	 * no `expect error` has consumed it. */
	const struct scenario_statement *last;
	bool last_failed;
	char *fail_error, *fail_message;
	bool failed_unexpectedly;               /* a failure no `expect error` matched */
};

struct run {
	const struct scenario *s;
	const struct scenario_run_options *opt;
	struct window *windows;                 /* in the order their statements ran */
	struct scenario_agent **agents;         /* agents[i] == windows[i].agent, for polling */
	size_t count;
	enum scenario_outcome outcome;
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

static struct window *find_window(struct run *run, const char *alias)
{
	for (size_t i = 0; i < run->count; i++)
		if (strcmp(run->windows[i].decl->actor, alias) == 0)
			return &run->windows[i];
	return NULL;
}

static struct window *find_window_by_id(struct run *run, uint64_t id)
{
	for (size_t i = 0; i < run->count; i++)
		if (run->windows[i].open && run->windows[i].id == id)
			return &run->windows[i];
	return NULL;
}

/* Prints one test point named "FILE:LINE ALIAS VERB".  A '#' would start a
 * TAP directive, so one in the file name is escaped. */
static void point(struct run *run, const struct scenario_statement *st, bool ok, const char *label,
		  struct tap_diag *diag)
{
	char *desc = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&desc, &len);

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
	free(desc);
	if (!ok)
		worsen(run, SCENARIO_FAILED);
}

/* "b (window 3)", "window 7 (not in this script)", "null". */
static char *describe_source(struct run *run, uint64_t id, const char *name)
{
	struct window *w = find_window_by_id(run, id);
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
	return script_error(run, st, "interrupted");
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
}

/* Sends cmd (consumed) to w's process and records how the statement ended. */
static int command(struct run *run, const struct scenario_statement *st, struct window *w, json_t *cmd,
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
	record_outcome(run, w, st, res.ok ? NULL : res.error, res.message);
	if (ret)
		*ret = res;
	else
		scenario_result_deinit(&res);
	return STEP_NEXT;
}

static int exec_window(struct run *run, const struct scenario_statement *st)
{
	struct window *w = &run->windows[run->count];
	struct scenario_result res = { 0 };
	int r;

	*w = (struct window){ .decl = st };
	r = scenario_agent_spawn(run->opt->self_exe, run->opt->socket_path, st->actor, &w->agent);
	if (r < 0)
		return script_error(run, st, "cannot start a window process: %s", strerror(-r));
	run->agents[run->count++] = w->agent;
	r = command(run, st, w, json_pack("{s:s, s:s, s:s?, s:b}", "cmd", "open", "url", st->url,
					  "name", st->name, "privileged", st->privileged), &res);
	if (r < 0)
		return r;
	if (res.ok) {
		w->open = true;
		w->id = res.id;
		if (run->opt->verbose)
			tap_comment(run->opt->tap, "%s is window %" PRIu64 ", origin %s", st->actor, w->id,
				    res.origin ? res.origin : "?");
	}
	scenario_result_deinit(&res);
	return STEP_NEXT;
}

/* `source`/`reply` need the last matched event; a null source is the
 * TypeError that event.source.postMessage() would throw. */
static int need_source(struct run *run, const struct scenario_statement *st, struct window *w,
		       bool *ret_null)
{
	*ret_null = false;
	if (!w->has_last_event)
		return script_error(run, st, "'%s' has matched no event yet (with expect message), so it "
				    "has no source to post to", w->decl->actor);
	if (w->last_source_id == 0) {
		*ret_null = true;
		record_outcome(run, w, st, "TypeError",
			       "event.source is null: the last event came from a privileged window");
	}
	return STEP_NEXT;
}

static int exec_post(struct run *run, const struct scenario_statement *st, struct window *w)
{
	struct window *target;
	json_t *cmd;
	bool null_source;
	int r;

	r = need_open(run, st, w, "");
	if (r < 0)
		return r;
	cmd = json_pack("{s:s, s:s, s:s}", "cmd", "post", "data", st->data_json, "targetOrigin",
			st->target_origin);
	if (cmd && st->verb == SCENARIO_POST_CORRUPT &&
	    json_object_set_new(cmd, "corrupt", json_string(scenario_corruption_name(st->corruption))) < 0) {
		json_decref(cmd);
		cmd = NULL;
	}
	if (!cmd)
		return script_error(run, st, "out of memory");
	switch (st->target_kind) {
	case SCENARIO_TARGET_WINDOW:
	case SCENARIO_TARGET_OPENER:
	case SCENARIO_TARGET_PARENT:
		target = find_window(run, st->target_alias);
		r = need_open(run, st, target, "the target ");
		if (r < 0) {
			json_decref(cmd);
			return r;
		}
		json_object_set_new(cmd, "target", json_integer((json_int_t)target->id));
		break;
	case SCENARIO_TARGET_SOURCE:
		r = need_source(run, st, w, &null_source);
		if (r < 0 || null_source) {
			json_decref(cmd);
			return r;
		}
		json_object_set_new(cmd, "target", json_integer((json_int_t)w->last_source_id));
		break;
	case SCENARIO_TARGET_NAME:
		json_object_set_new(cmd, "targetName", json_string(st->target_name));
		break;
	}
	return command(run, st, w, cmd, NULL);
}

static int exec_reply(struct run *run, const struct scenario_statement *st, struct window *w)
{
	bool null_source;
	int r;

	r = need_open(run, st, w, "");
	if (r < 0)
		return r;
	r = need_source(run, st, w, &null_source);
	if (r < 0 || null_source)
		return r;
	/* event.source.postMessage(DATA, event.origin) */
	return command(run, st, w, json_pack("{s:s, s:I, s:s, s:s}", "cmd", "post",
					     "target", (json_int_t)w->last_source_id,
					     "data", st->data_json, "targetOrigin", w->last_origin), NULL);
}

/* The next event of w within timeout_ms (*ret NULL when none came). */
static int next_event(struct run *run, const struct scenario_statement *st, struct window *w,
		      int64_t timeout_ms, struct scenario_event **ret)
{
	int64_t deadline = proc_now_ms() + timeout_ms;
	bool polled = false;

	for (;;) {
		int64_t left;
		int r;

		*ret = scenario_agent_pop_event(w->agent);
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

static void diag_event(struct run *run, struct tap_diag *diag, const struct scenario_event *ev)
{
	_cleanup_(freep) char *source = describe_source(run, ev->source_id, ev->source_name);

	tap_diag_section(diag, 0, "got");
	tap_diag_string(diag, 2, "type", ev->messageerror ? "messageerror" : "message");
	if (!ev->messageerror)
		tap_diag_json(diag, 2, "data", ev->data_json);
	tap_diag_string(diag, 2, "origin", ev->origin);
	tap_diag_string(diag, 2, "source", source);
}

static int exec_expect_event(struct run *run, const struct scenario_statement *st, struct window *w)
{
	bool want_error = st->verb == SCENARIO_EXPECT_MESSAGEERROR;
	struct scenario_event *ev = NULL;
	_cleanup_(freep) char *differs = NULL;
	struct tap_diag diag;
	struct window *sw = NULL;
	size_t differs_len = 0;
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
	r = next_event(run, st, w, st->within_ms, &ev);
	if (r < 0)
		return r;
	d = open_memstream(&differs, &differs_len);
	if (!d)
		return script_error(run, st, "out of memory");
	if (ev) {
		if (ev->messageerror != want_error)
			fputs(", type", d);
		if (st->data && !ev->messageerror) {
			cp_value *got = NULL;

			if (cp_value_from_json(ev->data_json, strlen(ev->data_json), NULL, &got) < 0 ||
			    !cp_value_equal(st->data, got))
				fputs(", data", d);
			cp_value_free(got);
		}
		if (st->origin && strcmp(st->origin, ev->origin) != 0)
			fputs(", origin", d);
		if (st->source_null && ev->source_id != 0)
			fputs(", source", d);
		if (sw && (ev->source_id != sw->id ||
			   (sw->decl->name && (!ev->source_name || strcmp(sw->decl->name, ev->source_name) != 0))))
			fputs(", source", d);
		w->has_last_event = true;
		w->last_source_id = ev->source_id;
		free(w->last_origin);
		w->last_origin = strdup(ev->origin);
		if (!w->last_origin) {
			fclose(d);
			scenario_event_free(ev);
			return script_error(run, st, "out of memory");
		}
		if (run->opt->verbose)
			tap_comment(run->opt->tap, "%s got %s from source %" PRIu64 ", origin %s: %s",
				    w->decl->actor, ev->messageerror ? "messageerror" : "message", ev->source_id,
				    ev->origin, ev->data_json ? ev->data_json : "");
	} else {
		fputs(", nothing arrived", d);
	}
	fclose(d);

	tap_diag_init(&diag);
	tap_diag_string(&diag, 0, "statement", st->text);
	tap_diag_section(&diag, 0, "expected");
	tap_diag_string(&diag, 2, "type", want_error ? "messageerror" : "message");
	if (st->data) {
		_cleanup_(freep) char *text = value_text(st->data, st->data_json);

		tap_diag_json(&diag, 2, "data", text);
	}
	if (st->origin)
		tap_diag_string(&diag, 2, "origin", st->origin);
	if (st->source_null) {
		tap_diag_string(&diag, 2, "source", "null");
	} else if (sw) {
		_cleanup_(freep) char *source = describe_source(run, sw->id, sw->decl->name);

		tap_diag_string(&diag, 2, "source", source);
	}
	snprintf(within, sizeof(within), "%" PRId64 "ms", st->within_ms);
	tap_diag_string(&diag, 2, "within", within);
	if (ev)
		diag_event(run, &diag, ev);
	else
		tap_diag_string(&diag, 0, "got", "nothing");
	tap_diag_string(&diag, 0, "differs", differs && *differs ? differs + 2 : "");
	point(run, st, differs_len == 0, scenario_verb_name(st->verb), &diag);
	tap_diag_deinit(&diag);
	scenario_event_free(ev);
	return STEP_NEXT;
}

static int exec_expect_nothing(struct run *run, const struct scenario_statement *st, struct window *w)
{
	int64_t deadline = proc_now_ms() + st->within_ms;
	struct scenario_event *ev = NULL;
	struct tap_diag diag;
	char within[32];
	int r;

	r = need_open(run, st, w, "");
	if (r < 0)
		return r;
	for (bool polled = false;;) {
		int64_t left;

		ev = scenario_agent_pop_event(w->agent);
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
	snprintf(within, sizeof(within), "no event within %" PRId64 "ms", st->within_ms);
	tap_diag_init(&diag);
	tap_diag_string(&diag, 0, "statement", st->text);
	tap_diag_string(&diag, 0, "expected", within);
	if (ev)
		diag_event(run, &diag, ev);
	point(run, st, ev == NULL, scenario_verb_name(st->verb), &diag);
	tap_diag_deinit(&diag);
	scenario_event_free(ev);
	return STEP_NEXT;
}

static int exec_expect_error(struct run *run, const struct scenario_statement *st, struct window *w)
{
	struct tap_diag diag;
	char label[128];
	bool ok;

	tap_diag_init(&diag);
	tap_diag_string(&diag, 0, "statement", st->text);
	tap_diag_string(&diag, 0, "refers_to", w->last ? w->last->text : NULL);
	tap_diag_string(&diag, 0, "expected", st->error_name);
	if (w->last_failed) {
		ok = strcmp(w->fail_error, st->error_name) == 0;
		tap_diag_string(&diag, 0, "got", w->fail_error);
		tap_diag_string(&diag, 0, "message", w->fail_message);
		w->last_failed = false;
	} else {
		ok = false;
		tap_diag_string(&diag, 0, "got", "success");
	}
	snprintf(label, sizeof(label), "expect error %s", st->error_name);
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

static int exec_statement(struct run *run, const struct scenario_statement *st, struct window *w)
{
	int r;

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
		return command(run, st, w, json_pack("{s:s}", "cmd", "close"), NULL);
	case SCENARIO_SLEEP:
		return exec_sleep(run, st);
	case SCENARIO_KILL:
		scenario_agent_kill(w->agent);
		w->killed = true;
		return STEP_NEXT;
	case SCENARIO_RESTART_BROKER:
	case SCENARIO_CHANNEL:
	case SCENARIO_BUFFER:
	case SCENARIO_SEND:
	case SCENARIO_CLOSE_PORT:
		break;
	}
	/* scenario_check_supported() keeps these from getting here. */
	return script_error(run, st, "'%s' is not supported yet", scenario_verb_name(st->verb));
}

int scenario_check_supported(const struct scenario *s, char *errbuf, size_t errlen)
{
	for (size_t i = 0; i < s->count; i++) {
		const struct scenario_statement *st = &s->statements[i];
		const char *what = NULL;

		switch (st->verb) {
		case SCENARIO_CHANNEL: case SCENARIO_BUFFER: case SCENARIO_SEND: case SCENARIO_CLOSE_PORT:
			what = st->verb == SCENARIO_CLOSE_PORT ? "close PORT" : scenario_verb_name(st->verb);
			break;
		default:
			if (st->transfer_count)
				what = "transfer=";
			else if (st->buffer_ref_count)
				what = "$buffer";
			else if (st->port)
				what = "port=";
			else if (st->ports_given)
				what = "ports=";
			break;
		}
		if (what) {
			snprintf(errbuf, errlen, "%s:%u: '%s' is not supported yet (issue 5)", s->file, st->line, what);
			return -ENOTSUP;
		}
		if (st->verb == SCENARIO_RESTART_BROKER) {
			snprintf(errbuf, errlen, "%s:%u: 'restart broker' is not supported yet", s->file, st->line);
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

		if (w->killed || w->dead_reported)
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

enum scenario_outcome scenario_run(const struct scenario *s, const struct scenario_run_options *opt)
{
	struct run run = { .s = s, .opt = opt };
	size_t windows = 0, i;

	for (i = 0; i < s->count; i++)
		windows += s->statements[i].verb == SCENARIO_WINDOW;
	run.windows = calloc(windows + 1, sizeof(*run.windows));
	run.agents = calloc(windows + 1, sizeof(*run.agents));
	if (!run.windows || !run.agents) {
		fprintf(stderr, "crosspost run: %s: out of memory\n", s->file);
		run.outcome = SCENARIO_SCRIPT_ERROR;
		goto out;
	}
	for (i = 0; i < s->count; i++) {
		const struct scenario_statement *st = &s->statements[i];
		struct window *w = NULL;

		if (*opt->interrupted) {
			interrupted(&run, st);
			break;
		}
		if (st->actor && st->verb != SCENARIO_WINDOW)
			w = find_window(&run, st->actor);
		/* A failure is consumed only by the window's very next statement. */
		if (w && st->verb != SCENARIO_EXPECT_ERROR)
			report_unconsumed_failure(&run, w);
		if (opt->verbose)
			tap_comment(opt->tap, "%s:%u: %s", s->file, st->line, st->text);
		if (exec_statement(&run, st, w) < 0)
			break;
	}
	if (i == s->count)
		for (size_t k = 0; k < run.count; k++)
			report_unconsumed_failure(&run, &run.windows[k]);
	finish_windows(&run);
out:
	for (i = 0; i < run.count; i++) {
		scenario_agent_free(run.windows[i].agent);
		free(run.windows[i].last_origin);
		free(run.windows[i].fail_error);
		free(run.windows[i].fail_message);
	}
	free(run.windows);
	free(run.agents);
	return run.outcome;
}
