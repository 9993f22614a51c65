/* SPDX-License-Identifier: MIT */
/*
 * xp_zmq.c - ZeroMQ in the workloads of workload.h: libzmq clients through
 * a zmq_proxy() process, over ipc:// (unix sockets) in a temporary folder.
 *
 * The pattern: ROUTER (frontend) | zmq_proxy | DEALER (backend), ZeroMQ's
 * own "shared queue" broker (zguide, chapter 3).  Senders are DEALERs
 * connected to the frontend; the receiver is a DEALER connected to the
 * backend.  It is the zmq_proxy shape a user picks for point-to-point
 * through a broker because it is the one that carries both directions:
 * the frontend ROUTER stamps each message with the sender's identity, the
 * receiver gets [identity, data] and can answer exactly that sender by
 * sending the identity back (the round trip), while a one-way message
 * simply gets no answer.  PULL/PUSH (the "streamer") is one-way only, and
 * XSUB/XPUB is publish-subscribe.  The identity frame also tells the
 * receiver which sender a message came from, as a crosspost event's source
 * does.  Default options (high-water marks of 1,000 messages); a sender
 * blocks in zmq_send() when its queue is full, so nothing is dropped.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <unistd.h>

#include <zmq.h>

#include "workload.h"

struct Endpoint {
	void *ctx, *sock;
	bool receiver;
	const uint8_t *payload;
	size_t len;
	zmq_msg_t identity, data;   /* the last message a receiver got */
	bool have_msg;
};

static int zmq_probe(char *why, size_t why_len)
{
	return 0;
}

static void proxy_main(BenchServer *s, int ready_fd)
{
	char front[300], back[300];
	void *ctx = zmq_ctx_new(), *frontend, *backend;

	prctl(PR_SET_PDEATHSIG, SIGKILL);
	snprintf(front, sizeof(front), "ipc://%s/front", s->dir);
	snprintf(back, sizeof(back), "ipc://%s/back", s->dir);
	frontend = zmq_socket(ctx, ZMQ_ROUTER);
	backend = zmq_socket(ctx, ZMQ_DEALER);
	if (!frontend || !backend || zmq_bind(frontend, front) < 0 || zmq_bind(backend, back) < 0) {
		fprintf(stderr, "zmq: bind: %s\n", zmq_strerror(zmq_errno()));
		_exit(1);
	}
	if (write(ready_fd, "r", 1) != 1)
		_exit(1);
	close(ready_fd);
	zmq_proxy(frontend, backend, NULL);
	_exit(0);
}

static int zmq_start(BenchServer *s)
{
	int ready[2];
	char byte;

	if (server_make_dir(s, "zmq") < 0)
		return -1;
	if (pipe(ready) < 0)
		return -1;
	s->pid = fork();
	if (s->pid == 0) {
		close(ready[0]);
		proxy_main(s, ready[1]);
	}
	close(ready[1]);
	if (read(ready[0], &byte, 1) != 1) {
		fprintf(stderr, "zmq: the proxy did not start\n");
		close(ready[0]);
		stop_process(s->pid);
		return -1;
	}
	close(ready[0]);
	return 0;
}

static void zmq_stop(BenchServer *s)
{
	stop_process(s->pid);
	server_remove_dir(s);
}

static void *connect_dealer(void *ctx, BenchServer *s, const char *side)
{
	char endpoint[300];
	void *sock = zmq_socket(ctx, ZMQ_DEALER);

	snprintf(endpoint, sizeof(endpoint), "ipc://%s/%s", s->dir, side);
	if (!sock || zmq_connect(sock, endpoint) < 0) {
		fprintf(stderr, "zmq: connect %s: %s\n", endpoint, zmq_strerror(zmq_errno()));
		return NULL;
	}
	return sock;
}

static Endpoint *zmq_open_endpoint(BenchServer *s, int role, unsigned index)
{
	Endpoint *e = calloc(1, sizeof(*e));

	if (!e || !(e->ctx = zmq_ctx_new()))
		return NULL;
	e->receiver = role == ROLE_RECEIVER;
	e->sock = connect_dealer(e->ctx, s, e->receiver ? "back" : "front");
	if (!e->sock)
		return NULL;
	zmq_msg_init(&e->identity);
	zmq_msg_init(&e->data);
	return e;
}

static int zmq_prepare_payload(Endpoint *e, const uint8_t *bytes, size_t len)
{
	e->payload = bytes;
	e->len = len;
	return 0;
}

static int zmq_send_payload(Endpoint *e)
{
	if (zmq_send(e->sock, e->payload, e->len, 0) < 0) {
		fprintf(stderr, "zmq: send: %s\n", zmq_strerror(zmq_errno()));
		return -1;
	}
	return 0;
}

static int recv_part(Endpoint *e, zmq_msg_t *msg)
{
	while (zmq_msg_recv(msg, e->sock, 0) < 0) {
		if (zmq_errno() == EINTR)
			continue;
		fprintf(stderr, "zmq: recv: %s\n", zmq_strerror(zmq_errno()));
		return -1;
	}
	return 0;
}

/* A receiver gets [identity, data]; a sender (the answer of a round
 * trip) gets [data]. */
static int zmq_recv_payload(Endpoint *e, const uint8_t **ret, size_t *ret_len)
{
	if (e->receiver && recv_part(e, &e->identity) < 0)
		return -1;
	if (recv_part(e, &e->data) < 0)
		return -1;
	*ret = zmq_msg_data(&e->data);
	*ret_len = zmq_msg_size(&e->data);
	return 0;
}

/* The identity routes the answer back through the proxy's ROUTER.
 * zmq_msg_send() hands the received messages on without copying. */
static int zmq_echo_payload(Endpoint *e)
{
	if (zmq_msg_send(&e->identity, e->sock, ZMQ_SNDMORE) < 0 || zmq_msg_send(&e->data, e->sock, 0) < 0) {
		fprintf(stderr, "zmq: echo: %s\n", zmq_strerror(zmq_errno()));
		return -1;
	}
	return 0;
}

static void zmq_close_endpoint(Endpoint *e)
{
	if (!e)
		return;
	zmq_msg_close(&e->identity);
	zmq_msg_close(&e->data);
	/* Default linger: zmq_ctx_term() returns once everything queued
	 * was sent. */
	zmq_close(e->sock);
	zmq_ctx_term(e->ctx);
	free(e);
}

typedef struct Idle {
	void *ctx;
	void **socks;
	unsigned n;
} Idle;

static void zmq_idle_close(void *idle)
{
	Idle *i = idle;
	int zero = 0;

	for (unsigned k = 0; k < i->n; k++) {
		zmq_setsockopt(i->socks[k], ZMQ_LINGER, &zero, sizeof(zero));
		zmq_close(i->socks[k]);
	}
	zmq_ctx_term(i->ctx);
	free(i->socks);
	free(i);
}

static void *zmq_idle_open(BenchServer *s, unsigned n, unsigned per)
{
	Idle *idle = calloc(1, sizeof(*idle));
	int max_sockets = (int)n + 16;

	if (!idle || !(idle->socks = calloc(n, sizeof(*idle->socks))) || !(idle->ctx = zmq_ctx_new()))
		bench_fail("out of memory");
	zmq_ctx_set(idle->ctx, ZMQ_MAX_SOCKETS, max_sockets);
	for (unsigned k = 0; k < n; k++) {
		idle->socks[k] = connect_dealer(idle->ctx, s, "front");
		if (!idle->socks[k]) {
			zmq_idle_close(idle);
			return NULL;
		}
		idle->n++;
	}
	return idle;
}

static const Transport zmq_transport = {
	.name = "zmq",
	.max_senders = 100000,
	.probe = zmq_probe,
	.start = zmq_start,
	.stop = zmq_stop,
	.open = zmq_open_endpoint,
	.prepare = zmq_prepare_payload,
	.send = zmq_send_payload,
	.recv = zmq_recv_payload,
	.echo = zmq_echo_payload,
	.close = zmq_close_endpoint,
	.idle_open = zmq_idle_open,
	.idle_close = zmq_idle_close,
};

int main(int argc, char **argv)
{
	static const Transport *const transports[] = { &zmq_transport };

	return workload_main(argc, argv, transports, sizeof(transports) / sizeof(transports[0]));
}
