/* SPDX-License-Identifier: MIT */
/*
 * popup_opener.c - the web's popup handshake, with libcrosspost only: a
 * shop window opens a payment popup (window.open), starts the popup's
 * process (examples/popup.c) with the window's claim token, waits for the
 * popup to say it is ready, posts it the amount with the popup's own
 * origin as targetOrigin, and reads the answer through event.source.
 * Then it closes the popup, as the script that opened it may.
 *
 *     crosspostd --foreground &          # or: export CROSSPOST_SOCKET=...
 *     build/examples/popup_opener         # starts build/examples/popup itself
 *
 * What it shows: cp_window_open_window() and its claim token,
 * cp_window_spawn() (the token travels in $CROSSPOST_CLAIM), the opener
 * relation (the popup posts to window.opener), a targetOrigin, checking
 * event.origin and event.source, and cp_window_ref_close().
 *
 * Usage: popup_opener [POPUP_PROGRAM]   (default: "popup" next to this one)
 * Exit status: 0 when the popup answered, 1 on an error, 2 on bad usage.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include <crosspost.h>

#define SHOP_URL "https://shop.example/cart"
#define POPUP_URL "https://pay.example/checkout"
#define POPUP_ORIGIN "https://pay.example"
#define WAIT_MS 10000
#define AMOUNT_JSON "{\"amount\":1999,\"currency\":\"EUR\"}"

static void die(const char *what, int code)
{
	fprintf(stderr, "popup_opener: %s: %s: %s\n", what, cp_error_name(code), cp_last_error_message());
	exit(1);
}

/* What the shop's window has heard from the popup. */
struct shop {
	uint64_t popup;             /* the popup's window id */
	bool ready;                 /* it said it is ready */
	char *answer;               /* its answer, as JSON */
};

static void on_message(cp_window *w, const cp_event *ev, void *userdata)
{
	struct shop *shop = userdata;
	cp_window_ref *source = NULL;
	const cp_value *data = cp_event_data(ev);
	char *json;

	(void)w;
	/* As a page would: trust a message only for its origin and source. */
	if (strcmp(cp_event_origin(ev), POPUP_ORIGIN) != 0 || cp_event_source(ev, &source) < 0 || !source ||
	    cp_window_ref_id(source) != shop->popup || !data) {
		cp_window_ref_free(source);
		return;
	}
	cp_window_ref_free(source);
	json = cp_value_to_json(data);
	if (json && strcmp(json, "\"ready\"") == 0) {
		shop->ready = true;
		free(json);
		return;
	}
	free(shop->answer);
	shop->answer = json;
}

/* Dispatches until *flag or WAIT_MS. */
static void wait_for(cp_client *client, const bool *flag, char *const *text, const char *what)
{
	for (int waited = 0; !*flag && !(text && *text) && waited < WAIT_MS; waited += 100) {
		int r = cp_client_wait(client, 100);

		if (r < 0)
			die(what, r);
	}
	if (!*flag && !(text && *text)) {
		fprintf(stderr, "popup_opener: %s: nothing within %d ms\n", what, WAIT_MS);
		exit(1);
	}
}

int main(int argc, char **argv)
{
	cp_client *client = NULL;
	cp_window *shop_window = NULL;
	cp_window_ref *popup = NULL;
	struct shop shop = { 0 };
	char *token = NULL, *program = NULL, *slash;
	char *popup_argv[2];
	cp_value *amount = NULL;
	int pid = 0, status = 0, r;
	bool never = false;

	if (argc > 2 || (argc > 1 && strcmp(argv[1], "--help") == 0)) {
		fprintf(argc > 2 ? stderr : stdout, "Usage: popup_opener [POPUP_PROGRAM]\n");
		return argc > 2 ? 2 : 0;
	}
	if (argc > 1) {
		program = strdup(argv[1]);
	} else {
		/* "popup" next to this program. */
		slash = strrchr(argv[0], '/');
		if (slash && asprintf(&program, "%.*s/popup", (int)(slash - argv[0]), argv[0]) < 0)
			program = NULL;
		else if (!slash)
			program = strdup("popup");
	}
	if (!program)
		die("out of memory", CP_ERR_NO_MEMORY);

	r = cp_client_new(NULL, &client);
	if (r < 0)
		die("cannot connect to the broker", r);
	r = cp_window_open(client, SHOP_URL, NULL, &shop_window);
	if (r < 0)
		die("cannot open the shop's window", r);
	cp_window_set_callback(shop_window, on_message, &shop);

	/* window.open(POPUP_URL): the window exists now, its opener is the
	 * shop; a process must host its document: the token says which. */
	r = cp_window_open_window(shop_window, POPUP_URL, "_blank", 0, &popup, &token);
	if (r < 0)
		die("window.open", r);
	shop.popup = cp_window_ref_id(popup);
	popup_argv[0] = program;
	popup_argv[1] = NULL;
	r = cp_window_spawn(client, token, popup_argv, &pid);
	free(token);
	if (r < 0)
		die("cannot start the popup's process", r);
	printf("shop: opened window %llu at %s\n", (unsigned long long)shop.popup, POPUP_URL);

	/* The popup says when its document is there (the web's idiom). */
	wait_for(client, &shop.ready, NULL, "waiting for the popup");
	printf("shop: the popup is ready\n");

	/* Only a document at POPUP_ORIGIN may read the amount. */
	r = cp_value_from_json(AMOUNT_JSON, strlen(AMOUNT_JSON), NULL, &amount);
	if (r < 0)
		die("bad JSON", r);
	r = cp_post_message(shop_window, shop.popup, amount, POPUP_ORIGIN);
	cp_value_free(amount);
	if (r < 0)
		die("postMessage", r);
	wait_for(client, &never, &shop.answer, "waiting for the answer");
	printf("shop: the popup answered %s\n", shop.answer);

	/* The shop's script opened it, so it may close it. */
	r = cp_window_ref_close(shop_window, popup);
	if (r < 0)
		die("close()", r);
	printf("shop: %s the popup\n", r == 1 ? "closed" : "could not close");
	if (waitpid(pid, &status, 0) < 0 || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		fprintf(stderr, "popup_opener: the popup's process did not exit cleanly\n");
		return 1;
	}
	free(shop.answer);
	free(program);
	cp_window_ref_free(popup);
	cp_client_free(client);
	return 0;
}
