/* SPDX-License-Identifier: MIT */
/* scenario_tap.c - TAP version 13 output of `crosspost run`: test points, YAML diagnostics, the plan. */
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "scenario_tap.h"

void tap_init(struct scenario_tap *tap, FILE *out)
{
	*tap = (struct scenario_tap){ .out = out };
	fprintf(out, "TAP version 13\n");
	fflush(out);
}

void tap_comment(struct scenario_tap *tap, const char *fmt, ...)
{
	va_list ap;

	fputs("# ", tap->out);
	va_start(ap, fmt);
	vfprintf(tap->out, fmt, ap);
	va_end(ap);
	fputc('\n', tap->out);
	fflush(tap->out);
}

void tap_point(struct scenario_tap *tap, bool ok, const char *description, const char *diag)
{
	tap->count++;
	if (!ok)
		tap->failed++;
	fprintf(tap->out, "%s %u - %s\n", ok ? "ok" : "not ok", tap->count, description);
	if (diag && *diag) {
		const char *line = diag;

		fputs("  ---\n", tap->out);
		while (*line) {
			const char *nl = strchr(line, '\n');
			size_t n = nl ? (size_t)(nl - line) : strlen(line);

			fprintf(tap->out, "  %.*s\n", (int)n, line);
			line += n + (nl ? 1 : 0);
		}
		fputs("  ...\n", tap->out);
	}
	fflush(tap->out);
	if (tap->on_point)
		tap->on_point(tap->on_point_data, ok, description, diag);
}

void tap_plan(struct scenario_tap *tap)
{
	fprintf(tap->out, "1..%u\n", tap->count);
	fprintf(tap->out, "# %u passed, %u failed\n", tap->count - tap->failed, tap->failed);
	fflush(tap->out);
}

bool tap_diag_init(struct tap_diag *d)
{
	*d = (struct tap_diag){ 0 };
	d->f = open_memstream(&d->text, &d->len);
	return d->f != NULL;
}

void tap_diag_string(struct tap_diag *d, int indent, const char *key, const char *value)
{
	json_t *j;
	char *quoted;

	if (!d->f)
		return;
	if (!value) {
		fprintf(d->f, "%*s%s: null\n", indent, "", key);
		return;
	}
	j = json_string(value);
	quoted = j ? json_dumps(j, JSON_ENCODE_ANY) : NULL;
	/* Only a string that is not UTF-8 has no JSON form. */
	fprintf(d->f, "%*s%s: %s\n", indent, "", key, quoted ? quoted : "\"(not UTF-8)\"");
	free(quoted);
	json_decref(j);
}

void tap_diag_json(struct tap_diag *d, int indent, const char *key, const char *json)
{
	if (d->f)
		fprintf(d->f, "%*s%s: %s\n", indent, "", key, json ? json : "null");
}

void tap_diag_section(struct tap_diag *d, int indent, const char *key)
{
	if (d->f)
		fprintf(d->f, "%*s%s:\n", indent, "", key);
}

const char *tap_diag_text(struct tap_diag *d)
{
	if (!d->f || fflush(d->f) != 0)
		return NULL;
	return d->text;
}

void tap_diag_deinit(struct tap_diag *d)
{
	if (d->f)
		fclose(d->f);
	free(d->text);
	*d = (struct tap_diag){ 0 };
}
