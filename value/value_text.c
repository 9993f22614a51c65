/* SPDX-License-Identifier: MIT */
/* value_text.c - WTF-8 validation, UTF-16 conversion and bigint decimal text. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "value_internal.h"

static bool is_cont(uint8_t c)
{
	return (c & 0xc0) == 0x80;
}

int wtf8_validate(const void *data, size_t len, bool *ret_well_formed)
{
	const uint8_t *s = data;
	bool well_formed = true, after_lead = false;
	size_t i = 0;

	while (i < len) {
		uint8_t c = s[i];
		uint32_t cp;

		if (c < 0x80) {
			i++;
			after_lead = false;
			continue;
		}
		if (c >= 0xc2 && c <= 0xdf) {
			if (len - i < 2 || !is_cont(s[i + 1]))
				return -EINVAL;
			i += 2;
			after_lead = false;
			continue;
		}
		if (c >= 0xe0 && c <= 0xef) {
			if (len - i < 3 || !is_cont(s[i + 1]) || !is_cont(s[i + 2]))
				return -EINVAL;
			cp = (uint32_t)(c & 0x0f) << 12 | (uint32_t)(s[i + 1] & 0x3f) << 6 | (s[i + 2] & 0x3f);
			if (cp < 0x800)
				return -EINVAL;
			i += 3;
			if (cp >= 0xd800 && cp <= 0xdfff) {
				/* A lead then a trail is a pair, which WTF-8 writes
				 * as one 4-byte sequence: two spellings of one string
				 * would break equality, so refuse this one. */
				if (cp >= 0xdc00 && after_lead)
					return -EINVAL;
				well_formed = false;
				after_lead = cp < 0xdc00;
			} else {
				after_lead = false;
			}
			continue;
		}
		if (c >= 0xf0 && c <= 0xf4) {
			if (len - i < 4 || !is_cont(s[i + 1]) || !is_cont(s[i + 2]) || !is_cont(s[i + 3]))
				return -EINVAL;
			cp = (uint32_t)(c & 0x07) << 18 | (uint32_t)(s[i + 1] & 0x3f) << 12 |
			     (uint32_t)(s[i + 2] & 0x3f) << 6 | (s[i + 3] & 0x3f);
			if (cp < 0x10000 || cp > 0x10ffff)
				return -EINVAL;
			i += 4;
			after_lead = false;
			continue;
		}
		return -EINVAL;
	}
	if (ret_well_formed)
		*ret_well_formed = well_formed;
	return 0;
}

size_t wtf8_next(const char *str, size_t len, uint32_t *ret_cp)
{
	const uint8_t *s = (const uint8_t *)str;

	if (s[0] < 0x80 || len < 2) {
		*ret_cp = s[0];
		return 1;
	}
	if (s[0] < 0xe0) {
		*ret_cp = (uint32_t)(s[0] & 0x1f) << 6 | (s[1] & 0x3f);
		return 2;
	}
	if (s[0] < 0xf0 || len < 4) {
		*ret_cp = (uint32_t)(s[0] & 0x0f) << 12 | (uint32_t)(s[1] & 0x3f) << 6 | (s[2] & 0x3f);
		return 3;
	}
	*ret_cp = (uint32_t)(s[0] & 0x07) << 18 | (uint32_t)(s[1] & 0x3f) << 12 |
		  (uint32_t)(s[2] & 0x3f) << 6 | (s[3] & 0x3f);
	return 4;
}

size_t wtf8_utf16_length(const char *str, size_t len)
{
	const uint8_t *s = (const uint8_t *)str;
	size_t i, n = 0;

	/* One unit per code point, two for those past the BMP (4-byte leads). */
	for (i = 0; i < len; i++)
		n += !is_cont(s[i]) + (s[i] >= 0xf0);
	return n;
}

void wtf8_to_utf16(const char *s, size_t len, uint16_t *out)
{
	size_t i = 0;

	while (i < len) {
		uint32_t cp;

		i += wtf8_next(s + i, len - i, &cp);
		if (cp >= 0x10000) {
			cp -= 0x10000;
			*out++ = (uint16_t)(0xd800 + (cp >> 10));
			*out++ = (uint16_t)(0xdc00 + (cp & 0x3ff));
		} else {
			*out++ = (uint16_t)cp;
		}
	}
}

int utf16_to_wtf8(const uint16_t *units, size_t count, char **ret, size_t *ret_len,
		  bool *ret_well_formed)
{
	bool well_formed = true;
	size_t i, n = 0;
	uint8_t *out;

	if (count > (SIZE_MAX - 1) / 3)
		return -ENOMEM;
	out = malloc(3 * count + 1);
	if (!out)
		return -ENOMEM;
	for (i = 0; i < count; i++) {
		uint32_t cp = units[i];

		if (cp >= 0xd800 && cp < 0xdc00 && i + 1 < count && units[i + 1] >= 0xdc00 &&
		    units[i + 1] <= 0xdfff) {
			cp = 0x10000 + ((cp - 0xd800) << 10) + (units[++i] - 0xdc00);
		} else if (cp >= 0xd800 && cp <= 0xdfff) {
			well_formed = false;
		}
		if (cp < 0x80) {
			out[n++] = (uint8_t)cp;
		} else if (cp < 0x800) {
			out[n++] = (uint8_t)(0xc0 | cp >> 6);
			out[n++] = (uint8_t)(0x80 | (cp & 0x3f));
		} else if (cp < 0x10000) {
			out[n++] = (uint8_t)(0xe0 | cp >> 12);
			out[n++] = (uint8_t)(0x80 | (cp >> 6 & 0x3f));
			out[n++] = (uint8_t)(0x80 | (cp & 0x3f));
		} else {
			/* A pair becomes 4 bytes, no more than its two units' 6. */
			out[n++] = (uint8_t)(0xf0 | cp >> 18);
			out[n++] = (uint8_t)(0x80 | (cp >> 12 & 0x3f));
			out[n++] = (uint8_t)(0x80 | (cp >> 6 & 0x3f));
			out[n++] = (uint8_t)(0x80 | (cp & 0x3f));
		}
	}
	out[n] = 0;
	*ret = (char *)out;
	*ret_len = n;
	*ret_well_formed = well_formed;
	return 0;
}

/* Bigints travel as magnitude bytes; decimal text is only for JSON and
 * humans.  Both conversions work on 32-bit limbs, nine digits at a time:
 * quadratic, fine for the sizes people write by hand. */

int bigint_from_decimal(const char *s, size_t len, bool *ret_negative, uint8_t **ret_mag,
			size_t *ret_len)
{
	static const uint32_t pow10[10] = { 1, 10, 100, 1000, 10000, 100000, 1000000,
					    10000000, 100000000, 1000000000 };
	bool negative = false;
	uint32_t *limbs;
	size_t i, n = 0, max_limbs, nbytes;
	uint8_t *mag;

	if (len > 0 && s[0] == '-') {
		negative = true;
		s++;
		len--;
	}
	if (len == 0)
		return -EINVAL;
	for (i = 0; i < len; i++)
		if (s[i] < '0' || s[i] > '9')
			return -EINVAL;
	max_limbs = len / 9 + 2;
	limbs = calloc(max_limbs, sizeof(*limbs));
	if (!limbs)
		return -ENOMEM;
	for (i = 0; i < len;) {
		size_t k = len - i < 9 ? len - i : 9, j;
		uint64_t carry = 0;

		for (j = 0; j < k; j++)
			carry = carry * 10 + (uint64_t)(s[i + j] - '0');
		for (j = 0; j < n; j++) {
			uint64_t t = (uint64_t)limbs[j] * pow10[k] + carry;

			limbs[j] = (uint32_t)t;
			carry = t >> 32;
		}
		if (carry)
			limbs[n++] = (uint32_t)carry;
		i += k;
	}
	nbytes = n * 4;
	mag = malloc(nbytes ? nbytes : 1);
	if (!mag) {
		free(limbs);
		return -ENOMEM;
	}
	for (i = 0; i < nbytes; i++)
		mag[i] = (uint8_t)(limbs[i / 4] >> (8 * (i % 4)));
	free(limbs);
	while (nbytes > 0 && mag[nbytes - 1] == 0)
		nbytes--;
	*ret_negative = negative && nbytes > 0;
	*ret_mag = mag;
	*ret_len = nbytes;
	return 0;
}

char *bigint_to_decimal(bool negative, const uint8_t *mag, size_t len)
{
	size_t n = (len + 3) / 4, i, ndigits = 0, cap;
	uint32_t *limbs;
	char *out, *digits;

	/* 8 bits hold fewer than 2.41 decimal digits. */
	cap = len * 3 + 3;
	limbs = calloc(n ? n : 1, sizeof(*limbs));
	digits = malloc(cap);
	out = malloc(cap + 1);
	if (!limbs || !digits || !out) {
		free(limbs);
		free(digits);
		free(out);
		return NULL;
	}
	for (i = 0; i < len; i++)
		limbs[i / 4] |= (uint32_t)mag[i] << (8 * (i % 4));
	while (n > 0 && limbs[n - 1] == 0)
		n--;
	while (n > 0) {
		uint64_t rem = 0;
		int k;

		for (i = n; i-- > 0;) {
			uint64_t cur = rem << 32 | limbs[i];

			limbs[i] = (uint32_t)(cur / 1000000000u);
			rem = cur % 1000000000u;
		}
		while (n > 0 && limbs[n - 1] == 0)
			n--;
		/* Nine digits per limb, except the most significant chunk. */
		for (k = 0; k < 9 && (n > 0 || rem > 0); k++) {
			digits[ndigits++] = (char)('0' + rem % 10);
			rem /= 10;
		}
	}
	i = 0;
	if (ndigits == 0) {
		out[i++] = '0';
	} else {
		if (negative)
			out[i++] = '-';
		while (ndigits > 0)
			out[i++] = digits[--ndigits];
	}
	out[i] = 0;
	free(limbs);
	free(digits);
	return out;
}

static const char base64_alphabet[] =
	"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

void base64_encode(const uint8_t *in, size_t n, char *out)
{
	size_t i;

	for (i = 0; i + 2 < n; i += 3) {
		uint32_t t = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8 | in[i + 2];

		*out++ = base64_alphabet[t >> 18];
		*out++ = base64_alphabet[t >> 12 & 63];
		*out++ = base64_alphabet[t >> 6 & 63];
		*out++ = base64_alphabet[t & 63];
	}
	if (i < n) {
		uint32_t t = (uint32_t)in[i] << 16 | (i + 1 < n ? (uint32_t)in[i + 1] << 8 : 0);

		*out++ = base64_alphabet[t >> 18];
		*out++ = base64_alphabet[t >> 12 & 63];
		*out++ = i + 1 < n ? base64_alphabet[t >> 6 & 63] : '=';
		*out++ = '=';
	}
}

static int base64_digit(char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+')
		return 62;
	if (c == '/')
		return 63;
	return -1;
}

int base64_decode(const char *in, size_t len, uint8_t **ret, size_t *ret_len)
{
	uint8_t *out;
	uint32_t acc = 0;
	size_t i, n = 0, bits = 0;

	/* Padding is optional, but only at the end. */
	if (len % 4 == 0 && len > 0 && in[len - 1] == '=') {
		len--;
		if (in[len - 1] == '=')
			len--;
	}
	if (len % 4 == 1)
		return -EINVAL;
	out = malloc(len / 4 * 3 + 3);
	if (!out)
		return -ENOMEM;
	for (i = 0; i < len; i++) {
		int d = base64_digit(in[i]);

		if (d < 0) {
			free(out);
			return -EINVAL;
		}
		acc = acc << 6 | (uint32_t)d;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			out[n++] = (uint8_t)(acc >> bits);
		}
	}
	*ret = out;
	*ret_len = n;
	return 0;
}
