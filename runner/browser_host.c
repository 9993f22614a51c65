/* SPDX-License-Identifier: MIT */
/* browser_host.c - hidden `crosspost browser-host`: one headless Chromium for a whole `crosspost run --browser`, driven over the DevTools protocol. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <jansson.h>

#include "runner.h"
#include "scenario_link.h"
#include "scenario_proc.h"

/*
 * The runner (scenario_browser.c) talks to this process over a
 * SOCK_SEQPACKET socket: "begin" and "end" around each scenario file
 * (answered "ok" or "error: ..."), and "agent K ALIAS" carrying, as
 * SCM_RIGHTS, one end of the link of the runner's window K, which then
 * speaks scenario_link.h exactly as a `crosspost agent` would.
 *
 * This process starts Chromium with --remote-debugging-pipe (fds 3 and 4,
 * NUL-terminated JSON) and relays: every page (the controller of the
 * current file, and the popups its windows open) is attached to, every
 * request is answered from here (Fetch.fulfillRequest: nothing reaches a
 * network, no server or certificate is needed, and https:// pages are
 * secure contexts), controller.js goes into the controller page and
 * crosspost.js + agent.js into every other document.  What the controller
 * decides, it says through the binding __cpHost; what agents report,
 * through __cpAgent.  All the scenario logic is in the two scripts.
 */

extern const unsigned char gw_crosspost_js[];
extern const size_t gw_crosspost_js_len;
extern const unsigned char browser_agent_js[];
extern const size_t browser_agent_js_len;
extern const unsigned char browser_controller_js[];
extern const size_t browser_controller_js_len;

/* The controller page's URL; answered like every request, never resolved. */
#define CONTROLLER_URL "http://crosspost-controller.invalid/"
#define PAGE_HTML "<!doctype html><meta charset=utf-8><title>crosspost</title><body></body>"
/* Links to the runner's windows: far above any script. */
#define LINKS_MAX 512
/* Contexts remembered (the default context of each frame). */
#define CONTEXTS_MAX 4096
/* Outstanding calls into frames. */
#define CALLS_MAX 4096

struct context {
	char *session;
	char *frame;
	int id;                     /* 0: free slot */
};

struct call {
	int cdp_id;                 /* the Runtime.evaluate; 0: free slot */
	int number;                 /* the controller's call number */
	int link;                   /* >= 0: a command of that link, sent straight */
};

struct host {
	int ctl;
	int to_chrome, from_chrome;
	pid_t chrome;
	char *buf;
	size_t len, cap;
	int next_id;
	struct scenario_link links[LINKS_MAX];
	bool link_open[LINKS_MAX];
	/* The frame of each link's window once the controller bound it: its
	 * plain commands go straight there, its events straight back. */
	char *link_frame[LINKS_MAX];
	struct context contexts[CONTEXTS_MAX];
	struct call calls[CALLS_MAX];
	char *controller_target;    /* of the current file, or NULL */
	char *controller_session;
	int controller_context;
	bool begin_pending;         /* "begin" waits for the controller's ready */
	bool awaiting_controller;   /* the next page attached is the controller */
	int end_pending;            /* closeTarget answers still to come for "end" */
	int end_first, end_last;    /* the ids of those Target.closeTarget calls */
	char **targets;             /* page targets opened during this file */
	size_t target_count;
	char **sessions;            /* the sessions of this file's pages */
	size_t session_count;
	char *agent_src;            /* crosspost.js + agent.js */
	char *controller_src;       /* controller.js */
};

static void reply(struct host *h, const char *text)
{
	if (send(h->ctl, text, strlen(text), MSG_NOSIGNAL) < 0)
		_exit(1);
}

static int cdp_send(struct host *h, const char *session, const char *method, json_t *params)
{
	json_t *msg = json_pack("{s:i, s:s, s:o}", "id", ++h->next_id, "method", method, "params",
				params ? params : json_object());
	char *text;
	size_t n, off = 0;

	if (!msg)
		return -ENOMEM;
	if (session)
		json_object_set_new(msg, "sessionId", json_string(session));
	text = json_dumps(msg, JSON_COMPACT);
	json_decref(msg);
	if (!text)
		return -ENOMEM;
	n = strlen(text) + 1;           /* with its NUL */
	while (off < n) {
		ssize_t w = write(h->to_chrome, text + off, n - off);

		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0) {
			free(text);
			return -errno;
		}
		off += (size_t)w;
	}
	free(text);
	return h->next_id;
}

static int evaluate(struct host *h, const char *session, int context, const char *expression)
{
	return cdp_send(h, session, "Runtime.evaluate",
			json_pack("{s:s, s:i, s:b, s:b}", "expression", expression, "contextId", context,
				  "awaitPromise", 1, "returnByValue", 1));
}

/* Calls __cpc.fn(a, b) in the controller page (b may be NULL); takes
 * both references.  Dropped while no controller page is loaded. */
static void controller_call(struct host *h, const char *fn, json_t *a, json_t *b)
{
	json_t *args = json_array();
	char *text, *expr = NULL;

	json_array_append_new(args, a);
	if (b)
		json_array_append_new(args, b);
	text = json_dumps(args, JSON_COMPACT);
	json_decref(args);
	if (!text || !h->controller_context)
		goto out;
	/* [a, b] -> a, b */
	text[strlen(text) - 1] = '\0';
	if (asprintf(&expr, "__cpc.%s(%s)", fn, text + 1) > 0)
		evaluate(h, h->controller_session, h->controller_context, expr);
out:
	free(expr);
	free(text);
}

/* text as a JavaScript string literal (JSON), malloc'd; NULL when out of memory. */
static char *quote(const char *text)
{
	json_t *j = json_string(text);
	char *q = j ? json_dumps(j, JSON_ENCODE_ANY) : NULL;

	json_decref(j);
	return q;
}

static struct context *context_find(struct host *h, const char *session, int id)
{
	for (size_t i = 0; i < CONTEXTS_MAX; i++)
		if (h->contexts[i].id == id && strcmp(h->contexts[i].session, session) == 0)
			return &h->contexts[i];
	return NULL;
}

static struct context *context_of_frame(struct host *h, const char *frame)
{
	struct context *found = NULL;

	/* The newest context of the frame wins (slots are reused in order). */
	for (size_t i = 0; i < CONTEXTS_MAX; i++)
		if (h->contexts[i].id && strcmp(h->contexts[i].frame, frame) == 0)
			found = &h->contexts[i];
	return found;
}

static void context_forget(struct context *c)
{
	free(c->session);
	free(c->frame);
	*c = (struct context){ 0 };
}

static void context_add(struct host *h, const char *session, const char *frame, int id)
{
	struct context *old;

	while ((old = context_of_frame(h, frame)))
		context_forget(old);
	for (size_t i = 0; i < CONTEXTS_MAX; i++) {
		if (h->contexts[i].id)
			continue;
		h->contexts[i] = (struct context){ strdup(session), strdup(frame), id };
		return;
	}
}

static bool file_session(struct host *h, const char *session)
{
	for (size_t i = 0; i < h->session_count; i++)
		if (strcmp(h->sessions[i], session) == 0)
			return true;
	return false;
}

static void setup_page(struct host *h, const char *session)
{
	json_t *patterns = json_pack("[{s:s}]", "urlPattern", "*");

	/* Bindings first, then contexts: a context reported by
	 * Runtime.enable already has them when the agent goes in. */
	cdp_send(h, session, "Fetch.enable", json_pack("{s:o}", "patterns", patterns));
	cdp_send(h, session, "Runtime.addBinding", json_pack("{s:s}", "name", "__cpHost"));
	cdp_send(h, session, "Runtime.addBinding", json_pack("{s:s}", "name", "__cpAgent"));
	cdp_send(h, session, "Page.enable", NULL);
	cdp_send(h, session, "Runtime.enable", NULL);
	/* Again: a popup's first document exists before Runtime.enable,
	 * and only a binding added once it is inspected reaches it. */
	cdp_send(h, session, "Runtime.addBinding", json_pack("{s:s}", "name", "__cpAgent"));
	cdp_send(h, session, "Runtime.runIfWaitingForDebugger", NULL);
}

static void on_context(struct host *h, const char *session, json_t *params)
{
	json_t *ctx = json_object_get(params, "context");
	json_t *aux = json_object_get(ctx, "auxData");
	const char *frame = json_string_value(json_object_get(aux, "frameId"));
	int id = (int)json_integer_value(json_object_get(ctx, "id"));

	if (!frame || !json_is_true(json_object_get(aux, "isDefault")) || !file_session(h, session))
		return;
	context_add(h, session, frame, id);
	if (h->controller_target && strcmp(frame, h->controller_target) == 0) {
		const char *origin = json_string_value(json_object_get(ctx, "origin"));

		/* Not the new tab's empty document: the controller's own. */
		if (!origin || strncmp(CONTROLLER_URL, origin, strlen(origin)) != 0 || !*origin)
			return;
		free(h->controller_session);
		h->controller_session = strdup(session);
		h->controller_context = id;
		evaluate(h, session, id, h->controller_src);
	} else {
		evaluate(h, session, id, h->agent_src);
	}
}

static void on_binding(struct host *h, const char *session, json_t *params)
{
	const char *name = json_string_value(json_object_get(params, "name"));
	const char *payload = json_string_value(json_object_get(params, "payload"));
	struct context *c = context_find(h, session, (int)json_integer_value(json_object_get(params, "executionContextId")));
	json_t *m;

	if (!name || !payload || !c || !file_session(h, session))
		return;
	if (strcmp(name, "__cpAgent") == 0) {
		for (size_t k = 0; k < LINKS_MAX; k++) {
			json_t *ev;

			if (!h->link_frame[k] || strcmp(h->link_frame[k], c->frame) != 0 || !h->link_open[k] ||
			    !strstr(payload, "\"op\":\"event\""))
				continue;
			m = json_loads(payload, 0, NULL);
			ev = json_object_get(m, "event");
			if (ev)
				scenario_link_send(&h->links[k], ev);
			json_decref(m);
			return;
		}
		controller_call(h, "fromFrame", json_string(c->frame), json_string(payload));
		return;
	}
	if (!h->controller_target || strcmp(c->frame, h->controller_target) != 0)
		return;                 /* __cpHost is the controller's alone */
	m = json_loads(payload, 0, NULL);
	if (!m)
		return;
	const char *op = json_string_value(json_object_get(m, "op"));
	if (op && strcmp(op, "ready") == 0 && h->begin_pending) {
		h->begin_pending = false;
		reply(h, "ok");
	} else if (op && (strcmp(op, "bind") == 0 || strcmp(op, "unbind") == 0)) {
		json_int_t k = json_integer_value(json_object_get(m, "agent"));
		const char *frame = json_string_value(json_object_get(m, "frame"));

		if (k >= 0 && k < LINKS_MAX) {
			free(h->link_frame[k]);
			h->link_frame[k] = frame && strcmp(op, "bind") == 0 ? strdup(frame) : NULL;
		}
	} else if (op && strcmp(op, "send") == 0) {
		json_int_t k = json_integer_value(json_object_get(m, "agent"));
		const char *line = json_string_value(json_object_get(m, "line"));
		json_t *obj = line ? json_loads(line, 0, NULL) : NULL;

		if (obj && k >= 0 && k < LINKS_MAX && h->link_open[k])
			scenario_link_send(&h->links[k], obj);
		json_decref(obj);
	} else if (op && strcmp(op, "eval") == 0) {
		const char *frame = json_string_value(json_object_get(m, "frame"));
		const char *text = json_string_value(json_object_get(m, "text"));
		int number = (int)json_integer_value(json_object_get(m, "call"));
		struct context *fc = frame ? context_of_frame(h, frame) : NULL;
		char *quoted = text ? quote(text) : NULL;
		char *expr = NULL;
		int id = -1;

		if (fc && quoted && asprintf(&expr, "__cp.run(%s)", quoted) > 0)
			id = evaluate(h, fc->session, fc->id, expr);
		free(expr);
		free(quoted);
		if (id < 0) {
			controller_call(h, "answer", json_integer(number),
					json_string("{\"ok\":false,\"error\":\"InvalidStateError\",\"message\":\"the "
						    "window's document is gone\"}"));
		} else {
			for (size_t i = 0; i < CALLS_MAX; i++) {
				if (h->calls[i].cdp_id)
					continue;
				h->calls[i] = (struct call){ id, number, -1 };
				break;
			}
		}
	}
	json_decref(m);
}

/* The answer to a Runtime.evaluate of __cp.run(): back to the controller. */
static void on_response(struct host *h, json_t *msg)
{
	int id = (int)json_integer_value(json_object_get(msg, "id"));
	json_t *result = json_object_get(msg, "result");
	const char *value;
	char *text = NULL;

	if (h->end_pending > 0 && id >= h->end_first && id <= h->end_last) {
		/* a Target.closeTarget of "end" (an error: closed already) */
		if (--h->end_pending == 0)
			reply(h, "ok");
		return;
	}
	for (size_t i = 0; i < CALLS_MAX; i++) {
		if (h->calls[i].cdp_id != id)
			continue;
		h->calls[i].cdp_id = 0;
		value = json_string_value(json_object_get(json_object_get(result, "result"), "value"));
		if (!value) {
			json_t *ex = json_object_get(result, "exceptionDetails");
			const char *why = json_string_value(json_object_get(json_object_get(ex, "exception"), "description"));
			json_t *err = json_pack("{s:b, s:s, s:s}", "ok", 0, "error", "InvalidStateError", "message",
						why ? why : "the window's document went away during the call");

			text = json_dumps(err, JSON_COMPACT);
			json_decref(err);
			value = text;
		}
		if (h->calls[i].link >= 0) {
			int k = h->calls[i].link;
			json_t *res = json_loads(value, 0, NULL);

			if (res && h->link_open[k]) {
				json_object_set_new(res, "kind", json_string("result"));
				scenario_link_send(&h->links[k], res);
			}
			json_decref(res);
		} else {
			controller_call(h, "answer", json_integer(h->calls[i].number), json_string(value ? value : "{}"));
		}
		free(text);
		return;
	}
}

static void fulfill(struct host *h, const char *session, json_t *params)
{
	static char *body64;
	const char *request = json_string_value(json_object_get(params, "requestId"));

	if (!body64) {
		static const char tbl[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
		const unsigned char *s = (const unsigned char *)PAGE_HTML;
		size_t n = strlen(PAGE_HTML), o = 0;

		body64 = malloc(4 * ((n + 2) / 3) + 1);
		if (!body64)
			return;
		for (size_t i = 0; i < n; i += 3) {
			unsigned v = s[i] << 16 | (i + 1 < n ? s[i + 1] << 8 : 0) | (i + 2 < n ? s[i + 2] : 0);

			body64[o++] = tbl[v >> 18 & 63];
			body64[o++] = tbl[v >> 12 & 63];
			body64[o++] = i + 1 < n ? tbl[v >> 6 & 63] : '=';
			body64[o++] = i + 2 < n ? tbl[v & 63] : '=';
		}
		body64[o] = '\0';
	}
	if (!request)
		return;
	cdp_send(h, session, "Fetch.fulfillRequest",
		 json_pack("{s:s, s:i, s:[{s:s, s:s}], s:s}", "requestId", request, "responseCode", 200,
			   "responseHeaders", "name", "Content-Type", "value", "text/html; charset=utf-8", "body", body64));
}

static void on_event(struct host *h, json_t *msg)
{
	const char *method = json_string_value(json_object_get(msg, "method"));
	const char *session = json_string_value(json_object_get(msg, "sessionId"));
	json_t *params = json_object_get(msg, "params");

	if (!method)
		return;
	if (strcmp(method, "Target.attachedToTarget") == 0) {
		json_t *info = json_object_get(params, "targetInfo");
		const char *type = json_string_value(json_object_get(info, "type"));
		const char *s = json_string_value(json_object_get(params, "sessionId"));
		const char *target = json_string_value(json_object_get(info, "targetId"));

		if (!s)
			return;
		if (!type || strcmp(type, "page") != 0) {
			cdp_send(h, s, "Runtime.runIfWaitingForDebugger", NULL);
			return;
		}
		/* Pages that are not the file's (Chromium's first page) get
		 * no agent: only the file's sessions are listened to. */
		if (h->awaiting_controller || h->controller_target) {
			char **v = realloc(h->sessions, (h->session_count + 1) * sizeof(*v));

			if (v) {
				h->sessions = v;
				v[h->session_count++] = strdup(s);
			}
		}
		if (target && h->awaiting_controller) {
			h->awaiting_controller = false;
			h->controller_target = strdup(target);
		} else if (target && h->controller_target) {
			char **t = realloc(h->targets, (h->target_count + 1) * sizeof(*t));

			if (t) {
				h->targets = t;
				t[h->target_count++] = strdup(target);
			}
		}
		setup_page(h, s);
		/* Only now, with every request answered from here, does the
		 * controller load its page. */
		if (target && h->controller_target && strcmp(target, h->controller_target) == 0)
			cdp_send(h, s, "Page.navigate", json_pack("{s:s}", "url", CONTROLLER_URL));
	} else if (!session) {
		return;
	} else if (strcmp(method, "Runtime.executionContextCreated") == 0) {
		on_context(h, session, params);
	} else if (strcmp(method, "Runtime.bindingCalled") == 0) {
		on_binding(h, session, params);
	} else if (strcmp(method, "Page.javascriptDialogOpening") == 0) {
		/* alert() and friends would stop the page: dismissed at once. */
		cdp_send(h, session, "Page.handleJavaScriptDialog", json_pack("{s:b}", "accept", 1));
	} else if (strcmp(method, "Fetch.requestPaused") == 0) {
		fulfill(h, session, params);
	} else if (strcmp(method, "Page.frameDetached") == 0) {
		const char *frame = json_string_value(json_object_get(params, "frameId"));

		if (frame)
			controller_call(h, "frameGone", json_string(frame), NULL);
	}
	if (strcmp(method, "Target.targetDestroyed") == 0 || strcmp(method, "Target.detachedFromTarget") == 0) {
		const char *target = json_string_value(json_object_get(params, "targetId"));

		if (target && h->controller_target && strcmp(target, h->controller_target) != 0)
			controller_call(h, "frameGone", json_string(target), NULL);
	}
}

static void on_chrome_message(struct host *h, const char *text)
{
	json_t *msg = json_loads(text, 0, NULL);

	/* CROSSPOST_BROWSER_DEBUG=1: the DevTools traffic from Chromium on stderr. */
	if (getenv("CROSSPOST_BROWSER_DEBUG"))
		fprintf(stderr, "cdp< %.400s\n", text);

	if (!msg)
		return;
	if (json_object_get(msg, "id"))
		on_response(h, msg);
	else
		on_event(h, msg);
	json_decref(msg);
}

static int read_chrome(struct host *h)
{
	char *nul;

	if (h->cap - h->len < 65536) {
		char *b = realloc(h->buf, h->cap * 2 + 65536);

		if (!b)
			return -ENOMEM;
		h->buf = b;
		h->cap = h->cap * 2 + 65536;
	}
	ssize_t n = read(h->from_chrome, h->buf + h->len, h->cap - h->len);
	if (n <= 0)
		return n == 0 ? -EPIPE : (errno == EINTR ? 0 : -errno);
	h->len += (size_t)n;
	while ((nul = memchr(h->buf, '\0', h->len))) {
		size_t used = (size_t)(nul - h->buf) + 1;

		on_chrome_message(h, h->buf);
		memmove(h->buf, h->buf + used, h->len - used);
		h->len -= used;
	}
	return 0;
}

static void end_file(struct host *h)
{
	for (size_t k = 0; k < LINKS_MAX; k++) {
		if (h->link_open[k])
			scenario_link_deinit(&h->links[k]);
		h->link_open[k] = false;
		free(h->link_frame[k]);
		h->link_frame[k] = NULL;
	}
	h->end_pending = 0;
	h->end_first = h->next_id + 1;
	for (size_t i = 0; i < h->target_count; i++) {
		if (cdp_send(h, NULL, "Target.closeTarget", json_pack("{s:s}", "targetId", h->targets[i])) > 0)
			h->end_pending++;
		free(h->targets[i]);
	}
	h->target_count = 0;
	/* The controller page stays, for the next file to load afresh
	 * (a new page would cost a new renderer process each time). */
	for (size_t i = 0; i < h->session_count; i++) {
		if (h->controller_session && strcmp(h->sessions[i], h->controller_session) == 0)
			continue;
		free(h->sessions[i]);
		h->sessions[i--] = h->sessions[--h->session_count];
	}
	if (h->controller_session)
		cdp_send(h, h->controller_session, "Page.navigate", json_pack("{s:s}", "url", "about:blank"));
	h->controller_context = 0;
	for (size_t i = 0; i < CONTEXTS_MAX; i++)
		if (h->contexts[i].id)
			context_forget(&h->contexts[i]);
	for (size_t i = 0; i < CALLS_MAX; i++)
		h->calls[i].cdp_id = 0;
	h->end_last = h->next_id;
	if (!h->end_pending)
		reply(h, "ok");
}

static int read_ctl(struct host *h)
{
	char text[512], cbuf[CMSG_SPACE(sizeof(int))];
	struct iovec iov = { text, sizeof(text) - 1 };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf, .msg_controllen = sizeof(cbuf) };
	struct cmsghdr *cm;
	ssize_t n = recvmsg(h->ctl, &mh, MSG_CMSG_CLOEXEC);
	int fd = -1;
	unsigned k;

	if (n <= 0)
		return n == 0 ? -EPIPE : (errno == EINTR ? 0 : -errno);
	text[n] = '\0';
	for (cm = CMSG_FIRSTHDR(&mh); cm; cm = CMSG_NXTHDR(&mh, cm))
		if (cm->cmsg_level == SOL_SOCKET && cm->cmsg_type == SCM_RIGHTS)
			memcpy(&fd, CMSG_DATA(cm), sizeof(fd));
	if (strcmp(text, "begin") == 0) {
		/* The page attaches (Target.attachedToTarget) before it runs:
		 * that one is the controller; its "ready" answers. */
		h->begin_pending = true;
		if (h->controller_session) {
			if (cdp_send(h, h->controller_session, "Page.navigate", json_pack("{s:s}", "url", CONTROLLER_URL)) < 0) {
				h->begin_pending = false;
				reply(h, "error: cannot talk to Chromium");
			}
			return 0;
		}
		h->awaiting_controller = true;
		if (cdp_send(h, NULL, "Target.createTarget", json_pack("{s:s}", "url", "about:blank")) < 0) {
			h->begin_pending = h->awaiting_controller = false;
			reply(h, "error: cannot talk to Chromium");
		}
		return 0;
	}
	if (strcmp(text, "end") == 0) {
		end_file(h);
		return 0;
	}
	if (sscanf(text, "agent %u", &k) == 1 && fd >= 0 && k < LINKS_MAX) {
		const char *alias = strchr(text + 6, ' ');

		if (h->link_open[k])
			scenario_link_deinit(&h->links[k]);
		scenario_link_init(&h->links[k], fd);
		h->link_open[k] = true;
		controller_call(h, "agentNew", json_integer(k), json_string(alias ? alias + 1 : ""));
		return 0;
	}
	if (fd >= 0)
		close(fd);
	return 0;
}

/* Commands the frame's agent carries out alone: they go straight to it
 * (the controller keeps only the windows' lifecycle). */
static bool direct(struct host *h, unsigned k, json_t *msg, const char *line)
{
	static const char *const plain[] = {
		"post", "send", "buffer", "detached", "bind", "port-close", "onmessage", "port-listen",
		"port-start", "broadcast-open", "broadcast-post", "broadcast-close", "closed",
	};
	const char *cmd = json_string_value(json_object_get(msg, "cmd"));
	struct context *c = context_of_frame(h, h->link_frame[k]);
	char *quoted, *expr = NULL;
	bool found = false;
	int id = -1;

	if (!cmd || !c || json_object_get(msg, "corrupt") || json_object_get(msg, "targetName"))
		return false;
	for (size_t i = 0; i < sizeof(plain) / sizeof(plain[0]) && !found; i++)
		found = strcmp(cmd, plain[i]) == 0;
	if (!found)
		return false;
	quoted = quote(line);
	if (quoted && asprintf(&expr, "__cp.run(%s)", quoted) > 0)
		id = evaluate(h, c->session, c->id, expr);
	free(expr);
	free(quoted);
	if (id < 0)
		return false;
	for (size_t i = 0; i < CALLS_MAX; i++) {
		if (h->calls[i].cdp_id)
			continue;
		h->calls[i] = (struct call){ id, 0, (int)k };
		return true;
	}
	return true;
}

static void on_link(struct host *h, unsigned k)
{
	json_t *msg;
	int r = scenario_link_fill(&h->links[k]);

	if (r == 0 || (r < 0 && r != -EAGAIN)) {
		scenario_link_deinit(&h->links[k]);
		h->link_open[k] = false;
		free(h->link_frame[k]);
		h->link_frame[k] = NULL;
		return;
	}
	while (scenario_link_next(&h->links[k], &msg) == 1) {
		char *line = json_dumps(msg, JSON_COMPACT);

		if (line && !(h->link_frame[k] && direct(h, k, msg, line)))
			controller_call(h, "command", json_integer(k), json_string(line));
		free(line);
		json_decref(msg);
	}
}

static pid_t start_chromium(const char *program, const char *profile, int *ret_to, int *ret_from)
{
	int to[2], from[2];
	pid_t parent = getpid(), pid;
	char profile_arg[4096];

	if (pipe(to) < 0 || pipe(from) < 0)
		return -1;
	snprintf(profile_arg, sizeof(profile_arg), "--user-data-dir=%s", profile);
	pid = fork();
	if (pid == 0) {
		int null_fd;

		proc_die_with_parent(parent, SIGKILL);
		/* fds 3 and 4: Chromium reads commands from 3, writes to 4. */
		if (dup2(to[0], 10) < 0 || dup2(from[1], 11) < 0 || dup2(10, 3) < 0 || dup2(11, 4) < 0)
			_exit(127);
		for (int fd = 5; fd < 1024; fd++)
			close(fd);
		null_fd = open("/dev/null", O_RDWR);
		if (null_fd >= 0) {
			dup2(null_fd, 0);
			dup2(null_fd, 1);
			if (!getenv("CROSSPOST_BROWSER_LOG"))
				dup2(null_fd, 2);
		}
		execlp(program, program, "--headless", "--remote-debugging-pipe", "--no-sandbox", "--disable-gpu",
		       "--no-first-run", "--no-default-browser-check", "--disable-extensions",
		       "--disable-background-networking", "--disable-sync", "--mute-audio",
		       "--disable-background-timer-throttling", "--disable-renderer-backgrounding",
		       "--disable-backgrounding-occluded-windows", "--disable-popup-blocking",
		       "--disable-site-isolation-trials", "--disable-features=IsolateOrigins,site-per-process",
		       "--host-resolver-rules=MAP * ~NOTFOUND", profile_arg, "about:blank", (char *)NULL);
		_exit(127);
	}
	close(to[0]);
	close(from[1]);
	if (pid < 0) {
		close(to[1]);
		close(from[0]);
		return -1;
	}
	fcntl(to[1], F_SETFD, FD_CLOEXEC);
	fcntl(from[0], F_SETFD, FD_CLOEXEC);
	*ret_to = to[1];
	*ret_from = from[0];
	return pid;
}

int cmd_browser_host(int argc, char **argv)
{
	static struct host h;
	const char *program = NULL, *profile = NULL;
	int status;

	h.ctl = -1;
	for (int i = 1; i + 1 < argc; i += 2) {
		if (strcmp(argv[i], "--fd") == 0)
			h.ctl = atoi(argv[i + 1]);
		else if (strcmp(argv[i], "--chromium") == 0)
			program = argv[i + 1];
		else if (strcmp(argv[i], "--profile") == 0)
			profile = argv[i + 1];
	}
	if (h.ctl < 0 || !program || !profile) {
		fprintf(stderr, "crosspost browser-host: internal command of `crosspost run --browser`\n");
		return 2;
	}
	signal(SIGPIPE, SIG_IGN);
	if (asprintf(&h.agent_src, "%.*s\n;\n%.*s", (int)gw_crosspost_js_len, gw_crosspost_js,
		     (int)browser_agent_js_len, browser_agent_js) < 0)
		return 1;
	if (asprintf(&h.controller_src, "%.*s", (int)browser_controller_js_len, browser_controller_js) < 0)
		return 1;
	h.chrome = start_chromium(program, profile, &h.to_chrome, &h.from_chrome);
	if (h.chrome < 0) {
		reply(&h, "error: cannot start Chromium");
		return 1;
	}
	cdp_send(&h, NULL, "Target.setAutoAttach",
		 json_pack("{s:b, s:b, s:b}", "autoAttach", 1, "waitForDebuggerOnStart", 1, "flatten", 1));
	reply(&h, "ok");
	for (;;) {
		struct pollfd p[2 + LINKS_MAX];
		unsigned idx[LINKS_MAX], n = 2;

		p[0] = (struct pollfd){ .fd = h.ctl, .events = POLLIN };
		p[1] = (struct pollfd){ .fd = h.from_chrome, .events = POLLIN };
		for (unsigned k = 0; k < LINKS_MAX; k++) {
			if (!h.link_open[k])
				continue;
			idx[n - 2] = k;
			p[n++] = (struct pollfd){ .fd = h.links[k].fd, .events = POLLIN };
		}
		if (poll(p, n, -1) < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		if (p[1].revents && read_chrome(&h) < 0)
			break;
		if (p[0].revents && read_ctl(&h) < 0)
			break;
		for (unsigned i = 2; i < n; i++)
			if (p[i].revents && h.link_open[idx[i - 2]])
				on_link(&h, idx[i - 2]);
	}
	cdp_send(&h, NULL, "Browser.close", NULL);
	if (proc_stop(h.chrome, 0, 3000, &status) < 0)
		proc_stop(h.chrome, SIGKILL, 1000, &status);
	return 0;
}
