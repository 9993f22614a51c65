/* SPDX-License-Identifier: MIT */
/*
 * xp_frames.c - the two baselines without a message library, both speaking
 * length-prefixed frames (u32 little-endian length, then the bytes):
 *
 *   direct  a socketpair between the two processes: no broker at all
 *   relay   through relay_epoll (built beside this program): the floor for
 *           any brokered hop
 *
 * A sender writes each message with one writev (header and bytes); a
 * receiver reads into a 256 KiB buffer (grown for a larger frame) and
 * hands out frames in place.  Usage: see workload.h.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <unistd.h>

#include "workload.h"

#define READ_BUFFER (256 * 1024)

static char relay_path[PATH_MAX + 16];

struct Endpoint {
	int fd;
	uint8_t *buf;
	size_t cap, start, end;    /* unread input is buf[start, end) */
	size_t consumed;           /* the frame handed out last ends here */
	uint8_t header[4];
	const uint8_t *payload;    /* what send writes */
	size_t len;
};

static Endpoint *endpoint_new(int fd)
{
	Endpoint *e = calloc(1, sizeof(*e));

	if (!e || !(e->buf = malloc(READ_BUFFER))) {
		free(e);
		close(fd);
		return NULL;
	}
	e->fd = fd;
	e->cap = READ_BUFFER;
	return e;
}

static int frames_prepare(Endpoint *e, const uint8_t *bytes, size_t len)
{
	uint32_t n = (uint32_t)len;

	e->header[0] = (uint8_t)n;
	e->header[1] = (uint8_t)(n >> 8);
	e->header[2] = (uint8_t)(n >> 16);
	e->header[3] = (uint8_t)(n >> 24);
	e->payload = bytes;
	e->len = len;
	return 0;
}

static int write_iov(int fd, struct iovec *iov, int n_iov)
{
	while (n_iov > 0) {
		ssize_t n = writev(fd, iov, n_iov);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -1;
		while (n_iov > 0 && (size_t)n >= iov->iov_len) {
			n -= (ssize_t)iov->iov_len;
			iov++;
			n_iov--;
		}
		if (n_iov > 0) {
			iov->iov_base = (uint8_t *)iov->iov_base + n;
			iov->iov_len -= (size_t)n;
		}
	}
	return 0;
}

static int frames_send(Endpoint *e)
{
	struct iovec iov[2] = {
		{ .iov_base = e->header, .iov_len = 4 },
		{ .iov_base = (void *)e->payload, .iov_len = e->len },
	};

	return write_iov(e->fd, iov, 2);
}

static int frames_recv(Endpoint *e, const uint8_t **ret, size_t *ret_len)
{
	e->start = e->consumed;
	for (;;) {
		size_t have = e->end - e->start, need = 4;
		ssize_t n;

		if (have >= 4) {
			const uint8_t *h = e->buf + e->start;

			need = 4 + ((size_t)h[0] | (size_t)h[1] << 8 | (size_t)h[2] << 16 | (size_t)h[3] << 24);
			if (have >= need) {
				*ret = h + 4;
				*ret_len = need - 4;
				e->consumed = e->start + need;
				return 0;
			}
		}
		/* Room for the whole frame after start: move the partial frame
		 * to the front, and grow for a frame larger than the buffer. */
		if (e->start + need > e->cap) {
			memmove(e->buf, e->buf + e->start, have);
			e->start = 0;
			e->end = have;
			e->consumed = 0;
			if (need > e->cap) {
				uint8_t *bigger = realloc(e->buf, need);

				if (!bigger)
					return -1;
				e->buf = bigger;
				e->cap = need;
			}
		}
		n = read(e->fd, e->buf + e->end, e->cap - e->end);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		e->end += (size_t)n;
	}
}

/* The frame handed out last, header and bytes, in one write. */
static int frames_echo(Endpoint *e)
{
	size_t frame_len = e->consumed - e->start;
	struct iovec iov = { .iov_base = e->buf + e->start, .iov_len = frame_len };

	return write_iov(e->fd, &iov, 1);
}

static void frames_close(Endpoint *e)
{
	if (!e)
		return;
	close(e->fd);
	free(e->buf);
	free(e);
}

/* ---- direct: a socketpair made before the endpoints fork ---- */

static int direct_probe(char *why, size_t why_len)
{
	return 0;
}

static int direct_start(BenchServer *s)
{
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, s->fds) < 0) {
		perror("socketpair");
		return -1;
	}
	return 0;
}

static void direct_stop(BenchServer *s)
{
	for (int i = 0; i < 2; i++)
		if (s->fds[i] >= 0)
			close(s->fds[i]);
}

static Endpoint *direct_open(BenchServer *s, int role, unsigned index)
{
	int mine = role == ROLE_RECEIVER ? 0 : 1, fd = s->fds[mine];

	/* This process keeps its end only; the endpoint owns it now. */
	close(s->fds[1 - mine]);
	s->fds[0] = s->fds[1] = -1;
	return endpoint_new(fd);
}

static const Transport direct_transport = {
	.name = "direct",
	.max_senders = 1,
	.probe = direct_probe,
	.start = direct_start,
	.stop = direct_stop,
	.open = direct_open,
	.prepare = frames_prepare,
	.send = frames_send,
	.recv = frames_recv,
	.echo = frames_echo,
	.close = frames_close,
};

/* ---- relay: relay_epoll in its own process ---- */

static int relay_probe(char *why, size_t why_len)
{
	if (access(relay_path, X_OK) < 0) {
		snprintf(why, why_len, "%s is not built", relay_path);
		return -1;
	}
	return 0;
}

static int relay_start(BenchServer *s)
{
	char fd_arg[16], line[16];
	int ready[2];
	ssize_t n;

	if (server_make_dir(s, "relay") < 0)
		return -1;
	snprintf(s->address, sizeof(s->address), "%s/relay.sock", s->dir);
	if (pipe(ready) < 0)
		return -1;
	s->pid = fork();
	if (s->pid == 0) {
		close(ready[0]);
		snprintf(fd_arg, sizeof(fd_arg), "%d", ready[1]);
		execl(relay_path, "relay_epoll", s->address, fd_arg, (char *)NULL);
		_exit(127);
	}
	close(ready[1]);
	n = read(ready[0], line, sizeof(line));
	close(ready[0]);
	if (n != 6) {
		fprintf(stderr, "relay: relay_epoll did not start\n");
		stop_process(s->pid);
		return -1;
	}
	return 0;
}

static void relay_stop(BenchServer *s)
{
	stop_process(s->pid);
	server_remove_dir(s);
}

static Endpoint *relay_open(BenchServer *s, int role, unsigned index)
{
	int fd = connect_unix(s->address);

	if (fd < 0) {
		fprintf(stderr, "relay: connect %s: %s\n", s->address, strerror(errno));
		return NULL;
	}
	return endpoint_new(fd);
}

static const Transport relay_transport = {
	.name = "relay",
	.max_senders = 1,
	.probe = relay_probe,
	.start = relay_start,
	.stop = relay_stop,
	.open = relay_open,
	.prepare = frames_prepare,
	.send = frames_send,
	.recv = frames_recv,
	.echo = frames_echo,
	.close = frames_close,
};

int main(int argc, char **argv)
{
	static const Transport *const transports[] = { &direct_transport, &relay_transport };
	char self[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	char *slash;

	if (n > 0) {
		self[n] = '\0';
		slash = strrchr(self, '/');
		if (slash)
			*slash = '\0';
		snprintf(relay_path, sizeof(relay_path), "%s/relay_epoll", self);
	}
	return workload_main(argc, argv, transports, sizeof(transports) / sizeof(transports[0]));
}
