/* SPDX-License-Identifier: MIT */
/* driver_contexts.h - the broker's side of the browsing-context and
 * BroadcastChannel requests (OpenWindow, CreateFrame, RemoveFrame, Claim,
 * CloseWindow, Relation, BroadcastOpen/Post/Close): every id checked
 * against this connection's own windows, every size and count bounded. */
#ifndef CP_DRIVER_CONTEXTS_H
#define CP_DRIVER_CONTEXTS_H

typedef struct Connection Connection;
typedef struct Frame Frame;

/* Acts on one such frame from connection; may close the connection. */
void driver_contexts_dispatch(Connection *connection, Frame *frame);

#endif
