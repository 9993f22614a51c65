/* SPDX-License-Identifier: MIT */
/* check_frame.c - the frame codec and the descriptor-passing stream. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <check.h>
#include <event2/buffer.h>

#include "buffer_pool.h"
#include "fixture.h"
#include "frame.h"
#include "stream.h"

static Crosspost__Header *post_header(Crosspost__Header *h, Crosspost__Post *p)
{
	crosspost__header__init(h);
	crosspost__post__init(p);
	p->sender_window_id = 7;
	p->target_window_id = 9;
	p->target_origin = (char *)"https://b.example";
	h->serial = 42;
	h->body_case = CROSSPOST__HEADER__BODY_POST;
	h->post = p;
	return h;
}

START_TEST(frame_round_trip_keeps_header_and_payload)
{
	struct evbuffer *buf = evbuffer_new();
	Crosspost__Header h;
	Crosspost__Post p;
	Frame *f = NULL;
	char payload[100];

	memset(payload, 'x', sizeof(payload));
	ck_assert_int_eq(frame_append_bytes(buf, post_header(&h, &p), payload, sizeof(payload)), 0);
	ck_assert_int_eq(frame_parse(buf, &f, NULL), 1);
	ck_assert_int_eq(f->header->serial, 42);
	ck_assert_int_eq(f->header->body_case, CROSSPOST__HEADER__BODY_POST);
	ck_assert_str_eq(f->header->post->target_origin, "https://b.example");
	ck_assert_uint_eq(frame_payload_length(f), sizeof(payload));
	ck_assert_int_eq(memcmp(frame_payload_bytes(f), payload, sizeof(payload)), 0);
	ck_assert_uint_eq(evbuffer_get_length(buf), 0);
	frame_free(f);
	evbuffer_free(buf);
}
END_TEST

START_TEST(frame_partial_input_waits_for_more)
{
	struct evbuffer *whole = evbuffer_new(), *partial = evbuffer_new();
	Crosspost__Header h;
	Crosspost__Post p;
	Frame *f = NULL;
	size_t total;
	unsigned char *bytes;

	frame_append_bytes(whole, post_header(&h, &p), "abc", 3);
	total = evbuffer_get_length(whole);
	bytes = evbuffer_pullup(whole, -1);
	/* Every proper prefix is "not yet": nothing consumed, no frame. */
	for (size_t i = 0; i < total; i++) {
		evbuffer_drain(partial, evbuffer_get_length(partial));
		evbuffer_add(partial, bytes, i);
		ck_assert_int_eq(frame_parse(partial, &f, NULL), 0);
		ck_assert_uint_eq(evbuffer_get_length(partial), i);
	}
	evbuffer_add(partial, bytes + total - 1, 1);
	ck_assert_int_eq(frame_parse(partial, &f, NULL), 1);
	frame_free(f);
	evbuffer_free(whole);
	evbuffer_free(partial);
}
END_TEST

START_TEST(frame_oversized_lengths_rejected_before_buffering)
{
	struct evbuffer *buf = evbuffer_new();
	uint32_t lengths[2] = { FRAME_HEADER_MAX + 1, 0 };
	const char *reason = NULL;
	Frame *f = NULL;

	evbuffer_add(buf, lengths, sizeof(lengths));
	ck_assert_int_eq(frame_parse(buf, &f, &reason), -EMSGSIZE);
	ck_assert_ptr_nonnull(reason);
	evbuffer_drain(buf, evbuffer_get_length(buf));
	lengths[0] = 4;
	lengths[1] = FRAME_PAYLOAD_MAX + 1;
	evbuffer_add(buf, lengths, sizeof(lengths));
	ck_assert_int_eq(frame_parse(buf, &f, &reason), -EMSGSIZE);
	evbuffer_free(buf);
}
END_TEST

START_TEST(frame_garbage_header_is_bad_message)
{
	struct evbuffer *buf = evbuffer_new();
	uint32_t lengths[2] = { 4, 0 };
	const char *reason = NULL;
	Frame *f = NULL;

	evbuffer_add(buf, lengths, sizeof(lengths));
	evbuffer_add(buf, "\xff\xff\xff\xff", 4);
	ck_assert_int_eq(frame_parse(buf, &f, &reason), -EBADMSG);
	ck_assert_str_eq(reason, "frame header does not decode");
	evbuffer_drain(buf, evbuffer_get_length(buf));
	/* An empty header decodes to a frame of no known kind. */
	lengths[0] = 0;
	evbuffer_add(buf, lengths, sizeof(lengths));
	ck_assert_int_eq(frame_parse(buf, &f, &reason), 1);
	ck_assert_int_eq(f->header->body_case, CROSSPOST__HEADER__BODY__NOT_SET);
	frame_free(f);
	evbuffer_free(buf);
}
END_TEST

START_TEST(frame_append_moves_payload_buffer)
{
	struct evbuffer *out = evbuffer_new(), *payload = evbuffer_new();
	Crosspost__Header h;
	Crosspost__Post p;
	Frame *f = NULL;

	evbuffer_add(payload, "hello", 5);
	ck_assert_int_eq(frame_append(out, post_header(&h, &p), payload), 0);
	ck_assert_uint_eq(evbuffer_get_length(payload), 0);
	ck_assert_int_eq(frame_parse(out, &f, NULL), 1);
	ck_assert_int_eq(memcmp(frame_payload_bytes(f), "hello", 5), 0);
	frame_free(f);
	evbuffer_free(out);
	evbuffer_free(payload);
}
END_TEST

/* Small payloads are copied into the frame, large ones keep their chains;
 * either way a frame passed on carries the same bytes. */
START_TEST(frame_payload_small_inline_large_chained)
{
	static const size_t sizes[] = { 0, 1, FRAME_INLINE_MAX, FRAME_INLINE_MAX + 1, 300000 };
	Crosspost__Header h;
	Crosspost__Post p;

	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		struct evbuffer *in = evbuffer_new(), *out = evbuffer_new();
		unsigned char *bytes = malloc(sizes[i] + 1);
		Frame *f = NULL, *g = NULL;

		for (size_t k = 0; k < sizes[i]; k++)
			bytes[k] = (unsigned char)(k * 7);
		ck_assert_int_eq(frame_append_bytes(in, post_header(&h, &p), bytes, sizes[i]), 0);
		ck_assert_int_eq(frame_parse(in, &f, NULL), 1);
		ck_assert_int_eq(f->payload == NULL, sizes[i] <= FRAME_INLINE_MAX);
		ck_assert_uint_eq(frame_payload_length(f), sizes[i]);
		ck_assert_int_eq(memcmp(frame_payload_bytes(f), bytes, sizes[i]), 0);
		ck_assert_int_eq(frame_append_from(out, f->header, f), 0);
		ck_assert_int_eq(frame_parse(out, &g, NULL), 1);
		ck_assert_uint_eq(frame_payload_length(g), sizes[i]);
		ck_assert_int_eq(memcmp(frame_payload_bytes(g), bytes, sizes[i]), 0);
		frame_free(f);
		frame_free(g);
		free(bytes);
		evbuffer_free(in);
		evbuffer_free(out);
	}
}
END_TEST

/* A run of small frames fills large chains: 1,000 frames of 64 bytes
 * (about 100 KiB) in a few dozen chains rather than one per ten frames,
 * so that a writev of 64 iovecs carries most of them; and every frame
 * parses back, in order. */
START_TEST(frame_run_of_small_frames_fills_large_chains)
{
	struct evbuffer *buf = evbuffer_new();
	Crosspost__Header h;
	Crosspost__Post p;
	unsigned char payload[64];
	int chains;

	post_header(&h, &p);
	for (unsigned i = 0; i < 1000; i++) {
		h.serial = i;
		memset(payload, (int)(i & 0xff), sizeof(payload));
		ck_assert_int_eq(frame_append_bytes(buf, &h, payload, sizeof(payload)), 0);
	}
	chains = evbuffer_peek(buf, -1, NULL, NULL, 0);
	ck_assert_int_gt(evbuffer_get_length(buf), 90000);
	ck_assert_int_le(chains, 24);
	for (unsigned i = 0; i < 1000; i++) {
		Frame *f = NULL;

		memset(payload, (int)(i & 0xff), sizeof(payload));
		ck_assert_int_eq(frame_parse(buf, &f, NULL), 1);
		ck_assert_uint_eq(f->header->serial, i);
		ck_assert_uint_eq(frame_payload_length(f), sizeof(payload));
		ck_assert_int_eq(memcmp(frame_payload_bytes(f), payload, sizeof(payload)), 0);
		frame_free(f);
	}
	ck_assert_uint_eq(evbuffer_get_length(buf), 0);
	evbuffer_free(buf);
}
END_TEST

/* A cache hands frames back: a small frame recycled is the next one
 * parsed (same memory, the new frame's header and payload); a large one is
 * not kept; the cache keeps at most FRAME_CACHE_MAX. */
START_TEST(frame_cache_reuses_small_frames_within_bounds)
{
	struct evbuffer *buf = evbuffer_new();
	static Frame *frames[FRAME_CACHE_MAX + 10];
	unsigned char payload[FRAME_CACHE_INLINE + 1];
	FrameCache cache = { 0 };
	Crosspost__Header h;
	Crosspost__Post p;
	size_t missing;
	Frame *f, *g;

	post_header(&h, &p);
	memset(payload, 'a', sizeof(payload));
	ck_assert_int_eq(frame_append_bytes(buf, &h, payload, 64), 0);
	h.serial = 43;
	memset(payload, 'b', sizeof(payload));
	ck_assert_int_eq(frame_append_bytes(buf, &h, payload, 64), 0);
	ck_assert_int_eq(frame_parse_start(buf, &cache, NULL, &f, &missing, NULL), 1);
	ck_assert(f->cacheable);
	frame_recycle(&cache, f);
	ck_assert_uint_eq(cache.count, 1);
	ck_assert_int_eq(frame_parse_start(buf, &cache, NULL, &g, &missing, NULL), 1);
	ck_assert_ptr_eq(g, f);
	ck_assert_uint_eq(cache.count, 0);
	ck_assert_uint_eq(g->header->serial, 43);
	ck_assert_uint_eq(frame_payload_length(g), 64);
	ck_assert_int_eq(memcmp(frame_payload_bytes(g), payload, 64), 0);
	frame_recycle(&cache, g);

	/* Over FRAME_CACHE_INLINE: its own size, freed, not kept. */
	ck_assert_int_eq(frame_append_bytes(buf, &h, payload, sizeof(payload)), 0);
	ck_assert_int_eq(frame_parse_start(buf, &cache, NULL, &f, &missing, NULL), 1);
	ck_assert(!f->cacheable);
	ck_assert_int_eq(memcmp(frame_payload_bytes(f), payload, sizeof(payload)), 0);
	frame_recycle(&cache, f);
	ck_assert_uint_eq(cache.count, 1);

	for (size_t i = 0; i < sizeof(frames) / sizeof(frames[0]); i++) {
		ck_assert_int_eq(frame_append_bytes(buf, &h, payload, 16), 0);
		ck_assert_int_eq(frame_parse_start(buf, &cache, NULL, &frames[i], &missing, NULL), 1);
	}
	for (size_t i = 0; i < sizeof(frames) / sizeof(frames[0]); i++)
		frame_recycle(&cache, frames[i]);
	ck_assert_uint_eq(cache.count, FRAME_CACHE_MAX);
	frame_cache_clear(&cache);
	ck_assert_uint_eq(cache.count, 0);
	ck_assert_ptr_null(cache.free);
	evbuffer_free(buf);
}
END_TEST

/* Sends bytes, the first of them with fd (when >= 0) attached. */
static void send_with_fd(int sock, const void *bytes, size_t length, int fd)
{
	union { char buf[CMSG_SPACE(sizeof(int))]; struct cmsghdr align; } control;
	struct iovec iov = { (void *)bytes, length };
	struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1 };

	if (fd >= 0) {
		struct cmsghdr *cmsg;

		msg.msg_control = control.buf;
		msg.msg_controllen = sizeof(control.buf);
		cmsg = CMSG_FIRSTHDR(&msg);
		cmsg->cmsg_level = SOL_SOCKET;
		cmsg->cmsg_type = SCM_RIGHTS;
		cmsg->cmsg_len = CMSG_LEN(sizeof(int));
		memcpy(CMSG_DATA(cmsg), &fd, sizeof(int));
	}
	ck_assert_int_eq(sendmsg(sock, &msg, 0), (ssize_t)length);
}

/* A receiver's large payload goes into one pooled block: what arrived
 * with the header is copied in, the rest is read from the socket straight
 * into the block, the descriptor that came with the frame's first byte is
 * the frame's, and the frame after it parses as usual. */
START_TEST(frame_large_payload_read_in_place_into_a_block)
{
	const size_t size = 200000;
	unsigned char *bytes = malloc(size);
	struct evbuffer *wire = evbuffer_new();
	Crosspost__Header h;
	Crosspost__Post p;
	Stream *rx = NULL;
	Frame *f = NULL, *g = NULL;
	size_t missing = 99, sent = 0, taken;
	int sv[2], pipe_fds[2];

	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	ck_assert_int_eq(pipe(pipe_fds), 0);
	ck_assert_int_eq(stream_new(&rx, sv[1]), 0);
	for (size_t k = 0; k < size; k++)
		bytes[k] = (unsigned char)(k * 13 + 1);
	post_header(&h, &p);
	p.fd_count = 1;
	ck_assert_int_eq(frame_append_bytes(wire, &h, bytes, size), 0);
	p.fd_count = 0;
	ck_assert_int_eq(frame_append_bytes(wire, &h, "after", 5), 0);
	/* The first 1000 bytes with the descriptor, as a sender's first
	 * write would carry it. */
	send_with_fd(sv[0], evbuffer_pullup(wire, -1), 1000, pipe_fds[1]);
	evbuffer_drain(wire, 1000);
	close(pipe_fds[1]);
	ck_assert_int_eq(stream_read(rx), 1000);
	ck_assert_int_eq(frame_parse_start(stream_input(rx), NULL, NULL, &f, &missing, NULL), 1);
	ck_assert_ptr_nonnull(f->block);
	ck_assert_ptr_null(f->payload);
	ck_assert_uint_eq(frame_payload_length(f), size);
	ck_assert_uint_gt(missing, 0);
	ck_assert_uint_eq(evbuffer_get_length(stream_input(rx)), 0);
	while (missing > 0) {
		size_t chunk = evbuffer_get_length(wire) < 65536 ? evbuffer_get_length(wire) : 65536;
		ssize_t n;

		if (chunk > 0) {
			ck_assert_int_eq(write(sv[0], evbuffer_pullup(wire, (ssize_t)chunk), chunk), (ssize_t)chunk);
			evbuffer_drain(wire, chunk);
			sent += chunk;
		}
		/* And up to 64 bytes of what follows, into the input. */
		n = stream_read_to(rx, f->block + (size - missing), missing, 64);
		ck_assert_int_gt(n, 0);
		ck_assert_uint_le((size_t)n, missing + 64);
		taken = (size_t)n < missing ? (size_t)n : missing;
		missing -= taken;
		ck_assert_uint_eq(evbuffer_get_length(stream_input(rx)), (size_t)n - taken);
	}
	/* The last write carried the next frame (45 bytes) too: the read that
	 * finished the payload took it, and was short. */
	ck_assert_uint_eq(evbuffer_get_length(wire), 0);
	ck_assert_uint_gt(evbuffer_get_length(stream_input(rx)), 0);
	ck_assert(stream_read_was_short(rx));
	ck_assert_int_eq(memcmp(frame_payload_bytes(f), bytes, size), 0);
	ck_assert_int_eq(frame_take_fds(f, rx), 0);
	{
		/* Passed on (the broker): the block goes by reference, whole. */
		struct evbuffer *out = evbuffer_new();
		Frame *copy = NULL;

		ck_assert_int_eq(frame_append_from(out, f->header, f), 0);
		ck_assert_ptr_null(f->block);
		ck_assert_int_eq(frame_parse(out, &copy, NULL), 1);
		ck_assert_uint_eq(frame_payload_length(copy), size);
		ck_assert_int_eq(memcmp(frame_payload_bytes(copy), bytes, size), 0);
		frame_free(copy);
		evbuffer_free(out);
	}
	ck_assert_uint_eq(f->n_fds, 1);
	{
		char c = 0;

		ck_assert_int_eq(write(f->fds[0], "x", 1), 1);
		ck_assert_int_eq(read(pipe_fds[0], &c, 1), 1);
		ck_assert_int_eq(c, 'x');
	}
	/* The next frame, whole: parsed from the input as usual. */
	ck_assert_int_eq(frame_parse_start(stream_input(rx), NULL, NULL, &g, &missing, NULL), 1);
	ck_assert_uint_eq(missing, 0);
	ck_assert_uint_eq(frame_payload_length(g), 5);
	ck_assert_int_eq(memcmp(frame_payload_bytes(g), "after", 5), 0);
	ck_assert_int_eq(frame_take_fds(g, rx), 0);
	frame_free(f);
	frame_free(g);
	stream_free(rx);
	close(sv[0]);
	close(pipe_fds[0]);
	evbuffer_free(wire);
	free(bytes);
}
END_TEST

/* Reads and parses one whole frame the way crosspostd and the client do:
 * an expected read when expect says so and the input is empty, else a
 * chunk, then the payload in place.  Returns the frame; *ret_reads the
 * reads it took; last_ahead_block the block an expected read left. */
static uint8_t *last_ahead_block;

static Frame *read_one_frame(Stream *rx, FrameExpect *expect, FrameAhead *ahead, int *ret_reads)
{
	Frame *f = NULL;
	size_t missing = 0;
	int r;

	*ret_reads = 0;
	last_ahead_block = NULL;
	for (;;) {
		r = frame_parse_start(stream_input(rx), NULL, ahead, &f, &missing, NULL);
		ck_assert_int_ge(r, 0);
		if (r == 1)
			break;
		ck_assert_int_gt(expect->confirmed && evbuffer_get_length(stream_input(rx)) == 0 ?
					 frame_read_expected(rx, expect, false, ahead) : stream_read(rx), 0);
		last_ahead_block = ahead->block;
		(*ret_reads)++;
	}
	frame_expect_after(expect, f);
	while (missing > 0) {
		ssize_t n = stream_read_to(rx, f->block + (f->block_length - missing), missing, STREAM_READ_HEADER);

		ck_assert_int_gt(n, 0);
		(*ret_reads)++;
		missing -= (size_t)n < missing ? (size_t)n : missing;
	}
	ck_assert_int_eq(frame_take_fds(f, rx), 0);
	return f;
}

/* Sends two frames of header h and payload bytes (size bytes) on sock and
 * reads them from rx as a reader does: expect is confirmed afterwards. */
static void confirm_expectation(int sock, Stream *rx, const Crosspost__Header *h, const unsigned char *bytes,
				size_t size, FrameExpect *expect, FrameAhead *ahead)
{
	struct evbuffer *wire = evbuffer_new();
	int reads;

	for (int i = 0; i < 2; i++) {
		ck_assert_int_eq(frame_append_bytes(wire, h, bytes, size), 0);
		send_with_fd(sock, evbuffer_pullup(wire, -1), evbuffer_get_length(wire), -1);
		evbuffer_drain(wire, evbuffer_get_length(wire));
		frame_free(read_one_frame(rx, expect, ahead, &reads));
	}
	ck_assert(expect->confirmed);
	evbuffer_free(wire);
}

/* One reader's side of the read-ahead tests below: rx reads the sv[1] end
 * of a socketpair, h is a Post header (p its body), wire is where a test
 * builds what it writes to sv[0], and bytes a payload of size bytes, byte
 * k being k * step + offset. */
typedef struct ReadAhead {
	int sv[2];
	Stream *rx;
	Crosspost__Header h;
	Crosspost__Post p;
	struct evbuffer *wire;
	unsigned char *bytes;
	size_t size;
	FrameExpect expect;
	FrameAhead ahead;
} ReadAhead;

static void read_ahead_open(ReadAhead *t, size_t size, unsigned step, unsigned offset)
{
	*t = (ReadAhead){ .size = size };
	t->bytes = malloc(size);
	t->wire = evbuffer_new();
	ck_assert_ptr_nonnull(t->bytes);
	ck_assert_ptr_nonnull(t->wire);
	for (size_t k = 0; k < size; k++)
		t->bytes[k] = (unsigned char)(k * step + offset);
	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, t->sv), 0);
	ck_assert_int_eq(stream_new(&t->rx, t->sv[1]), 0);
	post_header(&t->h, &t->p);
}

static void read_ahead_close(ReadAhead *t)
{
	stream_free(t->rx);
	close(t->sv[0]);
	evbuffer_free(t->wire);
	free(t->bytes);
}

/* After two large frames of one shape, the next read takes the next such
 * frame's header into the input and its payload into a block in one
 * recvmsg, with what follows; descriptors still go with their frame (the
 * kernel ends a read after the bytes they came with: two reads then). */
START_TEST(frame_expected_large_frame_read_with_its_header_in_one_read)
{
	ReadAhead t;
	Frame *f;
	int reads;

	read_ahead_open(&t, 65536, 7, 0);
	for (int i = 0; i < 6; i++) {
		bool with_fd = i >= 3;
		int pipe_fds[2] = { -1, -1 };
		size_t wire_length, small_length;

		for (size_t k = 0; k < t.size; k++)
			t.bytes[k] = (unsigned char)(k * 7 + (size_t)i);
		if (with_fd)
			ck_assert_int_eq(pipe(pipe_fds), 0);
		t.p.fd_count = with_fd ? 1 : 0;
		ck_assert_int_eq(frame_append_bytes(t.wire, &t.h, t.bytes, t.size), 0);
		wire_length = evbuffer_get_length(t.wire);
		/* The third of a shape with a small frame after it, in the
		 * same write. */
		t.p.fd_count = 0;
		if (i % 3 == 2)
			ck_assert_int_eq(frame_append_bytes(t.wire, &t.h, "after", 5), 0);
		small_length = evbuffer_get_length(t.wire) - wire_length;
		send_with_fd(t.sv[0], evbuffer_pullup(t.wire, -1), evbuffer_get_length(t.wire), pipe_fds[1]);
		if (with_fd)
			close(pipe_fds[1]);
		evbuffer_drain(t.wire, evbuffer_get_length(t.wire));
		f = read_one_frame(t.rx, &t.expect, &t.ahead, &reads);
		/* Expected from the third of a shape on. */
		ck_assert_int_eq(t.expect.confirmed, i % 3 >= 1);
		ck_assert_ptr_null(t.ahead.block);
		if (i == 2) {
			/* One read: the header, the payload in place (the block
			 * the read filled is the frame's: no copy), and the small
			 * frame after it into the input. */
			ck_assert_int_eq(reads, 1);
			ck_assert_ptr_nonnull(last_ahead_block);
			ck_assert_ptr_eq(f->block, last_ahead_block);
			ck_assert_uint_eq(evbuffer_get_length(stream_input(t.rx)), small_length);
		}
		if (i == 5) {
			ck_assert_int_le(reads, 2);
			ck_assert_ptr_eq(f->block, last_ahead_block);
		}
		ck_assert_uint_eq(frame_payload_length(f), t.size);
		ck_assert_int_eq(memcmp(frame_payload_bytes(f), t.bytes, t.size), 0);
		ck_assert_uint_eq(f->n_fds, with_fd ? 1 : 0);
		if (with_fd) {
			char c = 0;

			ck_assert_int_eq(write(f->fds[0], "x", 1), 1);
			ck_assert_int_eq(read(pipe_fds[0], &c, 1), 1);
			ck_assert_int_eq(c, 'x');
			close(pipe_fds[0]);
		}
		frame_free(f);
		if (i % 3 != 2)
			continue;
		f = read_one_frame(t.rx, &t.expect, &t.ahead, &reads);
		ck_assert_int_eq(reads, 0);
		ck_assert_uint_eq(frame_payload_length(f), 5);
		ck_assert_int_eq(memcmp(frame_payload_bytes(f), "after", 5), 0);
		frame_free(f);
		/* A small frame resets the expectation. */
		ck_assert(!t.expect.confirmed);
	}
	read_ahead_close(&t);
}
END_TEST

/* A reader that reads again after an expected read, before parsing (the
 * client stops parsing 128 events ahead): what the second read put in the
 * input after the header is the payload's continuation, and the frame
 * takes it in order (it was left in the input, read as the next frames). */
START_TEST(frame_expected_payload_continued_by_a_later_read)
{
	ReadAhead t;
	Frame *f;
	size_t header_part, missing;

	read_ahead_open(&t, 65536, 5, 1);
	confirm_expectation(t.sv[0], t.rx, &t.h, t.bytes, t.size, &t.expect, &t.ahead);
	ck_assert_int_eq(frame_append_bytes(t.wire, &t.h, t.bytes, t.size), 0);
	header_part = evbuffer_get_length(t.wire) - t.size;
	/* The header and 1,000 t.bytes of the payload: the expected read. */
	send_with_fd(t.sv[0], evbuffer_pullup(t.wire, -1), header_part + 1000, -1);
	evbuffer_drain(t.wire, header_part + 1000);
	ck_assert_int_eq(frame_read_expected(t.rx, &t.expect, false, &t.ahead), (ssize_t)(header_part + 1000));
	ck_assert_ptr_nonnull(t.ahead.block);
	ck_assert_uint_eq(t.ahead.have, 1000);
	/* 2,000 more, read plainly before the frame is parsed. */
	send_with_fd(t.sv[0], evbuffer_pullup(t.wire, -1), 2000, -1);
	evbuffer_drain(t.wire, 2000);
	ck_assert_int_eq(stream_read(t.rx), 2000);
	ck_assert_int_eq(frame_parse_start(stream_input(t.rx), NULL, &t.ahead, &f, &missing, NULL), 1);
	ck_assert_ptr_null(t.ahead.block);
	ck_assert_uint_eq(missing, t.size - 3000);
	ck_assert_uint_eq(evbuffer_get_length(stream_input(t.rx)), 0);
	send_with_fd(t.sv[0], evbuffer_pullup(t.wire, -1), evbuffer_get_length(t.wire), -1);
	while (missing > 0) {
		ssize_t n = stream_read_to(t.rx, f->block + (t.size - missing), missing, STREAM_READ_HEADER);

		ck_assert_int_gt(n, 0);
		missing -= (size_t)n < missing ? (size_t)n : missing;
	}
	ck_assert_int_eq(memcmp(frame_payload_bytes(f), t.bytes, t.size), 0);
	ck_assert_int_eq(frame_take_fds(f, t.rx), 0);
	frame_free(f);
	read_ahead_close(&t);
}
END_TEST

/* An expected read that finds something else (a small frame, then a large
 * one whose header is longer) leaves every byte in the input in order, as
 * a plain read would: nothing is lost or reordered. */
START_TEST(frame_expected_read_that_guessed_wrong_loses_nothing)
{
	ReadAhead t;
	Frame *f;
	ssize_t n;
	int reads;

	read_ahead_open(&t, 40000, 11, 3);
	confirm_expectation(t.sv[0], t.rx, &t.h, t.bytes, t.size, &t.expect, &t.ahead);
	/* Then: a small frame, a large one of the same payload length with a
	 * longer header, another small one. */
	ck_assert_int_eq(frame_append_bytes(t.wire, &t.h, "first", 5), 0);
	t.p.sender_window_id = 1u << 30;
	ck_assert_int_eq(frame_append_bytes(t.wire, &t.h, t.bytes, t.size), 0);
	t.p.sender_window_id = 7;
	ck_assert_int_eq(frame_append_bytes(t.wire, &t.h, "last", 4), 0);
	send_with_fd(t.sv[0], evbuffer_pullup(t.wire, -1), evbuffer_get_length(t.wire), -1);
	n = frame_read_expected(t.rx, &t.expect, false, &t.ahead);
	ck_assert_int_gt(n, 0);
	ck_assert_ptr_null(t.ahead.block);
	ck_assert_uint_eq(evbuffer_get_length(stream_input(t.rx)), (size_t)n);
	evbuffer_drain(t.wire, evbuffer_get_length(t.wire));
	f = read_one_frame(t.rx, &t.expect, &t.ahead, &reads);
	ck_assert_uint_eq(frame_payload_length(f), 5);
	ck_assert_int_eq(memcmp(frame_payload_bytes(f), "first", 5), 0);
	frame_free(f);
	f = read_one_frame(t.rx, &t.expect, &t.ahead, &reads);
	ck_assert_uint_eq(f->header->post->sender_window_id, 1u << 30);
	ck_assert_uint_eq(frame_payload_length(f), t.size);
	ck_assert_int_eq(memcmp(frame_payload_bytes(f), t.bytes, t.size), 0);
	frame_free(f);
	f = read_one_frame(t.rx, &t.expect, &t.ahead, &reads);
	ck_assert_uint_eq(frame_payload_length(f), 4);
	ck_assert_int_eq(memcmp(frame_payload_bytes(f), "last", 4), 0);
	frame_free(f);
	ck_assert_uint_eq(evbuffer_get_length(stream_input(t.rx)), 0);
	read_ahead_close(&t);
}
END_TEST

/* Large and small frames taking turns never confirm an expectation, so no
 * read guesses (and copies back) for them. */
START_TEST(frame_expectation_needs_two_like_frames_in_a_row)
{
	struct evbuffer *buf = evbuffer_new();
	FrameExpect expect = { 0 };
	Crosspost__Header h;
	Crosspost__Post p;
	size_t missing;
	Frame *f;
	char *big = calloc(1, 20000);

	post_header(&h, &p);
	for (int i = 0; i < 6; i++) {
		bool large = i % 2 == 0;

		ck_assert_int_eq(frame_append_bytes(buf, &h, large ? big : "s", large ? 20000 : 1), 0);
		ck_assert_int_eq(frame_parse_start(buf, NULL, NULL, &f, &missing, NULL), 1);
		frame_expect_after(&expect, f);
		ck_assert(!expect.confirmed);
		ck_assert_uint_eq(expect.payload_length, large ? 20000 : 0);
		frame_free(f);
	}
	for (int i = 0; i < 2; i++) {
		ck_assert_int_eq(frame_append_bytes(buf, &h, big, 20000), 0);
		ck_assert_int_eq(frame_parse_start(buf, NULL, NULL, &f, &missing, NULL), 1);
		frame_expect_after(&expect, f);
		frame_free(f);
	}
	ck_assert(expect.confirmed);
	{
		/* Nor frames whose header is over FRAME_EXPECT_HEADER_MAX: an
		 * expected read keeps its header part within a chunk (a 64 KiB
		 * header, which the frame limits allow, made it fail). */
		char *origin = malloc(FRAME_EXPECT_HEADER_MAX + 1);

		memset(origin, 'o', FRAME_EXPECT_HEADER_MAX);
		origin[FRAME_EXPECT_HEADER_MAX] = '\0';
		p.target_origin = origin;
		for (int i = 0; i < 3; i++) {
			ck_assert_int_eq(frame_append_bytes(buf, &h, big, 20000), 0);
			ck_assert_int_eq(frame_parse_start(buf, NULL, NULL, &f, &missing, NULL), 1);
			frame_expect_after(&expect, f);
			ck_assert(!expect.confirmed);
			frame_free(f);
		}
		free(origin);
	}
	evbuffer_free(buf);
	free(big);
}
END_TEST

/* A chunk-sized read lands in a pooled block, which goes back to the pool
 * once the input is drained past it: a reader that gulps many reads does
 * not take fresh heap for each (stream.c read_input()). */
START_TEST(stream_reads_into_pooled_blocks_returned_when_drained)
{
	struct evbuffer *wire = evbuffer_new();
	Crosspost__Header h;
	Crosspost__Post p;
	Stream *rx = NULL;
	size_t blocks, bytes, n_frames = 0;
	int sv[2];

	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	ck_assert_int_eq(stream_new(&rx, sv[1]), 0);
	post_header(&h, &p);
	for (int i = 0; i < 300; i++)
		ck_assert_int_eq(frame_append_bytes(wire, &h, "0123456789abcdef", 16), 0);
	ck_assert_int_eq(write(sv[0], evbuffer_pullup(wire, -1), evbuffer_get_length(wire)),
			 (ssize_t)evbuffer_get_length(wire));
	buffer_pool_drain();
	ck_assert_int_eq(stream_read(rx), (ssize_t)evbuffer_get_length(wire));
	buffer_pool_usage(&blocks, &bytes);
	ck_assert_uint_eq(blocks, 0);    /* in use by the input */
	for (;;) {
		Frame *f = NULL;
		int r = frame_parse(stream_input(rx), &f, NULL);

		if (r == 0)
			break;
		ck_assert_int_eq(r, 1);
		ck_assert_int_eq(memcmp(frame_payload_bytes(f), "0123456789abcdef", 16), 0);
		frame_free(f);
		n_frames++;
	}
	ck_assert_uint_eq(n_frames, 300);
	ck_assert_uint_eq(evbuffer_get_length(stream_input(rx)), 0);
	buffer_pool_usage(&blocks, &bytes);
	ck_assert_uint_eq(blocks, 1);    /* back, for the next read */
	stream_free(rx);
	close(sv[0]);
	evbuffer_free(wire);
}
END_TEST

/* Freed large blocks are kept and handed out again (the point: pages
 * already faulted in), within the pool's bounds; small ones are not. */
START_TEST(buffer_pool_reuses_within_bounds)
{
	size_t blocks, bytes;
	void *a, *b, *many[BUFFER_POOL_BLOCKS + 2];

	buffer_pool_drain();
	a = buffer_pool_get(65548);
	ck_assert_ptr_nonnull(a);
	memset(a, 1, 65548);
	buffer_pool_put(a);
	buffer_pool_usage(&blocks, &bytes);
	ck_assert_uint_eq(blocks, 1);
	ck_assert_uint_ge(bytes, 65548);
	/* A payload a few bytes apart takes the same block. */
	b = buffer_pool_get(65536);
	ck_assert_ptr_eq(b, a);
	buffer_pool_put(b);
	/* Of two that fit, the one put back last (likely still in the cache). */
	a = buffer_pool_get(65536);
	ck_assert_ptr_eq(a, b);
	b = buffer_pool_get(65536);
	ck_assert_ptr_ne(b, a);
	buffer_pool_put(a);
	buffer_pool_put(b);
	ck_assert_ptr_eq(buffer_pool_get(65536), b);
	ck_assert_ptr_eq(buffer_pool_get(65536), a);
	buffer_pool_put(a);
	buffer_pool_put(b);
	/* A much smaller request does not pin it. */
	b = buffer_pool_get(BUFFER_POOL_MIN);
	ck_assert_ptr_ne(b, a);
	buffer_pool_put(b);
	/* Small blocks go back to malloc. */
	buffer_pool_drain();
	buffer_pool_put(buffer_pool_get(100));
	buffer_pool_usage(&blocks, &bytes);
	ck_assert_uint_eq(blocks, 0);
	/* Never more than BUFFER_POOL_BLOCKS blocks... */
	for (size_t i = 0; i < BUFFER_POOL_BLOCKS + 2; i++)
		many[i] = buffer_pool_get(BUFFER_POOL_MIN + i * 8192);
	for (size_t i = 0; i < BUFFER_POOL_BLOCKS + 2; i++)
		buffer_pool_put(many[i]);
	buffer_pool_usage(&blocks, &bytes);
	ck_assert_uint_eq(blocks, BUFFER_POOL_BLOCKS);
	/* ...nor more than BUFFER_POOL_BYTES, and the newest block stays. */
	a = buffer_pool_get(BUFFER_POOL_BYTES / 2);
	b = buffer_pool_get(BUFFER_POOL_BYTES / 2);
	buffer_pool_put(a);
	buffer_pool_put(b);
	buffer_pool_usage(&blocks, &bytes);
	ck_assert_uint_le(bytes, BUFFER_POOL_BYTES);
	ck_assert_ptr_eq(buffer_pool_get(BUFFER_POOL_BYTES / 2), b);
	buffer_pool_put(b);
	/* Larger than the whole pool: freed, not kept. */
	buffer_pool_drain();
	buffer_pool_put(buffer_pool_get(BUFFER_POOL_BYTES + 1));
	buffer_pool_usage(&blocks, &bytes);
	ck_assert_uint_eq(blocks, 0);
	ck_assert_ptr_null(buffer_pool_get(SIZE_MAX - 8));
}
END_TEST

/* A stream asks its socket for a 512 KiB send buffer (as much as
 * net.core.wmem_max allows; Linux reports twice what was set): three 64 KiB
 * messages filled the default one. */
START_TEST(stream_socket_buffer_holds_several_large_messages)
{
	long wmem_max = 0;
	int sv[2], got = 0;
	socklen_t len = sizeof(got);
	Stream *a = NULL;
	FILE *f = fopen("/proc/sys/net/core/wmem_max", "r");

	ck_assert_ptr_nonnull(f);
	ck_assert_int_eq(fscanf(f, "%ld", &wmem_max), 1);
	fclose(f);
	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	ck_assert_int_eq(stream_new(&a, sv[0]), 0);
	ck_assert_int_eq(getsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &got, &len), 0);
	ck_assert_int_eq(got, 2 * (wmem_max < 512 * 1024 ? wmem_max : 512 * 1024));
	stream_free(a);
	close(sv[1]);
}
END_TEST

START_TEST(stream_passes_bytes_and_descriptors_in_order)
{
	int sv[2], pipe_fds[2], got[4];
	Stream *a = NULL, *b = NULL;
	char text[16] = { 0 };

	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	ck_assert_int_eq(pipe(pipe_fds), 0);
	ck_assert_int_eq(stream_new(&a, sv[0]), 0);
	ck_assert_int_eq(stream_new(&b, sv[1]), 0);
	evbuffer_add(stream_output(a), "one", 3);
	ck_assert_int_eq(stream_queue_fds(a, pipe_fds, 2), 0);   /* ownership moves */
	evbuffer_add(stream_output(a), "two", 3);
	ck_assert_int_eq(stream_flush(a), 1);
	while (evbuffer_get_length(stream_input(b)) < 6)
		ck_assert_int_gt(stream_read(b), 0);
	evbuffer_remove(stream_input(b), text, 6);
	ck_assert_str_eq(text, "onetwo");
	ck_assert_uint_eq(stream_pending_fds(b), 2);
	/* They came with "two" (bytes 3..6); a frame declaring fewer than
	 * arrived is refused. */
	ck_assert_int_eq(stream_take_frame_fds(b, 0, 3, got, 0), 0);
	ck_assert_int_eq(stream_take_frame_fds(b, 3, 6, got, 1), -EPROTO);
	ck_assert_int_eq(stream_take_frame_fds(b, 3, 6, got, 2), 0);
	ck_assert_uint_eq(stream_pending_fds(b), 0);
	/* The received pipe still works end to end. */
	ck_assert_int_eq(write(got[1], "p", 1), 1);
	ck_assert_int_eq(read(got[0], text, 1), 1);
	ck_assert_int_eq(text[0], 'p');
	close(got[0]);
	close(got[1]);
	stream_free(a);
	stream_free(b);
}
END_TEST

/* Descriptors that arrive with a frame declaring none, or that a frame
 * declares but that did not come, are a protocol violation: the receiver
 * learns it when the frame they arrived with has been parsed. */
START_TEST(stream_descriptors_must_match_their_frame)
{
	int sv[2], pipe_fds[2], got[4];
	Stream *a = NULL, *b = NULL;

	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	ck_assert_int_eq(pipe(pipe_fds), 0);
	ck_assert_int_eq(stream_new(&a, sv[0]), 0);
	ck_assert_int_eq(stream_new(&b, sv[1]), 0);
	ck_assert_int_eq(stream_queue_fds(a, pipe_fds, 2), 0);
	evbuffer_add(stream_output(a), "abcd", 4);
	ck_assert_int_eq(stream_flush(a), 1);
	while (evbuffer_get_length(stream_input(b)) < 4)
		ck_assert_int_gt(stream_read(b), 0);
	/* Two frames "ab" and "cd" that declare no descriptors: the second
	 * ends the read, and the descriptors are left over. */
	ck_assert_int_eq(stream_take_frame_fds(b, 0, 2, got, 0), 0);
	ck_assert_int_eq(stream_take_frame_fds(b, 2, 4, got, 0), -EPROTO);
	/* A frame declaring descriptors when none are waiting. */
	stream_free(b);
	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	stream_free(a);
	ck_assert_int_eq(stream_new(&a, sv[0]), 0);
	ck_assert_int_eq(stream_new(&b, sv[1]), 0);
	evbuffer_add(stream_output(a), "ef", 2);
	ck_assert_int_eq(stream_flush(a), 1);
	ck_assert_int_gt(stream_read(b), 0);
	ck_assert_int_eq(stream_take_frame_fds(b, 0, 2, got, 1), -EPROTO);
	stream_free(a);
	stream_free(b);
}
END_TEST

START_TEST(stream_free_closes_untaken_descriptors)
{
	int sv[2], pipe_fds[2];
	Stream *a = NULL, *b = NULL;

	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	ck_assert_int_eq(pipe(pipe_fds), 0);
	ck_assert_int_eq(stream_new(&a, sv[0]), 0);
	ck_assert_int_eq(stream_new(&b, sv[1]), 0);
	/* Descriptors travel with the next byte appended after them. */
	ck_assert_int_eq(stream_queue_fds(a, pipe_fds, 1), 0);
	evbuffer_add(stream_output(a), "x", 1);
	close(pipe_fds[1]);
	ck_assert_int_eq(stream_flush(a), 1);
	ck_assert_int_gt(stream_read(b), 0);
	ck_assert_uint_eq(stream_pending_fds(b), 1);
	stream_free(b);
	stream_free(a);
	/* Every copy of the pipe's read end is closed: fcntl on a number that
	 * was only ever ours says EBADF. */
	ck_assert_int_eq(fcntl(pipe_fds[0], F_GETFD), -1);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("frame");
	TCase *tc = tcase_create("frame");

	tcase_add_test(tc, frame_round_trip_keeps_header_and_payload);
	tcase_add_test(tc, frame_partial_input_waits_for_more);
	tcase_add_test(tc, frame_oversized_lengths_rejected_before_buffering);
	tcase_add_test(tc, frame_garbage_header_is_bad_message);
	tcase_add_test(tc, frame_append_moves_payload_buffer);
	tcase_add_test(tc, frame_payload_small_inline_large_chained);
	tcase_add_test(tc, frame_run_of_small_frames_fills_large_chains);
	tcase_add_test(tc, frame_cache_reuses_small_frames_within_bounds);
	tcase_add_test(tc, frame_large_payload_read_in_place_into_a_block);
	tcase_add_test(tc, frame_expected_large_frame_read_with_its_header_in_one_read);
	tcase_add_test(tc, frame_expected_read_that_guessed_wrong_loses_nothing);
	tcase_add_test(tc, frame_expected_payload_continued_by_a_later_read);
	tcase_add_test(tc, frame_expectation_needs_two_like_frames_in_a_row);
	tcase_add_test(tc, buffer_pool_reuses_within_bounds);
	tcase_add_test(tc, stream_reads_into_pooled_blocks_returned_when_drained);
	tcase_add_test(tc, stream_passes_bytes_and_descriptors_in_order);
	tcase_add_test(tc, stream_socket_buffer_holds_several_large_messages);
	tcase_add_test(tc, stream_descriptors_must_match_their_frame);
	tcase_add_test(tc, stream_free_closes_untaken_descriptors);
	suite_add_tcase(s, tc);
	return test_run_suite(s);
}
