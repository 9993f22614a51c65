/* SPDX-License-Identifier: MIT */
/* fuzz_target_origin.c - libFuzzer harness: the canonical-form shortcut of
 * target_origin_parse() against the full URL parse. */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "origin.h"
#include "target_origin.h"

/*
 * The bytes are a targetOrigin spec.  The broker and libcrosspost take
 * shortcuts: a spec already in an origin's serialized form
 * (target_origin_parse()), and in crosspostd a spec equal to the target
 * window's serialization (target_origin_parse_expecting(), tried with each
 * window below as the target).  The answer must be exactly the full
 * parse's (abort() otherwise):
 *  - both succeed or both fail with the same error;
 *  - on success, both serialize to the same text, and both match (or do
 *    not match) the same windows: windows at fixed origins, an opaque one,
 *    and a window at the spec's own origin (when the spec parses).
 * When the spec parses as a URL, its origin's serialization goes through
 * the same checks too, so the second shortcut is taken on every such
 * input: it rests on a serialization parsing back to its origin.
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

/* shortcut's answer (r_fast, fast) against the full parse's of spec. */
static void check_same(int r_fast, TargetOrigin *fast, const char *spec, size_t len, Origin *const *windows,
		       size_t n_windows)
{
	TargetOrigin full = { 0 };
	const char *reason = NULL;
	int r_full = target_origin_parse_full(&full, spec, len, windows[0], &reason);

	CHECK(r_fast == r_full || r_fast == -ENOMEM || r_full == -ENOMEM);
	if (r_fast == 0 && r_full == 0) {
		CHECK(strcmp(target_origin_serialization(fast), target_origin_serialization(&full)) == 0);
		for (size_t i = 0; i < n_windows; i++)
			CHECK(target_origin_matches(fast, windows[i]) == target_origin_matches(&full, windows[i]));
	}
	if (r_fast == 0)
		target_origin_deinit(fast);
	if (r_full == 0)
		target_origin_deinit(&full);
}

/* Both shortcuts for spec, with each window as the target. */
static void check_spec(const char *spec, size_t len, Origin *const *windows, size_t n_windows)
{
	const char *reason = NULL;
	TargetOrigin fast = { 0 };
	int r;

	r = target_origin_parse(&fast, spec, len, windows[0], &reason);
	check_same(r, &fast, spec, len, windows, n_windows);
	for (size_t i = 0; i < n_windows; i++) {
		fast = (TargetOrigin){ 0 };
		r = target_origin_parse_expecting(&fast, spec, len, windows[0], windows[i], &reason);
		check_same(r, &fast, spec, len, windows, n_windows);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	Origin *windows[sizeof(window_urls) / sizeof(window_urls[0]) + 2] = { 0 };
	size_t n_windows = 0;
	const char *reason = NULL;
	char *spec = malloc(size + 1);
	bool own;

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
	own = origin_from_url(spec, size, NULL, 0, &windows[n_windows], &reason) == 0;
	if (own)
		n_windows++;

	check_spec(spec, size, windows, n_windows);
	if (own) {
		const char *serialized = origin_serialization(windows[n_windows - 1]);

		check_spec(serialized, strlen(serialized), windows, n_windows);
	}
	for (size_t i = 0; i < n_windows; i++)
		origin_free(windows[i]);
	free(spec);
	return 0;
}
