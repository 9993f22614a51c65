/* SPDX-License-Identifier: MIT */
/* check_transferables.c - postMessage's transfer list through a real broker:
 * ArrayBuffers moved as sealed memfds and MessagePorts moved between
 * processes, every DataCloneError, and descriptor counts after delivery,
 * drops and deaths. */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <check.h>

#include "fixture.h"
#include "frame.h"

static TestBroker broker;

static void setup(void) { test_broker_start(&broker); }
static void teardown(void) { test_broker_stop(&broker); }

/* ---- helpers ---- */

#define MAX_EVENTS 64

/* What a window or port received; the data is taken out of each event. */
typedef struct Received {
	size_t count;
	cp_value *data[MAX_EVENTS];       /* NULL for messageerror */
	cp_port *ports[MAX_EVENTS][4];
	size_t n_ports[MAX_EVENTS];
} Received;

static void record(Received *r, const cp_event *ev)
{
	cp_port *const *ports;
	size_t i = r->count++, n = cp_event_ports(ev, &ports);

	ck_assert_uint_lt(i, MAX_EVENTS);
	ck_assert_uint_le(n, 4);
	r->data[i] = cp_event_take_data(ev);
	r->n_ports[i] = n;
	for (size_t k = 0; k < n; k++)
		r->ports[i][k] = ports[k];
}

static void on_window(cp_window *w, const cp_event *ev, void *userdata)
{
	(void)w;
	record(userdata, ev);
}

static void on_port(cp_port *p, const cp_event *ev, void *userdata)
{
	(void)p;
	record(userdata, ev);
}

static void received_clear(Received *r)
{
	for (size_t i = 0; i < r->count; i++)
		cp_value_free(r->data[i]);
	memset(r, 0, sizeof(*r));
}

static long long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Runs both clients (either may be NULL) until r holds n events; 10 s cap.
 * Both are driven: a sender's library must answer PortMoved for the
 * ports it gave away before they can land elsewhere. */
static void pump(cp_client *a, cp_client *b, Received *r, size_t n)
{
	long long deadline = now_ms() + 10000;

	while (r->count < n && now_ms() < deadline) {
		struct pollfd pfd[2];
		nfds_t k = 0;

		if (a)
			ck_assert_int_ge(cp_client_dispatch(a), 0);
		if (b)
			ck_assert_int_ge(cp_client_dispatch(b), 0);
		if (r->count >= n)
			break;
		if (a)
			pfd[k++] = (struct pollfd){ .fd = cp_client_fd(a), .events = POLLIN };
		if (b)
			pfd[k++] = (struct pollfd){ .fd = cp_client_fd(b), .events = POLLIN };
		poll(pfd, k, 20);
	}
	ck_assert_msg(r->count >= n, "received %zu events, waited for %zu", r->count, n);
}

static void must(int r, const char *what)
{
	ck_assert_msg(r == 0, "%s: %s: %s", what, cp_error_name(r), cp_last_error_message());
}

static cp_window *open_window(cp_client *c, const char *url)
{
	cp_window *w = NULL;

	must(cp_window_open(c, url, NULL, &w), "cp_window_open");
	return w;
}

/* A buffer of len bytes, byte i = (i * 7 + seed) % 251. */
static cp_value *pattern_buffer(size_t len, unsigned seed)
{
	cp_value *v = NULL;
	uint8_t *p;

	must(cp_value_new_array_buffer(NULL, len, &v), "array buffer");
	p = cp_value_array_buffer_data_mut(v, NULL);
	for (size_t i = 0; i < len; i++)
		p[i] = (uint8_t)((i * 7 + seed) % 251);
	return v;
}

static bool has_pattern(const cp_value *buffer, size_t len, unsigned seed)
{
	size_t n = 0;
	const uint8_t *p = cp_value_array_buffer_data(buffer, &n);

	if (n != len)
		return false;
	for (size_t i = 0; i < len; i++)
		if (p[i] != (uint8_t)((i * 7 + seed) % 251))
			return false;
	return true;
}

static cp_value *port_value(cp_port *p)
{
	cp_value *v = NULL;

	must(cp_value_new_port(p, &v), "cp_value_new_port");
	return v;
}

static cp_value *object_with(const char *key, cp_value *v)
{
	cp_value *o = test_value("{}");

	must(cp_value_object_set(o, key, v), "object_set");
	return o;
}

/* Moves port to window `to` of client `rc` (the same process), returning
 * the receiver's handle. */
static cp_port *give_port(cp_window *from, cp_client *from_client, cp_window *to, cp_client *rc,
			  Received *inbox, cp_port *port)
{
	cp_value *pv = port_value(port), *data = object_with("port", pv);
	size_t before = inbox->count;

	must(cp_post_message_with_transfer(from, cp_window_id(to), data, "*", &pv, 1), "post with port");
	ck_assert_int_eq(cp_port_get_state(port), CP_PORT_TRANSFERRED);
	cp_value_free(data);
	pump(from_client, rc, inbox, before + 1);
	ck_assert_uint_eq(inbox->n_ports[before], 1);
	ck_assert_ptr_eq(cp_value_port(cp_value_object_get(inbox->data[before], "port")), inbox->ports[before][0]);
	return inbox->ports[before][0];
}

/* ---- buffers ---- */

START_TEST(buffer_moves_window_to_window_and_the_senders_is_detached)
{
	int broker_start = test_broker_settled_fd_count(&broker), own_start = test_own_fd_count();
	cp_client *ca = test_client(&broker), *cb = test_client(&broker);
	cp_window *a = open_window(ca, "https://a.example/"), *b = open_window(cb, "https://b.example/");
	const size_t big_len = 4u << 20;
	cp_value *big = pattern_buffer(big_len, 1), *small = pattern_buffer(100, 2), *u8, *dv, *data;
	cp_value *transfer[2] = { big, small };
	const cp_value *got_u8, *got_dv;
	Received in = { 0 };

	cp_window_set_callback(b, on_window, &in);
	must(cp_value_new_view(CP_VIEW_UINT8, big, 0, big_len, &u8), "view");
	must(cp_value_new_view(CP_VIEW_DATA_VIEW, big, 8, 16, &dv), "view");
	data = object_with("u8", u8);
	must(cp_value_object_set(data, "dv", dv), "set");
	must(cp_value_object_set(data, "small", small), "set");
	must(cp_post_message_with_transfer(a, cp_window_id(b), data, "*", transfer, 2), "post");

	/* The sender's buffers are detached at once; views on them see 0. */
	ck_assert(cp_value_array_buffer_is_detached(big));
	ck_assert(cp_value_array_buffer_is_detached(small));
	ck_assert_uint_eq(cp_value_view_length(u8), 0);
	ck_assert_uint_eq(cp_value_view_byte_length(dv), 0);

	pump(ca, cb, &in, 1);
	ck_assert_ptr_nonnull(in.data[0]);
	got_u8 = cp_value_object_get(in.data[0], "u8");
	got_dv = cp_value_object_get(in.data[0], "dv");
	ck_assert(has_pattern(cp_value_view_buffer(got_u8), big_len, 1));
	ck_assert(has_pattern(cp_value_object_get(in.data[0], "small"), 100, 2));
	/* Views sharing a buffer still share it. */
	ck_assert_ptr_eq(cp_value_view_buffer(got_u8), cp_value_view_buffer(got_dv));
	ck_assert_uint_eq(cp_value_view_byte_offset(got_dv), 8);
	ck_assert_uint_eq(cp_value_view_length(got_dv), 16);

	received_clear(&in);
	cp_value_free(data);
	cp_client_free(ca);
	cp_client_free(cb);
	ck_assert_int_eq(test_own_fd_count(), own_start);
	ck_assert_int_eq(test_broker_settled_fd_count(&broker), broker_start);
}
END_TEST

/* A large ArrayBuffer that is copied, not transferred, goes to the socket
 * from the sender's own memory (no serialization copy) - so the post must
 * be written before cp_post_message() returns: what the receiver gets is
 * the buffer as it was at the call, whatever the sender writes into it
 * next, with batching on or off, and in order with posts queued before. */
START_TEST(copied_large_buffers_are_the_bytes_at_post_time)
{
	cp_client *ca = test_client(&broker), *cb = test_client(&broker);
	cp_window *a = open_window(ca, "https://a.example/"), *b = open_window(cb, "https://b.example/");
	Received in = { 0 };

	cp_window_set_callback(b, on_window, &in);
	for (int batching = 0; batching <= 1; batching++) {
		cp_value *big = pattern_buffer(1u << 20, 7), *mid = pattern_buffer(70000, 8);
		cp_value *data = object_with("big", big), *first = test_value("1");
		uint8_t *p;
		size_t len;

		must(cp_value_object_set(data, "mid", mid), "set");
		must(cp_value_object_set(data, "again", big), "set");
		must(cp_client_set_batching(ca, batching), "batching");
		must(cp_post_message(a, cp_window_id(b), first, "*"), "post small");
		must(cp_post_message(a, cp_window_id(b), data, "*"), "post large");
		/* Changed at once: the post is a snapshot of the call. */
		p = cp_value_array_buffer_data_mut(big, &len);
		memset(p, 0xee, len);
		p = cp_value_array_buffer_data_mut(mid, &len);
		memset(p, 0xee, len);
		cp_value_free(data);
		cp_value_free(first);
		must(cp_client_flush(ca), "flush");

		pump(ca, cb, &in, in.count + 2);
		ck_assert_double_eq(cp_value_get_number(in.data[in.count - 2]), 1);
		ck_assert(has_pattern(cp_value_object_get(in.data[in.count - 1], "big"), 1u << 20, 7));
		ck_assert(has_pattern(cp_value_object_get(in.data[in.count - 1], "mid"), 70000, 8));
		/* One buffer referred to twice arrives as one. */
		ck_assert_ptr_eq(cp_value_object_get(in.data[in.count - 1], "big"),
				 cp_value_object_get(in.data[in.count - 1], "again"));
	}
	received_clear(&in);
	cp_client_free(ca);
	cp_client_free(cb);
}
END_TEST

START_TEST(buffer_moves_port_to_port_and_back)
{
	int broker_start = test_broker_settled_fd_count(&broker), own_start = test_own_fd_count();
	cp_client *ca = test_client(&broker), *cb = test_client(&broker);
	cp_window *a = open_window(ca, "https://a.example/"), *b = open_window(cb, "https://b.example/");
	cp_port *p1 = NULL, *p2 = NULL, *theirs;
	cp_value *buf = pattern_buffer(256 * 1024, 3), *back = pattern_buffer(1000, 4), *data;
	Received win = { 0 }, at_p2 = { 0 }, at_p1 = { 0 };

	cp_window_set_callback(b, on_window, &win);
	must(cp_channel_new(a, &p1, &p2), "channel");
	theirs = give_port(a, ca, b, cb, &win, p2);
	cp_port_set_callback(theirs, on_port, &at_p2);
	cp_port_set_callback(p1, on_port, &at_p1);

	data = object_with("buf", buf);
	must(cp_port_post_message(p1, data, &buf, 1), "port post");
	ck_assert(cp_value_array_buffer_is_detached(buf));
	pump(ca, cb, &at_p2, 1);
	ck_assert(has_pattern(cp_value_object_get(at_p2.data[0], "buf"), 256 * 1024, 3));
	/* And back, the buffer not in the data this time. */
	must(cp_port_post_message(theirs, at_p2.data[0], &back, 1), "port post back");
	ck_assert(cp_value_array_buffer_is_detached(back));
	pump(ca, cb, &at_p1, 1);
	ck_assert(has_pattern(cp_value_object_get(at_p1.data[0], "buf"), 256 * 1024, 3));

	received_clear(&win);
	received_clear(&at_p1);
	received_clear(&at_p2);
	cp_value_free(data);
	cp_value_free(back);
	cp_client_free(ca);
	cp_client_free(cb);
	ck_assert_int_eq(test_own_fd_count(), own_start);
	ck_assert_int_eq(test_broker_settled_fd_count(&broker), broker_start);
}
END_TEST

START_TEST(buffer_in_transfer_but_not_in_data_is_transferred_and_closed)
{
	int broker_start = test_broker_settled_fd_count(&broker), own_start = test_own_fd_count();
	cp_client *ca = test_client(&broker), *cb = test_client(&broker);
	cp_window *a = open_window(ca, "https://a.example/"), *b = open_window(cb, "https://b.example/");
	cp_value *big = pattern_buffer(1u << 20, 5), *small = pattern_buffer(10, 6), *data = test_value("\"hi\"");
	cp_value *transfer[2] = { small, big };
	Received in = { 0 };
	char *text;

	cp_window_set_callback(b, on_window, &in);
	must(cp_post_message_with_transfer(a, cp_window_id(b), data, "*", transfer, 2), "post");
	ck_assert(cp_value_array_buffer_is_detached(big));
	ck_assert(cp_value_array_buffer_is_detached(small));
	pump(ca, cb, &in, 1);
	text = cp_value_to_json(in.data[0]);
	ck_assert_str_eq(text, "\"hi\"");
	free(text);
	received_clear(&in);
	cp_value_free(data);
	cp_value_free(big);
	cp_value_free(small);
	/* The receiver's frame closed the two descriptors nobody took. */
	cp_client_free(ca);
	cp_client_free(cb);
	ck_assert_int_eq(test_own_fd_count(), own_start);
	ck_assert_int_eq(test_broker_settled_fd_count(&broker), broker_start);
}
END_TEST

/* ---- DataCloneError ---- */

START_TEST(data_clone_errors_move_nothing)
{
	cp_client *ca = test_client(&broker), *cb = test_client(&broker);
	cp_window *a = open_window(ca, "https://a.example/"), *b = open_window(cb, "https://b.example/");
	cp_port *p1 = NULL, *p2 = NULL, *q1 = NULL, *q2 = NULL, *gone1 = NULL, *gone2 = NULL;
	cp_port *closed1 = NULL, *closed2 = NULL;
	cp_value *buf = pattern_buffer(200000, 7), *small = pattern_buffer(50, 8), *detached = pattern_buffer(10, 9);
	cp_value *pv1, *pq2, *gone, *closed, *obj = test_value("{\"x\":1}"), *view = NULL, *host = NULL;
	cp_value *with_port, *many[FRAME_FDS_MAX + 1], *plain = test_value("[1]");
	const uint8_t *at = cp_value_array_buffer_data(buf, NULL);
	Received win = { 0 }, at_p2 = { 0 }, at_q1 = { 0 };
	cp_value *cases[8][2];
	size_t n_cases = 0;

	cp_window_set_callback(b, on_window, &win);
	must(cp_channel_new(a, &p1, &p2), "channel");
	must(cp_channel_new(a, &q1, &q2), "channel");
	must(cp_channel_new(a, &gone1, &gone2), "channel");
	must(cp_channel_new(a, &closed1, &closed2), "channel");
	give_port(a, ca, b, cb, &win, gone2);
	must(cp_port_close(closed2), "close");
	must(cp_post_message_with_transfer(a, cp_window_id(b), plain, "*", &detached, 1), "detaching post");
	pump(ca, cb, &win, 2);
	cp_port_set_callback(p2, on_port, &at_p2);
	cp_port_set_callback(q1, on_port, &at_q1);
	pv1 = port_value(p1);
	pq2 = port_value(q2);
	gone = port_value(gone2);
	closed = port_value(closed2);
	must(cp_value_new_view(CP_VIEW_UINT8, small, 0, 50, &view), "view");
	must(cp_value_new_host_object("function f() {}", &host), "host");

#define CASE(x, y) (cases[n_cases][0] = (x), cases[n_cases][1] = (y), n_cases++)
	CASE(buf, buf);          /* the same object twice */
	CASE(pq2, pq2);
	CASE(buf, detached);     /* a detached buffer */
	CASE(buf, gone);         /* a port already transferred */
	CASE(buf, closed);       /* a closed port */
	CASE(buf, obj);          /* not transferable */
	CASE(buf, view);         /* a view is not either */
	CASE(buf, host);
#undef CASE
	with_port = object_with("q2", pq2);
	must(cp_value_object_set(with_port, "buf", buf), "set");
	for (size_t i = 0; i < n_cases; i++) {
		int r = cp_post_message_with_transfer(a, cp_window_id(b), with_port, "*", cases[i], 2);

		ck_assert_msg(r == CP_ERR_DATA_CLONE, "window case %zu: %d %s", i, r, cp_last_error_message());
		r = cp_port_post_message(p1, with_port, cases[i], 2);
		ck_assert_msg(r == CP_ERR_DATA_CLONE, "port case %zu: %d %s", i, r, cp_last_error_message());
	}
	/* A port in the data that the transfer list does not hold. */
	ck_assert_int_eq(cp_post_message_with_transfer(a, cp_window_id(b), with_port, "*", &buf, 1), CP_ERR_DATA_CLONE);
	ck_assert_ptr_nonnull(strstr(cp_last_error_message(), "transfer list"));
	ck_assert_int_eq(cp_post_message(a, cp_window_id(b), with_port, "*"), CP_ERR_DATA_CLONE);
	/* The port being posted on. */
	ck_assert_int_eq(cp_port_post_message(p1, plain, &pv1, 1), CP_ERR_DATA_CLONE);
	/* Too many. */
	for (size_t i = 0; i < FRAME_FDS_MAX + 1; i++)
		many[i] = pattern_buffer(1, 0);
	ck_assert_int_eq(cp_post_message_with_transfer(a, cp_window_id(b), plain, "*", many, FRAME_FDS_MAX + 1),
			 CP_ERR_DATA_CLONE);
	for (size_t i = 0; i < FRAME_FDS_MAX + 1; i++) {
		ck_assert(!cp_value_array_buffer_is_detached(many[i]));
		cp_value_free(many[i]);
	}
	ck_assert_int_eq(cp_error_name(CP_ERR_DATA_CLONE)[0], 'D');

	/* Nothing moved: the buffer is whole, where it was; the ports work. */
	ck_assert(!cp_value_array_buffer_is_detached(buf));
	ck_assert_ptr_eq(cp_value_array_buffer_data(buf, NULL), at);
	ck_assert(has_pattern(buf, 200000, 7));
	ck_assert_int_eq(cp_port_get_state(p1), CP_PORT_OPEN);
	ck_assert_int_eq(cp_port_get_state(q2), CP_PORT_OPEN);
	must(cp_port_post_message(q2, plain, NULL, 0), "q2 still works");
	must(cp_port_post_message(p1, plain, NULL, 0), "p1 still works");
	pump(ca, NULL, &at_q1, 1);
	pump(ca, NULL, &at_p2, 1);
	/* And the right transfer list goes through. */
	{
		cp_value *t[2] = { pq2, buf };

		must(cp_post_message_with_transfer(a, cp_window_id(b), with_port, "*", t, 2), "good post");
		pump(ca, cb, &win, 3);
		ck_assert(has_pattern(cp_value_object_get(win.data[2], "buf"), 200000, 7));
		ck_assert_ptr_eq(cp_value_port(cp_value_object_get(win.data[2], "q2")), win.ports[2][0]);
	}
	received_clear(&win);
	received_clear(&at_p2);
	received_clear(&at_q1);
	cp_value_free(with_port);
	cp_value_free(pv1);
	cp_value_free(gone);
	cp_value_free(closed);
	cp_value_free(obj);
	cp_value_free(view);
	cp_value_free(host);
	cp_value_free(detached);
	cp_value_free(plain);
	cp_client_free(ca);
	cp_client_free(cb);
}
END_TEST

/* ---- ports between processes ---- */

/*
 * A child process that owns windows and ports of its own (its own
 * libcrosspost client).  It opens a window, writes the window's id to the
 * ready pipe, and serves until it gets {"quit":true}:
 *   - a window message {"port": PORT, "next": ID, "keep": K} gives it a
 *     port; it records what arrives on it: a number N, or {"n":N,"buf":B}
 *     with B = pattern_buffer(BUFFER_LEN, N) (anything else: -1000);
 *   - with next != 0, after K messages it posts {"got":[...]} on the port,
 *     then transfers the port to window `next` with {"port":..,"next":0};
 *   - on the number -1 it posts {"got":[...]} on the port;
 *   - with keep == 0 and next == 0 it posts "ready" on the port at once.
 * Exit status 0 when all went well.
 */
#define BUFFER_LEN 100000

typedef struct Relay {
	cp_client *client;
	cp_window *window;
	cp_port *port;
	uint64_t next;
	int keep;
	int got[64];
	int n_got;
	bool quit;
	int failed;
} Relay;

static void relay_fail(Relay *r, const char *what, int code)
{
	fprintf(stderr, "relay %d: %s: %s: %s\n", (int)getpid(), what, cp_error_name(code), cp_last_error_message());
	r->failed = 1;
}

static void relay_report(Relay *r)
{
	char text[512];
	size_t len = 0;
	cp_value *v = NULL;
	int rc;

	len += (size_t)snprintf(text + len, sizeof(text) - len, "{\"got\":[");
	for (int i = 0; i < r->n_got; i++)
		len += (size_t)snprintf(text + len, sizeof(text) - len, "%s%d", i ? "," : "", r->got[i]);
	snprintf(text + len, sizeof(text) - len, "]}");
	rc = cp_value_from_json(text, strlen(text), NULL, &v);
	if (rc == 0)
		rc = cp_port_post_message(r->port, v, NULL, 0);
	if (rc < 0)
		relay_fail(r, "report", rc);
	cp_value_free(v);
}

static void relay_on_port(cp_port *port, const cp_event *ev, void *userdata)
{
	Relay *r = userdata;
	const cp_value *d = cp_event_data(ev);
	int n = -1000;

	if (d && cp_value_get_type(d) == CP_VALUE_NUMBER)
		n = (int)cp_value_get_number(d);
	else if (d && cp_value_object_get(d, "n") &&
		 has_pattern(cp_value_object_get(d, "buf"), BUFFER_LEN, (unsigned)cp_value_get_number(cp_value_object_get(d, "n"))))
		n = (int)cp_value_get_number(cp_value_object_get(d, "n"));
	if (r->n_got < 64)
		r->got[r->n_got++] = n;
	if (n == -1) {
		relay_report(r);
		return;
	}
	if (r->next && r->n_got == r->keep) {
		cp_value *pv = NULL, *data = NULL, *next = NULL;
		int rc;

		relay_report(r);
		/* Moved from inside its own callback, with more messages for it
		 * queued behind this one: those go to the next owner. */
		rc = cp_value_new_port(port, &pv);
		if (rc == 0)
			rc = cp_value_new_object(&data);
		if (rc == 0)
			rc = cp_value_object_set(data, "port", pv);
		if (rc == 0)
			rc = cp_value_new_number(0, &next);
		if (rc == 0)
			rc = cp_value_object_set(data, "next", next);
		if (rc == 0)
			rc = cp_post_message_with_transfer(r->window, r->next, data, "*", &pv, 1);
		if (rc < 0)
			relay_fail(r, "forward the port", rc);
		cp_value_free(data);
	}
}

static void relay_on_window(cp_window *w, const cp_event *ev, void *userdata)
{
	Relay *r = userdata;
	const cp_value *d = cp_event_data(ev);
	cp_port *const *ports;

	(void)w;
	if (d && cp_value_object_get(d, "quit")) {
		r->quit = true;
		return;
	}
	if (!d || cp_event_ports(ev, &ports) != 1 || cp_value_port(cp_value_object_get(d, "port")) != ports[0]) {
		relay_fail(r, "a window message without its port", 0);
		return;
	}
	r->port = ports[0];
	r->next = (uint64_t)cp_value_get_number(cp_value_object_get(d, "next"));
	r->keep = cp_value_object_get(d, "keep") ? (int)cp_value_get_number(cp_value_object_get(d, "keep")) : 0;
	cp_port_set_callback(r->port, relay_on_port, r);
	if (!r->next && !r->keep)
		relay_report(r);   /* "ready": the port has landed here */
}

static int relay_main(int ready_fd)
{
	Relay r = { 0 };
	uint64_t id;
	int rc;

	alarm(30);
	rc = cp_client_new(broker.socket_path, &r.client);
	if (rc == 0)
		rc = cp_window_open(r.client, "https://relay.example/", NULL, &r.window);
	if (rc < 0) {
		relay_fail(&r, "connect", rc);
		return 1;
	}
	cp_window_set_callback(r.window, relay_on_window, &r);
	id = cp_window_id(r.window);
	if (write(ready_fd, &id, sizeof(id)) != sizeof(id))
		return 1;
	close(ready_fd);
	while (!r.quit && !r.failed) {
		rc = cp_client_wait(r.client, 1000);
		if (rc < 0) {
			relay_fail(&r, "wait", rc);
			break;
		}
	}
	cp_client_free(r.client);
	return r.failed;
}

/* Forks a relay; returns its pid and stores its window id. */
static pid_t spawn_relay(uint64_t *ret_window)
{
	int pipe_fds[2];
	pid_t pid;

	ck_assert_int_eq(pipe(pipe_fds), 0);
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		/* Nothing of the parent's: its clients are not ours. */
		for (int fd = 3; fd < 1024; fd++)
			if (fd != pipe_fds[1])
				close(fd);
		_exit(relay_main(pipe_fds[1]));
	}
	close(pipe_fds[1]);
	ck_assert_int_eq(read(pipe_fds[0], ret_window, sizeof(*ret_window)), (ssize_t)sizeof(*ret_window));
	close(pipe_fds[0]);
	return pid;
}

static void quit_relay(cp_window *from, uint64_t window, pid_t pid)
{
	cp_value *quit = test_value("{\"quit\":true}");
	int status;

	must(cp_post_message(from, window, quit, "*"), "quit");
	cp_value_free(quit);
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0, "relay %d ended with status %d", (int)pid, status);
}

/* Posts message n on port: a number, or with a transferred buffer. */
static void post_numbered(cp_port *port, int n, bool with_buffer)
{
	char text[32];
	cp_value *v, *buf;

	snprintf(text, sizeof(text), with_buffer ? "{\"n\":%d}" : "%d", n);
	v = test_value(text);
	if (!with_buffer) {
		must(cp_port_post_message(port, v, NULL, 0), "port post");
		cp_value_free(v);
		return;
	}
	buf = pattern_buffer(BUFFER_LEN, (unsigned)n);
	must(cp_value_object_set(v, "buf", buf), "set");
	must(cp_port_post_message(port, v, &buf, 1), "port post with buffer");
	ck_assert(cp_value_array_buffer_is_detached(buf));
	cp_value_free(v);
}

static void send_port(cp_window *from, uint64_t to, cp_port *port, uint64_t next, int keep)
{
	cp_value *pv = port_value(port), *data = object_with("port", pv);
	char text[32];

	snprintf(text, sizeof(text), "%llu", (unsigned long long)next);
	must(cp_value_object_set(data, "next", test_value(text)), "set");
	snprintf(text, sizeof(text), "%d", keep);
	must(cp_value_object_set(data, "keep", test_value(text)), "set");
	must(cp_post_message_with_transfer(from, to, data, "*", &pv, 1), "post the port");
	ck_assert_int_eq(cp_port_get_state(port), CP_PORT_TRANSFERRED);
	cp_value_free(data);
}

static char *got_json(const cp_value *report)
{
	const cp_value *got = report ? cp_value_object_get(report, "got") : NULL;

	return got ? cp_value_to_json(got) : strdup("(no report)");
}

static bool is_buffer_message(int n) { return n == 3 || n == 7 || n == 15; }

START_TEST(port_moved_to_another_process_keeps_messages_in_flight_in_order)
{
	int broker_start = test_broker_settled_fd_count(&broker);
	cp_client *ca = test_client(&broker);
	cp_window *a = open_window(ca, "https://a.example/");
	cp_port *p1 = NULL, *p2 = NULL;
	Received at_p1 = { 0 };
	uint64_t b_window;
	pid_t b = spawn_relay(&b_window);
	char *got;

	must(cp_channel_new(a, &p1, &p2), "channel");
	cp_port_set_callback(p1, on_port, &at_p1);
	/* Before the transfer: these reach p2 here and are handed on. */
	for (int n = 0; n < 10; n++)
		post_numbered(p1, n, is_buffer_message(n));
	send_port(a, b_window, p2, 0, 0);
	/* During it: held by the broker until p2 lands. */
	for (int n = 10; n < 20; n++)
		post_numbered(p1, n, is_buffer_message(n));
	post_numbered(p1, -1, false);
	pump(ca, NULL, &at_p1, 2);
	got = got_json(at_p1.data[0]);
	ck_assert_str_eq(got, "[]");   /* "ready" */
	free(got);
	got = got_json(at_p1.data[1]);
	ck_assert_str_eq(got, "[0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,-1]");
	free(got);
	quit_relay(a, b_window, b);
	received_clear(&at_p1);
	cp_client_free(ca);
	ck_assert_int_eq(test_broker_settled_fd_count(&broker), broker_start);
}
END_TEST

START_TEST(port_moves_through_three_processes_with_messages_in_flight)
{
	int broker_start = test_broker_settled_fd_count(&broker);
	cp_client *ca = test_client(&broker);
	cp_window *a = open_window(ca, "https://a.example/");
	cp_port *p1 = NULL, *p2 = NULL;
	Received at_p1 = { 0 };
	uint64_t b_window, c_window;
	pid_t b = spawn_relay(&b_window), c = spawn_relay(&c_window);
	char *got_b, *got_c;

	must(cp_channel_new(a, &p1, &p2), "channel");
	cp_port_set_callback(p1, on_port, &at_p1);
	for (int n = 0; n < 10; n++)
		post_numbered(p1, n, is_buffer_message(n));
	/* B keeps the first 5 it gets, then moves the port on to C from
	 * inside its callback, while the rest are on their way. */
	send_port(a, b_window, p2, c_window, 5);
	for (int n = 10; n < 30; n++)
		post_numbered(p1, n, is_buffer_message(n));
	post_numbered(p1, -1, false);
	pump(ca, NULL, &at_p1, 3);
	/* C's "ready" comes between B's report and C's. */
	got_b = got_json(at_p1.data[0]);
	ck_assert_str_eq(got_b, "[0,1,2,3,4]");
	free(got_b);
	got_c = got_json(at_p1.data[2]);
	ck_assert_str_eq(got_c, "[5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,26,27,28,29,-1]");
	free(got_c);
	quit_relay(a, b_window, b);
	quit_relay(a, c_window, c);
	received_clear(&at_p1);
	cp_client_free(ca);
	ck_assert_int_eq(test_broker_settled_fd_count(&broker), broker_start);
}
END_TEST

START_TEST(closing_the_peer_closes_the_port_and_drops_with_descriptors)
{
	int broker_start = test_broker_settled_fd_count(&broker), own_start = test_own_fd_count();
	cp_client *ca = test_client(&broker), *cb = test_client(&broker);
	cp_window *a = open_window(ca, "https://a.example/"), *b = open_window(cb, "https://b.example/");
	cp_port *p1 = NULL, *p2 = NULL, *theirs;
	cp_value *data = test_value("\"after close\""), *buf = pattern_buffer(300000, 1);
	Received win = { 0 }, at_p1 = { 0 };
	char needle[64];

	cp_window_set_callback(b, on_window, &win);
	must(cp_channel_new(a, &p1, &p2), "channel");
	theirs = give_port(a, ca, b, cb, &win, p2);
	cp_port_set_callback(p1, on_port, &at_p1);
	must(cp_port_close(p1), "close");
	ck_assert_int_eq(cp_port_get_state(p1), CP_PORT_CLOSED);
	/* The peer is gone: the message is dropped by the broker, and its
	 * descriptor closed; the buffer is transferred all the same (HTML). */
	must(cp_port_post_message(theirs, data, &buf, 1), "post to a closed peer");
	ck_assert(cp_value_array_buffer_is_detached(buf));
	must(cp_client_sync(cb, 5000), "sync");
	ck_assert_int_eq(cp_client_wait(ca, 200), 0);
	ck_assert_uint_eq(at_p1.count, 0);
	snprintf(needle, sizeof(needle), "port %llu closed", (unsigned long long)cp_port_id(p1));
	ck_assert_int_eq(test_broker_log_count(&broker, needle), 1);
	received_clear(&win);
	cp_value_free(data);
	cp_value_free(buf);
	cp_client_free(ca);
	cp_client_free(cb);
	ck_assert_int_eq(test_own_fd_count(), own_start);
	ck_assert_int_eq(test_broker_settled_fd_count(&broker), broker_start);
}
END_TEST

START_TEST(owner_process_dying_closes_the_port_and_leaks_no_descriptor)
{
	int broker_start = test_broker_settled_fd_count(&broker);
	cp_client *ca = test_client(&broker);
	cp_window *a = open_window(ca, "https://a.example/");
	cp_port *p1 = NULL, *p2 = NULL;
	Received at_p1 = { 0 };
	uint64_t b_window;
	pid_t b = spawn_relay(&b_window);
	char needle[64];
	int status, own_start;

	must(cp_channel_new(a, &p1, &p2), "channel");
	cp_port_set_callback(p1, on_port, &at_p1);
	send_port(a, b_window, p2, 0, 0);
	pump(ca, NULL, &at_p1, 1);   /* "ready": p2 is B's */
	own_start = test_own_fd_count();
	/* Messages with buffers reach B and wait there undispatched... */
	for (int n = 0; n < 5; n++)
		post_numbered(p1, n + 100, true);
	must(cp_client_sync(ca, 5000), "sync");
	kill(b, SIGKILL);
	ck_assert_int_eq(waitpid(b, &status, 0), b);
	/* ...and after B's death p2 is closed: these are dropped. */
	for (int n = 0; n < 5; n++)
		post_numbered(p1, n + 200, true);
	must(cp_client_sync(ca, 5000), "sync");
	snprintf(needle, sizeof(needle), "port %llu closed", (unsigned long long)cp_port_id(p2));
	ck_assert_int_eq(test_broker_log_count(&broker, needle), 1);
	ck_assert_int_eq(test_own_fd_count(), own_start);
	received_clear(&at_p1);
	cp_client_free(ca);
	ck_assert_int_eq(test_broker_settled_fd_count(&broker), broker_start);
}
END_TEST

/* ---- descriptors after drops and deaths ---- */

START_TEST(target_origin_mismatch_drops_the_buffers_and_ports_with_no_leak)
{
	int broker_start = test_broker_settled_fd_count(&broker), own_start = test_own_fd_count();
	cp_client *ca = test_client(&broker), *cb = test_client(&broker);
	cp_window *a = open_window(ca, "https://a.example/"), *b = open_window(cb, "https://b.example/");
	cp_port *p1 = NULL, *p2 = NULL;
	cp_value *big = pattern_buffer(1u << 20, 1), *small = pattern_buffer(10, 2), *pv, *data;
	cp_value *transfer[3];
	Received in = { 0 };
	char needle[64];

	cp_window_set_callback(b, on_window, &in);
	must(cp_channel_new(a, &p1, &p2), "channel");
	pv = port_value(p2);
	transfer[0] = big;
	transfer[1] = small;
	transfer[2] = pv;
	data = object_with("big", big);
	must(cp_value_object_set(data, "port", pv), "set");
	must(cp_post_message_with_transfer(a, cp_window_id(b), data, "https://other.example", transfer, 3), "post");
	/* Sent, so transferred, whatever the receiver's origin turns out to be. */
	ck_assert(cp_value_array_buffer_is_detached(big));
	ck_assert(cp_value_array_buffer_is_detached(small));
	ck_assert_int_eq(cp_port_get_state(p2), CP_PORT_TRANSFERRED);
	must(cp_client_sync(ca, 5000), "sync");
	ck_assert_int_eq(cp_client_wait(cb, 200), 0);
	ck_assert_uint_eq(in.count, 0);
	ck_assert_int_eq(test_broker_log_count(&broker, "does not match the target's origin"), 1);
	snprintf(needle, sizeof(needle), "port %llu closed", (unsigned long long)cp_port_id(p2));
	ck_assert_int_eq(test_broker_log_count(&broker, needle), 1);
	cp_value_free(data);
	cp_value_free(small);
	cp_client_free(ca);
	cp_client_free(cb);
	ck_assert_int_eq(test_own_fd_count(), own_start);
	ck_assert_int_eq(test_broker_settled_fd_count(&broker), broker_start);
}
END_TEST

START_TEST(receiver_dying_with_buffers_queued_leaks_no_descriptor)
{
	int broker_start = test_broker_settled_fd_count(&broker);
	cp_client *ca = test_client(&broker);
	cp_window *a = open_window(ca, "https://a.example/");
	int own_start = test_own_fd_count(), hold[2], status;
	uint64_t id;
	pid_t pid;

	ck_assert_int_eq(pipe(hold), 0);
	{
		int ready[2];

		ck_assert_int_eq(pipe(ready), 0);
		pid = fork();
		ck_assert_int_ge(pid, 0);
		if (pid == 0) {
			/* A receiver that never reads its events. */
			cp_client *c = NULL;
			cp_window *w = NULL;
			char byte;

			alarm(30);
			for (int fd = 3; fd < 1024; fd++)
				if (fd != ready[1] && fd != hold[0])
					close(fd);
			if (cp_client_new(broker.socket_path, &c) < 0 ||
			    cp_window_open(c, "https://b.example/", NULL, &w) < 0)
				_exit(1);
			id = cp_window_id(w);
			if (write(ready[1], &id, sizeof(id)) != sizeof(id))
				_exit(1);
			if (read(hold[0], &byte, 1) < 0)
				_exit(1);
			_exit(0);
		}
		close(ready[1]);
		close(hold[0]);
		ck_assert_int_eq(read(ready[0], &id, sizeof(id)), (ssize_t)sizeof(id));
		close(ready[0]);
	}
	for (int i = 0; i < 10; i++) {
		cp_value *big = pattern_buffer(i % 2 ? 200000 : 100, (unsigned)i), *data = object_with("b", big);

		must(cp_post_message_with_transfer(a, id, data, "*", &big, 1), "post");
		cp_value_free(data);
	}
	must(cp_client_sync(ca, 5000), "sync");
	kill(pid, SIGKILL);
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	close(hold[1]);
	ck_assert_int_eq(test_own_fd_count(), own_start);
	cp_client_free(ca);
	ck_assert_int_eq(test_broker_settled_fd_count(&broker), broker_start);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("transferables");
	TCase *tc = tcase_create("buffers");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, buffer_moves_window_to_window_and_the_senders_is_detached);
	tcase_add_test(tc, copied_large_buffers_are_the_bytes_at_post_time);
	tcase_add_test(tc, buffer_moves_port_to_port_and_back);
	tcase_add_test(tc, buffer_in_transfer_but_not_in_data_is_transferred_and_closed);
	tcase_add_test(tc, data_clone_errors_move_nothing);
	suite_add_tcase(s, tc);

	tc = tcase_create("ports");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, port_moved_to_another_process_keeps_messages_in_flight_in_order);
	tcase_add_test(tc, port_moves_through_three_processes_with_messages_in_flight);
	tcase_add_test(tc, closing_the_peer_closes_the_port_and_drops_with_descriptors);
	tcase_add_test(tc, owner_process_dying_closes_the_port_and_leaks_no_descriptor);
	suite_add_tcase(s, tc);

	tc = tcase_create("descriptors");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, target_origin_mismatch_drops_the_buffers_and_ports_with_no_leak);
	tcase_add_test(tc, receiver_dying_with_buffers_queued_leaks_no_descriptor);
	suite_add_tcase(s, tc);
	return test_run_suite(s);
}
