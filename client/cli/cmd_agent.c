/* SPDX-License-Identifier: MIT */
/* cmd_agent.c - `crosspost agent`: one window of a scenario, driven by `crosspost run` over a socketpair. */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "client.h"
#include "commands.h"
#include "crosspost.h"
#include "scenario_corrupt.h"
#include "scenario_link.h"
#include "value_codec.h"

/* How long one post waits for the broker to confirm it (cp_client_sync). */
#define AGENT_SYNC_TIMEOUT_MS 10000

struct agent {
	const char *alias;          /* for messages only */
	struct scenario_link link;  /* to the runner */
	bool link_broken;           /* the runner went away: exit */
	cp_client *client;          /* NULL when connecting failed */
	int connect_error;
	char connect_message[256];
	cp_window *window;          /* NULL before open and after close */
	bool closed;                /* closed by a `close` command */
	bool lost;                  /* the broker connection ended */
};

static void agent_send(struct agent *a, json_t *msg)
{
	if (!msg) {
		a->link_broken = true;
		return;
	}
	if (!a->link_broken && scenario_link_send(&a->link, msg) < 0)
		a->link_broken = true;
	json_decref(msg);
}

static void send_ok(struct agent *a)
{
	agent_send(a, json_pack("{s:s, s:b}", "kind", "result", "ok", 1));
}

/* Answers a command with a libcrosspost failure (code is a CP_ERR_*). */
static void send_error(struct agent *a, int code, const char *message)
{
	agent_send(a, json_pack("{s:s, s:b, s:s, s:s}", "kind", "result", "ok", 0,
				"error", cp_error_name(code), "message", message));
}

static void on_event(cp_window *window, const cp_event *ev, void *userdata)
{
	struct agent *a = userdata;
	const cp_value *data = cp_event_data(ev);
	char *data_json = data ? cp_value_to_json(data) : NULL;
	uint64_t source_id = cp_event_source_id(ev);
	const char *source_name = cp_event_source_name(ev);
	json_t *source = NULL;

	(void)window;
	if (data && !data_json) {
		a->link_broken = true;   /* out of memory: nothing sensible to report */
		return;
	}
	if (source_id)
		source = json_pack("{s:I, s:s?}", "id", (json_int_t)source_id, "name", source_name);
	agent_send(a, json_pack("{s:s, s:s, s:s?, s:s, s:o?}", "kind", "event",
				"type", cp_event_type_name(ev), "data", data_json,
				"origin", cp_event_origin(ev), "source", source));
	free(data_json);
}

/* A command's failure before reaching libcrosspost: the window's state. */
static bool refuse_unusable(struct agent *a)
{
	if (a->client == NULL) {
		send_error(a, a->connect_error, a->connect_message);
		return true;
	}
	if (a->lost) {
		send_error(a, CP_ERR_NETWORK, "the connection to the broker was lost");
		return true;
	}
	if (a->closed) {
		send_error(a, CP_ERR_INVALID_STATE, "the window is closed");
		return true;
	}
	if (!a->window) {
		send_error(a, CP_ERR_INVALID_STATE, "the window is not open");
		return true;
	}
	return false;
}

static void do_open(struct agent *a, json_t *cmd)
{
	const char *url = json_string_value(json_object_get(cmd, "url"));
	const char *name = json_string_value(json_object_get(cmd, "name"));
	unsigned flags = json_is_true(json_object_get(cmd, "privileged")) ? CP_WINDOW_PRIVILEGED : 0;
	int r;

	if (a->client == NULL) {
		send_error(a, a->connect_error, a->connect_message);
		return;
	}
	if (a->window || a->closed || !url) {
		send_error(a, CP_ERR_INVALID_STATE, "open: the window was already opened, or no url");
		return;
	}
	r = cp_window_open_with_flags(a->client, url, name, flags, &a->window);
	if (r < 0) {
		send_error(a, r, cp_last_error_message());
		return;
	}
	cp_window_set_callback(a->window, on_event, a);
	agent_send(a, json_pack("{s:s, s:b, s:I, s:s}", "kind", "result", "ok", 1,
				"id", (json_int_t)cp_window_id(a->window),
				"origin", cp_window_origin(a->window)));
}

/* post-corrupt: data's valid encoding, corrupted on purpose, posted as it
 * is (the receiver's decoder must turn it into a messageerror event).
 * Returns 0 or a CP_ERR_* code; *ret_message says why when the failure is
 * ours rather than libcrosspost's. */
static int post_corrupt(struct agent *a, uint64_t target, const cp_value *data, const char *kind_name,
			const char *target_origin, const char **ret_message)
{
	enum scenario_corruption kind;
	uint8_t *valid = NULL, *bytes = NULL;
	size_t valid_len = 0, len = 0;
	int r;

	if (scenario_corruption_parse(kind_name, &kind) < 0) {
		*ret_message = "post: unknown corruption";
		return CP_ERR_TYPE;
	}
	r = value_encode(data, &valid, &valid_len);
	if (r < 0)
		return r;
	r = scenario_corrupt(valid, valid_len, kind, &bytes, &len);
	free(valid);
	if (r < 0) {
		*ret_message = "post: cannot build the corrupt payload";
		return r == -ENOMEM ? CP_ERR_NO_MEMORY : CP_ERR_TYPE;
	}
	return post_encoded(a->window, target, bytes, len, target_origin);
}

static void do_post(struct agent *a, json_t *cmd)
{
	const char *data_json = json_string_value(json_object_get(cmd, "data"));
	const char *target_origin = json_string_value(json_object_get(cmd, "targetOrigin"));
	const char *target_name = json_string_value(json_object_get(cmd, "targetName"));
	const char *corrupt = json_string_value(json_object_get(cmd, "corrupt"));
	const char *message = NULL;
	json_t *target_id = json_object_get(cmd, "target");
	uint64_t target = 0;
	cp_value *data = NULL;
	int r;

	if (refuse_unusable(a))
		return;
	if (!data_json || !target_origin || (!target_name && !json_is_integer(target_id))) {
		send_error(a, CP_ERR_TYPE, "post: malformed command");
		return;
	}
	if (target_name) {
		r = cp_client_lookup(a->client, target_name, &target);
		if (r < 0)
			goto fail;
	} else {
		target = (uint64_t)json_integer_value(target_id);
	}
	r = cp_value_from_json(data_json, strlen(data_json), NULL, &data);
	if (r < 0)
		goto fail;
	if (corrupt)
		r = post_corrupt(a, target, data, corrupt, target_origin, &message);
	else
		r = cp_post_message(a->window, target, data, target_origin);
	if (r < 0)
		goto fail;
	/* Errors the broker finds (a target that never existed) come back
	 * asynchronously; scenarios want them at the post statement. */
	r = cp_client_sync(a->client, AGENT_SYNC_TIMEOUT_MS);
	if (r < 0)
		goto fail;
	cp_value_free(data);
	send_ok(a);
	return;
fail:
	cp_value_free(data);
	send_error(a, r, message ? message : cp_last_error_message());
}

static void do_navigate(struct agent *a, json_t *cmd)
{
	const char *url = json_string_value(json_object_get(cmd, "url"));
	int r;

	if (refuse_unusable(a))
		return;
	if (!url) {
		send_error(a, CP_ERR_TYPE, "navigate: no url");
		return;
	}
	r = cp_window_navigate(a->window, url);
	if (r < 0) {
		send_error(a, r, cp_last_error_message());
		return;
	}
	send_ok(a);
}

static void do_close(struct agent *a)
{
	int r;

	/* Closing a closed window does nothing, as window.close() does. */
	if (a->closed) {
		send_ok(a);
		return;
	}
	if (refuse_unusable(a))
		return;
	r = cp_window_close(a->window);
	a->window = NULL;
	a->closed = true;
	if (r < 0) {
		send_error(a, r, cp_last_error_message());
		return;
	}
	send_ok(a);
}

static void handle_command(struct agent *a, json_t *cmd)
{
	const char *name = json_string_value(json_object_get(cmd, "cmd"));

	if (!name)
		send_error(a, CP_ERR_TYPE, "a command needs \"cmd\"");
	else if (strcmp(name, "open") == 0)
		do_open(a, cmd);
	else if (strcmp(name, "post") == 0)
		do_post(a, cmd);
	else if (strcmp(name, "navigate") == 0)
		do_navigate(a, cmd);
	else if (strcmp(name, "close") == 0)
		do_close(a);
	else
		send_error(a, CP_ERR_TYPE, "unknown command");
}

/* Delivers pending events; on a lost connection tells the runner once. */
static void dispatch_broker(struct agent *a)
{
	int r;

	if (!a->client || a->lost)
		return;
	r = cp_client_dispatch(a->client);
	if (r >= 0)
		return;
	a->lost = true;
	agent_send(a, json_pack("{s:s, s:s, s:s}", "kind", "lost", "error", cp_error_name(r),
				"message", cp_last_error_message()));
}

/* Reads the runner's commands; false when the runner closed the link. */
static bool read_commands(struct agent *a)
{
	json_t *cmd;
	int r = scenario_link_fill(&a->link);

	if (r == 0 || (r < 0 && r != -EAGAIN))
		return false;
	while ((r = scenario_link_next(&a->link, &cmd)) == 1) {
		handle_command(a, cmd);
		json_decref(cmd);
	}
	return r == 0;
}

static void agent_loop(struct agent *a)
{
	while (!a->link_broken) {
		struct pollfd fds[2] = { { .fd = a->link.fd, .events = POLLIN }, { .fd = -1 } };
		bool broker = a->client && !a->lost;

		if (broker) {
			/* Events buffered during a blocking call (a post's sync) are
			 * not signalled by the fd: deliver them first. */
			if (cp_client_has_pending(a->client))
				dispatch_broker(a);
			fds[1].fd = cp_client_fd(a->client);
			fds[1].events = POLLIN;
			if (!a->lost && cp_client_has_pending(a->client))
				fds[1].events |= POLLOUT;
			if (a->lost)
				fds[1].fd = -1;
		}
		if (poll(fds, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			return;
		}
		if (fds[1].revents)
			dispatch_broker(a);
		if (fds[0].revents && !read_commands(a))
			return;
	}
}

static void usage(FILE *out)
{
	fprintf(out, "Usage: crosspost agent --socket PATH --fd N [--alias ALIAS]\n"
		     "Internal: one window process of `crosspost run`, driven over the socket\n"
		     "inherited as file descriptor N.  Not meant to be run by hand.\n");
}

int cmd_agent(int argc, char **argv)
{
	struct agent a = { .alias = "?", .link = { .fd = -1 } };
	const char *socket_path = NULL;
	long fd = -1;

	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--help") == 0) {
			usage(stdout);
			return 0;
		} else if (strcmp(argv[i], "--socket") == 0 && i + 1 < argc) {
			socket_path = argv[++i];
		} else if (strcmp(argv[i], "--fd") == 0 && i + 1 < argc) {
			char *end = NULL;

			fd = strtol(argv[++i], &end, 10);
			if (*end || fd < 0 || fd > 65535)
				fd = -1;
		} else if (strcmp(argv[i], "--alias") == 0 && i + 1 < argc) {
			a.alias = argv[++i];
		} else {
			usage(stderr);
			return 2;
		}
	}
	if (!socket_path || fd < 0) {
		usage(stderr);
		return 2;
	}
	scenario_link_init(&a.link, (int)fd);
	/* A failed connection is reported as the answer to "open", so the
	 * runner handles it like any other failure of a window statement. */
	a.connect_error = cp_client_new(socket_path, &a.client);
	if (a.connect_error < 0)
		snprintf(a.connect_message, sizeof(a.connect_message), "%s", cp_last_error_message());
	agent_loop(&a);
	/* Freeing the client closes the window at the broker. */
	cp_client_free(a.client);
	scenario_link_deinit(&a.link);
	return 0;
}
