/* SPDX-License-Identifier: MIT */
/* bench_messages.c - messaging through a real broker: one-way throughput of
 * small and large messages, and round-trip latency.  Sender and receiver are
 * separate processes; the broker is $CROSSPOSTD (default build/crosspostd). */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "broker_fixture.h"
#include "crosspost.h"

static BenchBroker broker;

struct counter {
	long count;
	uint64_t last_source;
};

static void count_event(cp_window *w, const cp_event *ev, void *userdata)
{
	struct counter *c = userdata;

	(void)w;
	c->count++;
	c->last_source = cp_event_source_id(ev);
}

/* One-way: a child posts n messages of `json`; we receive them all. */
static void one_way(const char *label, const char *json, long n)
{
	cp_client *rc = NULL;
	cp_window *rw = NULL;
	struct counter counter = { 0 };
	double t0, t1;
	int r, sync_pipe[2];
	pid_t child;
	char go;

	if ((r = cp_client_new(broker.socket_path, &rc)) < 0 || (r = cp_window_open(rc, "https://sink.example/", "sink", &rw)) < 0)
		bench_die("bench_messages", "receiver", r);
	cp_window_set_callback(rw, count_event, &counter);
	if (pipe(sync_pipe) < 0)
		exit(1);
	child = fork();
	if (child == 0) {
		cp_client *sc = NULL;
		cp_window *sw = NULL;
		cp_value *v = NULL;
		uint64_t sink;

		if ((r = cp_client_new(broker.socket_path, &sc)) < 0 || (r = cp_window_open(sc, "https://source.example/", NULL, &sw)) < 0 ||
		    (r = cp_client_lookup(sc, "sink", &sink)) < 0 || (r = cp_value_from_json(json, strlen(json), NULL, &v)) < 0)
			bench_die("bench_messages", "sender", r);
		if (read(sync_pipe[0], &go, 1) != 1)
			_exit(1);
		for (long i = 0; i < n; i++)
			if ((r = cp_post_message(sw, sink, v, "https://sink.example")) < 0)
				bench_die("bench_messages", "post", r);
		if ((r = cp_client_sync(sc, -1)) < 0)
			bench_die("bench_messages", "sync", r);
		cp_value_free(v);
		cp_client_free(sc);
		_exit(0);
	}
	t0 = bench_now();
	if (write(sync_pipe[1], "g", 1) != 1)
		exit(1);
	while (counter.count < n)
		if ((r = cp_client_wait(rc, 30000)) <= 0)
			bench_die("bench_messages", "wait", r ? r : CP_ERR_TIMEOUT);
	t1 = bench_now();
	waitpid(child, NULL, 0);
	printf("%-28s %8ld msgs %10.0f msg/s %9.1f MB/s (payload %zu B of JSON)\n", label, n,
	       (double)n / (t1 - t0), (double)n * (double)strlen(json) / (t1 - t0) / 1e6, strlen(json));
	close(sync_pipe[0]);
	close(sync_pipe[1]);
	cp_client_free(rc);
}

static void echo_back(cp_window *w, const cp_event *ev, void *userdata)
{
	(void)userdata;
	cp_post_message(w, cp_event_source_id(ev), cp_event_data(ev), cp_event_origin(ev));
}

static int compare_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static void round_trip(long n)
{
	cp_client *c = NULL;
	cp_window *w = NULL;
	struct counter counter = { 0 };
	double *samples = calloc((size_t)n, sizeof(double));
	cp_value *v = NULL;
	uint64_t echo;
	pid_t child;
	int r;

	child = fork();
	if (child == 0) {
		cp_client *ec = NULL;
		cp_window *ew = NULL;

		if ((r = cp_client_new(broker.socket_path, &ec)) < 0 || (r = cp_window_open(ec, "https://echo.example/", "echo", &ew)) < 0)
			bench_die("bench_messages", "echo", r);
		cp_window_set_callback(ew, echo_back, NULL);
		for (;;)
			if (cp_client_wait(ec, -1) < 0)
				_exit(0);
	}
	if ((r = cp_client_new(broker.socket_path, &c)) < 0 || (r = cp_window_open(c, "https://ping.example/", NULL, &w)) < 0)
		bench_die("bench_messages", "ping", r);
	cp_window_set_callback(w, count_event, &counter);
	for (int tries = 0; (r = cp_client_lookup(c, "echo", &echo)) < 0 && tries < 500; tries++)
		usleep(10000);
	if (r < 0)
		bench_die("bench_messages", "lookup echo", r);
	cp_value_from_json("{\"ping\":1}", 10, NULL, &v);
	for (long i = 0; i < n; i++) {
		double t0 = bench_now();

		if ((r = cp_post_message(w, echo, v, "*")) < 0)
			bench_die("bench_messages", "post", r);
		while (counter.count <= i)
			if ((r = cp_client_wait(c, 10000)) <= 0)
				bench_die("bench_messages", "wait", r ? r : CP_ERR_TIMEOUT);
		samples[i] = (bench_now() - t0) * 1e6;
	}
	qsort(samples, (size_t)n, sizeof(double), compare_double);
	printf("%-28s %8ld trips  median %6.1f us   p99 %6.1f us\n", "round trip (ping/echo)", n,
	       samples[n / 2], samples[n * 99 / 100]);
	kill(child, SIGTERM);
	waitpid(child, NULL, 0);
	cp_value_free(v);
	cp_client_free(c);
	free(samples);
}

int main(int argc, char **argv)
{
	long scale = argc > 1 ? atol(argv[1]) : 1;
	char *big;

	if (scale < 1)
		scale = 1;
	signal(SIGPIPE, SIG_IGN);
	bench_broker_start(&broker, "bench_messages");
	one_way("small messages", "{\"seq\":1,\"kind\":\"tick\"}", 200000 * scale);
	big = malloc(1024 * 1024 + 3);
	memset(big + 1, 'x', 1024 * 1024);
	big[0] = '"';
	big[1024 * 1024 + 1] = '"';
	big[1024 * 1024 + 2] = 0;
	one_way("1 MiB string messages", big, 200 * scale);
	free(big);
	round_trip(20000 * scale);
	bench_broker_stop(&broker);
	return 0;
}
