/* SPDX-License-Identifier: MIT */
/* check_reconnect.c - libcrosspost survives a broker restart when asked to
 * (cp_client_set_reconnect()): the broker is SIGKILLed and a new one started
 * on the same socket; windows come back under their names with new ids,
 * posts while the broker is away fail with NetworkError, events received
 * before the loss still reach their windows, ports do not survive, and the
 * default stays "disconnected for good". */
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <check.h>
#include <event2/event.h>

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

/* What the reconnect callback and the window callbacks saw, in order:
 * "lost", "window NAME ID" / "window NAME error NAME", "restored",
 * "gave-up", and "event NAME DATA" for events. */
typedef struct Log {
	char lines[64][160];
	size_t count;
	int restored, lost, gave_up, events;
	char last_message[256];
} Log;

static void log_line(Log *log, const char *line)
{
	ck_assert_uint_lt(log->count, 64);
	snprintf(log->lines[log->count++], sizeof(log->lines[0]), "%s", line);
}

static void on_reconnect(cp_client *client, cp_reconnect_event event, cp_window *w, int error, void *userdata)
{
	Log *log = userdata;
	char line[160];

	(void)client;
	snprintf(log->last_message, sizeof(log->last_message), "%s", cp_last_error_message());
	switch (event) {
	case CP_RECONNECT_LOST:
		ck_assert_int_eq(error, CP_ERR_NETWORK);
		ck_assert_ptr_null(w);
		log->lost++;
		log_line(log, "lost");
		break;
	case CP_RECONNECT_WINDOW:
		ck_assert_ptr_nonnull(w);
		if (error)
			snprintf(line, sizeof(line), "window %s error %s", cp_window_name(w), cp_error_name(error));
		else
			snprintf(line, sizeof(line), "window %s %llu", cp_window_name(w),
				 (unsigned long long)cp_window_id(w));
		log_line(log, line);
		break;
	case CP_RECONNECT_RESTORED:
		ck_assert_int_eq(error, 0);
		log->restored++;
		log_line(log, "restored");
		break;
	case CP_RECONNECT_GAVE_UP:
		ck_assert_int_eq(error, CP_ERR_NETWORK);
		log->gave_up++;
		log_line(log, "gave-up");
		break;
	}
}

static void on_event(cp_window *w, const cp_event *ev, void *userdata)
{
	Log *log = userdata;
	char *json = cp_value_to_json(cp_event_data(ev));
	char line[160];

	snprintf(line, sizeof(line), "event %s %s", cp_window_name(w), json ? json : "?");
	free(json);
	log_line(log, line);
	log->events++;
}

static cp_client *reconnecting_client(Log *log)
{
	cp_client *c = test_client(&broker);

	ck_assert_int_eq(cp_client_set_reconnect(c, true), 0);
	cp_client_set_reconnect_callback(c, on_reconnect, log);
	return c;
}

static cp_window *open_window(cp_client *c, const char *url, const char *name)
{
	cp_window *w = NULL;
	int r = cp_window_open(c, url, name, &w);

	ck_assert_msg(r == 0, "cp_window_open(%s): %s: %s", url, cp_error_name(r), cp_last_error_message());
	return w;
}

static void post(cp_window *from, uint64_t to, const char *json)
{
	cp_value *v = test_value(json);
	int r = cp_post_message(from, to, v, "*");

	ck_assert_msg(r == 0, "cp_post_message: %s: %s", cp_error_name(r), cp_last_error_message());
	cp_value_free(v);
}

/* Drives c with cp_client_wait() until *counter reaches want (10 s cap). */
static void wait_for(cp_client *c, const int *counter, int want)
{
	long long deadline = now_ms() + 10000;

	while (*counter < want) {
		int r;

		ck_assert_msg(now_ms() < deadline, "waited 10 s for a reconnection notice");
		r = cp_client_wait(c, 100);
		ck_assert_msg(r >= 0 || *counter >= want, "cp_client_wait: %s: %s", cp_error_name(r),
			      cp_last_error_message());
	}
}

static void on_broadcast_count(cp_broadcast *channel, const cp_event *ev, void *userdata)
{
	(void)channel;
	(void)ev;
	(*(int *)userdata)++;
}

static uint64_t lookup(cp_client *c, const char *name)
{
	uint64_t id = 0;
	int r = cp_client_lookup(c, name, &id);

	ck_assert_msg(r == 0, "lookup %s: %s: %s", name, cp_error_name(r), cp_last_error_message());
	return id;
}

START_TEST(without_reconnect_a_restart_leaves_the_client_disconnected)
{
	cp_client *c = test_client(&broker);
	cp_window *w = open_window(c, "https://a.example/", "a");
	cp_value *v = test_value("1");

	test_broker_restart(&broker);
	ck_assert_int_eq(cp_client_wait(c, 5000), CP_ERR_NETWORK);
	ck_assert_int_eq(cp_post_message(w, 1, v, "*"), CP_ERR_NETWORK);
	ck_assert_str_eq(cp_last_error_message(), "the connection to the broker is lost");
	ck_assert_int_eq(cp_client_wait(c, 0), CP_ERR_NETWORK);
	ck_assert_uint_eq(cp_window_id(w), 1);
	cp_value_free(v);
	cp_client_free(c);
}
END_TEST

START_TEST(a_window_is_back_under_its_name_with_a_new_id)
{
	Log log = { 0 };
	cp_client *a = reconnecting_client(&log), *b;
	cp_window *filler, *wa, *wb;
	uint64_t old_id, new_id;
	char want[64];

	/* A window of another client first, so that ids differ after. */
	b = test_client(&broker);
	filler = open_window(b, "https://filler.example/", NULL);
	(void)filler;
	wa = open_window(a, "https://a.example/x", "alpha");
	cp_window_set_callback(wa, on_event, &log);
	old_id = cp_window_id(wa);
	ck_assert_uint_eq(old_id, 2);
	cp_client_free(b);

	test_broker_restart(&broker);
	wait_for(a, &log.restored, 1);
	new_id = cp_window_id(wa);
	ck_assert_uint_eq(new_id, 1);
	ck_assert_uint_eq(log.count, 3);
	ck_assert_str_eq(log.lines[0], "lost");
	snprintf(want, sizeof(want), "window alpha %llu", (unsigned long long)new_id);
	ck_assert_str_eq(log.lines[1], want);
	ck_assert_str_eq(log.lines[2], "restored");
	ck_assert_str_eq(cp_window_url(wa), "https://a.example/x");
	ck_assert_str_eq(cp_window_origin(wa), "https://a.example");

	/* Another client finds it by name, and messages flow both ways. */
	b = test_client(&broker);
	wb = open_window(b, "https://b.example/", "beta");
	ck_assert_uint_eq(lookup(b, "alpha"), new_id);
	post(wb, new_id, "\"to alpha\"");
	wait_for(a, &log.events, 1);
	ck_assert_str_eq(log.lines[3], "event alpha \"to alpha\"");
	post(wa, cp_window_id(wb), "\"from alpha\"");
	ck_assert_int_eq(cp_client_sync(a, 5000), 0);
	cp_client_free(b);
	cp_client_free(a);
}
END_TEST

START_TEST(a_navigated_window_registers_again_at_its_current_url)
{
	Log log = { 0 };
	cp_client *a = reconnecting_client(&log), *b;
	cp_window *w = open_window(a, "https://a.example/", "nav");
	uint64_t id = 0;
	char *origin = NULL;

	ck_assert_int_eq(cp_window_navigate(w, "https://c2.example/page"), 0);
	test_broker_restart(&broker);
	wait_for(a, &log.restored, 1);
	b = test_client(&broker);
	ck_assert_int_eq(cp_client_lookup_window(b, "nav", &id, &origin), 0);
	ck_assert_uint_eq(id, cp_window_id(w));
	ck_assert_str_eq(origin, "https://c2.example");
	free(origin);
	cp_client_free(b);
	cp_client_free(a);
}
END_TEST

START_TEST(a_post_while_the_broker_is_away_fails_with_network_error)
{
	Log log = { 0 };
	cp_client *a = reconnecting_client(&log), *b;
	cp_window *wa = open_window(a, "https://a.example/", "alpha");
	cp_value *v = test_value("\"while away\"");
	TestInbox *in = calloc(1, sizeof(*in));
	cp_window *wb;
	int r;

	test_broker_kill(&broker);
	/* The first call to notice says why; the next ones, that the client
	 * is reconnecting.  Nothing is held: each post fails at once. */
	r = cp_post_message(wa, 1, v, "*");
	ck_assert_int_eq(r, CP_ERR_NETWORK);
	r = cp_post_message(wa, 1, v, "*");
	ck_assert_int_eq(r, CP_ERR_NETWORK);
	ck_assert_msg(strstr(cp_last_error_message(), "the broker is away; reconnecting"),
		      "message: %s", cp_last_error_message());
	ck_assert_msg(strstr(cp_last_error_message(), "no broker at"), "message: %s", cp_last_error_message());
	ck_assert_int_eq(cp_client_sync(a, 1000), CP_ERR_NETWORK);
	ck_assert_msg(strstr(cp_last_error_message(), "the broker is away; reconnecting"),
		      "message: %s", cp_last_error_message());
	/* The notice comes with the next dispatch. */
	ck_assert_int_eq(cp_client_dispatch(a), 0);
	ck_assert_int_eq(log.lost, 1);
	ck_assert_msg(strstr(log.last_message, "broker"), "LOST says why: %s", log.last_message);

	test_broker_restart(&broker);
	wait_for(a, &log.restored, 1);
	/* Posting works again, and the message is delivered. */
	b = test_client(&broker);
	wb = open_window(b, "https://b.example/", "beta");
	cp_window_set_callback(wb, test_inbox_callback, in);
	ck_assert_int_eq(cp_post_message(wa, cp_window_id(wb), v, "*"), 0);
	ck_assert_uint_eq(test_inbox_wait(b, in, 1, 5000), 1);
	ck_assert_str_eq(in->json[0], "\"while away\"");
	test_inbox_clear(in);
	free(in);
	cp_value_free(v);
	cp_client_free(b);
	cp_client_free(a);
}
END_TEST

START_TEST(events_received_before_the_loss_reach_their_windows_first)
{
	Log log = { 0 };
	cp_client *a = reconnecting_client(&log), *b = test_client(&broker);
	cp_window *w1 = open_window(a, "https://one.example/", "one");
	cp_window *w2 = open_window(a, "https://two.example/", "two");
	cp_window *wb = open_window(b, "https://b.example/", NULL);

	cp_window_set_callback(w1, on_event, &log);
	/* w2 has no callback yet: its event waits in its backlog. */
	post(wb, cp_window_id(w1), "\"for one\"");
	post(wb, cp_window_id(w2), "\"for two\"");
	ck_assert_int_eq(cp_client_sync(b, 5000), 0);
	/* A blocking call reads both (and queues them, undispatched). */
	ck_assert_int_eq(cp_client_sync(a, 5000), 0);
	cp_client_free(b);

	test_broker_restart(&broker);
	/* The windows register again in the other order (two, then one):
	 * each gets the id the other had, so an event that followed an old
	 * id instead of its window would reach the wrong one. */
	wait_for(a, &log.restored, 1);
	ck_assert_uint_eq(cp_window_id(w1), 2);
	ck_assert_uint_eq(cp_window_id(w2), 1);
	ck_assert_str_eq(log.lines[0], "event one \"for one\"");
	ck_assert_str_eq(log.lines[1], "lost");
	ck_assert_int_eq(strncmp(log.lines[2], "window ", 7), 0);
	ck_assert_int_eq(strncmp(log.lines[3], "window ", 7), 0);
	ck_assert_str_eq(log.lines[4], "restored");
	cp_window_set_callback(w2, on_event, &log);
	ck_assert_int_ge(cp_client_wait(a, 1000), 1);
	ck_assert_uint_eq(log.count, 6);
	ck_assert_str_eq(log.lines[5], "event two \"for two\"");
	cp_client_free(a);
}
END_TEST

START_TEST(a_window_whose_name_was_taken_meanwhile_is_closed)
{
	Log log = { 0 };
	cp_client *a = reconnecting_client(&log), *c;
	cp_window *w = open_window(a, "https://a.example/", "alpha");
	cp_window *kept = open_window(a, "https://a.example/kept", "kept");
	cp_value *v = test_value("1");
	int r;

	test_broker_restart(&broker);
	/* Another client takes the name before a reconnects. */
	c = test_client(&broker);
	open_window(c, "https://squatter.example/", "alpha");
	wait_for(a, &log.restored, 1);
	ck_assert_str_eq(log.lines[0], "lost");
	ck_assert_str_eq(log.lines[1], "window alpha error ConstraintError");
	ck_assert_uint_eq(cp_window_id(w), 0);
	ck_assert_uint_ne(cp_window_id(kept), 0);
	r = cp_post_message(w, cp_window_id(kept), v, "*");
	ck_assert_int_eq(r, CP_ERR_INVALID_STATE);
	ck_assert_msg(strstr(cp_last_error_message(), "window 'alpha' was not registered again after the broker "
			     "restarted: ConstraintError"), "message: %s", cp_last_error_message());
	ck_assert_int_eq(cp_window_navigate(w, "https://x.example/"), CP_ERR_INVALID_STATE);
	ck_assert_int_eq(cp_window_close(w), 0);
	/* The other window is fine. */
	ck_assert_uint_eq(lookup(c, "kept"), cp_window_id(kept));
	post(kept, cp_window_id(kept), "2");
	ck_assert_int_eq(cp_client_sync(a, 5000), 0);
	cp_value_free(v);
	cp_client_free(c);
	cp_client_free(a);
}
END_TEST

START_TEST(ports_do_not_survive_a_restart)
{
	Log log = { 0 };
	cp_client *a = reconnecting_client(&log);
	cp_window *w = open_window(a, "https://a.example/", NULL);
	cp_port *p1 = NULL, *p2 = NULL;
	cp_value *v = test_value("1");

	ck_assert_int_eq(cp_channel_new(w, &p1, &p2), 0);
	test_broker_restart(&broker);
	wait_for(a, &log.restored, 1);
	ck_assert_int_eq(cp_port_get_state(p1), CP_PORT_CLOSED);
	ck_assert_int_eq(cp_port_post_message(p1, v, NULL, 0), CP_ERR_INVALID_STATE);
	ck_assert_msg(strstr(cp_last_error_message(), "died with the broker's restart"), "message: %s",
		      cp_last_error_message());
	ck_assert_int_eq(cp_port_close(p2), 0);
	/* A new channel works. */
	ck_assert_int_eq(cp_channel_new(w, &p1, &p2), 0);
	ck_assert_int_eq(cp_port_post_message(p1, v, NULL, 0), 0);
	cp_value_free(v);
	cp_client_free(a);
}
END_TEST

START_TEST(broadcast_channels_close_and_the_window_proxy_follows_the_new_id)
{
	Log log = { 0 };
	cp_client *a = reconnecting_client(&log), *b;
	cp_window *w = open_window(a, "https://a.example/", NULL), *other;
	cp_window *filler = open_window(a, "https://f.example/", NULL);
	cp_broadcast *bc = NULL, *again = NULL, *peer = NULL;
	cp_value *v = test_value("\"hi\"");
	int heard = 0;

	ck_assert_int_eq(cp_broadcast_new(w, "news", &bc), 0);
	ck_assert_uint_eq(cp_window_ref_id(cp_window_proxy(w)), 1);
	test_broker_restart(&broker);
	wait_for(a, &log.restored, 1);
	/* Registered again in list order: the proxy has the new id, whatever it is. */
	ck_assert_uint_ne(cp_window_id(w), 0);
	ck_assert_uint_eq(cp_window_ref_id(cp_window_proxy(w)), cp_window_id(w));
	ck_assert_uint_eq(cp_window_ref_id(cp_window_proxy(filler)), cp_window_id(filler));
	ck_assert_int_eq(cp_broadcast_post(bc, v), CP_ERR_INVALID_STATE);
	ck_assert_msg(strstr(cp_last_error_message(), "closed with the broker's restart"), "message: %s",
		      cp_last_error_message());
	ck_assert_int_eq(cp_broadcast_close(bc), 0);
	/* Opened again, the channel works at the new broker. */
	ck_assert_int_eq(cp_broadcast_new(w, "news", &again), 0);
	b = test_client(&broker);
	other = open_window(b, "https://a.example/other", NULL);
	ck_assert_int_eq(cp_broadcast_new(other, "news", &peer), 0);
	cp_broadcast_set_callback(again, on_broadcast_count, &heard);
	ck_assert_int_eq(cp_broadcast_post(peer, v), 0);
	ck_assert_int_eq(cp_client_sync(b, 5000), 0);
	while (heard < 1)
		ck_assert_int_ge(cp_client_wait(a, 5000), 1);
	cp_value_free(v);
	cp_client_free(b);
	cp_client_free(a);
}
END_TEST

START_TEST(reconnection_gives_up_after_its_limit)
{
	Log log = { 0 };
	cp_client *a = reconnecting_client(&log);
	cp_window *w = open_window(a, "https://a.example/", NULL);
	cp_value *v = test_value("1");
	long long t0;

	ck_assert_int_eq(cp_client_set_reconnect_limit(a, 200), 0);
	test_broker_kill(&broker);
	t0 = now_ms();
	wait_for(a, &log.gave_up, 1);
	ck_assert_int_ge(now_ms() - t0, 200);
	ck_assert_int_lt(now_ms() - t0, 5000);
	ck_assert_str_eq(log.lines[0], "lost");
	ck_assert_str_eq(log.lines[1], "gave-up");
	ck_assert_msg(strstr(log.last_message, "no broker at"), "GAVE_UP says why: %s", log.last_message);
	ck_assert_int_eq(cp_post_message(w, 1, v, "*"), CP_ERR_NETWORK);
	ck_assert_msg(strstr(cp_last_error_message(), "gave up reconnecting"), "message: %s",
		      cp_last_error_message());
	ck_assert_int_eq(cp_client_wait(a, 100), CP_ERR_NETWORK);
	/* A broker that comes back is not tried any more. */
	test_broker_restart(&broker);
	ck_assert_int_eq(cp_client_wait(a, 100), CP_ERR_NETWORK);
	cp_value_free(v);
	cp_client_free(a);
}
END_TEST

START_TEST(an_own_poll_loop_follows_fd_and_timeout)
{
	Log log = { 0 };
	cp_client *a = reconnecting_client(&log);
	cp_window *w = open_window(a, "https://a.example/", "polled");
	long long deadline;
	int fd = cp_client_fd(a);

	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(cp_client_get_timeout(a), -1);
	test_broker_kill(&broker);
	/* The loop sees the end of the stream and dispatches: no error. */
	{
		struct pollfd pfd = { .fd = fd, .events = POLLIN };

		ck_assert_int_eq(poll(&pfd, 1, 5000), 1);
	}
	ck_assert_int_eq(cp_client_dispatch(a), 0);
	ck_assert_int_eq(log.lost, 1);
	ck_assert_int_eq(cp_client_fd(a), -1);
	ck_assert_int_ge(cp_client_get_timeout(a), 0);
	ck_assert_int_le(cp_client_get_timeout(a), CP_RECONNECT_MAX_DELAY_MS);
	test_broker_restart(&broker);
	deadline = now_ms() + 10000;
	while (!log.restored) {
		struct pollfd pfd = { .fd = cp_client_fd(a), .events = POLLIN };

		ck_assert(now_ms() < deadline);
		poll(&pfd, 1, cp_client_get_timeout(a));
		ck_assert_int_ge(cp_client_dispatch(a), 0);
	}
	ck_assert_int_ge(cp_client_fd(a), 0);
	ck_assert_int_eq(cp_client_get_timeout(a), -1);
	ck_assert_uint_ne(cp_window_id(w), 0);
	cp_client_free(a);
}
END_TEST

/* For the libevent test: stop the loop once the event came. */
static void on_event_break(cp_window *w, const cp_event *ev, void *userdata)
{
	struct event_base *base = userdata;

	(void)w;
	(void)ev;
	event_base_loopbreak(base);
}

static void on_reconnect_break(cp_client *client, cp_reconnect_event event, cp_window *w, int error,
			       void *userdata)
{
	(void)client;
	(void)w;
	(void)error;
	if (event == CP_RECONNECT_RESTORED)
		event_base_loopbreak(userdata);
}

START_TEST(a_libevent_loop_reconnects_and_receives_on_the_new_connection)
{
	struct event_base *base = event_base_new();
	struct timeval ten_s = { 10, 0 };
	cp_client *a = test_client(&broker), *b;
	cp_window *wa = open_window(a, "https://a.example/", "looped"), *wb;

	ck_assert_int_eq(cp_client_set_reconnect(a, true), 0);
	cp_client_set_reconnect_callback(a, on_reconnect_break, base);
	cp_window_set_callback(wa, on_event_break, base);
	ck_assert_int_eq(cp_client_attach_event_base(a, base), 0);
	test_broker_restart(&broker);
	event_base_loopexit(base, &ten_s);
	ck_assert_int_eq(event_base_dispatch(base), 0);
	ck_assert_msg(!event_base_got_exit(base), "no reconnection within 10 s");
	b = test_client(&broker);
	wb = open_window(b, "https://b.example/", NULL);
	post(wb, lookup(b, "looped"), "1");
	ck_assert_int_eq(cp_client_sync(b, 5000), 0);
	ck_assert_int_eq(event_base_dispatch(base), 0);
	ck_assert_msg(!event_base_got_exit(base), "no event within 10 s");
	cp_client_free(b);
	cp_client_free(a);
	event_base_free(base);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("reconnect");
	TCase *tc = tcase_create("restart");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, without_reconnect_a_restart_leaves_the_client_disconnected);
	tcase_add_test(tc, a_window_is_back_under_its_name_with_a_new_id);
	tcase_add_test(tc, a_navigated_window_registers_again_at_its_current_url);
	tcase_add_test(tc, a_post_while_the_broker_is_away_fails_with_network_error);
	tcase_add_test(tc, events_received_before_the_loss_reach_their_windows_first);
	tcase_add_test(tc, a_window_whose_name_was_taken_meanwhile_is_closed);
	tcase_add_test(tc, ports_do_not_survive_a_restart);
	tcase_add_test(tc, broadcast_channels_close_and_the_window_proxy_follows_the_new_id);
	tcase_add_test(tc, reconnection_gives_up_after_its_limit);
	tcase_add_test(tc, an_own_poll_loop_follows_fd_and_timeout);
	tcase_add_test(tc, a_libevent_loop_reconnects_and_receives_on_the_new_connection);
	suite_add_tcase(s, tc);
	return test_run_suite(s);
}
