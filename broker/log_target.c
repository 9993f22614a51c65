/* SPDX-License-Identifier: MIT */
/* log_target.c - crosspostd's log lines to syslog(3) or the systemd journal. */
#include <paths.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <syslog.h>

/* Without it, every entry would carry CODE_FILE=log_target.c: the place
 * that sends, not the one that logs. */
#define SD_JOURNAL_SUPPRESS_LOCATION
#include <systemd/sd-journal.h>

#include "log_target.h"

/* Where sd_journal_send() writes (its protocol's fixed address). */
#define JOURNAL_SOCKET "/run/systemd/journal/socket"

static const char *target_ident = "crosspostd";

int log_target_parse(const char *name)
{
	if (strcmp(name, "stderr") == 0)
		return LOG_TARGET_STDERR;
	if (strcmp(name, "syslog") == 0)
		return LOG_TARGET_SYSLOG;
	if (strcmp(name, "journal") == 0)
		return LOG_TARGET_JOURNAL;
	return -1;
}

int log_target_check(LogTarget target, char *problem, size_t size)
{
	const char *path = target == LOG_TARGET_SYSLOG ? _PATH_LOG : JOURNAL_SOCKET;
	struct stat st;
	bool there;

	if (target == LOG_TARGET_STDERR)
		return 0;
	there = stat(path, &st) == 0;
	if (there && S_ISSOCK(st.st_mode))
		return 0;
	snprintf(problem, size, "--log-target %s: %s is %s, so the log would be lost (%s)",
		 target == LOG_TARGET_SYSLOG ? "syslog" : "journal", path, there ? "not a socket" : "not there",
		 target == LOG_TARGET_SYSLOG ? "no syslog daemon or systemd-journald listens" :
		 "systemd-journald is not running");
	return -1;
}

void log_target_open(LogTarget target, const char *ident)
{
	target_ident = ident;
	if (target == LOG_TARGET_SYSLOG)
		openlog(ident, LOG_PID | LOG_NDELAY, LOG_DAEMON);
}

void log_target_write(LogTarget target, int level, const char *line)
{
	static const int priorities[] = { LOG_ERR, LOG_WARNING, LOG_INFO, LOG_DEBUG };
	static const char *const names[] = { "error", "warning", "info", "debug" };
	int i = level < 0 ? 0 : level > 3 ? 3 : level;

	if (target == LOG_TARGET_SYSLOG) {
		syslog(priorities[i], "%s", line);
		return;
	}
	if (target == LOG_TARGET_JOURNAL &&
	    sd_journal_send("MESSAGE=%s", line, "PRIORITY=%d", priorities[i], "SYSLOG_IDENTIFIER=%s", target_ident,
			    "SYSLOG_FACILITY=%d", LOG_DAEMON >> 3, NULL) >= 0)
		return;
	/* The journal went away (or this is stderr): the line is kept. */
	fprintf(stderr, "%s[%s]: %s\n", target_ident, names[i], line);
}
