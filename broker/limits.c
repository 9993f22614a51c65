/* SPDX-License-Identifier: MIT */
/* limits.c - the broker's limits: defaults, parsing by name, consistency. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "frame.h"
#include "frame_limits.h"
#include "limits.h"

#define KIB (1024ull)
#define MIB (1024ull * 1024ull)
#define GIB (1024ull * 1024ull * 1024ull)

void limits_init(BrokerLimits *l)
{
	*l = (BrokerLimits){
		.max_message_size = FRAME_PAYLOAD_MAX,
		.max_fds_per_message = 16,
		.queue_high = 1 * MIB,
		.queue_low = 256 * KIB,
		.queue_fds_high = 64,
		.park_high = 1 * MIB,
		.park_low = 256 * KIB,
		.bytes_per_uid = 512 * MIB,
		.fds_per_uid = 4096,
		.max_connections = 4096,
		.max_connections_per_uid = 256,
		.max_pending_connections = 64,
		.handshake_timeout_ms = 5000,
		.transit_timeout_ms = 10000,
		.max_windows_per_connection = 1024,
		.max_ports_per_connection = 16384,
		.max_url_length = FRAME_URL_MAX,
		.max_name_length = FRAME_NAME_MAX,
		.max_frame_depth = 32,
		.max_frames = 1000,
		.max_pending_claims = 64,
		.claim_timeout_ms = 30000,
		.max_broadcasts_per_connection = 1024,
	};
}

typedef enum LimitKind { KIND_SIZE, KIND_COUNT, KIND_DURATION } LimitKind;

typedef struct LimitField {
	const char *key;
	LimitKind kind;
	size_t offset;
	size_t width;         /* sizeof the field: 4 or 8 */
	uint64_t min, max;    /* accepted range (durations in ms) */
	bool live;            /* may change while the broker runs (limits_apply_live) */
} LimitField;

#define FIELD(key, kind, member, min, max) \
	{ key, kind, offsetof(BrokerLimits, member), sizeof(((BrokerLimits *)0)->member), min, max, false }
/* Read afresh each time they are used, and only for what comes next (a
 * new connection, a new deadline), so a change cannot strand anything
 * already admitted.  The others are announced in Welcome, size buffers
 * and marks already crossed, or size the accounts. */
#define LIVE_FIELD(key, kind, member, min, max) \
	{ key, kind, offsetof(BrokerLimits, member), sizeof(((BrokerLimits *)0)->member), min, max, true }

/* A zero would mean "nothing may pass", never "no limit" (a config
 * accepted and then silently changed is the classic mistake): every
 * minimum is at least 1. */
static const LimitField fields[] = {
	FIELD("max-message-size", KIND_SIZE, max_message_size, 1, FRAME_PAYLOAD_MAX),
	FIELD("max-fds-per-message", KIND_COUNT, max_fds_per_message, 1, FRAME_FDS_MAX),
	FIELD("queue-high", KIND_SIZE, queue_high, 64 * KIB, 4 * GIB),
	FIELD("queue-low", KIND_SIZE, queue_low, 1, 4 * GIB),
	FIELD("queue-fds-high", KIND_COUNT, queue_fds_high, 1, 1u << 20),
	FIELD("park-high", KIND_SIZE, park_high, 64 * KIB, 4 * GIB),
	FIELD("park-low", KIND_SIZE, park_low, 1, 4 * GIB),
	FIELD("bytes-per-uid", KIND_SIZE, bytes_per_uid, 1 * MIB, 1024 * GIB),
	FIELD("fds-per-uid", KIND_COUNT, fds_per_uid, 16, 1u << 24),
	LIVE_FIELD("max-connections", KIND_COUNT, max_connections, 1, 1u << 24),
	LIVE_FIELD("max-connections-per-uid", KIND_COUNT, max_connections_per_uid, 1, 1u << 24),
	LIVE_FIELD("max-pending-connections", KIND_COUNT, max_pending_connections, 1, 1u << 24),
	LIVE_FIELD("handshake-timeout", KIND_DURATION, handshake_timeout_ms, 1, 3600 * 1000),
	LIVE_FIELD("transit-timeout", KIND_DURATION, transit_timeout_ms, 1, 3600 * 1000),
	FIELD("max-windows-per-connection", KIND_COUNT, max_windows_per_connection, 1, 1u << 24),
	FIELD("max-ports-per-connection", KIND_COUNT, max_ports_per_connection, 2, 1u << 26),
	FIELD("max-url-length", KIND_SIZE, max_url_length, 16, FRAME_URL_MAX),
	FIELD("max-name-length", KIND_SIZE, max_name_length, 1, FRAME_NAME_MAX),
	FIELD("max-frame-depth", KIND_COUNT, max_frame_depth, 1, 1024),
	FIELD("max-frames", KIND_COUNT, max_frames, 1, 1u << 20),
	FIELD("max-pending-claims", KIND_COUNT, max_pending_claims, 1, 1u << 20),
	FIELD("claim-timeout", KIND_DURATION, claim_timeout_ms, 1, 3600 * 1000),
	FIELD("max-broadcasts-per-connection", KIND_COUNT, max_broadcasts_per_connection, 1, 1u << 24),
};

/* "1234", "64KiB", "8MiB", "1GiB" (also "B"); durations "250ms", "5s". */
static int parse_value(LimitKind kind, const char *text, uint64_t *ret)
{
	static const struct { const char *suffix; uint64_t scale; } sizes[] = {
		{ "", 1 }, { "B", 1 }, { "KiB", KIB }, { "MiB", MIB }, { "GiB", GIB },
	}, durations[] = {
		{ "ms", 1 }, { "s", 1000 },
	};
	const __typeof__(sizes[0]) *units = kind == KIND_DURATION ? durations : sizes;
	size_t n_units = kind == KIND_DURATION ? 2 : (kind == KIND_SIZE ? 5 : 1);
	unsigned long long v;
	char *end;

	if (*text < '0' || *text > '9')
		return -EINVAL;
	errno = 0;
	v = strtoull(text, &end, 10);
	if (errno)
		return -EINVAL;
	for (size_t i = 0; i < n_units; i++) {
		if (strcmp(end, units[i].suffix) == 0) {
			if (v > UINT64_MAX / units[i].scale)
				return -EINVAL;
			*ret = v * units[i].scale;
			return 0;
		}
	}
	return -EINVAL;
}

int limits_set(BrokerLimits *l, const char *key, const char *value, const char **ret_reason)
{
	for (size_t i = 0; i < sizeof(fields) / sizeof(fields[0]); i++) {
		const LimitField *f = &fields[i];
		uint64_t v;

		if (strcmp(key, f->key) != 0)
			continue;
		if (parse_value(f->kind, value, &v) < 0) {
			*ret_reason = f->kind == KIND_DURATION ? "not a duration (e.g. 500ms, 5s)" :
				      f->kind == KIND_SIZE ? "not a size (e.g. 4096, 64KiB, 8MiB, 1GiB)" :
				      "not a whole number";
			return -EINVAL;
		}
		if (v < f->min || v > f->max) {
			*ret_reason = "out of the range this limit accepts (docs/security.md)";
			return -EINVAL;
		}
		if (f->width == sizeof(uint32_t))
			*(uint32_t *)((char *)l + f->offset) = (uint32_t)v;
		else
			*(uint64_t *)((char *)l + f->offset) = v;
		return 0;
	}
	*ret_reason = "no such limit (crosspostd --print-limits lists them)";
	return -ENOENT;
}

int limits_check(const BrokerLimits *l, const char **ret_reason)
{
	if (l->queue_low >= l->queue_high)
		*ret_reason = "queue-low must be below queue-high";
	else if (l->park_low >= l->park_high)
		*ret_reason = "park-low must be below park-high";
	else if (l->max_connections_per_uid > l->max_connections)
		*ret_reason = "max-connections-per-uid must not exceed max-connections";
	else if (l->bytes_per_uid < 2 * (l->queue_high + l->park_high))
		*ret_reason = "bytes-per-uid must hold at least two full queues (2 x (queue-high + park-high))";
	/* A frame over 1 MiB is admitted against its uid's budget before it
	 * is read, and large frames may take 3/4 of the budget
	 * (account_may_reserve): a bigger one could never be admitted, and its
	 * sender would wait for ever. */
	else if (l->max_message_size + FRAME_PREFIX_SIZE + FRAME_HEADER_MAX > l->bytes_per_uid - l->bytes_per_uid / 4)
		*ret_reason = "max-message-size, with a frame's header, must fit in 3/4 of bytes-per-uid "
			      "(the share of a uid's budget that large frames may take)";
	else
		return 0;
	return -EINVAL;
}

static uint64_t field_get(const BrokerLimits *l, const LimitField *f)
{
	return f->width == sizeof(uint32_t) ? *(const uint32_t *)((const char *)l + f->offset) :
	       *(const uint64_t *)((const char *)l + f->offset);
}

void limits_apply_live(BrokerLimits *running, const BrokerLimits *wanted,
		       void (*restart_needed)(const char *key, void *userdata), void *userdata)
{
	for (size_t i = 0; i < sizeof(fields) / sizeof(fields[0]); i++) {
		const LimitField *f = &fields[i];

		if (field_get(running, f) == field_get(wanted, f))
			continue;
		if (!f->live) {
			restart_needed(f->key, userdata);
			continue;
		}
		memcpy((char *)running + f->offset, (const char *)wanted + f->offset, f->width);
	}
}

void limits_print(const BrokerLimits *l, void (*line)(const char *text, void *userdata), void *userdata)
{
	for (size_t i = 0; i < sizeof(fields) / sizeof(fields[0]); i++) {
		const LimitField *f = &fields[i];
		uint64_t v = field_get(l, f);
		char text[128];

		if (f->kind == KIND_DURATION)
			snprintf(text, sizeof(text), "%s = %llums", f->key, (unsigned long long)v);
		else
			snprintf(text, sizeof(text), "%s = %llu", f->key, (unsigned long long)v);
		line(text, userdata);
	}
}
