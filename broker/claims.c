/* SPDX-License-Identifier: MIT */
/* claims.c - one-time, expiring tokens that let a process host a pending window. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include <event2/event.h>

#include "broker.h"
#include "claims.h"
#include "connection.h"
#include "registry.h"

struct ClaimTable {
	Broker *broker;
	claim_expired_fn expired;
	Claim *head, *tail;          /* by deadline: every claim has the same timeout */
	uint32_t count;
	struct event *timer;
};

static void on_timer(evutil_socket_t fd, short what, void *userdata);

int claim_table_new(ClaimTable **ret, Broker *broker, claim_expired_fn expired)
{
	ClaimTable *t = calloc(1, sizeof(*t));

	if (!t)
		return -ENOMEM;
	t->broker = broker;
	t->expired = expired;
	if (broker->base) {
		t->timer = evtimer_new(broker->base, on_timer, t);
		if (!t->timer) {
			free(t);
			return -ENOMEM;
		}
	}
	*ret = t;
	return 0;
}

static void unlink_claim(ClaimTable *t, Claim *c)
{
	if (c->prev)
		c->prev->next = c->next;
	else
		t->head = c->next;
	if (c->next)
		c->next->prev = c->prev;
	else
		t->tail = c->prev;
	t->count--;
	if (c->creator && c->creator->n_pending_claims > 0)
		c->creator->n_pending_claims--;
	if (c->window)
		c->window->claim = NULL;
	/* The token must not linger in freed memory. */
	explicit_bzero(c->token, sizeof(c->token));
	free(c);
}

ClaimTable *claim_table_free(ClaimTable *t)
{
	if (!t)
		return NULL;
	while (t->head)
		unlink_claim(t, t->head);
	if (t->timer)
		event_free(t->timer);
	free(t);
	return NULL;
}

static void arm(ClaimTable *t)
{
	struct timeval tv;
	uint64_t now, due;

	if (!t->timer)
		return;
	if (!t->head) {
		evtimer_del(t->timer);
		return;
	}
	now = broker_now_ms();
	due = t->head->deadline_ms > now ? t->head->deadline_ms - now : 0;
	tv.tv_sec = (time_t)(due / 1000);
	tv.tv_usec = (suseconds_t)(due % 1000) * 1000;
	evtimer_add(t->timer, &tv);
}

static void on_timer(evutil_socket_t fd, short what, void *userdata)
{
	ClaimTable *t = userdata;
	uint64_t now = broker_now_ms();

	(void)fd;
	(void)what;
	while (t->head && t->head->deadline_ms <= now) {
		Window *w = t->head->window;

		unlink_claim(t, t->head);
		if (w)
			t->expired(t->broker, w);
	}
	arm(t);
	broker_flush(t->broker);
}

int claims_issue(ClaimTable *t, Window *window, Connection *creator, uint64_t timeout_ms, Claim **ret)
{
	static const char hex[] = "0123456789abcdef";
	unsigned char bytes[CLAIM_TOKEN_LENGTH / 2];
	size_t got = 0;
	Claim *c;

	while (got < sizeof(bytes)) {
		ssize_t n = getrandom(bytes + got, sizeof(bytes) - got, 0);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -EIO;
		got += (size_t)n;
	}
	c = calloc(1, sizeof(*c));
	if (!c) {
		explicit_bzero(bytes, sizeof(bytes));
		return -ENOMEM;
	}
	for (size_t i = 0; i < sizeof(bytes); i++) {
		c->token[2 * i] = hex[bytes[i] >> 4];
		c->token[2 * i + 1] = hex[bytes[i] & 15];
	}
	explicit_bzero(bytes, sizeof(bytes));
	c->window = window;
	c->creator = creator;
	c->deadline_ms = broker_now_ms() + timeout_ms;
	c->prev = t->tail;
	if (t->tail)
		t->tail->next = c;
	else
		t->head = c;
	t->tail = c;
	t->count++;
	if (creator)
		creator->n_pending_claims++;
	window->claim = c;
	if (t->head == c)
		arm(t);
	*ret = c;
	return 0;
}

/* Compares a live token with what a client sent, in time that depends on
 * neither (both are at most CLAIM_TOKEN_LENGTH bytes here). */
static bool token_equal(const char *token, const char *given, size_t given_len)
{
	unsigned char diff = given_len != CLAIM_TOKEN_LENGTH;

	for (size_t i = 0; i < CLAIM_TOKEN_LENGTH; i++)
		diff |= (unsigned char)(token[i] ^ (i < given_len ? given[i] : 0));
	return diff == 0;
}

Claim *claims_find(ClaimTable *t, const char *token)
{
	size_t len = strnlen(token, CLAIM_TOKEN_LENGTH + 1);
	Claim *found = NULL;

	/* Every claim is compared, found or not. */
	for (Claim *c = t->head; c; c = c->next)
		if (token_equal(c->token, token, len) && !found)
			found = c;
	if (!found || found->deadline_ms <= broker_now_ms())
		return NULL;
	return found;
}

void claims_cancel(ClaimTable *t, Claim *c)
{
	unlink_claim(t, c);
	arm(t);
}

void claims_connection_closed(ClaimTable *t, Connection *connection)
{
	for (Claim *c = t->head; c; c = c->next)
		if (c->creator == connection)
			c->creator = NULL;
	connection->n_pending_claims = 0;
}

uint32_t claims_count(const ClaimTable *t)
{
	return t->count;
}
