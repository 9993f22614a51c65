/* SPDX-License-Identifier: MIT */
/* driver.h - handles each frame a client sends: the handshake, requests to
 * the broker itself (register, lookup, list, navigate, sync), and posts,
 * which it passes to the router. */
#ifndef CP_DRIVER_H
#define CP_DRIVER_H

typedef struct Connection Connection;
typedef struct Frame Frame;

/* Acts on one frame from connection; may close the connection.  May keep
 * the frame (setting *frame to NULL); otherwise the caller frees it. */
void driver_dispatch(Connection *connection, Frame **frame);

#endif
