/* SPDX-License-Identifier: MIT */
/*
 * sender.c - the sending half of the smallest crosspost program pair, and
 * the complete version of the C snippet in the README ("Using it").
 *
 * It opens a window at https://a.example named "outbox", waits for a
 * window named "inbox" to appear (receiver.c opens it; start the two in
 * either order), and posts COUNT messages (default 3) to it with
 * targetOrigin https://b.example: they are delivered only if "inbox" is
 * still at that origin when they arrive, as window.postMessage(data,
 * "https://b.example") is on the web.  After the first one it also posts
 * a message meant for https://c.example only: the broker drops it without
 * telling anyone, so the receiver never prints it.
 *
 *     crosspostd --foreground &          # or: export CROSSPOST_SOCKET=...
 *     build/examples/sender 3 &
 *     build/examples/receiver 3
 *
 * What it shows: cp_client_new(), cp_window_open(),
 * cp_client_wait_for_window() (no side channel, no sleep), values from
 * JSON, cp_post_message() with a targetOrigin, and cp_client_sync() to
 * learn about posts the broker refused.
 *
 * Usage: sender [COUNT]
 * The broker's socket is $CROSSPOST_SOCKET, else the library's default.
 * Exit status: 0 when every message was posted, 1 on an error (including
 * no "inbox" within 30 s), 2 on bad usage.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <crosspost.h>

#define OUTBOX_URL "https://a.example/"
#define TARGET_NAME "inbox"
#define TARGET_ORIGIN "https://b.example"
#define WAIT_FOR_TARGET_MS 30000

static void die(const char *what, int code)
{
	fprintf(stderr, "sender: %s: %s: %s\n", what, cp_error_name(code), cp_last_error_message());
	exit(1);
}

/* Posts the value of json to target.  data is serialized by the call, so
 * the value stays ours and is freed here. */
static void post_json(cp_window *from, uint64_t target, const char *json, const char *target_origin)
{
	cp_value *data = NULL;
	int r = cp_value_from_json(json, strlen(json), NULL, &data);

	if (r < 0)
		die("bad JSON", r);
	/* SyntaxError here, before anything is sent, when targetOrigin is
	 * neither "*", "/" nor a URL.  A target whose origin does not match
	 * is not an error: the message is dropped, as in a browser. */
	r = cp_post_message(from, target, data, target_origin);
	cp_value_free(data);
	if (r < 0)
		die("cannot post", r);
}

int main(int argc, char **argv)
{
	cp_client *client = NULL;
	cp_window *window = NULL;
	uint64_t target = 0;
	long count = 3;
	int r;

	if (argc > 2 || (argc > 1 && strcmp(argv[1], "--help") == 0)) {
		fprintf(argc > 2 ? stderr : stdout, "Usage: sender [COUNT]\n");
		return argc > 2 ? 2 : 0;
	}
	if (argc > 1) {
		char *end;

		count = strtol(argv[1], &end, 10);
		if (*argv[1] == '\0' || *end != '\0' || count <= 0) {
			fprintf(stderr, "sender: COUNT must be a positive number, not '%s'\n", argv[1]);
			return 2;
		}
	}

	/* NULL: the broker at $CROSSPOST_SOCKET, else the default path. */
	r = cp_client_new(NULL, &client);
	if (r < 0)
		die("cannot connect to the broker", r);
	/* Our window: its URL gives the origin the receiver will see in
	 * event.origin.  The handle belongs to the client. */
	r = cp_window_open(client, OUTBOX_URL, "outbox", &window);
	if (r < 0)
		die("cannot open a window at " OUTBOX_URL, r);

	/* The receiver may not be running yet: wait for its window by name
	 * instead of failing with NotFoundError (cp_client_lookup()). */
	fprintf(stderr, "sender: waiting for a window named \"%s\"\n", TARGET_NAME);
	r = cp_client_wait_for_window(client, TARGET_NAME, WAIT_FOR_TARGET_MS, &target);
	if (r < 0)
		die("no window named \"" TARGET_NAME "\"", r);

	for (long i = 1; i <= count; i++) {
		char json[96];

		snprintf(json, sizeof(json), "{\"seq\":%ld,\"text\":\"hello from a.example\"}", i);
		post_json(window, target, json, TARGET_ORIGIN);
		if (i == 1)
			/* "inbox" is at https://b.example, so the broker drops
			 * this one; neither side is told. */
			post_json(window, target, "{\"text\":\"for c.example only\"}", "https://c.example");
	}

	/* Posts are not answered unless they fail.  Sync waits until the
	 * broker has handled them, and returns the first failure, e.g.
	 * NotFoundError for a target id that never existed. */
	r = cp_client_sync(client, 5000);
	if (r < 0)
		die("the broker refused a post", r);
	fprintf(stderr, "sender: posted %ld message(s) to window %llu \"%s\"\n", count,
		(unsigned long long)target, TARGET_NAME);

	/* Closes our window; messages already posted are delivered. */
	cp_client_free(client);
	return 0;
}
