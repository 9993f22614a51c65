/* SPDX-License-Identifier: MIT */
/* tier.h - which tier of `make check` a suite is built for. */
#ifndef CP_TEST_TIER_H
#define CP_TEST_TIER_H

/* 1 in the AddressSanitizer + UBSan build.  That tier is there for memory
 * and undefined-behaviour errors, which a tenth of a scale test's size
 * shows as well: tests sized for timing or scale (a million nodes, MiB
 * inputs) take TEST_SCALE_DIVISOR less there, and run whole in the plain
 * tier. */
#if defined(__SANITIZE_ADDRESS__)
#define UNDER_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define UNDER_ASAN 1
#endif
#endif
#ifndef UNDER_ASAN
#define UNDER_ASAN 0
#endif

#define TEST_SCALE_DIVISOR (UNDER_ASAN ? 8 : 1)

#endif
