/* SPDX-License-Identifier: MIT */
/* broker.c - the listening socket, accepting clients, and the end of a turn. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <event2/event.h>

#include "broker.h"
#include "connection.h"
#include "log.h"
#include "ports.h"
#include "registry.h"

static void on_accept(evutil_socket_t fd, short what, void *userdata)
{
	Broker *b = userdata;
	struct ucred cred = { 0 };
	socklen_t len = sizeof(cred);
	Connection *c;
	int client;

	(void)what;
	client = accept4(fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
	if (client < 0) {
		if (errno != EAGAIN && errno != EINTR && errno != ECONNABORTED)
			log_warning("accept failed: %s", strerror(errno));
		return;
	}
	if (connection_new(b, client, &c) < 0) {
		log_error("out of memory accepting a connection");
		return;
	}
	if (getsockopt(client, SOL_SOCKET, SO_PEERCRED, &cred, &len) == 0)
		c->pid = cred.pid;
	log_debug("connection %llu (pid %d): accepted", (unsigned long long)c->id, (int)c->pid);
}

/* Frees connections closed during this turn, once no callback runs on them. */
static void on_reap(evutil_socket_t fd, short what, void *userdata)
{
	Broker *b = userdata;

	(void)fd;
	(void)what;
	while (b->graveyard) {
		Connection *c = b->graveyard;

		b->graveyard = c->grave_next;
		connection_free(c);
	}
}

int broker_new(Broker **ret, struct event_base *base, int listen_fd)
{
	Broker *b = calloc(1, sizeof(*b));

	if (!b) {
		close(listen_fd);
		return -ENOMEM;
	}
	b->base = base;
	b->listen_fd = listen_fd;
	b->output_high = BROKER_OUTPUT_HIGH_DEFAULT;
	b->output_low = BROKER_OUTPUT_LOW_DEFAULT;
	evutil_make_socket_nonblocking(listen_fd);
	b->accept_event = event_new(base, listen_fd, EV_READ | EV_PERSIST, on_accept, b);
	b->reap_event = event_new(base, -1, 0, on_reap, b);
	if (!b->accept_event || !b->reap_event || registry_new(&b->registry) < 0 ||
	    port_table_new(&b->ports, b) < 0 ||
	    event_add(b->accept_event, NULL) < 0) {
		broker_free(b);
		return -ENOMEM;
	}
	*ret = b;
	return 0;
}

Broker *broker_free(Broker *b)
{
	if (!b)
		return NULL;
	while (b->connections)
		connection_close(b->connections, LOG_DEBUG, "broker shutting down");
	on_reap(-1, 0, b);
	if (b->accept_event)
		event_free(b->accept_event);
	if (b->reap_event)
		event_free(b->reap_event);
	port_table_free(b->ports);
	registry_free(b->registry);
	if (b->listen_fd >= 0)
		close(b->listen_fd);
	free(b);
	return NULL;
}

void broker_flush(Broker *b)
{
	while (b->dirty) {
		Connection *c = b->dirty;

		b->dirty = c->dirty_next;
		c->dirty = false;
		connection_flush(c);
	}
	ports_sweep(b->ports);
}
