/* SPDX-License-Identifier: MIT */
/* scenario_junit.h - `crosspost run --junit FILE`: the test points as JUnit
 * XML, one <testsuite> per scenario file, for CI systems. */
#ifndef CP_SCENARIO_JUNIT_H
#define CP_SCENARIO_JUNIT_H

#include <stdbool.h>
#include <stdint.h>

struct scenario_junit;

/* Errors: -ENOMEM. */
int junit_new(struct scenario_junit **ret);
struct scenario_junit *junit_free(struct scenario_junit *junit);

/* The points that follow belong to this file (a new <testsuite>). */
int junit_begin_file(struct scenario_junit *junit, const char *file);
/* The file ended after elapsed_ms; script_error: it could not run as
 * written (an <error> test case says so; the reason is on stderr). */
void junit_end_file(struct scenario_junit *junit, int64_t elapsed_ms, bool script_error);

/* A test point (struct scenario_tap's on_point). */
void junit_point(void *junit, bool ok, const char *description, const char *diag);

/* Writes the document to path.  Errors: negative errno. */
int junit_write(const struct scenario_junit *junit, const char *path);

#endif
