/* SPDX-License-Identifier: MIT */
/*
 * origin.h - URL parsing as far as an origin needs it, and origins, per the
 * WHATWG URL Standard (https://url.spec.whatwg.org/) and the HTML Standard's
 * origin definitions.  Shared by the broker (window origins, targetOrigin
 * checks) and libcrosspost (targetOrigin checked before sending).
 */
#ifndef CP_ORIGIN_H
#define CP_ORIGIN_H

#include <stdbool.h>
#include <stddef.h>

/* An origin: a tuple (scheme, host, port) or an opaque origin.  An opaque
 * origin is same-origin only with itself (and its copies). */
typedef struct Origin Origin;

/* Parses input (len bytes; may contain NUL and invalid UTF-8) against base
 * (base_len bytes, or base == NULL for no base) with the URL Standard's basic
 * URL parser and returns the resulting URL's origin in *ret (caller frees
 * with origin_free()).  Returns 0, -EINVAL when parsing fails (*ret_reason,
 * when ret_reason is non-NULL, receives a static English reason), or
 * -ENOMEM.  http, https, ws, wss and ftp URLs give tuple origins; blob URLs
 * the origin of the http(s) URL in their path; everything else, file URLs
 * included, a new opaque origin.  *ret is untouched on failure. */
int origin_from_url(const char *input, size_t len, const char *base, size_t base_len,
		    Origin **ret, const char **ret_reason);

/* A new opaque origin, distinct from every other; NULL when out of memory. */
Origin *origin_new_opaque(void);

/* A copy that is same-origin with the original (opaque ones included);
 * NULL when out of memory. */
Origin *origin_copy(const Origin *origin);

/* Frees origin (NULL is fine); returns NULL. */
Origin *origin_free(Origin *origin);

/* The ASCII serialization: "scheme://host[:port]" with the port only when
 * it is not the scheme's default, IDN hosts in punycode; "null" when opaque.
 * Borrowed from origin. */
const char *origin_serialization(const Origin *origin);

/* The same with hosts in Unicode, for display; malloc'd, caller frees; NULL
 * when out of memory. */
char *origin_unicode_serialization(const Origin *origin);

bool origin_is_opaque(const Origin *origin);

/* A tuple origin's parts, for matching it against patterns (borrowed):
 * the scheme ("https"), the host as serialized (ASCII: punycode, IPv6 in
 * brackets), and the port, -1 for the scheme's default.  NULL (port -1)
 * for an opaque origin. */
const char *origin_scheme(const Origin *origin);
const char *origin_host(const Origin *origin);
int origin_port(const Origin *origin);

/* The HTML Standard's "same origin": equal tuples, or the same opaque origin.
 * False when either is NULL. */
bool origin_same(const Origin *a, const Origin *b);

#endif
