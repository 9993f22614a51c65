/* SPDX-License-Identifier: MIT */
/* log.c - leveled logging to stderr (or a sink), one line per call. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "log.h"

static enum log_level current_level = LOG_INFO;
static const char *current_ident = "crosspost";
static const char *const level_names[] = { "error", "warning", "info", "debug" };
static log_sink_fn current_sink;
static void *current_sink_data;

void log_set_level(enum log_level level) { current_level = level; }
enum log_level log_get_level(void) { return current_level; }
void log_set_ident(const char *ident) { current_ident = ident; }

void log_set_sink(log_sink_fn sink, void *userdata)
{
	current_sink = sink;
	current_sink_data = userdata;
}

int log_level_parse(const char *name)
{
	for (size_t i = 0; i < sizeof(level_names) / sizeof(level_names[0]); i++)
		if (strcmp(name, level_names[i]) == 0)
			return (int)i;
	return -1;
}

void log_print(enum log_level level, const char *fmt, ...)
{
	char line[1024];
	va_list ap;

	if (level > current_level)
		return;
	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	if (current_sink) {
		current_sink(level, line, current_sink_data);
		return;
	}
	/* One fprintf per line so that lines of concurrent processes sharing
	 * stderr do not interleave mid-line. */
	fprintf(stderr, "%s[%s]: %s\n", current_ident, level_names[level], line);
}
