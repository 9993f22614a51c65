/* SPDX-License-Identifier: MIT */
/* cmd_gateway.c - `crosspost gateway`: runs crosspost-gateway, the program that links libwebsockets. */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "commands.h"

#define GATEWAY_PROGRAM "crosspost-gateway"

/* The gateway is a program of its own (docs/architecture.md, "The
 * gateway"), so that only it links libwebsockets; this command finds it
 * beside the crosspost binary, else on $PATH, and hands it the arguments. */
int cmd_gateway(int argc, char **argv)
{
	char self[PATH_MAX], path[PATH_MAX + sizeof(GATEWAY_PROGRAM)];
	ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	char **args = calloc((size_t)argc + 1, sizeof(*args));

	if (!args) {
		fprintf(stderr, "crosspost gateway: out of memory\n");
		return 1;
	}
	args[0] = GATEWAY_PROGRAM;
	for (int i = 1; i < argc; i++)
		args[i] = argv[i];
	if (n > 0) {
		char *slash;

		self[n] = '\0';
		slash = strrchr(self, '/');
		if (slash) {
			slash[1] = '\0';
			snprintf(path, sizeof(path), "%s%s", self, GATEWAY_PROGRAM);
			if (access(path, X_OK) == 0)
				execv(path, args);
		}
	}
	execvp(GATEWAY_PROGRAM, args);
	fprintf(stderr, "crosspost gateway: cannot run %s (beside crosspost or on $PATH): %s\n", GATEWAY_PROGRAM,
		strerror(errno));
	free(args);
	return 1;
}
