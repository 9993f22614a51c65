/* SPDX-License-Identifier: MIT */
/*
 * service.h - crosspostd under systemd: the listening socket it passes
 * (socket activation, sd_listen_fds()) and readiness notification
 * (sd_notify()).  Used by main.c only; docs/architecture.md, crosspostd(8).
 */
#ifndef CP_SERVICE_H
#define CP_SERVICE_H

#include <stddef.h>

/* The listening socket systemd passed (LISTEN_FDS, for this pid), and
 * clears the LISTEN_* variables.  Returns 0 when none was passed, 1 with
 * *ret_fd set (close-on-exec) when exactly one was, or -1 with the reason
 * in problem when several were (all of them closed): crosspostd listens on
 * one socket.  What the one descriptor is, socket_inherited_check() says. */
int service_listen_fd(int *ret_fd, char *problem, size_t problem_size);

/* Sends a state to the service manager: "READY=1\nSTATUS=...",
 * "STOPPING=1", ... (sd_notify(3)); does nothing without $NOTIFY_SOCKET,
 * and a failure to send is logged at debug level only.  The variable is
 * kept, for the notifications that follow. */
void service_notify(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* "RELOADING=1" with the MONOTONIC_USEC= that systemd's notify-reload
 * services need, and a STATUS naming file. */
void service_notify_reloading(const char *file);

#endif
