/* SPDX-License-Identifier: MIT */
/* router.h - the path of a post through the broker: find the target, check
 * targetOrigin (policy.h), stamp origin and source, queue the event. */
#ifndef CP_ROUTER_H
#define CP_ROUTER_H

#include <stdint.h>

#include "proto/crosspost.pb-c.h"

struct evbuffer;
typedef struct Connection Connection;

/* Routes one Post from sender; the payload is moved into the event.  Answers
 * the sender with an Error only for a target id that never existed or a bad
 * targetOrigin; a mismatch or a closed target drops the message silently
 * (counted, logged at debug level) as the HTML Standard does. */
void router_post(Connection *sender, uint32_t serial, const Crosspost__Post *post,
		 struct evbuffer *payload);

#endif
