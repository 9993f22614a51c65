/* SPDX-License-Identifier: MIT */
/*
 * header_codec.h - a frame's Header to and from its protobuf bytes.
 *
 * Every message crosses the wire twice with a header: a Post from the
 * sender, an Event to the receiver.  protobuf-c reads and writes any
 * message by walking its descriptor, field by field; for these two
 * headers that walk was a third of the broker's time per small message.
 * So a Header whose body is a Post or an Event is packed and unpacked here
 * by code written for exactly those fields, and everything else goes to
 * protobuf-c.
 *
 * The fast path never decides anything protobuf-c would decide
 * differently: it packs the bytes protobuf-c packs, byte for byte, and
 * unpacks only the form protobuf-c's packer writes (each known field once,
 * in field order, repeated fields packed).  Anything else - duplicated,
 * unknown or out-of-order fields, odd varints, an empty packed field - is
 * handed to protobuf-c whole, so it gets protobuf-c's answer.
 * check_header_codec compares both ways field by field, and fuzz_frame on
 * every input.
 */
#ifndef CP_HEADER_CODEC_H
#define CP_HEADER_CODEC_H

#include <stddef.h>
#include <stdint.h>

#include "proto/crosspost.pb-c.h"

/* The packed size of header, as crosspost__header__get_packed_size(). */
size_t header_packed_size(const Crosspost__Header *header);

/* Packs header into out, which has room for size bytes: what
 * header_packed_size() returned for it (passed on, not computed twice).
 * Returns size.  The bytes are crosspost__header__pack()'s. */
size_t header_pack(const Crosspost__Header *header, size_t size, uint8_t *out);

/* Unpacks length bytes, allocating through allocator (not NULL), as
 * crosspost__header__unpack(): NULL when they do not decode (or out of
 * memory).  Free the result as protobuf-c's. */
Crosspost__Header *header_unpack(ProtobufCAllocator *allocator, size_t length, const uint8_t *bytes);

/* The fast paths on their own, for the tests and fuzz_frame: the packed
 * size when the fast packer takes header, else 0; and 1 with *ret when the
 * fast unpacker takes the bytes, 0 when it leaves them to protobuf-c,
 * -ENOMEM. */
size_t header_fast_packed_size(const Crosspost__Header *header);
int header_fast_unpack(ProtobufCAllocator *allocator, size_t length, const uint8_t *bytes,
		       Crosspost__Header **ret);

#endif
