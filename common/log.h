/* SPDX-License-Identifier: MIT */
/* log.h - leveled logging to stderr (or a sink), shared by the broker and the tools. */
#ifndef CP_LOG_H
#define CP_LOG_H

enum log_level { LOG_ERROR = 0, LOG_WARNING = 1, LOG_INFO = 2, LOG_DEBUG = 3 };

/* Messages above this level are not printed; default LOG_INFO. */
void log_set_level(enum log_level level);
enum log_level log_get_level(void);
/* Parses "error", "warning", "info" or "debug"; -1 when unknown. */
int log_level_parse(const char *name);
/* A tag printed before each line, e.g. "crosspostd"; borrowed, must outlive logging. */
void log_set_ident(const char *ident);

/* Where lines go instead of stderr: sink gets every line that passes the
 * level, formatted, without the "ident[level]: " prefix that stderr lines
 * carry (crosspostd's --log-target syslog|journal).  NULL: stderr again. */
typedef void (*log_sink_fn)(enum log_level level, const char *line, void *userdata);
void log_set_sink(log_sink_fn sink, void *userdata);

void log_print(enum log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define log_error(...) log_print(LOG_ERROR, __VA_ARGS__)
#define log_warning(...) log_print(LOG_WARNING, __VA_ARGS__)
#define log_info(...) log_print(LOG_INFO, __VA_ARGS__)
#define log_debug(...) do { if (log_get_level() >= LOG_DEBUG) log_print(LOG_DEBUG, __VA_ARGS__); } while (0)

#endif
