/* SPDX-License-Identifier: MIT */
/* scenario_junit.c - JUnit XML of a run's test points. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "scenario_junit.h"

struct point {
	char *name;
	char *diag;                 /* the YAML diagnostics of a failure, or NULL */
	bool ok;
};

struct suite {
	char *file;
	struct point *points;
	size_t count;
	int64_t elapsed_ms;
	bool script_error;
};

struct scenario_junit {
	struct suite *suites;
	size_t count;
};

int junit_new(struct scenario_junit **ret)
{
	*ret = calloc(1, sizeof(**ret));
	return *ret ? 0 : -ENOMEM;
}

struct scenario_junit *junit_free(struct scenario_junit *j)
{
	if (!j)
		return NULL;
	for (size_t i = 0; i < j->count; i++) {
		for (size_t k = 0; k < j->suites[i].count; k++) {
			free(j->suites[i].points[k].name);
			free(j->suites[i].points[k].diag);
		}
		free(j->suites[i].points);
		free(j->suites[i].file);
	}
	free(j->suites);
	free(j);
	return NULL;
}

int junit_begin_file(struct scenario_junit *j, const char *file)
{
	struct suite *v = realloc(j->suites, (j->count + 1) * sizeof(*v));

	if (!v)
		return -ENOMEM;
	j->suites = v;
	v[j->count] = (struct suite){ .file = strdup(file) };
	if (!v[j->count].file)
		return -ENOMEM;
	j->count++;
	return 0;
}

void junit_end_file(struct scenario_junit *j, int64_t elapsed_ms, bool script_error)
{
	if (!j->count)
		return;
	j->suites[j->count - 1].elapsed_ms = elapsed_ms;
	j->suites[j->count - 1].script_error = script_error;
}

void junit_point(void *userdata, bool ok, const char *description, const char *diag)
{
	struct scenario_junit *j = userdata;
	struct suite *s;
	struct point *v;

	if (!j->count)
		return;
	s = &j->suites[j->count - 1];
	v = realloc(s->points, (s->count + 1) * sizeof(*v));
	if (!v)
		return;
	s->points = v;
	v[s->count] = (struct point){ .name = strdup(description), .ok = ok,
				      .diag = !ok && diag ? strdup(diag) : NULL };
	if (v[s->count].name)
		s->count++;
}

/* XML text or attribute value: the five special characters escaped, and
 * control characters XML 1.0 does not allow written as '?'. */
static void put_escaped(FILE *f, const char *s)
{
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;

		switch (c) {
		case '&': fputs("&amp;", f); break;
		case '<': fputs("&lt;", f); break;
		case '>': fputs("&gt;", f); break;
		case '"': fputs("&quot;", f); break;
		case '\'': fputs("&apos;", f); break;
		default:
			if (c < 0x20 && c != '\n' && c != '\t' && c != '\r')
				fputc('?', f);
			else
				fputc(c, f);
		}
	}
}

int junit_write(const struct scenario_junit *j, const char *path)
{
	unsigned tests = 0, failures = 0, errors = 0;
	FILE *f = fopen(path, "w");

	if (!f)
		return -errno;
	for (size_t i = 0; i < j->count; i++) {
		tests += (unsigned)j->suites[i].count + j->suites[i].script_error;
		errors += j->suites[i].script_error;
		for (size_t k = 0; k < j->suites[i].count; k++)
			failures += !j->suites[i].points[k].ok;
	}
	fprintf(f, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
	fprintf(f, "<testsuites name=\"crosspost run\" tests=\"%u\" failures=\"%u\" errors=\"%u\">\n", tests, failures,
		errors);
	for (size_t i = 0; i < j->count; i++) {
		const struct suite *s = &j->suites[i];
		unsigned suite_failures = 0;

		for (size_t k = 0; k < s->count; k++)
			suite_failures += !s->points[k].ok;
		fputs("  <testsuite name=\"", f);
		put_escaped(f, s->file);
		fprintf(f, "\" tests=\"%zu\" failures=\"%u\" errors=\"%u\" time=\"%.3f\">\n", s->count + s->script_error,
			suite_failures, (unsigned)s->script_error, (double)s->elapsed_ms / 1000.0);
		for (size_t k = 0; k < s->count; k++) {
			const struct point *p = &s->points[k];

			fputs("    <testcase classname=\"", f);
			put_escaped(f, s->file);
			fputs("\" name=\"", f);
			put_escaped(f, p->name);
			if (p->ok) {
				fputs("\"/>\n", f);
				continue;
			}
			fputs("\">\n      <failure message=\"", f);
			put_escaped(f, p->name);
			fputs("\">", f);
			if (p->diag)
				put_escaped(f, p->diag);
			fputs("</failure>\n    </testcase>\n", f);
		}
		if (s->script_error) {
			fputs("    <testcase classname=\"", f);
			put_escaped(f, s->file);
			fputs("\" name=\"script\">\n      <error message=\"the script cannot run as written "
			      "(crosspost run says why on stderr)\"/>\n    </testcase>\n", f);
		}
		fputs("  </testsuite>\n", f);
	}
	fputs("</testsuites>\n", f);
	if (fclose(f) != 0)
		return -errno;
	return 0;
}
