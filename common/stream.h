/* SPDX-License-Identifier: MIT */
/*
 * stream.h - non-blocking I/O on a Unix stream socket, with file descriptors
 * passed alongside the bytes (SCM_RIGHTS).  Shared by the broker and
 * libcrosspost; knows nothing of frames.
 *
 * Bytes are buffered in libevent evbuffers; descriptors received are queued
 * in arrival order, and descriptors to send are attached to the byte
 * position at which they were queued, so the peer receives them with the
 * first byte of the frame that carries them.
 */
#ifndef CP_STREAM_H
#define CP_STREAM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct evbuffer;

/* The most descriptors one sendmsg/recvmsg carries; a frame carries at most
 * this many (frame.h).  Linux's own cap is SCM_MAX_FD = 253. */
#define STREAM_FDS_MAX 64

/* Reading 64 KiB per recvmsg lets one syscall carry many small frames. */
#define STREAM_READ_CHUNK (64 * 1024)
/* A frame's prefix and a usual header: a Post or an Event with its
 * origins and ids is a few hundred bytes (stream_read_header()). */
#define STREAM_READ_HEADER 512

typedef struct Stream Stream;

/* Wraps fd (made non-blocking; the stream owns it and closes it on free).
 * Returns 0 or -ENOMEM. */
int stream_new(Stream **ret, int fd);
/* Closes the socket and every descriptor still queued in either direction. */
Stream *stream_free(Stream *stream);

int stream_fd(const Stream *stream);
/* Borrowed buffers: read frames from input, append frames to output. */
struct evbuffer *stream_input(Stream *stream);
struct evbuffer *stream_output(Stream *stream);

/* A buffer that reads into an empty input go to (the caller's, size
 * bytes, shared by many streams: a broker keeps one).  The input then
 * borrows those bytes, so an idle connection holds no read buffer of its
 * own; stream_release_scratch() must be called once the frames in them
 * are parsed, before any stream reads into the scratch again. */
void stream_set_scratch(Stream *stream, uint8_t *scratch, size_t size);
/* Keeps what is left of borrowed input (a partial frame) in memory of the
 * stream's own.  Returns 0 or -ENOMEM. */
int stream_release_scratch(Stream *stream);

/* One recvmsg into the input buffer.  Returns the bytes read, 0 at end of
 * stream, -EAGAIN when nothing is ready, -EPROTO when descriptors were cut
 * short (MSG_CTRUNC), or another negative errno. */
ssize_t stream_read(Stream *stream);
/* The same, reading no more than about a frame header: for after a large
 * frame, whose successor is likely large too, so that its payload is read
 * in place (stream_read_to()) rather than copied out of the input. */
ssize_t stream_read_header(Stream *stream);

/* The same into dst, at most max bytes, and in the same recvmsg up to
 * `then` bytes more into the input buffer: the rest of a large frame's
 * payload, read in place into its block (frame.h), and what follows it.
 * Returns the bytes read, both parts (dst got the first max of them).
 * The bytes in dst count as input that was read and consumed:
 * stream_input_offset() moves past them.  A read that fills neither part
 * is short (stream_read_was_short()): no read for nothing after a
 * message that was the last one sent. */
ssize_t stream_read_to(Stream *stream, void *dst, size_t max, size_t then);

/* For a frame expected to be like the last (its header `first` bytes with
 * its prefix, its payload block_length bytes): one recvmsg of up to first
 * bytes into the input, what follows into block, so that the payload is
 * read in place with its header, and up to then_length bytes more into
 * then (a read that ends short there says the socket is empty: no read
 * follows that could only fail).  The bytes in block and then
 * (*ret_in_block, *ret_in_then) count as consumed, as stream_read_to()'s;
 * stream_unread() puts them back in the input, in the order they came.
 * wait as stream_read_waiting().  Returns as stream_read(). */
ssize_t stream_read_split(Stream *stream, size_t first, void *block, size_t block_length, void *then,
			  size_t then_length, bool wait, size_t *ret_in_block, size_t *ret_in_then);
/* Puts bytes read past the input (stream_read_split()'s block) back at
 * its end.  Returns 0 or -ENOMEM. */
int stream_unread(Stream *stream, const void *bytes, size_t length);

/* Clears O_NONBLOCK on the socket, so that stream_read_waiting() can wait
 * in recvmsg() itself: a client waiting for its next event then makes one
 * syscall where poll() and a read made two.  Every other read and write
 * stays non-blocking (MSG_DONTWAIT).  Returns 0 or a negative errno. */
int stream_allow_waiting(Stream *stream);
bool stream_may_wait(const Stream *stream);
/* stream_read() that waits for bytes (when stream_may_wait(), else it is
 * stream_read()); -EINTR when a signal came first. */
ssize_t stream_read_waiting(Stream *stream);

/* Whether the last read took less than it asked for: the socket had no
 * more then, so another read now would most likely fail with EAGAIN (a
 * syscall for nothing, two per message on a round trip).  Readers stop
 * and go back to their poll, which is level-triggered: bytes that arrive
 * meanwhile, or that the kernel held back at a descriptor boundary, wake
 * it again. */
bool stream_read_was_short(const Stream *stream);

/* Writes as much queued output as the socket takes.  Returns 1 when the
 * output is now empty, 0 when some remains (wait for writability), or a
 * negative errno (-EPIPE when the peer is gone). */
int stream_flush(Stream *stream);

/* Queues fds (ownership moves to the stream on success) to travel with the
 * next byte appended to the output.  Returns 0, -E2BIG or -ENOMEM. */
int stream_queue_fds(Stream *stream, const int *fds, size_t n_fds);

/* The offset of the first byte in the input buffer, counted from the first
 * byte ever read. */
uint64_t stream_input_offset(const Stream *stream);
/* Bytes read from the socket so far, wherever they went (input or a
 * block of stream_read_to()). */
uint64_t stream_bytes_read(const Stream *stream);

/* Takes the descriptors of the frame that occupied input bytes
 * [frame_start, frame_end) (just parsed off the input) into fds (the
 * caller owns them): exactly `declared`, which must have arrived with the
 * frame's first byte.  Returns 0, or -EPROTO when they did not (fewer, more,
 * or with another frame), or when descriptors are left that arrived with
 * no frame at all.  Then the connection must go: its descriptors close with
 * the stream. */
int stream_take_frame_fds(Stream *stream, uint64_t frame_start, uint64_t frame_end, int *fds,
			  size_t declared);
/* How many received descriptors are waiting to be taken. */
size_t stream_pending_fds(const Stream *stream);
/* How many descriptors are queued to be sent. */
size_t stream_output_fds(const Stream *stream);

#endif
