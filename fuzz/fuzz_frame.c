/* SPDX-License-Identifier: MIT */
/* fuzz_frame.c - libFuzzer harness for the frame codec, the first code in the
 * broker to see a client's bytes.  Any input must parse into frames, wait
 * for more, or fail cleanly; every frame that parses must survive a second
 * trip through frame_append()/frame_parse() unchanged. */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>

#include "frame.h"

/* Names the broken property before crashing, for whoever reads the log. */
static void fail(const char *property)
{
	fprintf(stderr, "fuzz_frame: %s\n", property);
	abort();
}

static void check_round_trip(Frame *frame)
{
	struct evbuffer *out = evbuffer_new();
	size_t length = crosspost__header__get_packed_size(frame->header);
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

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct evbuffer *in = evbuffer_new();

	if (!in)
		return 0;
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
