/* SPDX-License-Identifier: MIT */
/* stream.c - buffered non-blocking socket I/O with SCM_RIGHTS descriptors. */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include <event2/buffer.h>

#include "buffer_pool.h"
#include "stream.h"

#define STREAM_IOV_MAX 64

/* SO_SNDBUF asked of every stream's socket; Linux doubles it for its own
 * overhead, and caps it at net.core.wmem_max (Debian: 208 KiB) unless
 * that was raised.  The default (208 KiB, about 200 KiB of data in
 * flight a direction) holds three 64 KiB messages: a writer of one after
 * another found the socket full every third, split its write and waited,
 * and the reader was woken per message.  A unix stream socket's buffer is
 * the writer's: crosspostd's sockets bound what waits for each client in
 * the kernel (docs/security.md), a client's what waits for crosspostd.
 * Memory is taken only while bytes are in flight. */
#define STREAM_SOCKET_BUFFER (512 * 1024)

/* Descriptors waiting to be sent with the output byte at `offset` (counted
 * from the first byte ever appended). */
typedef struct OutFds {
	struct OutFds *next;
	uint64_t offset;
	size_t n;
	int fds[];
} OutFds;

/* Descriptors that arrived with one recvmsg, which read the input bytes
 * [read_start, read_end) (counted from the first byte ever read).  The
 * kernel hands descriptors out with the first read that touches the
 * message they were sent with, and ends that read within it, so the frame
 * they travel with starts inside that range. */
typedef struct InFds {
	struct InFds *next;
	uint64_t read_start, read_end;
	size_t n;
	int fds[];
} InFds;

struct Stream {
	int fd;
	struct evbuffer *input;
	struct evbuffer *output;
	uint64_t input_read;        /* bytes of input read so far */
	uint64_t output_sent;       /* bytes of output written so far */
	OutFds *out_fds, **out_fds_tail;
	size_t n_out_fds;           /* queued to send */
	InFds *in_fds, **in_fds_tail;   /* received, not yet taken, oldest first */
	size_t n_in_fds;
	/* stream_set_scratch(): reads into an empty input land there, and the
	 * input borrows them until stream_release_scratch(). */
	uint8_t *scratch;
	size_t scratch_size;
	bool borrowing;
	bool read_short;     /* the last read took less than it asked for */
	bool may_wait;       /* O_NONBLOCK cleared: stream_allow_waiting() */
};

int stream_new(Stream **ret, int fd)
{
	Stream *s = calloc(1, sizeof(*s));
	int flags;

	if (!s)
		return -ENOMEM;
	s->fd = -1;
	s->out_fds_tail = &s->out_fds;
	s->in_fds_tail = &s->in_fds;
	s->input = evbuffer_new();
	s->output = evbuffer_new();
	if (!s->input || !s->output) {
		stream_free(s);
		return -ENOMEM;
	}
	flags = fcntl(fd, F_GETFL);
	if (flags >= 0)
		fcntl(fd, F_SETFL, flags | O_NONBLOCK);
	/* Best effort: a smaller buffer only costs speed. */
	(void)setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &(int){ STREAM_SOCKET_BUFFER }, sizeof(int));
	s->fd = fd;
	*ret = s;
	return 0;
}

Stream *stream_free(Stream *s)
{
	if (!s)
		return NULL;
	while (s->out_fds) {
		OutFds *o = s->out_fds;
		s->out_fds = o->next;
		for (size_t i = 0; i < o->n; i++)
			close(o->fds[i]);
		free(o);
	}
	while (s->in_fds) {
		InFds *in = s->in_fds;
		s->in_fds = in->next;
		for (size_t i = 0; i < in->n; i++)
			close(in->fds[i]);
		free(in);
	}
	if (s->input)
		evbuffer_free(s->input);
	if (s->output)
		evbuffer_free(s->output);
	if (s->fd >= 0)
		close(s->fd);
	free(s);
	return NULL;
}

int stream_fd(const Stream *s) { return s->fd; }
struct evbuffer *stream_input(Stream *s) { return s->input; }
struct evbuffer *stream_output(Stream *s) { return s->output; }
size_t stream_pending_fds(const Stream *s) { return s->n_in_fds; }
size_t stream_output_fds(const Stream *s) { return s->n_out_fds; }

uint64_t stream_input_offset(const Stream *s)
{
	return s->input_read - evbuffer_get_length(s->input);
}

uint64_t stream_bytes_read(const Stream *s)
{
	return s->input_read;
}

static int keep_received_fds(Stream *s, const int *fds, size_t n, uint64_t read_start)
{
	InFds *in = malloc(sizeof(*in) + n * sizeof(int));

	if (!in)
		return -ENOMEM;
	in->next = NULL;
	in->read_start = read_start;
	in->read_end = read_start;    /* set once the read's length is known */
	in->n = n;
	memcpy(in->fds, fds, n * sizeof(int));
	*s->in_fds_tail = in;
	s->in_fds_tail = &in->next;
	s->n_in_fds += n;
	return 0;
}

/* One recvmsg into iov, keeping any descriptors that came with it.
 * Returns the bytes read (0 at end of stream) or a negative errno; *ret_error
 * is -ENOMEM when descriptors could not be kept (they are closed) or -EPROTO
 * when they were cut short (MSG_CTRUNC), else 0. */
static ssize_t receive(Stream *s, struct iovec *iov, size_t n_iov, bool wait, int *ret_error)
{
	union {
		char buf[CMSG_SPACE(sizeof(int) * STREAM_FDS_MAX)];
		struct cmsghdr align;
	} control;
	struct msghdr msg = { .msg_iov = iov, .msg_iovlen = n_iov, .msg_control = control.buf,
			      .msg_controllen = sizeof(control.buf) };
	struct cmsghdr *cmsg;
	InFds **last = s->in_fds_tail;
	ssize_t n;

	*ret_error = 0;
	/* MSG_DONTWAIT unless asked to wait: the descriptor itself may be
	 * blocking (stream_allow_waiting()). */
	n = recvmsg(s->fd, &msg, MSG_CMSG_CLOEXEC | (wait ? 0 : MSG_DONTWAIT));
	if (n < 0) {
		s->read_short = true;
		return errno == EWOULDBLOCK ? -EAGAIN : -errno;
	}
	{
		size_t asked = 0;

		for (size_t i = 0; i < n_iov; i++)
			asked += iov[i].iov_len;
		s->read_short = (size_t)n < asked;
	}
	/* Descriptors are kept even when the bytes are bad: the stream owns and
	 * closes them, so none leaks whatever the peer sent. */
	for (cmsg = CMSG_FIRSTHDR(&msg); cmsg; cmsg = CMSG_NXTHDR(&msg, cmsg)) {
		if (cmsg->cmsg_level == SOL_SOCKET && cmsg->cmsg_type == SCM_RIGHTS) {
			size_t nfd = (cmsg->cmsg_len - CMSG_LEN(0)) / sizeof(int);
			int fds[STREAM_FDS_MAX];

			memcpy(fds, CMSG_DATA(cmsg), nfd * sizeof(int));
			if (nfd > 0 && keep_received_fds(s, fds, nfd, s->input_read) < 0) {
				for (size_t i = 0; i < nfd; i++)
					close(fds[i]);
				*ret_error = -ENOMEM;
			}
		}
	}
	if (msg.msg_flags & MSG_CTRUNC)
		*ret_error = -EPROTO;    /* more descriptors than any frame may carry */
	s->input_read += (uint64_t)n;
	for (InFds *in = *last; in; in = in->next)
		in->read_end = s->input_read;
	return n;
}

/* One recvmsg: first up to block_length bytes into block (none when
 * block is NULL), then up to max bytes into the input buffer: into the
 * scratch buffer when the input is empty and the stream has one, else
 * into a block from buffer_pool.h when max is a chunk, else into the
 * input's own chunks; then into the n_tail buffers of tail, in order
 * (stream_read_split()).  Returns the bytes read, all parts together.
 *
 * Why pooled blocks: a client that falls behind reads a flood in gulps
 * of several 64 KiB reads; libevent's chunks for them came from the heap
 * top and went back to the kernel once parsed (glibc trims past 128 KiB),
 * so every gulp faulted in fresh pages, which slowed the reader further
 * behind (hundreds of brk calls a second).  The pool's blocks stay. */
static ssize_t read_input(Stream *s, uint8_t *block, size_t block_length, size_t max, const struct iovec *tail,
			  size_t n_tail, bool wait)
{
	struct evbuffer *dst = s->input;
	struct evbuffer_iovec vec[2];
	struct iovec iov[5];
	bool scratch = s->scratch && evbuffer_get_length(dst) == 0;
	uint8_t *pooled = NULL;
	size_t first = block ? 1 : 0;
	int n_vec, r = 0;
	ssize_t n, got;

	if (block) {
		iov[0].iov_base = block;
		iov[0].iov_len = block_length;
	}
	if (max == 0) {
		n_vec = 0;
		scratch = false;
	} else if (scratch) {
		n_vec = 1;
		vec[0].iov_base = s->scratch;
		vec[0].iov_len = s->scratch_size < max ? s->scratch_size : max;
	} else if (max >= BUFFER_POOL_MIN) {
		pooled = buffer_pool_get(max);
		if (!pooled)
			return -ENOMEM;
		n_vec = 1;
		vec[0].iov_base = pooled;
		vec[0].iov_len = max;
	} else {
		n_vec = evbuffer_reserve_space(dst, (ssize_t)max, vec, 2);
		if (n_vec <= 0)
			return -ENOMEM;
	}
	/* The reservation may be larger than max: read no more than asked. */
	for (int i = 0, left = (int)(max > INT32_MAX ? INT32_MAX : max); i < n_vec; i++) {
		iov[first + i].iov_base = vec[i].iov_base;
		iov[first + i].iov_len = vec[i].iov_len < (size_t)left ? vec[i].iov_len : (size_t)left;
		left -= (int)iov[first + i].iov_len;
	}
	for (size_t i = 0; i < n_tail; i++)
		iov[first + (size_t)n_vec + i] = tail[i];
	n = receive(s, iov, first + (size_t)n_vec + n_tail, wait, &r);
	if (n < 0) {
		if (pooled)
			buffer_pool_put(pooled);
		else if (!scratch && n_vec > 0)
			evbuffer_commit_space(dst, vec, 0);
		return n;
	}
	got = n;
	if (block)
		n -= (ssize_t)((size_t)n < block_length ? (size_t)n : block_length);
	if (n_tail > 0) {
		size_t input_part = 0;

		for (int i = 0; i < n_vec; i++)
			input_part += iov[first + i].iov_len;
		if ((size_t)n > input_part)
			n = (ssize_t)input_part;    /* the rest went to tail */
	}
	if (scratch) {
		/* Borrowed, not copied: the caller parses the frames in it and
		 * stream_release_scratch() keeps what is left. */
		if (n > 0 && evbuffer_add_reference(dst, s->scratch, (size_t)n, NULL, NULL) < 0)
			return -ENOMEM;
		s->borrowing = n > 0;
	} else if (pooled) {
		/* By reference: back to the pool once the input is drained past it. */
		if (n == 0)
			buffer_pool_put(pooled);
		else if (evbuffer_add_reference(dst, pooled, (size_t)n, buffer_pool_put_reference, NULL) < 0) {
			buffer_pool_put(pooled);
			return -ENOMEM;
		}
	} else {
		for (int i = 0; i < n_vec; i++) {
			size_t take = (size_t)n < iov[first + i].iov_len ? (size_t)n : iov[first + i].iov_len;
			vec[i].iov_len = take;
			n -= (ssize_t)take;
		}
		if (n_vec > 0)
			evbuffer_commit_space(dst, vec, n_vec);
	}
	if (r < 0)
		return r;
	return got;
}

void stream_set_scratch(Stream *s, uint8_t *scratch, size_t size)
{
	s->scratch = scratch;
	s->scratch_size = size;
}

int stream_release_scratch(Stream *s)
{
	size_t left = evbuffer_get_length(s->input);
	struct evbuffer_iovec vec;

	if (!s->borrowing)
		return 0;
	s->borrowing = false;
	if (left == 0)
		return 0;
	/* A partial frame: its bytes move into memory of the stream's own
	 * before the scratch buffer is read into again. */
	{
		struct evbuffer *owned = evbuffer_new();

		if (!owned)
			return -ENOMEM;
		if (evbuffer_reserve_space(owned, (ssize_t)left, &vec, 1) != 1) {
			evbuffer_free(owned);
			return -ENOMEM;
		}
		evbuffer_remove(s->input, vec.iov_base, left);
		vec.iov_len = left;
		evbuffer_commit_space(owned, &vec, 1);
		evbuffer_free(s->input);
		s->input = owned;
	}
	return 0;
}

ssize_t stream_read(Stream *s)
{
	return read_input(s, NULL, 0, STREAM_READ_CHUNK, NULL, 0, false);
}

ssize_t stream_read_header(Stream *s)
{
	return read_input(s, NULL, 0, STREAM_READ_HEADER, NULL, 0, false);
}

ssize_t stream_read_waiting(Stream *s)
{
	return read_input(s, NULL, 0, STREAM_READ_CHUNK, NULL, 0, s->may_wait);
}

ssize_t stream_read_split(Stream *s, size_t first, void *block, size_t block_length, void *then, size_t then_length,
			  bool wait, size_t *ret_in_block, size_t *ret_in_then)
{
	struct iovec tail[2] = { { block, block_length }, { then, then_length } };
	size_t past;
	ssize_t n;

	*ret_in_block = *ret_in_then = 0;
	if (first == 0 || block_length == 0 || first > STREAM_READ_CHUNK)
		return -EINVAL;
	n = read_input(s, NULL, 0, first, tail, then_length > 0 ? 2 : 1, wait && s->may_wait);
	if (n <= 0 || (size_t)n <= first)
		return n;
	past = (size_t)n - first;
	*ret_in_block = past < block_length ? past : block_length;
	*ret_in_then = past - *ret_in_block;
	return n;
}

int stream_unread(Stream *s, const void *bytes, size_t length)
{
	/* They were counted as read and consumed; back in the input they
	 * are read and not yet consumed, at its end, where they came. */
	if (length > 0 && evbuffer_add(s->input, bytes, length) < 0)
		return -ENOMEM;
	return 0;
}

int stream_allow_waiting(Stream *s)
{
	int flags = fcntl(s->fd, F_GETFL);

	if (flags < 0 || fcntl(s->fd, F_SETFL, flags & ~O_NONBLOCK) < 0)
		return -errno;
	s->may_wait = true;
	return 0;
}

bool stream_may_wait(const Stream *s)
{
	return s->may_wait;
}

bool stream_read_was_short(const Stream *s)
{
	return s->read_short;
}

ssize_t stream_read_to(Stream *s, void *dst, size_t max, size_t then)
{
	if (max == 0)
		return -EINVAL;
	return read_input(s, dst, max, then, NULL, 0, false);
}

int stream_take_frame_fds(Stream *s, uint64_t frame_start, uint64_t frame_end, int *fds, size_t declared)
{
	InFds *in = s->in_fds;

	if (declared > 0) {
		/* The oldest waiting batch must be this frame's, whole. */
		if (!in || frame_start < in->read_start || frame_start >= in->read_end || in->n != declared)
			return -EPROTO;
		memcpy(fds, in->fds, declared * sizeof(int));
		s->in_fds = in->next;
		if (!s->in_fds)
			s->in_fds_tail = &s->in_fds;
		s->n_in_fds -= declared;
		free(in);
		in = s->in_fds;
	}
	/* Every frame starting inside a batch's read has been parsed once the
	 * input is past the read's end: a batch still waiting then belongs to
	 * no frame (descriptors sent with a frame that declared none). */
	if (in && in->read_end <= frame_end)
		return -EPROTO;
	return 0;
}

int stream_queue_fds(Stream *s, const int *fds, size_t n)
{
	OutFds *o;

	if (n == 0)
		return 0;
	if (n > STREAM_FDS_MAX)
		return -E2BIG;
	o = malloc(sizeof(*o) + n * sizeof(int));
	if (!o)
		return -ENOMEM;
	o->next = NULL;
	o->offset = s->output_sent + evbuffer_get_length(s->output);
	o->n = n;
	memcpy(o->fds, fds, n * sizeof(int));
	s->n_out_fds += n;
	*s->out_fds_tail = o;
	s->out_fds_tail = &o->next;
	return 0;
}

/* One sendmsg: the bytes up to the next descriptor batch's offset, with the
 * batch attached when it starts at the current position. */
static ssize_t send_some(Stream *s)
{
	union {
		char buf[CMSG_SPACE(sizeof(int) * STREAM_FDS_MAX)];
		struct cmsghdr align;
	} control;
	struct evbuffer_iovec vec[STREAM_IOV_MAX];
	struct iovec iov[STREAM_IOV_MAX];
	struct msghdr msg = { 0 };
	OutFds *batch = s->out_fds;
	size_t limit = evbuffer_get_length(s->output), total = 0;
	int n_vec;
	ssize_t n;

	if (batch && batch->offset == s->output_sent) {
		struct cmsghdr *cmsg;

		msg.msg_control = control.buf;
		msg.msg_controllen = CMSG_SPACE(sizeof(int) * batch->n);
		cmsg = CMSG_FIRSTHDR(&msg);
		cmsg->cmsg_level = SOL_SOCKET;
		cmsg->cmsg_type = SCM_RIGHTS;
		cmsg->cmsg_len = CMSG_LEN(sizeof(int) * batch->n);
		memcpy(CMSG_DATA(cmsg), batch->fds, sizeof(int) * batch->n);
		if (batch->next)
			limit = (size_t)(batch->next->offset - s->output_sent);
	} else if (batch) {
		limit = (size_t)(batch->offset - s->output_sent);
		batch = NULL;
	}
	/* A negative length: the first STREAM_IOV_MAX chains and no more.  Given
	 * the output's length, evbuffer_peek() walks every chain to count
	 * them, thousands of them when a receiver is behind, on every write. */
	n_vec = evbuffer_peek(s->output, -1, NULL, vec, STREAM_IOV_MAX);
	if (n_vec > STREAM_IOV_MAX)
		n_vec = STREAM_IOV_MAX;
	for (int i = 0; i < n_vec; i++) {
		iov[i].iov_base = vec[i].iov_base;
		iov[i].iov_len = vec[i].iov_len;
		if (total + iov[i].iov_len > limit)
			iov[i].iov_len = limit - total;
		total += iov[i].iov_len;
	}
	msg.msg_iov = iov;
	msg.msg_iovlen = (size_t)n_vec;
	n = sendmsg(s->fd, &msg, MSG_NOSIGNAL | MSG_DONTWAIT);
	if (n < 0)
		return errno == EWOULDBLOCK ? -EAGAIN : -errno;
	if (batch) {
		/* The kernel holds its own references now. */
		s->out_fds = batch->next;
		if (!s->out_fds)
			s->out_fds_tail = &s->out_fds;
		for (size_t i = 0; i < batch->n; i++)
			close(batch->fds[i]);
		s->n_out_fds -= batch->n;
		free(batch);
	}
	evbuffer_drain(s->output, (size_t)n);
	s->output_sent += (uint64_t)n;
	return n;
}

int stream_flush(Stream *s)
{
	while (evbuffer_get_length(s->output) > 0) {
		ssize_t n = send_some(s);

		if (n == -EAGAIN)
			return 0;
		if (n < 0)
			return (int)n;
	}
	return 1;
}
