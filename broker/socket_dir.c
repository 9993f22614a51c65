/* SPDX-License-Identifier: MIT */
/* socket_dir.c - the socket's folder: created private, refused when someone else could swap the socket. */
#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "cleanup.h"
#include "socket_dir.h"

/* A shared socket's own mode says who may connect; the folder only has to
 * let them reach it, and may show its entries (a service manager makes
 * /run folders 0755), as long as nobody else may write to it. */
mode_t socket_dir_allowed_bits(mode_t socket_mode)
{
	return socket_mode & 0066 ? 0055 : 0;
}

/* The socket's own folder, whether created now or found. */
static int check_folder(const char *dir, mode_t socket_mode, char *problem, size_t size)
{
	mode_t allowed = socket_dir_allowed_bits(socket_mode);
	uid_t euid = geteuid();
	struct stat st;

	if (lstat(dir, &st) < 0) {
		int r = -errno;

		snprintf(problem, size, "cannot examine the socket folder %s: %s", dir, strerror(errno));
		return r;
	}
	if (S_ISLNK(st.st_mode)) {
		snprintf(problem, size, "the socket folder %s is a symbolic link: whoever can change the link can "
			 "send clients to a fake broker. Name the real folder in --socket, or remove the link if it "
			 "is yours (crosspostd then creates the folder, mode 0700)", dir);
		return SOCKET_DIR_E_SYMLINK;
	}
	if (!S_ISDIR(st.st_mode)) {
		snprintf(problem, size, "the socket folder %s is not a folder", dir);
		return SOCKET_DIR_E_NOT_DIR;
	}
	if (st.st_uid != euid) {
		snprintf(problem, size, "the socket folder %s is owned by uid %u, not by uid %u that runs "
			 "crosspostd: its owner could replace the socket with a fake broker. Remove it if it is "
			 "yours (crosspostd then creates it, mode 0700), or choose another --socket path",
			 dir, (unsigned)st.st_uid, (unsigned)euid);
		return SOCKET_DIR_E_OWNER;
	}
	if ((st.st_mode & 0077 & ~allowed) == 0)
		return 0;
	if (!allowed)
		snprintf(problem, size, "the socket folder %s has mode %04o: it must be 0700 (nothing for group "
			 "or others), since whoever can write to it can replace the socket with a fake broker. Fix: "
			 "chmod 700 %s (a broker shared with other users says so with [socket] mode in --config)",
			 dir, (unsigned)(st.st_mode & 07777), dir);
	else
		snprintf(problem, size, "the socket folder %s has mode %04o: with the socket shared ([socket] mode "
			 "%04o) group and others may read and search it (0710, 0711, 0755) but never write to it, "
			 "since whoever can write to it can replace the socket with a fake broker. Fix: chmod %04o %s",
			 dir, (unsigned)(st.st_mode & 07777), (unsigned)socket_mode,
			 (unsigned)(0700 | (st.st_mode & allowed)), dir);
	return SOCKET_DIR_E_MODE;
}

/* A folder above the socket's: whoever may rename entries in it could
 * swap the socket's folder for their own. */
static int check_above(const char *dir, char *problem, size_t size)
{
	uid_t euid = geteuid();
	struct stat st;

	if (stat(dir, &st) < 0) {
		int r = -errno;

		snprintf(problem, size, "cannot examine %s, above the socket's folder: %s", dir, strerror(errno));
		return r;
	}
	if (!S_ISDIR(st.st_mode)) {
		snprintf(problem, size, "%s, above the socket's folder, is not a folder", dir);
		return SOCKET_DIR_E_NOT_DIR;
	}
	if (st.st_uid != 0 && st.st_uid != euid) {
		snprintf(problem, size, "the folder %s, above the socket's, is owned by uid %u: its owner could swap "
			 "the socket's folder for one of their own. Choose a --socket path under folders that only "
			 "uid %u or root can change", dir, (unsigned)st.st_uid, (unsigned)euid);
		return SOCKET_DIR_E_ABOVE;
	}
	if ((st.st_mode & 0022) && !(st.st_mode & S_ISVTX)) {
		snprintf(problem, size, "the folder %s, above the socket's, has mode %04o: group or others may write "
			 "to it (and it is not sticky like /tmp), so they could swap the socket's folder. Fix: chmod "
			 "go-w %s, or choose another --socket path", dir, (unsigned)(st.st_mode & 07777), dir);
		return SOCKET_DIR_E_ABOVE;
	}
	return 0;
}

int socket_dir_prepare(const char *socket_path, mode_t socket_mode, char *problem, size_t size)
{
	/* Created folders let in only those the socket is shared with. */
	mode_t create_mode = 0700 | (socket_mode & 0060 ? 0010 : 0) | (socket_mode & 0006 ? 0001 : 0);
	_cleanup_(freep) char *dir = strdup(socket_path);
	char *slash, *p;
	int r;

	if (!dir) {
		snprintf(problem, size, "out of memory");
		return -ENOMEM;
	}
	slash = strrchr(dir, '/');
	if (!slash)
		strcpy(dir, ".");        /* "broker.sock": the working folder (dir holds >= 2 bytes) */
	else if (slash == dir)
		dir[1] = '\0';           /* "/broker.sock" */
	else
		*slash = '\0';
	/* Like mkdir -p, one component at a time: each one created is made
	 * create_mode whatever the umask, each one found is checked. */
	for (p = dir + 1; ; p++) {
		char saved = *p;
		bool last = saved == '\0';

		if (saved != '/' && !last)
			continue;
		*p = '\0';
		if (mkdir(dir, create_mode) == 0) {
			if (chmod(dir, create_mode) < 0) {
				r = -errno;
				snprintf(problem, size, "cannot set the mode of %s: %s", dir, strerror(errno));
				return r;
			}
			r = check_folder(dir, socket_mode, problem, size);
		} else if (errno != EEXIST) {
			r = -errno;
			snprintf(problem, size, "cannot create the socket folder %s: %s", dir, strerror(errno));
			return r;
		} else {
			r = last ? check_folder(dir, socket_mode, problem, size) : check_above(dir, problem, size);
		}
		if (r != 0)
			return r;
		*p = saved;
		if (last)
			return 0;
	}
}

int socket_file_claim(const char *path, mode_t socket_mode, bool set_group, gid_t gid, char *problem,
		      size_t size)
{
	struct stat st;
	int r;

	if (lstat(path, &st) < 0) {
		r = -errno;
		snprintf(problem, size, "cannot examine the socket %s just made: %s", path, strerror(errno));
		return r;
	}
	if (!S_ISSOCK(st.st_mode) || st.st_uid != geteuid()) {
		snprintf(problem, size, "%s is not the socket crosspostd just made: %s", path,
			 S_ISSOCK(st.st_mode) ? "it belongs to another uid" : "it is not a socket");
		return SOCKET_DIR_E_SOCKET;
	}
	if (set_group && st.st_gid != gid && chown(path, (uid_t)-1, gid) < 0) {
		r = -errno;
		snprintf(problem, size, "cannot give the socket %s to group %u ([socket] group): %s%s", path,
			 (unsigned)gid, strerror(errno),
			 errno == EPERM ? " (crosspostd must be root or a member of the group)" : "");
		return r;
	}
	if ((st.st_mode & 07777) != socket_mode && chmod(path, socket_mode) < 0) {
		r = -errno;
		snprintf(problem, size, "cannot set the mode of the socket %s: %s", path, strerror(errno));
		return r;
	}
	return 0;
}

int socket_inherited_check(int fd, mode_t socket_mode, bool set_group, gid_t gid, char **ret_path,
			   char *problem, size_t size)
{
	struct sockaddr_un addr = { 0 };
	socklen_t len = sizeof(addr), optlen;
	int domain = 0, type = 0, listening = 0, flags, r;
	char path[sizeof(addr.sun_path) + 1];
	struct stat st;

	if (fstat(fd, &st) < 0) {
		r = -errno;
		snprintf(problem, size, "cannot examine descriptor %d that systemd passed: %s", fd, strerror(errno));
		return r;
	}
	if (!S_ISSOCK(st.st_mode)) {
		snprintf(problem, size, "descriptor %d that systemd passed is not a socket", fd);
		return SOCKET_DIR_E_INHERITED;
	}
	optlen = sizeof(domain);
	if (getsockopt(fd, SOL_SOCKET, SO_DOMAIN, &domain, &optlen) < 0 || domain != AF_UNIX) {
		snprintf(problem, size, "the socket systemd passed is not an AF_UNIX socket: crosspostd serves "
			 "local clients only (ListenStream= must name a file)");
		return SOCKET_DIR_E_INHERITED;
	}
	optlen = sizeof(type);
	if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &optlen) < 0 || type != SOCK_STREAM) {
		snprintf(problem, size, "the socket systemd passed is not a stream socket (use ListenStream=, "
			 "not ListenDatagram= or ListenSequentialPacket=)");
		return SOCKET_DIR_E_INHERITED;
	}
	optlen = sizeof(listening);
	if (getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &listening, &optlen) < 0 || !listening) {
		snprintf(problem, size, "the socket systemd passed is not listening: one connection (Accept=yes) "
			 "is not supported, crosspostd serves every client itself (Accept=no)");
		return SOCKET_DIR_E_INHERITED;
	}
	if (getsockname(fd, (struct sockaddr *)&addr, &len) < 0) {
		r = -errno;
		snprintf(problem, size, "cannot read the address of the socket systemd passed: %s", strerror(errno));
		return r;
	}
	if (len <= offsetof(struct sockaddr_un, sun_path) || addr.sun_path[0] == '\0') {
		snprintf(problem, size, "the socket systemd passed has no file (%s): no file mode protects it, so any "
			 "process could connect; ListenStream= must name a path",
			 len <= offsetof(struct sockaddr_un, sun_path) ? "unnamed" : "an abstract socket");
		return SOCKET_DIR_E_INHERITED;
	}
	memcpy(path, addr.sun_path, len - offsetof(struct sockaddr_un, sun_path));
	path[len - offsetof(struct sockaddr_un, sun_path)] = '\0';
	if (lstat(path, &st) < 0) {
		r = -errno;
		snprintf(problem, size, "cannot examine %s, the socket systemd passed: %s", path, strerror(errno));
		return r;
	}
	if (!S_ISSOCK(st.st_mode)) {
		snprintf(problem, size, "%s, the path of the socket systemd passed, is not a socket file", path);
		return SOCKET_DIR_E_SOCKET;
	}
	if (st.st_uid == geteuid()) {
		r = socket_file_claim(path, socket_mode, set_group, gid, problem, size);
		if (r != 0)
			return r;
	} else if (st.st_uid != 0) {
		snprintf(problem, size, "%s, the socket systemd passed, belongs to uid %u, neither root nor "
			 "crosspostd's uid %u (SocketUser=)", path, (unsigned)st.st_uid, (unsigned)geteuid());
		return SOCKET_DIR_E_SOCKET;
	} else if ((st.st_mode & 07777) != socket_mode || (set_group && st.st_gid != gid)) {
		snprintf(problem, size, "%s, the socket systemd passed, is root's with mode %04o and group %u, and "
			 "crosspostd (uid %u) cannot give it the mode %04o%s of its configuration: set SocketMode= "
			 "(and SocketGroup=), or SocketUser= to crosspostd's user, in the socket unit",
			 path, (unsigned)(st.st_mode & 07777), (unsigned)st.st_gid, (unsigned)geteuid(),
			 (unsigned)socket_mode, set_group ? " and group" : "");
		return SOCKET_DIR_E_SOCKET;
	}
	flags = fcntl(fd, F_GETFL);
	if (flags < 0 || fcntl(fd, F_SETFL, flags | O_NONBLOCK) < 0) {
		r = -errno;
		snprintf(problem, size, "cannot make the socket systemd passed non-blocking: %s", strerror(errno));
		return r;
	}
	*ret_path = strdup(path);
	if (!*ret_path) {
		snprintf(problem, size, "out of memory");
		return -ENOMEM;
	}
	return 0;
}
