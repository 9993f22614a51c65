/* SPDX-License-Identifier: MIT */
/*
 * frame_limits.h - size limits on the strings a frame header carries.
 *
 * One place for both sides: libcrosspost checks an argument against these
 * before building a frame (RangeError, naming the limit), and the broker
 * may refuse a frame that breaks them.  The public header repeats them as
 * CP_URL_MAX, CP_NAME_MAX and CP_TARGET_ORIGIN_MAX; client/window.c
 * asserts that the two agree.
 */
#ifndef CP_FRAME_LIMITS_H
#define CP_FRAME_LIMITS_H

#include "frame.h"

/* A window's URL (Register, Navigate), in bytes.  RFC 9110 4.1 asks HTTP
 * implementations to support request lines of at least 8000 octets, and
 * 8 KiB is the common server limit: a URL longer than that does not work
 * on the web either, even though browsers accept ~2 MB.  The serialized
 * origin of the URL is held to the same limit (IDNA can make a host
 * longer than it was typed), so that every origin the broker stamps on an
 * event fits it too. */
#define FRAME_URL_MAX (8u * 1024u)

/* A window's name (Register, Lookup, the source name of an Event).  Names
 * are identifiers to find a window by, not a place for data. */
#define FRAME_NAME_MAX 1024u

/* A targetOrigin as posted (Post), and the serialized origin it names
 * (the Event's checked targetOrigin).  A URL, so the URL's limit. */
#define FRAME_TARGET_ORIGIN_MAX FRAME_URL_MAX

/* The biggest header built from these strings is an Event: the sender's
 * origin, its name and the checked targetOrigin, plus ids and counts well
 * under 1 KiB.  (A WindowList holds every window at once and is bounded by
 * FRAME_HEADER_MAX alone.) */
_Static_assert(FRAME_URL_MAX + FRAME_NAME_MAX + FRAME_TARGET_ORIGIN_MAX + 1024u <= FRAME_HEADER_MAX,
	       "an Event header built from strings within the limits must fit FRAME_HEADER_MAX");

#endif
