/* SPDX-License-Identifier: MIT */
/* url_idna.h - the URL Standard's "domain to ASCII" and "domain to Unicode" (UTS #46) on libidn2. */
#ifndef CP_URL_IDNA_H
#define CP_URL_IDNA_H

#include <stddef.h>

/*
 * Domain to ASCII with beStrict false: UTS #46 ToASCII with CheckHyphens=false,
 * CheckBidi=true, CheckJoiners=true, UseSTD3ASCIIRules=false,
 * Transitional_Processing=false, VerifyDnsLength=false, then the URL
 * Standard's own checks (result not empty, no forbidden domain code point).
 * domain is len bytes of well-formed UTF-8 (it may contain NUL).  On success
 * *ret receives the malloc'd ASCII domain (caller frees).  Returns 0,
 * URL_E_DOMAIN_TO_ASCII, URL_E_DOMAIN_INVALID_CODE_POINT or -ENOMEM.
 * docs/origins.md lists where libidn2 falls short of UTS #46 and what this
 * module does about it.
 */
int url_idna_to_ascii(const char *domain, size_t len, char **ret);

/*
 * Domain to Unicode, for display: each "xn--" label of the ASCII domain
 * (as url_idna_to_ascii() returns it) decoded from Punycode; labels that do
 * not decode are kept as they are.  *ret is malloc'd (caller frees).
 * Returns 0 or -ENOMEM.
 */
int url_idna_to_unicode(const char *domain, char **ret);

#endif
