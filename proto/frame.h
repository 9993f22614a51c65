/* SPDX-License-Identifier: MIT */
/*
 * frame.h - the crosspost frame codec, shared by the broker and libcrosspost.
 *
 * A frame is  u32 header_length | u32 payload_length | Header | payload,
 * lengths little endian.  The Header (proto/crosspost.proto) says what the
 * frame is; the payload is opaque here.  A parsed frame is one allocation:
 * its header is unpacked into an arena inside it, and a small payload is
 * copied in beside it (cheaper than a buffer of its own); a large payload
 * stays in the evbuffer chains it was read into, which move from input to
 * output without being copied.
 */
#ifndef CP_FRAME_H
#define CP_FRAME_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "proto/crosspost.pb-c.h"
#include "stream.h"

struct evbuffer;

#define FRAME_PREFIX_SIZE 8
/* Headers hold ids, a name and a URL or two: 64 KiB is generous, and the
 * limit is checked before protobuf-c allocates anything. */
#define FRAME_HEADER_MAX (64u * 1024u)
/* The largest message data one frame carries.  Large enough for the 64 MiB
 * ArrayBuffers of the benchmarks with room for their graph; bigger buffers
 * are meant to be transferred (a descriptor), not copied. */
#define FRAME_PAYLOAD_MAX (128u * 1024u * 1024u)
/* Advertised as the protocol version in Hello and Welcome. */
#define FRAME_PROTOCOL_VERSION CROSSPOST__VERSION__VERSION_CURRENT

/* The most descriptors one frame carries (transferred buffers). */
#define FRAME_FDS_MAX STREAM_FDS_MAX

/* Payloads up to this many bytes are copied into the frame; larger ones
 * keep their chains (see above).  A copy of 4 KiB costs less than the
 * buffer and chain a payload of its own needs. */
#define FRAME_INLINE_MAX 4096u
/* Bytes inside each frame for its unpacked header; a typical Post or
 * Event needs about half, more spills into malloc'd blocks. */
#define FRAME_ARENA_SIZE 512u

/* frame.c's frame_clear_fields() sets each field before the arena by
 * name: a field added here is set there too. */
typedef struct Frame {
	Crosspost__Header *header;   /* unpacked; owned by the frame */
	/* The payload: `payload` when large (owned chains), else the
	 * inline_length bytes at inline_payload. */
	struct evbuffer *payload;
	size_t inline_length;
	/* Or, from frame_parse_start(), block_length bytes at block: a
	 * buffer_pool.h block owned by the frame. */
	uint8_t *block;
	size_t block_length;
	int *fds;                    /* n_fds, in the arena; owned: closed by frame_free() */
	size_t n_fds;                /* set n_fds to 0 after taking them */
	size_t wire_length;          /* prefix + header + payload, as read */
	struct Frame *next;          /* free for the owner's queues */
	/* The header's arena: blocks that do not fit are chained from
	 * spilled and freed with the frame. */
	size_t arena_used;
	void *spilled;
	bool cacheable;              /* of FrameCache's size: frame_recycle() keeps it */
	_Alignas(16) unsigned char arena[FRAME_ARENA_SIZE];
	_Alignas(16) unsigned char inline_payload[];
} Frame;

/* Frames kept for reuse by one owner, on one thread.  A client parses up
 * to 128 events ahead of their dispatch, more than glibc's per-thread
 * cache keeps of one size (7): every frame went through malloc's bins, a
 * fifth of a 64 B receiver's time.  A frame whose payload is inline and at
 * most FRAME_CACHE_INLINE bytes comes from the cache, and goes back to it
 * with frame_recycle(); at most FRAME_CACHE_MAX are kept (about 100 KiB).
 * All zero is an empty cache. */
#define FRAME_CACHE_INLINE 128u
#define FRAME_CACHE_MAX 128u
typedef struct FrameCache {
	struct Frame *free;          /* linked through Frame.next */
	unsigned count;
} FrameCache;

/* Frees the frames kept in cache; it is empty afterwards. */
void frame_cache_clear(FrameCache *cache);

/* A reader that has just taken a large frame expects the next to be like
 * it: a stream of like messages, or the other half of a round trip.  Its
 * next read, when its input is empty, then takes that frame's prefix and
 * header into the input and its payload into a pooled block in one
 * recvmsg (frame_read_expected()), where reading the header first and the
 * payload in place after it took two (and a read of a chunk took most of
 * the payload into the input, to be copied out).  Expected once two
 * large frames in a row had the same shape, so that large and small
 * frames taking turns cost no read that guessed wrong (its bytes are
 * copied back); payloads up to FRAME_EXPECT_MAX, headers up to
 * FRAME_EXPECT_HEADER_MAX (a Post or an Event is a few hundred bytes; a
 * read's input part stays well within a chunk).  All zero: nothing
 * expected. */
#define FRAME_EXPECT_MAX (512u * 1024u)
#define FRAME_EXPECT_HEADER_MAX 4096u
typedef struct FrameExpect {
	uint32_t header_length;
	uint32_t payload_length;
	bool confirmed;              /* the last two frames had this shape */
} FrameExpect;

/* What frame_read_expected() read of the expected payload: have bytes at
 * the start of block (capacity bytes, from buffer_pool.h), for the frame
 * whose prefix and header the input holds, and nothing else.  Taken by
 * frame_parse_start(); all zero: none. */
typedef struct FrameAhead {
	uint8_t *block;
	size_t capacity, have;
} FrameAhead;

/* Notes what the reader expects after frame (just parsed). */
void frame_expect_after(FrameExpect *expect, const Frame *frame);

/* One read, when expect->confirmed and the input is empty:
 * as stream_read_split() (wait as stream_read_waiting()).  When the bytes
 * read are that frame's prefix, header and the start of its payload, the
 * payload's part is left in *ahead for frame_parse_start(); otherwise
 * they are all in the input, as a plain read would have left them.
 * Returns as stream_read(), or -ENOMEM. */
ssize_t frame_read_expected(Stream *stream, const FrameExpect *expect, bool wait, FrameAhead *ahead);

/* Gives back a block frame_read_expected() left that nothing took. */
void frame_ahead_clear(FrameAhead *ahead);

/* Takes one whole frame off the front of in.  Returns 1 with *ret set (the
 * caller frees it), 0 when in holds no whole frame yet (nothing consumed),
 * or, when the bytes can never become a valid frame, -EMSGSIZE (a length
 * over the limits) or -EBADMSG (a header that does not decode), with a
 * static reason in *ret_reason; -ENOMEM.  An empty header is a Header with
 * every field at its default (body_case NOT_SET). */
int frame_parse(struct evbuffer *in, Frame **ret, const char **ret_reason);

/* frame_parse() for readers that read large payloads in place: a frame
 * whose payload is over FRAME_INLINE_MAX is returned as soon as its header
 * has arrived, its payload in one block of the payload's size
 * (frame->block, from buffer_pool.h, so that one large message after
 * another lands in pages already faulted in) holding what had arrived,
 * and *ret_missing bytes still to come: the caller reads them into the
 * block (stream_read_to()) before using the frame.  Other frames as
 * frame_parse(), with *ret_missing 0.  cache (may be NULL) gives small
 * frames: free them with frame_recycle() to give them back.  ahead (may
 * be NULL) is what frame_read_expected() left: that block becomes the
 * frame's (ahead is cleared in any case). */
int frame_parse_start(struct evbuffer *in, FrameCache *cache, FrameAhead *ahead, Frame **ret,
		      size_t *ret_missing, const char **ret_reason);

/* Appends a frame to out.  payload may be NULL (empty); its bytes are moved
 * into out (payload is left empty), not copied.  Returns 0, -EMSGSIZE (out
 * unchanged) or -ENOMEM. */
int frame_append(struct evbuffer *out, const Crosspost__Header *header, struct evbuffer *payload);

/* The same with a payload copied from memory. */
int frame_append_bytes(struct evbuffer *out, const Crosspost__Header *header,
		       const void *payload, size_t payload_length);

/* Appends a frame with header and the payload of src (a parsed frame):
 * an inline payload is copied beside the header in one reservation, a
 * large one's chains are moved (src's payload is empty afterwards).
 * src may be NULL (no payload).  Returns as frame_append(). */
int frame_append_from(struct evbuffer *out, const Crosspost__Header *header, Frame *src);

/* The payload's length, and its bytes made contiguous (borrowed from the
 * frame; NULL only when out of memory). */
size_t frame_payload_length(const Frame *frame);
const uint8_t *frame_payload_bytes(Frame *frame);

/* Takes the descriptors frame's header declares (the fd_count of Post,
 * PortPost, PortReturn and Event) from the stream it was just parsed from
 * (call it before parsing the next frame).  Returns 0, -E2BIG (more than
 * FRAME_FDS_MAX) or -EPROTO (the descriptors that arrived with the frame
 * are not the ones it declares, or some arrived with no frame). */
int frame_take_fds(Frame *frame, Stream *stream);

/* How many descriptors the frame's header says travel with it. */
uint32_t frame_declared_fds(const Frame *frame);

/* The length of the whole frame at the front of in, from its prefix:
 * 1 with *ret_length, 0 when the prefix has not arrived. */
int frame_peek_length(struct evbuffer *in, uint64_t *ret_length);
/* The same, its two parts as the prefix gives them (unchecked). */
int frame_peek_lengths(struct evbuffer *in, uint32_t *ret_header_length, uint32_t *ret_payload_length);

/* Closes the frame's descriptors that nobody took, frees the rest. */
Frame *frame_free(Frame *frame);
/* frame_free(), keeping the frame's memory in cache when it came from one
 * (frame_parse_start()) and the cache has room.  Returns NULL. */
Frame *frame_recycle(FrameCache *cache, Frame *frame);

/* The frame kind's name for logs, e.g. "post"; static. */
const char *frame_kind_name(Crosspost__Header__BodyCase kind);

#endif
