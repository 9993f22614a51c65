/* SPDX-License-Identifier: MIT */
/* socket_path.c - the broker socket's default path. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "socket_path.h"

char *socket_path_default(void)
{
	const char *env = getenv("CROSSPOST_SOCKET");
	char *path = NULL;

	if (env && *env)
		return strdup(env);
	env = getenv("XDG_RUNTIME_DIR");
	if (env && *env) {
		if (asprintf(&path, "%s/crosspost/broker.sock", env) < 0)
			return NULL;
		return path;
	}
	if (asprintf(&path, "/tmp/crosspost-%u/broker.sock", (unsigned)getuid()) < 0)
		return NULL;
	return path;
}
