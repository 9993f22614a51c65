/* SPDX-License-Identifier: MIT */
/*
 * relay_epoll.c - the floor for any brokered hop: a relay that accepts two
 * clients on a unix socket and forwards the length-prefixed frames each
 * sends (u32 little-endian length, then that many bytes) to the other, and
 * does nothing else.
 *
 *   relay_epoll SOCKET_PATH [READY_FD]
 *
 * Writes "ready\n" to READY_FD once it listens, serves exactly two
 * clients, and exits when either hangs up.
 *
 * It is meant to be as fast as a relay can be while still reading frames:
 * one 1 MiB ring per direction, one readv (two pieces of the ring) per
 * readable event, and as many writev as the socket takes right away; only
 * when a write would block does it wait for EPOLLOUT, and only while a
 * ring is full does it stop reading that side.  Every frame header is read
 * and checked (a length over 128 MiB closes the relay), and bytes are
 * forwarded as soon as the header of the frame they belong to was read
 * (cut-through: a 1 MiB frame does not wait in the relay until its last
 * byte arrives, so a frame larger than the ring streams through).  No
 * copy in user space: the kernel copies in, the kernel copies out.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <unistd.h>

#define RING_SIZE (1u << 20)             /* per direction; a power of two */
#define FRAME_MAX (128u * 1024u * 1024u) /* crosspost's own payload limit */

/* Bytes from one client to the other.  Positions count bytes since the
 * start; the ring index of a position is pos % RING_SIZE. */
typedef struct Direction {
	int in, out;
	uint8_t *ring;
	uint64_t rd;          /* read from in */
	uint64_t wr;          /* written to out */
	uint64_t fwd;         /* may be written: inside frames whose header was read */
	uint64_t frame_end;   /* where the current frame ends (the next header starts) */
	bool out_blocked;     /* the last write would have blocked */
} Direction;

static void die(const char *what)
{
	fprintf(stderr, "relay_epoll: %s: %s\n", what, strerror(errno));
	exit(1);
}

static uint32_t ring_u32(const Direction *d, uint64_t pos)
{
	uint8_t b[4];

	for (int i = 0; i < 4; i++)
		b[i] = d->ring[(pos + (uint64_t)i) % RING_SIZE];
	return (uint32_t)b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 | (uint32_t)b[3] << 24;
}

/* The ring between positions from and to, as at most two pieces. */
static int ring_iov(Direction *d, uint64_t from, uint64_t to, struct iovec iov[2])
{
	size_t at = (size_t)(from % RING_SIZE), len = (size_t)(to - from);
	size_t first = len < RING_SIZE - at ? len : RING_SIZE - at;

	iov[0].iov_base = d->ring + at;
	iov[0].iov_len = first;
	if (first == len)
		return 1;
	iov[1].iov_base = d->ring;
	iov[1].iov_len = len - first;
	return 2;
}

/* Walks the frame headers that arrived: what follows a read header may go. */
static void parse(Direction *d)
{
	while (d->fwd < d->rd) {
		if (d->fwd == d->frame_end) {
			uint32_t len;

			if (d->rd - d->fwd < 4)
				return;
			len = ring_u32(d, d->fwd);
			if (len > FRAME_MAX) {
				fprintf(stderr, "relay_epoll: a frame of %u bytes: closing\n", len);
				exit(1);
			}
			d->frame_end = d->fwd + 4 + len;
		}
		d->fwd = d->frame_end < d->rd ? d->frame_end : d->rd;
	}
}

/* One readv into the free part of the ring.  Exits at end of file. */
static void pump_read(Direction *d)
{
	uint64_t free_bytes = RING_SIZE - (d->rd - d->wr);
	struct iovec iov[2];
	ssize_t n;

	if (!free_bytes)
		return;
	n = readv(d->in, iov, ring_iov(d, d->rd, d->rd + free_bytes, iov));
	if (n == 0)
		exit(0);
	if (n < 0) {
		if (errno == EAGAIN || errno == EINTR)
			return;
		if (errno == ECONNRESET)
			exit(0);
		die("readv");
	}
	d->rd += (uint64_t)n;
	parse(d);
}

/* Writes what may go until done or the socket is full. */
static void pump_write(Direction *d)
{
	struct iovec iov[2];
	ssize_t n;

	while (d->wr < d->fwd) {
		n = writev(d->out, iov, ring_iov(d, d->wr, d->fwd, iov));
		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN) {
				d->out_blocked = true;
				return;
			}
			if (errno == EPIPE || errno == ECONNRESET)
				exit(0);
			die("writev");
		}
		d->wr += (uint64_t)n;
	}
	d->out_blocked = false;
}

int main(int argc, char **argv)
{
	struct sockaddr_un addr = { .sun_family = AF_UNIX };
	struct epoll_event ev, events[4];
	Direction dir[2];
	uint32_t mask[2] = { 0, 0 };
	int lfd, ep, conn[2];

	if (argc < 2 || strlen(argv[1]) >= sizeof(addr.sun_path)) {
		fprintf(stderr, "usage: relay_epoll SOCKET_PATH [READY_FD]\n");
		return 2;
	}
	strcpy(addr.sun_path, argv[1]);
	lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (lfd < 0 || bind(lfd, (struct sockaddr *)&addr, sizeof(addr)) < 0 || listen(lfd, 16) < 0)
		die("listen");
	if (argc > 2) {
		int fd = atoi(argv[2]);

		if (write(fd, "ready\n", 6) != 6)
			die("ready");
		close(fd);
	}
	for (int i = 0; i < 2; i++) {
		conn[i] = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (conn[i] < 0)
			die("accept");
	}
	close(lfd);
	unlink(argv[1]);
	for (int i = 0; i < 2; i++) {
		dir[i] = (Direction){ .in = conn[i], .out = conn[1 - i] };
		dir[i].ring = malloc(RING_SIZE);
		if (!dir[i].ring)
			die("malloc");
	}
	ep = epoll_create1(EPOLL_CLOEXEC);
	if (ep < 0)
		die("epoll_create1");
	for (int i = 0; i < 2; i++) {
		mask[i] = EPOLLIN;
		ev = (struct epoll_event){ .events = mask[i], .data.u32 = (uint32_t)i };
		if (epoll_ctl(ep, EPOLL_CTL_ADD, conn[i], &ev) < 0)
			die("epoll_ctl");
	}
	for (;;) {
		int n = epoll_wait(ep, events, 4, -1);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			die("epoll_wait");
		}
		for (int k = 0; k < n; k++) {
			uint32_t i = events[k].data.u32;

			/* conn[i] writable: what waits for it is dir[1 - i]'s. */
			if (events[k].events & EPOLLOUT)
				pump_write(&dir[1 - i]);
			if (events[k].events & (EPOLLIN | EPOLLHUP | EPOLLERR)) {
				pump_read(&dir[i]);
				pump_write(&dir[i]);
			}
		}
		/* Read a side while its ring has room; wait to write a side
		 * only while a write to it would have blocked. */
		for (int i = 0; i < 2; i++) {
			uint32_t want = 0;

			if (dir[i].rd - dir[i].wr < RING_SIZE)
				want |= EPOLLIN;
			if (dir[1 - i].out_blocked)
				want |= EPOLLOUT;
			if (want != mask[i]) {
				mask[i] = want;
				ev = (struct epoll_event){ .events = want, .data.u32 = (uint32_t)i };
				if (epoll_ctl(ep, EPOLL_CTL_MOD, conn[i], &ev) < 0)
					die("epoll_ctl");
			}
		}
	}
}
