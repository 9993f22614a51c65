/* SPDX-License-Identifier: MIT */
/* target_origin.c - targetOrigin: "*", "/" or a URL's origin. */
#include <errno.h>
#include <string.h>

#include "target_origin.h"

int target_origin_parse(TargetOrigin *ret, const char *spec, size_t len,
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
	return target->any || origin_same(target->origin, window_origin);
}

const char *target_origin_serialization(const TargetOrigin *target)
{
	return target->any ? "*" : origin_serialization(target->origin);
}
