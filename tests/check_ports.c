/* SPDX-License-Identifier: MIT */
/* check_ports.c - the broker's MessagePort routing, driven through raw
 * connections so that each frame of the transfer handshake is visible:
 * entangled delivery, transfer with PortMoved / PortReturn / PortReleased,
 * messages held while a port is in transit, close, owner death, and the
 * DataCloneError cases. */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <check.h>

#include "fixture.h"

static TestBroker broker;

static void setup(void) { test_broker_start(&broker); }
static void teardown(void) { test_broker_stop(&broker); }

static uint32_t next_serial = 100;

static void create_channel(int fd, uint64_t window, uint64_t *p1, uint64_t *p2)
{
	Crosspost__Header h = CROSSPOST__HEADER__INIT, *reply;
	Crosspost__CreateChannel req = CROSSPOST__CREATE_CHANNEL__INIT;

	req.window_id = window;
	h.serial = ++next_serial;
	h.body_case = CROSSPOST__HEADER__BODY_CREATE_CHANNEL;
	h.create_channel = &req;
	test_raw_send(fd, &h, NULL, 0);
	reply = test_raw_read(fd);
	ck_assert_ptr_nonnull(reply);
	ck_assert_int_eq(reply->body_case, CROSSPOST__HEADER__BODY_CHANNEL_CREATED);
	*p1 = reply->channel_created->port1_id;
	*p2 = reply->channel_created->port2_id;
	crosspost__header__free_unpacked(reply, NULL);
}

/* port.postMessage with a one-byte payload naming the message. */
static void port_post(int fd, uint64_t port, char tag, uint64_t *transfer, size_t n)
{
	Crosspost__Header h = CROSSPOST__HEADER__INIT;
	Crosspost__PortPost p = CROSSPOST__PORT_POST__INIT;

	p.port_id = port;
	p.transfer_ports = transfer;
	p.n_transfer_ports = n;
	h.serial = ++next_serial;
	h.body_case = CROSSPOST__HEADER__BODY_PORT_POST;
	h.port_post = &p;
	test_raw_send(fd, &h, &tag, 1);
}

static void window_post(int fd, uint64_t from, uint64_t to, const char *target_origin,
			uint64_t *transfer, size_t n)
{
	Crosspost__Header h = CROSSPOST__HEADER__INIT;
	Crosspost__Post p = CROSSPOST__POST__INIT;

	p.sender_window_id = from;
	p.target_window_id = to;
	p.target_origin = (char *)target_origin;
	p.transfer_ports = transfer;
	p.n_transfer_ports = n;
	h.serial = ++next_serial;
	h.body_case = CROSSPOST__HEADER__BODY_POST;
	h.post = &p;
	test_raw_send(fd, &h, "w", 1);
}

static void send_simple(int fd, Crosspost__Header__BodyCase kind, uint64_t port)
{
	Crosspost__Header h = CROSSPOST__HEADER__INIT;
	Crosspost__PortReleased released = CROSSPOST__PORT_RELEASED__INIT;
	Crosspost__PortClose close_req = CROSSPOST__PORT_CLOSE__INIT;

	h.serial = ++next_serial;
	h.body_case = kind;
	if (kind == CROSSPOST__HEADER__BODY_PORT_RELEASED) {
		released.port_id = port;
		h.port_released = &released;
	} else {
		close_req.port_id = port;
		h.port_close = &close_req;
	}
	test_raw_send(fd, &h, NULL, 0);
}

static void port_return(int fd, uint64_t port, char tag)
{
	Crosspost__Header h = CROSSPOST__HEADER__INIT;
	Crosspost__PortReturn r = CROSSPOST__PORT_RETURN__INIT;

	r.port_id = port;
	h.serial = ++next_serial;
	h.body_case = CROSSPOST__HEADER__BODY_PORT_RETURN;
	h.port_return = &r;
	test_raw_send(fd, &h, &tag, 1);
}

/* Reads one frame; returns its header and the payload's first byte. */
static Crosspost__Header *read_frame(int fd, char *ret_tag)
{
	uint32_t lengths[2];
	Crosspost__Header *h;
	uint8_t *buf;
	ssize_t got = 0;

	while (got < 8) {
		ssize_t n = read(fd, (char *)lengths + got, 8 - (size_t)got);
		ck_assert_int_gt(n, 0);
		got += n;
	}
	buf = malloc(lengths[0] + lengths[1] + 1);
	got = 0;
	while ((size_t)got < lengths[0] + lengths[1]) {
		ssize_t n = read(fd, buf + got, lengths[0] + lengths[1] - (size_t)got);
		ck_assert_int_gt(n, 0);
		got += n;
	}
	h = crosspost__header__unpack(NULL, lengths[0], buf);
	ck_assert_ptr_nonnull(h);
	if (ret_tag)
		*ret_tag = lengths[1] ? (char)buf[lengths[0]] : 0;
	free(buf);
	return h;
}

/* Expects a port event with the given tag on port. */
static void expect_port_event(int fd, uint64_t port, char tag)
{
	char got = 0;
	Crosspost__Header *h = read_frame(fd, &got);

	ck_assert_int_eq(h->body_case, CROSSPOST__HEADER__BODY_EVENT);
	ck_assert_uint_eq(h->event->target_port_id, port);
	ck_assert_str_eq(h->event->origin, "");
	ck_assert_uint_eq(h->event->source_window_id, 0);
	ck_assert_int_eq(got, tag);
	crosspost__header__free_unpacked(h, NULL);
}

static void expect_kind(int fd, Crosspost__Header__BodyCase kind, uint64_t port)
{
	Crosspost__Header *h = read_frame(fd, NULL);

	ck_assert_int_eq(h->body_case, kind);
	if (kind == CROSSPOST__HEADER__BODY_PORT_MOVED)
		ck_assert_uint_eq(h->port_moved->port_id, port);
	if (kind == CROSSPOST__HEADER__BODY_ERROR)
		ck_assert_int_eq(h->error->code, CROSSPOST__ERROR_CODE__ERROR_DATA_CLONE);
	crosspost__header__free_unpacked(h, NULL);
}

/* A window message marks "everything before this was processed". */
static void expect_window_event(int fd, uint64_t *ports, size_t n)
{
	Crosspost__Header *h = read_frame(fd, NULL);

	ck_assert_int_eq(h->body_case, CROSSPOST__HEADER__BODY_EVENT);
	ck_assert_uint_eq(h->event->target_port_id, 0);
	ck_assert_uint_eq(h->event->n_ports, n);
	for (size_t i = 0; i < n; i++)
		ck_assert_uint_eq(h->event->ports[i], ports[i]);
	crosspost__header__free_unpacked(h, NULL);
}

START_TEST(entangled_ports_deliver_to_each_other)
{
	int a = test_raw_connect(&broker);
	uint64_t wa = test_raw_register(a, "https://a.example/"), p1, p2;

	create_channel(a, wa, &p1, &p2);
	port_post(a, p1, 'x', NULL, 0);
	expect_port_event(a, p2, 'x');
	port_post(a, p2, 'y', NULL, 0);
	expect_port_event(a, p1, 'y');
	close(a);
}
END_TEST

START_TEST(transferred_port_lands_with_messages_in_order)
{
	int a = test_raw_connect(&broker), b = test_raw_connect(&broker);
	uint64_t wa = test_raw_register(a, "https://a.example/");
	uint64_t wb = test_raw_register(b, "https://b.example/"), p1, p2;

	create_channel(a, wa, &p1, &p2);
	/* m0 reaches a (p2's owner) but a has not dispatched it yet. */
	port_post(a, p1, '0', NULL, 0);
	window_post(a, wa, wb, "*", &p2, 1);
	/* m1 is posted while p2 is in transit: held by the broker. */
	port_post(a, p1, '1', NULL, 0);
	expect_window_event(b, &p2, 1);
	/* a reads m0, then the PortMoved marker, returns m0 and releases. */
	expect_port_event(a, p2, '0');
	expect_kind(a, CROSSPOST__HEADER__BODY_PORT_MOVED, p2);
	port_return(a, p2, '0');
	send_simple(a, CROSSPOST__HEADER__BODY_PORT_RELEASED, p2);
	expect_port_event(b, p2, '0');
	expect_port_event(b, p2, '1');
	/* From now on straight to b; and b's replies reach a's p1. */
	port_post(a, p1, '2', NULL, 0);
	expect_port_event(b, p2, '2');
	port_post(b, p2, 'r', NULL, 0);
	expect_port_event(a, p1, 'r');
	close(a);
	close(b);
}
END_TEST

START_TEST(port_passed_on_before_it_lands_reaches_the_last_owner)
{
	int a = test_raw_connect(&broker), b = test_raw_connect(&broker), c = test_raw_connect(&broker);
	uint64_t wa = test_raw_register(a, "https://a.example/");
	uint64_t wb = test_raw_register(b, "https://b.example/");
	uint64_t wc = test_raw_register(c, "https://c.example/"), p1, p2;

	create_channel(a, wa, &p1, &p2);
	window_post(a, wa, wb, "*", &p2, 1);
	expect_window_event(b, &p2, 1);
	port_post(a, p1, '1', NULL, 0);          /* held */
	window_post(b, wb, wc, "*", &p2, 1);     /* b passes it on at once */
	expect_window_event(c, &p2, 1);
	expect_kind(a, CROSSPOST__HEADER__BODY_PORT_MOVED, p2);
	send_simple(a, CROSSPOST__HEADER__BODY_PORT_RELEASED, p2);
	expect_port_event(c, p2, '1');
	close(a);
	close(b);
	close(c);
}
END_TEST

START_TEST(closed_or_dead_peer_receives_nothing)
{
	int a = test_raw_connect(&broker), b = test_raw_connect(&broker);
	uint64_t wa = test_raw_register(a, "https://a.example/");
	uint64_t wb = test_raw_register(b, "https://b.example/"), p1, p2, q1, q2;

	create_channel(a, wa, &p1, &p2);
	create_channel(a, wa, &q1, &q2);
	send_simple(a, CROSSPOST__HEADER__BODY_PORT_CLOSE, p2);
	port_post(a, p1, 'x', NULL, 0);              /* dropped: peer closed */
	window_post(a, wa, wa, "*", NULL, 0);
	expect_window_event(a, NULL, 0);             /* and nothing before it */
	/* q2 goes to b, b dies: q2 closes with it. */
	window_post(a, wa, wb, "*", &q2, 1);
	expect_kind(a, CROSSPOST__HEADER__BODY_PORT_MOVED, q2);
	send_simple(a, CROSSPOST__HEADER__BODY_PORT_RELEASED, q2);
	expect_window_event(b, &q2, 1);
	close(b);
	port_post(a, q1, 'y', NULL, 0);
	window_post(a, wa, wa, "*", NULL, 0);
	expect_window_event(a, NULL, 0);
	close(a);
}
END_TEST

START_TEST(dropped_message_closes_the_ports_it_carried)
{
	int a = test_raw_connect(&broker), b = test_raw_connect(&broker);
	uint64_t wa = test_raw_register(a, "https://a.example/");
	uint64_t wb = test_raw_register(b, "https://b.example/"), p1, p2;

	create_channel(a, wa, &p1, &p2);
	window_post(a, wa, wb, "https://wrong.example", &p2, 1);   /* dropped */
	port_post(a, p1, 'x', NULL, 0);
	window_post(a, wa, wa, "*", NULL, 0);
	expect_window_event(a, NULL, 0);    /* p2 closed: neither moved nor delivered */
	close(a);
	close(b);
}
END_TEST

START_TEST(untransferable_ports_are_data_clone_errors)
{
	int a = test_raw_connect(&broker), b = test_raw_connect(&broker);
	uint64_t wa = test_raw_register(a, "https://a.example/");
	uint64_t wb = test_raw_register(b, "https://b.example/"), p1, p2, twice[2];

	create_channel(a, wa, &p1, &p2);
	port_post(a, p1, 'x', &p1, 1);                   /* itself */
	expect_kind(a, CROSSPOST__HEADER__BODY_ERROR, 0);
	twice[0] = twice[1] = p2;
	window_post(a, wa, wb, "*", twice, 2);            /* twice */
	expect_kind(a, CROSSPOST__HEADER__BODY_ERROR, 0);
	window_post(b, wb, wa, "*", &p2, 1);              /* not b's */
	expect_kind(b, CROSSPOST__HEADER__BODY_ERROR, 0);
	/* Nothing moved: the channel still works. */
	port_post(a, p1, 'k', NULL, 0);
	expect_port_event(a, p2, 'k');
	close(a);
	close(b);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("ports");
	TCase *tc = tcase_create("broker");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, entangled_ports_deliver_to_each_other);
	tcase_add_test(tc, transferred_port_lands_with_messages_in_order);
	tcase_add_test(tc, port_passed_on_before_it_lands_reaches_the_last_owner);
	tcase_add_test(tc, closed_or_dead_peer_receives_nothing);
	tcase_add_test(tc, dropped_message_closes_the_ports_it_carried);
	tcase_add_test(tc, untransferable_ports_are_data_clone_errors);
	suite_add_tcase(s, tc);
	return test_run_suite(s);
}
