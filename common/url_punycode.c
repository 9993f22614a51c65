/* SPDX-License-Identifier: MIT */
/* url_punycode.c - Punycode decoding (RFC 3492) for A-labels. */
#include <string.h>
#include <sys/types.h>

#include "url_punycode.h"

/*
 * libidn2 decodes Punycode too, but its public decoder accepts only letters,
 * digits, "-" and "_" as basic code points, while UTS #46 with
 * UseSTD3ASCIIRules=false lets labels hold any ASCII that is not a forbidden
 * domain code point (libidn2's own encoder writes "xn--*-kka" for "ü*"), and
 * it stops at 63 code points.  This is the RFC's decoder, parameters and all.
 */

enum {
	BASE = 36,
	TMIN = 1,
	TMAX = 26,
	SKEW = 38,
	DAMP = 700,
	INITIAL_BIAS = 72,
	INITIAL_N = 0x80,
};

#define MAXINT UINT32_MAX

static uint32_t adapt(uint32_t delta, uint32_t numpoints, int firsttime)
{
	uint32_t k = 0;

	delta = firsttime ? delta / DAMP : delta / 2;
	delta += delta / numpoints;
	while (delta > ((BASE - TMIN) * TMAX) / 2) {
		delta /= BASE - TMIN;
		k += BASE;
	}
	return k + (BASE - TMIN + 1) * delta / (delta + SKEW);
}

static int digit_value(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0' + 26;
	if (c >= 'a' && c <= 'z')
		return c - 'a';
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	return -1;
}

ssize_t url_punycode_decode(const char *in, size_t len, uint32_t *out, size_t cap)
{
	uint32_t n = INITIAL_N, i = 0, bias = INITIAL_BIAS;
	const char *delim = memrchr(in, '-', len);
	size_t b = delim ? (size_t)(delim - in) : 0, o = 0, p;

	/* The basic code points before the last delimiter, copied as they
	 * are; a delimiter with none before it is not consumed (RFC 3492
	 * 6.2), so it then fails as a digit below. */
	if (b > cap)
		return -1;
	for (size_t j = 0; j < b; j++) {
		if ((unsigned char)in[j] >= 0x80)
			return -1;
		out[o++] = (unsigned char)in[j];
	}
	p = b > 0 ? b + 1 : 0;

	while (p < len) {
		uint32_t oldi = i, w = 1;

		for (uint32_t k = BASE;; k += BASE) {
			int digit;
			uint32_t t;

			if (p >= len)
				return -1;
			digit = digit_value(in[p++]);
			if (digit < 0)
				return -1;
			if ((uint32_t)digit > (MAXINT - i) / w)
				return -1;
			i += (uint32_t)digit * w;
			t = k <= bias ? TMIN : k >= bias + TMAX ? TMAX : k - bias;
			if ((uint32_t)digit < t)
				break;
			if (w > MAXINT / (BASE - t))
				return -1;
			w *= BASE - t;
		}
		if (o >= cap)
			return -1;
		bias = adapt(i - oldi, (uint32_t)o + 1, oldi == 0);
		if (i / (o + 1) > MAXINT - n)
			return -1;
		n += i / (uint32_t)(o + 1);
		i %= (uint32_t)(o + 1);
		if (n > 0x10FFFF || (n >= 0xD800 && n <= 0xDFFF))
			return -1;
		memmove(out + i + 1, out + i, (o - i) * sizeof(out[0]));
		out[i++] = n;
		o++;
	}
	return (ssize_t)o;
}
