/* SPDX-License-Identifier: MIT */
/* bench_transfer.c - an ArrayBuffer transferred (sealed memfd) versus
 * posted by copy between two processes through a real broker: round trip
 * from the post to the receiver's answer, against a small message's.  The
 * broker is $CROSSPOSTD (default build/crosspostd). */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "broker_fixture.h"
#include "crosspost.h"

#define MIB (1024u * 1024u)
#define RUNS 5
#define SMALL_RUNS 1000
#define PAGE 4096

static BenchBroker broker;

/* ---- the receiver (a child process) ---- */

static volatile uint8_t sink;
static bool touch_pages;

/* Answers every message with the byteLength it got (0 for non-buffers);
 * {"touch":B} switches reading one byte of every page on or off. */
static void receive(cp_window *w, const cp_event *ev, void *userdata)
{
	const cp_value *d = cp_event_data(ev);
	cp_value *answer = NULL;
	size_t len = 0;
	const uint8_t *bytes = d ? cp_value_array_buffer_data(d, &len) : NULL;

	(void)userdata;
	if (d && cp_value_object_get(d, "touch"))
		touch_pages = cp_value_get_boolean(cp_value_object_get(d, "touch"));
	if (bytes && touch_pages) {
		uint8_t sum = 0;

		for (size_t i = 0; i < len; i += PAGE)
			sum += bytes[i];
		sink = sum;
	}
	if (cp_value_new_number((double)len, &answer) == 0)
		cp_post_message(w, cp_event_source_id(ev), answer, "*");
	cp_value_free(answer);
}

static void receiver_main(int ready_fd)
{
	cp_client *c = NULL;
	cp_window *w = NULL;
	uint64_t id;
	int r;

	if ((r = cp_client_new(broker.socket_path, &c)) < 0 || (r = cp_window_open(c, "https://rx.example/", NULL, &w)) < 0)
		bench_die("bench_transfer", "receiver", r);
	cp_window_set_callback(w, receive, NULL);
	id = cp_window_id(w);
	if (write(ready_fd, &id, sizeof(id)) != sizeof(id))
		_exit(1);
	close(ready_fd);
	while (cp_client_wait(c, -1) >= 0)
		;
	_exit(0);
}

/* ---- the sender ---- */

struct sender {
	cp_client *client;
	cp_window *window;
	uint64_t target;
	long answers;
	double last_answer;
};

static void on_answer(cp_window *w, const cp_event *ev, void *userdata)
{
	struct sender *s = userdata;

	(void)w;
	s->answers++;
	s->last_answer = cp_value_get_number(cp_event_data(ev));
}

/* Posts data (with transfer when n_transfer) and waits for the answer.
 * Returns the round trip in seconds; *ret_post gets the time the post
 * call took. */
static double exchange(struct sender *s, const cp_value *data, cp_value **transfer, size_t n_transfer,
		       double *ret_post)
{
	long before = s->answers;
	double t0 = bench_now(), t1;
	int r = cp_post_message_with_transfer(s->window, s->target, data, "*", transfer, n_transfer);

	if (r < 0)
		bench_die("bench_transfer", "post", r);
	t1 = bench_now();
	while (s->answers == before)
		if ((r = cp_client_wait(s->client, 60000)) <= 0)
			bench_die("bench_transfer", "wait", r ? r : CP_ERR_TIMEOUT);
	if (ret_post)
		*ret_post = t1 - t0;
	return bench_now() - t0;
}

static int compare_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static double median(double *v, size_t n)
{
	qsort(v, n, sizeof(*v), compare_double);
	return v[n / 2];
}

/* A buffer of len bytes, every page written (so that it is really
 * there), or left as the zeros a new buffer starts with. */
static cp_value *new_buffer(size_t len, bool fill)
{
	cp_value *v = NULL;
	int r = cp_value_new_array_buffer(NULL, len, &v);

	if (r < 0)
		bench_die("bench_transfer", "buffer", r);
	if (fill)
		memset(cp_value_array_buffer_data_mut(v, NULL), 0x5a, len);
	return v;
}

static void set_touch(struct sender *s, bool on)
{
	const char *json = on ? "{\"touch\":true}" : "{\"touch\":false}";
	cp_value *v = NULL;

	cp_value_from_json(json, strlen(json), NULL, &v);
	exchange(s, v, NULL, 0, NULL);
	cp_value_free(v);
}

static long minor_faults(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return ru.ru_minflt;
}

static void bench_small(struct sender *s)
{
	double samples[SMALL_RUNS];
	cp_value *v = NULL;

	cp_value_from_json("{\"seq\":1}", 9, NULL, &v);
	for (int i = 0; i < SMALL_RUNS; i++)
		samples[i] = exchange(s, v, NULL, 0, NULL);
	printf("%-36s round trip median %9.3f ms\n", "small message ({\"seq\":1})", median(samples, SMALL_RUNS) * 1e3);
	cp_value_free(v);
}

static void bench_copy(struct sender *s, size_t len, const char *label)
{
	double samples[RUNS];
	cp_value *buf = new_buffer(len, true);

	for (int i = 0; i < RUNS; i++) {
		samples[i] = exchange(s, buf, NULL, 0, NULL);
		if ((size_t)s->last_answer != len)
			bench_die("bench_transfer", "the receiver got another length", 0);
	}
	printf("%-36s round trip median %9.3f ms  (%7.1f MB/s)\n", label, median(samples, RUNS) * 1e3,
	       (double)len / median(samples, RUNS) / 1e6);
	cp_value_free(buf);
}

/* Also counts the sender's page faults during the exchanges: a copy of
 * the bytes into fresh memory would fault in every page. */
static void bench_transfer(struct sender *s, size_t len, bool fill, const char *label)
{
	double samples[RUNS], posts[RUNS];
	long faults = 0;

	for (int i = 0; i < RUNS; i++) {
		cp_value *buf = new_buffer(len, fill);
		long before = minor_faults();

		samples[i] = exchange(s, buf, &buf, 1, &posts[i]);
		faults += minor_faults() - before;
		if ((size_t)s->last_answer != len || !cp_value_array_buffer_is_detached(buf))
			bench_die("bench_transfer", "the buffer did not move", 0);
		cp_value_free(buf);
	}
	printf("%-36s round trip median %9.3f ms  (post call %.3f ms; sender page faults %.2f of %zu pages)\n",
	       label, median(samples, RUNS) * 1e3, median(posts, RUNS) * 1e3, (double)faults / RUNS,
	       len / PAGE);
}

int main(void)
{
	struct sender s = { 0 };
	int ready[2], r;
	pid_t receiver;

	signal(SIGPIPE, SIG_IGN);
	bench_broker_start(&broker, "bench_transfer");
	if (pipe(ready) < 0)
		exit(1);
	receiver = fork();
	if (receiver == 0) {
		close(ready[0]);
		receiver_main(ready[1]);
	}
	close(ready[1]);
	if (read(ready[0], &s.target, sizeof(s.target)) != sizeof(s.target))
		exit(1);
	close(ready[0]);
	if ((r = cp_client_new(broker.socket_path, &s.client)) < 0 ||
	    (r = cp_window_open(s.client, "https://tx.example/", NULL, &s.window)) < 0)
		bench_die("bench_transfer", "sender", r);
	cp_window_set_callback(s.window, on_answer, &s);

	printf("round trip: post, then the receiver's small answer; %d runs each (%d for the small message)\n",
	       RUNS, SMALL_RUNS);
	bench_small(&s);
	/* A frame's payload is at most 128 MiB (FRAME_PAYLOAD_MAX), the
	 * serialized buffer's few bytes of framing included. */
	bench_copy(&s, 64 * MIB, "copy 64 MiB ArrayBuffer");
	bench_copy(&s, 128 * MIB - 64, "copy 128 MiB - 64 B ArrayBuffer");
	bench_transfer(&s, 64 * MIB, true, "transfer 64 MiB ArrayBuffer");
	bench_transfer(&s, 256 * MIB, true, "transfer 256 MiB ArrayBuffer");
	/* What a transfer costs is the sender's page tables: a buffer whose
	 * pages were never touched has none to tear down. */
	bench_transfer(&s, 256 * MIB, false, "transfer 256 MiB, pages untouched");
	set_touch(&s, true);
	bench_transfer(&s, 256 * MIB, true, "transfer 256 MiB, receiver reads");
	set_touch(&s, false);

	kill(receiver, SIGTERM);
	waitpid(receiver, NULL, 0);
	cp_client_free(s.client);
	bench_broker_stop(&broker);
	return 0;
}
