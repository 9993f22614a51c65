/* SPDX-License-Identifier: MIT */
/*
 * claims.h - claim tokens: how a process becomes the host of a window that
 * another window opened (window.open) or framed (an iframe).
 *
 * The broker creates the window at once, pending, and gives its creator a
 * token; whichever process presents the token first (Claim) hosts the
 * window from then on.  A token is 128 bits from getrandom(), so it cannot
 * be guessed; it is good once, and for claim-timeout only: a window nobody
 * claimed by then is discarded.  A connection may have at most
 * max-pending-claims windows waiting for a claim (docs/security.md).
 */
#ifndef CP_CLAIMS_H
#define CP_CLAIMS_H

#include <stdbool.h>
#include <stdint.h>

typedef struct Broker Broker;
typedef struct Connection Connection;
typedef struct Window Window;
typedef struct ClaimTable ClaimTable;

/* 16 random bytes in lowercase hex, and the terminating NUL. */
#define CLAIM_TOKEN_LENGTH 32

typedef struct Claim {
	char token[CLAIM_TOKEN_LENGTH + 1];
	Window *window;             /* pending, waiting for this claim */
	Connection *creator;        /* whose window opened it; NULL once gone */
	uint64_t deadline_ms;       /* broker_now_ms() after which it expires */
	struct Claim *prev, *next;  /* the table's, oldest deadline first */
} Claim;

/* Called when a claim expires: the table has removed the claim; the
 * callee discards its window. */
typedef void (*claim_expired_fn)(Broker *broker, Window *window);

int claim_table_new(ClaimTable **ret, Broker *broker, claim_expired_fn expired);
/* Frees the table and the claims left in it (their windows are the
 * registry's). */
ClaimTable *claim_table_free(ClaimTable *table);

/* A new claim for pending window, created by creator (counted in its
 * n_pending_claims), expiring after timeout_ms.  Sets window->claim.
 * Returns 0, or -ENOMEM / -EIO (no random bytes: getrandom() failed). */
int claims_issue(ClaimTable *table, Window *window, Connection *creator, uint64_t timeout_ms,
		 Claim **ret);

/* The live claim token names; NULL for an unknown, used or expired token.
 * Every live token is compared, in constant time. */
Claim *claims_find(ClaimTable *table, const char *token);

/* The claim is used (its window claimed), or its window discarded before
 * anyone claimed it: it goes (freed, window->claim cleared). */
void claims_cancel(ClaimTable *table, Claim *claim);

/* A connection is going away: the claims it created stay valid (the
 * process it handed a token to may still claim), but no longer count
 * against it. */
void claims_connection_closed(ClaimTable *table, Connection *connection);

/* Live claims. */
uint32_t claims_count(const ClaimTable *table);

#endif
