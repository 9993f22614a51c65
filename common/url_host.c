/* SPDX-License-Identifier: MIT */
/* url_host.c - the URL Standard's host parser: domains, IPv4, IPv6 and opaque hosts. */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cleanup.h"
#include "url_error.h"
#include "url_host.h"
#include "url_idna.h"
#include "url_str.h"

#define EOF_CP (-1)

/* An IPv4 number that large already fails every range check of the IPv4
 * parser (256^4 is the largest bound), so accumulation saturates there and
 * any number of digits is parsed without overflow. */
#define IPV4_NUMBER_SATURATED (UINT64_C(1) << 32)

static bool is_digit(int c)
{
	return c >= '0' && c <= '9';
}

static int hex_value(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

static bool is_forbidden_host_byte(unsigned char c)
{
	return c == 0 || c == '\t' || c == '\n' || c == '\r' || c == ' ' ||
	       (c && strchr("#/:<>?@[\\]^|", c));
}

static int host_set(UrlHost *ret, UrlHostType type, char *serialized)
{
	if (!serialized)
		return -ENOMEM;
	*ret = (UrlHost){ .type = type, .serialized = serialized };
	return 0;
}

/* The IPv4 number parser.  Returns false on failure. */
static bool ipv4_number(const char *s, size_t n, uint64_t *ret)
{
	unsigned radix = 10;
	uint64_t v = 0;

	if (n == 0)
		return false;
	if (n >= 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
		s += 2;
		n -= 2;
		radix = 16;
	} else if (n >= 2 && s[0] == '0') {
		s += 1;
		n -= 1;
		radix = 8;
	}
	for (size_t i = 0; i < n; i++) {
		int d = hex_value((unsigned char)s[i]);

		if (d < 0 || (unsigned)d >= radix)
			return false;
		v = v * radix + (unsigned)d;
		if (v > IPV4_NUMBER_SATURATED)
			v = IPV4_NUMBER_SATURATED;
	}
	*ret = v;
	return true;
}

/* The "ends in a number" checker, on an ASCII domain. */
static bool ends_in_a_number(const char *s, size_t n)
{
	const char *last;
	uint64_t v;
	size_t i;

	if (n == 0)
		return false;
	if (s[n - 1] == '.')
		n--;
	last = memrchr(s, '.', n);
	last = last ? last + 1 : s;
	n -= (size_t)(last - s);
	for (i = 0; i < n && is_digit((unsigned char)last[i]); i++)
		;
	if (n > 0 && i == n)
		return true;
	return ipv4_number(last, n, &v);
}

/* The IPv4 parser and IPv4 serializer. */
static int ipv4_parse(const char *s, size_t n, UrlHost *ret)
{
	uint64_t numbers[4], ipv4;
	size_t parts = 1, count = 0, start = 0;
	char buf[sizeof("255.255.255.255")];

	for (size_t i = 0; i < n; i++)
		parts += s[i] == '.';
	/* A trailing empty part is dropped (an IPv4-empty-part validation
	 * error, not a failure). */
	if (n > 0 && s[n - 1] == '.' && parts > 1) {
		n--;
		parts--;
	}
	if (parts > 4)
		return URL_E_IPV4_TOO_MANY_PARTS;
	for (size_t i = 0; i <= n; i++) {
		if (i < n && s[i] != '.')
			continue;
		if (!ipv4_number(s + start, i - start, &numbers[count]))
			return URL_E_IPV4_NON_NUMERIC_PART;
		count++;
		start = i + 1;
	}
	for (size_t i = 0; i + 1 < count; i++)
		if (numbers[i] > 255)
			return URL_E_IPV4_OUT_OF_RANGE_PART;
	if (numbers[count - 1] >= UINT64_C(1) << (8 * (5 - count)))
		return URL_E_IPV4_OUT_OF_RANGE_PART;
	ipv4 = numbers[count - 1];
	for (size_t i = 0; i + 1 < count; i++)
		ipv4 += numbers[i] << (8 * (3 - i));
	snprintf(buf, sizeof(buf), "%u.%u.%u.%u", (unsigned)(ipv4 >> 24) & 0xff,
		 (unsigned)(ipv4 >> 16) & 0xff, (unsigned)(ipv4 >> 8) & 0xff, (unsigned)ipv4 & 0xff);
	return host_set(ret, URL_HOST_IPV4, strdup(buf));
}

/* The IPv6 parser, step for step. */
static int ipv6_parse(const unsigned char *s, size_t n, uint16_t address[8])
{
	size_t p = 0, piece = 0, compress = SIZE_MAX;

#define C (p < n ? (int)s[p] : EOF_CP)
	memset(address, 0, 8 * sizeof(address[0]));
	if (C == ':') {
		if (p + 1 >= n || s[p + 1] != ':')
			return URL_E_IPV6_INVALID_COMPRESSION;
		p += 2;
		compress = ++piece;
	}
	while (C != EOF_CP) {
		unsigned value = 0, length = 0;

		if (piece == 8)
			return URL_E_IPV6_TOO_MANY_PIECES;
		if (C == ':') {
			if (compress != SIZE_MAX)
				return URL_E_IPV6_MULTIPLE_COMPRESSION;
			p++;
			compress = ++piece;
			continue;
		}
		while (length < 4 && hex_value(C) >= 0) {
			value = value * 0x10 + (unsigned)hex_value(C);
			p++;
			length++;
		}
		if (C == '.') {
			unsigned numbers_seen = 0;

			if (length == 0)
				return URL_E_IPV4_IN_IPV6_INVALID_CODE_POINT;
			p -= length;
			if (piece > 6)
				return URL_E_IPV4_IN_IPV6_TOO_MANY_PIECES;
			while (C != EOF_CP) {
				int ipv4_piece = -1;

				if (numbers_seen > 0) {
					if (C == '.' && numbers_seen < 4)
						p++;
					else
						return URL_E_IPV4_IN_IPV6_INVALID_CODE_POINT;
				}
				if (!is_digit(C))
					return URL_E_IPV4_IN_IPV6_INVALID_CODE_POINT;
				while (is_digit(C)) {
					int number = C - '0';

					if (ipv4_piece < 0)
						ipv4_piece = number;
					else if (ipv4_piece == 0)
						return URL_E_IPV4_IN_IPV6_INVALID_CODE_POINT;
					else
						ipv4_piece = ipv4_piece * 10 + number;
					if (ipv4_piece > 255)
						return URL_E_IPV4_IN_IPV6_OUT_OF_RANGE_PART;
					p++;
				}
				address[piece] = (uint16_t)(address[piece] * 0x100 + ipv4_piece);
				numbers_seen++;
				if (numbers_seen == 2 || numbers_seen == 4)
					piece++;
			}
			if (numbers_seen != 4)
				return URL_E_IPV4_IN_IPV6_TOO_FEW_PARTS;
			break;
		} else if (C == ':') {
			p++;
			if (C == EOF_CP)
				return URL_E_IPV6_INVALID_CODE_POINT;
		} else if (C != EOF_CP) {
			return URL_E_IPV6_INVALID_CODE_POINT;
		}
		address[piece] = (uint16_t)value;
		piece++;
	}
#undef C
	if (compress != SIZE_MAX) {
		size_t swaps = piece - compress;

		piece = 7;
		while (piece != 0 && swaps > 0) {
			uint16_t t = address[piece];

			address[piece] = address[compress + swaps - 1];
			address[compress + swaps - 1] = t;
			piece--;
			swaps--;
		}
	} else if (piece != 8) {
		return URL_E_IPV6_TOO_FEW_PIECES;
	}
	return 0;
}

/* The IPv6 serializer, brackets included: the first longest run of two or
 * more zero pieces becomes "::" (RFC 5952). */
static char *ipv6_serialize(const uint16_t address[8])
{
	char buf[sizeof("[ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff]")];
	size_t longest_index = SIZE_MAX, longest_size = 1, found_index = SIZE_MAX, found_size = 0;
	size_t compress, o = 0;
	bool ignore0 = false;

	for (size_t i = 0; i < 8; i++) {
		if (address[i] != 0) {
			if (found_size > longest_size) {
				longest_index = found_index;
				longest_size = found_size;
			}
			found_index = SIZE_MAX;
			found_size = 0;
		} else {
			if (found_index == SIZE_MAX)
				found_index = i;
			found_size++;
		}
	}
	compress = found_size > longest_size ? found_index : longest_index;

	buf[o++] = '[';
	for (size_t i = 0; i < 8; i++) {
		if (ignore0 && address[i] == 0)
			continue;
		ignore0 = false;
		if (compress == i) {
			o += (size_t)snprintf(buf + o, sizeof(buf) - o, "%s", i == 0 ? "::" : ":");
			ignore0 = true;
			continue;
		}
		o += (size_t)snprintf(buf + o, sizeof(buf) - o, "%x%s", address[i], i != 7 ? ":" : "");
	}
	buf[o++] = ']';
	buf[o] = '\0';
	return strdup(buf);
}

/* The opaque-host parser: only forbidden host code points fail; the rest
 * is kept percent-encoded with the C0 control percent-encode set. */
static int opaque_host_parse(const char *s, size_t n, UrlHost *ret)
{
	_cleanup_(url_str_deinit) UrlStr out = URL_STR_INIT;
	int r = 0;

	for (size_t i = 0; i < n; i++)
		if (is_forbidden_host_byte((unsigned char)s[i]))
			return URL_E_HOST_INVALID_CODE_POINT;
	for (size_t i = 0; i < n && r == 0; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c < 0x20 || c > 0x7E)
			r = url_str_put_pct(&out, c);
		else
			r = url_str_putc(&out, (char)c);
	}
	if (r)
		return r;
	return host_set(ret, n ? URL_HOST_OPAQUE : URL_HOST_EMPTY, url_str_steal(&out));
}

/* Percent-decoding: "%XX" becomes the byte, any other "%" stays. */
static int percent_decode(const char *s, size_t n, UrlStr *out)
{
	int r = 0;

	for (size_t i = 0; i < n && r == 0; i++) {
		int hi, lo;

		if (s[i] == '%' && i + 2 < n && (hi = hex_value((unsigned char)s[i + 1])) >= 0 &&
		    (lo = hex_value((unsigned char)s[i + 2])) >= 0) {
			r = url_str_putc(out, (char)(hi << 4 | lo));
			i += 2;
		} else {
			r = url_str_putc(out, s[i]);
		}
	}
	return r;
}

int url_host_parse(const char *input, size_t len, bool is_opaque, UrlHost *ret)
{
	_cleanup_(url_str_deinit) UrlStr domain = URL_STR_INIT;
	_cleanup_(freep) char *ascii = NULL;
	int r;

	if (len > 0 && input[0] == '[') {
		uint16_t address[8];

		if (len < 2 || input[len - 1] != ']')
			return URL_E_IPV6_UNCLOSED;
		r = ipv6_parse((const unsigned char *)input + 1, len - 2, address);
		if (r)
			return r;
		return host_set(ret, URL_HOST_IPV6, ipv6_serialize(address));
	}
	if (is_opaque)
		return opaque_host_parse(input, len, ret);
	if (len == 0)
		return URL_E_HOST_MISSING;

	r = percent_decode(input, len, &domain);
	if (r)
		return r;
	/* UTF-8 decode without BOM would turn ill-formed bytes into U+FFFD,
	 * which domain to ASCII rejects: fail early, as the standard's note
	 * allows. */
	if (!url_utf8_valid(domain.data, domain.len))
		return URL_E_DOMAIN_TO_ASCII;
	r = url_idna_to_ascii(domain.data, domain.len, &ascii);
	if (r)
		return r;
	if (ends_in_a_number(ascii, strlen(ascii)))
		return ipv4_parse(ascii, strlen(ascii), ret);
	return host_set(ret, URL_HOST_DOMAIN, steal_pointer(&ascii));
}

int url_host_init_empty(UrlHost *ret)
{
	return host_set(ret, URL_HOST_EMPTY, strdup(""));
}

int url_host_copy(const UrlHost *host, UrlHost *ret)
{
	return host_set(ret, host->type, strdup(host->serialized));
}

void url_host_deinit(UrlHost *host)
{
	free(host->serialized);
	host->serialized = NULL;
}
