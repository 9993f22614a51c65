/* SPDX-License-Identifier: MIT */
/*
 * log_target.h - where crosspostd's log goes: stderr (the default, or
 * --log-file), syslog(3), or the systemd journal (sd_journal_send()).
 * Used by main.c only, through log_set_sink().  This header and its .c do
 * not include log.h: <syslog.h> defines LOG_INFO and friends as macros,
 * which log.h's enum also names, so levels cross as plain ints with
 * log.h's values (0 error, 1 warning, 2 info, 3 debug).
 */
#ifndef CP_LOG_TARGET_H
#define CP_LOG_TARGET_H

#include <stddef.h>

typedef enum LogTarget {
	LOG_TARGET_STDERR = 0,
	LOG_TARGET_SYSLOG = 1,    /* syslog(3): facility daemon, ident "crosspostd", with the pid */
	LOG_TARGET_JOURNAL = 2,   /* the journal's native protocol, with PRIORITY= and SYSLOG_IDENTIFIER= */
} LogTarget;

/* "stderr", "syslog" or "journal"; -1 for any other name. */
int log_target_parse(const char *name);

/* Checks that the target can be reached now: syslog needs a socket at
 * /dev/log, the journal one at /run/systemd/journal/socket (stderr always
 * can).  Returns 0, or -1 with the reason in problem. */
int log_target_check(LogTarget target, char *problem, size_t problem_size);

/* Starts logging to target (openlog() for syslog); ident is borrowed and
 * must outlive logging. */
void log_target_open(LogTarget target, const char *ident);

/* Sends one line at level (log.h's value).  A line the journal or syslog
 * refuses goes to stderr instead, with the ident and level, never lost
 * silently. */
void log_target_write(LogTarget target, int level, const char *line);

#endif
