/* SPDX-License-Identifier: MIT */
/*
 * popup.c - the payment popup of examples/popup_opener.c: the process that
 * hosts a window another window opened.  It claims its window with the
 * token in $CROSSPOST_CLAIM (cp_window_spawn() put it there), tells its
 * opener it is ready, answers the first message from the opener's origin
 * through event.source with event.origin as targetOrigin, and exits when
 * its window is closed.
 *
 * Usage: popup   (started by popup_opener; $CROSSPOST_CLAIM and
 *                 $CROSSPOST_SOCKET come from it)
 * Exit status: 0 after answering once its window closed, 1 on an error.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <crosspost.h>

#define OPENER_ORIGIN "https://shop.example"
#define WAIT_MS 10000
#define ANSWER_JSON "{\"token\":\"t-42\",\"paid\":true}"

static void die(const char *what, int code)
{
	fprintf(stderr, "popup: %s: %s: %s\n", what, cp_error_name(code), cp_last_error_message());
	exit(1);
}

static void on_message(cp_window *w, const cp_event *ev, void *userdata)
{
	bool *answered = userdata;
	cp_window_ref *source = NULL;
	cp_value *answer = NULL;
	int r;

	/* Only the shop may ask. */
	if (*answered || strcmp(cp_event_origin(ev), OPENER_ORIGIN) != 0 || !cp_event_data(ev))
		return;
	if (cp_event_source(ev, &source) < 0 || !source)
		return;
	r = cp_value_from_json(ANSWER_JSON, strlen(ANSWER_JSON), NULL, &answer);
	if (r == 0)
		/* event.source.postMessage(answer, event.origin) */
		r = cp_post_message(w, cp_window_ref_id(source), answer, cp_event_origin(ev));
	cp_value_free(answer);
	cp_window_ref_free(source);
	if (r < 0)
		die("answering", r);
	*answered = true;
}

int main(void)
{
	cp_client *client = NULL;
	cp_window *w = NULL;
	cp_window_ref *opener = NULL;
	cp_value *ready = NULL;
	bool answered = false;
	int r;

	r = cp_client_new(NULL, &client);
	if (r < 0)
		die("cannot connect to the broker", r);
	/* NULL: the token in $CROSSPOST_CLAIM. */
	r = cp_window_claim(client, NULL, &w);
	if (r < 0)
		die("cannot claim the window", r);
	cp_window_set_callback(w, on_message, &answered);
	r = cp_window_opener(cp_window_proxy(w), &opener);
	if (r < 0 || !opener)
		die("window.opener", r < 0 ? r : CP_ERR_NOT_FOUND);
	/* window.opener.postMessage("ready", "https://shop.example") */
	r = cp_value_from_json("\"ready\"", strlen("\"ready\""), NULL, &ready);
	if (r == 0)
		r = cp_post_message(w, cp_window_ref_id(opener), ready, OPENER_ORIGIN);
	cp_value_free(ready);
	cp_window_ref_free(opener);
	if (r < 0)
		die("telling the opener", r);
	/* Until the shop closes this window (or a while passes). */
	for (int waited = 0; !cp_window_is_closed(w) && waited < WAIT_MS; waited += 100) {
		r = cp_client_wait(client, 100);
		if (r < 0)
			die("waiting", r);
	}
	if (!answered || !cp_window_is_closed(w)) {
		fprintf(stderr, "popup: %s\n", answered ? "the window was never closed" : "nobody asked");
		return 1;
	}
	cp_window_close(w);
	cp_client_free(client);
	return 0;
}
