/* SPDX-License-Identifier: MIT */
/* scenario_browser.h - the runner's side of `crosspost run --browser chromium`: one browser host (one Chromium) for the whole run. */
#ifndef CP_SCENARIO_BROWSER_H
#define CP_SCENARIO_BROWSER_H

#include <stdbool.h>
#include <sys/types.h>

/* The browser host (`crosspost browser-host`, runner/browser_host.c) and
 * the Chromium it drives; each window of a file is an agent in a page of
 * that Chromium, reached through the same link as a window process. */
struct scenario_browser {
	pid_t pid;
	int ctl;                    /* SOCK_SEQPACKET to the host */
	char *profile;              /* Chromium's throw-away profile folder */
	unsigned next_agent;
};

/* The Chromium program: $CROSSPOST_CHROMIUM, else `chromium` from PATH
 * (Debian's package); NULL when there is none. */
const char *scenario_browser_find(void);

/* Starts the host (self_exe browser-host) with Chromium program, and
 * waits until Chromium answers.  *ret belongs to the caller
 * (scenario_browser_free()).  Errors: negative errno, with errbuf saying
 * why. */
int scenario_browser_start(const char *self_exe, const char *program, struct scenario_browser **ret,
			   char *errbuf, size_t errlen);

/* Opens a fresh controller page for a file (begin) / closes it and every
 * page the file opened (end).  0, or -EIO with errbuf saying why. */
int scenario_browser_begin(struct scenario_browser *b, char *errbuf, size_t errlen);
int scenario_browser_end(struct scenario_browser *b);

/* A new agent link for window alias: returns the runner's end (a
 * connected stream socket), or a negative errno. */
int scenario_browser_attach(struct scenario_browser *b, const char *alias);

/* Stops the host and Chromium, removes the profile.  Accepts NULL;
 * returns NULL. */
struct scenario_browser *scenario_browser_free(struct scenario_browser *b);

#endif
