/* SPDX-License-Identifier: MIT */
/*
 * broker.h - the broker's core: accepts connections on a listening socket
 * (within the connection limits), and owns the window registry, the port
 * table and the per-uid accounts.  It never parses argv or reads the
 * environment; broker/main.c does that and hands it a socket and limits.
 */
#ifndef CP_BROKER_H
#define CP_BROKER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "limits.h"

/* The shared read buffer's size: one recvmsg carries many small frames. */
#define BROKER_READ_SCRATCH (64u * 1024u)

struct event_base;
struct event;
typedef struct AccessPolicy AccessPolicy;
typedef struct AccountTable AccountTable;
typedef struct BroadcastTable BroadcastTable;
typedef struct MonitorSet MonitorSet;
typedef struct ClaimTable ClaimTable;
typedef struct Registry Registry;
typedef struct PortTable PortTable;
typedef struct Connection Connection;

/* Counters, for Stats and the shutdown log line. */
typedef struct BrokerStats {
	uint64_t messages_delivered;       /* events queued for a receiver */
	uint64_t dropped_origin_mismatch;  /* targetOrigin did not match */
	uint64_t dropped_target_closed;    /* posted to a window that has closed */
	uint64_t senders_paused;           /* a sender stopped: too much parked at slow receivers */
	uint64_t connections_rejected;     /* closed for breaking the protocol */
	uint64_t quota_rejects;            /* refused for a limit: connections, windows, ports, sizes */
	uint64_t accept_failures;          /* accept() failed (descriptors exhausted) */
	uint64_t dropped_no_document;      /* posted to a window no process has claimed yet */
	uint64_t broadcasts_delivered;     /* BroadcastChannel events queued */
} BrokerStats;

typedef struct Broker {
	struct event_base *base;
	BrokerLimits limits;
	AccessPolicy *access;        /* who may do what (access.h); replaced on reload */
	int listen_fd;
	/* Kept open so that at EMFILE one descriptor can be freed to accept
	 * and close the waiting connection (the libuv trick): otherwise the
	 * listening socket stays readable and the loop spins. */
	int reserve_fd;
	struct event *accept_event, *accept_retry;
	bool accepting;
	uint32_t accept_backoff_ms;
	uint64_t accept_failures_logged;   /* accept_failures when last logged */
	Registry *registry;
	ClaimTable *claims;          /* windows waiting for a process (contexts.h) */
	BroadcastTable *broadcasts;  /* BroadcastChannels */
	MonitorSet *monitors;        /* connections watching the traffic (monitor.h) */
	PortTable *ports;
	AccountTable *accounts;
	Connection *connections;     /* live */
	uint32_t n_connections;
	Connection *pending, *pending_tail;   /* not greeted yet, oldest first */
	uint32_t n_pending;
	struct event *handshake_timer;
	Connection *dirty;           /* with output to flush at the end of this turn */
	/* Resumed during this turn, read in the next (broker_resume_later()),
	 * oldest first. */
	Connection *resumed, **resumed_tail;
	struct event *resume_event;
	Connection *graveyard;       /* closed, freed by reap_event */
	struct event *reap_event;
	uint64_t next_connection_id;
	uint64_t started_ms;
	/* Every connection reads into this first (stream_set_scratch()): an
	 * idle connection keeps no read buffer of its own. */
	uint8_t *read_scratch;
	BrokerStats stats;
} Broker;

/* Starts serving listen_fd (a listening Unix stream socket; the broker owns
 * it from now on) on base with the given limits (copied).  Returns 0 or
 * -ENOMEM. */
int broker_new(Broker **ret, struct event_base *base, int listen_fd, const BrokerLimits *limits);
/* Closes every connection and the listening socket. */
Broker *broker_free(Broker *broker);

/* Replaces the policy (the broker takes ownership of policy; the old one is
 * freed).  It applies to requests from now on: connections already
 * greeted stay, windows already registered keep their origins.  A new
 * broker has a policy with no sections: its own euid may do everything,
 * other uids nothing. */
void broker_set_access(Broker *broker, AccessPolicy *policy);

/* Reload: applies the limits of wanted that may change while running
 * (limits_apply_live()), and calls restart_needed for the others that
 * differ. */
void broker_reload_limits(Broker *broker, const BrokerLimits *wanted,
			  void (*restart_needed)(const char *key, void *userdata), void *userdata);

/* Has connection read again in the loop's next turn, after the loop has
 * polled for new events: a resumed sender's frames park at receivers whose
 * writes resume other senders, and reading each one within the turn that
 * resumed it chained turns together without end under a flood of 100
 * senders (no accept, no timer, no other client for seconds). */
void broker_resume_later(Broker *broker, Connection *connection);
/* Takes connection (closing) off that list. */
void broker_forget_resume(Broker *broker, Connection *connection);

/* Writes queued output of every connection touched during this turn: one
 * sendmsg per receiver per turn rather than one per message. */
void broker_flush(Broker *broker);

/* A connection said Hello (or went away before): it no longer counts
 * against the pending limit. */
void broker_connection_greeted(Broker *broker, Connection *connection);
/* A connection went away: accepting may resume. */
void broker_connection_gone(Broker *broker, Connection *connection);

/* Milliseconds on the monotonic clock. */
uint64_t broker_now_ms(void);

#endif
