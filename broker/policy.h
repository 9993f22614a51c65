/* SPDX-License-Identifier: MIT */
/* policy.h - the one place that decides whether a posted message may be
 * dispatched to its target window. */
#ifndef CP_POLICY_H
#define CP_POLICY_H

#include "target_origin.h"

typedef struct Window Window;

typedef enum PolicyVerdict {
	POLICY_DELIVER = 0,
	POLICY_E_ORIGIN_MISMATCH = 1,   /* targetOrigin is not the target's current origin */
} PolicyVerdict;

/* The HTML Standard's check, run at dispatch against the target's current
 * origin: "*" delivers anywhere; otherwise the target's origin must be same
 * origin with targetOrigin. */
PolicyVerdict policy_check(const Window *target, const TargetOrigin *target_origin);

/* The reason for logs, static: it completes "targetOrigin 'T' REASON 'O'",
 * with O the target's origin (broker/router.c). */
const char *policy_verdict_name(PolicyVerdict verdict);

#endif
