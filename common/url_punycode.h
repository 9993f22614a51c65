/* SPDX-License-Identifier: MIT */
/* url_punycode.h - Punycode decoding (RFC 3492) for A-labels. */
#ifndef CP_URL_PUNYCODE_H
#define CP_URL_PUNYCODE_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/*
 * Decodes the ASCII string in[0..len) (an A-label without its "xn--") into
 * at most cap code points at out.  Returns how many, or -1 when the input is
 * not Punycode (a character that is not a digit after the basic part,
 * overflow, a surrogate or a value beyond U+10FFFF) or decodes to more than
 * cap code points.  Time is O(cap * cap + len) whatever the input.
 */
ssize_t url_punycode_decode(const char *in, size_t len, uint32_t *out, size_t cap);

#endif
