/* SPDX-License-Identifier: MIT */
/*
 * request_server.c - answering requests with event.source and event.origin,
 * as the HTML Standard's canonical postMessage example does:
 *
 *     window.addEventListener("message", (event) => {
 *         if (event.origin !== "https://app.example") return;
 *         event.source.postMessage(answer(event.data), event.origin);
 *     });
 *
 * It opens a window named "calc" at https://api.example.  For every
 * message it first checks the sender's origin against an allow-list (only
 * https://app.example), and ignores anything else; then it reads the
 * request {"id": N, "op": "add" or "mul", "args": [A, B]} and posts the
 * answer {"id": N, "result": R} back to cp_event_source_id(ev) with
 * targetOrigin cp_event_origin(ev), so that the answer reaches the window
 * that asked only while it is still at the origin that asked.  Run it with
 * request_client.c:
 *
 *     crosspostd --foreground &
 *     build/examples/request_server &
 *     build/examples/request_client 2 3                        # 2 + 3 = 5
 *     build/examples/request_client -u https://evil.example/ -t 500 2 3
 *                                  # refused: no reply within 500 ms
 *
 * Usage: request_server [COUNT]   (answers COUNT requests and exits;
 *                                  without COUNT it serves until killed)
 * The broker's socket is $CROSSPOST_SOCKET, else the library's default.
 * Exit status: 0 after COUNT answers, 1 on an error, 2 on bad usage.
 */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <crosspost.h>

#define SERVER_NAME "calc"
#define SERVER_URL "https://api.example/"

/* The origins whose requests are answered.  Compare serialized origins
 * exactly: "https://app.example" is not "https://app.example:8443" nor
 * "http://app.example". */
static const char *const allowed_origins[] = { "https://app.example", NULL };

struct server {
	long answered;
	long wanted;          /* 0: serve forever */
	int error;            /* the first error met in a callback */
};

static void die(const char *what, int code)
{
	fprintf(stderr, "request_server: %s: %s: %s\n", what, cp_error_name(code), cp_last_error_message());
	exit(1);
}

static bool origin_allowed(const char *origin)
{
	for (size_t i = 0; allowed_origins[i]; i++)
		if (strcmp(origin, allowed_origins[i]) == 0)
			return true;
	return false;
}

/* The number in object[key], or false when it is missing or not a number. */
static bool get_number(const cp_value *object, const char *key, double *ret)
{
	const cp_value *v = cp_value_object_get(object, key);

	if (!v || cp_value_get_type(v) != CP_VALUE_NUMBER)
		return false;
	*ret = cp_value_get_number(v);
	return true;
}

/* Computes the answer to one request; false for a malformed request. */
static bool compute(const cp_value *request, double *ret_id, double *ret_result, char *what, size_t size)
{
	const cp_value *op, *args, *a, *b;
	const char *name;

	if (!request || cp_value_get_type(request) != CP_VALUE_OBJECT || !get_number(request, "id", ret_id))
		return false;
	op = cp_value_object_get(request, "op");
	args = cp_value_object_get(request, "args");
	if (!op || cp_value_get_type(op) != CP_VALUE_STRING || !args ||
	    cp_value_get_type(args) != CP_VALUE_ARRAY || cp_value_array_length(args) != 2)
		return false;
	a = cp_value_array_get(args, 0);
	b = cp_value_array_get(args, 1);
	if (!a || !b || cp_value_get_type(a) != CP_VALUE_NUMBER || cp_value_get_type(b) != CP_VALUE_NUMBER)
		return false;
	name = cp_value_get_string(op, NULL);
	if (strcmp(name, "add") == 0)
		*ret_result = cp_value_get_number(a) + cp_value_get_number(b);
	else if (strcmp(name, "mul") == 0)
		*ret_result = cp_value_get_number(a) * cp_value_get_number(b);
	else
		return false;
	snprintf(what, size, "%s(%g, %g)", name, cp_value_get_number(a), cp_value_get_number(b));
	return true;
}

/* The answer {"id": id, "result": result}, built node by node.  An
 * inserted node belongs to the object from then on; one whose insertion
 * failed is still ours to free. */
static int make_answer(double id, double result, cp_value **ret)
{
	cp_value *answer = NULL, *id_node = NULL, *result_node = NULL;
	int r = cp_value_new_object(&answer);

	if (r < 0)
		return r;
	if ((r = cp_value_new_number(id, &id_node)) < 0 || (r = cp_value_object_set(answer, "id", id_node)) < 0)
		goto fail;
	id_node = NULL;    /* the object's now */
	if ((r = cp_value_new_number(result, &result_node)) < 0 ||
	    (r = cp_value_object_set(answer, "result", result_node)) < 0)
		goto fail;
	*ret = answer;
	return 0;
fail:
	cp_value_free(id_node);
	cp_value_free(result_node);
	cp_value_free(answer);
	return r;
}

static void on_request(cp_window *window, const cp_event *ev, void *userdata)
{
	struct server *server = userdata;
	const char *origin = cp_event_origin(ev);
	uint64_t source = cp_event_source_id(ev);
	cp_value *answer = NULL;
	double id, result;
	char what[128];
	int r;

	/* 1. Who is asking?  event.origin is stamped by the broker from the
	 *    sender's window; anything not on the allow-list is ignored
	 *    (not answered, not even with an error: that would tell a
	 *    stranger that something is listening). */
	if (!origin_allowed(origin)) {
		printf("refused a request from %s (not on the allow-list)\n", origin);
		fflush(stdout);
		return;
	}
	/* 2. A privileged sender has a null source: nothing to answer to. */
	if (source == 0) {
		printf("ignored a request from %s with no source window\n", origin);
		fflush(stdout);
		return;
	}
	/* 3. The request itself; a messageerror event has no data. */
	if (!compute(cp_event_data(ev), &id, &result, what, sizeof(what))) {
		printf("ignored a malformed request from %s\n", origin);
		fflush(stdout);
		return;
	}
	/* 4. event.source.postMessage(answer, event.origin): back to the
	 *    window that asked, and only if it is still at that origin when
	 *    the answer arrives (it may navigate meanwhile). */
	r = make_answer(id, result, &answer);
	if (r == 0)
		r = cp_post_message(window, source, answer, origin);
	cp_value_free(answer);
	if (r < 0) {
		fprintf(stderr, "request_server: cannot answer %s: %s: %s\n", origin, cp_error_name(r),
			cp_last_error_message());
		if (server->error == 0)
			server->error = r;
		return;
	}
	server->answered++;
	printf("answered request %g from %s: %s = %g\n", id, origin, what, result);
	fflush(stdout);
}

int main(int argc, char **argv)
{
	struct server server = { 0 };
	cp_client *client = NULL;
	cp_window *window = NULL;
	int r;

	if (argc > 2 || (argc > 1 && strcmp(argv[1], "--help") == 0)) {
		fprintf(argc > 2 ? stderr : stdout, "Usage: request_server [COUNT]\n");
		return argc > 2 ? 2 : 0;
	}
	if (argc > 1) {
		char *end;

		server.wanted = strtol(argv[1], &end, 10);
		if (*argv[1] == '\0' || *end != '\0' || server.wanted <= 0) {
			fprintf(stderr, "request_server: COUNT must be a positive number, not '%s'\n", argv[1]);
			return 2;
		}
	}

	r = cp_client_new(NULL, &client);
	if (r < 0)
		die("cannot connect to the broker", r);
	r = cp_window_open(client, SERVER_URL, SERVER_NAME, &window);
	if (r < 0)
		die("cannot open the window \"" SERVER_NAME "\"", r);
	cp_window_set_callback(window, on_request, &server);
	fprintf(stderr, "request_server: ready: window %llu \"%s\" at %s\n",
		(unsigned long long)cp_window_id(window), SERVER_NAME, cp_window_origin(window));

	while (server.error == 0 && (server.wanted == 0 || server.answered < server.wanted)) {
		/* No time limit: returns when requests came (> 0) or on an
		 * error (< 0); never 0. */
		r = cp_client_wait(client, -1);
		if (r < 0)
			die("waiting for requests", r);
	}
	cp_client_free(client);
	return server.error ? 1 : 0;
}
