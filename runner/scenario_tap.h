/* SPDX-License-Identifier: MIT */
/* scenario_tap.h - TAP version 13 output of `crosspost run`: test points, YAML diagnostics, the plan. */
#ifndef CP_SCENARIO_TAP_H
#define CP_SCENARIO_TAP_H

#include <stdbool.h>
#include <stdio.h>

struct scenario_tap {
	FILE *out;
	unsigned count;             /* test points so far */
	unsigned failed;            /* of which not ok */
	/* Called with every test point as it is printed (--junit), when set. */
	void (*on_point)(void *userdata, bool ok, const char *description, const char *diag);
	void *on_point_data;
};

/* Starts the stream ("TAP version 13"). */
void tap_init(struct scenario_tap *tap, FILE *out);

/* "# ..." */
void tap_comment(struct scenario_tap *tap, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* One test point.  diag, when non-NULL, is YAML (lines without the
 * leading two spaces), printed between "---" and "...". */
void tap_point(struct scenario_tap *tap, bool ok, const char *description, const char *diag);

/* Ends the stream with the plan "1..N" and the summary comment
 * "# P passed, F failed". */
void tap_plan(struct scenario_tap *tap);

/* Builds the YAML of one test point's diagnostics. */
struct tap_diag {
	char *text;
	size_t len;
	FILE *f;
};

/* Starts an empty document; false when out of memory. */
bool tap_diag_init(struct tap_diag *d);
/* key: "value" (JSON-quoted, which YAML reads as a string); NULL prints null. */
void tap_diag_string(struct tap_diag *d, int indent, const char *key, const char *value);
/* key: JSON (a flow value; JSON is YAML) as given; NULL prints null. */
void tap_diag_json(struct tap_diag *d, int indent, const char *key, const char *json);
/* key: followed by nested keys at a deeper indent. */
void tap_diag_section(struct tap_diag *d, int indent, const char *key);
/* The document (borrowed until tap_diag_deinit()); NULL when out of memory. */
const char *tap_diag_text(struct tap_diag *d);
void tap_diag_deinit(struct tap_diag *d);

#endif
