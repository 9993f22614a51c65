/* SPDX-License-Identifier: MIT */
/* trust.c - what the gateway checks before a page gets a window: address, Origin, token (docs/security.md "The gateway"). */
#include <arpa/inet.h>
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "cleanup.h"
#include "gateway.h"
#include "origin.h"

DEFINE_CLEANUP(Origin *, origin_free)

static bool parse_port(const char *text, int *ret)
{
	char *end = NULL;
	long v;

	if (!*text || *text < '0' || *text > '9')
		return false;
	errno = 0;
	v = strtol(text, &end, 10);
	if (errno || *end || v < 0 || v > 65535)
		return false;
	*ret = (int)v;
	return true;
}

int gw_parse_listen(GatewayConfig *cfg, const char *text, const char **ret_reason)
{
	char host[64];
	const char *port_text;
	unsigned char addr[16];
	size_t len;

	if (text[0] == '[') {
		const char *close = strchr(text, ']');

		if (!close || close[1] != ':') {
			*ret_reason = "an IPv6 address is written [ADDRESS]:PORT";
			return -EINVAL;
		}
		len = (size_t)(close - text - 1);
		port_text = close + 2;
		if (len >= sizeof(host)) {
			*ret_reason = "the address is too long";
			return -EINVAL;
		}
		memcpy(host, text + 1, len);
		host[len] = '\0';
		if (inet_pton(AF_INET6, host, addr) != 1) {
			*ret_reason = "not a numeric IPv6 address";
			return -EINVAL;
		}
		cfg->loopback = memcmp(addr, &in6addr_loopback, 16) == 0;
	} else {
		const char *colon = strrchr(text, ':');

		if (!colon) {
			strcpy(host, "127.0.0.1");
			port_text = text;
		} else {
			len = (size_t)(colon - text);
			port_text = colon + 1;
			if (len >= sizeof(host)) {
				*ret_reason = "the address is too long";
				return -EINVAL;
			}
			memcpy(host, text, len);
			host[len] = '\0';
		}
		if (inet_pton(AF_INET, host, addr) != 1) {
			*ret_reason = "not a numeric IPv4 address (names are not looked up; "
				      "write [ADDRESS] for IPv6)";
			return -EINVAL;
		}
		cfg->loopback = addr[0] == 127;
	}
	if (!parse_port(port_text, &cfg->port)) {
		*ret_reason = "the port must be a number from 0 to 65535";
		return -EINVAL;
	}
	strcpy(cfg->host, host);
	return 0;
}

/* Compares in time that depends on the expected token's length only. */
static bool token_equal(const char *expected, const char *given)
{
	size_t n = strlen(expected), m = strlen(given);
	unsigned char diff = n != m;

	for (size_t i = 0; i < n; i++)
		diff |= (unsigned char)expected[i] ^ (unsigned char)(i < m ? given[i] : 0);
	return diff == 0;
}

int gw_check_page(const GatewayConfig *cfg, const char *origin_header, const char *token,
		  char **ret_origin)
{
	_cleanup_(origin_freep) Origin *origin = NULL;
	bool allowed = false;
	char *copy;

	if (!origin_header || !*origin_header)
		return GW_REFUSE_NO_ORIGIN;
	if (strcmp(origin_header, "null") == 0) {
		origin = origin_new_opaque();
		if (!origin)
			return -ENOMEM;
	} else {
		int r = origin_from_url(origin_header, strlen(origin_header), NULL, 0, &origin, NULL);

		if (r == -ENOMEM)
			return r;
		/* Browsers send the serialization itself: anything else (a
		 * path, a default port written out, upper case) is not from
		 * one. */
		if (r < 0 || origin_is_opaque(origin) ||
		    strcmp(origin_serialization(origin), origin_header) != 0)
			return GW_REFUSE_BAD_ORIGIN;
	}
	for (size_t i = 0; i < cfg->n_allow && !allowed; i++)
		allowed = origin_pattern_matches(&cfg->allow[i], origin);
	if (!allowed)
		return GW_REFUSE_ORIGIN;
	/* Checked last, so that the answer to a page of a refused origin does
	 * not depend on whether it guessed the token. */
	if (cfg->token && (!token || !token_equal(cfg->token, token)))
		return GW_REFUSE_TOKEN;
	copy = strdup(origin_header);
	if (!copy)
		return -ENOMEM;
	*ret_origin = copy;
	return GW_OK;
}

const char *gw_refusal_reason(GatewayRefusal refusal)
{
	switch (refusal) {
	case GW_OK: return "allowed";
	case GW_REFUSE_NO_ORIGIN: return "the handshake has no Origin header (browsers always send one)";
	case GW_REFUSE_BAD_ORIGIN: return "the Origin header is not a serialized origin";
	case GW_REFUSE_ORIGIN: return "the origin is not one the gateway allows (--allow-origin)";
	case GW_REFUSE_TOKEN: return "the token in the WebSocket URL is missing or wrong (--token)";
	}
	return "refused";
}

size_t gw_parse_size(const char *text, size_t max)
{
	char *end = NULL;
	unsigned long long v;
	size_t scale = 1;

	if (!text || *text < '0' || *text > '9')
		return 0;
	errno = 0;
	v = strtoull(text, &end, 10);
	if (errno)
		return 0;
	if (strcmp(end, "KiB") == 0)
		scale = 1024;
	else if (strcmp(end, "MiB") == 0)
		scale = 1024 * 1024;
	else if (*end && strcmp(end, "B") != 0)
		return 0;
	if (v == 0 || v > max / scale)
		return 0;
	return (size_t)v * scale;
}
