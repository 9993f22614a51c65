/* SPDX-License-Identifier: MIT */
/*
 * request_client.c - asking request_server.c for a sum and waiting for the
 * answer, checking who answered.
 *
 * It opens a window at https://app.example (or at -u URL, to see what a
 * stranger gets), waits for the window named "calc", posts the request
 * {"id": 1, "op": "add", "args": [A, B]} to it with targetOrigin
 * https://api.example (so the request goes nowhere if "calc" is not the
 * server it expects), and waits up to -t milliseconds for the answer.  An
 * answer counts only if its event.origin is https://api.example and its
 * event.source is "calc": anyone who knows the window's id may post to it.
 *
 *     crosspostd --foreground &
 *     build/examples/request_server &
 *     build/examples/request_client 2 3                        # 2 + 3 = 5
 *     build/examples/request_client -u https://evil.example/ -t 500 2 3
 *                                  # the server refuses: no reply, exit 1
 *
 * Usage: request_client [-u URL] [-t TIMEOUT_MS] [A B]
 *        (defaults: https://app.example/, 5000 ms, 2 3)
 * The broker's socket is $CROSSPOST_SOCKET, else the library's default.
 * Exit status: 0 with "A + B = SUM" on stdout, 1 on an error or when no
 * answer came in time, 2 on bad usage.
 */
#define _POSIX_C_SOURCE 200809L    /* clock_gettime */

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <crosspost.h>

#define SERVER_NAME "calc"
#define SERVER_ORIGIN "https://api.example"
#define REQUEST_ID 1

struct pending {
	uint64_t server;     /* the window we asked */
	bool answered;
	double result;
};

static void die(const char *what, int code)
{
	fprintf(stderr, "request_client: %s: %s: %s\n", what, cp_error_name(code), cp_last_error_message());
	exit(1);
}

static void usage_error(const char *message)
{
	fprintf(stderr, "request_client: %s\nUsage: request_client [-u URL] [-t TIMEOUT_MS] [A B]\n", message);
	exit(2);
}

static double parse_number(const char *text)
{
	char *end;
	double d = strtod(text, &end);

	if (*text == '\0' || *end != '\0')
		usage_error("A and B must be numbers");
	return d;
}

static long long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void on_answer(cp_window *window, const cp_event *ev, void *userdata)
{
	struct pending *pending = userdata;
	const cp_value *data = cp_event_data(ev), *id, *result;

	(void)window;
	/* Check who is talking before reading what they say: the origin is
	 * the broker's word, the source the window that posted. */
	if (strcmp(cp_event_origin(ev), SERVER_ORIGIN) != 0 || cp_event_source_id(ev) != pending->server) {
		fprintf(stderr, "request_client: ignored a message from %s (window %llu)\n", cp_event_origin(ev),
			(unsigned long long)cp_event_source_id(ev));
		return;
	}
	if (!data || cp_value_get_type(data) != CP_VALUE_OBJECT)
		return;
	id = cp_value_object_get(data, "id");
	result = cp_value_object_get(data, "result");
	if (!id || cp_value_get_number(id) != REQUEST_ID || !result || cp_value_get_type(result) != CP_VALUE_NUMBER)
		return;
	pending->result = cp_value_get_number(result);
	pending->answered = true;
}

int main(int argc, char **argv)
{
	const char *url = "https://app.example/";
	long timeout_ms = 5000;
	double a = 2, b = 3;
	struct pending pending = { 0 };
	cp_client *client = NULL;
	cp_window *window = NULL;
	cp_value *request = NULL;
	long long deadline;
	char json[160];
	int i, r;

	for (i = 1; i < argc && argv[i][0] == '-' && argv[i][1] != '\0' &&
		    !(argv[i][1] >= '0' && argv[i][1] <= '9'); i++) {
		if (strcmp(argv[i], "--help") == 0) {
			printf("Usage: request_client [-u URL] [-t TIMEOUT_MS] [A B]\n");
			return 0;
		}
		if (i + 1 >= argc)
			usage_error("an option lacks its value");
		if (strcmp(argv[i], "-u") == 0) {
			url = argv[++i];
		} else if (strcmp(argv[i], "-t") == 0) {
			char *end;

			timeout_ms = strtol(argv[++i], &end, 10);
			if (*argv[i] == '\0' || *end != '\0' || timeout_ms <= 0 || timeout_ms > 3600000)
				usage_error("-t needs milliseconds, 1 to 3600000");
		} else {
			usage_error("unknown option");
		}
	}
	if (argc - i == 2) {
		a = parse_number(argv[i]);
		b = parse_number(argv[i + 1]);
	} else if (argc - i != 0) {
		usage_error("give both A and B, or neither");
	}

	r = cp_client_new(NULL, &client);
	if (r < 0)
		die("cannot connect to the broker", r);
	r = cp_window_open(client, url, NULL, &window);
	if (r < 0)
		die("cannot open a window", r);
	cp_window_set_callback(window, on_answer, &pending);

	deadline = now_ms() + timeout_ms;
	r = cp_client_wait_for_window(client, SERVER_NAME, (int)timeout_ms, &pending.server);
	if (r < 0)
		die("no window named \"" SERVER_NAME "\"", r);

	snprintf(json, sizeof(json), "{\"id\":%d,\"op\":\"add\",\"args\":[%.17g,%.17g]}", REQUEST_ID, a, b);
	r = cp_value_from_json(json, strlen(json), NULL, &request);
	if (r < 0)
		die("cannot build the request", r);
	r = cp_post_message(window, pending.server, request, SERVER_ORIGIN);
	cp_value_free(request);
	if (r < 0)
		die("cannot post the request", r);

	/* Wait for the answer.  cp_client_wait() returns > 0 when events
	 * came (on_answer ran; it may have been something else), 0 when the
	 * time ran out, < 0 on an error. */
	while (!pending.answered) {
		long long left = deadline - now_ms();

		r = left > 0 ? cp_client_wait(client, (int)left) : 0;
		if (r < 0)
			die("waiting for the answer", r);
		if (r == 0) {
			fprintf(stderr, "request_client: no reply from %s within %ld ms (is %s on its allow-list?)\n",
				SERVER_NAME, timeout_ms, cp_window_origin(window));
			cp_client_free(client);
			return 1;
		}
	}
	printf("%g + %g = %g\n", a, b, pending.result);
	cp_client_free(client);
	return 0;
}
