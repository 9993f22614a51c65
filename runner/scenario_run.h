/* SPDX-License-Identifier: MIT */
/* scenario_run.h - executes one parsed scenario against a broker: window processes, statements, expectations. */
#ifndef CP_SCENARIO_RUN_H
#define CP_SCENARIO_RUN_H

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

#include "scenario.h"
#include "scenario_broker.h"
#include "scenario_tap.h"
#include "scenario_trace.h"

/* Outcomes, worst last; they are also `crosspost run`'s exit statuses. */
enum scenario_outcome {
	SCENARIO_PASSED = 0,        /* every expectation held */
	SCENARIO_FAILED = 1,        /* some expectation failed (or a window process died) */
	SCENARIO_SCRIPT_ERROR = 2,  /* the script cannot run as written */
};

struct scenario_run_options {
	const char *self_exe;       /* this program, started as `agent` for each window */
	const char *socket_path;    /* the broker */
	/* The private broker (for `restart broker`), and the crosspostd to
	 * start again; NULL when --socket names an external broker. */
	struct scenario_broker *broker;
	const char *broker_program;
	bool verbose;               /* statements and events as TAP comments, the
	                             * broker's log on stderr and its drop reasons */
	struct scenario_tap *tap;
	/* Set by a signal handler: the run stops at the next chance.
	 * SCENARIO_TIMED_OUT: --timeout ran out for this file (a failed
	 * point, not a script error). */
	volatile sig_atomic_t *interrupted;
	int64_t timeout_ms;         /* --timeout, for the message; 0: none */
	/* --filter: run the statements outside every `## NAME` block and
	 * those of block only_block (-1: every block); with select_line
	 * (not 0), only the statements up to that line, and only its test
	 * points. */
	int only_block;
	unsigned select_line;
	/* --browser: the windows are pages in this browser host's Chromium
	 * (scenario_browser.h) instead of processes at a broker.  A statement
	 * a browser cannot express (kill, restart broker, ...) ends the file
	 * there, reported as a skipped point with the reason. */
	struct scenario_browser *browser;
	/* Called with every test point as it is printed (--compare): its
	 * name, whether it held, and what was observed (a JSON object,
	 * borrowed; NULL for points that observe nothing, such as a window
	 * process that died).  NULL: not called. */
	void (*observe)(void *userdata, const char *point, bool ok, json_t *observation);
	/* Called when a browser run skips the rest of a file from line on. */
	void (*skipped)(void *userdata, unsigned line, const char *reason);
	void *observe_data;
	/* --diagram: the run's trace (scenario_trace.h), which scenario_run()
	 * attaches to the broker and detaches before it returns; NULL: none. */
	struct scenario_trace *trace;
};

/* *options->interrupted when --timeout ran out. */
#define SCENARIO_TIMED_OUT 2

/* Statements the script cannot run with in this setting: `restart broker`
 * needs a private broker (external_broker: --socket was given).  Returns 0,
 * or -ENOTSUP with errbuf naming FILE:LINE and what is wrong. */
int scenario_check_supported(const struct scenario *scenario, bool external_broker, char *errbuf,
			     size_t errlen);

/* Runs every statement in order, one agent process per window, reporting
 * one test point per expectation (and per statement that failed with no
 * `expect error` after it).  Script errors found while running are printed
 * on stderr as "crosspost run: FILE:LINE: ..." and end the run.  Every
 * window process is gone when this returns.  Returns the outcome. */
enum scenario_outcome scenario_run(const struct scenario *scenario,
				   const struct scenario_run_options *options);

#endif
