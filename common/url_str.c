/* SPDX-License-Identifier: MIT */
/* url_str.c - growable byte strings and UTF-8 checks for the URL modules. */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "url_str.h"

int url_str_append(UrlStr *s, const void *bytes, size_t n)
{
	if (n > SIZE_MAX / 2 - s->len - 1)
		return -ENOMEM;
	if (s->len + n + 1 > s->cap) {
		size_t cap = s->cap ? s->cap : 32;
		char *p;

		while (cap < s->len + n + 1)
			cap *= 2;
		p = realloc(s->data, cap);
		if (!p)
			return -ENOMEM;
		s->data = p;
		s->cap = cap;
	}
	if (n)
		memcpy(s->data + s->len, bytes, n);
	s->len += n;
	s->data[s->len] = '\0';
	return 0;
}

int url_str_putc(UrlStr *s, char c)
{
	return url_str_append(s, &c, 1);
}

int url_str_put_pct(UrlStr *s, unsigned char byte)
{
	static const char hex[] = "0123456789ABCDEF";
	char enc[3] = { '%', hex[byte >> 4], hex[byte & 0xf] };

	return url_str_append(s, enc, sizeof(enc));
}

char *url_str_steal(UrlStr *s)
{
	char *p = s->data;

	if (!p)
		p = strdup("");
	*s = (UrlStr)URL_STR_INIT;
	return p;
}

void url_str_deinit(UrlStr *s)
{
	free(s->data);
	*s = (UrlStr)URL_STR_INIT;
}

size_t url_utf8_next(const unsigned char *s, size_t n, size_t *ret_bad)
{
	unsigned char lo = 0x80, hi = 0xBF;
	size_t need;

	if (s[0] < 0x80)
		return 1;
	/* The Encoding Standard's UTF-8 decoder: the lead byte narrows the
	 * range of the first continuation byte, which is what rules out
	 * overlong forms, surrogates and code points above U+10FFFF. */
	if (s[0] >= 0xC2 && s[0] <= 0xDF) {
		need = 1;
	} else if (s[0] >= 0xE0 && s[0] <= 0xEF) {
		need = 2;
		if (s[0] == 0xE0)
			lo = 0xA0;
		else if (s[0] == 0xED)
			hi = 0x9F;
	} else if (s[0] >= 0xF0 && s[0] <= 0xF4) {
		need = 3;
		if (s[0] == 0xF0)
			lo = 0x90;
		else if (s[0] == 0xF4)
			hi = 0x8F;
	} else {
		*ret_bad = 1;
		return 0;
	}
	for (size_t i = 1; i <= need; i++) {
		if (i >= n || s[i] < lo || s[i] > hi) {
			/* The bytes so far become one U+FFFD; the offending
			 * byte starts the next sequence. */
			*ret_bad = i;
			return 0;
		}
		lo = 0x80;
		hi = 0xBF;
	}
	return need + 1;
}

bool url_utf8_valid(const char *s, size_t n)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t i = 0, bad;

	while (i < n) {
		size_t l = url_utf8_next(p + i, n - i, &bad);

		if (!l)
			return false;
		i += l;
	}
	return true;
}
