/* SPDX-License-Identifier: MIT */
/* site.c - an origin's site: scheme and registrable domain (libpsl). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libpsl.h>

#include "site.h"

static psl_ctx_t *psl_list;
static bool psl_loaded;

/* The system's list (Debian's publicsuffix package, kept current by the
 * distribution) when there is one, else the one built into libpsl. */
static const psl_ctx_t *list(void)
{
	if (!psl_loaded) {
		psl_loaded = true;
		psl_list = psl_latest(NULL);
	}
	return psl_list ? psl_list : psl_builtin();
}

void site_cleanup(void)
{
	psl_free(psl_list);
	psl_list = NULL;
	psl_loaded = false;
}

static bool is_ip(const char *host)
{
	if (host[0] == '[')
		return true;                 /* IPv6 */
	for (const char *c = host; *c; c++)
		if ((*c < '0' || *c > '9') && *c != '.')
			return false;
	return true;                         /* the URL parser made any IPv4 dotted decimal */
}

char *site_of(const Origin *origin, bool *ret_oom)
{
	const char *s = origin_serialization(origin), *host_start, *domain = NULL;
	const psl_ctx_t *psl;
	char *host, *site = NULL, *colon;

	*ret_oom = false;
	if (origin_is_opaque(origin))
		return NULL;
	host_start = strstr(s, "://");
	if (!host_start)
		return NULL;
	host_start += 3;
	host = strdup(host_start);
	if (!host) {
		*ret_oom = true;
		return NULL;
	}
	/* Drop the port: after the last ':' that is not inside [...]. */
	colon = strrchr(host, ':');
	if (colon && !strchr(colon, ']'))
		*colon = '\0';
	psl = is_ip(host) ? NULL : list();
	if (psl)
		domain = psl_registrable_domain(psl, host);
	if (asprintf(&site, "%.*s://%s", (int)(host_start - 3 - s), s, domain ? domain : host) < 0) {
		site = NULL;
		*ret_oom = true;
	}
	free(host);
	return site;
}
