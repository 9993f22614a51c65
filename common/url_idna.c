/* SPDX-License-Identifier: MIT */
/* url_idna.c - the URL Standard's "domain to ASCII" and "domain to Unicode" (UTS #46) on libidn2. */
#include <errno.h>
#include <idn2.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cleanup.h"
#include "url_error.h"
#include "url_idna.h"
#include "url_punycode.h"
#include "url_str.h"

/*
 * libidn2's idn2_lookup_u8(IDN2_NONTRANSITIONAL) performs UTS #46 mapping,
 * normalization and validity checks, then the IDNA2008 (RFC 5891) lookup
 * checks, then Punycode.  That is close to what the URL Standard asks for,
 * but libidn2 has no flags for the differences:
 *
 *  1. CheckHyphens=false: libidn2 always rejects labels that start or end
 *     with "-" or have "--" in the third and fourth positions.
 *  2. IDNA2008 is stricter than UTS #46: it disallows symbols such as
 *     U+2615, yet the URL Standard's own example is "☕.example".  And
 *     libidn2 checks bidi only among its IDNA2008 rules.
 *  3. VerifyDnsLength=false: libidn2 rejects names over 255 octets and
 *     labels over 63.
 *  4. libidn2 returns one error for a whole domain, so a workaround could
 *     not tell which label needs it.
 *
 * So this module splits the domain into labels itself (answering 4, and 3
 * for the domain as a whole) and treats each: ASCII labels are lowercased
 * here, which is all UTS #46 does to them with these options; "xn--"
 * labels are decoded (url_punycode.c) and must convert back to themselves;
 * other labels go to libidn2 one at a time and are retried with the
 * workarounds below when libidn2 fails for reasons only 1 or 2 explain.
 * What still differs from UTS #46 is listed in docs/origins.md.
 */

/* Flags for ulabel_to_ascii(). */
enum {
	LABEL_MAY_BE_ALABEL = 1 << 0,	/* a label mapping to "xn--..." may be decoded */
};

/* The code points UTS #46 maps to U+002E FULL STOP; splitting on them
 * before mapping gives the labels mapping would give. */
static size_t label_separator_len(const unsigned char *s, size_t n)
{
	if (s[0] == '.')
		return 1;
	if (n >= 3 && ((s[0] == 0xE3 && s[1] == 0x80 && s[2] == 0x82) ||	/* U+3002 */
		       (s[0] == 0xEF && s[1] == 0xBC && s[2] == 0x8E) ||	/* U+FF0E */
		       (s[0] == 0xEF && s[1] == 0xBD && s[2] == 0xA1)))	/* U+FF61 */
		return 3;
	return 0;
}

/* The URL Standard's forbidden domain code points (all ASCII). */
static bool is_forbidden_domain_byte(unsigned char c)
{
	return c <= 0x20 || c == 0x7F || (c && strchr("#%/:<>?@[\\]^|", c));
}

static bool starts_with_xn(const char *s)
{
	return (s[0] == 'x' || s[0] == 'X') && (s[1] == 'n' || s[1] == 'N') && s[2] == '-' &&
	       s[3] == '-';
}

static bool is_ascii(const char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s >= 0x80)
			return false;
	return true;
}

static int idn2_error(int rc)
{
	return rc == IDN2_MALLOC ? -ENOMEM : URL_E_DOMAIN_TO_ASCII;
}

/* Errors only IDNA2008's lookup rules raise; UTS #46 has no such rules. */
static bool is_idna2008_only_error(int rc)
{
	return rc == IDN2_DISALLOWED || rc == IDN2_CONTEXTO || rc == IDN2_CONTEXTO_NO_RULE ||
	       rc == IDN2_UNASSIGNED;
}

static bool is_hyphen_error(int rc)
{
	return rc == IDN2_2HYPHEN || rc == IDN2_HYPHEN_STARTEND;
}

/* The UTS #46 deviation characters ß, ς, ZWNJ and ZWJ, which transitional
 * processing maps away: without them transitional and nontransitional
 * processing give the same result. */
static bool has_deviation(const char *s)
{
	return strstr(s, "\xC3\x9F") || strstr(s, "\xCF\x82") || strstr(s, "\xE2\x80\x8C") ||
	       strstr(s, "\xE2\x80\x8D");
}

/*
 * libidn2 >= 2.3.1 decodes what it encoded again and fails the label when
 * that does not give it back.  Its decoder accepts only letters, digits, "-"
 * and "_" as ASCII, so every label holding other ASCII that UTS #46 allows
 * with UseSTD3ASCIIRules=false ("ü*", and the "+" below) fails that check
 * though libidn2 encoded it correctly.  The check runs last, so retrying
 * without it skips no other rule, except for a label that maps to an
 * A-label, which ulabel_to_ascii() checks again itself.  Returns an idn2
 * return code.
 */
static int lookup_mode(const char *label, int mode, char **ret)
{
	int rc;

	rc = idn2_lookup_u8((const uint8_t *)label, (uint8_t **)ret, mode);
	if (rc == IDN2_ALABEL_ROUNDTRIP_FAILED)
		rc = idn2_lookup_u8((const uint8_t *)label, (uint8_t **)ret,
				    mode | IDN2_NO_ALABEL_ROUNDTRIP);
	return rc;
}

/*
 * CheckBidi for a label libidn2 rejected only for IDNA2008's reasons: its
 * bidi check runs after those, so it never ran.  Run it on a copy in which
 * each character IDNA2008 rejects (found by trying it alone) is replaced by
 * "!".  "!" has bidi class ON, like nearly all of those characters (symbols,
 * emoji), and RFC 5893 treats ON, ET, ES, CS and BN alike, so for them the
 * answer is exact.  Returns IDN2_BIDI when the label fails the bidi rule,
 * IDN2_MALLOC, or IDN2_OK (also when the copy still cannot be checked).
 */
static int check_bidi_with_stand_ins(const char *label)
{
	_cleanup_(url_str_deinit) UrlStr copy = URL_STR_INIT;
	const unsigned char *s = (const unsigned char *)label;
	size_t len = strlen(label), bad;
	int rc;

	for (size_t i = 0; i < len;) {
		size_t l = url_utf8_next(s + i, len - i, &bad);
		char one[5] = { 0 };

		if (l == 0)
			return IDN2_ENCODING_ERROR;
		memcpy(one, s + i, l);
		rc = l > 1 ? idn2_lookup_u8((const uint8_t *)one, NULL,
					    IDN2_NONTRANSITIONAL | IDN2_NO_ALABEL_ROUNDTRIP) : IDN2_OK;
		if (rc == IDN2_MALLOC)
			return rc;
		if (url_str_append(&copy, is_idna2008_only_error(rc) ? "!" : one,
				   is_idna2008_only_error(rc) ? 1 : l) < 0)
			return IDN2_MALLOC;
		i += l;
	}
	rc = idn2_lookup_u8((const uint8_t *)copy.data, NULL,
			    IDN2_NONTRANSITIONAL | IDN2_NO_ALABEL_ROUNDTRIP);
	return rc == IDN2_BIDI || rc == IDN2_MALLOC ? rc : IDN2_OK;
}

/*
 * Difference 2: libidn2 with IDN2_TRANSITIONAL skips its IDNA2008 checks,
 * keeping UTS #46 mapping and validity, so for a label without deviation
 * characters it gives the nontransitional UTS #46 result.  CheckJoiners has
 * nothing to check there (ZWJ and ZWNJ are deviations), and CheckBidi, which
 * libidn2 runs only among its IDNA2008 checks, is run above.  Code points
 * UTS #46 disallows still fail: mapping is the same in both modes.  Returns
 * an idn2 return code.
 */
static int lookup(const char *label, char **ret)
{
	int rc;

	rc = lookup_mode(label, IDN2_NONTRANSITIONAL, ret);
	if (!is_idna2008_only_error(rc) || has_deviation(label))
		return rc;
	rc = check_bidi_with_stand_ins(label);
	if (rc != IDN2_OK)
		return rc;
	return lookup_mode(label, IDN2_TRANSITIONAL, ret);
}

/*
 * Difference 1, for a label libidn2 rejected for its hyphens: convert it
 * with every hyphen replaced by "+", then put the hyphens back.  The swap is
 * invisible to every other rule: both are ASCII, bidi class ES, joining type
 * U, not marks, never composed, and valid with UseSTD3ASCIIRules=false.
 * Punycode copies ASCII characters verbatim and encodes the others by
 * position only, so restoring the hyphens in the output gives the label's
 * own encoding.  U+FF0D and U+FE63 map to "-" and are swapped too.  If the
 * label holds a "+" of its own (or something mapping to one) the two cannot
 * be told apart afterwards, and the label fails.  Returns an idn2 return
 * code; on IDN2_OK *ret is the result with the hyphens restored.
 */
static int lookup_hyphens_swapped(const char *label, char **ret)
{
	_cleanup_(freep) char *swapped = NULL;
	_cleanup_(freep) char *out = NULL;
	size_t swaps = 0, plus = 0, len = strlen(label), j = 0;
	int rc;

	swapped = malloc(len + 1);
	if (!swapped)
		return IDN2_MALLOC;
	for (size_t i = 0; i < len;) {
		if (label[i] == '-') {
			i += 1;
		} else if (len - i >= 3 && (!memcmp(label + i, "\xEF\xBC\x8D", 3) ||
					    !memcmp(label + i, "\xEF\xB9\xA3", 3))) {
			i += 3;
		} else {
			swapped[j++] = label[i++];
			continue;
		}
		swapped[j++] = '+';
		swaps++;
	}
	swapped[j] = '\0';

	rc = lookup(swapped, &out);
	if (rc != IDN2_OK)
		return rc;
	for (const char *p = out; *p; p++)
		plus += *p == '+';
	/* A "." would mean mapping split the label into several. */
	if (plus != swaps || strchr(out, '.'))
		return IDN2_DISALLOWED;
	for (char *p = out; *p; p++)
		if (*p == '+')
			*p = '-';
	*ret = steal_pointer(&out);
	return IDN2_OK;
}

/* Code points in a decoded label before libidn2 gives up anyway: it maps at
 * most 254 code points in one call (its own bound on Punycode's quadratic
 * cost), so stopping there loses nothing and keeps decoding bounded too. */
#define ULABEL_MAX 255

/* Decodes an A-label (with its "xn--") to NUL-terminated UTF-8; NULL when
 * it is not Punycode, or out of memory (*ret_oom set). */
static char *alabel_decode(const char *label, bool *ret_oom)
{
	uint32_t cps[ULABEL_MAX];
	_cleanup_(url_str_deinit) UrlStr out = URL_STR_INIT;
	ssize_t n;

	*ret_oom = false;
	n = url_punycode_decode(label + 4, strlen(label + 4), cps, ULABEL_MAX);
	if (n < 0)
		return NULL;
	for (ssize_t i = 0; i < n; i++) {
		uint32_t c = cps[i];
		char b[4];
		size_t l;

		if (c < 0x80) {
			b[0] = (char)c;
			l = 1;
		} else if (c < 0x800) {
			b[0] = (char)(0xC0 | c >> 6);
			b[1] = (char)(0x80 | (c & 0x3F));
			l = 2;
		} else if (c < 0x10000) {
			b[0] = (char)(0xE0 | c >> 12);
			b[1] = (char)(0x80 | (c >> 6 & 0x3F));
			b[2] = (char)(0x80 | (c & 0x3F));
			l = 3;
		} else {
			b[0] = (char)(0xF0 | c >> 18);
			b[1] = (char)(0x80 | (c >> 12 & 0x3F));
			b[2] = (char)(0x80 | (c >> 6 & 0x3F));
			b[3] = (char)(0x80 | (c & 0x3F));
			l = 4;
		}
		if (url_str_append(&out, b, l) < 0) {
			*ret_oom = true;
			return NULL;
		}
	}
	return url_str_steal(&out);
}

static int alabel_to_ascii(const char *label, char **ret);

/*
 * A label with non-ASCII code points (NUL-terminated UTF-8) to ASCII.
 * Returns 0, URL_E_DOMAIN_TO_ASCII or -ENOMEM.
 */
static int ulabel_to_ascii(const char *label, unsigned flags, char **ret)
{
	_cleanup_(freep) char *out = NULL;
	int rc;

	rc = lookup(label, &out);
	if (is_hyphen_error(rc))
		rc = lookup_hyphens_swapped(label, &out);
	if (rc != IDN2_OK)
		return idn2_error(rc);
	/*
	 * A result starting "xn--" is libidn2's Punycode for the label, or
	 * the label itself mapped to an A-label ("ｘｎ－－…").  UTS #46 wants
	 * the second decoded and checked like any A-label, and the
	 * workarounds above may have skipped part of libidn2's own check of
	 * it.  So such a result is checked as an A-label, unless it decodes
	 * to this very label: then it is libidn2's Punycode for it (a label
	 * mapping to an A-label cannot decode to itself, as libidn2 accepts
	 * only decoded labels of valid code points, which map to themselves).
	 * The check converts the decoded label without LABEL_MAY_BE_ALABEL,
	 * so it does not come back here.
	 */
	if ((flags & LABEL_MAY_BE_ALABEL) && starts_with_xn(out)) {
		_cleanup_(freep) char *decoded = NULL;
		bool oom;

		decoded = alabel_decode(out, &oom);
		if (oom)
			return -ENOMEM;
		if (!decoded || strcmp(decoded, label) != 0)
			return alabel_to_ascii(out, ret);
	}
	*ret = steal_pointer(&out);
	return 0;
}

/*
 * A label that is ASCII, lowercase and starts with "xn--": UTS #46 decodes
 * it and requires the result to be a valid label that is not empty and not
 * all ASCII.  Valid here means converting it back gives this same label:
 * that runs every check the label's Unicode form must pass, and a decoded
 * label that is not in its mapped, normalized form converts to something
 * else.  Returns 0 (*ret a copy of label), URL_E_DOMAIN_TO_ASCII or -ENOMEM.
 */
static int alabel_to_ascii(const char *label, char **ret)
{
	_cleanup_(freep) char *ulabel = NULL;
	_cleanup_(freep) char *back = NULL;
	bool oom;
	int r;

	ulabel = alabel_decode(label, &oom);
	if (!ulabel)
		return oom ? -ENOMEM : URL_E_DOMAIN_TO_ASCII;
	if (!ulabel[0] || is_ascii(ulabel))
		return URL_E_DOMAIN_TO_ASCII;
	r = ulabel_to_ascii(ulabel, 0, &back);
	if (r)
		return r;
	if (strcmp(back, label))
		return URL_E_DOMAIN_TO_ASCII;
	*ret = strdup(label);
	return *ret ? 0 : -ENOMEM;
}

/* One label (n bytes, no separator) appended to out in ASCII form. */
static int label_to_ascii(const char *s, size_t n, UrlStr *out)
{
	_cleanup_(freep) char *label = NULL;
	_cleanup_(freep) char *ascii = NULL;
	bool ascii_only = true;
	int r;

	label = strndup(s, n);
	if (!label)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		if ((unsigned char)label[i] >= 0x80)
			ascii_only = false;
		else if (label[i] >= 'A' && label[i] <= 'Z')
			label[i] += 'a' - 'A';
	}
	/* The URL Standard's note on domain to ASCII: for an ASCII label not
	 * starting "xn--" UTS #46 (with these options) only lowercases. */
	if (ascii_only && !starts_with_xn(label))
		return url_str_append(out, label, n);
	if (ascii_only)
		r = alabel_to_ascii(label, &ascii);
	else
		r = ulabel_to_ascii(label, LABEL_MAY_BE_ALABEL, &ascii);
	if (r)
		return r;
	return url_str_append(out, ascii, strlen(ascii));
}

int url_idna_to_ascii(const char *domain, size_t len, char **ret)
{
	const unsigned char *d = (const unsigned char *)domain;
	_cleanup_(url_str_deinit) UrlStr out = URL_STR_INIT;
	size_t start = 0;
	int r;

	/* UTS #46 maps ASCII only by lowercasing, so a forbidden domain code
	 * point in the input is in the result too, where the URL Standard
	 * rejects it.  Rejecting it first gives the same answer and keeps NUL
	 * away from libidn2's C strings. */
	for (size_t i = 0; i < len; i++)
		if (is_forbidden_domain_byte(d[i]))
			return URL_E_DOMAIN_INVALID_CODE_POINT;

	for (size_t i = 0;; ) {
		size_t sep = i < len ? label_separator_len(d + i, len - i) : 0;

		if (i < len && !sep) {
			i++;
			continue;
		}
		if (i > start) {
			r = label_to_ascii(domain + start, i - start, &out);
			if (r)
				return r;
		}
		if (i >= len)
			break;
		r = url_str_putc(&out, '.');
		if (r)
			return r;
		i += sep;
		start = i;
	}

	/* The URL Standard's checks after UTS #46: mapping can produce
	 * forbidden code points (U+FF05 becomes "%"), or nothing at all. */
	if (out.len == 0)
		return URL_E_DOMAIN_TO_ASCII;
	for (size_t i = 0; i < out.len; i++)
		if (is_forbidden_domain_byte(out.data[i]))
			return URL_E_DOMAIN_INVALID_CODE_POINT;
	*ret = url_str_steal(&out);
	return *ret ? 0 : -ENOMEM;
}

int url_idna_to_unicode(const char *domain, char **ret)
{
	_cleanup_(url_str_deinit) UrlStr out = URL_STR_INIT;
	const char *s = domain;
	int r;

	for (;;) {
		size_t n = strcspn(s, ".");
		_cleanup_(freep) char *label = NULL;
		_cleanup_(freep) char *ulabel = NULL;

		bool oom = false;

		label = strndup(s, n);
		if (!label)
			return -ENOMEM;
		/* Labels that came out of url_idna_to_ascii() decode; keep
		 * anything else as it is, as UTS #46 ToUnicode does. */
		if (n >= 4 && starts_with_xn(label))
			ulabel = alabel_decode(label, &oom);
		if (oom)
			return -ENOMEM;
		if (ulabel)
			r = url_str_append(&out, ulabel, strlen(ulabel));
		else
			r = url_str_append(&out, label, n);
		if (r)
			return r;
		if (!s[n])
			break;
		r = url_str_putc(&out, '.');
		if (r)
			return r;
		s += n + 1;
	}
	*ret = url_str_steal(&out);
	return *ret ? 0 : -ENOMEM;
}
