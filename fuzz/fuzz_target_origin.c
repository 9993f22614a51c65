/* SPDX-License-Identifier: MIT */
/* fuzz_target_origin.c - libFuzzer harness: the canonical-form shortcut of
 * target_origin_parse() against the full URL parse. */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "origin.h"
#include "target_origin.h"

/*
 * The bytes are a targetOrigin spec.  The broker and libcrosspost take a
 * shortcut for specs already in an origin's serialized form; the answer
 * must be exactly the full parse's (abort() otherwise):
 *  - both succeed or both fail with the same error;
 *  - on success, both serialize to the same text, and both match (or do
 *    not match) the same windows: windows at fixed origins, an opaque one,
 *    and a window at the spec's own origin (when the spec parses).
 */

#define CHECK(cond)                                                                              \
	do {                                                                                     \
		if (!(cond)) {                                                                   \
			fprintf(stderr, "fuzz_target_origin: check failed: %s (line %d)\n", #cond, \
				__LINE__);                                                       \
			abort();                                                                 \
		}                                                                                \
	} while (0)

static const char *const window_urls[] = {
	"https://a.example/", "http://a.example/", "https://a.example:8443/", "http://127.0.0.1/",
	"http://[::1]:8080/", "https://xn--e1afmkfd.xn--p1ai/", "ws://a.example/", "ftp://a.example:2121/",
	"http://0x7f.1/", "https://a.example./",
};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	Origin *windows[sizeof(window_urls) / sizeof(window_urls[0]) + 2] = { 0 };
	size_t n_windows = 0;
	TargetOrigin fast = { 0 }, full = { 0 };
	const char *reason = NULL;
	char *spec = malloc(size + 1);
	int r_fast, r_full;

	if (!spec)
		return 0;
	memcpy(spec, data, size);
	spec[size] = '\0';
	for (size_t i = 0; i < sizeof(window_urls) / sizeof(window_urls[0]); i++)
		if (origin_from_url(window_urls[i], strlen(window_urls[i]), NULL, 0, &windows[n_windows],
				    &reason) == 0)
			n_windows++;
	windows[n_windows] = origin_new_opaque();
	if (windows[n_windows])
		n_windows++;
	if (origin_from_url(spec, size, NULL, 0, &windows[n_windows], &reason) == 0)
		n_windows++;

	r_fast = target_origin_parse(&fast, spec, size, windows[0], &reason);
	r_full = target_origin_parse_full(&full, spec, size, windows[0], &reason);
	CHECK(r_fast == r_full || r_fast == -ENOMEM || r_full == -ENOMEM);
	if (r_fast == 0 && r_full == 0) {
		CHECK(strcmp(target_origin_serialization(&fast), target_origin_serialization(&full)) == 0);
		for (size_t i = 0; i < n_windows; i++)
			CHECK(target_origin_matches(&fast, windows[i]) == target_origin_matches(&full, windows[i]));
	}
	if (r_fast == 0)
		target_origin_deinit(&fast);
	if (r_full == 0)
		target_origin_deinit(&full);
	for (size_t i = 0; i < n_windows; i++)
		origin_free(windows[i]);
	free(spec);
	return 0;
}
