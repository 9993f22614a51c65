/* SPDX-License-Identifier: MIT */
/*
 * receiver.c - the receiving half of the smallest crosspost program pair.
 *
 * It opens a window named "inbox" whose document is at https://b.example,
 * prints every message the window receives - its data as tagged JSON, the
 * origin and the source the broker stamped on it - and exits once it has
 * received COUNT messages (default 3).  Run it with sender.c, in either
 * order: the sender waits for "inbox" to appear.
 *
 *     crosspostd --foreground &          # or: export CROSSPOST_SOCKET=...
 *     build/examples/receiver 3 &
 *     build/examples/sender 3
 *
 * What it shows: cp_window_open() with a name, cp_window_set_callback(),
 * reading a cp_event, and driving the client with cp_client_wait() in a
 * loop with a deadline (it returns 0 when the time ran out, a count when
 * events came, a negative CP_ERR_* only on a real error).
 *
 * Usage: receiver [COUNT [TIMEOUT_SECONDS]]   (defaults: 3 messages, 60 s)
 * The broker's socket is $CROSSPOST_SOCKET, else the library's default.
 * Exit status: 0 after COUNT messages, 1 on an error or when the time ran
 * out, 2 on bad usage.
 */
#define _POSIX_C_SOURCE 200809L    /* clock_gettime */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <crosspost.h>

#define INBOX_NAME "inbox"
#define INBOX_URL "https://b.example/inbox"

struct inbox {
	long received;
	long wanted;
};

/* Prints the failed call's error and exits: the DOMException-style name
 * of the code and the library's message for the last failure. */
static void die(const char *what, int code)
{
	fprintf(stderr, "receiver: %s: %s: %s\n", what, cp_error_name(code), cp_last_error_message());
	exit(1);
}

static long parse_positive(const char *text, const char *what)
{
	char *end;
	long n = strtol(text, &end, 10);

	if (*text == '\0' || *end != '\0' || n <= 0) {
		fprintf(stderr, "receiver: %s must be a positive number, not '%s'\n"
			"Usage: receiver [COUNT [TIMEOUT_SECONDS]]\n", what, text);
		exit(2);
	}
	return n;
}

static long long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Runs once per event delivered to the window.  ev and everything read
 * from it are valid only during the call. */
static void on_message(cp_window *window, const cp_event *ev, void *userdata)
{
	struct inbox *inbox = userdata;
	char source[128];
	char *json;

	(void)window;
	/* event.source: the sending window, as an id to post back to (0 when
	 * the sender is privileged: source is null), and its name if any. */
	if (cp_event_source_id(ev) == 0)
		snprintf(source, sizeof(source), "null");
	else if (cp_event_source_name(ev))
		snprintf(source, sizeof(source), "window %llu \"%s\"",
			 (unsigned long long)cp_event_source_id(ev), cp_event_source_name(ev));
	else
		snprintf(source, sizeof(source), "window %llu", (unsigned long long)cp_event_source_id(ev));
	inbox->received++;
	/* A "messageerror" event has the origin and source but no data: the
	 * payload could not be deserialized. */
	if (cp_event_get_type(ev) == CP_EVENT_MESSAGEERROR) {
		printf("messageerror origin=%s source=%s\n", cp_event_origin(ev), source);
		fflush(stdout);
		return;
	}
	/* event.data as tagged JSON (malloc'd: ours to free). */
	json = cp_value_to_json(cp_event_data(ev));
	/* event.origin: the sender's origin, stamped by the broker (a sender
	 * cannot choose it). */
	printf("data=%s origin=%s source=%s\n", json ? json : "(out of memory)", cp_event_origin(ev),
	       source);
	fflush(stdout);
	free(json);
}

int main(int argc, char **argv)
{
	struct inbox inbox = { .received = 0, .wanted = 3 };
	long timeout_s = 60;
	long long deadline;
	cp_client *client = NULL;
	cp_window *window = NULL;
	int r;

	if (argc > 3 || (argc > 1 && strcmp(argv[1], "--help") == 0)) {
		fprintf(argc > 3 ? stderr : stdout, "Usage: receiver [COUNT [TIMEOUT_SECONDS]]\n");
		return argc > 3 ? 2 : 0;
	}
	if (argc > 1)
		inbox.wanted = parse_positive(argv[1], "COUNT");
	if (argc > 2)
		timeout_s = parse_positive(argv[2], "TIMEOUT_SECONDS");

	/* NULL: the broker at $CROSSPOST_SOCKET, else the default path. */
	r = cp_client_new(NULL, &client);
	if (r < 0)
		die("cannot connect to the broker", r);
	/* Returns once the broker has registered the window: from now on
	 * nothing posted to "inbox" is lost.  The handle belongs to the
	 * client, which frees it. */
	r = cp_window_open(client, INBOX_URL, INBOX_NAME, &window);
	if (r < 0)
		die("cannot open the window \"" INBOX_NAME "\"", r);
	cp_window_set_callback(window, on_message, &inbox);
	/* A readiness line, for scripts that start a sender after us. */
	fprintf(stderr, "receiver: ready: window %llu \"%s\" at %s, waiting for %ld message(s)\n",
		(unsigned long long)cp_window_id(window), cp_window_name(window), cp_window_origin(window),
		inbox.wanted);

	deadline = now_ms() + timeout_s * 1000;
	while (inbox.received < inbox.wanted) {
		long long left = deadline - now_ms();

		/* > 0: events came (on_message ran); 0: the time ran out with
		 * nothing received; < 0: an error, e.g. the broker went away. */
		r = left > 0 ? cp_client_wait(client, (int)left) : 0;
		if (r < 0)
			die("waiting for messages", r);
		if (r == 0) {
			fprintf(stderr, "receiver: timed out after %ld s with %ld of %ld message(s)\n", timeout_s,
				inbox.received, inbox.wanted);
			cp_client_free(client);
			return 1;
		}
	}
	fprintf(stderr, "receiver: got %ld message(s), done\n", inbox.received);
	/* Closes the window at the broker and frees everything. */
	cp_client_free(client);
	return 0;
}
