/* SPDX-License-Identifier: MIT */
/* scenario_compare.c - `crosspost run --compare chromium`: the observations of a native and a browser run of one file, side by side, as TAP. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "scenario_compare.h"

struct known {
	char *key;                  /* "FILE:LINE" */
	char *reference;            /* "docs/differences.md#..." */
	bool seen;
	bool ran;                   /* its file was compared in this run */
};

struct side {
	json_t *points;             /* [{"name", "ok", "observed"}] in order */
	unsigned skip_line;         /* browser: the file was skipped from here (0: not) */
	char *skip_reason;
};

struct scenario_compare {
	struct known *known;
	size_t known_count;
	struct side sides[2];       /* native, browser */
	unsigned same, skipped, expected, unexplained;
};

static void side_reset(struct side *s)
{
	json_decref(s->points);
	s->points = json_array();
	s->skip_line = 0;
	free(s->skip_reason);
	s->skip_reason = NULL;
}

int scenario_compare_new(const char *known_path, struct scenario_compare **ret, char *errbuf, size_t errlen)
{
	struct scenario_compare *c = calloc(1, sizeof(*c));
	char line[1024];
	unsigned n = 0;
	FILE *f;

	if (!c)
		return -ENOMEM;
	side_reset(&c->sides[0]);
	side_reset(&c->sides[1]);
	*ret = c;
	if (!known_path)
		return 0;
	f = fopen(known_path, "r");
	if (!f) {
		snprintf(errbuf, errlen, "%s", strerror(errno));
		return -errno;
	}
	while (fgets(line, sizeof(line), f)) {
		char key[512], ref[512];
		struct known *k;

		n++;
		if (line[0] == '#' || strspn(line, " \t\r\n") == strlen(line))
			continue;
		if (sscanf(line, "%511s %511s", key, ref) != 2 || !strchr(key, ':') || !strchr(ref, '#')) {
			snprintf(errbuf, errlen, "line %u: want FILE:LINE and a docs/differences.md#SECTION", n);
			fclose(f);
			return -EINVAL;
		}
		k = realloc(c->known, (c->known_count + 1) * sizeof(*k));
		if (!k) {
			fclose(f);
			return -ENOMEM;
		}
		c->known = k;
		c->known[c->known_count++] = (struct known){ strdup(key), strdup(ref), false, false };
	}
	fclose(f);
	return 0;
}

void scenario_compare_begin(struct scenario_compare *c, const char *file)
{
	const char *base = strrchr(file, '/') ? strrchr(file, '/') + 1 : file;
	size_t n = strlen(base);

	for (size_t i = 0; i < c->known_count; i++)
		if (strncmp(c->known[i].key, base, n) == 0 && c->known[i].key[n] == ':')
			c->known[i].ran = true;
	side_reset(&c->sides[0]);
	side_reset(&c->sides[1]);
}

static void on_point(void *userdata, const char *point, bool ok, json_t *observation)
{
	struct side *s = userdata;

	json_array_append_new(s->points, json_pack("{s:s, s:b, s:O?}", "name", point, "ok", ok, "observed",
						   observation));
}

static void on_skip(void *userdata, unsigned line, const char *reason)
{
	struct side *s = userdata;

	s->skip_line = line;
	free(s->skip_reason);
	s->skip_reason = strdup(reason);
}

void scenario_compare_options(struct scenario_compare *c, bool browser, struct scenario_run_options *opt)
{
	opt->observe = on_point;
	opt->skipped = on_skip;
	opt->observe_data = &c->sides[browser ? 1 : 0];
}

void scenario_compare_write_native(struct scenario_compare *c, FILE *f)
{
	size_t i;
	json_t *p;

	json_array_foreach(c->sides[0].points, i, p) {
		char *line = json_dumps(p, JSON_COMPACT);

		if (line)
			fprintf(f, "%s\n", line);
		free(line);
	}
	fflush(f);
}

void scenario_compare_read_native(struct scenario_compare *c, FILE *f)
{
	json_error_t err;
	json_t *p;

	side_reset(&c->sides[0]);
	while ((p = json_loadf(f, JSON_DISABLE_EOF_CHECK, &err)))
		json_array_append_new(c->sides[0].points, p);
}

/* "FILE:LINE" of a point name "PATH/FILE:LINE ALIAS VERB". */
static void point_key(const char *name, char *buf, size_t size)
{
	const char *end = strchr(name, ' ');
	const char *start = name;
	size_t n;

	if (!end)
		end = name + strlen(name);
	for (const char *p = name; p < end; p++)
		if (*p == '/')
			start = p + 1;
	n = (size_t)(end - start);
	snprintf(buf, size, "%.*s", (int)n, start);
}

static unsigned point_line(const char *name)
{
	const char *end = strchr(name, ' '), *colon = NULL;

	for (const char *p = name; *p && (!end || p < end); p++)
		if (*p == ':')
			colon = p;
	return colon ? (unsigned)strtoul(colon + 1, NULL, 10) : 0;
}

static json_t *find_point(json_t *points, const char *name)
{
	size_t i;
	json_t *p;

	json_array_foreach(points, i, p)
		if (strcmp(json_string_value(json_object_get(p, "name")), name) == 0)
			return p;
	return NULL;
}

/* What a point saw: its observation, or whether it held. */
static json_t *seen(json_t *p)
{
	json_t *o = json_object_get(p, "observed");

	return o ? json_incref(o) : json_pack("{s:O}", "held", json_object_get(p, "ok"));
}

static char *dump(json_t *v)
{
	return v ? json_dumps(v, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENCODE_ANY) : strdup("\"no such point\"");
}

/* A difference at point name: known (expected, said so) or not (a
 * failed point).  Returns true when it is unexplained. */
static bool differ(struct scenario_compare *c, struct scenario_tap *tap, const char *name, json_t *a, json_t *b)
{
	struct known *k = NULL;
	char key[512], *desc = NULL, *ta, *tb;
	struct tap_diag diag;

	point_key(name, key, sizeof(key));
	for (size_t j = 0; j < c->known_count && !k; j++)
		if (strcmp(c->known[j].key, key) == 0)
			k = &c->known[j];
	ta = dump(a);
	tb = dump(b);
	tap_diag_init(&diag);
	tap_diag_json(&diag, 0, "crosspost", ta);
	tap_diag_json(&diag, 0, "chromium", tb);
	if (k) {
		k->seen = true;
		if (asprintf(&desc, "%s (known difference: %s)", name, k->reference) > 0)
			tap_point(tap, true, desc, NULL);
		tap_comment(tap, "  crosspost: %s", ta);
		tap_comment(tap, "  chromium:  %s", tb);
		c->expected++;
	} else {
		if (asprintf(&desc, "%s: crosspost and Chromium differ", name) > 0)
			tap_point(tap, false, desc, tap_diag_text(&diag));
		c->unexplained++;
	}
	tap_diag_deinit(&diag);
	free(desc);
	free(ta);
	free(tb);
	return k == NULL;
}

bool scenario_compare_report(struct scenario_compare *c, struct scenario_tap *tap)
{
	struct side *native = &c->sides[0], *browser = &c->sides[1];
	bool unexplained = false;
	size_t i;
	json_t *p;

	json_array_foreach(native->points, i, p) {
		const char *name = json_string_value(json_object_get(p, "name"));
		json_t *q = find_point(browser->points, name), *a = seen(p), *b = q ? seen(q) : NULL;
		char *desc = NULL;

		if (!q && browser->skip_line && point_line(name) >= browser->skip_line) {
			if (asprintf(&desc, "%s # SKIP in a browser: %s", name, browser->skip_reason) > 0)
				tap_point(tap, true, desc, NULL);
			c->skipped++;
			free(desc);
			json_decref(a);
			continue;
		}
		if (b && json_equal(a, b)) {
			tap_point(tap, true, name, NULL);
			c->same++;
			json_decref(a);
			json_decref(b);
			continue;
		}
		unexplained |= differ(c, tap, name, a, b);
		json_decref(a);
		json_decref(b);
	}
	/* Points only Chromium made: a statement that failed there alone. */
	json_array_foreach(browser->points, i, p) {
		const char *name = json_string_value(json_object_get(p, "name"));
		json_t *b;

		if (find_point(native->points, name))
			continue;
		b = seen(p);
		unexplained |= differ(c, tap, name, NULL, b);
		json_decref(b);
	}
	return unexplained;
}

void scenario_compare_summary(struct scenario_compare *c, struct scenario_tap *tap)
{
	for (size_t i = 0; i < c->known_count; i++)
		if (c->known[i].ran && !c->known[i].seen)
			tap_comment(tap, "known difference %s (%s) did not occur in this run", c->known[i].key,
				    c->known[i].reference);
	tap_comment(tap, "compared with Chromium: %u the same, %u known differences, %u unexplained, %u skipped "
		    "(not expressible in a browser)", c->same, c->expected, c->unexplained, c->skipped);
}

struct scenario_compare *scenario_compare_free(struct scenario_compare *c)
{
	if (!c)
		return NULL;
	for (size_t i = 0; i < c->known_count; i++) {
		free(c->known[i].key);
		free(c->known[i].reference);
	}
	free(c->known);
	for (size_t i = 0; i < 2; i++) {
		json_decref(c->sides[i].points);
		free(c->sides[i].skip_reason);
	}
	free(c);
	return NULL;
}
