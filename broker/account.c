/* SPDX-License-Identifier: MIT */
/* account.c - per-uid budgets of bytes and descriptors held by the broker. */
#include <errno.h>
#include <stdlib.h>

#include "account.h"

struct AccountTable {
	Account *accounts;     /* few: one per uid that is connected */
	uint64_t max_bytes, max_fds;
};

int account_table_new(AccountTable **ret, uint64_t max_bytes, uint64_t max_fds)
{
	AccountTable *t = calloc(1, sizeof(*t));

	if (!t)
		return -ENOMEM;
	t->max_bytes = max_bytes;
	t->max_fds = max_fds;
	*ret = t;
	return 0;
}

AccountTable *account_table_free(AccountTable *t)
{
	if (!t)
		return NULL;
	while (t->accounts) {
		Account *a = t->accounts;

		t->accounts = a->next;
		free(a);
	}
	free(t);
	return NULL;
}

Account *account_ref(AccountTable *t, uid_t uid)
{
	Account *a;

	for (a = t->accounts; a; a = a->next) {
		if (a->uid == uid) {
			a->refs++;
			return a;
		}
	}
	a = calloc(1, sizeof(*a));
	if (!a)
		return NULL;
	a->table = t;
	a->uid = uid;
	a->refs = 1;
	a->max_bytes = t->max_bytes;
	a->max_fds = t->max_fds;
	a->next = t->accounts;
	t->accounts = a;
	return a;
}

void account_unref(Account *a)
{
	AccountTable *t;

	if (!a || --a->refs > 0)
		return;
	t = a->table;
	for (Account **p = &t->accounts; *p; p = &(*p)->next) {
		if (*p == a) {
			*p = a->next;
			break;
		}
	}
	free(a);
}

bool account_over(const Account *a)
{
	return a->bytes > a->max_bytes || a->fds > a->max_fds;
}

bool account_under_low(const Account *a)
{
	return a->bytes <= a->max_bytes - a->max_bytes / 8 && a->fds <= a->max_fds - a->max_fds / 8;
}

bool account_may_reserve(const Account *a, uint64_t more, uint64_t buffered)
{
	uint64_t cap = a->max_bytes - a->max_bytes / 4;
	uint64_t others = a->bytes > buffered ? a->bytes - buffered : 0;

	return a->reserved + more <= cap && others + more <= cap;
}

void account_charge(Account *a, int64_t bytes, int64_t fds)
{
	/* Charges and releases come in pairs; a release past zero would be a
	 * bookkeeping bug, clamped so that it cannot wrap into "over budget". */
	a->bytes = bytes < 0 && (uint64_t)-bytes > a->bytes ? 0 : a->bytes + (uint64_t)bytes;
	a->fds = fds < 0 && (uint64_t)-fds > a->fds ? 0 : a->fds + (uint64_t)fds;
}

void account_table_totals(const AccountTable *t, uint64_t *ret_bytes, uint64_t *ret_fds)
{
	uint64_t bytes = 0, fds = 0;

	for (const Account *a = t->accounts; a; a = a->next) {
		bytes += a->bytes;
		fds += a->fds;
	}
	*ret_bytes = bytes;
	*ret_fds = fds;
}
