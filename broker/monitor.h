/* SPDX-License-Identifier: MIT */
/*
 * monitor.h - `crosspost monitor`: connections that asked (Monitor, within
 * the policy's `monitor` key) get a MonitorEvent for every message the
 * broker routes - delivered, or dropped with the reason - and for every
 * window's lifecycle.  A monitor is a bystander: one whose queue is full
 * loses events (counted, and told in the next one it gets), and never slows
 * a posting client.  With no monitor, each hook costs one test.
 */
#ifndef CP_MONITOR_H
#define CP_MONITOR_H

#include <stdbool.h>
#include <stdint.h>

#include "proto/crosspost.pb-c.h"

typedef struct Broker Broker;
typedef struct Connection Connection;
typedef struct Frame Frame;
typedef struct Window Window;
typedef struct MonitorSet MonitorSet;

int monitor_set_new(MonitorSet **ret);
MonitorSet *monitor_set_free(MonitorSet *set);

/* Makes c a monitor with filter (copied).  Returns 0 or -ENOMEM. */
int monitor_add(MonitorSet *set, Connection *c, const Crosspost__Monitor *filter);
/* c goes away (or was never a monitor). */
void monitor_remove(MonitorSet *set, const Connection *c);

bool monitor_active(const MonitorSet *set);
/* Monitors, and events lost for them so far (Stats). */
void monitor_totals(const MonitorSet *set, uint64_t *ret_monitors, uint64_t *ret_lost);

/* A message: kind DELIVERED, DROPPED (reason says why), PORT_MESSAGE
 * (port_id) or BROADCAST (port_id: the channel).  from and to may be NULL
 * (a port's message, a target that has closed: to_id then).  payload: the
 * message's frame, for monitors that asked for data (may be NULL). */
void monitor_message(Broker *broker, Crosspost__MonitorKind kind, const Window *from, const Window *to,
		     uint64_t to_id, const char *target_origin, const char *reason, uint64_t port_id,
		     Frame *payload);

/* A window opened (related: its opener or parent, or NULL), closed (reason)
 * or navigated. */
void monitor_window(Broker *broker, Crosspost__MonitorKind kind, const Window *w, const Window *related,
		    const char *reason);

#endif
