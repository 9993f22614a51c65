/* SPDX-License-Identifier: MIT */
/*
 * frame.h - the crosspost frame codec, shared by the broker and libcrosspost.
 *
 * A frame is  u32 header_length | u32 payload_length | Header | payload,
 * lengths little endian.  The Header (proto/crosspost.proto) says what the
 * frame is; the payload is opaque here and travels as an evbuffer so that
 * the broker forwards it without copying or decoding it.
 */
#ifndef CP_FRAME_H
#define CP_FRAME_H

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

typedef struct Frame {
	Crosspost__Header *header;   /* unpacked; owned by the frame */
	struct evbuffer *payload;    /* owned by the frame; may be empty */
	int fds[FRAME_FDS_MAX];      /* owned by the frame: closed by frame_free() */
	size_t n_fds;                /* set n_fds to 0 after taking them */
	size_t wire_length;          /* prefix + header + payload, as read */
} Frame;

/* Takes one whole frame off the front of in.  Returns 1 with *ret set (the
 * caller frees it), 0 when in holds no whole frame yet (nothing consumed),
 * or, when the bytes can never become a valid frame, -EMSGSIZE (a length
 * over the limits) or -EBADMSG (a header that does not decode), with a
 * static reason in *ret_reason; -ENOMEM.  An empty header is a Header with
 * every field at its default (body_case NOT_SET). */
int frame_parse(struct evbuffer *in, Frame **ret, const char **ret_reason);

/* Appends a frame to out.  payload may be NULL (empty); its bytes are moved
 * into out (payload is left empty), not copied.  Returns 0, -EMSGSIZE (out
 * unchanged) or -ENOMEM. */
int frame_append(struct evbuffer *out, const Crosspost__Header *header, struct evbuffer *payload);

/* The same with a payload copied from memory. */
int frame_append_bytes(struct evbuffer *out, const Crosspost__Header *header,
		       const void *payload, size_t payload_length);

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

/* Closes the frame's descriptors that nobody took, frees the rest. */
Frame *frame_free(Frame *frame);

/* The frame kind's name for logs, e.g. "post"; static. */
const char *frame_kind_name(Crosspost__Header__BodyCase kind);

#endif
