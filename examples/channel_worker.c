/* SPDX-License-Identifier: MIT */
/*
 * channel_worker.c - receiving a MessagePort in a message and answering on
 * it.  On the web:
 *
 *     window.onmessage = (event) => {
 *         if (event.origin !== "https://host.example") return;
 *         const port = event.ports[0];
 *         port.onmessage = (e) => port.postMessage({square: e.data.square,
 *                                                   result: e.data.square ** 2});
 *     };
 *
 * It opens a window named "worker" at https://worker.example and waits for
 * a message from https://host.example that carries a port (channel_host.c
 * sends one).  It takes the port from event.ports, sets its callback (which
 * starts it: messages that arrived before are dispatched then, in order),
 * answers every {"square": N} with {"square": N, "result": N*N}, and on
 * {"bye": true} says bye back, closes the port and exits.
 *
 *     crosspostd --foreground &
 *     build/examples/channel_worker &
 *     build/examples/channel_host
 *
 * Usage: channel_worker
 * The broker's socket is $CROSSPOST_SOCKET, else the library's default.
 * Exit status: 0 after "bye", 1 on an error or when nothing came within
 * 30 s.
 */
#define _POSIX_C_SOURCE 200809L    /* clock_gettime */

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <crosspost.h>

#define WORKER_URL "https://worker.example/"
#define WORKER_NAME "worker"
#define HOST_ORIGIN "https://host.example"
#define TIMEOUT_MS 30000

struct worker {
	cp_port *port;       /* the line, once a host has sent it */
	bool done;
	int error;           /* the first error met in a callback */
};

static void die(const char *what, int code)
{
	fprintf(stderr, "channel_worker: %s: %s: %s\n", what, cp_error_name(code), cp_last_error_message());
	exit(1);
}

static long long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void fail(struct worker *worker, const char *what, int code)
{
	fprintf(stderr, "channel_worker: %s: %s: %s\n", what, cp_error_name(code), cp_last_error_message());
	if (worker->error == 0)
		worker->error = code;
}

/* port.onmessage: one request on the line. */
static void on_port_message(cp_port *port, const cp_event *ev, void *userdata)
{
	struct worker *worker = userdata;
	const cp_value *data = cp_event_data(ev), *square;
	cp_value *answer = NULL;
	char json[96];
	int r;

	if (!data || cp_value_get_type(data) != CP_VALUE_OBJECT)
		return;
	if (cp_value_object_get(data, "bye")) {
		printf("worker: bye\n");
		snprintf(json, sizeof(json), "{\"bye\":true}");
		worker->done = true;
	} else if ((square = cp_value_object_get(data, "square")) && cp_value_get_type(square) == CP_VALUE_NUMBER) {
		double n = cp_value_get_number(square);

		printf("worker: squaring %g\n", n);
		snprintf(json, sizeof(json), "{\"square\":%.17g,\"result\":%.17g}", n, n * n);
	} else {
		return;
	}
	fflush(stdout);
	/* No targetOrigin on a port: it goes to whoever holds the other end. */
	r = cp_value_from_json(json, strlen(json), NULL, &answer);
	if (r == 0)
		r = cp_port_post_message(port, answer, NULL, 0);
	cp_value_free(answer);
	if (r < 0)
		fail(worker, "cannot answer on the port", r);
	if (worker->done) {
		/* port.close(): later messages from the host are not
		 * delivered.  The answer above is already on its way. */
		r = cp_port_close(port);
		if (r < 0)
			fail(worker, "cannot close the port", r);
	}
}

/* window.onmessage: a host offering a line. */
static void on_window_message(cp_window *window, const cp_event *ev, void *userdata)
{
	struct worker *worker = userdata;
	cp_port *const *ports;
	size_t n_ports;

	(void)window;
	/* Only a port from the expected origin is accepted. */
	if (strcmp(cp_event_origin(ev), HOST_ORIGIN) != 0) {
		printf("worker: ignored a message from %s\n", cp_event_origin(ev));
		fflush(stdout);
		return;
	}
	/* event.ports: transferred ports, now ours (the handles outlive the
	 * event). */
	n_ports = cp_event_ports(ev, &ports);
	if (n_ports != 1 || worker->port) {
		printf("worker: ignored a message with %zu port(s)\n", n_ports);
		fflush(stdout);
		return;
	}
	worker->port = ports[0];
	printf("worker: got port %llu from %s with %s\n", (unsigned long long)cp_port_id(worker->port),
	       cp_event_origin(ev),
	       cp_event_data(ev) && cp_value_get_type(cp_event_data(ev)) == CP_VALUE_STRING ?
	       cp_value_get_string(cp_event_data(ev), NULL) : "(no text)");
	fflush(stdout);
	/* port.onmessage = ...: starts the port; what the host posted on it
	 * meanwhile is dispatched next, in order. */
	cp_port_set_callback(worker->port, on_port_message, worker);
}

int main(int argc, char **argv)
{
	struct worker worker = { 0 };
	cp_client *client = NULL;
	cp_window *window = NULL;
	long long deadline;
	int r;

	(void)argv;
	if (argc > 1) {
		fprintf(stderr, "Usage: channel_worker\n");
		return 2;
	}
	r = cp_client_new(NULL, &client);
	if (r < 0)
		die("cannot connect to the broker", r);
	r = cp_window_open(client, WORKER_URL, WORKER_NAME, &window);
	if (r < 0)
		die("cannot open the window \"" WORKER_NAME "\"", r);
	cp_window_set_callback(window, on_window_message, &worker);
	fprintf(stderr, "channel_worker: ready: window %llu \"%s\" at %s\n",
		(unsigned long long)cp_window_id(window), WORKER_NAME, cp_window_origin(window));

	deadline = now_ms() + TIMEOUT_MS;
	while (!worker.done && worker.error == 0) {
		long long left = deadline - now_ms();

		r = left > 0 ? cp_client_wait(client, (int)left) : 0;
		if (r < 0)
			die("waiting for messages", r);
		if (r == 0) {
			fprintf(stderr, "channel_worker: no bye within %d ms\n", TIMEOUT_MS);
			cp_client_free(client);
			return 1;
		}
	}
	/* Disconnecting flushes what is still queued (the bye). */
	cp_client_free(client);
	return worker.error ? 1 : 0;
}
