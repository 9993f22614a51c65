/* SPDX-License-Identifier: MIT */
/* check_channel.c - MessageChannel and MessagePort through libcrosspost. */
#include <stdlib.h>
#include <string.h>

#include <check.h>

#include "fixture.h"

static TestBroker broker;

static void setup(void) { test_broker_start(&broker); }
static void teardown(void) { test_broker_stop(&broker); }

typedef struct PortInbox {
	size_t count;
	char *json[64];
	char origin[64][64];
	uint64_t source[64];
	cp_port *arrived_on[64];
} PortInbox;

static void on_port_event(cp_port *port, const cp_event *ev, void *userdata)
{
	PortInbox *in = userdata;
	size_t i = in->count++;

	ck_assert_uint_lt(i, 64);
	in->json[i] = cp_event_data(ev) ? cp_value_to_json(cp_event_data(ev)) : NULL;
	strncpy(in->origin[i], cp_event_origin(ev), sizeof(in->origin[i]) - 1);
	in->source[i] = cp_event_source_id(ev);
	in->arrived_on[i] = cp_event_port(ev);
	ck_assert_ptr_eq(cp_event_port(ev), port);
}

static void wait_for(cp_client *c, PortInbox *in, size_t n)
{
	for (int i = 0; i < 100 && in->count < n; i++)
		cp_client_wait(c, 50);
	ck_assert_uint_eq(in->count, n);
}

static void clear(PortInbox *in)
{
	for (size_t i = 0; i < in->count; i++)
		free(in->json[i]);
	in->count = 0;
}

static void port_post(cp_port *p, const char *json)
{
	cp_value *v = test_value(json);
	int r = cp_port_post_message(p, v, NULL, 0);

	ck_assert_msg(r == 0, "cp_port_post_message: %s: %s", cp_error_name(r), cp_last_error_message());
	cp_value_free(v);
}

START_TEST(entangled_ports_talk_with_empty_origin_and_null_source)
{
	cp_client *c = test_client(&broker);
	cp_window *w = NULL;
	cp_port *p1 = NULL, *p2 = NULL;
	PortInbox in1 = { 0 }, in2 = { 0 };

	ck_assert_int_eq(cp_window_open(c, "https://a.example/", NULL, &w), 0);
	ck_assert_int_eq(cp_channel_new(w, &p1, &p2), 0);
	ck_assert_uint_ne(cp_port_id(p1), cp_port_id(p2));
	ck_assert_int_eq(cp_port_get_state(p1), CP_PORT_OPEN);
	cp_port_set_callback(p2, on_port_event, &in2);
	cp_port_set_callback(p1, on_port_event, &in1);
	port_post(p1, "{\"to\":\"p2\"}");
	port_post(p2, "[1,2]");
	wait_for(c, &in2, 1);
	wait_for(c, &in1, 1);
	ck_assert_str_eq(in2.json[0], "{\"to\":\"p2\"}");
	ck_assert_str_eq(in2.origin[0], "");
	ck_assert_uint_eq(in2.source[0], 0);
	ck_assert_str_eq(in1.json[0], "[1,2]");
	clear(&in1);
	clear(&in2);
	cp_client_free(c);
}
END_TEST

START_TEST(messages_wait_until_the_port_is_started)
{
	cp_client *c = test_client(&broker);
	cp_window *w = NULL;
	cp_port *p1 = NULL, *p2 = NULL;
	PortInbox in = { 0 };

	ck_assert_int_eq(cp_window_open(c, "https://a.example/", NULL, &w), 0);
	ck_assert_int_eq(cp_channel_new(w, &p1, &p2), 0);
	for (int i = 0; i < 3; i++)
		port_post(p1, i == 0 ? "0" : i == 1 ? "1" : "2");
	ck_assert_int_eq(cp_client_sync(c, 5000), 0);
	ck_assert_int_eq(cp_client_wait(c, 5000), 3);   /* received and kept, not dispatched */
	cp_port_set_callback(p2, on_port_event, &in);                /* implicit start */
	wait_for(c, &in, 3);
	ck_assert_str_eq(in.json[0], "0");
	ck_assert_str_eq(in.json[2], "2");
	clear(&in);
	cp_client_free(c);
}
END_TEST

START_TEST(closing_one_side_stops_delivery)
{
	cp_client *c = test_client(&broker);
	cp_window *w = NULL;
	cp_port *p1 = NULL, *p2 = NULL;
	PortInbox in = { 0 };

	ck_assert_int_eq(cp_window_open(c, "https://a.example/", NULL, &w), 0);
	ck_assert_int_eq(cp_channel_new(w, &p1, &p2), 0);
	cp_port_set_callback(p1, on_port_event, &in);
	ck_assert_int_eq(cp_port_close(p2), 0);
	ck_assert_int_eq(cp_port_get_state(p2), CP_PORT_CLOSED);
	ck_assert_int_eq(cp_port_close(p2), 0);                 /* again: nothing */
	port_post(p2, "\"from a closed port\"");                /* does nothing */
	port_post(p1, "\"to a closed port\"");                  /* dropped */
	ck_assert_int_eq(cp_client_sync(c, 5000), 0);
	ck_assert_int_eq(cp_client_wait(c, 200), 0);
	ck_assert_uint_eq(in.count, 0);
	cp_client_free(c);
}
END_TEST

START_TEST(a_port_of_another_client_cannot_be_transferred)
{
	cp_client *ca = test_client(&broker), *cb = test_client(&broker);
	cp_window *a = NULL, *b = NULL;
	cp_port *p1 = NULL, *p2 = NULL;
	cp_value *data = test_value("\"with a port\""), *port = NULL;

	ck_assert_int_eq(cp_window_open(ca, "https://a.example/", NULL, &a), 0);
	ck_assert_int_eq(cp_window_open(cb, "https://b.example/", NULL, &b), 0);
	ck_assert_int_eq(cp_channel_new(a, &p1, &p2), 0);
	ck_assert_int_eq(cp_value_new_port(p2, &port), 0);
	/* p2's handle belongs to ca: b's connection may not send it. */
	ck_assert_int_eq(cp_post_message_with_transfer(b, cp_window_id(a), data, "*", &port, 1),
			 CP_ERR_DATA_CLONE);
	ck_assert_int_eq(cp_port_get_state(p2), CP_PORT_OPEN);
	ck_assert_int_eq(cp_post_message_with_transfer(a, cp_window_id(b), data, "*", &port, 1), 0);
	ck_assert_int_eq(cp_port_get_state(p2), CP_PORT_TRANSFERRED);
	cp_value_free(port);
	cp_value_free(data);
	cp_client_free(ca);
	cp_client_free(cb);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("channel");
	TCase *tc = tcase_create("ports");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, entangled_ports_talk_with_empty_origin_and_null_source);
	tcase_add_test(tc, messages_wait_until_the_port_is_started);
	tcase_add_test(tc, closing_one_side_stops_delivery);
	tcase_add_test(tc, a_port_of_another_client_cannot_be_transferred);
	suite_add_tcase(s, tc);
	return test_run_suite(s);
}
