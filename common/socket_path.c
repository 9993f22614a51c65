/* SPDX-License-Identifier: MIT */
/* socket_path.c - the broker socket's default path and its folder. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
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

int socket_path_make_dir(const char *path)
{
	char *dir = strdup(path), *slash;
	struct stat st;
	int r = 0;

	if (!dir)
		return -ENOMEM;
	slash = strrchr(dir, '/');
	if (!slash || slash == dir)
		goto out;
	*slash = '\0';
	/* Like mkdir -p; every folder created here is private to the user. */
	for (char *p = dir + 1; ; p++) {
		if (*p == '/' || *p == '\0') {
			char saved = *p;

			*p = '\0';
			if (mkdir(dir, 0700) < 0 && errno != EEXIST) {
				r = -errno;
				goto out;
			}
			*p = saved;
			if (!saved)
				break;
		}
	}
	if (stat(dir, &st) < 0)
		r = -errno;
	else if (!S_ISDIR(st.st_mode))
		r = -ENOTDIR;
out:
	free(dir);
	return r;
}
