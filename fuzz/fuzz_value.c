/* SPDX-License-Identifier: MIT */
/* fuzz_value.c - libFuzzer harness: value_decode() on untrusted bytes, and what a decoded value must satisfy. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crosspost.h"
#include "value_codec.h"
#include "value_transfer.h"

/*
 * The bytes are a payload as a receiving window gets it.  Beyond "no
 * crash, no sanitizer report, no leak, no timeout", every run checks
 * (abort() on violation):
 *
 *  - decoding fails with CP_ERR_DATA (or CP_ERR_NO_MEMORY), or gives a
 *    value;
 *  - a decoded value encodes again, and that decodes to an equal value
 *    (structured equality: same contents, same sharing shape);
 *  - its clone is equal to it;
 *  - its tagged JSON reads back to an equal value, unless nested deeper
 *    than jansson reads (the documented limit), and equal values print
 *    the same JSON.
 */

#define CHECK(cond)                                                                      \
	do {                                                                             \
		if (!(cond)) {                                                           \
			fprintf(stderr, "fuzz_value: check failed: %s (line %d): %s\n", #cond, \
				__LINE__, cp_last_error_message());                      \
			abort();                                                         \
		}                                                                        \
	} while (0)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	cp_value *v = NULL, *w = NULL, *c, *j = NULL;
	uint8_t *bytes = NULL;
	size_t len = 0;
	char *text, *text2;
	int r;

	r = value_decode(data, size, &v);
	{
		/* The same bytes in a block the decoder may keep (a received
		 * payload's path): the same answer, and the block freed once,
		 * by whoever holds it. */
		uint8_t *block = malloc(size ? size : 1);
		cp_value *b = NULL;
		int rb;

		CHECK(block);
		memcpy(block, data, size);
		rb = value_decode_block(&block, size, NULL, 0, NULL, 0, &b);
		CHECK((rb < 0) == (r < 0));
		CHECK(rb < 0 || cp_value_equal(b, v));
		cp_value_free(b);
		free(block);
	}
	if (r < 0) {
		CHECK(r == CP_ERR_DATA || r == CP_ERR_NO_MEMORY);
		CHECK(v == NULL);
		return 0;
	}
	CHECK(value_encode(v, &bytes, &len) == 0);
	CHECK(value_decode(bytes, len, &w) == 0);
	CHECK(cp_value_equal(v, w));
	CHECK(cp_value_equal(w, v));
	{
		/* Re-encoded (large buffers aligned now): decoded where it lies. */
		uint8_t *block = malloc(len ? len : 1);
		cp_value *b = NULL;

		CHECK(block);
		memcpy(block, bytes, len);
		CHECK(value_decode_block(&block, len, NULL, 0, NULL, 0, &b) == 0);
		CHECK(cp_value_equal(b, v));
		cp_value_free(b);
		free(block);
	}
	c = cp_value_clone(v);
	CHECK(c && cp_value_equal(c, v));

	text = cp_value_to_json(v);
	CHECK(text);
	r = cp_value_from_json(text, strlen(text), NULL, &j);
	if (r == 0) {
		CHECK(cp_value_equal(v, j));
		text2 = cp_value_to_json(j);
		CHECK(text2 && strcmp(text, text2) == 0);
		free(text2);
	} else {
		CHECK(r == CP_ERR_SYNTAX && strstr(cp_last_error_message(), "depth"));
	}
	free(text);
	free(bytes);
	cp_value_free(j);
	cp_value_free(c);
	cp_value_free(w);
	cp_value_free(v);
	return 0;
}
