/* SPDX-License-Identifier: MIT */
/*
 * limits.h - every bound the broker applies to what clients send and to
 * what it holds for them, with its default and where the default comes
 * from.  docs/security.md has the same table for users; `--limit KEY=VALUE`
 * and the config file set them by the names below.
 */
#ifndef CP_LIMITS_H
#define CP_LIMITS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct BrokerLimits {
	/* Payload bytes of one message.  Default 128 MiB, the protocol's
	 * ceiling (FRAME_PAYLOAD_MAX) and the D-Bus specification's
	 * (dbus-broker MESSAGE_SIZE_MAX); dbus-daemon's system bus uses 32 MiB,
	 * NATS 1 MiB.  Large data should be transferred, not copied. */
	uint64_t max_message_size;
	/* Transferred buffers (descriptors) in one message.  16: dbus-daemon's
	 * max_message_unix_fds after CVE-2014-3636. */
	uint32_t max_fds_per_message;
	/* A receiver whose queue holds more than queue_high bytes (or
	 * queue_fds_high descriptors) takes no more frames into its socket
	 * buffer until it drains under queue_low: later frames wait in the
	 * broker, charged to their senders.  1 MiB: an eighth of
	 * dbus-broker's per-connection share (8 MiB, "lowered from
	 * dbus-daemon's 127 MiB to avoid DoS"), because a sender faster than
	 * its receiver keeps the pair between the marks, and at 8 MiB that was
	 * 2-16 MiB in flight, out of the caches: small messages cost more
	 * there (docs/performance.md, fifth round). */
	uint64_t queue_high, queue_low;
	uint32_t queue_fds_high;
	/* A sender whose frames waiting at congested receivers total more than
	 * park_high bytes is not read until they are under park_low: the one
	 * place a slow receiver slows a sender, and only once that sender has
	 * this much waiting for it.  1 MiB, as queue_high. */
	uint64_t park_high, park_low;
	/* Everything held for one uid's connections: partial input, queues,
	 * parked and held messages; descriptors likewise.  512 MiB and 4096:
	 * dbus-broker's launcher (64 x 8 MiB, 64 x 64 fds); kept when the
	 * queue marks went to 1 MiB. */
	uint64_t bytes_per_uid;
	uint32_t fds_per_uid;
	/* Connections in all, per uid, and before their Hello.  64 pending:
	 * dbus-daemon's max_incomplete_connections (CVE-2014-3639); 256 per
	 * uid: its max_connections_per_user on the system bus. */
	uint32_t max_connections, max_connections_per_uid, max_pending_connections;
	/* A connection that has not said Hello by then is closed.  5 s:
	 * dbus-daemon's hardened auth_timeout (CVE-2014-3639); NATS uses 2 s. */
	uint32_t handshake_timeout_ms;
	/* A port handed over must be released by its old owner within this
	 * time, or it lands without the messages that owner still had.
	 * Ten round trips of a busy client are far below it. */
	uint32_t transit_timeout_ms;
	/* Per connection: windows and MessagePorts.  Bounds per-connection
	 * bookkeeping (dbus CVE-2014-3638: bounded pending replies). */
	uint32_t max_windows_per_connection, max_ports_per_connection;
	/* Bytes of a window's URL and name; a targetOrigin is bounded like a
	 * URL.  With these, every header the broker builds (an event carries
	 * an origin, a name and a targetOrigin) fits FRAME_HEADER_MAX by
	 * construction (checked by limits_check()). */
	uint32_t max_url_length, max_name_length;
	/* Browsing contexts (contexts.h).  Frames nest at most
	 * max_frame_depth deep below their top-level window (every walk of a
	 * tree is bounded by it), and one tree holds at most max_frames
	 * windows: 1000 is Chromium's limit on frames in a page
	 * (Page::kMaxNumberOfFrames). */
	uint32_t max_frame_depth, max_frames;
	/* Windows one connection opened or framed that no process has claimed
	 * yet, and how long a claim token stays good (30 s: a process start
	 * and a connection, with a wide margin; a window nobody claims is
	 * discarded then). */
	uint32_t max_pending_claims, claim_timeout_ms;
	/* BroadcastChannels per connection: bounded bookkeeping, like ports. */
	uint32_t max_broadcasts_per_connection;
} BrokerLimits;

/* The defaults above. */
void limits_init(BrokerLimits *limits);

/* Sets one limit from its name and text ("queue-high", "8MiB"; sizes take
 * B/KiB/MiB/GiB, durations ms/s).  Returns 0, -ENOENT (unknown key) or
 * -EINVAL (a value that is not valid for the key), with a static reason. */
int limits_set(BrokerLimits *limits, const char *key, const char *value, const char **ret_reason);

/* Checks that the limits fit together (low marks under high marks, a uid's
 * budget holds two full queues and the largest frame).  Returns 0 or
 * -EINVAL with a static reason. */
int limits_check(const BrokerLimits *limits, const char **ret_reason);

/* A reload (SIGHUP): copies into running the limits of wanted that may
 * change while the broker runs (max-connections, max-connections-per-uid,
 * max-pending-connections, handshake-timeout, transit-timeout: they apply
 * to what comes next), and calls restart_needed with the key of each other
 * limit that differs (running keeps its value). */
void limits_apply_live(BrokerLimits *running, const BrokerLimits *wanted,
		       void (*restart_needed)(const char *key, void *userdata), void *userdata);

/* One "key = value" line per limit, for --print-limits; static buffer. */
void limits_print(const BrokerLimits *limits, void (*line)(const char *text, void *userdata),
		  void *userdata);

#endif
