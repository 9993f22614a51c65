/* SPDX-License-Identifier: MIT */
/* frame.c - length-prefixed frames: protobuf header plus opaque payload. */
#include <endian.h>
#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>

#include "buffer_pool.h"
#include "cleanup.h"
#include "frame.h"
#include "header_codec.h"

static uint32_t read_le32(const unsigned char *p)
{
	uint32_t v;

	memcpy(&v, p, sizeof(v));
	return le32toh(v);
}

/* protobuf-c allocates through the frame: from its arena, else a block
 * chained for frame_free().  Nothing is freed one by one. */
typedef struct Spill {
	struct Spill *next;
	_Alignas(16) unsigned char data[];
} Spill;

static void *arena_alloc(void *userdata, size_t size)
{
	Frame *f = userdata;
	size_t at = (f->arena_used + 15u) & ~(size_t)15u;
	Spill *spill;

	if (size <= FRAME_ARENA_SIZE && at <= FRAME_ARENA_SIZE - size) {
		f->arena_used = at + size;
		return f->arena + at;
	}
	spill = malloc(sizeof(*spill) + size);
	if (!spill)
		return NULL;
	spill->next = f->spilled;
	f->spilled = spill;
	return spill->data;
}

static void arena_free(void *userdata, void *pointer)
{
	(void)userdata;
	(void)pointer;    /* all of it goes with the frame */
}

/* How parse() treats a payload over FRAME_INLINE_MAX. */
typedef enum LargePayload {
	LARGE_WHOLE,      /* wait for all of it, move its chains (frame_parse) */
	LARGE_BLOCK,      /* one pooled block, the rest read into it (frame_parse_start) */
} LargePayload;

/* The fields before the arena, one by one: gcc clears 96 bytes with rep
 * stos, whose start-up cost was a few percent of every frame parsed here
 * (value_encode.c says the same of its encoder).  Every field of Frame
 * before `arena` is set: one added there is added here. */
static void frame_clear_fields(Frame *frame)
{
	frame->header = NULL;
	frame->payload = NULL;
	frame->inline_length = 0;
	frame->block = NULL;
	frame->block_length = 0;
	frame->fds = NULL;
	frame->n_fds = 0;
	frame->wire_length = 0;
	frame->next = NULL;
	frame->arena_used = 0;
	frame->spilled = NULL;
	frame->cacheable = false;
}

/* A frame for a header and an inline payload of payload_length bytes (0
 * for a large payload, which is not inline). */
static Frame *frame_alloc(FrameCache *cache, size_t payload_length)
{
	Frame *frame;

	if (!cache || payload_length > FRAME_CACHE_INLINE) {
		frame = malloc(sizeof(*frame) + payload_length);
		if (frame)
			frame_clear_fields(frame);
		return frame;
	}
	frame = cache->free;
	if (frame) {
		cache->free = frame->next;
		cache->count--;
	} else if (!(frame = malloc(sizeof(*frame) + FRAME_CACHE_INLINE))) {
		return NULL;
	}
	frame_clear_fields(frame);
	frame->cacheable = true;
	return frame;
}

static int parse(struct evbuffer *in, LargePayload large, FrameCache *cache, FrameAhead *ahead, Frame **ret,
		 size_t *ret_missing, const char **ret_reason)
{
	uint32_t header_length, payload_length;
	const char *reason = NULL;
	ProtobufCAllocator allocator;
	unsigned char *bytes;
	bool inline_payload;
	Frame *frame;

	if (!frame_peek_lengths(in, &header_length, &payload_length))
		return 0;
	/* Limits are checked before anything is allocated or waited for, so a
	 * lying length costs the peer its connection, not our memory. */
	/* An empty header is a valid (all-default) Header: it parses, and the
	 * dispatcher rejects it as an unknown frame type, so that every parsed
	 * frame packs and parses again the same (see fuzz/fuzz_frame.c). */
	if (header_length > FRAME_HEADER_MAX)
		reason = "frame header larger than 64 KiB";
	else if (payload_length > FRAME_PAYLOAD_MAX)
		reason = "frame payload larger than 128 MiB";
	if (reason) {
		if (ret_reason)
			*ret_reason = reason;
		return -EMSGSIZE;
	}
	inline_payload = payload_length <= FRAME_INLINE_MAX;
	if (evbuffer_get_length(in) < (size_t)FRAME_PREFIX_SIZE + header_length +
	    (large != LARGE_WHOLE && !inline_payload ? 0 : payload_length))
		return 0;
	/* The arena and the payload need no zeroing: a few hundred bytes less
	 * to write per frame. */
	frame = frame_alloc(cache, inline_payload ? payload_length : 0);
	if (!frame)
		return -ENOMEM;
	/* Contiguous in the common case already: the read buffer holds many
	 * small frames whole, so this copies nothing. */
	bytes = evbuffer_pullup(in, FRAME_PREFIX_SIZE + (ssize_t)header_length +
				(inline_payload ? (ssize_t)payload_length : 0));
	if (!bytes) {
		frame_free(frame);
		return -ENOMEM;
	}
	allocator = (ProtobufCAllocator){ .alloc = arena_alloc, .free = arena_free, .allocator_data = frame };
	frame->header = header_unpack(&allocator, header_length, bytes + FRAME_PREFIX_SIZE);
	if (!frame->header) {
		frame_free(frame);
		if (ret_reason)
			*ret_reason = "frame header does not decode";
		return -EBADMSG;
	}
	frame->wire_length = FRAME_PREFIX_SIZE + (size_t)header_length + payload_length;
	if (inline_payload) {
		memcpy(frame->inline_payload, bytes + FRAME_PREFIX_SIZE + header_length, payload_length);
		frame->inline_length = payload_length;
		evbuffer_drain(in, frame->wire_length);
		*ret = frame;
		return 1;
	}
	evbuffer_drain(in, FRAME_PREFIX_SIZE + (size_t)header_length);
	if (large == LARGE_BLOCK && ahead && ahead->block) {
		/* frame_read_expected() checked that this frame is the one it
		 * read ahead for: its payload starts in the block.  Whatever
		 * the input holds after the header was read later, so it goes
		 * on from there (a reader that read again before parsing; or
		 * the next frames, after a whole payload). */
		size_t more = evbuffer_get_length(in) < payload_length - ahead->have ?
			      evbuffer_get_length(in) : payload_length - ahead->have;

		evbuffer_remove(in, ahead->block + ahead->have, more);
		frame->block = ahead->block;
		frame->block_length = payload_length;
		*ret_missing = payload_length - ahead->have - more;
		*ahead = (FrameAhead){ 0 };
		*ret = frame;
		return 1;
	}
	if (large == LARGE_BLOCK) {
		/* Pooled: a receiver of one large message after another reuses
		 * the pages it faulted in for the last (buffer_pool.h). */
		size_t have = evbuffer_get_length(in) < payload_length ? evbuffer_get_length(in) : payload_length;

		frame->block = buffer_pool_get(payload_length);
		if (!frame->block) {
			frame_free(frame);
			return -ENOMEM;
		}
		frame->block_length = payload_length;
		evbuffer_remove(in, frame->block, have);
		*ret_missing = payload_length - have;
		*ret = frame;
		return 1;
	}
	frame->payload = evbuffer_new();
	if (!frame->payload) {
		frame_free(frame);
		return -ENOMEM;
	}
	/* Moves whole chains where it can: the payload is not copied. */
	if (evbuffer_remove_buffer(in, frame->payload, payload_length) != (int)payload_length) {
		frame_free(frame);
		return -ENOMEM;
	}
	*ret = frame;
	return 1;
}

int frame_parse(struct evbuffer *in, Frame **ret, const char **ret_reason)
{
	return parse(in, LARGE_WHOLE, NULL, NULL, ret, NULL, ret_reason);
}

/* Whether the input starts with the prefix and header (whole) of a frame
 * whose payload is payload_length bytes and over FRAME_INLINE_MAX (a block
 * frame); exactly: and nothing else. */
static bool input_starts_with_header_of(struct evbuffer *in, size_t payload_length, bool exactly)
{
	uint32_t header_length, length;
	size_t have = evbuffer_get_length(in), want;

	if (!frame_peek_lengths(in, &header_length, &length) || length != payload_length ||
	    length <= FRAME_INLINE_MAX || header_length > FRAME_HEADER_MAX)
		return false;
	want = FRAME_PREFIX_SIZE + (size_t)header_length;
	return exactly ? have == want : have >= want;
}

int frame_parse_start(struct evbuffer *in, FrameCache *cache, FrameAhead *ahead, Frame **ret,
		      size_t *ret_missing, const char **ret_reason)
{
	*ret_missing = 0;
	if (ahead && ahead->block && !input_starts_with_header_of(in, ahead->capacity, false)) {
		/* frame_read_expected() left the block for this frame only;
		 * the reader must parse right after that read. */
		frame_ahead_clear(ahead);
		if (ret_reason)
			*ret_reason = "bytes read ahead for a frame that is not there";
		return -EPROTO;
	}
	return parse(in, LARGE_BLOCK, cache, ahead, ret, ret_missing, ret_reason);
}

void frame_expect_after(FrameExpect *expect, const Frame *frame)
{
	uint32_t header_length;

	header_length = (uint32_t)(frame->wire_length - FRAME_PREFIX_SIZE - frame->block_length);
	if (!frame->block || frame->block_length > FRAME_EXPECT_MAX || header_length > FRAME_EXPECT_HEADER_MAX) {
		*expect = (FrameExpect){ 0 };
		return;
	}
	expect->confirmed = expect->payload_length == frame->block_length && expect->header_length == header_length;
	expect->payload_length = (uint32_t)frame->block_length;
	expect->header_length = header_length;
}

ssize_t frame_read_expected(Stream *stream, const FrameExpect *expect, bool wait, FrameAhead *ahead)
{
	size_t first = FRAME_PREFIX_SIZE + (size_t)expect->header_length, in_block = 0, in_then = 0;
	/* What follows the payload, if it is there: the next header (see
	 * stream_read_to()). */
	uint8_t then[STREAM_READ_HEADER];
	uint8_t *block;
	ssize_t n;

	frame_ahead_clear(ahead);
	block = buffer_pool_get(expect->payload_length);
	if (!block)
		return -ENOMEM;
	n = stream_read_split(stream, first, block, expect->payload_length, then, sizeof(then), wait, &in_block,
			      &in_then);
	if (in_block > 0 && input_starts_with_header_of(stream_input(stream), expect->payload_length, true)) {
		*ahead = (FrameAhead){ block, expect->payload_length, in_block };
		/* The input goes on after the payload, which the frame takes
		 * from the block. */
		if (stream_unread(stream, then, in_then) < 0)
			n = -ENOMEM;
		return n;
	}
	/* Something else came (a small frame, a header of another length):
	 * as if read into the input, at the cost of a copy. */
	if (stream_unread(stream, block, in_block) < 0 || stream_unread(stream, then, in_then) < 0)
		n = -ENOMEM;
	buffer_pool_put(block);
	return n;
}

void frame_ahead_clear(FrameAhead *ahead)
{
	buffer_pool_put(ahead->block);
	*ahead = (FrameAhead){ 0 };
}

size_t frame_payload_length(const Frame *frame)
{
	if (frame->block)
		return frame->block_length;
	return frame->payload ? evbuffer_get_length(frame->payload) : frame->inline_length;
}

const uint8_t *frame_payload_bytes(Frame *frame)
{
	if (frame->block)
		return frame->block;
	if (!frame->payload)
		return frame->inline_payload;
	if (evbuffer_get_length(frame->payload) == 0)
		return frame->inline_payload;    /* empty: any valid pointer */
	return evbuffer_pullup(frame->payload, -1);
}

/* A buffer holding at least this much is a run of frames on its way out. */
#define FRAME_RUN_BYTES (16u * 1024u)
/* The chain such a buffer gets next: 16 KiB with libevent's own header
 * (it rounds a chain up to a power of two, header included). */
#define FRAME_RUN_CHAIN (16u * 1024u - 128u)
/* A chain with less room than this left is full for the next frame. */
#define FRAME_RUN_SLACK 512u

/* Commits a frame reserved with evbuffer_reserve_space() (vec->iov_len is
 * the room the chain had; length what the frame took).  libevent gives a
 * buffer whose last chain is full a new one of about the next frame's size:
 * 1 KiB at 64 B, so a malloc and a free per ten messages, and a writev of
 * STREAM_IOV_MAX chains carries 64 KiB at most.  A buffer that holds a run
 * of frames gets its next chain now, and a large one: its capacity stays
 * under twice what it holds, plus one chain.  Failing that, the next frame
 * gets a small chain as before. */
static int commit_frame(struct evbuffer *out, struct evbuffer_iovec *vec, size_t length)
{
	size_t room = vec->iov_len - length;

	vec->iov_len = length;
	if (evbuffer_commit_space(out, vec, 1) < 0)
		return -ENOMEM;
	if (room < FRAME_RUN_SLACK && evbuffer_get_length(out) >= FRAME_RUN_BYTES)
		(void)evbuffer_expand(out, FRAME_RUN_CHAIN);
	return 0;
}

static int append_prefix_and_header(struct evbuffer *out, const Crosspost__Header *header,
				    size_t payload_length)
{
	size_t header_length = header_packed_size(header);
	struct evbuffer_iovec vec;
	uint32_t lengths[2];
	unsigned char *p;

	if (header_length > FRAME_HEADER_MAX || payload_length > FRAME_PAYLOAD_MAX)
		return -EMSGSIZE;
	if (evbuffer_reserve_space(out, (ssize_t)(FRAME_PREFIX_SIZE + header_length), &vec, 1) != 1)
		return -ENOMEM;
	p = vec.iov_base;
	lengths[0] = htole32((uint32_t)header_length);
	lengths[1] = htole32((uint32_t)payload_length);
	memcpy(p, lengths, sizeof(lengths));
	header_pack(header, header_length, p + FRAME_PREFIX_SIZE);
	return commit_frame(out, &vec, FRAME_PREFIX_SIZE + header_length);
}

int frame_append(struct evbuffer *out, const Crosspost__Header *header, struct evbuffer *payload)
{
	size_t payload_length = payload ? evbuffer_get_length(payload) : 0;
	int r;

	r = append_prefix_and_header(out, header, payload_length);
	if (r < 0)
		return r;
	/* Moving chains allocates nothing, so this cannot fail half-way. */
	if (payload_length > 0 && evbuffer_add_buffer(out, payload) < 0)
		return -ENOMEM;
	return 0;
}

/* Prefix, header and payload bytes in one reservation: one chain, one
 * iovec when written. */
static int append_all_bytes(struct evbuffer *out, const Crosspost__Header *header, const void *payload,
			    size_t payload_length)
{
	size_t header_length = header_packed_size(header);
	struct evbuffer_iovec vec;
	uint32_t lengths[2];
	unsigned char *p;

	if (header_length > FRAME_HEADER_MAX || payload_length > FRAME_PAYLOAD_MAX)
		return -EMSGSIZE;
	if (evbuffer_reserve_space(out, (ssize_t)(FRAME_PREFIX_SIZE + header_length + payload_length), &vec, 1) != 1)
		return -ENOMEM;
	p = vec.iov_base;
	lengths[0] = htole32((uint32_t)header_length);
	lengths[1] = htole32((uint32_t)payload_length);
	memcpy(p, lengths, sizeof(lengths));
	header_pack(header, header_length, p + FRAME_PREFIX_SIZE);
	if (payload_length)
		memcpy(p + FRAME_PREFIX_SIZE + header_length, payload, payload_length);
	return commit_frame(out, &vec, FRAME_PREFIX_SIZE + header_length + payload_length);
}

int frame_append_from(struct evbuffer *out, const Crosspost__Header *header, Frame *src)
{
	if (!src)
		return append_all_bytes(out, header, NULL, 0);
	if (src->block) {
		/* By reference: the kernel copies it once, when written, and the
		 * block goes back to the pool then. */
		int r = append_prefix_and_header(out, header, src->block_length);

		if (r < 0)
			return r;
		if (evbuffer_add_reference(out, src->block, src->block_length, buffer_pool_put_reference, NULL) < 0)
			return -ENOMEM;
		src->block = NULL;
		src->block_length = 0;
		return 0;
	}
	if (!src->payload) {
		size_t n = src->inline_length;

		src->inline_length = 0;
		return append_all_bytes(out, header, src->inline_payload, n);
	}
	return frame_append(out, header, src->payload);
}

int frame_append_bytes(struct evbuffer *out, const Crosspost__Header *header,
		       const void *payload, size_t payload_length)
{
	int r;

	if (payload_length <= FRAME_INLINE_MAX)
		return append_all_bytes(out, header, payload, payload_length);
	r = append_prefix_and_header(out, header, payload_length);
	if (r < 0)
		return r;
	if (evbuffer_add(out, payload, payload_length) < 0)
		return -ENOMEM;
	return 0;
}

uint32_t frame_declared_fds(const Frame *frame)
{
	switch (frame->header->body_case) {
	case CROSSPOST__HEADER__BODY_POST: return frame->header->post->fd_count;
	case CROSSPOST__HEADER__BODY_EVENT: return frame->header->event->fd_count;
	case CROSSPOST__HEADER__BODY_PORT_POST: return frame->header->port_post->fd_count;
	case CROSSPOST__HEADER__BODY_PORT_RETURN: return frame->header->port_return->fd_count;
	default: return 0;
	}
}

int frame_take_fds(Frame *frame, Stream *stream)
{
	uint32_t declared = frame_declared_fds(frame);
	uint64_t end = stream_input_offset(stream);
	int r;

	if (declared > FRAME_FDS_MAX)
		return -E2BIG;
	if (declared > 0) {
		frame->fds = arena_alloc(frame, declared * sizeof(int));
		if (!frame->fds)
			return -ENOMEM;
	}
	/* Descriptors arrive with the first byte of their frame, and frames
	 * are parsed in order: this frame's are the oldest ones waiting. */
	r = stream_take_frame_fds(stream, end - frame->wire_length, end, frame->fds, declared);
	if (r < 0)
		return r;
	frame->n_fds = declared;
	return 0;
}

int frame_peek_lengths(struct evbuffer *in, uint32_t *ret_header_length, uint32_t *ret_payload_length)
{
	/* A pointer into the first chain, which holds the prefix but when it
	 * straddles two reads: evbuffer_copyout() walked the chains and
	 * copied, twice a frame in crosspostd (4% of its time). */
	const unsigned char *prefix = evbuffer_pullup(in, FRAME_PREFIX_SIZE);

	if (!prefix)
		return 0;
	*ret_header_length = read_le32(prefix);
	*ret_payload_length = read_le32(prefix + 4);
	return 1;
}

int frame_peek_length(struct evbuffer *in, uint64_t *ret_length)
{
	uint32_t header_length, payload_length;

	if (!frame_peek_lengths(in, &header_length, &payload_length))
		return 0;
	*ret_length = FRAME_PREFIX_SIZE + (uint64_t)header_length + payload_length;
	return 1;
}

/* Everything a frame owns but its own memory. */
static void release_contents(Frame *frame)
{
	close_fds(frame->fds, frame->n_fds);
	while (frame->spilled) {
		Spill *spill = frame->spilled;

		frame->spilled = spill->next;
		free(spill);
	}
	if (frame->payload)
		evbuffer_free(frame->payload);
	buffer_pool_put(frame->block);
}

Frame *frame_free(Frame *frame)
{
	if (!frame)
		return NULL;
	release_contents(frame);
	free(frame);
	return NULL;
}

Frame *frame_recycle(FrameCache *cache, Frame *frame)
{
	if (!frame)
		return NULL;
	if (!cache || !frame->cacheable || cache->count >= FRAME_CACHE_MAX)
		return frame_free(frame);
	release_contents(frame);
	frame->next = cache->free;
	cache->free = frame;
	cache->count++;
	return NULL;
}

void frame_cache_clear(FrameCache *cache)
{
	while (cache->free) {
		Frame *frame = cache->free;

		cache->free = frame->next;
		free(frame);
	}
	cache->count = 0;
}

const char *frame_kind_name(Crosspost__Header__BodyCase kind)
{
	switch (kind) {
	case CROSSPOST__HEADER__BODY_HELLO: return "hello";
	case CROSSPOST__HEADER__BODY_WELCOME: return "welcome";
	case CROSSPOST__HEADER__BODY_REGISTER: return "register";
	case CROSSPOST__HEADER__BODY_REGISTERED: return "registered";
	case CROSSPOST__HEADER__BODY_UNREGISTER: return "unregister";
	case CROSSPOST__HEADER__BODY_NAVIGATE: return "navigate";
	case CROSSPOST__HEADER__BODY_NAVIGATED: return "navigated";
	case CROSSPOST__HEADER__BODY_LOOKUP: return "lookup";
	case CROSSPOST__HEADER__BODY_FOUND: return "found";
	case CROSSPOST__HEADER__BODY_LIST_WINDOWS: return "list-windows";
	case CROSSPOST__HEADER__BODY_WINDOW_LIST: return "window-list";
	case CROSSPOST__HEADER__BODY_POST: return "post";
	case CROSSPOST__HEADER__BODY_SYNC: return "sync";
	case CROSSPOST__HEADER__BODY_ACK: return "ack";
	case CROSSPOST__HEADER__BODY_EVENT: return "event";
	case CROSSPOST__HEADER__BODY_ERROR: return "error";
	case CROSSPOST__HEADER__BODY_CREATE_CHANNEL: return "create-channel";
	case CROSSPOST__HEADER__BODY_CHANNEL_CREATED: return "channel-created";
	case CROSSPOST__HEADER__BODY_PORT_POST: return "port-post";
	case CROSSPOST__HEADER__BODY_PORT_CLOSE: return "port-close";
	case CROSSPOST__HEADER__BODY_PORT_MOVED: return "port-moved";
	case CROSSPOST__HEADER__BODY_PORT_RETURN: return "port-return";
	case CROSSPOST__HEADER__BODY_PORT_RELEASED: return "port-released";
	case CROSSPOST__HEADER__BODY_GET_STATS: return "get-stats";
	case CROSSPOST__HEADER__BODY_STATS: return "stats";
	case CROSSPOST__HEADER__BODY_OPEN_WINDOW: return "open-window";
	case CROSSPOST__HEADER__BODY_OPENED: return "opened";
	case CROSSPOST__HEADER__BODY_CREATE_FRAME: return "create-frame";
	case CROSSPOST__HEADER__BODY_REMOVE_FRAME: return "remove-frame";
	case CROSSPOST__HEADER__BODY_CLAIM: return "claim";
	case CROSSPOST__HEADER__BODY_CLAIMED: return "claimed";
	case CROSSPOST__HEADER__BODY_CLOSE_WINDOW: return "close-window";
	case CROSSPOST__HEADER__BODY_RELATION: return "relation";
	case CROSSPOST__HEADER__BODY_RELATED: return "related";
	case CROSSPOST__HEADER__BODY_WINDOW_NAVIGATED: return "window-navigated";
	case CROSSPOST__HEADER__BODY_WINDOW_CLOSED: return "window-closed";
	case CROSSPOST__HEADER__BODY_BROADCAST_OPEN: return "broadcast-open";
	case CROSSPOST__HEADER__BODY_BROADCAST_OPENED: return "broadcast-opened";
	case CROSSPOST__HEADER__BODY_BROADCAST_POST: return "broadcast-post";
	case CROSSPOST__HEADER__BODY_BROADCAST_CLOSE: return "broadcast-close";
	case CROSSPOST__HEADER__BODY_REPORT_DROPS: return "report-drops";
	case CROSSPOST__HEADER__BODY_MONITOR: return "monitor";
	case CROSSPOST__HEADER__BODY_MONITOR_EVENT: return "monitor-event";
	default: return "unknown";
	}
}
