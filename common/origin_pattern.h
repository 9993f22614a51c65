/* SPDX-License-Identifier: MIT */
/*
 * origin_pattern.h - origin patterns: the broker's policy (which origins a
 * uid's windows may have: `register =` and `navigate =` in the config file,
 * docs/security.md "Policy") and the gateway's --allow-origin (which page
 * origins it accepts, docs/gateway.md) write origins the same way:
 *
 *   *                        any origin, opaque ones included
 *   null                     any opaque origin (file:, data:, about:...)
 *   https://example.com      exactly that origin (default port only)
 *   https://example.com:8443 with that port; `:*` any port
 *
 * and a host written *.example.com (after the scheme and "://") matches
 * any subdomain of example.com, at any depth, but not example.com itself
 * (as in CSP): list both to allow both.
 *
 * Hosts are compared as the URL Standard serializes them (lower case,
 * punycode), so a pattern is normalized by the same parser as window URLs.
 */
#ifndef CP_ORIGIN_PATTERN_H
#define CP_ORIGIN_PATTERN_H

#include <stdbool.h>

#include "origin.h"

/* The port of a pattern written with `:*`. */
#define ORIGIN_PATTERN_ANY_PORT (-2)

typedef enum OriginPatternKind {
	ORIGIN_PATTERN_ANY,      /* "*" */
	ORIGIN_PATTERN_OPAQUE,   /* "null" */
	ORIGIN_PATTERN_TUPLE,    /* scheme, host, port */
} OriginPatternKind;

typedef struct OriginPattern {
	OriginPatternKind kind;
	char *scheme;            /* tuple: "https" */
	char *host;              /* tuple: the host, or the domain after "*." */
	bool subdomains;         /* "*.": hosts ending in "." host only */
	int port;                /* -1: the scheme's default; ORIGIN_PATTERN_ANY_PORT */
	char *text;              /* as written, for messages */
} OriginPattern;

/* Parses text into *ret.  Returns 0, -EINVAL with a static reason in
 * *ret_reason (not a pattern: a path, a `*` elsewhere than the first label
 * or the port, a scheme whose origins are opaque, a wildcard over an IP
 * address), or -ENOMEM.  *ret is untouched on failure. */
int origin_pattern_parse(OriginPattern *ret, const char *text, const char **ret_reason);

/* Frees what the pattern holds (the struct itself is the caller's). */
void origin_pattern_deinit(OriginPattern *pattern);

/* True when origin matches pattern. */
bool origin_pattern_matches(const OriginPattern *pattern, const Origin *origin);

#endif
