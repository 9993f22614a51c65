/* SPDX-License-Identifier: MIT */
/*
 * socket_dir.h - the broker's socket file and its folder belong to the
 * broker alone.  Whoever can write to the socket's folder (or swap it, or
 * re-point it) can put a fake broker in the socket's place, so the broker
 * refuses to start in a folder it does not own exclusively
 * (docs/security.md "Socket folder").
 */
#ifndef CP_SOCKET_DIR_H
#define CP_SOCKET_DIR_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

/* Expected outcomes: the folder is not safe to listen in. */
enum {
	SOCKET_DIR_E_SYMLINK = 1,   /* the socket's folder is a symbolic link */
	SOCKET_DIR_E_NOT_DIR = 2,   /* it is not a folder */
	SOCKET_DIR_E_OWNER = 3,     /* owned by another uid than the broker's euid */
	SOCKET_DIR_E_MODE = 4,      /* group or others may write to it (or, unshared, reach into it) */
	SOCKET_DIR_E_ABOVE = 5,     /* a folder above it may be changed by another uid */
	SOCKET_DIR_E_SOCKET = 6,    /* after bind: the socket file is not the broker's */
	SOCKET_DIR_E_INHERITED = 7, /* a passed descriptor is not a socket crosspostd can serve on */
};

/* The folder bits a socket of socket_mode lets group and others have: none
 * for 0600; read and search (never write) for a shared socket. */
mode_t socket_dir_allowed_bits(mode_t socket_mode);

/* Creates the folder of socket_path and its missing parents (mode 0700,
 * plus search bits for the classes a shared socket_mode lets in: 0710 or
 * 0711), then
 * checks that the folder is the broker's alone:
 *   - not a symbolic link, and a folder;
 *   - owned by the broker's euid;
 *   - mode 0700, or with socket_mode shared, read and search bits for
 *     group and others but never write;
 *   - each existing folder above it owned by root or the euid, and
 *     writable by nobody else unless sticky (as /tmp).
 * Returns 0, SOCKET_DIR_E_* or a negative errno, with a message in problem
 * that names the folder, what is wrong and how to fix it. */
int socket_dir_prepare(const char *socket_path, mode_t socket_mode, char *problem, size_t problem_size);

/* After bind: checks that path is a socket owned by the broker's euid, and
 * gives it socket_mode and, when set_group, group gid.  Returns 0,
 * SOCKET_DIR_E_SOCKET or a negative errno, with a message in problem. */
int socket_file_claim(const char *path, mode_t socket_mode, bool set_group, gid_t gid, char *problem,
		      size_t problem_size);

/* A listening socket that systemd passed (socket activation): the socket
 * unit made it and its folder, so the folder is systemd's business (the
 * socket unit's DirectoryMode=, a service's RuntimeDirectory=) and is not
 * checked here.  The rest is checked as for a socket the broker makes:
 *   - fd is an AF_UNIX stream socket, listening (not a connection that
 *     Accept=yes hands out), bound to a path (not abstract, which no
 *     file mode protects);
 *   - the path is a socket file owned by the broker's euid, which then
 *     gets socket_mode and (when set_group) group gid, as
 *     socket_file_claim() gives them; or owned by root (a system unit's
 *     socket for a broker with User=), which must have them already.
 * Sets O_NONBLOCK on fd.  *ret_path receives the path, malloc'd.  Returns
 * 0, SOCKET_DIR_E_INHERITED, SOCKET_DIR_E_SOCKET or a negative errno, with
 * a message in problem that names the fix. */
int socket_inherited_check(int fd, mode_t socket_mode, bool set_group, gid_t gid, char **ret_path,
			   char *problem, size_t problem_size);

#endif
