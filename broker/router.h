/* SPDX-License-Identifier: MIT */
/* router.h - the path of a post through the broker: find the target, check
 * targetOrigin (policy.h), stamp origin and source, queue the event. */
#ifndef CP_ROUTER_H
#define CP_ROUTER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "proto/crosspost.pb-c.h"

typedef struct Connection Connection;
typedef struct Frame Frame;

/* Routes one Post frame from sender; its payload and descriptors move into
 * the event, or are closed with a dropped message.  Answers
 * the sender with an Error only for a target id that never existed or a bad
 * targetOrigin; a mismatch or a closed target drops the message silently
 * (counted, logged at debug level) as the HTML Standard does. */
void router_post(Connection *sender, Frame *frame);

/* Routes one PortPost frame to the posting port's entangled peer, wherever
 * it lives; held while the peer is in transit (then *frame is set to NULL:
 * the router keeps it).  No origin check: the capability is the port. */
void router_port_post(Connection *sender, Frame **frame);

/* Checks the transferred buffers' descriptors of a message frame against
 * their stated sizes (buffers.h); on failure answers the sender's serial
 * with DataCloneError and returns false (the caller drops the frame, which
 * closes them). */
bool router_check_buffers(Connection *sender, uint32_t serial, const Frame *frame, const uint64_t *sizes,
			  size_t n_sizes);

#endif
