/* SPDX-License-Identifier: MIT */
/* check_monitor.c - watching the broker: a monitor sees what is routed and
 * dropped, a slow one loses events and slows nobody; drop reports go back
 * to a window that asked; per-window counters. */
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <check.h>

#include "fixture.h"

static TestBroker broker;

static void setup(void) { test_broker_start(&broker); }
static void teardown(void) { test_broker_stop(&broker); }

static cp_window *open_window(cp_client *c, const char *url, const char *name)
{
	cp_window *w = NULL;

	ck_assert_int_eq(cp_window_open(c, url, name, &w), 0);
	return w;
}

static void post(cp_window *from, uint64_t to, const char *json, const char *target_origin)
{
	cp_value *v = test_value(json);

	ck_assert_int_eq(cp_post_message(from, to, v, target_origin), 0);
	cp_value_free(v);
}

typedef struct Watched {
	size_t delivered, dropped, lost;
	char reason[512];
} Watched;

static void watch(cp_client *c, const cp_monitor_event *ev, void *userdata)
{
	Watched *w = userdata;

	(void)c;
	w->lost += ev->lost;
	if (ev->kind == CP_MONITOR_DELIVERED)
		w->delivered++;
	if (ev->kind == CP_MONITOR_DROPPED) {
		w->dropped++;
		snprintf(w->reason, sizeof(w->reason), "%s", ev->reason);
	}
}

START_TEST(a_monitor_sees_delivered_and_dropped_messages)
{
	cp_client *m = test_client(&broker), *ca = test_client(&broker), *cb = test_client(&broker);
	cp_window *a = open_window(ca, "https://a.example/", "a"), *b = open_window(cb, "https://b.example/", "b");
	Watched seen = { 0 };
	cp_window_stats *stats = NULL;
	size_t n = 0;

	ck_assert_int_eq(cp_client_monitor(m, NULL, 0, false, watch, &seen), 0);
	post(a, cp_window_id(b), "1", "https://b.example");
	post(a, cp_window_id(b), "2", "https://c.example");
	ck_assert_int_eq(cp_client_sync(ca, 5000), 0);
	while (seen.delivered + seen.dropped < 2)
		ck_assert_int_ge(cp_client_wait(m, 5000), 1);
	ck_assert_uint_eq(seen.delivered, 1);
	ck_assert_uint_eq(seen.dropped, 1);
	ck_assert_str_eq(seen.reason, "targetOrigin 'https://c.example' does not match the target's origin "
				      "'https://b.example'");
	/* The windows' counters. */
	ck_assert_int_eq(cp_client_window_stats(m, &stats, &n), 0);
	for (size_t i = 0; i < n; i++) {
		if (stats[i].id == cp_window_id(a)) {
			ck_assert_uint_eq(stats[i].posted, 1);
			ck_assert_uint_eq(stats[i].dropped, 1);
		}
		if (stats[i].id == cp_window_id(b))
			ck_assert_uint_eq(stats[i].received, 1);
	}
	cp_window_stats_free(stats, n);
	cp_client_free(m);
	cp_client_free(ca);
	cp_client_free(cb);
}
END_TEST

static void count(cp_window *w, const cp_event *ev, void *userdata)
{
	(void)w;
	(void)ev;
	(*(size_t *)userdata)++;
}

/* A monitor that stops reading loses events; the windows it watches go on
 * at full speed, and it is told how many it lost once it reads again. */
START_TEST(a_slow_monitor_loses_events_and_slows_nobody)
{
	cp_client *m = test_client(&broker), *ca = test_client(&broker), *cb = test_client(&broker);
	cp_window *a = open_window(ca, "https://a.example/", NULL), *b = open_window(cb, "https://b.example/", NULL);
	cp_value *v;
	char *text = malloc(4096 + 3);
	size_t received = 0;
	Watched seen = { 0 };
	cp_broker_stats stats;
	/* 20 MB of data: more than the monitor's output may hold (queue-high,
	 * 1 MiB, plus what its socket takes), and little enough to stay quick
	 * under ASan on a busy machine. */
	const size_t messages = 5000;

	memset(text, 'x', 4096 + 2);
	text[0] = '"';
	text[4096 + 1] = '"';
	text[4096 + 2] = '\0';
	v = test_value(text);
	/* With the data, so that its queue fills fast; it never reads. */
	ck_assert_int_eq(cp_client_monitor(m, NULL, 0, true, watch, &seen), 0);
	cp_window_set_callback(b, count, &received);
	for (size_t i = 0; i < messages; i++) {
		ck_assert_int_eq(cp_post_message(a, cp_window_id(b), v, "*"), 0);
		while (cp_client_dispatch(cb) > 0)
			;
	}
	ck_assert_int_eq(cp_client_sync(ca, 30000), 0);
	while (received < messages)
		ck_assert_int_ge(cp_client_wait(cb, 10000), 1);
	ck_assert_int_eq(cp_client_broker_stats(ca, &stats), 0);
	ck_assert_uint_eq(stats.monitors, 1);
	ck_assert_uint_gt(stats.monitor_events_lost, 0);
	ck_assert_uint_eq(stats.senders_paused, 0);
	/* It reads again: its backlog first (no loss told there, those were
	 * queued before it filled), then the first event after the loss says
	 * how much it lost. */
	while (cp_client_wait(m, 300) > 0)
		;
	ck_assert_uint_eq(seen.lost, 0);
	post(a, cp_window_id(b), "\"after\"", "*");
	ck_assert_int_eq(cp_client_sync(ca, 5000), 0);
	while (seen.lost == 0)
		ck_assert_int_ge(cp_client_wait(m, 5000), 1);
	ck_assert_uint_gt(seen.lost, 0);
	cp_value_free(v);
	free(text);
	cp_client_free(m);
	cp_client_free(ca);
	cp_client_free(cb);
}
END_TEST

typedef struct Drops {
	size_t n;
	uint64_t target;
	char reason[512];
	cp_event_type type;
} Drops;

static void on_drop(cp_window *w, const cp_event *ev, void *userdata)
{
	Drops *d = userdata;

	(void)w;
	d->n++;
	d->type = cp_event_get_type(ev);
	d->target = cp_event_dropped_target(ev);
	snprintf(d->reason, sizeof(d->reason), "%s", cp_event_drop_reason(ev) ? cp_event_drop_reason(ev) : "");
}

START_TEST(drop_reports_go_back_only_to_a_window_that_asked)
{
	cp_client *ca = test_client(&broker), *cb = test_client(&broker);
	cp_window *a = open_window(ca, "https://a.example/", NULL), *b = open_window(cb, "https://b.example/", NULL);
	Drops drops = { 0 };

	cp_window_set_callback(a, on_drop, &drops);
	/* Silent by default, as on the web. */
	post(a, cp_window_id(b), "1", "https://c.example");
	ck_assert_int_eq(cp_client_sync(ca, 5000), 0);
	ck_assert_int_eq(cp_client_wait(ca, 200), 0);
	ck_assert_uint_eq(drops.n, 0);
	ck_assert_int_eq(cp_window_report_drops(a, true), 0);
	post(a, cp_window_id(b), "2", "https://c.example");
	ck_assert_int_ge(cp_client_wait(ca, 5000), 1);
	ck_assert_uint_eq(drops.n, 1);
	ck_assert_int_eq(drops.type, CP_EVENT_DROPPED);
	ck_assert_uint_eq(drops.target, cp_window_id(b));
	ck_assert_str_eq(drops.reason, "targetOrigin 'https://c.example' does not match the target's origin "
				       "'https://b.example'");
	/* A closed target is a reason too. */
	ck_assert_int_eq(cp_window_close(b), 0);
	post(a, drops.target, "3", "*");
	ck_assert_int_ge(cp_client_wait(ca, 5000), 1);
	ck_assert_uint_eq(drops.n, 2);
	ck_assert_str_eq(drops.reason, "the target has closed");
	ck_assert_int_eq(cp_window_report_drops(a, false), 0);
	post(a, drops.target, "4", "*");
	ck_assert_int_eq(cp_client_sync(ca, 5000), 0);
	ck_assert_int_eq(cp_client_wait(ca, 200), 0);
	ck_assert_uint_eq(drops.n, 2);
	cp_client_free(ca);
	cp_client_free(cb);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("monitor");
	TCase *tc = tcase_create("monitor");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, a_monitor_sees_delivered_and_dropped_messages);
	tcase_add_test(tc, a_slow_monitor_loses_events_and_slows_nobody);
	tcase_add_test(tc, drop_reports_go_back_only_to_a_window_that_asked);
	suite_add_tcase(s, tc);
	return test_run_suite(s);
}
