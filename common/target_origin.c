/* SPDX-License-Identifier: MIT */
/* target_origin.c - targetOrigin: "*", "/" or a URL's origin. */
#include <errno.h>
#include <string.h>

#include "target_origin.h"

static bool is_lower_ldh(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-';
}

/* The URL Standard's "ends in a number": the last label all digits, or a
 * 0x-prefixed hex number (then the host is parsed as IPv4). */
static bool label_is_number(const char *label, size_t len)
{
	size_t i = 0;

	if (len >= 2 && label[0] == '0' && label[1] == 'x') {
		for (i = 2; i < len; i++)
			if (!((label[i] >= '0' && label[i] <= '9') || (label[i] >= 'a' && label[i] <= 'f')))
				return false;
		return true;
	}
	for (; i < len; i++)
		if (label[i] < '0' || label[i] > '9')
			return false;
	return true;
}

bool target_origin_is_canonical(const char *spec, size_t len)
{
	static const struct { const char *scheme; size_t len; unsigned default_port; } schemes[] = {
		{ "http://", 7, 80 }, { "https://", 8, 443 }, { "ws://", 5, 80 }, { "wss://", 6, 443 },
		{ "ftp://", 6, 21 },
	};
	const char *p = NULL, *end = spec + len, *label;
	unsigned default_port = 0;

	for (size_t i = 0; i < sizeof(schemes) / sizeof(schemes[0]); i++) {
		if (len > schemes[i].len && memcmp(spec, schemes[i].scheme, schemes[i].len) == 0) {
			p = spec + schemes[i].len;
			default_port = schemes[i].default_port;
			break;
		}
	}
	if (!p)
		return false;
	/* The host: labels of [a-z0-9-], none empty, none "xn--...". */
	for (label = p; p < end && *p != ':'; p++) {
		if (*p == '.') {
			if (p == label)
				return false;
			label = p + 1;
		} else if (!is_lower_ldh(*p)) {
			return false;
		} else if (p == label && end - p >= 4 && memcmp(p, "xn--", 4) == 0) {
			return false;
		}
	}
	if (p == label || label_is_number(label, (size_t)(p - label)))
		return false;
	if (p < end) {
		unsigned long port = 0;

		/* ":" digits, no leading zero, in range, not the default. */
		if (++p == end || *p == '0' || end - p > 5)
			return false;
		for (; p < end; p++) {
			if (*p < '0' || *p > '9')
				return false;
			port = port * 10 + (unsigned long)(*p - '0');
		}
		if (port > 65535 || port == default_port)
			return false;
	}
	return true;
}

int target_origin_parse(TargetOrigin *ret, const char *spec, size_t len,
			const Origin *sender_origin, const char **ret_reason)
{
	/* The common case costs a scan, not a URL parse (and no allocation):
	 * libcrosspost sends targetOrigins in this form. */
	if (target_origin_is_canonical(spec, len)) {
		*ret = (TargetOrigin){ .canonical = spec };
		return 0;
	}
	return target_origin_parse_full(ret, spec, len, sender_origin, ret_reason);
}

int target_origin_parse_expecting(TargetOrigin *ret, const char *spec, size_t len, const Origin *sender_origin,
				  const Origin *expected, const char **ret_reason)
{
	/* A string comparison where the canonical-form scan cost crosspostd
	 * 290 instructions a message, a tenth of a 64 B post's.  Exact
	 * because the URL parser is idempotent (the URL Standard's goal; the
	 * web-platform-tests check it) and a tuple origin's serialization
	 * names no other origin. */
	if (expected && !origin_is_opaque(expected)) {
		const char *serialized = origin_serialization(expected);

		if (strlen(serialized) == len && memcmp(serialized, spec, len) == 0) {
			*ret = (TargetOrigin){ .canonical = spec };
			return 0;
		}
	}
	return target_origin_parse(ret, spec, len, sender_origin, ret_reason);
}

int target_origin_parse_full(TargetOrigin *ret, const char *spec, size_t len,
			     const Origin *sender_origin, const char **ret_reason)
{
	Origin *origin = NULL;
	int r;

	if (len == 1 && spec[0] == '*') {
		*ret = (TargetOrigin){ .any = true };
		return 0;
	}
	if (len == 1 && spec[0] == '/') {
		origin = sender_origin ? origin_copy(sender_origin) : origin_new_opaque();
		if (!origin)
			return -ENOMEM;
	} else {
		r = origin_from_url(spec, len, NULL, 0, &origin, ret_reason);
		if (r < 0)
			return r;
	}
	*ret = (TargetOrigin){ .origin = origin };
	return 0;
}

void target_origin_deinit(TargetOrigin *target)
{
	target->origin = origin_free(target->origin);
}

bool target_origin_matches(const TargetOrigin *target, const Origin *window_origin)
{
	if (target->any)
		return true;
	/* A tuple origin is same origin with another exactly when their
	 * serializations are equal. */
	if (target->canonical)
		return !origin_is_opaque(window_origin) &&
		       strcmp(target->canonical, origin_serialization(window_origin)) == 0;
	return origin_same(target->origin, window_origin);
}

const char *target_origin_serialization(const TargetOrigin *target)
{
	if (target->any)
		return "*";
	return target->canonical ? target->canonical : origin_serialization(target->origin);
}
