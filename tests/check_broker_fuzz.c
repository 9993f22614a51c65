/* SPDX-License-Identifier: MIT */
/*
 * check_broker_fuzz.c - what fuzz/fuzz_broker.c found, one test per
 * finding, each against a real broker (or, for its limits, a real
 * crosspostd that must refuse them).  docs/fuzzing.md tells each story.
 */
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <check.h>

#include "broker/limits.h"
#include "fixture.h"

typedef Crosspost__Header Header;

static TestBroker broker;

static void setup(void) { memset(&broker, 0, sizeof(broker)); }

static void teardown(void)
{
	if (broker.pid > 0)
		test_broker_stop(&broker);
}

/* ---- 1. a message the uid's budget can never hold ---- */

/* A frame over 1 MiB is admitted against its uid's budget before it is
 * read, and large frames may take 3/4 of that budget.  With
 * bytes-per-uid=32MiB and the default max-message-size (128 MiB), a 30 MiB
 * message was within every limit, yet could never be admitted: its sender
 * stopped being read, for ever.  The limits must not fit together so. */
START_TEST(limits_whose_largest_message_cannot_fit_the_uid_budget_are_refused)
{
	static const char *const args[] = { "--limit", "bytes-per-uid=32MiB", "--print-limits", NULL };
	BrokerLimits limits;
	const char *reason = NULL;
	char out[4096];
	int status;

	limits_init(&limits);
	ck_assert_int_eq(limits_check(&limits, &reason), 0);
	ck_assert_int_eq(limits_set(&limits, "bytes-per-uid", "32MiB", &reason), 0);
	ck_assert_int_lt(limits_check(&limits, &reason), 0);
	ck_assert_msg(strstr(reason, "max-message-size") && strstr(reason, "bytes-per-uid"),
		      "the reason does not name both limits: %s", reason);
	/* 3/4 of 32 MiB, less the largest frame header and the prefix. */
	ck_assert_int_eq(limits_set(&limits, "max-message-size", "25100280", &reason), 0);
	ck_assert_int_eq(limits_check(&limits, &reason), 0);
	ck_assert_int_eq(limits_set(&limits, "max-message-size", "25100281", &reason), 0);
	ck_assert_int_lt(limits_check(&limits, &reason), 0);

	status = test_crosspostd_run(args, NULL, 5000, out, sizeof(out));
	ck_assert_msg(status == 2, "crosspostd accepted bytes-per-uid=32MiB with max-message-size=128MiB "
		      "(status %d): %s", status, out);
	ck_assert_msg(strstr(out, "max-message-size"), "the message does not name the limit: %s", out);
}
END_TEST

/* ---- 2. a large frame waiting for its own bytes ---- */

/* At admission the bytes of the frame already read were counted twice:
 * once as the connection's input, once in the reservation for the whole
 * frame.  A frame close to the 3/4 share (here the largest message the
 * limits allow) was never admitted: its sender waited for room that only
 * its own bytes took, for ever. */
START_TEST(the_largest_message_the_uid_budget_allows_is_delivered)
{
	static const char *const args[] = { "--limit", "bytes-per-uid=32MiB", "--limit",
					    "max-message-size=25100280", NULL };
	const size_t size = 25100280;
	Header h = CROSSPOST__HEADER__INIT;
	Crosspost__Post p = CROSSPOST__POST__INIT;
	uint8_t *payload = malloc(size);
	TestFrame frame = { 0 };
	uint64_t window;
	int fd;

	ck_assert_ptr_nonnull(payload);
	memset(payload, 'm', size);
	test_broker_start_args(&broker, args, 0);
	fd = test_raw_connect(&broker);
	window = test_raw_register(fd, "https://big.example/");
	p.sender_window_id = window;
	p.target_window_id = window;
	p.target_origin = (char *)"*";
	h.serial = 7;
	h.body_case = CROSSPOST__HEADER__BODY_POST;
	h.post = &p;
	test_raw_send(fd, &h, payload, size);
	ck_assert_msg(test_raw_recv(fd, 20000, &frame) == 1, "no event for the largest message");
	ck_assert_int_eq(frame.header->body_case, CROSSPOST__HEADER__BODY_EVENT);
	ck_assert_uint_eq(frame.length, size);
	ck_assert(memcmp(frame.payload, payload, size) == 0);
	test_frame_clear(&frame);
	ck_assert_int_eq(test_raw_sync(fd, 8, 5000), 1);
	close(fd);
	free(payload);
}
END_TEST

/* ---- 3. two frames of one uid that its budget cannot hold both ---- */

/* Two connections of one uid, each partway through a frame under 1 MiB
 * (so not admitted ahead), put a small budget over its limit with their
 * own input alone; both stopped being read, and nothing ever brought the
 * uid back under its low mark.  A frame that has started is now read to
 * its end (its payload is read in place), and both arrive. */
START_TEST(two_frames_over_a_small_budget_both_arrive)
{
	static const char *const args[] = { "--limit", "bytes-per-uid=1MiB", "--limit", "queue-high=64KiB",
					    "--limit", "queue-low=16KiB", "--limit", "park-high=64KiB",
					    "--limit", "park-low=16KiB", "--limit", "max-message-size=700000", NULL };
	const size_t size = 700000;
	uint8_t *payload = malloc(size);
	int fds[2], rx;
	uint64_t windows[2], target;

	ck_assert_ptr_nonnull(payload);
	memset(payload, 'p', size);
	test_broker_start_args(&broker, args, 0);
	rx = test_raw_connect(&broker);
	target = test_raw_register(rx, "https://rx.example/");
	for (int i = 0; i < 2; i++) {
		fds[i] = test_raw_connect(&broker);
		windows[i] = test_raw_register(fds[i], i ? "https://b.example/" : "https://a.example/");
	}
	/* Both frames half sent before either is finished. */
	for (int half = 0; half < 2; half++) {
		for (int i = 0; i < 2; i++) {
			Header h = CROSSPOST__HEADER__INIT;
			Crosspost__Post p = CROSSPOST__POST__INIT;

			p.sender_window_id = windows[i];
			p.target_window_id = target;
			p.target_origin = (char *)"*";
			h.serial = 9;
			h.body_case = CROSSPOST__HEADER__BODY_POST;
			h.post = &p;
			test_raw_send_part(fds[i], &h, payload, size, half);
		}
	}
	for (int i = 0; i < 2; i++) {
		TestFrame frame = { 0 };

		ck_assert_msg(test_raw_recv(rx, 20000, &frame) == 1, "message %d did not arrive", i);
		ck_assert_uint_eq(frame.length, size);
		test_frame_clear(&frame);
	}
	for (int i = 0; i < 2; i++)
		close(fds[i]);
	close(rx);
	free(payload);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("broker_fuzz");
	TCase *tc = tcase_create("findings");

	signal(SIGPIPE, SIG_IGN);
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, limits_whose_largest_message_cannot_fit_the_uid_budget_are_refused);
	tcase_add_test(tc, the_largest_message_the_uid_budget_allows_is_delivered);
	tcase_add_test(tc, two_frames_over_a_small_budget_both_arrive);
	suite_add_tcase(s, tc);
	return test_run_suite(s);
}
