/* SPDX-License-Identifier: MIT */
/* fuzz_value_json.c - libFuzzer harness: cp_value_from_json() on any text, and round trips of what it reads. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crosspost.h"
#include "value_codec.h"

/*
 * The bytes are a DATA token as a scenario file or `crosspost post` gives
 * it.  Every run checks (abort() on violation):
 *
 *  - reading fails with CP_ERR_SYNTAX (or CP_ERR_NO_MEMORY), or gives a
 *    value; with ret_end, the end lies within the text;
 *  - the value prints as JSON that reads back to an equal value and
 *    prints identically;
 *  - unless it holds a host object (then encoding fails with
 *    CP_ERR_DATA_CLONE), it encodes, and decodes to an equal value.
 */

#define CHECK(cond)                                                                           \
	do {                                                                                  \
		if (!(cond)) {                                                                \
			fprintf(stderr, "fuzz_value_json: check failed: %s (line %d): %s\n", #cond, \
				__LINE__, cp_last_error_message());                           \
			abort();                                                              \
		}                                                                             \
	} while (0)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	cp_value *v = NULL, *j = NULL, *w = NULL;
	uint8_t *bytes = NULL;
	size_t len = 0, end = 0;
	char *text, *text2;
	int r;

	r = cp_value_from_json((const char *)data, size, &end, &v);
	if (r == 0) {
		CHECK(end <= size);
		cp_value_free(v);
		v = NULL;
	}
	r = cp_value_from_json((const char *)data, size, NULL, &v);
	if (r < 0) {
		CHECK(r == CP_ERR_SYNTAX || r == CP_ERR_NO_MEMORY);
		CHECK(v == NULL);
		return 0;
	}
	text = cp_value_to_json(v);
	CHECK(text);
	CHECK(cp_value_from_json(text, strlen(text), NULL, &j) == 0);
	CHECK(cp_value_equal(v, j));
	text2 = cp_value_to_json(j);
	CHECK(text2 && strcmp(text, text2) == 0);
	r = value_encode(v, &bytes, &len);
	if (r == 0) {
		CHECK(value_decode(bytes, len, &w) == 0);
		CHECK(cp_value_equal(v, w));
	} else {
		CHECK(r == CP_ERR_DATA_CLONE && strstr(text, "\"$host\""));
	}
	free(text);
	free(text2);
	free(bytes);
	cp_value_free(w);
	cp_value_free(j);
	cp_value_free(v);
	return 0;
}
