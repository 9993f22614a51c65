/* SPDX-License-Identifier: MIT */
/* url.h - the URL Standard's basic URL parser, as far as an origin needs it. */
#ifndef CP_URL_H
#define CP_URL_H

#include <stdbool.h>
#include <stddef.h>

#include "url_error.h"
#include "url_host.h"

/*
 * The parts of a URL record an origin is made of.  Everything after the
 * host and port (path, query, fragment) can neither fail to parse nor
 * change an origin, so the parser stops there; the one exception is a
 * "blob" URL's opaque path, whose origin is that of the URL inside it.
 */
typedef struct UrlRecord {
	char *scheme;		/* ASCII lowercase, e.g. "https" */
	bool has_host;		/* false: the URL's host is null */
	UrlHost host;
	int port;		/* -1: null (none, or the scheme's default port) */
	bool opaque_path;	/* e.g. "mailto:x", "blob:https://a/b" */
	char *blob_path;	/* "blob" with an opaque path: the path, percent-encoded as the standard says */
} UrlRecord;

#define URL_RECORD_INIT { .port = -1 }

/*
 * The basic URL parser: input is len bytes (any bytes; ill-formed UTF-8
 * is decoded as the Encoding Standard does, each bad sequence becoming
 * U+FFFD), parsed against base (NULL for none).  On success fills *ret
 * (free with url_record_deinit()).  Returns 0, a positive URL_E_* code
 * saying why the input is not a URL, or -ENOMEM.  Time and memory are
 * linear in len.
 */
int url_parse(const char *input, size_t len, const UrlRecord *base, UrlRecord *ret);

void url_record_deinit(UrlRecord *url);

/* "ftp", "file", "http", "https", "ws" and "wss". */
bool url_scheme_is_special(const char *scheme);

/* 21, 80, 443 for the special schemes that have one; -1 otherwise. */
int url_scheme_default_port(const char *scheme);

#endif
