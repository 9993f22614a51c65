/* SPDX-License-Identifier: MIT */
/* check_urltestdata.c - the web-platform-tests URL cases against origin_from_url(). */
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "origin.h"

/*
 * Every entry of urltestdata.json with an "origin" key must parse (against
 * its base) to an origin serializing to exactly that; every entry with
 * "failure": true must fail.  Other entries say nothing about origins and
 * are skipped.  The file is found in $CROSSPOST_CONFORMANCE_DIR, else in
 * tests/data/ of the repository (tests run from its root; tests/data/README.md
 * says where the copy comes from).  Strings go through the C API with their lengths: some
 * inputs hold U+0000.
 */

#define DEFAULT_CONFORMANCE_DIR "tests/data"

/* Prints s with anything outside printable ASCII escaped, so failures with
 * control characters or NULs stay readable on one line. */
static void print_escaped(FILE *out, const char *s, size_t len)
{
	fputc('"', out);
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c == '"' || c == '\\')
			fprintf(out, "\\%c", c);
		else if (c >= 0x20 && c < 0x7F)
			fputc(c, out);
		else
			fprintf(out, "\\x%02x", c);
	}
	fputc('"', out);
}

static void print_field(FILE *out, const char *name, json_t *value)
{
	fprintf(out, "  %s: ", name);
	if (json_is_string(value))
		print_escaped(out, json_string_value(value), json_string_length(value));
	else
		fputs("null", out);
	fputc('\n', out);
}

/* Runs one entry; returns 1 if it passed, 0 if it failed, -1 if it says
 * nothing about origins. */
static int run_entry(json_t *entry)
{
	json_t *input = json_object_get(entry, "input");
	json_t *base = json_object_get(entry, "base");
	json_t *expected = json_object_get(entry, "origin");
	bool want_failure = json_is_true(json_object_get(entry, "failure"));
	const char *reason = NULL, *got;
	Origin *origin = NULL;
	bool pass;
	int r;

	if (!want_failure && !json_is_string(expected))
		return -1;
	if (!json_is_string(input)) {
		fprintf(stdout, "FAIL malformed entry (no input)\n");
		return 0;
	}
	r = origin_from_url(json_string_value(input), json_string_length(input),
			    json_is_string(base) ? json_string_value(base) : NULL,
			    json_is_string(base) ? json_string_length(base) : 0, &origin, &reason);
	if (r == -ENOMEM) {
		fprintf(stderr, "out of memory\n");
		exit(EXIT_FAILURE);
	}
	got = r == 0 ? origin_serialization(origin) : "failure";
	if (want_failure)
		pass = r == -EINVAL;
	else
		pass = r == 0 && strcmp(got, json_string_value(expected)) == 0;
	if (!pass) {
		fprintf(stdout, "FAIL\n");
		print_field(stdout, "input", input);
		print_field(stdout, "base", base);
		if (want_failure)
			fprintf(stdout, "  expected: failure\n");
		else
			print_field(stdout, "expected", expected);
		fprintf(stdout, "  got: ");
		print_escaped(stdout, got, strlen(got));
		if (r != 0 && reason)
			fprintf(stdout, " (%s)", reason);
		fputc('\n', stdout);
	}
	origin_free(origin);
	return pass;
}

int main(void)
{
	const char *dir = getenv("CROSSPOST_CONFORMANCE_DIR");
	char path[4096];
	json_error_t error;
	json_t *tests, *entry;
	size_t i;
	unsigned passed = 0, failed = 0;

	if (!dir || !*dir)
		dir = DEFAULT_CONFORMANCE_DIR;
	snprintf(path, sizeof(path), "%s/urltestdata.json", dir);
	tests = json_load_file(path, JSON_ALLOW_NUL, &error);
	if (!tests || !json_is_array(tests)) {
		fprintf(stdout, "cannot load %s: %s\n", path, tests ? "not a JSON array" : error.text);
		fprintf(stdout, "0 passed, 1 failed\n");
		json_decref(tests);
		return EXIT_FAILURE;
	}
	json_array_foreach(tests, i, entry) {
		int r;

		if (!json_is_object(entry))
			continue;	/* comments */
		r = run_entry(entry);
		if (r > 0)
			passed++;
		else if (r == 0)
			failed++;
	}
	json_decref(tests);
	fprintf(stdout, "%u passed, %u failed\n", passed, failed);
	return failed == 0 && passed > 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
