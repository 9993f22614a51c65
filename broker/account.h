/* SPDX-License-Identifier: MIT */
/*
 * account.h - what the broker holds for each uid: bytes and descriptors
 * of every connection of that uid (partial input, output queue) and of the
 * messages it sent that wait in the broker (parked at a congested
 * receiver, held for a port in transit).  Over its budget, the uid's
 * connections are not read until it is back under the low mark (7/8).
 *
 * The uid is the trust boundary, as in dbus-broker: a client can exhaust
 * the budget its own uid shares, never another uid's.
 */
#ifndef CP_ACCOUNT_H
#define CP_ACCOUNT_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

typedef struct Connection Connection;
typedef struct AccountTable AccountTable;

typedef struct Account {
	AccountTable *table;
	uid_t uid;
	unsigned refs;               /* connections, parked and held messages */
	uint32_t connections;
	uint64_t bytes;              /* charged, reservations included */
	uint64_t reserved;           /* large frames admitted while being read */
	uint64_t fds;
	uint64_t max_bytes;          /* the budget (limits.h bytes_per_uid) */
	uint64_t max_fds;
	Connection *waiting;         /* paused on this account (Connection.wait_next) */
	struct Account *next;
} Account;

int account_table_new(AccountTable **ret, uint64_t max_bytes, uint64_t max_fds);
AccountTable *account_table_free(AccountTable *table);

/* The account of uid, created on first use, with a reference for the
 * caller.  NULL when out of memory. */
Account *account_ref(AccountTable *table, uid_t uid);
/* Drops a reference; the account goes with its last one. */
void account_unref(Account *account);

/* True when the account is over its budget: its connections should not be
 * read. */
bool account_over(const Account *account);
/* True when the account is back under its low mark. */
bool account_under_low(const Account *account);
/* True when a large frame of `more` bytes may be admitted: reservations
 * take at most 3/4 of the budget, so that small frames always have room.
 * `buffered` of its bytes have arrived and are charged already (as input):
 * the reservation takes their place, so they do not count twice. */
bool account_may_reserve(const Account *account, uint64_t more, uint64_t buffered);

void account_charge(Account *account, int64_t bytes, int64_t fds);

/* Totals over every account, for Stats. */
void account_table_totals(const AccountTable *table, uint64_t *ret_bytes, uint64_t *ret_fds);

#endif
