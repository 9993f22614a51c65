/* SPDX-License-Identifier: MIT */
/* scenario_compare.h - `crosspost run --compare chromium`: the observations of a native and a browser run of one file, side by side, as TAP. */
#ifndef CP_SCENARIO_COMPARE_H
#define CP_SCENARIO_COMPARE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "scenario_run.h"
#include "scenario_tap.h"

struct scenario_compare;

/* A comparison; known_path (may be NULL) lists the expected differences:
 * one "FILE:LINE REFERENCE" per line (FILE without its folder, REFERENCE
 * the docs/differences.md section that explains it), '#' comments.  *ret
 * belongs to the caller.  Errors: -ENOMEM, a negative errno reading the
 * file, -EINVAL for a malformed line (errbuf says which). */
int scenario_compare_new(const char *known_path, struct scenario_compare **ret, char *errbuf, size_t errlen);

/* Starts a file: forgets the last one's observations. */
void scenario_compare_begin(struct scenario_compare *c, const char *file);

/* Sets opt's callbacks so that a run's points go to the native
 * (browser false) or the browser side. */
void scenario_compare_options(struct scenario_compare *c, bool browser, struct scenario_run_options *opt);

/* Observations of the native side made elsewhere (a child process that
 * ran it while the browser ran the same file): JSON lines read from f. */
void scenario_compare_write_native(struct scenario_compare *c, FILE *f);
void scenario_compare_read_native(struct scenario_compare *c, FILE *f);

/* Prints one point per native point of the file: ok when Chromium
 * observed the same, ok with "# SKIP" past a statement the browser could
 * not express, "# known difference" for one the list expects, not ok
 * otherwise (with both observations).  Returns true when some difference
 * is unexplained. */
bool scenario_compare_report(struct scenario_compare *c, struct scenario_tap *tap);

/* A comment per known difference that did not occur (the list may be
 * stale), and the totals. */
void scenario_compare_summary(struct scenario_compare *c, struct scenario_tap *tap);

struct scenario_compare *scenario_compare_free(struct scenario_compare *c);

#endif
