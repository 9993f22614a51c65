/* SPDX-License-Identifier: MIT */
/* origin.c - origins of URLs (URL Standard, HTML Standard): tuples, opaque origins, serialization. */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cleanup.h"
#include "origin.h"
#include "url.h"
#include "url_idna.h"

struct Origin {
	bool opaque;
	uint64_t opaque_id;	/* opaque: shared only by copies */
	char *scheme;		/* tuple: "http", "https", "ws", "wss" or "ftp" */
	char *host;		/* tuple: serialized host, ASCII */
	int port;		/* tuple: -1 when it is the scheme's default */
	char *serialized;
};

DEFINE_CLEANUP(Origin *, origin_free)

/* Opaque origins are told apart by a 64-bit counter: it cannot wrap in any
 * process lifetime, and an atomic keeps it unique across threads. */
static uint64_t next_opaque_id = 1;

static const char *const tuple_schemes[] = { "http", "https", "ws", "wss", "ftp" };

static bool is_tuple_scheme(const char *scheme)
{
	for (size_t i = 0; i < sizeof(tuple_schemes) / sizeof(tuple_schemes[0]); i++)
		if (!strcmp(scheme, tuple_schemes[i]))
			return true;
	return false;
}

Origin *origin_free(Origin *origin)
{
	if (origin) {
		free(origin->scheme);
		free(origin->host);
		free(origin->serialized);
		free(origin);
	}
	return NULL;
}

Origin *origin_new_opaque(void)
{
	_cleanup_(origin_freep) Origin *o = NULL;

	o = calloc(1, sizeof(*o));
	if (!o)
		return NULL;
	o->opaque = true;
	o->opaque_id = __atomic_fetch_add(&next_opaque_id, 1, __ATOMIC_RELAXED);
	o->port = -1;
	o->serialized = strdup("null");
	if (!o->serialized)
		return NULL;
	return steal_pointer(&o);
}

/* The serialization of an origin, for a tuple: scheme "://" host [":" port]. */
static char *tuple_serialize(const char *scheme, const char *host, int port)
{
	char *s = NULL;
	int n;

	if (port >= 0)
		n = asprintf(&s, "%s://%s:%d", scheme, host, port);
	else
		n = asprintf(&s, "%s://%s", scheme, host);
	return n < 0 ? NULL : s;
}

static Origin *origin_new_tuple(const char *scheme, const char *host, int port)
{
	_cleanup_(origin_freep) Origin *o = NULL;

	o = calloc(1, sizeof(*o));
	if (!o)
		return NULL;
	o->port = port;
	o->scheme = strdup(scheme);
	o->host = strdup(host);
	if (!o->scheme || !o->host)
		return NULL;
	o->serialized = tuple_serialize(scheme, host, port);
	if (!o->serialized)
		return NULL;
	return steal_pointer(&o);
}

Origin *origin_copy(const Origin *origin)
{
	Origin *o;

	if (!origin)
		return NULL;
	if (!origin->opaque)
		return origin_new_tuple(origin->scheme, origin->host, origin->port);
	o = origin_new_opaque();
	if (o)
		o->opaque_id = origin->opaque_id;
	return o;
}

/*
 * The URL Standard's origin of a URL.  For "blob" the path is parsed as a
 * URL of its own (the blob URL store, whose entries would take precedence,
 * does not exist here); that inner URL is parsed with no base and its own
 * origin is not looked into, so there is no recursion.  The standard also
 * lists "file" for the inner URL; file origins are opaque here either way.
 * "file" is left to implementations; like browsers, a new opaque origin.
 */
static int origin_from_record(const UrlRecord *url, Origin **ret)
{
	Origin *o;

	if (is_tuple_scheme(url->scheme)) {
		o = origin_new_tuple(url->scheme, url->host.serialized, url->port);
	} else if (!strcmp(url->scheme, "blob") && url->blob_path) {
		UrlRecord inner = URL_RECORD_INIT;
		int r;

		r = url_parse(url->blob_path, strlen(url->blob_path), NULL, &inner);
		if (r < 0)
			return r;
		if (r == 0 && (!strcmp(inner.scheme, "http") || !strcmp(inner.scheme, "https")))
			o = origin_new_tuple(inner.scheme, inner.host.serialized, inner.port);
		else
			o = origin_new_opaque();
		url_record_deinit(&inner);
	} else {
		o = origin_new_opaque();
	}
	if (!o)
		return -ENOMEM;
	*ret = o;
	return 0;
}

int origin_from_url(const char *input, size_t len, const char *base, size_t base_len,
		    Origin **ret, const char **ret_reason)
{
	UrlRecord base_url = URL_RECORD_INIT, url = URL_RECORD_INIT;
	const char *reason = NULL;
	int r;

	if (!ret || (!input && len > 0) || (!base && base_len > 0)) {
		reason = "invalid arguments";
		r = -EINVAL;
		goto out;
	}
	if (!input)
		input = "";
	if (base) {
		r = url_parse(base, base_len, NULL, &base_url);
		if (r > 0)
			reason = url_strerror_base(r);
		if (r)
			goto out;
	}
	r = url_parse(input, len, base ? &base_url : NULL, &url);
	if (r > 0)
		reason = url_strerror(r);
	if (r)
		goto out;
	r = origin_from_record(&url, ret);
out:
	url_record_deinit(&url);
	url_record_deinit(&base_url);
	if (r > 0)
		r = -EINVAL;
	if (r == -EINVAL && ret_reason)
		*ret_reason = reason;
	return r;
}

const char *origin_serialization(const Origin *origin)
{
	return origin->serialized;
}

char *origin_unicode_serialization(const Origin *origin)
{
	_cleanup_(freep) char *host = NULL;

	if (origin->opaque)
		return strdup("null");
	if (url_idna_to_unicode(origin->host, &host) < 0)
		return NULL;
	return tuple_serialize(origin->scheme, host, origin->port);
}

bool origin_is_opaque(const Origin *origin)
{
	return origin->opaque;
}

const char *origin_scheme(const Origin *origin)
{
	return origin->opaque ? NULL : origin->scheme;
}

const char *origin_host(const Origin *origin)
{
	return origin->opaque ? NULL : origin->host;
}

int origin_port(const Origin *origin)
{
	return origin->opaque ? -1 : origin->port;
}

bool origin_same(const Origin *a, const Origin *b)
{
	if (!a || !b)
		return false;
	if (a->opaque || b->opaque)
		return a->opaque && b->opaque && a->opaque_id == b->opaque_id;
	return a->port == b->port && !strcmp(a->scheme, b->scheme) && !strcmp(a->host, b->host);
}
