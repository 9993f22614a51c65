/* SPDX-License-Identifier: MIT */
/* broker.c - the listening socket, connection limits, handshake deadlines, and the end of a turn. */
#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>

#include "access.h"
#include "account.h"
#include "broadcast.h"
#include "broker.h"
#include "claims.h"
#include "monitor.h"
#include "connection.h"
#include "contexts.h"
#include "log.h"
#include "ports.h"
#include "registry.h"
#include "site.h"

/* Back-off after accept() failed for want of descriptors: 10 ms doubling
 * to 1 s (NATS's accept back-off). */
#define ACCEPT_BACKOFF_MIN_MS 10
#define ACCEPT_BACKOFF_MAX_MS 1000

uint64_t broker_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void set_accepting(Broker *b, bool on)
{
	if (on == b->accepting)
		return;
	b->accepting = on;
	if (on)
		event_add(b->accept_event, NULL);
	else
		event_del(b->accept_event);
}

/* Accepting stops at the pending limit (as dbus-daemon does at
 * max_incomplete_connections), and during an accept back-off. */
static void update_accepting(Broker *b)
{
	set_accepting(b, b->n_pending < b->limits.max_pending_connections &&
			 !evtimer_pending(b->accept_retry, NULL));
}

static void arm_handshake_timer(Broker *b)
{
	struct timeval tv;
	uint64_t now, due;

	if (!b->pending) {
		evtimer_del(b->handshake_timer);
		return;
	}
	now = broker_now_ms();
	due = b->pending->accepted_ms + b->limits.handshake_timeout_ms;
	due = due > now ? due - now : 0;
	tv.tv_sec = (time_t)(due / 1000);
	tv.tv_usec = (suseconds_t)(due % 1000) * 1000;
	evtimer_add(b->handshake_timer, &tv);
}

static void on_handshake_timer(evutil_socket_t fd, short what, void *userdata)
{
	Broker *b = userdata;
	uint64_t now = broker_now_ms();

	(void)fd;
	(void)what;
	while (b->pending && b->pending->accepted_ms + b->limits.handshake_timeout_ms <= now)
		connection_close(b->pending, LOG_INFO, "no hello within %u ms", b->limits.handshake_timeout_ms);
	arm_handshake_timer(b);
}

static void unlink_pending(Broker *b, Connection *c)
{
	if (!c->pending_prev && b->pending != c)
		return;    /* not pending */
	if (c->pending_prev)
		c->pending_prev->pending_next = c->pending_next;
	else
		b->pending = c->pending_next;
	if (c->pending_next)
		c->pending_next->pending_prev = c->pending_prev;
	else
		b->pending_tail = c->pending_prev;
	c->pending_prev = c->pending_next = NULL;
	b->n_pending--;
	arm_handshake_timer(b);
	update_accepting(b);
}

void broker_connection_greeted(Broker *b, Connection *c)
{
	unlink_pending(b, c);
}

void broker_connection_gone(Broker *b, Connection *c)
{
	unlink_pending(b, c);
	b->n_connections--;
}

/* At EMFILE/ENFILE: free the reserve descriptor, accept and close the
 * waiting connection (it is told nothing: there is nothing to tell it
 * with), take the reserve back, and pause accepting for a while.  One
 * log line per back-off period at most. */
static void shed_connection(Broker *b, int err)
{
	struct timeval tv;
	int fd;

	if (b->reserve_fd >= 0) {
		close(b->reserve_fd);
		fd = accept4(b->listen_fd, NULL, NULL, SOCK_CLOEXEC);
		if (fd >= 0)
			close(fd);
		b->reserve_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
	b->read_scratch = malloc(BROKER_READ_SCRATCH);
	}
	b->stats.accept_failures++;
	b->accept_backoff_ms = b->accept_backoff_ms ? b->accept_backoff_ms * 2 : ACCEPT_BACKOFF_MIN_MS;
	if (b->accept_backoff_ms > ACCEPT_BACKOFF_MAX_MS)
		b->accept_backoff_ms = ACCEPT_BACKOFF_MAX_MS;
	if (b->accept_backoff_ms == ACCEPT_BACKOFF_MIN_MS || b->accept_backoff_ms == ACCEPT_BACKOFF_MAX_MS) {
		log_warning("cannot accept connections: %s; refused %llu so far, retrying in %u ms",
			    strerror(err), (unsigned long long)(b->stats.accept_failures - b->accept_failures_logged),
			    b->accept_backoff_ms);
		b->accept_failures_logged = b->stats.accept_failures;
	}
	tv.tv_sec = b->accept_backoff_ms / 1000;
	tv.tv_usec = (suseconds_t)(b->accept_backoff_ms % 1000) * 1000;
	evtimer_add(b->accept_retry, &tv);
	update_accepting(b);
}

static void on_accept_retry(evutil_socket_t fd, short what, void *userdata)
{
	(void)fd;
	(void)what;
	update_accepting(userdata);
}

/* Refuses a connection over a limit with an Error frame naming it, so a
 * well-behaved client can say why (best effort: the socket buffer of a
 * fresh connection always has room). */
static void refuse(int fd, const char *why)
{
	Crosspost__Header header = CROSSPOST__HEADER__INIT;
	Crosspost__Error error = CROSSPOST__ERROR__INIT;
	unsigned char buf[512];
	uint32_t lengths[2];
	size_t n;

	error.code = CROSSPOST__ERROR_CODE__ERROR_QUOTA;
	error.message = (char *)why;
	header.body_case = CROSSPOST__HEADER__BODY_ERROR;
	header.error = &error;
	n = crosspost__header__get_packed_size(&header);
	if (n + sizeof(lengths) <= sizeof(buf)) {
		lengths[0] = htole32((uint32_t)n);
		lengths[1] = 0;
		memcpy(buf, lengths, sizeof(lengths));
		crosspost__header__pack(&header, buf + sizeof(lengths));
		if (send(fd, buf, n + sizeof(lengths), MSG_NOSIGNAL | MSG_DONTWAIT) < 0) {
			/* nothing more to do: the connection closes below */
		}
	}
	close(fd);
}

static void on_accept(evutil_socket_t fd, short what, void *userdata)
{
	Broker *b = userdata;
	struct ucred cred = { .pid = 0, .uid = (uid_t)-1, .gid = (gid_t)-1 };
	socklen_t len = sizeof(cred);
	Connection *c;
	int client;

	(void)what;
	/* A few per wake-up, so that a flood of connects cannot starve the
	 * clients already connected. */
	for (int i = 0; i < 16 && b->accepting; i++) {
		client = accept4(fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
		if (client < 0) {
			if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM)
				shed_connection(b, errno);
			else if (errno != EAGAIN && errno != EINTR && errno != ECONNABORTED)
				log_warning("accept failed: %s", strerror(errno));
			return;
		}
		b->accept_backoff_ms = 0;
		if (getsockopt(client, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0) {
			log_warning("cannot read a new connection's credentials: %s", strerror(errno));
			close(client);
			continue;
		}
		if (b->n_connections >= b->limits.max_connections) {
			b->stats.quota_rejects++;
			log_debug("refused a connection from pid %d: max-connections (%u) reached",
				  (int)cred.pid, b->limits.max_connections);
			refuse(client, "the broker has reached max-connections");
			continue;
		}
		if (connection_new(b, client, cred.pid, cred.uid, cred.gid, &c) < 0) {
			log_error("out of memory accepting a connection");
			continue;
		}
		if (c->account->connections > b->limits.max_connections_per_uid) {
			b->stats.quota_rejects++;
			connection_send_error(c, 0, CROSSPOST__ERROR_CODE__ERROR_QUOTA,
					      "uid %u has reached max-connections-per-uid (%u)",
					      (unsigned)cred.uid, b->limits.max_connections_per_uid);
			connection_flush(c);
			connection_close(c, LOG_INFO, "uid %u is over max-connections-per-uid (%u)",
					 (unsigned)cred.uid, b->limits.max_connections_per_uid);
			continue;
		}
		c->accepted_ms = broker_now_ms();
		c->pending_prev = b->pending_tail;
		if (b->pending_tail)
			b->pending_tail->pending_next = c;
		else
			b->pending = c;
		b->pending_tail = c;
		if (b->n_pending++ == 0 || !evtimer_pending(b->handshake_timer, NULL))
			arm_handshake_timer(b);
		log_debug("connection %llu (pid %d, uid %u): accepted", (unsigned long long)c->id, (int)c->pid,
			  (unsigned)c->uid);
		update_accepting(b);
	}
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
	ports_sweep(b->ports);
}

void broker_resume_later(Broker *b, Connection *c)
{
	if (c->resume_pending)
		return;
	c->resume_pending = true;
	c->resume_next = NULL;
	*b->resumed_tail = c;
	b->resumed_tail = &c->resume_next;
	/* A timer due now fires after the loop's next poll for events. */
	if (!evtimer_pending(b->resume_event, NULL)) {
		static const struct timeval now = { 0, 0 };

		evtimer_add(b->resume_event, &now);
	}
}

void broker_forget_resume(Broker *b, Connection *c)
{
	if (!c->resume_pending)
		return;
	for (Connection **p = &b->resumed; *p; p = &(*p)->resume_next) {
		if (*p == c) {
			*p = c->resume_next;
			if (!*p)
				b->resumed_tail = p;
			break;
		}
	}
	c->resume_pending = false;
	c->resume_next = NULL;
}

static void on_resume(evutil_socket_t fd, short what, void *userdata)
{
	Broker *b = userdata;
	Connection *list = b->resumed;

	(void)fd;
	(void)what;
	b->resumed = NULL;
	b->resumed_tail = &b->resumed;
	while (list) {
		Connection *c = list;

		list = c->resume_next;
		c->resume_next = NULL;
		c->resume_pending = false;
		/* Read in this turn: those they resume wait for the next. */
		if (!c->closing && !c->paused)
			event_active(c->read_event, EV_READ, 0);
	}
}

int broker_new(Broker **ret, struct event_base *base, int listen_fd, const BrokerLimits *limits)
{
	Broker *b = calloc(1, sizeof(*b));

	if (!b) {
		close(listen_fd);
		return -ENOMEM;
	}
	b->base = base;
	b->limits = *limits;
	b->listen_fd = listen_fd;
	b->started_ms = broker_now_ms();
	b->reserve_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
	b->read_scratch = malloc(BROKER_READ_SCRATCH);
	evutil_make_socket_nonblocking(listen_fd);
	b->accept_event = event_new(base, listen_fd, EV_READ | EV_PERSIST, on_accept, b);
	b->accept_retry = evtimer_new(base, on_accept_retry, b);
	b->handshake_timer = evtimer_new(base, on_handshake_timer, b);
	b->reap_event = event_new(base, -1, 0, on_reap, b);
	b->resumed_tail = &b->resumed;
	b->resume_event = evtimer_new(base, on_resume, b);
	if (!b->read_scratch || !b->accept_event || !b->accept_retry || !b->handshake_timer || !b->reap_event ||
	    !b->resume_event ||
	    access_policy_new(&b->access, geteuid()) < 0 ||
	    registry_new(&b->registry) < 0 || port_table_new(&b->ports, b) < 0 ||
	    claim_table_new(&b->claims, b, contexts_claim_expired) < 0 ||
	    broadcast_table_new(&b->broadcasts, b) < 0 || monitor_set_new(&b->monitors) < 0 ||
	    account_table_new(&b->accounts, limits->bytes_per_uid, limits->fds_per_uid) < 0) {
		broker_free(b);
		return -ENOMEM;
	}
	set_accepting(b, true);
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
	if (b->accept_retry)
		event_free(b->accept_retry);
	if (b->handshake_timer)
		event_free(b->handshake_timer);
	if (b->reap_event)
		event_free(b->reap_event);
	if (b->resume_event)
		event_free(b->resume_event);
	claim_table_free(b->claims);
	broadcast_table_free(b->broadcasts);
	monitor_set_free(b->monitors);
	port_table_free(b->ports);
	registry_free(b->registry);
	site_cleanup();
	account_table_free(b->accounts);
	access_policy_free(b->access);
	if (b->listen_fd >= 0)
		close(b->listen_fd);
	if (b->reserve_fd >= 0)
		close(b->reserve_fd);
	free(b->read_scratch);
	free(b);
	return NULL;
}

void broker_set_access(Broker *b, AccessPolicy *policy)
{
	access_policy_free(b->access);
	b->access = policy;
}

void broker_reload_limits(Broker *b, const BrokerLimits *wanted,
			  void (*restart_needed)(const char *key, void *userdata), void *userdata)
{
	limits_apply_live(&b->limits, wanted, restart_needed, userdata);
	/* The pending limit and the handshake deadline may have moved. */
	arm_handshake_timer(b);
	update_accepting(b);
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
