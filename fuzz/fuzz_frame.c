/* SPDX-License-Identifier: MIT */
/* fuzz_frame.c - libFuzzer harness for the frame codec, the first code in the
 * broker to see a client's bytes.  Any input must parse into frames, wait
 * for more, or fail cleanly; every frame that parses must survive a second
 * trip through frame_append()/frame_parse() unchanged.  And the input, read
 * as a header, must decode and encode through header_codec.c exactly as
 * through protobuf-c. */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>

#include "frame.h"
#include "header_codec.h"

/* Names the broken property before crashing, for whoever reads the log. */
static void fail(const char *property)
{
	fprintf(stderr, "fuzz_frame: %s\n", property);
	abort();
}

static void check_round_trip(Frame *frame)
{
	struct evbuffer *out = evbuffer_new();
	size_t length = header_packed_size(frame->header);
	size_t payload_length = frame_payload_length(frame);
	uint8_t *first = malloc(length + 1), *second = malloc(length + 1);
	Frame *again = NULL;
	int r;

	if (!out || !first || !second)
		fail("out of memory");
	crosspost__header__pack(frame->header, first);
	if (frame_append_from(out, frame->header, frame) < 0)
		fail("a parsed header does not fit the limits again");
	/* protobuf-c 1.4.1 can re-pack an unpacked header that held an
	 * over-long varint into bytes it cannot unpack again (found by this
	 * harness).  The broker never re-packs a header it received, so that is
	 * tolerated here; our framing of the bytes must still be exact. */
	r = frame_parse(out, &again, NULL);
	if (r == -EBADMSG) {
		if (evbuffer_get_length(out) != FRAME_PREFIX_SIZE + length + payload_length)
			fail("a re-encoded frame has the wrong size");
		goto out;
	}
	if (r != 1)
		fail("a re-encoded frame does not parse");
	if (crosspost__header__get_packed_size(again->header) != length ||
	    frame_payload_length(again) != payload_length)
		fail("a re-encoded frame changed size");
	crosspost__header__pack(again->header, second);
	if (memcmp(first, second, length) != 0)
		fail("a re-encoded header changed");
out:
	frame_free(again);
	evbuffer_free(out);
	free(first);
	free(second);
}

static void *plain_alloc(void *userdata, size_t size)
{
	(void)userdata;
	return malloc(size);
}

static void plain_free(void *userdata, void *pointer)
{
	(void)userdata;
	free(pointer);
}

/* The fast codec against protobuf-c on the same bytes: both refuse, or
 * both decode to headers protobuf-c packs the same, which header_pack()
 * packs the same again.  Freed as protobuf-c frees: LeakSanitizer checks
 * that what the fast path allocates is shaped as protobuf-c's. */
static void check_header_codec(const uint8_t *data, size_t size)
{
	ProtobufCAllocator allocator = { .alloc = plain_alloc, .free = plain_free };
	Crosspost__Header *slow = crosspost__header__unpack(NULL, size, data);
	Crosspost__Header *either = header_unpack(&allocator, size, data);
	uint8_t *a = NULL, *b = NULL;
	size_t n;

	if ((slow == NULL) != (either == NULL))
		fail("the fast header codec and protobuf-c disagree on decoding");
	if (!slow)
		return;
	n = crosspost__header__get_packed_size(slow);
	if (crosspost__header__get_packed_size(either) != n || header_packed_size(either) != n)
		fail("the fast header codec decoded to a different size");
	a = malloc(n + 1);
	b = malloc(n + 1);
	if (!a || !b)
		fail("out of memory");
	crosspost__header__pack(slow, a);
	crosspost__header__pack(either, b);
	if (memcmp(a, b, n) != 0)
		fail("the fast header codec decoded to a different header");
	if (header_pack(either, n, b) != n || memcmp(a, b, n) != 0)
		fail("the fast header codec packs differently from protobuf-c");
	free(a);
	free(b);
	crosspost__header__free_unpacked(slow, NULL);
	crosspost__header__free_unpacked(either, &allocator);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct evbuffer *in = evbuffer_new();

	if (!in)
		return 0;
	if (size <= FRAME_HEADER_MAX)
		check_header_codec(data, size);
	evbuffer_add(in, data, size);
	for (;;) {
		Frame *frame = NULL;
		const char *reason = NULL;
		int r = frame_parse(in, &frame, &reason);

		if (r <= 0) {
			if (r < 0 && !reason)
				fail("a rejection without a reason");
			break;
		}
		if (frame_payload_length(frame) > FRAME_PAYLOAD_MAX)
			fail("a payload over the limit was accepted");
		check_round_trip(frame);
		frame_free(frame);
	}
	evbuffer_free(in);
	return 0;
}
