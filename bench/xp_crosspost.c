/* SPDX-License-Identifier: MIT */
/*
 * xp_crosspost.c - crosspost in the workloads of workload.h, through the
 * public API only, as a user's program would: a private crosspostd, one
 * cp_client per endpoint, a window "rx" (https://rx.example/) that
 * receives, senders that find it with cp_client_wait_for_window() and post
 * an ArrayBuffer of the payload with targetOrigin https://rx.example.
 *
 * The broker is $CROSSPOSTD, else crosspostd in the folder above this
 * program (build/bench/.. = build/).  It runs with max-connections and
 * max-connections-per-uid raised to 20,000 for the scale runs (the
 * defaults, 4096 and 256, are for a per-user broker; docs/security.md).
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "crosspost.h"
#include "workload.h"

#define RX_URL "https://rx.example/"
#define RX_ORIGIN "https://rx.example"

static char broker_path[PATH_MAX + 16];

struct Endpoint {
	cp_client *client;
	cp_window *window;
	uint64_t target;          /* a sender's: rx */
	cp_value *payload;        /* what send posts */
	/* Received data, taken out of the events, in order. */
	cp_value **queue;
	uint64_t *sources;
	size_t cap, head, len;
	cp_value *current;        /* handed out by the last recv */
	uint64_t current_source;
	char origin[CP_URL_MAX + 1];  /* of the last event: an echo's targetOrigin */
	unsigned errors;          /* messageerror events */
};

static void report(const char *what, int code)
{
	fprintf(stderr, "crosspost: %s: %s: %s\n", what, cp_error_name(code), cp_last_error_message());
}

static int cp_probe(char *why, size_t why_len)
{
	if (access(broker_path, X_OK) < 0) {
		snprintf(why, why_len, "%s is not built", broker_path);
		return -1;
	}
	return 0;
}

static int cp_start(BenchServer *s)
{
	if (server_make_dir(s, "crosspost") < 0)
		return -1;
	snprintf(s->address, sizeof(s->address), "%s/broker.sock", s->dir);
	s->pid = fork();
	if (s->pid == 0) {
		execl(broker_path, "crosspostd", "--foreground", "--log-level", "warning", "--socket", s->address,
		      "--limit", "max-connections=20000", "--limit", "max-connections-per-uid=20000",
		      (char *)NULL);
		_exit(127);
	}
	if (s->pid < 0 || wait_for_socket(s->address, s->pid) < 0) {
		fprintf(stderr, "crosspost: %s did not start\n", broker_path);
		return -1;
	}
	return 0;
}

static void cp_stop(BenchServer *s)
{
	stop_process(s->pid);
	server_remove_dir(s);
}

static void on_message(cp_window *w, const cp_event *ev, void *userdata)
{
	Endpoint *e = userdata;
	cp_value *data = cp_event_take_data(ev);
	size_t tail;

	if (!data) {
		e->errors++;
		return;
	}
	if (e->len == e->cap) {
		size_t cap = e->cap ? e->cap * 2 : 64;
		cp_value **queue = malloc(cap * sizeof(*queue));
		uint64_t *sources = malloc(cap * sizeof(*sources));

		if (!queue || !sources)
			bench_fail("out of memory");
		for (size_t i = 0; i < e->len; i++) {
			queue[i] = e->queue[(e->head + i) % e->cap];
			sources[i] = e->sources[(e->head + i) % e->cap];
		}
		free(e->queue);
		free(e->sources);
		e->queue = queue;
		e->sources = sources;
		e->cap = cap;
		e->head = 0;
	}
	tail = (e->head + e->len) % e->cap;
	e->queue[tail] = data;
	e->sources[tail] = cp_event_source_id(ev);
	e->len++;
	/* Kept for an echo's targetOrigin; copied only when it changes (a
	 * snprintf per message was a tenth of a 64 B receiver's time). */
	{
		const char *origin = cp_event_origin(ev);

		if (strcmp(origin, e->origin) != 0) {
			size_t n = strlen(origin);

			if (n >= sizeof(e->origin))
				n = sizeof(e->origin) - 1;
			memcpy(e->origin, origin, n);
			e->origin[n] = '\0';
		}
	}
}

static Endpoint *cp_open(BenchServer *s, int role, unsigned index)
{
	Endpoint *e = calloc(1, sizeof(*e));
	char url[64];
	int r;

	if (!e)
		return NULL;
	if ((r = cp_client_new(s->address, &e->client)) < 0) {
		report("cp_client_new", r);
		return NULL;
	}
	if (role == ROLE_RECEIVER) {
		r = cp_window_open(e->client, RX_URL, "rx", &e->window);
	} else {
		snprintf(url, sizeof(url), "https://tx%u.example/", index);
		r = cp_window_open(e->client, url, NULL, &e->window);
		if (r == 0)
			r = cp_client_wait_for_window(e->client, "rx", 10000, &e->target);
		/* A pipelining sender queues its posts and writes many at once,
		 * as a ZeroMQ socket hands its messages to its I/O thread; the
		 * round trip's wait writes the ping at once. */
		if (r == 0)
			r = cp_client_set_batching(e->client, true);
	}
	if (r < 0) {
		report(role == ROLE_RECEIVER ? "open rx" : "find rx", r);
		return NULL;
	}
	cp_window_set_callback(e->window, on_message, e);
	return e;
}

static int cp_prepare(Endpoint *e, const uint8_t *bytes, size_t len)
{
	int r = cp_value_new_array_buffer(bytes, len, &e->payload);

	if (r < 0)
		report("cp_value_new_array_buffer", r);
	return r;
}

static int cp_send(Endpoint *e)
{
	int r = cp_post_message(e->window, e->target, e->payload, RX_ORIGIN);

	if (r < 0)
		report("cp_post_message", r);
	return r;
}

static int cp_flush(Endpoint *e)
{
	int r = cp_client_flush(e->client);

	if (r < 0)
		report("cp_client_flush", r);
	return r;
}

static int cp_recv(Endpoint *e, const uint8_t **ret, size_t *ret_len)
{
	e->current = cp_value_free(e->current);
	while (!e->len) {
		int r = cp_client_wait(e->client, -1);

		if (r < 0) {
			report("cp_client_wait", r);
			return r;
		}
	}
	e->current = e->queue[e->head];
	e->current_source = e->sources[e->head];
	e->head = (e->head + 1) % e->cap;
	e->len--;
	*ret = cp_value_array_buffer_data(e->current, ret_len);
	return *ret || !*ret_len ? 0 : -1;
}

static int cp_echo(Endpoint *e)
{
	int r = cp_post_message(e->window, e->current_source, e->current, e->origin);

	if (r < 0)
		report("echo", r);
	return r;
}

static void cp_close(Endpoint *e)
{
	if (!e)
		return;
	cp_client_sync(e->client, 10000);
	cp_client_free(e->client);
	cp_value_free(e->current);
	cp_value_free(e->payload);
	while (e->len) {
		cp_value_free(e->queue[e->head]);
		e->head = (e->head + 1) % e->cap;
		e->len--;
	}
	free(e->queue);
	free(e->sources);
	free(e);
}

typedef struct Idle {
	cp_client **clients;
	unsigned n;
} Idle;

static void cp_idle_close(void *idle)
{
	Idle *i = idle;

	for (unsigned k = 0; k < i->n; k++)
		cp_client_free(i->clients[k]);
	free(i->clients);
	free(i);
}

static void *cp_idle_open(BenchServer *s, unsigned n, unsigned per)
{
	Idle *idle = calloc(1, sizeof(*idle));
	char url[64];
	int r;

	if (!idle || !(idle->clients = calloc(n, sizeof(*idle->clients))))
		bench_fail("out of memory");
	for (unsigned k = 0; k < n; k++) {
		cp_window *w;

		if ((r = cp_client_new(s->address, &idle->clients[k])) < 0) {
			report("idle cp_client_new", r);
			cp_idle_close(idle);
			return NULL;
		}
		idle->n++;
		for (unsigned j = 0; j < per; j++) {
			snprintf(url, sizeof(url), "https://idle%u-%u.example/", k, j);
			if ((r = cp_window_open(idle->clients[k], url, NULL, &w)) < 0) {
				report("idle cp_window_open", r);
				cp_idle_close(idle);
				return NULL;
			}
		}
	}
	return idle;
}

static const Transport crosspost_transport = {
	.name = "crosspost",
	.max_senders = 100000,
	.probe = cp_probe,
	.start = cp_start,
	.stop = cp_stop,
	.open = cp_open,
	.prepare = cp_prepare,
	.send = cp_send,
	.flush = cp_flush,
	.recv = cp_recv,
	.echo = cp_echo,
	.close = cp_close,
	.idle_open = cp_idle_open,
	.idle_close = cp_idle_close,
};

int main(int argc, char **argv)
{
	static const Transport *const transports[] = { &crosspost_transport };
	const char *env = getenv("CROSSPOSTD");
	char self[PATH_MAX];
	ssize_t n;

	if (env && *env) {
		snprintf(broker_path, sizeof(broker_path), "%s", env);
	} else if ((n = readlink("/proc/self/exe", self, sizeof(self) - 1)) > 0) {
		char *slash;

		self[n] = '\0';
		/* build/bench/xp_crosspost -> build/crosspostd */
		for (int i = 0; i < 2 && (slash = strrchr(self, '/')); i++)
			*slash = '\0';
		snprintf(broker_path, sizeof(broker_path), "%s/crosspostd", self);
	}
	return workload_main(argc, argv, transports, sizeof(transports) / sizeof(transports[0]));
}
