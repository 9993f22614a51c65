/* SPDX-License-Identifier: MIT */
/* fuzz_origin.c - libFuzzer harness: origin_from_url() on any bytes, and its round-trip properties. */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "origin.h"

/*
 * The fuzzer's bytes are INPUT, or INPUT 0xFF BASE: 0xFF never occurs in
 * well-formed UTF-8, so it is the one byte that cannot take anything
 * interesting away from either half.  Beyond "no crash, no sanitizer
 * report, no timeout", every run checks (abort() on violation):
 *
 *  - parsing either succeeds with an origin or fails with -EINVAL and a
 *    reason;
 *  - an opaque origin serializes as "null" and is same-origin with itself
 *    and its copy, not with a new opaque origin;
 *  - a tuple origin's serialization parses again (no base) to a tuple
 *    origin that is same-origin with it and serializes identically;
 *  - so does its Unicode serialization (domain to Unicode, then to ASCII,
 *    gives the host back).
 */

#define CHECK(cond)                                                                       \
	do {                                                                              \
		if (!(cond)) {                                                            \
			fprintf(stderr, "fuzz_origin: check failed: %s (line %d)\n", #cond, \
				__LINE__);                                                \
			abort();                                                          \
		}                                                                         \
	} while (0)

static void print_bytes(const char *what, const char *s, size_t n)
{
	fprintf(stderr, "%s: \"", what);
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c >= 0x20 && c < 0x7F && c != '"' && c != '\\')
			fputc(c, stderr);
		else
			fprintf(stderr, "\\x%02x", c);
	}
	fprintf(stderr, "\"\n");
}

/* Parses text (no base), which must give a tuple origin equal to want. */
static void check_reparse(const Origin *want, const char *text)
{
	const char *reason = NULL;
	Origin *again = NULL;
	int r;

	r = origin_from_url(text, strlen(text), NULL, 0, &again, &reason);
	if (r != 0) {
		print_bytes("origin", origin_serialization(want), strlen(origin_serialization(want)));
		print_bytes("reparsed", text, strlen(text));
		fprintf(stderr, "fails: %s\n", reason ? reason : "(no reason)");
	}
	CHECK(r == 0);
	if (origin_is_opaque(again) || !origin_same(want, again) ||
	    strcmp(origin_serialization(want), origin_serialization(again)) != 0) {
		print_bytes("origin", origin_serialization(want), strlen(origin_serialization(want)));
		print_bytes("reparsed", text, strlen(text));
		print_bytes("gives", origin_serialization(again), strlen(origin_serialization(again)));
	}
	CHECK(!origin_is_opaque(again));
	CHECK(origin_same(want, again));
	CHECK(strcmp(origin_serialization(want), origin_serialization(again)) == 0);
	origin_free(again);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const uint8_t *sep = memchr(data, 0xFF, size);
	const char *input = (const char *)data;
	size_t input_len = sep ? (size_t)(sep - data) : size;
	const char *base = sep ? (const char *)sep + 1 : NULL;
	size_t base_len = sep ? size - input_len - 1 : 0;
	const char *reason = NULL;
	Origin *origin = NULL, *copy;
	char *display;
	int r;

	r = origin_from_url(input, input_len, base, base_len, &origin, &reason);
	if (r == -ENOMEM)
		return 0;
	if (r == -EINVAL) {
		CHECK(reason != NULL);
		CHECK(origin == NULL);
		return 0;
	}
	CHECK(r == 0);
	CHECK(origin != NULL);

	copy = origin_copy(origin);
	CHECK(copy != NULL);
	CHECK(origin_same(origin, origin));
	CHECK(origin_same(origin, copy) && origin_same(copy, origin));

	if (origin_is_opaque(origin)) {
		Origin *other = origin_new_opaque();

		CHECK(other != NULL);
		CHECK(strcmp(origin_serialization(origin), "null") == 0);
		CHECK(!origin_same(origin, other));
		origin_free(other);
	} else {
		check_reparse(origin, origin_serialization(origin));
		display = origin_unicode_serialization(origin);
		CHECK(display != NULL);
		check_reparse(origin, display);
		free(display);
	}
	origin_free(copy);
	origin_free(origin);
	return 0;
}
