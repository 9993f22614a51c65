/* SPDX-License-Identifier: MIT */
/* url_error.h - why a URL failed to parse: the URL Standard's failure-causing validation errors. */
#ifndef CP_URL_ERROR_H
#define CP_URL_ERROR_H

/*
 * The URL modules (url.c, url_host.c, url_idna.c) return 0 on success, a
 * negative errno for system failures (only -ENOMEM), or one of these small
 * positive codes when the input is not a URL.  Each names the validation
 * error the URL Standard raises at the step that returns failure
 * (https://url.spec.whatwg.org/#validation-error-index), so a reason can be
 * looked up in the standard.
 *
 * X(ENUM, spec name, English description)
 */
#define URL_ERRORS(X) \
	X(MISSING_SCHEME_NON_RELATIVE, "missing-scheme-non-relative-URL", \
	  "no scheme, and no base URL it could be relative to") \
	X(HOST_MISSING, "host-missing", "the URL needs a host and has none") \
	X(PORT_OUT_OF_RANGE, "port-out-of-range", "the port is greater than 65535") \
	X(PORT_INVALID, "port-invalid", "the port is not a decimal number") \
	X(HOST_INVALID_CODE_POINT, "host-invalid-code-point", \
	  "the host contains a forbidden host code point") \
	X(DOMAIN_INVALID_CODE_POINT, "domain-invalid-code-point", \
	  "the host contains a forbidden domain code point") \
	X(DOMAIN_TO_ASCII, "domain-to-ASCII", \
	  "the host is not a valid internationalized domain name (UTS #46)") \
	X(IPV4_TOO_MANY_PARTS, "IPv4-too-many-parts", "the IPv4 address has more than four parts") \
	X(IPV4_NON_NUMERIC_PART, "IPv4-non-numeric-part", \
	  "the host ends in a number but is not an IPv4 address") \
	X(IPV4_OUT_OF_RANGE_PART, "IPv4-out-of-range-part", "a part of the IPv4 address is too large") \
	X(IPV6_UNCLOSED, "IPv6-unclosed", "the IPv6 address is missing its closing ']'") \
	X(IPV6_INVALID_COMPRESSION, "IPv6-invalid-compression", \
	  "the IPv6 address starts with a single ':'") \
	X(IPV6_TOO_MANY_PIECES, "IPv6-too-many-pieces", "the IPv6 address has more than eight pieces") \
	X(IPV6_MULTIPLE_COMPRESSION, "IPv6-multiple-compression", \
	  "the IPv6 address contains '::' more than once") \
	X(IPV6_INVALID_CODE_POINT, "IPv6-invalid-code-point", \
	  "the IPv6 address contains an invalid character or ends in ':'") \
	X(IPV6_TOO_FEW_PIECES, "IPv6-too-few-pieces", "the IPv6 address has fewer than eight pieces") \
	X(IPV4_IN_IPV6_TOO_MANY_PIECES, "IPv4-in-IPv6-too-many-pieces", \
	  "the IPv6 address has too many pieces before its embedded IPv4 address") \
	X(IPV4_IN_IPV6_INVALID_CODE_POINT, "IPv4-in-IPv6-invalid-code-point", \
	  "the IPv4 address embedded in the IPv6 address is malformed") \
	X(IPV4_IN_IPV6_OUT_OF_RANGE_PART, "IPv4-in-IPv6-out-of-range-part", \
	  "a part of the IPv4 address embedded in the IPv6 address is greater than 255") \
	X(IPV4_IN_IPV6_TOO_FEW_PARTS, "IPv4-in-IPv6-too-few-parts", \
	  "the IPv4 address embedded in the IPv6 address has fewer than four parts")

enum {
	_URL_E_NONE = 0,
#define URL_ERROR_ENUM(e, name, text) URL_E_##e,
	URL_ERRORS(URL_ERROR_ENUM)
#undef URL_ERROR_ENUM
	_URL_E_MAX,
};

/* "DESCRIPTION (spec-name)" for a positive code, static; a generic text for
 * anything else. */
const char *url_strerror(int code);

/* The same prefixed with "invalid base URL: ", for failures of the base. */
const char *url_strerror_base(int code);

#endif
