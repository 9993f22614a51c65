/* SPDX-License-Identifier: MIT */
/*
 * channel_host.c - handing one end of a MessageChannel to another process,
 * then talking over the ports.  On the web:
 *
 *     const channel = new MessageChannel();
 *     channel.port1.onmessage = (event) => { ... };
 *     worker.postMessage("a private line", "https://worker.example", [channel.port2]);
 *     channel.port1.postMessage({square: 3});
 *
 * It opens a window at https://host.example, waits for the window named
 * "worker" (channel_worker.c), creates a channel, and transfers port2 to
 * the worker with cp_post_message_with_transfer().  It then asks, on
 * port1, for the squares of 1, 2 and 3 - right away, while port2 may still
 * be on its way: the broker holds those messages until the port has landed
 * - prints the answers as they come, says "bye", and exits when the worker
 * says "bye" back.  Port messages need no targetOrigin and have origin ""
 * and no source: whoever holds the other end is the one to talk to.
 *
 *     crosspostd --foreground &
 *     build/examples/channel_worker &
 *     build/examples/channel_host
 *
 * Usage: channel_host
 * The broker's socket is $CROSSPOST_SOCKET, else the library's default.
 * Exit status: 0 after the conversation, 1 on an error or when the worker
 * does not answer within 30 s.
 */
#define _POSIX_C_SOURCE 200809L    /* clock_gettime */

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <crosspost.h>

#define HOST_URL "https://host.example/"
#define WORKER_NAME "worker"
#define WORKER_ORIGIN "https://worker.example"
#define TIMEOUT_MS 30000

struct line {
	int answers;         /* squares received */
	bool bye;            /* the worker said bye */
};

static void die(const char *what, int code)
{
	fprintf(stderr, "channel_host: %s: %s: %s\n", what, cp_error_name(code), cp_last_error_message());
	exit(1);
}

static long long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* port.postMessage(JSON.parse(json)). */
static void port_post_json(cp_port *port, const char *json)
{
	cp_value *data = NULL;
	int r = cp_value_from_json(json, strlen(json), NULL, &data);

	if (r == 0)
		r = cp_port_post_message(port, data, NULL, 0);
	cp_value_free(data);
	if (r < 0)
		die("cannot post on the port", r);
}

/* port1.onmessage: the worker's answers, in the order they were posted. */
static void on_port_message(cp_port *port, const cp_event *ev, void *userdata)
{
	struct line *line = userdata;
	const cp_value *data = cp_event_data(ev), *n, *result;

	(void)port;
	if (!data || cp_value_get_type(data) != CP_VALUE_OBJECT)
		return;
	if (cp_value_object_get(data, "bye")) {
		printf("host: the worker said bye\n");
		line->bye = true;
	} else if ((n = cp_value_object_get(data, "square")) && (result = cp_value_object_get(data, "result"))) {
		printf("host: %g squared is %g\n", cp_value_get_number(n), cp_value_get_number(result));
		line->answers++;
	}
	fflush(stdout);
}

/* Runs callbacks until the worker has sent `answers` squares (and bye,
 * when bye is true); fails at the deadline. */
static void wait_for(cp_client *client, const struct line *line, int answers, bool bye, long long deadline)
{
	while (line->answers < answers || (bye && !line->bye)) {
		long long left = deadline - now_ms();
		/* > 0: events came; 0: the time ran out; < 0: an error. */
		int r = left > 0 ? cp_client_wait(client, (int)left) : 0;

		if (r < 0)
			die("waiting for the worker", r);
		if (r == 0) {
			fprintf(stderr, "channel_host: the worker did not answer within %d ms\n", TIMEOUT_MS);
			exit(1);
		}
	}
}

int main(int argc, char **argv)
{
	struct line line = { 0 };
	cp_client *client = NULL;
	cp_window *window = NULL;
	cp_port *port1 = NULL, *port2 = NULL;
	cp_value *data = NULL, *port2_value = NULL;
	uint64_t worker = 0;
	long long deadline;
	int r;

	(void)argv;
	if (argc > 1) {
		fprintf(stderr, "Usage: channel_host\n");
		return 2;
	}
	r = cp_client_new(NULL, &client);
	if (r < 0)
		die("cannot connect to the broker", r);
	r = cp_window_open(client, HOST_URL, "host", &window);
	if (r < 0)
		die("cannot open a window at " HOST_URL, r);
	deadline = now_ms() + TIMEOUT_MS;
	r = cp_client_wait_for_window(client, WORKER_NAME, TIMEOUT_MS, &worker);
	if (r < 0)
		die("no window named \"" WORKER_NAME "\"", r);

	/* new MessageChannel(): two entangled ports, both ours for now. */
	r = cp_channel_new(window, &port1, &port2);
	if (r < 0)
		die("cannot create a channel", r);
	/* port1.onmessage = ...: also starts the port. */
	cp_port_set_callback(port1, on_port_message, &line);

	/* worker.postMessage("a private line", WORKER_ORIGIN, [port2]).  A
	 * port travels only in the transfer list; the value node standing
	 * for it borrows the handle.  After the call port2 is the worker's:
	 * our handle is dead (CP_PORT_TRANSFERRED). */
	r = cp_value_new_string("a private line", &data);
	if (r == 0)
		r = cp_value_new_port(port2, &port2_value);
	if (r == 0)
		r = cp_post_message_with_transfer(window, worker, data, WORKER_ORIGIN, &port2_value, 1);
	cp_value_free(data);
	cp_value_free(port2_value);
	if (r < 0)
		die("cannot transfer the port", r);
	printf("host: gave port %llu to the worker\n", (unsigned long long)cp_port_id(port2));
	fflush(stdout);

	/* Talk on port1 at once: nothing is lost while port2 is in transit. */
	port_post_json(port1, "{\"square\":1}");
	port_post_json(port1, "{\"square\":2}");
	port_post_json(port1, "{\"square\":3}");
	wait_for(client, &line, 3, false, deadline);
	port_post_json(port1, "{\"bye\":true}");
	wait_for(client, &line, 3, true, deadline);

	/* port1.close(), then disconnect (which would close it anyway). */
	r = cp_port_close(port1);
	if (r < 0)
		die("cannot close the port", r);
	cp_client_free(client);
	return 0;
}
