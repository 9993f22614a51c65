/* SPDX-License-Identifier: MIT */
/* policy.c - targetOrigin against the target window's current origin. */
#include "policy.h"
#include "registry.h"

PolicyVerdict policy_check(const Window *target, const TargetOrigin *target_origin)
{
	if (target_origin_matches(target_origin, target->origin))
		return POLICY_DELIVER;
	return POLICY_E_ORIGIN_MISMATCH;
}

const char *policy_verdict_name(PolicyVerdict verdict)
{
	switch (verdict) {
	case POLICY_DELIVER: return "deliver";
	case POLICY_E_ORIGIN_MISMATCH: return "does not match the target's origin";
	}
	return "unknown";
}
