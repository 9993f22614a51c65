/* SPDX-License-Identifier: MIT */
/* cli.h - helpers every crosspost subcommand uses. */
#ifndef CP_CLI_H
#define CP_CLI_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include <jansson.h>

#include "crosspost.h"

/* Parses "250ms", "2s", "1.5s", "3m" or "3min".  The unit is required, as
 * in the scenario language: a bare "1500" could mean either.  Returns
 * milliseconds, or -1 when text is not a duration. */
int64_t cli_parse_duration(const char *text);

/* Prints why text is not a duration for option (e.g. "--timeout"), with a
 * hint when only the unit is missing. */
void cli_print_bad_duration(const char *command, const char *option, const char *text);

/* An empty --socket would name an abstract socket of NUL bytes: a usage
 * error.  Returns 0 when path is NULL (not given) or not empty; else
 * prints why and returns 2 (the exit status). */
int cli_check_socket_option(const char *command, const char *path);

/* Parses a non-negative decimal integer no larger than max; -1 otherwise. */
int64_t cli_parse_count(const char *text, int64_t max);

/* Connects to socket_path (NULL: the default), printing a clear message
 * naming `command` on failure.  Returns the client or NULL. */
cp_client *cli_connect(const char *command, const char *socket_path);

/* Prints "crosspost COMMAND: NAME: message" for a failed libcrosspost call. */
void cli_print_error(const char *command, int code);

/* Writes one event as a JSON line: {"type","data","origin","source"}. */
int cli_print_event(FILE *out, const cp_event *ev);

/* Prints value as one line of compact JSON on stdout and releases it (it
 * takes the reference; NULL, from a failed json_pack(), is an error).
 * Returns 0, or -1 when out of memory. */
int cli_put_json(json_t *value);

/* --format FMT: one line per event, FMT with these directives and
 * escapes (those of mosquitto_sub --format) replaced and a newline added.  CLI_FORMAT_HELP lists them as part of a printf
 * format (the --help texts). */
#define CLI_FORMAT_HELP \
	"                       %%t type (message, messageerror)   %%o origin\n" \
	"                       %%s source: its name, else its id, else null\n" \
	"                       %%i source id, or null   %%n source name, or null\n" \
	"                       %%d data as JSON (empty for messageerror)\n" \
	"                       %%D data as text: a string as it is, else as %%d\n" \
	"                       %%%% a percent sign; \\n newline, \\t tab, \\\\ backslash;\n" \
	"                       any other character as it is\n"
/* 0 when fmt is a good --format; else prints why (for command) and
 * returns 2, the exit status of a usage error. */
int cli_check_format(const char *command, const char *fmt);
/* Writes one event as fmt says (checked by cli_check_format()), then a
 * newline, and flushes.  Returns 0 or -ENOMEM. */
int cli_print_event_format(FILE *out, const cp_event *ev, const char *fmt);

/* An --origin argument: "null" (an opaque origin) as it is, else the
 * serialized origin of a URL ("https://A.example:443/x" is
 * "https://a.example").  malloc'd; NULL when text is neither. */
char *cli_origin_arg(const char *text);

#endif
