/* SPDX-License-Identifier: MIT */
/* url_host.h - the URL Standard's host parser and host serializer. */
#ifndef CP_URL_HOST_H
#define CP_URL_HOST_H

#include <stdbool.h>
#include <stddef.h>

typedef enum UrlHostType {
	URL_HOST_DOMAIN,	/* ASCII, after domain to ASCII */
	URL_HOST_IPV4,
	URL_HOST_IPV6,
	URL_HOST_OPAQUE,	/* non-special URLs only */
	URL_HOST_EMPTY,		/* "file:///", "sc://" */
} UrlHostType;

typedef struct UrlHost {
	UrlHostType type;
	char *serialized;	/* the host serializer's output, e.g. "[::1]"; owned */
} UrlHost;

/*
 * The host parser: input is len bytes of the URL's (already UTF-8 clean)
 * input; is_opaque is true for URLs that are not special.  An empty input is
 * an empty host when is_opaque, else URL_E_HOST_MISSING.  On success *ret
 * owns a new serialization (free with url_host_deinit()).  Returns 0, a
 * positive URL_E_* code, or -ENOMEM.
 */
int url_host_parse(const char *input, size_t len, bool is_opaque, UrlHost *ret);

/* An empty host (serialized ""); 0 or -ENOMEM. */
int url_host_init_empty(UrlHost *ret);

/* A deep copy into *ret; 0 or -ENOMEM. */
int url_host_copy(const UrlHost *host, UrlHost *ret);

/* Frees the serialization; the host may be deinitialized again. */
void url_host_deinit(UrlHost *host);

#endif
