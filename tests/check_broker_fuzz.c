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

int main(void)
{
	Suite *s = suite_create("broker_fuzz");
	TCase *tc = tcase_create("findings");

	signal(SIGPIPE, SIG_IGN);
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, limits_whose_largest_message_cannot_fit_the_uid_budget_are_refused);
	suite_add_tcase(s, tc);
	return test_run_suite(s);
}
