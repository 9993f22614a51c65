/* SPDX-License-Identifier: MIT */
/* check_transfer.c - descriptors passed with messages (transferred buffers):
 * the broker moves them to the receiver, and no path leaks one: a message
 * dropped for targetOrigin or a closed target, a receiver that dies with
 * them queued, a frame that lies about them. */
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <check.h>

#include "fixture.h"

static TestBroker broker;

static void setup(void) { test_broker_start(&broker); }
static void teardown(void) { test_broker_stop(&broker); }

/* Posts from a raw connection with two sealed memfds attached. */
static void raw_post_with_fds(int fd, uint64_t from, uint64_t to, const char *target_origin,
			      uint32_t declared)
{
	Crosspost__Header h = CROSSPOST__HEADER__INIT;
	Crosspost__Post p = CROSSPOST__POST__INIT;
	int fds[2] = { test_sealed_memfd(8192, 0xab), test_sealed_memfd(100, 0x01) };
	uint64_t sizes[2] = { 8192, 100 };

	/* An empty payload decodes as a messageerror; these tests are about the
	 * descriptors, not the data. */
	p.sender_window_id = from;
	p.target_window_id = to;
	p.target_origin = (char *)target_origin;
	p.fd_count = declared;
	p.buffer_sizes = sizes;
	p.n_buffer_sizes = declared < 2 ? declared : 2;
	h.serial = 9;
	h.body_case = CROSSPOST__HEADER__BODY_POST;
	h.post = &p;
	test_raw_send_fds(fd, &h, NULL, 0, fds, 2);
	close(fds[0]);
	close(fds[1]);
}

static void sync_raw(int fd)
{
	Crosspost__Header h = CROSSPOST__HEADER__INIT, *reply;
	Crosspost__Sync s = CROSSPOST__SYNC__INIT;

	h.serial = 77;
	h.body_case = CROSSPOST__HEADER__BODY_SYNC;
	h.sync = &s;
	test_raw_send(fd, &h, NULL, 0);
	do {
		reply = test_raw_read(fd);
		ck_assert_ptr_nonnull(reply);
		ck_assert_int_ne(reply->body_case, CROSSPOST__HEADER__BODY_ERROR);
		if (reply->serial == 77) {
			crosspost__header__free_unpacked(reply, NULL);
			break;
		}
		crosspost__header__free_unpacked(reply, NULL);
	} while (1);
}

START_TEST(descriptors_reach_the_receiver_and_are_closed_after_dispatch)
{
	int start = test_broker_settled_fd_count(&broker);
	int own_start = test_own_fd_count();
	cp_client *cb = test_client(&broker);
	cp_window *b = NULL;
	TestInbox ib = { 0 };
	int raw = test_raw_connect(&broker);
	uint64_t a;

	ck_assert_int_eq(cp_window_open(cb, "https://b.example/", NULL, &b), 0);
	a = test_raw_register(raw, "https://a.example/");
	cp_window_set_callback(b, test_inbox_callback, &ib);
	raw_post_with_fds(raw, a, cp_window_id(b), "*", 2);
	sync_raw(raw);
	ck_assert_uint_eq(test_inbox_wait(cb, &ib, 1, 5000), 1);
	ck_assert_str_eq(ib.origin[0], "https://a.example");
	ck_assert_uint_eq(ib.source[0], a);
	test_inbox_clear(&ib);
	close(raw);
	cp_client_free(cb);
	ck_assert_int_eq(test_own_fd_count(), own_start);
	ck_assert_int_eq(test_broker_settled_fd_count(&broker), start);
}
END_TEST

START_TEST(dropped_messages_close_their_descriptors)
{
	int start = test_broker_settled_fd_count(&broker);
	cp_client *cb = test_client(&broker);
	cp_window *b = NULL, *gone = NULL;
	int raw = test_raw_connect(&broker);
	uint64_t a, gone_id;

	ck_assert_int_eq(cp_window_open(cb, "https://b.example/", NULL, &b), 0);
	ck_assert_int_eq(cp_window_open(cb, "https://c.example/", NULL, &gone), 0);
	gone_id = cp_window_id(gone);
	ck_assert_int_eq(cp_window_close(gone), 0);
	a = test_raw_register(raw, "https://a.example/");
	/* targetOrigin mismatch, then a closed target. */
	raw_post_with_fds(raw, a, cp_window_id(b), "https://other.example", 2);
	raw_post_with_fds(raw, a, gone_id, "*", 2);
	sync_raw(raw);
	ck_assert_int_eq(test_broker_log_count(&broker, "does not match the target's origin"), 1);
	ck_assert_int_eq(test_broker_log_count(&broker, "the target has closed"), 1);
	close(raw);
	cp_client_free(cb);
	ck_assert_int_eq(test_broker_settled_fd_count(&broker), start);
}
END_TEST

START_TEST(receiver_dying_with_descriptors_queued_leaks_none)
{
	int start = test_broker_settled_fd_count(&broker);
	int raw_receiver = test_raw_connect(&broker);
	int raw = test_raw_connect(&broker);
	uint64_t a, b;

	b = test_raw_register(raw_receiver, "https://b.example/");
	a = test_raw_register(raw, "https://a.example/");
	for (int i = 0; i < 20; i++)
		raw_post_with_fds(raw, a, b, "*", 2);
	sync_raw(raw);
	/* The receiver never reads its events and goes away. */
	close(raw_receiver);
	close(raw);
	ck_assert_int_eq(test_broker_settled_fd_count(&broker), start);
}
END_TEST

START_TEST(frame_declaring_missing_descriptors_closes_only_that_connection)
{
	int start = test_broker_settled_fd_count(&broker);
	int raw = test_raw_connect(&broker);
	Crosspost__Header h = CROSSPOST__HEADER__INIT;
	Crosspost__Post p = CROSSPOST__POST__INIT;
	uint64_t a = test_raw_register(raw, "https://a.example/");

	p.sender_window_id = a;
	p.target_window_id = a;
	p.target_origin = (char *)"*";
	p.fd_count = 3;
	h.serial = 5;
	h.body_case = CROSSPOST__HEADER__BODY_POST;
	h.post = &p;
	test_raw_send(raw, &h, NULL, 0);
	ck_assert(test_raw_wait_closed(raw));
	close(raw);
	ck_assert_int_eq(test_broker_log_count(&broker, "descriptors that do not match the frame they came with"), 1);
	/* Descriptors sent with a frame that breaks the protocol: closed too. */
	raw = test_raw_connect(&broker);
	a = test_raw_register(raw, "https://a.example/");
	raw_post_with_fds(raw, a, a, "*", 100);
	ck_assert(test_raw_wait_closed(raw));
	close(raw);
	ck_assert_int_eq(test_broker_log_count(&broker, "descriptors declared; max-fds-per-message is 16"), 1);
	ck_assert_int_eq(test_broker_settled_fd_count(&broker), start);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("transfer");
	TCase *tc = tcase_create("descriptors");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, descriptors_reach_the_receiver_and_are_closed_after_dispatch);
	tcase_add_test(tc, dropped_messages_close_their_descriptors);
	tcase_add_test(tc, receiver_dying_with_descriptors_queued_leaks_none);
	tcase_add_test(tc, frame_declaring_missing_descriptors_closes_only_that_connection);
	suite_add_tcase(s, tc);
	return test_run_suite(s);
}
