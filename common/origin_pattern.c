/* SPDX-License-Identifier: MIT */
/* origin_pattern.c - origin patterns (the policy, --allow-origin): parsed by the URL parser, matched against origins. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cleanup.h"
#include "origin_pattern.h"

DEFINE_CLEANUP(Origin *, origin_free)

/* An IP address host: in brackets (IPv6) or ending in a number (the URL
 * parser turns such hosts into IPv4 addresses). */
static bool is_ip_host(const char *host)
{
	const char *last = strrchr(host, '.');

	if (host[0] == '[')
		return true;
	last = last ? last + 1 : host;
	return *last && strspn(last, "0123456789") == strlen(last);
}

int origin_pattern_parse(OriginPattern *ret, const char *text, const char **ret_reason)
{
	_cleanup_(freep) char *url = NULL, *copy = NULL;
	_cleanup_(origin_freep) Origin *origin = NULL;
	OriginPattern p = { .port = -1 };
	const char *sep, *rest;
	size_t rest_len;
	int r;

	if (strcmp(text, "*") == 0 || strcmp(text, "null") == 0) {
		p.kind = text[0] == '*' ? ORIGIN_PATTERN_ANY : ORIGIN_PATTERN_OPAQUE;
		p.text = strdup(text);
		if (!p.text)
			return -ENOMEM;
		*ret = p;
		return 0;
	}
	sep = strstr(text, "://");
	if (!sep || sep == text) {
		*ret_reason = "not an origin pattern: write scheme://host[:port], *, or null";
		return -EINVAL;
	}
	rest = sep + 3;
	if (strncmp(rest, "*.", 2) == 0) {
		p.subdomains = true;
		rest += 2;
	}
	rest_len = strlen(rest);
	if (rest_len >= 2 && strcmp(rest + rest_len - 2, ":*") == 0) {
		p.port = ORIGIN_PATTERN_ANY_PORT;
		rest_len -= 2;
	}
	/* An origin has no user, path, query or fragment: a pattern that
	 * looks like a URL would otherwise lose them silently. */
	if (strcspn(rest, "/?#@\\") < rest_len) {
		*ret_reason = "an origin has no path, query, fragment or user name: write scheme://host[:port]";
		return -EINVAL;
	}
	if (memchr(rest, '*', rest_len)) {
		*ret_reason = "a * may only be the first label of the host (*.example.com) or the port (:*)";
		return -EINVAL;
	}
	if (rest_len == 0) {
		*ret_reason = "the pattern has no host";
		return -EINVAL;
	}
	if (asprintf(&url, "%.*s://%.*s", (int)(sep - text), text, (int)rest_len, rest) < 0)
		return -ENOMEM;
	r = origin_from_url(url, strlen(url), NULL, 0, &origin, ret_reason);
	if (r < 0)
		return r;
	if (origin_is_opaque(origin)) {
		*ret_reason = "origins of this scheme are opaque (only http, https, ws, wss and ftp have hosts): "
			      "write null to match opaque origins";
		return -EINVAL;
	}
	if (p.subdomains && is_ip_host(origin_host(origin))) {
		*ret_reason = "*. needs a domain, not an IP address";
		return -EINVAL;
	}
	p.kind = ORIGIN_PATTERN_TUPLE;
	if (p.port != ORIGIN_PATTERN_ANY_PORT)
		p.port = origin_port(origin);
	p.scheme = strdup(origin_scheme(origin));
	p.host = strdup(origin_host(origin));
	p.text = strdup(text);
	if (!p.scheme || !p.host || !p.text) {
		origin_pattern_deinit(&p);
		return -ENOMEM;
	}
	*ret = p;
	return 0;
}

void origin_pattern_deinit(OriginPattern *p)
{
	free(p->scheme);
	free(p->host);
	free(p->text);
	p->scheme = p->host = p->text = NULL;
}

bool origin_pattern_matches(const OriginPattern *p, const Origin *origin)
{
	const char *host;
	size_t n, m;

	switch (p->kind) {
	case ORIGIN_PATTERN_ANY:
		return true;
	case ORIGIN_PATTERN_OPAQUE:
		return origin_is_opaque(origin);
	case ORIGIN_PATTERN_TUPLE:
		break;
	}
	if (origin_is_opaque(origin) || strcmp(origin_scheme(origin), p->scheme) != 0)
		return false;
	if (p->port != ORIGIN_PATTERN_ANY_PORT && p->port != origin_port(origin))
		return false;
	host = origin_host(origin);
	if (!p->subdomains)
		return strcmp(host, p->host) == 0;
	n = strlen(host);
	m = strlen(p->host);
	return n > m + 1 && host[n - m - 1] == '.' && strcmp(host + n - m, p->host) == 0;
}
