/* SPDX-License-Identifier: MIT */
/* check_batching.c - cp_client_set_batching(): queued posts are written at
 * exactly the points crosspost.h lists, and never lost. */
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <check.h>
#include <event2/event.h>

#include "fixture.h"

static TestBroker broker;

static void setup(void) { test_broker_start(&broker); }
static void teardown(void) { test_broker_stop(&broker); }

static cp_window *open_window(cp_client *c, const char *url)
{
	cp_window *w = NULL;

	ck_assert_int_eq(cp_window_open(c, url, NULL, &w), 0);
	return w;
}

static void post(cp_window *from, uint64_t to, const char *json)
{
	cp_value *v = test_value(json);

	ck_assert_int_eq(cp_post_message(from, to, v, "*"), 0);
	cp_value_free(v);
}

/* The receiving side in another process, so that the sender's library is
 * not called while it counts: reports its window id, then, each time it
 * is asked, how many events it has (see ask()). */
static void count_elsewhere(int report_fd, int ask_fd)
{
	cp_client *c = test_client(&broker);
	cp_window *w = open_window(c, "https://c.example/");
	TestInbox *ic = calloc(1, sizeof(*ic));
	uint64_t id = cp_window_id(w);
	int q[2];

	cp_window_set_callback(w, test_inbox_callback, ic);
	if (write(report_fd, &id, sizeof(id)) != sizeof(id))
		_exit(1);
	while (read(ask_fd, q, sizeof(q)) == sizeof(q)) {
		char n = (char)test_inbox_wait(c, ic, (size_t)q[0], q[1]);

		if (write(report_fd, &n, 1) != 1)
			_exit(1);
	}
	_exit(0);
}

/* How many events the other side has once it has `wanted` or wait_ms passed. */
static char ask(int ask_fd, int report_fd, int wanted, int wait_ms)
{
	int q[2] = { wanted, wait_ms };
	char n = -1;

	ck_assert_int_eq(write(ask_fd, q, sizeof(q)), (ssize_t)sizeof(q));
	ck_assert_int_eq(read(report_fd, &n, 1), 1);
	return n;
}

START_TEST(batched_posts_wait_for_a_flush_point)
{
	cp_client *ca = test_client(&broker), *cb = test_client(&broker);
	cp_window *a = open_window(ca, "https://a.example/");
	cp_window *b = open_window(cb, "https://b.example/");
	TestInbox *ib = calloc(1, sizeof(*ib));
	char *big = malloc(70 * 1024 + 3);
	int report[2], asking[2], status;
	uint64_t cid;
	pid_t child;

	cp_window_set_callback(b, test_inbox_callback, ib);
	ck_assert_int_eq(pipe(report), 0);
	ck_assert_int_eq(pipe(asking), 0);
	child = fork();
	ck_assert_int_ge(child, 0);
	if (child == 0) {
		close(report[0]);
		close(asking[1]);
		count_elsewhere(report[1], asking[0]);
	}
	close(report[1]);
	close(asking[0]);
	ck_assert_int_eq(read(report[0], &cid, sizeof(cid)), (ssize_t)sizeof(cid));
	ck_assert_int_eq(cp_client_set_batching(ca, true), 0);
	/* Queued: nothing reaches c while this process does not call the
	 * library (a negative check: 300 ms of nothing). */
	post(a, cid, "\"queued\"");
	ck_assert_int_eq(ask(asking[1], report[0], 1, 300), 0);
	/* Past the 64 KiB threshold: written without a flush call, the
	 * queued one first. */
	memset(big, 'x', 70 * 1024 + 2);
	big[0] = '"';
	big[70 * 1024 + 1] = '"';
	big[70 * 1024 + 2] = '\0';
	post(a, cid, big);
	ck_assert_int_eq(ask(asking[1], report[0], 2, 10000), 2);
	/* cp_client_flush() writes one queued message. */
	post(a, cid, "\"flushed\"");
	ck_assert_int_eq(cp_client_flush(ca), 0);
	ck_assert_int_eq(ask(asking[1], report[0], 3, 10000), 3);
	close(asking[1]);
	ck_assert_int_eq(waitpid(child, &status, 0), child);
	ck_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	/* Waiting on another client of this process writes ca's queue too. */
	post(a, cp_window_id(b), "1");
	post(a, cp_window_id(b), "2");
	ck_assert_uint_eq(test_inbox_wait(cb, ib, 2, 5000), 2);
	ck_assert_str_eq(ib->json[0], "1");
	ck_assert_str_eq(ib->json[1], "2");
	free(big);
	test_inbox_clear(ib);
	free(ib);
	cp_client_free(ca);
	cp_client_free(cb);
}
END_TEST

START_TEST(batched_posts_go_out_at_exit_and_at_free)
{
	cp_client *cb = test_client(&broker);
	cp_window *b = open_window(cb, "https://b.example/");
	TestInbox *ib = calloc(1, sizeof(*ib));
	uint64_t id = cp_window_id(b);
	int status;

	cp_window_set_callback(b, test_inbox_callback, ib);
	for (int how = 0; how < 2; how++) {
		pid_t child = fork();

		ck_assert_int_ge(child, 0);
		if (child == 0) {
			cp_client *c = NULL;
			cp_window *w = NULL;
			cp_value *v = test_value(how == 0 ? "\"at exit\"" : "\"at free\"");

			if (cp_client_new(broker.socket_path, &c) < 0 || cp_window_open(c, "https://a.example/", NULL, &w) < 0 ||
			    cp_client_set_batching(c, true) < 0 || cp_post_message(w, id, v, "*") < 0)
				_exit(1);
			cp_value_free(v);
			if (how == 1)
				cp_client_free(c);
			exit(0);    /* exit(), not _exit(): the library's exit flush runs */
		}
		ck_assert_int_eq(waitpid(child, &status, 0), child);
		ck_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	}
	ck_assert_uint_eq(test_inbox_wait(cb, ib, 2, 5000), 2);
	ck_assert_str_eq(ib->json[0], "\"at exit\"");
	ck_assert_str_eq(ib->json[1], "\"at free\"");
	test_inbox_clear(ib);
	free(ib);
	cp_client_free(cb);
}
END_TEST

static void stop_loop(cp_window *w, const cp_event *ev, void *userdata)
{
	(void)w;
	(void)ev;
	event_base_loopbreak(userdata);
}

START_TEST(batched_posts_of_an_attached_client_go_out_on_the_next_turn)
{
	cp_client *ca = test_client(&broker), *cb = test_client(&broker);
	cp_window *a = open_window(ca, "https://a.example/");
	cp_window *b = open_window(cb, "https://b.example/");
	struct event_base *base = event_base_new();
	struct timeval limit = { 10, 0 };

	ck_assert_int_eq(cp_client_set_batching(ca, true), 0);
	ck_assert_int_eq(cp_client_attach_event_base(ca, base), 0);
	ck_assert_int_eq(cp_client_attach_event_base(cb, base), 0);
	cp_window_set_callback(b, stop_loop, base);
	post(a, cp_window_id(b), "\"on the next turn\"");
	event_base_loopexit(base, &limit);
	ck_assert_int_eq(event_base_dispatch(base), 0);
	ck_assert(event_base_got_break(base));
	cp_client_free(ca);
	cp_client_free(cb);
	event_base_free(base);
}
END_TEST

START_TEST(write_through_is_the_default)
{
	cp_client *ca = test_client(&broker), *cb = test_client(&broker);
	cp_window *a = open_window(ca, "https://a.example/");
	cp_window *b = open_window(cb, "https://b.example/");
	TestInbox ib = { 0 };
	int fds[2];
	pid_t child;
	int status;

	cp_window_set_callback(b, test_inbox_callback, &ib);
	ck_assert_int_eq(pipe(fds), 0);
	child = fork();
	ck_assert_int_ge(child, 0);
	if (child == 0) {
		/* Posts, then blocks outside the library until told: without
		 * batching the message is on its way all the same. */
		char go;
		cp_value *v = test_value("\"written at once\"");
		cp_client *c = NULL;
		cp_window *w = NULL;

		if (cp_client_new(broker.socket_path, &c) < 0 || cp_window_open(c, "https://c.example/", NULL, &w) < 0 ||
		    cp_post_message(w, cp_window_id(b), v, "*") < 0)
			_exit(1);
		_exit(read(fds[0], &go, 1) == 1 ? 0 : 1);
	}
	ck_assert_uint_eq(test_inbox_wait(cb, &ib, 1, 5000), 1);
	ck_assert_int_eq(write(fds[1], "g", 1), 1);
	ck_assert_int_eq(waitpid(child, &status, 0), child);
	(void)a;
	test_inbox_clear(&ib);
	cp_client_free(ca);
	cp_client_free(cb);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("batching");
	TCase *tc = tcase_create("batching");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, write_through_is_the_default);
	tcase_add_test(tc, batched_posts_wait_for_a_flush_point);
	tcase_add_test(tc, batched_posts_go_out_at_exit_and_at_free);
	tcase_add_test(tc, batched_posts_of_an_attached_client_go_out_on_the_next_turn);
	suite_add_tcase(s, tc);
	return test_run_suite(s);
}
