/* SPDX-License-Identifier: MIT */
/* service.c - socket activation and readiness notification, through libsystemd. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <systemd/sd-daemon.h>

#include "log.h"
#include "service.h"

int service_listen_fd(int *ret_fd, char *problem, size_t size)
{
	/* 1: the variables go, so that nothing started later takes them
	 * for its own. */
	int n = sd_listen_fds(1);

	if (n < 0) {
		snprintf(problem, size, "cannot read the sockets systemd passed (LISTEN_FDS): %s", strerror(-n));
		return -1;
	}
	if (n == 0)
		return 0;
	if (n > 1) {
		for (int i = 0; i < n; i++)
			close(SD_LISTEN_FDS_START + i);
		snprintf(problem, size, "systemd passed %d sockets; crosspostd listens on exactly one (give the socket "
			 "unit one ListenStream= line)", n);
		return -1;
	}
	*ret_fd = SD_LISTEN_FDS_START;
	return 1;
}

void service_notify(const char *fmt, ...)
{
	char state[2048];
	va_list ap;
	int r;

	va_start(ap, fmt);
	vsnprintf(state, sizeof(state), fmt, ap);
	va_end(ap);
	r = sd_notify(0, state);
	if (r < 0)
		log_debug("cannot notify the service manager (%s): %s", state, strerror(-r));
}

void service_notify_reloading(const char *file)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	service_notify("RELOADING=1\nMONOTONIC_USEC=%llu\nSTATUS=Reloading %s",
		       (unsigned long long)ts.tv_sec * 1000000ULL + (unsigned long long)ts.tv_nsec / 1000, file);
}
