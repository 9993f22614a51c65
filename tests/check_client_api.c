/* SPDX-License-Identifier: MIT */
/* check_client_api.c - libcrosspost's waiting calls: cp_client_wait_for_window()
 * and what cp_client_wait() returns (0 for a timeout, a count, errors). */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <check.h>

#include "fixture.h"

static TestBroker broker;

static void setup(void) { test_broker_start(&broker); }
static void teardown(void) { test_broker_stop(&broker); }

static long long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static cp_window *open_window(cp_client *c, const char *url, const char *name)
{
	cp_window *w = NULL;
	int r = cp_window_open(c, url, name, &w);

	ck_assert_msg(r == 0, "cp_window_open(%s): %s: %s", url, cp_error_name(r), cp_last_error_message());
	return w;
}

static void post(cp_window *from, uint64_t to, const char *json, const char *target_origin)
{
	cp_value *v = test_value(json);
	int r = cp_post_message(from, to, v, target_origin);

	ck_assert_msg(r == 0, "cp_post_message: %s: %s", cp_error_name(r), cp_last_error_message());
	cp_value_free(v);
}

/* A second process (it uses only its own client, made after the fork):
 * after delay_ms it posts n_posts messages ("1", "2", ...) to post_to (when
 * not 0), then opens a window named name, reports its id on report_fd and
 * keeps it open until done_fd is closed.  Exits 0 on success. */
static void late_window_process(int delay_ms, uint64_t post_to, int n_posts, const char *name,
				int report_fd, int done_fd)
{
	cp_client *c = NULL;
	cp_window *poster = NULL, *w = NULL;
	uint64_t id;
	char byte;

	alarm(30);
	if (cp_client_new(broker.socket_path, &c) < 0)
		_exit(1);
	usleep((useconds_t)delay_ms * 1000);
	if (post_to) {
		if (cp_window_open(c, "https://poster.example/", NULL, &poster) < 0)
			_exit(2);
		for (int i = 1; i <= n_posts; i++) {
			char json[16];
			cp_value *v = NULL;

			snprintf(json, sizeof(json), "%d", i);
			if (cp_value_from_json(json, strlen(json), NULL, &v) < 0 ||
			    cp_post_message(poster, post_to, v, "*") < 0)
				_exit(3);
			cp_value_free(v);
		}
		if (cp_client_sync(c, 5000) < 0)
			_exit(4);
	}
	if (cp_window_open(c, "https://late.example/", name, &w) < 0)
		_exit(5);
	id = cp_window_id(w);
	if (write(report_fd, &id, sizeof(id)) != sizeof(id))
		_exit(6);
	(void)!read(done_fd, &byte, 1);    /* until the test closes its end */
	cp_client_free(c);
	_exit(0);
}

typedef struct LateWindow {
	pid_t pid;
	int report_fd, done_fd;
} LateWindow;

static LateWindow spawn_late_window(int delay_ms, uint64_t post_to, int n_posts, const char *name)
{
	int report[2], done[2];
	LateWindow lw;

	ck_assert_int_eq(pipe(report), 0);
	ck_assert_int_eq(pipe(done), 0);
	lw.pid = fork();
	ck_assert_int_ge(lw.pid, 0);
	if (lw.pid == 0) {
		close(report[0]);
		close(done[1]);
		late_window_process(delay_ms, post_to, n_posts, name, report[1], done[0]);
	}
	close(report[1]);
	close(done[0]);
	lw.report_fd = report[0];
	lw.done_fd = done[1];
	return lw;
}

/* The id the process reported, once it has opened its window. */
static uint64_t late_window_id(const LateWindow *lw)
{
	uint64_t id = 0;

	ck_assert_int_eq(read(lw->report_fd, &id, sizeof(id)), (ssize_t)sizeof(id));
	return id;
}

static void late_window_finish(LateWindow *lw)
{
	int status;

	close(lw->done_fd);
	close(lw->report_fd);
	ck_assert_int_eq(waitpid(lw->pid, &status, 0), lw->pid);
	ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0, "the window process failed (status %d)",
		      status);
}

/* ---- cp_client_wait_for_window ---- */

START_TEST(wait_for_window_finds_a_window_another_process_opens_later)
{
	LateWindow lw = spawn_late_window(100, 0, 0, "late");
	cp_client *c = test_client(&broker);
	uint64_t id = 0;
	uint64_t not_yet;
	long long t0 = now_ms();
	int r;

	/* The window is not there yet: a plain lookup fails... */
	ck_assert_int_eq(cp_client_lookup(c, "late", &not_yet), CP_ERR_NOT_FOUND);
	/* ...and the wait returns once it is, without a side channel. */
	r = cp_client_wait_for_window(c, "late", 10000, &id);
	ck_assert_msg(r == 0, "wait_for_window: %s: %s", cp_error_name(r), cp_last_error_message());
	ck_assert_int_ge(now_ms() - t0, 90);
	ck_assert_uint_eq(id, late_window_id(&lw));
	late_window_finish(&lw);
	cp_client_free(c);
}
END_TEST

START_TEST(wait_for_window_returns_at_once_for_an_existing_window)
{
	cp_client *c = test_client(&broker), *other = test_client(&broker);
	cp_window *w = open_window(other, "https://here.example/", "here");
	uint64_t id = 0;

	ck_assert_int_eq(cp_client_wait_for_window(c, "here", 0, &id), 0);    /* 0: look once */
	ck_assert_uint_eq(id, cp_window_id(w));
	id = 0;
	ck_assert_int_eq(cp_client_wait_for_window(c, "here", -1, &id), 0);
	ck_assert_uint_eq(id, cp_window_id(w));
	cp_client_free(other);
	cp_client_free(c);
}
END_TEST

START_TEST(wait_for_window_times_out_with_timeout_error)
{
	cp_client *c = test_client(&broker);
	uint64_t id = 42;
	long long t0 = now_ms(), elapsed;

	ck_assert_int_eq(cp_client_wait_for_window(c, "never", 150, &id), CP_ERR_TIMEOUT);
	elapsed = now_ms() - t0;
	ck_assert_int_ge(elapsed, 150);
	ck_assert_int_lt(elapsed, 2000);
	ck_assert_uint_eq(id, 42);    /* untouched on failure */
	ck_assert_str_eq(cp_error_name(CP_ERR_TIMEOUT), "TimeoutError");
	ck_assert_ptr_nonnull(strstr(cp_last_error_message(), "no window named 'never'"));
	/* timeout 0: one lookup, no wait. */
	t0 = now_ms();
	ck_assert_int_eq(cp_client_wait_for_window(c, "never", 0, &id), CP_ERR_TIMEOUT);
	ck_assert_int_lt(now_ms() - t0, 1000);
	ck_assert_uint_eq(id, 42);
	/* Bad arguments. */
	ck_assert_int_eq(cp_client_wait_for_window(NULL, "x", 0, &id), CP_ERR_TYPE);
	ck_assert_int_eq(cp_client_wait_for_window(c, NULL, 0, &id), CP_ERR_TYPE);
	ck_assert_int_eq(cp_client_wait_for_window(c, "", 0, &id), CP_ERR_TYPE);
	ck_assert_int_eq(cp_client_wait_for_window(c, "x", 0, NULL), CP_ERR_TYPE);
	/* The client is still usable. */
	ck_assert_int_eq(cp_client_sync(c, 5000), 0);
	cp_client_free(c);
}
END_TEST

START_TEST(events_arriving_during_wait_for_window_are_kept_not_dispatched)
{
	cp_client *c = test_client(&broker);
	cp_window *rx = open_window(c, "https://rx.example/", "rx");
	TestInbox in = { 0 };
	LateWindow lw;
	uint64_t id = 0;
	int r;

	cp_window_set_callback(rx, test_inbox_callback, &in);
	/* The other process posts three messages to rx, then opens "late":
	 * the events reach this client before the lookup that finds "late". */
	lw = spawn_late_window(50, cp_window_id(rx), 3, "late");
	r = cp_client_wait_for_window(c, "late", 10000, &id);
	ck_assert_msg(r == 0, "wait_for_window: %s: %s", cp_error_name(r), cp_last_error_message());
	ck_assert_uint_eq(id, late_window_id(&lw));
	ck_assert_uint_eq(in.count, 0);              /* no callback ran during the wait */
	ck_assert(cp_client_has_pending(c));         /* they are queued */
	ck_assert_int_eq(cp_client_wait(c, 0), 3);   /* and all dispatched by the next call, in order */
	ck_assert_uint_eq(in.count, 3);
	ck_assert_str_eq(in.json[0], "1");
	ck_assert_str_eq(in.json[1], "2");
	ck_assert_str_eq(in.json[2], "3");
	ck_assert_str_eq(in.origin[0], "https://poster.example");
	test_inbox_clear(&in);
	late_window_finish(&lw);
	cp_client_free(c);
}
END_TEST

/* ---- cp_client_wait: 0 for a timeout, a count, errors ---- */

START_TEST(wait_returns_zero_when_nothing_arrives_in_time)
{
	cp_client *c = test_client(&broker);
	cp_window *w = open_window(c, "https://a.example/", NULL);
	TestInbox in = { 0 };
	uint64_t id;
	long long t0;

	cp_window_set_callback(w, test_inbox_callback, &in);
	/* Leave an error message behind: a timeout must not replace it. */
	ck_assert_int_eq(cp_client_lookup(c, "nobody", &id), CP_ERR_NOT_FOUND);
	t0 = now_ms();
	ck_assert_int_eq(cp_client_wait(c, 150), 0);
	ck_assert_int_ge(now_ms() - t0, 150);
	ck_assert_int_eq(cp_client_wait(c, 0), 0);
	ck_assert_ptr_nonnull(strstr(cp_last_error_message(), "nobody"));
	ck_assert_uint_eq(in.count, 0);
	ck_assert_int_eq(cp_client_wait(NULL, 0), CP_ERR_TYPE);
	cp_client_free(c);
}
END_TEST

START_TEST(wait_returns_the_number_of_events_dispatched)
{
	cp_client *ca = test_client(&broker), *cb = test_client(&broker);
	cp_window *a = open_window(ca, "https://a.example/", NULL);
	cp_window *b = open_window(cb, "https://b.example/", NULL);
	TestInbox in = { 0 };
	int total = 0;

	cp_window_set_callback(b, test_inbox_callback, &in);
	post(a, cp_window_id(b), "\"one\"", "https://b.example");
	post(a, cp_window_id(b), "\"two\"", "https://b.example");
	ck_assert_int_eq(cp_client_sync(ca, 5000), 0);
	while (total < 2) {
		int r = cp_client_wait(cb, 5000);

		ck_assert_int_gt(r, 0);
		total += r;
	}
	ck_assert_int_eq(total, 2);
	ck_assert_uint_eq(in.count, 2);
	ck_assert_int_eq(cp_client_wait(cb, 50), 0);
	test_inbox_clear(&in);
	cp_client_free(ca);
	cp_client_free(cb);
}
END_TEST

/* The library parses 128 events ahead of their dispatch and
 * leaves the rest of a large read as bytes until their turn (client.c,
 * PARSE_AHEAD_EVENTS): one cp_client_dispatch() still runs a callback for
 * every event it read, in order. */
START_TEST(one_dispatch_runs_every_event_it_read_in_order)
{
	enum { N = 2000 };
	cp_client *ca = test_client(&broker), *cb = test_client(&broker);
	cp_window *a = open_window(ca, "https://a.example/", NULL);
	cp_window *b = open_window(cb, "https://b.example/", NULL);
	TestInbox in = { 0 };
	int first, total;

	cp_window_set_callback(b, test_inbox_callback, &in);
	for (int i = 1; i <= N; i++) {
		char json[16];

		snprintf(json, sizeof(json), "%d", i);
		post(a, cp_window_id(b), json, "*");
	}
	ck_assert_int_eq(cp_client_sync(ca, 5000), 0);
	/* The broker writes what b's socket takes: more than one batch. */
	usleep(200 * 1000);
	first = cp_client_dispatch(cb);
	ck_assert_int_ge(first, 0);
	ck_assert_uint_eq(in.count, (size_t)first);
	/* Without the batches, 128; what b's socket held was 284-567 here. */
	ck_assert_msg(first > 128, "one dispatch ran %d callbacks", first);
	total = first;
	while (total < N) {
		int r = cp_client_wait(cb, 5000);

		ck_assert_int_gt(r, 0);
		total += r;
	}
	ck_assert_int_eq(total, N);
	ck_assert_uint_eq(in.count, N);
	for (int i = 0; i < N; i++) {
		char want[16];

		snprintf(want, sizeof(want), "%d", i + 1);
		ck_assert_msg(in.json[i] && strstr(in.json[i], want) == in.json[i] + strcspn(in.json[i], "0123456789"),
			      "event %d is %s", i, in.json[i] ? in.json[i] : "(null)");
	}
	test_inbox_clear(&in);
	cp_client_free(ca);
	cp_client_free(cb);
}
END_TEST

START_TEST(events_for_a_window_without_callback_end_the_wait_and_are_kept)
{
	cp_client *ca = test_client(&broker), *cb = test_client(&broker);
	cp_window *a = open_window(ca, "https://a.example/", NULL);
	cp_window *b = open_window(cb, "https://b.example/", NULL);
	TestInbox in = { 0 };
	long long t0;
	int total = 0;

	post(a, cp_window_id(b), "\"first\"", "*");
	post(a, cp_window_id(b), "\"second\"", "*");
	ck_assert_int_eq(cp_client_sync(ca, 5000), 0);
	/* b has no callback: the events are kept, and counted, so the wait
	 * returns when they arrive instead of running to its timeout. */
	t0 = now_ms();
	while (total < 2) {
		int r = cp_client_wait(cb, 10000);

		ck_assert_int_gt(r, 0);
		total += r;
	}
	ck_assert_int_eq(total, 2);
	ck_assert_int_lt(now_ms() - t0, 5000);
	ck_assert_uint_eq(in.count, 0);
	/* Counted once: the next wait has nothing new. */
	ck_assert_int_eq(cp_client_wait(cb, 100), 0);
	/* A callback set later gets them, in order, and they count again, as
	 * dispatched. */
	cp_window_set_callback(b, test_inbox_callback, &in);
	ck_assert_int_eq(cp_client_wait(cb, 5000), 2);
	ck_assert_uint_eq(in.count, 2);
	ck_assert_str_eq(in.json[0], "\"first\"");
	ck_assert_str_eq(in.json[1], "\"second\"");
	test_inbox_clear(&in);
	cp_client_free(ca);
	cp_client_free(cb);
}
END_TEST

START_TEST(events_for_a_port_not_started_end_the_wait_and_are_kept)
{
	cp_client *c = test_client(&broker);
	cp_window *w = open_window(c, "https://a.example/", NULL);
	cp_port *p1 = NULL, *p2 = NULL;
	cp_value *v = test_value("\"on the line\"");

	ck_assert_int_eq(cp_channel_new(w, &p1, &p2), 0);
	ck_assert_int_eq(cp_port_post_message(p1, v, NULL, 0), 0);
	ck_assert_int_eq(cp_client_wait(c, 10000), 1);
	ck_assert_int_eq(cp_client_wait(c, 50), 0);
	cp_value_free(v);
	cp_client_free(c);
}
END_TEST

START_TEST(dropped_events_do_not_end_the_wait)
{
	cp_client *ca = test_client(&broker), *cb = test_client(&broker);
	cp_window *a = open_window(ca, "https://a.example/", NULL);
	cp_window *b = open_window(cb, "https://b.example/", NULL);
	TestInbox in = { 0 };
	long long t0;

	cp_window_set_callback(b, test_inbox_callback, &in);
	post(a, cp_window_id(b), "\"for b.example only\"", "https://b.example");
	ck_assert_int_eq(cp_client_sync(ca, 5000), 0);
	/* The event reaches cb before the answer to navigate, so it is
	 * queued when b's origin changes: the library drops it at dispatch. */
	ck_assert_int_eq(cp_window_navigate(b, "https://c.example/"), 0);
	ck_assert(cp_client_has_pending(cb));
	t0 = now_ms();
	ck_assert_int_eq(cp_client_wait(cb, 200), 0);
	ck_assert_int_ge(now_ms() - t0, 200);
	ck_assert_uint_eq(in.count, 0);
	cp_client_free(ca);
	cp_client_free(cb);
}
END_TEST

START_TEST(a_lost_connection_is_a_network_error)
{
	cp_client *c = test_client(&broker);
	cp_window *w = open_window(c, "https://a.example/", NULL);
	TestInbox in = { 0 };
	uint64_t id = 7;
	long long t0;

	cp_window_set_callback(w, test_inbox_callback, &in);
	test_broker_stop(&broker);
	t0 = now_ms();
	ck_assert_int_eq(cp_client_wait(c, 10000), CP_ERR_NETWORK);
	ck_assert_int_lt(now_ms() - t0, 5000);
	ck_assert_int_eq(cp_client_wait(c, 0), CP_ERR_NETWORK);
	ck_assert_int_eq(cp_client_wait_for_window(c, "x", 1000, &id), CP_ERR_NETWORK);
	ck_assert_uint_eq(id, 7);
	cp_client_free(c);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("client_api");
	TCase *tc = tcase_create("waiting");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, wait_for_window_finds_a_window_another_process_opens_later);
	tcase_add_test(tc, wait_for_window_returns_at_once_for_an_existing_window);
	tcase_add_test(tc, wait_for_window_times_out_with_timeout_error);
	tcase_add_test(tc, events_arriving_during_wait_for_window_are_kept_not_dispatched);
	tcase_add_test(tc, wait_returns_zero_when_nothing_arrives_in_time);
	tcase_add_test(tc, wait_returns_the_number_of_events_dispatched);
	tcase_add_test(tc, one_dispatch_runs_every_event_it_read_in_order);
	tcase_add_test(tc, events_for_a_window_without_callback_end_the_wait_and_are_kept);
	tcase_add_test(tc, events_for_a_port_not_started_end_the_wait_and_are_kept);
	tcase_add_test(tc, dropped_events_do_not_end_the_wait);
	tcase_add_test(tc, a_lost_connection_is_a_network_error);
	suite_add_tcase(s, tc);
	return test_run_suite(s);
}
