/* SPDX-License-Identifier: MIT */
/* url_str.h - growable byte strings and UTF-8 checks for the URL modules. */
#ifndef CP_URL_STR_H
#define CP_URL_STR_H

#include <stdbool.h>
#include <stddef.h>

/* A byte string that may hold NUL bytes; data is NUL-terminated after any
 * successful append, so ASCII results can be handed out as C strings. */
typedef struct UrlStr {
	char *data;
	size_t len;
	size_t cap;
} UrlStr;

#define URL_STR_INIT { .data = NULL }

/* Each returns 0 or -ENOMEM (s is unchanged on failure). */
int url_str_append(UrlStr *s, const void *bytes, size_t n);
int url_str_putc(UrlStr *s, char c);
/* Appends "%XX" (uppercase hex), the URL Standard's percent-encoded byte. */
int url_str_put_pct(UrlStr *s, unsigned char byte);

/* Hands the buffer over ("" when nothing was appended; NULL when out of
 * memory) and leaves s empty.  Caller frees. */
char *url_str_steal(UrlStr *s);
void url_str_deinit(UrlStr *s);

/* The UTF-8 sequence at s (n > 0 bytes available) as the Encoding Standard's
 * UTF-8 decoder sees it: returns its length when well-formed, else 0 with
 * *ret_bad set to the number of bytes (at least 1) that decode to a single
 * U+FFFD before decoding resumes. */
size_t url_utf8_next(const unsigned char *s, size_t n, size_t *ret_bad);

/* True when all n bytes are well-formed UTF-8. */
bool url_utf8_valid(const char *s, size_t n);

#endif
