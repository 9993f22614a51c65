/* SPDX-License-Identifier: MIT */
/*
 * site.h - the HTML Standard's "site" of an origin: its scheme and its
 * host's registrable domain (from the Public Suffix List, through libpsl),
 * or the host itself when it has none (an IP address, a public suffix,
 * "localhost"); an opaque origin is its own site.  BroadcastChannel
 * messages are partitioned by the site of the top-level window
 * (broadcast.h), as browsers partition storage.
 */
#ifndef CP_SITE_H
#define CP_SITE_H

#include <stdbool.h>

#include "origin.h"

/* "https://example.co.uk" for https://a.b.example.co.uk:8443; NULL for an
 * opaque origin (compare those with origin_same()) or when out of
 * memory (then *ret_oom is set).  malloc'd. */
char *site_of(const Origin *origin, bool *ret_oom);

/* Frees the Public Suffix List (at exit; harmless if never loaded). */
void site_cleanup(void);

#endif
