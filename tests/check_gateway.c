/* SPDX-License-Identifier: MIT */
/*
 * check_gateway.c - crosspost-gateway without a browser: a WebSocket client
 * (libwebsockets' own) plays the page, stating whatever Origin it likes, and
 * a real broker and libcrosspost play the native side.  What a page may do
 * (docs/gateway.md), what the gateway refuses and why (docs/security.md,
 * "The gateway"), its limits, and that one page held back by the broker or
 * not reading does not hold back another.  The same protocol in a real
 * Chromium: tests/cli/gateway_browser.sh.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <check.h>
#include <jansson.h>
#include <libwebsockets.h>

#include "crosspost.h"
#include "fixture.h"

#define ORIGIN_A "http://a.test:1"
#define ORIGIN_B "http://b.test:1"
#define WAIT_MS 10000

static long long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ---- the gateway, as a process ---- */

typedef struct TestGateway {
	pid_t pid;
	int port;
	char log_path[320];
} TestGateway;

static const char *gateway_binary(void)
{
	static char path[512];
	const char *cli = getenv("CROSSPOST");
	const char *slash = cli ? strrchr(cli, '/') : NULL;

	if (!slash)
		return "build/crosspost-gateway";
	snprintf(path, sizeof(path), "%.*s/crosspost-gateway", (int)(slash - cli), cli);
	return path;
}

/* Starts the gateway for broker with extra arguments (NULL-terminated;
 * --allow-origin among them), and waits for its ready line. */
static void gateway_start(TestGateway *g, const TestBroker *b, const char *const *extra)
{
	const char *argv[48];
	char line[256];
	size_t n = 0;
	pid_t parent = getpid();
	int ready[2];
	ssize_t got;

	snprintf(g->log_path, sizeof(g->log_path), "%s/gateway.log", b->dir);
	argv[n++] = "crosspost-gateway";
	argv[n++] = "--listen";
	argv[n++] = "127.0.0.1:0";
	argv[n++] = "--socket";
	argv[n++] = b->socket_path;
	argv[n++] = "--ready-fd";
	argv[n++] = "3";
	argv[n++] = "--log-level";
	argv[n++] = "debug";
	for (size_t i = 0; extra && extra[i]; i++) {
		ck_assert_uint_lt(n, 46);
		argv[n++] = extra[i];
	}
	argv[n] = NULL;
	ck_assert_int_eq(pipe(ready), 0);
	g->pid = fork();
	ck_assert_int_ge(g->pid, 0);
	if (g->pid == 0) {
		int log = open(g->log_path, O_WRONLY | O_CREAT | O_APPEND, 0600);

		if (log >= 0)
			dup2(log, STDERR_FILENO);
		dup2(ready[1], 3);
		close_range(4, ~0u, 0);
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (getppid() != parent)
			_exit(127);
		execv(gateway_binary(), (char *const *)argv);
		_exit(127);
	}
	close(ready[1]);
	got = read(ready[0], line, sizeof(line) - 1);
	close(ready[0]);
	ck_assert_msg(got > 0, "the gateway did not start (see %s)", g->log_path);
	line[got] = '\0';
	ck_assert_int_eq(sscanf(line, "ready http://127.0.0.1:%d/", &g->port), 1);
}

static int gateway_log_count(const TestGateway *g, const char *needle)
{
	FILE *f = fopen(g->log_path, "r");
	char line[2048];
	int n = 0;

	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f))
		if (strstr(line, needle))
			n++;
	fclose(f);
	return n;
}

static int gateway_stop(TestGateway *g)
{
	int status = 0;

	if (g->pid <= 0)
		return -1;
	kill(g->pid, SIGTERM);
	waitpid(g->pid, &status, 0);
	g->pid = 0;
	/* The server's and the workers' stderr: a sanitizer's report, or a
	 * worker that did not end cleanly, fails the test that caused it. */
	ck_assert_msg(gateway_log_count(g, "Sanitizer") == 0 && gateway_log_count(g, "runtime error:") == 0,
		      "a sanitizer reported an error (see %s)", g->log_path);
	ck_assert_msg(gateway_log_count(g, "ended with status") == 0, "a worker failed (see %s)", g->log_path);
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

/* ---- a page: a WebSocket client ---- */

typedef struct WsOut {
	unsigned char *buf;        /* LWS_PRE bytes, then the message */
	size_t len;
	bool binary;
} WsOut;

typedef struct Ws {
	struct lws_context *context;
	struct lws *wsi;
	lws_sorted_usec_list_t tick;
	bool established, closed, failed;
	int close_code;
	char close_reason[128];
	char *partial;
	size_t partial_len;
	char **inbox;              /* complete messages, oldest first */
	size_t n_inbox, cap_inbox, head;
	WsOut *outbox;             /* messages not yet written, oldest first */
	size_t n_out, cap_out, out_head;
} Ws;

static void ws_tick(lws_sorted_usec_list_t *sul)
{
	Ws *ws = lws_container_of(sul, Ws, tick);

	lws_sul_schedule(ws->context, 0, &ws->tick, ws_tick, 20 * 1000);
}

static int ws_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in, size_t len)
{
	Ws *ws = lws_context_user(lws_get_context(wsi));

	(void)user;
	switch (reason) {
	case LWS_CALLBACK_CLIENT_ESTABLISHED:
		ws->established = true;
		return 0;
	case LWS_CALLBACK_CLIENT_CONNECTION_ERROR:
		ws->failed = ws->closed = true;
		ws->wsi = NULL;
		return 0;
	case LWS_CALLBACK_WS_PEER_INITIATED_CLOSE:
		if (len >= 2) {
			const unsigned char *p = in;

			ws->close_code = p[0] << 8 | p[1];
			snprintf(ws->close_reason, sizeof(ws->close_reason), "%.*s", (int)(len - 2), (const char *)in + 2);
		}
		return 0;
	case LWS_CALLBACK_CLIENT_CLOSED:
		ws->closed = true;
		ws->wsi = NULL;
		return 0;
	case LWS_CALLBACK_CLIENT_RECEIVE:
		ws->partial = realloc(ws->partial, ws->partial_len + len + 1);
		memcpy(ws->partial + ws->partial_len, in, len);
		ws->partial_len += len;
		ws->partial[ws->partial_len] = '\0';
		if (lws_is_final_fragment(wsi)) {
			if (ws->n_inbox == ws->cap_inbox) {
				ws->cap_inbox = ws->cap_inbox ? 2 * ws->cap_inbox : 64;
				ws->inbox = realloc(ws->inbox, ws->cap_inbox * sizeof(*ws->inbox));
			}
			ws->inbox[ws->n_inbox++] = ws->partial;
			ws->partial = NULL;
			ws->partial_len = 0;
		}
		return 0;
	case LWS_CALLBACK_CLIENT_WRITEABLE:
		/* One message per callback: libwebsockets keeps what the
		 * socket does not take, and calls again once it is written. */
		if (ws->out_head < ws->n_out) {
			WsOut *o = &ws->outbox[ws->out_head++];
			int n = lws_write(wsi, o->buf + LWS_PRE, o->len, o->binary ? LWS_WRITE_BINARY : LWS_WRITE_TEXT);

			free(o->buf);
			o->buf = NULL;
			if (n < (int)o->len)
				return -1;
			if (ws->out_head < ws->n_out)
				lws_callback_on_writable(wsi);
		}
		return 0;
	default:
		return 0;
	}
}

static const struct lws_protocols ws_protocols[] = {
	{ "crosspost.v1", ws_callback, 0, 65536, 0, NULL, 0 },
	{ NULL, NULL, 0, 0, 0, NULL, 0 }
};

static void ws_service_until(Ws *ws, bool (*done)(Ws *), int timeout_ms)
{
	long long deadline = now_ms() + timeout_ms;

	while (!done(ws) && now_ms() < deadline)
		lws_service(ws->context, 0);
}

static bool ws_settled(Ws *ws)
{
	return ws->established || ws->closed;
}

/* A page of origin (NULL: no Origin header) at path (with its query). */
static Ws *ws_connect_as(int port, const char *origin, const char *path, const char *protocol)
{
	struct lws_context_creation_info info = { 0 };
	struct lws_client_connect_info ci = { 0 };
	Ws *ws = calloc(1, sizeof(*ws));

	ck_assert_ptr_nonnull(ws);
	lws_set_log_level(LLL_ERR, NULL);
	info.port = CONTEXT_PORT_NO_LISTEN;
	info.protocols = ws_protocols;
	info.user = ws;
	/* Send the Origin given, not "http://" + it (lws 4.1's default). */
	info.options = LWS_SERVER_OPTION_DISABLE_OS_CA_CERTS | LWS_SERVER_OPTION_JUST_USE_RAW_ORIGIN;
	info.fd_limit_per_thread = 16;
	ws->context = lws_create_context(&info);
	ck_assert_ptr_nonnull(ws->context);
	lws_sul_schedule(ws->context, 0, &ws->tick, ws_tick, 20 * 1000);
	ci.context = ws->context;
	ci.address = "127.0.0.1";
	ci.port = port;
	ci.path = path;
	ci.host = "127.0.0.1";
	ci.origin = origin;
	ci.protocol = protocol;
	ci.pwsi = &ws->wsi;
	ck_assert_ptr_nonnull(lws_client_connect_via_info(&ci));
	ws_service_until(ws, ws_settled, WAIT_MS);
	return ws;
}

static Ws *ws_connect(int port, const char *origin)
{
	return ws_connect_as(port, origin, "/crosspost", "crosspost.v1");
}

static void ws_free(Ws *ws)
{
	if (!ws)
		return;
	lws_sul_cancel(&ws->tick);
	lws_context_destroy(ws->context);
	for (size_t i = ws->head; i < ws->n_inbox; i++)
		free(ws->inbox[i]);
	free(ws->inbox);
	free(ws->partial);
	for (size_t i = ws->out_head; i < ws->n_out; i++)
		free(ws->outbox[i].buf);
	free(ws->outbox);
	free(ws);
}

/* Every message written to the socket: none queued here, and no rest of
 * one that libwebsockets holds because the socket took only part. */
static bool ws_sent(Ws *ws)
{
	return ws->closed || (ws->out_head == ws->n_out && !lws_partial_buffered(ws->wsi));
}

/* Queues a message without waiting for it to be written (a page's
 * ws.send() returns at once too; bufferedAmount grows). */
static void ws_queue_kind(Ws *ws, const char *text, size_t len, bool binary)
{
	WsOut *o;

	ck_assert_msg(!ws->closed, "the gateway closed the page");
	if (ws->n_out == ws->cap_out) {
		ws->cap_out = ws->cap_out ? 2 * ws->cap_out : 16;
		ws->outbox = realloc(ws->outbox, ws->cap_out * sizeof(*ws->outbox));
		ck_assert_ptr_nonnull(ws->outbox);
	}
	o = &ws->outbox[ws->n_out++];
	o->buf = malloc(LWS_PRE + len);
	ck_assert_ptr_nonnull(o->buf);
	memcpy(o->buf + LWS_PRE, text, len);
	o->len = len;
	o->binary = binary;
	lws_callback_on_writable(ws->wsi);
}

static void ws_send_kind(Ws *ws, const char *text, size_t len, bool binary)
{
	ws_queue_kind(ws, text, len, binary);
	ws_service_until(ws, ws_sent, WAIT_MS);
	ck_assert_msg(ws_sent(ws), "the gateway did not read a message in %d ms", WAIT_MS);
}

static void ws_send(Ws *ws, const char *text)
{
	ws_send_kind(ws, text, strlen(text), false);
}

static bool ws_has_message(Ws *ws)
{
	return ws->head < ws->n_inbox || ws->closed;
}

/* The next message from the gateway (caller frees), or NULL when the
 * connection closed or timeout_ms passed. */
static char *ws_recv(Ws *ws, int timeout_ms)
{
	ws_service_until(ws, ws_has_message, timeout_ms);
	if (ws->head < ws->n_inbox)
		return ws->inbox[ws->head++];
	return NULL;
}

static json_t *ws_recv_json(Ws *ws)
{
	char *text = ws_recv(ws, WAIT_MS);
	json_t *j;

	ck_assert_msg(text != NULL, "no message from the gateway (closed: %d, code %d %s)", ws->closed,
		      ws->close_code, ws->close_reason);
	j = json_loads(text, 0, NULL);
	ck_assert_msg(j != NULL, "not JSON: %s", text);
	free(text);
	return j;
}

/* Sends a request and returns its answer (events before it are kept). */
static json_t *ws_request(Ws *ws, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static json_t *ws_request(Ws *ws, const char *fmt, ...)
{
	static int next_req = 1000;
	char *body, *text;
	va_list ap;
	int req = next_req++;

	va_start(ap, fmt);
	ck_assert_int_ge(vasprintf(&body, fmt, ap), 0);
	va_end(ap);
	ck_assert_int_ge(asprintf(&text, "{\"req\":%d,%s}", req, body), 0);
	ws_send(ws, text);
	free(text);
	free(body);
	for (long long deadline = now_ms() + WAIT_MS; now_ms() < deadline; lws_service(ws->context, 0)) {
		for (size_t i = ws->head; i < ws->n_inbox; i++) {
			json_t *j = json_loads(ws->inbox[i], 0, NULL);

			if (j && json_integer_value(json_object_get(j, "re")) == req) {
				free(ws->inbox[i]);
				memmove(&ws->inbox[i], &ws->inbox[i + 1], (ws->n_inbox - i - 1) * sizeof(*ws->inbox));
				ws->n_inbox--;
				return j;
			}
			json_decref(j);
		}
		ck_assert_msg(!ws->closed, "the gateway closed the page (code %d %s)", ws->close_code, ws->close_reason);
	}
	ck_abort_msg("no answer to request %d", req);
	return NULL;
}

static const char *error_name(const json_t *answer)
{
	return json_string_value(json_object_get(json_object_get(answer, "error"), "name"));
}

static void expect_ok(json_t *answer)
{
	ck_assert_msg(!json_object_get(answer, "error"), "error %s: %s", error_name(answer),
		      json_string_value(json_object_get(json_object_get(answer, "error"), "message")));
}

/* A page that said hello, with its origin. */
static Ws *page(int port, const char *origin)
{
	Ws *ws = ws_connect(port, origin);
	json_t *hello;

	ck_assert_msg(ws->established, "the handshake failed");
	hello = ws_recv_json(ws);
	ck_assert_str_eq(json_string_value(json_object_get(hello, "ev")), "hello");
	ck_assert_str_eq(json_string_value(json_object_get(hello, "origin")), origin);
	json_decref(hello);
	return ws;
}

/* Opens a window; returns its id. */
static uint64_t page_open(Ws *ws, const char *name, const char *path)
{
	json_t *a = ws_request(ws, "\"op\":\"open\",\"name\":\"%s\",\"path\":\"%s\"", name, path);
	uint64_t id;

	expect_ok(a);
	id = (uint64_t)json_integer_value(json_object_get(json_object_get(a, "window"), "id"));
	ck_assert_uint_gt(id, 0);
	json_decref(a);
	return id;
}

/* The next event (not an answer), as JSON. */
static json_t *page_event(Ws *ws)
{
	for (;;) {
		json_t *j = ws_recv_json(ws);

		if (json_object_get(j, "ev"))
			return j;
		json_decref(j);
	}
}

/* A refused page: the refusal's error name, then a close with 1008. */
static void expect_refused(int port, const char *origin, const char *path, const char *reason_part)
{
	Ws *ws = ws_connect_as(port, origin, path, "crosspost.v1");
	json_t *j;

	ck_assert(ws->established);
	j = ws_recv_json(ws);
	ck_assert_str_eq(json_string_value(json_object_get(j, "ev")), "refused");
	ck_assert_str_eq(error_name(j), "SecurityError");
	ck_assert_msg(strstr(json_string_value(json_object_get(json_object_get(j, "error"), "message")), reason_part),
		      "%s", json_string_value(json_object_get(json_object_get(j, "error"), "message")));
	json_decref(j);
	ck_assert_ptr_null(ws_recv(ws, WAIT_MS));
	ck_assert_int_eq(ws->close_code, 1008);
	ws_free(ws);
}

static TestBroker broker;
static TestGateway gw;

static void start_default(void)
{
	const char *args[] = { "--allow-origin", "http://a.test:*", "--allow-origin", "http://b.test:*", NULL };

	test_broker_start(&broker);
	gateway_start(&gw, &broker, args);
}

static void stop_all(void)
{
	ck_assert_int_eq(gateway_stop(&gw), 0);
	test_broker_stop(&broker);
}

/* ---- tests ---- */

/* GET over a plain socket: the status line and the body. */
static void http_get(int port, const char *path, char *out, size_t size)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	char req[256];
	size_t got = 0;
	ssize_t n;

	inet_pton(AF_INET, "127.0.0.1", &sa.sin_addr);
	ck_assert_int_eq(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	snprintf(req, sizeof(req), "GET %s HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n", path);
	ck_assert_int_eq(write(fd, req, strlen(req)), (ssize_t)strlen(req));
	while (got + 1 < size && (n = read(fd, out + got, size - got - 1)) > 0)
		got += (size_t)n;
	out[got] = '\0';
	close(fd);
}

START_TEST(serves_the_script_on_loopback_only)
{
	static char response[256 * 1024];
	char needle[32], line[256];
	FILE *f;
	int listening = 0;

	start_default();
	http_get(gw.port, "/crosspost.js", response, sizeof(response));
	ck_assert_msg(strncmp(response, "HTTP/1.1 200", 12) == 0, "%.80s", response);
	ck_assert_ptr_nonnull(strstr(response, "text/javascript"));
	ck_assert_ptr_nonnull(strstr(response, "global.crosspost = Object.freeze"));
	http_get(gw.port, "/index.html", response, sizeof(response));
	ck_assert_msg(strncmp(response, "HTTP/1.1 404", 12) == 0, "without --serve: %.80s", response);
	/* The listening socket is 127.0.0.1's: /proc/net/tcp lists it as
	 * 0100007F:PORT (libwebsockets 4.1 would bind every interface). */
	snprintf(needle, sizeof(needle), ":%04X ", gw.port);
	f = fopen("/proc/net/tcp", "r");
	ck_assert_ptr_nonnull(f);
	while (fgets(line, sizeof(line), f)) {
		char *p = strstr(line, needle);

		if (p && p < line + 30 && strstr(line, " 0A ")) {
			ck_assert_msg(strstr(line, "0100007F:") != NULL, "listening: %s", line);
			listening++;
		}
	}
	fclose(f);
	ck_assert_int_eq(listening, 1);
	stop_all();
}
END_TEST

START_TEST(windows_have_the_handshake_origin)
{
	cp_client *native;
	cp_window *nat = NULL;
	cp_window_info *infos = NULL;
	size_t n = 0, found = 0;
	TestInbox *inbox = calloc(1, sizeof(*inbox));
	cp_value *v = NULL;
	json_t *a, *ev;
	Ws *ws;
	uint64_t id;

	start_default();
	native = test_client(&broker);
	ck_assert_int_eq(cp_window_open(native, "https://native.example/", "nat", &nat), 0);
	cp_window_set_callback(nat, test_inbox_callback, inbox);
	ws = page(gw.port, ORIGIN_A);
	a = ws_request(ws, "\"op\":\"open\",\"name\":\"pa\",\"path\":\"/inbox?x=1\"");
	expect_ok(a);
	ck_assert_str_eq(json_string_value(json_object_get(json_object_get(a, "window"), "url")),
			 "http://a.test:1/inbox?x=1");
	ck_assert_str_eq(json_string_value(json_object_get(json_object_get(a, "window"), "origin")), ORIGIN_A);
	id = (uint64_t)json_integer_value(json_object_get(json_object_get(a, "window"), "id"));
	json_decref(a);

	/* The broker has it with that origin. */
	ck_assert_int_eq(cp_client_list_windows(native, &infos, &n), 0);
	for (size_t i = 0; i < n; i++) {
		if (infos[i].id == id) {
			ck_assert_str_eq(infos[i].origin, ORIGIN_A);
			ck_assert_str_eq(infos[i].name, "pa");
			found++;
		}
	}
	cp_window_info_free(infos, n);
	ck_assert_int_eq(found, 1);

	/* Page -> native: stamped by the broker. */
	a = ws_request(ws, "\"op\":\"post\",\"window\":%llu,\"target\":\"nat\",\"targetOrigin\":\"https://native.example\","
		       "\"data\":{\"k\":[1,{\"$bigint\":\"2\"},{\"$number\":\"-0\"}]}", (unsigned long long)id);
	expect_ok(a);
	json_decref(a);
	ck_assert_uint_eq(test_inbox_wait(native, inbox, 1, WAIT_MS), 1);
	ck_assert_str_eq(inbox->origin[0], ORIGIN_A);
	ck_assert_uint_eq(inbox->source[0], id);
	ck_assert_str_eq(inbox->json[0], "{\"k\":[1,{\"$bigint\":\"2\"},{\"$number\":\"-0\"}]}");

	/* Native -> page: origin and source from the broker. */
	v = test_value("{\"hi\":{\"$map\":[[1,{\"$undefined\":null}]]}}");
	ck_assert_int_eq(cp_post_message(nat, id, v, ORIGIN_A), 0);
	ev = page_event(ws);
	ck_assert_str_eq(json_string_value(json_object_get(ev, "ev")), "message");
	ck_assert_int_eq(json_integer_value(json_object_get(ev, "window")), (json_int_t)id);
	ck_assert_str_eq(json_string_value(json_object_get(ev, "origin")), "https://native.example");
	ck_assert_int_eq(json_integer_value(json_object_get(json_object_get(ev, "source"), "id")),
			 (json_int_t)cp_window_id(nat));
	ck_assert_str_eq(json_string_value(json_object_get(json_object_get(ev, "source"), "name")), "nat");
	{
		char *data = json_dumps(json_object_get(ev, "data"), JSON_COMPACT);

		ck_assert_str_eq(data, "{\"hi\":{\"$map\":[[1,{\"$undefined\":null}]]}}");
		free(data);
	}
	json_decref(ev);

	/* A page's path cannot name another origin. */
	a = ws_request(ws, "\"op\":\"open\",\"path\":\"https://evil.example/\"");
	ck_assert_str_eq(error_name(a), "SyntaxError");
	json_decref(a);
	cp_value_free(v);
	ws_free(ws);
	cp_client_free(native);
	test_inbox_clear(inbox);
	free(inbox);
	stop_all();
}
END_TEST

START_TEST(target_origin_mismatches_are_dropped_both_ways)
{
	cp_client *native;
	cp_window *nat = NULL;
	TestInbox *inbox = calloc(1, sizeof(*inbox));
	cp_value *dropped = NULL, *marker = NULL;
	json_t *a, *ev;
	Ws *ws;
	uint64_t id;

	start_default();
	native = test_client(&broker);
	ck_assert_int_eq(cp_window_open(native, "https://native.example/", "nat", &nat), 0);
	cp_window_set_callback(nat, test_inbox_callback, inbox);
	ws = page(gw.port, ORIGIN_A);
	id = page_open(ws, "pa", "/");
	a = ws_request(ws, "\"op\":\"post\",\"window\":%llu,\"target\":%llu,\"targetOrigin\":\"https://other.example\","
		       "\"data\":\"dropped\"", (unsigned long long)id, (unsigned long long)cp_window_id(nat));
	expect_ok(a);     /* the sender is not told, as in a browser */
	json_decref(a);
	a = ws_request(ws, "\"op\":\"post\",\"window\":%llu,\"target\":%llu,\"targetOrigin\":\"*\",\"data\":\"marker\"",
		       (unsigned long long)id, (unsigned long long)cp_window_id(nat));
	json_decref(a);
	ck_assert_uint_eq(test_inbox_wait(native, inbox, 1, WAIT_MS), 1);
	ck_assert_str_eq(inbox->json[0], "\"marker\"");

	dropped = test_value("\"dropped\"");
	marker = test_value("\"marker\"");
	ck_assert_int_eq(cp_post_message(nat, id, dropped, ORIGIN_B), 0);
	ck_assert_int_eq(cp_post_message(nat, id, marker, ORIGIN_A), 0);
	ev = page_event(ws);
	ck_assert_str_eq(json_string_value(json_object_get(ev, "data")), "marker");
	json_decref(ev);

	/* A targetOrigin that does not parse is the page's SyntaxError. */
	a = ws_request(ws, "\"op\":\"post\",\"window\":%llu,\"target\":\"nat\",\"targetOrigin\":\"not a url\",\"data\":1",
		       (unsigned long long)id);
	ck_assert_str_eq(error_name(a), "SyntaxError");
	json_decref(a);
	cp_value_free(dropped);
	cp_value_free(marker);
	ws_free(ws);
	cp_client_free(native);
	test_inbox_clear(inbox);
	free(inbox);
	stop_all();
}
END_TEST

START_TEST(pages_the_gateway_does_not_trust_are_refused)
{
	const char *args[] = { "--allow-origin", "http://a.test:*", "--token", "s3cret", NULL };
	Ws *ws;

	test_broker_start(&broker);
	gateway_start(&gw, &broker, args);
	expect_refused(gw.port, NULL, "/crosspost?token=s3cret", "no Origin header");
	expect_refused(gw.port, "http://c.test:1", "/crosspost?token=s3cret", "not one the gateway allows");
	expect_refused(gw.port, "http://a.test:1/", "/crosspost?token=s3cret", "not a serialized origin");
	expect_refused(gw.port, "HTTP://A.TEST:1", "/crosspost?token=s3cret", "not a serialized origin");
	expect_refused(gw.port, "null", "/crosspost?token=s3cret", "not one the gateway allows");
	expect_refused(gw.port, ORIGIN_A, "/crosspost", "token");
	expect_refused(gw.port, ORIGIN_A, "/crosspost?token=s3cre", "token");
	expect_refused(gw.port, ORIGIN_A, "/crosspost?token=s3cretX", "token");
	/* No WebSocket on another path, or without the subprotocol. */
	ws = ws_connect_as(gw.port, ORIGIN_A, "/other?token=s3cret", "crosspost.v1");
	ck_assert(!ws->established);
	ws_free(ws);
	ws = ws_connect_as(gw.port, ORIGIN_A, "/crosspost?token=s3cret", NULL);
	ck_assert(!ws->established);
	ws_free(ws);
	ws = ws_connect_as(gw.port, ORIGIN_A, "/crosspost?token=s3cret", "crosspost.v1");
	ck_assert(ws->established);
	ws_free(ws);
	ck_assert_int_ge(gateway_log_count(&gw, "refused a page"), 8);
	stop_all();
}
END_TEST

START_TEST(the_broker_policy_decides_what_a_page_may_register)
{
	char config_path[400], config[256];
	const char *broker_args[] = { "--config", config_path, NULL };
	const char *args[] = { "--allow-origin", "*", NULL };
	TestBroker *b = &broker;
	json_t *a;
	Ws *ws;
	int fd;

	/* The broker's own uid restricted like anyone else: only
	 * http://a.test, any port. */
	snprintf(config_path, sizeof(config_path), "%s/policy.XXXXXX", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
	fd = mkstemp(config_path);
	ck_assert_int_ge(fd, 0);
	snprintf(config, sizeof(config), "[uid %u]\nregister = http://a.test:*\n", (unsigned)geteuid());
	ck_assert_int_eq(write(fd, config, strlen(config)), (ssize_t)strlen(config));
	close(fd);
	test_broker_start_args(b, broker_args, 0);
	gateway_start(&gw, b, args);

	ws = page(gw.port, ORIGIN_B);
	a = ws_request(ws, "\"op\":\"open\",\"name\":\"pb\"");
	ck_assert_str_eq(error_name(a), "SecurityError");
	json_decref(a);
	ws_free(ws);
	ws = page(gw.port, ORIGIN_A);
	page_open(ws, "pa", "/");
	ws_free(ws);
	unlink(config_path);
	stop_all();
}
END_TEST

START_TEST(limits_are_enforced)
{
	const char *args[] = { "--allow-origin", "http://a.test:*", "--max-windows", "2", "--max-message-size", "4KiB",
			       "--max-pages", "2", NULL };
	char big[6000];
	json_t *a;
	Ws *ws, *second, *third;
	uint64_t id;

	test_broker_start(&broker);
	gateway_start(&gw, &broker, args);
	ws = page(gw.port, ORIGIN_A);
	id = page_open(ws, "w1", "/");
	page_open(ws, "w2", "/");
	a = ws_request(ws, "\"op\":\"open\",\"name\":\"w3\"");
	ck_assert_str_eq(error_name(a), "QuotaExceededError");
	json_decref(a);

	/* A third page is refused while two are connected. */
	second = page(gw.port, ORIGIN_A);
	third = ws_connect(gw.port, ORIGIN_A);
	a = ws_recv_json(third);
	ck_assert_str_eq(json_string_value(json_object_get(a, "ev")), "refused");
	ck_assert_str_eq(error_name(a), "QuotaExceededError");
	json_decref(a);
	ws_free(third);
	ws_free(second);

	/* An event over the size limit reaches the page as messageerror. */
	{
		cp_client *native = test_client(&broker);
		cp_window *nat = NULL;
		cp_value *v = NULL;
		json_t *ev;

		memset(big, 'x', sizeof(big) - 1);
		big[sizeof(big) - 1] = '\0';
		ck_assert_int_eq(cp_window_open(native, "https://native.example/", NULL, &nat), 0);
		ck_assert_int_eq(cp_value_new_string(big, &v), 0);
		ck_assert_int_eq(cp_post_message(nat, id, v, "*"), 0);
		ev = page_event(ws);
		ck_assert_str_eq(json_string_value(json_object_get(ev, "ev")), "messageerror");
		ck_assert_ptr_nonnull(strstr(json_string_value(json_object_get(ev, "reason")), "--max-message-size"));
		json_decref(ev);
		cp_value_free(v);
		cp_client_free(native);
	}

	/* A message over the limit closes the page: 1009. */
	snprintf(big, sizeof(big), "{\"req\":1,\"op\":\"post\",\"data\":\"%05000d\"}", 0);
	ws_send(ws, big);
	ck_assert_ptr_null(ws_recv(ws, WAIT_MS));
	ck_assert_int_eq(ws->close_code, 1009);
	ws_free(ws);

	/* So does a binary message: 1003. */
	ws = page(gw.port, ORIGIN_A);
	ws_send_kind(ws, "\x01\x02", 2, true);
	ck_assert_ptr_null(ws_recv(ws, WAIT_MS));
	ck_assert_int_eq(ws->close_code, 1003);
	ws_free(ws);
	stop_all();
}
END_TEST

START_TEST(bad_requests_are_answered_not_fatal)
{
	json_t *a;
	Ws *ws;
	uint64_t id;

	start_default();
	ws = page(gw.port, ORIGIN_A);
	a = ws_request(ws, "\"op\":\"post\",\"window\":1,\"target\":1,\"targetOrigin\":\"*\",\"data\":1");
	ck_assert_str_eq(error_name(a), "InvalidStateError");     /* before any open */
	json_decref(a);
	id = page_open(ws, "pa", "/");
	a = ws_request(ws, "\"op\":\"frobnicate\"");
	ck_assert_str_eq(error_name(a), "TypeError");
	json_decref(a);
	a = ws_request(ws, "\"op\":\"post\",\"window\":%llu,\"target\":\"pa\",\"targetOrigin\":\"*\",\"data\":{\"$nope\":1}",
		       (unsigned long long)id);
	ck_assert_str_eq(error_name(a), "SyntaxError");
	json_decref(a);
	a = ws_request(ws, "\"op\":\"post\",\"window\":%llu,\"target\":\"pa\",\"targetOrigin\":\"*\","
		       "\"data\":{\"$host\":\"function f\"}", (unsigned long long)id);
	ck_assert_str_eq(error_name(a), "DataCloneError");
	json_decref(a);
	a = ws_request(ws, "\"op\":\"post\",\"window\":%llu,\"target\":\"pa\",\"targetOrigin\":\"*\","
		       "\"data\":{\"$port\":7}", (unsigned long long)id);
	ck_assert_str_eq(error_name(a), "DataCloneError");
	json_decref(a);
	a = ws_request(ws, "\"op\":\"post\",\"window\":%llu,\"target\":99999,\"targetOrigin\":\"*\",\"data\":1",
		       (unsigned long long)id + 1000);
	ck_assert_str_eq(error_name(a), "InvalidStateError");     /* not one of its windows */
	json_decref(a);
	ws_send(ws, "not json");
	a = ws_recv_json(ws);
	ck_assert_str_eq(error_name(a), "SyntaxError");
	json_decref(a);
	/* Still served. */
	a = ws_request(ws, "\"op\":\"lookup\",\"name\":\"pa\"");
	expect_ok(a);
	ck_assert_str_eq(json_string_value(json_object_get(a, "origin")), ORIGIN_A);
	json_decref(a);
	ws_free(ws);
	stop_all();
}
END_TEST

/* Port events for the page's port handle h. */
static json_t *page_port_event(Ws *ws, json_int_t handle)
{
	json_t *ev = page_event(ws);

	ck_assert_int_eq(json_integer_value(json_object_get(ev, "port")), handle);
	return ev;
}

static void on_native_port(cp_port *port, const cp_event *ev, void *userdata)
{
	TestInbox *inbox = userdata;

	(void)port;
	if (inbox->count < 4096) {
		const cp_value *d = cp_event_data(ev);

		inbox->json[inbox->count] = d ? cp_value_to_json(d) : NULL;
		inbox->origin[inbox->count] = strdup(cp_event_origin(ev));
		inbox->count++;
	}
}

static cp_port *received_port;

static void on_native_event_keep_port(cp_window *window, const cp_event *ev, void *userdata)
{
	cp_port *const *ports = NULL;

	test_inbox_callback(window, ev, userdata);
	if (cp_event_ports(ev, &ports) == 1)
		received_port = ports[0];
}

START_TEST(ports_move_between_pages_and_processes)
{
	cp_client *native;
	cp_window *nat = NULL;
	TestInbox *inbox = calloc(1, sizeof(*inbox)), *port_inbox = calloc(1, sizeof(*port_inbox));
	cp_port *n1 = NULL, *n2 = NULL;
	cp_value *data = NULL, *node = NULL, *hello = NULL;
	json_t *a, *ev, *ports;
	json_int_t handle;
	Ws *ws;
	uint64_t id;

	start_default();
	native = test_client(&broker);
	ck_assert_int_eq(cp_window_open(native, "https://native.example/", "nat", &nat), 0);
	cp_window_set_callback(nat, on_native_event_keep_port, inbox);
	ws = page(gw.port, ORIGIN_A);
	id = page_open(ws, "pa", "/");

	/* The page makes a channel and sends port 3, in the data and in the
	 * transfer list, to the native window; the native side answers on it. */
	a = ws_request(ws, "\"op\":\"channel\",\"ports\":[1,3]");
	expect_ok(a);
	json_decref(a);
	a = ws_request(ws, "\"op\":\"post\",\"window\":%llu,\"target\":\"nat\",\"targetOrigin\":\"*\","
		       "\"data\":{\"port\":{\"$port\":3},\"again\":[{\"$port\":3}],\"v\":{\"$typed\":[\"Uint8Array\",\"AQI=\"]}},"
		       "\"transfer\":[3]", (unsigned long long)id);
	expect_ok(a);
	json_decref(a);
	ck_assert_uint_eq(test_inbox_wait(native, inbox, 1, WAIT_MS), 1);
	ck_assert_ptr_nonnull(received_port);
	ck_assert_msg(strstr(inbox->json[0], "\"port\":{\"$id\":1,\"$value\":{\"$port\":") != NULL, "%s", inbox->json[0]);
	ck_assert_msg(strstr(inbox->json[0], "\"again\":[{\"$ref\":1}]") != NULL, "%s", inbox->json[0]);
	ck_assert_msg(strstr(inbox->json[0], "\"v\":{\"$typed\":[\"Uint8Array\",\"AQI=\"]}") != NULL, "%s", inbox->json[0]);
	hello = test_value("\"through the port\"");
	ck_assert_int_eq(cp_port_post_message(received_port, hello, NULL, 0), 0);
	ev = page_port_event(ws, 1);
	ck_assert_str_eq(json_string_value(json_object_get(ev, "data")), "through the port");
	ck_assert_str_eq(json_string_value(json_object_get(ev, "origin")), "");
	ck_assert(json_is_null(json_object_get(ev, "source")));
	json_decref(ev);
	/* Port 3 is gone from the page. */
	a = ws_request(ws, "\"op\":\"portpost\",\"port\":3,\"data\":1");
	ck_assert_str_eq(error_name(a), "InvalidStateError");
	json_decref(a);
	/* A port in the data must be in the transfer list. */
	a = ws_request(ws, "\"op\":\"post\",\"window\":%llu,\"target\":\"nat\",\"targetOrigin\":\"*\","
		       "\"data\":{\"$port\":1}", (unsigned long long)id);
	ck_assert_str_eq(error_name(a), "DataCloneError");
	json_decref(a);

	/* The native side sends a port to the page, which answers on it. */
	ck_assert_int_eq(cp_channel_new(nat, &n1, &n2), 0);
	cp_port_set_callback(n1, on_native_port, port_inbox);
	ck_assert_int_eq(cp_value_new_port(n2, &node), 0);
	ck_assert_int_eq(cp_value_new_object(&data), 0);
	ck_assert_int_eq(cp_value_object_set(data, "p", node), 0);
	ck_assert_int_eq(cp_post_message_with_transfer(nat, id, data, "*", &node, 1), 0);
	ev = page_event(ws);
	ports = json_object_get(ev, "ports");
	ck_assert_uint_eq(json_array_size(ports), 1);
	handle = json_integer_value(json_array_get(json_array_get(ports, 0), 1));
	ck_assert_int_eq(handle % 2, 0);     /* the gateway's handles are even */
	ck_assert_int_eq(json_integer_value(json_object_get(json_object_get(json_object_get(ev, "data"), "p"), "$port")),
			 json_integer_value(json_array_get(json_array_get(ports, 0), 0)));
	json_decref(ev);
	a = ws_request(ws, "\"op\":\"portpost\",\"port\":%lld,\"data\":{\"$bytes\":\"AAE=\"}", (long long)handle);
	expect_ok(a);
	json_decref(a);
	ck_assert_uint_eq(test_inbox_wait(native, port_inbox, 1, WAIT_MS), 1);
	ck_assert_str_eq(port_inbox->json[0], "{\"$bytes\":\"AAE=\"}");
	/* Closing: nothing more arrives on the native end from it. */
	a = ws_request(ws, "\"op\":\"portclose\",\"port\":%lld", (long long)handle);
	expect_ok(a);
	json_decref(a);

	cp_value_free(data);
	cp_value_free(hello);
	ws_free(ws);
	cp_client_free(native);
	test_inbox_clear(inbox);
	test_inbox_clear(port_inbox);
	free(inbox);
	free(port_inbox);
	received_port = NULL;
	stop_all();
}
END_TEST

/* The broker holds 1 MiB for a receiver and 1 MiB for each sender, so
 * that the floods below are well over what the broker, the gateway and
 * the sockets between them can hold. */
static const char *const small_broker[] = { "--limit", "queue-high=1048576", "--limit", "queue-low=262144",
					    "--limit", "park-high=1048576", "--limit", "park-low=262144", NULL };

/* A native process that posts count messages of size bytes to window id,
 * then exits 0; it blocks wherever the broker holds it back. */
static pid_t spawn_flooder(uint64_t target, int count, size_t size)
{
	pid_t pid = fork();

	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		cp_client *c = NULL;
		cp_window *w = NULL;
		cp_value *v = NULL;
		char *text = malloc(size + 1);

		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (cp_client_new(broker.socket_path, &c) < 0 || cp_window_open(c, "https://flood.example/", NULL, &w) < 0)
			_exit(2);
		memset(text, 'f', size);
		text[size] = '\0';
		if (cp_value_new_string(text, &v) < 0)
			_exit(3);
		for (int i = 0; i < count; i++)
			if (cp_post_message(w, target, v, "*") < 0)
				_exit(4);
		cp_client_sync(c, 30000);
		_exit(0);
	}
	return pid;
}

static bool child_running(pid_t pid)
{
	return waitpid(pid, NULL, WNOHANG) == 0;
}

/* A page posts to itself and receives it: the gateway serves it. */
static void round_trip(Ws *ws, uint64_t id)
{
	json_t *a, *ev;

	a = ws_request(ws, "\"op\":\"post\",\"window\":%llu,\"target\":%llu,\"targetOrigin\":\"/\",\"data\":\"self\"",
		       (unsigned long long)id, (unsigned long long)id);
	expect_ok(a);
	json_decref(a);
	ev = page_event(ws);
	ck_assert_str_eq(json_string_value(json_object_get(ev, "data")), "self");
	json_decref(ev);
}

START_TEST(a_page_that_does_not_read_holds_back_its_senders_only)
{
	const char *args[] = { "--allow-origin", "http://a.test:*", "--queue-high", "1MiB", NULL };
	const int count = 64;
	const size_t size = 512 * 1024;
	Ws *stalled, *other;
	uint64_t stalled_id, other_id;
	pid_t flooder;
	int status = -1, received = 0;

	test_broker_start_args(&broker, small_broker, 0);
	gateway_start(&gw, &broker, args);
	stalled = page(gw.port, ORIGIN_A);
	stalled_id = page_open(stalled, "stalled", "/");
	other = page(gw.port, ORIGIN_A);
	other_id = page_open(other, "other", "/");

	/* 32 MiB for a page that is not read (its client is not serviced):
	 * the gateway holds about queue-high per direction, its worker stops
	 * reading the broker, and the broker stops the sender. */
	flooder = spawn_flooder(stalled_id, count, size);
	for (int i = 0; i < 20; i++) {
		usleep(100 * 1000);
		ck_assert_msg(child_running(flooder), "the sender was never held back");
	}
	/* Meanwhile another page is served at once. */
	round_trip(other, other_id);
	ck_assert(child_running(flooder));

	/* Once the page reads again, everything arrives, in order. */
	for (long long deadline = now_ms() + 60000; received < count && now_ms() < deadline;) {
		char *m = ws_recv(stalled, 1000);
		json_t *j = m ? json_loads(m, 0, NULL) : NULL;

		if (j && json_is_string(json_object_get(j, "data"))) {
			ck_assert_uint_eq(json_string_length(json_object_get(j, "data")), size);
			received++;
		}
		json_decref(j);
		free(m);
	}
	ck_assert_int_eq(received, count);
	ck_assert_int_eq(waitpid(flooder, &status, 0), flooder);
	ck_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	ws_free(other);
	ws_free(stalled);
	stop_all();
}
END_TEST

/* The page's outbox after servicing it for ms: what the gateway did not
 * read.  (Only a gateway that stops reading can leave it non-empty.) */
static size_t ws_unsent_after(Ws *ws, int ms)
{
	for (long long deadline = now_ms() + ms; !ws_sent(ws) && now_ms() < deadline;)
		lws_service(ws->context, 0);
	return ws->n_out - ws->out_head;
}

START_TEST(a_page_held_back_by_the_broker_does_not_hold_back_others)
{
	const char *args[] = { "--allow-origin", "http://a.test:*", "--queue-high", "1MiB", NULL };
	const int count = 40;
	static char msg[600 * 1024];
	cp_client *native;
	cp_window *sink = NULL;
	TestInbox *inbox = calloc(1, sizeof(*inbox));
	Ws *flooding, *other;
	uint64_t flooding_id, other_id;
	size_t off;

	test_broker_start_args(&broker, small_broker, 0);
	gateway_start(&gw, &broker, args);
	native = test_client(&broker);
	ck_assert_int_eq(cp_window_open(native, "https://sink.example/", "sink", &sink), 0);
	cp_window_set_callback(sink, test_inbox_callback, inbox);
	flooding = page(gw.port, ORIGIN_A);
	flooding_id = page_open(flooding, "flooding", "/");
	other = page(gw.port, ORIGIN_A);
	other_id = page_open(other, "other", "/");

	/* The native sink does not dispatch: the broker stops reading the
	 * flooding page's worker, whose requests then wait in the gateway,
	 * which stops reading the page.  The page sends without waiting. */
	snprintf(msg, sizeof(msg), "{\"req\":1,\"op\":\"post\",\"window\":%llu,\"target\":\"sink\","
		 "\"targetOrigin\":\"*\",\"data\":\"", (unsigned long long)flooding_id);
	off = strlen(msg);
	memset(msg + off, 'p', 512 * 1024);
	strcpy(msg + off + 512 * 1024, "\"}");
	for (int i = 0; i < count; i++)
		ws_queue_kind(flooding, msg, strlen(msg), false);
	ck_assert_msg(ws_unsent_after(flooding, 1000) > 0, "the gateway read all of the flooding page");

	/* Meanwhile another page is served, and the flooding one still waits. */
	round_trip(other, other_id);
	ck_assert_uint_lt(inbox->count, (size_t)count);
	ck_assert_uint_gt(ws_unsent_after(flooding, 0), 0);

	/* The sink reads: every post arrives whole, and the flooding
	 * page is served again. */
	for (long long deadline = now_ms() + 60000; inbox->count < (size_t)count && now_ms() < deadline;) {
		ws_unsent_after(flooding, 10);
		test_inbox_wait(native, inbox, (size_t)count, 10);
	}
	ck_assert_uint_eq(inbox->count, (size_t)count);
	for (int i = 0; i < count; i++)
		ck_assert_uint_eq(strlen(inbox->json[i]), 512 * 1024 + 2);
	round_trip(flooding, flooding_id);
	ws_free(other);
	ws_free(flooding);
	cp_client_free(native);
	test_inbox_clear(inbox);
	free(inbox);
	stop_all();
}
END_TEST

START_TEST(workers_end_with_their_pages_and_the_gateway)
{
	cp_client *native;
	cp_broker_stats stats;
	Ws *ws;

	start_default();
	native = test_client(&broker);
	ws = page(gw.port, ORIGIN_A);
	page_open(ws, "pa", "/");
	ck_assert_int_eq(cp_client_broker_stats(native, &stats), 0);
	ck_assert_uint_eq(stats.windows, 1);
	ws_free(ws);
	/* The page's windows leave the broker with it. */
	for (long long deadline = now_ms() + WAIT_MS; now_ms() < deadline; usleep(20 * 1000)) {
		ck_assert_int_eq(cp_client_broker_stats(native, &stats), 0);
		if (stats.windows == 0)
			break;
	}
	ck_assert_uint_eq(stats.windows, 0);
	ws = page(gw.port, ORIGIN_A);
	page_open(ws, "pb", "/");
	ck_assert_int_eq(gateway_stop(&gw), 0);
	for (long long deadline = now_ms() + WAIT_MS; now_ms() < deadline; usleep(20 * 1000)) {
		ck_assert_int_eq(cp_client_broker_stats(native, &stats), 0);
		if (stats.windows == 0 && stats.connections == 1)
			break;
	}
	ck_assert_uint_eq(stats.windows, 0);
	ck_assert_uint_eq(stats.connections, 1);
	ws_free(ws);
	cp_client_free(native);
	test_broker_stop(&broker);
}
END_TEST

START_TEST(the_page_learns_when_the_broker_goes)
{
	json_t *ev;
	Ws *ws;

	start_default();
	ws = page(gw.port, ORIGIN_A);
	page_open(ws, "pa", "/");
	test_broker_stop(&broker);
	ev = page_event(ws);
	ck_assert_str_eq(json_string_value(json_object_get(ev, "ev")), "disconnected");
	ck_assert_str_eq(error_name(ev), "NetworkError");
	json_decref(ev);
	ck_assert_ptr_null(ws_recv(ws, WAIT_MS));
	ck_assert_int_eq(ws->close_code, 1011);
	ws_free(ws);
	ck_assert_int_eq(gateway_stop(&gw), 0);
}
END_TEST

static Suite *gateway_suite(void)
{
	Suite *s = suite_create("gateway");
	TCase *tc = tcase_create("gateway");

	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, serves_the_script_on_loopback_only);
	tcase_add_test(tc, windows_have_the_handshake_origin);
	tcase_add_test(tc, target_origin_mismatches_are_dropped_both_ways);
	tcase_add_test(tc, pages_the_gateway_does_not_trust_are_refused);
	tcase_add_test(tc, the_broker_policy_decides_what_a_page_may_register);
	tcase_add_test(tc, limits_are_enforced);
	tcase_add_test(tc, bad_requests_are_answered_not_fatal);
	tcase_add_test(tc, ports_move_between_pages_and_processes);
	tcase_add_test(tc, a_page_that_does_not_read_holds_back_its_senders_only);
	tcase_add_test(tc, a_page_held_back_by_the_broker_does_not_hold_back_others);
	tcase_add_test(tc, workers_end_with_their_pages_and_the_gateway);
	tcase_add_test(tc, the_page_learns_when_the_broker_goes);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	signal(SIGPIPE, SIG_IGN);
	return test_run_suite(gateway_suite());
}
