/* SPDX-License-Identifier: MIT */
/* socket_path.h - where the broker listens, the same rule for every tool. */
#ifndef CP_SOCKET_PATH_H
#define CP_SOCKET_PATH_H

/* $CROSSPOST_SOCKET, else $XDG_RUNTIME_DIR/crosspost/broker.sock, else
 * /tmp/crosspost-$UID/broker.sock.  malloc'd; NULL when out of memory. */
char *socket_path_default(void);

#endif
